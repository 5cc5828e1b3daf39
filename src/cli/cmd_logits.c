/* cmd_logits.c -- `splitee logits`: runs every image of an IDX file through
 * the C inference engine (optionally distorted into a shifted domain) and
 * writes the float32 (samples, exits, classes) exit-logit table that
 * `splitee replay --logits` reads, and optionally the labels as int64 .npy.
 *
 * Threads: one engine state and one distorter per thread, the samples cut
 * into contiguous blocks; every sample's logits depend only on the sample,
 * so the table is identical for any thread count. Outputs are written only
 * after every sample succeeded, each atomically. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "engine_opts.h"
#include "core/internal.h"

typedef struct logits_opts {
    cli_input in;      /* first: the shared setters cast to it */
    char *out;         /* the table (.npy) */
    char *labels_out;  /* labels (.npy), or NULL */
} logits_opts;

static int set_out(void *o, const char *v, splitee_error *err)
{
    return cli_set_string(&((logits_opts *)o)->out, v, err);
}

static int set_labels_out(void *o, const char *v, splitee_error *err)
{
    return cli_set_string(&((logits_opts *)o)->labels_out, v, err);
}

static const cli_eopt OPTS[] = {
    { "model", "DIR", cli_set_model, "model folder: model.json + weights [data/model]" },
    { "images", "FILE", cli_set_images, "IDX image file, gzip or not (required)" },
    { "labels", "FILE", cli_set_labels, "IDX label file (checked against the images; for --labels-out)" },
    { "labels-out", "FILE", set_labels_out, "write the labels as int64 .npy (needs --labels)" },
    { "domain", "NAME", cli_set_domain, "shipped shifted domain: clean, noise, blur or contrast" },
    { "distort", "KIND:LEVEL", cli_set_distort, "noise:SIGMA, blur:SIGMA or contrast:FACTOR (pixels in [0,1])" },
    { "seed", "S", cli_set_seed, "noise seed: image k uses S + k [20231101]" },
    { "threads", "N", cli_set_threads, "worker threads, 0 = all cores [0]" },
    { "limit", "N", cli_set_limit, "the first N images only" },
    { "out", "FILE", set_out, "the table: float32 .npy (samples, exits, classes) (required)" },
    { "progress", NULL, cli_set_progress, "show progress on stderr even when it is not a terminal" },
    { "no-progress", NULL, cli_set_no_progress, "never show progress" },
};
#define NOPTS (sizeof OPTS / sizeof *OPTS)

static void usage(FILE *f)
{
    fputs("usage: splitee logits --images IDX --out FILE.npy [options]\n"
          "Runs every image through the C inference engine and writes every exit's logits,\n"
          "the table `splitee replay --logits` reads.\n\n", f);
    cli_eopts_print(f, OPTS, NOPTS);
}

static void show_progress(void *ctx, size_t done, size_t total)
{
    (void)ctx;
    fprintf(stderr, "\rlogits: %zu/%zu images (%3.0f%%)", done, total,
            total ? 100.0 * (double)done / (double)total : 100.0);
    fflush(stderr);
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
    cli_input_defaults(&o.in);
    splitee_error err = { 0, "" };
    splitee_model *m = NULL;
    splitee_images im;
    memset(&im, 0, sizeof im);
    float *out = NULL;

    int st = cli_eopts_parse(OPTS, NOPTS, &o, argc, argv, "logits", usage, &err);
    if (st != 0)
        goto done;
    if (!o.out) {
        st = splitee__fail(&err, SPLITEE_ERR_ARG, "--out: missing (the .npy table to write)");
        goto done;
    }
    if (o.labels_out && !o.in.labels) {
        st = splitee__fail(&err, SPLITEE_ERR_ARG, "--labels-out: needs --labels (an IDX label file)");
        goto done;
    }
    if ((st = cli_input_load(&o.in, &m, &im, &err)) < 0)
        goto done;
    const splitee_model_config *c = splitee_model_get_config(m);
    size_t per = (size_t)c->layers * (size_t)c->classes, total;
    if (splitee__mul_size(im.count, per * sizeof *out, &total) < 0 || !(out = malloc(total))) {
        st = splitee__fail(&err, SPLITEE_ERR_NOMEM, "%s: out of memory for %zu images", o.in.images, im.count);
        goto done;
    }
    splitee_batch_config bc;
    splitee_batch_config_default(&bc);
    bc.threads = cli_input_threads(&o.in, im.count);
    int progress = cli_input_show_progress(&o.in);
    if (progress)
        bc.progress = show_progress;
    st = splitee_batch_forward_images(m, &im, &o.in.distort, &bc, out, &err);
    if (progress)
        fputc('\n', stderr);
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
    free(o.out);
    free(o.labels_out);
    cli_input_free(&o.in);
    if (st == 1)
        return 0;
    return st < 0 ? cli_fail(&err, st) : 0;
}
