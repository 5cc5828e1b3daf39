/* model.c -- loads and checks a model folder (model.h): model.json (cJSON),
 * format version 2 (the layer graph, graph.c) or version 1 (the
 * "vit-multi-exit" keys, checked here and translated into the version 2
 * graph of the same network), then the safetensors weights, each tensor
 * bound to the op that needs it, batch norms folded and linear weights
 * repacked. The public loader reads and maps files; splitee__model_load_mem
 * runs the same parsing and checks on buffers (the fuzz targets, tests/fuzz/). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "engine/model_internal.h"
#include "splitee/model.h"
#include "splitee/exit.h"

#define MAX_JSON_BYTES ((size_t)1 << 20)

/* ---- model.json ----------------------------------------------------------- */

/* The member `key` of root, or a FORMAT failure naming the missing key. */
static int get_item(const cJSON *root, const char *key, const char *path, const cJSON **item,
                    splitee_error *err)
{
    *item = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!*item)
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: missing key '%s'", path, key);
    return SPLITEE_OK;
}

/* An integer in [lo, INT_MAX]: FORMAT if not an integral number, VALUE if
 * below lo. */
static int get_int(const cJSON *root, const char *key, int lo, const char *path, int *out,
                   splitee_error *err)
{
    const cJSON *it;
    int rc = get_item(root, key, path, &it, err);
    if (rc < 0)
        return rc;
    double v = cJSON_IsNumber(it) ? it->valuedouble : NAN;
    if (!cJSON_IsNumber(it) || !isfinite(v) || v != floor(v))
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: key '%s' must be an integer", path, key);
    if (v < lo || v > INT_MAX)
        return splitee__fail(err, SPLITEE_ERR_VALUE, "%s: key '%s' must be in [%d, %d], got %.17g",
                             path, key, lo, INT_MAX, v);
    *out = (int)v;
    return SPLITEE_OK;
}

/* A finite number; with `positive`, > 0 (VALUE otherwise). */
static int get_number(const cJSON *root, const char *key, int positive, const char *path,
                      double *out, splitee_error *err)
{
    const cJSON *it;
    int rc = get_item(root, key, path, &it, err);
    if (rc < 0)
        return rc;
    if (!cJSON_IsNumber(it))
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: key '%s' must be a number", path, key);
    double v = it->valuedouble;
    if (!isfinite(v) || (positive && !(v > 0.0)))
        return splitee__fail(err, SPLITEE_ERR_VALUE, "%s: key '%s' must be a %snumber, got %.17g",
                             path, key, positive ? "positive finite " : "finite ", v);
    *out = v;
    return SPLITEE_OK;
}

/* A string; when `want` is not NULL it must equal it (`status` otherwise). */
static int get_string(const cJSON *root, const char *key, const char *want, int status,
                      const char *path, const char **out, splitee_error *err)
{
    const cJSON *it;
    int rc = get_item(root, key, path, &it, err);
    if (rc < 0)
        return rc;
    if (!cJSON_IsString(it))
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: key '%s' must be a string", path, key);
    if (want && strcmp(it->valuestring, want) != 0)
        return splitee__fail(err, status, "%s: unsupported %s '%.64s' (expected '%s')", path, key,
                             it->valuestring, want);
    if (out)
        *out = it->valuestring;
    return SPLITEE_OK;
}

/* "format" and "version" (1 or 2) of model.json, and the "weights" file
 * name (pointing into root). */
static int parse_header(const cJSON *root, const char *path, int *version, const char **weights,
                        splitee_error *err)
{
    int rc;
    if ((rc = get_string(root, "format", "splitee-model", SPLITEE_ERR_FORMAT, path, NULL,
                         err)) < 0 ||
        (rc = get_int(root, "version", 0, path, version, err)) < 0)
        return rc;
    if (*version != 1 && *version != 2)
        return splitee__fail(err, SPLITEE_ERR_UNSUPPORTED,
                             "%s: unsupported version %d (expected 1 or 2)", path, *version);
    if (*version == 2 && (rc = get_string(root, "weights", NULL, 0, path, weights, err)) < 0)
        return rc;
    if (*version == 2 && !**weights)
        return splitee__fail(err, SPLITEE_ERR_VALUE, "%s: key 'weights' is empty", path);
    return SPLITEE_OK;
}

