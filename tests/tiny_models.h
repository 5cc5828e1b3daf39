/* tiny_models.h -- a small multi-exit network in model format version 2
 * (include/splitee/model.h), built by the tests: its model.json text and
 * its weights (deterministic pseudo-random values), written as a model
 * folder with a safetensors file. The network ("tiny-cnn"), input (2, 12,
 * 12), three stages and three exits:
 *   stage 1: conv2d 3x3 (no bias) + batchnorm + relu6 [save a], depthwise
 *            3x3 + batchnorm + hardswish, pointwise + batchnorm, add a
 *            -> (8, 12, 12); exit: global_avgpool, linear
 *   stage 2: conv2d kernel [3, 2] stride [2, 1] padding 1 dilation [1, 2]
 *            [save c] + standalone batchnorm + silu, maxpool 2, grouped
 *            conv2d (3 groups, dilation 2, padding 2) + relu, avgpool 3
 *            (stride 1, padding 1, count_include_pad false) -> (12, 3, 6);
 *            exit: flatten, linear, gelu, batchnorm (vector), layernorm,
 *            linear
 *   stage 3: patch_embed (3 x 3 patches, C = 12) + pos_embed [save tok],
 *            layernorm, linear qkv, attention (2 heads), linear proj (no
 *            bias), add tok -> (2, 8); exit: layernorm, token_mean, linear
 * so it holds every op of the set, residuals, depthwise, pointwise and
 * grouped convolutions, folded and standalone batch norms. */
#ifndef SPLITEE_TINY_MODELS_H
#define SPLITEE_TINY_MODELS_H

#include <stddef.h>

typedef struct tm_tensor {
    char name[64];
    int ndim;
    size_t shape[4];
    size_t count;
    float *data;
} tm_tensor;

typedef struct tm_model {
    char *json;       /* model.json text, malloc'd */
    tm_tensor *t;     /* (n) the weights, in file order */
    size_t n;
} tm_model;

/* The tiny CNN with weights drawn from `seed`. */
void tm_cnn(tm_model *m, unsigned seed);

/* The CLI's test fixture tests/fixtures/cnn28 (its weights from seed
 * 28): input (1, 28, 28) (the shipped IDX images fit it), 10 classes,
 * three stages and an exit (global_avgpool, linear) after each:
 *   stage 1: conv2d 3x3 stride 2 padding 1 (no bias) + batchnorm + relu
 *            -> (6, 14, 14)
 *   stage 2: depthwise 3x3 + relu6, pointwise to 8, maxpool 2 -> (8, 7, 7)
 *   stage 3: conv2d 3x3 stride 2 padding 1 + relu [save r], conv2d 3x3
 *            padding 1, add r -> (8, 4, 4)
 * so its payload shrinks from 1176 floats to 392 to 128. */
void tm_cnn28(tm_model *m);

/* The tensor called `name`, or NULL. */
tm_tensor *tm_find(const tm_model *m, const char *name);

/* The safetensors file of m's weights (header padded to 8 bytes), leaving
 * out tensor `skip` (NULL: none); malloc'd, *len its size. */
unsigned char *tm_safetensors(const tm_model *m, const char *skip, size_t *len);

/* A fresh folder tu_path(name) with model.json (`json`, or m->json when
 * NULL) and model.safetensors (m's weights); returns its path (static
 * rotating buffer). */
const char *tm_write(const char *name, const char *json, const tm_model *m);

void tm_free(tm_model *m);

#endif
