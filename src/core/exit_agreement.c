/* exit_agreement.c -- the exit rules that look back along the exits
 * (exit.h): patience (Zhou et al., "BERT Loses Patience: Fast and Robust
 * Inference with Early Exit", NeurIPS 2020, PABEE) and accumulated
 * agreement. Both follow the run of consecutive exits that predict the
 * same class, in splitee_exit_state: pred (the run's class), run (its
 * length) and, for agreement, sum (its confidences). */
#include <math.h>

#include "core/internal.h"
#include "exit_impl.h"

/* Extends or restarts the run of agreeing exits with exit i. */
static void follow_run(splitee_exit_state *s, int i, int32_t pred)
{
    if (i > 0 && pred == s->pred)
        s->run++;
    else
        s->run = 1;
    s->pred = pred;
}

/* patience: P in 1..SPLITEE_MAX_EXITS. */
static int patience_init(splitee_exit_rule *r, const splitee_exit_config *cfg, splitee_error *err)
{
    if (cfg->patience < 1 || cfg->patience > SPLITEE_MAX_EXITS)
        return splitee__fail(err, SPLITEE_ERR_VALUE, "patience must be in 1..%d exits (got %d)",
                             SPLITEE_MAX_EXITS, cfg->patience);
    r->patience = cfg->patience;
    return SPLITEE_OK;
}

/* PABEE's counter counts the exits whose prediction equals the one before
 * (run - 1) and stops when it reaches the patience. */
static int patience_step(const splitee_exit_rule *r, splitee_exit_state *s, int i, double conf,
                         int32_t pred)
{
    (void)conf;
    follow_run(s, i, pred);
    return s->run - 1 >= r->patience;
}

/* agreement: the sum to reach, finite and >= 0 (a sum of confidences, so
 * it may exceed 1). */
static int agreement_init(splitee_exit_rule *r, const splitee_exit_config *cfg, splitee_error *err)
{
    (void)r;
    if (!isfinite(cfg->alpha) || cfg->alpha < 0)
        return splitee__fail(err, SPLITEE_ERR_VALUE,
                             "alpha (agreement sum) must be a finite number >= 0 (got %g)", cfg->alpha);
    return SPLITEE_OK;
}

/* S_i = S_{i-1} + C_i while the run goes on, C_i when it restarts. */
static int agreement_step(const splitee_exit_rule *r, splitee_exit_state *s, int i, double conf,
                          int32_t pred)
{
    follow_run(s, i, pred);
    s->sum = s->run > 1 ? s->sum + conf : conf;
    return s->sum >= r->alpha;
}

static const splitee__exit_ops patience_ops = { .init = patience_init, .step = patience_step };
static const splitee__exit_ops agreement_ops = { .init = agreement_init, .step = agreement_step };

const splitee__exit_kind splitee__exit_patience = {
    { "patience", "exit when the prediction stayed unchanged P times in a row (PABEE)",
      SPLITEE_EXIT_PARAM_PATIENCE, 0, 1, 1, 0 },
    &patience_ops };
const splitee__exit_kind splitee__exit_agreement = {
    { "agreement", "exit when the confidences summed while consecutive exits agree reach alpha",
      SPLITEE_EXIT_PARAM_ALPHA, 0, 1, 1, 0 },
    &agreement_ops };
