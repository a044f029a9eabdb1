/*
 * Tests of run/scenfile: `esmeload run --scenario FILE`. Every key sets
 * its flag's field; the file and the flags share their checks (the same
 * reasons); flags on the command line win wherever --scenario is; every
 * bad file is one "esmeload: <file>: ..." line naming the key; the text
 * and the name are kept for the summary; truncated input never passes.
 */
#include "run/run.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run_parse.h"
#include "test.h"

/* scenfile_load with stderr captured. */
static int load(struct run_opts *o, const char *path)
{
	int r, s;
	FILE *t;

	grab_begin(2, &s, &t);
	r = scenfile_load(o, path);
	grab_end(2, s, t, err_out, sizeof(err_out));
	return r;
}

/* err_out is one line, "esmeload: <file>: ...". */
static int one_line_error(const char *file)
{
	size_t n = strlen(err_out), f = strlen(file);

	return n > 12 && !strncmp(err_out, "esmeload: ", 10) &&
	       !strncmp(err_out + 10, file, f) && err_out[10 + f] == ':' &&
	       err_out[n - 1] == '\n' && strchr(err_out, '\n') == err_out + n - 1;
}

static const char good_cfg[] =
	"{\"event_id\": 7, \"messenger_ws_url\": \"ws://127.0.0.1:8300\",\n"
	" \"organizer_api_url\": \"http://127.0.0.1:8000\",\n"
	" \"organizer_email\": \"jan@kowalski.com\",\n"
	" \"organizer_password\": \"secret\",\n"
	" \"participant_api_url\": \"http://127.0.0.1:8100\"}\n";

/* A fresh directory with a config.json as the current directory. */
static int enter_tmpdir(void)
{
	if (tmpdir_enter("test_scenfile") < 0)
		return -1;
	return write_text("config.json", good_cfg);
}

static const char full[] =
	"{\n"
	"  \"name\": \"crowd that reconnects \\u00e9\",\n"
	"  \"description\": \"every key once\",\n"
	"  \"load\": { \"start_chat_interval\": \"10ms\",\n"
	"            \"create_participant_interval\": 20,\n"
	"            \"send_message_interval\": \"1.5s\", \"organizers\": 4,\n"
	"            \"max_participants\": 2000, \"duration\": \"1m\" },\n"
	"  \"replies\": { \"every\": 2, \"think\": \"250ms\", \"think_dist\": \"exp\" },\n"
	"  \"chats\": { \"lifetime\": \"30s\", \"messages\": 20, \"reopen_after\": \"2s\" },\n"
	"  \"reconnects\": { \"uptime\": \"20s\", \"dist\": \"fixed\", \"backoff\": \"700ms\" },\n"
	"  \"devices\": { \"participant\": 2, \"organizer\": 3 }\n"
	"}\n";

static int test_every_key(void)
{
	struct run_opts o;

	check(enter_tmpdir() == 0);
	check(write_text("s.json", full) == 0);
	check_eq(call(&o, "--scenario", "s.json", NULL), 0);
	check_eq(err_out[0], 0);
	check_eq(o.sci_ms, 10);
	check_eq(o.cpi_ms, 20);
	check_eq(o.cpi_given, 0);
	check(o.arrival_rate == 0);
	check_eq(o.smi_ms, 1500);
	check_eq(o.organizers, 4);
	check_eq(o.max_participants, 2000);
	check_eq(o.duration_ms, 60000);
	check_eq(o.org_reply_every, 2);
	check_eq(o.org_think_ms, 250);
	check_eq(o.org_think_exp, 1);
	check_eq(o.chat_lifetime_ms, 30000);
	check_eq(o.chat_messages, 20);
	check_eq(o.reopen_after_ms, 2000);
	check_eq(o.reconnect_uptime_ms, 20000);
	check_eq(o.reconnect_fixed, 1);
	check_eq(o.reconnect_backoff_ms, 700);
	check_eq(o.devices, 2);
	check_eq(o.org_devices, 3);
	/* Kept for the summary: the path as given, the bytes, the name. */
	check(o.scenario_path && !strcmp(o.scenario_path, "s.json"));
	check_eq(o.scenario_len, strlen(full));
	check(o.scenario_text && !strcmp(o.scenario_text, full));
	check(o.scenario_name &&
	      !strcmp(o.scenario_name, "crowd that reconnects \xc3\xa9"));
	scenfile_free(&o);
	check(!o.scenario_text && !o.scenario_name && !o.scenario_path);
	check_eq(o.scenario_len, 0);
	leave_tmpdir();
	return 0;
}

