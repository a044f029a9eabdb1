/*
 * fuzz_scenfile: scenfile_parse (src/run/run.h), a --scenario file's
 * text, over run_parse's defaults. The input is the file's bytes, in a
 * heap block of exactly that size (no NUL after it), so a read past the
 * end is caught. run_parse is run once, on "--demo", for the defaults:
 * no config.json, no file, no DNS (fuzz_run_common.h).
 * Invariants: the result is 0 or -EINVAL; the error is one line,
 * terminated, "fuzz.json: ..." exactly when the result is -EINVAL; on 0
 * every field a key sets lies in its flag's range, the name is
 * terminated and shorter than the input, and parsing the same bytes again
 * gives the same options; on -EINVAL the name is the one before.
 */
#include <errno.h>

#include "fuzz_run_common.h"
#include "run/run.h"

static struct run_opts defaults;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char demo[] = "--demo";
	char *args[] = { demo, NULL };

	(void)argc;
	(void)argv;
	fuzz_quiet();
	if (run_parse(&defaults, 1, args) != 0)
		abort();
	return 0;
}

static void in_ranges(const struct run_opts *o)
{
	FUZZ_ASSERT(o->sci_ms >= 0 && o->cpi_ms >= 0 && o->smi_ms >= 0);
	FUZZ_ASSERT(o->sci_ms <= INT64_MAX / 1000000 &&
		    o->cpi_ms <= INT64_MAX / 1000000 &&
		    o->smi_ms <= INT64_MAX / 1000000);
	FUZZ_ASSERT(o->cpi_given == 0);
	FUZZ_ASSERT(o->arrival_rate == 0 ||
		    (o->arrival_rate >= 0.001 && o->arrival_rate <= 1000000));
	FUZZ_ASSERT(o->organizers >= 1 && o->organizers <= 1000);
	FUZZ_ASSERT(o->duration_ms >= 0);
	FUZZ_ASSERT(o->org_reply_every <= 1000000);
	FUZZ_ASSERT(o->org_think_ms >= 1);
	FUZZ_ASSERT(o->org_think_exp == 0 || o->org_think_exp == 1);
	FUZZ_ASSERT(o->chat_lifetime_ms >= 0 && o->reopen_after_ms >= 0);
	FUZZ_ASSERT(o->chat_messages <= 1000000000);
	FUZZ_ASSERT(o->reconnect_uptime_ms >= 0);
	FUZZ_ASSERT(o->reconnect_fixed == 0 || o->reconnect_fixed == 1);
	FUZZ_ASSERT(o->reconnect_backoff_ms >= 1);
	FUZZ_ASSERT(o->devices >= 1 && o->devices <= RUN_MAX_DEVICES);
	FUZZ_ASSERT(o->org_devices >= 1 && o->org_devices <= RUN_MAX_DEVICES);
	/* A file sets no flag it has no key for. */
	FUZZ_ASSERT(o->threads == defaults.threads &&
		    o->max_errors == defaults.max_errors &&
		    o->http_conns == defaults.http_conns &&
		    o->connect_timeout_ms == defaults.connect_timeout_ms);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run_opts *o = malloc(sizeof(*o)), *again = malloc(sizeof(*o));
	char *js = fuzz_dup(data, size, 0);
	char err[512], err2[512];
	size_t n;
	int r;

	if (!o || !again)
		abort();
	*o = defaults;
	memset(err, 'x', sizeof(err));
	r = scenfile_parse(o, "fuzz.json", js, size, err, sizeof(err));
	FUZZ_ASSERT(r == 0 || r == -EINVAL);
	n = strnlen(err, sizeof(err));
	FUZZ_ASSERT(n < sizeof(err));
	FUZZ_ASSERT(memchr(err, '\n', n) == NULL);
	if (r == 0) {
		FUZZ_ASSERT(n == 0);
		in_ranges(o);
		if (o->scenario_name)
			FUZZ_ASSERT(strlen(o->scenario_name) < size);
		*again = defaults;
		FUZZ_ASSERT(scenfile_parse(again, "fuzz.json", js, size, err2,
					   sizeof(err2)) == 0);
		FUZZ_ASSERT(again->sci_ms == o->sci_ms &&
			    again->cpi_ms == o->cpi_ms &&
			    again->smi_ms == o->smi_ms &&
			    again->arrival_rate == o->arrival_rate &&
			    again->duration_ms == o->duration_ms &&
			    again->max_participants == o->max_participants &&
			    again->chat_lifetime_ms == o->chat_lifetime_ms &&
			    again->devices == o->devices);
		FUZZ_ASSERT((again->scenario_name == NULL) ==
			    (o->scenario_name == NULL));
		FUZZ_ASSERT(!o->scenario_name ||
			    !strcmp(again->scenario_name, o->scenario_name));
		scenfile_free(again);
	} else {
		FUZZ_ASSERT(!strncmp(err, "fuzz.json: ", 11) && n > 11);
		FUZZ_ASSERT(o->scenario_name == NULL);
	}
	scenfile_free(o);
	free(js);
	free(again);
	free(o);
	return 0;
}
