/* test_stream.c -- scene-structured image streams (stream.h): every frame
 * against the definition written out here (its own splitmix64 and
 * Box-Muller), determinism for a seed, the scene structure (ids, sources,
 * mean length), the identity without shift and noise, and bad input. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "splitee/stream.h"

static uint64_t sm(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* count random images of rows x cols. */
static splitee_images images(size_t count, size_t rows, size_t cols)
{
    splitee_images im = { count, rows, cols, malloc(count * rows * cols), malloc(count), NULL };
    uint64_t s = 77;
    for (size_t i = 0; i < count * rows * cols; i++)
        im.pixels[i] = (uint8_t)(sm(&s) >> 56);
    for (size_t i = 0; i < count; i++)
        im.labels[i] = (uint8_t)(i % 10);
    return im;
}

/* Frame t of image src by the definition (stream.h). */
static void naive_frame(const splitee_stream_config *c, const splitee_images *im, int32_t src, size_t t,
                        float *out)
{
    uint64_t s = (c->seed ^ 0xA0761D6478BD642Full) + t;
    int S = c->max_shift;
    int dx = (int)floor((double)(sm(&s) >> 11) * 0x1p-53 * (2 * S + 1)) - S;
    int dy = (int)floor((double)(sm(&s) >> 11) * 0x1p-53 * (2 * S + 1)) - S;
    size_t n = im->rows * im->cols;
    double z[4096];
    for (size_t j = 0; j < n / 2; j++) {
        uint64_t a = sm(&s), b = sm(&s);
        double u1 = ((double)(a >> 11) + 1.0) * 0x1p-53, u2 = (double)(b >> 11) * 0x1p-53;
        z[2 * j] = sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
        z[2 * j + 1] = sqrt(-2.0 * log(u1)) * sin(2.0 * M_PI * u2);
    }
    for (size_t i = 0; i < im->rows; i++)
        for (size_t k = 0; k < im->cols; k++) {
            long si = (long)i - dy, sk = (long)k - dx;
            double x = si >= 0 && sk >= 0 && si < (long)im->rows && sk < (long)im->cols
                           ? im->pixels[(size_t)src * n + (size_t)si * im->cols + (size_t)sk] / 255.0
                           : 0.0;
            double v = x + c->sigma * z[i * im->cols + k];
            out[i * im->cols + k] = (float)(v < 0 ? 0 : v > 1 ? 1 : v);
        }
}

Test(stream, frames_follow_the_definition)
{
    splitee_images im = images(50, 6, 8);
    splitee_stream_config c;
    splitee_stream_config_default(&c);
    c.frames = 600;
    c.mean_scene = 10;
    c.max_shift = 2;
    c.sigma = 0.2;
    c.seed = 123;
    float *f = malloc(c.frames * 48 * sizeof *f), want[48];
    int32_t src[600], scene[600];
    splitee_error e;
    cr_assert_eq(splitee_stream_generate(&im, &c, f, src, scene, &e), 0, "%s", e.msg);
    /* the scene generator by the definition */
    uint64_t s = c.seed;
    size_t t = 0;
    int32_t prev = -1, id = 0;
    while (t < c.frames) {
        int32_t img;
        do
            img = (int32_t)floor((double)(sm(&s) >> 11) * 0x1p-53 * 50);
        while (img == prev);
        double v = ((double)(sm(&s) >> 11) + 1.0) * 0x1p-53;
        double len = 1.0 + floor(log(v) / log(1 - 1.0 / c.mean_scene));
        for (size_t k = 0; k < len && t < c.frames; k++, t++) {
            cr_assert_eq(src[t], img, "frame %zu", t);
            cr_assert_eq(scene[t], id, "frame %zu", t);
            naive_frame(&c, &im, img, t, want);
            cr_assert_eq(memcmp(f + t * 48, want, sizeof want), 0, "frame %zu", t);
        }
        prev = img;
        id++;
    }
    free(f);
    splitee_images_free(&im);
}

