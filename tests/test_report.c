/*
 * Tests of report: Go durations, summaries with and without the esmeload
 * object, bad summaries, the .jsonl time series cut at every position,
 * message rates with gaps, loading a run's files from disk, nice ticks and
 * scales, the path writer, HTML escaping, the page, and compare's figures.
 */
#include "report/report.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "hist.h"
#include "histjson.h"
#include "jsonw.h"

static char err[2048];

#define near(a, b) (fabs((a) - (b)) < 1e-9)

/* The summary of formats.txt: the Go tool's keys, then ours. */
static const char summary_full[] =
"{\n"
"  \"constants\": {\"start_chat_interval\": \"10ms\", "
"\"create_participant_interval\": \"20ms\", \"send_message_interval\": "
"\"100ms\", \"log_ws\": false},\n"
"  \"description\": \"performance test summary\",\n"
"  \"organizer_time_started\": \"2026-11-26T09:18:00.662135421Z\",\n"
"  \"organizer_duration\": \"5.028888821s\",\n"
"  \"participants_time_started\": \"2026-11-26T09:18:00.7Z\",\n"
"  \"participants_duration\": \"4.9s\",\n"
"  \"messages_sent\": 6174, \"chats_count\": 251, "
"\"created_participants_count\": 252,\n"
"  \"esmeload\": {\n"
"    \"sent\": 6174, \"delivered\": 6173, \"organizer_received\": 6424, "
"\"delivery_ratio\": 0.99984,\n"
"    \"start_chats\": 502, \"new_chats\": 251, \"no_new_chats\": 250, "
"\"server_errors\": 0, \"connected\": 251,\n"
"    \"latency_ms\": {\"p50\": 0.21, \"p90\": 0.4, \"p99\": 1.3, "
"\"p99_9\": 2.0, \"max\": 3.1},\n"
"    \"latency_actual_ms\": {\"p50\": 0.2, \"p90\": 0.3, \"p99\": 1.2, "
"\"p99_9\": 1.9, \"max\": 3.0},\n"
"    \"lag_ms\": {\"p50\": 0.01, \"p90\": 0.02, \"p99\": 0.05, "
"\"p99_9\": 0.07, \"max\": 0.1},\n"
"    \"errors\": {\"connect\": 0, \"http_status\": 0, \"ws_handshake\": 0, "
"\"timeout\": 2, \"recv\": 1, \"send\": 0, \"protocol\": 0, \"no_chat\": 0, "
"\"closed\": 0, \"server\": 0},\n"
"    \"stop_reason\": \"signal\",\n"
"    \"first_error\": null,\n"
"    \"self_check\": {\"cpu_percent\": 12.5, \"cq_overflows\": 0, "
"\"enobufs\": 0, \"lag_p99_ms\": 0.1, \"tester_limited\": false, "
"\"verdict\": \"the tester kept up: lag p99 0.1 ms\"},\n"
"    \"server\": null,\n"
"    \"cross_check\": {\"sent\": 6174, \"server_received\": 6174, "
"\"passed\": true},\n"
"    \"thresholds\": [{\"expr\": \"p99<50ms\", \"value\": 1.3, "
"\"passed\": true}, {\"expr\": \"ratio>0.9999\", \"value\": 0.99984, "
"\"passed\": false}]\n"
"  }\n"
"}\n";

/* As the Go tool writes it: a local zone, its keys only. */
static const char summary_go[] =
"{\n"
"  \"constants\": {\n"
"    \"start_chat_interval\": \"10ms\",\n"
"    \"create_participant_interval\": \"20ms\",\n"
"    \"send_message_interval\": \"1s\",\n"
"    \"log_ws\": false\n"
"  },\n"
"  \"description\": \"performance test summary\",\n"
"  \"organizer_time_started\": \"2023-06-01T14:00:00.5+02:00\",\n"
"  \"organizer_duration\": \"2m23.81s\",\n"
"  \"participants_time_started\": \"2023-06-01T14:00:00.6+02:00\",\n"
"  \"participants_duration\": \"2m23.7s\",\n"
"  \"messages_sent\": 123456,\n"
"  \"chats_count\": 731,\n"
"  \"created_participants_count\": 740\n"
"}\n";

static int parse_sum(struct rep_run *r, const char *s)
{
	rep_run_init(r);
	return rep_parse_summary(r, s, strlen(s), err, sizeof(err));
}

static int test_duration(void)
{
	static const struct {
		const char *s;
		double sec;
	} ok[] = {
		{ "5.028888821s", 5.028888821 }, { "2m23.81s", 143.81 },
		{ "1h0m0s", 3600 }, { "300ms", 0.3 }, { "1.5\xC2\xB5s", 1.5e-6 },
		{ "0s", 0 }, { "0", 0 }, { "-1.5s", -1.5 }, { "2h45m", 9900 },
	};
	static const char *const bad[] = { "5", "", "s", "1x", "1.s.s",
					   "9999999999h" };
	double v;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		check(rep_duration_s(ok[i].s, strlen(ok[i].s), &v) == 0);
		check(fabs(v - ok[i].sec) < 1e-12);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check(rep_duration_s(bad[i], strlen(bad[i]), &v) < 0);
	return 0;
}

static int test_summary_full(void)
{
	struct rep_run r;

	check_eq(parse_sum(&r, summary_full), 0);
	check(!strcmp(r.sci, "10ms") && !strcmp(r.cpi, "20ms") &&
	      !strcmp(r.smi, "100ms"));
	check_eq(r.log_ws, 0);
	check(near(r.org_dur_s, 5.028888821));
	check(near(r.part_dur_s, 4.9));
	/* 2026-11-26T09:18:00Z is 1795684680. */
	check(fabs(r.start_unix - 1795684680.662135421) < 1e-6);
	check(r.messages_sent == 6174 && r.chats_count == 251 &&
	      r.participants == 252);
	check(r.has_esme);
	check(r.sent == 6174 && r.delivered == 6173 && r.org_received == 6424);
	check(near(r.delivery_ratio, 0.99984));
	check(r.start_chats == 502 && r.new_chats == 251 &&
	      r.no_new_chats == 250 && r.server_errors == 0 &&
	      r.connected == 251);
	check(near(r.lat.p50, 0.21) && near(r.lat.p90, 0.4) &&
	      near(r.lat.p99, 1.3) && near(r.lat.p99_9, 2.0) &&
	      near(r.lat.max, 3.1));
	check(near(r.lat_actual.p99, 1.2) && near(r.lag.p99, 0.05));
	check(r.errors_total == 3);
	check(!strcmp(r.errors_text, "timeout 2, recv 1"));
	check(!strcmp(r.stop_reason, "signal"));
	check(!strcmp(r.first_error, ""));
	check(r.has_self_check && near(r.cpu_percent, 12.5) &&
	      r.tester_limited == 0 && near(r.lag_p99_ms, 0.1));
	check(!strcmp(r.verdict, "the tester kept up: lag p99 0.1 ms"));
	check_eq(r.cross_check, 1);
	check_eq(r.thresholds_n, 2);
	check_eq(r.thresholds_passed, 1);
	check(rep_sent(&r) == 6174);
	check(near(rep_msg_rate(&r), 6174 / 4.9));
	check(rep_final_chats(&r) == 251);
	check(isnan(rep_max_rate(&r)));
	rep_run_free(&r);
	return 0;
}

