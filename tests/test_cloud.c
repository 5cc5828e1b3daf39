/* test_cloud.c -- Criterion tests for the cloud server (cloud.h) in one
 * process on loopback, with the shipped model (live_fixtures.h): the
 * cloud's answer for an f32 payload equals the local forward pass bit for
 * bit, pipelined requests followed by a half-close are all answered, a bad
 * payload gets an error frame on a connection that stays open, a framing
 * error closes only its connection (logged with the peer); the answer's
 * confidence is under the measure the request asks for, in its version,
 * and a cloud answering one measure refuses the others. Misbehaving
 * peers: half a frame and an idle connection are closed after their
 * timeouts while others are served, connections beyond max_per_peer are
 * refused (one log line per burst) so one address holding half frames
 * cannot take every max_clients slot from a device, a client that pipelines without
 * reading stops being read and does not starve another, and connections
 * churned beside a busy pipeliner give their max_clients slots back. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <time.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "live_fixtures.h"
#include "splitee/splitee.h"

static int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

/* Reads frames until n are parsed or the stream ends; returns the count. */
static int read_frames(int fd, splitee_wire_parser *p, splitee_wire_frame *out, int n,
                       unsigned char (*bodies)[512])
{
    int got = 0;
    while (got < n) {
        splitee_wire_frame f;
        int rc = splitee_wire_parser_next(p, &f, NULL);
        cr_assert_geq(rc, 0);
        if (rc == 1) {
            out[got] = f;
            memcpy(bodies[got], f.body, f.hdr.length < 512 ? f.hdr.length : 512);
            got++;
            continue;
        }
        size_t room;
        void *dst = splitee_wire_parser_space(p, &room);
        ssize_t k = recv(fd, dst, room, 0);
        if (k <= 0)
            break;
        splitee_wire_parser_commit(p, (size_t)k);
    }
    return got;
}

Test(cloud, answers_equal_the_local_forward_pass)
{
    fixture fx;
    start(&fx);
    const splitee_model_config *mc = splitee_model_get_config(fx.m);
    splitee_engine_state *s;
    splitee_error err;
    cr_assert_eq(splitee_engine_state_create(fx.m, &s, &err), 0);
    float px[28 * 28], *all = malloc((size_t)mc->layers * mc->classes * sizeof *all);
    unsigned char payload[8192], frames[6][8192];
    size_t flen[6];
    int expect_pred[6];
    double expect_conf[6];
    for (int k = 0; k < 6; k++) {
        image(px, k);
        int layer = 1 + 2 * k;        /* 1, 3, ..., 11 */
        cr_assert_eq(splitee_engine_forward(s, px, all, &err), 0);
        double z[64];
        for (int c = 0; c < mc->classes; c++)
            z[c] = all[(size_t)(mc->layers - 1) * mc->classes + c];
        int32_t pred;
        expect_conf[k] = splitee_confidence_of(z, mc->classes, SPLITEE_CONFIDENCE_MAX_SOFTMAX, &pred);
        expect_pred[k] = pred;
        size_t n;
        cr_assert_eq(splitee_engine_embed(s, px, &err), 0);
        cr_assert_eq(splitee_engine_run_layers(s, 0, layer, &err), 0);
        cr_assert_eq(splitee_engine_export_payload(s, SPLITEE_PAYLOAD_ENCODING_F32, payload, sizeof payload, &n, &err), 0);
        cr_assert_eq(splitee_wire_encode(SPLITEE_WIRE_TYPE_REQUEST, 0, 100 + (uint32_t)k, (uint32_t)layer, payload, n,
                                         frames[k], sizeof frames[k], &flen[k], &err), 0);
    }
    /* all six pipelined in one write, then a half-close */
    int fd = dial(splitee_cloud_port(fx.c));
    for (int k = 0; k < 6; k++)
        cr_assert_eq(send(fd, frames[k], flen[k], 0), (ssize_t)flen[k]);
    shutdown(fd, SHUT_WR);
    splitee_wire_parser *p;
    cr_assert_eq(splitee_wire_parser_create(1024, &p, NULL), 0);
    splitee_wire_frame f[7];
    unsigned char bodies[7][512];
    cr_assert_eq(read_frames(fd, p, f, 7, bodies), 6);
    for (int k = 0; k < 6; k++) {
        cr_assert_eq(f[k].hdr.type, SPLITEE_WIRE_TYPE_RESPONSE);
        cr_assert_eq(f[k].hdr.id, 100 + (uint32_t)k);
        cr_assert_eq(f[k].hdr.layer, 1 + 2 * (uint32_t)k);
        splitee_wire_response r;
        cr_assert_eq(splitee_wire_decode_response(bodies[k], f[k].hdr.length, &r, NULL), 0);
        cr_assert_eq((int)r.prediction, expect_pred[k]);
        cr_assert_eq(r.exit, (uint32_t)mc->layers - 1);
        cr_assert_eq(r.confidence, expect_conf[k], "f32 resume must be bit-identical");
        cr_assert(r.compute_us >= 0);
    }
    close(fd);
    splitee_wire_parser_free(p);
    free(all);
    splitee_engine_state_free(s);
    stop(&fx);
}

