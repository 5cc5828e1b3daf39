/* test_wire.c -- Criterion tests for the wire protocol (wire.h): the
 * documented header layout, CRC-32 against a bitwise reference, response
 * and error bodies, the incremental parser on every split of a stream, and
 * one test per malformed case (bad magic, version, type, encoding, measure,
 * oversized length, checksum mismatch, truncation at end of stream);
 * version 2's confidence measure, version 1 read and answered in kind, and
 * every valid header of both versions round-tripping. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "splitee/wire.h"

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Bitwise CRC-32 (reflected, polynomial 0xEDB88320), the naive reference. */
static uint32_t crc_ref(const unsigned char *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return c ^ 0xffffffffu;
}

/* A version-2 request header (what a device sends) asking for `measure`. */
static splitee_wire_header request_header(uint32_t id, uint32_t layer, splitee_confidence measure)
{
    splitee_wire_header h = { .type = SPLITEE_WIRE_TYPE_REQUEST, .encoding = SPLITEE_PAYLOAD_ENCODING_F32,
                              .version = SPLITEE_WIRE_VERSION, .confidence = measure, .id = id,
                              .layer = layer };
    return h;
}

static size_t make_request(unsigned char *out, size_t cap, uint32_t id, size_t body_len)
{
    unsigned char body[4096] = { 0 };
    for (size_t i = 0; i < body_len; i++)
        body[i] = (unsigned char)(i * 7 + id);
    size_t n = 0;
    cr_assert_eq(splitee_wire_encode(SPLITEE_WIRE_TYPE_REQUEST, SPLITEE_PAYLOAD_ENCODING_F16, id, 5, body, body_len,
                                     out, cap, &n, NULL), 0);
    return n;
}

/* Feeds a whole stream and expects parser_next to fail with `status`
 * and a message containing `word`. */
static void expect_stream_error(const unsigned char *s, size_t n, size_t max_frame, int status,
                                const char *word)
{
    splitee_wire_parser *p;
    splitee_error err;
    cr_assert_eq(splitee_wire_parser_create(max_frame, &p, &err), 0);
    splitee_wire_parser_feed(p, s, n);
    splitee_wire_frame f;
    int rc;
    while ((rc = splitee_wire_parser_next(p, &f, &err)) == 1) {
    }
    cr_assert_eq(rc, status, "rc %d, expected %d (%s)", rc, status, err.msg);
    cr_assert(strncmp(err.msg, "wire:", 5) == 0, "%s", err.msg);
    cr_assert(strstr(err.msg, word), "'%s' lacks '%s'", err.msg, word);
    /* sticky */
    splitee_error e2;
    cr_assert_eq(splitee_wire_parser_next(p, &f, &e2), status);
    cr_assert_eq(splitee_wire_parser_eof(p, &e2), status);
    splitee_wire_parser_free(p);
}

Test(wire, header_layout_is_documented)
{
    unsigned char body[10] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, out[64];
    size_t n;
    cr_assert_eq(splitee_wire_encode(SPLITEE_WIRE_TYPE_REQUEST, SPLITEE_PAYLOAD_ENCODING_I8, 0x01020304u, 7, body, 10,
                                     out, sizeof out, &n, NULL), 0);
    cr_assert_eq(n, SPLITEE_WIRE_HEADER_SIZE + 10);
    cr_assert_eq(SPLITEE_WIRE_HEADER_SIZE, 24);
    cr_assert(memcmp(out, "SPLW", 4) == 0);
    cr_assert_eq(out[4] | out[5] << 8, SPLITEE_WIRE_VERSION);
    cr_assert_eq(out[6], 1);
    cr_assert_eq(out[7], 2);
    cr_assert_eq(le32(out + 8), 0x01020304u);
    cr_assert_eq(le32(out + 12), 7);
    cr_assert_eq(le32(out + 16), 10);
    cr_assert_eq(le32(out + 20), crc_ref(body, 10));
    cr_assert(memcmp(out + 24, body, 10) == 0);
}

