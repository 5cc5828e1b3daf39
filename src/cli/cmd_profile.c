/* cmd_profile.c -- placeholder */
#include "cli.h"
int cli_profile(int argc, char **argv) { (void)argc; (void)argv; return 2; }
