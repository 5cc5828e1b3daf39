/* report_device.c -- what `splitee device` writes (report.h): the
 * per-round JSON-lines record, the JSON summary and the text summary.
 * Everything JSON goes through cJSON: strings are escaped by it, numbers
 * are formatted here so that they round-trip, as raw cJSON items. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cjson/cJSON.h>

#include "core/internal.h"
#include "core/numfmt.h"
#include "splitee/splitee.h"

#define NUM_CAP SPLITEE__NUM_LEN

/* x as JSON text into buf[NUM_CAP]: its shortest round-trip form
 * (core/numfmt.h), or "null" when x is not finite. */
static void fmt_num(char *buf, double x)
{
    if (!isfinite(x))
        strcpy(buf, "null");
    else
        splitee__fmt_double(buf, NUM_CAP, x);
}

/* A measured time rounded to 1/per of its unit (0.1 us, 1 ns): the
 * nearest double to that decimal, so it prints short. */
static double round_to(double x, double per)
{
    return isfinite(x) ? round(x * per) / per : x;
}

/* A raw cJSON item that prints buf as it stands (cJSON never frees it). */
static cJSON *raw_ref(const char *buf)
{
    cJSON *i = cJSON_CreateStringReference(buf);
    if (i)
        i->type = cJSON_Raw | cJSON_IsReference;
    return i;
}

/* ---- the per-round record ----------------------------------------------- */

enum {
    F_ROUND, F_SAMPLE, F_LAYER, F_OUTCOME, F_EXIT, F_PREDICTION, F_LABEL, F_CORRECT, F_CONF,
    F_CONF_FINAL, F_COST, F_REWARD, F_OFFLOAD_COST, F_BYTES, F_DEVICE_US, F_RTT_US, F_CLOUD_US,
    F_LINK_S, F_CONTROLLER_NS, F_RECONNECTS, F_NOTE, NFIELDS,
    L_LINK_MS = 0, L_ENERGY_MJ, L_LOSSES, NLINK
};

static const char *const FIELD[NFIELDS] = {
    "round", "sample", "layer", "outcome", "exit", "prediction", "label", "correct", "conf",
    "conf_final", "cost", "reward", "offload_cost", "bytes", "device_us", "rtt_us", "cloud_us",
    "link_s", "controller_ns", "reconnects", "note"
};
static const char *const LINK_FIELD[NLINK] = { "link_ms", "energy_mJ", "losses" };

struct splitee_report_device_log {
    cJSON *obj;                   /* the record; its values point into the buffers below */
    cJSON *link[NLINK];           /* the link fields, in obj only while attached */
    int attached;
    char num[NFIELDS][NUM_CAP];   /* each field's value as JSON text */
    char link_num[NLINK][NUM_CAP];
    char outcome[16];
    char note[sizeof ((struct splitee_round *)0)->note];
    char line[4096];              /* the printed record */
};

int splitee_report_device_log_create(splitee_report_device_log **out, splitee_error *err)
{
    *out = NULL;
    splitee_report_device_log *l = calloc(1, sizeof *l);
    if (!l || !(l->obj = cJSON_CreateObject())) {
        free(l);
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "device log: out of memory");
    }
    int ok = 1;
    for (int k = 0; k < NFIELDS; k++) {
        strcpy(l->num[k], "null");
        cJSON *v = k == F_OUTCOME ? cJSON_CreateStringReference(l->outcome)
                   : k == F_NOTE  ? cJSON_CreateStringReference(l->note)
                                  : raw_ref(l->num[k]);
        ok = ok && v && cJSON_AddItemToObjectCS(l->obj, FIELD[k], v);
        if (v && !ok)
            cJSON_Delete(v);
    }
    for (int k = 0; k < NLINK; k++) {
        strcpy(l->link_num[k], "null");
        ok = ok && (l->link[k] = raw_ref(l->link_num[k])) != NULL;
    }
    if (!ok) {
        splitee_report_device_log_free(l);
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "device log: out of memory");
    }
    *out = l;
    return 0;
}

void splitee_report_device_log_free(splitee_report_device_log *l)
{
    if (!l)
        return;
    cJSON_Delete(l->obj);   /* with the link fields if attached */
    for (int k = 0; k < NLINK && !l->attached; k++)
        cJSON_Delete(l->link[k]);
    free(l);
}

