/* kernels_avx2.c -- the AVX2+FMA kernels of the inference engine
 * (kernels.h, splitee__kernels_avx2). Compiled into every x86-64 build:
 * each function carries __attribute__((target("avx2,fma"))), so the rest
 * of the library stays baseline x86-64, and the model only picks these at
 * load time when __builtin_cpu_supports says the CPU has both.
 *
 * Differences from the portable kernels (kernels.c), all within the
 * tolerances tests/test_kernels.c states against double references:
 *  - linear layers read the transposed weights wt (in, out) that the model
 *    repacks once at load, broadcast one input and accumulate 4 rows x 16
 *    outputs with fused multiply-adds, starting from the bias;
 *  - exp (softmax) and erf (GELU) are vectorised polynomials, within about
 *    1-2 ulp of the correctly rounded float result over the whole float
 *    range they are used on (see vexp and verf);
 *  - LayerNorm keeps its double-precision mean and variance;
 *  - conv2d runs the portable loop order with fused multiply-adds, eight
 *    output columns at a time when the stride is 1 or 2, 1x1 convolutions
 *    (pointwise) as a register-blocked matrix product in the same order, and
 *    3x3 convolutions with one input channel per output (depthwise, the
 *    stem) with the weights in registers and masked edges, again the same
 *    fused operations per output in the same order (the same bits).
 * Every sample still runs on one thread, in a fixed order: results do not
 * depend on the thread count. */
#include <stddef.h>

#include "engine/kernels.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma")))

/* ---- linear --------------------------------------------------------------- */

/* y rows [t, t + r) (r <= 4) for output columns [0, out). */
AVX2 static void linear_rows(float *restrict y, const float *restrict x, const float *restrict wt,
                             const float *restrict b, int r, int in, int out)
{
    size_t si = (size_t)in, so = (size_t)out;
    const float *x0 = x, *x1 = r > 1 ? x + si : x, *x2 = r > 2 ? x + 2 * si : x;
    const float *x3 = r > 3 ? x + 3 * si : x;
    int o = 0;
    for (; o + 16 <= out; o += 16) {
        __m256 b0 = b ? _mm256_loadu_ps(b + o) : _mm256_setzero_ps();
        __m256 b1 = b ? _mm256_loadu_ps(b + o + 8) : _mm256_setzero_ps();
        __m256 a00 = b0, a01 = b1, a10 = b0, a11 = b1, a20 = b0, a21 = b1, a30 = b0, a31 = b1;
        const float *w = wt + o;
        for (int i = 0; i < in; i++, w += so) {
            __m256 w0 = _mm256_loadu_ps(w), w1 = _mm256_loadu_ps(w + 8);
            __m256 v = _mm256_broadcast_ss(x0 + i);
            a00 = _mm256_fmadd_ps(v, w0, a00);
            a01 = _mm256_fmadd_ps(v, w1, a01);
            v = _mm256_broadcast_ss(x1 + i);
            a10 = _mm256_fmadd_ps(v, w0, a10);
            a11 = _mm256_fmadd_ps(v, w1, a11);
            v = _mm256_broadcast_ss(x2 + i);
            a20 = _mm256_fmadd_ps(v, w0, a20);
            a21 = _mm256_fmadd_ps(v, w1, a21);
            v = _mm256_broadcast_ss(x3 + i);
            a30 = _mm256_fmadd_ps(v, w0, a30);
            a31 = _mm256_fmadd_ps(v, w1, a31);
        }
        _mm256_storeu_ps(y + o, a00);
        _mm256_storeu_ps(y + o + 8, a01);
        if (r > 1) {
            _mm256_storeu_ps(y + so + o, a10);
            _mm256_storeu_ps(y + so + o + 8, a11);
        }
        if (r > 2) {
            _mm256_storeu_ps(y + 2 * so + o, a20);
            _mm256_storeu_ps(y + 2 * so + o + 8, a21);
        }
        if (r > 3) {
            _mm256_storeu_ps(y + 3 * so + o, a30);
            _mm256_storeu_ps(y + 3 * so + o + 8, a31);
        }
    }
    for (; o + 8 <= out; o += 8) {
        __m256 b0 = b ? _mm256_loadu_ps(b + o) : _mm256_setzero_ps();
        __m256 a0 = b0, a1 = b0, a2 = b0, a3 = b0;
        const float *w = wt + o;
        for (int i = 0; i < in; i++, w += so) {
            __m256 w0 = _mm256_loadu_ps(w);
            a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(x0 + i), w0, a0);
            a1 = _mm256_fmadd_ps(_mm256_broadcast_ss(x1 + i), w0, a1);
            a2 = _mm256_fmadd_ps(_mm256_broadcast_ss(x2 + i), w0, a2);
            a3 = _mm256_fmadd_ps(_mm256_broadcast_ss(x3 + i), w0, a3);
        }
        __m256 acc[4] = { a0, a1, a2, a3 };
        for (int k = 0; k < r; k++)
            _mm256_storeu_ps(y + (size_t)k * so + o, acc[k]);
    }
    for (; o < out; o++)
        for (int k = 0; k < r; k++) {
            const float *xk = x + (size_t)k * si;
            float s = b ? b[o] : 0.0f;
            for (int i = 0; i < in; i++)
                s = __builtin_fmaf(xk[i], wt[(size_t)i * so + (size_t)o], s);
            y[(size_t)k * so + (size_t)o] = s;
        }
}

