/* bandit.h -- split-layer policies behind one small interface.
 *
 * A policy picks an arm (a split layer, 0-based: arm a = layer a+1) before a
 * sample is processed, and learns from what the device actually saw. It
 * knows nothing about files, models or sockets: it sees arms, observations
 * and the reward model (reward.h), which it uses to turn observations into
 * rewards. Each round is O(arms) and allocation-free; a policy has no global
 * state, so several can run in parallel threads. Every random draw comes
 * from a GSL generator owned by the caller.
 *
 *     splitee_policy_config pc;
 *     splitee_policy_config_default(&pc);
 *     pc.kind = SPLITEE_POLICY_KIND_SPLITEE_S;          // UCB with side observations
 *     splitee_policy *p;
 *     if (splitee_policy_create(&pc, &rw, &p, &err) < 0) die(err.msg);
 *     for (each sample) {
 *         int arm = splitee_policy_choose(p, rng);
 *         ... run layers 1..arm+1, read confidences conf[0..arm] ...
 *         splitee_obs ob = { arm, conf, offloaded, final_known, conf_final, pred };
 *         splitee_policy_observe(p, &ob);
 *     }
 *     char *state = splitee_policy_save(p);        // JSON text; free() it
 *     splitee_policy_free(p);
 */
#ifndef SPLITEE_BANDIT_H
#define SPLITEE_BANDIT_H

#include <stddef.h>
#include <stdint.h>
#include <gsl/gsl_rng.h>
#include "reward.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum splitee_policy_kind {
    SPLITEE_POLICY_KIND_SPLITEE = 0,   /* UCB1 over split layers (SplitEE) */
    SPLITEE_POLICY_KIND_SPLITEE_S,     /* UCB1 with side observations (SplitEE-S) */
    SPLITEE_POLICY_KIND_FINAL,         /* always the last layer, on the device */
    SPLITEE_POLICY_KIND_RANDOM,        /* uniform random arm */
    SPLITEE_POLICY_KIND_FIXED,         /* always cfg.fixed_arm */
    SPLITEE_POLICY_KIND_ORACLE,        /* best fixed arm in hindsight (cfg.fixed_arm,
                                     set by whoever knows the table) */
    SPLITEE_POLICY_KIND_EE_THRESHOLD,  /* all on the device, exit at the first exit
                                     the exit rule accepts (early_exit) */
    SPLITEE_POLICY_KIND_EPSILON_GREEDY,/* epsilon-greedy on mean reward */
    SPLITEE_POLICY_KIND_THOMPSON,      /* Gaussian Thompson sampling */
    SPLITEE_POLICY_KIND_KL_UCB,        /* KL-UCB on rewards rescaled to [0, 1] */
    SPLITEE_POLICY_KIND_UCB_V,         /* UCB-V (empirical Bernstein) */
    SPLITEE_POLICY_KIND_SW_UCB,        /* sliding-window UCB (Garivier & Moulines
                                     2011): statistics of the last cfg.window
                                     rounds only */
    SPLITEE_POLICY_KIND_D_UCB,         /* discounted UCB (same paper): statistics
                                     discounted by cfg.discount per round */
    SPLITEE_POLICY_KIND_SW_UCB_S,      /* sw-ucb with SplitEE-S side observations */
    SPLITEE_POLICY_KIND_D_UCB_S,       /* d-ucb with SplitEE-S side observations */
    SPLITEE_POLICY_KIND_SPLITEE_ALPHA, /* UCB1 over (split layer, threshold alpha)
                                     pairs from cfg.alpha_grid, with honest side
                                     observations (docs/ADAPTIVE.md) */
    SPLITEE_POLICY_KIND_COUNT
} splitee_policy_kind;

/* How SplitEE-S uses the exits it did not play (docs/ARCHITECTURE.md). */
typedef enum splitee_side_info {
    /* A lower arm j is updated only with a reward that was observable:
     * the exit rule accepts exit j (it would have exited), or C_L was
     * actually known. */
    SPLITEE_SIDE_INFO_HONEST = 0,
    /* The authors' published simulation: every lower arm is updated, using
     * C_L even when the sample exited and C_L was never returned. */
    SPLITEE_SIDE_INFO_REFERENCE
} splitee_side_info;

