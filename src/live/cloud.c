/* cloud.c -- the cloud server (cloud.h): an accept loop in the calling
 * thread and `workers` epoll event loops, each owning its connections and
 * one engine run state, computing requests inline. Per connection: a wire
 * parser sized for the largest request the model can receive and a small
 * output buffer, both allocated at accept; nothing allocates per request.
 * Per address: a count of its connections in a fixed table (max_per_peer).
 * Each connection carries monotonic timestamps (its last whole request,
 * the start of an incomplete frame) that its worker checks once per tick.
 * A drain (splitee_cloud_drain) and the metrics endpoint's HTTP clients
 * live in the accepting thread's poll loop; see "drain" and "metrics"
 * below. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/internal.h"
#include "live/transport.h"
#include "splitee/cloud.h"
#include "splitee/engine.h"
#include "splitee/exit.h"
#include "splitee/wire.h"
#include "live/metrics.h"

#define OUT_CAP 4096                 /* bytes of responses waiting to be sent */
#define OUT_ROOM (SPLITEE_WIRE_HEADER_SIZE + 4 + SPLITEE_WIRE_MAX_ERROR_MSG)

/* A peer's address without its port: the per-peer table's key. */
typedef struct peer_key {
    unsigned char addr[16];
    unsigned char len;               /* 4 (IPv4) or 16 (IPv6); 0 if unknown */
} peer_key;

/* One address's connections, in the open-addressing table (len 0: free). */
typedef struct peer_slot {
    peer_key key;
    int count;                       /* connections from it now */
    uint64_t refused;                /* refusals not yet logged */
    double logged_s;                 /* monotonic seconds of its last refusal line */
} peer_slot;

typedef struct conn {
    int fd;                          /* tr.fd, for epoll */
    splitee__transport tr;           /* plaintext or TLS over fd */
    int handshaking;                 /* TLS handshake not complete yet */
    short io_want;                   /* the last AGAIN's direction (POLLIN/POLLOUT) */
    char peer[64];                   /* "address:port" for log lines */
    peer_key key;
    splitee_wire_parser *parser;
    unsigned char out[OUT_CAP];
    size_t out_start, out_end;       /* unsent bytes out[out_start..out_end) */
    uint32_t events;                 /* registered with epoll */
    int eof;                         /* the peer closed its side; answer what is left, then close */
    int ready;                       /* on the worker's ready list */
    uint64_t turn_at;                /* the loop iteration of its last turn */
    double last_req_s;               /* monotonic seconds of the last whole request (or accept) */
    double frame_s;                  /* since when a frame is incomplete; 0: none */
    int inflight;                    /* counted in its worker's inflight */
    struct conn *prev, *next;        /* the worker's list */
    struct conn *ready_next;         /* the worker's ready list */
} conn;

typedef struct worker {
    struct splitee_cloud *c;
    pthread_t thread;
    int epfd;
    int pipe_rd, pipe_wr;            /* accepted fds handed over by the acceptor */
    splitee_engine_state *state;
    float *logits;                   /* (classes) */
    double *logits_d;                /* (classes) */
    conn *conns;
    conn *ready;                     /* connections whose turn ended on the batch bound */
    uint64_t iteration;              /* loop iterations so far */
    int active;                      /* connections owned (atomic) */
    uint64_t requests, errors, dropped, timed_out; /* atomic counters */
    uint64_t tls_failed;             /* atomic: of dropped, failed TLS handshakes */
    uint64_t errors_measure;         /* atomic: of errors, for an unanswered measure */
    uint64_t buckets[SPLITEE_LATENCY_BUCKETS + 1]; /* atomic: responses per service-time bucket */
    int inflight;                    /* atomic: connections with unanswered request bytes */
    uint64_t drained, drain_cut;     /* atomic: connections closed by the drain */
    double compute_us;               /* written by the worker only */
} worker;

struct splitee_cloud {
    const splitee_model *model;
    splitee_cloud_config cfg;
    char host[128];                  /* cfg.host points here */
    int listen_fd;
    int stop_fd;                     /* eventfd; readable once stop was asked */
    int port;
    size_t max_frame;                /* header + the largest f32 payload */
    double tick_s;                   /* how often a worker checks its timeouts; 0: never */
    worker *workers;
    int nworkers;
    uint64_t connections, rejected, rejected_peer; /* atomic counters */
    peer_slot *peers;                /* (npeers) open addressing, linear probing */
    size_t npeers;                   /* a power of two, at least twice max_clients */
    pthread_mutex_t peer_lock;       /* the table: the acceptor adds, workers remove */
    pthread_mutex_t log_lock;
    splitee__tls_ctx *tls;           /* NULL: plaintext */
    int drain_fd;                    /* eventfd: a drain was asked (the acceptor's) */
    int wdrain_fd;                   /* eventfd: the workers drain (after the listener closed) */
    int draining;                    /* atomic: 1 once the acceptor began the drain */
    int workers_done;                /* atomic: workers that finished their drain */
    double start_time_s;             /* Unix time of create */
    int metrics_fd, metrics_port;    /* the metrics endpoint; -1 / 0 without one */
    char metrics_host[128];
    struct http_client *http;        /* (HTTP_CLIENTS) metrics clients, fd -1: free */
    char *http_page;                 /* (HTTP_PAGE_MAX) the page being rendered */
    uint64_t scrapes;                /* written by the acceptor only */
};

static void logf_(struct splitee_cloud *c, const char *fmt, ...) SPLITEE__PRINTF(2, 3);
static void logf_(struct splitee_cloud *c, const char *fmt, ...)
{
    if (!c->cfg.log)
        return;
    char line[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&c->log_lock);
    c->cfg.log(c->cfg.log_ctx, line);
    pthread_mutex_unlock(&c->log_lock);
}

