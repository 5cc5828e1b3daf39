/* risk.c -- risk control for the early-exit threshold (risk.h): per-sample
 * losses over the threshold grid, the Hoeffding-Bentkus and
 * Waudby-Smith-Ramdas bounds, and fixed-sequence calibration by each method. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

#include "core/internal.h"
#include "core/stats.h"
#include "splitee/risk.h"

static const char *const RISK_NAMES[SPLITEE_RISK_COUNT] = { "prediction-gap", "consistency",
                                                            "brier-gap" };
static const char *const FORM_NAMES[SPLITEE_RISK_FORM_COUNT] = { "early-exit", "split" };
static const char *const METHOD_NAMES[SPLITEE_CALIB_COUNT] = { "naive", "crc", "ucb-hb",
                                                               "ucb-wsr", "ltt" };

double splitee_risk_grid_value(int j)
{
    if (j < 0 || j >= SPLITEE_RISK_GRID)
        return NAN;
    return (double)(SPLITEE_RISK_GRID - 1 - j) / (double)(SPLITEE_RISK_GRID - 1);
}

int splitee_risk_kind_parse(const char *s, splitee_risk_kind *out)
{
    for (int i = 0; s && i < SPLITEE_RISK_COUNT; i++)
        if (strcmp(s, RISK_NAMES[i]) == 0) {
            *out = (splitee_risk_kind)i;
            return 0;
        }
    return SPLITEE_ERR_ARG;
}

const char *splitee_risk_kind_name(splitee_risk_kind k)
{
    return (unsigned)k < SPLITEE_RISK_COUNT ? RISK_NAMES[k] : "unknown";
}

int splitee_risk_form_parse(const char *s, splitee_risk_form *out)
{
    for (int i = 0; s && i < SPLITEE_RISK_FORM_COUNT; i++)
        if (strcmp(s, FORM_NAMES[i]) == 0) {
            *out = (splitee_risk_form)i;
            return 0;
        }
    return SPLITEE_ERR_ARG;
}

const char *splitee_risk_form_name(splitee_risk_form f)
{
    return (unsigned)f < SPLITEE_RISK_FORM_COUNT ? FORM_NAMES[f] : "unknown";
}

int splitee_risk_kind_needs_labels(splitee_risk_kind k)
{
    return k != SPLITEE_RISK_CONSISTENCY;
}

int splitee_calib_method_parse(const char *s, splitee_calib_method *out)
{
    for (int i = 0; s && i < SPLITEE_CALIB_COUNT; i++)
        if (strcmp(s, METHOD_NAMES[i]) == 0) {
            *out = (splitee_calib_method)i;
            return 0;
        }
    return SPLITEE_ERR_ARG;
}

const char *splitee_calib_method_name(splitee_calib_method m)
{
    return (unsigned)m < SPLITEE_CALIB_COUNT ? METHOD_NAMES[m] : "unknown";
}

void splitee_risk_range(splitee_risk_kind k, int clamp, double *lo, double *hi)
{
    double b = k == SPLITEE_RISK_BRIER_GAP ? 2.0 : 1.0;
    *hi = b;
    *lo = clamp || k == SPLITEE_RISK_CONSISTENCY ? 0.0 : -b;
}

void splitee_risk_config_default(splitee_risk_config *cfg)
{
    cfg->risk = SPLITEE_RISK_CONSISTENCY;
    cfg->clamp = 0;
    cfg->confidence = SPLITEE_CONFIDENCE_MAX_SOFTMAX;
    cfg->form = SPLITEE_RISK_FORM_EARLY_EXIT;
}

void splitee_calib_config_default(splitee_calib_config *cfg)
{
    cfg->method = SPLITEE_CALIB_LTT;
    cfg->epsilon = 0.05;
    cfg->delta = 0.1;
}

/* ---- bounds ---------------------------------------------------------------- */

/* h1(a, b) = a ln(a/b) + (1-a) ln((1-a)/(1-b)), 0 ln 0 = 0. */
static double h1(double a, double b)
{
    double s = 0;
    if (a > 0)
        s += a * log(a / b);
    if (a < 1)
        s += (1 - a) * log((1 - a) / (1 - b));
    return s;
}

