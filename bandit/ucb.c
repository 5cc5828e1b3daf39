/* ucb.c -- the upper-confidence-bound family: SplitEE (UCB1 over split
 * layers), SplitEE-S (UCB1 with side observations from the lower exits,
 * honest or the authors' reference mode), KL-UCB and UCB-V. All play every
 * untried arm first, lowest first, and break ties towards the lowest arm. */
#include <math.h>
#include <string.h>

#include "policy_impl.h"

/* UCB1 (splitee__ucb1_scan, policy_impl.h, says how the scan is exact and
 * why it is fast). */
static int ucb1_choose(splitee_policy *p, gsl_rng *rng)
{
    (void)rng;
    if (p->untried)
        return splitee__policy_first_untried(p);
    const int best = splitee__ucb1_scan(p->mean, p->n, p->arms, p->cfg.beta,
                                        log((double)(p->rounds + 1)), p->hint);
    p->hint = best;
    return best;
}

/* SplitEE-S observe: playing arm a reveals C_1..C_a (and C_L when the sample
 * was offloaded or a is the last arm), so every lower arm j < a whose reward
 * was observable is updated too, in increasing j, then the played arm. A
 * lower arm the exit rule accepts is always observable; one that would
 * have offloaded needs C_L, which honest mode uses only when it was actually
 * known and the reference mode (the authors' simulation) always uses. */
static void ucb1_side_observe(splitee_policy *p, const splitee_obs *ob)
{
    splitee__side_rewards(p, ob, splitee__policy_update);
    splitee__observe_played(p, ob);
}

