/* cmd_replay.c -- `splitee replay`: load a table, run the policies over the
 * sweep, print the table, then write the requested reports and figures.
 * Every report is rendered in memory before any file is touched, so bad
 * input or a failed run leaves no output behind. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "core/internal.h"
#include "core/numfmt.h"
#include "groups.h"

/* ---- options ------------------------------------------------------------ */

typedef struct replay_opts {
    cli_table tab;
    cli_exit ex;
    cli_reward rw;
    cli_policy pol;
    cli_link_opts lk;
    cli_output out;
    cli_threads thr;
    cli_progress prog;
    splitee_replay_config replay;  /* order, init, repetitions here; the rest from the groups */
    double arrival_ms;             /* --link: round k happens at k * arrival_ms */
    int payload_tokens, payload_dim; /* --payload-shape: one activation shape for every split */
    char *model_dir;               /* --model: price each split point's activation of this model */
    char *csv, *curves, *trace, *plot;
    char *scenes;       /* --scenes: a stream table's scene ids (stream rules) */
    int plot_setting;   /* --plot-setting: 1-based setting of a sweep, 0 = every one */
    int list_tables;    /* --list-tables: print the shipped tables and stop */
} replay_opts;

static int set_reference(void *g, const char *v, const cli_ctx *ctx, splitee_error *err)
{
    replay_opts *o = g;
    (void)v;
    (void)ctx;
    (void)err;
    o->replay.order = SPLITEE_ORDER_GIVEN;
    o->replay.init = SPLITEE_INIT_REFERENCE;
    o->pol.side_info = SPLITEE_SIDE_INFO_REFERENCE;
    return 0;
}

static int set_payload_shape(void *g, const char *v, const cli_ctx *ctx, splitee_error *err)
{
    replay_opts *o = g;
    int t, d, n = 0;
    (void)ctx;
    if (sscanf(v, "%dx%d%n", &t, &d, &n) != 2 || v[n] || t < 1 || d < 1 || t > 1 << 20 || d > 1 << 20)
        return splitee__fail(err, SPLITEE_ERR_ARG, "--payload-shape: expected TOKENSxDIM such as 16x64, got '%s'", v);
    o->payload_tokens = t;
    o->payload_dim = d;
    return 0;
}

static const char *const ORDERS[] = { "shuffle", "given", NULL };
static const char *const INITS[] = { "play-once", "reference", NULL };

static const cli_opt OPT_REPS = { .name = "reps", .arg = "R", .kind = CLI_INT,
    .off = offsetof(replay_opts, replay.repetitions), .lo = 1, .hi = 1000000,
    .help = "repetitions, each a fresh order of the samples", .def = "20" };
static const cli_opt OPT_ORDER = { .name = "order", .arg = "O", .kind = CLI_CHOICE,
    .off = offsetof(replay_opts, replay.order), .choices = ORDERS,
    .help = "sample order of a repetition", .def = "shuffle" };
static const cli_opt OPT_INIT = { .name = "init", .arg = "I", .kind = CLI_CHOICE,
    .off = offsetof(replay_opts, replay.init), .choices = INITS,
    .help = "UCB initialisation: play every layer once, or the authors' seeding", .def = "play-once" };
static const cli_opt OPT_REFERENCE = { .name = "reference", .kind = CLI_FN, .set = set_reference,
    .help = "the authors' simulation: --order given --init reference --side-info reference" };
static const cli_opt OPT_LIST_TABLES = { .name = "list-tables", .kind = CLI_SET, .ival = 1,
    .off = offsetof(replay_opts, list_tables),
    .help = "print the shipped tables (--domain/--table NAME) with their files, and stop" };
static const cli_opt OPT_SCENES = { .name = "scenes", .arg = "FILE", .kind = CLI_STRING,
    .off = offsetof(replay_opts, scenes),
    .help = "--rule difference|temporal-patience: the frames' scene ids (integer .npy),\n"
            "for the share of scene changes that re-ran (a shipped stream table: its own)" };
static const cli_opt *const RUN_OPTS[] = { &OPT_REPS, &OPT_ORDER, &OPT_INIT, &OPT_REFERENCE, &OPT_LIST_TABLES,
                                           &OPT_SCENES, NULL };
static const cli_group RUN = { .title = "replay", .opts = RUN_OPTS };

