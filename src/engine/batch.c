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
#include "splitee/reward.h"

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

/* The model's input as a one-channel image: *rows x *cols pixels. SHAPE
 * when its input is not (1, H, W), naming the model.json. */
static int image_dims(const splitee_model *model, size_t *rows, size_t *cols, splitee_error *err)
{
    splitee_shape in = { 0, { 0, 0, 0 } };
    *rows = *cols = 0;
    splitee_model_split_shape(model, 0, &in);
    if (in.rank != 3 || in.dims[0] != 1)
        return splitee__fail(err, SPLITEE_ERR_SHAPE, "%s: the model's input is not a one-channel "
                             "(1, H, W) image", splitee_model_json_path(model));
    *rows = (size_t)in.dims[1];
    *cols = (size_t)in.dims[2];
    return 0;
}

/* Checks the shared arguments; *nw gets the workers to start. */
static int check_config(const splitee_model *model, const splitee_batch_config *cfg, size_t count,
                        int *nw, splitee_error *err)
{
    if (!model || !cfg)
        return splitee__fail(err, SPLITEE_ERR_ARG, "batch: no %s given", !model ? "model" : "configuration");
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
    int classes;
    int normalised;           /* f32 is already normalised: skip the input's mean/std */
} fwd_ctx;

/* VALUE when a logit is not a finite number: weights large enough to
 * overflow float32 in the forward pass (a table of NaN must never be
 * written as if it were one). `per` logits of `classes` each. */
static int check_logits(const float *z, size_t per, int classes, splitee_error *err)
{
    for (size_t i = 0; i < per; i++)
        if (!isfinite(z[i]))
            return splitee__fail(err, SPLITEE_ERR_VALUE,
                                 "exit %zu gives a non-finite logit (the forward pass overflowed float32: "
                                 "are the weights sane?)", i / (size_t)classes + 1);
    return 0;
}

