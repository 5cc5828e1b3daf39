/* link_json.c -- link profiles (JSON) and bandwidth traces (`time_s Mbit/s`
 * lines or Mahimahi packet timestamps) into a splitee_link. Every error is
 * one line naming the file (and the line of a trace) and the problem; an
 * unknown key is an error, so a typo never silently falls back to a
 * default. Format: docs/LINKS.md. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "core/internal.h"
#include "link_internal.h"

#define MAX_PROFILE_BYTES (1 << 20)
#define MAX_TRACE_BYTES (64 << 20)

/* ----------------------------------------------------------- traces --- */

/* Next line of text (NUL-terminated in place), or NULL at the end. */
static char *next_line(char **cur)
{
    char *s = *cur;
    if (!s || !*s)
        return NULL;
    char *e = strchr(s, '\n');
    if (e) {
        *e = '\0';
        *cur = e + 1;
    } else {
        *cur = s + strlen(s);
    }
    size_t len = strlen(s);
    if (len && s[len - 1] == '\r')
        s[len - 1] = '\0';
    return s;
}

static int blank(const char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    return *s == '\0' || *s == '#';
}

/* Growable pair of arrays. */
typedef struct series {
    double *t, *r;
    size_t n, cap;
} series;

static int push(series *s, double t, double r)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 256;
        double *nt = realloc(s->t, cap * sizeof *nt);
        if (!nt)
            return -1;
        s->t = nt;
        double *nr = realloc(s->r, cap * sizeof *nr);
        if (!nr)
            return -1;
        s->r = nr;
        s->cap = cap;
    }
    s->t[s->n] = t;
    s->r[s->n] = r;
    s->n++;
    return 0;
}

static int parse_mbps(char *text, const char *name, series *s, double *period,
                      splitee_error *err)
{
    char *cur = text, *line;
    int lineno = 0;
    double t0 = 0, prev = 0;
    while ((line = next_line(&cur))) {
        lineno++;
        if (blank(line))
            continue;
        char *end;
        errno = 0;
        double t = strtod(line, &end);
        if (end == line)
            return splitee__fail(err, SPLITEE_ERR_FORMAT, "%s:%d: expected `time_s Mbit/s`", name, lineno);
        char *p2 = end;
        double r = strtod(p2, &end);
        if (end == p2)
            return splitee__fail(err, SPLITEE_ERR_FORMAT, "%s:%d: expected `time_s Mbit/s`", name, lineno);
        if (!blank(end))
            return splitee__fail(err, SPLITEE_ERR_FORMAT, "%s:%d: unexpected text after two numbers", name, lineno);
        if (!isfinite(t) || !isfinite(r))
            return splitee__fail(err, SPLITEE_ERR_VALUE, "%s:%d: not a finite number", name, lineno);
        if (r < 0)
            return splitee__fail(err, SPLITEE_ERR_VALUE, "%s:%d: negative throughput %g Mbit/s", name, lineno, r);
        if (s->n == 0)
            t0 = t;
        else if (t <= prev)
            return splitee__fail(err, SPLITEE_ERR_FORMAT, "%s:%d: time %g is not after the previous line's %g",
                                 name, lineno, t, prev);
        prev = t;
        if (push(s, t - t0, r) < 0)
            return splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", name);
    }
    if (s->n == 0)
        return splitee__fail(err, SPLITEE_ERR_VALUE, "%s: empty trace (no `time_s Mbit/s` lines)", name);
    double gap = s->n > 1 ? s->t[s->n - 1] / (double)(s->n - 1) : 1.0;
    *period = s->t[s->n - 1] + gap;
    return SPLITEE_OK;
}

/* Mbit/s of `count` 1500-byte packets in a bin `width_ms` wide. */
static double bin_mbps(double count, double width_ms)
{
    return count * 1500.0 * 8.0 / (width_ms / 1e3) / 1e6;
}

/* Mahimahi: one whole millisecond per line, a 1500-byte delivery
 * opportunity at that time, non-decreasing. Packets are counted in bins of
 * bin_ms from 0 to the period (the last timestamp; a timestamp equal to it
 * falls in the last bin) and the rates become a piecewise-constant series
 * with one point per non-empty bin and one zero-rate point where a run of
 * empty bins starts: memory and time grow with the lines, never with the
 * timestamps' size. */
