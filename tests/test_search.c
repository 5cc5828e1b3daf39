/* test_search.c -- the configuration search (search.h) against naive
 * references: MAC accounting by hand, the exhaustive search against a
 * brute force over every subset and threshold combination, the DP against
 * a naive grid search of the same path cost, the repair step's budget, the
 * greedy search's consistency, bad input, and model variants whose kept
 * exits give the original model's logits bit for bit. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "splitee/splitee.h"
#include "testutil.h"
#include "tiny_models.h"

static uint64_t rng_state;
static double urand(void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

/* A random table: N samples, C candidates, K classes; later candidates a
 * little more likely right. */
static splitee_table *rand_table(size_t N, int C, int K, uint64_t seed)
{
    rng_state = seed;
    double *lg = malloc(N * (size_t)C * (size_t)K * sizeof *lg);
    int32_t *lab = malloc(N * sizeof *lab);
    for (size_t n = 0; n < N; n++) {
        lab[n] = (int32_t)(urand() * K);
        for (int j = 0; j < C; j++)
            for (int k = 0; k < K; k++)
                lg[(n * (size_t)C + (size_t)j) * (size_t)K + (size_t)k] =
                    3 * urand() + (k == lab[n] ? 2.0 * urand() * (1 + j) / C : 0);
    }
    splitee_table *t = NULL;
    splitee_error err;
    cr_assert_eq(splitee_table_from_logits("rand", lg, N, C, K, lab, &t, &err), 0, "%s", err.msg);
    free(lg);
    free(lab);
    return t;
}

static void rand_macs(int C, double *bb, double *head)
{
    double acc = 0;
    for (int j = 0; j < C; j++) {
        acc += (double)(100 + (int)(urand() * 900));
        bb[j] = acc;
        head[j] = (double)(1 + (int)(urand() * 50));
    }
}

/* A naive measurement: confidences from the logits, the rule and the MAC
 * sum written out directly. */
static void naive_eval(const splitee_table *t, const double *bb, const double *head, uint64_t keep,
                       const double *thr, double *acc, double *mean)
{
    size_t N = splitee_table_samples(t);
    int C = splitee_table_exits(t), K = splitee_table_classes(t);
    const double *lg = splitee_table_logits(t);
    const int32_t *lab = splitee_table_labels(t);
    double right = 0, sum = 0;
    for (size_t n = 0; n < N; n++) {
        double cost = 0;
        int e = C - 1;
        for (int j = 0; j < C; j++) {
            int kept = j == C - 1 || (keep >> j & 1);
            if (!kept)
                continue;
            cost += head[j];
            int32_t y;
            double c = splitee_confidence_of(lg + (n * (size_t)C + (size_t)j) * (size_t)K, K,
                                             SPLITEE_CONFIDENCE_MAX_SOFTMAX, &y);
            if (j == C - 1 || c >= thr[j]) {
                e = j;
                right += y == lab[n];
                break;
            }
        }
        sum += cost + bb[e];
    }
    *acc = right / (double)N;
    *mean = sum / (double)N;
}

