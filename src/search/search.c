/* search.c -- the configuration search over candidate exits (search.h,
 * docs/SEARCH.md): exact MAC accounting, exhaustive and greedy subset
 * search, the layered-graph DP for per-exit thresholds and the NACHOS
 * repair step. Everything per sample is precomputed once: confidences,
 * correctness (a bit mask per sample) and, per run, grid levels (one byte
 * per sample and candidate). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "splitee/search.h"

struct splitee_search {
    int C;                /* candidates */
    size_t N;             /* samples */
    double bb[SPLITEE_MAX_EXITS];    /* backbone MACs to candidate j */
    double head[SPLITEE_MAX_EXITS];  /* head MACs of candidate j */
    double *conf;         /* (N, C) */
    uint64_t *correct;    /* (N) bit j: candidate j right */
};

static const double DEFAULT_GRID[] = { 0.30, 0.35, 0.40, 0.45, 0.50, 0.55, 0.60, 0.65,
                                       0.70, 0.75, 0.80, 0.85, 0.90, 0.95, 0.98, 0.99 };
static const double DEFAULT_WEIGHTS[] = { 0.05, 0.10, 0.15, 0.20, 0.25, 0.30, 0.35,
                                          0.40, 0.45, 0.50, 0.55, 0.60, 0.65, 0.70,
                                          0.75, 0.80, 0.85, 0.90, 0.95 };

void splitee_search_config_default(splitee_search_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->method = SPLITEE_SEARCH_METHOD_AUTO;
    cfg->thresholds = SPLITEE_SEARCH_THR_COMMON | SPLITEE_SEARCH_THR_DP;
    cfg->grid = DEFAULT_GRID;
    cfg->ngrid = (int)(sizeof DEFAULT_GRID / sizeof *DEFAULT_GRID);
    cfg->dp_weights = DEFAULT_WEIGHTS;
    cfg->ndp_weights = (int)(sizeof DEFAULT_WEIGHTS / sizeof *DEFAULT_WEIGHTS);
    cfg->budget = SPLITEE_BUDGET_MACS;
    cfg->limit = INFINITY;
    cfg->device_macs_per_s = 0;
    cfg->repair_step = 0.1;
    cfg->max_configs = 1e7;
}

const char *splitee_search_method_name(splitee_search_method m)
{
    static const char *const N[] = { "auto", "exhaustive", "greedy" };
    return (unsigned)m < SPLITEE_SEARCH_METHOD_COUNT ? N[m] : "unknown";
}

const char *splitee_budget_kind_name(splitee_budget_kind b)
{
    static const char *const N[] = { "macs", "accuracy", "latency" };
    return (unsigned)b < SPLITEE_BUDGET_COUNT ? N[b] : "unknown";
}

int splitee_search_create(const splitee_table *t, const double *backbone_macs,
                          const double *head_macs, splitee_confidence conf,
                          splitee_search **out, splitee_error *err)
{
    *out = NULL;
    const char *name = splitee_table_name(t);
    int C = splitee_table_exits(t);
    size_t N = splitee_table_samples(t);
    const int32_t *lab = splitee_table_labels(t);
    if (!lab)
        return splitee__fail(err, SPLITEE_ERR_ARG, "%s: the search needs labels", name);
    if (C < 2)
        return splitee__fail(err, SPLITEE_ERR_SHAPE,
                             "%s: %d candidate: the search needs at least one early exit and the final", name, C);
    if ((unsigned)conf >= SPLITEE_CONFIDENCE_COUNT)
        return splitee__fail(err, SPLITEE_ERR_ARG, "search: unknown confidence measure %d", (int)conf);
    for (int j = 0; j < C; j++) {
        if (!isfinite(backbone_macs[j]) || backbone_macs[j] < 0)
            return splitee__fail(err, SPLITEE_ERR_VALUE, "MACs: backbone MACs of candidate %d must be finite and >= 0 (got %g)",
                                 j + 1, backbone_macs[j]);
        if (!isfinite(head_macs[j]) || head_macs[j] < 0)
            return splitee__fail(err, SPLITEE_ERR_VALUE, "MACs: head MACs of candidate %d must be finite and >= 0 (got %g)",
                                 j + 1, head_macs[j]);
        if (j > 0 && backbone_macs[j] < backbone_macs[j - 1])
            return splitee__fail(err, SPLITEE_ERR_VALUE,
                                 "MACs: backbone MACs must not decrease (candidate %d: %g after %g)", j + 1,
                                 backbone_macs[j], backbone_macs[j - 1]);
    }
    splitee_search *s = calloc(1, sizeof *s);
    size_t nc;
    if (!s || splitee__mul_size(N, (size_t)C, &nc) || !(s->conf = malloc(nc * sizeof *s->conf)) ||
        !(s->correct = calloc(N, sizeof *s->correct))) {
        splitee_search_free(s);
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory for the search", name);
    }
    int32_t *pred = malloc(nc * sizeof *pred);
    if (!pred) {
        splitee_search_free(s);
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory for the search", name);
    }
    s->C = C;
    s->N = N;
    memcpy(s->bb, backbone_macs, (size_t)C * sizeof *s->bb);
    memcpy(s->head, head_macs, (size_t)C * sizeof *s->head);
    splitee_table_confidences(t, conf, s->conf, pred);
    for (size_t n = 0; n < N; n++)
        for (int j = 0; j < C; j++)
            if (pred[n * (size_t)C + (size_t)j] == lab[n])
                s->correct[n] |= (uint64_t)1 << j;
    free(pred);
    *out = s;
    return 0;
}