static const cli_opt OPT_ARRIVAL = { .name = "arrival-ms", .arg = "MS", .kind = CLI_DOUBLE,
    .off = offsetof(replay_opts, arrival_ms), .lo = 0, .hi = 1e9,
    .help = "--link: round k happens at k*MS on the link's clock", .def = "100" };
static const cli_opt OPT_PAYLOAD_SHAPE = { .name = "payload-shape", .arg = "TxD", .kind = CLI_FN,
    .set = set_payload_shape,
    .help = "--link: one activation shape (tokens x dim) priced after every layer,\n"
            "instead of a model's" };
static const cli_opt OPT_MODEL = { .name = "model", .arg = "DIR", .kind = CLI_STRING,
    .off = offsetof(replay_opts, model_dir),
    .help = "--link: the model whose activation at each split point is priced\n"
            "(a shipped table: its own model, --list-tables)" };
static const cli_opt *const LINK_OPTS[] = { &OPT_ARRIVAL, &OPT_MODEL, &OPT_PAYLOAD_SHAPE, NULL };
static const cli_group LINK = { .title = "link", .opts = LINK_OPTS };

static const cli_opt OPT_CSV = { .name = "csv", .arg = "FILE", .kind = CLI_STRING,
    .off = offsetof(replay_opts, csv), .help = "write the table as CSV" };
static const cli_opt OPT_CURVES = { .name = "curves", .arg = "FILE", .kind = CLI_STRING,
    .off = offsetof(replay_opts, curves), .help = "write regret/accuracy/cost curves as CSV" };
static const cli_opt OPT_TRACE = { .name = "trace", .arg = "FILE", .kind = CLI_STRING,
    .off = offsetof(replay_opts, trace), .help = "write a per-round CSV of the first repetition" };
static const cli_opt OPT_PLOT = { .name = "plot", .arg = "PREFIX", .kind = CLI_STRING,
    .off = offsetof(replay_opts, plot),
    .help = "draw PREFIX-regret.{svg,png} (and PREFIX-sweep.* for sweeps)" };
static const cli_opt OPT_PLOT_SETTING = { .name = "plot-setting", .arg = "N", .kind = CLI_INT,
    .off = offsetof(replay_opts, plot_setting), .lo = 0, .hi = CLI_MAX_SWEEP,
    .help = "with --plot on a sweep: the regret figure of setting N only (1-based,\n"
            "in the table's order); 0 draws one per setting", .def = "0" };
static const cli_opt *const OUT_OPTS[] = { &OPT_CSV, &OPT_CURVES, &OPT_TRACE, &OPT_PLOT,
                                           &OPT_PLOT_SETTING, NULL };
static const cli_group OUT = { .title = "output", .opts = OUT_OPTS };

static const cli_opt OPT_POLICIES = { .name = "policies", .arg = "LIST", .kind = CLI_ALIAS, .alias = "policy" };
static const cli_opt *const OLD_OPTS[] = { &OPT_POLICIES, NULL };
static const cli_group OLD = { .title = "old spellings", .opts = OLD_OPTS };

static const cli_use GROUPS[] = {
    { &cli_group_table, offsetof(replay_opts, tab) },
    { &cli_group_exit, offsetof(replay_opts, ex) },
    { &cli_group_reward, offsetof(replay_opts, rw) },
    { &cli_group_policy, offsetof(replay_opts, pol) },
    { &RUN, 0 },
    { &cli_group_threads, offsetof(replay_opts, thr) },
    { &cli_group_link, offsetof(replay_opts, lk) },
    { &LINK, 0 },
    { &cli_group_output, offsetof(replay_opts, out) },
    { &OUT, 0 },
    { &cli_group_progress, offsetof(replay_opts, prog) },
    { &OLD, 0 },
    { NULL, 0 },
};

static const cli_default DEFAULTS[] = {
    { "policy", "splitee,splitee-s,final,random,oracle,ee-threshold,epsilon-greedy,thompson,kl-ucb,ucb-v", NULL },
    { NULL, NULL, NULL },
};

static const cli_command CMD = {
    .name = "replay",
    .synopsis = "splitee replay [options]",
    .about = "Replays an exit-logit table through split-layer policies and reports accuracy,\n"
             "cost, offload rate, learned layer and regret with 95% confidence intervals.\n"
             "A shipped table with default per-layer device costs (--list-tables) is replayed\n"
             "with them unless --lambda or --layer-cost is given.\n",
    .groups = GROUPS,
    .defaults = DEFAULTS,
    .data_note = 1,
};

