/* cmd_profile.c -- `splitee profile`: measures the engine on this machine at
 * batch 1 (one image, one thread): the embedding, every layer and every
 * exit head, over many runs, and writes a JSON device profile whose
 * "layer_cost" array `splitee replay --layer-cost FILE` reads: its
 * cumulative sums are gamma_i, the device cost of arm i = embed + layers
 * 1..i + one exit head. So layer_cost[0] = embed + layer 1 + head and
 * layer_cost[k] = layer k+1 (0-based k), in milliseconds, or rescaled by
 * --normalise LAMBDA so that the mean per-layer cost is LAMBDA (the shape
 * is kept; it then plugs into replay's default mu). The timings themselves
 * are not reproducible; the file's structure is (tests/test_cli.sh). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "core/internal.h"
#include "groups.h"

typedef struct profile_opts {
    cli_model model;
    cli_input in;     /* --images only */
    cli_progress prog;
    long runs, warmup;
    double normalise; /* > 0: rescale layer_cost to this mean; 0: ms */
    char *out;
} profile_opts;

static const cli_opt OPT_RUNS = { .name = "runs", .arg = "N", .kind = CLI_LONG,
    .off = offsetof(profile_opts, runs), .lo = 1, .hi = 10000000, .help = "timed runs", .def = "200" };
static const cli_opt OPT_WARMUP = { .name = "warmup", .arg = "N", .kind = CLI_LONG,
    .off = offsetof(profile_opts, warmup), .lo = 0, .hi = 10000000, .help = "untimed runs first",
    .def = "20" };
static const cli_opt OPT_NORMALISE = { .name = "normalise", .arg = "LAMBDA", .kind = CLI_DOUBLE,
    .off = offsetof(profile_opts, normalise), .lo = 0, .hi = INFINITY, .open = CLI_OPEN_LO,
    .help = "rescale layer_cost so that its mean is LAMBDA", .def_text = "ms, unscaled" };
static const cli_opt OPT_OUT = { .name = "out", .arg = "FILE", .kind = CLI_STRING,
    .off = offsetof(profile_opts, out), .help = "write the device profile as JSON" };
static const cli_opt *const PROFILE_OPTS[] = { &OPT_RUNS, &OPT_WARMUP, &OPT_NORMALISE, &OPT_OUT, NULL };
static const cli_group PROFILE = { .title = "profile", .opts = PROFILE_OPTS };

static const cli_use GROUPS[] = {
    { &cli_group_model, offsetof(profile_opts, model) },
    { &cli_group_input_images, offsetof(profile_opts, in) },
    { &PROFILE, 0 },
    { &cli_group_progress, offsetof(profile_opts, prog) },
    { NULL, 0 },
};

static const cli_default DEFAULTS[] = {
    { "images", NULL, "a fixed synthetic image" },
    { NULL, NULL, NULL },
};

static const cli_command CMD = {
    .name = "profile",
    .synopsis = "splitee profile [options]",
    .about = "Times the embedding, every layer and every exit head at batch 1 on one thread and\n"
             "writes a device profile whose \"layer_cost\" feeds `splitee replay --layer-cost`.\n"
             "--images: the first image is timed (default: a fixed synthetic image).\n",
    .groups = GROUPS,
    .defaults = DEFAULTS,
    .data_note = 1,
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Quantile q of sorted x[0..n) with linear interpolation (NumPy's default). */
static double quantile(const double *x, size_t n, double q)
{
    double pos = q * (double)(n - 1);
    size_t i = (size_t)floor(pos);
    if (i + 1 >= n)
        return x[n - 1];
    return x[i] + (pos - (double)i) * (x[i + 1] - x[i]);
}

typedef struct summary {
    double p10, median, p90;  /* ms */
} summary;

/* Sorts x[0..n) in place and summarises it. */
static summary summarise(double *x, size_t n)
{
    qsort(x, n, sizeof *x, cmp_double);
    return (summary){ quantile(x, n, 0.1), quantile(x, n, 0.5), quantile(x, n, 0.9) };
}

/* One pass: t[0] embed, t[1 + 2l] layer l, t[2 + 2l] exit l (ms). */
static int one_run(splitee_engine_state *s, const float *px, int L, float *logits, double *t,
                   splitee_error *err)
{
    double a = now_ms(), b;
    int st = splitee_engine_embed(s, px, err);
    b = now_ms();
    t[0] = b - a;
    for (int l = 0; l < L && st == 0; l++) {
        a = now_ms();
        st = splitee_engine_run_layer(s, l, err);
        b = now_ms();
        t[1 + 2 * l] = b - a;
        if (st == 0)
            st = splitee_engine_exit_logits(s, l, logits, err);
        a = now_ms();
        t[2 + 2 * l] = a - b;
    }
    return st;
}

static void cpu_model(char *buf, size_t len)
{
    snprintf(buf, len, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *c = strchr(line, ':');
            if (c) {
                c++;
                while (*c == ' ' || *c == '\t')
                    c++;
                c[strcspn(c, "\n")] = '\0';
                snprintf(buf, len, "%s", c);
            }
            break;
        }
    }
    fclose(f);
}

static cJSON *summary_json(summary s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "median", s.median);
    cJSON_AddNumberToObject(o, "p10", s.p10);
    cJSON_AddNumberToObject(o, "p90", s.p90);
    return o;
}

