/* status.c -- status codes, error messages, and the one place splitee
 * reads whole files and writes outputs: bounded reads of regular files and
 * pipes, atomic replacement of regular files, in-place writes to devices
 * and pipes, symlinks followed to their target. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/internal.h"
#include "splitee/file.h"
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

/* The file a write to `path` lands in: path itself, or the target a
 * symlink (chain) points at -- a target not made yet is made, in its folder
 * -- into dest (cap bytes). 0, or IO for a link into a missing folder, a
 * link loop or a path too long. */
static int resolve_output(const char *path, char *dest, size_t cap, splitee_error *err)
{
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
        char real[PATH_MAX];
        if (realpath(path, real)) {
            if (strlen(real) >= cap)
                return splitee__fail(err, SPLITEE_ERR_IO, "%s: path too long", path);
            memcpy(dest, real, strlen(real) + 1);
            return 0;
        }
        /* a link to a file not made yet: its target, in a folder that exists */
        char target[PATH_MAX], dir[PATH_MAX], full[2 * PATH_MAX];
        ssize_t n = readlink(path, target, sizeof target - 1);
        if (n <= 0)
            return splitee__fail(err, SPLITEE_ERR_IO, "%s: cannot read the link: %s", path, strerror(errno));
        target[n] = '\0';
        if (target[0] == '/') {
            snprintf(full, sizeof full, "%s", target);
        } else {
            snprintf(dir, sizeof dir, "%s", path);
            char *slash = strrchr(dir, '/');
            if (slash)
                slash[1] = '\0';
            else
                dir[0] = '\0';
            snprintf(full, sizeof full, "%s%s", dir, target);
        }
        char *slash = strrchr(full, '/');
        const char *base = slash ? slash + 1 : full;
        snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - full) : 1, slash ? (slash == full ? "/" : full) : ".");
        if (!realpath(dir, real) || lstat(full, &st) == 0)   /* a missing folder, or a loop */
            return splitee__fail(err, SPLITEE_ERR_IO, "%s: a symlink to nothing writable (%s)", path, target);
        if (snprintf(dest, cap, "%s/%s", strcmp(real, "/") ? real : "", base) >= (int)cap)
            return splitee__fail(err, SPLITEE_ERR_IO, "%s: path too long", path);
        return 0;
    }
    if (strlen(path) >= cap)
        return splitee__fail(err, SPLITEE_ERR_IO, "%s: path too long", path);
    memcpy(dest, path, strlen(path) + 1);
    return 0;
}

/* All of data to fd; 0 or -1 with errno set. */
static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t k = write(fd, p, len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        len -= (size_t)k;
    }
    return 0;
}

