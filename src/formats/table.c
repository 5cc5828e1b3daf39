/* table.c -- exit-logit tables (table.h): loading from .npy in either
 * layout, building from memory, validation (shapes, finiteness, label
 * range), accessors, and the confidence measures computed from logits.
 * The CSV loader lives in table_csv.c and builds its table through
 * splitee_table_from_logits. */
#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "splitee/npy.h"
#include "splitee/table.h"

struct splitee_table {
    char *name;       /* logits path, or the name given to from_logits */
    size_t samples;   /* N >= 1 */
    int exits;        /* L in 1..SPLITEE_MAX_EXITS */
    int classes;      /* K >= 2 */
    double *logits;   /* (samples, exits, classes) */
    int32_t *labels;  /* (samples) in [0, classes), or NULL */
};

/* ---- validation ---------------------------------------------------------- */

/* Table dimensions: non-empty, exits and classes in range, and a logit
 * buffer whose byte count fits in size_t. */
static int check_dims(const char *name, size_t samples, size_t exits, size_t classes,
                      splitee_error *err)
{
    size_t n;
    if (samples == 0 || exits == 0 || classes == 0)
        return splitee__fail(err, SPLITEE_ERR_SHAPE,
                             "%s: empty table (%zu samples, %zu exits, %zu classes)",
                             name, samples, exits, classes);
    if (exits > SPLITEE_MAX_EXITS)
        return splitee__fail(err, SPLITEE_ERR_SHAPE, "%s: %zu exits, more than the %d supported",
                             name, exits, SPLITEE_MAX_EXITS);
    if (classes < 2)
        return splitee__fail(err, SPLITEE_ERR_SHAPE,
                             "%s: %zu class; at least 2 classes are needed", name, classes);
    if (classes > INT_MAX)
        return splitee__fail(err, SPLITEE_ERR_SHAPE, "%s: %zu classes, too many", name, classes);
    if (splitee__mul_size(samples, exits, &n) < 0 || splitee__mul_size(n, classes, &n) < 0 ||
        splitee__mul_size(n, sizeof(double), &n) < 0)
        return splitee__fail(err, SPLITEE_ERR_OVERFLOW,
                             "%s: table size (%zu x %zu x %zu logits) overflows size_t",
                             name, samples, exits, classes);
    return SPLITEE_OK;
}

/* Every logit finite; the first offender is reported (0-based indices). */
static int check_logits(const char *name, const double *z, size_t samples, int exits,
                        int classes, splitee_error *err)
{
    size_t n = samples * (size_t)exits * (size_t)classes;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(z[i])) {
            size_t row = i / (size_t)classes;
            return splitee__fail(err, SPLITEE_ERR_VALUE,
                                 "%s: logit is not finite (%g) at sample %zu, exit %d, class %d "
                                 "(0-based)", name, z[i], row / (size_t)exits,
                                 (int)(row % (size_t)exits), (int)(i % (size_t)classes));
        }
    return SPLITEE_OK;
}

/* Fails with VALUE naming the first out-of-range label and its sample. */
static int label_range_error(const char *name, size_t sample, long long value, int classes,
                             splitee_error *err)
{
    return splitee__fail(err, SPLITEE_ERR_VALUE,
                         "%s: label of sample %zu (0-based) is %lld, outside [0, %d)",
                         name, sample, value, classes);
}

/* Every label (if any) in [0, classes). */
static int check_labels(const char *name, const int32_t *labels, size_t samples, int classes,
                        splitee_error *err)
{
    for (size_t i = 0; labels && i < samples; i++)
        if (labels[i] < 0 || labels[i] >= classes)
            return label_range_error(name, i, labels[i], classes, err);
    return SPLITEE_OK;
}

/* Validates the data and wraps it in a new table that takes ownership of
 * `logits` and `labels`; on failure both are freed. */
static int table_adopt(const char *name, double *logits, size_t samples, int exits, int classes,
                       int32_t *labels, splitee_table **out, splitee_error *err)
{
    int rc = check_dims(name, samples, (size_t)exits, (size_t)classes, err);
    if (rc == 0)
        rc = check_logits(name, logits, samples, exits, classes, err);
    if (rc == 0)
        rc = check_labels(name, labels, samples, classes, err);
    splitee_table *t = NULL;
    size_t len = strlen(name) + 1;
    if (rc == 0 && (!(t = calloc(1, sizeof *t)) || !(t->name = malloc(len)))) {
        free(t);
        rc = splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", name);
    }
    if (rc < 0) {
        free(logits);
        free(labels);
        return rc;
    }
    memcpy(t->name, name, len);
    t->samples = samples;
    t->exits = exits;
    t->classes = classes;
    t->logits = logits;
    t->labels = labels;
    *out = t;
    return SPLITEE_OK;
}

