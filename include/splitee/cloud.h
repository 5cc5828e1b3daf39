/* cloud.h -- the cloud side of live split computing: a TCP server that
 * receives activation payloads (wire.h requests), resumes the forward pass
 * from the split layer to the final exit and answers with the prediction,
 * the final exit's confidence under the measure the request asks for (the
 * device's exit rule's, exit.h; version-1 requests get max-softmax) and
 * the compute time.
 *
 * Design: `workers` threads, each an epoll event loop that owns a share of
 * the connections and its own engine run state, and computes requests
 * inline (a request is ~0.1 ms of CPU for the shipped model, so handing it
 * to another thread would cost more than it saves). The calling thread
 * accepts connections and hands each to the worker with the fewest. With
 * as many workers as cores, every core runs the forward pass and no
 * thread sleeps while work is queued; 64 devices cost 64 sockets and 64
 * parsers, not 64 threads. A connection that sends a malformed,
 * oversized or truncated frame is closed (logged with its peer address
 * and the problem); a request whose payload is well framed but invalid
 * gets an error frame and the connection stays open.
 *
 * Misbehaving peers: a connection with no complete request for
 * idle_timeout_s, or holding a frame begun and not finished for
 * frame_timeout_s, is closed (logged). A connection's slot under
 * max_clients is freed as soon as its worker sees the close, within one
 * iteration of the worker's loop (closes are handled first), and an
 * iteration is bounded: each connection gets at most `batch` requests
 * computed per turn, one turn per iteration, and a connection whose
 * answers are not being read (its 4 KiB output buffer full, about 80
 * responses) is not read from until they drain, so a pipelining
 * client can neither queue unbounded work nor starve the others on its
 * worker. More than max_per_peer connections from one address are
 * refused at accept (logged once per second per address).
 *
 * Draining (splitee_cloud_drain, SIGTERM in the CLI): the server stops
 * accepting (the listening socket is closed, so new connections are
 * refused and a load balancer or a failing-over device goes elsewhere),
 * reads what has arrived on every connection, answers every request it
 * has read in whole or in part (reading a begun frame to its end), closes
 * each connection as soon as that is done (bytes arriving after its last
 * answer are dropped at an orderly close: the peer retries elsewhere),
 * and returns from run once none is left, or after drain_timeout_s,
 * closing what remains.
 *
 * Metrics (metrics_host set): a second listening socket served by the
 * accepting thread's poll loop answers HTTP GET /metrics with the
 * Prometheus text format (docs/LIVE.md, "Metrics"); other paths get 404.
 * At most 16 HTTP clients at once, a request head of at most 2 KiB, and
 * 2 s from accept to the last byte of the answer: a slow or hostile
 * scraper is closed, and never touches the workers' loops.
 *
 *     splitee_cloud_config cc;
 *     splitee_cloud_config_default(&cc);
 *     cc.port = 0;                              // ephemeral
 *     cc.log = my_log;                          // one line per event, or NULL
 *     splitee_cloud *c;
 *     if (splitee_cloud_create(model, &cc, &c, &err) < 0) die(err.msg);
 *     printf("listening on port %d\n", splitee_cloud_port(c));
 *     // a signal handler may call splitee_cloud_stop(c) or splitee_cloud_drain(c)
 *     if (splitee_cloud_run(c, &err) < 0) die(err.msg);   // until stopped
 *     splitee_cloud_free(c);
 */
#ifndef SPLITEE_CLOUD_H
#define SPLITEE_CLOUD_H

#include <stdint.h>
#include "exit.h"
#include "model.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Every confidence measure (exit.h), as a splitee_cloud_config.confidences mask. */

/* The service-time histogram (the cloud's compute time per answered
 * request, what a response's compute_us reports), shared by the cloud's
 * metrics and the device's summary so the two can be compared exactly:
 * SPLITEE_LATENCY_BUCKETS upper bounds in seconds, ascending (10 us, 25 us,
 * 50 us, 100 us, 250 us, 500 us, 1 ms, 2.5 ms, 5 ms, 10 ms, 25 ms, 50 ms,
 * 100 ms, 250 ms), then one bucket above the last (+Inf). */