Test(cloud, bad_payload_gets_an_error_frame_and_the_connection_stays)
{
    fixture fx;
    start(&fx);
    unsigned char junk[40] = "not a payload", fr[128];
    size_t n;
    cr_assert_eq(splitee_wire_encode(SPLITEE_WIRE_TYPE_REQUEST, 0, 7, 2, junk, sizeof junk, fr, sizeof fr, &n, NULL), 0);
    int fd = dial(splitee_cloud_port(fx.c));
    cr_assert_eq(send(fd, fr, n, 0), (ssize_t)n);
    cr_assert_eq(send(fd, fr, n, 0), (ssize_t)n);
    splitee_wire_parser *p;
    cr_assert_eq(splitee_wire_parser_create(1024, &p, NULL), 0);
    splitee_wire_frame f[2];
    unsigned char bodies[2][512];
    cr_assert_eq(read_frames(fd, p, f, 2, bodies), 2);
    for (int k = 0; k < 2; k++) {
        cr_assert_eq(f[k].hdr.type, SPLITEE_WIRE_TYPE_ERROR);
        cr_assert_eq(f[k].hdr.id, 7);
        int st;
        char msg[300];
        cr_assert_eq(splitee_wire_decode_error(bodies[k], f[k].hdr.length, &st, msg, sizeof msg, NULL), 0);
        cr_assert_eq(st, SPLITEE_ERR_FORMAT);
        cr_assert(strstr(msg, "payload:"), "%s", msg);
    }
    close(fd);
    splitee_wire_parser_free(p);
    splitee_cloud_stats st;
    splitee_cloud_get_stats(fx.c, &st);
    cr_assert_eq(st.errors, 2);
    cr_assert_eq(st.requests, 0);
    stop(&fx);
}

Test(cloud, framing_error_closes_only_that_connection)
{
    fixture fx;
    start(&fx);
    int port = splitee_cloud_port(fx.c);
    int good = dial(port), bad = dial(port);
    cr_assert_eq(send(bad, "HELLO WORLD, THIS IS NOT SPLW", 29, 0), 29);
    char c;
    cr_assert_eq(recv(bad, &c, 1, 0), 0, "the server closes the bad connection");
    close(bad);
    /* the other connection is still served */
    unsigned char junk[8] = { 0 }, fr[64];
    size_t n;
    splitee_wire_encode(SPLITEE_WIRE_TYPE_REQUEST, 0, 1, 1, junk, sizeof junk, fr, sizeof fr, &n, NULL);
    cr_assert_eq(send(good, fr, n, 0), (ssize_t)n);
    splitee_wire_parser *p;
    cr_assert_eq(splitee_wire_parser_create(1024, &p, NULL), 0);
    splitee_wire_frame f[1];
    unsigned char bodies[1][512];
    cr_assert_eq(read_frames(good, p, f, 1, bodies), 1);
    cr_assert_eq(f[0].hdr.type, SPLITEE_WIRE_TYPE_ERROR);
    close(good);
    splitee_wire_parser_free(p);
    stop(&fx);
    cr_assert(strstr(fx.log, "127.0.0.1:") && strstr(fx.log, "closed: wire: bad magic"), "%s", fx.log);
}

/* The final exit's confidence of image k resumed at `layer`, under each
 * measure, and the frame of a request for it in `version` asking for
 * `measure`. */
