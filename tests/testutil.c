/* testutil.c -- scratch files for the Criterion tests (see testutil.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

static char dir[512];
static pid_t owner;

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(path);
}

/* Removes the scratch directory when the process that made it exits. */
static void cleanup(void)
{
    if (dir[0] && owner == getpid())
        nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *tu_tmpdir(void)
{
    if (!dir[0] || owner != getpid()) {   /* Criterion forks per test */
        const char *base = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/splitee-test-XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            abort();
        }
        owner = getpid();
        atexit(cleanup);
    }
    return dir;
}

const char *tu_path(const char *name)
{
    static char bufs[8][1024];
    static int next;
    char *b = bufs[next++ & 7];
    snprintf(b, sizeof bufs[0], "%s/%s", tu_tmpdir(), name);
    return b;
}

const char *tu_write(const char *name, const void *data, size_t len)
{
    const char *p = tu_path(name);
    FILE *f = fopen(p, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        perror(p);
        abort();
    }
    return p;
}

const char *tu_write_str(const char *name, const char *text)
{
    return tu_write(name, text, strlen(text));
}

char *tu_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *nb = realloc(buf, 2 * cap + 1);
            if (!nb) { free(buf); buf = NULL; break; }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (!buf)
        return NULL;
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

int tu_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

unsigned char *tu_npy_image(const char *descr, int fortran, int ndim,
                            const size_t *shape, const void *data,
                            size_t data_len, size_t *len)
{
    char dict[512], sh[256] = "";
    size_t o = 0;
    for (int i = 0; i < ndim; i++)
        o += (size_t)snprintf(sh + o, sizeof sh - o, "%zu%s", shape[i],
                              (ndim == 1 || i + 1 < ndim) ? ", " : "");
    if (ndim == 1)
        sh[o - 1] = '\0'; /* "(5,)" */
    int dl = snprintf(dict, sizeof dict,
                      "{'descr': '%s', 'fortran_order': %s, 'shape': (%s), }",
                      descr, fortran ? "True" : "False", sh);
    size_t hlen = (size_t)dl + 1;                    /* + '\n' */
    size_t total_hdr = 10 + hlen;
    size_t pad = (64 - total_hdr % 64) % 64;
    hlen += pad;
    *len = 10 + hlen + data_len;
    unsigned char *buf = malloc(*len);
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)(hlen & 0xff);
    buf[9] = (unsigned char)(hlen >> 8);
    memcpy(buf + 10, dict, (size_t)dl);
    memset(buf + 10 + dl, ' ', pad);
    buf[10 + hlen - 1] = '\n';
    if (data_len)
        memcpy(buf + 10 + hlen, data, data_len);
    return buf;
}
