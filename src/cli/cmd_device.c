/* cmd_device.c -- `splitee device`: stream IDX images through the device
 * loop (device.h) against a cloud, learning the split layer online; a
 * JSON-lines log per round, a summary on stdout and in --json, learned
 * state in --state. Every output path is checked before the first sample;
 * the log is written to a temporary and renamed at the end, so a failed run
 * leaves no log, no summary and no new state behind. The pieces are the
 * library's: the device loop (device.h), the link clock, and the log and
 * summary writers (report.h). */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <gsl/gsl_rng.h>

#include "cli.h"
#include "core/internal.h"
#include "groups.h"
#include "live.h"

typedef struct dev_opts {
    /* the options, group by group */
    cli_model mo;
    cli_input in;
    cli_exit ex;
    cli_reward rw;
    cli_policy pol;
    cli_link_opts lk;
    cli_output out;
    cli_progress prog;
    cli_tls tls;
    /* what the rest of this file uses, from them (dev_finish) */
    const char *model, *images, *labels, *log, *json, *state, *link;
    char host[256];
    int port, has_cloud;
    char hosts[SPLITEE_DEVICE_MAX_CLOUDS][256]; /* --cloud A,B,...: failover in this order */
    splitee_device_endpoint clouds[SPLITEE_DEVICE_MAX_CLOUDS];
    int nclouds;
    splitee_policy_config policy;
    splitee_reward_config reward;
    double layer_cost[SPLITEE_MAX_EXITS], offload_cost[SPLITEE_MAX_EXITS];
    int nlayer_cost, noffload_cost;
    splitee_device_config dev;    /* timeout, eval, sleep straight from the options */
    long limit, save_every;
    double interval;              /* seconds between sample starts (a sensor's rate), 0: none */
    long stream;                  /* --stream N: the images as an N-frame stream (stream.h), 0: none */
    unsigned long seed;
    int quiet;
    char *log_path, *state_path;  /* --log, --state (owned) */
} dev_opts;

static volatile sig_atomic_t stop_asked;

static void on_signal(int sig)
{
    (void)sig;
    stop_asked = 1;
}

/* --cloud HOST:PORT[,HOST:PORT...], or none. */
static int set_cloud(void *g, const char *v, const cli_ctx *ctx, splitee_error *err)
{
    dev_opts *o = g;
    (void)ctx;
    o->nclouds = 0;
    if (strcmp(v, "none") == 0) {
        o->has_cloud = 0;
        return 0;
    }
    o->has_cloud = 1;
    for (const char *p = v;; ) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        char one[300];
        if (o->nclouds == SPLITEE_DEVICE_MAX_CLOUDS)
            return splitee__fail(err, SPLITEE_ERR_ARG, "--cloud: at most %d clouds, got more in '%s'",
                                 SPLITEE_DEVICE_MAX_CLOUDS, v);
        if (n >= sizeof one)
            return splitee__fail(err, SPLITEE_ERR_ARG, "--cloud: address too long in '%s'", v);
        memcpy(one, p, n);
        one[n] = '\0';
        int st = cli_parse_hostport(one, o->hosts[o->nclouds], sizeof o->hosts[0],
                                    &o->clouds[o->nclouds].port, 0, "--cloud", err);
        if (st < 0)
            return st;
        o->clouds[o->nclouds].host = o->hosts[o->nclouds];
        o->nclouds++;
        if (!comma)
            break;
        p = comma + 1;
    }
    snprintf(o->host, sizeof o->host, "%s", o->hosts[0]);
    o->port = o->clouds[0].port;
    return 0;
}

static const cli_opt OPT_CLOUD = { .name = "cloud", .arg = "HOST:PORT", .kind = CLI_FN, .set = set_cloud,
    .help = "the cloud (required), or several, comma-separated: each offload goes to\n"
            "the first that is healthy (not backing off after a failure), failing\n"
            "over to the next; none: no cloud, every offload falls back" };
