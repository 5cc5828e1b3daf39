/* test_image.c -- Criterion tests for IDX images and distortions (image.h):
 * IDX files plain and gzipped, every kind of bad IDX input, and the three
 * distortions checked (a) bit for bit against values tools/train.py's own
 * distort_* functions produced (frozen below), (b) against references
 * written here from the definitions, and (c) for noise determinism. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "splitee/image.h"
#include "testutil.h"

#define DATASET "/usr/share/datasets/fashion-mnist"

/* ---- IDX files -------------------------------------------------------------- */

/* An IDX image: magic 0 0 type ndim, big-endian dims, then `dlen` bytes. */
static unsigned char *idx_image(unsigned type, unsigned ndim, const uint32_t *dims,
                                const void *data, size_t dlen, size_t *len)
{
    *len = 4 + 4 * (size_t)ndim + dlen;
    unsigned char *b = malloc(*len);
    b[0] = 0;
    b[1] = 0;
    b[2] = (unsigned char)type;
    b[3] = (unsigned char)ndim;
    for (unsigned i = 0; i < ndim; i++)
        for (int k = 0; k < 4; k++)
            b[4 + 4 * i + (unsigned)k] = (unsigned char)(dims[i] >> (24 - 8 * k));
    if (dlen)
        memcpy(b + 4 + 4 * ndim, data, dlen);
    return b;
}

