/* cmd_logits.c -- `splitee logits`: runs every image of an IDX file through
 * the C inference engine (optionally distorted into a shifted domain), or
 * every input of a float32 .npy file (--inputs: any model's input shape),
 * and writes the float32 (samples, exits, classes) exit-logit table that
 * `splitee replay --logits` reads, and optionally the labels as int64 .npy.
 *
 * The work is the library's batch inference (batch.h): identical tables for
 * any thread count. Outputs are written only after every sample succeeded,
 * each atomically. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "core/internal.h"
#include "groups.h"

typedef struct logits_opts {
    cli_model model;
    cli_input in;
    cli_threads threads;
    cli_progress progress;
    char *out;         /* the table (.npy) */
    char *labels_out;  /* labels (.npy), or NULL */
    char *inputs;      /* --inputs: float32 .npy (N, input shape...), or NULL */
    int normalised;    /* --normalised: the inputs skip the model's mean/std */
} logits_opts;

static const cli_opt OPT_INPUTS = { .name = "inputs", .arg = "FILE", .kind = CLI_STRING,
    .off = offsetof(logits_opts, inputs),
    .help = "float32 .npy inputs instead of IDX images: (N, C, H, W) or (N, T, D),\n"
            "(N, H, W) for one channel, the model's input shape; each is the raw input\n"
            "the model normalises with its input mean/std (images: pixels in [0, 1]);\n"
            "--labels then names .npy integer labels (N)" };
static const cli_opt OPT_NORMALISED = { .name = "normalised", .kind = CLI_SET, .ival = 1,
    .off = offsetof(logits_opts, normalised),
    .help = "--inputs are already normalised: fed to the first op as they are" };
static const cli_opt *const NPY_OPTS[] = { &OPT_INPUTS, &OPT_NORMALISED, NULL };
static const cli_group NPY_IN = { .title = "input (.npy)", .opts = NPY_OPTS };

static const cli_opt OPT_OUT = { .name = "out", .arg = "FILE", .kind = CLI_STRING,
    .off = offsetof(logits_opts, out),
    .help = "the table: float32 .npy (samples, exits, classes) (required)" };
static const cli_opt OPT_LABELS_OUT = { .name = "labels-out", .arg = "FILE", .kind = CLI_STRING,
    .off = offsetof(logits_opts, labels_out), .help = "write the labels as int64 .npy (needs labels)" };
static const cli_opt *const OUT_OPTS[] = { &OPT_OUT, &OPT_LABELS_OUT, NULL };
static const cli_group OUT = { .title = "output", .opts = OUT_OPTS };

static const cli_use GROUPS[] = {
    { &cli_group_model, offsetof(logits_opts, model) },
    { &cli_group_input, offsetof(logits_opts, in) },
    { &NPY_IN, 0 },
    { &cli_group_threads, offsetof(logits_opts, threads) },
    { &OUT, 0 },
    { &cli_group_progress, offsetof(logits_opts, progress) },
    { &cli_group_seed_compat, 0 },
    { NULL, 0 },
};

static const cli_command CMD = {
    .name = "logits",
    .synopsis = "splitee logits --out FILE.npy [options]",
    .about = "Runs every image (or every --inputs input) through the C inference engine and\n"
             "writes every exit's logits, the table `splitee replay --logits` reads.\n",
    .groups = GROUPS,
    .data_note = 1,
};

/* The batch's progress callback: the command's meter. */
static void show_progress(void *ctx, size_t done, size_t total)
{
    cli_meter_update(ctx, done, total);
}

/* The first n labels, as int64 .npy. */
static int write_labels(const char *path, const splitee_images *im, const int64_t *npy_labels, size_t n,
                        splitee_error *err)
{
    int64_t *lab = malloc((n ? n : 1) * sizeof *lab);
    if (!lab)
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < n; k++)
        lab[k] = npy_labels ? npy_labels[k] : im->labels[k];
    size_t shape[1] = { n };
    int st = splitee_npy_write(path, SPLITEE_DTYPE_I64, 1, shape, lab, err);
    free(lab);
    return st;
}