static size_t request_for(splitee_model *m, int k, int layer, int version, splitee_confidence measure,
                          uint32_t id, unsigned char *frame, size_t cap, double *conf, int32_t *pred)
{
    const splitee_model_config *mc = splitee_model_get_config(m);
    splitee_engine_state *s;
    splitee_error err;
    cr_assert_eq(splitee_engine_state_create(m, &s, &err), 0);
    float px[28 * 28], all[64 * 64];
    image(px, k);
    cr_assert_eq(splitee_engine_forward(s, px, all, &err), 0);
    double z[64];
    for (int c = 0; c < mc->classes; c++)
        z[c] = all[(size_t)(mc->layers - 1) * mc->classes + c];
    for (int q = 0; q < SPLITEE_CONFIDENCE_COUNT; q++)
        conf[q] = splitee_confidence_of(z, mc->classes, (splitee_confidence)q, pred);
    unsigned char payload[8192];
    size_t n, flen;
    cr_assert_eq(splitee_engine_embed(s, px, &err), 0);
    cr_assert_eq(splitee_engine_run_layers(s, 0, layer, &err), 0);
    cr_assert_eq(splitee_engine_export_payload(s, SPLITEE_PAYLOAD_ENCODING_F32, payload, sizeof payload, &n, &err), 0);
    splitee_wire_header h = { .type = SPLITEE_WIRE_TYPE_REQUEST, .encoding = SPLITEE_PAYLOAD_ENCODING_F32,
                              .version = version, .confidence = measure, .id = id,
                              .layer = (uint32_t)layer };
    cr_assert_eq(splitee_wire_encode_frame(&h, payload, n, frame, cap, &flen, &err), 0, "%s", err.msg);
    splitee_engine_state_free(s);
    return flen;
}

/* A request says which measure the device's exit rule uses; the answer is
 * the final exit's confidence under it, in the request's version (a
 * version-1 request gets max-softmax, as before). */
Test(cloud, answers_under_the_measure_the_request_asks_for)
{
    fixture fx;
    start(&fx);
    const struct { int version; splitee_confidence measure; } ask[4] = {
        { 1, SPLITEE_CONFIDENCE_MAX_SOFTMAX }, { 2, SPLITEE_CONFIDENCE_MAX_SOFTMAX },
        { 2, SPLITEE_CONFIDENCE_ENTROPY }, { 2, SPLITEE_CONFIDENCE_MARGIN } };
    unsigned char frames[4][8192];
    size_t flen[4];
    double conf[4][SPLITEE_CONFIDENCE_COUNT];
    int32_t pred[4];
    for (int k = 0; k < 4; k++)
        flen[k] = request_for(fx.m, k, 2 + k, ask[k].version, ask[k].measure, 50 + (uint32_t)k,
                              frames[k], sizeof frames[k], conf[k], &pred[k]);
    int fd = dial(splitee_cloud_port(fx.c));
    for (int k = 0; k < 4; k++)
        cr_assert_eq(send(fd, frames[k], flen[k], 0), (ssize_t)flen[k]);
    splitee_wire_parser *p;
    cr_assert_eq(splitee_wire_parser_create(1024, &p, NULL), 0);
    splitee_wire_frame f[4];
    unsigned char bodies[4][512];
    cr_assert_eq(read_frames(fd, p, f, 4, bodies), 4);
    for (int k = 0; k < 4; k++) {
        cr_assert_eq(f[k].hdr.type, SPLITEE_WIRE_TYPE_RESPONSE);
        cr_assert_eq(f[k].hdr.version, ask[k].version);
        cr_assert_eq(f[k].hdr.confidence, ask[k].measure);
        splitee_wire_response r;
        cr_assert_eq(splitee_wire_decode_response(bodies[k], f[k].hdr.length, &r, NULL), 0);
        cr_assert_eq((int)r.prediction, pred[k]);
        cr_assert_eq(r.confidence, conf[k][ask[k].measure], "request %d: %s", k,
                     splitee_confidence_name(ask[k].measure));
    }
    cr_assert_neq(conf[2][SPLITEE_CONFIDENCE_ENTROPY], conf[2][SPLITEE_CONFIDENCE_MAX_SOFTMAX]);
    close(fd);
    splitee_wire_parser_free(p);
    stop(&fx);
}

/* A cloud told to answer one measure refuses the others with an error
 * frame naming both, and the connection stays. */