/* Writes `len` bytes to tu_path(name), gzip-compressed when gz. */
static const char *write_file(const char *name, const void *data, size_t len, int gz)
{
    if (!gz)
        return tu_write(name, data, len);
    const char *p = tu_path(name);
    gzFile f = gzopen(p, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(gzwrite(f, data, (unsigned)len), (int)len);
    cr_assert_eq(gzclose(f), Z_OK);
    return p;
}

/* Writes an images file of n images (rows x cols) with pixel (k, i, j) =
 * (k + 3 i + 5 j) % 256 and returns its path. */
static const char *write_images(const char *name, uint32_t n, uint32_t rows, uint32_t cols, int gz)
{
    size_t dl = (size_t)n * rows * cols, len;
    unsigned char *px = malloc(dl ? dl : 1);
    for (size_t k = 0; k < n; k++)
        for (size_t i = 0; i < rows; i++)
            for (size_t j = 0; j < cols; j++)
                px[(k * rows + i) * cols + j] = (unsigned char)((k + 3 * i + 5 * j) % 256);
    uint32_t dims[3] = { n, rows, cols };
    unsigned char *img = idx_image(0x08, 3, dims, px, dl, &len);
    const char *p = write_file(name, img, len, gz);
    free(px);
    free(img);
    return p;
}

static const char *write_labels(const char *name, uint32_t n, int gz)
{
    unsigned char *lab = malloc(n ? n : 1);
    for (uint32_t k = 0; k < n; k++)
        lab[k] = (unsigned char)(k % 10);
    size_t len;
    unsigned char *img = idx_image(0x08, 1, &n, lab, n, &len);
    const char *p = write_file(name, img, len, gz);
    free(lab);
    free(img);
    return p;
}

/* splitee_idx_load fails with `status`, names `path`, says `word`, and
 * leaves *out empty. */
static void expect_fail(const char *images, const char *labels, const char *path, int status,
                        const char *word)
{
    splitee_images im;
    splitee_error err = { 0, "" };
    int rc = splitee_idx_load(images, labels, &im, &err);
    cr_assert_eq(rc, status, "got %d: %s", rc, err.msg);
    cr_assert_not_null(strstr(err.msg, path), "'%s' not named in: %s", path, err.msg);
    cr_assert_not_null(strstr(err.msg, word), "'%s' not in: %s", word, err.msg);
    cr_assert(im.pixels == NULL && im.labels == NULL && im.count == 0);
}

Test(image, reads_plain_and_gzipped_idx)
{
    for (int gz = 0; gz < 2; gz++) {
        char in[32], ln[32];
        snprintf(in, sizeof in, "img%d.idx", gz);   /* no .gz suffix: detected by content */
        snprintf(ln, sizeof ln, "lab%d.idx", gz);
        const char *ip = write_images(in, 5, 4, 3, gz);
        const char *lp = write_labels(ln, 5, gz);
        splitee_images im;
        splitee_error err = { 0, "" };
        cr_assert_eq(splitee_idx_load(ip, lp, &im, &err), 0, "%s", err.msg);
        cr_assert(im.count == 5 && im.rows == 4 && im.cols == 3);
        for (size_t k = 0; k < 5; k++) {
            cr_assert_eq(im.labels[k], k % 10);
            for (size_t i = 0; i < 4; i++)
                for (size_t j = 0; j < 3; j++)
                    cr_assert_eq(im.pixels[(k * 4 + i) * 3 + j], (k + 3 * i + 5 * j) % 256);
        }
        splitee_images_free(&im);
        cr_assert_null(im.pixels);
        cr_assert_eq(splitee_idx_load(ip, NULL, &im, &err), 0);
        cr_assert_null(im.labels);
        splitee_images_free(&im);
        splitee_images_free(&im);
        splitee_images_free(NULL);
    }
}

Test(image, reads_installed_fashion_mnist)
{
    const char *ip = DATASET "/t10k-images-idx3-ubyte.gz", *lp = DATASET "/t10k-labels-idx1-ubyte.gz";
    struct stat sb;
    if (stat(ip, &sb) != 0)
        cr_skip_test("%s not installed (tools/setup.sh --train)", ip);
    splitee_images im;
    splitee_error err = { 0, "" };
    cr_assert_eq(splitee_idx_load(ip, lp, &im, &err), 0, "%s", err.msg);
    cr_assert(im.count == 10000 && im.rows == 28 && im.cols == 28);
    int seen[10] = { 0 };
    for (size_t k = 0; k < im.count; k++) {
        cr_assert(im.labels[k] < 10);
        seen[im.labels[k]]++;
    }
    for (int c = 0; c < 10; c++)
        cr_assert_eq(seen[c], 1000);   /* the test set is balanced */
    splitee_images_free(&im);
}

Test(image, rejects_missing_and_non_regular_files)
{
    const char *p = tu_path("nope.idx");
    expect_fail(p, NULL, p, SPLITEE_ERR_IO, "cannot open");
    const char *ip = write_images("ok.idx", 2, 2, 2, 0);
    expect_fail(ip, p, p, SPLITEE_ERR_IO, "cannot open");
    const char *d = tu_path("adir");
    cr_assert_eq(mkdir(d, 0700), 0);
    expect_fail(d, NULL, d, SPLITEE_ERR_IO, "not a regular file");
    splitee_images im;
    cr_assert_eq(splitee_idx_load(NULL, NULL, &im, NULL), SPLITEE_ERR_ARG);
}

Test(image, rejects_bad_magic_type_and_dimensions)
{
    uint32_t dims[3] = { 2, 2, 2 };
    unsigned char px[8] = { 0 };
    size_t len;
    unsigned char *b = idx_image(0x08, 3, dims, px, 8, &len);
    b[0] = 1;
    expect_fail(write_file("m.idx", b, len, 0), NULL, tu_path("m.idx"), SPLITEE_ERR_FORMAT,
                "bad magic");
    free(b);
    expect_fail(write_file("text.idx", "hello world\n", 12, 0), NULL, tu_path("text.idx"),
                SPLITEE_ERR_FORMAT, "bad magic");
    b = idx_image(0x0D, 3, dims, px, 8, &len);   /* float elements */
    expect_fail(write_file("f.idx", b, len, 0), NULL, tu_path("f.idx"), SPLITEE_ERR_UNSUPPORTED,
                "element type 0x0d");
    free(b);
    const char *lp = write_labels("lab.idx", 2, 0);
    expect_fail(lp, NULL, lp, SPLITEE_ERR_FORMAT, "1 dimensions, expected 3 (images)");
    const char *ip = write_images("img.idx", 2, 2, 2, 0);
    expect_fail(ip, ip, ip, SPLITEE_ERR_FORMAT, "3 dimensions, expected 1 (labels)");
    uint32_t zero[3] = { 0, 28, 28 };
    b = idx_image(0x08, 3, zero, px, 0, &len);
    expect_fail(write_file("z.idx", b, len, 0), NULL, tu_path("z.idx"), SPLITEE_ERR_FORMAT,
                "dimension 0 is 0");
    free(b);
    uint32_t huge[3] = { 0xffffffffu, 0xffffffffu, 0xffffffffu };
    b = idx_image(0x08, 3, huge, px, 8, &len);
    expect_fail(write_file("h.idx", b, len, 0), NULL, tu_path("h.idx"), SPLITEE_ERR_OVERFLOW,
                "overflows");
    free(b);
}

Test(image, rejects_truncated_files)
{
    for (int gz = 0; gz < 2; gz++) {
        uint32_t dims[3] = { 3, 4, 4 };
        unsigned char px[48] = { 0 };
        size_t len;
        unsigned char *b = idx_image(0x08, 3, dims, px, 48, &len);
        const char *p = write_file("t1.idx", b, 3, gz);
        expect_fail(p, NULL, p, SPLITEE_ERR_FORMAT, "truncated IDX header");
        p = write_file("t2.idx", b, 10, gz);
        expect_fail(p, NULL, p, SPLITEE_ERR_FORMAT, "truncated IDX header");
        p = write_file("t3.idx", b, len - 1, gz);
        expect_fail(p, NULL, p, SPLITEE_ERR_FORMAT, "truncated IDX data (expected 1 more bytes)");
        free(b);
    }
}

/* Found by fuzzing (tests/fuzz/fuzz_idx.c): a header announcing far more
 * data than the file holds made the reader allocate what the header said
 * (malloc of 6 GB from a 41-byte input) before finding the file short.
 * Now the buffer grows with the data that actually arrives. */
Test(image, header_claiming_huge_data_is_refused_as_truncated)
{
    for (int gz = 0; gz < 2; gz++) {
        uint32_t dims[3] = { 0x40000000u, 0x40000000u, 1 };   /* 2^60 bytes */
        unsigned char px[10] = { 0 };
        size_t len;
        unsigned char *b = idx_image(0x08, 3, dims, px, sizeof px, &len);
        const char *p = write_file(gz ? "huge.idx.gz" : "huge.idx", b, len, gz);
        expect_fail(p, NULL, p, SPLITEE_ERR_FORMAT,
                    "truncated IDX data (expected 1152921504606846966 more bytes)");
        free(b);
        uint32_t n = 0x7fffffffu;
        b = idx_image(0x08, 1, &n, px, sizeof px, &len);
        const char *q = write_file(gz ? "hugel.idx.gz" : "hugel.idx", b, len, gz);
        const char *ip = write_images(gz ? "fewi.gz" : "fewi", 2, 2, 2, gz);
        expect_fail(ip, q, q, SPLITEE_ERR_FORMAT, "truncated IDX data");
        free(b);
    }
}

/* Data larger than the reader's first allocation: the growing buffer
 * keeps every byte in place. */
Test(image, reads_data_larger_than_one_chunk)
{
    for (int gz = 0; gz < 2; gz++) {
        const char *ip = write_images(gz ? "big.gz" : "big", 3, 1000, 1000, gz);
        splitee_images im;
        splitee_error err = { 0, "" };
        cr_assert_eq(splitee_idx_load(ip, NULL, &im, &err), 0, "%s", err.msg);
        cr_assert(im.count == 3 && im.rows == 1000 && im.cols == 1000 && !im.labels);
        size_t bad = 0;
        for (size_t k = 0; k < 3; k++)
            for (size_t i = 0; i < 1000; i++)
                for (size_t j = 0; j < 1000; j++)
                    bad += im.pixels[(k * 1000 + i) * 1000 + j] != (k + 3 * i + 5 * j) % 256;
        cr_assert_eq(bad, 0);
        splitee_images_free(&im);
    }
}

Test(image, rejects_trailing_bytes)
{
    uint32_t dims[3] = { 1, 2, 2 };
    unsigned char px[5] = { 1, 2, 3, 4, 5 };
    size_t len;
    unsigned char *b = idx_image(0x08, 3, dims, px, 5, &len);
    const char *p = write_file("trail.idx", b, len, 0);
    expect_fail(p, NULL, p, SPLITEE_ERR_FORMAT, "trailing bytes after 4 bytes");
    p = write_file("trail.idx.gz", b, len, 1);
    expect_fail(p, NULL, p, SPLITEE_ERR_FORMAT, "trailing bytes");
    free(b);
}

Test(image, rejects_corrupt_gzip)
{
    const char *p = write_images("c.gz", 20, 28, 28, 1);
    size_t len;
    unsigned char *b = (unsigned char *)tu_read(p, &len);
    cr_assert(len > 40);
    for (size_t i = 20; i < 30; i++)
        b[i] ^= 0x5a;   /* inside the deflate stream */
    const char *q = tu_write("corrupt.gz", b, len);
    expect_fail(q, NULL, q, SPLITEE_ERR_FORMAT, "gzip stream");
    free(b);
    b = (unsigned char *)tu_read(p, &len);
    const char *r = tu_write("cut.gz", b, len / 2);   /* stream cut short */
    expect_fail(r, NULL, r, SPLITEE_ERR_FORMAT, "truncated gzip stream");
    free(b);
}

Test(image, rejects_label_count_mismatch)
{
    const char *ip = write_images("i.idx", 10, 3, 3, 0);
    const char *lp = write_labels("l.idx.gz", 9, 1);
    expect_fail(ip, lp, lp, SPLITEE_ERR_SHAPE, "9 labels but");
    expect_fail(ip, lp, ip, SPLITEE_ERR_SHAPE, "holds 10 images");
}

/* ---- distortions: frozen outputs of tools/train.py ------------------------------ */

/* The synthetic images /tmp/golden.py fed to train.py's distort_* (3, 28, 28):
 * (i*31 + j*17 + k*7 + (i*j) % 13) % 256. */
static void golden_images(uint8_t *px)
{
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < 28; i++)
            for (int j = 0; j < 28; j++)
                px[(k * 28 + i) * 28 + j] = (uint8_t)((i * 31 + j * 17 + k * 7 + (i * j) % 13) % 256);
}

