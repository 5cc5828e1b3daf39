/* cmd_cloud.c -- `splitee cloud`: load the model, listen, serve devices
 * until SIGINT (stop) or SIGTERM (drain: answer what is in flight, then
 * exit; a second SIGTERM stops at once); one log line per event on
 * stderr; --metrics serves Prometheus metrics over HTTP. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "core/internal.h"
#include "groups.h"
#include "live.h"

int cli_parse_hostport(const char *s, char *host, size_t cap, int *port, int allow_zero,
                       const char *opt, splitee_error *err)
{
    const char *colon = strrchr(s, ':');
    const char *h = s, *he = colon;
    if (colon && s[0] == '[') {
        h = s + 1;
        he = colon > s && colon[-1] == ']' ? colon - 1 : NULL;
    }
    long p;
    if (!colon || !he || he == h || (size_t)(he - h) >= cap ||
        cli_parse_long(colon + 1, allow_zero ? 0 : 1, 65535, &p) < 0)
        return splitee__fail(err, SPLITEE_ERR_ARG, "%s: expected HOST:PORT (port %s..65535), got '%s'",
                             opt, allow_zero ? "0" : "1", s);
    memcpy(host, h, (size_t)(he - h));
    host[he - h] = '\0';
    *port = (int)p;
    return 0;
}

void cli_live_log(const char *who, const char *line)
{
    cli_meter_break();
    char buf[1024], ts[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    int n = snprintf(buf, sizeof buf, "%s splitee %s: %s\n", ts, who, line);
    if (n > (int)sizeof buf - 1) {
        n = (int)sizeof buf - 1;
        buf[n - 1] = '\n';
    }
    ssize_t w = write(STDERR_FILENO, buf, (size_t)n);
    (void)w;
}

static void cloud_log(void *ctx, const char *line)
{
    (void)ctx;
    cli_live_log("cloud", line);
}

/* The signal handler's only way to the server (the CLI's one global). */
static splitee_cloud *volatile running;

static volatile sig_atomic_t terms;

static void on_signal(int sig)
{
    if (!running)
        return;
    if (sig == SIGTERM && terms++ == 0)
        splitee_cloud_drain(running);
    else
        splitee_cloud_stop(running);
}

/* ---- options ------------------------------------------------------------ */

typedef struct cloud_opts {
    cli_model model;
    int confidence;        /* --confidence: the measure answered, -1 any */
    cli_progress prog;
    char *listen;
    char *metrics;
    int workers, max_clients, max_per_peer;
    double idle_timeout, frame_timeout, drain_timeout;
    cli_tls tls;
} cloud_opts;

static const cli_opt OPT_LISTEN = { .name = "listen", .arg = "HOST:PORT", .kind = CLI_STRING,
    .off = offsetof(cloud_opts, listen),
    .help = "numeric address to listen on; port 0 picks a free port, printed in\n"
            "the first log line", .def = "127.0.0.1:7070" };
static const cli_opt OPT_WORKERS = { .name = "workers", .arg = "N", .kind = CLI_INT,
    .off = offsetof(cloud_opts, workers), .lo = 1, .hi = 256,
    .help = "event-loop threads, each with its own run state", .def_text = "online CPUs, at most 64" };
static const cli_opt OPT_MAX_CLIENTS = { .name = "max-clients", .arg = "N", .kind = CLI_INT,
    .off = offsetof(cloud_opts, max_clients), .lo = 1, .hi = 1000000,
    .help = "connections served at once", .def = "1024" };
static const cli_opt OPT_MAX_PER_PEER = { .name = "max-per-peer", .arg = "N", .kind = CLI_INT,
    .off = offsetof(cloud_opts, max_per_peer), .lo = 1, .hi = 1000000,
    .help = "connections from one address at once; more are closed at accept\n"
            "(logged at most once a second per address)", .def = "64" };
static const cli_opt OPT_IDLE_TIMEOUT = { .name = "idle-timeout", .arg = "S", .kind = CLI_DOUBLE,
    .off = offsetof(cloud_opts, idle_timeout), .lo = 0, .hi = 86400,
    .help = "close a connection with no complete request for S seconds (0: never)", .def = "30" };
static const cli_opt OPT_FRAME_TIMEOUT = { .name = "frame-timeout", .arg = "S", .kind = CLI_DOUBLE,
    .off = offsetof(cloud_opts, frame_timeout), .lo = 0, .hi = 86400,
    .help = "close a connection whose frame, once begun, is not complete within\n"
            "S seconds (0: never)", .def = "5" };
static const cli_opt OPT_DRAIN_TIMEOUT = { .name = "drain-timeout", .arg = "S", .kind = CLI_DOUBLE,
    .off = offsetof(cloud_opts, drain_timeout), .lo = 0, .hi = 86400, .open = CLI_OPEN_LO,
    .help = "on SIGTERM, stop accepting and answer every request in flight, for\n"
            "at most S seconds, then exit 0", .def = "5" };
