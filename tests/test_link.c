/* test_link.c -- the link-cost simulator (link.h) against values computed by
 * hand in the comments, trace parsing in both formats, profile errors (one
 * line naming the file), determinism, the live radio state machine, and the
 * replay's use of a time-varying offload schedule. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "splitee/splitee.h"

#define CLOSE(a, b, tol) cr_assert(fabs((a) - (b)) <= (tol), "%s = %.9g, expected %.9g", #a, (double)(a), (double)(b))

static splitee_link *make(const splitee_link_params *p)
{
    splitee_link *lk;
    splitee_error e;
    cr_assert_eq(splitee_link_create(p, NULL, NULL, 0, 0, &lk, &e), 0, "%s", e.msg);
    return lk;
}

static splitee_link *parse_ok(const char *json)
{
    splitee_link *lk;
    splitee_error e;
    cr_assert_eq(splitee_link_parse(json, "p.json", NULL, &lk, &e), 0, "%s", e.msg);
    return lk;
}

/* Parsing must fail with `status`, one line naming p.json and containing `what`. */
static void parse_bad(const char *json, int status, const char *what)
{
    splitee_link *lk = (splitee_link *)1;
    splitee_error e = { 0, "" };
    int st = splitee_link_parse(json, "p.json", NULL, &lk, &e);
    cr_assert_eq(st, status, "status %d (%s) for %s", st, e.msg, json);
    cr_assert_null(lk);
    cr_assert(strstr(e.msg, "p.json") == e.msg, "'%s' does not start with the file", e.msg);
    cr_assert(strstr(e.msg, what), "'%s' lacks '%s'", e.msg, what);
    cr_assert_null(strchr(e.msg, '\n'));
}

/* ------------------------------------------------------------ models --- */

Test(link, lte_constant_by_hand)
{
    /* f32 payload 16x64: 24 + 4*1024 = 4120 bytes + 24 frame = 4144 bytes,
     * ceil(4144/1460) = 3 packets, wire bits (4144 + 3*40)*8 = 34112.
     * uplink 34112 / 5.85e3 = 5.831111 ms; result (64+40)*8 = 832 bits at
     * 13 Mbit/s = 0.064 ms; latency = 260 (promotion) + 5.831111 + 50 (RTT)
     * + 0.064 = 315.895111 ms.
     * energy: 438.39*0.034112 = 14.954360 (alpha_up * Mbit)
     *       + 1200*0.005831111 = 6.997333 (beta * uplink s)
     *       + 1060*0.050 = 53.0 (waiting one RTT)
     *       + 51.97*0.000832 + 1200*0.000064 = 0.043239 + 0.0768 (result)
     *       + 0.26*1210 = 314.6 (promotion) + (0.1 + 10)*1060 = 10706 (tail)
     *       = 11095.671732 mJ.
     * o = 0.0005*315.895111 + 1e-5*11095.671732 = 0.157948 + 0.110957 = 0.268904 */
    splitee_link *lk = parse_ok("{\"uplink_mbps\": 5.85, \"downlink_mbps\": 13, \"rtt_ms\": 50, \"radio\": \"lte\"}");
    size_t b = splitee_link_payload_bytes(lk, SPLITEE_PAYLOAD_ENCODING_F32, 16, 64);
    cr_assert_eq(b, 4144);
    splitee_transfer t;
    splitee_link_price(lk, b, 0.0, 1, &t);
    cr_assert_eq(t.packets, 3);
    cr_assert_eq(t.losses, 0);
    CLOSE(t.uplink_ms, 34112.0 / 5.85e3, 1e-9);
    CLOSE(t.latency_ms, 260.0 + 34112.0 / 5.85e3 + 50.0 + 832.0 / 13e3, 1e-9);
    CLOSE(t.latency_ms, 315.895111, 1e-6);
    double e = 438.39 * 0.034112 + 1200.0 * (34112.0 / 5.85e6) + 1060.0 * 0.050
             + 51.97 * 0.000832 + 1200.0 * (832.0 / 13e6) + 0.26 * 1210.0 + 10.1 * 1060.0;
    CLOSE(t.energy_mJ, e, 1e-6);
    CLOSE(t.energy_mJ, 11095.671732, 1e-5);
    CLOSE(t.tail_mJ, 10706.0, 1e-9);
    CLOSE(t.cost, 0.268904, 1e-6);
    splitee_link_free(lk);
}

Test(link, threeg_by_hand)
{
    /* 34048 bits at 1.1 Mbit/s = 30.952727 ms; result 832 bits = 0.756364 ms;
     * latency = 2000 (IDLE promotion) + 30.952727 + 100 + 0.756364 = 2131.709091.
     * energy: DCH 600 mW while sending, waiting and receiving:
     * 600*(0.030952727 + 0.1 + 0.000756364) = 79.025455, promotion 2*300 = 600,
     * tail DCH 4*600 + FACH 10*380 = 6200: 6879.025455 mJ. */
    splitee_link *lk = parse_ok("{\"uplink_mbps\": 1.1, \"downlink_mbps\": 1.1, \"rtt_ms\": 100, \"radio\": \"3g\"}");
    splitee_transfer t;
    splitee_link_price(lk, 4136, 0.0, 1, &t);
    CLOSE(t.latency_ms, 2131.709091, 1e-5);
    CLOSE(t.energy_mJ, 6879.025455, 1e-5);
    CLOSE(t.cost, 0.0005 * 2131.709091 + 1e-5 * 6879.025455, 1e-8);
    splitee_link_free(lk);
}

