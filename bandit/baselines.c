/* baselines.c -- the non-learning policies the bandits are compared with:
 * final (always the last layer on the device), random (uniform arm),
 * fixed / oracle (always cfg.fixed_arm; for oracle the replay harness sets
 * it to the best arm in hindsight) and ee-threshold (the early-exit
 * deployment of the exit rule: it chooses the last arm as its budget and
 * its early_exit trait makes replay and device stop at the first exit the
 * rule accepts, splitee_reward_early_exit). They still record statistics
 * of the arm they played (ee-threshold: of the exit it stopped at), so
 * counts and means are reported like any other policy's. */
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

static const splitee__policy_ops last_ops = { .choose = last_choose, .observe = splitee__observe_played };
static const splitee__policy_ops random_ops = { .choose = random_choose, .observe = splitee__observe_played };
static const splitee__policy_ops fixed_ops = { .choose = fixed_choose, .observe = splitee__observe_played };

const splitee__policy_kind splitee__kind_final = {
    { "final", "always the last layer, on the device", 0, 0, 0, 0, NULL, 0 }, &last_ops };
const splitee__policy_kind splitee__kind_random = {
    { "random", "a uniformly random layer", 0, 0, 0, 0, NULL, 0 }, &random_ops };
const splitee__policy_kind splitee__kind_fixed = {
    { "fixed", "always layer K (1-based)", SPLITEE_POLICY_PARAM_LAYER, 0, 0, 0, "fixed:K", 0 }, &fixed_ops };
const splitee__policy_kind splitee__kind_oracle = {
    { "oracle", "the best fixed layer in hindsight (replay only)", 0, 0, 1, 0, NULL, 0 }, &fixed_ops };
const splitee__policy_kind splitee__kind_ee_threshold = {
    { "ee-threshold", "early exit on the device at the first exit the exit rule accepts, never offloads",
      0, 0, 0, 1, NULL, 0 }, &last_ops };
