/* bandit_fixtures.h -- what the two policy test files (test_bandit.c,
 * test_bandit_forgetting.c) share: reward models, policies, random
 * confidence rows and the observation a device would report. */
#ifndef SPLITEE_TEST_BANDIT_FIXTURES_H
#define SPLITEE_TEST_BANDIT_FIXTURES_H

#include <criterion/criterion.h>
#include <gsl/gsl_rng.h>
#include <math.h>

#include "splitee/bandit.h"
#include "splitee/reward.h"

#define MAXA SPLITEE_MAX_EXITS

/* ---- fixtures --------------------------------------------------------- */

/* Reward model with the defaults (alpha .8, lambda .1, mu 1, o .3) changed
 * as given. */
static inline splitee_reward make_rw(int arms, double alpha, double lambda, double offload)
{
    splitee_reward_config rc;
    splitee_reward_config_default(&rc);
    rc.alpha = alpha;
    rc.lambda = lambda;
    rc.offload = offload;
    splitee_reward rw;
    splitee_error err;
    cr_assert_eq(splitee_reward_init(&rw, &rc, arms, &err), 0);
    return rw;
}

static inline splitee_policy *make_policy(splitee_policy_kind kind, const splitee_reward *rw,
                                   splitee_side_info side)
{
    splitee_policy_config pc;
    splitee_policy_config_default(&pc);
    pc.kind = kind;
    pc.side_info = side;
    pc.fixed_arm = rw->arms / 2;
    splitee_policy *p;
    splitee_error err;
    cr_assert_eq(splitee_policy_create(&pc, rw, &p, &err), 0, "%s", err.msg);
    return p;
}

/* A "Bernoulli-ish" confidence row: exit j is confident (0.8..1) with a
 * probability growing with depth, else unsure (0.3..0.7). */
static inline void gen_row(gsl_rng *r, int arms, double *row)
{
    for (int j = 0; j < arms; j++) {
        double pj = 0.15 + 0.8 * (j + 1) / arms;
        row[j] = gsl_rng_uniform(r) < pj ? 0.8 + 0.2 * gsl_rng_uniform(r)
                                         : 0.3 + 0.4 * gsl_rng_uniform(r);
    }
}

/* What the device reports after playing `arm` on `row`; C_L is NaN unless
 * it was known, or always given when `give_final` (replay, reference mode). */
static inline splitee_obs make_obs(const splitee_reward *rw, int arm, const double *row,
                            int give_final)
{
    int last = rw->arms - 1;
    splitee_obs ob;
    ob.arm = arm;
    ob.conf = row;
    ob.offloaded = arm < last && row[arm] < rw->alpha;
    ob.final_known = arm == last || ob.offloaded;
    ob.conf_final = ob.final_known || give_final ? row[last] : NAN;
    ob.pred = NULL;
    return ob;
}

#endif
