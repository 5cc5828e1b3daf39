/* engine.h -- the C inference engine of the multi-exit network, llama2.c
 * style: read-only weights (a splitee_model), and per-thread run state
 * allocated once; nothing allocates per sample.
 *
 * One sample moves through a run state like this: embed the image (depth
 * 0), run layers one by one (depth = layers run so far), read the exit
 * after the last layer run, and optionally export the (tokens, dim)
 * activation to finish elsewhere: a state on another machine that imports
 * it continues exactly where this one stopped. Layers and exits are
 * numbered from 0: exit i follows layer i, so bandit arm a (1..L, DESIGN.md)
 * is "run layers [0, a), read exit a-1".
 *
 *     splitee_engine_state *s;
 *     if (splitee_engine_state_create(model, &s, &err) < 0) die(err.msg);
 *     float logits[10];
 *     splitee_engine_embed(s, pixels, &err);           // 28x28 pixels in [0,1]
 *     splitee_engine_run_layers(s, 0, 3, &err);        // layers 0, 1, 2
 *     splitee_engine_exit_logits(s, 2, logits, &err);  // exit of arm 3
 *     if (confident(logits)) ... else {
 *         unsigned char buf[8192];
 *         size_t n;
 *         splitee_engine_export_payload(s, SPLITEE_PAYLOAD_ENCODING_F32, buf, sizeof buf, &n, &err);
 *         send(buf, n);
 *     }
 *     // cloud side, own model and state:
 *     splitee_engine_import_payload(cs, buf, n, &err);  // depth 3
 *     splitee_engine_run_layers(cs, 3, 12, &err);
 *     splitee_engine_exit_logits(cs, 11, logits, &err);
 *     splitee_engine_state_free(s);
 *
 * All functions below that return int give 0 or a negative splitee_status
 * with a one-line message in `err` (may be NULL). Errors come only from
 * misuse (calls out of order, indices out of range, bad payloads) -- the
 * arithmetic itself cannot fail on a loaded model. After an error the
 * sample's progress is unchanged unless stated otherwise.
 */
#ifndef SPLITEE_ENGINE_H
#define SPLITEE_ENGINE_H

#include <stddef.h>
#include "model.h"
#include "payload.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct splitee_engine_state splitee_engine_state; /* opaque, one per thread */

/* Allocates a run state for `model` (every buffer a forward pass needs, in
 * one allocation). The model must outlive the state. Several states may
 * share one model across threads; one state must not be used by two
 * threads at once. On failure *out is NULL (NOMEM, ARG). */
int splitee_engine_state_create(const splitee_model *model, splitee_engine_state **out,
                                splitee_error *err);

/* Frees the state. NULL is a no-op. */
void splitee_engine_state_free(splitee_engine_state *s);

/* The model the state runs. */
const splitee_model *splitee_engine_model(const splitee_engine_state *s);

/* Starts a sample from raw pixels: `pixels` (image_size, image_size)
 * row-major float32 in [0, 1] are normalised in float32 as
 * (p - (float)input_mean) / (float)input_std, which is what tools/train.py
 * does for its float32 test-set tables, then embedded. Depth becomes 0.
 * Non-finite pixels give VALUE. */
int splitee_engine_embed(splitee_engine_state *s, const float *pixels, splitee_error *err);

/* Same with an already normalised input (image_size, image_size) float32,
 * e.g. the parity fixture's inputs.npy. */
int splitee_engine_embed_normalised(splitee_engine_state *s, const float *input,
                                    splitee_error *err);

/* Runs layer `layer` (0-based); it must be the next one: layer == depth.
 * ARG otherwise (or before the first embed/import). */
int splitee_engine_run_layer(splitee_engine_state *s, int layer, splitee_error *err);

/* Runs layers [from, to): from must equal the depth, to <= layers.
 * from == to is allowed and does nothing. */
int splitee_engine_run_layers(splitee_engine_state *s, int from, int to, splitee_error *err);

/* Writes the logits of exit `exit` (classes floats) to `logits`. The exit
 * must follow the last layer run: exit == depth - 1 (ARG otherwise). Does
 * not change the activation: layers may continue afterwards. */
int splitee_engine_exit_logits(splitee_engine_state *s, int exit, float *logits,
                               splitee_error *err);

/* Layers run on the current sample (0..layers), or -1 before the first
 * embed/import or after a failed import. */
int splitee_engine_depth(const splitee_engine_state *s);

/* The current activation, (tokens, dim) float32 row-major; valid until the
 * next call on the state. NULL when depth is -1. */
const float *splitee_engine_activation(const splitee_engine_state *s);

/* Copies the current activation into act ((tokens, dim) floats; `cap` is
 * what act holds). ARG with no sample, OVERFLOW if cap is too small. */
int splitee_engine_export(const splitee_engine_state *s, float *act, size_t cap,
                          splitee_error *err);

/* Replaces the current sample by activation `act` (tokens, dim) taken after
 * `layer` layers (0..layers); depth becomes `layer`. VALUE for non-finite
 * values (depth then -1), ARG for a bad layer. */
int splitee_engine_import(splitee_engine_state *s, int layer, const float *act,
                          splitee_error *err);

/* Encodes the current activation and depth as a payload (payload.h) into
 * buf[0..cap); *written gets its size. Errors as splitee_payload_encode,
 * plus ARG with no sample. */
int splitee_engine_export_payload(const splitee_engine_state *s, splitee_payload_encoding enc,
                                  void *buf, size_t cap, size_t *written, splitee_error *err);

/* Decodes a payload straight into the state (no allocation): validates it
 * fully (payload.h), checks that tokens and dim match the model and the
 * layer is at most `layers`; depth becomes that layer. On failure depth
 * is -1 (the activation may have been partly overwritten). */
int splitee_engine_import_payload(splitee_engine_state *s, const void *buf, size_t len,
                                  splitee_error *err);

/* Whole image through every exit: embed `pixels` as splitee_engine_embed,
 * run all layers, and write every exit's logits to `logits`, (layers,
 * classes) float32. Depth ends at `layers`. */
int splitee_engine_forward(splitee_engine_state *s, const float *pixels, float *logits,
                           splitee_error *err);

/* Same from an already normalised input. */
int splitee_engine_forward_normalised(splitee_engine_state *s, const float *input,
                                      float *logits, splitee_error *err);

#ifdef __cplusplus
}
#endif
#endif
