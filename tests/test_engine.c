/* test_engine.c -- Criterion tests for the inference engine (engine.h) on the
 * shipped model (../data/model; SPLITEE_TEST_MODEL overrides the folder):
 * parity of every exit with PyTorch's logits on the fixture, layer-by-layer
 * runs, split + resume through every payload encoding at every layer,
 * threads, misuse errors, and -- when the Fashion-MNIST test set is
 * installed -- the shipped exit-logit tables of all four domains
 * reproduced from the IDX images through the C distortions. Then a
 * version 2 model (tests/tiny_models.h: a tiny CNN with residuals,
 * depthwise, pointwise and grouped convolutions, folded and standalone
 * batch norms, pooling and a token stage) against a naive double-precision
 * reference forward pass written here, op by op from the format's
 * definitions (PyTorch semantics, batch norm unfolded): every exit and
 * every split-point activation on both kernel sets, split shapes, split
 * and resume at every split point, threads; and the shipped v1 model
 * translated to v2 JSON giving bit-identical logits. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/model_internal.h"
#include "splitee/engine.h"
#include "splitee/image.h"
#include "splitee/npy.h"
#include "testutil.h"
#include "tiny_models.h"

#define PARITY_TOL 1e-4  /* |C - PyTorch| per logit, the engine's contract */
#define F16_TOL 1e-2     /* |resumed - full| per logit after a float16 payload (shipped: 3.1e-3) */
#define I8_TOL 0.25      /* ... after an int8 payload, one per-tensor scale (shipped: 0.057) */
#define DATASET "/usr/share/datasets/fashion-mnist"
#define V2_TOL 1e-5      /* |C - double reference| per logit and activation value, tiny CNN */

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
    size_t cap = splitee_model_max_payload_size(dev, enc), n;
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
            cr_assert_eq(n, splitee_model_payload_size(dev, k, enc));
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
    int k = c->layers / 2;
    size_t n = splitee_model_split_elems(m, k);
    float *act = malloc(n * sizeof *act), want[64], got[64];
    splitee_error err = { 0, "" };
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
    splitee_shape sh;
    size_t rows, cols, len;
    cr_assert_eq(splitee_model_split_shape(m, 1, &sh), 0);
    splitee_shape_payload_dims(&sh, &rows, &cols);
    size_t n = rows * cols;
    float *act = calloc(n + cols, sizeof *act);
    unsigned char *buf = malloc(splitee_payload_size(SPLITEE_PAYLOAD_ENCODING_F32, rows + 1, cols));
    cr_assert_eq(splitee_payload_encode(SPLITEE_PAYLOAD_ENCODING_F32, 1, act, rows - 1, cols, buf,
                                        n * 4 + 64, &len, &err), 0);
    expect(splitee_engine_import_payload(s, buf, len, &err), SPLITEE_ERR_SHAPE, &err,
           "does not fit");
    /* the raw input's shape is not the shape after layer 1 */
    cr_assert_eq(splitee_payload_encode(SPLITEE_PAYLOAD_ENCODING_F32, 0, act, rows, cols, buf,
                                        n * 4 + 64, &len, &err), 0);
    expect(splitee_engine_import_payload(s, buf, len, &err), SPLITEE_ERR_SHAPE, &err,
           "after layer 0 does not fit");
    cr_assert_eq(splitee_payload_encode(SPLITEE_PAYLOAD_ENCODING_F32, c->layers + 1, act, rows, cols, buf,
                                        n * 4 + 64, &len, &err), 0);
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

/* ---- a version 2 model (tests/tiny_models.h) against a naive reference -------- */

/* A tensor of the reference forward pass, in double. */
typedef struct dt {
    int rank, d[3];
    size_t n;
    double *v;
} dt;

static dt dt_new(int rank, int a, int b, int c)
{
    dt t = { rank, { a, b, c }, (size_t)a * (size_t)b * (size_t)c, NULL };
    t.v = calloc(t.n, sizeof *t.v);
    return t;
}

static dt dt_copy(const dt *x)
{
    dt t = *x;
    t.v = malloc(t.n * sizeof *t.v);
    memcpy(t.v, x->v, t.n * sizeof *t.v);
    return t;
}

static double jnum(const cJSON *o, const char *key, double def)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    return it ? it->valuedouble : def;
}

/* An integer or [h, w] attribute. */
static void jpair(const cJSON *o, const char *key, int def, int *a, int *b)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!it) {
        *a = *b = def;
    } else if (cJSON_IsArray(it)) {
        *a = cJSON_GetArrayItem(it, 0)->valueint;
        *b = cJSON_GetArrayItem(it, 1)->valueint;
    } else {
        *a = *b = it->valueint;
    }
}

