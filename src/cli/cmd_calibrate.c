/* cmd_calibrate.c -- `splitee calibrate`: picks the threshold of the
 * early-exit rule (exit at the first exit whose confidence reaches lambda)
 * on a calibration table so that the risk of exiting early against the
 * full model is at most epsilon (with probability 1 - delta for ucb-hb,
 * ucb-wsr and ltt; in expectation for crc), by risk.h. With --splits R
 * --n-cal N it evaluates instead: R seeded random calibration/test splits,
 * the test risk at each split's lambda-hat against epsilon, and the exits
 * it saves. docs/RISK.md. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/internal.h"
#include "core/numfmt.h"
#include "core/stats.h"
#include "groups.h"

typedef struct calib_opts {
    cli_table tab;
    cli_progress progress;
    int risk;          /* splitee_risk_kind */
    int clamp;
    int method;        /* splitee_calib_method */
    int confidence;    /* splitee_confidence */
    int form;          /* splitee_risk_form */
    double epsilon, delta;
    int splits;        /* 0: calibrate once on the whole table */
    long n_cal;
    uint64_t seed;
    char *json;
    int rule;          /* --form temporal: splitee_exit_kind (a stream rule) */
    char *scenes;      /* --form temporal: scene ids */
    long calib_frames; /* --form temporal: the first N frames calibrate (0: half) */
    int grid;          /* --form temporal: theta grid points */
    cli_values epsilons; /* evaluate: a sweep of epsilon (n 0: --epsilon alone) */
    char *plot;          /* with --epsilons: PREFIX of the figure */
    char *holdout;       /* with --n-cal, no --splits: PREFIX of the two parts */
} calib_opts;

/* --form temporal is the CLI's own form after risk.h's: the stream rules'
 * theta (temporal.h), not a risk-controlled threshold. */
#define FORM_TEMPORAL SPLITEE_RISK_FORM_COUNT

static const char *risk_at(int i, const char **desc)
{
    static const char *const D[] = { "1[early wrong] - 1[full wrong] (labels)",
                                     "1[early prediction != full prediction]",
                                     "Brier(early) - Brier(full) (labels)" };
    if (i < 0 || i >= SPLITEE_RISK_COUNT)
        return NULL;
    *desc = D[i];
    return splitee_risk_kind_name((splitee_risk_kind)i);
}

static const char *method_at(int i, const char **desc)
{
    static const char *const D[] = { "empirical risk <= epsilon (no guarantee)",
                                     "conformal risk control (expected risk <= epsilon)",
                                     "Hoeffding-Bentkus upper bound <= epsilon",
                                     "Waudby-Smith-Ramdas upper bound <= epsilon",
                                     "Learn then Test, HB p-values, fixed sequence" };
    if (i < 0 || i >= SPLITEE_CALIB_COUNT)
        return NULL;
    *desc = D[i];
    return splitee_calib_method_name((splitee_calib_method)i);
}

static const char *form_at(int i, const char **desc)
{
    static const char *const D[] = { "exit at the first exit with C >= lambda, else the last",
                                     "per split layer k: exit k if C_k >= lambda_k, else the cloud's final" };
    if (i == FORM_TEMPORAL) {
        *desc = "a stream rule's theta: best accuracy per cost on the Pareto front (docs/TEMPORAL.md)";
        return "temporal";
    }
    if (i < 0 || i >= SPLITEE_RISK_FORM_COUNT)
        return NULL;
    *desc = D[i];
    return splitee_risk_form_name((splitee_risk_form)i);
}

/* The stream rules, for --rule. */
static const char *stream_rule_at(int i, const char **desc)
{
    int seen = 0;
    for (int k = 0; k < SPLITEE_EXIT_KIND_COUNT; k++) {
        const splitee_exit_info *in = splitee_exit_kind_info((splitee_exit_kind)k);
        if (in->stream && seen++ == i) {
            *desc = in->summary;
            return in->name;
        }
    }
    return NULL;
}

static int set_rule(void *g, const char *v, const cli_ctx *ctx, splitee_error *err)
{
    (void)ctx;
    int i;
    int st = cli_pick_name(stream_rule_at, "rule", v, &i, err);
    if (st == 0) {
        const char *d;
        splitee_exit_kind k;
        splitee_exit_kind_parse(stream_rule_at(i, &d), &k);
        ((calib_opts *)g)->rule = (int)k;
    }
    return st;
}

#define PICK_SETTER(fn, field, list, opt) \
    static int fn(void *g, const char *v, const cli_ctx *ctx, splitee_error *err) \
    { (void)ctx; return cli_pick_name(list, opt, v, &((calib_opts *)g)->field, err); }
PICK_SETTER(set_form, form, form_at, "form")
PICK_SETTER(set_risk, risk, risk_at, "risk")
PICK_SETTER(set_method, method, method_at, "method")
PICK_SETTER(set_conf, confidence, cli_confidence_at, "confidence")

static const cli_opt OPT_RISK = { .name = "risk", .arg = "R", .kind = CLI_FN, .set = set_risk,
    .list = risk_at, .help = "the per-sample risk of exiting early", .def = "consistency" };
static const cli_opt OPT_CLAMP = { .name = "clamp", .kind = CLI_SET, .ival = 1,
    .off = offsetof(calib_opts, clamp), .help = "clamp every loss at 0 (max(loss, 0))" };
static const cli_opt OPT_METHOD = { .name = "method", .arg = "M", .kind = CLI_FN, .set = set_method,
    .list = method_at, .help = "how the threshold is picked", .def = "ltt" };
static const cli_opt OPT_CONF = { .name = "confidence", .arg = "C", .kind = CLI_FN, .set = set_conf,
    .list = cli_confidence_at, .help = "confidence measure the threshold applies to", .def = "max-softmax" };
static const cli_opt OPT_EPS = { .name = "epsilon", .arg = "E", .kind = CLI_DOUBLE,
    .off = offsetof(calib_opts, epsilon), .lo = 0, .hi = 1, .open = CLI_OPEN_LO | CLI_OPEN_HI,
    .help = "the risk level to stay within", .def = "0.05" };
static const cli_opt OPT_DELTA = { .name = "delta", .arg = "D", .kind = CLI_DOUBLE,
    .off = offsetof(calib_opts, delta), .lo = 0, .hi = 1, .open = CLI_OPEN_LO | CLI_OPEN_HI,
    .help = "the probability the guarantee may fail (ucb-hb, ucb-wsr, ltt)", .def = "0.1" };
static const cli_opt OPT_FORM = { .name = "form", .arg = "F", .kind = CLI_FN, .set = set_form,
    .list = form_at, .help = "the rule calibrated: one threshold, or one per split layer", .def = "early-exit" };
