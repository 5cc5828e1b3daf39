/* exit.c -- the exit rule (include/splitee/exit.h), defined once for every
 * module: the confidence measures, the registry of decision kinds (their
 * traits and operations live in exit_threshold.c, exit_agreement.c and
 * exit_temporal.c),
 * building a rule, the out-of-line evaluation and the names. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/internal.h"
#include "core/numfmt.h"
#include "exit_impl.h"

/* With m = argmax z, d_k = z_k - z_m, e_k = exp(d_k) and S = sum e_k:
 *   max softmax = 1 / S
 *   entropy H   = ln S - (sum e_k d_k) / S, confidence 1 - H / ln K
 *   margin      = (1 - e_second) / S
 * Max-subtraction keeps every exp in (0, 1], so no logit overflows. */
double splitee_confidence_of(const double *z, int classes, splitee_confidence kind,
                             int32_t *pred)
{
    if (classes < 1) {
        if (pred)
            *pred = -1;
        return NAN;
    }
    int m = 0;
    for (int k = 1; k < classes; k++)
        if (z[k] > z[m])
            m = k;
    if (pred)
        *pred = m;
    double sum = 0, dot = 0, second = 0;
    for (int k = 0; k < classes; k++) {
        double d = z[k] - z[m];
        double e = exp(d);
        sum += e;
        if (e > 0)
            dot += e * d;
        if (k != m && e > second)
            second = e;
    }
    switch (kind) {
    case SPLITEE_CONFIDENCE_MAX_SOFTMAX:
        return 1.0 / sum;
    case SPLITEE_CONFIDENCE_ENTROPY: {
        if (classes == 1)
            return 1.0;
        double c = 1.0 - (log(sum) - dot / sum) / log((double)classes);
        return c < 0 ? 0 : c > 1 ? 1 : c;
    }
    case SPLITEE_CONFIDENCE_MARGIN:
        return (1.0 - second) / sum;
    case SPLITEE_CONFIDENCE_COUNT:
        break;
    }
    return NAN;
}

static const char *const confidence_names[] = { "max-softmax", "entropy", "margin" };

int splitee_confidence_parse(const char *s, splitee_confidence *out)
{
    for (int i = 0; s && i < SPLITEE_CONFIDENCE_COUNT; i++)
        if (strcmp(s, confidence_names[i]) == 0) {
            *out = (splitee_confidence)i;
            return SPLITEE_OK;
        }
    return SPLITEE_ERR_ARG;
}

const char *splitee_confidence_name(splitee_confidence kind)
{
    return (unsigned)kind < SPLITEE_CONFIDENCE_COUNT ? confidence_names[kind] : "unknown";
}

/* "a, b or c" of n names into buf (len bytes), snprintf-style: returns the
 * whole text's length. */
static size_t name_list(char *buf, size_t len, int n, const char *(*name)(int))
{
    size_t used = 0;
    if (buf && len)
        buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        const char *sep = i == 0 ? "" : i == n - 1 ? " or " : ", ";
        int room = buf && used < len;
        int k = snprintf(room ? buf + used : NULL, room ? len - used : 0, "%s%s", sep, name(i));
        used += k > 0 ? (size_t)k : 0;
    }
    return used;
}

static const char *confidence_name_i(int i) { return confidence_names[i]; }

size_t splitee_confidence_list(char *buf, size_t len)
{
    return name_list(buf, len, SPLITEE_CONFIDENCE_COUNT, confidence_name_i);
}

/* ---- decisions ---------------------------------------------------------------- */

/* The registry: every kind's traits and operations (exit_impl.h). Adding a
 * decision adds its enum value (exit.h), its kind beside its operations in
 * an exit_*.c file, its extern (exit_impl.h) and one line here. */
static const splitee__exit_kind *const kinds[SPLITEE_EXIT_KIND_COUNT] = {
    [SPLITEE_EXIT_KIND_THRESHOLD] = &splitee__exit_threshold,
    [SPLITEE_EXIT_KIND_PER_EXIT] = &splitee__exit_per_exit,
    [SPLITEE_EXIT_KIND_PATIENCE] = &splitee__exit_patience,
    [SPLITEE_EXIT_KIND_AGREEMENT] = &splitee__exit_agreement,
    [SPLITEE_EXIT_KIND_DIFFERENCE] = &splitee__exit_difference,
    [SPLITEE_EXIT_KIND_TEMPORAL_PATIENCE] = &splitee__exit_temporal_patience,
};

const splitee__exit_kind *splitee__exit_kind_of(splitee_exit_kind k) { return kinds[k]; }

void splitee_exit_config_default(splitee_exit_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->alpha = 0.8;
    cfg->kind = SPLITEE_EXIT_KIND_THRESHOLD;
    cfg->confidence = SPLITEE_CONFIDENCE_MAX_SOFTMAX;
    cfg->alphas = NULL;
    cfg->nalphas = 0;
    cfg->patience = 2;
    cfg->theta = 0.5;
}

int splitee__exit_check_unit(double v, const char *what, splitee_error *err)
{
    if (!isfinite(v) || v < 0 || v > 1)
        return splitee__fail(err, SPLITEE_ERR_VALUE, "%s must be in [0, 1] (got %g)", what, v);
    return SPLITEE_OK;
}

