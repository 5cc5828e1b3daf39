/* plot.c -- figures through gnuplot (plot.h): one gnuplot program per batch
 * of figures, the data inline as datablocks, each figure rendered once to
 * SVG and once to PNG under a temporary name beside its output. The
 * program goes to gnuplot on its standard input from an anonymous file and
 * gnuplot's messages come back through another, so that no internal file
 * name ever reaches the user; outputs are renamed only when every batch of
 * the call has been drawn. */
#include <errno.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/internal.h"
#include "core/numfmt.h"
#include "splitee/plot.h"

extern char **environ;

/* ------------------------------------------------------------ styles --- */

/* One colour and dash type per policy, whatever else is plotted: the
 * learners solid, the baselines dashed (dt 2), fixed layers dash-dotted. */
static const struct {
    const char *name, *colour;
    int dash;
} POLICY_STYLE[] = {
    { "splitee", "#1f77b4", 1 },        { "splitee-s", "#d62728", 1 },
    { "final", "#2ca02c", 2 },          { "random", "#ff7f0e", 2 },
    { "oracle", "#000000", 2 },         { "ee-threshold", "#8c564b", 2 },
    { "epsilon-greedy", "#e377c2", 1 }, { "thompson", "#17becf", 1 },
    { "kl-ucb", "#7f7f7f", 1 },         { "ucb-v", "#bcbd22", 1 },
    { "sw-ucb", "#9467bd", 1 },         { "sw-ucb-s", "#393b79", 1 },
    { "d-ucb", "#b8860b", 1 },          { "d-ucb-s", "#843c39", 1 },
    { "splitee-alpha", "#e6550d", 1 },
    /* reference lines: the diagonal of splitee_plot_calibration */
    { "risk = ε", "#555555", 2 },
};

/* The diagonal's series name: drawn as a dashed line whatever the panel's
 * point style. */
static const char DIAGONAL[] = "risk = ε";
#define NPOLICY_STYLE (int)(sizeof POLICY_STYLE / sizeof *POLICY_STYLE)

/* fixed:K by K, and any other name by a hash of it. */
static const char *const OTHER_COLOURS[] = { "#1b9e77", "#d95f02", "#7570b3", "#e7298a",
                                             "#66a61e", "#a6761d", "#666666", "#004c6d",
                                             "#7b3294", "#008080", "#c51b7d", "#4d9221" };
#define NOTHER (int)(sizeof OTHER_COLOURS / sizeof *OTHER_COLOURS)

/* Index into OTHER_COLOURS for "fixed:K", or -1. */
static int fixed_index(const char *name)
{
    if (strncmp(name, "fixed:", 6) != 0)
        return -1;
    char *end;
    long k = strtol(name + 6, &end, 10);
    return end != name + 6 && !*end && k >= 1 ? (int)((k - 1) % NOTHER) : -1;
}

const char *splitee_plot_colour(const char *name)
{
    if (!name)
        name = "";
    for (int i = 0; i < NPOLICY_STYLE; i++)
        if (strcmp(POLICY_STYLE[i].name, name) == 0)
            return POLICY_STYLE[i].colour;
    int k = fixed_index(name);
    if (k >= 0)
        return OTHER_COLOURS[k];
    unsigned h = 2166136261u; /* FNV-1a */
    for (const char *c = name; *c; c++)
        h = (h ^ (unsigned char)*c) * 16777619u;
    return OTHER_COLOURS[h % NOTHER];
}

static int dash_type(const char *name)
{
    for (int i = 0; name && i < NPOLICY_STYLE; i++)
        if (strcmp(POLICY_STYLE[i].name, name) == 0)
            return POLICY_STYLE[i].dash;
    return name && fixed_index(name) >= 0 ? 4 : 1;
}

/* --------------------------------------------------- gnuplot program --- */

/* One panel of a figure. */
typedef struct panel {
    const splitee_plot_spec *spec;
    const splitee_plot_series *series;
    int nseries;
    const double *vlines;   /* (nvlines) x positions of dashed markers (shifts) */
    int nvlines;
} panel;

/* One figure: PATH.svg and PATH.png, drawn first to temporaries. */
typedef struct figure {
    char *path, *svg, *png, *svg_tmp, *png_tmp;   /* owned */
    int made;               /* temporaries exist */
    const panel *panels;    /* (npanels), set while its batch is drawn */
    int npanels;
    char title[512];        /* over the panels of a multi-panel figure */
} figure;

