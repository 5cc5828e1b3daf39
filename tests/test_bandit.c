/* test_bandit.c -- Criterion tests of the policies (bandit/, bandit.h):
 * every learning policy against a naive reference written here, hand-worked
 * UCB1 and SplitEE-S sequences, honest versus reference side information,
 * convergence, seeded determinism, save/load, names and argument checks;
 * side observations under exit rules that read predictions. The policies
 * for a changing world are in test_bandit_forgetting.c. */
#include <criterion/criterion.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "splitee/bandit.h"
#include "splitee/reward.h"

#include "bandit_fixtures.h"

/* ---- naive references ------------------------------------------------- */

/* Plain per-arm statistics and the textbook formulas, written independently
 * of bandit/ (rewards through splitee_reward_outcome on the whole row). */
typedef struct naive {
    int arms;
    long long t;              /* rounds observed */
    long n[MAXA];
    double sum[MAXA], sumsq[MAXA];
} naive;

static void naive_add(naive *nv, int a, double r)
{
    nv->n[a]++;
    nv->sum[a] += r;
    nv->sumsq[a] += r * r;
}

static int naive_untried(const naive *nv)
{
    for (int a = 0; a < nv->arms; a++)
        if (nv->n[a] == 0)
            return a;
    return -1;
}

static int naive_ucb1(const naive *nv, double beta)
{
    int u = naive_untried(nv);
    if (u >= 0)
        return u;
    int best = 0;
    double bv = 0;
    for (int a = 0; a < nv->arms; a++) {
        double v = nv->sum[a] / nv->n[a] + beta * sqrt(log((double)(nv->t + 1)) / nv->n[a]);
        if (a == 0 || v > bv) { bv = v; best = a; }
    }
    return best;
}

/* SplitEE-S update from a whole row, straight from docs/ARCHITECTURE.md. */
static void naive_side_observe(naive *nv, const splitee_reward *rw, int a,
                               const double *row, int reference)
{
    int last = rw->arms - 1;
    int final_known = a == last || row[a] < rw->alpha;
    for (int j = 0; j < a; j++)
        if (row[j] >= rw->alpha || final_known || reference)
            naive_add(nv, j, splitee_reward_outcome(rw, j, row).reward);
    naive_add(nv, a, splitee_reward_outcome(rw, a, row).reward);
    nv->t++;
}

static void naive_observe(naive *nv, const splitee_reward *rw, int a, const double *row)
{
    naive_add(nv, a, splitee_reward_outcome(rw, a, row).reward);
    nv->t++;
}

/* Reward bounds for confidences in [0, 1] (exit: C - mu*g; offload:
 * C_L - mu*o - mu*g), as KL-UCB and UCB-V document them. */
static void naive_bounds(const splitee_reward *rw, double *lo, double *hi)
{
    *lo = INFINITY;
    *hi = -INFINITY;
    for (int a = 0; a < rw->arms; a++) {
        double dl = 0.0 - rw->mu * rw->gamma[a], dh = 1.0 - rw->mu * rw->gamma[a];
        if (a < rw->arms - 1) {
            double ol = 0.0 - rw->mu * rw->offload[a] - rw->mu * rw->gamma[a];
            dl = ol < dl ? ol : dl;
        }
        *lo = dl < *lo ? dl : *lo;
        *hi = dh > *hi ? dh : *hi;
    }
}

/* The KL-UCB index to long-double precision: 200 bisection steps on
 * [m, 1] keeping the feasible end, kl clamped into [1e-15, 1 - 1e-15] as
 * the policy documents. */
static long double naive_kl_index(double m, double n, double bound)
{
    const long double e = 1e-15L;
    long double x = m < e ? e : m > 1 - e ? 1 - e : m, l = m, h = 1;
    for (int s = 0; s < 200; s++) {
        long double mid = 0.5L * (l + h);
        long double y = mid < e ? e : mid > 1 - e ? 1 - e : mid;
        long double kl = x * logl(x / y) + (1 - x) * logl((1 - x) / (1 - y));
        if (n * kl <= bound) l = mid; else h = mid;
    }
    return l;
}

/* Gap below which two KL-UCB indices count as tied: the policy's stated
 * tolerance (about 1e-12), with room; the old 32-step bisection was off
 * by up to 2^-32 (2.3e-10). */
#define KL_TIE 1e-9

/* KL-UCB's choice from the high-precision indices (into idx[], the
 * highest's arm into *want, lowest on exact ties); returns the highest. */
static long double naive_kl_ucb(const naive *nv, double lo, double hi, int *want, long double *idx)
{
    int u = naive_untried(nv);
    if (u >= 0) {
        *want = u;
        return -1;
    }
    long double top = -1;
    double bound = log((double)(nv->t + 1));
    for (int a = 0; a < nv->arms; a++) {
        double m = (nv->sum[a] / nv->n[a] - lo) / (hi - lo);
        m = m < 0 ? 0 : m > 1 ? 1 : m;
        idx[a] = naive_kl_index(m, (double)nv->n[a], bound);
        if (idx[a] > top) { top = idx[a]; *want = a; }
    }
    return top;
}

static int naive_ucb_v(const naive *nv, double beta, double b)
{
    int u = naive_untried(nv);
    if (u >= 0)
        return u;
    int best = 0;
    double bv = 0, lt = log((double)(nv->t + 1));
    for (int a = 0; a < nv->arms; a++) {
        double n = nv->n[a], m = nv->sum[a] / n;
        double var = nv->sumsq[a] / n - m * m;
        if (var < 0) var = 0;
        double v = m + beta * (sqrt(2 * var * lt / n) + 3 * b * lt / n);
        if (a == 0 || v > bv) { bv = v; best = a; }
    }
    return best;
}

static int naive_greedy(const naive *nv)
{
    int best = 0;
    for (int a = 1; a < nv->arms; a++)
        if (nv->sum[a] / nv->n[a] > nv->sum[best] / nv->n[best])
            best = a;
    return best;
}

static int naive_eps(const naive *nv, double eps, gsl_rng *r)
{
    int u = naive_untried(nv);
    if (u >= 0)
        return u;
    if (gsl_rng_uniform(r) < eps)
        return (int)gsl_rng_uniform_int(r, (unsigned long)nv->arms);
    return naive_greedy(nv);
}

static int naive_thompson(const naive *nv, double sd, gsl_rng *r)
{
    int u = naive_untried(nv);
    if (u >= 0)
        return u;
    int best = 0;
    double bv = 0;
    for (int a = 0; a < nv->arms; a++) {
        double v = nv->sum[a] / nv->n[a] + sd / sqrt((double)nv->n[a]) *
                   gsl_ran_gaussian_ziggurat(r, 1.0);
        if (a == 0 || v > bv) { bv = v; best = a; }
    }
    return best;
}

/* Which naive rule to run against the policy. */
enum naive_rule { NR_UCB1, NR_SIDE_HONEST, NR_SIDE_REF, NR_KL, NR_UCBV, NR_EPS, NR_TS };

typedef void (*row_gen)(gsl_rng *r, int arms, double *row);

/* Runs policy and reference side by side for `rounds` rounds on rows from
 * `gen` and checks every choice, then the final counts, means and clock. */
