/* test_bandit_forgetting.c -- Criterion tests of the policies for a
 * changing world (bandit/nonstationary.c: sw-ucb, d-ucb and their side-
 * observation variants) against references that recompute everything from
 * the full history each round; long windows equal UCB1, save/load mid-run,
 * bad states and parameters, determinism, tracking a switch. */
#include <criterion/criterion.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "splitee/bandit.h"
#include "splitee/reward.h"

#include "bandit_fixtures.h"

/* ---- policies for a changing world (nonstationary.c) ------------------ */

/* The whole history of a run, from which the naive references recompute
 * every statistic from scratch each round. */
typedef struct history {
    int len;
    int arm[300000];
    int round[300000];   /* round (0-based) the reward was observed in */
    double r[300000];
} history;

static splitee_policy *make_ns(splitee_policy_kind kind, const splitee_reward *rw,
                               int window, double discount)
{
    splitee_policy_config pc;
    splitee_policy_config_default(&pc);
    pc.kind = kind;
    pc.window = window;
    pc.discount = discount;
    splitee_policy *p;
    splitee_error err;
    cr_assert_eq(splitee_policy_create(&pc, rw, &p, &err), 0, "%s", err.msg);
    return p;
}

/* SW-UCB (Garivier & Moulines 2011, xi = 1) from the last min(t-1, W)
 * plays: an arm absent from the window first, else the highest
 * mean + beta*sqrt(ln min(t, W) / N), t = plays + 1. */
static int naive_sw(const history *h, int t, int arms, int W, double beta, double *n,
                    double *mean)
{
    double sum[MAXA] = { 0 };
    for (int a = 0; a < arms; a++)
        n[a] = 0;
    for (int s = 0; s < h->len; s++) {
        if (h->round[s] < t - W)
            continue;
        n[h->arm[s]] += 1;
        sum[h->arm[s]] += h->r[s];
    }
    for (int a = 0; a < arms; a++)
        mean[a] = n[a] > 0 ? sum[a] / n[a] : 0;
    for (int a = 0; a < arms; a++)
        if (n[a] == 0)
            return a;
    double lt = log((double)(t + 1 < W ? t + 1 : W));
    int best = 0;
    double bv = 0;
    for (int a = 0; a < arms; a++) {
        double v = mean[a] + beta * sqrt(lt / n[a]);
        if (a == 0 || v > bv) { bv = v; best = a; }
    }
    return best;
}

/* D-UCB (same paper, xi = 1): N = sum_s g^(t-s) 1{a_s = a} with pow(), the
 * discounted mean, n_t = sum_a N (with side observations: the discounted
 * number of rounds, at least 1); a never played arm first. */
static int naive_d(const history *h, int t, int arms, double g, double beta, int side,
                   double *n, double *mean)
{
    double sum[MAXA] = { 0 };
    for (int a = 0; a < arms; a++)
        n[a] = 0;
    for (int s = 0; s < h->len; s++) {
        double w = pow(g, (double)(t - 1 - h->round[s]));
        n[h->arm[s]] += w;
        sum[h->arm[s]] += w * h->r[s];
    }
    double nt = 0;
    for (int a = 0; a < arms; a++) {
        mean[a] = n[a] > 0 ? sum[a] / n[a] : 0;
        nt += n[a];
    }
    if (side) {
        nt = 0;
        for (int s = 0; s < t; s++)
            nt += pow(g, (double)s);
        nt = nt < 1 ? 1 : nt;
    }
    for (int a = 0; a < arms; a++)
        if (n[a] == 0)
            return a;
    int best = 0;
    double bv = 0;
    for (int a = 0; a < arms; a++) {
        double v = mean[a] + beta * sqrt(log(nt) / n[a]);
        if (a == 0 || v > bv) { bv = v; best = a; }
    }
    return best;
}

/* Rows whose best arm changes every `period` rounds (the deep exits become
 * confident, then the shallow ones again), so a window or discount matters. */
static void gen_shifting_row(gsl_rng *r, int arms, int t, int period, double *row)
{
    gen_row(r, arms, row);
    if ((t / period) % 2)
        for (int j = 0; j < arms / 2; j++)
            row[j] = 0.3 + 0.4 * gsl_rng_uniform(r);
}

/* Runs a policy beside its naive reference and checks every choice, and
 * the counts and means (to rounding) at every round. */
