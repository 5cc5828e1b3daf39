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
 */
#ifndef SPLITEE_EXIT_IMPL_H
#define SPLITEE_EXIT_IMPL_H

#include "splitee/exit.h"

typedef struct splitee__exit_ops {
    int (*init)(splitee_exit_rule *r, const splitee_exit_config *cfg, splitee_error *err);
    int (*step)(const splitee_exit_rule *r, splitee_exit_state *s, int i, double conf,
                int32_t pred);
} splitee__exit_ops;

typedef struct splitee__exit_kind {
    splitee_exit_info info;
    const splitee__exit_ops *ops;
} splitee__exit_kind;

/* The kinds, one per splitee_exit_kind (exit.c's registry). */
extern const splitee__exit_kind splitee__exit_threshold, splitee__exit_per_exit; /* exit_threshold.c */
extern const splitee__exit_kind splitee__exit_patience, splitee__exit_agreement;  /* exit_agreement.c */

/* Checks that alpha (what) is in [0, 1]; 0 or VALUE naming it. */
int splitee__exit_check_unit(double v, const char *what, splitee_error *err);

#endif
