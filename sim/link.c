/* link.c -- the link-cost simulator's models (link.h): bandwidth over time
 * (constant or a looped trace), TCP transfer with loss recovery, radio
 * energy (LTE, 3G, Wi-Fi), and the two ways of pricing an offload: pure and
 * exogenous for replay, stateful for a live device. Figures: shared
 * LINKS.md, cited per profile in data/links/README.md. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "core/stats.h"
#include "link_internal.h"

/* ------------------------------------------------------- parameters --- */

void splitee_radio_params_default(splitee_radio_params *r, splitee_radio_model model)
{
    memset(r, 0, sizeof *r);
    r->model = model;
    switch (model) {
    case SPLITEE_RADIO_MODEL_LTE:
        /* Huang et al. MobiSys 2012 (as in AT&T ARO): P = alpha_u*u +
         * alpha_d*d + beta; promotion 0.26 s at 1.21 W; tail 1.06 W for the
         * 0.1 s inactivity timer, then DRX up to 10 s (Huang's average tail
         * power, 1.06 W, used for both). */
        r->alpha_up_mW = 438.39;
        r->alpha_down_mW = 51.97;
        r->beta_mW = 1200.0;
        r->wait_mW = 1060.0;
        r->promotion_s = 0.26;
        r->promotion_mW = 1210.0;
        r->ntail = 2;
        r->tail[0] = (splitee_tail_phase){ 0.1, 1060.0, 0, 0 };
        r->tail[1] = (splitee_tail_phase){ 10.0, 1060.0, 0, 0 };
        break;
    case SPLITEE_RADIO_MODEL_3G:
        /* ARO's HTC Inspire profile: DCH 0.60 W, FACH 0.38 W, DCH->FACH
         * after 4 s idle, FACH->IDLE after 10 s, IDLE promotion 2 s at
         * 0.30 W. FACH->DCH promotion 1.5 s at 0.38 W: an engineering
         * default (not in LINKS.md). Power does not depend on the rate. */
        r->beta_mW = 600.0;
        r->wait_mW = 600.0;
        r->promotion_s = 2.0;
        r->promotion_mW = 300.0;
        r->ntail = 2;
        r->tail[0] = (splitee_tail_phase){ 4.0, 600.0, 0, 0 };
        r->tail[1] = (splitee_tail_phase){ 10.0, 380.0, 1.5, 380.0 };
        break;
    case SPLITEE_RADIO_MODEL_WIFI:
        /* 6.45e-7 J per bit (Aalborg measurements) = 645 mW per Mbit/s, no
         * base power; tail 0.25 s (ARO Wi-Fi profile). The 300 mW while
         * waiting and in the tail is an engineering default. */
        r->alpha_up_mW = 645.0;
        r->alpha_down_mW = 645.0;
        r->beta_mW = 0.0;
        r->wait_mW = 300.0;
        r->ntail = 1;
        r->tail[0] = (splitee_tail_phase){ 0.25, 300.0, 0, 0 };
        break;
    default:
        r->model = SPLITEE_RADIO_MODEL_NONE;
        break;
    }
}

void splitee_link_params_default(splitee_link_params *p)
{
    memset(p, 0, sizeof *p);
    strcpy(p->name, "default");
    p->uplink_mbps = 5.85;
    p->downlink_mbps = 13.0;
    p->rtt_ms = 50.0;
    p->jitter_ms = 0.0;
    p->loss = SPLITEE_LOSS_MODEL_NONE;
    p->mss_bytes = 1460.0;
    p->overhead_bytes = 40.0;
    p->rto_initial_ms = 1000.0;
    p->rto_min_ms = 1000.0;
    p->max_retries = 6;
    p->frame_header_bytes = SPLITEE_LINK_FRAME_HEADER;
    p->result_bytes = 64.0;
    p->w_ms = SPLITEE_LINK_W_MS;
    p->w_mJ = SPLITEE_LINK_W_MJ;
    splitee_radio_params_default(&p->radio, SPLITEE_RADIO_MODEL_LTE);
    p->trace_loop = 1;
    p->trace_bin_ms = 100.0;
}

