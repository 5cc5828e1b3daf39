/* groups.c -- the option groups commands share (groups.h): their tables,
 * setters and checks, and the defaults the data catalogue gives them. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/internal.h"
#include "groups.h"

#define FIELD(type, f) offsetof(type, f)

/* ---------------------------------------------------------- catalogue --- */

static splitee_catalog *catalog;
static splitee_error catalog_err;
static int catalog_tried;

const splitee_catalog *cli_catalog(splitee_error *err)
{
    if (!catalog_tried) {
        catalog_tried = 1;
        if (splitee_catalog_load(NULL, &catalog, &catalog_err) < 0)
            catalog = NULL;
    }
    if (!catalog && err)
        *err = catalog_err;
    return catalog;
}

void cli_catalog_free(void)
{
    splitee_catalog_free(catalog);
    catalog = NULL;
    catalog_tried = 0;
}

void cli_note(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    cli_meter_break();
    fprintf(stderr, "splitee: note: %s\n", buf);
}

/* A string field replaced by a copy of v. */
static int set_string(char **dst, const char *v, const char *opt, splitee_error *err)
{
    char *c = strdup(v);
    if (!c)
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "--%s: out of memory", opt);
    free(*dst);
    *dst = c;
    return 0;
}

/* Prefixes err's message with "--OPT: ". */
static int prefixed(splitee_error *err, int st, const char *opt)
{
    char inner[sizeof err->msg];
    snprintf(inner, sizeof inner, "%s", err->msg);
    return splitee__fail(err, st, "--%s: %s", opt, inner);
}

/* Lists the catalogue's domains (with their descriptions); nothing when
 * the catalogue cannot be read. */
static const char *domain_at(int i, const char **desc)
{
    const splitee_catalog *c = cli_catalog(NULL);
    const splitee_shipped_table *t = c ? splitee_catalog_at(c, i) : NULL;
    *desc = t && t->description[0] ? t->description : NULL;
    return t ? t->domain : NULL;
}

/* A shipped domain NAME or "NAME" spelt as a path? Names have no '/' and
 * no '.'. */
static int is_name(const char *s)
{
    return *s && !strchr(s, '/') && !strchr(s, '.');
}

/* ----------------------------------------------------------- progress --- */

static const cli_opt OPT_PROGRESS = { .name = "progress", .kind = CLI_SET, .ival = 1,
    .off = FIELD(cli_progress, mode), .help = "show progress on stderr even when it is not a terminal" };
static const cli_opt OPT_NO_PROGRESS = { .name = "no-progress", .kind = CLI_SET, .ival = 2,
    .off = FIELD(cli_progress, mode), .help = "never show progress" };
static const cli_opt *const PROGRESS_OPTS[] = { &OPT_PROGRESS, &OPT_NO_PROGRESS, NULL };
const cli_group cli_group_progress = { .title = "progress", .opts = PROGRESS_OPTS };

int cli_progress_on(const cli_progress *p)
{
    return p->mode == 1 || (p->mode == 0 && isatty(STDERR_FILENO));
}

static cli_meter *drawn_meter;   /* the meter whose line is open, if any */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void cli_meter_start(cli_meter *m, const cli_progress *p, const char *what, const char *unit)
{
    m->what = what;
    m->unit = unit;
    m->on = cli_progress_on(p);
    m->drawn = 0;
    m->last_s = -1;
    m->last_done = (size_t)-1;
    pthread_mutex_init(&m->mu, NULL);
}

void cli_meter_update(cli_meter *m, size_t done, size_t total)
{
    if (!m->on)
        return;
    pthread_mutex_lock(&m->mu);
    double t = now_s();
    if (done != m->last_done && (done >= total || m->last_s < 0 || t - m->last_s >= 0.1)) {
        fprintf(stderr, "\r%s: %zu/%zu %s (%3.0f%%)", m->what, done, total, m->unit,
                total ? 100.0 * (double)done / (double)total : 100.0);
        fflush(stderr);
        m->drawn = 1;
        m->last_s = t;
        m->last_done = done;
        drawn_meter = m;
    }
    pthread_mutex_unlock(&m->mu);
}

void cli_meter_end(cli_meter *m)
{
    if (m->on && m->drawn) {
        fputc('\n', stderr);
        m->drawn = 0;
    }
    if (drawn_meter == m)
        drawn_meter = NULL;
    m->on = 0;
}

void cli_meter_break(void)
{
    cli_meter *m = drawn_meter;
    if (m && m->drawn) {
        fputc('\n', stderr);
        m->drawn = 0;
        m->last_s = -1;   /* redraw on the next update */
        m->last_done = (size_t)-1;
    }
}

/* -------------------------------------------------------------- model --- */

static const cli_opt OPT_MODEL = { .name = "model", .arg = "DIR", .kind = CLI_STRING,
    .off = FIELD(cli_model, dir), .help = "model folder: model.json and its weights",
    .def_text = "DATA/model, the catalogue's" };
static const cli_opt *const MODEL_OPTS[] = { &OPT_MODEL, NULL };

static int model_finish(void *g, const char *cmd, splitee_error *err)
{
    (void)cmd;
    cli_model *m = g;
    if (m->dir)
        return 0;
    const splitee_catalog *c = cli_catalog(err);
    if (!c)
        return prefixed(err, err->status, "model");
    return set_string(&m->dir, splitee_catalog_model(c), "model", err);
}
const cli_group cli_group_model = { .title = "model", .opts = MODEL_OPTS, .finish = model_finish };

/* ------------------------------------------------------------ threads --- */

static const cli_opt OPT_THREADS = { .name = "threads", .arg = "N", .kind = CLI_INT,
    .off = FIELD(cli_threads, n), .lo = 0, .hi = 256,
    .help = "worker threads, 0: one per online CPU (results do not depend on it)", .def = "0" };
static const cli_opt *const THREADS_OPTS[] = { &OPT_THREADS, NULL };
const cli_group cli_group_threads = { .title = "threads", .opts = THREADS_OPTS };

int cli_threads_for(const cli_threads *t, size_t items)
{
    long n = t->n;
    if (n <= 0) {
        n = sysconf(_SC_NPROCESSORS_ONLN);
        if (n < 1)
            n = 1;
    }
    if ((size_t)n > items)
        n = (long)(items ? items : 1);
    return (int)n;
}

/* -------------------------------------------------------- image input --- */

static int in_labels(void *g, const char *v, const cli_ctx *ctx, splitee_error *err)
{
    cli_input *in = g;
    (void)ctx;
    in->labels_none = strcmp(v, "none") == 0;
    if (in->labels_none) {
        free(in->labels);
        in->labels = NULL;
        return 0;
    }
    return set_string(&in->labels, v, "labels", err);
}

/* --domain and --distort set the same thing: at one level (config, flags)
 * only one of them. */
static int in_once(cli_input *in, const cli_ctx *ctx, splitee_error *err)
{
    int domain = strcmp(ctx->opt, "domain") == 0;
    cli_source other = domain ? in->distort_src : in->domain_src;
    if (other == ctx->source)
        return splitee__fail(err, SPLITEE_ERR_ARG, "--%s: give one --domain or --distort", ctx->opt);
    in->domain_src = domain ? ctx->source : CLI_UNSET;
    in->distort_src = domain ? CLI_UNSET : ctx->source;
    return 0;
}

