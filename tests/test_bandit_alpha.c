/* test_bandit_alpha.c -- Criterion tests of splitee-alpha (bandit/alpha.c):
 * against a naive reference written here from docs/ADAPTIVE.md (UCB1 over
 * (layer, alpha) pairs, honest side observations), on random rows and on
 * rows full of exact ties; it never reads a C_L that was not observed;
 * grid validation; save/load; it finds the best pair; the alpha accessor
 * of the other kinds. */
#include <criterion/criterion.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "splitee/bandit.h"
#include "splitee/reward.h"
#include "bandit_fixtures.h"

#define MAXG 16

/* The reference: plain arrays over pairs (layer j, grid g), index j*G+g. */
typedef struct naive_pairs {
    int L, G;
    double grid[MAXG];
    long long t;
    double n[MAXA * MAXG], sum[MAXA * MAXG];
} naive_pairs;

static int naive_choose(const naive_pairs *nv, double beta)
{
    const int P = nv->L * nv->G;
    for (int i = 0; i < P; i++)
        if (nv->n[i] == 0)
            return i;
    int best = 0;
    double bv = 0;
    for (int i = 0; i < P; i++) {
        double v = nv->sum[i] / nv->n[i] + beta * sqrt(log((double)(nv->t + 1)) / nv->n[i]);
        if (i == 0 || v > bv) {
            bv = v;
            best = i;
        }
    }
    return best;
}

/* Reward of pair (j, alpha) on a row, straight from reward.h's table. */
static double pair_reward(const splitee_reward *rw, int j, double alpha, const double *row)
{
    const int last = rw->arms - 1;
    if (j == last || row[j] >= alpha)
        return row[j] - rw->mu * rw->gamma[j];
    return row[last] - rw->mu * rw->offload[j] - rw->mu * rw->gamma[j];
}

/* Played (k, g0): every pair (j <= k, g) whose reward is observable. */
static void naive_observe(naive_pairs *nv, const splitee_reward *rw, int pair, const double *row)
{
    const int k = pair / nv->G, last = nv->L - 1;
    const int final_known = k == last || row[k] < nv->grid[pair % nv->G];
    for (int j = 0; j <= k; j++)
        for (int g = 0; g < nv->G; g++) {
            int exits = j == last || row[j] >= nv->grid[g];
            if (exits || final_known) {
                nv->n[j * nv->G + g] += 1;
                nv->sum[j * nv->G + g] += pair_reward(rw, j, nv->grid[g], row);
            }
        }
    nv->t++;
}

static splitee_policy *make_alpha(const splitee_reward *rw, const double *grid, int G, double beta)
{
    splitee_policy_config pc;
    splitee_policy_config_default(&pc);
    pc.kind = SPLITEE_POLICY_KIND_SPLITEE_ALPHA;
    pc.alpha_grid = grid;
    pc.alpha_grid_n = G;
    pc.beta = beta;
    splitee_policy *p;
    splitee_error err;
    cr_assert_eq(splitee_policy_create(&pc, rw, &p, &err), 0, "%s", err.msg);
    return p;
}

/* What a device reports after playing `arm` with threshold `alpha`; C_L is
 * NaN unless it was observed. */
static splitee_obs obs_at(int L, int arm, double alpha, const double *row)
{
    splitee_obs ob = { arm, row, arm < L - 1 && row[arm] < alpha, 0, NAN, NULL };
    ob.final_known = ob.offloaded || arm == L - 1;
    ob.conf_final = ob.final_known ? row[L - 1] : NAN;
    return ob;
}

static void exact_row(gsl_rng *r, int arms, double *row)
{
    for (int j = 0; j < arms; j++)
        row[j] = gsl_rng_uniform(r) < 0.3 + 0.6 * (j + 1) / arms ? 1.0 : 0.5;
}

/* Runs policy and reference side by side and checks every choice (layer
 * and alpha), then the layer statistics and the clock. `grid` is given
 * unsorted to the policy; the reference holds it sorted (sorted_grid). */
