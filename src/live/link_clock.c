/* link_clock.c -- the live link clock (device.h): a link-cost simulator
 * profile priced as this device's transfers happen, on a clock that is the
 * sum of the simulated latencies (reproducible for a seed), or, with
 * wall_clock, wall time plus the simulated latencies the device did not
 * sleep. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <gsl/gsl_rng.h>

#include "core/internal.h"
#include "splitee/device.h"
#include "splitee/link.h"
#include "splitee/wire.h"

struct splitee_link_clock {
    const splitee_link *lk;    /* borrowed */
    splitee_radio *radio;
    gsl_rng *rng;              /* jitter and loss draws */
    splitee_link_clock_config cfg;
    struct timespec t0;        /* create, CLOCK_MONOTONIC */
    double skipped_s;          /* simulated latency not slept, seconds */
    splitee_transfer last;     /* the last transfer priced */
    int fresh;                 /* 1: `last` not taken yet */
};

void splitee_link_clock_config_default(splitee_link_clock_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->seed = 1;
    cfg->wall_clock = 0;
}

int splitee_link_clock_create(const splitee_link *lk, const splitee_link_clock_config *cfg,
                              splitee_link_clock **out, splitee_error *err)
{
    if (!out)
        return splitee__fail(err, SPLITEE_ERR_ARG, "link clock: no output given");
    *out = NULL;
    if (!lk || !cfg)
        return splitee__fail(err, SPLITEE_ERR_ARG, "link clock: no %s given", !lk ? "link" : "configuration");
    splitee_link_clock *c = calloc(1, sizeof *c);
    if (!c)
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "link clock: out of memory");
    int st = splitee_radio_create(lk, &c->radio, err);
    if (st == 0 && !(c->rng = gsl_rng_alloc(gsl_rng_mt19937)))
        st = splitee__fail(err, SPLITEE_ERR_NOMEM, "link clock: out of memory");
    if (st < 0) {
        splitee_link_clock_free(c);
        return st;
    }
    gsl_rng_set(c->rng, cfg->seed);
    c->lk = lk;
    c->cfg = *cfg;
    clock_gettime(CLOCK_MONOTONIC, &c->t0);
    *out = c;
    return 0;
}

void splitee_link_clock_free(splitee_link_clock *c)
{
    if (!c)
        return;
    splitee_radio_free(c->radio);
    gsl_rng_free(c->rng);
    free(c);
}

double splitee_link_clock_now(const splitee_link_clock *c)
{
    double t = c->skipped_s;
    if (c->cfg.wall_clock) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        t += (double)(now.tv_sec - c->t0.tv_sec) + (double)(now.tv_nsec - c->t0.tv_nsec) * 1e-9;
    }
    return t;
}

int splitee_link_clock_price(void *ctx, int layer, size_t bytes, double *cost, double *latency_s)
{
    splitee_link_clock *c = ctx;
    (void)layer;   /* the price depends on the bytes, not on where they come from */
    splitee_link_send(c->lk, c->radio, bytes, splitee_link_clock_now(c), c->rng, &c->last);
    c->fresh = 1;
    *cost = c->last.cost;
    *latency_s = c->last.latency_ms / 1000.0;
    /* without a wall clock, time is the latencies alone, slept or not */
    if ((!c->cfg.sleep || !c->cfg.wall_clock) && isfinite(*latency_s))
        c->skipped_s += *latency_s;
    return isfinite(c->last.cost) ? 0 : -1;
}

void splitee_link_clock_attach(splitee_link_clock *c, splitee_device_config *dc)
{
    dc->link = splitee_link_clock_price;
    dc->link_ctx = c;
    c->cfg.sleep = dc->sleep;
}

const splitee_transfer *splitee_link_clock_take(splitee_link_clock *c)
{
    if (!c->fresh)
        return NULL;
    c->fresh = 0;
    return &c->last;
}

size_t splitee_device_offload_bytes(const splitee_model *model, splitee_payload_encoding enc,
                                    int layer)
{
    size_t p = splitee_model_payload_size(model, layer, enc);
    return p ? SPLITEE_WIRE_HEADER_SIZE + p : 0;
}

int splitee_link_clock_offload_costs(const splitee_link_clock *c, const splitee_model *model,
                                     splitee_payload_encoding enc, double *o, int cap,
                                     splitee_error *err)
{
    if (!c || !model || !o)
        return splitee__fail(err, SPLITEE_ERR_ARG, "link clock: no %s given",
                             !c ? "clock" : !model ? "model" : "cost vector");
    int layers = splitee_model_get_config(model)->layers;
    if (cap < layers)
        return splitee__fail(err, SPLITEE_ERR_ARG, "link clock: room for %d costs, the model has %d layers",
                             cap, layers);
    if (!splitee_device_offload_bytes(model, enc, 1))
        return splitee__fail(err, SPLITEE_ERR_ARG, "link clock: unknown payload encoding %d", (int)enc);
    for (int a = 0; a < layers; a++) {   /* arm a + 1 sends the activation after layer a + 1 */
        size_t bytes = splitee_device_offload_bytes(model, enc, a + 1);
        splitee_transfer tr;
        splitee_link_price(c->lk, bytes, 0.0, 0, &tr);
        if (!isfinite(tr.cost))
            return splitee__fail(err, SPLITEE_ERR_VALUE, "%s: an offload of %zu bytes at t = 0 has no finite price",
                                 splitee_link_get_params(c->lk)->name, bytes);
        o[a] = tr.cost;
    }
    return 0;
}