void splitee_search_free(splitee_search *s)
{
    if (!s)
        return;
    free(s->conf);
    free(s->correct);
    free(s);
}

int splitee_search_candidates(const splitee_search *s) { return s->C; }
size_t splitee_search_samples(const splitee_search *s) { return s->N; }

static uint64_t early_mask(int C) { return ((uint64_t)1 << (C - 1)) - 1; }

static int check_plan(const splitee_search *s, const splitee_search_plan *p, splitee_error *err)
{
    if (p->candidates != s->C)
        return splitee__fail(err, SPLITEE_ERR_ARG, "search: the plan has %d candidates, the table %d",
                             p->candidates, s->C);
    if (p->keep & ~early_mask(s->C))
        return splitee__fail(err, SPLITEE_ERR_ARG, "search: the plan keeps a candidate past the %d early exits",
                             s->C - 1);
    return 0;
}

/* The kept early exits in order, into k[]; returns their count m. cost[i]
 * = MACs of a sample stopping at k[i], cost[m] = at the final. */
static int kept_list(const splitee_search *s, uint64_t keep, int *k, double *cost)
{
    int m = 0;
    double heads = 0;
    for (int j = 0; j < s->C - 1; j++)
        if (keep >> j & 1) {
            heads += s->head[j];
            k[m] = j;
            cost[m++] = s->bb[j] + heads;
        }
    k[m] = s->C - 1;
    cost[m] = s->bb[s->C - 1] + heads + s->head[s->C - 1];
    return m;
}

/* Fills the outcome from the tallies. */
static void finish(const splitee_search *s, const int *k, const double *cost, int m,
                   const size_t *stops, size_t right, splitee_search_point *out)
{
    double sum = 0;
    for (int i = 0; i <= m; i++)
        sum += (double)stops[i] * cost[i];
    memset(out->exit_share, 0, sizeof out->exit_share);
    for (int i = 0; i <= m; i++)
        out->exit_share[k[i]] = (double)stops[i] / (double)s->N;
    out->accuracy = (double)right / (double)s->N;
    out->mean_macs = sum / (double)s->N;
    out->max_macs = cost[m];
    out->last_early = m > 0 ? k[m - 1] : -1;
    out->device_macs = m > 0 ? cost[m - 1] : 0;
}

double splitee_search_latency_ms(const splitee_search_config *cfg, const splitee_search_point *p)
{
    if (!(cfg->device_macs_per_s > 0))
        return NAN;
    if (!cfg->offload_ms)
        return p->max_macs / cfg->device_macs_per_s * 1e3;
    return p->device_macs / cfg->device_macs_per_s * 1e3 +
           (p->last_early >= 0 ? cfg->offload_ms[p->last_early] : cfg->offload_raw_ms);
}

