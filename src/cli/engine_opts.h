/* engine_opts.h -- what the inference-engine commands (`splitee logits`,
 * `infer`, `profile`) share: a small option table parser (the same
 * "--name VALUE" / "--name=VALUE" conventions as replay's options.c, over
 * any options struct), the input options (model folder, IDX images and
 * labels, domain or distortion, limit) and loading them. */
#ifndef SPLITEE_CLI_ENGINE_OPTS_H
#define SPLITEE_CLI_ENGINE_OPTS_H

#include <stdint.h>
#include <stdio.h>
#include "splitee/splitee.h"

/* One option of a command: `set` parses the value into the command's
 * options struct `o`. */
typedef struct cli_eopt {
    const char *name;  /* without the leading "--" */
    const char *arg;   /* placeholder, or NULL for a plain flag */
    int (*set)(void *o, const char *v, splitee_error *err);
    const char *help;
} cli_eopt;

/* Parses argv (after the subcommand) through the table: returns 0, 1 when
 * --help was given (usage printed on stdout), or a negative status with
 * err filled. */
int cli_eopts_parse(const cli_eopt *opts, size_t nopts, void *o, int argc, char **argv,
                    const char *cmd, void (*usage)(FILE *), splitee_error *err);

/* Prints one "  --name ARG   help" line per option. */
void cli_eopts_print(FILE *f, const cli_eopt *opts, size_t nopts);

/* The input options every engine command may take. */
typedef struct cli_input {
    char *model;        /* model folder [data/model] (owned) */
    char *images;       /* IDX images, gzip or not (owned), or NULL */
    char *labels;       /* IDX labels (owned), or NULL */
    splitee_distortion_config distort; /* identity by default */
    char distort_name[64]; /* "clean", "noise", "noise:0.2", ... for reports */
    int distort_set;    /* --domain or --distort given (at most one of them) */
    uint64_t seed;      /* --seed: noise seed */
    int seed_set;
    long limit;         /* first N images only; 0 = all */
    int threads;        /* worker threads, 0 = all cores */
    int progress;       /* -1 auto (stderr is a terminal), 0, 1 */
} cli_input;

void cli_input_defaults(cli_input *in);
void cli_input_free(cli_input *in);

/* Setters for the shared options, usable in a cli_eopt table whose options
 * struct starts with a cli_input member. */
int cli_set_model(void *o, const char *v, splitee_error *err);
int cli_set_images(void *o, const char *v, splitee_error *err);
int cli_set_labels(void *o, const char *v, splitee_error *err);
int cli_set_domain(void *o, const char *v, splitee_error *err);
int cli_set_distort(void *o, const char *v, splitee_error *err);
int cli_set_seed(void *o, const char *v, splitee_error *err);
int cli_set_limit(void *o, const char *v, splitee_error *err);
int cli_set_threads(void *o, const char *v, splitee_error *err);
int cli_set_progress(void *o, const char *v, splitee_error *err);
int cli_set_no_progress(void *o, const char *v, splitee_error *err);

/* Replaces a string option (owned). */
int cli_set_string(char **dst, const char *v, splitee_error *err);

/* Applies --seed to the distortion; checks that images were given and
 * loads model and images (with labels if given), cutting to --limit, and
 * checks that the images fit the model. On failure everything is
 * released. */
int cli_input_load(cli_input *in, splitee_model **model, splitee_images *im,
                   splitee_error *err);

/* Whether progress goes to stderr. */
int cli_input_show_progress(const cli_input *in);

/* Worker threads to use for `n` items: --threads, or the online CPUs. */
int cli_input_threads(const cli_input *in, size_t n);

#endif