/* ---------------------------------------------------------- create --- */

static int bad(splitee_error *err, const char *name, const char *field, const char *why)
{
    return splitee__fail(err, SPLITEE_ERR_VALUE, "%s: %s %s", name, field, why);
}

/* Checks every parameter; VALUE naming the field otherwise. */
int splitee_link_check_params(const splitee_link_params *p, const char *who,
                              splitee_error *err)
{
    const char *n = who ? who : p->name;
    struct { const char *f; double v; int pos; } nonneg[] = {
        { "uplink_mbps", p->uplink_mbps, 1 }, { "downlink_mbps", p->downlink_mbps, 1 },
        { "mss_bytes", p->mss_bytes, 1 }, { "rtt_ms", p->rtt_ms, 0 },
        { "jitter_ms", p->jitter_ms, 0 }, { "overhead_bytes", p->overhead_bytes, 0 },
        { "rto_initial_ms", p->rto_initial_ms, 1 }, { "rto_min_ms", p->rto_min_ms, 0 },
        { "frame_header_bytes", p->frame_header_bytes, 0 }, { "result_bytes", p->result_bytes, 0 },
        { "cloud_ms", p->cloud_ms, 0 }, { "encode_ms", p->encode_ms, 0 },
        { "w_ms", p->w_ms, 0 }, { "w_mJ", p->w_mJ, 0 },
        { "trace start_s", p->trace_start_s, 0 },
        { "radio alpha_up_mW", p->radio.alpha_up_mW, 0 },
        { "radio alpha_down_mW", p->radio.alpha_down_mW, 0 },
        { "radio beta_mW", p->radio.beta_mW, 0 }, { "radio wait_mW", p->radio.wait_mW, 0 },
        { "radio promotion_s", p->radio.promotion_s, 0 },
        { "radio promotion_mW", p->radio.promotion_mW, 0 },
    };
    for (size_t i = 0; i < sizeof nonneg / sizeof *nonneg; i++) {
        if (!isfinite(nonneg[i].v))
            return bad(err, n, nonneg[i].f, "is not a finite number");
        if (nonneg[i].pos ? !(nonneg[i].v > 0) : nonneg[i].v < 0)
            return bad(err, n, nonneg[i].f, nonneg[i].pos ? "must be > 0" : "must be >= 0");
    }
    struct { const char *f; double v; } prob[] = {
        { "loss p", p->loss_p }, { "loss r", p->ge_r }, { "loss 1-h", p->ge_1_h },
        { "loss 1-k", p->ge_1_k },
    };
    for (size_t i = 0; i < sizeof prob / sizeof *prob; i++)
        if (!isfinite(prob[i].v) || prob[i].v < 0 || prob[i].v > 1)
            return bad(err, n, prob[i].f, "must be a probability in [0, 1]");
    if (p->loss == SPLITEE_LOSS_MODEL_GILBERT_ELLIOTT && p->loss_p + p->ge_r <= 0)
        return bad(err, n, "loss p + r", "must be > 0 for a Gilbert-Elliott channel");
    if (p->loss != SPLITEE_LOSS_MODEL_NONE && p->max_retries < 1)
        return bad(err, n, "max_retries", "must be >= 1");
    if (p->radio.ntail < 0 || p->radio.ntail > SPLITEE_LINK_MAX_TAIL)
        return bad(err, n, "radio tail", "has too many phases (at most 4)");
    for (int k = 0; k < p->radio.ntail; k++) {
        const splitee_tail_phase *t = &p->radio.tail[k];
        if (!(isfinite(t->s) && isfinite(t->mW) && isfinite(t->resume_s) && isfinite(t->resume_mW)))
            return bad(err, n, "radio tail", "has a value that is not a finite number");
        if (t->s < 0 || t->mW < 0 || t->resume_s < 0 || t->resume_mW < 0)
            return bad(err, n, "radio tail", "has a negative value");
    }
    if (p->has_trace && p->trace_format == SPLITEE_TRACE_FORMAT_MAHIMAHI &&
        !(isfinite(p->trace_bin_ms) && p->trace_bin_ms > 0))
        return bad(err, n, "trace bin_ms", "must be > 0");
    return SPLITEE_OK;
}

