/* model.h -- the shipped multi-exit network: architecture (model.json) and
 * read-only weights (safetensors), loaded and fully validated.
 *
 * A model folder holds model.json (the architecture, written by
 * tools/train.py) and the weights file it names (model.safetensors). The
 * loader checks every key of model.json, maps the weights read-only, and
 * checks every tensor's dtype (F32), shape, data offsets and values against
 * the architecture before a model exists, so code that receives a model may
 * trust it. A loaded model is never written to: any number of threads may
 * run it at once, each with its own run state (engine.h).
 *
 *     splitee_model *m;
 *     splitee_error err;
 *     if (splitee_model_load("data/model", &m, &err) < 0)
 *         die(err.msg);   // "data/model/model.safetensors: tensor 'pos' has shape (15, 64), ..."
 *     const splitee_model_config *c = splitee_model_get_config(m);
 *     printf("%d layers, %d tokens x %d dims, %d classes\n",
 *            c->layers, c->tokens, c->dim, c->classes);
 *     ... splitee_engine_state_create(m, &s, &err) ... (engine.h)
 *     splitee_model_free(m);
 *
 * Kernels: at load the model picks its float32 kernels once -- AVX2+FMA
 * (x86-64 CPUs that have both, detected at run time; the library itself
 * is built for baseline x86-64) or portable C (any CPU; -ffp-contract=off
 * semantics). Setting the environment variable SPLITEE_SIMD=off (or 0,
 * no, portable) before splitee_model_load forces the portable kernels.
 * Both stay within 1e-4 of PyTorch's logits (tests/test_engine.c). The
 * AVX2 kernels read a transposed copy of every linear weight made once at
 * load from the mapped file (which stays the source of truth): about as
 * much memory again as the weights (1.5 MiB for the shipped model); the
 * portable kernels need no copy. docs/PERFORMANCE.md has the speeds.
 *
 * Supported architecture (model.json "type"): "vit-multi-exit" -- a
 * 28x28x1 image cut into (image_size/patch_size)^2 non-overlapping patches,
 * linear patch embedding + learned position embeddings, `layers` pre-norm
 * transformer encoder blocks, and after each block an exit head
 * (LayerNorm -> mean over tokens -> linear). Tensor names and shapes are
 * those tools/train.py exports (linear weights in PyTorch's (out, in)
 * layout):
 *     patch.weight (dim, patch_dim)  patch.bias (dim)  pos (tokens, dim)
 *     layers.<i>.ln1.weight|bias (dim)
 *     layers.<i>.qkv.weight (3 dim, dim)         layers.<i>.qkv.bias (3 dim)
 *     layers.<i>.proj.weight (dim, dim)          layers.<i>.proj.bias (dim)
 *     layers.<i>.ln2.weight|bias (dim)
 *     layers.<i>.fc1.weight (mlp_hidden, dim)    layers.<i>.fc1.bias (mlp_hidden)
 *     layers.<i>.fc2.weight (dim, mlp_hidden)    layers.<i>.fc2.bias (dim)
 *     exits.<i>.ln.weight|bias (dim)
 *     exits.<i>.fc.weight (classes, dim)         exits.<i>.fc.bias (classes)
 */
#ifndef SPLITEE_MODEL_H
#define SPLITEE_MODEL_H

#include <stddef.h>
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The architecture, as read from model.json and checked. */
typedef struct splitee_model_config {
    int image_size;   /* input side in pixels (square images), e.g. 28 */
    int channels;     /* input channels (1) */
    int patch_size;   /* patch side in pixels, e.g. 7 */
    int patch_dim;    /* patch_size^2 * channels: inputs of the patch embedding */
    int tokens;       /* (image_size / patch_size)^2 patches, e.g. 16 */
    int dim;          /* model width: floats per token */
    int heads;        /* attention heads; dim % heads == 0 */
    int head_dim;     /* dim / heads */
    int mlp_hidden;   /* hidden units of each block's MLP */
    int layers;       /* blocks, each followed by an exit (1..SPLITEE_MAX_EXITS) */
    int classes;      /* outputs of every exit (>= 2) */
    double norm_eps;  /* LayerNorm epsilon (> 0) */
    double input_mean; /* input = (pixel in [0,1] - input_mean) / input_std */
    double input_std;  /* (> 0) */
    size_t params;     /* float32 weights in total */
} splitee_model_config;

typedef struct splitee_model splitee_model; /* opaque, read-only once loaded */

/* Loads the model in folder `dir`: `dir`/model.json and the weights file its
 * "weights" key names (relative to `dir`). On success *out owns a new model
 * (free with splitee_model_free); on failure *out is NULL, `err` (may be
 * NULL) holds a one-line message naming model.json or the weights file and
 * the problem, and a negative status is returned: IO (cannot open/read/map),
 * FORMAT (malformed JSON, missing or ill-typed keys, bad safetensors header,
 * offsets out of bounds, overlapping or not matching dtype x shape, missing
 * or unexpected tensors), SHAPE (shapes that disagree with the
 * architecture, dim not divisible by heads, ...), VALUE (non-finite
 * weights, non-positive sizes or eps), UNSUPPORTED (model type, activation,
 * exit pooling, dtype, version), OVERFLOW (sizes), NOMEM. */
int splitee_model_load(const char *dir, splitee_model **out, splitee_error *err);

/* Unmaps and frees the model. No run state created from it may be used
 * afterwards. NULL is a no-op. */
void splitee_model_free(splitee_model *m);

/* The model's architecture; valid while the model lives. */
const splitee_model_config *splitee_model_get_config(const splitee_model *m);

/* Path of the model.json / weights file the model was loaded from (for
 * messages); valid while the model lives. */
const char *splitee_model_json_path(const splitee_model *m);
const char *splitee_model_weights_path(const splitee_model *m);

#ifdef __cplusplus
}
#endif
#endif