/* An empty object, or none: the defaults; no name. */
static int test_empty(void)
{
	struct run_opts a, b;

	check(enter_tmpdir() == 0);
	check(write_text("e.json", " {} ") == 0);
	check_eq(call(&a, NULL), 0);
	check(a.scenario_path == NULL && a.scenario_text == NULL);
	check_eq(call(&b, "--scenario=e.json", NULL), 0);
	check(b.scenario_path && b.scenario_name == NULL);
	check(!strcmp(b.scenario_text, " {} "));
	check_eq(b.sci_ms, a.sci_ms);
	check_eq(b.cpi_ms, a.cpi_ms);
	check_eq(b.org_think_ms, a.org_think_ms);
	check_eq(b.reconnect_backoff_ms, a.reconnect_backoff_ms);
	check_eq(b.reconnect_fixed, a.reconnect_fixed);
	check_eq(b.devices, 1);
	check_eq(b.organizers, 1);
	scenfile_free(&b);
	/* Empty sections too. */
	check(write_text("e.json", "{\"load\":{},\"replies\":{},\"chats\":{},"
			 "\"reconnects\":{},\"devices\":{}}") == 0);
	check_eq(call(&b, "--scenario", "e.json", NULL), 0);
	check_eq(b.org_reply_every, 0);
	scenfile_free(&b);
	leave_tmpdir();
	return 0;
}

/* The Go tool's intervals: durations of whole ms, or integer ms. */
static int test_go_intervals(void)
{
	static const struct {
		const char *v;
		int64_t ms;
	} ok[] = {
		{ "\"10ms\"", 10 }, { "10", 10 }, { "\"1s\"", 1000 },
		{ "\"0\"", 0 }, { "0", 0 }, { "\"2m\"", 120000 },
		{ "\"1000us\"", 1 }, { "\"1.5s\"", 1500 }, { "-0", 0 },
		{ "9223372036854", 9223372036854 },
	};
	static const struct {
		const char *v, *says;
	} bad[] = {
		{ "\"1500us\"", "not a whole number of milliseconds" },
		{ "1.5", "not a whole number of milliseconds" },
		{ "1e3", "not a whole number of milliseconds" },
		{ "-5", "a negative interval means nothing" },
		{ "\"-5ms\"", "a negative interval means nothing" },
		{ "\"abc\"", "is not a duration (e.g. 10ms, 1s)" },
		{ "\"10\"", "is not a duration" },
		{ "\"\"", "is not a duration" },
		{ "9223372036855", "at most 9223372036854 ms" },
		{ "99999999999999999999", "value out of range" },
		{ "true", "must be a duration such as \"10ms\" or an integer of ms, not a boolean" },
		{ "[10]", "not an array" },
		{ "null", "not null" },
	};
	char text[256];
	struct run_opts o;

	check(enter_tmpdir() == 0);
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(text, sizeof(text),
			 "{\"load\":{\"send_message_interval\":%s}}", ok[i].v);
		check(write_text("g.json", text) == 0);
		if (call(&o, "--scenario", "g.json", NULL) != 0 ||
		    o.smi_ms != ok[i].ms) {
			fprintf(stderr, "%s: %s", ok[i].v, err_out);
			check(0);
		}
		scenfile_free(&o);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text),
			 "{\"load\":{\"start_chat_interval\":%s}}", bad[i].v);
		check(write_text("g.json", text) == 0);
		if (call(&o, "--scenario", "g.json", NULL) != 2 ||
		    !one_line_error("g.json") ||
		    !strstr(err_out, "key \"load.start_chat_interval\"") ||
		    !strstr(err_out, bad[i].says)) {
			fprintf(stderr, "%s: %s", bad[i].v, err_out);
			check(0);
		}
	}
	leave_tmpdir();
	return 0;
}

