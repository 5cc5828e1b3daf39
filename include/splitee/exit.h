/* exit.h -- the exit rule's confidence measure: how sure exit i is of its
 * prediction, C_i, computed from the exit's logits. Every module that
 * decides whether a sample exits (the reward model, policies, replay, the
 * engine commands, device and cloud) takes C_i from here, so a measure is
 * defined once.
 *
 *     int32_t pred;
 *     double c = splitee_confidence_of(z, 10, SPLITEE_CONFIDENCE_MAX_SOFTMAX, &pred);
 *     if (c >= alpha) ... exit with class pred
 */
#ifndef SPLITEE_EXIT_H
#define SPLITEE_EXIT_H

#include <stdint.h>
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest number of exits (arms) any splitee module supports. */
#define SPLITEE_MAX_EXITS 64

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
 * texts list them by iterating. */
const char *splitee_confidence_name(splitee_confidence kind);

#ifdef __cplusplus
}
#endif
#endif