static const cli_opt *const RISK_OPTS[] = { &OPT_FORM, &OPT_RISK, &OPT_CLAMP, &OPT_METHOD, &OPT_CONF,
                                            &OPT_EPS, &OPT_DELTA, NULL };
static const cli_group RISK = { .title = "risk control", .opts = RISK_OPTS };

static const cli_opt OPT_SPLITS = { .name = "splits", .arg = "R", .kind = CLI_INT,
    .off = offsetof(calib_opts, splits), .lo = 1, .hi = 1000000,
    .help = "evaluate: R random calibration/test splits (with --n-cal)" };
static const cli_opt OPT_NCAL = { .name = "n-cal", .arg = "N", .kind = CLI_LONG,
    .off = offsetof(calib_opts, n_cal), .lo = 1, .hi = 2000000000,
    .help = "evaluate: calibration samples per split, the rest are the test part" };
static const cli_opt OPT_SEED = { .name = "seed", .arg = "S", .kind = CLI_U64,
    .off = offsetof(calib_opts, seed), .help = "evaluate: seed of the splits", .def = "1" };
static int set_epsilons(void *g, const char *v, const cli_ctx *ctx, splitee_error *err)
{
    (void)ctx;
    cli_values *e = &((calib_opts *)g)->epsilons;
    int st = cli_parse_values(v, e, err, "--epsilons");
    for (int k = 0; st == 0 && k < e->n; k++)
        if (!(e->v[k] > 0 && e->v[k] < 1))
            st = splitee__fail(err, SPLITEE_ERR_ARG, "--epsilons: %g is not in (0, 1)", e->v[k]);
    for (int k = 1; st == 0 && k < e->n; k++)
        if (!(e->v[k] > e->v[k - 1]))
            st = splitee__fail(err, SPLITEE_ERR_ARG, "--epsilons: the values must increase (%g after %g)",
                               e->v[k], e->v[k - 1]);
    return st;
}
static const cli_opt OPT_EPSILONS = { .name = "epsilons", .arg = "LIST", .kind = CLI_FN,
    .set = set_epsilons,
    .help = "evaluate at each epsilon of a sweep, a,b,c or start:stop:step (with --splits)" };
static const cli_opt *const EVAL_OPTS[] = { &OPT_SPLITS, &OPT_NCAL, &OPT_SEED, &OPT_EPSILONS, NULL };
static const cli_group EVAL = { .title = "evaluation", .opts = EVAL_OPTS };

static const cli_opt OPT_RULE = { .name = "rule", .arg = "R", .kind = CLI_FN, .set = set_rule,
    .list = stream_rule_at, .help = "--form temporal: the stream rule whose theta is calibrated",
    .def = "difference" };
static const cli_opt OPT_SCENES = { .name = "scenes", .arg = "FILE", .kind = CLI_STRING,
    .off = offsetof(calib_opts, scenes),
    .help = "--form temporal: the frames' scene ids, integer .npy (a shipped stream\ntable: its own)" };
static const cli_opt OPT_CALIB_FRAMES = { .name = "calib-frames", .arg = "N", .kind = CLI_LONG,
    .off = offsetof(calib_opts, calib_frames), .lo = 0, .hi = 2000000000,
    .help = "--form temporal: the first N frames calibrate, the rest test (0: half)", .def = "0" };
static const cli_opt OPT_GRID = { .name = "grid", .arg = "N", .kind = CLI_INT,
    .off = offsetof(calib_opts, grid), .lo = 0, .hi = 100000,
    .help = "--form temporal: theta values searched between the fitted bounds", .def = "50" };
static const cli_opt *const TEMPORAL_OPTS[] = { &OPT_RULE, &OPT_SCENES, &OPT_CALIB_FRAMES, &OPT_GRID, NULL };
static const cli_group TEMPORAL = { .title = "temporal (--form temporal)", .opts = TEMPORAL_OPTS };

static const cli_opt OPT_JSON = { .name = "json", .arg = "FILE", .kind = CLI_STRING,
    .off = offsetof(calib_opts, json),
    .help = "write the outcome as JSON: the threshold (or the evaluation's summary)" };
static const cli_opt OPT_PLOT = { .name = "plot", .arg = "PREFIX", .kind = CLI_STRING,
    .off = offsetof(calib_opts, plot),
    .help = "with --epsilons: PREFIX.svg and PREFIX.png, test risk against epsilon (with the\n"
            "diagonal) and the layers saved against epsilon" };
static const cli_opt OPT_HOLDOUT = { .name = "holdout", .arg = "PREFIX", .kind = CLI_STRING,
    .off = offsetof(calib_opts, holdout),
    .help = "with --n-cal N (no --splits): calibrate on N samples drawn by --seed, and write\n"
            "them as PREFIX-cal.npy and the others as PREFIX-test.npy (labels beside,\n"
            "-labels.npy), for an out-of-sample replay of the threshold" };
static const cli_opt *const OUT_OPTS[] = { &OPT_JSON, &OPT_PLOT, &OPT_HOLDOUT, NULL };
static const cli_group OUT = { .title = "output", .opts = OUT_OPTS };

static const cli_use GROUPS[] = {
    { &cli_group_table, offsetof(calib_opts, tab) },
    { &RISK, 0 },
    { &EVAL, 0 },
    { &TEMPORAL, 0 },
    { &OUT, 0 },
    { &cli_group_progress, offsetof(calib_opts, progress) },
    { NULL, 0 },
};

static const cli_command CMD = {
    .name = "calibrate",
    .synopsis = "splitee calibrate [options]",
    .about = "Picks the threshold lambda of the early-exit rule (exit at the first exit whose\n"
             "confidence reaches lambda, else the last) on a calibration table, so that the\n"
             "risk of exiting early against the full model is at most epsilon: with\n"
             "probability 1 - delta (ucb-hb, ucb-wsr, ltt) or in expectation (crc). The grid\n"
             "is lambda = 1.00, 0.99, ..., 0.00, tested from 1 down; lambda-hat is the last\n"
             "value that passed. With --splits R --n-cal N it evaluates the method instead\n"
             "on R random calibration/test splits. --form split calibrates one threshold per\n"
             "split layer k = 1..L-1 (exit k when C_k >= lambda_k, else the cloud's final\n"
             "prediction), each with the guarantee for its layer. docs/RISK.md. --form temporal\n"
             "calibrates the theta of a stream rule on a stream table with scene ids\n"
             "(docs/TEMPORAL.md).\n",
    .groups = GROUPS,
    .data_note = 1,
};

