/*
 * esmeload: a load tester for the ESME messenger, and its reference
 * backend. This file only picks the subcommand.
 */
#include <stdio.h>
#include <string.h>

#include "report/report.h"
#include "run/run.h"
#include "serve/serve.h"

static const char usage[] =
"usage: esmeload [run] [flags]     the load scenario (the default command)\n"
"       esmeload serve [options]   the reference ESME backend\n"
"       esmeload report [-o FILE] RUN...  one HTML page of runs' results\n"
"       esmeload compare [--json] A B     two runs' key figures side by side\n"
"\n"
"esmeload takes the flags of ESME's Go performance test (-sci, -cpi, -smi,\n"
"-logWs) and reads ./config.json like it does; with no config.json it starts\n"
"its own serve on loopback and runs a short scenario against it.\n"
"\n"
"esmeload COMMAND --help describes each command.\n";

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "serve"))
		return serve_main(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "run"))
		return run_main(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "report"))
		return report_main(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "compare"))
		return compare_main(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "help")) {
		fputs(usage, stdout);
		return 0;
	}
	if (argc >= 2 && argv[1][0] != '-') {
		fputs(usage, stderr);
		fprintf(stderr, "esmeload: unknown command %s\n", argv[1]);
		return 2;
	}
	/* Flags only, or nothing: the Go tool's command line. */
	return run_main(argc - 1, argv + 1);
}
