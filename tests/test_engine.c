/* test_engine.c -- Criterion tests for the inference engine (engine.h) on the
 * shipped model (../data/model; SPLITEE_TEST_MODEL overrides the folder):
 * parity of every exit with PyTorch's logits on the fixture, layer-by-layer
 * runs, split + resume through every payload encoding at every layer,
 * threads, misuse errors, and -- when the Fashion-MNIST test set is
 * installed -- the shipped exit-logit tables of all four domains
 * reproduced from the IDX images through the C distortions. */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "splitee/engine.h"
#include "splitee/image.h"
#include "splitee/npy.h"
#include "testutil.h"

#define PARITY_TOL 1e-4  /* |C - PyTorch| per logit, the engine's contract */
#define F16_TOL 1e-2     /* |resumed - full| per logit after a float16 payload (shipped: 1.5e-3) */
#define I8_TOL 0.25      /* ... after an int8 payload, one per-tensor scale (shipped: 0.10) */
#define DATASET "/usr/share/datasets/fashion-mnist"

static const char *model_dir(void)
{
    const char *e = getenv("SPLITEE_TEST_MODEL");
    return e && *e ? e : "../data/model";
}

/* "<model dir>/<rel>" in a static rotating buffer. */
static const char *model_file(const char *rel)
{
    static char bufs[4][1024];
    static int next;
    char *b = bufs[next++ & 3];
    snprintf(b, sizeof bufs[0], "%s/%s", model_dir(), rel);
    return b;
}

static splitee_model *load_model(void)
{
    splitee_model *m = NULL;
    splitee_error err = { 0, "" };
    int rc = splitee_model_load(model_dir(), &m, &err);
    cr_assert_eq(rc, 0, "%s", err.msg);
    return m;
}

static splitee_engine_state *new_state(const splitee_model *m)
{
    splitee_engine_state *s = NULL;
    splitee_error err = { 0, "" };
    cr_assert_eq(splitee_engine_state_create(m, &s, &err), 0, "%s", err.msg);
    return s;
}

/* The fixture: inputs (n, 28, 28) and PyTorch logits (n, layers, classes). */
typedef struct fixture {
    splitee_array in, out;
    size_t n;
} fixture;

static void load_fixture(const splitee_model_config *c, fixture *f)
{
    splitee_error err = { 0, "" };
    cr_assert_eq(splitee_npy_read(model_file("fixture/inputs.npy"), &f->in, &err), 0, "%s", err.msg);
    cr_assert_eq(splitee_npy_read(model_file("fixture/logits.npy"), &f->out, &err), 0, "%s",
                 err.msg);
    cr_assert(f->in.dtype == SPLITEE_DTYPE_F32 && f->in.ndim == 3 &&
              f->in.shape[1] == (size_t)c->image_size && f->in.shape[2] == (size_t)c->image_size);
    cr_assert(f->out.dtype == SPLITEE_DTYPE_F32 && f->out.ndim == 3 &&
              f->out.shape[0] == f->in.shape[0] && f->out.shape[1] == (size_t)c->layers &&
              f->out.shape[2] == (size_t)c->classes);
    f->n = f->in.shape[0];
}

static void free_fixture(fixture *f)
{
    splitee_array_free(&f->in);
    splitee_array_free(&f->out);
}

static const float *fixture_input(const fixture *f, const splitee_model_config *c, size_t i)
{
    return (const float *)f->in.data + i * (size_t)c->image_size * (size_t)c->image_size;
}

/* All exits' logits of every fixture input: (n, layers, classes), malloc'd. */
static float *forward_all(splitee_engine_state *s, const fixture *f, const splitee_model_config *c)
{
    size_t per = (size_t)c->layers * (size_t)c->classes;
    float *out = malloc(f->n * per * sizeof *out);
    splitee_error err = { 0, "" };
    for (size_t i = 0; i < f->n; i++)
        cr_assert_eq(splitee_engine_forward_normalised(s, fixture_input(f, c, i), out + i * per,
                                                       &err), 0, "%s", err.msg);
    return out;
}