static int parse_mahimahi(char *text, double bin_ms, const char *name, series *s,
                          double *period, splitee_error *err)
{
    if (!(isfinite(bin_ms) && bin_ms >= 1 && bin_ms <= 3.6e6))
        return splitee__fail(err, SPLITEE_ERR_VALUE,
                             "%s: bin_ms must be in [1, 3600000] (timestamps are whole milliseconds), got %g",
                             name, bin_ms);
    char *cur = text, *line;
    int lineno = 0;
    long long last = -1, count = 0;
    /* Pass 1: check every line and find the period. */
    char *copy = strdup(text);
    if (!copy)
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", name);
    cur = copy;
    while ((line = next_line(&cur))) {
        lineno++;
        if (blank(line))
            continue;
        char *end;
        errno = 0;
        long long ms = strtoll(line, &end, 10);
        if (end == line || !blank(end) || errno == ERANGE) {
            free(copy);
            return splitee__fail(err, SPLITEE_ERR_FORMAT,
                                 "%s:%d: expected one integer (a millisecond) per line", name, lineno);
        }
        if (ms < 0 || ms < last || ms > 1000000000000LL) {
            free(copy);
            return splitee__fail(err, SPLITEE_ERR_FORMAT,
                                 "%s:%d: timestamp %lld is negative, before %lld or past 10^12 ms", name,
                                 lineno, ms, last);
        }
        last = ms;
        count++;
    }
    free(copy);
    if (count == 0)
        return splitee__fail(err, SPLITEE_ERR_VALUE, "%s: empty trace (no packet timestamps)", name);
    const double period_ms = last < 1 ? 1.0 : (double)last;
    const double nb = ceil(period_ms / bin_ms);   /* bins, <= 10^12: exact in a double */
    /* Pass 2: one point per non-empty bin, a zero point before each gap. */
    double bin = -1, next = 0, in_bin = 0;   /* current bin, first bin not yet emitted */
    cur = text;
    for (;;) {
        line = next_line(&cur);
        while (line && blank(line))
            line = next_line(&cur);
        double b = -1;
        if (line) {
            b = floor((double)strtoll(line, NULL, 10) / bin_ms);
            if (b > nb - 1)
                b = nb - 1;
            if (b == bin) {
                in_bin += 1;
                continue;
            }
        }
        if (bin >= 0) {   /* bin is complete: emit it */
            if (bin > next && push(s, next * bin_ms / 1e3, 0.0) < 0)
                return splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", name);
            double width = fmin(bin_ms, period_ms - bin * bin_ms);
            if (push(s, bin * bin_ms / 1e3, bin_mbps(in_bin, width)) < 0)
                return splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", name);
            next = bin + 1;
        }
        if (!line)
            break;
        bin = b;
        in_bin = 1;
    }
    *period = period_ms / 1e3;
    return SPLITEE_OK;
}

int splitee_link_parse_trace(const char *text, splitee_trace_format fmt, double bin_ms,
                             const char *name, double **times_s, double **rates_mbps,
                             size_t *n, double *period_s, splitee_error *err)
{
    *times_s = *rates_mbps = NULL;
    *n = 0;
    char *buf = strdup(text);
    if (!buf)
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", name);
    series s = { 0 };
    int st = fmt == SPLITEE_TRACE_FORMAT_MAHIMAHI ? parse_mahimahi(buf, bin_ms, name, &s, period_s, err)
                                           : parse_mbps(buf, name, &s, period_s, err);
    free(buf);
    if (st < 0) {
        free(s.t);
        free(s.r);
        return st;
    }
    *times_s = s.t;
    *rates_mbps = s.r;
    *n = s.n;
    return SPLITEE_OK;
}

/* ---------------------------------------------------------- profile --- */

typedef struct jctx {
    const char *file;
    splitee_error *err;
} jctx;

