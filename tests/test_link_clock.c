/* test_link_clock.c -- the live link clock (device.h, link_clock.c): the
 * offload cost at t = 0 is splitee_link_price's for the model's offload
 * request; without a wall clock the clock is the sum of the latencies, so
 * a fixed seed gives the same transfers as a hand-driven radio and as a
 * second clock; with a wall clock, slept latencies are not counted twice;
 * each priced transfer is taken once; attached to a device, it prices
 * the device's offloads with their real frame size. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "splitee/splitee.h"

static splitee_model *load_model(void)
{
    const char *e = getenv("SPLITEE_TEST_MODEL");
    splitee_model *m = NULL;
    splitee_error err = { 0, "" };
    cr_assert_eq(splitee_model_load(e && *e ? e : "../data/model", &m, &err), 0, "%s", err.msg);
    return m;
}

/* An LTE-like link with jitter and random loss: its draws matter. */
static splitee_link *lossy_link(void)
{
    splitee_link_params p;
    splitee_link_params_default(&p);
    snprintf(p.name, sizeof p.name, "lossy");
    p.jitter_ms = 8;
    p.loss = SPLITEE_LOSS_MODEL_RANDOM;
    p.loss_p = 0.2;
    splitee_link *lk;
    splitee_error err = { 0, "" };
    cr_assert_eq(splitee_link_create(&p, NULL, NULL, 0, 0, &lk, &err), 0, "%s", err.msg);
    return lk;
}

static splitee_link_clock *new_clock(const splitee_link *lk, unsigned long seed, int wall, int sleep)
{
    splitee_link_clock_config cfg;
    splitee_link_clock_config_default(&cfg);
    cfg.seed = seed;
    cfg.wall_clock = wall;
    cfg.sleep = sleep;
    splitee_link_clock *c;
    splitee_error err = { 0, "" };
    cr_assert_eq(splitee_link_clock_create(lk, &cfg, &c, &err), 0, "%s", err.msg);
    return c;
}

Test(link_clock, offload_cost_is_the_price_of_an_isolated_offload_at_zero)
{
    splitee_model *m = load_model();
    const splitee_model_config *mc = splitee_model_get_config(m);
    splitee_link *lk;
    splitee_error err = { 0, "" };
    cr_assert_eq(splitee_link_load("../data/links/lte.json", &lk, &err), 0, "%s", err.msg);
    splitee_link_clock *c = new_clock(lk, 1, 1, 0);
    const splitee_payload_encoding encs[3] = { SPLITEE_PAYLOAD_ENCODING_F32, SPLITEE_PAYLOAD_ENCODING_F16, SPLITEE_PAYLOAD_ENCODING_I8 };
    double prev = INFINITY;
    for (int e = 0; e < 3; e++) {
        size_t bytes = SPLITEE_WIRE_HEADER_SIZE + splitee_payload_size(encs[e], (size_t)mc->tokens, (size_t)mc->dim);
        cr_assert_eq(splitee_device_offload_bytes(m, encs[e]), bytes);
        splitee_transfer tr;
        splitee_link_price(lk, bytes, 0.0, 0, &tr);
        double o[SPLITEE_MAX_EXITS];
        cr_assert_eq(splitee_link_clock_offload_costs(c, m, encs[e], o, SPLITEE_MAX_EXITS, &err), 0, "%s",
                     err.msg);
        for (int a = 0; a < mc->layers; a++)
            cr_assert_eq(o[a], tr.cost, "%s, layer %d", splitee_payload_encoding_name(encs[e]), a + 1);
        cr_assert(o[0] > 0 && o[0] < prev, "smaller payloads cost less");
        prev = o[0];
    }
    double o[SPLITEE_MAX_EXITS];
    cr_assert_eq(splitee_link_clock_offload_costs(c, m, SPLITEE_PAYLOAD_ENCODING_F32, o, mc->layers - 1, &err),
                 SPLITEE_ERR_ARG);
    cr_assert_eq(splitee_link_clock_offload_costs(c, m, (splitee_payload_encoding)9, o, SPLITEE_MAX_EXITS, &err),
                 SPLITEE_ERR_ARG);
    cr_assert_eq(splitee_device_offload_bytes(m, (splitee_payload_encoding)9), 0);
    splitee_link_clock_free(c);
    splitee_link_free(lk);
    splitee_model_free(m);
}

