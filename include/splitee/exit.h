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
 *   difference, temporal-patience  stream rules: decide a frame of a stream
 *              from its distance to a reference frame ("stream rules" below)
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
 * State across samples: the stream rules (difference, temporal-patience;
 * src/core/exit_temporal.c, docs/TEMPORAL.md) compare a frame's output at
 * one exit with a reference frame's and reuse the reference's label, so
 * they remember things between samples. They set splitee_exit_info.stream
 * and keep that state in a caller-owned splitee_exit_stream (created once
 * per stream, reset at its start, never allocating per frame); see
 * "stream rules" below. Per sample, without a stream, they accept no exit
 * before the last (the whole model runs, as on a stream's first frame).
 * Harnesses that do not see samples in their true order (a shuffled
 * replay) must refuse such kinds.
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
    SPLITEE_EXIT_KIND_DIFFERENCE,    /* stream: reuse the reference frame's label while the first
                                        exit's output stays within theta of the reference's */
    SPLITEE_EXIT_KIND_TEMPORAL_PATIENCE, /* stream: the scene's earliest agreeing exit, re-run on a
                                        distance >= theta or a changed label */
    SPLITEE_EXIT_KIND_COUNT
} splitee_exit_kind;

/* The fields of splitee_exit_config a kind reads (splitee_exit_info). */
typedef enum splitee_exit_param {
    SPLITEE_EXIT_PARAM_ALPHA = 1 << 0,    /* alpha */
    SPLITEE_EXIT_PARAM_ALPHAS = 1 << 1,   /* alphas, nalphas */
    SPLITEE_EXIT_PARAM_PATIENCE = 1 << 2, /* patience */
    SPLITEE_EXIT_PARAM_THETA = 1 << 3     /* theta */
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
    int stream;           /* 1: keeps state across samples (the stream rules:
                             splitee_exit_stream below) */
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
    double theta;              /* stream rules: the distance (L1 between softmax
                                  vectors) at which the whole model runs
                                  again, in [0, 2] */
} splitee_exit_config;

/* threshold, alpha 0.8, max-softmax, no alphas, patience 2, theta 0.5. */
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
    double theta;                   /* stream rules: distance threshold in [0, 2] */
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


/* ---- stream rules ------------------------------------------------------------ */

/* A stream rule decides per frame of a stream (consecutive samples of a
 * scene-structured input, docs/TEMPORAL.md), with d(p, q) = sum_k |p_k -
 * q_k| the L1 distance between softmax vectors (in [0, 2]):
 *   difference         probe exit 0. Reuse when a reference frame exists and
 *                      d(softmax z_0, ref) < theta: the frame ends at exit 0
 *                      with the reference's label. Else the whole model runs,
 *                      the frame takes the last exit's label and becomes the
 *                      reference (ref = its softmax z_0).
 *   temporal-patience  probe exit e (the scene's exit). Reuse when a
 *                      reference exists, d(softmax z_e, ref) < theta and
 *                      argmax z_e equals the reference label: the frame ends
 *                      at exit e with that label. Else the whole model runs,
 *                      the frame takes the last exit's label y_L, e becomes
 *                      the earliest exit whose prediction equals y_L (the
 *                      last exit when none before it does) and ref =
 *                      softmax z_e of this frame.
 * The reference moves only when the whole model runs (so distances are
 * measured from the frame that started the scene as the rule saw it).
 *
 *     splitee_exit_stream *st;
 *     if (splitee_exit_stream_create(&rule, 10, &st, &err) < 0) die(err.msg);
 *     for (t = 0; t < frames; t++) {              // one frame at a time, in order
 *         int e = splitee_exit_stream_probe(st);  // run layers 0..e, read exit e: z_e
 *         int32_t y;
 *         if (!splitee_exit_stream_check(st, z_e, &y)) {
 *             ... run the remaining layers, every exit's logits into z (L, K) ...
 *             y = splitee_exit_stream_update(st, z);
 *         }
 *     }
 *     splitee_exit_stream_free(st);
 */
typedef struct splitee_exit_stream splitee_exit_stream; /* opaque, caller-owned */

/* Allocates a stream's state for rule r (a kind with the stream trait) on
 * `classes` classes (1..65536), reset. ARG for a rule that is not a stream
 * rule or a bad class count, NOMEM. */
int splitee_exit_stream_create(const splitee_exit_rule *r, int classes, splitee_exit_stream **out,
                               splitee_error *err);
/* Frees the state; NULL is a no-op. */
void splitee_exit_stream_free(splitee_exit_stream *s);
/* Starts a new stream: no reference frame, probe exit 0. */
void splitee_exit_stream_reset(splitee_exit_stream *s);
/* The exit whose logits the next frame's check reads (0-based). */
int splitee_exit_stream_probe(const splitee_exit_stream *s);
/* Decides a frame from its probe exit's logits z (classes): 1 and the
 * reused label in *label (may be NULL) when the frame ends at the probe
 * exit; 0 when the whole model must run (then call _update). Stores the
 * distance (NaN without a reference) for splitee_exit_stream_distance. */
int splitee_exit_stream_check(splitee_exit_stream *s, const double *z, int32_t *label);
/* After the whole model ran on the frame: z holds every exit's logits
 * (exits, classes) row-major. Makes the frame the reference; returns the
 * last exit's prediction, the frame's label. */
int32_t splitee_exit_stream_update(splitee_exit_stream *s, const double *z);
/* The distance the last check measured (NaN when it had no reference). */
double splitee_exit_stream_distance(const splitee_exit_stream *s);

/* What one frame cost and gave. */
typedef struct splitee_exit_frame {
    int32_t label;     /* the frame's prediction */
    int exit;          /* 0-based last exit computed: the probe exit when
                          reused, exits-1 when the whole model ran (layers
                          run = exit + 1) */
    int rerun;         /* 1: the whole model ran (the frame is the new reference) */
    double distance;   /* as splitee_exit_stream_distance */
} splitee_exit_frame;

/* check, then update if needed, for a frame whose every exit's logits z
 * (exits, classes) are known (a replay). */
void splitee_exit_stream_frame(splitee_exit_stream *s, const double *z, splitee_exit_frame *out);

/* L1 distance sum_k |softmax(a)_k - softmax(b)_k| of two logit vectors
 * (classes), in [0, 2]; softmax with max-subtraction in double. */
double splitee_softmax_l1(const double *a, const double *b, int classes);

/* The traits of `kind`; NULL outside 0..SPLITEE_EXIT_KIND_COUNT-1. Kinds
 * are numbered densely, so help texts list them by iterating. */
const splitee_exit_info *splitee_exit_kind_info(splitee_exit_kind kind);

/* The kind's name ("unknown" outside the enum). */
const char *splitee_exit_kind_name(splitee_exit_kind kind);

/* Parses a kind's name; 0 or SPLITEE_ERR_ARG (*out untouched). */
int splitee_exit_kind_parse(const char *s, splitee_exit_kind *out);

/* Writes the kinds' names as a help text does ("threshold, per-exit,
 * patience, agreement, difference or temporal-patience") into buf; returns the whole text's length. */
size_t splitee_exit_kind_list(char *buf, size_t len);

/* One line describing a rule, e.g. "threshold 0.8 on max-softmax",
 * "patience 2 on entropy", "per-exit 0.9,0.85,... on margin", into buf
 * (truncated to len - 1 bytes). */
void splitee_exit_rule_describe(const splitee_exit_rule *r, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
