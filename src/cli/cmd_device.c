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
#include "live.h"
#include "options.h"

typedef struct dev_opts {
    const char *model, *images, *labels, *domain, *log, *json, *state, *link;
    char host[256];
    int port, has_cloud;
    splitee_policy_config policy;
    splitee_reward_config reward;
    double layer_cost[SPLITEE_MAX_EXITS], offload_cost[SPLITEE_MAX_EXITS];
    int nlayer_cost, noffload_cost;
    splitee_device_config dev;
    long limit, save_every;
    double interval;              /* seconds between sample starts (a sensor's rate), 0: none */
    unsigned long seed;
    int quiet;
} dev_opts;

static volatile sig_atomic_t stop_asked;

static void on_signal(int sig)
{
    (void)sig;
    stop_asked = 1;
}

static void device_usage(FILE *f)
{
    fputs("usage: splitee device --cloud HOST:PORT [options]\n\n"
          "Runs the device side of live split computing: per image, the policy picks\n"
          "the split layer, the engine runs that many layers; the image exits if its\n"
          "exit is confident (>= alpha) or the layer is the last, else the activation\n"
          "goes to the cloud, which returns the final prediction and confidence; the\n"
          "policy learns from what it saw. Unreachable cloud: the image is finished on\n"
          "the device (fallback). See docs/LIVE.md.\n\n"
          "  --model DIR          model folder (default data/model)\n"
          "  --cloud HOST:PORT    the cloud (`none`: no cloud, every offload falls back)\n"
          "  --policy P           splitee (default), splitee-s, final, random, fixed:K,\n"
          "                       ee-threshold, epsilon-greedy, thompson, kl-ucb, ucb-v\n"
          "  --alpha A --lambda L --mu M --offload O --beta B --epsilon E\n"
          "                       reward model and policy parameters (0.8 0.1 1 0.3 1 0.05)\n"
          "  --layer-cost V       per-layer device cost (list or file, e.g. a profile JSON)\n"
          "  --offload-cost V     per-layer offloading cost o_i\n"
          "  --side-info honest|reference   splitee-s side observations (honest)\n"
          "  --link PROFILE       price offloads with the link-cost simulator\n"
          "  --sleep              sleep the simulated link latency of each offload\n"
          "  --images IDX         images (default: the Fashion-MNIST test set in\n"
          "                       /usr/share/datasets/fashion-mnist)\n"
          "  --labels IDX         labels, for accuracy (default: the images' t10k labels\n"
          "                       when --images is the default; `none` for no labels)\n"
          "  --domain D           clean, noise, blur, contrast (alias --distort)\n"
          "  --encoding E         payload encoding f32 (default), f16, int8\n"
          "  --limit N            first N images (default all)\n"
          "  --timeout S          connect/request timeout in seconds (1)\n"
          "  --interval S         start a sample every S seconds, like a sensor (0: at once)\n"
          "  --eval               also run every exit locally for regret (evaluation only)\n"
          "  --checkpoints N      curve points in --json (100)\n"
          "  --log FILE.jsonl     one JSON object per round\n"
          "  --json FILE          summary, metrics and curves\n"
          "  --state FILE         learned policy state: loaded if present, saved at the\n"
          "                       end and every --save-every N rounds (100)\n"
          "  --seed S             seed of the policy's random draws (1)\n"
          "  --quiet              no summary on stdout\n", f);
}

static int need(int argc, char **argv, int i, splitee_error *err)
{
    if (i + 1 >= argc)
        return splitee__fail(err, SPLITEE_ERR_ARG, "%s: missing value", argv[i]);
    return 0;
}

static int num(const char *opt, const char *v, double lo, double hi, double *out, splitee_error *err)
{
    if (cli_parse_double(v, out) < 0 || *out < lo || *out > hi)
        return splitee__fail(err, SPLITEE_ERR_ARG, "%s: expected a number in [%g, %g], got '%s'", opt, lo,
                             hi, v);
    return 0;
}