static int jbool(const cJSON *o, const char *key, int def)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    return it ? cJSON_IsTrue(it) : def;
}

/* The weights "<param><suffix>" of the test model, or NULL. */
static const float *weight(const tm_model *tm, const cJSON *op, const char *suffix)
{
    char name[128];
    snprintf(name, sizeof name, "%s%s", cJSON_GetObjectItemCaseSensitive(op, "param")->valuestring,
             suffix);
    tm_tensor *t = tm_find(tm, name);
    return t ? t->data : NULL;
}

/* Window of pooling or convolution, PyTorch semantics, on x (C, H, W). */
static dt ref_window(const tm_model *tm, const cJSON *op, const char *kind, const dt *x)
{
    int kh, kw, sh, sw, ph, pw, dh = 1, dw = 1, groups = 1, out = x->d[0];
    jpair(op, "kernel", 1, &kh, &kw);
    int conv = strcmp(kind, "conv2d") == 0;
    jpair(op, "stride", conv ? 1 : -1, &sh, &sw);
    if (sh < 0) {
        sh = kh;
        sw = kw;
    }
    jpair(op, "padding", 0, &ph, &pw);
    if (conv) {
        jpair(op, "dilation", 1, &dh, &dw);
        groups = (int)jnum(op, "groups", 1);
        out = (int)jnum(op, "out", 0);
    }
    int C = x->d[0], H = x->d[1], Wd = x->d[2];
    int ho = (H + 2 * ph - dh * (kh - 1) - 1) / sh + 1, wo = (Wd + 2 * pw - dw * (kw - 1) - 1) / sw + 1;
    dt y = dt_new(3, out, ho, wo);
    const float *w = conv ? weight(tm, op, ".weight") : NULL;
    const float *b = conv && jbool(op, "bias", 1) ? weight(tm, op, ".bias") : NULL;
    int cg = C / groups, og = out / groups;
    for (int o = 0; o < out; o++)
        for (int oy = 0; oy < ho; oy++)
            for (int ox = 0; ox < wo; ox++) {
                double acc = conv ? (b ? b[o] : 0.0) : strcmp(kind, "maxpool") == 0 ? -INFINITY : 0.0;
                int taps = 0;
                for (int c = 0; c < (conv ? cg : 1); c++)
                    for (int ky = 0; ky < kh; ky++)
                        for (int kx = 0; kx < kw; kx++) {
                            int iy = oy * sh - ph + ky * dh, ix = ox * sw - pw + kx * dw;
                            if (iy < 0 || iy >= H || ix < 0 || ix >= Wd)
                                continue;
                            int ci = conv ? (o / og) * cg + c : o;
                            double v = x->v[((size_t)ci * H + iy) * Wd + ix];
                            if (conv)
                                acc += (double)w[(((size_t)o * cg + c) * kh + ky) * kw + kx] * v;
                            else if (strcmp(kind, "maxpool") == 0)
                                acc = v > acc ? v : acc;
                            else
                                acc += v;
                            taps++;
                        }
                if (strcmp(kind, "avgpool") == 0)
                    acc /= jbool(op, "count_include_pad", 1) ? kh * kw : taps;
                y.v[((size_t)o * ho + oy) * wo + ox] = acc;
            }
    return y;
}

/* y = x W^T + b over the rows of x ((N): one row). */
static dt ref_linear(const float *w, const float *b, int out, const dt *x)
{
    int rows = x->rank == 2 ? x->d[0] : 1, in = x->rank == 2 ? x->d[1] : x->d[0];
    dt y = x->rank == 2 ? dt_new(2, rows, out, 1) : dt_new(1, out, 1, 1);
    for (int r = 0; r < rows; r++)
        for (int o = 0; o < out; o++) {
            double s = b ? b[o] : 0.0;
            for (int i = 0; i < in; i++)
                s += (double)w[(size_t)o * in + i] * x->v[(size_t)r * in + i];
            y.v[(size_t)r * out + o] = s;
        }
    return y;
}

typedef struct saved {
    const char *name[16];
    dt t[16];
    int n;
} saved;

