/* test_model.c -- Criterion tests for the model loader (model.h): the shipped
 * model (../data/model; SPLITEE_TEST_MODEL overrides the folder) loads with
 * the documented architecture, and every kind of bad model.json or bad
 * safetensors file -- built in the temp dir from corrupted copies of the
 * shipped files -- is refused with the right status and a one-line message
 * naming the file and the problem. Then format version 2 on the tiny CNN
 * of tests/tiny_models.h: it loads, batch norms are folded as documented,
 * and every kind of bad graph -- unknown ops and keys, missing structure,
 * inconsistent shapes, residual references to tensors that do not exist,
 * cycles, sizes that overflow, weights that disagree -- is refused with a
 * one-line message naming model.json (or the weights) and the place. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/model_internal.h"
#include "splitee/model.h"
#include "testutil.h"
#include "tiny_models.h"

static const char *model_dir(void)
{
    const char *e = getenv("SPLITEE_TEST_MODEL");
    return e && *e ? e : "../data/model";
}

/* The shipped file `name` of the model folder, malloc'd. */
static char *shipped(const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", model_dir(), name);
    char *b = tu_read(path, len);
    cr_assert_not_null(b, "cannot read %s", path);
    return b;
}

/* ---- building model folders ------------------------------------------------ */

/* A fresh folder tu_path(name) holding model.json (`json`) and
 * model.safetensors (st, len); NULL json / st: the shipped file. */
static const char *write_model(const char *name, const char *json, const void *st, size_t len)
{
    static char dir[8][1024];
    static int next;
    char *d = dir[next++ & 7];
    snprintf(d, sizeof dir[0], "%s", tu_path(name));
    cr_assert_eq(mkdir(d, 0700), 0, "mkdir %s", d);
    char rel[1100];
    size_t n;
    char *own_json = json ? NULL : shipped("model.json", &n);
    char *own_st = st ? NULL : shipped("model.safetensors", &len);
    snprintf(rel, sizeof rel, "%s/model.json", name);
    tu_write(rel, json ? json : own_json, strlen(json ? json : own_json));
    snprintf(rel, sizeof rel, "%s/model.safetensors", name);
    tu_write(rel, st ? st : own_st, len);
    free(own_json);
    free(own_st);
    return d;
}

/* Loading `dir` fails with `status`, and the one-line message names
 * `dir`/`file` and contains `word`. */
static void expect_fail(const char *dir, const char *file, int status, const char *word)
{
    splitee_model *m = (splitee_model *)1;
    splitee_error err = { 0, "" };
    int rc = splitee_model_load(dir, &m, &err);
    char path[1100];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    cr_assert_eq(rc, status, "expected %d, got %d: %s", status, rc, err.msg);
    cr_assert_eq(err.status, status);
    cr_assert_null(m);
    cr_assert_not_null(strstr(err.msg, path), "'%s' not named in: %s", path, err.msg);
    cr_assert_not_null(strstr(err.msg, word), "'%s' not in: %s", word, err.msg);
    cr_assert_null(strchr(err.msg, '\n'));
}

/* The shipped model.json with `key` replaced by `value` (a JSON text), or
 * removed when value is NULL; malloc'd. */
static char *json_with(const char *key, const char *value)
{
    size_t n;
    char *text = shipped("model.json", &n);
    cJSON *root = cJSON_Parse(text);
    free(text);
    cr_assert_not_null(root);
    cJSON_DeleteItemFromObjectCaseSensitive(root, key);
    if (value) {
        cJSON *v = cJSON_Parse(value);
        cr_assert_not_null(v, "bad test value %s", value);
        cJSON_AddItemToObject(root, key, v);
    }
    char *out = cJSON_Print(root);
    cJSON_Delete(root);
    return out;
}

/* A model folder whose model.json has `key` set to `value` (NULL: removed). */
static const char *model_with(const char *name, const char *key, const char *value)
{
    char *json = json_with(key, value);
    const char *d = write_model(name, json, NULL, 0);
    free(json);
    return d;
}

/* The shipped safetensors: its header as cJSON and its data section. */
typedef struct shipped_st {
    char *file;
    size_t len;
    cJSON *header;
    const unsigned char *data;
    size_t data_len;
} shipped_st;

static void open_shipped(shipped_st *s)
{
    s->file = shipped("model.safetensors", &s->len);
    cr_assert(s->len >= 8);
    uint64_t h = 0;
    for (int i = 7; i >= 0; i--)
        h = h << 8 | (unsigned char)s->file[i];
    cr_assert(h <= s->len - 8);
    s->header = cJSON_ParseWithLength(s->file + 8, (size_t)h);
    cr_assert_not_null(s->header);
    s->data = (const unsigned char *)s->file + 8 + h;
    s->data_len = s->len - 8 - (size_t)h;
}

static void close_shipped(shipped_st *s)
{
    cJSON_Delete(s->header);
    free(s->file);
}

/* A safetensors image of `header` (serialised and padded with spaces to a
 * multiple of 8, plus `extra_pad` spaces) followed by `data`; malloc'd. */
static unsigned char *st_image(const cJSON *header, size_t extra_pad, const void *data,
                               size_t dlen, size_t *len)
{
    char *text = cJSON_PrintUnformatted(header);
    size_t tl = strlen(text), hl = tl + (8 - tl % 8) % 8 + extra_pad;
    *len = 8 + hl + dlen;
    unsigned char *b = malloc(*len);
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memset(b + 8, ' ', hl);
    memcpy(b + 8, text, tl);
    if (dlen)
        memcpy(b + 8 + hl, data, dlen);
    free(text);
    return b;
}

/* Writes a model folder with the shipped model.json and the safetensors
 * built from `header` and `data`. */
static const char *model_from(const char *name, const cJSON *header, size_t extra_pad,
                              const void *data, size_t dlen)
{
    size_t len;
    unsigned char *img = st_image(header, extra_pad, data, dlen, &len);
    const char *d = write_model(name, NULL, img, len);
    free(img);
    return d;
}

/* Sets header[name].data_offsets to [b, e]. */
static void set_offsets(cJSON *header, const char *name, double b, double e)
{
    cJSON *t = cJSON_GetObjectItemCaseSensitive(header, name);
    cr_assert_not_null(t, "no tensor %s", name);
    cJSON *o = cJSON_CreateArray();
    cJSON_AddItemToArray(o, cJSON_CreateNumber(b));
    cJSON_AddItemToArray(o, cJSON_CreateNumber(e));
    cJSON_DeleteItemFromObjectCaseSensitive(t, "data_offsets");
    cJSON_AddItemToObject(t, "data_offsets", o);
}

static double offset_of(const cJSON *header, const char *name, int which)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(header, name);
    cr_assert_not_null(t, "no tensor %s", name);
    return cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(t, "data_offsets"), which)
        ->valuedouble;
}

/* Rebuilds the shipped file without tensor `drop` (NULL: none), with
 * `extra` (NULL: none) appended as an F32 tensor of `extra_n` floats, and
 * with tensor `edit` (NULL: none) given dtype `dtype` / shape `shape`
 * (JSON text, NULL: unchanged) and *poison (NULL: none) written into its
 * element 7. Offsets are recomputed, so the layout stays valid. */
static const char *rebuild(const char *name, const char *drop, const char *extra, size_t extra_n,
                           const char *edit, const char *dtype, const char *shape,
                           const float *poison)
{
    shipped_st s;
    open_shipped(&s);
    cJSON *out = cJSON_CreateObject();
    unsigned char *data = malloc(s.data_len + extra_n * 4 + 4);
    size_t pos = 0;
    for (const cJSON *t = s.header->child; t; t = t->next) {
        if (strcmp(t->string, "__metadata__") == 0) {
            cJSON_AddItemToObject(out, t->string, cJSON_Duplicate(t, 1));
            continue;
        }
        if (drop && strcmp(t->string, drop) == 0)
            continue;
        size_t b = (size_t)offset_of(s.header, t->string, 0);
        size_t e = (size_t)offset_of(s.header, t->string, 1);
        cJSON *copy = cJSON_Duplicate(t, 1);
        memcpy(data + pos, s.data + b, e - b);
        if (edit && strcmp(t->string, edit) == 0) {
            if (dtype)
                cJSON_ReplaceItemInObjectCaseSensitive(copy, "dtype", cJSON_CreateString(dtype));
            if (shape)
                cJSON_ReplaceItemInObjectCaseSensitive(copy, "shape", cJSON_Parse(shape));
            if (poison)
                memcpy(data + pos + 7 * 4, poison, 4);
        }
        cJSON_AddItemToObject(out, t->string, copy);
        set_offsets(out, t->string, (double)pos, (double)(pos + e - b));
        pos += e - b;
    }
    if (extra) {
        char sh[32];
        snprintf(sh, sizeof sh, "[%zu]", extra_n);
        cJSON *t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "dtype", "F32");
        cJSON_AddItemToObject(t, "shape", cJSON_Parse(sh));
        cJSON_AddItemToObject(out, extra, t);
        set_offsets(out, extra, (double)pos, (double)(pos + extra_n * 4));
        memset(data + pos, 0, extra_n * 4);
        pos += extra_n * 4;
    }
    const char *d = model_from(name, out, 0, data, pos);
    cJSON_Delete(out);
    free(data);
    close_shipped(&s);
    return d;
}

