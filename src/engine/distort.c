/* distort.c -- the shifted-domain image distortions (image.h), the same
 * float64 arithmetic in the same order as tools/train.py's distort_*
 * functions (NumPy semantics where NumPy chooses an order: pairwise
 * summation for sums), rounded to float32 at the end. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "splitee/image.h"

struct splitee_distorter {
    splitee_distortion_config cfg;
    size_t rows, cols, n;   /* n = rows * cols pixels */
    double *x;              /* (rows, cols) input pixels in [0, 1] */
    double *tmp;            /* (rows, cols) blur: after the row pass */
    double *kernel;         /* (2 radius + 1) normalised blur taps */
    int radius;             /* blur radius in pixels */
};

uint64_t splitee_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* NumPy's pairwise summation (numpy/core/src/umath/loops_utils.h, block
 * 128, 8 accumulators), which np.sum / np.mean use on contiguous float64
 * data; the reduction starts from the identity: 0.0 + pairwise(a, n). */
static double pairwise(const double *a, size_t n)
{
    if (n < 8) {
        double res = 0.0;
        for (size_t i = 0; i < n; i++)
            res += a[i];
        return res;
    }
    if (n <= 128) {
        double r[8];
        size_t i;
        for (int j = 0; j < 8; j++)
            r[j] = a[j];
        for (i = 8; i < n - (n % 8); i += 8)
            for (int j = 0; j < 8; j++)
                r[j] += a[i + j];
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++)
            res += a[i];
        return res;
    }
    size_t n2 = n / 2;
    n2 -= n2 % 8;
    return pairwise(a, n2) + pairwise(a + n2, n - n2);
}

static double numpy_sum(const double *a, size_t n)
{
    return 0.0 + pairwise(a, n);
}

static double clip01(double v)
{
    return v < 0.0 ? 0.0 : v > 1.0 ? 1.0 : v;
}

void splitee_distortion_config_default(splitee_distortion_config *cfg)
{
    cfg->kind = SPLITEE_DISTORTION_KIND_NONE;
    cfg->sigma = 0.2;
    cfg->factor = 0.3;
    cfg->seed = 20231101u;
}

int splitee_distortion_domain(const char *name, splitee_distortion_config *cfg,
                              splitee_error *err)
{
    splitee_distortion_config_default(cfg);
    if (name && strcmp(name, "clean") == 0)
        return SPLITEE_OK;
    if (name && strcmp(name, "noise") == 0) {
        cfg->kind = SPLITEE_DISTORTION_KIND_NOISE;   /* sigma 0.2, seed 20231101 */
        return SPLITEE_OK;
    }
    if (name && strcmp(name, "blur") == 0) {
        cfg->kind = SPLITEE_DISTORTION_KIND_BLUR;
        cfg->sigma = 1.0;
        return SPLITEE_OK;
    }
    if (name && strcmp(name, "contrast") == 0) {
        cfg->kind = SPLITEE_DISTORTION_KIND_CONTRAST;  /* factor 0.3 */
        return SPLITEE_OK;
    }
    return splitee__fail(err, SPLITEE_ERR_ARG,
                         "unknown domain '%.32s' (expected clean, noise, blur or contrast)",
                         name ? name : "(null)");
}

/* train.py gaussian_kernel: exp(-(t t) / (2 sigma sigma)), t = -r..r,
 * divided by its (NumPy) sum. */
static void make_kernel(splitee_distorter *d)
{
    double s = d->cfg.sigma;
    int r = d->radius;
    for (int i = 0; i <= 2 * r; i++) {
        double t = (double)(i - r);
        d->kernel[i] = exp(-(t * t) / (2.0 * s * s));
    }
    double sum = numpy_sum(d->kernel, (size_t)(2 * r + 1));
    for (int i = 0; i <= 2 * r; i++)
        d->kernel[i] /= sum;
}