/* Every key of a version 1 model.json, checked one by one; *weights gets
 * the weights file name (pointing into root). */
static int parse_keys(const cJSON *root, const char *path, splitee_model_config *c,
                      const char **weights, splitee_error *err)
{
    int rc;
    const int unsup = SPLITEE_ERR_UNSUPPORTED;
    if ((rc = get_string(root, "type", "vit-multi-exit", unsup, path, NULL, err)) < 0)
        return rc;
    static const struct { const char *key; size_t off; int lo; } ints[] = {
        { "image_size", offsetof(splitee_model_config, image_size), 1 },
        { "channels", offsetof(splitee_model_config, channels), 1 },
        { "patch_size", offsetof(splitee_model_config, patch_size), 1 },
        { "tokens", offsetof(splitee_model_config, tokens), 1 },
        { "dim", offsetof(splitee_model_config, dim), 1 },
        { "heads", offsetof(splitee_model_config, heads), 1 },
        { "mlp_hidden", offsetof(splitee_model_config, mlp_hidden), 1 },
        { "layers", offsetof(splitee_model_config, layers), 1 },
        { "classes", offsetof(splitee_model_config, classes), 2 },
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        if ((rc = get_int(root, ints[i].key, ints[i].lo, path,
                          (int *)((char *)c + ints[i].off), err)) < 0)
            return rc;
    if ((rc = get_number(root, "norm_eps", 1, path, &c->norm_eps, err)) < 0 ||
        (rc = get_number(root, "input_mean", 0, path, &c->input_mean, err)) < 0 ||
        (rc = get_number(root, "input_std", 1, path, &c->input_std, err)) < 0 ||
        (rc = get_string(root, "activation", "gelu-erf", unsup, path, NULL, err)) < 0 ||
        (rc = get_string(root, "exit_pool", "mean", unsup, path, NULL, err)) < 0 ||
        (rc = get_string(root, "dtype", "F32", unsup, path, NULL, err)) < 0 ||
        (rc = get_string(root, "weights", NULL, 0, path, weights, err)) < 0)
        return rc;
    if (!**weights)
        return splitee__fail(err, SPLITEE_ERR_VALUE, "%s: key 'weights' is empty", path);
    return SPLITEE_OK;
}

/* *acc += a * b; -1 when either step overflows size_t. */
static int add_mul(size_t *acc, size_t a, size_t b)
{
    size_t p;
    if (splitee__mul_size(a, b, &p) < 0 || *acc > (size_t)-1 - p)
        return -1;
    *acc += p;
    return 0;
}

/* Sizes of everything, with overflow checks: the weights (c->params gets
 * their count, bytes must fit too) and the largest run-state buffers.
 * OVERFLOW when some size does not fit. */
static int check_sizes(splitee_model_config *c, const char *path, splitee_error *err)
{
    size_t d = (size_t)c->dim, h = (size_t)c->mlp_hidden, t = (size_t)c->tokens;
    size_t k = (size_t)c->classes, pd = 0, layer = 0, params = 0, bytes = 0, buf = 0;
    int ok = c->dim <= INT_MAX / 3 && /* kernels index rows of 3 dim in int */
             splitee__mul_size((size_t)c->patch_size, (size_t)c->patch_size, &pd) == 0 &&
             splitee__mul_size(pd, (size_t)c->channels, &pd) == 0 && pd <= INT_MAX &&
             add_mul(&params, d, pd + 1) == 0 &&     /* patch.weight, patch.bias */
             add_mul(&params, t, d) == 0 &&          /* pos */
             add_mul(&layer, 6, d) == 0 &&           /* ln1, ln2, exit ln */
             add_mul(&layer, 3 * d, d + 1) == 0 &&   /* qkv */
             add_mul(&layer, d, d + 1) == 0 &&       /* proj */
             add_mul(&layer, h, d + 1) == 0 &&       /* fc1 */
             add_mul(&layer, d, h + 1) == 0 &&       /* fc2 */
             add_mul(&layer, k, d + 1) == 0 &&       /* exit fc */
             add_mul(&params, layer, (size_t)c->layers) == 0 &&
             add_mul(&bytes, params, sizeof(float)) == 0 &&
             add_mul(&buf, t, 3 * d) == 0 && add_mul(&buf, t, h) == 0 &&
             add_mul(&buf, t, pd) == 0 && add_mul(&bytes, buf, 2 * sizeof(float)) == 0;
    if (!ok)
        return splitee__fail(err, SPLITEE_ERR_OVERFLOW,
                             "%s: tensor sizes overflow (dim %d, mlp_hidden %d, tokens %d, "
                             "layers %d, patch_size %d)", path, c->dim, c->mlp_hidden, c->tokens,
                             c->layers, c->patch_size);
    c->params = params;
    return SPLITEE_OK;
}

/* The architecture's internal consistency. */
static int check_config(splitee_model_config *c, const char *path, splitee_error *err)
{
    if (c->channels != 1)
        return splitee__fail(err, SPLITEE_ERR_UNSUPPORTED,
                             "%s: %d channels are not supported (expected 1)", path, c->channels);
    if (c->layers > SPLITEE_MAX_EXITS)
        return splitee__fail(err, SPLITEE_ERR_UNSUPPORTED,
                             "%s: %d layers (at most %d exits are supported)", path, c->layers,
                             SPLITEE_MAX_EXITS);
    if (c->image_size % c->patch_size != 0)
        return splitee__fail(err, SPLITEE_ERR_SHAPE,
                             "%s: image_size %d is not divisible by patch_size %d", path,
                             c->image_size, c->patch_size);
    if (c->dim % c->heads != 0)
        return splitee__fail(err, SPLITEE_ERR_SHAPE, "%s: dim %d is not divisible by heads %d",
                             path, c->dim, c->heads);
    int rc = check_sizes(c, path, err);
    if (rc < 0)
        return rc;
    long long g = c->image_size / c->patch_size;
    if ((long long)c->tokens != g * g)
        return splitee__fail(err, SPLITEE_ERR_SHAPE,
                             "%s: tokens %d disagree with (image_size / patch_size)^2 = %lld",
                             path, c->tokens, g * g);
    c->patch_dim = c->patch_size * c->patch_size * c->channels;
    c->head_dim = c->dim / c->heads;
    return SPLITEE_OK;
}

/* ---- version 1 as a version 2 graph ----------------------------------------- */

/* Builds JSON values, remembering whether any allocation failed. */
typedef struct jb {
    int ok;
} jb;

static cJSON *jb_add(jb *b, cJSON *parent, const char *key, cJSON *v)
{
    if (!v || !parent) {
        cJSON_Delete(v);
        b->ok = 0;
        return NULL;
    }
    if (!(key ? cJSON_AddItemToObject(parent, key, v) : cJSON_AddItemToArray(parent, v))) {
        cJSON_Delete(v);
        b->ok = 0;
        return NULL;
    }
    return v;
}

/* Appends {"op": kind} to list; "param" = fmt with i when fmt is not NULL. */
static cJSON *jb_op(jb *b, cJSON *list, const char *kind, const char *fmt, int i)
{
    cJSON *o = jb_add(b, list, NULL, cJSON_CreateObject());
    jb_add(b, o, "op", cJSON_CreateString(kind));
    if (fmt) {
        char name[64];
        snprintf(name, sizeof name, fmt, i);
        jb_add(b, o, "param", cJSON_CreateString(name));
    }
    return o;
}

/* The version 2 document of the checked version 1 configuration c, whose
 * weights file is `weights`: the same network, tensor names unchanged, the
 * same float32 operations in the same order as the encoder block the
 * engine ran before version 2. NULL when out of memory. */
static cJSON *v1_graph(const splitee_model_config *c, const char *weights)
{
    jb b = { 1 };
    cJSON *root = cJSON_CreateObject();
    jb_add(&b, root, "format", cJSON_CreateString("splitee-model"));
    jb_add(&b, root, "version", cJSON_CreateNumber(2));
    jb_add(&b, root, "name", cJSON_CreateString("vit-multi-exit (translated from version 1)"));
    jb_add(&b, root, "weights", cJSON_CreateString(weights));
    jb_add(&b, root, "dtype", cJSON_CreateString("F32"));
    jb_add(&b, root, "classes", cJSON_CreateNumber(c->classes));
    cJSON *in = jb_add(&b, root, "input", cJSON_CreateObject());
    int shape[3] = { c->channels, c->image_size, c->image_size };
    jb_add(&b, in, "shape", cJSON_CreateIntArray(shape, 3));
    jb_add(&b, in, "mean", cJSON_CreateNumber(c->input_mean));
    jb_add(&b, in, "std", cJSON_CreateNumber(c->input_std));
    cJSON *stages = jb_add(&b, root, "stages", cJSON_CreateArray());
    for (int i = 0; i < c->layers && b.ok; i++) {
        cJSON *st = jb_add(&b, stages, NULL, cJSON_CreateObject());
        cJSON *ops = jb_add(&b, st, "ops", cJSON_CreateArray()), *o;
        const char *residual = "input";
        if (i == 0) {   /* the embedding runs at the start of stage 1 */
            o = jb_op(&b, ops, "patch_embed", "patch", 0);
            jb_add(&b, o, "patch", cJSON_CreateNumber(c->patch_size));
            jb_add(&b, o, "dim", cJSON_CreateNumber(c->dim));
            o = jb_op(&b, ops, "pos_embed", "pos", 0);
            jb_add(&b, o, "save", cJSON_CreateString("embedded"));
            residual = "embedded";
        }
        /* x = x + proj(attention(qkv(ln1(x)))) */
        o = jb_op(&b, ops, "layernorm", "layers.%d.ln1", i);
        jb_add(&b, o, "eps", cJSON_CreateNumber(c->norm_eps));
        o = jb_op(&b, ops, "linear", "layers.%d.qkv", i);
        jb_add(&b, o, "out", cJSON_CreateNumber(3.0 * c->dim));
        o = jb_op(&b, ops, "attention", NULL, 0);
        jb_add(&b, o, "heads", cJSON_CreateNumber(c->heads));
        o = jb_op(&b, ops, "linear", "layers.%d.proj", i);
        jb_add(&b, o, "out", cJSON_CreateNumber(c->dim));
        o = jb_op(&b, ops, "add", NULL, 0);
        jb_add(&b, o, "from", cJSON_CreateString(residual));
        jb_add(&b, o, "save", cJSON_CreateString("mid"));
        /* x = x + fc2(gelu(fc1(ln2(x)))) */
        o = jb_op(&b, ops, "layernorm", "layers.%d.ln2", i);
        jb_add(&b, o, "eps", cJSON_CreateNumber(c->norm_eps));
        o = jb_op(&b, ops, "linear", "layers.%d.fc1", i);
        jb_add(&b, o, "out", cJSON_CreateNumber(c->mlp_hidden));
        jb_op(&b, ops, "gelu", NULL, 0);
        o = jb_op(&b, ops, "linear", "layers.%d.fc2", i);
        jb_add(&b, o, "out", cJSON_CreateNumber(c->dim));
        o = jb_op(&b, ops, "add", NULL, 0);
        jb_add(&b, o, "from", cJSON_CreateString("mid"));
        /* exit: fc(mean over tokens of ln(x)) */
        cJSON *ex = jb_add(&b, st, "exit", cJSON_CreateArray());
        o = jb_op(&b, ex, "layernorm", "exits.%d.ln", i);
        jb_add(&b, o, "eps", cJSON_CreateNumber(c->norm_eps));
        jb_op(&b, ex, "token_mean", NULL, 0);
        o = jb_op(&b, ex, "linear", "exits.%d.fc", i);
        jb_add(&b, o, "out", cJSON_CreateNumber(c->classes));
    }
    if (!root || !b.ok) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

/* Parses the JSON text [text, text + len) named `path`; *root gets the
 * object (caller deletes). */
static int parse_json(const char *path, const char *text, size_t len, cJSON **root,
                      splitee_error *err)
{
    *root = NULL;
    if (len > MAX_JSON_BYTES)
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: larger than %zu bytes", path,
                             MAX_JSON_BYTES);
    const char *end = NULL;
    cJSON *r = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    size_t at = end && end >= text ? (size_t)(end - text) : 0;
    while (r && at < len && text[at] && strchr(" \t\r\n", text[at]))
        at++;
    if (!r || at < len) {
        cJSON_Delete(r);
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: malformed JSON near byte %zu%s", path,
                             at, r ? " (text after the object)" : "");
    }
    if (!cJSON_IsObject(r)) {
        cJSON_Delete(r);
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: not a JSON object", path);
    }
    *root = r;
    return SPLITEE_OK;
}

