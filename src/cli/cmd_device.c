/* cmd_device.c -- `splitee device`: stream IDX images through the device
 * loop (device.h) against a cloud, learning the split layer online; a
 * JSON-lines log per round, a summary on stdout and in --json, learned
 * state in --state. Output files are written through temporaries and
 * renamed, so an early failure leaves none behind. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cjson/cJSON.h>
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
    /* what the rest of this file uses, from them (dev_finish) */
    const char *model, *images, *labels, *log, *json, *state, *link;
    char host[256];
    int port, has_cloud;
    splitee_policy_config policy;
    splitee_reward_config reward;
    double layer_cost[SPLITEE_MAX_EXITS], offload_cost[SPLITEE_MAX_EXITS];
    int nlayer_cost, noffload_cost;
    splitee_device_config dev;    /* timeout, eval, sleep straight from the options */
    long limit, save_every;
    double interval;              /* seconds between sample starts (a sensor's rate), 0: none */
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

/* --cloud HOST:PORT, or none. */
static int set_cloud(void *g, const char *v, const cli_ctx *ctx, splitee_error *err)
{
    dev_opts *o = g;
    (void)ctx;
    if (strcmp(v, "none") == 0) {
        o->has_cloud = 0;
        return 0;
    }
    o->has_cloud = 1;
    return cli_parse_hostport(v, o->host, sizeof o->host, &o->port, 0, "--cloud", err);
}

static const cli_opt OPT_CLOUD = { .name = "cloud", .arg = "HOST:PORT", .kind = CLI_FN, .set = set_cloud,
    .help = "the cloud (required); none: no cloud, every offload falls back" };
static const cli_opt OPT_TIMEOUT = { .name = "timeout", .arg = "S", .kind = CLI_DOUBLE,
    .off = offsetof(dev_opts, dev.timeout_s), .lo = 0, .hi = 3600, .open = CLI_OPEN_LO,
    .help = "connect and request timeout, seconds", .def = "1" };
static const cli_opt OPT_INTERVAL = { .name = "interval", .arg = "S", .kind = CLI_DOUBLE,
    .off = offsetof(dev_opts, interval), .lo = 0, .hi = 3600,
    .help = "start a sample every S seconds, like a sensor (0: at once)", .def = "0" };
static const cli_opt OPT_EVAL = { .name = "eval", .kind = CLI_SET, .ival = 1,
    .off = offsetof(dev_opts, dev.eval),
    .help = "also run every exit locally for regret (evaluation only)" };
static const cli_opt *const LIVE_OPTS[] = { &OPT_CLOUD, &OPT_TIMEOUT, &OPT_INTERVAL, &OPT_EVAL, NULL };
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
    .synopsis = "splitee device --cloud HOST:PORT [options]",
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
    if ((st = cli_exit_live(&o->ex, "device", err)) < 0 ||
        (st = cli_policy_one(&o->pol, "device", &o->policy, err)) < 0 ||
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
    memcpy(o->layer_cost, o->rw.layer_cost, sizeof o->layer_cost);
    memcpy(o->offload_cost, o->rw.offload_cost, sizeof o->offload_cost);
    o->nlayer_cost = o->rw.nlayer_cost;
    o->noffload_cost = o->rw.noffload_cost;
    return 0;
}

/* ---- the link hook ------------------------------------------------------ */

/* The live link: one radio whose state follows this device's transfers,
 * on a clock that is the wall clock since the start plus, without --sleep,
 * every simulated latency so far (so a trace advances as if the device
 * had waited for its transfers). */
typedef struct live_link {
    splitee_link *lk;
    splitee_radio *radio;
    gsl_rng *rng;              /* jitter and loss draws (seed + 1) */
    struct timespec t0;
    double skipped_s;          /* simulated latency not slept, seconds */
    int sleep;
    splitee_transfer last;     /* the last transfer priced */
} live_link;