/* The distortion of shipped domain `name` (the catalogue's tables say
 * which distortion made them). */
static int domain_distortion(cli_input *in, const char *name, const char *opt, splitee_error *err)
{
    const splitee_catalog *c = cli_catalog(err);
    const splitee_shipped_table *t;
    if (!c || splitee_catalog_table(c, name, &t, err) < 0 ||
        splitee_distortion_domain(t->distortion, &in->distort, err) < 0)
        return prefixed(err, err->status, opt);
    snprintf(in->distort_name, sizeof in->distort_name, "%s", name);
    return 0;
}

static int in_domain(void *g, const char *v, const cli_ctx *ctx, splitee_error *err)
{
    cli_input *in = g;
    int st = in_once(in, ctx, err);
    return st < 0 ? st : domain_distortion(in, v, "domain", err);
}

/* KIND:LEVEL (noise:SIGMA, blur:SIGMA, contrast:FACTOR), none, or a
 * shipped domain's name. */
static int in_distort(void *g, const char *v, const cli_ctx *ctx, splitee_error *err)
{
    cli_input *in = g;
    int st = in_once(in, ctx, err);
    if (st < 0)
        return st;
    splitee_distortion_config c;
    splitee_distortion_config_default(&c);
    const char *colon = strchr(v, ':');
    if (strcmp(v, "none") == 0) {
        in->distort = c;
        snprintf(in->distort_name, sizeof in->distort_name, "clean");
        return 0;
    }
    if (!colon)
        return domain_distortion(in, v, "distort", err);
    size_t klen = (size_t)(colon - v);
    double level;
    if (klen == 5 && strncmp(v, "noise", 5) == 0)
        c.kind = SPLITEE_DISTORTION_KIND_NOISE;
    else if (klen == 4 && strncmp(v, "blur", 4) == 0)
        c.kind = SPLITEE_DISTORTION_KIND_BLUR;
    else if (klen == 8 && strncmp(v, "contrast", 8) == 0)
        c.kind = SPLITEE_DISTORTION_KIND_CONTRAST;
    else
        return splitee__fail(err, SPLITEE_ERR_ARG,
                             "--distort: expected noise:SIGMA, blur:SIGMA, contrast:FACTOR, none or a domain, got '%s'", v);
    if (cli_parse_double(colon + 1, &level) < 0)
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

static const cli_opt OPT_IMAGES = { .name = "images", .arg = "FILE", .kind = CLI_STRING,
    .off = FIELD(cli_input, images), .help = "IDX images, gzip or not",
    .def_text = "the catalogue's test set" };
static const cli_opt OPT_IN_LABELS = { .name = "labels", .arg = "FILE", .kind = CLI_FN, .set = in_labels,
    .help = "IDX labels of the images; 'none': no labels",
    .def_text = "the test set's with the default images, else none" };
static const cli_opt OPT_IN_DOMAIN = { .name = "domain", .arg = "NAME", .kind = CLI_FN, .set = in_domain,
    .list = domain_at, .help = "a shipped domain: the distortion its table was made with" };
static const cli_opt OPT_DISTORT = { .name = "distort", .arg = "KIND:LEVEL", .kind = CLI_FN, .set = in_distort,
    .help = "noise:SIGMA, blur:SIGMA or contrast:FACTOR (pixels in [0,1]), none,\n"
            "or a domain NAME (the same as --domain NAME)", .def_text = "none" };
static const cli_opt OPT_NOISE_SEED = { .name = "noise-seed", .arg = "S", .kind = CLI_U64,
    .off = FIELD(cli_input, noise_seed), .help = "seed of the noise distortion: image k uses S + k",
    .def = "20231101" };
static const cli_opt OPT_LIMIT = { .name = "limit", .arg = "N", .kind = CLI_LONG,
    .off = FIELD(cli_input, limit), .lo = 1, .hi = 1e15, .help = "the first N images only",
    .def_text = "all" };
static const cli_opt *const INPUT_OPTS[] = { &OPT_IMAGES, &OPT_IN_LABELS, &OPT_IN_DOMAIN, &OPT_DISTORT,
                                             &OPT_NOISE_SEED, &OPT_LIMIT, NULL };

static int input_finish(void *g, const char *cmd, splitee_error *err)
{
    (void)cmd;
    (void)err;
    cli_input *in = g;
    if (!in->distort_name[0])
        snprintf(in->distort_name, sizeof in->distort_name, "clean");
    in->distort.seed = in->noise_seed;
    return 0;
}

int cli_input_resolve(cli_input *in, splitee_error *err)
{
    if (in->images)
        return 0;
    /* the test set, with its labels; user images get none by default */
    const splitee_catalog *c = cli_catalog(err);
    const char *images, *labels;
    if (!c || splitee_catalog_test_set(c, &images, &labels, err) < 0)
        return prefixed(err, err->status, "images");
    in->test_set = 1;
    int st = set_string(&in->images, images, "images", err);
    if (st == 0 && !in->labels && !in->labels_none)
        st = set_string(&in->labels, labels, "labels", err);
    return st;
}

static void input_release(void *g)
{
    cli_input *in = g;
    free(in->labels);   /* --images is a CLI_STRING, freed by cli_free */
    in->labels = NULL;
}

static const cli_opt *const IMAGES_OPTS[] = { &OPT_IMAGES, NULL };
const cli_group cli_group_input = { .title = "input", .opts = INPUT_OPTS, .finish = input_finish,
                                    .release = input_release };
const cli_group cli_group_input_images = { .title = "input", .opts = IMAGES_OPTS };

static const cli_opt OPT_SEED_COMPAT = { .name = "seed", .arg = "S", .kind = CLI_ALIAS, .alias = "noise-seed" };
static const cli_opt *const SEED_COMPAT_OPTS[] = { &OPT_SEED_COMPAT, NULL };
const cli_group cli_group_seed_compat = { .title = "old spellings", .opts = SEED_COMPAT_OPTS };

void cli_shape_text(const splitee_shape *sh, char *buf, size_t len)
{
    size_t o = 0;
    if (len)
        buf[0] = '\0';
    for (int i = 0; i < sh->rank && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%d", i ? ", " : "(", sh->dims[i]);
    if (o < len)
        snprintf(buf + o, len - o, ")");
}

int cli_input_load(cli_input *in, const cli_model *mo, splitee_model **model,
                   splitee_images *im, splitee_error *err)
{
    *model = NULL;
    memset(im, 0, sizeof *im);
    int st = cli_input_resolve(in, err);
    if (st < 0)
        return st;
    if ((st = splitee_model_load(mo->dir, model, err)) < 0)
        return st;
    if ((st = splitee_idx_load(in->images, in->labels, im, err)) < 0)
        goto fail;
    const splitee_model_config *c = splitee_model_get_config(*model);
    splitee_shape sh;
    splitee_model_split_shape(*model, 0, &sh);
    char want[64];
    cli_shape_text(&sh, want, sizeof want);
    if (sh.rank != 3 || sh.dims[0] != 1) {
        st = splitee__fail(err, SPLITEE_ERR_SHAPE, "%s: IDX images are one-channel, the model %s takes "
                           "inputs of shape %s (give them as .npy: --inputs)", in->images,
                           splitee_model_json_path(*model), want);
        goto fail;
    }
    if (im->rows != (size_t)sh.dims[1] || im->cols != (size_t)sh.dims[2]) {
        st = splitee__fail(err, SPLITEE_ERR_SHAPE, "%s: %zux%zu images, the model takes %dx%d",
                           in->images, im->rows, im->cols, sh.dims[1], sh.dims[2]);
        goto fail;
    }
    if ((st = splitee_images_check_labels(im, c->classes, err)) < 0)
        goto fail;
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

/* -------------------------------------------------------- table input --- */

/* --logits and --domain name the table: at one level only one of them. */
static int tab_once(cli_table *t, const cli_ctx *ctx, splitee_error *err)
{
    int domain = strcmp(ctx->opt, "domain") == 0;
    cli_source other = domain ? t->logits_src : t->domain_src;
    if (other == ctx->source)
        return splitee__fail(err, SPLITEE_ERR_ARG, "--%s: give one --logits or --domain", ctx->opt);
    if (domain)
        t->domain_src = ctx->source;
    else
        t->logits_src = ctx->source;
    return 0;
}

static int tab_logits(void *g, const char *v, const cli_ctx *ctx, splitee_error *err)
{
    cli_table *t = g;
    int st = tab_once(t, ctx, err);
    return st < 0 ? st : set_string(&t->logits, v, "logits", err);
}

static int tab_domain(void *g, const char *v, const cli_ctx *ctx, splitee_error *err)
{
    cli_table *t = g;
    int st = tab_once(t, ctx, err);
    return st < 0 ? st : set_string(&t->domain, v, "domain", err);
}

static int tab_labels(void *g, const char *v, const cli_ctx *ctx, splitee_error *err)
{
    cli_table *t = g;
    (void)ctx;
    t->labels_none = strcmp(v, "none") == 0;
    if (t->labels_none) {
        free(t->labels);
        t->labels = NULL;
        return 0;
    }
    return set_string(&t->labels, v, "labels", err);
}

static void free_shifts(cli_table *t)
{
    for (int i = 0; i < t->nshift; i++) {
        free(t->shift[i].table);
        free(t->shift[i].labels);
    }
    t->nshift = 0;
}

/* One "ROUND:TABLE" (ROUND an integer >= 1 or a percentage "P%" of the
 * stream) appended to t->shift; TABLE is resolved by the group's finish. */
static int add_shift(cli_table *t, char *item, splitee_error *err)
{
    char *colon = strchr(item, ':');
    if (!colon || colon == item || !colon[1])
        return splitee__fail(err, SPLITEE_ERR_ARG, "--shift: expected ROUND:TABLE, got '%s'", item);
    *colon = '\0';
    cli_shift sh = { 0, 0, NULL, NULL };
    size_t len = strlen(item);
    if (item[len - 1] == '%') {
        item[len - 1] = '\0';
        if (cli_parse_double(item, &sh.round_pct) || !(sh.round_pct > 0 && sh.round_pct < 100))
            return splitee__fail(err, SPLITEE_ERR_ARG, "--shift: a percentage must be in (0, 100), got '%s%%'", item);
    } else if (cli_parse_long(item, 1, 4000000000L, &sh.round)) {
        return splitee__fail(err, SPLITEE_ERR_ARG, "--shift: ROUND must be a whole number >= 1 or P%%, got '%s'", item);
    }
    if (t->nshift == SPLITEE_MAX_SEGMENTS - 1)
        return splitee__fail(err, SPLITEE_ERR_ARG, "--shift: at most %d shifts", SPLITEE_MAX_SEGMENTS - 1);
    if (!(sh.table = strdup(colon + 1)))
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "--shift: out of memory");
    t->shift[t->nshift++] = sh;
    return 0;
}

/* --shift ROUND:TABLE[,ROUND:TABLE...]; repeatable. The first --shift flag
 * replaces the shifts a --config file gave, later ones add to them. */
static int tab_shift(void *g, const char *v, const cli_ctx *ctx, splitee_error *err)
{
    cli_table *t = g;
    if (ctx->source != ctx->prev)
        free_shifts(t);
    char buf[4096];
    if (strlen(v) >= sizeof buf)
        return splitee__fail(err, SPLITEE_ERR_ARG, "--shift: list too long");
    strcpy(buf, v);
    int st = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok && st == 0; tok = strtok_r(NULL, ",", &save))
        st = add_shift(t, tok, err);
    return st;
}

static const char *const LAYOUTS[] = { "samples-first", "exits-first", NULL };

static const cli_opt OPT_LOGITS = { .name = "logits", .arg = "FILE", .kind = CLI_FN, .set = tab_logits,
    .help = "exit-logit table: .npy (float32/64) or .csv (a 'label' column gives labels)",
    .def_text = "the catalogue's default domain's table" };
static const cli_opt OPT_TAB_LABELS = { .name = "labels", .arg = "FILE", .kind = CLI_FN, .set = tab_labels,
    .help = "labels .npy (int32/int64/uint8), or with a .csv table a text file of one\n"
            "integer per line; 'none': no accuracy",
    .def_text = "a shipped table's own; none for any other table" };
static const cli_opt OPT_TAB_DOMAIN = { .name = "domain", .arg = "NAME", .kind = CLI_FN, .set = tab_domain,
    .list = domain_at, .help = "a shipped table, with its labels and default costs" };
static const cli_opt OPT_LAYOUT = { .name = "layout", .arg = "L", .kind = CLI_CHOICE,
    .off = FIELD(cli_table, layout), .choices = LAYOUTS,
    .help = "the .npy's axes: (samples, exits, classes) or (exits, samples, classes)",
    .def = "samples-first" };
static const cli_opt OPT_SHIFT = { .name = "shift", .arg = "ROUND:TABLE", .kind = CLI_FN, .set = tab_shift,
    .help = "domain shift: after ROUND rounds (or P% of the stream) the samples\n"
            "come from TABLE (a path, or a domain NAME); repeatable, or a comma\n"
            "list. Adds dynamic regret (per-segment best layer)" };
static const cli_opt OPT_TAB_TABLE = { .name = "table", .arg = "NAME", .kind = CLI_ALIAS, .alias = "domain",
    .help = "the same as --domain NAME (splitee replay --list-tables lists them)" };
static const cli_opt *const TABLE_OPTS[] = { &OPT_LOGITS, &OPT_TAB_LABELS, &OPT_TAB_DOMAIN, &OPT_TAB_TABLE,
                                             &OPT_LAYOUT, &OPT_SHIFT, NULL };

/* The labels that go with table `path` when --labels did not say: a
 * shipped table's own, else none. */
static const char *labels_of(const cli_table *t, const char *path)
{
    if (t->labels_none)
        return NULL;
    if (t->labels)
        return t->labels;
    const splitee_catalog *c = cli_catalog(NULL);
    const splitee_shipped_table *s = c ? splitee_catalog_table_of_file(c, path) : NULL;
    return s ? s->labels : NULL;
}

static int table_finish(void *g, const char *cmd, splitee_error *err)
{
    (void)cmd;
    cli_table *t = g;
    int st = 0;
    const char *labels = NULL;
    if (t->domain && t->domain_src > t->logits_src) {   /* a shipped table by name */
        const splitee_catalog *c = cli_catalog(err);
        const splitee_shipped_table *s;
        if (!c || splitee_catalog_table(c, t->domain, &s, err) < 0)
            return prefixed(err, err->status, "domain");
        st = set_string(&t->logits, s->logits, "domain", err);
        labels = s->labels;
    } else if (!t->logits) {                           /* the default table */
        const splitee_catalog *c = cli_catalog(err);
        if (!c)
            return prefixed(err, err->status, "logits");
        const splitee_shipped_table *s = splitee_catalog_default_table(c);
        st = set_string(&t->logits, s->logits, "logits", err);
        labels = s->labels;
    } else {
        labels = labels_of(t, t->logits);
    }
    if (t->labels || t->labels_none)
        labels = t->labels;
    if (st == 0 && labels && labels != t->labels)
        st = set_string(&t->labels, labels, "labels", err);
    /* shift tables: a name is a shipped table; labels as for the first */
    for (int i = 0; st == 0 && i < t->nshift; i++) {
        cli_shift *sh = &t->shift[i];
        if (is_name(sh->table)) {
            const splitee_catalog *c = cli_catalog(err);
            const splitee_shipped_table *s;
            if (!c || splitee_catalog_table(c, sh->table, &s, err) < 0)
                return prefixed(err, err->status, "shift");
            if ((st = set_string(&sh->table, s->logits, "shift", err)) < 0)
                break;
        }
        const char *l = labels_of(t, sh->table);
        if (l)
            st = set_string(&sh->labels, l, "shift", err);
    }
    return st;
}

static void table_release(void *g)
{
    cli_table *t = g;
    free_shifts(t);
    free(t->logits);
    free(t->labels);
    free(t->domain);
    t->logits = t->labels = t->domain = NULL;
}

const cli_group cli_group_table = { .title = "input", .opts = TABLE_OPTS, .finish = table_finish,
                                    .release = table_release };

/* The table at path with labels, without them under --labels none (a CSV
 * table's label column included). */
static int load_one(const cli_table *tab, const char *path, const char *labels, splitee_table **out,
                    splitee_error *err)
{
    int st = splitee_table_load(path, labels, (splitee_layout)tab->layout, out, err);
    if (st < 0 || !tab->labels_none || !splitee_table_labels(*out))
        return st;
    splitee_table *t = *out, *bare = NULL;
    st = splitee_table_from_logits(splitee_table_name(t), splitee_table_logits(t), splitee_table_samples(t),
                                   splitee_table_exits(t), splitee_table_classes(t), NULL, &bare, err);
    splitee_table_free(t);
    *out = bare;
    return st;
}

int cli_table_load(const cli_table *tab, splitee_table **out, splitee_error *err)
{
    int st = load_one(tab, tab->logits, tab->labels, out, err);
    if (st == 0 && !splitee_table_labels(*out) && !tab->labels_none)
        cli_note("%s has no labels, so no accuracy is reported (--labels FILE gives them, "
                 "as does a 'label' column of a CSV table)", tab->logits);
    return st;
}

const char *cli_table_scenes(const cli_table *tab, const char *given)
{
    if (given)
        return given;
    const splitee_catalog *cat = cli_catalog(NULL);
    const splitee_shipped_table *t = cat && tab->logits ? splitee_catalog_table_of_file(cat, tab->logits) : NULL;
    return t && t->scenes[0] ? t->scenes : NULL;
}

int cli_table_load_shift(const cli_table *tab, int i, splitee_table **out, splitee_error *err)
{
    return load_one(tab, tab->shift[i].table, tab->shift[i].labels, out, err);
}

/* ---------------------------------------------------------- exit rule --- */

static int ex_alpha(void *g, const char *v, const cli_ctx *ctx, splitee_error *err)
{
    cli_values *a = &((cli_exit *)g)->alpha;
    (void)ctx;
    if (((cli_exit *)g)->alpha_from == 1)
        ((cli_exit *)g)->alpha_from = 0;
    return cli_parse_values(v, a, err, "--alpha");   /* its range depends on --rule: exit_finish */
}

/* The "alphas" of a `splitee calibrate --form split --json` into --alphas
 * (alpha_from 2: the rule must be per-exit). */
static int alphas_from(cli_exit *e, const char *v, const cJSON *j, splitee_confidence conf, splitee_error *err)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, "alphas"), *x;
    if (!cJSON_IsArray(a))
        return splitee__fail(err, SPLITEE_ERR_FORMAT,
                             "--alpha-from: %s has no \"alphas\" array (not the --json of a splitee calibrate "
                             "--form split without --splits)", v);
    int n = 0;
    cJSON_ArrayForEach(x, a) {
        if (n == SPLITEE_MAX_EXITS)
            return splitee__fail(err, SPLITEE_ERR_SHAPE, "--alpha-from: %s: more than %d alphas", v, SPLITEE_MAX_EXITS);
        if (cJSON_IsNull(x))
            return splitee__fail(err, SPLITEE_ERR_VALUE,
                                 "--alpha-from: %s: split layer %d has no threshold (even 1.00 failed its test)", v,
                                 n + 1);
        if (!cJSON_IsNumber(x) || !(x->valuedouble >= 0 && x->valuedouble <= 1))
            return splitee__fail(err, SPLITEE_ERR_FORMAT, "--alpha-from: %s: alpha %d must be a number in [0, 1]", v,
                                 n + 1);
        e->alphas[n++] = x->valuedouble;
    }
    if (n == 0)
        return splitee__fail(err, SPLITEE_ERR_SHAPE, "--alpha-from: %s: \"alphas\" is empty", v);
    e->nalphas = n;
    e->confidence = (int)conf;
    e->alpha_from = 2;
    return 0;
}