int splitee__output_check(const char *path, splitee_error *err)
{
    char dest[PATH_MAX];
    int st = resolve_output(path, dest, sizeof dest, err);
    if (st < 0)
        return st;
    struct stat sb;
    if (stat(dest, &sb) == 0) {
        if (S_ISDIR(sb.st_mode))
            return splitee__fail(err, SPLITEE_ERR_IO, "%s: cannot write: it is a folder", path);
        if (access(dest, W_OK) != 0)
            return splitee__fail(err, SPLITEE_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
        if (!S_ISREG(sb.st_mode))
            return 0;   /* written in place */
    } else if (errno != ENOENT) {
        return splitee__fail(err, SPLITEE_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    }
    /* a regular file is written beside itself and renamed: the folder must
     * take new files */
    char dir[PATH_MAX];
    memcpy(dir, dest, strlen(dest) + 1);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return splitee__fail(err, SPLITEE_ERR_IO, "%s: cannot write: folder %s does not exist", path, dir);
    if (access(dir, W_OK | X_OK) != 0)
        return splitee__fail(err, SPLITEE_ERR_IO, "%s: cannot write in folder %s: %s", path, dir,
                             strerror(errno));
    return 0;
}

/* One output being written: where it lands, and the temporary staged
 * beside it (tmp[0] == 0: written in place, a device or a pipe). */
typedef struct staged {
    char dest[PATH_MAX];
    char tmp[PATH_MAX + 32];
} staged;

/* Writes data to `path`'s temporary (a regular or new file) or in place (a
 * device or a pipe) into *sg; nothing is renamed yet. On failure the
 * temporary is gone. `k` tells temporaries of one run apart. */
static int stage(const char *path, const void *data, size_t len, int k, staged *sg,
                 splitee_error *err)
{
    sg->tmp[0] = '\0';
    int st = resolve_output(path, sg->dest, sizeof sg->dest, err);
    if (st < 0)
        return st;
    struct stat sb;
    int exists = stat(sg->dest, &sb) == 0;
    if (exists && S_ISDIR(sb.st_mode))
        return splitee__fail(err, SPLITEE_ERR_IO, "%s: cannot write: it is a folder", path);
    if (exists && !S_ISREG(sb.st_mode)) {
        /* a device, a pipe: written in place, never replaced */
        int fd = open(sg->dest, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
            return splitee__fail(err, SPLITEE_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
        int bad = write_all(fd, data, len) < 0;
        int e = errno;
        if (close(fd) != 0 && !bad) {
            bad = 1;
            e = errno;
        }
        return bad ? splitee__fail(err, SPLITEE_ERR_IO, "%s: cannot write: %s", path, strerror(e)) : 0;
    }
    if (k == 0)
        snprintf(sg->tmp, sizeof sg->tmp, "%s.tmp%ld", sg->dest, (long)getpid());
    else   /* two outputs of one run may share a destination folder and name */
        snprintf(sg->tmp, sizeof sg->tmp, "%s.tmp%ld-%d", sg->dest, (long)getpid(), k);
    int fd = open(sg->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0666);
    if (fd < 0 && errno == EEXIST && unlink(sg->tmp) == 0)   /* a stale one of ours */
        fd = open(sg->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0666);
    if (fd < 0) {
        int e = errno;
        sg->tmp[0] = '\0';
        return splitee__fail(err, SPLITEE_ERR_IO, "%s: cannot write: %s", path, strerror(e));
    }
    if (exists)
        (void)fchmod(fd, sb.st_mode & 07777);   /* a replaced file keeps its mode */
    int bad = write_all(fd, data, len) < 0;
    int e = errno;
    if (close(fd) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    if (bad) {
        unlink(sg->tmp);
        sg->tmp[0] = '\0';
        return splitee__fail(err, SPLITEE_ERR_IO, "%s: cannot write: %s", path, strerror(e));
    }
    return SPLITEE_OK;
}

int splitee_file_write_all(const splitee_output *outs, int n, splitee_error *err)
{
    if (n < 0 || n > 64)
        return splitee__fail(err, SPLITEE_ERR_ARG, "outputs: %d files at once (0..64)", n);
    staged one, *sg = n <= 1 ? &one : calloc((size_t)n, sizeof *sg);
    if (!sg)
        return splitee__fail(err, SPLITEE_ERR_NOMEM, "%s: out of memory", outs[0].path);
    int st = 0, staged_n = 0;
    while (staged_n < n && st == 0) {
        const splitee_output *o = &outs[staged_n];
        st = stage(o->path, o->data, o->len, staged_n, &sg[staged_n], err);
        if (st == 0)
            staged_n++;
    }
    for (int i = 0; st == 0 && i < n; i++) {   /* every output written: put them in place */
        if (sg[i].tmp[0] && rename(sg[i].tmp, sg[i].dest) != 0)
            st = splitee__fail(err, SPLITEE_ERR_IO, "%s: cannot write: %s", outs[i].path, strerror(errno));
        else
            sg[i].tmp[0] = '\0';
    }
    for (int i = 0; i < staged_n; i++)   /* what was staged but not put in place */
        if (sg[i].tmp[0])
            unlink(sg[i].tmp);
    if (sg != &one)
        free(sg);
    return st;
}

int splitee__write_file_atomic(const char *path, const void *data, size_t len,
                               splitee_error *err)
{
    splitee_output one = { path, data, len };
    return splitee_file_write_all(&one, 1, err);
}

int splitee__read_stream(FILE *f, const char *path, size_t max, char **out, size_t *len,
                         splitee_error *err)
{
    *out = NULL;
    *len = 0;
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0) {
        int e = errno;
        fclose(f);
        return splitee__fail(err, SPLITEE_ERR_IO, "%s: cannot read: %s", path, strerror(e));
    }
    if (S_ISDIR(sb.st_mode) || !(S_ISREG(sb.st_mode) || S_ISFIFO(sb.st_mode) || S_ISSOCK(sb.st_mode))) {
        fclose(f);
        return splitee__fail(err, SPLITEE_ERR_IO, "%s: not a regular file or a pipe", path);
    }
    if (!S_ISREG(sb.st_mode) && (max == 0 || max > SPLITEE__STREAM_MAX))
        max = SPLITEE__STREAM_MAX;   /* a stream has no size to trust */
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

/* ---- the public face (file.h) ---------------------------------------- */

int splitee_file_write_atomic(const char *path, const void *data, size_t len,
                              splitee_error *err)
{
    return splitee__write_file_atomic(path, data, len, err);
}

int splitee_output_check(const char *path, splitee_error *err)
{
    return splitee__output_check(path, err);
}

