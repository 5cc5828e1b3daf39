/* device.h -- the device side of live split computing: per sample, a
 * policy picks the split layer, the engine runs that many layers and reads
 * every exit on the way; the sample exits on the device if the exit rule
 * accepts that exit (or at the last layer), else its activation is
 * offloaded to the cloud (cloud.h, over wire.h), which answers with the
 * final prediction and C_L; the policy then learns from what was actually
 * seen. An early-exit deployment (ee-threshold, splitee_policy_info
 * early_exit) stops at the first exit the rule accepts instead. If the cloud cannot be reached
 * in time the sample is finished on the device (the remaining layers run
 * locally) and counted as a fallback: no sample is ever lost.
 *
 * Several clouds (splitee_device_config.clouds): each offload goes to the
 * first healthy cloud of the list -- one with a connection, or whose
 * backoff since its last failure has run out -- and on a failure to the
 * next healthy one, so a cloud that failed is retried after its backoff
 * and is preferred again once it answers. Backoff per cloud: backoff_min_s
 * doubling to backoff_max_s after each failure, reset by a success, each
 * delay shortened by a jitter fraction drawn from a generator seeded with
 * cfg.seed (deterministic for a seed; none by default). A connection that
 * the peer closes before any reply (a cloud restarting, a load balancer
 * moving it) is retried at once on a new connection, at most twice:
 * requests are idempotent. Every sample is offloaded to one cloud or falls back with
 * one reason (splitee_fallback_reason), and the summary counts both.
 *
 * Costs follow the reward model (reward.h, docs/ARCHITECTURE.md): gamma from lambda
 * or a per-layer cost vector, o constant, per layer, or priced per round
 * by a link hook (the link-cost simulator, link.h). A link-priced offload
 * is learned with the o it actually cost (splitee_policy_set_offload for
 * that observation); side observations of lower arms use the reward
 * model's o vector (set it to the link's expected price per layer).
 *
 * The exit rule -- decision, confidence measure and parameters -- is the
 * reward configuration's (reward_cfg.exit, reward.h), the same struct a
 * replay's settings carry, so a device and a replay configured alike
 * decide alike. Every offload request asks the cloud for C_L under the
 * rule's measure (wire.h version 2); a reply under another is a fallback.
 *
 * What a policy sees on each outcome:
 *   exited     arm a < L, the rule accepts exit a: conf[0..a]; C_L unknown
 *   early exit (early_exit policies) the first accepted exit e: observed
 *              as arm e, conf[0..e]
 *   last arm   a = L-1: conf[0..L-1], C_L known
 *   offloaded  conf[0..a] and the cloud's C_L
 *   fallback   conf[0..a] and C_L computed locally, observed as an
 *              offload: the policy chose to offload and learns that arm's
 *              worth with the reward model's o; the round's reported cost
 *              is gamma_L, what the device actually spent
 *
 *     splitee_device_config dc;
 *     splitee_device_config_default(&dc);
 *     dc.host = "127.0.0.1"; dc.port = 7000; dc.rounds = 1000;
 *     splitee_device *d;
 *     if (splitee_device_create(model, &policy_cfg, &reward_cfg, &dc, &d, &err) < 0) die(err.msg);
 *     for (k = 0; k < n; k++) {
 *         splitee_round r;
 *         splitee_device_step(d, pixels + k * 784, labels[k], rng, &r, &err);
 *         printf("%d %s\n", r.arm + 1, splitee_round_outcome_name(r.outcome));
 *     }
 *     splitee_device_summary s;
 *     splitee_device_summarize(d, &s);
 *     splitee_device_free(d);
 */
#ifndef SPLITEE_DEVICE_H
#define SPLITEE_DEVICE_H