/* Writes s as a gnuplot double-quoted string (newlines as \n). */
static void put_quoted(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        if (*s == '\n')
            fputs("\\n", f);
        else if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

static void put_datablocks(FILE *f, int fig, const panel *pn, int npanels)
{
    for (int p = 0; p < npanels; p++) {
        for (int i = 0; i < pn[p].nseries; i++) {
            const splitee_plot_series *s = &pn[p].series[i];
            fprintf(f, "$d%d_%d_%d << EOD\n", fig, p, i);
            for (size_t k = 0; k < s->n; k++) {
                double y = s->y[k];
                double lo = s->lo && isfinite(s->lo[k]) ? s->lo[k] : y;
                double hi = s->hi && isfinite(s->hi[k]) ? s->hi[k] : y;
                if (!isfinite(s->x[k]) || !isfinite(y))
                    continue;
                fprintf(f, "%.10g %.10g %.10g %.10g\n", s->x[k], y, lo, hi);
            }
            fputs("EOD\n", f);
        }
    }
}

/* Tick label of a power of ten (or a multiple) on the symlog axis. */
static void put_tic(FILE *f, double v, int minor)
{
    if (minor)
        fprintf(f, "\"\" %.17g 1", v);
    else if (fabs(v) < 1e7)
        fprintf(f, "\"%.0f\" %.17g", v, v);
    else
        fprintf(f, "\"%s1e%d\" %.17g", v < 0 ? "-" : "", (int)lround(log10(fabs(v))), v);
}

/* asinh axis over the panel's data: the range with a margin (so that a
 * line at zero stands clear of the border) and ticks at 0, +-10^k and
 * minor ones at +-m 10^k. */
static void put_symlog(FILE *f, const panel *pn)
{
    double ymin = 0, ymax = 1;
    for (int i = 0; i < pn->nseries; i++) {
        const splitee_plot_series *s = &pn->series[i];
        for (size_t k = 0; k < s->n; k++) {
            const double v[3] = { s->y[k], s->lo ? s->lo[k] : s->y[k], s->hi ? s->hi[k] : s->y[k] };
            for (int j = 0; j < 3; j++)
                if (isfinite(v[j])) {
                    ymin = fmin(ymin, v[j]);
                    ymax = fmax(ymax, v[j]);
                }
        }
    }
    const double lo_t = asinh(ymin), hi_t = asinh(ymax), span = hi_t - lo_t;
    double lo = sinh(lo_t - 0.03 * span), hi = sinh(hi_t + 0.04 * span);
    if (!isfinite(lo) || !isfinite(hi)) {   /* data near the largest doubles */
        lo = ymin;
        hi = ymax;
    }
    fprintf(f, "\nset nonlinear y via asinh(y) inverse sinh(y)\nset yrange [%.17g:%.17g]", lo, hi);
    fputs("\nset ytics (\"0\" 0", f);
    for (double e = 1; e <= 1e300; e *= 10) {
        if (e > hi && -e < lo)
            break;
        for (int m = 1; m < 10; m++)
            for (int sign = 1; sign >= -1; sign -= 2) {
                const double v = sign * m * e;
                if (v >= lo && v <= hi) {
                    fputs(", ", f);
                    put_tic(f, v, m > 1);
                }
            }
    }
    fputc(')', f);
}

/* A labelled figure (point labels, splitee_plot_series.labels): one panel
 * of LW x LH pixels with the plot area at fixed screen fractions and the
 * key to its right, so that data coordinates map to known pixels and the
 * labels can be placed where they do not collide. */
#define LW 900
#define LH 600
static const double AREA[4] = { 0.09, 0.76, 0.12, 0.86 };   /* left, right, bottom, top */
#define LABEL_CW 5.5     /* pixels per character of the 8-point label font */
#define LABEL_CH 10.0    /* pixels per line */

static int labelled(const panel *pn)
{
    for (int i = 0; i < pn->nseries; i++)
        if (pn->series[i].labels)
            return 1;
    return 0;
}

/* Characters (UTF-8 code points) of s. */
static int text_width(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

typedef struct box { double x0, x1, y0, y1; } box;

static int overlaps(const box *a, const box *b)
{
    return a->x0 < b->x1 && b->x0 < a->x1 && a->y0 < b->y1 && b->y0 < a->y1;
}

/* Explicit ranges (data plus margins, more on the right for labels) and
 * every label as a `set label`, each at the first of four places beside
 * its point (right-above, left-above, right-below, left-below) that
 * collides with no label placed before it, no other point and stays in
 * the plot area; a label with no such place is left out. */
static void put_labels(FILE *f, const panel *pn)
{
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    size_t npts = 0, nlab = 0;
    for (int i = 0; i < pn->nseries; i++) {
        const splitee_plot_series *s = &pn->series[i];
        for (size_t k = 0; k < s->n; k++) {
            if (!isfinite(s->x[k]) || !isfinite(s->y[k]))
                continue;
            const double lo = s->lo && isfinite(s->lo[k]) ? s->lo[k] : s->y[k];
            const double hi = s->hi && isfinite(s->hi[k]) ? s->hi[k] : s->y[k];
            x0 = fmin(x0, s->x[k]);
            x1 = fmax(x1, s->x[k]);
            y0 = fmin(y0, fmin(lo, s->y[k]));
            y1 = fmax(y1, fmax(hi, s->y[k]));
            npts++;
            nlab += s->labels && s->labels[k] && s->labels[k][0];
        }
    }
    if (!npts)
        return;
    double dx = x1 - x0, dy = y1 - y0;
    if (!(dx > 0))
        dx = fabs(x0) > 0 ? 0.2 * fabs(x0) : 1;
    if (!(dy > 0))
        dy = fabs(y0) > 0 ? 0.02 * fabs(y0) : 1;
    x0 -= 0.05 * dx;
    x1 += 0.14 * dx;
    y0 -= 0.06 * dy;
    y1 += 0.08 * dy;
    fprintf(f, "\nset xrange [%.17g:%.17g]\nset yrange [%.17g:%.17g]", x0, x1, y0, y1);
    const double W = (AREA[1] - AREA[0]) * LW, H = (AREA[3] - AREA[2]) * LH;
    box *placed = malloc((nlab ? nlab : 1) * sizeof *placed);
    double *px = malloc(2 * npts * sizeof *px), *py = px ? px + npts : NULL;
    if (!placed || !px) {
        free(placed);
        free(px);
        return;
    }
    size_t n = 0, m = 0;
    for (int i = 0; i < pn->nseries; i++)
        for (size_t k = 0; k < pn->series[i].n; k++)
            if (isfinite(pn->series[i].x[k]) && isfinite(pn->series[i].y[k])) {
                px[m] = (pn->series[i].x[k] - x0) / (x1 - x0) * W;
                py[m++] = (pn->series[i].y[k] - y0) / (y1 - y0) * H;
            }
    /* checking points costs npts per place: only while that stays cheap */
    const int check_points = npts <= 4000;
    for (int i = 0; i < pn->nseries; i++) {
        const splitee_plot_series *s = &pn->series[i];
        for (size_t k = 0; s->labels && k < s->n; k++) {
            const char *t = s->labels[k];
            if (!t || !t[0] || !isfinite(s->x[k]) || !isfinite(s->y[k]))
                continue;
            const double x = (s->x[k] - x0) / (x1 - x0) * W, y = (s->y[k] - y0) / (y1 - y0) * H;
            const double w = text_width(t) * LABEL_CW, gap = 4;
            for (int c = 0; c < 4; c++) {
                const int right = c % 2 == 0, above = c < 2;
                box b = { right ? x + gap : x - gap - w, right ? x + gap + w : x - gap,
                          above ? y + 1 : y - 1 - LABEL_CH, above ? y + 1 + LABEL_CH : y - 1 };
                int ok = b.x0 >= 0 && b.x1 <= W && b.y0 >= 0 && b.y1 <= H;
                for (size_t j = 0; ok && j < n; j++)
                    ok = !overlaps(&b, &placed[j]);
                for (size_t j = 0; ok && check_points && j < npts; j++)
                    ok = !(px[j] > b.x0 - 2 && px[j] < b.x1 + 2 && py[j] > b.y0 - 2 &&
                           py[j] < b.y1 + 2);
                if (!ok)
                    continue;
                placed[n++] = b;
                fputs("\nset label ", f);
                put_quoted(f, t);
                fprintf(f, " at %.17g, %.17g %s offset screen %.5f, screen %.5f font ',8' "
                           "tc rgb '%s' front",
                        s->x[k], s->y[k], right ? "left" : "right",
                        (right ? gap : -gap) / LW, (above ? 1 + LABEL_CH / 2 : -1 - LABEL_CH / 2) / LH,
                        splitee_plot_colour(s->name));
                break;
            }
        }
    }
    free(placed);
    free(px);
}

static void put_panel(FILE *f, int fig, const panel *pn, int p)
{
    const splitee_plot_spec *sp = pn[p].spec;
    const int lab = labelled(&pn[p]);
    fputs("unset label\nset title ", f);
    put_quoted(f, sp->title ? sp->title : "");
    fputs("\nset xlabel ", f);
    put_quoted(f, sp->xlabel ? sp->xlabel : "");
    fputs("\nset ylabel ", f);
    put_quoted(f, sp->ylabel ? sp->ylabel : "");
    /* room around the data, so that a line at zero (the oracle's regret)
     * stands clear of the border */
    fputs(lab ? "\nunset offsets"
          : sp->points ? "\nset offsets graph 0.04, graph 0.08, graph 0.06, graph 0.06"
                       : "\nset offsets 0, 0, graph 0.03, graph 0.03", f);
    fputs("\nset xrange [*:*]", f);
    if (sp->yscale == SPLITEE_PLOT_SCALE_SYMLOG)
        put_symlog(f, &pn[p]);
    else
        fputs("\nunset nonlinear y\nset ytics autofreq\nset yrange [*:*]", f);
    if (lab) {
        fprintf(f, "\nset lmargin at screen %g\nset rmargin at screen %g"
                   "\nset bmargin at screen %g\nset tmargin at screen %g"
                   "\nset key outside right top vertical reverse Left",
                AREA[0], AREA[1], AREA[2], AREA[3]);
        put_labels(f, &pn[p]);
    } else {
        /* many series: the key goes under the panel rather than over the lines */
        fputs("\nunset lmargin\nunset rmargin\nunset bmargin\nunset tmargin", f);
        fputs(pn[p].nseries > 5 ? "\nset key outside below center horizontal reverse Left height 1.5"
                                : "\nset key top left reverse Left", f);
    }
    fputs("\nunset arrow", f);
    for (int v = 0; v < pn[p].nvlines; v++)
        fprintf(f, "\nset arrow from %.10g, graph 0 to %.10g, graph 1 nohead dt 2 lc rgb '#555555'",
                pn[p].vlines[v], pn[p].vlines[v]);
    fputs("\nplot ", f);
    for (int i = 0; i < pn[p].nseries; i++) {
        const splitee_plot_series *s = &pn[p].series[i];
        const char *lc = splitee_plot_colour(s->name);
        const int dt = dash_type(s->name);
        char d[48];
        snprintf(d, sizeof d, "$d%d_%d_%d", fig, p, i);
        if (sp->bands)
            fprintf(f, "%s using 1:3:4 with filledcurves lc rgb '%s' notitle, ", d, lc);
        if (s->name && strcmp(s->name, DIAGONAL) == 0)
            fprintf(f, "%s using 1:2 with lines lc rgb '%s' lw 1.5 dt %d title ", d, lc, dt);
        else if (sp->points == 1)
            fprintf(f, "%s using 1:2:3:4 with yerrorbars lc rgb '%s' pt 7 ps 0.6 notitle, "
                       "%s using 1:2 with lines lc rgb '%s' lw 2 dt %d title ", d, lc, d, lc, dt);
        else if (sp->points == 2)
            fprintf(f, "%s using 1:2:3:4 with yerrorbars lc rgb '%s' pt 7 ps 0.8 title ", d, lc);
        else
            fprintf(f, "%s using 1:2 with lines lc rgb '%s' lw 2 dt %d title ", d, lc, dt);
        put_quoted(f, s->name ? s->name : "");
        fputs(i + 1 < pn[p].nseries ? ", \\\n     " : "\n", f);
    }
}

static void put_render(FILE *f, const char *terminal, const char *out, int fig,
                       const figure *g)
{
    /* four panels (static and dynamic regret) go two by two */
    const int npanels = g->npanels, rows = npanels == 4 ? 2 : 1, cols = npanels / rows;
    const int lab = npanels == 1 && labelled(&g->panels[0]);
    fprintf(f, "set terminal %s size %d,%d\nset output ", terminal,
            lab ? LW : 560 * cols + 80, lab ? LH : 540 * rows);
    put_quoted(f, out);
    fputc('\n', f);
    if (npanels > 1) {
        fprintf(f, "set multiplot layout %d,%d title ", rows, cols);
        put_quoted(f, g->title);
        fputc('\n', f);
    }
    for (int p = 0; p < npanels; p++)
        put_panel(f, fig, g->panels, p);
    if (npanels > 1)
        fputs("unset multiplot\n", f);
    fputs("unset output\n", f);
}

/* ------------------------------------------------------------ running --- */

static char *str_cat(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 1);
    if (s) {
        memcpy(s, a, la);
        memcpy(s + la, b, lb + 1);
    }
    return s;
}

static void figure_free(figure *g)
{
    if (g->made) {
        remove(g->svg_tmp);
        remove(g->png_tmp);
    }
    free(g->path);
    free(g->svg);
    free(g->png);
    free(g->svg_tmp);
    free(g->png_tmp);
    memset(g, 0, sizeof *g);
}

/* Names the figure's files and creates its temporaries (so that an output
 * that cannot be written is reported under its own name before gnuplot
 * runs). Takes ownership of path. */
static int figure_open(figure *g, char *path, splitee_error *err)
{
    memset(g, 0, sizeof *g);
    g->path = path;
    if (!path)
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "figure: out of memory");
    char sfx[32];
    snprintf(sfx, sizeof sfx, ".tmp%ld", (long)getpid());
    g->svg = str_cat(path, ".svg");
    g->png = str_cat(path, ".png");
    g->svg_tmp = g->svg ? str_cat(g->svg, sfx) : NULL;
    g->png_tmp = g->png ? str_cat(g->png, sfx) : NULL;
    if (!g->svg_tmp || !g->png_tmp)
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", path);
    const char *tmp[2] = { g->svg_tmp, g->png_tmp }, *out[2] = { g->svg, g->png };
    for (int i = 0; i < 2; i++) {
        FILE *t = fopen(tmp[i], "w");
        if (!t || fclose(t) != 0) {
            int e = errno;
            if (i == 1 || t)
                g->made = 1;   /* remove what was made */
            return splitee__fail(err, SPLITEE_ERR_IO, "%s: cannot write: %s", out[i], strerror(e));
        }
        g->made = 1;
    }
    return 0;
}

