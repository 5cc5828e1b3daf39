/* test_metrics.c -- the Prometheus text exposition writer (src/live/metrics.c,
 * `splitee cloud --metrics`): HELP and TYPE lines, label and value
 * formatting, help escaping, histograms with cumulative buckets ending in
 * +Inf and their _sum and _count (against a naive count of the same
 * observations), overflow leaving nothing, the service-time buckets'
 * boundaries, and the cloud's page: every documented family, each sample
 * after its family's HELP/TYPE, names and values well formed, the stats'
 * numbers where they belong. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "live/metrics.h"
#include "splitee/splitee.h"

Test(metrics, family_and_samples)
{
    char buf[512];
    splitee__metrics_buf b;
    splitee__metrics_init(&b, buf, sizeof buf);
    splitee__metrics_family(&b, "x_total", "counter", "A \\ help\nline.");
    splitee__metrics_sample(&b, "x_total", NULL, 42);
    splitee__metrics_sample(&b, "x_total", "kind=\"a\"", 0.25);
    splitee__metrics_sample(&b, "x_total", "", 1e20);
    splitee__metrics_sample(&b, "x_total", NULL, NAN);
    splitee__metrics_sample(&b, "x_total", NULL, INFINITY);
    splitee__metrics_sample(&b, "x_total", NULL, -INFINITY);
    splitee__metrics_sample(&b, "x_total", NULL, 1e300);
    size_t len;
    cr_assert_eq(splitee__metrics_done(&b, &len), 0);
    cr_assert_str_eq(buf, "# HELP x_total A \\\\ help\\nline.\n"
                          "# TYPE x_total counter\n"
                          "x_total 42\n"
                          "x_total{kind=\"a\"} 0.25\n"
                          "x_total 1e+20\n"
                          "x_total NaN\n"
                          "x_total +Inf\n"
                          "x_total -Inf\n"
                          "x_total 1e+300\n");
    cr_assert_eq(len, strlen(buf));
}

Test(metrics, histogram_is_cumulative_with_inf_sum_and_count)
{
    const double bounds[3] = { 0.001, 0.01, 0.1 };
    const double obs[] = { 0.0005, 0.001, 0.002, 0.05, 0.05, 0.3, 7, 0.0001 };
    const int n = (int)(sizeof obs / sizeof *obs);
    uint64_t counts[4] = { 0 };
    double sum = 0;
    for (int i = 0; i < n; i++) {
        int k = 0;
        while (k < 3 && !(obs[i] <= bounds[k]))
            k++;
        counts[k]++;
        sum += obs[i];
    }
    char buf[1024];
    splitee__metrics_buf b;
    splitee__metrics_init(&b, buf, sizeof buf);
    splitee__metrics_histogram(&b, "lat_seconds", "Latency.", bounds, 3, counts, sum);
    size_t len;
    cr_assert_eq(splitee__metrics_done(&b, &len), 0);
    char want[1024];
    snprintf(want, sizeof want,
             "# HELP lat_seconds Latency.\n"
             "# TYPE lat_seconds histogram\n"
             "lat_seconds_bucket{le=\"0.001\"} 3\n"
             "lat_seconds_bucket{le=\"0.01\"} 4\n"
             "lat_seconds_bucket{le=\"0.1\"} 6\n"
             "lat_seconds_bucket{le=\"+Inf\"} 8\n"
             "lat_seconds_sum 7.4036\n"
             "lat_seconds_count 8\n");
    cr_assert_str_eq(buf, want);
    /* the naive reference: every cumulative bucket counts obs <= bound */
    const char *p = buf;
    for (int k = 0; k < 3; k++) {
        long naive = 0;
        for (int i = 0; i < n; i++)
            naive += obs[i] <= bounds[k];
        p = strstr(p, "_bucket{le=");
        cr_assert_not_null(p);
        const char *v = strchr(p, '}') + 2;
        cr_assert_eq(strtol(v, NULL, 10), naive, "bucket %d", k);
        p = v;
    }
}

