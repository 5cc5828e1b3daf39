/* search.h -- which candidate exits to keep, and at which thresholds, so
 * that a multi-exit network meets a compute budget: a configuration search
 * on a precomputed candidate table (docs/SEARCH.md).
 *
 * Input: a table of N samples x C candidate exits x K classes (table.h;
 * candidate C-1, the last, is the backbone's final classifier and always
 * runs for a sample no kept exit accepts) and, per candidate j, the MACs of
 * the backbone from the input up to candidate j's point, B_j (cumulative,
 * non-decreasing), and the MACs of its head alone, H_j.
 *
 * A configuration (splitee_search_plan) is a set of kept early exits
 * (candidates 0..C-2; the final is always kept) and a threshold t_j per
 * kept exit. A sample runs the kept exits in order and stops at the first
 * whose confidence (exit.h) reaches its threshold, C_j >= t_j, else at the
 * final. Its cost is exact MAC accounting of what ran:
 *     cost = B_e + sum of H_j over the kept exits j <= e
 * where e is the exit it stopped at (the final included: its head H_{C-1}
 * is charged when e = C-1). Its prediction is argmax of exit e's logits.
 * A configuration's accuracy and mean MACs are averages over the table's
 * samples; its worst-case MACs are those of a sample that passes every kept
 * exit: B_{C-1} + sum of H_j over every kept exit and the final.
 *
 *     splitee_search *s, *ts;                    // calibration and test tables
 *     if (splitee_search_create(cal, backbone, heads, SPLITEE_CONFIDENCE_MAX_SOFTMAX,
 *                               &s, &err) < 0 ||
 *         splitee_search_create(test, backbone, heads, SPLITEE_CONFIDENCE_MAX_SOFTMAX,
 *                               &ts, &err) < 0) die(err.msg);
 *     splitee_search_config cfg;
 *     splitee_search_config_default(&cfg);
 *     cfg.budget = SPLITEE_BUDGET_MACS;
 *     cfg.limit = 2.0e6;                         // mean MACs per sample
 *     splitee_search_result res;
 *     int st = splitee_search_run(s, &cfg, &res, &err);
 *     // st == 0: res.chosen meets the budget; SPLITEE_ERR_VALUE: no
 *     // configuration does, res.chosen is the closest (res.met == 0)
 *     splitee_search_point on_test;
 *     splitee_search_evaluate(ts, &res.chosen.plan, &on_test, &err);
 *     splitee_search_result_free(&res);
 *     splitee_search_free(s);
 *     splitee_search_free(ts);
 *
 * Methods (splitee_search_method):
 *   exhaustive  every subset of the C-1 early exits (C <= 17: 2^16 subsets)
 *               with each threshold mode asked for;
 *   greedy      forward selection: starting from the final alone, add the
 *               early exit whose best configuration under the budget
 *               improves most, until none improves; then, for a MAC budget
 *               the greedy configurations miss, the NACHOS repair step
 *               (splitee_search_repair) on the most accurate one;
 *   auto        exhaustive up to 17 candidates (16 early exits), greedy beyond.
 * Threshold modes (bits of splitee_search_config.thresholds), per subset:
 *   COMMON  one threshold from the grid shared by every kept exit (each
 *           grid value);
 *   DP      per-exit thresholds by dynamic programming over the layered
 *           graph of kept exits x grid values (splitee_search_dp), one per
 *           entry of dp_weights;
 *   FULL    every per-exit combination of grid values (G^m for m kept
 *           exits; refused past max_configs evaluations -- a reference for
 *           small problems).
 * Every configuration evaluated is a candidate for the Pareto front of
 * (accuracy, mean MACs) and for the chosen one.
 *
 * Thresholds in the search come from the grid; confidences are reduced
 * once per sample to their grid level (the number of grid values they
 * reach), so evaluating a configuration reads one byte per sample and
 * kept exit reached. splitee_search_evaluate takes any thresholds and
 * compares the confidences themselves; on grid thresholds both agree.
 * Deterministic: no random draws; ties keep the configuration found first
 * in the documented enumeration order (subsets by increasing bit mask).
 */
#ifndef SPLITEE_SEARCH_H
#define SPLITEE_SEARCH_H

#include <stddef.h>
#include <stdint.h>
#include "exit.h"
#include "status.h"
#include "table.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest threshold grid (values). */
#define SPLITEE_SEARCH_MAX_GRID 255
/* Largest number of candidates the exhaustive method takes (16 early exits). */
#define SPLITEE_SEARCH_MAX_EXHAUSTIVE 17
/* Largest number of DP weights. */
#define SPLITEE_SEARCH_MAX_WEIGHTS 64

typedef struct splitee_search splitee_search; /* opaque, read-only once made */

typedef enum splitee_search_method {
    SPLITEE_SEARCH_METHOD_AUTO = 0,
    SPLITEE_SEARCH_METHOD_EXHAUSTIVE,
    SPLITEE_SEARCH_METHOD_GREEDY,
    SPLITEE_SEARCH_METHOD_COUNT
} splitee_search_method;

