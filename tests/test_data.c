/* test_data.c -- the data folder and its catalogue (include/splitee/data.h):
 * the shipped catalogue resolves from the build tree, $SPLITEE_DATA
 * overrides it, shipped labels are found only for shipped tables, and every
 * malformed catalogue is refused with a message naming the file and field. */
#include <criterion/criterion.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "splitee/data.h"

/* A catalogue folder under the scratch dir holding `text` as catalog.json. */
static const char *catalog_dir(const char *name, const char *text)
{
    static char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/%s", tu_tmpdir(), name);
    mkdir(dir, 0755);
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/catalog.json", dir);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs(text, f);
    fclose(f);
    return dir;
}

#define GOOD_HEAD "{\"format\":\"splitee-catalog\",\"version\":1,\"model\":\"m\",\"default_domain\":\"a\","
#define GOOD_TABLE(d) "{\"domain\":\"" d "\",\"logits\":\"" d ".npy\",\"labels\":\"l.npy\",\"distortion\":\"clean\"}"

Test(data, build_tree_finds_the_checkouts_data)
{
    unsetenv("SPLITEE_DATA");
    /* the tests run from tests/ of the checkout, inside the build tree's
     * reach: the data folder is the checkout's data/ */
    char want[PATH_MAX], got[PATH_MAX];
    cr_assert(realpath("../data", want));
    cr_assert(realpath(splitee_data_dir(), got), "%s", splitee_data_dir());
    cr_assert_str_eq(got, want);
    splitee_catalog *c;
    splitee_error e;
    cr_assert_eq(splitee_catalog_load(NULL, &c, &e), 0, "%s", e.msg);
    cr_assert_str_eq(splitee_catalog_domains(c),
                     "clean, noise, blur, contrast, cnn-clean, cnn-noise, cnn-blur, cnn-contrast, stream");
    cr_assert_str_eq(splitee_catalog_default_table(c)->domain, "clean");
    const splitee_shipped_table *t;
    cr_assert_eq(splitee_catalog_table(c, "noise", &t, &e), 0);
    cr_assert(tu_exists(t->logits), "%s", t->logits);
    cr_assert(tu_exists(t->labels), "%s", t->labels);
    char model_json[PATH_MAX + 16];
    snprintf(model_json, sizeof model_json, "%s/model.json", splitee_catalog_model(c));
    cr_assert(tu_exists(model_json), "%s", model_json);
    /* the ViT's tables: the default model, no default costs (lambda) */
    cr_assert_str_eq(t->model, splitee_catalog_model(c));
    cr_assert_eq(t->nlayer_cost, 0);
    /* the CNN's: their own model and its ten MAC-derived layer costs, the
     * same for every domain, summing to the 0.38 data/README.md states */
    const char *cnn[] = { "cnn-clean", "cnn-noise", "cnn-blur", "cnn-contrast" };
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(splitee_catalog_table(c, cnn[i], &t, &e), 0, "%s", e.msg);
        cr_assert(tu_exists(t->logits), "%s", t->logits);
        cr_assert(tu_exists(t->labels), "%s", t->labels);
        snprintf(model_json, sizeof model_json, "%s/model.json", t->model);
        cr_assert(tu_exists(model_json), "%s", model_json);
        cr_assert(strstr(t->model, "/cnn"), "%s", t->model);
        cr_assert_eq(t->nlayer_cost, 10);
        double sum = 0;
        for (int k = 0; k < 10; k++) {
            cr_assert_gt(t->layer_cost[k], 0);
            sum += t->layer_cost[k];
        }
        cr_assert(fabs(sum - 0.3797) < 5e-4, "%s: costs sum to %g", cnn[i], sum);
    }
    cr_assert_str_eq(splitee_catalog_table_of_file(c, t->logits)->domain, "cnn-contrast");
    splitee_catalog_free(c);
}

Test(data, environment_overrides_the_data_folder)
{
    const char *dir = catalog_dir("env", GOOD_HEAD "\"tables\":[" GOOD_TABLE("a") "]}");
    setenv("SPLITEE_DATA", dir, 1);
    cr_assert_str_eq(splitee_data_dir(), dir);
    splitee_catalog *c;
    splitee_error e;
    cr_assert_eq(splitee_catalog_load(NULL, &c, &e), 0, "%s", e.msg);
    char want[PATH_MAX + 8];
    snprintf(want, sizeof want, "%s/a.npy", dir);
    cr_assert_str_eq(splitee_catalog_at(c, 0)->logits, want);
    snprintf(want, sizeof want, "%s/m", dir);
    cr_assert_str_eq(splitee_catalog_model(c), want);
    splitee_catalog_free(c);
}