/* A report rendered into memory, waiting to be committed to its path. */
typedef struct pending {
    const char *path;
    char *buf;
    size_t len;
} pending;

typedef struct report_ctx {
    const splitee_result *res;
    int nres;
    const splitee_report_meta *meta;
} report_ctx;

static int w_json(FILE *f, const void *c)
{
    const report_ctx *r = c;
    return splitee_report_json(f, r->res, r->nres, r->meta);
}
static int w_csv(FILE *f, const void *c)
{
    const report_ctx *r = c;
    return splitee_report_csv(f, r->res, r->nres);
}
static int w_curves(FILE *f, const void *c)
{
    const report_ctx *r = c;
    return splitee_report_curves(f, r->res, r->nres);
}
static int w_trace(FILE *f, const void *c)
{
    const report_ctx *r = c;
    return splitee_report_trace(f, r->res);
}

static int render(pending *p, const char *path, cli_writer w, const report_ctx *ctx,
                  splitee_error *err)
{
    p->path = path;
    p->buf = NULL;
    FILE *m = open_memstream(&p->buf, &p->len);
    if (!m)
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", path);
    int st = w(m, ctx);
    if (fclose(m) != 0 && st == 0)
        st = SPLITEE_ERR_NOMEM;
    if (st < 0)
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", path);
    return 0;
}

static void progress(void *ctx, long done, long total)
{
    cli_meter_update(ctx, (size_t)done, (size_t)total);
}

/* Every combination of the swept values, alpha outermost, beta innermost. */
static splitee_setting *make_settings(const replay_opts *o, int *n, splitee_error *err)
{
    const cli_values *alpha = &o->ex.alpha, *lambda = &o->rw.lambda, *mu = &o->rw.mu,
                     *offload = &o->rw.offload, *beta = &o->pol.beta;
    long total = (long)alpha->n * lambda->n * mu->n * offload->n * beta->n;
    if (total > 100000) {
        splitee__fail(err, SPLITEE_ERR_ARG, "the sweep has %ld settings; at most 100000", total);
        return NULL;
    }
    splitee_setting *s = malloc((size_t)total * sizeof *s);
    if (!s) {
        splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", "sweep");
        return NULL;
    }
    int k = 0;
    for (int a = 0; a < alpha->n; a++)
        for (int l = 0; l < lambda->n; l++)
            for (int m = 0; m < mu->n; m++)
                for (int f = 0; f < offload->n; f++)
                    for (int b = 0; b < beta->n; b++) {
                        splitee_setting *x = &s[k++];
                        splitee_setting_default(x);
                        cli_exit_rule(&o->ex, &x->reward.exit);
                        x->reward.alpha = alpha->v[a];
                        x->reward.lambda = lambda->v[l];
                        x->reward.mu = mu->v[m];
                        x->reward.offload = offload->v[f];
                        x->reward.layer_cost = o->rw.nlayer_cost ? o->rw.layer_cost : NULL;
                        x->reward.offload_cost = o->rw.noffload_cost ? o->rw.offload_cost : NULL;
                        x->beta = beta->v[b];
                    }
    *n = k;
    return s;
}

/* Checks that cost vectors match the table's depth. */
static int check_vectors(const replay_opts *o, int exits, splitee_error *err)
{
    if (o->rw.nlayer_cost && o->rw.nlayer_cost != exits)
        return splitee__fail(err, SPLITEE_ERR_SHAPE, "--layer-cost: %d values for a table with %d exits",
                                 o->rw.nlayer_cost, exits);
    if (o->rw.noffload_cost && o->rw.noffload_cost != exits)
        return splitee__fail(err, SPLITEE_ERR_SHAPE, "--offload-cost: %d values for a table with %d exits",
                                 o->rw.noffload_cost, exits);
    return 0;
}

/* A shipped table's default per-layer device costs (the catalogue's
 * "layer_cost" file) as --layer-cost, when neither --lambda nor
 * --layer-cost was given; said on stderr. A table of one's own has none. */