Test(search, mac_accounting_by_hand)
{
    /* 2 samples, 3 candidates, 2 classes. Sample 0: exit 1 sure (class 0
     * right); sample 1: no early exit sure, final right. */
    double lg[] = { 5, 0, 0, 0, 0, 3,      /* sample 0: c1 ~ 0.993, c2 = 0.5, final class 1 */
                    0, 0, 0.1, 0, 0, 4 };  /* sample 1: c1 = 0.5, c2 ~ 0.525, final class 1 */
    int32_t lab[] = { 0, 1 };
    splitee_table *t;
    splitee_error err;
    cr_assert_eq(splitee_table_from_logits("hand", lg, 2, 3, 2, lab, &t, &err), 0);
    double bb[] = { 100, 300, 600 }, head[] = { 10, 20, 30 };
    splitee_search *s;
    cr_assert_eq(splitee_search_create(t, bb, head, SPLITEE_CONFIDENCE_MAX_SOFTMAX, &s, &err), 0, "%s", err.msg);
    splitee_search_plan p = { .candidates = 3, .keep = 3 };
    p.thr[0] = 0.9;
    p.thr[1] = 0.9;
    splitee_search_point pt;
    cr_assert_eq(splitee_search_evaluate(s, &p, &pt, &err), 0);
    /* sample 0: exit 1: 100 + 10; sample 1: all: 600 + 10 + 20 + 30 */
    cr_assert_eq(pt.mean_macs, (110.0 + 660.0) / 2);
    cr_assert_eq(pt.max_macs, 660.0);
    cr_assert_eq(pt.accuracy, 1.0);
    cr_assert_eq(pt.exit_share[0], 0.5);
    cr_assert_eq(pt.exit_share[2], 0.5);
    /* only exit 2 kept: neither sample stops there */
    p.keep = 2;
    cr_assert_eq(splitee_search_evaluate(s, &p, &pt, &err), 0);
    cr_assert_eq(pt.mean_macs, 600.0 + 20 + 30);
    cr_assert_eq(pt.accuracy, 0.5);
    /* the final alone */
    p.keep = 0;
    cr_assert_eq(splitee_search_evaluate(s, &p, &pt, &err), 0);
    cr_assert_eq(pt.mean_macs, 630.0);
    /* latency: the device runs everything, or offloads after the last kept early exit */
    splitee_search_config cfg;
    splitee_search_config_default(&cfg);
    cfg.device_macs_per_s = 1000;
    double off[] = { 5, 7, -1 };
    p.keep = 3;
    cr_assert_eq(splitee_search_evaluate(s, &p, &pt, &err), 0);
    cr_assert_eq(pt.last_early, 1);
    cr_assert_eq(pt.device_macs, 330.0);
    cr_assert_eq(splitee_search_latency_ms(&cfg, &pt), 660.0);
    cfg.offload_ms = off;
    cfg.offload_raw_ms = 3;
    cr_assert_eq(splitee_search_latency_ms(&cfg, &pt), 330.0 + 7);
    p.keep = 1;
    cr_assert_eq(splitee_search_evaluate(s, &p, &pt, &err), 0);
    cr_assert_eq(splitee_search_latency_ms(&cfg, &pt), 110.0 + 5);
    p.keep = 0;
    cr_assert_eq(splitee_search_evaluate(s, &p, &pt, &err), 0);
    cr_assert_eq(pt.last_early, -1);
    cr_assert_eq(splitee_search_latency_ms(&cfg, &pt), 3.0);
    p.keep = 4;   /* past the early exits */
    cr_assert_eq(splitee_search_evaluate(s, &p, &pt, &err), SPLITEE_ERR_ARG);
    splitee_search_free(s);
    splitee_table_free(t);
}

Test(search, evaluate_equals_naive)
{
    for (int rep = 0; rep < 20; rep++) {
        int C = 2 + rep % 7;
        splitee_table *t = rand_table(150, C, 4, 100 + (uint64_t)rep);
        double bb[SPLITEE_MAX_EXITS], head[SPLITEE_MAX_EXITS];
        rand_macs(C, bb, head);
        splitee_search *s;
        splitee_error err;
        cr_assert_eq(splitee_search_create(t, bb, head, SPLITEE_CONFIDENCE_MAX_SOFTMAX, &s, &err), 0);
        splitee_search_plan p = { .candidates = C, .keep = (uint64_t)(urand() * (double)(1u << (C - 1))) };
        for (int j = 0; j < C - 1; j++)
            p.thr[j] = (p.keep >> j & 1) ? 0.25 + 0.5 * urand() : 0;
        splitee_search_point pt;
        cr_assert_eq(splitee_search_evaluate(s, &p, &pt, &err), 0);
        double acc, mean;
        naive_eval(t, bb, head, p.keep, p.thr, &acc, &mean);
        cr_assert_eq(pt.accuracy, acc);
        cr_assert_eq(pt.mean_macs, mean, "rep %d: %.17g vs %.17g", rep, pt.mean_macs, mean);
        splitee_search_free(s);
        splitee_table_free(t);
    }
}

/* The brute force: every subset, every per-exit grid combination (or, with
 * common, one grid value for all), measured naively; the best under a
 * mean-MAC limit (most accurate, then fewest MACs) and the Pareto set. */
