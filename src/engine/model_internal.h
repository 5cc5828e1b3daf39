/* model_internal.h -- internal: the layout of a loaded model, a graph of
 * ops (model.h, format version 2) whose weights point into the mapped
 * safetensors file, shared by the loader (model.c, graph.c) and the
 * engine (engine.c, ops.c).
 *
 * A model is L stages and L exit heads, each an op list (splitee__oplist).
 * The loader parses model.json into op lists with every shape inferred and
 * a list of the weight tensors the ops need (splitee__spec_list), binds the
 * tensors, folds batch norms into the convolutions they follow, and
 * repacks linear weights for the kernels that want it. The engine runs a
 * list op by op between two ping-pong buffers (engine.c); each op's
 * arithmetic is in ops.c.
 *
 * Adding an op: a splitee__op_kind value, its attributes and shape rule in
 * graph.c (parse_op / infer_shape), its weights in declare_op, and its
 * forward in ops.c (splitee__op_forward); docs/ENGINE.md and model.h list
 * the op set. */
#ifndef SPLITEE_MODEL_INTERNAL_H
#define SPLITEE_MODEL_INTERNAL_H

#include <stddef.h>
#include "engine/kernels.h"
#include "formats/safetensors.h"
#include "splitee/model.h"

/* Largest tensor (elements) a network may compute: 2^30 floats, 4 GiB
 * (and a payload body that fits its 32-bit length). */
#define SPLITEE__MAX_ELEMS ((size_t)1 << 30)

/* y = W x + b, PyTorch layout. */
typedef struct splitee__linear {
    const float *w;  /* (out, in), in the mapped file */
    const float *b;  /* (out), in the mapped file; NULL: no bias */
    const float *wt; /* (in, out) W transposed, in the model's `packed` buffer,
                      * when the model's kernels want it; NULL otherwise */
    int out, in;
} splitee__linear;

/* y (n, out) = x (n, in) W^T + b through the kernels k. */
static inline void splitee__linear_apply(const splitee__kernels *k, float *restrict y,
                                         const float *restrict x, const splitee__linear *l,
                                         int n)
{
    k->linear(y, x, l->w, l->wt, l->b, n, l->in, l->out);
}

typedef enum splitee__op_kind {
    SPLITEE__OP_CONV2D = 0,
    SPLITEE__OP_BATCHNORM,
    SPLITEE__OP_RELU,
    SPLITEE__OP_RELU6,
    SPLITEE__OP_HARDSWISH,
    SPLITEE__OP_SILU,
    SPLITEE__OP_GELU,
    SPLITEE__OP_ADD,
    SPLITEE__OP_MAXPOOL,
    SPLITEE__OP_AVGPOOL,
    SPLITEE__OP_GLOBAL_AVGPOOL,
    SPLITEE__OP_FLATTEN,
    SPLITEE__OP_LINEAR,
    SPLITEE__OP_LAYERNORM,
    SPLITEE__OP_PATCH_EMBED,
    SPLITEE__OP_POS_EMBED,
    SPLITEE__OP_ATTENTION,
    SPLITEE__OP_TOKEN_MEAN,
    SPLITEE__OP_KINDS
} splitee__op_kind;

/* The op's name in model.json ("conv2d", ...); NULL for a bad kind. */
const char *splitee__op_name(splitee__op_kind kind);

/* How an op uses its buffers (engine.c picks them). */
typedef enum splitee__op_io {
    SPLITEE__IO_OUT_OF_PLACE = 0, /* y must not alias x */
    SPLITEE__IO_ELEMENTWISE,      /* y may equal x */
    SPLITEE__IO_NONE              /* nothing to compute (flatten, a folded batch norm) */
} splitee__io;

/* One op with its inferred shapes and bound weights. */
typedef struct splitee__op {
    splitee__op_kind kind;
    splitee__io io;
    splitee_shape in, out;
    int save;             /* save slot written with the output, or -1 */
    int from;             /* add: the save slot it adds (the list's input_slot for
                           * "input"), else -1 */
    /* conv2d and pooling */
    splitee__conv2d_params conv;   /* shapes, kernel, stride, padding, dilation, groups */
    int count_include_pad;         /* avgpool */
    int has_bias;                  /* conv2d, linear: 1 unless "bias": false */
    const float *w, *b;            /* conv2d: weight (out, C/g, kh, kw) and bias (out) or
                                    * NULL, in the file or, folded, in `owned`; pos_embed:
                                    * w is the (T, D) table */
    /* batch norm: as bound, then scale/shift (standalone) made at load */
    const float *bn_g, *bn_b, *bn_mean, *bn_var;
    const float *scale, *shift;    /* (C) in the model's `owned` buffer */
    int folded;                    /* 1: folded into the conv2d before it (a no-op) */
    double eps;                    /* batchnorm, layernorm */
    /* layernorm */
    const float *ln_g, *ln_b;      /* (D) */
    /* linear and patch_embed */
    splitee__linear lin;
    int patch;                     /* patch_embed: patch side */
    int heads;                     /* attention */
    size_t scratch;                /* floats of scratch the op needs */
} splitee__op;