/* One op of the reference forward: y = op(x); x is consumed. */
static dt ref_op(const tm_model *tm, const cJSON *op, dt x, saved *sv)
{
    const char *k = cJSON_GetObjectItemCaseSensitive(op, "op")->valuestring;
    dt y = { 0, { 0 }, 0, NULL };
    if (!strcmp(k, "conv2d") || !strcmp(k, "maxpool") || !strcmp(k, "avgpool")) {
        y = ref_window(tm, op, k, &x);
    } else if (!strcmp(k, "batchnorm")) {
        const float *g = weight(tm, op, ".weight"), *b = weight(tm, op, ".bias");
        const float *mu = weight(tm, op, ".running_mean"), *var = weight(tm, op, ".running_var");
        double eps = jnum(op, "eps", 1e-5);
        size_t per = x.rank == 3 ? (size_t)x.d[1] * x.d[2] : 1;
        y = dt_copy(&x);
        for (size_t i = 0; i < y.n; i++) {
            size_t c = i / per;
            y.v[i] = (x.v[i] - mu[c]) / sqrt((double)var[c] + eps) * g[c] + b[c];
        }
    } else if (!strcmp(k, "relu") || !strcmp(k, "relu6") || !strcmp(k, "hardswish") ||
               !strcmp(k, "silu") || !strcmp(k, "gelu")) {
        y = dt_copy(&x);
        for (size_t i = 0; i < y.n; i++) {
            double v = x.v[i];
            if (!strcmp(k, "relu"))
                y.v[i] = v > 0 ? v : 0;
            else if (!strcmp(k, "relu6"))
                y.v[i] = v < 0 ? 0 : v > 6 ? 6 : v;
            else if (!strcmp(k, "hardswish"))
                y.v[i] = v * (v + 3 < 0 ? 0 : v + 3 > 6 ? 6 : v + 3) / 6;
            else if (!strcmp(k, "silu"))
                y.v[i] = v / (1 + exp(-v));
            else
                y.v[i] = 0.5 * v * (1 + erf(v / sqrt(2.0)));
        }
    } else if (!strcmp(k, "add") || !strcmp(k, "pos_embed")) {
        y = dt_copy(&x);
        const char *from = !strcmp(k, "add") ? cJSON_GetObjectItemCaseSensitive(op, "from")->valuestring : NULL;
        const float *pos = from ? NULL : weight(tm, op, "");
        int s = 0;
        while (from && s < sv->n && strcmp(sv->name[s], from) != 0)
            s++;
        cr_assert(!from || s < sv->n, "reference: no saved '%s'", from);
        for (size_t i = 0; i < y.n; i++)
            y.v[i] += from ? sv->t[s].v[i] : pos[i];
    } else if (!strcmp(k, "global_avgpool") || !strcmp(k, "token_mean")) {
        int gap = !strcmp(k, "global_avgpool");
        int groups = gap ? x.d[0] : x.d[1];
        size_t per = gap ? (size_t)x.d[1] * x.d[2] : (size_t)x.d[0];
        y = dt_new(1, groups, 1, 1);
        for (int c = 0; c < groups; c++) {
            for (size_t j = 0; j < per; j++)
                y.v[c] += gap ? x.v[(size_t)c * per + j] : x.v[j * (size_t)groups + c];
            y.v[c] /= (double)per;
        }
    } else if (!strcmp(k, "flatten")) {
        y = dt_copy(&x);
        y.rank = 1;
        y.d[0] = (int)y.n;
        y.d[1] = y.d[2] = 1;
    } else if (!strcmp(k, "linear")) {
        y = ref_linear(weight(tm, op, ".weight"), jbool(op, "bias", 1) ? weight(tm, op, ".bias") : NULL,
                       (int)jnum(op, "out", 0), &x);
    } else if (!strcmp(k, "layernorm")) {
        const float *g = weight(tm, op, ".weight"), *b = weight(tm, op, ".bias");
        double eps = jnum(op, "eps", 1e-5);
        int d = x.d[x.rank - 1];
        size_t rows = x.n / (size_t)d;
        y = dt_copy(&x);
        for (size_t r = 0; r < rows; r++) {
            double mean = 0, var = 0;
            for (int i = 0; i < d; i++)
                mean += x.v[r * d + i] / d;
            for (int i = 0; i < d; i++)
                var += (x.v[r * d + i] - mean) * (x.v[r * d + i] - mean) / d;
            for (int i = 0; i < d; i++)
                y.v[r * d + i] = (x.v[r * d + i] - mean) / sqrt(var + eps) * g[i] + b[i];
        }
    } else if (!strcmp(k, "patch_embed")) {
        int p = (int)jnum(op, "patch", 0), dim = (int)jnum(op, "dim", 0);
        int C = x.d[0], H = x.d[1], Wd = x.d[2], gx = Wd / p, T = (H / p) * gx, pd = C * p * p;
        dt patches = dt_new(2, T, pd, 1);
        for (int t = 0; t < T; t++)
            for (int c = 0; c < C; c++)
                for (int py = 0; py < p; py++)
                    for (int px = 0; px < p; px++)
                        patches.v[(size_t)t * pd + (c * p + py) * p + px] =
                            x.v[((size_t)c * H + (t / gx) * p + py) * Wd + (t % gx) * p + px];
        y = ref_linear(weight(tm, op, ".weight"), weight(tm, op, ".bias"), dim, &patches);
        free(patches.v);
    } else if (!strcmp(k, "attention")) {
        int heads = (int)jnum(op, "heads", 1), T = x.d[0], D = x.d[1] / 3, hd = D / heads;
        y = dt_new(2, T, D, 1);
        double *p = calloc((size_t)T, sizeof *p);
        for (int h = 0; h < heads; h++)
            for (int t = 0; t < T; t++) {
                double mx = -INFINITY, sum = 0;
                for (int u = 0; u < T; u++) {
                    double s = 0;
                    for (int i = 0; i < hd; i++)
                        s += x.v[(size_t)t * 3 * D + h * hd + i] * x.v[(size_t)u * 3 * D + D + h * hd + i];
                    p[u] = s / sqrt((double)hd);
                    mx = p[u] > mx ? p[u] : mx;
                }
                for (int u = 0; u < T; u++)
                    sum += (p[u] = exp(p[u] - mx));
                for (int i = 0; i < hd; i++) {
                    double acc = 0;
                    for (int u = 0; u < T; u++)
                        acc += p[u] / sum * x.v[(size_t)u * 3 * D + 2 * D + h * hd + i];
                    y.v[(size_t)t * D + h * hd + i] = acc;
                }
            }
        free(p);
    } else {
        cr_assert_fail("reference: unknown op %s", k);
    }
    free(x.v);
    const cJSON *save = cJSON_GetObjectItemCaseSensitive(op, "save");
    if (save) {
        sv->name[sv->n] = save->valuestring;
        sv->t[sv->n++] = dt_copy(&y);
    }
    return y;
}

