/* risk.h -- risk control for the early-exit rule (Jazbec et al., "Fast yet
 * Safe", NeurIPS 2024; docs/RISK.md): pick the threshold lambda of the rule
 * "exit at the first exit whose confidence reaches lambda, else the last
 * exit" so that the risk of exiting early, against running the full model,
 * is at most epsilon (with probability at least 1 - delta for the UCB and
 * LTT methods; in expectation for CRC; not at all for naive).
 *
 * Per-sample risks, early (the exit the rule takes at lambda) against full
 * (the last exit):
 *   prediction-gap  1[early != y] - 1[full != y]          in [-1, 1] (labels)
 *   consistency     1[early != full]                      in [0, 1]
 *   brier-gap       Brier(early) - Brier(full)            in [-2, 2] (labels)
 *                   with Brier(p) = sum_c (p_c - 1[c = y])^2
 * each optionally clamped at 0 (then in [0, 1], [0, 1], [0, 2]).
 *
 * The grid is lambda_j = (100 - j) / 100, j = 0..100 (1.00, 0.99, ..., 0).
 * Every method tests grid values in that order and stops at the first one
 * that fails (fixed-sequence testing); the calibrated lambda-hat is the last
 * one that passed, the smallest grid value whose test holds for it and for
 * every larger one. For a risk R-hat(lambda) (the mean loss over the n
 * calibration samples) and losses in [lo, hi], the tests at lambda are
 *   naive    R-hat <= epsilon
 *   crc      R-hat <= ((n + 1) epsilon - B) / n, B = hi (the loss bound)
 *   ucb-hb   U_HB <= epsilon'       U: an upper (1 - delta) confidence bound
 *   ucb-wsr  U_WSR <= epsilon'      on the losses rescaled to [0, 1],
 *   ltt      p_HB(epsilon') <= delta   epsilon' = (epsilon - lo) / (hi - lo)
 * with the Hoeffding-Bentkus p-value (splitee_risk_hb_pvalue), its UCB
 * (splitee_risk_hb_ucb) and the Waudby-Smith-Ramdas betting bound
 * (splitee_risk_wsr_ucb).
 *
 * The split form (form SPLITEE_RISK_FORM_SPLIT, docs/RISK.md) calibrates
 * one lambda per split layer k = 1..L-1 instead: a sample split at layer k
 * takes exit k's prediction when C_k >= lambda_k, else the final exit's
 * (the cloud's); its loss is the same risk of that prediction against the
 * final exit. splitee_risk_layer_* work on layer l = k - 1.
 *
 *     splitee_risk_config rc;
 *     splitee_risk_config_default(&rc);            // consistency, max-softmax
 *     splitee_risk *r;
 *     if (splitee_risk_create(table, &rc, &r, &err) < 0) die(err.msg);
 *     splitee_calib_config cc;
 *     splitee_calib_config_default(&cc);           // ltt, epsilon 0.05, delta 0.1
 *     splitee_calib_result res;
 *     if (splitee_risk_calibrate(r, NULL, splitee_risk_samples(r), &cc, &res, &err) < 0)
 *         die(err.msg);
 *     ... res.threshold (NaN when no grid value passed) ...
 *     splitee_risk_free(r);
 */
#ifndef SPLITEE_RISK_H
#define SPLITEE_RISK_H

#include <stddef.h>
#include <stdint.h>
#include "exit.h"
#include "status.h"
#include "table.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Grid values: lambda_j = (100 - j) / 100. */
#define SPLITEE_RISK_GRID 101

/* lambda_j of the grid, j in 0..SPLITEE_RISK_GRID-1 (NaN outside). */
double splitee_risk_grid_value(int j);

typedef enum splitee_risk_kind {
    SPLITEE_RISK_PREDICTION_GAP = 0, /* 1[early != y] - 1[full != y] (labels) */
    SPLITEE_RISK_CONSISTENCY,        /* 1[early != full] */
    SPLITEE_RISK_BRIER_GAP,          /* Brier(early) - Brier(full) (labels) */
    SPLITEE_RISK_COUNT
} splitee_risk_kind;