static void check_against_naive(int L, const double *grid, const double *sorted_grid, int G,
                                double lambda, int rounds,
                                void (*gen)(gsl_rng *, int, double *))
{
    splitee_reward rw = make_rw(L, 0.8, lambda, 0.3);
    splitee_policy *p = make_alpha(&rw, grid, G, 1.0);
    naive_pairs *nv = calloc(1, sizeof *nv);
    nv->L = L;
    nv->G = G;
    memcpy(nv->grid, sorted_grid, (size_t)G * sizeof *grid);
    long long layer_n[MAXA] = { 0 };
    double layer_sum[MAXA] = { 0 };
    gsl_rng *rows = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rows, 3);
    double row[MAXA];
    for (int t = 0; t < rounds; t++) {
        gen(rows, L, row);
        int want = naive_choose(nv, 1.0);
        int got = splitee_policy_choose(p, NULL);
        double alpha = splitee_policy_alpha(p);
        cr_assert_eq(got, want / G, "round %d: layer %d, reference %d", t, got, want / G);
        cr_assert_eq(alpha, nv->grid[want % G], "round %d: alpha %g, reference %g", t, alpha,
                     nv->grid[want % G]);
        splitee_obs ob = obs_at(L, got, alpha, row);
        splitee_policy_observe(p, &ob);
        naive_observe(nv, &rw, want, row);
        layer_n[got]++;
        layer_sum[got] += pair_reward(&rw, got, alpha, row);
    }
    cr_assert_eq(splitee_policy_rounds(p), nv->t);
    for (int a = 0; a < L; a++) {
        cr_assert_eq(splitee_policy_count(p, a), (double)layer_n[a], "layer %d", a);
        if (layer_n[a])
            cr_assert_eq(splitee_policy_mean(p, a), layer_sum[a] / layer_n[a], "layer %d", a);
    }
    /* the saved pair statistics are the reference's */
    char *js = splitee_policy_save(p);
    cr_assert_not_null(js);
    char key[64];
    const char *pn = strstr(js, "\"pair_n\"");
    cr_assert_not_null(pn);
    snprintf(key, sizeof key, "%.17g", nv->n[0]);
    cr_assert(strstr(pn, key), "pair_n[0] = %s not in the save", key);
    free(js);
    gsl_rng_free(rows);
    free(nv);
    splitee_policy_free(p);
}

Test(bandit_alpha, matches_naive_reference)
{
    const double grid[] = { 0.9, 0.5, 0.7, 0.6, 0.8, 0.95 };
    const double sorted[] = { 0.5, 0.6, 0.7, 0.8, 0.9, 0.95 };
    check_against_naive(8, grid, sorted, 6, 0.4 / 8, 6000, gen_row);
    check_against_naive(3, grid, sorted, 6, 0.1, 3000, gen_row);
}

/* Confidences 0.5 or 1 and lambda 0: rewards are a few exact values, so
 * indices tie exactly and often (the case a shortcut in the scan could
 * break); thresholds 0.5 and 1 sit exactly on the confidences. */
Test(bandit_alpha, matches_naive_reference_on_exact_ties)
{
    const double grid[] = { 1.0, 0.5, 0.75 };
    const double sorted[] = { 0.5, 0.75, 1.0 };
    check_against_naive(5, grid, sorted, 3, 0.0, 4000, exact_row);
}

Test(bandit_alpha, default_grid_and_accessor)
{
    splitee_reward rw = make_rw(4, 0.8, 0.1, 0.3);
    splitee_policy *p = make_alpha(&rw, NULL, 0, 1.0);
    cr_assert_eq(splitee_policy_alpha(p), 0.8, "before the first choose: the model's alpha");
    double seen[11];
    for (int i = 0; i < 11; i++) {
        cr_assert_eq(splitee_policy_choose(p, NULL), 0);
        seen[i] = splitee_policy_alpha(p);
        /* a row whose C_1 exits under every alpha: only its own pair column
         * at layer 1 (and none else) becomes tried, one per round */
        double row[4] = { 0.4, 0.4, 0.4, 0.4 };
        splitee_obs ob = obs_at(4, 0, seen[i], row);
        ob.final_known = 0;    /* pretend C_L unseen: only exits are credited */
        ob.offloaded = 0;
        ob.conf_final = NAN;
        splitee_policy_observe(p, &ob);
    }
    for (int i = 0; i < 11; i++)
        cr_assert_eq(seen[i], (50 + 5 * i) / 100.0, "grid[%d] = %g", i, seen[i]);
    splitee_policy_free(p);
    /* every other kind reports the model's alpha */
    splitee_policy *q = make_policy(SPLITEE_POLICY_KIND_SPLITEE, &rw, SPLITEE_SIDE_INFO_HONEST);
    splitee_policy_choose(q, NULL);
    cr_assert_eq(splitee_policy_alpha(q), 0.8);
    splitee_policy_free(q);
    for (int k = 0; k < SPLITEE_POLICY_KIND_COUNT; k++)
        cr_assert_eq(splitee_policy_kind_info((splitee_policy_kind)k)->learns_alpha,
                     k == SPLITEE_POLICY_KIND_SPLITEE_ALPHA, "%s", splitee_policy_kind_name(k));
}

