/* bench_cloud.c -- live split computing speed on loopback (docs/LIVE.md):
 *   1. cloud throughput, requests/s, with 1, 8 and 64 concurrent devices
 *      (client threads, each a blocking TCP connection sending real f32
 *      payloads one at a time and waiting for each reply), at split
 *      layers 1 (11 layers left to the cloud) and 6;
 *   2. device end-to-end latency p50/p99 per split layer: a real device
 *      (splitee_device_step, policy fixed:K, alpha 1) against the cloud,
 *      device engine + payload + network + cloud, per offloaded sample;
 *   3. the controller's per-round overhead in a tight loop: choose +
 *      observe (SplitEE and SplitEE-S, 12 arms) with recorded confidences.
 *
 *   build/bench/bench_cloud [--workers N] [--seconds S] [--model DIR] [--images IDX]
 *   build/bench/bench_cloud --tls DIR [--workers N] [--seconds S] ...
 *
 * --tls DIR (a PKI from tools/certs.sh DIR) measures instead what TLS 1.3
 * costs, plaintext and TLS side by side in one run against two clouds in
 * this process: connection setup (TCP connect, plus the mutual handshake
 * under TLS), throughput with 1 and 8 devices at split layers 1 and 6, and
 * device end-to-end latency p50/p99 at layers 1 and 6; with the process's
 * CPU time per connection and per request (clients and cloud together),
 * which a loaded machine distorts far less than wall time. Every client,
 * plain or not, goes through the same transport (src/live/transport.h).
 *
 * The cloud runs in this process (N worker threads, default 2) and so do
 * the clients: on a 2-core machine they share the cores, which is what a
 * loopback measurement of a real deployment cannot avoid. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "live/transport.h"
#include "splitee/splitee.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void die(const char *what, const splitee_error *e)
{
    fprintf(stderr, "bench_cloud: %s: %s\n", what, e ? e->msg : strerror(errno));
    exit(2);
}

static void *serve(void *c)
{
    splitee_error e;
    if (splitee_cloud_run(c, &e) < 0)
        die("cloud", &e);
    return NULL;
}

typedef struct client {
    int port;
    splitee__tls_ctx *tls;       /* NULL: plaintext (the --tls comparison's clients) */
    const unsigned char *frames; /* (nframes, frame_len) */
    size_t nframes, frame_len;
    double until;                /* stop time (monotonic s) */
    long done;
    pthread_barrier_t *start;
} client;

static int read_all(int fd, unsigned char *b, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = recv(fd, b + got, n - got, 0);
        if (k <= 0)
            return -1;
        got += (size_t)k;
    }
    return 0;
}

static void *client_main(void *arg)
{
    client *c = arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)c->port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
        die("connect", NULL);
    pthread_barrier_wait(c->start);
    unsigned char reply[SPLITEE_WIRE_HEADER_SIZE + SPLITEE_WIRE_RESPONSE_BODY];
    for (size_t k = 0; now() < c->until; k++) {
        const unsigned char *f = c->frames + (k % c->nframes) * c->frame_len;
        if (send(fd, f, c->frame_len, MSG_NOSIGNAL) != (ssize_t)c->frame_len || read_all(fd, reply, sizeof reply) < 0)
            die("request", NULL);
        if (reply[6] != SPLITEE_WIRE_TYPE_RESPONSE)
            die("request refused", NULL);
        c->done++;
    }
    close(fd);
    return NULL;
}

/* CPU seconds this process has used (every thread: clients and cloud). */
static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec * 1e-6;
}

/* A blocking loopback connection through the transport (plaintext or
 * TLS, handshake done); dies on failure. */
static void dial(int port, splitee__tls_ctx *tls, splitee__transport *t)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    splitee_error e;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
        die("connect", NULL);
    if (splitee__transport_open(t, fd, tls, 0, "127.0.0.1", &e) < 0)
        die("transport", &e);
    /* the transport's calls are non-blocking (transport.h): the handshake
     * polls, then the socket blocks for the requests */
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    int h;
    while ((h = t->ops->handshake(t)) == SPLITEE__IO_AGAIN) {
        struct pollfd pf = { fd, t->want, 0 };
        poll(&pf, 1, 10000);
    }
    if (h != 1) {
        fprintf(stderr, "bench_cloud: %s\n", t->why);
        exit(2);
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
}

