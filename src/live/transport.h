/* transport.h -- internal: the byte stream under the wire protocol (wire.h)
 * between a device and a cloud, plaintext TCP or TLS 1.3 (OpenSSL), behind
 * one function table so cloud.c and device.c never see which. Every call
 * is non-blocking: the caller waits for the direction in t->want (POLLIN or
 * POLLOUT) with its own poll/epoll and its own deadline, and calls again.
 *
 * TLS is mutual: a server context requires a client certificate signed by
 * its CA (SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT); a client
 * context verifies the server's certificate against its CA and the name or
 * IP address it dialled (SSL_set1_host / X509_VERIFY_PARAM_set1_ip_asc),
 * and presents its own certificate when it has one. TLS 1.3 only. The
 * server sends one session ticket after verifying the client, and a
 * client's handshake completes only when it arrives, so a refused client
 * certificate is a handshake error on the client too; tickets are never
 * used to resume (a reconnect does a full handshake: nothing is cached). */
#ifndef SPLITEE_LIVE_TRANSPORT_H
#define SPLITEE_LIVE_TRANSPORT_H

#include <stddef.h>
#include <sys/types.h>
#include "splitee/status.h"

/* Results of the calls below besides a byte count. */
#define SPLITEE__IO_AGAIN (-1)   /* would block: wait for t->want, call again */
#define SPLITEE__IO_ERROR (-2)   /* failed: t->why says why; only close is left */

typedef struct splitee__tls_ctx splitee__tls_ctx;   /* opaque: an SSL_CTX */
typedef struct splitee__transport splitee__transport;

typedef struct splitee__transport_ops {
    const char *name;                                   /* "plaintext", "tls" */
    /* 1: ready for data; AGAIN; ERROR. Plaintext: 1 at once. */
    int (*handshake)(splitee__transport *t);
    /* bytes read (> 0), 0 at the peer's end of stream, AGAIN or ERROR */
    ssize_t (*read)(splitee__transport *t, void *buf, size_t n);
    /* bytes written (> 0), AGAIN or ERROR. After AGAIN, the next write
     * must start with the same bytes (more may follow). */
    ssize_t (*write)(splitee__transport *t, const void *buf, size_t n);
    /* bytes already decrypted and waiting (readable without the socket) */
    size_t (*pending)(splitee__transport *t);
    /* 1 if the connection looks usable without blocking: no end of
     * stream, close_notify or error waiting; 0 if it is dead */
    int (*alive)(splitee__transport *t);
    /* sends close_notify when the session is sound (best effort, never
     * waits), frees the session and closes the socket */
    void (*close)(splitee__transport *t);
} splitee__transport_ops;

struct splitee__transport {
    const splitee__transport_ops *ops;
    int fd;                  /* the socket (non-blocking), -1 once closed */
    void *ssl;               /* SSL *, NULL for plaintext */
    short want;              /* after AGAIN: POLLIN or POLLOUT */
    int failed;              /* a fatal error was seen: no close_notify */
    char why[200];           /* after ERROR: one line, no newline */
};

/* Loads cert (PEM chain), key (PEM) and ca (PEM: the CA that must sign the
 * peer). server: 1 for the cloud (cert, key and ca required), 0 for a
 * device (ca required, cert and key both or neither). ARG (a missing
 * file), FORMAT (unreadable PEM, a key that does not match the
 * certificate), NOMEM; the message names the option (--tls-cert ...). */
int splitee__tls_ctx_create(int server, const char *cert, const char *key, const char *ca,
                            splitee__tls_ctx **out, splitee_error *err);
void splitee__tls_ctx_free(splitee__tls_ctx *ctx);

/* Wraps a connected non-blocking socket; the transport owns fd from here
 * on (close closes it, also on failure). tls NULL: plaintext. peer_name:
 * a client's expected server name or numeric address (verified), NULL on
 * the server. 0, or NOMEM/ARG with the socket closed. */
int splitee__transport_open(splitee__transport *t, int fd, splitee__tls_ctx *tls, int server,
                            const char *peer_name, splitee_error *err);

/* 1 if every address host resolves to is a loopback address (127/8, ::1,
 * ::ffff:127/104); 0 otherwise, also when it does not resolve. */
int splitee__host_is_loopback(const char *host);
/* 1 if the socket address is a loopback address. */
struct sockaddr;
int splitee__addr_is_loopback(const struct sockaddr *sa);

#endif
