/* test_kernels.c -- Criterion tests for the engine's float32 kernels
 * (src/engine/kernels.h): each against a naive double-precision reference on
 * random shapes, including lengths that are not multiples of the vector
 * lanes. The linear, LayerNorm, attention and GELU tests run every kernel
 * set the CPU has (portable always, AVX2+FMA when present) with the same
 * tolerances; the AVX2 exp and erf are checked on dense sweeps in ulp. The
 * convolutional ops (conv2d with stride, padding, dilation and groups,
 * depthwise, pointwise, pooling, activations, scale-shift) are checked
 * against the error bound of the summation they do. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/kernels.h"

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

/* The kernel sets this CPU runs: portable, then AVX2+FMA if available. */
static int kernel_sets(const splitee__kernels **ks)
{
    int n = 0;
    ks[n++] = splitee__kernels_portable();
    if (splitee__kernels_avx2())
        ks[n++] = splitee__kernels_avx2();
    return n;
}

/* wt (in, out) = w (out, in) transposed, malloc'd. */
static float *transpose(const float *w, int out, int in)
{
    float *wt = malloc((size_t)out * (size_t)in * sizeof *wt + 4);
    for (int o = 0; o < out; o++)
        for (int i = 0; i < in; i++)
            wt[(size_t)i * out + o] = w[(size_t)o * in + i];
    return wt;
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
        float *y = malloc((size_t)n * out * sizeof *y), *wt = transpose(w, out, in);
        const splitee__kernels *ks[2];
        for (int k = 0, nk = kernel_sets(ks); k < nk; k++) {
        if (k == 0)
            splitee__matmul(y, x, w, b, n, in, out);
        else
            ks[k]->linear(y, x, w, ks[k]->packed ? wt : NULL, b, n, in, out);
        for (int t = 0; t < n; t++)
            for (int o = 0; o < out; o++) {
                double ref = b ? b[o] : 0.0, mag = fabs(ref);
                for (int i = 0; i < in; i++) {
                    ref += (double)x[(size_t)t * in + i] * w[(size_t)o * in + i];
                    mag += fabs((double)x[(size_t)t * in + i] * w[(size_t)o * in + i]);
                }
                double got = y[(size_t)t * out + o];
                cr_assert(fabs(got - ref) <= 2e-6 * mag + 1e-30,
                          "%s (%d,%d,%d) y[%d][%d] = %.9g vs %.9g", ks[k]->name, n, in, out, t,
                          o, got, ref);
            }
        }
        free(wt);
        free(x);
        free(w);
        free(b);
        free(y);
    }
}

Test(kernels, layernorm_matches_double_reference)
{
    for (int trial = 0; trial < 60; trial++) {
        int n = irand(1, 17), dim = trial % 2 ? irand(1, 200) : 8 * irand(1, 25);
        double offset = trial % 4 == 0 ? 100.0 : 0.0, spread = uniform(0.01, 10.0);
        float *x = rand_floats((size_t)n * dim, offset - spread, offset + spread);
        float *g = rand_floats((size_t)dim, -2, 2), *b = rand_floats((size_t)dim, -1, 1);
        float *y = malloc((size_t)n * dim * sizeof *y);
        float eps = 1e-5f;
        const splitee__kernels *ks[2];
        for (int k = 0, nk = kernel_sets(ks); k < nk; k++) {
        ks[k]->layernorm(y, x, g, b, n, dim, eps);
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
                          "%s dim %d offset %g: %.9g vs %.9g", ks[k]->name, dim, offset, got,
                          ref);
            }
        }
        /* in place gives the same */
        float *z = malloc((size_t)n * dim * sizeof *z);
        memcpy(z, x, (size_t)n * dim * sizeof *z);
        ks[k]->layernorm(z, z, g, b, n, dim, eps);
        cr_assert_eq(memcmp(z, y, (size_t)n * dim * sizeof *z), 0);
        free(z);
        }
        free(x);
        free(g);
        free(b);
        free(y);
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
    const splitee__kernels *ks[2];
    for (int k = 0, nk = kernel_sets(ks); k < nk; k++) {
        for (size_t i = 0; i < n; i++)
            x[i] = y[i] = (float)(-10.0 + 20.0 * (double)i / (double)(n - 1));
        ks[k]->gelu(y, n);
        for (size_t i = 0; i < n; i++) {
            double ref = 0.5 * x[i] * (1.0 + erf(x[i] / sqrt(2.0)));
            cr_assert(fabs(y[i] - ref) <= 1e-6 * (1.0 + fabs(ref)), "%s gelu(%g) = %.9g vs %.9g",
                      ks[k]->name, x[i], y[i], ref);
        }
        float z[3] = { 0.0f, 1.0f, -1.0f };
        ks[k]->gelu(z, 3);
        cr_assert_eq(z[0], 0.0f);
        cr_assert(fabs(z[1] - 0.8413447460685429) < 1e-7);   /* Phi(1) */
        cr_assert(fabs(z[2] + 0.15865525393145707) < 1e-7);
    }
    /* tanh-approximate GELU would give 0.841192 at 1: far outside */
    free(x);
    free(y);
}

