/* cmd_search.c -- `splitee search`: which candidate exits to keep and at
 * which thresholds under a budget (mean MACs, a target accuracy, or a
 * worst-case latency at a device's MAC rate), on a calibration table,
 * checked on a test table (search.h, docs/SEARCH.md). Writes the front and
 * the chosen configuration as JSON, a plot of the front, and a model
 * variant holding only the kept exits. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "core/internal.h"
#include "core/numfmt.h"
#include "groups.h"

typedef struct search_opts {
    cli_table tab;
    cli_model model;
    cli_progress progress;
    cli_link_opts link;
    char *macs, *head_macs;
    double budget_macs, target_acc, max_lat_ms, rate;
    int method, confidence;
    char *thresholds, *grid, *weights;
    double repair_step;
    char *test_logits, *test_labels;
    long cal_samples;
    char *json, *plot, *out_model;
    cli_source macs_src;
} search_opts;

static const char *method_at(int i, const char **desc)
{
    static const char *const D[] = { "exhaustive up to 16 early exits, greedy beyond",
                                     "every subset of the early exits (at most 16)",
                                     "forward selection, then the NACHOS repair step" };
    if (i < 0 || i >= SPLITEE_SEARCH_METHOD_COUNT)
        return NULL;
    *desc = D[i];
    return splitee_search_method_name((splitee_search_method)i);
}

static int set_method(void *g, const char *v, const cli_ctx *ctx, splitee_error *err)
{
    (void)ctx;
    return cli_pick_name(method_at, "method", v, &((search_opts *)g)->method, err);
}
static int set_conf(void *g, const char *v, const cli_ctx *ctx, splitee_error *err)
{
    (void)ctx;
    return cli_pick_name(cli_confidence_at, "confidence", v, &((search_opts *)g)->confidence, err);
}

#define DBL(nm, field, lo_, hi_, op, h, d) \
    static const cli_opt nm = { .name = #field, .arg = "V", .kind = CLI_DOUBLE, \
        .off = offsetof(search_opts, field), .lo = lo_, .hi = hi_, .open = op, .help = h, .def = d }

static const cli_opt OPT_MACS = { .name = "macs", .arg = "LIST|FILE", .kind = CLI_STRING,
    .off = offsetof(search_opts, macs),
    .help = "each candidate's cumulative MACs (backbone to its point plus its head): a list\n"
            "or a file (JSON array, or one number per line); needs --head-macs" };
static const cli_opt OPT_HEAD = { .name = "head-macs", .arg = "LIST|FILE", .kind = CLI_STRING,
    .off = offsetof(search_opts, head_macs),
    .help = "each candidate's head MACs alone (with --macs); without --macs both come from --model" };
static const cli_opt OPT_BMACS = { .name = "budget-macs", .arg = "V", .kind = CLI_DOUBLE,
    .off = offsetof(search_opts, budget_macs), .lo = 0, .hi = 1e300, .open = CLI_OPEN_LO,
    .help = "budget: mean MACs per sample at most V; the most accurate such configuration" };
static const cli_opt OPT_TACC = { .name = "target-accuracy", .arg = "A", .kind = CLI_DOUBLE,
    .off = offsetof(search_opts, target_acc), .lo = 0, .hi = 1, .open = CLI_OPEN_LO,
    .help = "budget: accuracy at least A (a fraction); the fewest mean MACs" };
static const cli_opt OPT_LAT = { .name = "max-latency-ms", .arg = "T", .kind = CLI_DOUBLE,
    .off = offsetof(search_opts, max_lat_ms), .lo = 0, .hi = 1e300, .open = CLI_OPEN_LO,
    .help = "budget: worst-case latency at most T ms (needs --device-macs-per-s; the\n"
            "reference's default limit is 500): the device runs every kept exit, or with\n"
            "--link the kept early exits and offloads what none accepts after the last one" };
static const cli_opt OPT_RATE = { .name = "device-macs-per-s", .arg = "R", .kind = CLI_DOUBLE,
    .off = offsetof(search_opts, rate), .lo = 0, .hi = 1e300, .open = CLI_OPEN_LO,
    .help = "the device's MAC rate, for --max-latency-ms" };
static const cli_opt OPT_METHOD = { .name = "method", .arg = "M", .kind = CLI_FN, .set = set_method,
    .list = method_at, .help = "how exit subsets are searched", .def = "auto" };
static const cli_opt OPT_THR = { .name = "thresholds", .arg = "LIST", .kind = CLI_STRING,
    .off = offsetof(search_opts, thresholds),
    .help = "threshold modes per subset: common (one grid value for all kept exits), dp\n"
            "(per-exit, layered-graph DP), full (every per-exit combination; small problems)",
    .def = "common,dp" };
static const cli_opt OPT_GRID = { .name = "grid", .arg = "LIST", .kind = CLI_STRING,
    .off = offsetof(search_opts, grid),
    .help = "threshold grid: a,b,c or start:stop:step (increasing)",
    .def_text = "0.30:0.95:0.05 then 0.98, 0.99" };
static const cli_opt OPT_W = { .name = "dp-weights", .arg = "LIST", .kind = CLI_STRING,
    .off = offsetof(search_opts, weights),
    .help = "DP edge weights w (MACs) against 1 - w (errors), each in [0, 1]",
    .def = "0.05:0.95:0.05" };
static const cli_opt OPT_STEP = { .name = "repair-step", .arg = "S", .kind = CLI_DOUBLE,
    .off = offsetof(search_opts, repair_step), .lo = 0, .hi = 1, .open = CLI_OPEN_LO,
    .help = "greedy: how far the repair step lowers a threshold each time", .def = "0.1" };
static const cli_opt OPT_CONF = { .name = "confidence", .arg = "C", .kind = CLI_FN, .set = set_conf,
    .list = cli_confidence_at, .help = "confidence measure the thresholds apply to", .def = "max-softmax" };
static const cli_opt *const SEARCH_OPTS[] = { &OPT_MACS, &OPT_HEAD, &OPT_BMACS, &OPT_TACC, &OPT_LAT, &OPT_RATE,
                                              &OPT_METHOD, &OPT_THR, &OPT_GRID, &OPT_W, &OPT_STEP, &OPT_CONF,
                                              NULL };
static const cli_group SEARCH = { .title = "search", .opts = SEARCH_OPTS };

static const cli_opt OPT_TL = { .name = "test-logits", .arg = "FILE", .kind = CLI_STRING,
    .off = offsetof(search_opts, test_logits), .help = "the test table the chosen configuration is checked on" };
static const cli_opt OPT_TLAB = { .name = "test-labels", .arg = "FILE", .kind = CLI_STRING,
    .off = offsetof(search_opts, test_labels), .help = "its labels (.npy)" };
static const cli_opt OPT_NCAL = { .name = "cal-samples", .arg = "N", .kind = CLI_LONG,
    .off = offsetof(search_opts, cal_samples), .lo = 1, .hi = 2000000000,
    .help = "instead: the table's first N samples calibrate, the rest are the test table" };
static const cli_opt *const TEST_OPTS[] = { &OPT_TL, &OPT_TLAB, &OPT_NCAL, NULL };
static const cli_group TEST = { .title = "test", .opts = TEST_OPTS };

static const cli_opt OPT_JSON = { .name = "json", .arg = "FILE", .kind = CLI_STRING,
    .off = offsetof(search_opts, json), .help = "write the front and the chosen configuration as JSON" };
static const cli_opt OPT_PLOT = { .name = "plot", .arg = "FILE.png", .kind = CLI_STRING,
    .off = offsetof(search_opts, plot),
    .help = "draw accuracy against mean MACs, the chosen point marked (FILE.png and FILE.svg)" };
static const cli_opt OPT_OUTM = { .name = "out-model", .arg = "DIR", .kind = CLI_STRING,
    .off = offsetof(search_opts, out_model),
    .help = "write the chosen configuration as a model variant of --model holding only the\n"
            "kept exits (a new or empty folder: model.json and the tensors it reads)" };
static const cli_opt *const OUT_OPTS[] = { &OPT_JSON, &OPT_PLOT, &OPT_OUTM, NULL };
static const cli_group OUT = { .title = "output", .opts = OUT_OPTS };

static const cli_use GROUPS[] = {
    { &cli_group_table, offsetof(search_opts, tab) },
    { &cli_group_model, offsetof(search_opts, model) },
    { &SEARCH, 0 },
    { &cli_group_link, offsetof(search_opts, link) },
    { &TEST, 0 },
    { &OUT, 0 },
    { &cli_group_progress, offsetof(search_opts, progress) },
    { NULL, 0 },
};

static const cli_command CMD = {
    .name = "search",
    .synopsis = "splitee search [options]",
    .about = "Chooses which candidate exits to keep and their thresholds under a budget, on a\n"
             "calibration table of candidate-exit logits (the last candidate is the final\n"
             "classifier, always kept). A sample runs the kept exits in order and stops at the\n"
             "first whose confidence reaches its threshold, else at the final; it costs the\n"
             "backbone's MACs to that point plus every kept head it evaluated. Prints the\n"
             "chosen configuration and the Pareto front of accuracy against mean MACs, each\n"
             "checked on the test table. MACs come from --model (stage and exit MACs) unless\n"
             "--macs and --head-macs give them. docs/SEARCH.md.\n",
    .groups = GROUPS,
    .data_note = 1,
};

/* ---- helpers ---- */