/* ---- the shipped model ----------------------------------------------------- */

Test(model, loads_shipped_model)
{
    splitee_model *m = NULL;
    splitee_error err = { 0, "" };
    cr_assert_eq(splitee_model_load(model_dir(), &m, &err), 0, "%s", err.msg);
    const splitee_model_config *c = splitee_model_get_config(m);
    cr_assert_eq(c->image_size, 28);
    cr_assert_eq(c->channels, 1);
    cr_assert_eq(c->patch_size, 7);
    cr_assert_eq(c->patch_dim, 49);
    cr_assert_eq(c->tokens, 16);
    cr_assert_eq(c->dim % c->heads, 0);
    cr_assert_eq(c->head_dim * c->heads, c->dim);
    cr_assert_eq(c->layers, 12);
    cr_assert_eq(c->classes, 10);
    cr_assert_float_eq(c->norm_eps, 1e-5, 1e-12);
    cr_assert_float_eq(c->input_mean, 0.2860, 1e-12);
    cr_assert_float_eq(c->input_std, 0.3530, 1e-12);
    size_t d = (size_t)c->dim, h = (size_t)c->mlp_hidden;
    size_t per_layer = 4 * d + 3 * d * d + 3 * d + d * d + d + h * d + h + d * h + d + 2 * d +
                       10 * d + 10;
    cr_assert_eq(c->params, d * 49 + d + 16 * d + 12 * per_layer);
    size_t len;
    free(shipped("model.safetensors", &len));
    cr_assert(len > c->params * 4 && len < c->params * 4 + 65536, "file %zu bytes", len);
    cr_assert_not_null(strstr(splitee_model_json_path(m), "model.json"));
    cr_assert_not_null(strstr(splitee_model_weights_path(m), "model.safetensors"));
    splitee_model_free(m);
    splitee_model_free(NULL);
}

Test(model, rejects_null_folder)
{
    splitee_model *m = (splitee_model *)1;
    splitee_error err;
    cr_assert_eq(splitee_model_load(NULL, &m, &err), SPLITEE_ERR_ARG);
    cr_assert_null(m);
    cr_assert_eq(splitee_model_load(tu_path("nothing-here"), &m, NULL), SPLITEE_ERR_IO);
}

/* ---- model.json ------------------------------------------------------------ */

Test(model, rejects_missing_model_json)
{
    const char *d = tu_path("empty-model");
    cr_assert_eq(mkdir(d, 0700), 0);
    expect_fail(d, "model.json", SPLITEE_ERR_IO, "cannot open");
}

Test(model, rejects_malformed_json)
{
    static const char *const bad[] = { "{\"format\": \"splitee-model\",", "", "{]", "nul",
                                       "{\"dim\": 64} trailing" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "malformed%zu", i);
        expect_fail(write_model(name, bad[i], NULL, 0), "model.json", SPLITEE_ERR_FORMAT,
                    "malformed JSON");
    }
    expect_fail(write_model("array", "[1, 2]", NULL, 0), "model.json", SPLITEE_ERR_FORMAT,
                "not a JSON object");
}

Test(model, rejects_oversized_json)
{
    size_t n;
    char *text = shipped("model.json", &n);
    size_t big = ((size_t)1 << 20) + 1;
    char *json = malloc(big + 1);
    memset(json, ' ', big);
    memcpy(json, text, n);
    json[big] = '\0';
    expect_fail(write_model("bigjson", json, NULL, 0), "model.json", SPLITEE_ERR_FORMAT,
                "larger than 1048576 bytes");
    free(json);
    free(text);
}

Test(model, rejects_every_missing_key)
{
    static const char *const keys[] = { "format", "version", "type", "image_size", "channels",
                                        "patch_size", "tokens", "dim", "heads", "mlp_hidden",
                                        "layers", "classes", "norm_eps", "activation",
                                        "exit_pool", "input_mean", "input_std", "dtype",
                                        "weights" };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        char name[32], word[64];
        snprintf(name, sizeof name, "missing-%s", keys[i]);
        snprintf(word, sizeof word, "missing key '%s'", keys[i]);
        expect_fail(model_with(name, keys[i], NULL), "model.json", SPLITEE_ERR_FORMAT, word);
    }
}

Test(model, rejects_ill_typed_keys)
{
    static const struct { const char *key, *value, *word; } bad[] = {
        { "dim", "\"64\"", "'dim' must be an integer" },
        { "dim", "64.5", "'dim' must be an integer" },
        { "layers", "true", "'layers' must be an integer" },
        { "heads", "null", "'heads' must be an integer" },
        { "version", "[1]", "'version' must be an integer" },
        { "norm_eps", "\"1e-5\"", "'norm_eps' must be a number" },
        { "input_mean", "{}", "'input_mean' must be a number" },
        { "type", "5", "'type' must be a string" },
        { "activation", "[\"gelu-erf\"]", "'activation' must be a string" },
        { "weights", "1", "'weights' must be a string" },
        { "dim", "1e300", "'dim' must be in" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "type%zu", i);
        int status = strstr(bad[i].word, "must be in") ? SPLITEE_ERR_VALUE : SPLITEE_ERR_FORMAT;
        expect_fail(model_with(name, bad[i].key, bad[i].value), "model.json", status, bad[i].word);
    }
}

Test(model, rejects_out_of_range_values)
{
    static const struct { const char *key, *value, *word; } bad[] = {
        { "dim", "0", "'dim' must be in [1," },
        { "layers", "-3", "'layers' must be in [1," },
        { "classes", "1", "'classes' must be in [2," },
        { "norm_eps", "0", "'norm_eps' must be a positive" },
        { "norm_eps", "-1e-5", "'norm_eps' must be a positive" },
        { "input_std", "0", "'input_std' must be a positive" },
        { "weights", "\"\"", "'weights' is empty" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "range%zu", i);
        expect_fail(model_with(name, bad[i].key, bad[i].value), "model.json", SPLITEE_ERR_VALUE,
                    bad[i].word);
    }
}

Test(model, rejects_unsupported_architectures)
{
    static const struct { const char *key, *value, *word; } bad[] = {
        { "type", "\"cnn-multi-exit\"", "unsupported type 'cnn-multi-exit'" },
        { "activation", "\"relu\"", "unsupported activation 'relu'" },
        { "activation", "\"gelu-tanh\"", "unsupported activation 'gelu-tanh'" },
        { "exit_pool", "\"cls\"", "unsupported exit_pool 'cls'" },
        { "dtype", "\"F16\"", "unsupported dtype 'F16'" },
        { "version", "3", "unsupported version 3 (expected 1 or 2)" },
        { "channels", "3", "3 channels are not supported" },
        { "layers", "65", "65 layers" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "unsup%zu", i);
        expect_fail(model_with(name, bad[i].key, bad[i].value), "model.json",
                    SPLITEE_ERR_UNSUPPORTED, bad[i].word);
    }
    expect_fail(model_with("format", "format", "\"onnx\""), "model.json", SPLITEE_ERR_FORMAT,
                "unsupported format 'onnx'");
}

Test(model, rejects_inconsistent_architecture)
{
    expect_fail(model_with("heads", "heads", "5"), "model.json", SPLITEE_ERR_SHAPE,
                "is not divisible by heads 5");
    expect_fail(model_with("patch", "patch_size", "5"), "model.json", SPLITEE_ERR_SHAPE,
                "image_size 28 is not divisible by patch_size 5");
    expect_fail(model_with("tokens", "tokens", "15"), "model.json", SPLITEE_ERR_SHAPE,
                "tokens 15 disagree");
}

