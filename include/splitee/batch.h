/* batch.h -- batch inference: many images through the engine on worker
 * threads, into the (samples, exits, classes) float32 exit-logit table
 * that `splitee replay --logits` reads.
 *
 * The samples are cut into one contiguous block per thread; each worker
 * owns one engine run state (engine.h) and, for images, one distorter
 * (image.h) and one pixel buffer, all allocated before any work starts:
 * nothing is allocated per sample. Every sample's logits depend only on
 * the sample (and for noise, its index), so the table is bit-identical
 * for any thread count, and equal to a plain loop over
 * splitee_engine_forward on one state.
 *
 *     splitee_batch_config bc;
 *     splitee_batch_config_default(&bc);
 *     bc.threads = 4;
 *     bc.progress = show;            // show(ctx, done, total) on this thread
 *     float *table = malloc(im.count * layers * classes * sizeof *table);
 *     if (splitee_batch_forward_images(model, &im, &dc, &bc, table, &err) < 0)
 *         die(err.msg);              // "image 17: engine: ..." (the first failing one)
 *
 * A fixed split, as a device and a cloud would run it (`splitee infer`):
 *
 *     splitee_split_config sc;
 *     splitee_split_config_default(&sc);
 *     sc.split = 4;
 *     sc.encoding = SPLITEE_PAYLOAD_ENCODING_I8;
 *     splitee_split_stats st;
 *     splitee_batch_split_images(model, &im, NULL, &sc, &bc, &st, &err);
 *     printf("accuracy %.4f, lossless %.4f\n", (double)st.correct / st.samples,
 *            (double)st.correct_lossless / st.samples);
 */
#ifndef SPLITEE_BATCH_H
#define SPLITEE_BATCH_H

#include <stddef.h>
#include "image.h"
#include "model.h"
#include "payload.h"
#include "status.h"
#include "table.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SPLITEE_BATCH_MAX_THREADS 1024

/* Progress report: `done` of `total` samples finished so far. Called on
 * the thread that called the batch function, never concurrently. */
typedef void (*splitee_batch_progress_fn)(void *ctx, size_t done, size_t total);

typedef struct splitee_batch_config {
    int threads;                       /* worker threads, 1..SPLITEE_BATCH_MAX_THREADS
                                          (at most one per sample is started) */
    splitee_batch_progress_fn progress; /* NULL: no progress reports */
    void *progress_ctx;
    double progress_interval_s;        /* seconds between reports (> 0) */
} splitee_batch_config;

/* One thread, no progress, reports every 0.5 s once one is set. */
void splitee_batch_config_default(splitee_batch_config *cfg);

/* Runs images [0, im->count) of `im` through every exit of `model`:
 * image k is distorted by `dc` (NULL: clean, p / 255) with index k, as
 * splitee_distorter_apply does, then run as splitee_engine_forward, and
 * its (layers, classes) logits are written to
 * logits[k * layers * classes ...]; `logits` holds im->count * layers *
 * classes floats. With cfg->progress set, the progress function is called
 * once at the start (0 done), every progress_interval_s while workers run,
 * and once after every worker has stopped (the final count; im->count on
 * success). Returns 0, or a negative status with a one-line message: ARG
 * (NULL arguments, a bad thread count or interval), SHAPE (images that are
 * not the model's image_size square), the distorter's ARG/VALUE for a bad
 * `dc`, NOMEM (per-thread buffers, or a thread that cannot start), or the
 * engine's error for the first failing image in index order, prefixed
 * "image K: " -- the same image and message for any thread count. On
 * failure the contents of `logits` are unspecified. The model must not be
 * freed during the call; `im` and `logits` must not overlap. */
int splitee_batch_forward_images(const splitee_model *model, const splitee_images *im,
                                 const splitee_distortion_config *dc,
                                 const splitee_batch_config *cfg, float *logits,
                                 splitee_error *err);

/* Same from float32 inputs of any model: `pixels` holds count inputs of
 * the model's input shape (splitee_model_split_shape(model, 0), row-major,
 * splitee_model_split_elems(model, 0) floats each; for the shipped model
 * 28x28 pixels in [0, 1]), each the raw input x that the model's input
 * spec normalises: run as splitee_engine_forward, so it becomes
 * (x - input_mean) / input_std in float32 first (no distortion). A
 * non-finite value fails that input (VALUE, "image K: engine: ..."). */
int splitee_batch_forward_pixels(const splitee_model *model, const float *pixels, size_t count,
                                 const splitee_batch_config *cfg, float *logits,
                                 splitee_error *err);

/* Same from inputs that are already normalised (what the model's first op
 * reads, e.g. the parity fixture's inputs.npy): each run as
 * splitee_engine_forward_normalised, the input's mean/std not applied. */
int splitee_batch_forward_normalised(const splitee_model *model, const float *inputs, size_t count,
                                     const splitee_batch_config *cfg, float *logits,
                                     splitee_error *err);

/* A fixed split: the device runs layers [0, split) and reads exit split-1;
 * the sample exits there when it is the last layer or its confidence
 * reaches alpha (the reward model's exit rule, reward.h), otherwise its
 * activation is encoded as a payload, decoded into a second run state
 * (the cloud's) and resumed to the final exit. */
typedef struct splitee_split_config {
    int split;                          /* K: layers on the device, 1..layers */
    double alpha;                       /* exit threshold on exit K's confidence, [0, 1] */
    splitee_confidence confidence;      /* how a confidence is computed from logits */
    splitee_payload_encoding encoding;  /* the offloaded activation's encoding */
} splitee_split_config;

/* split 1, alpha 0.8, max-softmax, f32. */
void splitee_split_config_default(splitee_split_config *cfg);

/* What a fixed split did to a labelled set of images. */
typedef struct splitee_split_stats {
    size_t samples;
    size_t exited, offloaded;   /* samples that exited at K / were offloaded */
    size_t correct;             /* predictions of the split run that match the label */
    size_t correct_lossless;    /* same exits, offloaded ones from the exact final exit */
    size_t correct_full;        /* exit L of the uninterrupted forward pass */
    size_t correct_exit_k;      /* exit K for every sample */
    size_t changed;             /* offloaded samples whose prediction the encoding changed */
    size_t payload_bytes;       /* bytes of one payload (payload.h, header included) */
    double max_diff;            /* max |resumed - full| final logit over offloaded samples */
} splitee_split_stats;

/* Runs the split `sc` over the labelled images `im` (distorted by `dc`, NULL:
 * clean, as splitee_batch_forward_images does) on cfg->threads workers,
 * each with a device and a cloud run state, and fills *out. The counts and
 * the maximum do not depend on the thread count or order. Ties in argmax
 * go to the lowest class. Returns 0, or as splitee_batch_forward_images,
 * plus ARG for images without labels, a split outside 1..layers, alpha
 * outside [0, 1], an unknown confidence or encoding; a payload the
 * encoding cannot hold (VALUE, e.g. past the float16 range) fails that
 * image. *out is zeroed on failure. */
int splitee_batch_split_images(const splitee_model *model, const splitee_images *im,
                               const splitee_distortion_config *dc, const splitee_split_config *sc,
                               const splitee_batch_config *cfg, splitee_split_stats *out,
                               splitee_error *err);

#ifdef __cplusplus
}
#endif
#endif