typedef struct splitee_policy_config {
    splitee_policy_kind kind;
    double beta;       /* UCB exploration constant (splitee, splitee-s, ucb-v) */
    double epsilon;    /* epsilon-greedy exploration probability */
    double prior_sd;   /* Thompson: reward noise s.d. (posterior sd = prior_sd/sqrt(n)) */
    int fixed_arm;     /* fixed and oracle: the arm to play */
    splitee_side_info side_info; /* splitee-s, sw-ucb-s, d-ucb-s */
    int window;        /* sw-ucb(-s): W, rounds remembered, 1..1e8 (the ring
                          buffer, 17 bytes a reward, W rewards or W x arms
                          with side observations, is allocated at create) */
    double discount;   /* d-ucb(-s): gamma in (0, 1], weight of a round per
                          round of age (1 = plain UCB statistics) */
    const double *alpha_grid; /* splitee-alpha: (alpha_grid_n) thresholds in
                          [0, 1], distinct, any order (copied at create);
                          NULL with alpha_grid_n 0: the default grid
                          0.50, 0.55, ..., 1.00 */
    int alpha_grid_n;  /* 0..SPLITEE_POLICY_MAX_GRID */
} splitee_policy_config;

/* Most thresholds in a splitee-alpha grid. */
#define SPLITEE_POLICY_MAX_GRID 256

/* What the device saw on one round. */
typedef struct splitee_obs {
    int arm;            /* arm played, 0 <= arm < L (an early_exit kind: the
                           exit it stopped at) */
    const double *conf; /* confidences of exits 1..arm+1 (conf[0..arm]);
                           in replay the whole row (L values) may be passed */
    int offloaded;      /* 1 if the sample was sent to the cloud: what the
                           played arm earns follows this, not a recomputed
                           decision */
    int final_known;    /* 1 if C_L was observed (offloaded, or arm == L-1) */
    double conf_final;  /* C_L; read when final_known, or by the reference
                           side-information mode (replay only) */
    const int32_t *pred;/* predictions of exits 1..arm+1 (pred[0..arm]), for
                           an exit rule that reads them (exit.h reads_pred);
                           NULL otherwise */
} splitee_obs;

typedef struct splitee_policy splitee_policy; /* opaque */

/* Fills *cfg with defaults: kind splitee, beta 1, epsilon 0.05, prior_sd
 * 0.5, fixed_arm 0, honest side information, window 1000, discount 0.999,
 * the default alpha grid (docs/ADAPTIVE.md says why). */
void splitee_policy_config_default(splitee_policy_config *cfg);

/* Creates a policy over rw->arms arms. `rw` is copied. Fails with
 * SPLITEE_ERR_ARG (message in err) on an invalid kind or parameter
 * (beta < 0, epsilon outside [0, 1], fixed_arm out of range, ...). */
int splitee_policy_create(const splitee_policy_config *cfg,
                          const splitee_reward *rw, splitee_policy **out,
                          splitee_error *err);

/* Frees the policy; NULL is a no-op. */
void splitee_policy_free(splitee_policy *p);

/* Forgets everything learned; the policy behaves as freshly created. */
void splitee_policy_reset(splitee_policy *p);

/* The arm to play this round. Randomised policies draw from `rng`, which
 * may be NULL for deterministic ones. Learning policies first play every
 * arm that has no observation yet, lowest first; then UCB-type indices are
 * mean_a + beta*sqrt(ln t / n_a) with t = rounds observed so far + 1 (so
 * ln t = 0 on the first round after a reference initialisation, as in the
 * authors' code). Ties go to the lowest arm. sw-ucb forgets plays older
 * than W rounds (an arm with no play in the window is untried again) and
 * uses ln min(t, W); d-ucb uses discounted counts and sums and ln n_t with
 * n_t the sum of the discounted counts (docs/ADAPTIVE.md). The -s variants
 * add SplitEE-S side observations; d-ucb-s then uses the discounted number
 * of rounds for n_t. */
int splitee_policy_choose(splitee_policy *p, gsl_rng *rng);

/* The exit threshold the round chosen last (splitee_policy_choose) plays:
 * for a kind that learns it (splitee_policy_info.learns_alpha), the chosen
 * pair's alpha, which the caller must decide the exit with (exit iff
 * C_arm >= it, or arm is the last); for every other kind, and before the
 * first choose, the reward model's alpha. */
double splitee_policy_alpha(const splitee_policy *p);

/* Learns from one round. ob->arm must be the arm the device played (for
 * an early_exit kind, the exit it stopped at). The played arm earns the
 * reward of what happened (ob->offloaded); each lower arm a side
 * observation credits is decided by the reward model's exit rule, which
 * for a rule that reads predictions needs ob->pred (without it, no lower
 * arm is credited). An observation without confidences or with an arm out
 * of range is ignored. */
void splitee_policy_observe(splitee_policy *p, const splitee_obs *ob);

/* Replaces the offloading costs o (arms values, o[a] for arm a; the last
 * one is unused) the policy turns observations into rewards with, for the
 * rounds that follow: a link whose cost changes with time (link.h) calls
 * this before each observe. The reward bounds KL-UCB and UCB-V rescale by
 * are widened when the new costs fall outside them, never narrowed.
 * Non-finite or negative values are ignored (the old value stays). */
void splitee_policy_set_offload(splitee_policy *p, const double *o);