typedef struct outcome {
    const calib_opts *o;
    const char *table, *command;
    size_t n;
    int exits;
    double lo, hi;
    const splitee_calib_result *res;   /* calibrate */
    double mean_exit;
    const splitee_risk_summary *sum;   /* evaluate */
    size_t n_cal;                      /* calibrate: samples calibrated on (n, or --n-cal) */
    double test_risk, test_exit;       /* --holdout: at lambda-hat on the other samples */
    const char *hold_cal, *hold_test;  /* --holdout: the two parts' logits files */
} outcome;

/* The keys both JSON forms open with: the command, the table, the risk,
 * the method and its parameters, up to the loss range's closing bracket;
 * `split` adds "form": "split" after "exits". */
static void write_json_head(FILE *f, const outcome *c, int split)
{
    const calib_opts *o = c->o;
    fputs("{\n  \"command\": ", f);
    splitee__put_json_string(f, c->command);
    fputs(",\n  \"table\": ", f);
    splitee__put_json_string(f, c->table);
    fprintf(f, ",\n  \"samples\": %zu,\n  \"exits\": %d,\n%s  \"risk\": \"%s\",\n  \"clamp\": %s,\n"
               "  \"confidence\": \"%s\",\n  \"method\": \"%s\",\n  \"epsilon\": ",
            c->n, c->exits, split ? "  \"form\": \"split\",\n" : "", splitee_risk_kind_name(o->risk),
            o->clamp ? "true" : "false", splitee_confidence_name(o->confidence),
            splitee_calib_method_name(o->method));
    splitee__put_json_number(f, o->epsilon);
    fputs(",\n  \"delta\": ", f);
    splitee__put_json_number(f, o->delta);
    fputs(",\n  \"loss_range\": [", f);
    splitee__put_json_number(f, c->lo);
    fputs(", ", f);
    splitee__put_json_number(f, c->hi);
}

static void write_json(FILE *f, const outcome *c)
{
    const calib_opts *o = c->o;
    write_json_head(f, c, 0);
    fputs("]", f);
    if (c->res) {
        fprintf(f, ",\n  \"n\": %zu,\n  \"threshold\": ", c->n_cal);
        splitee__put_json_number(f, c->res->threshold);
        fputs(",\n  \"empirical_risk\": ", f);
        splitee__put_json_number(f, c->res->risk);
        fputs(",\n  \"statistic\": ", f);
        splitee__put_json_number(f, c->res->stat);
        fputs(",\n  \"first_failure\": {\"threshold\": ", f);
        splitee__put_json_number(f, c->res->index + 1 < SPLITEE_RISK_GRID ? splitee_risk_grid_value(c->res->index + 1) : NAN);
        fputs(", \"empirical_risk\": ", f);
        splitee__put_json_number(f, c->res->fail_risk);
        fputs(", \"statistic\": ", f);
        splitee__put_json_number(f, c->res->fail_stat);
        fputs("}", f);
        fprintf(f, ",\n  \"grid_tested\": %d,\n  \"mean_exit\": ", c->res->tested);
        splitee__put_json_number(f, c->mean_exit);
        fputs(",\n  \"saved\": ", f);
        splitee__put_json_number(f, 1 - c->mean_exit / c->exits);
        if (o->holdout) {
            fprintf(f, ",\n  \"holdout\": {\"seed\": %llu, \"calibration\": ", (unsigned long long)o->seed);
            splitee__put_json_string(f, c->hold_cal);
            fputs(", \"test\": ", f);
            splitee__put_json_string(f, c->hold_test);
            fprintf(f, ", \"test_samples\": %zu, \"test_risk\": ", c->n - c->n_cal);
            splitee__put_json_number(f, c->test_risk);
            fputs(", \"test_mean_exit\": ", f);
            splitee__put_json_number(f, c->test_exit);
            fputs("}", f);
        }
    } else {
        const splitee_risk_summary *s = c->sum;
        fprintf(f, ",\n  \"n\": %ld,\n  \"splits\": %d,\n  \"seed\": %llu,\n  \"test_risk\": {\"mean\": ",
                o->n_cal, s->splits, (unsigned long long)o->seed);
        splitee__put_json_number(f, s->test_mean);
        fputs(", \"q10\": ", f);
        splitee__put_json_number(f, s->test_q10);
        fputs(", \"q50\": ", f);
        splitee__put_json_number(f, s->test_q50);
        fputs(", \"q90\": ", f);
        splitee__put_json_number(f, s->test_q90);
        fputs(", \"max\": ", f);
        splitee__put_json_number(f, s->test_max);
        fputs("},\n  \"share_over_epsilon\": ", f);
        splitee__put_json_number(f, s->share_over);
        fputs(",\n  \"threshold_mean\": ", f);
        splitee__put_json_number(f, s->threshold_mean);
        fprintf(f, ",\n  \"splits_without_threshold\": %d,\n  \"mean_exit\": ", s->none);
        splitee__put_json_number(f, s->exit_mean);
        fputs(",\n  \"saved\": ", f);
        splitee__put_json_number(f, s->saved);
    }
    fputs("\n}\n", f);
}

/* One split layer of the split form. */
typedef struct layer_out {
    splitee_calib_result res;   /* calibrate */
    double mean_exit;
    splitee_risk_summary sum;   /* evaluate */
} layer_out;

/* The share of samples that exit at layer index l (1-based layer l + 1)
 * rather than go to the final exit L, from their mean exit layer
 * (l + 1) p + L (1 - p). */
static double exit_share(double mean_exit, int l, int L)
{
    return (L - mean_exit) / (double)(L - l - 1);
}

