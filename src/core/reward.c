/* reward.c -- builds the reward model of reward.h from its configuration:
 * the exit rule (exit.h), cumulative device costs gamma and per-layer
 * offloading costs o. The
 * per-sample evaluation is inline in reward.h so that replay loops inline it. */
#include <math.h>

#include "core/internal.h"
#include "splitee/reward.h"

void splitee_reward_config_default(splitee_reward_config *cfg)
{
    splitee_exit_config_default(&cfg->exit);
    cfg->lambda = 0.1;
    cfg->mu = 1.0;
    cfg->offload = 0.3;
    cfg->layer_cost = NULL;
    cfg->offload_cost = NULL;
}

static int check_cost(double v, const char *what, int layer, splitee_error *err)
{
    if (!isfinite(v) || v < 0) {
        if (layer > 0)
            return splitee__fail(err, SPLITEE_ERR_VALUE,
                                 "%s of layer %d must be a finite number >= 0 (got %g)",
                                 what, layer, v);
        return splitee__fail(err, SPLITEE_ERR_VALUE,
                             "%s must be a finite number >= 0 (got %g)", what, v);
    }
    return SPLITEE_OK;
}

int splitee_reward_init(splitee_reward *rw, const splitee_reward_config *cfg,
                        int layers, splitee_error *err)
{
    int rc;
    if (layers < 1 || layers > SPLITEE_MAX_EXITS)
        return splitee__fail(err, SPLITEE_ERR_ARG,
                             "number of layers must be in 1..%d (got %d)",
                             SPLITEE_MAX_EXITS, layers);
    if ((rc = splitee_exit_rule_init(&rw->exit, &cfg->exit, layers, err)) < 0)
        return rc;
    if ((rc = check_cost(cfg->mu, "mu (cost weight)", 0, err)) < 0)
        return rc;
    if (!cfg->layer_cost && (rc = check_cost(cfg->lambda, "lambda (per-layer cost)", 0, err)) < 0)
        return rc;
    if (!cfg->offload_cost && (rc = check_cost(cfg->offload, "offload cost", 0, err)) < 0)
        return rc;

    rw->arms = layers;
    rw->mu = cfg->mu;
    double sum = 0;
    for (int a = 0; a < layers; a++) {
        if (cfg->layer_cost) {
            if ((rc = check_cost(cfg->layer_cost[a], "device cost", a + 1, err)) < 0)
                return rc;
            sum += cfg->layer_cost[a];
            rw->gamma[a] = sum;
        } else {
            /* lambda*i, not a running sum: the authors' arithmetic */
            rw->gamma[a] = cfg->lambda * (a + 1);
        }
        if (cfg->offload_cost) {
            if ((rc = check_cost(cfg->offload_cost[a], "offload cost", a + 1, err)) < 0)
                return rc;
            rw->offload[a] = cfg->offload_cost[a];
        } else {
            rw->offload[a] = cfg->offload;
        }
    }
    /* every reward must be a finite number: a huge but finite cost or
     * weight would make mu*cost overflow to inf and rewards inf or NaN */
    for (int a = 0; a < layers; a++) {
        double dev = rw->mu * rw->gamma[a], off = rw->mu * rw->offload[a];
        if (!isfinite(rw->gamma[a]) || !isfinite(dev) || !isfinite(dev + off) || !isfinite(1.0 - dev - off))
            return splitee__fail(err, SPLITEE_ERR_VALUE,
                                 "the reward of layer %d is not a finite number: mu %g times device cost %g "
                                 "plus offload cost %g overflows", a + 1, rw->mu, rw->gamma[a], rw->offload[a]);
    }
    for (int a = layers; a < SPLITEE_MAX_EXITS; a++)
        rw->gamma[a] = rw->offload[a] = 0;
    return SPLITEE_OK;
}
