/* graph.c -- model.json format version 2 (model.h, docs/ENGINE.md) into
 * op lists (model_internal.h): every key checked, every op's output shape
 * inferred from its input and attributes, residual references resolved to
 * save slots, and the weight tensors each op needs declared by name and
 * shape for the loader to bind. Also the batch-norm folding done once the
 * weights are bound. Messages name the file and the place:
 * "model.json: stages[1].ops[3] (add): ...". */
#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "engine/model_internal.h"
#include "splitee/exit.h"

#define MAX_PARAM_NAME 256

static const char *const op_names[SPLITEE__OP_KINDS] = {
    [SPLITEE__OP_CONV2D] = "conv2d",
    [SPLITEE__OP_BATCHNORM] = "batchnorm",
    [SPLITEE__OP_RELU] = "relu",
    [SPLITEE__OP_RELU6] = "relu6",
    [SPLITEE__OP_HARDSWISH] = "hardswish",
    [SPLITEE__OP_SILU] = "silu",
    [SPLITEE__OP_GELU] = "gelu",
    [SPLITEE__OP_ADD] = "add",
    [SPLITEE__OP_MAXPOOL] = "maxpool",
    [SPLITEE__OP_AVGPOOL] = "avgpool",
    [SPLITEE__OP_GLOBAL_AVGPOOL] = "global_avgpool",
    [SPLITEE__OP_FLATTEN] = "flatten",
    [SPLITEE__OP_LINEAR] = "linear",
    [SPLITEE__OP_LAYERNORM] = "layernorm",
    [SPLITEE__OP_PATCH_EMBED] = "patch_embed",
    [SPLITEE__OP_POS_EMBED] = "pos_embed",
    [SPLITEE__OP_ATTENTION] = "attention",
    [SPLITEE__OP_TOKEN_MEAN] = "token_mean",
};

/* The attribute keys each op accepts besides "op" and "save". */
static const char *const op_keys[SPLITEE__OP_KINDS][9] = {
    [SPLITEE__OP_CONV2D] = { "param", "out", "kernel", "stride", "padding", "dilation", "groups",
                             "bias", NULL },
    [SPLITEE__OP_BATCHNORM] = { "param", "eps", NULL },
    [SPLITEE__OP_ADD] = { "from", NULL },
    [SPLITEE__OP_MAXPOOL] = { "kernel", "stride", "padding", NULL },
    [SPLITEE__OP_AVGPOOL] = { "kernel", "stride", "padding", "count_include_pad", NULL },
    [SPLITEE__OP_LINEAR] = { "param", "out", "bias", NULL },
    [SPLITEE__OP_LAYERNORM] = { "param", "eps", NULL },
    [SPLITEE__OP_PATCH_EMBED] = { "param", "patch", "dim", NULL },
    [SPLITEE__OP_POS_EMBED] = { "param", NULL },
    [SPLITEE__OP_ATTENTION] = { "heads", NULL },
};

const char *splitee__op_name(splitee__op_kind kind)
{
    return (int)kind >= 0 && kind < SPLITEE__OP_KINDS ? op_names[kind] : NULL;
}

/* Where parsing is, for messages. */
typedef struct ctx {
    const char *path;         /* model.json */
    char where[96];           /* "stages[1].ops[3] (add)", or "" at the top */
    splitee__spec_list *specs;
    splitee_error *err;
} ctx;

SPLITEE__PRINTF(3, 4)
static int fail(ctx *c, int status, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->where[0])
        return splitee__fail(c->err, status, "%s: %s: %s", c->path, c->where, msg);
    return splitee__fail(c->err, status, "%s: %s", c->path, msg);
}

/* "(C, H, W)" style text of a shape. */
static const char *shape_text(char *buf, size_t n, const splitee_shape *s)
{
    static const char *const names[4][3] = { { "" }, { "N" }, { "T", "D" }, { "C", "H", "W" } };
    int k = snprintf(buf, n, "(");
    for (int i = 0; i < s->rank && k > 0 && (size_t)k < n; i++)
        k += snprintf(buf + k, n - (size_t)k, "%s%s %d", i ? ", " : "", names[s->rank][i],
                      s->dims[i]);
    if (k > 0 && (size_t)k < n)
        snprintf(buf + k, n - (size_t)k, ")");
    return buf;
}

/* ---- JSON values ---------------------------------------------------------- */

/* Every member of object `o` is one of keys[] (NULL-terminated) or of
 * extra[] (NULL-terminated, may be NULL); FORMAT naming the first that is not. */
static int check_keys(ctx *c, const cJSON *o, const char *const *keys, const char *const *extra)
{
    for (const cJSON *it = o->child; it; it = it->next) {
        int ok = 0;
        for (int i = 0; keys[i] && !ok; i++)
            ok = strcmp(it->string, keys[i]) == 0;
        for (int i = 0; extra && extra[i] && !ok; i++)
            ok = strcmp(it->string, extra[i]) == 0;
        if (!ok)
            return fail(c, SPLITEE_ERR_FORMAT, "unknown key '%.64s'", it->string);
    }
    return SPLITEE_OK;
}

/* An integer value in [lo, INT_MAX] (FORMAT if not an integer, VALUE if out
 * of range). */
static int int_value(ctx *c, const cJSON *it, const char *key, int lo, int *out)
{
    double v = cJSON_IsNumber(it) ? it->valuedouble : NAN;
    if (!cJSON_IsNumber(it) || !isfinite(v) || v != floor(v))
        return fail(c, SPLITEE_ERR_FORMAT, "'%s' must be an integer", key);
    if (v < lo || v > INT_MAX)
        return fail(c, SPLITEE_ERR_VALUE, "'%s' must be in [%d, %d], got %.17g", key, lo, INT_MAX,
                    v);
    *out = (int)v;
    return SPLITEE_OK;
}

/* Member `key` of o as an integer >= lo; `def` when absent and def >= lo,
 * FORMAT "missing key" when absent and def < lo. */