#include <stddef.h>
#include <stdint.h>
#include <gsl/gsl_rng.h>
#include "bandit.h"
#include "cloud.h"
#include "model.h"
#include "payload.h"
#include "reward.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Prices one offload of `bytes` payload bytes after `layer` layers (1..L-1):
 * *cost gets o in the reward model's units, *latency_s the simulated
 * time it takes. Returns 0, or a negative status to use the constant o. */
typedef int (*splitee_link_fn)(void *ctx, int layer, size_t bytes, double *cost,
                               double *latency_s);

/* The most clouds one device fails over between. */
#define SPLITEE_DEVICE_MAX_CLOUDS 8

/* One cloud's address. */
typedef struct splitee_device_endpoint {
    const char *host;             /* numeric or a name */
    int port;                     /* TCP port, 1..65535 */
} splitee_device_endpoint;

typedef struct splitee_device_config {
    const char *host;             /* cloud address (numeric or a name); NULL: no cloud,
                                     every offload falls back (unless clouds is set) */
    int port;                     /* cloud TCP port */
    const splitee_device_endpoint *clouds; /* (nclouds) clouds in order of preference,
                                     failed over between; when nclouds > 0 they are
                                     used and host/port are not */
    int nclouds;                  /* 0..SPLITEE_DEVICE_MAX_CLOUDS */
    double backoff_jitter;        /* 0..1: each backoff delay is multiplied by
                                     1 - jitter * u, u uniform in [0, 1) (default 0) */
    unsigned long seed;           /* seeds the jitter's generator (default 1) */
    splitee_payload_encoding encoding; /* payload encoding (default f32) */
    double timeout_s;             /* connect and per-request timeout (default 1 s) */
    double backoff_min_s;         /* first reconnect delay after a failure (0.05 s) */
    double backoff_max_s;         /* reconnect delays double up to this (2 s) */
    size_t rounds;                /* capacity: the most samples step() accepts (> 0) */
    int eval;                     /* 1: also run every exit locally, for regret only
                                     (never shown to the policy) */
    int checkpoints;              /* curve points (default 100, at most rounds) */
    splitee_link_fn link;         /* NULL: the reward model's o */
    void *link_ctx;
    int sleep;                    /* 1: sleep the link's simulated latency per offload */
    /* TLS 1.3 to the cloud (docs/LIVE.md), PEM file paths. tls_ca set: TLS
     * to every cloud (one context; each connection its own session), each
     * cloud's certificate must be signed by it and name the host the device
     * dials (host, or that cloud's of clouds: its DNS name or IP address);
     * NULL: plaintext. tls_cert and tls_key, both or neither: the device's
     * own certificate, which a TLS cloud requires. */
    const char *tls_cert;
    const char *tls_key;
    const char *tls_ca;
    int insecure_plaintext;       /* 1: plaintext to a non-loopback cloud too; 0
                                     (default): create refuses plaintext unless host
                                     (every host of clouds) resolves to loopback
                                     addresses only */
} splitee_device_config;

typedef enum splitee_round_outcome {
    SPLITEE_ROUND_OUTCOME_EXITED = 0,     /* finished on the device (confident or last layer) */
    SPLITEE_ROUND_OUTCOME_OFFLOADED,      /* the cloud finished it */
    SPLITEE_ROUND_OUTCOME_FALLBACK        /* the cloud was unreachable: finished on the device */
} splitee_round_outcome;

/* Why an offload attempt failed, and so why a sample fell back (the last
 * attempt's reason; BACKOFF when no cloud was tried). */
typedef enum splitee_fallback_reason {
    SPLITEE_FALLBACK_NONE = 0,    /* not a fallback */
    SPLITEE_FALLBACK_NO_CLOUD,    /* no cloud configured */
    SPLITEE_FALLBACK_BACKOFF,     /* every cloud was waiting out its backoff: none tried */
    SPLITEE_FALLBACK_CONNECT,     /* connect refused, failed or timed out */
    SPLITEE_FALLBACK_TIMEOUT,     /* no reply within the timeout */
    SPLITEE_FALLBACK_CLOSED,      /* the connection was closed or reset, or a send failed */
    SPLITEE_FALLBACK_REFUSED,     /* the cloud answered with an error frame */
    SPLITEE_FALLBACK_BAD_REPLY,   /* a malformed reply, or one under another measure */
    SPLITEE_FALLBACK_PAYLOAD,     /* the activation could not be encoded (f16 range) */
    SPLITEE_FALLBACK_REASON_COUNT
} splitee_fallback_reason;

