/* engine_opts.c -- option parsing and input loading shared by the inference
 * engine commands (`splitee logits`, `infer`, `profile`); see
 * engine_opts.h. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "core/internal.h"
#include "engine_opts.h"

/* ------------------------------------------------------- option table --- */

static const cli_eopt *find(const cli_eopt *opts, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0)
            return &opts[i];
    return NULL;
}

void cli_eopts_print(FILE *f, const cli_eopt *opts, size_t nopts)
{
    for (size_t i = 0; i < nopts; i++) {
        char lhs[64];
        snprintf(lhs, sizeof lhs, "--%s%s%s", opts[i].name, opts[i].arg ? " " : "",
                 opts[i].arg ? opts[i].arg : "");
        fprintf(f, "  %-23s %s\n", lhs, opts[i].help);
    }
    fputs("  --help                  this text\n", f);
}

int cli_eopts_parse(const cli_eopt *opts, size_t nopts, void *o, int argc, char **argv,
                    const char *cmd, void (*usage)(FILE *), splitee_error *err)
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 1;
        }
        if (strncmp(a, "--", 2) != 0)
            return splitee__fail(err, SPLITEE_ERR_ARG, "unexpected argument '%s' (see splitee %s --help)", a, cmd);
        const char *eq = strchr(a + 2, '=');
        size_t nlen = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        const cli_eopt *d = find(opts, nopts, a + 2, nlen);
        if (!d)
            return splitee__fail(err, SPLITEE_ERR_ARG, "unknown option '%s' (see splitee %s --help)", a, cmd);
        const char *val = "";
        if (d->arg) {
            if (eq)
                val = eq + 1;
            else if (i + 1 < argc)
                val = argv[++i];
            else
                return splitee__fail(err, SPLITEE_ERR_ARG, "--%s: missing %s", d->name, d->arg);
        } else if (eq) {
            return splitee__fail(err, SPLITEE_ERR_ARG, "--%s takes no value", d->name);
        }
        int st = d->set(o, val, err);
        if (st < 0)
            return st;
    }
    return 0;
}

/* -------------------------------------------------------------- input --- */

void cli_input_defaults(cli_input *in)
{
    memset(in, 0, sizeof *in);
    in->model = strdup("data/model");
    splitee_distortion_config_default(&in->distort);
    snprintf(in->distort_name, sizeof in->distort_name, "clean");
    in->progress = -1;
}

void cli_input_free(cli_input *in)
{
    free(in->model);
    free(in->images);
    free(in->labels);
    in->model = in->images = in->labels = NULL;
}

int cli_set_string(char **dst, const char *v, splitee_error *err)
{
    char *c = strdup(v);
    if (!c)
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "out of memory");
    free(*dst);
    *dst = c;
    return 0;
}

int cli_set_model(void *o, const char *v, splitee_error *err)
{
    return cli_set_string(&((cli_input *)o)->model, v, err);
}

int cli_set_images(void *o, const char *v, splitee_error *err)
{
    return cli_set_string(&((cli_input *)o)->images, v, err);
}

int cli_set_labels(void *o, const char *v, splitee_error *err)
{
    return cli_set_string(&((cli_input *)o)->labels, v, err);
}

static int once(cli_input *in, const char *opt, splitee_error *err)
{
    if (in->distort_set)
        return splitee__fail(err, SPLITEE_ERR_ARG, "--%s: give one --domain or --distort", opt);
    in->distort_set = 1;
    return 0;
}

int cli_set_domain(void *o, const char *v, splitee_error *err)
{
    cli_input *in = o;
    int st = once(in, "domain", err);
    if (st < 0)
        return st;
    if (splitee_distortion_domain(v, &in->distort, NULL) < 0)
        return splitee__fail(err, SPLITEE_ERR_ARG,
                             "--domain: unknown domain '%s' (clean, noise, blur, contrast)", v);
    snprintf(in->distort_name, sizeof in->distort_name, "%s", v);
    return 0;
}

