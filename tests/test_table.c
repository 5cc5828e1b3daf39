/* test_table.c -- Criterion tests for exit-logit tables (table.h): .npy
 * loading in both layouts and every label dtype, one test per kind of bad
 * input, splitee_table_load dispatch, building from memory, and a whole
 * table's confidences against the per-vector measure. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "splitee/npy.h"
#include "splitee/table.h"
#include "testutil.h"

/* Deterministic uniform numbers in [-1, 1) (xorshift64*). */
static double uniform(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return (double)((*s * 2685821657736338717ULL) >> 11) / 4503599627370496.0 - 1.0;
}

/* Writes an array with splitee_npy_write and returns its path. */
static const char *write_npy(const char *name, splitee_dtype t, int ndim, const size_t *shape,
                             const void *data)
{
    splitee_error err;
    const char *p = tu_path(name);
    cr_assert_eq(splitee_npy_write(p, t, ndim, shape, data, &err), 0, "%s", err.msg);
    return p;
}

/* Loading fails with `status` and a one-line "<path>: ..." message that
 * contains w1 and w2 (each unless NULL); *out is set to NULL. */
static void expect_load_fail(const char *logits, const char *labels, splitee_layout layout,
                             int status, const char *path, const char *w1, const char *w2)
{
    splitee_table *t = (splitee_table *)1;
    splitee_error err = { 0, "" };
    int rc = splitee_table_load(logits, labels, layout, &t, &err);
    cr_assert_eq(rc, status, "status %d, expected %d (%s)", rc, status, err.msg);
    cr_assert_eq(err.status, status);
    cr_assert_null(t);
    size_t n = strlen(path);
    cr_assert(strncmp(err.msg, path, n) == 0 && err.msg[n] == ':', "no path in: %s", err.msg);
    cr_assert(!w1 || strstr(err.msg, w1), "'%s' not in: %s", w1, err.msg);
    cr_assert(!w2 || strstr(err.msg, w2), "'%s' not in: %s", w2, err.msg);
    cr_assert_null(strchr(err.msg, '\n'));
}

#define N 5
#define L 3
#define K 4
static double logits[N * L * K]; /* (N, L, K) */
static const int32_t labels[N] = { 0, 3, 1, 2, 3 };

/* Fills `logits` with fixed pseudo-random values in [-5, 5). */
static void fill_logits(void)
{
    uint64_t s = 42;
    for (int i = 0; i < N * L * K; i++)
        logits[i] = 5 * uniform(&s);
}

/* Writes `logits` (N, L, K) as float64; returns the path. */
static const char *write_logits(const char *name)
{
    size_t shape[3] = { N, L, K };
    fill_logits();
    return write_npy(name, SPLITEE_DTYPE_F64, 3, shape, logits);
}

/* Writes `labels` (N) as int32; returns the path. */
static const char *write_labels(const char *name)
{
    size_t shape[1] = { N };
    return write_npy(name, SPLITEE_DTYPE_I32, 1, shape, labels);
}

Test(table, loads_float64_samples_first)
{
    splitee_table *t;
    splitee_error err;
    const char *lp = write_logits("l.npy"), *yp = write_labels("y.npy");
    cr_assert_eq(splitee_table_load_npy(lp, yp, SPLITEE_LAYOUT_SAMPLES_FIRST, &t, &err), 0,
                 "%s", err.msg);
    cr_assert_eq(splitee_table_samples(t), N);
    cr_assert_eq(splitee_table_exits(t), L);
    cr_assert_eq(splitee_table_classes(t), K);
    cr_assert_eq(memcmp(splitee_table_logits(t), logits, sizeof logits), 0);
    cr_assert_eq(memcmp(splitee_table_labels(t), labels, sizeof labels), 0);
    cr_assert_str_eq(splitee_table_name(t), lp);
    splitee_table_free(t);
}

Test(table, loads_float32_and_without_labels)
{
    float f[N * L * K];
    size_t shape[3] = { N, L, K };
    fill_logits();
    for (int i = 0; i < N * L * K; i++)
        f[i] = (float)logits[i];
    const char *lp = write_npy("f32.npy", SPLITEE_DTYPE_F32, 3, shape, f);
    splitee_table *t;
    splitee_error err;
    cr_assert_eq(splitee_table_load_npy(lp, NULL, SPLITEE_LAYOUT_SAMPLES_FIRST, &t, &err), 0,
                 "%s", err.msg);
    cr_assert_null(splitee_table_labels(t));
    for (int i = 0; i < N * L * K; i++)
        cr_assert_eq(splitee_table_logits(t)[i], (double)f[i]);
    splitee_table_free(t);
}

