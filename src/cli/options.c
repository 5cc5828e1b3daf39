/* options.c -- parses `splitee replay` options from an experiment JSON and
 * from flags through one option table, so that a config file can hold any
 * option and flags override it. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "cli.h"
#include "core/internal.h"
#include "options.h"

#define DATA_DIR "data"

void cli_replay_defaults(cli_replay_opts *o)
{
    memset(o, 0, sizeof *o);
    o->logits = strdup(DATA_DIR "/fmnist-clean.npy");
    o->labels = strdup(DATA_DIR "/fmnist-test-labels.npy");
    o->layout = SPLITEE_LAYOUT_SAMPLES_FIRST;
    o->confidence = SPLITEE_CONFIDENCE_MAX_SOFTMAX;
    static const char *pols[] = { "splitee", "splitee-s", "final", "random", "oracle",
                                  "ee-threshold", "epsilon-greedy", "thompson",
                                  "kl-ucb", "ucb-v" };
    for (size_t i = 0; i < sizeof pols / sizeof *pols; i++) {
        splitee_policy_config_default(&o->policies[i]);
        splitee_policy_parse(pols[i], &o->policies[i]);
    }
    o->npolicies = (int)(sizeof pols / sizeof *pols);
    o->alpha = (cli_values){ 1, { 0.8 } };
    o->lambda = (cli_values){ 1, { 0.1 } };
    o->mu = (cli_values){ 1, { 1.0 } };
    o->offload = (cli_values){ 1, { 0.3 } };
    o->beta = (cli_values){ 1, { 1.0 } };
    splitee_replay_config_default(&o->replay);
    splitee_policy_config pc;
    splitee_policy_config_default(&pc);
    o->epsilon = pc.epsilon;
    o->prior_sd = pc.prior_sd;
    o->window = pc.window;
    o->discount = pc.discount;
    o->side_info = SPLITEE_SIDE_INFO_HONEST;
    o->progress = -1;
    o->link_encoding = SPLITEE_PAYLOAD_ENCODING_F32;
    o->arrival_ms = 100.0;
    o->payload_tokens = 16;   /* the shipped model: 16 tokens x 64 dim */
    o->payload_dim = 64;
}

void cli_replay_free(cli_replay_opts *o)
{
    free(o->logits);
    free(o->labels);
    free(o->json);
    free(o->csv);
    free(o->curves);
    free(o->trace);
    free(o->plot);
    free(o->link);
    for (int i = 0; i < o->nshift; i++)
        free(o->shift[i].table);
}

/* ------------------------------------------------------------ numbers --- */

int cli_parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    while (isspace((unsigned char)*end))
        end++;
    if (end == s || *end || errno == ERANGE || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

int cli_parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno == ERANGE || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* Rounds v to 12 significant digits, so 0.1 + 5*0.05 prints as 0.35. */
static double tidy(double v)
{
    char b[32];
    snprintf(b, sizeof b, "%.12g", v);
    return strtod(b, NULL);
}

int cli_parse_values(const char *s, cli_values *v, splitee_error *err, const char *what)
{
    double a, b, step;
    char buf[256];
    if (strlen(s) >= sizeof buf)
        return splitee__fail(err, SPLITEE_ERR_ARG, "%s: value list too long", what);
    strcpy(buf, s);
    char *c1 = strchr(buf, ':');
    if (c1) {
        char *c2 = strchr(c1 + 1, ':');
        if (!c2)
            return splitee__fail(err, SPLITEE_ERR_ARG, "%s: a range is start:stop:step (got '%s')", what, s);
        *c1 = *c2 = '\0';
        if (cli_parse_double(buf, &a) || cli_parse_double(c1 + 1, &b) || cli_parse_double(c2 + 1, &step))
            return splitee__fail(err, SPLITEE_ERR_ARG, "%s: not a number in '%s'", what, s);
        if (step <= 0 || b < a)
            return splitee__fail(err, SPLITEE_ERR_ARG, "%s: a range needs step > 0 and stop >= start (got '%s')", what, s);
        double count = floor((b - a) / step + 1e-9) + 1;
        if (count > CLI_MAX_SWEEP)
            return splitee__fail(err, SPLITEE_ERR_ARG, "%s: more than %d values in '%s'", what, CLI_MAX_SWEEP, s);
        v->n = (int)count;
        for (int k = 0; k < v->n; k++)
            v->v[k] = tidy(a + k * step);
        return 0;
    }
    v->n = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (v->n == CLI_MAX_SWEEP)
            return splitee__fail(err, SPLITEE_ERR_ARG, "%s: more than %d values", what, CLI_MAX_SWEEP);
        if (cli_parse_double(tok, &v->v[v->n++]))
            return splitee__fail(err, SPLITEE_ERR_ARG, "%s: not a number: '%s'", what, tok);
    }
    if (v->n == 0)
        return splitee__fail(err, SPLITEE_ERR_ARG, "%s: no value given", what);
    return 0;
}