static const cli_opt OPT_BACKOFF_MAX = { .name = "backoff-max", .arg = "S", .kind = CLI_DOUBLE,
    .off = offsetof(dev_opts, dev.backoff_max_s), .lo = 0.05, .hi = 3600,
    .help = "a failed cloud is retried after 0.05 s, doubling per failure up to S\n"
            "seconds; a success resets it", .def = "2" };
static const cli_opt OPT_BACKOFF_JITTER = { .name = "backoff-jitter", .arg = "F", .kind = CLI_DOUBLE,
    .off = offsetof(dev_opts, dev.backoff_jitter), .lo = 0, .hi = 1,
    .help = "shorten each backoff by a random fraction of at most F (drawn from\n"
            "--seed + 2)", .def = "0" };
static const cli_opt OPT_TIMEOUT = { .name = "timeout", .arg = "S", .kind = CLI_DOUBLE,
    .off = offsetof(dev_opts, dev.timeout_s), .lo = 0, .hi = 3600, .open = CLI_OPEN_LO,
    .help = "connect and request timeout, seconds", .def = "1" };
static const cli_opt OPT_INTERVAL = { .name = "interval", .arg = "S", .kind = CLI_DOUBLE,
    .off = offsetof(dev_opts, interval), .lo = 0, .hi = 3600,
    .help = "start a sample every S seconds, like a sensor (0: at once)", .def = "0" };
static const cli_opt OPT_EVAL = { .name = "eval", .kind = CLI_SET, .ival = 1,
    .off = offsetof(dev_opts, dev.eval),
    .help = "also run every exit locally for regret (evaluation only)" };
static const cli_opt OPT_STREAM = { .name = "stream", .arg = "N", .kind = CLI_LONG,
    .off = offsetof(dev_opts, stream), .lo = 0, .hi = 1 << 26,
    .help = "the samples are an N-frame stream of the images, as `splitee stream`\n"
            "makes it with its defaults (scenes of mean 25 frames, +-2 px, sigma 0.1,\n"
            "seed 1): the input of --rule difference|temporal-patience; 0: the images", .def = "0" };
static const cli_opt *const LIVE_OPTS[] = { &OPT_CLOUD, &OPT_TIMEOUT, &OPT_BACKOFF_MAX, &OPT_BACKOFF_JITTER,
                                            &OPT_INTERVAL, &OPT_EVAL, &OPT_STREAM, NULL };
static const cli_group LIVE = { .title = "live", .opts = LIVE_OPTS };

static const cli_opt OPT_SLEEP = { .name = "sleep", .kind = CLI_SET, .ival = 1,
    .off = offsetof(dev_opts, dev.sleep), .help = "sleep the simulated link latency of each offload" };
static const cli_opt *const SLEEP_OPTS[] = { &OPT_SLEEP, NULL };
static const cli_group SLEEP = { .title = "link", .opts = SLEEP_OPTS };

static const cli_opt OPT_LOG = { .name = "log", .arg = "FILE", .kind = CLI_STRING,
    .off = offsetof(dev_opts, log_path), .help = "one JSON object per round (JSON lines)" };
static const cli_opt OPT_STATE = { .name = "state", .arg = "FILE", .kind = CLI_STRING,
    .off = offsetof(dev_opts, state_path),
    .help = "learned policy state: loaded if present, saved at the end and every\n"
            "--save-every rounds" };
static const cli_opt OPT_SAVE_EVERY = { .name = "save-every", .arg = "N", .kind = CLI_LONG,
    .off = offsetof(dev_opts, save_every), .lo = 1, .hi = 1L << 30,
    .help = "rounds between saves of --state", .def = "100" };
static const cli_opt *const OUT_OPTS[] = { &OPT_LOG, &OPT_STATE, &OPT_SAVE_EVERY, NULL };
static const cli_group OUT = { .title = "output", .opts = OUT_OPTS };