void splitee_cloud_config_default(splitee_cloud_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->host = "127.0.0.1";
    cfg->port = 0;
    cfg->workers = 2;
    cfg->max_clients = 1024;
    cfg->max_per_peer = 64;
    cfg->idle_timeout_s = 30;
    cfg->frame_timeout_s = 5;
    cfg->batch = 8;
    cfg->confidences = SPLITEE_CLOUD_ALL_CONFIDENCES;
    cfg->drain_timeout_s = 5;
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static double now_s(void)
{
    return now_us() * 1e-6;
}

/* "address:port" of a socket address, for log lines. */
static void addr_name(const struct sockaddr_storage *ss, socklen_t sl, int fd, char *buf, size_t len)
{
    char host[NI_MAXHOST], serv[NI_MAXSERV];
    if (sl > 0 && getnameinfo((const struct sockaddr *)ss, sl, host, sizeof host, serv, sizeof serv,
                              NI_NUMERICHOST | NI_NUMERICSERV) == 0)
        snprintf(buf, len, "%s%.46s%s:%.8s", ss->ss_family == AF_INET6 ? "[" : "", host,
                 ss->ss_family == AF_INET6 ? "]" : "", serv);
    else
        snprintf(buf, len, "fd %d", fd);
}

static peer_key key_of(const struct sockaddr_storage *ss)
{
    peer_key k;
    memset(&k, 0, sizeof k);
    if (ss->ss_family == AF_INET) {
        memcpy(k.addr, &((const struct sockaddr_in *)ss)->sin_addr, 4);
        k.len = 4;
    } else if (ss->ss_family == AF_INET6) {
        memcpy(k.addr, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
        k.len = 16;
    }
    return k;
}

/* ---- connections per address -------------------------------------------------- */

static size_t key_hash(const peer_key *k)
{
    uint64_t h = 1469598103934665603ull;            /* FNV-1a */
    for (int i = 0; i < k->len; i++)
        h = (h ^ k->addr[i]) * 1099511628211ull;
    return (size_t)(h ^ (h >> 29));
}

static int key_eq(const peer_key *a, const peer_key *b)
{
    return a->len == b->len && memcmp(a->addr, b->addr, a->len) == 0;
}

/* The slot of k, or the free slot where it would go. Under peer_lock. The
 * table never fills: it has twice max_clients slots and holds only
 * addresses with a connection. */
static peer_slot *peer_find(struct splitee_cloud *c, const peer_key *k)
{
    size_t mask = c->npeers - 1;
    for (size_t i = key_hash(k) & mask;; i = (i + 1) & mask)
        if (c->peers[i].key.len == 0 || key_eq(&c->peers[i].key, k))
            return &c->peers[i];
}

/* Forgets one connection of k; removes the address when it has none left
 * (backward-shift deletion, so probes stay unbroken). */
static void peer_release(struct splitee_cloud *c, const peer_key *k)
{
    if (k->len == 0)
        return;
    pthread_mutex_lock(&c->peer_lock);
    peer_slot *p = peer_find(c, k);
    if (p->key.len && --p->count <= 0) {
        size_t mask = c->npeers - 1, i = (size_t)(p - c->peers);
        for (size_t j = (i + 1) & mask; c->peers[j].key.len; j = (j + 1) & mask) {
            size_t home = key_hash(&c->peers[j].key) & mask;
            /* move j back into the hole at i unless its home lies in (i, j] */
            if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
                c->peers[i] = c->peers[j];
                i = j;
            }
        }
        memset(&c->peers[i], 0, sizeof c->peers[i]);
    }
    pthread_mutex_unlock(&c->peer_lock);
}

/* ---- one connection --------------------------------------------------------- */

static void conn_close(worker *w, conn *k, const char *why)
{
    if (why)
        logf_(w->c, "%s: closed: %s", k->peer, why);
    epoll_ctl(w->epfd, EPOLL_CTL_DEL, k->fd, NULL);
    k->tr.ops->close(&k->tr);
    if (k->prev)
        k->prev->next = k->next;
    else
        w->conns = k->next;
    if (k->next)
        k->next->prev = k->prev;
    if (k->ready) {
        conn **pp = &w->ready;
        while (*pp != k)
            pp = &(*pp)->ready_next;
        *pp = k->ready_next;
    }
    peer_release(w->c, &k->key);
    if (k->inflight)
        __atomic_fetch_sub(&w->inflight, 1, __ATOMIC_RELAXED);
    splitee_wire_parser_free(k->parser);
    free(k);
    __atomic_fetch_sub(&w->active, 1, __ATOMIC_RELAXED);
}

static int set_events(worker *w, conn *k, uint32_t events)
{
    if (k->events == events)
        return 0;
    struct epoll_event ev = { .events = events, .data.ptr = k };
    k->events = events;
    return epoll_ctl(w->epfd, EPOLL_CTL_MOD, k->fd, &ev);
}

/* Sends what is buffered; 0 when done or blocked, -1 on a dead socket. */
static int flush_out(conn *k)
{
    while (k->out_start < k->out_end) {
        ssize_t n = k->tr.ops->write(&k->tr, k->out + k->out_start, k->out_end - k->out_start);
        if (n > 0) {
            k->out_start += (size_t)n;
        } else if (n == SPLITEE__IO_AGAIN) {
            k->io_want = k->tr.want;
            return 0;
        } else {
            return -1;
        }
    }
    k->out_start = k->out_end = 0;
    return 0;
}

/* Makes room for one more frame in the output buffer. */
static void out_compact(conn *k)
{
    if (k->out_start > 0) {
        memmove(k->out, k->out + k->out_start, k->out_end - k->out_start);
        k->out_end -= k->out_start;
        k->out_start = 0;
    }
}

/* Room for one more answer in the output buffer. */
static int out_room(conn *k)
{
    out_compact(k);
    return OUT_CAP - k->out_end >= OUT_ROOM;
}
/* "max-softmax or entropy": the measures in mask, into buf. */
static void measure_list(unsigned mask, char *buf, size_t len)
{
    int n = 0, k = 0;
    for (int m = 0; m < SPLITEE_CONFIDENCE_COUNT; m++)
        n += (mask >> m) & 1;
    size_t used = 0;
    buf[0] = '\0';
    for (int m = 0; m < SPLITEE_CONFIDENCE_COUNT && used < len; m++)
        if ((mask >> m) & 1) {
            const char *sep = k == 0 ? "" : k == n - 1 ? " or " : ", ";
            used += (size_t)snprintf(buf + used, len - used, "%s%s", sep,
                                     splitee_confidence_name((splitee_confidence)m));
            k++;
        }
}

/* Computes one request into an output frame: the remaining layers and the
 * final exit with its confidence under the measure the request asks for, or
 * an error frame for a payload that does not fit the model or a measure
 * this cloud does not answer. The reply is in the request's version. */
static void answer(worker *w, conn *k, const splitee_wire_frame *f)
{
    const splitee_model_config *mc = splitee_model_get_config(w->c->model);
    splitee_error e = { 0, "" };
    size_t n = 0;
    unsigned char *dst = k->out + k->out_end;
    size_t cap = OUT_CAP - k->out_end;
    double t0 = now_us();
    splitee_payload_info info;
    int st = splitee_payload_peek(f->body, f->hdr.length, &info, &e);
    if (st == 0 && (info.layer != (int)f->hdr.layer || (int)info.encoding != f->hdr.encoding))
        st = splitee__fail(&e, SPLITEE_ERR_FORMAT,
                           "frame says layer %u encoding %d, payload says layer %d encoding %d",
                           (unsigned)f->hdr.layer, f->hdr.encoding, info.layer, (int)info.encoding);
    const splitee_confidence measure = f->hdr.confidence;
    int refused_measure = 0;
    if (st == 0 && !(w->c->cfg.confidences & (1u << measure))) {
        refused_measure = 1;
        char list[128];
        measure_list(w->c->cfg.confidences, list, sizeof list);
        st = splitee__fail(&e, SPLITEE_ERR_UNSUPPORTED,
                           "the request asks for the final exit's %s, this cloud answers %s",
                           splitee_confidence_name(measure), list);
    }
    if (st == 0)
        st = splitee_engine_import_payload(w->state, f->body, f->hdr.length, &e);
    if (st == 0)
        st = splitee_engine_run_layers(w->state, info.layer, mc->layers, &e);
    if (st == 0)
        st = splitee_engine_exit_logits(w->state, mc->layers - 1, w->logits, &e);
    if (st < 0) {
        splitee_wire_encode_error(&f->hdr, st, e.msg, dst, cap, &n, NULL);
        __atomic_fetch_add(&w->errors, 1, __ATOMIC_RELAXED);
        if (refused_measure)
            __atomic_fetch_add(&w->errors_measure, 1, __ATOMIC_RELAXED);
        logf_(w->c, "%s: request %u refused: %s", k->peer, (unsigned)f->hdr.id, e.msg);
    } else {
        for (int i = 0; i < mc->classes; i++)
            w->logits_d[i] = w->logits[i];
        int32_t pred;
        /* under the measure the device's exit rule uses (version 1: max-softmax) */
        double conf = splitee_confidence_of(w->logits_d, mc->classes, measure, &pred);
        double us = now_us() - t0;
        splitee_wire_response r = { (uint32_t)pred, (uint32_t)(mc->layers - 1), conf, us };
        splitee_wire_encode_response(&f->hdr, &r, dst, cap, &n, NULL);
        __atomic_fetch_add(&w->buckets[splitee_latency_bucket(us * 1e-6)], 1, __ATOMIC_RELAXED);
        __atomic_fetch_add(&w->requests, 1, __ATOMIC_RELAXED);
        w->compute_us += us;
    }
    k->out_end += n;
}

/* One turn of a connection: sends what is buffered, reads what arrived and
 * answers at most cfg.batch whole requests while the output buffer has
 * room, then registers what it waits for: input while answers have room
 * and the peer has not closed, output while answers wait, or the ready
 * list when the batch bound ended the turn. A peer that closed is closed
 * here once every whole request is answered and sent (a frame cut short
 * is logged). */
static void turn(worker *w, conn *k, double now)
{
    k->turn_at = w->iteration;
    int budget = w->c->cfg.batch;
    k->io_want = 0;
    if (k->handshaking) {
        /* TLS: one step of the handshake, never blocking the others; its
         * time counts as a frame's (sweep) */
        int h = k->tr.ops->handshake(&k->tr);
        if (h == SPLITEE__IO_ERROR) {
            __atomic_fetch_add(&w->dropped, 1, __ATOMIC_RELAXED);
            __atomic_fetch_add(&w->tls_failed, 1, __ATOMIC_RELAXED);
            conn_close(w, k, k->tr.why);
            return;
        }
        if (h == SPLITEE__IO_AGAIN) {
            if (set_events(w, k, (k->tr.want == POLLOUT ? EPOLLOUT : EPOLLIN) | EPOLLRDHUP) < 0) {
                char why[160];
                snprintf(why, sizeof why, "epoll: %s", strerror(errno));
                conn_close(w, k, why);
            }
            return;
        }
        k->handshaking = 0;
        k->frame_s = 0;
    }
    if (flush_out(k) < 0) {
        conn_close(w, k, k->tr.failed && k->tr.ssl ? k->tr.why : "send: connection lost");
        return;
    }
    for (;;) {
        while (budget > 0 && out_room(k)) {
            splitee_wire_frame f;
            splitee_error e;
            int rc = splitee_wire_parser_next(k->parser, &f, &e);
            if (rc == 0)
                break;
            if (rc < 0) {
                __atomic_fetch_add(&w->dropped, 1, __ATOMIC_RELAXED);
                conn_close(w, k, e.msg);
                return;
            }
            if (f.hdr.type != SPLITEE_WIRE_TYPE_REQUEST) {
                char why[128];
                snprintf(why, sizeof why, "wire: unexpected %s frame from a device",
                         splitee_wire_type_name(f.hdr.type));
                __atomic_fetch_add(&w->dropped, 1, __ATOMIC_RELAXED);
                conn_close(w, k, why);
                return;
            }
            answer(w, k, &f);
            budget--;
            k->last_req_s = now;
            k->frame_s = 0;                /* the next frame starts now */
        }
        if (budget == 0 || !out_room(k) || k->eof)
            break;
        size_t room;
        void *dst = splitee_wire_parser_space(k->parser, &room);
        if (room == 0)
            break;                         /* cannot happen: a whole frame would have been taken */
        ssize_t n = k->tr.ops->read(&k->tr, dst, room);
        if (n > 0) {
            splitee_wire_parser_commit(k->parser, (size_t)n);
            continue;
        }
        if (n == SPLITEE__IO_AGAIN) {
            k->io_want |= k->tr.want;
            break;
        }
        if (n == 0) {
            k->eof = 1;
            continue;                      /* answer what is buffered */
        }
        conn_close(w, k, k->tr.why);
        return;
    }
    if (flush_out(k) < 0) {
        conn_close(w, k, k->tr.failed && k->tr.ssl ? k->tr.why : "send: connection lost");
        return;
    }
    int waiting = k->out_end > k->out_start;
    int more = budget == 0;                /* whole frames may still be buffered */
    if (k->eof && !waiting && !more) {
        splitee_error e;
        if (splitee_wire_parser_eof(k->parser, &e) < 0) {
            __atomic_fetch_add(&w->dropped, 1, __ATOMIC_RELAXED);
            conn_close(w, k, e.msg);
        } else {
            conn_close(w, k, NULL);        /* a clean goodbye is not logged */
        }
        return;
    }
    int reading = !k->eof && !more && out_room(k);
    if (reading && k->frame_s == 0 && splitee_wire_parser_pending(k->parser) > 0)
        k->frame_s = now;                  /* a frame has begun */
    if (!reading)
        k->frame_s = 0;                    /* not its fault while it is not read */
    if (more && !k->ready) {
        k->ready = 1;
        k->ready_next = w->ready;
        w->ready = k;
    }
    /* request bytes read and not answered: in the parser, or decrypted and
     * waiting in the TLS session */
    int inflight = more || waiting || splitee_wire_parser_pending(k->parser) > 0 ||
                   k->tr.ops->pending(&k->tr) > 0;
    if (inflight != k->inflight) {
        __atomic_fetch_add(&w->inflight, inflight ? 1 : -1, __ATOMIC_RELAXED);
        k->inflight = inflight;
    }
    /* TLS may need the other direction for a read or a write (a key update) */
    uint32_t ev = (reading || (k->io_want & POLLIN) ? EPOLLIN | EPOLLRDHUP : 0) |
                  (waiting || (k->io_want & POLLOUT) ? EPOLLOUT : 0);
    if (set_events(w, k, ev) < 0) {
        char why[160];
        snprintf(why, sizeof why, "epoll: %s", strerror(errno));
        conn_close(w, k, why);
    }
}

/* Closes the connections past their idle or frame timeout. */
static void sweep(worker *w, double now)
{
    const splitee_cloud_config *cfg = &w->c->cfg;
    for (conn *k = w->conns, *next; k; k = next) {
        next = k->next;
        char why[160];
        if (cfg->frame_timeout_s > 0 && k->handshaking && now - k->frame_s > cfg->frame_timeout_s)
            snprintf(why, sizeof why, "timeout: the TLS handshake begun %.3f s ago is still "
                     "incomplete (frame timeout %g s)", now - k->frame_s, cfg->frame_timeout_s);
        else if (cfg->frame_timeout_s > 0 && k->frame_s > 0 && now - k->frame_s > cfg->frame_timeout_s)
            snprintf(why, sizeof why, "timeout: a frame begun %.3f s ago is still incomplete "
                     "(%zu bytes; frame timeout %g s)", now - k->frame_s,
                     splitee_wire_parser_pending(k->parser), cfg->frame_timeout_s);
        else if (cfg->idle_timeout_s > 0 && now - k->last_req_s > cfg->idle_timeout_s)
            snprintf(why, sizeof why, "timeout: no request for %.3f s (idle timeout %g s)",
                     now - k->last_req_s, cfg->idle_timeout_s);
        else
            continue;
        __atomic_fetch_add(&w->timed_out, 1, __ATOMIC_RELAXED);
        conn_close(w, k, why);
    }
}

/* ---- drain -------------------------------------------------------------------
 *
 * The acceptor closes the listening socket first, then wakes the workers
 * (wdrain_fd). Each worker then gives every connection a turn, reading
 * what has arrived, and from then on, after every iteration, closes the
 * connections that hold nothing unanswered: no bytes in the parser, no
 * answer waiting to be sent, not on the ready list. A request read in part
 * or in whole keeps its connection served until it is answered; bytes that
 * arrive after the answer (a device's next request) are read and dropped
 * at the close, so the peer sees an orderly end of stream after its last
 * answer and retries elsewhere. At the drain deadline what is left is
 * closed (logged). A worker with no connection left exits its loop. */

/* 1 when k holds no request bytes it has read and not answered (TLS: none
 * decrypted and waiting in the session either). */
static int conn_idle(conn *k)
{
    return !k->ready && k->out_end == k->out_start && splitee_wire_parser_pending(k->parser) == 0 &&
           k->tr.ops->pending(&k->tr) == 0;
}

static void drain_sweep(worker *w, double now, double deadline)
{
    for (conn *k = w->conns, *next; k; k = next) {
        next = k->next;
        if (conn_idle(k)) {
            /* unread bytes at close would reset the connection: take a
             * bounded amount first (a next request, refused by the close) */
            char sink[4096];
            for (int i = 0; i < 16 && recv(k->fd, sink, sizeof sink, MSG_DONTWAIT) > 0; i++) {
            }
            __atomic_fetch_add(&w->drained, 1, __ATOMIC_RELAXED);
            conn_close(w, k, NULL);
        } else if (now >= deadline) {
            __atomic_fetch_add(&w->drain_cut, 1, __ATOMIC_RELAXED);
            conn_close(w, k, "drain: closed at the drain timeout with a request unanswered");
        }
    }
}

/* An accepted connection handed over by the acceptor (see accept_all). */
typedef struct handover {
    int fd;
    peer_key key;
    char peer[64];
} handover;

static void adopt(worker *w, const handover *h)
{
    conn *k = calloc(1, sizeof *k);
    splitee_error e;
    if (!k || splitee_wire_parser_create(w->c->max_frame, &k->parser, &e) < 0) {
        logf_(w->c, "%s: closed: out of memory for the connection", h->peer);
        free(k);
        close(h->fd);
        peer_release(w->c, &h->key);
        __atomic_fetch_sub(&w->active, 1, __ATOMIC_RELAXED);
        return;
    }
    if (splitee__transport_open(&k->tr, h->fd, w->c->tls, 1, NULL, &e) < 0) {   /* closes fd */
        logf_(w->c, "%s: closed: %s", h->peer, e.msg);
        splitee_wire_parser_free(k->parser);
        free(k);
        peer_release(w->c, &h->key);
        __atomic_fetch_sub(&w->active, 1, __ATOMIC_RELAXED);
        return;
    }
    k->fd = h->fd;
    k->key = h->key;
    memcpy(k->peer, h->peer, sizeof k->peer);
    k->last_req_s = now_s();
    k->handshaking = w->c->tls != NULL;
    k->frame_s = k->handshaking ? k->last_req_s : 0;   /* the handshake is timed like a frame */
    k->events = EPOLLIN | EPOLLRDHUP;
    struct epoll_event ev = { .events = k->events, .data.ptr = k };
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, k->fd, &ev) < 0) {
        logf_(w->c, "%s: closed: epoll: %s", k->peer, strerror(errno));
        splitee_wire_parser_free(k->parser);
        k->tr.ops->close(&k->tr);
        free(k);
        peer_release(w->c, &h->key);
        __atomic_fetch_sub(&w->active, 1, __ATOMIC_RELAXED);
        return;
    }
    k->next = w->conns;
    if (w->conns)
        w->conns->prev = k;
    w->conns = k;
}

