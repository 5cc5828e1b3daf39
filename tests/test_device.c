/* test_device.c -- Criterion tests for the device loop (device.h) against a
 * cloud in the same process on loopback (live_fixtures.h): a device's
 * counts add up with a cloud and without one (every offload a fallback),
 * and bad configurations are refused; the exit rule is the same live and
 * in replay: ee-threshold stops where replay stops, and under entropy
 * (asked of the cloud) every round's reward is the replay's on that row. */
#include <criterion/criterion.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "live_fixtures.h"
#include "splitee/splitee.h"

static void run_device(const char *host, int port, int *counts, splitee_model *m)
{
    splitee_policy_config pc;
    splitee_policy_config_default(&pc);
    pc.kind = SPLITEE_POLICY_KIND_SPLITEE_S;
    splitee_reward_config rc;
    splitee_reward_config_default(&rc);
    splitee_device_config dc;
    splitee_device_config_default(&dc);
    dc.host = host;
    dc.port = port;
    dc.rounds = 30;
    dc.eval = 1;
    dc.timeout_s = 20;   /* no fallback expected, even in a loaded sanitizer build */
    splitee_device *d;
    splitee_error err;
    cr_assert_eq(splitee_device_create(m, &pc, &rc, &dc, &d, &err), 0, "%s", err.msg);
    float px[28 * 28];
    for (int k = 0; k < 30; k++) {
        image(px, k);
        splitee_round r;
        cr_assert_eq(splitee_device_step(d, px, k % 10, NULL, &r, &err), 0, "%s", err.msg);
        cr_assert_eq(r.index, k);
        if (r.outcome != SPLITEE_ROUND_OUTCOME_EXITED)
            cr_assert(isfinite(r.conf_final) && r.exit == 11);
    }
    splitee_round r;
    cr_assert_eq(splitee_device_step(d, px, 0, NULL, &r, &err), SPLITEE_ERR_ARG, "rounds is a capacity");
    splitee_device_summary s;
    splitee_device_summarize(d, &s);
    cr_assert_eq(s.samples, 30);
    cr_assert_eq(s.exited + s.offloaded + s.fallback, 30);
    long plays = 0;
    for (int a = 0; a < s.arms; a++)
        plays += s.arm_plays[a];
    cr_assert_eq(plays, 30);
    cr_assert(s.has_regret && isfinite(s.pseudo_regret) && s.pseudo_regret >= -1e-9);
    cr_assert_eq(s.curve[(size_t)(s.checkpoints - 1) * 5], 30.0);
    counts[0] = (int)s.exited;
    counts[1] = (int)s.offloaded;
    counts[2] = (int)s.fallback;
    splitee_device_free(d);
}

Test(device, counts_add_up_with_and_without_a_cloud)
{
    fixture fx;
    start(&fx);
    int with[3], without[3];
    run_device("127.0.0.1", splitee_cloud_port(fx.c), with, fx.m);
    cr_assert_gt(with[1], 0);
    cr_assert_eq(with[2], 0);
    run_device(NULL, 0, without, fx.m);
    cr_assert_eq(without[1], 0);
    cr_assert_gt(without[2], 0);
    stop(&fx);
}

Test(device, bad_config_is_refused)
{
    splitee_model *m;
    splitee_error err;
    cr_assert_eq(splitee_model_load(model_dir(), &m, &err), 0);
    splitee_policy_config pc;
    splitee_policy_config_default(&pc);
    splitee_reward_config rc;
    splitee_reward_config_default(&rc);
    splitee_device_config dc;
    splitee_device_config_default(&dc);
    splitee_device *d;
    cr_assert_eq(splitee_device_create(m, &pc, &rc, &dc, &d, &err), SPLITEE_ERR_ARG); /* rounds 0 */
    cr_assert_null(d);
    dc.rounds = 10;
    dc.timeout_s = 0;
    cr_assert_eq(splitee_device_create(m, &pc, &rc, &dc, &d, &err), SPLITEE_ERR_VALUE);
    dc.timeout_s = 1;
    dc.host = "127.0.0.1";
    dc.port = 0;
    cr_assert_eq(splitee_device_create(m, &pc, &rc, &dc, &d, &err), SPLITEE_ERR_ARG);
    splitee_device_free(NULL);
    splitee_cloud_free(NULL);
    splitee_model_free(m);
}

/* ---- the exit rule, live and in replay ------------------------------------ */

#define NS 48   /* samples */

/* Every exit's logits of test images 0..NS-1 from the engine's forward pass,
 * as the table a replay reads; labels k % classes. */