/* The version 1 keys of root into *c, checked, and their version 2 graph. */
static int v1_translate(const cJSON *root, const char *path, splitee_model_config *c,
                        const char **weights, cJSON **v2, splitee_error *err)
{
    *v2 = NULL;
    memset(c, 0, sizeof *c);
    int rc = parse_keys(root, path, c, weights, err);
    if (rc == 0)
        rc = check_config(c, path, err);
    if (rc == 0 && !(*v2 = v1_graph(c, *weights)))
        rc = splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", path);
    return rc;
}

/* Parses the model.json text [text, text + len) (need not be
 * NUL-terminated), named `path` in messages, into m's configuration and
 * op lists, and the weights it needs into specs; *weights gets a malloc'd
 * copy of the weights file name. */
static int parse_config(splitee_model *m, const char *path, const char *text, size_t len,
                        char **weights, splitee__spec_list *specs, splitee_error *err)
{
    cJSON *root, *v2 = NULL;
    int rc = parse_json(path, text, len, &root, err), version = 0;
    const char *w = NULL;
    if (rc == 0)
        rc = parse_header(root, path, &version, &w, err);
    if (rc == 0 && version == 1) {
        rc = v1_translate(root, path, &m->cfg, &w, &v2, err);
        if (rc == 0)
            rc = splitee__graph_parse(m, v2, path, specs, err);
    } else if (rc == 0) {
        memset(&m->cfg, 0, sizeof m->cfg);
        rc = splitee__graph_parse(m, root, path, specs, err);
    }
    m->cfg.version = version;
    if (rc == 0 && !(*weights = strdup(w)))
        rc = splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", path);
    cJSON_Delete(v2);
    cJSON_Delete(root);
    return rc;
}

