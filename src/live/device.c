/* device.c -- the device loop (device.h): policy, engine, offload over
 * TCP (plaintext or TLS, transport.h) with timeouts and reconnect backoff,
 * local fallback, bookkeeping for the summary. Every per-round buffer is
 * allocated in create; a reconnect resolves the cloud's address again
 * (getaddrinfo allocates) and makes a new TLS session, which only happens
 * after a failure. Several clouds: each has its own connection, transport
 * and backoff (cloud_ep; the one TLS context d->tls serves them all); the
 * connection code works on "the current cloud" in d->fd, d->tr,
 * d->cfg.host/port, d->next_try_s and d->backoff_s, which ep_load swaps in
 * (saving the previous one's) before each attempt (offload). */
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/internal.h"
#include "live/transport.h"
#include "splitee/device.h"
#include "splitee/engine.h"
#include "splitee/exit.h"
#include "splitee/wire.h"

#define REPLY_MAX (SPLITEE_WIRE_HEADER_SIZE + 4 + SPLITEE_WIRE_MAX_ERROR_MSG)

/* One cloud of the failover list: its connection, backoff and counts. */
typedef struct cloud_ep {
    char host[256];
    int port;
    int fd;                        /* tr.fd while connected, else -1 */
    splitee__transport tr;         /* its own transport (plaintext or TLS over fd) */
    double next_try_s, backoff_s;
    splitee_device_cloud_counts counts;
} cloud_ep;

struct splitee_device {
    const splitee_model *model;
    splitee_device_config cfg;
    char host[256];
    int layers, classes;
    splitee_reward rw;             /* with the exit rule (rw.exit) and its measure */
    splitee_policy *policy;
    int early_exit;                /* the policy is an early-exit deployment of the rule */
    splitee_exit_stream *stream;   /* a stream rule's state across frames, or NULL */
    double *zrow;                  /* stream rule: (layers, classes) this frame's exit logits */
    int learns_alpha;              /* the policy chooses alpha each round */
    splitee_engine_state *s;       /* the policy's forward pass */
    splitee_engine_state *es;      /* eval only: every exit, never shown to the policy */
    float *logits;                 /* (classes) */
    double *logits_d;              /* (classes) */
    float *eval_logits;            /* (layers, classes), eval only */
    double conf[SPLITEE_MAX_EXITS];/* confidences of the exits run this round */
    int32_t pred[SPLITEE_MAX_EXITS];/* their predictions */
    double o_round[SPLITEE_MAX_EXITS]; /* the reward model's o with this round's link price */
    unsigned char *payload;        /* (payload_cap) bytes */
    size_t payload_cap;
    unsigned char *frame;          /* (frame_cap) bytes */
    size_t frame_cap;
    splitee_wire_parser *parser;   /* replies */
    /* connection */
    int fd;                        /* tr.fd while connected, else -1 */
    splitee__transport tr;         /* plaintext or TLS over fd */
    splitee__tls_ctx *tls;         /* NULL: plaintext */
    double next_try_s;             /* monotonic seconds before which no reconnect is tried */
    double backoff_s;
    uint32_t next_id;
    cloud_ep ep[SPLITEE_DEVICE_MAX_CLOUDS]; /* the clouds, in order of preference */
    int nep, cur;                  /* how many; which one is swapped in (-1: none) */
    splitee_fallback_reason fail_kind; /* the last failed attempt's reason */
    uint64_t jitter_state;         /* splitmix64 state of the backoff jitter */
    long fallback_by[SPLITEE_FALLBACK_REASON_COUNT], errors_by[SPLITEE_FALLBACK_REASON_COUNT];
    long service_buckets[SPLITEE_LATENCY_BUCKETS + 1];
    double service_s;
    /* bookkeeping, (rounds) each */
    int16_t *arms_played;
    int8_t *correct;               /* 1, 0, or -1 without a label */
    double *costs;
    float *ctrl_ns;                /* controller time per round, ns */
    float *scratch;                /* (rounds) for the median */
    double *rewards;               /* (rounds, layers + 1) eval only: every arm's reward,
                                      then the early-exit deployment's */
    double *curve;                 /* (checkpoints, 5) */
    long n;                        /* rounds done */
    long exited, offloaded, fallback, labelled, ncorrect;
    long arm_plays[SPLITEE_MAX_EXITS];
    double sum_cost, sum_reward, sum_ctrl_ns, max_ctrl_ns, sum_device_us, sum_rtt_us, sum_cloud_us;
};

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void splitee_device_config_default(splitee_device_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->encoding = SPLITEE_PAYLOAD_ENCODING_F32;
    cfg->timeout_s = 1.0;
    cfg->backoff_min_s = 0.05;
    cfg->backoff_max_s = 2.0;
    cfg->checkpoints = 100;
    cfg->seed = 1;
}

const char *splitee_fallback_reason_name(splitee_fallback_reason r)
{
    static const char *const names[SPLITEE_FALLBACK_REASON_COUNT] = {
        "none", "no_cloud", "backoff", "connect", "timeout", "closed", "refused", "bad_reply", "payload"
    };
    return (int)r >= 0 && r < SPLITEE_FALLBACK_REASON_COUNT ? names[r] : NULL;
}

const char *splitee_round_outcome_name(splitee_round_outcome o)
{
    switch (o) {
    case SPLITEE_ROUND_OUTCOME_EXITED: return "exited";
    case SPLITEE_ROUND_OUTCOME_OFFLOADED: return "offloaded";
    case SPLITEE_ROUND_OUTCOME_FALLBACK: return "fallback";
    default: return "?";
    }
}