double splitee_risk_hb_pvalue(double rhat, size_t n, double eps)
{
    if (n == 0)
        return 1.0;
    if (rhat < 0)
        rhat = 0;
    if (rhat > 1)
        rhat = 1;
    double hoeff = exp(-(double)n * h1(fmin(rhat, eps), eps));
    /* ceil(n rhat), forgiving the rounding of a mean of whole losses */
    double k = ceil((double)n * rhat - 1e-9);
    if (k < 0)
        k = 0;
    double bent = k >= (double)n ? 1.0
                                 : M_E * gsl_cdf_binomial_P((unsigned)k, eps, (unsigned)n);
    double p = fmin(hoeff, bent);
    return p > 1 ? 1 : p;
}

double splitee_risk_hb_ucb(double rhat, size_t n, double delta)
{
    if (rhat < 0)
        rhat = 0;
    if (rhat >= 1 || n == 0)
        return 1.0;
    double lo = rhat, hi = 1.0;
    if (splitee_risk_hb_pvalue(rhat, n, lo) < delta)
        return lo;
    while (hi - lo > 1e-12) {
        double mid = 0.5 * (lo + hi);
        if (splitee_risk_hb_pvalue(rhat, n, mid) >= delta)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* K(mu) of risk.h; `zero`: every x is lo (the best case), x unread. */
static double wsr_k(const double *x, const size_t *idx, size_t n, double lo, double hi,
                    double delta, double mu, int zero)
{
    double sumx = 0, sumsq = 0, s2prev = 0.25, cum = 0, best = -INFINITY;
    double c = 2 * log(1 / delta) / (double)n;
    for (size_t i = 0; i < n; i++) {
        double v = zero ? 0.0 : (x[idx ? idx[i] : i] - lo) / (hi - lo);
        double nu = fmin(1.0, sqrt(c / s2prev));
        double term = 1 - nu * (v - mu);
        cum = term > 0 ? cum + log(term) : -INFINITY;
        if (cum > best)
            best = cum;
        sumx += v;
        double muhat = (sumx + 0.5) / (double)(i + 2);
        sumsq += (v - muhat) * (v - muhat);
        s2prev = (sumsq + 0.25) / (double)(i + 2);
    }
    return best + log(delta);
}

double splitee_risk_wsr_k(const double *x, const size_t *idx, size_t n, double lo, double hi,
                          double delta, double mu)
{
    return wsr_k(x, idx, n, lo, hi, delta, mu, 0);
}

static double wsr_ucb(const double *x, const size_t *idx, size_t n, double lo, double hi,
                      double delta, int zero)
{
    if (n == 0 || wsr_k(x, idx, n, lo, hi, delta, 1.0, zero) < 0)
        return 1.0;
    double a = 0.0, b = 1.0; /* K(a) < 0 <= K(b) */
    if (wsr_k(x, idx, n, lo, hi, delta, 0.0, zero) >= 0)
        return 0.0;
    while (b - a > 1e-12) {
        double mid = 0.5 * (a + b);
        if (wsr_k(x, idx, n, lo, hi, delta, mid, zero) >= 0)
            b = mid;
        else
            a = mid;
    }
    return b;
}

double splitee_risk_wsr_ucb(const double *x, const size_t *idx, size_t n, double lo,
                            double hi, double delta)
{
    return wsr_ucb(x, idx, n, lo, hi, delta, 0);
}

/* ---- calibration ---------------------------------------------------------- */

/* Whether the method's test passes for one row (`zero`: every loss at lo);
 * *stat gets its statistic (loss units, ltt: the p-value). */
static int passes(const double *row, const size_t *idx, size_t n, double lo, double hi,
                  const splitee_calib_config *cfg, int zero, double *rhat_out, double *stat)
{
    double rhat;
    if (zero) {
        rhat = lo;
    } else {
        long double s = 0;
        for (size_t m = 0; m < n; m++)
            s += row[idx ? idx[m] : m];
        rhat = (double)(s / (long double)n);
    }
    *rhat_out = rhat;
    double w = hi - lo, r01 = (rhat - lo) / w, e01 = (cfg->epsilon - lo) / w;
    switch (cfg->method) {
    case SPLITEE_CALIB_NAIVE:
        *stat = rhat;
        return rhat <= cfg->epsilon;
    case SPLITEE_CALIB_CRC:
        *stat = (((double)n + 1) * cfg->epsilon - hi) / (double)n;
        return rhat <= *stat;
    case SPLITEE_CALIB_UCB_HB: {
        double u = splitee_risk_hb_ucb(r01, n, cfg->delta);
        *stat = lo + w * u;
        return u <= e01;
    }
    case SPLITEE_CALIB_UCB_WSR: {
        int ok = wsr_k(row, idx, n, lo, hi, cfg->delta, e01, zero) >= 0;
        *stat = lo + w * wsr_ucb(row, idx, n, lo, hi, cfg->delta, zero);
        return ok;
    }
    case SPLITEE_CALIB_LTT:
    default:
        *stat = splitee_risk_hb_pvalue(r01, n, e01);
        return *stat <= cfg->delta;
    }
}

int splitee_risk_calibrate_losses(const double *loss, size_t stride, const size_t *idx,
                                  size_t n, int ngrid, double lo, double hi,
                                  const splitee_calib_config *cfg, splitee_calib_result *out,
                                  splitee_error *err)
{
    if (ngrid < 1)
        return splitee__fail(err, SPLITEE_ERR_ARG, "calibrate: the threshold grid is empty");
    if ((unsigned)cfg->method >= SPLITEE_CALIB_COUNT)
        return splitee__fail(err, SPLITEE_ERR_ARG, "calibrate: unknown method %d", (int)cfg->method);
    if (!(cfg->epsilon > 0 && cfg->epsilon < 1))
        return splitee__fail(err, SPLITEE_ERR_VALUE, "epsilon must be in (0, 1) (got %g)", cfg->epsilon);
    if (!(cfg->delta > 0 && cfg->delta < 1))
        return splitee__fail(err, SPLITEE_ERR_VALUE, "delta must be in (0, 1) (got %g)", cfg->delta);
    if (!(lo < hi) || !(cfg->epsilon > lo))
        return splitee__fail(err, SPLITEE_ERR_VALUE, "calibrate: loss range [%g, %g] does not fit epsilon %g",
                             lo, hi, cfg->epsilon);
    splitee__gsl_init(); /* the binomial CDF reports through GSL's handler */
    const char *mname = METHOD_NAMES[cfg->method];
    if (n == 0)
        return splitee__fail(err, SPLITEE_ERR_VALUE, "calibrate: no calibration samples");
    double r0, s0;
    if (!passes(NULL, NULL, n, lo, hi, cfg, 1, &r0, &s0)) {
        double e01 = (cfg->epsilon - lo) / (hi - lo);
        if (cfg->method == SPLITEE_CALIB_CRC)
            return splitee__fail(err, SPLITEE_ERR_VALUE,
                                 "calibrate: %zu calibration samples are too small for crc at epsilon %g "
                                 "(loss bound %g needs at least %.0f)",
                                 n, cfg->epsilon, hi, ceil((hi - cfg->epsilon) / (cfg->epsilon - lo) - 1e-9));
        if (cfg->method == SPLITEE_CALIB_UCB_WSR)
            return splitee__fail(err, SPLITEE_ERR_VALUE,
                                 "calibrate: %zu calibration samples are too small for ucb-wsr at epsilon %g, "
                                 "delta %g (no risk could pass)", n, cfg->epsilon, cfg->delta);
        return splitee__fail(err, SPLITEE_ERR_VALUE,
                             "calibrate: %zu calibration samples are too small for %s at epsilon %g, delta %g "
                             "(Hoeffding-Bentkus needs at least %.0f)",
                             n, mname, cfg->epsilon, cfg->delta, ceil(log(cfg->delta) / log1p(-e01) - 1e-9));
    }
    out->index = -1;
    out->threshold = out->risk = out->stat = out->fail_risk = out->fail_stat = NAN;
    out->tested = 0;
    for (int j = 0; j < ngrid; j++) {
        double rhat, stat;
        out->tested = j + 1;
        if (!passes(loss + (size_t)j * stride, idx, n, lo, hi, cfg, 0, &rhat, &stat)) {
            out->fail_risk = rhat;
            out->fail_stat = stat;
            break;
        }
        out->index = j;
        out->threshold = ngrid == SPLITEE_RISK_GRID ? splitee_risk_grid_value(j) : NAN;
        out->risk = rhat;
        out->stat = stat;
    }
    return 0;
}

/* ---- a table's losses ------------------------------------------------------ */

struct splitee_risk {
    splitee_risk_config cfg;
    size_t n;
    int exits;
    int layers;       /* loss matrices: 1 (early-exit) or exits - 1 (split) */
    double lo, hi;
    double *loss;     /* (layers, GRID, n) */
    uint8_t *exit;    /* (layers, GRID, n) */
};

/* Brier score of softmax(z) (classes) against label y. */
static double brier(const double *z, int classes, int32_t y)
{
    double m = z[0], s = 0, b = 0;
    for (int c = 1; c < classes; c++)
        if (z[c] > m)
            m = z[c];
    for (int c = 0; c < classes; c++)
        s += exp(z[c] - m);
    for (int c = 0; c < classes; c++) {
        double p = exp(z[c] - m) / s - (c == y ? 1.0 : 0.0);
        b += p * p;
    }
    return b;
}

int splitee_risk_create(const splitee_table *t, const splitee_risk_config *cfg,
                        splitee_risk **out, splitee_error *err)
{
    *out = NULL;
    if ((unsigned)cfg->risk >= SPLITEE_RISK_COUNT)
        return splitee__fail(err, SPLITEE_ERR_ARG, "risk: unknown risk %d", (int)cfg->risk);
    if ((unsigned)cfg->confidence >= SPLITEE_CONFIDENCE_COUNT)
        return splitee__fail(err, SPLITEE_ERR_ARG, "risk: unknown confidence measure %d",
                             (int)cfg->confidence);
    if ((unsigned)cfg->form >= SPLITEE_RISK_FORM_COUNT)
        return splitee__fail(err, SPLITEE_ERR_ARG, "risk: unknown rule form %d", (int)cfg->form);
    const int32_t *y = splitee_table_labels(t);
    if (splitee_risk_kind_needs_labels(cfg->risk) && !y)
        return splitee__fail(err, SPLITEE_ERR_ARG, "%s: the %s risk needs labels, the table has none",
                             splitee_table_name(t), RISK_NAMES[cfg->risk]);
    size_t n = splitee_table_samples(t), cells;
    int L = splitee_table_exits(t), K = splitee_table_classes(t);
    int layers = cfg->form == SPLITEE_RISK_FORM_SPLIT ? L - 1 : 1;
    if (layers < 1)
        return splitee__fail(err, SPLITEE_ERR_ARG, "%s: the split form needs at least 2 exits, the table has %d",
                             splitee_table_name(t), L);
    splitee_risk *r = calloc(1, sizeof *r);
    double *conf = NULL, *el = NULL;
    int32_t *pred = NULL;
    if (!r || splitee__mul_size(n, SPLITEE_RISK_GRID * (size_t)layers, &cells) < 0)
        goto nomem;
    r->cfg = *cfg;
    r->n = n;
    r->exits = L;
    r->layers = layers;
    splitee_risk_range(cfg->risk, cfg->clamp, &r->lo, &r->hi);
    r->loss = malloc(cells * sizeof *r->loss);
    r->exit = malloc(cells);
    conf = malloc(n * (size_t)L * sizeof *conf);
    pred = malloc(n * (size_t)L * sizeof *pred);
    el = malloc(n * (size_t)L * sizeof *el);
    if (!r->loss || !r->exit || !conf || !pred || !el)
        goto nomem;
    splitee_table_confidences(t, cfg->confidence, conf, pred);
    const double *z = splitee_table_logits(t);
    for (size_t k = 0; k < n; k++) {
        const int32_t *p = pred + k * (size_t)L;
        double bl = cfg->risk == SPLITEE_RISK_BRIER_GAP
                        ? brier(z + (k * (size_t)L + (size_t)(L - 1)) * (size_t)K, K, y[k]) : 0;
        for (int i = 0; i < L; i++) {
            double v;
            if (cfg->risk == SPLITEE_RISK_CONSISTENCY)
                v = p[i] != p[L - 1];
            else if (cfg->risk == SPLITEE_RISK_PREDICTION_GAP)
                v = (double)(p[i] != y[k]) - (double)(p[L - 1] != y[k]);
            else
                v = i == L - 1 ? 0.0 : brier(z + (k * (size_t)L + (size_t)i) * (size_t)K, K, y[k]) - bl;
            el[k * (size_t)L + (size_t)i] = cfg->clamp && v < 0 ? 0.0 : v;
        }
    }
    if (cfg->form == SPLITEE_RISK_FORM_SPLIT) {
        /* C_l >= lambda_j: the comparison of the per-exit rule (exit.h) */
        for (int l = 0; l < layers; l++)
            for (int j = 0; j < SPLITEE_RISK_GRID; j++) {
                double lam = splitee_risk_grid_value(j);
                size_t base = ((size_t)l * SPLITEE_RISK_GRID + (size_t)j) * n;
                for (size_t k = 0; k < n; k++) {
                    int ex = conf[k * (size_t)L + (size_t)l] >= lam;
                    r->exit[base + k] = (uint8_t)(ex ? l : L - 1);
                    r->loss[base + k] = ex ? el[k * (size_t)L + (size_t)l] : 0.0;
                }
            }
        free(conf), free(pred), free(el);
        *out = r;
        return 0;
    }
    for (int j = 0; j < SPLITEE_RISK_GRID; j++) {
        splitee_exit_config ec;
        splitee_exit_config_default(&ec);
        ec.kind = SPLITEE_EXIT_KIND_THRESHOLD;
        ec.alpha = splitee_risk_grid_value(j);
        ec.confidence = cfg->confidence;
        splitee_exit_rule rule;
        int st = splitee_exit_rule_init(&rule, &ec, L, err);
        if (st < 0) {
            free(conf), free(pred), free(el);
            splitee_risk_free(r);
            return st;
        }
        for (size_t k = 0; k < n; k++) {
            int e = splitee_exit_first(&rule, L - 1, conf + k * (size_t)L, NULL);
            if (e < 0)
                e = L - 1;
            r->exit[(size_t)j * n + k] = (uint8_t)e;
            r->loss[(size_t)j * n + k] = el[k * (size_t)L + (size_t)e];
        }
    }
    free(conf), free(pred), free(el);
    *out = r;
    return 0;
nomem:
    free(conf), free(pred), free(el);
    splitee_risk_free(r);
    return splitee__fail(err, SPLITEE_ERR_NOMEM, "risk: out of memory for %zu samples", n);
}

void splitee_risk_free(splitee_risk *r)
{
    if (!r)
        return;
    free(r->loss);
    free(r->exit);
    free(r);
}

size_t splitee_risk_samples(const splitee_risk *r) { return r->n; }
int splitee_risk_exits(const splitee_risk *r) { return r->exits; }
const double *splitee_risk_losses(const splitee_risk *r) { return r->loss; }
const uint8_t *splitee_risk_exit_taken(const splitee_risk *r) { return r->exit; }
const splitee_risk_config *splitee_risk_config_of(const splitee_risk *r) { return &r->cfg; }
int splitee_risk_layers(const splitee_risk *r) { return r->layers; }

const double *splitee_risk_layer_losses(const splitee_risk *r, int l)
{
    return l >= 0 && l < r->layers ? r->loss + (size_t)l * SPLITEE_RISK_GRID * r->n : NULL;
}

const uint8_t *splitee_risk_layer_exit_taken(const splitee_risk *r, int l)
{
    return l >= 0 && l < r->layers ? r->exit + (size_t)l * SPLITEE_RISK_GRID * r->n : NULL;
}

double splitee_risk_mean(const splitee_risk *r, int j, const size_t *idx, size_t n,
                         double *mean_exit)
{
    return splitee_risk_layer_mean(r, 0, j, idx, n, mean_exit);
}

double splitee_risk_layer_mean(const splitee_risk *r, int l, int j, const size_t *idx, size_t n,
                               double *mean_exit)
{
    if (n == 0 || l < 0 || l >= r->layers) {
        if (mean_exit)
            *mean_exit = NAN;
        return NAN;
    }
    if (j < 0) {
        if (mean_exit)
            *mean_exit = r->exits;
        return 0.0;
    }
    long double s = 0, e = 0;
    const double *row = splitee_risk_layer_losses(r, l) + (size_t)j * r->n;
    const uint8_t *ex = splitee_risk_layer_exit_taken(r, l) + (size_t)j * r->n;
    for (size_t m = 0; m < n; m++) {
        size_t k = idx ? idx[m] : m;
        s += row[k];
        e += ex[k] + 1;
    }
    if (mean_exit)
        *mean_exit = (double)(e / (long double)n);
    return (double)(s / (long double)n);
}

int splitee_risk_calibrate(const splitee_risk *r, const size_t *idx, size_t n,
                           const splitee_calib_config *cfg, splitee_calib_result *out,
                           splitee_error *err)
{
    return splitee_risk_layer_calibrate(r, 0, idx, n, cfg, out, err);
}

int splitee_risk_layer_calibrate(const splitee_risk *r, int l, const size_t *idx, size_t n,
                                 const splitee_calib_config *cfg, splitee_calib_result *out,
                                 splitee_error *err)
{
    if (l < 0 || l >= r->layers)
        return splitee__fail(err, SPLITEE_ERR_ARG, "calibrate: layer index %d outside 0..%d", l, r->layers - 1);
    if (n > r->n)
        return splitee__fail(err, SPLITEE_ERR_VALUE, "calibrate: %zu calibration samples, the table has %zu",
                             n, r->n);
    return splitee_risk_calibrate_losses(splitee_risk_layer_losses(r, l), r->n, idx, n, SPLITEE_RISK_GRID,
                                         r->lo, r->hi, cfg, out, err);
}

int splitee_risk_evaluate(const splitee_risk *r, const splitee_calib_config *cfg, size_t n_cal,
                          int splits, uint64_t seed, splitee_risk_split *out,
                          splitee_error *err)
{
    return splitee_risk_layer_evaluate(r, 0, cfg, n_cal, splits, seed, out, err);
}

int splitee_risk_layer_evaluate(const splitee_risk *r, int l, const splitee_calib_config *cfg,
                                size_t n_cal, int splits, uint64_t seed, splitee_risk_split *out,
                                splitee_error *err)
{
    if (l < 0 || l >= r->layers)
        return splitee__fail(err, SPLITEE_ERR_ARG, "evaluate: layer index %d outside 0..%d", l, r->layers - 1);
    if (splits < 1)
        return splitee__fail(err, SPLITEE_ERR_VALUE, "evaluate: splits must be at least 1 (got %d)", splits);
    if (n_cal == 0 || n_cal >= r->n)
        return splitee__fail(err, SPLITEE_ERR_VALUE,
                             "evaluate: %zu calibration samples of %zu leave no test sample (n_cal must be in 1..%zu)",
                             n_cal, r->n, r->n - 1);
    splitee__gsl_init();
    size_t *idx = malloc(r->n * sizeof *idx);
    gsl_rng *rng = splitee__rng_alloc(splitee__mix64(seed ^ 0x72697363ULL));
    if (!idx || !rng) {
        free(idx);
        if (rng)
            gsl_rng_free(rng);
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "evaluate: out of memory");
    }
    int st = 0;
    for (int s = 0; s < splits && st == 0; s++) {
        for (size_t k = 0; k < r->n; k++)
            idx[k] = k;
        for (size_t k = r->n - 1; k > 0; k--) { /* Fisher-Yates */
            size_t m = (size_t)gsl_rng_uniform_int(rng, (unsigned long)(k + 1));
            size_t tmp = idx[k];
            idx[k] = idx[m];
            idx[m] = tmp;
        }
        st = splitee_risk_layer_calibrate(r, l, idx, n_cal, cfg, &out[s].cal, err);
        if (st == 0)
            out[s].test_risk = splitee_risk_layer_mean(r, l, out[s].cal.index, idx + n_cal, r->n - n_cal,
                                                       &out[s].test_exit);
    }
    gsl_rng_free(rng);
    free(idx);
    return st;
}

int splitee_risk_summarize(const splitee_risk_split *s, int splits, double epsilon, int exits,
                           splitee_risk_summary *out, splitee_error *err)
{
    if (splits < 1)
        return splitee__fail(err, SPLITEE_ERR_VALUE, "summarize: no splits");
    double *v = malloc((size_t)splits * sizeof *v);
    if (!v)
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "summarize: out of memory");
    long double sum = 0, ex = 0, th = 0;
    int over = 0, found = 0;
    for (int i = 0; i < splits; i++) {
        v[i] = s[i].test_risk;
        sum += s[i].test_risk;
        ex += s[i].test_exit;
        over += s[i].test_risk > epsilon;
        if (s[i].cal.index >= 0) {
            th += s[i].cal.threshold;
            found++;
        }
    }
    gsl_sort(v, 1, (size_t)splits);
    out->splits = splits;
    out->test_mean = (double)(sum / splits);
    out->test_q10 = gsl_stats_quantile_from_sorted_data(v, 1, (size_t)splits, 0.1);
    out->test_q50 = gsl_stats_quantile_from_sorted_data(v, 1, (size_t)splits, 0.5);
    out->test_q90 = gsl_stats_quantile_from_sorted_data(v, 1, (size_t)splits, 0.9);
    out->test_max = v[splits - 1];
    out->share_over = (double)over / splits;
    out->threshold_mean = found ? (double)(th / found) : NAN;
    out->none = splits - found;
    out->exit_mean = (double)(ex / splits);
    out->saved = 1 - out->exit_mean / exits;
    free(v);
    return 0;
}