/* Honest side information: C_L is NaN whenever it was not observed, so a
 * policy that read it would turn some mean into NaN. */
Test(bandit_alpha, never_reads_an_unobserved_final)
{
    const int L = 6;
    splitee_reward rw = make_rw(L, 0.8, 0.05, 0.3);
    splitee_policy *p = make_alpha(&rw, NULL, 0, 1.0);
    gsl_rng *rows = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rows, 9);
    double row[MAXA];
    for (int t = 0; t < 3000; t++) {
        gen_row(rows, L, row);
        int a = splitee_policy_choose(p, NULL);
        splitee_obs ob = obs_at(L, a, splitee_policy_alpha(p), row);
        splitee_policy_observe(p, &ob);
    }
    for (int a = 0; a < L; a++)
        cr_assert(isfinite(splitee_policy_mean(p, a)), "layer %d", a);
    char *js = splitee_policy_save(p);
    cr_assert_null(strstr(js, "nan"));
    cr_assert_null(strstr(js, "null"));
    free(js);
    gsl_rng_free(rows);
    splitee_policy_free(p);
}

Test(bandit_alpha, create_checks_grid_and_rule)
{
    splitee_reward rw = make_rw(4, 0.8, 0.1, 0.3);
    splitee_policy_config pc;
    splitee_policy_config_default(&pc);
    pc.kind = SPLITEE_POLICY_KIND_SPLITEE_ALPHA;
    splitee_policy *p = (splitee_policy *)1;
    splitee_error err;
    const double out_of_range[] = { 0.5, 1.5 }, twice[] = { 0.7, 0.6, 0.7 }, nan1[] = { NAN };
    pc.alpha_grid = out_of_range;
    pc.alpha_grid_n = 2;
    cr_assert_eq(splitee_policy_create(&pc, &rw, &p, &err), SPLITEE_ERR_ARG);
    cr_assert_null(p);
    cr_assert(strstr(err.msg, "[0, 1]") && strstr(err.msg, "1.5"), "%s", err.msg);
    pc.alpha_grid = twice;
    pc.alpha_grid_n = 3;
    cr_assert_eq(splitee_policy_create(&pc, &rw, &p, &err), SPLITEE_ERR_ARG);
    cr_assert(strstr(err.msg, "0.7 appears twice"), "%s", err.msg);
    pc.alpha_grid = nan1;
    pc.alpha_grid_n = 1;
    cr_assert_eq(splitee_policy_create(&pc, &rw, &p, &err), SPLITEE_ERR_ARG);
    pc.alpha_grid = NULL;
    pc.alpha_grid_n = 3;
    cr_assert_eq(splitee_policy_create(&pc, &rw, &p, &err), SPLITEE_ERR_ARG);
    pc.alpha_grid_n = SPLITEE_POLICY_MAX_GRID + 1;
    cr_assert_eq(splitee_policy_create(&pc, &rw, &p, &err), SPLITEE_ERR_ARG);
    /* any rule but the threshold rule is refused */
    splitee_reward_config rc;
    splitee_reward_config_default(&rc);
    rc.exit.kind = SPLITEE_EXIT_KIND_PATIENCE;
    splitee_reward pat;
    cr_assert_eq(splitee_reward_init(&pat, &rc, 4, &err), 0);
    pc.alpha_grid_n = 0;
    cr_assert_eq(splitee_policy_create(&pc, &pat, &p, &err), SPLITEE_ERR_ARG);
    cr_assert(strstr(err.msg, "threshold rule") && strstr(err.msg, "patience"), "%s", err.msg);
}