/* Numbers of a JSON array into out. */
static int json_vector(const cJSON *arr, double *out, int max, int *n, splitee_error *err,
                       const char *what)
{
    *n = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, arr) {
        if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble))
            return splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: entry %d is not a finite number", what, *n + 1);
        if (*n == max)
            return splitee__fail(err, SPLITEE_ERR_SHAPE, "%s: more than %d entries", what, max);
        out[(*n)++] = x->valuedouble;
    }
    return 0;
}

int cli_parse_vector(const char *s, double *out, int max, int *n, splitee_error *err,
                     const char *what)
{
    FILE *f = fopen(s, "rb");
    if (!f) {   /* an inline list */
        cli_values v;
        int st = cli_parse_values(s, &v, err, what);
        if (st < 0)
            return splitee__fail(err, SPLITEE_ERR_IO, "%s: '%s' is neither a readable file nor a list of numbers", what, s);
        if (v.n > max)
            return splitee__fail(err, SPLITEE_ERR_SHAPE, "%s: more than %d values", what, max);
        memcpy(out, v.v, (size_t)v.n * sizeof *out);
        *n = v.n;
        return 0;
    }
    char *text;
    size_t len;
    int st = splitee__read_stream(f, s, 0, &text, &len, err);
    if (st < 0)
        return st;
    cJSON *j = cJSON_Parse(text);
    const char *p = text;
    while (isspace((unsigned char)*p))
        p++;
    if (j) {
        const cJSON *arr = cJSON_IsArray(j) ? j : cJSON_GetObjectItemCaseSensitive(j, "layer_cost");
        if (!cJSON_IsArray(arr))
            st = splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: expected a JSON array or an object with a \"layer_cost\" array", s);
        else
            st = json_vector(arr, out, max, n, err, s);
    } else if (*p == '[' || *p == '{') {
        st = splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: malformed JSON", s);
    } else {     /* one number per line */
        *n = 0;
        int line = 0;
        for (char *tok = strtok(text, "\n"); tok && st == 0; tok = strtok(NULL, "\n")) {
            line++;
            while (isspace((unsigned char)*tok))
                tok++;
            if (!*tok || *tok == '#')
                continue;
            if (*n == max)
                st = splitee__fail(err, SPLITEE_ERR_SHAPE, "%s: more than %d values", s, max);
            else if (cli_parse_double(tok, &out[(*n)++]))
                st = splitee__fail(err, SPLITEE_ERR_FORMAT, "%s:%d: not a number", s, line);
        }
    }
    if (st == 0 && *n == 0)
        st = splitee__fail(err, SPLITEE_ERR_SHAPE, "%s: no values", s);
    cJSON_Delete(j);
    free(text);
    return st;
}

/* ------------------------------------------------------- option table --- */

typedef int (*setter)(cli_replay_opts *o, const char *v, splitee_error *err);

static int set_str(char **dst, const char *v, splitee_error *err)
{
    char *c = strdup(v);
    if (!c)
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "out of memory");
    free(*dst);
    *dst = c;
    return 0;
}

#define STR_SETTER(field) \
    static int set_##field(cli_replay_opts *o, const char *v, splitee_error *err) \
    { return set_str(&o->field, v, err); }
STR_SETTER(logits)
STR_SETTER(json)
STR_SETTER(csv)
STR_SETTER(curves)
STR_SETTER(trace)
STR_SETTER(plot)

static int set_labels(cli_replay_opts *o, const char *v, splitee_error *err)
{
    if (strcmp(v, "none") == 0) {
        free(o->labels);
        o->labels = NULL;
        return 0;
    }
    return set_str(&o->labels, v, err);
}

