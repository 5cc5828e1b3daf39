/* stream.c -- scene-structured image streams (stream.h): the scene
 * generator, then each frame's shift and sensor noise from its own
 * splitmix64 generator, the noise drawn as the noise distortion draws it
 * (distort.c). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/internal.h"
#include "splitee/stream.h"

#define FRAME_SALT 0xA0761D6478BD642Full

void splitee_stream_config_default(splitee_stream_config *cfg)
{
    cfg->frames = 10000;
    cfg->mean_scene = 25.0;
    cfg->max_shift = 2;
    cfg->sigma = 0.1;
    cfg->seed = 1;
}

/* u in [0, 1) from 53 bits of x. */
static double unit(uint64_t x) { return (double)(x >> 11) * 0x1p-53; }

static double clip01(double v) { return v < 0.0 ? 0.0 : v > 1.0 ? 1.0 : v; }

/* A draw in -S..S. */
static int shift_of(uint64_t x, int S) { return (int)floor(unit(x) * (2.0 * S + 1.0)) - S; }

/* Frame t of source image px (rows, cols) into out. */
static void frame(const splitee_stream_config *c, const uint8_t *px, size_t rows, size_t cols,
                  size_t t, float *out)
{
    uint64_t st = (c->seed ^ FRAME_SALT) + (uint64_t)t;
    int dx = shift_of(splitee_splitmix64(&st), c->max_shift);
    int dy = shift_of(splitee_splitmix64(&st), c->max_shift);
    const size_t n = rows * cols;
    for (size_t j = 0; j < n / 2; j++) {
        uint64_t a = splitee_splitmix64(&st), b = splitee_splitmix64(&st);
        double u1 = ((double)(a >> 11) + 1.0) * 0x1p-53;
        double u2 = (double)(b >> 11) * 0x1p-53;
        double rad = sqrt(-2.0 * log(u1));
        double z[2] = { rad * cos(2.0 * M_PI * u2), rad * sin(2.0 * M_PI * u2) };
        for (int h = 0; h < 2; h++) {
            size_t p = 2 * j + (size_t)h;
            long i = (long)(p / cols) - dy, k = (long)(p % cols) - dx;
            double x = i >= 0 && k >= 0 && i < (long)rows && k < (long)cols
                           ? (double)px[(size_t)i * cols + (size_t)k] / 255.0
                           : 0.0;
            out[p] = (float)clip01(x + c->sigma * z[h]);
        }
    }
}

int splitee_stream_generate(const splitee_images *im, const splitee_stream_config *c,
                            float *frames, int32_t *source, int32_t *scene, splitee_error *err)
{
    if (!im || !c || !frames || !source || !scene)
        return splitee__fail(err, SPLITEE_ERR_ARG, "stream: NULL argument");
    if (c->frames < 1 || c->frames > (size_t)1 << 26)
        return splitee__fail(err, SPLITEE_ERR_VALUE, "stream: frames must be in 1..%zu (got %zu)",
                             (size_t)1 << 26, c->frames);
    if (!isfinite(c->mean_scene) || c->mean_scene < 1)
        return splitee__fail(err, SPLITEE_ERR_VALUE,
                             "stream: mean scene length must be a number >= 1 frame (got %g)", c->mean_scene);
    if (!(c->sigma >= 0 && c->sigma <= 1))
        return splitee__fail(err, SPLITEE_ERR_VALUE, "stream: sigma (sensor noise) must be in [0, 1] (got %g)",
                             c->sigma);
    size_t small = im->rows < im->cols ? im->rows : im->cols;
    if (c->max_shift < 0 || (size_t)c->max_shift >= small)
        return splitee__fail(err, SPLITEE_ERR_VALUE, "stream: shift must be in 0..%zu pixels (got %d)",
                             small ? small - 1 : 0, c->max_shift);
    if (im->count < 2 || im->count > INT32_MAX || (im->rows * im->cols) % 2)
        return splitee__fail(err, SPLITEE_ERR_ARG,
                             "stream: needs at least 2 images with an even number of pixels (got %zu of %zux%zu)",
                             im->count, im->rows, im->cols);
    const size_t n = im->rows * im->cols, N = c->frames;
    const double q = 1.0 - 1.0 / c->mean_scene;
    uint64_t st = c->seed;
    size_t t = 0;
    int32_t prev = -1, id = 0;
    while (t < N) {
        int32_t img;
        do
            img = (int32_t)floor(unit(splitee_splitmix64(&st)) * (double)im->count);
        while (img == prev);
        double v = ((double)(splitee_splitmix64(&st) >> 11) + 1.0) * 0x1p-53;
        double len = q > 0 ? 1.0 + floor(log(v) / log(q)) : 1.0;
        for (size_t k = 0; k < len && t < N; k++, t++) {
            source[t] = img;
            scene[t] = id;
            frame(c, im->pixels + (size_t)img * n, im->rows, im->cols, t, frames + t * n);
        }
        prev = img;
        id++;
    }
    return SPLITEE_OK;
}