int splitee_link_create(const splitee_link_params *p, const double *times_s,
                        const double *rates_mbps, size_t n, double period_s,
                        splitee_link **out, splitee_error *err)
{
    *out = NULL;
    if (!p)
        return splitee__fail(err, SPLITEE_ERR_ARG, "link: no parameters");
    int st = splitee_link_check_params(p, NULL, err);
    if (st < 0)
        return st;
    splitee_link *lk = calloc(1, sizeof *lk);
    if (!lk)
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", p->name);
    lk->p = *p;
    lk->p.name[sizeof lk->p.name - 1] = '\0';
    if (p->has_trace) {
        if (!times_s || !rates_mbps || n == 0) {
            free(lk);
            return bad(err, p->name, "trace", "is empty");
        }
        if (!(isfinite(period_s) && period_s > times_s[n - 1])) {
            free(lk);
            return bad(err, p->name, "trace period", "must be past the last sample time");
        }
        double cap = 0;
        for (size_t i = 0; i < n; i++) {
            double next = i + 1 < n ? times_s[i + 1] : period_s;
            if (!isfinite(times_s[i]) || !isfinite(rates_mbps[i]) || rates_mbps[i] < 0 ||
                times_s[i] < 0 || next <= times_s[i]) {
                free(lk);
                return bad(err, p->name, "trace", "has a negative, non-finite or out-of-order sample");
            }
            cap += rates_mbps[i] * 1e6 * (next - times_s[i]);
        }
        if (!(cap > 0) || (!p->trace_loop && !(rates_mbps[n - 1] > 0))) {
            free(lk);
            return bad(err, p->name, "trace", p->trace_loop ? "has no capacity (every rate is 0)"
                                                              : "ends at rate 0 and does not loop");
        }
        lk->t = malloc(n * sizeof *lk->t);
        lk->r = malloc(n * sizeof *lk->r);
        if (!lk->t || !lk->r) {
            splitee_link_free(lk);
            return splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", p->name);
        }
        memcpy(lk->t, times_s, n * sizeof *lk->t);
        memcpy(lk->r, rates_mbps, n * sizeof *lk->r);
        lk->n = n;
        lk->period = period_s;
        lk->period_bits = cap;
    }
    *out = lk;
    return SPLITEE_OK;
}

void splitee_link_free(splitee_link *lk)
{
    if (!lk)
        return;
    free(lk->t);
    free(lk->r);
    free(lk);
}

const splitee_link_params *splitee_link_get_params(const splitee_link *lk)
{
    return &lk->p;
}

/* ------------------------------------------------------- bandwidth --- */

