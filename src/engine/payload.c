/* payload.c -- activation payloads (payload.h): the 24-byte header, the
 * float32 / float16 / int8 bodies, and the binary16 conversions. Byte order
 * is little-endian on the wire whatever the host. */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "core/internal.h"
#include "splitee/payload.h"

static const unsigned char magic[4] = { 'S', 'P', 'L', 'A' };

/* ---- binary16 ------------------------------------------------------------ */

uint16_t splitee_f32_to_f16(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a >= 0x7f800000u)                      /* Inf, or NaN kept quiet */
        return (uint16_t)(sign | 0x7c00u | (a > 0x7f800000u ? 0x200u | ((a >> 13) & 0x3ffu) : 0));
    if (a >= 0x477ff000u)                      /* >= 65520 rounds past 65504 */
        return (uint16_t)(sign | 0x7c00u);
    if (a < 0x38800000u) {                     /* below 2^-14: subnormal or zero */
        if (a < 0x33000000u)                   /* below 2^-25 (2^-25 itself ties to 0) */
            return sign;
        uint32_t e = a >> 23, m = (a & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126 - e;              /* value = m 2^(e-150) = h 2^-24 */
        uint32_t h = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1u)))
            h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = (a >> 13) - ((127u - 15u) << 10); /* rebias the exponent */
    uint32_t rem = a & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u)))
        h++;                                   /* a carry into the exponent is right */
    return (uint16_t)(sign | h);
}

float splitee_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu, u;
    if (e == 0) {
        float v = (float)m * 0x1p-24f;         /* exact: m < 2^10 */
        return sign ? -v : v;
    }
    if (e == 31)
        u = sign | 0x7f800000u | (m << 13);
    else
        u = sign | ((e + 112u) << 23) | (m << 13);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* ---- little-endian fields ------------------------------------------------- */

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_f32(unsigned char *p, float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    put_u32(p, u);
}

static float get_f32(const unsigned char *p)
{
    uint32_t u = get_u32(p);
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* ---- sizes and names ------------------------------------------------------- */

/* Body bytes of `enc` for n values; 0 for an unknown encoding or when the
 * size does not fit the 32-bit body length. */
static size_t body_size(splitee_payload_encoding enc, size_t tokens, size_t dim)
{
    size_t n, per, extra;
    switch (enc) {
    case SPLITEE_PAYLOAD_ENCODING_F32: per = 4; extra = 0; break;
    case SPLITEE_PAYLOAD_ENCODING_F16: per = 2; extra = 0; break;
    case SPLITEE_PAYLOAD_ENCODING_I8: per = 1; extra = 4; break;
    default: return 0;
    }
    if (tokens == 0 || dim == 0 || splitee__mul_size(tokens, dim, &n) < 0 ||
        splitee__mul_size(n, per, &n) < 0 || n > UINT32_MAX - extra)
        return 0;
    return n + extra;
}

size_t splitee_payload_size(splitee_payload_encoding enc, size_t tokens, size_t dim)
{
    size_t b = body_size(enc, tokens, dim);
    return b ? b + SPLITEE_PAYLOAD_HEADER_SIZE : 0;
}

const char *splitee_payload_encoding_name(splitee_payload_encoding enc)
{
    switch (enc) {
    case SPLITEE_PAYLOAD_ENCODING_F32: return "f32";
    case SPLITEE_PAYLOAD_ENCODING_F16: return "f16";
    case SPLITEE_PAYLOAD_ENCODING_I8: return "int8";
    }
    return NULL;
}

int splitee_payload_encoding_parse(const char *name, splitee_payload_encoding *enc,
                                   splitee_error *err)
{
    static const struct { const char *name; splitee_payload_encoding enc; } names[] = {
        { "f32", SPLITEE_PAYLOAD_ENCODING_F32 }, { "float32", SPLITEE_PAYLOAD_ENCODING_F32 },
        { "f16", SPLITEE_PAYLOAD_ENCODING_F16 }, { "float16", SPLITEE_PAYLOAD_ENCODING_F16 },
        { "int8", SPLITEE_PAYLOAD_ENCODING_I8 }, { "i8", SPLITEE_PAYLOAD_ENCODING_I8 },
    };
    for (size_t i = 0; name && i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(name, names[i].name) == 0) {
            *enc = names[i].enc;
            return SPLITEE_OK;
        }
    return splitee__fail(err, SPLITEE_ERR_ARG,
                         "payload: unknown encoding '%.32s' (expected f32, f16 or int8)",
                         name ? name : "(null)");
}

/* ---- encode ---------------------------------------------------------------- */

/* The int8 scale of n values: max|x| / 127 in float32. */
static float int8_scale(const float *x, size_t n)
{
    float m = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float a = fabsf(x[i]);
        m = a > m ? a : m;
    }
    return m / 127.0f;
}

