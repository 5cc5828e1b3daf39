/* cmd_link.c -- `splitee link`: prices an offload after every split layer
 * of a model on a link profile at a given time, and prints the per-layer
 * table (payload bytes, latency, radio energy, offloading cost o). With a
 * lossy profile the figures are means over --draws keyed draws (the same
 * draws the replay uses for round keys 0..draws-1). docs/LINKS.md. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/internal.h"

typedef struct link_opts {
    const char *model, *link;
    splitee_payload_encoding enc;
    double at;             /* seconds */
    int raw;               /* also price the raw-input offload */
    unsigned long long seed;
    long draws;
} link_opts;

static void link_usage(FILE *f)
{
    fputs("usage: splitee link --link PROFILE [options]\n\n"
          "Prices offloading after each split layer on a link profile (data/links/*.json)\n"
          "and prints payload bytes, latency (ms), device radio energy (mJ) and the\n"
          "offloading cost o = w_ms*latency + w_mJ*energy used in the reward.\n\n"
          "options:\n"
          "  --link PROFILE        link profile JSON (required)\n"
          "  --model DIR           model folder for layers, tokens and dim [data/model]\n"
          "  --encoding E          payload encoding: f32, f16, int8 [f32]\n"
          "  --at SECONDS          time on the link's clock (trace offset) [0]\n"
          "  --raw-input           add layer 0: offload the raw 28x28 input instead\n"
          "  --seed N              key of the loss and jitter draws [1]\n"
          "  --draws N             draws averaged on a lossy or jittery link [1000]\n"
          "  --help                this text\n", f);
}

static int parse_num(const char *opt, const char *v, double lo, double *out, splitee_error *err)
{
    double x;
    if (!v || cli_parse_double(v, &x) < 0 || x < lo)
        return splitee__fail(err, SPLITEE_ERR_ARG, "%s: expected a number >= %g (got '%s')", opt, lo,
                             v ? v : "");
    *out = x;
    return 0;
}

static int parse_args(link_opts *o, int argc, char **argv, splitee_error *err)
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        double x = 0;
        int st;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            link_usage(stdout);
            return 1;
        } else if (strcmp(a, "--raw-input") == 0) {
            o->raw = 1;
            continue;
        }
        if (!v)
            return splitee__fail(err, SPLITEE_ERR_ARG, "%s: %s", a,
                                 strncmp(a, "--", 2) == 0 ? "needs a value" : "unexpected argument");
        if (strcmp(a, "--link") == 0) {
            o->link = v;
        } else if (strcmp(a, "--model") == 0) {
            o->model = v;
        } else if (strcmp(a, "--encoding") == 0) {
            if ((st = splitee_payload_encoding_parse(v, &o->enc, err)) < 0)
                return st;
        } else if (strcmp(a, "--at") == 0) {
            if ((st = parse_num(a, v, 0, &o->at, err)) < 0)
                return st;
        } else if (strcmp(a, "--seed") == 0) {
            if ((st = parse_num(a, v, 0, &x, err)) < 0)
                return st;
            o->seed = (unsigned long long)x;
        } else if (strcmp(a, "--draws") == 0) {
            if ((st = parse_num(a, v, 1, &x, err)) < 0)
                return st;
            if (x > 1e7)
                return splitee__fail(err, SPLITEE_ERR_ARG, "--draws: at most 10000000");
            o->draws = (long)x;
        } else {
            return splitee__fail(err, SPLITEE_ERR_ARG, "unknown option '%s' (see splitee link --help)", a);
        }
        i++;
    }
    if (!o->link)
        return splitee__fail(err, SPLITEE_ERR_ARG, "--link PROFILE is required (see splitee link --help)");
    return 0;
}

