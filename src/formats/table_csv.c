/* table_csv.c -- loads an exit-logit table from CSV (splitee_table_load_csv
 * in table.h), for users without NumPy.
 *
 *     # comment lines and blank lines are skipped
 *     label,e1_c1,e1_c2,e2_c1,e2_c2
 *     1,0.3,-1.2,0.1,2.5
 *
 * The header maps each column to a logit (exit, class), both 1-based, or to
 * the label; rows are parsed into a (samples, exits, classes) buffer with
 * every problem reported as "<file>: line <n>: <problem>". Labels may come
 * from a separate file of one integer per line instead. The validated
 * buffers become a table through splitee_table_from_logits. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "splitee/table.h"

#define LABEL_COLUMN (-1)

/* Parser state shared by the header and row readers. */
typedef struct csv_reader {
    const char *path;   /* for messages */
    splitee_error *err;
    char *pos, *end;    /* unread text (NUL-terminated at end) */
    long line;          /* number of the last line returned, 1-based */
    char **cells;       /* (ncols) cell pointers of the current line */
    int ncols;
    int *target;        /* (ncols) offset of each column in a row's logits, or LABEL_COLUMN */
    int exits, classes; /* from the header */
    int has_label;
    size_t rows, cap;   /* samples read, and allocated */
    double *logits;     /* (cap, exits, classes) */
    int32_t *labels;    /* (cap) when has_label */
} csv_reader;

/* A (exit, class) column of the header, for sorting. */
typedef struct csv_pair {
    int exit, cls; /* 1-based */
} csv_pair;

/* Reads the whole file into a malloc'd NUL-terminated buffer; a text file
 * must not contain NUL bytes. */
static int read_text(const char *path, char **out, size_t *len, splitee_error *err)
{
    int rc = splitee__read_file(path, 0, out, len, err);
    if (rc == 0 && memchr(*out, '\0', *len)) {
        free(*out);
        *out = NULL;
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: contains NUL bytes; not a text file", path);
    }
    return rc;
}

/* Strips spaces, tabs and one pair of surrounding double quotes, in place. */
static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        *--e = '\0';
    if (e - s >= 2 && s[0] == '"' && e[-1] == '"') {
        e[-1] = '\0';
        s++;
    }
    return s;
}

/* The next line that is neither blank nor a '#' comment, NUL-terminated
 * without its line ending; NULL at the end of the text. */
static char *next_line(csv_reader *r)
{
    while (r->pos < r->end) {
        char *s = r->pos, *nl = memchr(s, '\n', (size_t)(r->end - s));
        char *stop = nl ? nl : r->end;
        r->pos = nl ? nl + 1 : r->end;
        r->line++;
        if (stop > s && stop[-1] == '\r')
            stop--;
        *stop = '\0';
        const char *t = s + strspn(s, " \t");
        if (*t != '\0' && *t != '#')
            return s;
    }
    return NULL;
}

/* Splits `line` at commas into r->cells (at most r->ncols kept, trimmed);
 * returns the number of cells found. */
static int split_cells(csv_reader *r, char *line)
{
    int n = 0;
    for (char *s = line;; n++) {
        char *comma = strchr(s, ',');
        if (comma)
            *comma = '\0';
        if (n < r->ncols)
            r->cells[n] = trim(s);
        if (!comma)
            return n + 1;
        s = comma + 1;
    }
}

/* A 1-based column number (1..999999) starting at *s; advances *s. */
static int parse_index(const char **s)
{
    long v = 0;
    const char *p = *s;
    for (; *p >= '0' && *p <= '9'; p++)
        if ((v = v * 10 + (*p - '0')) > 999999)
            return -1;
    if (p == *s || v < 1)
        return -1;
    *s = p;
    return (int)v;
}

