/* test_exit.c -- the exit rule (exit.h): the confidence measures against a
 * long-double reference, on random, extreme and tied logits; each decision
 * against a naive reference written from its definition, on random rows
 * of confidences and predictions (accepts, step by step, first); rule
 * validation, names and traits. */
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

/* ---- decisions --------------------------------------------------------------- */

/* A random row: confidences in [0, 1] (some exactly on a threshold) and
 * predictions from `classes` classes, so that runs of agreeing exits occur. */
static void random_row(uint64_t *seed, int L, int classes, double *conf, int32_t *pred)
{
    for (int i = 0; i < L; i++) {
        double u = 0.5 * (uniform(seed) + 1);
        conf[i] = u < 0.1 ? 0.75 : u;
        pred[i] = (int32_t)((0.5 * (uniform(seed) + 1)) * classes) % classes;
    }
}

/* The decisions straight from their definitions (exit.h). */
static int naive_accepts(const splitee_exit_config *c, int i, const double *conf,
                         const int32_t *pred)
{
    switch (c->kind) {
    case SPLITEE_EXIT_KIND_THRESHOLD:
        return conf[i] >= c->alpha;
    case SPLITEE_EXIT_KIND_PER_EXIT:
        return conf[i] >= (i < c->nalphas ? c->alphas[i] : 0.0);
    case SPLITEE_EXIT_KIND_PATIENCE: {      /* y_{i-P} = ... = y_i */
        if (i < c->patience)
            return 0;
        for (int j = i - c->patience; j < i; j++)
            if (pred[j] != pred[i])
                return 0;
        return 1;
    }
    case SPLITEE_EXIT_KIND_AGREEMENT: {     /* sum over the run of agreeing exits ending at i */
        int s = i;
        while (s > 0 && pred[s - 1] == pred[i])
            s--;
        double sum = 0;
        for (int j = s; j <= i; j++)
            sum += conf[j];
        return sum >= c->alpha;
    }
    default:
        return -1;
    }
}

static splitee_exit_rule make_rule(const splitee_exit_config *c, int L)
{
    splitee_exit_rule r;
    splitee_error err;
    cr_assert_eq(splitee_exit_rule_init(&r, c, L, &err), 0, "%s", err.msg);
    return r;
}

/* accepts, step and first agree with the naive rule on every exit of many
 * random rows. */
static void check_rule(const splitee_exit_config *c, int L, int classes, uint64_t seed)
{
    splitee_exit_rule r = make_rule(c, L);
    double conf[SPLITEE_MAX_EXITS];
    int32_t pred[SPLITEE_MAX_EXITS];
    for (int rep = 0; rep < 2000; rep++) {
        random_row(&seed, L, classes, conf, pred);
        splitee_exit_state st;
        splitee_exit_begin(&r, &st);
        int first = -1;
        for (int i = 0; i < L; i++) {
            int want = naive_accepts(c, i, conf, pred);
            cr_assert_eq(splitee_exit_accepts(&r, i, conf, pred), want, "%s exit %d row %d",
                         splitee_exit_kind_name(c->kind), i, rep);
            cr_assert_eq(splitee_exit_step(&r, &st, conf[i], pred[i]), want, "%s step %d row %d",
                         splitee_exit_kind_name(c->kind), i, rep);
            if (want && first < 0)
                first = i;
            int firstupto = -1;
            for (int j = 0; j <= i && firstupto < 0; j++)
                if (naive_accepts(c, j, conf, pred))
                    firstupto = j;
            cr_assert_eq(splitee_exit_first(&r, i, conf, pred), firstupto);
        }
        cr_assert_eq(splitee_exit_step(&r, &st, 1.0, pred[0]), 0, "a step past the last exit");
        cr_assert_eq(splitee_exit_first(&r, L - 1, conf, pred), first);
    }
}

