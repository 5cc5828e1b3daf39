/* test_reward.c -- the reward model against the table in docs/ARCHITECTURE.md,
 * computed by hand. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
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
    splitee_outcome o = splitee_reward_early_exit(&rw, 3, conf, NULL);
    cr_assert_eq(o.exit, 1);
    cr_assert_eq(o.offloaded, 0);
    cr_assert_float_eq(o.reward, 0.85 - 0.2, 1e-15);
    double none[4] = { 0.1, 0.2, 0.3, 0.4 };
    cr_assert_eq(splitee_reward_early_exit(&rw, 3, none, NULL).exit, 3);
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

/* ---- the exit rule inside the model --------------------------------------- */

/* Deterministic uniform numbers in [0, 1) (xorshift64*). */
static double unit(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return (double)((*s * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

/* The model as it was written before the exit rule was a module (the
 * formula of SplitEE.py): the threshold rule must give these bits. */
static splitee_outcome old_outcome(const splitee_reward *rw, double alpha, int arm, const double *conf)
{
    splitee_outcome oc;
    int last = rw->arms - 1;
    if (arm == last || conf[arm] >= alpha) {
        oc.offloaded = 0;
        oc.exit = arm;
        oc.cost = rw->gamma[arm];
        oc.reward = conf[arm] - rw->mu * oc.cost;
    } else {
        oc.offloaded = 1;
        oc.exit = last;
        oc.cost = rw->gamma[arm] + rw->offload[arm];
        oc.reward = conf[last] - rw->mu * rw->offload[arm] - rw->mu * rw->gamma[arm];
    }
    return oc;
}

Test(reward, threshold_rule_gives_the_old_formula_bit_for_bit)
{
    uint64_t seed = 3;
    double conf[12];
    const double alphas[] = { 0.55, 0.7, 0.8, 0.85 }, offs[] = { 0.1, 0.35, 0.6 };
    for (int ai = 0; ai < 4; ai++)
        for (int oi = 0; oi < 3; oi++) {
            splitee_reward rw = make(alphas[ai], 0.1, 1.3, offs[oi], 12);
            for (int rep = 0; rep < 500; rep++) {
                for (int i = 0; i < 12; i++)
                    conf[i] = unit(&seed) < 0.05 ? alphas[ai] : unit(&seed);
                int first = 11;
                for (int i = 11; i >= 0; i--)
                    if (conf[i] >= alphas[ai])
                        first = i;
                for (int a = 0; a < 12; a++) {
                    splitee_outcome n = splitee_reward_outcome(&rw, a, conf),
                                    o = old_outcome(&rw, alphas[ai], a, conf);
                    cr_assert(n.offloaded == o.offloaded && n.exit == o.exit &&
                              n.cost == o.cost && n.reward == o.reward, "arm %d", a);
                }
                splitee_outcome ee = splitee_reward_early_exit(&rw, 11, conf, NULL),
                                want = old_outcome(&rw, alphas[ai], first, conf);
                cr_assert(ee.exit == first && !ee.offloaded && ee.reward == want.reward &&
                          ee.cost == want.cost);
            }
        }
}

Test(reward, alpha_is_the_rules_threshold)
{
    splitee_reward_config c;
    splitee_reward_config_default(&c);
    cr_assert_eq(c.exit.kind, SPLITEE_EXIT_KIND_THRESHOLD);
    cr_assert_eq(c.exit.confidence, SPLITEE_CONFIDENCE_MAX_SOFTMAX);
    c.alpha = 0.625;
    cr_assert_eq(c.exit.alpha, 0.625);
    c.exit.alpha = 0.5;
    cr_assert_eq(c.alpha, 0.5);
    c.exit.confidence = SPLITEE_CONFIDENCE_MARGIN;
    splitee_reward rw;
    cr_assert_eq(splitee_reward_init(&rw, &c, 5, NULL), 0);
    cr_assert_eq(rw.alpha, 0.5);
    cr_assert_eq(rw.exit.alpha, 0.5);
    cr_assert_eq(rw.exit.exits, 5);
    cr_assert_eq(rw.exit.confidence, SPLITEE_CONFIDENCE_MARGIN);
}

/* Patience and agreement rules through the model: the outcome of every arm
 * is the formula with the rule's decision, and the early exit is the
 * first accepted exit up to the arm. */
Test(reward, any_rule_decides_the_outcome)
{
    uint64_t seed = 9;
    double conf[8];
    int32_t pred[8];
    for (int kind = 0; kind < SPLITEE_EXIT_KIND_COUNT; kind++) {
        double a[7] = { 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3 };
        splitee_reward_config c;
        splitee_reward_config_default(&c);
        c.exit.kind = (splitee_exit_kind)kind;
        c.exit.alphas = a;
        c.exit.nalphas = 7;
        c.exit.patience = 2;
        c.alpha = kind == SPLITEE_EXIT_KIND_AGREEMENT ? 1.6 : 0.7;
        c.offload = 0.25;
        splitee_reward rw;
        cr_assert_eq(splitee_reward_init(&rw, &c, 8, NULL), 0);
        for (int rep = 0; rep < 300; rep++) {
            for (int i = 0; i < 8; i++) {
                conf[i] = unit(&seed);
                pred[i] = unit(&seed) < 0.6 ? 1 : 2;
            }
            for (int arm = 0; arm < 8; arm++) {
                int exits = arm == 7 || splitee_exit_accepts(&rw.exit, arm, conf, pred);
                splitee_outcome o = splitee_reward_evaluate(&rw, arm, conf, pred),
                                w = splitee_reward_decided(&rw, arm, exits, conf[arm], conf[7],
                                                           rw.offload[arm]);
                cr_assert(o.offloaded == !exits && o.exit == w.exit && o.cost == w.cost &&
                          o.reward == w.reward, "kind %d arm %d", kind, arm);
                int first = splitee_exit_first(&rw.exit, arm, conf, pred);
                splitee_outcome e = splitee_reward_early_exit(&rw, arm, conf, pred);
                if (first >= 0)
                    cr_assert(e.exit == first && !e.offloaded && e.reward == conf[first] - rw.mu * rw.gamma[first]);
                else
                    cr_assert(e.offloaded == o.offloaded && e.reward == o.reward && e.cost == o.cost);
            }
        }
    }
}

Test(reward, rule_errors_name_the_parameter)
{
    splitee_reward_config c;
    splitee_reward rw;
    splitee_error e;
    splitee_reward_config_default(&c);
    c.exit.kind = SPLITEE_EXIT_KIND_PATIENCE;
    c.exit.patience = 0;
    cr_assert_eq(splitee_reward_init(&rw, &c, 12, &e), SPLITEE_ERR_VALUE);
    cr_assert(strstr(e.msg, "patience"), "%s", e.msg);
    splitee_reward_config_default(&c);
    c.exit.kind = SPLITEE_EXIT_KIND_PER_EXIT;
    cr_assert_eq(splitee_reward_init(&rw, &c, 12, &e), SPLITEE_ERR_ARG);
    cr_assert(strstr(e.msg, "per-exit"), "%s", e.msg);
    splitee_reward_config_default(&c);
    c.exit.kind = SPLITEE_EXIT_KIND_AGREEMENT;
    c.alpha = 3;    /* in range for a sum */
    cr_assert_eq(splitee_reward_init(&rw, &c, 12, &e), 0, "%s", e.msg);
}