void splitee_device_free(splitee_device *d)
{
    if (!d)
        return;
    if (d->cur >= 0) {
        d->ep[d->cur].fd = d->fd;
        d->ep[d->cur].tr = d->tr;
    } else if (d->fd >= 0)
        d->tr.ops->close(&d->tr);
    for (int i = 0; i < d->nep; i++)   /* close_notify on each open connection */
        if (d->ep[i].fd >= 0)
            d->ep[i].tr.ops->close(&d->ep[i].tr);
    splitee__tls_ctx_free(d->tls);     /* after the sessions that use it */
    splitee_policy_free(d->policy);
    splitee_engine_state_free(d->s);
    splitee_engine_state_free(d->es);
    splitee_wire_parser_free(d->parser);
    splitee_exit_stream_free(d->stream);
    free(d->zrow);
    free(d->logits);
    free(d->logits_d);
    free(d->eval_logits);
    free(d->payload);
    free(d->frame);
    free(d->arms_played);
    free(d->correct);
    free(d->costs);
    free(d->ctrl_ns);
    free(d->scratch);
    free(d->rewards);
    free(d->curve);
    free(d);
}

int splitee_device_create(const splitee_model *model, const splitee_policy_config *pc,
                          const splitee_reward_config *rc, const splitee_device_config *dc,
                          splitee_device **out, splitee_error *err)
{
    *out = NULL;
    if (!model || !pc || !rc || !dc)
        return splitee__fail(err, SPLITEE_ERR_ARG, "device: NULL argument");
    if (dc->rounds == 0 || dc->rounds > (size_t)1 << 30)
        return splitee__fail(err, SPLITEE_ERR_ARG, "device: rounds %zu (1..2^30)", dc->rounds);
    if (!(dc->timeout_s > 0) || !(dc->backoff_min_s > 0) || !(dc->backoff_max_s >= dc->backoff_min_s) ||
        !isfinite(dc->timeout_s) || !isfinite(dc->backoff_max_s))
        return splitee__fail(err, SPLITEE_ERR_VALUE, "--timeout/backoff: must be finite and > 0");
    if (!splitee_payload_encoding_name(dc->encoding))
        return splitee__fail(err, SPLITEE_ERR_ARG, "--encoding: unknown encoding %d", (int)dc->encoding);
    if (dc->host && strlen(dc->host) >= 256)
        return splitee__fail(err, SPLITEE_ERR_ARG, "--cloud: host name too long");
    if (dc->host && dc->nclouds == 0 && (dc->port < 1 || dc->port > 65535))
        return splitee__fail(err, SPLITEE_ERR_ARG, "--cloud: port %d (1..65535)", dc->port);
    if (dc->nclouds < 0 || dc->nclouds > SPLITEE_DEVICE_MAX_CLOUDS || (dc->nclouds && !dc->clouds))
        return splitee__fail(err, SPLITEE_ERR_ARG, "--cloud: %d clouds (0..%d)", dc->nclouds,
                             SPLITEE_DEVICE_MAX_CLOUDS);
    for (int i = 0; i < dc->nclouds; i++)
        if (!dc->clouds[i].host || strlen(dc->clouds[i].host) >= 256 || dc->clouds[i].port < 1 ||
            dc->clouds[i].port > 65535)
            return splitee__fail(err, SPLITEE_ERR_ARG, "--cloud: cloud %d: bad host or port %d (1..65535)",
                                 i + 1, dc->clouds[i].port);
    if (!(dc->backoff_jitter >= 0 && dc->backoff_jitter <= 1))
        return splitee__fail(err, SPLITEE_ERR_VALUE, "--backoff-jitter: %g (0..1)", dc->backoff_jitter);
    /* plaintext is for loopback only: every cloud of the list is checked */
    int tls = dc->tls_cert || dc->tls_key || dc->tls_ca;
    int nep = dc->nclouds ? dc->nclouds : dc->host ? 1 : 0;
    for (int i = 0; i < nep && !tls && !dc->insecure_plaintext; i++) {
        const char *h = dc->nclouds ? dc->clouds[i].host : dc->host;
        if (!splitee__host_is_loopback(h))
            return splitee__fail(err, SPLITEE_ERR_ARG,
                                 "--cloud %s: plaintext to a cloud that is not on loopback; give "
                                 "--tls-ca (and --tls-cert, --tls-key; docs/LIVE.md), or "
                                 "--insecure-plaintext", h);
    }
    const splitee_model_config *mc = splitee_model_get_config(model);
    splitee_device *d = calloc(1, sizeof *d);
    if (!d)
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "device: out of memory");
    d->fd = -1;
    d->cur = -1;
    if (tls && nep > 0) {   /* one context for every cloud; each connection its own session */
        int ts = splitee__tls_ctx_create(0, dc->tls_cert, dc->tls_key, dc->tls_ca, &d->tls, err);
        if (ts < 0) {
            free(d);
            return ts;
        }
    }
    d->model = model;
    d->cfg = *dc;
    d->cfg.tls_cert = d->cfg.tls_key = d->cfg.tls_ca = NULL;   /* loaded; not kept */
    d->jitter_state = (uint64_t)dc->seed;
    /* the clouds: the list, or host/port as a list of one */
    for (int i = 0; i < nep; i++) {
        cloud_ep *e = &d->ep[i];
        const char *h = dc->nclouds ? dc->clouds[i].host : dc->host;
        e->port = dc->nclouds ? dc->clouds[i].port : dc->port;
        snprintf(e->host, sizeof e->host, "%s", h);
        e->fd = -1;
        e->backoff_s = dc->backoff_min_s;
        snprintf(e->counts.address, sizeof e->counts.address, "%s%s%s:%d", strchr(h, ':') ? "[" : "", h,
                 strchr(h, ':') ? "]" : "", e->port);
    }
    d->nep = nep;
    d->cfg.clouds = NULL;
    if (d->cfg.checkpoints < 1)
        d->cfg.checkpoints = 1;
    if ((size_t)d->cfg.checkpoints > dc->rounds)
        d->cfg.checkpoints = (int)dc->rounds;
    d->cfg.host = NULL;
    if (nep > 0) {
        strcpy(d->host, d->ep[0].host);
        d->cfg.host = d->host;
        d->cfg.port = d->ep[0].port;
    }
    d->layers = mc->layers;
    d->classes = mc->classes;
    d->backoff_s = dc->backoff_min_s;
    int st = splitee_reward_init(&d->rw, rc, d->layers, err);
    if (st == 0)
        st = splitee_policy_create(pc, &d->rw, &d->policy, err);
    if (st == 0) {
        d->early_exit = splitee_policy_kind_info(pc->kind)->early_exit;
        d->learns_alpha = splitee_policy_kind_info(pc->kind)->learns_alpha;
    }
    if (st == 0 && splitee_exit_kind_info(d->rw.exit.kind)->stream) {
        /* a stream rule decides every frame on the device: an early-exit deployment */
        if (!d->early_exit)
            st = splitee__fail(err, SPLITEE_ERR_ARG, "exit rule %s decides on the device across frames: deploy it "
                               "with an early-exit policy (--policy ee-threshold)",
                               splitee_exit_kind_name(d->rw.exit.kind));
        else if ((st = splitee_exit_stream_create(&d->rw.exit, d->classes, &d->stream, err)) == 0 &&
                 !(d->zrow = malloc((size_t)d->layers * (size_t)d->classes * sizeof *d->zrow)))
            st = splitee__fail(err, SPLITEE_ERR_NOMEM, "device: out of memory");
    }
    if (st == 0)
        st = splitee_engine_state_create(model, &d->s, err);
    if (st == 0 && dc->eval)
        st = splitee_engine_state_create(model, &d->es, err);
    if (st == 0)
        st = splitee_wire_parser_create(REPLY_MAX, &d->parser, err);
    if (st < 0) {
        splitee_device_free(d);
        return st;
    }
    size_t rounds = dc->rounds, L = (size_t)d->layers;
    d->payload_cap = splitee_model_max_payload_size(model, dc->encoding);
    d->frame_cap = SPLITEE_WIRE_HEADER_SIZE + d->payload_cap;
    d->logits = malloc((size_t)d->classes * sizeof *d->logits);
    d->logits_d = malloc((size_t)d->classes * sizeof *d->logits_d);
    d->payload = malloc(d->payload_cap);
    d->frame = malloc(d->frame_cap);
    d->arms_played = malloc(rounds * sizeof *d->arms_played);
    d->correct = malloc(rounds * sizeof *d->correct);
    d->costs = malloc(rounds * sizeof *d->costs);
    d->ctrl_ns = malloc(rounds * sizeof *d->ctrl_ns);
    d->scratch = malloc(rounds * sizeof *d->scratch);
    d->curve = malloc((size_t)d->cfg.checkpoints * 5 * sizeof *d->curve);
    int ok = d->logits && d->logits_d && d->payload && d->frame && d->arms_played && d->correct &&
             d->costs && d->ctrl_ns && d->scratch && d->curve;
    if (dc->eval) {
        d->eval_logits = malloc(L * (size_t)d->classes * sizeof *d->eval_logits);
        d->rewards = malloc(rounds * (L + 1) * sizeof *d->rewards);
        ok = ok && d->eval_logits && d->rewards;
    }
    if (!ok) {
        splitee_device_free(d);
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "device: out of memory for %zu rounds", rounds);
    }
    *out = d;
    return 0;
}

