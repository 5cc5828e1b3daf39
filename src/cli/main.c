/* main.c -- the `splitee` executable: dispatches to a subcommand. The CLI is
 * thin: it parses options into config structs (opt.h, groups.h), calls the
 * library, prints one-line errors and picks the exit status. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "groups.h"
#include "live.h"

int cli_fail(const splitee_error *err, int status)
{
    cli_meter_break();
    fprintf(stderr, "splitee: %s\n", err && err->msg[0] ? err->msg : splitee_strerror(status));
    switch (status) {
    case SPLITEE_ERR_NOMEM:
        return 1;
    default:
        return 2;
    }
}

static const struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *about;
} COMMANDS[] = {
    { "replay", cli_replay, "benchmark split-layer policies on a precomputed exit-logit table" },
    { "plot", cli_plot, "draw figures from the CSV files replay writes" },
    { "logits", cli_logits, "run images through the C inference engine: the exit-logit table" },
    { "infer", cli_infer, "run images with a fixed split: exit on the device or offload a payload" },
    { "profile", cli_profile, "measure per-layer latency: a device profile for replay --layer-cost" },
    { "cloud", cli_cloud, "serve devices: finish offloaded samples (live split computing)" },
    { "device", cli_device, "learn the split layer live against a cloud" },
    { "link", cli_link, "price offloading per split layer on a link profile" },
    { "calibrate", cli_calibrate, "pick the exit threshold so the risk of exiting early stays within epsilon" },
    { "search", cli_search, "choose which exits to keep and their thresholds under a compute budget" },
};

static void usage(FILE *f)
{
    fputs("usage: splitee COMMAND [options]\n\ncommands:\n", f);
    for (size_t i = 0; i < sizeof COMMANDS / sizeof *COMMANDS; i++)
        fprintf(f, "  %-9s %s\n", COMMANDS[i].name, COMMANDS[i].about);
    fputs("  version   print the version\n\n"
          "`splitee COMMAND --help` describes each command's options; every command\n"
          "also reads them from a JSON object with --config FILE.\n", f);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    for (size_t i = 0; i < sizeof COMMANDS / sizeof *COMMANDS; i++)
        if (strcmp(cmd, COMMANDS[i].name) == 0) {
            int rc = COMMANDS[i].run(argc - 2, argv + 2);
            cli_catalog_free();
            return rc;
        }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("splitee %s\n", SPLITEE_VERSION);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "splitee: unknown command '%s' (see splitee help)\n", cmd);
    return 2;
}
