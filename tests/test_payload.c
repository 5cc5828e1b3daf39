/* test_payload.c -- Criterion tests for activation payloads (payload.h): the
 * documented wire layout and sizes, round trips of every encoding, the
 * binary16 conversion against a double-precision reference (normal,
 * subnormal, overflow, ties), and one test per kind of malformed payload. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "splitee/payload.h"
#include "testutil.h"

#define T 16
#define D 64
#define N (T * D)

/* A deterministic activation with a spread of magnitudes and signs. */
static void fill(float *x, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        double u = (double)(seed >> 8) / 16777216.0;              /* [0, 1) */
        x[i] = (float)((u - 0.5) * 8.0 * (1.0 + (double)(i % 7)));  /* |x| < 28 */
    }
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* rc is `status` and err.msg starts with "payload:" and contains `word`. */
static void expect(int rc, int status, const splitee_error *err, const char *word)
{
    cr_assert_eq(rc, status, "got %d (%s)", rc, err->msg);
    cr_assert_eq(strncmp(err->msg, "payload:", 8), 0, "%s", err->msg);
    cr_assert_not_null(strstr(err->msg, word), "'%s' not in: %s", word, err->msg);
}

/* ---- sizes, names, layout --------------------------------------------------- */

Test(payload, sizes_per_encoding)
{
    cr_assert_eq(splitee_payload_size(SPLITEE_PAYLOAD_ENCODING_F32, T, D), 24 + 4 * N);
    cr_assert_eq(splitee_payload_size(SPLITEE_PAYLOAD_ENCODING_F16, T, D), 24 + 2 * N);
    cr_assert_eq(splitee_payload_size(SPLITEE_PAYLOAD_ENCODING_I8, T, D), 24 + 4 + N);
    cr_assert_eq(splitee_payload_size(SPLITEE_PAYLOAD_ENCODING_F32, T, D), 4120);
    cr_assert_eq(splitee_payload_size(SPLITEE_PAYLOAD_ENCODING_F16, T, D), 2072);
    cr_assert_eq(splitee_payload_size(SPLITEE_PAYLOAD_ENCODING_I8, T, D), 1052);
    cr_assert_eq(splitee_payload_size((splitee_payload_encoding)3, T, D), 0);
    cr_assert_eq(splitee_payload_size(SPLITEE_PAYLOAD_ENCODING_F32, 0, D), 0);
    cr_assert_eq(splitee_payload_size(SPLITEE_PAYLOAD_ENCODING_F32, T, 0), 0);
    cr_assert_eq(splitee_payload_size(SPLITEE_PAYLOAD_ENCODING_F32, 65536, 16384), 0); /* 2^32 bytes */
    cr_assert_eq(splitee_payload_size(SPLITEE_PAYLOAD_ENCODING_F32, SIZE_MAX / 2, 4), 0);
}

Test(payload, encoding_names)
{
    splitee_payload_encoding e;
    splitee_error err = { 0, "" };
    cr_assert_str_eq(splitee_payload_encoding_name(SPLITEE_PAYLOAD_ENCODING_F32), "f32");
    cr_assert_str_eq(splitee_payload_encoding_name(SPLITEE_PAYLOAD_ENCODING_F16), "f16");
    cr_assert_str_eq(splitee_payload_encoding_name(SPLITEE_PAYLOAD_ENCODING_I8), "int8");
    cr_assert_null(splitee_payload_encoding_name((splitee_payload_encoding)7));
    cr_assert_eq(splitee_payload_encoding_parse("float16", &e, &err), 0);
    cr_assert_eq(e, SPLITEE_PAYLOAD_ENCODING_F16);
    cr_assert_eq(splitee_payload_encoding_parse("INT8", &e, &err), 0);
    cr_assert_eq(e, SPLITEE_PAYLOAD_ENCODING_I8);
    cr_assert_eq(splitee_payload_encoding_parse("f32", &e, &err), 0);
    cr_assert_eq(e, SPLITEE_PAYLOAD_ENCODING_F32);
    expect(splitee_payload_encoding_parse("bf16", &e, &err), SPLITEE_ERR_ARG, &err, "'bf16'");
    expect(splitee_payload_encoding_parse(NULL, &e, &err), SPLITEE_ERR_ARG, &err, "unknown");
}