/* Runs the op list `ops` on a copy of x. */
static dt ref_list(const tm_model *tm, const cJSON *ops, const dt *x)
{
    saved sv = { .n = 1 };
    sv.name[0] = "input";
    sv.t[0] = dt_copy(x);
    dt cur = dt_copy(x);
    for (const cJSON *op = ops->child; op; op = op->next)
        cur = ref_op(tm, op, cur, &sv);
    for (int i = 0; i < sv.n; i++)
        free(sv.t[i].v);
    return cur;
}

/* Every exit's logits (layers, classes) of the reference forward pass on
 * the raw input `px` (normalised in double); also the split point
 * activations into acts[k] (elements of split k) when acts is not NULL. */
static void ref_forward(const tm_model *tm, const float *px, double *logits, double **acts)
{
    cJSON *root = cJSON_Parse(tm->json);
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(root, "input");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(in, "shape");
    double mean = jnum(in, "mean", 0), std = jnum(in, "std", 1);
    int r = cJSON_GetArraySize(shape);
    dt x = dt_new(r, cJSON_GetArrayItem(shape, 0)->valueint, cJSON_GetArrayItem(shape, 1)->valueint,
                  r == 3 ? cJSON_GetArrayItem(shape, 2)->valueint : 1);
    for (size_t i = 0; i < x.n; i++)
        x.v[i] = ((double)px[i] - mean) / std;
    int classes = cJSON_GetObjectItemCaseSensitive(root, "classes")->valueint, k = 0;
    if (acts)
        memcpy(acts[0], x.v, x.n * sizeof *x.v);
    for (const cJSON *st = cJSON_GetObjectItemCaseSensitive(root, "stages")->child; st; st = st->next, k++) {
        dt y = ref_list(tm, cJSON_GetObjectItemCaseSensitive(st, "ops"), &x);
        free(x.v);
        x = y;
        if (acts)
            memcpy(acts[k + 1], x.v, x.n * sizeof *x.v);
        dt z = ref_list(tm, cJSON_GetObjectItemCaseSensitive(st, "exit"), &x);
        cr_assert_eq(z.n, (size_t)classes);
        memcpy(logits + (size_t)k * classes, z.v, (size_t)classes * sizeof *z.v);
        free(z.v);
    }
    free(x.v);
    cJSON_Delete(root);
}

/* The tiny CNN written to folder `name` and loaded (portable kernels with
 * `portable`); tm gets its description. */
