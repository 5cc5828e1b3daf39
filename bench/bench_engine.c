/* bench_engine.c -- speed of the C inference engine on the shipped model:
 * batch-1 latency of a full forward through every exit (median, p90), the
 * median of the embedding, of each layer and of each exit head, throughput
 * with one run state per thread (1 thread and all CPUs), the model's FLOP
 * count and the GFLOP/s achieved against this machine's measured FMA peak,
 * and the peak resident memory of the loaded model + run state.
 *
 *   build/bench/bench_engine [MODEL_DIR [REPS]]
 *
 * MODEL_DIR defaults to data/model; the inputs are its parity fixture
 * (fixture/inputs.npy, already normalised), used in turn. Every figure is
 * measured for each kernel path the CPU supports (the portable C path,
 * forced with SPLITEE_SIMD=off, and the AVX2+FMA path when the CPU has it);
 * each path gets its own freshly loaded model. Wall clock is
 * CLOCK_MONOTONIC; latencies are medians over REPS single calls,
 * throughput and the FMA peak the best of a few runs (a busy machine only
 * makes them lower). Compare with tools/bench_torch.py (same model, same
 * inputs); tools/bench.sh runs both. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "splitee/splitee.h"
#include "engine/kernels.h"
#include "engine/model_internal.h"

#define MAX_LAYERS SPLITEE_MAX_EXITS

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what, const splitee_error *e)
{
    fprintf(stderr, "bench_engine: %s: %s\n", what, e->msg);
    exit(2);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* q-quantile (0..1) of n values; sorts v in place. */
static double quantile(double *v, size_t n, double q)
{
    qsort(v, n, sizeof *v, cmp_double);
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return v[i];
}

/* ---- FLOP count -------------------------------------------------------------- */

/* From the model's op list (splitee_model_stage_macs / _exit_macs, any
 * format version): a multiply-accumulate counts 2 FLOPs; norms, softmax,
 * activations, residual adds and pooling count 0 (a few percent of the
 * total, and their cost is transcendental functions, not FLOPs). Layer i
 * (0-based) is stage i + 1; the ViT's first stage includes the patch
 * embedding. */
static double layer_flops(const splitee_model *m, int i)
{
    return 2.0 * (double)splitee_model_stage_macs(m, i + 1);
}

static double exit_flops(const splitee_model *m, int i)
{
    return 2.0 * (double)splitee_model_exit_macs(m, i + 1);
}

/* ---- FMA peak ------------------------------------------------------------------ */

#define PEAK_ITERS 20000000L

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#include <immintrin.h>
/* 12 independent chains of 8-wide FMAs, each in its own register (an
 * array would be kept in memory): 12 * 8 * 2 FLOPs per iteration. */
__attribute__((target("avx2,fma"))) static double fma_peak_avx2(long iters)
{
    __m256 a0 = _mm256_set1_ps(1.00f), a1 = _mm256_set1_ps(1.01f), a2 = _mm256_set1_ps(1.02f);
    __m256 a3 = _mm256_set1_ps(1.03f), a4 = _mm256_set1_ps(1.04f), a5 = _mm256_set1_ps(1.05f);
    __m256 a6 = _mm256_set1_ps(1.06f), a7 = _mm256_set1_ps(1.07f), a8 = _mm256_set1_ps(1.08f);
    __m256 a9 = _mm256_set1_ps(1.09f), a10 = _mm256_set1_ps(1.10f), a11 = _mm256_set1_ps(1.11f);
    const __m256 m = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
    double t0 = now();
    for (long i = 0; i < iters; i++) {
        a0 = _mm256_fmadd_ps(a0, m, b);
        a1 = _mm256_fmadd_ps(a1, m, b);
        a2 = _mm256_fmadd_ps(a2, m, b);
        a3 = _mm256_fmadd_ps(a3, m, b);
        a4 = _mm256_fmadd_ps(a4, m, b);
        a5 = _mm256_fmadd_ps(a5, m, b);
        a6 = _mm256_fmadd_ps(a6, m, b);
        a7 = _mm256_fmadd_ps(a7, m, b);
        a8 = _mm256_fmadd_ps(a8, m, b);
        a9 = _mm256_fmadd_ps(a9, m, b);
        a10 = _mm256_fmadd_ps(a10, m, b);
        a11 = _mm256_fmadd_ps(a11, m, b);
        __asm__ volatile("" : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(a4), "+x"(a5));
    }
    double dt = now() - t0;
    float sink[8];
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                             _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
    _mm256_storeu_ps(sink, s);
    if (sink[0] == 12345.0f)
        puts("");
    return (double)iters * 12 * 8 * 2 / dt;
}
static int have_avx2_fma(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#else
static double fma_peak_avx2(long iters) { (void)iters; return 0.0; }
static int have_avx2_fma(void) { return 0; }
#endif

/* Best of 40 short runs (about 2 ms each): a busy machine only ever lowers
 * the figure, and a short run has a chance to go uninterrupted. */
static double fma_peak_best(void)
{
    double best = 0.0;
    for (int r = 0; r < 40; r++) {
        double v = fma_peak_avx2(PEAK_ITERS / 20);
        best = v > best ? v : best;
    }
    return best;
}

static void *peak_thread(void *arg)
{
    *(double *)arg = fma_peak_best();
    return NULL;
}

/* FLOP/s of one core and of all `cpus` cores at once (0 without AVX2+FMA). */
static void fma_peak(int cpus, double *one, double *all)
{
    *one = *all = 0.0;
    if (!have_avx2_fma())
        return;
    fma_peak_avx2(PEAK_ITERS / 10); /* warm up the clock */
    *one = fma_peak_best();
    pthread_t th[64];
    double r[64];
    int n = cpus < 64 ? cpus : 64;
    for (int i = 0; i < n; i++)
        pthread_create(&th[i], NULL, peak_thread, &r[i]);
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        *all += r[i];
    }
}