static void check_rows_against_naive(splitee_policy_kind kind, splitee_side_info side,
                                     enum naive_rule rule, int arms, int rounds,
                                     double lambda, row_gen gen)
{
    splitee_reward rw = make_rw(arms, 0.8, lambda, 0.3);
    splitee_policy *p = make_policy(kind, &rw, side);
    naive nv = { .arms = arms };
    gsl_rng *rows = gsl_rng_alloc(gsl_rng_mt19937), *r1 = gsl_rng_alloc(gsl_rng_mt19937),
            *r2 = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rows, 7);
    gsl_rng_set(r1, 99);
    gsl_rng_set(r2, 99);
    double lo, hi, row[MAXA];
    naive_bounds(&rw, &lo, &hi);
    int near_ties = 0;
    long double kl_idx[MAXA], kl_top = -1;
    for (int t = 0; t < rounds; t++) {
        gen(rows, arms, row);
        int want;
        switch (rule) {
        case NR_KL: kl_top = naive_kl_ucb(&nv, lo, hi, &want, kl_idx); break;
        case NR_UCBV: want = naive_ucb_v(&nv, 1.0, hi - lo); break;
        case NR_EPS: want = naive_eps(&nv, 0.05, r2); break;
        case NR_TS: want = naive_thompson(&nv, 0.5, r2); break;
        default: want = naive_ucb1(&nv, 1.0); break;
        }
        int got = splitee_policy_choose(p, r1);
        if (rule == NR_KL && kl_top >= 0 && got != want && got >= 0 && got < arms &&
            kl_idx[got] >= kl_top - KL_TIE && kl_idx[got] != kl_top) {
            /* a near-tie, not an exact one: either is within the tolerance,
             * unless a lower arm has exactly got's index */
            near_ties++;
            want = got;
            for (int a = 0; a < got; a++)
                if (kl_idx[a] == kl_idx[got])
                    want = a;
        }
        cr_assert_eq(got, want, "round %d: policy chose %d, reference %d", t, got, want);
        splitee_obs ob = make_obs(&rw, got, row, rule == NR_SIDE_REF);
        splitee_policy_observe(p, &ob);
        if (rule == NR_SIDE_HONEST || rule == NR_SIDE_REF)
            naive_side_observe(&nv, &rw, got, row, rule == NR_SIDE_REF);
        else
            naive_observe(&nv, &rw, got, row);
    }
    cr_assert_lt(near_ties, rounds / 20, "%d near-ties in %d rounds: the check says little",
                 near_ties, rounds);
    cr_assert_eq(splitee_policy_rounds(p), nv.t);
    for (int a = 0; a < arms; a++) {
        cr_assert_eq(splitee_policy_count(p, a), (double)nv.n[a]);
        if (nv.n[a])
            cr_assert_eq(splitee_policy_mean(p, a), nv.sum[a] / nv.n[a], "arm %d", a);
    }
    gsl_rng_free(rows);
    gsl_rng_free(r1);
    gsl_rng_free(r2);
    splitee_policy_free(p);
}

/* The usual case: random rows, lambda 0.4 / arms. */
static void check_against_naive(splitee_policy_kind kind, splitee_side_info side,
                                enum naive_rule rule, int arms, int rounds)
{
    check_rows_against_naive(kind, side, rule, arms, rounds, 0.4 / arms, gen_row);
}

/* Rows whose confidences are 0.5 or 1 (exact in binary): with lambda 0
 * every reward is one of a few exact values, so means and indices tie
 * exactly and often -- the case where a shortcut in the index scan would
 * show as a different tie-break. */
static void gen_tied_row(gsl_rng *r, int arms, double *row)
{
    for (int j = 0; j < arms; j++)
        row[j] = gsl_rng_uniform(r) < 0.5 ? 0.5 : 1.0;
}

/* ---- each policy against its reference -------------------------------- */

Test(bandit, ucb_ties_match_naive_reference)
{
    check_rows_against_naive(SPLITEE_POLICY_KIND_SPLITEE, SPLITEE_SIDE_INFO_HONEST, NR_UCB1, 12,
                             5000, 0.0, gen_tied_row);
    check_rows_against_naive(SPLITEE_POLICY_KIND_SPLITEE_S, SPLITEE_SIDE_INFO_REFERENCE,
                             NR_SIDE_REF, 12, 5000, 0.0, gen_tied_row);
}

Test(bandit, ucb_matches_naive_reference)
{
    check_against_naive(SPLITEE_POLICY_KIND_SPLITEE, SPLITEE_SIDE_INFO_HONEST, NR_UCB1, 12, 5000);
    check_against_naive(SPLITEE_POLICY_KIND_SPLITEE, SPLITEE_SIDE_INFO_HONEST, NR_UCB1, 3, 5000);
    check_against_naive(SPLITEE_POLICY_KIND_SPLITEE, SPLITEE_SIDE_INFO_HONEST, NR_UCB1, 1, 100);
}

Test(bandit, splitee_s_matches_naive_reference)
{
    check_against_naive(SPLITEE_POLICY_KIND_SPLITEE_S, SPLITEE_SIDE_INFO_HONEST,
                        NR_SIDE_HONEST, 12, 5000);
    check_against_naive(SPLITEE_POLICY_KIND_SPLITEE_S, SPLITEE_SIDE_INFO_REFERENCE,
                        NR_SIDE_REF, 12, 5000);
}

Test(bandit, kl_ucb_matches_naive_reference)
{
    check_against_naive(SPLITEE_POLICY_KIND_KL_UCB, SPLITEE_SIDE_INFO_HONEST, NR_KL, 12, 3000);
    check_against_naive(SPLITEE_POLICY_KIND_KL_UCB, SPLITEE_SIDE_INFO_HONEST, NR_KL, 3, 20000);
    check_rows_against_naive(SPLITEE_POLICY_KIND_KL_UCB, SPLITEE_SIDE_INFO_HONEST, NR_KL, 6, 5000,
                             0.0, gen_tied_row);
}

/* Internal (bandit/policy_impl.h): the KL-UCB index by Newton steps. */
double splitee__kl_ucb_index(double m, double n, double lt, double start);

/* The index by Newton steps against the high-precision bisection on random
 * means (some at 0, 1 and next to them), counts 1..1e6 and ln t from ln n
 * to ln 1e9 (or 0): within 1e-12 everywhere; the 32-step bisection the policy used before
 * is within 2^-32 of it too, so the two differ only at gaps below that. */
Test(bandit, kl_ucb_index_matches_high_precision)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 13);
    long double worst = 0, worst_old = 0;
    for (int i = 0; i < 20000; i++) {
        double u = gsl_rng_uniform(r), m;
        if (u < 0.05) m = 0;
        else if (u < 0.1) m = 1;
        else if (u < 0.15) m = 1e-12 * gsl_rng_uniform(r);
        else if (u < 0.2) m = 1 - 1e-12 * gsl_rng_uniform(r);
        else m = gsl_rng_uniform(r);
        /* n <= t as in a run (plays never exceed rounds, but for the L
         * seeds); t = 1 (ln t = 0) after a reference initialisation */
        double n = floor(exp(gsl_rng_uniform(r) * log(1e6)));
        double lt = gsl_rng_uniform(r) < 0.02 ? 0.0
                    : log(n) + gsl_rng_uniform(r) * (log(1e9) - log(n));
        double q = splitee__kl_ucb_index(m, n, lt, -1);
        double qw = splitee__kl_ucb_index(m, n, lt, m + (q - m) * gsl_rng_uniform(r) * 1.2);
        /* ln t = 0: no q > m is feasible (kl > 0 there), the bisection's
         * rounding aside */
        long double ref = lt == 0 ? (long double)m : naive_kl_index(m, n, lt);
        long double d = fabsl((long double)q - ref);
        cr_assert(q >= m && q <= 1, "m %g n %g lt %g: q %.17g outside [m, 1]", m, n, lt, q);
        cr_assert_leq(d, 1e-12L, "m %.17g n %g lt %.17g: %.17g, reference %.20Lg", m, n, lt, q, ref);
        worst = d > worst ? d : worst;
        /* from a warm start anywhere in (m, 1.2 q): the same to 1e-12 */
        cr_assert_leq(fabsl((long double)qw - ref), 1e-12L, "warm start: m %.17g n %g lt %.17g", m, n, lt);
        /* the old computation */
        double x = fmin(fmax(m, 1e-15), 1 - 1e-15), l = m, h = 1;
        for (int s = 0; s < 32; s++) {
            double mid = 0.5 * (l + h), y = fmin(fmax(mid, 1e-15), 1 - 1e-15);
            if (n * (x * log(x / y) + (1 - x) * log((1 - x) / (1 - y))) <= lt) l = mid; else h = mid;
        }
        long double dold = fabsl((long double)l - ref);
        if (lt > 0)
            cr_assert_leq(dold, 2.4e-10L, "old bisection off by %Lg", dold);
        worst_old = dold > worst_old ? dold : worst_old;
    }
    cr_assert_lt(worst, worst_old, "Newton %Lg, bisection %Lg", worst, worst_old);
    gsl_rng_free(r);
}