/* The last non-empty line of gnuplot's messages, without the name of the
 * program it read ("/dev/stdin" line 5: ... -> line 5: ...). */
static void last_message(FILE *msgs, char *buf, size_t len)
{
    char line[512];
    buf[0] = '\0';
    rewind(msgs);
    while (fgets(line, sizeof line, msgs)) {
        char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        s[strcspn(s, "\r\n")] = '\0';
        if (!*s || strcmp(s, "^") == 0)
            continue;
        if (strncmp(s, "\"/dev/stdin\" ", 13) == 0)
            s += 13;
        size_t n = strlen(s);
        n = n < len ? n : len - 1;
        memcpy(buf, s, n);
        buf[n] = '\0';
    }
}

/* Runs `gnuplot /dev/stdin` on the program in `prog` with its output into
 * `msgs`; returns its exit status, or -1 if it could not be run. */
static int run_gnuplot(FILE *prog, FILE *msgs)
{
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0)
        return -1;
    pid_t pid;
    char *argv[] = { "gnuplot", "/dev/stdin", NULL };
    int rc = posix_spawn_file_actions_adddup2(&fa, fileno(prog), 0) ||
             posix_spawn_file_actions_adddup2(&fa, fileno(msgs), 1) ||
             posix_spawn_file_actions_adddup2(&fa, fileno(msgs), 2) ||
             posix_spawnp(&pid, "gnuplot", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return -1;
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* Draws figs (panels set) into their temporaries with one gnuplot run. */
static int draw_batch(figure *figs, int nfig, splitee_error *err)
{
    const char *who = figs[0].svg;
    FILE *prog = tmpfile(), *msgs = tmpfile();
    int st = 0;
    if (!prog || !msgs) {
        st = splitee__fail(err, SPLITEE_ERR_IO, "%s: cannot make the gnuplot program: %s", who,
                           strerror(errno));
        goto out;
    }
    fputs("set encoding utf8\nset grid lc rgb '#dddddd'\n"
          "set style fill transparent solid 0.18 noborder\nset border lc rgb '#444444'\n", prog);
    for (int i = 0; i < nfig; i++)
        put_datablocks(prog, i, figs[i].panels, figs[i].npanels);
    for (int i = 0; i < nfig; i++) {
        put_render(prog, "svg dynamic noenhanced background rgb 'white' font 'sans,12'",
                   figs[i].svg_tmp, i, &figs[i]);
        put_render(prog, "pngcairo noenhanced background rgb 'white' font 'sans,10'",
                   figs[i].png_tmp, i, &figs[i]);
    }
    if (fflush(prog) != 0 || ferror(prog) || fseek(prog, 0, SEEK_SET) != 0) {
        st = splitee__fail(err, SPLITEE_ERR_IO, "%s: cannot make the gnuplot program", who);
        goto out;
    }
    int rc = run_gnuplot(prog, msgs);
    if (rc < 0) {
        st = splitee__fail(err, SPLITEE_ERR_IO, "%s: cannot run gnuplot (install gnuplot-nox)", who);
    } else if (rc != 0) {
        char msg[256];
        last_message(msgs, msg, sizeof msg);
        st = splitee__fail(err, SPLITEE_ERR_IO, "%s: gnuplot failed to draw the figure%s%s", who,
                           msg[0] ? ": " : "", msg);
    }
out:
    if (prog)
        fclose(prog);
    if (msgs)
        fclose(msgs);
    return st;
}

/* Renames every figure's temporaries onto its outputs. */
static int commit(figure *figs, int nfig, splitee_error *err)
{
    for (int i = 0; i < nfig; i++) {
        if (rename(figs[i].svg_tmp, figs[i].svg) != 0)
            return splitee__fail(err, SPLITEE_ERR_IO, "%s: cannot write: %s", figs[i].svg,
                                 strerror(errno));
        if (rename(figs[i].png_tmp, figs[i].png) != 0)
            return splitee__fail(err, SPLITEE_ERR_IO, "%s: cannot write: %s", figs[i].png,
                                 strerror(errno));
        figs[i].made = 0;
    }
    return 0;
}

int splitee_plot(const char *prefix, const splitee_plot_spec *spec,
                 const splitee_plot_series *series, int nseries, splitee_error *err)
{
    if (nseries < 1)
        return splitee__fail(err, SPLITEE_ERR_ARG, "%s: nothing to plot", prefix);
    panel pn = { spec, series, nseries, NULL, 0 };
    figure g;
    char *path = malloc(strlen(prefix) + 1);
    if (path)
        strcpy(path, prefix);
    int st = figure_open(&g, path, err);
    if (st == 0) {
        g.panels = &pn;
        g.npanels = 1;
        st = draw_batch(&g, 1, err);
    }
    if (st == 0)
        st = commit(&g, 1, err);
    figure_free(&g);
    return st;
}

int splitee_plot_calibration(const char *prefix, const char *title, const char *name, size_t n,
                             const double *eps, const double *risk, const double *risk_lo,
                             const double *risk_hi, const double *saved, splitee_error *err)
{
    if (n < 1)
        return splitee__fail(err, SPLITEE_ERR_ARG, "%s: nothing to plot", prefix);
    double *pct = malloc(n * sizeof *pct);
    char *path = malloc(strlen(prefix) + 1);
    if (!pct || !path) {
        free(pct);
        free(path);
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", prefix);
    }
    strcpy(path, prefix);
    for (size_t k = 0; k < n; k++)
        pct[k] = 100 * saved[k];
    /* the diagonal over the plotted range of epsilon */
    const splitee_plot_series left[2] = { { name, n, eps, risk, risk_lo, risk_hi, NULL },
                                          { DIAGONAL, n, eps, eps, NULL, NULL, NULL } };
    const splitee_plot_series right[1] = { { name, n, eps, pct, NULL, NULL, NULL } };
    const splitee_plot_spec sl = { "Test risk against the target ε", "ε (target risk)",
                                   "test risk (mean; bars: 10%-90% of the splits)", 0, 1,
                                   SPLITEE_PLOT_SCALE_LINEAR };
    const splitee_plot_spec sr = { "Saving against ε", "ε (target risk)",
                                   "layers saved (% of always running the last exit)", 0, 1,
                                   SPLITEE_PLOT_SCALE_LINEAR };
    const panel pn[2] = { { &sl, left, 2, NULL, 0 }, { &sr, right, 1, NULL, 0 } };
    figure g;
    int st = figure_open(&g, path, err);
    if (st == 0) {
        snprintf(g.title, sizeof g.title, "%s", title ? title : "");
        g.panels = pn;
        g.npanels = 2;
        st = draw_batch(&g, 1, err);
    }
    if (st == 0)
        st = commit(&g, 1, err);
    figure_free(&g);
    free(pct);
    return st;
}

/* ---------------------------------------------------------- settings --- */

enum { P_ALPHA, P_LAMBDA, P_MU, P_OFFLOAD, P_BETA, NPARAMS };
static const char *const PARAM_KEY[NPARAMS] = { "alpha", "lambda", "mu", "o", "beta" };
static const char *const PARAM_SYM[NPARAMS] = { "α", "λ", "μ", "o", "β" };

static double param(const splitee_setting *s, int k)
{
    switch (k) {
    case P_ALPHA: return s->reward.alpha;
    case P_LAMBDA: return s->reward.lambda;
    case P_MU: return s->reward.mu;
    case P_OFFLOAD: return s->reward.offload;
    default: return s->beta;
    }
}

/* 1 if a per-layer vector replaced parameter k (lambda or o): a NaN value
 * says so too (splitee plot reads an empty CSV cell as NaN). */
static int per_layer(const splitee_setting *s, int k)
{
    if (k == P_LAMBDA)
        return s->reward.layer_cost != NULL || isnan(s->reward.lambda);
    if (k == P_OFFLOAD)
        return s->reward.offload_cost != NULL || isnan(s->reward.offload);
    return 0;
}

static int same_param(const splitee_setting *a, const splitee_setting *b, int k)
{
    if (per_layer(a, k) || per_layer(b, k))
        return per_layer(a, k) == per_layer(b, k);
    return param(a, k) == param(b, k);
}

/* Bit k set when parameter k differs across the results. */
static unsigned varying(const splitee_result *res, int nres)
{
    unsigned m = 0;
    for (int k = 0; k < NPARAMS; k++)
        for (int i = 1; i < nres; i++)
            if (!same_param(&res[0].setting, &res[i].setting, k)) {
                m |= 1u << k;
                break;
            }
    return m;
}

/* "α 0.8, λ 0.1, ..." of the parameters in mask, into buf; a scheduled o
 * (a link) is said to be one, with its mean. */
static void describe(char *buf, size_t len, const splitee_setting *s, unsigned mask, int scheduled)
{
    size_t o = 0;
    buf[0] = '\0';
    for (int k = 0; k < NPARAMS; k++) {
        if (!(mask & (1u << k)) || o >= len)
            continue;
        int n;
        if (per_layer(s, k))
            n = snprintf(buf + o, len - o, "%sper-layer %s costs", o ? ", " : "",
                         k == P_LAMBDA ? "device" : "offload");
        else if (k == P_OFFLOAD && scheduled)
            n = snprintf(buf + o, len - o, "%so from the link (mean %.4g)", o ? ", " : "", param(s, k));
        else
            n = snprintf(buf + o, len - o, "%s%s %.4g", o ? ", " : "", PARAM_SYM[k], param(s, k));
        o += n > 0 ? (size_t)n : 0;
    }
}

/* "-alpha0.7-o0.1" of the parameters in mask, into buf. */
static void name_suffix(char *buf, size_t len, const splitee_setting *s, unsigned mask)
{
    size_t o = 0;
    buf[0] = '\0';
    for (int k = 0; k < NPARAMS; k++) {
        if (!(mask & (1u << k)) || o >= len)
            continue;
        char v[SPLITEE__NUM_LEN];
        int n = snprintf(buf + o, len - o, "-%s%s", PARAM_KEY[k],
                         per_layer(s, k) ? "-per-layer" : splitee__fmt_double(v, sizeof v, param(s, k)));
        o += n > 0 ? (size_t)n : 0;
    }
}

#define SUFFIX_LEN (NPARAMS * (8 + SPLITEE__NUM_LEN))

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* 1 if the suffixes of mask tell every result apart (-1: out of memory). */
static int suffixes_distinct(const splitee_result *res, int nres, unsigned mask)
{
    if (!mask)
        return 0;
    char *buf = malloc((size_t)nres * SUFFIX_LEN);
    char **p = malloc((size_t)nres * sizeof *p);
    int ok = buf && p ? 1 : -1;
    for (int i = 0; ok > 0 && i < nres; i++) {
        p[i] = buf + (size_t)i * SUFFIX_LEN;
        name_suffix(p[i], SUFFIX_LEN, &res[i].setting, mask);
    }
    if (ok > 0) {
        qsort(p, (size_t)nres, sizeof *p, cmp_str);
        for (int i = 1; i < nres && ok > 0; i++)
            ok = strcmp(p[i - 1], p[i]) != 0;
    }
    free(buf);
    free(p);
    return ok;
}

/* The regret figure's name given whether suffixes tell settings apart. */
static int regret_name(const char *prefix, const splitee_result *res, int nres, int setting,
                       unsigned mask, int distinct, char *buf, size_t len)
{
    char sfx[SUFFIX_LEN];
    if (nres == 1)
        sfx[0] = '\0';
    else if (distinct)
        name_suffix(sfx, sizeof sfx, &res[setting].setting, mask);
    else
        snprintf(sfx, sizeof sfx, "-s%d", setting + 1);
    int n = snprintf(buf, len, "%s-regret%s", prefix, sfx);
    return n < 0 || (size_t)n >= len ? SPLITEE_ERR_NOMEM : 0;
}

int splitee_plot_regret_name(const char *prefix, const splitee_result *res, int nres,
                             int setting, char *buf, size_t len)
{
    if (!res || nres < 1 || setting < 0 || setting >= nres)
        return SPLITEE_ERR_ARG;
    const unsigned mask = varying(res, nres);
    const int distinct = nres > 1 ? suffixes_distinct(res, nres, mask) : 1;
    if (distinct < 0)
        return SPLITEE_ERR_NOMEM;
    return regret_name(prefix, res, nres, setting, mask, distinct, buf, len);
}

/* ----------------------------------------------------- regret figures --- */

/* 1 if the means of the n series go as far below zero as a tenth of their
 * height above it (and below -1): regret that is negative in earnest (a
 * policy that follows a changing o beats the best fixed layer), which a
 * linear axis shows best. A little negative regret beside large positive
 * regret (ee-threshold under a costly o, say) stays on the symlog axis. */
static int negative_in_earnest(const splitee_plot_series *s, int n)
{
    double lo = 0, hi = 0;
    for (int i = 0; i < n; i++)
        for (size_t k = 0; k < s[i].n; k++)
            if (isfinite(s[i].y[k])) {
                lo = fmin(lo, s[i].y[k]);
                hi = fmax(hi, s[i].y[k]);
            }
    return lo < -1.0 && -lo > 0.1 * hi;
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
        out[p] = (splitee_plot_series){ r->policies[p].name, (size_t)nck, rounds, y, lo, hi, NULL };
    }
}

