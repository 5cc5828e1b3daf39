/* test_table_csv.c -- Criterion tests for the CSV table loader
 * (splitee_table_load_csv in table.h): header mapping in any column order,
 * comments and line endings, separate labels files, agreement with the .npy
 * loader, and one test per kind of bad input, each checking the status and
 * that the one-line message names the file, the line and the problem. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "splitee/npy.h"
#include "splitee/table.h"
#include "testutil.h"

/* Two samples, two exits, three classes, in the header's natural order. */
static const char *const basic =
    "label,e1_c1,e1_c2,e1_c3,e2_c1,e2_c2,e2_c3\n"
    "2,0.5,-1.25,3,1e-3,2.5e2,-7\n"
    "0,1,2,3,4,5,6\n";
static const double basic_logits[12] = { 0.5, -1.25, 3, 1e-3, 2.5e2, -7, 1, 2, 3, 4, 5, 6 };
static const int32_t basic_labels[2] = { 2, 0 };

/* Loads a CSV table that must load. */
static splitee_table *load_ok(const char *path, const char *labels_path)
{
    splitee_table *t = NULL;
    splitee_error err;
    cr_assert_eq(splitee_table_load_csv(path, labels_path, &t, &err), 0, "%s", err.msg);
    return t;
}

/* The table equals the basic one (labels compared when `with_labels`). */
static void expect_basic(const splitee_table *t, int with_labels)
{
    cr_assert_eq(splitee_table_samples(t), 2);
    cr_assert_eq(splitee_table_exits(t), 2);
    cr_assert_eq(splitee_table_classes(t), 3);
    cr_assert_eq(memcmp(splitee_table_logits(t), basic_logits, sizeof basic_logits), 0);
    if (with_labels)
        cr_assert_eq(memcmp(splitee_table_labels(t), basic_labels, sizeof basic_labels), 0);
}

/* Loading fails with `status` and a one-line "<path>: ..." message that
 * contains w1 and w2 (each unless NULL); *out is set to NULL. */
static void expect_fail(const char *path, const char *labels_path, int status,
                        const char *named, const char *w1, const char *w2)
{
    splitee_table *t = (splitee_table *)1;
    splitee_error err = { 0, "" };
    int rc = splitee_table_load_csv(path, labels_path, &t, &err);
    cr_assert_eq(rc, status, "status %d, expected %d (%s)", rc, status, err.msg);
    cr_assert_eq(err.status, status);
    cr_assert_null(t);
    size_t n = strlen(named);
    cr_assert(strncmp(err.msg, named, n) == 0 && err.msg[n] == ':', "no path in: %s", err.msg);
    cr_assert(!w1 || strstr(err.msg, w1), "'%s' not in: %s", w1, err.msg);
    cr_assert(!w2 || strstr(err.msg, w2), "'%s' not in: %s", w2, err.msg);
    cr_assert_null(strchr(err.msg, '\n'));
}

/* expect_fail on a scratch CSV holding `text`. */
static void expect_csv_fail(const char *text, int status, const char *w1, const char *w2)
{
    const char *p = tu_write_str("bad.csv", text);
    expect_fail(p, NULL, status, p, w1, w2);
}

Test(table_csv, loads_basic_table)
{
    const char *p = tu_write_str("basic.csv", basic);
    splitee_table *t = load_ok(p, NULL);
    expect_basic(t, 1);
    cr_assert_str_eq(splitee_table_name(t), p);
    splitee_table_free(t);
}

Test(table_csv, reordered_columns_give_same_table)
{
    const char *p = tu_write_str("reorder.csv",
                                 "e2_c3,e1_c2,label,e2_c1,e1_c1,e1_c3,e2_c2\n"
                                 "-7,-1.25,2,1e-3,0.5,3,2.5e2\n"
                                 "6,2,0,4,1,3,5\n");
    splitee_table *t = load_ok(p, NULL);
    expect_basic(t, 1);
    splitee_table_free(t);
}