static int test_summary_go(void)
{
	struct rep_run r;

	check_eq(parse_sum(&r, summary_go), 0);
	check(!r.has_esme && !r.has_self_check);
	check(!strcmp(r.smi, "1s"));
	/* 14:00:00.5+02:00 is 12:00:00.5Z: 1685620800.5. */
	check(near(r.start_unix, 1685620800.5));
	check(near(r.org_dur_s, 143.81));
	check(isnan(r.sent) && isnan(r.delivered) && isnan(r.delivery_ratio));
	check(isnan(r.lat.p50) && isnan(r.lat.max) && isnan(r.cpu_percent));
	check(isnan(r.errors_total));
	check(r.tester_limited == -1 && r.cross_check == -1);
	check(!r.stop_reason[0] && !r.first_error[0] && !r.verdict[0]);
	check(rep_sent(&r) == 123456);
	check(near(rep_msg_rate(&r), 123456 / 143.7));
	check(rep_final_chats(&r) == 731);
	rep_run_free(&r);

	/* Only what exists: an esmeload object alone is a summary too. */
	check_eq(parse_sum(&r, "{\"esmeload\": {\"sent\": 5}}"), 0);
	check(r.has_esme && r.sent == 5 && isnan(r.messages_sent));
	check(rep_sent(&r) == 5 && isnan(rep_msg_rate(&r)));
	/* The ratio of an older file is worked out from its parts. */
	check_eq(parse_sum(&r, "{\"esmeload\": {\"sent\": 4, "
			       "\"delivered\": 3}}"), 0);
	check(near(r.delivery_ratio, 0.75));
	return 0;
}

static int test_summary_strings(void)
{
	struct rep_run r;
	char js[4096];
	size_t n;

	/* Escapes come out unescaped (the page escapes them for HTML). */
	check_eq(parse_sum(&r, "{\"messages_sent\": 1, \"esmeload\": "
			       "{\"first_error\": \"<b>\\\"x\\\" \\u00b5\\n\"}}"),
		 0);
	check(!strcmp(r.first_error, "<b>\"x\" \xC2\xB5\n"));
	/* A longer text is cut, at a UTF-8 boundary. */
	n = (size_t)snprintf(js, sizeof(js), "{\"messages_sent\": 1, "
				"\"esmeload\": {\"first_error\": \"");
	for (int i = 0; i < 1500; i++)
		n += (size_t)snprintf(js + n, sizeof(js) - n, "\xC2\xB5");
	snprintf(js + n, sizeof(js) - n, "\"}}");
	check_eq(parse_sum(&r, js), 0);
	n = strlen(r.first_error);
	check(n >= sizeof(r.first_error) - 2 && n < sizeof(r.first_error));
	check_eq(n % 2, 0);
	check((unsigned char)r.first_error[n - 2] == 0xC2);
	return 0;
}

static int test_summary_bad(void)
{
	static const struct {
		const char *js, *msg;
	} bad[] = {
		{ "{\"messages_sent\": 1", "not valid JSON" },
		{ "[1, 2]", "not a JSON object" },
		{ "{\"description\": \"performance test summary\"}",
		  "not a performance test summary" },
		{ "{\"messages_sent\": \"many\"}", "messages_sent: not a number" },
		{ "{\"messages_sent\": 1, \"organizer_duration\": \"5\"}",
		  "organizer_duration: not a Go duration" },
		{ "{\"messages_sent\": 1, \"organizer_time_started\": "
		  "\"yesterday\"}", "organizer_time_started" },
		{ "{\"messages_sent\": 1, \"constants\": []}",
		  "constants: not an object" },
		{ "{\"messages_sent\": 1, \"constants\": "
		  "{\"send_message_interval\": 100}}",
		  "constants.send_message_interval: not a string" },
		{ "{\"esmeload\": 7}", "esmeload: not an object" },
		{ "{\"esmeload\": {\"latency_ms\": {\"p99\": \"1ms\"}}}",
		  "esmeload.latency_ms.p99: not a number" },
		{ "{\"esmeload\": {\"errors\": {\"timeout\": true}}}",
		  "esmeload.errors.timeout: not a number" },
		{ "{\"esmeload\": {\"self_check\": {\"tester_limited\": 1}}}",
		  "esmeload.self_check.tester_limited" },
		{ "{\"esmeload\": {\"stop_reason\": 3}}",
		  "esmeload.stop_reason: not a string" },
		{ "{\"esmeload\": {\"thresholds\": {}}}",
		  "esmeload.thresholds: not an array" },
		{ "{\"messages_sent\": 1} x", "not valid JSON" },
	};
	struct rep_run r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		if (parse_sum(&r, bad[i].js) >= 0 || !strstr(err, bad[i].msg)) {
			fprintf(stderr, "case %zu: \"%s\"\n", i, err);
			return __LINE__;
		}
		check(!strchr(err, '\n'));
	}
	return 0;
}

static const char series3[] =
"{\"t\":1795685603,\"elapsed_s\":1.0,\"sent\":1231,\"delivered\":1229,"
"\"organizer_received\":1300,\"participants_created\":50,"
"\"participants_connected\":50,\"chats\":50,\"errors\":0,"
"\"latency_ms\":{\"p50\":0.2,\"p99\":1.1,\"max\":2.0},"
"\"latency_actual_ms\":{\"p50\":0.2,\"p99\":1.0,\"max\":1.9},"
"\"lag_ms\":{\"p99\":0.05},\"cpu_percent\":8.5}\n"
"{\"t\":1795685604,\"elapsed_s\":2.0,\"sent\":0,\"delivered\":0,"
"\"chats\":50,\"latency_ms\":{\"p50\":null,\"p99\":null,\"max\":null},"
"\"cpu_percent\":1}\n"
"{\"t\":1795685605,\"elapsed_s\":3.0,\"sent\":2400,\"delivered\":2399,"
"\"chats\":100,\"latency_ms\":null,\"cpu_percent\":9}\n";

static int parse_series(struct rep_run *r, const char *s, size_t n)
{
	rep_run_init(r);
	return rep_parse_series(r, s, n, err, sizeof(err));
}

static int test_series(void)
{
	struct rep_run r;

	check_eq(parse_series(&r, series3, strlen(series3)), 0);
	check_eq(r.src, REP_SRC_SERIES);
	check_eq(r.s.n, 3);
	check_eq(r.skipped_last, 0);
	check(r.s.t[0] == 1 && r.s.t[2] == 3);
	check(r.s.sent[0] == 1231 && r.s.delivered[0] == 1229);
	check(r.s.chats[2] == 100);
	check(near(r.s.p50[0], 0.2) && near(r.s.p99[0], 1.1));
	check(isnan(r.s.p50[1]) && isnan(r.s.p99[1]));
	check(isnan(r.s.p50[2]));
	check(near(r.s.cpu[0], 8.5));
	check(rep_max_rate(&r) == 2400);
	check(rep_final_chats(&r) == 100);
	rep_run_free(&r);
	return 0;
}

/*
 * Every prefix of the file, as SIGKILL may leave it: the complete lines
 * count, a partial last line is skipped, nothing is an error.
 */
static int test_series_truncated(void)
{
	size_t n = strlen(series3);
	struct rep_run r;

	for (size_t cut = 1; cut <= n; cut++) {
		size_t done = 0, pos = 0;
		int partial = 0;

		/* Lines whose object is complete within the cut. */
		while (pos < cut) {
			const char *nl = memchr(series3 + pos, '\n', n - pos);
			size_t end = (size_t)(nl - series3);

			if (end <= cut)
				done++;
			else
				partial = 1;
			pos = end + 1;
		}
		if (parse_series(&r, series3, cut) != 0) {
			fprintf(stderr, "cut %zu: %s\n", cut, err);
			return __LINE__;
		}
		if (r.s.n != done || r.skipped_last != partial) {
			fprintf(stderr, "cut %zu: n %zu skipped %d\n", cut,
				r.s.n, r.skipped_last);
			return __LINE__;
		}
		rep_run_free(&r);
	}
	return 0;
}