splitee_policy *splitee_device_policy(splitee_device *d)
{
    return d->policy;
}

const splitee_reward *splitee_device_reward(const splitee_device *d)
{
    return &d->rw;
}

/* ---- the connection ---------------------------------------------------------- */

static void disconnect(splitee_device *d, int backoff)
{
    if (d->fd >= 0)
        d->tr.ops->close(&d->tr);
    d->fd = -1;
    splitee_wire_parser_reset(d->parser);
    if (backoff) {
        double u = 0;
        if (d->cfg.backoff_jitter > 0) {   /* splitmix64: deterministic for the seed */
            uint64_t z = (d->jitter_state += 0x9e3779b97f4a7c15ull);
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
            u = (double)((z ^ (z >> 31)) >> 11) * 0x1p-53;
        }
        d->next_try_s = mono_s() + d->backoff_s * (1 - d->cfg.backoff_jitter * u);
        d->backoff_s = fmin(2 * d->backoff_s, d->cfg.backoff_max_s);
    }
}

/* Swaps cloud i in as the current one (its connection, address, backoff). */
static void ep_load(splitee_device *d, int i)
{
    if (d->cur == i)
        return;
    if (d->cur >= 0) {
        cloud_ep *o = &d->ep[d->cur];
        o->fd = d->fd;
        o->tr = d->tr;                 /* the session moves with its socket */
        o->next_try_s = d->next_try_s;
        o->backoff_s = d->backoff_s;
    }
    cloud_ep *e = &d->ep[i];
    d->fd = e->fd;
    d->tr = e->tr;
    strcpy(d->host, e->host);
    d->cfg.host = d->host;
    d->cfg.port = e->port;
    d->next_try_s = e->next_try_s;
    d->backoff_s = e->backoff_s;
    splitee_wire_parser_reset(d->parser);   /* a reply is read whole or the connection dropped */
    d->cur = i;
}

