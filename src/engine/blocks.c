/* blocks.c -- one entry per block kind (model_internal.h): which tensors a
 * block has, how much scratch it needs, and how it runs. The loader and
 * the engine only go through splitee__block_ops_get. */
#include <stdio.h>
#include <string.h>

#include "core/internal.h"
#include "engine/kernels.h"
#include "engine/model_internal.h"

void splitee__spec_add(splitee__spec_list *l, const char *name, int ndim, size_t d0,
                       size_t d1, const float **dest)
{
    if (l->count >= l->cap)   /* cannot happen: the loader sizes the list */
        return;
    splitee__tensor_spec *s = &l->items[l->count++];
    snprintf(s->name, sizeof s->name, "%s", name);
    s->ndim = ndim;
    s->shape[0] = d0;
    s->shape[1] = d1;
    s->dest = dest;
}

/* ---- pre-norm transformer encoder layer (tools/train.py: Layer) ---------- */

/* Declares "layers.<i>.<part>.weight|bias" for a linear layer. */
static void declare_linear(splitee__spec_list *l, int layer, const char *part,
                           splitee__linear *lin, int out, int in)
{
    char name[48];
    lin->out = out;
    lin->in = in;
    snprintf(name, sizeof name, "layers.%d.%s.weight", layer, part);
    splitee__spec_add(l, name, 2, (size_t)out, (size_t)in, &lin->w);
    snprintf(name, sizeof name, "layers.%d.%s.bias", layer, part);
    splitee__spec_add(l, name, 1, (size_t)out, 0, &lin->b);
}

/* Declares "layers.<i>.<part>.weight|bias" for a LayerNorm. */
static void declare_norm(splitee__spec_list *l, int layer, const char *part,
                         splitee__norm *n, int dim)
{
    char name[48];
    n->dim = dim;
    snprintf(name, sizeof name, "layers.%d.%s.weight", layer, part);
    splitee__spec_add(l, name, 1, (size_t)dim, 0, &n->g);
    snprintf(name, sizeof name, "layers.%d.%s.bias", layer, part);
    splitee__spec_add(l, name, 1, (size_t)dim, 0, &n->b);
}

static void vit_declare(splitee__spec_list *l, int layer, const splitee_model_config *cfg,
                        splitee__block *blk)
{
    splitee__vit_block *w = &blk->u.vit;
    int d = cfg->dim;
    declare_norm(l, layer, "ln1", &w->ln1, d);
    declare_linear(l, layer, "qkv", &w->qkv, 3 * d, d);
    declare_linear(l, layer, "proj", &w->proj, d, d);
    declare_norm(l, layer, "ln2", &w->ln2, d);
    declare_linear(l, layer, "fc1", &w->fc1, cfg->mlp_hidden, d);
    declare_linear(l, layer, "fc2", &w->fc2, d, cfg->mlp_hidden);
}

/* Scratch of one encoder layer, in 64-byte aligned chunks:
 * xb (tokens, dim) | qkv (tokens, 3 dim) | y (tokens, dim) | scores
 * (attention scratch, kernels.h) | hidden (tokens, mlp_hidden). */
typedef struct vit_scratch {
    float *xb, *qkv, *y, *scores, *hidden;
} vit_scratch;

static size_t vit_layout(const splitee_model_config *cfg, float *base, vit_scratch *s)
{
    size_t td, t3d, th, t = (size_t)cfg->tokens;
    if (splitee__mul_size(t, (size_t)cfg->dim, &td) < 0 || splitee__mul_size(td, 3, &t3d) < 0 ||
        splitee__mul_size(t, (size_t)cfg->mlp_hidden, &th) < 0 || th > (size_t)-1 / 8 ||
        t3d > (size_t)-1 / 8)
        return 0;
    size_t sizes[5] = { splitee__round16(td), splitee__round16(t3d), splitee__round16(td),
                        splitee__attention_scratch_floats(t, (size_t)cfg->dim),
                        splitee__round16(th) };
    float **dst[5] = { &s->xb, &s->qkv, &s->y, &s->scores, &s->hidden };
    size_t off = 0;
    for (int i = 0; i < 5; i++) {
        if (base)
            *dst[i] = base + off;
        off += sizes[i];
    }
    return off;
}

static size_t vit_scratch_floats(const splitee_model_config *cfg)
{
    vit_scratch s;
    return vit_layout(cfg, NULL, &s);
}

static void vit_forward(const splitee__block *blk, const splitee_model_config *cfg,
                        const splitee__kernels *k, float *x, float *scratch)
{
    const splitee__vit_block *w = &blk->u.vit;
    int t = cfg->tokens, d = cfg->dim, h = cfg->mlp_hidden;
    float eps = (float)cfg->norm_eps;
    vit_scratch s;
    vit_layout(cfg, scratch, &s);

    /* x = x + proj(attention(qkv(ln1(x)))) */
    k->layernorm(s.xb, x, w->ln1.g, w->ln1.b, t, d, eps);
    splitee__linear_apply(k, s.qkv, s.xb, &w->qkv, t);
    k->attention(s.y, s.qkv, s.scores, t, d, cfg->heads);
    splitee__linear_apply(k, s.xb, s.y, &w->proj, t);
    splitee__add(x, s.xb, (size_t)t * (size_t)d);

    /* x = x + fc2(gelu(fc1(ln2(x)))) */
    k->layernorm(s.xb, x, w->ln2.g, w->ln2.b, t, d, eps);
    splitee__linear_apply(k, s.hidden, s.xb, &w->fc1, t);
    k->gelu(s.hidden, (size_t)t * (size_t)h);
    splitee__linear_apply(k, s.xb, s.hidden, &w->fc2, t);
    splitee__add(x, s.xb, (size_t)t * (size_t)d);
}

static int vit_linears(splitee__block *blk, splitee__linear **out)
{
    splitee__vit_block *w = &blk->u.vit;
    out[0] = &w->qkv;
    out[1] = &w->proj;
    out[2] = &w->fc1;
    out[3] = &w->fc2;
    return 4;
}

/* ---- the table ----------------------------------------------------------- */

static const splitee__block_ops block_ops[SPLITEE__BLOCK_KINDS] = {
    [SPLITEE__BLOCK_VIT_ENCODER] = { "vit-encoder", 12, vit_declare, vit_scratch_floats,
                                     vit_forward, vit_linears },
};

const splitee__block_ops *splitee__block_ops_get(splitee__block_kind kind)
{
    if ((int)kind < 0 || kind >= SPLITEE__BLOCK_KINDS)
        return NULL;
    return &block_ops[kind];
}