Test(engine, every_exit_matches_pytorch_fixture)
{
    splitee_model *m = load_model();
    const splitee_model_config *c = splitee_model_get_config(m);
    splitee_engine_state *s = new_state(m);
    fixture f;
    load_fixture(c, &f);
    float *got = forward_all(s, &f, c);
    const float *want = f.out.data;
    double worst = 0.0;
    size_t total = f.n * (size_t)c->layers * (size_t)c->classes;
    for (size_t i = 0; i < total; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        worst = d > worst ? d : worst;
        cr_assert(d <= PARITY_TOL, "sample %zu exit %zu class %zu: C %.7g vs PyTorch %.7g",
                  i / ((size_t)c->layers * c->classes), i / c->classes % c->layers,
                  i % c->classes, (double)got[i], (double)want[i]);
    }
    cr_log_info("max |C - PyTorch| logit difference: %.3g over %zu logits", worst, total);
    free(got);
    free_fixture(&f);
    splitee_engine_state_free(s);
    splitee_model_free(m);
}

/* The same parity with the portable kernels forced (SPLITEE_SIMD=off is
 * read at model load; each Criterion test runs in its own process). */
Test(engine, portable_kernels_match_pytorch_fixture)
{
    setenv("SPLITEE_SIMD", "off", 1);
    splitee_model *m = load_model();
    unsetenv("SPLITEE_SIMD");
    const splitee_model_config *c = splitee_model_get_config(m);
    splitee_engine_state *s = new_state(m);
    fixture f;
    load_fixture(c, &f);
    float *got = forward_all(s, &f, c);
    const float *want = f.out.data;
    double worst = 0.0;
    size_t total = f.n * (size_t)c->layers * (size_t)c->classes;
    for (size_t i = 0; i < total; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        worst = d > worst ? d : worst;
        cr_assert(d <= PARITY_TOL, "portable: logit %zu: C %.7g vs PyTorch %.7g", i,
                  (double)got[i], (double)want[i]);
    }
    cr_log_info("portable kernels: max |C - PyTorch| %.3g over %zu logits", worst, total);
    free(got);
    free_fixture(&f);
    splitee_engine_state_free(s);
    splitee_model_free(m);
}

Test(engine, step_by_step_equals_forward)
{
    splitee_model *m = load_model();
    const splitee_model_config *c = splitee_model_get_config(m);
    splitee_engine_state *s = new_state(m);
    fixture f;
    load_fixture(c, &f);
    float *full = forward_all(s, &f, c), logits[64];
    splitee_error err = { 0, "" };
    for (size_t i = 0; i < f.n; i++) {
        cr_assert_eq(splitee_engine_embed_normalised(s, fixture_input(&f, c, i), &err), 0);
        cr_assert_eq(splitee_engine_depth(s), 0);
        for (int l = 0; l < c->layers; l++) {
            cr_assert_eq(splitee_engine_run_layer(s, l, &err), 0, "%s", err.msg);
            cr_assert_eq(splitee_engine_depth(s), l + 1);
            cr_assert_eq(splitee_engine_exit_logits(s, l, logits, &err), 0, "%s", err.msg);
            /* reading an exit twice changes nothing */
            cr_assert_eq(splitee_engine_exit_logits(s, l, logits, &err), 0, "%s", err.msg);
            const float *want = full + (i * (size_t)c->layers + (size_t)l) * (size_t)c->classes;
            cr_assert_eq(memcmp(logits, want, (size_t)c->classes * sizeof *logits), 0,
                         "sample %zu exit %d differs from splitee_engine_forward", i, l);
        }
    }
    free(full);
    free_fixture(&f);
    splitee_engine_state_free(s);
    splitee_model_free(m);
}

/* Splits every fixture sample after every layer k (0..layers), sends the
 * activation through a payload of `enc` to a state of a separately loaded
 * model, resumes there and compares every later exit with the unsplit
 * run; returns the largest difference. */