/* --alpha-from FILE: the threshold (and its confidence measure) of a
 * `splitee calibrate --json` (docs/RISK.md); of a --form split one, the
 * per-layer thresholds into --alphas (alpha_from 1: threshold, 2: alphas). */
static int ex_alpha_from(void *g, const char *v, const cli_ctx *ctx, splitee_error *err)
{
    cli_exit *e = g;
    (void)ctx;
    char *text = NULL;
    size_t len;
    int st = splitee__read_file(v, 1 << 20, &text, &len, err);
    if (st < 0)
        return st;
    if (e->alpha_from == 2) {   /* a later --alpha-from replaces an earlier one */
        e->alpha_from = 0;
        e->nalphas = 0;
    }
    cJSON *j = cJSON_Parse(text);
    free(text);
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "--alpha-from: %s is not a JSON object", v);
    }
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "threshold");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(j, "confidence");
    const cJSON *form = cJSON_GetObjectItemCaseSensitive(j, "form");
    splitee_confidence conf = SPLITEE_CONFIDENCE_MAX_SOFTMAX;
    if (c && (!cJSON_IsString(c) || splitee_confidence_parse(c->valuestring, &conf) < 0)) {
        st = splitee__fail(err, SPLITEE_ERR_FORMAT, "--alpha-from: %s: \"confidence\" is not a confidence measure",
                           v);
    } else if (cJSON_IsString(form) && strcmp(form->valuestring, "split") == 0) {
        st = alphas_from(e, v, j, conf, err);
    } else if (!t)
        st = splitee__fail(err, SPLITEE_ERR_FORMAT,
                           "--alpha-from: %s has no \"threshold\" (not the --json of a splitee calibrate "
                           "without --splits)", v);
    else if (cJSON_IsNull(t))
        st = splitee__fail(err, SPLITEE_ERR_VALUE,
                           "--alpha-from: %s: the calibration found no threshold (even 1.00 failed its test)", v);
    else if (!cJSON_IsNumber(t) || !(t->valuedouble >= 0 && t->valuedouble <= 1))
        st = splitee__fail(err, SPLITEE_ERR_FORMAT, "--alpha-from: %s: \"threshold\" must be a number in [0, 1]",
                           v);
    if (st == 0 && e->alpha_from != 2) {
        e->alpha.n = 1;
        e->alpha.v[0] = t->valuedouble;
        e->confidence = (int)conf;
        e->alpha_from = 1;
    }
    cJSON_Delete(j);
    return st;
}

