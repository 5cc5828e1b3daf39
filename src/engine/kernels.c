/* kernels.c -- the float32 kernels of the inference engine (kernels.h). */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "engine/kernels.h"

void splitee__matmul(float *restrict y, const float *restrict x, const float *restrict w,
                     const float *restrict b, int n, int in, int out)
{
    /* weight row outer: each row of W is read once and reused for all n */
    for (int o = 0; o < out; o++) {
        const float *wo = w + (size_t)o * (size_t)in;
        float bias = b ? b[o] : 0.0f;
        for (int t = 0; t < n; t++)
            y[(size_t)t * (size_t)out + (size_t)o] =
                splitee__dot(x + (size_t)t * (size_t)in, wo, in) + bias;
    }
}

/* Sum of n doubles-of-floats in 8 lanes folded pairwise, then the tail;
 * with `center`, sums (x - center)^2 instead. */
static double sum_lanes(const float *x, int n, double center, int squares)
{
    double acc[8] = { 0 };
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) {
            double d = (double)x[i + l] - center;
            acc[l] += squares ? d * d : d;
        }
    double s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (; i < n; i++) {
        double d = (double)x[i] - center;
        s += squares ? d * d : d;
    }
    return s;
}

void splitee__layernorm(float *y, const float *x, const float *g, const float *b, int n,
                        int dim, float eps)
{
    for (int t = 0; t < n; t++) {
        const float *xt = x + (size_t)t * (size_t)dim;
        float *yt = y + (size_t)t * (size_t)dim;
        double mean = sum_lanes(xt, dim, 0.0, 0) / dim;
        double var = sum_lanes(xt, dim, mean, 1) / dim;
        float m = (float)mean;
        float rstd = (float)(1.0 / sqrt(var + (double)eps));
        for (int i = 0; i < dim; i++)
            yt[i] = (xt[i] - m) * rstd * g[i] + b[i];
    }
}

void splitee__softmax(float *x, int n)
{
    float m = x[0];
    for (int i = 1; i < n; i++)
        m = x[i] > m ? x[i] : m;
    float s = 0.0f;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - m);
        s += x[i];
    }
    for (int i = 0; i < n; i++)
        x[i] /= s;
}

void splitee__gelu(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752440f));
}

void splitee__attention(float *restrict y, const float *restrict qkv, float *restrict scores,
                        int tokens, int dim, int heads)
{
    int hd = dim / heads;
    size_t row = 3 * (size_t)dim;
    float scale = (float)sqrt((double)hd); /* PyTorch divides by math.sqrt(hd) */
    for (int h = 0; h < heads; h++) {
        size_t off = (size_t)h * (size_t)hd;
        for (int t = 0; t < tokens; t++) {
            const float *q = qkv + (size_t)t * row + off;
            for (int u = 0; u < tokens; u++)
                scores[u] = splitee__dot(q, qkv + (size_t)u * row + (size_t)dim + off, hd) / scale;
            splitee__softmax(scores, tokens);
            float *yt = y + (size_t)t * (size_t)dim + off;
            for (int i = 0; i < hd; i++)
                yt[i] = 0.0f;
            for (int u = 0; u < tokens; u++) {
                const float *v = qkv + (size_t)u * row + 2 * (size_t)dim + off;
                float p = scores[u];
                for (int i = 0; i < hd; i++)
                    yt[i] += p * v[i];
            }
        }
    }
}

void splitee__add(float *restrict y, const float *restrict x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] += x[i];
}

void splitee__mean_rows(float *restrict y, const float *restrict x, int n, int dim)
{
    for (int i = 0; i < dim; i++)
        y[i] = 0.0f;
    for (int t = 0; t < n; t++) {
        const float *xt = x + (size_t)t * (size_t)dim;
        for (int i = 0; i < dim; i++)
            y[i] += xt[i];
    }
    for (int i = 0; i < dim; i++)
        y[i] /= (float)n;
}

/* ---- convolutional ops ------------------------------------------------------- */

void splitee__conv2d(float *restrict y, const float *restrict x, const float *restrict w,
                     const float *restrict b, const splitee__conv2d_params *p)
{
    const int cg = p->c / p->groups, og = p->out / p->groups;
    const size_t plane = (size_t)p->h * (size_t)p->w, oplane = (size_t)p->ho * (size_t)p->wo;
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
                    for (int oy = ylo; oy < yhi; oy++) {
                        const float *xr = xc + (size_t)(oy * p->sh - p->ph + ky * p->dh) * (size_t)p->w;
                        float *yr = yo + (size_t)oy * (size_t)p->wo;
                        int ix0 = kx * p->dw - p->pw;
                        if (p->sw == 1)
                            for (int ox = xlo; ox < xhi; ox++)
                                yr[ox] += wv * xr[ox + ix0];
                        else
                            for (int ox = xlo; ox < xhi; ox++)
                                yr[ox] += wv * xr[ox * p->sw + ix0];
                    }
                }
            }
        }
    }
}