static int get_int(ctx *c, const cJSON *o, const char *key, int lo, int def, int *out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!it) {
        if (def < lo)
            return fail(c, SPLITEE_ERR_FORMAT, "missing key '%s'", key);
        *out = def;
        return SPLITEE_OK;
    }
    return int_value(c, it, key, lo, out);
}

/* Member `key` as an integer pair: N (both) or [H, W]; default as get_int. */
static int get_pair(ctx *c, const cJSON *o, const char *key, int lo, int def, int *a, int *b)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (it && cJSON_IsArray(it)) {
        if (cJSON_GetArraySize(it) != 2)
            return fail(c, SPLITEE_ERR_FORMAT, "'%s' must be an integer or a pair [h, w]", key);
        int rc = int_value(c, cJSON_GetArrayItem(it, 0), key, lo, a);
        return rc < 0 ? rc : int_value(c, cJSON_GetArrayItem(it, 1), key, lo, b);
    }
    int rc = get_int(c, o, key, lo, def, a);
    *b = *a;
    return rc;
}

/* Member `key` as a boolean, `def` when absent. */
static int get_bool(ctx *c, const cJSON *o, const char *key, int def, int *out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!it) {
        *out = def;
        return SPLITEE_OK;
    }
    if (!cJSON_IsBool(it))
        return fail(c, SPLITEE_ERR_FORMAT, "'%s' must be true or false", key);
    *out = cJSON_IsTrue(it) ? 1 : 0;
    return SPLITEE_OK;
}

/* Member `key` as a finite number (> 0 with `positive`); `def` when absent
 * and has_def. */
static int get_number(ctx *c, const cJSON *o, const char *key, int positive, int has_def,
                      double def, double *out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!it) {
        if (!has_def)
            return fail(c, SPLITEE_ERR_FORMAT, "missing key '%s'", key);
        *out = def;
        return SPLITEE_OK;
    }
    if (!cJSON_IsNumber(it))
        return fail(c, SPLITEE_ERR_FORMAT, "'%s' must be a number", key);
    double v = it->valuedouble;
    if (!isfinite(v) || (positive && !(v > 0.0)))
        return fail(c, SPLITEE_ERR_VALUE, "'%s' must be a %sfinite number, got %.17g", key,
                    positive ? "positive " : "", v);
    *out = v;
    return SPLITEE_OK;
}

/* Member `key` as a non-empty string of at most `max` bytes (FORMAT). */
static int get_string(ctx *c, const cJSON *o, const char *key, size_t max, const char **out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!it)
        return fail(c, SPLITEE_ERR_FORMAT, "missing key '%s'", key);
    if (!cJSON_IsString(it))
        return fail(c, SPLITEE_ERR_FORMAT, "'%s' must be a string", key);
    size_t n = strlen(it->valuestring);
    if (n == 0 || n > max)
        return fail(c, SPLITEE_ERR_VALUE, "'%s' must be 1 to %zu bytes long, got %zu", key, max,
                    n);
    *out = it->valuestring;
    return SPLITEE_OK;
}

/* ---- shapes ----------------------------------------------------------------- */

/* Elements of s, checked against SPLITEE__MAX_ELEMS (OVERFLOW). */
static int check_elems(ctx *c, const splitee_shape *s, const char *what)
{
    size_t n = 1;
    for (int i = 0; i < s->rank; i++)
        if (splitee__mul_size(n, (size_t)s->dims[i], &n) < 0 || n > SPLITEE__MAX_ELEMS) {
            n = SPLITEE__MAX_ELEMS + 1;
            break;
        }
    if (n > SPLITEE__MAX_ELEMS) {
        char t[96];
        return fail(c, SPLITEE_ERR_OVERFLOW, "%s %s holds more than 2^30 elements", what,
                    shape_text(t, sizeof t, s));
    }
    return SPLITEE_OK;
}

static splitee_shape shape3(int a, int b, int d)
{
    splitee_shape s = { 3, { a, b, d } };
    return s;
}

static splitee_shape shape2(int a, int b)
{
    splitee_shape s = { 2, { a, b, 1 } };
    return s;
}

static splitee_shape shape1(int a)
{
    splitee_shape s = { 1, { a, 1, 1 } };
    return s;
}

/* SHAPE unless the op's input has one of the ranks in `ranks` (bit r set). */
static int want_rank(ctx *c, const splitee_shape *in, unsigned ranks, const char *wanted)
{
    if (ranks & (1u << in->rank))
        return SPLITEE_OK;
    char t[96];
    return fail(c, SPLITEE_ERR_SHAPE, "needs a %s input, got %s", wanted,
                shape_text(t, sizeof t, in));
}

/* One spatial axis of a window: output size (h + 2 p - d (k - 1) - 1) / s + 1,
 * with every intermediate the kernels compute in int kept in range. */
static int window_axis(ctx *c, const char *axis, int h, int k, int s, int p, int d, int *out)
{
    long long span = (long long)d * (k - 1);
    long long padded = (long long)h + 2LL * p;
    if (padded > INT_MAX || span > INT_MAX)
        return fail(c, SPLITEE_ERR_OVERFLOW, "%s: input %d + 2 x padding %d or dilation %d x "
                    "(kernel %d - 1) does not fit an int", axis, h, p, d, k);
    if (padded - span - 1 < 0)
        return fail(c, SPLITEE_ERR_SHAPE, "%s: the window (kernel %d, dilation %d) is larger than "
                    "the padded input (%d + 2 x %d)", axis, k, d, h, p);
    *out = (int)((padded - span - 1) / s + 1);
    return SPLITEE_OK;
}

/* ---- weights ------------------------------------------------------------------ */

