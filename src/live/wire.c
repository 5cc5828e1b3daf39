/* wire.c -- the device <-> cloud framing (wire.h): header encoding and
 * checks (versions 1 and 2; version 2 carries the confidence measure),
 * response/error bodies, and the incremental stream parser.
 * Little-endian on the wire whatever the host. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/internal.h"
#include "splitee/wire.h"

static const unsigned char magic[4] = { 'S', 'P', 'L', 'W' };

struct splitee_wire_parser {
    unsigned char *buf;  /* (cap) bytes */
    size_t cap;          /* max_frame */
    size_t start, end;   /* unconsumed bytes are buf[start..end) */
    size_t taken;        /* bytes of the frame handed out last, consumed on the next call */
    splitee_error error; /* sticky error (status 0: none) */
};

static void put_u16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint16_t get_u16(const unsigned char *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const unsigned char *p)
{
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

static void put_f64(unsigned char *p, double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    put_u64(p, u);
}

static double get_f64(const unsigned char *p)
{
    uint64_t u = get_u64(p);
    double x;
    memcpy(&x, &u, sizeof x);
    return x;
}

const char *splitee_wire_type_name(int type)
{
    switch (type) {
    case SPLITEE_WIRE_TYPE_REQUEST: return "request";
    case SPLITEE_WIRE_TYPE_RESPONSE: return "response";
    case SPLITEE_WIRE_TYPE_ERROR: return "error";
    default: return NULL;
    }
}

uint32_t splitee_wire_crc32(const void *data, size_t len)
{
    uLong c = crc32(0L, Z_NULL, 0);
    const unsigned char *p = data;
    while (len > 0) {               /* zlib takes uInt lengths */
        uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;
        c = crc32(c, p, n);
        p += n;
        len -= n;
    }
    return (uint32_t)c;
}

/* Checks a header's type, encoding and measure for `version` (already in
 * range); 0 or FORMAT with a "wire:" message. */
static int check_fields(int version, int type, int encoding, int measure, splitee_error *err)
{
    if (!splitee_wire_type_name(type))
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "wire: unknown message type %d", type);
    if (type == SPLITEE_WIRE_TYPE_REQUEST) {
        if (encoding < 0 || encoding > SPLITEE_PAYLOAD_ENCODING_I8)
            return splitee__fail(err, SPLITEE_ERR_FORMAT, "wire: unknown payload encoding %d",
                                 encoding);
    } else if (encoding != 0) {
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "wire: %s frame with encoding %d (must be 0)",
                             splitee_wire_type_name(type), encoding);
    }
    if (measure < 0 || measure >= SPLITEE_CONFIDENCE_COUNT)
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "wire: unknown confidence measure %d", measure);
    if (measure != SPLITEE_CONFIDENCE_MAX_SOFTMAX && (version < 2 || type == SPLITEE_WIRE_TYPE_ERROR))
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "wire: %s frame of version %d with measure %s "
                             "(must be max-softmax)", splitee_wire_type_name(type), version,
                             splitee_confidence_name((splitee_confidence)measure));
    return 0;
}

/* Byte 7 of a header (wire.h). */
static unsigned char flags_byte(int version, int encoding, int measure)
{
    return version < 2 ? (unsigned char)encoding : (unsigned char)(encoding | measure << 4);
}