/* ---- .npy loading -------------------------------------------------------- */

/* Element i of a numeric array as a double / as a long long. */
static double array_double(const splitee_array *a, size_t i)
{
    return a->dtype == SPLITEE_DTYPE_F32 ? (double)((const float *)a->data)[i]
                                         : ((const double *)a->data)[i];
}

static long long array_integer(const splitee_array *a, size_t i)
{
    switch (a->dtype) {
    case SPLITEE_DTYPE_I32: return ((const int32_t *)a->data)[i];
    case SPLITEE_DTYPE_I64: return ((const int64_t *)a->data)[i];
    case SPLITEE_DTYPE_U8: return ((const uint8_t *)a->data)[i];
    case SPLITEE_DTYPE_I8: return ((const int8_t *)a->data)[i];
    default: return -1;
    }
}

/* Checks the logits array's dtype and shape; fills n/l/k per the layout. */
static int logits_shape(const char *path, const splitee_array *a, splitee_layout layout,
                        size_t *n, size_t *l, size_t *k, splitee_error *err)
{
    if (a->dtype != SPLITEE_DTYPE_F32 && a->dtype != SPLITEE_DTYPE_F64)
        return splitee__fail(err, SPLITEE_ERR_UNSUPPORTED,
                             "%s: logits must be float32 or float64", path);
    if (a->ndim != 3)
        return splitee__fail(err, SPLITEE_ERR_SHAPE,
                             "%s: logits must have 3 dimensions (%s, classes), got %d", path,
                             layout == SPLITEE_LAYOUT_EXITS_FIRST ? "exits, samples" : "samples, exits",
                             a->ndim);
    int ef = layout == SPLITEE_LAYOUT_EXITS_FIRST;
    *n = a->shape[ef ? 1 : 0];
    *l = a->shape[ef ? 0 : 1];
    *k = a->shape[2];
    return check_dims(path, *n, *l, *k, err);
}

/* Converts the logits array to a new (samples, exits, classes) double
 * buffer, transposing an exits-first array. */
static int logits_to_double(const char *path, const splitee_array *a, splitee_layout layout,
                            size_t n, size_t l, size_t k, double **out, splitee_error *err)
{
    double *z = malloc(n * l * k * sizeof *z); /* size checked by check_dims */
    if (!z)
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", path);
    for (size_t s = 0; s < n; s++)
        for (size_t e = 0; e < l; e++) {
            size_t src = (layout == SPLITEE_LAYOUT_EXITS_FIRST ? e * n + s : s * l + e) * k;
            double *dst = z + (s * l + e) * k;
            for (size_t c = 0; c < k; c++)
                dst[c] = array_double(a, src + c);
        }
    *out = z;
    return SPLITEE_OK;
}

/* Reads, checks and converts the logits file into a new double buffer
 * *z (samples, exits, classes) with its dimensions in *n, *l, *k. */
static int load_logits(const char *path, splitee_layout layout, double **z, size_t *n,
                       int *l, int *k, splitee_error *err)
{
    splitee_array a;
    size_t ln = 0, kn = 0;
    int rc = splitee_npy_read(path, &a, err);
    if (rc == 0)
        rc = logits_shape(path, &a, layout, n, &ln, &kn, err);
    if (rc == 0)
        rc = logits_to_double(path, &a, layout, *n, ln, kn, z, err);
    splitee_array_free(&a);
    *l = (int)ln;
    *k = (int)kn;
    return rc;
}

/* Reads labels (1-D integers, `samples` of them, each in [0, classes)). */
static int load_labels(const char *path, size_t samples, int classes, int32_t **out,
                       splitee_error *err)
{
    splitee_array a;
    int rc = splitee_npy_read(path, &a, err);
    if (rc < 0)
        return rc;
    if (a.dtype == SPLITEE_DTYPE_F32 || a.dtype == SPLITEE_DTYPE_F64)
        rc = splitee__fail(err, SPLITEE_ERR_UNSUPPORTED,
                           "%s: labels must be integers (int32, int64, uint8 or int8)", path);
    else if (a.ndim != 1)
        rc = splitee__fail(err, SPLITEE_ERR_SHAPE,
                           "%s: labels must have 1 dimension, got %d", path, a.ndim);
    else if (a.count != samples)
        rc = splitee__fail(err, SPLITEE_ERR_SHAPE,
                           "%s: %zu labels for %zu samples", path, a.count, samples);
    int32_t *lab = NULL;
    if (rc == 0 && !(lab = malloc(samples * sizeof *lab)))
        rc = splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", path);
    for (size_t i = 0; rc == 0 && i < samples; i++) {
        long long v = array_integer(&a, i);
        if (v < 0 || v >= classes)
            rc = label_range_error(path, i, v, classes, err);
        else
            lab[i] = (int32_t)v;
    }
    splitee_array_free(&a);
    if (rc < 0)
        free(lab);
    else
        *out = lab;
    return rc;
}