static int default_costs(replay_opts *o, int exits, splitee_error *err)
{
    if (o->rw.nlayer_cost || o->rw.lambda_given)
        return 0;
    const splitee_catalog *cat = cli_catalog(NULL);
    const splitee_shipped_table *s = cat ? splitee_catalog_table_of_file(cat, o->tab.logits) : NULL;
    if (!s || !s->nlayer_cost)
        return 0;
    if (s->nlayer_cost != exits)
        return splitee__fail(err, SPLITEE_ERR_SHAPE, "%s: %d default layer costs for the table '%s' of %d exits",
                             s->layer_cost_file, s->nlayer_cost, s->domain, exits);
    double sum = 0;
    for (int i = 0; i < exits; i++)
        sum += o->rw.layer_cost[i] = s->layer_cost[i];
    o->rw.nlayer_cost = exits;
    cli_note("table %s: its default per-layer device costs apply (%s, summing to %.3g); "
             "--lambda or --layer-cost replaces them", s->domain, s->layer_cost_file, sum);
    return 0;
}

/* --link: the bytes an offload after layer a+1 puts on the wire, for every
 * arm but the last: one --payload-shape for all; else the activation at
 * each split point of --model, or of the shipped model for a shipped table.
 * A table of one's own with neither is refused: its network's payload
 * sizes are not the shipped model's to guess. */
static int payload_bytes(const replay_opts *o, const splitee_link *lk, int exits, size_t *bytes,
                         splitee_error *err)
{
    splitee_payload_encoding enc = (splitee_payload_encoding)o->lk.encoding;
    if (o->payload_tokens) {
        for (int a = 0; a + 1 < exits; a++)
            bytes[a] = splitee_link_payload_bytes(lk, enc, (size_t)o->payload_tokens, (size_t)o->payload_dim);
        if (exits > 1 && bytes[0] == 0)
            return splitee__fail(err, SPLITEE_ERR_ARG, "--payload-shape: %dx%d is too large a payload",
                                 o->payload_tokens, o->payload_dim);
        return 0;
    }
    const char *dir = o->model_dir;
    if (!dir) {
        const splitee_catalog *cat = cli_catalog(NULL);
        const splitee_shipped_table *s = cat ? splitee_catalog_table_of_file(cat, o->tab.logits) : NULL;
        if (s)
            dir = s->model;
    }
    if (!dir)
        return splitee__fail(err, SPLITEE_ERR_ARG,
                             "--link: %s is not a shipped table, so give the model whose activations are "
                             "offloaded (--model DIR) or their shape (--payload-shape TxD)", o->tab.logits);
    splitee_model *m;
    int st = splitee_model_load(dir, &m, err);
    if (st < 0)
        return st;
    int layers = splitee_model_get_config(m)->layers;
    if (layers != exits)
        st = splitee__fail(err, SPLITEE_ERR_SHAPE, "--model: %s has %d layers, the table %d exits", dir, layers, exits);
    for (int a = 0; st == 0 && a + 1 < exits; a++) {
        splitee_shape sh;
        size_t rows, cols;
        splitee_model_split_shape(m, a + 1, &sh);
        splitee_shape_payload_dims(&sh, &rows, &cols);
        bytes[a] = splitee_link_payload_bytes(lk, enc, rows, cols);
    }
    splitee_model_free(m);
    return st;
}

/* --link: o of every arm at every round, priced by the link simulator for
 * round k at k * arrival_ms (the last arm never offloads). *out is a
 * (samples, exits) matrix the caller frees; the profile's name goes to
 * name (cap bytes) for the report. */
static int link_schedule(const replay_opts *o, size_t rounds, int exits, double **out,
                         char *name, size_t cap, splitee_error *err)
{
    *out = NULL;
    if (o->rw.offload_given)
        return splitee__fail(err, SPLITEE_ERR_ARG, "--link replaces --offload and --offload-cost; give one or the other");
    splitee_link *lk;
    int st = splitee_link_load(o->lk.link, &lk, err);
    if (st < 0)
        return st;
    size_t bytes[SPLITEE_MAX_EXITS] = { 0 };
    if ((st = payload_bytes(o, lk, exits, bytes, err)) < 0) {
        splitee_link_free(lk);
        return st;
    }
    *out = malloc(rounds * (size_t)exits * sizeof **out);
    if (!*out) {
        splitee_link_free(lk);
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory for the offload schedule", o->lk.link);
    }
    splitee_link_schedule(lk, bytes, exits, rounds, 0.0, o->arrival_ms, o->replay.seed, *out);
    snprintf(name, cap, "%s", splitee_link_get_params(lk)->name);
    splitee_link_free(lk);
    return 0;
}