/* "none", "no_cloud", "backoff", "connect", "timeout", "closed", "refused",
 * "bad_reply", "payload"; NULL otherwise. */
const char *splitee_fallback_reason_name(splitee_fallback_reason r);

/* One cloud's share of a device's offloads (splitee_device_summary). */
typedef struct splitee_device_cloud_counts {
    char address[272];            /* "host:port" ("[v6]:port") */
    long offloaded;               /* samples it answered */
    long failures;                /* attempts that failed on it (then the next cloud
                                     was tried, or the sample fell back) */
    long connects;                /* connections opened to it */
} splitee_device_cloud_counts;

/* What happened to one sample. */
typedef struct splitee_round {
    long index;                   /* 0-based round number since create */
    int arm;                      /* 0-based arm played (split layer = arm + 1) */
    int exit;                     /* 0-based exit whose prediction is used */
    int prediction;               /* class */
    int label;                    /* class, or -1 if unknown */
    splitee_round_outcome outcome;
    double conf_arm;              /* confidence of exit arm+1 (an early exit:
                                     of the exit it stopped at) */
    double conf_final;            /* C_L if known this round, else NaN */
    double cost;                  /* gamma (+ o when offloaded); gamma_L on fallback */
    double reward;                /* confidence - mu*cost */
    double offload_cost;          /* o charged (0 unless offloaded) */
    size_t payload_bytes;         /* wire frame bytes sent (0 unless offloaded) */
    double device_us;             /* engine time on the device, microseconds */
    double rtt_us;                /* send to reply, microseconds (0 unless offloaded) */
    double cloud_us;              /* cloud compute time it reported, microseconds */
    double link_s;                /* simulated link latency, seconds (0 without a link) */
    double controller_ns;         /* choose + observe + bookkeeping, nanoseconds */
    int reconnects;               /* connections opened this round */
    int cloud;                    /* index of the cloud that answered (config order), or -1 */
    splitee_fallback_reason fallback_reason; /* NONE unless a fallback */
    char note[256];               /* why a fallback happened; "" otherwise */
} splitee_round;

/* Totals and metrics since create (or the summary's reset point). */
typedef struct splitee_device_summary {
    long samples, exited, offloaded, fallback;  /* samples = the other three */
    long labelled, correct;       /* rounds with a label; of those, right */
    double accuracy;              /* correct / labelled (NaN without labels) */
    double avg_cost, avg_reward;  /* per sample */
    double offload_rate;          /* (offloaded + fallback) / samples */
    int arms;
    long arm_plays[SPLITEE_MAX_EXITS];
    int learned_arm;              /* the policy's best arm (highest mean reward) */
    double controller_ns_mean, controller_ns_p50, controller_ns_max; /* per round */
    double device_us_mean;        /* engine time per sample */
    double rtt_us_mean;           /* per offloaded sample */
    double cloud_us_mean;         /* per offloaded sample */
    int has_regret;               /* eval was on */
    int best_arm;                 /* eval: best fixed arm in hindsight */
    double pseudo_regret;         /* eval: sum_t mu* - mu(arm_t) */
    double realized_regret;       /* eval: sum_t r(a*, s_t) - r(arm_t, s_t) */
    int nclouds;                  /* clouds configured (0: none) */
    splitee_device_cloud_counts clouds[SPLITEE_DEVICE_MAX_CLOUDS];
    long fallback_by[SPLITEE_FALLBACK_REASON_COUNT]; /* fallbacks by reason (sum = fallback) */
    long errors_by[SPLITEE_FALLBACK_REASON_COUNT];   /* failed attempts by reason
                                     (CONNECT..BAD_REPLY), failovers included */
    long service_buckets[SPLITEE_LATENCY_BUCKETS + 1]; /* offloads per bucket of the
                                     cloud's reported compute time (cloud.h; not
                                     cumulative, the last +Inf): what the clouds'
                                     metrics histograms count */
    double service_s;             /* total of those times, seconds */
    int checkpoints;              /* curve rows below */
    const double *curve;          /* (checkpoints, 5): round, running accuracy,
                                     running average cost, pseudo and realized
                                     regret (NaN without labels / eval); owned
                                     by the device, valid until the next step */
} splitee_device_summary;