static void write_split_json(FILE *f, const outcome *c, const layer_out *lo, int layers)
{
    const calib_opts *o = c->o;
    write_json_head(f, c, 1);
    fputs("]", f);
    if (!o->splits) {
        fprintf(f, ",\n  \"n\": %zu,\n  \"alphas\": [", c->n);
        for (int l = 0; l < layers; l++) {
            fputs(l ? ", " : "", f);
            splitee__put_json_number(f, lo[l].res.threshold);
        }
        fputs("],\n  \"layers\": [", f);
        for (int l = 0; l < layers; l++) {
            const splitee_calib_result *r = &lo[l].res;
            fprintf(f, "%s\n    {\"layer\": %d, \"threshold\": ", l ? "," : "", l + 1);
            splitee__put_json_number(f, r->threshold);
            fputs(", \"empirical_risk\": ", f);
            splitee__put_json_number(f, r->risk);
            fputs(", \"statistic\": ", f);
            splitee__put_json_number(f, r->stat);
            fprintf(f, ", \"grid_tested\": %d, \"exit_share\": ", r->tested);
            splitee__put_json_number(f, exit_share(lo[l].mean_exit, l, c->exits));
            fputs("}", f);
        }
    } else {
        fprintf(f, ",\n  \"n\": %ld,\n  \"splits\": %d,\n  \"seed\": %llu,\n  \"layers\": [", o->n_cal,
                o->splits, (unsigned long long)o->seed);
        for (int l = 0; l < layers; l++) {
            const splitee_risk_summary *s = &lo[l].sum;
            fprintf(f, "%s\n    {\"layer\": %d, \"test_risk\": {\"mean\": ", l ? "," : "", l + 1);
            splitee__put_json_number(f, s->test_mean);
            fputs(", \"q10\": ", f);
            splitee__put_json_number(f, s->test_q10);
            fputs(", \"q50\": ", f);
            splitee__put_json_number(f, s->test_q50);
            fputs(", \"q90\": ", f);
            splitee__put_json_number(f, s->test_q90);
            fputs(", \"max\": ", f);
            splitee__put_json_number(f, s->test_max);
            fputs("}, \"share_over_epsilon\": ", f);
            splitee__put_json_number(f, s->share_over);
            fputs(", \"threshold_mean\": ", f);
            splitee__put_json_number(f, s->threshold_mean);
            fprintf(f, ", \"splits_without_threshold\": %d, \"exit_share\": ", s->none);
            splitee__put_json_number(f, exit_share(s->exit_mean, l, c->exits));
            fputs("}", f);
        }
    }
    fputs("\n  ]\n}\n", f);
}

static const char *stat_name(int method)
{
    switch (method) {
    case SPLITEE_CALIB_NAIVE: return "empirical risk";
    case SPLITEE_CALIB_CRC: return "crc cutoff";
    case SPLITEE_CALIB_LTT: return "p-value";
    default: return "upper bound";
    }
}

/* --form temporal: theta of a stream rule on the first --calib-frames
 * frames (temporal.h), tested on the rest; the table, then --json. */
static int calibrate_temporal(const calib_opts *o, int argc, char **argv, splitee_error *err)
{
    if (o->splits || o->n_cal)
        return splitee__fail(err, SPLITEE_ERR_ARG, "--form temporal: --splits/--n-cal are for the risk forms");
    if (o->tab.nshift > 0)
        return splitee__fail(err, SPLITEE_ERR_ARG, "--shift: splitee calibrate takes one table");
    if (o->grid < 1)
        return splitee__fail(err, SPLITEE_ERR_ARG, "--grid: the theta grid is empty (give 1 or more points)");
    int st = o->json ? splitee_output_check(o->json, err) : 0;
    splitee_table *t = NULL;
    int32_t *scenes = NULL;
    char *cmdline = NULL, *buf = NULL;
    size_t len = 0;
    if (st == 0)
        st = cli_table_load(&o->tab, &t, err);
    const char *sp = st == 0 ? cli_table_scenes(&o->tab, o->scenes) : NULL;
    if (st == 0 && !sp)
        st = splitee__fail(err, SPLITEE_ERR_ARG, "--form temporal: %s has no scene ids (give --scenes FILE)",
                           splitee_table_name(t));
    if (st == 0)
        st = splitee_scenes_load(sp, splitee_table_samples(t), &scenes, err);
    const size_t n = st == 0 ? splitee_table_samples(t) : 0;
    const size_t nc = o->calib_frames ? (size_t)o->calib_frames : n / 2;
    if (st == 0 && nc > n)
        st = splitee__fail(err, SPLITEE_ERR_ARG, "--calib-frames: %zu, but %s has %zu frames", nc,
                           splitee_table_name(t), n);
    splitee_temporal_calibration c;
    memset(&c, 0, sizeof c);
    splitee_temporal_result test;
    int has_test = 0;
    if (st == 0)
        st = splitee_temporal_calibrate(t, scenes, nc, (splitee_exit_kind)o->rule, o->grid, &c, err);
    if (st == 0 && nc < n) {
        splitee_exit_config ec;
        splitee_exit_config_default(&ec);
        ec.kind = (splitee_exit_kind)o->rule;
        ec.theta = c.points[c.best].theta;
        splitee_exit_rule r;
        if ((st = splitee_exit_rule_init(&r, &ec, splitee_table_exits(t), err)) == 0 &&
            (st = splitee_temporal_run(t, &r, nc, n, scenes, NULL, &test, err)) == 0)
            has_test = 1;
    }
    const char *rule = splitee_exit_kind_name((splitee_exit_kind)o->rule);
    const splitee_temporal_point *b = st == 0 ? &c.points[c.best] : NULL;
    if (st == 0 && o->json) {
        cmdline = cli_join_args("calibrate", argc, argv);
        FILE *m = cmdline ? open_memstream(&buf, &len) : NULL;
        if (!m) {
            st = splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", o->json);
        } else {
            fputs("{\n  \"form\": \"temporal\",\n  \"rule\": ", m);
            splitee__put_json_string(m, rule);
            fputs(",\n  \"theta\": ", m);
            splitee__put_json_number(m, b->theta);
            fputs(",\n  \"distance\": \"L1 between softmax vectors\",\n  \"table\": ", m);
            splitee__put_json_string(m, splitee_table_name(t));
            fputs(",\n  \"scenes\": ", m);
            splitee__put_json_string(m, sp);
            fprintf(m, ",\n  \"frames\": %zu,\n  \"calibration_frames\": %zu,\n  \"exits_fitted\": %d,\n", n, nc,
                    c.exits_fitted);
            fputs("  \"within_scene\": {\"mean\": ", m);
            splitee__put_json_number(m, c.within_mean);
            fputs(", \"sd\": ", m);
            splitee__put_json_number(m, c.within_sd);
            fprintf(m, ", \"pairs\": %ld},\n  \"scene_change\": {\"mean\": ", c.within_n);
            splitee__put_json_number(m, c.change_mean);
            fputs(", \"sd\": ", m);
            splitee__put_json_number(m, c.change_sd);
            fprintf(m, ", \"pairs\": %ld},\n  \"grid\": {\"lo\": ", c.change_n);
            splitee__put_json_number(m, c.lo);
            fputs(", \"hi\": ", m);
            splitee__put_json_number(m, c.hi);
            fprintf(m, ", \"points\": %d},\n  \"points\": [", c.npoints);
            for (int g = 0; g < c.npoints; g++) {
                const splitee_temporal_point *p = &c.points[g];
                fputs(g ? ",\n    {\"theta\": " : "\n    {\"theta\": ", m);
                splitee__put_json_number(m, p->theta);
                fputs(", \"accuracy\": ", m);
                splitee__put_json_number(m, p->accuracy);
                fputs(", \"relative_cost\": ", m);
                splitee__put_json_number(m, p->relative_cost);
                fputs(", \"rerun_rate\": ", m);
                splitee__put_json_number(m, p->rerun_rate);
                fprintf(m, ", \"front\": %s}", p->front ? "true" : "false");
            }
            fputs("\n  ],\n  \"test\": ", m);
            if (has_test) {
                fputs("{\"frames\": ", m);
                fprintf(m, "%zu, \"accuracy\": ", test.frames);
                splitee__put_json_number(m, test.accuracy);
                fputs(", \"final_accuracy\": ", m);
                splitee__put_json_number(m, test.final_accuracy);
                fputs(", \"relative_cost\": ", m);
                splitee__put_json_number(m, test.relative_cost);
                fputs(", \"rerun_rate\": ", m);
                splitee__put_json_number(m, test.rerun_rate);
                fputs(", \"change_recall\": ", m);
                splitee__put_json_number(m, test.change_recall);
                fputs("}", m);
            } else {
                fputs("null", m);
            }
            fputs(",\n  \"command\": ", m);
            splitee__put_json_string(m, cmdline);
            fputs("\n}\n", m);
            st = fclose(m) == 0 ? splitee_file_write_atomic(o->json, buf, len, err)
                                : splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", o->json);
        }
    }
    if (st == 0) {
        printf("table %s: %zu frames, %d exits; scene ids %s\n", splitee_table_name(t), n, splitee_table_exits(t), sp);
        printf("rule %s, L1 distance between softmax vectors; calibration: the first %zu frames\n", rule, nc);
        printf("distances %s: within scenes mean %.4f sd %.4f (%ld pairs), at scene changes mean %.4f sd %.4f "
               "(%ld pairs)\n", c.exits_fitted == 1 ? "at exit 1" : "averaged over the exits", c.within_mean,
               c.within_sd, c.within_n, c.change_mean, c.change_sd, c.change_n);
        printf("theta grid: %d values in [%.4f, %.4f]; Pareto front (relative cost, accuracy):\n", c.npoints, c.lo,
               c.hi);
        printf("%8s %8s %8s %7s\n", "theta", "accuracy", "rel.cost", "re-runs");
        for (int g = 0; g < c.npoints; g++)
            if (c.points[g].front)
                printf("%8.4f %8.4f %8.3f %7.3f%s\n", c.points[g].theta, c.points[g].accuracy,
                       c.points[g].relative_cost, c.points[g].rerun_rate, g == c.best ? "  <- best accuracy/cost" : "");
        printf("theta %.4f: calibration accuracy %.4f at relative cost %.3f\n", b->theta, b->accuracy,
               b->relative_cost);
        if (has_test)
            printf("test (frames %zu..%zu): accuracy %.4f (whole model %.4f), relative cost %.3f (%.1f%% of the "
                   "layers saved), re-runs %.3f, scene changes caught %.3f\n", nc + 1, n, test.accuracy,
                   test.final_accuracy, test.relative_cost, 100 * (1 - test.relative_cost), test.rerun_rate,
                   test.change_recall);
    }
    splitee_temporal_calibration_free(&c);
    free(buf);
    free(cmdline);
    free(scenes);
    splitee_table_free(t);
    return st;
}