static int set_domain(cli_replay_opts *o, const char *v, splitee_error *err)
{
    static const char *known[] = { "clean", "noise", "blur", "contrast" };
    for (size_t i = 0; i < sizeof known / sizeof *known; i++) {
        if (strcmp(v, known[i]) == 0) {
            char path[128];
            snprintf(path, sizeof path, DATA_DIR "/fmnist-%s.npy", v);
            return set_str(&o->logits, path, err);
        }
    }
    return splitee__fail(err, SPLITEE_ERR_ARG,
                         "--domain: unknown domain '%s' (clean, noise, blur, contrast)", v);
}

/* Index of v in names[0..n-1] into *out, or an error listing the choices. */
static int pick(const char *opt, const char *v, const char *const *names, int n, int *out,
                splitee_error *err)
{
    for (int i = 0; i < n; i++)
        if (strcmp(v, names[i]) == 0) {
            *out = i;
            return 0;
        }
    char list[128] = "";
    for (int i = 0; i < n; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", names[i]);
    return splitee__fail(err, SPLITEE_ERR_ARG, "--%s: expected one of %s, got '%s'", opt, list, v);
}

/* Enum options: the names in enum order. */
#define CHOICE_SETTER(fn, opt, field, type, ...) \
    static int fn(cli_replay_opts *o, const char *v, splitee_error *err) \
    { \
        static const char *const names[] = { __VA_ARGS__ }; \
        int i = 0, st = pick(opt, v, names, (int)(sizeof names / sizeof *names), &i, err); \
        if (st == 0) \
            o->field = (type)i; \
        return st; \
    }
CHOICE_SETTER(set_layout, "layout", layout, splitee_layout, "samples-first", "exits-first")
CHOICE_SETTER(set_order, "order", replay.order, splitee_order, "shuffle", "given")
CHOICE_SETTER(set_init, "init", replay.init, splitee_init, "play-once", "reference")
CHOICE_SETTER(set_side_info, "side-info", side_info, splitee_side_info, "honest", "reference")

static int set_confidence(cli_replay_opts *o, const char *v, splitee_error *err)
{
    if (splitee_confidence_parse(v, &o->confidence) < 0)
        return splitee__fail(err, SPLITEE_ERR_ARG, "--confidence: expected max-softmax, entropy or margin, got '%s'", v);
    return 0;
}

static int set_policies(cli_replay_opts *o, const char *v, splitee_error *err)
{
    char buf[1024];
    if (strlen(v) >= sizeof buf)
        return splitee__fail(err, SPLITEE_ERR_ARG, "--policies: list too long");
    strcpy(buf, v);
    o->npolicies = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        while (isspace((unsigned char)*tok))
            tok++;
        if (o->npolicies == CLI_MAX_POLICIES)
            return splitee__fail(err, SPLITEE_ERR_ARG, "--policies: more than %d policies", CLI_MAX_POLICIES);
        splitee_policy_config *pc = &o->policies[o->npolicies++];
        splitee_policy_config_default(pc);
        if (splitee_policy_parse(tok, pc) < 0)
            return splitee__fail(err, SPLITEE_ERR_ARG,
                                 "--policies: unknown policy '%s' (splitee, splitee-s, final, random, "
                                 "fixed:K, oracle, ee-threshold, epsilon-greedy, thompson, kl-ucb, ucb-v, "
                                 "sw-ucb, d-ucb, sw-ucb-s, d-ucb-s)", tok);
    }
    if (o->npolicies == 0)
        return splitee__fail(err, SPLITEE_ERR_ARG, "--policies: no policy given");
    return 0;
}