Test(payload, header_layout_is_as_documented)
{
    float x[N];
    unsigned char buf[24 + 4 * N];
    size_t n = 0;
    splitee_error err = { 0, "" };
    fill(x, N, 1);
    cr_assert_eq(splitee_payload_encode(SPLITEE_PAYLOAD_ENCODING_F16, 7, x, T, D, buf, sizeof buf, &n, &err),
                 0, "%s", err.msg);
    cr_assert_eq(n, 2072);
    cr_assert_eq(memcmp(buf, "SPLA", 4), 0);
    cr_assert(buf[4] == 1 && buf[5] == 0);           /* version 1, LE */
    cr_assert_eq(buf[6], SPLITEE_PAYLOAD_ENCODING_F16);
    cr_assert_eq(buf[7], 0);
    cr_assert_eq(le32(buf + 8), 7);
    cr_assert_eq(le32(buf + 12), T);
    cr_assert_eq(le32(buf + 16), D);
    cr_assert_eq(le32(buf + 20), 2 * N);
    uint16_t h0 = (uint16_t)(buf[24] | buf[25] << 8);
    cr_assert_eq(h0, splitee_f32_to_f16(x[0]));
    splitee_payload_info info;
    cr_assert_eq(splitee_payload_peek(buf, n, &info, &err), 0, "%s", err.msg);
    cr_assert(info.encoding == SPLITEE_PAYLOAD_ENCODING_F16 && info.layer == 7 && info.tokens == T &&
              info.dim == D && info.size == n && info.scale == 0.0f);
}

/* ---- round trips ------------------------------------------------------------ */

Test(payload, f32_round_trip_is_exact)
{
    float x[N], y[N];
    unsigned char buf[24 + 4 * N];
    size_t n;
    splitee_error err = { 0, "" };
    fill(x, N, 2);
    x[3] = -0.0f;
    x[4] = 1e-45f;      /* subnormal */
    x[5] = 3.4e38f;
    cr_assert_eq(splitee_payload_encode(SPLITEE_PAYLOAD_ENCODING_F32, 3, x, T, D, buf, sizeof buf, &n, &err), 0);
    cr_assert_eq(n, sizeof buf);
    splitee_payload_info info;
    cr_assert_eq(splitee_payload_decode(buf, n, y, N, &info, &err), 0, "%s", err.msg);
    cr_assert_eq(memcmp(x, y, sizeof x), 0);
    cr_assert_eq(info.layer, 3);
    uint32_t bits;
    memcpy(&bits, &x[0], 4);
    cr_assert_eq(le32(buf + 24), bits);
}

Test(payload, f16_round_trip_rounds_each_value)
{
    float x[N], y[N];
    unsigned char buf[24 + 2 * N];
    size_t n;
    splitee_error err = { 0, "" };
    fill(x, N, 3);
    cr_assert_eq(splitee_payload_encode(SPLITEE_PAYLOAD_ENCODING_F16, 0, x, T, D, buf, sizeof buf, &n, &err), 0);
    cr_assert_eq(splitee_payload_decode(buf, n, y, N, NULL, &err), 0, "%s", err.msg);
    for (size_t i = 0; i < N; i++) {
        cr_assert_eq(y[i], splitee_f16_to_f32(splitee_f32_to_f16(x[i])));
        cr_assert(fabsf(y[i] - x[i]) <= fabsf(x[i]) * 0x1p-11f, "%g -> %g", x[i], y[i]);
    }
}