Test(model, rejects_overflowing_sizes)
{
    char *json = json_with("dim", "2000000000");
    cJSON *root = cJSON_Parse(json);
    free(json);
    cJSON_ReplaceItemInObjectCaseSensitive(root, "heads", cJSON_CreateNumber(1));
    json = cJSON_Print(root);
    expect_fail(write_model("ovf-dim", json, NULL, 0), "model.json", SPLITEE_ERR_OVERFLOW,
                "sizes overflow");
    free(json);
    cJSON_ReplaceItemInObjectCaseSensitive(root, "dim", cJSON_CreateNumber(600000000));
    cJSON_ReplaceItemInObjectCaseSensitive(root, "mlp_hidden", cJSON_CreateNumber(INT_MAX));
    json = cJSON_Print(root);
    expect_fail(write_model("ovf-mlp", json, NULL, 0), "model.json", SPLITEE_ERR_OVERFLOW,
                "sizes overflow");
    free(json);
    cJSON_ReplaceItemInObjectCaseSensitive(root, "dim", cJSON_CreateNumber(64));
    cJSON_ReplaceItemInObjectCaseSensitive(root, "mlp_hidden", cJSON_CreateNumber(128));
    cJSON_ReplaceItemInObjectCaseSensitive(root, "image_size", cJSON_CreateNumber(2147483646));
    cJSON_ReplaceItemInObjectCaseSensitive(root, "patch_size", cJSON_CreateNumber(1073741823));
    json = cJSON_Print(root);
    expect_fail(write_model("ovf-patch", json, NULL, 0), "model.json", SPLITEE_ERR_OVERFLOW,
                "sizes overflow");
    free(json);
    cJSON_Delete(root);
}

Test(model, rejects_architecture_that_disagrees_with_weights)
{
    /* consistent on its own, but the weights are 64 wide */
    char *json = json_with("dim", "32");
    expect_fail(write_model("narrow", json, NULL, 0), "model.safetensors", SPLITEE_ERR_SHAPE,
                "tensor 'patch.weight' has shape (64, 49), expected (32, 49)");
    free(json);
    expect_fail(model_with("hidden", "mlp_hidden", "96"), "model.safetensors", SPLITEE_ERR_SHAPE,
                "tensor 'layers.0.fc1.weight' has shape");
    expect_fail(model_with("classes", "classes", "11"), "model.safetensors", SPLITEE_ERR_SHAPE,
                "tensor 'exits.0.fc.weight' has shape (10, ");
    expect_fail(model_with("fewer", "layers", "11"), "model.safetensors", SPLITEE_ERR_FORMAT,
                "unexpected tensor 'layers.11.");
    expect_fail(model_with("more", "layers", "13"), "model.safetensors", SPLITEE_ERR_FORMAT,
                "missing tensor 'layers.12.ln1.weight'");
}

Test(model, rejects_missing_weights_file)
{
    expect_fail(model_with("noweights", "weights", "\"nope.safetensors\""), "nope.safetensors",
                SPLITEE_ERR_IO, "cannot open");
}

/* ---- safetensors: the file ------------------------------------------------- */

Test(model, rejects_truncated_header_length)
{
    expect_fail(write_model("tiny", NULL, "\x10\0\0\0", 4), "model.safetensors",
                SPLITEE_ERR_FORMAT, "truncated");
    expect_fail(write_model("zero", NULL, "", 0), "model.safetensors", SPLITEE_ERR_FORMAT,
                "truncated");
}

Test(model, rejects_header_length_past_eof)
{
    size_t len;
    char *st = shipped("model.safetensors", &len);
    uint64_t h = (uint64_t)len; /* 8 bytes too many */
    for (int i = 0; i < 8; i++)
        st[i] = (char)(h >> (8 * i));
    expect_fail(write_model("hlen", NULL, st, len), "model.safetensors", SPLITEE_ERR_FORMAT,
                "runs past the end of the file");
    memset(st, 0xff, 8);
    expect_fail(write_model("hlen2", NULL, st, len), "model.safetensors", SPLITEE_ERR_FORMAT,
                "runs past the end of the file");
    free(st);
}

Test(model, rejects_malformed_header_json)
{
    size_t len;
    char *st = shipped("model.safetensors", &len);
    st[8] = '[';   /* the header's opening brace */
    expect_fail(write_model("hjson", NULL, st, len), "model.safetensors", SPLITEE_ERR_FORMAT,
                "malformed JSON header");
    free(st);
    char text[] = "{\"a\": 1} x";
    size_t l = 8 + strlen(text);
    unsigned char *img = malloc(l);
    for (int i = 0; i < 8; i++)
        img[i] = (unsigned char)(strlen(text) >> (8 * i));
    memcpy(img + 8, text, strlen(text));
    expect_fail(write_model("hjson2", NULL, img, l), "model.safetensors", SPLITEE_ERR_FORMAT,
                "text after the object");
    memcpy(img + 8, "[1, 2, 3] ", 10);
    expect_fail(write_model("hjson3", NULL, img, l), "model.safetensors", SPLITEE_ERR_FORMAT,
                "not an object");
    free(img);
}

Test(model, rejects_header_longer_than_the_limit)
{
    /* a sparse file just large enough for a 100,000,001-byte header */
    const char *d = write_model("bighdr", NULL, "\x01\xe1\xf5\x05\0\0\0\0", 8);
    char path[1100];
    snprintf(path, sizeof path, "%s/model.safetensors", d);
    FILE *f = fopen(path, "r+b");
    cr_assert_not_null(f);
    cr_assert_eq(ftruncate(fileno(f), (off_t)8 + 100000001), 0);
    fclose(f);
    expect_fail(d, "model.safetensors", SPLITEE_ERR_FORMAT,
                "header length 100000001 exceeds 100000000 bytes");
}

Test(model, rejects_data_without_tensors)
{
    static const char img[] = "\x08\0\0\0\0\0\0\0{}      \x01\x02\x03\x04";
    expect_fail(write_model("notensors", NULL, img, sizeof img - 1), "model.safetensors",
                SPLITEE_ERR_FORMAT, "4 data bytes but no tensors");
}

Test(model, rejects_ill_formed_tensor_entries)
{
    static const struct { const char *key, *value, *word; int status; } bad[] = {
        { "dtype", "7", "non-string \"dtype\"", SPLITEE_ERR_FORMAT },
        { "dtype", "\"F33\"", "unknown dtype 'F33'", SPLITEE_ERR_FORMAT },
        { "shape", "\"16x64\"", "non-array \"shape\"", SPLITEE_ERR_FORMAT },
        { "shape", "[16, -64]", "shape must hold non-negative integers", SPLITEE_ERR_FORMAT },
        { "shape", "[16, 6.4]", "shape must hold non-negative integers", SPLITEE_ERR_FORMAT },
        { "shape", "[1099511627776, 1099511627776, 1099511627776]", "element count overflows",
          SPLITEE_ERR_OVERFLOW },
        { "data_offsets", "[0]", "\"data_offsets\" must be an array", SPLITEE_ERR_FORMAT },
        { "data_offsets", "[-4, 0]", "non-negative integers", SPLITEE_ERR_FORMAT },
        { "extra", "1", "unexpected key 'extra'", SPLITEE_ERR_FORMAT },
        { "shape", "[1, 1, 1, 1, 1, 1, 1, 16, 64]", "9 dimensions (at most 8",
          SPLITEE_ERR_UNSUPPORTED },
        { "shape", "[4503599627370496, 1024]", "byte size overflows", SPLITEE_ERR_OVERFLOW },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        shipped_st s;
        open_shipped(&s);
        cJSON *t = cJSON_GetObjectItemCaseSensitive(s.header, "pos");
        cJSON_DeleteItemFromObjectCaseSensitive(t, bad[i].key);
        cJSON_AddItemToObject(t, bad[i].key, cJSON_Parse(bad[i].value));
        char name[32];
        snprintf(name, sizeof name, "entry%zu", i);
        const char *d = model_from(name, s.header, 0, s.data, s.data_len);
        expect_fail(d, "model.safetensors", bad[i].status, bad[i].word);
        expect_fail(d, "model.safetensors", bad[i].status, "'pos'");
        close_shipped(&s);
    }
    shipped_st s;
    open_shipped(&s);
    cJSON_ReplaceItemInObjectCaseSensitive(s.header, "pos", cJSON_CreateString("x"));
    expect_fail(model_from("entry-str", s.header, 0, s.data, s.data_len), "model.safetensors",
                SPLITEE_ERR_FORMAT, "'pos' is not an object");
    close_shipped(&s);
    open_shipped(&s);
    cJSON_DeleteItemFromObjectCaseSensitive(s.header, "__metadata__");
    cJSON_AddItemToObject(s.header, "__metadata__", cJSON_CreateNumber(3));
    expect_fail(model_from("meta", s.header, 0, s.data, s.data_len), "model.safetensors",
                SPLITEE_ERR_FORMAT, "\"__metadata__\" is not an object");
    close_shipped(&s);
}