/* Index of the trace segment holding trace time x in [0, period). */
static size_t segment(const splitee_link *lk, double x)
{
    size_t lo = 0, hi = lk->n; /* t[lo] <= x < t[hi] */
    if (x < lk->t[0])
        return lk->n - 1;      /* before the first sample: the loop's tail */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (lk->t[mid] <= x)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* Trace time (in [0, period), or past it without loop) of wall time t_s. */
static double trace_time(const splitee_link *lk, double t_s)
{
    double x = t_s + lk->p.trace_start_s;
    if (!lk->p.trace_loop)
        return x;
    x = fmod(x, lk->period);
    return x < 0 ? x + lk->period : x;
}

double splitee_link_uplink_at(const splitee_link *lk, double t_s)
{
    if (!lk->p.has_trace)
        return lk->p.uplink_mbps;
    double x = trace_time(lk, t_s);
    if (x >= lk->period)
        return lk->r[lk->n - 1];
    return lk->r[segment(lk, x)];
}

double splitee_link_uplink_ms(const splitee_link *lk, double bits, double t_s)
{
    if (!(bits > 0))
        return 0.0;
    if (!lk->p.has_trace)
        return bits / (lk->p.uplink_mbps * 1e3);
    double x = trace_time(lk, t_s), elapsed = 0.0;
    if (lk->p.trace_loop && bits > lk->period_bits) {
        double whole = floor(bits / lk->period_bits);
        bits -= whole * lk->period_bits;
        elapsed += whole * lk->period;
        if (!(bits > 0))
            return elapsed * 1e3;
    }
    for (;;) {
        if (!lk->p.trace_loop && x >= lk->period) /* past the end: last rate */
            return (elapsed + bits / (lk->r[lk->n - 1] * 1e6)) * 1e3;
        size_t i = segment(lk, x);
        double end = i + 1 < lk->n ? lk->t[i + 1] : lk->period;
        if (x < lk->t[0])
            end = lk->t[0];
        double rate = lk->r[i] * 1e6, span = end - x;
        if (rate * span >= bits)
            return (elapsed + bits / rate) * 1e3;
        bits -= rate * span;
        elapsed += span;
        x = end;
        if (lk->p.trace_loop && x >= lk->period)
            x = 0.0;
    }
}

/* ---------------------------------------------------------- payload --- */

size_t splitee_link_payload_bytes(const splitee_link *lk, splitee_payload_encoding enc,
                                  size_t tokens, size_t dim)
{
    size_t s = splitee_payload_size(enc, tokens, dim);
    return s ? s + (size_t)lk->p.frame_header_bytes : 0;
}

size_t splitee_link_raw_bytes(const splitee_link *lk, splitee_payload_encoding enc,
                              size_t values)
{
    return splitee_link_payload_bytes(lk, enc, 1, values);
}

/* ------------------------------------------------------- transfers --- */

/* Uniform double in [0, 1) from a counter-based generator: draw c of the
 * stream `key` (splitmix64 of the pair, top 53 bits). */
static double cbrng(uint64_t key, uint64_t c)
{
    return (double)(splitee__mix64(key ^ splitee__mix64(c + 0x9e3779b97f4a7c15ULL)) >> 11)
           * 0x1.0p-53;
}

/* Where draws come from: a counter stream (replay) or a GSL rng (live). */
typedef struct draws {
    uint64_t key, c;
    gsl_rng *rng;
    int none;        /* no draws at all: no jitter, no loss */
} draws;

static double draw(draws *d)
{
    if (d->rng)
        return gsl_rng_uniform(d->rng);
    return cbrng(d->key, d->c++);
}

/* Loss state carried through one transfer. */
typedef struct channel {
    int bad;   /* Gilbert-Elliott: 1 in the bad state */
} channel;

/* Is the next packet lost? Advances a Gilbert-Elliott channel by one packet
 * (loss decided in the current state, then the transition). */
static int packet_lost(const splitee_link_params *p, channel *ch, draws *d)
{
    if (d->none || p->loss == SPLITEE_LOSS_MODEL_NONE)
        return 0;
    if (p->loss == SPLITEE_LOSS_MODEL_RANDOM)
        return draw(d) < p->loss_p;
    int lost = draw(d) < (ch->bad ? p->ge_1_h : p->ge_1_k);
    double u = draw(d);
    ch->bad = ch->bad ? !(u < p->ge_r) : u < p->loss_p;
    return lost;
}

/* What the radio did during one transfer (energy without the tail). */
typedef struct phase_times {
    double promotion_ms, promotion_mW;
} phase_times;

/* Prices the transfer itself: packets, loss recovery, uplink, RTT, cloud,
 * result downlink, and the radio energy of those phases (no promotion, no
 * tail). `rto_ms` is the retransmission timeout of the first loss of a
 * packet (doubled per further loss); the start of the uplink is t_up_s. */
static void transfer(const splitee_link *lk, size_t bytes, double t_up_s, double rto_ms,
                     channel *ch, draws *d, splitee_transfer *o)
{
    const splitee_link_params *p = &lk->p;
    const splitee_radio_params *rad = &p->radio;
    size_t packets = bytes ? (size_t)ceil((double)bytes / p->mss_bytes) : 1;
    double bits = ((double)bytes + (double)packets * p->overhead_bytes) * 8.0;
    double last = (double)bytes - (double)(packets - 1) * p->mss_bytes;
    double rtt = p->rtt_ms;
    if (p->jitter_ms > 0 && !d->none)
        rtt = fmax(0.0, rtt + p->jitter_ms * (2.0 * draw(d) - 1.0));
    double recovery = 0.0;
    int losses = 0;
    for (size_t j = 0; j < packets; j++) {
        double seg = (j + 1 == packets ? last : p->mss_bytes) + p->overhead_bytes;
        /* First loss: fast retransmit (one RTT) when three later packets
         * can produce duplicate ACKs (RFC 5681), else an RTO; every further
         * loss of the same packet waits a doubled RTO (RFC 6298). */
        double wait = (packets - 1 - j >= 3) ? rtt : rto_ms;
        for (int k = 0; k < p->max_retries && packet_lost(p, ch, d); k++) {
            losses++;
            recovery += wait;
            bits += seg * 8.0;
            wait = (k == 0 && packets - 1 - j >= 3) ? rto_ms : 2.0 * wait;
        }
    }
    o->bytes = bytes;
    o->packets = packets;
    o->losses = losses;
    o->rtt_ms = rtt;
    o->uplink_mbps = splitee_link_uplink_at(lk, t_up_s);
    o->uplink_ms = splitee_link_uplink_ms(lk, bits, t_up_s);
    o->recovery_ms = recovery;
    double result_bits = p->result_bytes > 0
        ? (p->result_bytes + ceil(p->result_bytes / p->mss_bytes) * p->overhead_bytes) * 8.0 : 0.0;
    double down_ms = result_bits / (p->downlink_mbps * 1e3);
    double wait_ms = recovery + rtt + p->cloud_ms;
    o->latency_ms = p->encode_ms + o->promotion_ms + o->uplink_ms + wait_ms + down_ms;
    /* mW * s = mJ; alpha [mW per Mbit/s] * Mbit = mJ */
    double e = 0.0;
    if (rad->model != SPLITEE_RADIO_MODEL_NONE) {
        e += rad->alpha_up_mW * bits / 1e6 + rad->beta_mW * o->uplink_ms / 1e3;
        e += rad->wait_mW * wait_ms / 1e3;
        e += rad->alpha_down_mW * result_bits / 1e6 + rad->beta_mW * down_ms / 1e3;
    }
    o->energy_mJ = e;
}

static void finish(const splitee_link_params *p, splitee_transfer *o)
{
    o->cost = p->w_ms * o->latency_ms + p->w_mJ * o->energy_mJ;
}

/* The whole tail's energy, mJ. */
static double full_tail_mJ(const splitee_radio_params *r)
{
    double e = 0.0;
    for (int k = 0; r->model != SPLITEE_RADIO_MODEL_NONE && k < r->ntail; k++)
        e += r->tail[k].s * r->tail[k].mW;
    return e;
}

/* RTO of a connection whose estimator has converged on the link: SRTT =
 * RTT, RTTVAR = mean deviation of the uniform jitter (jitter/2), RFC 6298
 * RTO = max(min, SRTT + 4 RTTVAR). */
static double steady_rto_ms(const splitee_link_params *p)
{
    return fmax(p->rto_min_ms, p->rtt_ms + 4.0 * (p->jitter_ms / 2.0));
}

void splitee_link_price(const splitee_link *lk, size_t bytes, double t_s, uint64_t key,
                        splitee_transfer *out)
{
    const splitee_link_params *p = &lk->p;
    const splitee_radio_params *r = &p->radio;
    draws d = { key, 0, NULL, 0 };
    channel ch = { 0 };
    if (p->loss == SPLITEE_LOSS_MODEL_GILBERT_ELLIOTT) /* stationary start */
        ch.bad = draw(&d) < p->loss_p / (p->loss_p + p->ge_r);
    memset(out, 0, sizeof *out);
    double promo_s = r->model != SPLITEE_RADIO_MODEL_NONE ? r->promotion_s : 0.0;
    out->promotion_ms = promo_s * 1e3;
    transfer(lk, bytes, t_s + (p->encode_ms + out->promotion_ms) / 1e3, steady_rto_ms(p),
             &ch, &d, out);
    out->tail_mJ = full_tail_mJ(r);
    out->energy_mJ += promo_s * r->promotion_mW + out->tail_mJ;
    finish(p, out);
}

void splitee_link_schedule(const splitee_link *lk, const size_t *bytes, int arms,
                           size_t rounds, double t0_s, double arrival_ms, uint64_t seed,
                           double *o)
{
    for (size_t k = 0; k < rounds; k++) {
        double t = t0_s + (double)k * arrival_ms / 1e3;
        uint64_t key = splitee__mix64(seed ^ splitee__mix64((uint64_t)k + 1));
        for (int a = 0; a < arms; a++) {
            splitee_transfer tr;
            if (bytes[a] == 0) {
                o[k * (size_t)arms + (size_t)a] = 0.0;
                continue;
            }
            splitee_link_price(lk, bytes[a], t, key, &tr);
            o[k * (size_t)arms + (size_t)a] = tr.cost;
        }
    }
}

/* ------------------------------------------------------- live radio --- */

int splitee_radio_create(const splitee_link *lk, splitee_radio **out, splitee_error *err)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", lk->p.name);
    (*out)->idle = 1;
    return SPLITEE_OK;
}

