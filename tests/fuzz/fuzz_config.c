/* fuzz_config.c -- libFuzzer target: the CLI's option files. The option
 * parser (src/cli/opt.c: cli_parse, --config FILE, a JSON object of
 * options) through the shared option groups of `splitee replay` and
 * `splitee device` (src/cli/groups.c: table, exit rule, reward, policy,
 * threads, link, output, progress; model, input, tls), and the files those
 * options read: --alpha-from (a `splitee calibrate --json`), --theta-from
 * (a `calibrate --form temporal --json`), --alphas / --layer-cost /
 * --offload-cost and `splitee search --macs` / --head-macs
 * (cli_parse_vector: a JSON array, an object with "layer_cost", or one
 * number per line). Nothing runs a command: the target composes the
 * commands' shared groups into command tables of its own (the commands'
 * own small groups -- --reps, --csv, ... -- are plain typed fields) and
 * stops after parsing, as each command does before it loads anything.
 *
 * Input: byte 0 picks the mode (mod 6), the rest is
 *   0 replay, 1 device: 2-byte little-endian length n, n bytes of the
 *     --config JSON, the rest the file `input1`, which the config may name
 *     (the target runs in its scratch folder, so "input1" is that file);
 *   2 the file of {"alpha-from": "input1"} (replay's options),
 *   3 the file of {"rule": "difference", "theta-from": "input1"},
 *   4 the file of cli_parse_vector directly (--layer-cost, --macs),
 *   5 the file of {"rule": "per-exit", "alphas": "input1"}.
 * A refusal must be one line with a status equal to err.status (and name
 * the file in mode 4); parsed options must be in their documented ranges;
 * cli_free must free everything (LeakSanitizer). */
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzzutil.h"
#include "groups.h"

typedef struct replay_like {
    cli_table tab;
    cli_exit ex;
    cli_reward rw;
    cli_policy pol;
    cli_threads thr;
    cli_link_opts lk;
    cli_output out;
    cli_progress prog;
    int reps;
    char *csv;
} replay_like;

typedef struct device_like {
    cli_model mo;
    cli_input in;
    cli_tls tls;
    cli_exit ex;
    cli_reward rw;
    cli_policy pol;
    cli_link_opts lk;
    cli_output out;
    cli_progress prog;
    char *state;
    long save_every;
} device_like;

/* A typed field and a string field of each command's own, so that the
 * plain kinds are in the table too. */
static const cli_opt R_REPS = { .name = "reps", .arg = "R", .kind = CLI_INT,
    .off = offsetof(replay_like, reps), .lo = 1, .hi = 1000000, .help = "r", .def = "20" };
static const cli_opt R_CSV = { .name = "csv", .arg = "FILE", .kind = CLI_STRING,
    .off = offsetof(replay_like, csv), .help = "c" };
static const cli_opt R_POLICIES = { .name = "policies", .arg = "LIST", .kind = CLI_ALIAS, .alias = "policy" };
static const cli_opt *const R_OPTS[] = { &R_REPS, &R_CSV, &R_POLICIES, NULL };
static const cli_group R_OWN = { .title = "replay", .opts = R_OPTS };

static const cli_opt D_STATE = { .name = "state", .arg = "FILE", .kind = CLI_STRING,
    .off = offsetof(device_like, state), .help = "s" };
static const cli_opt D_SAVE = { .name = "save-every", .arg = "N", .kind = CLI_LONG,
    .off = offsetof(device_like, save_every), .lo = 1, .hi = 1L << 30, .help = "n", .def = "100" };
static const cli_opt *const D_OPTS[] = { &D_STATE, &D_SAVE, NULL };
static const cli_group D_OWN = { .title = "output", .opts = D_OPTS };

static const cli_use R_GROUPS[] = {
    { &cli_group_table, offsetof(replay_like, tab) },
    { &cli_group_exit, offsetof(replay_like, ex) },
    { &cli_group_reward, offsetof(replay_like, rw) },
    { &cli_group_policy, offsetof(replay_like, pol) },
    { &R_OWN, 0 },
    { &cli_group_threads, offsetof(replay_like, thr) },
    { &cli_group_link, offsetof(replay_like, lk) },
    { &cli_group_output, offsetof(replay_like, out) },
    { &cli_group_progress, offsetof(replay_like, prog) },
    { NULL, 0 },
};
static const cli_default R_DEFAULTS[] = {
    { "policy", "splitee,splitee-s,final,random,oracle,ee-threshold,epsilon-greedy,thompson,kl-ucb,ucb-v", NULL },
    { NULL, NULL, NULL },
};
static const cli_command REPLAY = { .name = "replay", .synopsis = "fuzz", .about = "fuzz\n",
                                    .groups = R_GROUPS, .defaults = R_DEFAULTS };

static const cli_use D_GROUPS[] = {
    { &cli_group_model, offsetof(device_like, mo) },
    { &cli_group_input, offsetof(device_like, in) },
    { &cli_group_tls, offsetof(device_like, tls) },
    { &cli_group_exit, offsetof(device_like, ex) },
    { &cli_group_reward, offsetof(device_like, rw) },
    { &cli_group_policy, offsetof(device_like, pol) },
    { &cli_group_link, offsetof(device_like, lk) },
    { &cli_group_output, offsetof(device_like, out) },
    { &D_OWN, 0 },
    { &cli_group_progress, offsetof(device_like, prog) },
    { NULL, 0 },
};
static const cli_default D_DEFAULTS[] = {
    { "policy", "splitee", NULL },
    { NULL, NULL, NULL },
};
static const cli_command DEVICE = { .name = "device", .synopsis = "fuzz", .about = "fuzz\n",
                                    .groups = D_GROUPS, .defaults = D_DEFAULTS };