/* Sentinels for epoll data.ptr: the hand-over pipe, the stop and drain eventfds. */
static char tag_pipe, tag_stop, tag_drain;

/* The loop: wait for events (at most one tick while timeouts are on, not at
 * all while the ready list has work), give each connection with an event
 * one turn (those whose peer closed first), then each on the ready list
 * one turn, then check the
 * timeouts once per tick. A turn is bounded by cfg.batch requests, so an
 * iteration is bounded, and a closed connection's slot is freed within
 * one. */
static void *worker_main(void *arg)
{
    worker *w = arg;
    const double tick = w->c->tick_s;
    double next_sweep = now_s() + tick;
    double drain_deadline = 0;       /* > 0: draining until then */
    struct epoll_event evs[64];
    for (;;) {
        int timeout_ms = w->ready ? 0 : drain_deadline > 0 ? 10 : tick > 0 ? (int)(tick * 1000) + 1 : -1;
        int n = epoll_wait(w->epfd, evs, 64, timeout_ms);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        w->iteration++;
        double now = now_s();
        int stop = 0, drain_begins = 0;
        /* Two passes: first the connections whose peer closed or failed
         * (their slots come back before any other compute of this
         * iteration), then the rest. A connection closed in the first pass
         * cannot appear in the second: each fd is reported once per call. */
        const uint32_t gone = EPOLLRDHUP | EPOLLHUP | EPOLLERR;
        for (int pass = 0; pass < 2; pass++)
            for (int i = 0; i < n; i++) {
                void *ptr = evs[i].data.ptr;
                if (ptr == &tag_stop) {
                    stop = 1;
                } else if (ptr == &tag_drain) {
                    if (drain_deadline == 0) {
                        drain_deadline = now + w->c->cfg.drain_timeout_s;
                        drain_begins = 1;
                        epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->c->wdrain_fd, NULL);
                    }
                } else if (ptr == &tag_pipe) {
                    if (pass == 1) {
                        handover hs[32];
                        ssize_t got = read(w->pipe_rd, hs, sizeof hs);
                        for (ssize_t j = 0; j < got / (ssize_t)sizeof(handover); j++)
                            adopt(w, &hs[j]);
                    }
                } else if ((pass == 0) == !!(evs[i].events & gone)) {
                    conn *k = ptr;
                    if (k->turn_at != w->iteration)
                        turn(w, k, now);
                }
            }
        if (stop)
            break;
        /* a drain begins: every connection reads what has arrived (after
         * the passes, which hold pointers to connections a turn may close) */
        for (conn *k = w->conns, *next; drain_begins && k; k = next) {
            next = k->next;                /* a turn closes at most k */
            if (k->turn_at != w->iteration)
                turn(w, k, now);
        }
        conn *ready = w->ready;
        w->ready = NULL;
        while (ready) {
            conn *k = ready;
            ready = k->ready_next;
            k->ready = 0;
            if (k->turn_at != w->iteration)
                turn(w, k, now);
            else if (!k->ready) {          /* it had its turn: next iteration */
                k->ready = 1;
                k->ready_next = w->ready;
                w->ready = k;
            }
        }
        if (tick > 0 && now >= next_sweep) {
            sweep(w, now);
            next_sweep = now + tick;
        }
        if (drain_deadline > 0) {
            drain_sweep(w, now_s(), drain_deadline);
            if (!w->conns) {
                handover hs[32];        /* one accepted just before the listener closed */
                ssize_t got = read(w->pipe_rd, hs, sizeof hs);
                for (ssize_t j = 0; j < got / (ssize_t)sizeof(handover); j++)
                    adopt(w, &hs[j]);
                if (w->conns)
                    continue;
                __atomic_fetch_add(&w->c->workers_done, 1, __ATOMIC_RELEASE);
                break;
            }
        }
    }
    while (w->conns)
        conn_close(w, w->conns, NULL);
    return NULL;
}