typedef enum splitee_calib_method {
    SPLITEE_CALIB_NAIVE = 0,  /* R-hat <= epsilon: no guarantee */
    SPLITEE_CALIB_CRC,        /* conformal risk control: E[risk] <= epsilon */
    SPLITEE_CALIB_UCB_HB,     /* Hoeffding-Bentkus upper bound <= epsilon */
    SPLITEE_CALIB_UCB_WSR,    /* Waudby-Smith-Ramdas upper bound <= epsilon */
    SPLITEE_CALIB_LTT,        /* Learn then Test, HB p-values, fixed sequence */
    SPLITEE_CALIB_COUNT
} splitee_calib_method;

/* "prediction-gap" | "consistency" | "brier-gap"; 0 or SPLITEE_ERR_ARG. */
int splitee_risk_kind_parse(const char *s, splitee_risk_kind *out);
/* The name splitee_risk_kind_parse takes ("unknown" out of range). */
const char *splitee_risk_kind_name(splitee_risk_kind k);
/* Whether the risk needs labels. */
int splitee_risk_kind_needs_labels(splitee_risk_kind k);
/* "naive" | "crc" | "ucb-hb" | "ucb-wsr" | "ltt"; 0 or SPLITEE_ERR_ARG. */
int splitee_calib_method_parse(const char *s, splitee_calib_method *out);
const char *splitee_calib_method_name(splitee_calib_method m);

/* The loss range [*lo, *hi] of a risk, clamped (clamp != 0) or not. */
void splitee_risk_range(splitee_risk_kind k, int clamp, double *lo, double *hi);

/* The rule whose threshold is calibrated. */
typedef enum splitee_risk_form {
    SPLITEE_RISK_FORM_EARLY_EXIT = 0, /* exit at the first exit with C_i >= lambda, else the last */
    SPLITEE_RISK_FORM_SPLIT,          /* per split layer k (exit k-1, k = 1..L-1): exit k's
                                         prediction when C_k >= lambda_k, else the last exit's
                                         (the cloud's); one lambda per layer */
    SPLITEE_RISK_FORM_COUNT
} splitee_risk_form;

/* "early-exit" | "split"; 0 or SPLITEE_ERR_ARG. */
int splitee_risk_form_parse(const char *s, splitee_risk_form *out);
/* The name splitee_risk_form_parse takes ("unknown" out of range). */
const char *splitee_risk_form_name(splitee_risk_form f);

typedef struct splitee_risk_config {
    splitee_risk_kind risk;
    int clamp;                     /* 1: losses max(loss, 0) */
    splitee_confidence confidence; /* the measure the rule thresholds */
    splitee_risk_form form;        /* early-exit: one loss matrix; split: one per split layer */
} splitee_risk_config;

/* consistency, not clamped, max-softmax, early-exit. */
void splitee_risk_config_default(splitee_risk_config *cfg);

typedef struct splitee_calib_config {
    splitee_calib_method method;
    double epsilon;    /* the risk level, in (0, 1) */
    double delta;      /* the failure probability, in (0, 1) (ucb, ltt) */
} splitee_calib_config;

/* ltt, epsilon 0.05, delta 0.1. */
void splitee_calib_config_default(splitee_calib_config *cfg);

/* The outcome of one calibration. */
typedef struct splitee_calib_result {
    int index;          /* grid index of lambda-hat; -1: even lambda = 1 failed */
    double threshold;   /* lambda-hat, NaN when index is -1 or the grid is
                           not the standard one (ngrid != SPLITEE_RISK_GRID) */
    double risk;        /* R-hat at lambda-hat on the calibration samples (loss
                           units), NaN when index is -1 */
    double stat;        /* the method's statistic at lambda-hat: naive R-hat,
                           crc the cutoff ((n+1)eps - B)/n, ucb the bound
                           (loss units), ltt the p-value; NaN when index is -1 */
    int tested;         /* grid values tested (the failure included) */
    double fail_risk;   /* R-hat at the grid value that failed (index + 1),
                           NaN when every grid value passed */
    double fail_stat;   /* the method's statistic there, NaN likewise */
} splitee_calib_result;

/* ---- the bounds, for losses in [0, 1] ------------------------------------ */

