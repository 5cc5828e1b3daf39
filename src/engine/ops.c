/* ops.c -- the arithmetic of each op of the layer graph (model_internal.h,
 * model.h's op set) through the model's kernels (kernels.h). The engine
 * (engine.c) picks the buffers; this file only computes. */
#include <string.h>

#include "engine/kernels.h"
#include "engine/model_internal.h"

/* Rows of a (T, D) tensor, 1 for a vector (N). */
static int rows_of(const splitee_shape *s)
{
    return s->rank == 2 ? s->dims[0] : 1;
}

void splitee__op_forward(const splitee_model *m, const splitee__oplist *l, const splitee__op *op,
                         const float *x, float *y, const float *saves, float *scratch)
{
    const splitee__kernels *k = m->kern;
    const splitee_shape *in = &op->in;
    size_t n = splitee_shape_elems(&op->out);
    switch (op->kind) {
    case SPLITEE__OP_CONV2D:
        k->conv2d(y, x, op->w, op->b, &op->conv);
        break;
    case SPLITEE__OP_BATCHNORM:
        if (!op->folded)
            splitee__scale_shift(y, x, op->scale, op->shift, in->dims[0],
                                 in->rank == 3 ? in->dims[1] * in->dims[2] : 1);
        else if (y != x)
            memcpy(y, x, n * sizeof *y);
        break;
    case SPLITEE__OP_RELU:
        splitee__relu(y, x, n);
        break;
    case SPLITEE__OP_RELU6:
        splitee__relu6(y, x, n);
        break;
    case SPLITEE__OP_HARDSWISH:
        splitee__hardswish(y, x, n);
        break;
    case SPLITEE__OP_SILU:
        splitee__silu(y, x, n);
        break;
    case SPLITEE__OP_GELU:
        if (y != x)
            memcpy(y, x, n * sizeof *y);
        k->gelu(y, n);
        break;
    case SPLITEE__OP_ADD:
        splitee__add3(y, x, saves + l->slot_off[op->from], n);
        break;
    case SPLITEE__OP_MAXPOOL:
        splitee__maxpool(y, x, &op->conv);
        break;
    case SPLITEE__OP_AVGPOOL:
        splitee__avgpool(y, x, &op->conv, op->count_include_pad);
        break;
    case SPLITEE__OP_GLOBAL_AVGPOOL:
        splitee__global_avgpool(y, x, in->dims[0], in->dims[1] * in->dims[2]);
        break;
    case SPLITEE__OP_FLATTEN:
        if (y != x)
            memcpy(y, x, n * sizeof *y);
        break;
    case SPLITEE__OP_LINEAR:
        splitee__linear_apply(k, y, x, &op->lin, rows_of(in));
        break;
    case SPLITEE__OP_LAYERNORM:
        k->layernorm(y, x, op->ln_g, op->ln_b, rows_of(in), in->dims[in->rank - 1],
                     (float)op->eps);
        break;
    case SPLITEE__OP_PATCH_EMBED:
        splitee__patchify(scratch, x, in->dims[0], in->dims[1], in->dims[2], op->patch);
        splitee__linear_apply(k, y, scratch, &op->lin, op->out.dims[0]);
        break;
    case SPLITEE__OP_POS_EMBED:
        splitee__add3(y, x, op->w, n);
        break;
    case SPLITEE__OP_ATTENTION:
        k->attention(y, x, scratch, in->dims[0], op->out.dims[1], op->heads);
        break;
    case SPLITEE__OP_TOKEN_MEAN:
        splitee__mean_rows(y, x, in->dims[0], in->dims[1]);
        break;
    case SPLITEE__OP_KINDS:
        break;
    }
}
