/* model_internal.h -- internal: the layout of a loaded model (read-only
 * weights pointing into the mapped safetensors file) and the per-block-kind
 * dispatch shared by the loader (model.c) and the engine (engine.c).
 *
 * Adding a block kind (e.g. a convolution stage): add a splitee__block_kind
 * value, its weights struct to the union in splitee__block, and one entry
 * in the ops table of blocks.c (declare its tensors, size its scratch, run
 * it); the loader and the engine go through the table and need no change
 * beyond choosing the kind per layer. */
#ifndef SPLITEE_MODEL_INTERNAL_H
#define SPLITEE_MODEL_INTERNAL_H

#include <stddef.h>
#include "engine/kernels.h"
#include "formats/safetensors.h"
#include "splitee/model.h"

/* y = W x + b, PyTorch layout. */
typedef struct splitee__linear {
    const float *w;  /* (out, in), in the mapped file */
    const float *b;  /* (out), in the mapped file */
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

/* LayerNorm affine parameters. */
typedef struct splitee__norm {
    const float *g;  /* (dim) weight */
    const float *b;  /* (dim) bias */
    int dim;
} splitee__norm;

typedef enum splitee__block_kind {
    SPLITEE__BLOCK_VIT_ENCODER = 0, /* pre-norm transformer encoder layer */
    SPLITEE__BLOCK_KINDS
} splitee__block_kind;

/* Pre-norm transformer encoder layer:
 *   x += proj(attention(qkv(ln1(x))));  x += fc2(gelu(fc1(ln2(x)))) */
typedef struct splitee__vit_block {
    splitee__norm ln1;     /* (dim) */
    splitee__linear qkv;   /* (3 dim, dim): rows [0,dim) q, [dim,2dim) k, [2dim,3dim) v */
    splitee__linear proj;  /* (dim, dim) */
    splitee__norm ln2;     /* (dim) */
    splitee__linear fc1;   /* (mlp_hidden, dim) */
    splitee__linear fc2;   /* (dim, mlp_hidden) */
} splitee__vit_block;

typedef struct splitee__block {
    splitee__block_kind kind;
    union {
        splitee__vit_block vit;
    } u;
} splitee__block;

/* Exit head: logits = fc(mean over tokens of ln(x)). */
typedef struct splitee__exit_head {
    splitee__norm ln;      /* (dim) */
    splitee__linear fc;    /* (classes, dim) */
} splitee__exit_head;

struct splitee_model {
    splitee_model_config cfg;
    char *json_path;           /* owned */
    char *weights_path;        /* owned */
    splitee__safetensors st;   /* the mapping every weight pointer points into */
    splitee__linear patch;     /* (dim, patch_dim) */
    const float *pos;          /* (tokens, dim) */
    splitee__block *blocks;    /* (layers) */
    splitee__exit_head *exits; /* (layers) */
    size_t scratch_floats;     /* most scratch any block needs (floats) */
    const splitee__kernels *kern; /* chosen once at load (splitee__kernels_select) */
    float *packed;             /* transposed linear weights (packed_floats), or NULL:
                                * the only weight memory besides the mapping */
    size_t packed_floats;
};

/* Internal accessors for bench/bench_engine.c and the tests. */
const splitee__kernels *splitee__model_kernels(const splitee_model *m);
size_t splitee__model_mapped_bytes(const splitee_model *m);  /* the weights file */
size_t splitee__model_extra_bytes(const splitee_model *m);   /* repacked weights */
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

/* One tensor the architecture expects: its name, shape and where the
 * loader stores its data pointer. */
typedef struct splitee__tensor_spec {
    char name[48];
    int ndim;              /* 1 or 2 */
    size_t shape[2];
    const float **dest;
} splitee__tensor_spec;

/* A growing list of specs (capacity fixed up front by the loader). */
typedef struct splitee__spec_list {
    splitee__tensor_spec *items;
    size_t count, cap;
} splitee__spec_list;

/* Appends a spec; the list's capacity must suffice (the loader sizes it
 * from splitee__block_ops.tensors). */
void splitee__spec_add(splitee__spec_list *l, const char *name, int ndim, size_t d0,
                       size_t d1, const float **dest);

#define SPLITEE__MAX_BLOCK_LINEARS 8

/* What each block kind provides. */
typedef struct splitee__block_ops {
    const char *name;                       /* for messages */
    int tensors;                            /* tensors it declares */
    /* Declares the tensors of block `layer` and fills the shape fields of
     * *blk (pointers are filled when the tensors are bound). */
    void (*declare)(splitee__spec_list *l, int layer, const splitee_model_config *cfg,
                    splitee__block *blk);
    /* Scratch floats one forward needs; 0 on size_t overflow. */
    size_t (*scratch_floats)(const splitee_model_config *cfg);
    /* x (tokens, dim) <- block(x) with kernels k; scratch as sized above. */
    void (*forward)(const splitee__block *blk, const splitee_model_config *cfg,
                    const splitee__kernels *k, float *x, float *scratch);
    /* Stores the block's linear layers in out[0..] (at most
     * SPLITEE__MAX_BLOCK_LINEARS) and returns how many: the loader repacks
     * their weights for the kernels that want it. */
    int (*linears)(splitee__block *blk, splitee__linear **out);
} splitee__block_ops;

/* The ops of `kind` (never NULL for a valid kind). */
const splitee__block_ops *splitee__block_ops_get(splitee__block_kind kind);

/* Rounds a float count up to a multiple of 16 (64-byte chunks). */
static inline size_t splitee__round16(size_t n)
{
    return (n + 15) & ~(size_t)15;
}

#endif
