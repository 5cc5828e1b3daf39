/* cmd_infer.c -- `splitee infer`: runs images through the engine with a
 * fixed split, as a device and a cloud would. The device runs layers
 * [0, K) and exit K-1; a sample whose confidence reaches alpha exits there,
 * any other is encoded as an activation payload (f32, f16 or int8), decoded
 * into a second run state (the cloud's) and resumed to the final exit.
 * Reports accuracy, exit and offload rates and payload bytes, next to the
 * uninterrupted full forward pass on the same images, so the effect of a
 * lossy encoding shows. One thread: this is the device's view. The loop is
 * the library's (splitee_batch_split_images, batch.h). */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include "cli.h"
#include "core/internal.h"
#include "groups.h"

typedef struct infer_opts {
    cli_model model;
    cli_input in;
    cli_exit ex;
    cli_link_opts pay;
    cli_output out;
    cli_progress prog;
    int split;      /* K, 1..layers; 0 = not given */
    /* after parsing */
    double alpha;
    splitee_confidence confidence;
    splitee_payload_encoding encoding;
    const char *json;
} infer_opts;

static const cli_opt OPT_SPLIT = { .name = "split", .arg = "K", .kind = CLI_INT,
    .off = offsetof(infer_opts, split), .lo = 1, .hi = SPLITEE_MAX_EXITS,
    .help = "layers on the device, 1..L; exit K is read there (required)" };
static const cli_opt *const SPLIT_OPTS[] = { &OPT_SPLIT, NULL };
static const cli_group SPLIT = { .title = "split", .opts = SPLIT_OPTS };

static const cli_use GROUPS[] = {
    { &cli_group_model, offsetof(infer_opts, model) },
    { &cli_group_input, offsetof(infer_opts, in) },
    { &SPLIT, 0 },
    { &cli_group_exit, offsetof(infer_opts, ex) },
    { &cli_group_payload, offsetof(infer_opts, pay) },
    { &cli_group_output_json, offsetof(infer_opts, out) },
    { &cli_group_progress, offsetof(infer_opts, prog) },
    { &cli_group_seed_compat, 0 },
    { NULL, 0 },
};

static const cli_command CMD = {
    .name = "infer",
    .synopsis = "splitee infer --split K [options]",
    .about = "Runs a fixed split: layers 1..K on the device, exit K when its confidence reaches\n"
             "alpha, otherwise the activation is sent as a payload and the cloud finishes.\n",
    .groups = GROUPS,
    .data_note = 1,
};

static double frac(size_t a, size_t b)
{
    return b ? (double)a / (double)b : 0.0;
}

static void print_stats(FILE *f, const infer_opts *o, const splitee_model_config *c,
                        const splitee_split_stats *r)
{
    fprintf(f, "model %s: %d layers, %d classes; images %s: %zu (%s)\n", o->model.dir,
            c->layers, c->classes, o->in.images, r->samples, o->in.distort_name);
    fprintf(f, "split after layer %d of %d; alpha %g on %s; payload %s\n\n", o->split,
            c->layers, o->alpha, splitee_confidence_name(o->confidence),
            splitee_payload_encoding_name(o->encoding));
    char lab[64];
    fprintf(f, "%-34s %.4f\n", "accuracy", frac(r->correct, r->samples));
    fprintf(f, "%-34s %.4f\n", "  same split, lossless payload", frac(r->correct_lossless, r->samples));
    snprintf(lab, sizeof lab, "  full forward (exit %d)", c->layers);
    fprintf(f, "%-34s %.4f\n", lab, frac(r->correct_full, r->samples));
    snprintf(lab, sizeof lab, "  exit %d for every sample", o->split);
    fprintf(f, "%-34s %.4f\n", lab, frac(r->correct_exit_k, r->samples));
    fprintf(f, "%-34s %zu (%.1f%%)\n", "exited on the device", r->exited, 100 * frac(r->exited, r->samples));
    fprintf(f, "%-34s %zu (%.1f%%)\n", "offloaded", r->offloaded, 100 * frac(r->offloaded, r->samples));
    fprintf(f, "%-34s %zu per offload, %zu in total\n", "payload bytes",
            r->payload_bytes, r->payload_bytes * r->offloaded);
    fprintf(f, "%-34s %zu of %zu offloaded\n", "predictions the encoding changed", r->changed, r->offloaded);
    fprintf(f, "%-34s %.3g\n", "max |final logit - full forward|", r->max_diff);
}

