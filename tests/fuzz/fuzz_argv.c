/*
 * fuzz_argv: run_parse (src/run/run.h), the `esmeload run` command line.
 * The input split at NUL bytes is argv (each argument its own heap block,
 * so a read past one is caught). Output is silenced and host names never
 * reach DNS (fuzz_run_common.h). Inputs with a '/' in any argument are
 * skipped: --config=/dev/stdin or a FIFO would block the fuzzer, and
 * config files have their own target (fuzz_config).
 * Invariants: the result is 0, 1 (help) or 2 (error printed); on 0 every
 * option lies in the range its error message states.
 */
#include "fuzz_run_common.h"
#include "run/run.h"

#define MAX_ARGS 64

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *args[MAX_ARGS + 1];
	struct run_opts *o;
	int argc = 0, r;
	size_t s = 0;

	if (memchr(data, '/', size))
		return 0;
	while (s < size && argc < MAX_ARGS) {
		const uint8_t *z = memchr(data + s, 0, size - s);
		size_t e = z ? (size_t)(z - data) : size;

		args[argc++] = fuzz_dup(data + s, e - s, 1);
		s = e + 1;
	}
	args[argc] = NULL;
	o = malloc(sizeof(*o));
	if (!o)
		abort();
	r = run_parse(o, argc, args);
	FUZZ_ASSERT(r == 0 || r == 1 || r == 2);
	if (r == 0) {
		FUZZ_ASSERT(o->sci_ms >= 0 && o->cpi_ms >= 0 && o->smi_ms >= 0);
		FUZZ_ASSERT(o->duration_ms >= 0);
		FUZZ_ASSERT(o->connect_timeout_ms >= 1 &&
			    o->handshake_timeout_ms >= 1);
		FUZZ_ASSERT(o->threads >= 1 && o->threads <= 64);
		FUZZ_ASSERT(o->organizers >= 1 && o->organizers <= 1000);
		FUZZ_ASSERT(o->http_conns >= 1 && o->http_conns <= 256);
		FUZZ_ASSERT(o->max_conns >= 1);
		FUZZ_ASSERT(o->max_errors >= 1);
		FUZZ_ASSERT(o->sndbuf == 0 ||
			    (o->sndbuf >= 1024 && o->sndbuf <= 1 << 30));
		FUZZ_ASSERT(o->src_lo <= o->src_hi);
		FUZZ_ASSERT(o->nthresholds <= 32);
		FUZZ_ASSERT(o->nthresholds == 0 || o->thresholds != NULL);
		FUZZ_ASSERT(o->out_dir && o->out_dir[0]);
		FUZZ_ASSERT(o->embedded || o->config_path);
	}
	free(o->thresholds);
	scenfile_free(o);       /* --scenario FILE of the current directory */
	free(o);
	for (int i = 0; i < argc; i++)
		free(args[i]);
	return 0;
}