/* ---- metrics ------------------------------------------------------------------
 *
 * The metrics endpoint's HTTP clients, served by the acceptor's poll loop
 * (never by a worker): each gets a slot of HTTP_CLIENTS (more are closed
 * at accept), a request head of at most HTTP_HEAD_MAX bytes (else 431) and
 * HTTP_DEADLINE_S from accept to the last byte of its answer (else it is
 * closed). Every answer closes the connection (HTTP/1.0 and 1.1 alike):
 * GET or HEAD /metrics is 200 with the page (metrics.h), another path 404,
 * another method 405, a bad request line 400. The page is rendered into a
 * buffer of the server's (c->http_page), by the acceptor only. */

#define HTTP_CLIENTS 16
#define HTTP_HEAD_MAX SPLITEE__HTTP_HEAD_MAX
#define HTTP_OUT_MAX 16384
#define HTTP_PAGE_MAX (HTTP_OUT_MAX - 256)   /* room for the response head */
#define HTTP_DEADLINE_S 2.0

typedef struct http_client {
    int fd;                          /* -1: free */
    size_t in_len;
    char in[HTTP_HEAD_MAX];
    char *out;                       /* (HTTP_OUT_MAX), allocated at create */
    size_t out_len, out_off;         /* out_len > 0: answering */
    double deadline;                 /* monotonic seconds */
} http_client;

