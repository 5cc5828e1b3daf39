/* bench_link.c -- link-simulator speed: transfers priced per second
 * (splitee_link_price) on each shipped profile, and the time to build a
 * replay's offload schedule for the shipped table (10000 rounds x 12 arms).
 *
 *   build/bench/bench_link [PROFILE_DIR]     (default data/links)
 *
 * Each figure is the best of 5 runs (wall clock, CLOCK_MONOTONIC). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "splitee/splitee.h"

#define RUNS 5

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "data/links";
    static const char *names[] = { "wifi", "lte", "3g", "lte-ge", "lte-trace", "lte-mahimahi", "degrading" };
    enum { ROUNDS = 10000, ARMS = 12 };
    static double o[ROUNDS * ARMS];
    size_t bytes[ARMS];
    printf("%-14s %14s %16s\n", "profile", "prices/s", "schedule_ms");
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s.json", dir, names[i]);
        splitee_link *lk;
        splitee_error e;
        if (splitee_link_load(path, &lk, &e) < 0) {
            fprintf(stderr, "bench_link: %s\n", e.msg);
            return 2;
        }
        for (int a = 0; a < ARMS; a++)
            bytes[a] = a + 1 < ARMS ? splitee_link_payload_bytes(lk, SPLITEE_PAYLOAD_ENCODING_F32, 16, 64) : 0;
        double best = 1e30, sink = 0;
        for (int r = 0; r < RUNS; r++) {
            double t0 = now();
            for (int k = 0; k < 100000; k++) {
                splitee_transfer t;
                splitee_link_price(lk, bytes[0], k * 0.1, (uint64_t)k, &t);
                sink += t.cost;
            }
            double dt = now() - t0;
            best = dt < best ? dt : best;
        }
        double sbest = 1e30;
        for (int r = 0; r < RUNS; r++) {
            double t0 = now();
            splitee_link_schedule(lk, bytes, ARMS, ROUNDS, 0.0, 100.0, 1, o);
            double dt = now() - t0;
            sbest = dt < sbest ? dt : sbest;
        }
        printf("%-14s %14.0f %16.2f%s\n", names[i], 100000 / best, sbest * 1e3, sink < 0 ? "!" : "");
        splitee_link_free(lk);
    }
    return 0;
}