#define SPLITEE_LATENCY_BUCKETS 14

/* The bounds above, seconds (SPLITEE_LATENCY_BUCKETS of them). */
const double *splitee_latency_bounds(void);

/* The bucket of a time in seconds: the first k with seconds <= bound k, or
 * SPLITEE_LATENCY_BUCKETS (+Inf) above them all (and for NaN). */
int splitee_latency_bucket(double seconds);

/* Why the cloud turned a request or a connection away (splitee_cloud_stats
 * errors_by_kind; the metrics' errors_total kind label). */
typedef enum splitee_cloud_error_kind {
    SPLITEE_CLOUD_ERR_PAYLOAD = 0,   /* error frame: the payload does not fit the model */
    SPLITEE_CLOUD_ERR_MEASURE,       /* error frame: a confidence measure it does not answer */
    SPLITEE_CLOUD_ERR_PROTOCOL,      /* connection closed: malformed, oversized or truncated frame */
    SPLITEE_CLOUD_ERR_TIMEOUT,       /* connection closed: idle or frame timeout */
    SPLITEE_CLOUD_ERR_MAX_CLIENTS,   /* refused at accept: over max_clients */
    SPLITEE_CLOUD_ERR_MAX_PER_PEER,  /* refused at accept: over max_per_peer */
    SPLITEE_CLOUD_ERR_TLS,           /* connection closed: its TLS handshake failed (no,
                                        or a refused, device certificate; not TLS) */
    SPLITEE_CLOUD_ERR_KIND_COUNT
} splitee_cloud_error_kind;

/* "payload", "measure", "protocol", "timeout", "max_clients", "max_per_peer",
 * "tls"; NULL otherwise. */
const char *splitee_cloud_error_kind_name(splitee_cloud_error_kind k);
#define SPLITEE_CLOUD_ALL_CONFIDENCES ((1u << SPLITEE_CONFIDENCE_COUNT) - 1u)

typedef struct splitee_cloud_config {
    const char *host;   /* address to listen on, numeric ("127.0.0.1", "::1", "0.0.0.0") */
    int port;           /* TCP port; 0 picks a free one (splitee_cloud_port) */
    int workers;        /* event-loop threads, each with its own run state (>= 1) */
    int max_clients;    /* connections served at once; more are closed at accept */
    int max_per_peer;   /* connections from one address (any port) at once; more
                           are closed at accept (>= 1, default 64) */
    double idle_timeout_s;  /* seconds without a complete request before a
                               connection is closed (default 30; 0: never) */
    double frame_timeout_s; /* seconds a frame may take from its first byte to
                               its last before the connection is closed
                               (default 5; 0: never) */
    int batch;          /* requests computed per connection per turn of its
                           worker's loop before the others get theirs
                           (>= 1, default 8) */
    unsigned confidences; /* measures it answers: bit k for splitee_confidence k
                             (default SPLITEE_CLOUD_ALL_CONFIDENCES); a request
                             asking for another gets an error frame naming both */
    /* TLS 1.3 (docs/LIVE.md), PEM file paths: all three, or none for
     * plaintext. With them every device must present a certificate signed
     * by tls_ca (mutual authentication: only enrolled devices offload); a
     * connection whose handshake fails is closed and logged with the
     * reason, and a handshake counts against frame_timeout_s like a frame. */
    const char *tls_cert;   /* this cloud's certificate (chain) */
    const char *tls_key;    /* its private key */
    const char *tls_ca;     /* the CA that signs the devices' certificates */
    int insecure_plaintext; /* 1: plaintext on a non-loopback host too; 0
                               (default): create refuses plaintext unless host
                               is a loopback address */
    /* Receives one line (no newline) per event: start, connection
     * closed with a reason, shutdown. Called from any thread, one call
     * at a time. NULL: silent. */
    void (*log)(void *ctx, const char *line);
    void *log_ctx;
    double drain_timeout_s; /* seconds a drain waits for in-flight requests before
                               closing what is left (default 5; > 0) */
    const char *metrics_host; /* numeric address of the metrics HTTP endpoint;
                                 NULL (default): none */
    int metrics_port;       /* its port; 0 picks a free one (splitee_cloud_metrics_port) */
} splitee_cloud_config;