/* Classifies a header name: LABEL_COLUMN, 0 for "e<exit>_c<class>", or -2. */
static int parse_column(const char *name, csv_pair *pair)
{
    if (strcmp(name, "label") == 0)
        return LABEL_COLUMN;
    const char *s = name;
    if (*s++ != 'e' || (pair->exit = parse_index(&s)) < 0 || *s++ != '_' || *s++ != 'c' ||
        (pair->cls = parse_index(&s)) < 0 || *s != '\0')
        return -2;
    return 0;
}

/* qsort order of csv_pair: by exit, then class. */
static int compare_pairs(const void *a, const void *b)
{
    const csv_pair *x = a, *y = b;
    if (x->exit != y->exit)
        return x->exit < y->exit ? -1 : 1;
    return x->cls < y->cls ? -1 : x->cls > y->cls;
}

/* Checks that the sorted pairs are each (exit, class) of the grid exactly
 * once and sets r->exits / r->classes. */
static int check_pairs(csv_reader *r, csv_pair *pairs, int n)
{
    int exits = 0, classes = 0;
    for (int i = 0; i < n; i++) {
        exits = pairs[i].exit > exits ? pairs[i].exit : exits;
        classes = pairs[i].cls > classes ? pairs[i].cls : classes;
    }
    if (n == 0)
        return splitee__fail(r->err, SPLITEE_ERR_FORMAT,
                             "%s: line %ld: no e<exit>_c<class> columns", r->path, r->line);
    if (exits > SPLITEE_MAX_EXITS)
        return splitee__fail(r->err, SPLITEE_ERR_SHAPE, "%s: line %ld: %d exits, more than the %d "
                             "supported", r->path, r->line, exits, SPLITEE_MAX_EXITS);
    if (classes < 2)
        return splitee__fail(r->err, SPLITEE_ERR_SHAPE, "%s: line %ld: 1 class; at least 2 "
                             "classes are needed", r->path, r->line);
    qsort(pairs, (size_t)n, sizeof *pairs, compare_pairs);
    for (int i = 1; i < n; i++)
        if (compare_pairs(&pairs[i - 1], &pairs[i]) == 0)
            return splitee__fail(r->err, SPLITEE_ERR_FORMAT, "%s: line %ld: duplicate column "
                                 "e%d_c%d", r->path, r->line, pairs[i].exit, pairs[i].cls);
    long total = (long)exits * classes, i = 0;
    while (i < n && (long)(pairs[i].exit - 1) * classes + pairs[i].cls - 1 == i)
        i++;
    if (i < total)
        return splitee__fail(r->err, SPLITEE_ERR_FORMAT, "%s: line %ld: missing column e%ld_c%ld",
                             r->path, r->line, i / classes + 1, i % classes + 1);
    r->exits = exits;
    r->classes = classes;
    return SPLITEE_OK;
}

/* Maps each header column to its logit offset (or the label) in r->target. */
static int map_columns(csv_reader *r, csv_pair *pairs)
{
    int n = 0;
    for (int c = 0; c < r->ncols; c++) {
        int kind = parse_column(r->cells[c], &pairs[n]);
        if (kind == -2)
            return splitee__fail(r->err, SPLITEE_ERR_FORMAT, "%s: line %ld: unknown column '%.40s' "
                                 "(expected label or e<exit>_c<class>, numbered from 1)",
                                 r->path, r->line, r->cells[c]);
        if (kind == LABEL_COLUMN && r->has_label)
            return splitee__fail(r->err, SPLITEE_ERR_FORMAT, "%s: line %ld: duplicate column "
                                 "label", r->path, r->line);
        r->has_label |= kind == LABEL_COLUMN;
        r->target[c] = kind == LABEL_COLUMN ? LABEL_COLUMN : n++;
    }
    int rc = check_pairs(r, pairs, n);
    if (rc < 0)
        return rc;
    for (int c = 0; c < r->ncols; c++)  /* cells are untouched by check_pairs */
        if (r->target[c] != LABEL_COLUMN) {
            parse_column(r->cells[c], &pairs[0]);
            r->target[c] = (pairs[0].exit - 1) * r->classes + pairs[0].cls - 1;
        }
    return SPLITEE_OK;
}

