/*
 * esmeload: a load tester for the ESME messenger, and its reference
 * backend. This file raises the descriptor limit and picks the subcommand.
 */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "report/report.h"
#include "run/run.h"
#include "serve/serve.h"

/* From the Makefile: the first line of VERSION. */
#ifndef ESMELOAD_VERSION
#error "ESMELOAD_VERSION is defined by the Makefile, from the file VERSION"
#endif

static const char usage[] =
"usage: esmeload [run] [flags]     the load scenario (the default command)\n"
"       esmeload demo [flags]      the scenario against an embedded serve\n"
"       esmeload serve [options]   the reference ESME backend\n"
"       esmeload report [-o FILE] RUN...  one HTML page of runs' results\n"
"       esmeload compare [--json] A B     two runs' key figures side by side\n"
"       esmeload merge [-o DIR] SHARD...  the shards of one test as one run\n"
"       esmeload help              this text\n"
"       esmeload --version         the version (also: esmeload version)\n"
"\n"
"`esmeload [run options]` is `esmeload run [run options]`: it takes the flags\n"
"of ESME's Go performance test (-sci, -cpi, -smi, -logWs) and reads\n"
"./config.json like it does, and stops with exit code 2 when there is none.\n"
"A bare `esmeload` (no arguments) in a directory without config.json runs\n"
"the demo: a short scenario against its own serve on loopback, as\n"
"`esmeload demo` does with any flags.\n"
"\n"
"esmeload COMMAND --help describes each command; man esmeload describes\n"
"them all.\n";

/*
 * Raise the soft RLIMIT_NOFILE to the hard limit, as Go programs do at
 * start since Go 1.19: the soft limit is often 1024, and every io_uring
 * ring's table of direct descriptors is bounded by it, which is what the
 * default --max-conns of run and the ring size of serve are computed
 * from. Done before any subcommand reads the limit; children we start
 * (the embedded serve) inherit it. A failure leaves the limit as it was.
 */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	raise_nofile();
	if (argc >= 2 && !strcmp(argv[1], "serve"))
		return serve_main(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "run"))
		return run_main(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "demo")) {
		static char demo_flag[] = "--demo";

		/* run's --demo in place of the subcommand's name. */
		argv[1] = demo_flag;
		return run_main(argc - 1, argv + 1);
	}
	if (argc >= 2 && !strcmp(argv[1], "report"))
		return report_main(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "merge"))
		return merge_main(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "compare"))
		return compare_main(argc - 2, argv + 2);
	if (argc == 2 && (!strcmp(argv[1], "help") || !strcmp(argv[1], "-h") ||
			  !strcmp(argv[1], "-help") || !strcmp(argv[1], "--help"))) {
		fputs(usage, stdout);
		return 0;
	}
	if (argc == 2 && (!strcmp(argv[1], "version") ||
			  !strcmp(argv[1], "--version") ||
			  !strcmp(argv[1], "-version"))) {
		puts("esmeload " ESMELOAD_VERSION);
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
