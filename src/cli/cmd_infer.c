/* cmd_infer.c -- placeholder */
#include "cli.h"
int cli_infer(int argc, char **argv) { (void)argc; (void)argv; return 2; }