Test(stream, deterministic_and_scene_structured)
{
    splitee_images im = images(30, 4, 4);
    splitee_stream_config c;
    splitee_stream_config_default(&c);
    cr_assert_eq(c.frames, 10000u);
    cr_assert_float_eq(c.mean_scene, 25.0, 0);
    cr_assert_eq(c.max_shift, 2);
    cr_assert_float_eq(c.sigma, 0.1, 0);
    c.frames = 100000;
    float *a = malloc(c.frames * 16 * sizeof *a), *b = malloc(c.frames * 16 * sizeof *b);
    int32_t *sa = malloc(c.frames * 4), *sb = malloc(c.frames * 4), *ca = malloc(c.frames * 4),
            *cb = malloc(c.frames * 4);
    splitee_error e;
    cr_assert_eq(splitee_stream_generate(&im, &c, a, sa, ca, &e), 0, "%s", e.msg);
    cr_assert_eq(splitee_stream_generate(&im, &c, b, sb, cb, &e), 0);
    cr_assert_eq(memcmp(a, b, c.frames * 16 * sizeof *a), 0);
    cr_assert_eq(memcmp(ca, cb, c.frames * 4), 0);
    cr_assert_eq(ca[0], 0);
    for (size_t t = 1; t < c.frames; t++) {
        cr_assert(ca[t] == ca[t - 1] || ca[t] == ca[t - 1] + 1);
        cr_assert_eq(sa[t] == sa[t - 1], ca[t] == ca[t - 1], "frame %zu", t);  /* a new scene, a new image */
        cr_assert(sa[t] >= 0 && sa[t] < 30);
    }
    for (size_t i = 0; i < c.frames * 16; i++)
        cr_assert(a[i] >= 0 && a[i] <= 1);
    double mean = (double)c.frames / (ca[c.frames - 1] + 1);
    cr_assert(fabs(mean - 25) < 2, "mean scene length %g", mean);
    c.seed = 2;
    cr_assert_eq(splitee_stream_generate(&im, &c, b, sb, cb, &e), 0);
    cr_assert_neq(memcmp(ca, cb, c.frames * 4), 0);
    free(a);
    free(b);
    free(sa);
    free(sb);
    free(ca);
    free(cb);
    splitee_images_free(&im);
}

Test(stream, no_shift_no_noise_is_the_image)
{
    splitee_images im = images(5, 4, 6);
    splitee_stream_config c = { 40, 1.0, 0, 0.0, 9 };   /* mean 1: every frame a new scene */
    float f[40 * 24];
    int32_t src[40], scene[40];
    splitee_error e;
    cr_assert_eq(splitee_stream_generate(&im, &c, f, src, scene, &e), 0, "%s", e.msg);
    for (int t = 0; t < 40; t++) {
        cr_assert_eq(scene[t], t);
        for (int p = 0; p < 24; p++)
            cr_assert_eq(f[t * 24 + p], (float)(im.pixels[src[t] * 24 + p] / 255.0));
    }
    splitee_images_free(&im);
}

Test(stream, bad_input_is_refused)
{
    splitee_images im = images(5, 4, 4);
    splitee_stream_config c;
    splitee_stream_config_default(&c);
    c.frames = 10;
    float f[160];
    int32_t s[10], sc[10];
    splitee_error e;
    splitee_stream_config b = c;
    b.mean_scene = 0.5;
    cr_assert_eq(splitee_stream_generate(&im, &b, f, s, sc, &e), SPLITEE_ERR_VALUE);
    cr_assert_str_eq(e.msg, "stream: mean scene length must be a number >= 1 frame (got 0.5)");
    b = c;
    b.sigma = -1;
    cr_assert_eq(splitee_stream_generate(&im, &b, f, s, sc, &e), SPLITEE_ERR_VALUE);
    b = c;
    b.max_shift = 4;
    cr_assert_eq(splitee_stream_generate(&im, &b, f, s, sc, &e), SPLITEE_ERR_VALUE);
    cr_assert_str_eq(e.msg, "stream: shift must be in 0..3 pixels (got 4)");
    b = c;
    b.frames = 0;
    cr_assert_eq(splitee_stream_generate(&im, &b, f, s, sc, &e), SPLITEE_ERR_VALUE);
    im.count = 1;
    cr_assert_eq(splitee_stream_generate(&im, &c, f, s, sc, &e), SPLITEE_ERR_ARG);
    im.count = 5;
    cr_assert_eq(splitee_stream_generate(&im, &c, NULL, s, sc, &e), SPLITEE_ERR_ARG);
    splitee_images_free(&im);
}