/* Attaches (at the end, in order) or detaches the link fields. */
static void set_link_fields(splitee_report_device_log *l, int on)
{
    if (on == l->attached)
        return;
    for (int k = 0; k < NLINK; k++) {
        if (on)
            cJSON_AddItemToObjectCS(l->obj, LINK_FIELD[k], l->link[k]);
        else
            cJSON_DetachItemViaPointer(l->obj, l->link[k]);
    }
    l->attached = on;
}

int splitee_report_device_log_write(splitee_report_device_log *l, FILE *f,
                                    const splitee_round *r, long sample,
                                    const splitee_transfer *link)
{
    char(*n)[NUM_CAP] = l->num;
    fmt_num(n[F_ROUND], (double)r->index);
    fmt_num(n[F_SAMPLE], (double)sample);
    fmt_num(n[F_LAYER], r->arm + 1);
    snprintf(l->outcome, sizeof l->outcome, "%s", splitee_round_outcome_name(r->outcome));
    fmt_num(n[F_EXIT], r->exit + 1);
    fmt_num(n[F_PREDICTION], r->prediction);
    fmt_num(n[F_LABEL], r->label >= 0 ? r->label : NAN);
    strcpy(n[F_CORRECT], r->label < 0 ? "null" : r->prediction == r->label ? "true" : "false");
    fmt_num(n[F_CONF], r->conf_arm);
    fmt_num(n[F_CONF_FINAL], r->conf_final);
    fmt_num(n[F_COST], r->cost);
    fmt_num(n[F_REWARD], r->reward);
    fmt_num(n[F_OFFLOAD_COST], r->offload_cost);
    fmt_num(n[F_BYTES], (double)r->payload_bytes);
    fmt_num(n[F_DEVICE_US], round_to(r->device_us, 10));
    fmt_num(n[F_RTT_US], round_to(r->rtt_us, 10));
    fmt_num(n[F_CLOUD_US], round_to(r->cloud_us, 10));
    fmt_num(n[F_LINK_S], r->link_s);
    fmt_num(n[F_CONTROLLER_NS], round_to(r->controller_ns, 1));
    fmt_num(n[F_RECONNECTS], r->reconnects);
    snprintf(l->note, sizeof l->note, "%s", r->note);
    if (link) {
        fmt_num(l->link_num[L_LINK_MS], link->latency_ms);
        fmt_num(l->link_num[L_ENERGY_MJ], link->energy_mJ);
        fmt_num(l->link_num[L_LOSSES], link->losses);
    }
    set_link_fields(l, link != NULL);
    /* the record fits: 24 fields of at most ~40 bytes and a 255-byte note
     * escaped to at most 6 bytes a byte */
    if (!cJSON_PrintPreallocated(l->obj, l->line, (int)sizeof l->line - 8, 0))
        return SPLITEE_ERR_OVERFLOW;
    fputs(l->line, f);
    fputc('\n', f);
    return ferror(f) ? SPLITEE_ERR_IO : 0;
}

/* ---- the JSON summary ------------------------------------------------------ */

static cJSON *num(double x)
{
    return splitee__json_number(x);
}

static cJSON *num_array(const double *x, int n, size_t stride)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++)
        cJSON_AddItemToArray(a, num(x[(size_t)i * stride]));
    return a;
}

