/* npycmp.c -- compares two exit-logit tables (.npy, float32/float64,
 * (samples, exits, classes)): the largest |A - B| overall and per exit, and
 * how often the two agree on every exit's argmax; with --labels, the
 * final-exit accuracy of each. Used by tests/test_cli.sh (engine parity on
 * the fixture) and tools/regen_tables.sh (the shipped tables against the C
 * engine's). Exit status: 0, 1 when a difference exceeds --tol, 2 on bad
 * input.
 *
 *   npycmp A.npy B.npy [--tol T] [--labels LABELS.npy] [--quiet]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "splitee/npy.h"

static double at(const splitee_array *a, size_t i)
{
    return a->dtype == SPLITEE_DTYPE_F32 ? ((const float *)a->data)[i] : ((const double *)a->data)[i];
}

static long label(const splitee_array *a, size_t i)
{
    switch (a->dtype) {
    case SPLITEE_DTYPE_I64: return (long)((const long long *)a->data)[i];
    case SPLITEE_DTYPE_I32: return ((const int *)a->data)[i];
    case SPLITEE_DTYPE_U8: return ((const unsigned char *)a->data)[i];
    default: return -1;
    }
}

static size_t argmax(const splitee_array *a, size_t base, size_t k)
{
    size_t b = 0;
    for (size_t i = 1; i < k; i++)
        if (at(a, base + i) > at(a, base + b))
            b = i;
    return b;
}

static int load(const char *path, splitee_array *a)
{
    splitee_error err = { 0, "" };
    if (splitee_npy_read(path, a, &err) < 0) {
        fprintf(stderr, "npycmp: %s\n", err.msg);
        return -1;
    }
    if (a->ndim != 3 || (a->dtype != SPLITEE_DTYPE_F32 && a->dtype != SPLITEE_DTYPE_F64)) {
        fprintf(stderr, "npycmp: %s: expected a float (samples, exits, classes) array\n", path);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *pa = NULL, *pb = NULL, *pl = NULL;
    double tol = INFINITY;
    int quiet = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--tol") == 0 && i + 1 < argc)
            tol = atof(argv[++i]);
        else if (strcmp(argv[i], "--labels") == 0 && i + 1 < argc)
            pl = argv[++i];
        else if (strcmp(argv[i], "--quiet") == 0)
            quiet = 1;
        else if (!pa)
            pa = argv[i];
        else if (!pb)
            pb = argv[i];
        else {
            fprintf(stderr, "usage: npycmp A.npy B.npy [--tol T] [--labels L.npy] [--quiet]\n");
            return 2;
        }
    }
    if (!pb) {
        fprintf(stderr, "usage: npycmp A.npy B.npy [--tol T] [--labels L.npy] [--quiet]\n");
        return 2;
    }
    splitee_array a = { 0 }, b = { 0 }, l = { 0 };
    int rc = 2;
    if (load(pa, &a) < 0 || load(pb, &b) < 0)
        goto done;
    if (memcmp(a.shape, b.shape, 3 * sizeof *a.shape) != 0) {
        fprintf(stderr, "npycmp: %s is (%zu, %zu, %zu) but %s is (%zu, %zu, %zu)\n", pa,
                a.shape[0], a.shape[1], a.shape[2], pb, b.shape[0], b.shape[1], b.shape[2]);
        goto done;
    }
    size_t n = a.shape[0], e = a.shape[1], k = a.shape[2];
    if (pl) {
        splitee_error err = { 0, "" };
        if (splitee_npy_read(pl, &l, &err) < 0) {
            fprintf(stderr, "npycmp: %s\n", err.msg);
            goto done;
        }
        if (l.ndim != 1 || l.shape[0] != n) {
            fprintf(stderr, "npycmp: %s: expected %zu labels\n", pl, n);
            goto done;
        }
    }
    double worst = 0, exit_worst[256] = { 0 };
    size_t ws = 0, we = 0, disagree = 0, exit_disagree[256] = { 0 }, ca = 0, cb = 0;
    for (size_t s = 0; s < n; s++)
        for (size_t x = 0; x < e; x++) {
            size_t base = (s * e + x) * k;
            for (size_t c = 0; c < k; c++) {
                double d = fabs(at(&a, base + c) - at(&b, base + c));
                if (!(d <= worst)) {   /* NaN counts as worst */
                    worst = d;
                    ws = s;
                    we = x;
                }
                if (x < 256 && d > exit_worst[x])
                    exit_worst[x] = d;
            }
            size_t ma = argmax(&a, base, k), mb = argmax(&b, base, k);
            if (ma != mb) {
                disagree++;
                if (x < 256)
                    exit_disagree[x]++;
            }
            if (pl && x == e - 1) {
                ca += (long)ma == label(&l, s);
                cb += (long)mb == label(&l, s);
            }
        }
    printf("(%zu, %zu, %zu): max |A - B| %.3g (sample %zu, exit %zu); argmax agreement %.4f%% "
           "(%zu of %zu exit predictions differ)\n", n, e, k, worst, ws, we + 1,
           100.0 * (1.0 - (double)disagree / (double)(n * e)), disagree, n * e);
    if (!quiet) {
        printf("per exit max |A - B|:");
        for (size_t x = 0; x < e && x < 256; x++)
            printf(" %.2g", exit_worst[x]);
        printf("\nper exit argmax disagreements:");
        for (size_t x = 0; x < e && x < 256; x++)
            printf(" %zu", exit_disagree[x]);
        printf("\n");
    }
    if (pl)
        printf("final-exit accuracy: A %.4f, B %.4f\n", (double)ca / (double)n, (double)cb / (double)n);
    rc = worst <= tol ? 0 : 1;
    if (rc)
        printf("max |A - B| %.3g exceeds the tolerance %.3g\n", worst, tol);
done:
    splitee_array_free(&a);
    splitee_array_free(&b);
    splitee_array_free(&l);
    return rc;
}