/* What one regret figure draws from, alive while its batch is drawn. */
typedef struct regret_data {
    double *rounds, *buf;
    splitee_plot_series *s;
    splitee_plot_spec spec[4];
    panel pn[4];
    double vl[SPLITEE_MAX_SEGMENTS];
} regret_data;

static void regret_data_free(regret_data *d)
{
    free(d->rounds);
    free(d->buf);
    free(d->s);
    memset(d, 0, sizeof *d);
}

static const char *const SYMLOG_LABEL = "cumulative regret (log scale above 1, linear below)";

/* Fills d and g's panels and title for result r. */
static int regret_prepare(const splitee_result *r, regret_data *d, figure *g, splitee_error *err)
{
    const int np = r->npolicies, nck = r->checkpoints;
    memset(d, 0, sizeof *d);
    for (int p = 0; p < np; p++)
        if (!r->policies[p].curves)
            return splitee__fail(err, SPLITEE_ERR_ARG, "%s: no curves were kept to plot", g->svg);
    if (np < 1 || nck < 1)
        return splitee__fail(err, SPLITEE_ERR_ARG, "%s: nothing to plot", g->svg);
    /* with shifts: static regret (which may go negative: linear axis) over
     * dynamic regret against each segment's best layer, shifts marked */
    const int dyn = r->segments > 1, npanels = dyn ? 4 : 2;
    d->rounds = malloc((size_t)nck * sizeof *d->rounds);
    d->buf = malloc((size_t)npanels * np * 3 * nck * sizeof *d->buf);
    d->s = malloc((size_t)npanels * np * sizeof *d->s);
    if (!d->rounds || !d->buf || !d->s)
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", g->svg);
    int nvl = 0;
    for (int k = 1; dyn && r->segment && k < r->segments; k++)
        d->vl[nvl++] = (double)r->segment[k].start;
    static const int kinds[4] = { SPLITEE_CURVE_PSEUDO_REGRET, SPLITEE_CURVE_REALIZED_REGRET,
                                  SPLITEE_CURVE_DYNAMIC_PSEUDO_REGRET,
                                  SPLITEE_CURVE_DYNAMIC_REALIZED_REGRET };
    static const char *const titles[2][4] = {
        { "Pseudo regret", "Realized regret (same samples)", NULL, NULL },
        { "Static pseudo regret (best fixed layer)", "Static realized regret (same samples)",
          "Dynamic pseudo regret (best layer of each segment)", "Dynamic realized regret" },
    };
    for (int q = 0; q < npanels; q++) {
        curve_series(r, kinds[q], d->rounds, d->buf + (size_t)q * np * 3 * nck, d->s + q * np);
        /* a log-like axis: baselines with linear regret would flatten the
         * learners. Symlog rather than log, so that zero regret (the
         * oracle) is drawn at zero, not on a floor */
        d->spec[q] = (splitee_plot_spec){ titles[dyn][q], "round", SYMLOG_LABEL, 1, 0,
                                          SPLITEE_PLOT_SCALE_SYMLOG };
        d->pn[q] = (panel){ &d->spec[q], d->s + q * np, np, d->vl, nvl };
    }
    /* static regret under shifts, and regret that is negative in earnest,
     * read best on a linear axis */
    if (dyn || negative_in_earnest(d->s, np) || negative_in_earnest(d->s + np, np))
        for (int q = 0; q < 2; q++) {
            d->spec[q].ylabel = "cumulative regret";
            d->spec[q].yscale = SPLITEE_PLOT_SCALE_LINEAR;
        }
    g->panels = d->pn;
    g->npanels = npanels;
    char params[256];
    describe(params, sizeof params, &r->setting, (1u << NPARAMS) - 1, r->offload_scheduled);
    int o = snprintf(g->title, sizeof g->title, "%s: mean and 95%% CI", params);
    if (r->repetitions > 0 && o > 0 && (size_t)o < sizeof g->title)
        snprintf(g->title + o, sizeof g->title - (size_t)o, " over %d repetitions", r->repetitions);
    return 0;
}