Test(bandit, ucb_v_matches_naive_reference)
{
    check_against_naive(SPLITEE_POLICY_KIND_UCB_V, SPLITEE_SIDE_INFO_HONEST, NR_UCBV, 12, 3000);
}

Test(bandit, epsilon_greedy_matches_naive_reference)
{
    check_against_naive(SPLITEE_POLICY_KIND_EPSILON_GREEDY, SPLITEE_SIDE_INFO_HONEST, NR_EPS, 12, 5000);
}

Test(bandit, thompson_matches_naive_reference)
{
    check_against_naive(SPLITEE_POLICY_KIND_THOMPSON, SPLITEE_SIDE_INFO_HONEST, NR_TS, 12, 5000);
}

/* ---- hand-worked examples --------------------------------------------- */

/* Three arms, alpha .8, gamma = .1,.2,.3, o = .3, the same row every round:
 * C = (.5, .9, .95) gives rewards .55 (offload: .95-.3-.1), .7 (exit at 2)
 * and .65 (last). UCB1 with beta 1, worked by hand:
 *   t=4: 1.727 1.877* 1.827   t=5: 1.819 1.597 1.919*   t=6: 1.889* 1.647 1.597
 *   t=7: n=2,2,2 -> arm 1      t=8: 1.570 1.533 1.670*   t=9: 1.598* 1.556 1.506
 *   t=10: n=3,3,3 -> arm 1 */
static const double hand_row[3] = { 0.5, 0.9, 0.95 };

static void play_hand(splitee_policy *p, const splitee_reward *rw, int rounds,
                      const int *seq)
{
    for (int t = 0; t < rounds; t++) {
        int a = splitee_policy_choose(p, NULL);
        cr_assert_eq(a, seq[t], "round %d: chose %d, expected %d", t + 1, a, seq[t]);
        splitee_obs ob = make_obs(rw, a, hand_row, 0);
        splitee_policy_observe(p, &ob);
    }
}

Test(bandit, ucb_hand_worked_3_arms)
{
    splitee_reward rw = make_rw(3, 0.8, 0.1, 0.3);
    splitee_policy *p = make_policy(SPLITEE_POLICY_KIND_SPLITEE, &rw, SPLITEE_SIDE_INFO_HONEST);
    static const int seq[10] = { 0, 1, 2, 1, 2, 0, 1, 2, 0, 1 };
    play_hand(p, &rw, 10, seq);
    cr_assert_eq(splitee_policy_count(p, 0), 3);
    cr_assert_eq(splitee_policy_count(p, 1), 4);
    cr_assert_eq(splitee_policy_count(p, 2), 3);
    cr_assert_eq(splitee_policy_rounds(p), 10);
    cr_assert_float_eq(splitee_policy_mean(p, 0), 0.55, 1e-12);
    cr_assert_float_eq(splitee_policy_mean(p, 1), 0.7, 1e-12);
    cr_assert_float_eq(splitee_policy_mean(p, 2), 0.65, 1e-12);
    cr_assert_eq(splitee_policy_best_arm(p), 1);
    splitee_policy_free(p);
}

/* SplitEE-S on the same rows. Playing arm 1 exits, so arm 0 (which would
 * have offloaded) is updated only in reference mode; playing arm 2 reveals
 * C_L and updates arms 0 and 1 in both modes. Both modes then play
 * 0 1 2 2 2 2 2 2 1 (indices by hand at t=9: arm 1 1.2603 > arm 2 1.2551);
 * counts honest (7, 8, 6), reference (9, 8, 6). */
Test(bandit, splitee_s_hand_worked_3_arms)
{
    static const int seq[9] = { 0, 1, 2, 2, 2, 2, 2, 2, 1 };
    static const double want[2][3] = { { 7, 8, 6 }, { 9, 8, 6 } };
    splitee_reward rw = make_rw(3, 0.8, 0.1, 0.3);
    for (int mode = 0; mode < 2; mode++) {
        splitee_policy *p = make_policy(SPLITEE_POLICY_KIND_SPLITEE_S, &rw,
                                        mode ? SPLITEE_SIDE_INFO_REFERENCE
                                             : SPLITEE_SIDE_INFO_HONEST);
        for (int t = 0; t < 9; t++) {
            int a = splitee_policy_choose(p, NULL);
            cr_assert_eq(a, seq[t], "mode %d round %d: chose %d", mode, t + 1, a);
            splitee_obs ob = make_obs(&rw, a, hand_row, mode);
            splitee_policy_observe(p, &ob);
        }
        for (int a = 0; a < 3; a++)
            cr_assert_eq(splitee_policy_count(p, a), want[mode][a], "mode %d arm %d", mode, a);
        cr_assert_float_eq(splitee_policy_mean(p, 0), 0.55, 1e-12);
        cr_assert_eq(splitee_policy_rounds(p), 9);
        splitee_policy_free(p);
    }
}

/* One observation on hand-built rows, 4 arms (alpha .8, gamma .1 j, o .3). */
Test(bandit, side_info_honest_vs_reference_rows)
{
    splitee_reward rw = make_rw(4, 0.8, 0.1, 0.3);
    /* play arm 2, which exits (.85); arm 0 exits (.9), arm 1 would offload */
    double row[4] = { 0.9, 0.6, 0.85, 0.99 };
    for (int mode = 0; mode < 2; mode++) {
        splitee_policy *p = make_policy(SPLITEE_POLICY_KIND_SPLITEE_S, &rw, (splitee_side_info)mode);
        splitee_obs ob = make_obs(&rw, 2, row, mode);
        splitee_policy_observe(p, &ob);
        cr_assert_eq(splitee_policy_count(p, 0), 1);
        cr_assert_float_eq(splitee_policy_mean(p, 0), 0.9 - 0.1, 1e-15);
        cr_assert_eq(splitee_policy_count(p, 1), mode ? 1 : 0, "mode %d", mode);
        if (mode)
            cr_assert_eq(splitee_policy_mean(p, 1), 0.99 - 1.0 * 0.3 - 1.0 * 0.2);
        cr_assert_eq(splitee_policy_count(p, 2), 1);
        cr_assert_float_eq(splitee_policy_mean(p, 2), 0.85 - 0.3, 1e-15);
        cr_assert_eq(splitee_policy_count(p, 3), 0);   /* never above the played arm */
        /* arm 1 offloads: C_L is known, so arm 0 is updated in both modes */
        ob = make_obs(&rw, 1, row, mode);
        cr_assert(ob.final_known);
        splitee_policy_observe(p, &ob);
        cr_assert_eq(splitee_policy_count(p, 0), 2);
        cr_assert_eq(splitee_policy_count(p, 1), mode ? 2 : 1);
        cr_assert_eq(splitee_policy_rounds(p), 2);
        splitee_policy_free(p);
    }
    /* plain splitee ignores the lower exits */
    splitee_policy *q = make_policy(SPLITEE_POLICY_KIND_SPLITEE, &rw, SPLITEE_SIDE_INFO_REFERENCE);
    splitee_obs ob = make_obs(&rw, 2, row, 1);
    splitee_policy_observe(q, &ob);
    cr_assert_eq(splitee_policy_count(q, 0), 0);
    cr_assert_eq(splitee_policy_count(q, 2), 1);
    splitee_policy_free(q);
}

