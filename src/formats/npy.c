/* npy.c -- NumPy .npy arrays (npy.h): the reader for format versions
 * 1.0/2.0/3.0 (preamble, header-dict parser, dtype and size checks against
 * the file size) and the atomic writer for version 1.0.
 *
 * File layout: "\x93NUMPY", major, minor, header length (u16 LE for 1.x,
 * u32 LE for 2.x/3.x), a Python dict literal
 *     {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
 * padded with spaces and ended by '\n', then the raw C-order data. */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L /* fileno, fstat */
#endif
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/internal.h"
#include "splitee/npy.h"

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_ALIGN 64 /* header + preamble padded to this (numpy >= 1.14 uses 64) */

/* Descriptor codes without the byte-order character, indexed by dtype. */
static const char *const dtype_code[] = { "f4", "f8", "i4", "i8", "u1", "i1" };
#define NDTYPES ((int)(sizeof dtype_code / sizeof dtype_code[0]))

enum { KEY_DESCR = 1, KEY_FORTRAN = 2, KEY_SHAPE = 4 };

/* The header dict while it is parsed. */
typedef struct npy_parser {
    const char *s, *end;  /* unread header text */
    const char *path;     /* for messages */
    splitee_error *err;
    unsigned seen;        /* KEY_* bits */
    splitee_dtype dtype;
    int fortran;
    int ndim;
    size_t shape[SPLITEE_NPY_MAX_DIMS];
} npy_parser;

size_t splitee_dtype_size(splitee_dtype dtype)
{
    switch (dtype) {
    case SPLITEE_DTYPE_F32: case SPLITEE_DTYPE_I32: return 4;
    case SPLITEE_DTYPE_F64: case SPLITEE_DTYPE_I64: return 8;
    case SPLITEE_DTYPE_U8: case SPLITEE_DTYPE_I8: return 1;
    }
    return 0;
}

void splitee_array_free(splitee_array *a)
{
    if (!a)
        return;
    free(a->data);
    memset(a, 0, sizeof *a);
}

/* 1 on a big-endian host, where .npy data ('<') must be byte-swapped. */
static int host_is_big_endian(void)
{
    const uint16_t one = 1;
    unsigned char first;
    memcpy(&first, &one, 1);
    return first == 0;
}