/* Records a reward for `arm` directly, without a round (used by the
 * reference initialisation, which plays each arm once on its own sample
 * and does not advance the UCB clock). */
void splitee_policy_seed_arm(splitee_policy *p, int arm, double reward);

/* Learned state: plays n (arms) and mean reward (arms), the round counter.
 * For sw-ucb these are the plays inside the window, for d-ucb the
 * discounted counts and means. */
int splitee_policy_arms(const splitee_policy *p);
double splitee_policy_count(const splitee_policy *p, int arm);
double splitee_policy_mean(const splitee_policy *p, int arm);
long long splitee_policy_rounds(const splitee_policy *p);
/* The arm with the highest mean reward among those observed (lowest on
 * ties); 0 if none observed. */
int splitee_policy_best_arm(const splitee_policy *p);

/* Learned state as a JSON text (kind, parameters, rounds, per-arm counts,
 * sums and squared sums; sw-ucb adds the window's history, oldest first,
 * so that a loaded policy continues exactly as the saved one). Returns a malloc'd string the caller frees, or
 * NULL on allocation failure. */
char *splitee_policy_save(const splitee_policy *p);

/* Restores state saved by splitee_policy_save into a policy of the same
 * kind and arm count. Fails with FORMAT (malformed JSON, missing fields,
 * non-finite numbers, negative counts, a window history that does not match
 * the counts) or ARG (kind, arm count or sw-ucb window differ);
 * the policy is unchanged on failure. */
int splitee_policy_restore(splitee_policy *p, const char *json, splitee_error *err);

/* ---- what each kind is ------------------------------------------------ */

/* The fields of splitee_policy_config a kind reads (splitee_policy_info). */
typedef enum splitee_policy_param {
    SPLITEE_POLICY_PARAM_BETA = 1 << 0,      /* beta */
    SPLITEE_POLICY_PARAM_EPSILON = 1 << 1,   /* epsilon */
    SPLITEE_POLICY_PARAM_PRIOR_SD = 1 << 2,  /* prior_sd */
    SPLITEE_POLICY_PARAM_LAYER = 1 << 3,     /* fixed_arm */
    SPLITEE_POLICY_PARAM_SIDE_INFO = 1 << 4, /* side_info */
    SPLITEE_POLICY_PARAM_WINDOW = 1 << 5,    /* window */
    SPLITEE_POLICY_PARAM_DISCOUNT = 1 << 6,  /* discount */
    SPLITEE_POLICY_PARAM_ALPHA_GRID = 1 << 7 /* alpha_grid, alpha_grid_n */
} splitee_policy_param;

/* A policy kind's traits, defined once beside its implementation (bandit/),
 * so that help texts, validation, harnesses and reports ask here instead of
 * listing kinds. */
typedef struct splitee_policy_info {
    const char *name;     /* as splitee_policy_parse takes it; "fixed" is
                             written "fixed:K" with K a 1-based layer */
    const char *description; /* one line for help texts, no trailing period */
    unsigned params;      /* splitee_policy_param bits it reads */
    int learns;           /* 1: learns from rewards (a reference
                             initialisation seeds each arm once) */
    int hindsight;        /* 1: plays the best fixed arm in hindsight, which
                             only a replay over a whole table knows (the
                             harness sets fixed_arm); refused live */
    int early_exit;       /* 1: a deployment of the exit rule, not a split:
                             the device runs layer by layer up to the chosen
                             arm and stops at the first exit the rule accepts
                             (splitee_reward_early_exit); replay and device
                             both honour it */
    const char *spelling; /* how a user writes it when that differs from the
                             name ("fixed:K"), else NULL */
    int learns_alpha;     /* 1: chooses the exit threshold too, each round
                             (splitee_policy_alpha); the reward model's rule
                             must be the threshold rule, whose alpha it
                             replaces; replay and device both honour it */
} splitee_policy_info;

/* The traits of `kind`; NULL for a value outside 0..SPLITEE_POLICY_KIND_COUNT-1.
 * Kinds are numbered densely, so a help text lists them by iterating. */
const splitee_policy_info *splitee_policy_kind_info(splitee_policy_kind kind);

/* The kind's name (splitee_policy_info.name); "unknown" outside the enum. */
const char *splitee_policy_kind_name(splitee_policy_kind kind);

/* A configuration's name in reports: "fixed:K" (K 1-based) for fixed, else
 * the kind's name; truncated to len - 1 bytes. */
void splitee_policy_display_name(const splitee_policy_config *pc, char *buf, size_t len);
/* Parses one name (and ":K" for fixed, K 1-based) into cfg->kind and
 * cfg->fixed_arm; returns 0 or SPLITEE_ERR_ARG. */
int splitee_policy_parse(const char *s, splitee_policy_config *cfg);

#ifdef __cplusplus
}
#endif
#endif
