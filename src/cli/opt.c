/* opt.c -- the one option parser of every `splitee` command (opt.h): the
 * table of a command's options, defaults, --config files, flags, --help,
 * and the number and list parsers the setters share. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "core/internal.h"
#include "opt.h"

#define CLI_MAX_OPTS 160   /* options of one command */
#define HELP_COL 26        /* help text starts here */

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

int cli_parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)*s))
        return -1;
    unsigned long long x = strtoull(s, &end, 10);
    if (*end || errno)
        return -1;
    *out = (uint64_t)x;
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
    char buf[4096];
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
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (v->n == CLI_MAX_SWEEP)
            return splitee__fail(err, SPLITEE_ERR_ARG, "%s: more than %d values", what, CLI_MAX_SWEEP);
        if (cli_parse_double(tok, &v->v[v->n++]))
            return splitee__fail(err, SPLITEE_ERR_ARG, "%s: not a number: '%s'", what, tok);
    }
    if (v->n == 0)
        return splitee__fail(err, SPLITEE_ERR_ARG, "%s: no value given", what);
    return 0;
}

int cli_values_one(const cli_values *v, const char *name, const char *cmd, double *out,
                   splitee_error *err)
{
    if (v->n != 1)
        return splitee__fail(err, SPLITEE_ERR_ARG,
                             "--%s: splitee %s takes one value, not a sweep of %d (sweeps are for splitee replay)",
                             name, cmd, v->n);
    *out = v->v[0];
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
        char *save = NULL;
        for (char *tok = strtok_r(text, "\n", &save); tok && st == 0; tok = strtok_r(NULL, "\n", &save)) {
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

void cli_list_names(cli_lister list, char *buf, size_t cap)
{
    size_t o = 0;
    buf[0] = '\0';
    const char *desc, *name;
    for (int i = 0; (name = list(i, &desc)) != NULL && o < cap; i++) {
        int n = snprintf(buf + o, cap - o, "%s%s", i ? ", " : "", name);
        if (n < 0)
            break;
        o += (size_t)n;
    }
}

int cli_pick_name(cli_lister list, const char *opt, const char *v, int *out, splitee_error *err)
{
    const char *desc, *name;
    for (int i = 0; (name = list(i, &desc)) != NULL; i++)
        if (strcmp(v, name) == 0) {
            *out = i;
            return 0;
        }
    char names[256];
    cli_list_names(list, names, sizeof names);
    return splitee__fail(err, SPLITEE_ERR_ARG, "--%s: expected one of %s, got '%s'", opt, names, v);
}

char *cli_join_args(const char *cmd, int argc, char **argv)
{
    size_t len = strlen("splitee ") + strlen(cmd) + 1;
    for (int i = 0; i < argc; i++)
        len += strlen(argv[i]) + 1;
    char *s = malloc(len);
    if (!s)
        return NULL;
    snprintf(s, len, "splitee %s", cmd);
    for (int i = 0; i < argc; i++) {
        strcat(s, " ");
        strcat(s, argv[i]);
    }
    return s;
}

/* ------------------------------------------------ the command's table --- */

typedef struct entry {
    const cli_opt *opt;
    void *base;            /* the group's struct in the command's options */
    cli_source src;        /* where the current value came from */
} entry;

typedef struct table {
    const cli_command *cmd;
    entry e[CLI_MAX_OPTS];
    int n;
} table;

static int build(const cli_command *cmd, void *opts, table *t, splitee_error *err)
{
    t->cmd = cmd;
    t->n = 0;
    for (const cli_use *u = cmd->groups; u->group; u++)
        for (const cli_opt *const *o = u->group->opts; *o; o++) {
            for (int i = 0; i < t->n; i++)
                if (strcmp(t->e[i].opt->name, (*o)->name) == 0)
                    return splitee__fail(err, SPLITEE_ERR_ARG, "internal: --%s twice in splitee %s",
                                         (*o)->name, cmd->name);
            if (t->n == CLI_MAX_OPTS)
                return splitee__fail(err, SPLITEE_ERR_ARG, "internal: splitee %s has too many options", cmd->name);
            t->e[t->n++] = (entry){ *o, opts ? (char *)opts + u->off : NULL, CLI_UNSET };
        }
    return 0;
}

static entry *find(table *t, const char *name, size_t len)
{
    for (int i = 0; i < t->n; i++)
        if (strlen(t->e[i].opt->name) == len && strncmp(t->e[i].opt->name, name, len) == 0)
            return &t->e[i];
    return NULL;
}

/* The entry an alias stands for (itself otherwise). */
static entry *target(table *t, entry *e)
{
    if (e && e->opt->kind == CLI_ALIAS)
        return find(t, e->opt->alias, strlen(e->opt->alias));
    return e;
}

/* The command's override of o's default, or NULL. */
static const cli_default *override_of(const cli_command *cmd, const cli_opt *o)
{
    for (const cli_default *d = cmd->defaults; d && d->name; d++)
        if (strcmp(d->name, o->name) == 0)
            return d;
    return NULL;
}

/* The default value the command applies for o, or NULL. */
static const char *default_of(const cli_command *cmd, const cli_opt *o)
{
    const cli_default *d = override_of(cmd, o);
    return d ? d->value : o->def;
}

/* What the help shows as o's default, or NULL. */
static const char *default_shown(const cli_command *cmd, const cli_opt *o)
{
    const cli_default *d = override_of(cmd, o);
    if (d)
        return d->value ? d->value : d->text;
    return o->def ? o->def : o->def_text;
}

static void range_text(const cli_opt *o, char *buf, size_t cap)
{
    if (o->kind == CLI_DOUBLE) {
        if (isinf(o->hi))
            snprintf(buf, cap, "a number %s %g", o->open & CLI_OPEN_LO ? ">" : ">=", o->lo);
        else
            snprintf(buf, cap, "a number in %c%g, %g%c", o->open & CLI_OPEN_LO ? '(' : '[', o->lo, o->hi,
                     o->open & CLI_OPEN_HI ? ')' : ']');
    } else if (o->hi >= 1e15) {
        snprintf(buf, cap, "an integer >= %.0f", o->lo);
    } else {
        snprintf(buf, cap, "an integer in %.0f..%.0f", o->lo, o->hi);
    }
}

static int set_typed(const cli_opt *o, void *base, const char *v, const cli_ctx *ctx, splitee_error *err)
{
    char *field = (char *)base + o->off;
    char what[96];
    long l;
    double d;
    switch (o->kind) {
    case CLI_STRING: {
        char *c = strdup(v);
        if (!c)
            return splitee__fail(err, SPLITEE_ERR_NOMEM, "--%s: out of memory", o->name);
        free(*(char **)field);
        *(char **)field = c;
        return 0;
    }
    case CLI_INT:
    case CLI_LONG:
        if (cli_parse_long(v, (long)o->lo, (long)fmin(o->hi, 9.2e18), &l) < 0) {
            range_text(o, what, sizeof what);
            return splitee__fail(err, SPLITEE_ERR_ARG, "--%s: expected %s, got '%s'", o->name, what, v);
        }
        if (o->kind == CLI_INT)
            *(int *)field = (int)l;
        else
            *(long *)field = l;
        return 0;
    case CLI_U64:
        if (cli_parse_u64(v, (uint64_t *)field) < 0)
            return splitee__fail(err, SPLITEE_ERR_ARG, "--%s: expected a non-negative integer, got '%s'",
                                 o->name, v);
        return 0;
    case CLI_DOUBLE:
        if (cli_parse_double(v, &d) < 0 || d < o->lo || d > o->hi ||
            ((o->open & CLI_OPEN_LO) && d == o->lo) || ((o->open & CLI_OPEN_HI) && d == o->hi)) {
            range_text(o, what, sizeof what);
            return splitee__fail(err, SPLITEE_ERR_ARG, "--%s: expected %s, got '%s'", o->name, what, v);
        }
        *(double *)field = d;
        return 0;
    case CLI_SET:
        *(int *)field = o->ival;
        return 0;
    case CLI_CHOICE: {
        char list[256] = "";
        for (int i = 0; o->choices[i]; i++) {
            if (strcmp(v, o->choices[i]) == 0) {
                *(int *)field = i;
                return 0;
            }
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", o->choices[i]);
        }
        return splitee__fail(err, SPLITEE_ERR_ARG, "--%s: expected one of %s, got '%s'", o->name, list, v);
    }
    case CLI_FN:
        return o->set(base, v, ctx, err);
    case CLI_ALIAS:
        break;
    }
    return splitee__fail(err, SPLITEE_ERR_ARG, "internal: --%s has no setter", o->name);
}

/* Sets entry e (an alias already resolved) from v. */
static int apply(table *t, entry *e, const char *v, cli_source src, splitee_error *err)
{
    cli_ctx ctx = { e->opt->name, src, e->src, t->cmd->name };
    int st = set_typed(e->opt, e->base, v, &ctx, err);
    if (st == 0)
        e->src = src;
    return st;
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
            if (o >= len || cJSON_IsArray(e) || json_value(e, buf + o, len - o) < 0)
                return -1;
            o += strlen(buf + o);
        }
        return 0;
    }
    return -1;
}