Test(table, layouts_give_same_table)
{
    double ef[L * N * K]; /* (L, N, K) */
    size_t shape[3] = { L, N, K };
    const char *sp = write_logits("sf.npy");
    for (int s = 0; s < N; s++)
        for (int e = 0; e < L; e++)
            memcpy(ef + (e * N + s) * K, logits + (s * L + e) * K, K * sizeof(double));
    const char *ep = write_npy("ef.npy", SPLITEE_DTYPE_F64, 3, shape, ef);
    splitee_table *a, *b;
    splitee_error err;
    cr_assert_eq(splitee_table_load_npy(sp, NULL, SPLITEE_LAYOUT_SAMPLES_FIRST, &a, &err), 0);
    cr_assert_eq(splitee_table_load_npy(ep, NULL, SPLITEE_LAYOUT_EXITS_FIRST, &b, &err), 0,
                 "%s", err.msg);
    cr_assert(splitee_table_samples(b) == N && splitee_table_exits(b) == L);
    cr_assert_eq(memcmp(splitee_table_logits(a), splitee_table_logits(b), sizeof logits), 0);
    splitee_table_free(a);
    splitee_table_free(b);
}

Test(table, accepts_every_label_dtype)
{
    const int64_t i64[N] = { 0, 3, 1, 2, 3 };
    const uint8_t u8[N] = { 0, 3, 1, 2, 3 };
    const int8_t i8[N] = { 0, 3, 1, 2, 3 };
    const void *src[3] = { i64, u8, i8 };
    const splitee_dtype types[3] = { SPLITEE_DTYPE_I64, SPLITEE_DTYPE_U8, SPLITEE_DTYPE_I8 };
    size_t shape[1] = { N };
    const char *lp = write_logits("l.npy");
    for (int i = 0; i < 3; i++) {
        splitee_table *t;
        splitee_error err;
        const char *yp = write_npy("y.npy", types[i], 1, shape, src[i]);
        cr_assert_eq(splitee_table_load_npy(lp, yp, SPLITEE_LAYOUT_SAMPLES_FIRST, &t, &err), 0,
                     "%s", err.msg);
        cr_assert_eq(memcmp(splitee_table_labels(t), labels, sizeof labels), 0);
        splitee_table_free(t);
    }
}

Test(table, rejects_integer_logits)
{
    int32_t z[8] = { 0 };
    size_t shape[3] = { 2, 2, 2 };
    const char *p = write_npy("int.npy", SPLITEE_DTYPE_I32, 3, shape, z);
    expect_load_fail(p, NULL, 0, SPLITEE_ERR_UNSUPPORTED, p, "float32 or float64", NULL);
}

Test(table, rejects_logits_not_3d)
{
    double z[8] = { 0 };
    size_t shape[2] = { 4, 2 };
    const char *p = write_npy("2d.npy", SPLITEE_DTYPE_F64, 2, shape, z);
    expect_load_fail(p, NULL, 0, SPLITEE_ERR_SHAPE, p, "3 dimensions", "got 2");
}

Test(table, rejects_labels_not_1d)
{
    size_t shape[2] = { N, 1 };
    const char *lp = write_logits("l.npy");
    const char *yp = write_npy("y2.npy", SPLITEE_DTYPE_I32, 2, shape, labels);
    expect_load_fail(lp, yp, 0, SPLITEE_ERR_SHAPE, yp, "1 dimension", "got 2");
}

Test(table, rejects_float_labels)
{
    double y[N] = { 0 };
    size_t shape[1] = { N };
    const char *lp = write_logits("l.npy");
    const char *yp = write_npy("yf.npy", SPLITEE_DTYPE_F64, 1, shape, y);
    expect_load_fail(lp, yp, 0, SPLITEE_ERR_UNSUPPORTED, yp, "integers", NULL);
}