/* Waits until fd is ready for `events` or the deadline passes: 1 ready,
 * 0 timed out, -1 error. */
static int wait_fd(int fd, short events, double deadline)
{
    for (;;) {
        double left = deadline - mono_s();
        if (left <= 0)
            return 0;
        struct pollfd pf = { fd, events, 0 };
        int n = poll(&pf, 1, (int)ceil(left * 1000));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n > 0)
            return 1;
    }
}

static int connect_cloud(splitee_device *d, double deadline, char *why, size_t len)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    char port[16];
    snprintf(port, sizeof port, "%d", d->cfg.port);
    int gr = getaddrinfo(d->cfg.host, port, &hints, &res);
    if (gr != 0) {
        snprintf(why, len, "%s: %s", d->cfg.host, gai_strerror(gr));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
            continue;
        if (!d->tls && !d->cfg.insecure_plaintext && !splitee__addr_is_loopback(a->ai_addr)) {
            snprintf(why, len, "%s:%d: refusing plaintext to an address that is not loopback",
                     d->cfg.host, d->cfg.port);
            close(fd);
            fd = -1;
            continue;
        }
        int rc = connect(fd, a->ai_addr, a->ai_addrlen);
        if (rc < 0 && errno == EINPROGRESS) {
            int soerr = 0;
            socklen_t sl = sizeof soerr;
            rc = wait_fd(fd, POLLOUT, deadline);
            if (rc == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0)
                rc = 0;
            else {
                errno = rc == 0 ? ETIMEDOUT : soerr;
                rc = -1;
            }
        }
        if (rc == 0)
            break;
        snprintf(why, len, "connect %s:%d: %s", d->cfg.host, d->cfg.port, strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    splitee_error e;
    if (splitee__transport_open(&d->tr, fd, d->tls, 0, d->cfg.host, &e) < 0) {   /* closes fd */
        snprintf(why, len, "%.200s", e.msg);
        return -1;
    }
    d->fd = fd;
    for (;;) {                             /* TLS: the handshake, within the same deadline */
        int h = d->tr.ops->handshake(&d->tr);
        if (h == 1)
            return 0;
        int w = h == SPLITEE__IO_AGAIN ? wait_fd(fd, d->tr.want, deadline) : -1;
        if (w == 1)
            continue;
        if (h == SPLITEE__IO_ERROR)
            snprintf(why, len, "%.60s:%d: %.180s", d->cfg.host, d->cfg.port, d->tr.why);
        else
            snprintf(why, len, "%.60s:%d: tls handshake: no answer within %.3f s", d->cfg.host,
                     d->cfg.port, d->cfg.timeout_s);
        return -1;                         /* the caller disconnects */
    }
}

/* Sends frame[0..n) and waits for the reply to request `id`. 0 with *resp
 * filled; -1 with `why` set (the caller falls back). */
static int request_once(splitee_device *d, size_t n, uint32_t id, splitee_wire_response *resp,
                        int *reconnects, char *why, size_t len)
{
    double now = mono_s(), deadline = now + d->cfg.timeout_s;
    if (!d->cfg.host) {
        snprintf(why, len, "no cloud configured");
        d->fail_kind = SPLITEE_FALLBACK_NO_CLOUD;
        return -1;
    }
    if (d->fd >= 0) {
        /* The cloud may have closed the connection while it was idle (its
         * idle timeout, a restart): then open a new one instead of failing
         * this request on the dead one. Bytes waiting (a late reply) mean
         * it is alive. */
        if (!d->tr.ops->alive(&d->tr))
            disconnect(d, 0);
    }
    if (d->fd < 0) {
        if (now < d->next_try_s) {
            snprintf(why, len, "cloud unreachable, next retry in %.3f s", d->next_try_s - now);
            d->fail_kind = SPLITEE_FALLBACK_BACKOFF;
            return -1;
        }
        if (connect_cloud(d, deadline, why, len) < 0) {
            d->fail_kind = SPLITEE_FALLBACK_CONNECT;
            disconnect(d, 1);
            return -1;
        }
        (*reconnects)++;
    }
    size_t off = 0;
    while (off < n) {
        ssize_t k = d->tr.ops->write(&d->tr, d->frame + off, n - off);
        if (k > 0) {
            off += (size_t)k;
            continue;
        }
        if (k == SPLITEE__IO_AGAIN && wait_fd(d->fd, d->tr.want, deadline) == 1)
            continue;
        /* the transport's message is "send: ..." (plaintext) or "tls: ..." */
        const char *m = k == SPLITEE__IO_AGAIN ? "timed out"
                        : strncmp(d->tr.why, "send: ", 6) == 0 ? d->tr.why + 6 : d->tr.why;
        snprintf(why, len, "send to %.60s:%d: %.150s", d->cfg.host, d->cfg.port, m);
        d->fail_kind = k == SPLITEE__IO_AGAIN ? SPLITEE_FALLBACK_TIMEOUT : SPLITEE_FALLBACK_CLOSED;
        disconnect(d, 1);
        return -1;
    }
    for (;;) {
        splitee_wire_frame f;
        splitee_error e;
        int rc = splitee_wire_parser_next(d->parser, &f, &e);
        if (rc < 0) {
            snprintf(why, len, "reply from %.40s:%d: %.90s", d->cfg.host, d->cfg.port, e.msg);
            d->fail_kind = SPLITEE_FALLBACK_BAD_REPLY;
            disconnect(d, 1);
            return -1;
        }
        if (rc == 1) {
            if (f.hdr.id != id)
                continue;                  /* a late reply to a request that timed out */
            if (f.hdr.type == SPLITEE_WIRE_TYPE_ERROR) {
                int s;
                char m[SPLITEE_WIRE_MAX_ERROR_MSG + 1];
                splitee_wire_decode_error(f.body, f.hdr.length, &s, m, sizeof m, NULL);
                snprintf(why, len, "cloud refused: %.140s", m);
                d->fail_kind = SPLITEE_FALLBACK_REFUSED;
                return -1;
            }
            if (f.hdr.type != SPLITEE_WIRE_TYPE_RESPONSE ||
                splitee_wire_decode_response(f.body, f.hdr.length, resp, &e) < 0 ||
                (int)resp->prediction >= d->classes) {
                snprintf(why, len, "reply from %s:%d: malformed %s", d->cfg.host, d->cfg.port,
                         splitee_wire_type_name(f.hdr.type));
                d->fail_kind = SPLITEE_FALLBACK_BAD_REPLY;
                disconnect(d, 1);
                return -1;
            }
            if (f.hdr.confidence != d->rw.exit.confidence) {
                /* the device and the cloud must agree on the measure */
                snprintf(why, len, "reply from %.60s:%d: confidence under %s, the request asked for %s",
                         d->cfg.host, d->cfg.port, splitee_confidence_name(f.hdr.confidence),
                         splitee_confidence_name(d->rw.exit.confidence));
                d->fail_kind = SPLITEE_FALLBACK_BAD_REPLY;
                disconnect(d, 1);
                return -1;
            }
            return 0;
        }
        size_t room;
        void *dst = splitee_wire_parser_space(d->parser, &room);
        ssize_t k = d->tr.ops->read(&d->tr, dst, room);
        if (k > 0) {
            splitee_wire_parser_commit(d->parser, (size_t)k);
            continue;
        }
        if (k == SPLITEE__IO_AGAIN) {
            int w = wait_fd(d->fd, d->tr.want, deadline);
            if (w == 1)
                continue;
            snprintf(why, len, "no reply from %s:%d within %.3f s", d->cfg.host, d->cfg.port,
                     d->cfg.timeout_s);
            d->fail_kind = SPLITEE_FALLBACK_TIMEOUT;
        } else {
            /* plaintext: "recv: <errno text>"; TLS: "tls: <alert>" */
            const char *m = strncmp(d->tr.why, "recv: ", 6) == 0 ? d->tr.why + 6 : d->tr.why;
            d->fail_kind = SPLITEE_FALLBACK_CLOSED;
            snprintf(why, len, "%.60s:%d closed the connection%s%.150s", d->cfg.host, d->cfg.port,
                     k < 0 ? ": " : "", k < 0 ? m : "");
        }
        disconnect(d, 1);
        return -1;
    }
}

/* request_once; when it opened the connection and its first request
 * failed (refused, reset, timed out, a bad reply), the note says so and
 * names the peer: such a failure is the cloud turning the device away,
 * not a connection that went bad after serving it. */
static int cloud_request(splitee_device *d, size_t n, uint32_t id, splitee_wire_response *resp,
                         int *reconnects, char *why, size_t len)
{
    int before = *reconnects;
    int rc = request_once(d, n, id, resp, reconnects, why, len);
    if (rc < 0 && *reconnects > before) {
        char reason[256];
        snprintf(reason, sizeof reason, "%s", why);
        snprintf(why, len, "new connection to %.60s:%d failed its first request: %.130s", d->cfg.host,
                 d->cfg.port, reason);
    }
    return rc;
}

/* The failover: tries each healthy cloud in order (one with a connection,
 * or whose backoff has run out) until one answers; a connection closed
 * before its reply is retried at once on a new one, twice at most (behind
 * a load balancer the first new connection may still reach the cloud that
 * just went away). 0 with *resp and
 * *cloud; -1 with `why` and *reason (the last attempt's, BACKOFF when
 * every cloud was waiting). A success resets that cloud's backoff and
 * closes the connections to the clouds after it, so traffic goes back to
 * the preferred one as soon as it answers. */
static int offload(splitee_device *d, size_t n, uint32_t id, splitee_wire_response *resp,
                   int *reconnects, char *why, size_t len, int *cloud, splitee_fallback_reason *reason)
{
    *cloud = -1;
    if (d->nep == 0) {
        snprintf(why, len, "no cloud configured");
        *reason = SPLITEE_FALLBACK_NO_CLOUD;
        return -1;
    }
    double now = mono_s(), wait = INFINITY;
    int tried = 0;
    for (int i = 0; i < d->nep; i++) {
        if (d->cur != i && d->ep[i].fd < 0 && now < d->ep[i].next_try_s) {
            wait = fmin(wait, d->ep[i].next_try_s - now);
            continue;
        }
        ep_load(d, i);
        if (d->fd < 0 && now < d->next_try_s) {
            wait = fmin(wait, d->next_try_s - now);
            continue;
        }
        cloud_ep *e = &d->ep[i];
        for (int attempt = 0; attempt < 3; attempt++) {
            int before = *reconnects;
            double next_try = d->next_try_s, backoff = d->backoff_s;
            d->fail_kind = SPLITEE_FALLBACK_CLOSED;
            int rc = cloud_request(d, n, id, resp, reconnects, why, len);
            e->counts.connects += *reconnects - before;
            tried = 1;
            if (rc == 0) {
                d->backoff_s = d->cfg.backoff_min_s;
                e->counts.offloaded++;
                *cloud = i;
                for (int j = i + 1; j < d->nep; j++)
                    if (d->ep[j].fd >= 0) {
                        d->ep[j].tr.ops->close(&d->ep[j].tr);   /* close_notify first */
                        d->ep[j].fd = -1;
                    }
                return 0;
            }
            e->counts.failures++;
            d->errors_by[d->fail_kind]++;
            *reason = d->fail_kind;
            if (attempt == 2 || d->fail_kind != SPLITEE_FALLBACK_CLOSED)
                break;
            d->next_try_s = next_try;      /* closed before a reply: once more, now */
            d->backoff_s = backoff;
        }
    }
    if (!tried) {
        snprintf(why, len, "cloud unreachable, next retry in %.3f s", wait);
        *reason = SPLITEE_FALLBACK_BACKOFF;
    }
    return -1;
}

/* ---- one round --------------------------------------------------------------- */

/* Confidence of `exit` under the exit rule's measure, its prediction in *pred. */
static double exit_conf(splitee_device *d, int exit, int32_t *pred, splitee_error *err)
{
    if (splitee_engine_exit_logits(d->s, exit, d->logits, err) < 0)
        return NAN;
    for (int c = 0; c < d->classes; c++)
        d->logits_d[c] = d->logits[c];
    return splitee_confidence_of(d->logits_d, d->classes, d->rw.exit.confidence, pred);
}

/* A stream rule's frame (exit.h "stream rules"): layers up to the probe
 * exit, reading every exit on the way into zrow; if the rule does not
 * reuse the reference's label, the remaining layers and a new reference.
 * *stop gets the last exit run, *label the frame's prediction. */
static int stream_share(splitee_device *d, int *stop, int32_t *label, splitee_error *err)
{
    const int L = d->layers, K = d->classes, probe = splitee_exit_stream_probe(d->stream);
    int st = 0;
    for (int j = 0; j < L && st == 0; j++) {
        if ((st = splitee_engine_run_layer(d->s, j, err)) < 0)
            return st;
        d->conf[j] = exit_conf(d, j, &d->pred[j], err);
        for (int c = 0; c < K; c++)
            d->zrow[(size_t)j * K + c] = d->logits_d[c];
        if (j == probe && splitee_exit_stream_check(d->stream, d->zrow + (size_t)j * K, label)) {
            *stop = j;
            return 0;
        }
    }
    *stop = L - 1;
    *label = splitee_exit_stream_update(d->stream, d->zrow);
    return st;
}

/* Eval: every exit's confidence on a second state, and every arm's reward
 * and the early-exit deployment's on this sample into rewards[n]. */
static int eval_sample(splitee_device *d, const float *pixels, splitee_error *err)
{
    int st = splitee_engine_forward(d->es, pixels, d->eval_logits, err);
    if (st < 0)
        return st;
    double conf[SPLITEE_MAX_EXITS];
    int32_t pred[SPLITEE_MAX_EXITS];
    const int L = d->layers;
    for (int e = 0; e < L; e++) {
        for (int c = 0; c < d->classes; c++)
            d->logits_d[c] = d->eval_logits[(size_t)e * d->classes + c];
        conf[e] = splitee_confidence_of(d->logits_d, d->classes, d->rw.exit.confidence, &pred[e]);
    }
    double *row = d->rewards + (size_t)d->n * (L + 1);
    for (int a = 0; a < L; a++)
        row[a] = splitee_reward_evaluate(&d->rw, a, conf, pred).reward;
    row[L] = splitee_reward_early_exit(&d->rw, L - 1, conf, pred).reward;
    return 0;
}

int splitee_device_step(splitee_device *d, const float *pixels, int label, gsl_rng *rng,
                        splitee_round *r, splitee_error *err)
{
    if ((size_t)d->n >= d->cfg.rounds)
        return splitee__fail(err, SPLITEE_ERR_ARG, "device: more than %zu rounds", d->cfg.rounds);
    if (label >= d->classes || label < -1)
        return splitee__fail(err, SPLITEE_ERR_ARG, "device: label %d outside [0, %d)", label, d->classes);
    const int L = d->layers, last = L - 1;
    memset(r, 0, sizeof *r);
    r->index = d->n;
    r->label = label;
    r->conf_final = NAN;
    r->cloud = -1;

    uint64_t c0 = mono_ns();
    int arm = splitee_policy_choose(d->policy, rng);
    uint64_t c1 = mono_ns();

    /* The device's share: layers 0..arm, reading each exit on the way and
     * stepping the exit rule; an early-exit deployment stops at the first
     * exit the rule accepts. */
    int st = splitee_engine_embed(d->s, pixels, err);
    if (st < 0)
        return st;
    splitee_exit_state es;
    splitee_exit_begin(&d->rw.exit, &es);
    int stop = arm, accepted = 0;
    int32_t stream_label = -1;
    if (d->stream && (st = stream_share(d, &stop, &stream_label, err)) < 0)
        return st;
    accepted = d->stream != NULL;
    for (int j = 0; !d->stream && j <= arm; j++) {
        if ((st = splitee_engine_run_layer(d->s, j, err)) < 0)
            return st;
        d->conf[j] = exit_conf(d, j, &d->pred[j], err);
        accepted = splitee_exit_step(&d->rw.exit, &es, d->conf[j], d->pred[j]);
        if (accepted && d->early_exit) {
            stop = j;
            break;
        }
    }
    /* a policy that learns alpha (splitee-alpha, threshold rule only)
     * decides the exit with the alpha it chose this round */
    if (d->learns_alpha && arm != last)
        accepted = d->conf[arm] >= splitee_policy_alpha(d->policy);
    double c_stop = d->conf[stop];
    int32_t pred = d->stream ? stream_label : d->pred[stop];
    r->arm = arm;
    r->conf_arm = c_stop;
    splitee_obs ob = { stop, d->conf, 0, 0, NAN, d->pred };
    if (stop == last || accepted) {
        splitee_outcome oc = splitee_reward_decided(&d->rw, stop, 1, c_stop, NAN, 0);
        r->outcome = SPLITEE_ROUND_OUTCOME_EXITED;
        r->exit = stop;
        r->prediction = pred;
        r->cost = oc.cost;
        r->reward = oc.reward;
        if (stop == last) {
            ob.final_known = 1;
            ob.conf_final = c_stop;
            r->conf_final = c_stop;
        }
    } else {
        /* Offload: payload, frame, request; the link hook prices it. The
         * request asks the cloud for C_L under the rule's measure. */
        size_t plen = 0, flen = 0;
        uint32_t id = ++d->next_id;
        splitee_error pe = { 0, "" };
        /* VALUE (an activation past the float16 range) falls back. */
        st = splitee_engine_export_payload(d->s, d->cfg.encoding, d->payload, d->payload_cap, &plen, &pe);
        if (st < 0 && st != SPLITEE_ERR_VALUE)
            return splitee__fail(err, st, "%s", pe.msg);
        if (st == 0) {
            splitee_wire_header h = { .type = SPLITEE_WIRE_TYPE_REQUEST, .encoding = (int)d->cfg.encoding,
                                      .version = SPLITEE_WIRE_VERSION,
                                      .confidence = d->rw.exit.confidence, .id = id,
                                      .layer = (uint32_t)(arm + 1) };
            st = splitee_wire_encode_frame(&h, d->payload, plen, d->frame, d->frame_cap, &flen, &pe);
        }
        double o = d->rw.offload[arm], lat = 0;
        if (st == 0 && d->cfg.link) {
            double lo, ll;
            if (d->cfg.link(d->cfg.link_ctx, arm + 1, flen, &lo, &ll) == 0 && isfinite(lo) && lo >= 0) {
                o = lo;
                lat = ll;
            }
        }
        if (lat > 0 && d->cfg.sleep) {
            struct timespec ts = { (time_t)lat, (long)((lat - floor(lat)) * 1e9) };
            while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
            }
        }
        splitee_wire_response resp;
        double t0 = mono_s();
        splitee_fallback_reason why = SPLITEE_FALLBACK_PAYLOAD;
        int ok = st == 0 ? offload(d, flen, id, &resp, &r->reconnects, r->note, sizeof r->note,
                                   &r->cloud, &why)
                         : (snprintf(r->note, sizeof r->note, "%s", pe.msg), -1);
        ob.offloaded = 1;
        ob.final_known = 1;
        r->payload_bytes = flen;
        r->link_s = lat;
        if (ok == 0) {
            splitee_outcome oc = splitee_reward_decided(&d->rw, arm, 0, c_stop, resp.confidence, o);
            r->rtt_us = (mono_s() - t0) * 1e6;
            r->cloud_us = resp.compute_us;
            r->outcome = SPLITEE_ROUND_OUTCOME_OFFLOADED;
            r->exit = last;
            r->prediction = (int)resp.prediction;
            r->conf_final = resp.confidence;
            r->offload_cost = o;
            r->cost = oc.cost;
            r->reward = oc.reward;
            d->service_buckets[splitee_latency_bucket(resp.compute_us * 1e-6)]++;
            d->service_s += resp.compute_us * 1e-6;
        } else {
            r->fallback_reason = why;
            d->fallback_by[why]++;
            /* Fallback: finish here; the round costs what the device spent. */
            if ((st = splitee_engine_run_layers(d->s, arm + 1, L, err)) < 0)
                return st;
            double cl = exit_conf(d, last, &pred, err);
            splitee_outcome oc = splitee_reward_decided(&d->rw, last, 1, cl, cl, 0);
            r->outcome = SPLITEE_ROUND_OUTCOME_FALLBACK;
            r->exit = last;
            r->prediction = pred;
            r->conf_final = cl;
            r->cost = oc.cost;
            r->reward = oc.reward;
        }
        ob.conf_final = r->conf_final;
    }
    uint64_t c2 = mono_ns();
    if (d->cfg.eval && (st = eval_sample(d, pixels, err)) < 0)
        return st;
    uint64_t c3 = mono_ns();

    /* Learn and account: the controller's other half. A link-priced
     * offload is learned with the o it actually cost. */
    int priced = r->outcome == SPLITEE_ROUND_OUTCOME_OFFLOADED && d->cfg.link && r->offload_cost != d->rw.offload[arm];
    if (priced) {
        memcpy(d->o_round, d->rw.offload, sizeof d->o_round);
        d->o_round[arm] = r->offload_cost;
        splitee_policy_set_offload(d->policy, d->o_round);
    }
    splitee_policy_observe(d->policy, &ob);
    if (priced)
        splitee_policy_set_offload(d->policy, d->rw.offload);
    long n = d->n;
    d->arms_played[n] = (int16_t)arm;
    d->correct[n] = (int8_t)(label < 0 ? -1 : r->prediction == label);
    d->costs[n] = r->cost;
    d->arm_plays[arm]++;
    d->exited += r->outcome == SPLITEE_ROUND_OUTCOME_EXITED;
    d->offloaded += r->outcome == SPLITEE_ROUND_OUTCOME_OFFLOADED;
    d->fallback += r->outcome == SPLITEE_ROUND_OUTCOME_FALLBACK;
    if (label >= 0) {
        d->labelled++;
        d->ncorrect += r->prediction == label;
    }
    d->sum_cost += r->cost;
    d->sum_reward += r->reward;
    d->sum_rtt_us += r->rtt_us;
    d->sum_cloud_us += r->cloud_us;
    d->n = n + 1;
    uint64_t c4 = mono_ns();
    r->device_us = (double)(c2 - c1) * 1e-3 - r->rtt_us - r->link_s * (d->cfg.sleep ? 1e6 : 0);
    r->controller_ns = (double)((c1 - c0) + (c4 - c3));
    d->sum_device_us += r->device_us;
    d->sum_ctrl_ns += r->controller_ns;
    d->ctrl_ns[n] = (float)r->controller_ns;
    if (r->controller_ns > d->max_ctrl_ns)
        d->max_ctrl_ns = r->controller_ns;
    return 0;
}