/* --theta-from FILE: the theta of a `splitee calibrate --form temporal
 * --json`, and the rule it was calibrated for (checked in exit_finish). */
static int ex_theta_from(void *g, const char *v, const cli_ctx *ctx, splitee_error *err)
{
    cli_exit *e = g;
    (void)ctx;
    char *text = NULL;
    size_t len;
    int st = splitee__read_file(v, 1 << 20, &text, &len, err);
    if (st < 0)
        return st;
    cJSON *j = cJSON_Parse(text);
    free(text);
    const cJSON *form = j ? cJSON_GetObjectItemCaseSensitive(j, "form") : NULL;
    const cJSON *rule = j ? cJSON_GetObjectItemCaseSensitive(j, "rule") : NULL;
    const cJSON *t = j ? cJSON_GetObjectItemCaseSensitive(j, "theta") : NULL;
    splitee_exit_kind k;
    if (!j || !cJSON_IsObject(j))
        st = splitee__fail(err, SPLITEE_ERR_FORMAT, "--theta-from: %s is not a JSON object", v);
    else if (!cJSON_IsString(form) || strcmp(form->valuestring, "temporal") != 0)
        st = splitee__fail(err, SPLITEE_ERR_FORMAT, "--theta-from: %s is not the --json of a splitee calibrate "
                           "--form temporal", v);
    else if (!cJSON_IsString(rule) || splitee_exit_kind_parse(rule->valuestring, &k) < 0 ||
             !splitee_exit_kind_info(k)->stream)
        st = splitee__fail(err, SPLITEE_ERR_FORMAT, "--theta-from: %s: \"rule\" is not a stream rule", v);
    else if (!cJSON_IsNumber(t) || !(t->valuedouble >= 0 && t->valuedouble <= 2))
        st = splitee__fail(err, SPLITEE_ERR_FORMAT, "--theta-from: %s: \"theta\" must be a number in [0, 2]", v);
    if (st == 0) {
        snprintf(e->theta_path, sizeof e->theta_path, "%s", v);
        e->theta = t->valuedouble;
        e->theta_rule = 1 + (int)k;
    }
    cJSON_Delete(j);
    return st;
}