Test(wire, crc32_matches_bitwise_reference)
{
    unsigned char buf[1000];
    for (int i = 0; i < 1000; i++)
        buf[i] = (unsigned char)(i * 31 + 17);
    cr_assert_eq(splitee_wire_crc32("123456789", 9), 0xCBF43926u); /* the check value */
    for (size_t n = 0; n <= 1000; n += 37)
        cr_assert_eq(splitee_wire_crc32(buf, n), crc_ref(buf, n));
}

Test(wire, response_round_trip)
{
    splitee_wire_response r = { 7, 11, 0.93125, 1234.5 }, back;
    unsigned char out[64];
    size_t n;
    splitee_wire_header req = request_header(42, 3, SPLITEE_CONFIDENCE_MAX_SOFTMAX);
    cr_assert_eq(splitee_wire_encode_response(&req, &r, out, sizeof out, &n, NULL), 0);
    cr_assert_eq(n, SPLITEE_WIRE_HEADER_SIZE + SPLITEE_WIRE_RESPONSE_BODY);
    splitee_wire_header h;
    cr_assert_eq(splitee_wire_decode_header(out, n, 1024, &h, NULL), 0);
    cr_assert_eq(h.type, SPLITEE_WIRE_TYPE_RESPONSE);
    cr_assert_eq(h.id, 42);
    cr_assert_eq(h.layer, 3);
    cr_assert_eq(h.encoding, 0);
    cr_assert_eq(splitee_wire_decode_response(out + 24, h.length, &back, NULL), 0);
    cr_assert_eq(back.prediction, 7);
    cr_assert_eq(back.exit, 11);
    cr_assert_eq(back.confidence, 0.93125);
    cr_assert_eq(back.compute_us, 1234.5);
}

Test(wire, error_round_trip_and_truncation)
{
    unsigned char out[512];
    size_t n;
    splitee_wire_header req = request_header(9, 2, SPLITEE_CONFIDENCE_MAX_SOFTMAX);
    cr_assert_eq(splitee_wire_encode_error(&req, SPLITEE_ERR_SHAPE, "payload: bad\nshape", out, sizeof out,
                                           &n, NULL), 0);
    int st;
    char msg[300];
    cr_assert_eq(splitee_wire_decode_error(out + 24, n - 24, &st, msg, sizeof msg, NULL), 0);
    cr_assert_eq(st, SPLITEE_ERR_SHAPE);
    cr_assert_str_eq(msg, "payload: bad shape");
    char longmsg[600];
    memset(longmsg, 'x', sizeof longmsg - 1);
    longmsg[sizeof longmsg - 1] = '\0';
    cr_assert_eq(splitee_wire_encode_error(&req, -3, longmsg, out, sizeof out, &n, NULL), 0);
    cr_assert_eq(n, 24 + 4 + SPLITEE_WIRE_MAX_ERROR_MSG);
    splitee_error err;
    cr_assert_eq(splitee_wire_decode_error(out + 24, 3, &st, msg, sizeof msg, &err), SPLITEE_ERR_FORMAT);
}

Test(wire, bad_response_bodies)
{
    unsigned char b[SPLITEE_WIRE_RESPONSE_BODY] = { 0 };
    splitee_wire_response r;
    splitee_error err;
    cr_assert_eq(splitee_wire_decode_response(b, sizeof b - 1, &r, &err), SPLITEE_ERR_FORMAT);
    double bad[] = { -0.1, 1.5, NAN };
    for (int i = 0; i < 3; i++) {
        memcpy(b + 8, &bad[i], 8);   /* the tests run on little-endian hosts */
        cr_assert_eq(splitee_wire_decode_response(b, sizeof b, &r, &err), SPLITEE_ERR_FORMAT);
    }
    double ok = 0.5, t = -1;
    memcpy(b + 8, &ok, 8);
    memcpy(b + 16, &t, 8);
    cr_assert_eq(splitee_wire_decode_response(b, sizeof b, &r, &err), SPLITEE_ERR_FORMAT);
}

