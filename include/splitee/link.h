/* link.h -- the link-cost simulator: what offloading one payload costs the
 * device in latency (ms) and radio energy (mJ), and the offloading cost o
 * the reward model uses (reward.h), as a function of the split layer (the
 * payload size) and of time (the link state).
 *
 * A link profile (JSON, docs/LINKS.md, shipped ones in data/links/) gives:
 *   - bandwidth: constant uplink/downlink Mbit/s, or a bandwidth trace
 *     replayed in a loop from a chosen start offset (the `time_s Mbit/s`
 *     form, or the Mahimahi one-integer-per-line form: a millisecond at
 *     which one 1500-byte packet may be sent);
 *   - base RTT and jitter (uniform in [rtt - jitter, rtt + jitter], >= 0);
 *   - packet loss: none, independent random loss, or a Gilbert-Elliott
 *     channel with netem `loss gemodel p r 1-h 1-k` semantics;
 *   - a radio energy model: LTE (P = alpha_up*up + alpha_down*down + beta,
 *     promotion, tail), 3G (IDLE/FACH/DCH timers, promotion), Wi-Fi
 *     (energy per bit + tail), or none;
 *   - the cost weights: o = w_ms * latency_ms + w_mJ * energy_mJ.
 *
 * Transfer model (one offload, T_offload in LINKS.md):
 *   bytes on the wire = payload + frame header, cut into ceil(bytes / MSS)
 *   packets of at most MSS bytes plus a per-packet TCP/IP overhead;
 *   latency = promotion (radio idle) + uplink serialisation (the trace's
 *   rate integrated over time) + RTT/2 + cloud time + downlink of the
 *   result + RTT/2 + loss recovery. Payloads are a few packets, far too
 *   short for TCP's steady state, so each packet is sent and may be lost,
 *   and a loss is recovered by fast retransmit (one RTT, when three later
 *   packets can raise duplicate ACKs, RFC 5681) or by a retransmission
 *   timeout (RFC 6298; doubled for each further loss of the same packet),
 *   not by the Mathis/Padhye steady-state rates; those two formulas are
 *   provided for long bulk transfers and for comparison
 *   (splitee_link_tcp_mathis/_padhye). Replay uses the RTO of a converged
 *   estimator, max(rto_min, rtt + 2*jitter); the live radio runs the
 *   RFC 6298 estimator (initial RTO before the first RTT sample).
 *
 * Two ways to price a transfer:
 *   (a) replay, splitee_link_price(): a pure function of (profile, bytes,
 *       time, key). The link state is exogenous -- it depends on time only,
 *       never on what a policy did -- and every transfer is priced as an
 *       isolated one: the radio is idle before it (promotion paid) and its
 *       whole tail is charged to it. Loss draws come from a counter-based
 *       generator keyed by `key` and the packet index, so the same (time,
 *       key) gives the same draws for every arm, and results do not depend
 *       on thread count or evaluation order. A Gilbert-Elliott channel
 *       starts each transfer in its stationary distribution (consecutive
 *       rounds are many packet times apart, where the chain has mixed).
 *   (b) live device, splitee_radio + splitee_link_send(): stateful. The
 *       radio state machine follows the actual transfers: promotion only
 *       when the radio has gone idle, tail energy charged for the time the
 *       radio really spent in its tail states between transfers, and the
 *       Gilbert-Elliott state carried from one packet to the next. Draws
 *       come from a caller-owned GSL generator.
 *
 *     splitee_error err;
 *     splitee_link *lk;
 *     if (splitee_link_load("data/links/lte.json", &lk, &err) < 0)
 *         die(err.msg);                    // "data/links/lte.json: ..."
 *     size_t bytes = splitee_link_payload_bytes(lk, SPLITEE_PAYLOAD_ENCODING_F32, 16, 64);
 *     splitee_transfer tr;
 *     splitee_link_price(lk, bytes, 12.5, 42, &tr);   // at t = 12.5 s
 *     printf("%.1f ms %.1f mJ o = %.3f\n", tr.latency_ms, tr.energy_mJ, tr.cost);
 *
 *     // live: one radio per device, transfers in time order
 *     splitee_radio *radio;
 *     splitee_radio_create(lk, &radio, &err);
 *     splitee_link_send(lk, radio, bytes, now_s, rng, &tr);
 *     ...
 *     splitee_radio_free(radio);
 *     splitee_link_free(lk);
 */
#ifndef SPLITEE_LINK_H
#define SPLITEE_LINK_H