static int http_create(splitee_cloud *c, splitee_error *err)
{
    c->http = calloc(HTTP_CLIENTS, sizeof *c->http);
    c->http_page = malloc(HTTP_PAGE_MAX);
    if (!c->http || !c->http_page)
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "cloud: out of memory");
    for (int i = 0; i < HTTP_CLIENTS; i++) {
        c->http[i].fd = -1;
        if (!(c->http[i].out = malloc(HTTP_OUT_MAX)))
            return splitee__fail(err, SPLITEE_ERR_NOMEM, "cloud: out of memory");
    }
    return 0;
}

static void http_close(http_client *h)
{
    if (h->fd >= 0) {
        /* unread bytes at close would reset the connection and could lose
         * the answer on the way: take (a bounded amount of) them first */
        char sink[4096];
        for (int i = 0; i < 16 && recv(h->fd, sink, sizeof sink, MSG_DONTWAIT) > 0; i++) {
        }
        close(h->fd);
    }
    h->fd = -1;
    h->in_len = h->out_len = h->out_off = 0;
}

static void http_free(splitee_cloud *c)
{
    for (int i = 0; c->http && i < HTTP_CLIENTS; i++) {
        http_close(&c->http[i]);
        free(c->http[i].out);
    }
    free(c->http);
    free(c->http_page);
    c->http = NULL;
    c->http_page = NULL;
}

static void http_accept(splitee_cloud *c)
{
    for (;;) {
        int fd = accept4(c->metrics_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return;
        }
        http_client *h = NULL;
        for (int i = 0; i < HTTP_CLIENTS && !h; i++)
            if (c->http[i].fd < 0)
                h = &c->http[i];
        if (!h) {
            close(fd);                 /* every slot busy: try again later */
            continue;
        }
        h->fd = fd;
        h->in_len = h->out_len = h->out_off = 0;
        h->deadline = now_s() + HTTP_DEADLINE_S;
    }
}

/* The answer to the request head in h->in (whole: it ended in a blank
 * line; else it filled the buffer, 431), into h->out. */
static void http_answer(splitee_cloud *c, http_client *h, int whole)
{
    static const char *const reason[] = { "200 OK", "400 Bad Request", "404 Not Found",
                                          "405 Method Not Allowed", "431 Request Header Fields Too Large",
                                          "500 Internal Server Error" };
    int head_only;
    int code = (int)splitee__http_request(h->in, h->in_len, whole, &head_only);
    char *page = c->http_page;
    const size_t cap = HTTP_PAGE_MAX;
    size_t plen = 0;
    const char *type = "text/plain; charset=utf-8";
    if (code == 0) {
        splitee_cloud_stats s;
        splitee_cloud_get_stats(c, &s);
        if (splitee__cloud_metrics_text(&s, page, cap, &plen) < 0) {
            code = 5;                  /* cannot happen: the page is ~2.5 KB */
            plen = (size_t)snprintf(page, cap, "metrics page too large\n");
        } else {
            type = "text/plain; version=0.0.4; charset=utf-8";
            __atomic_fetch_add(&c->scrapes, 1, __ATOMIC_RELAXED);
        }
    } else {
        plen = (size_t)snprintf(page, cap, "%s\n", reason[code] + 4);
    }
    int n = snprintf(h->out, HTTP_OUT_MAX,
                     "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n", reason[code], type, plen);
    size_t len = (size_t)n;
    if (!head_only && len + plen <= HTTP_OUT_MAX) {
        memcpy(h->out + len, page, plen);
        len += plen;
    }
    h->out_len = len;
    h->out_off = 0;
}

/* One poll result for a client: read its head, or send its answer; closes
 * it when done, on error, or past its deadline. */
static void http_step(splitee_cloud *c, http_client *h, short revents, double now)
{
    if (h->fd < 0)
        return;
    if (h->out_len == 0 && (revents & (POLLIN | POLLHUP | POLLERR))) {
        ssize_t n = recv(h->fd, h->in + h->in_len, sizeof h->in - h->in_len, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            http_close(h);
            return;
        }
        if (n > 0) {
            size_t from = h->in_len > 3 ? h->in_len - 3 : 0;
            h->in_len += (size_t)n;
            int whole = splitee__http_head_whole(h->in, from, h->in_len);
            if (whole || h->in_len == sizeof h->in)
                http_answer(c, h, whole);   /* a full buffer without a blank line: 431 */
        }
    }
    if (h->out_len > 0 && (revents & POLLOUT)) {
        ssize_t n = send(h->fd, h->out + h->out_off, h->out_len - h->out_off, MSG_NOSIGNAL);
        if (n > 0)
            h->out_off += (size_t)n;
        if ((n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) ||
            h->out_off == h->out_len) {
            http_close(h);
            return;
        }
    }
    if (now >= h->deadline)
        http_close(h);
}