/* The shifts of --shift in stream order, each round resolved (P% of the
 * stream rounds down): loads every table (labels as for the first, same
 * layout) and adds it as a segment of rp. */
static int add_shifts(const replay_opts *o, splitee_replay *rp, splitee_error *err)
{
    const size_t n = splitee_replay_samples(rp);
    const cli_table *tab = &o->tab;
    size_t round[SPLITEE_MAX_SEGMENTS];
    int idx[SPLITEE_MAX_SEGMENTS];
    for (int i = 0; i < tab->nshift; i++) {
        round[i] = tab->shift[i].round_pct > 0 ? (size_t)(tab->shift[i].round_pct / 100.0 * (double)n)
                                               : (size_t)tab->shift[i].round;
        int j = i;                               /* insertion sort, stable */
        while (j > 0 && round[idx[j - 1]] > round[i]) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = i;
    }
    for (int k = 0; k < tab->nshift; k++) {
        splitee_table *t = NULL;
        int st = cli_table_load_shift(tab, idx[k], &t, err);
        if (st == 0 && (k > 0 && round[idx[k]] == round[idx[k - 1]]))
            st = splitee__fail(err, SPLITEE_ERR_ARG, "--shift: two shifts after round %zu",
                               round[idx[k]]);
        else if (st == 0 && (round[idx[k]] < 1 || round[idx[k]] >= n))
            st = splitee__fail(err, SPLITEE_ERR_ARG,
                               "--shift: round %zu is not inside the stream of %zu rounds",
                               round[idx[k]], n);
        if (st == 0)
            st = splitee_replay_add_segment(rp, round[idx[k]], t, err);
        splitee_table_free(t);
        if (st < 0)
            return st;
    }
    return 0;
}

/* --list-tables: the catalogue's tables, each with its model, shape,
 * files and device costs. */
static int list_tables(splitee_error *err)
{
    const splitee_catalog *c = cli_catalog(err);
    if (!c)
        return err->status;
    const splitee_shipped_table *def = splitee_catalog_default_table(c);
    printf("shipped tables in %s (--table NAME or --domain NAME; default %s):\n", splitee_catalog_dir(c),
           def->domain);
    for (int i = 0; i < splitee_catalog_count(c); i++) {
        const splitee_shipped_table *t = splitee_catalog_at(c, i);
        splitee_array a;
        splitee_error e = { 0, "" };
        char shape[sizeof e.msg + 64];
        memset(&a, 0, sizeof a);
        if (splitee_npy_read(t->logits, &a, &e) < 0)
            snprintf(shape, sizeof shape, "unreadable: %s", e.msg);
        else if (a.ndim != 3)
            snprintf(shape, sizeof shape, "not a (samples, exits, classes) table: %d dimensions", a.ndim);
        else
            snprintf(shape, sizeof shape, "%zu samples, %zu exits, %zu classes", a.shape[0], a.shape[1],
                     a.shape[2]);
        splitee_array_free(&a);
        printf(t->description[0] ? "  %-13s %s\n" : "  %s\n", t->domain, t->description);
        printf("  %-13s model  %s (%s)\n", "", t->model, shape);
        printf("  %-13s logits %s\n", "", t->logits);
        printf("  %-13s labels %s\n", "", t->labels);
        if (t->nlayer_cost) {
            double sum = 0;
            for (int k = 0; k < t->nlayer_cost; k++)
                sum += t->layer_cost[k];
            printf("  %-13s costs  %s (per layer, summing to %.3g) unless --lambda or --layer-cost\n", "",
                   t->layer_cost_file, sum);
        } else {
            printf("  %-13s costs  --lambda per layer (default 0.1)\n", "");
        }
        if (t->scenes[0])
            printf("  %-13s scenes %s\n", "", t->scenes);
    }
    return 0;
}

/* Every output this run will write, checked before any work: the data
 * files, and the folder of the figures (PREFIX-regret.svg stands for them). */
static int check_outputs(const replay_opts *o, splitee_error *err)
{
    const char *paths[] = { o->out.json, o->csv, o->curves, o->trace };
    int st = 0;
    for (size_t i = 0; i < sizeof paths / sizeof *paths && st == 0; i++)
        if (paths[i])
            st = splitee_output_check(paths[i], err);
    if (st == 0 && o->plot) {
        size_t n = strlen(o->plot) + 16;
        char *probe = malloc(n);
        if (!probe)
            return splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", o->plot);
        snprintf(probe, n, "%s-regret.svg", o->plot);
        st = splitee_output_check(probe, err);
        free(probe);
    }
    return st;
}