static splitee_model *load_tiny(tm_model *tm, const char *name, int portable)
{
    tm_cnn(tm, 7);
    const char *d = tm_write(name, NULL, tm);
    splitee_model *m = NULL;
    splitee_error err = { 0, "" };
    if (portable)
        setenv("SPLITEE_SIMD", "off", 1);
    int rc = splitee_model_load(d, &m, &err);
    unsetenv("SPLITEE_SIMD");
    cr_assert_eq(rc, 0, "%s", err.msg);
    return m;
}

/* Input k of the tiny CNN: (2, 12, 12) values in [0, 1]. */
static void tiny_input(float *px, size_t n, unsigned k)
{
    uint32_t s = 2463534242u + 977u * k;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        px[i] = (float)(s % 1000) / 999.0f;
    }
}

Test(engine, v2_model_reports_split_shapes_and_sizes)
{
    tm_model tm;
    splitee_model *m = load_tiny(&tm, "tiny-shapes", 0);
    const splitee_model_config *c = splitee_model_get_config(m);
    cr_assert_eq(c->version, 2);
    cr_assert_eq(c->layers, 3);
    cr_assert_eq(c->classes, 3);
    cr_assert_eq(c->channels, 2);
    cr_assert_eq(c->image_size, 12);
    cr_assert_eq(c->tokens, 0, "v1-only fields are 0");
    size_t params = 0;
    for (size_t i = 0; i < tm.n; i++)
        params += tm.t[i].count;
    cr_assert_eq(c->params, params);
    static const splitee_shape want[4] = { { 3, { 2, 12, 12 } }, { 3, { 8, 12, 12 } },
                                           { 3, { 12, 3, 6 } }, { 2, { 2, 8, 1 } } };
    size_t best = 0;
    for (int k = 0; k <= 3; k++) {
        splitee_shape sh;
        cr_assert_eq(splitee_model_split_shape(m, k, &sh), 0);
        cr_assert_eq(memcmp(&sh, &want[k], sizeof sh), 0, "split %d", k);
        size_t n = splitee_shape_elems(&want[k]), rows, cols;
        cr_assert_eq(splitee_model_split_elems(m, k), n);
        splitee_shape_payload_dims(&sh, &rows, &cols);
        cr_assert_eq(rows, (size_t)want[k].dims[0]);
        cr_assert_eq(rows * cols, n);
        cr_assert_eq(splitee_model_payload_size(m, k, SPLITEE_PAYLOAD_ENCODING_F32), 24 + 4 * n);
        cr_assert_eq(splitee_model_payload_size(m, k, SPLITEE_PAYLOAD_ENCODING_I8), 28 + n);
        best = 24 + 4 * n > best ? 24 + 4 * n : best;
    }
    cr_assert_eq(splitee_model_max_payload_size(m, SPLITEE_PAYLOAD_ENCODING_F32), best);
    cr_assert_eq(best, 24 + 4 * 1152u, "the largest activation is after stage 1");
    splitee_shape sh = { 0, { 0 } };
    cr_assert_eq(splitee_model_split_shape(m, 4, &sh), SPLITEE_ERR_ARG);
    cr_assert_eq(splitee_model_split_shape(m, -1, &sh), SPLITEE_ERR_ARG);
    cr_assert_eq(sh.rank, 0);
    cr_assert_eq(splitee_model_split_elems(m, 4), 0);
    cr_assert_eq(splitee_model_payload_size(m, 4, SPLITEE_PAYLOAD_ENCODING_F32), 0);
    cr_assert_eq(splitee_model_payload_size(m, 1, (splitee_payload_encoding)7), 0);
    splitee_shape v = { 1, { 10, 1, 1 } };
    size_t rows, cols;
    splitee_shape_payload_dims(&v, &rows, &cols);
    cr_assert(rows == 1 && cols == 10, "a vector travels as one row");
    /* the v1 model: the raw image, then (tokens, dim) after every layer */
    splitee_model *v1 = load_model();
    cr_assert_eq(splitee_model_split_elems(v1, 0), 28 * 28);
    for (int k = 1; k <= splitee_model_get_config(v1)->layers; k++)
        cr_assert_eq(splitee_model_split_elems(v1, k), 16 * 64);
    cr_assert_eq(splitee_model_get_config(v1)->version, 1);
    splitee_model_free(v1);
    splitee_model_free(m);
    tm_free(&tm);
}

/* Every exit and every split-point activation of the tiny CNN against the
 * double reference, with the kernels of `portable`. */