Test(link, wifi_by_hand)
{
    /* int8 16x64: 28 + 1024 + 24 = 1076 bytes, 1 packet, (1076+40)*8 = 8928
     * bits at 18.88 Mbit/s = 0.472881 ms; result 832 bits = 0.044068 ms;
     * latency = 0.472881 + 5 + 0.044068 = 5.516949 ms (no promotion).
     * energy: 645 mW per Mbit/s is 6.45e-7 J/bit: 645*0.008928 = 5.75856,
     * result 645*0.000832 = 0.53664, waiting 300*0.005 = 1.5, tail
     * 0.25*300 = 75: 82.7952 mJ. */
    splitee_link *lk = parse_ok("{\"uplink_mbps\": 18.88, \"downlink_mbps\": 18.88, \"rtt_ms\": 5, \"radio\": \"wifi\"}");
    size_t b = splitee_link_payload_bytes(lk, SPLITEE_PAYLOAD_ENCODING_I8, 16, 64);
    cr_assert_eq(b, 1076);
    splitee_transfer t;
    splitee_link_price(lk, b, 0.0, 1, &t);
    CLOSE(t.latency_ms, 5.516949, 1e-6);
    CLOSE(t.energy_mJ, 82.7952, 1e-6);
    CLOSE(t.promotion_ms, 0.0, 0);
    splitee_link_free(lk);
}

Test(link, raw_input_bytes)
{
    /* 28x28 = 784 values: f32 24 + 3136 + 24 = 3184; int8 28 + 784 + 24 = 836;
     * a profile's own frame header replaces the default */
    splitee_link *lk = parse_ok("{\"uplink_mbps\": 1, \"downlink_mbps\": 1, \"rtt_ms\": 1}");
    cr_assert_eq(splitee_link_raw_bytes(lk, SPLITEE_PAYLOAD_ENCODING_F32, 784), 3184);
    cr_assert_eq(splitee_link_raw_bytes(lk, SPLITEE_PAYLOAD_ENCODING_I8, 784), 836);
    splitee_link_free(lk);
    lk = parse_ok("{\"uplink_mbps\": 1, \"downlink_mbps\": 1, \"rtt_ms\": 1, \"frame_header_bytes\": 0}");
    cr_assert_eq(splitee_link_raw_bytes(lk, SPLITEE_PAYLOAD_ENCODING_I8, 784), 812);
    splitee_link_free(lk);
}

Test(link, no_radio_no_energy)
{
    splitee_link *lk = parse_ok("{\"uplink_mbps\": 8, \"downlink_mbps\": 8, \"rtt_ms\": 20, \"result_bytes\": 0}");
    splitee_transfer t;
    splitee_link_price(lk, 1000, 0.0, 1, &t);
    /* (1000 + 40)*8 = 8320 bits at 8 Mbit/s = 1.04 ms + 20 ms RTT */
    CLOSE(t.latency_ms, 21.04, 1e-9);
    CLOSE(t.energy_mJ, 0.0, 0);
    CLOSE(t.cost, 0.0005 * 21.04, 1e-12);
    splitee_link_free(lk);
}

Test(link, every_packet_lost_rto_backoff)
{
    /* p = 1, 3 retries: each of the 3 packets is lost 3 times and never
     * has 3 later packets for duplicate ACKs, so it waits RTO, 2 RTO, 4 RTO
     * with RTO = max(1000, 50 + 4*0) = 1000 ms: recovery 3*7000 = 21000 ms,
     * 9 losses; retransmitted bytes 3*(1500 + 1500 + 1256) = 12768, so
     * uplink bits 34048 + 102144 = 136192. */
    splitee_link_params p;
    splitee_link_params_default(&p);
    p.loss = SPLITEE_LOSS_MODEL_RANDOM;
    p.loss_p = 1.0;
    p.max_retries = 3;
    splitee_link *lk = make(&p);
    splitee_transfer t;
    splitee_link_price(lk, 4136, 0.0, 7, &t);
    cr_assert_eq(t.losses, 9);
    CLOSE(t.recovery_ms, 21000.0, 1e-9);
    CLOSE(t.uplink_ms, 136192.0 / 5.85e3, 1e-9);
    CLOSE(t.latency_ms, 260.0 + 136192.0 / 5.85e3 + 21000.0 + 50.0 + 832.0 / 13e3, 1e-9);
    splitee_link_free(lk);
}

Test(link, fast_retransmit_with_three_later_packets)
{
    /* 10 packets, p = 1, 2 retries: packets 0..6 have >= 3 later packets:
     * first loss recovered after one RTT (50), the second after an RTO
     * (1000); packets 7..9: RTO then 2 RTO = 3000. 7*1050 + 3*3000 = 16350. */
    splitee_link_params p;
    splitee_link_params_default(&p);
    p.loss = SPLITEE_LOSS_MODEL_RANDOM;
    p.loss_p = 1.0;
    p.max_retries = 2;
    splitee_link *lk = make(&p);
    splitee_transfer t;
    splitee_link_price(lk, 14600, 0.0, 7, &t);
    cr_assert_eq(t.packets, 10);
    cr_assert_eq(t.losses, 20);
    CLOSE(t.recovery_ms, 16350.0, 1e-9);
    splitee_link_free(lk);
}

Test(link, random_loss_rate_matches_p)
{
    /* Losses per packet with retries until success: p/(1-p) = 0.1111 for
     * p = 0.1 (capped at 6 retries: negligible); 20000 keys x 3 packets. */
    splitee_link_params p;
    splitee_link_params_default(&p);
    p.loss = SPLITEE_LOSS_MODEL_RANDOM;
    p.loss_p = 0.1;
    splitee_link *lk = make(&p);
    long losses = 0;
    for (uint64_t k = 0; k < 20000; k++) {
        splitee_transfer t;
        splitee_link_price(lk, 4136, 0.0, k, &t);
        losses += t.losses;
    }
    CLOSE(losses / 60000.0, 0.1 / 0.9, 0.01);
    splitee_link_free(lk);
}