/* ---- the server ------------------------------------------------------------- */

static int listen_on(const char *host, int port, int *fd_out, int *port_out, splitee_error *err)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    int gr = getaddrinfo(host, ps, &hints, &res);
    if (gr != 0)
        return splitee__fail(err, SPLITEE_ERR_ARG, "%s: not a numeric address (%s)", host,
                             gai_strerror(gr));
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 1024) < 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return splitee__fail(err, SPLITEE_ERR_IO, "%s:%d: cannot listen: %s", host, port, strerror(e));
    }
    freeaddrinfo(res);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *port_out = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                         : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    *fd_out = fd;
    return 0;
}

void splitee_cloud_free(splitee_cloud *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->nworkers; i++) {
        worker *w = &c->workers[i];
        splitee_engine_state_free(w->state);
        free(w->logits);
        free(w->logits_d);
        if (w->epfd >= 0)
            close(w->epfd);
        if (w->pipe_rd >= 0)
            close(w->pipe_rd);
        if (w->pipe_wr >= 0)
            close(w->pipe_wr);
    }
    free(c->workers);
    if (c->listen_fd >= 0)
        close(c->listen_fd);
    if (c->stop_fd >= 0)
        close(c->stop_fd);
    if (c->drain_fd >= 0)
        close(c->drain_fd);
    if (c->wdrain_fd >= 0)
        close(c->wdrain_fd);
    if (c->metrics_fd >= 0)
        close(c->metrics_fd);
    http_free(c);
    free(c->peers);
    splitee__tls_ctx_free(c->tls);
    pthread_mutex_destroy(&c->peer_lock);
    pthread_mutex_destroy(&c->log_lock);
    free(c);
}

int splitee_cloud_create(const splitee_model *model, const splitee_cloud_config *cfg,
                         splitee_cloud **out, splitee_error *err)
{
    *out = NULL;
    if (!model || !cfg || !cfg->host)
        return splitee__fail(err, SPLITEE_ERR_ARG, "cloud: NULL model or config");
    if (cfg->workers < 1 || cfg->workers > 256)
        return splitee__fail(err, SPLITEE_ERR_ARG, "--workers: %d (1..256)", cfg->workers);
    if (cfg->max_clients < 1)
        return splitee__fail(err, SPLITEE_ERR_ARG, "--max-clients: %d (at least 1)", cfg->max_clients);
    if (cfg->max_per_peer < 1)
        return splitee__fail(err, SPLITEE_ERR_ARG, "--max-per-peer: %d (at least 1)", cfg->max_per_peer);
    if (!(cfg->idle_timeout_s >= 0) || !isfinite(cfg->idle_timeout_s))
        return splitee__fail(err, SPLITEE_ERR_ARG, "--idle-timeout: %g (seconds, 0 or more)",
                             cfg->idle_timeout_s);
    if (!(cfg->frame_timeout_s >= 0) || !isfinite(cfg->frame_timeout_s))
        return splitee__fail(err, SPLITEE_ERR_ARG, "--frame-timeout: %g (seconds, 0 or more)",
                             cfg->frame_timeout_s);
    if (cfg->batch < 1)
        return splitee__fail(err, SPLITEE_ERR_ARG, "cloud: batch %d (at least 1)", cfg->batch);
    if (!(cfg->drain_timeout_s > 0) || !isfinite(cfg->drain_timeout_s))
        return splitee__fail(err, SPLITEE_ERR_ARG, "--drain-timeout: %g (seconds, more than 0)",
                             cfg->drain_timeout_s);
    if (cfg->metrics_host && (strlen(cfg->metrics_host) >= 128 || cfg->metrics_port < 0 ||
                              cfg->metrics_port > 65535))
        return splitee__fail(err, SPLITEE_ERR_ARG, "--metrics: bad address or port %d",
                             cfg->metrics_port);
    if (strlen(cfg->host) >= 128)
        return splitee__fail(err, SPLITEE_ERR_ARG, "cloud: address too long");
    if (cfg->port < 0 || cfg->port > 65535)
        return splitee__fail(err, SPLITEE_ERR_ARG, "port %d (0..65535)", cfg->port);
    if (cfg->confidences == 0 || (cfg->confidences & ~SPLITEE_CLOUD_ALL_CONFIDENCES))
        return splitee__fail(err, SPLITEE_ERR_ARG,
                             "--confidence: the cloud must answer at least one known measure "
                             "(mask 0x%x)", cfg->confidences);
    int tls = cfg->tls_cert || cfg->tls_key || cfg->tls_ca;
    if (!tls && !cfg->insecure_plaintext && !splitee__host_is_loopback(cfg->host))
        return splitee__fail(err, SPLITEE_ERR_ARG,
                             "--listen %s: plaintext on an address that is not loopback; give "
                             "--tls-cert, --tls-key and --tls-ca (docs/LIVE.md), or "
                             "--insecure-plaintext", cfg->host);
    splitee_cloud *c = calloc(1, sizeof *c);
    if (!c)
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "cloud: out of memory");
    if (tls) {
        int ts = splitee__tls_ctx_create(1, cfg->tls_cert, cfg->tls_key, cfg->tls_ca, &c->tls, err);
        if (ts < 0) {
            free(c);
            return ts;
        }
    }
    pthread_mutex_init(&c->log_lock, NULL);
    pthread_mutex_init(&c->peer_lock, NULL);
    c->model = model;
    c->cfg = *cfg;
    strcpy(c->host, cfg->host);
    c->cfg.host = c->host;
    c->cfg.tls_cert = c->cfg.tls_key = c->cfg.tls_ca = NULL;   /* loaded; not kept */
    c->listen_fd = c->stop_fd = c->drain_fd = c->wdrain_fd = c->metrics_fd = -1;
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    c->start_time_s = (double)wall.tv_sec + (double)wall.tv_nsec * 1e-9;
    const splitee_model_config *mc = splitee_model_get_config(model);
    size_t f32 = splitee_model_max_payload_size(model, SPLITEE_PAYLOAD_ENCODING_F32);
    size_t i8 = splitee_model_max_payload_size(model, SPLITEE_PAYLOAD_ENCODING_I8);   /* larger for 1 value */
    c->max_frame = SPLITEE_WIRE_HEADER_SIZE + (f32 > i8 ? f32 : i8);
    c->workers = calloc((size_t)cfg->workers, sizeof *c->workers);
    if (!c->workers) {
        splitee_cloud_free(c);
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "cloud: out of memory");
    }
    c->nworkers = cfg->workers;
    c->npeers = 16;
    while (c->npeers < 2 * (size_t)cfg->max_clients + 2)
        c->npeers *= 2;
    c->peers = calloc(c->npeers, sizeof *c->peers);
    if (!c->peers) {
        splitee_cloud_free(c);
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "cloud: out of memory");
    }
    double shortest = 0;
    if (cfg->idle_timeout_s > 0)
        shortest = cfg->idle_timeout_s;
    if (cfg->frame_timeout_s > 0 && (shortest == 0 || cfg->frame_timeout_s < shortest))
        shortest = cfg->frame_timeout_s;
    c->tick_s = shortest > 0 ? fmin(fmax(shortest / 4, 0.005), 0.25) : 0;
    for (int i = 0; i < c->nworkers; i++) {
        worker *w = &c->workers[i];
        w->c = c;
        w->epfd = w->pipe_rd = w->pipe_wr = -1;
    }
    c->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    c->drain_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    c->wdrain_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (c->stop_fd < 0 || c->drain_fd < 0 || c->wdrain_fd < 0) {
        int e = errno;
        splitee_cloud_free(c);
        return splitee__fail(err, SPLITEE_ERR_IO, "cloud: eventfd: %s", strerror(e));
    }
    for (int i = 0; i < c->nworkers; i++) {
        worker *w = &c->workers[i];
        int st = splitee_engine_state_create(model, &w->state, err);
        if (st < 0) {
            splitee_cloud_free(c);
            return st;
        }
        w->logits = malloc((size_t)mc->classes * sizeof *w->logits);
        w->logits_d = malloc((size_t)mc->classes * sizeof *w->logits_d);
        if (!w->logits || !w->logits_d) {
            splitee_cloud_free(c);
            return splitee__fail(err, SPLITEE_ERR_NOMEM, "cloud: out of memory");
        }
        int p[2];
        w->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (w->epfd < 0 || pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) {
            int e = errno;
            splitee_cloud_free(c);
            return splitee__fail(err, SPLITEE_ERR_IO, "cloud: epoll/pipe: %s", strerror(e));
        }
        w->pipe_rd = p[0];
        w->pipe_wr = p[1];
        struct epoll_event e1 = { .events = EPOLLIN, .data.ptr = &tag_pipe };
        struct epoll_event e2 = { .events = EPOLLIN, .data.ptr = &tag_stop };
        struct epoll_event e3 = { .events = EPOLLIN, .data.ptr = &tag_drain };
        epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->pipe_rd, &e1);
        epoll_ctl(w->epfd, EPOLL_CTL_ADD, c->stop_fd, &e2);
        epoll_ctl(w->epfd, EPOLL_CTL_ADD, c->wdrain_fd, &e3);
    }
    int st = listen_on(cfg->host, cfg->port, &c->listen_fd, &c->port, err);
    if (st == 0 && cfg->metrics_host) {
        strcpy(c->metrics_host, cfg->metrics_host);
        c->cfg.metrics_host = c->metrics_host;
        st = http_create(c, err);
        if (st == 0)
            st = listen_on(cfg->metrics_host, cfg->metrics_port, &c->metrics_fd, &c->metrics_port, err);
    }
    if (st < 0) {
        splitee_cloud_free(c);
        return st;
    }
    *out = c;
    return 0;
}

