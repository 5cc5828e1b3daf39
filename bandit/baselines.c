/* baselines.c -- the non-learning policies the bandits are compared with:
 * final (always the last layer on the device), random (uniform arm),
 * fixed / oracle (always cfg.fixed_arm; for oracle the replay harness sets
 * it to the best arm in hindsight) and ee-threshold (the early-exit
 * deployment: the device runs to the first confident exit, which the
 * harness evaluates with splitee_reward_ee_threshold). They still record
 * statistics of the arm they played, so counts and means are reported
 * like any other policy's. */
#include <gsl/gsl_rng.h>

#include "policy_impl.h"

/* final and ee-threshold: the last arm, L-1. */
static int last_choose(splitee_policy *p, gsl_rng *rng)
{
    (void)rng;
    return p->arms - 1;
}

/* random: a uniform arm from rng; arm 0 when rng is NULL (no draw possible). */
static int random_choose(splitee_policy *p, gsl_rng *rng)
{
    if (!rng)
        return 0;
    return (int)gsl_rng_uniform_int(rng, (unsigned long)p->arms);
}

/* fixed and oracle: cfg.fixed_arm, validated at create. */
static int fixed_choose(splitee_policy *p, gsl_rng *rng)
{
    (void)rng;
    return p->cfg.fixed_arm;
}

const splitee__policy_ops splitee__final_ops = { .choose = last_choose, .observe = splitee__observe_played };
const splitee__policy_ops splitee__random_ops = { .choose = random_choose, .observe = splitee__observe_played };
const splitee__policy_ops splitee__fixed_ops = { .choose = fixed_choose, .observe = splitee__observe_played };
const splitee__policy_ops splitee__ee_threshold_ops = { .choose = last_choose, .observe = splitee__observe_played };
