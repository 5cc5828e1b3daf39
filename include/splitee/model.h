/* model.h -- a multi-exit network: its architecture (model.json) and
 * read-only weights (safetensors), loaded and fully validated.
 *
 * A model folder holds model.json and the weights file it names
 * (model.safetensors). The loader checks every key of model.json, infers
 * the shape of every tensor the network computes, maps the weights
 * read-only, and checks every weight's dtype (F32), shape, data offsets and
 * values against the architecture before a model exists, so code that
 * receives a model may trust it. A loaded model is never written to: any
 * number of threads may run it at once, each with its own run state
 * (engine.h).
 *
 *     splitee_model *m;
 *     splitee_error err;
 *     if (splitee_model_load("data/model", &m, &err) < 0)
 *         die(err.msg);   // "data/model/model.safetensors: tensor 'pos' has shape (15, 64), ..."
 *     const splitee_model_config *c = splitee_model_get_config(m);
 *     splitee_shape sh;
 *     for (int k = 0; k <= c->layers; k++) {      // split points: 0 = raw input
 *         splitee_model_split_shape(m, k, &sh);
 *         printf("split %d: %zu floats\n", k, splitee_model_split_elems(m, k));
 *     }
 *     ... splitee_engine_state_create(m, &s, &err) ... (engine.h)
 *     splitee_model_free(m);
 *
 * Split points. A model is an input spec, L stages and one exit head after
 * each stage. Split point 0 is the (normalised) input; split point k
 * (1..L) is the output of stage k, which is also what exit head k reads.
 * A device that stops at split point k sends that activation (payload.h);
 * its shape and size depend on k and come from splitee_model_split_shape
 * and splitee_model_payload_size, never from a fixed width.
 *
 * Format version 2 (docs/ENGINE.md, "Model format version 2", has the
 * full reference and an example):
 *     {"format": "splitee-model", "version": 2, "weights": "model.safetensors",
 *      "dtype": "F32", "classes": 10,
 *      "input": {"shape": [1, 28, 28], "mean": 0.286, "std": 0.353},
 *      "stages": [{"ops": [OP, ...], "exit": [OP, ...]}, ...]}
 * Tensors are (C, H, W) (row-major, channels first, as PyTorch's NCHW
 * without N), (T, D) (tokens x features) or (N) (a vector, what flatten,
 * global_avgpool and token_mean produce). The input is (C, H, W) or (T, D);
 * every input element x becomes (x - mean) / std in float32. A stage or an
 * exit is a non-empty list of ops run in order, each taking the previous
 * op's output (the first takes the list's input: the previous split
 * point). Every exit must end in a (classes) vector: the logits. An op is
 * {"op": NAME, ...attributes}; any op may add "save": "NAME" to keep its
 * output for a later "add" of the same list ("input" names the list's
 * input). Ops ("param" P names the weights: P.weight, P.bias, ... as in a
 * PyTorch state_dict; pairs may be written N or [H, W]):
 *   conv2d       param, out, kernel, stride=1, padding=0, dilation=1,
 *                groups=1, bias=true: (C,H,W) -> (out,H',W'); weight
 *                (out, C/groups, kh, kw), bias (out). groups = C = out is
 *                depthwise, kernel 1 pointwise.
 *   batchnorm    param, eps=1e-5: P.weight|bias|running_mean|running_var
 *                (C); (C,H,W) per channel or (N) per element. Folded into
 *                the convolution at load when it directly follows a
 *                conv2d whose output is not saved; standalone otherwise.
 *   relu, relu6, hardswish, silu, gelu (exact, erf): any shape, no attributes.
 *   add          from: the saved tensor to add; same shape.
 *   maxpool, avgpool  kernel, stride=kernel, padding=0 (at most kernel/2);
 *                avgpool also count_include_pad=true. (C,H,W) -> (C,H',W').
 *   global_avgpool  (C,H,W) -> (C).     flatten  any -> (N), data unchanged.
 *   linear       param, out, bias=true: (N) -> (out) or (T,D) -> (T,out);
 *                weight (out, in).
 *   layernorm    param, eps=1e-5: over the last dimension of (T,D) or (N).
 *   patch_embed  param, patch, dim: (C,H,W) -> (H/p * W/p, dim), patches in
 *                row-major order, each flattened (c, y, x); weight
 *                (dim, C p p), bias (dim).
 *   pos_embed    param: adds tensor P itself, the input's shape (T,D).
 *   attention    heads: (T, 3D) holding q | k | v per token -> (T, D),
 *                softmax(q k^T / sqrt(D/heads)) v per head (no projections:
 *                linear ops before and after).
 *   token_mean   (T,D) -> (D).
 * A residual "add" may only name a tensor saved earlier in the same list
 * (or "input"); a name saved later is a cycle and refused. Every tensor
 * the network computes holds at most 2^30 elements.
 *
 * Format version 1 ("type": "vit-multi-exit", what tools/train.py writes,
 * the shipped data/model) is still read: the loader checks its keys as
 * before and translates it into the version 2 graph of the same network
 * (splitee__model_v1_to_v2 in model_internal.h) -- stage 1 is patch_embed,
 * pos_embed and the first encoder layer, each later stage one encoder
 * layer (layernorm, linear qkv, attention, linear proj, add, layernorm,
 * linear fc1, gelu, linear fc2, add), each exit layernorm, token_mean,
 * linear -- which computes the same float32 operations in the same order
 * as the engine did before version 2: the logits are bit-identical. Its
 * keys: a 28x28x1 image cut into (image_size/patch_size)^2 patches of
 * `dim` floats; `layers` encoder blocks; tensors (PyTorch (out, in)):
 *     patch.weight (dim, patch_dim)  patch.bias (dim)  pos (tokens, dim)
 *     layers.<i>.ln1.weight|bias (dim)
 *     layers.<i>.qkv.weight (3 dim, dim)         layers.<i>.qkv.bias (3 dim)
 *     layers.<i>.proj.weight (dim, dim)          layers.<i>.proj.bias (dim)
 *     layers.<i>.ln2.weight|bias (dim)
 *     layers.<i>.fc1.weight (mlp_hidden, dim)    layers.<i>.fc1.bias (mlp_hidden)
 *     layers.<i>.fc2.weight (dim, mlp_hidden)    layers.<i>.fc2.bias (dim)
 *     exits.<i>.ln.weight|bias (dim)
 *     exits.<i>.fc.weight (classes, dim)         exits.<i>.fc.bias (classes)
 *
 * Kernels: at load the model picks its float32 kernels once -- AVX2+FMA
 * (x86-64 CPUs that have both, detected at run time; the library itself
 * is built for baseline x86-64) or portable C (any CPU; -ffp-contract=off
 * semantics). Setting the environment variable SPLITEE_SIMD=off (or 0,
 * no, portable) before splitee_model_load forces the portable kernels.
 * Both stay within 1e-4 of PyTorch's logits on the shipped model
 * (tests/test_engine.c). The AVX2 kernels read a transposed copy of every
 * linear weight made once at load from the mapped file (which stays the
 * source of truth); folded batch norms and standalone batch-norm scales
 * live in one more buffer made at load. docs/PERFORMANCE.md has the speeds.
 */