void splitee_radio_free(splitee_radio *r)
{
    free(r);
}

double splitee_radio_busy_until(const splitee_radio *r)
{
    return r->end_s;
}

/* Tail energy (mJ) over [from, to) seconds after the end of the last
 * transfer (times relative to that end). */
static double tail_between(const splitee_radio_params *r, double from, double to)
{
    double e = 0.0, start = 0.0;
    for (int k = 0; k < r->ntail; k++) {
        double end = start + r->tail[k].s;
        double a = fmax(from, start), b = fmin(to, end);
        if (b > a)
            e += (b - a) * r->tail[k].mW;
        start = end;
    }
    return e;
}

static double tail_length(const splitee_radio_params *r)
{
    double s = 0.0;
    for (int k = 0; k < r->ntail; k++)
        s += r->tail[k].s;
    return s;
}

double splitee_radio_flush(const splitee_link *lk, splitee_radio *r, double now_s)
{
    const splitee_radio_params *rp = &lk->p.radio;
    if (r->idle || rp->model == SPLITEE_RADIO_MODEL_NONE || now_s <= r->charged_s)
        return 0.0;
    double e = tail_between(rp, r->charged_s - r->end_s, now_s - r->end_s);
    r->charged_s = now_s;
    if (now_s - r->end_s >= tail_length(rp))
        r->idle = 1;
    return e;
}

