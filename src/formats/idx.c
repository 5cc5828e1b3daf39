/* idx.c -- the IDX reader (image.h): Fashion-MNIST image and label files,
 * gzip-compressed or not (zlib's gzread passes plain files through).
 *
 * IDX layout: magic 0x00 0x00 <type> <ndim>, ndim big-endian u32
 * dimensions, then the data in C order; type 0x08 is unsigned byte. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "core/internal.h"
#include "splitee/image.h"

/* FORMAT/IO failure after a short or failed gzread on `f`. */
static int read_failure(gzFile f, const char *path, const char *what, size_t want,
                        splitee_error *err)
{
    int code = Z_OK;
    const char *msg = gzerror(f, &code);
    if (code == Z_ERRNO)
        return splitee__fail(err, SPLITEE_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    if (code != Z_OK)
        return splitee__fail(err, SPLITEE_ERR_FORMAT,
                             "%s: corrupt or truncated gzip stream (%s)", path, msg);
    return splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: truncated %s (expected %zu more bytes)",
                         path, what, want);
}

/* Reads exactly n bytes. */
static int read_exact(gzFile f, void *buf, size_t n, const char *path, const char *what,
                      splitee_error *err)
{
    unsigned char *p = buf;
    while (n > 0) {
        unsigned chunk = n > (1u << 30) ? 1u << 30 : (unsigned)n;
        int r = gzread(f, p, chunk);
        if (r <= 0)
            return read_failure(f, path, what, n, err);
        p += r;
        n -= (size_t)r;
    }
    return SPLITEE_OK;
}

/* First allocation for IDX data (bytes); the buffer doubles from there. */
#define IDX_CHUNK ((size_t)1 << 16)

/* Reads exactly `total` bytes of IDX data into a malloc'd *data. The
 * buffer grows as the data arrives, so a header that announces more than
 * the file holds (a 16-byte file may claim petabytes) costs at most about
 * twice what the file really holds, never what the header says. */
static int read_data(gzFile f, size_t total, const char *path, uint8_t **data,
                     splitee_error *err)
{
    size_t cap = total < IDX_CHUNK ? total : IDX_CHUNK, got = 0;
    uint8_t *buf = malloc(cap);
    if (!buf)
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory (%zu bytes)", path, cap);
    int rc = SPLITEE_OK;
    while (rc == 0 && got < total) {
        if (got == cap) {
            size_t grown = cap <= total / 2 ? 2 * cap : total;
            uint8_t *b = realloc(buf, grown);
            if (!b) {
                rc = splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory (%zu bytes)",
                                   path, grown);
                break;
            }
            buf = b;
            cap = grown;
        }
        size_t room = cap - got;
        int r = gzread(f, buf + got, room > (1u << 30) ? 1u << 30 : (unsigned)room);
        if (r <= 0)
            rc = read_failure(f, path, "IDX data", total - got, err);
        else
            got += (size_t)r;
    }
    if (rc < 0) {
        free(buf);
        return rc;
    }
    *data = buf;
    return SPLITEE_OK;
}

/* Reads one IDX file of unsigned bytes with `ndim` dimensions into a
 * malloc'd *data, its dimensions into dims. */
static int read_idx(const char *path, int ndim, size_t *dims, uint8_t **data, splitee_error *err)
{
    *data = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return splitee__fail(err, SPLITEE_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return splitee__fail(err, SPLITEE_ERR_IO, "%s: not a regular file", path);
    gzFile f = gzopen(path, "rb");
    if (!f)
        return splitee__fail(err, SPLITEE_ERR_IO, "%s: cannot open: %s", path,
                             errno ? strerror(errno) : "out of memory");
    unsigned char head[4 + 4 * 3];
    int rc = read_exact(f, head, 4, path, "IDX header", err);
    if (rc == 0 && (head[0] != 0 || head[1] != 0))
        rc = splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: not an IDX file (bad magic)", path);
    else if (rc == 0 && head[2] != 0x08)
        rc = splitee__fail(err, SPLITEE_ERR_UNSUPPORTED,
                           "%s: IDX element type 0x%02x is not supported (expected 0x08, "
                           "unsigned byte)", path, head[2]);
    else if (rc == 0 && head[3] != ndim)
        rc = splitee__fail(err, SPLITEE_ERR_FORMAT,
                           "%s: IDX file has %u dimensions, expected %d (%s)", path, head[3], ndim,
                           ndim == 3 ? "images" : "labels");
    if (rc == 0)
        rc = read_exact(f, head + 4, 4 * (size_t)ndim, path, "IDX header", err);
    size_t total = 1;
    for (int i = 0; rc == 0 && i < ndim; i++) {
        const unsigned char *b = head + 4 + 4 * i;
        dims[i] = (size_t)b[0] << 24 | (size_t)b[1] << 16 | (size_t)b[2] << 8 | b[3];
        if (dims[i] == 0)
            rc = splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: IDX dimension %d is 0", path, i);
        else if (splitee__mul_size(total, dims[i], &total) < 0)
            rc = splitee__fail(err, SPLITEE_ERR_OVERFLOW, "%s: IDX data size overflows", path);
    }
    if (rc == 0)
        rc = read_data(f, total, path, data, err);
    if (rc == 0) {
        unsigned char extra;
        int r = gzread(f, &extra, 1);
        if (r < 0)
            rc = read_failure(f, path, "IDX data", 0, err);
        else if (r > 0)
            rc = splitee__fail(err, SPLITEE_ERR_FORMAT,
                               "%s: trailing bytes after %zu bytes of IDX data", path, total);
    }
    gzclose(f);
    if (rc < 0) {
        free(*data);
        *data = NULL;
    }
    return rc;
}

int splitee_idx_load(const char *images_path, const char *labels_path, splitee_images *out,
                     splitee_error *err)
{
    memset(out, 0, sizeof *out);
    if (!images_path)
        return splitee__fail(err, SPLITEE_ERR_ARG, "(null): no IDX image file given");
    size_t dims[3], ldim[1];
    int rc = read_idx(images_path, 3, dims, &out->pixels, err);
    if (rc < 0)
        return rc;
    out->count = dims[0];
    out->rows = dims[1];
    out->cols = dims[2];
    if (!labels_path)
        return SPLITEE_OK;
    rc = read_idx(labels_path, 1, ldim, &out->labels, err);
    if (rc == 0 && ldim[0] != out->count)
        rc = splitee__fail(err, SPLITEE_ERR_SHAPE, "%s: %zu labels but %s holds %zu images",
                           labels_path, ldim[0], images_path, out->count);
    if (rc < 0)
        splitee_images_free(out);
    return rc;
}

void splitee_images_free(splitee_images *im)
{
    if (!im)
        return;
    free(im->pixels);
    free(im->labels);
    memset(im, 0, sizeof *im);
}
