/* fuzz_model.c -- libFuzzer target: the model loader, model.json parsing
 * against safetensors parsing (src/engine/model.c, src/formats/safetensors.c), through
 * splitee__model_load_mem, the in-memory twin of splitee_model_load that
 * runs the same checks on buffers instead of a folder and a mapping.
 *
 * Input: a 2-byte little-endian length n, n bytes of model.json, then the
 * whole safetensors file (seeds: tests/fuzz/seeds.py). Each part is copied
 * into a buffer of its exact size, so ASan catches a read past either.
 * Both format versions: the seeds hold version 1 models and version 2
 * layer graphs (a small CNN with a residual, depthwise convolutions and
 * batch norms). A refusal must name the file at fault in one line; a
 * model that loads runs one forward pass through every exit on a blank
 * input of its input shape, so the engine meets every architecture the
 * loader accepts, and that pass must succeed (engine.h: the arithmetic
 * cannot fail on a loaded model). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzutil.h"
#include "engine/model_internal.h"
#include "splitee/engine.h"

#define JSON_NAME "fuzz/model.json"
#define WEIGHTS_NAME "fuzz/model.safetensors"

/* One forward pass of the loaded model m on a blank image. */
static void run_model(const splitee_model *m)
{
    const splitee_model_config *c = splitee_model_get_config(m);
    splitee_engine_state *s = NULL;
    splitee_error err = { 0, "" };
    size_t pixels = splitee_model_split_elems(m, 0);
    float *img = calloc(pixels, sizeof *img);
    float *logits = calloc((size_t)c->layers * (size_t)c->classes, sizeof *logits);
    if (!img || !logits || splitee_engine_state_create(m, &s, &err) < 0 ||
        splitee_engine_forward(s, img, logits, &err) < 0) {
        fprintf(stderr, "fuzz: a loaded model cannot run: %s\n", err.msg);
        abort();
    }
    splitee_engine_state_free(s);
    free(img);
    free(logits);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t jlen = fz_split(data, size);
    if (size < 2)
        return 0;
    size_t wlen = size - 2 - jlen;
    char *json = malloc(jlen ? jlen : 1);
    unsigned char *w = malloc(wlen ? wlen : 1);
    if (!json || !w)
        abort();
    memcpy(json, data + 2, jlen);
    memcpy(w, data + 2 + jlen, wlen);
    splitee_model *m = NULL;
    splitee_error err = { 0, "" };
    int rc = splitee__model_load_mem(JSON_NAME, json, jlen, WEIGHTS_NAME, w, wlen, &m, &err);
    if (rc == 0) {
        run_model(m);
        splitee_model_free(m);
    } else {
        fz_check_refusal(rc, &err, "fuzz/model.");
        if (m)
            abort();
    }
    free(json);
    free(w);
    return 0;
}