Test(link, gilbert_elliott_steady_loss)
{
    /* netem gemodel p 0.01 r 0.5 1-h 1 1-k 0: steady loss p/(p+r) = 0.0196078 */
    CLOSE(splitee_link_ge_loss(0.01, 0.5, 1.0, 0.0), 0.01 / 0.51, 1e-15);
    CLOSE(splitee_link_ge_loss(0.2, 0.2, 0.5, 0.1), (0.2 * 0.1 + 0.2 * 0.5) / 0.4, 1e-15);
    /* First-attempt loss of the first packet: the stationary start, so
     * P(bad) = 1/51; with 1-h = 1 that is the loss probability. */
    splitee_link *lk = parse_ok("{\"uplink_mbps\": 5.85, \"downlink_mbps\": 13, \"rtt_ms\": 50,"
                                " \"loss\": {\"model\": \"gilbert-elliott\", \"p\": 0.01, \"r\": 0.5}}");
    long lost = 0, n = 100000;
    for (long k = 0; k < n; k++) {
        splitee_transfer t;
        splitee_link_price(lk, 1000, 0.0, (uint64_t)k, &t); /* one packet */
        lost += t.losses > 0;
    }
    CLOSE((double)lost / n, 0.01 / 0.51, 0.002);
    splitee_link_free(lk);
}

Test(link, tcp_formulas)
{
    /* Mathis: 1460*sqrt(1.5)/(0.05*sqrt(0.01)) = 1788.1276/0.005 = 357625.5 B/s */
    CLOSE(splitee_link_tcp_mathis(1460, 0.05, 0.01), 1460 * 1.2247448713915890 / 0.005, 1e-6);
    CLOSE(splitee_link_tcp_mathis(1460, 0.05, 0.01), 357625.5, 0.1);
    /* Padhye, b = 1, T0 = 1 s: 0.05*sqrt(0.02/3) = 0.00408248;
     * min(1, 3*sqrt(0.00375)) = 0.183712; *0.01*(1 + 32e-4) = 0.00184300;
     * 1460/(0.00408248 + 0.00184300) = 246393 B/s */
    CLOSE(splitee_link_tcp_padhye(1460, 0.05, 0.01, 1.0, 1.0), 246393.0, 2.0);
    cr_assert(isinf(splitee_link_tcp_mathis(1460, 0.05, 0)));
    cr_assert(isinf(splitee_link_tcp_padhye(1460, 0.05, 0, 1, 1)));
    /* Padhye is below Mathis once timeouts matter */
    cr_assert_lt(splitee_link_tcp_padhye(1460, 0.05, 0.05, 1.0, 1.0),
                 splitee_link_tcp_mathis(1460, 0.05, 0.05));
}

/* ------------------------------------------------------------ traces --- */

Test(link, trace_mbps_parse_loop_offset)
{
    splitee_error e;
    double *t, *r, period;
    size_t n;
    /* times relative to the first line; the last rate holds the mean gap
     * (3 - 0)/2 = 1.5 s, so the period is 4.5 s */
    cr_assert_eq(splitee_link_parse_trace("# c\n10 2\n11\t4\n\n13 1\n", SPLITEE_TRACE_FORMAT_MBPS, 0, "x.trace",
                                          &t, &r, &n, &period, &e), 0, "%s", e.msg);
    cr_assert_eq(n, 3);
    CLOSE(t[0], 0, 0); CLOSE(t[1], 1, 0); CLOSE(t[2], 3, 0);
    CLOSE(r[1], 4, 0);
    CLOSE(period, 4.5, 1e-12);
    splitee_link_params p;
    splitee_link_params_default(&p);
    p.has_trace = 1;
    splitee_link *lk;
    cr_assert_eq(splitee_link_create(&p, t, r, n, period, &lk, &e), 0, "%s", e.msg);
    CLOSE(splitee_link_uplink_at(lk, 0.5), 2, 0);
    CLOSE(splitee_link_uplink_at(lk, 1.5), 4, 0);
    CLOSE(splitee_link_uplink_at(lk, 3.2), 1, 0);
    CLOSE(splitee_link_uplink_at(lk, 4.6), 2, 0);  /* looped: 0.1 */
    CLOSE(splitee_link_uplink_at(lk, 9.0 + 1.2), 4, 0);
    /* 3 Mbit from 0.5 s: 1 Mbit by 1 s at 2 Mbit/s, 2 Mbit at 4 = 0.5 s */
    CLOSE(splitee_link_uplink_ms(lk, 3e6, 0.5), 1000.0, 1e-9);
    /* one period carries 2*1 + 4*2 + 1*1.5 = 11.5 Mbit: 24 Mbit from 0 =
     * two periods (9 s) + 1 Mbit at 2 Mbit/s (0.5 s) */
    CLOSE(splitee_link_uplink_ms(lk, 24e6, 0.0), 9500.0, 1e-6);
    splitee_link_free(lk);
    /* start offset 1 s: t = 0 reads trace time 1 */
    p.trace_start_s = 1.0;
    cr_assert_eq(splitee_link_create(&p, t, r, n, period, &lk, &e), 0, "%s", e.msg);
    CLOSE(splitee_link_uplink_at(lk, 0.0), 4, 0);
    CLOSE(splitee_link_uplink_at(lk, 2.2), 1, 0);
    splitee_link_free(lk);
    /* no loop: the last rate holds */
    p.trace_start_s = 0;
    p.trace_loop = 0;
    cr_assert_eq(splitee_link_create(&p, t, r, n, period, &lk, &e), 0, "%s", e.msg);
    CLOSE(splitee_link_uplink_at(lk, 100.0), 1, 0);
    CLOSE(splitee_link_uplink_ms(lk, 1e6, 100.0), 1000.0, 1e-9);
    splitee_link_free(lk);
    free(t);
    free(r);
}

Test(link, trace_mahimahi_bins)
{
    /* packets at 1, 1, 2, 500, 1000 ms, bins of 500 ms, period 1000 ms:
     * bin 0 holds 3 packets: 3*12000 bits / 0.5 s = 0.072 Mbit/s; bin 1
     * holds 500 and 1000 (the end of the period): 0.048 Mbit/s */
    splitee_error e;
    double *t, *r, period;
    size_t n;
    cr_assert_eq(splitee_link_parse_trace("1\n1\n2\n500\n1000\n", SPLITEE_TRACE_FORMAT_MAHIMAHI, 500, "x.up",
                                          &t, &r, &n, &period, &e), 0, "%s", e.msg);
    cr_assert_eq(n, 2);
    CLOSE(period, 1.0, 1e-12);
    CLOSE(t[1], 0.5, 1e-12);
    CLOSE(r[0], 0.072, 1e-12);
    CLOSE(r[1], 0.048, 1e-12);
    free(t);
    free(r);
}