static void tiny_vs_reference(int portable)
{
    tm_model tm;
    splitee_model *m = load_tiny(&tm, portable ? "tiny-ref-portable" : "tiny-ref", portable);
    splitee_engine_state *s = new_state(m);
    const splitee_model_config *c = splitee_model_get_config(m);
    size_t npx = splitee_model_split_elems(m, 0);
    float *px = malloc(npx * sizeof *px), logits[9], act[1152];
    double ref[9], *acts[4], worst = 0.0;
    for (int k = 0; k <= 3; k++)
        acts[k] = malloc(splitee_model_split_elems(m, k) * sizeof **acts);
    splitee_error err = { 0, "" };
    for (unsigned i = 0; i < 24; i++) {
        tiny_input(px, npx, i);
        ref_forward(&tm, px, ref, acts);
        cr_assert_eq(splitee_engine_forward(s, px, logits, &err), 0, "%s", err.msg);
        for (int j = 0; j < c->layers * c->classes; j++) {
            double d = fabs((double)logits[j] - ref[j]);
            worst = d > worst ? d : worst;
            cr_assert(d <= V2_TOL, "%s: input %u exit %d class %d: C %.9g vs reference %.9g",
                      splitee__model_kernels(m)->name, i, j / c->classes, j % c->classes,
                      (double)logits[j], ref[j]);
        }
        cr_assert_eq(splitee_engine_embed(s, px, &err), 0);
        for (int k = 0; k <= 3; k++) {
            if (k > 0)
                cr_assert_eq(splitee_engine_run_layer(s, k - 1, &err), 0, "%s", err.msg);
            cr_assert_eq(splitee_engine_export(s, act, sizeof act / sizeof act[0], &err), 0);
            for (size_t j = 0; j < splitee_model_split_elems(m, k); j++)
                cr_assert(fabs((double)act[j] - acts[k][j]) <= V2_TOL,
                          "input %u split %d value %zu: C %.9g vs reference %.9g", i, k, j,
                          (double)act[j], acts[k][j]);
        }
    }
    cr_log_info("tiny CNN, %s kernels: max |C - reference| logit %.3g",
                splitee__model_kernels(m)->name, worst);
    for (int k = 0; k <= 3; k++)
        free(acts[k]);
    free(px);
    splitee_engine_state_free(s);
    splitee_model_free(m);
    tm_free(&tm);
}

Test(engine, v2_cnn_matches_double_reference) { tiny_vs_reference(0); }
Test(engine, v2_cnn_portable_kernels_match_double_reference) { tiny_vs_reference(1); }

/* Split after every stage k (0..L) through a payload of every encoding
 * into a second model's state, resume, compare the later exits. */
Test(engine, v2_cnn_split_and_resume_at_every_split_point)
{
    tm_model tm;
    splitee_model *dev = load_tiny(&tm, "tiny-dev", 0), *cloud;
    splitee_error err = { 0, "" };
    cr_assert_eq(splitee_model_load(tu_path("tiny-dev"), &cloud, &err), 0, "%s", err.msg);
    splitee_engine_state *ds = new_state(dev), *cs = new_state(cloud);
    const int L = 3, C = 3;
    size_t npx = splitee_model_split_elems(dev, 0);
    float *px = malloc(npx * sizeof *px), full[9], z[3];
    static const splitee_payload_encoding encs[3] = { SPLITEE_PAYLOAD_ENCODING_F32, SPLITEE_PAYLOAD_ENCODING_F16,
                                                      SPLITEE_PAYLOAD_ENCODING_I8 };
    static const double tol[3] = { 0.0, F16_TOL, I8_TOL };
    double worst[3] = { 0, 0, 0 };
    size_t cap = splitee_model_max_payload_size(dev, SPLITEE_PAYLOAD_ENCODING_F32), n;
    unsigned char *buf = malloc(cap);
    for (unsigned i = 0; i < 12; i++) {
        tiny_input(px, npx, 100 + i);
        cr_assert_eq(splitee_engine_forward(ds, px, full, &err), 0, "%s", err.msg);
        for (int e = 0; e < 3; e++)
            for (int k = 0; k <= L; k++) {
                cr_assert_eq(splitee_engine_embed(ds, px, &err), 0);
                cr_assert_eq(splitee_engine_run_layers(ds, 0, k, &err), 0);
                cr_assert_eq(splitee_engine_export_payload(ds, encs[e], buf, cap, &n, &err), 0,
                             "%s", err.msg);
                cr_assert_eq(n, splitee_model_payload_size(dev, k, encs[e]));
                cr_assert_eq(splitee_engine_import_payload(cs, buf, n, &err), 0, "%s", err.msg);
                cr_assert_eq(splitee_engine_depth(cs), k);
                for (int l = k; l < L; l++) {
                    cr_assert_eq(splitee_engine_run_layer(cs, l, &err), 0);
                    cr_assert_eq(splitee_engine_exit_logits(cs, l, z, &err), 0);
                    if (encs[e] == SPLITEE_PAYLOAD_ENCODING_F32)
                        cr_assert_eq(memcmp(z, full + l * C, sizeof z), 0,
                                     "input %u split %d exit %d: not bit-identical", i, k, l);
                    for (int j = 0; j < C; j++) {
                        double d = fabs((double)z[j] - full[l * C + j]);
                        worst[e] = d > worst[e] ? d : worst[e];
                    }
                }
            }
    }
    for (int e = 0; e < 3; e++) {
        cr_log_info("tiny CNN, %s payloads: max |resumed - full| %.3g",
                    splitee_payload_encoding_name(encs[e]), worst[e]);
        cr_assert(worst[e] <= tol[e], "%s: %g", splitee_payload_encoding_name(encs[e]), worst[e]);
    }
    /* a payload of the wrong split shape is refused */
    cr_assert_eq(splitee_engine_embed(ds, px, &err), 0);
    cr_assert_eq(splitee_engine_run_layers(ds, 0, 2, &err), 0);
    cr_assert_eq(splitee_engine_export_payload(ds, SPLITEE_PAYLOAD_ENCODING_F32, buf, cap, &n, &err), 0);
    buf[8] = 1;   /* the header's layer: 2 -> 1 */
    expect(splitee_engine_import_payload(cs, buf, n, &err), SPLITEE_ERR_SHAPE, &err,
           "activation (12, 18) after layer 1 does not fit the model's (8, 144)");
    free(buf);
    free(px);
    splitee_engine_state_free(ds);
    splitee_engine_state_free(cs);
    splitee_model_free(dev);
    splitee_model_free(cloud);
    tm_free(&tm);
}