Test(cloud, a_cloud_answering_one_measure_refuses_the_others)
{
    splitee_cloud_config cc;
    splitee_cloud_config_default(&cc);
    cr_assert_eq(cc.confidences, SPLITEE_CLOUD_ALL_CONFIDENCES);
    cc.confidences = 1u << SPLITEE_CONFIDENCE_ENTROPY;
    fixture fx;
    start_with(&fx, &cc);
    unsigned char frames[3][8192];
    size_t flen[3];
    double conf[SPLITEE_CONFIDENCE_COUNT];
    int32_t pred;
    flen[0] = request_for(fx.m, 1, 3, 2, SPLITEE_CONFIDENCE_MAX_SOFTMAX, 1, frames[0], sizeof frames[0], conf, &pred);
    flen[1] = request_for(fx.m, 1, 3, 1, SPLITEE_CONFIDENCE_MAX_SOFTMAX, 2, frames[1], sizeof frames[1], conf, &pred);
    flen[2] = request_for(fx.m, 1, 3, 2, SPLITEE_CONFIDENCE_ENTROPY, 3, frames[2], sizeof frames[2], conf, &pred);
    int fd = dial(splitee_cloud_port(fx.c));
    for (int k = 0; k < 3; k++)
        cr_assert_eq(send(fd, frames[k], flen[k], 0), (ssize_t)flen[k]);
    splitee_wire_parser *p;
    cr_assert_eq(splitee_wire_parser_create(1024, &p, NULL), 0);
    splitee_wire_frame f[3];
    unsigned char bodies[3][512];
    cr_assert_eq(read_frames(fd, p, f, 3, bodies), 3);
    for (int k = 0; k < 2; k++) {
        cr_assert_eq(f[k].hdr.type, SPLITEE_WIRE_TYPE_ERROR, "request %d", k);
        cr_assert_eq(f[k].hdr.version, k == 0 ? 2 : 1);
        int st;
        char msg[300];
        cr_assert_eq(splitee_wire_decode_error(bodies[k], f[k].hdr.length, &st, msg, sizeof msg, NULL), 0);
        cr_assert_eq(st, SPLITEE_ERR_UNSUPPORTED);
        cr_assert(strstr(msg, "max-softmax") && strstr(msg, "answers entropy"), "%s", msg);
    }
    cr_assert_eq(f[2].hdr.type, SPLITEE_WIRE_TYPE_RESPONSE);
    splitee_wire_response r;
    cr_assert_eq(splitee_wire_decode_response(bodies[2], f[2].hdr.length, &r, NULL), 0);
    cr_assert_eq(r.confidence, conf[SPLITEE_CONFIDENCE_ENTROPY]);
    close(fd);
    splitee_wire_parser_free(p);
    stop(&fx);
    /* a cloud must answer some known measure */
    splitee_model *m;
    splitee_cloud *c;
    splitee_error err;
    cr_assert_eq(splitee_model_load(model_dir(), &m, &err), 0);
    cc.confidences = 0;
    cr_assert_eq(splitee_cloud_create(m, &cc, &c, &err), SPLITEE_ERR_ARG);
    cr_assert(strstr(err.msg, "--confidence"), "%s", err.msg);
    cc.confidences = 1u << SPLITEE_CONFIDENCE_COUNT;
    cr_assert_eq(splitee_cloud_create(m, &cc, &c, &err), SPLITEE_ERR_ARG);
    cr_assert_null(c);
    splitee_model_free(m);
}

/* ---- misbehaving peers --------------------------------------------------- */

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Waits up to `limit` seconds for the server to close fd (discarding what
 * it sends); returns the seconds it took, or -1 if it stayed open. */
static double closed_within(int fd, double limit)
{
    double t0 = mono();
    for (;;) {
        double left = limit - (mono() - t0);
        if (left <= 0)
            return -1;
        struct pollfd pf = { fd, POLLIN, 0 };
        if (poll(&pf, 1, (int)(left * 1000) + 1) <= 0)
            continue;
        char buf[4096];
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return mono() - t0;
    }
}

/* Sends one request frame and waits up to `limit` seconds for its answer:
 * 1 answered (a response or an error frame), 0 closed or timed out. */
static int ask(int fd, splitee_wire_parser *p, const unsigned char *frame, size_t flen, double limit)
{
    if (send(fd, frame, flen, MSG_NOSIGNAL) != (ssize_t)flen)
        return 0;
    double t0 = mono();
    for (;;) {
        splitee_wire_frame f;
        int rc = splitee_wire_parser_next(p, &f, NULL);
        if (rc == 1)
            return 1;
        if (rc < 0)
            return 0;
        double left = limit - (mono() - t0);
        struct pollfd pf = { fd, POLLIN, 0 };
        if (left <= 0 || poll(&pf, 1, (int)(left * 1000) + 1) <= 0)
            return 0;
        size_t room;
        void *dst = splitee_wire_parser_space(p, &room);
        ssize_t k = recv(fd, dst, room, MSG_DONTWAIT);
        if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR))
            return 0;
        if (k > 0)
            splitee_wire_parser_commit(p, (size_t)k);
    }
}

static int log_has(fixture *fx, const char *s)
{
    pthread_mutex_lock(&fx->lock);
    int yes = strstr(fx->log, s) != NULL;
    pthread_mutex_unlock(&fx->lock);
    return yes;
}

