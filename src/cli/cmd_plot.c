/* cmd_plot.c -- `splitee plot`: redraws figures from the CSV files that
 * `splitee replay --curves/--csv` wrote, so a figure can be remade (or
 * restyled) without rerunning the replay. Reads the CSV back into the
 * result structures the plot module draws from. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/internal.h"
#include "groups.h"

#define MAX_COLS 64
#define CLI_MAX_POLICIES_PLOT 64

/* One CSV file held in memory, split into fields in place. */
typedef struct csv {
    char *text;
    char **cells;   /* (rows, ncols) */
    size_t rows;
    int ncols;
    char *head[MAX_COLS];
} csv;

static void csv_free(csv *c)
{
    free(c->text);
    free(c->cells);
}

static int split_line(char *line, char **out, int max)
{
    int n = 0;
    for (char *p = line;; ) {
        if (n == max)
            return -1;
        out[n++] = p;
        char *comma = strchr(p, ',');
        if (!comma)
            break;
        *comma = '\0';
        p = comma + 1;
    }
    return n;
}

static int csv_read(const char *path, csv *c, splitee_error *err)
{
    memset(c, 0, sizeof *c);
    size_t len;
    int st = splitee__read_file(path, 0, &c->text, &len, err);
    if (st < 0)
        return st;
    size_t lines = 1;
    for (char *p = c->text; *p; p++)
        lines += *p == '\n';
    char *save = NULL, *line = strtok_r(c->text, "\r\n", &save);
    if (!line || (c->ncols = split_line(line, c->head, MAX_COLS)) < 1)
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: no CSV header", path);
    c->cells = malloc(lines * (size_t)c->ncols * sizeof *c->cells);
    if (!c->cells)
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", path);
    while ((line = strtok_r(NULL, "\r\n", &save)) != NULL) {
        if (split_line(line, c->cells + c->rows * c->ncols, c->ncols) != c->ncols)
            return splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: row %zu does not have %d fields",
                                 path, c->rows + 2, c->ncols);
        c->rows++;
    }
    if (c->rows == 0)
        return splitee__fail(err, SPLITEE_ERR_SHAPE, "%s: no data rows", path);
    return 0;
}

static int col(const csv *c, const char *name, const char *path, splitee_error *err)
{
    for (int i = 0; i < c->ncols; i++)
        if (strcmp(c->head[i], name) == 0)
            return i;
    splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: no column '%s' (not a file splitee replay wrote?)",
                  path, name);
    return -1;
}

static int num(const csv *c, size_t row, int k, double *out, const char *path, splitee_error *err)
{
    const char *s = c->cells[row * c->ncols + k];
    char *end;
    *out = strtod(s, &end);
    if (end == s || *end)
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: row %zu, column '%s': not a number",
                             path, row + 2, c->head[k]);
    return 0;
}

/* Same setting as row `first` (the five parameter columns are identical
 * text)? */
static int same_setting(const csv *c, size_t first, size_t row)
{
    for (int k = 0; k < 5; k++)
        if (strcmp(c->cells[row * c->ncols + k], c->cells[first * c->ncols + k]) != 0)
            return 0;
    return 1;
}

/* The setting of `row` from the parameter columns (alpha, lambda, mu,
 * offload, beta: the first five); an empty lambda or offload cell (a
 * per-layer vector replaced it) reads as NaN, which the figures name so. */
static int read_setting(const csv *c, size_t row, splitee_setting *s, const char *path,
                        splitee_error *err)
{
    static const char *const names[5] = { "alpha", "lambda", "mu", "offload", "beta" };
    double *dst[5] = { &s->reward.alpha, &s->reward.lambda, &s->reward.mu, &s->reward.offload,
                       &s->beta };
    splitee_setting_default(s);
    for (int k = 0; k < 5; k++) {
        if (k >= c->ncols || strcmp(c->head[k], names[k]) != 0)
            return splitee__fail(err, SPLITEE_ERR_FORMAT,
                                 "%s: column %d is not '%s' (not a file splitee replay wrote?)",
                                 path, k + 1, names[k]);
        if ((k == 1 || k == 3) && !c->cells[row * c->ncols + k][0]) {
            *dst[k] = NAN;
            continue;
        }
        int st = num(c, row, k, dst[k], path, err);
        if (st < 0)
            return st;
    }
    return 0;
}

/* Index of `name` among the first n policies of r, or -1. */
static int find_policy(const splitee_result *r, const char *name)
{
    for (int p = 0; p < r->npolicies; p++)
        if (strcmp(r->policies[p].name, name) == 0)
            return p;
    return -1;
}

/* The curves of one setting: rows first..end-1, grouped by policy in file
 * order, into r. */