/* A list option (a,b,c or start:stop:step) into v. */
static int parse_list(const char *s, const char *opt, double *v, int max, int *n, splitee_error *err)
{
    cli_values cv;
    char what[64];
    snprintf(what, sizeof what, "--%s", opt);
    int st = cli_parse_values(s, &cv, err, what);
    if (st < 0)
        return st;
    if (cv.n > max)
        return splitee__fail(err, SPLITEE_ERR_ARG, "--%s: more than %d values", opt, max);
    memcpy(v, cv.v, (size_t)cv.n * sizeof *v);
    *n = cv.n;
    return 0;
}

/* A MAC vector option: a list ([...] allowed) or a file. */
static int parse_macs(const char *s, const char *opt, double *v, int *n, splitee_error *err)
{
    char what[64], *copy = NULL;
    snprintf(what, sizeof what, "--%s", opt);
    if (s[0] == '[') {
        size_t l = strlen(s);
        if (l < 2 || s[l - 1] != ']')
            return splitee__fail(err, SPLITEE_ERR_FORMAT, "--%s: '%s' is not a JSON array", opt, s);
        if (!(copy = strndup(s + 1, l - 2)))
            return splitee__fail(err, SPLITEE_ERR_NOMEM, "out of memory");
        s = copy;
    }
    int st = cli_parse_vector(s, v, SPLITEE_MAX_EXITS, n, err, what);
    free(copy);
    return st;
}