Test(wire, encode_refuses_bad_arguments)
{
    unsigned char out[64], body[8] = { 0 };
    splitee_error err;
    size_t n = 123;
    cr_assert_eq(splitee_wire_encode(SPLITEE_WIRE_TYPE_REQUEST, 0, 1, 1, body, 8, out, 31, &n, &err),
                 SPLITEE_ERR_OVERFLOW);
    cr_assert_eq(n, 123);
    cr_assert_eq(splitee_wire_encode((splitee_wire_type)9, 0, 1, 1, body, 8, out, 64, &n, &err),
                 SPLITEE_ERR_ARG);
    cr_assert_eq(splitee_wire_encode(SPLITEE_WIRE_TYPE_REQUEST, 3, 1, 1, body, 8, out, 64, &n, &err),
                 SPLITEE_ERR_ARG);
    cr_assert_eq(splitee_wire_encode(SPLITEE_WIRE_TYPE_RESPONSE, 1, 1, 1, body, 8, out, 64, &n, &err),
                 SPLITEE_ERR_ARG);
    cr_assert_eq(splitee_wire_encode(SPLITEE_WIRE_TYPE_REQUEST, 0, 1, 1, NULL, 8, out, 64, &n, &err),
                 SPLITEE_ERR_ARG);
    splitee_wire_parser *p;
    cr_assert_eq(splitee_wire_parser_create(10, &p, &err), SPLITEE_ERR_ARG);
    cr_assert_null(p);
}

/* Three frames fed in every chunk size come out whole and in order. */
Test(wire, parser_reassembles_any_split)
{
    unsigned char stream[3 * 1100];
    size_t lens[3] = { 1000, 0, 37 }, n = 0;
    for (int i = 0; i < 3; i++)
        n += make_request(stream + n, sizeof stream - n, (uint32_t)i + 1, lens[i]);
    for (size_t chunk = 1; chunk <= n; chunk = chunk < 8 ? chunk + 1 : chunk * 3) {
        splitee_wire_parser *p;
        cr_assert_eq(splitee_wire_parser_create(24 + 1000, &p, NULL), 0);
        int got = 0;
        for (size_t off = 0; off < n;) {
            size_t k = n - off < chunk ? n - off : chunk;
            size_t taken = splitee_wire_parser_feed(p, stream + off, k);
            off += taken;
            splitee_wire_frame f;
            splitee_error err;
            int rc;
            while ((rc = splitee_wire_parser_next(p, &f, &err)) == 1) {
                cr_assert_eq(f.hdr.id, (uint32_t)got + 1);
                cr_assert_eq(f.hdr.length, lens[got]);
                cr_assert_eq(f.hdr.layer, 5);
                cr_assert_eq(f.hdr.encoding, SPLITEE_PAYLOAD_ENCODING_F16);
                for (size_t b = 0; b < f.hdr.length; b++)
                    cr_assert_eq(f.body[b], (unsigned char)(b * 7 + f.hdr.id));
                got++;
            }
            cr_assert_eq(rc, 0, "chunk %zu: %s", chunk, err.msg);
        }
        cr_assert_eq(got, 3, "chunk %zu", chunk);
        cr_assert_eq(splitee_wire_parser_eof(p, NULL), 0);
        cr_assert_eq(splitee_wire_parser_pending(p), 0);
        splitee_wire_parser_free(p);
    }
}

Test(wire, parser_space_and_commit)
{
    unsigned char fr[200];
    size_t n = make_request(fr, sizeof fr, 1, 100);
    splitee_wire_parser *p;
    cr_assert_eq(splitee_wire_parser_create(n, &p, NULL), 0);
    for (int round = 0; round < 3; round++) {
        size_t room;
        unsigned char *dst = splitee_wire_parser_space(p, &room);
        cr_assert_eq(room, n);
        memcpy(dst, fr, 50);
        splitee_wire_parser_commit(p, 50);
        splitee_wire_frame f;
        cr_assert_eq(splitee_wire_parser_next(p, &f, NULL), 0);
        dst = splitee_wire_parser_space(p, &room);
        cr_assert_eq(room, n - 50);
        memcpy(dst, fr + 50, n - 50);
        splitee_wire_parser_commit(p, n - 50);
        cr_assert_eq(splitee_wire_parser_next(p, &f, NULL), 1);
        cr_assert_eq(f.hdr.length, 100);
    }
    splitee_wire_parser_free(p);
}