static void check_ns(splitee_policy_kind kind, int arms, int rounds, int W, double g,
                     double beta)
{
    const int side = kind == SPLITEE_POLICY_KIND_SW_UCB_S || kind == SPLITEE_POLICY_KIND_D_UCB_S;
    const int sw = kind == SPLITEE_POLICY_KIND_SW_UCB || kind == SPLITEE_POLICY_KIND_SW_UCB_S;
    splitee_reward rw = make_rw(arms, 0.8, 0.4 / arms, 0.3);
    splitee_policy_config pc;
    splitee_policy_config_default(&pc);
    pc.kind = kind;
    pc.window = W;
    pc.discount = g;
    pc.beta = beta;
    splitee_policy *p;
    splitee_error err;
    cr_assert_eq(splitee_policy_create(&pc, &rw, &p, &err), 0, "%s", err.msg);
    history *h = calloc(1, sizeof *h);
    gsl_rng *rows = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rows, 11);
    double row[MAXA], n[MAXA], mean[MAXA];
    for (int t = 0; t < rounds; t++) {
        gen_shifting_row(rows, arms, t, 1500, row);
        int want = sw ? naive_sw(h, t, arms, W, beta, n, mean)
                      : naive_d(h, t, arms, g, beta, side, n, mean);
        for (int a = 0; a < arms; a++) {
            cr_assert_float_eq(splitee_policy_count(p, a), n[a], 1e-9 * (1 + n[a]),
                               "round %d arm %d", t, a);
            cr_assert_float_eq(splitee_policy_mean(p, a), mean[a], 1e-9, "round %d arm %d", t, a);
        }
        int got = splitee_policy_choose(p, NULL);
        cr_assert_eq(got, want, "%s round %d: policy chose %d, reference %d",
                     splitee_policy_kind_name(kind), t, got, want);
        splitee_obs ob = make_obs(&rw, got, row, 0);
        splitee_policy_observe(p, &ob);
        /* SplitEE-S, honest: lower exits that were confident, or all of
         * them when C_L came back */
        for (int j = 0; side && j < got; j++)
            if (row[j] >= rw.alpha || ob.final_known) {
                h->arm[h->len] = j;
                h->round[h->len] = t;
                h->r[h->len++] = splitee_reward_outcome(&rw, j, row).reward;
            }
        h->arm[h->len] = got;
        h->round[h->len] = t;
        h->r[h->len++] = splitee_reward_outcome(&rw, got, row).reward;
    }
    cr_assert_eq(splitee_policy_rounds(p), rounds);
    free(h);
    gsl_rng_free(rows);
    splitee_policy_free(p);
}

Test(bandit, sw_ucb_matches_naive_reference)
{
    check_ns(SPLITEE_POLICY_KIND_SW_UCB, 12, 6000, 400, 1, 1.0);
    check_ns(SPLITEE_POLICY_KIND_SW_UCB, 5, 6000, 97, 1, 0.5);
    check_ns(SPLITEE_POLICY_KIND_SW_UCB, 3, 3000, 2, 1, 1.0);    /* W < arms: round robin */
    check_ns(SPLITEE_POLICY_KIND_SW_UCB, 12, 3000, 1, 1, 1.0);
    check_ns(SPLITEE_POLICY_KIND_SW_UCB, 1, 200, 10, 1, 1.0);
}

Test(bandit, sw_ucb_s_matches_naive_reference)
{
    check_ns(SPLITEE_POLICY_KIND_SW_UCB_S, 12, 6000, 400, 1, 1.0);
    check_ns(SPLITEE_POLICY_KIND_SW_UCB_S, 5, 4000, 97, 1, 0.3);
    check_ns(SPLITEE_POLICY_KIND_SW_UCB_S, 4, 2000, 1, 1, 1.0);
}

Test(bandit, d_ucb_s_matches_naive_reference)
{
    check_ns(SPLITEE_POLICY_KIND_D_UCB_S, 12, 4000, 1, 0.99, 1.0);
    check_ns(SPLITEE_POLICY_KIND_D_UCB_S, 5, 4000, 1, 0.999, 0.3);
    check_ns(SPLITEE_POLICY_KIND_D_UCB_S, 6, 2000, 1, 1.0, 1.0);
}

Test(bandit, d_ucb_matches_naive_reference)
{
    check_ns(SPLITEE_POLICY_KIND_D_UCB, 12, 5000, 1, 0.99, 1.0);
    check_ns(SPLITEE_POLICY_KIND_D_UCB, 5, 5000, 1, 0.999, 0.5);
    check_ns(SPLITEE_POLICY_KIND_D_UCB, 12, 2000, 1, 1.0, 1.0);
    check_ns(SPLITEE_POLICY_KIND_D_UCB, 3, 2000, 1, 0.5, 1.0);
}