#ifndef SPLITEE_MODEL_H
#define SPLITEE_MODEL_H

#include <stddef.h>
#include "payload.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SPLITEE_MAX_RANK 3

/* The shape of a tensor the network computes. */
typedef struct splitee_shape {
    int rank;                   /* 1: (N), 2: (T, D), 3: (C, H, W) */
    int dims[SPLITEE_MAX_RANK]; /* dims[0..rank), each >= 1; the rest are 1 */
} splitee_shape;

/* Elements of `s` (the product of its dims). */
size_t splitee_shape_elems(const splitee_shape *s);

/* The 2-D (rows, cols) view a payload (payload.h) carries of a tensor of
 * shape `s`: (T, D) as is, (C, H, W) as (C, H W), (N) as (1, N). */
void splitee_shape_payload_dims(const splitee_shape *s, size_t *rows, size_t *cols);

/* The architecture, as read from model.json and checked. Fields marked v1
 * describe a version 1 ("vit-multi-exit") model and are 0 for version 2;
 * the shapes of any model come from splitee_model_split_shape. */
typedef struct splitee_model_config {
    int version;      /* model.json "version": 1 or 2 */
    int image_size;   /* input side in pixels when the input is (C, S, S), else 0 */
    int channels;     /* input channels C when the input is (C, H, W), else 0 */
    int patch_size;   /* v1: patch side in pixels, e.g. 7 */
    int patch_dim;    /* v1: patch_size^2 * channels: inputs of the patch embedding */
    int tokens;       /* v1: (image_size / patch_size)^2 patches, e.g. 16 */
    int dim;          /* v1: model width: floats per token */
    int heads;        /* v1: attention heads; dim % heads == 0 */
    int head_dim;     /* v1: dim / heads */
    int mlp_hidden;   /* v1: hidden units of each block's MLP */
    int layers;       /* stages, each followed by an exit (1..SPLITEE_MAX_EXITS) */
    int classes;      /* outputs of every exit (>= 2) */
    double norm_eps;  /* v1: LayerNorm epsilon (> 0) */
    double input_mean; /* input = (x - input_mean) / input_std, in float32 */
    double input_std;  /* (> 0) */
    size_t params;     /* float32 weights in total */
} splitee_model_config;

