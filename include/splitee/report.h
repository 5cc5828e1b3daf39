/* report.h -- replay results as a terminal table, JSON, CSV, curves and
 * per-round traces.
 *
 * Writers print to a FILE* so that callers choose where bytes go; the CLI
 * writes each report into memory first (open_memstream) and commits it with
 * splitee_file_write_atomic, so a failed run leaves no partial file.
 *
 *     splitee_report_table(stdout, res, nres);
 *     char *buf; size_t len;
 *     FILE *m = open_memstream(&buf, &len);
 *     splitee_report_json(m, res, nres, &meta);
 *     fclose(m);
 *     splitee_file_write_atomic("out.json", buf, len, &err);
 */
#ifndef SPLITEE_REPORT_H
#define SPLITEE_REPORT_H

#include <stdio.h>
#include <time.h>
#include "replay.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What the JSON report records about how the results were made. */
typedef struct splitee_report_meta {
    const char *logits_path;      /* the table's logits file */
    const char *labels_path;      /* its labels file, or NULL */
    splitee_confidence confidence;
    const splitee_replay_config *replay;
    splitee_side_info side_info;
    const char *command_line;     /* may be NULL */
    const char *date;             /* when the run was made, UTC ISO-8601
                                     ("2026-01-31T12:00:00Z", from
                                     splitee_report_utc_date), or NULL */
    const char *link_path;        /* link profile file the offloading costs
                                     came from, or NULL */
    const char *link_name;        /* that profile's name, or NULL */
} splitee_report_meta;

/* Writes time t as UTC ISO-8601 "YYYY-MM-DDTHH:MM:SSZ" into buf (len >=
 * 21). Returns 0, or SPLITEE_ERR_ARG when buf is too short or t cannot be
 * represented. */
int splitee_report_utc_date(time_t t, char *buf, size_t len);

/* Aligned, human-readable table: one block per setting, one row per policy
 * (accuracy, average cost, cost reduction and accuracy change vs `final`,
 * offload %, learned layer, pseudo and realized regret at T; mean +- 95% CI
 * half-width). Returns 0, or SPLITEE_ERR_IO if writing failed. */
int splitee_report_table(FILE *f, const splitee_result *res, int nres);

/* Everything as one JSON document: meta (tool, version SPLITEE_VERSION,
 * date, command, inputs, repetitions, seed as a number, link profile), and
 * per setting the parameters, fixed-arm means, the best arm, the final-exit
 * baseline and per policy every metric (mean, lo, hi, sd; rates and
 * changes as fractions), arm plays and the exit-layer histogram. A
 * setting's "lambda" is null when a per-layer cost vector replaced it
 * ("layer_cost" then holds it), its "offload" null when a per-layer offload
 * vector did. Numbers are in their shortest round-trip form; non-finite
 * ones are null. Layers are 1-based in every report. Reads
 * res[i].setting.reward.layer_cost, which must still be valid. */
int splitee_report_json(FILE *f, const splitee_result *res, int nres,
                        const splitee_report_meta *meta);

/* The table as CSV: one row per (setting, policy), with the setting's
 * parameters and every metric's mean, lo and hi, in the table's units and
 * named with them: accuracy (fraction), cost, reward, offload_rate_pct,
 * cost_reduction_pct (%), accuracy_change_pp (percentage points),
 * pseudo_regret, realized_regret, learned_layer (1-based),
 * learned_share_pct. The lambda cell is empty when a per-layer cost vector
 * replaced lambda, the offload cell when a per-layer offload vector
 * replaced o. Numbers in their shortest round-trip form ("nan" without
 * labels). */
int splitee_report_csv(FILE *f, const splitee_result *res, int nres);

/* Curves as CSV: one row per (setting, policy, checkpoint) with the
 * setting's parameters (as in splitee_report_csv), the round and mean/lo/hi
 * of pseudo regret, realized regret, running accuracy (fraction) and
 * running cost. Results without curves are skipped. */
int splitee_report_curves(FILE *f, const splitee_result *res, int nres);

/* Per-round CSV of the traced repetition (first setting, repetition 0):
 * policy, round, sample, layer, outcome (exit|offload), exit layer,
 * reward, cost, correct. Returns SPLITEE_ERR_ARG if no trace was kept. */
int splitee_report_trace(FILE *f, const splitee_result *res);

/* Writes `len` bytes to `path` through a temporary file in the same folder
 * and a rename, so `path` is either untouched or complete. */
int splitee_file_write_atomic(const char *path, const void *data, size_t len,
                              splitee_error *err);

#ifdef __cplusplus
}
#endif
#endif
