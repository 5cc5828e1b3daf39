/* test_batch.c -- Criterion tests for batch inference (batch.h) on the
 * shipped model (../data/model; SPLITEE_TEST_MODEL overrides the folder)
 * and the 16 Fashion-MNIST fixture images: 1, 2, 3 and more threads give
 * bit-identical tables, equal to a plain loop on one run state; progress
 * comes on the calling thread from 0 to the total; the first failing
 * image is reported, the same for any thread count; bad arguments are
 * refused. */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "splitee/batch.h"
#include "splitee/engine.h"
#include "splitee/image.h"

#define IMAGES "fixtures/fmnist16-images-idx3-ubyte.gz"

static splitee_model *model;
static splitee_images im;
static size_t per;   /* logits per sample: layers x classes */

static void setup(void)
{
    const char *e = getenv("SPLITEE_TEST_MODEL");
    splitee_error err = { 0, "" };
    cr_assert_eq(splitee_model_load(e && *e ? e : "../data/model", &model, &err), 0, "%s", err.msg);
    cr_assert_eq(splitee_idx_load(IMAGES, NULL, &im, &err), 0, "%s", err.msg);
    const splitee_model_config *c = splitee_model_get_config(model);
    per = (size_t)c->layers * (size_t)c->classes;
}

static void teardown(void)
{
    splitee_images_release(&im);
    splitee_model_free(model);
}

/* The naive reference: one state, one distorter, one image after another. */
static float *plain_loop(const splitee_distortion_config *dc)
{
    splitee_error err = { 0, "" };
    splitee_engine_state *s;
    splitee_distorter *d;
    cr_assert_eq(splitee_engine_state_create(model, &s, &err), 0, "%s", err.msg);
    cr_assert_eq(splitee_distorter_create(dc, im.rows, im.cols, &d, &err), 0, "%s", err.msg);
    float *out = malloc(im.count * per * sizeof *out), px[28 * 28];
    for (size_t k = 0; k < im.count; k++) {
        splitee_distorter_apply(d, im.pixels + k * im.rows * im.cols, k, px);
        cr_assert_eq(splitee_engine_forward(s, px, out + k * per, &err), 0, "%s", err.msg);
    }
    splitee_distorter_free(d);
    splitee_engine_state_free(s);
    return out;
}

static float *batch(const splitee_distortion_config *dc, int threads)
{
    splitee_batch_config bc;
    splitee_batch_config_default(&bc);
    bc.threads = threads;
    float *out = malloc(im.count * per * sizeof *out);
    memset(out, 0xff, im.count * per * sizeof *out);   /* NaN: every row must be written */
    splitee_error err = { 0, "" };
    cr_assert_eq(splitee_batch_forward_images(model, &im, dc, &bc, out, &err), 0, "%d threads: %s",
                 threads, err.msg);
    return out;
}

static void same_for_any_thread_count(const splitee_distortion_config *dc)
{
    float *ref = plain_loop(dc);
    const int threads[] = { 1, 2, 3, 5, 16, 64 };
    for (size_t i = 0; i < sizeof threads / sizeof *threads; i++) {
        float *got = batch(dc, threads[i]);
        cr_assert_eq(memcmp(got, ref, im.count * per * sizeof *got), 0,
                     "%d threads: the table differs from the plain loop", threads[i]);
        free(got);
    }
    free(ref);
}

Test(batch, clean_images_bit_identical_for_any_thread_count, .init = setup, .fini = teardown)
{
    cr_assert_eq(im.count, 16);
    splitee_distortion_config dc;
    splitee_distortion_config_default(&dc);
    same_for_any_thread_count(&dc);
}

Test(batch, noisy_images_bit_identical_for_any_thread_count, .init = setup, .fini = teardown)
{
    /* noise is seeded by the image index: a worker must pass the global one */
    splitee_distortion_config dc;
    splitee_error err = { 0, "" };
    cr_assert_eq(splitee_distortion_domain("noise", &dc, &err), 0, "%s", err.msg);
    same_for_any_thread_count(&dc);
}

Test(batch, no_distortion_means_clean, .init = setup, .fini = teardown)
{
    splitee_distortion_config dc;
    splitee_distortion_config_default(&dc);
    float *ref = plain_loop(&dc), *got = batch(NULL, 2);
    cr_assert_eq(memcmp(got, ref, im.count * per * sizeof *got), 0);
    free(ref);
    free(got);
}

/* The float32 images of the fixture, p / 255 as the clean distorter gives. */
static float *float_pixels(void)
{
    size_t npx = im.rows * im.cols;
    float *px = malloc(im.count * npx * sizeof *px);
    for (size_t i = 0; i < im.count * npx; i++)
        px[i] = (float)(im.pixels[i] / 255.0);
    return px;
}