typedef struct profile {
    int layers;
    summary embed, forward, layer[SPLITEE_MAX_EXITS], exit[SPLITEE_MAX_EXITS];
    double head_ms;                        /* median of the exit heads' medians */
    double layer_cost[SPLITEE_MAX_EXITS];  /* ms, or normalised */
    double scale;                          /* layer_cost = scale x ms */
} profile;

static int write_json(const char *path, const profile_opts *o, const splitee_model *m,
                      const profile *p, splitee_error *err)
{
    char cpu[256], date[64];
    cpu_model(cpu, sizeof cpu);
    time_t t = time(NULL);
    struct tm tmv;
    gmtime_r(&t, &tmv);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tmv);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "format", "splitee-device-profile");
    cJSON_AddNumberToObject(j, "version", 1);
    cJSON_AddStringToObject(j, "model", splitee_model_json_path(m));
    cJSON_AddNumberToObject(j, "layers", p->layers);
    cJSON_AddStringToObject(j, "units", o->normalise > 0 ? "normalised" : "ms");
    cJSON_AddNumberToObject(j, "scale", p->scale);
    cJSON *lc = cJSON_AddArrayToObject(j, "layer_cost");
    for (int l = 0; l < p->layers; l++)
        cJSON_AddItemToArray(lc, cJSON_CreateNumber(p->layer_cost[l]));
    cJSON *mac = cJSON_AddArrayToObject(j, "macs");   /* per layer: stage + its exit head */
    for (int l = 0; l < p->layers; l++)
        cJSON_AddItemToArray(mac, cJSON_CreateNumber((double)(splitee_model_stage_macs(m, l + 1) +
                                                              splitee_model_exit_macs(m, l + 1))));
    cJSON *ms = cJSON_AddObjectToObject(j, "ms");
    cJSON_AddItemToObject(ms, "embed", summary_json(p->embed));
    cJSON *la = cJSON_AddArrayToObject(ms, "layer");
    cJSON *ex = cJSON_AddArrayToObject(ms, "exit_head");
    for (int l = 0; l < p->layers; l++) {
        cJSON_AddItemToArray(la, summary_json(p->layer[l]));
        cJSON_AddItemToArray(ex, summary_json(p->exit[l]));
    }
    cJSON_AddNumberToObject(ms, "head", p->head_ms);
    cJSON_AddItemToObject(ms, "forward_all_exits", summary_json(p->forward));
    cJSON_AddNumberToObject(j, "runs", (double)o->runs);
    cJSON_AddNumberToObject(j, "warmup", (double)o->warmup);
    cJSON_AddNumberToObject(j, "batch", 1);
    cJSON *mach = cJSON_AddObjectToObject(j, "machine");
    cJSON_AddStringToObject(mach, "cpu", cpu);
    cJSON_AddNumberToObject(mach, "online_cpus", (double)sysconf(_SC_NPROCESSORS_ONLN));
    cJSON_AddNumberToObject(mach, "threads", 1);
    cJSON_AddStringToObject(mach, "date", date);
#ifdef __VERSION__
    cJSON_AddStringToObject(mach, "compiler", __VERSION__);
#endif
    cJSON_AddStringToObject(mach, "splitee", SPLITEE_VERSION);
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    if (!text)
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", path);
    size_t len = strlen(text);
    text[len] = '\n';   /* replaces the terminator; written by length */
    int st = splitee_file_write_atomic(path, text, len + 1, err);
    free(text);
    return st;
}

static void print_profile(FILE *f, const profile_opts *o, const splitee_model *m, const profile *p)
{
    fprintf(f, "batch 1, one thread, %ld runs after %ld warm-up runs (ms: median [p10, p90])\n\n",
            o->runs, o->warmup);
    fprintf(f, "%-10s %10s %10s %10s   %10s %10s %10s   %-10s %12s %10s\n", "", "median", "p10", "p90",
            "exit med", "p10", "p90", "layer_cost", "MACs", "exit MACs");
    fprintf(f, "%-10s %10.4f %10.4f %10.4f\n", "embed", p->embed.median, p->embed.p10, p->embed.p90);
    for (int l = 0; l < p->layers; l++) {
        char name[24];
        snprintf(name, sizeof name, "layer %d", l + 1);
        fprintf(f, "%-10s %10.4f %10.4f %10.4f   %10.4f %10.4f %10.4f   %-10.6g %12zu %10zu\n", name,
                p->layer[l].median, p->layer[l].p10, p->layer[l].p90, p->exit[l].median,
                p->exit[l].p10, p->exit[l].p90, p->layer_cost[l], splitee_model_stage_macs(m, l + 1),
                splitee_model_exit_macs(m, l + 1));
    }
    double gamma = 0;
    for (int l = 0; l < p->layers; l++)
        gamma += p->layer_cost[l];
    fprintf(f, "\nforward through every exit: %.4f ms median; exit head %.4f ms; "
               "gamma_L = %.6g %s\n", p->forward.median, p->head_ms, gamma,
            o->normalise > 0 ? "(normalised)" : "ms");
}