static int link_price(void *ctx, int layer, size_t bytes, double *cost, double *latency_s)
{
    live_link *l = ctx;
    (void)layer;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double t = (double)(now.tv_sec - l->t0.tv_sec) + (double)(now.tv_nsec - l->t0.tv_nsec) * 1e-9 +
               l->skipped_s;
    splitee_link_send(l->lk, l->radio, bytes, t, l->rng, &l->last);
    *cost = l->last.cost;
    *latency_s = l->last.latency_ms / 1000.0;
    if (!l->sleep && isfinite(*latency_s))
        l->skipped_s += *latency_s;
    return isfinite(l->last.cost) ? 0 : -1;
}

static void close_link(live_link *l)
{
    splitee_radio_free(l->radio);
    splitee_link_free(l->lk);
    gsl_rng_free(l->rng);
    memset(l, 0, sizeof *l);
}

/* Loads --link, sets the device's hook and, unless --offload-cost was
 * given, the reward model's o per layer to the link's price of an isolated
 * offload at t = 0 (what the policy assumes for arms it has not seen
 * priced). */
static int open_link(dev_opts *o, live_link *l, const splitee_model_config *mc, splitee_error *err)
{
    if (!o->link)
        return 0;
    int st = splitee_link_load(o->link, &l->lk, err);
    if (st == 0)
        st = splitee_radio_create(l->lk, &l->radio, err);
    if (st < 0)
        return st;
    l->rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (!l->rng)
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "--link: out of memory");
    gsl_rng_set(l->rng, o->seed + 1);
    clock_gettime(CLOCK_MONOTONIC, &l->t0);
    l->sleep = o->dev.sleep;
    o->dev.link = link_price;
    o->dev.link_ctx = l;
    if (!o->noffload_cost) {
        size_t bytes = SPLITEE_WIRE_HEADER_SIZE +
                       splitee_payload_size(o->dev.encoding, (size_t)mc->tokens, (size_t)mc->dim);
        splitee_transfer tr;
        splitee_link_price(l->lk, bytes, 0.0, 0, &tr);
        for (int a = 0; a < mc->layers; a++)
            o->offload_cost[a] = tr.cost;
        o->noffload_cost = mc->layers;
        o->reward.offload_cost = o->offload_cost;
    }
    return 0;
}

/* ---- outputs ------------------------------------------------------------ */

/* JSON string body of s (no quotes) into f. */
static void json_str(FILE *f, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
}

static void json_num(FILE *f, double x)
{
    if (isfinite(x))
        fprintf(f, "%.17g", x);
    else
        fputs("null", f);
}

static void log_round(FILE *f, const splitee_round *r, long sample, const live_link *l)
{
    fprintf(f, "{\"round\":%ld,\"sample\":%ld,\"layer\":%d,\"outcome\":\"%s\",\"exit\":%d,"
               "\"prediction\":%d,", r->index, sample, r->arm + 1, splitee_round_outcome_name(r->outcome),
            r->exit + 1, r->prediction);
    if (r->label >= 0)
        fprintf(f, "\"label\":%d,\"correct\":%s,", r->label, r->prediction == r->label ? "true" : "false");
    else
        fputs("\"label\":null,\"correct\":null,", f);
    fputs("\"conf\":", f);
    json_num(f, r->conf_arm);
    fputs(",\"conf_final\":", f);
    json_num(f, r->conf_final);
    fputs(",\"cost\":", f);
    json_num(f, r->cost);
    fputs(",\"reward\":", f);
    json_num(f, r->reward);
    fputs(",\"offload_cost\":", f);
    json_num(f, r->offload_cost);
    fprintf(f, ",\"bytes\":%zu,\"device_us\":%.1f,\"rtt_us\":%.1f,\"cloud_us\":%.1f,\"link_s\":%.6g,"
               "\"controller_ns\":%.0f,\"reconnects\":%d,\"note\":\"", r->payload_bytes, r->device_us,
            r->rtt_us, r->cloud_us, r->link_s, r->controller_ns, r->reconnects);
    json_str(f, r->note);
    fputc('"', f);
    if (l->lk && r->link_s > 0)
        fprintf(f, ",\"link_ms\":%.3f,\"energy_mJ\":%.3f,\"losses\":%d", l->last.latency_ms,
                l->last.energy_mJ, l->last.losses);
    fputs("}\n", f);
}