Test(table, rejects_empty_table)
{
    static const size_t shapes[3][3] = { { 0, 3, 4 }, { 5, 0, 4 }, { 5, 3, 0 } };
    for (int i = 0; i < 3; i++) {
        const char *p = write_npy("empty.npy", SPLITEE_DTYPE_F32, 3, shapes[i], logits);
        expect_load_fail(p, NULL, 0, SPLITEE_ERR_SHAPE, p, "empty table", NULL);
    }
}

Test(table, rejects_too_many_exits)
{
    static float z[2 * (SPLITEE_MAX_EXITS + 1) * 2];
    size_t shape[3] = { 2, SPLITEE_MAX_EXITS + 1, 2 };
    const char *p = write_npy("exits.npy", SPLITEE_DTYPE_F32, 3, shape, z);
    expect_load_fail(p, NULL, 0, SPLITEE_ERR_SHAPE, p, "65 exits", "64 supported");
    /* (2, 65, 2) is 65 samples of 2 exits read exits-first: the message says so */
    expect_load_fail(p, NULL, 0, SPLITEE_ERR_SHAPE, p, "exits-first layout reads it as 2 exits of 65 samples", NULL);
    splitee_table *t;
    splitee_error err;
    cr_assert_eq(splitee_table_load(p, NULL, SPLITEE_LAYOUT_EXITS_FIRST, &t, &err), 0, "%s", err.msg);
    cr_assert_eq(splitee_table_exits(t), 2);
    cr_assert_eq(splitee_table_samples(t), 65);
    splitee_table_free(t);
    /* read exits-first, the hint points the other way */
    size_t swapped[3] = { SPLITEE_MAX_EXITS + 1, 2, 2 };
    p = write_npy("exits-ef.npy", SPLITEE_DTYPE_F32, 3, swapped, z);
    expect_load_fail(p, NULL, SPLITEE_LAYOUT_EXITS_FIRST, SPLITEE_ERR_SHAPE, p,
                     "samples-first layout reads it as 2 exits of 65 samples", NULL);
}

Test(table, no_layout_hint_when_neither_layout_fits)
{
    static float z[(SPLITEE_MAX_EXITS + 1) * (SPLITEE_MAX_EXITS + 1) * 2];
    size_t shape[3] = { SPLITEE_MAX_EXITS + 1, SPLITEE_MAX_EXITS + 1, 2 };
    const char *p = write_npy("exits2.npy", SPLITEE_DTYPE_F32, 3, shape, z);
    expect_load_fail(p, NULL, 0, SPLITEE_ERR_SHAPE, p, "65 exits, more than the 64 supported", NULL);
    splitee_table *t;
    splitee_error err;
    splitee_table_load(p, NULL, 0, &t, &err);
    cr_assert_null(strstr(err.msg, "layout"), "%s", err.msg);
}

Test(table, rejects_single_class)
{
    float z[6] = { 0 };
    size_t shape[3] = { 3, 2, 1 };
    const char *p = write_npy("k1.npy", SPLITEE_DTYPE_F32, 3, shape, z);
    expect_load_fail(p, NULL, 0, SPLITEE_ERR_SHAPE, p, "at least 2 classes", NULL);
}

Test(table, rejects_label_count_mismatch)
{
    size_t shape[1] = { N - 1 };
    const char *lp = write_logits("l.npy");
    const char *yp = write_npy("y4.npy", SPLITEE_DTYPE_I32, 1, shape, labels);
    expect_load_fail(lp, yp, 0, SPLITEE_ERR_SHAPE, yp, "4 labels for 5 samples", NULL);
    splitee_table *t;
    splitee_error err;
    splitee_table_load(lp, yp, 0, &t, &err);
    cr_assert_null(strstr(err.msg, "layout"), "%s", err.msg);
}

/* (N, L, K) = (5, 3, 4) read exits-first has 3 samples; 5 labels match the
 * samples-first reading, and the message says so. */
Test(table, label_count_of_the_other_layout_says_so)
{
    size_t shape[1] = { N };
    const char *lp = write_logits("l.npy");
    const char *yp = write_npy("y5.npy", SPLITEE_DTYPE_I32, 1, shape, labels);
    expect_load_fail(lp, yp, SPLITEE_LAYOUT_EXITS_FIRST, SPLITEE_ERR_SHAPE, yp,
                     "5 labels for 3 samples", "samples-first layout gives the table 5 samples");
}

