/* fuzzutil.h -- helpers shared by the libFuzzer targets of tests/fuzz/:
 * scratch files for loaders that take a path, and the check every target
 * makes on a refusal (a one-line message naming the input). */
#ifndef SPLITEE_FUZZUTIL_H
#define SPLITEE_FUZZUTIL_H

#include <stddef.h>
#include <stdint.h>
#include "splitee/status.h"

/* libFuzzer's entry points (no header of its own). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Writes [data, data + len) to scratch file `slot` (0..3) of this process,
 * replacing what it held, and returns its path (a private folder in
 * $SPLITEE_FUZZ_TMP, else /dev/shm, else $TMPDIR or /tmp; removed at exit). Aborts on an I/O failure: that is no finding. */
const char *fz_write(int slot, const void *data, size_t len);

/* A refusal must carry a negative status equal to err->status and a
 * non-empty one-line message that contains `name` (the file or the
 * "payload:" prefix). Aborts with the message otherwise, which libFuzzer
 * reports as a crash. */
void fz_check_refusal(int rc, const splitee_error *err, const char *name);

/* The 2-byte little-endian length n at the start of [data, data + size),
 * clamped to what follows: splits one input into two parts. 0 when size
 * < 2. */
size_t fz_split(const uint8_t *data, size_t size);

#endif