typedef struct bf_pt {
    double acc, mean;
} bf_pt;

static int dominated(const bf_pt *a, int n, bf_pt p)
{
    for (int i = 0; i < n; i++)
        if (a[i].acc >= p.acc && a[i].mean <= p.mean && (a[i].acc > p.acc || a[i].mean < p.mean))
            return 1;
    return 0;
}

static int brute(const splitee_table *t, const double *bb, const double *head, const double *grid, int G,
                 int common, double limit, bf_pt *best, bf_pt *all, int cap)
{
    int C = splitee_table_exits(t), n = 0, have = 0;
    for (uint64_t keep = 0; keep < ((uint64_t)1 << (C - 1)); keep++) {
        int k[SPLITEE_MAX_EXITS], m = 0, ix[SPLITEE_MAX_EXITS] = { 0 };
        for (int j = 0; j < C - 1; j++)
            if (keep >> j & 1)
                k[m++] = j;
        for (;;) {
            double thr[SPLITEE_MAX_EXITS] = { 0 };
            for (int i = 0; i < m; i++)
                thr[k[i]] = grid[common ? ix[0] : ix[i]];
            bf_pt p;
            naive_eval(t, bb, head, keep, thr, &p.acc, &p.mean);
            cr_assert(n < cap);
            all[n++] = p;
            if (p.mean <= limit &&
                (!have || p.acc > best->acc || (p.acc == best->acc && p.mean < best->mean))) {
                *best = p;
                have = 1;
            }
            int digits = common ? (m ? 1 : 0) : m, i = digits - 1;
            while (i >= 0 && ++ix[i] == G)
                ix[i--] = 0;
            if (i < 0)
                break;
        }
    }
    return have ? n : -n;
}

static void check_front(const splitee_search_result *res, const bf_pt *all, int n)
{
    /* every front point is in the brute force's Pareto set, and every
     * Pareto value is on the front */
    for (int i = 0; i < res->nfront; i++) {
        bf_pt p = { res->front[i].accuracy, res->front[i].mean_macs };
        cr_assert(!dominated(all, n, p), "front point %d (%g, %g) is dominated", i, p.acc, p.mean);
        if (i > 0)
            cr_assert(res->front[i].mean_macs > res->front[i - 1].mean_macs &&
                      res->front[i].accuracy > res->front[i - 1].accuracy);
    }
    for (int a = 0; a < n; a++) {
        if (dominated(all, n, all[a]))
            continue;
        int found = 0;
        for (int i = 0; i < res->nfront && !found; i++)
            found = res->front[i].accuracy == all[a].acc && res->front[i].mean_macs == all[a].mean;
        cr_assert(found, "Pareto value (%g, %g) missing from the front", all[a].acc, all[a].mean);
    }
}

Test(search, exhaustive_equals_brute_force)
{
    static bf_pt all[200000];
    const double grid[] = { 0.3, 0.45, 0.6, 0.8 };
    for (int rep = 0; rep < 6; rep++) {
        int C = 3 + rep % 3;
        splitee_table *t = rand_table(80, C, 3, 7 + (uint64_t)rep);
        double bb[SPLITEE_MAX_EXITS], head[SPLITEE_MAX_EXITS];
        rand_macs(C, bb, head);
        splitee_search *s;
        splitee_error err;
        cr_assert_eq(splitee_search_create(t, bb, head, SPLITEE_CONFIDENCE_MAX_SOFTMAX, &s, &err), 0);
        for (int common = 0; common < 2; common++) {
            double limit = 0.5 * (bb[0] + head[0] + bb[C - 1] + head[C - 1]);
            splitee_search_config cfg;
            splitee_search_config_default(&cfg);
            cfg.method = SPLITEE_SEARCH_METHOD_EXHAUSTIVE;
            cfg.thresholds = common ? SPLITEE_SEARCH_THR_COMMON : SPLITEE_SEARCH_THR_FULL;
            cfg.grid = grid;
            cfg.ngrid = 4;
            cfg.limit = limit;
            splitee_search_result res;
            int st = splitee_search_run(s, &cfg, &res, &err);
            bf_pt best = { 0, 0 };
            int n = brute(t, bb, head, grid, 4, common, limit, &best, all, 200000);
            cr_assert_eq(st == 0, n > 0, "%s", err.msg);
            if (n < 0)
                n = -n;
            cr_assert_eq(res.evaluated, (double)n);
            if (st == 0) {
                cr_assert_eq(res.chosen.accuracy, best.acc);
                cr_assert_eq(res.chosen.mean_macs, best.mean);
                /* what it reports is what the plan measures */
                splitee_search_point again;
                cr_assert_eq(splitee_search_evaluate(s, &res.chosen.plan, &again, &err), 0);
                cr_assert_eq(again.accuracy, res.chosen.accuracy);
                cr_assert_eq(again.mean_macs, res.chosen.mean_macs);
            }
            check_front(&res, all, n);
            splitee_search_result_free(&res);
        }
        splitee_search_free(s);
        splitee_table_free(t);
    }
}