/* "1,3,12" of the kept exits (1-based, the final included). */
static void exits_text(const splitee_search_plan *p, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = '\0';
    for (int j = 0; j < p->candidates && o < len; j++)
        if (j == p->candidates - 1 || (p->keep >> j & 1))
            o += (size_t)snprintf(buf + o, len - o, "%s%d", o ? "," : "", j + 1);
}

static void thr_text(const splitee_search_plan *p, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = '\0';
    for (int j = 0; j < p->candidates - 1 && o < len; j++)
        if (p->keep >> j & 1)
            o += (size_t)snprintf(buf + o, len - o, "%s%.4g", o ? "," : "", p->thr[j]);
    if (!o)
        snprintf(buf, len, "-");
}

static void json_point(FILE *f, const splitee_search_point *p, const splitee_search_point *t)
{
    fputs("{\"exits\": [", f);
    int first = 1;
    for (int j = 0; j < p->plan.candidates; j++)
        if (j == p->plan.candidates - 1 || (p->plan.keep >> j & 1)) {
            fprintf(f, "%s%d", first ? "" : ", ", j + 1);
            first = 0;
        }
    fputs("], \"thresholds\": [", f);
    first = 1;
    for (int j = 0; j < p->plan.candidates - 1; j++)
        if (p->plan.keep >> j & 1) {
            fputs(first ? "" : ", ", f);
            splitee__put_json_number(f, p->plan.thr[j]);
            first = 0;
        }
    fputs("], \"accuracy\": ", f);
    splitee__put_json_number(f, p->accuracy);
    fputs(", \"mean_macs\": ", f);
    splitee__put_json_number(f, p->mean_macs);
    fputs(", \"max_macs\": ", f);
    splitee__put_json_number(f, p->max_macs);
    fputs(", \"test_accuracy\": ", f);
    splitee__put_json_number(f, t->accuracy);
    fputs(", \"test_mean_macs\": ", f);
    splitee__put_json_number(f, t->mean_macs);
    fputs("}", f);
}

typedef struct report {
    const search_opts *o;
    const char *command, *cal_name, *test_name, *macs_from;
    size_t ncal, ntest;
    int C;
    const double *bb, *head;
    const splitee_search_config *cfg;
    const splitee_search_result *res;
    const splitee_search_point *ctest;      /* chosen on test */
    const splitee_search_point *ftest;      /* front on test (nfront) */
    const splitee_search_point *base, *btest; /* the final alone */
} report;

static void write_json(FILE *f, const report *r)
{
    const splitee_search_result *res = r->res;
    fputs("{\n  \"command\": ", f);
    splitee__put_json_string(f, r->command);
    fputs(",\n  \"table\": ", f);
    splitee__put_json_string(f, r->cal_name);
    fputs(",\n  \"test_table\": ", f);
    splitee__put_json_string(f, r->test_name);
    fprintf(f, ",\n  \"samples\": %zu,\n  \"test_samples\": %zu,\n  \"candidates\": %d,\n  \"macs_from\": ",
            r->ncal, r->ntest, r->C);
    splitee__put_json_string(f, r->macs_from);
    fputs(",\n  \"backbone_macs\": [", f);
    for (int j = 0; j < r->C; j++) {
        fputs(j ? ", " : "", f);
        splitee__put_json_number(f, r->bb[j]);
    }
    fputs("],\n  \"head_macs\": [", f);
    for (int j = 0; j < r->C; j++) {
        fputs(j ? ", " : "", f);
        splitee__put_json_number(f, r->head[j]);
    }
    fprintf(f, "],\n  \"confidence\": \"%s\",\n  \"method\": \"%s\",\n  \"budget\": {\"kind\": \"%s\", \"limit\": ",
            splitee_confidence_name(r->o->confidence), splitee_search_method_name(res->method),
            splitee_budget_kind_name(r->cfg->budget));
    splitee__put_json_number(f, r->cfg->limit);
    if (r->cfg->budget == SPLITEE_BUDGET_LATENCY) {
        fputs(", \"device_macs_per_s\": ", f);
        splitee__put_json_number(f, r->cfg->device_macs_per_s);
        if (r->o->link.link) {
            fputs(", \"link\": ", f);
            splitee__put_json_string(f, r->o->link.link);
            fputs(", \"offload_ms\": [", f);
            for (int j = 0; j < r->C - 1; j++) {
                fputs(j ? ", " : "", f);
                splitee__put_json_number(f, r->cfg->offload_ms[j]);
            }
            fputs("], \"offload_raw_ms\": ", f);
            splitee__put_json_number(f, r->cfg->offload_raw_ms);
        }
        fputs(", \"chosen_latency_ms\": ", f);
        splitee__put_json_number(f, splitee_search_latency_ms(r->cfg, &res->chosen));
    }
    fputs("},\n  \"grid\": [", f);
    for (int g = 0; g < r->cfg->ngrid; g++) {
        fputs(g ? ", " : "", f);
        splitee__put_json_number(f, r->cfg->grid[g]);
    }
    fputs("],\n  \"evaluated\": ", f);
    splitee__put_json_number(f, res->evaluated);
    fprintf(f, ",\n  \"repaired\": %s,\n  \"backbone\": ", res->repaired ? "true" : "false");
    json_point(f, r->base, r->btest);
    fputs(",\n  \"chosen\": ", f);
    json_point(f, &res->chosen, r->ctest);
    fputs(",\n  \"front\": [", f);
    for (int i = 0; i < res->nfront; i++) {
        fputs(i ? ",\n    " : "\n    ", f);
        json_point(f, &res->front[i], &r->ftest[i]);
    }
    fputs("\n  ]\n}\n", f);
}