typedef struct splitee_model splitee_model; /* opaque, read-only once loaded */

/* Loads the model in folder `dir`: `dir`/model.json and the weights file its
 * "weights" key names (relative to `dir`). On success *out owns a new model
 * (free with splitee_model_free); on failure *out is NULL, `err` (may be
 * NULL) holds a one-line message naming model.json or the weights file and
 * the problem (version 2: also where, e.g. "stages[1].ops[3] (add)"), and
 * a negative status is returned: IO (cannot open/read/map), FORMAT
 * (malformed JSON, missing, unknown or ill-typed keys, a residual naming
 * a tensor that is not saved before it or saved after it (a cycle), a
 * save name used twice, bad safetensors header, offsets out of bounds, overlapping or
 * not matching dtype x shape, missing or unexpected tensors), SHAPE (shapes
 * that disagree: an op given a tensor of the wrong rank or size, an exit
 * that does not end in (classes), dim not divisible by heads, ...), VALUE
 * (non-finite weights, non-positive sizes or eps, negative variances),
 * UNSUPPORTED (an unknown op, model type, activation, exit pooling, dtype,
 * version, more than SPLITEE_MAX_EXITS stages), OVERFLOW (sizes: a tensor
 * past 2^30 elements, window arithmetic past an int), NOMEM. */
int splitee_model_load(const char *dir, splitee_model **out, splitee_error *err);

/* Unmaps and frees the model. No run state created from it may be used
 * afterwards. NULL is a no-op. */
void splitee_model_free(splitee_model *m);

/* The model's architecture; valid while the model lives. */
const splitee_model_config *splitee_model_get_config(const splitee_model *m);

/* The activation shape at split point `split` (0 = the input, k = after
 * stage k, 1..layers) into *shape. 0, or ARG (shape untouched) when split
 * is out of [0, layers] or a pointer is NULL. */
int splitee_model_split_shape(const splitee_model *m, int split, splitee_shape *shape);

/* Elements (floats) of the activation at split point `split`; 0 when split
 * is out of [0, layers]. */
size_t splitee_model_split_elems(const splitee_model *m, int split);

/* Bytes of the payload (payload.h, header included) of the activation at
 * split point `split` in `enc`; 0 for a split out of [0, layers] or an
 * unknown encoding. */
size_t splitee_model_payload_size(const splitee_model *m, int split,
                                  splitee_payload_encoding enc);

/* The largest splitee_model_payload_size over split points 0..layers:
 * the buffer that holds any payload of this model in `enc`. */
size_t splitee_model_max_payload_size(const splitee_model *m, splitee_payload_encoding enc);

/* Multiply-accumulates of stage `stage` (1..layers: what runs from split
 * point stage-1 to split point stage) / of exit head `exit` (1..layers:
 * the head that reads split point exit), for one sample, from the op list.
 * Only the matrix products count: conv2d out H' W' (C/groups) kh kw
 * (batch norms folded into it add nothing), linear rows x in x out
 * (rows = T for (T, D), 1 for a vector), patch_embed T x (C p p) x dim,
 * attention 2 T^2 D (q k^T and p v over all heads); elementwise ops,
 * norms, pooling, pos_embed and add count 0. A FLOP count is 2 x MACs.
 * 0 for an index out of range. */
size_t splitee_model_stage_macs(const splitee_model *m, int stage);
size_t splitee_model_exit_macs(const splitee_model *m, int exit);

/* Path of the model.json / weights file the model was loaded from (for
 * messages); valid while the model lives. */
const char *splitee_model_json_path(const splitee_model *m);
const char *splitee_model_weights_path(const splitee_model *m);

#ifdef __cplusplus
}
#endif
#endif