/* FNV-1a 64 over the little-endian float32 bytes of n pixels. */
static uint64_t fnv(const float *x, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], 4);
        for (int b = 0; b < 4; b++) {
            h ^= (u >> (8 * b)) & 0xff;
            h *= 0x100000001b3ull;
        }
    }
    return h;
}

typedef struct golden {
    splitee_distortion_kind kind;
    double sigma, factor;
    uint64_t seed, first_index;
    int images;
    uint64_t hash[3];     /* fnv of each image's float32 output */
    float px[3][3];       /* pixels 0, 300, 783 of each image */
} golden;

/* Values printed by running tools/train.py's distort_noise / distort_blur /
 * distort_contrast (NumPy 1.24) on golden_images, then .astype(float32). */
static const golden goldens[] = {
    { SPLITEE_DISTORTION_KIND_NOISE, 0.2, 0, 20231101, 0, 3,
      { 0xe3097dd7f6696342ull, 0x29219ec941eb78a8ull, 0x0c37d6bb2acd5649ull },
      { { 0x1.98519ap-12f, 0x1.5177d4p-1f, 0x1.2ad2bap-3f },
        { 0x1.11a83ep-4f, 0x1.3f5736p-1f, 0x1.184918p-2f },
        { 0x1.9191f8p-4f, 0x1.5f0cdep-1f, 0x1.3af3eap-3f } } },
    /* image 9999 of the shipped noise domain: seed 20231101 + 9999 */
    { SPLITEE_DISTORTION_KIND_NOISE, 0.2, 0, 20231101, 9999, 1,
      { 0xbb093bbfc3ac7af4ull, 0, 0 }, { { 0.0f, 0x1.c883fp-1f, 0x1.3fe644p-2f } } },
    /* seed + k wraps modulo 2^64 */
    { SPLITEE_DISTORTION_KIND_NOISE, 0.05, 0, 0xfffffffffffffffeull, 0, 3,
      { 0x9936e60607ec3091ull, 0x7b386e5d4341a3c0ull, 0x898124571922956cull },
      { { 0.0f, 0x1.48adf8p-1f, 0x1.ec138p-8f },
        { 0x1.8650acp-5f, 0x1.20e936p-1f, 0x1.2839f8p-3f },
        { 0x1.084eaap-5f, 0x1.393cdp-1f, 0x1.ca3644p-4f } } },
    { SPLITEE_DISTORTION_KIND_BLUR, 1.0, 0, 0, 0, 3,
      { 0x38770c1e8c4bc40aull, 0x61582316707e1f1dull, 0x96ab2135ba750b68ull },
      { { 0x1.1a43dcp-4f, 0x1.226c3ap-1f, 0x1.068a7ap-1f },
        { 0x1.8ab44cp-4f, 0x1.30583p-1f, 0x1.544d1ep-2f },
        { 0x1.fb24bcp-4f, 0x1.3dd91p-1f, 0x1.70693ap-2f } } },
    /* 17 taps: the kernel sum uses NumPy's 8-accumulator pairwise order */
    { SPLITEE_DISTORTION_KIND_BLUR, 2.5, 0, 0, 0, 3,
      { 0xc3c3affc481b8f0bull, 0x80abcf55f82e50ddull, 0x83da0455cde9c94full },
      { { 0x1.7cc4d2p-3f, 0x1.0c852cp-1f, 0x1.1f3a3ap-1f },
        { 0x1.b345e6p-3f, 0x1.0cb6eep-1f, 0x1.bd6426p-2f },
        { 0x1.e8a22ep-3f, 0x1.12c0acp-1f, 0x1.d95b3ep-2f } } },
    { SPLITEE_DISTORTION_KIND_CONTRAST, 0, 0.3, 0, 0, 3,
      { 0x57c352089723481full, 0xe3260287776d15deull, 0x90580b56f5cd17a0ull },
      { { 0x1.681fe6p-2f, 0x1.0a32e2p-1f, 0x1.7c9ac6p-2f },
        { 0x1.700a8ep-2f, 0x1.0e2836p-1f, 0x1.84857p-2f },
        { 0x1.7ab624p-2f, 0x1.137e02p-1f, 0x1.8f3106p-2f } } },
    /* factor > 1: clipping at both ends */
    { SPLITEE_DISTORTION_KIND_CONTRAST, 0, 1.7, 0, 0, 3,
      { 0xa27ef0958206324full, 0x6f69f3511fde49b8ull, 0x7baca2db8e6f89d5ull },
      { { 0.0f, 0x1.340b5cp-1f, 0.0f }, { 0.0f, 0x1.4c3224p-1f, 0.0f },
        { 0.0f, 0x1.62f874p-1f, 0.0f } } },
    { SPLITEE_DISTORTION_KIND_NONE, 0, 0, 0, 0, 3,
      { 0xe80be8b7af55ddfeull, 0x458a69f8c1fd6413ull, 0xc3fee87b1e259201ull },
      { { 0.0f, 0x1.1f1f2p-1f, 0x1.111112p-4f }, { 0x1.c1c1c2p-6f, 0x1.2d2d2ep-1f, 0x1.818182p-4f },
        { 0x1.c1c1c2p-5f, 0x1.3b3b3cp-1f, 0x1.f1f1f2p-4f } } },
};