static cJSON *str_or_null(const char *s)
{
    return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

static cJSON *summary_json(const splitee_device_summary *s, const splitee_report_device_meta *m)
{
    cJSON *j = cJSON_CreateObject();
    char date[32], pol[64];
    if (!m->date) {
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    splitee_policy_display_name(m->policy, pol, sizeof pol);
    cJSON_AddStringToObject(j, "tool", "splitee device");
    cJSON_AddStringToObject(j, "version", SPLITEE_VERSION);
    cJSON_AddItemToObject(j, "command", str_or_null(m->command_line));
    cJSON_AddStringToObject(j, "date", m->date ? m->date : date);
    cJSON_AddStringToObject(j, "policy", pol);
    cJSON_AddItemToObject(j, "encoding", str_or_null(m->encoding));
    cJSON_AddItemToObject(j, "link", str_or_null(m->link));
    const splitee_reward *rw = m->reward;
    cJSON *p = cJSON_AddObjectToObject(j, "reward");
    cJSON_AddItemToObject(p, "alpha", num(rw->alpha));
    cJSON_AddItemToObject(p, "mu", num(rw->mu));
    cJSON_AddItemToObject(p, "gamma", num_array(rw->gamma, rw->arms, 1));
    cJSON_AddItemToObject(p, "offload", num_array(rw->offload, rw->arms, 1));
    cJSON *c = cJSON_AddObjectToObject(j, "counts");
    cJSON_AddItemToObject(c, "samples", num((double)s->samples));
    cJSON_AddItemToObject(c, "exited", num((double)s->exited));
    cJSON_AddItemToObject(c, "offloaded", num((double)s->offloaded));
    cJSON_AddItemToObject(c, "fallback", num((double)s->fallback));
    /* why the fallbacks happened (summing to fallback), and each cloud's share */
    cJSON *fr = cJSON_AddObjectToObject(j, "fallback_reasons");
    for (int k = SPLITEE_FALLBACK_NO_CLOUD; k < SPLITEE_FALLBACK_REASON_COUNT; k++)
        cJSON_AddItemToObject(fr, splitee_fallback_reason_name((splitee_fallback_reason)k),
                              num((double)s->fallback_by[k]));
    cJSON *cl = cJSON_AddArrayToObject(j, "clouds");
    for (int i = 0; i < s->nclouds; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "address", s->clouds[i].address);
        cJSON_AddItemToObject(o, "offloaded", num((double)s->clouds[i].offloaded));
        cJSON_AddItemToObject(o, "failures", num((double)s->clouds[i].failures));
        cJSON_AddItemToObject(o, "connects", num((double)s->clouds[i].connects));
        cJSON_AddItemToArray(cl, o);
    }
    /* what the clouds' metrics count, from this side (docs/LIVE.md, Metrics) */
    cJSON *mt = cJSON_AddObjectToObject(j, "metrics");
    cJSON_AddItemToObject(mt, "requests", num((double)s->offloaded));
    cJSON *er = cJSON_AddObjectToObject(mt, "errors");
    for (int k = SPLITEE_FALLBACK_CONNECT; k <= SPLITEE_FALLBACK_BAD_REPLY; k++)
        cJSON_AddItemToObject(er, splitee_fallback_reason_name((splitee_fallback_reason)k),
                              num((double)s->errors_by[k]));
    cJSON *hs = cJSON_AddObjectToObject(mt, "service_seconds");
    double le[SPLITEE_LATENCY_BUCKETS], cum[SPLITEE_LATENCY_BUCKETS + 1];
    long run = 0;
    for (int k = 0; k <= SPLITEE_LATENCY_BUCKETS; k++) {
        if (k < SPLITEE_LATENCY_BUCKETS)
            le[k] = splitee_latency_bounds()[k];
        run += s->service_buckets[k];
        cum[k] = (double)run;
    }
    cJSON_AddItemToObject(hs, "le", num_array(le, SPLITEE_LATENCY_BUCKETS, 1));
    cJSON_AddItemToObject(hs, "buckets", num_array(cum, SPLITEE_LATENCY_BUCKETS + 1, 1));
    cJSON_AddItemToObject(hs, "sum", num(s->service_s));
    cJSON_AddItemToObject(hs, "count", num((double)run));
    cJSON_AddItemToObject(j, "accuracy", num(s->accuracy));
    cJSON_AddItemToObject(j, "avg_cost", num(s->avg_cost));
    cJSON_AddItemToObject(j, "avg_reward", num(s->avg_reward));
    cJSON_AddItemToObject(j, "offload_rate", num(s->offload_rate));
    cJSON_AddItemToObject(j, "learned_layer", num(s->learned_arm + 1));
    double plays[SPLITEE_MAX_EXITS];
    for (int a = 0; a < s->arms; a++)
        plays[a] = (double)s->arm_plays[a];
    cJSON_AddItemToObject(j, "layer_plays", num_array(plays, s->arms, 1));
    cJSON *t = cJSON_AddObjectToObject(j, "timing");
    cJSON_AddItemToObject(t, "controller_ns_mean", num(s->controller_ns_mean));
    cJSON_AddItemToObject(t, "controller_ns_p50", num(s->controller_ns_p50));
    cJSON_AddItemToObject(t, "controller_ns_max", num(s->controller_ns_max));
    cJSON_AddItemToObject(t, "device_us_mean", num(s->device_us_mean));
    cJSON_AddItemToObject(t, "rtt_us_mean", num(s->rtt_us_mean));
    cJSON_AddItemToObject(t, "cloud_us_mean", num(s->cloud_us_mean));
    if (s->has_regret) {
        cJSON *r = cJSON_AddObjectToObject(j, "regret");
        cJSON_AddItemToObject(r, "best_layer", num(s->best_arm + 1));
        cJSON_AddItemToObject(r, "pseudo", num(s->pseudo_regret));
        cJSON_AddItemToObject(r, "realized", num(s->realized_regret));
    } else {
        cJSON_AddNullToObject(j, "regret");
    }
    cJSON *cv = cJSON_AddObjectToObject(j, "curves");
    static const char *const names[5] = { "round", "accuracy", "cost", "pseudo_regret", "realized_regret" };
    for (int k = 0; k < 5; k++)
        cJSON_AddItemToObject(cv, names[k], num_array(s->curve ? s->curve + k : NULL,
                                                      s->curve ? s->checkpoints : 0, 5));
    return j;
}

int splitee_report_device_json(FILE *f, const splitee_device_summary *s,
                               const splitee_report_device_meta *meta)
{
    if (!s || !meta || !meta->policy || !meta->reward)
        return SPLITEE_ERR_ARG;
    cJSON *j = summary_json(s, meta);
    char *text = j ? cJSON_Print(j) : NULL;
    cJSON_Delete(j);
    if (!text)
        return SPLITEE_ERR_NOMEM;
    fputs(text, f);
    fputc('\n', f);
    cJSON_free(text);
    return ferror(f) ? SPLITEE_ERR_IO : 0;
}

/* ---- the text summary ------------------------------------------------------ */

int splitee_report_device_text(FILE *f, const splitee_device_summary *s)
{
    fprintf(f, "samples %ld: exited %ld, offloaded %ld, fallback %ld\n", s->samples, s->exited,
            s->offloaded, s->fallback);
    if (isfinite(s->accuracy))
        fprintf(f, "accuracy %.4f (%ld/%ld)\n", s->accuracy, s->correct, s->labelled);
    fprintf(f, "average cost %.4f, average reward %.4f, offload rate %.1f%%\n", s->avg_cost,
            s->avg_reward, 100 * s->offload_rate);
    fprintf(f, "learned layer %d; plays per layer:", s->learned_arm + 1);
    for (int a = 0; a < s->arms; a++)
        fprintf(f, " %ld", s->arm_plays[a]);
    fputc('\n', f);
    if (s->has_regret)
        fprintf(f, "regret vs best fixed layer %d: pseudo %.3f, realized %.3f\n", s->best_arm + 1,
                s->pseudo_regret, s->realized_regret);
    fprintf(f, "controller %.0f ns/round (median %.0f, max %.0f); device engine %.1f us/sample",
            s->controller_ns_mean, s->controller_ns_p50, s->controller_ns_max, s->device_us_mean);
    if (isfinite(s->rtt_us_mean))
        fprintf(f, "; offload round trip %.1f us (cloud compute %.1f us)", s->rtt_us_mean, s->cloud_us_mean);
    fputc('\n', f);
    if (s->nclouds > 1) {
        fprintf(f, "clouds:");
        for (int i = 0; i < s->nclouds; i++)
            fprintf(f, "%s %s offloaded %ld (failures %ld)", i ? "," : "", s->clouds[i].address,
                    s->clouds[i].offloaded, s->clouds[i].failures);
        fputc('\n', f);
    }
    if (s->nclouds > 0 && s->fallback > 0) {
        fprintf(f, "fallback reasons:");
        int first = 1;
        for (int k = SPLITEE_FALLBACK_NO_CLOUD; k < SPLITEE_FALLBACK_REASON_COUNT; k++)
            if (s->fallback_by[k]) {
                fprintf(f, "%s %s %ld", first ? "" : ",",
                        splitee_fallback_reason_name((splitee_fallback_reason)k), s->fallback_by[k]);
                first = 0;
            }
        fputc('\n', f);
    }
    return ferror(f) ? SPLITEE_ERR_IO : 0;
}