Test(bandit, honest_never_reads_unknown_final)
{
    splitee_reward rw = make_rw(12, 0.8, 0.02, 0.3);
    splitee_policy *p = make_policy(SPLITEE_POLICY_KIND_SPLITEE_S, &rw, SPLITEE_SIDE_INFO_HONEST);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    double row[MAXA];
    int exited_with_unsure_lower = 0;
    for (int t = 0; t < 3000; t++) {
        gen_row(r, 12, row);
        int a = splitee_policy_choose(p, NULL);
        splitee_obs ob = make_obs(&rw, a, row, 0);   /* NaN unless known */
        if (!ob.final_known) {
            cr_assert(isnan(ob.conf_final));
            for (int j = 0; j < a; j++)
                exited_with_unsure_lower += row[j] < rw.alpha;
        }
        splitee_policy_observe(p, &ob);
    }
    cr_assert_gt(exited_with_unsure_lower, 100);   /* the case was exercised */
    for (int a = 0; a < 12; a++)
        cr_assert(isfinite(splitee_policy_mean(p, a)), "arm %d mean is not finite", a);
    gsl_rng_free(r);
    splitee_policy_free(p);
}

Test(bandit, seed_arm_does_not_advance_clock)
{
    splitee_reward rw = make_rw(3, 0.8, 0.1, 0.3);
    splitee_policy *p = make_policy(SPLITEE_POLICY_KIND_SPLITEE, &rw, SPLITEE_SIDE_INFO_HONEST);
    splitee_policy_seed_arm(p, 0, 0.2);
    splitee_policy_seed_arm(p, 1, 0.6);
    splitee_policy_seed_arm(p, 2, 0.4);
    splitee_policy_seed_arm(p, 3, 9.0);   /* out of range: ignored */
    cr_assert_eq(splitee_policy_rounds(p), 0);
    /* ln 1 = 0: the first index is the plain mean */
    cr_assert_eq(splitee_policy_choose(p, NULL), 1);
    cr_assert_eq(splitee_policy_best_arm(p), 1);
    splitee_policy_free(p);
}

/* Every arm pays exactly .9 (no device cost, all exits confident): indices
 * tie whenever the counts do, so the UCB family cycles 0 1 2 3 0 1 ... and
 * the greedy ones (epsilon 0, prior_sd 0) stay on arm 0. */
Test(bandit, ties_go_to_lowest_arm)
{
    splitee_reward rw = make_rw(4, 0.8, 0.0, 0.3);
    static const double row[4] = { 0.9, 0.9, 0.9, 0.9 };
    static const splitee_policy_kind kinds[] = {
        SPLITEE_POLICY_KIND_SPLITEE, SPLITEE_POLICY_KIND_KL_UCB, SPLITEE_POLICY_KIND_UCB_V,
        SPLITEE_POLICY_KIND_EPSILON_GREEDY, SPLITEE_POLICY_KIND_THOMPSON };
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        splitee_policy_config pc;
        splitee_policy_config_default(&pc);
        pc.kind = kinds[k];
        pc.epsilon = 0;
        pc.prior_sd = 0;
        splitee_policy *p;
        cr_assert_eq(splitee_policy_create(&pc, &rw, &p, NULL), 0);
        int greedy = k >= 3;
        for (int t = 0; t < 20; t++) {
            int a = splitee_policy_choose(p, r);
            int want = t < 4 ? t : greedy ? 0 : t % 4;
            cr_assert_eq(a, want, "%s round %d: %d", splitee_policy_kind_name(kinds[k]), t, a);
            splitee_obs ob = make_obs(&rw, a, row, 0);
            splitee_policy_observe(p, &ob);
        }
        splitee_policy_free(p);
    }
    gsl_rng_free(r);
}

/* ---- behaviour -------------------------------------------------------- */

/* A clear instance: 5 arms, rows drawn once; every learning policy ends
 * with the best arm in hindsight as its best arm, UCB plays it mostly. */
Test(bandit, learners_converge_to_best_arm)
{
    enum { N = 20000, L = 5 };
    splitee_reward rw = make_rw(L, 0.8, 0.05, 0.3);
    static const double pconf[L] = { 0.05, 0.2, 0.97, 0.97, 0.99 };
    double *rows = malloc(sizeof(double) * N * L), truth[L] = { 0 };
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < L; j++)
            rows[i * L + j] = gsl_rng_uniform(r) < pconf[j] ? 0.85 + 0.15 * gsl_rng_uniform(r)
                                                            : 0.2 + 0.3 * gsl_rng_uniform(r);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < L; j++)
            truth[j] += splitee_reward_outcome(&rw, j, rows + i * L).reward / N;
    cr_assert(truth[2] > truth[3] + 0.04 && truth[2] > truth[1] + 0.04);
    static const splitee_policy_kind kinds[] = {
        SPLITEE_POLICY_KIND_SPLITEE, SPLITEE_POLICY_KIND_SPLITEE_S, SPLITEE_POLICY_KIND_KL_UCB,
        SPLITEE_POLICY_KIND_UCB_V, SPLITEE_POLICY_KIND_EPSILON_GREEDY, SPLITEE_POLICY_KIND_THOMPSON };
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        splitee_policy *p = make_policy(kinds[k], &rw, SPLITEE_SIDE_INFO_HONEST);
        gsl_rng_set(r, 3);
        for (int i = 0; i < N; i++) {
            int a = splitee_policy_choose(p, r);
            splitee_obs ob = make_obs(&rw, a, rows + i * L, 0);
            splitee_policy_observe(p, &ob);
        }
        cr_assert_eq(splitee_policy_best_arm(p), 2, "%s", splitee_policy_kind_name(kinds[k]));
        if (kinds[k] == SPLITEE_POLICY_KIND_SPLITEE)
            cr_assert_gt(splitee_policy_count(p, 2), 0.8 * N);
        splitee_policy_free(p);
    }
    gsl_rng_free(r);
    free(rows);
}

/* Runs `kind` for `rounds` rounds with a generator seeded `seed`, writing
 * the arms played into seq. */
static void run_seeded(splitee_policy_kind kind, unsigned long seed, int rounds, int *seq)
{
    splitee_reward rw = make_rw(12, 0.8, 0.05, 0.3);
    splitee_policy *p = make_policy(kind, &rw, SPLITEE_SIDE_INFO_HONEST);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937), *rows = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, seed);
    double row[MAXA];
    for (int t = 0; t < rounds; t++) {
        gen_row(rows, 12, row);
        seq[t] = splitee_policy_choose(p, r);
        splitee_obs ob = make_obs(&rw, seq[t], row, 0);
        splitee_policy_observe(p, &ob);
    }
    gsl_rng_free(r);
    gsl_rng_free(rows);
    splitee_policy_free(p);
}

Test(bandit, randomised_policies_deterministic_per_seed)
{
    static const splitee_policy_kind kinds[] = {
        SPLITEE_POLICY_KIND_RANDOM, SPLITEE_POLICY_KIND_EPSILON_GREEDY, SPLITEE_POLICY_KIND_THOMPSON };
    static int a[2000], b[2000], c[2000];
    for (int k = 0; k < 3; k++) {
        run_seeded(kinds[k], 11, 2000, a);
        run_seeded(kinds[k], 11, 2000, b);
        run_seeded(kinds[k], 12, 2000, c);
        cr_assert_arr_eq(a, b, sizeof a, "%s", splitee_policy_kind_name(kinds[k]));
        cr_assert(memcmp(a, c, sizeof a) != 0, "%s ignores the seed",
                  splitee_policy_kind_name(kinds[k]));
    }
}