int splitee_distorter_create(const splitee_distortion_config *cfg, size_t rows, size_t cols,
                             splitee_distorter **out, splitee_error *err)
{
    *out = NULL;
    size_t n;
    if (!cfg)
        return splitee__fail(err, SPLITEE_ERR_ARG, "distortion: no configuration given");
    if (rows == 0 || cols == 0 || splitee__mul_size(rows, cols, &n) < 0 ||
        n > (size_t)-1 / (2 * sizeof(double)))
        return splitee__fail(err, SPLITEE_ERR_ARG, "distortion: bad image size %zu x %zu", rows,
                             cols);
    const splitee_distortion_config *c = cfg;
    int radius = 0;
    switch (c->kind) {
    case SPLITEE_DISTORTION_KIND_NONE:
        break;
    case SPLITEE_DISTORTION_KIND_NOISE:
        if (!(isfinite(c->sigma) && c->sigma > 0.0))
            return splitee__fail(err, SPLITEE_ERR_VALUE,
                                 "distortion: noise sigma must be positive and finite, got %g",
                                 c->sigma);
        if (n % 2)
            return splitee__fail(err, SPLITEE_ERR_ARG,
                                 "distortion: noise needs an even pixel count, got %zu", n);
        break;
    case SPLITEE_DISTORTION_KIND_BLUR:
        if (!(isfinite(c->sigma) && c->sigma > 0.0 && c->sigma <= 1000.0))
            return splitee__fail(err, SPLITEE_ERR_VALUE,
                                 "distortion: blur sigma must be in (0, 1000], got %g", c->sigma);
        radius = (int)ceil(3.0 * c->sigma);
        break;
    case SPLITEE_DISTORTION_KIND_CONTRAST:
        if (!isfinite(c->factor))
            return splitee__fail(err, SPLITEE_ERR_VALUE,
                                 "distortion: contrast factor must be finite, got %g", c->factor);
        break;
    default:
        return splitee__fail(err, SPLITEE_ERR_ARG, "distortion: unknown kind %d", (int)c->kind);
    }
    splitee_distorter *d = calloc(1, sizeof *d);
    if (!d)
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "distortion: out of memory");
    d->cfg = *c;
    d->rows = rows;
    d->cols = cols;
    d->n = n;
    d->radius = radius;
    d->x = malloc(n * sizeof *d->x);
    d->tmp = malloc(n * sizeof *d->tmp);
    d->kernel = calloc((size_t)(2 * radius + 1), sizeof *d->kernel);
    if (!d->x || !d->tmp || !d->kernel) {
        splitee_distorter_free(d);
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "distortion: out of memory");
    }
    if (c->kind == SPLITEE_DISTORTION_KIND_BLUR)
        make_kernel(d);
    *out = d;
    return SPLITEE_OK;
}

void splitee_distorter_free(splitee_distorter *d)
{
    if (!d)
        return;
    free(d->x);
    free(d->tmp);
    free(d->kernel);
    free(d);
}

/* train.py distort_noise for image `index`. */
static void noise(const splitee_distorter *d, const double *x, uint64_t index, float *out)
{
    uint64_t state = d->cfg.seed + index;
    double sigma = d->cfg.sigma;
    for (size_t j = 0; j < d->n / 2; j++) {
        uint64_t a = splitee_splitmix64(&state), b = splitee_splitmix64(&state);
        double u1 = ((double)(a >> 11) + 1.0) * 0x1p-53;
        double u2 = (double)(b >> 11) * 0x1p-53;
        double rad = sqrt(-2.0 * log(u1));
        double z0 = rad * cos(2.0 * M_PI * u2), z1 = rad * sin(2.0 * M_PI * u2);
        out[2 * j] = (float)clip01(x[2 * j] + sigma * z0);
        out[2 * j + 1] = (float)clip01(x[2 * j + 1] + sigma * z1);
    }
}

/* One blur pass: dst[i][j] = sum_t k[t] src at (i, j) moved by t - r along
 * the rows (horizontal) or the columns (vertical), clamped at the edges. */
static void blur_pass(const splitee_distorter *d, const double *src, double *dst, int vertical)
{
    long r = d->radius, rows = (long)d->rows, cols = (long)d->cols;
    for (long i = 0; i < rows; i++)
        for (long j = 0; j < cols; j++) {
            double acc = 0.0;
            for (long t = 0; t <= 2 * r; t++) {
                long ii = vertical ? i + t - r : i, jj = vertical ? j : j + t - r;
                ii = ii < 0 ? 0 : ii >= rows ? rows - 1 : ii;
                jj = jj < 0 ? 0 : jj >= cols ? cols - 1 : jj;
                acc += d->kernel[t] * src[ii * cols + jj];
            }
            dst[i * cols + j] = acc;
        }
}

static void distort(splitee_distorter *d, const double *x, uint64_t index, float *out)
{
    switch (d->cfg.kind) {
    case SPLITEE_DISTORTION_KIND_NOISE:
        noise(d, x, index, out);
        return;
    case SPLITEE_DISTORTION_KIND_BLUR:
        blur_pass(d, x, d->tmp, 0);              /* rows first */
        blur_pass(d, d->tmp, d->x, 1);           /* then columns (x is free now) */
        for (size_t i = 0; i < d->n; i++)
            out[i] = (float)clip01(d->x[i]);
        return;
    case SPLITEE_DISTORTION_KIND_CONTRAST: {
        double m = numpy_sum(x, d->n) / (double)d->n, f = d->cfg.factor;
        for (size_t i = 0; i < d->n; i++)
            out[i] = (float)clip01(m + f * (x[i] - m));
        return;
    }
    default:
        for (size_t i = 0; i < d->n; i++)
            out[i] = (float)x[i];
        return;
    }
}

void splitee_distorter_apply(splitee_distorter *d, const uint8_t *pixels, uint64_t index,
                             float *out)
{
    for (size_t i = 0; i < d->n; i++)
        d->x[i] = (double)pixels[i] / 255.0;
    distort(d, d->x, index, out);
}

void splitee_distorter_apply_f64(splitee_distorter *d, const double *pixels, uint64_t index,
                                 float *out)
{
    distort(d, pixels, index, out);
}