AVX2 static void linear_avx2(float *restrict y, const float *restrict x, const float *restrict w,
                             const float *restrict wt, const float *restrict b, int n, int in,
                             int out)
{
    if (!wt) {   /* no repacked weights: the portable kernel on w */
        splitee__matmul(y, x, w, b, n, in, out);
        return;
    }
    for (int t = 0; t < n; t += 4) {
        int r = n - t < 4 ? n - t : 4;
        linear_rows(y + (size_t)t * (size_t)out, x + (size_t)t * (size_t)in, wt, b, r, in, out);
    }
}

/* ---- exp and erf ------------------------------------------------------------ */

/* e^x for x in [-87, 88] (clamped to it: below -87 gives e^-87, about
 * 1.6e-38, instead of a subnormal or 0). x = n ln2 + r with |r| <= ln2/2
 * (ln2 split in two so that n ln2 is exact with the FMA), e^r by its Taylor
 * series to degree 7 (truncation below 6e-9 relative), times 2^n built in
 * the exponent field. At most 0.93 ulp from the exact e^x over a dense
 * sweep of [-87, 88] (tests/test_kernels.c checks 1.5). */
AVX2 static inline __m256 vexp(__m256 x)
{
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(88.0f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145751953125f), x);   /* ln2 high */
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.428606765330187e-06f), r);     /* ln2 low */
    __m256 p = _mm256_set1_ps(1.0f / 5040.0f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)),
                                  23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

/* erf(x). |x| <= 0.921875: x + x R(x^2), R a degree-6 polynomial fitted to
 * erf(x)/x - 1 (relative error of the fit 7e-10). |x| > 0.921875: 1 -
 * e^Q(t), t = min(|x|, 4), Q a degree-8 polynomial fitted to log erfc(t) on
 * [0.921875, 4] (error of the fit, relative to erf, 3e-11), sign restored;
 * erf(4) rounds to 1 in float. Coefficients fitted for splitee by weighted
 * least squares (Lawson iterations) in double, rounded to float. Both
 * branches are computed and blended. Measured on every float in [-6, 6]:
 * at most 1.08 ulp from the exact erf (tests/test_kernels.c checks every
 * 256th float against 1.5 ulp); beyond, the result is exactly +-1. */
