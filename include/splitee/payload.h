/* payload.h -- activation payloads: what a device sends the cloud when it
 * offloads a sample after layer i (the (tokens, dim) activation), and the
 * byte sizes the link-cost simulator prices.
 *
 * Three encodings of the float32 activation:
 *   SPLITEE_PAYLOAD_ENCODING_F32  exact: resuming gives bit-identical logits
 *   SPLITEE_PAYLOAD_ENCODING_F16  IEEE binary16, round to nearest even; values whose
 *                        magnitude rounds past 65504 are refused (VALUE)
 *   SPLITEE_PAYLOAD_ENCODING_I8   symmetric per-tensor int8: scale = max|x| / 127
 *                        (float32), q = clamp(roundf(x / scale), -127, 127)
 *                        (round half away from zero), x' = q * scale;
 *                        scale 0 when every value is 0
 *
 * Wire format (all fields little-endian), SPLITEE_PAYLOAD_HEADER_SIZE = 24
 * bytes of header, then the body:
 *   offset size  field
 *        0    4  magic "SPLA"
 *        4    2  version (SPLITEE_PAYLOAD_VERSION = 1)
 *        6    1  encoding (splitee_payload_encoding)
 *        7    1  reserved, 0
 *        8    4  layer: layers the device ran before the split (0..layers)
 *       12    4  tokens
 *       16    4  dim
 *       20    4  body length in bytes
 *       24       body: F32 tokens*dim float32; F16 tokens*dim binary16;
 *                I8 float32 scale, then tokens*dim int8 (row-major
 *                (tokens, dim) in every case)
 *
 *     unsigned char buf[8192];
 *     size_t n;
 *     splitee_error err;
 *     // device: after running layers 0..4, send the activation
 *     splitee_payload_encode(SPLITEE_PAYLOAD_ENCODING_F16, 5, act, 16, 64,
 *                            buf, sizeof buf, &n, &err);      // n == 2072
 *     // cloud: check and decode, then resume at layer 5 (engine.h)
 *     splitee_payload_info info;
 *     float act2[16 * 64];
 *     if (splitee_payload_decode(buf, n, act2, 16 * 64, &info, &err) < 0)
 *         reject(err.msg);                                   // "payload: bad magic ..."
 */
#ifndef SPLITEE_PAYLOAD_H
#define SPLITEE_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SPLITEE_PAYLOAD_HEADER_SIZE 24
#define SPLITEE_PAYLOAD_VERSION 1

typedef enum splitee_payload_encoding {
    SPLITEE_PAYLOAD_ENCODING_F32 = 0, /* 4 bytes per value */
    SPLITEE_PAYLOAD_ENCODING_F16 = 1, /* 2 bytes per value */
    SPLITEE_PAYLOAD_ENCODING_I8 = 2   /* 1 byte per value + one float32 scale */
} splitee_payload_encoding;

/* What a payload header says. */
typedef struct splitee_payload_info {
    splitee_payload_encoding encoding;
    int layer;        /* layers run before the split */
    size_t tokens;    /* activation rows */
    size_t dim;       /* activation columns */
    size_t size;      /* whole payload in bytes, header included */
    float scale;      /* I8: the dequantisation scale; 0 otherwise */
} splitee_payload_info;

/* Whole payload size in bytes (header included) of a (tokens, dim)
 * activation in `enc`: F32 24 + 4 t d, F16 24 + 2 t d, I8 28 + t d.
 * 0 for an unknown encoding, tokens or dim of 0, or a size that does not
 * fit the 32-bit body length. */
size_t splitee_payload_size(splitee_payload_encoding enc, size_t tokens, size_t dim);

/* "f32", "f16", "int8" (NULL for an unknown value). */
const char *splitee_payload_encoding_name(splitee_payload_encoding enc);

/* Parses "f32" | "f16" | "int8" (also "float32", "float16", "i8") into
 * *enc; ARG with a message naming `name` otherwise. */
int splitee_payload_encoding_parse(const char *name, splitee_payload_encoding *enc,
                                   splitee_error *err);

/* Encodes the activation `act` (tokens, dim) float32, taken after `layer`
 * layers, into buf[0..cap). On success *written (may be NULL) gets
 * splitee_payload_size(enc, tokens, dim). Fails without touching *written:
 * ARG (unknown encoding, NULL pointers, zero or too-large sizes, layer < 0),
 * OVERFLOW (cap too small, message gives the size needed), VALUE (a
 * non-finite value, or one past the float16 range for F16). Nothing is
 * allocated. */
int splitee_payload_encode(splitee_payload_encoding enc, int layer, const float *act,
                           size_t tokens, size_t dim, void *buf, size_t cap,
                           size_t *written, splitee_error *err);

/* Checks the header of the `len`-byte payload at buf and that `len` is
 * exactly the size it announces; fills *info. FORMAT for truncated data,
 * bad magic, reserved bits, a body length that does not match encoding x
 * tokens x dim, trailing bytes; UNSUPPORTED for another version or an
 * unknown encoding. Messages start with "payload:". Does not look at the
 * body values (splitee_payload_decode does). */
int splitee_payload_peek(const void *buf, size_t len, splitee_payload_info *info,
                         splitee_error *err);

/* Checks the payload as splitee_payload_peek does, then decodes its body
 * into act[0 .. tokens*dim) (float32, row-major (tokens, dim)); `cap` is
 * the number of floats act can hold. Further failures: VALUE for a
 * non-finite or negative int8 scale, an int8 value of -128, or a non-finite
 * F32/F16 value; OVERFLOW when cap is too small. On failure act may have
 * been partly written. `info` may be NULL. Nothing is allocated. */
int splitee_payload_decode(const void *buf, size_t len, float *act, size_t cap,
                           splitee_payload_info *info, splitee_error *err);

/* IEEE binary16 conversions: float -> half rounds to nearest, ties to even
 * (overflow gives infinity, NaN stays a quiet NaN); half -> float is exact. */
uint16_t splitee_f32_to_f16(float x);
float splitee_f16_to_f32(uint16_t h);

#ifdef __cplusplus
}
#endif
#endif
