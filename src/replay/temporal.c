/* temporal.c -- the stream exit rules on a stream table (temporal.h):
 * replay in the table's order and the calibration of theta after Sponner
 * et al. 2024 (normal fits of within-scene and scene-change distances, a
 * theta grid between them, the accuracy/cost Pareto front, the best
 * accuracy per cost). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "splitee/npy.h"
#include "splitee/temporal.h"

int splitee_temporal_run(const splitee_table *t, const splitee_exit_rule *r, size_t from, size_t to,
                         const int32_t *scenes, splitee_exit_frame *frame,
                         splitee_temporal_result *out, splitee_error *err)
{
    const size_t n = splitee_table_samples(t);
    const int L = splitee_table_exits(t), K = splitee_table_classes(t);
    const char *name = splitee_table_name(t);
    if (from >= to || to > n)
        return splitee__fail(err, SPLITEE_ERR_ARG, "%s: frames %zu..%zu are not a range of its %zu frames",
                             name, from, to, n);
    if (r->exits != L)
        return splitee__fail(err, SPLITEE_ERR_ARG, "%s: a rule over %d exits for a table of %d", name,
                             r->exits, L);
    const int stream = splitee_exit_kind_info(r->kind)->stream;
    splitee_exit_stream *st = NULL;
    if (stream) {
        int rc = splitee_exit_stream_create(r, K, &st, err);
        if (rc < 0)
            return rc;
    }
    const double *logits = splitee_table_logits(t);
    const int32_t *labels = splitee_table_labels(t);
    long long right = 0, fright = 0, agree = 0, layers = 0, reruns = 0, changes = 0, caught = 0;
    long long at[SPLITEE_MAX_EXITS] = { 0 };
    for (size_t s = from; s < to; s++) {
        const double *z = logits + s * (size_t)L * K;
        splitee_exit_frame f;
        if (stream) {
            splitee_exit_stream_frame(st, z, &f);
        } else {   /* the early-exit deployment of a per-sample rule */
            double conf[SPLITEE_MAX_EXITS];
            int32_t pred[SPLITEE_MAX_EXITS];
            for (int e = 0; e < L; e++)
                conf[e] = splitee_confidence_of(z + (size_t)e * K, K, r->confidence, &pred[e]);
            int e = splitee_exit_first(r, L - 1, conf, pred);
            e = e < 0 ? L - 1 : e;
            f = (splitee_exit_frame){ pred[e], e, e == L - 1, NAN };
        }
        int32_t final;
        splitee_confidence_of(z + (size_t)(L - 1) * K, K, SPLITEE_CONFIDENCE_MAX_SOFTMAX, &final);
        right += labels && f.label == labels[s];
        fright += labels && final == labels[s];
        agree += f.label == final;
        layers += f.exit + 1;
        reruns += f.rerun;
        at[f.exit]++;
        if (scenes && s > from && scenes[s] != scenes[s - 1]) {
            changes++;
            caught += f.rerun;
        }
        if (frame)
            frame[s - from] = f;
    }
    splitee_exit_stream_free(st);
    const double m = (double)(to - from);
    memset(out, 0, sizeof *out);
    out->frames = to - from;
    out->exits = L;
    out->accuracy = labels ? (double)right / m : NAN;
    out->final_accuracy = labels ? (double)fright / m : NAN;
    out->agreement = (double)agree / m;
    out->mean_layers = (double)layers / m;
    out->relative_cost = out->mean_layers / L;
    out->rerun_rate = (double)reruns / m;
    out->change_recall = scenes && changes ? (double)caught / (double)changes : NAN;
    for (int e = 0; e < L; e++)
        out->exit_share[e] = (double)at[e] / m;
    return SPLITEE_OK;
}

int splitee_scenes_load(const char *path, size_t n, int32_t **out, splitee_error *err)
{
    *out = NULL;
    splitee_array a;
    int st = splitee_npy_read(path, &a, err);
    if (st < 0)
        return st;
    int32_t *v = NULL;
    if (a.dtype == SPLITEE_DTYPE_F32 || a.dtype == SPLITEE_DTYPE_F64)
        st = splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: scene ids must be integers (.npy int8/uint8/int32/int64)",
                           path);
    else if (a.ndim != 1 || a.shape[0] != n)
        st = splitee__fail(err, SPLITEE_ERR_SHAPE, "%s: scene ids must have shape (%zu,), one per frame of the table",
                           path, n);
    else if (!(v = malloc((n ? n : 1) * sizeof *v)))
        st = splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", path);
    for (size_t k = 0; st == 0 && k < n; k++) {
        long long x;
        switch (a.dtype) {
        case SPLITEE_DTYPE_I32: x = ((const int32_t *)a.data)[k]; break;
        case SPLITEE_DTYPE_I64: x = ((const int64_t *)a.data)[k]; break;
        case SPLITEE_DTYPE_U8: x = ((const uint8_t *)a.data)[k]; break;
        default: x = ((const int8_t *)a.data)[k]; break;
        }
        if (x < 0 || x > INT32_MAX)
            st = splitee__fail(err, SPLITEE_ERR_VALUE, "%s: scene id %lld of frame %zu is not in 0..%d", path, x, k,
                               INT32_MAX);
        else
            v[k] = (int32_t)x;
    }
    splitee_array_free(&a);
    if (st < 0)
        free(v);
    else
        *out = v;
    return st;
}

/* ---- calibration ------------------------------------------------------------- */

int splitee_pareto_front(const double *cost, const double *accuracy, int n, int *front)
{
    int count = 0;
    for (int i = 0; i < n; i++) {
        front[i] = 1;
        for (int j = 0; j < n && front[i]; j++)
            if (cost[j] <= cost[i] && accuracy[j] >= accuracy[i] &&
                (cost[j] < cost[i] || accuracy[j] > accuracy[i]))
                front[i] = 0;
        count += front[i];
    }
    return count;
}