AVX2 static inline __m256 verf(__m256 x)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 t = _mm256_andnot_ps(sign, x);
    __m256 s = _mm256_mul_ps(x, x);
    __m256 p = _mm256_set1_ps(8.372229058e-05f);
    p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(-8.142003790e-04f));
    p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(5.200814456e-03f));
    p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(-2.685921080e-02f));
    p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(1.128368899e-01f));
    p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(-3.761263192e-01f));
    p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(1.283791661e-01f));
    __m256 small = _mm256_fmadd_ps(p, x, x);

    __m256 tc = _mm256_min_ps(t, _mm256_set1_ps(4.0f));
    __m256 q = _mm256_set1_ps(-5.02843662e-07f);
    q = _mm256_fmadd_ps(q, tc, _mm256_set1_ps(-1.45780321e-05f));
    q = _mm256_fmadd_ps(q, tc, _mm256_set1_ps(3.98305316e-04f));
    q = _mm256_fmadd_ps(q, tc, _mm256_set1_ps(-4.05885305e-03f));
    q = _mm256_fmadd_ps(q, tc, _mm256_set1_ps(2.49062749e-02f));
    q = _mm256_fmadd_ps(q, tc, _mm256_set1_ps(-1.08026150e-01f));
    q = _mm256_fmadd_ps(q, tc, _mm256_set1_ps(-6.33532319e-01f));
    q = _mm256_fmadd_ps(q, tc, _mm256_set1_ps(-1.12943902e+00f));
    q = _mm256_fmadd_ps(q, tc, _mm256_set1_ps(1.61329534e-04f));
    __m256 big = _mm256_sub_ps(_mm256_set1_ps(1.0f), vexp(q));
    big = _mm256_or_ps(big, _mm256_and_ps(x, sign));

    __m256 use_big = _mm256_cmp_ps(t, _mm256_set1_ps(0.921875f), _CMP_GT_OQ);
    return _mm256_blendv_ps(small, big, use_big);
}

/* ---- GELU, softmax, attention ------------------------------------------------- */

AVX2 static void gelu_avx2(float *x, size_t n)
{
    const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
    const __m256 rsqrt2 = _mm256_set1_ps(0.70710678118654752440f);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 e = verf(_mm256_mul_ps(v, rsqrt2));
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_mul_ps(half, v), _mm256_add_ps(one, e)));
    }
    if (i < n) {   /* tail through a padded vector */
        float buf[8] = { 0 };
        for (size_t k = i; k < n; k++)
            buf[k - i] = x[k];
        gelu_avx2(buf, 8);
        for (size_t k = i; k < n; k++)
            x[k] = buf[k - i];
    }
}