static int log_count(fixture *fx, const char *s)
{
    pthread_mutex_lock(&fx->lock);
    int n = 0;
    for (const char *q = fx->log; (q = strstr(q, s)); q += strlen(s))
        n++;
    pthread_mutex_unlock(&fx->lock);
    return n;
}

Test(cloud, config_defaults_and_bounds)
{
    splitee_cloud_config cc;
    splitee_cloud_config_default(&cc);
    cr_assert_eq(cc.max_per_peer, 64);
    cr_assert_eq(cc.idle_timeout_s, 30);
    cr_assert_eq(cc.frame_timeout_s, 5);
    cr_assert_eq(cc.batch, 8);
    splitee_model *m;
    splitee_cloud *c;
    splitee_error err;
    cr_assert_eq(splitee_model_load(model_dir(), &m, &err), 0);
    splitee_cloud_config b = cc;
    b.max_per_peer = 0;
    cr_assert_eq(splitee_cloud_create(m, &b, &c, &err), SPLITEE_ERR_ARG);
    cr_assert(strstr(err.msg, "--max-per-peer"), "%s", err.msg);
    b = cc;
    b.idle_timeout_s = -1;
    cr_assert_eq(splitee_cloud_create(m, &b, &c, &err), SPLITEE_ERR_ARG);
    cr_assert(strstr(err.msg, "--idle-timeout"), "%s", err.msg);
    b = cc;
    b.frame_timeout_s = NAN;
    cr_assert_eq(splitee_cloud_create(m, &b, &c, &err), SPLITEE_ERR_ARG);
    cr_assert(strstr(err.msg, "--frame-timeout"), "%s", err.msg);
    b = cc;
    b.batch = 0;
    cr_assert_eq(splitee_cloud_create(m, &b, &c, &err), SPLITEE_ERR_ARG);
    cr_assert_null(c);
    splitee_model_free(m);
}

/* A client that sends half a frame and stalls is closed after the frame
 * timeout (logged with the peer); a device on the same worker keeps being
 * answered meanwhile. */
Test(cloud, half_a_frame_is_closed_after_the_frame_timeout)
{
    splitee_cloud_config cc;
    splitee_cloud_config_default(&cc);
    cc.workers = 1;
    cc.frame_timeout_s = 0.3;
    cc.idle_timeout_s = 0;                /* only the frame timeout applies */
    fixture fx;
    start_with(&fx, &cc);
    unsigned char fr[8192];
    double conf[SPLITEE_CONFIDENCE_COUNT];
    int32_t pred;
    size_t flen = request_for(fx.m, 1, 3, 2, SPLITEE_CONFIDENCE_MAX_SOFTMAX, 9, fr, sizeof fr, conf, &pred);
    int port = splitee_cloud_port(fx.c);
    int stall = dial(port), good = dial(port);
    cr_assert_eq(send(stall, fr, flen / 2, 0), (ssize_t)(flen / 2));
    cr_assert_lt(closed_within(stall, 0.15), 0, "closed before its frame timeout");
    splitee_wire_parser *p;
    cr_assert_eq(splitee_wire_parser_create(1024, &p, NULL), 0);
    double t0 = mono();
    int answered = 0;
    while (mono() - t0 < 1.0)             /* past the timeout: the good one is still served */
        answered += ask(good, p, fr, flen, 10);
    cr_assert_gt(answered, 5);
    splitee_cloud_stats st;
    splitee_cloud_get_stats(fx.c, &st);
    cr_assert_eq(st.requests, (uint64_t)answered, "every request answered, none lost");
    double took = closed_within(stall, 10);
    cr_assert(took >= 0, "the stalled connection stays open");
    /* the well-behaved connection idles past the frame timeout: kept */
    usleep(500 * 1000);
    cr_assert_eq(ask(good, p, fr, flen, 10), 1, "a connection between frames is not timed out");
    close(stall);
    close(good);
    splitee_wire_parser_free(p);
    splitee_cloud_get_stats(fx.c, &st);
    cr_assert_eq(st.timed_out, 1);
    stop(&fx);
    cr_assert(strstr(fx.log, "127.0.0.1:") && strstr(fx.log, "closed: timeout: a frame begun") &&
              strstr(fx.log, "frame timeout 0.3 s"), "%s", fx.log);
}

/* A connection with no request for the idle timeout is closed (logged);
 * one that keeps asking is not. */