#include <stddef.h>
#include <stdint.h>
#include <gsl/gsl_rng.h>
#include "payload.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SPLITEE_LINK_MAX_TAIL 4     /* tail phases of a radio model */
#define SPLITEE_LINK_FRAME_HEADER 24 /* default application frame header, bytes:
                                      the live wire protocol's frame header */
/* Default cost weights (docs/LINKS.md): o = 0.0005/ms * latency + 1e-5/mJ *
 * energy, i.e. 0.5 per second of latency and 0.01 per joule, so that one
 * layer of device cost at lambda = 0.1 weighs as much as 200 ms or 10 J,
 * and an isolated offload on the nominal LTE profile costs o ~ 0.27. */
#define SPLITEE_LINK_W_MS 0.0005
#define SPLITEE_LINK_W_MJ 0.00001

typedef enum splitee_loss_model {
    SPLITEE_LOSS_MODEL_NONE = 0,
    SPLITEE_LOSS_MODEL_RANDOM,           /* each packet lost with probability p */
    SPLITEE_LOSS_MODEL_GILBERT_ELLIOTT   /* two-state Markov channel (netem gemodel) */
} splitee_loss_model;

typedef enum splitee_radio_model {
    SPLITEE_RADIO_MODEL_NONE = 0,        /* no energy accounting (energy 0) */
    SPLITEE_RADIO_MODEL_LTE,
    SPLITEE_RADIO_MODEL_3G,
    SPLITEE_RADIO_MODEL_WIFI
} splitee_radio_model;

typedef enum splitee_trace_format {
    SPLITEE_TRACE_FORMAT_MBPS = 0,        /* "time_s throughput_Mbps" per line */
    SPLITEE_TRACE_FORMAT_MAHIMAHI         /* one integer ms per line: a 1500-byte
                                      packet delivery opportunity */
} splitee_trace_format;

/* One tail state of a radio: after a transfer the radio stays `s` seconds
 * at `mW`, then moves to the next phase, then to idle. A transfer that
 * starts during this phase first pays `resume_s` at `resume_mW` (3G:
 * FACH -> DCH promotion; 0 for LTE and Wi-Fi). */
typedef struct splitee_tail_phase {
    double s;          /* seconds */
    double mW;         /* power, milliwatts */
    double resume_s;   /* promotion delay to transmit again from this phase */
    double resume_mW;  /* power during that promotion */
} splitee_tail_phase;

/* Radio energy figures (LINKS.md). Active power while moving data is
 * alpha_up_mW*up_Mbps + alpha_down_mW*down_Mbps + beta_mW; while waiting
 * for the reply with no data moving, wait_mW. */
typedef struct splitee_radio_params {
    splitee_radio_model model;
    double alpha_up_mW;     /* mW per uplink Mbit/s */
    double alpha_down_mW;   /* mW per downlink Mbit/s */
    double beta_mW;         /* base power while transferring, mW */
    double wait_mW;         /* power while connected and waiting, mW */
    double promotion_s;     /* IDLE -> connected delay, seconds */
    double promotion_mW;    /* power during that promotion, mW */
    int ntail;              /* tail phases used, 0..SPLITEE_LINK_MAX_TAIL */
    splitee_tail_phase tail[SPLITEE_LINK_MAX_TAIL];
} splitee_radio_params;

/* Everything in a profile except the trace samples. Plain data. */
typedef struct splitee_link_params {
    char name[64];          /* profile name (file stem if absent) */
    double uplink_mbps;     /* constant uplink rate, Mbit/s (> 0); with a
                               trace, the trace replaces it */
    double downlink_mbps;   /* downlink rate for the result, Mbit/s (> 0) */
    double rtt_ms;          /* base round-trip time, ms (>= 0) */
    double jitter_ms;       /* RTT drawn uniformly in rtt +- jitter (>= 0) */
    splitee_loss_model loss;
    double loss_p;          /* RANDOM: loss probability; GE: P(good->bad) */
    double ge_r;            /* GE: P(bad->good) per packet */
    double ge_1_h;          /* GE: loss probability in the bad state (1-h) */
    double ge_1_k;          /* GE: loss probability in the good state (1-k) */
    double mss_bytes;       /* TCP payload bytes per packet (1460) */
    double overhead_bytes;  /* TCP/IP header bytes per packet (40) */
    double rto_initial_ms;  /* RFC 6298 initial RTO (1000) */
    double rto_min_ms;      /* RFC 6298 minimum RTO (1000; Linux 200) */
    int max_retries;        /* give up after this many losses of one
                               packet (latency then counts them all) */
    double frame_header_bytes; /* application frame around a payload (24) */
    double result_bytes;    /* reply size: result frame, bytes (64) */
    double cloud_ms;        /* cloud compute time for the remaining layers */
    double encode_ms;       /* device-side quantise/serialise time */
    double w_ms;            /* cost weight per ms of latency */
    double w_mJ;            /* cost weight per mJ of device energy */
    splitee_radio_params radio;
    /* trace (used when has_trace) */
    int has_trace;
    splitee_trace_format trace_format;
    double trace_start_s;   /* offset into the trace at t = 0, seconds */
    int trace_loop;         /* 1: replay in a loop; 0: hold the last rate */
    double trace_bin_ms;    /* Mahimahi: bin width for rates (default 100) */
    char source[256];       /* where the figures come from (profile "source") */
} splitee_link_params;

