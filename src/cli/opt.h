/* opt.h -- the one command-line grammar of every `splitee` command.
 *
 * An option is one table entry: its name, its argument's placeholder, how
 * its value is stored (a typed field, or a setter), its help line and its
 * default. Options come in groups (input, reward, policy, ...: groups.h)
 * whose entries work on one struct; a command composes groups, each at an
 * offset into the command's own options struct, and cli_parse() reads
 *
 *   1. every default (an entry's `def`, or the command's override), parsed
 *      through the same setter as a flag, so the default shown in --help
 *      is the value used;
 *   2. --config FILE (any number, in order): a JSON object whose keys are
 *      option names without "--" and whose values are strings, numbers,
 *      lists (joined with commas) or, for flags, true/false;
 *   3. the flags in order, --name VALUE or --name=VALUE; a later one wins.
 *
 * --help/-h anywhere prints the help, generated from the same tables (and
 * from the lists entries enumerate: policy, confidence, encoding names),
 * and nothing else happens. Errors are one line: "unknown option '--x'
 * (see splitee CMD --help)", "--alpha: missing V", "--quiet takes no
 * value", "--workers: expected an integer in 1..256, got 'x'", or the
 * setter's message; errors inside a config file are prefixed with its
 * path. Nothing outside opt.c loops over argv. */
#ifndef SPLITEE_CLI_OPT_H
#define SPLITEE_CLI_OPT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "splitee/splitee.h"

/* Where a value came from. */
typedef enum cli_source {
    CLI_UNSET = 0,   /* never set */
    CLI_DEFAULT,     /* the table's or the command's default */
    CLI_CONFIG,      /* a --config file */
    CLI_FLAG         /* the command line */
} cli_source;

/* What a setter is told about the value it gets. */
typedef struct cli_ctx {
    const char *opt;     /* the option's name, without "--" */
    cli_source source;   /* where this value comes from */
    cli_source prev;     /* where the option's previous value came from */
    const char *cmd;     /* the command, "replay" */
} cli_ctx;

typedef enum cli_kind {
    CLI_STRING = 1, /* char * field, owned (freed by cli_free) */
    CLI_INT,        /* int field, an integer in [lo, hi] */
    CLI_LONG,       /* long field, an integer in [lo, hi] */
    CLI_U64,        /* uint64_t field, any non-negative integer */
    CLI_DOUBLE,     /* double field, a finite number in [lo, hi] (ends open per `open`) */
    CLI_SET,        /* a flag: stores `ival` in an int field */
    CLI_CHOICE,     /* int (or enum) field: the index of the value in `choices` */
    CLI_FN,         /* `set` parses the value into the group struct */
    CLI_ALIAS       /* another spelling of the option named `alias` */
} cli_kind;

#define CLI_OPEN_LO 1   /* `open`: lo itself is refused */
#define CLI_OPEN_HI 2   /* `open`: hi itself is refused */

typedef int (*cli_setter)(void *group, const char *v, const cli_ctx *ctx, splitee_error *err);

/* Enumerates the values an option takes, for its help and its errors:
 * value i (0-based) and its one-line description (may stay NULL), or NULL
 * past the last. */
typedef const char *(*cli_lister)(int i, const char **desc);

typedef struct cli_opt {
    const char *name;      /* without the leading "--" */
    const char *arg;       /* placeholder ("FILE"); NULL for a flag (CLI_SET, or CLI_FN
                              called with "") */
    cli_kind kind;
    size_t off;            /* typed kinds: the field's offset in the group struct */
    double lo, hi;         /* CLI_INT/LONG/DOUBLE range */
    unsigned open;         /* CLI_DOUBLE: CLI_OPEN_LO/HI */
    int ival;              /* CLI_SET: the value stored */
    const char *const *choices; /* CLI_CHOICE: names in enum order, NULL-terminated */
    cli_setter set;        /* CLI_FN */
    cli_lister list;       /* values listed in --help (and by setters' errors) */
    const char *alias;     /* CLI_ALIAS: the option this one spells */
    const char *help;      /* one line; "\n" starts an indented continuation */
    const char *def;       /* default value, parsed before anything else and shown
                              as [def]; NULL: none */
    const char *def_text;  /* shown as [def_text] when the default is not a value
                              (the command or a group's finish fills it in) */
} cli_opt;

