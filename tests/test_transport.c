/* test_transport.c -- Criterion tests for the transport under the wire
 * protocol (src/live/transport.h) with the test PKI of tools/certs.sh:
 * a mutual TLS 1.3 handshake between non-blocking ends completes; a
 * record read in part leaves the rest pending; 1 MiB written in partial
 * writes whose unsent bytes move between retries (what the cloud's output
 * buffer does when it compacts) arrives intact and in order; a client
 * without a certificate fails the handshake on both sides with the
 * reason; a client refuses a server certificate for another address; bad
 * certificate files are refused naming the option; the loopback test used
 * for the plaintext rule; a cloud refuses plaintext on an address that is
 * not loopback unless insecure_plaintext. */
#include <criterion/criterion.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "live/transport.h"
#include "splitee/splitee.h"
#include "testutil.h"

/* The test PKI in this process's scratch folder (made once). */
static const char *pki(const char *file)
{
    static char dir[512];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "%s/pki", tu_tmpdir());
        char cmd[700];
        snprintf(cmd, sizeof cmd, "../tools/certs.sh '%s' 1 2>/dev/null", dir);
        cr_assert_eq(system(cmd), 0, "tools/certs.sh failed");
    }
    static char paths[16][600];
    static int slot;
    char *p = paths[slot++ % 16];
    snprintf(p, 600, "%s/%s", dir, file);
    return p;
}

typedef struct pair {
    splitee__tls_ctx *sctx, *cctx;
    splitee__transport s, c;
} pair;

/* A server (cloud.pem, ca.pem) and a client (cert/key may be NULL,
 * verifying `name`) over a non-blocking socketpair. */
static void open_pair(pair *p, const char *ccert, const char *ckey, const char *name)
{
    splitee_error e;
    cr_assert_eq(splitee__tls_ctx_create(1, pki("cloud.pem"), pki("cloud.key"), pki("ca.pem"), &p->sctx, &e), 0,
                 "%s", e.msg);
    cr_assert_eq(splitee__tls_ctx_create(0, ccert, ckey, pki("ca.pem"), &p->cctx, &e), 0, "%s", e.msg);
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    cr_assert_eq(splitee__transport_open(&p->s, sv[0], p->sctx, 1, NULL, &e), 0);
    cr_assert_eq(splitee__transport_open(&p->c, sv[1], p->cctx, 0, name, &e), 0);
}

static void close_pair(pair *p)
{
    p->s.ops->close(&p->s);
    p->c.ops->close(&p->c);
    splitee__tls_ctx_free(p->sctx);
    splitee__tls_ctx_free(p->cctx);
}

/* Steps both handshakes until each is done or failed: 1 done, -2 failed. */
static void handshake(pair *p, int *sr, int *cr)
{
    *sr = *cr = SPLITEE__IO_AGAIN;
    for (int i = 0; i < 100 && (*sr == SPLITEE__IO_AGAIN || *cr == SPLITEE__IO_AGAIN); i++) {
        if (*cr == SPLITEE__IO_AGAIN)
            *cr = p->c.ops->handshake(&p->c);
        if (*sr == SPLITEE__IO_AGAIN)
            *sr = p->s.ops->handshake(&p->s);
    }
}