typedef enum splitee_search_thresholds {
    SPLITEE_SEARCH_THR_COMMON = 1 << 0,
    SPLITEE_SEARCH_THR_DP = 1 << 1,
    SPLITEE_SEARCH_THR_FULL = 1 << 2
} splitee_search_thresholds;

typedef enum splitee_budget_kind {
    SPLITEE_BUDGET_MACS = 0,     /* mean MACs per sample <= limit; the most accurate */
    SPLITEE_BUDGET_ACCURACY,     /* accuracy >= limit (a fraction); the fewest mean MACs */
    SPLITEE_BUDGET_LATENCY,      /* worst-case latency <= limit (ms); the most accurate. Without
                                    offload_ms: worst-case MACs / device_macs_per_s (the
                                    device runs everything); with it: the device runs the
                                    kept early exits and offloads what none accepts after
                                    the last one, device_macs / device_macs_per_s +
                                    offload_ms[last_early] (offload_raw_ms when no early
                                    exit is kept) */
    SPLITEE_BUDGET_COUNT
} splitee_budget_kind;

/* A configuration. */
typedef struct splitee_search_plan {
    int candidates;                 /* C, as the search's table */
    uint64_t keep;                  /* bit j (0..C-2): early exit j kept; the final always is */
    double thr[SPLITEE_MAX_EXITS];  /* t_j for kept j, a confidence; others unused (0) */
} splitee_search_plan;

/* A configuration with its measured outcome on one table. */
typedef struct splitee_search_point {
    splitee_search_plan plan;
    double accuracy;    /* fraction of samples whose exit's prediction is the label, [0, 1] */
    double mean_macs;   /* MACs per sample, averaged over the table */
    double max_macs;    /* worst-case MACs of one sample (every kept exit passed) */
    double exit_share[SPLITEE_MAX_EXITS]; /* fraction of samples stopping at candidate j */
    int last_early;     /* the last kept early exit (0-based), -1 when none is kept */
    double device_macs; /* MACs up to and including it: B + the kept heads (0 when none) */
} splitee_search_point;

typedef struct splitee_search_config {
    splitee_search_method method;
    unsigned thresholds;        /* splitee_search_thresholds bits, >= 1 */
    const double *grid;         /* (ngrid) strictly increasing finite thresholds (borrowed) */
    int ngrid;                  /* 1..SPLITEE_SEARCH_MAX_GRID */
    const double *dp_weights;   /* (ndp_weights) w in [0, 1]: edge weight
                                   w * MACs/B_final + (1 - w) * errors, per sample (borrowed) */
    int ndp_weights;            /* 1..SPLITEE_SEARCH_MAX_WEIGHTS when DP is asked */
    splitee_budget_kind budget;
    double limit;               /* MACs / accuracy fraction / milliseconds, as budget says */
    double device_macs_per_s;   /* LATENCY: the device's MAC rate (> 0) */
    const double *offload_ms;   /* LATENCY: (C) worst-case ms from offloading after candidate
                                   j's point to the cloud's answer, or NULL (borrowed) */
    double offload_raw_ms;      /* LATENCY with offload_ms: the same for the raw input */
    double repair_step;         /* greedy repair: how far a threshold drops per step (> 0) */
    double max_configs;         /* FULL: refuse (ARG) past this many evaluations */
} splitee_search_config;

/* Defaults: auto, COMMON | DP, the grid 0.30, 0.35, ..., 0.95, 0.98, 0.99
 * (static storage), DP weights 0.05, 0.10, ..., 0.95, MAC budget with
 * limit INFINITY (the most accurate configuration), device rate 0,
 * repair step 0.1, max_configs 1e7. */
void splitee_search_config_default(splitee_search_config *cfg);

typedef struct splitee_search_result {
    splitee_search_point chosen;  /* meets the budget (met), else the closest:
                                     MACS: the fewest mean MACs; ACCURACY: the
                                     most accurate; LATENCY: the lowest
                                     worst-case latency */
    int met;                      /* 1: chosen meets the budget */
    splitee_search_point *front;  /* (nfront) Pareto front of (accuracy up,
                                     mean MACs down), by increasing mean MACs;
                                     malloc'd, splitee_search_result_free */
    int nfront;
    double evaluated;             /* configurations evaluated */
    int method;                   /* the method that ran (exhaustive or greedy) */
    int repaired;                 /* greedy: 1 if the repair step ran */
    splitee_search_point before_repair; /* what it started from (repaired) */
} splitee_search_result;

/* Precomputes, from table t (labels required), each sample's confidence
 * (measure `conf`), prediction and correctness at every candidate, and
 * keeps copies of backbone (C) and head (C) MACs, C = the table's exits
 * (2..SPLITEE_MAX_EXITS). Checks: labels present (ARG), MACs finite and
 * >= 0 (VALUE), backbone non-decreasing (VALUE), naming the index. The
 * table is not kept. */
