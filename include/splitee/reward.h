/* reward.h -- the reward model every policy and the replay harness share.
 *
 * A backbone has L layers, each followed by an exit. Arm a (0-based,
 * 0 <= a < L) means: the device runs layers 1..a+1 and evaluates exit a+1.
 * With C_i the confidence of exit i, "exit i accepted" the exit rule's
 * decision (exit.h: by default C_i >= alpha, the threshold rule), gamma_i
 * the device cost of running i layers, o_i the cost of offloading after
 * layer i and mu the weight converting cost into confidence units:
 *
 *   i = L                  -> exit L on the device,  cost gamma_L,
 *                             reward C_L - mu*gamma_L
 *   i < L and accepted     -> exit i on the device,  cost gamma_i,
 *                             reward C_i - mu*gamma_i
 *   i < L, not accepted    -> offload, cloud runs to exit L, cost gamma_i + o_i,
 *                             reward C_L - mu*(gamma_i + o_i)
 *
 * gamma_i = lambda*i by default, or the cumulative sum of a per-layer cost
 * vector (a measured device profile); o_i = a constant by default, or a
 * per-layer vector (the link simulator's figures). The model holds the
 * exit rule, so every user of the model decides exits the same way.
 *
 *     splitee_reward_config cfg;
 *     splitee_reward_config_default(&cfg);   // threshold .8 on max-softmax,
 *                                            // lambda .1, mu 1, o .3
 *     cfg.offload = 0.5;
 *     cfg.exit.kind = SPLITEE_EXIT_KIND_PATIENCE; // or keep the threshold rule
 *     splitee_reward rw;
 *     if (splitee_reward_init(&rw, &cfg, 12, &err) < 0) die(err.msg);
 *     splitee_outcome oc = splitee_reward_evaluate(&rw, arm, conf_row, pred_row);
 */
#ifndef SPLITEE_REWARD_H
#define SPLITEE_REWARD_H

#include "exit.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct splitee_reward_config {
    /* The exit rule (exit.h): decision, confidence measure, parameters.
     * `alpha` is the same storage as exit.alpha (the rule's threshold), so
     * code that sweeps or reports the threshold uses either name. */
    union {
        splitee_exit_config exit;
        double alpha;
    };
    double lambda;             /* device cost per layer when layer_cost is NULL */
    double mu;                 /* cost -> confidence units */
    double offload;            /* constant offloading cost o when offload_cost is NULL */
    const double *layer_cost;  /* (layers) per-layer device cost, or NULL */
    const double *offload_cost;/* (layers) o_i per split layer i, or NULL */
} splitee_reward_config;

/* The reward model, ready to evaluate. Plain data, no allocation: copy it
 * freely. Arrays are indexed by arm a = layer - 1. */
typedef struct splitee_reward {
    int arms;                        /* L */
    union {
        splitee_exit_rule exit;      /* the exit rule over the L exits */
        double alpha;                /* = exit.alpha */
    };
    double mu;
    double gamma[SPLITEE_MAX_EXITS];   /* cumulative device cost after layer a+1 */
    double offload[SPLITEE_MAX_EXITS]; /* o after layer a+1 (unused for a = L-1) */
} splitee_reward;

/* What playing one arm on one sample gives. */
typedef struct splitee_outcome {
    int offloaded;  /* 1 if the sample went to the cloud */
    int exit;       /* 0-based exit whose prediction is used (L-1 if offloaded) */
    double cost;    /* gamma (+ o when offloaded) */
    double reward;  /* confidence - mu*cost */
} splitee_outcome;

/* Fills *cfg with the defaults: the threshold rule (alpha 0.8 on
 * max-softmax, splitee_exit_config_default), lambda 0.1, mu 1, offload
 * 0.3, no cost vectors. */
void splitee_reward_config_default(splitee_reward_config *cfg);

/* Builds the model for `layers` arms (1..SPLITEE_MAX_EXITS) and its exit
 * rule (splitee_exit_rule_init: ARG/VALUE naming the rule's parameter,
 * e.g. alpha outside [0, 1] for the threshold rule). Rejects non-finite
 * costs, negative costs and mu < 0 with SPLITEE_ERR_VALUE and a message
 * naming the parameter. */
int splitee_reward_init(splitee_reward *rw, const splitee_reward_config *cfg,
                        int layers, splitee_error *err);

/* Outcome of arm `arm` once the decision is known: `exits` 1 when the
 * sample ends at exit arm on the device (the rule accepted it, or arm is
 * the last), with confidence c_arm; else offloaded at cost o, the cloud's
 * final exit having confidence c_final. The one formula of the table above. */
static inline splitee_outcome splitee_reward_decided(const splitee_reward *rw, int arm, int exits,
                                                     double c_arm, double c_final, double o)
{
    splitee_outcome oc;
    if (exits) {
        oc.offloaded = 0;
        oc.exit = arm;
        oc.cost = rw->gamma[arm];
        oc.reward = c_arm - rw->mu * oc.cost;
    } else {
        oc.offloaded = 1;
        oc.exit = rw->arms - 1;
        oc.cost = rw->gamma[arm] + o;
        /* (C_L - mu*o) - mu*gamma, in the authors' order of operations, so
         * that the reference mode reproduces their sums bit for bit. */
        oc.reward = c_final - rw->mu * o - rw->mu * rw->gamma[arm];
    }
    return oc;
}

/* Outcome of arm `arm` on a sample whose exits have confidences
 * conf[0..L-1] and predictions pred[0..L-1] (NULL for a rule that does not
 * read predictions, splitee_exit_info.reads_pred). Reads exits 0..arm (only
 * exit arm under a thresholds rule) and conf[L-1] only when the sample is
 * offloaded or arm == L-1. */
static inline splitee_outcome splitee_reward_evaluate(const splitee_reward *rw, int arm,
                                                      const double *conf, const int32_t *pred)
{
    const int last = rw->arms - 1;
    if (arm == last || splitee_exit_accepts(&rw->exit, arm, conf, pred))
        return splitee_reward_decided(rw, arm, 1, conf[arm], 0.0, 0.0);
    return splitee_reward_decided(rw, arm, 0, conf[arm], conf[last], rw->offload[arm]);
}

/* splitee_reward_evaluate without predictions, for rules that read only
 * confidences (threshold, per-exit). */
static inline splitee_outcome splitee_reward_outcome(const splitee_reward *rw, int arm,
                                                     const double *conf)
{
    return splitee_reward_evaluate(rw, arm, conf, NULL);
}

/* Outcome of the early-exit deployment of the rule (ElasticBERT/DeeBERT
 * with the threshold rule): the device runs layer by layer up to arm `arm`
 * and stops at the first exit the rule accepts; if none, arm's own outcome
 * (at the last arm: exit L on the device, so with arm = L-1 it never
 * offloads). conf and pred as for splitee_reward_evaluate. */
static inline splitee_outcome splitee_reward_early_exit(const splitee_reward *rw, int arm,
                                                        const double *conf, const int32_t *pred)
{
    const int last = rw->arms - 1;
    const int j = splitee_exit_first(&rw->exit, arm, conf, pred);
    if (j >= 0)
        return splitee_reward_decided(rw, j, 1, conf[j], 0.0, 0.0);
    if (arm == last)
        return splitee_reward_decided(rw, arm, 1, conf[arm], 0.0, 0.0);
    return splitee_reward_decided(rw, arm, 0, conf[arm], conf[last], rw->offload[arm]);
}

#ifdef __cplusplus
}
#endif
#endif