int splitee_cloud_port(const splitee_cloud *c)
{
    return c->port;
}

void splitee_cloud_stop(splitee_cloud *c)
{
    uint64_t one = 1;
    ssize_t r = write(c->stop_fd, &one, sizeof one);
    (void)r;
}

void splitee_cloud_drain(splitee_cloud *c)
{
    uint64_t one = 1;
    ssize_t r = write(c->drain_fd, &one, sizeof one);
    (void)r;
}

int splitee_cloud_metrics_port(const splitee_cloud *c)
{
    return c->metrics_fd >= 0 ? c->metrics_port : 0;
}

static int total_active(const splitee_cloud *c, int *least)
{
    int sum = 0, best = -1;
    *least = 0;
    for (int i = 0; i < c->nworkers; i++) {
        int a = __atomic_load_n(&c->workers[i].active, __ATOMIC_RELAXED);
        sum += a;
        if (best < 0 || a < best) {
            best = a;
            *least = i;
        }
    }
    return sum;
}

/* Counts one more connection from k unless it has max_per_peer already:
 * 0 counted, -1 refused (with the line to log in `line`, or "" when this
 * address's refusals were logged less than a second ago). */
static int peer_admit(splitee_cloud *c, const peer_key *k, const char *peer, char *line, size_t len)
{
    line[0] = '\0';
    if (k->len == 0)
        return 0;
    pthread_mutex_lock(&c->peer_lock);
    peer_slot *p = peer_find(c, k);
    int rc = 0;
    if (p->key.len && p->count >= c->cfg.max_per_peer) {
        double now = now_s();
        p->refused++;
        if (p->logged_s == 0 || now - p->logged_s >= 1.0) {
            if (p->refused > 1)
                snprintf(line, len, "%s: closed: refused, %d connections from this address already "
                         "(max-per-peer; %llu refused since the last such line)", peer, p->count,
                         (unsigned long long)p->refused);
            else
                snprintf(line, len, "%s: closed: refused, %d connections from this address already "
                         "(max-per-peer)", peer, p->count);
            p->refused = 0;
            p->logged_s = now;
        }
        rc = -1;
    } else {
        if (!p->key.len)
            p->key = *k;
        p->count++;
    }
    pthread_mutex_unlock(&c->peer_lock);
    return rc;
}

static void accept_all(splitee_cloud *c)
{
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(c->listen_fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                logf_(c, "accept: %s", strerror(errno));
            return;
        }
        handover h;
        memset(&h, 0, sizeof h);
        h.fd = fd;
        addr_name(&ss, sl, fd, h.peer, sizeof h.peer);
        int least;
        if (total_active(c, &least) >= c->cfg.max_clients) {
            logf_(c, "%s: closed: refused, %d clients already (max-clients)", h.peer,
                  c->cfg.max_clients);
            __atomic_fetch_add(&c->rejected, 1, __ATOMIC_RELAXED);   /* counted before the peer sees it */
            close(fd);
            continue;
        }
        h.key = key_of(&ss);
        char line[256];
        if (peer_admit(c, &h.key, h.peer, line, sizeof line) < 0) {
            if (line[0])
                logf_(c, "%s", line);
            __atomic_fetch_add(&c->rejected_peer, 1, __ATOMIC_RELAXED);
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        worker *w = &c->workers[least];
        __atomic_fetch_add(&w->active, 1, __ATOMIC_RELAXED);
        __atomic_fetch_add(&c->connections, 1, __ATOMIC_RELAXED);
        /* one write of at most PIPE_BUF bytes is atomic: the worker reads whole hand-overs */
        if (write(w->pipe_wr, &h, sizeof h) != (ssize_t)sizeof h) {
            logf_(c, "accept: cannot hand over a connection: %s", strerror(errno));
            close(fd);
            peer_release(c, &h.key);
            __atomic_fetch_sub(&w->active, 1, __ATOMIC_RELAXED);
        }
    }
}

/* Closes the listener (new connections are refused from now on), then
 * wakes the workers into their drain. */
static void begin_drain(splitee_cloud *c)
{
    accept_all(c);                     /* the backlog is served, not reset */
    close(c->listen_fd);
    c->listen_fd = -1;
    __atomic_store_n(&c->draining, 1, __ATOMIC_RELAXED);
    logf_(c, "draining: not accepting; answering what is in flight (drain timeout %g s)",
          c->cfg.drain_timeout_s);
    uint64_t one = 1;
    ssize_t r = write(c->wdrain_fd, &one, sizeof one);
    (void)r;
}