/* A stage or an exit head: ops run in order, and the save slots they use. */
typedef struct splitee__oplist {
    splitee__op *ops;     /* (n) */
    int n;
    splitee_shape in, out;
    int slots;            /* save slots; slot_off (slots) floats into the saves area */
    size_t *slot_off;
    int input_slot;       /* the slot that holds the list's input ("input"), or -1 */
    size_t saves_floats;  /* floats of all its slots */
} splitee__oplist;

struct splitee_model {
    splitee_model_config cfg;
    char *json_path;           /* owned */
    char *weights_path;        /* owned */
    splitee__safetensors st;   /* the mapping every file weight points into */
    splitee__oplist *stages;   /* (layers) */
    splitee__oplist *exits;    /* (layers): exits[i] reads the output of stages[i] */
    splitee_shape *splits;     /* (layers + 1): split point shapes, 0 = input */
    size_t act_floats;         /* largest tensor any stage op reads or writes */
    size_t head_floats;        /* largest tensor any exit op writes */
    size_t saves_floats;       /* largest saves area of any list */
    size_t scratch_floats;     /* largest op scratch */
    const splitee__kernels *kern; /* chosen once at load (splitee__kernels_select) */
    float *packed;             /* transposed linear weights (packed_floats), or NULL */
    size_t packed_floats;
    float *owned;              /* folded conv weights and biases, batch-norm scales
                                * and shifts (owned_floats), or NULL */
    size_t owned_floats;
};

/* Internal accessors for bench/bench_engine.c and the tests. */
const splitee__kernels *splitee__model_kernels(const splitee_model *m);
size_t splitee__model_mapped_bytes(const splitee_model *m);  /* the weights file */
size_t splitee__model_extra_bytes(const splitee_model *m);   /* repacked and folded weights */
size_t splitee__model_state_bytes(const splitee_model *m);   /* one run state's buffers */

/* splitee_model_load from memory: the model.json text [json, json +
 * json_len) (need not be NUL-terminated; its "weights" key is checked but
 * not followed) and the whole safetensors file [weights, weights +
 * weights_len), which the model borrows: it must outlive the model.
 * json_name / weights_name stand for the file paths in messages. Every
 * check of the public loader runs, through the same code; only reading and
 * mapping the files differ. */
int splitee__model_load_mem(const char *json_name, const char *json, size_t json_len,
                            const char *weights_name, const void *weights, size_t weights_len,
                            splitee_model **out, splitee_error *err);

/* The version 2 model.json text of the version 1 model.json [json, json +
 * len) -- the graph the loader runs for it -- into *out (malloc'd,
 * NUL-terminated; caller frees). The v1 keys are checked as the loader
 * checks them; `path` names the file in messages. */
int splitee__model_v1_to_v2(const char *path, const char *json, size_t len, char **out,
                            splitee_error *err);

/* ---- the graph (graph.c) ------------------------------------------------- */

/* One weight tensor the graph needs: its name, shape and where the loader
 * stores its data pointer. */
typedef struct splitee__tensor_spec {
    char *name;            /* owned */
    int ndim;              /* 1..4 */
    size_t shape[4];
    const float **dest;
} splitee__tensor_spec;

/* A growing list of specs. */
typedef struct splitee__spec_list {
    splitee__tensor_spec *items;
    size_t count, cap;
} splitee__spec_list;

void splitee__spec_list_free(splitee__spec_list *l);

struct cJSON;

/* Builds m->stages, m->exits, m->splits, m->cfg (version 2 fields) and the
 * buffer sizes from the version 2 model.json object `root` (named `path`
 * in messages), and appends every weight it needs to `specs`. On failure
 * the partly built lists stay in m for splitee_model_free. */
int splitee__graph_parse(splitee_model *m, const struct cJSON *root, const char *path,
                         splitee__spec_list *specs, splitee_error *err);

/* Frees the op lists of m (stages, exits, splits). */
void splitee__graph_free(splitee_model *m);

/* After binding: folds every batch norm that follows a conv2d into it and
 * makes the scales of standalone ones, in m->owned. */
int splitee__graph_fold(splitee_model *m, splitee_error *err);

/* ---- running ops (ops.c) --------------------------------------------------- */

/* y <- op(x) with the model's kernels: x has op->in's shape, y gets
 * op->out's; y == x allowed for elementwise ops only. `saves` is the list's
 * saves area (for add), `scratch` op->scratch floats. */
void splitee__op_forward(const splitee_model *m, const splitee__oplist *l, const splitee__op *op,
                         const float *x, float *y, const float *saves, float *scratch);

/* Rounds a float count up to a multiple of 16 (64-byte chunks). */
static inline size_t splitee__round16(size_t n)
{
    return (n + 15) & ~(size_t)15;
}

#endif