typedef struct tiny_job {
    const splitee_model *m;
    unsigned first;
    float *out;   /* (40, 9) */
    int rc;
} tiny_job;

static void *tiny_run(void *arg)
{
    tiny_job *j = arg;
    splitee_engine_state *s = NULL;
    float px[288];
    j->rc = splitee_engine_state_create(j->m, &s, NULL);
    for (unsigned i = j->first; i < 40 && j->rc == 0; i += 2) {
        tiny_input(px, 288, i);
        j->rc = splitee_engine_forward(s, px, j->out + i * 9, NULL);
    }
    splitee_engine_state_free(s);
    return NULL;
}

Test(engine, v2_cnn_two_threads_on_one_model_match_one)
{
    tm_model tm;
    splitee_model *m = load_tiny(&tm, "tiny-threads", 0);
    float one[360], two[360];
    tiny_job a = { m, 0, one, -1 };
    tiny_run(&a);
    tiny_run(&(tiny_job){ m, 1, one, -1 });
    tiny_job jobs[2] = { { m, 0, two, -1 }, { m, 1, two, -1 } };
    pthread_t th[2];
    for (int t = 0; t < 2; t++)
        cr_assert_eq(pthread_create(&th[t], NULL, tiny_run, &jobs[t]), 0);
    for (int t = 0; t < 2; t++) {
        pthread_join(th[t], NULL);
        cr_assert_eq(jobs[t].rc, 0);
    }
    cr_assert_eq(a.rc, 0);
    cr_assert_eq(memcmp(one, two, sizeof one), 0);
    splitee_model_free(m);
    tm_free(&tm);
}

/* The shipped v1 model.json translated to version 2 (what the loader runs
 * for it) is a loadable v2 model of the same network: bit-identical logits
 * on the fixture. */