int splitee__model_v1_to_v2(const char *path, const char *json, size_t len, char **out,
                            splitee_error *err)
{
    *out = NULL;
    if (!path || !json)
        return splitee__fail(err, SPLITEE_ERR_ARG, "model: no model.json text given");
    cJSON *root, *v2 = NULL;
    splitee_model_config c;
    const char *w = NULL;
    int version = 0, rc = parse_json(path, json, len, &root, err);
    if (rc == 0)
        rc = parse_header(root, path, &version, &w, err);
    if (rc == 0 && version != 1)
        rc = splitee__fail(err, SPLITEE_ERR_ARG, "%s: not a version 1 model", path);
    if (rc == 0)
        rc = v1_translate(root, path, &c, &w, &v2, err);
    if (rc == 0 && !(*out = cJSON_Print(v2)))
        rc = splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", path);
    cJSON_Delete(v2);
    cJSON_Delete(root);
    return rc;
}

/* ---- weights ------------------------------------------------------------- */

/* "(a, b)" or "(a,)" into buf. */
static const char *shape_str(char *buf, size_t n, int ndim, const size_t *shape)
{
    int k = snprintf(buf, n, "(");
    for (int i = 0; i < ndim && k > 0 && (size_t)k < n; i++)
        k += snprintf(buf + k, n - (size_t)k, i ? ", %zu" : "%zu", shape[i]);
    if (k > 0 && (size_t)k < n)
        snprintf(buf + k, n - (size_t)k, ndim == 1 ? ",)" : ")");
    return buf;
}