int splitee_search_evaluate(const splitee_search *s, const splitee_search_plan *p,
                            splitee_search_point *out, splitee_error *err)
{
    int st = check_plan(s, p, err);
    if (st < 0)
        return st;
    int k[SPLITEE_MAX_EXITS];
    double cost[SPLITEE_MAX_EXITS], thr[SPLITEE_MAX_EXITS];
    size_t stops[SPLITEE_MAX_EXITS] = { 0 }, right = 0;
    int m = kept_list(s, p->keep, k, cost);
    for (int i = 0; i < m; i++)
        thr[i] = p->thr[k[i]];
    const size_t C = (size_t)s->C;
    for (size_t n = 0; n < s->N; n++) {
        const double *c = s->conf + n * C;
        int i = 0;
        while (i < m && !(c[k[i]] >= thr[i]))
            i++;
        stops[i]++;
        right += s->correct[n] >> k[i] & 1;
    }
    out->plan = *p;
    finish(s, k, cost, m, stops, right, out);
    return 0;
}

/* ------------------------------------------------------------ a run --- */

typedef struct run {
    const splitee_search *s;
    const splitee_search_config *cfg;
    int G;
    uint8_t *lvl;          /* (N, C): grid values each confidence reaches */
    uint32_t **pair;       /* [(p+1) * C + k]: E table of pair (p, k), lazily */
    uint32_t *rej;         /* (C, G): samples candidate p rejects at grid a */
    uint32_t *hist;        /* (G+1)^2 scratch */
    /* outcome */
    splitee_search_point *front;
    int nfront, capfront;
    splitee_search_point chosen;
    int have;
    double evaluated;
    int nomem;
} run;

