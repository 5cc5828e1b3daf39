/* test_risk.c -- risk control (risk.h): the Hoeffding-Bentkus p-value
 * against a direct binomial sum and Hoeffding term, its UCB against its
 * definition, the Waudby-Smith-Ramdas bound against a brute-force scan of
 * an independent K(mu), naive/CRC/LTT calibration by hand on small loss
 * matrices (fixed sequence stops at the first failure), the per-sample
 * risks of a hand-made table, the errors, and the guarantee: on a
 * synthetic table whose risk curve is known, over many seeded splits. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "splitee/risk.h"
#include "splitee/table.h"

/* Deterministic uniform numbers in [0, 1) (xorshift64*). */
static double unif(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return (double)((*s * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

Test(risk, grid_runs_from_one_down_to_zero_in_hundredths)
{
    cr_assert_eq(SPLITEE_RISK_GRID, 101);
    cr_assert_eq(splitee_risk_grid_value(0), 1.0);
    cr_assert_float_eq(splitee_risk_grid_value(37), 0.63, 1e-15);
    cr_assert_eq(splitee_risk_grid_value(100), 0.0);
    cr_assert(isnan(splitee_risk_grid_value(101)));
    cr_assert(isnan(splitee_risk_grid_value(-1)));
}

Test(risk, names_parse_back)
{
    for (int i = 0; i < SPLITEE_RISK_COUNT; i++) {
        splitee_risk_kind k;
        cr_assert_eq(splitee_risk_kind_parse(splitee_risk_kind_name(i), &k), 0);
        cr_assert_eq((int)k, i);
    }
    for (int i = 0; i < SPLITEE_CALIB_COUNT; i++) {
        splitee_calib_method m;
        cr_assert_eq(splitee_calib_method_parse(splitee_calib_method_name(i), &m), 0);
        cr_assert_eq((int)m, i);
    }
    splitee_calib_method m;
    cr_assert_eq(splitee_calib_method_parse("ucb", &m), SPLITEE_ERR_ARG);
    double lo, hi;
    splitee_risk_range(SPLITEE_RISK_BRIER_GAP, 0, &lo, &hi);
    cr_assert(lo == -2 && hi == 2);
    splitee_risk_range(SPLITEE_RISK_BRIER_GAP, 1, &lo, &hi);
    cr_assert(lo == 0 && hi == 2);
    splitee_risk_range(SPLITEE_RISK_PREDICTION_GAP, 0, &lo, &hi);
    cr_assert(lo == -1 && hi == 1);
    splitee_risk_range(SPLITEE_RISK_CONSISTENCY, 0, &lo, &hi);
    cr_assert(lo == 0 && hi == 1);
}

/* P(Bin(n, p) <= k) summed term by term in long double. */
static long double binom_cdf(int k, int n, double p)
{
    long double s = 0;
    for (int i = 0; i <= k && i <= n; i++) {
        long double lc = lgammal(n + 1.0L) - lgammal(i + 1.0L) - lgammal(n - i + 1.0L);
        s += expl(lc + i * logl(p) + (n - i) * log1pl(-p));
    }
    return s;
}

/* The HB p-value written out from its definition. */
static double ref_hb(double rhat, int n, double eps)
{
    double a = fmin(rhat, eps);
    double h = (a > 0 ? a * log(a / eps) : 0) + (a < 1 ? (1 - a) * log((1 - a) / (1 - eps)) : 0);
    double hoeff = exp(-n * h);
    int k = (int)ceil(n * rhat - 1e-9);
    double bent = (double)(M_E * binom_cdf(k, n, eps));
    double p = fmin(hoeff, bent);
    return p > 1 ? 1 : p;
}

Test(risk, hb_pvalue_matches_a_direct_binomial_sum_and_hoeffding_term)
{
    const int ns[] = { 1, 7, 50, 100, 333, 1000 };
    const double epss[] = { 0.01, 0.05, 0.1, 0.3, 0.5 };
    for (size_t a = 0; a < sizeof ns / sizeof *ns; a++)
        for (size_t b = 0; b < sizeof epss / sizeof *epss; b++)
            for (int k = 0; k <= ns[a]; k += ns[a] / 7 + 1) {
                double rhat = (double)k / ns[a];
                double got = splitee_risk_hb_pvalue(rhat, (size_t)ns[a], epss[b]);
                double want = ref_hb(rhat, ns[a], epss[b]);
                cr_assert(fabs(got - want) <= 1e-10 * fmax(1e-300, want) + 1e-300,
                          "n %d eps %g rhat %g: %.17g vs %.17g", ns[a], epss[b], rhat, got, want);
            }
    /* both terms bind somewhere: the binomial one for a zero risk,
     * Hoeffding's for a risk near eps */
    cr_assert_float_eq(splitee_risk_hb_pvalue(0, 100, 0.05), pow(0.95, 100), 1e-15);
    double h = exp(-100 * (0.04 * log(0.04 / 0.05) + 0.96 * log(0.96 / 0.95)));
    cr_assert_float_eq(splitee_risk_hb_pvalue(0.04, 100, 0.05), h, 1e-14);
    cr_assert(h < M_E * (double)binom_cdf(4, 100, 0.05));
}

Test(risk, hb_ucb_is_the_largest_risk_its_pvalue_does_not_reject)
{
    const double rhats[] = { 0, 0.02, 0.1, 0.37, 0.9 };
    const size_t ns[] = { 20, 100, 1000 };
    for (size_t a = 0; a < 5; a++)
        for (size_t b = 0; b < 3; b++) {
            double u = splitee_risk_hb_ucb(rhats[a], ns[b], 0.1);
            cr_assert(u >= rhats[a] && u <= 1);
            cr_assert_geq(splitee_risk_hb_pvalue(rhats[a], ns[b], u), 0.1);
            if (u + 1e-9 < 1)
                cr_assert_lt(splitee_risk_hb_pvalue(rhats[a], ns[b], u + 1e-9), 0.1);
        }
    cr_assert_eq(splitee_risk_hb_ucb(1, 10, 0.1), 1.0);
}

/* K(mu) of the WSR bound computed as the RCPS reference does, in arrays. */
static double ref_wsr_k(const double *x, int n, double delta, double mu)
{
    double *muhat = malloc(n * sizeof *muhat), *s2 = malloc(n * sizeof *s2);
    double cx = 0, cs = 0;
    for (int i = 0; i < n; i++) {
        cx += x[i];
        muhat[i] = (cx + 0.5) / (i + 2);
    }
    for (int i = 0; i < n; i++) {
        cs += (x[i] - muhat[i]) * (x[i] - muhat[i]);
        s2[i] = (cs + 0.25) / (i + 2);
    }
    for (int i = n - 1; i > 0; i--)
        s2[i] = s2[i - 1];
    s2[0] = 0.25;
    double c = 0, best = -INFINITY;
    for (int i = 0; i < n; i++) {
        double nu = fmin(sqrt(2 * log(1 / delta) / n / s2[i]), 1);
        c += log(1 - nu * (x[i] - mu));
        best = fmax(best, c);
    }
    free(muhat);
    free(s2);
    return best + log(delta);
}

Test(risk, wsr_bound_matches_a_brute_force_scan)
{
    uint64_t s = 7;
    const int ns[] = { 30, 100, 400 };
    const double ps[] = { 0.02, 0.1, 0.3 };
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) {
            int n = ns[a];
            double *x = malloc(n * sizeof *x);
            for (int i = 0; i < n; i++)
                x[i] = unif(&s) < ps[b] ? 1.0 : unif(&s) * 0.2; /* mixed, not 0-1 */
            double u = splitee_risk_wsr_ucb(x, NULL, n, 0, 1, 0.1);
            double scan = 1;
            for (int t = 0; t <= 100000; t++)
                if (ref_wsr_k(x, n, 0.1, t * 1e-5) >= 0) {
                    scan = t * 1e-5;
                    break;
                }
            cr_assert(fabs(u - scan) <= 1e-5, "n %d p %g: %g vs scan %g", n, ps[b], u, scan);
            for (double mu = 0.005; mu < 1; mu += 0.05)
                cr_assert_float_eq(splitee_risk_wsr_k(x, NULL, n, 0, 1, 0.1, mu),
                                   ref_wsr_k(x, n, 0.1, mu), 1e-9);
            /* rescaled losses in [-1, 1] give the same bound on the [0, 1] scale */
            double *y = malloc(n * sizeof *y);
            size_t *idx = malloc(n * sizeof *idx);
            for (int i = 0; i < n; i++) {
                y[n - 1 - i] = 2 * x[i] - 1;
                idx[i] = (size_t)(n - 1 - i);
            }
            cr_assert_float_eq(splitee_risk_wsr_ucb(y, idx, n, -1, 1, 0.1), u, 1e-9);
            free(x);
            free(y);
            free(idx);
        }
}

/* 4 grid rows x 5 samples. */
static const double LOSS[4][5] = {
    { 0, 0, 0, 0, 0 },   /* 0.0 */
    { 0, 1, 0, 0, 0 },   /* 0.2 */
    { 0, 1, 1, 0, 0 },   /* 0.4 */
    { 0, 0, 0, 0, 0 },   /* 0.0: passes, but after a failure */
};

static splitee_calib_result calib(splitee_calib_method m, double eps, double delta, int ngrid)
{
    splitee_calib_config cc = { .method = m, .epsilon = eps, .delta = delta };
    splitee_calib_result r;
    splitee_error err = { 0 };
    int st = splitee_risk_calibrate_losses(&LOSS[0][0], 5, NULL, 5, ngrid, 0, 1, &cc, &r, &err);
    cr_assert_eq(st, 0, "%s", err.msg);
    return r;
}

Test(risk, naive_and_crc_by_hand_stop_at_the_first_failure)
{
    splitee_calib_result r = calib(SPLITEE_CALIB_NAIVE, 0.3, 0.1, 4);
    cr_assert_eq(r.index, 1);   /* 0, 0.2 pass; 0.4 fails; row 3 never tested */
    cr_assert_eq(r.tested, 3);
    cr_assert_float_eq(r.risk, 0.2, 1e-15);
    cr_assert_float_eq(r.fail_risk, 0.4, 1e-15);
    cr_assert_float_eq(r.fail_stat, 0.4, 1e-15);
    cr_assert(isnan(r.threshold)); /* not the standard grid */
    r = calib(SPLITEE_CALIB_NAIVE, 0.5, 0.1, 4);
    cr_assert_eq(r.index, 3);
    cr_assert(isnan(r.fail_risk) && isnan(r.fail_stat));
    /* CRC: ((5 + 1) 0.3 - 1) / 5 = 0.16: only row 0 passes */
    r = calib(SPLITEE_CALIB_CRC, 0.3, 0.1, 4);
    cr_assert_eq(r.index, 0);
    cr_assert_float_eq(r.stat, 0.16, 1e-15);
    /* ((5 + 1) 0.5 - 1) / 5 = 0.4: rows 0..3 */
    r = calib(SPLITEE_CALIB_CRC, 0.5, 0.1, 4);
    cr_assert_eq(r.index, 3);
    /* LTT on five samples: p(0; 0.5) = 0.5^5 = 0.03125 <= 0.05; p(0.2; 0.5)
     * = min(exp(-5 h1(0.2, 0.5)), e P(Bin(5, .5) <= 1)) = min(0.3815, 0.5097) > 0.05 */
    r = calib(SPLITEE_CALIB_LTT, 0.5, 0.05, 4);
    cr_assert_eq(r.index, 0);
    cr_assert_float_eq(r.stat, 0.03125, 1e-15);
    cr_assert_float_eq(splitee_risk_hb_pvalue(0.2, 5, 0.5), exp(-5 * (0.2 * log(0.4) + 0.8 * log(1.6))),
                       1e-12);
    /* ucb-hb agrees with ltt here (the same p-value, inverted) */
    r = calib(SPLITEE_CALIB_UCB_HB, 0.5, 0.05, 4);
    cr_assert_eq(r.index, 0);
    cr_assert(r.stat <= 0.5);
}

Test(risk, calibration_through_an_index_reads_only_those_samples)
{
    splitee_calib_config cc = { .method = SPLITEE_CALIB_NAIVE, .epsilon = 0.1, .delta = 0.1 };
    size_t idx[3] = { 0, 3, 4 }; /* zero loss in every row */
    splitee_calib_result r;
    splitee_error err;
    cr_assert_eq(splitee_risk_calibrate_losses(&LOSS[0][0], 5, idx, 3, 4, 0, 1, &cc, &r, &err), 0);
    cr_assert_eq(r.index, 3);
    cr_assert_eq(r.risk, 0.0);
}

Test(risk, bad_arguments_are_one_line_errors)
{
    splitee_calib_result r;
    splitee_error err;
    splitee_calib_config cc = { .method = SPLITEE_CALIB_LTT, .epsilon = 0.1, .delta = 0.1 };
    cr_assert_eq(splitee_risk_calibrate_losses(&LOSS[0][0], 5, NULL, 5, 0, 0, 1, &cc, &r, &err),
                 SPLITEE_ERR_ARG);
    cr_assert_str_eq(err.msg, "calibrate: the threshold grid is empty");
    const double bad[] = { 0, 1, -0.1, 1.5, NAN };
    for (int i = 0; i < 5; i++) {
        cc.epsilon = bad[i];
        cr_assert_eq(splitee_risk_calibrate_losses(&LOSS[0][0], 5, NULL, 5, 4, 0, 1, &cc, &r, &err),
                     SPLITEE_ERR_VALUE);
        cr_assert(strstr(err.msg, "epsilon must be in (0, 1)"), "%s", err.msg);
        cc.epsilon = 0.1;
        cc.delta = bad[i];
        cr_assert_eq(splitee_risk_calibrate_losses(&LOSS[0][0], 5, NULL, 5, 4, 0, 1, &cc, &r, &err),
                     SPLITEE_ERR_VALUE);
        cr_assert(strstr(err.msg, "delta must be in (0, 1)"), "%s", err.msg);
        cc.delta = 0.1;
    }
    /* 5 samples: (0.9)^5 = 0.59 > 0.1; HB needs ln 0.1 / ln 0.9 = 21.85 -> 22 */
    cr_assert_eq(splitee_risk_calibrate_losses(&LOSS[0][0], 5, NULL, 5, 4, 0, 1, &cc, &r, &err),
                 SPLITEE_ERR_VALUE);
    cr_assert_str_eq(err.msg, "calibrate: 5 calibration samples are too small for ltt at epsilon 0.1, "
                              "delta 0.1 (Hoeffding-Bentkus needs at least 22)");
    double zeros[22] = { 0 };
    cr_assert_eq(splitee_risk_calibrate_losses(zeros, 22, NULL, 22, 1, 0, 1, &cc, &r, &err), 0);
    cr_assert_eq(r.index, 0);
    cr_assert_eq(splitee_risk_calibrate_losses(zeros, 21, NULL, 21, 1, 0, 1, &cc, &r, &err),
                 SPLITEE_ERR_VALUE);
    cc.method = SPLITEE_CALIB_UCB_HB;
    cr_assert_eq(splitee_risk_calibrate_losses(zeros, 21, NULL, 21, 1, 0, 1, &cc, &r, &err),
                 SPLITEE_ERR_VALUE);
    cr_assert_eq(splitee_risk_calibrate_losses(zeros, 22, NULL, 22, 1, 0, 1, &cc, &r, &err), 0);
    /* CRC with B = 1 at epsilon 0.1 needs (n + 1) 0.1 >= 1: n >= 9 */
    cc.method = SPLITEE_CALIB_CRC;
    cr_assert_eq(splitee_risk_calibrate_losses(zeros, 8, NULL, 8, 1, 0, 1, &cc, &r, &err),
                 SPLITEE_ERR_VALUE);
    cr_assert_str_eq(err.msg, "calibrate: 8 calibration samples are too small for crc at epsilon 0.1 "
                              "(loss bound 1 needs at least 9)");
    cr_assert_eq(splitee_risk_calibrate_losses(zeros, 9, NULL, 9, 1, 0, 1, &cc, &r, &err), 0);
    cc.method = SPLITEE_CALIB_UCB_WSR;
    cr_assert_eq(splitee_risk_calibrate_losses(zeros, 3, NULL, 3, 1, 0, 1, &cc, &r, &err),
                 SPLITEE_ERR_VALUE);
    cr_assert(strstr(err.msg, "too small for ucb-wsr"), "%s", err.msg);
    cc.method = SPLITEE_CALIB_NAIVE;
    cr_assert_eq(splitee_risk_calibrate_losses(zeros, 0, NULL, 0, 1, 0, 1, &cc, &r, &err),
                 SPLITEE_ERR_VALUE);
    cr_assert_str_eq(err.msg, "calibrate: no calibration samples");
}

/* A 2-exit, 3-class table of 3 samples, by hand. Confidences (max-softmax)
 * of exit 0: sample 0 high (0.97), sample 1 middling (0.58), sample 2 low. */
static splitee_table *hand_table(int labels)
{
    const double z[3][2][3] = {
        { { 4, 0, 0 }, { 0, 3, 0 } },     /* early 0, full 1 */
        { { 0, 1, 0 }, { 0, 2, 0 } },     /* early 1, full 1 */
        { { 0, 0, 0.1 }, { 0, 0, 2 } },   /* early 2, full 2 */
    };
    const int32_t y[3] = { 1, 0, 2 };
    splitee_table *t;
    splitee_error err;
    cr_assert_eq(splitee_table_from_logits("hand", &z[0][0][0], 3, 2, 3, labels ? y : NULL, &t, &err), 0);
    return t;
}

static double brier_ref(const double *z, int y)
{
    double m = fmax(z[0], fmax(z[1], z[2])), s = 0, b = 0;
    for (int c = 0; c < 3; c++)
        s += exp(z[c] - m);
    for (int c = 0; c < 3; c++)
        b += pow(exp(z[c] - m) / s - (c == y), 2);
    return b;
}

Test(risk, losses_of_a_hand_made_table)
{
    splitee_table *t = hand_table(1);
    splitee_risk_config rc;
    splitee_risk_config_default(&rc);
    splitee_risk *r;
    splitee_error err;
    double c0 = 1 / (1 + 2 * exp(-4.0)), c1 = exp(1.0) / (exp(1.0) + 2);
    int j_hi = 100 - (int)floor(c0 * 100);   /* the largest grid value <= c0 */
    int j_mid = 100 - (int)floor(c1 * 100);
    /* consistency: sample 0 disagrees once it exits early (lambda <= c0) */
    cr_assert_eq(splitee_risk_create(t, &rc, &r, &err), 0, "%s", err.msg);
    const double *L = splitee_risk_losses(r);
    const uint8_t *E = splitee_risk_exit_taken(r);
    cr_assert_eq(splitee_risk_samples(r), 3);
    cr_assert_eq(L[(j_hi - 1) * 3 + 0], 0.0);
    cr_assert_eq(E[(j_hi - 1) * 3 + 0], 1);
    cr_assert_eq(L[j_hi * 3 + 0], 1.0);
    cr_assert_eq(E[j_hi * 3 + 0], 0);
    cr_assert_eq(L[100 * 3 + 1], 0.0);    /* sample 1 agrees */
    cr_assert_eq(E[(j_mid - 1) * 3 + 1], 1);
    cr_assert_eq(E[j_mid * 3 + 1], 0);
    double me;
    cr_assert_float_eq(splitee_risk_mean(r, 100, NULL, 3, &me), 1.0 / 3, 1e-15);
    cr_assert_float_eq(me, 1.0, 1e-15);   /* at lambda 0 everyone exits at exit 1 (1-based) */
    cr_assert_float_eq(splitee_risk_mean(r, 0, NULL, 3, &me), 0.0, 1e-15);
    cr_assert_float_eq(me, 2.0, 1e-15);
    cr_assert_eq(splitee_risk_mean(r, -1, NULL, 3, &me), 0.0);
    cr_assert_eq(me, 2.0);
    splitee_risk_free(r);
    /* prediction gap at lambda 0: sample 0: 1 - 0 = 1; sample 1: early 1 is
     * wrong (y 0), full 1 wrong too: 0; sample 2: 0 */
    rc.risk = SPLITEE_RISK_PREDICTION_GAP;
    cr_assert_eq(splitee_risk_create(t, &rc, &r, &err), 0);
    L = splitee_risk_losses(r);
    cr_assert_eq(L[300], 1.0);
    cr_assert_eq(L[301], 0.0);
    cr_assert_eq(L[302], 0.0);
    splitee_risk_free(r);
    /* Brier gap at lambda 0, unclamped and clamped */
    const double *z = splitee_table_logits(t);
    const int32_t y[3] = { 1, 0, 2 };
    rc.risk = SPLITEE_RISK_BRIER_GAP;
    for (int clamp = 0; clamp < 2; clamp++) {
        rc.clamp = clamp;
        cr_assert_eq(splitee_risk_create(t, &rc, &r, &err), 0);
        L = splitee_risk_losses(r);
        for (int k = 0; k < 3; k++) {
            double want = brier_ref(z + k * 6, y[k]) - brier_ref(z + k * 6 + 3, y[k]);
            if (clamp && want < 0)
                want = 0;
            cr_assert_float_eq(L[300 + k], want, 1e-12, "sample %d clamp %d", k, clamp);
        }
        splitee_risk_free(r);
    }
    /* sample 2's early distribution is flatter: a negative gap, unclamped */
    cr_assert_lt(brier_ref(z + 12, 2) - brier_ref(z + 15, 2), 2.0);
    cr_assert_gt(brier_ref(z + 12, 2) - brier_ref(z + 15, 2), 0.0);
    splitee_table_free(t);
    t = hand_table(0);
    rc.risk = SPLITEE_RISK_PREDICTION_GAP;
    cr_assert_eq(splitee_risk_create(t, &rc, &r, &err), SPLITEE_ERR_ARG);
    cr_assert_str_eq(err.msg, "hand: the prediction-gap risk needs labels, the table has none");
    rc.risk = SPLITEE_RISK_CONSISTENCY;
    cr_assert_eq(splitee_risk_create(t, &rc, &r, &err), 0);
    splitee_risk_free(r);
    splitee_table_free(t);
}

/* A synthetic 2-exit, 2-class table with a known consistency risk curve:
 * exit 0's confidence c is uniform on (0.5, 1) and the last exit disagrees
 * with it with probability 1 - c, so R(lambda) = (1 - max(lambda, 0.5))^2. */
#define SYN_N 20000
static splitee_table *synthetic(void)
{
    double *z = malloc(SYN_N * 4 * sizeof *z);
    uint64_t s = 12345;
    for (int k = 0; k < SYN_N; k++) {
        double c = 0.5 + 0.5 * unif(&s), v = unif(&s);
        z[k * 4 + 0] = 0;
        z[k * 4 + 1] = log(c / (1 - c));
        int agree = v >= 1 - c;
        z[k * 4 + 2] = agree ? 0 : 3;
        z[k * 4 + 3] = agree ? 3 : 0;
    }
    splitee_table *t;
    splitee_error err;
    cr_assert_eq(splitee_table_from_logits("synthetic", z, SYN_N, 2, 2, NULL, &t, &err), 0);
    free(z);
    return t;
}

Test(risk, the_synthetic_table_has_its_known_risk_curve)
{
    splitee_table *t = synthetic();
    splitee_risk_config rc;
    splitee_risk_config_default(&rc);
    splitee_risk *r;
    splitee_error err;
    cr_assert_eq(splitee_risk_create(t, &rc, &r, &err), 0);
    for (int j = 0; j < SPLITEE_RISK_GRID; j++) {
        double lam = splitee_risk_grid_value(j), want = pow(1 - fmax(lam, 0.5), 2);
        /* binomial s.d. at most sqrt(0.25 / 20000) = 0.0035: 4 s.d. */
        cr_assert(fabs(splitee_risk_mean(r, j, NULL, SYN_N, NULL) - want) < 0.014, "lambda %g", lam);
    }
    splitee_risk_free(r);
    splitee_table_free(t);
}

/* Over SPLITS seeded splits with n_cal calibration samples: the share of
 * splits whose risk at lambda-hat on the whole table (the population the
 * calibration samples are drawn from) exceeds eps, and its mean. */
#define SPLITS 300
static void guarantee(splitee_calib_method m, double eps, size_t n_cal, double *share, double *mean)
{
    static splitee_risk *r;
    if (!r) {
        splitee_table *t = synthetic();
        splitee_risk_config rc;
        splitee_risk_config_default(&rc);
        splitee_error err;
        cr_assert_eq(splitee_risk_create(t, &rc, &r, &err), 0);
        splitee_table_free(t);
    }
    double pop[SPLITEE_RISK_GRID];
    for (int j = 0; j < SPLITEE_RISK_GRID; j++)
        pop[j] = splitee_risk_mean(r, j, NULL, SYN_N, NULL);
    splitee_calib_config cc = { .method = m, .epsilon = eps, .delta = 0.1 };
    splitee_risk_split *out = malloc(SPLITS * sizeof *out);
    splitee_error err;
    cr_assert_eq(splitee_risk_evaluate(r, &cc, n_cal, SPLITS, 99, out, &err), 0, "%s", err.msg);
    int over = 0;
    double sum = 0;
    for (int s = 0; s < SPLITS; s++) {
        double risk = out[s].cal.index < 0 ? 0 : pop[out[s].cal.index];
        over += risk > eps;
        sum += risk;
    }
    free(out);
    *share = (double)over / SPLITS;
    if (getenv("TEST_RISK_VERBOSE"))
        fprintf(stderr, "%s eps %g n_cal %zu: share over %g, mean risk %g\n", splitee_calib_method_name(m), eps,
                n_cal, (double)over / SPLITS, sum / SPLITS);
    *mean = sum / SPLITS;
}

/* delta = 0.1 over 300 splits: the binomial s.d. of the share is 0.017, so
 * "at most delta" is checked with a slack of 3 s.d., 0.05. */
Test(risk, ucb_and_ltt_exceed_epsilon_in_at_most_delta_of_splits, .timeout = 600)
{
    const splitee_calib_method ms[] = { SPLITEE_CALIB_UCB_HB, SPLITEE_CALIB_UCB_WSR, SPLITEE_CALIB_LTT };
    double naive_share, naive_mean;
    guarantee(SPLITEE_CALIB_NAIVE, 0.1, 300, &naive_share, &naive_mean);
    cr_assert_gt(naive_share, 0.2, "naive exceeds epsilon in %g of splits", naive_share);
    for (int i = 0; i < 3; i++) {
        double share, mean;
        guarantee(ms[i], 0.1, 300, &share, &mean);
        cr_assert_leq(share, 0.1 + 0.05, "%s: %g", splitee_calib_method_name(ms[i]), share);
        cr_assert_lt(share, naive_share, "%s", splitee_calib_method_name(ms[i]));
        cr_assert_gt(mean, 0.02, "%s is not trivially conservative", splitee_calib_method_name(ms[i]));
    }
}

/* CRC bounds the expected risk: its mean over 300 splits (s.d. of one
 * split's risk about 0.01, so 0.0006 for the mean) stays within eps + 0.003. */
Test(risk, crc_mean_risk_stays_within_epsilon)
{
    double share, mean;
    guarantee(SPLITEE_CALIB_CRC, 0.1, 300, &share, &mean);
    cr_assert_leq(mean, 0.1 + 0.003, "crc mean %g", mean);
    cr_assert_gt(mean, 0.06);
}

Test(risk, evaluation_is_deterministic_for_a_seed)
{
    splitee_table *t = synthetic();
    splitee_risk_config rc;
    splitee_risk_config_default(&rc);
    splitee_risk *r;
    splitee_error err;
    cr_assert_eq(splitee_risk_create(t, &rc, &r, &err), 0);
    splitee_calib_config cc = { .method = SPLITEE_CALIB_LTT, .epsilon = 0.1, .delta = 0.1 };
    splitee_risk_split a[20], b[20], c[20];
    cr_assert_eq(splitee_risk_evaluate(r, &cc, 500, 20, 5, a, &err), 0);
    cr_assert_eq(splitee_risk_evaluate(r, &cc, 500, 20, 5, b, &err), 0);
    cr_assert_eq(splitee_risk_evaluate(r, &cc, 500, 20, 6, c, &err), 0);
    int differ = 0;
    for (int s = 0; s < 20; s++) {
        cr_assert_eq(a[s].cal.index, b[s].cal.index);
        cr_assert_eq(a[s].test_risk, b[s].test_risk);
        differ += a[s].test_risk != c[s].test_risk;
    }
    cr_assert_gt(differ, 0);
    cr_assert_eq(splitee_risk_evaluate(r, &cc, SYN_N, 20, 5, a, &err), SPLITEE_ERR_VALUE);
    cr_assert(strstr(err.msg, "leave no test sample"), "%s", err.msg);
    cr_assert_eq(splitee_risk_evaluate(r, &cc, 0, 20, 5, a, &err), SPLITEE_ERR_VALUE);
    cr_assert_eq(splitee_risk_evaluate(r, &cc, 100, 0, 5, a, &err), SPLITEE_ERR_VALUE);
    splitee_risk_free(r);
    splitee_table_free(t);
}

Test(risk, summary_by_hand)
{
    splitee_risk_split s[4];
    memset(s, 0, sizeof s);
    const double risk[4] = { 0.3, 0.0, 0.1, 0.2 }, ex[4] = { 1, 2, 3, 2 };
    for (int i = 0; i < 4; i++) {
        s[i].test_risk = risk[i];
        s[i].test_exit = ex[i];
        s[i].cal.index = i == 1 ? -1 : 50;
        s[i].cal.threshold = i == 1 ? NAN : 0.5;
    }
    splitee_risk_summary m;
    splitee_error err;
    cr_assert_eq(splitee_risk_summarize(s, 4, 0.15, 4, &m, &err), 0);
    cr_assert_float_eq(m.test_mean, 0.15, 1e-15);
    cr_assert_float_eq(m.test_q50, 0.15, 1e-15);   /* between 0.1 and 0.2 */
    cr_assert_float_eq(m.test_q10, 0.03, 1e-15);   /* 0 + 0.3 (0.1 - 0) */
    cr_assert_float_eq(m.test_q90, 0.27, 1e-15);   /* 0.2 + 0.7 (0.3 - 0.2) */
    cr_assert_eq(m.test_max, 0.3);
    cr_assert_float_eq(m.share_over, 0.5, 1e-15);
    cr_assert_eq(m.none, 1);
    cr_assert_float_eq(m.threshold_mean, 0.5, 1e-15);
    cr_assert_float_eq(m.exit_mean, 2.0, 1e-15);
    cr_assert_float_eq(m.saved, 0.5, 1e-15);
    cr_assert_eq(splitee_risk_summarize(s, 0, 0.15, 4, &m, &err), SPLITEE_ERR_VALUE);
}

/* ---- the split form ------------------------------------------------------- */

/* Max-softmax and argmax of z written out. */
static double msp_ref(const double *z, int K, int *arg)
{
    int a = 0;
    for (int c = 1; c < K; c++)
        if (z[c] > z[a])
            a = c;
    double s = 0;
    for (int c = 0; c < K; c++)
        s += exp(z[c] - z[a]);
    *arg = a;
    return 1 / s;
}

static double brier_k(const double *z, int K, int y)
{
    double m = z[0], s = 0, b = 0;
    for (int c = 1; c < K; c++)
        m = fmax(m, z[c]);
    for (int c = 0; c < K; c++)
        s += exp(z[c] - m);
    for (int c = 0; c < K; c++)
        b += pow(exp(z[c] - m) / s - (c == y), 2);
    return b;
}

Test(risk, split_form_losses_match_a_direct_computation)
{
    enum { N = 60, L = 4, K = 3 };
    double *z = malloc(N * L * K * sizeof *z);
    int32_t y[N];
    uint64_t s = 31;
    for (int k = 0; k < N; k++) {
        y[k] = (int32_t)(unif(&s) * K);
        for (int i = 0; i < L * K; i++)
            z[k * L * K + i] = 3 * unif(&s);
    }
    splitee_table *t;
    splitee_error err;
    cr_assert_eq(splitee_table_from_logits("rand", z, N, L, K, y, &t, &err), 0);
    for (int kind = 0; kind < SPLITEE_RISK_COUNT; kind++)
        for (int clamp = 0; clamp < 2; clamp++) {
            splitee_risk_config rc;
            splitee_risk_config_default(&rc);
            rc.risk = (splitee_risk_kind)kind;
            rc.clamp = clamp;
            rc.form = SPLITEE_RISK_FORM_SPLIT;
            splitee_risk *r;
            cr_assert_eq(splitee_risk_create(t, &rc, &r, &err), 0, "%s", err.msg);
            cr_assert_eq(splitee_risk_layers(r), L - 1);
            cr_assert_null(splitee_risk_layer_losses(r, L - 1));
            cr_assert_null(splitee_risk_layer_losses(r, -1));
            for (int l = 0; l < L - 1; l++) {
                const double *loss = splitee_risk_layer_losses(r, l);
                const uint8_t *ex = splitee_risk_layer_exit_taken(r, l);
                for (int j = 0; j < SPLITEE_RISK_GRID; j++) {
                    double lam = splitee_risk_grid_value(j), sum = 0, esum = 0;
                    for (int k = 0; k < N; k++) {
                        const double *zl = z + (k * L + l) * K, *zf = z + (k * L + L - 1) * K;
                        int pl, pf;
                        double c = msp_ref(zl, K, &pl);
                        msp_ref(zf, K, &pf);
                        int exits = c >= lam;
                        double want = 0;
                        if (exits) {
                            if (kind == SPLITEE_RISK_CONSISTENCY)
                                want = pl != pf;
                            else if (kind == SPLITEE_RISK_PREDICTION_GAP)
                                want = (double)(pl != y[k]) - (double)(pf != y[k]);
                            else
                                want = brier_k(zl, K, y[k]) - brier_k(zf, K, y[k]);
                            if (clamp && want < 0)
                                want = 0;
                        }
                        cr_assert_eq(ex[j * N + k], exits ? l : L - 1, "layer %d j %d sample %d", l, j, k);
                        cr_assert_float_eq(loss[j * N + k], want, 1e-12, "kind %d layer %d j %d", kind, l, j);
                        sum += want;
                        esum += exits ? l + 1 : L;
                    }
                    double me;
                    cr_assert_float_eq(splitee_risk_layer_mean(r, l, j, NULL, N, &me), sum / N, 1e-12);
                    cr_assert_float_eq(me, esum / N, 1e-12);
                }
            }
            /* calibrating a layer is calibrating its loss matrix */
            splitee_calib_config cc = { .method = SPLITEE_CALIB_NAIVE, .epsilon = 0.2, .delta = 0.1 };
            splitee_calib_result a, b;
            double lo, hi;
            splitee_risk_range(rc.risk, rc.clamp, &lo, &hi);
            cr_assert_eq(splitee_risk_layer_calibrate(r, 2, NULL, N, &cc, &a, &err), 0);
            cr_assert_eq(splitee_risk_calibrate_losses(splitee_risk_layer_losses(r, 2), N, NULL, N,
                                                       SPLITEE_RISK_GRID, lo, hi, &cc, &b, &err), 0);
            cr_assert_eq(a.index, b.index);
            cr_assert_eq(splitee_risk_layer_calibrate(r, 3, NULL, N, &cc, &a, &err), SPLITEE_ERR_ARG);
            cr_assert_str_eq(err.msg, "calibrate: layer index 3 outside 0..2");
            splitee_risk_split sp[2];
            cr_assert_eq(splitee_risk_layer_evaluate(r, -1, &cc, 30, 2, 1, sp, &err), SPLITEE_ERR_ARG);
            splitee_risk_free(r);
        }
    /* the early-exit form holds one matrix, the one splitee_risk_losses returns */
    splitee_risk_config rc;
    splitee_risk_config_default(&rc);
    cr_assert_eq(rc.form, SPLITEE_RISK_FORM_EARLY_EXIT);
    splitee_risk *r;
    cr_assert_eq(splitee_risk_create(t, &rc, &r, &err), 0);
    cr_assert_eq(splitee_risk_layers(r), 1);
    cr_assert_eq(splitee_risk_layer_losses(r, 0), splitee_risk_losses(r));
    cr_assert_null(splitee_risk_layer_losses(r, 1));
    splitee_risk_free(r);
    splitee_table_free(t);
    free(z);
    /* one exit: no split layer */
    const double z1[2] = { 0, 1 };
    cr_assert_eq(splitee_table_from_logits("one", z1, 1, 1, 2, NULL, &t, &err), 0);
    rc.form = SPLITEE_RISK_FORM_SPLIT;
    cr_assert_eq(splitee_risk_create(t, &rc, &r, &err), SPLITEE_ERR_ARG);
    cr_assert_str_eq(err.msg, "one: the split form needs at least 2 exits, the table has 1");
    splitee_table_free(t);
    splitee_risk_form f;
    cr_assert_eq(splitee_risk_form_parse("split", &f), 0);
    cr_assert_eq(f, SPLITEE_RISK_FORM_SPLIT);
    cr_assert_eq(splitee_risk_form_parse("early-exit", &f), 0);
    cr_assert_eq(f, SPLITEE_RISK_FORM_EARLY_EXIT);
    cr_assert_eq(splitee_risk_form_parse("splits", &f), SPLITEE_ERR_ARG);
    cr_assert_str_eq(splitee_risk_form_name(SPLITEE_RISK_FORM_SPLIT), "split");
}

/* A synthetic 3-exit, 2-class table with known split-form consistency
 * curves: exit l's confidence c_l is uniform on (0.5, 1), independently,
 * and exit l disagrees with the last exit with probability (1 - c_l) / (l + 1),
 * so R_l(lambda) = (1 - max(lambda, 0.5))^2 / (l + 1): 0.25 and 0.125 at
 * lambda <= 0.5, so epsilon 0.1 binds at both split layers. */
static splitee_table *synthetic_split(void)
{
    double *z = malloc(SYN_N * 6 * sizeof *z);
    uint64_t s = 4242;
    for (int k = 0; k < SYN_N; k++) {
        int f = unif(&s) < 0.5;
        for (int l = 0; l < 2; l++) {
            double c = 0.5 + 0.5 * unif(&s), v = unif(&s);
            int pred = v < (1 - c) / (l + 1) ? 1 - f : f;
            z[k * 6 + l * 2 + pred] = log(c / (1 - c));
            z[k * 6 + l * 2 + 1 - pred] = 0;
        }
        z[k * 6 + 4 + f] = 3;
        z[k * 6 + 4 + 1 - f] = 0;
    }
    splitee_table *t;
    splitee_error err;
    cr_assert_eq(splitee_table_from_logits("synthetic-split", z, SYN_N, 3, 2, NULL, &t, &err), 0);
    free(z);
    return t;
}

/* Per split layer, over 300 seeded splits of 300 calibration samples: the
 * share of splits whose population risk at lambda-hat_l exceeds epsilon
 * 0.1. LTT keeps it within delta + 0.05 (3 binomial s.d., as above) at
 * every layer; naive does not at either. */
Test(risk, split_form_keeps_the_guarantee_at_every_layer, .timeout = 600)
{
    splitee_table *t = synthetic_split();
    splitee_risk_config rc;
    splitee_risk_config_default(&rc);
    rc.form = SPLITEE_RISK_FORM_SPLIT;
    splitee_risk *r;
    splitee_error err;
    cr_assert_eq(splitee_risk_create(t, &rc, &r, &err), 0);
    splitee_table_free(t);
    cr_assert_eq(splitee_risk_layers(r), 2);
    double pop[2][SPLITEE_RISK_GRID];
    for (int l = 0; l < 2; l++)
        for (int j = 0; j < SPLITEE_RISK_GRID; j++) {
            double lam = splitee_risk_grid_value(j), want = pow(1 - fmax(lam, 0.5), 2) / (l + 1);
            pop[l][j] = splitee_risk_layer_mean(r, l, j, NULL, SYN_N, NULL);
            cr_assert(fabs(pop[l][j] - want) < 0.014, "layer %d lambda %g: %g vs %g", l, lam, pop[l][j], want);
        }
    splitee_risk_split *out = malloc(SPLITS * sizeof *out);
    const splitee_calib_method ms[2] = { SPLITEE_CALIB_NAIVE, SPLITEE_CALIB_LTT };
    for (int m = 0; m < 2; m++)
        for (int l = 0; l < 2; l++) {
            splitee_calib_config cc = { .method = ms[m], .epsilon = 0.1, .delta = 0.1 };
            cr_assert_eq(splitee_risk_layer_evaluate(r, l, &cc, 300, SPLITS, 17, out, &err), 0, "%s", err.msg);
            int over = 0;
            double sum = 0;
            for (int s = 0; s < SPLITS; s++) {
                double risk = out[s].cal.index < 0 ? 0 : pop[l][out[s].cal.index];
                over += risk > 0.1;
                sum += risk;
            }
            double share = (double)over / SPLITS;
            if (getenv("TEST_RISK_VERBOSE"))
                fprintf(stderr, "split %s layer %d: share over %g, mean risk %g\n", splitee_calib_method_name(ms[m]),
                        l + 1, share, sum / SPLITS);
            if (ms[m] == SPLITEE_CALIB_NAIVE) {
                cr_assert_gt(share, 0.2, "naive layer %d: %g", l + 1, share);
            } else {
                cr_assert_leq(share, 0.1 + 0.05, "ltt layer %d: %g", l + 1, share);
                cr_assert_gt(sum / SPLITS, 0.03, "ltt layer %d is not trivially conservative", l + 1);
            }
        }
    free(out);
    splitee_risk_free(r);
}