Test(payload, int8_round_trip_within_half_a_step)
{
    float x[N], y[N];
    unsigned char buf[28 + N];
    size_t n;
    splitee_error err = { 0, "" };
    fill(x, N, 4);
    float maxabs = 0.0f;
    for (size_t i = 0; i < N; i++)
        maxabs = fabsf(x[i]) > maxabs ? fabsf(x[i]) : maxabs;
    cr_assert_eq(splitee_payload_encode(SPLITEE_PAYLOAD_ENCODING_I8, 12, x, T, D, buf, sizeof buf, &n, &err), 0);
    cr_assert_eq(n, 28 + N);
    splitee_payload_info info;
    cr_assert_eq(splitee_payload_decode(buf, n, y, N, &info, &err), 0, "%s", err.msg);
    float scale = maxabs / 127.0f;
    cr_assert_eq(info.scale, scale);
    int saw_max = 0;
    for (size_t i = 0; i < N; i++) {
        int8_t q = (int8_t)buf[28 + i];
        cr_assert(q != -128);
        cr_assert_eq(q, (int8_t)roundf(x[i] / scale));
        cr_assert_eq(y[i], (float)q * scale);
        cr_assert(fabsf(y[i] - x[i]) <= 0.5f * scale * 1.0001f, "%g -> %g", x[i], y[i]);
        saw_max |= q == 127 || q == -127;
    }
    cr_assert(saw_max);
}

Test(payload, int8_rounds_half_away_from_zero_and_handles_zeros)
{
    /* scale = 127/127 = 1: values map to round(x) */
    float x[8] = { 127.0f, 0.5f, -0.5f, 1.5f, 2.5f, -2.5f, 0.49f, -127.0f }, y[8];
    const int8_t want[8] = { 127, 1, -1, 2, 3, -3, 0, -127 };
    unsigned char buf[28 + 8];
    size_t n;
    splitee_error err = { 0, "" };
    cr_assert_eq(splitee_payload_encode(SPLITEE_PAYLOAD_ENCODING_I8, 1, x, 2, 4, buf, sizeof buf, &n, &err), 0);
    for (int i = 0; i < 8; i++)
        cr_assert_eq((int8_t)buf[28 + i], want[i], "x=%g", x[i]);
    float z[8] = { 0 };
    cr_assert_eq(splitee_payload_encode(SPLITEE_PAYLOAD_ENCODING_I8, 1, z, 2, 4, buf, sizeof buf, &n, &err), 0);
    splitee_payload_info info;
    cr_assert_eq(splitee_payload_decode(buf, n, y, 8, &info, &err), 0);
    cr_assert_eq(info.scale, 0.0f);
    for (int i = 0; i < 8; i++)
        cr_assert_eq(y[i], 0.0f);
}

/* ---- binary16 --------------------------------------------------------------- */

/* Exact value of half `h` from its fields (double). */
static double half_value(uint16_t h)
{
    int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(1024 + m, e - 25);
    return s ? -v : v;
}

/* Reference float -> half value: round |x| to a multiple of the half
 * quantum of its binade (2^(E-10), E >= -14) with ties to even, in double
 * (exact: x has 24 significant bits); overflow past 65520 gives inf. */
static double ref_round(float x)
{
    double a = fabs((double)x);
    if (isnan(x))
        return NAN;
    int e;
    frexp(a, &e);                  /* a = f 2^e, f in [0.5, 1): binade 2^(e-1) */
    int E = e - 1 < -14 ? -14 : e - 1;
    double q = ldexp(1.0, E - 10);
    double r = nearbyint(a / q) * q;   /* default rounding: ties to even */
    if (a == 0.0)
        r = 0.0;
    if (r >= 65536.0)
        r = INFINITY;
    return signbit(x) ? -r : r;
}

static void check_f16(float x)
{
    uint16_t h = splitee_f32_to_f16(x);
    double want = ref_round(x), got = half_value(h);
    if (isnan(want)) {
        cr_assert(isnan(got) && (h & 0x200), "NaN -> 0x%04x", h);
        return;
    }
    cr_assert(got == want && !!signbit(got) == !!signbit(want), "%a -> 0x%04x (%a), want %a",
              (double)x, h, got, want);
    cr_assert_eq(splitee_f16_to_f32(h), (float)got);
}