/* The DP's path cost written out for thresholds thr over the kept exits,
 * from the samples directly. */
static double naive_path(const splitee_table *t, const double *bb, const double *head, const int *k, int m,
                         const double *thr, double w)
{
    size_t N = splitee_table_samples(t);
    int C = splitee_table_exits(t), K = splitee_table_classes(t);
    const double *lg = splitee_table_logits(t);
    const int32_t *lab = splitee_table_labels(t);
    double bf = bb[C - 1] + head[C - 1], total = 0;
    for (int i = 0; i <= m; i++) {
        int q = i < m ? k[i] : C - 1, p = i > 0 ? k[i - 1] : -1;
        double R = 0, E = 0;
        for (size_t n = 0; n < N; n++) {
            int32_t yp, yq;
            double cp = p < 0 ? 0 : splitee_confidence_of(lg + (n * (size_t)C + (size_t)p) * (size_t)K, K,
                                                          SPLITEE_CONFIDENCE_MAX_SOFTMAX, &yp);
            double cq = splitee_confidence_of(lg + (n * (size_t)C + (size_t)q) * (size_t)K, K,
                                              SPLITEE_CONFIDENCE_MAX_SOFTMAX, &yq);
            int reach = p < 0 || cp < thr[i - 1];
            if (!reach)
                continue;
            R++;
            if ((i == m || cq >= thr[i]) && yq != lab[n])
                E++;
        }
        double step = (bb[q] - (p < 0 ? 0 : bb[p]) + head[q]) / bf;
        total += w * R * step + (1 - w) * E;
    }
    return total / (double)N;
}

Test(search, dp_equals_naive_grid_search)
{
    const double grid[] = { 0.35, 0.5, 0.6, 0.75, 0.9 };
    const int G = 5;
    for (int rep = 0; rep < 12; rep++) {
        int C = 3 + rep % 4;
        splitee_table *t = rand_table(120, C, 3, 50 + (uint64_t)rep);
        double bb[SPLITEE_MAX_EXITS], head[SPLITEE_MAX_EXITS];
        rand_macs(C, bb, head);
        splitee_search *s;
        splitee_error err;
        cr_assert_eq(splitee_search_create(t, bb, head, SPLITEE_CONFIDENCE_MAX_SOFTMAX, &s, &err), 0);
        uint64_t keep = 1 + (uint64_t)(urand() * (double)((1u << (C - 1)) - 1));
        double w = 0.1 + 0.8 * urand();
        int k[SPLITEE_MAX_EXITS], m = 0;
        for (int j = 0; j < C - 1; j++)
            if (keep >> j & 1)
                k[m++] = j;
        double thr[SPLITEE_MAX_EXITS], cost;
        cr_assert_eq(splitee_search_dp(s, keep, grid, G, w, thr, &cost, &err), 0, "%s", err.msg);
        /* naive: every combination */
        int ix[SPLITEE_MAX_EXITS] = { 0 };
        double best = INFINITY, second = INFINITY, bt[SPLITEE_MAX_EXITS] = { 0 };
        for (;;) {
            double tt[SPLITEE_MAX_EXITS];
            for (int i = 0; i < m; i++)
                tt[i] = grid[ix[i]];
            double c = naive_path(t, bb, head, k, m, tt, w);
            if (c < best - 1e-12) {
                second = best;
                best = c;
                memcpy(bt, tt, sizeof tt);
            } else if (c < second) {
                second = c;
            }
            int i = m - 1;
            while (i >= 0 && ++ix[i] == G)
                ix[i--] = 0;
            if (i < 0)
                break;
        }
        cr_assert(fabs(cost - best) < 1e-9, "rep %d: DP %.17g, naive %.17g", rep, cost, best);
        if (second - best > 1e-9)   /* a unique optimum: the same thresholds */
            for (int i = 0; i < m; i++)
                cr_assert_eq(thr[k[i]], bt[i], "rep %d exit %d", rep, k[i] + 1);
        /* one kept exit: the path cost is the true objective */
        if (m == 1) {
            splitee_search_plan p = { .candidates = C, .keep = keep };
            memcpy(p.thr, thr, sizeof p.thr);
            splitee_search_point pt;
            splitee_search_evaluate(s, &p, &pt, &err);
            double truth = w * pt.mean_macs / (bb[C - 1] + head[C - 1]) + (1 - w) * (1 - pt.accuracy);
            cr_assert(fabs(truth - cost) < 1e-9);
        }
        splitee_search_free(s);
        splitee_table_free(t);
    }
}

