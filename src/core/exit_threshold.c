/* exit_threshold.c -- the thresholds kinds of the exit rule (exit.h):
 * threshold (C_i >= alpha, the rule of SplitEE, DeeBERT and ElasticBERT)
 * and per-exit (C_i >= alpha_i, as a calibration per exit gives them).
 * Both are decided inline by splitee_exit_step / splitee_exit_accepts from
 * the per-exit thresholds init fills, so they have no step operation and
 * cost one comparison per exit. */
#include <math.h>

#include "core/internal.h"
#include "exit_impl.h"

/* threshold: t_i = alpha for every exit. */
static int threshold_init(splitee_exit_rule *r, const splitee_exit_config *cfg, splitee_error *err)
{
    int rc = splitee__exit_check_unit(cfg->alpha, "alpha (exit threshold)", err);
    if (rc < 0)
        return rc;
    for (int i = 0; i < r->exits; i++)
        r->thr[i] = cfg->alpha;
    return SPLITEE_OK;
}

/* per-exit: t_i = alphas[i]; L-1 or L values, the last exit's t 0 when
 * only L-1 are given. */
static int per_exit_init(splitee_exit_rule *r, const splitee_exit_config *cfg, splitee_error *err)
{
    const int L = r->exits;
    if (cfg->nalphas != L - 1 && cfg->nalphas != L)
        return splitee__fail(err, SPLITEE_ERR_ARG,
                             "per-exit: %d thresholds given for %d exits (give %d, or %d with the last)",
                             cfg->nalphas, L, L - 1, L);
    if (cfg->nalphas > 0 && !cfg->alphas)
        return splitee__fail(err, SPLITEE_ERR_ARG, "per-exit: no thresholds given");
    for (int i = 0; i < cfg->nalphas; i++) {
        double a = cfg->alphas[i];
        if (!isfinite(a) || a < 0 || a > 1)
            return splitee__fail(err, SPLITEE_ERR_VALUE,
                                 "alpha_%d (threshold of exit %d) must be in [0, 1] (got %g)", i + 1,
                                 i + 1, a);
        r->thr[i] = a;
    }
    if (cfg->nalphas == L - 1)
        r->thr[L - 1] = 0.0;
    return SPLITEE_OK;
}

static const splitee__exit_ops threshold_ops = { .init = threshold_init, .step = NULL };
static const splitee__exit_ops per_exit_ops = { .init = per_exit_init, .step = NULL };

const splitee__exit_kind splitee__exit_threshold = {
    { "threshold", "exit i when C_i >= alpha", SPLITEE_EXIT_PARAM_ALPHA, 1, 0, 0, 0 },
    &threshold_ops };
const splitee__exit_kind splitee__exit_per_exit = {
    { "per-exit", "exit i when C_i >= alpha_i (one threshold per exit)", SPLITEE_EXIT_PARAM_ALPHAS,
      1, 0, 0, 0 },
    &per_exit_ops };
