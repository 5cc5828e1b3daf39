/* testutil.h -- scratch files for the Criterion tests. */
#ifndef SPLITEE_TESTUTIL_H
#define SPLITEE_TESTUTIL_H

#include <stddef.h>

/* A fresh directory under $TMPDIR (or /tmp), created on first use per
 * process and reused after; the returned path is static. */
const char *tu_tmpdir(void);

/* "<tmpdir>/<name>" in a static rotating buffer (8 slots). */
const char *tu_path(const char *name);

/* Writes `len` bytes to tu_path(name) and returns that path. */
const char *tu_write(const char *name, const void *data, size_t len);

/* Writes a NUL-terminated string to tu_path(name) and returns that path. */
const char *tu_write_str(const char *name, const char *text);

/* Reads a whole file into a malloc'd NUL-terminated buffer (*len without
 * the NUL); NULL if it cannot be read. */
char *tu_read(const char *path, size_t *len);

/* 1 if a file exists at path. */
int tu_exists(const char *path);

/* Builds an .npy v1.0 image in memory: header dict text `descr`
 * (e.g. "<f4"), `fortran` 0/1, shape, then `data_len` bytes of data.
 * Returns a malloc'd buffer and its size in *len. */
unsigned char *tu_npy_image(const char *descr, int fortran, int ndim,
                            const size_t *shape, const void *data,
                            size_t data_len, size_t *len);

#endif