/* A .npy (version 1.0, C order, little-endian) of `count` elements of
 * `elem` bytes, descr e.g. "<f8", shape (ndim dims), into a malloc'd
 * buffer (*len bytes); NULL when out of memory. */
static char *npy_bytes(const char *descr, int ndim, const size_t *shape, const void *data,
                       size_t elem, size_t count, size_t *len)
{
    char dict[256];
    int k = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    for (int d = 0; d < ndim; d++)
        k += snprintf(dict + k, sizeof dict - (size_t)k, ndim == 1 ? "%zu,), }" : d + 1 < ndim ? "%zu, " : "%zu), }",
                      shape[d]);
    size_t hl = (size_t)k + 1;                 /* + '\n' */
    hl += (64 - (10 + hl) % 64) % 64;          /* 10 + hl a multiple of 64 */
    *len = 10 + hl + elem * count;
    char *b = malloc(*len);
    if (!b)
        return NULL;
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    b[8] = (char)(hl & 0xff);
    b[9] = (char)(hl >> 8);
    memset(b + 10, ' ', hl);
    memcpy(b + 10, dict, (size_t)k);
    b[10 + hl - 1] = '\n';
    memcpy(b + 10 + hl, data, elem * count);
    return b;
}

/* --holdout: a seeded draw of n_cal of the n samples (Fisher-Yates on a
 * generator of its own, so that the draw depends on --seed alone), both
 * parts in table order: idx[0..n_cal-1] calibration, idx[n_cal..n-1] test. */
static void holdout_split(size_t n, size_t n_cal, uint64_t seed, size_t *idx, unsigned char *mark)
{
    for (size_t i = 0; i < n; i++) {
        idx[i] = i;
        mark[i] = 0;
    }
    gsl_rng *rng = splitee__rng_alloc(splitee__mix64(seed ^ 0x686f6c64ULL)); /* "hold" */
    for (size_t i = 0; i < n_cal; i++) {       /* a partial Fisher-Yates */
        size_t j = i + (rng ? (size_t)gsl_rng_uniform_int(rng, (unsigned long)(n - i)) : 0);
        size_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
        mark[idx[i]] = 1;
    }
    gsl_rng_free(rng);
    size_t c = 0, r = n_cal;
    for (size_t i = 0; i < n; i++) {
        if (mark[i])
            idx[c++] = i;
        else
            idx[r++] = i;
    }
}

/* The logits (and labels) of samples idx[0..m-1] as .npy buffers: out[0]
 * logits, out[1] labels (when the table has them). */
static int part_npy(const splitee_table *t, const size_t *idx, size_t m, const char *path,
                    const char *lpath, splitee_output *out, int *nout, splitee_error *err)
{
    const int E = splitee_table_exits(t), C = splitee_table_classes(t);
    const size_t row = (size_t)E * (size_t)C;
    const double *lg = splitee_table_logits(t);
    const int32_t *lb = splitee_table_labels(t);
    double *x = malloc(m * row * sizeof *x);
    int32_t *y = lb ? malloc(m * sizeof *y) : NULL;
    if (!x || (lb && !y)) {
        free(x);
        free(y);
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", path);
    }
    for (size_t i = 0; i < m; i++) {
        memcpy(x + i * row, lg + idx[i] * row, row * sizeof *x);
        if (y)
            y[i] = lb[idx[i]];
    }
    size_t shape[3] = { m, (size_t)E, (size_t)C }, len;
    int st = 0;
    char *bx = npy_bytes("<f8", 3, shape, x, sizeof *x, m * row, &len);
    if (!bx)
        st = splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", path);
    else
        out[(*nout)++] = (splitee_output){ path, bx, len };
    if (st == 0 && y) {
        char *by = npy_bytes("<i4", 1, shape, y, sizeof *y, m, &len);
        if (!by)
            st = splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", lpath);
        else
            out[(*nout)++] = (splitee_output){ lpath, by, len };
    }
    free(x);
    free(y);
    return st;
}

