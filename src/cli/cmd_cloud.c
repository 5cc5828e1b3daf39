/* cmd_cloud.c -- `splitee cloud`: load the model, listen, serve devices
 * until SIGINT/SIGTERM; one log line per event on stderr. */
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

static void on_signal(int sig)
{
    (void)sig;
    if (running)
        splitee_cloud_stop(running);
}

static void cloud_usage(FILE *f)
{
    fputs("usage: splitee cloud [--model DIR] [--listen HOST:PORT] [--workers N] [--max-clients N]\n\n"
          "Serves devices over TCP: each request is an activation payload after some\n"
          "layer; the cloud runs the remaining layers and answers with the final exit's\n"
          "prediction, confidence and compute time (docs/LIVE.md). Logs to stderr;\n"
          "SIGINT/SIGTERM stop it cleanly.\n\n"
          "  --model DIR        model folder (default data/model)\n"
          "  --listen HOST:PORT numeric address to listen on (default 127.0.0.1:7070);\n"
          "                     port 0 picks a free port, printed in the first log line\n"
          "  --workers N        event-loop threads, each with its own run state\n"
          "                     (default: online CPUs, at most 64)\n"
          "  --max-clients N    connections served at once (default 1024)\n", f);
}

int cli_cloud(int argc, char **argv)
{
    const char *model_dir = "data/model";
    char host[128] = "127.0.0.1";
    splitee_cloud_config cc;
    splitee_cloud_config_default(&cc);
    cc.port = 7070;
    long nproc = sysconf(_SC_NPROCESSORS_ONLN);
    cc.workers = nproc < 1 ? 1 : nproc > 64 ? 64 : (int)nproc;
    splitee_error err = { 0, "" };
    int st = 0;
    for (int i = 0; i < argc && st == 0; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            cloud_usage(stdout);
            return 0;
        }
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n;
        if (strcmp(a, "--model") == 0 || strcmp(a, "--listen") == 0 || strcmp(a, "--workers") == 0 ||
            strcmp(a, "--max-clients") == 0) {
            if (!v) {
                st = splitee__fail(&err, SPLITEE_ERR_ARG, "%s: missing value", a);
                break;
            }
            i++;
        } else {
            st = splitee__fail(&err, SPLITEE_ERR_ARG, "cloud: unknown option '%s' (see splitee cloud --help)", a);
            break;
        }
        if (strcmp(a, "--model") == 0)
            model_dir = v;
        else if (strcmp(a, "--listen") == 0)
            st = cli_parse_hostport(v, host, sizeof host, &cc.port, 1, "--listen", &err);
        else if (strcmp(a, "--workers") == 0) {
            if (cli_parse_long(v, 1, 256, &n) < 0)
                st = splitee__fail(&err, SPLITEE_ERR_ARG, "--workers: expected 1..256, got '%s'", v);
            else
                cc.workers = (int)n;
        } else if (strcmp(a, "--max-clients") == 0) {
            if (cli_parse_long(v, 1, 1000000, &n) < 0)
                st = splitee__fail(&err, SPLITEE_ERR_ARG, "--max-clients: expected 1..1000000, got '%s'", v);
            else
                cc.max_clients = (int)n;
        }
    }
    if (st < 0)
        return cli_fail(&err, st);
    cc.host = host;
    cc.log = cloud_log;
    splitee_model *m = NULL;
    splitee_cloud *c = NULL;
    if ((st = splitee_model_load(model_dir, &m, &err)) < 0)
        return cli_fail(&err, st);
    if ((st = splitee_cloud_create(m, &cc, &c, &err)) < 0) {
        splitee_model_free(m);
        return cli_fail(&err, st);
    }
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
