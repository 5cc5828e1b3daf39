/* transport.c -- plaintext TCP and TLS 1.3 behind one function table
 * (transport.h). OpenSSL initialises itself on first use and frees its
 * global state at exit. Nothing here allocates per read or write: a TLS
 * session's buffers are allocated at its handshake and kept (no
 * SSL_MODE_RELEASE_BUFFERS). */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "core/internal.h"
#include "live/transport.h"

struct splitee__tls_ctx {
    SSL_CTX *ctx;
};

/* ---- plaintext ----------------------------------------------------------------- */

static void plain_fail(splitee__transport *t, const char *what, int e)
{
    t->failed = 1;
    snprintf(t->why, sizeof t->why, "%s: %s", what, strerror(e));
}

static int plain_handshake(splitee__transport *t)
{
    (void)t;
    return 1;
}

static ssize_t plain_read(splitee__transport *t, void *buf, size_t n)
{
    for (;;) {
        ssize_t k = recv(t->fd, buf, n, 0);
        if (k >= 0)
            return k;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            t->want = POLLIN;
            return SPLITEE__IO_AGAIN;
        }
        plain_fail(t, "recv", errno);
        return SPLITEE__IO_ERROR;
    }
}

static ssize_t plain_write(splitee__transport *t, const void *buf, size_t n)
{
    for (;;) {
        ssize_t k = send(t->fd, buf, n, MSG_NOSIGNAL);
        if (k > 0)
            return k;
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            t->want = POLLOUT;
            return SPLITEE__IO_AGAIN;
        }
        plain_fail(t, "send", k < 0 ? errno : EPIPE);
        return SPLITEE__IO_ERROR;
    }
}

static size_t plain_pending(splitee__transport *t)
{
    (void)t;
    return 0;
}

/* Bytes waiting (a late reply) mean the peer is alive; readable with
 * nothing to read means it closed. */
