/* test_batch.c -- Criterion tests for batch inference (batch.h) on the
 * shipped model (../data/model; SPLITEE_TEST_MODEL overrides the folder)
 * and the 16 Fashion-MNIST fixture images: 1, 2, 3 and more threads give
 * bit-identical tables, equal to a plain loop on one run state; progress
 * comes on the calling thread from 0 to the total; the first failing
 * image is reported, the same for any thread count; bad arguments are
 * refused; a fixed split's statistics match a naive split-and-resume
 * loop and do not depend on the thread count. */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "splitee/batch.h"
#include "splitee/engine.h"
#include "splitee/image.h"

#define IMAGES "fixtures/fmnist16-images-idx3-ubyte.gz"
#define LABELS "fixtures/fmnist16-labels-idx1-ubyte"

static splitee_model *model;
static splitee_images im;
static size_t per;   /* logits per sample: layers x classes */

static void setup(void)
{
    const char *e = getenv("SPLITEE_TEST_MODEL");
    splitee_error err = { 0, "" };
    cr_assert_eq(splitee_model_load(e && *e ? e : "../data/model", &model, &err), 0, "%s", err.msg);
    cr_assert_eq(splitee_idx_load(IMAGES, LABELS, &im, &err), 0, "%s", err.msg);
    const splitee_model_config *c = splitee_model_get_config(model);
    per = (size_t)c->layers * (size_t)c->classes;
}

