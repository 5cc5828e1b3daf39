/* model.c -- loads and checks a model folder (model.h): model.json (cJSON)
 * into a splitee_model_config, then the safetensors weights, each tensor
 * bound to the place the architecture expects it (model_internal.h). The
 * public loader reads and maps files; splitee__model_load_mem runs the
 * same parsing and checks on buffers (the fuzz targets, tests/fuzz/). */
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

/* Every key of model.json, checked one by one; *weights gets the weights
 * file name (pointing into root). */
static int parse_keys(const cJSON *root, const char *path, splitee_model_config *c,
                      const char **weights, splitee_error *err)
{
    int rc, version;
    const int unsup = SPLITEE_ERR_UNSUPPORTED;
    if ((rc = get_string(root, "format", "splitee-model", SPLITEE_ERR_FORMAT, path, NULL,
                         err)) < 0 ||
        (rc = get_int(root, "version", 0, path, &version, err)) < 0)
        return rc;
    if (version != 1)
        return splitee__fail(err, SPLITEE_ERR_UNSUPPORTED,
                             "%s: unsupported version %d (expected 1)", path, version);
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

/* Parses the model.json text [text, text + len) (need not be
 * NUL-terminated), named `path` in messages, into *c; *weights gets a
 * malloc'd copy of the weights file name. */
static int parse_config(const char *path, const char *text, size_t len, splitee_model_config *c,
                        char **weights, splitee_error *err)
{
    if (len > MAX_JSON_BYTES)
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: larger than %zu bytes", path,
                             MAX_JSON_BYTES);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    int rc = SPLITEE_OK;
    size_t at = end && end >= text ? (size_t)(end - text) : 0;
    while (root && at < len && text[at] && strchr(" \t\r\n", text[at]))
        at++;
    if (!root || at < len) {
        rc = splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: malformed JSON near byte %zu%s", path,
                           at, root ? " (text after the object)" : "");
    } else if (!cJSON_IsObject(root)) {
        rc = splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: not a JSON object", path);
    } else {
        const char *w = NULL;
        memset(c, 0, sizeof *c);
        rc = parse_keys(root, path, c, &w, err);
        if (rc == 0)
            rc = check_config(c, path, err);
        if (rc == 0 && !(*weights = strdup(w)))
            rc = splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", path);
    }
    cJSON_Delete(root);
    return rc;
}

/* Parses the model.json file at `path` into *c, as parse_config. */
static int load_config(const char *path, splitee_model_config *c, char **weights,
                       splitee_error *err)
{
    char *text;
    size_t len;
    int rc = splitee__read_file(path, MAX_JSON_BYTES, &text, &len, err);
    if (rc < 0)
        return rc;
    rc = parse_config(path, text, len, c, weights, err);
    free(text);
    return rc;
}

/* ---- weights ------------------------------------------------------------- */

/* Declares every tensor of the architecture into l (allocated here). */
static int declare_all(splitee_model *m, splitee__spec_list *l, splitee_error *err)
{
    const splitee_model_config *c = &m->cfg;
    size_t cap = 3 + 4 * (size_t)c->layers;
    for (int i = 0; i < c->layers; i++)
        cap += (size_t)splitee__block_ops_get(m->blocks[i].kind)->tensors;
    l->items = calloc(cap, sizeof *l->items);
    if (!l->items)
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", m->weights_path);
    l->cap = cap;
    m->patch.out = c->dim;
    m->patch.in = c->patch_dim;
    splitee__spec_add(l, "patch.weight", 2, (size_t)c->dim, (size_t)c->patch_dim, &m->patch.w);
    splitee__spec_add(l, "patch.bias", 1, (size_t)c->dim, 0, &m->patch.b);
    splitee__spec_add(l, "pos", 2, (size_t)c->tokens, (size_t)c->dim, &m->pos);
    for (int i = 0; i < c->layers; i++) {
        splitee__block_ops_get(m->blocks[i].kind)->declare(l, i, c, &m->blocks[i]);
        splitee__exit_head *e = &m->exits[i];
        char name[48];
        e->ln.dim = c->dim;
        e->fc.out = c->classes;
        e->fc.in = c->dim;
        snprintf(name, sizeof name, "exits.%d.ln.weight", i);
        splitee__spec_add(l, name, 1, (size_t)c->dim, 0, &e->ln.g);
        snprintf(name, sizeof name, "exits.%d.ln.bias", i);
        splitee__spec_add(l, name, 1, (size_t)c->dim, 0, &e->ln.b);
        snprintf(name, sizeof name, "exits.%d.fc.weight", i);
        splitee__spec_add(l, name, 2, (size_t)c->classes, (size_t)c->dim, &e->fc.w);
        snprintf(name, sizeof name, "exits.%d.fc.bias", i);
        splitee__spec_add(l, name, 1, (size_t)c->classes, 0, &e->fc.b);
    }
    return SPLITEE_OK;
}