/* Writes the body of n values of `act` to p. */
static void encode_body(splitee_payload_encoding enc, const float *act, size_t n,
                        unsigned char *p)
{
    if (enc == SPLITEE_PAYLOAD_ENCODING_F32) {
        for (size_t i = 0; i < n; i++)
            put_f32(p + 4 * i, act[i]);
    } else if (enc == SPLITEE_PAYLOAD_ENCODING_F16) {
        for (size_t i = 0; i < n; i++) {
            uint16_t h = splitee_f32_to_f16(act[i]);
            p[2 * i] = (unsigned char)h;
            p[2 * i + 1] = (unsigned char)(h >> 8);
        }
    } else {
        float scale = int8_scale(act, n);
        put_f32(p, scale);
        for (size_t i = 0; i < n; i++) {
            float q = scale > 0.0f ? roundf(act[i] / scale) : 0.0f;
            q = q > 127.0f ? 127.0f : q < -127.0f ? -127.0f : q;
            p[4 + i] = (unsigned char)(int8_t)q;
        }
    }
}

int splitee_payload_encode(splitee_payload_encoding enc, int layer, const float *act,
                           size_t tokens, size_t dim, void *buf, size_t cap,
                           size_t *written, splitee_error *err)
{
    if (!splitee_payload_encoding_name(enc))
        return splitee__fail(err, SPLITEE_ERR_ARG, "payload: unknown encoding %d", (int)enc);
    if (!act || !buf)
        return splitee__fail(err, SPLITEE_ERR_ARG, "payload: no activation or buffer given");
    if (layer < 0)
        return splitee__fail(err, SPLITEE_ERR_ARG, "payload: negative layer %d", layer);
    size_t body = body_size(enc, tokens, dim);
    if (!body || tokens > UINT32_MAX || dim > UINT32_MAX)
        return splitee__fail(err, SPLITEE_ERR_ARG,
                             "payload: cannot encode a (%zu, %zu) activation as %s", tokens, dim,
                             splitee_payload_encoding_name(enc));
    size_t total = body + SPLITEE_PAYLOAD_HEADER_SIZE, n = tokens * dim;
    if (cap < total)
        return splitee__fail(err, SPLITEE_ERR_OVERFLOW,
                             "payload: buffer holds %zu bytes, the %s payload needs %zu", cap,
                             splitee_payload_encoding_name(enc), total);
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(act[i]))
            return splitee__fail(err, SPLITEE_ERR_VALUE,
                                 "payload: activation value %zu is not finite", i);
        if (enc == SPLITEE_PAYLOAD_ENCODING_F16 && (splitee_f32_to_f16(act[i]) & 0x7fffu) == 0x7c00u)
            return splitee__fail(err, SPLITEE_ERR_VALUE,
                                 "payload: activation value %zu (%g) is past the float16 range",
                                 i, (double)act[i]);
    }
    unsigned char *p = buf;
    memcpy(p, magic, 4);
    p[4] = SPLITEE_PAYLOAD_VERSION & 0xff;
    p[5] = SPLITEE_PAYLOAD_VERSION >> 8;
    p[6] = (unsigned char)enc;
    p[7] = 0;
    put_u32(p + 8, (uint32_t)layer);
    put_u32(p + 12, (uint32_t)tokens);
    put_u32(p + 16, (uint32_t)dim);
    put_u32(p + 20, (uint32_t)body);
    encode_body(enc, act, n, p + SPLITEE_PAYLOAD_HEADER_SIZE);
    if (written)
        *written = total;
    return SPLITEE_OK;
}

/* ---- decode ---------------------------------------------------------------- */