/* "(N, 1, 28, 28)" from an array's shape. */
static void array_text(const splitee_array *a, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = '\0';
    for (int i = 0; i < a->ndim && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%zu", i ? ", " : "(", a->shape[i]);
    if (o < len)
        snprintf(buf + o, len - o, a->ndim ? ")" : "()");
}

/* --inputs: the float32 .npy of inputs of the model's input shape, with
 * (N, H, W) for a (1, H, W) input; *n gets the inputs to run (--limit).
 * --labels: a 1-D integer .npy of N labels in the model's classes, into
 * *labels (malloc'd), or NULL without labels. */
static int load_inputs(const logits_opts *o, const splitee_model *m, splitee_array *x, size_t *n,
                       int64_t **labels, splitee_error *err)
{
    *labels = NULL;
    int st = splitee_npy_read(o->inputs, x, err);
    if (st < 0)
        return st;
    splitee_shape sh;
    splitee_model_split_shape(m, 0, &sh);
    char got[128], want[64];
    array_text(x, got, sizeof got);
    cli_shape_text(&sh, want, sizeof want);
    if (x->dtype != SPLITEE_DTYPE_F32)
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: inputs must be float32 ('<f4'), this one is not",
                             o->inputs);
    int fits = x->ndim == sh.rank + 1;
    for (int i = 0; fits && i < sh.rank; i++)
        fits = x->shape[i + 1] == (size_t)sh.dims[i];
    int one_channel = sh.rank == 3 && sh.dims[0] == 1;
    if (!fits && one_channel && x->ndim == 3)
        fits = x->shape[1] == (size_t)sh.dims[1] && x->shape[2] == (size_t)sh.dims[2];
    if (!fits || x->shape[0] == 0) {
        char alt[64] = "";
        if (one_channel)
            snprintf(alt, sizeof alt, " or (N, %d, %d)", sh.dims[1], sh.dims[2]);
        return splitee__fail(err, SPLITEE_ERR_SHAPE, "%s: inputs of shape %s, the model %s takes (N, %s%s with N >= 1",
                             o->inputs, got, splitee_model_json_path(m), want + 1, alt);
    }
    size_t N = x->shape[0];
    *n = o->in.limit > 0 && (size_t)o->in.limit < N ? (size_t)o->in.limit : N;
    if (!o->in.labels)
        return 0;
    splitee_array y;
    if ((st = splitee_npy_read(o->in.labels, &y, err)) < 0)
        return st;
    int classes = splitee_model_get_config(m)->classes;
    int64_t *lab = NULL;
    if (y.dtype == SPLITEE_DTYPE_F32 || y.dtype == SPLITEE_DTYPE_F64)
        st = splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: labels must be integers (.npy int8/uint8/int32/int64)",
                           o->in.labels);
    else if (y.ndim != 1 || y.shape[0] != N)
        st = splitee__fail(err, SPLITEE_ERR_SHAPE, "%s: labels must have shape (%zu,) for the %zu inputs of %s",
                           o->in.labels, N, N, o->inputs);
    else if (!(lab = malloc(N * sizeof *lab)))
        st = splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", o->in.labels);
    for (size_t k = 0; st == 0 && k < N; k++) {
        switch (y.dtype) {
        case SPLITEE_DTYPE_I32: lab[k] = ((const int32_t *)y.data)[k]; break;
        case SPLITEE_DTYPE_I64: lab[k] = ((const int64_t *)y.data)[k]; break;
        case SPLITEE_DTYPE_U8: lab[k] = ((const uint8_t *)y.data)[k]; break;
        default: lab[k] = ((const int8_t *)y.data)[k]; break;
        }
        if (lab[k] < 0 || lab[k] >= classes)
            st = splitee__fail(err, SPLITEE_ERR_VALUE, "%s: label %lld of input %zu is outside the model's "
                               "classes 0..%d", o->in.labels, (long long)lab[k], k, classes - 1);
    }
    splitee_array_free(&y);
    if (st < 0)
        free(lab);
    else
        *labels = lab;
    return st;
}