#define VALUES_SETTER(field) \
    static int set_##field(cli_replay_opts *o, const char *v, splitee_error *err) \
    { return cli_parse_values(v, &o->field, err, "--" #field); }
VALUES_SETTER(alpha)
VALUES_SETTER(lambda)
VALUES_SETTER(mu)
VALUES_SETTER(offload)
VALUES_SETTER(beta)

static int set_layer_cost(cli_replay_opts *o, const char *v, splitee_error *err)
{
    return cli_parse_vector(v, o->layer_cost, SPLITEE_MAX_EXITS, &o->nlayer_cost, err, "--layer-cost");
}

static int set_offload_cost(cli_replay_opts *o, const char *v, splitee_error *err)
{
    o->offload_given = 1;
    return cli_parse_vector(v, o->offload_cost, SPLITEE_MAX_EXITS, &o->noffload_cost, err, "--offload-cost");
}

static int set_offload_o(cli_replay_opts *o, const char *v, splitee_error *err)
{
    o->offload_given = 1;
    return set_offload(o, v, err);
}

static int set_link(cli_replay_opts *o, const char *v, splitee_error *err)
{
    free(o->link);
    if (!(o->link = strdup(v)))
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "--link: out of memory");
    return 0;
}

static int set_encoding(cli_replay_opts *o, const char *v, splitee_error *err)
{
    return splitee_payload_encoding_parse(v, &o->link_encoding, err);
}

static int set_arrival(cli_replay_opts *o, const char *v, splitee_error *err)
{
    double x;
    if (cli_parse_double(v, &x) || !(x >= 0) || x > 1e9)
        return splitee__fail(err, SPLITEE_ERR_ARG, "--arrival-ms: expected a number in [0, 1e9], got '%s'", v);
    o->arrival_ms = x;
    return 0;
}

static int set_payload_shape(cli_replay_opts *o, const char *v, splitee_error *err)
{
    int t, d, n = 0;
    if (sscanf(v, "%dx%d%n", &t, &d, &n) != 2 || v[n] || t < 1 || d < 1 || t > 1 << 20 || d > 1 << 20)
        return splitee__fail(err, SPLITEE_ERR_ARG, "--payload-shape: expected TOKENSxDIM such as 16x64, got '%s'", v);
    o->payload_tokens = t;
    o->payload_dim = d;
    return 0;
}

static int set_reps(cli_replay_opts *o, const char *v, splitee_error *err)
{
    long x;
    if (cli_parse_long(v, 1, 1000000, &x))
        return splitee__fail(err, SPLITEE_ERR_ARG, "--reps: expected an integer in 1..1000000, got '%s'", v);
    o->replay.repetitions = (int)x;
    return 0;
}

static int set_seed(cli_replay_opts *o, const char *v, splitee_error *err)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (end == v || *end || errno || *v == '-')
        return splitee__fail(err, SPLITEE_ERR_ARG, "--seed: expected a non-negative integer, got '%s'", v);
    o->replay.seed = (uint64_t)x;
    return 0;
}

static int set_reference(cli_replay_opts *o, const char *v, splitee_error *err)
{
    (void)v;
    (void)err;
    o->replay.order = SPLITEE_ORDER_GIVEN;
    o->replay.init = SPLITEE_INIT_REFERENCE;
    o->side_info = SPLITEE_SIDE_INFO_REFERENCE;
    return 0;
}

static int set_checkpoints(cli_replay_opts *o, const char *v, splitee_error *err)
{
    long x;
    if (cli_parse_long(v, 1, 100000000, &x))
        return splitee__fail(err, SPLITEE_ERR_ARG, "--checkpoints: expected a positive integer, got '%s'", v);
    o->replay.checkpoints = (int)x;
    return 0;
}

static int set_threads(cli_replay_opts *o, const char *v, splitee_error *err)
{
    long x;
    if (cli_parse_long(v, 0, 256, &x))
        return splitee__fail(err, SPLITEE_ERR_ARG, "--threads: expected an integer in 0..256 (0 = all cores), got '%s'", v);
    o->replay.threads = (int)x;
    return 0;
}

static int set_epsilon(cli_replay_opts *o, const char *v, splitee_error *err)
{
    if (cli_parse_double(v, &o->epsilon) || o->epsilon < 0 || o->epsilon > 1)
        return splitee__fail(err, SPLITEE_ERR_ARG, "--epsilon: expected a number in [0, 1], got '%s'", v);
    return 0;
}

static int set_prior_sd(cli_replay_opts *o, const char *v, splitee_error *err)
{
    if (cli_parse_double(v, &o->prior_sd) || o->prior_sd <= 0)
        return splitee__fail(err, SPLITEE_ERR_ARG, "--prior-sd: expected a positive number, got '%s'", v);
    return 0;
}

static int set_window(cli_replay_opts *o, const char *v, splitee_error *err)
{
    long x;
    if (cli_parse_long(v, 1, 100000000, &x))
        return splitee__fail(err, SPLITEE_ERR_ARG, "--window: expected a number of rounds in 1..100000000, got '%s'", v);
    o->window = (int)x;
    return 0;
}