static int parse(dev_opts *o, int argc, char **argv, splitee_error *err)
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            device_usage(stdout);
            return 1;
        }
        int st = 0;
        long n;
        if (strcmp(a, "--eval") == 0) {
            o->dev.eval = 1;
            continue;
        }
        if (strcmp(a, "--sleep") == 0) {
            o->dev.sleep = 1;
            continue;
        }
        if (strcmp(a, "--quiet") == 0) {
            o->quiet = 1;
            continue;
        }
        if ((st = need(argc, argv, i, err)) < 0)
            return st;
        const char *v = argv[++i];
        if (strcmp(a, "--model") == 0)
            o->model = v;
        else if (strcmp(a, "--cloud") == 0) {
            if (strcmp(v, "none") == 0)
                o->has_cloud = 0;
            else {
                st = cli_parse_hostport(v, o->host, sizeof o->host, &o->port, 0, "--cloud", err);
                o->has_cloud = 1;
            }
        } else if (strcmp(a, "--policy") == 0) {
            if (splitee_policy_parse(v, &o->policy) < 0 || o->policy.kind == SPLITEE_POLICY_KIND_ORACLE)
                st = splitee__fail(err, SPLITEE_ERR_ARG,
                                   "--policy: unknown policy '%s' (splitee, splitee-s, final, random, fixed:K, "
                                   "ee-threshold, epsilon-greedy, thompson, kl-ucb, ucb-v)", v);
        } else if (strcmp(a, "--alpha") == 0)
            st = num(a, v, 0, 1, &o->reward.alpha, err);
        else if (strcmp(a, "--lambda") == 0)
            st = num(a, v, 0, 1e9, &o->reward.lambda, err);
        else if (strcmp(a, "--mu") == 0)
            st = num(a, v, 0, 1e9, &o->reward.mu, err);
        else if (strcmp(a, "--offload") == 0)
            st = num(a, v, 0, 1e9, &o->reward.offload, err);
        else if (strcmp(a, "--beta") == 0)
            st = num(a, v, 0, 1e9, &o->policy.beta, err);
        else if (strcmp(a, "--epsilon") == 0)
            st = num(a, v, 0, 1, &o->policy.epsilon, err);
        else if (strcmp(a, "--interval") == 0)
            st = num(a, v, 0, 3600, &o->interval, err);
        else if (strcmp(a, "--timeout") == 0)
            st = num(a, v, 1e-3, 3600, &o->dev.timeout_s, err);
        else if (strcmp(a, "--layer-cost") == 0)
            st = cli_parse_vector(v, o->layer_cost, SPLITEE_MAX_EXITS, &o->nlayer_cost, err, a);
        else if (strcmp(a, "--offload-cost") == 0)
            st = cli_parse_vector(v, o->offload_cost, SPLITEE_MAX_EXITS, &o->noffload_cost, err, a);
        else if (strcmp(a, "--side-info") == 0) {
            if (strcmp(v, "honest") == 0)
                o->policy.side_info = SPLITEE_SIDE_INFO_HONEST;
            else if (strcmp(v, "reference") == 0)
                o->policy.side_info = SPLITEE_SIDE_INFO_REFERENCE;
            else
                st = splitee__fail(err, SPLITEE_ERR_ARG, "--side-info: expected honest or reference, got '%s'", v);
        } else if (strcmp(a, "--link") == 0)
            o->link = v;
        else if (strcmp(a, "--images") == 0)
            o->images = v;
        else if (strcmp(a, "--labels") == 0)
            o->labels = v;
        else if (strcmp(a, "--domain") == 0 || strcmp(a, "--distort") == 0)
            o->domain = v;
        else if (strcmp(a, "--encoding") == 0)
            st = splitee_payload_encoding_parse(v, &o->dev.encoding, err);
        else if (strcmp(a, "--limit") == 0) {
            if (cli_parse_long(v, 1, 1L << 30, &n) < 0)
                st = splitee__fail(err, SPLITEE_ERR_ARG, "--limit: expected 1..2^30, got '%s'", v);
            o->limit = n;
        } else if (strcmp(a, "--checkpoints") == 0) {
            if (cli_parse_long(v, 1, 100000, &n) < 0)
                st = splitee__fail(err, SPLITEE_ERR_ARG, "--checkpoints: expected 1..100000, got '%s'", v);
            o->dev.checkpoints = (int)n;
        } else if (strcmp(a, "--save-every") == 0) {
            if (cli_parse_long(v, 1, 1L << 30, &n) < 0)
                st = splitee__fail(err, SPLITEE_ERR_ARG, "--save-every: expected 1..2^30, got '%s'", v);
            o->save_every = n;
        } else if (strcmp(a, "--seed") == 0) {
            if (cli_parse_long(v, 0, 0x7fffffffL, &n) < 0)
                st = splitee__fail(err, SPLITEE_ERR_ARG, "--seed: expected 0..2^31-1, got '%s'", v);
            o->seed = (unsigned long)n;
        } else if (strcmp(a, "--log") == 0)
            o->log = v;
        else if (strcmp(a, "--json") == 0)
            o->json = v;
        else if (strcmp(a, "--state") == 0)
            o->state = v;
        else
            st = splitee__fail(err, SPLITEE_ERR_ARG, "device: unknown option '%s' (see splitee device --help)", a);
        if (st < 0)
            return st;
    }
    if (o->has_cloud < 0)
        return splitee__fail(err, SPLITEE_ERR_ARG, "device: --cloud HOST:PORT is required (or --cloud none)");
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