/* Hoeffding-Bentkus p-value of H0: risk > eps, for a mean rhat of n losses:
 * min(exp(-n h1(min(rhat, eps), eps)), e * P(Bin(n, eps) <= ceil(n rhat))),
 * h1(a, b) = a ln(a/b) + (1-a) ln((1-a)/(1-b)). In [0, 1]. */
double splitee_risk_hb_pvalue(double rhat, size_t n, double eps);

/* The Hoeffding-Bentkus (1 - delta) upper confidence bound: the largest r in
 * [rhat, 1] with p_HB(rhat; r) >= delta (bisection to 1e-12); 1 when none. */
double splitee_risk_hb_ucb(double rhat, size_t n, double delta);

/* The Waudby-Smith-Ramdas betting (1 - delta) upper bound of the mean of
 * x[idx[0..n-1]*stride] (idx NULL: x[0..n-1]), each in [0, 1] after
 * (x - lo) / (hi - lo), on that [0, 1] scale: the root in mu of
 * K(mu) = max_t sum_{i<=t} ln(1 - nu_i (x_i - mu)) + ln delta, with
 * mu_i = (sum_{s<=i} x_s + 1/2) / (i + 1),
 * s2_i = (sum_{s<=i} (x_s - mu_s)^2 + 1/4) / (i + 1),
 * nu_i = min(1, sqrt(2 ln(1/delta) / (n s2_{i-1}))), s2_0 = 1/4
 * (bisection to 1e-12; 1 when K(1) < 0). K rises with mu, so
 * U <= eps exactly when K(eps) >= 0, which the calibration tests. */
double splitee_risk_wsr_ucb(const double *x, const size_t *idx, size_t n, double lo,
                            double hi, double delta);
/* K(mu) above. */
double splitee_risk_wsr_k(const double *x, const size_t *idx, size_t n, double lo, double hi,
                          double delta, double mu);

/* ---- calibration on a loss matrix ----------------------------------------- */

/* Calibrates on a loss matrix: loss[j * stride + idx[m]] is calibration
 * sample m's loss at grid value j (idx NULL: m), j in 0..ngrid-1 in
 * decreasing lambda, m in 0..n-1, every loss in [lo, hi]. Tests j = 0, 1,
 * ... and stops at the first failure. ARG for an empty grid (ngrid < 1) or
 * a method out of range; VALUE for epsilon or delta outside (0, 1), or lo
 * >= hi; VALUE "... too small ..." when n calibration samples cannot pass
 * the method's test even with every loss at lo (n = 0 included), naming
 * the smallest n that could. Allocates nothing. */
int splitee_risk_calibrate_losses(const double *loss, size_t stride, const size_t *idx,
                                  size_t n, int ngrid, double lo, double hi,
                                  const splitee_calib_config *cfg, splitee_calib_result *out,
                                  splitee_error *err);

/* ---- a table's losses over the grid ---------------------------------------- */

typedef struct splitee_risk splitee_risk; /* opaque */

/* Computes, for every sample of t and every grid value, the exit the rule
 * takes and the sample's loss there. ARG when the risk needs labels and t
 * has none, or cfg is out of range; NOMEM. On success *out owns it. */
int splitee_risk_create(const splitee_table *t, const splitee_risk_config *cfg,
                        splitee_risk **out, splitee_error *err);
void splitee_risk_free(splitee_risk *r);

size_t splitee_risk_samples(const splitee_risk *r);
int splitee_risk_exits(const splitee_risk *r);
/* Losses (SPLITEE_RISK_GRID, samples): row j is every sample's loss at grid
 * value j. */
const double *splitee_risk_losses(const splitee_risk *r);
/* Exits taken (SPLITEE_RISK_GRID, samples), 0-based. */
const uint8_t *splitee_risk_exit_taken(const splitee_risk *r);
/* The config it was built with. */
const splitee_risk_config *splitee_risk_config_of(const splitee_risk *r);

/* The loss matrices r holds: 1 for the early-exit form, L - 1 for the
 * split form (layer index l = 0..L-2 is split layer k = l + 1, exit l). */