Test(bandit, baselines)
{
    splitee_reward rw = make_rw(12, 0.8, 0.05, 0.3);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937), *ref = gsl_rng_alloc(gsl_rng_mt19937);
    splitee_policy *fin = make_policy(SPLITEE_POLICY_KIND_FINAL, &rw, 0);
    splitee_policy *fix = make_policy(SPLITEE_POLICY_KIND_FIXED, &rw, 0);   /* fixed_arm 6 */
    splitee_policy *ora = make_policy(SPLITEE_POLICY_KIND_ORACLE, &rw, 0);
    splitee_policy *eet = make_policy(SPLITEE_POLICY_KIND_EE_THRESHOLD, &rw, 0);
    splitee_policy *rnd = make_policy(SPLITEE_POLICY_KIND_RANDOM, &rw, 0);
    double row[MAXA];
    int seen[12] = { 0 };
    for (int t = 0; t < 3000; t++) {
        gen_row(r, 12, row);
        cr_assert_eq(splitee_policy_choose(fin, NULL), 11);
        cr_assert_eq(splitee_policy_choose(fix, NULL), 6);
        cr_assert_eq(splitee_policy_choose(ora, NULL), 6);
        cr_assert_eq(splitee_policy_choose(eet, NULL), 11);
        int a = splitee_policy_choose(rnd, ref);
        seen[a]++;
        splitee_obs ob = make_obs(&rw, a, row, 0);
        splitee_policy_observe(rnd, &ob);
        ob = make_obs(&rw, 6, row, 0);
        splitee_policy_observe(fix, &ob);
    }
    for (int a = 0; a < 12; a++)
        cr_assert_gt(seen[a], 150, "random arm %d drawn %d times", a, seen[a]);
    cr_assert_eq(splitee_policy_count(fix, 6), 3000);
    cr_assert_eq(splitee_policy_best_arm(fix), 6);
    cr_assert_eq(splitee_policy_rounds(rnd), 3000);
    /* random draws exactly gsl_rng_uniform_int */
    gsl_rng_set(r, 5);
    gsl_rng_set(ref, 5);
    for (int t = 0; t < 100; t++)
        cr_assert_eq(splitee_policy_choose(rnd, r), (int)gsl_rng_uniform_int(ref, 12));
    splitee_policy_free(fin);
    splitee_policy_free(fix);
    splitee_policy_free(ora);
    splitee_policy_free(eet);
    splitee_policy_free(rnd);
    gsl_rng_free(r);
    gsl_rng_free(ref);
}

Test(bandit, best_arm_and_accessors)
{
    splitee_reward rw = make_rw(4, 0.8, 0.1, 0.3);
    splitee_policy *p = make_policy(SPLITEE_POLICY_KIND_SPLITEE, &rw, 0);
    cr_assert_eq(splitee_policy_best_arm(p), 0);   /* nothing observed */
    cr_assert_eq(splitee_policy_arms(p), 4);
    splitee_policy_seed_arm(p, 2, -0.5);
    cr_assert_eq(splitee_policy_best_arm(p), 2);   /* unobserved zeros do not count */
    splitee_policy_seed_arm(p, 1, 0.3);
    splitee_policy_seed_arm(p, 3, 0.3);
    cr_assert_eq(splitee_policy_best_arm(p), 1);   /* tie -> lowest */
    cr_assert(isnan(splitee_policy_mean(p, 4)));
    cr_assert(isnan(splitee_policy_count(p, -1)));
    cr_assert_eq(splitee_policy_mean(p, 0), 0.0);
    splitee_policy_free(p);
}

Test(bandit, reset_restores_fresh_state)
{
    static int a[600], b[600];
    splitee_reward rw = make_rw(12, 0.8, 0.05, 0.3);
    for (int kind = 0; kind < SPLITEE_POLICY_KIND_COUNT; kind++) {
        splitee_policy *p = make_policy((splitee_policy_kind)kind, &rw, 0);
        for (int pass = 0; pass < 2; pass++) {
            gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937), *rows = gsl_rng_alloc(gsl_rng_mt19937);
            double row[MAXA];
            int *seq = pass ? b : a;
            for (int t = 0; t < 600; t++) {
                gen_row(rows, 12, row);
                seq[t] = splitee_policy_choose(p, r);
                splitee_obs ob = make_obs(&rw, seq[t], row, 0);
                splitee_policy_observe(p, &ob);
            }
            gsl_rng_free(r);
            gsl_rng_free(rows);
            splitee_policy_reset(p);
            cr_assert_eq(splitee_policy_rounds(p), 0);
            cr_assert_eq(splitee_policy_count(p, 0), 0);
        }
        cr_assert_arr_eq(a, b, sizeof a, "%s", splitee_policy_kind_name(kind));
        splitee_policy_free(p);
    }
}

/* ---- save / load ------------------------------------------------------ */

Test(bandit, save_load_round_trip)
{
    splitee_reward rw = make_rw(12, 0.8, 0.05, 0.3);
    for (int kind = 0; kind < SPLITEE_POLICY_KIND_COUNT; kind++) {
        splitee_policy *p = make_policy((splitee_policy_kind)kind, &rw, 0);
        splitee_policy *q = make_policy((splitee_policy_kind)kind, &rw, 0);
        gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937), *rows = gsl_rng_alloc(gsl_rng_mt19937);
        double row[MAXA];
        for (int t = 0; t < 700; t++) {
            gen_row(rows, 12, row);
            splitee_obs ob = make_obs(&rw, splitee_policy_choose(p, r), row, 0);
            splitee_policy_observe(p, &ob);
        }
        char *text = splitee_policy_save(p);
        cr_assert_not_null(text);
        splitee_error err;
        cr_assert_eq(splitee_policy_restore(q, text, &err), 0, "%s", err.msg);
        char *again = splitee_policy_save(q);
        cr_assert_str_eq(again, text);
        cr_assert_eq(splitee_policy_rounds(q), 700);
        gsl_rng *r2 = gsl_rng_clone(r);
        for (int t = 0; t < 500; t++) {
            gen_row(rows, 12, row);
            int a = splitee_policy_choose(p, r), b = splitee_policy_choose(q, r2);
            cr_assert_eq(a, b, "%s round %d", splitee_policy_kind_name(kind), t);
            splitee_obs ob = make_obs(&rw, a, row, 0);
            splitee_policy_observe(p, &ob);
            splitee_policy_observe(q, &ob);
        }
        free(text);
        free(again);
        gsl_rng_free(r);
        gsl_rng_free(r2);
        gsl_rng_free(rows);
        splitee_policy_free(p);
        splitee_policy_free(q);
    }
}