Test(kernels, attention_matches_double_reference)
{
    for (int trial = 0; trial < 40; trial++) {
        /* odd trials: shapes the AVX2 kernel vectorises (multiples of 8) */
        int tokens = trial % 2 ? 8 * irand(1, 3) : irand(1, 20), heads = irand(1, 4);
        int hd = trial % 2 ? 8 * irand(1, 3) : irand(1, 24), dim = heads * hd;
        float *qkv = rand_floats((size_t)tokens * 3 * dim, -1.5, 1.5);
        float *y = malloc((size_t)tokens * dim * sizeof *y);
        float *scores = malloc(splitee__attention_scratch_floats((size_t)tokens, (size_t)dim) *
                               sizeof *scores);
        double *p = malloc((size_t)tokens * sizeof *p);
        const splitee__kernels *ks[2];
        for (int ki = 0, nk = kernel_sets(ks); ki < nk; ki++) {
        ks[ki]->attention(y, qkv, scores, tokens, dim, heads);
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
                              "%s T=%d H=%d hd=%d: y[%d][%d] %.9g vs %.9g", ks[ki]->name, tokens,
                              heads, hd, t, h * hd + i, got, ref);
                }
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

/* ulps between float got and the double ref, in units of ref's float ulp. */
static double ulps(float got, double ref)
{
    float r = (float)ref, a = fabsf(r);
    double u = a == 0.0f ? 0x1p-149 : (double)(nextafterf(a, INFINITY) - a);
    return fabs((double)got - ref) / u;
}

Test(kernels, avx2_exp_within_1_5_ulp)
{
    size_t n = 1000001;
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(-87.0 + 175.0 * (double)i / (double)(n - 1));
    float *y = malloc(n * sizeof *y);
    memcpy(y, x, n * sizeof *y);
    if (splitee__avx2_exp(y, n) < 0)
        cr_skip_test("no AVX2+FMA on this CPU");
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = ulps(y[i], exp((double)x[i]));
        cr_assert(e <= 1.5, "exp(%.9g) = %.9g, %.2f ulp from %.17g", x[i], y[i], e,
                  exp((double)x[i]));
        worst = e > worst ? e : worst;
    }
    cr_log_info("AVX2 exp: worst %.3f ulp over [-87, 88]", worst);
    free(x);
    free(y);
}