/* Rejects keys of obj not in `allowed` (NULL-terminated). */
static int only_keys(jctx *c, const cJSON *obj, const char *where, const char *const *allowed)
{
    for (const cJSON *it = obj->child; it; it = it->next) {
        int ok = 0;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(it->string, *a) == 0;
        if (!ok)
            return splitee__fail(c->err, SPLITEE_ERR_FORMAT, "%s: unknown field \"%s\"%s%s", c->file,
                                 it->string, where[0] ? " in " : "", where);
    }
    return SPLITEE_OK;
}

/* Reads an optional number field into *v (left alone when absent);
 * `required` makes absence an error. */
static int num(jctx *c, const cJSON *obj, const char *key, double *v, int required)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!it) {
        if (required)
            return splitee__fail(c->err, SPLITEE_ERR_FORMAT, "%s: missing field \"%s\"", c->file, key);
        return SPLITEE_OK;
    }
    if (!cJSON_IsNumber(it))
        return splitee__fail(c->err, SPLITEE_ERR_FORMAT, "%s: field \"%s\" must be a number", c->file, key);
    if (!isfinite(it->valuedouble))
        return splitee__fail(c->err, SPLITEE_ERR_VALUE, "%s: field \"%s\" is not a finite number", c->file, key);
    *v = it->valuedouble;
    return SPLITEE_OK;
}

static int str(jctx *c, const cJSON *obj, const char *key, const char **v)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!it)
        return SPLITEE_OK;
    if (!cJSON_IsString(it))
        return splitee__fail(c->err, SPLITEE_ERR_FORMAT, "%s: field \"%s\" must be a string", c->file, key);
    *v = it->valuestring;
    return SPLITEE_OK;
}

static int object(jctx *c, const cJSON *root, const char *key, const cJSON **out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, key);
    *out = NULL;
    if (it && !cJSON_IsObject(it))
        return splitee__fail(c->err, SPLITEE_ERR_FORMAT, "%s: field \"%s\" must be an object", c->file, key);
    *out = it;
    return SPLITEE_OK;
}

static int parse_loss(jctx *c, const cJSON *l, splitee_link_params *p)
{
    static const char *const keys[] = { "model", "p", "r", "1-h", "1-k", NULL };
    const char *model = NULL;
    int st;
    if ((st = only_keys(c, l, "\"loss\"", keys)) < 0 || (st = str(c, l, "model", &model)) < 0)
        return st;
    if (!model)
        return splitee__fail(c->err, SPLITEE_ERR_FORMAT, "%s: missing field \"model\" in \"loss\"", c->file);
    if (strcmp(model, "none") == 0) {
        p->loss = SPLITEE_LOSS_MODEL_NONE;
        return SPLITEE_OK;
    }
    if (strcmp(model, "random") == 0) {
        p->loss = SPLITEE_LOSS_MODEL_RANDOM;
        return num(c, l, "p", &p->loss_p, 1);
    }
    if (strcmp(model, "gilbert-elliott") == 0 || strcmp(model, "gemodel") == 0) {
        p->loss = SPLITEE_LOSS_MODEL_GILBERT_ELLIOTT;
        p->ge_1_h = 1.0;   /* netem defaults: lose everything in bad, */
        p->ge_1_k = 0.0;   /* nothing in good */
        if ((st = num(c, l, "p", &p->loss_p, 1)) < 0 || (st = num(c, l, "r", &p->ge_r, 1)) < 0 ||
            (st = num(c, l, "1-h", &p->ge_1_h, 0)) < 0 || (st = num(c, l, "1-k", &p->ge_1_k, 0)) < 0)
            return st;
        return SPLITEE_OK;
    }
    return splitee__fail(c->err, SPLITEE_ERR_FORMAT,
                         "%s: unknown loss model \"%s\" (none, random, gilbert-elliott)", c->file, model);
}