static int ex_theta(void *g, const char *v, const cli_ctx *ctx, splitee_error *err)
{
    cli_exit *e = g;
    char *end;
    double x = strtod(v, &end);
    if (end == v || *end || !(x >= 0 && x <= 2))
        return splitee__fail(err, SPLITEE_ERR_ARG, "--theta: the stream rules' L1 distance threshold is a "
                             "number in [0, 2], got '%s'", v);
    if (ctx->source != CLI_DEFAULT)
        e->theta_rule = 0;   /* a later --theta replaces --theta-from's */
    e->theta = x;
    return 0;
}

static const char *rule_at(int i, const char **desc)
{
    const splitee_exit_info *in = splitee_exit_kind_info((splitee_exit_kind)i);
    *desc = in ? in->summary : NULL;
    return in ? in->name : NULL;
}

static int ex_rule(void *g, const char *v, const cli_ctx *ctx, splitee_error *err)
{
    (void)ctx;
    splitee_exit_kind k;
    if (splitee_exit_kind_parse(v, &k) < 0) {
        char names[128];
        splitee_exit_kind_list(names, sizeof names);
        return splitee__fail(err, SPLITEE_ERR_ARG, "--rule: expected %s, got '%s'", names, v);
    }
    ((cli_exit *)g)->rule = (int)k;
    return 0;
}

static int ex_alphas(void *g, const char *v, const cli_ctx *ctx, splitee_error *err)
{
    cli_exit *e = g;
    (void)ctx;
    if (e->alpha_from == 2)
        e->alpha_from = 0;   /* a later --alphas replaces --alpha-from's */
    return cli_parse_vector(v, e->alphas, SPLITEE_MAX_EXITS, &e->nalphas, err, "--alphas");
}

/* The options of a rule that reads them, in their ranges. */
static int exit_finish(void *g, const char *cmd, splitee_error *err)
{
    (void)cmd;
    cli_exit *e = g;
    const splitee_exit_info *in = splitee_exit_kind_info((splitee_exit_kind)e->rule);
    int sum = e->rule == SPLITEE_EXIT_KIND_AGREEMENT;
    if (e->alpha_from == 2 && e->rule != SPLITEE_EXIT_KIND_PER_EXIT)
        return splitee__fail(err, SPLITEE_ERR_ARG, "--alpha-from: per-layer thresholds of --form split are for --rule per-exit (the rule is %s)",
                             in->name);
    if (e->alpha_from == 1 && e->rule != SPLITEE_EXIT_KIND_THRESHOLD)
        return splitee__fail(err, SPLITEE_ERR_ARG, "--alpha-from: a calibrated threshold is for --rule threshold (the rule is %s)",
                             in->name);
    if (e->theta_rule && e->theta_rule - 1 != e->rule)
        return splitee__fail(err, SPLITEE_ERR_ARG, "--theta-from: %s calibrated theta for --rule %s (the rule is %s)",
                             e->theta_path, splitee_exit_kind_name((splitee_exit_kind)(e->theta_rule - 1)), in->name);
    for (int i = 0; i < e->alpha.n; i++)
        if (!(e->alpha.v[i] >= 0 && (sum ? isfinite(e->alpha.v[i]) : e->alpha.v[i] <= 1)))
            return splitee__fail(err, SPLITEE_ERR_ARG, sum ? "--alpha: the agreement rule's sum is a number >= 0, got %g"
                                                           : "--alpha: a confidence threshold is in [0, 1], got %g",
                                 e->alpha.v[i]);
    if ((in->params & SPLITEE_EXIT_PARAM_ALPHAS) && e->nalphas == 0)
        return splitee__fail(err, SPLITEE_ERR_ARG, "--rule %s: needs --alphas a1,a2,... (one threshold per exit)",
                             in->name);
    if (!(in->params & SPLITEE_EXIT_PARAM_ALPHAS) && e->nalphas)
        return splitee__fail(err, SPLITEE_ERR_ARG, "--alphas: only for --rule per-exit (the rule is %s)", in->name);
    for (int i = 0; i < e->nalphas; i++)
        if (!(e->alphas[i] >= 0 && e->alphas[i] <= 1))
            return splitee__fail(err, SPLITEE_ERR_ARG, "--alphas: threshold %d is %g, outside [0, 1]", i + 1,
                                 e->alphas[i]);
    return 0;
}