Test(exit, threshold_matches_naive_reference)
{
    splitee_exit_config c;
    splitee_exit_config_default(&c);
    cr_assert_eq(c.kind, SPLITEE_EXIT_KIND_THRESHOLD);
    cr_assert_eq(c.alpha, 0.8);
    cr_assert_eq(c.confidence, SPLITEE_CONFIDENCE_MAX_SOFTMAX);
    check_rule(&c, 12, 3, 1);
    c.alpha = 0.75;    /* rows hold 0.75 exactly: the threshold is inclusive */
    check_rule(&c, 12, 3, 2);
    c.alpha = 0;
    check_rule(&c, 1, 2, 3);
    c.alpha = 1;
    check_rule(&c, 64, 2, 4);
}

Test(exit, per_exit_matches_naive_reference)
{
    double a[12];
    uint64_t seed = 11;
    for (int i = 0; i < 12; i++)
        a[i] = 0.5 * (uniform(&seed) + 1);
    a[3] = 0.75;
    splitee_exit_config c;
    splitee_exit_config_default(&c);
    c.kind = SPLITEE_EXIT_KIND_PER_EXIT;
    c.alphas = a;
    c.nalphas = 11;    /* the last exit's threshold is then 0 */
    check_rule(&c, 12, 3, 5);
    c.nalphas = 12;
    check_rule(&c, 12, 3, 6);
    c.nalphas = 0;
    check_rule(&c, 1, 3, 7);
}

Test(exit, patience_matches_naive_reference)
{
    splitee_exit_config c;
    splitee_exit_config_default(&c);
    c.kind = SPLITEE_EXIT_KIND_PATIENCE;
    for (int P = 1; P <= 4; P++) {
        c.patience = P;
        check_rule(&c, 12, 2, 20 + (uint64_t)P);
        check_rule(&c, 12, 4, 30 + (uint64_t)P);
    }
    c.patience = 12;    /* never reached before the last exit, nor at it */
    check_rule(&c, 12, 1, 40);
}

Test(exit, patience_is_pabee_counter)
{
    /* PABEE: the counter counts predictions equal to the one before; with
     * patience 2 exit 3 (0-based 2) is the first that can stop */
    splitee_exit_config c;
    splitee_exit_config_default(&c);
    c.kind = SPLITEE_EXIT_KIND_PATIENCE;
    c.patience = 2;
    splitee_exit_rule r = make_rule(&c, 6);
    const double conf[6] = { 0.1, 0.2, 0.3, 0.4, 0.5, 0.6 };
    const int32_t same[6] = { 4, 4, 4, 4, 4, 4 }, broken[6] = { 1, 1, 2, 2, 2, 3 };
    cr_assert_eq(splitee_exit_first(&r, 5, conf, same), 2);
    cr_assert_eq(splitee_exit_first(&r, 5, conf, broken), 4);
    cr_assert_eq(splitee_exit_first(&r, 3, conf, broken), -1);
    /* confidences play no part */
    const double zero[6] = { 0 };
    cr_assert_eq(splitee_exit_first(&r, 5, zero, same), 2);
}

Test(exit, agreement_matches_naive_reference)
{
    splitee_exit_config c;
    splitee_exit_config_default(&c);
    c.kind = SPLITEE_EXIT_KIND_AGREEMENT;
    const double alphas[] = { 0.0, 0.75, 1.5, 2.2, 4.0 };
    for (int k = 0; k < 5; k++) {
        c.alpha = alphas[k];
        check_rule(&c, 12, 2, 50 + (uint64_t)k);
        check_rule(&c, 12, 3, 60 + (uint64_t)k);
    }
    /* hand-worked: 0.5 + 0.6 = 1.1 reaches 1 at exit 2; a change restarts */
    c.alpha = 1.0;
    splitee_exit_rule r = make_rule(&c, 4);
    const double conf[4] = { 0.5, 0.6, 0.9, 0.95 };
    const int32_t agree[4] = { 7, 7, 7, 7 }, change[4] = { 7, 8, 8, 8 };
    cr_assert_eq(splitee_exit_first(&r, 3, conf, agree), 1);
    cr_assert_eq(splitee_exit_first(&r, 3, conf, change), 2);   /* 0.6 + 0.9 */
}

