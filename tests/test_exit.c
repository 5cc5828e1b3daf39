/* test_exit.c -- the exit rule's confidence measures (exit.h) against a
 * long-double reference, on random, extreme and tied logits. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "splitee/exit.h"

/* Deterministic uniform numbers in [-1, 1) (xorshift64*). */
static double uniform(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return (double)((*s * 2685821657736338717ULL) >> 11) / 4503599627370496.0 - 1.0;
}

/* Reference confidence in long double (max-subtraction, explicit p log p). */
static long double ref_confidence(const double *z, int k, splitee_confidence kind, int *arg)
{
    long double p[128], s = 0, h = 0, second = 0;
    int m = 0;
    for (int i = 1; i < k; i++)
        if (z[i] > z[m])
            m = i;
    for (int i = 0; i < k; i++)
        s += p[i] = expl((long double)z[i] - z[m]);
    for (int i = 0; i < k; i++) {
        p[i] /= s;
        if (p[i] > 0)
            h -= p[i] * logl(p[i]);
        if (i != m && p[i] > second)
            second = p[i];
    }
    *arg = m;
    if (kind == SPLITEE_CONFIDENCE_MAX_SOFTMAX)
        return p[m];
    if (kind == SPLITEE_CONFIDENCE_ENTROPY)
        return 1 - h / logl((long double)k);
    return p[m] - second;
}

Test(exit, confidence_matches_long_double_reference)
{
    static const int ks[4] = { 2, 3, 10, 100 };
    static const double scales[4] = { 0.1, 3, 50, 1000 };
    uint64_t seed = 7;
    double z[128];
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 4; b++)
            for (int rep = 0; rep < 100; rep++) {
                for (int i = 0; i < ks[a]; i++)
                    z[i] = scales[b] * uniform(&seed);
                for (int kind = 0; kind < 3; kind++) {
                    int32_t pred;
                    int arg;
                    double c = splitee_confidence_of(z, ks[a], (splitee_confidence)kind, &pred);
                    long double r = ref_confidence(z, ks[a], (splitee_confidence)kind, &arg);
                    cr_assert(isfinite(c) && fabsl(c - r) < 1e-13L,
                              "K %d scale %g kind %d: %.17g vs %.17Lg", ks[a], scales[b], kind,
                              c, r);
                    cr_assert_eq(pred, arg);
                }
            }
}

Test(exit, confidence_of_large_logits)
{
    const double z[3] = { 1000, 999, 998 }; /* exp(1000) overflows a double */
    for (int kind = 0; kind < 3; kind++) {
        int arg;
        int32_t pred;
        double c = splitee_confidence_of(z, 3, (splitee_confidence)kind, &pred);
        long double r = ref_confidence(z, 3, (splitee_confidence)kind, &arg);
        cr_assert(fabsl(c - r) < 1e-14L, "kind %d: %.17g vs %.17Lg", kind, c, r);
        cr_assert_eq(pred, 0);
    }
    const double neg[2] = { -1000, -1001 };
    cr_assert_float_eq(splitee_confidence_of(neg, 2, SPLITEE_CONFIDENCE_MAX_SOFTMAX, NULL),
                       1 / (1 + exp(-1.0)), 1e-15);
}

Test(exit, entropy_of_uniform_is_zero_and_one_hot_is_one)
{
    double z[64];
    for (int k = 2; k <= 64; k *= 2)
        for (int v = 0; v < 3; v++) {
            for (int i = 0; i < k; i++)
                z[i] = v == 0 ? 0 : v == 1 ? 7.25 : -1000;
            double c = splitee_confidence_of(z, k, SPLITEE_CONFIDENCE_ENTROPY, NULL);
            cr_assert(c >= 0 && c < 1e-15, "K %d: %.17g", k, c);
            cr_assert_float_eq(splitee_confidence_of(z, k, SPLITEE_CONFIDENCE_MAX_SOFTMAX, NULL),
                               1.0 / k, 1e-15);
        }
    const double hot[4] = { 50, 0, 0, 0 }, hot2[2] = { 0, 1000 };
    double c = splitee_confidence_of(hot, 4, SPLITEE_CONFIDENCE_ENTROPY, NULL);
    cr_assert(c > 1 - 1e-15 && c <= 1, "%.17g", c);
    cr_assert_eq(splitee_confidence_of(hot2, 2, SPLITEE_CONFIDENCE_ENTROPY, NULL), 1.0);
}

