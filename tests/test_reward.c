/* test_reward.c -- the reward model against the table in docs/ARCHITECTURE.md,
 * computed by hand. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "splitee/reward.h"

static splitee_reward make(double alpha, double lambda, double mu, double o, int L)
{
    splitee_reward_config c;
    splitee_reward_config_default(&c);
    c.alpha = alpha;
    c.lambda = lambda;
    c.mu = mu;
    c.offload = o;
    splitee_reward rw;
    splitee_error e;
    cr_assert_eq(splitee_reward_init(&rw, &c, L, &e), 0, "%s", e.msg);
    return rw;
}

Test(reward, defaults_are_documented_values)
{
    splitee_reward_config c;
    splitee_reward_config_default(&c);
    cr_assert_eq(c.alpha, 0.8);
    cr_assert_eq(c.lambda, 0.1);
    cr_assert_eq(c.mu, 1.0);
    cr_assert_eq(c.offload, 0.3);
}

Test(reward, exit_offload_and_last_layer_cases)
{
    splitee_reward rw = make(0.7, 0.1, 2.0, 0.25, 4);
    double conf[4] = { 0.9, 0.5, 0.6, 0.95 };
    /* arm 0: C_1 = 0.9 >= 0.7 -> exit at 1, cost 0.1, reward 0.9 - 2*0.1 */
    splitee_outcome a = splitee_reward_outcome(&rw, 0, conf);
    cr_assert_eq(a.offloaded, 0);
    cr_assert_eq(a.exit, 0);
    cr_assert_float_eq(a.cost, 0.1, 1e-15);
    cr_assert_float_eq(a.reward, 0.7, 1e-15);
    /* arm 1: C_2 = 0.5 < 0.7 -> offload, cost 0.2 + 0.25, reward C_4 - 2*0.45 */
    splitee_outcome b = splitee_reward_outcome(&rw, 1, conf);
    cr_assert_eq(b.offloaded, 1);
    cr_assert_eq(b.exit, 3);
    cr_assert_float_eq(b.cost, 0.45, 1e-15);
    cr_assert_float_eq(b.reward, 0.95 - 0.9, 1e-15);
    /* arm 3 = L: exit L on the device, never offloads even below alpha */
    double low[4] = { 0.1, 0.1, 0.1, 0.2 };
    splitee_outcome c = splitee_reward_outcome(&rw, 3, low);
    cr_assert_eq(c.offloaded, 0);
    cr_assert_eq(c.exit, 3);
    cr_assert_float_eq(c.cost, 0.4, 1e-15);
    cr_assert_float_eq(c.reward, 0.2 - 0.8, 1e-15);
}

Test(reward, threshold_is_inclusive)
{
    splitee_reward rw = make(0.5, 0.1, 1, 0.3, 3);
    double conf[3] = { 0.5, 0.2, 0.9 };
    cr_assert_eq(splitee_reward_outcome(&rw, 0, conf).offloaded, 0);
}

Test(reward, offload_reward_uses_authors_operation_order)
{
    splitee_reward rw = make(0.8, 0.1, 1, 0.15, 12);
    double conf[12];
    for (int i = 0; i < 12; i++)
        conf[i] = 0.3 + 0.04 * i;   /* all below alpha: every arm offloads */
    for (int a = 0; a < 11; a++) {
        double want = conf[11] - 0.15 - 0.1 * (a + 1);   /* SplitEE.py */
        cr_assert_eq(splitee_reward_outcome(&rw, a, conf).reward, want, "arm %d", a);
    }
}

Test(reward, ee_threshold_exits_at_first_confident_layer)
{
    splitee_reward rw = make(0.8, 0.1, 1, 0.3, 4);
    double conf[4] = { 0.5, 0.85, 0.9, 0.99 };
    splitee_outcome o = splitee_reward_ee_threshold(&rw, conf);
    cr_assert_eq(o.exit, 1);
    cr_assert_eq(o.offloaded, 0);
    cr_assert_float_eq(o.reward, 0.85 - 0.2, 1e-15);
    double none[4] = { 0.1, 0.2, 0.3, 0.4 };
    cr_assert_eq(splitee_reward_ee_threshold(&rw, none).exit, 3);
}