/* Advances a Gilbert-Elliott chain by `steps` packet slots analytically:
 * P(bad after k) = pi + (s - pi)(1 - p - r)^k. */
static void advance_channel(const splitee_link_params *p, splitee_radio *r, double steps,
                            gsl_rng *rng)
{
    if (p->loss != SPLITEE_LOSS_MODEL_GILBERT_ELLIOTT || !rng || !(steps > 0))
        return;
    double pi = p->loss_p / (p->loss_p + p->ge_r);
    double pb = pi + ((r->bad ? 1.0 : 0.0) - pi) * pow(1.0 - p->loss_p - p->ge_r, steps);
    r->bad = gsl_rng_uniform(rng) < pb;
}

void splitee_link_send(const splitee_link *lk, splitee_radio *r, size_t bytes,
                       double now_s, gsl_rng *rng, splitee_transfer *out)
{
    const splitee_link_params *p = &lk->p;
    const splitee_radio_params *rp = &p->radio;
    memset(out, 0, sizeof *out);
    if (now_s < r->end_s)
        now_s = r->end_s;
    /* The channel moved on while we were silent (one slot per MTU time). */
    double slot_s = (p->mss_bytes + p->overhead_bytes) * 8.0
                    / (splitee_link_uplink_at(lk, now_s) * 1e6 + 1e-300);
    advance_channel(p, r, (now_s - r->end_s) / slot_s, rng);
    /* Radio: pending tail energy, then promotion from idle or a resume from
     * the tail phase the radio is in. */
    double promo_s = 0.0, promo_mW = 0.0;
    if (rp->model != SPLITEE_RADIO_MODEL_NONE) {
        int was_idle = r->idle;
        double since = now_s - r->end_s;
        out->tail_mJ = splitee_radio_flush(lk, r, now_s);
        if (was_idle || r->idle) {
            promo_s = rp->promotion_s;
            promo_mW = rp->promotion_mW;
        } else {
            double start = 0.0;
            for (int k = 0; k < rp->ntail; k++) {
                if (since < start + rp->tail[k].s) {
                    promo_s = rp->tail[k].resume_s;
                    promo_mW = rp->tail[k].resume_mW;
                    break;
                }
                start += rp->tail[k].s;
            }
        }
    }
    out->promotion_ms = promo_s * 1e3;
    /* RFC 6298 estimator: initial RTO before any RTT sample. */
    double rto = r->have_rtt ? fmax(p->rto_min_ms, r->srtt + 4.0 * r->rttvar)
                             : p->rto_initial_ms;
    draws d = { 0, 0, rng, rng == NULL };
    channel ch = { r->bad };
    splitee_transfer tmp = *out;
    transfer(lk, bytes, now_s + (p->encode_ms + out->promotion_ms) / 1e3, rto, &ch, &d, &tmp);
    *out = tmp;
    r->bad = ch.bad;
    if (!r->have_rtt) {
        r->srtt = out->rtt_ms;
        r->rttvar = out->rtt_ms / 2.0;
        r->have_rtt = 1;
    } else {
        r->rttvar = 0.75 * r->rttvar + 0.25 * fabs(r->srtt - out->rtt_ms);
        r->srtt = 0.875 * r->srtt + 0.125 * out->rtt_ms;
    }
    out->energy_mJ += promo_s * promo_mW + out->tail_mJ;
    r->end_s = now_s + out->latency_ms / 1e3;
    r->charged_s = r->end_s;
    r->idle = rp->model == SPLITEE_RADIO_MODEL_NONE;
    finish(p, out);
}

/* --------------------------------------------------------- formulas --- */

double splitee_link_tcp_mathis(double mss_bytes, double rtt_s, double p)
{
    if (p <= 0)
        return INFINITY;
    return mss_bytes * sqrt(1.5) / (rtt_s * sqrt(p));
}

double splitee_link_tcp_padhye(double mss_bytes, double rtt_s, double p, double rto_s,
                               double b)
{
    if (p <= 0)
        return INFINITY;
    double denom = rtt_s * sqrt(2.0 * b * p / 3.0)
                   + rto_s * fmin(1.0, 3.0 * sqrt(3.0 * b * p / 8.0)) * p * (1.0 + 32.0 * p * p);
    return mss_bytes / denom;
}

double splitee_link_ge_loss(double p, double r, double one_minus_h, double one_minus_k)
{
    if (p + r <= 0)
        return one_minus_k;
    return (r * one_minus_k + p * one_minus_h) / (p + r);
}