static const cli_opt OPT_METRICS = { .name = "metrics", .arg = "HOST:PORT", .kind = CLI_STRING,
    .off = offsetof(cloud_opts, metrics),
    .help = "serve Prometheus metrics at http://HOST:PORT/metrics (port 0: a free\n"
            "one, in a log line)" };
/* --confidence C|any: the measures the cloud answers under. */
static int set_confidence(void *g, const char *v, const cli_ctx *ctx, splitee_error *err)
{
    (void)ctx;
    splitee_confidence m;
    if (strcmp(v, "any") == 0) {
        ((cloud_opts *)g)->confidence = -1;
        return 0;
    }
    if (splitee_confidence_parse(v, &m) < 0) {
        char names[128];
        splitee_confidence_list(names, sizeof names);
        return splitee__fail(err, SPLITEE_ERR_ARG, "--confidence: expected any or one of %s, got '%s'", names, v);
    }
    ((cloud_opts *)g)->confidence = (int)m;
    return 0;
}

static const cli_opt OPT_CONFIDENCE = { .name = "confidence", .arg = "C", .kind = CLI_FN,
    .set = set_confidence,
    .help = "the confidence measure it answers under: any (whichever a device's\n"
            "request names), or one of max-softmax, entropy, margin", .def = "any" };
static const cli_opt *const SERVE_OPTS[] = { &OPT_LISTEN, &OPT_WORKERS, &OPT_MAX_CLIENTS,
                                             &OPT_MAX_PER_PEER, &OPT_IDLE_TIMEOUT,
                                             &OPT_FRAME_TIMEOUT, &OPT_CONFIDENCE,
                                             &OPT_DRAIN_TIMEOUT, &OPT_METRICS, NULL };
static const cli_group SERVE = { .title = "serve", .opts = SERVE_OPTS };

static const cli_use GROUPS[] = {
    { &cli_group_model, offsetof(cloud_opts, model) },
    { &SERVE, 0 },
    { &cli_group_tls, offsetof(cloud_opts, tls) },
    { &cli_group_progress, offsetof(cloud_opts, prog) },
    { NULL, 0 },
};

static const cli_command CMD = {
    .name = "cloud",
    .synopsis = "splitee cloud [options]",
    .about = "Serves devices over TCP: each request is an activation payload after some\n"
             "layer; the cloud runs the remaining layers and answers with the final exit's\n"
             "prediction, confidence and compute time (docs/LIVE.md). With --tls-*, TLS 1.3\n"
             "and only devices with a certificate from --tls-ca; plaintext on loopback only.\n"
             "Logs to stderr; SIGINT stops it; SIGTERM drains it (no new connections, every\n"
             "request in flight answered), then it exits 0.\n",
    .groups = GROUPS,
    .data_note = 1,
};

int cli_cloud(int argc, char **argv)
{
    cloud_opts o;
    memset(&o, 0, sizeof o);
    long nproc = sysconf(_SC_NPROCESSORS_ONLN);
    o.workers = nproc < 1 ? 1 : nproc > 64 ? 64 : (int)nproc;
    char host[128] = "127.0.0.1", mhost[128] = "";
    splitee_cloud_config cc;
    splitee_cloud_config_default(&cc);
    splitee_error err = { 0, "" };
    int st = cli_parse(&CMD, &o, argc, argv, &err);
    if (st == 0)
        st = cli_parse_hostport(o.listen, host, sizeof host, &cc.port, 1, "--listen", &err);
    if (st == 0 && o.metrics)
        st = cli_parse_hostport(o.metrics, mhost, sizeof mhost, &cc.metrics_port, 1, "--metrics", &err);
    if (st == 0 && o.metrics)
        cc.metrics_host = mhost;
    cc.drain_timeout_s = o.drain_timeout;
    if (o.confidence >= 0)
        cc.confidences = 1u << o.confidence;
    cc.workers = o.workers;
    cc.max_clients = o.max_clients;
    cc.max_per_peer = o.max_per_peer;
    cc.idle_timeout_s = o.idle_timeout;
    cc.frame_timeout_s = o.frame_timeout;
    cc.host = host;
    cc.tls_cert = o.tls.cert;
    cc.tls_key = o.tls.key;
    cc.tls_ca = o.tls.ca;
    cc.insecure_plaintext = o.tls.insecure;
    cc.log = cloud_log;
    splitee_model *m = NULL;
    splitee_cloud *c = NULL;
    if (st == 0 && (st = splitee_model_load(o.model.dir, &m, &err)) == 0 &&
        (st = splitee_cloud_create(m, &cc, &c, &err)) < 0) {
        splitee_model_free(m);
        m = NULL;
    }
    cli_free(&CMD, &o);
    if (st != 0)
        return st == 1 ? 0 : cli_fail(&err, st);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    running = c;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    st = splitee_cloud_run(c, &err);
    running = NULL;
    splitee_cloud_free(c);
    splitee_model_free(m);
    return st < 0 ? cli_fail(&err, st) : 0;
}
