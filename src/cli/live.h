/* live.h -- pieces `splitee cloud` and `splitee device` share: HOST:PORT
 * parsing, number parsing, time-stamped log lines on stderr. */
#ifndef SPLITEE_CLI_LIVE_H
#define SPLITEE_CLI_LIVE_H

#include "splitee/splitee.h"


/* Splits "host:port" or "[v6]:port" into host (cap bytes) and *port
 * (0..65535; 0 only if allow_zero). ARG naming `opt` otherwise. */
int cli_parse_hostport(const char *s, char *host, size_t cap, int *port, int allow_zero,
                       const char *opt, splitee_error *err);


/* Writes "YYYY-mm-ddTHH:MM:SSZ splitee WHO: LINE" on stderr in one write. */
void cli_live_log(const char *who, const char *line);

#endif