Test(search, repair_never_breaks_the_budget)
{
    for (int rep = 0; rep < 40; rep++) {
        int C = 3 + rep % 6;
        splitee_table *t = rand_table(100, C, 3, 300 + (uint64_t)rep);
        double bb[SPLITEE_MAX_EXITS], head[SPLITEE_MAX_EXITS];
        rand_macs(C, bb, head);
        splitee_search *s;
        splitee_error err;
        cr_assert_eq(splitee_search_create(t, bb, head, SPLITEE_CONFIDENCE_MAX_SOFTMAX, &s, &err), 0);
        splitee_search_plan p = { .candidates = C, .keep = 1 + (uint64_t)(urand() * (double)((1u << (C - 1)) - 1)) };
        for (int j = 0; j < C - 1; j++)
            p.thr[j] = (p.keep >> j & 1) ? 0.6 + 0.4 * urand() : 0;
        double limit = (bb[C - 1] + head[C - 1]) * (0.1 + 0.8 * urand());
        splitee_search_point out;
        int st = splitee_search_repair(s, &p, limit, 0.1, 0, &out, &err);
        splitee_search_point again;
        cr_assert_eq(splitee_search_evaluate(s, &p, &again, &err), 0);
        cr_assert_eq(again.mean_macs, out.mean_macs);
        cr_assert_eq(again.accuracy, out.accuracy);
        if (st == 0) {
            cr_assert(out.mean_macs <= limit, "rep %d: %g > %g", rep, out.mean_macs, limit);
        } else {
            cr_assert_eq(st, SPLITEE_ERR_VALUE);
            cr_assert(out.mean_macs > limit);
            for (int j = 0; j < C - 1; j++)
                if (p.keep >> j & 1)
                    cr_assert_eq(p.thr[j], 0.0);
        }
        splitee_search_free(s);
        splitee_table_free(t);
    }
}

