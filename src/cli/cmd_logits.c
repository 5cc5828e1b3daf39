/* cmd_logits.c -- `splitee logits`: runs every image of an IDX file through
 * the C inference engine (optionally distorted into a shifted domain) and
 * writes the float32 (samples, exits, classes) exit-logit table that
 * `splitee replay --logits` reads, and optionally the labels as int64 .npy.
 *
 * The work is the library's batch inference (batch.h): identical tables for
 * any thread count. Outputs are written only after every sample succeeded,
 * each atomically. */
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
} logits_opts;

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
    { &cli_group_threads, offsetof(logits_opts, threads) },
    { &OUT, 0 },
    { &cli_group_progress, offsetof(logits_opts, progress) },
    { &cli_group_seed_compat, 0 },
    { NULL, 0 },
};

static const cli_command CMD = {
    .name = "logits",
    .synopsis = "splitee logits --out FILE.npy [options]",
    .about = "Runs every image through the C inference engine and writes every exit's logits,\n"
             "the table `splitee replay --logits` reads.\n",
    .groups = GROUPS,
    .data_note = 1,
};

/* The batch's progress callback: the command's meter. */
static void show_progress(void *ctx, size_t done, size_t total)
{
    cli_meter_update(ctx, done, total);
}

static int write_labels(const char *path, const splitee_images *im, splitee_error *err)
{
    int64_t *lab = malloc(im->count * sizeof *lab);
    if (!lab)
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < im->count; k++)
        lab[k] = im->labels[k];
    size_t shape[1] = { im->count };
    int st = splitee_npy_write(path, SPLITEE_DTYPE_I64, 1, shape, lab, err);
    free(lab);
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

    int st = cli_parse(&CMD, &o, argc, argv, &err);
    if (st != 0)
        goto done;
    if (!o.out) {
        st = splitee__fail(&err, SPLITEE_ERR_ARG, "--out: missing (the .npy table to write)");
        goto done;
    }
    if ((st = cli_input_resolve(&o.in, &err)) < 0)
        goto done;
    if (o.labels_out && !o.in.labels) {
        st = splitee__fail(&err, SPLITEE_ERR_ARG, "--labels-out: needs labels (--labels, an IDX label file)");
        goto done;
    }
    if ((st = cli_input_load(&o.in, &o.model, &m, &im, &err)) < 0)
        goto done;
    const splitee_model_config *c = splitee_model_get_config(m);
    size_t per = (size_t)c->layers * (size_t)c->classes, total;
    if (splitee__mul_size(im.count, per * sizeof *out, &total) < 0 || !(out = malloc(total))) {
        st = splitee__fail(&err, SPLITEE_ERR_NOMEM, "%s: out of memory for %zu images", o.in.images, im.count);
        goto done;
    }
    splitee_batch_config bc;
    splitee_batch_config_default(&bc);
    bc.threads = cli_threads_for(&o.threads, im.count);
    cli_meter meter;
    cli_meter_start(&meter, &o.progress, "logits", "images");
    bc.progress = show_progress;
    bc.progress_ctx = &meter;
    st = splitee_batch_forward_images(m, &im, &o.in.distort, &bc, out, &err);
    cli_meter_end(&meter);
    if (st < 0)
        goto done;
    size_t shape[3] = { im.count, (size_t)c->layers, (size_t)c->classes };
    if ((st = splitee_npy_write(o.out, SPLITEE_DTYPE_F32, 3, shape, out, &err)) < 0)
        goto done;
    if (o.labels_out && (st = write_labels(o.labels_out, &im, &err)) < 0)
        unlink(o.out);   /* both or neither */
done:
    free(out);
    splitee_images_free(&im);
    splitee_model_free(m);
    cli_free(&CMD, &o);
    if (st == 1)
        return 0;
    return st < 0 ? cli_fail(&err, st) : 0;
}