/* With W >= T nothing is forgotten: sw-ucb is SplitEE's UCB1 choice for
 * choice, and sw-ucb-s is SplitEE-S. */
Test(bandit, sw_ucb_with_long_window_is_ucb1)
{
    for (int side = 0; side < 2; side++) {
    splitee_reward rw = make_rw(12, 0.8, 0.03, 0.3);
    splitee_policy *sw = make_ns(side ? SPLITEE_POLICY_KIND_SW_UCB_S : SPLITEE_POLICY_KIND_SW_UCB, &rw, 5000, 1);
    splitee_policy *u = make_ns(side ? SPLITEE_POLICY_KIND_SPLITEE_S : SPLITEE_POLICY_KIND_SPLITEE, &rw, 1, 1);
    gsl_rng *rows = gsl_rng_alloc(gsl_rng_mt19937);
    double row[MAXA];
    for (int t = 0; t < 5000; t++) {
        gen_row(rows, 12, row);
        int a = splitee_policy_choose(sw, NULL), b = splitee_policy_choose(u, NULL);
        cr_assert_eq(a, b, "side %d round %d", side, t);
        splitee_obs ob = make_obs(&rw, a, row, 0);
        splitee_policy_observe(sw, &ob);
        splitee_policy_observe(u, &ob);
    }
    gsl_rng_free(rows);
    splitee_policy_free(sw);
    splitee_policy_free(u);
    }
}

/* Save mid-run (window wrapped, fresh sums half full), load into a new
 * policy: the text round-trips and both continue identically. */
Test(bandit, nonstationary_save_load_mid_run)
{
    splitee_reward rw = make_rw(12, 0.8, 0.03, 0.3);
    static const splitee_policy_kind kinds[4] = { SPLITEE_POLICY_KIND_SW_UCB, SPLITEE_POLICY_KIND_D_UCB,
                                                  SPLITEE_POLICY_KIND_SW_UCB_S, SPLITEE_POLICY_KIND_D_UCB_S };
    for (int k = 0; k < 4; k++) {
        splitee_policy_kind kind = kinds[k];
        splitee_policy *p = make_ns(kind, &rw, 150, 0.98);
        splitee_policy *q = make_ns(kind, &rw, 150, 0.98);
        gsl_rng *rows = gsl_rng_alloc(gsl_rng_mt19937);
        double row[MAXA];
        for (int t = 0; t < 1237; t++) {
            gen_shifting_row(rows, 12, t, 400, row);
            splitee_obs ob = make_obs(&rw, splitee_policy_choose(p, NULL), row, 0);
            splitee_policy_observe(p, &ob);
        }
        char *text = splitee_policy_save(p);
        cr_assert_not_null(text);
        if (k % 2 == 0)
            cr_assert(strstr(text, "\"history\"") && strstr(text, "\"window\":\t150"), "%s", text);
        splitee_error err;
        cr_assert_eq(splitee_policy_restore(q, text, &err), 0, "%s", err.msg);
        char *again = splitee_policy_save(q);
        cr_assert_str_eq(again, text);
        for (int t = 0; t < 2000; t++) {
            gen_shifting_row(rows, 12, t, 400, row);
            int a = splitee_policy_choose(p, NULL), b = splitee_policy_choose(q, NULL);
            cr_assert_eq(a, b, "%s round %d", splitee_policy_kind_name(kind), t);
            splitee_obs ob = make_obs(&rw, a, row, 0);
            splitee_policy_observe(p, &ob);
            splitee_policy_observe(q, &ob);
            cr_assert_eq(splitee_policy_mean(p, a), splitee_policy_mean(q, a), "%s round %d: %.17g %.17g",
                         splitee_policy_kind_name(kind), t, splitee_policy_mean(p, a), splitee_policy_mean(q, a));
        }
        free(text);
        free(again);
        gsl_rng_free(rows);
        splitee_policy_free(p);
        splitee_policy_free(q);
    }
}

/* A history that disagrees with the counts, a window of another size or
 * a bad discount are refused, and the policy is unchanged. */