Test(image, distortions_match_train_py_bit_for_bit)
{
    uint8_t px[3 * 784];
    float out[784];
    golden_images(px);
    for (size_t g = 0; g < sizeof goldens / sizeof goldens[0]; g++) {
        const golden *G = &goldens[g];
        splitee_distortion_config c;
        splitee_distortion_config_default(&c);
        c.kind = G->kind;
        c.sigma = G->sigma;
        c.factor = G->factor;
        c.seed = G->seed;
        splitee_distorter *d;
        splitee_error err = { 0, "" };
        cr_assert_eq(splitee_distorter_create(&c, 28, 28, &d, &err), 0, "%s", err.msg);
        for (int k = 0; k < G->images; k++) {
            splitee_distorter_apply(d, px + k * 784, G->first_index + (uint64_t)k, out);
            cr_assert_eq(out[0], G->px[k][0], "case %zu image %d pixel 0: %a vs %a", g, k,
                         (double)out[0], (double)G->px[k][0]);
            cr_assert_eq(out[300], G->px[k][1], "case %zu image %d pixel 300: %a vs %a", g, k,
                         (double)out[300], (double)G->px[k][1]);
            cr_assert_eq(out[783], G->px[k][2], "case %zu image %d pixel 783", g, k);
            cr_assert_eq(fnv(out, 784), G->hash[k], "case %zu image %d: some pixel differs", g, k);
        }
        splitee_distorter_free(d);
    }
}