static int parse_radio_model(jctx *c, const char *s, splitee_radio_model *m)
{
    if (strcmp(s, "lte") == 0)
        *m = SPLITEE_RADIO_MODEL_LTE;
    else if (strcmp(s, "3g") == 0 || strcmp(s, "umts") == 0)
        *m = SPLITEE_RADIO_MODEL_3G;
    else if (strcmp(s, "wifi") == 0)
        *m = SPLITEE_RADIO_MODEL_WIFI;
    else if (strcmp(s, "none") == 0)
        *m = SPLITEE_RADIO_MODEL_NONE;
    else
        return splitee__fail(c->err, SPLITEE_ERR_FORMAT,
                             "%s: unknown radio model \"%s\" (lte, 3g, wifi, none)", c->file, s);
    return SPLITEE_OK;
}

static int parse_radio(jctx *c, const cJSON *root, splitee_radio_params *r)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, "radio");
    splitee_radio_model m;
    int st;
    if (!it) {
        splitee_radio_params_default(r, SPLITEE_RADIO_MODEL_NONE);
        return SPLITEE_OK;
    }
    if (cJSON_IsString(it)) {
        if ((st = parse_radio_model(c, it->valuestring, &m)) < 0)
            return st;
        splitee_radio_params_default(r, m);
        return SPLITEE_OK;
    }
    if (!cJSON_IsObject(it))
        return splitee__fail(c->err, SPLITEE_ERR_FORMAT,
                             "%s: field \"radio\" must be a model name or an object", c->file);
    static const char *const keys[] = { "model", "alpha_up_mW", "alpha_down_mW", "beta_mW",
                                        "wait_mW", "promotion_s", "promotion_mW", "tail", NULL };
    const char *model = NULL;
    if ((st = only_keys(c, it, "\"radio\"", keys)) < 0 || (st = str(c, it, "model", &model)) < 0)
        return st;
    if (!model)
        return splitee__fail(c->err, SPLITEE_ERR_FORMAT, "%s: missing field \"model\" in \"radio\"", c->file);
    if ((st = parse_radio_model(c, model, &m)) < 0)
        return st;
    splitee_radio_params_default(r, m);
    if ((st = num(c, it, "alpha_up_mW", &r->alpha_up_mW, 0)) < 0 ||
        (st = num(c, it, "alpha_down_mW", &r->alpha_down_mW, 0)) < 0 ||
        (st = num(c, it, "beta_mW", &r->beta_mW, 0)) < 0 ||
        (st = num(c, it, "wait_mW", &r->wait_mW, 0)) < 0 ||
        (st = num(c, it, "promotion_s", &r->promotion_s, 0)) < 0 ||
        (st = num(c, it, "promotion_mW", &r->promotion_mW, 0)) < 0)
        return st;
    const cJSON *tail = cJSON_GetObjectItemCaseSensitive(it, "tail");
    if (tail) {
        if (!cJSON_IsArray(tail) || cJSON_GetArraySize(tail) > SPLITEE_LINK_MAX_TAIL)
            return splitee__fail(c->err, SPLITEE_ERR_FORMAT,
                                 "%s: \"tail\" must be an array of at most %d phases", c->file,
                                 SPLITEE_LINK_MAX_TAIL);
        static const char *const tkeys[] = { "s", "mW", "resume_s", "resume_mW", NULL };
        r->ntail = 0;
        const cJSON *ph;
        cJSON_ArrayForEach(ph, tail) {
            splitee_tail_phase *t = &r->tail[r->ntail++];
            memset(t, 0, sizeof *t);
            if (!cJSON_IsObject(ph))
                return splitee__fail(c->err, SPLITEE_ERR_FORMAT, "%s: a \"tail\" phase must be an object", c->file);
            if ((st = only_keys(c, ph, "a \"tail\" phase", tkeys)) < 0 ||
                (st = num(c, ph, "s", &t->s, 1)) < 0 || (st = num(c, ph, "mW", &t->mW, 1)) < 0 ||
                (st = num(c, ph, "resume_s", &t->resume_s, 0)) < 0 ||
                (st = num(c, ph, "resume_mW", &t->resume_mW, 0)) < 0)
                return st;
        }
    }
    return SPLITEE_OK;
}

/* Joins dir and a relative path into buf. */
static void join_path(char *buf, size_t len, const char *dir, const char *file)
{
    if (file[0] == '/' || !dir || !dir[0])
        snprintf(buf, len, "%s", file);
    else
        snprintf(buf, len, "%s/%s", dir, file);
}