/* In place softmax of n floats, n a multiple of 8. */
AVX2 static void softmax8(float *x, int n)
{
    __m256 m = _mm256_loadu_ps(x);
    for (int i = 8; i < n; i += 8)
        m = _mm256_max_ps(m, _mm256_loadu_ps(x + i));
    m = _mm256_max_ps(m, _mm256_permute2f128_ps(m, m, 1));
    m = _mm256_max_ps(m, _mm256_shuffle_ps(m, m, _MM_SHUFFLE(1, 0, 3, 2)));
    m = _mm256_max_ps(m, _mm256_shuffle_ps(m, m, _MM_SHUFFLE(2, 3, 0, 1)));
    __m256 s = _mm256_setzero_ps();
    for (int i = 0; i < n; i += 8) {
        __m256 e = vexp(_mm256_sub_ps(_mm256_loadu_ps(x + i), m));
        _mm256_storeu_ps(x + i, e);
        s = _mm256_add_ps(s, e);
    }
    s = _mm256_add_ps(s, _mm256_permute2f128_ps(s, s, 1));
    s = _mm256_add_ps(s, _mm256_shuffle_ps(s, s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm256_add_ps(s, _mm256_shuffle_ps(s, s, _MM_SHUFFLE(2, 3, 0, 1)));
    for (int i = 0; i < n; i += 8)
        _mm256_storeu_ps(x + i, _mm256_div_ps(_mm256_loadu_ps(x + i), s));
}

/* scratch: scores (4 rows of tokens, in round16(4 tokens)) | kt (dim,
 * tokens), K transposed. Query rows go 4 at a time so that the dot
 * products and the weighted sums run as 4 independent FMA chains. */
AVX2 static void attention_avx2(float *restrict y, const float *restrict qkv,
                                float *restrict scratch, int tokens, int dim, int heads)
{
    int hd = dim / heads;
    if (tokens % 8 != 0 || hd % 8 != 0) {
        splitee__attention(y, qkv, scratch, tokens, dim, heads);
        return;
    }
    size_t row = 3 * (size_t)dim, st = (size_t)tokens;
    float *scores = scratch, *kt = scratch + splitee__round16f(4 * st);
    for (int u = 0; u < tokens; u++) {
        const float *k = qkv + (size_t)u * row + (size_t)dim;
        for (int c = 0; c < dim; c++)
            kt[(size_t)c * st + (size_t)u] = k[c];
    }
    const __m256 scale = _mm256_set1_ps((float)__builtin_sqrt((double)hd));
    float *p0 = scores, *p1 = scores + st, *p2 = scores + 2 * st, *p3 = scores + 3 * st;
    for (int h = 0; h < heads; h++) {
        size_t off = (size_t)h * (size_t)hd;
        for (int t = 0; t < tokens; t += 4) {
            const float *q0 = qkv + (size_t)t * row + off, *q1 = q0 + row, *q2 = q1 + row;
            const float *q3 = q2 + row;
            for (int u = 0; u < tokens; u += 8) {
                __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
                const float *kc = kt + off * st + (size_t)u;
                for (int i = 0; i < hd; i++, kc += st) {
                    __m256 k = _mm256_loadu_ps(kc);
                    a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(q0 + i), k, a0);
                    a1 = _mm256_fmadd_ps(_mm256_broadcast_ss(q1 + i), k, a1);
                    a2 = _mm256_fmadd_ps(_mm256_broadcast_ss(q2 + i), k, a2);
                    a3 = _mm256_fmadd_ps(_mm256_broadcast_ss(q3 + i), k, a3);
                }
                _mm256_storeu_ps(p0 + u, _mm256_div_ps(a0, scale));
                _mm256_storeu_ps(p1 + u, _mm256_div_ps(a1, scale));
                _mm256_storeu_ps(p2 + u, _mm256_div_ps(a2, scale));
                _mm256_storeu_ps(p3 + u, _mm256_div_ps(a3, scale));
            }
            softmax8(p0, tokens);
            softmax8(p1, tokens);
            softmax8(p2, tokens);
            softmax8(p3, tokens);
            float *y0 = y + (size_t)t * (size_t)dim + off;
            for (int c = 0; c < hd; c += 8) {
                __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
                const float *v = qkv + 2 * (size_t)dim + off + (size_t)c;
                for (int u = 0; u < tokens; u++, v += row) {
                    __m256 vv = _mm256_loadu_ps(v);
                    a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(p0 + u), vv, a0);
                    a1 = _mm256_fmadd_ps(_mm256_broadcast_ss(p1 + u), vv, a1);
                    a2 = _mm256_fmadd_ps(_mm256_broadcast_ss(p2 + u), vv, a2);
                    a3 = _mm256_fmadd_ps(_mm256_broadcast_ss(p3 + u), vv, a3);
                }
                _mm256_storeu_ps(y0 + c, a0);
                _mm256_storeu_ps(y0 + (size_t)dim + c, a1);
                _mm256_storeu_ps(y0 + 2 * (size_t)dim + c, a2);
                _mm256_storeu_ps(y0 + 3 * (size_t)dim + c, a3);
            }
        }
    }
}

/* ---- LayerNorm ------------------------------------------------------------------ */

