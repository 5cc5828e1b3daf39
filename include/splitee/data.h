/* data.h -- where splitee finds what it ships, and what goes with what.
 *
 * The data folder holds the shipped model (model/), exit-logit tables with
 * their labels, and link profiles (links/). Its catalogue, catalog.json,
 * says which labels belong to which table, which domain name stands for
 * which table, which folder is the default model and which IDX test set
 * the shipped model was evaluated on. Nothing outside the catalogue
 * hard-codes a shipped file name or a dataset path.
 *
 * The data folder is, first match wins:
 *   1. $SPLITEE_DATA, when set and not empty;
 *   2. the checkout's data/, when the running program sits in the build
 *      tree that was configured from that checkout (both paths are
 *      compiled in), so `build/splitee` works on the checkout's files;
 *   3. the installed folder, PREFIX/share/splitee (compiled in).
 * Datasets (IDX files of Debian's dataset packages) are looked up under
 * $SPLITEE_DATASETS, or the catalogue's "datasets" folder
 * (/usr/share/datasets for the shipped one).
 *
 *     splitee_catalog *cat;
 *     if (splitee_catalog_load(NULL, &cat, &err) < 0) ...   // the data folder
 *     const splitee_shipped_table *t;
 *     if (splitee_catalog_table(cat, "noise", &t, &err) < 0) ...
 *     // t->logits, t->labels: absolute paths of the shipped noise table
 *     const splitee_shipped_table *s =
 *         splitee_catalog_table_of_file(cat, "my.npy");  // NULL: not shipped
 *     splitee_catalog_free(cat);
 */
#ifndef SPLITEE_DATA_H
#define SPLITEE_DATA_H

#include <stddef.h>
#include "exit.h"     /* SPLITEE_MAX_EXITS */
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SPLITEE_PATH_MAX 4096     /* bytes of a path, NUL included */
#define SPLITEE_CATALOG_MAX 64    /* shipped tables in one catalogue */

/* The data folder (rules above), without a trailing slash. Static storage,
 * computed on the first call (thread-safe); never NULL. Whether it exists is
 * not checked here: loading from it says so. */
const char *splitee_data_dir(void);

/* The datasets folder: $SPLITEE_DATASETS when set and not empty, else
 * `fallback` (the catalogue's), else "/usr/share/datasets". Never NULL. */
const char *splitee_datasets_dir(const char *fallback);

/* One shipped exit-logit table. Paths are the data folder joined with the
 * catalogue's relative names. */
typedef struct splitee_shipped_table {
    char domain[32];                   /* "clean", "noise", ... */
    char logits[SPLITEE_PATH_MAX];     /* the table (.npy) */
    char labels[SPLITEE_PATH_MAX];     /* its labels (.npy) */
    char distortion[64];               /* the input distortion that made it, as
                                          splitee_distortion_domain() names it */
    char description[160];             /* one line for --help and reports */
    char scenes[SPLITEE_PATH_MAX];     /* a stream table's scene ids (.npy), or ""
                                          (optional "scenes" field; docs/TEMPORAL.md) */
    char model[SPLITEE_PATH_MAX];      /* the model folder whose exits the table
                                          holds: the table's "model", else the
                                          catalogue's */
    char layer_cost_file[SPLITEE_PATH_MAX]; /* its default per-layer device cost
                                          file, or "" when it has none */
    double layer_cost[SPLITEE_MAX_EXITS]; /* (nlayer_cost) that file's costs:
                                          layer_cost[i] is what layer i+1 adds
                                          to the device cost (reward.h) */
    int nlayer_cost;                   /* 0: no default costs (lambda applies) */
} splitee_shipped_table;

typedef struct splitee_catalog splitee_catalog;   /* opaque */

/* Reads DIR/catalog.json (dir NULL: splitee_data_dir()) into *out (caller
 * frees with splitee_catalog_free). Strict: an object with
 *   "format": "splitee-catalog", "version": 1 or 2,
 *   "model": folder name, "default_domain": a table's domain,
 *   "datasets": folder (optional), "test_set": {"images", "labels",
 *   "package"} relative to the datasets folder (optional),
 *   "tables": [{"domain", "logits", "labels", "distortion",
 *               "description", "scenes" (optional)}, ...] (1..SPLITEE_CATALOG_MAX, domains
 *   unique).
 * Version 2 adds two optional fields to a table:
 *   "model": the folder of the model that made the table (relative to
 *            DIR; default the catalogue's "model"),
 *   "layer_cost": a file (relative to DIR) holding the table's default
 *            per-layer device cost: a JSON array of 1..SPLITEE_MAX_EXITS
 *            finite numbers >= 0, or an object whose "layer_cost" is one
 *            (what `splitee profile --out` writes). It is read here, so a
 *            bad cost file fails the load, naming the file.
 * Version 1 catalogues (no such fields) load as before.
 * Fails with IO when the folder or file cannot be read ("DIR/catalog.json:
 * cannot open: ..., set SPLITEE_DATA to splitee's data folder"), FORMAT for
 * anything malformed, naming the file and the field. */
int splitee_catalog_load(const char *dir, splitee_catalog **out, splitee_error *err);

/* Frees a catalogue; NULL is a no-op. */
void splitee_catalog_free(splitee_catalog *c);

/* The folder the catalogue was read from (no trailing slash). */
const char *splitee_catalog_dir(const splitee_catalog *c);

/* The shipped table of `domain` into *out (owned by the catalogue); ARG
 * "unknown domain 'X' (clean, noise, ...)" otherwise. */
int splitee_catalog_table(const splitee_catalog *c, const char *domain,
                          const splitee_shipped_table **out, splitee_error *err);

/* The default table (the catalogue's "default_domain"). Never NULL. */
const splitee_shipped_table *splitee_catalog_default_table(const splitee_catalog *c);

/* The shipped table whose logits file is the same file as `path` (same
 * device and inode, so any spelling of the path matches), or NULL when
 * `path` is not a shipped table or cannot be examined. This is how shipped
 * labels go with shipped tables and with nothing else. */
const splitee_shipped_table *splitee_catalog_table_of_file(const splitee_catalog *c,
                                                           const char *path);

/* Number of tables, and table i (0-based, catalogue order). */
int splitee_catalog_count(const splitee_catalog *c);
const splitee_shipped_table *splitee_catalog_at(const splitee_catalog *c, int i);

/* The domain names joined with ", " ("clean, noise, blur, contrast"), for
 * help texts and error messages. Owned by the catalogue. */
const char *splitee_catalog_domains(const splitee_catalog *c);

/* The default model folder (absolute: data folder + the catalogue's
 * "model"); a table's own model is its `model` field. */
const char *splitee_catalog_model(const splitee_catalog *c);

/* The IDX test set the shipped model was evaluated on, under the datasets
 * folder: *images and *labels (owned by the catalogue). Fails with ARG when
 * the catalogue names none, IO "IMAGES: not found (Debian package PKG:
 * tools/setup.sh --dataset)" when the images file is missing. */
int splitee_catalog_test_set(const splitee_catalog *c, const char **images,
                             const char **labels, splitee_error *err);

#ifdef __cplusplus
}
#endif
#endif