static int t_write_all(splitee__transport *t, const unsigned char *b, size_t n)
{
    for (size_t off = 0; off < n;) {
        ssize_t k = t->ops->write(t, b + off, n - off);
        if (k <= 0)
            return -1;
        off += (size_t)k;
    }
    return 0;
}

static int t_read_all(splitee__transport *t, unsigned char *b, size_t n)
{
    for (size_t got = 0; got < n;) {
        ssize_t k = t->ops->read(t, b + got, n - got);
        if (k <= 0)
            return -1;
        got += (size_t)k;
    }
    return 0;
}

/* client_main through the transport (the --tls comparison). */
static void *tclient_main(void *arg)
{
    client *c = arg;
    splitee__transport t;
    dial(c->port, c->tls, &t);
    pthread_barrier_wait(c->start);
    unsigned char reply[SPLITEE_WIRE_HEADER_SIZE + SPLITEE_WIRE_RESPONSE_BODY];
    for (size_t k = 0; now() < c->until; k++) {
        const unsigned char *f = c->frames + (k % c->nframes) * c->frame_len;
        if (t_write_all(&t, f, c->frame_len) < 0 || t_read_all(&t, reply, sizeof reply) < 0)
            die("request", NULL);
        if (reply[6] != SPLITEE_WIRE_TYPE_RESPONSE)
            die("request refused", NULL);
        c->done++;
    }
    t.ops->close(&t);
    return NULL;
}

/* Frames of the first n images split after `layer` layers, f32. */
static unsigned char *make_frames(const splitee_model *m, const splitee_images *im, size_t n, int layer,
                                  size_t *frame_len)
{
    size_t plen = splitee_model_payload_size(m, layer, SPLITEE_PAYLOAD_ENCODING_F32);
    *frame_len = SPLITEE_WIRE_HEADER_SIZE + plen;
    unsigned char *frames = malloc(n * *frame_len), *payload = malloc(plen);
    float *px = malloc(im->rows * im->cols * sizeof *px);
    splitee_engine_state *s;
    splitee_error e;
    if (!frames || !payload || !px || splitee_engine_state_create(m, &s, &e) < 0)
        die("frames", NULL);
    for (size_t k = 0; k < n; k++) {
        for (size_t i = 0; i < im->rows * im->cols; i++)
            px[i] = (float)(im->pixels[(k % im->count) * im->rows * im->cols + i] / 255.0);
        size_t w;
        if (splitee_engine_embed(s, px, &e) < 0 || splitee_engine_run_layers(s, 0, layer, &e) < 0 ||
            splitee_engine_export_payload(s, SPLITEE_PAYLOAD_ENCODING_F32, payload, plen, &w, &e) < 0 ||
            splitee_wire_encode(SPLITEE_WIRE_TYPE_REQUEST, SPLITEE_PAYLOAD_ENCODING_F32, (uint32_t)k, (uint32_t)layer, payload, w,
                                frames + k * *frame_len, *frame_len, NULL, &e) < 0)
            die("frames", &e);
    }
    splitee_engine_state_free(s);
    free(payload);
    free(px);
    return frames;
}

