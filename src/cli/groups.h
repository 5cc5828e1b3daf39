/* groups.h -- the option groups commands share (opt.h), each an option
 * table over one struct, and what turns their values into inputs: the
 * shipped model, the test set and the shipped tables come from the data
 * catalogue (splitee/data.h), so every default works from any folder and
 * shipped labels go only with shipped tables and images.
 *
 *   group        options                                         commands
 *   model        --model                                         logits infer profile cloud device link
 *   input        --images --labels --domain --distort            logits infer device
 *                --noise-seed --limit                            (profile: --images only)
 *   input        --logits --labels --domain --layout --shift     replay (the table input)
 *   exit rule    --alpha --alpha-from --confidence               replay infer device (cloud: --confidence)
 *   reward       --lambda --mu --offload --layer-cost            replay device
 *                --offload-cost
 *   policy       --policy --beta --epsilon --prior-sd --window   replay device
 *                --discount --side-info --seed
 *   link         --link --encoding                               replay device link (infer: --encoding)
 *   output       --json --quiet --checkpoints                    replay device (infer: --json)
 *   threads      --threads                                       replay logits
 *   tls          --tls-cert --tls-key --tls-ca --plaintext       cloud device
 *                --insecure-plaintext
 *   progress     --progress --no-progress                        every command
 *   old spellings  --seed for --noise-seed                       logits infer
 */
#ifndef SPLITEE_CLI_GROUPS_H
#define SPLITEE_CLI_GROUPS_H

#include <pthread.h>
#include <stdint.h>
#include "opt.h"

/* ---- the catalogue, notes ------------------------------------------------ */

/* The data catalogue, loaded on first use and kept until
 * cli_catalog_free(); NULL with err filled when it cannot be read. */
const splitee_catalog *cli_catalog(splitee_error *err);
void cli_catalog_free(void);

/* "splitee: note: ..." on stderr: something the user should know that is
 * not an error (a table without labels). */
void cli_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- progress ------------------------------------------------------------ */

typedef struct cli_progress {
    int mode;          /* 0: when stderr is a terminal, 1: --progress, 2: --no-progress */
} cli_progress;
extern const cli_group cli_group_progress;

/* Whether to draw progress. */
int cli_progress_on(const cli_progress *p);

/* A progress line on stderr, "\rWHAT: DONE/TOTAL UNIT (PP%)", redrawn at
 * most ten times a second and when done reaches total; safe to update
 * from several threads. */
typedef struct cli_meter {
    const char *what, *unit;
    int on, drawn;
    double last_s;
    size_t last_done;
    pthread_mutex_t mu;
} cli_meter;
void cli_meter_start(cli_meter *m, const cli_progress *p, const char *what, const char *unit);
void cli_meter_update(cli_meter *m, size_t done, size_t total);
/* Ends the line if anything was drawn. */
void cli_meter_end(cli_meter *m);
/* Another line is about to go to stderr: ends a drawn meter's line first. */
void cli_meter_break(void);

/* ---- model --------------------------------------------------------------- */

typedef struct cli_model {
    char *dir;         /* --model; after parsing, the catalogue's model when not given */
} cli_model;
extern const cli_group cli_group_model;

/* ---- threads ------------------------------------------------------------- */

typedef struct cli_threads {
    int n;             /* 0: one per online CPU */
} cli_threads;
extern const cli_group cli_group_threads;

/* Worker threads for `items` items: --threads, or the online CPUs, at most
 * one per item. */
int cli_threads_for(const cli_threads *t, size_t items);

/* ---- image input ---------------------------------------------------------- */

typedef struct cli_input {
    char *images;      /* IDX images; cli_input_resolve: the test set when not given */
    char *labels;      /* IDX labels, or NULL; the test set's only with its images */
    int labels_none;   /* --labels none */
    int test_set;      /* 1: images and labels are the catalogue's test set */
    splitee_distortion_config distort; /* identity unless --domain/--distort */
    char distort_name[64];             /* "clean", "noise", "noise:0.2" for reports */
    cli_source domain_src, distort_src;
    uint64_t noise_seed;               /* --noise-seed: image k's noise uses seed + k */
    long limit;        /* the first N images; 0: all */
} cli_input;
extern const cli_group cli_group_input;          /* with the test set by default */
extern const cli_group cli_group_input_images;   /* --images alone, no default (profile) */
extern const cli_group cli_group_seed_compat;    /* --seed: old spelling of --noise-seed */

/* Without --images, the catalogue's test set with its labels (unless
 * --labels said otherwise); IO when it is not installed. Call it once the
 * other options have been checked. */
int cli_input_resolve(cli_input *in, splitee_error *err);

/* "(1, 28, 28)": a shape for messages, into buf[0..len). */
void cli_shape_text(const splitee_shape *sh, char *buf, size_t len);

/* Resolves, then loads the model and the images (with labels if any), cut
 * to --limit, and checks that they fit the model and the distortion fits
 * the images. On failure nothing is left allocated. */
int cli_input_load(cli_input *in, const cli_model *mo, splitee_model **model,
                   splitee_images *im, splitee_error *err);

/* ---- table input (replay) ------------------------------------------------ */

