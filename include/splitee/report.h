/* report.h -- replay results as a terminal table, JSON, CSV, curves and
 * per-round traces.
 *
 * Writers print to a FILE* so that callers choose where bytes go; the CLI
 * writes each report into memory first (open_memstream) and commits it with
 * splitee_file_write_atomic (file.h), so a failed run leaves no partial file.
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
#include "file.h"
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

/* ---- the live device: per-round log and summary (report_device.c) ----
 *
 * What `splitee device` writes (docs/LIVE.md): one JSON object per round
 * (a JSON-lines log), the summary as JSON, and the summary as text. Every
 * number round-trips (the shortest of %.15g, %.16g, %.17g that reads back
 * exactly), except measured times, which keep their clock's precision
 * (device_us, rtt_us, cloud_us to 0.1 us, controller_ns to 1 ns);
 * non-finite numbers are written as null.
 *
 *     splitee_report_device_log *log;
 *     splitee_report_device_log_create(&log, &err);
 *     for (...) {
 *         splitee_device_step(d, px, label, rng, &r, &err);
 *         splitee_report_device_log_write(log, f, &r, k, NULL);
 *     }
 *     splitee_report_device_log_free(log);
 *     splitee_device_summarize(d, &s);
 *     splitee_report_device_text(stdout, &s);
 */

struct splitee_round;           /* device.h */
struct splitee_device_summary;  /* device.h */
struct splitee_transfer;        /* link.h */

/* A per-round record writer: the JSON object built once with cJSON and
 * refilled every round, so writing allocates nothing. */
typedef struct splitee_report_device_log splitee_report_device_log; /* opaque */

/* Makes a record writer (NOMEM on failure, *out NULL). */
int splitee_report_device_log_create(splitee_report_device_log **out, splitee_error *err);

/* Frees the writer. NULL is a no-op. */
void splitee_report_device_log_free(splitee_report_device_log *l);

/* Writes round `r` as one line of JSON to f: round, sample (`sample`: the
 * image's index in its data set), layer (arm + 1), outcome, exit (1-based),
 * prediction, label and correct (null when r->label < 0), conf, conf_final,
 * cost, reward, offload_cost, bytes, device_us, rtt_us, cloud_us, link_s,
 * controller_ns, reconnects, note; and, when `link` is not NULL (the
 * transfer a link priced this round), link_ms, energy_mJ, losses.
 * Returns 0, or IO if writing to f failed. */
int splitee_report_device_log_write(splitee_report_device_log *l, FILE *f,
                                    const struct splitee_round *r, long sample,
                                    const struct splitee_transfer *link);

/* How a device run was made, for its JSON summary. */
typedef struct splitee_report_device_meta {
    const char *command_line;     /* the command that ran, or NULL (null) */
    const char *date;             /* "YYYY-mm-ddTHH:MM:SSZ" (UTC); NULL: now */
    const splitee_policy_config *policy; /* its display name is written */
    const char *encoding;         /* payload encoding name ("f32", ...) */
    const char *link;             /* link profile path, or NULL (null) */
    const splitee_reward *reward; /* the device's reward model (splitee_device_reward) */
} splitee_report_device_meta;

/* The summary as one JSON document (and a newline): tool ("splitee
 * device"), version (SPLITEE_VERSION), command, date, policy, encoding,
 * link, reward {alpha, mu, gamma, offload per layer}, counts {samples,
 * exited, offloaded, fallback}, accuracy, avg_cost, avg_reward,
 * offload_rate, learned_layer, layer_plays, timing {controller_ns_mean,
 * controller_ns_p50, controller_ns_max, device_us_mean, rtt_us_mean,
 * cloud_us_mean}, regret {best_layer, pseudo, realized} (null without
 * eval), curves {round, accuracy, cost, pseudo_regret, realized_regret}.
 * Layers are 1-based. Returns 0, ARG (meta or its policy or reward
 * missing), NOMEM, or IO if writing failed. */
int splitee_report_device_json(FILE *f, const struct splitee_device_summary *s,
                               const splitee_report_device_meta *meta);

/* The summary as text, the lines `splitee device` prints: counts,
 * accuracy (with labels), average cost and reward, offload rate, the
 * learned layer and plays per layer, regret (with eval), controller and
 * engine times and the offload round trip. Returns 0, or IO. */
int splitee_report_device_text(FILE *f, const struct splitee_device_summary *s);

#ifdef __cplusplus
}
#endif
#endif
