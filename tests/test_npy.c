/* test_npy.c -- Criterion tests for the .npy reader and writer (npy.h):
 * round trips for every dtype, header versions 1.0/2.0/3.0, and one test per
 * kind of bad input, each checking the status and that the one-line message
 * names the file and the problem. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "splitee/npy.h"
#include "testutil.h"

/* An .npy image with preamble version major.0 and the given raw dict text
 * (padded with spaces and a '\n'), then `dlen` bytes of data. */
static unsigned char *raw_image(int major, const char *dict, const void *data, size_t dlen,
                                size_t *len)
{
    size_t pre = major == 1 ? 10 : 12, dl = strlen(dict);
    size_t hlen = dl + 1 + (64 - (pre + dl + 1) % 64) % 64;
    *len = pre + hlen + dlen;
    unsigned char *b = malloc(*len);
    memcpy(b, "\x93NUMPY", 6);
    b[6] = (unsigned char)major;
    b[7] = 0;
    for (size_t i = 0; i < pre - 8; i++)
        b[8 + i] = (unsigned char)(hlen >> (8 * i));
    memset(b + pre, ' ', hlen);
    memcpy(b + pre, dict, dl);
    b[pre + hlen - 1] = '\n';
    if (dlen)
        memcpy(b + pre + hlen, data, dlen);
    return b;
}

/* Writes raw_image(1, dict, data, dlen) to `name`; returns its path. */
static const char *write_dict(const char *name, const char *dict, const void *data, size_t dlen)
{
    size_t len;
    unsigned char *img = raw_image(1, dict, data, dlen, &len);
    const char *p = tu_write(name, img, len);
    free(img);
    return p;
}

/* Writes tu_npy_image(...) to `name`; returns its path. */
static const char *write_image(const char *name, const char *descr, int fortran, int ndim,
                               const size_t *shape, const void *data, size_t dlen)
{
    size_t len;
    unsigned char *img = tu_npy_image(descr, fortran, ndim, shape, data, dlen, &len);
    const char *p = tu_write(name, img, len);
    free(img);
    return p;
}

/* Reading `path` fails with `status`, a one-line "<path>: ..." message
 * containing `word`, and an empty array. */
static void expect_fail(const char *path, int status, const char *word)
{
    splitee_array a;
    splitee_error err = { 0, "" };
    int rc = splitee_npy_read(path, &a, &err);
    cr_assert_eq(rc, status, "status %d, expected %d (%s)", rc, status, err.msg);
    cr_assert_eq(err.status, status);
    size_t n = strlen(path);
    cr_assert(strncmp(err.msg, path, n) == 0 && err.msg[n] == ':', "no path in: %s", err.msg);
    cr_assert(strstr(err.msg, word), "'%s' not in: %s", word, err.msg);
    cr_assert_null(strchr(err.msg, '\n'));
    cr_assert_null(a.data);
    cr_assert_eq(a.ndim, 0);
}

static const float f6[6] = { 1.5f, -2.25f, 3.0f, 1e-30f, -1e30f, 0.0f };

Test(npy, roundtrip_float32)
{
    size_t shape[3] = { 1, 2, 3 };
    splitee_error err;
    splitee_array a;
    const char *p = tu_path("f32.npy");
    cr_assert_eq(splitee_npy_write(p, SPLITEE_DTYPE_F32, 3, shape, f6, &err), 0, "%s", err.msg);
    cr_assert_eq(splitee_npy_read(p, &a, &err), 0, "%s", err.msg);
    cr_assert_eq(a.dtype, SPLITEE_DTYPE_F32);
    cr_assert_eq(a.ndim, 3);
    cr_assert_eq(a.count, 6);
    cr_assert(a.shape[0] == 1 && a.shape[1] == 2 && a.shape[2] == 3);
    cr_assert_eq(memcmp(a.data, f6, sizeof f6), 0);
    splitee_array_free(&a);
}

Test(npy, roundtrip_float64)
{
    const double d[4] = { 0.1, -1e300, 4.9e-324, 123456789.125 };
    size_t shape[2] = { 2, 2 };
    splitee_error err;
    splitee_array a;
    const char *p = tu_path("f64.npy");
    cr_assert_eq(splitee_npy_write(p, SPLITEE_DTYPE_F64, 2, shape, d, &err), 0, "%s", err.msg);
    cr_assert_eq(splitee_npy_read(p, &a, &err), 0, "%s", err.msg);
    cr_assert_eq(a.dtype, SPLITEE_DTYPE_F64);
    cr_assert_eq(a.ndim, 2);
    cr_assert_eq(memcmp(a.data, d, sizeof d), 0);
    splitee_array_free(&a);
}