static splitee_table *table_of(splitee_model *m)
{
    const splitee_model_config *mc = splitee_model_get_config(m);
    const int L = mc->layers, C = mc->classes;
    splitee_engine_state *s;
    splitee_error err;
    cr_assert_eq(splitee_engine_state_create(m, &s, &err), 0);
    double *z = malloc((size_t)NS * L * C * sizeof *z);
    float *all = malloc((size_t)L * C * sizeof *all), px[28 * 28];
    int32_t labels[NS];
    for (int k = 0; k < NS; k++) {
        image(px, k);
        cr_assert_eq(splitee_engine_forward(s, px, all, &err), 0, "%s", err.msg);
        for (int i = 0; i < L * C; i++)
            z[(size_t)k * L * C + i] = all[i];
        labels[k] = k % C;
    }
    splitee_table *t;
    cr_assert_eq(splitee_table_from_logits("engine", z, NS, L, C, labels, &t, &err), 0, "%s", err.msg);
    free(z);
    free(all);
    splitee_engine_state_free(s);
    return t;
}

static splitee_device *make_device(splitee_model *m, const char *policy, const splitee_reward_config *rc,
                                   const char *host, int port)
{
    splitee_policy_config pc;
    splitee_policy_config_default(&pc);
    cr_assert_eq(splitee_policy_parse(policy, &pc), 0);
    splitee_device_config dc;
    splitee_device_config_default(&dc);
    dc.host = host;
    dc.port = port;
    dc.rounds = NS;
    dc.eval = 1;
    dc.timeout_s = 20;
    splitee_device *d;
    splitee_error err;
    cr_assert_eq(splitee_device_create(m, &pc, rc, &dc, &d, &err), 0, "%s", err.msg);
    return d;
}

/* ee-threshold is the threshold rule's early-exit deployment in both: the
 * device (no cloud: it never offloads) stops at the exit replay stops at,
 * with the same reward and cost, round by round; so does any other rule. */
Test(device, ee_threshold_live_equals_replay)
{
    splitee_model *m;
    splitee_error err;
    cr_assert_eq(splitee_model_load(model_dir(), &m, &err), 0, "%s", err.msg);
    splitee_table *t = table_of(m);
    const int L = splitee_table_exits(t);
    for (int rule = 0; rule < 2; rule++) {
        splitee_setting set;
        splitee_setting_default(&set);
        set.reward.alpha = 0.9;
        if (rule == 1) {
            set.reward.exit.kind = SPLITEE_EXIT_KIND_PATIENCE;
            set.reward.exit.patience = 2;
            set.reward.exit.confidence = SPLITEE_CONFIDENCE_ENTROPY;
        }
        splitee_replay *rp;
        cr_assert_eq(splitee_replay_prepare(t, set.reward.exit.confidence, &rp, &err), 0, "%s", err.msg);
        splitee_policy_config pc;
        splitee_policy_config_default(&pc);
        cr_assert_eq(splitee_policy_parse("ee-threshold", &pc), 0);
        splitee_replay_config rc;
        splitee_replay_config_default(&rc);
        rc.repetitions = 1;
        rc.order = SPLITEE_ORDER_GIVEN;
        rc.trace = 1;
        splitee_result *res;
        cr_assert_eq(splitee_replay_run(rp, &set, 1, &pc, 1, &rc, &res, &err), 0, "%s", err.msg);
        const splitee_trace_row *tr = res->policies[0].trace;

        splitee_device *d = make_device(m, "ee-threshold", &set.reward, NULL, 0);
        float px[28 * 28];
        int early = 0;
        for (int k = 0; k < NS; k++) {
            image(px, k);
            splitee_round r;
            cr_assert_eq(splitee_device_step(d, px, k % 10, NULL, &r, &err), 0, "%s", err.msg);
            cr_assert_eq(r.outcome, SPLITEE_ROUND_OUTCOME_EXITED, "rule %d round %d", rule, k);
            cr_assert_eq(r.arm, L - 1);
            cr_assert_eq(r.exit, tr[k].exit, "rule %d round %d: live exit %d, replay %d", rule, k,
                         r.exit, tr[k].exit);
            cr_assert_eq(r.reward, tr[k].reward, "rule %d round %d", rule, k);
            cr_assert_eq(r.cost, tr[k].cost, "rule %d round %d", rule, k);
            cr_assert_eq(r.prediction == k % 10, tr[k].correct);
            early += r.exit < L - 1;
        }
        cr_assert_gt(early, 0, "rule %d: no early exit, so ee-threshold was not told from final", rule);
        if (rule == 0)
            cr_assert_lt(early, NS, "every sample exited early");
        splitee_device_summary s;
        splitee_device_summarize(d, &s);
        const splitee_policy_result *pr = &res->policies[0];
        cr_assert_eq(s.offloaded + s.fallback, 0);
        cr_assert_float_eq(s.avg_reward, pr->reward.mean, 1e-12);
        cr_assert_float_eq(s.avg_cost, pr->cost.mean, 1e-12);
        cr_assert_float_eq(s.accuracy, pr->accuracy.mean, 1e-12);
        cr_assert_eq(s.best_arm, res->best_arm);
        cr_assert_float_eq(s.pseudo_regret, pr->pseudo_regret.mean, 1e-9);
        cr_assert_float_eq(s.realized_regret, pr->realized_regret.mean, 1e-9);
        splitee_device_free(d);
        splitee_results_free(res, 1);
        splitee_replay_free(rp);
    }
    splitee_table_free(t);
    splitee_model_free(m);
}