/* Reads the header line: column count, cells, targets, exits, classes. */
static int read_header(csv_reader *r)
{
    char *line = next_line(r);
    if (!line)
        return splitee__fail(r->err, SPLITEE_ERR_FORMAT, "%s: empty file (no header line)", r->path);
    long ncols = 1;
    for (const char *s = line; (s = strchr(s, ',')) && ncols < INT_MAX / 16; s++)
        ncols++;
    if (ncols >= INT_MAX / 16)
        return splitee__fail(r->err, SPLITEE_ERR_FORMAT, "%s: line %ld: too many columns",
                             r->path, r->line);
    r->ncols = (int)ncols;
    r->cells = malloc((size_t)r->ncols * sizeof *r->cells);
    r->target = malloc((size_t)r->ncols * sizeof *r->target);
    csv_pair *pairs = malloc((size_t)r->ncols * sizeof *pairs);
    int rc = SPLITEE_OK;
    if (!r->cells || !r->target || !pairs)
        rc = splitee__fail(r->err, SPLITEE_ERR_NOMEM, "%s: out of memory", r->path);
    if (rc == 0) {
        split_cells(r, line);
        rc = map_columns(r, pairs);
    }
    free(pairs);
    return rc;
}

/* Parses a whole cell as a decimal integer. */
static int parse_integer(const char *s, long long *v)
{
    char *end;
    errno = 0;
    *v = strtoll(s, &end, 10);
    return *s != '\0' && *end == '\0' && errno == 0 ? 0 : -1;
}

/* Parses a whole cell as a number (strtod syntax, so "nan" and "inf" too). */
static int parse_number(const char *s, double *v)
{
    char *end;
    *v = strtod(s, &end);
    return *s != '\0' && *end == '\0' ? 0 : -1;
}

/* Makes room for one more row in the logit and label buffers. */
static int grow_rows(csv_reader *r)
{
    if (r->rows < r->cap)
        return SPLITEE_OK;
    size_t cap = r->cap ? 2 * r->cap : 256, row = (size_t)r->exits * (size_t)r->classes, bytes;
    if (splitee__mul_size(cap, row * sizeof(double), &bytes) < 0)
        return splitee__fail(r->err, SPLITEE_ERR_OVERFLOW, "%s: line %ld: table too large",
                             r->path, r->line);
    double *z = realloc(r->logits, bytes);
    if (z)
        r->logits = z;
    int32_t *lab = r->has_label ? realloc(r->labels, cap * sizeof *lab) : NULL;
    if (lab)
        r->labels = lab;
    if (!z || (r->has_label && !lab))
        return splitee__fail(r->err, SPLITEE_ERR_NOMEM, "%s: out of memory", r->path);
    r->cap = cap;
    return SPLITEE_OK;
}

/* Stores one label cell of the current row after checking its range. */
static int store_label(csv_reader *r, const char *cell)
{
    long long v;
    if (parse_integer(cell, &v) < 0)
        return splitee__fail(r->err, SPLITEE_ERR_FORMAT, "%s: line %ld: label '%.40s' is not an "
                             "integer", r->path, r->line, cell);
    if (v < 0 || v >= r->classes)
        return splitee__fail(r->err, SPLITEE_ERR_VALUE, "%s: line %ld: label of sample %zu "
                             "(0-based) is %lld, outside [0, %d)", r->path, r->line, r->rows, v,
                             r->classes);
    r->labels[r->rows] = (int32_t)v;
    return SPLITEE_OK;
}