Test(link_clock, without_a_wall_clock_it_is_a_radio_driven_by_the_latencies)
{
    splitee_link *lk = lossy_link();
    splitee_link_clock *c = new_clock(lk, 77, 0, 0);
    splitee_radio *radio;
    cr_assert_eq(splitee_radio_create(lk, &radio, NULL), 0);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 77);
    double t = 0;
    for (int k = 0; k < 30; k++) {
        size_t bytes = 1000 + 600 * (size_t)(k % 7);
        splitee_transfer want;
        splitee_link_send(lk, radio, bytes, t, rng, &want);
        double cost, lat;
        cr_assert_eq(splitee_link_clock_price(c, 1 + k % 3, bytes, &cost, &lat), 0);
        const splitee_transfer *got = splitee_link_clock_take(c);
        cr_assert_not_null(got);
        cr_assert_eq(memcmp(got, &want, sizeof want), 0, "transfer %d differs", k);
        cr_assert_eq(cost, want.cost);
        cr_assert_eq(lat, want.latency_ms / 1000.0);
        t += lat;
        cr_assert_eq(splitee_link_clock_now(c), t, "the clock is the sum of the latencies");
    }
    gsl_rng_free(rng);
    splitee_radio_free(radio);
    splitee_link_clock_free(c);
    splitee_link_free(lk);
}

/* 40 transfers priced by a fresh clock without a wall clock. */
static void price_run(const splitee_link *lk, unsigned long seed, double *cost, double *lat)
{
    splitee_link_clock *c = new_clock(lk, seed, 0, 0);
    for (int k = 0; k < 40; k++)
        cr_assert_eq(splitee_link_clock_price(c, 2, 4144, &cost[k], &lat[k]), 0);
    splitee_link_clock_free(c);
}

Test(link_clock, deterministic_for_a_seed)
{
    splitee_link *lk = lossy_link();
    double c1[40], l1[40], c2[40], l2[40], c3[40], l3[40];
    price_run(lk, 5, c1, l1);
    price_run(lk, 5, c2, l2);
    price_run(lk, 6, c3, l3);
    cr_assert_eq(memcmp(c1, c2, sizeof c1), 0);
    cr_assert_eq(memcmp(l1, l2, sizeof l1), 0);
    cr_assert_neq(memcmp(l1, l3, sizeof l1), 0, "another seed, other jitter and losses");
    splitee_link_free(lk);
}

Test(link_clock, slept_latencies_are_not_counted_twice)
{
    splitee_link *lk = lossy_link();
    splitee_link_clock *awake = new_clock(lk, 1, 1, 0), *asleep = new_clock(lk, 1, 1, 1);
    double cost, lat_awake, lat_asleep;
    cr_assert_eq(splitee_link_clock_price(awake, 1, 4144, &cost, &lat_awake), 0);
    cr_assert_eq(splitee_link_clock_price(asleep, 1, 4144, &cost, &lat_asleep), 0);
    cr_assert_gt(lat_awake, 0.01);
    /* not slept: the clock jumps by the latency; slept: wall time alone
     * (the test did not sleep, so far less than the latency has passed) */
    cr_assert_geq(splitee_link_clock_now(awake), lat_awake);
    cr_assert_lt(splitee_link_clock_now(asleep), lat_asleep / 2);
    splitee_link_clock_free(awake);
    splitee_link_clock_free(asleep);
    splitee_link_free(lk);
}