Test(exit, rules_reading_predictions_accept_nothing_without_them)
{
    const double conf[4] = { 1, 1, 1, 1 };
    splitee_exit_config c;
    splitee_exit_config_default(&c);
    for (int k = SPLITEE_EXIT_KIND_PATIENCE; k <= SPLITEE_EXIT_KIND_AGREEMENT; k++) {
        c.kind = (splitee_exit_kind)k;
        c.alpha = 0.5;
        c.patience = 1;
        splitee_exit_rule r = make_rule(&c, 4);
        cr_assert(splitee_exit_kind_info(c.kind)->reads_pred);
        for (int i = 0; i < 4; i++)
            cr_assert_eq(splitee_exit_accepts(&r, i, conf, NULL), 0);
        cr_assert_eq(splitee_exit_first(&r, 3, conf, NULL), -1);
    }
    c.kind = SPLITEE_EXIT_KIND_THRESHOLD;    /* a thresholds rule never reads them */
    splitee_exit_rule r = make_rule(&c, 4);
    cr_assert_eq(splitee_exit_first(&r, 3, conf, NULL), 0);
    cr_assert_eq(splitee_exit_accepts(&r, 2, conf, NULL), 1);
}

Test(exit, rule_init_checks_what_the_kind_reads)
{
    splitee_exit_config c;
    splitee_exit_rule r;
    splitee_error err;
    splitee_exit_config_default(&c);
    c.alpha = 1.5;
    cr_assert_eq(splitee_exit_rule_init(&r, &c, 12, &err), SPLITEE_ERR_VALUE);
    cr_assert_str_eq(err.msg, "alpha (exit threshold) must be in [0, 1] (got 1.5)");
    c.alpha = NAN;
    cr_assert_eq(splitee_exit_rule_init(&r, &c, 12, &err), SPLITEE_ERR_VALUE);
    c.kind = SPLITEE_EXIT_KIND_PATIENCE;     /* patience does not read alpha */
    cr_assert_eq(splitee_exit_rule_init(&r, &c, 12, &err), 0, "%s", err.msg);
    c.patience = 0;
    cr_assert_eq(splitee_exit_rule_init(&r, &c, 12, &err), SPLITEE_ERR_VALUE);
    cr_assert(strstr(err.msg, "patience"), "%s", err.msg);
    c.patience = SPLITEE_MAX_EXITS + 1;
    cr_assert_eq(splitee_exit_rule_init(&r, &c, 12, &err), SPLITEE_ERR_VALUE);
    c.kind = SPLITEE_EXIT_KIND_AGREEMENT;
    c.alpha = 2.5;                      /* a sum may exceed 1 */
    cr_assert_eq(splitee_exit_rule_init(&r, &c, 12, &err), 0, "%s", err.msg);
    c.alpha = -0.1;
    cr_assert_eq(splitee_exit_rule_init(&r, &c, 12, &err), SPLITEE_ERR_VALUE);
    cr_assert(strstr(err.msg, "agreement"), "%s", err.msg);
    c.alpha = INFINITY;
    cr_assert_eq(splitee_exit_rule_init(&r, &c, 12, &err), SPLITEE_ERR_VALUE);
    double a[4] = { 0.9, 0.8, 1.2, 0.5 };
    c.kind = SPLITEE_EXIT_KIND_PER_EXIT;
    c.alpha = 7;                        /* per-exit does not read alpha */
    c.alphas = a;
    c.nalphas = 2;
    cr_assert_eq(splitee_exit_rule_init(&r, &c, 4, &err), SPLITEE_ERR_ARG);
    cr_assert(strstr(err.msg, "2 thresholds given for 4 exits"), "%s", err.msg);
    c.nalphas = 3;
    cr_assert_eq(splitee_exit_rule_init(&r, &c, 4, &err), SPLITEE_ERR_VALUE);
    cr_assert(strstr(err.msg, "alpha_3"), "%s", err.msg);
    a[2] = 0.7;
    cr_assert_eq(splitee_exit_rule_init(&r, &c, 4, &err), 0, "%s", err.msg);
    c.alphas = NULL;
    cr_assert_eq(splitee_exit_rule_init(&r, &c, 4, &err), SPLITEE_ERR_ARG);
    splitee_exit_config_default(&c);
    c.kind = (splitee_exit_kind)SPLITEE_EXIT_KIND_COUNT;
    cr_assert_eq(splitee_exit_rule_init(&r, &c, 4, &err), SPLITEE_ERR_ARG);
    c.kind = SPLITEE_EXIT_KIND_THRESHOLD;
    c.confidence = (splitee_confidence)SPLITEE_CONFIDENCE_COUNT;
    cr_assert_eq(splitee_exit_rule_init(&r, &c, 4, &err), SPLITEE_ERR_ARG);
    c.confidence = SPLITEE_CONFIDENCE_ENTROPY;
    cr_assert_eq(splitee_exit_rule_init(&r, &c, 0, &err), SPLITEE_ERR_ARG);
    cr_assert_eq(splitee_exit_rule_init(&r, &c, SPLITEE_MAX_EXITS + 1, &err), SPLITEE_ERR_ARG);
    cr_assert_eq(splitee_exit_rule_init(&r, &c, SPLITEE_MAX_EXITS, &err), 0);
    cr_assert_eq(r.confidence, SPLITEE_CONFIDENCE_ENTROPY);
    cr_assert_eq(splitee_exit_rule_init(NULL, &c, 4, &err), SPLITEE_ERR_ARG);
}

