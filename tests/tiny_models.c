/* tiny_models.c -- the tiny version 2 CNN of the tests (tiny_models.h). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"
#include "tiny_models.h"

static const char cnn_json[] =
    "{\n"
    "  \"format\": \"splitee-model\", \"version\": 2, \"name\": \"tiny-cnn\",\n"
    "  \"weights\": \"model.safetensors\", \"dtype\": \"F32\", \"classes\": 3,\n"
    "  \"metadata\": {\"written_by\": \"tests/tiny_models.c\"},\n"
    "  \"input\": {\"shape\": [2, 12, 12], \"mean\": 0.25, \"std\": 0.5},\n"
    "  \"stages\": [\n"
    "    {\"name\": \"block1\", \"ops\": [\n"
    "      {\"op\": \"conv2d\", \"param\": \"s0.c1\", \"out\": 8, \"kernel\": 3, \"padding\": 1, \"bias\": false},\n"
    "      {\"op\": \"batchnorm\", \"param\": \"s0.bn1\"},\n"
    "      {\"op\": \"relu6\", \"save\": \"a\"},\n"
    "      {\"op\": \"conv2d\", \"param\": \"s0.dw\", \"out\": 8, \"kernel\": 3, \"padding\": 1, \"groups\": 8},\n"
    "      {\"op\": \"batchnorm\", \"param\": \"s0.bn2\", \"eps\": 0.001},\n"
    "      {\"op\": \"hardswish\"},\n"
    "      {\"op\": \"conv2d\", \"param\": \"s0.pw\", \"out\": 8, \"kernel\": 1},\n"
    "      {\"op\": \"batchnorm\", \"param\": \"s0.bn3\"},\n"
    "      {\"op\": \"add\", \"from\": \"a\"}],\n"
    "     \"exit\": [\n"
    "      {\"op\": \"global_avgpool\"},\n"
    "      {\"op\": \"linear\", \"param\": \"e0.fc\", \"out\": 3}]},\n"
    "    {\"name\": \"block2\", \"ops\": [\n"
    "      {\"op\": \"conv2d\", \"param\": \"s1.c2\", \"out\": 12, \"kernel\": [3, 2], \"stride\": [2, 1],\n"
    "       \"padding\": 1, \"dilation\": [1, 2], \"save\": \"c\"},\n"
    "      {\"op\": \"batchnorm\", \"param\": \"s1.bn4\"},\n"
    "      {\"op\": \"silu\"},\n"
    "      {\"op\": \"maxpool\", \"kernel\": 2},\n"
    "      {\"op\": \"conv2d\", \"param\": \"s1.gc\", \"out\": 12, \"kernel\": 3, \"padding\": 2,\n"
    "       \"dilation\": 2, \"groups\": 3},\n"
    "      {\"op\": \"relu\"},\n"
    "      {\"op\": \"avgpool\", \"kernel\": 3, \"stride\": 1, \"padding\": 1, \"count_include_pad\": false}],\n"
    "     \"exit\": [\n"
    "      {\"op\": \"flatten\"},\n"
    "      {\"op\": \"linear\", \"param\": \"e1.fc1\", \"out\": 16},\n"
    "      {\"op\": \"gelu\"},\n"
    "      {\"op\": \"batchnorm\", \"param\": \"e1.bn\"},\n"
    "      {\"op\": \"layernorm\", \"param\": \"e1.ln\", \"eps\": 1e-6},\n"
    "      {\"op\": \"linear\", \"param\": \"e1.fc2\", \"out\": 3}]},\n"
    "    {\"name\": \"tokens\", \"ops\": [\n"
    "      {\"op\": \"patch_embed\", \"param\": \"s2.patch\", \"patch\": 3, \"dim\": 8},\n"
    "      {\"op\": \"pos_embed\", \"param\": \"s2.pos\", \"save\": \"tok\"},\n"
    "      {\"op\": \"layernorm\", \"param\": \"s2.ln\"},\n"
    "      {\"op\": \"linear\", \"param\": \"s2.qkv\", \"out\": 24},\n"
    "      {\"op\": \"attention\", \"heads\": 2},\n"
    "      {\"op\": \"linear\", \"param\": \"s2.proj\", \"out\": 8, \"bias\": false},\n"
    "      {\"op\": \"add\", \"from\": \"tok\"}],\n"
    "     \"exit\": [\n"
    "      {\"op\": \"layernorm\", \"param\": \"e2.ln\"},\n"
    "      {\"op\": \"token_mean\"},\n"
    "      {\"op\": \"linear\", \"param\": \"e2.fc\", \"out\": 3}]}\n"
    "  ]\n"
    "}\n";

/* The CLI fixture (tests/fixtures/cnn28): a (1, 28, 28) input, so the
 * shipped IDX images feed it, and feature maps that shrink with depth. */