Test(model, rejects_out_of_bounds_offsets)
{
    shipped_st s;
    open_shipped(&s);
    /* the last tensor's end one float past the data section */
    double b = offset_of(s.header, "exits.11.fc.bias", 0);
    set_offsets(s.header, "exits.11.fc.bias", b + 4, (double)s.data_len + 4);
    expect_fail(model_from("oob", s.header, 0, s.data, s.data_len), "model.safetensors",
                SPLITEE_ERR_FORMAT, "out of bounds");
    set_offsets(s.header, "exits.11.fc.bias", b + 8, b + 4);   /* begin after end */
    expect_fail(model_from("oob2", s.header, 0, s.data, s.data_len), "model.safetensors",
                SPLITEE_ERR_FORMAT, "out of bounds");
    close_shipped(&s);
}

Test(model, rejects_offsets_that_disagree_with_dtype_and_shape)
{
    shipped_st s;
    open_shipped(&s);
    double b = offset_of(s.header, "pos", 0), e = offset_of(s.header, "pos", 1);
    set_offsets(s.header, "pos", b, e - 4);
    expect_fail(model_from("span", s.header, 0, s.data, s.data_len), "model.safetensors",
                SPLITEE_ERR_FORMAT, "span");
    set_offsets(s.header, "pos", b, e);
    cJSON *t = cJSON_GetObjectItemCaseSensitive(s.header, "pos");
    cJSON_ReplaceItemInObjectCaseSensitive(t, "dtype", cJSON_CreateString("F16"));
    expect_fail(model_from("span16", s.header, 0, s.data, s.data_len), "model.safetensors",
                SPLITEE_ERR_FORMAT, "F16 x");
    close_shipped(&s);
}

Test(model, rejects_overlapping_tensors)
{
    shipped_st s;
    open_shipped(&s);
    /* layers.0.ln2.bias points at layers.0.ln1.bias's bytes (same size) */
    set_offsets(s.header, "layers.0.ln2.bias", offset_of(s.header, "layers.0.ln1.bias", 0),
                offset_of(s.header, "layers.0.ln1.bias", 1));
    expect_fail(model_from("overlap", s.header, 0, s.data, s.data_len), "model.safetensors",
                SPLITEE_ERR_FORMAT, "overlap");
    close_shipped(&s);
    open_shipped(&s);   /* partial overlap: shifted by one float */
    double b = offset_of(s.header, "layers.0.ln2.weight", 0);
    set_offsets(s.header, "layers.0.ln2.weight", b - 4, offset_of(s.header, "layers.0.ln2.weight", 1) - 4);
    expect_fail(model_from("overlap2", s.header, 0, s.data, s.data_len), "model.safetensors",
                SPLITEE_ERR_FORMAT, "overlap");
    close_shipped(&s);
}

Test(model, rejects_unindexed_data_bytes)
{
    shipped_st s;
    open_shipped(&s);
    unsigned char *data = malloc(s.data_len + 4);
    memcpy(data, s.data, s.data_len);
    memset(data + s.data_len, 0, 4);
    expect_fail(model_from("trail", s.header, 0, data, s.data_len + 4), "model.safetensors",
                SPLITEE_ERR_FORMAT, "belong to no tensor");
    free(data);
    close_shipped(&s);
}

Test(model, rejects_duplicate_tensor_names)
{
    size_t len;
    char *st = shipped("model.safetensors", &len);
    /* rename layers.0.ln2.bias (same length: offsets stay valid) */
    const char *keep = "\"layers.0.ln1.bias\":";
    char *pb = strstr(st + 8, "\"layers.0.ln2.bias\":");
    cr_assert_not_null(pb);
    memcpy(pb, keep, strlen(keep));
    expect_fail(write_model("dup", NULL, st, len), "model.safetensors", SPLITEE_ERR_FORMAT,
                "duplicate tensor 'layers.0.ln1.bias'");
    free(st);
}

/* ---- safetensors: what the architecture needs ----------------------------- */

Test(model, rejects_wrong_dtype)
{
    expect_fail(rebuild("i32", NULL, NULL, 0, "layers.3.qkv.weight", "I32", NULL, NULL),
                "model.safetensors", SPLITEE_ERR_UNSUPPORTED,
                "tensor 'layers.3.qkv.weight' has dtype I32 (expected F32)");
    expect_fail(rebuild("u8", NULL, NULL, 0, "pos", "U32", NULL, NULL), "model.safetensors",
                SPLITEE_ERR_UNSUPPORTED, "dtype U32");
}

Test(model, rejects_missing_tensors)
{
    static const char *const names[] = { "patch.weight", "pos", "layers.5.fc2.bias",
                                         "exits.11.fc.weight", "exits.0.ln.weight" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char dir[32], word[96];
        snprintf(dir, sizeof dir, "drop%zu", i);
        snprintf(word, sizeof word, "missing tensor '%s'", names[i]);
        expect_fail(rebuild(dir, names[i], NULL, 0, NULL, NULL, NULL, NULL), "model.safetensors",
                    SPLITEE_ERR_FORMAT, word);
    }
}

Test(model, rejects_unexpected_tensors)
{
    expect_fail(rebuild("extra", NULL, "layers.0.extra.weight", 4, NULL, NULL, NULL, NULL),
                "model.safetensors", SPLITEE_ERR_FORMAT,
                "unexpected tensor 'layers.0.extra.weight'");
    expect_fail(rebuild("extra2", NULL, "cls_token", 64, NULL, NULL, NULL, NULL),
                "model.safetensors", SPLITEE_ERR_FORMAT, "unexpected tensor 'cls_token'");
}

Test(model, rejects_shapes_that_disagree)
{
    expect_fail(rebuild("pos", NULL, NULL, 0, "pos", NULL, "[8, 128]", NULL), "model.safetensors",
                SPLITEE_ERR_SHAPE, "tensor 'pos' has shape (8, 128), expected (16, 64)");
    expect_fail(rebuild("transposed", NULL, NULL, 0, "layers.2.fc1.weight", NULL, "[64, 128]", NULL),
                "model.safetensors", SPLITEE_ERR_SHAPE,
                "tensor 'layers.2.fc1.weight' has shape (64, 128), expected (128, 64)");
    expect_fail(rebuild("flat", NULL, NULL, 0, "exits.4.ln.bias", NULL, "[1, 64]", NULL),
                "model.safetensors", SPLITEE_ERR_SHAPE, "has shape (1, 64), expected (64,)");
}

Test(model, rejects_non_finite_weights)
{
    const float nan = NAN, inf = -INFINITY;
    expect_fail(rebuild("nan", NULL, NULL, 0, "layers.7.proj.weight", NULL, NULL, &nan),
                "model.safetensors", SPLITEE_ERR_VALUE,
                "tensor 'layers.7.proj.weight' holds a non-finite value (nan) at element 7");
    expect_fail(rebuild("inf", NULL, NULL, 0, "exits.2.fc.bias", NULL, NULL, &inf),
                "model.safetensors", SPLITEE_ERR_VALUE, "non-finite value (-inf)");
}

Test(model, rejects_misaligned_data)
{
    shipped_st s;
    open_shipped(&s);
    expect_fail(model_from("misaligned", s.header, 2, s.data, s.data_len), "model.safetensors",
                SPLITEE_ERR_UNSUPPORTED, "not 4-byte aligned");
    close_shipped(&s);
}

Test(model, rebuilt_copy_loads)
{
    /* the rebuilder itself yields a valid file: the rejections above are real */
    const char *d = rebuild("same", NULL, NULL, 0, NULL, NULL, NULL, NULL);
    splitee_model *m = NULL;
    splitee_error err = { 0, "" };
    cr_assert_eq(splitee_model_load(d, &m, &err), 0, "%s", err.msg);
    splitee_model_free(m);
    shipped_st s;
    open_shipped(&s);
    d = model_from("same2", s.header, 0, s.data, s.data_len);
    cr_assert_eq(splitee_model_load(d, &m, &err), 0, "%s", err.msg);
    splitee_model_free(m);
    close_shipped(&s);
}

/* ---- the in-memory loader (splitee__model_load_mem, the fuzz path) ---------- */

/* Loads dir both ways; the in-memory loader gets the folder's two files
 * under their real paths, so the results must be identical: the same
 * status and message on failure, the same configuration and weights on
 * success. */