/* Declares tensor "<param><suffix>" of the given shape, bound to *dest. */
static int declare(ctx *c, const char *param, const char *suffix, int ndim, const size_t *shape,
                   const float **dest)
{
    size_t n = 1;
    for (int i = 0; i < ndim; i++)
        if (splitee__mul_size(n, shape[i], &n) < 0 || n > SPLITEE__MAX_ELEMS)
            return fail(c, SPLITEE_ERR_OVERFLOW, "tensor '%s%s' would hold more than 2^30 "
                        "elements", param, suffix);
    splitee__spec_list *l = c->specs;
    if (l->count == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        splitee__tensor_spec *items = realloc(l->items, cap * sizeof *items);
        if (!items)
            return fail(c, SPLITEE_ERR_NOMEM, "out of memory");
        l->items = items;
        l->cap = cap;
    }
    size_t len = strlen(param) + strlen(suffix) + 1;
    char *name = malloc(len);
    if (!name)
        return fail(c, SPLITEE_ERR_NOMEM, "out of memory");
    snprintf(name, len, "%s%s", param, suffix);
    splitee__tensor_spec *s = &l->items[l->count++];
    memset(s, 0, sizeof *s);
    s->name = name;
    s->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        s->shape[i] = shape[i];
    s->dest = dest;
    return SPLITEE_OK;
}

static int declare1(ctx *c, const char *param, const char *suffix, int n, const float **dest)
{
    size_t shape[1] = { (size_t)n };
    return declare(c, param, suffix, 1, shape, dest);
}

/* Declares P.weight (out, in) and, with has_bias, P.bias (out) of a linear map. */
static int declare_linear(ctx *c, const char *param, splitee__linear *l, int has_bias)
{
    size_t shape[2] = { (size_t)l->out, (size_t)l->in };
    int rc = declare(c, param, ".weight", 2, shape, &l->w);
    if (rc == 0 && has_bias)
        rc = declare1(c, param, ".bias", l->out, &l->b);
    return rc;
}

void splitee__spec_list_free(splitee__spec_list *l)
{
    for (size_t i = 0; l->items && i < l->count; i++)
        free(l->items[i].name);
    free(l->items);
    l->items = NULL;
    l->count = l->cap = 0;
}

/* ---- one op ---------------------------------------------------------------------- */

/* Attributes, output shape, weights and scratch of `op` (its kind and
 * input shape set) from the JSON object o. */
