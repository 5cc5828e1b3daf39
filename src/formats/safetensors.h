/* safetensors.h -- internal: a read-only memory-mapped safetensors file.
 *
 * Layout: an 8-byte little-endian header length N, N bytes of JSON header
 *     {"__metadata__": {...}, "<name>": {"dtype": "F32", "shape": [16, 64],
 *                                        "data_offsets": [begin, end]}, ...}
 * then the data section; offsets are relative to its start. The opener
 * checks everything that does not depend on what the tensors mean: header
 * length against the file, JSON syntax, every entry's keys and types, known
 * dtypes, shape sizes without overflow, end - begin == dtype size x element
 * count, offsets inside the data section, no overlaps, no holes (the
 * safetensors rule that every data byte belongs to one tensor), no
 * duplicate names. Messages name the file. */
#ifndef SPLITEE_SAFETENSORS_H
#define SPLITEE_SAFETENSORS_H

#include <stddef.h>
#include "splitee/status.h"

#define SPLITEE__ST_MAX_DIMS 8
#define SPLITEE__ST_MAX_HEADER ((size_t)100 * 1000 * 1000) /* as the reference implementation */

typedef struct splitee__st_tensor {
    char *name;                           /* owned, NUL-terminated */
    char dtype[8];                        /* "F32", "F16", ... */
    size_t dtype_size;                    /* bytes per element */
    int ndim;
    size_t shape[SPLITEE__ST_MAX_DIMS];
    size_t count;                         /* elements */
    size_t begin, end;                    /* byte offsets into the data section */
    const void *data;                     /* mapped bytes [begin, end) */
} splitee__st_tensor;

typedef struct splitee__safetensors {
    const char *path;                     /* borrowed, for messages */
    void *map;                            /* whole file, read-only; NULL when parsed
                                           * from a borrowed buffer */
    size_t map_len;                       /* bytes */
    const unsigned char *data;            /* data section */
    size_t data_len;                      /* bytes */
    splitee__st_tensor *tensors;          /* (count), in header order */
    size_t count;
} splitee__safetensors;

/* Maps and checks the file at `path` (kept borrowed in st->path). On
 * failure everything is released and st is empty. */
int splitee__safetensors_open(const char *path, splitee__safetensors *st, splitee_error *err);

/* Same checks on the bytes of a whole file already in memory, [buf, buf +
 * len), which st borrows (tensor data points into it: it must outlive st);
 * `path` names it in messages. The fuzz targets use this; the opener above
 * runs the very same checks on its mapping. */
int splitee__safetensors_parse(const void *buf, size_t len, const char *path,
                               splitee__safetensors *st, splitee_error *err);

/* The tensor called `name`, or NULL. */
const splitee__st_tensor *splitee__safetensors_find(const splitee__safetensors *st,
                                                    const char *name);

/* Unmaps and frees; safe on an empty or closed struct. */
void splitee__safetensors_close(splitee__safetensors *st);

#endif
