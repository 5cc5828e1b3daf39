/* metrics.c -- the Prometheus text exposition format, version 0.0.4
 * (metrics.h): HELP and TYPE lines before each family's samples, label
 * values and help text escaped as the format says, histograms with
 * cumulative buckets ending in le="+Inf" and their _sum and _count; and
 * the shared service-time buckets (cloud.h). */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/internal.h"
#include "core/numfmt.h"
#include "live/metrics.h"

static const double BOUNDS[SPLITEE_LATENCY_BUCKETS] = {
    10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3,
};

const double *splitee_latency_bounds(void)
{
    return BOUNDS;
}

int splitee_latency_bucket(double seconds)
{
    for (int k = 0; k < SPLITEE_LATENCY_BUCKETS; k++)
        if (seconds <= BOUNDS[k])
            return k;
    return SPLITEE_LATENCY_BUCKETS;
}

const char *splitee_cloud_error_kind_name(splitee_cloud_error_kind k)
{
    static const char *const names[SPLITEE_CLOUD_ERR_KIND_COUNT] = {
        "payload", "measure", "protocol", "timeout", "max_clients", "max_per_peer", "tls"
    };
    return (int)k >= 0 && k < SPLITEE_CLOUD_ERR_KIND_COUNT ? names[k] : NULL;
}

void splitee__metrics_init(splitee__metrics_buf *b, char *buf, size_t cap)
{
    b->buf = buf;
    b->cap = cap;
    b->len = 0;
    b->overflow = cap == 0;
    if (cap)
        buf[0] = '\0';
}

