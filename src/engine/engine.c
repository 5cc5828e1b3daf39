/* engine.c -- the inference engine (engine.h): per-thread run state,
 * embedding, layer dispatch (model_internal.h), exit heads, and activation
 * export/import. All buffers are allocated once, in
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
    int depth;        /* layers run on the current sample; -1: no sample */
    float *x;         /* (tokens, dim) the residual stream */
    float *patches;   /* (tokens, patch_dim) embedding input */
    float *normed;    /* (tokens, dim) exit-head LayerNorm output */
    float *pooled;    /* (dim) mean over tokens */
    float *scratch;   /* (model->scratch_floats) block scratch */
    void *mem;        /* the one allocation all of the above live in */
};

/* Floats of each buffer of a run state (x, patches, normed, pooled,
 * scratch) and their total; 0 on size_t overflow. */
static size_t state_sizes(const splitee_model *model, size_t sizes[5])
{
    const splitee_model_config *c = &model->cfg;
    size_t td = (size_t)c->tokens * (size_t)c->dim;   /* checked by the loader */
    sizes[0] = splitee__round16(td);
    sizes[1] = splitee__round16((size_t)c->tokens * (size_t)c->patch_dim);
    sizes[2] = splitee__round16(td);
    sizes[3] = splitee__round16((size_t)c->dim);
    sizes[4] = splitee__round16(model->scratch_floats);
    size_t total = 0;
    for (int i = 0; i < 5; i++) {
        if (total > (size_t)-1 / sizeof(float) - sizes[i])
            return 0;
        total += sizes[i];
    }
    return total;
}

size_t splitee__model_state_bytes(const splitee_model *m)
{
    size_t sizes[5];
    return state_sizes(m, sizes) * sizeof(float);
}

int splitee_engine_state_create(const splitee_model *model, splitee_engine_state **out,
                                splitee_error *err)
{
    *out = NULL;
    if (!model)
        return splitee__fail(err, SPLITEE_ERR_ARG, "engine: no model given");
    size_t sizes[5], total = state_sizes(model, sizes);
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
    float **dst[5] = { &s->x, &s->patches, &s->normed, &s->pooled, &s->scratch };
    for (int i = 0; i < 5; i++) {
        *dst[i] = p;
        p += sizes[i];
    }
    s->model = model;
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
    return s->depth < 0 ? NULL : s->x;
}

/* ---- embedding ------------------------------------------------------------- */

/* Patchify (tools/train.py: patchify -- patches in row-major order, pixels
 * within a patch row-major), optionally normalising in float32, then
 * x = patches W^T + b + pos. */
static int embed(splitee_engine_state *s, const float *img, int normalise, splitee_error *err)
{
    const splitee_model *m = s->model;
    const splitee_model_config *c = &m->cfg;
    if (!img)
        return splitee__fail(err, SPLITEE_ERR_ARG, "engine: no input image given");
    size_t n = (size_t)c->image_size * (size_t)c->image_size;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(img[i]))
            return splitee__fail(err, SPLITEE_ERR_VALUE,
                                 "engine: input pixel %zu is not finite", i);
    int ps = c->patch_size, grid = c->image_size / ps, side = c->image_size;
    float mean = (float)c->input_mean, std = (float)c->input_std;
    for (int gy = 0; gy < grid; gy++)
        for (int gx = 0; gx < grid; gx++) {
            float *dst = s->patches + (size_t)(gy * grid + gx) * (size_t)c->patch_dim;
            for (int py = 0; py < ps; py++) {
                const float *src = img + (size_t)(gy * ps + py) * (size_t)side + (size_t)(gx * ps);
                for (int px = 0; px < ps; px++)
                    dst[py * ps + px] = normalise ? (src[px] - mean) / std : src[px];
            }
        }
    splitee__linear_apply(m->kern, s->x, s->patches, &m->patch, c->tokens);
    splitee__add(s->x, m->pos, (size_t)c->tokens * (size_t)c->dim);
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
    const splitee__block *blk = &m->blocks[layer];
    splitee__block_ops_get(blk->kind)->forward(blk, &m->cfg, m->kern, s->x, s->scratch);
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
    const splitee__exit_head *e = &m->exits[exit];
    m->kern->layernorm(s->normed, s->x, e->ln.g, e->ln.b, c->tokens, c->dim,
                       (float)c->norm_eps);
    splitee__mean_rows(s->pooled, s->normed, c->tokens, c->dim);
    splitee__linear_apply(m->kern, logits, s->pooled, &e->fc, 1);
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
    const splitee_model_config *c = &s->model->cfg;
    size_t n = (size_t)c->tokens * (size_t)c->dim;
    if (s->depth < 0)
        return splitee__fail(err, SPLITEE_ERR_ARG, "engine: no sample to export");
    if (!act || cap < n)
        return splitee__fail(err, SPLITEE_ERR_OVERFLOW,
                             "engine: export buffer holds %zu floats, the activation needs %zu",
                             act ? cap : 0, n);
    memcpy(act, s->x, n * sizeof *act);
    return SPLITEE_OK;
}

int splitee_engine_import(splitee_engine_state *s, int layer, const float *act,
                          splitee_error *err)
{
    const splitee_model_config *c = &s->model->cfg;
    size_t n = (size_t)c->tokens * (size_t)c->dim;
    if (!act)
        return splitee__fail(err, SPLITEE_ERR_ARG, "engine: no activation given");
    if (layer < 0 || layer > c->layers)
        return splitee__fail(err, SPLITEE_ERR_ARG, "engine: import after layer %d out of range "
                             "[0, %d]", layer, c->layers);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(act[i])) {
            s->depth = -1;
            return splitee__fail(err, SPLITEE_ERR_VALUE,
                                 "engine: imported activation value %zu is not finite", i);
        }
    memcpy(s->x, act, n * sizeof *act);
    s->depth = layer;
    return SPLITEE_OK;
}

int splitee_engine_export_payload(const splitee_engine_state *s, splitee_payload_encoding enc,
                                  void *buf, size_t cap, size_t *written, splitee_error *err)
{
    const splitee_model_config *c = &s->model->cfg;
    if (s->depth < 0)
        return splitee__fail(err, SPLITEE_ERR_ARG, "engine: no sample to export");
    return splitee_payload_encode(enc, s->depth, s->x, (size_t)c->tokens, (size_t)c->dim, buf,
                                  cap, written, err);
}

int splitee_engine_import_payload(splitee_engine_state *s, const void *buf, size_t len,
                                  splitee_error *err)
{
    const splitee_model_config *c = &s->model->cfg;
    splitee_payload_info info;
    s->depth = -1;
    int rc = splitee_payload_peek(buf, len, &info, err);
    if (rc < 0)
        return rc;
    if (info.tokens != (size_t)c->tokens || info.dim != (size_t)c->dim)
        return splitee__fail(err, SPLITEE_ERR_SHAPE,
                             "payload: activation (%zu, %zu) does not fit the model's (%d, %d)",
                             info.tokens, info.dim, c->tokens, c->dim);
    if (info.layer > c->layers)
        return splitee__fail(err, SPLITEE_ERR_VALUE,
                             "payload: split after layer %d but the model has %d layers",
                             info.layer, c->layers);
    rc = splitee_payload_decode(buf, len, s->x, (size_t)c->tokens * (size_t)c->dim, &info, err);
    if (rc < 0)
        return rc;
    s->depth = info.layer;
    return SPLITEE_OK;
}