Test(bandit, load_failures_leave_policy_unchanged)
{
    static const struct { const char *json; int rc; } cases[] = {
        { "{\"kind\":\"splitee\",\"arms\":3,", SPLITEE_ERR_FORMAT },
        { "", SPLITEE_ERR_FORMAT },
        { "[1,2,3]", SPLITEE_ERR_FORMAT },
        { "{\"arms\":3,\"rounds\":4,\"n\":[1,1,2],\"sum\":[0,0,0],\"sumsq\":[0,0,0]}", SPLITEE_ERR_FORMAT },
        { "{\"kind\":7,\"arms\":3,\"rounds\":4,\"n\":[1,1,2],\"sum\":[0,0,0],\"sumsq\":[0,0,0]}", SPLITEE_ERR_FORMAT },
        { "{\"kind\":\"splitee\",\"rounds\":4,\"n\":[1,1,2],\"sum\":[0,0,0],\"sumsq\":[0,0,0]}", SPLITEE_ERR_FORMAT },
        { "{\"kind\":\"splitee\",\"arms\":3,\"n\":[1,1,2],\"sum\":[0,0,0],\"sumsq\":[0,0,0]}", SPLITEE_ERR_FORMAT },
        { "{\"kind\":\"splitee\",\"arms\":3,\"rounds\":4,\"sum\":[0,0,0],\"sumsq\":[0,0,0]}", SPLITEE_ERR_FORMAT },
        { "{\"kind\":\"splitee\",\"arms\":3,\"rounds\":4,\"n\":[1,1,2],\"sumsq\":[0,0,0]}", SPLITEE_ERR_FORMAT },
        { "{\"kind\":\"splitee\",\"arms\":3,\"rounds\":4,\"n\":[1,1,2],\"sum\":[0,0,0]}", SPLITEE_ERR_FORMAT },
        { "{\"kind\":\"thompson\",\"arms\":3,\"rounds\":4,\"n\":[1,1,2],\"sum\":[0,0,0],\"sumsq\":[0,0,0]}", SPLITEE_ERR_ARG },
        { "{\"kind\":\"splitee\",\"arms\":4,\"rounds\":4,\"n\":[1,1,2,0],\"sum\":[0,0,0,0],\"sumsq\":[0,0,0,0]}", SPLITEE_ERR_ARG },
        { "{\"kind\":\"splitee\",\"arms\":3,\"rounds\":4,\"n\":[1,1],\"sum\":[0,0,0],\"sumsq\":[0,0,0]}", SPLITEE_ERR_FORMAT },
        { "{\"kind\":\"splitee\",\"arms\":3,\"rounds\":4,\"n\":[1,-1,2],\"sum\":[0,0,0],\"sumsq\":[0,0,0]}", SPLITEE_ERR_FORMAT },
        { "{\"kind\":\"splitee\",\"arms\":3,\"rounds\":4,\"n\":[1,1.5,2],\"sum\":[0,0,0],\"sumsq\":[0,0,0]}", SPLITEE_ERR_FORMAT },
        { "{\"kind\":\"splitee\",\"arms\":3,\"rounds\":4,\"n\":[1,1,2],\"sum\":[0,1e999,0],\"sumsq\":[0,0,0]}", SPLITEE_ERR_FORMAT },
        { "{\"kind\":\"splitee\",\"arms\":3,\"rounds\":4,\"n\":[1,1,2],\"sum\":[0,\"x\",0],\"sumsq\":[0,0,0]}", SPLITEE_ERR_FORMAT },
        { "{\"kind\":\"splitee\",\"arms\":3,\"rounds\":4,\"n\":[1,1,2],\"sum\":[0,null,0],\"sumsq\":[0,0,0]}", SPLITEE_ERR_FORMAT },
        { "{\"kind\":\"splitee\",\"arms\":3,\"rounds\":4,\"n\":[1,1,2],\"sum\":[0,0,0],\"sumsq\":[0,-1,0]}", SPLITEE_ERR_FORMAT },
        { "{\"kind\":\"splitee\",\"arms\":3,\"rounds\":-4,\"n\":[1,1,2],\"sum\":[0,0,0],\"sumsq\":[0,0,0]}", SPLITEE_ERR_FORMAT },
        { "{\"kind\":\"splitee\",\"arms\":3,\"rounds\":4.5,\"n\":[1,1,2],\"sum\":[0,0,0],\"sumsq\":[0,0,0]}", SPLITEE_ERR_FORMAT },
        { "{\"kind\":\"splitee\",\"arms\":3,\"rounds\":1e999,\"n\":[1,1,2],\"sum\":[0,0,0],\"sumsq\":[0,0,0]}", SPLITEE_ERR_FORMAT },
        { "{\"kind\":\"splitee\",\"arms\":3,\"rounds\":4,\"n\":[1,0,2],\"sum\":[0,0.5,0],\"sumsq\":[0,0,0]}", SPLITEE_ERR_FORMAT },
        { "{\"kind\":\"splitee\",\"arms\":3,\"rounds\":4,\"n\":{\"a\":1},\"sum\":[0,0,0],\"sumsq\":[0,0,0]}", SPLITEE_ERR_FORMAT },
    };
    splitee_reward rw = make_rw(3, 0.8, 0.1, 0.3);
    splitee_policy *p = make_policy(SPLITEE_POLICY_KIND_SPLITEE, &rw, 0);
    for (int t = 0; t < 4; t++) {
        splitee_obs ob = make_obs(&rw, splitee_policy_choose(p, NULL), hand_row, 0);
        splitee_policy_observe(p, &ob);
    }
    char *before = splitee_policy_save(p);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        splitee_error err = { 0, "" };
        int rc = splitee_policy_restore(p, cases[i].json, &err);
        cr_assert_eq(rc, cases[i].rc, "case %zu: rc %d (%s)", i, rc, err.msg);
        cr_assert_eq(err.status, rc);
        cr_assert(err.msg[0] && !strchr(err.msg, '\n'), "case %zu: message '%s'", i, err.msg);
        char *after = splitee_policy_save(p);
        cr_assert_str_eq(after, before, "case %zu changed the policy", i);
        free(after);
    }
    cr_assert_eq(splitee_policy_restore(p, NULL, NULL), SPLITEE_ERR_ARG);
    /* parameters are optional; a minimal valid state loads */
    splitee_error err;
    cr_assert_eq(splitee_policy_restore(p, "{\"kind\":\"splitee\",\"arms\":3,\"rounds\":2,"
                                        "\"n\":[1,0,1],\"sum\":[0.5,0,0.25],\"sumsq\":[0.25,0,0.0625]}",
                                     &err), 0, "%s", err.msg);
    cr_assert_eq(splitee_policy_rounds(p), 2);
    cr_assert_eq(splitee_policy_mean(p, 2), 0.25);
    cr_assert_eq(splitee_policy_choose(p, NULL), 1);   /* untried again */
    free(before);
    splitee_policy_free(p);
}

/* ---- names and arguments ---------------------------------------------- */

/* The listing help texts are generated from: every kind, its name parses
 * back to it (fixed as "fixed:K"), a description, and only the oracle needs
 * hindsight. */
Test(bandit, kind_info_lists_every_policy)
{
    for (int k = 0; k < SPLITEE_POLICY_KIND_COUNT; k++) {
        const splitee_policy_info *in = splitee_policy_kind_info((splitee_policy_kind)k);
        cr_assert(in && in->name && in->description && in->description[0], "kind %d", k);
        splitee_policy_config pc;
        splitee_policy_config_default(&pc);
        const char *name = k == SPLITEE_POLICY_KIND_FIXED ? "fixed:2" : in->name;
        cr_assert_eq(splitee_policy_parse(name, &pc), 0, "%s", name);
        cr_assert_eq((int)pc.kind, k, "%s", name);
        cr_assert_str_eq(in->name, splitee_policy_kind_name((splitee_policy_kind)k));
        if (k == SPLITEE_POLICY_KIND_FIXED)
            cr_assert_str_eq(in->spelling, "fixed:K");
        else
            cr_assert_null(in->spelling, "%s", in->name);
        cr_assert_eq(in->hindsight, k == SPLITEE_POLICY_KIND_ORACLE, "%s", in->name);
    }
    cr_assert_null(splitee_policy_kind_info(SPLITEE_POLICY_KIND_COUNT));
    cr_assert_null(splitee_policy_kind_info((splitee_policy_kind)-1));
}