/* The figures first (gnuplot may fail on its own), then the data files all
 * or none (file.h). */
static int write_outputs(const replay_opts *o, const report_ctx *ctx, splitee_error *err)
{
    pending out[4];
    splitee_output files[4];
    int n = 0, st = 0;
    struct { const char *path; cli_writer w; } want[4] = {
        { o->out.json, w_json }, { o->csv, w_csv }, { o->curves, w_curves }, { o->trace, w_trace }
    };
    for (int i = 0; i < 4 && st == 0; i++)
        if (want[i].path && (st = render(&out[n], want[i].path, want[i].w, ctx, err)) == 0) {
            files[n] = (splitee_output){ out[n].path, out[n].buf, out[n].len };
            n++;
        }
    if (st == 0 && o->plot && o->plot_setting == 0)
        st = splitee_plot_replay(o->plot, ctx->res, ctx->nres, err);
    else if (st == 0 && o->plot) {
        st = splitee_plot_regrets(o->plot, ctx->res, ctx->nres, o->plot_setting - 1, err);
        if (st == 0 && ctx->nres > 1 && ctx->res[0].has_labels)
            st = splitee_plot_sweep(o->plot, ctx->res, ctx->nres, err);
    }
    if (st == 0)
        st = splitee_file_write_all(files, n, err);
    for (int i = 0; i < n; i++)
        free(out[i].buf);
    return st;
}

/* ---- stream rules -------------------------------------------------------- */

/* One row of the stream table. */
typedef struct stream_row {
    char rule[96];
    splitee_temporal_result res;
} stream_row;

static void stream_json(FILE *f, const char *table, const char *scenes, const stream_row *rows, int n,
                        const char *cmdline)
{
    fputs("{\n  \"form\": \"temporal-replay\",\n  \"table\": ", f);
    splitee__put_json_string(f, table);
    fputs(",\n  \"scenes\": ", f);
    if (scenes)
        splitee__put_json_string(f, scenes);
    else
        fputs("null", f);
    fprintf(f, ",\n  \"frames\": %zu,\n  \"exits\": %d,\n  \"order\": \"given\",\n  \"command\": ",
            rows[0].res.frames, rows[0].res.exits);
    splitee__put_json_string(f, cmdline ? cmdline : "");
    fputs(",\n  \"rows\": [", f);
    for (int i = 0; i < n; i++) {
        const splitee_temporal_result *r = &rows[i].res;
        fputs(i ? ",\n    {\"rule\": " : "\n    {\"rule\": ", f);
        splitee__put_json_string(f, rows[i].rule);
        struct { const char *k; double v; } kv[] = {
            { "accuracy", r->accuracy }, { "agreement", r->agreement }, { "mean_layers", r->mean_layers },
            { "relative_cost", r->relative_cost }, { "rerun_rate", r->rerun_rate },
            { "change_recall", r->change_recall }, { "final_accuracy", r->final_accuracy } };
        for (size_t k = 0; k < sizeof kv / sizeof *kv; k++) {
            fprintf(f, ", \"%s\": ", kv[k].k);
            splitee__put_json_number(f, kv[k].v);
        }
        fputs("}", f);
    }
    fputs("\n  ]\n}\n", f);
}

/* replay --rule difference|temporal-patience: the rule over the table in
 * its order, beside the early-exit deployment of the threshold rule at
 * --alpha and the whole model (temporal.h); the table, then --json. */