static const char cnn28_json[] =
    "{\n"
    "  \"format\": \"splitee-model\", \"version\": 2, \"name\": \"cnn28\",\n"
    "  \"weights\": \"model.safetensors\", \"dtype\": \"F32\", \"classes\": 10,\n"
    "  \"metadata\": {\"written_by\": \"tests/tiny_models.c (tm_cnn28, seed 28)\"},\n"
    "  \"input\": {\"shape\": [1, 28, 28], \"mean\": 0.286, \"std\": 0.353},\n"
    "  \"stages\": [\n"
    "    {\"name\": \"stem\", \"ops\": [\n"
    "      {\"op\": \"conv2d\", \"param\": \"s0.c\", \"out\": 6, \"kernel\": 3, \"stride\": 2, \"padding\": 1, \"bias\": false},\n"
    "      {\"op\": \"batchnorm\", \"param\": \"s0.bn\"},\n"
    "      {\"op\": \"relu\"}],\n"
    "     \"exit\": [{\"op\": \"global_avgpool\"}, {\"op\": \"linear\", \"param\": \"e0.fc\", \"out\": 10}]},\n"
    "    {\"name\": \"separable\", \"ops\": [\n"
    "      {\"op\": \"conv2d\", \"param\": \"s1.dw\", \"out\": 6, \"kernel\": 3, \"padding\": 1, \"groups\": 6},\n"
    "      {\"op\": \"relu6\"},\n"
    "      {\"op\": \"conv2d\", \"param\": \"s1.pw\", \"out\": 8, \"kernel\": 1},\n"
    "      {\"op\": \"maxpool\", \"kernel\": 2}],\n"
    "     \"exit\": [{\"op\": \"global_avgpool\"}, {\"op\": \"linear\", \"param\": \"e1.fc\", \"out\": 10}]},\n"
    "    {\"name\": \"residual\", \"ops\": [\n"
    "      {\"op\": \"conv2d\", \"param\": \"s2.c\", \"out\": 8, \"kernel\": 3, \"stride\": 2, \"padding\": 1},\n"
    "      {\"op\": \"relu\", \"save\": \"r\"},\n"
    "      {\"op\": \"conv2d\", \"param\": \"s2.c2\", \"out\": 8, \"kernel\": 3, \"padding\": 1},\n"
    "      {\"op\": \"add\", \"from\": \"r\"}],\n"
    "     \"exit\": [{\"op\": \"global_avgpool\"}, {\"op\": \"linear\", \"param\": \"e2.fc\", \"out\": 10}]}\n"
    "  ]\n"
    "}\n";

/* The weights: name, shape, kind (0 weight scaled by fan-in, 1 bias, 2
 * norm gain, 3 batch-norm variance). */
typedef struct tm_spec {
    const char *name;
    int ndim;
    size_t shape[4];
    int kind;
} tm_spec;