int splitee_wire_encode_frame(const splitee_wire_header *h, const void *body, size_t len,
                              void *out, size_t cap, size_t *written, splitee_error *err)
{
    if (!h || !out || (!body && len > 0))
        return splitee__fail(err, SPLITEE_ERR_ARG, "wire: NULL buffer");
    if (h->version < SPLITEE_WIRE_VERSION_MIN || h->version > SPLITEE_WIRE_VERSION)
        return splitee__fail(err, SPLITEE_ERR_ARG, "wire: version %d (this build writes %d..%d)",
                             h->version, SPLITEE_WIRE_VERSION_MIN, SPLITEE_WIRE_VERSION);
    splitee_error bad;
    if (check_fields(h->version, (int)h->type, h->encoding, (int)h->confidence, &bad) < 0)
        return splitee__fail(err, SPLITEE_ERR_ARG, "%s", bad.msg);
    if (len > SPLITEE_WIRE_MAX_BODY)
        return splitee__fail(err, SPLITEE_ERR_ARG, "wire: body of %zu bytes exceeds the %u-byte limit",
                             len, SPLITEE_WIRE_MAX_BODY);
    if (cap < SPLITEE_WIRE_HEADER_SIZE + len)
        return splitee__fail(err, SPLITEE_ERR_OVERFLOW, "wire: frame needs %zu bytes, buffer has %zu",
                             SPLITEE_WIRE_HEADER_SIZE + len, cap);
    unsigned char *p = out;
    memcpy(p, magic, 4);
    put_u16(p + 4, (uint16_t)h->version);
    p[6] = (unsigned char)h->type;
    p[7] = flags_byte(h->version, h->encoding, (int)h->confidence);
    put_u32(p + 8, h->id);
    put_u32(p + 12, h->layer);
    put_u32(p + 16, (uint32_t)len);
    put_u32(p + 20, splitee_wire_crc32(body, len));
    if (len)
        memcpy(p + SPLITEE_WIRE_HEADER_SIZE, body, len);
    if (written)
        *written = SPLITEE_WIRE_HEADER_SIZE + len;
    return 0;
}

int splitee_wire_encode(splitee_wire_type type, int encoding, uint32_t id, uint32_t layer,
                        const void *body, size_t len, void *out, size_t cap, size_t *written,
                        splitee_error *err)
{
    splitee_wire_header h = { .type = type, .encoding = encoding, .version = SPLITEE_WIRE_VERSION,
                              .confidence = SPLITEE_CONFIDENCE_MAX_SOFTMAX, .id = id, .layer = layer };
    return splitee_wire_encode_frame(&h, body, len, out, cap, written, err);
}

/* The header of a reply of `type` to request `req`. */
static splitee_wire_header reply_header(const splitee_wire_header *req, splitee_wire_type type,
                                        splitee_confidence measure)
{
    splitee_wire_header h = { .type = type, .encoding = 0, .version = req->version,
                              .confidence = measure, .id = req->id, .layer = req->layer };
    return h;
}

int splitee_wire_encode_response(const splitee_wire_header *req, const splitee_wire_response *r,
                                 void *out, size_t cap, size_t *written, splitee_error *err)
{
    if (!req || !r)
        return splitee__fail(err, SPLITEE_ERR_ARG, "wire: NULL request or response");
    unsigned char b[SPLITEE_WIRE_RESPONSE_BODY];
    put_u32(b, r->prediction);
    put_u32(b + 4, r->exit);
    put_f64(b + 8, r->confidence);
    put_f64(b + 16, r->compute_us);
    splitee_wire_header h = reply_header(req, SPLITEE_WIRE_TYPE_RESPONSE, req->confidence);
    return splitee_wire_encode_frame(&h, b, sizeof b, out, cap, written, err);
}

int splitee_wire_encode_error(const splitee_wire_header *req, int status, const char *msg,
                              void *out, size_t cap, size_t *written, splitee_error *err)
{
    if (!req)
        return splitee__fail(err, SPLITEE_ERR_ARG, "wire: NULL request");
    unsigned char b[4 + SPLITEE_WIRE_MAX_ERROR_MSG];
    size_t n = msg ? strlen(msg) : 0;
    if (n > SPLITEE_WIRE_MAX_ERROR_MSG)
        n = SPLITEE_WIRE_MAX_ERROR_MSG;
    put_u32(b, (uint32_t)status);
    for (size_t i = 0; i < n; i++)
        b[4 + i] = (msg[i] == '\n' || msg[i] == '\r') ? ' ' : (unsigned char)msg[i];
    splitee_wire_header h = reply_header(req, SPLITEE_WIRE_TYPE_ERROR, SPLITEE_CONFIDENCE_MAX_SOFTMAX);
    return splitee_wire_encode_frame(&h, b, 4 + n, out, cap, written, err);
}