int splitee_cloud_run(splitee_cloud *c, splitee_error *err)
{
    int started = 0, st = 0;
    for (; started < c->nworkers; started++) {
        int e = pthread_create(&c->workers[started].thread, NULL, worker_main, &c->workers[started]);
        if (e != 0) {
            st = splitee__fail(err, SPLITEE_ERR_IO, "cloud: cannot start worker %d: %s", started,
                               strerror(e));
            splitee_cloud_stop(c);
            break;
        }
    }
    if (st == 0)
        logf_(c, "listening on %s%s%s:%d, %d workers, max %d clients, %d per address%s", strchr(c->cfg.host, ':') ? "[" : "",
              c->cfg.host, strchr(c->cfg.host, ':') ? "]" : "", c->port, c->nworkers, c->cfg.max_clients,
              c->cfg.max_per_peer, c->tls ? ", TLS 1.3 with device certificates" : "");
    if (st == 0 && c->metrics_fd >= 0)
        logf_(c, "metrics on http://%s%s%s:%d/metrics", strchr(c->metrics_host, ':') ? "[" : "",
              c->metrics_host, strchr(c->metrics_host, ':') ? "]" : "", c->metrics_port);
    /* the acceptor's poll loop: the listener (until a drain), stop, drain,
     * the metrics listener and its HTTP clients */
    struct pollfd pf[4 + HTTP_CLIENTS];
    http_client *who[4 + HTTP_CLIENTS];
    while (st == 0) {
        int draining = __atomic_load_n(&c->draining, __ATOMIC_RELAXED);
        if (draining && __atomic_load_n(&c->workers_done, __ATOMIC_ACQUIRE) == c->nworkers)
            break;
        int np = 0;
        pf[np++] = (struct pollfd){ c->stop_fd, POLLIN, 0 };
        pf[np++] = (struct pollfd){ draining ? -1 : c->drain_fd, POLLIN, 0 };
        pf[np++] = (struct pollfd){ c->listen_fd, POLLIN, 0 };       /* -1 once drained */
        pf[np++] = (struct pollfd){ c->metrics_fd, POLLIN, 0 };
        double now = now_s();
        int timeout_ms = draining ? 10 : -1;
        for (int i = 0; c->http && i < HTTP_CLIENTS; i++) {
            http_client *h = &c->http[i];
            if (h->fd < 0)
                continue;
            who[np] = h;
            pf[np++] = (struct pollfd){ h->fd, h->out_len ? POLLOUT : POLLIN, 0 };
            int left = (int)ceil((h->deadline - now) * 1000);
            if (left < 0)
                left = 0;
            if (timeout_ms < 0 || left < timeout_ms)
                timeout_ms = left;
        }
        int n = poll(pf, (nfds_t)np, timeout_ms);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || (pf[0].revents & POLLIN))
            break;
        if (pf[1].revents & POLLIN)
            begin_drain(c);
        else if (pf[2].revents & POLLIN)
            accept_all(c);
        if (pf[3].revents & POLLIN)
            http_accept(c);
        now = now_s();
        for (int i = 4; i < np; i++)
            http_step(c, who[i], pf[i].revents, now);
    }
    splitee_cloud_stop(c);
    for (int i = 0; i < started; i++)
        pthread_join(c->workers[i].thread, NULL);
    for (int i = 0; c->http && i < HTTP_CLIENTS; i++)
        http_close(&c->http[i]);
    if (st == 0 && __atomic_load_n(&c->draining, __ATOMIC_RELAXED)) {
        splitee_cloud_stats s;
        splitee_cloud_get_stats(c, &s);
        logf_(c, "drained: %llu connections closed once answered, %llu closed at the drain "
              "timeout (%g s)", (unsigned long long)s.drained, (unsigned long long)s.drain_cut,
              c->cfg.drain_timeout_s);
    }
    if (st == 0) {
        splitee_cloud_stats s;
        splitee_cloud_get_stats(c, &s);
        logf_(c, "stopped after %llu connections, %llu requests, %llu errors, %llu dropped, "
              "%llu timed out, %llu refused",
              (unsigned long long)s.connections, (unsigned long long)s.requests,
              (unsigned long long)s.errors, (unsigned long long)s.dropped,
              (unsigned long long)s.timed_out, (unsigned long long)(s.rejected + s.rejected_peer));
    }
    return st;
}

void splitee_cloud_get_stats(const splitee_cloud *c, splitee_cloud_stats *st)
{
    memset(st, 0, sizeof *st);
    st->connections = __atomic_load_n(&c->connections, __ATOMIC_RELAXED);
    st->rejected = __atomic_load_n(&c->rejected, __ATOMIC_RELAXED);
    st->rejected_peer = __atomic_load_n(&c->rejected_peer, __ATOMIC_RELAXED);
    st->draining = __atomic_load_n(&c->draining, __ATOMIC_RELAXED);
    st->scrapes = __atomic_load_n(&c->scrapes, __ATOMIC_RELAXED);
    st->start_time_s = c->start_time_s;
    uint64_t measure = 0;
    for (int i = 0; i < c->nworkers; i++) {
        const worker *w = &c->workers[i];
        measure += __atomic_load_n(&w->errors_measure, __ATOMIC_RELAXED);
        st->inflight += (uint64_t)__atomic_load_n(&w->inflight, __ATOMIC_RELAXED);
        st->drained += __atomic_load_n(&w->drained, __ATOMIC_RELAXED);
        st->drain_cut += __atomic_load_n(&w->drain_cut, __ATOMIC_RELAXED);
        for (int k = 0; k <= SPLITEE_LATENCY_BUCKETS; k++)
            st->service_buckets[k] += __atomic_load_n(&w->buckets[k], __ATOMIC_RELAXED);
        st->requests += __atomic_load_n(&w->requests, __ATOMIC_RELAXED);
        st->errors += __atomic_load_n(&w->errors, __ATOMIC_RELAXED);
        st->dropped += __atomic_load_n(&w->dropped, __ATOMIC_RELAXED);
        st->tls_failed += __atomic_load_n(&w->tls_failed, __ATOMIC_RELAXED);
        st->timed_out += __atomic_load_n(&w->timed_out, __ATOMIC_RELAXED);
        st->clients += (uint64_t)__atomic_load_n(&w->active, __ATOMIC_RELAXED);
        st->compute_us += w->compute_us;
    }
    st->service_s = st->compute_us * 1e-6;
    st->errors_by_kind[SPLITEE_CLOUD_ERR_PAYLOAD] = st->errors - measure;
    st->errors_by_kind[SPLITEE_CLOUD_ERR_MEASURE] = measure;
    /* the two counters are read apart while workers count: never below 0 */
    st->errors_by_kind[SPLITEE_CLOUD_ERR_PROTOCOL] = st->dropped > st->tls_failed ? st->dropped - st->tls_failed : 0;
    st->errors_by_kind[SPLITEE_CLOUD_ERR_TLS] = st->tls_failed;
    st->errors_by_kind[SPLITEE_CLOUD_ERR_TIMEOUT] = st->timed_out;
    st->errors_by_kind[SPLITEE_CLOUD_ERR_MAX_CLIENTS] = st->rejected;
    st->errors_by_kind[SPLITEE_CLOUD_ERR_MAX_PER_PEER] = st->rejected_peer;
}