static int replay_stream(const replay_opts *o, int argc, char **argv, splitee_error *err)
{
    const char *name = splitee_exit_kind_name((splitee_exit_kind)o->ex.rule);
    if (o->replay.order != SPLITEE_ORDER_GIVEN)
        return splitee__fail(err, SPLITEE_ERR_ARG, "--rule %s keeps state across frames: it needs --order given "
                             "(a shuffled order is no stream)", name);
    if (o->lk.link || o->tab.nshift || o->csv || o->curves || o->trace || o->plot)
        return splitee__fail(err, SPLITEE_ERR_ARG, "--rule %s: a stream rule's replay writes its table and --json "
                             "only (no --link, --shift, --csv, --curves, --trace or --plot)", name);
    if (o->ex.alpha.n != 1)
        return splitee__fail(err, SPLITEE_ERR_ARG, "--rule %s: one --alpha (the threshold rule it is compared "
                             "with), not a sweep", name);
    splitee_table *t = NULL;
    int32_t *scenes = NULL;
    char *cmdline = NULL, *buf = NULL;
    size_t len = 0;
    int st = cli_table_load(&o->tab, &t, err);
    const char *scenes_path = cli_table_scenes(&o->tab, o->scenes);
    if (st == 0 && scenes_path)
        st = splitee_scenes_load(scenes_path, splitee_table_samples(t), &scenes, err);
    stream_row rows[3];
    memset(rows, 0, sizeof rows);
    const int L = st == 0 ? splitee_table_exits(t) : 0;
    for (int k = 0; k < 3 && st == 0; k++) {
        splitee_exit_config ec;
        splitee_exit_config_default(&ec);
        cli_exit_rule(&o->ex, &ec);
        ec.alpha = o->ex.alpha.v[0];
        if (k == 1)
            ec.kind = SPLITEE_EXIT_KIND_THRESHOLD;
        if (k == 2) {   /* the whole model: patience 64 accepts no exit of at most 64 */
            ec.kind = SPLITEE_EXIT_KIND_PATIENCE;
            ec.patience = SPLITEE_MAX_EXITS;
        }
        splitee_exit_rule r;
        if ((st = splitee_exit_rule_init(&r, &ec, L, err)) < 0 ||
            (st = splitee_temporal_run(t, &r, 0, splitee_table_samples(t), scenes, NULL, &rows[k].res, err)) < 0)
            break;
        if (k == 0)
            splitee_exit_rule_describe(&r, rows[k].rule, sizeof rows[k].rule);
        else if (k == 1) {
            char d[80];
            splitee_exit_rule_describe(&r, d, sizeof d);
            snprintf(rows[k].rule, sizeof rows[k].rule, "ee-threshold: %s", d);
        } else
            snprintf(rows[k].rule, sizeof rows[k].rule, "final (whole model)");
    }
    if (st == 0 && o->out.json) {
        cmdline = cli_join_args("replay", argc, argv);
        FILE *m = cmdline ? open_memstream(&buf, &len) : NULL;
        if (!m)
            st = splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", o->out.json);
        else {
            stream_json(m, splitee_table_name(t), scenes_path, rows, 3, cmdline);
            st = fclose(m) == 0 ? splitee_file_write_atomic(o->out.json, buf, len, err)
                                : splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", o->out.json);
        }
    }
    if (st == 0 && !o->out.quiet) {
        long changes = 0;
        for (size_t s = 1; scenes && s < splitee_table_samples(t); s++)
            changes += scenes[s] != scenes[s - 1];
        printf("stream %s: %zu frames in the given order, %d exits", splitee_table_name(t),
               splitee_table_samples(t), L);
        if (scenes)
            printf(", %ld scene changes (%s)", changes, scenes_path);
        printf("\n%-52s %8s %6s %6s %8s %6s %7s %7s\n", "rule", "accuracy", "agree", "layers", "rel.cost",
               "saved", "re-runs", "changes");
        for (int k = 0; k < 3; k++) {
            const splitee_temporal_result *r = &rows[k].res;
            printf("%-52s %8.4f %6.4f %6.2f %8.3f %5.1f%% %7.3f", rows[k].rule, r->accuracy, r->agreement,
                   r->mean_layers, r->relative_cost, 100 * (1 - r->relative_cost), r->rerun_rate);
            if (isfinite(r->change_recall))
                printf(" %7.3f\n", r->change_recall);
            else
                printf(" %7s\n", "-");
        }
        printf("layers: run per frame (of %d); saved: 1 - rel.cost; changes: share of scene changes that re-ran\n",
               L);
    }
    free(buf);
    free(cmdline);
    free(scenes);
    splitee_table_free(t);
    return st;
}