static void same_both_ways(const char *dir)
{
    char jp[1100], wp[1100];
    snprintf(jp, sizeof jp, "%s/model.json", dir);
    snprintf(wp, sizeof wp, "%s/model.safetensors", dir);
    size_t jn, wn;
    char *json = tu_read(jp, &jn), *w = tu_read(wp, &wn);
    cr_assert(json && w);
    splitee_model *a = NULL, *b = NULL;
    splitee_error ea = { 0, "" }, eb = { 0, "" };
    int ra = splitee_model_load(dir, &a, &ea);
    int rb = splitee__model_load_mem(jp, json, jn, wp, w, wn, &b, &eb);
    cr_assert_eq(ra, rb, "%s: file %d (%s), memory %d (%s)", dir, ra, ea.msg, rb, eb.msg);
    cr_assert_str_eq(ea.msg, eb.msg);
    if (ra == 0) {
        const splitee_model_config *ca = splitee_model_get_config(a);
        const splitee_model_config *cb = splitee_model_get_config(b);
        cr_assert_eq(memcmp(ca, cb, sizeof *ca), 0);
        cr_assert_eq(a->st.count, b->st.count);
        for (size_t i = 0; i < a->st.count; i++) {
            const splitee__st_tensor *x = &a->st.tensors[i], *y = &b->st.tensors[i];
            cr_assert_str_eq(x->name, y->name);
            cr_assert_eq(x->end - x->begin, y->end - y->begin);
            cr_assert_eq(memcmp(x->data, y->data, x->end - x->begin), 0, "%s", x->name);
            cr_assert((const char *)y->data >= w && (const char *)y->data < w + wn);
        }
        cr_assert_eq(a->cfg.layers, b->cfg.layers);
        for (int k = 0; k < ca->layers; k++) {   /* the same graph, the same weights */
            cr_assert_eq(a->stages[k].n, b->stages[k].n);
            for (int i = 0; i < a->stages[k].n; i++) {
                const splitee__op *x = &a->stages[k].ops[i], *y = &b->stages[k].ops[i];
                cr_assert_eq(x->kind, y->kind);
                cr_assert_eq(memcmp(&x->out, &y->out, sizeof x->out), 0);
                if (x->lin.w)
                    cr_assert_eq(memcmp(x->lin.w, y->lin.w,
                                        (size_t)x->lin.in * (size_t)x->lin.out * 4), 0);
            }
        }
    } else {
        cr_assert_null(b);
    }
    splitee_model_free(a);
    splitee_model_free(b);
    free(json);
    free(w);
}

Test(model, memory_loader_matches_folder_loader)
{
    same_both_ways(model_dir());
    same_both_ways(model_with("mem-dim", "dim", "32"));
    same_both_ways(model_with("mem-layers", "layers", "13"));
    same_both_ways(write_model("mem-json", "{\"dim\": 64} trailing", NULL, 0));
    same_both_ways(write_model("mem-short", NULL, "\x10\0\0\0", 4));
    same_both_ways(rebuild("mem-drop", "pos", NULL, 0, NULL, NULL, NULL, NULL));
    same_both_ways(rebuild("mem-i32", NULL, NULL, 0, "pos", "I32", NULL, NULL));
    shipped_st s;
    open_shipped(&s);
    set_offsets(s.header, "layers.0.ln2.bias", offset_of(s.header, "layers.0.ln1.bias", 0),
                offset_of(s.header, "layers.0.ln1.bias", 1));
    same_both_ways(model_from("mem-overlap", s.header, 0, s.data, s.data_len));
    close_shipped(&s);
}

Test(model, memory_loader_takes_unterminated_json_and_checks_arguments)
{
    size_t jn, wn;
    char *json = shipped("model.json", &jn), *w = shipped("model.safetensors", &wn);
    char *copy = malloc(jn);   /* exactly the text: no NUL after it */
    memcpy(copy, json, jn);
    splitee_model *m = NULL;
    splitee_error err = { 0, "" };
    cr_assert_eq(splitee__model_load_mem("j", copy, jn, "w", w, wn, &m, &err), 0, "%s", err.msg);
    cr_assert_str_eq(splitee_model_json_path(m), "j");
    cr_assert_str_eq(splitee_model_weights_path(m), "w");
    splitee_model_free(m);
    cr_assert_eq(splitee__model_load_mem("j", copy, jn - 2, "w", w, wn, &m, &err),
                 SPLITEE_ERR_FORMAT);
    cr_assert_not_null(strstr(err.msg, "j: malformed JSON"), "%s", err.msg);
    cr_assert_eq(splitee__model_load_mem("j", copy, jn, "w", NULL, 0, &m, &err), SPLITEE_ERR_ARG);
    cr_assert_not_null(strstr(err.msg, "w: no buffer"), "%s", err.msg);
    cr_assert_null(m);
    cr_assert_eq(splitee__model_load_mem(NULL, copy, jn, "w", w, wn, &m, &err), SPLITEE_ERR_ARG);
    free(copy);
    free(json);
    free(w);
}

/* ---- format version 2 (tests/tiny_models.h) ---------------------------------- */

/* The tiny CNN's folder with the first occurrence of `from` in its
 * model.json replaced by `to` (NULL from: unchanged), weights written
 * without tensor `skip` (NULL: all). */
static const char *cnn_with(const char *name, const char *from, const char *to, const char *skip)
{
    tm_model tm;
    tm_cnn(&tm, 3);
    char *json = strdup(tm.json);
    if (from) {
        char *at = strstr(json, from);
        cr_assert_not_null(at, "test bug: '%s' not in the tiny model", from);
        size_t a = (size_t)(at - json), fl = strlen(from), tl = strlen(to);
        char *out = malloc(strlen(json) - fl + tl + 1);
        memcpy(out, json, a);
        memcpy(out + a, to, tl);
        strcpy(out + a + tl, json + a + fl);
        free(json);
        json = out;
    }
    const char *d = tm_write(name, json, &tm);
    if (skip) {
        size_t len;
        unsigned char *st = tm_safetensors(&tm, skip, &len);
        char rel[256];
        snprintf(rel, sizeof rel, "%s/model.safetensors", name);
        tu_write(rel, st, len);
        free(st);
    }
    free(json);
    tm_free(&tm);
    return d;
}

/* The tiny CNN's folder with its model.json edited by `edit` (cJSON). */
static const char *cnn_edited(const char *name, void (*edit)(cJSON *root))
{
    tm_model tm;
    tm_cnn(&tm, 3);
    cJSON *root = cJSON_Parse(tm.json);
    edit(root);
    char *json = cJSON_Print(root);
    const char *d = tm_write(name, json, &tm);
    free(json);
    cJSON_Delete(root);
    tm_free(&tm);
    return d;
}

Test(model, v2_loads_the_tiny_cnn)
{
    const char *d = cnn_with("v2-ok", NULL, NULL, NULL);
    splitee_model *m = NULL;
    splitee_error err = { 0, "" };
    cr_assert_eq(splitee_model_load(d, &m, &err), 0, "%s", err.msg);
    const splitee_model_config *c = splitee_model_get_config(m);
    cr_assert_eq(c->version, 2);
    cr_assert_eq(c->layers, 3);
    cr_assert_eq(c->classes, 3);
    cr_assert_float_eq(c->input_mean, 0.25, 1e-15);
    cr_assert_float_eq(c->input_std, 0.5, 1e-15);
    cr_assert_eq(m->stages[0].n, 9);
    cr_assert_eq(m->exits[1].n, 6);
    splitee_model_free(m);
    same_both_ways(d);
}

/* Batch norm right after a conv2d whose output is not saved is folded into
 * it (w' = w s, b' = (b - mean) s + beta, s = g / sqrt(var + eps), in
 * double, rounded once); after a saved conv2d, or after another op, it
 * stays a standalone scale and shift. */
