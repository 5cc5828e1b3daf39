/* numfmt.c -- shortest round-trip numbers for the data files (numfmt.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "core/numfmt.h"

char *splitee__fmt_double(char *buf, size_t len, double x)
{
    if (isnan(x)) {
        snprintf(buf, len, "nan");
        return buf;
    }
    if (isinf(x)) {
        snprintf(buf, len, x > 0 ? "inf" : "-inf");
        return buf;
    }
    /* %.15g is already the shortest when x has a decimal of 15 digits or
     * fewer (every such decimal survives a trip through a double), and
     * %.17g always reads back exactly */
    int prec = 15;
    for (; prec < 17; prec++) {
        snprintf(buf, len, "%.*g", prec, x);
        if (strtod(buf, NULL) == x)
            break;
    }
    if (prec == 17)
        snprintf(buf, len, "%.17g", x);
    for (char *c = buf; *c; c++)   /* a host program's locale may print a decimal comma */
        if (*c == ',')
            *c = '.';
    return buf;
}

int splitee__put_double(FILE *f, double x)
{
    char b[SPLITEE__NUM_LEN];
    return fputs(splitee__fmt_double(b, sizeof b, x), f);
}

void splitee__put_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

void splitee__put_json_number(FILE *f, double x)
{
    if (isfinite(x))
        splitee__put_double(f, x);
    else
        fputs("null", f);
}

cJSON *splitee__json_number(double x)
{
    char b[SPLITEE__NUM_LEN];
    return cJSON_CreateRaw(isfinite(x) ? splitee__fmt_double(b, sizeof b, x) : "null");
}

cJSON *splitee__json_numbers(const double *v, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++) {
        cJSON *x = splitee__json_number(v[i]);
        if (!x || !cJSON_AddItemToArray(a, x)) {
            cJSON_Delete(x);
            cJSON_Delete(a);
            return NULL;
        }
    }
    return a;
}

cJSON *splitee__json_add_number(cJSON *o, const char *name, double x)
{
    cJSON *v = splitee__json_number(x);
    if (v && !cJSON_AddItemToObject(o, name, v)) {
        cJSON_Delete(v);
        v = NULL;
    }
    return v;
}