/* Sum over 4-double lanes of (x - center) or (x - center)^2, dim % 8 == 0. */
AVX2 static double sum_pd(const float *x, int dim, double center, int squares)
{
    __m256d c = _mm256_set1_pd(center), a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
    for (int i = 0; i < dim; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256d d0 = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), c);
        __m256d d1 = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)), c);
        if (squares) {
            a0 = _mm256_fmadd_pd(d0, d0, a0);
            a1 = _mm256_fmadd_pd(d1, d1, a1);
        } else {
            a0 = _mm256_add_pd(a0, d0);
            a1 = _mm256_add_pd(a1, d1);
        }
    }
    double l[4];
    _mm256_storeu_pd(l, _mm256_add_pd(a0, a1));
    return (l[0] + l[1]) + (l[2] + l[3]);
}

AVX2 static void layernorm_avx2(float *y, const float *x, const float *g, const float *b, int n,
                                int dim, float eps)
{
    if (dim % 8 != 0) {
        splitee__layernorm(y, x, g, b, n, dim, eps);
        return;
    }
    for (int t = 0; t < n; t++) {
        const float *xt = x + (size_t)t * (size_t)dim;
        float *yt = y + (size_t)t * (size_t)dim;
        double mean = sum_pd(xt, dim, 0.0, 0) / dim;
        double var = sum_pd(xt, dim, mean, 1) / dim;
        __m256 m = _mm256_set1_ps((float)mean);
        __m256 rstd = _mm256_set1_ps((float)(1.0 / __builtin_sqrt(var + (double)eps)));
        for (int i = 0; i < dim; i += 8) {
            __m256 v = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(xt + i), m), rstd);
            _mm256_storeu_ps(yt + i, _mm256_fmadd_ps(v, _mm256_loadu_ps(g + i),
                                                     _mm256_loadu_ps(b + i)));
        }
    }
}

/* ---- conv2d ------------------------------------------------------------------------ */

/* y[i] = fma(a, x[i], y[i]) for i in [0, n). */
AVX2 static inline void axpy(float *restrict y, const float *restrict x, float a, int n)
{
    const __m256 av = _mm256_set1_ps(a);
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 y0 = _mm256_fmadd_ps(av, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i));
        __m256 y1 = _mm256_fmadd_ps(av, _mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8));
        _mm256_storeu_ps(y + i, y0);
        _mm256_storeu_ps(y + i + 8, y1);
    }
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++)
        y[i] = __builtin_fmaf(a, x[i], y[i]);
}

/* y[i] = fma(a, x[2 i], y[i]) for i in [0, n); `avail` floats from x may
 * be read (at least 2 n - 1). The even elements of two loads are gathered
 * by a shuffle and a lane permute. */
AVX2 static inline void axpy_s2(float *restrict y, const float *restrict x, float a, int n,
                                int avail)
{
    const __m256 av = _mm256_set1_ps(a);
    int i = 0;
    for (; i + 8 <= n && 2 * i + 16 <= avail; i += 8) {
        __m256 lo = _mm256_loadu_ps(x + 2 * i), hi = _mm256_loadu_ps(x + 2 * i + 8);
        __m256 ev = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
        ev = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(ev), _MM_SHUFFLE(3, 1, 2, 0)));
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, ev, _mm256_loadu_ps(y + i)));
    }
    for (; i < n; i++)
        y[i] = __builtin_fmaf(a, x[2 * i], y[i]);
}

/* A 1x1 convolution (stride 1, no padding, one group): y (out, n) = W (out,
 * c) x (c, n) + b, 4 output channels x 16 pixels in registers, the input
 * channels in increasing order: the same fused operations, in the same
 * order, as the general kernel below, so both give the same bits. */
