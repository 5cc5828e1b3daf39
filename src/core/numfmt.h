/* numfmt.h -- how splitee prints a number in a data file: reports, saved
 * policy state (internal; not installed).
 *
 * Data files (CSV, JSON) hold doubles in their shortest round-trip form:
 * the shortest of %.15g, %.16g and %.17g that strtod reads back to the
 * same double, so 0.3 prints as "0.3" (not "0.29999999999999999") and
 * 0.1 + 0.2 as "0.30000000000000004" (not "0.3", which cJSON's own
 * printer would write: it accepts %.15g within a relative epsilon). */
#ifndef SPLITEE_CORE_NUMFMT_H
#define SPLITEE_CORE_NUMFMT_H

#include <stddef.h>
#include <stdio.h>

struct cJSON;

/* Enough for any double in the forms below, with the NUL. */
#define SPLITEE__NUM_LEN 32

/* Writes x into buf (len >= SPLITEE__NUM_LEN) in its shortest round-trip
 * form; non-finite values as "nan", "inf" or "-inf" (which strtod reads).
 * Returns buf. */
char *splitee__fmt_double(char *buf, size_t len, double x);

/* fputs of splitee__fmt_double(x); returns fputs's result. */
int splitee__put_double(FILE *f, double x);

/* A JSON string literal of s: quotes, backslashes and control characters
 * escaped (for JSON written with stdio rather than cJSON). */
void splitee__put_json_string(FILE *f, const char *s);

/* A JSON number in the shortest round-trip form, or null when x is not
 * finite. */
void splitee__put_json_number(FILE *f, double x);

/* A cJSON number that prints in the shortest round-trip form (a raw item),
 * or JSON null for a non-finite x. NULL when out of memory. */
struct cJSON *splitee__json_number(double x);

/* A JSON array of n such numbers. NULL when out of memory. */
struct cJSON *splitee__json_numbers(const double *v, int n);

/* cJSON_AddItemToObject(o, name, splitee__json_number(x)); returns the
 * item added, or NULL when out of memory (nothing added). */
struct cJSON *splitee__json_add_number(struct cJSON *o, const char *name, double x);

#endif
