/* cli.h -- subcommands of the `splitee` executable. Each returns the
 * process exit status: 0 success, 2 bad usage or bad input (the one-line
 * message is already printed), 1 any other failure. Each parses its
 * options through the one parser (opt.h) and the shared option groups
 * (groups.h), calls the library and prints. */
#ifndef SPLITEE_CLI_H
#define SPLITEE_CLI_H

#include "splitee/splitee.h"

int cli_replay(int argc, char **argv);
int cli_plot(int argc, char **argv);
int cli_logits(int argc, char **argv);   /* cmd_logits.c */
int cli_infer(int argc, char **argv);    /* cmd_infer.c */
int cli_profile(int argc, char **argv);  /* cmd_profile.c */
int cli_link(int argc, char **argv);

/* Prints "splitee: MESSAGE" on stderr and returns the exit status for
 * `status` (2 for input problems, 1 otherwise). */
int cli_fail(const splitee_error *err, int status);

/* Writes what `writer` prints to `path` atomically (nothing on failure). */
typedef int (*cli_writer)(FILE *f, const void *ctx);
int cli_write_report(const char *path, cli_writer writer, const void *ctx,
                     splitee_error *err);

#endif