static const cli_use GROUPS[] = {
    { &cli_group_model, offsetof(dev_opts, mo) },
    { &cli_group_input, offsetof(dev_opts, in) },
    { &LIVE, 0 },
    { &cli_group_tls, offsetof(dev_opts, tls) },
    { &cli_group_exit, offsetof(dev_opts, ex) },
    { &cli_group_reward, offsetof(dev_opts, rw) },
    { &cli_group_policy, offsetof(dev_opts, pol) },
    { &cli_group_link, offsetof(dev_opts, lk) },
    { &SLEEP, 0 },
    { &cli_group_output, offsetof(dev_opts, out) },
    { &OUT, 0 },
    { &cli_group_progress, offsetof(dev_opts, prog) },
    { NULL, 0 },
};

static const cli_default DEFAULTS[] = {
    { "policy", "splitee", NULL },
    { NULL, NULL, NULL },
};

static const cli_command CMD = {
    .name = "device",
    .synopsis = "splitee device --cloud HOST:PORT[,HOST:PORT...] [options]",
    .about = "Runs the device side of live split computing: per image, the policy picks\n"
             "the split layer, the engine runs that many layers; the image exits if its\n"
             "exit is confident (>= alpha) or the layer is the last, else the activation\n"
             "goes to the cloud, which returns the final prediction and confidence; the\n"
             "policy learns from what it saw. Unreachable cloud: the image is finished on\n"
             "the device (fallback). See docs/LIVE.md.\n",
    .groups = GROUPS,
    .defaults = DEFAULTS,
    .data_note = 1,
};

/* Parses argv and fills what the rest of this file uses. */
static int parse(dev_opts *o, int argc, char **argv, splitee_error *err)
{
    o->has_cloud = -1;
    splitee_device_config_default(&o->dev);
    int st = cli_parse(&CMD, o, argc, argv, err);
    if (st != 0)
        return st;
    if (o->has_cloud < 0)
        return splitee__fail(err, SPLITEE_ERR_ARG, "--cloud HOST:PORT is required (or --cloud none; see splitee device --help)");
    if ((st = cli_policy_one(&o->pol, "device", &o->policy, err)) < 0 ||
        (st = cli_reward_one(&o->ex, &o->rw, "device", &o->reward, err)) < 0 ||
        (st = cli_input_resolve(&o->in, err)) < 0)
        return st;
    o->model = o->mo.dir;
    o->images = o->in.images;
    o->labels = o->in.labels;
    o->limit = o->in.limit;
    o->link = o->lk.link;
    o->dev.encoding = (splitee_payload_encoding)o->lk.encoding;
    o->dev.checkpoints = o->out.checkpoints;
    o->json = o->out.json;
    o->quiet = o->out.quiet;
    o->log = o->log_path;
    o->state = o->state_path;
    o->seed = (unsigned long)o->pol.seed;
    o->dev.tls_cert = o->tls.cert;
    o->dev.tls_key = o->tls.key;
    o->dev.tls_ca = o->tls.ca;
    o->dev.insecure_plaintext = o->tls.insecure;
    memcpy(o->layer_cost, o->rw.layer_cost, sizeof o->layer_cost);
    memcpy(o->offload_cost, o->rw.offload_cost, sizeof o->offload_cost);
    o->nlayer_cost = o->rw.nlayer_cost;
    o->noffload_cost = o->rw.noffload_cost;
    return 0;
}

static int save_state(const char *path, splitee_policy *p, splitee_error *err)
{
    char *text = splitee_policy_save(p);
    if (!text)
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", path);
    int st = splitee_file_write_atomic(path, text, strlen(text), err);
    free(text);
    return st;
}

static int load_state(const char *path, splitee_policy *p, int *loaded, splitee_error *err)
{
    *loaded = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return errno == ENOENT ? 0 : splitee__fail(err, SPLITEE_ERR_IO, "%s: %s", path, strerror(errno));
    char *text;
    size_t len;
    int st = splitee__read_stream(f, path, 0, &text, &len, err);
    if (st < 0)
        return st;
    splitee_error e;
    st = splitee_policy_restore(p, text, &e);
    free(text);
    if (st < 0)
        return splitee__fail(err, st, "%s: %s", path, e.msg);
    *loaded = 1;
    return 0;
}

