/* replay.h -- benchmark policies on precomputed exit logits.
 *
 * A replay streams the samples of an exit-logit table through each policy,
 * one round per sample, R times over freshly shuffled orders, and measures
 * accuracy, cost, offload rate, the learned split layer and regret (pseudo
 * and realized, against the best fixed arm) with 95% confidence intervals
 * across repetitions, plus curves at up to `checkpoints` rounds. Many
 * settings (a sweep over alpha, lambda, mu, o, beta) run in one call, spread
 * over threads; results are identical whatever the thread count, because
 * each (setting, policy, repetition) job draws only from generators seeded
 * by (seed, repetition, policy) and results are combined in a fixed order.
 *
 *     splitee_replay *rp;
 *     if (splitee_replay_prepare(table, SPLITEE_CONFIDENCE_MAX_SOFTMAX, &rp, &err) < 0) ...
 *     splitee_setting set;  splitee_setting_default(&set);  set.reward.offload = 0.5;
 *     splitee_policy_config pols[2];
 *     splitee_policy_config_default(&pols[0]);                       // splitee
 *     splitee_policy_config_default(&pols[1]); pols[1].kind = SPLITEE_POLICY_KIND_SPLITEE_S;
 *     splitee_replay_config rc;  splitee_replay_config_default(&rc);
 *     splitee_result *res;
 *     if (splitee_replay_run(rp, &set, 1, pols, 2, &rc, &res, &err) < 0) ...
 *     printf("%.4f\n", res[0].policies[1].accuracy.mean);
 *     splitee_results_free(res, 1);
 *     splitee_replay_free(rp);
 *
 * A changing world: splitee_replay_add_segment(rp, 5000, noisy_table, ...)
 * makes rounds 5001.. of every repetition draw their samples from another
 * table of the same samples (a domain shift mid-stream; the shuffle is the
 * same). Regret is then reported twice: static, against the best fixed arm
 * over the whole stream, and dynamic, against the best arm of each segment.
 */
#ifndef SPLITEE_REPLAY_H
#define SPLITEE_REPLAY_H

#include <stddef.h>
#include <stdint.h>
#include "bandit.h"
#include "reward.h"
#include "status.h"
#include "table.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SPLITEE_MAX_SEGMENTS 16  /* stream segments of one replay */

typedef enum splitee_order {
    SPLITEE_ORDER_SHUFFLE = 0, /* a fresh seeded shuffle per repetition */
    SPLITEE_ORDER_GIVEN        /* the table's order (every repetition alike) */
} splitee_order;

typedef enum splitee_init {
    SPLITEE_INIT_PLAY_ONCE = 0, /* learning policies play each arm once as
                                   the first rounds of the pass */
    SPLITEE_INIT_REFERENCE      /* the authors' code: arm a is seeded with its
                                   reward on the a-th sample of the order,
                                   outside the pass, which then starts again
                                   at the first sample */
} splitee_init;

/* One point of a sweep: the reward model's parameters (the exit rule among
 * them) and UCB's beta. The rule's measure is the replay's
 * (splitee_replay_prepare): reward.exit.confidence is not read, and each
 * result's reward model reports the measure used. */
typedef struct splitee_setting {
    splitee_reward_config reward;
    double beta;                   /* overrides every policy's beta */
} splitee_setting;

typedef struct splitee_replay_config {
    int repetitions;      /* R >= 1 (default 20) */
    uint64_t seed;        /* default 1 */
    splitee_order order;
    splitee_init init;
    int checkpoints;      /* curve points, 1..rounds (default 1000) */
    int threads;          /* 0 = one per online CPU */
    int curves;           /* 1: keep curves (default); memory is settings x
                             policies x repetitions x checkpoints x 32 bytes */
    int trace;            /* 1: keep a per-round trace of repetition 0 of the
                             first setting */
    /* Called from the calling thread about ten times a second while jobs
     * run (done <= total), and once at the end; may be NULL. */
    void (*progress)(void *ctx, long done, long total);
    void *progress_ctx;
    /* Time-varying offloading costs (link.h, splitee_link_schedule):
     * (rounds, arms) o of arm a at round k, shared by every repetition and
     * setting, replacing the settings' o. The round-k reward of every arm
     * uses row k: policies see it (splitee_policy_set_offload), and the
     * best fixed arm, pseudo and realized regret are computed with the
     * same time-varying rewards (docs/LINKS.md). The reference
     * initialisation seeds arms with their mean o. NULL (default):
     * constant o. */
    const double *offload_schedule;
    size_t offload_rounds;   /* rows of offload_schedule (>= samples) */
} splitee_replay_config;