/* Deterministic 64-bit numbers (xorshift64*). */
static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

/* The rate a piecewise-constant series gives at time x (seconds). */
static double series_at(const double *t, const double *r, size_t n, double x)
{
    size_t i = 0;
    while (i + 1 < n && t[i + 1] <= x)
        i++;
    return r[i];
}

/* The run-length series equals naive dense binning (one counter per bin)
 * at every bin's midpoint, on random traces with bursts and long gaps, and
 * holds at most two points per non-empty bin. */
Test(link, trace_mahimahi_matches_dense_binning)
{
    uint64_t seed = 99;
    for (int trial = 0; trial < 40; trial++) {
        char text[8192];
        size_t len = 0;
        long long ms = 0;
        int lines = 1 + (int)(xorshift(&seed) % 300);
        for (int k = 0; k < lines; k++) {
            uint64_t u = xorshift(&seed) % 100;
            ms += u < 60 ? 0 : u < 95 ? (long long)(xorshift(&seed) % 30) : (long long)(xorshift(&seed) % 5000);
            len += (size_t)snprintf(text + len, sizeof text - len, "%lld\n", ms);
        }
        double bin = 1 + (double)(xorshift(&seed) % 400);
        double *t, *r, period;
        size_t n;
        splitee_error e;
        cr_assert_eq(splitee_link_parse_trace(text, SPLITEE_TRACE_FORMAT_MAHIMAHI, bin, "x.up", &t, &r, &n, &period, &e),
                     0, "%s", e.msg);
        double period_ms = ms < 1 ? 1.0 : (double)ms;
        CLOSE(period, period_ms / 1e3, 1e-12);
        size_t nb = (size_t)ceil(period_ms / bin);
        double *dense = calloc(nb, sizeof *dense);
        cr_assert(dense);
        for (char *p2 = text; *p2;) {
            long long v = strtoll(p2, &p2, 10);
            size_t b = (size_t)((double)v / bin);
            dense[b < nb ? b : nb - 1] += 1;
            while (*p2 == '\n')
                p2++;
        }
        size_t nonempty = 0;
        for (size_t b = 0; b < nb; b++) {
            double width = fmin(bin, period_ms - (double)b * bin);
            double want = dense[b] * 12000.0 / (width / 1e3) / 1e6;
            double got = series_at(t, r, n, ((double)b * bin + 0.5 * width) / 1e3);
            cr_assert(fabs(got - want) <= 1e-9 * fmax(1, want), "trial %d bin %zu: %g vs %g", trial, b, got, want);
            nonempty += dense[b] > 0;
        }
        cr_assert_leq(n, 2 * nonempty, "trial %d: %zu points for %zu non-empty bins", trial, n, nonempty);
        cr_assert_eq(t[0], 0.0);
        free(dense);
        free(t);
        free(r);
    }
}

/* Regressions (a fuzzing-style review found them): a tiny bin width made
 * the bin count overflow and the parser write past its allocation, and
 * memory grew with the timestamps (an 11-byte trace cost 1.6 GB). */
Test(link, trace_mahimahi_bounded_by_its_lines)
{
    double *t, *r, period;
    size_t n;
    splitee_error e;
    cr_assert_eq(splitee_link_parse_trace("0\n1\n", SPLITEE_TRACE_FORMAT_MAHIMAHI, 1e-300, "x.up", &t, &r, &n,
                                          &period, &e), SPLITEE_ERR_VALUE);
    cr_assert(strstr(e.msg, "x.up: bin_ms must be in [1, 3600000]"), "%s", e.msg);
    cr_assert_eq(splitee_link_parse_trace("0\n1\n", SPLITEE_TRACE_FORMAT_MAHIMAHI, NAN, "x.up", &t, &r, &n,
                                          &period, &e), SPLITEE_ERR_VALUE);
    cr_assert_eq(splitee_link_parse_trace("0\n999999999999\n", SPLITEE_TRACE_FORMAT_MAHIMAHI, 1, "x.up", &t, &r, &n,
                                          &period, &e), 0, "%s", e.msg);
    cr_assert_eq(n, 3, "bin 0, the empty run, the last bin: %zu points", n);
    cr_assert_eq(r[1], 0.0);
    CLOSE(period, 999999999.999, 1e-3);
    free(t);
    free(r);
    cr_assert_eq(splitee_link_parse_trace("0\n1000000000001\n", SPLITEE_TRACE_FORMAT_MAHIMAHI, 1, "x.up", &t, &r, &n,
                                          &period, &e), SPLITEE_ERR_FORMAT);
    cr_assert(strstr(e.msg, "past 10^12 ms"), "%s", e.msg);
}

static void trace_bad(const char *text, splitee_trace_format fmt, int status, const char *what)
{
    splitee_error e = { 0, "" };
    double *t = (double *)1, *r = (double *)1, period;
    size_t n;
    int st = splitee_link_parse_trace(text, fmt, 100, "x.trace", &t, &r, &n, &period, &e);
    cr_assert_eq(st, status, "status %d (%s)", st, e.msg);
    cr_assert_null(t);
    cr_assert(strstr(e.msg, "x.trace") == e.msg && strstr(e.msg, what), "'%s' lacks '%s'", e.msg, what);
    cr_assert_null(strchr(e.msg, '\n'));
}