/* Figures drawn per gnuplot run (bounds the memory a long sweep needs). */
#define BATCH 8

int splitee_plot_regrets(const char *prefix, const splitee_result *res, int nres,
                         int setting, splitee_error *err)
{
    if (!res || nres < 1)
        return splitee__fail(err, SPLITEE_ERR_ARG, "%s: nothing to plot", prefix);
    if (setting < -1 || setting >= nres)
        return splitee__fail(err, SPLITEE_ERR_ARG, "%s: setting %d is not one of the %d settings",
                             prefix, setting + 1, nres);
    const unsigned mask = varying(res, nres);
    const int distinct = nres > 1 ? suffixes_distinct(res, nres, mask) : 1;
    const int first = setting < 0 ? 0 : setting, nfig = setting < 0 ? nres : 1;
    figure *figs = calloc((size_t)nfig, sizeof *figs);
    size_t plen = strlen(prefix) + 16 + SUFFIX_LEN;
    int st = 0;
    if (!figs || distinct < 0)
        st = splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", prefix);
    for (int i = 0; st == 0 && i < nfig; i++) {
        char *path = malloc(plen);
        if (path)
            regret_name(prefix, res, nres, first + i, mask, distinct, path, plen);
        st = figure_open(&figs[i], path, err);
    }
    regret_data d[BATCH];
    for (int b = 0; st == 0 && b < nfig; b += BATCH) {
        const int n = nfig - b < BATCH ? nfig - b : BATCH;
        int ready = 0;
        while (st == 0 && ready < n) {   /* d[ready] is freeable even on failure */
            st = regret_prepare(&res[first + b + ready], &d[ready], &figs[b + ready], err);
            ready++;
        }
        if (st == 0)
            st = draw_batch(&figs[b], n, err);
        for (int i = 0; i < ready; i++)
            regret_data_free(&d[i]);
    }
    if (st == 0)
        st = commit(figs, nfig, err);
    for (int i = 0; figs && i < nfig; i++)
        figure_free(&figs[i]);
    free(figs);
    return st;
}