/* Reverses the bytes of each of `count` elements of `esize` bytes. */
static void swap_elements(void *data, size_t count, size_t esize)
{
    unsigned char *p = data;
    for (size_t i = 0; i < count; i++, p += esize)
        for (size_t a = 0, b = esize - 1; a < b; a++, b--) {
            unsigned char t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
}

/* Product of shape[0..ndim) into *count; -1 on overflow. */
static int shape_count(int ndim, const size_t *shape, size_t *count)
{
    size_t n = 1;
    for (int i = 0; i < ndim; i++)
        if (splitee__mul_size(n, shape[i], &n) < 0)
            return -1;
    *count = n;
    return 0;
}

/* ---- header dict parser ------------------------------------------------ */

/* Advances past spaces, tabs and line breaks. */
static void skip_ws(npy_parser *p)
{
    while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r'))
        p->s++;
}

/* Fails with FORMAT: "<path>: malformed .npy header: <what>". */
static int syntax_error(npy_parser *p, const char *what)
{
    return splitee__fail(p->err, SPLITEE_ERR_FORMAT,
                         "%s: malformed .npy header: %s", p->path, what);
}

/* Consumes `c` after optional whitespace, or fails with `what`. */
static int expect(npy_parser *p, char c, const char *what)
{
    skip_ws(p);
    if (p->s >= p->end || *p->s != c)
        return syntax_error(p, what);
    p->s++;
    return SPLITEE_OK;
}

/* A quoted Python string ('...' or "..."); *str and *len get its contents. */
static int parse_string(npy_parser *p, const char **str, size_t *len)
{
    skip_ws(p);
    if (p->s >= p->end || (*p->s != '\'' && *p->s != '"'))
        return syntax_error(p, "expected a quoted string");
    char q = *p->s++;
    const char *close = memchr(p->s, q, (size_t)(p->end - p->s));
    if (!close)
        return syntax_error(p, "unterminated string");
    *str = p->s;
    *len = (size_t)(close - p->s);
    p->s = close + 1;
    return SPLITEE_OK;
}

/* Maps a descr such as '<f4' or '|u1' to a dtype; big-endian and other
 * types are UNSUPPORTED. */
static int parse_descr(npy_parser *p)
{
    skip_ws(p);
    if (p->s < p->end && *p->s == '[')
        return splitee__fail(p->err, SPLITEE_ERR_UNSUPPORTED,
                             "%s: structured dtypes are not supported", p->path);
    const char *d;
    size_t n;
    int rc = parse_string(p, &d, &n);
    if (rc < 0)
        return rc;
    for (int t = 0; n == 3 && t < NDTYPES; t++) {
        if (memcmp(d + 1, dtype_code[t], 2) != 0)
            continue;
        int one_byte = splitee_dtype_size((splitee_dtype)t) == 1;
        if (d[0] == '>' && !one_byte)
            return splitee__fail(p->err, SPLITEE_ERR_UNSUPPORTED,
                                 "%s: big-endian dtype '%.3s' is not supported "
                                 "(save little-endian data)", p->path, d);
        if (d[0] == '<' || (one_byte && strchr("|<>=", d[0]))) {
            p->dtype = (splitee_dtype)t;
            return SPLITEE_OK;
        }
    }
    return splitee__fail(p->err, SPLITEE_ERR_UNSUPPORTED,
                         "%s: unsupported dtype '%.*s' (expected <f4, <f8, <i4, <i8, |u1 or |i1)",
                         p->path, (int)(n > 32 ? 32 : n), d);
}

/* Python True / False into *out (1 / 0). */
static int parse_bool(npy_parser *p, int *out)
{
    skip_ws(p);
    size_t left = (size_t)(p->end - p->s);
    if (left >= 4 && memcmp(p->s, "True", 4) == 0) {
        *out = 1;
        p->s += 4;
    } else if (left >= 5 && memcmp(p->s, "False", 5) == 0) {
        *out = 0;
        p->s += 5;
    } else {
        return syntax_error(p, "fortran_order must be True or False");
    }
    return SPLITEE_OK;
}

/* A non-negative decimal dimension (Python 2's trailing 'L' allowed). */
static int parse_dim(npy_parser *p, size_t *out)
{
    size_t v = 0;
    const char *start = p->s;
    for (; p->s < p->end && *p->s >= '0' && *p->s <= '9'; p->s++) {
        if (splitee__mul_size(v, 10, &v) < 0 || v > (size_t)-1 - (size_t)(*p->s - '0'))
            return splitee__fail(p->err, SPLITEE_ERR_OVERFLOW,
                                 "%s: shape dimension does not fit in size_t", p->path);
        v += (size_t)(*p->s - '0');
    }
    if (p->s == start)
        return syntax_error(p, "shape must be a tuple of non-negative integers");
    if (p->s < p->end && *p->s == 'L')
        p->s++;
    *out = v;
    return SPLITEE_OK;
}

/* A tuple of dimensions: (), (5,), (3, 4), (3, 4,). */
static int parse_shape(npy_parser *p)
{
    int rc = expect(p, '(', "shape must be a tuple");
    if (rc < 0)
        return rc;
    p->ndim = 0;
    for (;;) {
        skip_ws(p);
        if (p->s < p->end && *p->s == ')')
            break;
        if (p->ndim == SPLITEE_NPY_MAX_DIMS)
            return splitee__fail(p->err, SPLITEE_ERR_UNSUPPORTED,
                                 "%s: more than %d dimensions are not supported",
                                 p->path, SPLITEE_NPY_MAX_DIMS);
        if ((rc = parse_dim(p, &p->shape[p->ndim++])) < 0)
            return rc;
        skip_ws(p);
        if (p->s < p->end && *p->s == ',')
            p->s++;
        else if (p->s >= p->end || *p->s != ')')
            return syntax_error(p, "expected ',' or ')' in shape");
    }
    p->s++;
    return SPLITEE_OK;
}

/* One "key: value" entry of the dict. */
static int parse_entry(npy_parser *p)
{
    const char *key;
    size_t n;
    int rc = parse_string(p, &key, &n);
    if (rc < 0 || (rc = expect(p, ':', "expected ':' after a key")) < 0)
        return rc;
    unsigned bit = 0;
    if (n == 5 && memcmp(key, "descr", 5) == 0)
        bit = KEY_DESCR;
    else if (n == 13 && memcmp(key, "fortran_order", 13) == 0)
        bit = KEY_FORTRAN;
    else if (n == 5 && memcmp(key, "shape", 5) == 0)
        bit = KEY_SHAPE;
    if (!bit)
        return splitee__fail(p->err, SPLITEE_ERR_FORMAT, "%s: malformed .npy header: "
                             "unexpected key '%.*s'", p->path, (int)(n > 32 ? 32 : n), key);
    if (p->seen & bit)
        return splitee__fail(p->err, SPLITEE_ERR_FORMAT, "%s: malformed .npy header: "
                             "duplicate key '%.*s'", p->path, (int)n, key);
    p->seen |= bit;
    if (bit == KEY_DESCR)
        return parse_descr(p);
    if (bit == KEY_FORTRAN)
        return parse_bool(p, &p->fortran);
    return parse_shape(p);
}

/* The whole header: a dict with exactly descr, fortran_order and shape,
 * then only whitespace. */
static int parse_header(npy_parser *p)
{
    int rc = expect(p, '{', "expected a '{' dict");
    if (rc < 0)
        return rc;
    for (;;) {
        skip_ws(p);
        if (p->s < p->end && *p->s == '}')
            break;
        if ((rc = parse_entry(p)) < 0)
            return rc;
        skip_ws(p);
        if (p->s < p->end && *p->s == ',')
            p->s++;
        else if (p->s >= p->end || *p->s != '}')
            return syntax_error(p, "expected ',' or '}' after a value");
    }
    p->s++;
    skip_ws(p);
    if (p->s != p->end)
        return syntax_error(p, "unexpected text after the dict");
    static const char *const names[] = { "descr", "fortran_order", "shape" };
    for (int k = 0; k < 3; k++)
        if (!(p->seen & (1u << k)))
            return splitee__fail(p->err, SPLITEE_ERR_FORMAT,
                                 "%s: malformed .npy header: missing key '%s'", p->path, names[k]);
    if (p->fortran)
        return splitee__fail(p->err, SPLITEE_ERR_UNSUPPORTED,
                             "%s: Fortran-order arrays are not supported "
                             "(save with numpy.ascontiguousarray)", p->path);
    return SPLITEE_OK;
}

/* ---- reader -------------------------------------------------------------- */

/* Reads exactly n bytes; IO on a read error, FORMAT when the file ends. */
static int read_exact(FILE *f, void *buf, size_t n, const char *path, const char *what,
                      splitee_error *err)
{
    if (fread(buf, 1, n, f) == n)
        return SPLITEE_OK;
    if (ferror(f))
        return splitee__fail(err, SPLITEE_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    return splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: truncated %s", path, what);
}

/* Size of the open regular file f in *size. */
static int file_size(FILE *f, const char *path, size_t *size, splitee_error *err)
{
    struct stat st;
    if (fstat(fileno(f), &st) != 0)
        return splitee__fail(err, SPLITEE_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return splitee__fail(err, SPLITEE_ERR_IO, "%s: not a regular file", path);
    if ((uintmax_t)st.st_size > (uintmax_t)SIZE_MAX)
        return splitee__fail(err, SPLITEE_ERR_OVERFLOW, "%s: file too large", path);
    *size = (size_t)st.st_size;
    return SPLITEE_OK;
}

/* Magic, version and header length; *data_off gets the data offset. */
static int read_preamble(FILE *f, const char *path, size_t size, size_t *hlen,
                         size_t *data_off, splitee_error *err)
{
    unsigned char pre[12];
    size_t head = size < 8 ? size : 8;
    if (fread(pre, 1, head, f) != head)
        return splitee__fail(err, SPLITEE_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    if (head < NPY_MAGIC_LEN || memcmp(pre, NPY_MAGIC, NPY_MAGIC_LEN) != 0)
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: not a .npy file (bad magic)", path);
    if (head < 8)
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: truncated .npy preamble", path);
    if (pre[6] < 1 || pre[6] > 3 || pre[7] != 0)
        return splitee__fail(err, SPLITEE_ERR_UNSUPPORTED,
                             "%s: unsupported .npy format version %u.%u (expected 1.0, 2.0 or 3.0)",
                             path, pre[6], pre[7]);
    size_t lenbytes = pre[6] == 1 ? 2 : 4;
    int rc = read_exact(f, pre + 8, lenbytes, path, ".npy preamble", err);
    if (rc < 0)
        return rc;
    *hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
    if (lenbytes == 4)
        *hlen |= (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
    *data_off = 8 + lenbytes + *hlen;
    if (*hlen > size || *data_off > size)
        return splitee__fail(err, SPLITEE_ERR_FORMAT,
                             "%s: header length %zu runs past the end of the file (%zu bytes)",
                             path, *hlen, size);
    return SPLITEE_OK;
}

/* Reads and parses the header text into p. */
static int read_header(FILE *f, size_t hlen, npy_parser *p)
{
    char *text = malloc(hlen ? hlen : 1);
    if (!text)
        return splitee__fail(p->err, SPLITEE_ERR_NOMEM, "%s: out of memory", p->path);
    int rc = read_exact(f, text, hlen, p->path, ".npy header", p->err);
    if (rc == 0) {
        p->s = text;
        p->end = text + hlen;
        rc = parse_header(p);
    }
    free(text);
    return rc;
}

/* Checks the data size against what the file holds, then reads it. */
static int read_data(FILE *f, const npy_parser *p, size_t avail, splitee_array *out)
{
    size_t esize = splitee_dtype_size(p->dtype), count, bytes;
    if (shape_count(p->ndim, p->shape, &count) < 0 || splitee__mul_size(count, esize, &bytes) < 0)
        return splitee__fail(p->err, SPLITEE_ERR_OVERFLOW,
                             "%s: array byte size overflows size_t", p->path);
    if (avail < bytes)
        return splitee__fail(p->err, SPLITEE_ERR_FORMAT,
                             "%s: truncated data (expected %zu bytes, got %zu)", p->path, bytes, avail);
    if (avail > bytes)
        return splitee__fail(p->err, SPLITEE_ERR_FORMAT,
                             "%s: %zu trailing bytes after the data", p->path, avail - bytes);
    out->data = malloc(bytes ? bytes : 1);
    if (!out->data)
        return splitee__fail(p->err, SPLITEE_ERR_NOMEM, "%s: out of memory (%zu bytes)",
                             p->path, bytes);
    int rc = read_exact(f, out->data, bytes, p->path, "data", p->err);
    if (rc < 0)
        return rc;
    if (esize > 1 && host_is_big_endian())
        swap_elements(out->data, count, esize);
    out->dtype = p->dtype;
    out->ndim = p->ndim;
    memcpy(out->shape, p->shape, sizeof out->shape);
    out->count = count;
    return SPLITEE_OK;
}

/* The reader on an open file. */
static int read_stream(FILE *f, const char *path, splitee_array *out, splitee_error *err)
{
    size_t size = 0, hlen = 0, off = 0;
    int rc = file_size(f, path, &size, err);
    if (rc < 0 || (rc = read_preamble(f, path, size, &hlen, &off, err)) < 0)
        return rc;
    npy_parser p;
    memset(&p, 0, sizeof p);
    p.path = path;
    p.err = err;
    if ((rc = read_header(f, hlen, &p)) < 0)
        return rc;
    return read_data(f, &p, size - off, out);
}

int splitee_npy_read(const char *path, splitee_array *out, splitee_error *err)
{
    memset(out, 0, sizeof *out);
    if (!path)
        return splitee__fail(err, SPLITEE_ERR_ARG, "(null): no .npy path given");
    FILE *f = fopen(path, "rb");
    if (!f)
        return splitee__fail(err, SPLITEE_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    int rc = read_stream(f, path, out, err);
    fclose(f);
    if (rc < 0)
        splitee_array_free(out);
    return rc;
}

/* ---- writer -------------------------------------------------------------- */

/* Formats the padded v1.0 header dict (ending in '\n') into buf; returns
 * its length (a multiple of NPY_ALIGN once the 10-byte preamble is added). */
static size_t format_header(splitee_dtype dtype, int ndim, const size_t *shape,
                            char *buf, size_t cap)
{
    size_t n = (size_t)snprintf(buf, cap, "{'descr': '%c%s', 'fortran_order': False, 'shape': (",
                                splitee_dtype_size(dtype) == 1 ? '|' : '<', dtype_code[dtype]);
    for (int i = 0; i < ndim; i++)
        n += (size_t)snprintf(buf + n, cap - n, i ? ", %zu" : "%zu", shape[i]);
    n += (size_t)snprintf(buf + n, cap - n, "%s), }", ndim == 1 ? "," : "");
    size_t total = 10 + n + 1;
    size_t pad = (NPY_ALIGN - total % NPY_ALIGN) % NPY_ALIGN;
    memset(buf + n, ' ', pad);
    n += pad;
    buf[n++] = '\n';
    return n;
}

int splitee_npy_write(const char *path, splitee_dtype dtype, int ndim,
                      const size_t *shape, const void *data, splitee_error *err)
{
    size_t esize = splitee_dtype_size(dtype), count, bytes, total;
    if (!path)
        return splitee__fail(err, SPLITEE_ERR_ARG, "(null): no .npy path given");
    if (esize == 0 || ndim < 0 || ndim > SPLITEE_NPY_MAX_DIMS || (ndim > 0 && !shape))
        return splitee__fail(err, SPLITEE_ERR_ARG,
                             "%s: invalid array (dtype %d, %d dimensions)", path, (int)dtype, ndim);
    if (shape_count(ndim, shape, &count) < 0 || splitee__mul_size(count, esize, &bytes) < 0 ||
        bytes > (size_t)-1 - 512)
        return splitee__fail(err, SPLITEE_ERR_OVERFLOW, "%s: array byte size overflows size_t", path);
    if (bytes > 0 && !data)
        return splitee__fail(err, SPLITEE_ERR_ARG, "%s: no data given", path);
    char header[512];
    size_t hlen = format_header(dtype, ndim, shape, header, sizeof header);
    total = 10 + hlen + bytes;
    unsigned char *buf = malloc(total);
    if (!buf)
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory (%zu bytes)", path, total);
    memcpy(buf, NPY_MAGIC "\x01\x00", 8);
    buf[8] = (unsigned char)(hlen & 0xff);
    buf[9] = (unsigned char)(hlen >> 8);
    memcpy(buf + 10, header, hlen);
    if (bytes)
        memcpy(buf + 10 + hlen, data, bytes);
    if (esize > 1 && host_is_big_endian())
        swap_elements(buf + 10 + hlen, count, esize);
    int rc = splitee__write_file_atomic(path, buf, total, err);
    free(buf);
    return rc;
}