typedef struct cli_shift {
    long round;        /* after this many rounds, or */
    double round_pct;  /* > 0: after this percentage of the stream */
    char *table;       /* path (a domain name is resolved to its shipped table) */
    char *labels;      /* its labels, or NULL */
} cli_shift;

typedef struct cli_table {
    char *logits;      /* after parsing: the table's path */
    char *labels;      /* after parsing: its labels, or NULL */
    char *domain;      /* --domain NAME, or NULL */
    int labels_none;
    int layout;        /* splitee_layout */
    cli_source logits_src, domain_src, shift_src;
    cli_shift shift[SPLITEE_MAX_SEGMENTS - 1];
    int nshift;
} cli_table;
extern const cli_group cli_group_table;

/* Loads the table (dropping a CSV label column under --labels none) and
 * notes on stderr once when it has no labels and --labels none was not
 * given. */
int cli_table_load(const cli_table *tab, splitee_table **out, splitee_error *err);
/* The scene ids of a stream table: `given` (--scenes) if not NULL, else
 * the catalogue's for a shipped table that has them, else NULL. */
const char *cli_table_scenes(const cli_table *tab, const char *given);
/* Loads shift i's table. */
int cli_table_load_shift(const cli_table *tab, int i, splitee_table **out, splitee_error *err);

/* ---- exit rule, reward, policy --------------------------------------------- */

typedef struct cli_exit {
    cli_values alpha;                  /* exit threshold (agreement: the sum to reach) */
    int confidence;                    /* splitee_confidence */
    int rule;                          /* splitee_exit_kind */
    double alphas[SPLITEE_MAX_EXITS];  /* --alphas: per-exit thresholds */
    int nalphas;
    int patience;                      /* --patience P */
    int alpha_from;                    /* 1: alpha came from --alpha-from (a later --alpha clears it) */
    double theta;                      /* --theta: stream rules' distance threshold */
    int theta_rule;                    /* --theta-from: 1 + the splitee_exit_kind it was calibrated for */
    char theta_path[256];              /* --theta-from FILE, for messages */
} cli_exit;
/* The confidence measures' names by enum value, for option lists. */
const char *cli_confidence_at(int i, const char **desc);
extern const cli_group cli_group_exit;   /* --alpha --confidence --rule --alphas --patience */

/* The exit rule the options give, into the reward model's config (alpha
 * set by the caller: it may be swept). */
void cli_exit_rule(const cli_exit *e, splitee_exit_config *out);


typedef struct cli_reward {
    cli_values lambda, mu, offload;
    double layer_cost[SPLITEE_MAX_EXITS];   /* per-layer device cost */
    int nlayer_cost;                        /* 0: lambda * i */
    double offload_cost[SPLITEE_MAX_EXITS]; /* per-layer o */
    int noffload_cost;                      /* 0: constant offload */
    int offload_given;                      /* --offload or --offload-cost given */
    int lambda_given;                       /* --lambda given (flag or --config) */
} cli_reward;
extern const cli_group cli_group_reward;

/* The one-valued reward of e and r (device): ARG for a sweep. The cost
 * vectors point into r. */
int cli_reward_one(const cli_exit *e, const cli_reward *r, const char *cmd,
                   splitee_reward_config *out, splitee_error *err);

#define CLI_MAX_POLICIES 32

typedef struct cli_policy {
    splitee_policy_config policies[CLI_MAX_POLICIES]; /* after parsing: with every
                                                         parameter below (beta: the first) */
    int npolicies;
    cli_values beta;
    double epsilon, prior_sd, discount;
    int window;
    int side_info;                     /* splitee_side_info */
    uint64_t seed;                     /* the policies' random draws */
    cli_values alpha_grid;             /* splitee-alpha's thresholds (n 0: its default) */
} cli_policy;
extern const cli_group cli_group_policy;

/* The one policy of p for a live device: ARG for a list, a sweep of beta
 * or a policy that needs hindsight. */
int cli_policy_one(const cli_policy *p, const char *cmd, splitee_policy_config *out,
                   splitee_error *err);

/* ---- link, output ---------------------------------------------------------- */

typedef struct cli_link_opts {
    char *link;        /* after parsing: a path (NAME: DATA/links/NAME.json), or NULL */
    int encoding;      /* splitee_payload_encoding */
} cli_link_opts;
extern const cli_group cli_group_link;      /* --link --encoding */
extern const cli_group cli_group_payload;   /* --encoding alone (infer) */

typedef struct cli_output {
    char *json;
    int quiet;
    int checkpoints;   /* curve points */
} cli_output;
extern const cli_group cli_group_output;       /* --json --quiet --checkpoints */
extern const cli_group cli_group_output_json;  /* --json alone (infer) */

/* ---- tls ------------------------------------------------------------------- */

/* TLS 1.3 between a device and its cloud (docs/LIVE.md). After parsing:
 * the cloud has cert, key and ca, or none; a device has ca (and cert with
 * key, or neither), or none; --plaintext/--insecure-plaintext with none. */
typedef struct cli_tls {
    char *cert, *key, *ca;   /* PEM paths, or NULL */
    int plaintext;           /* --plaintext: no TLS, loopback only (the default without --tls-*) */
    int insecure;            /* --insecure-plaintext: no TLS on any address */
} cli_tls;
extern const cli_group cli_group_tls;

#endif
