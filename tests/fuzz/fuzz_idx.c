/* fuzz_idx.c -- libFuzzer target: the IDX image and label reader
 * (src/formats/idx.c, splitee_idx_load; plain or gzip), through two scratch files
 * since it reads paths.
 *
 * Input: a 2-byte little-endian length n, n bytes of the image file, then
 * the label file (seeds: tests/fuzz/seeds.py). A refusal must be one line
 * naming one of the two files; images that load must be coherent (count
 * labels, count x rows x cols pixels: ASan checks the buffers). */
#include <stdlib.h>
#include <string.h>

#include "fuzzutil.h"
#include "splitee/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t n = fz_split(data, size);
    const char *images = fz_write(0, data + 2, n);
    const char *labels = fz_write(1, data + 2 + n, size - 2 - n);
    splitee_images im;
    splitee_error err = { 0, "" };
    int rc = splitee_idx_load(images, labels, &im, &err);
    if (rc < 0) {
        /* the scratch paths differ only in their last character */
        fz_check_refusal(rc, &err, strstr(err.msg, images) ? images : labels);
        if (im.pixels || im.labels || im.count)
            abort();
        return 0;
    }
    if (!im.count || !im.rows || !im.cols || !im.pixels || !im.labels)
        abort();
    volatile unsigned sum = 0;
    for (size_t i = 0; i < im.count * im.rows * im.cols; i++)
        sum += im.pixels[i];
    for (size_t i = 0; i < im.count; i++)
        sum += im.labels[i];
    (void)sum;
    splitee_images_free(&im);
    return 0;
}