Test(exit, margin_is_top1_minus_top2)
{
    const double z[3] = { log(0.2), log(0.5), log(0.3) };
    int32_t pred;
    cr_assert_float_eq(splitee_confidence_of(z, 3, SPLITEE_CONFIDENCE_MARGIN, &pred), 0.2, 1e-15);
    cr_assert_eq(pred, 1);
    cr_assert_float_eq(splitee_confidence_of(z, 3, SPLITEE_CONFIDENCE_MAX_SOFTMAX, NULL), 0.5,
                       1e-15);
    const double tie[3] = { 1, 4, 4 };
    cr_assert_eq(splitee_confidence_of(tie, 3, SPLITEE_CONFIDENCE_MARGIN, NULL), 0.0);
    const double hot[2] = { 800, -800 };
    cr_assert_eq(splitee_confidence_of(hot, 2, SPLITEE_CONFIDENCE_MARGIN, NULL), 1.0);
}

Test(exit, argmax_ties_pick_lowest_index)
{
    const double a[4] = { 1, 3, 3, 2 }, b[5] = { 0, 0, 0, 0, 0 }, c[3] = { -5, -2, -2 };
    int32_t pred = -7;
    for (int kind = 0; kind < 3; kind++) {
        splitee_confidence_of(a, 4, (splitee_confidence)kind, &pred);
        cr_assert_eq(pred, 1);
        splitee_confidence_of(b, 5, (splitee_confidence)kind, &pred);
        cr_assert_eq(pred, 0);
        splitee_confidence_of(c, 3, (splitee_confidence)kind, &pred);
        cr_assert_eq(pred, 1);
    }
}

Test(exit, confidence_edge_cases)
{
    const double z[1] = { 3 };
    int32_t pred = -7;
    for (int kind = 0; kind < 3; kind++) {
        cr_assert_eq(splitee_confidence_of(z, 1, (splitee_confidence)kind, &pred), 1.0);
        cr_assert_eq(pred, 0);
    }
    cr_assert(isnan(splitee_confidence_of(z, 0, SPLITEE_CONFIDENCE_MAX_SOFTMAX, &pred)));
    cr_assert_eq(pred, -1);
}

Test(exit, confidence_parse_and_name)
{
    splitee_confidence k = SPLITEE_CONFIDENCE_MARGIN;
    for (int i = 0; i < 3; i++) {
        const char *name = splitee_confidence_name((splitee_confidence)i);
        cr_assert_eq(splitee_confidence_parse(name, &k), 0, "%s", name);
        cr_assert_eq((int)k, i);
    }
    cr_assert_str_eq(splitee_confidence_name(SPLITEE_CONFIDENCE_MAX_SOFTMAX), "max-softmax");
    cr_assert_str_eq(splitee_confidence_name(SPLITEE_CONFIDENCE_ENTROPY), "entropy");
    cr_assert_str_eq(splitee_confidence_name(SPLITEE_CONFIDENCE_MARGIN), "margin");
    cr_assert_str_eq(splitee_confidence_name((splitee_confidence)9), "unknown");
    cr_assert_eq(splitee_confidence_parse("softmax", &k), SPLITEE_ERR_ARG);
    cr_assert_eq(splitee_confidence_parse("", &k), SPLITEE_ERR_ARG);
    cr_assert_eq(splitee_confidence_parse(NULL, &k), SPLITEE_ERR_ARG);
    cr_assert_eq((int)k, SPLITEE_CONFIDENCE_MARGIN);
}
