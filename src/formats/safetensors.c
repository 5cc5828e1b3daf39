/* safetensors.c -- read-only memory-mapped safetensors files (safetensors.h):
 * the 8-byte header length, the JSON header (cJSON), and every check that
 * holds for any safetensors file. What the tensors must be is model.c's
 * business. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/internal.h"
#include "formats/safetensors.h"

/* safetensors dtypes and their sizes in bytes. */
static const struct { const char *name; size_t size; } st_dtypes[] = {
    { "BOOL", 1 }, { "U8", 1 }, { "I8", 1 }, { "F8_E5M2", 1 }, { "F8_E4M3", 1 },
    { "I16", 2 }, { "U16", 2 }, { "F16", 2 }, { "BF16", 2 },
    { "I32", 4 }, { "U32", 4 }, { "F32", 4 },
    { "I64", 8 }, { "U64", 8 }, { "F64", 8 },
};

/* A JSON number that is a non-negative integer below 2^53 (exact in a
 * double), into *out; -1 otherwise. */
static int json_size(const cJSON *item, size_t *out)
{
    if (!cJSON_IsNumber(item))
        return -1;
    double v = item->valuedouble;
    if (!(v >= 0.0 && v < 9007199254740992.0) || v != floor(v))
        return -1;
    if ((uintmax_t)v > (uintmax_t)SIZE_MAX)
        return -1;
    *out = (size_t)v;
    return 0;
}

/* Parses one header entry `item` (named item->string) into *t. */
static int parse_tensor(const splitee__safetensors *st, const cJSON *item,
                        splitee__st_tensor *t, splitee_error *err)
{
    const char *path = st->path, *name = item->string;
    if (!cJSON_IsObject(item))
        return splitee__fail(err, SPLITEE_ERR_FORMAT,
                             "%s: header entry '%.64s' is not an object", path, name);
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!cJSON_IsString(dtype))
        return splitee__fail(err, SPLITEE_ERR_FORMAT,
                             "%s: tensor '%.64s': missing or non-string \"dtype\"", path, name);
    if (!cJSON_IsArray(shape))
        return splitee__fail(err, SPLITEE_ERR_FORMAT,
                             "%s: tensor '%.64s': missing or non-array \"shape\"", path, name);
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2)
        return splitee__fail(err, SPLITEE_ERR_FORMAT,
                             "%s: tensor '%.64s': \"data_offsets\" must be an array [begin, end]",
                             path, name);
    for (const cJSON *k = item->child; k; k = k->next)
        if (strcmp(k->string, "dtype") && strcmp(k->string, "shape") &&
            strcmp(k->string, "data_offsets"))
            return splitee__fail(err, SPLITEE_ERR_FORMAT,
                                 "%s: tensor '%.64s': unexpected key '%.32s'", path, name,
                                 k->string);

    t->dtype_size = 0;
    for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
        if (strcmp(dtype->valuestring, st_dtypes[i].name) == 0) {
            t->dtype_size = st_dtypes[i].size;
            memcpy(t->dtype, st_dtypes[i].name, strlen(st_dtypes[i].name) + 1);
        }
    if (!t->dtype_size)
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: tensor '%.64s': unknown dtype '%.16s'",
                             path, name, dtype->valuestring);

    int nd = cJSON_GetArraySize(shape);
    if (nd > SPLITEE__ST_MAX_DIMS)
        return splitee__fail(err, SPLITEE_ERR_UNSUPPORTED,
                             "%s: tensor '%.64s': %d dimensions (at most %d supported)",
                             path, name, nd, SPLITEE__ST_MAX_DIMS);
    t->ndim = nd;
    size_t count = 1, bytes;
    int d = 0;
    for (const cJSON *dim = shape->child; dim; dim = dim->next, d++) {
        if (json_size(dim, &t->shape[d]) < 0)
            return splitee__fail(err, SPLITEE_ERR_FORMAT,
                                 "%s: tensor '%.64s': shape must hold non-negative integers",
                                 path, name);
        if (splitee__mul_size(count, t->shape[d], &count) < 0)
            return splitee__fail(err, SPLITEE_ERR_OVERFLOW,
                                 "%s: tensor '%.64s': element count overflows", path, name);
    }
    if (splitee__mul_size(count, t->dtype_size, &bytes) < 0)
        return splitee__fail(err, SPLITEE_ERR_OVERFLOW,
                             "%s: tensor '%.64s': byte size overflows", path, name);
    t->count = count;

    if (json_size(offs->child, &t->begin) < 0 || json_size(offs->child->next, &t->end) < 0)
        return splitee__fail(err, SPLITEE_ERR_FORMAT,
                             "%s: tensor '%.64s': data offsets must be non-negative integers",
                             path, name);
    if (t->begin > t->end || t->end > st->data_len)
        return splitee__fail(err, SPLITEE_ERR_FORMAT,
                             "%s: tensor '%.64s': data offsets [%zu, %zu] out of bounds "
                             "(data section holds %zu bytes)",
                             path, name, t->begin, t->end, st->data_len);
    if (t->end - t->begin != bytes)
        return splitee__fail(err, SPLITEE_ERR_FORMAT,
                             "%s: tensor '%.64s': data offsets [%zu, %zu] span %zu bytes but "
                             "%s x %zu elements need %zu",
                             path, name, t->begin, t->end, t->end - t->begin, t->dtype, count,
                             bytes);
    t->data = st->data + t->begin;
    t->name = strdup(name);
    if (!t->name)
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", path);
    return SPLITEE_OK;
}

