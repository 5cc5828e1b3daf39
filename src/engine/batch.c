/* batch.c -- batch inference on worker threads (batch.h).
 *
 * A small pool runs a per-sample function over samples [0, count) cut
 * into one contiguous block per worker. Each worker's context (run state,
 * distorter, buffers) is made before any thread starts, so nothing is
 * allocated per sample. The calling thread waits on a condition variable
 * and reports progress between waits. A worker stops at its first failing
 * sample and records its index; workers skip samples past the lowest
 * failure seen so far, but never one before it, so the failure reported
 * -- the lowest failing index -- is the same for any thread count. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/internal.h"
#include "splitee/batch.h"
#include "splitee/engine.h"

void splitee_batch_config_default(splitee_batch_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->threads = 1;
    cfg->progress_interval_s = 0.5;
}

/* ---- the pool ----------------------------------------------------------- */

/* Processes sample k with worker context `ctx`; 0 or a negative status. */
typedef int (*sample_fn)(void *ctx, size_t k, splitee_error *err);

typedef struct pool pool;

typedef struct worker {
    pool *p;
    void *ctx;
    size_t from, to;          /* samples [from, to) */
    size_t failed;            /* first failing sample, or SIZE_MAX */
    int status;
    splitee_error err;
} worker;

struct pool {
    sample_fn fn;
    atomic_size_t done;       /* samples finished, all workers */
    atomic_size_t first_fail; /* lowest failing sample so far, or SIZE_MAX */
    atomic_int abort;         /* 1: stop now (a thread could not start) */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int finished;             /* workers stopped (under mu) */
};

static void *work(void *arg)
{
    worker *w = arg;
    pool *p = w->p;
    for (size_t k = w->from; k < w->to; k++) {
        if (atomic_load(&p->abort) || k > atomic_load(&p->first_fail))
            break;
        int st = p->fn(w->ctx, k, &w->err);
        if (st < 0) {
            w->status = st;
            w->failed = k;
            size_t cur = atomic_load(&p->first_fail);
            while (k < cur && !atomic_compare_exchange_weak(&p->first_fail, &cur, k)) {
            }
            break;
        }
        atomic_fetch_add(&p->done, 1);
    }
    pthread_mutex_lock(&p->mu);
    p->finished++;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static void deadline_after(struct timespec *ts, double s)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    double whole = floor(s);
    ts->tv_sec += (time_t)whole;
    ts->tv_nsec += (long)((s - whole) * 1e9);
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Runs fn over [0, count) on nw workers with contexts ctx[0..nw) (nw >= 1,
 * nw <= count). Returns 0 or the first failing sample's status, with its
 * message prefixed "image K: ". */
static int pool_run(sample_fn fn, void **ctx, int nw, size_t count, const splitee_batch_config *cfg,
                    splitee_error *err)
{
    worker *ws = calloc((size_t)nw, sizeof *ws);
    pthread_t *tid = calloc((size_t)nw, sizeof *tid);
    if (!ws || !tid) {
        free(ws);
        free(tid);
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "batch: out of memory for %d workers", nw);
    }
    pool p;
    p.fn = fn;
    atomic_init(&p.done, 0);
    atomic_init(&p.first_fail, SIZE_MAX);
    atomic_init(&p.abort, 0);
    p.finished = 0;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.cv, &ca);
    pthread_condattr_destroy(&ca);

    if (cfg->progress)
        cfg->progress(cfg->progress_ctx, 0, count);
    int st = 0, started = 0;
    for (int t = 0; t < nw; t++) {
        ws[t] = (worker){ &p, ctx[t], count * (size_t)t / (size_t)nw,
                          count * (size_t)(t + 1) / (size_t)nw, SIZE_MAX, 0, { 0, "" } };
        if (pthread_create(&tid[t], NULL, work, &ws[t]) != 0) {
            st = splitee__fail(err, SPLITEE_ERR_NOMEM, "batch: cannot start worker thread %d of %d", t + 1,
                               nw);
            atomic_store(&p.abort, 1);
            break;
        }
        started++;
    }
    pthread_mutex_lock(&p.mu);
    while (p.finished < started) {
        if (!cfg->progress) {
            pthread_cond_wait(&p.cv, &p.mu);
            continue;
        }
        struct timespec due;
        deadline_after(&due, cfg->progress_interval_s);
        int w = 0;
        while (p.finished < started && w != ETIMEDOUT)
            w = pthread_cond_timedwait(&p.cv, &p.mu, &due);
        if (p.finished < started) {
            pthread_mutex_unlock(&p.mu);
            cfg->progress(cfg->progress_ctx, atomic_load(&p.done), count);
            pthread_mutex_lock(&p.mu);
        }
    }
    pthread_mutex_unlock(&p.mu);
    for (int t = 0; t < started; t++)
        pthread_join(tid[t], NULL);
    if (cfg->progress)
        cfg->progress(cfg->progress_ctx, atomic_load(&p.done), count);
    /* the lowest failing sample: blocks are in index order */
    for (int t = 0; t < started && st == 0; t++)
        if (ws[t].status < 0)
            st = splitee__fail(err, ws[t].status, "image %zu: %s", ws[t].failed, ws[t].err.msg);
    pthread_cond_destroy(&p.cv);
    pthread_mutex_destroy(&p.mu);
    free(ws);
    free(tid);
    return st;
}

