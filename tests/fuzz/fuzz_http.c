/* fuzz_http.c -- libFuzzer target: the request head reader of the cloud's
 * Prometheus metrics endpoint (src/live/metrics.c: splitee__http_head_whole,
 * splitee__http_request; `splitee cloud --metrics`), fed the way cloud.c's
 * http_step feeds it: bytes arrive in reads of a chosen size into a buffer
 * of SPLITEE__HTTP_HEAD_MAX bytes, the blank-line scan resumes 3 bytes
 * before the old end, and the head is answered once it is whole or the
 * buffer is full.
 *
 * Input: byte 0 the read size - 1 (1..256), then the bytes a client sends.
 * Checks, against naive references: the incremental scan finds the end of
 * the head exactly when a whole-buffer search for "\n\n" or "\r\n\r\n"
 * does, at the same read; the answer is 431 exactly when the buffer filled
 * without one; 200 only for a first line "GET /metrics" or "HEAD
 * /metrics" (a query string allowed) with HTTP/1.0 or 1.1; head_only only
 * for HEAD; 405 only for a well-formed line with another method; the
 * answer depends only on the bytes up to the end of the head. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzutil.h"
#include "live/metrics.h"

static int naive_whole(const char *in, size_t len)
{
    return memmem(in, len, "\n\n", 2) || memmem(in, len, "\r\n\r\n", 4);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t chunk = (size_t)data[0] + 1;
    data++;
    size--;
    char *in = malloc(SPLITEE__HTTP_HEAD_MAX);   /* exact size: ASan sees a read past it */
    if (!in)
        abort();
    size_t len = 0, off = 0;
    int answered = 0, whole = 0;
    while (off < size && !answered) {
        size_t n = size - off;
        if (n > chunk)
            n = chunk;
        if (n > SPLITEE__HTTP_HEAD_MAX - len)
            n = SPLITEE__HTTP_HEAD_MAX - len;
        size_t from = len > 3 ? len - 3 : 0;
        memcpy(in + len, data + off, n);
        len += n;
        off += n;
        whole = splitee__http_head_whole(in, from, len);
        if (whole != naive_whole(in, len))
            abort();   /* the resumed scan missed (or invented) the blank line */
        answered = whole || len == SPLITEE__HTTP_HEAD_MAX;
    }
    if (answered) {
        int head_only = -1;
        splitee__http_code code = splitee__http_request(in, len, whole, &head_only);
        if ((int)code < 0 || code > SPLITEE__HTTP_TOO_LARGE || (head_only != 0 && head_only != 1))
            abort();
        if ((code == SPLITEE__HTTP_TOO_LARGE) != !whole)
            abort();
        /* the first two words of the first line (whitespace-separated, up
         * to a NUL), as a naive reference */
        const char *eol0 = memchr(in, '\n', len);
        size_t l0 = eol0 ? (size_t)(eol0 - in) : len;
        l0 = strnlen(in, l0);
        char w[2][300] = { "", "" };
        size_t p = 0;
        for (int k = 0; k < 2; k++) {
            while (p < l0 && isspace((unsigned char)in[p]))
                p++;
            size_t q = 0;
            while (p < l0 && !isspace((unsigned char)in[p]) && q < sizeof w[k] - 1)
                w[k][q++] = in[p++];
            w[k][q] = '\0';
        }
        int get = strcmp(w[0], "GET") == 0, head = strcmp(w[0], "HEAD") == 0;
        if (code == SPLITEE__HTTP_OK &&
            (!(get || head) || strncmp(w[1], "/metrics", 8) != 0 || (w[1][8] && w[1][8] != '?')))
            abort();
        if (head_only && !(head && (code == SPLITEE__HTTP_OK || code == SPLITEE__HTTP_NOT_FOUND)))
            abort();
        if (code == SPLITEE__HTTP_BAD_METHOD && (get || head))
            abort();
        /* bytes after the head's first line change nothing */
        const char *eol = memchr(in, '\n', len);
        if (whole && eol && (size_t)(eol - in) + 1 < len) {
            size_t keep = (size_t)(eol - in) + 1;
            char *cut = malloc(keep + 1);
            if (!cut)
                abort();
            memcpy(cut, in, keep);
            cut[keep] = '\n';
            int h2;
            if (splitee__http_request(cut, keep + 1, 1, &h2) != code || h2 != head_only)
                abort();
            free(cut);
        }
    }
    free(in);
    return 0;
}