Test(model, v2_folds_batch_norm_into_the_convolution)
{
    const char *d = cnn_with("v2-fold", NULL, NULL, NULL);
    tm_model tm;
    tm_cnn(&tm, 3);
    splitee_model *m = NULL;
    splitee_error err = { 0, "" };
    cr_assert_eq(splitee_model_load(d, &m, &err), 0, "%s", err.msg);
    static const struct { int list, conv; const char *w, *b, *bn; double eps; } folds[] = {
        { 0, 0, "s0.c1.weight", NULL, "s0.bn1", 1e-5 },
        { 0, 3, "s0.dw.weight", "s0.dw.bias", "s0.bn2", 1e-3 },
        { 0, 6, "s0.pw.weight", "s0.pw.bias", "s0.bn3", 1e-5 },
    };
    for (size_t f = 0; f < sizeof folds / sizeof folds[0]; f++) {
        const splitee__op *cv = &m->stages[0].ops[folds[f].conv], *bn = cv + 1;
        cr_assert_eq(bn->kind, SPLITEE__OP_BATCHNORM);
        cr_assert(bn->folded && bn->io == SPLITEE__IO_NONE, "%s not folded", folds[f].bn);
        const tm_tensor *w = tm_find(&tm, folds[f].w), *b = folds[f].b ? tm_find(&tm, folds[f].b) : NULL;
        char n[64];
        snprintf(n, sizeof n, "%s.weight", folds[f].bn);
        const float *g = tm_find(&tm, n)->data;
        snprintf(n, sizeof n, "%s.bias", folds[f].bn);
        const float *beta = tm_find(&tm, n)->data;
        snprintf(n, sizeof n, "%s.running_mean", folds[f].bn);
        const float *mu = tm_find(&tm, n)->data;
        snprintf(n, sizeof n, "%s.running_var", folds[f].bn);
        const float *var = tm_find(&tm, n)->data;
        size_t per = w->count / w->shape[0];
        cr_assert(cv->w >= m->owned && cv->w < m->owned + m->owned_floats, "folded weights are owned");
        for (size_t o = 0; o < w->shape[0]; o++) {
            double s = (double)g[o] / sqrt((double)var[o] + folds[f].eps);
            for (size_t j = 0; j < per; j++)
                cr_assert_eq(cv->w[o * per + j], (float)((double)w->data[o * per + j] * s));
            cr_assert_eq(cv->b[o], (float)(((b ? b->data[o] : 0.0) - mu[o]) * s + beta[o]));
        }
    }
    const splitee__op *bn4 = &m->stages[1].ops[1], *bn5 = &m->exits[1].ops[3];
    cr_assert(!bn4->folded && bn4->io == SPLITEE__IO_ELEMENTWISE, "the conv before it is saved");
    cr_assert(!bn5->folded && bn5->scale && bn5->shift);
    const float *g = tm_find(&tm, "s1.bn4.weight")->data, *var = tm_find(&tm, "s1.bn4.running_var")->data;
    const float *beta = tm_find(&tm, "s1.bn4.bias")->data, *mu = tm_find(&tm, "s1.bn4.running_mean")->data;
    for (int o = 0; o < 12; o++) {
        double s = (double)g[o] / sqrt((double)var[o] + 1e-5);
        cr_assert_eq(bn4->scale[o], (float)s);
        cr_assert_eq(bn4->shift[o], (float)((double)beta[o] - (double)mu[o] * s));
    }
    cr_assert(m->stages[1].ops[0].w == tm_find(&tm, "s1.c2.weight")->data ||
              m->stages[1].ops[0].w != NULL, "an unfolded conv keeps its weights");
    cr_assert_eq(m->stages[1].ops[0].w, (const float *)splitee__safetensors_find(&m->st, "s1.c2.weight")->data);
    splitee_model_free(m);
    tm_free(&tm);
}

/* One bad v2 model.json: (from, to) edit, status, words of the message. */
typedef struct bad_v2 {
    const char *from, *to;
    int status;
    const char *where, *word;
} bad_v2;

static void expect_bad_v2(const bad_v2 *bad, size_t n, const char *prefix)
{
    for (size_t i = 0; i < n; i++) {
        char name[48];
        snprintf(name, sizeof name, "%s%zu", prefix, i);
        const char *d = cnn_with(name, bad[i].from, bad[i].to, NULL);
        expect_fail(d, "model.json", bad[i].status, bad[i].word);
        if (bad[i].where)
            expect_fail(d, "model.json", bad[i].status, bad[i].where);
    }
}

Test(model, v2_rejects_unknown_ops_and_keys)
{
    static const bad_v2 bad[] = {
        { "\"op\": \"hardswish\"", "\"op\": \"mish\"", SPLITEE_ERR_UNSUPPORTED, "stages[0].ops[5]:",
          "unknown op 'mish'" },
        { "\"op\": \"hardswish\"", "\"kind\": \"hardswish\"", SPLITEE_ERR_FORMAT, "stages[0].ops[5]:",
          "missing key 'op'" },
        { "{\"op\": \"hardswish\"}", "\"hardswish\"", SPLITEE_ERR_FORMAT, "stages[0].ops[5]:",
          "an op must be an object" },
        { "\"op\": \"hardswish\"", "\"op\": 7", SPLITEE_ERR_FORMAT, NULL, "'op' must be a string" },
        { "\"kernel\": 2}", "\"kernel\": 2, \"dilation\": 1}", SPLITEE_ERR_FORMAT,
          "stages[1].ops[3] (maxpool):", "unknown key 'dilation'" },
        { "\"kernel\": 3, \"padding\": 1, \"groups\": 8", "\"kernel\": \"3\", \"padding\": 1, \"groups\": 8",
          SPLITEE_ERR_FORMAT, "stages[0].ops[3] (conv2d):", "'kernel' must be an integer" },
        { "\"kernel\": 3, \"padding\": 1, \"groups\": 8", "\"kernel\": [3, 3, 3], \"padding\": 1, \"groups\": 8",
          SPLITEE_ERR_FORMAT, NULL, "'kernel' must be an integer or a pair [h, w]" },
        { "\"kernel\": 3, \"padding\": 1, \"groups\": 8", "\"kernel\": 0, \"padding\": 1, \"groups\": 8",
          SPLITEE_ERR_VALUE, NULL, "'kernel' must be in [1, " },
        { "\"count_include_pad\": false", "\"count_include_pad\": 0", SPLITEE_ERR_FORMAT, NULL,
          "'count_include_pad' must be true or false" },
        { "\"eps\": 0.001", "\"eps\": -1", SPLITEE_ERR_VALUE, "stages[0].ops[4] (batchnorm):",
          "'eps' must be a positive finite number" },
        { "\"param\": \"s0.pw\", ", "", SPLITEE_ERR_FORMAT, "stages[0].ops[6] (conv2d):",
          "missing key 'param'" },
        { ", \"out\": 24}", "}", SPLITEE_ERR_FORMAT, "stages[2].ops[3] (linear):", "missing key 'out'" },
        { "\"heads\": 2", "\"heads\": 2, \"param\": \"x\"", SPLITEE_ERR_FORMAT, NULL,
          "unknown key 'param'" },
        { "\"name\": \"block1\", ", "\"name\": \"block1\", \"extra\": 1, ", SPLITEE_ERR_FORMAT,
          "stages[0]:", "unknown key 'extra'" },
        { "\"classes\": 3,", "\"classes\": 3, \"type\": \"cnn\",", SPLITEE_ERR_FORMAT, NULL,
          "unknown key 'type'" },
        { "\"dtype\": \"F32\"", "\"dtype\": \"F16\"", SPLITEE_ERR_UNSUPPORTED, NULL,
          "unsupported dtype 'F16'" },
        { "\"version\": 2", "\"version\": 3", SPLITEE_ERR_UNSUPPORTED, NULL,
          "unsupported version 3 (expected 1 or 2)" },
        { "\"shape\": [2, 12, 12]", "\"shape\": [288]", SPLITEE_ERR_FORMAT, "input:",
          "'shape' must be [C, H, W] or [T, D]" },
        { "\"std\": 0.5", "\"std\": 0", SPLITEE_ERR_VALUE, "input:", "'std' must be a positive" },
        { "\"classes\": 3", "\"classes\": 1", SPLITEE_ERR_VALUE, NULL, "'classes' must be in [2," },
    };
    expect_bad_v2(bad, sizeof bad / sizeof bad[0], "v2key");
}

static void drop_input(cJSON *r) { cJSON_DeleteItemFromObjectCaseSensitive(r, "input"); }
static void drop_stages(cJSON *r) { cJSON_DeleteItemFromObjectCaseSensitive(r, "stages"); }
static void drop_weights(cJSON *r) { cJSON_DeleteItemFromObjectCaseSensitive(r, "weights"); }
static void drop_exit(cJSON *r)
{
    cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetArrayItem(
                                                cJSON_GetObjectItemCaseSensitive(r, "stages"), 1),
                                            "exit");
}
static void no_stages(cJSON *r)
{
    cJSON_ReplaceItemInObjectCaseSensitive(r, "stages", cJSON_CreateArray());
}
static void many_stages(cJSON *r)
{
    cJSON *st = cJSON_GetObjectItemCaseSensitive(r, "stages");
    while (cJSON_GetArraySize(st) <= 64)
        cJSON_AddItemToArray(st, cJSON_Duplicate(cJSON_GetArrayItem(st, 2), 1));
}
static void empty_exit(cJSON *r)
{
    cJSON *st = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r, "stages"), 0);
    cJSON_ReplaceItemInObjectCaseSensitive(st, "exit", cJSON_CreateArray());
}