Test(metrics, overflow_leaves_nothing)
{
    char buf[40];
    splitee__metrics_buf b;
    splitee__metrics_init(&b, buf, sizeof buf);
    splitee__metrics_family(&b, "a_very_long_metric_name_total", "counter", "Help text.");
    splitee__metrics_sample(&b, "a", NULL, 1);
    size_t len = 99;
    cr_assert_eq(splitee__metrics_done(&b, &len), -1);
    cr_assert_eq(len, 0);
    splitee_cloud_stats s;
    memset(&s, 0, sizeof s);
    cr_assert_eq(splitee__cloud_metrics_text(&s, buf, sizeof buf, &len), -1);
    cr_assert_eq(len, 0);
}

Test(metrics, service_buckets)
{
    const double *b = splitee_latency_bounds();
    const double want[SPLITEE_LATENCY_BUCKETS] = { 10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3,
                                                   2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3 };
    for (int k = 0; k < SPLITEE_LATENCY_BUCKETS; k++) {
        cr_assert_eq(b[k], want[k]);
        cr_assert_eq(splitee_latency_bucket(b[k]), k, "a bound is in its own bucket");
        cr_assert_eq(splitee_latency_bucket(nextafter(b[k], 1)), k + 1);
    }
    cr_assert_eq(splitee_latency_bucket(0), 0);
    cr_assert_eq(splitee_latency_bucket(10), SPLITEE_LATENCY_BUCKETS);
    cr_assert_eq(splitee_latency_bucket(NAN), SPLITEE_LATENCY_BUCKETS);
    cr_assert_str_eq(splitee_cloud_error_kind_name(SPLITEE_CLOUD_ERR_MAX_PER_PEER), "max_per_peer");
    cr_assert_str_eq(splitee_cloud_error_kind_name(SPLITEE_CLOUD_ERR_TLS), "tls");
    cr_assert_null(splitee_cloud_error_kind_name(SPLITEE_CLOUD_ERR_KIND_COUNT));
}

/* 1 if s is a metric name: [a-zA-Z_:][a-zA-Z0-9_:]* */
static int is_name(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
                 (i > 0 && c >= '0' && c <= '9');
        if (!ok)
            return 0;
    }
    return 1;
}

/* The value of the sample line "key value" in page, or NAN. */
static double value_of(const char *page, const char *key)
{
    char pat[160];
    snprintf(pat, sizeof pat, "\n%s ", key);
    const char *p = strstr(page, pat);
    return p ? strtod(p + strlen(pat), NULL) : NAN;
}