/* Checks that dir can become the variant: new (its parent exists) or an
 * empty folder. */
static int check_out_model(const char *dir, splitee_error *err)
{
    struct stat sb;
    if (stat(dir, &sb) == 0) {
        if (!S_ISDIR(sb.st_mode))
            return splitee__fail(err, SPLITEE_ERR_IO, "--out-model: %s exists and is not a folder", dir);
        DIR *d = opendir(dir);
        if (!d)
            return splitee__fail(err, SPLITEE_ERR_IO, "--out-model: %s: %s", dir, strerror(errno));
        struct dirent *e;
        int empty = 1;
        while (empty && (e = readdir(d)))
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                empty = 0;
        closedir(d);
        if (!empty)
            return splitee__fail(err, SPLITEE_ERR_IO, "--out-model: %s is not empty", dir);
        return 0;
    }
    char *copy = strdup(dir);
    if (!copy)
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "out of memory");
    char *slash = strrchr(copy, '/');
    const char *parent = slash ? (slash == copy ? "/" : (*slash = '\0', copy)) : ".";
    int st = 0;
    if (stat(parent, &sb) != 0 || !S_ISDIR(sb.st_mode) || access(parent, W_OK | X_OK) != 0)
        st = splitee__fail(err, SPLITEE_ERR_IO, "--out-model: %s: its folder %s cannot take it", dir, parent);
    free(copy);
    return st;
}

/* Writes the variant, model.json and model.safetensors, into a temporary
 * folder beside dir, renamed to dir at the end (an empty dir is replaced). */
static int write_variant(const char *dir, const char *json, const void *w, size_t wlen, splitee_error *err)
{
    char tmpl[PATH_MAX], pj[PATH_MAX + 32], pw[PATH_MAX + 32];
    if (snprintf(tmpl, sizeof tmpl, "%s.tmpXXXXXX", dir) >= (int)sizeof tmpl)
        return splitee__fail(err, SPLITEE_ERR_IO, "--out-model: %s: path too long", dir);
    if (!mkdtemp(tmpl))
        return splitee__fail(err, SPLITEE_ERR_IO, "--out-model: %s: %s", dir, strerror(errno));
    mode_t mask = umask(0);   /* a folder as mkdir would make it, not mkdtemp's 0700 */
    umask(mask);
    chmod(tmpl, 0777 & ~mask);
    snprintf(pj, sizeof pj, "%s/model.json", tmpl);
    snprintf(pw, sizeof pw, "%s/model.safetensors", tmpl);
    splitee_output outs[2] = { { pj, json, strlen(json) }, { pw, w, wlen } };
    int st = splitee_file_write_all(outs, 2, err);
    if (st == 0) {
        rmdir(dir);   /* an empty folder the check accepted */
        if (rename(tmpl, dir) != 0)
            st = splitee__fail(err, SPLITEE_ERR_IO, "--out-model: %s: %s", dir, strerror(errno));
    }
    if (st < 0) {
        unlink(pj);
        unlink(pw);
        rmdir(tmpl);
    }
    return st;
}