Test(link, trace_errors)
{
    trace_bad("", SPLITEE_TRACE_FORMAT_MBPS, SPLITEE_ERR_VALUE, "empty trace");
    trace_bad("# nothing\n\n", SPLITEE_TRACE_FORMAT_MBPS, SPLITEE_ERR_VALUE, "empty trace");
    trace_bad("0 1\n1 abc\n", SPLITEE_TRACE_FORMAT_MBPS, SPLITEE_ERR_FORMAT, "x.trace:2:");
    trace_bad("0 1 2\n", SPLITEE_TRACE_FORMAT_MBPS, SPLITEE_ERR_FORMAT, "unexpected text");
    trace_bad("0 1\n0 2\n", SPLITEE_TRACE_FORMAT_MBPS, SPLITEE_ERR_FORMAT, "not after");
    trace_bad("0 -1\n", SPLITEE_TRACE_FORMAT_MBPS, SPLITEE_ERR_VALUE, "negative throughput");
    trace_bad("0 nan\n", SPLITEE_TRACE_FORMAT_MBPS, SPLITEE_ERR_VALUE, "not a finite number");
    trace_bad("", SPLITEE_TRACE_FORMAT_MAHIMAHI, SPLITEE_ERR_VALUE, "empty trace");
    trace_bad("1\n12.5\n", SPLITEE_TRACE_FORMAT_MAHIMAHI, SPLITEE_ERR_FORMAT, "x.trace:2:");
    trace_bad("5\n3\n", SPLITEE_TRACE_FORMAT_MAHIMAHI, SPLITEE_ERR_FORMAT, "before");
    trace_bad("-1\n", SPLITEE_TRACE_FORMAT_MAHIMAHI, SPLITEE_ERR_FORMAT, "negative");
}

Test(link, trace_without_capacity_refused)
{
    splitee_link_params p;
    splitee_link_params_default(&p);
    p.has_trace = 1;
    double t[2] = { 0, 1 }, r[2] = { 0, 0 }, r2[2] = { 1, 0 };
    splitee_link *lk;
    splitee_error e;
    cr_assert_eq(splitee_link_create(&p, t, r, 2, 2, &lk, &e), SPLITEE_ERR_VALUE);
    cr_assert(strstr(e.msg, "no capacity"), "%s", e.msg);
    p.trace_loop = 0;
    cr_assert_eq(splitee_link_create(&p, t, r2, 2, 2, &lk, &e), SPLITEE_ERR_VALUE);
    cr_assert(strstr(e.msg, "rate 0"), "%s", e.msg);
}

/* ---------------------------------------------------------- profiles --- */

/* Profile errors: one test per case, each a one-line message naming the
 * file (parse_bad checks the line, the file and the status). */
Test(link, profile_error_missing_uplink)
{
    parse_bad("{\"downlink_mbps\": 1, \"rtt_ms\": 5}", SPLITEE_ERR_FORMAT, "missing field \"uplink_mbps\"");
}

Test(link, profile_error_missing_downlink)
{
    parse_bad("{\"uplink_mbps\": 1, \"rtt_ms\": 5}", SPLITEE_ERR_FORMAT, "missing field \"downlink_mbps\"");
}

Test(link, profile_error_missing_rtt)
{
    parse_bad("{\"uplink_mbps\": 1, \"downlink_mbps\": 1}", SPLITEE_ERR_FORMAT, "missing field \"rtt_ms\"");
}

Test(link, profile_error_negative_bandwidth)
{
    parse_bad("{\"uplink_mbps\": -5, \"downlink_mbps\": 1, \"rtt_ms\": 5}", SPLITEE_ERR_VALUE, "uplink_mbps must be > 0");
}

Test(link, profile_error_zero_bandwidth)
{
    parse_bad("{\"uplink_mbps\": 0, \"downlink_mbps\": 1, \"rtt_ms\": 5}", SPLITEE_ERR_VALUE, "uplink_mbps must be > 0");
}

Test(link, profile_error_negative_rtt)
{
    parse_bad("{\"uplink_mbps\": 1, \"downlink_mbps\": 1, \"rtt_ms\": -1}", SPLITEE_ERR_VALUE, "rtt_ms must be >= 0");
}

Test(link, profile_error_nan_value)
{
    parse_bad("{\"uplink_mbps\": NaN, \"downlink_mbps\": 1, \"rtt_ms\": 5}", SPLITEE_ERR_FORMAT, "malformed JSON");
}

Test(link, profile_error_infinite_value)
{
    parse_bad("{\"uplink_mbps\": 1e999, \"downlink_mbps\": 1, \"rtt_ms\": 5}", SPLITEE_ERR_VALUE, "not a finite number");
}

Test(link, profile_error_mistyped_field)
{
    parse_bad("{\"uplink_mbps\": \"fast\", \"downlink_mbps\": 1, \"rtt_ms\": 5}", SPLITEE_ERR_FORMAT, "must be a number");
}

Test(link, profile_error_unknown_field)
{
    parse_bad("{\"uplink_mbps\": 1, \"downlink_mbps\": 1, \"rtt_ms\": 5, \"rtt\": 5}", SPLITEE_ERR_FORMAT, "unknown field \"rtt\"");
}

Test(link, profile_error_not_an_object)
{
    parse_bad("[1, 2]", SPLITEE_ERR_FORMAT, "expected a JSON object");
}

Test(link, profile_error_random_loss_without_p)
{
    parse_bad("{\"uplink_mbps\": 1, \"downlink_mbps\": 1, \"rtt_ms\": 5, \"loss\": {\"model\": \"random\"}}",
              SPLITEE_ERR_FORMAT, "missing field \"p\"");
}

Test(link, profile_error_loss_probability_above_one)
{
    parse_bad("{\"uplink_mbps\": 1, \"downlink_mbps\": 1, \"rtt_ms\": 5, \"loss\": {\"model\": \"random\", \"p\": 1.5}}",
              SPLITEE_ERR_VALUE, "probability");
}

Test(link, profile_error_ge_without_r)
{
    parse_bad("{\"uplink_mbps\": 1, \"downlink_mbps\": 1, \"rtt_ms\": 5, \"loss\": {\"model\": \"gilbert-elliott\", \"p\": 0.1}}",
              SPLITEE_ERR_FORMAT, "missing field \"r\"");
}

Test(link, profile_error_unknown_loss_model)
{
    parse_bad("{\"uplink_mbps\": 1, \"downlink_mbps\": 1, \"rtt_ms\": 5, \"loss\": {\"model\": \"burst\"}}",
              SPLITEE_ERR_FORMAT, "unknown loss model");
}