/* Every error class: one line, naming the file and the key, exit 2. */
static int test_errors(void)
{
	static const struct {
		const char *text, *says;
	} cases[] = {
		{ "", "not valid JSON" },
		{ "{", "not valid JSON" },
		{ "{\"load\":{}} x", "not valid JSON" },
		{ "{\"load\":{},}", "not valid JSON" },
		{ "[]", "not a JSON object" },
		{ "\"load\"", "not a JSON object" },
		{ "{\"lod\":{}}", "unknown key \"lod\" (a scenario takes name, "
		  "description, load, replies, chats, reconnects, devices)" },
		{ "{\"chats\":{\"lifetme\":\"1s\"}}", "unknown key "
		  "\"chats.lifetme\" (chats takes lifetime, messages, reopen_after)" },
		{ "{\"load\":{\"sci\":10}}", "unknown key \"load.sci\"" },
		{ "{\"chats\":{\"lifetime\":\"abc\"}}",
		  "key \"chats.lifetime\": \"abc\" is not a duration of at least "
		  "1ms (e.g. 500ms, 90s, 10m)" },
		{ "{\"chats\":{\"lifetime\":30}}", "key \"chats.lifetime\" must be "
		  "a duration string such as \"30s\", not a number" },
		{ "{\"chats\":{\"lifetime\":\"0s\"}}", "\"0s\" is not a duration "
		  "of at least 1ms" },
		{ "{\"chats\":\"30s\"}", "key \"chats\" must be an object, not a string" },
		{ "{\"chats\":{\"messages\":-1}}", "key \"chats.messages\": -1 is "
		  "not a whole number from 0 to 1000000000" },
		{ "{\"chats\":{\"messages\":\"20\"}}", "key \"chats.messages\" must "
		  "be a whole number, not a string" },
		{ "{\"devices\":{\"participant\":9}}", "key \"devices.participant\": "
		  "9 is not a whole number from 1 to 8" },
		{ "{\"devices\":{\"organizer\":0}}", "key \"devices.organizer\": 0 is "
		  "not a whole number from 1 to 8" },
		{ "{\"devices\":{\"participant\":2.0}}", "2.0 is not a whole number" },
		{ "{\"load\":{\"organizers\":1001}}", "not a whole number from 1 to 1000" },
		{ "{\"load\":{\"max_participants\":true}}", "must be a whole number, "
		  "not a boolean" },
		{ "{\"load\":{\"arrival_rate\":0}}", "key \"load.arrival_rate\": 0 "
		  "is not a rate of arrivals per second from 0.001 to 1000000" },
		{ "{\"load\":{\"arrival_rate\":\"50/s\"}}", "must be a number, not a string" },
		{ "{\"load\":{\"arrival_rate\":50,\"create_participant_interval\":\"20ms\"}}",
		  "key \"load\": \"create_participant_interval\" and \"arrival_rate\" "
		  "both set the arrivals" },
		{ "{\"replies\":{\"think_dist\":\"gauss\"}}", "key "
		  "\"replies.think_dist\": \"gauss\" is not fixed or exp" },
		{ "{\"reconnects\":{\"dist\":1}}", "must be \"fixed\" or \"exp\", not a number" },
		{ "{\"replies\":{\"every\":2,\"every\":3}}", "key \"replies.every\" "
		  "is given twice" },
		{ "{\"name\":\"a\",\"name\":\"b\"}", "key \"name\" is given twice" },
		{ "{\"name\":7}", "key \"name\" must be a string, not a number" },
		{ "{\"name\":\"a\\u0000b\"}", "key \"name\" contains a NUL character" },
		{ "{\"description\":\"\\ud800\"}", "key \"description\" is not a "
		  "valid string" },
		{ "{\"description\":[]}", "key \"description\" must be a string, not an array" },
		/* The quote of a long value is cut, on one line. */
		{ "{\"chats\":{\"lifetime\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}}",
		  "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx... is not a duration" },
		{ "{\"chats\":{\"lifetime\":\"1s\\n\"}}", "\"1s\\n\" is not a duration" },
	};
	struct run_opts o;

	check(enter_tmpdir() == 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		check(write_text("bad.json", cases[i].text) == 0);
		if (call(&o, "-smi", "5", "--scenario", "bad.json", NULL) != 2 ||
		    !one_line_error("bad.json") ||
		    !strstr(err_out, cases[i].says)) {
			fprintf(stderr, "case %zu: %s", i, err_out);
			check(0);
		}
		check_eq(std_out[0], 0);
	}
	/* The file itself. */
	check_eq(call(&o, "--scenario", "nope.json", NULL), 2);
	check(one_line_error("nope.json"));
	check(strstr(err_out, "cannot read the scenario file: No such file or "
		     "directory"));
	check(mkdir("dir.json", 0700) == 0);
	check_eq(call(&o, "--scenario", "dir.json", NULL), 2);
	check(one_line_error("dir.json") && strstr(err_out, "Is a directory"));
	check_eq(call(&o, "--scenario=", NULL), 2);
	check(strstr(err_out, "--scenario: must not be empty"));
	check_eq(call(&o, "--scenario", NULL), 2);
	check(strstr(err_out, "flag needs an argument: --scenario"));
	leave_tmpdir();
	return 0;
}