/* KIND:LEVEL -- noise:SIGMA, blur:SIGMA, contrast:FACTOR, or none/clean. */
int cli_set_distort(void *o, const char *v, splitee_error *err)
{
    cli_input *in = o;
    int st = once(in, "distort", err);
    if (st < 0)
        return st;
    splitee_distortion_config c;
    splitee_distortion_config_default(&c);
    if (strcmp(v, "none") == 0 || strcmp(v, "clean") == 0) {
        in->distort = c;
        snprintf(in->distort_name, sizeof in->distort_name, "clean");
        return 0;
    }
    const char *colon = strchr(v, ':');
    size_t klen = colon ? (size_t)(colon - v) : strlen(v);
    double level;
    if (klen == 5 && strncmp(v, "noise", 5) == 0)
        c.kind = SPLITEE_DISTORTION_KIND_NOISE;
    else if (klen == 4 && strncmp(v, "blur", 4) == 0)
        c.kind = SPLITEE_DISTORTION_KIND_BLUR;
    else if (klen == 8 && strncmp(v, "contrast", 8) == 0)
        c.kind = SPLITEE_DISTORTION_KIND_CONTRAST;
    else
        return splitee__fail(err, SPLITEE_ERR_ARG,
                             "--distort: expected noise:SIGMA, blur:SIGMA, contrast:FACTOR or none, got '%s'", v);
    if (!colon || cli_parse_double(colon + 1, &level) < 0)
        return splitee__fail(err, SPLITEE_ERR_ARG, "--distort: '%s' needs a numeric level after ':'", v);
    if (c.kind == SPLITEE_DISTORTION_KIND_CONTRAST) {
        if (level < 0)
            return splitee__fail(err, SPLITEE_ERR_ARG, "--distort: contrast factor must be >= 0, got '%s'", v);
        c.factor = level;
    } else {
        if (level <= 0 || level > 100)
            return splitee__fail(err, SPLITEE_ERR_ARG, "--distort: sigma must be in (0, 100], got '%s'", v);
        c.sigma = level;
    }
    in->distort = c;
    snprintf(in->distort_name, sizeof in->distort_name, "%s", v);
    return 0;
}

int cli_set_seed(void *o, const char *v, splitee_error *err)
{
    cli_input *in = o;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (end == v || *end || errno || *v == '-')
        return splitee__fail(err, SPLITEE_ERR_ARG, "--seed: expected a non-negative integer, got '%s'", v);
    in->seed = (uint64_t)x;
    in->seed_set = 1;
    return 0;
}

int cli_set_limit(void *o, const char *v, splitee_error *err)
{
    cli_input *in = o;
    if (cli_parse_long(v, 1, 1L << 40, &in->limit) < 0)
        return splitee__fail(err, SPLITEE_ERR_ARG, "--limit: expected a positive integer, got '%s'", v);
    return 0;
}

int cli_set_threads(void *o, const char *v, splitee_error *err)
{
    cli_input *in = o;
    long x;
    if (cli_parse_long(v, 0, 256, &x) < 0)
        return splitee__fail(err, SPLITEE_ERR_ARG, "--threads: expected an integer in 0..256 (0 = all cores), got '%s'", v);
    in->threads = (int)x;
    return 0;
}

int cli_set_progress(void *o, const char *v, splitee_error *err)
{
    (void)v;
    (void)err;
    ((cli_input *)o)->progress = 1;
    return 0;
}

int cli_set_no_progress(void *o, const char *v, splitee_error *err)
{
    (void)v;
    (void)err;
    ((cli_input *)o)->progress = 0;
    return 0;
}

int cli_input_load(cli_input *in, splitee_model **model, splitee_images *im,
                   splitee_error *err)
{
    *model = NULL;
    memset(im, 0, sizeof *im);
    if (in->seed_set)
        in->distort.seed = in->seed;
    if (!in->images)
        return splitee__fail(err, SPLITEE_ERR_ARG, "--images: missing (an IDX image file)");
    int st = splitee_model_load(in->model, model, err);
    if (st < 0)
        return st;
    if ((st = splitee_idx_load(in->images, in->labels, im, err)) < 0)
        goto fail;
    const splitee_model_config *c = splitee_model_get_config(*model);
    if (im->rows != (size_t)c->image_size || im->cols != (size_t)c->image_size) {
        st = splitee__fail(err, SPLITEE_ERR_SHAPE, "%s: %zux%zu images, the model takes %dx%d",
                           in->images, im->rows, im->cols, c->image_size, c->image_size);
        goto fail;
    }
    if (in->limit > 0 && (size_t)in->limit < im->count)
        im->count = (size_t)in->limit;
    /* a trial distorter checks the distortion against the image size */
    splitee_distorter *d = NULL;
    if ((st = splitee_distorter_create(&in->distort, im->rows, im->cols, &d, err)) < 0)
        goto fail;
    splitee_distorter_free(d);
    return 0;
fail:
    splitee_images_free(im);
    splitee_model_free(*model);
    *model = NULL;
    return st;
}

int cli_input_show_progress(const cli_input *in)
{
    return in->progress == 1 || (in->progress < 0 && isatty(STDERR_FILENO));
}

int cli_input_threads(const cli_input *in, size_t n)
{
    long t = in->threads;
    if (t <= 0) {
        t = sysconf(_SC_NPROCESSORS_ONLN);
        if (t < 1)
            t = 1;
    }
    if ((size_t)t > n)
        t = (long)(n ? n : 1);
    return (int)t;
}