Test(data, datasets_folder_from_environment_or_catalogue)
{
    unsetenv("SPLITEE_DATASETS");
    cr_assert_str_eq(splitee_datasets_dir(NULL), "/usr/share/datasets");
    cr_assert_str_eq(splitee_datasets_dir("/x"), "/x");
    setenv("SPLITEE_DATASETS", "/y", 1);
    cr_assert_str_eq(splitee_datasets_dir("/x"), "/y");
}

Test(data, unknown_domain_lists_the_known_ones)
{
    splitee_catalog *c;
    splitee_error e;
    cr_assert_eq(splitee_catalog_load("../data", &c, &e), 0, "%s", e.msg);
    const splitee_shipped_table *t;
    cr_assert_eq(splitee_catalog_table(c, "fog", &t, &e), SPLITEE_ERR_ARG);
    cr_assert_null(t);
    cr_assert_str_eq(e.msg, "unknown domain 'fog' (clean, noise, blur, contrast, "
                            "cnn-clean, cnn-noise, cnn-blur, cnn-contrast, stream)");
    splitee_catalog_free(c);
}

Test(data, shipped_labels_only_for_shipped_tables)
{
    splitee_catalog *c;
    splitee_error e;
    cr_assert_eq(splitee_catalog_load("../data", &c, &e), 0, "%s", e.msg);
    /* any spelling of a shipped table's path finds it */
    const splitee_shipped_table *t = splitee_catalog_table_of_file(c, "../data/./fmnist-blur.npy");
    cr_assert_not_null(t);
    cr_assert_str_eq(t->domain, "blur");
    char link[PATH_MAX], target[PATH_MAX];
    cr_assert(realpath("../data/fmnist-noise.npy", target));
    snprintf(link, sizeof link, "%s/noise-link.npy", tu_tmpdir());
    cr_assert_eq(symlink(target, link), 0);
    t = splitee_catalog_table_of_file(c, link);
    cr_assert(t && strcmp(t->domain, "noise") == 0);
    /* a copy is not the shipped table */
    size_t n;
    char *bytes = tu_read(target, &n);
    cr_assert(bytes);
    const char *copy = tu_write("copy.npy", bytes, n);
    free(bytes);
    cr_assert_null(splitee_catalog_table_of_file(c, copy));
    cr_assert_null(splitee_catalog_table_of_file(c, "fixtures/ref-logits.npy"));
    cr_assert_null(splitee_catalog_table_of_file(c, "/nonexistent.npy"));
    cr_assert_null(splitee_catalog_table_of_file(c, NULL));
    splitee_catalog_free(c);
}

Test(data, test_set_missing_names_the_package)
{
    const char *dir = catalog_dir("ts", GOOD_HEAD "\"datasets\":\"/nonexistent-ds\","
        "\"test_set\":{\"images\":\"x/im.gz\",\"labels\":\"x/lb.gz\",\"package\":\"dataset-x\"},"
        "\"tables\":[" GOOD_TABLE("a") "]}");
    unsetenv("SPLITEE_DATASETS");
    splitee_catalog *c;
    splitee_error e;
    cr_assert_eq(splitee_catalog_load(dir, &c, &e), 0, "%s", e.msg);
    const char *im, *lb;
    cr_assert_eq(splitee_catalog_test_set(c, &im, &lb, &e), SPLITEE_ERR_IO);
    cr_assert_str_eq(e.msg, "/nonexistent-ds/x/im.gz: not found (Debian package dataset-x: tools/setup.sh --dataset)");
    splitee_catalog_free(c);
    dir = catalog_dir("nots", GOOD_HEAD "\"tables\":[" GOOD_TABLE("a") "]}");
    cr_assert_eq(splitee_catalog_load(dir, &c, &e), 0, "%s", e.msg);
    cr_assert_eq(splitee_catalog_test_set(c, &im, &lb, &e), SPLITEE_ERR_ARG);
    cr_assert(strstr(e.msg, "names no test set"), "%s", e.msg);
    splitee_catalog_free(c);
}

