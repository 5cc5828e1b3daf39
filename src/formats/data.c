/* data.c -- the data folder and its catalogue (include/splitee/data.h):
 * where the shipped model, tables and link profiles are, and which labels
 * and domain name belong to which table. */
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "core/internal.h"
#include "formats/data_paths.h"
#include "splitee/data.h"

/* Compiled in by src/formats/meson.build. */
#ifndef SPLITEE_BUILD_ROOT
#define SPLITEE_BUILD_ROOT ""
#endif
#ifndef SPLITEE_SOURCE_DATA
#define SPLITEE_SOURCE_DATA ""
#endif
#ifndef SPLITEE_INSTALL_DATA
#define SPLITEE_INSTALL_DATA "/usr/local/share/splitee"
#endif

#define CATALOG_MAX_BYTES (1u << 20)
#define COST_MAX_BYTES (1u << 20)

struct splitee_catalog {
    char dir[SPLITEE_PATH_MAX];
    char model[SPLITEE_PATH_MAX];
    char datasets[SPLITEE_PATH_MAX];
    char test_images[SPLITEE_PATH_MAX], test_labels[SPLITEE_PATH_MAX];
    char test_package[64];
    int has_test_set;
    int ntables, default_table;
    splitee_shipped_table tables[SPLITEE_CATALOG_MAX];
    char domains[SPLITEE_CATALOG_MAX * 34];
};

/* ------------------------------------------------------- the folders --- */

static char data_dir[SPLITEE_PATH_MAX];
static pthread_once_t data_once = PTHREAD_ONCE_INIT;

/* Whether the running executable lies under the build tree compiled in. */
static int in_build_tree(void)
{
    const char *root = SPLITEE_BUILD_ROOT;
    size_t n = strlen(root);
    if (n == 0 || !SPLITEE_SOURCE_DATA[0])
        return 0;
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0)
        return 0;
    exe[len] = '\0';
    char real_root[PATH_MAX];
    if (!realpath(root, real_root))
        return 0;
    n = strlen(real_root);
    return strncmp(exe, real_root, n) == 0 && exe[n] == '/';
}

static void find_data_dir(void)
{
    const char *env = getenv("SPLITEE_DATA");
    const char *d = env && *env ? env : in_build_tree() ? SPLITEE_SOURCE_DATA : SPLITEE_INSTALL_DATA;
    snprintf(data_dir, sizeof data_dir, "%s", d);
    size_t n = strlen(data_dir);
    while (n > 1 && data_dir[n - 1] == '/')
        data_dir[--n] = '\0';
}

const char *splitee_data_dir(void)
{
    pthread_once(&data_once, find_data_dir);
    return data_dir;
}

const char *splitee_datasets_dir(const char *fallback)
{
    const char *env = getenv("SPLITEE_DATASETS");
    if (env && *env)
        return env;
    return fallback && *fallback ? fallback : "/usr/share/datasets";
}

/* ----------------------------------------------------- the catalogue --- */

/* dir/rel into out (rel absolute: as it is). */
static int join(char *out, size_t cap, const char *dir, const char *rel)
{
    int n = rel[0] == '/' ? snprintf(out, cap, "%s", rel) : snprintf(out, cap, "%s/%s", dir, rel);
    return n >= 0 && (size_t)n < cap ? 0 : -1;
}

/* A required (or, with optional, absent-is-empty) string field of obj,
 * non-empty and shorter than cap, into out. */
static int field(const cJSON *obj, const char *name, int optional, char *out, size_t cap,
                 const char *path, const char *where, splitee_error *err)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!x && optional) {
        out[0] = '\0';
        return 0;
    }
    if (!cJSON_IsString(x) || !x->valuestring[0])
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: %s\"%s\" must be a non-empty string", path,
                             where, name);
    if (strlen(x->valuestring) >= cap)
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: %s\"%s\" is longer than %zu bytes", path, where,
                             name, cap - 1);
    memcpy(out, x->valuestring, strlen(x->valuestring) + 1);
    return 0;
}

/* A table's default per-layer device costs from s->layer_cost_file: a
 * JSON array of numbers, or an object whose "layer_cost" is one. */
static int read_layer_cost(splitee_shipped_table *s, splitee_error *err)
{
    const char *path = s->layer_cost_file;
    char *text;
    size_t len;
    int st = splitee__read_file(path, COST_MAX_BYTES, &text, &len, err);
    if (st < 0)
        return st;
    cJSON *j = cJSON_ParseWithLength(text, len);
    free(text);
    const cJSON *a = cJSON_IsObject(j) ? cJSON_GetObjectItemCaseSensitive(j, "layer_cost") : j;
    int n = cJSON_IsArray(a) ? cJSON_GetArraySize(a) : -1;
    if (!j)
        st = splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: malformed JSON", path);
    else if (n < 1 || n > SPLITEE_MAX_EXITS)
        st = splitee__fail(err, SPLITEE_ERR_FORMAT,
                           "%s: expected an array of 1..%d layer costs, or an object whose \"layer_cost\" is one",
                           path, SPLITEE_MAX_EXITS);
    for (int k = 0; st == 0 && k < n; k++) {
        const cJSON *x = cJSON_GetArrayItem(a, k);
        if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble) || x->valuedouble < 0)
            st = splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: layer_cost[%d] must be a finite number >= 0", path, k);
        else
            s->layer_cost[k] = x->valuedouble;
    }
    cJSON_Delete(j);
    s->nlayer_cost = st == 0 ? n : 0;
    return st;
}