static cJSON *num_or_null(double x)
{
    return isfinite(x) ? cJSON_CreateNumber(x) : cJSON_CreateNull();
}

static char *summary_json(const dev_opts *o, const splitee_device_summary *s, const splitee_reward *rw,
                          const char *cmdline)
{
    cJSON *j = cJSON_CreateObject();
    char date[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
    char pol[64];
    splitee_policy_display_name(&o->policy, pol, sizeof pol);
    cJSON_AddStringToObject(j, "command", cmdline);
    cJSON_AddStringToObject(j, "date", date);
    cJSON_AddStringToObject(j, "policy", pol);
    cJSON_AddStringToObject(j, "encoding", splitee_payload_encoding_name(o->dev.encoding));
    cJSON_AddItemToObject(j, "link", o->link ? cJSON_CreateString(o->link) : cJSON_CreateNull());
    cJSON *p = cJSON_AddObjectToObject(j, "reward");
    cJSON_AddNumberToObject(p, "alpha", rw->alpha);
    cJSON_AddNumberToObject(p, "mu", rw->mu);
    cJSON_AddItemToObject(p, "gamma", cJSON_CreateDoubleArray(rw->gamma, rw->arms));
    cJSON_AddItemToObject(p, "offload", cJSON_CreateDoubleArray(rw->offload, rw->arms));
    cJSON *c = cJSON_AddObjectToObject(j, "counts");
    cJSON_AddNumberToObject(c, "samples", (double)s->samples);
    cJSON_AddNumberToObject(c, "exited", (double)s->exited);
    cJSON_AddNumberToObject(c, "offloaded", (double)s->offloaded);
    cJSON_AddNumberToObject(c, "fallback", (double)s->fallback);
    cJSON_AddItemToObject(j, "accuracy", num_or_null(s->accuracy));
    cJSON_AddItemToObject(j, "avg_cost", num_or_null(s->avg_cost));
    cJSON_AddItemToObject(j, "avg_reward", num_or_null(s->avg_reward));
    cJSON_AddItemToObject(j, "offload_rate", num_or_null(s->offload_rate));
    cJSON_AddNumberToObject(j, "learned_layer", s->learned_arm + 1);
    double plays[SPLITEE_MAX_EXITS];
    for (int a = 0; a < s->arms; a++)
        plays[a] = (double)s->arm_plays[a];
    cJSON_AddItemToObject(j, "layer_plays", cJSON_CreateDoubleArray(plays, s->arms));
    cJSON *tm_ = cJSON_AddObjectToObject(j, "timing");
    cJSON_AddItemToObject(tm_, "controller_ns_mean", num_or_null(s->controller_ns_mean));
    cJSON_AddItemToObject(tm_, "controller_ns_p50", num_or_null(s->controller_ns_p50));
    cJSON_AddItemToObject(tm_, "controller_ns_max", num_or_null(s->controller_ns_max));
    cJSON_AddItemToObject(tm_, "device_us_mean", num_or_null(s->device_us_mean));
    cJSON_AddItemToObject(tm_, "rtt_us_mean", num_or_null(s->rtt_us_mean));
    cJSON_AddItemToObject(tm_, "cloud_us_mean", num_or_null(s->cloud_us_mean));
    if (s->has_regret) {
        cJSON *r = cJSON_AddObjectToObject(j, "regret");
        cJSON_AddNumberToObject(r, "best_layer", s->best_arm + 1);
        cJSON_AddNumberToObject(r, "pseudo", s->pseudo_regret);
        cJSON_AddNumberToObject(r, "realized", s->realized_regret);
    } else {
        cJSON_AddNullToObject(j, "regret");
    }
    cJSON *cv = cJSON_AddObjectToObject(j, "curves");
    static const char *names[5] = { "round", "accuracy", "cost", "pseudo_regret", "realized_regret" };
    for (int k = 0; k < 5; k++) {
        cJSON *arr = cJSON_AddArrayToObject(cv, names[k]);
        for (int i = 0; i < s->checkpoints; i++)
            cJSON_AddItemToArray(arr, num_or_null(s->curve[(size_t)i * 5 + k]));
    }
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    return text;
}

static void print_summary(FILE *f, const splitee_device_summary *s)
{
    fprintf(f, "samples %ld: exited %ld, offloaded %ld, fallback %ld\n", s->samples, s->exited,
            s->offloaded, s->fallback);
    if (isfinite(s->accuracy))
        fprintf(f, "accuracy %.4f (%ld/%ld)\n", s->accuracy, s->correct, s->labelled);
    fprintf(f, "average cost %.4f, average reward %.4f, offload rate %.1f%%\n", s->avg_cost,
            s->avg_reward, 100 * s->offload_rate);
    fprintf(f, "learned layer %d; plays per layer:", s->learned_arm + 1);
    for (int a = 0; a < s->arms; a++)
        fprintf(f, " %ld", s->arm_plays[a]);
    fputc('\n', f);
    if (s->has_regret)
        fprintf(f, "regret vs best fixed layer %d: pseudo %.3f, realized %.3f\n", s->best_arm + 1,
                s->pseudo_regret, s->realized_regret);
    fprintf(f, "controller %.0f ns/round (median %.0f, max %.0f); device engine %.1f us/sample",
            s->controller_ns_mean, s->controller_ns_p50, s->controller_ns_max, s->device_us_mean);
    if (isfinite(s->rtt_us_mean))
        fprintf(f, "; offload round trip %.1f us (cloud compute %.1f us)", s->rtt_us_mean, s->cloud_us_mean);
    fputc('\n', f);
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
    st = splitee_policy_load(p, text, &e);
    free(text);
    if (st < 0)
        return splitee__fail(err, st, "%s: %s", path, e.msg);
    *loaded = 1;
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
    FILE *logf = NULL;
    char *log_tmp = NULL, *cmdline = NULL;
    float *px = NULL;
    live_link link;
    memset(&link, 0, sizeof link);
    cli_meter meter = { 0 };
    int st = parse(&o, argc, argv, &err);
    if (st != 0)
        goto done;
    if (o.nlayer_cost)
        o.reward.layer_cost = o.layer_cost;
    if (o.noffload_cost)
        o.reward.offload_cost = o.offload_cost;
    if ((st = splitee_model_load(o.model, &m, &err)) < 0)
        goto done;
    const splitee_model_config *mc = splitee_model_get_config(m);
    if ((st = open_link(&o, &link, mc, &err)) < 0)
        goto done;
    if ((o.nlayer_cost && o.nlayer_cost != mc->layers) || (o.noffload_cost && o.noffload_cost != mc->layers)) {
        st = splitee__fail(&err, SPLITEE_ERR_SHAPE, "%s: %d values for a model with %d layers",
                           o.nlayer_cost && o.nlayer_cost != mc->layers ? "--layer-cost" : "--offload-cost",
                           o.nlayer_cost && o.nlayer_cost != mc->layers ? o.nlayer_cost : o.noffload_cost,
                           mc->layers);
        goto done;
    }
    if (o.policy.kind == SPLITEE_POLICY_FIXED && o.policy.fixed_arm >= mc->layers) {
        st = splitee__fail(&err, SPLITEE_ERR_ARG, "--policy: fixed:%d but the model has %d layers",
                           o.policy.fixed_arm + 1, mc->layers);
        goto done;
    }
    if ((st = splitee_idx_load(o.images, o.labels, &im, &err)) < 0)
        goto done;
    if (!im.labels && !o.in.labels_none)
        cli_note("%s: no labels, so no accuracy is reported (--labels FILE gives them)", o.images);
    if (im.rows != (size_t)mc->image_size || im.cols != (size_t)mc->image_size) {
        st = splitee__fail(&err, SPLITEE_ERR_SHAPE, "%s: %zux%zu images, the model takes %dx%d", o.images,
                           im.rows, im.cols, mc->image_size, mc->image_size);
        goto done;
    }
    splitee_distortion_config dc = o.in.distort;
    if ((st = splitee_distorter_create(&dc, im.rows, im.cols, &dist, &err)) < 0)
        goto done;
    long total = (long)im.count;
    if (o.limit && o.limit < total)
        total = o.limit;
    o.dev.rounds = (size_t)total;
    if (o.has_cloud) {
        o.dev.host = o.host;
        o.dev.port = o.port;
    }
    if ((st = splitee_device_create(m, &o.policy, &o.reward, &o.dev, &d, &err)) < 0)
        goto done;
    int loaded = 0;
    if (o.state && (st = load_state(o.state, splitee_device_policy(d), &loaded, &err)) < 0)
        goto done;
    px = malloc(im.rows * im.cols * sizeof *px);
    rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (!px || !rng) {
        st = splitee__fail(&err, SPLITEE_ERR_NOMEM, "device: out of memory");
        goto done;
    }
    gsl_rng_set(rng, o.seed);
    if (o.log) {
        size_t n = strlen(o.log) + 16;
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
        splitee_distorter_apply(dist, im.pixels + (size_t)k * im.rows * im.cols, (uint64_t)k, px);
        splitee_round r;
        int label = im.labels ? im.labels[k] : -1;
        if ((st = splitee_device_step(d, px, label, rng, &r, &err)) < 0)
            goto done;
        if (logf)
            log_round(logf, &r, k, &link);
        if (r.outcome == SPLITEE_ROUND_FALLBACK && r.reconnects == 0 && r.note[0] &&
            strncmp(r.note, "cloud unreachable", 17) != 0) {
            char line[400];
            snprintf(line, sizeof line, "round %ld: fallback: %s", k, r.note);
            cli_live_log("device", line);
        }
        if (o.state && (k + 1) % o.save_every == 0 &&
            (st = save_state(o.state, splitee_device_policy(d), &err)) < 0)
            goto done;
    }
    cli_meter_update(&meter, (size_t)k, (size_t)total);
    cli_meter_end(&meter);
    if (stop_asked) {
        char line[128];
        snprintf(line, sizeof line, "stopped by a signal after %ld of %ld samples", k, total);
        cli_live_log("device", line);
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
    if (o.state && (st = save_state(o.state, splitee_device_policy(d), &err)) < 0)
        goto done;
    splitee_device_summary s;
    splitee_device_summarize(d, &s);
    if (!o.quiet)
        print_summary(stdout, &s);
    if (o.json) {
        cmdline = cli_join_args("device", argc, argv);
        char *text = cmdline ? summary_json(&o, &s, splitee_device_reward(d), cmdline) : NULL;
        if (!text) {
            st = splitee__fail(&err, SPLITEE_ERR_NOMEM, "%s: out of memory", o.json);
            goto done;
        }
        st = splitee_file_write_atomic(o.json, text, strlen(text), &err);
        free(text);
    }
done:
    cli_meter_end(&meter);
    if (logf)
        fclose(logf);
    if (log_tmp) {
        remove(log_tmp);
        free(log_tmp);
    }
    free(cmdline);
    free(px);
    gsl_rng_free(rng);
    splitee_device_free(d);
    splitee_distorter_free(dist);
    splitee_images_release(&im);
    splitee_model_free(m);
    close_link(&link);
    cli_free(&CMD, &o);
    if (st == 1)
        return 0;
    return st < 0 ? cli_fail(&err, st) : 0;
}