/* The JSON summary, written atomically (nothing on failure). */
static int write_summary(const char *path, const splitee_device_summary *s,
                         const splitee_report_device_meta *meta, splitee_error *err)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", path);
    int st = splitee_report_device_json(f, s, meta);
    if (fclose(f) != 0 && st == 0)
        st = SPLITEE_ERR_NOMEM;
    if (st < 0)
        st = splitee__fail(err, st, "%s: %s", path, splitee_strerror(st));
    else
        st = splitee_file_write_atomic(path, buf, len, err);
    free(buf);
    return st;
}

/* Every output this run will write, checked before any work (a log goes to
 * a temporary beside it, so its folder must take files too). */
static int check_outputs(const dev_opts *o, splitee_error *err)
{
    const char *paths[] = { o->log, o->json, o->state };
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        int st = paths[i] ? splitee_output_check(paths[i], err) : 0;
        if (st < 0)
            return st;
    }
    return 0;
}

int cli_device(int argc, char **argv)
{
    dev_opts o;
    memset(&o, 0, sizeof o);
    splitee_error err = { 0, "" };
    splitee_images im = { 0 };
    splitee_model *m = NULL;
    splitee_device *d = NULL;
    splitee_distorter *dist = NULL;
    gsl_rng *rng = NULL;
    splitee_link *lk = NULL;
    splitee_link_clock *clk = NULL;
    splitee_report_device_log *logw = NULL;
    FILE *logf = NULL;
    char *log_tmp = NULL, *cmdline = NULL, *state_before = NULL;
    size_t state_len = 0;
    int wrote_state = 0, wrote_json = 0;   /* what a failure must take back */
    float *px = NULL, *frames = NULL;   /* --stream: (N, rows, cols) */
    int32_t *source = NULL, *scene = NULL;
    cli_meter meter = { 0 };
    int st = parse(&o, argc, argv, &err);
    if (st != 0)
        goto done;
    if ((st = check_outputs(&o, &err)) < 0)
        goto done;
    if (o.nlayer_cost)
        o.reward.layer_cost = o.layer_cost;
    if (o.noffload_cost)
        o.reward.offload_cost = o.offload_cost;
    if ((st = cli_input_load(&o.in, &o.mo, &m, &im, &err)) < 0)
        goto done;
    if (!im.labels && !o.in.labels_none)
        cli_note("%s: no labels, so no accuracy is reported (--labels FILE gives them)", o.images);
    const splitee_model_config *mc = splitee_model_get_config(m);
    if (o.link) {
        /* the link prices each offload; unless --offload-cost was given,
         * the reward model's o is its price of an offload at t = 0 */
        splitee_link_clock_config lc;
        splitee_link_clock_config_default(&lc);
        lc.seed = o.seed + 1;
        if ((st = splitee_link_load(o.link, &lk, &err)) < 0 ||
            (st = splitee_link_clock_create(lk, &lc, &clk, &err)) < 0)
            goto done;
        splitee_link_clock_attach(clk, &o.dev);
        if (!o.noffload_cost) {
            if ((st = splitee_link_clock_offload_costs(clk, m, o.dev.encoding, o.offload_cost,
                                                       SPLITEE_MAX_EXITS, &err)) < 0)
                goto done;
            o.noffload_cost = mc->layers;
            o.reward.offload_cost = o.offload_cost;
        }
    }
    if ((o.nlayer_cost && o.nlayer_cost != mc->layers) || (o.noffload_cost && o.noffload_cost != mc->layers)) {
        st = splitee__fail(&err, SPLITEE_ERR_SHAPE, "%s: %d values for a model with %d layers",
                           o.nlayer_cost && o.nlayer_cost != mc->layers ? "--layer-cost" : "--offload-cost",
                           o.nlayer_cost && o.nlayer_cost != mc->layers ? o.nlayer_cost : o.noffload_cost,
                           mc->layers);
        goto done;
    }
    if ((splitee_policy_kind_info(o.policy.kind)->params & SPLITEE_POLICY_PARAM_LAYER) &&
        o.policy.fixed_arm >= mc->layers) {
        st = splitee__fail(&err, SPLITEE_ERR_ARG, "--policy: fixed:%d but the model has %d layers",
                           o.policy.fixed_arm + 1, mc->layers);
        goto done;
    }
    if ((st = splitee_distorter_create(&o.in.distort, im.rows, im.cols, &dist, &err)) < 0)
        goto done;
    long total = (long)im.count;
    if (o.stream) {   /* the frames of `splitee stream --frames N` with its defaults */
        splitee_stream_config sc;
        splitee_stream_config_default(&sc);
        sc.frames = (size_t)o.stream;
        size_t n = im.rows * im.cols;
        if (o.in.distort.kind != SPLITEE_DISTORTION_KIND_NONE)
            st = splitee__fail(&err, SPLITEE_ERR_ARG, "--stream: a stream has its own noise (no --domain/--distort)");
        else if (!(frames = malloc(sc.frames * n * sizeof *frames)) || !(source = malloc(sc.frames * sizeof *source)) ||
                 !(scene = malloc(sc.frames * sizeof *scene)))
            st = splitee__fail(&err, SPLITEE_ERR_NOMEM, "--stream: out of memory for %zu frames", sc.frames);
        else
            st = splitee_stream_generate(&im, &sc, frames, source, scene, &err);
        if (st < 0)
            goto done;
        total = o.stream;
    } else if (splitee_exit_kind_info(o.reward.exit.kind)->stream) {
        cli_note("--rule %s: the images are not a stream (--stream N makes one)",
                 splitee_exit_kind_name(o.reward.exit.kind));
    }
    o.dev.rounds = (size_t)total;
    if (o.has_cloud) {
        o.dev.host = o.host;
        o.dev.port = o.port;
        o.dev.clouds = o.clouds;
        o.dev.nclouds = o.nclouds;
    }
    o.dev.seed = o.seed + 2;
    if ((st = splitee_device_create(m, &o.policy, &o.reward, &o.dev, &d, &err)) < 0)
        goto done;
    int loaded = 0;
    if (o.state && (st = load_state(o.state, splitee_device_policy(d), &loaded, &err)) < 0)
        goto done;
    if (loaded) {   /* what to put back if this run fails */
        char *text = splitee_policy_save(splitee_device_policy(d));
        if (!text) {
            st = splitee__fail(&err, SPLITEE_ERR_NOMEM, "%s: out of memory", o.state);
            goto done;
        }
        state_before = text;
        state_len = strlen(text);
    }
    px = malloc(im.rows * im.cols * sizeof *px);
    rng = splitee__rng_alloc(o.seed);
    if (!px || !rng) {
        st = splitee__fail(&err, SPLITEE_ERR_NOMEM, "device: out of memory");
        goto done;
    }
    if (o.log) {
        if ((st = splitee_report_device_log_create(&logw, &err)) < 0)
            goto done;
        size_t n = strlen(o.log) + 32;
        log_tmp = malloc(n);
        if (log_tmp) {
            snprintf(log_tmp, n, "%s.tmp%ld", o.log, (long)getpid());
            logf = fopen(log_tmp, "w");
        }
        if (!logf) {
            st = splitee__fail(&err, SPLITEE_ERR_IO, "%s: cannot write: %s", o.log, strerror(errno));
            goto done;
        }
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (loaded) {
        char line[512];
        snprintf(line, sizeof line, "%s: resumed after %lld rounds (learned layer %d)", o.state,
                 splitee_policy_rounds(splitee_device_policy(d)),
                 splitee_policy_best_arm(splitee_device_policy(d)) + 1);
        cli_live_log("device", line);
    }
    if (!o.has_cloud)
        cli_live_log("device", "no cloud (--cloud none): every offload is finished on the device");
    long k = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cli_meter_start(&meter, &o.prog, "device", "samples");
    for (; k < total && !stop_asked; k++) {
        cli_meter_update(&meter, (size_t)k, (size_t)total);
        if (o.interval > 0) {
            double at = (double)t0.tv_sec + (double)t0.tv_nsec * 1e-9 + (double)k * o.interval;
            struct timespec due = { (time_t)at, (long)((at - floor(at)) * 1e9) };
            while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, NULL) == EINTR && !stop_asked) {
            }
        }
        size_t img = frames ? (size_t)source[k] : (size_t)k;
        if (frames)
            memcpy(px, frames + (size_t)k * im.rows * im.cols, im.rows * im.cols * sizeof *px);
        else
            splitee_distorter_apply(dist, im.pixels + (size_t)k * im.rows * im.cols, (uint64_t)k, px);
        splitee_round r;
        int label = im.labels ? im.labels[img] : -1;
        if ((st = splitee_device_step(d, px, label, rng, &r, &err)) < 0)
            goto done;
        const splitee_transfer *tr = clk ? splitee_link_clock_take(clk) : NULL;
        if (logf && splitee_report_device_log_write(logw, logf, &r, k, tr) < 0) {
            st = splitee__fail(&err, SPLITEE_ERR_IO, "%s: cannot write", o.log);
            goto done;
        }
        /* a failed attempt is worth a line (on a connection that was up,
         * or on one just opened, which the note says); the rounds that
         * fall back while waiting for the next retry, and --cloud none,
         * are quiet */
        if (o.has_cloud && r.outcome == SPLITEE_ROUND_OUTCOME_FALLBACK && r.note[0] &&
            strncmp(r.note, "cloud unreachable", 17) != 0) {
            char line[400];
            cli_meter_break();
            snprintf(line, sizeof line, "round %ld: fallback: %s", k, r.note);
            cli_live_log("device", line);
        }
        if (o.state && (k + 1) % o.save_every == 0) {
            if ((st = save_state(o.state, splitee_device_policy(d), &err)) < 0)
                goto done;
            wrote_state = 1;
        }
    }
    cli_meter_update(&meter, (size_t)k, (size_t)total);
    cli_meter_end(&meter);
    if (stop_asked) {
        char line[128];
        snprintf(line, sizeof line, "stopped by a signal after %ld of %ld samples", k, total);
        cli_live_log("device", line);
    }
    splitee_device_summary s;
    splitee_device_summarize(d, &s);
    if (o.json) {
        if (!(cmdline = cli_join_args("device", argc, argv))) {
            st = splitee__fail(&err, SPLITEE_ERR_NOMEM, "%s: out of memory", o.json);
            goto done;
        }
        splitee_report_device_meta meta = { cmdline, NULL, &o.policy,
                                            splitee_payload_encoding_name(o.dev.encoding), o.link,
                                            splitee_device_reward(d) };
        if ((st = write_summary(o.json, &s, &meta, &err)) < 0)
            goto done;
        wrote_json = 1;
    }
    if (o.state) {
        if ((st = save_state(o.state, splitee_device_policy(d), &err)) < 0)
            goto done;
        wrote_state = 1;
    }
    if (logf) {
        int bad = fclose(logf) != 0;
        logf = NULL;
        if (bad || rename(log_tmp, o.log) != 0) {
            st = splitee__fail(&err, SPLITEE_ERR_IO, "%s: cannot write", o.log);
            goto done;
        }
        free(log_tmp);
        log_tmp = NULL;
    }
    if (!o.quiet)
        splitee_report_device_text(stdout, &s);
done:
    cli_meter_end(&meter);
    if (st < 0 && wrote_state) {
        /* no output of a failed run stays behind: the state goes back to
         * what it was (or away, if this run made it) */
        if (state_before)
            splitee_file_write_atomic(o.state, state_before, state_len, NULL);
        else
            remove(o.state);
    }
    if (st < 0 && wrote_json)
        remove(o.json);
    if (logf)
        fclose(logf);
    if (log_tmp) {
        remove(log_tmp);
        free(log_tmp);
    }
    free(state_before);
    free(cmdline);
    free(px);
    free(frames);
    free(source);
    free(scene);
    gsl_rng_free(rng);
    splitee_device_free(d);
    splitee_distorter_free(dist);
    splitee_images_free(&im);
    splitee_model_free(m);
    splitee_report_device_log_free(logw);
    splitee_link_clock_free(clk);
    splitee_link_free(lk);
    cli_free(&CMD, &o);
    if (st == 1)
        return 0;
    return st < 0 ? cli_fail(&err, st) : 0;
}