/* "(a, b)" or "(a)" into buf. */
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
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: missing tensor '%s'", path, s->name);
    if (strcmp(t->dtype, "F32") != 0)
        return splitee__fail(err, SPLITEE_ERR_UNSUPPORTED,
                             "%s: tensor '%s' has dtype %s (expected F32)", path, s->name,
                             t->dtype);
    if (t->ndim != s->ndim || t->shape[0] != s->shape[0] ||
        (s->ndim == 2 && t->shape[1] != s->shape[1])) {
        char got[96], want[64];
        return splitee__fail(err, SPLITEE_ERR_SHAPE,
                             "%s: tensor '%s' has shape %s, expected %s from the architecture",
                             path, s->name, shape_str(got, sizeof got, t->ndim, t->shape),
                             shape_str(want, sizeof want, s->ndim, s->shape));
    }
    if ((uintptr_t)t->data % sizeof(float) != 0)
        return splitee__fail(err, SPLITEE_ERR_UNSUPPORTED,
                             "%s: tensor '%s' data is not 4-byte aligned", path, s->name);
    const float *v = t->data;
    for (size_t i = 0; i < t->count; i++)
        if (!isfinite(v[i]))
            return splitee__fail(err, SPLITEE_ERR_VALUE,
                                 "%s: tensor '%s' holds a non-finite value (%g) at element %zu",
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

/* Binds every tensor of the architecture to m->st (already opened and
 * checked as a safetensors file). */
static int bind_weights(splitee_model *m, splitee_error *err)
{
    splitee__spec_list l = { NULL, 0, 0 };
    int rc = declare_all(m, &l, err);
    for (size_t i = 0; rc == 0 && i < l.count; i++)
        rc = bind_tensor(m, &l.items[i], err);
    const char *extra = rc == 0 ? find_unexpected(m, &l) : NULL;
    if (extra)
        rc = splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: unexpected tensor '%.64s'",
                           m->weights_path, extra);
    free(l.items);
    return rc;
}

/* ---- repacking -------------------------------------------------------------- */

/* Every linear layer of the model, in a fixed order (patch, then per layer
 * the block's linears and the exit's), into out (NULL: count only). */
static size_t all_linears(splitee_model *m, splitee__linear **out)
{
    size_t n = 0;
    if (out)
        out[n] = &m->patch;
    n++;
    for (int i = 0; i < m->cfg.layers; i++) {
        splitee__linear *l[SPLITEE__MAX_BLOCK_LINEARS];
        int k = splitee__block_ops_get(m->blocks[i].kind)->linears(&m->blocks[i], l);
        for (int j = 0; j < k; j++, n++)
            if (out)
                out[n] = l[j];
        if (out)
            out[n] = &m->exits[i].fc;
        n++;
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
    splitee__linear **ls = calloc(n, sizeof *ls);
    if (!ls)
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", m->weights_path);
    all_linears(m, ls);
    size_t total = 0;
    for (size_t i = 0; i < n; i++)   /* sizes were checked against the file */
        total += splitee__round16((size_t)ls[i]->in * (size_t)ls[i]->out);
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
    return m->packed_floats * sizeof(float);
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

/* Block kinds and scratch size: every layer of a "vit-multi-exit" is an
 * encoder layer. */
static int plan_blocks(splitee_model *m, splitee_error *err)
{
    const splitee_model_config *c = &m->cfg;
    m->blocks = calloc((size_t)c->layers, sizeof *m->blocks);
    m->exits = calloc((size_t)c->layers, sizeof *m->exits);
    if (!m->blocks || !m->exits)
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", m->json_path);
    m->scratch_floats = 0;
    for (int i = 0; i < c->layers; i++) {
        m->blocks[i].kind = SPLITEE__BLOCK_VIT_ENCODER;
        size_t s = splitee__block_ops_get(m->blocks[i].kind)->scratch_floats(c);
        if (s == 0)
            return splitee__fail(err, SPLITEE_ERR_OVERFLOW, "%s: layer %d scratch size overflows",
                                 m->json_path, i);
        if (s > m->scratch_floats)
            m->scratch_floats = s;
    }
    return SPLITEE_OK;
}

int splitee_model_load(const char *dir, splitee_model **out, splitee_error *err)
{
    *out = NULL;
    if (!dir)
        return splitee__fail(err, SPLITEE_ERR_ARG, "(null): no model folder given");
    splitee_model *m = calloc(1, sizeof *m);
    if (!m)
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", dir);
    char *weights = NULL;
    int rc = SPLITEE_OK;
    if (!(m->json_path = join_path(dir, "model.json")))
        rc = splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", dir);
    if (rc == 0)
        rc = load_config(m->json_path, &m->cfg, &weights, err);
    if (rc == 0 && !(m->weights_path = join_path(dir, weights)))
        rc = splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", dir);
    if (rc == 0)
        rc = plan_blocks(m, err);
    if (rc == 0)
        rc = check_host(m, err);
    if (rc == 0)
        rc = splitee__safetensors_open(m->weights_path, &m->st, err);
    if (rc == 0)
        rc = bind_weights(m, err);
    m->kern = splitee__kernels_select();
    if (rc == 0)
        rc = pack_weights(m, err);
    free(weights);
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
    char *ignored = NULL;   /* model.json's "weights": the caller supplies them */
    int rc = SPLITEE_OK;
    if (!(m->json_path = strdup(json_name)) || !(m->weights_path = strdup(weights_name)))
        rc = splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", json_name);
    if (rc == 0)
        rc = parse_config(m->json_path, json, json_len, &m->cfg, &ignored, err);
    if (rc == 0)
        rc = plan_blocks(m, err);
    if (rc == 0)
        rc = check_host(m, err);
    if (rc == 0)
        rc = splitee__safetensors_parse(weights, weights_len, m->weights_path, &m->st, err);
    if (rc == 0)
        rc = bind_weights(m, err);
    m->kern = splitee__kernels_select();
    if (rc == 0)
        rc = pack_weights(m, err);
    free(ignored);
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
    free(m->packed);
    free(m->blocks);
    free(m->exits);
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