Test(search, greedy_is_consistent_and_repairs)
{
    int C = 20;
    splitee_table *t = rand_table(200, C, 4, 999);
    double bb[SPLITEE_MAX_EXITS], head[SPLITEE_MAX_EXITS];
    rand_macs(C, bb, head);
    splitee_search *s;
    splitee_error err;
    cr_assert_eq(splitee_search_create(t, bb, head, SPLITEE_CONFIDENCE_MAX_SOFTMAX, &s, &err), 0);
    splitee_search_config cfg;
    splitee_search_config_default(&cfg);
    cfg.limit = 0.4 * bb[C - 1];
    splitee_search_result res;
    cr_assert_eq(splitee_search_run(s, &cfg, &res, &err), 0, "%s", err.msg);
    cr_assert_eq(res.method, SPLITEE_SEARCH_METHOD_GREEDY);
    cr_assert(res.chosen.mean_macs <= cfg.limit);
    splitee_search_point again;
    cr_assert_eq(splitee_search_evaluate(s, &res.chosen.plan, &again, &err), 0);
    cr_assert_eq(again.mean_macs, res.chosen.mean_macs);
    cr_assert_eq(again.accuracy, res.chosen.accuracy);
    for (int i = 1; i < res.nfront; i++)
        cr_assert(res.front[i].mean_macs > res.front[i - 1].mean_macs &&
                  res.front[i].accuracy > res.front[i - 1].accuracy);
    splitee_search_result_free(&res);
    /* DP thresholds only, on a grid of high values, under a tight budget:
     * the repair step lowers them below the grid and meets it */
    const double high[] = { 0.97, 0.99 }, wts[] = { 0.01 };
    cfg.thresholds = SPLITEE_SEARCH_THR_DP;
    cfg.grid = high;
    cfg.ngrid = 2;
    cfg.dp_weights = wts;
    cfg.ndp_weights = 1;
    cfg.limit = 0.2 * bb[C - 1];
    int st = splitee_search_run(s, &cfg, &res, &err);
    cr_assert(res.repaired);
    if (st == 0) {
        cr_assert(res.chosen.mean_macs <= cfg.limit);
        cr_assert_eq(splitee_search_evaluate(s, &res.chosen.plan, &again, &err), 0);
        cr_assert_eq(again.mean_macs, res.chosen.mean_macs);
    }
    splitee_search_result_free(&res);
    splitee_search_free(s);
    splitee_table_free(t);
}

Test(search, refusals)
{
    splitee_table *t = rand_table(50, 4, 3, 5), *bare;
    double bb[] = { 10, 20, 30, 40 }, head[] = { 1, 1, 1, 1 }, bad[] = { 10, 30, 20, 40 };
    splitee_search *s;
    splitee_error err;
    cr_assert_eq(splitee_table_from_logits("bare", splitee_table_logits(t), 50, 4, 3, NULL, &bare, &err), 0);
    cr_assert_eq(splitee_search_create(bare, bb, head, SPLITEE_CONFIDENCE_MAX_SOFTMAX, &s, &err), SPLITEE_ERR_ARG);
    cr_assert(strstr(err.msg, "labels"));
    cr_assert_eq(splitee_search_create(t, bad, head, SPLITEE_CONFIDENCE_MAX_SOFTMAX, &s, &err), SPLITEE_ERR_VALUE);
    cr_assert(strstr(err.msg, "candidate 3"), "%s", err.msg);
    cr_assert_eq(splitee_search_create(t, bb, head, SPLITEE_CONFIDENCE_MAX_SOFTMAX, &s, &err), 0);
    splitee_search_config cfg;
    splitee_search_result res;
    splitee_search_config_default(&cfg);
    cfg.ngrid = 0;
    cr_assert_eq(splitee_search_run(s, &cfg, &res, &err), SPLITEE_ERR_ARG);
    cr_assert(strstr(err.msg, "empty"), "%s", err.msg);
    cr_assert_null(res.front);
    const double unsorted[] = { 0.5, 0.4 };
    splitee_search_config_default(&cfg);
    cfg.grid = unsorted;
    cfg.ngrid = 2;
    cr_assert_eq(splitee_search_run(s, &cfg, &res, &err), SPLITEE_ERR_ARG);
    /* a budget below the cheapest configuration: VALUE, the closest
     * reported (the fewest mean MACs), nothing else substituted */
    splitee_search_config_default(&cfg);
    cfg.limit = 5;
    cr_assert_eq(splitee_search_run(s, &cfg, &res, &err), SPLITEE_ERR_VALUE);
    cr_assert_eq(res.met, 0);
    cr_assert(strstr(err.msg, "closest"), "%s", err.msg);
    for (int i = 0; i < res.nfront; i++)
        cr_assert(res.front[i].mean_macs >= res.chosen.mean_macs);
    splitee_search_result_free(&res);
    cfg.budget = SPLITEE_BUDGET_ACCURACY;
    cfg.limit = 1.01;
    cr_assert_eq(splitee_search_run(s, &cfg, &res, &err), SPLITEE_ERR_VALUE);
    for (int i = 0; i < res.nfront; i++)
        cr_assert(res.front[i].accuracy <= res.chosen.accuracy);
    splitee_search_result_free(&res);
    cfg.budget = SPLITEE_BUDGET_LATENCY;
    cfg.limit = 1;
    cr_assert_eq(splitee_search_run(s, &cfg, &res, &err), SPLITEE_ERR_ARG);   /* no rate */
    cfg.device_macs_per_s = 1000;   /* 1 ms: 1 MAC... none fits */
    cr_assert_eq(splitee_search_run(s, &cfg, &res, &err), SPLITEE_ERR_VALUE);
    cr_assert_eq(res.chosen.max_macs, 41.0);   /* the final alone: 40 + its head */
    splitee_search_result_free(&res);
    cfg.limit = 41;                            /* exactly the final alone */
    cr_assert_eq(splitee_search_run(s, &cfg, &res, &err), 0);
    cr_assert_eq(res.chosen.plan.keep, 0u);
    splitee_search_result_free(&res);
    splitee_search_free(s);
    splitee_table_free(t);
    splitee_table_free(bare);
    /* exhaustive past 17 candidates */
    t = rand_table(10, 18, 2, 1);
    double b18[18], h18[18];
    rand_macs(18, b18, h18);
    cr_assert_eq(splitee_search_create(t, b18, h18, SPLITEE_CONFIDENCE_MAX_SOFTMAX, &s, &err), 0);
    splitee_search_config_default(&cfg);
    cfg.method = SPLITEE_SEARCH_METHOD_EXHAUSTIVE;
    cr_assert_eq(splitee_search_run(s, &cfg, &res, &err), SPLITEE_ERR_ARG);
    cr_assert(strstr(err.msg, "at most 17"), "%s", err.msg);
    splitee_search_free(s);
    splitee_table_free(t);
}