/* ---- distortions: references written from the definitions ---------------------- */

static uint64_t ref_splitmix(uint64_t *s)
{
    *s += 0x9E3779B97F4A7C15ull;
    uint64_t z = *s;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double clip(double v)
{
    return fmin(fmax(v, 0.0), 1.0);
}

/* distort_noise for one image of n pixels. */
static void ref_noise(const double *x, size_t n, double sigma, uint64_t seed, float *out)
{
    uint64_t *r = malloc(n * sizeof *r), s = seed;
    for (size_t i = 0; i < n; i++)
        r[i] = ref_splitmix(&s);
    for (size_t j = 0; j < n / 2; j++) {
        double u1 = ((double)(r[2 * j] >> 11) + 1.0) * pow(2.0, -53);
        double u2 = (double)(r[2 * j + 1] >> 11) * pow(2.0, -53);
        double rad = sqrt(-2.0 * log(u1));
        out[2 * j] = (float)clip(x[2 * j] + sigma * (rad * cos(2.0 * M_PI * u2)));
        out[2 * j + 1] = (float)clip(x[2 * j + 1] + sigma * (rad * sin(2.0 * M_PI * u2)));
    }
    free(r);
}

/* NumPy's sum of a contiguous float64 array: 0 + pairwise(a). */
static double ref_pairwise(const double *a, size_t n)
{
    if (n < 8) {
        double s = 0.0;
        for (size_t i = 0; i < n; i++)
            s += a[i];
        return s;
    }
    if (n <= 128) {
        double r[8];
        memcpy(r, a, sizeof r);
        size_t i = 8;
        for (; i < n - n % 8; i += 8)
            for (int k = 0; k < 8; k++)
                r[k] += a[i + (size_t)k];
        double s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++)
            s += a[i];
        return s;
    }
    size_t h = n / 2 - (n / 2) % 8;
    return ref_pairwise(a, h) + ref_pairwise(a + h, n - h);
}