static int parse_table(splitee_catalog *c, const cJSON *t, int i, const char *path,
                       splitee_error *err)
{
    char where[48], logits[SPLITEE_PATH_MAX], labels[SPLITEE_PATH_MAX], scenes[SPLITEE_PATH_MAX];
    char model[SPLITEE_PATH_MAX], cost[SPLITEE_PATH_MAX];
    snprintf(where, sizeof where, "tables[%d]: ", i);
    if (!cJSON_IsObject(t))
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: tables[%d] is not an object", path, i);
    splitee_shipped_table *s = &c->tables[i];
    int st;
    if ((st = field(t, "domain", 0, s->domain, sizeof s->domain, path, where, err)) < 0 ||
        (st = field(t, "logits", 0, logits, sizeof logits, path, where, err)) < 0 ||
        (st = field(t, "labels", 0, labels, sizeof labels, path, where, err)) < 0 ||
        (st = field(t, "distortion", 0, s->distortion, sizeof s->distortion, path, where, err)) < 0 ||
        (st = field(t, "description", 1, s->description, sizeof s->description, path, where, err)) < 0 ||
        (st = field(t, "scenes", 1, scenes, sizeof scenes, path, where, err)) < 0 ||
        (st = field(t, "model", 1, model, sizeof model, path, where, err)) < 0 ||
        (st = field(t, "layer_cost", 1, cost, sizeof cost, path, where, err)) < 0)
        return st;
    s->scenes[0] = '\0';
    if (join(s->logits, sizeof s->logits, c->dir, logits) < 0 ||
        join(s->labels, sizeof s->labels, c->dir, labels) < 0 ||
        (scenes[0] && join(s->scenes, sizeof s->scenes, c->dir, scenes) < 0) ||
        (model[0] ? join(s->model, sizeof s->model, c->dir, model)
                  : snprintf(s->model, sizeof s->model, "%s", c->model) >= (int)sizeof s->model) ||
        (cost[0] && join(s->layer_cost_file, sizeof s->layer_cost_file, c->dir, cost) < 0))
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: %spath too long", path, where);
    if (cost[0] && (st = read_layer_cost(s, err)) < 0) {
        char inner[sizeof err->msg];
        snprintf(inner, sizeof inner, "%s", err ? err->msg : "");
        return splitee__fail(err, st, "%s: %s\"layer_cost\": %s", path, where, inner);
    }
    for (int k = 0; k < i; k++)
        if (strcmp(c->tables[k].domain, s->domain) == 0)
            return splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: domain '%s' appears twice", path, s->domain);
    return 0;
}

static int parse_catalog(splitee_catalog *c, const cJSON *j, const char *path, splitee_error *err)
{
    if (!cJSON_IsObject(j))
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: not a JSON object", path);
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(j, "format");
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(j, "version");
    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, "splitee-catalog") != 0)
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: \"format\" must be \"splitee-catalog\"", path);
    if (!cJSON_IsNumber(ver) || (ver->valuedouble != 1 && ver->valuedouble != 2))
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: unsupported \"version\" (this splitee reads 1 and 2)",
                             path);
    char model[SPLITEE_PATH_MAX], datasets[SPLITEE_PATH_MAX], def[32];
    int st;
    if ((st = field(j, "model", 0, model, sizeof model, path, "", err)) < 0 ||
        (st = field(j, "datasets", 1, datasets, sizeof datasets, path, "", err)) < 0 ||
        (st = field(j, "default_domain", 0, def, sizeof def, path, "", err)) < 0)
        return st;
    if (join(c->model, sizeof c->model, c->dir, model) < 0)
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: \"model\": path too long", path);
    snprintf(c->datasets, sizeof c->datasets, "%s", splitee_datasets_dir(datasets));

    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(j, "test_set");
    if (ts) {
        char im[SPLITEE_PATH_MAX], lb[SPLITEE_PATH_MAX];
        if (!cJSON_IsObject(ts))
            return splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: \"test_set\" is not an object", path);
        if ((st = field(ts, "images", 0, im, sizeof im, path, "test_set: ", err)) < 0 ||
            (st = field(ts, "labels", 0, lb, sizeof lb, path, "test_set: ", err)) < 0 ||
            (st = field(ts, "package", 1, c->test_package, sizeof c->test_package, path, "test_set: ", err)) < 0)
            return st;
        if (join(c->test_images, sizeof c->test_images, c->datasets, im) < 0 ||
            join(c->test_labels, sizeof c->test_labels, c->datasets, lb) < 0)
            return splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: test_set: path too long", path);
        c->has_test_set = 1;
    }

    const cJSON *tables = cJSON_GetObjectItemCaseSensitive(j, "tables");
    int n = cJSON_IsArray(tables) ? cJSON_GetArraySize(tables) : 0;
    if (n < 1 || n > SPLITEE_CATALOG_MAX)
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: \"tables\" must be an array of 1..%d tables", path,
                             SPLITEE_CATALOG_MAX);
    for (int i = 0; i < n; i++)
        if ((st = parse_table(c, cJSON_GetArrayItem(tables, i), i, path, err)) < 0)
            return st;
    c->ntables = n;
    c->default_table = -1;
    size_t o = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(c->tables[i].domain, def) == 0)
            c->default_table = i;
        o += (size_t)snprintf(c->domains + o, sizeof c->domains - o, "%s%s", i ? ", " : "",
                              c->tables[i].domain);
    }
    if (c->default_table < 0)
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: \"default_domain\" '%s' is not a table's domain",
                             path, def);
    return 0;
}

