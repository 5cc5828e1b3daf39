/* exit.h -- the exit rule: how sure exit i is of its prediction (the
 * confidence measure, C_i computed from the exit's logits) and whether the
 * sample may stop there (the decision). Every module that decides whether
 * a sample exits -- the reward model, every policy, replay, infer (batch),
 * device and cloud -- takes both from here, so a rule is defined once.
 * docs/EXIT_RULES.md describes each rule.
 *
 * Decisions (splitee_exit_kind), for exit i (0-based) of a sample whose
 * exits 0..i have confidences C_0..C_i and predictions y_0..y_i:
 *   threshold  C_i >= alpha
 *   per-exit   C_i >= alpha_i
 *   patience   y_{i-P} = ... = y_i (PABEE: the prediction stayed unchanged
 *              P times in a row, so P+1 consecutive exits agree)
 *   agreement  S_i >= alpha, with S_i = C_i + S_{i-1} when y_i = y_{i-1},
 *              else S_i = C_i (confidences summed while consecutive exits
 *              agree)
 * The last exit is where a sample that no rule accepts ends; whoever uses a
 * rule (reward.h) treats it so, the rule itself does not.
 *
 *     splitee_exit_config ec;
 *     splitee_exit_config_default(&ec);          // threshold 0.8, max-softmax
 *     ec.kind = SPLITEE_EXIT_KIND_PATIENCE;
 *     ec.patience = 2;
 *     splitee_exit_rule rule;
 *     if (splitee_exit_rule_init(&rule, &ec, 12, &err) < 0) die(err.msg);
 *     splitee_exit_state st;
 *     splitee_exit_begin(&rule, &st);            // a new sample
 *     for (int i = 0; i < 12; i++) {             // exit by exit, as a device runs
 *         int32_t y;
 *         double c = splitee_confidence_of(z[i], 10, rule.confidence, &y);
 *         if (splitee_exit_step(&rule, &st, c, y)) ... exit i accepted, class y
 *     }
 *
 * Adding a decision: its enum value below, its kind (traits + operations)
 * in a src/core/exit_*.c file and one line in the registry of
 * src/core/exit.c (src/core/exit_impl.h says what a kind provides). Nothing
 * else lists kinds: help texts, validation and reports ask
 * splitee_exit_kind_info.
 *
 * State across samples (room for the stream rules of a later step): a
 * temporal rule compares a sample's first exit with a reference frame's
 * and reuses its label, so it must remember things between samples. Such a
 * kind will set splitee_exit_info.stream; its state will live in an opaque
 * splitee_exit_stream handle (_create/_free, allocated once), which seeds
 * splitee_exit_state at splitee_exit_begin and is updated when a sample
 * ends. Harnesses that do not see samples in their true order (a shuffled
 * replay) must refuse such kinds. No kind sets the trait yet.
 */
#ifndef SPLITEE_EXIT_H
#define SPLITEE_EXIT_H

#include <stddef.h>
#include <stdint.h>
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest number of exits (arms) any splitee module supports. */
#define SPLITEE_MAX_EXITS 64

/* ---- confidence measures ------------------------------------------------- */

typedef enum splitee_confidence {
    SPLITEE_CONFIDENCE_MAX_SOFTMAX = 0, /* max_k softmax(z)_k */
    SPLITEE_CONFIDENCE_ENTROPY,         /* 1 - H(softmax(z)) / ln K, in [0, 1] */
    SPLITEE_CONFIDENCE_MARGIN,          /* top-1 minus top-2 probability */
    SPLITEE_CONFIDENCE_COUNT
} splitee_confidence;

/* Confidence of one logit vector z (classes) under `kind`, computed in
 * double with max-subtraction; *pred (may be NULL) gets argmax z (the
 * lowest index on ties). classes < 1 gives NaN and *pred = -1. */
double splitee_confidence_of(const double *z, int classes,
                             splitee_confidence kind, int32_t *pred);

/* Parses "max-softmax" | "entropy" | "margin"; returns 0 or SPLITEE_ERR_ARG. */
int splitee_confidence_parse(const char *s, splitee_confidence *out);

/* The name splitee_confidence_parse accepts for `kind` ("unknown" for a
 * value out of range). Measures are 0..SPLITEE_CONFIDENCE_COUNT-1, so help
 * texts list them by iterating, or with splitee_confidence_list. */