static int apply_config(table *t, const char *path, splitee_error *err)
{
    size_t len;
    char *text;
    int st = splitee__read_file(path, 0, &text, &len, err);
    if (st < 0)
        return st;
    cJSON *j = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: not a JSON object of options", path);
    }
    char *val = malloc(65536);
    if (!val) {
        cJSON_Delete(j);
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", path);
    }
    const cJSON *x;
    cJSON_ArrayForEach(x, j) {
        entry *e = target(t, find(t, x->string, strlen(x->string)));
        if (strcmp(x->string, "config") == 0)
            st = splitee__fail(err, SPLITEE_ERR_ARG, "%s: \"config\" cannot name another file", path);
        else if (!e)
            st = splitee__fail(err, SPLITEE_ERR_ARG, "%s: unknown option \"%s\" (see splitee %s --help)", path,
                               x->string, t->cmd->name);
        else if (!e->opt->arg) {
            if (!cJSON_IsBool(x))
                st = splitee__fail(err, SPLITEE_ERR_ARG, "%s: \"%s\" is a flag: true or false", path, x->string);
            else if (cJSON_IsTrue(x))
                st = apply(t, e, "", CLI_CONFIG, err);
        } else if (json_value(x, val, 65536) < 0) {
            st = splitee__fail(err, SPLITEE_ERR_ARG, "%s: \"%s\" must be a string, a number or a list", path,
                               x->string);
        } else if ((st = apply(t, e, val, CLI_CONFIG, err)) < 0) {
            char inner[sizeof err->msg];
            snprintf(inner, sizeof inner, "%s", err->msg);
            splitee__fail(err, st, "%s: %s", path, inner);
        }
        if (st < 0)
            break;
    }
    free(val);
    cJSON_Delete(j);
    return st;
}

