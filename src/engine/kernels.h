/* kernels.h -- internal: the float32 kernels of the inference engine.
 *
 * Two sets of kernels behind one table (splitee__kernels), picked once per
 * model at load time (splitee__kernels_select): the portable C kernels
 * below (kernels.c, any architecture, baseline x86-64), and the AVX2+FMA
 * kernels (kernels_avx2.c, x86-64 CPUs that have both, detected at run
 * time). The portable functions are also called directly by the tests.
 *
 * Portable kernels: straight-line loops the compiler can vectorise without -ffast-math:
 * reductions keep SPLITEE__LANES independent partial sums (one per vector
 * lane) that are folded in a fixed order, so results are deterministic and
 * independent of the target ISA (no FMA: the build uses -ffp-contract=off).
 * Dimensions are ints checked by the loader; offsets are computed in
 * size_t. Matrices are row-major; linear weights are PyTorch's (out, in). */
#ifndef SPLITEE_KERNELS_H
#define SPLITEE_KERNELS_H

#include <stddef.h>

#define SPLITEE__LANES 16

/* sum_i a[i] b[i] over n floats: 16 lane sums, folded pairwise
 * (l += l + 8, then + 4, + 2, + 1), then the n % 16 tail in order. */
static inline float splitee__dot(const float *restrict a, const float *restrict b, int n)
{
    float acc[SPLITEE__LANES] = { 0 };
    int i = 0;
    for (; i + SPLITEE__LANES <= n; i += SPLITEE__LANES)
        for (int l = 0; l < SPLITEE__LANES; l++)
            acc[l] += a[i + l] * b[i + l];
    for (int w = SPLITEE__LANES / 2; w >= 1; w /= 2)
        for (int l = 0; l < w; l++)
            acc[l] += acc[l + w];
    float s = acc[0];
    for (; i < n; i++)
        s += a[i] * b[i];
    return s;
}

/* y (n, out) = x (n, in) W^T + b: y[t][o] = dot(x[t], W[o]) + b[o].
 * w (out, in); b (out) or NULL. y must not alias x. */
void splitee__matmul(float *restrict y, const float *restrict x, const float *restrict w,
                     const float *restrict b, int n, int in, int out);

/* LayerNorm of each of n rows of dim floats: y = (x - mean) * rstd * g + b,
 * mean and biased variance accumulated in double, rstd = 1/sqrt(var + eps).
 * y may equal x. */
void splitee__layernorm(float *y, const float *x, const float *g, const float *b, int n,
                        int dim, float eps);

/* In place softmax of n floats (max subtracted, exp, divide by the sum). */
void splitee__softmax(float *x, int n);

/* In place exact GELU: x * 0.5 * (1 + erf(x / sqrt 2)). */
void splitee__gelu(float *x, size_t n);

/* Multi-head self-attention without projections:
 * qkv (tokens, 3 dim) holds q | k | v per token; for head h and token t,
 * p = softmax_u(q_t,h . k_u,h / sqrt(head_dim)), y_t,h = sum_u p_u v_u,h.
 * y (tokens, dim); scores (tokens) scratch. */
void splitee__attention(float *restrict y, const float *restrict qkv, float *restrict scores,
                        int tokens, int dim, int heads);

/* y[i] += x[i], n floats. */
void splitee__add(float *restrict y, const float *restrict x, size_t n);

/* y (dim) = mean over the n rows of x (n, dim), summed in row order. */
void splitee__mean_rows(float *restrict y, const float *restrict x, int n, int dim);

/* ---- convolutional ops (tensors (C, H, W) row-major) ---------------------- */

/* The geometry of a 2-D convolution or pooling window: input (c, h, w),
 * output (out, ho, wo), window kh x kw, stride, zero padding and dilation
 * per axis, groups (conv2d: c and out divisible by it; each output channel
 * o reads input channels [g c/groups, (g+1) c/groups), g = o / (out/groups)).
 * ho = (h + 2 ph - dh (kh - 1) - 1) / sh + 1, likewise wo (the loader
 * checks all of it). Pooling uses c == out and dh == dw == 1. */
typedef struct splitee__conv2d_params {
    int c, h, w;
    int out, ho, wo;
    int kh, kw, sh, sw, ph, pw, dh, dw;
    int groups;
} splitee__conv2d_params;

/* The output columns [*lo, *hi) whose input column ox sw - pw + kx dw lies
 * in [0, w), for kernel column kx, off = kx dw (likewise for rows); both
 * kernel sets use it. */
static inline void splitee__conv_valid_range(int wo, int w, int sw, int pw, int off, int *lo, int *hi)
{
    /* ix = ox sw + (off - pw) in [0, w): ox >= ceil((pw - off) / sw),
     * ox <= floor((w - 1 + pw - off) / sw) */
    long long a = (long long)pw - off, b = (long long)w - 1 + pw - off;
    long long l = a <= 0 ? 0 : (a + sw - 1) / sw;
    long long h = b < 0 ? -1 : b / sw;
    if (h > wo - 1)
        h = wo - 1;
    *lo = (int)(l > wo ? wo : l);
    *hi = (int)(h + 1 < *lo ? *lo : h + 1);
}