Test(payload, f16_known_values)
{
    static const struct { float x; uint16_t h; } known[] = {
        { 1.0f, 0x3c00 }, { -2.0f, 0xc000 }, { 65504.0f, 0x7bff }, { 0x1p-24f, 0x0001 },
        { 0x1p-14f, 0x0400 }, { 0.1f, 0x2e66 }, { 1.0f / 3.0f, 0x3555 }, { INFINITY, 0x7c00 },
        { -INFINITY, 0xfc00 }, { 0.0f, 0x0000 }, { -0.0f, 0x8000 },
        { 1.0f + 0x1p-11f, 0x3c00 },          /* tie -> even (down) */
        { 1.0f + 3 * 0x1p-11f, 0x3c02 },      /* tie -> even (up) */
        { 65519.0f, 0x7bff }, { 65520.0f, 0x7c00 }, { 1e6f, 0x7c00 },
        { 0x1p-25f, 0x0000 },                 /* tie between 0 and 2^-24 -> 0 */
        { 0x1.000002p-25f, 0x0001 },
        { 0x1.8p-24f, 0x0002 },               /* 1.5 quanta: tie -> even (2) */
        { 0x1.ffcp-15f, 0x0400 },             /* 1023.5 quanta: tie -> even carries to normal */
        { 6.097555e-5f, 0x03ff },
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        cr_assert_eq(splitee_f32_to_f16(known[i].x), known[i].h, "%a -> 0x%04x, want 0x%04x",
                     (double)known[i].x, splitee_f32_to_f16(known[i].x), known[i].h);
        check_f16(known[i].x);
    }
    cr_assert(isnan(splitee_f16_to_f32(splitee_f32_to_f16(NAN))));
    cr_assert_eq(splitee_f16_to_f32(0x8001), -0x1p-24f);
}

Test(payload, f16_every_half_round_trips_and_midpoints_tie_to_even)
{
    for (uint32_t h = 0; h < 0x10000; h++) {
        uint16_t b = (uint16_t)h;
        double v = half_value(b);
        float f = splitee_f16_to_f32(b);
        if (isnan(v)) {
            cr_assert(isnan(f));
            continue;
        }
        cr_assert((double)f == v && !!signbit(f) == !!signbit(v), "0x%04x -> %a, want %a", b,
                  (double)f, v);
        cr_assert_eq(splitee_f32_to_f16(f), b, "0x%04x does not round-trip", b);
        if ((b & 0x7fff) >= 0x7bff)
            continue;
        /* midpoint to the next half (of larger magnitude), and one float either side */
        double next = half_value((uint16_t)(b + 1));
        float mid = (float)((v + next) / 2.0);   /* exact in float */
        check_f16(mid);
        check_f16(nextafterf(mid, 0.0f));
        check_f16(nextafterf(mid, signbit(mid) ? -INFINITY : INFINITY));
    }
}

Test(payload, f16_random_floats_match_reference)
{
    uint64_t s = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < 200000; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        uint32_t bits = (uint32_t)s;
        /* bias towards the half range: exponents 100..145 */
        bits = (bits & 0x807fffffu) | ((100u + (uint32_t)(s >> 40) % 46u) << 23);
        float x;
        memcpy(&x, &bits, 4);
        check_f16(x);
    }
}

/* ---- encode errors ------------------------------------------------------------ */

Test(payload, encode_rejects_bad_arguments)
{
    float x[N];
    unsigned char buf[24 + 4 * N];
    size_t n = 99;
    splitee_error err = { 0, "" };
    fill(x, N, 5);
    expect(splitee_payload_encode((splitee_payload_encoding)5, 1, x, T, D, buf, sizeof buf, &n, &err),
           SPLITEE_ERR_ARG, &err, "unknown encoding 5");
    expect(splitee_payload_encode(SPLITEE_PAYLOAD_ENCODING_F32, -1, x, T, D, buf, sizeof buf, &n, &err),
           SPLITEE_ERR_ARG, &err, "negative layer");
    expect(splitee_payload_encode(SPLITEE_PAYLOAD_ENCODING_F32, 1, x, 0, D, buf, sizeof buf, &n, &err),
           SPLITEE_ERR_ARG, &err, "(0, 64)");
    expect(splitee_payload_encode(SPLITEE_PAYLOAD_ENCODING_F32, 1, NULL, T, D, buf, sizeof buf, &n, &err),
           SPLITEE_ERR_ARG, &err, "no activation");
    expect(splitee_payload_encode(SPLITEE_PAYLOAD_ENCODING_F32, 1, x, T, D, buf, sizeof buf - 1, &n, &err),
           SPLITEE_ERR_OVERFLOW, &err, "needs 4120");
    x[77] = NAN;
    expect(splitee_payload_encode(SPLITEE_PAYLOAD_ENCODING_I8, 1, x, T, D, buf, sizeof buf, &n, &err),
           SPLITEE_ERR_VALUE, &err, "value 77 is not finite");
    x[77] = 70000.0f;
    expect(splitee_payload_encode(SPLITEE_PAYLOAD_ENCODING_F16, 1, x, T, D, buf, sizeof buf, &n, &err),
           SPLITEE_ERR_VALUE, &err, "past the float16 range");
    cr_assert_eq(splitee_payload_encode(SPLITEE_PAYLOAD_ENCODING_F32, 1, x, T, D, buf, sizeof buf, &n, &err), 0);
    cr_assert_eq(n, 4120);
}