int splitee_payload_peek(const void *buf, size_t len, splitee_payload_info *info,
                         splitee_error *err)
{
    const unsigned char *p = buf;
    if (!p)
        return splitee__fail(err, SPLITEE_ERR_ARG, "payload: no buffer given");
    if (len < SPLITEE_PAYLOAD_HEADER_SIZE)
        return splitee__fail(err, SPLITEE_ERR_FORMAT,
                             "payload: truncated header (%zu of %d bytes)", len,
                             SPLITEE_PAYLOAD_HEADER_SIZE);
    if (memcmp(p, magic, 4) != 0)
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "payload: bad magic (not a splitee payload)");
    unsigned version = (unsigned)p[4] | (unsigned)p[5] << 8;
    if (version != SPLITEE_PAYLOAD_VERSION)
        return splitee__fail(err, SPLITEE_ERR_UNSUPPORTED,
                             "payload: unsupported version %u (expected %d)", version,
                             SPLITEE_PAYLOAD_VERSION);
    splitee_payload_encoding enc = (splitee_payload_encoding)p[6];
    if (!splitee_payload_encoding_name(enc))
        return splitee__fail(err, SPLITEE_ERR_UNSUPPORTED, "payload: unknown encoding %u", p[6]);
    if (p[7] != 0)
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "payload: reserved byte is %u, not 0", p[7]);
    uint32_t layer = get_u32(p + 8), tokens = get_u32(p + 12), dim = get_u32(p + 16);
    uint32_t blen = get_u32(p + 20);
    if (layer > INT32_MAX)
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "payload: layer %u out of range", layer);
    size_t want = body_size(enc, tokens, dim);
    if (!want || blen != want)
        return splitee__fail(err, SPLITEE_ERR_FORMAT,
                             "payload: body length %u does not match a (%u, %u) %s activation "
                             "(%zu bytes)", blen, tokens, dim, splitee_payload_encoding_name(enc),
                             want);
    size_t have = len - SPLITEE_PAYLOAD_HEADER_SIZE;
    if (have < want)
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "payload: truncated body (%zu of %zu bytes)",
                             have, want);
    if (have > want)
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "payload: %zu trailing bytes after the body",
                             have - want);
    if (info) {
        info->encoding = enc;
        info->layer = (int)layer;
        info->tokens = tokens;
        info->dim = dim;
        info->size = len;
        info->scale = enc == SPLITEE_PAYLOAD_ENCODING_I8 ? get_f32(p + SPLITEE_PAYLOAD_HEADER_SIZE) : 0.0f;
    }
    return SPLITEE_OK;
}

int splitee_payload_decode(const void *buf, size_t len, float *act, size_t cap,
                           splitee_payload_info *info, splitee_error *err)
{
    splitee_payload_info in;
    int rc = splitee_payload_peek(buf, len, &in, err);
    if (rc < 0)
        return rc;
    size_t n = in.tokens * in.dim;   /* fits: body_size checked it */
    if (!act || cap < n)
        return splitee__fail(err, SPLITEE_ERR_OVERFLOW,
                             "payload: destination holds %zu floats, the (%zu, %zu) activation "
                             "needs %zu", act ? cap : 0, in.tokens, in.dim, n);
    const unsigned char *p = (const unsigned char *)buf + SPLITEE_PAYLOAD_HEADER_SIZE;
    if (in.encoding == SPLITEE_PAYLOAD_ENCODING_I8) {
        if (!isfinite(in.scale) || in.scale < 0.0f)
            return splitee__fail(err, SPLITEE_ERR_VALUE, "payload: int8 scale %g is not a finite "
                                 "non-negative number", (double)in.scale);
        for (size_t i = 0; i < n; i++) {
            int8_t q = (int8_t)p[4 + i];
            if (q == -128)
                return splitee__fail(err, SPLITEE_ERR_VALUE,
                                     "payload: int8 value %zu is -128 (outside [-127, 127])", i);
            act[i] = (float)q * in.scale;
            if (!isfinite(act[i]))
                return splitee__fail(err, SPLITEE_ERR_VALUE,
                                     "payload: value %zu (%d x scale %g) is not finite", i, q,
                                     (double)in.scale);
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            act[i] = in.encoding == SPLITEE_PAYLOAD_ENCODING_F32
                         ? get_f32(p + 4 * i)
                         : splitee_f16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
            if (!isfinite(act[i]))
                return splitee__fail(err, SPLITEE_ERR_VALUE,
                                     "payload: value %zu is not finite", i);
        }
    }
    if (info)
        *info = in;
    return SPLITEE_OK;
}