int splitee_table_load_npy(const char *logits_path, const char *labels_path,
                           splitee_layout layout, splitee_table **out, splitee_error *err)
{
    if (!out || !logits_path)
        return splitee__fail(err, SPLITEE_ERR_ARG, "(null): no table path or output given");
    *out = NULL;
    if (layout != SPLITEE_LAYOUT_SAMPLES_FIRST && layout != SPLITEE_LAYOUT_EXITS_FIRST)
        return splitee__fail(err, SPLITEE_ERR_ARG, "%s: invalid layout %d", logits_path, (int)layout);
    double *z = NULL;
    int32_t *lab = NULL;
    size_t n = 0;
    int l = 0, k = 0;
    int rc = load_logits(logits_path, layout, &z, &n, &l, &k, err);
    if (rc < 0)
        return rc;
    if (labels_path && (rc = load_labels(labels_path, n, k, &lab, err)) < 0) {
        free(z);
        return rc;
    }
    return table_adopt(logits_path, z, n, l, k, lab, out, err);
}

/* 1 if `path` ends in ".csv" (any case). */
static int has_csv_extension(const char *path)
{
    size_t n = strlen(path);
    if (n < 4)
        return 0;
    const char *ext = path + n - 4;
    return ext[0] == '.' && tolower((unsigned char)ext[1]) == 'c' &&
           tolower((unsigned char)ext[2]) == 's' && tolower((unsigned char)ext[3]) == 'v';
}

int splitee_table_load(const char *logits_path, const char *labels_path,
                       splitee_layout layout, splitee_table **out, splitee_error *err)
{
    if (logits_path && has_csv_extension(logits_path))
        return splitee_table_load_csv(logits_path, labels_path, out, err);
    return splitee_table_load_npy(logits_path, labels_path, layout, out, err);
}

int splitee_table_from_logits(const char *name, const double *logits, size_t samples,
                              int exits, int classes, const int32_t *labels,
                              splitee_table **out, splitee_error *err)
{
    if (!name)
        name = "(table)";
    if (!out || !logits)
        return splitee__fail(err, SPLITEE_ERR_ARG, "%s: no logits or output given", name);
    *out = NULL;
    int rc = check_dims(name, samples, exits < 0 ? 0 : (size_t)exits,
                        classes < 0 ? 0 : (size_t)classes, err);
    if (rc < 0)
        return rc;
    size_t n = samples * (size_t)exits * (size_t)classes;
    double *z = malloc(n * sizeof *z);
    int32_t *lab = labels ? malloc(samples * sizeof *lab) : NULL;
    if (!z || (labels && !lab)) {
        free(z);
        free(lab);
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", name);
    }
    memcpy(z, logits, n * sizeof *z);
    if (lab)
        memcpy(lab, labels, samples * sizeof *lab);
    return table_adopt(name, z, samples, exits, classes, lab, out, err);
}

void splitee_table_free(splitee_table *t)
{
    if (!t)
        return;
    free(t->name);
    free(t->logits);
    free(t->labels);
    free(t);
}

size_t splitee_table_samples(const splitee_table *t) { return t->samples; }
int splitee_table_exits(const splitee_table *t) { return t->exits; }
int splitee_table_classes(const splitee_table *t) { return t->classes; }
const double *splitee_table_logits(const splitee_table *t) { return t->logits; }
const int32_t *splitee_table_labels(const splitee_table *t) { return t->labels; }
const char *splitee_table_name(const splitee_table *t) { return t->name; }

/* ---- confidences (exit.h) --------------------------------------------------------- */

void splitee_table_confidences(const splitee_table *t, splitee_confidence kind,
                               double *conf, int32_t *pred)
{
    size_t n = t->samples * (size_t)t->exits;
    for (size_t i = 0; i < n; i++)
        conf[i] = splitee_confidence_of(t->logits + i * (size_t)t->classes, t->classes, kind,
                                        pred ? pred + i : NULL);
}