Test(npy, roundtrip_integer_dtypes)
{
    const int32_t i32[3] = { -7, 0, 2147483647 };
    const int64_t i64[3] = { -1, 1LL << 40, 3 };
    const uint8_t u8[3] = { 0, 200, 255 };
    const int8_t i8[3] = { -128, 0, 127 };
    const void *src[4] = { i32, i64, u8, i8 };
    const splitee_dtype types[4] = { SPLITEE_DTYPE_I32, SPLITEE_DTYPE_I64, SPLITEE_DTYPE_U8,
                                     SPLITEE_DTYPE_I8 };
    size_t shape[1] = { 3 };
    for (int t = 0; t < 4; t++) {
        splitee_error err;
        splitee_array a;
        const char *p = tu_path("int.npy");
        cr_assert_eq(splitee_npy_write(p, types[t], 1, shape, src[t], &err), 0, "%s", err.msg);
        cr_assert_eq(splitee_npy_read(p, &a, &err), 0, "%s", err.msg);
        cr_assert_eq(a.dtype, types[t]);
        cr_assert_eq(a.ndim, 1);
        cr_assert_eq(a.count, 3);
        cr_assert_eq(memcmp(a.data, src[t], 3 * splitee_dtype_size(types[t])), 0);
        splitee_array_free(&a);
    }
}