/* qsort order of tensor pointers: by begin, then end. */
static int by_offset(const void *a, const void *b)
{
    const splitee__st_tensor *x = *(const splitee__st_tensor *const *)a;
    const splitee__st_tensor *y = *(const splitee__st_tensor *const *)b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

/* No two tensors share a byte and every data byte belongs to a tensor. */
static int check_layout(const splitee__safetensors *st, splitee_error *err)
{
    if (st->count == 0) {
        if (st->data_len)
            return splitee__fail(err, SPLITEE_ERR_FORMAT,
                                 "%s: %zu data bytes but no tensors", st->path, st->data_len);
        return SPLITEE_OK;
    }
    const splitee__st_tensor **order = malloc(st->count * sizeof *order);
    if (!order)
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", st->path);
    for (size_t i = 0; i < st->count; i++)
        order[i] = &st->tensors[i];
    qsort(order, st->count, sizeof *order, by_offset);
    int rc = SPLITEE_OK;
    size_t pos = 0;
    for (size_t i = 0; i < st->count && rc == 0; i++) {
        const splitee__st_tensor *t = order[i];
        if (t->begin < pos)
            rc = splitee__fail(err, SPLITEE_ERR_FORMAT,
                               "%s: tensors '%.64s' and '%.64s' overlap (data offsets [%zu, %zu] "
                               "and [%zu, %zu])", st->path, order[i - 1]->name, t->name,
                               order[i - 1]->begin, order[i - 1]->end, t->begin, t->end);
        else if (t->begin > pos)
            rc = splitee__fail(err, SPLITEE_ERR_FORMAT,
                               "%s: data bytes [%zu, %zu) belong to no tensor", st->path, pos,
                               t->begin);
        else
            pos = t->end;
    }
    if (rc == 0 && pos != st->data_len)
        rc = splitee__fail(err, SPLITEE_ERR_FORMAT,
                           "%s: data bytes [%zu, %zu) belong to no tensor", st->path, pos,
                           st->data_len);
    free(order);
    return rc;
}

/* Parses the JSON header text [text, text + len). */
static int parse_header(splitee__safetensors *st, const char *text, size_t len,
                        splitee_error *err)
{
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root)
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: malformed JSON header", st->path);
    int rc = SPLITEE_OK;
    for (; end < text + len; end++)   /* the writer pads with spaces; nothing else */
        if (*end != ' ' && *end != '\t' && *end != '\n' && *end != '\r') {
            rc = splitee__fail(err, SPLITEE_ERR_FORMAT,
                               "%s: malformed JSON header (text after the object)", st->path);
            goto done;
        }
    if (!cJSON_IsObject(root)) {
        rc = splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: JSON header is not an object", st->path);
        goto done;
    }
    size_t n = 0;
    for (const cJSON *it = root->child; it; it = it->next)
        n += strcmp(it->string, "__metadata__") != 0;
    st->tensors = calloc(n ? n : 1, sizeof *st->tensors);
    if (!st->tensors) {
        rc = splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", st->path);
        goto done;
    }
    for (const cJSON *it = root->child; it && rc == 0; it = it->next) {
        if (strcmp(it->string, "__metadata__") == 0) {
            if (!cJSON_IsObject(it))
                rc = splitee__fail(err, SPLITEE_ERR_FORMAT,
                                   "%s: \"__metadata__\" is not an object", st->path);
            continue;
        }
        if (splitee__safetensors_find(st, it->string))
            rc = splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: duplicate tensor '%.64s'",
                               st->path, it->string);
        else if ((rc = parse_tensor(st, it, &st->tensors[st->count], err)) == 0)
            st->count++;
    }
    if (rc == 0)
        rc = check_layout(st, err);