/* Grid level of confidence c: how many grid values are <= c. */
static int level_of(const double *grid, int G, double c)
{
    int lo = 0, hi = G;   /* first index whose value exceeds c */
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (grid[mid] <= c)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int meets(const run *r, const splitee_search_point *p)
{
    const splitee_search_config *c = r->cfg;
    switch (c->budget) {
    case SPLITEE_BUDGET_MACS: return p->mean_macs <= c->limit;
    case SPLITEE_BUDGET_ACCURACY: return p->accuracy >= c->limit;
    default: return splitee_search_latency_ms(c, p) <= c->limit;
    }
}

/* 1 if a is strictly preferred to b: one that meets the budget over one
 * that does not; among those that meet, the budget's objective; among
 * those that miss, the closest. */
static int preferred(const run *r, const splitee_search_point *a, const splitee_search_point *b)
{
    int ma = meets(r, a), mb = meets(r, b);
    if (ma != mb)
        return ma;
    splitee_budget_kind k = r->cfg->budget;
    if (ma) {
        if (k == SPLITEE_BUDGET_ACCURACY)
            return a->mean_macs < b->mean_macs || (a->mean_macs == b->mean_macs && a->accuracy > b->accuracy);
        return a->accuracy > b->accuracy || (a->accuracy == b->accuracy && a->mean_macs < b->mean_macs);
    }
    switch (k) {
    case SPLITEE_BUDGET_MACS:
        return a->mean_macs < b->mean_macs || (a->mean_macs == b->mean_macs && a->accuracy > b->accuracy);
    case SPLITEE_BUDGET_ACCURACY:
        return a->accuracy > b->accuracy || (a->accuracy == b->accuracy && a->mean_macs < b->mean_macs);
    default: {
        double la = splitee_search_latency_ms(r->cfg, a), lb = splitee_search_latency_ms(r->cfg, b);
        return la < lb || (la == lb && a->accuracy > b->accuracy);
    }
    }
}

/* Adds p to the front unless a point already there is at least as good
 * in both; removes the points p dominates. Kept sorted by mean MACs. */
static void front_add(run *r, const splitee_search_point *p)
{
    for (int i = 0; i < r->nfront; i++) {
        const splitee_search_point *q = &r->front[i];
        if (q->accuracy >= p->accuracy && q->mean_macs <= p->mean_macs)
            return;
    }
    int w = 0;
    for (int i = 0; i < r->nfront; i++) {
        const splitee_search_point *q = &r->front[i];
        if (!(p->accuracy >= q->accuracy && p->mean_macs <= q->mean_macs))
            r->front[w++] = *q;
    }
    r->nfront = w;
    if (r->nfront == r->capfront) {
        int cap = r->capfront ? 2 * r->capfront : 64;
        splitee_search_point *f = realloc(r->front, (size_t)cap * sizeof *f);
        if (!f) {
            r->nomem = 1;
            return;
        }
        r->front = f;
        r->capfront = cap;
    }
    int at = r->nfront;
    while (at > 0 && r->front[at - 1].mean_macs > p->mean_macs)
        at--;
    memmove(&r->front[at + 1], &r->front[at], (size_t)(r->nfront - at) * sizeof *r->front);
    r->front[at] = *p;
    r->nfront++;
}

static void consider(run *r, const splitee_search_point *p)
{
    r->evaluated += 1;
    front_add(r, p);
    if (!r->have || preferred(r, p, &r->chosen)) {
        r->chosen = *p;
        r->have = 1;
    }
}

/* Measures keep with grid-index thresholds tix[j] (kept j) on the levels. */
static void eval_levels(const run *r, uint64_t keep, const int *tix, splitee_search_point *out)
{
    const splitee_search *s = r->s;
    int k[SPLITEE_MAX_EXITS], need[SPLITEE_MAX_EXITS];
    double cost[SPLITEE_MAX_EXITS];
    size_t stops[SPLITEE_MAX_EXITS] = { 0 }, right = 0;
    int m = kept_list(s, keep, k, cost);
    for (int i = 0; i < m; i++)
        need[i] = tix[k[i]] + 1;   /* accepts when the level reaches need */
    const size_t C = (size_t)s->C;
    const uint8_t *lv = r->lvl;
    for (size_t n = 0; n < s->N; n++, lv += C) {
        int i = 0;
        while (i < m && lv[k[i]] < need[i])
            i++;
        stops[i]++;
        right += s->correct[n] >> k[i] & 1;
    }
    memset(&out->plan, 0, sizeof out->plan);
    out->plan.candidates = s->C;
    out->plan.keep = keep;
    for (int i = 0; i < m; i++)
        out->plan.thr[k[i]] = r->cfg->grid[tix[k[i]]];
    finish(s, k, cost, m, stops, right, out);
}

/* ---- the DP ---- */

/* E table of pair (p, k), p = -1 for the start: E[a * G + b] = samples p
 * rejects at grid index a (level <= a) that k accepts at b (level > b)
 * and k gets wrong; for k the final, E[a * G + 0] counts those the final
 * gets wrong (it accepts all). The start has one row (a = 0: every sample). */
static const uint32_t *pair_table(run *r, int p, int k)
{
    const splitee_search *s = r->s;
    size_t idx = (size_t)(p + 1) * (size_t)s->C + (size_t)k;
    if (r->pair[idx])
        return r->pair[idx];
    const int G = r->G, C = s->C, H = G + 1;
    uint32_t *E = calloc((size_t)G * (size_t)G, sizeof *E);
    if (!E) {
        r->nomem = 1;
        return NULL;
    }
    uint32_t *h = r->hist;
    memset(h, 0, (size_t)H * (size_t)H * sizeof *h);
    const int final = k == C - 1;
    for (size_t n = 0; n < s->N; n++) {
        if (s->correct[n] >> k & 1)
            continue;
        const uint8_t *lv = r->lvl + n * (size_t)C;
        int x = p < 0 ? 0 : lv[p], y = final ? H - 1 : lv[k];
        h[x * H + y]++;
    }
    /* E[a][b] = sum over x <= a, y > b of h[x][y] */
    for (int a = 0; a < G; a++)
        for (int b = 0; b < G; b++) {
            uint32_t v = a > 0 ? E[(a - 1) * G + b] : 0;
            for (int y = b + 1; y < H; y++)
                v += h[a * H + y];
            E[a * G + b] = v;
        }
    r->pair[idx] = E;
    return E;
}

/* The DP for keep on the run's levels: writes grid indices into tix[j]
 * for kept j; *cost the path cost per sample. -1 when out of memory. */
static int dp_levels(run *r, uint64_t keep, double w, int *tix, double *costp)
{
    const splitee_search *s = r->s;
    const int G = r->G, C = s->C;
    int k[SPLITEE_MAX_EXITS];
    double cost[SPLITEE_MAX_EXITS];
    int m = kept_list(s, keep, k, cost);
    double bf = s->bb[C - 1] + s->head[C - 1];
    if (bf <= 0)
        bf = 1;
    const double N = (double)s->N;
    if (m == 0) {
        const uint32_t *E = pair_table(r, -1, C - 1);
        if (!E)
            return -1;
        if (costp)
            *costp = (w * N * (s->bb[C - 1] + s->head[C - 1]) / bf + (1 - w) * E[0]) / N;
        return 0;
    }
    double dist[2][SPLITEE_SEARCH_MAX_GRID];
    /* back[i][b]: the grid index of layer i-1 on the best path to (i, b) */
    uint8_t back[SPLITEE_MAX_EXITS][SPLITEE_SEARCH_MAX_GRID];
    const uint32_t *E = pair_table(r, -1, k[0]);
    if (!E)
        return -1;
    for (int b = 0; b < G; b++)
        dist[0][b] = w * N * (s->bb[k[0]] + s->head[k[0]]) / bf + (1 - w) * E[b];
    int cur = 0;
    for (int i = 1; i <= m; i++) {
        int p = k[i - 1], q = k[i];
        E = pair_table(r, p, q);
        if (!E)
            return -1;
        const uint32_t *R = r->rej + (size_t)p * (size_t)G;
        double step = (s->bb[q] - s->bb[p] + s->head[q]) / bf;
        int nb = i == m ? 1 : G;
        for (int b = 0; b < nb; b++) {
            double best = INFINITY;
            int arg = 0;
            for (int a = 0; a < G; a++) {
                double v = dist[cur][a] + (w * R[a] * step + (1 - w) * E[a * G + b]);
                if (v < best) {
                    best = v;
                    arg = a;
                }
            }
            dist[!cur][b] = best;
            back[i][b] = (uint8_t)arg;
        }
        cur = !cur;
    }
    int b = 0;
    for (int i = m; i >= 1; i--) {
        b = back[i][b];
        tix[k[i - 1]] = b;
    }
    if (costp)
        *costp = dist[cur][0] / N;
    return 0;
}

static int check_grid(const double *grid, int G, splitee_error *err)
{
    if (G < 1)
        return splitee__fail(err, SPLITEE_ERR_ARG, "grid: the threshold grid is empty");
    if (G > SPLITEE_SEARCH_MAX_GRID)
        return splitee__fail(err, SPLITEE_ERR_ARG, "grid: %d values, at most %d", G, SPLITEE_SEARCH_MAX_GRID);
    for (int g = 0; g < G; g++) {
        if (!isfinite(grid[g]))
            return splitee__fail(err, SPLITEE_ERR_ARG, "grid: value %d is not finite", g + 1);
        if (g > 0 && !(grid[g] > grid[g - 1]))
            return splitee__fail(err, SPLITEE_ERR_ARG, "grid: values must increase (%g after %g)", grid[g],
                                 grid[g - 1]);
    }
    return 0;
}

static void run_free(run *r)
{
    if (r->pair) {
        size_t np = (size_t)(r->s->C + 1) * (size_t)r->s->C;
        for (size_t i = 0; i < np; i++)
            free(r->pair[i]);
    }
    free(r->pair);
    free(r->lvl);
    free(r->rej);
    free(r->hist);
    free(r->front);
}

static int run_init(run *r, const splitee_search *s, const splitee_search_config *cfg, splitee_error *err)
{
    memset(r, 0, sizeof *r);
    r->s = s;
    r->cfg = cfg;
    r->G = cfg->ngrid;
    const int C = s->C, G = r->G;
    size_t nc = s->N * (size_t)C;
    r->lvl = malloc(nc);
    r->pair = calloc((size_t)(C + 1) * (size_t)C, sizeof *r->pair);
    r->rej = calloc((size_t)C * (size_t)G, sizeof *r->rej);
    r->hist = malloc((size_t)(G + 1) * (size_t)(G + 1) * sizeof *r->hist);
    if (!r->lvl || !r->pair || !r->rej || !r->hist) {
        run_free(r);
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "search: out of memory");
    }
    for (size_t i = 0; i < nc; i++) {
        int l = level_of(cfg->grid, G, s->conf[i]);
        r->lvl[i] = (uint8_t)l;
        int j = (int)(i % (size_t)C);
        /* candidate j rejects at grid index a when its level <= a */
        for (int a = l; a < G; a++)
            r->rej[(size_t)j * (size_t)G + (size_t)a]++;
    }
    return 0;
}