/* Mean across repetitions with a 95% Student-t confidence interval. */
typedef struct splitee_stat {
    double mean, lo, hi; /* lo = hi = mean when R = 1 */
    double sd;           /* sample standard deviation across repetitions */
} splitee_stat;

enum {
    SPLITEE_CURVE_PSEUDO_REGRET = 0, /* cumulative sum of mu* - mu(arm) */
    SPLITEE_CURVE_REALIZED_REGRET,   /* cumulative r(a*, s_t) - r(arm, s_t) */
    SPLITEE_CURVE_ACCURACY,          /* running accuracy so far */
    SPLITEE_CURVE_COST,              /* running average cost so far */
    SPLITEE_CURVE_DYNAMIC_PSEUDO_REGRET,   /* cumulative mu*_k - mu_k(arm), k the
                                              round's segment (= pseudo with one) */
    SPLITEE_CURVE_DYNAMIC_REALIZED_REGRET, /* cumulative r(a*_k, s_t) - r(arm, s_t) */
    SPLITEE_CURVE_KINDS
};

/* One round of the traced repetition. */
typedef struct splitee_trace_row {
    uint32_t sample;   /* index in the table */
    int16_t arm;       /* 0-based arm played (exit layer = arm + 1) */
    int16_t exit;      /* 0-based exit whose prediction was used */
    uint8_t offloaded;
    uint8_t correct;   /* 1 if the prediction matched the label */
    double reward, cost;
} splitee_trace_row;

typedef struct splitee_policy_result {
    splitee_policy_config config;
    char name[32];                 /* as the CLI spells it, e.g. "fixed:3" */
    splitee_stat accuracy;         /* fraction correct (needs labels) */
    splitee_stat cost;             /* average cost per sample */
    splitee_stat reward;           /* average reward per sample */
    splitee_stat offload_rate;     /* fraction offloaded */
    splitee_stat cost_reduction;   /* 1 - cost / cost(final) */
    splitee_stat accuracy_change;  /* accuracy - accuracy(final) */
    splitee_stat pseudo_regret;    /* at T */
    splitee_stat realized_regret;  /* at T */
    splitee_stat dynamic_pseudo_regret;   /* at T, against each segment's best
                                             arm (equals pseudo_regret with
                                             one segment) */
    splitee_stat dynamic_realized_regret; /* at T, same samples */
    int learned_arm;               /* the arm most repetitions ended on (the
                                      most played arm of a repetition) */
    double learned_share;          /* fraction of repetitions that did */
    double arm_plays[SPLITEE_MAX_EXITS];    /* mean plays per arm */
    double exit_hist[SPLITEE_MAX_EXITS + 1];/* mean samples finished at exit
                                               a on the device; [L]: offloaded */
    double *curves;  /* (checkpoints, SPLITEE_CURVE_KINDS, 3): mean, lo, hi;
                        NULL unless cfg.curves */
    splitee_trace_row *trace; /* (rounds) of repetition 0, or NULL */
} splitee_policy_result;

/* One piece of a piecewise-stationary stream. */
typedef struct splitee_segment_info {
    size_t start;                  /* first round, 0-based */
    size_t rounds;                 /* rounds in the segment */
    char table[256];               /* name (path) of the table it draws from */
    int best_arm;                  /* best fixed arm within the segment */
    double arm_mean[SPLITEE_MAX_EXITS]; /* each fixed arm's mean reward on
                                           the segment's table */
} splitee_segment_info;