/* Mean of `draws` keyed prices of `bytes` at `at`. */
static void mean_price(const splitee_link *lk, size_t bytes, const link_opts *o, long draws,
                       splitee_transfer *m)
{
    memset(m, 0, sizeof *m);
    long double lat = 0, en = 0, cost = 0;
    for (long k = 0; k < draws; k++) {
        splitee_transfer tr;
        uint64_t key = (uint64_t)o->seed * 0x9e3779b97f4a7c15ULL + (uint64_t)k;
        splitee_link_price(lk, bytes, o->at, key, &tr);
        lat += tr.latency_ms;
        en += tr.energy_mJ;
        cost += tr.cost;
        if (k == 0)
            *m = tr;
    }
    m->latency_ms = (double)(lat / draws);
    m->energy_mJ = (double)(en / draws);
    m->cost = (double)(cost / draws);
}

static void print_row(const char *label, size_t bytes, const splitee_transfer *t)
{
    printf("%-6s %8zu %7zu %10.2f %11.2f %10.1f %8.4f\n", label, bytes, t->packets,
           t->latency_ms, t->energy_mJ, t->tail_mJ, t->cost);
}

int cli_link(int argc, char **argv)
{
    link_opts o = { "data/model", NULL, SPLITEE_PAYLOAD_ENCODING_F32, 0.0, 0, 1, 1000 };
    splitee_error err = { 0, "" };
    splitee_model *m = NULL;
    splitee_link *lk = NULL;
    int st = parse_args(&o, argc, argv, &err);
    if (st == 1)
        return 0;
    if (st < 0)
        return cli_fail(&err, st);
    if ((st = splitee_link_load(o.link, &lk, &err)) < 0 ||
        (st = splitee_model_load(o.model, &m, &err)) < 0) {
        splitee_link_free(lk);
        return cli_fail(&err, st);
    }
    const splitee_model_config *c = splitee_model_get_config(m);
    const splitee_link_params *p = splitee_link_get_params(lk);
    static const char *radios[] = { "none", "lte", "3g", "wifi" };
    static const char *losses[] = { "none", "random", "gilbert-elliott" };
    int random = p->loss != SPLITEE_LOSS_MODEL_NONE || p->jitter_ms > 0;
    long draws = random ? o.draws : 1;
    printf("link %s: %s\n", p->name, p->source[0] ? p->source : "(no source given)");
    printf("at t = %.3f s: uplink %.3f Mbit/s, downlink %.3f Mbit/s, RTT %.1f +- %.1f ms, "
           "loss %s, radio %s\n", o.at, splitee_link_uplink_at(lk, o.at), p->downlink_mbps,
           p->rtt_ms, p->jitter_ms, losses[p->loss], radios[p->radio.model]);
    printf("model %s: %d layers, %d tokens x %d dim, %s payloads + %.0f-byte frame header\n",
           o.model, c->layers, c->tokens, c->dim, splitee_payload_encoding_name(o.enc),
           p->frame_header_bytes);
    printf("o = %g/ms * latency + %g/mJ * energy; isolated transfers (promotion and whole "
           "tail charged)\n", p->w_ms, p->w_mJ);
    if (random)
        printf("figures are means over %ld draws (seed %llu)\n", draws, o.seed);
    printf("%-6s %8s %7s %10s %11s %10s %8s\n", "layer", "bytes", "packets", "latency_ms",
           "energy_mJ", "tail_mJ", "o");
    splitee_transfer t;
    if (o.raw) {
        size_t vals = (size_t)c->image_size * (size_t)c->image_size * (size_t)c->channels;
        size_t b = splitee_link_raw_bytes(lk, o.enc, vals);
        mean_price(lk, b, &o, draws, &t);
        print_row("raw", b, &t);
    }
    for (int l = 1; l < c->layers; l++) {
        size_t b = splitee_link_payload_bytes(lk, o.enc, (size_t)c->tokens, (size_t)c->dim);
        char label[16];
        snprintf(label, sizeof label, "%d", l);
        mean_price(lk, b, &o, draws, &t);
        print_row(label, b, &t);
    }
    printf("%-6d (the last layer never offloads)\n", c->layers);
    splitee_model_free(m);
    splitee_link_free(lk);
    return 0;
}
