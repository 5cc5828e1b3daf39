/* wire.h -- the device <-> cloud wire protocol: a versioned binary framing
 * over a byte stream (TCP), and an incremental parser that turns the bytes
 * read from a socket into whole frames or a precise error.
 *
 * Every frame is a 24-byte header followed by `length` body bytes. All
 * fields are little-endian, SPLITEE_WIRE_HEADER_SIZE = 24:
 *   offset size  field
 *        0    4  magic "SPLW"
 *        4    2  version: 2 (SPLITEE_WIRE_VERSION, what this build writes)
 *                or 1 (SPLITEE_WIRE_VERSION_MIN, still read and answered)
 *        6    1  type: 1 request, 2 response, 3 error (splitee_wire_type)
 *        7    1  version 2: bits 0-3 the request body's payload encoding
 *                (splitee_payload_encoding: 0 f32, 1 f16, 2 int8; 0 in
 *                responses and errors), bits 4-7 the confidence measure
 *                (splitee_confidence, exit.h: 0 max-softmax, 1 entropy,
 *                2 margin): in a request the one the device's exit rule
 *                uses, in a response the one its confidence is under (the
 *                request's); 0 in errors.
 *                version 1: the encoding (0 in responses and errors); the
 *                measure is max-softmax
 *        8    4  request id: chosen by the device, echoed by the cloud
 *       12    4  split layer: layers the device ran (0..layers); echoed
 *       16    4  body length in bytes (at most SPLITEE_WIRE_MAX_BODY, and
 *                at most what the receiver's parser allows)
 *       20    4  CRC-32 (zlib's crc32, IEEE 802.3 polynomial) of the body
 *       24       body
 *
 * Bodies:
 *   request   an activation payload exactly as payload.h encodes it (its
 *             own header says the layer, encoding, tokens and dim; they
 *             must agree with the frame's layer and encoding)
 *   response  SPLITEE_WIRE_RESPONSE_BODY = 24 bytes:
 *               0  4  prediction: class index of the final exit (uint32)
 *               4  4  exit: 0-based exit that produced it (uint32, L-1)
 *               8  8  confidence of that exit (float64) under the
 *                     header's measure
 *              16  8  cloud compute time in microseconds (float64): decode
 *                     + remaining layers + exit head, excluding I/O
 *   error     4 bytes int32 splitee_status, then a UTF-8 one-line message
 *             (no NUL) of at most SPLITEE_WIRE_MAX_ERROR_MSG bytes
 *
 * A reply (response or error) is written in its request's version, so a
 * version-1 device is answered as before. A receiver that finds a bad
 * magic, version (3 or more), type, encoding or measure, an oversized
 * length, a checksum mismatch or a stream that ends inside a frame gives up
 * on the stream: framing cannot be recovered, so the connection is closed.
 * A version-1 receiver closes a version-2 stream the same way.
 *
 *     // device: send one payload, asking for the final exit's entropy
 *     unsigned char frame[SPLITEE_WIRE_HEADER_SIZE + 8192];
 *     size_t n;
 *     splitee_wire_header h = { .version = SPLITEE_WIRE_VERSION, .type = SPLITEE_WIRE_TYPE_REQUEST,
 *                               .encoding = SPLITEE_PAYLOAD_ENCODING_F16, .id = id, .layer = layer,
 *                               .confidence = SPLITEE_CONFIDENCE_ENTROPY };
 *     splitee_wire_encode_frame(&h, payload, payload_len, frame, sizeof frame, &n, &err);
 *     write_all(fd, frame, n);
 *     // either side: read whatever arrives, take out whole frames
 *     splitee_wire_parser *p;
 *     splitee_wire_parser_create(SPLITEE_WIRE_HEADER_SIZE + 8192, &p, &err);
 *     for (;;) {
 *         size_t room; void *dst = splitee_wire_parser_space(p, &room);
 *         ssize_t got = read(fd, dst, room);
 *         if (got == 0) { rc = splitee_wire_parser_eof(p, &err); break; }
 *         splitee_wire_parser_commit(p, (size_t)got);
 *         splitee_wire_frame f;
 *         while ((rc = splitee_wire_parser_next(p, &f, &err)) == 1)
 *             handle(&f);                       // f.body valid until next call
 *         if (rc < 0) { log(err.msg); close(fd); } // "wire: checksum mismatch ..."
 *     }
 */