Test(bandit, parse_names)
{
    splitee_policy_config pc;
    splitee_policy_config_default(&pc);
    for (int k = 0; k < SPLITEE_POLICY_KIND_COUNT; k++) {
        const char *name = splitee_policy_kind_name((splitee_policy_kind)k);
        if (k == SPLITEE_POLICY_KIND_FIXED) {
            cr_assert_str_eq(name, "fixed");
            continue;
        }
        pc.kind = SPLITEE_POLICY_KIND_FIXED;
        cr_assert_eq(splitee_policy_parse(name, &pc), 0, "%s", name);
        cr_assert_eq((int)pc.kind, k, "%s", name);
    }
    static const char *names[] = { "splitee", "splitee-s", "final", "random", "oracle",
        "ee-threshold", "epsilon-greedy", "thompson", "kl-ucb", "ucb-v" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        cr_assert_eq(splitee_policy_parse(names[i], &pc), 0, "%s", names[i]);
    cr_assert_eq(splitee_policy_parse("fixed:3", &pc), 0);
    cr_assert_eq(pc.kind, SPLITEE_POLICY_KIND_FIXED);
    cr_assert_eq(pc.fixed_arm, 2);
    static const char *bad[] = { "fixed:0", "fixed:", "fixed", "fixed:-1", "fixed:3x",
        "fixed: 3", "fixed:+3", "fixed:99999999999999999999", "bogus", "", "SPLITEE",
        "splitee ", "kl_ucb" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pc.kind = SPLITEE_POLICY_KIND_THOMPSON;
        pc.fixed_arm = 5;
        cr_assert_eq(splitee_policy_parse(bad[i], &pc), SPLITEE_ERR_ARG, "'%s'", bad[i]);
        cr_assert(pc.kind == SPLITEE_POLICY_KIND_THOMPSON && pc.fixed_arm == 5, "'%s'", bad[i]);
    }
    cr_assert_str_eq(splitee_policy_kind_name(SPLITEE_POLICY_KIND_COUNT), "unknown");
    /* "fixed:13" parses, but a 12-layer network has no layer 13 */
    splitee_reward rw = make_rw(12, 0.8, 0.1, 0.3);
    splitee_policy *p;
    splitee_error err;
    cr_assert_eq(splitee_policy_parse("fixed:13", &pc), 0);
    cr_assert_eq(splitee_policy_create(&pc, &rw, &p, &err), SPLITEE_ERR_ARG);
    cr_assert_null(p);
    cr_assert(strstr(err.msg, "13") != NULL, "%s", err.msg);
    cr_assert_eq(splitee_policy_parse("fixed:12", &pc), 0);
    cr_assert_eq(splitee_policy_create(&pc, &rw, &p, &err), 0);
    cr_assert_eq(splitee_policy_choose(p, NULL), 11);
    splitee_policy_free(p);
}

Test(bandit, create_rejects_bad_params)
{
    splitee_reward rw = make_rw(12, 0.8, 0.1, 0.3);
    splitee_policy_config good;
    splitee_policy_config_default(&good);
    splitee_policy *p = (splitee_policy *)&good;   /* must be reset to NULL */
    splitee_error err;
    cr_assert_eq(splitee_policy_create(NULL, &rw, &p, &err), SPLITEE_ERR_ARG);
    cr_assert_null(p);
    cr_assert_eq(splitee_policy_create(&good, NULL, &p, &err), SPLITEE_ERR_ARG);
    cr_assert_eq(splitee_policy_create(&good, &rw, NULL, &err), SPLITEE_ERR_ARG);
    splitee_policy_config c[14];
    for (int i = 0; i < 14; i++)
        c[i] = good;
    c[0].kind = (splitee_policy_kind)-1;
    c[1].kind = SPLITEE_POLICY_KIND_COUNT;
    c[2].beta = -1;
    c[3].beta = NAN;
    c[4].beta = INFINITY;
    c[5].epsilon = -0.1;
    c[6].epsilon = 1.1;
    c[7].epsilon = NAN;
    c[8].prior_sd = -1;
    c[9].prior_sd = NAN;
    c[10].side_info = (splitee_side_info)2;
    c[11].kind = SPLITEE_POLICY_KIND_ORACLE;
    c[11].fixed_arm = -1;
    c[12].kind = SPLITEE_POLICY_KIND_FIXED;
    c[12].fixed_arm = 12;
    c[13].kind = SPLITEE_POLICY_KIND_FIXED;
    c[13].fixed_arm = 11;   /* the one valid case */
    for (int i = 0; i < 14; i++) {
        int rc = splitee_policy_create(&c[i], &rw, &p, &err);
        if (i == 13) {
            cr_assert_eq(rc, 0, "%s", err.msg);
            splitee_policy_free(p);
            continue;
        }
        cr_assert_eq(rc, SPLITEE_ERR_ARG, "case %d", i);
        cr_assert_null(p);
        cr_assert(err.msg[0] && !strchr(err.msg, '\n'), "case %d", i);
    }
    splitee_reward bad = rw;
    bad.arms = 0;
    cr_assert_eq(splitee_policy_create(&good, &bad, &p, &err), SPLITEE_ERR_ARG);
    bad = rw;
    bad.gamma[3] = NAN;
    cr_assert_eq(splitee_policy_create(&good, &bad, &p, &err), SPLITEE_ERR_ARG);
}

Test(bandit, free_null_and_bad_observations)
{
    splitee_policy_free(NULL);
    splitee_reward rw = make_rw(3, 0.8, 0.1, 0.3);
    splitee_policy *p = make_policy(SPLITEE_POLICY_KIND_SPLITEE_S, &rw, 0);
    splitee_obs ob = make_obs(&rw, 3, hand_row, 0);   /* arm out of range */
    splitee_policy_observe(p, &ob);
    ob.arm = -1;
    splitee_policy_observe(p, &ob);
    splitee_policy_observe(p, NULL);
    cr_assert_eq(splitee_policy_rounds(p), 0);
    splitee_policy_free(p);
}

/* Every kind describes itself (bandit.h's splitee_policy_info): a name that
 * parses back to the kind, a summary, and a params mask that is honest --
 * changing any config field the kind does not claim to read leaves its
 * 400 choices on a fixed stream unchanged, and the claimed ones are fields
 * that exist. */
Test(bandit, kind_info_is_complete_and_honest)
{
    splitee_reward rw = make_rw(6, 0.8, 0.1, 0.3);
    for (int k = 0; k < SPLITEE_POLICY_KIND_COUNT; k++) {
        const splitee_policy_info *in = splitee_policy_kind_info((splitee_policy_kind)k);
        cr_assert_not_null(in, "kind %d", k);
        cr_assert(in->name && in->name[0] && in->description && in->description[0], "kind %d", k);
        cr_assert_str_eq(splitee_policy_kind_name((splitee_policy_kind)k), in->name);
        cr_assert_eq(in->params & ~0xffu, 0, "%s: unknown param bits", in->name);
        splitee_policy_config base;
        splitee_policy_config_default(&base);
        char spelled[64];
        base.kind = (splitee_policy_kind)k;
        base.fixed_arm = 2;
        splitee_policy_display_name(&base, spelled, sizeof spelled);
        splitee_policy_config parsed;
        splitee_policy_config_default(&parsed);
        cr_assert_eq(splitee_policy_parse(spelled, &parsed), 0, "%s", spelled);
        cr_assert_eq(parsed.kind, k, "%s", spelled);
        /* the choices with every unclaimed field perturbed */
        splitee_policy_config other = base;
        if (!(in->params & SPLITEE_POLICY_PARAM_BETA)) other.beta = 3.5;
        if (!(in->params & SPLITEE_POLICY_PARAM_EPSILON)) other.epsilon = 0.9;
        if (!(in->params & SPLITEE_POLICY_PARAM_PRIOR_SD)) other.prior_sd = 4.0;
        if (!(in->params & SPLITEE_POLICY_PARAM_LAYER) && !in->hindsight) other.fixed_arm = 4;
        if (!(in->params & SPLITEE_POLICY_PARAM_SIDE_INFO)) other.side_info = SPLITEE_SIDE_INFO_REFERENCE;
        if (!(in->params & SPLITEE_POLICY_PARAM_WINDOW)) other.window = 7;
        if (!(in->params & SPLITEE_POLICY_PARAM_DISCOUNT)) other.discount = 0.5;
        static const double grid3[] = { 0.6, 0.7, 0.9 };
        if (!(in->params & SPLITEE_POLICY_PARAM_ALPHA_GRID)) {
            other.alpha_grid = grid3;
            other.alpha_grid_n = 3;
        }
        splitee_policy *p1, *p2;
        splitee_error err;
        cr_assert_eq(splitee_policy_create(&base, &rw, &p1, &err), 0, "%s: %s", in->name, err.msg);
        cr_assert_eq(splitee_policy_create(&other, &rw, &p2, &err), 0, "%s: %s", in->name, err.msg);
        gsl_rng *rows = gsl_rng_alloc(gsl_rng_mt19937), *r1 = gsl_rng_alloc(gsl_rng_mt19937),
                *r2 = gsl_rng_alloc(gsl_rng_mt19937);
        gsl_rng_set(rows, 11);
        gsl_rng_set(r1, 5);
        gsl_rng_set(r2, 5);
        double row[MAXA];
        for (int t = 0; t < 400; t++) {
            gen_row(rows, rw.arms, row);
            int a1 = splitee_policy_choose(p1, r1), a2 = splitee_policy_choose(p2, r2);
            cr_assert_eq(a1, a2, "%s: round %d: an unclaimed parameter changed the choice", in->name, t);
            splitee_obs o1 = make_obs(&rw, a1, row, 0);
            splitee_policy_observe(p1, &o1);
            splitee_policy_observe(p2, &o1);
        }
        gsl_rng_free(rows);
        gsl_rng_free(r1);
        gsl_rng_free(r2);
        splitee_policy_free(p1);
        splitee_policy_free(p2);
    }
    cr_assert_null(splitee_policy_kind_info(SPLITEE_POLICY_KIND_COUNT));
    cr_assert_null(splitee_policy_kind_info((splitee_policy_kind)-1));
}

/* ---- other exit rules ---------------------------------------------------- */

/* A reward model over `arms` arms with exit rule `kind` (patience 2,
 * agreement sum 1.4). */
static splitee_reward make_rule_rw(int arms, splitee_exit_kind kind)
{
    splitee_reward_config rc;
    splitee_reward_config_default(&rc);
    rc.exit.kind = kind;
    rc.exit.patience = 2;
    rc.alpha = kind == SPLITEE_EXIT_KIND_AGREEMENT ? 1.4 : 0.8;
    rc.lambda = 0.4 / arms;
    splitee_reward rw;
    splitee_error err;
    cr_assert_eq(splitee_reward_init(&rw, &rc, arms, &err), 0, "%s", err.msg);
    return rw;
}

/* Predictions that agree along runs, so that patience and agreement fire. */
static void gen_pred(gsl_rng *r, int arms, int32_t *pred)
{
    int32_t y = (int32_t)gsl_rng_uniform_int(r, 3);
    for (int j = 0; j < arms; j++) {
        if (gsl_rng_uniform(r) < 0.3)
            y = (int32_t)gsl_rng_uniform_int(r, 3);
        pred[j] = y;
    }
}

/* SplitEE-S under a rule that reads predictions, against DESIGN.md's rule
 * written with the rule's naive decision: lower arm j is credited when the
 * rule accepts exit j, or C_L was known, or in reference mode. */
static void check_rule_side_against_naive(splitee_exit_kind kind, splitee_side_info side)
{
    const int arms = 10, last = arms - 1;
    splitee_reward rw = make_rule_rw(arms, kind);
    splitee_policy *p = make_policy(SPLITEE_POLICY_KIND_SPLITEE_S, &rw, side);
    naive nv = { .arms = arms };
    gsl_rng *rows = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rows, 17);
    double row[MAXA];
    int32_t pred[MAXA];
    long credited_lower = 0;
    for (int t = 0; t < 4000; t++) {
        gen_row(rows, arms, row);
        gen_pred(rows, arms, pred);
        int want = naive_ucb1(&nv, 1.0), got = splitee_policy_choose(p, NULL);
        cr_assert_eq(got, want, "round %d", t);
        int off = got < last && !splitee_exit_accepts(&rw.exit, got, row, pred);
        splitee_obs ob = { got, row, off, off || got == last,
                           off || got == last || side ? row[last] : NAN, pred };
        splitee_policy_observe(p, &ob);
        for (int j = 0; j < got; j++) {
            /* the rule's decision at j from its definition */
            int acc;
            if (kind == SPLITEE_EXIT_KIND_PATIENCE) {
                acc = j >= 2 && pred[j - 2] == pred[j] && pred[j - 1] == pred[j];
            } else {
                int s = j;
                while (s > 0 && pred[s - 1] == pred[j])
                    s--;
                double sum = 0;
                for (int k = s; k <= j; k++)
                    sum += row[k];
                acc = sum >= 1.4;
            }
            if (acc || ob.final_known || side) {
                double r = acc ? row[j] - rw.mu * rw.gamma[j]
                               : row[last] - rw.mu * rw.offload[j] - rw.mu * rw.gamma[j];
                naive_add(&nv, j, r);
                credited_lower++;
            }
        }
        naive_add(&nv, got, splitee_reward_evaluate(&rw, got, row, pred).reward);
        nv.t++;
    }
    cr_assert_gt(credited_lower, 1000);
    for (int a = 0; a < arms; a++) {
        cr_assert_eq(splitee_policy_count(p, a), (double)nv.n[a], "arm %d", a);
        if (nv.n[a])
            cr_assert_eq(splitee_policy_mean(p, a), nv.sum[a] / nv.n[a], "arm %d", a);
    }
    gsl_rng_free(rows);
    splitee_policy_free(p);
}

