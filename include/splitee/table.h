/* table.h -- exit-logit tables: the per-exit logits of a test set, its
 * labels, and the confidences and predictions derived from them.
 *
 * A table holds, for N samples and L exits of a K-class multi-exit network,
 * the logits (N, L, K) in double precision and optionally N labels in
 * [0, K). Loaders validate everything (shapes, NaN/Inf, label range) before
 * a table exists, so code that receives a table may trust it.
 *
 *     splitee_table *t;
 *     splitee_error err;
 *     if (splitee_table_load_npy("data/fmnist-clean.npy",
 *                                "data/fmnist-test-labels.npy",
 *                                SPLITEE_LAYOUT_SAMPLES_FIRST, &t, &err) < 0)
 *         die(err.msg);
 *     size_t n = splitee_table_samples(t);
 *     double *conf = malloc(n * splitee_table_exits(t) * sizeof *conf);
 *     int32_t *pred = malloc(n * splitee_table_exits(t) * sizeof *pred);
 *     splitee_table_confidences(t, SPLITEE_CONFIDENCE_MAX_SOFTMAX, conf, pred);
 *     splitee_table_free(t);
 */
#ifndef SPLITEE_TABLE_H
#define SPLITEE_TABLE_H

#include <stddef.h>
#include <stdint.h>
#include "exit.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum splitee_layout {
    SPLITEE_LAYOUT_SAMPLES_FIRST = 0, /* logits shaped (samples, exits, classes) */
    SPLITEE_LAYOUT_EXITS_FIRST        /* logits shaped (exits, samples, classes) */
} splitee_layout;

typedef struct splitee_table splitee_table; /* opaque */

/* Loads logits from a .npy file (float32 or float64, 3-D, C order, in the
 * given layout) and, when `labels_path` is not NULL, labels from a 1-D .npy
 * of int32 or int64 (or uint8). Checks: 2 <= classes, 1 <= exits <=
 * SPLITEE_MAX_EXITS, samples >= 1, label count == samples, labels in
 * [0, classes), every logit finite. On success *out owns a new table. */
int splitee_table_load_npy(const char *logits_path, const char *labels_path,
                           splitee_layout layout, splitee_table **out,
                           splitee_error *err);

/* Loads a table from CSV (for users without NumPy). The first line is a
 * header naming the columns: an optional `label` column and one column
 * `e<exit>_c<class>` per logit, exits and classes numbered from 1, e.g.
 *     label,e1_c1,e1_c2,e2_c1,e2_c2
 *     1,0.3,-1.2,0.1,2.5
 * Columns may come in any order but every (exit, class) pair must appear
 * exactly once. Blank lines and lines starting with '#' are skipped. A
 * separate `labels_path` (one integer per line) may be given instead of
 * or, if the CSV has no label column, in addition to it; giving both is an
 * error. Same checks as the .npy loader; errors name file and line. */
int splitee_table_load_csv(const char *path, const char *labels_path,
                           splitee_table **out, splitee_error *err);

/* Loads by extension: ".csv" -> splitee_table_load_csv (layout ignored),
 * anything else -> splitee_table_load_npy. */
int splitee_table_load(const char *logits_path, const char *labels_path,
                       splitee_layout layout, splitee_table **out,
                       splitee_error *err);

/* Builds a table from memory: `logits` is (samples, exits, classes) in
 * double; `labels` (samples, may be NULL). Data are copied; same checks as
 * the loaders, with `name` used in error messages. */
int splitee_table_from_logits(const char *name, const double *logits,
                              size_t samples, int exits, int classes,
                              const int32_t *labels, splitee_table **out,
                              splitee_error *err);

/* Frees the table; NULL is a no-op. */
void splitee_table_free(splitee_table *t);

/* Its shape: samples, exits (arms) and classes, all >= 1 once loaded. */
size_t splitee_table_samples(const splitee_table *t);
int splitee_table_exits(const splitee_table *t);
int splitee_table_classes(const splitee_table *t);
/* Logits (samples, exits, classes), owned by the table. */
const double *splitee_table_logits(const splitee_table *t);
/* Labels (samples) in [0, classes), owned by the table; NULL if none. */
const int32_t *splitee_table_labels(const splitee_table *t);
/* The name the table was loaded from (its logits path). */
const char *splitee_table_name(const splitee_table *t);

/* Fills conf (samples, exits) with every exit's confidence (exit.h) and, when pred is
 * not NULL, pred (samples, exits) with every exit's argmax class. */
void splitee_table_confidences(const splitee_table *t, splitee_confidence kind,
                               double *conf, int32_t *pred);

#ifdef __cplusplus
}
#endif
#endif
