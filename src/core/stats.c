/* stats.c -- mean and 95% confidence intervals across repetitions, and the
 * seed mixer that keeps every repetition's randomness independent of the
 * thread that runs it. */
#include <math.h>
#include <gsl/gsl_cdf.h>

#include "core/internal.h"
#include "core/stats.h"

double splitee__t975(size_t df)
{
    splitee__gsl_init();
    return gsl_cdf_tdist_Pinv(0.975, (double)df);
}

splitee_stat splitee__stat(const double *x, size_t n, size_t stride)
{
    splitee_stat s;
    if (n == 0) {
        s.mean = s.lo = s.hi = s.sd = NAN;
        return s;
    }
    long double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += x[i * stride];
    long double mean = sum / n;
    long double ss = 0;
    for (size_t i = 0; i < n; i++) {
        long double d = x[i * stride] - mean;
        ss += d * d;
    }
    s.mean = (double)mean;
    if (n == 1) {
        s.sd = 0;
        s.lo = s.hi = s.mean;
        return s;
    }
    s.sd = (double)sqrtl(ss / (n - 1));
    double half = splitee__t975(n - 1) * s.sd / sqrt((double)n);
    s.lo = s.mean - half;
    s.hi = s.mean + half;
    return s;
}

uint64_t splitee__mix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}