static int parse_op(ctx *c, const cJSON *o, splitee__op *op)
{
    const splitee_shape *in = &op->in;
    const char *param = NULL;
    int rc = SPLITEE_OK;
    int needs_param = op_keys[op->kind][0] && strcmp(op_keys[op->kind][0], "param") == 0;
    if (needs_param && (rc = get_string(c, o, "param", MAX_PARAM_NAME, &param)) < 0)
        return rc;
    op->io = SPLITEE__IO_OUT_OF_PLACE;
    switch (op->kind) {
    case SPLITEE__OP_CONV2D: {
        splitee__conv2d_params *p = &op->conv;
        if ((rc = want_rank(c, in, 1u << 3, "(C, H, W)")) < 0 ||
            (rc = get_int(c, o, "out", 1, 0, &p->out)) < 0 ||
            (rc = get_pair(c, o, "kernel", 1, 0, &p->kh, &p->kw)) < 0 ||
            (rc = get_pair(c, o, "stride", 1, 1, &p->sh, &p->sw)) < 0 ||
            (rc = get_pair(c, o, "padding", 0, 0, &p->ph, &p->pw)) < 0 ||
            (rc = get_pair(c, o, "dilation", 1, 1, &p->dh, &p->dw)) < 0 ||
            (rc = get_int(c, o, "groups", 1, 1, &p->groups)) < 0 ||
            (rc = get_bool(c, o, "bias", 1, &op->has_bias)) < 0)
            return rc;
        p->c = in->dims[0];
        p->h = in->dims[1];
        p->w = in->dims[2];
        if (p->c % p->groups != 0 || p->out % p->groups != 0)
            return fail(c, SPLITEE_ERR_SHAPE, "groups %d must divide the input channels %d and "
                        "'out' %d", p->groups, p->c, p->out);
        if ((rc = window_axis(c, "height", p->h, p->kh, p->sh, p->ph, p->dh, &p->ho)) < 0 ||
            (rc = window_axis(c, "width", p->w, p->kw, p->sw, p->pw, p->dw, &p->wo)) < 0)
            return rc;
        op->out = shape3(p->out, p->ho, p->wo);
        size_t shape[4] = { (size_t)p->out, (size_t)(p->c / p->groups), (size_t)p->kh,
                            (size_t)p->kw };
        rc = declare(c, param, ".weight", 4, shape, &op->w);
        if (rc == 0 && op->has_bias)
            rc = declare1(c, param, ".bias", p->out, &op->b);
        return rc;
    }
    case SPLITEE__OP_BATCHNORM: {
        if ((rc = want_rank(c, in, 1u << 3 | 1u << 1, "(C, H, W) or (N)")) < 0 ||
            (rc = get_number(c, o, "eps", 1, 1, 1e-5, &op->eps)) < 0)
            return rc;
        op->out = *in;
        op->io = SPLITEE__IO_ELEMENTWISE;
        int ch = in->dims[0];
        if ((rc = declare1(c, param, ".weight", ch, &op->bn_g)) < 0 ||
            (rc = declare1(c, param, ".bias", ch, &op->bn_b)) < 0 ||
            (rc = declare1(c, param, ".running_mean", ch, &op->bn_mean)) < 0)
            return rc;
        return declare1(c, param, ".running_var", ch, &op->bn_var);
    }
    case SPLITEE__OP_RELU:
    case SPLITEE__OP_RELU6:
    case SPLITEE__OP_HARDSWISH:
    case SPLITEE__OP_SILU:
    case SPLITEE__OP_GELU:
        op->out = *in;
        op->io = SPLITEE__IO_ELEMENTWISE;
        return SPLITEE_OK;
    case SPLITEE__OP_ADD:   /* the reference is resolved by the caller */
        op->out = *in;
        op->io = SPLITEE__IO_ELEMENTWISE;
        return SPLITEE_OK;
    case SPLITEE__OP_MAXPOOL:
    case SPLITEE__OP_AVGPOOL: {
        splitee__conv2d_params *p = &op->conv;
        if ((rc = want_rank(c, in, 1u << 3, "(C, H, W)")) < 0 ||
            (rc = get_pair(c, o, "kernel", 1, 0, &p->kh, &p->kw)) < 0 ||
            (rc = get_pair(c, o, "stride", 1, p->kh, &p->sh, &p->sw)) < 0 ||
            (rc = get_pair(c, o, "padding", 0, 0, &p->ph, &p->pw)) < 0)
            return rc;
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "stride");
        if (!st)   /* default stride: the kernel, per axis */
            p->sw = p->kw;
        if (op->kind == SPLITEE__OP_AVGPOOL &&
            (rc = get_bool(c, o, "count_include_pad", 1, &op->count_include_pad)) < 0)
            return rc;
        if (2LL * p->ph > p->kh || 2LL * p->pw > p->kw)
            return fail(c, SPLITEE_ERR_SHAPE, "padding [%d, %d] must be at most half the kernel "
                        "[%d, %d]", p->ph, p->pw, p->kh, p->kw);
        p->c = p->out = in->dims[0];
        p->h = in->dims[1];
        p->w = in->dims[2];
        p->dh = p->dw = p->groups = 1;
        if ((rc = window_axis(c, "height", p->h, p->kh, p->sh, p->ph, 1, &p->ho)) < 0 ||
            (rc = window_axis(c, "width", p->w, p->kw, p->sw, p->pw, 1, &p->wo)) < 0)
            return rc;
        op->out = shape3(p->c, p->ho, p->wo);
        return SPLITEE_OK;
    }
    case SPLITEE__OP_GLOBAL_AVGPOOL:
        if ((rc = want_rank(c, in, 1u << 3, "(C, H, W)")) < 0)
            return rc;
        op->out = shape1(in->dims[0]);
        return SPLITEE_OK;
    case SPLITEE__OP_FLATTEN:
        op->out = shape1((int)splitee_shape_elems(in));   /* <= 2^30: checked */
        op->io = SPLITEE__IO_NONE;
        return SPLITEE_OK;
    case SPLITEE__OP_LINEAR: {
        if ((rc = want_rank(c, in, 1u << 1 | 1u << 2, "(N) or (T, D)")) < 0 ||
            (rc = get_int(c, o, "out", 1, 0, &op->lin.out)) < 0 ||
            (rc = get_bool(c, o, "bias", 1, &op->has_bias)) < 0)
            return rc;
        op->lin.in = in->dims[in->rank - 1];
        op->out = in->rank == 1 ? shape1(op->lin.out) : shape2(in->dims[0], op->lin.out);
        return declare_linear(c, param, &op->lin, op->has_bias);
    }
    case SPLITEE__OP_LAYERNORM: {
        if ((rc = want_rank(c, in, 1u << 1 | 1u << 2, "(N) or (T, D)")) < 0 ||
            (rc = get_number(c, o, "eps", 1, 1, 1e-5, &op->eps)) < 0)
            return rc;
        op->out = *in;
        op->io = SPLITEE__IO_ELEMENTWISE;
        int d = in->dims[in->rank - 1];
        if ((rc = declare1(c, param, ".weight", d, &op->ln_g)) < 0)
            return rc;
        return declare1(c, param, ".bias", d, &op->ln_b);
    }
    case SPLITEE__OP_PATCH_EMBED: {
        int dim;
        if ((rc = want_rank(c, in, 1u << 3, "(C, H, W)")) < 0 ||
            (rc = get_int(c, o, "patch", 1, 0, &op->patch)) < 0 ||
            (rc = get_int(c, o, "dim", 1, 0, &dim)) < 0)
            return rc;
        int p = op->patch;
        if (in->dims[1] % p != 0 || in->dims[2] % p != 0)
            return fail(c, SPLITEE_ERR_SHAPE, "input %d x %d is not divisible into %d x %d "
                        "patches", in->dims[1], in->dims[2], p, p);
        long long t = (long long)(in->dims[1] / p) * (in->dims[2] / p);
        long long pd = (long long)in->dims[0] * p * p;   /* <= the input's elements */
        if (t > INT_MAX)
            return fail(c, SPLITEE_ERR_OVERFLOW, "%lld patches do not fit an int", t);
        op->out = shape2((int)t, dim);
        op->lin.out = dim;
        op->lin.in = (int)pd;
        op->scratch = splitee__round16((size_t)t * (size_t)pd);
        op->has_bias = 1;
        return declare_linear(c, param, &op->lin, 1);
    }
    case SPLITEE__OP_POS_EMBED: {
        if ((rc = want_rank(c, in, 1u << 2, "(T, D)")) < 0)
            return rc;
        op->out = *in;
        op->io = SPLITEE__IO_ELEMENTWISE;
        size_t shape[2] = { (size_t)in->dims[0], (size_t)in->dims[1] };
        return declare(c, param, "", 2, shape, &op->w);
    }
    case SPLITEE__OP_ATTENTION: {
        if ((rc = want_rank(c, in, 1u << 2, "(T, 3 D)")) < 0 ||
            (rc = get_int(c, o, "heads", 1, 0, &op->heads)) < 0)
            return rc;
        if (in->dims[1] % 3 != 0)
            return fail(c, SPLITEE_ERR_SHAPE, "input width %d is not 3 D (q | k | v)",
                        in->dims[1]);
        int d = in->dims[1] / 3;
        if (d % op->heads != 0)
            return fail(c, SPLITEE_ERR_SHAPE, "width D = %d is not divisible by heads %d", d,
                        op->heads);
        op->out = shape2(in->dims[0], d);
        op->scratch = splitee__attention_scratch_floats((size_t)in->dims[0], (size_t)d);
        return SPLITEE_OK;
    }
    case SPLITEE__OP_TOKEN_MEAN:
        if ((rc = want_rank(c, in, 1u << 2, "(T, D)")) < 0)
            return rc;
        op->out = shape1(in->dims[1]);
        return SPLITEE_OK;
    case SPLITEE__OP_KINDS:
        break;
    }
    return fail(c, SPLITEE_ERR_UNSUPPORTED, "unknown op");
}