/* -------------------------------------------------------------- parse --- */

static int is_help(const char *a)
{
    return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

int cli_parse(const cli_command *cmd, void *opts, int argc, char **argv, splitee_error *err)
{
    table *t = malloc(sizeof *t);
    if (!t)
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "out of memory");
    int st = build(cmd, opts, t, err);
    for (int i = 0; st == 0 && i < argc; i++)
        if (is_help(argv[i])) {
            cli_help(stdout, cmd);
            free(t);
            return 1;
        }
    /* 1. defaults */
    for (int i = 0; st == 0 && i < t->n; i++) {
        const char *d = default_of(cmd, t->e[i].opt);
        if (d && t->e[i].opt->kind != CLI_ALIAS)
            st = apply(t, &t->e[i], d, CLI_DEFAULT, err);
    }
    for (const cli_default *d = cmd->defaults; st == 0 && d && d->name; d++)
        if (!find(t, d->name, strlen(d->name)))
            st = splitee__fail(err, SPLITEE_ERR_ARG, "internal: default for --%s, not an option of splitee %s",
                               d->name, cmd->name);
    if (st < 0) {   /* a table's own default must parse */
        char inner[sizeof err->msg];
        snprintf(inner, sizeof inner, "%s", err->msg);
        splitee__fail(err, st, "internal: a default of splitee %s: %s", cmd->name, inner);
    }
    /* 2. config files, wherever they stand */
    for (int i = 0; st == 0 && i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0) {
            if (i + 1 >= argc)
                st = splitee__fail(err, SPLITEE_ERR_ARG, "--config: missing FILE");
            else
                st = apply_config(t, argv[++i], err);
        } else if (strncmp(argv[i], "--config=", 9) == 0) {
            st = apply_config(t, argv[i] + 9, err);
        }
    }
    /* 3. flags, in order */
    for (int i = 0; st == 0 && i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--config") == 0) {
            i++;
            continue;
        }
        if (strncmp(a, "--config=", 9) == 0)
            continue;
        if (a[0] != '-' || strcmp(a, "-") == 0 || strcmp(a, "--") == 0) {
            st = splitee__fail(err, SPLITEE_ERR_ARG, "unexpected argument '%s' (see splitee %s --help)", a,
                               cmd->name);
            break;
        }
        const char *name = a + (a[1] == '-' ? 2 : 1);
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        entry *e = a[1] == '-' ? target(t, find(t, name, nlen)) : NULL;
        if (!e) {
            st = splitee__fail(err, SPLITEE_ERR_ARG, "unknown option '%.*s' (see splitee %s --help)",
                               (int)(name - a + nlen), a, cmd->name);
            break;
        }
        const char *shown = find(t, name, nlen)->opt->name;   /* as spelt */
        const char *val = "";
        if (e->opt->arg) {
            if (eq) {
                val = eq + 1;
            } else if (i + 1 < argc && !(argv[i + 1][0] == '-' && argv[i + 1][1] == '-' && argv[i + 1][2])) {
                val = argv[++i];
            } else if (i + 1 < argc) {
                st = splitee__fail(err, SPLITEE_ERR_ARG, "--%s: missing %s (before '%s')", shown, e->opt->arg,
                                   argv[i + 1]);
                break;
            } else {
                st = splitee__fail(err, SPLITEE_ERR_ARG, "--%s: missing %s", shown, e->opt->arg);
                break;
            }
        } else if (eq) {
            st = splitee__fail(err, SPLITEE_ERR_ARG, "--%s is a flag and takes no value (got '%s')", shown, a);
            break;
        }
        st = apply(t, e, val, CLI_FLAG, err);
    }
    /* 4. the groups' checks and derived values */
    for (const cli_use *u = cmd->groups; st == 0 && u->group; u++)
        if (u->group->finish)
            st = u->group->finish((char *)opts + u->off, cmd->name, err);
    free(t);
    return st;
}