int splitee_wire_decode_header(const void *buf, size_t len, size_t max_body,
                               splitee_wire_header *hdr, splitee_error *err)
{
    const unsigned char *p = buf;
    if (len < SPLITEE_WIRE_HEADER_SIZE)
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "wire: truncated header: %zu of %d bytes",
                             len, SPLITEE_WIRE_HEADER_SIZE);
    if (memcmp(p, magic, 4) != 0)
        return splitee__fail(err, SPLITEE_ERR_FORMAT,
                             "wire: bad magic %02x %02x %02x %02x (expected \"SPLW\")",
                             p[0], p[1], p[2], p[3]);
    unsigned version = get_u16(p + 4);
    if (version < SPLITEE_WIRE_VERSION_MIN || version > SPLITEE_WIRE_VERSION)
        return splitee__fail(err, SPLITEE_ERR_UNSUPPORTED, "wire: version %u (this build speaks %d..%d)",
                             version, SPLITEE_WIRE_VERSION_MIN, SPLITEE_WIRE_VERSION);
    const int encoding = version < 2 ? p[7] : p[7] & 15, measure = version < 2 ? 0 : p[7] >> 4;
    int st = check_fields((int)version, p[6], encoding, measure, err);
    if (st < 0)
        return st;
    uint32_t length = get_u32(p + 16);
    if (max_body > SPLITEE_WIRE_MAX_BODY)
        max_body = SPLITEE_WIRE_MAX_BODY;
    if (length > max_body)
        return splitee__fail(err, SPLITEE_ERR_OVERFLOW,
                             "wire: oversized frame: body of %u bytes, at most %zu accepted",
                             (unsigned)length, max_body);
    hdr->type = (splitee_wire_type)p[6];
    hdr->encoding = encoding;
    hdr->version = (int)version;
    hdr->confidence = (splitee_confidence)measure;
    hdr->id = get_u32(p + 8);
    hdr->layer = get_u32(p + 12);
    hdr->length = length;
    hdr->crc = get_u32(p + 20);
    return 0;
}

int splitee_wire_decode_response(const void *body, size_t len, splitee_wire_response *r,
                                 splitee_error *err)
{
    const unsigned char *p = body;
    if (len != SPLITEE_WIRE_RESPONSE_BODY)
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "wire: response body of %zu bytes (expected %d)",
                             len, SPLITEE_WIRE_RESPONSE_BODY);
    double c = get_f64(p + 8), t = get_f64(p + 16);
    if (!(c >= 0.0 && c <= 1.0))
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "wire: response confidence %g outside [0, 1]", c);
    if (!(t >= 0.0) || !isfinite(t))
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "wire: response compute time %g us", t);
    r->prediction = get_u32(p);
    r->exit = get_u32(p + 4);
    r->confidence = c;
    r->compute_us = t;
    return 0;
}

int splitee_wire_decode_error(const void *body, size_t len, int *status, char *msg, size_t cap,
                              splitee_error *err)
{
    const unsigned char *p = body;
    if (len < 4)
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "wire: error body of %zu bytes (at least 4)", len);
    if (len - 4 > SPLITEE_WIRE_MAX_ERROR_MSG)
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "wire: error message of %zu bytes (at most %d)",
                             len - 4, SPLITEE_WIRE_MAX_ERROR_MSG);
    int32_t s = (int32_t)get_u32(p);
    if (status)
        *status = s < 0 ? s : SPLITEE_ERR_FORMAT;
    if (msg && cap) {
        size_t n = len - 4 < cap - 1 ? len - 4 : cap - 1;
        for (size_t i = 0; i < n; i++)
            msg[i] = (p[4 + i] < 0x20) ? ' ' : (char)p[4 + i];
        msg[n] = '\0';
    }
    return 0;
}

/* ---- the incremental parser ----------------------------------------------- */

int splitee_wire_parser_create(size_t max_frame, splitee_wire_parser **out, splitee_error *err)
{
    *out = NULL;
    if (max_frame < SPLITEE_WIRE_HEADER_SIZE ||
        max_frame > (size_t)SPLITEE_WIRE_HEADER_SIZE + SPLITEE_WIRE_MAX_BODY)
        return splitee__fail(err, SPLITEE_ERR_ARG, "wire: max frame of %zu bytes (%d..%u)", max_frame,
                             SPLITEE_WIRE_HEADER_SIZE, SPLITEE_WIRE_HEADER_SIZE + SPLITEE_WIRE_MAX_BODY);
    splitee_wire_parser *p = calloc(1, sizeof *p);
    if (p)
        p->buf = malloc(max_frame);
    if (!p || !p->buf) {
        free(p);
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "wire: out of memory for a %zu-byte parser",
                             max_frame);
    }
    p->cap = max_frame;
    *out = p;
    return 0;
}