/* Each malformed catalogue and the message it must give (after "DIR/catalog.json: "). */
static const struct { const char *text, *msg; } BAD[] = {
    { "", "malformed JSON" },
    { "[1]", "not a JSON object" },
    { "{\"format\":\"x\",\"version\":1}", "\"format\" must be \"splitee-catalog\"" },
    { "{\"format\":\"splitee-catalog\",\"version\":3}", "unsupported \"version\" (this splitee reads 1 and 2)" },
    { GOOD_HEAD "\"tables\":[{\"domain\":\"a\",\"logits\":\"a\",\"labels\":\"l\",\"distortion\":\"c\",\"model\":3}]}",
      "tables[0]: \"model\" must be a non-empty string" },
    { GOOD_HEAD "\"tables\":[{\"domain\":\"a\",\"logits\":\"a\",\"labels\":\"l\",\"distortion\":\"c\",\"layer_cost\":\"\"}]}",
      "tables[0]: \"layer_cost\" must be a non-empty string" },
    { "{\"format\":\"splitee-catalog\",\"version\":1,\"default_domain\":\"a\",\"tables\":[]}",
      "\"model\" must be a non-empty string" },
    { GOOD_HEAD "\"tables\":[]}", "\"tables\" must be an array of 1..64 tables" },
    { GOOD_HEAD "\"tables\":{}}", "\"tables\" must be an array of 1..64 tables" },
    { GOOD_HEAD "\"tables\":[3]}", "tables[0] is not an object" },
    { GOOD_HEAD "\"tables\":[{\"domain\":\"a\",\"logits\":\"a.npy\",\"distortion\":\"clean\"}]}",
      "tables[0]: \"labels\" must be a non-empty string" },
    { GOOD_HEAD "\"tables\":[{\"domain\":\"\",\"logits\":\"a.npy\",\"labels\":\"l\",\"distortion\":\"clean\"}]}",
      "tables[0]: \"domain\" must be a non-empty string" },
    { GOOD_HEAD "\"tables\":[{\"domain\":\"abcdefghijklmnopqrstuvwxyz0123456\",\"logits\":\"a\",\"labels\":\"l\",\"distortion\":\"c\"}]}",
      "tables[0]: \"domain\" is longer than 31 bytes" },
    { GOOD_HEAD "\"tables\":[" GOOD_TABLE("a") "," GOOD_TABLE("a") "]}", "domain 'a' appears twice" },
    { GOOD_HEAD "\"tables\":[" GOOD_TABLE("b") "]}", "\"default_domain\" 'a' is not a table's domain" },
    { GOOD_HEAD "\"test_set\":[],\"tables\":[" GOOD_TABLE("a") "]}", "\"test_set\" is not an object" },
    { GOOD_HEAD "\"test_set\":{\"images\":\"i\"},\"tables\":[" GOOD_TABLE("a") "]}",
      "test_set: \"labels\" must be a non-empty string" },
};

Test(data, malformed_catalogues_are_refused_by_name)
{
    for (size_t i = 0; i < sizeof BAD / sizeof *BAD; i++) {
        char name[32];
        snprintf(name, sizeof name, "bad%zu", i);
        const char *dir = catalog_dir(name, BAD[i].text);
        splitee_catalog *c = (splitee_catalog *)1;
        splitee_error e;
        int st = splitee_catalog_load(dir, &c, &e);
        cr_assert_eq(st, SPLITEE_ERR_FORMAT, "case %zu: %d %s", i, st, e.msg);
        cr_assert_null(c);
        char want[PATH_MAX + 256];
        snprintf(want, sizeof want, "%s/catalog.json: %s", dir, BAD[i].msg);
        cr_assert_str_eq(e.msg, want, "case %zu", i);
    }
}

Test(data, missing_catalogue_says_how_to_point_at_one)
{
    splitee_catalog *c;
    splitee_error e;
    cr_assert_eq(splitee_catalog_load("/nonexistent-splitee-data", &c, &e), SPLITEE_ERR_IO);
    cr_assert_str_eq(e.msg, "/nonexistent-splitee-data/catalog.json: cannot open: No such file or directory "
                            "(set SPLITEE_DATA to splitee's data folder)");
    /* a catalogue that is not a bounded regular file: a folder */
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/dircat", tu_tmpdir());
    mkdir(dir, 0755);
    char sub[PATH_MAX + 16];
    snprintf(sub, sizeof sub, "%s/catalog.json", dir);
    mkdir(sub, 0755);
    cr_assert_lt(splitee_catalog_load(dir, &c, &e), 0);
    cr_assert(strstr(e.msg, "catalog.json"), "%s", e.msg);
}

/* A version 2 catalogue in folder `name` whose table "a" names model "m2"
 * and the cost file cost.json holding `cost`. */