typedef struct splitee_result {
    splitee_setting setting;
    splitee_reward reward;         /* the model the setting gave */
    size_t rounds;                 /* rounds per repetition (= samples) */
    int repetitions;
    int arms;
    int has_labels;                /* 0: accuracy fields are NaN */
    int offload_scheduled;         /* 1: o came per round and arm from a
                                      schedule (a link); setting.reward.offload
                                      then holds its mean, for reports */
    double arm_mean[SPLITEE_MAX_EXITS]; /* each fixed arm's mean reward over
                                           the stream (segments weighted by
                                           their rounds) */
    int best_arm;                  /* argmax arm_mean (lowest on ties) */
    double final_accuracy, final_cost; /* the whole model on the device */
    int segments;                  /* 1, or more with splitee_replay_add_segment */
    splitee_segment_info *segment; /* (segments) */
    int checkpoints;
    size_t *checkpoint_rounds;     /* (checkpoints) rounds, increasing, last = T */
    int npolicies;
    splitee_policy_result *policies;
} splitee_result;

typedef struct splitee_replay splitee_replay; /* prepared table: opaque */

/* Fills *s: the reward model's defaults (alpha .8, lambda .1, mu 1, o .3,
 * the threshold rule on max-softmax) and beta 1. */
void splitee_setting_default(splitee_setting *s);
/* Fills *c: 20 repetitions, seed 1, shuffled order, play-once
 * initialisation, 1000 curve points, one thread per online CPU, curves on. */
void splitee_replay_config_default(splitee_replay_config *c);

/* Precomputes every sample's confidences under `kind`, predictions and
 * per-exit correctness from a table (the table may be freed afterwards).
 * ARG for an unknown measure, NOMEM. */
int splitee_replay_prepare(const splitee_table *t, splitee_confidence kind,
                           splitee_replay **out, splitee_error *err);
void splitee_replay_free(splitee_replay *rp);
size_t splitee_replay_samples(const splitee_replay *rp);
int splitee_replay_exits(const splitee_replay *rp);
/* Confidences (samples, exits) the replay uses (of its first table). */
const double *splitee_replay_confidences(const splitee_replay *rp);
/* Predictions (samples, exits): every exit's argmax (of its first table). */
const int32_t *splitee_replay_predictions(const splitee_replay *rp);
/* The confidence measure the replay was prepared with. */
splitee_confidence splitee_replay_measure(const splitee_replay *rp);

/* Makes every repetition's rounds start_round+1 .. (0-based: from
 * start_round on) draw their samples from table t instead, until the next
 * segment: a shift of domain mid-stream. The order of samples (the seeded
 * shuffle) is unchanged, so t must hold the same samples: same count, same
 * exits, labels if and only if the first table has them. Segments must be
 * added in increasing start_round, 1 <= start_round < samples, at most
 * SPLITEE_MAX_SEGMENTS in all. Fails with ARG, SHAPE or NOMEM (message in
 * err names t); rp is unchanged on failure. */
int splitee_replay_add_segment(splitee_replay *rp, size_t start_round,
                               const splitee_table *t, splitee_error *err);
/* Number of segments (1 without splitee_replay_add_segment). */
int splitee_replay_segments(const splitee_replay *rp);

/* Runs every policy on every setting. *out receives an array of nsettings
 * results in the order given (free with splitee_results_free). Fails with
 * ARG/VALUE (bad settings or policy parameters, message in err) before any
 * work is done, or NOMEM. */
int splitee_replay_run(const splitee_replay *rp,
                       const splitee_setting *settings, int nsettings,
                       const splitee_policy_config *policies, int npolicies,
                       const splitee_replay_config *cfg,
                       splitee_result **out, splitee_error *err);

/* Frees an array of n results (NULL is a no-op). */
void splitee_results_free(splitee_result *res, int n);

#ifdef __cplusplus
}
#endif
#endif