const char *splitee_confidence_name(splitee_confidence kind);

/* Writes the measures' names as a help text does, "max-softmax, entropy or
 * margin", into buf (len bytes, NUL-terminated, truncated if short) and
 * returns the length of the whole text (as snprintf). */
size_t splitee_confidence_list(char *buf, size_t len);

/* ---- decisions ------------------------------------------------------------- */

typedef enum splitee_exit_kind {
    SPLITEE_EXIT_KIND_THRESHOLD = 0, /* C_i >= alpha */
    SPLITEE_EXIT_KIND_PER_EXIT,      /* C_i >= alpha_i, one threshold per exit */
    SPLITEE_EXIT_KIND_PATIENCE,      /* the prediction unchanged P times in a row (PABEE) */
    SPLITEE_EXIT_KIND_AGREEMENT,     /* confidences summed while consecutive exits agree reach alpha */
    SPLITEE_EXIT_KIND_COUNT
} splitee_exit_kind;

/* The fields of splitee_exit_config a kind reads (splitee_exit_info). */
typedef enum splitee_exit_param {
    SPLITEE_EXIT_PARAM_ALPHA = 1 << 0,    /* alpha */
    SPLITEE_EXIT_PARAM_ALPHAS = 1 << 1,   /* alphas, nalphas */
    SPLITEE_EXIT_PARAM_PATIENCE = 1 << 2  /* patience */
} splitee_exit_param;

/* A kind's traits, defined once beside its implementation (src/core/). */
typedef struct splitee_exit_info {
    const char *name;     /* as splitee_exit_kind_parse takes it */
    const char *summary;  /* one line for help texts */
    unsigned params;      /* splitee_exit_param bits it reads */
    int thresholds;       /* 1: the decision is C_i >= t_i with t fixed at init,
                             reading nothing but C_i (evaluated inline) */
    int reads_pred;       /* 1: reads the exits' predictions, so callers must
                             pass them (a NULL pred row accepts nothing) */
    int reads_lower;      /* 1: the decision at exit i reads exits 0..i-1 too,
                             so a device must evaluate every exit on its way */
    int stream;           /* 1: keeps state across samples (see above); 0 for
                             every kind so far */
} splitee_exit_info;

/* A rule as configured. `alpha` comes first: splitee_reward_config.alpha is
 * the same storage (reward.h). */
typedef struct splitee_exit_config {
    double alpha;              /* threshold: in [0, 1]; agreement: the sum to
                                  reach, finite and >= 0 */
    splitee_exit_kind kind;    /* the decision */
    splitee_confidence confidence; /* the measure C_i is computed with */
    const double *alphas;      /* per-exit: (nalphas) alpha_i in [0, 1], read
                                  at init only (borrowed) */
    int nalphas;               /* L-1, or L: alpha_L (0 when not given)
                                  matters only to a caller that asks about
                                  the last exit, never to the reward model,
                                  where the last exit always ends a sample */
    int patience;              /* patience: P, 1..SPLITEE_MAX_EXITS */
} splitee_exit_config;

/* threshold, alpha 0.8, max-softmax, no alphas, patience 2. */
void splitee_exit_config_default(splitee_exit_config *cfg);

/* A rule ready to evaluate: plain data, no allocation, copy it freely.
 * `alpha` comes first: splitee_reward.alpha is the same storage. */
typedef struct splitee_exit_rule {
    double alpha;                   /* as configured (threshold, agreement) */
    splitee_exit_kind kind;
    splitee_confidence confidence;  /* the measure */
    int exits;                      /* L */
    int thresholds;                 /* the kind's trait: decide by thr below */
    int patience;                   /* P (patience) */
    double thr[SPLITEE_MAX_EXITS];  /* thresholds kinds: t_i per exit */
} splitee_exit_rule;

/* Builds a rule over `exits` exits (1..SPLITEE_MAX_EXITS) from cfg.
 * Checks only what the kind reads (its params): ARG for an unknown kind or
 * measure, or a wrong number of alphas; VALUE for a parameter out of
 * range, with a message naming it ("alpha (exit threshold) must be in
 * [0, 1] (got 1.5)"). *r is unspecified on failure. */
int splitee_exit_rule_init(splitee_exit_rule *r, const splitee_exit_config *cfg, int exits,
                           splitee_error *err);