/* ---- op lists --------------------------------------------------------------------- */

/* The names of a list's save slots while it is parsed (pointing into the
 * JSON tree). */
typedef struct names {
    const char **name;   /* (ops + 1) */
    int count;
} names;

/* Parses the op list `arr` (JSON array named `label`, e.g. "stages[2].ops")
 * whose input has shape `in` into *l. */
static int parse_list(ctx *c, const cJSON *arr, const char *label, const splitee_shape *in,
                      splitee__oplist *l)
{
    snprintf(c->where, sizeof c->where, "%s", label);
    if (!cJSON_IsArray(arr))
        return fail(c, SPLITEE_ERR_FORMAT, "must be an array of ops");
    int n = cJSON_GetArraySize(arr);
    if (n < 1 || n > 4096)
        return fail(c, SPLITEE_ERR_VALUE, "must hold 1 to 4096 ops, got %d", n);
    l->ops = calloc((size_t)n, sizeof *l->ops);
    l->slot_off = calloc((size_t)n + 1, sizeof *l->slot_off);
    names nmv = { calloc((size_t)n + 1, sizeof(const char *)), 0 }, *nm = &nmv;
    if (!l->ops || !l->slot_off || !nm->name) {
        free(nm->name);
        return fail(c, SPLITEE_ERR_NOMEM, "out of memory");
    }
    l->n = n;
    l->in = *in;
    l->input_slot = -1;
    size_t off = 0;
    int rc = SPLITEE_OK, i = 0;
    splitee_shape cur = *in;
    for (const cJSON *o = arr->child; o && rc == 0; o = o->next, i++) {
        splitee__op *op = &l->ops[i];
        op->save = op->from = -1;
        snprintf(c->where, sizeof c->where, "%s[%d]", label, i);
        if (!cJSON_IsObject(o)) {
            rc = fail(c, SPLITEE_ERR_FORMAT, "an op must be an object");
            break;
        }
        const cJSON *kind = cJSON_GetObjectItemCaseSensitive(o, "op");
        if (!kind) {
            rc = fail(c, SPLITEE_ERR_FORMAT, "missing key 'op'");
            break;
        }
        if (!cJSON_IsString(kind)) {
            rc = fail(c, SPLITEE_ERR_FORMAT, "'op' must be a string");
            break;
        }
        int k = 0;
        while (k < SPLITEE__OP_KINDS && strcmp(op_names[k], kind->valuestring) != 0)
            k++;
        if (k == SPLITEE__OP_KINDS) {
            rc = fail(c, SPLITEE_ERR_UNSUPPORTED, "unknown op '%.64s'", kind->valuestring);
            break;
        }
        op->kind = (splitee__op_kind)k;
        snprintf(c->where, sizeof c->where, "%s[%d] (%s)", label, i, op_names[k]);
        static const char *const common[] = { "op", "save", NULL };
        op->in = cur;
        if ((rc = check_keys(c, o, common, op_keys[k])) < 0 || (rc = parse_op(c, o, op)) < 0)
            break;
        char t[96];
        if ((rc = check_elems(c, &op->out, "output")) < 0)
            break;
        if (op->kind == SPLITEE__OP_ADD) {
            const char *from;
            if ((rc = get_string(c, o, "from", 128, &from)) < 0)
                break;
            int s = 0;
            while (s < nm->count && strcmp(nm->name[s], from) != 0)
                s++;
            if (s == nm->count && strcmp(from, "input") == 0) {
                if (l->input_slot < 0) {
                    l->input_slot = nm->count++;
                    nm->name[l->input_slot] = "input";
                    l->slot_off[l->input_slot] = off;
                    off += splitee__round16(splitee_shape_elems(in));
                }
                s = l->input_slot;
            }
            if (s == nm->count) {
                int later = -1, j = 0;
                for (const cJSON *q = o; q && later < 0; q = q->next, j++) {
                    const cJSON *sv = cJSON_GetObjectItemCaseSensitive(q, "save");
                    if (cJSON_IsString(sv) && strcmp(sv->valuestring, from) == 0)
                        later = i + j;
                }
                if (later == i)
                    rc = fail(c, SPLITEE_ERR_FORMAT, "'from' names '%.64s', this op's own output: "
                              "a residual must add a tensor saved before it (a cycle)", from);
                else if (later > i)
                    rc = fail(c, SPLITEE_ERR_FORMAT, "'from' names '%.64s', which %s[%d] saves "
                              "later: a residual must add a tensor saved before it (a cycle)",
                              from, label, later);
                else
                    rc = fail(c, SPLITEE_ERR_FORMAT, "'from' names '%.64s', which no earlier op "
                              "of %s saves (nor is it \"input\")", from, label);
                break;
            }
            /* the saved tensor's shape: the list input or that op's output */
            splitee_shape want = *in;
            if (s != l->input_slot)
                for (int j = 0; j < i; j++)
                    if (l->ops[j].save == s)
                        want = l->ops[j].out;
            if (want.rank != cur.rank || memcmp(want.dims, cur.dims, sizeof want.dims) != 0) {
                char u[96];
                rc = fail(c, SPLITEE_ERR_SHAPE, "adds '%.64s' %s to a %s tensor", from,
                          shape_text(u, sizeof u, &want), shape_text(t, sizeof t, &cur));
                break;
            }
            op->from = s;
        }
        const cJSON *sv = cJSON_GetObjectItemCaseSensitive(o, "save");
        if (sv) {
            const char *name;
            if ((rc = get_string(c, o, "save", 128, &name)) < 0)
                break;
            int dup = strcmp(name, "input") == 0;
            for (int s = 0; s < nm->count && !dup; s++)
                dup = strcmp(nm->name[s], name) == 0;
            if (dup) {
                rc = fail(c, SPLITEE_ERR_FORMAT, "'save' name '%.64s' is %s", name,
                          strcmp(name, "input") == 0 ? "reserved for the list's input"
                                                     : "already saved earlier in the list");
                break;
            }
            op->save = nm->count++;
            nm->name[op->save] = name;
            l->slot_off[op->save] = off;
            off += splitee__round16(splitee_shape_elems(&op->out));
        }
        cur = op->out;
    }
    free(nm->name);
    if (rc < 0)
        return rc;
    l->slots = 0;
    for (int j = 0; j < n; j++)
        if (l->ops[j].save + 1 > l->slots)
            l->slots = l->ops[j].save + 1;
    if (l->input_slot + 1 > l->slots)
        l->slots = l->input_slot + 1;
    l->saves_floats = off;
    l->out = cur;
    return SPLITEE_OK;
}