int splitee_plot_regret(const char *prefix, const splitee_result *r, splitee_error *err)
{
    return splitee_plot_regrets(prefix, r, 1, 0, err);
}

/* ------------------------------------------------------- sweep figure --- */

/* Labels the points of series s (one per result) with the swept values;
 * consecutive points that coincide share one label ("0.1–0.6"), and a
 * label that another series already put at about the same place (2% of
 * the ranges) is left out. texts holds nres * LABEL_LEN bytes. */
#define LABEL_LEN 96
static void sweep_labels(const splitee_result *res, int nres, unsigned mask,
                         splitee_plot_series *s, int p, char *texts,
                         const char **labels, const double range[2])
{
    for (int i = 0; i < nres; i++) {
        char *t = texts + (size_t)i * LABEL_LEN;
        labels[i] = t;
        size_t o = 0;
        t[0] = '\0';
        for (int k = 0; k < NPARAMS; k++) {
            if (!(mask & (1u << k)) || o >= LABEL_LEN)
                continue;
            int n = per_layer(&res[i].setting, k)
                        ? snprintf(t + o, LABEL_LEN - o, "%sper-layer", o ? ", " : "")
                        : snprintf(t + o, LABEL_LEN - o, "%s%.4g", o ? ", " : "",
                                   param(&res[i].setting, k));
            o += n > 0 ? (size_t)n : 0;
        }
    }
    const splitee_plot_series *me = &s[p];
    for (int i = 0; i < nres;) {
        int j = i + 1;
        while (j < nres && me->x[j] == me->x[i] && me->y[j] == me->y[i])
            j++;
        if (j - i == nres && strchr(labels[i], ',')) {   /* a grid, all in one place */
            snprintf(texts + (size_t)i * LABEL_LEN, LABEL_LEN, "all");
            for (int k = i + 1; k < j; k++)
                labels[k] = "";
        } else if (j > i + 1) {   /* a run of one place: "first–last" on the first */
            char *t = texts + (size_t)i * LABEL_LEN;
            char last[LABEL_LEN / 2];
            snprintf(last, sizeof last, "%.40s", labels[j - 1]);
            size_t o = strlen(t);
            if (o + 4 + strlen(last) < LABEL_LEN)
                snprintf(t + o, LABEL_LEN - o, "–%.40s", last);
            for (int k = i + 1; k < j; k++)
                labels[k] = "";
        }
        i = j;
    }
    for (int i = 0; i < nres; i++)
        for (int q = 0; q < p && labels[i][0]; q++)
            for (int k = 0; k < nres; k++)
                if (s[q].labels[k][0] && strcmp(s[q].labels[k], labels[i]) == 0 &&
                    fabs(s[q].x[k] - me->x[i]) <= 0.02 * range[0] &&
                    fabs(s[q].y[k] - me->y[i]) <= 0.02 * range[1]) {
                    labels[i] = "";
                    break;
                }
}