Test(model, v2_rejects_missing_structure)
{
    expect_fail(cnn_edited("v2-noin", drop_input), "model.json", SPLITEE_ERR_FORMAT,
                "missing key 'input'");
    expect_fail(cnn_edited("v2-nost", drop_stages), "model.json", SPLITEE_ERR_FORMAT,
                "missing key 'stages'");
    expect_fail(cnn_edited("v2-now", drop_weights), "model.json", SPLITEE_ERR_FORMAT,
                "missing key 'weights'");
    expect_fail(cnn_edited("v2-noexit", drop_exit), "model.json", SPLITEE_ERR_FORMAT,
                "stages[1]: missing key 'exit'");
    expect_fail(cnn_edited("v2-zero", no_stages), "model.json", SPLITEE_ERR_VALUE,
                "0 stages (1..64 supported)");
    expect_fail(cnn_edited("v2-many", many_stages), "model.json", SPLITEE_ERR_UNSUPPORTED,
                "65 stages (1..64 supported)");
    expect_fail(cnn_edited("v2-emptyexit", empty_exit), "model.json", SPLITEE_ERR_VALUE,
                "stages[0].exit: must hold 1 to 4096 ops, got 0");
}

Test(model, v2_rejects_inconsistent_shapes)
{
    static const bad_v2 bad[] = {
        { "{\"op\": \"global_avgpool\"},", "", SPLITEE_ERR_SHAPE, "stages[0].exit[0] (linear):",
          "needs a (N) or (T, D) input, got (C 8, H 12, W 12)" },
        { "{\"op\": \"add\", \"from\": \"tok\"}", "{\"op\": \"add\", \"from\": \"input\"}",
          SPLITEE_ERR_SHAPE, "stages[2].ops[6] (add):",
          "adds 'input' (C 12, H 3, W 6) to a (T 2, D 8) tensor" },
        { "\"param\": \"e2.fc\", \"out\": 3", "\"param\": \"e2.fc\", \"out\": 4", SPLITEE_ERR_SHAPE,
          "stages[2].exit:", "ends in (N 4), expected the (N 3) logits of 'classes'" },
        { "{\"op\": \"token_mean\"},", "", SPLITEE_ERR_SHAPE, "stages[2].exit:", "ends in (T 2, D 3)" },
        { "\"groups\": 3", "\"groups\": 5", SPLITEE_ERR_SHAPE, "stages[1].ops[4] (conv2d):",
          "groups 5 must divide the input channels 12 and 'out' 12" },
        { "\"kernel\": 2}", "\"kernel\": 13}", SPLITEE_ERR_SHAPE, "stages[1].ops[3] (maxpool):",
          "height: the window (kernel 13, dilation 1) is larger than the padded input (6 + 2 x 0)" },
        { "\"kernel\": 2}", "\"kernel\": 2, \"padding\": [1, 2]}", SPLITEE_ERR_SHAPE, NULL,
          "padding [1, 2] must be at most half the kernel [2, 2]" },
        { "\"patch\": 3", "\"patch\": 4", SPLITEE_ERR_SHAPE, "stages[2].ops[0] (patch_embed):",
          "input 3 x 6 is not divisible into 4 x 4 patches" },
        { "\"heads\": 2", "\"heads\": 3", SPLITEE_ERR_SHAPE, "stages[2].ops[4] (attention):",
          "width D = 8 is not divisible by heads 3" },
        { "\"out\": 24}", "\"out\": 20}", SPLITEE_ERR_SHAPE, "stages[2].ops[4] (attention):",
          "input width 20 is not 3 D" },
        { "{\"op\": \"token_mean\"}", "{\"op\": \"global_avgpool\"}", SPLITEE_ERR_SHAPE,
          "stages[2].exit[1] (global_avgpool):", "needs a (C, H, W) input, got (T 2, D 8)" },
        { "{\"op\": \"flatten\"},", "{\"op\": \"patch_embed\", \"param\": \"p\", \"patch\": 1, \"dim\": 4}, "
          "{\"op\": \"batchnorm\", \"param\": \"q\"},", SPLITEE_ERR_SHAPE, "stages[1].exit[1] (batchnorm):",
          "needs a (C, H, W) or (N) input, got (T 18, D 4)" },
    };
    expect_bad_v2(bad, sizeof bad / sizeof bad[0], "v2shape");
}

Test(model, v2_rejects_bad_residual_references_and_cycles)
{
    static const bad_v2 bad[] = {
        { "\"from\": \"a\"", "\"from\": \"b\"", SPLITEE_ERR_FORMAT, "stages[0].ops[8] (add):",
          "'from' names 'b', which no earlier op of stages[0].ops saves (nor is it \"input\")" },
        /* a name saved in another list does not exist here */
        { "\"from\": \"tok\"", "\"from\": \"c\"", SPLITEE_ERR_FORMAT, "stages[2].ops[6] (add):",
          "'from' names 'c', which no earlier op" },
        { "{\"op\": \"add\", \"from\": \"a\"}", "{\"op\": \"add\", \"from\": \"z\", \"save\": \"z\"}",
          SPLITEE_ERR_FORMAT, "stages[0].ops[8] (add):", "'from' names 'z', this op's own output: "
          "a residual must add a tensor saved before it (a cycle)" },
        { "{\"op\": \"hardswish\"}", "{\"op\": \"add\", \"from\": \"h\"}, {\"op\": \"relu\", \"save\": \"h\"}",
          SPLITEE_ERR_FORMAT, "stages[0].ops[5] (add):",
          "'from' names 'h', which stages[0].ops[6] saves later: a residual must add a tensor "
          "saved before it (a cycle)" },
        { "{\"op\": \"relu\"}", "{\"op\": \"relu\", \"save\": \"c\"}", SPLITEE_ERR_FORMAT,
          "stages[1].ops[5] (relu):", "'save' name 'c' is already saved earlier in the list" },
        { "\"save\": \"a\"", "\"save\": \"input\"", SPLITEE_ERR_FORMAT, "stages[0].ops[2] (relu6):",
          "'save' name 'input' is reserved for the list's input" },
        { "\"save\": \"a\"", "\"save\": 5", SPLITEE_ERR_FORMAT, NULL, "'save' must be a string" },
        { "\"from\": \"a\"", "\"from\": \"\"", SPLITEE_ERR_VALUE, NULL, "'from' must be 1 to 128 bytes" },
        { "{\"op\": \"add\", \"from\": \"a\"}", "{\"op\": \"add\"}", SPLITEE_ERR_FORMAT, NULL,
          "missing key 'from'" },
    };
    expect_bad_v2(bad, sizeof bad / sizeof bad[0], "v2ref");
}

Test(model, v2_rejects_sizes_that_overflow)
{
    static const bad_v2 bad[] = {
        { "\"shape\": [2, 12, 12]", "\"shape\": [65536, 65536, 2]", SPLITEE_ERR_OVERFLOW, "input:",
          "the input (C 65536, H 65536, W 2) holds more than 2^30 elements" },
        { "\"shape\": [2, 12, 12]", "\"shape\": [2147483647, 2147483647, 2147483647]",
          SPLITEE_ERR_OVERFLOW, NULL, "holds more than 2^30 elements" },
        { "\"out\": 8, \"kernel\": 3, \"padding\": 1, \"bias\": false",
          "\"out\": 10000000, \"kernel\": 3, \"padding\": 1, \"bias\": false", SPLITEE_ERR_OVERFLOW,
          "stages[0].ops[0] (conv2d):", "output (C 10000000, H 12, W 12) holds more than 2^30" },
        { "\"out\": 8, \"kernel\": 3, \"padding\": 1, \"bias\": false",
          "\"out\": 2000000000, \"kernel\": 3, \"padding\": 1, \"bias\": false", SPLITEE_ERR_OVERFLOW,
          NULL, "tensor 's0.c1.weight' would hold more than 2^30 elements" },
        { "\"padding\": 1, \"bias\": false", "\"padding\": 2147483647, \"bias\": false",
          SPLITEE_ERR_OVERFLOW, "stages[0].ops[0] (conv2d):", "does not fit an int" },
        { "\"kernel\": 3, \"padding\": 2,\n       \"dilation\": 2", "\"kernel\": 3, \"padding\": 2,\n"
          "       \"dilation\": 2000000000", SPLITEE_ERR_OVERFLOW, NULL, "does not fit an int" },
        { "\"param\": \"e1.fc1\", \"out\": 16", "\"param\": \"e1.fc1\", \"out\": 10000000",
          SPLITEE_ERR_OVERFLOW, "stages[1].exit[1] (linear):",
          "tensor 'e1.fc1.weight' would hold more than 2^30 elements" },
        { "\"param\": \"e0.fc\", \"out\": 3", "\"param\": \"e0.fc\", \"out\": 2147483647",
          SPLITEE_ERR_OVERFLOW, NULL, "more than 2^30 elements" },
    };
    expect_bad_v2(bad, sizeof bad / sizeof bad[0], "v2ovf");
}