void cli_exit_rule(const cli_exit *e, splitee_exit_config *out)
{
    out->kind = (splitee_exit_kind)e->rule;
    out->confidence = (splitee_confidence)e->confidence;
    out->alphas = e->nalphas ? e->alphas : NULL;
    out->nalphas = e->nalphas;
    out->patience = e->patience;
    out->theta = e->theta;
}

const char *cli_confidence_at(int i, const char **desc)
{
    *desc = NULL;
    const char *n = splitee_confidence_name((splitee_confidence)i);
    return strcmp(n, "unknown") == 0 ? NULL : n;
}

static int ex_confidence(void *g, const char *v, const cli_ctx *ctx, splitee_error *err)
{
    (void)ctx;
    return cli_pick_name(cli_confidence_at, "confidence", v, &((cli_exit *)g)->confidence, err);
}

static void values_note(FILE *f)
{
    fputs("  V is a number; splitee replay also takes a sweep, a,b,c or start:stop:step\n", f);
}

static const cli_opt OPT_ALPHA = { .name = "alpha", .arg = "V", .kind = CLI_FN, .set = ex_alpha,
    .help = "exit threshold: a sample exits where the confidence reaches it", .def = "0.8" };
static const cli_opt OPT_CONFIDENCE = { .name = "confidence", .arg = "C", .kind = CLI_FN,
    .set = ex_confidence, .list = cli_confidence_at, .help = "confidence measure of an exit",
    .def = "max-softmax" };
static const cli_opt OPT_RULE = { .name = "rule", .arg = "R", .kind = CLI_FN, .set = ex_rule, .list = rule_at,
    .help = "the exit decision (docs/EXIT_RULES.md)", .def = "threshold" };
static const cli_opt OPT_ALPHAS = { .name = "alphas", .arg = "LIST|FILE", .kind = CLI_FN, .set = ex_alphas,
    .help = "--rule per-exit: one threshold per exit, a1,a2,... (L-1 or L values)" };
static const cli_opt OPT_PATIENCE = { .name = "patience", .arg = "P", .kind = CLI_INT,
    .off = offsetof(cli_exit, patience), .lo = 1, .hi = SPLITEE_MAX_EXITS,
    .help = "--rule patience: exit once the prediction held for P more exits", .def = "2" };
static const cli_opt OPT_ALPHA_FROM = { .name = "alpha-from", .arg = "FILE", .kind = CLI_FN,
    .set = ex_alpha_from,
    .help = "--alpha and --confidence from a splitee calibrate --json (docs/RISK.md)" };
static const cli_opt OPT_THETA = { .name = "theta", .arg = "V", .kind = CLI_FN, .set = ex_theta,
    .help = "--rule difference|temporal-patience: re-run the whole model when the L1\n"
            "distance between softmax outputs reaches V, in [0, 2] (docs/TEMPORAL.md)", .def = "0.5" };
static const cli_opt OPT_THETA_FROM = { .name = "theta-from", .arg = "FILE", .kind = CLI_FN,
    .set = ex_theta_from, .help = "--theta from a splitee calibrate --form temporal --json" };
static const cli_opt *const EXIT_OPTS[] = { &OPT_ALPHA, &OPT_ALPHA_FROM, &OPT_CONFIDENCE, &OPT_RULE,
                                            &OPT_ALPHAS, &OPT_PATIENCE, &OPT_THETA, &OPT_THETA_FROM, NULL };
const cli_group cli_group_exit = { .title = "exit rule", .opts = EXIT_OPTS, .more = values_note,
                                   .finish = exit_finish };
/* ------------------------------------------------------------- reward --- */

#define VALUES_SETTER(fn, field, opt) \
    static int fn(void *g, const char *v, const cli_ctx *ctx, splitee_error *err) \
    { (void)ctx; return cli_parse_values(v, &((cli_reward *)g)->field, err, "--" opt); }
VALUES_SETTER(rw_mu, mu, "mu")

static int rw_lambda(void *g, const char *v, const cli_ctx *ctx, splitee_error *err)
{
    cli_reward *r = g;
    if (ctx->source != CLI_DEFAULT)
        r->lambda_given = 1;
    return cli_parse_values(v, &r->lambda, err, "--lambda");
}

static int rw_offload(void *g, const char *v, const cli_ctx *ctx, splitee_error *err)
{
    cli_reward *r = g;
    if (ctx->source != CLI_DEFAULT)
        r->offload_given = 1;
    return cli_parse_values(v, &r->offload, err, "--offload");
}

static int rw_layer_cost(void *g, const char *v, const cli_ctx *ctx, splitee_error *err)
{
    cli_reward *r = g;
    (void)ctx;
    return cli_parse_vector(v, r->layer_cost, SPLITEE_MAX_EXITS, &r->nlayer_cost, err, "--layer-cost");
}

static int rw_offload_cost(void *g, const char *v, const cli_ctx *ctx, splitee_error *err)
{
    cli_reward *r = g;
    (void)ctx;
    r->offload_given = 1;
    return cli_parse_vector(v, r->offload_cost, SPLITEE_MAX_EXITS, &r->noffload_cost, err, "--offload-cost");
}

static const cli_opt OPT_LAMBDA = { .name = "lambda", .arg = "V", .kind = CLI_FN, .set = rw_lambda,
    .help = "device cost per layer", .def = "0.1" };
static const cli_opt OPT_MU = { .name = "mu", .arg = "V", .kind = CLI_FN, .set = rw_mu,
    .help = "weight of the cost in the reward", .def = "1" };
static const cli_opt OPT_OFFLOAD = { .name = "offload", .arg = "V", .kind = CLI_FN, .set = rw_offload,
    .help = "offloading cost o", .def = "0.3" };
static const cli_opt OPT_LAYER_COST = { .name = "layer-cost", .arg = "LIST|FILE", .kind = CLI_FN,
    .set = rw_layer_cost,
    .help = "per-layer device cost vector (replaces lambda): a list, or a file\n"
            "(JSON array, {\"layer_cost\": [...]} as splitee profile writes, or one\n"
            "number per line)" };
static const cli_opt OPT_OFFLOAD_COST = { .name = "offload-cost", .arg = "LIST|FILE", .kind = CLI_FN,
    .set = rw_offload_cost, .help = "per-layer offloading cost vector (replaces offload)" };
static const cli_opt *const REWARD_OPTS[] = { &OPT_LAMBDA, &OPT_MU, &OPT_OFFLOAD, &OPT_LAYER_COST,
                                              &OPT_OFFLOAD_COST, NULL };
const cli_group cli_group_reward = { .title = "reward", .opts = REWARD_OPTS };