Test(cloud, an_idle_connection_is_closed_after_the_idle_timeout)
{
    splitee_cloud_config cc;
    splitee_cloud_config_default(&cc);
    cc.idle_timeout_s = 0.4;
    fixture fx;
    start_with(&fx, &cc);
    unsigned char fr[8192];
    double conf[SPLITEE_CONFIDENCE_COUNT];
    int32_t pred;
    size_t flen = request_for(fx.m, 2, 4, 2, SPLITEE_CONFIDENCE_MAX_SOFTMAX, 3, fr, sizeof fr, conf, &pred);
    int port = splitee_cloud_port(fx.c);
    double t0 = mono();
    int idle = dial(port), busy = dial(port);
    cr_assert_lt(closed_within(idle, 0.2), 0, "closed before its idle timeout");
    splitee_wire_parser *p;
    cr_assert_eq(splitee_wire_parser_create(1024, &p, NULL), 0);
    while (mono() - t0 < 1.2) {           /* three idle timeouts */
        cr_assert_eq(ask(busy, p, fr, flen, 10), 1, "a connection that asks is kept");
        usleep(100 * 1000);
    }
    double took = closed_within(idle, 10);
    cr_assert(took >= 0, "the idle connection stays open");
    close(idle);
    close(busy);
    splitee_wire_parser_free(p);
    stop(&fx);
    cr_assert(strstr(fx.log, "closed: timeout: no request for") && strstr(fx.log, "idle timeout 0.4 s"),
              "%s", fx.log);
    cr_assert_eq(log_count(&fx, "closed: timeout"), 1, "%s", fx.log);
}

/* Three clients from one address with max_per_peer 2: the third is closed
 * at accept and logged, a burst of refusals is logged once, and a slot
 * freed by a close is taken by the next connection. */
Test(cloud, connections_beyond_max_per_peer_are_refused)
{
    splitee_cloud_config cc;
    splitee_cloud_config_default(&cc);
    cc.max_per_peer = 2;
    fixture fx;
    start_with(&fx, &cc);
    unsigned char fr[8192];
    double conf[SPLITEE_CONFIDENCE_COUNT];
    int32_t pred;
    size_t flen = request_for(fx.m, 2, 4, 2, SPLITEE_CONFIDENCE_MAX_SOFTMAX, 3, fr, sizeof fr, conf, &pred);
    int port = splitee_cloud_port(fx.c);
    int a = dial(port), b = dial(port);
    splitee_wire_parser *pa, *pb, *pc;
    cr_assert_eq(splitee_wire_parser_create(1024, &pa, NULL), 0);
    cr_assert_eq(splitee_wire_parser_create(1024, &pb, NULL), 0);
    cr_assert_eq(splitee_wire_parser_create(1024, &pc, NULL), 0);
    cr_assert_eq(ask(a, pa, fr, flen, 10), 1);
    cr_assert_eq(ask(b, pb, fr, flen, 10), 1);
    for (int k = 0; k < 3; k++) {          /* a burst of three more */
        int x = dial(port);
        cr_assert_geq(closed_within(x, 10), 0, "connection %d beyond max_per_peer stays open", k);
        close(x);
    }
    cr_assert_eq(log_count(&fx, "(max-per-peer"), 1, "%s", fx.log);
    cr_assert(log_has(&fx, "127.0.0.1:") && log_has(&fx, "closed: refused, 2 connections from this address"),
              "%s", fx.log);
    splitee_cloud_stats st;
    splitee_cloud_get_stats(fx.c, &st);
    cr_assert_eq(st.rejected_peer, 3);
    cr_assert_eq(st.rejected, 0);
    /* the first two are still served; closing one frees its slot */
    cr_assert_eq(ask(a, pa, fr, flen, 10), 1);
    close(b);
    int served = 0;
    for (int tries = 0; tries < 200 && !served; tries++) {
        int c = dial(port);
        splitee_wire_parser_reset(pc);
        served = ask(c, pc, fr, flen, 10);
        close(c);
        if (!served)
            usleep(10 * 1000);
    }
    cr_assert(served, "the slot of a closed connection was never freed");
    close(a);
    splitee_wire_parser_free(pa);
    splitee_wire_parser_free(pb);
    splitee_wire_parser_free(pc);
    stop(&fx);
}

/* A client that pipelines requests and never reads its answers: the cloud
 * stops reading it once its answers fill the output buffer, so it computes
 * a bounded number of them, and a second client on the same worker is
 * answered meanwhile. */
