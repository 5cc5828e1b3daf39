/* bench_replay.c -- replay speed: rounds per second per policy (one thread
 * and all threads) and the time of the paper's full grid (11 offloading
 * costs x 20 repetitions x {splitee, splitee-s}) on the shipped table.
 *
 *   build/bench_replay [LOGITS.npy [LABELS.npy [POLICY,...]]]
 *
 * A third argument times only the policies named (and skips the grid), for
 * a quick look at one policy on a busy machine.
 * Each figure is the best of 5 runs (wall clock, CLOCK_MONOTONIC), so that a
 * busy machine's noise is not reported as the code's speed. Curves are off,
 * as they would be for a sweep that only wants the table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "splitee/splitee.h"

#define RUNS 5

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void die(const splitee_error *e)
{
    fprintf(stderr, "bench_replay: %s\n", e->msg);
    exit(2);
}

/* Best-of-RUNS seconds for one replay call. */
static double time_run(const splitee_replay *rp, const splitee_setting *set, int nset,
                       const splitee_policy_config *pols, int np, const splitee_replay_config *rc)
{
    double best = 1e30;
    for (int r = 0; r < RUNS; r++) {
        splitee_result *res;
        splitee_error e;
        double t0 = now();
        if (splitee_replay_run(rp, set, nset, pols, np, rc, &res, &e) < 0)
            die(&e);
        double dt = now() - t0;
        splitee_results_free(res, nset);
        if (dt < best)
            best = dt;
    }
    return best;
}

int main(int argc, char **argv)
{
    const char *logits = argc > 1 ? argv[1] : "data/fmnist-clean.npy";
    const char *labels = argc > 2 ? argv[2] : "data/fmnist-test-labels.npy";
    splitee_error e;
    splitee_table *t;
    if (splitee_table_load(logits, labels, SPLITEE_LAYOUT_SAMPLES_FIRST, &t, &e) < 0)
        die(&e);
    splitee_replay *rp;
    if (splitee_replay_prepare(t, SPLITEE_CONFIDENCE_MAX_SOFTMAX, &rp, &e) < 0)
        die(&e);
    size_t n = splitee_replay_samples(rp);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    printf("table %s: %zu samples x %d exits; %ld CPUs\n\n", logits, n,
           splitee_replay_exits(rp), cpus);

    splitee_setting set;
    splitee_setting_default(&set);
    splitee_replay_config rc;
    splitee_replay_config_default(&rc);
    rc.curves = 0;
    rc.repetitions = 20;

    static const char *names[] = { "splitee", "splitee-s", "final", "random", "oracle",
                                   "ee-threshold", "epsilon-greedy", "thompson", "kl-ucb", "ucb-v",
                                   "sw-ucb", "d-ucb", "sw-ucb-s", "d-ucb-s", "splitee-alpha" };
    const char *only = argc > 3 ? argv[3] : NULL;
    printf("%-16s %18s %18s\n", "policy", "Mrounds/s 1 thread", "Mrounds/s all");
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        if (only) {   /* a comma list: names[i] must be one of its items */
            size_t len = strlen(names[i]);
            const char *hit = only;
            while ((hit = strstr(hit, names[i])) &&
                   !((hit == only || hit[-1] == ',') && (hit[len] == ',' || hit[len] == '\0')))
                hit += len;
            if (!hit)
                continue;
        }
        splitee_policy_config pc;
        splitee_policy_config_default(&pc);
        splitee_policy_parse(names[i], &pc);
        rc.threads = 1;
        double t1 = time_run(rp, &set, 1, &pc, 1, &rc);
        rc.threads = 0;
        double ta = time_run(rp, &set, 1, &pc, 1, &rc);
        double rounds = (double)n * rc.repetitions;
        printf("%-16s %18.1f %18.1f\n", names[i], rounds / t1 / 1e6, rounds / ta / 1e6);
    }

    if (only) {
        splitee_replay_free(rp);
        splitee_table_free(t);
        return 0;
    }
    splitee_setting grid[11];
    for (int k = 0; k < 11; k++) {
        splitee_setting_default(&grid[k]);
        grid[k].reward.offload = 0.1 + 0.05 * k;
    }
    splitee_policy_config two[2];
    splitee_policy_config_default(&two[0]);
    splitee_policy_config_default(&two[1]);
    two[1].kind = SPLITEE_POLICY_KIND_SPLITEE_S;
    rc.threads = 0;
    double tg = time_run(rp, grid, 11, two, 2, &rc);
    rc.curves = 1;
    double tgc = time_run(rp, grid, 11, two, 2, &rc);
    printf("\ngrid 11 offload costs x 20 reps x {splitee, splitee-s} (%.1f M rounds), all threads:\n"
           "  %.3f s without curves, %.3f s with 1000-point curves (goal < 0.5 s)\n",
           11 * 20 * 2 * (double)n / 1e6, tg, tgc);
    splitee_replay_free(rp);
    splitee_table_free(t);
    return 0;
}