static int parse_trace(jctx *c, const cJSON *tr, const char *dir, splitee_link_params *p,
                       double **t, double **r, size_t *n, double *period)
{
    static const char *const keys[] = { "file", "format", "start_s", "loop", "bin_ms", NULL };
    const char *file = NULL, *fmt = "mbps";
    int st;
    if ((st = only_keys(c, tr, "\"trace\"", keys)) < 0 || (st = str(c, tr, "file", &file)) < 0 ||
        (st = str(c, tr, "format", &fmt)) < 0 || (st = num(c, tr, "start_s", &p->trace_start_s, 0)) < 0 ||
        (st = num(c, tr, "bin_ms", &p->trace_bin_ms, 0)) < 0)
        return st;
    if (!file)
        return splitee__fail(c->err, SPLITEE_ERR_FORMAT, "%s: missing field \"file\" in \"trace\"", c->file);
    if (strcmp(fmt, "mbps") == 0)
        p->trace_format = SPLITEE_TRACE_FORMAT_MBPS;
    else if (strcmp(fmt, "mahimahi") == 0)
        p->trace_format = SPLITEE_TRACE_FORMAT_MAHIMAHI;
    else
        return splitee__fail(c->err, SPLITEE_ERR_FORMAT,
                             "%s: unknown trace format \"%s\" (mbps, mahimahi)", c->file, fmt);
    const cJSON *loop = cJSON_GetObjectItemCaseSensitive(tr, "loop");
    if (loop) {
        if (!cJSON_IsBool(loop))
            return splitee__fail(c->err, SPLITEE_ERR_FORMAT, "%s: field \"loop\" must be true or false", c->file);
        p->trace_loop = cJSON_IsTrue(loop);
    }
    if (p->trace_start_s < 0)
        return splitee__fail(c->err, SPLITEE_ERR_VALUE, "%s: trace start_s must be >= 0", c->file);
    char path[4096];
    join_path(path, sizeof path, dir, file);
    char *text;
    size_t len;
    if ((st = splitee__read_file(path, MAX_TRACE_BYTES, &text, &len, c->err)) < 0)
        return st;
    st = splitee_link_parse_trace(text, p->trace_format, p->trace_bin_ms, path, t, r, n, period, c->err);
    free(text);
    p->has_trace = 1;
    return st;
}

