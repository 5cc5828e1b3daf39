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
#include "groups.h"

typedef struct link_opts {
    cli_model mo;
    cli_link_opts lk;
    cli_progress prog;
    double at;             /* seconds */
    int raw;               /* also price the raw-input offload */
    uint64_t seed;
    long draws;
    /* after parsing */
    const char *model, *link;
    splitee_payload_encoding enc;
} link_opts;

static const cli_opt OPT_AT = { .name = "at", .arg = "SECONDS", .kind = CLI_DOUBLE,
    .off = offsetof(link_opts, at), .lo = 0, .hi = INFINITY,
    .help = "time on the link's clock (trace offset)", .def = "0" };
static const cli_opt OPT_RAW = { .name = "raw-input", .kind = CLI_SET, .ival = 1,
    .off = offsetof(link_opts, raw), .help = "add a first row, raw: offloading the raw input (split point 0)" };
static const cli_opt OPT_LINK_SEED = { .name = "seed", .arg = "S", .kind = CLI_U64,
    .off = offsetof(link_opts, seed), .help = "key of the loss and jitter draws", .def = "1" };
static const cli_opt OPT_DRAWS = { .name = "draws", .arg = "N", .kind = CLI_LONG,
    .off = offsetof(link_opts, draws), .lo = 1, .hi = 10000000,
    .help = "draws averaged on a lossy or jittery link", .def = "1000" };
static const cli_opt *const PRICE_OPTS[] = { &OPT_AT, &OPT_RAW, &OPT_LINK_SEED, &OPT_DRAWS, NULL };
static const cli_group PRICE = { .title = "pricing", .opts = PRICE_OPTS };

static const cli_use GROUPS[] = {
    { &cli_group_link, offsetof(link_opts, lk) },
    { &cli_group_model, offsetof(link_opts, mo) },
    { &PRICE, 0 },
    { &cli_group_progress, offsetof(link_opts, prog) },
    { NULL, 0 },
};

static const cli_command CMD = {
    .name = "link",
    .synopsis = "splitee link --link PROFILE [options]",
    .about = "Prices offloading after each split layer on a link profile (DATA/links/*.json)\n"
             "and prints payload bytes, latency (ms), device radio energy (mJ) and the\n"
             "offloading cost o = w_ms*latency + w_mJ*energy used in the reward.\n",
    .groups = GROUPS,
    .data_note = 1,
};

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

/* "16x64", "32x14x14": the activation at a split point. */
static void shape_text(const splitee_shape *sh, char *buf, size_t len)
{
    size_t o = 0;
    for (int i = 0; i < sh->rank && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%d", i ? "x" : "", sh->dims[i]);
}

/* Bytes on the wire of an offload at `split` (0: the raw input): the
 * model's activation there, as a payload in `enc`, + the frame header. */
static size_t split_bytes(const splitee_link *lk, const splitee_model *m, int split,
                          splitee_payload_encoding enc, char *shape, size_t len)
{
    splitee_shape sh;
    size_t rows, cols;
    if (splitee_model_split_shape(m, split, &sh) < 0)
        return 0;
    shape_text(&sh, shape, len);
    splitee_shape_payload_dims(&sh, &rows, &cols);
    return splitee_link_payload_bytes(lk, enc, rows, cols);
}

static void print_row(const char *label, const char *shape, size_t bytes, const splitee_transfer *t)
{
    printf("%-6s %-10s %8zu %7zu %10.2f %11.2f %10.1f %8.4f\n", label, shape, bytes, t->packets,
           t->latency_ms, t->energy_mJ, t->tail_mJ, t->cost);
}

int cli_link(int argc, char **argv)
{
    link_opts o;
    memset(&o, 0, sizeof o);
    splitee_error err = { 0, "" };
    splitee_model *m = NULL;
    splitee_link *lk = NULL;
    int st = cli_parse(&CMD, &o, argc, argv, &err);
    if (st == 0 && !o.lk.link)
        st = splitee__fail(&err, SPLITEE_ERR_ARG, "--link PROFILE is required (see splitee link --help)");
    o.model = o.mo.dir;
    o.link = o.lk.link;
    o.enc = (splitee_payload_encoding)o.lk.encoding;
    if (st == 0 && ((st = splitee_link_load(o.link, &lk, &err)) < 0 ||
                    (st = splitee_model_load(o.model, &m, &err)) < 0))
        splitee_link_free(lk);
    if (st != 0) {
        cli_free(&CMD, &o);
        return st == 1 ? 0 : cli_fail(&err, st);
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
    printf("model %s: %d layers, %s payloads of each split point's activation + %.0f-byte frame header\n",
           o.model, c->layers, splitee_payload_encoding_name(o.enc), p->frame_header_bytes);
    printf("o = %g/ms * latency + %g/mJ * energy; isolated transfers (promotion and whole "
           "tail charged)\n", p->w_ms, p->w_mJ);
    if (random)
        printf("figures are means over %ld draws (seed %llu)\n", draws, (unsigned long long)o.seed);
    printf("%-6s %-10s %8s %7s %10s %11s %10s %8s\n", "layer", "shape", "bytes", "packets", "latency_ms",
           "energy_mJ", "tail_mJ", "o");
    splitee_transfer t;
    char shape[64];
    for (int l = o.raw ? 0 : 1; l < c->layers; l++) {
        size_t b = split_bytes(lk, m, l, o.enc, shape, sizeof shape);
        char label[16];
        snprintf(label, sizeof label, l ? "%d" : "raw", l);
        mean_price(lk, b, &o, draws, &t);
        print_row(label, shape, b, &t);
    }
    printf("%-6d (the last layer never offloads)\n", c->layers);
    splitee_model_free(m);
    splitee_link_free(lk);
    cli_free(&CMD, &o);
    return 0;
}