typedef struct splitee_device splitee_device; /* opaque */

/* host NULL, port 0, no clouds list, f32, timeout 1 s, backoff 0.05..2 s
 * without jitter, seed 1, rounds 0 (must be set), no eval, 100
 * checkpoints, no link, no sleep, plaintext (loopback only). */
void splitee_device_config_default(splitee_device_config *cfg);

/* Creates a device: a run state (two with eval), the policy and the
 * reward model for the model's L layers, every per-round buffer. Does not
 * connect yet (a TLS handshake failure at connect is a fallback whose
 * note gives the reason). ARG/VALUE for bad parameters (also: a TLS file
 * that cannot be read, tls_cert without tls_key, plaintext to a host (any
 * of clouds) that is not loopback without insecure_plaintext), FORMAT (a TLS file that is
 * not PEM), NOMEM. The model must outlive the device. */
int splitee_device_create(const splitee_model *model, const splitee_policy_config *pc,
                          const splitee_reward_config *rc, const splitee_device_config *dc,
                          splitee_device **out, splitee_error *err);

/* Frees the device and closes its connection. NULL is a no-op. */
void splitee_device_free(splitee_device *d);

/* The device's policy (to load or save learned state) and reward model. */
splitee_policy *splitee_device_policy(splitee_device *d);
const splitee_reward *splitee_device_reward(const splitee_device *d);

/* Processes one sample: `pixels` (image_size, image_size) float32 in [0,1],
 * `label` its class or -1. Fills *r. Network trouble is not an error (the
 * round falls back); errors are ARG (more than cfg.rounds rounds, a bad
 * label) or VALUE (non-finite pixels), and leave the policy untouched. */
int splitee_device_step(splitee_device *d, const float *pixels, int label, gsl_rng *rng,
                        splitee_round *r, splitee_error *err);

/* Fills *s with the totals, metrics and curve so far (computes regret
 * when eval is on; O(rounds x arms)). */
void splitee_device_summarize(splitee_device *d, splitee_device_summary *s);

/* "exited", "offloaded", "fallback". */
const char *splitee_round_outcome_name(splitee_round_outcome o);

/* ---- the live link clock (link_clock.c) ----------------------------------
 *
 * A link-cost simulator profile (link.h) as the device's link hook: one
 * radio whose state follows this device's transfers, on a clock that is,
 * by default, the sum of the simulated latencies so far -- a bandwidth
 * trace advances as if the device had waited for its transfers, and a run
 * is reproducible for a seed -- or, with wall_clock, the wall time since
 * create plus every latency the device did not sleep.
 *
 *     splitee_link *lk;
 *     splitee_link_load("data/links/lte.json", &lk, &err);
 *     splitee_link_clock_config lc;
 *     splitee_link_clock_config_default(&lc);
 *     lc.seed = seed + 1;
 *     splitee_link_clock *clk;
 *     splitee_link_clock_create(lk, &lc, &clk, &err);
 *     splitee_link_clock_attach(clk, &device_cfg);      // hook + sleep flag
 *     splitee_link_clock_offload_costs(clk, model, device_cfg.encoding, o, L, &err);
 *     reward_cfg.offload_cost = o;                      // o at t = 0, per layer
 *     ... splitee_device_step(...);
 *     const splitee_transfer *tr = splitee_link_clock_take(clk);  // this round's, or NULL
 *     splitee_link_clock_free(clk);
 *     splitee_link_free(lk);
 */

