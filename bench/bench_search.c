/* bench_search.c -- configuration-search speed (search.h) on the shipped
 * ViT table: configurations measured per second by the precomputed
 * evaluation (splitee_search_evaluate), against its peer in the same run,
 * a naive evaluation that recomputes every confidence from the logits;
 * DP solves per second; and whole searches (exhaustive over the 2^11
 * subsets, greedy) with their configurations per second.
 *
 *   build/bench/bench_search [TABLE LABELS MODEL]
 *       (default data/fmnist-clean.npy data/fmnist-test-labels.npy data/model)
 *
 * The calibration part is the table's first half, as docs/SEARCH.md uses
 * it. Each figure is the best of 3 runs (wall clock, CLOCK_MONOTONIC). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "splitee/splitee.h"

#define RUNS 3

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t st = 88172645463325252ULL;
static double urand(void)
{
    st ^= st << 13;
    st ^= st >> 7;
    st ^= st << 17;
    return (double)(st >> 11) / 9007199254740992.0;
}

/* The naive peer: every confidence computed from the logits per plan. */
static double naive_eval(const splitee_table *t, const double *bb, const double *head, const splitee_search_plan *p)
{
    size_t N = splitee_table_samples(t);
    int C = splitee_table_exits(t), K = splitee_table_classes(t);
    const double *lg = splitee_table_logits(t);
    const int32_t *lab = splitee_table_labels(t);
    double sum = 0, right = 0;
    for (size_t n = 0; n < N; n++) {
        double heads = 0;
        for (int j = 0; j < C; j++) {
            if (j < C - 1 && !(p->keep >> j & 1))
                continue;
            heads += head[j];
            int32_t y;
            double c = splitee_confidence_of(lg + (n * (size_t)C + (size_t)j) * (size_t)K, K,
                                             SPLITEE_CONFIDENCE_MAX_SOFTMAX, &y);
            if (j == C - 1 || c >= p->thr[j]) {
                sum += bb[j] + heads;
                right += y == lab[n];
                break;
            }
        }
    }
    return sum + right;
}

static void rand_plan(splitee_search_plan *p, int C)
{
    memset(p, 0, sizeof *p);
    p->candidates = C;
    p->keep = (uint64_t)(urand() * (double)((uint64_t)1 << (C - 1)));
    for (int j = 0; j < C - 1; j++)
        if (p->keep >> j & 1)
            p->thr[j] = 0.3 + 0.69 * urand();
}

int main(int argc, char **argv)
{
    const char *tp = argc > 3 ? argv[1] : "data/fmnist-clean.npy";
    const char *lp = argc > 3 ? argv[2] : "data/fmnist-test-labels.npy";
    const char *mp = argc > 3 ? argv[3] : "data/model";
    splitee_error e;
    splitee_table *full, *t;
    splitee_model *m;
    if (splitee_table_load_npy(tp, lp, SPLITEE_LAYOUT_SAMPLES_FIRST, &full, &e) < 0 ||
        splitee_model_load(mp, &m, &e) < 0) {
        fprintf(stderr, "bench_search: %s\n", e.msg);
        return 2;
    }
    int C = splitee_table_exits(full), K = splitee_table_classes(full);
    size_t N = splitee_table_samples(full) / 2;
    if (splitee_table_from_logits(tp, splitee_table_logits(full), N, C, K, splitee_table_labels(full), &t, &e) < 0) {
        fprintf(stderr, "bench_search: %s\n", e.msg);
        return 2;
    }
    double bb[SPLITEE_MAX_EXITS], head[SPLITEE_MAX_EXITS], acc = 0;
    for (int j = 0; j < C; j++) {
        acc += (double)splitee_model_stage_macs(m, j + 1);
        bb[j] = acc;
        head[j] = (double)splitee_model_exit_macs(m, j + 1);
    }
    splitee_search *s;
    if (splitee_search_create(t, bb, head, SPLITEE_CONFIDENCE_MAX_SOFTMAX, &s, &e) < 0) {
        fprintf(stderr, "bench_search: %s\n", e.msg);
        return 2;
    }
    printf("table %s: first %zu samples, %d candidates\n", tp, N, C);
    enum { PLANS = 2000, NAIVE = 50 };
    static splitee_search_plan plans[PLANS];
    for (int i = 0; i < PLANS; i++)
        rand_plan(&plans[i], C);
    double best = 1e30, nbest = 1e30, sink = 0;
    for (int r = 0; r < RUNS; r++) {
        double t0 = now();
        for (int i = 0; i < PLANS; i++) {
            splitee_search_point pt;
            splitee_search_evaluate(s, &plans[i], &pt, NULL);
            sink += pt.mean_macs;
        }
        double dt = now() - t0;
        best = dt < best ? dt : best;
        t0 = now();
        for (int i = 0; i < NAIVE; i++)
            sink += naive_eval(t, bb, head, &plans[i]);
        dt = now() - t0;
        nbest = dt < nbest ? dt : nbest;
    }
    printf("%-44s %14.0f\n", "evaluate (precomputed), configurations/s", PLANS / best);
    printf("%-44s %14.0f\n", "naive (confidences from logits), configurations/s", NAIVE / nbest);
    splitee_search_config cfg;
    splitee_search_config_default(&cfg);
    double dbest = 1e30;
    for (int r = 0; r < RUNS; r++) {
        double t0 = now();
        for (int i = 0; i < 20; i++) {
            double thr[SPLITEE_MAX_EXITS], cost;
            splitee_search_dp(s, plans[i].keep, cfg.grid, cfg.ngrid, 0.5, thr, &cost, NULL);
            sink += cost;
        }
        double dt = now() - t0;
        dbest = dt < dbest ? dt : dbest;
    }
    printf("%-44s %14.0f\n", "splitee_search_dp alone (levels + tables), solves/s", 20 / dbest);
    for (int method = SPLITEE_SEARCH_METHOD_EXHAUSTIVE; method <= SPLITEE_SEARCH_METHOD_GREEDY; method++) {
        cfg.method = (splitee_search_method)method;
        double rbest = 1e30, evaluated = 0;
        for (int r = 0; r < RUNS; r++) {
            splitee_search_result res;
            double t0 = now();
            splitee_search_run(s, &cfg, &res, NULL);
            double dt = now() - t0;
            rbest = dt < rbest ? dt : rbest;
            evaluated = res.evaluated;
            sink += res.chosen.accuracy;
            splitee_search_result_free(&res);
        }
        printf("search %-10s %8.0f configurations in %7.3f s: %14.0f configurations/s\n",
               splitee_search_method_name((splitee_search_method)method), evaluated, rbest, evaluated / rbest);
    }
    if (sink < 0)
        printf("!\n");
    splitee_search_free(s);
    splitee_table_free(t);
    splitee_table_free(full);
    splitee_model_free(m);
    return 0;
}