/* Binds spec s to its tensor in the file, checking dtype, shape, alignment
 * and values. */
static int bind_tensor(const splitee_model *m, const splitee__tensor_spec *s, splitee_error *err)
{
    const char *path = m->weights_path;
    const splitee__st_tensor *t = splitee__safetensors_find(&m->st, s->name);
    if (!t)
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: missing tensor '%.200s'", path, s->name);
    if (strcmp(t->dtype, "F32") != 0)
        return splitee__fail(err, SPLITEE_ERR_UNSUPPORTED,
                             "%s: tensor '%.200s' has dtype %s (expected F32)", path, s->name,
                             t->dtype);
    int same = t->ndim == s->ndim;
    for (int i = 0; same && i < s->ndim; i++)
        same = t->shape[i] == s->shape[i];
    if (!same) {
        char got[200], want[120];
        return splitee__fail(err, SPLITEE_ERR_SHAPE,
                             "%s: tensor '%.160s' has shape %s, expected %s from the architecture",
                             path, s->name, shape_str(got, sizeof got, t->ndim, t->shape),
                             shape_str(want, sizeof want, s->ndim, s->shape));
    }
    if ((uintptr_t)t->data % sizeof(float) != 0)
        return splitee__fail(err, SPLITEE_ERR_UNSUPPORTED,
                             "%s: tensor '%.200s' data is not 4-byte aligned", path, s->name);
    const float *v = t->data;
    for (size_t i = 0; i < t->count; i++)
        if (!isfinite(v[i]))
            return splitee__fail(err, SPLITEE_ERR_VALUE,
                                 "%s: tensor '%.200s' holds a non-finite value (%g) at element %zu",
                                 path, s->name, (double)v[i], i);
    *s->dest = v;
    return SPLITEE_OK;
}

