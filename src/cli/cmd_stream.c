/* cmd_stream.c -- `splitee stream`: a scene-structured stream of test
 * images (stream.h: each scene one image for a geometric number of frames,
 * every frame shifted and noisy), run through the C inference engine into
 * the exit-logit table of the stream rules (docs/TEMPORAL.md), with the
 * frames' labels and scene ids, and optionally the frames themselves (the
 * --inputs of `splitee logits` and `splitee device`). Every output path is
 * checked first; the files are written only after every frame ran, and a
 * failed write removes the ones already written. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "core/internal.h"
#include "groups.h"

typedef struct stream_opts {
    cli_model model;
    cli_input in;
    cli_threads threads;
    cli_progress progress;
    long frames;
    double mean_scene, sigma;
    int shift;
    uint64_t seed;
    char *logits_out, *labels_out, *scenes_out, *frames_out;
} stream_opts;

static const cli_opt OPT_FRAMES = { .name = "frames", .arg = "N", .kind = CLI_LONG,
    .off = offsetof(stream_opts, frames), .lo = 1, .hi = 1 << 26, .help = "frames in the stream",
    .def = "10000" };
static const cli_opt OPT_MEAN = { .name = "mean-scene", .arg = "F", .kind = CLI_DOUBLE,
    .off = offsetof(stream_opts, mean_scene), .lo = 1, .hi = 1e9,
    .help = "mean scene length in frames (geometric on 1, 2, ...)", .def = "25" };
static const cli_opt OPT_SHIFT = { .name = "shift", .arg = "S", .kind = CLI_INT,
    .off = offsetof(stream_opts, shift), .lo = 0, .hi = 1 << 20,
    .help = "every frame moves by dx, dy uniform in -S..S pixels (zero fill)", .def = "2" };
static const cli_opt OPT_SIGMA = { .name = "sigma", .arg = "V", .kind = CLI_DOUBLE,
    .off = offsetof(stream_opts, sigma), .lo = 0, .hi = 1,
    .help = "sensor noise: Gaussian std per pixel, pixels in [0, 1]", .def = "0.1" };
static const cli_opt OPT_SEED = { .name = "seed", .arg = "S", .kind = CLI_U64,
    .off = offsetof(stream_opts, seed), .help = "seed of the scenes, shifts and noise", .def = "1" };
static const cli_opt *const GEN_OPTS[] = { &OPT_FRAMES, &OPT_MEAN, &OPT_SHIFT, &OPT_SIGMA, &OPT_SEED,
                                           NULL };
static const cli_group GEN = { .title = "stream", .opts = GEN_OPTS };

static const cli_opt OPT_LOGITS = { .name = "out-logits", .arg = "FILE", .kind = CLI_STRING,
    .off = offsetof(stream_opts, logits_out),
    .help = "the table: float32 .npy (frames, exits, classes) (required)" };
static const cli_opt OPT_LABELS = { .name = "out-labels", .arg = "FILE", .kind = CLI_STRING,
    .off = offsetof(stream_opts, labels_out), .help = "each frame's label, int64 .npy (needs labels)" };
static const cli_opt OPT_SCENES = { .name = "out-scenes", .arg = "FILE", .kind = CLI_STRING,
    .off = offsetof(stream_opts, scenes_out), .help = "each frame's scene id 0, 1, ..., int64 .npy" };
static const cli_opt OPT_FRAMES_OUT = { .name = "out-frames", .arg = "FILE", .kind = CLI_STRING,
    .off = offsetof(stream_opts, frames_out),
    .help = "the frames, float32 .npy (frames, rows, cols) in [0, 1] (device --inputs)" };
static const cli_opt *const OUT_OPTS[] = { &OPT_LOGITS, &OPT_LABELS, &OPT_SCENES, &OPT_FRAMES_OUT, NULL };
static const cli_group OUT = { .title = "output", .opts = OUT_OPTS };

static const cli_use GROUPS[] = {
    { &cli_group_model, offsetof(stream_opts, model) },
    { &cli_group_input, offsetof(stream_opts, in) },
    { &GEN, 0 },
    { &cli_group_threads, offsetof(stream_opts, threads) },
    { &OUT, 0 },
    { &cli_group_progress, offsetof(stream_opts, progress) },
    { NULL, 0 },
};

static const cli_command CMD = {
    .name = "stream",
    .synopsis = "splitee stream --out-logits FILE.npy [options]",
    .about = "Builds a scene-structured stream of test images (each scene one image for a\n"
             "random number of frames, every frame shifted and noisy; docs/TEMPORAL.md), runs\n"
             "it through the C inference engine and writes the exit-logit table of the\n"
             "stream rules with the frames' labels and scene ids.\n",
    .groups = GROUPS,
    .data_note = 1,
};

static void show_progress(void *ctx, size_t done, size_t total)
{
    cli_meter_update(ctx, done, total);
}

/* One int64 .npy of n values. */
static int write_ids(const char *path, const int32_t *v, const uint8_t *lut, size_t n, splitee_error *err)
{
    int64_t *x = malloc(n * sizeof *x);
    if (!x)
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", path);
    for (size_t k = 0; k < n; k++)
        x[k] = lut ? lut[v[k]] : v[k];
    size_t shape[1] = { n };
    int st = splitee_npy_write(path, SPLITEE_DTYPE_I64, 1, shape, x, err);
    free(x);
    return st;
}

