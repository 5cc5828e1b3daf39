/* alpha.c -- splitee-alpha: SplitEE that learns the exit threshold alpha
 * online together with the split layer, label-free (docs/ADAPTIVE.md).
 *
 * Arms are the pairs (layer k, alpha_g) of a grid of G thresholds: playing
 * one means running layers 1..k and exiting if C_k >= alpha_g, else
 * offloading; its reward is SplitEE's (reward.h) with alpha_g in place of
 * the model's alpha, so it needs no label. UCB1 over the L*G pairs, index
 * mean + beta*sqrt(ln t / n) with t = rounds + 1 (SplitEE's clock), untried
 * pairs first (lowest pair first, pair = k*G + g, the grid ascending), ties
 * to the lowest pair.
 *
 * Honest side observations: a round at (k, g) reveals C_1..C_k, and C_L
 * when the sample was offloaded or k is the last layer. Every pair (j, g')
 * with j <= k whose reward is then known is credited: one that would exit
 * (C_j >= alpha_g', or j the last layer) always, one that would offload
 * only when C_L was actually known. The played pair earns what happened
 * (ob->offloaded). So an offloaded round credits every alpha at every
 * layer up to k, an exit credits the alphas the sample would also have
 * exited under. Nothing is credited with a value that was never observed.
 *
 * One round is O(L*G) with no allocation (the pair statistics are
 * allocated once at create). The shared per-layer statistics (n, sum,
 * mean) hold the played layer's reward each round, whatever its alpha, so
 * that reports of plays per layer stay meaningful. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "core/numfmt.h"
#include "policy_impl.h"

/* The default grid: 0.50, 0.55, ..., 1.00. */
#define DEFAULT_GRID_N 11

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Copies and sorts the grid; checks the rule is the threshold rule. */
static int alpha_create(splitee_policy *p, splitee_error *err)
{
    const splitee_policy_config *c = &p->cfg;
    if (p->rw.exit.kind != SPLITEE_EXIT_KIND_THRESHOLD)
        return splitee__fail(err, SPLITEE_ERR_ARG,
                             "splitee-alpha learns the threshold of the threshold rule; "
                             "the rule is %s", splitee_exit_kind_name(p->rw.exit.kind));
    const int G = c->alpha_grid_n ? c->alpha_grid_n : DEFAULT_GRID_N;
    if (c->alpha_grid_n < 0 || c->alpha_grid_n > SPLITEE_POLICY_MAX_GRID ||
        (c->alpha_grid_n > 0 && !c->alpha_grid))
        return splitee__fail(err, SPLITEE_ERR_ARG,
                             "alpha grid (splitee-alpha): 1..%d thresholds (got %d)",
                             SPLITEE_POLICY_MAX_GRID, c->alpha_grid_n);
    const size_t P = (size_t)p->arms * (size_t)G;
    p->grid = malloc((size_t)G * sizeof *p->grid);
    p->pair_n = malloc(P * sizeof *p->pair_n);
    p->pair_sum = malloc(P * sizeof *p->pair_sum);
    p->pair_mean = malloc(P * sizeof *p->pair_mean);
    if (!p->grid || !p->pair_n || !p->pair_sum || !p->pair_mean)
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "splitee-alpha: out of memory");
    p->grid_n = G;
    for (int g = 0; g < G; g++)
        p->grid[g] = c->alpha_grid_n ? c->alpha_grid[g] : (50 + 5 * g) / 100.0;
    qsort(p->grid, (size_t)G, sizeof *p->grid, cmp_double);
    for (int g = 0; g < G; g++) {
        if (!(p->grid[g] >= 0 && p->grid[g] <= 1))
            return splitee__fail(err, SPLITEE_ERR_ARG,
                                 "alpha grid (splitee-alpha): thresholds must be in [0, 1] "
                                 "(got %g)", p->grid[g]);
        if (g > 0 && p->grid[g] == p->grid[g - 1])
            return splitee__fail(err, SPLITEE_ERR_ARG,
                                 "alpha grid (splitee-alpha): %g appears twice", p->grid[g]);
    }
    return SPLITEE_OK;
}

static void alpha_free(splitee_policy *p)
{
    free(p->grid);
    free(p->pair_n);
    free(p->pair_sum);
    free(p->pair_mean);
}

static void alpha_reset(splitee_policy *p)
{
    const int P = p->arms * p->grid_n;
    for (int i = 0; i < P; i++)
        p->pair_n[i] = p->pair_sum[i] = p->pair_mean[i] = 0.0;
    p->pair_untried = P;
    p->cur_pair = -1;
}

static int alpha_choose(splitee_policy *p, gsl_rng *rng)
{
    (void)rng;
    const int P = p->arms * p->grid_n;
    int best = 0;
    if (p->pair_untried) {
        while (best < P - 1 && p->pair_n[best] != 0)
            best++;
    } else {
        best = splitee__ucb1_scan(p->pair_mean, p->pair_n, P, p->cfg.beta,
                                  log((double)(p->rounds + 1)), p->cur_pair);
    }
    p->cur_pair = best;
    return best / p->grid_n;
}

static inline void pair_update(splitee_policy *p, int i, double r)
{
    if (p->pair_n[i] == 0)
        p->pair_untried--;
    p->pair_n[i] += 1;
    p->pair_sum[i] += r;
    p->pair_mean[i] = p->pair_sum[i] / p->pair_n[i];
}

