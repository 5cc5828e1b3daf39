/* test_kernels.c -- Criterion tests for the engine's float32 kernels
 * (src/kernels.h): each against a naive double-precision reference on
 * random shapes, including lengths that are not multiples of the vector
 * lanes. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

/* xorshift64 uniform in [lo, hi). */
static uint64_t rng = 0x2545F4914F6CDD1Dull;
static double uniform(double lo, double hi)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return lo + (hi - lo) * (double)(rng >> 11) * 0x1p-53;
}

static int irand(int lo, int hi) /* [lo, hi] */
{
    return lo + (int)uniform(0.0, (double)(hi - lo + 1));
}

static float *rand_floats(size_t n, double lo, double hi)
{
    float *x = malloc((n ? n : 1) * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)uniform(lo, hi);
    return x;
}

Test(kernels, dot_matches_double_reference)
{
    for (int trial = 0; trial < 300; trial++) {
        int n = irand(0, 300);
        float *a = rand_floats((size_t)n, -2, 2), *b = rand_floats((size_t)n, -2, 2);
        double ref = 0.0, mag = 0.0;
        for (int i = 0; i < n; i++) {
            ref += (double)a[i] * b[i];
            mag += fabs((double)a[i] * b[i]);
        }
        float got = splitee__dot(a, b, n);
        cr_assert(fabs(got - ref) <= 1e-6 * mag + 1e-30, "n=%d: %.9g vs %.9g", n, got, ref);
        free(a);
        free(b);
    }
}

Test(kernels, matmul_matches_double_reference)
{
    for (int trial = 0; trial < 60; trial++) {
        int n = irand(1, 20), in = irand(1, 150), out = irand(1, 70), bias = trial % 3 != 0;
        float *x = rand_floats((size_t)n * in, -1, 1), *w = rand_floats((size_t)out * in, -1, 1);
        float *b = bias ? rand_floats((size_t)out, -1, 1) : NULL;
        float *y = malloc((size_t)n * out * sizeof *y);
        splitee__matmul(y, x, w, b, n, in, out);
        for (int t = 0; t < n; t++)
            for (int o = 0; o < out; o++) {
                double ref = b ? b[o] : 0.0, mag = fabs(ref);
                for (int i = 0; i < in; i++) {
                    ref += (double)x[(size_t)t * in + i] * w[(size_t)o * in + i];
                    mag += fabs((double)x[(size_t)t * in + i] * w[(size_t)o * in + i]);
                }
                double got = y[(size_t)t * out + o];
                cr_assert(fabs(got - ref) <= 2e-6 * mag + 1e-30,
                          "(%d,%d,%d) y[%d][%d] = %.9g vs %.9g", n, in, out, t, o, got, ref);
            }
        free(x);
        free(w);
        free(b);
        free(y);
    }
}

Test(kernels, layernorm_matches_double_reference)
{
    for (int trial = 0; trial < 60; trial++) {
        int n = irand(1, 17), dim = irand(1, 200);
        double offset = trial % 4 == 0 ? 100.0 : 0.0, spread = uniform(0.01, 10.0);
        float *x = rand_floats((size_t)n * dim, offset - spread, offset + spread);
        float *g = rand_floats((size_t)dim, -2, 2), *b = rand_floats((size_t)dim, -1, 1);
        float *y = malloc((size_t)n * dim * sizeof *y);
        float eps = 1e-5f;
        splitee__layernorm(y, x, g, b, n, dim, eps);
        for (int t = 0; t < n; t++) {
            const float *xt = x + (size_t)t * dim;
            double mean = 0.0, var = 0.0;
            for (int i = 0; i < dim; i++)
                mean += xt[i];
            mean /= dim;
            for (int i = 0; i < dim; i++)
                var += (xt[i] - mean) * (xt[i] - mean);
            var /= dim;
            double rstd = 1.0 / sqrt(var + eps);
            /* float rounding of x - mean relative to the spread */
            double tol = 2e-6 * (1.0 + fabs(mean) * rstd);
            for (int i = 0; i < dim; i++) {
                double ref = (xt[i] - mean) * rstd * g[i] + b[i];
                double got = y[(size_t)t * dim + i];
                cr_assert(fabs(got - ref) <= tol * (fabs(g[i]) + 1.0) * 4 + 1e-6 * fabs(ref),
                          "dim %d offset %g: %.9g vs %.9g", dim, offset, got, ref);
            }
        }
        /* in place gives the same */
        float *z = malloc((size_t)n * dim * sizeof *z);
        memcpy(z, x, (size_t)n * dim * sizeof *z);
        splitee__layernorm(z, z, g, b, n, dim, eps);
        cr_assert_eq(memcmp(z, y, (size_t)n * dim * sizeof *z), 0);
        free(x);
        free(g);
        free(b);
        free(y);
        free(z);
    }
}

Test(kernels, layernorm_of_constant_row_is_bias)
{
    float x[5] = { 3, 3, 3, 3, 3 }, g[5] = { 1, 2, 3, 4, 5 }, b[5] = { .5f, -1, 0, 2, 7 }, y[5];
    splitee__layernorm(y, x, g, b, 1, 5, 1e-5f);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(y[i], b[i]);
}

