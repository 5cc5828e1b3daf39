/* test_cloud.c -- Criterion tests for the cloud server (cloud.h) in one
 * process on loopback, with the shipped model (live_fixtures.h): the
 * cloud's answer for an f32 payload equals the local forward pass bit for
 * bit, pipelined requests followed by a half-close are all answered, a bad
 * payload gets an error frame on a connection that stays open, a framing
 * error closes only its connection (logged with the peer); the answer's
 * confidence is under the measure the request asks for, in its version,
 * and a cloud answering one measure refuses the others. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
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