/* ---- summary ---------------------------------------------------------------- */

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

void splitee_device_summarize(splitee_device *d, splitee_device_summary *s)
{
    memset(s, 0, sizeof *s);
    long n = d->n;
    const int L = d->layers;
    s->samples = n;
    s->exited = d->exited;
    s->offloaded = d->offloaded;
    s->fallback = d->fallback;
    s->labelled = d->labelled;
    s->correct = d->ncorrect;
    s->accuracy = d->labelled ? (double)d->ncorrect / (double)d->labelled : NAN;
    s->avg_cost = n ? d->sum_cost / (double)n : NAN;
    s->avg_reward = n ? d->sum_reward / (double)n : NAN;
    s->offload_rate = n ? (double)(d->offloaded + d->fallback) / (double)n : NAN;
    s->arms = L;
    memcpy(s->arm_plays, d->arm_plays, sizeof s->arm_plays);
    s->learned_arm = splitee_policy_best_arm(d->policy);
    s->controller_ns_mean = n ? d->sum_ctrl_ns / (double)n : NAN;
    s->controller_ns_max = d->max_ctrl_ns;
    s->controller_ns_p50 = NAN;
    if (n > 0) {
        memcpy(d->scratch, d->ctrl_ns, (size_t)n * sizeof *d->scratch);
        qsort(d->scratch, (size_t)n, sizeof *d->scratch, cmp_float);
        s->controller_ns_p50 = n % 2 ? d->scratch[n / 2]
                                     : 0.5 * ((double)d->scratch[n / 2 - 1] + d->scratch[n / 2]);
    }
    s->device_us_mean = n ? d->sum_device_us / (double)n : NAN;
    long off = d->offloaded;
    s->rtt_us_mean = off ? d->sum_rtt_us / (double)off : NAN;
    s->cloud_us_mean = off ? d->sum_cloud_us / (double)off : NAN;
    s->pseudo_regret = s->realized_regret = NAN;
    s->best_arm = -1;
    /* eval: each arm's mean reward, and in column L the early-exit
     * deployment's, which is what an early_exit policy's rounds earn */
    double mean[SPLITEE_MAX_EXITS + 1] = { 0 };
    if (d->cfg.eval && n > 0) {
        s->has_regret = 1;
        for (long t = 0; t < n; t++)
            for (int a = 0; a <= L; a++)
                mean[a] += d->rewards[(size_t)t * (L + 1) + a];
        int best = 0;
        for (int a = 0; a <= L; a++) {
            mean[a] /= (double)n;
            if (a < L && mean[a] > mean[best])
                best = a;
        }
        s->best_arm = best;
    }
    /* Curves at evenly spaced rounds. */
    int K = n > 0 ? d->cfg.checkpoints : 0;
    if (K > n)
        K = (int)n;
    double pseudo = 0, realized = 0, cost = 0;
    long right = 0, lab = 0, t = 0;
    for (int k = 0; k < K; k++) {
        long upto = (long)(((double)(k + 1) * (double)n) / K + 0.5);
        if (upto > n)
            upto = n;
        for (; t < upto; t++) {
            int a = d->early_exit ? L : d->arms_played[t];
            cost += d->costs[t];
            if (d->correct[t] >= 0) {
                lab++;
                right += d->correct[t];
            }
            if (s->has_regret) {
                const double *row = d->rewards + (size_t)t * (L + 1);
                pseudo += mean[s->best_arm] - mean[a];
                realized += row[s->best_arm] - row[a];
            }
        }
        double *c = d->curve + (size_t)k * 5;
        c[0] = (double)upto;
        c[1] = lab ? (double)right / (double)lab : NAN;
        c[2] = cost / (double)upto;
        c[3] = s->has_regret ? pseudo : NAN;
        c[4] = s->has_regret ? realized : NAN;
    }
    if (s->has_regret) {
        s->pseudo_regret = pseudo;
        s->realized_regret = realized;
    }
    s->checkpoints = K;
    s->curve = d->curve;
    s->nclouds = d->nep;
    for (int i = 0; i < d->nep; i++)
        s->clouds[i] = d->ep[i].counts;
    memcpy(s->fallback_by, d->fallback_by, sizeof s->fallback_by);
    memcpy(s->errors_by, d->errors_by, sizeof s->errors_by);
    memcpy(s->service_buckets, d->service_buckets, sizeof s->service_buckets);
    s->service_s = d->service_s;
}