Test(exit, kind_names_traits_and_lists)
{
    for (int k = 0; k < SPLITEE_EXIT_KIND_COUNT; k++) {
        const splitee_exit_info *in = splitee_exit_kind_info((splitee_exit_kind)k);
        cr_assert(in && in->name[0] && in->summary[0], "kind %d", k);
        splitee_exit_kind back = SPLITEE_EXIT_KIND_COUNT;
        cr_assert_eq(splitee_exit_kind_parse(in->name, &back), 0, "%s", in->name);
        cr_assert_eq((int)back, k);
        cr_assert_str_eq(splitee_exit_kind_name((splitee_exit_kind)k), in->name);
        cr_assert_neq(in->params, 0u, "%s", in->name);
        if (in->stream) {   /* a stream rule: theta, and no per-sample decision before the last exit */
            cr_assert_eq(in->params, (unsigned)SPLITEE_EXIT_PARAM_THETA, "%s", in->name);
            cr_assert(!in->thresholds && !in->reads_pred && !in->reads_lower, "%s", in->name);
            continue;
        }
        /* a thresholds kind reads nothing but C_i; the others read predictions */
        cr_assert_eq(in->thresholds, !in->reads_pred, "%s", in->name);
        cr_assert_eq(in->reads_lower, in->reads_pred, "%s", in->name);
    }
    cr_assert_null(splitee_exit_kind_info(SPLITEE_EXIT_KIND_COUNT));
    cr_assert_str_eq(splitee_exit_kind_name(SPLITEE_EXIT_KIND_COUNT), "unknown");
    splitee_exit_kind k = SPLITEE_EXIT_KIND_AGREEMENT;
    cr_assert_eq(splitee_exit_kind_parse("pabee", &k), SPLITEE_ERR_ARG);
    cr_assert_eq(splitee_exit_kind_parse(NULL, &k), SPLITEE_ERR_ARG);
    cr_assert_eq(k, SPLITEE_EXIT_KIND_AGREEMENT);
    char buf[128];
    cr_assert_eq(splitee_exit_kind_list(buf, sizeof buf), strlen("threshold, per-exit, patience, agreement, difference or temporal-patience"));
    cr_assert_str_eq(buf, "threshold, per-exit, patience, agreement, difference or temporal-patience");
    cr_assert_eq(splitee_confidence_list(buf, sizeof buf), strlen("max-softmax, entropy or margin"));
    cr_assert_str_eq(buf, "max-softmax, entropy or margin");
    cr_assert_eq(splitee_confidence_list(buf, 8), strlen("max-softmax, entropy or margin"));
    cr_assert_str_eq(buf, "max-sof");
    cr_assert_eq(splitee_exit_kind_list(NULL, 0), strlen("threshold, per-exit, patience, agreement, difference or temporal-patience"));
}