int splitee_risk_layers(const splitee_risk *r);
/* Layer l's losses and exits taken, as splitee_risk_losses and
 * splitee_risk_exit_taken (layer 0 is what those return); NULL for l
 * outside 0..splitee_risk_layers - 1. In the split form a sample's exit
 * at grid value j is l when C_l >= lambda_j, else L - 1 (loss 0: the
 * final prediction against itself). */
const double *splitee_risk_layer_losses(const splitee_risk *r, int l);
const uint8_t *splitee_risk_layer_exit_taken(const splitee_risk *r, int l);

/* Mean loss and mean exit layer (1-based) at grid value j (-1: the last
 * exit for every sample, loss 0) over samples idx[0..n-1] (idx NULL:
 * 0..n-1); NaN for n = 0. mean_exit may be NULL. */
double splitee_risk_mean(const splitee_risk *r, int j, const size_t *idx, size_t n,
                         double *mean_exit);
/* splitee_risk_mean on layer l's losses (0 <= l < splitee_risk_layers;
 * NaN outside). */
double splitee_risk_layer_mean(const splitee_risk *r, int l, int j, const size_t *idx, size_t n,
                               double *mean_exit);

/* splitee_risk_calibrate_losses on r's losses over samples idx[0..n-1]
 * (idx NULL: the first n) with r's loss range. */
int splitee_risk_calibrate(const splitee_risk *r, const size_t *idx, size_t n,
                           const splitee_calib_config *cfg, splitee_calib_result *out,
                           splitee_error *err);
/* splitee_risk_calibrate on layer l's losses: ARG for l outside
 * 0..splitee_risk_layers - 1. Each layer gets its own fixed-sequence test
 * over the whole grid, so each lambda-hat_l carries the method's guarantee
 * for its layer alone (whichever layer a policy plays). */
int splitee_risk_layer_calibrate(const splitee_risk *r, int l, const size_t *idx, size_t n,
                                 const splitee_calib_config *cfg, splitee_calib_result *out,
                                 splitee_error *err);

/* One random calibration/test split of the evaluation. */
typedef struct splitee_risk_split {
    splitee_calib_result cal;  /* the calibration on n_cal samples */
    double test_risk;          /* mean loss at lambda-hat on the other samples
                                  (0 when index is -1: no early exit) */
    double test_exit;          /* mean exit layer (1-based) there */
} splitee_risk_split;

/* `splits` random splits of r's samples: split s shuffles the samples
 * (a generator seeded from `seed`, the same splits for the same seed),
 * calibrates on the first n_cal and tests on the rest, into out[s]. VALUE
 * when n_cal is 0 or leaves no test sample, or splits < 1; the
 * calibration's errors otherwise. Allocates one index array. */
int splitee_risk_evaluate(const splitee_risk *r, const splitee_calib_config *cfg, size_t n_cal,
                          int splits, uint64_t seed, splitee_risk_split *out,
                          splitee_error *err);
/* splitee_risk_evaluate on layer l's losses (ARG for l out of range). The
 * splits depend on the seed only, so every layer of one seed sees the same
 * calibration/test splits. */
int splitee_risk_layer_evaluate(const splitee_risk *r, int l, const splitee_calib_config *cfg,
                                size_t n_cal, int splits, uint64_t seed, splitee_risk_split *out,
                                splitee_error *err);

/* What the splits of an evaluation show, against epsilon. */
typedef struct splitee_risk_summary {
    int splits;
    double test_mean;      /* mean test risk over the splits */
    double test_q10, test_q50, test_q90, test_max; /* its quantiles (linear
                                                      interpolation) and maximum */
    double share_over;     /* share of splits whose test risk exceeds epsilon */
    double threshold_mean; /* mean lambda-hat over the splits that found one */
    int none;              /* splits where even lambda = 1 failed */
    double exit_mean;      /* mean test exit layer (1-based) */
    double saved;          /* 1 - exit_mean / exits: the share of layers not
                              run against always running the last exit */
} splitee_risk_summary;

/* Summarises s[0..splits-1] (splits >= 1) against epsilon for a table of
 * `exits` exits. Allocates a sorted copy of the test risks: NOMEM. */
int splitee_risk_summarize(const splitee_risk_split *s, int splits, double epsilon, int exits,
                           splitee_risk_summary *out, splitee_error *err);

#ifdef __cplusplus
}
#endif
#endif