/* Per-sample state of a rule that reads exits 0..i: plain data, on the
 * stack; fields a kind does not use stay as splitee_exit_begin set them. */
typedef struct splitee_exit_state {
    int next;       /* the exit the next step is about (0 at the start) */
    int32_t pred;   /* prediction of the last exit stepped (-1 before) */
    int run;        /* consecutive exits, ending at the last one, predicting pred */
    double sum;     /* agreement: S of the last exit stepped */
} splitee_exit_state;

/* Starts a sample. */
static inline void splitee_exit_begin(const splitee_exit_rule *r, splitee_exit_state *s)
{
    (void)r;
    s->next = 0;
    s->pred = -1;
    s->run = 0;
    s->sum = 0;
}

/* The out-of-line halves of splitee_exit_step, splitee_exit_accepts and
 * splitee_exit_first (every kind, through its operations); call those
 * instead. */
int splitee__exit_step(const splitee_exit_rule *r, splitee_exit_state *s, double conf, int32_t pred);
int splitee__exit_accepts(const splitee_exit_rule *r, int i, const double *conf,
                          const int32_t *pred);

/* Steps exit s->next (then advances it) with its confidence and prediction;
 * returns 1 if the rule accepts that exit. Steps past the last exit return
 * 0. Thresholds kinds read neither the state nor pred beyond the index. */
static inline int splitee_exit_step(const splitee_exit_rule *r, splitee_exit_state *s,
                                    double conf, int32_t pred)
{
    if (r->thresholds && s->next < r->exits)
        return conf >= r->thr[s->next++];
    return splitee__exit_step(r, s, conf, pred);
}

/* splitee_exit_accepts for a rule known to be a thresholds rule
 * (r->thresholds, splitee_exit_info.thresholds): C_i >= t_i. For loops
 * that test the kind once, outside. */
static inline int splitee_exit_accepts_threshold(const splitee_exit_rule *r, int i,
                                                 const double *conf)
{
    return conf[i] >= r->thr[i];
}

/* Whether the rule accepts exit i (0 <= i < exits) of a sample whose exits
 * have confidences conf[0..i] and predictions pred[0..i] (pred may be NULL
 * for a kind that does not read predictions). Reads exits 0..i only, and
 * only exit i for thresholds kinds. */
static inline int splitee_exit_accepts(const splitee_exit_rule *r, int i, const double *conf,
                                       const int32_t *pred)
{
    if (r->thresholds)
        return splitee_exit_accepts_threshold(r, i, conf);
    return splitee__exit_accepts(r, i, conf, pred);
}

/* Internal (src/core/exit.c): splitee_exit_first for a rule that is not a
 * thresholds rule, out of line so the inline fast path stays small. */
int splitee__exit_first(const splitee_exit_rule *r, int upto, const double *conf,
                        const int32_t *pred);

/* The first exit in 0..upto (upto < exits) the rule accepts, or -1 if none
 * (conf and pred as for splitee_exit_accepts). */
static inline int splitee_exit_first(const splitee_exit_rule *r, int upto, const double *conf,
                                     const int32_t *pred)
{
    if (r->thresholds && upto < r->exits) {
        for (int j = 0; j <= upto; j++)
            if (conf[j] >= r->thr[j])
                return j;
        return -1;
    }
    return splitee__exit_first(r, upto, conf, pred);
}

/* The traits of `kind`; NULL outside 0..SPLITEE_EXIT_KIND_COUNT-1. Kinds
 * are numbered densely, so help texts list them by iterating. */
const splitee_exit_info *splitee_exit_kind_info(splitee_exit_kind kind);

/* The kind's name ("unknown" outside the enum). */
const char *splitee_exit_kind_name(splitee_exit_kind kind);

/* Parses a kind's name; 0 or SPLITEE_ERR_ARG (*out untouched). */
int splitee_exit_kind_parse(const char *s, splitee_exit_kind *out);

/* Writes the kinds' names as a help text does ("threshold, per-exit,
 * patience or agreement") into buf; returns the whole text's length. */
size_t splitee_exit_kind_list(char *buf, size_t len);

/* One line describing a rule, e.g. "threshold 0.8 on max-softmax",
 * "patience 2 on entropy", "per-exit 0.9,0.85,... on margin", into buf
 * (truncated to len - 1 bytes). */
void splitee_exit_rule_describe(const splitee_exit_rule *r, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