#ifndef SPLITEE_WIRE_H
#define SPLITEE_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include "exit.h"
#include "payload.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SPLITEE_WIRE_HEADER_SIZE 24
#define SPLITEE_WIRE_VERSION 2                 /* the version this build writes */
#define SPLITEE_WIRE_VERSION_MIN 1             /* the oldest it reads and answers */
#define SPLITEE_WIRE_MAX_BODY (16u << 20)      /* 16 MiB: the protocol's limit */
#define SPLITEE_WIRE_RESPONSE_BODY 24
#define SPLITEE_WIRE_MAX_ERROR_MSG 256         /* bytes of an error message */

typedef enum splitee_wire_type {
    SPLITEE_WIRE_TYPE_REQUEST = 1,  /* device -> cloud: an activation payload */
    SPLITEE_WIRE_TYPE_RESPONSE = 2, /* cloud -> device: the final prediction */
    SPLITEE_WIRE_TYPE_ERROR = 3     /* cloud -> device: the request was refused */
} splitee_wire_type;

/* A frame's header fields. */
typedef struct splitee_wire_header {
    splitee_wire_type type;
    int encoding;        /* splitee_payload_encoding of a request body; 0 otherwise */
    int version;         /* SPLITEE_WIRE_VERSION_MIN..SPLITEE_WIRE_VERSION */
    splitee_confidence confidence; /* request: the measure asked for; response:
                                      the measure of its confidence; error:
                                      max-softmax (0); version 1: max-softmax */
    uint32_t id;         /* request id */
    uint32_t layer;      /* split layer (layers run on the device) */
    uint32_t length;     /* body bytes */
    uint32_t crc;        /* CRC-32 of the body */
} splitee_wire_header;

/* A whole frame as the parser yields it. */
typedef struct splitee_wire_frame {
    splitee_wire_header hdr;
    const unsigned char *body; /* hdr.length bytes, inside the parser's buffer */
} splitee_wire_frame;

/* The decoded body of a response. */
typedef struct splitee_wire_response {
    uint32_t prediction;  /* class index */
    uint32_t exit;        /* 0-based exit that produced it */
    double confidence;    /* of that exit under the frame's measure, in [0, 1] */
    double compute_us;    /* cloud compute time in microseconds */
} splitee_wire_response;

/* "request", "response", "error" (NULL for another value). */
const char *splitee_wire_type_name(int type);

/* CRC-32 of len bytes (zlib's crc32, starting from 0). */
uint32_t splitee_wire_crc32(const void *data, size_t len);

/* Writes a frame with h's version, type, encoding, confidence, id and
 * layer (h->length and h->crc are computed, not read) and a copy of
 * `body` (len bytes) into out[0..cap); *written (may be NULL) gets
 * SPLITEE_WIRE_HEADER_SIZE + len. ARG for a version outside
 * SPLITEE_WIRE_VERSION_MIN..SPLITEE_WIRE_VERSION, an unknown type, an
 * encoding outside 0..2 in a request (nonzero otherwise), an unknown
 * measure (any but max-softmax in version 1 or in an error), a NULL body
 * with len > 0 or len > SPLITEE_WIRE_MAX_BODY; OVERFLOW if cap is too
 * small. Nothing is allocated. `body` and `out` must not overlap. */
int splitee_wire_encode_frame(const splitee_wire_header *h, const void *body, size_t len,
                              void *out, size_t cap, size_t *written, splitee_error *err);

/* splitee_wire_encode_frame in SPLITEE_WIRE_VERSION with the measure
 * max-softmax. */
int splitee_wire_encode(splitee_wire_type type, int encoding, uint32_t id, uint32_t layer,
                        const void *body, size_t len, void *out, size_t cap, size_t *written,
                        splitee_error *err);

/* Writes a response frame (SPLITEE_WIRE_HEADER_SIZE +
 * SPLITEE_WIRE_RESPONSE_BODY bytes) answering request `req`: its version,
 * id, layer and measure (r->confidence must be under req->confidence). */