static double split_and_resume(splitee_payload_encoding enc)
{
    splitee_model *dev = load_model(), *cloud = load_model();
    const splitee_model_config *c = splitee_model_get_config(dev);
    splitee_engine_state *ds = new_state(dev), *cs = new_state(cloud);
    fixture f;
    load_fixture(c, &f);
    float *full = forward_all(ds, &f, c), logits[64];
    size_t cap = splitee_payload_size(enc, (size_t)c->tokens, (size_t)c->dim), n;
    cr_assert(cap > 0);
    unsigned char *buf = malloc(cap);
    splitee_error err = { 0, "" };
    double worst = 0.0;
    for (size_t i = 0; i < f.n; i++)
        for (int k = 0; k <= c->layers; k++) {
            cr_assert_eq(splitee_engine_embed_normalised(ds, fixture_input(&f, c, i), &err), 0);
            cr_assert_eq(splitee_engine_run_layers(ds, 0, k, &err), 0, "%s", err.msg);
            cr_assert_eq(splitee_engine_export_payload(ds, enc, buf, cap, &n, &err), 0, "%s",
                         err.msg);
            cr_assert_eq(n, cap);
            cr_assert_eq(splitee_engine_import_payload(cs, buf, n, &err), 0, "%s", err.msg);
            cr_assert_eq(splitee_engine_depth(cs), k);
            for (int l = k; l < c->layers; l++) {
                cr_assert_eq(splitee_engine_run_layer(cs, l, &err), 0, "%s", err.msg);
                cr_assert_eq(splitee_engine_exit_logits(cs, l, logits, &err), 0, "%s", err.msg);
                const float *want = full + (i * (size_t)c->layers + (size_t)l) * (size_t)c->classes;
                if (enc == SPLITEE_PAYLOAD_ENCODING_F32)
                    cr_assert_eq(memcmp(logits, want, (size_t)c->classes * sizeof *logits), 0,
                                 "sample %zu split %d exit %d: not bit-identical", i, k, l);
                for (int j = 0; j < c->classes; j++) {
                    double d = fabs((double)logits[j] - (double)want[j]);
                    worst = d > worst ? d : worst;
                }
            }
        }
    free(buf);
    free(full);
    free_fixture(&f);
    splitee_engine_state_free(ds);
    splitee_engine_state_free(cs);
    splitee_model_free(dev);
    splitee_model_free(cloud);
    return worst;
}

Test(engine, split_f32_resumes_bit_identically)
{
    cr_assert_eq(split_and_resume(SPLITEE_PAYLOAD_ENCODING_F32), 0.0);
}

Test(engine, split_f16_resumes_within_tolerance)
{
    double worst = split_and_resume(SPLITEE_PAYLOAD_ENCODING_F16);
    cr_log_info("float16 payload: max |resumed - full| logit difference %.3g", worst);
    cr_assert(worst <= F16_TOL, "float16 resume differs by %g (tolerance %g)", worst, F16_TOL);
}

Test(engine, split_int8_resumes_within_tolerance)
{
    double worst = split_and_resume(SPLITEE_PAYLOAD_ENCODING_I8);
    cr_log_info("int8 payload: max |resumed - full| logit difference %.3g", worst);
    cr_assert(worst <= I8_TOL, "int8 resume differs by %g (tolerance %g)", worst, I8_TOL);
}

Test(engine, export_import_floats_resume_bit_identically)
{
    splitee_model *m = load_model();
    const splitee_model_config *c = splitee_model_get_config(m);
    splitee_engine_state *a = new_state(m), *b = new_state(m);
    fixture f;
    load_fixture(c, &f);
    size_t n = (size_t)c->tokens * (size_t)c->dim;
    float *act = malloc(n * sizeof *act), want[64], got[64];
    splitee_error err = { 0, "" };
    int k = c->layers / 2;
    cr_assert_eq(splitee_engine_embed_normalised(a, fixture_input(&f, c, 3), &err), 0);
    cr_assert_eq(splitee_engine_run_layers(a, 0, k, &err), 0);
    cr_assert_eq(splitee_engine_export(a, act, n, &err), 0, "%s", err.msg);
    cr_assert_eq(memcmp(act, splitee_engine_activation(a), n * sizeof *act), 0);
    cr_assert_eq(splitee_engine_import(b, k, act, &err), 0, "%s", err.msg);
    cr_assert_eq(splitee_engine_run_layers(a, k, c->layers, &err), 0);
    cr_assert_eq(splitee_engine_run_layers(b, k, c->layers, &err), 0);
    cr_assert_eq(splitee_engine_exit_logits(a, c->layers - 1, want, &err), 0);
    cr_assert_eq(splitee_engine_exit_logits(b, c->layers - 1, got, &err), 0);
    cr_assert_eq(memcmp(want, got, (size_t)c->classes * sizeof *got), 0);
    cr_assert_eq(splitee_engine_export(a, act, n - 1, &err), SPLITEE_ERR_OVERFLOW);
    act[5] = NAN;
    cr_assert_eq(splitee_engine_import(b, k, act, &err), SPLITEE_ERR_VALUE);
    cr_assert_eq(splitee_engine_depth(b), -1);
    cr_assert_null(splitee_engine_activation(b));
    cr_assert_eq(splitee_engine_import(b, c->layers + 1, act, &err), SPLITEE_ERR_ARG);
    free(act);
    free_fixture(&f);
    splitee_engine_state_free(a);
    splitee_engine_state_free(b);
    splitee_model_free(m);
}