Test(npy, roundtrip_scalar_and_empty)
{
    const double x = 2.5;
    size_t shape[2] = { 0, 4 };
    splitee_error err;
    splitee_array a;
    const char *p = tu_path("scalar.npy");
    cr_assert_eq(splitee_npy_write(p, SPLITEE_DTYPE_F64, 0, NULL, &x, &err), 0, "%s", err.msg);
    cr_assert_eq(splitee_npy_read(p, &a, &err), 0, "%s", err.msg);
    cr_assert(a.ndim == 0 && a.count == 1 && *(double *)a.data == 2.5);
    splitee_array_free(&a);
    p = tu_path("empty.npy");
    cr_assert_eq(splitee_npy_write(p, SPLITEE_DTYPE_F32, 2, shape, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(splitee_npy_read(p, &a, &err), 0, "%s", err.msg);
    cr_assert(a.ndim == 2 && a.count == 0 && a.shape[0] == 0 && a.shape[1] == 4);
    splitee_array_free(&a);
}

Test(npy, writes_aligned_v1_header)
{
    size_t shape[1] = { 6 }, len;
    splitee_error err;
    const char *p = tu_path("hdr.npy");
    cr_assert_eq(splitee_npy_write(p, SPLITEE_DTYPE_F32, 1, shape, f6, &err), 0, "%s", err.msg);
    unsigned char *b = (unsigned char *)tu_read(p, &len);
    cr_assert_not_null(b);
    cr_assert_eq(memcmp(b, "\x93NUMPY\x01\x00", 8), 0);
    size_t hlen = (size_t)b[8] | (size_t)b[9] << 8;
    cr_assert_eq((10 + hlen) % 64, 0);
    cr_assert_eq(b[10 + hlen - 1], '\n');
    cr_assert_eq(len, 10 + hlen + sizeof f6);
    cr_assert_not_null(strstr((char *)b + 10, "{'descr': '<f4', 'fortran_order': False, "
                                              "'shape': (6,), }"));
    free(b);
}

Test(npy, reads_numpy_style_image)
{
    size_t shape[2] = { 3, 2 };
    splitee_array a;
    splitee_error err;
    const char *p = write_image("np.npy", "<f4", 0, 2, shape, f6, sizeof f6);
    cr_assert_eq(splitee_npy_read(p, &a, &err), 0, "%s", err.msg);
    cr_assert(a.shape[0] == 3 && a.shape[1] == 2 && a.dtype == SPLITEE_DTYPE_F32);
    cr_assert_eq(memcmp(a.data, f6, sizeof f6), 0);
    splitee_array_free(&a);
}

Test(npy, accepts_v2_and_v3_headers)
{
    for (int major = 2; major <= 3; major++) {
        size_t len;
        unsigned char *img = raw_image(major, "{'descr': '<f4', 'fortran_order': False, "
                                              "'shape': (2, 3), }", f6, sizeof f6, &len);
        const char *p = tu_write("v2.npy", img, len);
        free(img);
        splitee_array a;
        splitee_error err;
        cr_assert_eq(splitee_npy_read(p, &a, &err), 0, "v%d: %s", major, err.msg);
        cr_assert(a.ndim == 2 && a.shape[0] == 2 && a.shape[1] == 3);
        cr_assert_eq(memcmp(a.data, f6, sizeof f6), 0);
        splitee_array_free(&a);
    }
}

Test(npy, accepts_header_variants)
{
    /* double quotes, reordered keys, Python 2 longs, no trailing comma */
    const char *p = write_dict("var.npy", "{\"shape\": (3L, 2L), \"fortran_order\": False,"
                                          "\"descr\": \"<f4\"}", f6, sizeof f6);
    splitee_array a;
    splitee_error err;
    cr_assert_eq(splitee_npy_read(p, &a, &err), 0, "%s", err.msg);
    cr_assert(a.ndim == 2 && a.shape[0] == 3 && a.shape[1] == 2);
    splitee_array_free(&a);
}

Test(npy, accepts_byte_order_free_bytes)
{
    const uint8_t u[4] = { 1, 2, 3, 4 };
    const char *descr[3] = { "|u1", "<u1", "|i1" };
    size_t shape[1] = { 4 };
    for (int i = 0; i < 3; i++) {
        splitee_array a;
        splitee_error err;
        const char *p = write_image("u1.npy", descr[i], 0, 1, shape, u, 4);
        cr_assert_eq(splitee_npy_read(p, &a, &err), 0, "%s: %s", descr[i], err.msg);
        cr_assert_eq(a.dtype, i == 2 ? SPLITEE_DTYPE_I8 : SPLITEE_DTYPE_U8);
        splitee_array_free(&a);
    }
}

Test(npy, rejects_missing_file)
{
    expect_fail(tu_path("does-not-exist.npy"), SPLITEE_ERR_IO, "cannot open");
}

Test(npy, rejects_directory)
{
    const char *p = tu_path("adir.npy");
    cr_assert_eq(mkdir(p, 0700), 0);
    expect_fail(p, SPLITEE_ERR_IO, "not a regular file");
}

Test(npy, rejects_bad_magic)
{
    size_t shape[1] = { 6 }, len;
    unsigned char *img = tu_npy_image("<f4", 0, 1, shape, f6, sizeof f6, &len);
    img[1] = 'M';
    const char *p = tu_write("magic.npy", img, len);
    free(img);
    expect_fail(p, SPLITEE_ERR_FORMAT, "bad magic");
    expect_fail(tu_write_str("text.npy", "a,b\n1,2\n"), SPLITEE_ERR_FORMAT, "bad magic");
    expect_fail(tu_write_str("empty.npy", ""), SPLITEE_ERR_FORMAT, "bad magic");
}

Test(npy, rejects_truncated_preamble)
{
    expect_fail(tu_write("short.npy", "\x93NUMPY\x01", 7), SPLITEE_ERR_FORMAT, "truncated");
    expect_fail(tu_write("short2.npy", "\x93NUMPY\x02\x00\x10", 9), SPLITEE_ERR_FORMAT,
                "truncated");
}

Test(npy, rejects_unsupported_version)
{
    size_t shape[1] = { 6 }, len;
    unsigned char *img = tu_npy_image("<f4", 0, 1, shape, f6, sizeof f6, &len);
    const unsigned char versions[3][2] = { { 4, 0 }, { 1, 1 }, { 0, 0 } };
    for (int v = 0; v < 3; v++) {
        img[6] = versions[v][0];
        img[7] = versions[v][1];
        expect_fail(tu_write("ver.npy", img, len), SPLITEE_ERR_UNSUPPORTED, "version");
    }
    free(img);
}

Test(npy, rejects_header_length_past_eof)
{
    size_t shape[1] = { 6 }, len;
    unsigned char *img = tu_npy_image("<f4", 0, 1, shape, f6, sizeof f6, &len);
    img[8] = 0x00;
    img[9] = 0x20; /* 8192 bytes of header in a ~100-byte file */
    const char *p = tu_write("hlen.npy", img, len);
    free(img);
    expect_fail(p, SPLITEE_ERR_FORMAT, "header length 8192 runs past the end");
}

Test(npy, rejects_missing_key)
{
    const char *p = write_dict("nokey.npy", "{'descr': '<f4', 'fortran_order': False, }",
                               f6, sizeof f6);
    expect_fail(p, SPLITEE_ERR_FORMAT, "missing key 'shape'");
    p = write_dict("nokey2.npy", "{'shape': (6,), 'fortran_order': False}", f6, sizeof f6);
    expect_fail(p, SPLITEE_ERR_FORMAT, "missing key 'descr'");
}

Test(npy, rejects_malformed_header_syntax)
{
    static const char *const bad[] = {
        "{'descr': '<f4' 'fortran_order': False, 'shape': (6,), }",   /* missing comma */
        "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), ",   /* no closing brace */
        "{'descr': '<f4', 'fortran_order': False, 'shape': (6,)} x",  /* junk after dict */
        "('descr', '<f4')",                                           /* not a dict */
        "{'descr': '<f4', 'fortran_order': 0, 'shape': (6,)}",        /* not a bool */
        "{'descr': '<f4', 'fortran_order': False, 'shape': (-6,)}",   /* negative dim */
        "{'descr': '<f4', 'fortran_order': False, 'shape': (6; )}",   /* bad separator */
        "{'descr': '<f4', 'fortran_order': False, 'shape': 6}",       /* not a tuple */
        "{'descr: '<f4', 'fortran_order': False, 'shape': (6,)}",     /* quote mismatch */
        "{'descr' '<f4', 'fortran_order': False, 'shape': (6,)}",     /* no colon */
        "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'shape': (6,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'extra': 1}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_fail(write_dict("syntax.npy", bad[i], f6, sizeof f6), SPLITEE_ERR_FORMAT,
                    "malformed .npy header");
}

Test(npy, rejects_unsupported_dtype)
{
    size_t shape[1] = { 12 };
    static const char *const bad[] = { "<f2", "<c8", "<u4", "|b1", "<U3", "|f4", "=f4" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *p = write_image("dtype.npy", bad[i], 0, 1, shape, f6, sizeof f6);
        expect_fail(p, SPLITEE_ERR_UNSUPPORTED, bad[i]);
    }
}

Test(npy, rejects_big_endian)
{
    size_t shape[1] = { 6 };
    const char *p = write_image("be.npy", ">f4", 0, 1, shape, f6, sizeof f6);
    expect_fail(p, SPLITEE_ERR_UNSUPPORTED, "big-endian dtype '>f4'");
}

Test(npy, rejects_structured_dtype)
{
    const char *p = write_dict("rec.npy", "{'descr': [('a', '<f4')], 'fortran_order': False, "
                                          "'shape': (6,), }", f6, sizeof f6);
    expect_fail(p, SPLITEE_ERR_UNSUPPORTED, "structured");
}

Test(npy, rejects_fortran_order)
{
    size_t shape[2] = { 2, 3 };
    const char *p = write_image("fortran.npy", "<f4", 1, 2, shape, f6, sizeof f6);
    expect_fail(p, SPLITEE_ERR_UNSUPPORTED, "Fortran");
}

Test(npy, rejects_truncated_data)
{
    size_t shape[2] = { 2, 3 };
    const char *p = write_image("trunc.npy", "<f4", 0, 2, shape, f6, sizeof f6 - 3);
    expect_fail(p, SPLITEE_ERR_FORMAT, "truncated data (expected 24 bytes, got 21)");
}

Test(npy, rejects_trailing_bytes)
{
    float g[7] = { 0 };
    size_t shape[2] = { 2, 3 };
    const char *p = write_image("trail.npy", "<f4", 0, 2, shape, g, sizeof g);
    expect_fail(p, SPLITEE_ERR_FORMAT, "4 trailing bytes");
}

Test(npy, rejects_too_many_dims)
{
    size_t shape[9] = { 1, 1, 1, 1, 1, 1, 1, 1, 6 };
    const char *p = write_image("dims.npy", "<f4", 0, 9, shape, f6, sizeof f6);
    expect_fail(p, SPLITEE_ERR_UNSUPPORTED, "more than 8 dimensions");
}

Test(npy, rejects_overflowing_sizes)
{
    size_t big = (size_t)1 << 40;
    size_t count_overflow[3] = { big, big, big };   /* element count overflows */
    size_t byte_overflow[2] = { (size_t)1 << 62, 2 }; /* count fits, bytes do not */
    const char *p = write_image("ovf.npy", "<f4", 0, 3, count_overflow, f6, sizeof f6);
    expect_fail(p, SPLITEE_ERR_OVERFLOW, "overflows");
    p = write_image("ovf2.npy", "<f8", 0, 2, byte_overflow, f6, sizeof f6);
    expect_fail(p, SPLITEE_ERR_OVERFLOW, "overflows");
    p = write_dict("ovf3.npy", "{'descr': '<f4', 'fortran_order': False, "
                               "'shape': (123456789012345678901234567890,), }", f6, sizeof f6);
    expect_fail(p, SPLITEE_ERR_OVERFLOW, "does not fit");
}

Test(npy, write_replaces_existing_file)
{
    size_t one[1] = { 1 }, six[1] = { 6 };
    splitee_error err;
    splitee_array a;
    const char *p = tu_path("replace.npy");
    cr_assert_eq(splitee_npy_write(p, SPLITEE_DTYPE_F32, 1, six, f6, &err), 0);
    cr_assert_eq(splitee_npy_write(p, SPLITEE_DTYPE_F32, 1, one, f6 + 1, &err), 0);
    cr_assert_eq(splitee_npy_read(p, &a, &err), 0, "%s", err.msg);
    cr_assert(a.count == 1 && ((float *)a.data)[0] == -2.25f);
    splitee_array_free(&a);
}

Test(npy, write_failure_leaves_no_partial_file)
{
    size_t shape[1] = { 6 };
    splitee_error err = { 0, "" };
    const char *target = tu_path("isdir");
    cr_assert_eq(mkdir(target, 0700), 0);
    cr_assert_eq(splitee_npy_write(target, SPLITEE_DTYPE_F32, 1, shape, f6, &err), SPLITEE_ERR_IO);
    cr_assert(strstr(err.msg, target) && strstr(err.msg, "cannot write"), "%s", err.msg);
    DIR *d = opendir(tu_tmpdir());
    cr_assert_not_null(d);
    struct dirent *e;
    while ((e = readdir(d)))
        cr_assert_null(strstr(e->d_name, ".tmp"), "left behind: %s", e->d_name);
    closedir(d);
    const char *nodir = tu_path("no-such-dir/x.npy");
    cr_assert_eq(splitee_npy_write(nodir, SPLITEE_DTYPE_F32, 1, shape, f6, &err), SPLITEE_ERR_IO);
    cr_assert_not_null(strstr(err.msg, nodir));
    cr_assert(!tu_exists(nodir));
}

Test(npy, write_rejects_bad_arguments)
{
    size_t shape[9] = { 1, 1, 1, 1, 1, 1, 1, 1, 1 };
    size_t huge[2] = { SIZE_MAX / 2, 3 };
    splitee_error err;
    const char *p = tu_path("args.npy");
    cr_assert_eq(splitee_npy_write(p, (splitee_dtype)42, 1, shape, f6, &err), SPLITEE_ERR_ARG);
    cr_assert_not_null(strstr(err.msg, p));
    cr_assert_eq(splitee_npy_write(p, SPLITEE_DTYPE_F32, 9, shape, f6, &err), SPLITEE_ERR_ARG);
    cr_assert_eq(splitee_npy_write(p, SPLITEE_DTYPE_F32, 2, NULL, f6, &err), SPLITEE_ERR_ARG);
    cr_assert_eq(splitee_npy_write(p, SPLITEE_DTYPE_F32, 1, shape, NULL, &err), SPLITEE_ERR_ARG);
    cr_assert_eq(splitee_npy_write(p, SPLITEE_DTYPE_F32, 2, huge, f6, &err), SPLITEE_ERR_OVERFLOW);
    cr_assert(!tu_exists(p));
}

Test(npy, dtype_size_and_release)
{
    cr_assert_eq(splitee_dtype_size(SPLITEE_DTYPE_F32), 4);
    cr_assert_eq(splitee_dtype_size(SPLITEE_DTYPE_F64), 8);
    cr_assert_eq(splitee_dtype_size(SPLITEE_DTYPE_I64), 8);
    cr_assert_eq(splitee_dtype_size(SPLITEE_DTYPE_U8), 1);
    cr_assert_eq(splitee_dtype_size((splitee_dtype)99), 0);
    splitee_array a;
    memset(&a, 0, sizeof a);
    splitee_array_free(&a);
    splitee_array_free(&a);
    splitee_array_free(NULL);
}

Test(npy, error_pointer_may_be_null)
{
    splitee_array a;
    cr_assert_eq(splitee_npy_read(tu_path("nothing.npy"), &a, NULL), SPLITEE_ERR_IO);
    cr_assert_null(a.data);
}
