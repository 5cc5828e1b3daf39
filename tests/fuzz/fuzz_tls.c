/* fuzz_tls.c -- libFuzzer target: the cloud's side of the TLS transport
 * (src/live/transport.c) and the wire parser over it, as the cloud runs
 * them on bytes from the network, over a socketpair with both ends
 * non-blocking.
 *
 * Input: byte 0 picks the mode.
 *   even: the rest is raw bytes from a would-be client (records, a
 *         ClientHello, garbage) followed by the end of the stream; the
 *         server's handshake must fail with a "tls handshake: " message
 *         (it cannot complete without a client that finishes) and never
 *         report success.
 *   odd:  a real client (the device's transport, with the same test
 *         certificate) completes the mutual handshake, then sends the rest
 *         after byte 1 as application data in writes of byte 1 + 1 bytes
 *         and closes; the server reads it through the transport into a
 *         wire parser in reads of the parser's free space, taking frames
 *         as the cloud does. Checks: the handshake completes on both
 *         sides; the bytes the server reads are exactly those sent, in
 *         order, until the parser refuses the stream (then its message
 *         starts with "wire:"); the end of stream arrives as 0.
 * The certificate (self-signed, EC P-256, its own CA) is made once at
 * start-up with the OpenSSL API and written to scratch files. */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzzutil.h"
#include "live/transport.h"
#include "splitee/wire.h"

static splitee__tls_ctx *server_ctx, *client_ctx;
#define MAX_INPUT (1 << 16)

/* A PEM object as a scratch file. */
static const char *pem_file(int slot, EVP_PKEY *key, X509 *cert)
{
    BIO *b = BIO_new(BIO_s_mem());
    if (!b || (key ? PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL)
                   : PEM_write_bio_X509(b, cert)) != 1)
        abort();
    char *p;
    long n = BIO_get_mem_data(b, &p);
    const char *path = fz_write(slot, p, (size_t)n);
    BIO_free(b);
    return path;
}

static void setup(void)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    if (!key || !x)
        abort();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"fuzz", -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509_set_pubkey(x, key);
    if (X509_sign(x, key, EVP_sha256()) <= 0)
        abort();
    const char *cert = pem_file(0, NULL, x);
    const char *kf = pem_file(1, key, NULL);
    splitee_error e;
    if (splitee__tls_ctx_create(1, cert, kf, cert, &server_ctx, &e) < 0 ||
        splitee__tls_ctx_create(0, cert, kf, cert, &client_ctx, &e) < 0)
        abort();
    X509_free(x);
    EVP_PKEY_free(key);
}

/* Everything waiting at fd, discarded (the server's handshake records). */
static void drain(int fd)
{
    char b[4096];
    while (recv(fd, b, sizeof b, MSG_DONTWAIT) > 0) {
    }
}

static void raw_mode(const uint8_t *s, size_t n)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0)
        abort();
    size_t off = 0;
    while (off < n) {
        ssize_t k = send(sv[1], s + off, n - off, MSG_NOSIGNAL);
        if (k <= 0)
            break;                          /* a full socket buffer: the rest is cut */
        off += (size_t)k;
    }
    shutdown(sv[1], SHUT_WR);
    splitee__transport t;
    splitee_error e;
    if (splitee__transport_open(&t, sv[0], server_ctx, 1, NULL, &e) < 0)
        abort();
    for (int i = 0; i < 64; i++) {
        int h = t.ops->handshake(&t);
        if (h == 1)
            abort();                        /* no client finished: it cannot succeed */
        if (h == SPLITEE__IO_ERROR) {
            if (strncmp(t.why, "tls handshake: ", 15) != 0 || strchr(t.why, '\n'))
                abort();
            break;
        }
        drain(sv[1]);
    }
    t.ops->close(&t);
    close(sv[1]);
}

static void data_mode(size_t chunk, const uint8_t *s, size_t n)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0)
        abort();
    splitee__transport srv, cli;
    splitee_error e;
    if (splitee__transport_open(&srv, sv[0], server_ctx, 1, NULL, &e) < 0 ||
        splitee__transport_open(&cli, sv[1], client_ctx, 0, NULL, &e) < 0)
        abort();
    int sdone = 0, cdone = 0;
    for (int i = 0; i < 64 && !(sdone && cdone); i++) {
        if (!cdone && (cdone = cli.ops->handshake(&cli)) == SPLITEE__IO_ERROR)
            abort();
        if (!sdone && (sdone = srv.ops->handshake(&srv)) == SPLITEE__IO_ERROR)
            abort();
        cdone = cdone == 1;
        sdone = sdone == 1;
    }
    if (!sdone || !cdone)
        abort();
    splitee_wire_parser *p;
    if (splitee_wire_parser_create(SPLITEE_WIRE_HEADER_SIZE + 4096, &p, NULL) < 0)
        abort();
    size_t sent = 0, nread = 0;
    int refused = 0, eof = 0, closed = 0;
    for (int guard = 0; guard < 100000 && !refused && !eof; guard++) {
        if (sent < n) {
            size_t k = n - sent < chunk ? n - sent : chunk;
            ssize_t w = cli.ops->write(&cli, s + sent, k);
            if (w > 0)
                sent += (size_t)w;
            else if (w == SPLITEE__IO_ERROR)
                abort();
        } else if (!closed) {
            cli.ops->close(&cli);           /* close_notify, then the socket */
            closed = 1;
        }
        /* the server: read what fits, take every whole frame */
        for (;;) {
            size_t room;
            void *dst = splitee_wire_parser_space(p, &room);
            if (room == 0)
                abort();
            ssize_t k = srv.ops->read(&srv, dst, room);
            if (k == SPLITEE__IO_AGAIN)
                break;
            if (k == SPLITEE__IO_ERROR)
                abort();                    /* a sound client never causes one */
            if (k == 0) {
                eof = 1;
                break;
            }
            if (nread + (size_t)k > n || memcmp(dst, s + nread, (size_t)k) != 0)
                abort();                    /* not the bytes sent */
            nread += (size_t)k;
            splitee_wire_parser_commit(p, (size_t)k);
            splitee_wire_frame f;
            int rc;
            while ((rc = splitee_wire_parser_next(p, &f, &e)) == 1) {
            }
            if (rc < 0) {
                if (strncmp(e.msg, "wire:", 5) != 0)
                    abort();
                refused = 1;
                break;
            }
        }
    }
    if (!refused && (!eof || nread != n))
        abort();                            /* everything arrives, then the end */
    splitee_wire_parser_free(p);
    srv.ops->close(&srv);
    if (!closed)
        cli.ops->close(&cli);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!server_ctx)
        setup();
    if (size < 1 || size > MAX_INPUT)
        return 0;
    if (data[0] % 2 == 0)
        raw_mode(data + 1, size - 1);
    else if (size >= 2)
        data_mode((size_t)data[1] + 1, data + 2, size - 2);
    return 0;
}
