/* exit.c -- the exit rule's confidence measures (include/splitee/exit.h),
 * defined once for every module. */
#include <math.h>
#include <string.h>

#include "splitee/exit.h"

/* With m = argmax z, d_k = z_k - z_m, e_k = exp(d_k) and S = sum e_k:
 *   max softmax = 1 / S
 *   entropy H   = ln S - (sum e_k d_k) / S, confidence 1 - H / ln K
 *   margin      = (1 - e_second) / S
 * Max-subtraction keeps every exp in (0, 1], so no logit overflows. */
double splitee_confidence_of(const double *z, int classes, splitee_confidence kind,
                             int32_t *pred)
{
    if (classes < 1) {
        if (pred)
            *pred = -1;
        return NAN;
    }
    int m = 0;
    for (int k = 1; k < classes; k++)
        if (z[k] > z[m])
            m = k;
    if (pred)
        *pred = m;
    double sum = 0, dot = 0, second = 0;
    for (int k = 0; k < classes; k++) {
        double d = z[k] - z[m];
        double e = exp(d);
        sum += e;
        if (e > 0)
            dot += e * d;
        if (k != m && e > second)
            second = e;
    }
    switch (kind) {
    case SPLITEE_CONFIDENCE_MAX_SOFTMAX:
        return 1.0 / sum;
    case SPLITEE_CONFIDENCE_ENTROPY: {
        if (classes == 1)
            return 1.0;
        double c = 1.0 - (log(sum) - dot / sum) / log((double)classes);
        return c < 0 ? 0 : c > 1 ? 1 : c;
    }
    case SPLITEE_CONFIDENCE_MARGIN:
        return (1.0 - second) / sum;
    case SPLITEE_CONFIDENCE_COUNT:
        break;
    }
    return NAN;
}

static const char *const confidence_names[] = { "max-softmax", "entropy", "margin" };

int splitee_confidence_parse(const char *s, splitee_confidence *out)
{
    for (int i = 0; s && i < SPLITEE_CONFIDENCE_COUNT; i++)
        if (strcmp(s, confidence_names[i]) == 0) {
            *out = (splitee_confidence)i;
            return SPLITEE_OK;
        }
    return SPLITEE_ERR_ARG;
}

const char *splitee_confidence_name(splitee_confidence kind)
{
    return (unsigned)kind < SPLITEE_CONFIDENCE_COUNT ? confidence_names[kind] : "unknown";
}