int splitee_search_dp(const splitee_search *s, uint64_t keep, const double *grid, int ngrid,
                      double w, double *thr, double *cost, splitee_error *err)
{
    int st = check_grid(grid, ngrid, err);
    if (st < 0)
        return st;
    if (keep & ~early_mask(s->C))
        return splitee__fail(err, SPLITEE_ERR_ARG, "search: keep names a candidate past the %d early exits", s->C - 1);
    if (!(w >= 0 && w <= 1))
        return splitee__fail(err, SPLITEE_ERR_ARG, "search: DP weight must be in [0, 1] (got %g)", w);
    splitee_search_config cfg;
    splitee_search_config_default(&cfg);
    cfg.grid = grid;
    cfg.ngrid = ngrid;
    run r;
    if ((st = run_init(&r, s, &cfg, err)) < 0)
        return st;
    int tix[SPLITEE_MAX_EXITS] = { 0 };
    if (dp_levels(&r, keep, w, tix, cost) < 0) {
        run_free(&r);
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "search: out of memory");
    }
    for (int j = 0; j < s->C; j++)
        thr[j] = j < s->C - 1 && (keep >> j & 1) ? grid[tix[j]] : 0;
    run_free(&r);
    return 0;
}

int splitee_search_repair(const splitee_search *s, splitee_search_plan *p, double limit,
                          double step, double floor, splitee_search_point *out, splitee_error *err)
{
    int st = check_plan(s, p, err);
    if (st < 0)
        return st;
    if (!(step > 0) || !isfinite(step))
        return splitee__fail(err, SPLITEE_ERR_ARG, "repair: the step must be finite and > 0 (got %g)", step);
    if (!isfinite(floor))
        return splitee__fail(err, SPLITEE_ERR_ARG, "repair: the floor must be finite");
    int k[SPLITEE_MAX_EXITS];
    double cost[SPLITEE_MAX_EXITS];
    int m = kept_list(s, p->keep, k, cost);
    splitee_search_evaluate(s, p, out, NULL);
    for (;;) {
        if (out->mean_macs <= limit)
            return 0;
        int moved = 0;
        for (int i = m - 1; i >= 0 && out->mean_macs > limit; i--) {
            double *t = &p->thr[k[i]];
            if (*t <= floor)
                continue;
            *t = *t - step > floor ? *t - step : floor;
            moved = 1;
            splitee_search_evaluate(s, p, out, NULL);
        }
        if (!moved)
            break;
    }
    return out->mean_macs <= limit ? 0
                                   : splitee__fail(err, SPLITEE_ERR_VALUE,
                                                   "repair: every threshold at %g still spends %.6g mean MACs, over %.6g",
                                                   floor, out->mean_macs, limit);
}