int splitee_search_create(const splitee_table *t, const double *backbone_macs,
                          const double *head_macs, splitee_confidence conf,
                          splitee_search **out, splitee_error *err);
void splitee_search_free(splitee_search *s);

/* C, N. */
int splitee_search_candidates(const splitee_search *s);
size_t splitee_search_samples(const splitee_search *s);

/* Measures plan p on the search's table (comparing confidences with
 * p->thr directly) into *out (its plan = *p). p->candidates must equal C
 * and keep only bits 0..C-2; returns ARG otherwise. No allocation. */
int splitee_search_evaluate(const splitee_search *s, const splitee_search_plan *p,
                            splitee_search_point *out, splitee_error *err);

/* The DP over the layered graph for the kept set `keep` (bits 0..C-2) and
 * grid (ngrid, strictly increasing): layer i holds one node per grid
 * value for the i-th kept exit; an edge (previous kept exit p at grid
 * value a) -> (exit k at grid value b) costs, per sample of the table,
 *     w * R(p, a) * (B_k - B_p + H_k) / B_final + (1 - w) * E(p, a; k, b)
 * where R(p, a) counts the samples p rejects (C_p < grid[a]; every sample
 * for the first kept exit, B_p = 0), E those among them that k accepts
 * (C_k >= grid[b]) and k gets wrong; the edge into the final costs
 *     w * R(p, a) * (B_final - B_p + H_final) / B_final + (1 - w) * (samples p rejects that the final gets wrong)
 * (B_final = B_{C-1} + H_{C-1}, 1 if that is 0). A sample's reach is taken
 * from the previous kept exit only, which makes the path cost exact for one
 * kept exit and a first-order estimate beyond (as the reference's graph is
 * an estimate). Writes the cheapest path's thresholds into thr[j] for kept
 * j (others 0); ties go to the lower grid index, earliest layer first.
 * *cost (may be NULL) gets the path's cost per sample. ARG for a bad keep
 * or grid; NOMEM. */
int splitee_search_dp(const splitee_search *s, uint64_t keep, const double *grid, int ngrid,
                      double w, double *thr, double *cost, splitee_error *err);

/* The NACHOS repair step for a MAC budget: while p's mean MACs exceed
 * `limit`, lower the thresholds of the kept exits one at a time from the
 * last kept early exit back to the first, each by `step` (to
 * max(t - step, floor)), in passes, until the budget holds or every
 * threshold is at `floor`. *p is updated in place and *out holds its
 * measurement. 0 when the budget holds; VALUE when even every threshold at
 * `floor` misses it (*p and *out then that configuration). ARG for a bad
 * plan, a step <= 0, or a non-finite floor. */
int splitee_search_repair(const splitee_search *s, splitee_search_plan *p, double limit,
                          double step, double floor, splitee_search_point *out,
                          splitee_error *err);

/* Runs the search (see the header comment). 0: res->chosen meets the
 * budget. VALUE: no configuration evaluated meets it; res->chosen is the
 * closest, res->met = 0, with a message saying what was closest. ARG: a
 * bad config (empty or unsorted grid, no threshold mode, weights out of
 * range, the exhaustive method past SPLITEE_SEARCH_MAX_EXHAUSTIVE
 * candidates, FULL past max_configs, LATENCY without a rate or with a
 * negative offload latency, a grid whose DP tables would pass 1 GiB). NOMEM. On
 * ARG or NOMEM nothing is left allocated in *res. */
int splitee_search_run(const splitee_search *s, const splitee_search_config *cfg,
                       splitee_search_result *res, splitee_error *err);

/* A model variant holding only plan p's kept exits: the model.json text
 * (malloc'd into *out, NUL-terminated) of model_dir's model (format
 * version 2, or version 1 translated to its version 2 graph) with the
 * stages between two kept exits merged into one stage (the dropped exits'
 * heads removed), "weights" set to "model.safetensors" and
 * metadata.variant_exits listing the kept exits (1-based); and that
 * weights file (malloc'd into *weights, *weights_len bytes): the original
 * tensors the variant reads, byte for byte, in their original order. The
 * model's stages must equal p->candidates (SHAPE). Both are checked by
 * loading them before they are returned; IO/FORMAT naming model.json
 * otherwise. The caller frees both and writes them into one folder. */
int splitee_search_variant(const char *model_dir, const splitee_search_plan *p, char **out, void **weights,
                           size_t *weights_len, splitee_error *err);

/* The worst-case latency (ms) of point p under cfg's latency model (see
 * SPLITEE_BUDGET_LATENCY); NaN without a device rate. */
double splitee_search_latency_ms(const splitee_search_config *cfg, const splitee_search_point *p);

/* Frees res->front; safe on a zeroed or freed result. */
void splitee_search_result_free(splitee_search_result *res);

/* Names: "auto", "exhaustive", "greedy"; "macs", "accuracy", "latency". */
const char *splitee_search_method_name(splitee_search_method m);
const char *splitee_budget_kind_name(splitee_budget_kind b);

#ifdef __cplusplus
}
#endif
#endif