Test(wire, bad_magic)
{
    unsigned char fr[200];
    size_t n = make_request(fr, sizeof fr, 1, 50);
    fr[1] = 'X';
    expect_stream_error(fr, n, 1024, SPLITEE_ERR_FORMAT, "bad magic");
    /* reported as soon as the first bytes disagree */
    expect_stream_error((const unsigned char *)"GE", 2, 1024, SPLITEE_ERR_FORMAT, "bad magic");
}

Test(wire, bad_version)
{
    unsigned char fr[200];
    size_t n = make_request(fr, sizeof fr, 1, 50);
    fr[4] = 3;
    expect_stream_error(fr, n, 1024, SPLITEE_ERR_UNSUPPORTED, "version 3");
    fr[4] = 0;
    expect_stream_error(fr, n, 1024, SPLITEE_ERR_UNSUPPORTED, "version 0");
}

Test(wire, bad_type_and_encoding)
{
    unsigned char fr[200];
    size_t n = make_request(fr, sizeof fr, 1, 50);
    fr[6] = 0;
    expect_stream_error(fr, n, 1024, SPLITEE_ERR_FORMAT, "unknown message type 0");
    fr[6] = 4;
    expect_stream_error(fr, n, 1024, SPLITEE_ERR_FORMAT, "unknown message type 4");
    fr[6] = 1;
    fr[7] = 3;
    expect_stream_error(fr, n, 1024, SPLITEE_ERR_FORMAT, "unknown payload encoding 3");
    fr[6] = 2;
    fr[7] = 1;
    expect_stream_error(fr, n, 1024, SPLITEE_ERR_FORMAT, "encoding 1");
}

Test(wire, oversized_length)
{
    unsigned char fr[200];
    size_t n = make_request(fr, sizeof fr, 1, 50);
    expect_stream_error(fr, n, 24 + 49, SPLITEE_ERR_OVERFLOW, "oversized");
    /* refused from the header alone, before any body arrives */
    put32(fr + 16, 0xffffffffu);
    expect_stream_error(fr, 24, 1 << 20, SPLITEE_ERR_OVERFLOW, "4294967295");
    splitee_wire_header h;
    cr_assert_eq(splitee_wire_decode_header(fr, 24, (size_t)-1, &h, NULL), SPLITEE_ERR_OVERFLOW);
}

Test(wire, checksum_mismatch)
{
    unsigned char fr[200];
    size_t n = make_request(fr, sizeof fr, 1, 50);
    fr[24 + 17] ^= 0x40;
    expect_stream_error(fr, n, 1024, SPLITEE_ERR_FORMAT, "checksum mismatch");
    n = make_request(fr, sizeof fr, 1, 50);
    fr[20] ^= 1;
    expect_stream_error(fr, n, 1024, SPLITEE_ERR_FORMAT, "checksum mismatch");
}

Test(wire, truncated_at_end_of_stream)
{
    unsigned char fr[200];
    size_t n = make_request(fr, sizeof fr, 1, 50);
    size_t cuts[] = { 3, 10, 24, 30, n - 1 };
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        splitee_wire_parser *p;
        cr_assert_eq(splitee_wire_parser_create(1024, &p, NULL), 0);
        splitee_wire_parser_feed(p, fr, cuts[i]);
        splitee_wire_frame f;
        splitee_error err;
        cr_assert_eq(splitee_wire_parser_next(p, &f, &err), 0);
        cr_assert_eq(splitee_wire_parser_eof(p, &err), SPLITEE_ERR_FORMAT);
        cr_assert(strstr(err.msg, "truncated frame"), "%s", err.msg);
        char want[64];
        snprintf(want, sizeof want, "%zu of %zu bytes", cuts[i], cuts[i] >= 24 ? n : (size_t)24);
        cr_assert(strstr(err.msg, want), "'%s' lacks '%s'", err.msg, want);
        splitee_wire_parser_reset(p);
        cr_assert_eq(splitee_wire_parser_eof(p, &err), 0);
        splitee_wire_parser_free(p);
    }
}