/* Parses the cells of one data row into row r->rows. */
static int store_row(csv_reader *r, char *line)
{
    int n = split_cells(r, line), rc;
    if (n != r->ncols)
        return splitee__fail(r->err, SPLITEE_ERR_FORMAT, "%s: line %ld: expected %d columns, got %d",
                             r->path, r->line, r->ncols, n);
    if ((rc = grow_rows(r)) < 0)
        return rc;
    double *z = r->logits + r->rows * (size_t)r->exits * (size_t)r->classes;
    for (int c = 0; c < n; c++) {
        int t = r->target[c];
        if (t == LABEL_COLUMN) {
            if ((rc = store_label(r, r->cells[c])) < 0)
                return rc;
        } else if (parse_number(r->cells[c], &z[t]) < 0) {
            return splitee__fail(r->err, SPLITEE_ERR_FORMAT, "%s: line %ld: column e%d_c%d: "
                                 "'%.40s' is not a number", r->path, r->line,
                                 t / r->classes + 1, t % r->classes + 1, r->cells[c]);
        } else if (!isfinite(z[t])) {
            return splitee__fail(r->err, SPLITEE_ERR_VALUE, "%s: line %ld: logit e%d_c%d of "
                                 "sample %zu (0-based) is not finite (%.40s)", r->path, r->line,
                                 t / r->classes + 1, t % r->classes + 1, r->rows, r->cells[c]);
        }
    }
    r->rows++;
    return SPLITEE_OK;
}

/* Reads the header and every data row of the CSV text. */
static int read_table(csv_reader *r, int have_labels_file)
{
    int rc = read_header(r);
    if (rc < 0)
        return rc;
    if (r->has_label && have_labels_file)
        return splitee__fail(r->err, SPLITEE_ERR_ARG, "%s: has a label column and a separate "
                             "labels file was also given; use one or the other", r->path);
    char *line;
    while ((line = next_line(r)))
        if ((rc = store_row(r, line)) < 0)
            return rc;
    if (r->rows == 0)
        return splitee__fail(r->err, SPLITEE_ERR_SHAPE, "%s: empty table (no data rows)", r->path);
    return SPLITEE_OK;
}

/* Reads a labels file (one integer in [0, classes) per line, blank and '#'
 * lines skipped) holding exactly `samples` labels into *out. */
static int read_labels_file(const char *path, const char *table_path, size_t samples,
                            int classes, int32_t **out, splitee_error *err)
{
    csv_reader r = { .path = path, .err = err, .classes = classes };
    char *text, *line;
    size_t len, n = 0;
    int rc = read_text(path, &text, &len, err);
    if (rc < 0)
        return rc;
    r.pos = text;
    r.end = text + len;
    int32_t *lab = malloc(samples * sizeof *lab);
    if (!lab)
        rc = splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", path);
    r.labels = lab;
    for (; rc == 0 && (line = next_line(&r)); n++)
        if (n < samples) { /* extra lines are only counted */
            r.rows = n;
            rc = store_label(&r, trim(line));
        }
    if (rc == 0 && n != samples)
        rc = splitee__fail(err, SPLITEE_ERR_SHAPE, "%s: %zu labels for the %zu samples of %s",
                           path, n, samples, table_path);
    free(text);
    if (rc < 0)
        free(lab);
    else
        *out = lab;
    return rc;
}

int splitee_table_load_csv(const char *path, const char *labels_path,
                           splitee_table **out, splitee_error *err)
{
    if (!out || !path)
        return splitee__fail(err, SPLITEE_ERR_ARG, "(null): no table path or output given");
    *out = NULL;
    csv_reader r = { .path = path, .err = err };
    char *text;
    size_t len;
    int32_t *file_labels = NULL;
    int rc = read_text(path, &text, &len, err);
    if (rc < 0)
        return rc;
    r.pos = text + (strncmp(text, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0); /* UTF-8 BOM */
    r.end = text + len;
    rc = read_table(&r, labels_path != NULL);
    if (rc == 0 && labels_path)
        rc = read_labels_file(labels_path, path, r.rows, r.classes, &file_labels, err);
    if (rc == 0)
        rc = splitee_table_from_logits(path, r.logits, r.rows, r.exits, r.classes,
                                       labels_path ? file_labels : r.labels, out, err);
    free(text);
    free(r.cells);
    free(r.target);
    free(r.logits);
    free(r.labels);
    free(file_labels);
    return rc;
}