Test(link_clock, attach_takes_the_devices_sleep_flag)
{
    splitee_link *lk = lossy_link();
    splitee_link_clock *c = new_clock(lk, 1, 1, 1);
    splitee_device_config dc;
    splitee_device_config_default(&dc);
    dc.sleep = 0;
    splitee_link_clock_attach(c, &dc);
    double cost, lat;
    cr_assert_eq(splitee_link_clock_price(c, 1, 4144, &cost, &lat), 0);
    cr_assert_geq(splitee_link_clock_now(c), lat, "the device does not sleep: the latency counts");
    splitee_link_clock_free(c);
    splitee_link_free(lk);
}

Test(link_clock, each_transfer_is_taken_once)
{
    splitee_link *lk = lossy_link();
    splitee_link_clock *c = new_clock(lk, 1, 0, 0);
    cr_assert_null(splitee_link_clock_take(c));
    double cost, lat;
    splitee_link_clock_price(c, 1, 2000, &cost, &lat);
    const splitee_transfer *tr = splitee_link_clock_take(c);
    cr_assert_not_null(tr);
    cr_assert_eq(tr->bytes, 2000);
    cr_assert_eq(tr->cost, cost);
    cr_assert_null(splitee_link_clock_take(c));
    splitee_link_clock_free(c);
    splitee_link_free(lk);
}

Test(link_clock, refuses_missing_arguments)
{
    splitee_link_clock_config cfg;
    splitee_link_clock_config_default(&cfg);
    splitee_link_clock *c = (splitee_link_clock *)&cfg;
    splitee_error err = { 0, "" };
    cr_assert_eq(splitee_link_clock_create(NULL, &cfg, &c, &err), SPLITEE_ERR_ARG);
    cr_assert_null(c);
    splitee_link_clock_free(NULL);
}

Test(link_clock, attached_to_a_device_it_prices_every_offload)
{
    splitee_model *m = load_model();
    splitee_link *lk = lossy_link();
    splitee_link_clock *c = new_clock(lk, 3, 0, 0);
    splitee_device_config dc;
    splitee_device_config_default(&dc);
    dc.rounds = 4;                 /* no host: every offload falls back, after the link priced it */
    splitee_link_clock_attach(c, &dc);
    cr_assert_eq((void *)dc.link, (void *)splitee_link_clock_price);
    cr_assert_eq(dc.link_ctx, c);
    splitee_policy_config pc;
    splitee_policy_config_default(&pc);
    cr_assert_eq(splitee_policy_parse("fixed:1", &pc), 0);
    splitee_reward_config rc;
    splitee_reward_config_default(&rc);
    rc.alpha = 1.0;                /* (almost) never confident: offload */
    splitee_device *d;
    splitee_error err = { 0, "" };
    cr_assert_eq(splitee_device_create(m, &pc, &rc, &dc, &d, &err), 0, "%s", err.msg);
    float px[28 * 28];
    for (int i = 0; i < 28 * 28; i++)
        px[i] = (float)((i * 37 % 256) / 255.0);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    double t = 0;
    for (int k = 0; k < 4; k++) {
        splitee_round r;
        cr_assert_eq(splitee_device_step(d, px, -1, rng, &r, &err), 0, "%s", err.msg);
        const splitee_transfer *tr = splitee_link_clock_take(c);
        if (r.outcome == SPLITEE_ROUND_OUTCOME_EXITED) {
            cr_assert_null(tr);
            continue;
        }
        cr_assert_not_null(tr, "round %d: %s but not priced", k, splitee_round_outcome_name(r.outcome));
        cr_assert_eq(tr->bytes, splitee_device_offload_bytes(m, dc.encoding));
        cr_assert_eq(r.payload_bytes, tr->bytes);
        cr_assert_eq(r.link_s, tr->latency_ms / 1000.0);
        t += r.link_s;
        cr_assert_eq(splitee_link_clock_now(c), t);
    }
    cr_assert_gt(t, 0, "no offload was priced");
    gsl_rng_free(rng);
    splitee_device_free(d);
    splitee_link_clock_free(c);
    splitee_link_free(lk);
    splitee_model_free(m);
}