int cli_stream(int argc, char **argv)
{
    stream_opts o;
    memset(&o, 0, sizeof o);
    splitee_error err = { 0, "" };
    splitee_model *m = NULL;
    splitee_images im;
    memset(&im, 0, sizeof im);
    float *frames = NULL, *logits = NULL;
    int32_t *source = NULL, *scene = NULL;
    const char *written[4];
    int nwritten = 0;

    int st = cli_parse(&CMD, &o, argc, argv, &err);
    if (st != 0)
        goto done;
    if (!o.logits_out) {
        st = splitee__fail(&err, SPLITEE_ERR_ARG, "--out-logits: missing (the .npy table to write)");
        goto done;
    }
    if (o.in.distort.kind != SPLITEE_DISTORTION_KIND_NONE) {
        st = splitee__fail(&err, SPLITEE_ERR_ARG, "--distort/--domain: a stream has its own noise (--sigma)");
        goto done;
    }
    const char *outs[4] = { o.logits_out, o.labels_out, o.scenes_out, o.frames_out };
    for (int i = 0; i < 4 && st == 0; i++)
        if (outs[i])
            st = splitee_output_check(outs[i], &err);
    if (st < 0 || (st = cli_input_load(&o.in, &o.model, &m, &im, &err)) < 0)
        goto done;
    if (o.labels_out && !im.labels) {
        st = splitee__fail(&err, SPLITEE_ERR_ARG, "--out-labels: needs labels (--labels: an IDX label file)");
        goto done;
    }
    splitee_stream_config sc = { (size_t)o.frames, o.mean_scene, o.shift, o.sigma, o.seed };
    const splitee_model_config *c = splitee_model_get_config(m);
    const size_t N = sc.frames, px = im.rows * im.cols, per = (size_t)c->layers * (size_t)c->classes;
    frames = malloc(N * px * sizeof *frames);
    logits = malloc(N * per * sizeof *logits);
    source = malloc(N * sizeof *source);
    scene = malloc(N * sizeof *scene);
    if (!frames || !logits || !source || !scene) {
        st = splitee__fail(&err, SPLITEE_ERR_NOMEM, "stream: out of memory for %zu frames", N);
        goto done;
    }
    if ((st = splitee_stream_generate(&im, &sc, frames, source, scene, &err)) < 0)
        goto done;
    splitee_batch_config bc;
    splitee_batch_config_default(&bc);
    bc.threads = cli_threads_for(&o.threads, N);
    cli_meter meter;
    cli_meter_start(&meter, &o.progress, "stream", "frames");
    bc.progress = show_progress;
    bc.progress_ctx = &meter;
    st = splitee_batch_forward_pixels(m, frames, N, &bc, logits, &err);
    cli_meter_end(&meter);
    if (st < 0)
        goto done;
    size_t shape[3] = { N, (size_t)c->layers, (size_t)c->classes };
    if ((st = splitee_npy_write(o.logits_out, SPLITEE_DTYPE_F32, 3, shape, logits, &err)) < 0)
        goto done;
    written[nwritten++] = o.logits_out;
    if (o.labels_out && (st = write_ids(o.labels_out, source, im.labels, N, &err)) == 0)
        written[nwritten++] = o.labels_out;
    if (st == 0 && o.scenes_out && (st = write_ids(o.scenes_out, scene, NULL, N, &err)) == 0)
        written[nwritten++] = o.scenes_out;
    if (st == 0 && o.frames_out) {
        size_t fshape[3] = { N, im.rows, im.cols };
        st = splitee_npy_write(o.frames_out, SPLITEE_DTYPE_F32, 3, fshape, frames, &err);
    }
    if (st < 0)
        for (int i = 0; i < nwritten; i++)
            unlink(written[i]);   /* all or none */
    if (st == 0) {
        long scenes = (long)scene[N - 1] + 1;
        printf("stream: %zu frames, %ld scenes (mean %.1f frames), shift +-%d px, sigma %g, seed %llu\n", N,
               scenes, (double)N / (double)scenes, o.shift, o.sigma, (unsigned long long)o.seed);
    }
done:
    free(frames);
    free(logits);
    free(source);
    free(scene);
    splitee_images_free(&im);
    splitee_model_free(m);
    cli_free(&CMD, &o);
    if (st == 1)
        return 0;
    return st < 0 ? cli_fail(&err, st) : 0;
}