static int set_discount(cli_replay_opts *o, const char *v, splitee_error *err)
{
    if (cli_parse_double(v, &o->discount) || !(o->discount > 0 && o->discount <= 1))
        return splitee__fail(err, SPLITEE_ERR_ARG, "--discount: expected a number in (0, 1], got '%s'", v);
    return 0;
}

/* One "ROUND:TABLE" (ROUND an integer >= 1 or a percentage "P%" of the
 * stream, TABLE a path or clean/noise/blur/contrast) appended to o->shift. */
static int add_shift(cli_replay_opts *o, char *item, splitee_error *err)
{
    char *colon = strchr(item, ':');
    if (!colon || colon == item || !colon[1])
        return splitee__fail(err, SPLITEE_ERR_ARG, "--shift: expected ROUND:TABLE, got '%s'", item);
    *colon = '\0';
    struct cli_shift sh = { 0, 0, NULL };
    size_t len = strlen(item);
    if (item[len - 1] == '%') {
        item[len - 1] = '\0';
        if (cli_parse_double(item, &sh.round_pct) || !(sh.round_pct > 0 && sh.round_pct < 100))
            return splitee__fail(err, SPLITEE_ERR_ARG, "--shift: a percentage must be in (0, 100), got '%s%%'", item);
    } else if (cli_parse_long(item, 1, 4000000000L, &sh.round)) {
        return splitee__fail(err, SPLITEE_ERR_ARG, "--shift: ROUND must be a whole number >= 1 or P%%, got '%s'", item);
    }
    if (o->nshift == SPLITEE_MAX_SEGMENTS - 1)
        return splitee__fail(err, SPLITEE_ERR_ARG, "--shift: at most %d shifts", SPLITEE_MAX_SEGMENTS - 1);
    const char *table = colon + 1;
    char path[128];
    static const char *known[] = { "clean", "noise", "blur", "contrast" };
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        if (strcmp(table, known[i]) == 0) {
            snprintf(path, sizeof path, DATA_DIR "/fmnist-%.16s.npy", table);
            table = path;
        }
    if (!(sh.table = strdup(table)))
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "out of memory");
    o->shift[o->nshift++] = sh;
    return 0;
}

/* --shift ROUND:TABLE[,ROUND:TABLE...]; repeatable. The first --shift flag
 * replaces the shifts a --config file gave, later ones add to it. */
static int set_shift(cli_replay_opts *o, const char *v, splitee_error *err)
{
    if (!o->in_config && !o->shift_from_flags) {
        for (int i = 0; i < o->nshift; i++)
            free(o->shift[i].table);
        o->nshift = 0;
        o->shift_from_flags = 1;
    }
    char buf[4096];
    if (strlen(v) >= sizeof buf)
        return splitee__fail(err, SPLITEE_ERR_ARG, "--shift: list too long");
    strcpy(buf, v);
    int st = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok && st == 0; tok = strtok_r(NULL, ",", &save))
        st = add_shift(o, tok, err);
    return st;
}

static int set_quiet(cli_replay_opts *o, const char *v, splitee_error *err)
{
    (void)v;
    (void)err;
    o->quiet = 1;
    return 0;
}

static int set_progress(cli_replay_opts *o, const char *v, splitee_error *err)
{
    (void)v;
    (void)err;
    o->progress = 1;
    return 0;
}

static int set_no_progress(cli_replay_opts *o, const char *v, splitee_error *err)
{
    (void)v;
    (void)err;
    o->progress = 0;
    return 0;
}

typedef struct opt_def {
    const char *name;  /* without the leading "--" */
    const char *arg;   /* placeholder, or NULL for a plain flag */
    setter set;
    const char *help;
} opt_def;