Test(kernels, softmax_matches_double_reference)
{
    for (int trial = 0; trial < 200; trial++) {
        int n = irand(1, 70);
        double scale = trial % 5 == 0 ? 80.0 : 5.0;
        float *x = rand_floats((size_t)n, -scale, scale);
        double *ref = malloc((size_t)n * sizeof *ref), m = -INFINITY, s = 0.0;
        for (int i = 0; i < n; i++)
            m = x[i] > m ? x[i] : m;
        for (int i = 0; i < n; i++)
            s += ref[i] = exp(x[i] - m);
        splitee__softmax(x, n);
        double total = 0.0;
        for (int i = 0; i < n; i++) {
            cr_assert(fabs(x[i] - ref[i] / s) <= 1e-6 * (ref[i] / s) + 1e-12, "%.9g vs %.9g",
                      x[i], ref[i] / s);
            total += x[i];
        }
        cr_assert(fabs(total - 1.0) < 1e-5);
        free(x);
        free(ref);
    }
    float big[3] = { 1000.0f, 1000.0f, -1000.0f };   /* no overflow */
    splitee__softmax(big, 3);
    cr_assert(big[0] == 0.5f && big[1] == 0.5f && big[2] == 0.0f);
}

Test(kernels, gelu_is_exact_erf_gelu)
{
    size_t n = 4001;
    float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    for (size_t i = 0; i < n; i++)
        x[i] = y[i] = (float)(-10.0 + 20.0 * (double)i / (double)(n - 1));
    splitee__gelu(y, n);
    for (size_t i = 0; i < n; i++) {
        double ref = 0.5 * x[i] * (1.0 + erf(x[i] / sqrt(2.0)));
        cr_assert(fabs(y[i] - ref) <= 1e-6 * (1.0 + fabs(ref)), "gelu(%g) = %.9g vs %.9g",
                  x[i], y[i], ref);
    }
    float z[3] = { 0.0f, 1.0f, -1.0f };
    splitee__gelu(z, 3);
    cr_assert_eq(z[0], 0.0f);
    cr_assert(fabs(z[1] - 0.8413447460685429) < 1e-7);   /* Phi(1) */
    cr_assert(fabs(z[2] + 0.15865525393145707) < 1e-7);
    /* tanh-approximate GELU would give 0.841192 at 1: far outside */
    free(x);
    free(y);
}

Test(kernels, attention_matches_double_reference)
{
    for (int trial = 0; trial < 40; trial++) {
        int tokens = irand(1, 20), heads = irand(1, 4), hd = irand(1, 24), dim = heads * hd;
        float *qkv = rand_floats((size_t)tokens * 3 * dim, -1.5, 1.5);
        float *y = malloc((size_t)tokens * dim * sizeof *y), *scores = malloc((size_t)tokens * 4);
        double *p = malloc((size_t)tokens * sizeof *p);
        splitee__attention(y, qkv, scores, tokens, dim, heads);
        for (int h = 0; h < heads; h++)
            for (int t = 0; t < tokens; t++) {
                const float *q = qkv + (size_t)t * 3 * dim + h * hd;
                double m = -INFINITY, s = 0.0;
                for (int u = 0; u < tokens; u++) {
                    const float *k = qkv + (size_t)u * 3 * dim + dim + h * hd;
                    double d = 0.0;
                    for (int i = 0; i < hd; i++)
                        d += (double)q[i] * k[i];
                    p[u] = d / sqrt((double)hd);
                    m = p[u] > m ? p[u] : m;
                }
                for (int u = 0; u < tokens; u++)
                    s += p[u] = exp(p[u] - m);
                for (int i = 0; i < hd; i++) {
                    double ref = 0.0, mag = 0.0;
                    for (int u = 0; u < tokens; u++) {
                        double v = qkv[(size_t)u * 3 * dim + 2 * dim + h * hd + i];
                        ref += p[u] / s * v;
                        mag += fabs(p[u] / s * v);
                    }
                    double got = y[(size_t)t * dim + h * hd + i];
                    cr_assert(fabs(got - ref) <= 1e-5 * (mag + 1e-3),
                              "T=%d H=%d hd=%d: y[%d][%d] %.9g vs %.9g", tokens, heads, hd, t,
                              h * hd + i, got, ref);
                }
            }
        free(qkv);
        free(y);
        free(scores);
        free(p);
    }
}

Test(kernels, add_and_mean_rows)
{
    int n = 7, dim = 19;
    float *x = rand_floats((size_t)n * dim, -3, 3), *y = rand_floats((size_t)dim, -1, 1);
    float *keep = malloc((size_t)dim * sizeof *keep), m[19];
    memcpy(keep, y, (size_t)dim * sizeof *keep);
    splitee__add(y, x, (size_t)dim);
    for (int i = 0; i < dim; i++)
        cr_assert_eq(y[i], keep[i] + x[i]);
    splitee__mean_rows(m, x, n, dim);
    for (int i = 0; i < dim; i++) {
        double ref = 0.0;
        for (int t = 0; t < n; t++)
            ref += x[(size_t)t * dim + i];
        cr_assert(fabs(m[i] - ref / n) < 1e-6);
    }
    free(x);
    free(y);
    free(keep);
}