static const tm_spec cnn_tensors[] = {
    { "s0.c1.weight", 4, { 8, 2, 3, 3 }, 0 },
    { "s0.bn1.weight", 1, { 8 }, 2 }, { "s0.bn1.bias", 1, { 8 }, 1 },
    { "s0.bn1.running_mean", 1, { 8 }, 1 }, { "s0.bn1.running_var", 1, { 8 }, 3 },
    { "s0.dw.weight", 4, { 8, 1, 3, 3 }, 0 }, { "s0.dw.bias", 1, { 8 }, 1 },
    { "s0.bn2.weight", 1, { 8 }, 2 }, { "s0.bn2.bias", 1, { 8 }, 1 },
    { "s0.bn2.running_mean", 1, { 8 }, 1 }, { "s0.bn2.running_var", 1, { 8 }, 3 },
    { "s0.pw.weight", 4, { 8, 8, 1, 1 }, 0 }, { "s0.pw.bias", 1, { 8 }, 1 },
    { "s0.bn3.weight", 1, { 8 }, 2 }, { "s0.bn3.bias", 1, { 8 }, 1 },
    { "s0.bn3.running_mean", 1, { 8 }, 1 }, { "s0.bn3.running_var", 1, { 8 }, 3 },
    { "e0.fc.weight", 2, { 3, 8 }, 0 }, { "e0.fc.bias", 1, { 3 }, 1 },
    { "s1.c2.weight", 4, { 12, 8, 3, 2 }, 0 }, { "s1.c2.bias", 1, { 12 }, 1 },
    { "s1.bn4.weight", 1, { 12 }, 2 }, { "s1.bn4.bias", 1, { 12 }, 1 },
    { "s1.bn4.running_mean", 1, { 12 }, 1 }, { "s1.bn4.running_var", 1, { 12 }, 3 },
    { "s1.gc.weight", 4, { 12, 4, 3, 3 }, 0 }, { "s1.gc.bias", 1, { 12 }, 1 },
    { "e1.fc1.weight", 2, { 16, 216 }, 0 }, { "e1.fc1.bias", 1, { 16 }, 1 },
    { "e1.bn.weight", 1, { 16 }, 2 }, { "e1.bn.bias", 1, { 16 }, 1 },
    { "e1.bn.running_mean", 1, { 16 }, 1 }, { "e1.bn.running_var", 1, { 16 }, 3 },
    { "e1.ln.weight", 1, { 16 }, 2 }, { "e1.ln.bias", 1, { 16 }, 1 },
    { "e1.fc2.weight", 2, { 3, 16 }, 0 }, { "e1.fc2.bias", 1, { 3 }, 1 },
    { "s2.patch.weight", 2, { 8, 108 }, 0 }, { "s2.patch.bias", 1, { 8 }, 1 },
    { "s2.pos", 2, { 2, 8 }, 1 },
    { "s2.ln.weight", 1, { 8 }, 2 }, { "s2.ln.bias", 1, { 8 }, 1 },
    { "s2.qkv.weight", 2, { 24, 8 }, 0 }, { "s2.qkv.bias", 1, { 24 }, 1 },
    { "s2.proj.weight", 2, { 8, 8 }, 0 },
    { "e2.ln.weight", 1, { 8 }, 2 }, { "e2.ln.bias", 1, { 8 }, 1 },
    { "e2.fc.weight", 2, { 3, 8 }, 0 }, { "e2.fc.bias", 1, { 3 }, 1 },
};

static const tm_spec cnn28_tensors[] = {
    { "s0.c.weight", 4, { 6, 1, 3, 3 }, 0 },
    { "s0.bn.weight", 1, { 6 }, 2 }, { "s0.bn.bias", 1, { 6 }, 1 },
    { "s0.bn.running_mean", 1, { 6 }, 1 }, { "s0.bn.running_var", 1, { 6 }, 3 },
    { "e0.fc.weight", 2, { 10, 6 }, 0 }, { "e0.fc.bias", 1, { 10 }, 1 },
    { "s1.dw.weight", 4, { 6, 1, 3, 3 }, 0 }, { "s1.dw.bias", 1, { 6 }, 1 },
    { "s1.pw.weight", 4, { 8, 6, 1, 1 }, 0 }, { "s1.pw.bias", 1, { 8 }, 1 },
    { "e1.fc.weight", 2, { 10, 8 }, 0 }, { "e1.fc.bias", 1, { 10 }, 1 },
    { "s2.c.weight", 4, { 8, 8, 3, 3 }, 0 }, { "s2.c.bias", 1, { 8 }, 1 },
    { "s2.c2.weight", 4, { 8, 8, 3, 3 }, 0 }, { "s2.c2.bias", 1, { 8 }, 1 },
    { "e2.fc.weight", 2, { 10, 8 }, 0 }, { "e2.fc.bias", 1, { 10 }, 1 },
};

/* xorshift32 uniform in [-1, 1). */
static double draw(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return (double)*s / 2147483648.0 - 1.0;
}

