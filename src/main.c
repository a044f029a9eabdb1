/*
 * esmeload: a load tester for the ESME messenger, and its reference
 * backend. This file only picks the subcommand.
 */
#include <stdio.h>
#include <string.h>

#include "serve/serve.h"

static const char usage[] =
"usage: esmeload <command> [options]\n"
"\n"
"commands:\n"
"  serve     the reference ESME backend (organizer API, participant API and\n"
"            messenger) on loopback, in memory\n"
"\n"
"esmeload <command> --help describes each command.\n";

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "serve"))
		return serve_main(argc - 2, argv + 2);
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
			  !strcmp(argv[1], "help"))) {
		fputs(usage, stdout);
		return 0;
	}
	fputs(usage, stderr);
	if (argc >= 2)
		fprintf(stderr, "esmeload: unknown command %s\n", argv[1]);
	return 2;
}