static int fwd_sample(void *arg, size_t k, splitee_error *err)
{
    fwd_ctx *c = arg;
    const float *px = c->f32 ? c->f32 + k * c->npx : c->px;
    if (c->u8)
        splitee_distorter_apply(c->d, c->u8 + k * c->npx, (uint64_t)k, c->px);
    int st = c->normalised ? splitee_engine_forward_normalised(c->s, px, c->out + k * c->per, err)
                           : splitee_engine_forward(c->s, px, c->out + k * c->per, err);
    if (st == 0)
        st = check_logits(c->out + k * c->per, c->per, c->classes, err);
    return st;
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
static int forward(const splitee_model *model, const uint8_t *u8, const float *f32, int normalised,
                   size_t count, const splitee_distortion_config *dc, const splitee_batch_config *cfg,
                   float *logits, splitee_error *err)
{
    if (!logits && count)
        return splitee__fail(err, SPLITEE_ERR_ARG, "batch: no logits buffer given");
    int nw, st = check_config(model, cfg, count, &nw, err);
    if (st < 0)
        return st;
    if (count == 0) {
        if (cfg->progress)
            cfg->progress(cfg->progress_ctx, 0, 0);
        return 0;
    }
    const splitee_model_config *mc = splitee_model_get_config(model);
    size_t rows = 0, cols = 0, npx = splitee_model_split_elems(model, 0);
    if (u8 && (st = image_dims(model, &rows, &cols, err)) < 0)
        return st;
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
        *c = (fwd_ctx){ NULL, NULL, NULL, u8, f32, npx, (size_t)mc->layers * (size_t)mc->classes,
                        logits, mc->classes, normalised };
        ptrs[t] = c;
        st = splitee_engine_state_create(model, &c->s, err);
        if (st == 0 && u8)
            st = splitee_distorter_create(dc ? dc : &clean, rows, cols, &c->d, err);
        if (st == 0 && u8 && !(c->px = malloc(npx * sizeof *c->px)))
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
    if (im->count && !im->pixels)
        return splitee__fail(err, SPLITEE_ERR_ARG, "batch: no pixels given");
    size_t rows, cols;
    int st = image_dims(model, &rows, &cols, err);
    if (st < 0)
        return st;
    if (im->count && (im->rows != rows || im->cols != cols))
        return splitee__fail(err, SPLITEE_ERR_SHAPE, "batch: %zux%zu images, the model takes %zux%zu", im->rows,
                             im->cols, rows, cols);
    return forward(model, im->pixels, NULL, 0, im->count, dc, cfg, logits, err);
}

int splitee_batch_forward_pixels(const splitee_model *model, const float *pixels, size_t count,
                                 const splitee_batch_config *cfg, float *logits,
                                 splitee_error *err)
{
    if (count && !pixels)
        return splitee__fail(err, SPLITEE_ERR_ARG, "batch: no pixels given");
    return forward(model, NULL, pixels, 0, count, NULL, cfg, logits, err);
}

int splitee_batch_forward_normalised(const splitee_model *model, const float *inputs, size_t count,
                                     const splitee_batch_config *cfg, float *logits,
                                     splitee_error *err)
{
    if (count && !inputs)
        return splitee__fail(err, SPLITEE_ERR_ARG, "batch: no inputs given");
    return forward(model, NULL, inputs, 1, count, NULL, cfg, logits, err);
}

/* ---- a fixed split ------------------------------------------------------------ */

void splitee_split_config_default(splitee_split_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->split = 1;
    cfg->alpha = 0.8;
    cfg->confidence = SPLITEE_CONFIDENCE_MAX_SOFTMAX;
    cfg->encoding = SPLITEE_PAYLOAD_ENCODING_F32;
}

typedef struct split_ctx {
    splitee_engine_state *dev, *cloud;
    splitee_distorter *d;
    float *px;                     /* (rows, cols) distorted pixels */
    float *full;                   /* (layers, classes): every exit, uninterrupted */
    float *zk, *zl;                /* (classes): exit K on the device, the cloud's final exit */
    double *zd;                    /* (classes): exit K in double, for its confidence */
    double conf[SPLITEE_MAX_EXITS]; /* (layers): only conf[K-1] is set, for the exit rule
                                       (a thresholds rule reads exit K only) */
    unsigned char *buf;            /* (cap) the payload */
    size_t cap;
    const splitee_images *im;
    const splitee_split_config *sc;
    const splitee_reward *rw;      /* holds the exit rule: threshold alpha on the measure */
    int L, C;
    splitee_split_stats st;        /* this worker's samples */
} split_ctx;

static int argmax(const float *z, int k)
{
    int b = 0;
    for (int i = 1; i < k; i++)
        if (z[i] > z[b])
            b = i;
    return b;
}

static int split_sample(void *arg, size_t k, splitee_error *err)
{
    split_ctx *c = arg;
    const int L = c->L, K = c->sc->split, C = c->C;
    const size_t npx = c->im->rows * c->im->cols;
    const int y = c->im->labels[k];
    splitee_split_stats *r = &c->st;
    int st;
    splitee_distorter_apply(c->d, c->im->pixels + k * npx, (uint64_t)k, c->px);
    /* the reference: every exit of the uninterrupted forward pass */
    if ((st = splitee_engine_forward(c->dev, c->px, c->full, err)) < 0)
        return st;
    const float *final = c->full + (size_t)(L - 1) * (size_t)C;
    int pred_full = argmax(final, C);
    r->correct_full += pred_full == y;
    /* the device: layers [0, K), exit K-1 */
    if ((st = splitee_engine_embed(c->dev, c->px, err)) < 0 ||
        (st = splitee_engine_run_layers(c->dev, 0, K, err)) < 0 ||
        (st = splitee_engine_exit_logits(c->dev, K - 1, c->zk, err)) < 0)
        return st;
    for (int i = 0; i < C; i++)
        c->zd[i] = c->zk[i];
    int32_t pred_k;
    c->conf[K - 1] = splitee_confidence_of(c->zd, C, c->rw->exit.confidence, &pred_k);
    r->correct_exit_k += pred_k == y;
    if (!splitee_reward_outcome(c->rw, K - 1, c->conf).offloaded) {
        r->exited++;
        r->correct += pred_k == y;
        r->correct_lossless += pred_k == y;
        return 0;
    }
    /* offload: payload out, the cloud decodes it and finishes */
    size_t n;
    if ((st = splitee_engine_export_payload(c->dev, c->sc->encoding, c->buf, c->cap, &n, err)) < 0 ||
        (st = splitee_engine_import_payload(c->cloud, c->buf, n, err)) < 0 ||
        (st = splitee_engine_run_layers(c->cloud, K, L, err)) < 0 ||
        (st = splitee_engine_exit_logits(c->cloud, L - 1, c->zl, err)) < 0)
        return st;
    r->offloaded++;
    int pred = argmax(c->zl, C);
    r->correct += pred == y;
    r->correct_lossless += pred_full == y;
    r->changed += pred != pred_full;
    for (int i = 0; i < C; i++) {
        double dd = fabs((double)c->zl[i] - (double)final[i]);
        if (dd > r->max_diff)
            r->max_diff = dd;
    }
    return 0;
}

static void split_free(split_ctx *cs, void **ptrs, int n)
{
    for (int t = 0; cs && t < n; t++) {
        splitee_engine_state_free(cs[t].dev);
        splitee_engine_state_free(cs[t].cloud);
        splitee_distorter_free(cs[t].d);
        free(cs[t].px);
        free(cs[t].zd);
        free(cs[t].buf);
    }
    free(cs);
    free(ptrs);
}

/* Checks the split against the model and the images; fills the exit rule. */
static int check_split(const splitee_model *model, const splitee_images *im, const splitee_split_config *sc,
                       splitee_reward *rw, splitee_error *err)
{
    if (!model || !im || !sc)
        return splitee__fail(err, SPLITEE_ERR_ARG, "split: no %s given",
                             !model ? "model" : !im ? "images" : "split configuration");
    const splitee_model_config *mc = splitee_model_get_config(model);
    if (im->count && (!im->pixels || !im->labels))
        return splitee__fail(err, SPLITEE_ERR_ARG, "split: the images need %s",
                             !im->pixels ? "pixels" : "labels");
    size_t rows, cols;
    int st = image_dims(model, &rows, &cols, err);
    if (st < 0)
        return st;
    if (im->count && (im->rows != rows || im->cols != cols))
        return splitee__fail(err, SPLITEE_ERR_SHAPE, "split: %zux%zu images, the model takes %zux%zu", im->rows,
                             im->cols, rows, cols);
    if (sc->split < 1 || sc->split > mc->layers)
        return splitee__fail(err, SPLITEE_ERR_ARG, "split: %d is out of range for %s (1..%d layers)", sc->split,
                             splitee_model_json_path(model), mc->layers);
    if (!(sc->alpha >= 0 && sc->alpha <= 1))
        return splitee__fail(err, SPLITEE_ERR_ARG, "split: alpha must be in [0, 1], got %g", sc->alpha);
    if ((unsigned)sc->confidence >= SPLITEE_CONFIDENCE_COUNT)
        return splitee__fail(err, SPLITEE_ERR_ARG, "split: unknown confidence %d", (int)sc->confidence);
    if (!splitee_model_payload_size(model, sc->split, sc->encoding))
        return splitee__fail(err, SPLITEE_ERR_ARG, "split: unknown payload encoding %d", (int)sc->encoding);
    /* the threshold rule (exit.h) on the split's measure: it reads only
     * exit K, the one the device computes */
    splitee_reward_config rc;
    splitee_reward_config_default(&rc);
    rc.exit.kind = SPLITEE_EXIT_KIND_THRESHOLD;
    rc.exit.alpha = sc->alpha;
    rc.exit.confidence = sc->confidence;
    return splitee_reward_init(rw, &rc, mc->layers, err);
}

int splitee_batch_split_images(const splitee_model *model, const splitee_images *im,
                               const splitee_distortion_config *dc, const splitee_split_config *sc,
                               const splitee_batch_config *cfg, splitee_split_stats *out,
                               splitee_error *err)
{
    if (!out)
        return splitee__fail(err, SPLITEE_ERR_ARG, "split: no statistics given");
    memset(out, 0, sizeof *out);
    splitee_reward rw;
    int nw, st = check_split(model, im, sc, &rw, err);
    if (st == 0)
        st = check_config(model, cfg, im->count, &nw, err);
    if (st < 0)
        return st;
    const splitee_model_config *mc = splitee_model_get_config(model);
    const int L = mc->layers, C = mc->classes;
    size_t rows, cols, npx = splitee_model_split_elems(model, 0);
    image_dims(model, &rows, &cols, err);   /* checked by check_split */
    size_t cap = splitee_model_payload_size(model, sc->split, sc->encoding);
    splitee_distortion_config clean;
    splitee_distortion_config_default(&clean);
    split_ctx *cs = calloc((size_t)nw, sizeof *cs);
    void **ptrs = calloc((size_t)nw, sizeof *ptrs);
    if (!cs || !ptrs) {
        split_free(cs, ptrs, 0);
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "split: out of memory for %d workers", nw);
    }
    size_t nf = npx + (size_t)L * (size_t)C + 2 * (size_t)C;   /* px, full, zk, zl */
    for (int t = 0; t < nw && st == 0; t++) {
        split_ctx *c = &cs[t];
        c->im = im;
        c->sc = sc;
        c->rw = &rw;
        c->L = L;
        c->C = C;
        c->cap = cap;
        ptrs[t] = c;
        if ((st = splitee_engine_state_create(model, &c->dev, err)) < 0 ||
            (st = splitee_engine_state_create(model, &c->cloud, err)) < 0 ||
            (st = splitee_distorter_create(dc ? dc : &clean, rows, cols, &c->d, err)) < 0)
            break;
        c->px = malloc(nf * sizeof *c->px);
        c->zd = malloc((size_t)C * sizeof *c->zd);
        c->buf = malloc(cap);
        if (!c->px || !c->zd || !c->buf) {
            st = splitee__fail(err, SPLITEE_ERR_NOMEM, "split: out of memory");
            break;
        }
        c->full = c->px + npx;
        c->zk = c->full + (size_t)L * (size_t)C;
        c->zl = c->zk + C;
    }
    if (st == 0 && im->count)
        st = pool_run(split_sample, ptrs, nw, im->count, cfg, err);
    else if (st == 0 && cfg->progress)
        cfg->progress(cfg->progress_ctx, 0, 0);
    for (int t = 0; t < nw && st == 0; t++) {   /* sums and a maximum: any order */
        const splitee_split_stats *w = &cs[t].st;
        out->exited += w->exited;
        out->offloaded += w->offloaded;
        out->correct += w->correct;
        out->correct_lossless += w->correct_lossless;
        out->correct_full += w->correct_full;
        out->correct_exit_k += w->correct_exit_k;
        out->changed += w->changed;
        if (w->max_diff > out->max_diff)
            out->max_diff = w->max_diff;
    }
    if (st == 0) {
        out->samples = im->count;
        out->payload_bytes = cap;
    }
    split_free(cs, ptrs, nw);
    return st;
}
