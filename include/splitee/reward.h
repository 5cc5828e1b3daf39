/* reward.h -- the reward model every policy and the replay harness share.
 *
 * A backbone has L layers, each followed by an exit. Arm a (0-based,
 * 0 <= a < L) means: the device runs layers 1..a+1 and evaluates exit a+1.
 * With C_i the confidence of exit i, alpha the exit threshold, gamma_i the
 * device cost of running i layers, o_i the cost of offloading after layer i
 * and mu the weight converting cost into confidence units:
 *
 *   i = L                  -> exit L on the device,  cost gamma_L,
 *                             reward C_L - mu*gamma_L
 *   i < L and C_i >= alpha -> exit i on the device,  cost gamma_i,
 *                             reward C_i - mu*gamma_i
 *   i < L and C_i <  alpha -> offload, cloud runs to exit L, cost gamma_i + o_i,
 *                             reward C_L - mu*(gamma_i + o_i)
 *
 * gamma_i = lambda*i by default, or the cumulative sum of a per-layer cost
 * vector (a measured device profile); o_i = a constant by default, or a
 * per-layer vector (the link simulator's figures).
 *
 *     splitee_reward_config cfg;
 *     splitee_reward_config_default(&cfg);   // alpha .8, lambda .1, mu 1, o .3
 *     cfg.offload = 0.5;
 *     splitee_reward rw;
 *     if (splitee_reward_init(&rw, &cfg, 12, &err) < 0) die(err.msg);
 *     splitee_outcome oc = splitee_reward_outcome(&rw, arm, conf_row);
 */
#ifndef SPLITEE_REWARD_H
#define SPLITEE_REWARD_H

#include "exit.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct splitee_reward_config {
    double alpha;              /* exit threshold on the confidence */
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
    double alpha, mu;
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

/* Fills *cfg with the defaults: alpha 0.8, lambda 0.1, mu 1, offload 0.3,
 * no cost vectors. */
void splitee_reward_config_default(splitee_reward_config *cfg);

/* Builds the model for `layers` arms (1..SPLITEE_MAX_EXITS). Rejects
 * non-finite parameters, negative costs, mu < 0 and alpha outside [0, 1]
 * with SPLITEE_ERR_VALUE and a message naming the parameter. */
int splitee_reward_init(splitee_reward *rw, const splitee_reward_config *cfg,
                        int layers, splitee_error *err);

/* Outcome of arm `arm` on a sample whose exits have confidences
 * conf[0..L-1]. Only conf[0..arm] and conf[L-1] are read, and conf[L-1]
 * only when the sample is offloaded or arm == L-1. */
static inline splitee_outcome splitee_reward_outcome(const splitee_reward *rw,
                                                     int arm, const double *conf)
{
    splitee_outcome oc;
    int last = rw->arms - 1;
    if (arm == last || conf[arm] >= rw->alpha) {
        oc.offloaded = 0;
        oc.exit = arm;
        oc.cost = rw->gamma[arm];
        oc.reward = conf[arm] - rw->mu * oc.cost;
    } else {
        oc.offloaded = 1;
        oc.exit = last;
        oc.cost = rw->gamma[arm] + rw->offload[arm];
        /* (C_L - mu*o) - mu*gamma, in the authors' order of operations, so
         * that the reference mode reproduces their sums bit for bit. */
        oc.reward = conf[last] - rw->mu * rw->offload[arm] - rw->mu * rw->gamma[arm];
    }
    return oc;
}

/* Outcome of the early-exit-threshold deployment (ElasticBERT/DeeBERT):
 * everything on the device, stop at the first exit whose confidence reaches
 * alpha, else at exit L. Never offloads. */
static inline splitee_outcome splitee_reward_ee_threshold(const splitee_reward *rw,
                                                          const double *conf)
{
    int a = 0;
    while (a < rw->arms - 1 && conf[a] < rw->alpha)
        a++;
    splitee_outcome oc = { 0, a, rw->gamma[a], conf[a] - rw->mu * rw->gamma[a] };
    return oc;
}

#ifdef __cplusplus
}
#endif
#endif