static void teardown(void)
{
    splitee_images_free(&im);
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

/* Regression (issue 8): a forward pass that overflows float32 (here finite
 * but huge pixels; the same as overflowing weights) wrote an all-NaN table
 * with exit 0. It is an error naming the image and the exit. */
Test(batch, non_finite_logits_are_an_error, .init = setup, .fini = teardown)
{
    float *px = float_pixels(), *out = malloc(im.count * per * sizeof *out);
    size_t npx = im.rows * im.cols;
    for (size_t i = 0; i < npx; i++)
        px[3 * npx + i] = 3e38f;   /* finite; the patch embedding overflows */
    splitee_batch_config bc;
    splitee_batch_config_default(&bc);
    bc.threads = 2;
    splitee_error err = { 0, "" };
    int rc = splitee_batch_forward_pixels(model, px, im.count, &bc, out, &err);
    cr_assert_eq(rc, SPLITEE_ERR_VALUE, "rc %d (%s)", rc, err.msg);
    cr_assert(strstr(err.msg, "image 3: exit ") == err.msg && strstr(err.msg, "non-finite logit"), "%s", err.msg);
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
    dc.kind = SPLITEE_DISTORTION_KIND_BLUR;
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

/* ---- a fixed split ------------------------------------------------------------ */

static int argmax(const float *z, int k)
{
    int b = 0;
    for (int i = 1; i < k; i++)
        if (z[i] > z[b])
            b = i;
    return b;
}

/* The naive reference: the full forward pass gives every exit; an
 * offloaded sample's activation goes out as floats, through the payload
 * codec and back in by hand. */
static splitee_split_stats naive_split(const splitee_split_config *sc, const splitee_distortion_config *dc)
{
    const splitee_model_config *c = splitee_model_get_config(model);
    const int L = c->layers, C = c->classes, K = sc->split;
    splitee_error err = { 0, "" };
    splitee_engine_state *s, *cloud;
    splitee_distorter *d;
    cr_assert_eq(splitee_engine_state_create(model, &s, &err), 0);
    cr_assert_eq(splitee_engine_state_create(model, &cloud, &err), 0);
    cr_assert_eq(splitee_distorter_create(dc, im.rows, im.cols, &d, &err), 0);
    splitee_shape sh;
    size_t rows, cols;
    cr_assert_eq(splitee_model_split_shape(model, K, &sh), 0);
    splitee_shape_payload_dims(&sh, &rows, &cols);
    size_t nact = rows * cols;
    float px[28 * 28], *full = malloc(per * sizeof *full), *act = malloc(nact * sizeof *act),
          *act2 = malloc(nact * sizeof *act2), zl[64];
    size_t cap = splitee_payload_size(sc->encoding, rows, cols);
    unsigned char *buf = malloc(cap);
    double z[64];
    splitee_split_stats r;
    memset(&r, 0, sizeof r);
    r.samples = im.count;
    r.payload_bytes = cap;
    for (size_t k = 0; k < im.count; k++) {
        int y = im.labels[k];
        splitee_distorter_apply(d, im.pixels + k * im.rows * im.cols, k, px);
        cr_assert_eq(splitee_engine_forward(s, px, full, &err), 0, "%s", err.msg);
        int pred_full = argmax(full + (size_t)(L - 1) * C, C);
        r.correct_full += pred_full == y;
        for (int i = 0; i < C; i++)
            z[i] = full[(size_t)(K - 1) * C + i];
        int32_t pred_k;
        double conf = splitee_confidence_of(z, C, sc->confidence, &pred_k);
        r.correct_exit_k += pred_k == y;
        if (K == L || conf >= sc->alpha) {
            r.exited++;
            r.correct += pred_k == y;
            r.correct_lossless += pred_k == y;
            continue;
        }
        cr_assert_eq(splitee_engine_embed(s, px, &err), 0);
        cr_assert_eq(splitee_engine_run_layers(s, 0, K, &err), 0);
        cr_assert_eq(splitee_engine_export(s, act, nact, &err), 0);
        size_t n;
        cr_assert_eq(splitee_payload_encode(sc->encoding, K, act, rows, cols, buf, cap, &n,
                                            &err), 0, "%s", err.msg);
        cr_assert_eq(splitee_payload_decode(buf, n, act2, nact, NULL, &err), 0, "%s", err.msg);
        cr_assert_eq(splitee_engine_import(cloud, K, act2, &err), 0);
        cr_assert_eq(splitee_engine_run_layers(cloud, K, L, &err), 0);
        cr_assert_eq(splitee_engine_exit_logits(cloud, L - 1, zl, &err), 0);
        r.offloaded++;
        int pred = argmax(zl, C);
        r.correct += pred == y;
        r.correct_lossless += pred_full == y;
        r.changed += pred != pred_full;
        for (int i = 0; i < C; i++) {
            double dd = fabs((double)zl[i] - (double)full[(size_t)(L - 1) * C + i]);
            if (dd > r.max_diff)
                r.max_diff = dd;
        }
    }
    free(full);
    free(act);
    free(act2);
    free(buf);
    splitee_distorter_free(d);
    splitee_engine_state_free(s);
    splitee_engine_state_free(cloud);
    return r;
}

static void same_stats(const splitee_split_stats *a, const splitee_split_stats *b, const char *what)
{
    cr_assert_eq(a->samples, b->samples, "%s: samples", what);
    cr_assert_eq(a->exited, b->exited, "%s: exited", what);
    cr_assert_eq(a->offloaded, b->offloaded, "%s: offloaded", what);
    cr_assert_eq(a->correct, b->correct, "%s: correct", what);
    cr_assert_eq(a->correct_lossless, b->correct_lossless, "%s: correct_lossless", what);
    cr_assert_eq(a->correct_full, b->correct_full, "%s: correct_full", what);
    cr_assert_eq(a->correct_exit_k, b->correct_exit_k, "%s: correct_exit_k", what);
    cr_assert_eq(a->changed, b->changed, "%s: changed", what);
    cr_assert_eq(a->payload_bytes, b->payload_bytes, "%s: payload_bytes", what);
    cr_assert_eq(a->max_diff, b->max_diff, "%s: max_diff %g vs %g", what, a->max_diff, b->max_diff);
}

Test(batch, split_matches_a_naive_loop_for_any_thread_count, .init = setup, .fini = teardown)
{
    cr_assert_leq(splitee_model_get_config(model)->classes, 64);
    splitee_distortion_config dc;
    splitee_error err = { 0, "" };
    cr_assert_eq(splitee_distortion_domain("blur", &dc, &err), 0);
    const splitee_payload_encoding encs[3] = { SPLITEE_PAYLOAD_ENCODING_F32, SPLITEE_PAYLOAD_ENCODING_F16, SPLITEE_PAYLOAD_ENCODING_I8 };
    const int splits[3] = { 2, 5, 12 };
    for (int e = 0; e < 3; e++) {
        splitee_split_config sc;
        splitee_split_config_default(&sc);
        sc.split = splits[e];
        sc.encoding = encs[e];
        sc.alpha = 0.9;
        sc.confidence = e == 1 ? SPLITEE_CONFIDENCE_ENTROPY : SPLITEE_CONFIDENCE_MAX_SOFTMAX;
        splitee_split_stats want = naive_split(&sc, &dc);
        if (sc.split < 12)
            cr_assert_gt(want.offloaded, 0, "split %d offloads nothing: a weak test", sc.split);
        for (int threads = 1; threads <= 4; threads++) {
            splitee_batch_config bc;
            splitee_batch_config_default(&bc);
            bc.threads = threads;
            splitee_split_stats got;
            cr_assert_eq(splitee_batch_split_images(model, &im, &dc, &sc, &bc, &got, &err), 0, "%s", err.msg);
            char what[64];
            snprintf(what, sizeof what, "%s split %d, %d threads", splitee_payload_encoding_name(sc.encoding),
                     sc.split, threads);
            same_stats(&got, &want, what);
        }
    }
}

Test(batch, split_refuses_bad_arguments, .init = setup, .fini = teardown)
{
    splitee_batch_config bc;
    splitee_batch_config_default(&bc);
    splitee_split_config sc;
    splitee_split_config_default(&sc);
    splitee_split_stats st;
    splitee_error err = { 0, "" };
    sc.split = 13;
    cr_assert_eq(splitee_batch_split_images(model, &im, NULL, &sc, &bc, &st, &err), SPLITEE_ERR_ARG);
    cr_assert_not_null(strstr(err.msg, "13"), "%s", err.msg);
    sc.split = 0;
    cr_assert_eq(splitee_batch_split_images(model, &im, NULL, &sc, &bc, &st, &err), SPLITEE_ERR_ARG);
    sc.split = 3;
    sc.alpha = 1.5;
    cr_assert_eq(splitee_batch_split_images(model, &im, NULL, &sc, &bc, &st, &err), SPLITEE_ERR_ARG);
    sc.alpha = 0.8;
    sc.encoding = (splitee_payload_encoding)7;
    cr_assert_eq(splitee_batch_split_images(model, &im, NULL, &sc, &bc, &st, &err), SPLITEE_ERR_ARG);
    sc.encoding = SPLITEE_PAYLOAD_ENCODING_F32;
    splitee_images unlabelled = im;
    unlabelled.labels = NULL;
    cr_assert_eq(splitee_batch_split_images(model, &unlabelled, NULL, &sc, &bc, &st, &err), SPLITEE_ERR_ARG);
    cr_assert_not_null(strstr(err.msg, "labels"), "%s", err.msg);
    cr_assert_eq(st.samples, 0, "stats are zeroed on failure");
}

/* ---- float32 inputs of any shape (a version 2 model, tests/tiny_models.h) ---- */

#include "splitee/npy.h"
#include "testutil.h"
#include "tiny_models.h"

/* The tiny CNN's (2, 12, 12) inputs: raw inputs go through the model's
 * input mean/std exactly as splitee_engine_forward does, for any thread
 * count; normalised ones skip it, and normalising by hand in float32 gives
 * the same bits. */
Test(batch, inputs_of_a_v2_model_raw_and_normalised)
{
    tm_model tm;
    tm_cnn(&tm, 5);
    const char *d = tm_write("batch-cnn", NULL, &tm);
    tm_free(&tm);
    splitee_model *m;
    splitee_error err = { 0, "" };
    cr_assert_eq(splitee_model_load(d, &m, &err), 0, "%s", err.msg);
    const splitee_model_config *c = splitee_model_get_config(m);
    const size_t n = 7, ne = splitee_model_split_elems(m, 0), pl = (size_t)c->layers * (size_t)c->classes;
    cr_assert_eq(ne, 2 * 12 * 12);
    float *x = malloc(n * ne * sizeof *x), *xn = malloc(n * ne * sizeof *xn);
    float *ref = malloc(n * pl * sizeof *ref), *got = malloc(n * pl * sizeof *got);
    for (size_t i = 0; i < n * ne; i++) {
        x[i] = (float)((i * 2654435761u % 1000) / 999.0);
        xn[i] = (x[i] - (float)c->input_mean) / (float)c->input_std;
    }
    splitee_engine_state *s;
    cr_assert_eq(splitee_engine_state_create(m, &s, &err), 0, "%s", err.msg);
    for (size_t k = 0; k < n; k++)
        cr_assert_eq(splitee_engine_forward(s, x + k * ne, ref + k * pl, &err), 0, "%s", err.msg);
    splitee_engine_state_free(s);
    splitee_batch_config bc;
    splitee_batch_config_default(&bc);
    for (int t = 1; t <= 4; t += 3) {
        bc.threads = t;
        memset(got, 0xff, n * pl * sizeof *got);
        cr_assert_eq(splitee_batch_forward_pixels(m, x, n, &bc, got, &err), 0, "%s", err.msg);
        cr_expect_eq(memcmp(got, ref, n * pl * sizeof *got), 0, "raw inputs, %d threads", t);
        memset(got, 0xff, n * pl * sizeof *got);
        cr_assert_eq(splitee_batch_forward_normalised(m, xn, n, &bc, got, &err), 0, "%s", err.msg);
        cr_expect_eq(memcmp(got, ref, n * pl * sizeof *got), 0, "normalised inputs, %d threads", t);
    }
    /* raw inputs given as normalised ones are a different network input */
    cr_assert_eq(splitee_batch_forward_normalised(m, x, n, &bc, got, &err), 0, "%s", err.msg);
    cr_expect_neq(memcmp(got, ref, n * pl * sizeof *got), 0);
    x[ne + 3] = NAN;
    cr_expect_eq(splitee_batch_forward_pixels(m, x, n, &bc, got, &err), SPLITEE_ERR_VALUE);
    cr_expect(strncmp(err.msg, "image 1: ", 9) == 0, "%s", err.msg);
    cr_expect_eq(splitee_batch_forward_normalised(m, NULL, n, &bc, got, &err), SPLITEE_ERR_ARG);
    free(x);
    free(xn);
    free(ref);
    free(got);
    splitee_model_free(m);
}

/* The shipped model's parity fixture: normalised inputs.npy through the
 * batch give PyTorch's logits.npy within 1e-4. */
Test(batch, normalised_parity_fixture_matches_pytorch, .init = setup, .fini = teardown)
{
    if (getenv("SPLITEE_TEST_MODEL") && *getenv("SPLITEE_TEST_MODEL"))
        cr_skip_test("the parity fixture belongs to ../data/model");
    splitee_array in, want;
    splitee_error err = { 0, "" };
    cr_assert_eq(splitee_npy_read("../data/model/fixture/inputs.npy", &in, &err), 0, "%s", err.msg);
    cr_assert_eq(splitee_npy_read("../data/model/fixture/logits.npy", &want, &err), 0, "%s", err.msg);
    cr_assert_eq(in.dtype, SPLITEE_DTYPE_F32);
    size_t n = in.shape[0];
    cr_assert_eq(want.count, n * per);
    float *got = malloc(n * per * sizeof *got);
    splitee_batch_config bc;
    splitee_batch_config_default(&bc);
    bc.threads = 2;
    cr_assert_eq(splitee_batch_forward_normalised(model, in.data, n, &bc, got, &err), 0, "%s", err.msg);
    const float *w = want.data;
    double md = 0;
    for (size_t i = 0; i < n * per; i++)
        md = fmax(md, fabs((double)got[i] - (double)w[i]));
    cr_expect(md < 1e-4, "max |C - PyTorch| = %g", md);
    free(got);
    splitee_array_free(&in);
    splitee_array_free(&want);
}