static char *join_args(int argc, char **argv)
{
    size_t len = strlen("splitee device") + 1;
    for (int i = 0; i < argc; i++)
        len += strlen(argv[i]) + 1;
    char *s = malloc(len);
    if (!s)
        return NULL;
    strcpy(s, "splitee device");
    for (int i = 0; i < argc; i++) {
        strcat(s, " ");
        strcat(s, argv[i]);
    }
    return s;
}

int cli_device(int argc, char **argv)
{
    dev_opts o;
    memset(&o, 0, sizeof o);
    o.model = "data/model";
    o.has_cloud = -1;
    splitee_policy_config_default(&o.policy);
    splitee_reward_config_default(&o.reward);
    splitee_device_config_default(&o.dev);
    o.save_every = 100;
    o.seed = 1;
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
    char *log_tmp = NULL, *cmdline = NULL;
    float *px = NULL;
    int st = parse(&o, argc, argv, &err);
    if (st != 0)
        goto done;
    int default_images = !o.images;
    if (!o.images)
        o.images = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
    if (!o.labels && default_images)
        o.labels = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz";
    if (o.labels && strcmp(o.labels, "none") == 0)
        o.labels = NULL;
    if (o.nlayer_cost)
        o.reward.layer_cost = o.layer_cost;
    if (o.noffload_cost)
        o.reward.offload_cost = o.offload_cost;
    if ((st = splitee_model_load(o.model, &m, &err)) < 0)
        goto done;
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
    if (o.policy.kind == SPLITEE_POLICY_KIND_FIXED && o.policy.fixed_arm >= mc->layers) {
        st = splitee__fail(&err, SPLITEE_ERR_ARG, "--policy: fixed:%d but the model has %d layers",
                           o.policy.fixed_arm + 1, mc->layers);
        goto done;
    }
    if ((st = splitee_idx_load(o.images, o.labels, &im, &err)) < 0)
        goto done;
    if (im.rows != (size_t)mc->image_size || im.cols != (size_t)mc->image_size) {
        st = splitee__fail(&err, SPLITEE_ERR_SHAPE, "%s: %zux%zu images, the model takes %dx%d", o.images,
                           im.rows, im.cols, mc->image_size, mc->image_size);
        goto done;
    }
    splitee_distortion_config dc;
    splitee_distortion_config_default(&dc);
    if (o.domain && (st = splitee_distortion_domain(o.domain, &dc, &err)) < 0)
        goto done;
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
        if ((st = splitee_report_device_log_create(&logw, &err)) < 0)
            goto done;
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
    for (; k < total && !stop_asked; k++) {
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
        const splitee_transfer *tr = clk ? splitee_link_clock_take(clk) : NULL;
        if (logf && splitee_report_device_log_write(logw, logf, &r, k, tr) < 0) {
            st = splitee__fail(&err, SPLITEE_ERR_IO, "%s: cannot write", o.log);
            goto done;
        }
        if (r.outcome == SPLITEE_ROUND_OUTCOME_FALLBACK && r.reconnects == 0 && r.note[0] &&
            strncmp(r.note, "cloud unreachable", 17) != 0) {
            char line[400];
            snprintf(line, sizeof line, "round %ld: fallback: %s", k, r.note);
            cli_live_log("device", line);
        }
        if (o.state && (k + 1) % o.save_every == 0 &&
            (st = save_state(o.state, splitee_device_policy(d), &err)) < 0)
            goto done;
    }
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
        splitee_report_device_text(stdout, &s);
    if (o.json) {
        if (!(cmdline = join_args(argc, argv))) {
            st = splitee__fail(&err, SPLITEE_ERR_NOMEM, "%s: out of memory", o.json);
            goto done;
        }
        splitee_report_device_meta meta = { cmdline, NULL, &o.policy,
                                            splitee_payload_encoding_name(o.dev.encoding), o.link,
                                            splitee_device_reward(d) };
        st = write_summary(o.json, &s, &meta, &err);
    }
done:
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
    splitee_images_free(&im);
    splitee_model_free(m);
    splitee_report_device_log_free(logw);
    splitee_link_clock_free(clk);
    splitee_link_free(lk);
    if (st == 1)
        return 0;
    return st < 0 ? cli_fail(&err, st) : 0;
}