Test(metrics, cloud_page)
{
    splitee_cloud_stats s;
    memset(&s, 0, sizeof s);
    s.requests = 17;
    s.connections = 5;
    s.clients = 3;
    s.inflight = 2;
    s.draining = 1;
    s.start_time_s = 1796169600.5;
    for (int k = 0; k < SPLITEE_CLOUD_ERR_KIND_COUNT; k++)
        s.errors_by_kind[k] = (uint64_t)(k + 1);
    uint64_t total = 0;
    for (int k = 0; k <= SPLITEE_LATENCY_BUCKETS; k++)
        total += s.service_buckets[k] = (uint64_t)(k % 3);
    s.service_s = 0.125;
    char page[8192];
    size_t len;
    cr_assert_eq(splitee__cloud_metrics_text(&s, page, sizeof page, &len), 0);
    cr_assert_eq(len, strlen(page));
    cr_assert_eq(page[len - 1], '\n');
    /* every line: a HELP, then a TYPE of the same name, then samples of that family */
    char family[128] = "", type[32] = "";
    int helps = 0;
    for (const char *line = page; *line;) {
        const char *end = strchr(line, '\n');
        cr_assert_not_null(end);
        size_t n = (size_t)(end - line);
        if (strncmp(line, "# HELP ", 7) == 0) {
            const char *sp = memchr(line + 7, ' ', n - 7);
            cr_assert_not_null(sp);
            cr_assert(is_name(line + 7, (size_t)(sp - line - 7)));
            snprintf(family, sizeof family, "%.*s", (int)(sp - line - 7), line + 7);
            helps++;
            type[0] = '\0';
        } else if (strncmp(line, "# TYPE ", 7) == 0) {
            char want[160];
            snprintf(want, sizeof want, "# TYPE %s ", family);
            cr_assert_eq(strncmp(line, want, strlen(want)), 0, "%.*s", (int)n, line);
            snprintf(type, sizeof type, "%.*s", (int)(n - strlen(want)), line + strlen(want));
            cr_assert(strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0 ||
                      strcmp(type, "histogram") == 0, "%s", type);
        } else {
            cr_assert(type[0], "a sample before its TYPE: %.*s", (int)n, line);
            size_t fl = strlen(family);
            cr_assert_eq(strncmp(line, family, fl), 0, "%.*s not of %s", (int)n, line, family);
            const char *rest = line + fl;
            if (strcmp(type, "histogram") == 0)
                cr_assert(strncmp(rest, "_bucket{le=\"", 12) == 0 || strncmp(rest, "_sum ", 5) == 0 ||
                          strncmp(rest, "_count ", 7) == 0, "%.*s", (int)n, line);
            else
                cr_assert(*rest == ' ' || *rest == '{', "%.*s", (int)n, line);
            const char *sp = end;
            while (sp > line && *sp != ' ')
                sp--;
            char *e;
            strtod(sp + 1, &e);
            cr_assert_eq(e, end, "value of %.*s", (int)n, line);
        }
        line = end + 1;
    }
    cr_assert_eq(helps, 8);
    cr_assert_eq(value_of(page, "splitee_cloud_requests_total"), 17);
    cr_assert_eq(value_of(page, "splitee_cloud_connections_total"), 5);
    cr_assert_eq(value_of(page, "splitee_cloud_open_connections"), 3);
    cr_assert_eq(value_of(page, "splitee_cloud_inflight_requests"), 2);
    cr_assert_eq(value_of(page, "splitee_cloud_draining"), 1);
    cr_assert_eq(value_of(page, "process_start_time_seconds"), 1796169600.5);
    cr_assert_eq(value_of(page, "splitee_cloud_errors_total{kind=\"payload\"}"), 1);
    cr_assert_eq(value_of(page, "splitee_cloud_errors_total{kind=\"max_per_peer\"}"), 6);
    cr_assert_eq(value_of(page, "splitee_cloud_errors_total{kind=\"tls\"}"), 7);
    cr_assert_eq(value_of(page, "splitee_cloud_service_seconds_bucket{le=\"1e-05\"}"), 0);
    cr_assert_eq(value_of(page, "splitee_cloud_service_seconds_bucket{le=\"2.5e-05\"}"), 1);
    cr_assert_eq(value_of(page, "splitee_cloud_service_seconds_bucket{le=\"0.25\"}"),
                 (double)(total - s.service_buckets[SPLITEE_LATENCY_BUCKETS]));
    cr_assert_eq(value_of(page, "splitee_cloud_service_seconds_bucket{le=\"+Inf\"}"), (double)total);
    cr_assert_eq(value_of(page, "splitee_cloud_service_seconds_count"), (double)total);
    cr_assert_eq(value_of(page, "splitee_cloud_service_seconds_sum"), 0.125);
}