/* distort_blur on an (h, w) image with np.pad(mode="edge") made explicit. */
static void ref_blur(const double *x, int h, int w, double sigma, float *out)
{
    int r = (int)ceil(3.0 * sigma), taps = 2 * r + 1;
    double *k = malloc((size_t)taps * sizeof *k);
    for (int t = 0; t < taps; t++) {
        double v = (double)(t - r);
        k[t] = exp(-(v * v) / (2.0 * sigma * sigma));
    }
    double sum = 0.0 + ref_pairwise(k, (size_t)taps);
    for (int t = 0; t < taps; t++)
        k[t] /= sum;
    double *pad = malloc((size_t)(h + 2 * r) * (size_t)(w + 2 * r) * sizeof *pad);
    double *tmp = calloc((size_t)h * w, sizeof *tmp), *res = calloc((size_t)h * w, sizeof *res);
    int pw = w + 2 * r;
    for (int i = 0; i < h; i++)
        for (int j = 0; j < pw; j++)
            pad[i * pw + j] = x[i * w + (j - r < 0 ? 0 : j - r >= w ? w - 1 : j - r)];
    for (int t = 0; t < taps; t++)         /* tmp += k[t] * pad[:, t:t+w] */
        for (int i = 0; i < h; i++)
            for (int j = 0; j < w; j++)
                tmp[i * w + j] += k[t] * pad[i * pw + t + j];
    for (int i = 0; i < h + 2 * r; i++)
        for (int j = 0; j < w; j++)
            pad[i * w + j] = tmp[(i - r < 0 ? 0 : i - r >= h ? h - 1 : i - r) * w + j];
    for (int t = 0; t < taps; t++)         /* out += k[t] * pad[t:t+h, :] */
        for (int i = 0; i < h; i++)
            for (int j = 0; j < w; j++)
                res[i * w + j] += k[t] * pad[(t + i) * w + j];
    for (int i = 0; i < h * w; i++)
        out[i] = (float)clip(res[i]);
    free(k);
    free(pad);
    free(tmp);
    free(res);
}

static void ref_contrast(const double *x, size_t n, double f, float *out)
{
    double m = (0.0 + ref_pairwise(x, n)) / (double)n;
    for (size_t i = 0; i < n; i++)
        out[i] = (float)clip(m + f * (x[i] - m));
}