static int parse_root(jctx *c, const cJSON *root, const char *name, const char *dir,
                      splitee_link **out)
{
    static const char *const keys[] = {
        "name", "source", "uplink_mbps", "downlink_mbps", "rtt_ms", "jitter_ms", "loss", "tcp",
        "frame_header_bytes", "result_bytes", "cloud_ms", "encode_ms", "radio", "cost", "trace",
        NULL };
    splitee_link_params p;
    splitee_link_params_default(&p);
    const char *pname = NULL, *source = NULL;
    const cJSON *loss, *tcp, *cost, *trace;
    double *t = NULL, *r = NULL, period = 0;
    size_t n = 0;
    int st;
    if ((st = only_keys(c, root, "", keys)) < 0 || (st = str(c, root, "name", &pname)) < 0 ||
        (st = str(c, root, "source", &source)) < 0 || (st = object(c, root, "loss", &loss)) < 0 ||
        (st = object(c, root, "tcp", &tcp)) < 0 || (st = object(c, root, "cost", &cost)) < 0 ||
        (st = object(c, root, "trace", &trace)) < 0)
        return st;
    snprintf(p.name, sizeof p.name, "%s", pname ? pname : name);
    snprintf(p.source, sizeof p.source, "%s", source ? source : "");
    if ((st = num(c, root, "uplink_mbps", &p.uplink_mbps, trace == NULL)) < 0 ||
        (st = num(c, root, "downlink_mbps", &p.downlink_mbps, 1)) < 0 ||
        (st = num(c, root, "rtt_ms", &p.rtt_ms, 1)) < 0 ||
        (st = num(c, root, "jitter_ms", &p.jitter_ms, 0)) < 0 ||
        (st = num(c, root, "frame_header_bytes", &p.frame_header_bytes, 0)) < 0 ||
        (st = num(c, root, "result_bytes", &p.result_bytes, 0)) < 0 ||
        (st = num(c, root, "cloud_ms", &p.cloud_ms, 0)) < 0 ||
        (st = num(c, root, "encode_ms", &p.encode_ms, 0)) < 0)
        return st;
    if (loss && (st = parse_loss(c, loss, &p)) < 0)
        return st;
    if (tcp) {
        static const char *const tk[] = { "mss_bytes", "overhead_bytes", "rto_initial_ms",
                                          "rto_min_ms", "max_retries", NULL };
        double retries = p.max_retries;
        if ((st = only_keys(c, tcp, "\"tcp\"", tk)) < 0 ||
            (st = num(c, tcp, "mss_bytes", &p.mss_bytes, 0)) < 0 ||
            (st = num(c, tcp, "overhead_bytes", &p.overhead_bytes, 0)) < 0 ||
            (st = num(c, tcp, "rto_initial_ms", &p.rto_initial_ms, 0)) < 0 ||
            (st = num(c, tcp, "rto_min_ms", &p.rto_min_ms, 0)) < 0 ||
            (st = num(c, tcp, "max_retries", &retries, 0)) < 0)
            return st;
        if (retries != floor(retries) || retries < 1 || retries > 30)
            return splitee__fail(c->err, SPLITEE_ERR_VALUE, "%s: max_retries must be an integer in 1..30", c->file);
        p.max_retries = (int)retries;
    }
    if (cost) {
        static const char *const ck[] = { "w_ms", "w_mJ", NULL };
        if ((st = only_keys(c, cost, "\"cost\"", ck)) < 0 || (st = num(c, cost, "w_ms", &p.w_ms, 0)) < 0 ||
            (st = num(c, cost, "w_mJ", &p.w_mJ, 0)) < 0)
            return st;
    }
    if ((st = parse_radio(c, root, &p.radio)) < 0)
        return st;
    if (trace && (st = parse_trace(c, trace, dir, &p, &t, &r, &n, &period)) < 0)
        goto done;
    if ((st = splitee_link_check_params(&p, c->file, c->err)) < 0)
        goto done;
    st = splitee_link_create(&p, t, r, n, period, out, c->err);
    if (st < 0 && c->err) { /* name the file, not the profile */
        char msg[sizeof c->err->msg];
        const char *rest = strchr(c->err->msg, ':');
        snprintf(msg, sizeof msg, "%s%s", c->file, rest ? rest : "");
        memcpy(c->err->msg, msg, sizeof msg);
    }
done:
    free(t);
    free(r);
    return st;
}

/* Parses profile text: `file` names it in messages, `defname` is the name
 * when the profile has none, `dir` the folder of relative trace paths. */
static int parse_named(const char *json, const char *file, const char *defname,
                       const char *dir, splitee_link **out, splitee_error *err)
{
    *out = NULL;
    jctx c = { file, err };
    cJSON *root = cJSON_Parse(json);
    if (!root)
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: malformed JSON", file);
    int st = cJSON_IsObject(root) ? parse_root(&c, root, defname, dir, out)
                                  : splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: expected a JSON object", file);
    cJSON_Delete(root);
    return st;
}

int splitee_link_parse(const char *json, const char *name, const char *dir,
                       splitee_link **out, splitee_error *err)
{
    return parse_named(json, name, name, dir, out, err);
}

int splitee_link_load(const char *path, splitee_link **out, splitee_error *err)
{
    *out = NULL;
    char *text;
    size_t len;
    int st = splitee__read_file(path, MAX_PROFILE_BYTES, &text, &len, err);
    if (st < 0)
        return st;
    /* The folder (for relative trace paths) and the file stem (default name). */
    char dir[4096], stem[64];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        dir[0] = '\0';
    const char *base = strrchr(path, '/');
    snprintf(stem, sizeof stem, "%s", base ? base + 1 : path);
    char *dot = strrchr(stem, '.');
    if (dot && dot != stem)
        *dot = '\0';
    st = parse_named(text, path, stem, dir, out, err);
    free(text);
    return st;
}