Test(bandit, nonstationary_bad_state_and_params)
{
    splitee_reward rw = make_rw(3, 0.8, 0.1, 0.3);
    splitee_policy *p = make_ns(SPLITEE_POLICY_KIND_SW_UCB, &rw, 4, 1);
    splitee_error err;
    const char *head = "{\"kind\":\"sw-ucb\",\"arms\":3,\"rounds\":3,\"n\":[1,1,1],"
                       "\"sum\":[0.5,0.25,0.125],\"sumsq\":[0.25,0.0625,0.015625],";
    const char *fresh = "\"fresh_rounds\":3,\"fresh_n\":[1,1,1],\"fresh_sum\":[0,0,0],"
                        "\"fresh_sumsq\":[0,0,0]}";
    static const struct { const char *mid; int rc; } cases[] = {
        { "\"window\":5,\"history\":{\"arm\":[0,1,2],\"reward\":[0.5,0.25,0.125],\"round\":[0,1,2]},",
          SPLITEE_ERR_ARG },
        { "\"window\":4,\"history\":{\"arm\":[0,1,1],\"reward\":[0.5,0.25,0.125],\"round\":[0,1,2]},",
          SPLITEE_ERR_FORMAT },   /* counts disagree */
        { "\"window\":4,\"history\":{\"arm\":[0,1,7],\"reward\":[0.5,0.25,0.125],\"round\":[0,1,2]},",
          SPLITEE_ERR_FORMAT },   /* no such arm */
        { "\"window\":4,\"history\":{\"arm\":[0,1,2],\"reward\":[0.5,0.25],\"round\":[0,1,2]},",
          SPLITEE_ERR_FORMAT },   /* lengths differ */
        { "\"window\":4,\"history\":{\"arm\":[0,1,2],\"reward\":[0.5,0.25,0.125],\"round\":[0,2,1]},",
          SPLITEE_ERR_FORMAT },   /* rounds out of order */
        { "\"window\":4,\"history\":{\"arm\":[0,1,2],\"reward\":[0.5,0.25,0.125],\"round\":[0,1,4]},",
          SPLITEE_ERR_FORMAT },   /* a round not yet played */
        { "\"window\":4,\"history\":{\"arm\":[0,1,2],\"reward\":[0.5,0.25,0.125]},",
          SPLITEE_ERR_FORMAT },   /* no rounds */
        { "\"window\":4,", SPLITEE_ERR_FORMAT },
    };
    char buf[1024];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        snprintf(buf, sizeof buf, "%s%s%s", head, cases[i].mid, fresh);
        cr_assert_eq(splitee_policy_restore(p, buf, &err), cases[i].rc, "case %zu: %s", i, err.msg);
        cr_assert(err.msg[0] && !strchr(err.msg, '\n'));
        cr_assert_eq(splitee_policy_rounds(p), 0, "case %zu", i);
        cr_assert_eq(splitee_policy_count(p, 0), 0, "case %zu", i);
    }
    /* fresh counts that disagree with the history */
    snprintf(buf, sizeof buf, "%s%s", head,
             "\"window\":4,\"history\":{\"arm\":[0,1,2],\"reward\":[0.5,0.25,0.125],\"round\":[0,1,2]},"
             "\"fresh_rounds\":2,\"fresh_n\":[1,1,1],\"fresh_sum\":[0,0,0],\"fresh_sumsq\":[0,0,0]}");
    cr_assert_eq(splitee_policy_restore(p, buf, &err), SPLITEE_ERR_FORMAT);
    snprintf(buf, sizeof buf, "%s%s", head,
             "\"window\":4,\"history\":{\"arm\":[0,1,2],\"reward\":[0.5,0.25,0.125],\"round\":[0,1,2]},"
             "\"fresh_rounds\":3,\"fresh_n\":[1,1,1],\"fresh_sum\":[0.5,0.25,0.125],"
             "\"fresh_sumsq\":[0.25,0.0625,0.015625]}");
    cr_assert_eq(splitee_policy_restore(p, buf, &err), 0, "%s", err.msg);
    cr_assert_eq(splitee_policy_rounds(p), 3);
    splitee_policy_free(p);

    splitee_policy_config pc;
    splitee_policy_config_default(&pc);
    double bad_g[] = { 0, -0.5, 1.0001, NAN, INFINITY };
    pc.kind = SPLITEE_POLICY_KIND_D_UCB;
    for (size_t i = 0; i < sizeof bad_g / sizeof *bad_g; i++) {
        pc.discount = bad_g[i];
        cr_assert_eq(splitee_policy_create(&pc, &rw, &p, &err), SPLITEE_ERR_ARG, "%g", bad_g[i]);
        cr_assert_null(p);
    }
    pc.kind = SPLITEE_POLICY_KIND_SW_UCB;
    pc.window = 0;
    cr_assert_eq(splitee_policy_create(&pc, &rw, &p, &err), SPLITEE_ERR_ARG);
    pc.window = -3;
    cr_assert_eq(splitee_policy_create(&pc, &rw, &p, &err), SPLITEE_ERR_ARG);
    pc.kind = SPLITEE_POLICY_KIND_SPLITEE;    /* ignored by other kinds */
    cr_assert_eq(splitee_policy_create(&pc, &rw, &p, &err), 0);
    splitee_policy_free(p);
    splitee_policy_config ok;
    cr_assert_eq(splitee_policy_parse("sw-ucb", &ok), 0);
    cr_assert_eq(ok.kind, SPLITEE_POLICY_KIND_SW_UCB);
    cr_assert_eq(splitee_policy_parse("d-ucb", &ok), 0);
    cr_assert_eq(ok.kind, SPLITEE_POLICY_KIND_D_UCB);
    cr_assert_eq(splitee_policy_parse("sw-ucb-s", &ok), 0);
    cr_assert_eq(ok.kind, SPLITEE_POLICY_KIND_SW_UCB_S);
    cr_assert_eq(splitee_policy_parse("d-ucb-s", &ok), 0);
    cr_assert_eq(ok.kind, SPLITEE_POLICY_KIND_D_UCB_S);
    cr_assert_str_eq(splitee_policy_kind_name(SPLITEE_POLICY_KIND_D_UCB), "d-ucb");
}

