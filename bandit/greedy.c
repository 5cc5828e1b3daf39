/* greedy.c -- epsilon-greedy on the mean reward: every untried arm first,
 * lowest first; then, with probability epsilon, a uniform random arm, else
 * the arm with the highest mean (lowest on ties). */
#include <gsl/gsl_rng.h>

#include "policy_impl.h"

/* One uniform draw decides exploration (always drawn once the untried
 * phase is over, so the random stream does not depend on epsilon's value
 * being 0); a second picks the explored arm. With rng NULL the policy is
 * purely greedy. */
static int epsilon_greedy_choose(splitee_policy *p, gsl_rng *rng)
{
    if (p->untried)
        return splitee__policy_first_untried(p);
    if (rng && gsl_rng_uniform(rng) < p->cfg.epsilon)
        return (int)gsl_rng_uniform_int(rng, (unsigned long)p->arms);
    return splitee__policy_argmax_mean(p);
}

static const splitee__policy_ops epsilon_greedy_ops = {
    .choose = epsilon_greedy_choose, .observe = splitee__observe_played
};

const splitee__policy_kind splitee__kind_epsilon_greedy = {
    { "epsilon-greedy", "the best mean so far, a random layer with probability epsilon",
      SPLITEE_POLICY_PARAM_EPSILON, 1, 0, 0, NULL, 0 }, &epsilon_greedy_ops };
