/* tools/cli.h — the `strata` command line's subcommands (one file each) and shared helpers. */
#ifndef STRATA_CLI_H
#define STRATA_CLI_H

#include <stdio.h>

#include "serialize/serialize.h"

int cmd_inspect(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_conformance(int argc, char **argv);
int cmd_compile(int argc, char **argv);

/* Prints "strata CMD: <status name>: <last error>" to stderr and returns 1. */
int cli_fail(const char *cmd, strata_status st);

#endif