/* ---- memory -------------------------------------------------------------------- */

/* VmHWM / VmRSS of this process in kB from /proc/self/status (-1 if absent). */
static long proc_status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long v = -1;
    size_t k = strlen(key);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, k) == 0 && line[k] == ':') {
            v = strtol(line + k + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

static long maxrss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* ---- the engine ---------------------------------------------------------------- */

typedef struct inputs {
    const float *data; /* (n, the model's input shape) normalised */
    size_t n, per;     /* samples, floats per sample */
} inputs;

typedef struct job {
    const splitee_model *m;
    const inputs *in;
    long samples;
    size_t first;
    double seconds;
} job;

static void *throughput_thread(void *arg)
{
    job *j = arg;
    const splitee_model_config *c = splitee_model_get_config(j->m);
    splitee_engine_state *s;
    splitee_error e;
    if (splitee_engine_state_create(j->m, &s, &e) < 0)
        die("run state", &e);
    float logits[MAX_LAYERS * 64];
    (void)c;
    double t0 = now();
    for (long k = 0; k < j->samples; k++) {
        size_t i = (j->first + (size_t)k) % j->in->n;
        if (splitee_engine_forward_normalised(s, j->in->data + i * j->in->per, logits, &e) < 0)
            die("forward", &e);
    }
    j->seconds = now() - t0;
    splitee_engine_state_free(s);
    return NULL;
}

/* images/s of `threads` threads, each with its own run state, running
 * `per_thread` full forwards; best of 3. */
static double throughput_once(const splitee_model *m, const inputs *in, int threads,
                              long per_thread)
{
    pthread_t th[64];
    job jobs[64];
    double t0 = now();
    for (int i = 0; i < threads; i++) {
        jobs[i] = (job){ m, in, per_thread, (size_t)i * 7, 0.0 };
        pthread_create(&th[i], NULL, throughput_thread, &jobs[i]);
    }
    for (int i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    double wall = now() - t0;
    return (double)threads * (double)per_thread / wall;
}

static double throughput(const splitee_model *m, const inputs *in, int threads, long per_thread)
{
    double best = 0.0;
    for (int r = 0; r < 3; r++) {
        double v = throughput_once(m, in, threads, per_thread);
        best = v > best ? v : best;
    }
    return best;
}

static void bench_path(const char *dir, const inputs *in, int reps, int cpus, double peak1,
                       double peakn)
{
    splitee_error e;
    splitee_model *m;
    if (splitee_model_load(dir, &m, &e) < 0)
        die("model", &e);
    const splitee_model_config *c = splitee_model_get_config(m);
    if (c->layers > MAX_LAYERS || c->classes > 64) {
        fprintf(stderr, "bench_engine: model too large for this benchmark\n");
        exit(2);
    }
    splitee_engine_state *s;
    if (splitee_engine_state_create(m, &s, &e) < 0)
        die("run state", &e);
    float logits[MAX_LAYERS * 64];
    int L = c->layers;

    double flops = 0.0;
    for (int i = 0; i < L; i++)
        flops += layer_flops(m, i) + exit_flops(m, i);
    printf("kernel path: %s\n", splitee__model_kernels(m)->name);

    /* warm-up */
    for (int r = 0; r < 200; r++)
        if (splitee_engine_forward_normalised(s, in->data + (size_t)r % in->n * in->per, logits,
                                              &e) < 0)
            die("forward", &e);
    long hwm = proc_status_kb("VmHWM"), rss = proc_status_kb("VmRSS"), maxrss = maxrss_kb();

    /* full forward, batch 1 */
    double *full = malloc((size_t)reps * sizeof *full);
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        splitee_engine_forward_normalised(s, in->data + (size_t)r % in->n * in->per, logits, &e);
        full[r] = now() - t0;
    }
    double med = quantile(full, (size_t)reps, 0.5), p90 = quantile(full, (size_t)reps, 0.9);
    printf("batch 1, full forward (embed + %d layers + %d exits): median %.1f us, p90 %.1f us\n",
           L, L, med * 1e6, p90 * 1e6);
    printf("  %.2f MFLOP per image -> %.2f GFLOP/s", flops * 1e-6, flops / med * 1e-9);
    if (peak1 > 0)
        printf(" = %.1f%% of one core's AVX2 FMA peak", 100.0 * flops / med / peak1);
    printf("\n");

    /* per stage */
    double *t_embed = malloc((size_t)reps * sizeof *t_embed);
    double *t_layer = malloc((size_t)reps * (size_t)L * sizeof *t_layer);
    double *t_exit = malloc((size_t)reps * (size_t)L * sizeof *t_exit);
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        splitee_engine_embed_normalised(s, in->data + (size_t)r % in->n * in->per, &e);
        t_embed[r] = now() - t0;
        for (int i = 0; i < L; i++) {
            t0 = now();
            splitee_engine_run_layer(s, i, &e);
            double t1 = now();
            splitee_engine_exit_logits(s, i, logits, &e);
            double t2 = now();
            t_layer[(size_t)i * (size_t)reps + (size_t)r] = t1 - t0;
            t_exit[(size_t)i * (size_t)reps + (size_t)r] = t2 - t1;
        }
    }
    printf("  embed  median %7.2f us\n", quantile(t_embed, (size_t)reps, 0.5) * 1e6);
    double layer_sum = 0.0, exit_sum = 0.0;
    for (int i = 0; i < L; i++) {
        double lm = quantile(t_layer + (size_t)i * (size_t)reps, (size_t)reps, 0.5);
        double em = quantile(t_exit + (size_t)i * (size_t)reps, (size_t)reps, 0.5);
        layer_sum += lm;
        exit_sum += em;
        printf("  layer %2d median %7.2f us (%.2f GFLOP/s)   exit %2d median %6.2f us\n", i,
               lm * 1e6, layer_flops(m, i) / lm * 1e-9, i, em * 1e6);
    }
    printf("  mean over layers: layer %.2f us, exit head %.2f us\n", layer_sum / L * 1e6,
           exit_sum / L * 1e6);

    /* throughput */
    long per_thread = reps * 2L;
    double ips1 = throughput(m, in, 1, per_thread);
    double ipsn = throughput(m, in, cpus, per_thread);
    printf("throughput, one run state per thread: 1 thread %.0f images/s (%.2f GFLOP/s), "
           "%d threads %.0f images/s (%.2f GFLOP/s",
           ips1, ips1 * flops * 1e-9, cpus, ipsn, ipsn * flops * 1e-9);
    if (peakn > 0)
        printf(" = %.1f%% of the all-core peak", 100.0 * ipsn * flops / peakn);
    printf(")\n");
    printf("memory after load + run state + forwards: VmHWM %ld kB, VmRSS %ld kB, "
           "ru_maxrss %ld kB\n", hwm, rss, maxrss);
    printf("  weights file mapped: %.1f kB; repacked weights: %.1f kB; run state: %.1f kB\n\n",
           (double)splitee__model_mapped_bytes(m) / 1024.0,
           (double)splitee__model_extra_bytes(m) / 1024.0,
           (double)splitee__model_state_bytes(m) / 1024.0);

    free(full);
    free(t_embed);
    free(t_layer);
    free(t_exit);
    splitee_engine_state_free(s);
    splitee_model_free(m);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "data/model";
    int reps = argc > 2 ? atoi(argv[2]) : 2000;
    if (reps < 10)
        reps = 10;
    char path[4096];
    snprintf(path, sizeof path, "%s/fixture/inputs.npy", dir);
    splitee_error e;
    splitee_array a;
    if (splitee_npy_read(path, &a, &e) < 0)
        die(path, &e);
    if (a.dtype != SPLITEE_DTYPE_F32 || a.ndim != 3) {
        fprintf(stderr, "bench_engine: %s: expected float32 (n, side, side)\n", path);
        return 2;
    }
    inputs in = { a.data, a.shape[0], a.shape[1] * a.shape[2] };
    int cpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus < 1)
        cpus = 1;
    if (cpus > 64)
        cpus = 64;

    long base_hwm = proc_status_kb("VmHWM");
    double peak1, peakn;
    fma_peak(cpus, &peak1, &peakn);
    printf("model %s, inputs %s (%zu images), %d repetitions, %d CPUs\n", dir, path, in.n, reps,
           cpus);
    printf("process VmHWM before loading any model: %ld kB\n", base_hwm);
    if (peak1 > 0)
        printf("measured AVX2 FMA peak: %.1f GFLOP/s on one core, %.1f GFLOP/s on %d cores\n\n",
               peak1 * 1e-9, peakn * 1e-9, cpus);
    else
        printf("no AVX2+FMA on this CPU: no peak measured\n\n");

    const char *env = getenv("SPLITEE_SIMD");
    char *saved = env ? strdup(env) : NULL;
    setenv("SPLITEE_SIMD", "off", 1);
    bench_path(dir, &in, reps, cpus, peak1, peakn);
    if (have_avx2_fma()) {
        unsetenv("SPLITEE_SIMD");
        bench_path(dir, &in, reps, cpus, peak1, peakn);
    }
    if (saved) {
        setenv("SPLITEE_SIMD", saved, 1);
        free(saved);
    }
    splitee_array_free(&a);
    return 0;
}