/* Checks the shared arguments; *nw gets the workers to start. */
static int check_config(const splitee_model *model, const splitee_batch_config *cfg, size_t count,
                        const float *logits, int *nw, splitee_error *err)
{
    if (!model || !cfg || (!logits && count))
        return splitee__fail(err, SPLITEE_ERR_ARG, "batch: no %s given",
                             !model ? "model" : !cfg ? "configuration" : "logits buffer");
    if (cfg->threads < 1 || cfg->threads > SPLITEE_BATCH_MAX_THREADS)
        return splitee__fail(err, SPLITEE_ERR_ARG, "batch: threads must be in 1..%d, got %d",
                             SPLITEE_BATCH_MAX_THREADS, cfg->threads);
    if (cfg->progress && !(cfg->progress_interval_s > 0 && cfg->progress_interval_s <= 86400))
        return splitee__fail(err, SPLITEE_ERR_ARG, "batch: progress interval must be in (0, 86400] s, got %g",
                             cfg->progress_interval_s);
    const splitee_model_config *c = splitee_model_get_config(model);
    size_t per = (size_t)c->layers * (size_t)c->classes, total;
    if (splitee__mul_size(count, per, &total) < 0 || splitee__mul_size(total, sizeof(float), &total) < 0)
        return splitee__fail(err, SPLITEE_ERR_OVERFLOW, "batch: %zu samples overflow the logits table", count);
    *nw = (size_t)cfg->threads < count ? cfg->threads : (int)(count ? count : 1);
    return 0;
}

/* ---- forward through every exit ------------------------------------------ */

typedef struct fwd_ctx {
    splitee_engine_state *s;
    splitee_distorter *d;     /* images only */
    float *px;                /* (rows, cols) distorted pixels; images only */
    const uint8_t *u8;        /* (count, rows, cols), or NULL */
    const float *f32;         /* (count, rows, cols), or NULL */
    size_t npx, per;          /* pixels per image; logits per sample (layers x classes) */
    float *out;               /* (count, layers, classes) */
} fwd_ctx;

static int fwd_sample(void *arg, size_t k, splitee_error *err)
{
    fwd_ctx *c = arg;
    const float *px = c->f32 ? c->f32 + k * c->npx : c->px;
    if (c->u8)
        splitee_distorter_apply(c->d, c->u8 + k * c->npx, (uint64_t)k, c->px);
    return splitee_engine_forward(c->s, px, c->out + k * c->per, err);
}

static void fwd_free(fwd_ctx *cs, void **ptrs, int n)
{
    for (int t = 0; cs && t < n; t++) {
        splitee_engine_state_free(cs[t].s);
        splitee_distorter_free(cs[t].d);
        free(cs[t].px);
    }
    free(cs);
    free(ptrs);
}

/* Shared body: u8 images with a distortion, or f32 pixels. */
static int forward(const splitee_model *model, const uint8_t *u8, const float *f32, size_t count,
                   const splitee_distortion_config *dc, const splitee_batch_config *cfg, float *logits,
                   splitee_error *err)
{
    int nw, st = check_config(model, cfg, count, logits, &nw, err);
    if (st < 0)
        return st;
    if (count == 0) {
        if (cfg->progress)
            cfg->progress(cfg->progress_ctx, 0, 0);
        return 0;
    }
    const splitee_model_config *mc = splitee_model_get_config(model);
    size_t side = (size_t)mc->image_size;
    splitee_distortion_config clean;
    splitee_distortion_config_default(&clean);
    fwd_ctx *cs = calloc((size_t)nw, sizeof *cs);
    void **ptrs = calloc((size_t)nw, sizeof *ptrs);
    if (!cs || !ptrs) {
        fwd_free(cs, ptrs, 0);
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "batch: out of memory for %d workers", nw);
    }
    for (int t = 0; t < nw && st == 0; t++) {
        fwd_ctx *c = &cs[t];
        *c = (fwd_ctx){ NULL, NULL, NULL, u8, f32, side * side, (size_t)mc->layers * (size_t)mc->classes,
                        logits };
        ptrs[t] = c;
        st = splitee_engine_state_create(model, &c->s, err);
        if (st == 0 && u8)
            st = splitee_distorter_create(dc ? dc : &clean, side, side, &c->d, err);
        if (st == 0 && u8 && !(c->px = malloc(side * side * sizeof *c->px)))
            st = splitee__fail(err, SPLITEE_ERR_NOMEM, "batch: out of memory");
    }
    if (st == 0)
        st = pool_run(fwd_sample, ptrs, nw, count, cfg, err);
    fwd_free(cs, ptrs, nw);
    return st;
}

int splitee_batch_forward_images(const splitee_model *model, const splitee_images *im,
                                 const splitee_distortion_config *dc,
                                 const splitee_batch_config *cfg, float *logits,
                                 splitee_error *err)
{
    if (!model || !im)
        return splitee__fail(err, SPLITEE_ERR_ARG, "batch: no %s given", !model ? "model" : "images");
    const splitee_model_config *mc = splitee_model_get_config(model);
    if (im->count && !im->pixels)
        return splitee__fail(err, SPLITEE_ERR_ARG, "batch: no pixels given");
    if (im->count && (im->rows != (size_t)mc->image_size || im->cols != (size_t)mc->image_size))
        return splitee__fail(err, SPLITEE_ERR_SHAPE, "batch: %zux%zu images, the model takes %dx%d", im->rows,
                             im->cols, mc->image_size, mc->image_size);
    return forward(model, im->pixels, NULL, im->count, dc, cfg, logits, err);
}

int splitee_batch_forward_pixels(const splitee_model *model, const float *pixels, size_t count,
                                 const splitee_batch_config *cfg, float *logits,
                                 splitee_error *err)
{
    if (count && !pixels)
        return splitee__fail(err, SPLITEE_ERR_ARG, "batch: no pixels given");
    return forward(model, NULL, pixels, count, NULL, cfg, logits, err);
}