void splitee_temporal_calibration_free(splitee_temporal_calibration *c)
{
    if (!c)
        return;
    free(c->points);
    c->points = NULL;
    c->npoints = 0;
}

/* Mean and sample standard deviation of n values summed as s, ss (pairs
 * of consecutive frames), with Welford's update kept by the caller. */
typedef struct welford {
    long n;
    double mean, m2;
} welford;

static void welford_add(welford *w, double x)
{
    w->n++;
    double d = x - w->mean;
    w->mean += d / (double)w->n;
    w->m2 += d * (x - w->mean);
}

static double welford_sd(const welford *w) { return w->n > 1 ? sqrt(w->m2 / (double)(w->n - 1)) : 0.0; }

int splitee_temporal_calibrate(const splitee_table *t, const int32_t *scenes, size_t frames,
                               splitee_exit_kind kind, int grid, splitee_temporal_calibration *out,
                               splitee_error *err)
{
    memset(out, 0, sizeof *out);
    const char *name = splitee_table_name(t);
    const splitee_exit_info *in = splitee_exit_kind_info(kind);
    const size_t n = splitee_table_samples(t);
    const int L = splitee_table_exits(t), K = splitee_table_classes(t);
    if (!in || !in->stream)
        return splitee__fail(err, SPLITEE_ERR_ARG, "calibrate: rule %s is not a stream rule (difference or "
                             "temporal-patience)", in ? in->name : "unknown");
    if (!splitee_table_labels(t))
        return splitee__fail(err, SPLITEE_ERR_ARG, "%s: calibrating theta needs the frames' labels", name);
    if (!scenes)
        return splitee__fail(err, SPLITEE_ERR_ARG, "%s: calibrating theta needs the frames' scene ids", name);
    if (grid < 1)
        return splitee__fail(err, SPLITEE_ERR_ARG, "calibrate: the theta grid is empty (%d points)", grid);
    if (frames < 2 || frames > n)
        return splitee__fail(err, SPLITEE_ERR_ARG, "%s: %zu calibration frames, of its %zu (at least 2)", name,
                             frames, n);
    const int fitted = kind == SPLITEE_EXIT_KIND_DIFFERENCE ? 1 : L;
    const double *z = splitee_table_logits(t);
    double lo = 0, hi = 0, wm = 0, ws = 0, cm = 0, cs = 0;
    long wn = 0, cn = 0;
    for (int e = 0; e < fitted; e++) {
        welford w = { 0, 0, 0 }, c = { 0, 0, 0 };
        for (size_t s = 1; s < frames; s++) {
            double d = splitee_softmax_l1(z + ((s - 1) * (size_t)L + (size_t)e) * K,
                                          z + (s * (size_t)L + (size_t)e) * K, K);
            welford_add(scenes[s] == scenes[s - 1] ? &w : &c, d);
        }
        if (w.n == 0 || c.n == 0)
            return splitee__fail(err, SPLITEE_ERR_VALUE,
                                 "%s: the %zu calibration frames hold %s (give more frames)", name, frames,
                                 w.n == 0 ? "no two frames of one scene" : "no scene change");
        lo += w.mean - 2 * welford_sd(&w);
        hi += c.mean - 1.5 * welford_sd(&c);
        wm += w.mean;
        ws += welford_sd(&w);
        cm += c.mean;
        cs += welford_sd(&c);
        wn = w.n;
        cn = c.n;
    }
    lo /= fitted;
    hi /= fitted;
    lo = lo < 0 ? 0 : lo > 2 ? 2 : lo;
    hi = hi < 0 ? 0 : hi > 2 ? 2 : hi;
    if (hi < lo) {
        double x = lo;
        lo = hi;
        hi = x;
    }
    splitee_temporal_point *p = calloc((size_t)grid, sizeof *p);
    double *cost = malloc((size_t)grid * sizeof *cost), *acc = malloc((size_t)grid * sizeof *acc);
    int *front = malloc((size_t)grid * sizeof *front);
    int st = p && cost && acc && front ? 0 : splitee__fail(err, SPLITEE_ERR_NOMEM, "calibrate: out of memory");
    for (int g = 0; st == 0 && g < grid; g++) {
        splitee_exit_config ec;
        splitee_exit_config_default(&ec);
        ec.kind = kind;
        ec.theta = grid == 1 ? lo : lo + (hi - lo) * g / (grid - 1);
        splitee_exit_rule r;
        splitee_temporal_result res;
        if ((st = splitee_exit_rule_init(&r, &ec, L, err)) < 0 ||
            (st = splitee_temporal_run(t, &r, 0, frames, scenes, NULL, &res, err)) < 0)
            break;
        p[g] = (splitee_temporal_point){ ec.theta, res.accuracy, res.relative_cost, res.rerun_rate, 0 };
        cost[g] = res.relative_cost;
        acc[g] = res.accuracy;
    }
    if (st == 0) {
        splitee_pareto_front(cost, acc, grid, front);
        int best = -1;
        for (int g = 0; g < grid; g++) {
            p[g].front = front[g];
            if (front[g] && (best < 0 || acc[g] / cost[g] > acc[best] / cost[best]))
                best = g;
        }
        *out = (splitee_temporal_calibration){ kind, frames, fitted, wm / fitted, ws / fitted, cm / fitted,
                                               cs / fitted, wn, cn, lo, hi, grid, p, best };
        p = NULL;
    }
    free(p);
    free(cost);
    free(acc);
    free(front);
    return st;
}