Test(transport, mutual_tls_moves_1_MiB_through_partial_writes_of_a_moving_buffer)
{
    pair p;
    open_pair(&p, pki("device-1.pem"), pki("device-1.key"), "127.0.0.1");
    cr_assert_str_eq(p.s.ops->name, "tls");
    int sr, cr;
    handshake(&p, &sr, &cr);
    cr_assert_eq(sr, 1, "server: %s", p.s.why);
    cr_assert_eq(cr, 1, "client: %s", p.c.why);
    /* a record read in part: the rest is pending, readable without the socket */
    unsigned char small[100], back[100];
    memset(small, 7, sizeof small);
    cr_assert_eq(p.s.ops->write(&p.s, small, sizeof small), 100);
    struct pollfd pw = { p.c.fd, POLLIN, 0 };
    poll(&pw, 1, 1000);
    cr_assert_eq(p.c.ops->read(&p.c, back, 10), 10);
    cr_assert_eq(p.c.ops->pending(&p.c), 90);
    cr_assert_eq(p.c.ops->read(&p.c, back + 10, 90), 90);
    cr_assert_eq(p.c.ops->pending(&p.c), 0);
    cr_assert(memcmp(small, back, 100) == 0);
    const size_t total = 1 << 20;
    unsigned char *src = malloc(total), *dst = malloc(total), *out = malloc(8192);
    for (size_t i = 0; i < total; i++)
        src[i] = (unsigned char)(i * 2654435761u >> 13);
    /* the server's output buffer: out[start, end) unsent; after a write that
     * would block, the unsent bytes move to the front and more are appended */
    size_t queued = 0, start = 0, end = 0, got = 0;
    int blocked = 0;
    for (int guard = 0; got < total && guard < 1000000; guard++) {
        if (start > 0) {
            memmove(out, out + start, end - start);
            end -= start;
            start = 0;
        }
        size_t add = total - queued < 8192 - end ? total - queued : 8192 - end;
        memcpy(out + end, src + queued, add);
        end += add;
        queued += add;
        int wait = 0;
        if (end > start) {
            ssize_t w = p.s.ops->write(&p.s, out + start, end - start);
            cr_assert(w > 0 || w == SPLITEE__IO_AGAIN, "write: %s", p.s.why);
            if (w > 0)
                start += (size_t)w;
            else
                blocked++, wait = 1;
        }
        if (!wait && queued < total)
            continue;                       /* the client reads only once the socket is full */
        ssize_t r;
        while ((r = p.c.ops->read(&p.c, dst + got, total - got < 3000 ? total - got : 3000)) > 0)
            got += (size_t)r;
        cr_assert_eq(r == SPLITEE__IO_AGAIN || got == total, 1, "read: %s", p.c.why);
    }
    cr_assert_eq(got, total);
    cr_assert(memcmp(src, dst, total) == 0, "bytes differ");
    cr_assert_gt(blocked, 0, "the socket never filled: the retry path was not taken");
    /* close_notify: the client's next read is the end of the stream */
    p.s.ops->close(&p.s);
    struct pollfd pf = { p.c.fd, POLLIN, 0 };
    poll(&pf, 1, 1000);
    cr_assert_eq(p.c.ops->alive(&p.c), 0);
    cr_assert_eq(p.c.ops->read(&p.c, dst, 1), 0);
    p.c.ops->close(&p.c);
    splitee__tls_ctx_free(p.sctx);
    splitee__tls_ctx_free(p.cctx);
    free(src);
    free(dst);
    free(out);
}

Test(transport, a_client_without_a_certificate_fails_on_both_sides_with_the_reason)
{
    pair p;
    open_pair(&p, NULL, NULL, "127.0.0.1");
    int sr, cr;
    handshake(&p, &sr, &cr);
    cr_assert_eq(sr, SPLITEE__IO_ERROR);
    cr_assert_str_eq(p.s.why, "tls handshake: peer did not return a certificate");
    cr_assert_eq(cr, SPLITEE__IO_ERROR);
    cr_assert_str_eq(p.c.why, "tls handshake: tlsv13 alert certificate required");
    close_pair(&p);
}

Test(transport, a_client_refuses_a_certificate_for_another_address)
{
    pair p;
    open_pair(&p, pki("device-1.pem"), pki("device-1.key"), "127.0.0.2");
    int sr, cr;
    handshake(&p, &sr, &cr);
    cr_assert_eq(cr, SPLITEE__IO_ERROR);
    cr_assert_str_eq(p.c.why, "tls handshake: certificate verify failed: IP address mismatch");
    cr_assert_eq(sr, SPLITEE__IO_ERROR);
    close_pair(&p);
    open_pair(&p, pki("device-1.pem"), pki("device-1.key"), "localhost");
    handshake(&p, &sr, &cr);
    cr_assert_eq(cr, 1, "%s", p.c.why);     /* DNS:localhost is in the certificate */
    close_pair(&p);
}

