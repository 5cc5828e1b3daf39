/* internal.h -- helpers shared by splitee's own source files; not installed.
 * Internal non-static names carry the `splitee__` prefix (docs/ARCHITECTURE.md). */
#ifndef SPLITEE_INTERNAL_H
#define SPLITEE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <gsl/gsl_rng.h>
#include "splitee/status.h"

#if defined(__GNUC__)
#define SPLITEE__PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define SPLITEE__PRINTF(a, b)
/* GSL glue (gsl.c). splitee__gsl_init: once per process, replaces GSL's
 * aborting default error handler with none (a handler the program set
 * itself is kept), so GSL failures come back as error codes. Call it
 * before any GSL function that may report an error. */
void splitee__gsl_init(void);

/* A Mersenne Twister generator seeded with `seed`, after splitee__gsl_init;
 * NULL when out of memory (never aborts). Free with gsl_rng_free. */
gsl_rng *splitee__rng_alloc(uint64_t seed);

#endif

/* Formats a one-line message into err (if not NULL), records `status` there
 * and returns `status`, so callers can write
 *     return splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: bad magic", path); */
int splitee__fail(splitee_error *err, int status, const char *fmt, ...)
    SPLITEE__PRINTF(3, 4);

/* a*b into *out; returns 0, or -1 when the product overflows size_t. */
static inline int splitee__mul_size(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > (size_t)-1 / a)
        return -1;
    *out = a * b;
    return 0;
}

/* Writes `len` bytes to `path`. A regular file (or a new one) is written
 * atomically: a temporary file beside it (created exclusively, never
 * through a link), renamed over it on success, removed on failure, so the
 * path holds the old content or the whole new one; a replaced file keeps
 * its mode. A symlink is followed: its target is replaced and the link
 * stays. A device or a pipe (/dev/null, /dev/stdout, a FIFO) is written in
 * place, never replaced, and a short write (ENOSPC on /dev/full) is an
 * error. A folder is refused. IO "PATH: ..." on any failure. */
int splitee__write_file_atomic(const char *path, const void *data, size_t len,
                               splitee_error *err);

/* Whether splitee__write_file_atomic could write `path`, checked before any
 * work so that a run never computes for an output it cannot write: an
 * existing target (after symlinks) must be writable and not a folder; a
 * regular or new file's folder must exist and take new files. 0, or IO
 * "PATH: ..." naming what is wrong. Nothing is created. */
int splitee__output_check(const char *path, splitee_error *err);

/* Largest stream (pipe, stdin) the whole-file readers take when the caller
 * gives no smaller bound: a stream has no size to check in advance. */
#define SPLITEE__STREAM_MAX ((size_t)256 << 20)

/* Reads all of the open file `f` (closed here in every case) into a
 * malloc'd buffer with a NUL after the last byte: *out (caller frees) and
 * *len. Only regular files and pipes/sockets are read (IO "PATH: not a
 * regular file or a pipe" for a device such as /dev/zero, or a folder); a
 * pipe is bounded by max, or SPLITEE__STREAM_MAX when max is 0 or larger.
 * `path` names the file in messages: "PATH: cannot read", "PATH: out of
 * memory", and, when the bound is exceeded, FORMAT "PATH: larger than MAX
 * bytes". *out is NULL on failure. */
int splitee__read_stream(FILE *f, const char *path, size_t max, char **out, size_t *len,
                         splitee_error *err);

/* splitee__read_stream on `path` opened for reading; IO "PATH: cannot
 * open: REASON" when it cannot be opened (errno kept). */
int splitee__read_file(const char *path, size_t max, char **out, size_t *len,
                       splitee_error *err);

/* GSL glue (gsl.c). splitee__gsl_init: once per process, replaces GSL's
 * aborting default error handler with none (a handler the program set
 * itself is kept), so GSL failures come back as error codes. Call it
 * before any GSL function that may report an error. */
void splitee__gsl_init(void);

/* A Mersenne Twister generator seeded with `seed`, after splitee__gsl_init;
 * NULL when out of memory (never aborts). Free with gsl_rng_free. */
gsl_rng *splitee__rng_alloc(uint64_t seed);

#endif