static int test_series_bad(void)
{
	static const struct {
		const char *js, *msg;
	} bad[] = {
		{ "{\"elapsed_s\":1,\"sent\":1}\n{\"elapsed_s\":2,se\n"
		  "{\"elapsed_s\":3,\"sent\":1}\n", "line 2: not valid JSON" },
		{ "{\"elapsed_s\":1}\n", "line 1: sent missing" },
		{ "{\"sent\":1}\n", "line 1: elapsed_s missing" },
		{ "{\"elapsed_s\":1,\"sent\":\"x\"}\n", "line 1: sent: not a number" },
		{ "{\"elapsed_s\":1,\"sent\":1}\n\n{\"elapsed_s\":2,\"sent\":1}\n",
		  "line 2: empty line" },
		{ "[1]\n{\"elapsed_s\":2,\"sent\":1}\n", "line 1: not a JSON object" },
		{ "{\"elapsed_s\":1,\"sent\":1,\"latency_ms\":{\"p99\":\"1\"}}\n",
		  "line 1: latency_ms.p99: not a number" },
		{ "{\"elapsed_s\":1,\"sent\":1,\"latency_ms\":5}\n",
		  "line 1: latency_ms: not an object" },
	};
	struct rep_run r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		if (parse_series(&r, bad[i].js, strlen(bad[i].js)) >= 0 ||
		    !strstr(err, bad[i].msg)) {
			fprintf(stderr, "case %zu: \"%s\"\n", i, err);
			return __LINE__;
		}
		rep_run_free(&r);
	}
	/* Blank lines and CRLF at the end are fine; t without elapsed_s
	 * counts from the run's start. */
	{
		const char *js = "{\"t\":101,\"sent\":1}\r\n"
				 "{\"t\":102,\"sent\":2}\r\n\r\n\n";

		rep_run_init(&r);
		r.start_unix = 100.5;
		check_eq(rep_parse_series(&r, js, strlen(js), err,
					  sizeof(err)), 0);
		check_eq(r.s.n, 2);
		check(near(r.s.t[0], 0.5) && near(r.s.t[1], 1.5));
		check_eq(r.skipped_last, 0);
		rep_run_free(&r);
	}
	return 0;
}

static int test_rates(void)
{
	/* Out of order, a gap of 3 seconds (1003..1005), a gap of one. */
	const char *js = "{\"1002\": 20, \"1001\": 10, \"1006\": 60, "
			 "\"1008\": 80}";
	struct rep_run r;

	rep_run_init(&r);
	check_eq(rep_parse_rates(&r, js, strlen(js), err, sizeof(err)), 0);
	check_eq(r.src, REP_SRC_RATES);
	/* From the first second: 1001 ends at 1. */
	{
		static const double t[] = { 1, 2, 3, 5, 6, 7, 8 };
		static const double v[] = { 10, 20, 0, 0, 60, 0, 80 };

		check_eq(r.s.n, 7);
		for (size_t i = 0; i < 7; i++) {
			check(near(r.s.t[i], t[i]));
			check(r.s.sent[i] == v[i]);
			check(isnan(r.s.delivered[i]) && isnan(r.s.chats[i]));
		}
	}
	check(rep_max_rate(&r) == 80);
	rep_run_free(&r);

	/* From the run's start, when it fits the seconds. */
	rep_run_init(&r);
	r.start_unix = 1000.25;
	check_eq(rep_parse_rates(&r, js, strlen(js), err, sizeof(err)), 0);
	check(near(r.s.t[0], 1.75));
	rep_run_free(&r);
	/* A start from another clock (hours off) is not used. */
	rep_run_init(&r);
	r.start_unix = 1000.25 - 7200;
	check_eq(rep_parse_rates(&r, js, strlen(js), err, sizeof(err)), 0);
	check(near(r.s.t[0], 1));
	rep_run_free(&r);

	rep_run_init(&r);
	check_eq(rep_parse_rates(&r, "{}", 2, err, sizeof(err)), 0);
	check_eq(r.s.n, 0);
	check(isnan(rep_max_rate(&r)));
	rep_run_free(&r);

	{
		static const struct {
			const char *js, *msg;
		} bad[] = {
			{ "{\"soon\": 3}", "key \"soon\": not a Unix second" },
			{ "{\"-5\": 3}", "not a Unix second" },
			{ "{\"12x\": 3}", "not a Unix second" },
			{ "{\"1000\": \"3\"}", "\"1000\": not a number" },
			{ "[]", "not a JSON object" },
			{ "{\"1000\": 3", "not valid JSON" },
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			rep_run_init(&r);
			err[0] = 0;
			if (rep_parse_rates(&r, bad[i].js, strlen(bad[i].js), err,
					    sizeof(err)) >= 0 ||
			    !strstr(err, bad[i].msg)) {
				fprintf(stderr, "case %zu: \"%s\"\n", i, err);
				return __LINE__;
			}
			rep_run_free(&r);
		}
	}
	return 0;
}

/* ---- files on disk ---- */

static char dir[64];

static int write_file(const char *name, const char *text)
{
	char p[256];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = fopen(p, "w");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static int load(struct rep_run *r, const char *name)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	err[0] = 0;
	return rep_load(r, p, err, sizeof(err));
}

static int test_load_files(void)
{
	struct rep_paths ps = { 0 };
	struct rep_run r;
	int ret = __LINE__;
	char p[256];

	strcpy(dir, "/tmp/test_report.XXXXXX");
	check(mkdtemp(dir) != NULL);
	/* 100: summary + time series (+ rates, not needed then). */
	if (write_file("100_performance_test_summary.json", summary_full) ||
	    write_file("100_performance_test_timeseries.jsonl", series3) ||
	    write_file("100_performance_test_message_rates.json", "{bad") ||
	    /* 200: the Go tool's two files. */
	    write_file("200_performance_test_summary.json", summary_go) ||
	    write_file("200_performance_test_message_rates.json",
		       "{\"1685620801\": 5, \"1685620802\": 7}") ||
	    /* 300: a summary alone. */
	    write_file("300_performance_test_summary.json", summary_go) ||
	    /* 400: a bad time series. */
	    write_file("400_performance_test_summary.json", summary_go) ||
	    write_file("400_performance_test_timeseries.jsonl",
		       "{\"elapsed_s\":1,\"sent\":1}\nnope\n{}\n") ||
	    /* 600: killed before its first second: the rates then. */
	    write_file("600_performance_test_summary.json", summary_go) ||
	    write_file("600_performance_test_timeseries.jsonl", "") ||
	    write_file("600_performance_test_message_rates.json",
		       "{\"1685620801\": 9}") ||
	    /* 700: an empty summary. */
	    write_file("700_performance_test_summary.json", "") ||
	    write_file("notes.txt", "not a run\n") ||
	    write_file("500_performance_test_summary.json.tmp.77", "{"))
		goto out;

	if (load(&r, "100_performance_test_summary.json") != 0 ||
	    r.src != REP_SRC_SERIES || r.s.n != 3 || !r.has_esme ||
	    strcmp(r.name, "100_performance_test_summary.json"))
		goto out_free;
	rep_run_free(&r);
	if (load(&r, "200_performance_test_summary.json") != 0 ||
	    r.src != REP_SRC_RATES || r.s.n != 2 || r.has_esme ||
	    !near(r.s.t[0], 1.5) || r.s.sent[1] != 7)
		goto out_free;
	rep_run_free(&r);
	if (load(&r, "300_performance_test_summary.json") != 0 ||
	    r.src != REP_SRC_NONE || r.s.n != 0 || r.messages_sent != 123456)
		goto out_free;
	rep_run_free(&r);
	/* Errors name the file (and the line). */
	if (load(&r, "400_performance_test_summary.json") >= 0 ||
	    !strstr(err, "400_performance_test_timeseries.jsonl: line 2: "
			 "not valid JSON"))
		goto out_free;
	rep_run_free(&r);
	if (load(&r, "600_performance_test_summary.json") != 0 ||
	    r.src != REP_SRC_RATES || r.s.n != 1 || r.s.sent[0] != 9)
		goto out_free;
	rep_run_free(&r);
	if (load(&r, "700_performance_test_summary.json") >= 0 ||
	    !strstr(err, "700_performance_test_summary.json: empty file"))
		goto out_free;
	rep_run_free(&r);
	if (load(&r, "900_performance_test_summary.json") != -ENOENT ||
	    !strstr(err, "900_performance_test_summary.json: No such file"))
		goto out_free;
	rep_run_free(&r);
	if (load(&r, "notes.txt") >= 0 ||
	    !strstr(err, "notes.txt: not valid JSON"))
		goto out_free;
	rep_run_free(&r);
	if (load(&r, "") >= 0)
		goto out_free;
	rep_run_free(&r);

	/* A directory: its summaries in name order, nothing else. */
	if (rep_paths_add(&ps, dir, err, sizeof(err)) != 0 || ps.n != 6 ||
	    !strstr(ps.v[0], "/100_performance") ||
	    !strstr(ps.v[5], "/700_performance") ||
	    strstr(ps.v[0], "//"))
		goto out_paths;
	/* A file is taken as named; a missing one is an error. */
	snprintf(p, sizeof(p), "%s/notes.txt", dir);
	if (rep_paths_add(&ps, p, err, sizeof(err)) != 0 || ps.n != 7 ||
	    strcmp(ps.v[6], p))
		goto out_paths;
	if (rep_paths_add(&ps, "/nonexistent/x", err, sizeof(err)) >= 0 ||
	    !strstr(err, "/nonexistent/x: No such file"))
		goto out_paths;
	snprintf(p, sizeof(p), "%s/empty", dir);
	if (mkdir(p, 0700) < 0 ||
	    rep_paths_add(&ps, p, err, sizeof(err)) >= 0 ||
	    !strstr(err, "/empty: no *_performance_test_summary.json"))
		goto out_paths;
	ret = 0;
out_paths:
	rep_paths_free(&ps);
	goto out;
out_free:
	fprintf(stderr, "load: %s\n", err);
	rep_run_free(&r);
out:
	test_remove_dir(dir);
	return ret;
}