int cli_logits(int argc, char **argv)
{
    logits_opts o;
    memset(&o, 0, sizeof o);
    splitee_error err = { 0, "" };
    splitee_model *m = NULL;
    splitee_images im;
    memset(&im, 0, sizeof im);
    float *out = NULL;
    splitee_array x;
    memset(&x, 0, sizeof x);
    int64_t *npy_labels = NULL;

    int st = cli_parse(&CMD, &o, argc, argv, &err);
    if (st != 0)
        goto done;
    if (!o.out) {
        st = splitee__fail(&err, SPLITEE_ERR_ARG, "--out: missing (the .npy table to write)");
        goto done;
    }
    if (o.inputs && o.in.images) {
        st = splitee__fail(&err, SPLITEE_ERR_ARG, "--inputs: give --inputs or --images, not both");
        goto done;
    }
    if (o.inputs && o.in.distort.kind != SPLITEE_DISTORTION_KIND_NONE) {
        st = splitee__fail(&err, SPLITEE_ERR_ARG, "--distort/--domain: distortions apply to IDX images, "
                           "not to --inputs");
        goto done;
    }
    if (o.normalised && !o.inputs) {
        st = splitee__fail(&err, SPLITEE_ERR_ARG, "--normalised: only with --inputs");
        goto done;
    }
    if (!o.inputs && (st = cli_input_resolve(&o.in, &err)) < 0)
        goto done;
    if (o.labels_out && !o.in.labels) {
        st = splitee__fail(&err, SPLITEE_ERR_ARG, "--labels-out: needs labels (--labels: %s)",
                           o.inputs ? "a .npy of integer labels" : "an IDX label file");
        goto done;
    }
    size_t count = 0;
    const char *src;
    if (o.inputs) {
        src = o.inputs;
        if ((st = splitee_model_load(o.model.dir, &m, &err)) < 0 ||
            (st = load_inputs(&o, m, &x, &count, &npy_labels, &err)) < 0)
            goto done;
    } else {
        src = o.in.images;
        if ((st = cli_input_load(&o.in, &o.model, &m, &im, &err)) < 0)
            goto done;
        count = im.count;
    }
    const splitee_model_config *c = splitee_model_get_config(m);
    size_t per = (size_t)c->layers * (size_t)c->classes, total;
    if (splitee__mul_size(count, per * sizeof *out, &total) < 0 || !(out = malloc(total ? total : 1))) {
        st = splitee__fail(&err, SPLITEE_ERR_NOMEM, "%s: out of memory for %zu inputs", src, count);
        goto done;
    }
    splitee_batch_config bc;
    splitee_batch_config_default(&bc);
    bc.threads = cli_threads_for(&o.threads, count);
    cli_meter meter;
    cli_meter_start(&meter, &o.progress, "logits", o.inputs ? "inputs" : "images");
    bc.progress = show_progress;
    bc.progress_ctx = &meter;
    if (!o.inputs)
        st = splitee_batch_forward_images(m, &im, &o.in.distort, &bc, out, &err);
    else if (o.normalised)
        st = splitee_batch_forward_normalised(m, x.data, count, &bc, out, &err);
    else
        st = splitee_batch_forward_pixels(m, x.data, count, &bc, out, &err);
    cli_meter_end(&meter);
    if (st < 0) {
        if (o.inputs) {   /* "image K: ..." from the batch: name the file */
            char msg[sizeof err.msg];
            snprintf(msg, sizeof msg, "%s", err.msg);
            st = splitee__fail(&err, st, "%s: %s", o.inputs, msg);
        }
        goto done;
    }
    size_t shape[3] = { count, (size_t)c->layers, (size_t)c->classes };
    if ((st = splitee_npy_write(o.out, SPLITEE_DTYPE_F32, 3, shape, out, &err)) < 0)
        goto done;
    if (o.labels_out && (st = write_labels(o.labels_out, &im, npy_labels, count, &err)) < 0)
        unlink(o.out);   /* both or neither */
done:
    free(npy_labels);
    splitee_array_free(&x);
    free(out);
    splitee_images_free(&im);
    splitee_model_free(m);
    cli_free(&CMD, &o);
    if (st == 1)
        return 0;
    return st < 0 ? cli_fail(&err, st) : 0;
}