/* A saved state loaded into a fresh policy continues with the same choices;
 * a state for another grid is refused and leaves the policy unchanged. */
Test(bandit_alpha, save_load_continues_exactly)
{
    const int L = 5;
    splitee_reward rw = make_rw(L, 0.8, 0.08, 0.3);
    const double grid[] = { 0.6, 0.7, 0.8, 0.9 };
    splitee_policy *p = make_alpha(&rw, grid, 4, 1.0);
    gsl_rng *rows = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rows, 21);
    double row[MAXA];
    for (int t = 0; t < 500; t++) {
        gen_row(rows, L, row);
        int a = splitee_policy_choose(p, NULL);
        splitee_obs ob = obs_at(L, a, splitee_policy_alpha(p), row);
        splitee_policy_observe(p, &ob);
    }
    char *js = splitee_policy_save(p);
    splitee_policy *q = make_alpha(&rw, grid, 4, 1.0);
    splitee_error err;
    cr_assert_eq(splitee_policy_restore(q, js, &err), 0, "%s", err.msg);
    for (int t = 0; t < 500; t++) {
        gen_row(rows, L, row);
        int a = splitee_policy_choose(p, NULL), b = splitee_policy_choose(q, NULL);
        cr_assert_eq(a, b, "round %d", t);
        cr_assert_eq(splitee_policy_alpha(p), splitee_policy_alpha(q), "round %d", t);
        splitee_obs ob = obs_at(L, a, splitee_policy_alpha(p), row);
        splitee_policy_observe(p, &ob);
        splitee_policy_observe(q, &ob);
    }
    const double other[] = { 0.6, 0.7, 0.8, 0.95 };
    splitee_policy *r = make_alpha(&rw, other, 4, 1.0);
    cr_assert_eq(splitee_policy_restore(r, js, &err), SPLITEE_ERR_ARG);
    cr_assert(strstr(err.msg, "alpha_grid"), "%s", err.msg);
    cr_assert_eq(splitee_policy_rounds(r), 0);
    char *bad = strdup(js);
    char *pn = strstr(bad, "\"pair_n\"");
    cr_assert_not_null(pn);
    char *num = strpbrk(pn + 8, "0123456789");
    *num = '-';   /* a negative count */
    cr_assert_lt(splitee_policy_restore(r, bad, &err), 0);
    cr_assert_eq(splitee_policy_rounds(r), 0);
    free(bad);
    free(js);
    gsl_rng_free(rows);
    splitee_policy_free(p);
    splitee_policy_free(q);
    splitee_policy_free(r);
}

/* Two layers, C_1 uniform on [0, 1], C_2 = 1, lambda = o = 0.3: pair
 * (1, alpha) earns E[C_1; C_1 >= alpha] - 0.3 (1 - alpha) + (1 - 0.6) alpha
 * = (1 - alpha^2)/2 + 0.7 alpha - 0.3, largest at alpha = 0.7 (0.445;
 * 0.425 at 0.5 and 0.9); layer 2 earns 1 - 0.6 = 0.4. The policy should
 * play (1, 0.7) most. */
Test(bandit_alpha, learns_the_best_pair)
{
    splitee_reward rw = make_rw(2, 0.8, 0.3, 0.3);
    const double grid[] = { 0.3, 0.5, 0.7, 0.9 };
    splitee_policy *p = make_alpha(&rw, grid, 4, 1.0);
    gsl_rng *rows = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rows, 5);
    long plays[2][4] = { { 0 } };
    for (int t = 0; t < 40000; t++) {
        double row[2] = { gsl_rng_uniform(rows), 1.0 };
        int a = splitee_policy_choose(p, NULL);
        double al = splitee_policy_alpha(p);
        int g = al == 0.3 ? 0 : al == 0.5 ? 1 : al == 0.7 ? 2 : 3;
        if (t >= 20000)
            plays[a][g]++;
        splitee_obs ob = obs_at(2, a, al, row);
        splitee_policy_observe(p, &ob);
    }
    cr_assert_gt(plays[0][2], 15000, "(1, 0.7) played %ld of 20000 late rounds", plays[0][2]);
    gsl_rng_free(rows);
    splitee_policy_free(p);
}
