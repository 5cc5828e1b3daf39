/* cmd_replay.c -- `splitee replay`: load a table, run the policies over the
 * sweep, print the table, then write the requested reports and figures.
 * Every report is rendered in memory before any file is touched, so bad
 * input or a failed run leaves no output behind. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "core/internal.h"
#include "options.h"

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
    (void)ctx;
    fprintf(stderr, "\rreplay: %ld/%ld jobs (%3.0f%%)%s", done, total,
            total ? 100.0 * done / total : 100.0, done == total ? "\n" : "");
    fflush(stderr);
}

/* Every combination of the swept values, alpha outermost, beta innermost. */
static splitee_setting *make_settings(const cli_replay_opts *o, int *n, splitee_error *err)
{
    long total = (long)o->alpha.n * o->lambda.n * o->mu.n * o->offload.n * o->beta.n;
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
    for (int a = 0; a < o->alpha.n; a++)
        for (int l = 0; l < o->lambda.n; l++)
            for (int m = 0; m < o->mu.n; m++)
                for (int f = 0; f < o->offload.n; f++)
                    for (int b = 0; b < o->beta.n; b++) {
                        splitee_setting *x = &s[k++];
                        splitee_setting_default(x);
                        x->reward.alpha = o->alpha.v[a];
                        x->reward.lambda = o->lambda.v[l];
                        x->reward.mu = o->mu.v[m];
                        x->reward.offload = o->offload.v[f];
                        x->reward.layer_cost = o->nlayer_cost ? o->layer_cost : NULL;
                        x->reward.offload_cost = o->noffload_cost ? o->offload_cost : NULL;
                        x->beta = o->beta.v[b];
                    }
    *n = k;
    return s;
}

static char *join_args(int argc, char **argv)
{
    size_t len = strlen("splitee replay") + 1;
    for (int i = 0; i < argc; i++)
        len += strlen(argv[i]) + 1;
    char *s = malloc(len);
    if (!s)
        return NULL;
    strcpy(s, "splitee replay");
    for (int i = 0; i < argc; i++) {
        strcat(s, " ");
        strcat(s, argv[i]);
    }
    return s;
}

/* Checks that cost vectors match the table's depth. */
static int check_vectors(const cli_replay_opts *o, int exits, splitee_error *err)
{
    if (o->nlayer_cost && o->nlayer_cost != exits)
        return splitee__fail(err, SPLITEE_ERR_SHAPE, "--layer-cost: %d values for a table with %d exits",
                                 o->nlayer_cost, exits);
    if (o->noffload_cost && o->noffload_cost != exits)
        return splitee__fail(err, SPLITEE_ERR_SHAPE, "--offload-cost: %d values for a table with %d exits",
                                 o->noffload_cost, exits);
    return 0;
}

/* --link: o of every arm at every round, priced by the link simulator for
 * round k at k * arrival_ms (the last arm never offloads). *out is a
 * (samples, exits) matrix the caller frees. */
static int link_schedule(const cli_replay_opts *o, size_t rounds, int exits, double **out,
                         splitee_error *err)
{
    *out = NULL;
    if (o->offload_given)
        return splitee__fail(err, SPLITEE_ERR_ARG, "--link replaces --offload and --offload-cost; give one or the other");
    splitee_link *lk;
    int st = splitee_link_load(o->link, &lk, err);
    if (st < 0)
        return st;
    size_t bytes[SPLITEE_MAX_EXITS] = { 0 };
    for (int a = 0; a + 1 < exits; a++)
        bytes[a] = splitee_link_payload_bytes(lk, o->link_encoding, (size_t)o->payload_tokens,
                                              (size_t)o->payload_dim);
    if (exits > 1 && bytes[0] == 0) {
        splitee_link_free(lk);
        return splitee__fail(err, SPLITEE_ERR_ARG, "--payload-shape: %dx%d is too large a payload",
                             o->payload_tokens, o->payload_dim);
    }
    *out = malloc(rounds * (size_t)exits * sizeof **out);
    if (!*out) {
        splitee_link_free(lk);
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory for the offload schedule", o->link);
    }
    splitee_link_schedule(lk, bytes, exits, rounds, 0.0, o->arrival_ms, o->replay.seed, *out);
    splitee_link_free(lk);
    return 0;
}

/* The shifts of --shift in stream order, each round resolved (P% of the
 * stream rounds down): loads every table (same labels file and layout as
 * the first) and adds it as a segment of rp. */