/* Counters since create (read with splitee_cloud_stats). */
typedef struct splitee_cloud_stats {
    uint64_t connections;   /* accepted */
    uint64_t clients;       /* connections open now (their max_clients slots) */
    uint64_t rejected;      /* closed at accept: over max_clients */
    uint64_t rejected_peer; /* closed at accept: over max_per_peer */
    uint64_t timed_out;     /* closed by the idle or the frame timeout */
    uint64_t requests;      /* answered with a response */
    uint64_t errors;        /* answered with an error frame */
    uint64_t dropped;       /* connections closed for a protocol error (a failed
                               TLS handshake included) */
    uint64_t tls_failed;    /* of dropped: closed because the TLS handshake failed */
    double compute_us;      /* total compute time of the responses, microseconds */
    uint64_t errors_by_kind[SPLITEE_CLOUD_ERR_KIND_COUNT]; /* the above, by kind:
                               payload + measure = errors, protocol + tls =
                               dropped, tls = tls_failed, timeout = timed_out,
                               max_clients = rejected, max_per_peer = rejected_peer */
    uint64_t service_buckets[SPLITEE_LATENCY_BUCKETS + 1]; /* responses per
                               service-time bucket (not cumulative; the last: +Inf) */
    double service_s;       /* total service time of the responses, seconds
                               (the histogram's sum; compute_us in seconds) */
    uint64_t inflight;      /* connections holding request bytes not yet answered */
    int draining;           /* 1 once a drain began */
    uint64_t drained;       /* connections closed by the drain once answered */
    uint64_t drain_cut;     /* connections still busy at the drain timeout, closed */
    uint64_t scrapes;       /* metrics requests answered 200 */
    double start_time_s;    /* Unix time of create, seconds */
} splitee_cloud_stats;

typedef struct splitee_cloud splitee_cloud; /* opaque */

/* host 127.0.0.1, port 0, workers 2, max_clients 1024, max_per_peer 64,
 * idle_timeout_s 30, frame_timeout_s 5, batch 8, every measure, plaintext
 * (loopback only), no log, drain_timeout_s 5, no metrics. */
void splitee_cloud_config_default(splitee_cloud_config *cfg);

/* Creates the server: one run state per worker and a table of per-address
 * connection counts (about 40 bytes per max_clients), binds and listens.
 * The model must outlive the server. ARG (bad config or address: a
 * negative or non-finite timeout, max_per_peer or batch below 1; some but
 * not all TLS files, or one that cannot be read; plaintext on a
 * non-loopback host without insecure_plaintext), FORMAT (a TLS file that
 * is not PEM, a key that does not match the certificate), IO (bind,
 * listen), NOMEM; *out is NULL on failure. */
int splitee_cloud_create(const splitee_model *model, const splitee_cloud_config *cfg,
                         splitee_cloud **out, splitee_error *err);

/* The port the server listens on. */
int splitee_cloud_port(const splitee_cloud *c);

/* Serves until splitee_cloud_stop, then closes every connection and joins
 * the workers; or until a drain (splitee_cloud_drain) has answered every
 * in-flight request or timed out. IO/NOMEM if the workers cannot start.
 * Call once. */
int splitee_cloud_run(splitee_cloud *c, splitee_error *err);

/* Asks a running (or about to run) server to stop. Async-signal-safe: one
 * write(2) to an eventfd. */
void splitee_cloud_stop(splitee_cloud *c);

/* Asks a running server to drain: stop accepting, answer what it holds,
 * then return from run (see the top of this file). A stop during a drain
 * ends it at once. Async-signal-safe: one write(2) to an eventfd. */
void splitee_cloud_drain(splitee_cloud *c);

/* The metrics endpoint's port, or 0 without one. */
int splitee_cloud_metrics_port(const splitee_cloud *c);

/* Copies the counters (consistent after run returns; approximate while it
 * runs). */
void splitee_cloud_get_stats(const splitee_cloud *c, splitee_cloud_stats *st);

/* Closes the socket and frees everything. NULL is a no-op. Not while run
 * is in progress. */
void splitee_cloud_free(splitee_cloud *c);

#ifdef __cplusplus
}
#endif
#endif