/* ---- ticks, scales, paths ---- */

static int is_nice(double step)
{
	double m = step / pow(10, floor(log10(step) + 1e-9));

	return near(m, 1) || near(m, 2) || near(m, 5);
}

static int test_ticks(void)
{
	static const struct {
		double lo, hi;
		int target;
		double tlo, thi, step;
		int n;
	} cases[] = {
		{ 0, 2630, 6, 0, 3000, 500, 6 },   /* the thesis's rate axis */
		{ 0, 150, 6, 0, 150, 50, 3 },      /* and its time axis */
		{ 0, 1667, 6, 0, 2000, 500, 4 },
		{ 0, 121, 6, 0, 150, 50, 3 },
		{ 0.3, 0.7, 4, 0.3, 0.7, 0.1, 4 }, /* no 0.30000000000000004 */
		{ 0, 0, 6, 0, 1, 0.2, 5 },
		{ 5, 5, 5, 0, 5, 1, 5 },
		{ -3, 7, 5, -5, 10, 5, 3 },
		{ 7, -3, 5, -5, 10, 5, 3 },
		{ 1e9, 1e9 + 10, 5, 1e9, 1e9 + 10, 2, 5 },
		{ 0, 1e-6, 5, 0, 1e-6, 2e-7, 5 },
	};
	struct svg_ticks t;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int n = svg_nice_ticks(cases[i].lo, cases[i].hi,
				       cases[i].target, &t);
		double eps = fabs(cases[i].step) * 1e-9;

		if (n != cases[i].n || fabs(t.lo - cases[i].tlo) > eps ||
		    fabs(t.hi - cases[i].thi) > eps ||
		    fabs(t.step - cases[i].step) > eps) {
			fprintf(stderr, "case %zu: n %d %g..%g step %g\n", i, n,
				t.lo, t.hi, t.step);
			return __LINE__;
		}
	}
	check(svg_nice_ticks(NAN, 1, 5, &t) == -EINVAL);
	check(svg_nice_ticks(0, INFINITY, 5, &t) == -EINVAL);
	check(svg_nice_ticks(0, 1, 0, &t) == -EINVAL);
	check(svg_nice_ticks(0, 1, 1, &t) == -EINVAL);
	/* Alignment costs an interval: 10 x the first magnitude is not
	 * always enough. */
	check_eq(svg_nice_ticks(0.59000724437181251, 0.5900715630008242, 7,
				&t), 4);
	check(near(t.step, 2e-5));

	/* Any range: covered, within the target, steps of 1/2/5 x 10^k,
	 * and no wider than needed (the next smaller nice step would
	 * exceed the target). */
	srand(7);
	for (int i = 0; i < 20000; i++) {
		/* Values from 1e-4 to 1e8, spans within 3 decades of
		 * them (as data ranges are). */
		int e = rand() % 12 - 4;
		double a = (rand() / (double)RAND_MAX - 0.3) * pow(10, e);
		double b = a + rand() / (double)RAND_MAX *
			       pow(10, e + rand() % 7 - 3);
		int target = 2 + rand() % 9;
		int n = svg_nice_ticks(a, b, target, &t);

		double tol = t.step * 1e-9 + fmax(fabs(a), fabs(b)) * 1e-12;
		double k = t.lo / t.step;

		if (n < 1 || n > target)
			fprintf(stderr, "%.17g..%.17g /%d: n %d %.17g..%.17g "
				"step %g\n", a, b, target, n, t.lo, t.hi,
				t.step);
		check(n >= 1 && n <= target);
		check(t.lo <= a + tol && t.hi >= b - tol);
		check(is_nice(t.step));
		check(fabs(k - round(k)) <= 1e-6 * fmax(1, fabs(k)));
		if (b > a) {
			double m = t.step / pow(10, floor(log10(t.step) + 1e-9));
			double smaller = near(m, 1) ? t.step / 2
				       : near(m, 2) ? t.step / 2
						    : t.step * 2 / 5;

			/* The smaller step would not have fitted. */

			check(ceil(b / smaller - 1e-9) -
				      floor(a / smaller + 1e-9) > target);
		}
	}
	return 0;
}

static int test_fmt_num(void)
{
	static const struct {
		double v, step;
		const char *s;
	} cases[] = {
		{ 2500, 500, "2500" }, { 0, 500, "0" }, { 0.5, 0.1, "0.5" },
		{ 0.25, 0.05, "0.25" }, { 0.3, 0.1, "0.3" },
		{ 0.30000000000000004, 0.1, "0.3" }, { 15000, 5000, "15k" },
		{ 10500, 500, "10.5k" }, { 2e6, 5e5, "2M" },
		{ 2.5e6, 5e5, "2.5M" }, { -1e-17, 0.1, "0" },
		{ 0.01, 0.01, "0.01" }, { -20, 10, "-20" }, { 1000, 1000, "1000" },
		{ 100000, 20000, "100k" }, { 1e-6, 2e-7, "0.0000010" },
	};
	char b[32];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = svg_fmt_num(b, sizeof(b), cases[i].v, cases[i].step);

		if (strcmp(b, cases[i].s) || n != strlen(b)) {
			fprintf(stderr, "case %zu: \"%s\"\n", i, b);
			return __LINE__;
		}
	}
	check_eq(svg_fmt_num(b, 3, 12345, 1), 0);
	check_eq(svg_fmt_num(b, sizeof(b), NAN, 1), 0);
	check(!strcmp(b, ""));
	return 0;
}

static int test_scale(void)
{
	struct svg_chart c;
	FILE *f = fopen("/dev/null", "w");

	check(f != NULL);
	svg_begin(&c, f, 960, 400, 1, "t", "t");
	svg_axis_fit(&c.x, SVG_LINEAR, 0, 2630, 8, "x");
	svg_axis_fit(&c.y, SVG_LOG, 0.23, 870, 6, "y");
	fclose(f);
	check(c.x.lo == 0 && c.x.hi == 3000 && c.x.step == 500);
	check(c.y.scale == SVG_LOG && near(c.y.lo, 0.1) && near(c.y.hi, 1000));
	/* The plot area leaves room for labels and one legend row. */
	check(c.x0 > 40 && c.x1 < 960 && c.y1 > 22 && c.y0 < 400 - 30);
	check(near(svg_px(&c, 0), c.x0) && near(svg_px(&c, 3000), c.x1));
	check(near(svg_px(&c, 1500), (c.x0 + c.x1) / 2));
	/* y grows downwards; on a log axis 1 and 10 split it in quarters. */
	check(near(svg_py(&c, 0.1), c.y0) && near(svg_py(&c, 1000), c.y1));
	check(near(svg_py(&c, 1), c.y0 - (c.y0 - c.y1) / 4));
	check(near(svg_py(&c, 10), (c.y0 + c.y1) / 2));
	check(isnan(svg_py(&c, 0)) && isnan(svg_py(&c, -1)));
	/* A log axis that cannot be (no positive value) falls back. */
	svg_axis_fit(&c.y, SVG_LOG, 0, 5, 6, "y");
	check(c.y.scale == SVG_LINEAR && c.y.lo == 0 && c.y.hi == 5);
	svg_axis_fit(&c.y, SVG_LOG, 2, 2, 6, "y");
	check(near(c.y.lo, 1) && near(c.y.hi, 10));
	return 0;
}