done:
    cJSON_Delete(root);
    return rc;
}

/* The 8-byte header length needs 8 bytes: FORMAT naming the file if fewer. */
static int check_room(const char *path, size_t len, splitee_error *err)
{
    if (len < 8)
        return splitee__fail(err, SPLITEE_ERR_FORMAT,
                             "%s: truncated: %zu bytes, no room for the 8-byte header length",
                             path, len);
    return SPLITEE_OK;
}

/* Opens and maps `path` read-only into st->map / st->map_len. */
static int map_file(splitee__safetensors *st, splitee_error *err)
{
    int fd = open(st->path, O_RDONLY);
    if (fd < 0)
        return splitee__fail(err, SPLITEE_ERR_IO, "%s: cannot open: %s", st->path, strerror(errno));
    struct stat sb;
    int rc = SPLITEE_OK;
    if (fstat(fd, &sb) != 0)
        rc = splitee__fail(err, SPLITEE_ERR_IO, "%s: cannot stat: %s", st->path, strerror(errno));
    else if (!S_ISREG(sb.st_mode))
        rc = splitee__fail(err, SPLITEE_ERR_IO, "%s: not a regular file", st->path);
    else if ((uintmax_t)sb.st_size > (uintmax_t)SIZE_MAX)
        rc = splitee__fail(err, SPLITEE_ERR_OVERFLOW, "%s: file too large", st->path);
    else
        rc = check_room(st->path, (size_t)sb.st_size, err);
    if (rc == 0) {
        st->map_len = (size_t)sb.st_size;
        st->map = mmap(NULL, st->map_len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (st->map == MAP_FAILED) {
            st->map = NULL;
            rc = splitee__fail(err, SPLITEE_ERR_IO, "%s: cannot map: %s", st->path,
                               strerror(errno));
        }
    }
    close(fd);
    return rc;
}

/* Every check of the file's bytes [b, b + len): the header length, then the
 * header; st->data / data_len point into b. Both the mapped and the
 * in-memory opener go through here. */
static int parse_bytes(splitee__safetensors *st, const unsigned char *b, size_t len,
                       splitee_error *err)
{
    int rc = check_room(st->path, len, err);
    if (rc < 0)
        return rc;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | b[i];
    if (hlen > len - 8)
        return splitee__fail(err, SPLITEE_ERR_FORMAT,
                             "%s: header length %llu runs past the end of the file (%zu bytes)",
                             st->path, (unsigned long long)hlen, len);
    if (hlen > SPLITEE__ST_MAX_HEADER)
        return splitee__fail(err, SPLITEE_ERR_FORMAT, "%s: header length %llu exceeds %zu bytes",
                             st->path, (unsigned long long)hlen, SPLITEE__ST_MAX_HEADER);
    st->data = b + 8 + hlen;
    st->data_len = len - 8 - (size_t)hlen;
    return parse_header(st, (const char *)b + 8, (size_t)hlen, err);
}

int splitee__safetensors_open(const char *path, splitee__safetensors *st, splitee_error *err)
{
    memset(st, 0, sizeof *st);
    st->path = path;
    int rc = map_file(st, err);
    if (rc == 0)
        rc = parse_bytes(st, st->map, st->map_len, err);
    if (rc < 0)
        splitee__safetensors_close(st);
    return rc;
}

int splitee__safetensors_parse(const void *buf, size_t len, const char *path,
                               splitee__safetensors *st, splitee_error *err)
{
    memset(st, 0, sizeof *st);
    st->path = path;
    int rc = buf ? parse_bytes(st, buf, len, err)
                 : splitee__fail(err, SPLITEE_ERR_ARG, "%s: no buffer given", path);
    if (rc < 0)
        splitee__safetensors_close(st);
    return rc;
}

const splitee__st_tensor *splitee__safetensors_find(const splitee__safetensors *st,
                                                    const char *name)
{
    for (size_t i = 0; i < st->count; i++)
        if (strcmp(st->tensors[i].name, name) == 0)
            return &st->tensors[i];
    return NULL;
}

void splitee__safetensors_close(splitee__safetensors *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->count; i++)
        free(st->tensors[i].name);
    free(st->tensors);
    if (st->map)
        munmap(st->map, st->map_len);
    const char *path = st->path;
    memset(st, 0, sizeof *st);
    st->path = path;
}
