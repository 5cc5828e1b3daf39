/* main.c -- the `splitee` executable: dispatches to a subcommand. The CLI is
 * thin: it parses options into config structs, calls the library, prints
 * one-line errors and picks the exit status. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "live.h"

int cli_fail(const splitee_error *err, int status)
{
    fprintf(stderr, "splitee: %s\n", err && err->msg[0] ? err->msg : splitee_strerror(status));
    switch (status) {
    case SPLITEE_ERR_NOMEM:
        return 1;
    default:
        return 2;
    }
}

static void usage(FILE *f)
{
    fputs("usage: splitee COMMAND [options]\n\n"
          "commands:\n"
          "  replay    benchmark split-layer policies on a precomputed exit-logit table\n"
          "  plot      draw figures from the CSV files replay writes\n"
          "  logits    run images through the C inference engine: the exit-logit table\n"
          "  infer     run images with a fixed split: exit on the device or offload a payload\n"
          "  profile   measure per-layer latency: a device profile for replay --layer-cost\n"
          "  cloud     serve devices: finish offloaded samples (live split computing)\n"
          "  device    learn the split layer live against a cloud\n"
          "  link      price offloading per split layer on a link profile\n"
          "  version   print the version\n\n"
          "`splitee COMMAND --help` describes each command's options.\n", f);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "replay") == 0)
        return cli_replay(argc - 2, argv + 2);
    if (strcmp(cmd, "plot") == 0)
        return cli_plot(argc - 2, argv + 2);
    if (strcmp(cmd, "logits") == 0)
        return cli_logits(argc - 2, argv + 2);
    if (strcmp(cmd, "infer") == 0)
        return cli_infer(argc - 2, argv + 2);
    if (strcmp(cmd, "profile") == 0)
        return cli_profile(argc - 2, argv + 2);
    if (strcmp(cmd, "cloud") == 0)
        return cli_cloud(argc - 2, argv + 2);
    if (strcmp(cmd, "device") == 0)
        return cli_device(argc - 2, argv + 2);
    if (strcmp(cmd, "link") == 0)
        return cli_link(argc - 2, argv + 2);
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