/* The played pair is (ob->arm, the alpha chosen last); see the top. */
static void alpha_observe(splitee_policy *p, const splitee_obs *ob)
{
    const splitee_reward *rw = &p->rw;
    const int G = p->grid_n, k = ob->arm, last = p->arms - 1;
    const int g0 = p->cur_pair >= 0 ? p->cur_pair % G : -1;
    const double *c = ob->conf;
    const double cl = ob->conf_final;
    const double played = splitee__played_reward(rw, ob);
    for (int j = 0; j <= k; j++) {
        const int base = j * G;
        /* the grid ascends: alpha_g <= C_j for g < ex, so those exit */
        int ex = 0;
        if (j == last)
            ex = G;
        else
            while (ex < G && c[j] >= p->grid[ex])
                ex++;
        const double r_exit = splitee__arm_reward(rw, j, 1, c[j], cl);
        for (int g = 0; g < G; g++) {
            if (j == k && g == g0)
                pair_update(p, base + g, played);
            else if (g < ex)
                pair_update(p, base + g, r_exit);
            else if (ob->final_known)
                pair_update(p, base + g, splitee__arm_reward(rw, j, 0, c[j], cl));
        }
    }
    splitee__observe_played(p, ob);
}

/* A seed (reference initialisation) has no alpha: it enters the layer's
 * statistics only, no pair. */
static void alpha_seed(splitee_policy *p, int arm, double reward)
{
    splitee__policy_update(p, arm, reward);
}

static int alpha_save(const splitee_policy *p, cJSON *o)
{
    const int P = p->arms * p->grid_n;
    return splitee__state_add_array(o, "alpha_grid", p->grid, p->grid_n) == 0 &&
           splitee__state_add_array(o, "pair_n", p->pair_n, P) == 0 &&
           splitee__state_add_array(o, "pair_sum", p->pair_sum, P) == 0 ? 0 : -1;
}

/* Checks (apply 0) that the state's grid is the policy's and that its pair
 * counts are whole and consistent, then (apply 1) installs them. */
static int alpha_load(splitee_policy *p, const cJSON *o, const double *n, int apply,
                      splitee_error *err)
{
    (void)n;
    const int G = p->grid_n, P = p->arms * G;
    int rc;
    if (apply) {
        splitee__state_read_numbers(o, "pair_n", P, p->pair_n, NULL);
        splitee__state_read_numbers(o, "pair_sum", P, p->pair_sum, NULL);
        p->pair_untried = 0;
        for (int i = 0; i < P; i++) {
            p->pair_mean[i] = p->pair_n[i] > 0 ? p->pair_sum[i] / p->pair_n[i] : 0.0;
            p->pair_untried += p->pair_n[i] == 0;
        }
        return SPLITEE_OK;
    }
    const cJSON *grid = cJSON_GetObjectItemCaseSensitive(o, "alpha_grid");
    if (!cJSON_IsArray(grid) || cJSON_GetArraySize(grid) != G)
        return splitee__fail(err, SPLITEE_ERR_ARG,
                             "policy state: its \"alpha_grid\" is not the policy's %d thresholds", G);
    int g = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, grid) {
        if (!cJSON_IsNumber(x) || x->valuedouble != p->grid[g])
            return splitee__fail(err, SPLITEE_ERR_ARG,
                                 "policy state: \"alpha_grid\"[%d] is not the policy's %g",
                                 g, p->grid[g]);
        g++;
    }
    if ((rc = splitee__state_read_numbers(o, "pair_n", P, NULL, err)) < 0 ||
        (rc = splitee__state_read_numbers(o, "pair_sum", P, NULL, err)) < 0)
        return rc;
    const cJSON *pn = cJSON_GetObjectItemCaseSensitive(o, "pair_n");
    const cJSON *ps = cJSON_GetObjectItemCaseSensitive(o, "pair_sum")->child;
    int i = 0;
    cJSON_ArrayForEach(x, pn) {
        double v = x->valuedouble;
        if (v < 0 || v != floor(v) || v > 9007199254740992.0)
            return splitee__fail(err, SPLITEE_ERR_FORMAT,
                                 "policy state: \"pair_n\"[%d] is not a whole count (%g)", i, v);
        if (v == 0 && ps->valuedouble != 0)
            return splitee__fail(err, SPLITEE_ERR_FORMAT,
                                 "policy state: pair %d has rewards but no plays", i);
        ps = ps->next;
        i++;
    }
    return SPLITEE_OK;
}

static const splitee__policy_ops alpha_ops = {
    .choose = alpha_choose, .observe = alpha_observe, .seed = alpha_seed,
    .save_extra = alpha_save, .load_extra = alpha_load, .reset_extra = alpha_reset,
    .create_extra = alpha_create, .free_extra = alpha_free
};

const splitee__policy_kind splitee__kind_splitee_alpha = {
    { "splitee-alpha", "SplitEE learning the exit threshold too: UCB1 over (layer, alpha) pairs",
      SPLITEE_POLICY_PARAM_BETA | SPLITEE_POLICY_PARAM_ALPHA_GRID, 1, 0, 0, NULL, 1 },
    &alpha_ops };