static double throughput_via(int port, splitee__tls_ctx *tls, int transport, const unsigned char *frames,
                             size_t nframes, size_t frame_len, int nclients, double seconds, double *cpu_us)
{
    client *cs = calloc((size_t)nclients, sizeof *cs);
    pthread_t *th = calloc((size_t)nclients, sizeof *th);
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)nclients + 1);
    double t0 = now() + 0.2;  /* connections are made before the clock starts */
    for (int i = 0; i < nclients; i++) {
        cs[i] = (client){ port, tls, frames, nframes, frame_len, 0, 0, &start };
        cs[i].until = t0 + seconds;
        pthread_create(&th[i], NULL, transport ? tclient_main : client_main, &cs[i]);
    }
    pthread_barrier_wait(&start);
    double begin = now(), cpu0 = cpu_s();
    long total = 0;
    for (int i = 0; i < nclients; i++) {
        pthread_join(th[i], NULL);
        total += cs[i].done;
    }
    double dt = now() - begin;
    if (cpu_us)
        *cpu_us = total ? (cpu_s() - cpu0) * 1e6 / (double)total : NAN;
    pthread_barrier_destroy(&start);
    free(cs);
    free(th);
    return (double)total / dt;
}

static double throughput(int port, const unsigned char *frames, size_t nframes, size_t frame_len, int nclients,
                         double seconds)
{
    return throughput_via(port, NULL, 0, frames, nframes, frame_len, nclients, seconds, NULL);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(const double *v, size_t n, double p)
{
    size_t i = (size_t)ceil(p * (double)n) - 1;
    return v[i < n ? i : n - 1];
}

/* p50 and p99 of a real device's end-to-end time per offloaded sample at
 * split `layer` (policy fixed, alpha 1), plaintext or TLS (certs in dir). */
static void device_latency(const splitee_model *m, const splitee_images *im, int port, const char *dir,
                           int layer, size_t per, double *p50, double *p99)
{
    splitee_policy_config pc;
    splitee_policy_config_default(&pc);
    pc.kind = SPLITEE_POLICY_KIND_FIXED;
    pc.fixed_arm = layer - 1;
    splitee_reward_config rc;
    splitee_reward_config_default(&rc);
    rc.alpha = 1.0;
    splitee_device_config dc;
    splitee_device_config_default(&dc);
    dc.host = "127.0.0.1";
    dc.port = port;
    dc.rounds = per;
    dc.timeout_s = 10;
    char cert[1024], key[1024], ca[1024];
    if (dir) {
        snprintf(cert, sizeof cert, "%s/device-1.pem", dir);
        snprintf(key, sizeof key, "%s/device-1.key", dir);
        snprintf(ca, sizeof ca, "%s/ca.pem", dir);
        dc.tls_cert = cert;
        dc.tls_key = key;
        dc.tls_ca = ca;
    }
    splitee_device *d;
    splitee_error e;
    if (splitee_device_create(m, &pc, &rc, &dc, &d, &e) < 0)
        die("device", &e);
    double *lat = malloc(per * sizeof *lat);
    float *px = malloc(im->rows * im->cols * sizeof *px);
    size_t n = 0;
    for (size_t k = 0; k < per; k++) {
        for (size_t i = 0; i < im->rows * im->cols; i++)
            px[i] = (float)(im->pixels[(k % im->count) * im->rows * im->cols + i] / 255.0);
        splitee_round r;
        double t0 = now();
        if (splitee_device_step(d, px, -1, NULL, &r, &e) < 0)
            die("step", &e);
        if (r.outcome != SPLITEE_ROUND_OUTCOME_OFFLOADED && r.outcome != SPLITEE_ROUND_OUTCOME_EXITED)
            die(r.note, NULL);
        if (r.outcome == SPLITEE_ROUND_OUTCOME_OFFLOADED && k > 0)   /* k = 0 pays the connect */
            lat[n++] = (now() - t0) * 1e6;
    }
    splitee_device_free(d);
    qsort(lat, n, sizeof *lat, cmp_double);
    *p50 = n ? pct(lat, n, 0.5) : NAN;
    *p99 = n ? pct(lat, n, 0.99) : NAN;
    free(lat);
    free(px);
}

/* --tls DIR: plaintext and TLS side by side. */
static int tls_compare(splitee_model *m, const splitee_images *im, const char *dir, int workers, double seconds)
{
    char cert[1024], key[1024], ca[1024], dcert[1024], dkey[1024];
    snprintf(cert, sizeof cert, "%s/cloud.pem", dir);
    snprintf(key, sizeof key, "%s/cloud.key", dir);
    snprintf(ca, sizeof ca, "%s/ca.pem", dir);
    snprintf(dcert, sizeof dcert, "%s/device-1.pem", dir);
    snprintf(dkey, sizeof dkey, "%s/device-1.key", dir);
    splitee_error e;
    splitee__tls_ctx *tls;
    if (splitee__tls_ctx_create(0, dcert, dkey, ca, &tls, &e) < 0)
        die("client TLS", &e);
    splitee_cloud *clouds[2];
    pthread_t servers[2];
    int ports[2];
    for (int i = 0; i < 2; i++) {
        splitee_cloud_config cc;
        splitee_cloud_config_default(&cc);
        cc.workers = workers;
        cc.max_per_peer = cc.max_clients;
        if (i == 1) {
            cc.tls_cert = cert;
            cc.tls_key = key;
            cc.tls_ca = ca;
        }
        if (splitee_cloud_create(m, &cc, &clouds[i], &e) < 0)
            die("cloud", &e);
        ports[i] = splitee_cloud_port(clouds[i]);
        pthread_create(&servers[i], NULL, serve, clouds[i]);
    }
    splitee__tls_ctx *ctxs[2] = { NULL, tls };
    printf("plaintext vs TLS 1.3 (mutual certificates, EC P-256, tools/certs.sh); cloud: %d workers;\n"
           "clients in the same process; %.0f s per throughput point\n\n", workers, seconds);
    printf("%-44s %12s %12s %10s\n", "", "plaintext", "TLS 1.3", "TLS/plain");

    /* connection setup: connect (+ handshake), p50 of 200, and the CPU
     * time both ends spent per connection (robust to a loaded machine) */
    double setup[2], setup_cpu[2];
    for (int i = 0; i < 2; i++) {
        double v[200], c0 = cpu_s();
        for (int k = 0; k < 200; k++) {
            splitee__transport t;
            double t0 = now();
            dial(ports[i], ctxs[i], &t);
            v[k] = (now() - t0) * 1e6;
            t.ops->close(&t);
        }
        setup_cpu[i] = (cpu_s() - c0) * 1e6 / 200;
        qsort(v, 200, sizeof *v, cmp_double);
        setup[i] = pct(v, 200, 0.5);
    }
    printf("%-44s %12.0f %12.0f %9.2fx\n", "connection setup p50 (us)", setup[0], setup[1], setup[1] / setup[0]);
    printf("%-44s %12.0f %12.0f %9.2fx\n", "  CPU per connection, both ends (us)", setup_cpu[0], setup_cpu[1],
           setup_cpu[1] / setup_cpu[0]);

    int splits[2] = { 1, 6 }, ncl[2] = { 1, 8 };
    for (int s = 0; s < 2; s++) {
        size_t flen;
        unsigned char *frames = make_frames(m, im, 48, splits[s], &flen);
        for (int c = 0; c < 2; c++) {
            double r[2], cpu[2];
            for (int i = 0; i < 2; i++)
                r[i] = throughput_via(ports[i], ctxs[i], 1, frames, 48, flen, ncl[c], seconds, &cpu[i]);
            char label[64];
            snprintf(label, sizeof label, "requests/s, layer %d, %d device%s (%zu B)", splits[s], ncl[c],
                     ncl[c] > 1 ? "s" : "", flen);
            printf("%-44s %12.0f %12.0f %9.2fx\n", label, r[0], r[1], r[1] / r[0]);
            printf("%-44s %12.1f %12.1f %9.2fx\n", "  CPU per request, both ends (us)", cpu[0], cpu[1], cpu[1] / cpu[0]);
            fflush(stdout);
        }
        free(frames);
    }
    for (int s = 0; s < 2; s++) {
        double p50[2], p99[2];
        for (int i = 0; i < 2; i++)
            device_latency(m, im, ports[i], i ? dir : NULL, splits[s], 300, &p50[i], &p99[i]);
        char label[64];
        snprintf(label, sizeof label, "device end-to-end p50 (us), layer %d", splits[s]);
        printf("%-44s %12.0f %12.0f %9.2fx\n", label, p50[0], p50[1], p50[1] / p50[0]);
        snprintf(label, sizeof label, "device end-to-end p99 (us), layer %d", splits[s]);
        printf("%-44s %12.0f %12.0f %9.2fx\n", label, p99[0], p99[1], p99[1] / p99[0]);
        fflush(stdout);
    }
    for (int i = 0; i < 2; i++) {
        splitee_cloud_stop(clouds[i]);
        pthread_join(servers[i], NULL);
        splitee_cloud_free(clouds[i]);
    }
    splitee__tls_ctx_free(tls);
    return 0;
}

int main(int argc, char **argv)
{
    const char *model_dir = "data/model", *images = "tests/fixtures/live/images-48.idx";
    const char *tls_dir = NULL;
    int workers = 2;
    double seconds = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--tls") == 0)
            tls_dir = argv[i + 1];
        else
        if (strcmp(argv[i], "--workers") == 0)
            workers = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--seconds") == 0)
            seconds = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--model") == 0)
            model_dir = argv[i + 1];
        else if (strcmp(argv[i], "--images") == 0)
            images = argv[i + 1];
    }
    splitee_error e;
    splitee_model *m;
    splitee_images im;
    if (splitee_model_load(model_dir, &m, &e) < 0)
        die("model", &e);
    if (splitee_idx_load(images, NULL, &im, &e) < 0)
        die("images", &e);
    const splitee_model_config *mc = splitee_model_get_config(m);
    if (tls_dir) {
        int rc = tls_compare(m, &im, tls_dir, workers, seconds);
        splitee_images_free(&im);
        splitee_model_free(m);
        return rc;
    }

    splitee_cloud_config cc;
    splitee_cloud_config_default(&cc);
    cc.workers = workers;
    cc.max_per_peer = cc.max_clients;  /* every client is on loopback, one address */
    splitee_cloud *cloud;
    if (splitee_cloud_create(m, &cc, &cloud, &e) < 0)
        die("cloud", &e);
    int port = splitee_cloud_port(cloud);
    pthread_t server;
    pthread_create(&server, NULL, serve, cloud);

    printf("cloud: %d workers; clients in the same process; %.0f s per point\n\n", workers, seconds);
    printf("throughput (requests/s, f32 payloads of %zu bytes after layer 1)\n",
           splitee_model_payload_size(m, 1, SPLITEE_PAYLOAD_ENCODING_F32));
    printf("%-8s %12s %12s %12s\n", "split", "1 device", "8 devices", "64 devices");
    int splits[2] = { 1, 6 };
    for (int s = 0; s < 2; s++) {
        size_t flen;
        unsigned char *frames = make_frames(m, &im, 48, splits[s], &flen);
        printf("layer %-2d", splits[s]);
        int cl[3] = { 1, 8, 64 };
        for (int c = 0; c < 3; c++) {
            printf(" %12.0f", throughput(port, frames, 48, flen, cl[c], seconds));
            fflush(stdout);
        }
        printf("\n");
        free(frames);
    }

    /* Device end-to-end latency per split layer. */
    printf("\ndevice end-to-end latency per offloaded sample (us): engine + payload + network + cloud\n");
    printf("%-8s %8s %10s %10s %10s %10s\n", "split", "samples", "p50", "p99", "rtt p50", "cloud p50");
    size_t per = 200;
    double *lat = malloc(per * sizeof *lat), *rtt = malloc(per * sizeof *rtt), *cl = malloc(per * sizeof *cl);
    float *px = malloc(im.rows * im.cols * sizeof *px);
    for (int layer = 1; layer < mc->layers; layer++) {
        splitee_policy_config pc;
        splitee_policy_config_default(&pc);
        pc.kind = SPLITEE_POLICY_KIND_FIXED;
        pc.fixed_arm = layer - 1;
        splitee_reward_config rc;
        splitee_reward_config_default(&rc);
        rc.alpha = 1.0;
        splitee_device_config dc;
        splitee_device_config_default(&dc);
        dc.host = "127.0.0.1";
        dc.port = port;
        dc.rounds = per;
        splitee_device *d;
        if (splitee_device_create(m, &pc, &rc, &dc, &d, &e) < 0)
            die("device", &e);
        size_t n = 0;
        for (size_t k = 0; k < per; k++) {
            for (size_t i = 0; i < im.rows * im.cols; i++)
                px[i] = (float)(im.pixels[(k % im.count) * im.rows * im.cols + i] / 255.0);
            splitee_round r;
            double t0 = now();
            if (splitee_device_step(d, px, -1, NULL, &r, &e) < 0)
                die("step", &e);
            double dt = (now() - t0) * 1e6;
            if (r.outcome == SPLITEE_ROUND_OUTCOME_OFFLOADED && k > 0) { /* k = 0 pays the connect */
                lat[n] = dt;
                rtt[n] = r.rtt_us;
                cl[n++] = r.cloud_us;
            }
        }
        splitee_device_free(d);
        qsort(lat, n, sizeof *lat, cmp_double);
        qsort(rtt, n, sizeof *rtt, cmp_double);
        qsort(cl, n, sizeof *cl, cmp_double);
        if (n)
            printf("layer %-2d %8zu %10.0f %10.0f %10.0f %10.0f\n", layer, n, pct(lat, n, 0.5), pct(lat, n, 0.99),
                   pct(rtt, n, 0.5), pct(cl, n, 0.5));
    }
    free(lat);
    free(rtt);
    free(cl);
    free(px);

    /* Controller overhead in a tight loop (no engine, no network). */
    printf("\ncontroller: choose + observe per round, 12 arms, tight loop (ns/round, best of 5)\n");
    int L = mc->layers;
    double conf[SPLITEE_MAX_EXITS];
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    splitee_policy_kind kinds[2] = { SPLITEE_POLICY_KIND_SPLITEE, SPLITEE_POLICY_KIND_SPLITEE_S };
    for (int k = 0; k < 2; k++) {
        splitee_reward_config rc;
        splitee_reward_config_default(&rc);
        splitee_reward rw;
        splitee_reward_init(&rw, &rc, L, &e);
        splitee_policy_config pc;
        splitee_policy_config_default(&pc);
        pc.kind = kinds[k];
        splitee_policy *p;
        if (splitee_policy_create(&pc, &rw, &p, &e) < 0)
            die("policy", &e);
        double best = 1e30;
        long rounds = 1000000;
        for (int run = 0; run < 5; run++) {
            splitee_policy_reset(p);
            double t0 = now();
            for (long t = 0; t < rounds; t++) {
                int arm = splitee_policy_choose(p, rng);
                for (int a = 0; a <= arm; a++)
                    conf[a] = 0.5 + 0.04 * a + 0.001 * (double)(t % 7);
                double cf = 0.9;
                int off = arm < L - 1 && conf[arm] < rw.alpha;
                splitee_obs ob = { arm, conf, off, off || arm == L - 1, off ? cf : conf[arm], NULL };
                splitee_policy_observe(p, &ob);
            }
            double ns = (now() - t0) * 1e9 / (double)rounds;
            if (ns < best)
                best = ns;
        }
        printf("%-10s %8.1f\n", splitee_policy_kind_name(kinds[k]), best);
        splitee_policy_free(p);
    }
    gsl_rng_free(rng);

    splitee_cloud_stop(cloud);
    pthread_join(server, NULL);
    splitee_cloud_stats st;
    splitee_cloud_get_stats(cloud, &st);
    printf("\ncloud served %llu requests, mean compute %.1f us\n", (unsigned long long)st.requests,
           st.requests ? st.compute_us / (double)st.requests : 0.0);
    splitee_cloud_free(cloud);
    splitee_images_free(&im);
    splitee_model_free(m);
    return 0;
}