AVX2 static void pointwise(float *restrict y, const float *restrict x, const float *restrict w,
                           const float *restrict b, int c, int out, size_t n)
{
    for (int o = 0; o < out; o += 4) {
        int r = out - o < 4 ? out - o : 4;
        const float *w0 = w + (size_t)o * (size_t)c;
        const float *w1 = r > 1 ? w0 + c : w0, *w2 = r > 2 ? w0 + 2 * (size_t)c : w0;
        const float *w3 = r > 3 ? w0 + 3 * (size_t)c : w0;
        float bias[4];
        for (int k = 0; k < 4; k++)
            bias[k] = b ? b[o + (k < r ? k : 0)] : 0.0f;
        size_t i = 0;
        for (; i + 16 <= n; i += 16) {
            __m256 a00 = _mm256_set1_ps(bias[0]), a01 = a00, a10 = _mm256_set1_ps(bias[1]);
            __m256 a11 = a10, a20 = _mm256_set1_ps(bias[2]), a21 = a20;
            __m256 a30 = _mm256_set1_ps(bias[3]), a31 = a30;
            const float *xp = x + i;
            for (int ci = 0; ci < c; ci++, xp += n) {
                __m256 x0 = _mm256_loadu_ps(xp), x1 = _mm256_loadu_ps(xp + 8);
                __m256 v = _mm256_broadcast_ss(w0 + ci);
                a00 = _mm256_fmadd_ps(v, x0, a00);
                a01 = _mm256_fmadd_ps(v, x1, a01);
                v = _mm256_broadcast_ss(w1 + ci);
                a10 = _mm256_fmadd_ps(v, x0, a10);
                a11 = _mm256_fmadd_ps(v, x1, a11);
                v = _mm256_broadcast_ss(w2 + ci);
                a20 = _mm256_fmadd_ps(v, x0, a20);
                a21 = _mm256_fmadd_ps(v, x1, a21);
                v = _mm256_broadcast_ss(w3 + ci);
                a30 = _mm256_fmadd_ps(v, x0, a30);
                a31 = _mm256_fmadd_ps(v, x1, a31);
            }
            __m256 acc[4][2] = { { a00, a01 }, { a10, a11 }, { a20, a21 }, { a30, a31 } };
            for (int k = 0; k < r; k++) {
                _mm256_storeu_ps(y + (size_t)(o + k) * n + i, acc[k][0]);
                _mm256_storeu_ps(y + (size_t)(o + k) * n + i + 8, acc[k][1]);
            }
        }
        for (; i < n; i++)
            for (int k = 0; k < r; k++) {
                const float *wk = w0 + (size_t)k * (size_t)c;
                float s = bias[k];
                for (int ci = 0; ci < c; ci++)
                    s = __builtin_fmaf(wk[ci], x[(size_t)ci * n + i], s);
                y[(size_t)(o + k) * n + i] = s;
            }
    }
}

/* A 3x3 convolution in which every output channel reads one input channel
 * (depthwise, groups = c; also the stem's 1-channel input), column stride 1
 * or 2: per output channel, the 9 weights sit in broadcast registers and
 * each output row accumulates its valid taps (kernel rows, then columns, in
 * increasing order) eight columns at a time. Lanes whose tap falls in the
 * padding keep their sum (blend), so every output gets the same fused
 * operations in the same order as the general loop below: the same bits.
 * Masked loads never touch memory outside the input row; the last chunk
 * of a row is stored masked. */