int cli_reward_one(const cli_exit *e, const cli_reward *r, const char *cmd,
                   splitee_reward_config *out, splitee_error *err)
{
    splitee_reward_config_default(out);
    int st;
    if ((st = cli_values_one(&e->alpha, "alpha", cmd, &out->alpha, err)) < 0 ||
        (st = cli_values_one(&r->lambda, "lambda", cmd, &out->lambda, err)) < 0 ||
        (st = cli_values_one(&r->mu, "mu", cmd, &out->mu, err)) < 0 ||
        (st = cli_values_one(&r->offload, "offload", cmd, &out->offload, err)) < 0)
        return st;
    cli_exit_rule(e, &out->exit);   /* every field but alpha, set above */
    out->layer_cost = r->nlayer_cost ? r->layer_cost : NULL;
    out->offload_cost = r->noffload_cost ? r->offload_cost : NULL;
    return 0;
}

/* ------------------------------------------------------------- policy --- */

static const char *policy_at(int i, const char **desc)
{
    const splitee_policy_info *in = splitee_policy_kind_info((splitee_policy_kind)i);
    *desc = in ? in->description : NULL;
    return in ? (in->spelling ? in->spelling : in->name) : NULL;
}

static const char *policy_name_at(int i, const char **desc)
{
    const char *n = policy_at(i, desc);
    *desc = NULL;
    return n;
}

static int pol_policy(void *g, const char *v, const cli_ctx *ctx, splitee_error *err)
{
    cli_policy *p = g;
    (void)ctx;
    char buf[1024];
    if (strlen(v) >= sizeof buf)
        return splitee__fail(err, SPLITEE_ERR_ARG, "--policy: list too long");
    strcpy(buf, v);
    p->npolicies = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        if (p->npolicies == CLI_MAX_POLICIES)
            return splitee__fail(err, SPLITEE_ERR_ARG, "--policy: more than %d policies", CLI_MAX_POLICIES);
        splitee_policy_config *pc = &p->policies[p->npolicies++];
        splitee_policy_config_default(pc);
        if (splitee_policy_parse(tok, pc) < 0) {
            char names[512];
            cli_list_names(policy_name_at, names, sizeof names);
            return splitee__fail(err, SPLITEE_ERR_ARG, "--policy: unknown policy '%s' (%s)", tok, names);
        }
    }
    if (p->npolicies == 0)
        return splitee__fail(err, SPLITEE_ERR_ARG, "--policy: no policy given");
    return 0;
}

static int pol_beta(void *g, const char *v, const cli_ctx *ctx, splitee_error *err)
{
    (void)ctx;
    return cli_parse_values(v, &((cli_policy *)g)->beta, err, "--beta");
}

static int pol_alpha_grid(void *g, const char *v, const cli_ctx *ctx, splitee_error *err)
{
    (void)ctx;
    return cli_parse_values(v, &((cli_policy *)g)->alpha_grid, err, "--alpha-grid");
}

static const char *const SIDE_INFO[] = { "honest", "reference", NULL };

static const cli_opt OPT_POLICY = { .name = "policy", .arg = "LIST", .kind = CLI_FN, .set = pol_policy,
    .list = policy_at, .help = "the policies, a comma list (splitee device: one)" };
static const cli_opt OPT_BETA = { .name = "beta", .arg = "V", .kind = CLI_FN, .set = pol_beta,
    .help = "UCB exploration constant (splitee, splitee-s, ucb-v, sw-/d-ucb)", .def = "1" };
static const cli_opt OPT_EPSILON = { .name = "epsilon", .arg = "E", .kind = CLI_DOUBLE,
    .off = FIELD(cli_policy, epsilon), .lo = 0, .hi = 1,
    .help = "epsilon-greedy exploration probability", .def = "0.05" };
static const cli_opt OPT_PRIOR_SD = { .name = "prior-sd", .arg = "S", .kind = CLI_DOUBLE,
    .off = FIELD(cli_policy, prior_sd), .lo = 0, .hi = INFINITY, .open = CLI_OPEN_LO,
    .help = "Thompson sampling: reward noise s.d.", .def = "0.5" };
static const cli_opt OPT_WINDOW = { .name = "window", .arg = "W", .kind = CLI_INT,
    .off = FIELD(cli_policy, window), .lo = 1, .hi = 100000000,
    .help = "sw-ucb(-s): rounds in the sliding window", .def = "1000" };
static const cli_opt OPT_DISCOUNT = { .name = "discount", .arg = "G", .kind = CLI_DOUBLE,
    .off = FIELD(cli_policy, discount), .lo = 0, .hi = 1, .open = CLI_OPEN_LO,
    .help = "d-ucb(-s): discount factor gamma", .def = "0.999" };
static const cli_opt OPT_SIDE_INFO = { .name = "side-info", .arg = "S", .kind = CLI_CHOICE,
    .off = FIELD(cli_policy, side_info), .choices = SIDE_INFO,
    .help = "side observations of the -s policies", .def = "honest" };
static const cli_opt OPT_SEED = { .name = "seed", .arg = "S", .kind = CLI_U64,
    .off = FIELD(cli_policy, seed), .help = "seed of the policies' random draws (and of a link's)",
    .def = "1" };
static const cli_opt OPT_ALPHA_GRID = { .name = "alpha-grid", .arg = "LIST", .kind = CLI_FN,
    .set = pol_alpha_grid,
    .help = "splitee-alpha: the thresholds it learns among, a,b,c or start:stop:step",
    .def = "0.5:1:0.05" };
static const cli_opt *const POLICY_OPTS[] = { &OPT_POLICY, &OPT_BETA, &OPT_EPSILON, &OPT_PRIOR_SD,
                                              &OPT_WINDOW, &OPT_DISCOUNT, &OPT_SIDE_INFO,
                                              &OPT_ALPHA_GRID, &OPT_SEED, NULL };

static int policy_finish(void *g, const char *cmd, splitee_error *err)
{
    (void)cmd;
    (void)err;
    cli_policy *p = g;
    for (int i = 0; i < p->npolicies; i++) {
        splitee_policy_config *pc = &p->policies[i];
        pc->beta = p->beta.n ? p->beta.v[0] : pc->beta;
        pc->epsilon = p->epsilon;
        pc->prior_sd = p->prior_sd;
        pc->side_info = (splitee_side_info)p->side_info;
        pc->window = p->window;
        pc->discount = p->discount;
        pc->alpha_grid = p->alpha_grid.n ? p->alpha_grid.v : NULL;
        pc->alpha_grid_n = p->alpha_grid.n;
    }
    return 0;
}
const cli_group cli_group_policy = { .title = "policy", .opts = POLICY_OPTS, .finish = policy_finish };

int cli_policy_one(const cli_policy *p, const char *cmd, splitee_policy_config *out,
                   splitee_error *err)
{
    if (p->npolicies != 1)
        return splitee__fail(err, SPLITEE_ERR_ARG, "--policy: splitee %s runs one policy, not %d",
                             cmd, p->npolicies);
    const splitee_policy_info *in = splitee_policy_kind_info(p->policies[0].kind);
    if (in && in->hindsight)
        return splitee__fail(err, SPLITEE_ERR_ARG,
                             "--policy: %s needs every sample's outcome in hindsight; splitee replay runs it, "
                             "splitee %s cannot", in->name, cmd);
    *out = p->policies[0];
    double beta;
    int st = cli_values_one(&p->beta, "beta", cmd, &beta, err);
    out->beta = beta;
    return st;
}