static char *mem;
static size_t memlen;

static int count_str(const char *s, const char *sub)
{
	int n = 0;

	for (const char *p = s; (p = strstr(p, sub)); p++)
		n++;
	return n;
}

static int test_path(void)
{
	enum { N = 20000 };
	static double x[N], y[N];
	struct svg_chart c;
	FILE *f = open_memstream(&mem, &memlen);

	check(f != NULL);
	for (int i = 0; i < N; i++) {
		x[i] = i;
		y[i] = i % 2 ? 100 : 0; /* worst case: every point a swing */
	}
	y[N / 2] = NAN;
	svg_begin(&c, f, 960, 400, 0, "p", "p");
	svg_axis_fit(&c.x, SVG_LINEAR, 0, N, 8, NULL);
	svg_axis_fit(&c.y, SVG_LINEAR, 0, 100, 6, NULL);
	svg_path(&c, x, y, N, "#123456", SVG_DASHED, 1.5);
	fclose(f);
	/* 860 pixel columns: at most 4 points each, not 20000. */
	check(memlen < 860 * 4 * 14 + 2000);
	check(strstr(mem, "stroke=\"#123456\"") && strstr(mem, "stroke-dasharray"));
	/* The NaN splits the line in two pieces. */
	check_eq(count_str(mem, " d=\"M"), 1);
	check_eq(count_str(mem, "M"), 2);
	/* Both extremes survive: y 0 at the bottom, 100 at the top. */
	check(strstr(mem, " 342.0") && strstr(mem, " 14.0"));
	free(mem);

	/* A lone point (NaN on both sides) still shows as a dot. */
	f = open_memstream(&mem, &memlen);
	check(f != NULL);
	{
		double xs[3] = { 1, 2, 3 }, ys[3] = { NAN, 5, NAN };

		svg_begin(&c, f, 960, 400, 0, "q", "q");
		svg_axis_fit(&c.x, SVG_LINEAR, 0, 4, 8, NULL);
		svg_axis_fit(&c.y, SVG_LINEAR, 0, 10, 6, NULL);
		svg_path(&c, xs, ys, 3, "red", SVG_SOLID, 2);
	}
	fclose(f);
	check(strstr(mem, "h0.1\"") != NULL);
	free(mem);
	return 0;
}

static int test_legend_labels(void)
{
	struct svg_legend_item it[6];
	struct svg_chart c;
	FILE *f;

	for (int i = 0; i < 6; i++)
		it[i] = (struct svg_legend_item){
			"#1 1795685000, smi 100ms & more", "#000", SVG_SOLID, 0 };
	check_eq(svg_legend_rows(960, it, 1), 1);
	check_eq(svg_legend_rows(960, it, 3), 1); /* three fit a row */
	check_eq(svg_legend_rows(960, it, 4), 2);
	check_eq(svg_legend_rows(960, it, 6), 2);
	check_eq(svg_legend_rows(400, it, 6), 6);
	check_eq(svg_legend_rows(960, it, 0), 0);

	f = open_memstream(&mem, &memlen);
	check(f != NULL);
	svg_begin(&c, f, 960, 400, 3, "l", "a <title> & \"more\"");
	svg_axis_fit(&c.x, SVG_LINEAR, 0, 300, 8, "chats");
	svg_axis_fit(&c.y, SVG_LINEAR, 0, 3000, 6, "rate");
	svg_axes(&c);
	svg_legend(&c, it, 6);
	/* Three markers at nearly one place: labels must not overlap. */
	for (int i = 0; i < 3; i++)
		svg_marker(&c, 250 + i, 2500, "#f00");
	svg_marker_label(&c, 250, 2500, "#1");
	svg_marker_label(&c, 251, 2500, "#2");
	svg_marker_label(&c, 252, 2500, "#3");
	svg_end(&c);
	fclose(f);
	check(strstr(mem, "aria-label=\"a &lt;title&gt; &amp; &quot;more&quot;\""));
	check(!strstr(mem, "<title>a <title>"));
	check_eq(count_str(mem, "smi 100ms &amp; more</text>"), 6);
	check_eq(c.nbox, 6);
	for (unsigned i = 3; i < 6; i++)
		for (unsigned j = 0; j < 6; j++) {
			const struct svg_box *a = &c.box[i], *b = &c.box[j];

			if (i == j)
				continue;
			check(!(a->x0 < b->x1 && b->x0 < a->x1 &&
				a->y0 < b->y1 && b->y0 < a->y1));
		}
	check(strstr(mem, "</svg>") != NULL);
	free(mem);
	return 0;
}

/* ---- HTML ---- */

static int esc(const char *in, size_t n, const char *want)
{
	FILE *f = open_memstream(&mem, &memlen);
	int ok;

	if (!f)
		return 0;
	rep_html_esc(f, in, n);
	fclose(f);
	ok = !strcmp(mem, want);
	if (!ok)
		fprintf(stderr, "esc: \"%s\" != \"%s\"\n", mem, want);
	free(mem);
	return ok;
}

#define ESC(in, want) esc(in, sizeof(in) - 1, want)

static int test_html_esc(void)
{
	check(ESC("<a href='x'>&\"</a>",
		  "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"));
	check(ESC("plain, \xC2\xB5s, \xE2\x80\x93, \xF0\x9F\x98\x80\t\n",
		  "plain, \xC2\xB5s, \xE2\x80\x93, \xF0\x9F\x98\x80\t\n"));
	/* Invalid UTF-8 and controls become U+FFFD, one per bad byte. */
	check(ESC("a\xFF" "b", "a\xEF\xBF\xBD" "b"));
	check(ESC("\x01\x7F", "\xEF\xBF\xBD\xEF\xBF\xBD"));
	check(ESC("\xC0\xAF", "\xEF\xBF\xBD\xEF\xBF\xBD"));   /* overlong */
	check(ESC("\xED\xA0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"));
	check(ESC("\xC2\x85", "\xEF\xBF\xBD"));               /* C1 */
	check(ESC("\xE2\x80", "\xEF\xBF\xBD\xEF\xBF\xBD"));   /* cut short */
	check(ESC("a\0b", "a\xEF\xBF\xBD" "b"));
	return 0;
}