/* The name of a tensor of the file that no spec asks for, or NULL. */
static const char *find_unexpected(const splitee_model *m, const splitee__spec_list *l)
{
    for (size_t i = 0; i < m->st.count; i++) {
        size_t j = 0;
        while (j < l->count && strcmp(l->items[j].name, m->st.tensors[i].name) != 0)
            j++;
        if (j == l->count)
            return m->st.tensors[i].name;
    }
    return NULL;
}

/* Binds every tensor the graph declared to m->st (already opened and
 * checked as a safetensors file). */
static int bind_weights(splitee_model *m, const splitee__spec_list *l, splitee_error *err)
{
    int rc = SPLITEE_OK;
    for (size_t i = 0; rc == 0 && i < l->count; i++)
        rc = bind_tensor(m, &l->items[i], err);
    const char *extra = rc == 0 ? find_unexpected(m, l) : NULL;
    if (extra)
        rc = splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: unexpected tensor '%.64s'",
                           m->weights_path, extra);
    return rc;
}

/* ---- repacking -------------------------------------------------------------- */

/* Every linear map of the model (linear and patch_embed ops), stage by
 * stage, each stage's ops then its exit's, into out (NULL: count only). */
static size_t all_linears(splitee_model *m, splitee__linear **out)
{
    size_t n = 0;
    for (int k = 0; k < m->cfg.layers; k++)
        for (int e = 0; e < 2; e++) {
            splitee__oplist *l = e ? &m->exits[k] : &m->stages[k];
            for (int i = 0; i < l->n; i++) {
                splitee__op *op = &l->ops[i];
                if (op->kind != SPLITEE__OP_LINEAR && op->kind != SPLITEE__OP_PATCH_EMBED)
                    continue;
                if (out)
                    out[n] = &op->lin;
                n++;
            }
        }
    return n;
}

/* For kernels that want it (m->kern->packed), one 64-byte aligned buffer
 * holding every linear weight transposed to (in, out), each in a chunk
 * rounded to 16 floats; the mapped file stays the source of truth (the
 * copy is made from it once and never written afterwards). */