/* ---- the whole model ---------------------------------------------------------------- */

static size_t max_size(size_t a, size_t b)
{
    return a > b ? a : b;
}

/* The input spec: shape (C, H, W) or (T, D), mean and std. */
static int parse_input(ctx *c, const cJSON *root, splitee_shape *in, splitee_model_config *cfg)
{
    snprintf(c->where, sizeof c->where, "input");
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, "input");
    if (!o)
        return fail(c, SPLITEE_ERR_FORMAT, "missing key 'input'");
    if (!cJSON_IsObject(o))
        return fail(c, SPLITEE_ERR_FORMAT, "must be an object");
    static const char *const keys[] = { "shape", "mean", "std", NULL };
    int rc = check_keys(c, o, keys, NULL);
    if (rc < 0)
        return rc;
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(o, "shape");
    if (!sh)
        return fail(c, SPLITEE_ERR_FORMAT, "missing key 'shape'");
    int r = cJSON_IsArray(sh) ? cJSON_GetArraySize(sh) : -1;
    if (r != 2 && r != 3)
        return fail(c, SPLITEE_ERR_FORMAT, "'shape' must be [C, H, W] or [T, D]");
    memset(in, 0, sizeof *in);
    in->rank = r;
    for (int i = 0; i < SPLITEE_MAX_RANK; i++)
        in->dims[i] = 1;
    for (int i = 0; i < r; i++)
        if ((rc = int_value(c, cJSON_GetArrayItem(sh, i), "shape", 1, &in->dims[i])) < 0)
            return rc;
    if ((rc = check_elems(c, in, "the input")) < 0 ||
        (rc = get_number(c, o, "mean", 0, 1, 0.0, &cfg->input_mean)) < 0 ||
        (rc = get_number(c, o, "std", 1, 1, 1.0, &cfg->input_std)) < 0)
        return rc;
    return SPLITEE_OK;
}

/* Elements of every distinct tensor the specs name (the weights' count). */
static size_t count_params(const splitee__spec_list *l)
{
    size_t total = 0;
    for (size_t i = 0; i < l->count; i++) {
        size_t j = 0;
        while (j < i && strcmp(l->items[j].name, l->items[i].name) != 0)
            j++;
        if (j < i)
            continue;
        size_t n = 1;
        for (int d = 0; d < l->items[i].ndim; d++)
            n *= l->items[i].shape[d];   /* each <= 2^30: checked in declare */
        total += n;
    }
    return total;
}

