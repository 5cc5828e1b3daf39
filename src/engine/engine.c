/* engine.c -- the inference engine (engine.h): per-thread run state, the
 * input, stages and exit heads run op by op (model_internal.h, ops.c)
 * between ping-pong buffers sized from the model's largest tensors, and
 * activation export/import. All buffers are allocated once, in
 * splitee_engine_state_create. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "engine/kernels.h"
#include "engine/model_internal.h"
#include "splitee/engine.h"

struct splitee_engine_state {
    const splitee_model *model;
    int depth;        /* stages run on the current sample; -1: no sample */
    float *cur;       /* the current activation (split point `depth`): act[0] or act[1] */
    float *act[2];    /* (model->act_floats) each: stage ping-pong buffers */
    float *head[2];   /* (model->head_floats) each: exit-head ping-pong buffers */
    float *saves;     /* (model->saves_floats) tensors saved for residual adds */
    float *scratch;   /* (model->scratch_floats) op scratch */
    void *mem;        /* the one allocation all of the above live in */
};

#define NBUF 6

/* Floats of each buffer of a run state (act 0/1, head 0/1, saves, scratch)
 * and their total; 0 on size_t overflow. */
static size_t state_sizes(const splitee_model *model, size_t sizes[NBUF])
{
    sizes[0] = sizes[1] = splitee__round16(model->act_floats);
    sizes[2] = sizes[3] = splitee__round16(model->head_floats);
    sizes[4] = splitee__round16(model->saves_floats);
    sizes[5] = splitee__round16(model->scratch_floats);
    size_t total = 0;
    for (int i = 0; i < NBUF; i++) {
        if (sizes[i] == 0)
            sizes[i] = 16;
        if (total > (size_t)-1 / sizeof(float) - sizes[i])
            return 0;
        total += sizes[i];
    }
    return total;
}

size_t splitee__model_state_bytes(const splitee_model *m)
{
    size_t sizes[NBUF];
    return state_sizes(m, sizes) * sizeof(float);
}

int splitee_engine_state_create(const splitee_model *model, splitee_engine_state **out,
                                splitee_error *err)
{
    *out = NULL;
    if (!model)
        return splitee__fail(err, SPLITEE_ERR_ARG, "engine: no model given");
    size_t sizes[NBUF], total = state_sizes(model, sizes);
    if (total == 0)
        return splitee__fail(err, SPLITEE_ERR_OVERFLOW, "engine: run state size overflows");
    splitee_engine_state *s = calloc(1, sizeof *s);
    if (!s)
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "engine: out of memory");
    s->mem = aligned_alloc(64, total * sizeof(float));   /* multiple of 64: round16 */
    if (!s->mem) {
        free(s);
        return splitee__fail(err, SPLITEE_ERR_NOMEM,
                             "engine: out of memory (%zu bytes of run state)",
                             total * sizeof(float));
    }
    memset(s->mem, 0, total * sizeof(float));
    float *p = s->mem;
    float **dst[NBUF] = { &s->act[0], &s->act[1], &s->head[0], &s->head[1], &s->saves,
                          &s->scratch };
    for (int i = 0; i < NBUF; i++) {
        *dst[i] = p;
        p += sizes[i];
    }
    s->model = model;
    s->cur = s->act[0];
    s->depth = -1;
    *out = s;
    return SPLITEE_OK;
}

void splitee_engine_state_free(splitee_engine_state *s)
{
    if (!s)
        return;
    free(s->mem);
    free(s);
}

const splitee_model *splitee_engine_model(const splitee_engine_state *s)
{
    return s->model;
}

int splitee_engine_depth(const splitee_engine_state *s)
{
    return s->depth;
}

const float *splitee_engine_activation(const splitee_engine_state *s)
{
    return s->depth < 0 ? NULL : s->cur;
}

/* ---- input ----------------------------------------------------------------- */

/* Copies the input (split point 0 elements) into act[0], normalising in
 * float32 as (x - mean) / std when asked; depth 0. */
static int embed(splitee_engine_state *s, const float *img, int normalise, splitee_error *err)
{
    const splitee_model *m = s->model;
    const splitee_model_config *c = &m->cfg;
    if (!img)
        return splitee__fail(err, SPLITEE_ERR_ARG, "engine: no input image given");
    size_t n = splitee_shape_elems(&m->splits[0]);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(img[i]))
            return splitee__fail(err, SPLITEE_ERR_VALUE,
                                 "engine: input pixel %zu is not finite", i);
    float mean = (float)c->input_mean, std = (float)c->input_std, *x = s->act[0];
    if (normalise)
        for (size_t i = 0; i < n; i++)
            x[i] = (img[i] - mean) / std;
    else
        memcpy(x, img, n * sizeof *x);
    s->cur = x;
    s->depth = 0;
    return SPLITEE_OK;
}