/* A bad value names the same reason in the file as on the command line:
 * one piece of code checks both. */
static int test_same_reasons(void)
{
	static const struct {
		const char *flag, *value, *section, *key, *json;
	} cases[] = {
		{ "--devices", "9", "devices", "participant", "9" },
		{ "--org-devices", "0", "devices", "organizer", "0" },
		{ "--chat-lifetime", "soon", "chats", "lifetime", "\"soon\"" },
		{ "--org-think", "0s", "replies", "think", "\"0s\"" },
		{ "--reconnect-dist", "normal", "reconnects", "dist", "\"normal\"" },
		{ "--org-reply-every", "1000001", "replies", "every", "1000001" },
		{ "--arrival-rate", "2000000", "load", "arrival_rate", "2000000" },
		{ "--duration", "1us", "load", "duration", "\"1us\"" },
		{ "-cpi", "-1", "load", "create_participant_interval", "-1" },
	};
	char text[256], flag_why[512];
	struct run_opts o;

	check(enter_tmpdir() == 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *why;

		check_eq(call(&o, (char *)cases[i].flag, (char *)cases[i].value,
			      NULL), 2);
		/* "invalid value "v" for flag --x: <why>" */
		why = strstr(err_out, cases[i].flag);
		check(why && (why = strchr(why, ':')) != NULL);
		snprintf(flag_why, sizeof(flag_why), "%s", why + 2);
		snprintf(text, sizeof(text), "{\"%s\":{\"%s\":%s}}",
			 cases[i].section, cases[i].key, cases[i].json);
		check(write_text("r.json", text) == 0);
		check_eq(call(&o, "--scenario", "r.json", NULL), 2);
		if (!strstr(err_out, flag_why)) {
			fprintf(stderr, "case %zu: flag says %s, file says %s", i,
				flag_why, err_out);
			check(0);
		}
	}
	leave_tmpdir();
	return 0;
}

/* Flags win over the file, before or after --scenario. */
static int test_precedence(void)
{
	struct run_opts o;

	check(enter_tmpdir() == 0);
	check(write_text("s.json", full) == 0);
	check_eq(call(&o, "--org-reply-every", "3", "--scenario", "s.json",
		      "--devices", "1", NULL), 0);
	check_eq(o.org_reply_every, 3);
	check_eq(o.devices, 1);
	check_eq(o.org_devices, 3);     /* the file's */
	check_eq(o.sci_ms, 10);         /* the file's */
	scenfile_free(&o);
	check_eq(call(&o, "--scenario", "s.json", "-sci", "7", "--chat-lifetime",
		      "5s", "--reconnect-dist", "exp", NULL), 0);
	check_eq(o.sci_ms, 7);
	check_eq(o.chat_lifetime_ms, 5000);
	check_eq(o.reconnect_fixed, 0);
	check_eq(o.chat_messages, 20);  /* the file's */
	scenfile_free(&o);
	/* The last --scenario is the file. */
	check(write_text("t.json", "{\"name\":\"t\",\"replies\":{\"every\":5}}") == 0);
	check_eq(call(&o, "--scenario", "s.json", "--scenario=t.json", NULL), 0);
	check(!strcmp(o.scenario_path, "t.json") && !strcmp(o.scenario_name, "t"));
	check_eq(o.org_reply_every, 5);
	check_eq(o.sci_ms, 1000);
	scenfile_free(&o);
	/* The arrivals: the file's arrival_rate gives way to -cpi, the
	 * file's create_participant_interval to --arrival-rate. */
	check(write_text("r.json", "{\"load\":{\"arrival_rate\":50}}") == 0);
	check_eq(call(&o, "--scenario", "r.json", NULL), 0);
	check(o.arrival_rate == 50);
	check_eq(run_cpi_ns(&o), 20000000);
	scenfile_free(&o);
	check_eq(call(&o, "-cpi", "30", "--scenario", "r.json", NULL), 0);
	check(o.arrival_rate == 0);
	check_eq(o.cpi_ms, 30);
	check_eq(run_cpi_ns(&o), 30000000);
	scenfile_free(&o);
	check_eq(call(&o, "--scenario", "s.json", "--arrival-rate", "100", NULL), 0);
	check(o.arrival_rate == 100);
	check_eq(run_cpi_ns(&o), 10000000);
	scenfile_free(&o);
	/* After "--" nothing is a flag, --scenario neither. */
	check_eq(call(&o, "--", "--scenario", "s.json", NULL), 2);
	check(strstr(err_out, "unexpected argument \"--scenario\""));
	/* Help is help, whatever the file; -h as a value does not skip it. */
	check_eq(call(&o, "--scenario", "nope.json", "--help", NULL), 1);
	check(strstr(std_out, "--scenario FILE"));
	check_eq(call(&o, "--scenario", "s.json", "--out-dir", "-h", NULL), 2);
	check(strstr(err_out, "--scenario s.json: not read"));
	leave_tmpdir();
	return 0;
}