Test(table, rejects_label_out_of_range)
{
    const int32_t high[N] = { 0, 1, 4, 9, 0 };       /* first offender: sample 2 */
    const int64_t neg[N] = { 0, 1, 2, -1, 0 };
    const int64_t huge[N] = { 1LL << 40, 0, 0, 0, 0 };
    size_t shape[1] = { N };
    const char *lp = write_logits("l.npy");
    const char *yp = write_npy("yh.npy", SPLITEE_DTYPE_I32, 1, shape, high);
    expect_load_fail(lp, yp, 0, SPLITEE_ERR_VALUE, yp, "sample 2 (0-based) is 4", "[0, 4)");
    yp = write_npy("yn.npy", SPLITEE_DTYPE_I64, 1, shape, neg);
    expect_load_fail(lp, yp, 0, SPLITEE_ERR_VALUE, yp, "sample 3 (0-based) is -1", NULL);
    yp = write_npy("yb.npy", SPLITEE_DTYPE_I64, 1, shape, huge);
    expect_load_fail(lp, yp, 0, SPLITEE_ERR_VALUE, yp, "is 1099511627776", NULL);
}

Test(table, rejects_non_finite_logits)
{
    size_t shape[3] = { N, L, K };
    fill_logits();
    logits[(1 * L + 2) * K + 3] = NAN;
    const char *p = write_npy("nan.npy", SPLITEE_DTYPE_F64, 3, shape, logits);
    expect_load_fail(p, NULL, 0, SPLITEE_ERR_VALUE, p, "not finite", "sample 1, exit 2, class 3");
    fill_logits();
    logits[(4 * L + 0) * K + 1] = -INFINITY;
    p = write_npy("inf.npy", SPLITEE_DTYPE_F64, 3, shape, logits);
    expect_load_fail(p, NULL, 0, SPLITEE_ERR_VALUE, p, "-inf", "sample 4, exit 0, class 1");
}

Test(table, rejects_malformed_files)
{
    const char *lp = write_logits("l.npy");
    const char *bad = tu_write("bad.npy", "\x93NUMPY\x01\x00\x04\x00{'de", 14);
    expect_load_fail(bad, NULL, 0, SPLITEE_ERR_FORMAT, bad, "malformed", NULL);
    expect_load_fail(lp, bad, 0, SPLITEE_ERR_FORMAT, bad, "malformed", NULL);
    const char *none = tu_path("none.npy");
    expect_load_fail(none, NULL, 0, SPLITEE_ERR_IO, none, "cannot open", NULL);
    expect_load_fail(lp, none, 0, SPLITEE_ERR_IO, none, "cannot open", NULL);
    size_t big[3] = { (size_t)1 << 62, 2, 2 }, len; /* 2^64 elements */
    unsigned char *img = tu_npy_image("<f4", 0, 3, big, NULL, 0, &len);
    const char *ovf = tu_write("ovf.npy", img, len);
    free(img);
    expect_load_fail(ovf, NULL, 0, SPLITEE_ERR_OVERFLOW, ovf, "overflows", NULL);
}

Test(table, rejects_bad_arguments)
{
    splitee_table *t;
    splitee_error err;
    const char *lp = write_logits("l.npy");
    cr_assert_eq(splitee_table_load_npy(lp, NULL, (splitee_layout)7, &t, &err), SPLITEE_ERR_ARG);
    cr_assert_not_null(strstr(err.msg, lp));
    cr_assert_eq(splitee_table_load_npy(NULL, NULL, 0, &t, &err), SPLITEE_ERR_ARG);
    cr_assert_eq(splitee_table_load_npy(lp, NULL, 0, NULL, &err), SPLITEE_ERR_ARG);
}