/* ------------------------------------------------------ link, payload --- */

static const char *encoding_at(int i, const char **desc)
{
    *desc = NULL;
    return i < 0 ? NULL : splitee_payload_encoding_name((splitee_payload_encoding)i);
}

static int lk_encoding(void *g, const char *v, const cli_ctx *ctx, splitee_error *err)
{
    (void)ctx;
    splitee_payload_encoding e;
    if (splitee_payload_encoding_parse(v, &e, NULL) < 0) {
        char names[64];
        cli_list_names(encoding_at, names, sizeof names);
        return splitee__fail(err, SPLITEE_ERR_ARG, "--encoding: expected one of %s, got '%s'", names, v);
    }
    ((cli_link_opts *)g)->encoding = (int)e;
    return 0;
}

static const cli_opt OPT_LINK = { .name = "link", .arg = "PROFILE", .kind = CLI_STRING,
    .off = FIELD(cli_link_opts, link),
    .help = "price offloads with a link profile (docs/LINKS.md): a JSON file, or a\n"
            "NAME of DATA/links (lte, 3g, wifi, degrading, ...)" };
static const cli_opt OPT_ENCODING = { .name = "encoding", .arg = "E", .kind = CLI_FN, .set = lk_encoding,
    .list = encoding_at, .help = "payload encoding of an offloaded activation", .def = "f32" };
static const cli_opt *const LINK_OPTS[] = { &OPT_LINK, &OPT_ENCODING, NULL };
static const cli_opt *const PAYLOAD_OPTS[] = { &OPT_ENCODING, NULL };

static int link_finish(void *g, const char *cmd, splitee_error *err)
{
    (void)cmd;
    cli_link_opts *l = g;
    size_t n = l->link ? strlen(l->link) : 0;
    if (!n || strchr(l->link, '/') || (n > 5 && strcmp(l->link + n - 5, ".json") == 0))
        return 0;
    char path[SPLITEE_PATH_MAX];
    if (snprintf(path, sizeof path, "%s/links/%s.json", splitee_data_dir(), l->link) >= (int)sizeof path)
        return splitee__fail(err, SPLITEE_ERR_ARG, "--link: name too long");
    return set_string(&l->link, path, "link", err);
}
const cli_group cli_group_link = { .title = "link", .opts = LINK_OPTS, .finish = link_finish };
const cli_group cli_group_payload = { .title = "payload", .opts = PAYLOAD_OPTS };

/* ------------------------------------------------------------- output --- */

static const cli_opt OPT_JSON = { .name = "json", .arg = "FILE", .kind = CLI_STRING,
    .off = FIELD(cli_output, json), .help = "write the results as JSON" };
static const cli_opt OPT_QUIET = { .name = "quiet", .kind = CLI_SET, .ival = 1,
    .off = FIELD(cli_output, quiet), .help = "print nothing on standard output" };
static const cli_opt OPT_CHECKPOINTS = { .name = "checkpoints", .arg = "N", .kind = CLI_INT,
    .off = FIELD(cli_output, checkpoints), .lo = 1, .hi = 1000000,
    .help = "points of the regret/accuracy/cost curves (at most one per round)", .def = "1000" };
static const cli_opt *const OUTPUT_OPTS[] = { &OPT_JSON, &OPT_QUIET, &OPT_CHECKPOINTS, NULL };
static const cli_opt *const OUTPUT_JSON_OPTS[] = { &OPT_JSON, NULL };
const cli_group cli_group_output = { .title = "output", .opts = OUTPUT_OPTS };
const cli_group cli_group_output_json = { .title = "output", .opts = OUTPUT_JSON_OPTS };

/* ---------------------------------------------------------------- tls --- */

static const cli_opt OPT_TLS_CERT = { .name = "tls-cert", .arg = "FILE", .kind = CLI_STRING,
    .off = FIELD(cli_tls, cert),
    .help = "TLS 1.3: this side's certificate (PEM, signed by the peer's CA;\n"
            "tools/certs.sh makes a test set)" };
static const cli_opt OPT_TLS_KEY = { .name = "tls-key", .arg = "FILE", .kind = CLI_STRING,
    .off = FIELD(cli_tls, key), .help = "the private key of --tls-cert (PEM)" };
static const cli_opt OPT_TLS_CA = { .name = "tls-ca", .arg = "FILE", .kind = CLI_STRING,
    .off = FIELD(cli_tls, ca),
    .help = "the CA (PEM) the peer's certificate must be signed by: the cloud's\n"
            "enrolment CA for devices, a device's CA for its cloud" };
static const cli_opt OPT_PLAINTEXT = { .name = "plaintext", .kind = CLI_SET, .ival = 1,
    .off = FIELD(cli_tls, plaintext),
    .help = "no TLS (the default without --tls-*); on a loopback address only" };
static const cli_opt OPT_INSECURE_PLAINTEXT = { .name = "insecure-plaintext", .kind = CLI_SET,
    .ival = 1, .off = FIELD(cli_tls, insecure),
    .help = "no TLS even on an address that is not loopback: no encryption and\n"
            "no authentication of either side" };
static const cli_opt *const TLS_OPTS[] = { &OPT_TLS_CERT, &OPT_TLS_KEY, &OPT_TLS_CA, &OPT_PLAINTEXT,
                                           &OPT_INSECURE_PLAINTEXT, NULL };

static int tls_finish(void *g, const char *cmd, splitee_error *err)
{
    cli_tls *t = g;
    int any = t->cert || t->key || t->ca;
    if (any && (t->plaintext || t->insecure))
        return splitee__fail(err, SPLITEE_ERR_ARG, "--%s with --tls-%s: choose TLS or plaintext",
                             t->insecure ? "insecure-plaintext" : "plaintext",
                             t->cert ? "cert" : t->key ? "key" : "ca");
    if (!t->cert != !t->key)
        return splitee__fail(err, SPLITEE_ERR_ARG, "--%s without --%s", t->cert ? "tls-cert" : "tls-key",
                             t->cert ? "tls-key" : "tls-cert");
    if (any && !t->ca)
        return splitee__fail(err, SPLITEE_ERR_ARG, "--tls-cert without --tls-ca (the CA of the %s's "
                             "certificate)", strcmp(cmd, "cloud") == 0 ? "devices" : "cloud");
    if (t->ca && !t->cert && strcmp(cmd, "cloud") == 0)
        return splitee__fail(err, SPLITEE_ERR_ARG, "--tls-ca without --tls-cert and --tls-key (the "
                             "cloud's own certificate)");
    return 0;
}

static void tls_more(FILE *f)
{
    fputs("  Without --tls-*: plaintext, refused on an address that is not loopback\n"
          "  unless --insecure-plaintext (docs/LIVE.md, \"TLS and enrolment\").\n", f);
}
const cli_group cli_group_tls = { .title = "tls", .opts = TLS_OPTS, .finish = tls_finish,
                                  .more = tls_more };