Test(kernels, avx2_erf_within_1_5_ulp)
{
    /* every 256th float of [-6, 6] (about 8.4 million), in chunks */
    size_t cap = 1 << 16;
    float *x = malloc(cap * sizeof *x), *y = malloc(cap * sizeof *y);
    if (splitee__avx2_erf(y, 0) < 0)
        cr_skip_test("no AVX2+FMA on this CPU");
    double worst = 0.0;
    float v = -6.0f, worst_x = 0.0f;
    while (v < 6.0f) {
        size_t n = 0;
        for (; n < cap && v < 6.0f; n++) {
            x[n] = y[n] = v;
            uint32_t b;
            memcpy(&b, &v, sizeof b);
            if (b > 0x80000000u)   /* negative: towards zero, then +0 */
                b = b - 256 > 0x80000000u ? b - 256 : 0u;
            else
                b += 256;
            memcpy(&v, &b, sizeof v);
        }
        splitee__avx2_erf(y, n);
        for (size_t i = 0; i < n; i++) {
            double e = ulps(y[i], erf((double)x[i]));
            cr_assert(e <= 1.5, "erf(%.9g) = %.9g, %.2f ulp from %.17g", x[i], y[i], e,
                      erf((double)x[i]));
            if (e > worst) {
                worst = e;
                worst_x = x[i];
            }
        }
    }
    cr_log_info("AVX2 erf: worst %.3f ulp over [-6, 6] (at %.9g)", worst, worst_x);
    free(x);
    free(y);
}

Test(kernels, simd_env_selects_portable)
{
    const char *old = getenv("SPLITEE_SIMD");
    char *keep = old ? strdup(old) : NULL;
    setenv("SPLITEE_SIMD", "off", 1);
    cr_assert_eq(splitee__kernels_select(), splitee__kernels_portable());
    unsetenv("SPLITEE_SIMD");
    const splitee__kernels *k = splitee__kernels_select();
    cr_assert_eq(k, splitee__kernels_avx2() ? splitee__kernels_avx2()
                                            : splitee__kernels_portable());
    cr_log_info("default kernels on this CPU: %s", k->name);
    if (keep) {
        setenv("SPLITEE_SIMD", keep, 1);
        free(keep);
    }
}

/* ---- convolutional ops ---------------------------------------------------------- */

#define U 0x1p-24   /* float unit roundoff */

/* Output size of one window axis, or 0 when the window does not fit. */
static int out_size(int h, int k, int s, int p, int d)
{
    int num = h + 2 * p - d * (k - 1) - 1;
    return num < 0 ? 0 : num / s + 1;
}

/* Random conv2d geometry; `kind` 0: any, 1: depthwise, 2: pointwise. */
static splitee__conv2d_params rand_conv(int kind)
{
    splitee__conv2d_params p;
    for (;;) {
        memset(&p, 0, sizeof p);
        p.groups = kind == 1 ? irand(1, 12) : kind == 2 ? 1 : irand(1, 3);
        p.c = p.groups * (kind == 1 ? 1 : irand(1, 5));
        p.out = kind == 1 ? p.c : p.groups * irand(1, 5);
        p.h = irand(1, 17);
        p.w = kind == 2 ? irand(1, 70) : irand(1, 37);
        p.kh = kind == 2 ? 1 : irand(1, 5);
        p.kw = kind == 2 ? 1 : irand(1, 5);
        p.sh = kind == 2 ? 1 : irand(1, 3);
        p.sw = kind == 2 ? 1 : irand(1, 3);
        p.ph = kind == 2 ? 0 : irand(0, 3);
        p.pw = kind == 2 ? 0 : irand(0, 3);
        p.dh = kind == 2 ? 1 : irand(1, 3);
        p.dw = kind == 2 ? 1 : irand(1, 3);
        p.ho = out_size(p.h, p.kh, p.sh, p.ph, p.dh);
        p.wo = out_size(p.w, p.kw, p.sw, p.pw, p.dw);
        if (p.ho > 0 && p.wo > 0)
            return p;
    }
}

/* conv2d of every kernel set against a double reference; the error bound
 * is the one of recursive summation of K + 1 terms: (K + 2) u sum |terms|. */