int splitee_catalog_load(const char *dir, splitee_catalog **out, splitee_error *err)
{
    *out = NULL;
    if (!dir)
        dir = splitee_data_dir();
    splitee_catalog *c = calloc(1, sizeof *c);
    if (!c)
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "catalogue: out of memory");
    char path[SPLITEE_PATH_MAX];
    if (snprintf(c->dir, sizeof c->dir, "%s", dir) >= (int)sizeof c->dir ||
        join(path, sizeof path, c->dir, "catalog.json") < 0) {
        free(c);
        return splitee__fail(err, SPLITEE_ERR_ARG, "data folder path too long");
    }
    char *text;
    size_t len;
    int st = splitee__read_file(path, CATALOG_MAX_BYTES, &text, &len, err);
    if (st < 0) {
        if (st == SPLITEE_ERR_IO) {
            char inner[sizeof err->msg];
            snprintf(inner, sizeof inner, "%s", err ? err->msg : "");
            splitee__fail(err, st, "%s (set SPLITEE_DATA to splitee's data folder)", inner);
        }
        free(c);
        return st;
    }
    cJSON *j = cJSON_ParseWithLength(text, len);
    free(text);
    if (!j)
        st = splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: malformed JSON", path);
    else
        st = parse_catalog(c, j, path, err);
    cJSON_Delete(j);
    if (st < 0) {
        free(c);
        return st;
    }
    *out = c;
    return 0;
}

void splitee_catalog_free(splitee_catalog *c)
{
    free(c);
}

const char *splitee_catalog_dir(const splitee_catalog *c)
{
    return c->dir;
}

int splitee_catalog_table(const splitee_catalog *c, const char *domain,
                          const splitee_shipped_table **out, splitee_error *err)
{
    for (int i = 0; i < c->ntables; i++)
        if (strcmp(c->tables[i].domain, domain) == 0) {
            *out = &c->tables[i];
            return 0;
        }
    *out = NULL;
    return splitee__fail(err, SPLITEE_ERR_ARG, "unknown domain '%s' (%s)", domain, c->domains);
}

const splitee_shipped_table *splitee_catalog_default_table(const splitee_catalog *c)
{
    return &c->tables[c->default_table];
}

const splitee_shipped_table *splitee_catalog_table_of_file(const splitee_catalog *c,
                                                           const char *path)
{
    struct stat a, b;
    if (!path || stat(path, &a) != 0)
        return NULL;
    for (int i = 0; i < c->ntables; i++)
        if (stat(c->tables[i].logits, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
            return &c->tables[i];
    return NULL;
}

int splitee_catalog_count(const splitee_catalog *c)
{
    return c->ntables;
}

const splitee_shipped_table *splitee_catalog_at(const splitee_catalog *c, int i)
{
    return i >= 0 && i < c->ntables ? &c->tables[i] : NULL;
}

const char *splitee_catalog_domains(const splitee_catalog *c)
{
    return c->domains;
}

const char *splitee_catalog_model(const splitee_catalog *c)
{
    return c->model;
}

int splitee_catalog_test_set(const splitee_catalog *c, const char **images,
                             const char **labels, splitee_error *err)
{
    *images = *labels = NULL;
    if (!c->has_test_set)
        return splitee__fail(err, SPLITEE_ERR_ARG, "%s/catalog.json names no test set: give --images", c->dir);
    if (access(c->test_images, R_OK) != 0) {
        if (c->test_package[0])
            return splitee__fail(err, SPLITEE_ERR_IO, "%s: not found (Debian package %s: tools/setup.sh --dataset)",
                                 c->test_images, c->test_package);
        return splitee__fail(err, SPLITEE_ERR_IO, "%s: not found", c->test_images);
    }
    *images = c->test_images;
    *labels = c->test_labels;
    return 0;
}