/* ---- threads --------------------------------------------------------------- */

typedef struct job {
    const splitee_model *m;
    const fixture *f;
    size_t first, step;   /* samples first, first + step, ... */
    float *out;           /* (n, layers, classes) */
    int rc;
} job;

static void *run_job(void *arg)
{
    job *j = arg;
    const splitee_model_config *c = splitee_model_get_config(j->m);
    size_t per = (size_t)c->layers * (size_t)c->classes;
    splitee_engine_state *s = NULL;
    j->rc = splitee_engine_state_create(j->m, &s, NULL);
    for (int rep = 0; rep < 3 && j->rc == 0; rep++)
        for (size_t i = j->first; i < j->f->n && j->rc == 0; i += j->step)
            j->rc = splitee_engine_forward_normalised(s, fixture_input(j->f, c, i),
                                                      j->out + i * per, NULL);
    splitee_engine_state_free(s);
    return NULL;
}

Test(engine, two_threads_on_one_model_match_one)
{
    splitee_model *m = load_model();
    const splitee_model_config *c = splitee_model_get_config(m);
    splitee_engine_state *s = new_state(m);
    fixture f;
    load_fixture(c, &f);
    float *one = forward_all(s, &f, c);
    size_t bytes = f.n * (size_t)c->layers * (size_t)c->classes * sizeof(float);
    float *two = calloc(1, bytes);
    job jobs[2] = { { m, &f, 0, 2, two, -1 }, { m, &f, 1, 2, two, -1 } };
    pthread_t th[2];
    for (int t = 0; t < 2; t++)
        cr_assert_eq(pthread_create(&th[t], NULL, run_job, &jobs[t]), 0);
    for (int t = 0; t < 2; t++) {
        pthread_join(th[t], NULL);
        cr_assert_eq(jobs[t].rc, 0);
    }
    cr_assert_eq(memcmp(one, two, bytes), 0, "threaded results differ from one thread");
    free(one);
    free(two);
    free_fixture(&f);
    splitee_engine_state_free(s);
    splitee_model_free(m);
}

/* ---- misuse ---------------------------------------------------------------- */

/* rc is `status` and err.msg contains `word`. */
static void expect(int rc, int status, const splitee_error *err, const char *word)
{
    cr_assert_eq(rc, status, "got %d (%s)", rc, err->msg);
    cr_assert_not_null(strstr(err->msg, word), "'%s' not in: %s", word, err->msg);
}