AVX2 static void depthwise3x3(float *restrict y, const float *restrict x, const float *restrict w,
                              const float *restrict b, const splitee__conv2d_params *p)
{
    const size_t plane = (size_t)p->h * (size_t)p->w, oplane = (size_t)p->ho * (size_t)p->wo;
    const int og = p->out / p->groups, s2 = p->sw == 2;
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i zero = _mm256_setzero_si256(), wv = _mm256_set1_epi32(p->w);
    const __m256i wov = _mm256_set1_epi32(p->wo);
    for (int ox0 = 0; ox0 < p->wo; ox0 += 8) {
        /* per kernel column: the input offset of lane 0, the lanes whose tap
         * is inside the row (out), the floats the loads may read (lo, hi) */
        __m256i out[3], lo[3], hi[3];
        int off[3], outfull[3], ldfull[3];
        __m256i store = _mm256_cmpgt_epi32(wov, _mm256_add_epi32(lane, _mm256_set1_epi32(ox0)));
        for (int kx = 0; kx < 3; kx++) {
            off[kx] = ox0 * p->sw - p->pw + kx * p->dw;
            __m256i ix = _mm256_add_epi32(_mm256_set1_epi32(off[kx]),
                                          s2 ? _mm256_add_epi32(lane, lane) : lane);
            __m256i in = _mm256_andnot_si256(_mm256_cmpgt_epi32(zero, ix), _mm256_cmpgt_epi32(wv, ix));
            out[kx] = _mm256_and_si256(in, store);
            __m256i j = _mm256_add_epi32(_mm256_set1_epi32(off[kx]), lane);
            lo[kx] = _mm256_andnot_si256(_mm256_cmpgt_epi32(zero, j), _mm256_cmpgt_epi32(wv, j));
            j = _mm256_add_epi32(j, _mm256_set1_epi32(8));
            hi[kx] = _mm256_andnot_si256(_mm256_cmpgt_epi32(zero, j), _mm256_cmpgt_epi32(wv, j));
            outfull[kx] = _mm256_movemask_epi8(out[kx]) == -1;
            ldfull[kx] = _mm256_movemask_epi8(lo[kx]) == -1 &&
                         (!s2 || _mm256_movemask_epi8(hi[kx]) == -1);
        }
        const int storefull = _mm256_movemask_epi8(store) == -1;
        for (int o = 0; o < p->out; o++) {
            const float *xc = x + (size_t)(o / og) * plane, *wc = w + (size_t)o * 9;
            float *yo = y + (size_t)o * oplane + ox0;
            const __m256 bias = _mm256_set1_ps(b ? b[o] : 0.0f);
            __m256 wk[9];
            for (int k = 0; k < 9; k++)
                wk[k] = _mm256_broadcast_ss(wc + k);
            for (int oy = 0; oy < p->ho; oy++) {
                __m256 acc = bias;
                for (int ky = 0; ky < 3; ky++) {
                    int iy = oy * p->sh - p->ph + ky * p->dh;
                    if (iy < 0 || iy >= p->h)
                        continue;
                    const float *xr = xc + (size_t)iy * (size_t)p->w;
                    for (int kx = 0; kx < 3; kx++) {
                        const float *xp = xr + off[kx];
                        __m256 v;
                        if (!s2)
                            v = ldfull[kx] ? _mm256_loadu_ps(xp) : _mm256_maskload_ps(xp, lo[kx]);
                        else {
                            __m256 l = ldfull[kx] ? _mm256_loadu_ps(xp) : _mm256_maskload_ps(xp, lo[kx]);
                            __m256 h = ldfull[kx] ? _mm256_loadu_ps(xp + 8)
                                                  : _mm256_maskload_ps(xp + 8, hi[kx]);
                            v = _mm256_shuffle_ps(l, h, _MM_SHUFFLE(2, 0, 2, 0));
                            v = _mm256_castpd_ps(
                                _mm256_permute4x64_pd(_mm256_castps_pd(v), _MM_SHUFFLE(3, 1, 2, 0)));
                        }
                        __m256 f = _mm256_fmadd_ps(wk[ky * 3 + kx], v, acc);
                        acc = outfull[kx] ? f : _mm256_blendv_ps(acc, f, _mm256_castsi256_ps(out[kx]));
                    }
                }
                float *yr = yo + (size_t)oy * (size_t)p->wo;
                if (storefull)
                    _mm256_storeu_ps(yr, acc);
                else
                    _mm256_maskstore_ps(yr, store, acc);
            }
        }
    }
}

/* splitee__conv2d's loops with fused multiply-adds, vectorised along the
 * output row when the stride is 1 or 2 (other strides: scalar fmaf, the
 * same operations). */