int splitee_engine_embed(splitee_engine_state *s, const float *pixels, splitee_error *err)
{
    return embed(s, pixels, 1, err);
}

int splitee_engine_embed_normalised(splitee_engine_state *s, const float *input,
                                    splitee_error *err)
{
    return embed(s, input, 0, err);
}

/* Runs op list l on src (its input; written to only when src_writable)
 * between buffers b0 and b1 (src may be one of them); returns the buffer
 * holding the output. Out-of-place ops write the buffer that is not the
 * current one, elementwise ops write in place when they may. */
static float *run_list(splitee_engine_state *s, const splitee__oplist *l, float *src,
                       int src_writable, float *b0, float *b1)
{
    const splitee_model *m = s->model;
    if (l->input_slot >= 0)
        memcpy(s->saves + l->slot_off[l->input_slot], src,
               splitee_shape_elems(&l->in) * sizeof *src);
    float *cur = src;
    for (int i = 0; i < l->n; i++) {
        const splitee__op *op = &l->ops[i];
        float *dst = cur;
        if (op->io == SPLITEE__IO_OUT_OF_PLACE)
            dst = cur == b0 ? b1 : b0;
        else if (op->io == SPLITEE__IO_ELEMENTWISE && cur == src && !src_writable)
            dst = b0;
        if (op->io != SPLITEE__IO_NONE)
            splitee__op_forward(m, l, op, cur, dst, s->saves, s->scratch);
        cur = dst;
        if (op->save >= 0)
            memcpy(s->saves + l->slot_off[op->save], cur,
                   splitee_shape_elems(&op->out) * sizeof *cur);
    }
    return cur;
}

/* ---- layers and exits ------------------------------------------------------ */

int splitee_engine_run_layer(splitee_engine_state *s, int layer, splitee_error *err)
{
    const splitee_model *m = s->model;
    if (s->depth < 0)
        return splitee__fail(err, SPLITEE_ERR_ARG,
                             "engine: layer %d requested before any input was embedded", layer);
    if (layer < 0 || layer >= m->cfg.layers)
        return splitee__fail(err, SPLITEE_ERR_ARG, "engine: layer %d out of range [0, %d)", layer,
                             m->cfg.layers);
    if (layer != s->depth)
        return splitee__fail(err, SPLITEE_ERR_ARG,
                             "engine: layer %d requested but the next layer is %d", layer,
                             s->depth);
    s->cur = run_list(s, &m->stages[layer], s->cur, 1, s->act[0], s->act[1]);
    s->depth = layer + 1;
    return SPLITEE_OK;
}

int splitee_engine_run_layers(splitee_engine_state *s, int from, int to, splitee_error *err)
{
    if (to < from || to > s->model->cfg.layers)
        return splitee__fail(err, SPLITEE_ERR_ARG, "engine: bad layer range [%d, %d) of %d layers",
                             from, to, s->model->cfg.layers);
    if (from != s->depth || s->depth < 0)
        return splitee__fail(err, SPLITEE_ERR_ARG,
                             "engine: layers [%d, %d) requested but the sample is at depth %d",
                             from, to, s->depth);
    for (int i = from; i < to; i++) {
        int rc = splitee_engine_run_layer(s, i, err);
        if (rc < 0)
            return rc;
    }
    return SPLITEE_OK;
}

int splitee_engine_exit_logits(splitee_engine_state *s, int exit, float *logits,
                               splitee_error *err)
{
    const splitee_model *m = s->model;
    const splitee_model_config *c = &m->cfg;
    if (!logits)
        return splitee__fail(err, SPLITEE_ERR_ARG, "engine: no logits buffer given");
    if (exit < 0 || exit >= c->layers)
        return splitee__fail(err, SPLITEE_ERR_ARG, "engine: exit %d out of range [0, %d)", exit,
                             c->layers);
    if (exit != s->depth - 1)
        return splitee__fail(err, SPLITEE_ERR_ARG,
                             "engine: exit %d requested but the sample is at depth %d "
                             "(exit i follows layer i)", exit, s->depth);
    const float *y = run_list(s, &m->exits[exit], s->cur, 0, s->head[0], s->head[1]);
    memcpy(logits, y, (size_t)c->classes * sizeof *logits);
    return SPLITEE_OK;
}