typedef struct splitee_link splitee_link; /* opaque, read-only once made */

/* The price of one transfer. */
typedef struct splitee_transfer {
    size_t bytes;           /* payload + frame header, bytes */
    size_t packets;         /* TCP segments */
    int losses;             /* packets lost (each recovered by an RTO) */
    double uplink_mbps;     /* uplink rate at the start of the transfer */
    double rtt_ms;          /* RTT drawn for this transfer */
    double promotion_ms;    /* radio promotion delay paid */
    double uplink_ms;       /* serialisation of every packet sent, ms */
    double recovery_ms;     /* waiting on retransmission timeouts, ms */
    double latency_ms;      /* start of the offload to the reply, ms */
    double energy_mJ;       /* device radio energy, tail included, mJ */
    double tail_mJ;         /* of which tail energy, mJ */
    double cost;            /* o = w_ms*latency_ms + w_mJ*energy_mJ */
} splitee_transfer;

/* Fills *p with an LTE-like constant link without loss and the default
 * radio LTE figures, w_ms and w_mJ at their defaults (docs/LINKS.md). */
void splitee_link_params_default(splitee_link_params *p);

/* Fills *r with the published figures of `model` (LINKS.md). */
void splitee_radio_params_default(splitee_radio_params *r, splitee_radio_model model);

/* Loads a profile JSON. A relative trace path is taken relative to the
 * profile's folder. Fails with IO (unreadable), FORMAT (malformed JSON,
 * missing or mistyped fields, malformed trace lines), VALUE (negative or
 * non-finite rates, probabilities outside [0, 1], an empty trace or one
 * with no capacity) with a one-line message naming the file. */
int splitee_link_load(const char *path, splitee_link **out, splitee_error *err);

/* Parses a profile from JSON text; `name` names it in messages and
 * `dir` is the folder relative trace paths start from (may be NULL). */
int splitee_link_parse(const char *json, const char *name, const char *dir,
                       splitee_link **out, splitee_error *err);

/* Checks parameters as splitee_link_create does; messages start with
 * `who` (a file name, or NULL for p->name). */
int splitee_link_check_params(const splitee_link_params *p, const char *who,
                              splitee_error *err);

/* Makes a link from parameters and, when p->has_trace, a trace:
 * times_s (n) strictly increasing from >= 0 and rates_mbps (n) >= 0, a
 * piecewise-constant uplink rate (rate k holds from times_s[k] to
 * times_s[k+1]; the last one for period_s - times_s[n-1]). Arrays are
 * copied. VALUE/ARG on a bad parameter, with a message naming `p->name`. */
int splitee_link_create(const splitee_link_params *p, const double *times_s,
                        const double *rates_mbps, size_t n, double period_s,
                        splitee_link **out, splitee_error *err);

/* Frees the link; NULL is a no-op. */
void splitee_link_free(splitee_link *lk);

/* The link's parameters (read-only). */
const splitee_link_params *splitee_link_get_params(const splitee_link *lk);

/* Parses a trace text in `fmt` into a malloc'd piecewise-constant rate
 * (*times_s, *rates_mbps of *n entries, and the loop period *period_s;
 * the caller frees both arrays). `name` names the trace in messages:
 * FORMAT "NAME:LINE: ..." for a malformed line or decreasing times,
 * VALUE for negative or non-finite rates, an empty trace, or (Mahimahi)
 * bin_ms outside [1, 3600000]. `time Mbit/s`: times are taken relative to
 * the first line, and the last rate holds for the mean gap between lines
 * (1 s for a single line); Mahimahi: whole-millisecond timestamps in
 * [0, 10^12], non-decreasing; opportunities are counted in bins of bin_ms,
 * the period is the last timestamp (at least 1 ms), and the series has a
 * point per non-empty bin plus a zero-rate point where a run of empty bins
 * starts, so memory grows with the lines, never with the timestamps.
 * Blank lines and lines starting with '#' are skipped. */