int cli_replay(int argc, char **argv)
{
    replay_opts o;
    splitee_error err = { 0, "" };
    splitee_table *t = NULL;
    splitee_replay *rp = NULL;
    splitee_setting *settings = NULL;
    splitee_result *res = NULL;
    char *cmdline = NULL;
    double *sched = NULL;
    char link_name[sizeof ((splitee_link_params *)0)->name] = "";   /* --link: the profile's name */
    int nset = 0, st;
    cli_meter meter = { 0 };

    memset(&o, 0, sizeof o);
    splitee_replay_config_default(&o.replay);
    st = cli_parse(&CMD, &o, argc, argv, &err);
    if (st != 0)
        goto done;
    if (o.list_tables) {
        st = list_tables(&err);
        goto done;
    }
    if ((st = check_outputs(&o, &err)) < 0)
        goto done;
    if (splitee_exit_kind_info((splitee_exit_kind)o.ex.rule)->stream) {
        st = replay_stream(&o, argc, argv, &err);
        goto done;
    }
    if (o.scenes) {
        st = splitee__fail(&err, SPLITEE_ERR_ARG, "--scenes: only for a stream rule (--rule difference or "
                           "temporal-patience)");
        goto done;
    }
    o.replay.seed = o.pol.seed;
    o.replay.checkpoints = o.out.checkpoints;
    o.replay.threads = o.thr.n;
    if ((st = cli_table_load(&o.tab, &t, &err)) < 0)
        goto done;
    if ((st = default_costs(&o, splitee_table_exits(t), &err)) < 0 ||
        (st = check_vectors(&o, splitee_table_exits(t), &err)) < 0)
        goto done;
    if (o.lk.link) {
        size_t n = splitee_table_samples(t);
        int L = splitee_table_exits(t);
        if ((st = link_schedule(&o, n, L, &sched, link_name, sizeof link_name, &err)) < 0)
            goto done;
        o.replay.offload_schedule = sched;
        o.replay.offload_rounds = n;
        /* the table's "offload" shows the mean o over arms and rounds */
        long double m = 0;
        for (size_t i = 0; i < n * (size_t)L; i++)
            m += (size_t)(i % (size_t)L) + 1 < (size_t)L ? sched[i] : 0;
        o.rw.offload = (cli_values){ 1, { L > 1 ? (double)(m / (n * (size_t)(L - 1))) : 0 } };
    }
    if (!(settings = make_settings(&o, &nset, &err))) {
        st = err.status;
        goto done;
    }
    if (o.plot_setting > nset) {
        st = splitee__fail(&err, SPLITEE_ERR_ARG, "--plot-setting: %d, but the sweep has %d setting%s",
                           o.plot_setting, nset, nset == 1 ? "" : "s");
        goto done;
    }
    if ((st = splitee_replay_prepare(t, (splitee_confidence)o.ex.confidence, &rp, &err)) < 0)
        goto done;
    if ((st = add_shifts(&o, rp, &err)) < 0)
        goto done;
    o.replay.curves = o.curves || o.plot;
    o.replay.trace = o.trace != NULL;
    cli_meter_start(&meter, &o.prog, "replay", "jobs");
    if (meter.on) {
        o.replay.progress = progress;
        o.replay.progress_ctx = &meter;
    }
    st = splitee_replay_run(rp, settings, nset, o.pol.policies, o.pol.npolicies, &o.replay, &res, &err);
    cli_meter_end(&meter);
    if (st < 0)
        goto done;
    if (!o.out.quiet && (st = splitee_report_table(stdout, res, nset)) < 0) {
        splitee__fail(&err, st, "cannot write the table to standard output");
        goto done;
    }
    cmdline = cli_join_args("replay", argc, argv);
    char date[32];
    splitee_report_meta meta = {
        .logits_path = o.tab.logits, .labels_path = o.tab.labels,
        .confidence = (splitee_confidence)o.ex.confidence, .replay = &o.replay,
        .side_info = (splitee_side_info)o.pol.side_info, .command_line = cmdline,
        .date = splitee_report_utc_date(time(NULL), date, sizeof date) == 0 ? date : NULL,
        .link_path = o.lk.link, .link_name = link_name[0] ? link_name : NULL,
    };
    report_ctx ctx = { res, nset, &meta };
    st = write_outputs(&o, &ctx, &err);
done:
    splitee_results_free(res, nset);
    free(settings);
    free(cmdline);
    free(sched);
    splitee_replay_free(rp);
    splitee_table_free(t);
    cli_free(&CMD, &o);
    if (st == 1)
        return 0;       /* help was printed */
    return st < 0 ? cli_fail(&err, st) : 0;
}