static void check_conv(const splitee__conv2d_params *p, int bias)
{
    int cg = p->c / p->groups, og = p->out / p->groups;
    size_t nx = (size_t)p->c * p->h * p->w, nw = (size_t)p->out * cg * p->kh * p->kw;
    size_t ny = (size_t)p->out * p->ho * p->wo;
    float *x = rand_floats(nx, -1, 1), *w = rand_floats(nw, -1, 1);
    float *b = bias ? rand_floats((size_t)p->out, -1, 1) : NULL, *y = malloc(ny * sizeof *y);
    const splitee__kernels *ks[2];
    for (int k = 0, nk = kernel_sets(ks); k < nk; k++) {
        for (size_t i = 0; i < ny; i++)
            y[i] = NAN;   /* every output must be written */
        ks[k]->conv2d(y, x, w, b, p);
        for (int o = 0; o < p->out; o++)
            for (int oy = 0; oy < p->ho; oy++)
                for (int ox = 0; ox < p->wo; ox++) {
                    double ref = b ? b[o] : 0.0, mag = fabs(ref);
                    int terms = 0, g = o / og;
                    for (int c = 0; c < cg; c++)
                        for (int ky = 0; ky < p->kh; ky++)
                            for (int kx = 0; kx < p->kw; kx++) {
                                int iy = oy * p->sh - p->ph + ky * p->dh;
                                int ix = ox * p->sw - p->pw + kx * p->dw;
                                if (iy < 0 || iy >= p->h || ix < 0 || ix >= p->w)
                                    continue;
                                double t = (double)w[(((size_t)o * cg + c) * p->kh + ky) * p->kw + kx] *
                                           x[((size_t)(g * cg + c) * p->h + iy) * p->w + ix];
                                ref += t;
                                mag += fabs(t);
                                terms++;
                            }
                    double got = y[((size_t)o * p->ho + oy) * p->wo + ox];
                    cr_assert(fabs(got - ref) <= (terms + 2) * U * mag + 1e-30,
                              "%s conv c%d %dx%d -> %d %dx%d k%dx%d s%d,%d p%d,%d d%d,%d g%d: "
                              "y[%d][%d][%d] = %.9g vs %.9g", ks[k]->name, p->c, p->h, p->w,
                              p->out, p->ho, p->wo, p->kh, p->kw, p->sh, p->sw, p->ph, p->pw,
                              p->dh, p->dw, p->groups, o, oy, ox, got, ref);
                }
    }
    free(x);
    free(w);
    free(b);
    free(y);
}

Test(kernels, conv2d_matches_double_reference)
{
    for (int trial = 0; trial < 200; trial++) {
        splitee__conv2d_params p = rand_conv(0);
        check_conv(&p, trial % 3 != 0);
    }
}

Test(kernels, depthwise_conv2d_matches_double_reference)
{
    for (int trial = 0; trial < 150; trial++) {
        splitee__conv2d_params p = rand_conv(1);
        check_conv(&p, trial % 2);
    }
}

Test(kernels, pointwise_conv2d_matches_double_reference)
{
    for (int trial = 0; trial < 100; trial++) {
        splitee__conv2d_params p = rand_conv(2);
        check_conv(&p, trial % 4 != 0);
    }
}

/* The AVX2 1x1 path and its general path make the same fused operations in
 * the same order: a 1x1 convolution run as two groups of one (the general
 * path) gives the same bits as one group (the pointwise path) per half. */
Test(kernels, avx2_pointwise_equals_general_path)
{
    const splitee__kernels *k = splitee__kernels_avx2();
    if (!k)
        cr_skip_test("no AVX2+FMA on this CPU");
    splitee__conv2d_params p = { 6, 5, 23, 8, 5, 23, 1, 1, 1, 1, 0, 0, 1, 1, 1 };
    size_t hw = (size_t)p.h * p.w;
    float *x = rand_floats(p.c * hw, -1, 1), *w = rand_floats((size_t)p.out * p.c, -1, 1);
    float *b = rand_floats((size_t)p.out, -1, 1);
    float *y1 = malloc(p.out * hw * sizeof *y1), *y2 = malloc(p.out * hw * sizeof *y2);
    k->conv2d(y1, x, w, b, &p);
    /* padding 1 on a 1x1 kernel with stride 1 takes the general path; its
     * interior is the same convolution */
    splitee__conv2d_params q = p;
    q.ph = q.pw = 1;
    q.ho = p.h + 2;
    q.wo = p.w + 2;
    float *y3 = malloc(p.out * (size_t)q.ho * q.wo * sizeof *y3);
    k->conv2d(y3, x, w, b, &q);
    for (int o = 0; o < p.out; o++)
        for (int i = 0; i < p.h; i++)
            memcpy(y2 + (size_t)o * hw + (size_t)i * p.w,
                   y3 + ((size_t)o * q.ho + i + 1) * q.wo + 1, (size_t)p.w * sizeof *y2);
    cr_assert_eq(memcmp(y1, y2, p.out * hw * sizeof *y1), 0);
    free(x);
    free(w);
    free(b);
    free(y1);
    free(y2);
    free(y3);
}