Test(wire, truncated_header_decode)
{
    unsigned char fr[64];
    size_t n = make_request(fr, sizeof fr, 1, 0);
    splitee_wire_header h;
    splitee_error err;
    cr_assert_eq(splitee_wire_decode_header(fr, n - 1, 1024, &h, &err), SPLITEE_ERR_FORMAT);
    cr_assert(strstr(err.msg, "truncated header"), "%s", err.msg);
    cr_assert_str_eq(splitee_wire_type_name(2), "response");
    cr_assert_null(splitee_wire_type_name(0));
    splitee_wire_parser_free(NULL);
}

/* ---- versions and the confidence measure -------------------------------------- */

Test(wire, version_2_carries_the_measure_beside_the_encoding)
{
    unsigned char body[6] = { 1, 2, 3, 4, 5, 6 }, out[64];
    size_t n;
    splitee_wire_header h = { .type = SPLITEE_WIRE_TYPE_REQUEST, .encoding = SPLITEE_PAYLOAD_ENCODING_I8,
                              .version = 2, .confidence = SPLITEE_CONFIDENCE_MARGIN, .id = 9,
                              .layer = 4 };
    cr_assert_eq(splitee_wire_encode_frame(&h, body, 6, out, sizeof out, &n, NULL), 0);
    cr_assert_eq(SPLITEE_WIRE_VERSION, 2);
    cr_assert_eq(out[4] | out[5] << 8, 2);
    cr_assert_eq(out[7], SPLITEE_PAYLOAD_ENCODING_I8 | SPLITEE_CONFIDENCE_MARGIN << 4);
    cr_assert_eq(le32(out + 20), crc_ref(body, 6));
    splitee_wire_header back;
    cr_assert_eq(splitee_wire_decode_header(out, n, 1024, &back, NULL), 0);
    cr_assert_eq(back.version, 2);
    cr_assert_eq(back.encoding, SPLITEE_PAYLOAD_ENCODING_I8);
    cr_assert_eq(back.confidence, SPLITEE_CONFIDENCE_MARGIN);
    cr_assert_eq(back.length, 6);
    /* the plain encoder writes version 2 with max-softmax */
    cr_assert_eq(splitee_wire_encode(SPLITEE_WIRE_TYPE_REQUEST, SPLITEE_PAYLOAD_ENCODING_F16, 1, 1, body, 6, out,
                                     sizeof out, &n, NULL), 0);
    cr_assert_eq(out[4], 2);
    cr_assert_eq(out[7], SPLITEE_PAYLOAD_ENCODING_F16);
}

Test(wire, version_1_is_still_read_and_answered_in_kind)
{
    /* a version-1 request as an old device writes it, byte by byte */
    unsigned char body[4] = { 9, 8, 7, 6 }, fr[64], out[128];
    memcpy(fr, "SPLW", 4);
    fr[4] = 1;
    fr[5] = 0;
    fr[6] = SPLITEE_WIRE_TYPE_REQUEST;
    fr[7] = SPLITEE_PAYLOAD_ENCODING_F16;
    put32(fr + 8, 77);
    put32(fr + 12, 3);
    put32(fr + 16, 4);
    put32(fr + 20, crc_ref(body, 4));
    memcpy(fr + 24, body, 4);
    splitee_wire_header req;
    cr_assert_eq(splitee_wire_decode_header(fr, 28, 1024, &req, NULL), 0);
    cr_assert_eq(req.version, 1);
    cr_assert_eq(req.encoding, SPLITEE_PAYLOAD_ENCODING_F16);
    cr_assert_eq(req.confidence, SPLITEE_CONFIDENCE_MAX_SOFTMAX);
    /* re-encoding it gives back its bytes */
    size_t n;
    cr_assert_eq(splitee_wire_encode_frame(&req, body, 4, out, sizeof out, &n, NULL), 0);
    cr_assert_eq(n, 28);
    cr_assert(memcmp(out, fr, 28) == 0);
    /* the reply is version 1 too: what an old device parses */
    splitee_wire_response r = { 3, 11, 0.5, 10 };
    cr_assert_eq(splitee_wire_encode_response(&req, &r, out, sizeof out, &n, NULL), 0);
    cr_assert_eq(out[4], 1);
    cr_assert_eq(out[6], SPLITEE_WIRE_TYPE_RESPONSE);
    cr_assert_eq(out[7], 0);
    cr_assert_eq(le32(out + 8), 77);
    cr_assert_eq(le32(out + 12), 3);
    cr_assert_eq(splitee_wire_encode_error(&req, SPLITEE_ERR_SHAPE, "no", out, sizeof out, &n, NULL), 0);
    cr_assert_eq(out[4], 1);
    cr_assert_eq(out[7], 0);
    /* a version-1 request cannot ask for another measure, so its reply is max-softmax */
    req.confidence = SPLITEE_CONFIDENCE_ENTROPY;
    splitee_error err;
    cr_assert_eq(splitee_wire_encode_response(&req, &r, out, sizeof out, &n, &err), SPLITEE_ERR_ARG);
    cr_assert(strstr(err.msg, "must be max-softmax"), "%s", err.msg);
}