AVX2 static void conv2d_avx2(float *restrict y, const float *restrict x, const float *restrict w,
                             const float *restrict b, const splitee__conv2d_params *p)
{
    const size_t plane = (size_t)p->h * (size_t)p->w, oplane = (size_t)p->ho * (size_t)p->wo;
    if (p->kh == 1 && p->kw == 1 && p->sh == 1 && p->sw == 1 && p->ph == 0 && p->pw == 0 &&
        p->groups == 1) {
        pointwise(y, x, w, b, p->c, p->out, plane);
        return;
    }
    const int cg = p->c / p->groups, og = p->out / p->groups;
    if (cg == 1 && p->kh == 3 && p->kw == 3 && (p->sw == 1 || p->sw == 2)) {
        depthwise3x3(y, x, w, b, p);
        return;
    }
    for (int o = 0; o < p->out; o++) {
        float *yo = y + (size_t)o * oplane;
        float bias = b ? b[o] : 0.0f;
        for (size_t i = 0; i < oplane; i++)
            yo[i] = bias;
        int g = o / og;
        for (int c = 0; c < cg; c++) {
            const float *xc = x + (size_t)(g * cg + c) * plane;
            const float *wc = w + ((size_t)o * (size_t)cg + (size_t)c) * (size_t)p->kh * (size_t)p->kw;
            for (int ky = 0; ky < p->kh; ky++) {
                int ylo, yhi;
                splitee__conv_valid_range(p->ho, p->h, p->sh, p->ph, ky * p->dh, &ylo, &yhi);
                for (int kx = 0; kx < p->kw; kx++) {
                    float wv = wc[ky * p->kw + kx];
                    int xlo, xhi;
                    splitee__conv_valid_range(p->wo, p->w, p->sw, p->pw, kx * p->dw, &xlo, &xhi);
                    int ix0 = kx * p->dw - p->pw;
                    for (int oy = ylo; oy < yhi; oy++) {
                        const float *xr = xc + (size_t)(oy * p->sh - p->ph + ky * p->dh) * (size_t)p->w;
                        float *yr = yo + (size_t)oy * (size_t)p->wo;
                        if (p->sw == 1)
                            axpy(yr + xlo, xr + xlo + ix0, wv, xhi - xlo);
                        else if (p->sw == 2)
                            axpy_s2(yr + xlo, xr + 2 * xlo + ix0, wv, xhi - xlo,
                                    p->w - (2 * xlo + ix0));
                        else
                            for (int ox = xlo; ox < xhi; ox++)
                                yr[ox] = __builtin_fmaf(wv, xr[ox * p->sw + ix0], yr[ox]);
                    }
                }
            }
        }
    }
}

static const splitee__kernels avx2_kernels = {
    "avx2-fma", 1, linear_avx2, layernorm_avx2, attention_avx2, gelu_avx2, conv2d_avx2,
};

const splitee__kernels *splitee__kernels_avx2(void)
{
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return &avx2_kernels;
    return NULL;
}

/* Exposed for the tests: the vector exp and erf on n floats. */
AVX2 static void map8(float *x, size_t n, int which)
{
    for (size_t i = 0; i < n; i += 8) {
        float buf[8] = { 0 };
        size_t k = n - i < 8 ? n - i : 8;
        for (size_t j = 0; j < k; j++)
            buf[j] = x[i + j];
        __m256 v = _mm256_loadu_ps(buf);
        _mm256_storeu_ps(buf, which ? verf(v) : vexp(v));
        for (size_t j = 0; j < k; j++)
            x[i + j] = buf[j];
    }
}

int splitee__avx2_exp(float *x, size_t n)
{
    if (!splitee__kernels_avx2())
        return -1;
    map8(x, n, 0);
    return 0;
}

int splitee__avx2_erf(float *x, size_t n)
{
    if (!splitee__kernels_avx2())
        return -1;
    map8(x, n, 1);
    return 0;
}

#else /* not x86-64 with GCC or clang: no AVX2 kernels */

const splitee__kernels *splitee__kernels_avx2(void)
{
    return NULL;
}

int splitee__avx2_exp(float *x, size_t n)
{
    (void)x;
    (void)n;
    return -1;
}

int splitee__avx2_erf(float *x, size_t n)
{
    (void)x;
    (void)n;
    return -1;
}

#endif