/* Every exit's logits of model dir on `n` random inputs, (n, layers, classes). */
static float *model_logits(const char *dir, int n, unsigned seed, int *layers, int *classes)
{
    splitee_model *m;
    splitee_error err;
    cr_assert_eq(splitee_model_load(dir, &m, &err), 0, "%s: %s", dir, err.msg);
    const splitee_model_config *c = splitee_model_get_config(m);
    *layers = c->layers;
    *classes = c->classes;
    splitee_engine_state *st;
    cr_assert_eq(splitee_engine_state_create(m, &st, &err), 0);
    size_t in = splitee_model_split_elems(m, 0);
    float *x = malloc(in * sizeof *x);
    float *out = malloc((size_t)n * (size_t)c->layers * (size_t)c->classes * sizeof *out);
    rng_state = seed;
    for (int i = 0; i < n; i++) {
        for (size_t e = 0; e < in; e++)
            x[e] = (float)urand();
        cr_assert_eq(splitee_engine_forward_normalised(st, x, out + (size_t)i * (size_t)c->layers * (size_t)c->classes,
                                                       &err), 0, "%s", err.msg);
    }
    free(x);
    splitee_engine_state_free(st);
    splitee_model_free(m);
    return out;
}

static void check_variant(const char *name, const char *orig, uint64_t keep)
{
    int L, K, L2, K2;
    float *a = model_logits(orig, 4, 17, &L, &K);
    splitee_search_plan p = { .candidates = L, .keep = keep };
    char *json;
    void *w;
    size_t wl;
    splitee_error err;
    cr_assert_eq(splitee_search_variant(orig, &p, &json, &w, &wl, &err), 0, "%s", err.msg);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", tu_path(name));
    cr_assert_eq(mkdir(dir, 0700), 0);
    char path[4200];
    snprintf(path, sizeof path, "%s/model.json", name);
    tu_write(path, json, strlen(json));
    snprintf(path, sizeof path, "%s/model.safetensors", name);
    tu_write(path, w, wl);
    float *b = model_logits(dir, 4, 17, &L2, &K2);
    int kept = 0;
    for (int j = 0; j < L; j++)
        kept += j == L - 1 || (keep >> j & 1);
    cr_assert_eq(L2, kept);
    cr_assert_eq(K2, K);
    for (int i = 0; i < 4; i++) {
        int v = 0;
        for (int j = 0; j < L; j++) {
            if (!(j == L - 1 || (keep >> j & 1)))
                continue;
            cr_assert_eq(memcmp(a + ((size_t)i * L + j) * K, b + ((size_t)i * L2 + v) * K, (size_t)K * sizeof *a), 0,
                         "%s: exit %d differs", name, j + 1);
            v++;
        }
    }
    free(a);
    free(b);
    free(json);
    free(w);
}