void cli_free(const cli_command *cmd, void *opts)
{
    for (const cli_use *u = cmd->groups; u->group; u++) {
        void *base = (char *)opts + u->off;
        for (const cli_opt *const *o = u->group->opts; *o; o++)
            if ((*o)->kind == CLI_STRING) {
                char **f = (char **)((char *)base + (*o)->off);
                free(*f);
                *f = NULL;
            }
        if (u->group->release)
            u->group->release(base);
    }
}

/* --------------------------------------------------------------- help --- */

#define HELP_WIDTH 100       /* a tail that would pass it goes on a line of its own */

/* Prints text at column HELP_COL, continuation lines after each "\n"
 * indented to it; `tail` (may be empty, starts with a space) ends the last
 * line, or gets its own when the line would be too long. */
static void print_text(FILE *f, const char *text, const char *tail)
{
    size_t col = HELP_COL;
    for (const char *p = text; *p; p++) {
        fputc(*p, f);
        col++;
        if (*p == '\n') {
            fprintf(f, "%*s", HELP_COL, "");
            col = HELP_COL;
        }
    }
    if (*tail && col + strlen(tail) > HELP_WIDTH && col > HELP_COL)
        fprintf(f, "\n%*s%s\n", HELP_COL, "", tail + strspn(tail, ": "));
    else
        fprintf(f, "%s\n", tail);
}

static void print_opt(FILE *f, const cli_command *cmd, const cli_opt *o)
{
    char lhs[64];
    snprintf(lhs, sizeof lhs, "--%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
    fprintf(f, "  %-*s", HELP_COL - 3, lhs);
    if ((int)strlen(lhs) > HELP_COL - 3)
        fprintf(f, "\n%*s", HELP_COL, "");
    else
        fputc(' ', f);
    char tail[512] = "";
    size_t tl = 0;
    const char *desc = NULL;
    int described = 0;
    if (o->list)
        for (int i = 0; o->list(i, &desc); i++, desc = NULL)
            described |= desc != NULL;
    if ((o->list && !described) || o->choices) {
        char names[256];
        if (o->list) {
            cli_list_names(o->list, names, sizeof names);
        } else {
            names[0] = '\0';
            for (int i = 0; o->choices[i]; i++)
                snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "", o->choices[i]);
        }
        tl += (size_t)snprintf(tail + tl, sizeof tail - tl, ": %s", names);
    }
    const char *d = default_shown(cmd, o);
    if (d && tl < sizeof tail)
        snprintf(tail + tl, sizeof tail - tl, " [%s]", d);
    char help[160];
    const char *h = o->help;
    if (o->kind == CLI_ALIAS && !h) {
        snprintf(help, sizeof help, "the old spelling of --%s", o->alias);
        h = help;
    }
    print_text(f, h ? h : "", tail);
    if (described) {
        const char *name;
        for (int i = 0; (name = o->list(i, &desc)) != NULL; i++, desc = NULL)
            fprintf(f, "%*s%-16s %s\n", HELP_COL + 2, "", name, desc ? desc : "");
    }
}

void cli_help(FILE *f, const cli_command *cmd)
{
    fprintf(f, "usage: %s\n%s\n", cmd->synopsis, cmd->about);
    fprintf(f, "  %-*s %s\n", HELP_COL - 3, "--config FILE",
            "a JSON object of any options below, named without \"--\"");
    fprintf(f, "%*s%s\n", HELP_COL, "", "({\"OPTION\": VALUE, \"FLAG\": true}; lists may be arrays); flags override it");
    fprintf(f, "  %-*s %s\n", HELP_COL - 3, "--help, -h", "this text");
    const char *title = NULL;
    for (const cli_use *u = cmd->groups; u->group; u++) {
        if (!title || strcmp(title, u->group->title) != 0)
            fprintf(f, "\n%s:\n", u->group->title);
        title = u->group->title;
        for (const cli_opt *const *o = u->group->opts; *o; o++)
            print_opt(f, cmd, *o);
        if (u->group->more)
            u->group->more(f);
    }
    if (cmd->data_note)
        fprintf(f, "\nDATA is splitee's data folder (model, shipped tables, links/, catalog.json):\n"
                   "$SPLITEE_DATA if set, else the checkout's data folder for a build-tree binary,\n"
                   "else the installed one. Here: %s\n", splitee_data_dir());
}