int splitee_wire_encode_response(const splitee_wire_header *req, const splitee_wire_response *r,
                                 void *out, size_t cap, size_t *written, splitee_error *err);

/* Writes an error frame answering request `req` (its version, id and
 * layer): `status` and `msg` (truncated to SPLITEE_WIRE_MAX_ERROR_MSG
 * bytes; newlines become spaces). */
int splitee_wire_encode_error(const splitee_wire_header *req, int status, const char *msg,
                              void *out, size_t cap, size_t *written, splitee_error *err);

/* Decodes and checks a 24-byte header at buf (len >= 24, else FORMAT
 * "truncated"). FORMAT for bad magic, an unknown type, encoding or
 * measure, or a nonzero encoding in a non-request (a nonzero measure in an
 * error), OVERFLOW for a length above `max_body` (or
 * SPLITEE_WIRE_MAX_BODY), UNSUPPORTED for a version outside
 * SPLITEE_WIRE_VERSION_MIN..SPLITEE_WIRE_VERSION. Messages start with
 * "wire:". The checksum is not checked (the body is not here). */
int splitee_wire_decode_header(const void *buf, size_t len, size_t max_body,
                               splitee_wire_header *hdr, splitee_error *err);

/* Decodes a response body (FORMAT unless len == SPLITEE_WIRE_RESPONSE_BODY,
 * or the confidence is not a number in [0, 1], or the time is negative or
 * not finite). */
int splitee_wire_decode_response(const void *body, size_t len, splitee_wire_response *r,
                                 splitee_error *err);

/* Decodes an error body: *status gets the status (forced negative), msg
 * (cap bytes, NUL-terminated) the message. FORMAT for a body under 4 bytes
 * or a message over SPLITEE_WIRE_MAX_ERROR_MSG. */
int splitee_wire_decode_error(const void *body, size_t len, int *status, char *msg,
                              size_t cap, splitee_error *err);

typedef struct splitee_wire_parser splitee_wire_parser; /* opaque */

/* Creates a parser that accepts frames of at most `max_frame` bytes
 * (header included, >= SPLITEE_WIRE_HEADER_SIZE; a larger announced
 * length is an OVERFLOW error). Its buffer (max_frame bytes) is allocated
 * here, once. ARG, NOMEM. */
int splitee_wire_parser_create(size_t max_frame, splitee_wire_parser **out, splitee_error *err);

/* Frees the parser. NULL is a no-op. */
void splitee_wire_parser_free(splitee_wire_parser *p);

/* Forgets buffered bytes and any error (for a new connection). */
void splitee_wire_parser_reset(splitee_wire_parser *p);

/* Where the next bytes read from the stream go: returns a pointer and sets
 * *room (> 0 unless a whole max_frame is buffered and not yet taken out
 * with splitee_wire_parser_next). Moves buffered bytes to the front first
 * when that makes room. */
void *splitee_wire_parser_space(splitee_wire_parser *p, size_t *room);

/* Records that n (<= room) bytes were written at the space pointer. */
void splitee_wire_parser_commit(splitee_wire_parser *p, size_t n);

/* Copies up to len bytes from data into the parser (space + commit in
 * one call); returns how many were taken (less than len when full). */
size_t splitee_wire_parser_feed(splitee_wire_parser *p, const void *data, size_t len);

/* Takes out the next whole frame: returns 1 and fills *f (its body stays
 * valid until the next call on the parser), 0 when more bytes are needed,
 * or a negative status with a "wire: ..." message: FORMAT (bad magic,
 * type, encoding, measure), UNSUPPORTED (version), OVERFLOW (length above the
 * parser's max_frame), FORMAT "checksum mismatch". An error is sticky:
 * every later call returns it again. */
int splitee_wire_parser_next(splitee_wire_parser *p, splitee_wire_frame *f, splitee_error *err);

/* The stream ended: 0 if it ended between frames, else FORMAT "truncated
 * frame: N of M bytes" (or the sticky error). */
int splitee_wire_parser_eof(splitee_wire_parser *p, splitee_error *err);

/* Bytes buffered and not yet taken out. */
size_t splitee_wire_parser_pending(const splitee_wire_parser *p);

#ifdef __cplusplus
}
#endif
#endif