int splitee_plot_sweep(const char *prefix, const splitee_result *res, int nres,
                       splitee_error *err)
{
    if (!res || nres < 1 || res[0].npolicies < 1)
        return splitee__fail(err, SPLITEE_ERR_ARG, "%s: nothing to plot", prefix);
    const int np = res[0].npolicies;
    double *buf = malloc((size_t)np * 4 * nres * sizeof *buf);
    splitee_plot_series *s = malloc((size_t)np * sizeof *s);
    char *texts = malloc((size_t)np * nres * LABEL_LEN);
    const char **labels = malloc((size_t)np * nres * sizeof *labels);
    size_t plen = strlen(prefix) + 16;
    char *name = malloc(plen);
    int st = 0;
    if (!buf || !s || !texts || !labels || !name) {
        st = splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", prefix);
        goto out;
    }
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    for (int p = 0; p < np; p++) {
        double *x = buf + (size_t)p * 4 * nres, *y = x + nres, *lo = y + nres, *hi = lo + nres;
        for (int i = 0; i < nres; i++) {
            x[i] = res[i].policies[p].cost.mean;
            y[i] = 100 * res[i].policies[p].accuracy.mean;
            lo[i] = 100 * res[i].policies[p].accuracy.lo;
            hi[i] = 100 * res[i].policies[p].accuracy.hi;
            if (isfinite(x[i]) && isfinite(y[i])) {
                xmin = fmin(xmin, x[i]);
                xmax = fmax(xmax, x[i]);
                ymin = fmin(ymin, y[i]);
                ymax = fmax(ymax, y[i]);
            }
        }
        s[p] = (splitee_plot_series){ res[0].policies[p].name, (size_t)nres, x, y, lo, hi, NULL };
    }
    const unsigned mask = varying(res, nres);
    const double range[2] = { xmax > xmin ? xmax - xmin : 1, ymax > ymin ? ymax - ymin : 1 };
    for (int p = 0; p < np && mask; p++) {
        sweep_labels(res, nres, mask, s, p, texts + (size_t)p * nres * LABEL_LEN,
                     labels + (size_t)p * nres, range);
        s[p].labels = labels + (size_t)p * nres;
    }
    /* the swept parameters, then every other one */
    char swept[64] = "", rest[256], title[512];
    int nswept = 0;
    for (int k = 0; k < NPARAMS; k++)
        if (mask & (1u << k)) {
            size_t o = strlen(swept);
            snprintf(swept + o, sizeof swept - o, "%s%s", nswept++ ? ", " : "", PARAM_SYM[k]);
        }
    describe(rest, sizeof rest, &res[0].setting, ((1u << NPARAMS) - 1) & ~mask, res[0].offload_scheduled);
    int o = snprintf(title, sizeof title, "Accuracy against cost across the sweep");
    if (nswept == 1)
        o += snprintf(title + o, sizeof title - (size_t)o, ", each point labelled with its %s", swept);
    else if (nswept > 1)
        o += snprintf(title + o, sizeof title - (size_t)o, ", points labelled (%s)", swept);
    o += snprintf(title + o, sizeof title - (size_t)o, "\n%s%smean and 95%% CI", rest,
                  rest[0] ? "; " : "");
    if (res[0].repetitions > 0 && o > 0 && (size_t)o < sizeof title)
        snprintf(title + o, sizeof title - (size_t)o, " over %d repetitions", res[0].repetitions);
    /* along one parameter a policy's points are joined in order; across
     * a grid of several the order means nothing */
    splitee_plot_spec spec = { title, "average cost per sample", "accuracy (%)", 0,
                               nswept > 1 ? 2 : 1, SPLITEE_PLOT_SCALE_LINEAR };
    snprintf(name, plen, "%s-sweep", prefix);
    st = splitee_plot(name, &spec, s, np, err);
out:
    free(buf);
    free(s);
    free(texts);
    free(labels);
    free(name);
    return st;
}

int splitee_plot_replay(const char *prefix, const splitee_result *res, int nres,
                        splitee_error *err)
{
    if (!res || nres < 1)
        return splitee__fail(err, SPLITEE_ERR_ARG, "%s: nothing to plot", prefix);
    int st = splitee_plot_regrets(prefix, res, nres, -1, err);
    if (st == 0 && nres > 1 && res[0].has_labels)
        st = splitee_plot_sweep(prefix, res, nres, err);
    return st;
}
