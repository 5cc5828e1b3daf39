/* fuzzutil.c -- helpers shared by the libFuzzer targets (fuzzutil.h). The
 * scratch folder is per process state, which a fuzz target is allowed;
 * the library itself keeps none. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzzutil.h"

#define SLOTS 4

static char dir[256];
static char paths[SLOTS][300];

static void cleanup(void)
{
    for (int i = 0; i < SLOTS; i++)
        if (paths[i][0])
            unlink(paths[i]);
    if (dir[0])
        rmdir(dir);
}

const char *fz_write(int slot, const void *data, size_t len)
{
    if (slot < 0 || slot >= SLOTS)
        abort();
    if (!dir[0]) {
        /* tmpfs when there is one: a disk-backed /tmp made the file
         * targets ten times slower */
        const char *t = getenv("SPLITEE_FUZZ_TMP");
        if (!t || !*t)
            t = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/splitee-fuzz-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(dir)) {
            perror("fuzz: mkdtemp");
            abort();
        }
        atexit(cleanup);
    }
    if (!paths[slot][0])
        snprintf(paths[slot], sizeof paths[slot], "%s/input%d", dir, slot);
    FILE *f = fopen(paths[slot], "wb");
    if (!f || (len && fwrite(data, 1, len, f) != len) || fclose(f) != 0) {
        perror(paths[slot]);
        abort();
    }
    return paths[slot];
}

void fz_check_refusal(int rc, const splitee_error *err, const char *name)
{
    if (rc < 0 && err->status == rc && err->msg[0] && !strchr(err->msg, '\n') &&
        strstr(err->msg, name))
        return;
    fprintf(stderr, "fuzz: bad refusal (rc %d, status %d, expected '%s' named): %s\n", rc,
            err->status, name, err->msg);
    abort();
}

size_t fz_split(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t n = (size_t)data[0] | (size_t)data[1] << 8;
    return n < size - 2 ? n : size - 2;
}
