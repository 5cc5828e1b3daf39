/* status.c -- status codes, error messages and atomic file writes. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/internal.h"
#include "splitee/status.h"

const char *splitee_strerror(int status)
{
    switch (status) {
    case SPLITEE_OK: return "success";
    case SPLITEE_ERR_NOMEM: return "out of memory";
    case SPLITEE_ERR_IO: return "input/output error";
    case SPLITEE_ERR_FORMAT: return "malformed input";
    case SPLITEE_ERR_SHAPE: return "shape mismatch";
    case SPLITEE_ERR_VALUE: return "invalid value";
    case SPLITEE_ERR_ARG: return "invalid argument";
    case SPLITEE_ERR_OVERFLOW: return "size overflow";
    case SPLITEE_ERR_UNSUPPORTED: return "unsupported input";
    default: return "unknown error";
    }
}

int splitee__fail(splitee_error *err, int status, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        /* one line: fold any newline a caller's text smuggled in */
        for (char *c = err->msg; *c; c++)
            if (*c == '\n' || *c == '\r')
                *c = ' ';
        err->status = status;
    }
    return status;
}

int splitee__write_file_atomic(const char *path, const void *data, size_t len,
                               splitee_error *err)
{
    size_t n = strlen(path) + 32;
    char *tmp = malloc(n);
    if (!tmp)
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", path);
    snprintf(tmp, n, "%s.tmp%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        int e = errno;
        free(tmp);
        return splitee__fail(err, SPLITEE_ERR_IO, "%s: cannot write: %s", path, strerror(e));
    }
    int ok = fwrite(data, 1, len, f) == len;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        remove(tmp);
        free(tmp);
        return splitee__fail(err, SPLITEE_ERR_IO, "%s: cannot write: %s", path, strerror(e));
    }
    free(tmp);
    return SPLITEE_OK;
}

int splitee__read_stream(FILE *f, const char *path, size_t max, char **out, size_t *len,
                         splitee_error *err)
{
    *out = NULL;
    *len = 0;
    size_t cap = 4096, n = 0, got;
    char *buf = malloc(cap + 1);
    int too_big = 0;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (max > 0 && n > max) {
            too_big = 1;
            break;
        }
        if (n == cap) {
            char *nb = cap > SIZE_MAX / 4 ? NULL : realloc(buf, 2 * cap + 1);
            if (!nb)
                free(buf);
            buf = nb;
            cap *= 2;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf)
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", path);
    if (too_big || bad) {
        free(buf);
        return too_big ? splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: larger than %zu bytes", path, max)
                       : splitee__fail(err, SPLITEE_ERR_IO, "%s: cannot read", path);
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return SPLITEE_OK;
}

int splitee__read_file(const char *path, size_t max, char **out, size_t *len,
                       splitee_error *err)
{
    *out = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return splitee__fail(err, SPLITEE_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    return splitee__read_stream(f, path, max, out, len, err);
}