Test(exit, describe_names_the_parameters_it_reads)
{
    splitee_exit_config c;
    splitee_exit_config_default(&c);
    char buf[128];
    splitee_exit_rule r = make_rule(&c, 3);
    splitee_exit_rule_describe(&r, buf, sizeof buf);
    cr_assert_str_eq(buf, "threshold 0.8 on max-softmax");
    c.kind = SPLITEE_EXIT_KIND_PATIENCE;
    c.patience = 3;
    c.confidence = SPLITEE_CONFIDENCE_ENTROPY;
    r = make_rule(&c, 3);
    splitee_exit_rule_describe(&r, buf, sizeof buf);
    cr_assert_str_eq(buf, "patience 3 on entropy");
    double a[2] = { 0.9, 0.3 };
    c.kind = SPLITEE_EXIT_KIND_PER_EXIT;
    c.alphas = a;
    c.nalphas = 2;
    c.confidence = SPLITEE_CONFIDENCE_MARGIN;
    r = make_rule(&c, 3);
    splitee_exit_rule_describe(&r, buf, sizeof buf);
    cr_assert_str_eq(buf, "per-exit 0.9,0.3 on margin");
    splitee_exit_rule_describe(&r, buf, 6);
    cr_assert_str_eq(buf, "per-e");
}

/* ---- stream rules ------------------------------------------------------------ */

/* A synthetic stream: scenes of random length, each a random "true" class
 * whose logits every exit shows with noise shrinking along the exits, so
 * that early exits disagree sometimes and distances vary. (n, L, K). */
static void synthetic_stream(uint64_t seed, int n, int L, int K, double *z)
{
    int cls = 0, left = 0;
    for (int t = 0; t < n; t++) {
        if (left-- <= 0) {
            cls = (int)((0.5 * (uniform(&seed) + 1)) * K) % K;
            left = 1 + (int)((0.5 * (uniform(&seed) + 1)) * 12);
        }
        for (int e = 0; e < L; e++)
            for (int k = 0; k < K; k++)
                z[((size_t)t * L + e) * K + k] = (k == cls ? 2.0 : 0.0) + (3.0 / (e + 1)) * uniform(&seed);
    }
}

static int naive_argmax(const double *z, int K)
{
    int m = 0;
    for (int k = 1; k < K; k++)
        if (z[k] > z[m])
            m = k;
    return m;
}

/* L1 between softmax vectors, written out in long double. */
static double naive_l1(const double *a, const double *b, int K)
{
    long double sa = 0, sb = 0, d = 0;
    for (int k = 0; k < K; k++) {
        sa += expl((long double)a[k]);
        sb += expl((long double)b[k]);
    }
    for (int k = 0; k < K; k++)
        d += fabsl(expl((long double)a[k]) / sa - expl((long double)b[k]) / sb);
    return (double)d;
}

/* The stream rules straight from their definitions (exit.h), frame by
 * frame: the reference frame index, its probe exit and its label. */
static void naive_stream(splitee_exit_kind kind, double theta, const double *z, int n, int L, int K,
                         int32_t *label, int *exit, int *rerun)
{
    int ref = -1, probe = 0;
    int32_t ref_label = -1;
    for (int t = 0; t < n; t++) {
        const double *row = z + (size_t)t * L * K;
        int reuse = 0;
        if (ref >= 0 && probe < L - 1) {
            double d = naive_l1(row + (size_t)probe * K, z + ((size_t)ref * L + probe) * K, K);
            reuse = d < theta && (kind == SPLITEE_EXIT_KIND_DIFFERENCE ||
                                  naive_argmax(row + (size_t)probe * K, K) == ref_label);
        }
        if (reuse) {
            label[t] = ref_label;
            exit[t] = probe;
            rerun[t] = 0;
            continue;
        }
        ref = t;
        ref_label = naive_argmax(row + (size_t)(L - 1) * K, K);
        probe = 0;
        if (kind == SPLITEE_EXIT_KIND_TEMPORAL_PATIENCE) {
            probe = L - 1;
            for (int e = L - 2; e >= 0; e--)
                if (naive_argmax(row + (size_t)e * K, K) == ref_label)
                    probe = e;
        }
        label[t] = ref_label;
        exit[t] = L - 1;
        rerun[t] = 1;
    }
}