void splitee__maxpool(float *restrict y, const float *restrict x, const splitee__conv2d_params *p)
{
    const size_t plane = (size_t)p->h * (size_t)p->w;
    for (int c = 0; c < p->c; c++) {
        const float *xc = x + (size_t)c * plane;
        for (int oy = 0; oy < p->ho; oy++)
            for (int ox = 0; ox < p->wo; ox++) {
                float m = -INFINITY;
                for (int ky = 0; ky < p->kh; ky++) {
                    int iy = oy * p->sh - p->ph + ky;
                    if (iy < 0 || iy >= p->h)
                        continue;
                    for (int kx = 0; kx < p->kw; kx++) {
                        int ix = ox * p->sw - p->pw + kx;
                        if (ix < 0 || ix >= p->w)
                            continue;
                        float v = xc[(size_t)iy * (size_t)p->w + (size_t)ix];
                        m = v > m ? v : m;
                    }
                }
                y[((size_t)c * (size_t)p->ho + (size_t)oy) * (size_t)p->wo + (size_t)ox] = m;
            }
    }
}

void splitee__avgpool(float *restrict y, const float *restrict x, const splitee__conv2d_params *p,
                      int count_include_pad)
{
    const size_t plane = (size_t)p->h * (size_t)p->w;
    for (int c = 0; c < p->c; c++) {
        const float *xc = x + (size_t)c * plane;
        for (int oy = 0; oy < p->ho; oy++)
            for (int ox = 0; ox < p->wo; ox++) {
                float s = 0.0f;
                int n = 0;
                for (int ky = 0; ky < p->kh; ky++) {
                    int iy = oy * p->sh - p->ph + ky;
                    if (iy < 0 || iy >= p->h)
                        continue;
                    for (int kx = 0; kx < p->kw; kx++) {
                        int ix = ox * p->sw - p->pw + kx;
                        if (ix < 0 || ix >= p->w)
                            continue;
                        s += xc[(size_t)iy * (size_t)p->w + (size_t)ix];
                        n++;
                    }
                }
                float d = count_include_pad ? (float)(p->kh * p->kw) : (float)n;
                y[((size_t)c * (size_t)p->ho + (size_t)oy) * (size_t)p->wo + (size_t)ox] = s / d;
            }
    }
}

void splitee__global_avgpool(float *restrict y, const float *restrict x, int c, int hw)
{
    for (int i = 0; i < c; i++) {
        const float *xc = x + (size_t)i * (size_t)hw;
        float s = 0.0f;
        for (int j = 0; j < hw; j++)
            s += xc[j];
        y[i] = s / (float)hw;
    }
}

void splitee__scale_shift(float *y, const float *x, const float *scale, const float *shift, int c,
                          int hw)
{
    for (int i = 0; i < c; i++) {
        const float *xc = x + (size_t)i * (size_t)hw;
        float *yc = y + (size_t)i * (size_t)hw;
        float a = scale[i], s = shift[i];
        for (int j = 0; j < hw; j++)
            yc[j] = xc[j] * a + s;
    }
}

void splitee__patchify(float *restrict y, const float *restrict x, int c, int h, int w, int p)
{
    int gy = h / p, gx = w / p;
    size_t pd = (size_t)c * (size_t)p * (size_t)p;
    for (int ty = 0; ty < gy; ty++)
        for (int tx = 0; tx < gx; tx++) {
            float *dst = y + (size_t)(ty * gx + tx) * pd;
            for (int ch = 0; ch < c; ch++)
                for (int py = 0; py < p; py++) {
                    const float *src = x + ((size_t)ch * (size_t)h + (size_t)(ty * p + py)) *
                                               (size_t)w + (size_t)(tx * p);
                    float *d = dst + ((size_t)ch * (size_t)p + (size_t)py) * (size_t)p;
                    for (int px = 0; px < p; px++)
                        d[px] = src[px];
                }
        }
}

void splitee__relu(float *y, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void splitee__relu6(float *y, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float v = x[i] > 0.0f ? x[i] : 0.0f;
        y[i] = v < 6.0f ? v : 6.0f;
    }
}

void splitee__hardswish(float *y, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float v = x[i] + 3.0f;
        v = v > 0.0f ? v : 0.0f;
        v = v < 6.0f ? v : 6.0f;
        y[i] = x[i] * v / 6.0f;
    }
}

void splitee__silu(float *y, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] / (1.0f + expf(-x[i]));
}

void splitee__add3(float *y, const float *x, const float *z, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] + z[i];
}

/* ---- the portable table and the choice ---------------------------------------- */

static void linear_portable(float *restrict y, const float *restrict x, const float *restrict w,
                            const float *restrict wt, const float *restrict b, int n, int in,
                            int out)
{
    (void)wt;
    splitee__matmul(y, x, w, b, n, in, out);
}

static const splitee__kernels portable_kernels = {
    "portable", 0, linear_portable, splitee__layernorm, splitee__attention, splitee__gelu,
    splitee__conv2d,
};

const splitee__kernels *splitee__kernels_portable(void)
{
    return &portable_kernels;
}

const splitee__kernels *splitee__kernels_select(void)
{
    const char *e = getenv("SPLITEE_SIMD");
    if (e && (strcmp(e, "off") == 0 || strcmp(e, "0") == 0 || strcmp(e, "no") == 0 ||
              strcmp(e, "portable") == 0))
        return &portable_kernels;
    const splitee__kernels *k = splitee__kernels_avx2();
    return k ? k : &portable_kernels;
}