Test(wire, a_reply_carries_its_requests_measure)
{
    unsigned char out[128];
    size_t n;
    for (int m = 0; m < SPLITEE_CONFIDENCE_COUNT; m++) {
        splitee_wire_header req = request_header(5, 2, (splitee_confidence)m);
        splitee_wire_response r = { 1, 11, 0.25, 3 }, back;
        cr_assert_eq(splitee_wire_encode_response(&req, &r, out, sizeof out, &n, NULL), 0);
        cr_assert_eq(out[7], m << 4);
        splitee_wire_parser *p;
        cr_assert_eq(splitee_wire_parser_create(1024, &p, NULL), 0);
        splitee_wire_parser_feed(p, out, n);
        splitee_wire_frame f;
        cr_assert_eq(splitee_wire_parser_next(p, &f, NULL), 1);
        cr_assert_eq(f.hdr.version, 2);
        cr_assert_eq(f.hdr.confidence, m);
        cr_assert_eq(f.hdr.encoding, 0);
        cr_assert_eq(splitee_wire_decode_response(f.body, f.hdr.length, &back, NULL), 0);
        cr_assert_eq(back.confidence, 0.25);
        splitee_wire_parser_free(p);
        /* an error frame says no measure */
        cr_assert_eq(splitee_wire_encode_error(&req, -3, "x", out, sizeof out, &n, NULL), 0);
        cr_assert_eq(out[7], 0);
    }
}

