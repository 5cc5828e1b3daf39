/* cli.h -- subcommands of the `splitee` executable, one file each
 * (cmd_NAME.c), dispatched from main.c's command table. Each parses its
 * options through the one parser (opt.h) and the shared option groups
 * (groups.h), calls the library and prints. Each returns the process exit
 * status, as cli_fail picks it: 0 success; 1 out of memory; 2 anything
 * else that went wrong (bad usage, bad input, an output that cannot be
 * written, a peer that misbehaves), after its one-line message. */
#ifndef SPLITEE_CLI_H
#define SPLITEE_CLI_H

#include "splitee/splitee.h"

int cli_replay(int argc, char **argv);   /* cmd_replay.c */
int cli_plot(int argc, char **argv);     /* cmd_plot.c */
int cli_logits(int argc, char **argv);   /* cmd_logits.c */
int cli_infer(int argc, char **argv);    /* cmd_infer.c */
int cli_profile(int argc, char **argv);  /* cmd_profile.c */
int cli_cloud(int argc, char **argv);    /* cmd_cloud.c */
int cli_device(int argc, char **argv);   /* cmd_device.c */
int cli_link(int argc, char **argv);     /* cmd_link.c */
int cli_calibrate(int argc, char **argv); /* cmd_calibrate.c */
int cli_search(int argc, char **argv);    /* cmd_search.c */

/* Prints "splitee: MESSAGE" on stderr (the message in err, or the status's
 * description) and returns the exit status: 1 for SPLITEE_ERR_NOMEM, 2 for
 * every other failure. */
int cli_fail(const splitee_error *err, int status);

/* A report written into memory (cmd_replay.c renders each output with one
 * before writing them all or none). */
typedef int (*cli_writer)(FILE *f, const void *ctx);

#endif