static void put(splitee__metrics_buf *b, const char *s, size_t n)
{
    if (b->overflow)
        return;
    if (b->len + n + 1 > b->cap) {
        b->overflow = 1;
        return;
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = '\0';
}

static void puts_(splitee__metrics_buf *b, const char *s)
{
    put(b, s, strlen(s));
}

/* A value: integers exactly ("42"), others shortest round-trip. */
static void put_value(splitee__metrics_buf *b, double v)
{
    char num[64];
    if (isnan(v))
        strcpy(num, "NaN");
    else if (isinf(v))
        strcpy(num, v > 0 ? "+Inf" : "-Inf");
    else if (v == floor(v) && fabs(v) < 9007199254740992.0)
        snprintf(num, sizeof num, "%.0f", v);
    else
        splitee__fmt_double(num, sizeof num, v);
    puts_(b, num);
}

void splitee__metrics_family(splitee__metrics_buf *b, const char *name, const char *type,
                             const char *help)
{
    puts_(b, "# HELP ");
    puts_(b, name);
    put(b, " ", 1);
    for (const char *p = help; *p; p++) {
        if (*p == '\\')
            puts_(b, "\\\\");
        else if (*p == '\n')
            puts_(b, "\\n");
        else
            put(b, p, 1);
    }
    puts_(b, "\n# TYPE ");
    puts_(b, name);
    put(b, " ", 1);
    puts_(b, type);
    put(b, "\n", 1);
}

void splitee__metrics_sample(splitee__metrics_buf *b, const char *name, const char *labels,
                             double value)
{
    puts_(b, name);
    if (labels && labels[0]) {
        put(b, "{", 1);
        puts_(b, labels);
        put(b, "}", 1);
    }
    put(b, " ", 1);
    put_value(b, value);
    put(b, "\n", 1);
}

void splitee__metrics_histogram(splitee__metrics_buf *b, const char *name, const char *help,
                                const double *bounds, int n, const uint64_t *counts, double sum)
{
    char metric[128], label[96], num[64];
    splitee__metrics_family(b, name, "histogram", help);
    snprintf(metric, sizeof metric, "%s_bucket", name);
    uint64_t cum = 0;
    for (int k = 0; k <= n; k++) {
        cum += counts[k];
        if (k < n)
            splitee__fmt_double(num, sizeof num, bounds[k]);
        snprintf(label, sizeof label, "le=\"%s\"", k < n ? num : "+Inf");
        splitee__metrics_sample(b, metric, label, (double)cum);
    }
    snprintf(metric, sizeof metric, "%s_sum", name);
    splitee__metrics_sample(b, metric, NULL, sum);
    snprintf(metric, sizeof metric, "%s_count", name);
    splitee__metrics_sample(b, metric, NULL, (double)cum);
}

int splitee__metrics_done(const splitee__metrics_buf *b, size_t *len)
{
    *len = b->overflow ? 0 : b->len;
    return b->overflow ? -1 : 0;
}

int splitee__cloud_metrics_text(const splitee_cloud_stats *s, char *buf, size_t cap, size_t *len)
{
    splitee__metrics_buf b;
    splitee__metrics_init(&b, buf, cap);
    splitee__metrics_family(&b, "splitee_cloud_requests_total", "counter",
                            "Requests answered with a response.");
    splitee__metrics_sample(&b, "splitee_cloud_requests_total", NULL, (double)s->requests);
    splitee__metrics_family(&b, "splitee_cloud_errors_total", "counter",
                            "Requests answered with an error frame, and connections closed or "
                            "refused, by kind.");
    for (int k = 0; k < SPLITEE_CLOUD_ERR_KIND_COUNT; k++) {
        char label[64];
        snprintf(label, sizeof label, "kind=\"%s\"",
                 splitee_cloud_error_kind_name((splitee_cloud_error_kind)k));
        splitee__metrics_sample(&b, "splitee_cloud_errors_total", label, (double)s->errors_by_kind[k]);
    }
    splitee__metrics_family(&b, "splitee_cloud_connections_total", "counter", "Connections accepted.");
    splitee__metrics_sample(&b, "splitee_cloud_connections_total", NULL, (double)s->connections);
    splitee__metrics_histogram(&b, "splitee_cloud_service_seconds",
                               "Compute time of each answered request (what its response reports).",
                               splitee_latency_bounds(), SPLITEE_LATENCY_BUCKETS, s->service_buckets,
                               s->service_s);
    splitee__metrics_family(&b, "splitee_cloud_open_connections", "gauge", "Connections open now.");
    splitee__metrics_sample(&b, "splitee_cloud_open_connections", NULL, (double)s->clients);
    splitee__metrics_family(&b, "splitee_cloud_inflight_requests", "gauge",
                            "Connections holding request bytes not yet answered.");
    splitee__metrics_sample(&b, "splitee_cloud_inflight_requests", NULL, (double)s->inflight);
    splitee__metrics_family(&b, "splitee_cloud_draining", "gauge", "1 while draining, else 0.");
    splitee__metrics_sample(&b, "splitee_cloud_draining", NULL, s->draining ? 1 : 0);
    splitee__metrics_family(&b, "process_start_time_seconds", "gauge",
                            "Start time of the process since the Unix epoch in seconds.");
    splitee__metrics_sample(&b, "process_start_time_seconds", NULL, s->start_time_s);
    return splitee__metrics_done(&b, len);
}

/* ---- the metrics endpoint's request head --------------------------------- */

int splitee__http_head_whole(const char *in, size_t from, size_t len)
{
    for (size_t i = from; i < len; i++)
        if ((i + 1 < len && in[i] == '\n' && in[i + 1] == '\n') ||
            (i + 3 < len && memcmp(in + i, "\r\n\r\n", 4) == 0))
            return 1;
    return 0;
}

splitee__http_code splitee__http_request(const char *in, size_t len, int whole, int *head_only)
{
    char method[8] = "", target[256] = "", version[16] = "";
    *head_only = 0;
    if (!whole || len > SPLITEE__HTTP_HEAD_MAX)
        return SPLITEE__HTTP_TOO_LARGE;
    const char *eol = memchr(in, '\n', len);
    if (!eol)
        return SPLITEE__HTTP_BAD_REQUEST;
    size_t line = (size_t)(eol - in);
    char first[SPLITEE__HTTP_HEAD_MAX + 1];
    memcpy(first, in, line);
    first[line] = '\0';
    if (line > 0 && first[line - 1] == '\r')
        first[line - 1] = '\0';
    if (sscanf(first, "%7s %255s %15s", method, target, version) != 3 ||
        (strcmp(version, "HTTP/1.0") != 0 && strcmp(version, "HTTP/1.1") != 0))
        return SPLITEE__HTTP_BAD_REQUEST;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return SPLITEE__HTTP_BAD_METHOD;
    *head_only = strcmp(method, "HEAD") == 0;
    char *q = strchr(target, '?');
    if (q)
        *q = '\0';
    return strcmp(target, "/metrics") == 0 ? SPLITEE__HTTP_OK : SPLITEE__HTTP_NOT_FOUND;
}