/* Every configuration of subset keep in the threshold modes asked for;
 * *best gets the preferred one of them and *top the most accurate. */
static int subset(run *r, uint64_t keep, splitee_search_point *best, splitee_search_point *top)
{
    const splitee_search_config *cfg = r->cfg;
    const int C = r->s->C, G = r->G;
    int tix[SPLITEE_MAX_EXITS] = { 0 };
    int first = 1;
    splitee_search_point pt;
#define TAKE()                                                                              \
    do {                                                                                    \
        consider(r, &pt);                                                                   \
        if (first || preferred(r, &pt, best))                                               \
            *best = pt;                                                                     \
        if (first || pt.accuracy > top->accuracy ||                                         \
            (pt.accuracy == top->accuracy && pt.mean_macs < top->mean_macs))                \
            *top = pt;                                                                      \
        first = 0;                                                                          \
    } while (0)
    if (keep == 0) {   /* the final alone: no threshold */
        eval_levels(r, 0, tix, &pt);
        TAKE();
        return r->nomem ? -1 : 0;
    }
    int k[SPLITEE_MAX_EXITS], m = 0;
    for (int j = 0; j < C - 1; j++)
        if (keep >> j & 1)
            k[m++] = j;
    if (cfg->thresholds & SPLITEE_SEARCH_THR_COMMON)
        for (int g = 0; g < G; g++) {
            for (int i = 0; i < m; i++)
                tix[k[i]] = g;
            eval_levels(r, keep, tix, &pt);
            TAKE();
        }
    if (cfg->thresholds & SPLITEE_SEARCH_THR_DP)
        for (int wi = 0; wi < cfg->ndp_weights; wi++) {
            if (dp_levels(r, keep, cfg->dp_weights[wi], tix, NULL) < 0)
                return -1;
            eval_levels(r, keep, tix, &pt);
            TAKE();
        }
    if (cfg->thresholds & SPLITEE_SEARCH_THR_FULL) {
        for (int i = 0; i < m; i++)
            tix[k[i]] = 0;
        for (;;) {
            eval_levels(r, keep, tix, &pt);
            TAKE();
            int i = m - 1;
            while (i >= 0 && ++tix[k[i]] == G)
                tix[k[i--]] = 0;
            if (i < 0)
                break;
        }
    }
#undef TAKE
    return r->nomem ? -1 : 0;
}