int splitee__graph_parse(splitee_model *m, const cJSON *root, const char *path,
                         splitee__spec_list *specs, splitee_error *err)
{
    ctx c = { path, "", specs, err };
    static const char *const keys[] = { "format", "version", "name", "metadata", "weights",
                                        "dtype", "classes", "input", "stages", NULL };
    int rc = check_keys(&c, root, keys, NULL);
    if (rc < 0)
        return rc;
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(root, "dtype");
    if (!dt)
        return fail(&c, SPLITEE_ERR_FORMAT, "missing key 'dtype'");
    if (!cJSON_IsString(dt))
        return fail(&c, SPLITEE_ERR_FORMAT, "'dtype' must be a string");
    if (strcmp(dt->valuestring, "F32") != 0)
        return fail(&c, SPLITEE_ERR_UNSUPPORTED, "unsupported dtype '%.64s' (expected 'F32')",
                    dt->valuestring);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(root, "name");
    if (name && !cJSON_IsString(name))
        return fail(&c, SPLITEE_ERR_FORMAT, "'name' must be a string");
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "metadata");
    if (meta && !cJSON_IsObject(meta))
        return fail(&c, SPLITEE_ERR_FORMAT, "'metadata' must be an object");
    splitee_model_config *cfg = &m->cfg;
    splitee_shape in;
    if ((rc = get_int(&c, root, "classes", 2, 0, &cfg->classes)) < 0 ||
        (rc = parse_input(&c, root, &in, cfg)) < 0)
        return rc;
    c.where[0] = '\0';
    const cJSON *stages = cJSON_GetObjectItemCaseSensitive(root, "stages");
    if (!stages)
        return fail(&c, SPLITEE_ERR_FORMAT, "missing key 'stages'");
    if (!cJSON_IsArray(stages))
        return fail(&c, SPLITEE_ERR_FORMAT, "'stages' must be an array");
    int L = cJSON_GetArraySize(stages);
    if (L < 1 || L > SPLITEE_MAX_EXITS)
        return fail(&c, L < 1 ? SPLITEE_ERR_VALUE : SPLITEE_ERR_UNSUPPORTED,
                    "%d stages (1..%d supported)", L, SPLITEE_MAX_EXITS);
    m->stages = calloc((size_t)L, sizeof *m->stages);
    m->exits = calloc((size_t)L, sizeof *m->exits);
    m->splits = calloc((size_t)L + 1, sizeof *m->splits);
    if (!m->stages || !m->exits || !m->splits)
        return fail(&c, SPLITEE_ERR_NOMEM, "out of memory");
    cfg->layers = L;
    m->splits[0] = in;
    size_t act = splitee_shape_elems(&in), head = 0, saves = 0, scratch = 0;
    int k = 0;
    for (const cJSON *st = stages->child; st; st = st->next, k++) {
        char label[64];
        snprintf(c.where, sizeof c.where, "stages[%d]", k);
        if (!cJSON_IsObject(st))
            return fail(&c, SPLITEE_ERR_FORMAT, "a stage must be an object");
        static const char *const skeys[] = { "name", "ops", "exit", NULL };
        if ((rc = check_keys(&c, st, skeys, NULL)) < 0)
            return rc;
        const cJSON *sn = cJSON_GetObjectItemCaseSensitive(st, "name");
        if (sn && !cJSON_IsString(sn))
            return fail(&c, SPLITEE_ERR_FORMAT, "'name' must be a string");
        const cJSON *ops = cJSON_GetObjectItemCaseSensitive(st, "ops");
        const cJSON *ex = cJSON_GetObjectItemCaseSensitive(st, "exit");
        if (!ops || !ex)
            return fail(&c, SPLITEE_ERR_FORMAT, "missing key '%s'", !ops ? "ops" : "exit");
        snprintf(label, sizeof label, "stages[%d].ops", k);
        if ((rc = parse_list(&c, ops, label, &m->splits[k], &m->stages[k])) < 0)
            return rc;
        m->splits[k + 1] = m->stages[k].out;
        snprintf(label, sizeof label, "stages[%d].exit", k);
        if ((rc = parse_list(&c, ex, label, &m->splits[k + 1], &m->exits[k])) < 0)
            return rc;
        const splitee_shape *o = &m->exits[k].out;
        if (o->rank != 1 || o->dims[0] != cfg->classes) {
            char t[96];
            snprintf(c.where, sizeof c.where, "%s", label);
            return fail(&c, SPLITEE_ERR_SHAPE, "ends in %s, expected the (N %d) logits of "
                        "'classes'", shape_text(t, sizeof t, o), cfg->classes);
        }
        for (int j = 0; j < m->stages[k].n; j++) {
            const splitee__op *op = &m->stages[k].ops[j];
            act = max_size(act, max_size(splitee_shape_elems(&op->in),
                                         splitee_shape_elems(&op->out)));
            scratch = max_size(scratch, op->scratch);
        }
        for (int j = 0; j < m->exits[k].n; j++) {
            const splitee__op *op = &m->exits[k].ops[j];
            head = max_size(head, splitee_shape_elems(&op->out));
            scratch = max_size(scratch, op->scratch);
        }
        saves = max_size(saves, max_size(m->stages[k].saves_floats, m->exits[k].saves_floats));
    }
    c.where[0] = '\0';
    m->act_floats = act;
    m->head_floats = head;
    m->saves_floats = saves;
    m->scratch_floats = scratch;
    cfg->params = count_params(specs);
    if (in.rank == 3) {
        cfg->channels = in.dims[0];
        cfg->image_size = in.dims[1] == in.dims[2] ? in.dims[1] : 0;
    }
    return SPLITEE_OK;
}

void splitee__graph_free(splitee_model *m)
{
    for (int k = 0; m->stages && k < m->cfg.layers; k++) {
        free(m->stages[k].ops);
        free(m->stages[k].slot_off);
    }
    for (int k = 0; m->exits && k < m->cfg.layers; k++) {
        free(m->exits[k].ops);
        free(m->exits[k].slot_off);
    }
    free(m->stages);
    free(m->exits);
    free(m->splits);
    m->stages = m->exits = NULL;
    m->splits = NULL;
}

/* ---- batch-norm folding ------------------------------------------------------------ */

/* Whether op i of l is a batch norm folded into the conv2d before it. */
static int foldable(const splitee__oplist *l, int i)
{
    return l->ops[i].kind == SPLITEE__OP_BATCHNORM && i > 0 &&
           l->ops[i - 1].kind == SPLITEE__OP_CONV2D && l->ops[i - 1].save < 0;
}

/* Floats the folding needs for list l: a conv weight + bias per folded
 * batch norm, scale + shift per standalone one. */
static size_t fold_floats(const splitee__oplist *l)
{
    size_t n = 0;
    for (int i = 0; i < l->n; i++) {
        const splitee__op *op = &l->ops[i];
        if (op->kind != SPLITEE__OP_BATCHNORM)
            continue;
        size_t ch = (size_t)op->in.dims[0];
        if (foldable(l, i)) {
            const splitee__conv2d_params *p = &l->ops[i - 1].conv;
            n += splitee__round16((size_t)p->out * (size_t)(p->c / p->groups) * (size_t)p->kh *
                                  (size_t)p->kw) + splitee__round16(ch);
        } else {
            n += 2 * splitee__round16(ch);
        }
    }
    return n;
}

/* s = g / sqrt(var + eps) per channel, in double; VALUE for a negative
 * variance or a scale that is not finite in float. */
static int bn_scale(const splitee_model *m, const splitee__op *op, const char *where, int ch,
                    double *s, splitee_error *err)
{
    for (int i = 0; i < ch; i++) {
        double v = (double)op->bn_var[i];
        if (v < 0)
            return splitee__fail(err, SPLITEE_ERR_VALUE, "%s: %s (batchnorm): running_var[%d] "
                                 "is negative (%g)", m->weights_path, where, i, v);
        s[i] = (double)op->bn_g[i] / sqrt(v + op->eps);
        double shift = (double)op->bn_b[i] - (double)op->bn_mean[i] * s[i];
        if (!isfinite((float)s[i]) || !isfinite((float)shift))
            return splitee__fail(err, SPLITEE_ERR_VALUE, "%s: %s (batchnorm): channel %d "
                                 "scales by %g, not a finite float", m->weights_path, where, i,
                                 s[i]);
    }
    return SPLITEE_OK;
}