/* A group of options working on one struct. */
typedef struct cli_group {
    const char *title;                /* help heading; groups in a row with the
                                         same title share one heading */
    const cli_opt *const *opts;       /* NULL-terminated */
    /* After every flag: checks and derived values (may be NULL). */
    int (*finish)(void *group, const char *cmd, splitee_error *err);
    /* Frees what the setters allocated beyond CLI_STRING fields (may be NULL). */
    void (*release)(void *group);
    /* Extra help lines after the group's options (may be NULL). */
    void (*more)(FILE *f);
} cli_group;

/* A group placed in a command's options struct. */
typedef struct cli_use {
    const cli_group *group;
    size_t off;                       /* offset of the group's struct */
} cli_use;

/* A command's own default for a shared option: a value (parsed and shown,
 * as `def`), or only a text for the help (as `def_text`). */
typedef struct cli_default {
    const char *name, *value, *text;
} cli_default;

typedef struct cli_command {
    const char *name;                 /* "replay" */
    const char *synopsis;             /* "splitee replay [options]" */
    const char *about;                /* what it does; lines end in "\n" */
    const cli_use *groups;            /* terminated by { NULL, 0 } */
    const cli_default *defaults;      /* terminated by { NULL }; may be NULL */
    int data_note;                    /* 1: the help explains DATA (the data folder) */
} cli_command;

/* Parses argv (the words after the command) into opts, which the caller
 * has zeroed and given any computed defaults. Returns 0, 1 when the help
 * was printed on stdout (the command then exits 0), or a negative status
 * with err filled. What was set before a failure is still freed by
 * cli_free. */
int cli_parse(const cli_command *cmd, void *opts, int argc, char **argv, splitee_error *err);

/* The help of cmd. */
void cli_help(FILE *f, const cli_command *cmd);

/* Frees every CLI_STRING field and calls the groups' release. */
void cli_free(const cli_command *cmd, void *opts);

/* The command line as one string ("splitee replay --reps 3"), malloc'ed
 * (NULL when out of memory), for reports. */
char *cli_join_args(const char *cmd, int argc, char **argv);

/* ---- numbers and value lists, for setters ------------------------------ */

/* A whole decimal integer in [lo, hi], or a finite double (trailing spaces
 * allowed). 0 or -1. */
int cli_parse_long(const char *s, long lo, long hi, long *out);
int cli_parse_double(const char *s, double *out);
/* A non-negative decimal integer of 64 bits. 0 or -1. */
int cli_parse_u64(const char *s, uint64_t *out);

#define CLI_MAX_SWEEP 256     /* values per swept parameter */

/* A swept parameter: one value or a list. */
typedef struct cli_values {
    int n;
    double v[CLI_MAX_SWEEP];
} cli_values;

/* Parses "x", "a,b,c" or "start:stop:step" (inclusive, step > 0) into v;
 * `what` names the option in errors. */
int cli_parse_values(const char *s, cli_values *v, splitee_error *err, const char *what);

/* v's one value into *out; ARG "--NAME: splitee CMD takes one value, not
 * a sweep" for a list. */
int cli_values_one(const cli_values *v, const char *name, const char *cmd, double *out,
                   splitee_error *err);

/* Parses a cost vector: an inline list "0.1,0.2,...", or a file holding a
 * JSON array, a JSON object with "layer_cost" (array), or one number per
 * line. */
int cli_parse_vector(const char *s, double *out, int max, int *n, splitee_error *err,
                     const char *what);

/* "a, b, c" of the values `list` enumerates, into buf. */
void cli_list_names(cli_lister list, char *buf, size_t cap);

/* The index of v among the names `list` enumerates (for a lister whose
 * index is the enum value) into *out; otherwise ARG "--OPT: expected one
 * of a, b, c, got 'v'". */
int cli_pick_name(cli_lister list, const char *opt, const char *v, int *out, splitee_error *err);

#endif