/* Deterministic: two runs, and a run after reset, make the same choices. */
Test(bandit, nonstationary_deterministic_and_reset)
{
    splitee_reward rw = make_rw(12, 0.8, 0.03, 0.3);
    static const splitee_policy_kind kinds[4] = { SPLITEE_POLICY_KIND_SW_UCB, SPLITEE_POLICY_KIND_D_UCB,
                                                  SPLITEE_POLICY_KIND_SW_UCB_S, SPLITEE_POLICY_KIND_D_UCB_S };
    for (int k = 0; k < 4; k++) {
        splitee_policy_kind kind = kinds[k];
        splitee_policy *p = make_ns(kind, &rw, 200, 0.99);
        int seq[3][1500];
        for (int run = 0; run < 3; run++) {
            if (run == 2) {
                splitee_policy_free(p);
                p = make_ns(kind, &rw, 200, 0.99);
            } else if (run == 1) {
                splitee_policy_reset(p);
            }
            gsl_rng *rows = gsl_rng_alloc(gsl_rng_mt19937);
            double row[MAXA];
            for (int t = 0; t < 1500; t++) {
                gen_shifting_row(rows, 12, t, 500, row);
                seq[run][t] = splitee_policy_choose(p, NULL);
                splitee_obs ob = make_obs(&rw, seq[run][t], row, 0);
                splitee_policy_observe(p, &ob);
            }
            gsl_rng_free(rows);
        }
        cr_assert_arr_eq(seq[0], seq[1], sizeof seq[0]);
        cr_assert_arr_eq(seq[0], seq[2], sizeof seq[0]);
        splitee_policy_free(p);
    }
}

/* The point of them: after the best arm changes, sw-ucb and d-ucb move to
 * the new one within about a window, while UCB1 keeps its old belief. */
Test(bandit, nonstationary_policies_track_a_change)
{
    splitee_reward rw = make_rw(3, 0.8, 0.01, 0.3);
    static const double before[3] = { 0.95, 0.5, 0.5 };   /* arm 0 exits: best */
    /* arm 2 best, but worth less than arm 0 was: UCB1's stale mean of arm
     * 0 needs thousands of rounds to fall below it */
    static const double after[3] = { 0.5, 0.5, 0.9 };
    int late[3] = { 0 };
    splitee_policy_kind kinds[3] = { SPLITEE_POLICY_KIND_SW_UCB, SPLITEE_POLICY_KIND_D_UCB,
                                     SPLITEE_POLICY_KIND_SPLITEE };
    for (int k = 0; k < 3; k++) {
        splitee_policy *p = make_ns(kinds[k], &rw, 300, 0.99);
        for (int t = 0; t < 20000; t++) {
            const double *row = t < 15000 ? before : after;
            int a = splitee_policy_choose(p, NULL);
            splitee_obs ob = make_obs(&rw, a, row, 0);
            splitee_policy_observe(p, &ob);
            if (t >= 16000)
                late[k] += a == 2;
        }
        splitee_policy_free(p);
    }
    cr_assert_gt(late[0], 0.7 * 4000, "sw-ucb played the new best %d times", late[0]);
    cr_assert_gt(late[1], 0.6 * 4000, "d-ucb played the new best %d times", late[1]);
    cr_assert_lt(late[2], 0.6 * 4000, "ucb1 played the new best %d times", late[2]);
    cr_log_info("late plays of the new best: sw %d, d %d, ucb1 %d of 4000", late[0], late[1], late[2]);
}
