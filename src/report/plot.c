/* plot.c -- figures through gnuplot (plot.h): a gnuplot program with the
 * data inline as datablocks, rendered once to SVG and once to PNG, each to
 * a temporary name that is renamed only when gnuplot succeeds. */
#include <errno.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/internal.h"
#include "splitee/plot.h"

extern char **environ;

/* One panel of a figure. */
typedef struct panel {
    const splitee_plot_spec *spec;
    const splitee_plot_series *series;
    int nseries;
    const double *vlines;   /* (nvlines) x positions of dashed markers (shifts) */
    int nvlines;
} panel;

/* Writes s as a gnuplot single-quoted string ('' stands for '). */
static void put_quoted(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'')
            fputc('\'', f);
        fputc(*s, f);
    }
    fputc('\'', f);
}

/* Ten colours that stay distinct on white (a policy list can be long). */
static const char *const COLOURS[] = { "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                       "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22" };
#define NCOLOURS (int)(sizeof COLOURS / sizeof *COLOURS)

static void put_datablocks(FILE *f, const panel *pn, int npanels)
{
    for (int p = 0; p < npanels; p++) {
        const double floor_ = pn[p].spec->logy_floor;
        for (int i = 0; i < pn[p].nseries; i++) {
            const splitee_plot_series *s = &pn[p].series[i];
            fprintf(f, "$d%d_%d << EOD\n", p, i);
            for (size_t k = 0; k < s->n; k++) {
                double y = s->y[k];
                double lo = s->lo && isfinite(s->lo[k]) ? s->lo[k] : y;
                double hi = s->hi && isfinite(s->hi[k]) ? s->hi[k] : y;
                if (!isfinite(s->x[k]) || !isfinite(y))
                    continue;
                if (floor_ > 0) {
                    y = fmax(y, floor_);
                    lo = fmax(lo, floor_);
                    hi = fmax(hi, floor_);
                }
                fprintf(f, "%.10g %.10g %.10g %.10g\n", s->x[k], y, lo, hi);
            }
            fputs("EOD\n", f);
        }
    }
}

static void put_panel(FILE *f, const panel *pn, int p)
{
    const splitee_plot_spec *sp = pn[p].spec;
    fputs("set title ", f);
    put_quoted(f, sp->title ? sp->title : "");
    fputs("\nset xlabel ", f);
    put_quoted(f, sp->xlabel ? sp->xlabel : "");
    fputs("\nset ylabel ", f);
    put_quoted(f, sp->ylabel ? sp->ylabel : "");
    fputs(sp->points ? "\nset offsets graph 0.04, graph 0.04, graph 0.06, graph 0.06"
                     : "\nunset offsets", f);
    if (sp->logy_floor > 0)
        fprintf(f, "\nset logscale y\nset yrange [%g:*]", sp->logy_floor);
    else
        fputs("\nunset logscale y\nset yrange [*:*]", f);
    /* many series: the key goes under the panel rather than over the lines */
    fputs(pn[p].nseries > 5 ? "\nset key outside below center horizontal reverse Left height 1.5"
                            : "\nset key top left reverse Left", f);
    fputs("\nunset arrow", f);
    for (int v = 0; v < pn[p].nvlines; v++)
        fprintf(f, "\nset arrow from %.10g, graph 0 to %.10g, graph 1 nohead dt 2 lc rgb '#555555'",
                pn[p].vlines[v], pn[p].vlines[v]);
    fputs("\nplot ", f);
    for (int i = 0; i < pn[p].nseries; i++) {
        const char *lc = COLOURS[i % NCOLOURS];
        if (sp->bands)
            fprintf(f, "$d%d_%d using 1:3:4 with filledcurves lc rgb '%s' notitle, ", p, i, lc);
        if (sp->points)
            fprintf(f, "$d%d_%d using 1:2:3:4 with yerrorbars lc rgb '%s' pt 7 ps 0.6 notitle, "
                       "$d%d_%d using 1:2 with lines lc rgb '%s' lw 2 title ", p, i, lc, p, i, lc);
        else
            fprintf(f, "$d%d_%d using 1:2 with lines lc rgb '%s' lw 2 title ", p, i, lc);
        put_quoted(f, pn[p].series[i].name);
        fputs(i + 1 < pn[p].nseries ? ", \\\n     " : "\n", f);
    }
}

static void put_render(FILE *f, const char *terminal, const char *out, const panel *pn,
                       int npanels, const char *suptitle)
{
    /* four panels (static and dynamic regret) go two by two */
    const int rows = npanels == 4 ? 2 : 1, cols = npanels / rows;
    fprintf(f, "set terminal %s size %d,%d\nset output ", terminal, 560 * cols + 80, 540 * rows);
    put_quoted(f, out);
    fputc('\n', f);
    if (npanels > 1) {
        fprintf(f, "set multiplot layout %d,%d title ", rows, cols);
        put_quoted(f, suptitle ? suptitle : "");
        fputc('\n', f);
    }
    for (int p = 0; p < npanels; p++)
        put_panel(f, pn, p);
    if (npanels > 1)
        fputs("unset multiplot\n", f);
    fputs("unset output\n", f);
}

/* Runs `gnuplot script`; returns its exit status, or -1 if it could not run. */
static int run_gnuplot(const char *script)
{
    pid_t pid;
    char *argv[] = { "gnuplot", (char *)script, NULL };
    if (posix_spawnp(&pid, "gnuplot", NULL, NULL, argv, environ) != 0)
        return -1;
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int render(const char *prefix, const panel *pn, int npanels, const char *suptitle,
                  splitee_error *err)
{
    size_t len = strlen(prefix) + 32;
    char *svg = malloc(len), *png = malloc(len), *svg_tmp = malloc(len),
         *png_tmp = malloc(len), *script = malloc(len);
    int st = SPLITEE_OK;
    if (!svg || !png || !svg_tmp || !png_tmp || !script) {
        st = splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", prefix);
        goto out;
    }
    snprintf(svg, len, "%s.svg", prefix);
    snprintf(png, len, "%s.png", prefix);
    snprintf(svg_tmp, len, "%s.svg.tmp%ld", prefix, (long)getpid());
    snprintf(png_tmp, len, "%s.png.tmp%ld", prefix, (long)getpid());
    snprintf(script, len, "%s.gp.tmp%ld", prefix, (long)getpid());
    FILE *f = fopen(script, "w");
    if (!f) {
        st = splitee__fail(err, SPLITEE_ERR_IO, "%s: cannot write: %s", script, strerror(errno));
        goto out;
    }
    fputs("set encoding utf8\nset grid lc rgb '#dddddd'\n"
          "set style fill transparent solid 0.18 noborder\nset border lc rgb '#444444'\n", f);
    put_datablocks(f, pn, npanels);
    put_render(f, "svg dynamic background rgb 'white' font 'sans,12'", svg_tmp, pn, npanels, suptitle);
    put_render(f, "pngcairo background rgb 'white' font 'sans,10'", png_tmp, pn, npanels, suptitle);
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    if (bad) {
        st = splitee__fail(err, SPLITEE_ERR_IO, "%s: cannot write", script);
        goto out;
    }
    int rc = run_gnuplot(script);
    if (rc != 0) {
        st = splitee__fail(err, SPLITEE_ERR_IO,
                           rc < 0 ? "%s: cannot run gnuplot (install gnuplot-nox)"
                                  : "%s: gnuplot failed to draw the figure", svg);
    } else if (rename(svg_tmp, svg) != 0 || rename(png_tmp, png) != 0) {
        st = splitee__fail(err, SPLITEE_ERR_IO, "%s: cannot write: %s", svg, strerror(errno));
    }
    remove(svg_tmp);
    remove(png_tmp);
    remove(script);
out:
    free(svg);
    free(png);
    free(svg_tmp);
    free(png_tmp);
    free(script);
    return st;
}

int splitee_plot(const char *prefix, const splitee_plot_spec *spec,
                 const splitee_plot_series *series, int nseries, splitee_error *err)
{
    if (nseries < 1)
        return splitee__fail(err, SPLITEE_ERR_ARG, "%s: nothing to plot", prefix);
    panel pn = { spec, series, nseries, NULL, 0 };
    return render(prefix, &pn, 1, NULL, err);
}

/* ------------------------------------------------------ replay figures -- */

/* 1 if the mean of any of the n series falls below -1 somewhere: regret
 * that is really negative, not an early fluctuation around zero. */
static int any_negative(const splitee_plot_series *s, int n)
{
    for (int i = 0; i < n; i++)
        for (size_t k = 0; k < s[i].n; k++)
            if (s[i].y[k] < -1.0)
                return 1;
    return 0;
}

/* Series of curve `kind` for every policy of r; x points at rounds. */
static void curve_series(const splitee_result *r, int kind, double *rounds, double *buf,
                         splitee_plot_series *out)
{
    const int nck = r->checkpoints;
    for (int k = 0; k < nck; k++)
        rounds[k] = (double)r->checkpoint_rounds[k];
    for (int p = 0; p < r->npolicies; p++) {
        double *y = buf + (size_t)p * 3 * nck, *lo = y + nck, *hi = lo + nck;
        const double *c = r->policies[p].curves;
        for (int k = 0; k < nck; k++) {
            const double *cell = c + ((size_t)k * SPLITEE_CURVE_KINDS + kind) * 3;
            y[k] = cell[0];
            lo[k] = cell[1];
            hi[k] = cell[2];
        }
        out[p] = (splitee_plot_series){ r->policies[p].name, (size_t)nck, rounds, y, lo, hi };
    }
}

int splitee_plot_regret(const char *prefix, const splitee_result *r, splitee_error *err)
{
    const int np = r->npolicies, nck = r->checkpoints;
    for (int p = 0; p < np; p++)
        if (!r->policies[p].curves)
            return splitee__fail(err, SPLITEE_ERR_ARG, "%s: no curves were kept to plot", prefix);
    double *rounds = malloc((size_t)nck * sizeof *rounds);
    /* with shifts: static regret (which may go negative: linear axis) over
     * dynamic regret against each segment's best layer, shifts marked */
    const int dyn = r->segments > 1, npanels = dyn ? 4 : 2;
    double *buf = malloc((size_t)npanels * np * 3 * nck * sizeof *buf);
    splitee_plot_series *s = malloc((size_t)npanels * np * sizeof *s);
    double vl[SPLITEE_MAX_SEGMENTS];
    int nvl = 0;
    for (int k = 1; dyn && r->segment && k < r->segments; k++)
        vl[nvl++] = (double)r->segment[k].start;
    size_t plen = strlen(prefix) + 16;
    char *name = malloc(plen);
    int st;
    if (!rounds || !buf || !s || !name) {
        st = splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", prefix);
    } else {
        curve_series(r, SPLITEE_CURVE_PSEUDO_REGRET, rounds, buf, s);
        curve_series(r, SPLITEE_CURVE_REALIZED_REGRET, rounds, buf + (size_t)np * 3 * nck, s + np);
        /* log scale: baselines with linear regret would flatten the learners;
         * zero (the oracle) sits on the floor */
        splitee_plot_spec a = { "Pseudo regret", "round", "cumulative regret (log scale)", 1, 0, 0.1 };
        splitee_plot_spec b = { "Realized regret (same samples)", "round",
                                "cumulative regret (log scale)", 1, 0, 0.1 };
        panel pn[4] = { { &a, s, np, vl, nvl }, { &b, s + np, np, vl, nvl } };
        splitee_plot_spec c = { "Dynamic pseudo regret (best layer of each segment)", "round",
                                "cumulative regret (log scale)", 1, 0, 0.1 };
        splitee_plot_spec d = { "Dynamic realized regret", "round",
                                "cumulative regret (log scale)", 1, 0, 0.1 };
        if (!dyn && (any_negative(s, np) || any_negative(s + np, np))) {
            /* a policy that beats the best fixed layer (a time-varying o,
             * say) has negative regret: a log axis would hide it */
            a.ylabel = b.ylabel = "cumulative regret";
            a.logy_floor = b.logy_floor = 0;
        }
        if (dyn) {
            a.title = "Static pseudo regret (best fixed layer)";
            b.title = "Static realized regret (same samples)";
            a.ylabel = b.ylabel = "cumulative regret";
            a.logy_floor = b.logy_floor = 0;
            curve_series(r, SPLITEE_CURVE_DYNAMIC_PSEUDO_REGRET, rounds,
                         buf + (size_t)2 * np * 3 * nck, s + 2 * np);
            curve_series(r, SPLITEE_CURVE_DYNAMIC_REALIZED_REGRET, rounds,
                         buf + (size_t)3 * np * 3 * nck, s + 3 * np);
            pn[2] = (panel){ &c, s + 2 * np, np, vl, nvl };
            pn[3] = (panel){ &d, s + 3 * np, np, vl, nvl };
        }
        char title[160];
        int o = snprintf(title, sizeof title, "alpha %.3g, lambda %.3g, mu %.3g, o %.3g: mean and 95%% CI",
                         r->setting.reward.alpha, r->setting.reward.lambda, r->setting.reward.mu,
                         r->setting.reward.offload);
        if (r->repetitions > 0 && o > 0 && (size_t)o < sizeof title)
            snprintf(title + o, sizeof title - (size_t)o, " over %d repetitions", r->repetitions);
        snprintf(name, plen, "%s-regret", prefix);
        st = render(name, pn, npanels, title, err);
    }
    free(rounds);
    free(buf);
    free(s);
    free(name);
    return st;
}

int splitee_plot_sweep(const char *prefix, const splitee_result *res, int nres,
                       splitee_error *err)
{
    const int np = res[0].npolicies;
    if (nres < 1 || np < 1)
        return splitee__fail(err, SPLITEE_ERR_ARG, "%s: nothing to plot", prefix);
    double *buf = malloc((size_t)np * 4 * nres * sizeof *buf);
    splitee_plot_series *s = malloc((size_t)np * sizeof *s);
    size_t plen = strlen(prefix) + 16;
    char *name = malloc(plen);
    int st;
    if (!buf || !s || !name) {
        st = splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", prefix);
    } else {
        for (int p = 0; p < np; p++) {
            double *x = buf + (size_t)p * 4 * nres, *y = x + nres, *lo = y + nres, *hi = lo + nres;
            for (int i = 0; i < nres; i++) {
                x[i] = res[i].policies[p].cost.mean;
                y[i] = 100 * res[i].policies[p].accuracy.mean;
                lo[i] = 100 * res[i].policies[p].accuracy.lo;
                hi[i] = 100 * res[i].policies[p].accuracy.hi;
            }
            s[p] = (splitee_plot_series){ res[0].policies[p].name, (size_t)nres, x, y, lo, hi };
        }
        splitee_plot_spec spec = { "Accuracy against cost across the sweep",
                                   "average cost per sample", "accuracy (%)", 0, 1, 0 };
        snprintf(name, plen, "%s-sweep", prefix);
        st = splitee_plot(name, &spec, s, np, err);
    }
    free(buf);
    free(s);
    free(name);
    return st;
}

int splitee_plot_replay(const char *prefix, const splitee_result *res, int nres,
                        splitee_error *err)
{
    if (nres < 1)
        return splitee__fail(err, SPLITEE_ERR_ARG, "%s: nothing to plot", prefix);
    int st = splitee_plot_regret(prefix, &res[0], err);
    if (st == 0 && nres > 1 && res[0].has_labels)
        st = splitee_plot_sweep(prefix, res, nres, err);
    return st;
}