static const opt_def OPTS[] = {
    { "logits", "FILE", set_logits, "exit-logit table: .npy (float32/64) or .csv [data/fmnist-clean.npy]" },
    { "labels", "FILE", set_labels, "labels .npy (int32/int64/uint8), or with a .csv table a text file\n                          of one integer per line; 'none' for no accuracy [data/fmnist-test-labels.npy]" },
    { "domain", "NAME", set_domain, "shipped table: clean, noise, blur or contrast" },
    { "layout", "L", set_layout, "samples-first (N,L,K) or exits-first (L,N,K) [samples-first]" },
    { "confidence", "C", set_confidence, "max-softmax, entropy or margin [max-softmax]" },
    { "policies", "LIST", set_policies, "comma list: splitee,splitee-s,final,random,fixed:K,oracle,\n"
      "                          ee-threshold,epsilon-greedy,thompson,kl-ucb,ucb-v,sw-ucb,d-ucb,\n"
      "                          sw-ucb-s,d-ucb-s [all but fixed and the last four]" },
    { "alpha", "V", set_alpha, "exit threshold; V, a,b,c or start:stop:step [0.8]" },
    { "lambda", "V", set_lambda, "device cost per layer [0.1]" },
    { "mu", "V", set_mu, "cost weight [1]" },
    { "offload", "V", set_offload_o, "offloading cost o [0.3]" },
    { "beta", "V", set_beta, "UCB exploration constant [1]" },
    { "layer-cost", "LIST|FILE", set_layer_cost, "per-layer device cost vector (replaces lambda): list, or a file\n"
      "                          (JSON array, {\"layer_cost\": [...]}, or one number per line)" },
    { "offload-cost", "LIST|FILE", set_offload_cost, "per-layer offloading cost vector (replaces offload)" },
    { "link", "PROFILE", set_link, "o per split layer and round from a link profile (docs/LINKS.md)" },
    { "encoding", "E", set_encoding, "--link payload encoding: f32, f16 or int8 [f32]" },
    { "arrival-ms", "MS", set_arrival, "--link: round k happens at k*MS on the link's clock [100]" },
    { "payload-shape", "TxD", set_payload_shape, "--link: activation tokens x dim [16x64]" },
    { "reps", "R", set_reps, "shuffled repetitions [20]" },
    { "seed", "S", set_seed, "random seed [1]" },
    { "order", "O", set_order, "shuffle or given [shuffle]" },
    { "init", "I", set_init, "play-once or reference [play-once]" },
    { "side-info", "S", set_side_info, "splitee-s (sw-ucb-s, d-ucb-s) side observations: honest or reference [honest]" },
    { "reference", NULL, set_reference, "the authors' simulation: --order given --init reference --side-info reference" },
    { "epsilon", "E", set_epsilon, "epsilon-greedy exploration probability [0.05]" },
    { "prior-sd", "S", set_prior_sd, "Thompson sampling reward s.d. [0.5]" },
    { "window", "W", set_window, "sw-ucb(-s): rounds in the sliding window [1000]" },
    { "discount", "G", set_discount, "d-ucb(-s): discount factor gamma in (0, 1] [0.999]" },
    { "shift", "ROUND:TABLE", set_shift, "domain shift: after ROUND rounds (or P% of the stream) the samples\n"
      "                          come from TABLE (a path, or clean/noise/blur/contrast); repeatable,\n"
      "                          or a comma list. Adds dynamic regret (per-segment best layer)" },
    { "checkpoints", "N", set_checkpoints, "curve points [1000]" },
    { "threads", "N", set_threads, "worker threads, 0 = all cores [0]" },
    { "json", "FILE", set_json, "write everything as JSON" },
    { "csv", "FILE", set_csv, "write the table as CSV" },
    { "curves", "FILE", set_curves, "write regret/accuracy/cost curves as CSV" },
    { "trace", "FILE", set_trace, "write a per-round CSV of the first repetition" },
    { "plot", "PREFIX", set_plot, "draw PREFIX-regret.{svg,png} (and PREFIX-sweep.* for sweeps)" },
    { "quiet", NULL, set_quiet, "do not print the table" },
    { "progress", NULL, set_progress, "show progress on stderr even when it is not a terminal" },
    { "no-progress", NULL, set_no_progress, "never show progress" },
};

static const opt_def *find_opt(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof OPTS / sizeof *OPTS; i++)
        if (strlen(OPTS[i].name) == len && strncmp(OPTS[i].name, name, len) == 0)
            return &OPTS[i];
    return NULL;
}

void cli_replay_usage(FILE *f)
{
    fputs("usage: splitee replay [options]\n"
          "Replays an exit-logit table through split-layer policies and reports accuracy,\n"
          "cost, offload rate, learned layer and regret with 95% confidence intervals.\n\n"
          "  --config FILE           experiment JSON holding any option below (flags override it)\n", f);
    for (size_t i = 0; i < sizeof OPTS / sizeof *OPTS; i++) {
        char lhs[64];
        snprintf(lhs, sizeof lhs, "--%s%s%s", OPTS[i].name, OPTS[i].arg ? " " : "",
                 OPTS[i].arg ? OPTS[i].arg : "");
        fprintf(f, "  %-23s %s\n", lhs, OPTS[i].help);
    }
    fputs("  --help                  this text\n", f);
}