static int read_curves(const csv *c, size_t first, size_t end, int kpol, int kround, int kpr,
                       int nk, splitee_result *r, const char *path, splitee_error *err)
{
    int st = read_setting(c, first, &r->setting, path, err);
    r->segments = nk == SPLITEE_CURVE_KINDS ? 2 : 1;   /* shift rounds are not in the file */
    r->policies = st ? NULL : calloc(CLI_MAX_POLICIES_PLOT, sizeof *r->policies);
    if (st == 0 && !r->policies)
        st = splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", path);
    size_t *count = st ? NULL : calloc(CLI_MAX_POLICIES_PLOT, sizeof *count);
    if (st == 0 && !count)
        st = splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", path);
    const size_t rows = end - first;
    for (size_t i = first; st == 0 && i < end; i++) {
        const char *name = c->cells[i * c->ncols + kpol];
        int p = find_policy(r, name);
        if (p < 0) {
            if (r->npolicies == CLI_MAX_POLICIES_PLOT) {
                st = splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: too many policies", path);
                break;
            }
            p = r->npolicies++;
            snprintf(r->policies[p].name, sizeof r->policies[p].name, "%s", name);
            r->policies[p].curves = calloc(rows * 3 * SPLITEE_CURVE_KINDS, sizeof(double));
            if (!r->policies[p].curves) {
                st = splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
        }
        size_t k = count[p]++;
        if (p == 0) {
            double rd;
            if ((st = num(c, i, kround, &rd, path, err)) < 0)
                break;
            if (!r->checkpoint_rounds)
                r->checkpoint_rounds = malloc(rows * sizeof *r->checkpoint_rounds);
            if (!r->checkpoint_rounds) {
                st = splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            r->checkpoint_rounds[k] = (size_t)rd;
            r->checkpoints = (int)(k + 1);
        }
        for (int m = 0; st == 0 && m < 3 * nk; m++)
            st = num(c, i, kpr + m, &r->policies[p].curves[k * 3 * SPLITEE_CURVE_KINDS + m], path, err);
    }
    for (int p = 1; st == 0 && p < r->npolicies; p++)
        if (count[p] != count[0])
            st = splitee__fail(err, SPLITEE_ERR_SHAPE, "%s: policies have different numbers of rows", path);
    free(count);
    return st;
}

/* Every setting of a curves file: one regret figure each. */
static int plot_curves(const char *path, const char *prefix, splitee_error *err)
{
    csv c;
    int st = csv_read(path, &c, err);
    int kpol = st ? -1 : col(&c, "policy", path, err);
    int kround = kpol < 0 ? -1 : col(&c, "round", path, err);
    int kpr = kround < 0 ? -1 : col(&c, "pseudo_regret", path, err);
    if (st == 0 && kpr < 0)
        st = err->status;
    /* curves of a stream with shifts carry the dynamic regret columns too */
    int nk = SPLITEE_CURVE_DYNAMIC_PSEUDO_REGRET;
    for (int i = 0; st == 0 && i < c.ncols; i++)
        if (strcmp(c.head[i], "dynamic_pseudo_regret") == 0)
            nk = SPLITEE_CURVE_KINDS;
    if (st == 0 && c.ncols < kpr + 3 * nk)
        st = splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: missing curve columns", path);
    /* settings are runs of rows with the same parameters */
    splitee_result *res = NULL;
    int nres = 0, cap = 0;
    for (size_t first = 0; st == 0 && first < c.rows;) {
        size_t end = first + 1;
        while (end < c.rows && same_setting(&c, first, end))
            end++;
        if (nres == cap) {
            int ncap = cap ? 2 * cap : 8;
            splitee_result *g = realloc(res, (size_t)ncap * sizeof *res);
            if (!g) {
                st = splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            res = g;
            cap = ncap;
        }
        memset(&res[nres], 0, sizeof *res);
        st = read_curves(&c, first, end, kpol, kround, kpr, nk, &res[nres++], path, err);
        first = end;
    }
    if (st == 0)
        st = splitee_plot_regrets(prefix, res, nres, -1, err);
    splitee_results_free(res, nres);
    csv_free(&c);
    return st;
}

static int plot_table(const char *path, const char *prefix, splitee_error *err)
{
    csv c;
    int st = csv_read(path, &c, err);
    int kpol = st ? -1 : col(&c, "policy", path, err);
    int kcost = kpol < 0 ? -1 : col(&c, "cost", path, err);
    int kacc = kcost < 0 ? -1 : col(&c, "accuracy", path, err);
    if (st == 0 && kacc < 0)
        st = err->status;
    /* policies repeat with the same period in every setting */
    int np = 0;
    while (st == 0 && (size_t)np < c.rows && (np == 0 || strcmp(c.cells[np * c.ncols + kpol], c.cells[kpol]) != 0))
        np++;
    int nres = np ? (int)(c.rows / (size_t)np) : 0;
    if (st == 0 && (size_t)nres * np != c.rows)
        st = splitee__fail(err, SPLITEE_ERR_SHAPE, "%s: settings do not all list the same policies", path);
    splitee_result *res = st ? NULL : calloc((size_t)nres, sizeof *res);
    if (st == 0 && !res)
        st = splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", path);
    for (int i = 0; st == 0 && i < nres; i++) {
        res[i].npolicies = np;
        res[i].has_labels = 1;
        if (!(res[i].policies = calloc((size_t)np, sizeof *res[i].policies))) {
            st = splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", path);
            break;
        }
        /* the points are labelled with the swept parameters */
        if ((st = read_setting(&c, (size_t)i * np, &res[i].setting, path, err)) < 0)
            break;
        for (int p = 0; st == 0 && p < np; p++) {
            size_t row = (size_t)i * np + p;
            splitee_policy_result *pr = &res[i].policies[p];
            snprintf(pr->name, sizeof pr->name, "%s", c.cells[row * c.ncols + kpol]);
            if (strcmp(pr->name, res[0].policies[p].name) != 0)
                st = splitee__fail(err, SPLITEE_ERR_SHAPE, "%s: row %zu: policy order differs", path, row + 2);
            else if (!same_setting(&c, (size_t)i * np, row))
                st = splitee__fail(err, SPLITEE_ERR_SHAPE, "%s: row %zu: parameters differ within a setting", path, row + 2);
            else if ((st = num(&c, row, kcost, &pr->cost.mean, path, err)) == 0 &&
                     (st = num(&c, row, kacc, &pr->accuracy.mean, path, err)) == 0 &&
                     (st = num(&c, row, kacc + 1, &pr->accuracy.lo, path, err)) == 0)
                st = num(&c, row, kacc + 2, &pr->accuracy.hi, path, err);
        }
    }
    if (st == 0)
        st = splitee_plot_sweep(prefix, res, nres, err);
    splitee_results_free(res, nres);
    csv_free(&c);
    return st;
}

/* ---- options ------------------------------------------------------------ */

typedef struct plot_opts {
    char *curves, *table, *out;
    cli_progress prog;
} plot_opts;

static const cli_opt OPT_CURVES = { .name = "curves", .arg = "FILE", .kind = CLI_STRING,
    .off = offsetof(plot_opts, curves),
    .help = "curves CSV of `splitee replay --curves`: draws PREFIX-regret.{svg,png}\n"
            "(a sweep: one figure per setting, PREFIX-regret-o0.3.{svg,png} ...)" };
static const cli_opt OPT_TABLE = { .name = "table", .arg = "FILE", .kind = CLI_STRING,
    .off = offsetof(plot_opts, table),
    .help = "table CSV of `splitee replay --csv` of a sweep: draws\n"
            "PREFIX-sweep.{svg,png} (accuracy against cost)" };
static const cli_opt OPT_OUT = { .name = "out", .arg = "PREFIX", .kind = CLI_STRING,
    .off = offsetof(plot_opts, out), .help = "where the figures go (required)" };
static const cli_opt *const PLOT_OPTS[] = { &OPT_CURVES, &OPT_TABLE, &OPT_OUT, NULL };
static const cli_group PLOT = { .title = "plot", .opts = PLOT_OPTS };

static const cli_use GROUPS[] = {
    { &PLOT, 0 },
    { &cli_group_progress, offsetof(plot_opts, prog) },
    { NULL, 0 },
};

static const cli_command CMD = {
    .name = "plot",
    .synopsis = "splitee plot [--curves FILE] [--table FILE] --out PREFIX",
    .about = "Redraws the figures of `splitee replay --plot` from the CSV files replay wrote.\n",
    .groups = GROUPS,
};

int cli_plot(int argc, char **argv)
{
    plot_opts o;
    memset(&o, 0, sizeof o);
    splitee_error err = { 0, "" };
    int st = cli_parse(&CMD, &o, argc, argv, &err);
    if (st == 0 && !o.out)
        st = splitee__fail(&err, SPLITEE_ERR_ARG, "--out: missing (the PREFIX of the figures; see splitee plot --help)");
    if (st == 0 && !o.curves && !o.table)
        st = splitee__fail(&err, SPLITEE_ERR_ARG, "give --curves FILE, --table FILE or both (see splitee plot --help)");
    if (st == 0 && o.curves)
        st = plot_curves(o.curves, o.out, &err);
    if (st == 0 && o.table)
        st = plot_table(o.table, o.out, &err);
    cli_free(&CMD, &o);
    if (st == 1)
        return 0;
    return st < 0 ? cli_fail(&err, st) : 0;
}
