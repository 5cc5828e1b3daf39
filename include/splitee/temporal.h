/* temporal.h -- the stream exit rules (exit.h "stream rules") on an
 * exit-logit table of a stream, frame by frame in the table's order: what
 * they cost and how accurate they are, and the calibration of their theta
 * after Sponner et al. 2024 (docs/TEMPORAL.md).
 *
 * Cost is counted in layers: a frame that ends at exit e ran e + 1 of the L
 * layers (the blocks of the shipped ViT are alike, so layers stand for
 * MACs; the exit heads are not counted); a frame that re-runs the whole
 * model ran L (the device continues from the probe exit, so the layers
 * before it are not run twice). relative cost = mean layers / L.
 *
 *     splitee_exit_config ec; splitee_exit_config_default(&ec);
 *     ec.kind = SPLITEE_EXIT_KIND_DIFFERENCE; ec.theta = 0.3;
 *     splitee_exit_rule r; splitee_exit_rule_init(&r, &ec, L, &err);
 *     splitee_temporal_result res;
 *     splitee_temporal_run(table, &r, 0, n, scenes, NULL, &res, &err);
 */
#ifndef SPLITEE_TEMPORAL_H
#define SPLITEE_TEMPORAL_H

#include <stddef.h>
#include <stdint.h>
#include "exit.h"
#include "status.h"
#include "table.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct splitee_temporal_result {
    size_t frames;          /* frames replayed */
    int exits;              /* L */
    double accuracy;        /* fraction right (NaN without labels) */
    double final_accuracy;  /* the last exit's on the same frames (NaN without labels) */
    double agreement;       /* fraction whose label equals the last exit's */
    double mean_layers;     /* layers run per frame */
    double relative_cost;   /* mean_layers / L */
    double rerun_rate;      /* fraction of frames that ran the whole model
                               (a stream rule's re-runs; the early-exit
                               deployment: frames ending at the last exit) */
    double change_recall;   /* with scene ids: fraction of scene changes
                               (frames whose scene differs from the one
                               before) whose frame re-ran; NaN without */
    double exit_share[SPLITEE_MAX_EXITS]; /* fraction of frames ending at exit e */
} splitee_temporal_result;

/* Replays frames from..to-1 of table t (in order) under rule r: a stream
 * rule (a fresh stream reset at `from`), or any other rule deployed as the
 * early-exit deployment (ee-threshold: each frame ends at the first exit
 * the rule accepts, else the last). scenes (t's samples) may be NULL.
 * frame (to - from, may be NULL) gets each frame's decision. ARG for an
 * empty range, a rule over another number of exits, NOMEM. */
int splitee_temporal_run(const splitee_table *t, const splitee_exit_rule *r, size_t from, size_t to,
                         const int32_t *scenes, splitee_exit_frame *frame,
                         splitee_temporal_result *out, splitee_error *err);

/* Reads scene ids: a 1-D integer .npy of n non-negative values into
 * *out (malloc'd). IO/FORMAT/SHAPE/VALUE naming the file. */
int splitee_scenes_load(const char *path, size_t n, int32_t **out, splitee_error *err);

/* ---- calibration ----------------------------------------------------------- */

typedef struct splitee_temporal_point {
    double theta;
    double accuracy;        /* on the calibration frames */
    double relative_cost;
    double rerun_rate;
    int front;              /* 1: on the (cost, accuracy) Pareto front */
} splitee_temporal_point;

typedef struct splitee_temporal_calibration {
    splitee_exit_kind kind;
    size_t frames;          /* calibration frames (the first ones) */
    int exits_fitted;       /* distances fitted at exits 0..exits_fitted-1 */
    double within_mean, within_sd;   /* normal fit of the distances between
                                        consecutive frames of one scene (means
                                        over the fitted exits) */
    double change_mean, change_sd;   /* the same across scene changes */
    long within_n, change_n;         /* pairs of each kind */
    double lo, hi;          /* the grid: mean(mu_w - 2 sd_w), mean(mu_c - 1.5 sd_c),
                               clamped to [0, 2], lo <= hi */
    int npoints;
    splitee_temporal_point *points;  /* (npoints) in increasing theta */
    int best;               /* the front's best accuracy per relative cost */
} splitee_temporal_calibration;

/* Calibrates theta of stream rule `kind` (difference, temporal-patience)
 * on the first `frames` frames of t (labels needed) with their scene ids:
 * fits normal distributions to the L1 softmax distances between
 * consecutive frames within scenes and across scene changes, at exit 0
 * (difference) or at every exit (temporal-patience, bounds averaged over
 * exits as the reference does); searches `grid` thetas evenly from lo to
 * hi; keeps the (relative cost, accuracy) Pareto front; picks the front's
 * point of highest accuracy / relative cost (the lowest theta on ties).
 * ARG (not a stream rule, no labels, grid < 1, frames < 2 or more than
 * the table), VALUE (no pair within a scene or no scene change in the
 * calibration frames), NOMEM. Free with splitee_temporal_calibration_free. */
int splitee_temporal_calibrate(const splitee_table *t, const int32_t *scenes, size_t frames,
                               splitee_exit_kind kind, int grid, splitee_temporal_calibration *out,
                               splitee_error *err);
void splitee_temporal_calibration_free(splitee_temporal_calibration *c);

/* Marks front[i] = 1 for the points not dominated by another (cost <=,
 * accuracy >=, one strictly), 0 otherwise; returns how many are on it. */
int splitee_pareto_front(const double *cost, const double *accuracy, int n, int *front);

#ifdef __cplusplus
}
#endif
#endif