/* Random 0..255 images of (h, w). */
static void random_pixels(uint8_t *px, size_t n, uint64_t *s)
{
    for (size_t i = 0; i < n; i++)
        px[i] = (uint8_t)(ref_splitmix(s) >> 56);
}

static splitee_distorter *make(splitee_distortion_kind kind, double sigma, double factor,
                               uint64_t seed, size_t rows, size_t cols)
{
    splitee_distortion_config c;
    splitee_distortion_config_default(&c);
    c.kind = kind;
    c.sigma = sigma;
    c.factor = factor;
    c.seed = seed;
    splitee_distorter *d = NULL;
    splitee_error err = { 0, "" };
    cr_assert_eq(splitee_distorter_create(&c, rows, cols, &d, &err), 0, "%s", err.msg);
    return d;
}

Test(image, distortions_match_reference_definitions)
{
    uint64_t s = 42;
    static const int shapes[][2] = { { 28, 28 }, { 5, 8 }, { 1, 6 }, { 30, 17 }, { 64, 64 } };
    for (size_t sh = 0; sh < sizeof shapes / sizeof shapes[0]; sh++) {
        int h = shapes[sh][0], w = shapes[sh][1];
        size_t n = (size_t)h * (size_t)w;
        uint8_t *px = malloc(n);
        double *x = malloc(n * sizeof *x);
        float *got = malloc(n * sizeof *got), *want = malloc(n * sizeof *want);
        for (int trial = 0; trial < 4; trial++) {
            random_pixels(px, n, &s);
            for (size_t i = 0; i < n; i++)
                x[i] = (double)px[i] / 255.0;
            double sigma = 0.3 + 0.7 * trial, factor = 0.25 + 0.5 * trial;
            uint64_t seed = ref_splitmix(&s), index = (uint64_t)trial * 1000;

            splitee_distorter *d = make(SPLITEE_DISTORTION_KIND_NOISE, sigma / 4, 0, seed, (size_t)h,
                                        (size_t)w);
            splitee_distorter_apply(d, px, index, got);
            ref_noise(x, n, sigma / 4, seed + index, want);
            cr_assert_eq(memcmp(got, want, n * sizeof *got), 0, "noise %dx%d trial %d", h, w, trial);
            splitee_distorter_free(d);

            d = make(SPLITEE_DISTORTION_KIND_BLUR, sigma, 0, 0, (size_t)h, (size_t)w);
            splitee_distorter_apply(d, px, index, got);
            ref_blur(x, h, w, sigma, want);
            cr_assert_eq(memcmp(got, want, n * sizeof *got), 0, "blur %dx%d sigma %g", h, w, sigma);
            splitee_distorter_apply_f64(d, x, index, got);
            cr_assert_eq(memcmp(got, want, n * sizeof *got), 0, "blur f64 %dx%d", h, w);
            splitee_distorter_free(d);

            d = make(SPLITEE_DISTORTION_KIND_CONTRAST, 0, factor, 0, (size_t)h, (size_t)w);
            splitee_distorter_apply(d, px, index, got);
            ref_contrast(x, n, factor, want);
            cr_assert_eq(memcmp(got, want, n * sizeof *got), 0, "contrast %dx%d f %g", h, w, factor);
            splitee_distorter_free(d);

            d = make(SPLITEE_DISTORTION_KIND_NONE, 0, 0, 0, (size_t)h, (size_t)w);
            splitee_distorter_apply(d, px, index, got);
            for (size_t i = 0; i < n; i++)
                cr_assert_eq(got[i], (float)x[i]);
            splitee_distorter_free(d);
        }
        free(px);
        free(x);
        free(got);
        free(want);
    }
}