Test(table, load_dispatches_by_extension)
{
    const char *csv = "label,e1_c1,e1_c2\n1,0.5,2\n0,3,-1\n";
    splitee_table *t;
    splitee_error err;
    const char *names[2] = { "t.csv", "T.CSV" };
    for (int i = 0; i < 2; i++) {
        const char *p = tu_write_str(names[i], csv);
        cr_assert_eq(splitee_table_load(p, NULL, SPLITEE_LAYOUT_EXITS_FIRST, &t, &err), 0,
                     "%s", err.msg);
        cr_assert(splitee_table_samples(t) == 2 && splitee_table_classes(t) == 2);
        cr_assert_eq(splitee_table_logits(t)[2], 3.0);
        splitee_table_free(t);
    }
    const char *p = tu_write_str("t.csv.npy", csv); /* CSV text, .npy name */
    expect_load_fail(p, NULL, 0, SPLITEE_ERR_FORMAT, p, "bad magic", NULL);
    const char *lp = write_logits("l.npy");
    cr_assert_eq(splitee_table_load(lp, NULL, SPLITEE_LAYOUT_SAMPLES_FIRST, &t, &err), 0);
    cr_assert_eq(splitee_table_exits(t), L);
    splitee_table_free(t);
}

Test(table, from_logits_copies_data)
{
    double z[2 * 1 * 3] = { 1, 2, 3, 4, 5, 6 };
    int32_t y[2] = { 2, 0 };
    splitee_table *t;
    splitee_error err;
    cr_assert_eq(splitee_table_from_logits("mem", z, 2, 1, 3, y, &t, &err), 0, "%s", err.msg);
    z[0] = 99;
    y[0] = 1;
    cr_assert_eq(splitee_table_logits(t)[0], 1.0);
    cr_assert_eq(splitee_table_labels(t)[0], 2);
    cr_assert_str_eq(splitee_table_name(t), "mem");
    cr_assert(splitee_table_samples(t) == 2 && splitee_table_exits(t) == 1 &&
              splitee_table_classes(t) == 3);
    splitee_table_free(t);
    splitee_table_free(NULL);
}

Test(table, from_logits_validates)
{
    double z[4] = { 1, NAN, 3, 4 };
    int32_t y[2] = { 0, 2 };
    splitee_table *t;
    splitee_error err;
    cr_assert_eq(splitee_table_from_logits("mem", z, 2, 1, 2, NULL, &t, &err), SPLITEE_ERR_VALUE);
    cr_assert(strstr(err.msg, "mem: ") == err.msg && strstr(err.msg, "sample 0, exit 0, class 1"),
              "%s", err.msg);
    cr_assert_null(t);
    z[1] = 2;
    cr_assert_eq(splitee_table_from_logits("mem", z, 2, 1, 2, y, &t, &err), SPLITEE_ERR_VALUE);
    cr_assert_not_null(strstr(err.msg, "sample 1 (0-based) is 2"), "%s", err.msg);
    cr_assert_eq(splitee_table_from_logits("mem", z, 0, 1, 2, NULL, &t, &err), SPLITEE_ERR_SHAPE);
    cr_assert_eq(splitee_table_from_logits("mem", z, 2, -1, 2, NULL, &t, &err), SPLITEE_ERR_SHAPE);
    cr_assert_eq(splitee_table_from_logits("mem", z, 2, 1, 1, NULL, &t, &err), SPLITEE_ERR_SHAPE);
    cr_assert_eq(splitee_table_from_logits("mem", z, SIZE_MAX / 4, 2, 2, NULL, &t, &err),
                 SPLITEE_ERR_OVERFLOW);
    cr_assert_not_null(strstr(err.msg, "overflows"));
    cr_assert_eq(splitee_table_from_logits("mem", NULL, 2, 1, 2, NULL, &t, &err), SPLITEE_ERR_ARG);
}

/* ---- confidences of a whole table (the measures: test_exit.c) --- */

Test(table, table_confidences_match_per_vector)
{
    splitee_table *t;
    splitee_error err;
    const char *lp = write_logits("l.npy");
    cr_assert_eq(splitee_table_load_npy(lp, NULL, 0, &t, &err), 0);
    double conf[N * L];
    int32_t pred[N * L];
    for (int kind = 0; kind < 3; kind++) {
        splitee_table_confidences(t, (splitee_confidence)kind, conf, pred);
        for (int i = 0; i < N * L; i++) {
            int32_t p;
            double c = splitee_confidence_of(logits + i * K, K, (splitee_confidence)kind, &p);
            cr_assert(conf[i] == c && pred[i] == p);
        }
        splitee_table_confidences(t, (splitee_confidence)kind, conf, NULL);
    }
    splitee_table_free(t);
}
