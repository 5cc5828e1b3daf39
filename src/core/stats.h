/* stats.h -- summary statistics across repetitions (internal). */
#ifndef SPLITEE_STATS_H
#define SPLITEE_STATS_H

#include <stddef.h>
#include <stdint.h>
#include "splitee/replay.h"

/* Mean, sample s.d. and 95% Student-t confidence interval of n values
 * x[0], x[stride], ..., x[(n-1)*stride], accumulated in long double with
 * two passes. n = 1 gives sd 0 and lo = hi = mean; n = 0 gives NaNs. */
splitee_stat splitee__stat(const double *x, size_t n, size_t stride);

/* Two-sided 95% Student-t quantile t_{0.975, df} (df >= 1). */
double splitee__t975(size_t df);

/* splitmix64 step: mixes a 64-bit value into a well-spread one. Used to
 * derive independent generator seeds from (seed, repetition, stream). */
uint64_t splitee__mix64(uint64_t x);

#endif
