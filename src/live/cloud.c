/* cloud.c -- the cloud server (cloud.h): an accept loop in the calling
 * thread and `workers` epoll event loops, each owning its connections and
 * one engine run state, computing requests inline. Per connection: a wire
 * parser sized for the largest request the model can receive and a small
 * output buffer, both allocated at accept; nothing allocates per request. */
#include <errno.h>
#include <fcntl.h>
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
#include "splitee/cloud.h"
#include "splitee/engine.h"
#include "splitee/exit.h"
#include "splitee/wire.h"

#define OUT_CAP 4096                 /* bytes of responses waiting to be sent */
#define OUT_ROOM (SPLITEE_WIRE_HEADER_SIZE + 4 + SPLITEE_WIRE_MAX_ERROR_MSG)

typedef struct conn {
    int fd;
    char peer[64];                   /* "address:port" for log lines */
    splitee_wire_parser *parser;
    unsigned char out[OUT_CAP];
    size_t out_start, out_end;       /* unsent bytes out[out_start..out_end) */
    int want_out;                    /* EPOLLOUT registered */
    int eof;                         /* the peer closed its side; answer what is left, then close */
    struct conn *prev, *next;        /* the worker's list */
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
    int active;                      /* connections owned (atomic) */
    uint64_t requests, errors, dropped; /* atomic counters */
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
    worker *workers;
    int nworkers;
    uint64_t connections, rejected;
    pthread_mutex_t log_lock;
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
    cfg->confidences = SPLITEE_CLOUD_ALL_CONFIDENCES;
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void peer_name(int fd, char *buf, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char host[NI_MAXHOST], serv[NI_MAXSERV];
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0 &&
        getnameinfo((struct sockaddr *)&ss, sl, host, sizeof host, serv, sizeof serv,
                    NI_NUMERICHOST | NI_NUMERICSERV) == 0)
        snprintf(buf, len, "%s%.46s%s:%.8s", ss.ss_family == AF_INET6 ? "[" : "", host,
                 ss.ss_family == AF_INET6 ? "]" : "", serv);
    else
        snprintf(buf, len, "fd %d", fd);
}

/* ---- one connection --------------------------------------------------------- */

static void conn_close(worker *w, conn *k, const char *why)
{
    if (why)
        logf_(w->c, "%s: closed: %s", k->peer, why);
    epoll_ctl(w->epfd, EPOLL_CTL_DEL, k->fd, NULL);
    close(k->fd);
    if (k->prev)
        k->prev->next = k->next;
    else
        w->conns = k->next;
    if (k->next)
        k->next->prev = k->prev;
    splitee_wire_parser_free(k->parser);
    free(k);
    __atomic_fetch_sub(&w->active, 1, __ATOMIC_RELAXED);
}

static int set_events(worker *w, conn *k, int want_out)
{
    if (k->want_out == want_out)
        return 0;
    struct epoll_event ev = { .events = want_out ? EPOLLOUT : EPOLLIN, .data.ptr = k };
    k->want_out = want_out;
    return epoll_ctl(w->epfd, EPOLL_CTL_MOD, k->fd, &ev);
}

