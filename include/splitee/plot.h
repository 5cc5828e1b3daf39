/* plot.h -- line plots with shaded 95% bands, through gnuplot.
 *
 * splitee draws its figures (regret curves, the sweep's cost-accuracy
 * trade-off) by writing a gnuplot program with the data inline and running
 * `gnuplot` on it; each figure is produced as PREFIX.svg and PREFIX.png.
 * Outputs are written to temporary names and renamed only when gnuplot
 * succeeds.
 *
 *     splitee_plot_series s = { "splitee", n, rounds, mean, lo, hi };
 *     splitee_plot_spec spec = { "Pseudo regret", "round", "regret", 1, 0 };
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
    const char *name;
    size_t n;
    const double *x, *y;      /* (n) */
    const double *lo, *hi;    /* (n) band, or NULL */
} splitee_plot_series;

typedef struct splitee_plot_spec {
    const char *title, *xlabel, *ylabel;
    int bands;    /* 1: shade lo..hi around each line */
    int points;   /* 1: mark points (sweeps) rather than plain lines */
    double logy_floor; /* > 0: logarithmic y axis; values below are drawn
                          at this floor (so zero regret stays visible) */
} splitee_plot_spec;

/* Draws the series into PREFIX.svg and PREFIX.png. Fails with IO if gnuplot
 * cannot be run or reports an error (message names gnuplot and the output),
 * ARG on empty input. */
int splitee_plot(const char *prefix, const splitee_plot_spec *spec,
                 const splitee_plot_series *series, int nseries,
                 splitee_error *err);

/* The replay figures: PREFIX-regret.{svg,png} (pseudo and realized regret of
 * every policy of the first setting, two panels, 95% bands) and, when
 * nres > 1, PREFIX-sweep.{svg,png} (accuracy against average cost, one line
 * per policy through the settings, with CI bars). Requires curves. */
int splitee_plot_replay(const char *prefix, const splitee_result *res, int nres,
                        splitee_error *err);

/* PREFIX-regret.{svg,png} alone, for one result with curves. */
int splitee_plot_regret(const char *prefix, const splitee_result *r, splitee_error *err);

/* PREFIX-sweep.{svg,png} alone: reads only each policy's name, cost.mean and
 * accuracy (mean, lo, hi) of every result; policies must line up. */
int splitee_plot_sweep(const char *prefix, const splitee_result *res, int nres,
                       splitee_error *err);

#ifdef __cplusplus
}
#endif
#endif