static int plain_alive(splitee__transport *t)
{
    struct pollfd pf = { t->fd, POLLIN, 0 };
    if (poll(&pf, 1, 0) != 1)
        return 1;
    char b;
    ssize_t k = recv(t->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return 1;
    return k > 0;
}

static void plain_close(splitee__transport *t)
{
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
}

static const splitee__transport_ops plain_ops = {
    "plaintext", plain_handshake, plain_read, plain_write, plain_pending, plain_alive, plain_close,
};

/* ---- TLS ------------------------------------------------------------------------ */

/* The oldest OpenSSL error of this thread's queue as text ("certificate
 * verify failed"), with the verification result when that is why, into
 * t->why after `what`. Empties the queue. */
static void tls_fail(splitee__transport *t, const char *what, int ssl_err, int ret)
{
    SSL *ssl = t->ssl;
    unsigned long e = ERR_get_error();
    char reason[160] = "";
    if (e) {
        const char *r = ERR_reason_error_string(e);
        if (r)
            snprintf(reason, sizeof reason, "%s", r);
        else
            ERR_error_string_n(e, reason, sizeof reason);
    } else if (ssl_err == SSL_ERROR_SYSCALL) {
        snprintf(reason, sizeof reason, "%s", ret == 0 || errno == 0 ? "the peer closed the connection"
                                                                      : strerror(errno));
    } else {
        snprintf(reason, sizeof reason, "error %d", ssl_err);
    }
    ERR_clear_error();
    long v = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
    if (v != X509_V_OK && strstr(reason, "certificate verify failed"))
        snprintf(t->why, sizeof t->why, "%s: %s: %s", what, reason, X509_verify_cert_error_string(v));
    else
        snprintf(t->why, sizeof t->why, "%s: %s", what, reason);
    t->failed = 1;
}

/* AGAIN (with t->want) for WANT_READ/WANT_WRITE, else ERROR with why. */
static int tls_status(splitee__transport *t, int ret, const char *what)
{
    int se = SSL_get_error(t->ssl, ret);
    if (se == SSL_ERROR_WANT_READ) {
        t->want = POLLIN;
        return SPLITEE__IO_AGAIN;
    }
    if (se == SSL_ERROR_WANT_WRITE) {
        t->want = POLLOUT;
        return SPLITEE__IO_AGAIN;
    }
    tls_fail(t, what, se, ret);
    return SPLITEE__IO_ERROR;
}

/* A client's handshake ends once the server has accepted its certificate:
 * in TLS 1.3 the client finishes first and the server's verdict (a
 * session ticket, which the server sends only after verifying the client,
 * or an alert) comes after. Waiting for it makes a refusal a handshake
 * error with the server's reason ("tlsv13 alert certificate required"),
 * not a reset on the first request. The ticket itself is never used. */
static int tls_handshake(splitee__transport *t)
{
    SSL *ssl = t->ssl;
    ERR_clear_error();
    int r = SSL_do_handshake(ssl);
    if (r != 1)
        return tls_status(t, r, "tls handshake");
    if (SSL_is_server(ssl) || SSL_SESSION_has_ticket(SSL_get0_session(ssl)))
        return 1;
    char b;
    r = SSL_peek(ssl, &b, 1);
    if (r > 0 || SSL_SESSION_has_ticket(SSL_get0_session(ssl)))
        return 1;                              /* data came first: accepted too */
    if (SSL_get_error(ssl, r) == SSL_ERROR_ZERO_RETURN) {
        ERR_clear_error();
        t->failed = 1;
        snprintf(t->why, sizeof t->why, "tls handshake: the server closed the connection");
        return SPLITEE__IO_ERROR;
    }
    return tls_status(t, r, "tls handshake");
}

static ssize_t tls_read(splitee__transport *t, void *buf, size_t n)
{
    ERR_clear_error();
    int r = SSL_read(t->ssl, buf, n > INT_MAX ? INT_MAX : (int)n);
    if (r > 0)
        return r;
    int se = SSL_get_error(t->ssl, r);
    if (se == SSL_ERROR_ZERO_RETURN)
        return 0;                              /* close_notify */
    return tls_status(t, r, "tls");
}

static ssize_t tls_write(splitee__transport *t, const void *buf, size_t n)
{
    ERR_clear_error();
    int r = SSL_write(t->ssl, buf, n > INT_MAX ? INT_MAX : (int)n);
    if (r > 0)
        return r;
    return tls_status(t, r, "tls");
}

static size_t tls_pending(splitee__transport *t)
{
    return (size_t)SSL_pending(t->ssl);
}

static int tls_alive(splitee__transport *t)
{
    if (SSL_pending(t->ssl) > 0)
        return 1;
    struct pollfd pf = { t->fd, POLLIN, 0 };
    if (poll(&pf, 1, 0) != 1)
        return 1;
    char b;
    ERR_clear_error();
    int r = SSL_peek(t->ssl, &b, 1);
    if (r > 0)
        return 1;
    int se = SSL_get_error(t->ssl, r);
    ERR_clear_error();
    if (se == SSL_ERROR_WANT_READ || se == SSL_ERROR_WANT_WRITE)
        return 1;                              /* a record that was not data */
    if (se != SSL_ERROR_ZERO_RETURN)
        t->failed = 1;
    return 0;
}

static void tls_close(splitee__transport *t)
{
    if (t->ssl) {
        if (!t->failed && SSL_is_init_finished((SSL *)t->ssl)) {
            ERR_clear_error();
            SSL_shutdown(t->ssl);              /* one close_notify; never waits for the reply */
        }
        ERR_clear_error();
        SSL_free(t->ssl);
        t->ssl = NULL;
    }
    plain_close(t);
}

static const splitee__transport_ops tls_ops = {
    "tls", tls_handshake, tls_read, tls_write, tls_pending, tls_alive, tls_close,
};

/* ---- a socket BIO that never raises SIGPIPE ------------------------------------------- */

/* OpenSSL's socket BIO writes with send(fd, ..., 0): a write to a peer
 * that has gone would kill a process that does not ignore SIGPIPE (a
 * library user's). This one is the same BIO with MSG_NOSIGNAL. */
static BIO_METHOD *nosig_method;
static pthread_once_t nosig_once = PTHREAD_ONCE_INIT;

static int nosig_write(BIO *b, const char *buf, int n)
{
    int fd = -1;
    BIO_get_fd(b, &fd);
    errno = 0;
    ssize_t k = send(fd, buf, (size_t)n, MSG_NOSIGNAL);
    BIO_clear_retry_flags(b);
    if (k <= 0 && BIO_sock_should_retry((int)k))
        BIO_set_retry_write(b);
    return (int)k;
}

static void nosig_free(void)
{
    BIO_meth_free(nosig_method);
}

static void nosig_init(void)
{
    const BIO_METHOD *sock = BIO_s_socket();
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
                                 "splitee socket");
    if (!m)
        return;
    BIO_meth_set_write(m, nosig_write);
    BIO_meth_set_read(m, BIO_meth_get_read(sock));
    BIO_meth_set_puts(m, BIO_meth_get_puts(sock));
    BIO_meth_set_ctrl(m, BIO_meth_get_ctrl(sock));
    BIO_meth_set_create(m, BIO_meth_get_create(sock));
    BIO_meth_set_destroy(m, BIO_meth_get_destroy(sock));
    nosig_method = m;
    atexit(nosig_free);
}

/* ---- contexts --------------------------------------------------------------------- */

/* ARG naming the option when path cannot be read. */
static int check_file(const char *opt, const char *path, splitee_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return splitee__fail(err, SPLITEE_ERR_ARG, "%s %s: %s", opt, path, strerror(errno));
    fclose(f);
    return 0;
}

static int ssl_fail(splitee_error *err, const char *opt, const char *path, const char *what)
{
    unsigned long e = ERR_get_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    ERR_clear_error();
    return splitee__fail(err, SPLITEE_ERR_FORMAT, "%s %s: %s (%s)", opt, path, what, r ? r : "OpenSSL");
}

void splitee__tls_ctx_free(splitee__tls_ctx *t)
{
    if (!t)
        return;
    SSL_CTX_free(t->ctx);
    free(t);
}