Test(cloud, a_pipelining_client_that_does_not_read_does_not_starve_others)
{
    splitee_cloud_config cc;
    splitee_cloud_config_default(&cc);
    cc.workers = 1;
    fixture fx;
    start_with(&fx, &cc);
    unsigned char fr[8192];
    double conf[SPLITEE_CONFIDENCE_COUNT];
    int32_t pred;
    size_t flen = request_for(fx.m, 2, 1, 2, SPLITEE_CONFIDENCE_MAX_SOFTMAX, 3, fr, sizeof fr, conf, &pred);
    int port = splitee_cloud_port(fx.c);
    int hog = dial(port), good = dial(port);
    int small = 4096;                      /* keep its own receive buffer small */
    setsockopt(hog, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    long sent = 0;
    double t0 = mono();
    while (mono() - t0 < 2.0) {            /* pipeline until the cloud stops taking them */
        struct pollfd pf = { hog, POLLOUT, 0 };
        if (poll(&pf, 1, 200) <= 0)
            break;
        ssize_t n = send(hog, fr, flen, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0)
            sent += n;
        else if (n < 0 && errno != EAGAIN)
            break;
    }
    cr_assert_gt(sent, (long)(200 * flen), "the hog could pipeline only %ld bytes", sent);
    /* once its answers fill the output buffer and the socket buffers, the
     * cloud stops reading it: the count of its computed requests settles
     * below what it sent and stays there while another client is served */
    splitee_cloud_stats st;
    uint64_t settled = 0;
    splitee_cloud_get_stats(fx.c, &st);
    for (int k = 0; k < 50; k++) {
        settled = st.requests;
        usleep(200 * 1000);
        splitee_cloud_get_stats(fx.c, &st);
        if (st.requests == settled)
            break;
    }
    cr_assert_eq(st.requests, settled, "the cloud keeps computing for a client that does not read");
    cr_assert_lt(settled, (uint64_t)(sent / (long)flen), "the cloud computed all %ld pipelined requests",
                 sent / (long)flen);
    splitee_wire_parser *p;
    cr_assert_eq(splitee_wire_parser_create(1024, &p, NULL), 0);
    for (int k = 0; k < 20; k++)
        cr_assert_eq(ask(good, p, fr, flen, 10), 1, "request %d of the second client not answered", k);
    splitee_cloud_get_stats(fx.c, &st);
    cr_assert_eq(st.requests, settled + 20, "the hog's requests were computed meanwhile");
    close(hog);
    close(good);
    splitee_wire_parser_free(p);
    stop(&fx);
}

/* A client pipelining flat out (and reading) keeps the only worker busy;
 * meanwhile connections that open, ask once and close, over and over,
 * are each served, and their slots come back: after the churn only the
 * pipeliner is counted, and a max_clients of 3 still admits new clients. */
typedef struct pipeliner {
    int port;
    const unsigned char *frame;
    size_t flen;
    int stop;                              /* atomic */
    long answered;                         /* atomic */
} pipeliner;

static void *pipeline_main(void *arg)
{
    pipeliner *pl = arg;
    int fd = dial(pl->port);
    splitee_wire_parser *p;
    splitee_wire_parser_create(1024, &p, NULL);
    long inflight = 0;
    while (!__atomic_load_n(&pl->stop, __ATOMIC_RELAXED)) {
        while (inflight < 32 && send(fd, pl->frame, pl->flen, MSG_NOSIGNAL) == (ssize_t)pl->flen)
            inflight++;
        struct pollfd pf = { fd, POLLIN, 0 };
        if (poll(&pf, 1, 100) <= 0)
            continue;
        size_t room;
        void *dst = splitee_wire_parser_space(p, &room);
        ssize_t k = recv(fd, dst, room, 0);
        if (k <= 0)
            break;
        splitee_wire_parser_commit(p, (size_t)k);
        splitee_wire_frame f;
        while (splitee_wire_parser_next(p, &f, NULL) == 1) {
            inflight--;
            __atomic_fetch_add(&pl->answered, 1, __ATOMIC_RELAXED);
        }
    }
    close(fd);
    splitee_wire_parser_free(p);
    return NULL;
}

Test(cloud, churned_connections_free_their_slots_while_the_worker_is_busy)
{
    splitee_cloud_config cc;
    splitee_cloud_config_default(&cc);
    cc.workers = 1;
    cc.max_clients = 3;
    fixture fx;
    start_with(&fx, &cc);
    unsigned char fr[8192];
    double conf[SPLITEE_CONFIDENCE_COUNT];
    int32_t pred;
    size_t flen = request_for(fx.m, 2, 1, 2, SPLITEE_CONFIDENCE_MAX_SOFTMAX, 3, fr, sizeof fr, conf, &pred);
    int port = splitee_cloud_port(fx.c);
    pipeliner pl = { .port = port, .frame = fr, .flen = flen };
    pthread_t th;
    pthread_create(&th, NULL, pipeline_main, &pl);
    while (__atomic_load_n(&pl.answered, __ATOMIC_RELAXED) < 100)   /* it is being served */
        usleep(1000);
    splitee_wire_parser *p;
    cr_assert_eq(splitee_wire_parser_create(1024, &p, NULL), 0);
    int served = 0, attempts = 0;
    while (served < 100 && attempts < 2000) {
        int c = dial(port);
        splitee_wire_parser_reset(p);
        served += ask(c, p, fr, flen, 10);
        close(c);
        attempts++;
    }
    cr_assert_eq(served, 100, "%d of %d churned connections served", served, attempts);
    /* every churned slot comes back while the pipeliner keeps the worker busy */
    splitee_cloud_stats st;
    double t0 = mono();
    do {
        usleep(5000);
        splitee_cloud_get_stats(fx.c, &st);
    } while (st.clients != 1 && mono() - t0 < 5);
    cr_assert_eq(st.clients, 1, "%llu slots held after the churn", (unsigned long long)st.clients);
    int x = dial(port), y = dial(port);
    splitee_wire_parser *q;
    cr_assert_eq(splitee_wire_parser_create(1024, &q, NULL), 0);
    cr_assert_eq(ask(x, p, fr, flen, 10), 1);
    cr_assert_eq(ask(y, q, fr, flen, 10), 1, "the third slot of max_clients 3 is free");
    long before = __atomic_load_n(&pl.answered, __ATOMIC_RELAXED), now_answered = before;
    for (t0 = mono(); now_answered == before && mono() - t0 < 5;) {
        usleep(1000);
        now_answered = __atomic_load_n(&pl.answered, __ATOMIC_RELAXED);
    }
    cr_assert_gt(now_answered, before, "the pipeliner is no longer served");
    __atomic_store_n(&pl.stop, 1, __ATOMIC_RELAXED);
    pthread_join(th, NULL);
    close(x);
    close(y);
    splitee_wire_parser_free(p);
    splitee_wire_parser_free(q);
    stop(&fx);
}

/* One address opening connection after connection, each holding half a
 * frame, takes at most max_per_peer slots: a device from another address
 * is still admitted and answered (127.0.0.2 is loopback too on Linux). */
static int dial_from(int port, const char *src)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in me = { .sin_family = AF_INET, .sin_port = 0 };
    inet_pton(AF_INET, src, &me.sin_addr);
    cr_assert_eq(bind(fd, (struct sockaddr *)&me, sizeof me), 0, "bind %s: %s", src, strerror(errno));
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

Test(cloud, one_address_cannot_take_every_slot)
{
    splitee_cloud_config cc;
    splitee_cloud_config_default(&cc);
    cc.max_clients = 8;
    cc.max_per_peer = 4;
    fixture fx;
    start_with(&fx, &cc);
    unsigned char fr[8192];
    double conf[SPLITEE_CONFIDENCE_COUNT];
    int32_t pred;
    size_t flen = request_for(fx.m, 2, 4, 2, SPLITEE_CONFIDENCE_MAX_SOFTMAX, 3, fr, sizeof fr, conf, &pred);
    int port = splitee_cloud_port(fx.c);
    int hold[12];
    for (int k = 0; k < 12; k++) {
        hold[k] = dial_from(port, "127.0.0.2");
        send(hold[k], fr, flen / 2, MSG_NOSIGNAL);
    }
    splitee_cloud_stats st;
    double t0 = mono();
    do {                                   /* the acceptor has seen all twelve */
        usleep(2000);
        splitee_cloud_get_stats(fx.c, &st);
    } while (st.connections + st.rejected_peer < 12 && mono() - t0 < 10);
    cr_assert_eq(st.connections, 4);
    cr_assert_eq(st.rejected_peer, 8);
    splitee_wire_parser *p;
    cr_assert_eq(splitee_wire_parser_create(1024, &p, NULL), 0);
    int dev = dial(port);
    for (int k = 0; k < 5; k++)
        cr_assert_eq(ask(dev, p, fr, flen, 10), 1, "the device's request %d", k);
    close(dev);
    for (int k = 0; k < 12; k++)
        close(hold[k]);
    splitee_wire_parser_free(p);
    stop(&fx);
    cr_assert(strstr(fx.log, "127.0.0.2:") && strstr(fx.log, "(max-per-peer"), "%s", fx.log);
}