Test(image, noise_is_deterministic_per_index)
{
    uint8_t px[784];
    float a[784], b[784], c[784];
    uint64_t s = 7;
    random_pixels(px, 784, &s);
    splitee_distorter *d1 = make(SPLITEE_DISTORTION_KIND_NOISE, 0.2, 0, 20231101, 28, 28);
    splitee_distorter *d2 = make(SPLITEE_DISTORTION_KIND_NOISE, 0.2, 0, 20231101 + 5, 28, 28);
    splitee_distorter_apply(d1, px, 5, a);
    splitee_distorter_apply(d1, px, 6, b);        /* other index: other noise */
    splitee_distorter_apply(d1, px, 5, c);        /* same index: same noise */
    cr_assert_eq(memcmp(a, c, sizeof a), 0);
    cr_assert_neq(memcmp(a, b, sizeof a), 0);
    splitee_distorter_apply(d2, px, 0, b);        /* seed + index is all that matters */
    cr_assert_eq(memcmp(a, b, sizeof a), 0);
    int changed = 0;
    for (int i = 0; i < 784; i++) {
        cr_assert(a[i] >= 0.0f && a[i] <= 1.0f);
        changed += a[i] != (float)(px[i] / 255.0);
    }
    cr_assert(changed > 700);
    uint64_t st = 0;
    cr_assert_eq(splitee_splitmix64(&st), 0xe220a8397b1dcdafull);   /* splitmix64(0), first output */
    cr_assert_eq(st, 0x9E3779B97F4A7C15ull);
    splitee_distorter_free(d1);
    splitee_distorter_free(d2);
}

Test(image, domains_and_config_errors)
{
    splitee_distortion_config c;
    splitee_error err = { 0, "" };
    cr_assert_eq(splitee_distortion_domain("noise", &c, &err), 0);
    cr_assert(c.kind == SPLITEE_DISTORTION_KIND_NOISE && c.sigma == 0.2 && c.seed == 20231101);
    cr_assert_eq(splitee_distortion_domain("blur", &c, &err), 0);
    cr_assert(c.kind == SPLITEE_DISTORTION_KIND_BLUR && c.sigma == 1.0);
    cr_assert_eq(splitee_distortion_domain("contrast", &c, &err), 0);
    cr_assert(c.kind == SPLITEE_DISTORTION_KIND_CONTRAST && c.factor == 0.3);
    cr_assert_eq(splitee_distortion_domain("clean", &c, &err), 0);
    cr_assert_eq(c.kind, SPLITEE_DISTORTION_KIND_NONE);
    cr_assert_eq(splitee_distortion_domain("fog", &c, &err), SPLITEE_ERR_ARG);
    cr_assert_not_null(strstr(err.msg, "'fog'"));

    splitee_distorter *d = (splitee_distorter *)1;
    static const struct { splitee_distortion_kind k; double sigma, factor; size_t r, c; int st;
                          const char *word; } bad[] = {
        { SPLITEE_DISTORTION_KIND_NOISE, 0.0, 0, 28, 28, SPLITEE_ERR_VALUE, "sigma" },
        { SPLITEE_DISTORTION_KIND_NOISE, NAN, 0, 28, 28, SPLITEE_ERR_VALUE, "sigma" },
        { SPLITEE_DISTORTION_KIND_NOISE, 0.2, 0, 3, 3, SPLITEE_ERR_ARG, "even pixel count" },
        { SPLITEE_DISTORTION_KIND_BLUR, -1.0, 0, 28, 28, SPLITEE_ERR_VALUE, "blur sigma" },
        { SPLITEE_DISTORTION_KIND_BLUR, INFINITY, 0, 28, 28, SPLITEE_ERR_VALUE, "blur sigma" },
        { SPLITEE_DISTORTION_KIND_CONTRAST, 0, NAN, 28, 28, SPLITEE_ERR_VALUE, "factor" },
        { (splitee_distortion_kind)9, 0, 0, 28, 28, SPLITEE_ERR_ARG, "unknown kind 9" },
        { SPLITEE_DISTORTION_KIND_NONE, 0, 0, 0, 28, SPLITEE_ERR_ARG, "image size" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        splitee_distortion_config_default(&c);
        c.kind = bad[i].k;
        c.sigma = bad[i].sigma;
        c.factor = bad[i].factor;
        cr_assert_eq(splitee_distorter_create(&c, bad[i].r, bad[i].c, &d, &err), bad[i].st,
                     "case %zu: %s", i, err.msg);
        cr_assert_null(d);
        cr_assert_not_null(strstr(err.msg, bad[i].word), "case %zu: %s", i, err.msg);
    }
    splitee_distorter_free(NULL);
}