static int pack_weights(splitee_model *m, splitee_error *err)
{
    if (!m->kern->packed)
        return SPLITEE_OK;
    size_t n = all_linears(m, NULL);
    if (n == 0)
        return SPLITEE_OK;
    splitee__linear **ls = calloc(n, sizeof *ls);
    if (!ls)
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", m->weights_path);
    all_linears(m, ls);
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {   /* each <= 2^30 floats (graph.c); the sum is checked */
        size_t sz = splitee__round16((size_t)ls[i]->in * (size_t)ls[i]->out);
        if (total > (size_t)-1 / sizeof(float) - sz) {
            free(ls);
            return splitee__fail(err, SPLITEE_ERR_OVERFLOW, "%s: repacked weights overflow",
                                 m->weights_path);
        }
        total += sz;
    }
    m->packed = aligned_alloc(64, (total ? total : 16) * sizeof(float));
    if (!m->packed) {
        free(ls);
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory (%zu bytes of repacked "
                             "weights)", m->weights_path, total * sizeof(float));
    }
    m->packed_floats = total;
    float *p = m->packed;
    for (size_t i = 0; i < n; i++) {
        splitee__linear *l = ls[i];
        size_t in = (size_t)l->in, out = (size_t)l->out;
        for (size_t o = 0; o < out; o++)
            for (size_t j = 0; j < in; j++)
                p[j * out + o] = l->w[o * in + j];
        l->wt = p;
        p += splitee__round16(in * out);
    }
    free(ls);
    return SPLITEE_OK;
}

const splitee__kernels *splitee__model_kernels(const splitee_model *m)
{
    return m->kern;
}

size_t splitee__model_mapped_bytes(const splitee_model *m)
{
    return m->st.map_len;
}

size_t splitee__model_extra_bytes(const splitee_model *m)
{
    return (m->packed_floats + m->owned_floats) * sizeof(float);
}

/* UNSUPPORTED on a big-endian host: the weights are used in place. */
static int check_host(const splitee_model *m, splitee_error *err)
{
    const uint16_t one = 1;
    unsigned char first;
    memcpy(&first, &one, 1);
    if (first != 1)
        return splitee__fail(err, SPLITEE_ERR_UNSUPPORTED,
                             "%s: little-endian float32 weights need a little-endian host",
                             m->weights_path);
    return SPLITEE_OK;
}

/* ---- model ---------------------------------------------------------------- */