/* Sends what is buffered; 0 when done or blocked, -1 on a dead socket. */
static int flush_out(conn *k)
{
    while (k->out_start < k->out_end) {
        ssize_t n = send(k->fd, k->out + k->out_start, k->out_end - k->out_start, MSG_NOSIGNAL);
        if (n > 0) {
            k->out_start += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
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
    if (st == 0 && !(w->c->cfg.confidences & (1u << measure))) {
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
        __atomic_fetch_add(&w->requests, 1, __ATOMIC_RELAXED);
        w->compute_us += us;
    }
    k->out_end += n;
}

/* Answers every whole frame buffered while there is room for the answers.
 * Returns -1 after closing the connection on a protocol error. */
static int process(worker *w, conn *k)
{
    for (;;) {
        out_compact(k);
        if (OUT_CAP - k->out_end < OUT_ROOM)
            return 0;                      /* resume once the answers are sent */
        splitee_wire_frame f;
        splitee_error e;
        int rc = splitee_wire_parser_next(k->parser, &f, &e);
        if (rc == 0)
            return 0;
        if (rc < 0) {
            __atomic_fetch_add(&w->dropped, 1, __ATOMIC_RELAXED);
            conn_close(w, k, e.msg);
            return -1;
        }
        if (f.hdr.type != SPLITEE_WIRE_TYPE_REQUEST) {
            char why[128];
            snprintf(why, sizeof why, "wire: unexpected %s frame from a device",
                     splitee_wire_type_name(f.hdr.type));
            __atomic_fetch_add(&w->dropped, 1, __ATOMIC_RELAXED);
            conn_close(w, k, why);
            return -1;
        }
        answer(w, k, &f);
    }
}

/* The peer closed its side: answer the whole frames still buffered (as
 * output room allows), then close, logging a frame cut short. */
static void finish(worker *w, conn *k)
{
    if (process(w, k) < 0)
        return;
    if (flush_out(k) < 0) {
        conn_close(w, k, "send: connection lost");
        return;
    }
    if (k->out_end > k->out_start) {
        set_events(w, k, 1);               /* on_writable comes back here */
        return;
    }
    splitee_error e;
    int rc = splitee_wire_parser_next(k->parser, &(splitee_wire_frame){ 0 }, &e);
    if (rc == 1) {                         /* cannot happen: process took every frame */
        conn_close(w, k, NULL);
        return;
    }
    if (rc < 0 || splitee_wire_parser_eof(k->parser, &e) < 0) {
        __atomic_fetch_add(&w->dropped, 1, __ATOMIC_RELAXED);
        conn_close(w, k, e.msg);
        return;
    }
    conn_close(w, k, NULL);                /* a clean goodbye is not logged */
}

static void on_readable(worker *w, conn *k)
{
    for (;;) {
        size_t room;
        void *dst = splitee_wire_parser_space(k->parser, &room);
        if (room == 0)
            break;                         /* a whole frame waits for output room */
        ssize_t n = recv(k->fd, dst, room, 0);
        if (n > 0) {
            splitee_wire_parser_commit(k->parser, (size_t)n);
            if (process(w, k) < 0)
                return;
            if (OUT_CAP - k->out_end < OUT_ROOM)
                break;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n == 0) {
            k->eof = 1;
            finish(w, k);
            return;
        }
        char why[160];
        snprintf(why, sizeof why, "recv: %s", strerror(errno));
        conn_close(w, k, why);
        return;
    }
    if (flush_out(k) < 0) {
        conn_close(w, k, "send: connection lost");
        return;
    }
    set_events(w, k, k->out_end > k->out_start);
}

static void on_writable(worker *w, conn *k)
{
    if (k->eof) {
        finish(w, k);
        return;
    }
    if (flush_out(k) < 0) {
        conn_close(w, k, "send: connection lost");
        return;
    }
    if (k->out_end > k->out_start)
        return;
    if (process(w, k) < 0)
        return;
    if (flush_out(k) < 0) {
        conn_close(w, k, "send: connection lost");
        return;
    }
    if (k->out_end > k->out_start)
        return;
    set_events(w, k, 0);
    on_readable(w, k);                     /* bytes may have arrived meanwhile */
}

static void adopt(worker *w, int fd)
{
    conn *k = calloc(1, sizeof *k);
    splitee_error e;
    if (!k || splitee_wire_parser_create(w->c->max_frame, &k->parser, &e) < 0) {
        char peer[64];
        peer_name(fd, peer, sizeof peer);
        logf_(w->c, "%s: closed: out of memory for the connection", peer);
        free(k);
        close(fd);
        __atomic_fetch_sub(&w->active, 1, __ATOMIC_RELAXED);
        return;
    }
    k->fd = fd;
    peer_name(fd, k->peer, sizeof k->peer);
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = k };
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        logf_(w->c, "%s: closed: epoll: %s", k->peer, strerror(errno));
        splitee_wire_parser_free(k->parser);
        free(k);
        close(fd);
        __atomic_fetch_sub(&w->active, 1, __ATOMIC_RELAXED);
        return;
    }
    k->next = w->conns;
    if (w->conns)
        w->conns->prev = k;
    w->conns = k;
}

/* Sentinels for epoll data.ptr: the hand-over pipe and the stop eventfd. */
static char tag_pipe, tag_stop;