static int write_json(const char *path, const infer_opts *o, const splitee_model_config *c,
                      const splitee_split_stats *r, splitee_error *err)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "model", o->model.dir);
    cJSON_AddStringToObject(j, "images", o->in.images);
    cJSON_AddStringToObject(j, "labels", o->in.labels);
    cJSON_AddStringToObject(j, "domain", o->in.distort_name);
    cJSON_AddNumberToObject(j, "layers", c->layers);
    cJSON_AddNumberToObject(j, "split", o->split);
    cJSON_AddNumberToObject(j, "alpha", o->alpha);
    cJSON_AddStringToObject(j, "confidence", splitee_confidence_name(o->confidence));
    cJSON_AddStringToObject(j, "encoding", splitee_payload_encoding_name(o->encoding));
    cJSON_AddNumberToObject(j, "samples", (double)r->samples);
    cJSON_AddNumberToObject(j, "accuracy", frac(r->correct, r->samples));
    cJSON_AddNumberToObject(j, "accuracy_lossless", frac(r->correct_lossless, r->samples));
    cJSON_AddNumberToObject(j, "accuracy_full_forward", frac(r->correct_full, r->samples));
    cJSON_AddNumberToObject(j, "accuracy_exit_split", frac(r->correct_exit_k, r->samples));
    cJSON_AddNumberToObject(j, "exited", (double)r->exited);
    cJSON_AddNumberToObject(j, "offloaded", (double)r->offloaded);
    cJSON_AddNumberToObject(j, "exit_rate", frac(r->exited, r->samples));
    cJSON_AddNumberToObject(j, "offload_rate", frac(r->offloaded, r->samples));
    cJSON_AddNumberToObject(j, "payload_bytes_per_offload", (double)r->payload_bytes);
    cJSON_AddNumberToObject(j, "payload_bytes_total", (double)(r->payload_bytes * r->offloaded));
    cJSON_AddNumberToObject(j, "predictions_changed_by_encoding", (double)r->changed);
    cJSON_AddNumberToObject(j, "max_abs_final_logit_diff", r->max_diff);
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    if (!text)
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", path);
    size_t len = strlen(text);
    text[len] = '\n';   /* replaces the terminator; written by length */
    int st = splitee_file_write_atomic(path, text, len + 1, err);
    free(text);
    return st;
}

/* The batch's progress callback: the command's meter. */
static void show_progress(void *ctx, size_t done, size_t total)
{
    cli_meter_update(ctx, done, total);
}

int cli_infer(int argc, char **argv)
{
    infer_opts o;
    memset(&o, 0, sizeof o);
    splitee_error err = { 0, "" };
    splitee_model *m = NULL;
    splitee_images im;
    memset(&im, 0, sizeof im);
    splitee_split_stats r;
    cli_meter meter = { 0 };

    int st = cli_parse(&CMD, &o, argc, argv, &err);
    if (st != 0)
        goto done;
    if ((st = cli_values_one(&o.ex.alpha, "alpha", "infer", &o.alpha, &err)) < 0)
        goto done;
    if (o.ex.rule != SPLITEE_EXIT_KIND_THRESHOLD) {
        st = splitee__fail(&err, SPLITEE_ERR_UNSUPPORTED, "--rule %s: splitee infer applies the threshold rule at "
                           "its one split (replay and device take every rule)",
                           splitee_exit_kind_name((splitee_exit_kind)o.ex.rule));
        goto done;
    }
    o.confidence = (splitee_confidence)o.ex.confidence;
    o.encoding = (splitee_payload_encoding)o.pay.encoding;
    o.json = o.out.json;
    if (!o.split) {
        st = splitee__fail(&err, SPLITEE_ERR_ARG, "--split: missing (layers to run on the device, 1..L)");
        goto done;
    }
    if ((st = cli_input_resolve(&o.in, &err)) < 0)
        goto done;
    if (!o.in.labels) {
        st = splitee__fail(&err, SPLITEE_ERR_ARG, "--labels: missing (an IDX label file: infer reports accuracy)");
        goto done;
    }
    if ((st = cli_input_load(&o.in, &o.model, &m, &im, &err)) < 0)
        goto done;
    const splitee_model_config *c = splitee_model_get_config(m);
    if (o.split > c->layers) {
        st = splitee__fail(&err, SPLITEE_ERR_ARG, "--split: %d is out of range for %s (1..%d layers)",
                           o.split, splitee_model_json_path(m), c->layers);
        goto done;
    }
    splitee_split_config sc = { o.split, o.alpha, o.confidence, o.encoding };
    splitee_batch_config bc;   /* one thread: this is the device's view */
    splitee_batch_config_default(&bc);
    cli_meter_start(&meter, &o.prog, "infer", "images");
    bc.progress = show_progress;
    bc.progress_ctx = &meter;
    st = splitee_batch_split_images(m, &im, &o.in.distort, &sc, &bc, &r, &err);
    cli_meter_end(&meter);
    if (st < 0)
        goto done;
    if (o.json && (st = write_json(o.json, &o, c, &r, &err)) < 0)
        goto done;
    print_stats(stdout, &o, c, &r);
done:
    splitee_images_free(&im);
    splitee_model_free(m);
    cli_free(&CMD, &o);
    if (st == 1)
        return 0;
    return st < 0 ? cli_fail(&err, st) : 0;
}