Test(engine, rejects_calls_out_of_order)
{
    splitee_model *m = load_model();
    const splitee_model_config *c = splitee_model_get_config(m);
    splitee_engine_state *s = new_state(m);
    fixture f;
    load_fixture(c, &f);
    splitee_error err = { 0, "" };
    float logits[64];
    unsigned char buf[16];
    cr_assert_eq(splitee_engine_depth(s), -1);
    expect(splitee_engine_run_layer(s, 0, &err), SPLITEE_ERR_ARG, &err, "before any input");
    expect(splitee_engine_exit_logits(s, 0, logits, &err), SPLITEE_ERR_ARG, &err, "depth -1");
    expect(splitee_engine_export_payload(s, SPLITEE_PAYLOAD_ENCODING_F32, buf, sizeof buf, NULL, &err),
           SPLITEE_ERR_ARG, &err, "no sample");
    cr_assert_eq(splitee_engine_embed_normalised(s, fixture_input(&f, c, 0), &err), 0);
    expect(splitee_engine_run_layer(s, 1, &err), SPLITEE_ERR_ARG, &err, "next layer is 0");
    expect(splitee_engine_run_layer(s, c->layers, &err), SPLITEE_ERR_ARG, &err, "out of range");
    expect(splitee_engine_exit_logits(s, 0, logits, &err), SPLITEE_ERR_ARG, &err,
           "exit i follows layer i");
    cr_assert_eq(splitee_engine_run_layers(s, 0, 2, &err), 0);
    expect(splitee_engine_exit_logits(s, 0, logits, &err), SPLITEE_ERR_ARG, &err, "depth 2");
    expect(splitee_engine_exit_logits(s, c->layers, logits, &err), SPLITEE_ERR_ARG, &err,
           "out of range");
    expect(splitee_engine_run_layers(s, 0, 4, &err), SPLITEE_ERR_ARG, &err, "at depth 2");
    expect(splitee_engine_run_layers(s, 2, c->layers + 1, &err), SPLITEE_ERR_ARG, &err,
           "bad layer range");
    cr_assert_eq(splitee_engine_depth(s), 2, "errors must not change the sample");
    expect(splitee_engine_export_payload(s, SPLITEE_PAYLOAD_ENCODING_F32, buf, sizeof buf, NULL, &err),
           SPLITEE_ERR_OVERFLOW, &err, "needs");
    float *bad = malloc(f.in.count / f.n * sizeof *bad);
    memcpy(bad, fixture_input(&f, c, 0), f.in.count / f.n * sizeof *bad);
    bad[100] = INFINITY;
    expect(splitee_engine_embed(s, bad, &err), SPLITEE_ERR_VALUE, &err, "pixel 100");
    cr_assert_eq(splitee_engine_depth(s), 2);
    free(bad);
    splitee_engine_state *none = (splitee_engine_state *)1;
    expect(splitee_engine_state_create(NULL, &none, &err), SPLITEE_ERR_ARG, &err, "no model");
    cr_assert_null(none);
    free_fixture(&f);
    splitee_engine_state_free(s);
    splitee_engine_state_free(NULL);
    splitee_model_free(m);
}

Test(engine, rejects_payloads_that_do_not_fit_the_model)
{
    splitee_model *m = load_model();
    const splitee_model_config *c = splitee_model_get_config(m);
    splitee_engine_state *s = new_state(m);
    splitee_error err = { 0, "" };
    size_t n = (size_t)c->tokens * (size_t)c->dim, len;
    float *act = calloc(n, sizeof *act);
    unsigned char *buf = malloc(splitee_payload_size(SPLITEE_PAYLOAD_ENCODING_F32, c->tokens, c->dim + 1));
    cr_assert_eq(splitee_payload_encode(SPLITEE_PAYLOAD_ENCODING_F32, 1, act, (size_t)c->tokens - 1,
                                        (size_t)c->dim, buf, n * 4 + 64, &len, &err), 0);
    expect(splitee_engine_import_payload(s, buf, len, &err), SPLITEE_ERR_SHAPE, &err,
           "does not fit");
    cr_assert_eq(splitee_payload_encode(SPLITEE_PAYLOAD_ENCODING_F32, c->layers + 1, act, (size_t)c->tokens,
                                        (size_t)c->dim, buf, n * 4 + 64, &len, &err), 0);
    expect(splitee_engine_import_payload(s, buf, len, &err), SPLITEE_ERR_VALUE, &err,
           "but the model has");
    buf[0] = 'X';
    expect(splitee_engine_import_payload(s, buf, len, &err), SPLITEE_ERR_FORMAT, &err,
           "bad magic");
    cr_assert_eq(splitee_engine_depth(s), -1);
    free(act);
    free(buf);
    splitee_engine_state_free(s);
    splitee_model_free(m);
}

/* ---- pixels, distortions and the shipped tables ---------------------------- */