Test(batch, float_pixels_equal_images, .init = setup, .fini = teardown)
{
    splitee_distortion_config dc;
    splitee_distortion_config_default(&dc);
    float *ref = plain_loop(&dc), *px = float_pixels();
    float *got = malloc(im.count * per * sizeof *got);
    splitee_batch_config bc;
    splitee_batch_config_default(&bc);
    bc.threads = 3;
    splitee_error err = { 0, "" };
    cr_assert_eq(splitee_batch_forward_pixels(model, px, im.count, &bc, got, &err), 0, "%s", err.msg);
    cr_assert_eq(memcmp(got, ref, im.count * per * sizeof *got), 0);
    free(ref);
    free(px);
    free(got);
}

Test(batch, first_failing_image_is_reported_for_any_thread_count, .init = setup, .fini = teardown)
{
    /* images 5 and 11 are bad: with 2 threads the second worker (8..15)
     * may fail first, yet image 5 must be named */
    float *px = float_pixels(), *out = malloc(im.count * per * sizeof *out);
    size_t npx = im.rows * im.cols;
    px[5 * npx + 100] = NAN;
    px[11 * npx] = INFINITY;
    for (int threads = 1; threads <= 16; threads++) {
        splitee_batch_config bc;
        splitee_batch_config_default(&bc);
        bc.threads = threads;
        splitee_error err = { 0, "" };
        int rc = splitee_batch_forward_pixels(model, px, im.count, &bc, out, &err);
        cr_assert_eq(rc, SPLITEE_ERR_VALUE, "%d threads: rc %d (%s)", threads, rc, err.msg);
        cr_assert_str_eq(err.msg, "image 5: engine: input pixel 100 is not finite", "%d threads: %s", threads,
                         err.msg);
    }
    free(px);
    free(out);
}

typedef struct progress_log {
    pthread_t caller;
    int calls, off_thread, backwards;
    size_t first, last, prev, total;
} progress_log;

static void on_progress(void *ctx, size_t done, size_t total)
{
    progress_log *p = ctx;
    if (!pthread_equal(pthread_self(), p->caller))
        p->off_thread++;
    if (p->calls == 0)
        p->first = done;
    else if (done < p->prev)
        p->backwards++;
    p->prev = p->last = done;
    p->total = total;
    p->calls++;
}

Test(batch, progress_runs_on_the_calling_thread_from_zero_to_total, .init = setup, .fini = teardown)
{
    progress_log log = { pthread_self(), 0, 0, 0, 99, 0, 0, 0 };
    splitee_batch_config bc;
    splitee_batch_config_default(&bc);
    bc.threads = 3;
    bc.progress = on_progress;
    bc.progress_ctx = &log;
    bc.progress_interval_s = 0.001;
    float *out = malloc(im.count * per * sizeof *out);
    splitee_error err = { 0, "" };
    cr_assert_eq(splitee_batch_forward_images(model, &im, NULL, &bc, out, &err), 0, "%s", err.msg);
    cr_assert_geq(log.calls, 2);
    cr_assert_eq(log.off_thread, 0, "progress called from a worker");
    cr_assert_eq(log.backwards, 0);
    cr_assert_eq(log.first, 0);
    cr_assert_eq(log.last, im.count);
    cr_assert_eq(log.total, im.count);
    free(out);
}

Test(batch, refuses_bad_arguments, .init = setup, .fini = teardown)
{
    float *out = malloc(im.count * per * sizeof *out);
    splitee_batch_config bc;
    splitee_batch_config_default(&bc);
    splitee_error err = { 0, "" };
    bc.threads = 0;
    cr_assert_eq(splitee_batch_forward_images(model, &im, NULL, &bc, out, &err), SPLITEE_ERR_ARG);
    cr_assert_not_null(strstr(err.msg, "threads"), "%s", err.msg);
    bc.threads = 2;
    bc.progress = on_progress;
    bc.progress_interval_s = 0;
    cr_assert_eq(splitee_batch_forward_images(model, &im, NULL, &bc, out, &err), SPLITEE_ERR_ARG);
    cr_assert_not_null(strstr(err.msg, "interval"), "%s", err.msg);
    splitee_batch_config_default(&bc);
    cr_assert_eq(splitee_batch_forward_images(model, &im, NULL, &bc, NULL, &err), SPLITEE_ERR_ARG);
    splitee_images small = im;
    small.rows = small.cols = 14;
    small.count = 4;
    cr_assert_eq(splitee_batch_forward_images(model, &small, NULL, &bc, out, &err), SPLITEE_ERR_SHAPE);
    cr_assert_not_null(strstr(err.msg, "14x14"), "%s", err.msg);
    splitee_distortion_config dc;
    splitee_distortion_config_default(&dc);
    dc.kind = SPLITEE_DISTORTION_BLUR;
    dc.sigma = -1;
    cr_assert_lt(splitee_batch_forward_images(model, &im, &dc, &bc, out, &err), 0);
    free(out);
}

Test(batch, no_images_is_not_an_error, .init = setup, .fini = teardown)
{
    splitee_batch_config bc;
    splitee_batch_config_default(&bc);
    bc.threads = 4;
    splitee_images none = im;
    none.count = 0;
    splitee_error err = { 0, "" };
    cr_assert_eq(splitee_batch_forward_images(model, &none, NULL, &bc, NULL, &err), 0, "%s", err.msg);
}
