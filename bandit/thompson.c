/* thompson.c -- Gaussian Thompson sampling: every untried arm first, lowest
 * first; then one posterior draw per arm, mean_a + prior_sd/sqrt(n_a) * Z_a
 * with Z_a standard normal (GSL ziggurat), and the highest draw is played
 * (lowest arm on ties). */
#include <math.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "policy_impl.h"

/* Draws arms 0..L-1 in order, one normal each, so a fixed seed gives a
 * fixed sequence. With rng NULL it plays the highest posterior mean. */
static int thompson_choose(splitee_policy *p, gsl_rng *rng)
{
    if (p->untried)
        return splitee__policy_first_untried(p);
    if (!rng)
        return splitee__policy_argmax_mean(p);
    const double sd = p->cfg.prior_sd;
    int best = 0;
    double best_draw = -INFINITY;
    for (int a = 0; a < p->arms; a++) {
        double draw = p->mean[a] + sd / sqrt(p->n[a]) * gsl_ran_gaussian_ziggurat(rng, 1.0);
        if (a == 0 || draw > best_draw) {
            best = a;
            best_draw = draw;
        }
    }
    return best;
}

static const splitee__policy_ops thompson_ops = { .choose = thompson_choose, .observe = splitee__observe_played };

const splitee__policy_kind splitee__kind_thompson = {
    { "thompson", "Gaussian Thompson sampling", SPLITEE_POLICY_PARAM_PRIOR_SD, 1, 0, 0, NULL, 0 }, &thompson_ops };