Test(search, variant_keeps_the_logits_of_its_exits)
{
    /* the CLI's cnn28 fixture: a residual in stage 3 */
    check_variant("v-cnn28-13", "fixtures/cnn28", 1);      /* exits 1, 3 */
    check_variant("v-cnn28-23", "fixtures/cnn28", 2);      /* exits 2, 3: stages 1+2 merged */
    check_variant("v-cnn28-3", "fixtures/cnn28", 0);       /* the final alone */
    /* the tiny CNN: residuals and saved names in every stage */
    tm_model tm;
    tm_cnn(&tm, 3);
    const char *d = tm_write("tiny", NULL, &tm);
    char orig[4096];
    snprintf(orig, sizeof orig, "%s", d);
    check_variant("v-tiny-3", orig, 0);
    check_variant("v-tiny-23", orig, 2);
    tm_free(&tm);
    /* a stage reading its own input in a residual ("from": "input") once merged */
    const char *json =
        "{\"format\": \"splitee-model\", \"version\": 2, \"weights\": \"model.safetensors\", \"dtype\": \"F32\","
        " \"classes\": 3, \"input\": {\"shape\": [2, 4], \"mean\": 0, \"std\": 1},"
        " \"stages\": ["
        "  {\"ops\": [{\"op\": \"linear\", \"param\": \"a\", \"out\": 4}, {\"op\": \"relu\"}],"
        "   \"exit\": [{\"op\": \"token_mean\"}, {\"op\": \"linear\", \"param\": \"e0\", \"out\": 3}]},"
        "  {\"ops\": [{\"op\": \"linear\", \"param\": \"b\", \"out\": 4}, {\"op\": \"add\", \"from\": \"input\"}],"
        "   \"exit\": [{\"op\": \"token_mean\"}, {\"op\": \"linear\", \"param\": \"e1\", \"out\": 3}]}]}";
    tm_model lin = { 0 };
    lin.n = 8;
    lin.t = calloc(8, sizeof *lin.t);
    const char *names[] = { "a.weight", "a.bias", "e0.weight", "e0.bias", "b.weight", "b.bias", "e1.weight", "e1.bias" };
    size_t rows[] = { 4, 4, 3, 3, 4, 4, 3, 3 };
    rng_state = 5;
    for (int i = 0; i < 8; i++) {
        snprintf(lin.t[i].name, sizeof lin.t[i].name, "%s", names[i]);
        int mat = strstr(names[i], "weight") != NULL;
        lin.t[i].ndim = mat ? 2 : 1;
        lin.t[i].shape[0] = rows[i];
        lin.t[i].shape[1] = 4;
        lin.t[i].count = rows[i] * (mat ? 4 : 1);
        lin.t[i].data = malloc(lin.t[i].count * sizeof(float));
        for (size_t e = 0; e < lin.t[i].count; e++)
            lin.t[i].data[e] = (float)(urand() - 0.5);
    }
    lin.json = strdup(json);
    d = tm_write("lin", json, &lin);
    snprintf(orig, sizeof orig, "%s", d);
    check_variant("v-lin-2", orig, 0);
    tm_free(&lin);
    /* a configuration over the wrong number of candidates */
    splitee_search_plan p = { .candidates = 5 };
    char *j2;
    void *w;
    size_t wl;
    splitee_error err;
    cr_assert_eq(splitee_search_variant("fixtures/cnn28", &p, &j2, &w, &wl, &err), SPLITEE_ERR_SHAPE);
    cr_assert(strstr(err.msg, "3 stages"), "%s", err.msg);
}