/* x clamped into [lo, hi] (x not NaN), inline where fmin/fmax are calls. */
static inline double clampd(double x, double lo, double hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

/* The KL-UCB index (policy_impl.h). With x = m clamped into [e, 1 - e] and
 * g = lt / n, f(q) = kl(x, q) - g is convex and increasing on [x, 1), so
 * a Newton step from any point of (x, 1) lands at or above the root, and
 * steps from above descend to it monotonically. A start below the root
 * thus takes one step up (capped at Pinsker's bound x + sqrt(g / 2), which
 * is above the root since kl(x, q) >= 2 (q - x)^2, and at 1 - e); a root
 * past 1 - e (f(1 - e) <= 0) gives 1, where the old bisection's feasible
 * end tended. kl is evaluated as h - x ln q - (1 - x) ln(1 - q), h = x ln
 * x + (1 - x) ln(1 - x), two logarithms a step. The loop ends when f(q) <=
 * 0 from above (the root to rounding), a step makes no progress, or
 * Newton's own error estimate after a step is below 1e-15; a step that
 * would reach x (only rounding can) halves towards x instead. */
static inline double kl_index_h(double m, double x, double h, double n, double lt, double start)
{
    const double e = 1e-15;
    if (!(lt > 0))
        return m;
    const double g = lt / n;
    double cap = x + sqrt(0.5 * g);
    cap = cap < 1 - e ? cap : 1 - e;
    double q = start > x && start < cap ? start : cap;
    double f = h - x * log(q) - (1 - x) * log1p(-q) - g;
    if (f < 0 && q < cap) {               /* below the root: one step up */
        const double qn = q - f * (q * (1 - q)) / (q - x);
        q = qn < cap ? qn : cap;
        f = h - x * log(q) - (1 - x) * log1p(-q) - g;
    }
    if (f <= 0)
        return q < 1 - e ? q : 1.0;
    for (int it = 0; it < 100; it++) {
        double qn = q - f * (q * (1 - q)) / (q - x);
        if (!(qn < q))
            break;                        /* no progress: the root to rounding */
        if (!(qn > x))
            qn = 0.5 * (q + x);           /* only rounding can step past x */
        const double step = q - qn;
        q = qn;
        /* Newton's error after the step is about r step^2, r = f''/(2 f')
         * near the root: stop once that is below 1e-15 (and r step small,
         * so the estimate holds), without evaluating f again */
        const double r = q * (1 - q) * (x / (q * q) + (1 - x) / ((1 - q) * (1 - q))) /
                         (2 * (q - x));
        if (step < 1e-15 || (r * step < 1e-3 && r * step * step < 1e-15))
            break;
        f = h - x * log(q) - (1 - x) * log1p(-q) - g;
        if (f <= 0)
            break;
    }
    return q;
}

/* h(x) = x ln x + (1 - x) ln(1 - x), the constant part of kl(x, .). */
static inline double kl_h(double x)
{
    return x * log(x) + (1 - x) * log1p(-x);
}

double splitee__kl_ucb_index(double m, double n, double lt, double start)
{
    const double x = clampd(m, 1e-15, 1 - 1e-15);
    return kl_index_h(m, x, kl_h(x), n, lt, start);
}

/* Bernoulli kl(x, y) with both clamped into [1e-15, 1 - 1e-15]. */
static inline double kl_clamped(double x, double y)
{
    const double eps = 1e-15;
    x = clampd(x, eps, 1 - eps);
    y = clampd(y, eps, 1 - eps);
    return x * log(x / y) + (1 - x) * log((1 - x) / (1 - y));
}

/* KL-UCB (Garivier & Cappe 2011) on rewards rescaled to [0, 1] with the
 * reward model's bounds: index_a = max{q in [m_a, 1] : n_a kl(m_a, q) <=
 * ln t} (the c = 0 variant), lowest arm on ties.
 *
 * Each round computes one index exactly, that of the arm chosen last, b
 * (usually chosen again; Newton warm-started at its last index, two or
 * three steps). Every other arm is ruled out without a logarithm when it
 * can be: its index changes only when its count or mean does (only the
 * played arm's do) or t does, and it grows with t. q_a(t) < Y exactly when
 * ln t < n_a kl(m_a, Y) (the crossing time of Y, kl increasing on [m_a,
 * 1]), so each arm caches a level Y_a a little under the best index of the
 * round it was last examined in, and the log-time tau_a at which its index
 * reaches Y_a (lowered by a slack that covers kl's rounding). While its
 * count, mean and the reward bounds are unchanged, ln t < tau_a and the
 * best index so far >= Y_a prove q_a < the best: skipped, exactly.
 * Otherwise its cache is renewed against the current best and, if that
 * does not rule it out, its index is computed and compared. An arm with
 * the best's count and mean has its index exactly (a warm start could
 * change the last bit) and wins the tie if lower.
 *
 * Decisions: those of the exact indices, up to their rounding (~1e-14) when
 * two indices tie within it; the 32-step bisection used before (precision
 * 2^-32, about 2.3e-10) differed from the exact ones by more
 * (test_bandit.c compares both with a high-precision reference). */
static int kl_ucb_choose(splitee_policy *p, gsl_rng *rng)
{
    (void)rng;
    if (p->untried)
        return splitee__policy_first_untried(p);
    const double lt = log((double)(p->rounds + 1));
    const double lo = p->lo, range = p->hi - p->lo;
    const int arms = p->arms;
    if (p->kl_lo != lo || p->kl_hi != p->hi) {         /* new reward bounds */
        for (int a = 0; a < arms; a++)
            p->kl_tau[a] = -INFINITY;
        p->kl_lo = lo;
        p->kl_hi = p->hi;
    }
    const int b = p->hint < arms ? p->hint : 0;
    /* the common round: every other arm ruled out by its cache, and b's
     * index shown to reach the highest of their levels by one kl */
    double ystar = -INFINITY;
    int a = 0;
    for (; a < arms; a++) {
        if (a == b)
            continue;
        if (!(p->n[a] == p->kl_n[a] && p->mean[a] == p->kl_mean[a] && lt < p->kl_tau[a]))
            break;
        ystar = p->kl_Y[a] > ystar ? p->kl_Y[a] : ystar;
    }
    if (a == arms) {
        const double mb = clampd((p->mean[b] - lo) / range, 0.0, 1.0), nb = p->n[b];
        if (mb >= ystar || nb * kl_clamped(mb, ystar) <= lt * (1 - 1e-12) - nb * 1e-14 - 1e-12)
            return b;                        /* q_a < Y_a <= ystar <= q_b */
    }
    int best = b;
    double best_idx = p->kl_q[b] = splitee__kl_ucb_index(
        clampd((p->mean[b] - lo) / range, 0.0, 1.0), p->n[b], lt, p->kl_q[b]);
    p->kl_hx[b] = -1;                     /* b's mean moves: no cached h */
    for (a = 0; a < arms; a++) {
        if (a == b)
            continue;
        const int valid = p->n[a] == p->kl_n[a] && p->mean[a] == p->kl_mean[a];
        if (valid && lt < p->kl_tau[a] && best_idx >= p->kl_Y[a])
            continue;                                  /* q_a < Y_a <= best */
        if (p->n[a] == p->n[best] && p->mean[a] == p->mean[best]) {
            if (a < best)                 /* the same index exactly: the lowest */
                best = a;
            continue;
        }
        const double m = clampd((p->mean[a] - lo) / range, 0.0, 1.0);
        if (m < best_idx) {
            /* renew: a level 1/1000 of the way from the best down to m */
            const double Y = best_idx - 1e-3 * (best_idx - m);
            const double n = p->n[a];
            p->kl_Y[a] = Y;
            p->kl_tau[a] = n * kl_clamped(m, Y) * (1 - 1e-12) - n * 1e-14 - 1e-12;
            p->kl_n[a] = n;
            p->kl_mean[a] = p->mean[a];
            if (lt < p->kl_tau[a])
                continue;
        }
        const double x = clampd(m, 1e-15, 1 - 1e-15);
        if (p->kl_hx[a] != x) {           /* h(x) once per mean */
            p->kl_hx[a] = x;
            p->kl_h[a] = kl_h(x);
        }
        const double idx = p->kl_q[a] = kl_index_h(m, x, p->kl_h[a], p->n[a], lt, p->kl_q[a]);
        if (idx > best_idx || (idx == best_idx && a < best)) {
            best = a;
            best_idx = idx;
        }
    }
    p->hint = best;
    return best;
}

/* UCB-V (Audibert, Munos & Szepesvari 2009): mean_a + beta*(sqrt(2 V_a ln t
 * / n_a) + 3 b ln t / n_a), V_a the empirical variance (sumsq/n - mean^2,
 * floored at 0) and b the reward range of the reward model. */
static int ucb_v_choose(splitee_policy *p, gsl_rng *rng)
{
    (void)rng;
    if (p->untried)
        return splitee__policy_first_untried(p);
    const double lt = log((double)(p->rounds + 1));
    const double b = p->hi - p->lo;
    const double beta = p->cfg.beta;
    int best = 0;
    double best_idx = -INFINITY;
    for (int a = 0; a < p->arms; a++) {
        double n = p->n[a], m = p->mean[a];
        double var = fmax(p->sumsq[a] / n - m * m, 0.0);
        double idx = m + beta * (sqrt(2.0 * var * lt / n) + 3.0 * b * lt / n);
        if (a == 0 || idx > best_idx) {
            best = a;
            best_idx = idx;
        }
    }
    return best;
}

static const splitee__policy_ops ucb1_ops = { .choose = ucb1_choose, .observe = splitee__observe_played };
static const splitee__policy_ops ucb1_side_ops = { .choose = ucb1_choose, .observe = ucb1_side_observe };
static const splitee__policy_ops kl_ucb_ops = { .choose = kl_ucb_choose, .observe = splitee__observe_played };
static const splitee__policy_ops ucb_v_ops = { .choose = ucb_v_choose, .observe = splitee__observe_played };

const splitee__policy_kind splitee__kind_splitee = {
    { "splitee", "SplitEE: UCB1 over split layers", SPLITEE_POLICY_PARAM_BETA, 1, 0, 0, NULL, 0 }, &ucb1_ops };
const splitee__policy_kind splitee__kind_splitee_s = {
    { "splitee-s", "SplitEE-S: UCB1 with side observations of the lower exits",
      SPLITEE_POLICY_PARAM_BETA | SPLITEE_POLICY_PARAM_SIDE_INFO, 1, 0, 0, NULL, 0 }, &ucb1_side_ops };
const splitee__policy_kind splitee__kind_kl_ucb = {
    { "kl-ucb", "KL-UCB on rewards rescaled to [0, 1]", 0, 1, 0, 0, NULL, 0 }, &kl_ucb_ops };
const splitee__policy_kind splitee__kind_ucb_v = {
    { "ucb-v", "UCB-V (empirical Bernstein bound)", SPLITEE_POLICY_PARAM_BETA, 1, 0, 0, NULL, 0 }, &ucb_v_ops };