/* scenfile_parse on a buffer that is not NUL-terminated, and on every
 * prefix of a valid file: the whole passes, no proper prefix does. */
static int test_prefixes(void)
{
	size_t n = strlen(full);
	char err[512];
	struct run_opts o;

	memset(&o, 0, sizeof(o));
	for (size_t k = 0; k <= n; k++) {
		char *b = malloc(k ? k : 1);
		int r;

		check(b != NULL);
		memcpy(b, full, k);
		r = scenfile_parse(&o, "p.json", b, k, err, sizeof(err));
		free(b);
		/* The text ends in "}\n": the last two lengths pass. */
		if (k >= n - 1) {
			check_eq(r, 0);
		} else if (r != -EINVAL || strncmp(err, "p.json: ", 8) ||
			   strchr(err, '\n')) {
			fprintf(stderr, "prefix %zu: r=%d %s\n", k, r, err);
			check(0);
		}
	}
	check(o.scenario_name != NULL);
	/* A failing parse keeps the name it had. */
	check_eq(scenfile_parse(&o, "p.json", "{\"name\":1}", 10, err,
				sizeof(err)), -EINVAL);
	check(!strcmp(o.scenario_name, "crowd that reconnects \xc3\xa9"));
	/* A small error buffer is cut, terminated. */
	check_eq(scenfile_parse(&o, "p.json", "[", 1, err, 5), -EINVAL);
	check(!strcmp(err, "p.js"));
	scenfile_free(&o);
	return 0;
}

/* At most 64 KiB; a FIFO without a writer reads as empty, no wait. */
static int test_file_limits(void)
{
	struct run_opts o;
	char *big = malloc((64 << 10) + 2);
	FILE *f;

	check(big != NULL);
	check(enter_tmpdir() == 0);
	memset(big, ' ', (64 << 10) + 1);
	big[0] = '{';
	big[(64 << 10) - 1] = '}';
	big[64 << 10] = 0;
	check(write_text("b.json", big) == 0);
	memset(&o, 0, sizeof(o));
	check_eq(load(&o, "b.json"), 0);
	check_eq(o.scenario_len, 64 << 10);
	scenfile_free(&o);
	f = fopen("b.json", "a");
	check(f && fputc(' ', f) == ' ' && fclose(f) == 0);
	check_eq(load(&o, "b.json"), 2);
	check(one_line_error("b.json") && strstr(err_out, "larger than 64 KiB"));
	check(o.scenario_text == NULL);
	check(mkfifo("fifo.json", 0600) == 0);
	check_eq(load(&o, "fifo.json"), 2);
	check(one_line_error("fifo.json") && strstr(err_out, "not valid JSON"));
	free(big);
	leave_tmpdir();
	return 0;
}

TEST_MAIN(T(test_every_key), T(test_empty), T(test_go_intervals),
	  T(test_errors), T(test_same_reasons), T(test_precedence),
	  T(test_prefixes), T(test_file_limits))