/* Folds or prepares the batch norms of list l (label for messages) into
 * the floats at *p. */
static int fold_list(splitee_model *m, splitee__oplist *l, const char *label, float **p,
                     splitee_error *err)
{
    for (int i = 0; i < l->n; i++) {
        splitee__op *op = &l->ops[i];
        if (op->kind != SPLITEE__OP_BATCHNORM)
            continue;
        char where[96];
        snprintf(where, sizeof where, "%s[%d]", label, i);
        int ch = op->in.dims[0];
        double *s = malloc((size_t)ch * sizeof *s);
        if (!s)
            return splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", m->weights_path);
        int rc = bn_scale(m, op, where, ch, s, err);
        if (rc < 0) {
            free(s);
            return rc;
        }
        if (foldable(l, i)) {
            /* w' = w s[o], b' = (b - mean) s[o] + beta, in double, rounded once */
            splitee__op *cv = &l->ops[i - 1];
            const splitee__conv2d_params *q = &cv->conv;
            size_t per = (size_t)(q->c / q->groups) * (size_t)q->kh * (size_t)q->kw;
            float *w = *p, *b = *p + splitee__round16((size_t)q->out * per);
            for (int o = 0; o < q->out; o++) {
                for (size_t j = 0; j < per; j++) {
                    double v = (double)cv->w[(size_t)o * per + j] * s[o];
                    w[(size_t)o * per + j] = (float)v;
                    if (!isfinite(w[(size_t)o * per + j])) {
                        free(s);
                        return splitee__fail(err, SPLITEE_ERR_VALUE, "%s: %s (batchnorm): folding "
                                             "into the convolution gives a weight past the float "
                                             "range", m->weights_path, where);
                    }
                }
                double bias = cv->b ? (double)cv->b[o] : 0.0;
                b[o] = (float)((bias - (double)op->bn_mean[o]) * s[o] + (double)op->bn_b[o]);
                if (!isfinite(b[o])) {
                    free(s);
                    return splitee__fail(err, SPLITEE_ERR_VALUE, "%s: %s (batchnorm): folding "
                                         "into the convolution gives a bias past the float "
                                         "range", m->weights_path, where);
                }
            }
            cv->w = w;
            cv->b = b;
            op->folded = 1;
            op->io = SPLITEE__IO_NONE;
            *p = b + splitee__round16((size_t)ch);
        } else {
            float *scale = *p, *shift = *p + splitee__round16((size_t)ch);
            for (int o = 0; o < ch; o++) {
                scale[o] = (float)s[o];
                shift[o] = (float)((double)op->bn_b[o] - (double)op->bn_mean[o] * s[o]);
            }
            op->scale = scale;
            op->shift = shift;
            *p = shift + splitee__round16((size_t)ch);
        }
        free(s);
    }
    return SPLITEE_OK;
}

int splitee__graph_fold(splitee_model *m, splitee_error *err)
{
    size_t n = 0;
    for (int k = 0; k < m->cfg.layers; k++)
        n += fold_floats(&m->stages[k]) + fold_floats(&m->exits[k]);
    if (n == 0)
        return SPLITEE_OK;
    m->owned = aligned_alloc(64, n * sizeof(float));
    if (!m->owned)
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory (%zu bytes of folded "
                             "weights)", m->weights_path, n * sizeof(float));
    memset(m->owned, 0, n * sizeof(float));
    m->owned_floats = n;
    float *p = m->owned;
    for (int k = 0; k < m->cfg.layers; k++) {
        char label[64];
        snprintf(label, sizeof label, "stages[%d].ops", k);
        int rc = fold_list(m, &m->stages[k], label, &p, err);
        snprintf(label, sizeof label, "stages[%d].exit", k);
        if (rc == 0)
            rc = fold_list(m, &m->exits[k], label, &p, err);
        if (rc < 0)
            return rc;
    }
    return SPLITEE_OK;
}

/* ---- multiply-accumulates (model.h) ---------------------------------------- */

/* MACs of one op: the matrix products only (model.h). */
static size_t op_macs(const splitee__op *op)
{
    switch (op->kind) {
    case SPLITEE__OP_CONV2D: {
        const splitee__conv2d_params *p = &op->conv;
        return (size_t)p->out * (size_t)p->ho * (size_t)p->wo * (size_t)(p->c / p->groups) *
               (size_t)p->kh * (size_t)p->kw;
    }
    case SPLITEE__OP_LINEAR:
        return (op->in.rank == 1 ? 1 : (size_t)op->in.dims[0]) * (size_t)op->lin.in *
               (size_t)op->lin.out;
    case SPLITEE__OP_PATCH_EMBED:
        return (size_t)op->out.dims[0] * (size_t)op->lin.in * (size_t)op->lin.out;
    case SPLITEE__OP_ATTENTION:   /* q k^T and p v over all heads: 2 T^2 D */
        return 2 * (size_t)op->in.dims[0] * (size_t)op->in.dims[0] * (size_t)op->out.dims[1];
    default:
        return 0;
    }
}

static size_t list_macs(const splitee__oplist *l)
{
    size_t n = 0;
    for (int i = 0; i < l->n; i++)
        n += op_macs(&l->ops[i]);
    return n;
}

size_t splitee_model_stage_macs(const splitee_model *m, int stage)
{
    if (!m || stage < 1 || stage > m->cfg.layers)
        return 0;
    return list_macs(&m->stages[stage - 1]);
}

size_t splitee_model_exit_macs(const splitee_model *m, int exit)
{
    if (!m || exit < 1 || exit > m->cfg.layers)
        return 0;
    return list_macs(&m->exits[exit - 1]);
}