/* The metrics endpoint's request head (cloud.c's reader): every answer. */
Test(metrics, http_request_answers)
{
    static const struct {
        const char *head;
        int whole;
        splitee__http_code code;
        int head_only;
    } cases[] = {
        { "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 1, SPLITEE__HTTP_OK, 0 },
        { "GET /metrics?name[]=x HTTP/1.0\n\n", 1, SPLITEE__HTTP_OK, 0 },
        { "HEAD /metrics HTTP/1.1\r\n\r\n", 1, SPLITEE__HTTP_OK, 1 },
        { "HEAD / HTTP/1.1\r\n\r\n", 1, SPLITEE__HTTP_NOT_FOUND, 1 },
        { "GET /metricsx HTTP/1.1\r\n\r\n", 1, SPLITEE__HTTP_NOT_FOUND, 0 },
        { "POST /metrics HTTP/1.1\r\n\r\n", 1, SPLITEE__HTTP_BAD_METHOD, 0 },
        { "GET /metrics HTTP/2\r\n\r\n", 1, SPLITEE__HTTP_BAD_REQUEST, 0 },
        { "GET /metrics\r\n\r\n", 1, SPLITEE__HTTP_BAD_REQUEST, 0 },
        { "\r\n\r\n", 1, SPLITEE__HTTP_BAD_REQUEST, 0 },
        { "GET /metrics HTTP/1.1\r\nX: aaaa", 0, SPLITEE__HTTP_TOO_LARGE, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int head_only = -1;
        size_t len = strlen(cases[i].head);
        cr_assert_eq(splitee__http_head_whole(cases[i].head, 0, len), cases[i].whole, "%s", cases[i].head);
        cr_assert_eq(splitee__http_request(cases[i].head, len, cases[i].whole, &head_only), cases[i].code,
                     "%s", cases[i].head);
        cr_assert_eq(head_only, cases[i].head_only, "%s", cases[i].head);
    }
    /* a head longer than the reader's buffer is 431 even when whole */
    char big[SPLITEE__HTTP_HEAD_MAX + 8];
    memset(big, 'a', sizeof big);
    memcpy(big, "GET /metrics HTTP/1.1\n", 22);
    memcpy(big + sizeof big - 2, "\n\n", 2);
    int h;
    cr_assert_eq(splitee__http_request(big, sizeof big, 1, &h), SPLITEE__HTTP_TOO_LARGE);
}

/* The blank-line scan resumed 3 bytes before the old end, as cloud.c reads
 * in pieces, finds the end of the head at the same read as a search of the
 * whole buffer, for every split of heads ending in "\n\n" or "\r\n\r\n"
 * (the only blank lines the reader knows: "\n\r\n" is none). */
Test(metrics, http_head_found_across_reads)
{
    static const char *const heads[] = { "GET /metrics HTTP/1.1\r\nA: b\r\n\r\n", "GET / HTTP/1.0\n\n",
                                         "GET / HTTP/1.0\r\n\n", "GET /x HTTP/1.1\r\n\r\n" };
    for (size_t k = 0; k < sizeof heads / sizeof heads[0]; k++) {
        size_t n = strlen(heads[k]);
        for (size_t cut = 1; cut < n; cut++) {
            for (size_t cut2 = cut; cut2 <= n; cut2++) {
                size_t from1 = 0, from2 = cut > 3 ? cut - 3 : 0, from3 = cut2 > 3 ? cut2 - 3 : 0;
                int w1 = splitee__http_head_whole(heads[k], from1, cut);
                int w2 = w1 || splitee__http_head_whole(heads[k], from2, cut2);
                int w3 = w2 || splitee__http_head_whole(heads[k], from3, n);
                int naive1 = memmem(heads[k], cut, "\n\n", 2) || memmem(heads[k], cut, "\r\n\r\n", 4);
                int naive2 = memmem(heads[k], cut2, "\n\n", 2) || memmem(heads[k], cut2, "\r\n\r\n", 4);
                cr_assert_eq(w1, naive1, "%zu %zu", k, cut);
                cr_assert_eq(w2, naive2, "%zu %zu %zu", k, cut, cut2);
                cr_assert(w3, "%zu: the whole head has its blank line", k);
            }
        }
    }
}