static void describe_point(char *buf, size_t len, const splitee_search_point *p)
{
    snprintf(buf, len, "accuracy %.4f, %.6g mean MACs, %.6g worst-case MACs", p->accuracy, p->mean_macs,
             p->max_macs);
}

int splitee_search_run(const splitee_search *s, const splitee_search_config *cfg,
                       splitee_search_result *res, splitee_error *err)
{
    memset(res, 0, sizeof *res);
    const int C = s->C;
    int st = check_grid(cfg->grid, cfg->ngrid, err);
    if (st < 0)
        return st;
    if ((unsigned)cfg->method >= SPLITEE_SEARCH_METHOD_COUNT)
        return splitee__fail(err, SPLITEE_ERR_ARG, "method: unknown search method %d", (int)cfg->method);
    if (!(cfg->thresholds & (SPLITEE_SEARCH_THR_COMMON | SPLITEE_SEARCH_THR_DP | SPLITEE_SEARCH_THR_FULL)))
        return splitee__fail(err, SPLITEE_ERR_ARG, "thresholds: no threshold mode asked for");
    if (cfg->thresholds & SPLITEE_SEARCH_THR_DP) {
        if (cfg->ndp_weights < 1 || cfg->ndp_weights > SPLITEE_SEARCH_MAX_WEIGHTS)
            return splitee__fail(err, SPLITEE_ERR_ARG, "dp-weights: %d weights, need 1..%d", cfg->ndp_weights,
                                 SPLITEE_SEARCH_MAX_WEIGHTS);
        for (int i = 0; i < cfg->ndp_weights; i++)
            if (!(cfg->dp_weights[i] >= 0 && cfg->dp_weights[i] <= 1))
                return splitee__fail(err, SPLITEE_ERR_ARG, "dp-weights: weight %d must be in [0, 1] (got %g)",
                                     i + 1, cfg->dp_weights[i]);
    }
    if ((unsigned)cfg->budget >= SPLITEE_BUDGET_COUNT)
        return splitee__fail(err, SPLITEE_ERR_ARG, "budget: unknown kind %d", (int)cfg->budget);
    if (isnan(cfg->limit))
        return splitee__fail(err, SPLITEE_ERR_ARG, "budget: the limit is NaN");
    if (cfg->budget == SPLITEE_BUDGET_LATENCY && !(cfg->device_macs_per_s > 0 && isfinite(cfg->device_macs_per_s)))
        return splitee__fail(err, SPLITEE_ERR_ARG, "budget: a latency budget needs the device's MAC rate (> 0)");
    if (cfg->budget == SPLITEE_BUDGET_LATENCY && cfg->offload_ms) {
        for (int j = 0; j < C - 1; j++)
            if (!(cfg->offload_ms[j] >= 0))
                return splitee__fail(err, SPLITEE_ERR_ARG, "budget: offload latency of candidate %d must be >= 0 (got %g)",
                                     j + 1, cfg->offload_ms[j]);
        if (!(cfg->offload_raw_ms >= 0))
            return splitee__fail(err, SPLITEE_ERR_ARG, "budget: raw-input offload latency must be >= 0");
    }
    int method = cfg->method;
    if (method == SPLITEE_SEARCH_METHOD_AUTO)
        method = C <= SPLITEE_SEARCH_MAX_EXHAUSTIVE ? SPLITEE_SEARCH_METHOD_EXHAUSTIVE : SPLITEE_SEARCH_METHOD_GREEDY;
    if (method == SPLITEE_SEARCH_METHOD_EXHAUSTIVE && C > SPLITEE_SEARCH_MAX_EXHAUSTIVE)
        return splitee__fail(err, SPLITEE_ERR_ARG,
                             "method: exhaustive takes at most %d candidates (%d early exits); the table has %d",
                             SPLITEE_SEARCH_MAX_EXHAUSTIVE, SPLITEE_SEARCH_MAX_EXHAUSTIVE - 1, C);
    if (cfg->thresholds & SPLITEE_SEARCH_THR_FULL) {
        double total = 0;
        if (method == SPLITEE_SEARCH_METHOD_EXHAUSTIVE) {
            /* sum over subsets of G^m = (G + 1)^(C-1) */
            total = pow(cfg->ngrid + 1, C - 1);
        } else {
            total = pow(cfg->ngrid, C - 1) * (C - 1) * (C - 1);
        }
        if (total > cfg->max_configs)
            return splitee__fail(err, SPLITEE_ERR_ARG,
                                 "thresholds: full needs about %.3g configurations, over the limit of %.3g", total,
                                 cfg->max_configs);
    }
    if ((cfg->thresholds & SPLITEE_SEARCH_THR_DP) &&
        (double)C * (C + 1) / 2 * cfg->ngrid * cfg->ngrid * 4 > 1073741824.0)
        return splitee__fail(err, SPLITEE_ERR_ARG,
                             "grid: %d values are too many for the DP over %d candidates (its tables would "
                             "pass 1 GiB)", cfg->ngrid, C);
    run r;
    if ((st = run_init(&r, s, cfg, err)) < 0)
        return st;
    splitee_search_point best, top;
    if (method == SPLITEE_SEARCH_METHOD_EXHAUSTIVE) {
        uint64_t n = (uint64_t)1 << (C - 1);
        for (uint64_t keep = 0; keep < n && st == 0; keep++)
            if (subset(&r, keep, &best, &top) < 0)
                st = -1;
    } else {
        uint64_t S = 0;
        splitee_search_point cur, curtop;
        if (subset(&r, 0, &cur, &curtop) < 0)
            st = -1;
        while (st == 0) {
            int pick = -1;
            splitee_search_point pb, pt;
            for (int j = 0; j < C - 1 && st == 0; j++) {
                if (S >> j & 1)
                    continue;
                if (subset(&r, S | (uint64_t)1 << j, &best, &top) < 0) {
                    st = -1;
                    break;
                }
                if (pick < 0 || preferred(&r, &best, &pb)) {
                    pick = j;
                    pb = best;
                    pt = top;
                }
            }
            if (st < 0 || pick < 0 || !preferred(&r, &pb, &cur))
                break;
            S |= (uint64_t)1 << pick;
            cur = pb;
            curtop = pt;
        }
        if (st == 0 && cfg->budget == SPLITEE_BUDGET_MACS && !meets(&r, &r.chosen)) {
            splitee_search_plan p = curtop.plan;
            splitee_search_point rp;
            res->before_repair = curtop;
            res->repaired = 1;
            splitee_search_repair(s, &p, cfg->limit, cfg->repair_step, 0, &rp, NULL);
            consider(&r, &rp);
        }
    }
    if (st < 0 || r.nomem) {
        run_free(&r);
        memset(res, 0, sizeof *res);
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "search: out of memory");
    }
    res->chosen = r.chosen;
    res->met = meets(&r, &r.chosen);
    res->front = r.front;
    res->nfront = r.nfront;
    res->evaluated = r.evaluated;
    res->method = method;
    r.front = NULL;
    run_free(&r);
    if (!res->met) {
        char d[160];
        describe_point(d, sizeof d, &res->chosen);
        switch (cfg->budget) {
        case SPLITEE_BUDGET_MACS:
            return splitee__fail(err, SPLITEE_ERR_VALUE,
                                 "budget: no configuration spends at most %.6g mean MACs; the closest: %s",
                                 cfg->limit, d);
        case SPLITEE_BUDGET_ACCURACY:
            return splitee__fail(err, SPLITEE_ERR_VALUE,
                                 "budget: no configuration reaches accuracy %.4f; the closest: %s", cfg->limit, d);
        default:
            return splitee__fail(err, SPLITEE_ERR_VALUE,
                                 "budget: no configuration's worst case fits %.6g ms at %.6g MAC/s%s; the closest "
                                 "takes %.6g ms: %s",
                                 cfg->limit, cfg->device_macs_per_s, cfg->offload_ms ? " with offloading" : "",
                                 splitee_search_latency_ms(cfg, &res->chosen), d);
        }
    }
    return 0;
}

void splitee_search_result_free(splitee_search_result *res)
{
    free(res->front);
    res->front = NULL;
    res->nfront = 0;
}
