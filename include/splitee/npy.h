/* npy.h -- read and write NumPy .npy arrays (format versions 1.0, 2.0, 3.0).
 *
 * splitee's exit-logit tables and labels are .npy files. The reader accepts
 * little-endian (or byte-order-free) float32, float64, int32, int64, uint8
 * and int8 arrays in C order of up to SPLITEE_NPY_MAX_DIMS dimensions, checks
 * the header and the data size against the file size, and never trusts a
 * size without overflow checks. Anything else is refused with a one-line
 * message naming the file.
 *
 *     splitee_array a;
 *     splitee_error err;
 *     if (splitee_npy_read("logits.npy", &a, &err) < 0) { puts(err.msg); ... }
 *     // a.dtype == SPLITEE_DTYPE_F32, a.ndim == 3, a.shape = {10000, 12, 10}
 *     const float *x = a.data;
 *     splitee_array_free(&a);
 */
#ifndef SPLITEE_NPY_H
#define SPLITEE_NPY_H

#include <stddef.h>
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SPLITEE_NPY_MAX_DIMS 8

typedef enum splitee_dtype {
    SPLITEE_DTYPE_F32 = 0, /* '<f4' */
    SPLITEE_DTYPE_F64,     /* '<f8' */
    SPLITEE_DTYPE_I32,     /* '<i4' */
    SPLITEE_DTYPE_I64,     /* '<i8' */
    SPLITEE_DTYPE_U8,      /* '|u1' */
    SPLITEE_DTYPE_I8       /* '|i1' */
} splitee_dtype;

/* A dense C-order array. `data` is owned by the array (malloc'd). */
typedef struct splitee_array {
    splitee_dtype dtype;
    int ndim;                          /* 0 .. SPLITEE_NPY_MAX_DIMS */
    size_t shape[SPLITEE_NPY_MAX_DIMS];
    size_t count;                      /* product of shape (1 for ndim 0) */
    void *data;                        /* count elements of dtype */
} splitee_array;

/* Size in bytes of one element of `dtype` (0 for an invalid value). */
size_t splitee_dtype_size(splitee_dtype dtype);

/* Reads the .npy file at `path` into *out. On failure *out is left empty
 * (data NULL), `err` (may be NULL) names the file and the problem, and a
 * negative status is returned: IO (open/read), FORMAT (magic, header syntax,
 * missing keys, truncated data, trailing bytes), UNSUPPORTED (dtype,
 * big-endian, Fortran order, too many dims), OVERFLOW (sizes). */
int splitee_npy_read(const char *path, splitee_array *out, splitee_error *err);

/* Writes a C-order, little-endian array to `path` (format version 1.0).
 * The file is written to a temporary name beside it and renamed, so a
 * failure never leaves a partial file at `path`. */
int splitee_npy_write(const char *path, splitee_dtype dtype, int ndim,
                      const size_t *shape, const void *data, splitee_error *err);

/* Frees a->data and empties *a. Safe on an empty or released array. */
void splitee_array_free(splitee_array *a);

#ifdef __cplusplus
}
#endif
#endif