Test(link, profile_error_unknown_radio)
{
    parse_bad("{\"uplink_mbps\": 1, \"downlink_mbps\": 1, \"rtt_ms\": 5, \"radio\": \"5g\"}",
              SPLITEE_ERR_FORMAT, "unknown radio model");
}

Test(link, profile_error_negative_radio_power)
{
    parse_bad("{\"uplink_mbps\": 1, \"downlink_mbps\": 1, \"rtt_ms\": 5, \"radio\": {\"model\": \"lte\", \"beta_mW\": -1}}",
              SPLITEE_ERR_VALUE, "beta_mW must be >= 0");
}

Test(link, profile_error_negative_cost_weight)
{
    parse_bad("{\"uplink_mbps\": 1, \"downlink_mbps\": 1, \"rtt_ms\": 5, \"cost\": {\"w_ms\": -1}}",
              SPLITEE_ERR_VALUE, "w_ms must be >= 0");
}

Test(link, profile_error_trace_without_file)
{
    parse_bad("{\"downlink_mbps\": 1, \"rtt_ms\": 5, \"trace\": {\"format\": \"mbps\"}}",
              SPLITEE_ERR_FORMAT, "missing field \"file\"");
}

Test(link, profile_trace_files)
{
    const char *dir = tu_tmpdir();
    (void)dir;
    tu_write_str("empty.trace", "# nothing here\n");
    tu_write_str("bad.trace", "0 5\n1 five\n");
    tu_write_str("good.trace", "0 5\n1 2\n");
    const char *prof = "{\"downlink_mbps\": 1, \"rtt_ms\": 5, \"radio\": \"lte\", \"trace\": {\"file\": \"%s\", \"start_s\": 1}}";
    char json[512];
    splitee_link *lk;
    splitee_error e;

    snprintf(json, sizeof json, prof, "empty.trace");
    const char *path = tu_write_str("e.json", json);
    cr_assert_eq(splitee_link_load(path, &lk, &e), SPLITEE_ERR_VALUE);
    cr_assert(strstr(e.msg, "empty.trace: empty trace"), "%s", e.msg);

    snprintf(json, sizeof json, prof, "bad.trace");
    path = tu_write_str("b.json", json);
    cr_assert_eq(splitee_link_load(path, &lk, &e), SPLITEE_ERR_FORMAT);
    cr_assert(strstr(e.msg, "bad.trace:2:"), "%s", e.msg);

    snprintf(json, sizeof json, prof, "missing.trace");
    path = tu_write_str("m.json", json);
    cr_assert_eq(splitee_link_load(path, &lk, &e), SPLITEE_ERR_IO);
    cr_assert(strstr(e.msg, "missing.trace: cannot open"), "%s", e.msg);

    snprintf(json, sizeof json, prof, "good.trace");
    path = tu_write_str("g.json", json);
    cr_assert_eq(splitee_link_load(path, &lk, &e), 0, "%s", e.msg);
    cr_assert_str_eq(splitee_link_get_params(lk)->name, "g");
    CLOSE(splitee_link_uplink_at(lk, 0.0), 2, 0);  /* start_s 1 */
    CLOSE(splitee_link_uplink_at(lk, 1.0), 5, 0);  /* looped (period 2 s) */
    splitee_link_free(lk);

    cr_assert_eq(splitee_link_load(tu_path("nosuch.json"), &lk, &e), SPLITEE_ERR_IO);
    cr_assert(strstr(e.msg, "nosuch.json"), "%s", e.msg);
}

Test(link, shipped_profiles_load)
{
    static const char *names[] = { "wifi", "lte", "3g", "lte-ge", "lte-trace", "lte-mahimahi", "degrading" };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char path[128];
        snprintf(path, sizeof path, "../data/links/%s.json", names[i]);
        splitee_link *lk;
        splitee_error e;
        cr_assert_eq(splitee_link_load(path, &lk, &e), 0, "%s", e.msg);
        cr_assert_str_eq(splitee_link_get_params(lk)->name, names[i]);
        cr_assert_gt(strlen(splitee_link_get_params(lk)->source), 10, "%s has no source", names[i]);
        splitee_link_free(lk);
    }
}

/* ------------------------------------------------------- determinism --- */

Test(link, deterministic_schedule)
{
    splitee_link *lk;
    splitee_error e;
    cr_assert_eq(splitee_link_load("../data/links/lte-ge.json", &lk, &e), 0, "%s", e.msg);
    size_t bytes[4] = { 4136, 2088, 1068, 0 };
    enum { R = 500 };
    static double a[R * 4], b[R * 4], c[50 * 4];
    splitee_link_schedule(lk, bytes, 4, R, 0.0, 100.0, 9, a);
    splitee_link_schedule(lk, bytes, 4, R, 0.0, 100.0, 9, b);
    splitee_link_schedule(lk, bytes, 4, 50, 0.0, 100.0, 9, c);
    cr_assert_eq(memcmp(a, b, sizeof a), 0);
    cr_assert_eq(memcmp(a, c, sizeof c), 0, "a prefix does not depend on the length");
    int varies = 0;
    for (int k = 0; k < R; k++) {
        cr_assert_eq(a[k * 4 + 3], 0.0);
        varies |= a[k * 4] != a[0];
    }
    cr_assert(varies, "a lossy link should vary across rounds");
    splitee_transfer t1, t2;
    splitee_link_price(lk, 4136, 3.0, 77, &t1);
    splitee_link_price(lk, 4136, 3.0, 77, &t2);
    cr_assert_eq(memcmp(&t1, &t2, sizeof t1), 0);
    splitee_link_free(lk);
}

/* --------------------------------------------------------- live radio --- */