/* --epsilons: the evaluation at each epsilon of the sweep (the same seeded
 * splits for every one), a table on stdout and, with --plot, the figure.
 * The figure's outputs were checked before. */
static int run_sweep(const calib_opts *o, const splitee_risk *r, const splitee_calib_config *base,
                     const outcome *oc, splitee_error *err)
{
    const int ne = o->epsilons.n;
    splitee_risk_split *sp = malloc((size_t)o->splits * sizeof *sp);
    splitee_risk_summary *sum = malloc((size_t)ne * sizeof *sum);
    double *col = malloc((size_t)ne * 4 * sizeof *col);
    int st = sp && sum && col ? 0
             : splitee__fail(err, SPLITEE_ERR_NOMEM, "calibrate: out of memory for %d splits", o->splits);
    for (int k = 0; k < ne && st == 0; k++) {
        splitee_calib_config cc = *base;
        cc.epsilon = o->epsilons.v[k];
        if ((st = splitee_risk_evaluate(r, &cc, (size_t)o->n_cal, o->splits, o->seed, sp, err)) == 0)
            st = splitee_risk_summarize(sp, o->splits, cc.epsilon, oc->exits, &sum[k], err);
    }
    const char *method = splitee_calib_method_name(base->method);
    if (st == 0 && o->plot) {
        double *mean = col, *q10 = col + ne, *q90 = col + 2 * ne, *saved = col + 3 * ne;
        for (int k = 0; k < ne; k++) {
            mean[k] = sum[k].test_mean;
            q10[k] = sum[k].test_q10;
            q90[k] = sum[k].test_q90;
            saved[k] = sum[k].saved;
        }
        char title[512];
        snprintf(title, sizeof title, "%s, %s risk%s, %s on %s: %d splits of %ld calibration samples",
                 method, splitee_risk_kind_name((splitee_risk_kind)o->risk), o->clamp ? " (clamped)" : "",
                 splitee_confidence_name((splitee_confidence)o->confidence),
                 strrchr(oc->table, '/') ? strrchr(oc->table, '/') + 1 : oc->table, o->splits, o->n_cal);
        if (base->method != SPLITEE_CALIB_NAIVE && base->method != SPLITEE_CALIB_CRC)
            snprintf(title + strlen(title), sizeof title - strlen(title), ", δ %g", base->delta);
        st = splitee_plot_calibration(o->plot, title, method, (size_t)ne, o->epsilons.v, mean, q10,
                                      q90, saved, err);
    }
    if (st == 0) {
        printf("table %s: %zu samples, %d exits\n", oc->table, oc->n, oc->exits);
        printf("risk %s%s (losses in [%g, %g]) on %s; method %s", splitee_risk_kind_name((splitee_risk_kind)o->risk),
               o->clamp ? " clamped at 0" : "", oc->lo, oc->hi,
               splitee_confidence_name((splitee_confidence)o->confidence), method);
        if (base->method != SPLITEE_CALIB_NAIVE && base->method != SPLITEE_CALIB_CRC)
            printf(", delta %g", base->delta);
        printf("\nevaluation: %d splits of %ld calibration / %zu test samples (seed %llu), at each epsilon\n",
               o->splits, o->n_cal, oc->n - (size_t)o->n_cal, (unsigned long long)o->seed);
        printf("epsilon  test risk     q10     q90     max  share > eps  mean lambda  none  saved %%\n");
        for (int k = 0; k < ne; k++) {
            const splitee_risk_summary *q = &sum[k];
            printf("%7.4f  %9.4f  %6.4f  %6.4f  %6.4f  %11.3f  ", o->epsilons.v[k], q->test_mean, q->test_q10,
                   q->test_q90, q->test_max, q->share_over);
            if (q->none < q->splits)
                printf("%11.4f", q->threshold_mean);
            else
                printf("%11s", "-");
            printf("  %4d  %7.1f\n", q->none, 100 * q->saved);
        }
        if (o->plot)
            printf("figure: %s.svg, %s.png\n", o->plot, o->plot);
    }
    free(col);
    free(sum);
    free(sp);
    return st;
}