/* 3x3 convolutions in which each output channel reads one input channel (the
 * CNN's depthwise layers at stride 1 and 2, padding 1, and its 1-channel
 * stem): the AVX2 set runs them eight columns at a time with masked edges;
 * the widths 4, 7, 14, 28, 33 give rows shorter than, equal to and longer
 * than the vector with every tail length the CNN has. */
static splitee__conv2d_params dw3x3(int c, int out, int h, int w, int s, int pad, int dil)
{
    splitee__conv2d_params p = { c, h, w, out, 0, 0, 3, 3, s, s, pad, pad, dil, dil, c };
    p.groups = c == 1 ? 1 : c;
    p.ho = out_size(h, 3, s, pad, dil);
    p.wo = out_size(w, 3, s, pad, dil);
    return p;
}

static const int dw_widths[] = { 4, 7, 14, 28, 33 };

Test(kernels, depthwise3x3_matches_double_reference)
{
    for (int trial = 0; trial < 120; trial++) {
        int w = dw_widths[trial % 5], s = 1 + (trial / 5) % 2, c = irand(1, 9);
        int out = c == 1 && trial % 3 == 0 ? 16 : c; /* the stem: 1 -> 16 */
        splitee__conv2d_params p = dw3x3(c, out, irand(1, 30), w, s, 1, 1);
        check_conv(&p, trial % 4 != 0);
    }
}

/* Every output of the AVX2 3x3 path is the fused multiply-add chain of the
 * general loop: bias, then the taps inside the input, kernel rows then
 * columns in increasing order; checked bit for bit against that chain in
 * fmaf, also with other paddings, dilations and row strides. */
Test(kernels, avx2_depthwise3x3_equals_fma_chain)
{
    const splitee__kernels *k = splitee__kernels_avx2();
    if (!k)
        cr_skip_test("no AVX2+FMA on this CPU");
    for (int trial = 0; trial < 150; trial++) {
        int c = irand(1, 6), out = c == 1 ? irand(1, 17) : c;
        int w = trial < 50 ? dw_widths[trial % 5] : irand(1, 41);
        splitee__conv2d_params p = dw3x3(c, out, irand(1, 20), w, 1 + trial % 2,
                                         trial < 50 ? 1 : irand(0, 3), trial < 50 ? 1 : irand(1, 2));
        p.sh = trial < 50 ? p.sw : irand(1, 3);
        p.ho = out_size(p.h, 3, p.sh, p.ph, p.dh);
        if (p.ho <= 0 || p.wo <= 0)
            continue;
        size_t ny = (size_t)p.out * p.ho * p.wo;
        float *x = rand_floats((size_t)p.c * p.h * p.w, -1, 1);
        float *wt = rand_floats((size_t)p.out * 9, -1, 1);
        float *b = trial % 3 ? rand_floats((size_t)p.out, -1, 1) : NULL;
        float *y = malloc(ny * sizeof *y);
        k->conv2d(y, x, wt, b, &p);
        int og = p.out / p.groups;
        for (int o = 0; o < p.out; o++)
            for (int oy = 0; oy < p.ho; oy++)
                for (int ox = 0; ox < p.wo; ox++) {
                    float s = b ? b[o] : 0.0f;
                    for (int ky = 0; ky < 3; ky++)
                        for (int kx = 0; kx < 3; kx++) {
                            int iy = oy * p.sh - p.ph + ky * p.dh, ix = ox * p.sw - p.pw + kx * p.dw;
                            if (iy >= 0 && iy < p.h && ix >= 0 && ix < p.w)
                                s = fmaf(wt[o * 9 + ky * 3 + kx],
                                         x[((size_t)(o / og) * p.h + iy) * p.w + ix], s);
                        }
                    float got = y[((size_t)o * p.ho + oy) * p.wo + ox];
                    cr_assert(memcmp(&got, &s, sizeof s) == 0,
                              "c%d %dx%d -> %d %dx%d s%d,%d p%d d%d: y[%d][%d][%d] = %a, chain %a",
                              p.c, p.h, p.w, p.out, p.ho, p.wo, p.sh, p.sw, p.ph, p.dh, o, oy, ox,
                              got, s);
                }
        free(x);
        free(wt);
        free(b);
        free(y);
    }
}