Test(engine, embed_normalises_pixels_in_float32)
{
    splitee_model *m = load_model();
    const splitee_model_config *c = splitee_model_get_config(m);
    splitee_engine_state *s = new_state(m);
    size_t n = (size_t)c->image_size * (size_t)c->image_size;
    size_t per = (size_t)c->layers * (size_t)c->classes;
    float *px = malloc(n * sizeof *px), *in = malloc(n * sizeof *in);
    float *a = malloc(per * sizeof *a), *b = malloc(per * sizeof *b);
    for (size_t i = 0; i < n; i++) {
        px[i] = (float)((i * 37) % 256) / 255.0f;
        in[i] = (px[i] - (float)c->input_mean) / (float)c->input_std;
    }
    splitee_error err = { 0, "" };
    cr_assert_eq(splitee_engine_forward(s, px, a, &err), 0, "%s", err.msg);
    cr_assert_eq(splitee_engine_forward_normalised(s, in, b, &err), 0, "%s", err.msg);
    cr_assert_eq(memcmp(a, b, per * sizeof *a), 0);
    cr_assert_eq(splitee_engine_depth(s), c->layers);
    free(px);
    free(in);
    free(a);
    free(b);
    splitee_engine_state_free(s);
    splitee_model_free(m);
}

/* The first `count` rows of the shipped table of `domain`, recomputed from
 * the IDX test images: pixels -> C distortion -> engine. */
static void check_domain_table(const char *domain, size_t count)
{
    char table[1100], images[256];
    snprintf(table, sizeof table, "%s/../fmnist-%s.npy", model_dir(), domain);
    snprintf(images, sizeof images, "%s/t10k-images-idx3-ubyte.gz", DATASET);
    if (access(images, R_OK) != 0)
        cr_skip_test("%s not installed (tools/setup.sh --train)", images);
    if (access(table, R_OK) != 0)
        cr_skip_test("%s not there yet", table);
    splitee_model *m = load_model();
    const splitee_model_config *c = splitee_model_get_config(m);
    splitee_engine_state *s = new_state(m);
    splitee_error err = { 0, "" };
    splitee_array t;
    splitee_images im;
    cr_assert_eq(splitee_npy_read(table, &t, &err), 0, "%s", err.msg);
    cr_assert_eq(splitee_idx_load(images, NULL, &im, &err), 0, "%s", err.msg);
    cr_assert(t.dtype == SPLITEE_DTYPE_F32 && t.ndim == 3 && t.shape[0] == im.count);
    splitee_distortion_config dc;
    splitee_distorter *d;
    cr_assert_eq(splitee_distortion_domain(domain, &dc, &err), 0);
    cr_assert_eq(splitee_distorter_create(&dc, im.rows, im.cols, &d, &err), 0, "%s", err.msg);
    size_t per = (size_t)c->layers * (size_t)c->classes, npx = im.rows * im.cols;
    float *px = malloc(npx * sizeof *px), *logits = malloc(per * sizeof *logits);
    double worst = 0.0;
    for (size_t k = 0; k < count && k < im.count; k++) {
        splitee_distorter_apply(d, im.pixels + k * npx, k, px);
        cr_assert_eq(splitee_engine_forward(s, px, logits, &err), 0, "%s", err.msg);
        const float *want = (const float *)t.data + k * per;
        for (size_t j = 0; j < per; j++) {
            double diff = fabs((double)logits[j] - (double)want[j]);
            worst = diff > worst ? diff : worst;
            cr_assert(diff <= PARITY_TOL, "%s image %zu logit %zu: C %.7g vs table %.7g", domain,
                      k, j, (double)logits[j], (double)want[j]);
        }
    }
    cr_log_info("%s: max |C - table| %.3g over %zu images", domain, worst, count);
    free(px);
    free(logits);
    splitee_distorter_free(d);
    splitee_images_free(&im);
    splitee_array_free(&t);
    splitee_engine_state_free(s);
    splitee_model_free(m);
}

Test(engine, reproduces_clean_table) { check_domain_table("clean", 64); }
Test(engine, reproduces_noise_table) { check_domain_table("noise", 64); }
Test(engine, reproduces_blur_table) { check_domain_table("blur", 64); }
Test(engine, reproduces_contrast_table) { check_domain_table("contrast", 64); }