int cli_calibrate(int argc, char **argv)
{
    calib_opts o;
    memset(&o, 0, sizeof o);
    splitee_error err = { 0, "" };
    splitee_table *t = NULL;
    splitee_risk *r = NULL;
    splitee_risk_split *sp = NULL;
    char *cmdline = NULL, *buf = NULL;
    size_t len = 0;
    int st = cli_parse(&CMD, &o, argc, argv, &err);
    if (st == 1) {
        cli_free(&CMD, &o);
        return 0;
    }
    if (st == 0 && o.form == FORM_TEMPORAL) {
        st = calibrate_temporal(&o, argc, argv, &err);
        cli_free(&CMD, &o);
        return st == 0 ? 0 : cli_fail(&err, st);
    }
    if (st == 0 && o.scenes)
        st = splitee__fail(&err, SPLITEE_ERR_ARG, "--scenes: only with --form temporal");
    if (st == 0 && o.tab.nshift > 0)
        st = splitee__fail(&err, SPLITEE_ERR_ARG, "--shift: splitee calibrate takes one table");
    if (st == 0 && o.holdout && (o.splits || !o.n_cal))
        st = splitee__fail(&err, SPLITEE_ERR_ARG, o.splits ? "--holdout: not with --splits (it calibrates once)"
                                                           : "--holdout: needs --n-cal N, the calibration samples");
    if (st == 0 && o.holdout && o.form == SPLITEE_RISK_FORM_SPLIT)
        st = splitee__fail(&err, SPLITEE_ERR_ARG, "--holdout: only with --form early-exit");
    if (st == 0 && !o.holdout && (o.splits > 0) != (o.n_cal > 0))
        st = splitee__fail(&err, SPLITEE_ERR_ARG, o.splits ? "--splits: needs --n-cal N"
                                                           : "--n-cal: only with --splits R or --holdout");
    if (st == 0 && o.epsilons.n && !o.splits)
        st = splitee__fail(&err, SPLITEE_ERR_ARG, "--epsilons: only with --splits R --n-cal N (the evaluation)");
    if (st == 0 && o.epsilons.n && o.form == SPLITEE_RISK_FORM_SPLIT)
        st = splitee__fail(&err, SPLITEE_ERR_ARG, "--epsilons: only with --form early-exit");
    if (st == 0 && o.epsilons.n && o.json)
        st = splitee__fail(&err, SPLITEE_ERR_ARG, "--json: not with --epsilons (one --epsilon writes its summary)");
    if (st == 0 && o.plot && o.epsilons.n < 2)
        st = splitee__fail(&err, SPLITEE_ERR_ARG, "--plot: needs --epsilons with at least 2 values");
    if (st == 0 && o.plot) {
        size_t pl = strlen(o.plot) + 5;
        char *probe = malloc(pl);
        if (!probe)
            st = splitee__fail(&err, SPLITEE_ERR_NOMEM, "%s: out of memory", o.plot);
        for (int k = 0; st == 0 && k < 2; k++) {
            snprintf(probe, pl, "%s.%s", o.plot, k ? "png" : "svg");
            st = splitee_output_check(probe, &err);
        }
        free(probe);
    }
    char *hpath[4] = { NULL, NULL, NULL, NULL };   /* --holdout: cal, cal labels, test, test labels */
    if (st == 0 && o.holdout) {
        static const char *const SFX[4] = { "-cal.npy", "-cal-labels.npy", "-test.npy", "-test-labels.npy" };
        for (int k = 0; st == 0 && k < 4; k++) {
            size_t hl = strlen(o.holdout) + strlen(SFX[k]) + 1;
            if (!(hpath[k] = malloc(hl)))
                st = splitee__fail(&err, SPLITEE_ERR_NOMEM, "%s: out of memory", o.holdout);
            else {
                snprintf(hpath[k], hl, "%s%s", o.holdout, SFX[k]);
                st = splitee_output_check(hpath[k], &err);
            }
        }
    }
    if (st == 0 && o.json)
        st = splitee_output_check(o.json, &err);
    if (st == 0)
        st = cli_table_load(&o.tab, &t, &err);
    if (st == 0 && o.holdout && (size_t)o.n_cal >= splitee_table_samples(t))
        st = splitee__fail(&err, SPLITEE_ERR_VALUE, "--n-cal: %ld calibration samples leave no test sample (the table has %zu)",
                           o.n_cal, splitee_table_samples(t));
    splitee_risk_config rc = { .risk = (splitee_risk_kind)o.risk, .clamp = o.clamp,
                               .confidence = (splitee_confidence)o.confidence,
                               .form = (splitee_risk_form)o.form };
    layer_out *lay = NULL;
    int layers = 0;
    splitee_output hold_outs[5];   /* --holdout's parts, then the JSON */
    int hold_n = 0;
    if (st == 0)
        st = splitee_risk_create(t, &rc, &r, &err);
    splitee_calib_config cc = { .method = (splitee_calib_method)o.method, .epsilon = o.epsilon,
                                .delta = o.delta };
    splitee_calib_result res;
    splitee_risk_summary sum;
    outcome oc = { .o = &o };
    if (st == 0) {
        oc.table = splitee_table_name(t);
        oc.n = splitee_risk_samples(r);
        oc.exits = splitee_risk_exits(r);
        splitee_risk_range(rc.risk, rc.clamp, &oc.lo, &oc.hi);
        layers = splitee_risk_layers(r);
        if (o.epsilons.n) {
            st = run_sweep(&o, r, &cc, &oc, &err);
            free(cmdline);
            splitee_risk_free(r);
            splitee_table_free(t);
            cli_free(&CMD, &o);
            return st == 0 ? 0 : cli_fail(&err, st);
        }
        if (rc.form == SPLITEE_RISK_FORM_SPLIT) {
            if (!(lay = calloc((size_t)layers, sizeof *lay)) ||
                (o.splits && !(sp = malloc((size_t)o.splits * sizeof *sp))))
                st = splitee__fail(&err, SPLITEE_ERR_NOMEM, "calibrate: out of memory for %d layers", layers);
            for (int l = 0; l < layers && st == 0; l++) {
                if (o.splits) {
                    st = splitee_risk_layer_evaluate(r, l, &cc, (size_t)o.n_cal, o.splits, o.seed, sp, &err);
                    if (st == 0)
                        st = splitee_risk_summarize(sp, o.splits, o.epsilon, oc.exits, &lay[l].sum, &err);
                } else if ((st = splitee_risk_layer_calibrate(r, l, NULL, oc.n, &cc, &lay[l].res, &err)) == 0) {
                    splitee_risk_layer_mean(r, l, lay[l].res.index, NULL, oc.n, &lay[l].mean_exit);
                }
            }
        } else if (o.splits) {
            if (!(sp = malloc((size_t)o.splits * sizeof *sp)))
                st = splitee__fail(&err, SPLITEE_ERR_NOMEM, "calibrate: out of memory for %d splits", o.splits);
            else if ((st = splitee_risk_evaluate(r, &cc, (size_t)o.n_cal, o.splits, o.seed, sp, &err)) == 0)
                st = splitee_risk_summarize(sp, o.splits, o.epsilon, oc.exits, &sum, &err);
            oc.sum = &sum;
        } else if (o.holdout) {
            size_t *idx = malloc(oc.n * sizeof *idx);
            unsigned char *mark = malloc(oc.n);
            oc.n_cal = (size_t)o.n_cal;
            oc.hold_cal = hpath[0];
            oc.hold_test = hpath[2];
            if (!idx || !mark)
                st = splitee__fail(&err, SPLITEE_ERR_NOMEM, "calibrate: out of memory for %zu samples", oc.n);
            else {
                holdout_split(oc.n, oc.n_cal, o.seed, idx, mark);
                if ((st = splitee_risk_calibrate(r, idx, oc.n_cal, &cc, &res, &err)) == 0) {
                    oc.res = &res;
                    splitee_risk_mean(r, res.index, idx, oc.n_cal, &oc.mean_exit);
                    oc.test_risk = splitee_risk_mean(r, res.index, idx + oc.n_cal, oc.n - oc.n_cal, &oc.test_exit);
                }
            }
            splitee_output outs[4];
            int nout = 0;
            if (st == 0)
                st = part_npy(t, idx, oc.n_cal, hpath[0], hpath[1], outs, &nout, &err);
            if (st == 0)
                st = part_npy(t, idx + oc.n_cal, oc.n - oc.n_cal, hpath[2], hpath[3], outs, &nout, &err);
            /* the parts and the JSON are written together below */
            hold_n = nout;
            memcpy(hold_outs, outs, sizeof outs);
            free(idx);
            free(mark);
        } else if ((st = splitee_risk_calibrate(r, NULL, oc.n, &cc, &res, &err)) == 0) {
            oc.res = &res;
            oc.n_cal = oc.n;
            splitee_risk_mean(r, res.index, NULL, oc.n, &oc.mean_exit);
        }
    }
    if (st == 0 && o.json) {
        cmdline = cli_join_args("calibrate", argc, argv);
        FILE *m = cmdline ? open_memstream(&buf, &len) : NULL;
        if (!m) {
            st = splitee__fail(&err, SPLITEE_ERR_NOMEM, "%s: out of memory", o.json);
        } else {
            oc.command = cmdline;
            if (lay)
                write_split_json(m, &oc, lay, layers);
            else
                write_json(m, &oc);
            if (fclose(m) != 0)
                st = splitee__fail(&err, SPLITEE_ERR_NOMEM, "%s: out of memory", o.json);
            else if (hold_n)
                hold_outs[hold_n++] = (splitee_output){ o.json, buf, len };
            else
                st = splitee_file_write_atomic(o.json, buf, len, &err);
        }
    }
    if (st == 0 && hold_n)
        st = splitee_file_write_all(hold_outs, hold_n, &err);
    if (st == 0) {
        printf("table %s: %zu samples, %d exits\n", oc.table, oc.n, oc.exits);
        printf("risk %s%s (losses in [%g, %g]) on %s; method %s, epsilon %g", splitee_risk_kind_name(rc.risk),
               o.clamp ? " clamped at 0" : "", oc.lo, oc.hi, splitee_confidence_name(rc.confidence),
               splitee_calib_method_name(cc.method), o.epsilon);
        if (cc.method != SPLITEE_CALIB_NAIVE && cc.method != SPLITEE_CALIB_CRC)
            printf(", delta %g", o.delta);
        printf("\n");
        if (lay && !o.splits) {
            printf("form split: per split layer k, exit k when C_k >= lambda_k, else the final exit\n");
            printf("layer  lambda-hat  cal risk  %-14s  exit share\n", stat_name(cc.method));
            for (int l = 0; l < layers; l++) {
                const splitee_calib_result *q = &lay[l].res;
                if (q->index < 0)
                    printf("%5d        none         -  %-14s  %9.1f%%\n", l + 1, "-", 0.0);
                else
                    printf("%5d  %10.2f  %8.4f  %-14.4f  %9.1f%%\n", l + 1, q->threshold, q->risk, q->stat,
                           100 * exit_share(lay[l].mean_exit, l, oc.exits));
            }
            printf("alphas:");
            for (int l = 0; l < layers; l++)
                printf(lay[l].res.index < 0 ? "%snone" : "%s%.2f", l ? "," : " ", lay[l].res.threshold);
            printf("\n");
        } else if (lay) {
            printf("form split: per split layer k, exit k when C_k >= lambda_k, else the final exit\n");
            printf("evaluation: %d splits of %ld calibration / %zu test samples (seed %llu)\n", o.splits,
                   o.n_cal, oc.n - (size_t)o.n_cal, (unsigned long long)o.seed);
            printf("layer  test risk     q90     max  share > eps  mean lambda  none  exit share\n");
            double worst = -1;
            int wl = 0;
            for (int l = 0; l < layers; l++) {
                const splitee_risk_summary *q = &lay[l].sum;
                printf("%5d  %9.4f  %6.4f  %6.4f  %11.3f  ", l + 1, q->test_mean, q->test_q90, q->test_max,
                       q->share_over);
                if (q->none < q->splits)
                    printf("%11.4f", q->threshold_mean);
                else
                    printf("%11s", "-");
                printf("  %4d  %9.1f%%\n", q->none, 100 * exit_share(q->exit_mean, l, oc.exits));
                if (q->share_over > worst) {
                    worst = q->share_over;
                    wl = l;
                }
            }
            printf("largest share of splits with test risk > epsilon: %.3f (layer %d)\n", worst, wl + 1);
        } else if (oc.res) {
            if (res.index < 0)
                printf("no threshold: lambda = 1.00 already fails (risk %.4f, %s %.4f); run the last exit "
                       "always\n", res.fail_risk, stat_name(cc.method), res.fail_stat);
            else
                printf("lambda-hat %.2f (%d grid values tested from 1.00 down)\n"
                       "calibration risk at lambda-hat %.4f; %s %.4f\n",
                       res.threshold, res.tested, res.risk, stat_name(cc.method), res.stat);
            if (res.index >= 0 && res.index + 1 < SPLITEE_RISK_GRID)
                printf("first failure at %.2f: risk %.4f, %s %.4f\n", splitee_risk_grid_value(res.index + 1),
                       res.fail_risk, stat_name(cc.method), res.fail_stat);
            printf("mean exit layer %.3f of %d: %.1f%% of the layers saved\n", oc.mean_exit, oc.exits,
                   100 * (1 - oc.mean_exit / oc.exits));
            if (o.holdout) {
                printf("calibrated on %zu of the %zu samples (seed %llu); held out %zu\n", oc.n_cal, oc.n,
                       (unsigned long long)o.seed, oc.n - oc.n_cal);
                printf("held-out risk at lambda-hat %.4f (epsilon %g); mean exit layer %.3f: %.1f%% saved\n",
                       oc.test_risk, o.epsilon, oc.test_exit, 100 * (1 - oc.test_exit / oc.exits));
                if (splitee_table_labels(t))
                    printf("parts: %s (%s), %s (%s)\n", hpath[0], hpath[1], hpath[2], hpath[3]);
                else
                    printf("parts: %s, %s\n", hpath[0], hpath[2]);
            }
        } else {
            printf("evaluation: %d splits of %ld calibration / %zu test samples (seed %llu)\n", o.splits,
                   o.n_cal, oc.n - (size_t)o.n_cal, (unsigned long long)o.seed);
            printf("test risk: mean %.4f, q10 %.4f, median %.4f, q90 %.4f, max %.4f\n", sum.test_mean,
                   sum.test_q10, sum.test_q50, sum.test_q90, sum.test_max);
            printf("splits with test risk > epsilon: %.3f\n", sum.share_over);
            if (sum.none < sum.splits)
                printf("lambda-hat: mean %.4f; %d split%s found none\n", sum.threshold_mean, sum.none,
                       sum.none == 1 ? "" : "s");
            else
                printf("lambda-hat: no split found one\n");
            printf("mean exit layer %.3f of %d: %.1f%% of the layers saved\n", sum.exit_mean, oc.exits,
                   100 * sum.saved);
        }
    }
    for (int k = 0; k < hold_n; k++)
        if (hold_outs[k].data != buf)
            free((void *)hold_outs[k].data);
    for (int k = 0; k < 4; k++)
        free(hpath[k]);
    free(buf);
    free(cmdline);
    free(sp);
    free(lay);
    splitee_risk_free(r);
    splitee_table_free(t);
    cli_free(&CMD, &o);
    return st == 0 ? 0 : cli_fail(&err, st);
}