Test(model, v2_rejects_weights_that_disagree)
{
    expect_fail(cnn_with("v2w-miss", NULL, NULL, "s0.bn2.running_var"), "model.safetensors",
                SPLITEE_ERR_FORMAT, "missing tensor 's0.bn2.running_var'");
    expect_fail(cnn_with("v2w-shape", "\"out\": 8, \"kernel\": 3, \"padding\": 1, \"bias\"",
                         "\"out\": 8, \"kernel\": 5, \"padding\": 2, \"bias\"", NULL),
                "model.safetensors", SPLITEE_ERR_SHAPE,
                "tensor 's0.c1.weight' has shape (8, 2, 3, 3), expected (8, 2, 5, 5)");
    expect_fail(cnn_with("v2w-extra", "\"out\": 8, \"kernel\": 1}", "\"out\": 8, \"kernel\": 1, "
                         "\"bias\": false}", NULL), "model.safetensors", SPLITEE_ERR_FORMAT,
                "unexpected tensor 's0.pw.bias'");
    expect_fail(cnn_with("v2w-pos", "\"param\": \"s2.pos\"", "\"param\": \"s2.posx\"", NULL),
                "model.safetensors", SPLITEE_ERR_FORMAT, "missing tensor 's2.posx'");
    /* a negative running variance */
    tm_model tm;
    tm_cnn(&tm, 3);
    tm_find(&tm, "s1.bn4.running_var")->data[3] = -0.5f;
    const char *d = tm_write("v2w-var", NULL, &tm);
    expect_fail(d, "model.safetensors", SPLITEE_ERR_VALUE,
                "stages[1].ops[1] (batchnorm): running_var[3] is negative (-0.5)");
    tm_free(&tm);
    tm_cnn(&tm, 3);
    tm_find(&tm, "s0.dw.weight")->data[5] = INFINITY;
    expect_fail(tm_write("v2w-inf", NULL, &tm), "model.safetensors", SPLITEE_ERR_VALUE,
                "tensor 's0.dw.weight' holds a non-finite value (inf) at element 5");
    tm_free(&tm);
    tm_cnn(&tm, 3);   /* a folded weight past the float range */
    tm_find(&tm, "s0.bn1.weight")->data[0] = 3e38f;
    tm_find(&tm, "s0.bn1.running_var")->data[0] = 1e-30f;
    expect_fail(tm_write("v2w-fold", NULL, &tm), "model.safetensors", SPLITEE_ERR_VALUE,
                "stages[0].ops[1] (batchnorm): channel 0 scales by");
    tm_free(&tm);
}

Test(model, v2_memory_loader_matches_folder_loader)
{
    same_both_ways(cnn_with("v2mem-ok", NULL, NULL, NULL));
    same_both_ways(cnn_with("v2mem-op", "\"op\": \"hardswish\"", "\"op\": \"mish\"", NULL));
    same_both_ways(cnn_with("v2mem-miss", NULL, NULL, "s2.pos"));
}

/* ---- multiply-accumulates (splitee_model_stage_macs / _exit_macs) -------------- */

/* The tiny CNN's MACs counted by hand from tests/tiny_models.h. */
Test(model, macs_of_the_tiny_cnn_match_a_hand_count)
{
    tm_model tm;
    tm_cnn(&tm, 3);
    const char *d = tm_write("macs-cnn", NULL, &tm);
    tm_free(&tm);
    splitee_model *m;
    splitee_error err;
    cr_assert_eq(splitee_model_load(d, &m, &err), 0, "%s", err.msg);
    /* stage 1 on (2, 12, 12): conv 8x12x12 x 2x3x3, depthwise 8x12x12 x 1x3x3,
     * pointwise 8x12x12 x 8 (batch norms folded: 0) */
    cr_expect_eq(splitee_model_stage_macs(m, 1), (size_t)(8 * 144 * 18 + 8 * 144 * 9 + 8 * 144 * 8));
    cr_expect_eq(splitee_model_exit_macs(m, 1), (size_t)(8 * 3));
    /* stage 2: conv [3, 2] stride [2, 1] padding 1 dilation [1, 2] -> (12, 6, 12)
     * x 8x3x2; after maxpool (12, 3, 6), grouped conv (3 groups) 12x3x6 x 4x3x3 */
    cr_expect_eq(splitee_model_stage_macs(m, 2), (size_t)(12 * 6 * 12 * 48 + 12 * 3 * 6 * 36));
    cr_expect_eq(splitee_model_exit_macs(m, 2), (size_t)(216 * 16 + 16 * 3));
    /* stage 3: 2 patches of 12x3x3 -> 8, qkv 2x8x24, attention 2 T^2 D, proj 2x8x8 */
    cr_expect_eq(splitee_model_stage_macs(m, 3), (size_t)(2 * 108 * 8 + 2 * 8 * 24 + 2 * 4 * 8 + 2 * 8 * 8));
    cr_expect_eq(splitee_model_exit_macs(m, 3), (size_t)(8 * 3));
    cr_expect_eq(splitee_model_stage_macs(m, 0), 0);
    cr_expect_eq(splitee_model_stage_macs(m, 4), 0);
    cr_expect_eq(splitee_model_exit_macs(m, 0), 0);
    cr_expect_eq(splitee_model_exit_macs(NULL, 1), 0);
    splitee_model_free(m);
}

/* The shipped ViT (v1, translated): every stage after the first is one
 * encoder layer; the first also embeds the patches. */
Test(model, macs_of_the_shipped_vit_match_its_config)
{
    splitee_model *m;
    splitee_error err;
    cr_assert_eq(splitee_model_load("../data/model", &m, &err), 0, "%s", err.msg);
    const splitee_model_config *c = splitee_model_get_config(m);
    size_t t = (size_t)c->tokens, d = (size_t)c->dim, h = (size_t)c->mlp_hidden;
    size_t layer = t * d * 3 * d + 2 * t * t * d + t * d * d + 2 * t * d * h;
    cr_expect_eq(splitee_model_stage_macs(m, 1), t * (size_t)c->patch_dim * d + layer);
    for (int k = 2; k <= c->layers; k++)
        cr_expect_eq(splitee_model_stage_macs(m, k), layer, "stage %d", k);
    cr_expect_eq(splitee_model_exit_macs(m, c->layers), d * (size_t)c->classes);
    splitee_model_free(m);
}

/* tests/fixtures/cnn28 is what tm_cnn28 writes (SPLITEE_RECORD=1 rewrites
 * it: run from tests/), and it loads with the shapes and MACs the header
 * promises. */
static void same_file(const char *path, const void *want, size_t len)
{
    if (getenv("SPLITEE_RECORD")) {
        FILE *f = fopen(path, "wb");
        cr_assert_not_null(f, "%s", path);
        cr_assert_eq(fwrite(want, 1, len, f), len);
        fclose(f);
    }
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s: missing (SPLITEE_RECORD=1 writes it)", path);
    unsigned char *got = malloc(len + 1);
    size_t n = fread(got, 1, len + 1, f);
    fclose(f);
    cr_expect(n == len && memcmp(got, want, len) == 0, "%s differs from tm_cnn28's (SPLITEE_RECORD=1 rewrites it)",
              path);
    free(got);
}

Test(model, the_cnn28_fixture_is_what_the_writer_makes)
{
    tm_model tm;
    tm_cnn28(&tm);
    if (getenv("SPLITEE_RECORD"))
        mkdir("fixtures/cnn28", 0755);
    same_file("fixtures/cnn28/model.json", tm.json, strlen(tm.json));
    size_t len;
    unsigned char *st = tm_safetensors(&tm, NULL, &len);
    same_file("fixtures/cnn28/model.safetensors", st, len);
    free(st);
    tm_free(&tm);
    splitee_model *m;
    splitee_error err;
    cr_assert_eq(splitee_model_load("fixtures/cnn28", &m, &err), 0, "%s", err.msg);
    const size_t elems[4] = { 784, 6 * 14 * 14, 8 * 7 * 7, 8 * 4 * 4 };
    for (int k = 0; k <= 3; k++)
        cr_expect_eq(splitee_model_split_elems(m, k), elems[k], "split %d", k);
    cr_expect_eq(splitee_model_stage_macs(m, 1), (size_t)(6 * 14 * 14 * 9));
    cr_expect_eq(splitee_model_stage_macs(m, 2), (size_t)(6 * 14 * 14 * 9 + 8 * 14 * 14 * 6));
    cr_expect_eq(splitee_model_stage_macs(m, 3), (size_t)(2 * 8 * 4 * 4 * 72));
    cr_expect_eq(splitee_model_exit_macs(m, 1), (size_t)60);
    cr_expect_eq(splitee_model_exit_macs(m, 3), (size_t)80);
    splitee_model_free(m);
}
