/* fuzz_frame.c -- libFuzzer target: the wire protocol's incremental parser
 * and body decoders (src/live/wire.c), as the cloud and the device run them on
 * bytes from the network.
 *
 * Input: byte 0 picks the read size (1..256) and byte 1 the parser's
 * max frame (24 + 16 * byte); the rest is the stream, fed in reads of that
 * size the way a socket delivers it. Checks: every frame handed out lies
 * inside the stream, its body's CRC-32 is the header's, its length is
 * within the limit, and re-encoding it gives back exactly the bytes it
 * came from; the parser either consumes the whole stream or stops on an
 * error whose message starts with "wire:", and stays stopped. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "splitee/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned char scratch[SPLITEE_WIRE_HEADER_SIZE + 24 + 16 * 255];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t chunk = (size_t)data[0] + 1;
    size_t max_frame = SPLITEE_WIRE_HEADER_SIZE + 16 * (size_t)data[1];
    const uint8_t *s = data + 2;
    size_t n = size - 2, off = 0, consumed = 0;
    splitee_wire_parser *p;
    if (splitee_wire_parser_create(max_frame, &p, NULL) < 0)
        abort();
    int failed = 0;
    while (!failed) {
        if (off < n) {
            size_t k = n - off < chunk ? n - off : chunk;
            off += splitee_wire_parser_feed(p, s + off, k);
        }
        splitee_wire_frame f;
        splitee_error err;
        int rc;
        while ((rc = splitee_wire_parser_next(p, &f, &err)) == 1) {
            size_t fl = SPLITEE_WIRE_HEADER_SIZE + (size_t)f.hdr.length;
            if (fl > max_frame || consumed + fl > off)
                abort();
            if (splitee_wire_crc32(f.body, f.hdr.length) != f.hdr.crc)
                abort();
            size_t w;
            if (splitee_wire_encode_frame(&f.hdr, f.body, f.hdr.length, scratch, sizeof scratch,
                                          &w, NULL) < 0 ||
                w != fl || memcmp(scratch, s + consumed, fl) != 0)
                abort();
            consumed += fl;
            if (f.hdr.type == SPLITEE_WIRE_TYPE_RESPONSE) {
                splitee_wire_response r;
                if (splitee_wire_decode_response(f.body, f.hdr.length, &r, NULL) == 0 &&
                    !(r.confidence >= 0 && r.confidence <= 1))
                    abort();
            } else if (f.hdr.type == SPLITEE_WIRE_TYPE_ERROR) {
                char msg[SPLITEE_WIRE_MAX_ERROR_MSG + 1];
                int st;
                if (splitee_wire_decode_error(f.body, f.hdr.length, &st, msg, sizeof msg, NULL) == 0 &&
                    (st >= 0 || strlen(msg) > SPLITEE_WIRE_MAX_ERROR_MSG))
                    abort();
            }
        }
        if (rc < 0) {
            if (strncmp(err.msg, "wire:", 5) != 0 || splitee_wire_parser_next(p, &f, NULL) != rc)
                abort();
            failed = 1;
        } else if (off == n) {
            break;
        }
    }
    if (!failed) {
        splitee_error err;
        int rc = splitee_wire_parser_eof(p, &err);
        if ((rc == 0) != (consumed == n))
            abort();
    }
    splitee_wire_parser_free(p);
    return 0;
}