Test(link, live_lte_tail_and_promotion)
{
    splitee_link *lk = parse_ok("{\"uplink_mbps\": 5.85, \"downlink_mbps\": 13, \"rtt_ms\": 50, \"radio\": \"lte\"}");
    splitee_radio *r;
    splitee_error e;
    cr_assert_eq(splitee_radio_create(lk, &r, &e), 0);
    splitee_transfer iso, t;
    splitee_link_price(lk, 4136, 0.0, 1, &iso);
    /* first transfer: idle, promotion paid, no tail charged yet */
    splitee_link_send(lk, r, 4136, 0.0, NULL, &t);
    CLOSE(t.promotion_ms, 260.0, 1e-12);
    CLOSE(t.tail_mJ, 0.0, 0);
    CLOSE(t.energy_mJ, iso.energy_mJ - 10706.0, 1e-9);
    CLOSE(splitee_radio_busy_until(r), 0.315884171, 1e-9);
    /* 5 s later: still in the tail (10.1 s): no promotion, 5 s * 1060 mW */
    double t1 = splitee_radio_busy_until(r) + 5.0;
    splitee_link_send(lk, r, 4136, t1, NULL, &t);
    CLOSE(t.promotion_ms, 0.0, 0);
    CLOSE(t.tail_mJ, 5300.0, 1e-6);
    CLOSE(t.latency_ms, iso.latency_ms - 260.0, 1e-9);
    /* 20 s later: the whole tail (10706 mJ), then idle: promotion again */
    double t2 = splitee_radio_busy_until(r) + 20.0;
    splitee_link_send(lk, r, 4136, t2, NULL, &t);
    CLOSE(t.promotion_ms, 260.0, 1e-12);
    CLOSE(t.tail_mJ, 10706.0, 1e-6);
    /* a send before the radio is free starts when it is */
    double busy = splitee_radio_busy_until(r);
    splitee_link_send(lk, r, 4136, busy - 1.0, NULL, &t);
    CLOSE(t.tail_mJ, 0.0, 1e-12);
    CLOSE(splitee_radio_busy_until(r), busy + t.latency_ms / 1e3, 1e-9);
    /* flush: 3 s of tail, then nothing more */
    double end = splitee_radio_busy_until(r);
    CLOSE(splitee_radio_flush(lk, r, end + 3.0), 3180.0, 1e-6);
    CLOSE(splitee_radio_flush(lk, r, end + 3.0), 0.0, 0);
    CLOSE(splitee_radio_flush(lk, r, end + 100.0), 7526.0, 1e-6); /* (10.1 - 3)*1060 */
    splitee_radio_free(r);
    splitee_radio_free(NULL);
    splitee_link_free(lk);
}

Test(link, live_3g_fach_resume)
{
    /* 6 s after a transfer the 3G radio is in FACH (DCH tail 4 s): resume
     * to DCH 1.5 s at 380 mW; tail charged 4*600 + 2*380 = 3160 mJ */
    splitee_link *lk = parse_ok("{\"uplink_mbps\": 1.1, \"downlink_mbps\": 1.1, \"rtt_ms\": 100, \"radio\": \"3g\"}");
    splitee_radio *r;
    splitee_error e;
    cr_assert_eq(splitee_radio_create(lk, &r, &e), 0);
    splitee_transfer t;
    splitee_link_send(lk, r, 4136, 0.0, NULL, &t);
    CLOSE(t.promotion_ms, 2000.0, 1e-9);
    splitee_link_send(lk, r, 4136, splitee_radio_busy_until(r) + 6.0, NULL, &t);
    CLOSE(t.promotion_ms, 1500.0, 1e-9);
    CLOSE(t.tail_mJ, 3160.0, 1e-6);
    splitee_radio_free(r);
    splitee_link_free(lk);
}

Test(link, live_rto_estimator_and_rng)
{
    /* With a GSL rng, loss draws happen; the first loss before any RTT
     * sample waits the initial RTO (1 s). p = 1, 1 retry, 1 packet. */
    splitee_link_params p;
    splitee_link_params_default(&p);
    p.loss = SPLITEE_LOSS_MODEL_RANDOM;
    p.loss_p = 1.0;
    p.max_retries = 1;
    p.rto_initial_ms = 1000;
    p.rto_min_ms = 200;
    splitee_link *lk = make(&p);
    splitee_radio *r;
    splitee_error e;
    cr_assert_eq(splitee_radio_create(lk, &r, &e), 0);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 5);
    splitee_transfer t;
    splitee_link_send(lk, r, 500, 0.0, rng, &t);
    CLOSE(t.recovery_ms, 1000.0, 1e-12);
    /* after the sample RTT 50: SRTT 50, RTTVAR 25, RTO = max(200, 150) = 200 */
    splitee_link_send(lk, r, 500, 100.0, rng, &t);
    CLOSE(t.recovery_ms, 200.0, 1e-12);
    gsl_rng_free(rng);
    splitee_radio_free(r);
    splitee_link_free(lk);
}

/* ------------------------------------------------------------ replay --- */

static splitee_result *replay(const splitee_replay *rp, const double *sched, size_t rounds, double o,
                              int threads)
{
    splitee_setting set;
    splitee_setting_default(&set);
    set.reward.offload = o;
    static const char *names[] = { "splitee", "splitee-s", "oracle", "fixed:2", "kl-ucb" };
    splitee_policy_config pols[5];
    for (int i = 0; i < 5; i++) {
        splitee_policy_config_default(&pols[i]);
        cr_assert_eq(splitee_policy_parse(names[i], &pols[i]), 0);
    }
    splitee_replay_config rc;
    splitee_replay_config_default(&rc);
    rc.repetitions = 3;
    rc.threads = threads;
    rc.checkpoints = 10;
    rc.offload_schedule = sched;
    rc.offload_rounds = rounds;
    splitee_result *res;
    splitee_error e;
    cr_assert_eq(splitee_replay_run(rp, &set, 1, pols, 5, &rc, &res, &e), 0, "%s", e.msg);
    return res;
}