static splitee_exit_rule stream_rule(splitee_exit_kind kind, double theta, int L)
{
    splitee_exit_config c;
    splitee_exit_config_default(&c);
    c.kind = kind;
    c.theta = theta;
    return make_rule(&c, L);
}

Test(exit, stream_rules_match_naive_reference)
{
    enum { N = 600, L = 6, K = 5 };
    static double z[N * L * K];
    static int32_t want_label[N];
    static int want_exit[N], want_rerun[N];
    const splitee_exit_kind kinds[] = { SPLITEE_EXIT_KIND_DIFFERENCE, SPLITEE_EXIT_KIND_TEMPORAL_PATIENCE };
    const double thetas[] = { 0.0, 0.2, 0.5, 0.9, 1.4, 2.0 };
    for (uint64_t seed = 1; seed <= 3; seed++) {
        synthetic_stream(seed * 7919, N, L, K, z);
        for (size_t ki = 0; ki < 2; ki++)
            for (size_t ti = 0; ti < sizeof thetas / sizeof *thetas; ti++) {
                splitee_exit_rule r = stream_rule(kinds[ki], thetas[ti], L);
                naive_stream(kinds[ki], thetas[ti], z, N, L, K, want_label, want_exit, want_rerun);
                splitee_exit_stream *st;
                splitee_error err;
                cr_assert_eq(splitee_exit_stream_create(&r, K, &st, &err), 0, "%s", err.msg);
                int reruns = 0;
                for (int pass = 0; pass < 2; pass++) {   /* reset starts the stream again */
                    splitee_exit_stream_reset(st);
                    for (int t = 0; t < N; t++) {
                        const double *row = z + (size_t)t * L * K;
                        int probe = splitee_exit_stream_probe(st);
                        splitee_exit_frame f;
                        if (pass == 0) {
                            splitee_exit_stream_frame(st, row, &f);
                        } else {   /* two-phase, as a device runs it */
                            int32_t y = -7;
                            f.rerun = !splitee_exit_stream_check(st, row + (size_t)probe * K, &y);
                            f.exit = f.rerun ? L - 1 : probe;
                            f.label = f.rerun ? splitee_exit_stream_update(st, row) : y;
                        }
                        cr_assert_eq(f.label, want_label[t], "%s theta %g frame %d",
                                     splitee_exit_kind_name(kinds[ki]), thetas[ti], t);
                        cr_assert_eq(f.exit, want_exit[t], "%s theta %g frame %d",
                                     splitee_exit_kind_name(kinds[ki]), thetas[ti], t);
                        cr_assert_eq(f.rerun, want_rerun[t]);
                        reruns += f.rerun;
                    }
                }
                splitee_exit_stream_free(st);
                if (thetas[ti] == 0.0)   /* theta 0: every frame runs the whole model */
                    cr_assert_eq(reruns, 2 * N);
                if (thetas[ti] == 2.0 && kinds[ki] == SPLITEE_EXIT_KIND_DIFFERENCE)
                    cr_assert_lt(reruns, 2 * N / 10);   /* almost never (L1 < 2 unless disjoint) */
            }
    }
}

Test(exit, stream_distance_is_l1_between_softmax)
{
    uint64_t seed = 99;
    double a[10], b[10];
    for (int rep = 0; rep < 200; rep++) {
        for (int k = 0; k < 10; k++) {
            a[k] = 8 * uniform(&seed);
            b[k] = 8 * uniform(&seed);
        }
        double d = splitee_softmax_l1(a, b, 10);
        cr_assert_float_eq(d, naive_l1(a, b, 10), 1e-12);
        cr_assert(d >= 0 && d <= 2);
        cr_assert_eq(splitee_softmax_l1(a, a, 10), 0.0);
    }
    /* large logits: max-subtraction keeps it finite */
    double big[3] = { 1000, 0, -1000 }, other[3] = { -1000, 0, 1000 };
    cr_assert_float_eq(splitee_softmax_l1(big, other, 3), 2.0, 1e-12);
    cr_assert(isnan(splitee_softmax_l1(a, b, 0)));
}