struct splitee_link;      /* link.h */
struct splitee_transfer;  /* link.h */

typedef struct splitee_link_clock splitee_link_clock; /* opaque */

typedef struct splitee_link_clock_config {
    unsigned long seed;  /* seeds the jitter and loss draws (GSL mt19937) */
    int sleep;           /* 1: the device sleeps every simulated latency, so the
                            wall clock already holds them (attach sets it) */
    int wall_clock;      /* 0 (default): the clock is the sum of the simulated
                            latencies alone, a pure function of the transfers,
                            so a run is reproducible for a seed (the device's
                            own compute time does not count); 1: wall time
                            since create counts too, as a deployed device's
                            radio would see it (tail energy then depends on
                            real gaps between rounds) */
} splitee_link_clock_config;

/* seed 1, no sleep, virtual clock (wall_clock 0). */
void splitee_link_clock_config_default(splitee_link_clock_config *cfg);

/* Makes a clock over link `lk` (borrowed: it must outlive the clock) with
 * a fresh idle radio (splitee_radio_create) and its own generator; the
 * clock starts at 0 now. ARG for NULL arguments, NOMEM; *out NULL then. */
int splitee_link_clock_create(const struct splitee_link *lk, const splitee_link_clock_config *cfg,
                              splitee_link_clock **out, splitee_error *err);

/* Frees the clock (not the link). NULL is a no-op. */
void splitee_link_clock_free(splitee_link_clock *c);

/* The link hook (splitee_link_fn; ctx is the clock): prices a transfer of
 * `bytes` with splitee_link_send at the clock's time now, advances the
 * clock by the latency unless the device sleeps it (wall clock on), and
 * gives o and the latency in seconds. Returns -1 (use the constant o)
 * when the price is not finite. */
int splitee_link_clock_price(void *ctx, int layer, size_t bytes, double *cost, double *latency_s);

/* Points dc's link hook at the clock (dc->link, dc->link_ctx) and takes
 * dc->sleep as the clock's sleep flag, so the two agree. */
void splitee_link_clock_attach(splitee_link_clock *c, splitee_device_config *dc);

/* The transfer priced since the previous take (this round's offload), or
 * NULL when none was; valid until the next price. */
const struct splitee_transfer *splitee_link_clock_take(splitee_link_clock *c);

/* The clock's time now, seconds. */
double splitee_link_clock_now(const splitee_link_clock *c);

/* Bytes of one offload request of `model` in `enc` after `layer` layers
 * (split point 0..layers, model.h) on the wire: the wire frame header +
 * splitee_model_payload_size(model, layer, enc) -- what splitee_device_step
 * hands the link hook. 0 for an unknown encoding or a layer out of range. */
size_t splitee_device_offload_bytes(const splitee_model *model, splitee_payload_encoding enc,
                                    int layer);

/* The reward model's o per layer for the clock's link: o[a] for a in
 * [0, layers) is the price (splitee_link_price, key 0) of an isolated
 * offload request of splitee_device_offload_bytes(model, enc, a + 1) at
 * t = 0 (arm a + 1 offloads the activation after layer a + 1) --
 * what the policy assumes for arms it has not yet seen priced. `cap` is
 * what o holds. ARG for NULL arguments, an unknown encoding or cap <
 * layers; VALUE when that price is not finite. */
int splitee_link_clock_offload_costs(const splitee_link_clock *c, const splitee_model *model,
                                     splitee_payload_encoding enc, double *o, int cap,
                                     splitee_error *err);

#ifdef __cplusplus
}
#endif
#endif