Test(link, replay_constant_schedule_matches_constant_o)
{
    splitee_table *t;
    splitee_error e;
    cr_assert_eq(splitee_table_load("fixtures/ref-logits.npy", "fixtures/ref-labels.npy",
                                    SPLITEE_LAYOUT_SAMPLES_FIRST, &t, &e), 0, "%s", e.msg);
    splitee_replay *rp;
    cr_assert_eq(splitee_replay_prepare(t, SPLITEE_CONFIDENCE_MAX_SOFTMAX, &rp, &e), 0);
    size_t n = splitee_replay_samples(rp);
    int L = splitee_replay_exits(rp);
    double *sched = malloc(n * (size_t)L * sizeof *sched);
    for (size_t i = 0; i < n * (size_t)L; i++)
        sched[i] = 0.3;
    splitee_result *a = replay(rp, NULL, 0, 0.3, 1), *b = replay(rp, sched, n, 0.9, 2);
    cr_assert_eq(a->best_arm, b->best_arm);
    for (int p = 0; p < 5; p++) {
        const splitee_policy_result *x = &a->policies[p], *y = &b->policies[p];
        CLOSE(x->reward.mean, y->reward.mean, 1e-12);
        CLOSE(x->pseudo_regret.mean, y->pseudo_regret.mean, 1e-9);
        CLOSE(x->realized_regret.mean, y->realized_regret.mean, 1e-9);
        CLOSE(x->accuracy.mean, y->accuracy.mean, 0);
    }
    splitee_results_free(a, 1);
    splitee_results_free(b, 1);

    /* A schedule from a degrading link: the oracle (the best fixed arm
     * under the same time-varying rewards) has zero regret of both kinds,
     * and results do not depend on the thread count. */
    splitee_link *lk;
    cr_assert_eq(splitee_link_load("../data/links/degrading.json", &lk, &e), 0, "%s", e.msg);
    size_t bytes[SPLITEE_MAX_EXITS] = { 0 };
    for (int i = 0; i + 1 < L; i++)
        bytes[i] = 4136;
    splitee_link_schedule(lk, bytes, L, n, 0.0, 2000.0, 1, sched);
    splitee_link_free(lk);
    cr_assert_lt(sched[0], sched[(n - 1) * (size_t)L]);
    splitee_result *c = replay(rp, sched, n, 0.3, 1), *d = replay(rp, sched, n, 0.3, 3);
    const splitee_policy_result *orc = &c->policies[2];
    CLOSE(orc->pseudo_regret.mean, 0.0, 1e-9);
    CLOSE(orc->realized_regret.mean, 0.0, 1e-9);
    for (int p = 0; p < 5; p++) {
        cr_assert_eq(c->policies[p].reward.mean, d->policies[p].reward.mean);
        cr_assert_eq(c->policies[p].realized_regret.mean, d->policies[p].realized_regret.mean);
    }
    /* a fixed arm's pseudo-regret sums expected rewards round by round,
     * so it does not depend on the shuffled order: the same in every
     * repetition */
    cr_assert_eq(c->policies[3].config.fixed_arm, 1);
    CLOSE(c->policies[3].pseudo_regret.sd, 0.0, 1e-9);
    splitee_results_free(c, 1);
    splitee_results_free(d, 1);
    free(sched);
    splitee_replay_free(rp);
    splitee_table_free(t);
}

/* ----------------------------------------------------- policy costs --- */

Test(link, policy_set_offload_changes_rewards)
{
    /* fixed arm 0 of 3, gamma_1 = 0.1, mu 1: an offloaded sample with
     * C_L = 0.9 gives 0.9 - 0.3 - 0.1 = 0.5 at o = 0.3 and, after
     * set_offload, 0.9 - 0.8 - 0.1 = 0.0 */
    splitee_reward_config cfg;
    splitee_reward_config_default(&cfg);
    splitee_reward rw;
    splitee_error e;
    cr_assert_eq(splitee_reward_init(&rw, &cfg, 3, &e), 0);
    splitee_policy_config pc;
    splitee_policy_config_default(&pc);
    pc.kind = SPLITEE_POLICY_KIND_FIXED;
    splitee_policy *p;
    cr_assert_eq(splitee_policy_create(&pc, &rw, &p, &e), 0, "%s", e.msg);
    double conf[3] = { 0.2, 0.3, 0.9 };
    splitee_obs ob = { 0, conf, 1, 1, 0.9, NULL };
    splitee_policy_observe(p, &ob);
    CLOSE(splitee_policy_mean(p, 0), 0.5, 1e-12);
    double o[3] = { 0.8, 0.8, 0.0 };
    splitee_policy_set_offload(p, o);
    splitee_policy_observe(p, &ob);
    CLOSE(splitee_policy_mean(p, 0), 0.25, 1e-12);   /* (0.5 + 0.0) / 2 */
    double bad[3] = { NAN, -1, 0 };
    splitee_policy_set_offload(p, bad);              /* ignored */
    splitee_policy_observe(p, &ob);
    CLOSE(splitee_policy_mean(p, 0), 0.5 / 3, 1e-12);
    splitee_policy_set_offload(NULL, o);
    splitee_policy_free(p);
}

Test(link, trace_outage_is_waited_out)
{
    /* 0 Mbit/s for 1 s (a Mahimahi gap), then 2 Mbit/s for 1 s, looped:
     * 1 Mbit from t = 0 waits the outage (1 s), then 0.5 s: 1500 ms;
     * from t = 1.5: 0.5 s at 2 (1 Mbit): 500 ms; 3 Mbit from 1.5 s:
     * 1 Mbit by 2 s, outage 2..3 s, 2 Mbit by 4 s: 2500 ms */
    splitee_link_params p;
    splitee_link_params_default(&p);
    p.has_trace = 1;
    double t[2] = { 0, 1 }, r[2] = { 0, 2 };
    splitee_link *lk;
    splitee_error e;
    cr_assert_eq(splitee_link_create(&p, t, r, 2, 2.0, &lk, &e), 0, "%s", e.msg);
    CLOSE(splitee_link_uplink_ms(lk, 1e6, 0.0), 1500.0, 1e-9);
    CLOSE(splitee_link_uplink_ms(lk, 1e6, 1.5), 500.0, 1e-9);
    CLOSE(splitee_link_uplink_ms(lk, 3e6, 1.5), 2500.0, 1e-9);
    CLOSE(splitee_link_uplink_ms(lk, 0, 1.5), 0.0, 0);
    splitee_link_free(lk);
}