Test(exit, stream_rules_refuse_bad_theta_and_non_stream_rules)
{
    splitee_exit_config c;
    splitee_exit_config_default(&c);
    cr_assert_float_eq(c.theta, 0.5, 0);
    splitee_exit_rule r;
    splitee_error err;
    const double bad[] = { -0.1, 2.5, NAN, INFINITY };
    c.kind = SPLITEE_EXIT_KIND_DIFFERENCE;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        c.theta = bad[i];
        cr_assert_eq(splitee_exit_rule_init(&r, &c, 4, &err), SPLITEE_ERR_VALUE);
        cr_assert(strstr(err.msg, "theta (stream distance threshold, L1 between softmax vectors) must be in [0, 2]"),
                  "%s", err.msg);
    }
    c.theta = 2.0;
    cr_assert_eq(splitee_exit_rule_init(&r, &c, 4, &err), 0);
    char d[96];
    splitee_exit_rule_describe(&r, d, sizeof d);
    cr_assert_str_eq(d, "difference theta 2 (L1 on softmax)");
    splitee_exit_stream *st = (splitee_exit_stream *)&r;
    cr_assert_eq(splitee_exit_stream_create(&r, 0, &st, &err), SPLITEE_ERR_ARG);
    cr_assert_null(st);
    c.kind = SPLITEE_EXIT_KIND_PATIENCE;   /* theta is not checked for a rule that does not read it */
    c.theta = -5;
    cr_assert_eq(splitee_exit_rule_init(&r, &c, 4, &err), 0);
    cr_assert_eq(splitee_exit_stream_create(&r, 10, &st, &err), SPLITEE_ERR_ARG);
    cr_assert_str_eq(err.msg, "exit rule patience keeps no state across samples (not a stream rule)");
    splitee_exit_stream_free(NULL);
}

Test(exit, stream_rule_per_sample_runs_the_whole_model)
{
    splitee_exit_rule r = stream_rule(SPLITEE_EXIT_KIND_TEMPORAL_PATIENCE, 0.5, 5);
    double conf[5] = { 1, 1, 1, 1, 1 };
    int32_t pred[5] = { 2, 2, 2, 2, 2 };
    for (int i = 0; i < 5; i++)
        cr_assert_eq(splitee_exit_accepts(&r, i, conf, pred), i == 4);
    cr_assert_eq(splitee_exit_first(&r, 3, conf, pred), -1);
    cr_assert_eq(splitee_exit_first(&r, 4, conf, pred), 4);
}

Test(exit, stream_check_without_reference_reruns)
{
    splitee_exit_rule r = stream_rule(SPLITEE_EXIT_KIND_DIFFERENCE, 1.0, 3);
    splitee_exit_stream *st;
    splitee_error err;
    cr_assert_eq(splitee_exit_stream_create(&r, 2, &st, &err), 0);
    double z[3 * 2] = { 5, 0, 0, 5, 1, 0 };   /* exit 0 says 0, the last says 0 */
    int32_t y = -3;
    cr_assert_eq(splitee_exit_stream_check(st, z, &y), 0);
    cr_assert(isnan(splitee_exit_stream_distance(st)));
    cr_assert_eq(y, -3);
    cr_assert_eq(splitee_exit_stream_update(st, z), 0);
    cr_assert_eq(splitee_exit_stream_check(st, z, &y), 1);   /* the same frame: distance 0 */
    cr_assert_eq(y, 0);
    cr_assert_eq(splitee_exit_stream_distance(st), 0.0);
    splitee_exit_stream_reset(st);
    cr_assert_eq(splitee_exit_stream_check(st, z, NULL), 0);
    splitee_exit_stream_free(st);
}
