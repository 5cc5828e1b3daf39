/* exit_impl.h -- what the exit rule's kinds (src/core/exit_*.c) share with
 * the registry and dispatch in exit.c, and nothing else sees: a kind's
 * operations. Not installed; the public interface is include/splitee/exit.h.
 *
 * A kind provides its traits (splitee_exit_info) and:
 *   init  checks the parameters its info.params names and fills the rule's
 *         kind-specific fields (thr for thresholds kinds); the shared fields
 *         (alpha, kind, confidence, exits, thresholds, patience) are already
 *         copied from the configuration;
 *   step  (kinds that are not thresholds kinds) decides exit i, updating the
 *         per-sample state; called with i = s->next, which the caller then
 *         advances. A thresholds kind has no step: the inline
 *         splitee_exit_step decides C_i >= thr[i].
 * A stream kind (info.stream) also provides:
 *   reuse   whether a frame may end at the probe exit, given the stream
 *           state (a reference exists), the probe exit's softmax p, its
 *           prediction and the distance d to the reference;
 *   rebase  the probe exit of the frames after a full run, from every
 *           exit's prediction (exits) of that frame.
 */
#ifndef SPLITEE_EXIT_IMPL_H
#define SPLITEE_EXIT_IMPL_H

#include "splitee/exit.h"

/* A stream's state (exit.h splitee_exit_stream), allocated once. */
struct splitee_exit_stream {
    splitee_exit_rule rule;
    int classes;
    int have_ref;       /* 1 once a frame ran the whole model */
    int probe;          /* exit the next check reads */
    int32_t ref_label;  /* the reference frame's label (its last exit's) */
    double distance;    /* of the last check, NaN without a reference */
    double *ref;        /* (classes) softmax of the probe exit at the reference frame */
    double *cur;        /* (classes) scratch: softmax of the frame being checked */
};

typedef struct splitee__exit_ops {
    int (*init)(splitee_exit_rule *r, const splitee_exit_config *cfg, splitee_error *err);
    int (*step)(const splitee_exit_rule *r, splitee_exit_state *s, int i, double conf,
                int32_t pred);
    int (*reuse)(const splitee_exit_stream *s, int32_t pred, double d);  /* stream kinds */
    int (*rebase)(const splitee_exit_stream *s, const int32_t *pred);    /* stream kinds */
} splitee__exit_ops;

typedef struct splitee__exit_kind {
    splitee_exit_info info;
    const splitee__exit_ops *ops;
} splitee__exit_kind;

/* The kinds, one per splitee_exit_kind (exit.c's registry). */
extern const splitee__exit_kind splitee__exit_threshold, splitee__exit_per_exit; /* exit_threshold.c */
extern const splitee__exit_kind splitee__exit_patience, splitee__exit_agreement;  /* exit_agreement.c */
extern const splitee__exit_kind splitee__exit_difference, splitee__exit_temporal_patience; /* exit_temporal.c */

/* The registry's kind for k (k in range). */
const splitee__exit_kind *splitee__exit_kind_of(splitee_exit_kind k);

/* Checks that alpha (what) is in [0, 1]; 0 or VALUE naming it. */
int splitee__exit_check_unit(double v, const char *what, splitee_error *err);

#endif