int cli_profile(int argc, char **argv)
{
    profile_opts o;
    memset(&o, 0, sizeof o);
    splitee_error err = { 0, "" };
    splitee_model *m = NULL;
    splitee_images im;
    memset(&im, 0, sizeof im);
    splitee_engine_state *s = NULL;
    float *px = NULL, *logits = NULL;
    double *t = NULL, *col = NULL;
    profile p;
    memset(&p, 0, sizeof p);

    cli_meter meter = { 0 };
    int st = cli_parse(&CMD, &o, argc, argv, &err);
    if (st != 0)
        goto done;
    splitee_distortion_config_default(&o.in.distort);
    if (o.in.images) {
        o.in.limit = 1;
        if ((st = cli_input_load(&o.in, &o.model, &m, &im, &err)) < 0)
            goto done;
    } else if ((st = splitee_model_load(o.model.dir, &m, &err)) < 0) {
        goto done;
    }
    const splitee_model_config *c = splitee_model_get_config(m);
    const int L = c->layers, W = 1 + 2 * L;
    size_t npx = splitee_model_split_elems(m, 0), R = (size_t)o.runs;   /* the model's input */
    px = malloc(npx * sizeof *px);
    logits = malloc((size_t)c->classes * sizeof *logits);
    t = malloc(R * (size_t)W * sizeof *t);
    col = malloc((R > (size_t)L ? R : (size_t)L) * sizeof *col);  /* one column, or the L exit medians */
    if (!px || !logits || !t || !col) {
        st = splitee__fail(&err, SPLITEE_ERR_NOMEM, "out of memory for %zu runs", R);
        goto done;
    }
    for (size_t i = 0; i < npx; i++)   /* image 0 (a (1, H, W) input), or a fixed pattern in [0, 1] */
        px[i] = im.pixels ? (float)(im.pixels[i] / 255.0) : (float)((i * 37 % 256) / 255.0);
    if ((st = splitee_engine_state_create(m, &s, &err)) < 0)
        goto done;
    cli_meter_start(&meter, &o.prog, "profile", "runs");
    size_t total = (size_t)o.warmup + R;
    for (long r = 0; r < o.warmup && st == 0; r++) {
        cli_meter_update(&meter, (size_t)r, total);
        st = one_run(s, px, L, logits, t, &err);
    }
    for (size_t r = 0; r < R && st == 0; r++) {
        cli_meter_update(&meter, (size_t)o.warmup + r, total);
        st = one_run(s, px, L, logits, t + r * W, &err);
    }
    if (st == 0)
        cli_meter_update(&meter, total, total);
    cli_meter_end(&meter);
    if (st < 0)
        goto done;
    /* per-quantity summaries, and the whole pass */
    p.layers = L;
    for (int k = 0; k < W; k++) {
        for (size_t r = 0; r < R; r++)
            col[r] = t[r * W + k];
        summary sm = summarise(col, R);
        if (k == 0)
            p.embed = sm;
        else if (k % 2 == 1)
            p.layer[(k - 1) / 2] = sm;
        else
            p.exit[(k - 2) / 2] = sm;
    }
    for (size_t r = 0; r < R; r++) {
        col[r] = 0;
        for (int k = 0; k < W; k++)
            col[r] += t[r * W + k];
    }
    p.forward = summarise(col, R);
    for (int l = 0; l < L; l++)
        col[l] = p.exit[l].median;
    p.head_ms = summarise(col, (size_t)L).median;
    double sum = 0;
    for (int l = 0; l < L; l++) {
        p.layer_cost[l] = p.layer[l].median + (l == 0 ? p.embed.median + p.head_ms : 0.0);
        sum += p.layer_cost[l];
    }
    p.scale = 1.0;
    if (o.normalise > 0 && sum > 0) {
        p.scale = o.normalise / (sum / L);
        for (int l = 0; l < L; l++)
            p.layer_cost[l] *= p.scale;
    }
    if (o.out && (st = write_json(o.out, &o, m, &p, &err)) < 0)
        goto done;
    print_profile(stdout, &o, m, &p);
done:
    free(px);
    free(logits);
    free(t);
    free(col);
    splitee_engine_state_free(s);
    splitee_images_free(&im);
    splitee_model_free(m);
    cli_free(&CMD, &o);
    if (st == 1)
        return 0;
    return st < 0 ? cli_fail(&err, st) : 0;
}