Test(engine, v1_model_as_v2_json_gives_identical_logits)
{
    size_t jn;
    char *json = tu_read(model_file("model.json"), &jn), *v2 = NULL;
    cr_assert_not_null(json);
    splitee_error err = { 0, "" };
    cr_assert_eq(splitee__model_v1_to_v2("model.json", json, jn, &v2, &err), 0, "%s", err.msg);
    cJSON *doc = cJSON_Parse(v2);
    cr_assert_not_null(doc);
    cr_assert_eq(cJSON_GetObjectItemCaseSensitive(doc, "version")->valueint, 2);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "stages")), 12);
    cJSON_Delete(doc);
    cr_assert_not_null(strstr(v2, "\"attention\""));
    cr_assert_eq(mkdir(tu_path("v1-as-v2"), 0700), 0);
    tu_write_str("v1-as-v2/model.json", v2);
    char target[1200], *cwd = getcwd(NULL, 0);
    snprintf(target, sizeof target, "%s/%s", cwd, model_file("model.safetensors"));
    free(cwd);
    cr_assert_eq(symlink(target, tu_path("v1-as-v2/model.safetensors")), 0);
    splitee_model *a = load_model(), *b = NULL;
    cr_assert_eq(splitee_model_load(tu_path("v1-as-v2"), &b, &err), 0, "%s", err.msg);
    cr_assert_eq(splitee_model_get_config(b)->version, 2);
    const splitee_model_config *c = splitee_model_get_config(a);
    splitee_engine_state *sa = new_state(a), *sb = new_state(b);
    fixture f;
    load_fixture(c, &f);
    float *x = forward_all(sa, &f, c), *y = forward_all(sb, &f, c);
    cr_assert_eq(memcmp(x, y, f.n * (size_t)c->layers * (size_t)c->classes * sizeof *x), 0);
    const char *not_v1 = "{\"format\": \"splitee-model\", \"version\": 2, \"weights\": \"w\"}";
    char *none = (char *)1;
    expect(splitee__model_v1_to_v2("t.json", not_v1, strlen(not_v1), &none, &err), SPLITEE_ERR_ARG,
           &err, "t.json: not a version 1 model");
    cr_assert_null(none);
    free(json);
    free(x);
    free(y);
    free_fixture(&f);
    splitee_engine_state_free(sa);
    splitee_engine_state_free(sb);
    splitee_model_free(a);
    splitee_model_free(b);
    free(v2);
}

/* The shipped CNN (../data/cnn, tools/ship_cnn.sh) against PyTorch's logits
 * of its fixture (data/cnn/fixture: the first 16 clean test images as the
 * model sees them, (16, 1, 28, 28), and every exit's logits, (16, 10, 10)),
 * every exit within PARITY_TOL, with the kernels of `portable`; and its
 * activation shrinking with depth (the payload after the first split point
 * at least 4x the one after the last). */
static void shipped_cnn_vs_fixture(int portable)
{
    if (portable)
        setenv("SPLITEE_SIMD", "off", 1);
    splitee_model *m = NULL;
    splitee_error err = { 0, "" };
    cr_assert_eq(splitee_model_load("../data/cnn", &m, &err), 0, "%s", err.msg);
    unsetenv("SPLITEE_SIMD");
    const splitee_model_config *c = splitee_model_get_config(m);
    cr_assert_eq(c->version, 2);
    cr_assert_eq(c->layers, 10);
    cr_assert_eq(c->classes, 10);
    cr_assert_eq(splitee_model_split_elems(m, 0), 28 * 28);
    cr_assert_geq(splitee_model_split_elems(m, 1), 4 * splitee_model_split_elems(m, 9));
    splitee_array in, out;
    cr_assert_eq(splitee_npy_read("../data/cnn/fixture/inputs.npy", &in, &err), 0, "%s", err.msg);
    cr_assert_eq(splitee_npy_read("../data/cnn/fixture/logits.npy", &out, &err), 0, "%s", err.msg);
    cr_assert(in.dtype == SPLITEE_DTYPE_F32 && in.ndim == 4 && in.shape[0] == 16 && in.shape[1] == 1 &&
              in.shape[2] == 28 && in.shape[3] == 28);
    cr_assert(out.dtype == SPLITEE_DTYPE_F32 && out.ndim == 3 && out.shape[0] == 16 &&
              out.shape[1] == 10 && out.shape[2] == 10);
    splitee_engine_state *s = new_state(m);
    float got[100];
    double worst = 0.0;
    for (size_t i = 0; i < 16; i++) {
        cr_assert_eq(splitee_engine_forward_normalised(s, (const float *)in.data + i * 784, got, &err), 0,
                     "%s", err.msg);
        const float *want = (const float *)out.data + i * 100;
        for (int j = 0; j < 100; j++) {
            double d = fabs((double)got[j] - (double)want[j]);
            worst = d > worst ? d : worst;
            cr_assert(d <= PARITY_TOL, "%s: image %zu exit %d class %d: C %.7g vs PyTorch %.7g",
                      splitee__model_kernels(m)->name, i, j / 10 + 1, j % 10, (double)got[j], (double)want[j]);
        }
    }
    cr_log_info("shipped CNN, %s kernels: max |C - PyTorch| %.3g over 1600 logits",
                splitee__model_kernels(m)->name, worst);
    splitee_array_free(&in);
    splitee_array_free(&out);
    splitee_engine_state_free(s);
    splitee_model_free(m);
}

Test(engine, shipped_cnn_matches_pytorch_fixture) { shipped_cnn_vs_fixture(0); }
Test(engine, shipped_cnn_portable_kernels_match_pytorch_fixture) { shipped_cnn_vs_fixture(1); }