/* y (out, ho, wo) = conv(x (c, h, w), w (out, c/groups, kh, kw)) + b (out,
 * or NULL). Each output starts from its bias and adds w * x over input
 * channels, then kernel rows, then kernel columns, in increasing order
 * (taps in the padding skipped); no FMA. y must not alias x. */
void splitee__conv2d(float *restrict y, const float *restrict x, const float *restrict w,
                     const float *restrict b, const splitee__conv2d_params *p);

/* Max over each window (taps in the padding skipped; the loader keeps the
 * padding at most half the window, so a window always holds a tap). */
void splitee__maxpool(float *restrict y, const float *restrict x, const splitee__conv2d_params *p);

/* Mean over each window, summed in row order in float, divided by kh kw
 * (count_include_pad) or by the taps inside the input. */
void splitee__avgpool(float *restrict y, const float *restrict x, const splitee__conv2d_params *p,
                      int count_include_pad);

/* y (c) = mean of each of c planes of hw floats, summed in order. */
void splitee__global_avgpool(float *restrict y, const float *restrict x, int c, int hw);

/* y[c][i] = x[c][i] * scale[c] + shift[c] over c planes of hw floats (a
 * standalone batch norm; hw = 1 for a vector). y may equal x. */
void splitee__scale_shift(float *y, const float *x, const float *scale, const float *shift, int c,
                          int hw);

/* Patches of p x p of x (c, h, w) in row-major patch order, each flattened
 * as (c, py, px): y (h/p * w/p, c p p). */
void splitee__patchify(float *restrict y, const float *restrict x, int c, int h, int w, int p);

/* Elementwise activations on n floats; y may equal x.
 * relu max(x, 0); relu6 min(max(x, 0), 6); hardswish x relu6(x + 3) / 6;
 * silu x / (1 + e^-x) (expf). */
void splitee__relu(float *y, const float *x, size_t n);
void splitee__relu6(float *y, const float *x, size_t n);
void splitee__hardswish(float *y, const float *x, size_t n);
void splitee__silu(float *y, const float *x, size_t n);

/* y[i] = x[i] + z[i]; y may equal x or z. */
void splitee__add3(float *y, const float *x, const float *z, size_t n);

/* Floats rounded up to a multiple of 16 (64-byte chunks). */
static inline size_t splitee__round16f(size_t n)
{
    return (n + 15) & ~(size_t)15;
}

/* Scratch floats splitee__kernels.attention needs for `tokens` tokens of
 * width `dim`: round16(4 tokens) scores (4 query rows at a time), then
 * (dim, tokens) K transposed. The portable kernel uses the first tokens. */
static inline size_t splitee__attention_scratch_floats(size_t tokens, size_t dim)
{
    return splitee__round16f(4 * tokens) + splitee__round16f(tokens * dim);
}

/* One set of kernels. Every function has the contract of the portable
 * kernel of the same name above, except where noted. */
typedef struct splitee__kernels {
    const char *name;   /* "portable" or "avx2-fma" */
    int packed;         /* 1: linear() needs wt, the transposed weights */
    /* y (n, out) = x (n, in) W^T + b with w (out, in) and its transpose
     * wt (in, out) (NULL when !packed; the AVX2 set then falls back to w);
     * b (out) or NULL. */
    void (*linear)(float *restrict y, const float *restrict x, const float *restrict w,
                   const float *restrict wt, const float *restrict b, int n, int in, int out);
    void (*layernorm)(float *y, const float *x, const float *g, const float *b, int n, int dim,
                      float eps);
    /* scratch: splitee__attention_scratch_floats(tokens, dim) floats. */
    void (*attention)(float *restrict y, const float *restrict qkv, float *restrict scratch,
                      int tokens, int dim, int heads);
    void (*gelu)(float *x, size_t n);
    /* splitee__conv2d; the AVX2 set accumulates with FMA (same order). */
    void (*conv2d)(float *restrict y, const float *restrict x, const float *restrict w,
                   const float *restrict b, const splitee__conv2d_params *p);
} splitee__kernels;

/* The portable kernels (never NULL). */
const splitee__kernels *splitee__kernels_portable(void);

/* The AVX2+FMA kernels, or NULL when this build has none (not x86-64 with
 * GCC/clang) or the CPU lacks AVX2 or FMA. */
const splitee__kernels *splitee__kernels_avx2(void);

/* What a model loads with: the AVX2+FMA kernels when available, unless the
 * environment variable SPLITEE_SIMD is "off", "0", "no" or "portable"
 * (read here, once per model load); the portable ones otherwise. */
const splitee__kernels *splitee__kernels_select(void);

/* For the tests: e^x and erf(x) of the AVX2 kernels, in place on n
 * floats; -1 (and nothing done) when splitee__kernels_avx2() is NULL. */
int splitee__avx2_exp(float *x, size_t n);
int splitee__avx2_erf(float *x, size_t n);

#endif
