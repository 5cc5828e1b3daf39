/* file.h -- how splitee writes an output file, for the CLI and for
 * programs that embed the library: check every output before any work,
 * then write each one whole or not at all.
 *
 *     if (splitee_output_check("out/run.json", &err) < 0) die(err.msg);
 *     ... the work ...
 *     if (splitee_file_write_atomic("out/run.json", text, len, &err) < 0) die(err.msg);
 *
 * A regular file (or a new one) is written to a temporary file beside it and
 * renamed over it, so it holds either the old content or the whole new one.
 * A symlink is followed and its target replaced (the link stays). A device
 * or a pipe (/dev/null, /dev/stdout, a FIFO) is written in place and never
 * replaced; a short write (ENOSPC on /dev/full) is an error. A folder is
 * refused. */
#ifndef SPLITEE_FILE_H
#define SPLITEE_FILE_H

#include <stddef.h>
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes `len` bytes of `data` to `path` as described above. 0, or
 * SPLITEE_ERR_IO with a one-line "PATH: ..." message; a failed write
 * leaves the path as it was and no temporary behind. */
int splitee_file_write_atomic(const char *path, const void *data, size_t len,
                              splitee_error *err);

/* One output of a run, for splitee_file_write_all. */
typedef struct splitee_output {
    const char *path;
    const void *data;
    size_t len;       /* bytes */
} splitee_output;

/* Writes a run's n outputs (0..64) all or none: every regular or new file
 * is written to a temporary beside it first (devices and pipes in place),
 * and only when all are written are the temporaries renamed into place. A
 * failure leaves every regular file as it was and no temporary behind; it
 * cannot take back bytes already written to a device or pipe. 0, or IO
 * naming the path that failed. */
int splitee_file_write_all(const splitee_output *outs, int n, splitee_error *err);

/* Whether splitee_file_write_atomic could write `path`: an existing target
 * (after symlinks) must be writable and not a folder; a regular or new
 * file's folder must exist and take new files. Creates nothing. 0, or
 * SPLITEE_ERR_IO naming the path and what is wrong. */
int splitee_output_check(const char *path, splitee_error *err);

#ifdef __cplusplus
}
#endif
#endif
