/* bench3_engine.c -- the C engine's side of the three-way benchmark
 * (tools/bench3.sh: splitee, PyTorch eager, ONNX Runtime on the same model,
 * inputs and thread counts). Prints one "RESULT" line and writes the
 * logits of every exit for the batch, to be compared with the peers'.
 *
 *   build/bench/bench3_engine MODEL_DIR INPUTS.f32 THREADS REPS LOGITS_OUT
 *
 * INPUTS.f32: 64 normalised inputs, raw little-endian float32, each the
 * model's input size (written by tools/bench_torch.py --bench3-inputs).
 * batch 1: median over REPS single full forwards (every stage, every exit)
 * after 50 warm-up forwards, on the calling thread (the engine runs one
 * sample per thread, so batch 1 uses one thread whatever THREADS is).
 * batch 64: THREADS worker threads, each with its own run state, take 64 /
 * THREADS images each; the median over max(20, REPS / 20) batches after 3
 * warm-up batches (workers start and stop on a barrier, created once).
 * FLOPs: 2 x (splitee_model_stage_macs + splitee_model_exit_macs) over all
 * stages and exits. Also measures an AVX-512 FMA peak (one core).
 * RESULT fields: engine threads b1_median_s b64_median_s b64_min_s mflop_per_image
 *                avx512_peak_gflops kernels */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "splitee/splitee.h"
#include "engine/kernels.h"
#include "engine/model_internal.h"

#define BATCH 64
#define MAX_THREADS 16

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "bench3_engine: %s: %s\n", what, msg);
    exit(2);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return v[n / 2];
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
/* 12 independent 16-lane FMA chains, all in registers (named variables:
 * an array would be kept in memory): 12 * 16 * 2 FLOPs per iteration. */
