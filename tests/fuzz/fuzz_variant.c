/* fuzz_variant.c -- libFuzzer target: the model variant writer
 * (src/search/variant.c, splitee_search_variant; `splitee search
 * --out-model DIR`), which re-reads a model folder's model.json and
 * weights on its own to build a model holding only a configuration's kept
 * exits. As the CLI does, the model is first loaded (splitee_model_load);
 * one the loader refuses is no input for the writer.
 *
 * Input: byte 0 the kept early exits (bit j: exit j + 1, masked to the
 * model's layers - 1), then as the model target: a 2-byte little-endian
 * length n, n bytes of model.json, the rest model.safetensors, written into
 * the scratch folder. A refusal must be one line with its status in
 * err.status; a variant must load (splitee__model_load_mem) with one exit
 * per kept exit plus the final. */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/model_internal.h"
#include "fuzzutil.h"
#include "splitee/splitee.h"

static void put(const char *dir, const char *name, const uint8_t *p, size_t n)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    uint64_t keep = data[0];
    data++;
    size--;
    static char dir[300];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "%s", fz_write(0, "", 0));
        dirname(dir);
    }
    size_t n = fz_split(data, size);
    put(dir, "model.json", data + 2, n);
    put(dir, "model.safetensors", data + 2 + n, size - 2 - n);
    splitee_model *m = NULL;
    splitee_error err = { 0, "" };
    if (splitee_model_load(dir, &m, &err) < 0)
        return 0;
    int L = splitee_model_get_config(m)->layers;
    splitee_model_free(m);
    splitee_search_plan p;
    memset(&p, 0, sizeof p);
    p.candidates = L;
    p.keep = keep & ((L > 1 ? (1ull << (L - 1)) : 1ull) - 1);
    for (int j = 0; j < L - 1; j++)
        p.thr[j] = 0.5;
    char *json = NULL;
    void *w = NULL;
    size_t wlen = 0;
    int rc = splitee_search_variant(dir, &p, &json, &w, &wlen, &err);
    if (rc < 0) {
        if (json || w)
            abort();
        if (err.status != rc || !err.msg[0] || strchr(err.msg, '\n')) {
            fprintf(stderr, "fuzz: bad refusal (rc %d, status %d): %s\n", rc, err.status, err.msg);
            abort();
        }
        return 0;
    }
    if (!json || !w)
        abort();
    splitee_model *v = NULL;
    if (splitee__model_load_mem("variant/model.json", json, strlen(json), "variant/model.safetensors", w, wlen,
                                &v, &err) < 0) {
        fprintf(stderr, "fuzz: the variant does not load: %s\n", err.msg);
        abort();
    }
    if (splitee_model_get_config(v)->layers != __builtin_popcountll(p.keep) + 1)
        abort();
    splitee_model_free(v);
    free(json);
    free(w);
    return 0;
}
