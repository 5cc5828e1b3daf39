/* metrics.h -- the Prometheus text exposition format (version 0.0.4) for
 * `splitee cloud --metrics` (docs/LIVE.md, "Metrics"): a bounded writer
 * into a caller's buffer (nothing allocates), one call per family, and the
 * cloud's page built from a splitee_cloud_stats snapshot. Internal to the
 * library (src/live); the format is the documented interface. */
#ifndef SPLITEE_LIVE_METRICS_H
#define SPLITEE_LIVE_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include "splitee/cloud.h"

/* Text written into buf[0..cap); overflow is sticky and makes len 0 at the
 * end (splitee__metrics_done), so a page is whole or absent. */
typedef struct splitee__metrics_buf {
    char *buf;
    size_t cap, len;
    int overflow;
} splitee__metrics_buf;

void splitee__metrics_init(splitee__metrics_buf *b, char *buf, size_t cap);

/* "# HELP name help\n# TYPE name type\n"; type is counter, gauge or
 * histogram. help must be one line (a backslash or newline in it is
 * escaped as the format says). */
void splitee__metrics_family(splitee__metrics_buf *b, const char *name, const char *type,
                             const char *help);

/* "name{labels} value\n" (labels: the text inside the braces, e.g.
 * kind="timeout", or NULL for none). Integral values print without a
 * fraction, others in their shortest round-trip form; NaN and the
 * infinities as NaN, +Inf, -Inf. */
void splitee__metrics_sample(splitee__metrics_buf *b, const char *name, const char *labels,
                             double value);

/* A whole histogram family: HELP/TYPE, then name_bucket{le="B"} with the
 * cumulative count for each of the n ascending bounds and le="+Inf",
 * name_sum and name_count. counts[0..n] are per bucket (not cumulative),
 * counts[n] the observations above the last bound. */
void splitee__metrics_histogram(splitee__metrics_buf *b, const char *name, const char *help,
                                const double *bounds, int n, const uint64_t *counts, double sum);

/* 0 and the length in *len, or -1 when the page did not fit (then *len is 0). */
int splitee__metrics_done(const splitee__metrics_buf *b, size_t *len);

/* The cloud's page (every family documented in docs/LIVE.md) from one
 * snapshot: 0, or -1 when it does not fit in cap bytes. */
int splitee__cloud_metrics_text(const splitee_cloud_stats *s, char *buf, size_t cap, size_t *len);

/* ---- the metrics endpoint's request head (cloud.c serves it) ----------- */

/* The most bytes of a request head the endpoint reads before answering
 * 431. */
#define SPLITEE__HTTP_HEAD_MAX 2048

/* The answers to a request head, in the order of cloud.c's reason table. */
typedef enum splitee__http_code {
    SPLITEE__HTTP_OK = 0,          /* GET or HEAD /metrics (a query string ignored) */
    SPLITEE__HTTP_BAD_REQUEST,     /* no "METHOD TARGET HTTP/1.0|1.1" request line */
    SPLITEE__HTTP_NOT_FOUND,       /* another target */
    SPLITEE__HTTP_BAD_METHOD,      /* another method: 405 */
    SPLITEE__HTTP_TOO_LARGE        /* no blank line within SPLITEE__HTTP_HEAD_MAX bytes: 431 */
} splitee__http_code;

/* 1 when a blank line ("\n\n" or "\r\n\r\n") ends within in[0..len),
 * looking only at those that start at index `from` or later (a reader
 * that appends bytes rescans from 3 before its old length), else 0. Pure. */
int splitee__http_head_whole(const char *in, size_t from, size_t len);

/* The answer to the request head in[0..len) (whole: a blank line ends it,
 * see splitee__http_head_whole; not whole: the reader's buffer filled, and
 * so does any len over SPLITEE__HTTP_HEAD_MAX), and in *head_only 1 for a
 * HEAD. Reads only the first line; pure. */
splitee__http_code splitee__http_request(const char *in, size_t len, int whole, int *head_only);

#endif