Test(transport, bad_certificate_files_are_refused_naming_the_option)
{
    splitee__tls_ctx *t = NULL;
    splitee_error e;
    cr_assert_eq(splitee__tls_ctx_create(1, pki("cloud.pem"), pki("cloud.key"), NULL, &t, &e), SPLITEE_ERR_ARG);
    cr_assert_eq(splitee__tls_ctx_create(0, pki("device-1.pem"), NULL, pki("ca.pem"), &t, &e), SPLITEE_ERR_ARG);
    cr_assert_str_eq(e.msg, "--tls-cert without --tls-key");
    cr_assert_eq(splitee__tls_ctx_create(1, pki("cloud.pem"), pki("cloud.key"), "/nonexistent/ca.pem", &t, &e),
                 SPLITEE_ERR_ARG);
    cr_assert_str_eq(e.msg, "--tls-ca /nonexistent/ca.pem: No such file or directory");
    cr_assert_eq(splitee__tls_ctx_create(1, pki("cloud.pem"), pki("device-1.key"), pki("ca.pem"), &t, &e),
                 SPLITEE_ERR_FORMAT);
    cr_assert(strstr(e.msg, "--tls-key ") && strstr(e.msg, "does not match --tls-cert"), "%s", e.msg);
    const char *junk = tu_write_str("junk.pem", "not a certificate\n");
    cr_assert_eq(splitee__tls_ctx_create(1, junk, pki("cloud.key"), pki("ca.pem"), &t, &e), SPLITEE_ERR_FORMAT);
    cr_assert(strstr(e.msg, "--tls-cert ") && strstr(e.msg, "not a PEM certificate"), "%s", e.msg);
    cr_assert_eq(splitee__tls_ctx_create(0, NULL, NULL, junk, &t, &e), SPLITEE_ERR_FORMAT);
    cr_assert(strstr(e.msg, "--tls-ca ") && strstr(e.msg, "not a PEM CA certificate"), "%s", e.msg);
    cr_assert_null(t);
}

Test(transport, loopback_addresses)
{
    cr_assert_eq(splitee__host_is_loopback("127.0.0.1"), 1);
    cr_assert_eq(splitee__host_is_loopback("127.8.9.10"), 1);
    cr_assert_eq(splitee__host_is_loopback("::1"), 1);
    cr_assert_eq(splitee__host_is_loopback("::ffff:127.0.0.1"), 1);
    cr_assert_eq(splitee__host_is_loopback("localhost"), 1);
    cr_assert_eq(splitee__host_is_loopback("0.0.0.0"), 0);
    cr_assert_eq(splitee__host_is_loopback("::"), 0);
    cr_assert_eq(splitee__host_is_loopback("192.0.2.1"), 0);
    cr_assert_eq(splitee__host_is_loopback("128.0.0.1"), 0);
    cr_assert_eq(splitee__host_is_loopback(NULL), 0);
}

Test(transport, a_cloud_refuses_plaintext_off_loopback_unless_insecure)
{
    splitee_model *m;
    splitee_error e;
    const char *dir = getenv("SPLITEE_TEST_MODEL") ? getenv("SPLITEE_TEST_MODEL") : "../data/model";
    cr_assert_eq(splitee_model_load(dir, &m, &e), 0, "%s", e.msg);
    splitee_cloud_config cc;
    splitee_cloud_config_default(&cc);
    cc.workers = 1;
    cc.host = "0.0.0.0";
    splitee_cloud *c = NULL;
    cr_assert_eq(splitee_cloud_create(m, &cc, &c, &e), SPLITEE_ERR_ARG);
    cr_assert(strstr(e.msg, "--listen 0.0.0.0: plaintext on an address that is not loopback"), "%s", e.msg);
    cr_assert_null(c);
    cc.insecure_plaintext = 1;
    cr_assert_eq(splitee_cloud_create(m, &cc, &c, &e), 0, "%s", e.msg);
    splitee_cloud_free(c);
    /* TLS on any address; some TLS files but not all are refused */
    cc.insecure_plaintext = 0;
    cc.tls_cert = pki("cloud.pem");
    cc.tls_key = pki("cloud.key");
    cc.tls_ca = pki("ca.pem");
    cr_assert_eq(splitee_cloud_create(m, &cc, &c, &e), 0, "%s", e.msg);
    splitee_cloud_free(c);
    cc.tls_ca = NULL;
    cr_assert_eq(splitee_cloud_create(m, &cc, &c, &e), SPLITEE_ERR_ARG);
    cr_assert_null(c);
    splitee_model_free(m);
}
