/* stream.h -- scene-structured streams of images: the synthetic input of
 * the stream exit rules (exit.h "stream rules", docs/TEMPORAL.md). A
 * stream is a sequence of scenes; each scene shows one image of a data
 * set for a random number of frames, and every frame is that image moved
 * by a small random shift with fresh sensor noise, as a camera watching a
 * still object would see it.
 *
 * The definition (splitee_stream_generate), with splitmix64 as in image.h:
 *   scenes: a generator seeded with `seed` draws, per scene, the image
 *     (u = (a >> 11) 2^-53, index floor(u count), drawn again while it
 *     equals the previous scene's) and the length 1 + floor(ln v / ln(1 -
 *     1/mean)), v = ((b >> 11) + 1) 2^-53 (geometric on 1, 2, ... with mean
 *     `mean_scene`; 1 when mean_scene is 1); the last scene is cut at N.
 *   frame t: a generator seeded with (seed XOR 0xA0761D6478BD642F) + t
 *     draws the shift dx, then dy, each floor(u (2S + 1)) - S with u as
 *     above, then rows*cols/2 Box-Muller pairs exactly as the noise
 *     distortion of image.h; pixel (i, j) (row-major, index p) is
 *     clip01(x + sigma z_p) with x = src(i - dy, j - dx) / 255, 0 outside
 *     the image (zero fill).
 * Generation is sequential and cheap; identical for a seed on every
 * machine that has IEEE doubles and a correctly rounded libm log/cos/sin
 * for these arguments (as the noise distortion).
 *
 *     splitee_stream_config sc;
 *     splitee_stream_config_default(&sc);   // 10000 frames, mean 25, +-2 px, sigma 0.1, seed 1
 *     float *frames = malloc(sc.frames * 28 * 28 * sizeof *frames);
 *     int32_t *src = malloc(sc.frames * sizeof *src), *scene = malloc(...);
 *     if (splitee_stream_generate(&images, &sc, frames, src, scene, &err) < 0) die(err.msg);
 */
#ifndef SPLITEE_STREAM_H
#define SPLITEE_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include "image.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct splitee_stream_config {
    size_t frames;       /* N, 1..2^26 */
    double mean_scene;   /* mean scene length in frames, finite, >= 1 */
    int max_shift;       /* S: each frame moves by dx, dy in -S..S pixels,
                            0 <= S < min(rows, cols) */
    double sigma;        /* sensor noise std, pixel units of [0, 1], in [0, 1] */
    uint64_t seed;
} splitee_stream_config;

/* 10000 frames, mean scene 25 frames, shift +-2 px, sigma 0.1, seed 1. */
void splitee_stream_config_default(splitee_stream_config *cfg);

/* Writes the stream of images im (count >= 2; rows*cols even) under cfg:
 * frames (N, rows, cols) float pixels in [0, 1], source (N) the image each
 * frame shows, scene (N) its scene number (0, 1, ..., increasing by one at
 * each change). ARG/VALUE for a bad configuration or image set, naming the
 * field; nothing is written then. */
int splitee_stream_generate(const splitee_images *im, const splitee_stream_config *cfg,
                            float *frames, int32_t *source, int32_t *scene, splitee_error *err);

#ifdef __cplusplus
}
#endif
#endif