static int add_shifts(const cli_replay_opts *o, splitee_replay *rp, splitee_error *err)
{
    const size_t n = splitee_replay_samples(rp);
    size_t round[SPLITEE_MAX_SEGMENTS];
    int idx[SPLITEE_MAX_SEGMENTS];
    for (int i = 0; i < o->nshift; i++) {
        round[i] = o->shift[i].round_pct > 0 ? (size_t)(o->shift[i].round_pct / 100.0 * (double)n)
                                             : (size_t)o->shift[i].round;
        int j = i;                               /* insertion sort, stable */
        while (j > 0 && round[idx[j - 1]] > round[i]) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = i;
    }
    for (int k = 0; k < o->nshift; k++) {
        const struct cli_shift *sh = &o->shift[idx[k]];
        splitee_table *t = NULL;
        int st = splitee_table_load(sh->table, o->labels, o->layout, &t, err);
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

static int write_outputs(const cli_replay_opts *o, const report_ctx *ctx, splitee_error *err)
{
    pending out[4];
    int n = 0, st = 0;
    struct { const char *path; cli_writer w; } want[4] = {
        { o->json, w_json }, { o->csv, w_csv }, { o->curves, w_curves }, { o->trace, w_trace }
    };
    for (int i = 0; i < 4 && st == 0; i++)
        if (want[i].path && (st = render(&out[n], want[i].path, want[i].w, ctx, err)) == 0)
            n++;
    for (int i = 0; i < n && st == 0; i++)
        st = splitee_file_write_atomic(out[i].path, out[i].buf, out[i].len, err);
    for (int i = 0; i < n; i++)
        free(out[i].buf);
    if (st == 0 && o->plot)
        st = splitee_plot_replay(o->plot, ctx->res, ctx->nres, err);
    return st;
}

int cli_replay(int argc, char **argv)
{
    cli_replay_opts o;
    splitee_error err = { 0, "" };
    splitee_table *t = NULL;
    splitee_replay *rp = NULL;
    splitee_setting *settings = NULL;
    splitee_result *res = NULL;
    char *cmdline = NULL;
    double *sched = NULL;
    int nset = 0, st;

    cli_replay_defaults(&o);
    st = cli_replay_parse(&o, argc, argv, &err);
    if (st != 0)
        goto done;
    if ((st = splitee_table_load(o.logits, o.labels, o.layout, &t, &err)) < 0)
        goto done;
    if ((st = check_vectors(&o, splitee_table_exits(t), &err)) < 0)
        goto done;
    if (o.link) {
        size_t n = splitee_table_samples(t);
        int L = splitee_table_exits(t);
        if ((st = link_schedule(&o, n, L, &sched, &err)) < 0)
            goto done;
        o.replay.offload_schedule = sched;
        o.replay.offload_rounds = n;
        /* the table's "offload" shows the mean o over arms and rounds */
        long double m = 0;
        for (size_t i = 0; i < n * (size_t)L; i++)
            m += (size_t)(i % (size_t)L) + 1 < (size_t)L ? sched[i] : 0;
        o.offload = (cli_values){ 1, { L > 1 ? (double)(m / (n * (size_t)(L - 1))) : 0 } };
    }
    if (!(settings = make_settings(&o, &nset, &err))) {
        st = err.status;
        goto done;
    }
    if ((st = splitee_replay_prepare(t, o.confidence, &rp, &err)) < 0)
        goto done;
    if ((st = add_shifts(&o, rp, &err)) < 0)
        goto done;
    o.replay.curves = o.curves || o.plot;
    o.replay.trace = o.trace != NULL;
    if (o.progress == 1 || (o.progress < 0 && isatty(STDERR_FILENO)))
        o.replay.progress = progress;
    if ((st = splitee_replay_run(rp, settings, nset, o.policies, o.npolicies, &o.replay,
                                 &res, &err)) < 0)
        goto done;
    if (!o.quiet && (st = splitee_report_table(stdout, res, nset)) < 0) {
        splitee__fail(&err, st, "cannot write the table to standard output");
        goto done;
    }
    cmdline = join_args(argc, argv);
    char date[32];
    char link_name[sizeof ((splitee_link_params *)0)->name] = "";
    if (o.link) {   /* loaded once already: only its name is wanted here */
        splitee_link *lk;
        if (splitee_link_load(o.link, &lk, NULL) == 0) {
            snprintf(link_name, sizeof link_name, "%s", splitee_link_get_params(lk)->name);
            splitee_link_free(lk);
        }
    }
    splitee_report_meta meta = {
        .logits_path = o.logits, .labels_path = o.labels, .confidence = o.confidence,
        .replay = &o.replay, .side_info = o.side_info, .command_line = cmdline,
        .date = splitee_report_utc_date(time(NULL), date, sizeof date) == 0 ? date : NULL,
        .link_path = o.link, .link_name = link_name[0] ? link_name : NULL,
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
    cli_replay_free(&o);
    if (st == 1)
        return 0;       /* help was printed */
    return st < 0 ? cli_fail(&err, st) : 0;
}
