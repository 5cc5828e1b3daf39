/* fuzz_npy.c -- libFuzzer target: the .npy reader (src/formats/npy.c,
 * splitee_npy_read), through a scratch file since it reads a path.
 *
 * Input: the .npy file's bytes (seeds: tests/fuzz/seeds.py). A refusal
 * must be one line naming the file; an array that loads must be coherent
 * (count is the product of the shape, every element readable: ASan checks
 * the data buffer holds count elements). */
#include <stdlib.h>
#include <string.h>

#include "fuzzutil.h"
#include "splitee/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fz_write(0, data, size);
    splitee_array a;
    splitee_error err = { 0, "" };
    int rc = splitee_npy_read(path, &a, &err);
    if (rc < 0) {
        fz_check_refusal(rc, &err, path);
        if (a.data)
            abort();
        return 0;
    }
    size_t count = 1, esize = splitee_dtype_size(a.dtype);
    for (int i = 0; i < a.ndim; i++)
        count *= a.shape[i];
    if (a.ndim < 0 || a.ndim > SPLITEE_NPY_MAX_DIMS || count != a.count || !esize ||
        (count && !a.data))
        abort();
    volatile unsigned char sum = 0;
    const unsigned char *b = a.data;
    for (size_t i = 0; i < count * esize; i++)
        sum ^= b[i];
    (void)sum;
    splitee_array_free(&a);
    return 0;
}