static int test_html_page(void)
{
	struct rep_run runs[2];
	FILE *f;

	check_eq(parse_sum(&runs[0], summary_full), 0);
	snprintf(runs[0].first_error, sizeof(runs[0].first_error),
		 "</td><script>x()</script>");
	check_eq(rep_parse_series(&runs[0], series3, strlen(series3), err,
				  sizeof(err)), 0);
	check_eq(parse_sum(&runs[1], summary_go), 0);
	strcpy(runs[1].path, "dir/<b>&_performance_test_summary.json");
	runs[1].name = runs[1].path + 4;
	check_eq(rep_parse_rates(&runs[1], "{\"1685620801\": 5}", 17, err,
				 sizeof(err)), 0);

	f = open_memstream(&mem, &memlen);
	check(f != NULL);
	check_eq(rep_html_write(f, runs, 2), 0);
	fclose(f);
	check(!strncmp(mem, "<!DOCTYPE html>", 15));
	check(strstr(mem, "</html>\n") != NULL);
	check_eq(count_str(mem, "<svg "), 4);
	check_eq(count_str(mem, "</svg>"), 4);
	check_eq(count_str(mem, "<tr class=\"run\">"), 2);
	check_eq(count_str(mem, "<tr class=\"outcome\">"), 2);
	check(!strstr(mem, "http:") && !strstr(mem, "https:"));
	check(!strstr(mem, "<script"));
	check(strstr(mem, "&lt;/td&gt;&lt;script&gt;x()&lt;/script&gt;"));
	check(strstr(mem, "dir/&lt;b&gt;&amp;_performance_test_summary.json"));
	check(!strstr(mem, "<b>&"));
	/* The table: figures, and "-" for what the Go tool lacks. */
	check(strstr(mem, "<td>6,174</td><td>6,173</td><td>99.984&nbsp;%</td>"));
	check(strstr(mem, "<td>123,456</td><td class=\"na\">"));
	check(strstr(mem, "the tester kept up: lag p99 0.1 ms"));
	check(strstr(mem, "5.0 s") && strstr(mem, "2 min 23.8 s"));
	check(strstr(mem, "no esmeload object"));
	free(mem);
	rep_run_free(&runs[0]);
	rep_run_free(&runs[1]);

	/* Go tool runs only: the series charts say why they are empty. */
	check_eq(parse_sum(&runs[0], summary_go), 0);
	f = open_memstream(&mem, &memlen);
	check(f != NULL);
	check_eq(rep_html_write(f, runs, 1), 0);
	fclose(f);
	check_eq(count_str(mem, "<svg "), 0);
	check_eq(count_str(mem, "class=\"nodata\""), 7);
	check_eq(count_str(mem, "<tr class=\"run\">"), 1);
	free(mem);
	return 0;
}

/* 1 when the chart of this id exists and has drawn a line. */
static int chart_drawn(const char *page, const char *id)
{
	char key[96];
	const char *a, *b;

	snprintf(key, sizeof(key), "<svg id=\"%s\"", id);
	a = strstr(page, key);
	b = a ? strstr(a, "</svg>") : NULL;
	if (!b)
		return 0;
	for (const char *p = strstr(a, "<path "); p && p < b;
	     p = strstr(p + 1, "<path "))
		if (strstr(p, "d=\"M") && strstr(p, "d=\"M") < b)
			return 1;
	return 0;
}

/* A summary with esmeload.histograms: the three distribution charts
 * draw them; a broken one is refused by name. */
static int test_dist_charts(void)
{
	static struct hist h;
	static char js[256 * 1024], hj[64 * 1024];
	const char *at = strstr(summary_full, "\"esmeload\": {");
	struct rep_run run;
	struct jw w;
	FILE *f;
	long n;
	int k;

	check(at != NULL);
	hist_reset(&h);
	for (int i = 1; i <= 5000; i++)
		hist_add(&h, (uint64_t)(100 + (i * 7919) % 20000));
	jw_init(&w, hj, sizeof(hj));
	histjson_write(&w, &h);
	n = jw_finish(&w);
	check(n > 0);
	hj[n] = 0;
	k = snprintf(js, sizeof(js), "%.*s\"esmeload\": {\"histograms\": "
		     "{\"latency\": %s, \"latency_actual\": %s, "
		     "\"time_to_chat\": %s, \"connect\": %s},%s",
		     (int)(at - summary_full), summary_full, hj, hj, hj, hj,
		     at + strlen("\"esmeload\": {"));
	check(k > 0 && (size_t)k < sizeof(js));
	check_eq(parse_sum(&run, js), 0);
	check(run.dist[REP_D_LAT] && run.dist[REP_D_LAT]->count == 5000);
	check(run.dist[REP_D_SIGNUP] == NULL && run.dist[REP_D_CONNECT]);
	check_eq(hist_quantile(run.dist[REP_D_TTC], 0.99),
		 hist_quantile(&h, 0.99));
	f = open_memstream(&mem, &memlen);
	check(f != NULL);
	check_eq(rep_html_write(f, &run, 1), 0);
	fclose(f);
	check(chart_drawn(mem, "chart-latency-dist"));
	check(chart_drawn(mem, "chart-ttc-dist"));
	check(chart_drawn(mem, "chart-phases-dist"));
	check(strstr(mem, "1000 = p99.9"));
	free(mem);
	rep_run_free(&run);
	check(run.dist[REP_D_LAT] == NULL);

	/* a histogram that does not add up */
	k = snprintf(js, sizeof(js), "%.*s\"esmeload\": {\"histograms\": "
		     "{\"time_to_chat\": {\"count\": 3, \"sum\": 1, \"min\": 1, "
		     "\"max\": 1, \"buckets\": [1, 1]}},%s",
		     (int)(at - summary_full), summary_full,
		     at + strlen("\"esmeload\": {"));
	check(k > 0 && (size_t)k < sizeof(js));
	check(parse_sum(&run, js) < 0);
	check(strstr(err, "esmeload.histograms.time_to_chat"));
	rep_run_free(&run);
	return 0;
}

/* ---- compare ---- */

static int test_compare(void)
{
	struct rep_cmp_row rows[REP_CMP_ROWS];
	struct rep_run a, b;

	check_eq(parse_sum(&a, summary_full), 0);
	check_eq(parse_sum(&b, summary_full), 0);
	b.sent = 7408.8;        /* +20 % */
	b.lat.p99 = 0.65;       /* -50 %, lower is better */
	b.cpu_percent = 25;     /* +100 %, worse */
	b.errors_total = 0;     /* -100 % */
	b.chats_count = 251;    /* same */
	/* Plain runs: no row of the opt-in behaviours. */
	check_eq(rep_compare_rows(&a, &b, rows), REP_CMP_BASE_ROWS);
	check(!strcmp(rows[0].key, "sent") && near(rows[0].change_pct, 20));
	check(rows[0].better == REP_HIGHER && rows[0].verdict == 1);
	check(!strcmp(rows[6].key, "latency_p99_ms"));
	check(near(rows[6].change_pct, -50) && rows[6].better == REP_LOWER &&
	      rows[6].verdict == 1);
	check(!strcmp(rows[10].key, "tester_cpu_percent"));
	check(near(rows[10].change_pct, 100) && rows[10].verdict == -1);
	check(!strcmp(rows[13].key, "errors_total"));
	check(near(rows[13].change_pct, -100) && rows[13].verdict == 1);
	check(!strcmp(rows[11].key, "chats") && rows[11].change_pct == 0 &&
	      rows[11].verdict == 0);
	check(!strcmp(rows[3].key, "messages_per_s"));
	check(near(rows[3].a, 6174 / 4.9) && near(rows[3].change_pct, 20));
	check(!strcmp(rows[9].key, "lag_p99_ms") && near(rows[9].a, 0.05));

	/* From 0: no percentage, but a direction. */
	a.errors_total = 0;
	b.errors_total = 4;
	rep_compare_rows(&a, &b, rows);
	check(isnan(rows[13].change_pct) && rows[13].verdict == -1);
	b.errors_total = 0;
	rep_compare_rows(&a, &b, rows);
	check(rows[13].change_pct == 0 && rows[13].verdict == 0);

	/* Against a Go tool run: its missing figures stay missing. */
	check_eq(parse_sum(&b, summary_go), 0);
	check_eq(rep_compare_rows(&a, &b, rows), REP_CMP_BASE_ROWS);
	check(near(rows[0].b, 123456) && isfinite(rows[0].change_pct));
	check(isnan(rows[1].b) && isnan(rows[1].change_pct) &&
	      rows[1].verdict == 0);
	check(isnan(rows[4].b) && isnan(rows[10].b));
	for (int i = 0; i < REP_CMP_BASE_ROWS; i++)
		check(rows[i].key && rows[i].label);
	return 0;
}

/* ---- the opt-in behaviours: replies, chats that end, reconnects,
 * devices ---- */

