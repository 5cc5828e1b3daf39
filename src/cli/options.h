/* options.h -- the CLI's option model for `splitee replay`: one table of
 * options, filled from an experiment JSON (--config) and then from flags,
 * which override it. */
#ifndef SPLITEE_CLI_OPTIONS_H
#define SPLITEE_CLI_OPTIONS_H

#include <stdint.h>
#include "splitee/splitee.h"

#define CLI_MAX_SWEEP 256     /* values per swept parameter */
#define CLI_MAX_POLICIES 32

/* A swept parameter: one value or a list. */
typedef struct cli_values {
    int n;
    double v[CLI_MAX_SWEEP];
} cli_values;

typedef struct cli_replay_opts {
    char *logits, *labels;        /* input files (owned) */
    splitee_layout layout;
    splitee_confidence confidence;
    splitee_policy_config policies[CLI_MAX_POLICIES];
    int npolicies;
    cli_values alpha, lambda, mu, offload, beta;
    double layer_cost[SPLITEE_MAX_EXITS];   /* per-layer device cost */
    int nlayer_cost;                        /* 0: lambda*i */
    double offload_cost[SPLITEE_MAX_EXITS]; /* per-layer o */
    int noffload_cost;                      /* 0: constant offload */
    splitee_replay_config replay;
    splitee_side_info side_info;
    double epsilon, prior_sd;
    int window;                   /* sw-ucb W, rounds */
    double discount;              /* d-ucb gamma */
    /* --shift ROUND:TABLE: after `round` rounds the stream's samples come
     * from `table` (a path, or a shipped domain name resolved to its path);
     * round_pct > 0 gives the round as a percentage of the stream instead.
     * Sorted and checked against the table in cmd_replay.c. */
    struct cli_shift { long round; double round_pct; char *table; } shift[SPLITEE_MAX_SEGMENTS - 1];
    int nshift;
    int in_config;                /* 1 while --config is applied */
    int shift_from_flags;         /* 1 once a --shift flag replaced the config's */
    char *json, *csv, *curves, *trace, *plot; /* outputs (owned), or NULL */
    int quiet;                    /* no table on stdout */
    int progress;                 /* -1 auto (stderr is a terminal), 0, 1 */
    /* link-cost simulator (docs/LINKS.md): o from a link profile instead of
     * --offload/--offload-cost */
    char *link;                   /* profile JSON (owned), or NULL */
    splitee_payload_encoding link_encoding;
    double arrival_ms;            /* round k happens at k * arrival_ms */
    int payload_tokens, payload_dim; /* activation shape priced per split */
    int offload_given;            /* --offload or --offload-cost was set */
} cli_replay_opts;

/* Fills defaults: the shipped clean Fashion-MNIST table, every policy but
 * fixed, alpha 0.8, lambda 0.1, mu 1, offload 0.3, beta 1, 20 repetitions. */
void cli_replay_defaults(cli_replay_opts *o);

/* Parses argv (after the subcommand) into o: --config FILE first, wherever
 * it stands, then every flag in order. Returns 0, 1 if help was printed, or
 * a negative status with err filled ("--alpha: ..."). */
int cli_replay_parse(cli_replay_opts *o, int argc, char **argv, splitee_error *err);

/* Frees the strings o owns. */
void cli_replay_free(cli_replay_opts *o);

/* Parses "x", "a,b,c" or "start:stop:step" (inclusive, step > 0) into v. */
int cli_parse_values(const char *s, cli_values *v, splitee_error *err, const char *what);

/* Parses a cost vector: an inline list "0.1,0.2,...", or a file holding a
 * JSON array, a JSON object with "layer_cost" (array), or one number per
 * line. */
int cli_parse_vector(const char *s, double *out, int max, int *n, splitee_error *err,
                     const char *what);

void cli_replay_usage(FILE *f);

#endif