/* Random pooling geometry: padding at most half the kernel. */
static splitee__conv2d_params rand_pool(void)
{
    splitee__conv2d_params p;
    for (;;) {
        memset(&p, 0, sizeof p);
        p.c = p.out = irand(1, 6);
        p.groups = p.dh = p.dw = 1;
        p.h = irand(1, 15);
        p.w = irand(1, 15);
        p.kh = irand(1, 5);
        p.kw = irand(1, 5);
        p.sh = irand(1, 3);
        p.sw = irand(1, 3);
        p.ph = irand(0, p.kh / 2);
        p.pw = irand(0, p.kw / 2);
        p.ho = out_size(p.h, p.kh, p.sh, p.ph, 1);
        p.wo = out_size(p.w, p.kw, p.sw, p.pw, 1);
        if (p.ho > 0 && p.wo > 0)
            return p;
    }
}

Test(kernels, pooling_matches_double_reference)
{
    for (int trial = 0; trial < 200; trial++) {
        splitee__conv2d_params p = rand_pool();
        size_t nx = (size_t)p.c * p.h * p.w, ny = (size_t)p.c * p.ho * p.wo;
        float *x = rand_floats(nx, -5, 5), *mx = malloc(ny * sizeof *mx);
        float *av = malloc(ny * sizeof *av);
        int incl = trial % 2;
        splitee__maxpool(mx, x, &p);
        splitee__avgpool(av, x, &p, incl);
        for (int c = 0; c < p.c; c++)
            for (int oy = 0; oy < p.ho; oy++)
                for (int ox = 0; ox < p.wo; ox++) {
                    double m = -INFINITY, s = 0.0, mag = 0.0;
                    int n = 0;
                    for (int ky = 0; ky < p.kh; ky++)
                        for (int kx = 0; kx < p.kw; kx++) {
                            int iy = oy * p.sh - p.ph + ky, ix = ox * p.sw - p.pw + kx;
                            if (iy < 0 || iy >= p.h || ix < 0 || ix >= p.w)
                                continue;
                            double v = x[((size_t)c * p.h + iy) * p.w + ix];
                            m = v > m ? v : m;
                            s += v;
                            mag += fabs(v);
                            n++;
                        }
                    size_t at = ((size_t)c * p.ho + oy) * p.wo + ox;
                    cr_assert(n > 0, "a window entirely in the padding");
                    cr_assert_eq((double)mx[at], m, "maxpool y[%zu] %.9g vs %.9g", at, mx[at], m);
                    double d = incl ? (double)(p.kh * p.kw) : (double)n;
                    cr_assert(fabs(av[at] - s / d) <= (n + 2) * U * mag / d + 1e-30,
                              "avgpool (include pad %d) y[%zu] %.9g vs %.9g", incl, at, av[at],
                              s / d);
                }
        free(x);
        free(mx);
        free(av);
    }
}

Test(kernels, global_avgpool_matches_double_reference)
{
    for (int trial = 0; trial < 50; trial++) {
        int c = irand(1, 9), hw = irand(1, 300);
        float *x = rand_floats((size_t)c * hw, -3, 3), *y = malloc((size_t)c * sizeof *y);
        splitee__global_avgpool(y, x, c, hw);
        for (int i = 0; i < c; i++) {
            double s = 0.0, mag = 0.0;
            for (int j = 0; j < hw; j++) {
                s += x[(size_t)i * hw + j];
                mag += fabs(x[(size_t)i * hw + j]);
            }
            cr_assert(fabs(y[i] - s / hw) <= (hw + 2) * U * mag / hw + 1e-30);
        }
        free(x);
        free(y);
    }
}