int cli_search(int argc, char **argv)
{
    search_opts o;
    memset(&o, 0, sizeof o);
    splitee_error err = { 0, "" };
    splitee_table *t = NULL, *cal = NULL, *test = NULL;
    splitee_model *model = NULL;
    splitee_search *scal = NULL, *stest = NULL;
    splitee_search_result res;
    memset(&res, 0, sizeof res);
    splitee_search_point *ftest = NULL;
    char *cmdline = NULL, *buf = NULL, *variant = NULL;
    size_t len = 0;
    double grid[SPLITEE_SEARCH_MAX_GRID], weights[SPLITEE_SEARCH_MAX_WEIGHTS];
    double bb[SPLITEE_MAX_EXITS], head[SPLITEE_MAX_EXITS], cum[SPLITEE_MAX_EXITS];
    int ncum = 0, nhead = 0;
    const char *macs_from = "";
    char macs_from_buf[PATH_MAX + 32];
    splitee_search_config cfg;
    splitee_search_config_default(&cfg);
    int st = cli_parse(&CMD, &o, argc, argv, &err);
    if (st == 1) {
        cli_free(&CMD, &o);
        return 0;
    }
    /* ---- options ---- */
    if (st == 0 && o.tab.nshift > 0)
        st = splitee__fail(&err, SPLITEE_ERR_ARG, "--shift: splitee search takes one calibration table");
    int nb = (o.budget_macs > 0) + (o.target_acc > 0) + (o.max_lat_ms > 0);
    if (st == 0 && nb > 1)
        st = splitee__fail(&err, SPLITEE_ERR_ARG,
                           "--budget-macs, --target-accuracy and --max-latency-ms: give one budget, not %d", nb);
    if (st == 0 && o.max_lat_ms > 0 && !(o.rate > 0))
        st = splitee__fail(&err, SPLITEE_ERR_ARG, "--max-latency-ms: needs --device-macs-per-s R");
    if (st == 0 && o.rate > 0 && !(o.max_lat_ms > 0))
        st = splitee__fail(&err, SPLITEE_ERR_ARG, "--device-macs-per-s: only with --max-latency-ms");
    if (st == 0 && o.link.link && !(o.max_lat_ms > 0))
        st = splitee__fail(&err, SPLITEE_ERR_ARG, "--link: only with --max-latency-ms (it prices the offloads)");
    if (st == 0 && (o.macs != NULL) != (o.head_macs != NULL))
        st = splitee__fail(&err, SPLITEE_ERR_ARG,
                           o.macs ? "--macs: needs --head-macs (each head's own MACs, to charge the heads "
                                    "evaluated on the way)"
                                  : "--head-macs: only with --macs");
    if (st == 0 && o.test_logits && o.cal_samples)
        st = splitee__fail(&err, SPLITEE_ERR_ARG, "--cal-samples: not with --test-logits");
    if (st == 0 && o.test_labels && !o.test_logits)
        st = splitee__fail(&err, SPLITEE_ERR_ARG, "--test-labels: only with --test-logits");
    if (st == 0 && o.test_logits && !o.test_labels)
        st = splitee__fail(&err, SPLITEE_ERR_ARG, "--test-logits: needs --test-labels (accuracy is measured)");
    if (st == 0 && !o.test_logits && !o.cal_samples)
        st = splitee__fail(&err, SPLITEE_ERR_ARG, "search: give a test table (--test-logits/--test-labels) or "
                                                  "--cal-samples N to split the table");
    if (st == 0 && o.budget_macs > 0) {
        cfg.budget = SPLITEE_BUDGET_MACS;
        cfg.limit = o.budget_macs;
    } else if (st == 0 && o.target_acc > 0) {
        cfg.budget = SPLITEE_BUDGET_ACCURACY;
        cfg.limit = o.target_acc;
    } else if (st == 0 && o.max_lat_ms > 0) {
        cfg.budget = SPLITEE_BUDGET_LATENCY;
        cfg.limit = o.max_lat_ms;
        cfg.device_macs_per_s = o.rate;
    }
    cfg.method = (splitee_search_method)o.method;
    cfg.repair_step = o.repair_step;
    if (st == 0) {
        unsigned m = 0;
        char *copy = strdup(o.thresholds), *save = NULL;
        if (!copy)
            st = splitee__fail(&err, SPLITEE_ERR_NOMEM, "out of memory");
        for (char *tok = copy ? strtok_r(copy, ",", &save) : NULL; tok && st == 0; tok = strtok_r(NULL, ",", &save)) {
            if (strcmp(tok, "common") == 0)
                m |= SPLITEE_SEARCH_THR_COMMON;
            else if (strcmp(tok, "dp") == 0)
                m |= SPLITEE_SEARCH_THR_DP;
            else if (strcmp(tok, "full") == 0)
                m |= SPLITEE_SEARCH_THR_FULL;
            else
                st = splitee__fail(&err, SPLITEE_ERR_ARG, "--thresholds: expected common, dp or full, got '%s'", tok);
        }
        free(copy);
        if (st == 0 && !m)
            st = splitee__fail(&err, SPLITEE_ERR_ARG, "--thresholds: empty: name common, dp or full");
        cfg.thresholds = m;
    }
    if (st == 0 && o.grid) {
        int n = 0;
        if (!o.grid[0])
            st = splitee__fail(&err, SPLITEE_ERR_ARG, "--grid: the threshold grid is empty");
        else if ((st = parse_list(o.grid, "grid", grid, SPLITEE_SEARCH_MAX_GRID, &n, &err)) == 0) {
            for (int g = 1; g < n && st == 0; g++)
                if (!(grid[g] > grid[g - 1]))
                    st = splitee__fail(&err, SPLITEE_ERR_ARG, "--grid: values must increase (%g after %g)", grid[g],
                                       grid[g - 1]);
            cfg.grid = grid;
            cfg.ngrid = n;
        }
    }
    if (st == 0) {
        int n = 0;
        if (!o.weights[0])
            st = splitee__fail(&err, SPLITEE_ERR_ARG, "--dp-weights: empty");
        else if ((st = parse_list(o.weights, "dp-weights", weights, SPLITEE_SEARCH_MAX_WEIGHTS, &n, &err)) == 0) {
            for (int i = 0; i < n && st == 0; i++)
                if (!(weights[i] >= 0 && weights[i] <= 1))
                    st = splitee__fail(&err, SPLITEE_ERR_ARG, "--dp-weights: %g is outside [0, 1]", weights[i]);
            cfg.dp_weights = weights;
            cfg.ndp_weights = n;
        }
    }
    if (st == 0 && o.macs) {
        if ((st = parse_macs(o.macs, "macs", cum, &ncum, &err)) == 0)
            st = parse_macs(o.head_macs, "head-macs", head, &nhead, &err);
        if (st == 0 && ncum != nhead)
            st = splitee__fail(&err, SPLITEE_ERR_SHAPE, "--head-macs: %d values, --macs has %d", nhead, ncum);
    }
    /* ---- outputs are checked before any work ---- */
    char plot_prefix[PATH_MAX] = "", svg[PATH_MAX + 8] = "";
    if (st == 0 && o.json)
        st = splitee_output_check(o.json, &err);
    if (st == 0 && o.plot) {
        size_t l = strlen(o.plot);
        if (l < 5 || strcmp(o.plot + l - 4, ".png") != 0)
            st = splitee__fail(&err, SPLITEE_ERR_ARG, "--plot: %s: the figure's name must end in .png", o.plot);
        else if (l - 4 >= sizeof plot_prefix)
            st = splitee__fail(&err, SPLITEE_ERR_ARG, "--plot: name too long");
        else {
            memcpy(plot_prefix, o.plot, l - 4);
            plot_prefix[l - 4] = '\0';
            snprintf(svg, sizeof svg, "%s.svg", plot_prefix);
            if ((st = splitee_output_check(o.plot, &err)) == 0)
                st = splitee_output_check(svg, &err);
        }
    }
    /* ---- inputs ---- */
    if (st == 0)
        st = cli_table_load(&o.tab, &t, &err);
    if (st == 0 && !splitee_table_labels(t))
        st = splitee__fail(&err, SPLITEE_ERR_ARG, "%s: the search needs labels (--labels FILE)", splitee_table_name(t));
    int C = st == 0 ? splitee_table_exits(t) : 0;
    if (st == 0 && o.macs && ncum != C)
        st = splitee__fail(&err, SPLITEE_ERR_SHAPE, "--macs: %d values, but %s has %d candidate exits", ncum,
                           splitee_table_name(t), C);
    if (st == 0 && (!o.macs || o.out_model || o.link.link)) {
        st = splitee_model_load(o.model.dir, &model, &err);
        if (st == 0 && splitee_model_get_config(model)->layers != C)
            st = splitee__fail(&err, SPLITEE_ERR_SHAPE, "--model: %s has %d exits, but %s has %d candidate exits",
                               o.model.dir, splitee_model_get_config(model)->layers, splitee_table_name(t), C);
    }
    if (st == 0 && o.macs) {
        for (int j = 0; j < C && st == 0; j++) {
            bb[j] = cum[j] - head[j];
            if (!(bb[j] >= 0))
                st = splitee__fail(&err, SPLITEE_ERR_VALUE,
                                   "--head-macs: candidate %d's head (%g MACs) exceeds its cumulative MACs (%g)", j + 1,
                                   head[j], cum[j]);
        }
        macs_from = "--macs and --head-macs";
    } else if (st == 0) {
        double acc = 0;
        for (int j = 0; j < C; j++) {
            acc += (double)splitee_model_stage_macs(model, j + 1);
            bb[j] = acc;
            head[j] = (double)splitee_model_exit_macs(model, j + 1);
        }
        snprintf(macs_from_buf, sizeof macs_from_buf, "model %s", o.model.dir);
        macs_from = macs_from_buf;
    }
    splitee_link *lk = NULL;
    double offload[SPLITEE_MAX_EXITS], offload_raw = 0;
    if (st == 0 && o.link.link && (st = splitee_link_load(o.link.link, &lk, &err)) == 0) {
        /* worst case over 1000 loss and jitter draws at t = 0, per split point */
        for (int j = -1; j < C - 1; j++) {
            splitee_shape sh;
            size_t rows, cols;
            splitee_model_split_shape(model, j + 1, &sh);
            splitee_shape_payload_dims(&sh, &rows, &cols);
            size_t bytes = splitee_link_payload_bytes(lk, (splitee_payload_encoding)o.link.encoding, rows, cols);
            double worst = 0;
            for (uint64_t key = 0; key < 1000; key++) {
                splitee_transfer tr;
                splitee_link_price(lk, bytes, 0, key, &tr);
                if (tr.latency_ms > worst || isnan(tr.latency_ms))
                    worst = tr.latency_ms;
            }
            if (j < 0)
                offload_raw = worst;
            else
                offload[j] = worst;
        }
        cfg.offload_ms = offload;
        cfg.offload_raw_ms = offload_raw;
    }
    if (st == 0 && o.out_model)
        st = check_out_model(o.out_model, &err);
    size_t N = st == 0 ? splitee_table_samples(t) : 0;
    if (st == 0 && o.cal_samples) {
        if ((size_t)o.cal_samples >= N)
            st = splitee__fail(&err, SPLITEE_ERR_ARG, "--cal-samples: %ld leaves no test samples in %s (%zu samples)",
                               o.cal_samples, splitee_table_name(t), N);
        int K = splitee_table_classes(t);
        const double *lg = splitee_table_logits(t);
        const int32_t *lab = splitee_table_labels(t);
        size_t nc = (size_t)o.cal_samples, row = (size_t)C * (size_t)K;
        if (st == 0)
            st = splitee_table_from_logits(splitee_table_name(t), lg, nc, C, K, lab, &cal, &err);
        if (st == 0)
            st = splitee_table_from_logits(splitee_table_name(t), lg + nc * row, N - nc, C, K, lab + nc, &test, &err);
    } else if (st == 0) {
        cal = t;
        t = NULL;
        st = splitee_table_load(o.test_logits, o.test_labels, (splitee_layout)o.tab.layout, &test, &err);
        if (st == 0 && (splitee_table_exits(test) != C || splitee_table_classes(test) != splitee_table_classes(cal)))
            st = splitee__fail(&err, SPLITEE_ERR_SHAPE, "--test-logits: %s has %d candidates x %d classes, the "
                                                        "calibration table %d x %d",
                               o.test_logits, splitee_table_exits(test), splitee_table_classes(test), C,
                               splitee_table_classes(cal));
    }
    if (st == 0)
        st = splitee_search_create(cal, bb, head, (splitee_confidence)o.confidence, &scal, &err);
    if (st == 0)
        st = splitee_search_create(test, bb, head, (splitee_confidence)o.confidence, &stest, &err);
    /* ---- the search ---- */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (st == 0) {
        st = splitee_search_run(scal, &cfg, &res, &err);
        if (st == SPLITEE_ERR_VALUE) {
            char ex[256], th[512];
            exits_text(&res.chosen.plan, ex, sizeof ex);
            thr_text(&res.chosen.plan, th, sizeof th);
            size_t l = strlen(err.msg);
            snprintf(err.msg + l, sizeof err.msg - l, " (exits %s, thresholds %s)", ex, th);
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    splitee_search_point ctest, base, btest;
    if (st == 0) {
        if (!(ftest = malloc((size_t)(res.nfront > 0 ? res.nfront : 1) * sizeof *ftest)))
            st = splitee__fail(&err, SPLITEE_ERR_NOMEM, "out of memory");
        for (int i = 0; i < res.nfront && st == 0; i++)
            st = splitee_search_evaluate(stest, &res.front[i].plan, &ftest[i], &err);
        if (st == 0)
            st = splitee_search_evaluate(stest, &res.chosen.plan, &ctest, &err);
        splitee_search_plan bp;
        memset(&bp, 0, sizeof bp);
        bp.candidates = C;
        if (st == 0)
            st = splitee_search_evaluate(scal, &bp, &base, &err);
        if (st == 0)
            st = splitee_search_evaluate(stest, &bp, &btest, &err);
    }
    void *vweights = NULL;
    size_t vweights_len = 0;
    if (st == 0 && o.out_model)
        st = splitee_search_variant(o.model.dir, &res.chosen.plan, &variant, &vweights, &vweights_len, &err);
    report rep = { .o = &o, .C = C, .bb = bb, .head = head, .cfg = &cfg, .res = &res, .ctest = &ctest,
                   .ftest = ftest, .base = &base, .btest = &btest, .macs_from = macs_from };
    if (st == 0) {
        rep.cal_name = splitee_table_name(cal);
        rep.test_name = o.test_logits ? o.test_logits : splitee_table_name(test);
        rep.ncal = splitee_search_samples(scal);
        rep.ntest = splitee_search_samples(stest);
    }
    if (st == 0 && o.json) {
        cmdline = cli_join_args("search", argc, argv);
        FILE *m = cmdline ? open_memstream(&buf, &len) : NULL;
        if (!m) {
            st = splitee__fail(&err, SPLITEE_ERR_NOMEM, "%s: out of memory", o.json);
        } else {
            rep.command = cmdline;
            write_json(m, &rep);
            if (fclose(m) != 0)
                st = splitee__fail(&err, SPLITEE_ERR_NOMEM, "%s: out of memory", o.json);
        }
    }
    if (st == 0 && o.plot) {
        double *x = malloc((size_t)res.nfront * 4 * sizeof *x);
        if (!x) {
            st = splitee__fail(&err, SPLITEE_ERR_NOMEM, "out of memory");
        } else {
            double *y = x + res.nfront, *xt = y + res.nfront, *yt = xt + res.nfront;
            for (int i = 0; i < res.nfront; i++) {
                x[i] = res.front[i].mean_macs / 1e6;
                y[i] = 100 * res.front[i].accuracy;
                xt[i] = ftest[i].mean_macs / 1e6;
                yt[i] = 100 * ftest[i].accuracy;
            }
            double cx = res.chosen.mean_macs / 1e6, cy = 100 * res.chosen.accuracy;
            double bx = base.mean_macs / 1e6, by = 100 * base.accuracy;
            static const char *const chosen_label[] = { "chosen" };
            static const char *const base_label[] = { "backbone" };
            splitee_plot_series s[4] = {
                { "front (calibration)", (size_t)res.nfront, x, y, NULL, NULL, NULL },
                { "front on the test table", (size_t)res.nfront, xt, yt, NULL, NULL, NULL },
                { "chosen (calibration)", 1, &cx, &cy, NULL, NULL, chosen_label },
                { "final exit alone", 1, &bx, &by, NULL, NULL, base_label },
            };
            char title[256];
            snprintf(title, sizeof title, "Exit configurations: accuracy against mean MACs (%d candidates, %s)", C,
                     splitee_search_method_name(res.method));
            splitee_plot_spec spec = { title, "mean MMACs per sample", "accuracy (%)", 0, 1,
                                       SPLITEE_PLOT_SCALE_LINEAR };
            st = splitee_plot(plot_prefix, &spec, s, 4, &err);
            free(x);
        }
    }
    if (st == 0 && o.json)
        st = splitee_file_write_atomic(o.json, buf, len, &err);
    if (st == 0 && o.out_model) {
        st = write_variant(o.out_model, variant, vweights, vweights_len, &err);
    }
    if (st == 0) {
        char ex[256], th[512];
        printf("calibration: %s, %zu samples; test: %s, %zu samples; %d candidates (the last is the final)\n",
               rep.cal_name, rep.ncal, rep.test_name, rep.ntest, C);
        printf("MACs from %s; confidence %s\n", macs_from, splitee_confidence_name(o.confidence));
        printf("method %s, thresholds %s over %d grid values", splitee_search_method_name(res.method), o.thresholds,
               cfg.ngrid);
        if (cfg.thresholds & SPLITEE_SEARCH_THR_DP)
            printf(" (%d DP weights)", cfg.ndp_weights);
        printf(": %.0f configurations, front of %d\n", res.evaluated, res.nfront);
        printf("search took %.3f s (%.0f configurations/s)\n", secs, secs > 0 ? res.evaluated / secs : 0);
        switch (cfg.budget) {
        case SPLITEE_BUDGET_MACS:
            if (isfinite(cfg.limit))
                printf("budget: mean MACs <= %.6g\n", cfg.limit);
            else
                printf("budget: none (the most accurate configuration)\n");
            break;
        case SPLITEE_BUDGET_ACCURACY: printf("budget: accuracy >= %.4f\n", cfg.limit); break;
        default:
            if (lk)
                printf("budget: worst case <= %.6g ms at %.6g MAC/s, offloading after the last kept early exit on "
                       "%s (worst of 1000 draws at t = 0)\n",
                       cfg.limit, cfg.device_macs_per_s, splitee_link_get_params(lk)->name);
            else
                printf("budget: worst case <= %.6g ms at %.6g MAC/s (%.6g MACs, every kept exit on the device)\n",
                       cfg.limit, cfg.device_macs_per_s, cfg.limit * 1e-3 * cfg.device_macs_per_s);
        }
        if (res.repaired) {
            exits_text(&res.before_repair.plan, ex, sizeof ex);
            thr_text(&res.before_repair.plan, th, sizeof th);
            printf("repair step ran from exits %s at %s (%.6g mean MACs)\n", ex, th, res.before_repair.mean_macs);
        }
        exits_text(&res.chosen.plan, ex, sizeof ex);
        thr_text(&res.chosen.plan, th, sizeof th);
        printf("chosen: exits %s, thresholds %s\n", ex, th);
        if (cfg.budget == SPLITEE_BUDGET_LATENCY)
            printf("worst-case latency %.6g ms\n", splitee_search_latency_ms(&cfg, &res.chosen));
        printf("%-12s %9s %14s %14s %9s\n", "", "accuracy", "mean MACs", "worst MACs", "of final");
        printf("%-12s %9.4f %14.6g %14.6g %8.1f%%\n", "calibration", res.chosen.accuracy, res.chosen.mean_macs,
               res.chosen.max_macs, 100 * res.chosen.mean_macs / base.mean_macs);
        printf("%-12s %9.4f %14.6g %14.6g %8.1f%%\n", "test", ctest.accuracy, ctest.mean_macs, ctest.max_macs,
               100 * ctest.mean_macs / btest.mean_macs);
        printf("%-12s %9.4f %14.6g %14.6g %8.1f%%\n", "final alone", base.accuracy, base.mean_macs, base.max_macs,
               100.0);
        printf("%-12s %9.4f %14.6g\n", "  (test)", btest.accuracy, btest.mean_macs);
        printf("front (calibration, then the same configuration on the test table):\n");
        printf("%14s %9s %14s %9s  %s\n", "mean MACs", "accuracy", "test MACs", "test acc", "exits @ thresholds");
        for (int i = 0; i < res.nfront; i++) {
            exits_text(&res.front[i].plan, ex, sizeof ex);
            thr_text(&res.front[i].plan, th, sizeof th);
            printf("%14.6g %9.4f %14.6g %9.4f  %s @ %s\n", res.front[i].mean_macs, res.front[i].accuracy,
                   ftest[i].mean_macs, ftest[i].accuracy, ex, th);
        }
        if (o.out_model)
            printf("model variant: %s (exits %s)\n", o.out_model, (exits_text(&res.chosen.plan, ex, sizeof ex), ex));
    }
    free(variant);
    free(vweights);
    free(buf);
    free(cmdline);
    free(ftest);
    splitee_search_result_free(&res);
    splitee_search_free(scal);
    splitee_search_free(stest);
    splitee_model_free(model);
    splitee_link_free(lk);
    splitee_table_free(t);
    splitee_table_free(cal);
    splitee_table_free(test);
    cli_free(&CMD, &o);
    return st == 0 ? 0 : cli_fail(&err, st);
}