/* ---- malformed payloads -------------------------------------------------------- */

/* A valid payload of `enc` in buf (malloc'd), its size in *len. */
static unsigned char *valid(splitee_payload_encoding enc, size_t *len)
{
    float x[N];
    fill(x, N, 6);
    size_t cap = splitee_payload_size(enc, T, D) + 16;
    unsigned char *buf = malloc(cap);
    splitee_error err = { 0, "" };
    cr_assert_eq(splitee_payload_encode(enc, 4, x, T, D, buf, cap, len, &err), 0, "%s", err.msg);
    return buf;
}

/* Decoding (and peeking, when `peek_too`) buf fails with status and word. */
static void expect_bad(const unsigned char *buf, size_t len, int status, const char *word,
                       int peek_too)
{
    float y[N];
    splitee_error err = { 0, "" };
    expect(splitee_payload_decode(buf, len, y, N, NULL, &err), status, &err, word);
    if (peek_too) {
        splitee_payload_info info;
        expect(splitee_payload_peek(buf, len, &info, &err), status, &err, word);
    }
}

Test(payload, rejects_truncated_header)
{
    size_t len;
    unsigned char *b = valid(SPLITEE_PAYLOAD_ENCODING_F32, &len);
    expect_bad(b, 0, SPLITEE_ERR_FORMAT, "truncated header (0 of 24", 1);
    expect_bad(b, 23, SPLITEE_ERR_FORMAT, "truncated header (23 of 24", 1);
    free(b);
}

Test(payload, rejects_bad_magic)
{
    size_t len;
    unsigned char *b = valid(SPLITEE_PAYLOAD_ENCODING_F16, &len);
    b[3] = 'B';
    expect_bad(b, len, SPLITEE_ERR_FORMAT, "bad magic", 1);
    free(b);
}

Test(payload, rejects_other_versions)
{
    size_t len;
    unsigned char *b = valid(SPLITEE_PAYLOAD_ENCODING_F32, &len);
    b[4] = 2;
    expect_bad(b, len, SPLITEE_ERR_UNSUPPORTED, "unsupported version 2", 1);
    b[4] = 1;
    b[5] = 1;
    expect_bad(b, len, SPLITEE_ERR_UNSUPPORTED, "unsupported version 257", 1);
    free(b);
}

Test(payload, rejects_unknown_encoding_and_reserved_bits)
{
    size_t len;
    unsigned char *b = valid(SPLITEE_PAYLOAD_ENCODING_F32, &len);
    b[6] = 3;
    expect_bad(b, len, SPLITEE_ERR_UNSUPPORTED, "unknown encoding 3", 1);
    b[6] = 0;
    b[7] = 0x80;
    expect_bad(b, len, SPLITEE_ERR_FORMAT, "reserved byte", 1);
    free(b);
}