Test(table_csv, skips_comments_blank_lines_and_crlf)
{
    const char *p = tu_write_str("comments.csv",
                                 "\xEF\xBB\xBF# exported by hand\r\n\r\n"
                                 " label , e1_c1 ,e1_c2,e1_c3,e2_c1,e2_c2,e2_c3\r\n"
                                 "# first sample\r\n"
                                 "2, 0.5 ,-1.25,3,1e-3,2.5e2,-7\r\n"
                                 "   \r\n"
                                 "0,1,2,3,4,5,6"); /* no final newline */
    splitee_table *t = load_ok(p, NULL);
    expect_basic(t, 1);
    splitee_table_free(t);
}

Test(table_csv, labels_file_supplies_labels)
{
    const char *p = tu_write_str("nolabel.csv", "e1_c1,e1_c2,e1_c3,e2_c1,e2_c2,e2_c3\n"
                                                "0.5,-1.25,3,1e-3,2.5e2,-7\n"
                                                "1,2,3,4,5,6\n");
    const char *y = tu_write_str("labels.txt", "# labels\n2\n\n0\n");
    splitee_table *t = load_ok(p, y);
    expect_basic(t, 1);
    splitee_table_free(t);
    t = load_ok(p, NULL);
    expect_basic(t, 0);
    cr_assert_null(splitee_table_labels(t));
    splitee_table_free(t);
}

Test(table_csv, matches_npy_loader)
{
    double z[7 * 3 * 4];
    int32_t y[7];
    size_t shape3[3] = { 7, 3, 4 }, shape1[1] = { 7 };
    splitee_error err;
    char *text = malloc(1 << 16);
    size_t o = (size_t)sprintf(text, "label");
    for (int e = 1; e <= 3; e++)
        for (int c = 1; c <= 4; c++)
            o += (size_t)sprintf(text + o, ",e%d_c%d", e, c);
    for (int s = 0; s < 7; s++) {
        y[s] = (s * 3) % 4;
        o += (size_t)sprintf(text + o, "\n%d", y[s]);
        for (int i = 0; i < 12; i++) {
            z[s * 12 + i] = (s * 12 + i) * 0.1 - 3.7 + 1e-9 * i;
            o += (size_t)sprintf(text + o, ",%.17g", z[s * 12 + i]);
        }
    }
    const char *cp = tu_write_str("same.csv", text);
    free(text);
    const char *lp = tu_path("same.npy"), *yp = tu_path("same-y.npy");
    cr_assert_eq(splitee_npy_write(lp, SPLITEE_DTYPE_F64, 3, shape3, z, &err), 0);
    cr_assert_eq(splitee_npy_write(yp, SPLITEE_DTYPE_I32, 1, shape1, y, &err), 0);
    splitee_table *a = load_ok(cp, NULL), *b;
    cr_assert_eq(splitee_table_load(lp, yp, SPLITEE_LAYOUT_SAMPLES_FIRST, &b, &err), 0);
    cr_assert_eq(memcmp(splitee_table_logits(a), splitee_table_logits(b), sizeof z), 0);
    cr_assert_eq(memcmp(splitee_table_labels(a), splitee_table_labels(b), sizeof y), 0);
    splitee_table_free(a);
    splitee_table_free(b);
}

Test(table_csv, rejects_missing_pair)
{
    expect_csv_fail("e1_c1,e1_c2,e2_c2\n1,2,3\n", SPLITEE_ERR_FORMAT, "line 1",
                    "missing column e2_c1");
    expect_csv_fail("e1_c1,e1_c2,e3_c1,e3_c2\n1,2,3,4\n", SPLITEE_ERR_FORMAT, "line 1",
                    "missing column e2_c1");
    expect_csv_fail("e1_c1,e1_c3,e2_c1,e2_c2,e2_c3\n1,2,3,4,5\n", SPLITEE_ERR_FORMAT,
                    "line 1", "missing column e1_c2");
}

