/* ucb.c -- the upper-confidence-bound family: SplitEE (UCB1 over split
 * layers), SplitEE-S (UCB1 with side observations from the lower exits,
 * honest or the authors' reference mode), KL-UCB and UCB-V. All play every
 * untried arm first, lowest first, and break ties towards the lowest arm. */
#include <math.h>

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

/* Bernoulli KL divergence kl(x, y), with both clamped into [eps, 1-eps] so
 * the logarithms stay finite. */
static double bernoulli_kl(double x, double y)
{
    const double eps = 1e-15;
    x = fmin(fmax(x, eps), 1 - eps);
    y = fmin(fmax(y, eps), 1 - eps);
    return x * log(x / y) + (1 - x) * log((1 - x) / (1 - y));
}

/* Number of bisection steps of the KL-UCB bound (precision 2^-32). */
#define KL_UCB_STEPS 32

/* KL-UCB (Garivier & Cappe 2011) on rewards rescaled to [0, 1] with the
 * reward model's bounds: index_a = max{q in [m_a, 1] : n_a kl(m_a, q) <= ln t}
 * (the c = 0 variant), found by a fixed number of bisection steps that keep
 * the feasible end. An arm whose bound provably cannot exceed the current
 * best (n_a kl(m_a, best) > ln t) skips the bisection; that changes no
 * choice, since the feasible end it would return is below the best. */
static int kl_ucb_choose(splitee_policy *p, gsl_rng *rng)
{
    (void)rng;
    if (p->untried)
        return splitee__policy_first_untried(p);
    const double bound = log((double)(p->rounds + 1));
    const double range = p->hi - p->lo;
    int best = -1;
    double best_idx = 0;
    for (int a = 0; a < p->arms; a++) {
        double m = fmin(fmax((p->mean[a] - p->lo) / range, 0.0), 1.0);
        if (best >= 0 && m <= best_idx && p->n[a] * bernoulli_kl(m, best_idx) > bound)
            continue;
        double lo = m, hi = 1.0;
        for (int s = 0; s < KL_UCB_STEPS; s++) {
            double mid = 0.5 * (lo + hi);
            if (p->n[a] * bernoulli_kl(m, mid) <= bound)
                lo = mid;
            else
                hi = mid;
        }
        if (best < 0 || lo > best_idx) {
            best = a;
            best_idx = lo;
        }
    }
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
    { "splitee", "SplitEE: UCB1 over split layers", SPLITEE_POLICY_PARAM_BETA, 1, 0, 0, NULL }, &ucb1_ops };
const splitee__policy_kind splitee__kind_splitee_s = {
    { "splitee-s", "SplitEE-S: UCB1 with side observations of the lower exits",
      SPLITEE_POLICY_PARAM_BETA | SPLITEE_POLICY_PARAM_SIDE_INFO, 1, 0, 0, NULL }, &ucb1_side_ops };
const splitee__policy_kind splitee__kind_kl_ucb = {
    { "kl-ucb", "KL-UCB on rewards rescaled to [0, 1]", 0, 1, 0, 0, NULL }, &kl_ucb_ops };
const splitee__policy_kind splitee__kind_ucb_v = {
    { "ucb-v", "UCB-V (empirical Bernstein bound)", SPLITEE_POLICY_PARAM_BETA, 1, 0, 0, NULL }, &ucb_v_ops };