static void check_refusal(int rc, const splitee_error *err)
{
    if (rc < 0 && err->status == rc && err->msg[0] && !strchr(err->msg, '\n'))
        return;
    fprintf(stderr, "fuzz: bad refusal (rc %d, status %d): %s\n", rc, err->status, err->msg);
    abort();
}

static void check_vector(const double *v, int n, int lo_one)
{
    if (n < (lo_one ? 1 : 0) || n > SPLITEE_MAX_EXITS)
        abort();
    for (int i = 0; i < n; i++)
        if (!isfinite(v[i]))
            abort();
}

/* What exit_finish and the reward setters promise of parsed options. */
static void check_exit_reward(const cli_exit *e, const cli_reward *r)
{
    if (e->alpha.n < 1 || e->alpha.n > CLI_MAX_SWEEP || !splitee_exit_kind_info((splitee_exit_kind)e->rule))
        abort();
    check_vector(e->alphas, e->nalphas, 0);
    for (int i = 0; i < e->nalphas; i++)
        if (!(e->alphas[i] >= 0 && e->alphas[i] <= 1))
            abort();
    if (!(e->theta >= 0 && e->theta <= 2) || e->patience < 1 || e->patience > SPLITEE_MAX_EXITS)
        abort();
    if (e->alpha_from == 1 && (e->alpha.n != 1 || !(e->alpha.v[0] >= 0 && e->alpha.v[0] <= 1)))
        abort();
    check_vector(r->layer_cost, r->nlayer_cost, 0);
    check_vector(r->offload_cost, r->noffload_cost, 0);
}

static char *config_path;
static int home_fd = -1, scratch_fd = -1;   /* libFuzzer's folder, the scratch folder */

/* Parses `--config config_path` with cmd's tables into opts (zeroed). */
static int parse(const cli_command *cmd, void *opts, splitee_error *err)
{
    char flag[] = "--config";
    char *argv[] = { flag, config_path, NULL };
    /* relative names in the config resolve in the scratch folder (only
     * while parsing: libFuzzer's own paths are relative to its folder) */
    if (fchdir(scratch_fd) != 0)
        abort();
    int rc = cli_parse(cmd, opts, 2, argv, err);
    if (fchdir(home_fd) != 0)
        abort();
    if (rc == 1)
        abort();   /* no --help was given */
    if (rc < 0)
        check_refusal(rc, err);
    return rc;
}

static void run_replay(void)
{
    static replay_like o;
    memset(&o, 0, sizeof o);
    splitee_error err = { 0, "" };
    if (parse(&REPLAY, &o, &err) == 0) {
        check_exit_reward(&o.ex, &o.rw);
        if (o.pol.npolicies < 1 || o.pol.npolicies > CLI_MAX_POLICIES || o.reps < 1 || !o.tab.logits)
            abort();
    }
    cli_free(&REPLAY, &o);
}

static void run_device(void)
{
    static device_like o;
    memset(&o, 0, sizeof o);
    splitee_error err = { 0, "" };
    if (parse(&DEVICE, &o, &err) == 0) {
        check_exit_reward(&o.ex, &o.rw);
        if (!o.mo.dir || o.save_every < 1)
            abort();
        /* what splitee device does next with them, before loading anything */
        splitee_policy_config pc;
        splitee_reward_config rc;
        int st = cli_policy_one(&o.pol, "device", &pc, &err);
        if (st == 0)
            st = cli_reward_one(&o.ex, &o.rw, "device", &rc, &err);
        if (st == 0)
            st = cli_input_resolve(&o.in, &err);
        if (st < 0)
            check_refusal(st, &err);
        else if (!o.in.images)
            abort();
    }
    cli_free(&DEVICE, &o);
}

static void write_config(const char *json)
{
    config_path = (char *)fz_write(0, json, strlen(json));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        /* a config naming stdin reads nothing */
        char dir[300];
        snprintf(dir, sizeof dir, "%s", fz_write(0, "", 0));
        home_fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        scratch_fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (home_fd < 0 || scratch_fd < 0)
            abort();
        int fd = open("/dev/null", O_RDONLY);
        if (fd < 0 || dup2(fd, 0) < 0)
            abort();
        close(fd);
        ready = 1;
    }
    if (size < 1)
        return 0;
    int mode = data[0] % 6;
    data++;
    size--;
    if (mode <= 1) {
        if (size < 2)
            return 0;
        size_t n = fz_split(data, size);
        config_path = (char *)fz_write(0, data + 2, n);
        fz_write(1, data + 2 + n, size - 2 - n);
        if (mode == 0)
            run_replay();
        else
            run_device();
        return 0;
    }
    const char *file = fz_write(1, data, size);
    if (mode == 4) {
        double v[SPLITEE_MAX_EXITS];
        int n = -1;
        splitee_error err = { 0, "" };
        int rc = cli_parse_vector(file, v, SPLITEE_MAX_EXITS, &n, &err, "--layer-cost");
        if (rc < 0)
            fz_check_refusal(rc, &err, file);
        else
            check_vector(v, n, 1);
        return 0;
    }
    write_config(mode == 2 ? "{\"alpha-from\": \"input1\"}"
                 : mode == 3 ? "{\"rule\": \"difference\", \"theta-from\": \"input1\"}"
                             : "{\"rule\": \"per-exit\", \"alphas\": \"input1\"}");
    run_replay();
    return 0;
}