static const char *cost_catalog(const char *name, const char *cost)
{
    const char *dir = catalog_dir(name,
        "{\"format\":\"splitee-catalog\",\"version\":2,\"model\":\"m\",\"default_domain\":\"a\","
        "\"tables\":[{\"domain\":\"a\",\"logits\":\"a.npy\",\"labels\":\"l.npy\",\"distortion\":\"clean\","
        "\"model\":\"m2\",\"layer_cost\":\"cost.json\"}," GOOD_TABLE("b") "]}");
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/cost.json", dir);
    if (cost) {
        FILE *f = fopen(path, "w");
        cr_assert(f);
        fputs(cost, f);
        fclose(f);
    } else {
        unlink(path);
    }
    return dir;
}

Test(data, a_table_carries_its_model_and_default_costs)
{
    splitee_catalog *c;
    splitee_error e;
    const char *dir = cost_catalog("v2", "{\"layer_cost\": [0.25, 0, 1e-3], \"note\": \"MACs\"}");
    cr_assert_eq(splitee_catalog_load(dir, &c, &e), 0, "%s", e.msg);
    const splitee_shipped_table *a, *b;
    cr_assert_eq(splitee_catalog_table(c, "a", &a, &e), 0);
    cr_assert_eq(splitee_catalog_table(c, "b", &b, &e), 0);
    char want[PATH_MAX + 16];
    snprintf(want, sizeof want, "%s/m2", dir);
    cr_assert_str_eq(a->model, want);
    snprintf(want, sizeof want, "%s/cost.json", dir);
    cr_assert_str_eq(a->layer_cost_file, want);
    cr_assert_eq(a->nlayer_cost, 3);
    cr_assert_eq(a->layer_cost[0], 0.25);
    cr_assert_eq(a->layer_cost[1], 0.0);
    cr_assert_eq(a->layer_cost[2], 1e-3);
    /* a table without them: the catalogue's model, no costs */
    cr_assert_str_eq(b->model, splitee_catalog_model(c));
    cr_assert_str_eq(b->layer_cost_file, "");
    cr_assert_eq(b->nlayer_cost, 0);
    splitee_catalog_free(c);
    /* a bare array is a cost file too */
    dir = cost_catalog("v2array", "[1, 2]");
    cr_assert_eq(splitee_catalog_load(dir, &c, &e), 0, "%s", e.msg);
    cr_assert_eq(splitee_catalog_at(c, 0)->nlayer_cost, 2);
    cr_assert_eq(splitee_catalog_at(c, 0)->layer_cost[1], 2.0);
    splitee_catalog_free(c);
}

/* Each bad cost file fails the whole catalogue, naming the catalogue, the
 * table, the cost file and the problem. */
Test(data, bad_cost_files_are_refused_by_name)
{
    static const struct { const char *cost; int status; const char *msg; } CASES[] = {
        { NULL, SPLITEE_ERR_IO, "cannot open: No such file or directory" },
        { "[1,", SPLITEE_ERR_FORMAT, "malformed JSON" },
        { "{\"ms\": [1]}", SPLITEE_ERR_FORMAT, "expected an array of 1..64 layer costs" },
        { "[]", SPLITEE_ERR_FORMAT, "expected an array of 1..64 layer costs" },
        { "[0.1, -0.5]", SPLITEE_ERR_FORMAT, "layer_cost[1] must be a finite number >= 0" },
        { "[0.1, \"x\"]", SPLITEE_ERR_FORMAT, "layer_cost[1] must be a finite number >= 0" },
        { "[1e999]", SPLITEE_ERR_FORMAT, "layer_cost[0] must be a finite number >= 0" },
    };
    char big[1024] = "[";
    for (int i = 0; i < 65; i++)
        strcat(big, i ? ",1" : "1");
    strcat(big, "]");
    for (size_t i = 0; i <= sizeof CASES / sizeof *CASES; i++) {
        const char *cost = i < sizeof CASES / sizeof *CASES ? CASES[i].cost : big;
        const char *msg = i < sizeof CASES / sizeof *CASES ? CASES[i].msg : "expected an array of 1..64";
        int status = i < sizeof CASES / sizeof *CASES ? CASES[i].status : SPLITEE_ERR_FORMAT;
        char name[32];
        snprintf(name, sizeof name, "badcost%zu", i);
        const char *dir = cost_catalog(name, cost);
        splitee_catalog *c = (splitee_catalog *)1;
        splitee_error e;
        cr_assert_eq(splitee_catalog_load(dir, &c, &e), status, "case %zu: %s", i, e.msg);
        cr_assert_null(c);
        char want[PATH_MAX * 2 + 256];
        snprintf(want, sizeof want, "%s/catalog.json: tables[0]: \"layer_cost\": %s/cost.json: %s", dir, dir, msg);
        cr_assert(strncmp(e.msg, want, strlen(want)) == 0, "case %zu: %s", i, e.msg);
    }
}