/* With a non-default measure (entropy) the device asks the cloud for it:
 * every round's outcome, reward and cost equal the reward model on the
 * same table row of a replay prepared with entropy, offloads included. */
Test(device, rewards_under_entropy_equal_replays_rows)
{
    fixture fx;
    start(&fx);
    splitee_table *t = table_of(fx.m);
    const int L = splitee_table_exits(t);
    splitee_replay *rp;
    splitee_error err;
    cr_assert_eq(splitee_replay_prepare(t, SPLITEE_CONFIDENCE_ENTROPY, &rp, &err), 0, "%s", err.msg);
    const double *conf = splitee_replay_confidences(rp);
    const int32_t *pred = splitee_replay_predictions(rp);
    for (int rule = 0; rule < 2; rule++) {
        splitee_reward_config rc;
        splitee_reward_config_default(&rc);
        rc.exit.confidence = SPLITEE_CONFIDENCE_ENTROPY;
        rc.alpha = 0.9;
        if (rule == 1) {
            rc.exit.kind = SPLITEE_EXIT_KIND_AGREEMENT;
            rc.alpha = 2.5;
        }
        splitee_device *d = make_device(fx.m, "random", &rc, "127.0.0.1", splitee_cloud_port(fx.c));
        const splitee_reward *rw = splitee_device_reward(d);
        cr_assert_eq(rw->exit.confidence, SPLITEE_CONFIDENCE_ENTROPY);
        gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
        gsl_rng_set(rng, 3);
        float px[28 * 28];
        int n[3] = { 0 };
        for (int k = 0; k < NS; k++) {
            image(px, k);
            splitee_round r;
            cr_assert_eq(splitee_device_step(d, px, k % 10, rng, &r, &err), 0, "%s", err.msg);
            const double *row = conf + (size_t)k * L;
            splitee_outcome want = splitee_reward_evaluate(rw, r.arm, row, pred + (size_t)k * L);
            cr_assert_eq(r.outcome == SPLITEE_ROUND_OUTCOME_OFFLOADED, want.offloaded, "rule %d round %d: %s",
                         rule, k, r.note);
            cr_assert_eq(r.exit, want.exit);
            cr_assert_eq(r.reward, want.reward, "rule %d round %d arm %d", rule, k, r.arm);
            cr_assert_eq(r.cost, want.cost);
            if (want.offloaded)
                cr_assert_eq(r.conf_final, row[L - 1], "the cloud's entropy");
            n[r.outcome]++;
        }
        cr_assert(n[SPLITEE_ROUND_OUTCOME_EXITED] > 0 && n[SPLITEE_ROUND_OUTCOME_OFFLOADED] > 0 &&
                  n[SPLITEE_ROUND_OUTCOME_FALLBACK] == 0, "rule %d: %d exited, %d offloaded, %d fell back",
                  rule, n[0], n[1], n[2]);
        gsl_rng_free(rng);
        splitee_device_free(d);
    }
    splitee_replay_free(rp);
    splitee_table_free(t);
    stop(&fx);
}

/* A cloud that does not answer the device's measure: its offloads fall
 * back, the note says why. */
Test(device, a_cloud_without_the_devices_measure_means_fallback)
{
    splitee_cloud_config cc;
    splitee_cloud_config_default(&cc);
    cc.confidences = 1u << SPLITEE_CONFIDENCE_MAX_SOFTMAX;
    fixture fx;
    start_with(&fx, &cc);
    splitee_reward_config rc;
    splitee_reward_config_default(&rc);
    rc.exit.confidence = SPLITEE_CONFIDENCE_MARGIN;
    rc.alpha = 1.0;   /* (almost) never confident: offload */
    splitee_device *d = make_device(fx.m, "fixed:2", &rc, "127.0.0.1", splitee_cloud_port(fx.c));
    float px[28 * 28];
    image(px, 0);
    splitee_round r;
    splitee_error err;
    cr_assert_eq(splitee_device_step(d, px, 0, NULL, &r, &err), 0, "%s", err.msg);
    cr_assert_eq(r.outcome, SPLITEE_ROUND_OUTCOME_FALLBACK);
    cr_assert(strstr(r.note, "margin") && strstr(r.note, "answers max-softmax"), "%s", r.note);
    splitee_device_free(d);
    stop(&fx);
}