/* "dir/name", or name alone when it is absolute. */
static char *join_path(const char *dir, const char *name)
{
    if (name[0] == '/')
        return strdup(name);
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* After the weights file is open in m->st: binding, kernels, folding,
 * repacking. */
static int finish(splitee_model *m, const splitee__spec_list *specs, splitee_error *err)
{
    int rc = bind_weights(m, specs, err);
    m->kern = splitee__kernels_select();
    if (rc == 0)
        rc = splitee__graph_fold(m, err);
    if (rc == 0)
        rc = pack_weights(m, err);
    return rc;
}

int splitee_model_load(const char *dir, splitee_model **out, splitee_error *err)
{
    *out = NULL;
    if (!dir)
        return splitee__fail(err, SPLITEE_ERR_ARG, "(null): no model folder given");
    splitee_model *m = calloc(1, sizeof *m);
    if (!m)
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", dir);
    splitee__spec_list specs = { NULL, 0, 0 };
    char *weights = NULL, *text = NULL;
    size_t len = 0;
    int rc = SPLITEE_OK;
    if (!(m->json_path = join_path(dir, "model.json")))
        rc = splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", dir);
    if (rc == 0)
        rc = splitee__read_file(m->json_path, MAX_JSON_BYTES, &text, &len, err);
    if (rc == 0)
        rc = parse_config(m, m->json_path, text, len, &weights, &specs, err);
    free(text);
    if (rc == 0 && !(m->weights_path = join_path(dir, weights)))
        rc = splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", dir);
    if (rc == 0)
        rc = check_host(m, err);
    if (rc == 0)
        rc = splitee__safetensors_open(m->weights_path, &m->st, err);
    if (rc == 0)
        rc = finish(m, &specs, err);
    free(weights);
    splitee__spec_list_free(&specs);
    if (rc < 0) {
        splitee_model_free(m);
        return rc;
    }
    *out = m;
    return SPLITEE_OK;
}

int splitee__model_load_mem(const char *json_name, const char *json, size_t json_len,
                            const char *weights_name, const void *weights, size_t weights_len,
                            splitee_model **out, splitee_error *err)
{
    *out = NULL;
    if (!json_name || !json || !weights_name)
        return splitee__fail(err, SPLITEE_ERR_ARG, "model: no model.json text or names given");
    splitee_model *m = calloc(1, sizeof *m);
    if (!m)
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", json_name);
    splitee__spec_list specs = { NULL, 0, 0 };
    char *ignored = NULL;   /* model.json's "weights": the caller supplies them */
    int rc = SPLITEE_OK;
    if (!(m->json_path = strdup(json_name)) || !(m->weights_path = strdup(weights_name)))
        rc = splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", json_name);
    if (rc == 0)
        rc = parse_config(m, m->json_path, json, json_len, &ignored, &specs, err);
    if (rc == 0)
        rc = check_host(m, err);
    if (rc == 0)
        rc = splitee__safetensors_parse(weights, weights_len, m->weights_path, &m->st, err);
    if (rc == 0)
        rc = finish(m, &specs, err);
    free(ignored);
    splitee__spec_list_free(&specs);
    if (rc < 0) {
        splitee_model_free(m);
        return rc;
    }
    *out = m;
    return SPLITEE_OK;
}

void splitee_model_free(splitee_model *m)
{
    if (!m)
        return;
    splitee__safetensors_close(&m->st);
    splitee__graph_free(m);
    free(m->packed);
    free(m->owned);
    free(m->json_path);
    free(m->weights_path);
    free(m);
}

const splitee_model_config *splitee_model_get_config(const splitee_model *m)
{
    return &m->cfg;
}

const char *splitee_model_json_path(const splitee_model *m)
{
    return m->json_path;
}

const char *splitee_model_weights_path(const splitee_model *m)
{
    return m->weights_path;
}

/* ---- shapes and split points ------------------------------------------------ */

size_t splitee_shape_elems(const splitee_shape *s)
{
    if (!s || s->rank < 1 || s->rank > SPLITEE_MAX_RANK)
        return 0;
    size_t n = 1;
    for (int i = 0; i < s->rank; i++)
        n *= (size_t)s->dims[i];
    return n;
}

void splitee_shape_payload_dims(const splitee_shape *s, size_t *rows, size_t *cols)
{
    size_t n = splitee_shape_elems(s);
    if (n == 0) {
        *rows = *cols = 0;
    } else if (s->rank == 1) {
        *rows = 1;
        *cols = n;
    } else {
        *rows = (size_t)s->dims[0];
        *cols = n / *rows;
    }
}

int splitee_model_split_shape(const splitee_model *m, int split, splitee_shape *shape)
{
    if (!m || !shape)
        return SPLITEE_ERR_ARG;
    if (split < 0 || split > m->cfg.layers)
        return SPLITEE_ERR_ARG;
    *shape = m->splits[split];
    return SPLITEE_OK;
}

size_t splitee_model_split_elems(const splitee_model *m, int split)
{
    splitee_shape s;
    return splitee_model_split_shape(m, split, &s) == 0 ? splitee_shape_elems(&s) : 0;
}

size_t splitee_model_payload_size(const splitee_model *m, int split,
                                  splitee_payload_encoding enc)
{
    splitee_shape s;
    if (splitee_model_split_shape(m, split, &s) < 0)
        return 0;
    size_t rows, cols;
    splitee_shape_payload_dims(&s, &rows, &cols);
    return splitee_payload_size(enc, rows, cols);
}

size_t splitee_model_max_payload_size(const splitee_model *m, splitee_payload_encoding enc)
{
    size_t best = 0;
    for (int k = 0; m && k <= m->cfg.layers; k++) {
        size_t n = splitee_model_payload_size(m, k, enc);
        best = n > best ? n : best;
    }
    return best;
}