static const char behaviours_json[] =
"\"replies\": {\"scheduled\": 120, \"sent\": 118, \"received\": 110, "
"\"in_flight\": 3, \"dropped\": 2, \"missed\": 5, \"latency_ms\": "
"{\"p50\": 1000.5, \"p90\": 1001, \"p99\": 1003.25, \"p99_9\": 1010, "
"\"max\": 1020}},\n"
"\"chats\": {\"opened\": 260, \"closed\": 200, \"active\": 60, "
"\"reopened\": 150, \"closes_sent\": 201, \"refused_after_close\": 4, "
"\"accounted\": true},\n"
"\"reconnects\": {\"drops_tester\": 40, \"drops_server\": 1, "
"\"rejoined\": 39, \"back_in_chat_ms\": {\"p50\": 3.5, \"p90\": 5, "
"\"p99\": 8.25, \"p99_9\": 9, \"max\": 9.5}, \"echoes_after_drop\": 3, "
"\"history\": {\"checks\": 39, \"missing\": 0, \"duplicated\": 1, "
"\"recovered\": 2, \"unexpected\": 0, \"truncated\": 4, \"passed\": false}},\n"
"\"devices\": {\"participant\": 2, \"organizer\": 3, "
"\"copies_expected\": 500, \"copies_received\": 497, "
"\"organizer_copies_expected\": 40, \"organizer_copies_received\": 41},\n";

/* summary_full with text put first into its esmeload object. */
static int sum_with(struct rep_run *r, const char *text)
{
	static char js[256 * 1024];
	const char *at = strstr(summary_full, "\"esmeload\": {");
	int k;

	if (!at)
		return -1;
	k = snprintf(js, sizeof(js), "%.*s\"esmeload\": {%s%s",
		     (int)(at - summary_full), summary_full, text,
		     at + strlen("\"esmeload\": {"));
	if (k < 0 || (size_t)k >= sizeof(js))
		return -1;
	return parse_sum(r, js);
}

/* Four seconds of a run with every behaviour on, as series.c writes. */
static const char series_bhv[] =
"{\"elapsed_s\":1.0,\"sent\":10,\"chats\":5,\"replies_sent\":0,"
"\"replies_received\":0,\"reply_p99_ms\":null,\"replies_in_flight\":0,"
"\"chats_closed\":0,\"chats_reopened\":0,\"refused_after_close\":0,"
"\"chats_active\":5,\"drops_tester\":0,\"drops_server\":0,"
"\"reconnects\":0,\"rejoin_p99_ms\":null,\"history_missing\":0,"
"\"history_duplicated\":0,\"device_copies_missing\":2}\n"
"{\"elapsed_s\":2.0,\"sent\":20,\"chats\":9,\"replies_sent\":4,"
"\"replies_received\":3,\"reply_p99_ms\":1002.5,\"replies_in_flight\":1,"
"\"chats_closed\":2,\"chats_reopened\":0,\"refused_after_close\":1,"
"\"chats_active\":7,\"drops_tester\":3,\"drops_server\":1,"
"\"reconnects\":2,\"rejoin_p99_ms\":6.5,\"history_missing\":0,"
"\"history_duplicated\":0,\"device_copies_missing\":0}\n"
"{\"elapsed_s\":3.0,\"sent\":20,\"chats\":12,\"replies_sent\":6,"
"\"replies_received\":7,\"chats_active\":6,\"drops_tester\":2,"
"\"drops_server\":0,\"reconnects\":4}\n";

static int test_behaviours_read(void)
{
	struct rep_run r;

	check_eq(sum_with(&r, behaviours_json), 0);
	check(r.has_replies && r.has_chats && r.has_reconnects &&
	      r.has_devices);
	check(r.replies_scheduled == 120 && r.replies_sent == 118 &&
	      r.replies_received == 110 && r.replies_in_flight == 3 &&
	      r.replies_dropped == 2 && r.replies_missed == 5);
	check(r.replies_sent == r.replies_received + r.replies_missed +
	      r.replies_in_flight);
	check(near(r.reply_lat.p99, 1003.25) && r.reply_lat.max == 1020);
	check(r.chats_opened == 260 && r.chats_closed == 200 &&
	      r.chats_active == 60 && r.chats_reopened == 150 &&
	      r.closes_sent == 201 && r.refused_after_close == 4);
	check(r.drops_tester == 40 && r.drops_server == 1 && r.rejoined == 39 &&
	      r.echoes_after_drop == 3);
	check(near(r.back_in_chat.p99, 8.25));
	check(r.hist_checks == 39 && r.hist_missing == 0 &&
	      r.hist_duplicated == 1 && r.hist_recovered == 2 &&
	      r.hist_unexpected == 0 && r.hist_truncated == 4 &&
	      r.hist_passed == 0);
	check(r.devices == 2 && r.org_devices == 3);
	/* 3 of the participants' copies; the organizers' extra one is not
	 * a missing one */
	check(rep_copies_missing(&r) == 3);
	/* the plain run's figures are still there */
	check(r.sent == 6174 && near(r.lat.p99, 1.3));
	rep_run_free(&r);

	/* null: the behaviour was off; absent: an older file */
	check_eq(sum_with(&r, "\"replies\": null, \"chats\": null, "
			  "\"reconnects\": null, \"devices\": null,"), 0);
	check(!r.has_replies && !r.has_chats && !r.has_reconnects &&
	      !r.has_devices);
	check(isnan(r.replies_received) && isnan(r.reply_lat.p99) &&
	      isnan(r.chats_closed) && isnan(r.rejoined) &&
	      isnan(r.back_in_chat.p99) && isnan(r.hist_missing));
	check(r.hist_passed == -1 && isnan(rep_copies_missing(&r)));
	check_eq(parse_sum(&r, summary_full), 0);
	check(!r.has_replies && isnan(r.chats_active) &&
	      isnan(rep_copies_missing(&r)));

	/* a wrong type is refused by its whole name */
	check(sum_with(&r, "\"chats\": 3,") < 0);
	check(strstr(err, "esmeload.chats: not an object"));
	check(sum_with(&r, "\"reconnects\": {\"history\": "
			   "{\"missing\": \"none\"}},") < 0);
	check(strstr(err, "esmeload.reconnects.history.missing"));
	check(sum_with(&r, "\"replies\": {\"latency_ms\": "
			   "{\"p99\": true}},") < 0);
	check(strstr(err, "esmeload.replies.latency_ms.p99"));

	/* the time series: each figure per second, NaN where a line lacks
	 * it, and NaN throughout for a plain run's lines */
	check_eq(parse_series(&r, series_bhv, strlen(series_bhv)), 0);
	check_eq(r.s.n, 3);
	check(r.s.x[REP_X_REPLIES_SENT][1] == 4 &&
	      r.s.x[REP_X_REPLIES_RECEIVED][2] == 7);
	check(r.s.x[REP_X_CHATS_ACTIVE][0] == 5 &&
	      r.s.x[REP_X_CHATS_ACTIVE][2] == 6);
	check(r.s.x[REP_X_RECONNECTS][1] == 2 &&
	      r.s.x[REP_X_DROPS_TESTER][1] == 3 &&
	      r.s.x[REP_X_DROPS_SERVER][1] == 1);
	rep_run_free(&r);
	check_eq(parse_series(&r, series3, strlen(series3)), 0);
	for (int k = 0; k < REP_NX; k++)
		for (size_t i = 0; i < r.s.n; i++)
			check(isnan(r.s.x[k][i]));
	rep_run_free(&r);
	{
		static const char bad[] = "{\"elapsed_s\":1,\"sent\":1,"
					  "\"reconnects\":\"x\"}\n";

		check_eq(parse_series(&r, bad, strlen(bad)), -EINVAL);
	}
	check(strstr(err, "line 1: reconnects"));
	rep_run_free(&r);
	return 0;
}