int splitee__tls_ctx_create(int server, const char *cert, const char *key, const char *ca,
                            splitee__tls_ctx **out, splitee_error *err)
{
    *out = NULL;
    if (!ca || (server && (!cert || !key)))
        return splitee__fail(err, SPLITEE_ERR_ARG, "TLS needs --tls-cert, --tls-key and --tls-ca%s",
                             server ? "" : " (a device: --tls-ca, and its certificate with "
                                           "--tls-cert/--tls-key)");
    if (!cert != !key)
        return splitee__fail(err, SPLITEE_ERR_ARG, "%s without %s", cert ? "--tls-cert" : "--tls-key",
                             cert ? "--tls-key" : "--tls-cert");
    int st = check_file("--tls-ca", ca, err);
    if (st == 0 && cert)
        st = check_file("--tls-cert", cert, err);
    if (st == 0 && key)
        st = check_file("--tls-key", key, err);
    if (st < 0)
        return st;
    splitee__tls_ctx *t = calloc(1, sizeof *t);
    if (!t)
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "tls: out of memory");
    ERR_clear_error();
    t->ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!t->ctx) {
        free(t);
        ERR_clear_error();
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "tls: cannot create a context");
    }
    SSL_CTX *c = t->ctx;
    SSL_CTX_set_min_proto_version(c, TLS1_3_VERSION);
    SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION);
    /* Partial writes and a moving buffer: the cloud's output buffer is
     * compacted between a write that would block and its retry. */
    SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(c, SSL_OP_IGNORE_UNEXPECTED_EOF);
    /* one stateless ticket: the client's sign that its certificate was
     * accepted (tls_handshake); never resumed from */
    SSL_CTX_set_num_tickets(c, server ? 1 : 0);
    if (cert && SSL_CTX_use_certificate_chain_file(c, cert) != 1)
        st = ssl_fail(err, "--tls-cert", cert, "not a PEM certificate");
    else if (key && SSL_CTX_use_PrivateKey_file(c, key, SSL_FILETYPE_PEM) != 1)
        st = ssl_fail(err, "--tls-key", key,
                      ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH
                          ? "does not match --tls-cert" : "not a PEM private key");
    else if (key && SSL_CTX_check_private_key(c) != 1)
        st = ssl_fail(err, "--tls-key", key, "does not match --tls-cert");
    else if (SSL_CTX_load_verify_locations(c, ca, NULL) != 1)
        st = ssl_fail(err, "--tls-ca", ca, "not a PEM CA certificate");
    if (st == 0 && server) {
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ca);
        if (!names)
            st = ssl_fail(err, "--tls-ca", ca, "no CA certificate in it");
        else
            SSL_CTX_set_client_CA_list(c, names);
    }
    if (st < 0) {
        splitee__tls_ctx_free(t);
        return st;
    }
    SSL_CTX_set_verify(c, server ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT : SSL_VERIFY_PEER,
                       NULL);
    *out = t;
    return 0;
}

int splitee__transport_open(splitee__transport *t, int fd, splitee__tls_ctx *tls, int server,
                            const char *peer_name, splitee_error *err)
{
    memset(t, 0, sizeof *t);
    t->fd = fd;
    t->ops = &plain_ops;
    if (!tls)
        return 0;
    ERR_clear_error();
    pthread_once(&nosig_once, nosig_init);
    SSL *ssl = SSL_new(tls->ctx);
    BIO *bio = ssl && nosig_method ? BIO_new(nosig_method) : NULL;
    if (bio) {
        BIO_set_fd(bio, fd, BIO_NOCLOSE);
        SSL_set_bio(ssl, bio, bio);            /* the session owns the BIO */
    }
    if (!bio) {
        SSL_free(ssl);
        ERR_clear_error();
        plain_close(t);
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "tls: cannot create a session");
    }
    if (server) {
        SSL_set_accept_state(ssl);
    } else {
        SSL_set_connect_state(ssl);
        if (peer_name) {
            unsigned char ip[16];
            int numeric = inet_pton(AF_INET, peer_name, ip) == 1 || inet_pton(AF_INET6, peer_name, ip) == 1;
            int ok = numeric ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), peer_name)
                             : SSL_set1_host(ssl, peer_name) && SSL_set_tlsext_host_name(ssl, peer_name);
            if (ok != 1) {
                SSL_free(ssl);
                ERR_clear_error();
                plain_close(t);
                return splitee__fail(err, SPLITEE_ERR_ARG, "tls: cannot verify the name '%s'", peer_name);
            }
        }
    }
    t->ssl = ssl;
    t->ops = &tls_ops;
    return 0;
}

/* ---- loopback ---------------------------------------------------------------------- */

int splitee__addr_is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(a))
            return 1;
        return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
    }
    return 0;
}

int splitee__host_is_loopback(const char *host)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (!host || getaddrinfo(host, NULL, &hints, &res) != 0)
        return 0;
    int all = res != NULL;
    for (struct addrinfo *a = res; a; a = a->ai_next)
        all = all && splitee__addr_is_loopback(a->ai_addr);
    freeaddrinfo(res);
    return all;
}
