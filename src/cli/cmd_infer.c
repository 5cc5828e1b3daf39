/* cmd_infer.c -- `splitee infer`: runs images through the engine with a
 * fixed split, as a device and a cloud would. The device runs layers
 * [0, K) and exit K-1; a sample whose confidence reaches alpha exits there,
 * any other is encoded as an activation payload (f32, f16 or int8), decoded
 * into a second run state (the cloud's) and resumed to the final exit.
 * Reports accuracy, exit and offload rates and payload bytes, next to the
 * uninterrupted full forward pass on the same images, so the effect of a
 * lossy encoding shows. One thread: this is the device's view. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include "cli.h"
#include "engine_opts.h"
#include "core/internal.h"

typedef struct infer_opts {
    cli_input in;   /* first: the shared setters cast to it */
    int split;      /* K, 1..layers; 0 = not given */
    double alpha;
    splitee_confidence confidence;
    splitee_payload_encoding encoding;
    char *json;
} infer_opts;

static int set_split(void *o, const char *v, splitee_error *err)
{
    long x;
    if (cli_parse_long(v, 1, SPLITEE_MAX_EXITS, &x) < 0)
        return splitee__fail(err, SPLITEE_ERR_ARG, "--split: expected a layer 1..%d, got '%s'", SPLITEE_MAX_EXITS, v);
    ((infer_opts *)o)->split = (int)x;
    return 0;
}

static int set_alpha(void *o, const char *v, splitee_error *err)
{
    double a;
    if (cli_parse_double(v, &a) < 0 || a < 0 || a > 1)
        return splitee__fail(err, SPLITEE_ERR_ARG, "--alpha: expected a number in [0, 1], got '%s'", v);
    ((infer_opts *)o)->alpha = a;
    return 0;
}

static int set_confidence(void *o, const char *v, splitee_error *err)
{
    if (splitee_confidence_parse(v, &((infer_opts *)o)->confidence) < 0)
        return splitee__fail(err, SPLITEE_ERR_ARG, "--confidence: expected max-softmax, entropy or margin, got '%s'", v);
    return 0;
}

static int set_encoding(void *o, const char *v, splitee_error *err)
{
    if (splitee_payload_encoding_parse(v, &((infer_opts *)o)->encoding, NULL) < 0)
        return splitee__fail(err, SPLITEE_ERR_ARG, "--encoding: expected f32, f16 or int8, got '%s'", v);
    return 0;
}

static int set_json(void *o, const char *v, splitee_error *err)
{
    return cli_set_string(&((infer_opts *)o)->json, v, err);
}

static const cli_eopt OPTS[] = {
    { "model", "DIR", cli_set_model, "model folder: model.json + weights [data/model]" },
    { "images", "FILE", cli_set_images, "IDX image file, gzip or not (required)" },
    { "labels", "FILE", cli_set_labels, "IDX label file (required)" },
    { "split", "K", set_split, "layers on the device, 1..L; exit K is read there (required)" },
    { "alpha", "A", set_alpha, "exit threshold on the confidence of exit K [0.8]" },
    { "confidence", "C", set_confidence, "max-softmax, entropy or margin [max-softmax]" },
    { "encoding", "E", set_encoding, "payload encoding: f32, f16 or int8 [f32]" },
    { "domain", "NAME", cli_set_domain, "shipped shifted domain: clean, noise, blur or contrast" },
    { "distort", "KIND:LEVEL", cli_set_distort, "noise:SIGMA, blur:SIGMA or contrast:FACTOR (pixels in [0,1])" },
    { "seed", "S", cli_set_seed, "noise seed: image k uses S + k [20231101]" },
    { "limit", "N", cli_set_limit, "the first N images only" },
    { "json", "FILE", set_json, "write the results as JSON" },
};
#define NOPTS (sizeof OPTS / sizeof *OPTS)

static void usage(FILE *f)
{
    fputs("usage: splitee infer --images IDX --labels IDX --split K [options]\n"
          "Runs a fixed split: layers 1..K on the device, exit K when its confidence reaches\n"
          "alpha, otherwise the activation is sent as a payload and the cloud finishes.\n\n", f);
    cli_eopts_print(f, OPTS, NOPTS);
}

static double frac(size_t a, size_t b)
{
    return b ? (double)a / (double)b : 0.0;
}

static void print_stats(FILE *f, const infer_opts *o, const splitee_model_config *c,
                        const splitee_split_stats *r)
{
    fprintf(f, "model %s: %d layers, %d classes; images %s: %zu (%s)\n", o->in.model,
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
    cJSON_AddStringToObject(j, "model", o->in.model);
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

int cli_infer(int argc, char **argv)
{
    infer_opts o;
    memset(&o, 0, sizeof o);
    cli_input_defaults(&o.in);
    o.alpha = 0.8;
    o.confidence = SPLITEE_CONFIDENCE_MAX_SOFTMAX;
    o.encoding = SPLITEE_PAYLOAD_ENCODING_F32;
    splitee_error err = { 0, "" };
    splitee_model *m = NULL;
    splitee_images im;
    memset(&im, 0, sizeof im);
    splitee_split_stats r;

    int st = cli_eopts_parse(OPTS, NOPTS, &o, argc, argv, "infer", usage, &err);
    if (st != 0)
        goto done;
    if (!o.split) {
        st = splitee__fail(&err, SPLITEE_ERR_ARG, "--split: missing (layers to run on the device, 1..L)");
        goto done;
    }
    if (!o.in.labels) {
        st = splitee__fail(&err, SPLITEE_ERR_ARG, "--labels: missing (an IDX label file)");
        goto done;
    }
    if ((st = cli_input_load(&o.in, &m, &im, &err)) < 0)
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
    if ((st = splitee_batch_split_images(m, &im, &o.in.distort, &sc, &bc, &r, &err)) < 0)
        goto done;
    if (o.json && (st = write_json(o.json, &o, c, &r, &err)) < 0)
        goto done;
    print_stats(stdout, &o, c, &r);
done:
    splitee_images_free(&im);
    splitee_model_free(m);
    free(o.json);
    cli_input_free(&o.in);
    if (st == 1)
        return 0;
    return st < 0 ? cli_fail(&err, st) : 0;
}
