/* kernels.h -- internal: the float32 kernels of the inference engine.
 *
 * Straight-line loops the compiler can vectorise without -ffast-math:
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

#endif