static void build(tm_model *m, const char *json, const tm_spec *specs, size_t n, unsigned seed)
{
    m->json = strdup(json);
    m->t = calloc(n, sizeof *m->t);
    m->n = n;
    uint32_t s = 0x9E3779B9u ^ (seed * 2654435761u);
    for (size_t i = 0; i < n; i++) {
        tm_tensor *t = &m->t[i];
        snprintf(t->name, sizeof t->name, "%s", specs[i].name);
        t->ndim = specs[i].ndim;
        t->count = 1;
        for (int d = 0; d < t->ndim; d++) {
            t->shape[d] = specs[i].shape[d];
            t->count *= t->shape[d];
        }
        t->data = malloc(t->count * sizeof *t->data);
        size_t fan_in = t->ndim > 1 ? t->count / t->shape[0] : 1;
        for (size_t j = 0; j < t->count; j++) {
            double u = draw(&s);
            switch (specs[i].kind) {
            case 0: t->data[j] = (float)(u * 1.7 / sqrt((double)fan_in)); break;
            case 1: t->data[j] = (float)(0.2 * u); break;
            case 2: t->data[j] = (float)(1.0 + 0.4 * u); break;
            default: t->data[j] = (float)(1.0 + 0.5 * u); break;
            }
        }
    }
}

void tm_cnn(tm_model *m, unsigned seed)
{
    build(m, cnn_json, cnn_tensors, sizeof cnn_tensors / sizeof cnn_tensors[0], seed);
}

void tm_cnn28(tm_model *m)
{
    build(m, cnn28_json, cnn28_tensors, sizeof cnn28_tensors / sizeof cnn28_tensors[0], 28);
}

tm_tensor *tm_find(const tm_model *m, const char *name)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->t[i].name, name) == 0)
            return &m->t[i];
    return NULL;
}

unsigned char *tm_safetensors(const tm_model *m, const char *skip, size_t *len)
{
    size_t cap = 256 + m->n * 200, hl = 0, data = 0;
    char *h = malloc(cap);
    hl += (size_t)snprintf(h + hl, cap - hl, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (size_t i = 0; i < m->n; i++) {
        const tm_tensor *t = &m->t[i];
        if (skip && strcmp(skip, t->name) == 0)
            continue;
        hl += (size_t)snprintf(h + hl, cap - hl, ",\"%s\":{\"dtype\":\"F32\",\"shape\":[", t->name);
        for (int d = 0; d < t->ndim; d++)
            hl += (size_t)snprintf(h + hl, cap - hl, d ? ",%zu" : "%zu", t->shape[d]);
        hl += (size_t)snprintf(h + hl, cap - hl, "],\"data_offsets\":[%zu,%zu]}", data,
                               data + t->count * 4);
        data += t->count * 4;
    }
    hl += (size_t)snprintf(h + hl, cap - hl, "}");
    while (hl % 8)
        h[hl++] = ' ';
    *len = 8 + hl + data;
    unsigned char *b = malloc(*len);
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(b + 8, h, hl);
    size_t at = 8 + hl;
    for (size_t i = 0; i < m->n; i++) {
        const tm_tensor *t = &m->t[i];
        if (skip && strcmp(skip, t->name) == 0)
            continue;
        memcpy(b + at, t->data, t->count * 4);   /* little-endian hosts (the loader checks) */
        at += t->count * 4;
    }
    free(h);
    return b;
}

const char *tm_write(const char *name, const char *json, const tm_model *m)
{
    static char dirs[8][1024];
    static int next;
    char *d = dirs[next++ & 7];
    snprintf(d, sizeof dirs[0], "%s", tu_path(name));
    if (mkdir(d, 0700) != 0) {
        perror(d);
        abort();
    }
    char rel[1100];
    snprintf(rel, sizeof rel, "%s/model.json", name);
    tu_write_str(rel, json ? json : m->json);
    size_t len;
    unsigned char *st = tm_safetensors(m, NULL, &len);
    snprintf(rel, sizeof rel, "%s/model.safetensors", name);
    tu_write(rel, st, len);
    free(st);
    return d;
}

void tm_free(tm_model *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->t[i].data);
    free(m->t);
    free(m->json);
    memset(m, 0, sizeof *m);
}
