/* exit_temporal.c -- the stream rules of the exit rule (exit.h, "stream
 * rules"; docs/TEMPORAL.md), after Sponner et al., "Temporal Decisions:
 * Leveraging Temporal Correlation for Efficient Decisions in Early Exit
 * Neural Networks" (2024; the peax project): difference detection and
 * temporal patience. Both compare one exit's softmax output with a
 * reference frame's (L1 distance) and reuse the reference's label while
 * the scene seems unchanged; the reference moves only when the whole model
 * runs. Their state is the caller's splitee_exit_stream, allocated once. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "exit_impl.h"

/* softmax of z (classes) into p, with max-subtraction, in double. */
static void softmax(const double *z, int classes, double *p)
{
    double m = z[0], sum = 0;
    for (int k = 1; k < classes; k++)
        if (z[k] > m)
            m = z[k];
    for (int k = 0; k < classes; k++)
        sum += p[k] = exp(z[k] - m);
    for (int k = 0; k < classes; k++)
        p[k] /= sum;
}

static double l1(const double *p, const double *q, int classes)
{
    double d = 0;
    for (int k = 0; k < classes; k++)
        d += fabs(p[k] - q[k]);
    return d;
}

static int32_t argmax(const double *z, int classes)
{
    int m = 0;
    for (int k = 1; k < classes; k++)
        if (z[k] > z[m])
            m = k;
    return m;
}

double splitee_softmax_l1(const double *a, const double *b, int classes)
{
    if (classes < 1)
        return NAN;
    /* the same arithmetic as softmax() and l1(), without buffers */
    double ma = a[0], mb = b[0], sa = 0, sb = 0, d = 0;
    for (int k = 1; k < classes; k++) {
        ma = a[k] > ma ? a[k] : ma;
        mb = b[k] > mb ? b[k] : mb;
    }
    for (int k = 0; k < classes; k++) {
        sa += exp(a[k] - ma);
        sb += exp(b[k] - mb);
    }
    for (int k = 0; k < classes; k++)
        d += fabs(exp(a[k] - ma) / sa - exp(b[k] - mb) / sb);
    return d;
}

/* theta in [0, 2], the range of the L1 distance between distributions. */
static int theta_init(splitee_exit_rule *r, const splitee_exit_config *cfg, splitee_error *err)
{
    (void)r;
    if (!isfinite(cfg->theta) || cfg->theta < 0 || cfg->theta > 2)
        return splitee__fail(err, SPLITEE_ERR_VALUE,
                             "theta (stream distance threshold, L1 between softmax vectors) must be in "
                             "[0, 2] (got %g)", cfg->theta);
    return SPLITEE_OK;
}

/* Per sample, without a stream, no exit before the last is accepted: the
 * whole model runs, as on the first frame of a stream. */
static int stream_step(const splitee_exit_rule *r, splitee_exit_state *s, int i, double conf,
                       int32_t pred)
{
    (void)s;
    (void)conf;
    (void)pred;
    return i == r->exits - 1;
}

/* difference: the distance alone. */
static int difference_reuse(const splitee_exit_stream *s, int32_t pred, double d)
{
    (void)pred;
    return d < s->rule.theta;
}

static int difference_rebase(const splitee_exit_stream *s, const int32_t *pred)
{
    (void)s;
    (void)pred;
    return 0;
}

/* temporal patience: the distance and the scene exit's own label. */
static int tp_reuse(const splitee_exit_stream *s, int32_t pred, double d)
{
    return d < s->rule.theta && pred == s->ref_label;
}

/* The earliest exit that agrees with the last one. */
static int tp_rebase(const splitee_exit_stream *s, const int32_t *pred)
{
    const int last = s->rule.exits - 1;
    for (int e = 0; e < last; e++)
        if (pred[e] == pred[last])
            return e;
    return last;
}

/* ---- the stream ------------------------------------------------------------ */

