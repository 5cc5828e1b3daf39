/* image.h -- Fashion-MNIST images: the IDX reader (gzip or not) and the
 * three image distortions that define splitee's shifted test domains.
 *
 * The distortions reproduce tools/train.py's definitions (its distort_*
 * functions are the spec) with the same float64 arithmetic in the same
 * order, rounded to float32 at the end as train.py does before it
 * normalises: pixel p (0..255) -> p / 255.0 (double) -> distortion
 * (double, clipped to [0, 1]) -> (float). Feed the result to
 * splitee_engine_embed (engine.h).
 *
 *     splitee_images im;
 *     splitee_error err;
 *     if (splitee_idx_load(".../t10k-images-idx3-ubyte.gz",
 *                          ".../t10k-labels-idx1-ubyte.gz", &im, &err) < 0)
 *         die(err.msg);  // "<labels>: 9999 labels but <images> holds 10000 images"
 *     splitee_distortion_config dc;
 *     splitee_distortion_domain("noise", &dc, &err);   // sigma 0.2, seed 20231101
 *     splitee_distorter *d;
 *     splitee_distorter_create(&dc, im.rows, im.cols, &d, &err);
 *     float px[28 * 28];
 *     for (size_t k = 0; k < im.count; k++) {
 *         splitee_distorter_apply(d, im.pixels + k * im.rows * im.cols, k, px);
 *         ... splitee_engine_forward(state, px, logits, &err) ...
 *     }
 *     splitee_distorter_free(d);
 *     splitee_images_free(&im);
 */
#ifndef SPLITEE_IMAGE_H
#define SPLITEE_IMAGE_H

#include <stddef.h>
#include <stdint.h>
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Images and (optionally) their labels, as read from IDX files. */
typedef struct splitee_images {
    size_t count;     /* images */
    size_t rows;      /* pixels per column */
    size_t cols;      /* pixels per row */
    uint8_t *pixels;  /* (count, rows, cols) row-major, 0..255; owned */
    uint8_t *labels;  /* (count) class indices; owned; NULL without a labels file */
} splitee_images;

/* Reads an IDX image file (unsigned bytes, 3 dimensions: count, rows,
 * cols) and, when `labels_path` is not NULL, an IDX label file (unsigned
 * bytes, 1 dimension) into *out. Either file may be gzip-compressed
 * (detected from its content, not its name). Fails with *out empty and a
 * one-line message naming the file: IO (open/read), FORMAT (magic, number
 * of dimensions, a zero dimension, truncated data, trailing bytes, corrupt
 * gzip stream), UNSUPPORTED (element types other than unsigned byte),
 * SHAPE (label count differs from image count), OVERFLOW, NOMEM. */
int splitee_idx_load(const char *images_path, const char *labels_path, splitee_images *out,
                     splitee_error *err);

/* Frees the arrays and empties *im. Safe on an empty or released struct. */
void splitee_images_free(splitee_images *im);

typedef enum splitee_distortion_kind {
    SPLITEE_DISTORTION_KIND_NONE = 0, /* p / 255 only ("clean") */
    SPLITEE_DISTORTION_KIND_NOISE,    /* additive Gaussian noise (sigma, seed), clipped */
    SPLITEE_DISTORTION_KIND_BLUR,     /* separable Gaussian blur (sigma), clipped */
    SPLITEE_DISTORTION_KIND_CONTRAST  /* m + factor (x - m), m = image mean, clipped */
} splitee_distortion_kind;

/* A distortion. train.py's definitions:
 *  NOISE: image k (0-based, `index` below) pixel p (row-major) gets
 *    x + sigma * z, z from splitmix64 seeded with seed + k (mod 2^64): the
 *    n pixels consume n/2 Box-Muller pairs (a, b) of successive outputs,
 *    u1 = ((a >> 11) + 1) 2^-53, u2 = (b >> 11) 2^-53,
 *    z[2j] = sqrt(-2 ln u1) cos(2 pi u2), z[2j+1] = sqrt(-2 ln u1) sin(2 pi u2).
 *  BLUR: kernel k[t] = exp(-t^2 / (2 sigma^2)), t = -r..r, r = ceil(3 sigma),
 *    divided by its sum (NumPy's pairwise summation order); rows first, then
 *    columns, each output a sum over taps in increasing t starting from 0,
 *    edges clamped (replicated).
 *  CONTRAST: m = mean of the image's pixels (NumPy's pairwise summation
 *    order over the row-major pixels, divided by their count).
 * Every result is clipped to [0, 1]. */
typedef struct splitee_distortion_config {
    splitee_distortion_kind kind;
    double sigma;   /* NOISE: noise std in [0,1] pixel units; BLUR: std in pixels (> 0) */
    double factor;  /* CONTRAST: contrast factor (finite) */
    uint64_t seed;  /* NOISE: base seed; image k uses seed + k */
} splitee_distortion_config;

/* Fills *cfg with the identity (kind NONE, sigma 0.2, factor 0.3, seed
 * 20231101, the shipped domains' values). */
void splitee_distortion_config_default(splitee_distortion_config *cfg);

/* Fills *cfg with one of the shipped domains of tools/train.py: "clean",
 * "noise" (sigma 0.2, seed 20231101), "blur" (sigma 1.0), "contrast"
 * (factor 0.3). ARG for another name. */
int splitee_distortion_domain(const char *name, splitee_distortion_config *cfg,
                              splitee_error *err);

typedef struct splitee_distorter splitee_distorter; /* opaque: config, kernel, scratch */

/* Checks `cfg` (ARG/VALUE: unknown kind, sigma <= 0 or not finite for
 * NOISE/BLUR, factor not finite, rows or cols 0, n odd for NOISE -- a
 * Box-Muller pair per two pixels) and allocates everything
 * splitee_distorter_apply needs for (rows, cols) images. One distorter
 * per thread. */
int splitee_distorter_create(const splitee_distortion_config *cfg, size_t rows, size_t cols,
                             splitee_distorter **out, splitee_error *err);

/* Frees the distorter. NULL is a no-op. */
void splitee_distorter_free(splitee_distorter *d);

/* Distorts image number `index` (its position in the data set; seeds the
 * noise) given as `pixels` (rows, cols) 0..255, writing (rows, cols)
 * float32 pixels in [0, 1] to `out`. Cannot fail; allocates nothing. */
void splitee_distorter_apply(splitee_distorter *d, const uint8_t *pixels, uint64_t index,
                             float *out);

/* Same from float64 pixels already in [0, 1]. */
void splitee_distorter_apply_f64(splitee_distorter *d, const double *pixels, uint64_t index,
                                 float *out);

/* One step of splitmix64: advances *state by 0x9E3779B97F4A7C15 and returns
 * the mixed output (the generator of the NOISE distortion). */
uint64_t splitee_splitmix64(uint64_t *state);

#ifdef __cplusplus
}
#endif
#endif