Test(wire, bad_measures_are_refused)
{
    unsigned char fr[200];
    size_t n = make_request(fr, sizeof fr, 1, 50);
    fr[7] = SPLITEE_PAYLOAD_ENCODING_F16 | 3 << 4;
    expect_stream_error(fr, n, 1024, SPLITEE_ERR_FORMAT, "unknown confidence measure 3");
    fr[7] = 15 << 4;
    expect_stream_error(fr, n, 1024, SPLITEE_ERR_FORMAT, "unknown confidence measure 15");
    fr[6] = SPLITEE_WIRE_TYPE_ERROR;      /* an error says no measure */
    fr[7] = 1 << 4;
    expect_stream_error(fr, n, 1024, SPLITEE_ERR_FORMAT, "error frame of version 2 with measure entropy");
    fr[6] = SPLITEE_WIRE_TYPE_RESPONSE;   /* a response's low bits are no encoding */
    fr[7] = 1 << 4 | 1;
    expect_stream_error(fr, n, 1024, SPLITEE_ERR_FORMAT, "encoding 1");
    fr[6] = SPLITEE_WIRE_TYPE_REQUEST;    /* in version 1 the byte is the encoding alone */
    fr[4] = 1;
    fr[7] = SPLITEE_PAYLOAD_ENCODING_F16 | 1 << 4;
    expect_stream_error(fr, n, 1024, SPLITEE_ERR_FORMAT, "unknown payload encoding 17");
    /* the encoder refuses what the decoder would */
    unsigned char body[4] = { 0 }, out[64];
    splitee_error err;
    splitee_wire_header h = request_header(1, 1, (splitee_confidence)SPLITEE_CONFIDENCE_COUNT);
    cr_assert_eq(splitee_wire_encode_frame(&h, body, 4, out, sizeof out, &n, &err), SPLITEE_ERR_ARG);
    h = request_header(1, 1, SPLITEE_CONFIDENCE_ENTROPY);
    h.version = 1;
    cr_assert_eq(splitee_wire_encode_frame(&h, body, 4, out, sizeof out, &n, &err), SPLITEE_ERR_ARG);
    h.version = 3;
    cr_assert_eq(splitee_wire_encode_frame(&h, body, 4, out, sizeof out, &n, &err), SPLITEE_ERR_ARG);
    cr_assert(strstr(err.msg, "version 3"), "%s", err.msg);
    h.version = 0;
    cr_assert_eq(splitee_wire_encode_frame(&h, body, 4, out, sizeof out, &n, &err), SPLITEE_ERR_ARG);
    h = request_header(1, 1, SPLITEE_CONFIDENCE_ENTROPY);
    h.type = SPLITEE_WIRE_TYPE_ERROR;
    h.encoding = 0;
    cr_assert_eq(splitee_wire_encode_frame(&h, body, 4, out, sizeof out, &n, &err), SPLITEE_ERR_ARG);
    cr_assert_eq(splitee_wire_encode_frame(NULL, body, 4, out, sizeof out, &n, &err), SPLITEE_ERR_ARG);
    cr_assert_eq(splitee_wire_encode_response(NULL, NULL, out, sizeof out, &n, &err), SPLITEE_ERR_ARG);
    cr_assert_eq(splitee_wire_encode_error(NULL, -1, "x", out, sizeof out, &n, &err), SPLITEE_ERR_ARG);
}

/* Every valid header of both versions survives encode -> decode -> encode. */
Test(wire, every_header_round_trips)
{
    unsigned char body[3] = { 1, 2, 3 }, out[64], again[64];
    int count = 0;
    for (int v = SPLITEE_WIRE_VERSION_MIN; v <= SPLITEE_WIRE_VERSION; v++)
        for (int t = SPLITEE_WIRE_TYPE_REQUEST; t <= SPLITEE_WIRE_TYPE_ERROR; t++)
            for (int e = 0; e <= SPLITEE_PAYLOAD_ENCODING_I8; e++)
                for (int m = 0; m < SPLITEE_CONFIDENCE_COUNT; m++) {
                    splitee_wire_header h = { .type = (splitee_wire_type)t, .encoding = e,
                                              .version = v, .confidence = (splitee_confidence)m,
                                              .id = (uint32_t)(1000 + count), .layer = 7 };
                    size_t n, n2;
                    int valid = (t == SPLITEE_WIRE_TYPE_REQUEST || e == 0) &&
                                (m == 0 || (v == 2 && t != SPLITEE_WIRE_TYPE_ERROR));
                    int rc = splitee_wire_encode_frame(&h, body, 3, out, sizeof out, &n, NULL);
                    cr_assert_eq(rc == 0, valid, "v%d type %d enc %d measure %d", v, t, e, m);
                    if (!valid)
                        continue;
                    splitee_wire_header back;
                    cr_assert_eq(splitee_wire_decode_header(out, n, 64, &back, NULL), 0);
                    cr_assert(back.version == v && back.type == (splitee_wire_type)t &&
                              back.encoding == e && back.confidence == (splitee_confidence)m &&
                              back.id == h.id && back.layer == 7 && back.length == 3);
                    cr_assert_eq(splitee_wire_encode_frame(&back, body, 3, again, sizeof again, &n2, NULL), 0);
                    cr_assert(n2 == n && memcmp(out, again, n) == 0);
                    count++;
                }
    /* version 1: 3 requests, a response, an error; version 2: 3 x 3
     * requests, 3 responses, an error */
    cr_assert_eq(count, 5 + 13);
}