int splitee_exit_stream_create(const splitee_exit_rule *r, int classes, splitee_exit_stream **out,
                               splitee_error *err)
{
    *out = NULL;
    if (!r || (unsigned)r->kind >= SPLITEE_EXIT_KIND_COUNT || !splitee__exit_kind_of(r->kind)->info.stream)
        return splitee__fail(err, SPLITEE_ERR_ARG, "exit rule %s keeps no state across samples (not a "
                             "stream rule)", r ? splitee_exit_kind_name(r->kind) : "(none)");
    if (classes < 1 || classes > 65536)
        return splitee__fail(err, SPLITEE_ERR_ARG, "exit stream: classes must be in 1..65536 (got %d)",
                             classes);
    splitee_exit_stream *s = calloc(1, sizeof *s);
    if (s) {
        s->ref = malloc((size_t)classes * sizeof *s->ref);
        s->cur = malloc((size_t)classes * sizeof *s->cur);
    }
    if (!s || !s->ref || !s->cur) {
        splitee_exit_stream_free(s);
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "exit stream: out of memory");
    }
    s->rule = *r;
    s->classes = classes;
    splitee_exit_stream_reset(s);
    *out = s;
    return SPLITEE_OK;
}

void splitee_exit_stream_free(splitee_exit_stream *s)
{
    if (!s)
        return;
    free(s->ref);
    free(s->cur);
    free(s);
}

void splitee_exit_stream_reset(splitee_exit_stream *s)
{
    s->have_ref = 0;
    s->probe = 0;
    s->ref_label = -1;
    s->distance = NAN;
}

int splitee_exit_stream_probe(const splitee_exit_stream *s) { return s->probe; }

double splitee_exit_stream_distance(const splitee_exit_stream *s) { return s->distance; }

int splitee_exit_stream_check(splitee_exit_stream *s, const double *z, int32_t *label)
{
    if (!s->have_ref) {
        s->distance = NAN;
        return 0;
    }
    softmax(z, s->classes, s->cur);
    s->distance = l1(s->cur, s->ref, s->classes);
    /* the probe at the last exit is the whole model: nothing to reuse */
    if (s->probe == s->rule.exits - 1 ||
        !splitee__exit_kind_of(s->rule.kind)->ops->reuse(s, argmax(z, s->classes), s->distance))
        return 0;
    if (label)
        *label = s->ref_label;
    return 1;
}

int32_t splitee_exit_stream_update(splitee_exit_stream *s, const double *z)
{
    const int L = s->rule.exits, K = s->classes;
    int32_t pred[SPLITEE_MAX_EXITS];
    for (int e = 0; e < L; e++)
        pred[e] = argmax(z + (size_t)e * K, K);
    s->probe = splitee__exit_kind_of(s->rule.kind)->ops->rebase(s, pred);
    softmax(z + (size_t)s->probe * K, K, s->ref);
    s->ref_label = pred[L - 1];
    s->have_ref = 1;
    return s->ref_label;
}

void splitee_exit_stream_frame(splitee_exit_stream *s, const double *z, splitee_exit_frame *out)
{
    const int probe = s->probe;
    int32_t y;
    if (splitee_exit_stream_check(s, z + (size_t)probe * s->classes, &y)) {
        *out = (splitee_exit_frame){ y, probe, 0, s->distance };
        return;
    }
    double d = s->distance;
    y = splitee_exit_stream_update(s, z);
    *out = (splitee_exit_frame){ y, s->rule.exits - 1, 1, d };
}

static const splitee__exit_ops difference_ops = { .init = theta_init, .step = stream_step,
                                                  .reuse = difference_reuse,
                                                  .rebase = difference_rebase };
static const splitee__exit_ops tp_ops = { .init = theta_init, .step = stream_step, .reuse = tp_reuse,
                                          .rebase = tp_rebase };

const splitee__exit_kind splitee__exit_difference = {
    { "difference", "stream: reuse the reference frame's label while exit 1's softmax stays within "
                    "theta (L1) of it",
      SPLITEE_EXIT_PARAM_THETA, 0, 0, 0, 1 },
    &difference_ops };
const splitee__exit_kind splitee__exit_temporal_patience = {
    { "temporal-patience", "stream: the scene's earliest agreeing exit, re-run when its label changes "
                           "or its softmax moves theta (L1)",
      SPLITEE_EXIT_PARAM_THETA, 0, 0, 0, 1 },
    &tp_ops };