/* Embeds `img` (normalising or not) and runs every layer and exit. */
static int forward(splitee_engine_state *s, const float *img, int normalise, float *logits,
                   splitee_error *err)
{
    const splitee_model_config *c = &s->model->cfg;
    if (!logits)
        return splitee__fail(err, SPLITEE_ERR_ARG, "engine: no logits buffer given");
    int rc = embed(s, img, normalise, err);
    for (int i = 0; rc == 0 && i < c->layers; i++) {
        rc = splitee_engine_run_layer(s, i, err);
        if (rc == 0)
            rc = splitee_engine_exit_logits(s, i, logits + (size_t)i * (size_t)c->classes, err);
    }
    return rc;
}

int splitee_engine_forward(splitee_engine_state *s, const float *pixels, float *logits,
                           splitee_error *err)
{
    return forward(s, pixels, 1, logits, err);
}

int splitee_engine_forward_normalised(splitee_engine_state *s, const float *input,
                                      float *logits, splitee_error *err)
{
    return forward(s, input, 0, logits, err);
}

/* ---- export / import ------------------------------------------------------- */

int splitee_engine_export(const splitee_engine_state *s, float *act, size_t cap,
                          splitee_error *err)
{
    if (s->depth < 0)
        return splitee__fail(err, SPLITEE_ERR_ARG, "engine: no sample to export");
    size_t n = splitee_model_split_elems(s->model, s->depth);
    if (!act || cap < n)
        return splitee__fail(err, SPLITEE_ERR_OVERFLOW,
                             "engine: export buffer holds %zu floats, the activation after "
                             "layer %d needs %zu", act ? cap : 0, s->depth, n);
    memcpy(act, s->cur, n * sizeof *act);
    return SPLITEE_OK;
}

int splitee_engine_import(splitee_engine_state *s, int layer, const float *act,
                          splitee_error *err)
{
    const splitee_model_config *c = &s->model->cfg;
    if (!act)
        return splitee__fail(err, SPLITEE_ERR_ARG, "engine: no activation given");
    if (layer < 0 || layer > c->layers)
        return splitee__fail(err, SPLITEE_ERR_ARG, "engine: import after layer %d out of range "
                             "[0, %d]", layer, c->layers);
    size_t n = splitee_model_split_elems(s->model, layer);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(act[i])) {
            s->depth = -1;
            return splitee__fail(err, SPLITEE_ERR_VALUE,
                                 "engine: imported activation value %zu is not finite", i);
        }
    memcpy(s->act[0], act, n * sizeof *act);
    s->cur = s->act[0];
    s->depth = layer;
    return SPLITEE_OK;
}

int splitee_engine_export_payload(const splitee_engine_state *s, splitee_payload_encoding enc,
                                  void *buf, size_t cap, size_t *written, splitee_error *err)
{
    if (s->depth < 0)
        return splitee__fail(err, SPLITEE_ERR_ARG, "engine: no sample to export");
    size_t rows, cols;
    splitee_shape_payload_dims(&s->model->splits[s->depth], &rows, &cols);
    return splitee_payload_encode(enc, s->depth, s->cur, rows, cols, buf, cap, written, err);
}

int splitee_engine_import_payload(splitee_engine_state *s, const void *buf, size_t len,
                                  splitee_error *err)
{
    const splitee_model *m = s->model;
    const splitee_model_config *c = &m->cfg;
    splitee_payload_info info;
    s->depth = -1;
    int rc = splitee_payload_peek(buf, len, &info, err);
    if (rc < 0)
        return rc;
    if (info.layer > c->layers)
        return splitee__fail(err, SPLITEE_ERR_VALUE,
                             "payload: split after layer %d but the model has %d layers",
                             info.layer, c->layers);
    size_t rows, cols;
    splitee_shape_payload_dims(&m->splits[info.layer], &rows, &cols);
    if (info.tokens != rows || info.dim != cols)
        return splitee__fail(err, SPLITEE_ERR_SHAPE,
                             "payload: activation (%zu, %zu) after layer %d does not fit the "
                             "model's (%zu, %zu)", info.tokens, info.dim, info.layer, rows, cols);
    rc = splitee_payload_decode(buf, len, s->act[0], rows * cols, &info, err);
    if (rc < 0)
        return rc;
    s->cur = s->act[0];
    s->depth = info.layer;
    return SPLITEE_OK;
}