static int test_behaviours_page(void)
{
	static const char *const ids[] = {
		"chart-replies", "chart-chats-active", "chart-reconnects",
		"chart-reply-dist", "chart-rejoin-dist",
	};
	static char text[160 * 1024], hj[64 * 1024];
	static struct hist h;
	struct rep_run runs[2];
	struct jw w;
	FILE *f;
	long n;

	hist_reset(&h);
	for (int i = 1; i <= 800; i++)
		hist_add(&h, (uint64_t)(1000000 + (i * 7919) % 20000));
	jw_init(&w, hj, sizeof(hj));
	histjson_write(&w, &h);
	n = jw_finish(&w);
	check(n > 0);
	hj[n] = 0;
	check((size_t)snprintf(text, sizeof(text), "%s\"histograms\": "
			       "{\"reply_latency\": %s, \"rejoin\": %s},",
			       behaviours_json, hj, hj) < sizeof(text));
	check_eq(sum_with(&runs[0], text), 0);
	check(runs[0].dist[REP_D_REPLY] &&
	      runs[0].dist[REP_D_REPLY]->count == 800 &&
	      runs[0].dist[REP_D_REJOIN]);
	check_eq(rep_parse_series(&runs[0], series_bhv, strlen(series_bhv),
				  err, sizeof(err)), 0);
	check_eq(parse_sum(&runs[1], summary_full), 0);
	check_eq(rep_parse_series(&runs[1], series3, strlen(series3), err,
				  sizeof(err)), 0);

	/* with the behaviours: their charts drawn, their table's row */
	f = open_memstream(&mem, &memlen);
	check(f != NULL);
	check_eq(rep_html_write(f, runs, 2), 0);
	fclose(f);
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		check(chart_drawn(mem, ids[i]));
	check_eq(count_str(mem, "<svg "), 9);
	check_eq(count_str(mem, "<tr class=\"behaviour\">"), 1);
	check_eq(count_str(mem, "<tr class=\"run\">"), 2);
	/* duplicated 1 and copies missing 3 are faults */
	check(strstr(mem, "<td>0</td><td class=\"bad\">1</td><td>2</td>"
			  "<td class=\"bad\">3</td></tr>"));
	check(strstr(mem, "the chats still open are charted below"));
	free(mem);

	/* the plain run alone: none of them, not even empty */
	f = open_memstream(&mem, &memlen);
	check(f != NULL);
	check_eq(rep_html_write(f, &runs[1], 1), 0);
	fclose(f);
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		check(!strstr(mem, ids[i]));
	check_eq(count_str(mem, "<svg "), 4);
	check(!strstr(mem, "id=\"behaviours\""));
	check(strstr(mem, "participants never close a chat"));
	free(mem);
	rep_run_free(&runs[0]);
	rep_run_free(&runs[1]);
	return 0;
}

static int test_behaviours_compare(void)
{
	struct rep_cmp_row rows[REP_CMP_ROWS];
	static const char *const keys[] = {
		"replies_received", "reply_p99_ms", "chats_closed",
		"reconnects", "back_in_chat_p99_ms", "history_missing",
		"history_duplicated", "history_truncated", "device_copies_missing",
	};
	static const enum rep_better better[] = {
		REP_HIGHER, REP_LOWER, REP_HIGHER, REP_HIGHER, REP_LOWER,
		REP_LOWER, REP_LOWER, REP_LOWER, REP_LOWER,
	};
	struct rep_run a, b;
	int n;

	check_eq(sum_with(&a, behaviours_json), 0);
	check_eq(sum_with(&b, behaviours_json), 0);
	b.replies_received = 118;    /* more: better */
	b.reply_lat.p99 = 2006.5;    /* +100 %: worse */
	b.rejoined = 40;
	b.hist_duplicated = 0;       /* better */
	b.copies_received = 500;     /* none missing: better */
	n = rep_compare_rows(&a, &b, rows);
	check_eq(n, REP_CMP_ROWS);
	check_eq(n, REP_CMP_BASE_ROWS + 9);
	for (int i = 0; i < 9; i++) {
		const struct rep_cmp_row *r = &rows[REP_CMP_BASE_ROWS + i];

		check(!strcmp(r->key, keys[i]) && r->label);
		check_eq(r->better, better[i]);
	}
	check(rows[REP_CMP_BASE_ROWS].verdict == 1);
	check(rows[REP_CMP_BASE_ROWS + 1].verdict == -1 &&
	      near(rows[REP_CMP_BASE_ROWS + 1].change_pct, 100));
	check(rows[REP_CMP_BASE_ROWS + 2].verdict == 0);
	check(rows[REP_CMP_BASE_ROWS + 3].verdict == 1);
	check(rows[REP_CMP_BASE_ROWS + 5].verdict == 0 &&
	      rows[REP_CMP_BASE_ROWS + 5].change_pct == 0);
	check(rows[REP_CMP_BASE_ROWS + 6].verdict == 1);
	check(rows[REP_CMP_BASE_ROWS + 7].a == 4 &&
	      rows[REP_CMP_BASE_ROWS + 7].verdict == 0);
	check(rows[REP_CMP_BASE_ROWS + 8].a == 3 &&
	      rows[REP_CMP_BASE_ROWS + 8].b == 0 &&
	      rows[REP_CMP_BASE_ROWS + 8].verdict == 1);
	rep_run_free(&b);

	/* one side without them: shown, no change; only the behaviours
	 * a side has */
	check_eq(sum_with(&b, "\"chats\": {\"closed\": 5},"), 0);
	n = rep_compare_rows(&b, &a, rows);
	check_eq(n, REP_CMP_ROWS);
	check(isnan(rows[REP_CMP_BASE_ROWS].a) &&
	      isnan(rows[REP_CMP_BASE_ROWS].change_pct) &&
	      rows[REP_CMP_BASE_ROWS].verdict == 0);
	check_eq(parse_sum(&a, summary_full), 0);
	n = rep_compare_rows(&a, &b, rows);
	check_eq(n, REP_CMP_BASE_ROWS + 1);
	check(!strcmp(rows[n - 1].key, "chats_closed") &&
	      isnan(rows[n - 1].a) && rows[n - 1].b == 5);
	rep_run_free(&a);
	rep_run_free(&b);
	return 0;
}

/* The accounting and the arrival figures: read, compared, absent in
 * files that predate them. */
static int test_compare_arrivals(void)
{
	static const char js[] =
		"{\"messages_sent\": 10, \"esmeload\": {\"sent\": 10, "
		"\"delivered\": 7, \"in_flight\": 2, \"lost\": 1, "
		"\"arrival_lag_ms\": {\"p50\": 0.1, \"p90\": 0.2, \"p99\": 4, "
		"\"p99_9\": 5, \"max\": 6}, \"time_to_chat_ms\": {\"p50\": 20, "
		"\"p90\": 30, \"p99\": 80, \"p99_9\": 90, \"max\": 99}}}";
	struct rep_cmp_row rows[REP_CMP_ROWS];
	struct rep_run a, b;

	check_eq(parse_sum(&a, js), 0);
	check(a.in_flight == 2 && a.lost == 1);
	check(a.arrival_lag.p99 == 4 && a.to_chat.p50 == 20 &&
	      a.to_chat.p99 == 80);
	check_eq(parse_sum(&b, js), 0);
	b.lost = 0;
	b.to_chat.p99 = 40;
	rep_compare_rows(&a, &b, rows);
	check(!strcmp(rows[15].key, "lost") && rows[15].verdict == 1);
	check(!strcmp(rows[16].key, "arrival_lag_p99_ms") &&
	      rows[16].change_pct == 0);
	check(!strcmp(rows[18].key, "time_to_chat_p99_ms") &&
	      near(rows[18].change_pct, -50) && rows[18].verdict == 1);
	check_eq(parse_sum(&b, summary_go), 0);
	check(isnan(b.in_flight) && isnan(b.lost) && isnan(b.to_chat.p50));
	return 0;
}

TEST_MAIN(T(test_duration), T(test_summary_full), T(test_summary_go),
	  T(test_summary_strings), T(test_summary_bad), T(test_series),
	  T(test_series_truncated), T(test_series_bad), T(test_rates),
	  T(test_load_files), T(test_ticks), T(test_fmt_num), T(test_scale),
	  T(test_path), T(test_legend_labels), T(test_html_esc),
	  T(test_html_page), T(test_dist_charts), T(test_compare),
	  T(test_compare_arrivals), T(test_behaviours_read),
	  T(test_behaviours_page), T(test_behaviours_compare))
