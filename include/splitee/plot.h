/* plot.h -- line plots with shaded 95% bands, through gnuplot.
 *
 * splitee draws its figures (regret curves, the sweep's cost-accuracy
 * trade-off) by writing a gnuplot program with the data inline and running
 * `gnuplot` on it; each figure is produced as PREFIX.svg and PREFIX.png.
 * Outputs are written to temporary names beside them and renamed only when
 * gnuplot has drawn every figure of the call; error messages name the
 * figure (PREFIX.svg), never a temporary.
 *
 * Every series is drawn in the colour of its name (splitee_plot_colour): a
 * policy has the same colour in every figure, whichever policies are
 * plotted with it. Baselines (final, random, oracle, ee-threshold,
 * fixed:K) are dashed, learning policies solid.
 *
 *     splitee_plot_series s = { "splitee", n, rounds, mean, lo, hi, NULL };
 *     splitee_plot_spec spec = { "Pseudo regret", "round", "regret", 1, 0,
 *                                SPLITEE_PLOT_SCALE_SYMLOG };
 *     if (splitee_plot("out/regret", &spec, &s, 1, &err) < 0) ...
 */
#ifndef SPLITEE_PLOT_H
#define SPLITEE_PLOT_H

#include <stddef.h>
#include "replay.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct splitee_plot_series {
    const char *name;         /* key entry; picks the colour */
    size_t n;
    const double *x, *y;      /* (n) */
    const double *lo, *hi;    /* (n) band, or NULL */
    const char *const *labels;/* (n) text beside each point ("" none), or NULL */
} splitee_plot_series;

typedef enum splitee_plot_scale {
    SPLITEE_PLOT_SCALE_LINEAR = 0,
    SPLITEE_PLOT_SCALE_SYMLOG   /* y drawn as asinh(y): linear within +-1,
                             logarithmic beyond, so zero (an oracle's
                             regret) and negative values are drawn where
                             they are, ticks at 0, +-1, +-10, ... */
} splitee_plot_scale;

typedef struct splitee_plot_spec {
    const char *title, *xlabel, *ylabel;  /* the title may hold "\n" */
    int bands;    /* 1: shade lo..hi around each line */
    int points;   /* 0: lines; 1: points with lo..hi bars joined by lines
                     (a sweep along one parameter); 2: points and bars alone */
    splitee_plot_scale yscale;
} splitee_plot_spec;

/* The colour ("#rrggbb") series `name` is drawn in: a fixed table for
 * every policy splitee knows (fixed:K by K), a stable hash of the name for
 * any other. Never NULL. */
const char *splitee_plot_colour(const char *name);

/* Draws the series into PREFIX.svg and PREFIX.png. Fails with IO if gnuplot
 * cannot be run or reports an error, or an output cannot be written
 * (message names PREFIX.svg and the reason), ARG on empty input. */
int splitee_plot(const char *prefix, const splitee_plot_spec *spec,
                 const splitee_plot_series *series, int nseries,
                 splitee_error *err);

/* The replay figures: splitee_plot_regrets(prefix, res, nres, -1) and,
 * when nres > 1 and the results have labels, splitee_plot_sweep. Requires
 * curves. */
int splitee_plot_replay(const char *prefix, const splitee_result *res, int nres,
                        splitee_error *err);

/* Regret figures of the settings of a sweep: setting = -1 draws one figure
 * per setting, setting = i (0-based) that of res[i] alone. Each figure has
 * pseudo and realized regret of every policy (95% bands; with shifts,
 * static over dynamic regret, four panels), titled with every parameter of
 * its setting, and is named as splitee_plot_regret_name says. ARG when a
 * result has no curves or setting is out of range. */
int splitee_plot_regrets(const char *prefix, const splitee_result *res, int nres,
                         int setting, splitee_error *err);

/* The name (without .svg/.png) of res[setting]'s regret figure, into buf:
 * PREFIX-regret for a single setting (nres == 1); with several, the
 * parameters that differ across them, each as a key and its shortest
 * round-trip value, e.g. PREFIX-regret-o0.3 or PREFIX-regret-alpha0.7-o0.1
 * (keys alpha, lambda, mu, o, beta); PREFIX-regret-sN (N = setting + 1)
 * when those do not tell the settings apart. Returns 0, ARG (setting out
 * of range) or NOMEM (buf too short, or out of memory). */
int splitee_plot_regret_name(const char *prefix, const splitee_result *res, int nres,
                             int setting, char *buf, size_t len);

/* PREFIX-regret.{svg,png} of one result with curves. */
int splitee_plot_regret(const char *prefix, const splitee_result *r, splitee_error *err);

/* PREFIX-sweep.{svg,png}: accuracy against average cost, one point per
 * setting and policy with CI bars, each labelled with the value(s) of the
 * swept parameter(s) (the parameters that differ across the results);
 * along one parameter a policy's points are joined in order. The title
 * names the swept parameters and every other one. Reads only each
 * result's setting, repetitions and each policy's name, cost.mean and
 * accuracy (mean, lo, hi); policies must line up. */
int splitee_plot_sweep(const char *prefix, const splitee_result *res, int nres,
                       splitee_error *err);

/* PREFIX.svg and PREFIX.png: a risk-control evaluation against the target
 * risk epsilon (splitee calibrate --epsilons --plot), two panels. Left: the
 * test risk (risk[k], with bars risk_lo[k]..risk_hi[k], e.g. the splits'
 * 10% and 90% quantiles) against eps[k], and the diagonal risk = epsilon,
 * which a method that keeps its guarantee stays under. Right: the share of
 * layers saved (saved[k] in [0, 1], drawn in %) against eps[k]. `name`
 * (the method) picks the colour and the key; `title` goes over both
 * panels. n >= 1 points, eps ascending; NaN points are left out. ARG on
 * empty input; as splitee_plot otherwise. */
int splitee_plot_calibration(const char *prefix, const char *title, const char *name, size_t n,
                             const double *eps, const double *risk, const double *risk_lo,
                             const double *risk_hi, const double *saved, splitee_error *err);

#ifdef __cplusplus
}
#endif
#endif