Test(payload, rejects_size_mismatches)
{
    size_t len;
    unsigned char *b = valid(SPLITEE_PAYLOAD_ENCODING_F32, &len);
    put32(b + 20, 4 * N - 4);                 /* body length vs tokens x dim */
    expect_bad(b, len, SPLITEE_ERR_FORMAT, "body length 4092 does not match", 1);
    put32(b + 20, 4 * N);
    put32(b + 16, D + 1);                     /* dim changed */
    expect_bad(b, len, SPLITEE_ERR_FORMAT, "(16, 65) f32", 1);
    put32(b + 16, 0);                         /* zero dim */
    expect_bad(b, len, SPLITEE_ERR_FORMAT, "does not match", 1);
    put32(b + 16, D);
    b[6] = SPLITEE_PAYLOAD_ENCODING_F16;               /* encoding changed: 2 bytes per value */
    expect_bad(b, len, SPLITEE_ERR_FORMAT, "f16 activation (2048 bytes)", 1);
    b[6] = SPLITEE_PAYLOAD_ENCODING_F32;
    put32(b + 12, 0x10000);
    put32(b + 16, 0x10000);                   /* 2^32 values: body length overflows */
    expect_bad(b, len, SPLITEE_ERR_FORMAT, "does not match", 1);
    put32(b + 12, T);
    put32(b + 16, D);
    put32(b + 8, 0x80000000u);
    expect_bad(b, len, SPLITEE_ERR_FORMAT, "layer 2147483648 out of range", 1);
    free(b);
}

Test(payload, rejects_truncated_body_and_trailing_bytes)
{
    size_t len;
    unsigned char *b = valid(SPLITEE_PAYLOAD_ENCODING_I8, &len);
    expect_bad(b, len - 1, SPLITEE_ERR_FORMAT, "truncated body (1027 of 1028 bytes)", 1);
    expect_bad(b, 24, SPLITEE_ERR_FORMAT, "truncated body (0 of 1028", 1);
    expect_bad(b, len + 3, SPLITEE_ERR_FORMAT, "3 trailing bytes", 1);
    free(b);
}

Test(payload, rejects_bad_int8_scale_and_values)
{
    size_t len;
    unsigned char *b = valid(SPLITEE_PAYLOAD_ENCODING_I8, &len);
    const float bad[4] = { NAN, INFINITY, -1.0f, -INFINITY };
    unsigned char keep[4];
    memcpy(keep, b + 24, 4);
    for (int i = 0; i < 4; i++) {
        uint32_t u;
        memcpy(&u, &bad[i], 4);
        put32(b + 24, u);
        expect_bad(b, len, SPLITEE_ERR_VALUE, "int8 scale", 0);
    }
    put32(b + 24, 0x7f7fffffu);   /* FLT_MAX: q * scale overflows */
    expect_bad(b, len, SPLITEE_ERR_VALUE, "is not finite", 0);
    memcpy(b + 24, keep, 4);
    b[28 + 100] = 0x80;           /* -128 */
    expect_bad(b, len, SPLITEE_ERR_VALUE, "int8 value 100 is -128", 0);
    free(b);
}

Test(payload, rejects_non_finite_values)
{
    size_t len;
    unsigned char *b = valid(SPLITEE_PAYLOAD_ENCODING_F32, &len);
    put32(b + 24 + 4 * 9, 0x7fc00000u);   /* NaN */
    expect_bad(b, len, SPLITEE_ERR_VALUE, "value 9 is not finite", 0);
    free(b);
    b = valid(SPLITEE_PAYLOAD_ENCODING_F16, &len);
    b[24 + 2 * 11] = 0x00;
    b[24 + 2 * 11 + 1] = 0x7c;            /* +inf */
    expect_bad(b, len, SPLITEE_ERR_VALUE, "value 11 is not finite", 0);
    free(b);
}

Test(payload, rejects_small_destination)
{
    size_t len;
    unsigned char *b = valid(SPLITEE_PAYLOAD_ENCODING_F16, &len);
    float y[N];
    splitee_error err = { 0, "" };
    expect(splitee_payload_decode(b, len, y, N - 1, NULL, &err), SPLITEE_ERR_OVERFLOW, &err,
           "holds 1023 floats");
    expect(splitee_payload_decode(b, len, NULL, N, NULL, &err), SPLITEE_ERR_OVERFLOW, &err,
           "needs 1024");
    expect(splitee_payload_peek(NULL, len, NULL, &err), SPLITEE_ERR_ARG, &err, "no buffer");
    free(b);
}