Test(bandit, side_observations_follow_the_exit_rule)
{
    check_rule_side_against_naive(SPLITEE_EXIT_KIND_PATIENCE, SPLITEE_SIDE_INFO_HONEST);
    check_rule_side_against_naive(SPLITEE_EXIT_KIND_PATIENCE, SPLITEE_SIDE_INFO_REFERENCE);
    check_rule_side_against_naive(SPLITEE_EXIT_KIND_AGREEMENT, SPLITEE_SIDE_INFO_HONEST);
    check_rule_side_against_naive(SPLITEE_EXIT_KIND_AGREEMENT, SPLITEE_SIDE_INFO_REFERENCE);
}

Test(bandit, played_arm_earns_what_happened)
{
    /* patience 2: exits 0..2 all predict 5, so exit 2 is accepted; without
     * predictions the lower arms cannot be judged and are not credited,
     * but the played arm still earns what the device reports */
    splitee_reward rw = make_rule_rw(4, SPLITEE_EXIT_KIND_PATIENCE);
    const double row[4] = { 0.3, 0.4, 0.5, 0.9 };
    const int32_t pred[4] = { 5, 5, 5, 1 };
    splitee_policy *p = make_policy(SPLITEE_POLICY_KIND_SPLITEE_S, &rw, SPLITEE_SIDE_INFO_HONEST);
    splitee_obs ob = { 2, row, 0, 0, NAN, pred };
    splitee_policy_observe(p, &ob);
    cr_assert_eq(splitee_policy_mean(p, 2), 0.5 - rw.mu * rw.gamma[2]);
    cr_assert_eq(splitee_policy_count(p, 0), 0);   /* exit 0 was not accepted, C_L unknown */
    ob.pred = NULL;
    splitee_policy_observe(p, &ob);
    cr_assert_eq(splitee_policy_count(p, 2), 2);
    cr_assert_eq(splitee_policy_count(p, 1), 0);
    /* a device that fell back reports an offload: the arm earns C_L - mu*o -
     * mu*gamma even where the rule, given these confidences, would exit */
    splitee_reward thr = make_rw(4, 0.2, 0.1, 0.3);
    splitee_policy *q = make_policy(SPLITEE_POLICY_KIND_SPLITEE, &thr, SPLITEE_SIDE_INFO_HONEST);
    splitee_obs off = { 1, row, 1, 1, 0.9, NULL };
    splitee_policy_observe(q, &off);
    cr_assert_eq(splitee_policy_mean(q, 1), 0.9 - thr.mu * thr.offload[1] - thr.mu * thr.gamma[1]);
    splitee_policy_free(p);
    splitee_policy_free(q);
}

Test(bandit, only_ee_threshold_is_an_early_exit_deployment)
{
    for (int k = 0; k < SPLITEE_POLICY_KIND_COUNT; k++)
        cr_assert_eq(splitee_policy_kind_info((splitee_policy_kind)k)->early_exit,
                     k == SPLITEE_POLICY_KIND_EE_THRESHOLD, "%s", splitee_policy_kind_name(k));
}

Test(bandit, create_refuses_a_hand_made_model_without_its_rule)
{
    splitee_reward rw = make_rw(4, 0.8, 0.1, 0.3);
    rw.exit.exits = 3;
    splitee_policy_config pc;
    splitee_policy_config_default(&pc);
    splitee_policy *p;
    splitee_error err;
    cr_assert_eq(splitee_policy_create(&pc, &rw, &p, &err), SPLITEE_ERR_ARG);
    cr_assert(strstr(err.msg, "exit rule"), "%s", err.msg);
}