/* ------------------------------------------------------------- config --- */

/* The option value a JSON item stands for: strings as they are, numbers in
 * full precision, arrays joined with commas. */
static int json_value(const cJSON *x, char *buf, size_t len)
{
    if (cJSON_IsString(x))
        return snprintf(buf, len, "%s", x->valuestring) < (int)len ? 0 : -1;
    if (cJSON_IsNumber(x))
        return snprintf(buf, len, "%.17g", x->valuedouble) < (int)len ? 0 : -1;
    if (cJSON_IsArray(x)) {
        size_t o = 0;
        buf[0] = '\0';
        const cJSON *e;
        cJSON_ArrayForEach(e, x) {
            if (o && o + 1 < len)
                buf[o++] = ',';
            if (o >= len || json_value(e, buf + o, len - o) < 0 || cJSON_IsArray(e))
                return -1;
            o += strlen(buf + o);
        }
        return 0;
    }
    return -1;
}

static int apply_config(cli_replay_opts *o, const char *path, splitee_error *err)
{
    size_t len;
    char *text;
    int rc = splitee__read_file(path, 0, &text, &len, err);
    if (rc < 0)
        return rc;
    cJSON *j = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: not a JSON object of options", path);
    }
    int st = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, j) {
        const opt_def *d = find_opt(x->string, strlen(x->string));
        char val[4096];
        if (!d) {
            st = splitee__fail(err, SPLITEE_ERR_ARG, "%s: unknown option \"%s\"", path, x->string);
        } else if (!d->arg) {
            if (!cJSON_IsBool(x))
                st = splitee__fail(err, SPLITEE_ERR_ARG, "%s: \"%s\" takes true or false", path, x->string);
            else if (cJSON_IsTrue(x))
                st = d->set(o, "", err);
        } else if (json_value(x, val, sizeof val) < 0) {
            st = splitee__fail(err, SPLITEE_ERR_ARG, "%s: \"%s\" must be a string, a number or a list", path, x->string);
        } else if ((st = d->set(o, val, err)) < 0) {
            char inner[sizeof err->msg];
            snprintf(inner, sizeof inner, "%s", err->msg);
            splitee__fail(err, st, "%s: %s", path, inner);
        }
        if (st < 0)
            break;
    }
    cJSON_Delete(j);
    return st;
}

/* ------------------------------------------------------------- parse --- */

int cli_replay_parse(cli_replay_opts *o, int argc, char **argv, splitee_error *err)
{
    int st;
    for (int i = 0; i < argc; i++) {   /* --config first, wherever it is */
        if (strcmp(argv[i], "--config") == 0) {
            if (i + 1 >= argc)
                return splitee__fail(err, SPLITEE_ERR_ARG, "--config: missing FILE");
            o->in_config = 1;
            st = apply_config(o, argv[++i], err);
            o->in_config = 0;
            if (st < 0)
                return st;
        } else if (strncmp(argv[i], "--config=", 9) == 0) {
            o->in_config = 1;
            st = apply_config(o, argv[i] + 9, err);
            o->in_config = 0;
            if (st < 0)
                return st;
        }
    }
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            cli_replay_usage(stdout);
            return 1;
        }
        if (strcmp(a, "--config") == 0) {
            i++;
            continue;
        }
        if (strncmp(a, "--config=", 9) == 0)
            continue;
        if (strncmp(a, "--", 2) != 0)
            return splitee__fail(err, SPLITEE_ERR_ARG, "unexpected argument '%s' (see splitee replay --help)", a);
        const char *eq = strchr(a + 2, '=');
        size_t nlen = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        const opt_def *d = find_opt(a + 2, nlen);
        if (!d)
            return splitee__fail(err, SPLITEE_ERR_ARG, "unknown option '%s' (see splitee replay --help)", a);
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
        if ((st = d->set(o, val, err)) < 0)
            return st;
    }
    for (int p = 0; p < o->npolicies; p++) {
        o->policies[p].epsilon = o->epsilon;
        o->policies[p].prior_sd = o->prior_sd;
        o->policies[p].side_info = o->side_info;
        o->policies[p].window = o->window;
        o->policies[p].discount = o->discount;
    }
    return 0;
}
