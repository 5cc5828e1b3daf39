/* fuzz_link.c -- libFuzzer target: link profiles and their traces
 * (sim/link_json.c: splitee_link_parse, splitee_link_parse_trace), then
 * pricing with what loaded (sim/link.c).
 *
 * Input: two little-endian bytes N, then N bytes of profile JSON, then the
 * rest, written as the trace file "input1" beside it (a profile's
 * "trace": {"file": "input1", ...} reads it; seeds: tests/fuzz/seeds.py).
 * A refusal must be one line naming the profile or the trace file it
 * points at; a link that
 * loads must price any payload with a finite or +inf cost, never NaN, and
 * never crash. */
#include <libgen.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzutil.h"
#include "splitee/link.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n = fz_split(data, size);
    char *json = malloc(n + 1);
    if (!json)
        abort();
    if (n)
        memcpy(json, data + 2, n);
    json[n] = '\0';
    const uint8_t *rest = size >= 2 ? data + 2 + n : data;
    size_t rest_len = size >= 2 ? size - 2 - n : 0;
    char dir[300];
    snprintf(dir, sizeof dir, "%s", fz_write(1, rest, rest_len));
    dirname(dir);
    splitee_link *lk = NULL;
    splitee_error err = { 0, "" };
    int rc = splitee_link_parse(json, "fuzz.json", dir, &lk, &err);
    free(json);
    if (rc < 0) {
        if (lk)
            abort();
        /* named: the profile, or the trace file it pointed at (whose path,
         * joined to the absolute scratch folder, starts the message) */
        fz_check_refusal(rc, &err, err.msg[0] == '/' ? "/" : "fuzz.json");
        return 0;
    }
    static const size_t sizes[] = { 0, 1, 1500, 4120, 1 << 20 };
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        splitee_transfer tr;
        splitee_link_price(lk, sizes[i], 3.25 * (double)i, 0, &tr);
        if (isnan(tr.cost) || isnan(tr.latency_ms))
            abort();
    }
    splitee_link_free(lk);
    return 0;
}