Test(reward, cost_vectors_are_cumulative_and_per_layer)
{
    double layer[3] = { 0.5, 0.25, 1.0 }, off[3] = { 0.9, 0.4, 0.0 };
    splitee_reward_config c;
    splitee_reward_config_default(&c);
    c.layer_cost = layer;
    c.offload_cost = off;
    splitee_reward rw;
    cr_assert_eq(splitee_reward_init(&rw, &c, 3, NULL), 0);
    cr_assert_float_eq(rw.gamma[0], 0.5, 1e-15);
    cr_assert_float_eq(rw.gamma[1], 0.75, 1e-15);
    cr_assert_float_eq(rw.gamma[2], 1.75, 1e-15);
    cr_assert_float_eq(rw.offload[1], 0.4, 1e-15);
    double conf[3] = { 0.1, 0.1, 0.7 };
    cr_assert_float_eq(splitee_reward_outcome(&rw, 1, conf).cost, 1.15, 1e-15);
}

Test(reward, rejects_bad_parameters_with_named_message)
{
    splitee_reward_config c;
    splitee_reward rw;
    splitee_error e;
    splitee_reward_config_default(&c);
    c.alpha = 1.5;
    cr_assert_eq(splitee_reward_init(&rw, &c, 12, &e), SPLITEE_ERR_VALUE);
    cr_assert(strstr(e.msg, "alpha"));
    splitee_reward_config_default(&c);
    c.mu = NAN;
    cr_assert_eq(splitee_reward_init(&rw, &c, 12, &e), SPLITEE_ERR_VALUE);
    cr_assert(strstr(e.msg, "mu"));
    splitee_reward_config_default(&c);
    c.offload = -1;
    cr_assert_eq(splitee_reward_init(&rw, &c, 12, &e), SPLITEE_ERR_VALUE);
    splitee_reward_config_default(&c);
    double bad[2] = { 0.1, INFINITY };
    c.layer_cost = bad;
    cr_assert_eq(splitee_reward_init(&rw, &c, 2, &e), SPLITEE_ERR_VALUE);
    cr_assert(strstr(e.msg, "layer 2"), "%s", e.msg);
    splitee_reward_config_default(&c);
    cr_assert_eq(splitee_reward_init(&rw, &c, 0, &e), SPLITEE_ERR_ARG);
    cr_assert_eq(splitee_reward_init(&rw, &c, SPLITEE_MAX_EXITS + 1, &e), SPLITEE_ERR_ARG);
}

/* Regression (issue 8): a huge but finite --mu or --offload made rewards
 * inf or NaN and the replay wrote a table of them with exit 0. */
Test(reward, rejects_costs_whose_rewards_overflow)
{
    splitee_reward_config c;
    splitee_reward rw;
    splitee_error e;
    splitee_reward_config_default(&c);
    c.mu = 1e308;
    c.lambda = 2;   /* mu * gamma_1 = 2e308 */
    cr_assert_eq(splitee_reward_init(&rw, &c, 12, &e), SPLITEE_ERR_VALUE);
    cr_assert(strstr(e.msg, "not a finite number") && strstr(e.msg, "layer"), "%s", e.msg);
    splitee_reward_config_default(&c);
    c.offload = 1.7e308;
    c.lambda = 1e308;
    cr_assert_eq(splitee_reward_init(&rw, &c, 12, &e), SPLITEE_ERR_VALUE, "%s", e.msg);
    splitee_reward_config_default(&c);
    double big[2] = { 1.5e308, 1.5e308 };   /* each finite, the cumulative sum is not */
    c.layer_cost = big;
    cr_assert_eq(splitee_reward_init(&rw, &c, 2, &e), SPLITEE_ERR_VALUE);
    cr_assert(strstr(e.msg, "layer 2"), "%s", e.msg);
    /* large but representable costs still work */
    splitee_reward_config_default(&c);
    c.mu = 1e6;
    c.offload = 1e6;
    cr_assert_eq(splitee_reward_init(&rw, &c, 12, &e), 0, "%s", e.msg);
}