static void *worker_main(void *arg)
{
    worker *w = arg;
    struct epoll_event evs[64];
    for (;;) {
        int n = epoll_wait(w->epfd, evs, 64, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        int stop = 0;
        for (int i = 0; i < n; i++) {
            void *ptr = evs[i].data.ptr;
            if (ptr == &tag_stop) {
                stop = 1;
            } else if (ptr == &tag_pipe) {
                int fds[64];
                ssize_t got = read(w->pipe_rd, fds, sizeof fds);
                for (ssize_t j = 0; j < got / (ssize_t)sizeof(int); j++)
                    adopt(w, fds[j]);
            } else {
                conn *k = ptr;
                /* A connection closed earlier in this batch cannot appear
                 * again: epoll_wait returned before the close, but each fd
                 * is reported once per call and handled once. */
                if (evs[i].events & EPOLLOUT)
                    on_writable(w, k);
                else
                    on_readable(w, k);
            }
        }
        if (stop)
            break;
    }
    while (w->conns)
        conn_close(w, w->conns, NULL);
    return NULL;
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
    if (strlen(cfg->host) >= 128)
        return splitee__fail(err, SPLITEE_ERR_ARG, "cloud: address too long");
    if (cfg->port < 0 || cfg->port > 65535)
        return splitee__fail(err, SPLITEE_ERR_ARG, "port %d (0..65535)", cfg->port);
    if (cfg->confidences == 0 || (cfg->confidences & ~SPLITEE_CLOUD_ALL_CONFIDENCES))
        return splitee__fail(err, SPLITEE_ERR_ARG,
                             "--confidence: the cloud must answer at least one known measure "
                             "(mask 0x%x)", cfg->confidences);
    splitee_cloud *c = calloc(1, sizeof *c);
    if (!c)
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "cloud: out of memory");
    pthread_mutex_init(&c->log_lock, NULL);
    c->model = model;
    c->cfg = *cfg;
    strcpy(c->host, cfg->host);
    c->cfg.host = c->host;
    c->listen_fd = c->stop_fd = -1;
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
    for (int i = 0; i < c->nworkers; i++) {
        worker *w = &c->workers[i];
        w->c = c;
        w->epfd = w->pipe_rd = w->pipe_wr = -1;
    }
    c->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (c->stop_fd < 0) {
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
        epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->pipe_rd, &e1);
        epoll_ctl(w->epfd, EPOLL_CTL_ADD, c->stop_fd, &e2);
    }
    int st = listen_on(cfg->host, cfg->port, &c->listen_fd, &c->port, err);
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

static void accept_all(splitee_cloud *c)
{
    for (;;) {
        int fd = accept4(c->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                logf_(c, "accept: %s", strerror(errno));
            return;
        }
        int least;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (total_active(c, &least) >= c->cfg.max_clients) {
            char peer[64];
            peer_name(fd, peer, sizeof peer);
            logf_(c, "%s: closed: refused, %d clients already (max-clients)", peer,
                  c->cfg.max_clients);
            close(fd);
            c->rejected++;
            continue;
        }
        worker *w = &c->workers[least];
        __atomic_fetch_add(&w->active, 1, __ATOMIC_RELAXED);
        c->connections++;
        if (write(w->pipe_wr, &fd, sizeof fd) != (ssize_t)sizeof fd) {
            logf_(c, "accept: cannot hand over a connection: %s", strerror(errno));
            close(fd);
            __atomic_fetch_sub(&w->active, 1, __ATOMIC_RELAXED);
        }
    }
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
        logf_(c, "listening on %s%s%s:%d, %d workers, max %d clients", strchr(c->cfg.host, ':') ? "[" : "",
              c->cfg.host, strchr(c->cfg.host, ':') ? "]" : "", c->port, c->nworkers, c->cfg.max_clients);
    while (st == 0) {
        struct pollfd pf[2] = { { c->listen_fd, POLLIN, 0 }, { c->stop_fd, POLLIN, 0 } };
        int n = poll(pf, 2, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || (pf[1].revents & POLLIN))
            break;
        if (pf[0].revents & POLLIN)
            accept_all(c);
    }
    splitee_cloud_stop(c);
    for (int i = 0; i < started; i++)
        pthread_join(c->workers[i].thread, NULL);
    if (st == 0) {
        splitee_cloud_stats s;
        splitee_cloud_get_stats(c, &s);
        logf_(c, "stopped after %llu connections, %llu requests, %llu errors, %llu dropped",
              (unsigned long long)s.connections, (unsigned long long)s.requests,
              (unsigned long long)s.errors, (unsigned long long)s.dropped);
    }
    return st;
}

void splitee_cloud_get_stats(const splitee_cloud *c, splitee_cloud_stats *st)
{
    memset(st, 0, sizeof *st);
    st->connections = c->connections;
    st->rejected = c->rejected;
    for (int i = 0; i < c->nworkers; i++) {
        const worker *w = &c->workers[i];
        st->requests += __atomic_load_n(&w->requests, __ATOMIC_RELAXED);
        st->errors += __atomic_load_n(&w->errors, __ATOMIC_RELAXED);
        st->dropped += __atomic_load_n(&w->dropped, __ATOMIC_RELAXED);
        st->compute_us += w->compute_us;
    }
}