void splitee_wire_parser_free(splitee_wire_parser *p)
{
    if (!p)
        return;
    free(p->buf);
    free(p);
}

void splitee_wire_parser_reset(splitee_wire_parser *p)
{
    p->start = p->end = p->taken = 0;
    p->error.status = 0;
    p->error.msg[0] = '\0';
}

/* Drops the frame handed out last. */
static void consume(splitee_wire_parser *p)
{
    p->start += p->taken;
    p->taken = 0;
    if (p->start == p->end)
        p->start = p->end = 0;
}

void *splitee_wire_parser_space(splitee_wire_parser *p, size_t *room)
{
    consume(p);
    if (p->end == p->cap && p->start > 0) {
        memmove(p->buf, p->buf + p->start, p->end - p->start);
        p->end -= p->start;
        p->start = 0;
    }
    *room = p->cap - p->end;
    return p->buf + p->end;
}

void splitee_wire_parser_commit(splitee_wire_parser *p, size_t n)
{
    if (n > p->cap - p->end)
        n = p->cap - p->end;
    p->end += n;
}

size_t splitee_wire_parser_feed(splitee_wire_parser *p, const void *data, size_t len)
{
    size_t room;
    void *dst = splitee_wire_parser_space(p, &room);
    size_t n = len < room ? len : room;
    if (n)
        memcpy(dst, data, n);
    splitee_wire_parser_commit(p, n);
    return n;
}

static int sticky(splitee_wire_parser *p, splitee_error *err)
{
    if (err)
        *err = p->error;
    return p->error.status;
}

int splitee_wire_parser_next(splitee_wire_parser *p, splitee_wire_frame *f, splitee_error *err)
{
    if (p->error.status)
        return sticky(p, err);
    consume(p);
    size_t have = p->end - p->start;
    if (have < SPLITEE_WIRE_HEADER_SIZE) {
        /* A bad magic is reported as soon as its bytes are in. */
        size_t n = have < 4 ? have : 4;
        if (n && memcmp(p->buf + p->start, magic, n) != 0) {
            unsigned char m[4] = { 0, 0, 0, 0 };
            memcpy(m, p->buf + p->start, n);
            splitee__fail(&p->error, SPLITEE_ERR_FORMAT,
                          "wire: bad magic %02x %02x %02x %02x (expected \"SPLW\")", m[0], m[1],
                          m[2], m[3]);
            return sticky(p, err);
        }
        return 0;
    }
    splitee_wire_header h;
    if (splitee_wire_decode_header(p->buf + p->start, have, p->cap - SPLITEE_WIRE_HEADER_SIZE, &h,
                                   &p->error) < 0)
        return sticky(p, err);
    if (have < SPLITEE_WIRE_HEADER_SIZE + (size_t)h.length)
        return 0;
    const unsigned char *body = p->buf + p->start + SPLITEE_WIRE_HEADER_SIZE;
    uint32_t c = splitee_wire_crc32(body, h.length);
    if (c != h.crc) {
        splitee__fail(&p->error, SPLITEE_ERR_FORMAT,
                      "wire: checksum mismatch in %s %u: body crc32 %08x, header says %08x",
                      splitee_wire_type_name(h.type), (unsigned)h.id, (unsigned)c, (unsigned)h.crc);
        return sticky(p, err);
    }
    f->hdr = h;
    f->body = body;
    p->taken = SPLITEE_WIRE_HEADER_SIZE + (size_t)h.length;
    return 1;
}

int splitee_wire_parser_eof(splitee_wire_parser *p, splitee_error *err)
{
    if (p->error.status)
        return sticky(p, err);
    consume(p);
    size_t have = p->end - p->start;
    if (have == 0)
        return 0;
    size_t want = SPLITEE_WIRE_HEADER_SIZE;
    if (have >= SPLITEE_WIRE_HEADER_SIZE)
        want += get_u32(p->buf + p->start + 16);
    splitee__fail(&p->error, SPLITEE_ERR_FORMAT, "wire: truncated frame at end of stream: %zu of %zu bytes",
                  have, want);
    return sticky(p, err);
}

size_t splitee_wire_parser_pending(const splitee_wire_parser *p)
{
    return p->end - p->start - p->taken;
}