int splitee_exit_rule_init(splitee_exit_rule *r, const splitee_exit_config *cfg, int exits,
                           splitee_error *err)
{
    if (!r || !cfg)
        return splitee__fail(err, SPLITEE_ERR_ARG, "exit rule: no rule or configuration given");
    if ((unsigned)cfg->kind >= SPLITEE_EXIT_KIND_COUNT)
        return splitee__fail(err, SPLITEE_ERR_ARG, "exit rule: unknown kind %d", (int)cfg->kind);
    if ((unsigned)cfg->confidence >= SPLITEE_CONFIDENCE_COUNT)
        return splitee__fail(err, SPLITEE_ERR_ARG, "exit rule: unknown confidence measure %d",
                             (int)cfg->confidence);
    if (exits < 1 || exits > SPLITEE_MAX_EXITS)
        return splitee__fail(err, SPLITEE_ERR_ARG, "exit rule: number of exits must be in 1..%d (got %d)",
                             SPLITEE_MAX_EXITS, exits);
    const splitee__exit_kind *k = kinds[cfg->kind];
    memset(r, 0, sizeof *r);
    r->alpha = cfg->alpha;
    r->kind = cfg->kind;
    r->confidence = cfg->confidence;
    r->exits = exits;
    r->thresholds = k->info.thresholds;
    r->patience = cfg->patience;
    r->theta = cfg->theta;
    return k->ops->init(r, cfg, err);
}

int splitee__exit_step(const splitee_exit_rule *r, splitee_exit_state *s, double conf, int32_t pred)
{
    if (s->next >= r->exits)
        return 0;
    const int i = s->next++;
    if (r->thresholds)
        return conf >= r->thr[i];
    return kinds[r->kind]->ops->step(r, s, i, conf, pred);
}

int splitee__exit_accepts(const splitee_exit_rule *r, int i, const double *conf,
                          const int32_t *pred)
{
    if (i < 0 || i >= r->exits)
        return 0;
    if (r->thresholds)
        return conf[i] >= r->thr[i];
    if (!pred && kinds[r->kind]->info.reads_pred)
        return 0;
    splitee_exit_state s;
    splitee_exit_begin(r, &s);
    int acc = 0;
    for (int j = 0; j <= i; j++)
        acc = splitee__exit_step(r, &s, conf[j], pred ? pred[j] : -1);
    return acc;
}

int splitee__exit_first(const splitee_exit_rule *r, int upto, const double *conf,
                        const int32_t *pred)
{
    if (upto >= r->exits)
        upto = r->exits - 1;
    if (r->thresholds) {
        for (int j = 0; j <= upto; j++)
            if (conf[j] >= r->thr[j])
                return j;
        return -1;
    }
    if (!pred && kinds[r->kind]->info.reads_pred)
        return -1;
    splitee_exit_state s;
    splitee_exit_begin(r, &s);
    for (int j = 0; j <= upto; j++)
        if (splitee__exit_step(r, &s, conf[j], pred ? pred[j] : -1))
            return j;
    return -1;
}

const splitee_exit_info *splitee_exit_kind_info(splitee_exit_kind kind)
{
    return (unsigned)kind < SPLITEE_EXIT_KIND_COUNT ? &kinds[kind]->info : NULL;
}

const char *splitee_exit_kind_name(splitee_exit_kind kind)
{
    return (unsigned)kind < SPLITEE_EXIT_KIND_COUNT ? kinds[kind]->info.name : "unknown";
}

int splitee_exit_kind_parse(const char *s, splitee_exit_kind *out)
{
    for (int k = 0; s && k < SPLITEE_EXIT_KIND_COUNT; k++)
        if (strcmp(s, kinds[k]->info.name) == 0) {
            *out = (splitee_exit_kind)k;
            return SPLITEE_OK;
        }
    return SPLITEE_ERR_ARG;
}

static const char *kind_name_i(int i) { return kinds[i]->info.name; }

size_t splitee_exit_kind_list(char *buf, size_t len)
{
    return name_list(buf, len, SPLITEE_EXIT_KIND_COUNT, kind_name_i);
}

void splitee_exit_rule_describe(const splitee_exit_rule *r, char *buf, size_t len)
{
    if (!buf || len == 0)
        return;
    if ((unsigned)r->kind >= SPLITEE_EXIT_KIND_COUNT) {
        snprintf(buf, len, "unknown");
        return;
    }
    const splitee__exit_kind *k = kinds[r->kind];
    char num[SPLITEE__NUM_LEN];
    size_t used = (size_t)snprintf(buf, len, "%s", k->info.name);
    if (k->info.params & SPLITEE_EXIT_PARAM_ALPHA && used < len)
        used += (size_t)snprintf(buf + used, len - used, " %s",
                                 splitee__fmt_double(num, sizeof num, r->alpha));
    if (k->info.params & SPLITEE_EXIT_PARAM_PATIENCE && used < len)
        used += (size_t)snprintf(buf + used, len - used, " %d", r->patience);
    if (k->info.params & SPLITEE_EXIT_PARAM_THETA && used < len) {   /* reads no measure */
        snprintf(buf + used, len - used, " theta %s (L1 on softmax)",
                 splitee__fmt_double(num, sizeof num, r->theta));
        return;
    }
    if (k->info.params & SPLITEE_EXIT_PARAM_ALPHAS)
        for (int i = 0; i < r->exits - 1 && used < len; i++)
            used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? "," : " ",
                                     splitee__fmt_double(num, sizeof num, r->thr[i]));
    if (used < len)
        snprintf(buf + used, len - used, " on %s", splitee_confidence_name(r->confidence));
}