Test(kernels, scale_shift_and_patchify)
{
    int c = 3, hw = 37;
    float *x = rand_floats((size_t)c * hw, -4, 4), *y = malloc((size_t)c * hw * sizeof *y);
    float a[3] = { 0.5f, -1.75f, 3.1f }, s[3] = { 0.1f, 0.0f, -2.0f };
    splitee__scale_shift(y, x, a, s, c, hw);
    for (int i = 0; i < c; i++)
        for (int j = 0; j < hw; j++) {
            double ref = (double)x[i * hw + j] * a[i] + s[i];
            double mag = fabs((double)x[i * hw + j] * a[i]) + fabs(s[i]);
            cr_assert(fabs(y[i * hw + j] - ref) <= 2 * U * mag + 1e-30);
        }
    splitee__scale_shift(x, x, a, s, c, hw);   /* in place */
    cr_assert_eq(memcmp(x, y, (size_t)c * hw * sizeof *x), 0);
    free(x);
    free(y);
    /* patches of 2 x 2 of a (2, 4, 6) tensor: 6 patches of 8, (c, py, px) */
    int C = 2, H = 4, W = 6, P = 2;
    float in[48], out[48];
    for (int i = 0; i < 48; i++)
        in[i] = (float)i;
    splitee__patchify(out, in, C, H, W, P);
    for (int t = 0; t < 6; t++)
        for (int ch = 0; ch < C; ch++)
            for (int py = 0; py < P; py++)
                for (int px = 0; px < P; px++) {
                    int ty = t / (W / P), tx = t % (W / P);
                    float want = in[(ch * H + ty * P + py) * W + tx * P + px];
                    cr_assert_eq(out[t * 8 + (ch * P + py) * P + px], want);
                }
}

Test(kernels, activations_match_double_reference)
{
    size_t n = 4099;
    float *x = rand_floats(n, -12, 12), *y = malloc(n * sizeof *y);
    x[0] = 0.0f;
    x[1] = -0.0f;
    x[2] = -3.0f;
    x[3] = 3.0f;
    x[4] = 6.0f;
    x[5] = -100.0f;
    x[6] = 100.0f;
    x[7] = 1e-30f;
    splitee__relu(y, x, n);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(y[i], x[i] > 0 ? x[i] : 0.0f, "relu(%.9g)", x[i]);
    splitee__relu6(y, x, n);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(y[i], x[i] > 6 ? 6.0f : x[i] > 0 ? x[i] : 0.0f, "relu6(%.9g)", x[i]);
    splitee__hardswish(y, x, n);
    for (size_t i = 0; i < n; i++) {
        double v = (double)x[i] + 3, ref = x[i] * (v < 0 ? 0 : v > 6 ? 6 : v) / 6;
        cr_assert(fabs(y[i] - ref) <= 3 * U * fabs(ref) + 1e-37, "hardswish(%.9g) = %.9g vs %.9g",
                  x[i], y[i], ref);
    }
    splitee__silu(y, x, n);
    for (size_t i = 0; i < n; i++) {
        double ref = x[i] / (1.0 + exp(-(double)x[i]));
        cr_assert(fabs(y[i] - ref) <= 6 * U * fabs(ref) + 1e-37, "silu(%.9g) = %.9g vs %.9g", x[i],
                  y[i], ref);
    }
    float *z = rand_floats(n, -1, 1), *keep = malloc(n * sizeof *keep);
    memcpy(keep, x, n * sizeof *keep);
    splitee__silu(x, x, n);   /* in place equals out of place */
    cr_assert_eq(memcmp(x, y, n * sizeof *x), 0);
    splitee__add3(y, keep, z, n);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(y[i], keep[i] + z[i]);
    free(x);
    free(y);
    free(z);
    free(keep);
}