Test(table_csv, rejects_duplicate_pair)
{
    expect_csv_fail("e1_c1,e1_c2,e1_c2\n1,2,3\n", SPLITEE_ERR_FORMAT, "line 1",
                    "duplicate column e1_c2");
    expect_csv_fail("label,e1_c1,e1_c2,label\n1,2,3,1\n", SPLITEE_ERR_FORMAT, "line 1",
                    "duplicate column label");
}

Test(table_csv, rejects_unknown_column)
{
    static const char *const bad[] = { "e1_c1,e1_c2,x\n", "e1_c1,e1_c2,e0_c1\n",
                                       "e1_c1,e1_c2,e1_c\n", "e1_c1,e1c2\n", "e1_c1,,e1_c2\n",
                                       "Label,e1_c1,e1_c2\n", "e1_c1,e1_c2x\n" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_csv_fail(bad[i], SPLITEE_ERR_FORMAT, "line 1", "unknown column");
}

Test(table_csv, rejects_non_numeric_cell)
{
    expect_csv_fail("# c\nlabel,e1_c1,e1_c2\n1,0.5,2\n0,3,abc\n", SPLITEE_ERR_FORMAT,
                    "line 4: column e1_c2", "'abc' is not a number");
    expect_csv_fail("label,e1_c1,e1_c2\n1,,2\n", SPLITEE_ERR_FORMAT, "line 2: column e1_c1",
                    "is not a number");
    expect_csv_fail("e1_c1,e1_c2\n1.5.2,2\n", SPLITEE_ERR_FORMAT, "line 2", "'1.5.2'");
}

Test(table_csv, rejects_wrong_column_count)
{
    expect_csv_fail("label,e1_c1,e1_c2\n1,0.5,2\n0,3\n", SPLITEE_ERR_FORMAT, "line 3",
                    "expected 3 columns, got 2");
    expect_csv_fail("label,e1_c1,e1_c2\n1,0.5,2,7\n", SPLITEE_ERR_FORMAT, "line 2",
                    "expected 3 columns, got 4");
}

Test(table_csv, rejects_label_column_and_labels_file)
{
    const char *p = tu_write_str("both.csv", basic);
    const char *y = tu_write_str("both.txt", "2\n0\n");
    expect_fail(p, y, SPLITEE_ERR_ARG, p, "label column", "labels file");
}

Test(table_csv, rejects_labels_file_with_wrong_count)
{
    const char *p = tu_write_str("nolab.csv", "e1_c1,e1_c2\n1,2\n3,4\n5,6\n");
    const char *y = tu_write_str("short.txt", "1\n0\n");
    expect_fail(p, y, SPLITEE_ERR_SHAPE, y, "2 labels for the 3 samples", p);
    y = tu_write_str("long.txt", "1\n0\n1\n1\n");
    expect_fail(p, y, SPLITEE_ERR_SHAPE, y, "4 labels for the 3 samples", p);
    y = tu_write_str("empty.txt", "");
    expect_fail(p, y, SPLITEE_ERR_SHAPE, y, "0 labels", NULL);
}

Test(table_csv, rejects_bad_labels_file_values)
{
    const char *p = tu_write_str("nolab.csv", "e1_c1,e1_c2\n1,2\n3,4\n5,6\n");
    const char *y = tu_write_str("bad.txt", "1\n\nx\n0\n");
    expect_fail(p, y, SPLITEE_ERR_FORMAT, y, "line 3", "'x' is not an integer");
    y = tu_write_str("range.txt", "1\n0\n2\n");
    expect_fail(p, y, SPLITEE_ERR_VALUE, y, "line 3: label of sample 2 (0-based) is 2",
                "[0, 2)");
    const char *none = tu_path("none.txt");
    expect_fail(p, none, SPLITEE_ERR_IO, none, "cannot open", NULL);
}

Test(table_csv, rejects_non_finite_logits)
{
    expect_csv_fail("e1_c1,e1_c2\n1,2\n3,nan\n", SPLITEE_ERR_VALUE, "line 3",
                    "logit e1_c2 of sample 1 (0-based) is not finite (nan)");
    expect_csv_fail("e1_c1,e1_c2\n-inf,2\n", SPLITEE_ERR_VALUE, "line 2", "not finite (-inf)");
    expect_csv_fail("e1_c1,e1_c2\n1e999,2\n", SPLITEE_ERR_VALUE, "line 2", "not finite (1e999)");
}

Test(table_csv, rejects_empty_csv)
{
    expect_csv_fail("", SPLITEE_ERR_FORMAT, "empty file", NULL);
    expect_csv_fail("# only a comment\n\n  \n", SPLITEE_ERR_FORMAT, "empty file", NULL);
}

Test(table_csv, rejects_header_only_csv)
{
    expect_csv_fail("label,e1_c1,e1_c2\n", SPLITEE_ERR_SHAPE, "empty table", "no data rows");
    expect_csv_fail("label,e1_c1,e1_c2\n# nothing\n\n", SPLITEE_ERR_SHAPE, "no data rows", NULL);
}

Test(table_csv, rejects_bad_label_cells)
{
    expect_csv_fail("label,e1_c1,e1_c2\n1,0,0\n2,0,0\n", SPLITEE_ERR_VALUE,
                    "line 3: label of sample 1 (0-based) is 2", "[0, 2)");
    expect_csv_fail("label,e1_c1,e1_c2\n-1,0,0\n", SPLITEE_ERR_VALUE, "line 2", "is -1");
    expect_csv_fail("label,e1_c1,e1_c2\n1.0,0,0\n", SPLITEE_ERR_FORMAT, "line 2",
                    "label '1.0' is not an integer");
}

Test(table_csv, rejects_bad_shapes)
{
    expect_csv_fail("label,e1_c1,e2_c1\n0,1,2\n", SPLITEE_ERR_SHAPE, "line 1",
                    "at least 2 classes");
    expect_csv_fail("label\n0\n", SPLITEE_ERR_FORMAT, "line 1", "no e<exit>_c<class> columns");
    char header[2048];
    size_t o = 0;
    for (int e = 1; e <= SPLITEE_MAX_EXITS + 1; e++)
        o += (size_t)sprintf(header + o, "%se%d_c1,e%d_c2", e > 1 ? "," : "", e, e);
    header[o++] = '\n';
    header[o] = '\0';
    expect_csv_fail(header, SPLITEE_ERR_SHAPE, "65 exits", "64 supported");
}

Test(table_csv, rejects_missing_or_binary_file)
{
    const char *none = tu_path("none.csv");
    expect_fail(none, NULL, SPLITEE_ERR_IO, none, "cannot open", NULL);
    const char *bin = tu_write("bin.csv", "e1_c1,e1_c2\n1,\0\n", 16);
    expect_fail(bin, NULL, SPLITEE_ERR_FORMAT, bin, "NUL", NULL);
    splitee_table *t;
    splitee_error err;
    cr_assert_eq(splitee_table_load_csv(NULL, NULL, &t, &err), SPLITEE_ERR_ARG);
    cr_assert_eq(splitee_table_load_csv(none, NULL, NULL, &err), SPLITEE_ERR_ARG);
}

Test(table_csv, loads_large_table)
{
    /* more rows than the initial buffer, to exercise growth */
    size_t cap = 3000 * 16 + 32, o = 0;
    char *text = malloc(cap);
    o += (size_t)sprintf(text, "e1_c2,e1_c1\n");
    for (int s = 0; s < 3000; s++)
        o += (size_t)sprintf(text + o, "%d,%d\n", s, -s);
    const char *p = tu_write_str("large.csv", text);
    free(text);
    splitee_table *t = load_ok(p, NULL);
    cr_assert_eq(splitee_table_samples(t), 3000);
    cr_assert_eq(splitee_table_logits(t)[2 * 2999], -2999.0);
    cr_assert_eq(splitee_table_logits(t)[2 * 2999 + 1], 2999.0);
    splitee_table_free(t);
}