int splitee_link_parse_trace(const char *text, splitee_trace_format fmt, double bin_ms,
                             const char *name, double **times_s, double **rates_mbps,
                             size_t *n, double *period_s, splitee_error *err);

/* Uplink rate (Mbit/s) at time t_s (seconds since the profile's start). */
double splitee_link_uplink_at(const splitee_link *lk, double t_s);

/* Milliseconds to push `bits` through the uplink starting at t_s,
 * integrating the (trace) rate over time; INFINITY if the trace never
 * has capacity again (no loop, last rate 0). */
double splitee_link_uplink_ms(const splitee_link *lk, double bits, double t_s);

/* Bytes a payload of (tokens, dim) in `enc` occupies on the wire: the
 * payload (payload.h, header included) + the profile's frame header. 0 for
 * a size splitee_payload_size refuses. */
size_t splitee_link_payload_bytes(const splitee_link *lk, splitee_payload_encoding enc,
                                  size_t tokens, size_t dim);

/* Bytes of a raw-input offload (split before any layer): `values` input
 * values (the 28x28 image: 784) sent as float32 in a (1, values) payload
 * in `enc`, + the frame header. */
size_t splitee_link_raw_bytes(const splitee_link *lk, splitee_payload_encoding enc,
                              size_t values);

/* Replay pricing (a): an isolated transfer of `bytes` starting at t_s,
 * loss draws keyed by `key` (see the header comment). Pure: no state, no
 * allocation, thread-safe. */
void splitee_link_price(const splitee_link *lk, size_t bytes, double t_s, uint64_t key,
                        splitee_transfer *out);

/* Fills o (rounds, arms) with the offloading cost of arm a at round k,
 * priced at t = t0_s + k * arrival_ms / 1000 with key mixed from (seed, k):
 * o[k * arms + a] = splitee_link_price(lk, bytes[a], t, key).cost. Arms
 * with bytes[a] == 0 get o = 0 (the last arm never offloads). With
 * rounds = 1 and t0_s = now it gives one round's o vector, e.g. for a live
 * device to hand splitee_policy_set_offload (bandit.h). No allocation. */
void splitee_link_schedule(const splitee_link *lk, const size_t *bytes, int arms,
                           size_t rounds, double t0_s, double arrival_ms, uint64_t seed,
                           double *o);

/* ------------------------------------------------ live device (b) --- */

typedef struct splitee_radio splitee_radio; /* radio + channel state */

/* A radio in idle state, the channel in its good state, at time 0. */
int splitee_radio_create(const splitee_link *lk, splitee_radio **out, splitee_error *err);
void splitee_radio_free(splitee_radio *r);

/* Prices a transfer of `bytes` starting at now_s (>= the end of the
 * previous transfer; an earlier now_s is taken as that end: the radio is
 * busy). Promotion is paid only when the radio went idle, out->tail_mJ
 * is the tail energy spent between the previous transfer's end and now_s
 * (charged to this transfer), energy_mJ includes it. Loss and jitter draw
 * from `rng` (NULL: no jitter and nothing is lost). */
void splitee_link_send(const splitee_link *lk, splitee_radio *r, size_t bytes,
                       double now_s, gsl_rng *rng, splitee_transfer *out);

/* Tail energy (mJ) the radio spends from its last transfer until now_s
 * (or until idle), not yet charged; advances the radio to now_s. */
double splitee_radio_flush(const splitee_link *lk, splitee_radio *r, double now_s);

/* Time (s) at which the radio's last transfer ended (0 before any). */
double splitee_radio_busy_until(const splitee_radio *r);

/* ------------------------------------------------- model formulas --- */

/* Mathis et al. 1997 steady-state TCP rate, bytes/s:
 * MSS * sqrt(3/2) / (RTT * sqrt(p)). rtt_s > 0, 0 < p <= 1; INFINITY for
 * p == 0. Valid below ~1% loss. */
double splitee_link_tcp_mathis(double mss_bytes, double rtt_s, double p);

/* Padhye et al. 1998 TCP rate with timeouts, bytes/s (b packets per ACK,
 * usually 1 or 2): MSS / (RTT*sqrt(2bp/3) + T0*min(1, 3*sqrt(3bp/8))*p*(1+32p^2)).
 * INFINITY for p == 0. */
double splitee_link_tcp_padhye(double mss_bytes, double rtt_s, double p, double rto_s,
                               double b);

/* Steady-state loss rate of a Gilbert-Elliott channel:
 * (r*(1-k) + p*(1-h)) / (p + r). */
double splitee_link_ge_loss(double p, double r, double one_minus_h, double one_minus_k);

#ifdef __cplusplus
}
#endif
#endif