__attribute__((target("avx512f"))) static double fma_peak_avx512(long iters)
{
    __m512 a0 = _mm512_set1_ps(1.00f), a1 = _mm512_set1_ps(1.01f), a2 = _mm512_set1_ps(1.02f);
    __m512 a3 = _mm512_set1_ps(1.03f), a4 = _mm512_set1_ps(1.04f), a5 = _mm512_set1_ps(1.05f);
    __m512 a6 = _mm512_set1_ps(1.06f), a7 = _mm512_set1_ps(1.07f), a8 = _mm512_set1_ps(1.08f);
    __m512 a9 = _mm512_set1_ps(1.09f), a10 = _mm512_set1_ps(1.10f), a11 = _mm512_set1_ps(1.11f);
    const __m512 m = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
    double t0 = now();
    for (long i = 0; i < iters; i++) {
        a0 = _mm512_fmadd_ps(a0, m, b);
        a1 = _mm512_fmadd_ps(a1, m, b);
        a2 = _mm512_fmadd_ps(a2, m, b);
        a3 = _mm512_fmadd_ps(a3, m, b);
        a4 = _mm512_fmadd_ps(a4, m, b);
        a5 = _mm512_fmadd_ps(a5, m, b);
        a6 = _mm512_fmadd_ps(a6, m, b);
        a7 = _mm512_fmadd_ps(a7, m, b);
        a8 = _mm512_fmadd_ps(a8, m, b);
        a9 = _mm512_fmadd_ps(a9, m, b);
        a10 = _mm512_fmadd_ps(a10, m, b);
        a11 = _mm512_fmadd_ps(a11, m, b);
        __asm__ volatile("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4), "+v"(a5));
    }
    double dt = now() - t0;
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                             _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
    float sink[16];
    _mm512_storeu_ps(sink, s);
    if (sink[0] == 12345.0f)
        puts("");
    return (double)iters * 12 * 16 * 2 / dt;
}
static double peak_gflops(void)
{
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f"))
        return 0.0;
    double best = 0.0;
    fma_peak_avx512(20000000); /* warm up the clock */
    for (int r = 0; r < 40; r++) {
        double v = fma_peak_avx512(500000);
        best = v > best ? v : best;
    }
    return best * 1e-9;
}
#else
static double peak_gflops(void) { return 0.0; }
#endif

typedef struct {
    const splitee_model *m;
    const float *in;
    size_t per, nlog;
    float *logits; /* (BATCH, exits * classes) */
    int first, count;
    pthread_barrier_t *start, *done;
    volatile int *stop;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    splitee_engine_state *s;
    splitee_error e;
    if (splitee_engine_state_create(w->m, &s, &e) < 0)
        die("run state", e.msg);
    for (;;) {
        pthread_barrier_wait(w->start);
        if (*w->stop)
            break;
        for (int i = w->first; i < w->first + w->count; i++)
            if (splitee_engine_forward_normalised(s, w->in + (size_t)i * w->per,
                                                  w->logits + (size_t)i * w->nlog, &e) < 0)
                die("forward", e.msg);
        pthread_barrier_wait(w->done);
    }
    splitee_engine_state_free(s);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: bench3_engine MODEL_DIR INPUTS.f32 THREADS REPS LOGITS_OUT\n");
        return 2;
    }
    int threads = atoi(argv[3]), reps = atoi(argv[4]);
    if (threads < 1 || threads > MAX_THREADS || BATCH % threads != 0 || reps < 1)
        die(argv[3], "THREADS must divide 64 (1..16) and REPS be positive");
    splitee_model *m;
    splitee_error e;
    if (splitee_model_load(argv[1], &m, &e) < 0)
        die(argv[1], e.msg);
    const splitee_model_config *c = splitee_model_get_config(m);
    int L = c->layers;
    size_t per = splitee_model_split_elems(m, 0), nlog = (size_t)L * (size_t)c->classes;
    double macs = 0.0;
    for (int i = 1; i <= L; i++)
        macs += (double)splitee_model_stage_macs(m, i) + (double)splitee_model_exit_macs(m, i);
    float *in = malloc(BATCH * per * sizeof *in), *logits = malloc(BATCH * nlog * sizeof *logits);
    FILE *f = fopen(argv[2], "rb");
    if (!f || fread(in, sizeof *in, BATCH * per, f) != BATCH * per)
        die(argv[2], "cannot read 64 inputs of the model's input size");
    fclose(f);

    /* batch 1 */
    splitee_engine_state *s;
    if (splitee_engine_state_create(m, &s, &e) < 0)
        die("run state", e.msg);
    for (int r = 0; r < 50; r++)
        splitee_engine_forward_normalised(s, in + (size_t)(r % BATCH) * per, logits, &e);
    double *t = malloc((size_t)reps * sizeof *t);
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        if (splitee_engine_forward_normalised(s, in + (size_t)(r % BATCH) * per, logits, &e) < 0)
            die("forward", e.msg);
        t[r] = now() - t0;
    }
    double b1 = median(t, (size_t)reps);
    splitee_engine_state_free(s);

    /* batch 64 */
    pthread_barrier_t start, done;
    pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
    pthread_barrier_init(&done, NULL, (unsigned)threads + 1);
    volatile int stop = 0;
    pthread_t th[MAX_THREADS];
    worker w[MAX_THREADS];
    for (int i = 0; i < threads; i++) {
        w[i] = (worker){ m, in, per, nlog, logits, i * (BATCH / threads), BATCH / threads,
                         &start, &done, &stop };
        pthread_create(&th[i], NULL, work, &w[i]);
    }
    int breps = reps / 20 > 20 ? reps / 20 : 20;
    double *tb = malloc((size_t)breps * sizeof *tb);
    for (int r = -3; r < breps; r++) {
        double t0 = now();
        pthread_barrier_wait(&start);
        pthread_barrier_wait(&done);
        if (r >= 0)
            tb[r] = now() - t0;
    }
    stop = 1;
    pthread_barrier_wait(&start);
    for (int i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    double b64 = median(tb, (size_t)breps), b64min = tb[0]; /* sorted by median() */

    f = fopen(argv[5], "wb");
    if (!f || fwrite(logits, sizeof *logits, BATCH * nlog, f) != BATCH * nlog || fclose(f) != 0)
        die(argv[5], "cannot write the logits");
    printf("RESULT splitee %d %.9g %.9g %.9g %.6f %.2f %s\n", threads, b1, b64, b64min,
           2.0 * macs * 1e-6,
           peak_gflops(), splitee__model_kernels(m)->name);
    free(t);
    free(tb);
    free(in);
    free(logits);
    splitee_model_free(m);
    return 0;
}
