/* fuzz_payload.c -- libFuzzer target: the activation payload decoder
 * (src/engine/payload.c: splitee_payload_peek, splitee_payload_decode) and
 * splitee_engine_import_payload on the shipped model (data/model, or the
 * folder in $SPLITEE_FUZZ_MODEL), whose state then reads the exit after
 * the split (running layer 0 first for a split after layer 0), so decoded
 * values flow into the engine.
 *
 * Input: the payload bytes as they would arrive from a peer (seeds:
 * tests/fuzz/seeds.py). A payload that peeks cleanly is decoded into a
 * buffer of exactly the size it announces; refusals must be one line
 * starting "payload:"; a payload that decodes must also import (when its
 * shape fits the model) and the other way round. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzutil.h"
#include "splitee/engine.h"
#include "splitee/payload.h"

static splitee_model *model;
static splitee_engine_state *state;

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *dir = getenv("SPLITEE_FUZZ_MODEL");
    splitee_error err = { 0, "" };
    if (!dir || !*dir)
        dir = SPLITEE_SOURCE_ROOT "/data/model";
    if (splitee_model_load(dir, &model, &err) < 0 ||
        splitee_engine_state_create(model, &state, &err) < 0) {
        fprintf(stderr, "fuzz_payload: %s\n", err.msg);
        exit(1);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const splitee_model_config *c = splitee_model_get_config(model);
    splitee_error err = { 0, "" };
    splitee_payload_info info;
    int decoded = 0, rc = splitee_payload_peek(data, size, &info, &err);
    if (rc < 0) {
        fz_check_refusal(rc, &err, "payload:");
    } else {
        size_t n = info.tokens * info.dim;
        float *act = malloc(n * sizeof *act);
        if (!act)
            abort();
        rc = splitee_payload_decode(data, size, act, n, &info, &err);
        if (rc < 0)
            fz_check_refusal(rc, &err, "payload:");
        decoded = rc == 0;
        if (decoded && n > 1 && splitee_payload_decode(data, size, act, n - 1, NULL, &err) !=
                                    SPLITEE_ERR_OVERFLOW)
            abort();   /* a destination one float short must be refused */
        free(act);
    }

    rc = splitee_engine_import_payload(state, data, size, &err);
    splitee_shape sh;
    size_t rows = 0, cols = 0;
    if (decoded && splitee_model_split_shape(model, info.layer, &sh) == 0)
        splitee_shape_payload_dims(&sh, &rows, &cols);
    int fits = decoded && info.layer <= c->layers && info.tokens == rows && info.dim == cols;
    if (rc < 0) {
        fz_check_refusal(rc, &err, "payload:");
        if (fits || splitee_engine_depth(state) != -1)
            abort();
        return 0;
    }
    if (!fits || splitee_engine_depth(state) != info.layer)
        abort();
    /* Decoded values flow into the engine: the exit after the split
     * reads them. A split after layer 0 first runs layer 0 (one layer of
     * the real model costs more than everything else here, so only then). */
    float logits[64];
    int depth = info.layer;
    if ((size_t)c->classes > sizeof logits / sizeof logits[0])
        abort();
    if (depth == 0 && splitee_engine_run_layer(state, depth++, &err) < 0)
        abort();
    if (splitee_engine_exit_logits(state, depth - 1, logits, &err) < 0)
        abort();
    return 0;
}
