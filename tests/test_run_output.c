/*
 * Tests of run/output: counters summed across workers, the summary and
 * message-rate files (keys, values, formats, order, indentation), atomic
 * writes and write errors.
 */
#include "run/run.h"
#include "run/worker.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "test.h"

#define NTOK 1024

static char dir[64];
static char out_text[16384], err_text[1024];

/* 2023-11-14T22:13:20.123456789Z */
#define ORG_NS 1700000000123456789LL
#define T0_NS (ORG_NS - 1000000)
#define END_NS (ORG_NS + 143810203000LL)

static int make_dir(void)
{
	strcpy(dir, "/tmp/test_run_output.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int count_files(const char *path, int *tmp_seen)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	*tmp_seen = 0;
	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		n++;
		if (strstr(e->d_name, ".tmp"))
			*tmp_seen = 1;
	}
	closedir(d);
	return n;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;

	if (!f)
		return NULL;
	buf = malloc(1 << 20);
	n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
	fclose(f);
	if (buf)
		buf[n] = 0;
	*len = n;
	return buf;
}

/* A fake finished run of two workers. */
static struct run *fake_run(void)
{
	static uint32_t rates0[5] = { 3, 0, 4, 0, 0 };
	static uint32_t rates1[6] = { 1, 0, 2, 5, 0, 7 };
	struct run *r = calloc(1, sizeof(*r));
	struct worker *w;

	if (!r)
		return NULL;
	w = calloc(2, sizeof(*w));
	if (!w) {
		free(r);
		return NULL;
	}
	r->w = w;
	r->nw = 2;
	r->o.sci_ms = 10;
	r->o.cpi_ms = 1000;
	r->o.smi_ms = 100000;
	r->o.log_ws = 1;
	r->o.out_dir = dir;
	r->t0_real_ns = T0_NS;
	r->org_start_real_ns = ORG_NS;
	r->part_start_real_ns = 0; /* falls back to t0 */
	r->end_real_ns = END_NS;
	r->files_unix = 1700000000; /* the files' prefix, chosen by run.c */
	r->stop_reason = STOP_ERROR;
	strcpy(r->first_err, "ws handshake: \"timeout\" after 45s");
	r->has_first_err = 1;

	w[0].sc.c.created = 10;
	w[0].sc.c.connected = 9;
	w[0].sc.c.chats = 8;
	w[0].sc.c.sent = 100;
	w[0].sc.c.delivered = 90;
	w[0].sc.c.org_received = 80;
	w[0].sc.c.start_chats = 70;
	w[0].sc.c.new_chats = 6;
	w[0].sc.c.no_new_chats = 5;
	w[0].sc.c.err[RE_SERVER] = 4;
	w[0].sc.c.err[RE_CONNECT] = 2;
	w[0].sc.c.enobufs = 3;
	w[0].sc.c.part_failed = 2;
	w[1].sc.c.created = 20;
	w[1].sc.c.connected = 19;
	w[1].sc.c.chats = 18;
	w[1].sc.c.sent = 23;
	w[1].sc.c.delivered = 21;
	w[1].sc.c.org_received = 1;
	w[1].sc.c.start_chats = 1;
	w[1].sc.c.new_chats = 1;
	w[1].sc.c.no_new_chats = 1;
	w[1].sc.c.err[RE_SERVER] = 1;
	w[1].sc.c.err[RE_HANDSHAKE] = 1;
	w[1].sc.c.err[RE_CONNECT] = 5;
	w[1].sc.c.enobufs = 4;
	w[1].sc.c.part_failed = 1;
	r->o.max_conns = 1234;

	/* Seconds 1700000000.. and 1699999998..: they overlap. */
	w[0].sc.rates = rates0;
	w[0].sc.rates_cap = 5;
	w[0].sc.rate_base = 1700000000;
	w[1].sc.rates = rates1;
	w[1].sc.rates_cap = 6;
	w[1].sc.rate_base = 1699999998;
	return r;
}

static void free_run(struct run *r)
{
	free(r->w);
	free(r);
}

/* run_write_outputs with stdout and stderr captured. */
static int write_outputs(struct run *r, char *path, size_t cap)
{
	FILE *t1 = tmpfile(), *t2 = tmpfile();
	int s1, s2, ret;
	size_t n;

	fflush(stdout);
	fflush(stderr);
	s1 = dup(1);
	s2 = dup(2);
	dup2(fileno(t1), 1);
	dup2(fileno(t2), 2);
	ret = run_write_outputs(r, path, cap);
	fflush(stdout);
	fflush(stderr);
	dup2(s1, 1);
	dup2(s2, 2);
	close(s1);
	close(s2);
	rewind(t1);
	n = fread(out_text, 1, sizeof(out_text) - 1, t1);
	out_text[n] = 0;
	rewind(t2);
	n = fread(err_text, 1, sizeof(err_text) - 1, t2);
	err_text[n] = 0;
	fclose(t1);
	fclose(t2);
	return ret;
}

/* The keys of the object at tok, in order, joined by commas. */
static void keys_of(const struct json_doc *d, int obj, char *out, size_t cap)
{
	int t = obj + 1;
	size_t n = 0;

	out[0] = 0;
	for (int k = 0; k < d->tok[obj].size; k++) {
		n += (size_t)snprintf(out + n, cap - n, "%s%.*s", k ? "," : "",
				      d->tok[t].end - d->tok[t].start,
				      d->js + d->tok[t].start);
		t = json_next(d, t + 1);
	}
}

static int str_is(const struct json_doc *d, int obj, const char *key,
		  const char *want)
{
	int t = json_find(d, obj, key);

	if (t < 0 || json_type(d, t) != JSMN_STRING || !json_str_eq(d, t, want)) {
		fprintf(stderr, "%s: want \"%s\", have %.*s\n", key, want,
			t < 0 ? 4 : d->tok[t].end - d->tok[t].start,
			t < 0 ? "none" : d->js + d->tok[t].start);
		return 0;
	}
	return 1;
}

static int int_is(const struct json_doc *d, int obj, const char *key,
		  int64_t want)
{
	int t = json_find(d, obj, key);
	int64_t v;

	if (t < 0 || json_get_i64(d, t, &v) < 0 || v != want) {
		fprintf(stderr, "%s: want %lld\n", key, (long long)want);
		return 0;
	}
	return 1;
}

static int test_err_names(void)
{
	static const char *const want[RE_COUNT] = {
		"connect", "http_status", "ws_handshake", "timeout", "recv",
		"send", "protocol", "no_chat", "closed", "server",
	};

	for (int k = 0; k < RE_COUNT; k++)
		check(!strcmp(run_err_names[k], want[k]));
	return 0;
}

static int test_sum(void)
{
	struct run *r = fake_run();
	struct run_counters t;

	check(r != NULL);
	memset(&t, 0xff, sizeof(t));
	run_sum(r, &t);
	check_eq(t.created, 30);
	check_eq(t.connected, 28);
	check_eq(t.chats, 26);
	check_eq(t.sent, 123);
	check_eq(t.delivered, 111);
	check_eq(t.org_received, 81);
	check_eq(t.start_chats, 71);
	check_eq(t.new_chats, 7);
	check_eq(t.no_new_chats, 6);
	check_eq(t.err[RE_SERVER], 5);
	check_eq(t.err[RE_CONNECT], 7);
	check_eq(t.err[RE_HANDSHAKE], 1);
	check_eq(t.err[RE_TIMEOUT], 0);
	check_eq(t.enobufs, 7);
	r->nw = 0;
	run_sum(r, &t);
	check_eq(t.sent, 0);
	check_eq(t.err[RE_CONNECT], 0);
	free_run(r);
	return 0;
}

static int test_files(void)
{
	struct run *r = fake_run();
	char path[512], rpath[512], keys[1024];
	jsmntok_t tok[NTOK];
	struct json_doc d;
	char *text;
	size_t len;
	int tmp_seen, c, e;

	check(r != NULL);
	check(make_dir() == 0);
	setenv("TZ", "UTC0", 1);
	tzset();
	check_eq(write_outputs(r, path, sizeof(path)), 0);
	/* Not --quiet: a summary for a person on stderr, naming the file
	 * (test_quiet_summary: none with --quiet). */
	check(!strncmp(err_text, "\nesmeload: ", 11));
	check(strstr(err_text, "\n  messages      ") != NULL);
	check(strstr(err_text, "\n  self-check    ") != NULL);
	check(strstr(err_text, "\n  files         ") != NULL);
	check(strstr(err_text, path) != NULL);
	/* <unix> is the start in whole seconds. */
	snprintf(rpath, sizeof(rpath), "%s/1700000000_performance_test_summary.json",
		 dir);
	check(!strcmp(path, rpath));
	check_eq(count_files(dir, &tmp_seen), 2);
	check_eq(tmp_seen, 0);

	text = slurp(path, &len);
	check(text != NULL);
	check(json_parse(&d, text, len, tok, NTOK) > 0);
	check_eq(json_type(&d, 0), JSMN_OBJECT);
	keys_of(&d, 0, keys, sizeof(keys));
	check(!strcmp(keys, "constants,description,organizer_time_started,"
		      "organizer_duration,participants_time_started,"
		      "participants_duration,messages_sent,chats_count,"
		      "created_participants_count,esmeload"));
	c = json_find(&d, 0, "constants");
	check(c > 0);
	keys_of(&d, c, keys, sizeof(keys));
	check(!strcmp(keys, "start_chat_interval,create_participant_interval,"
		      "send_message_interval,log_ws"));
	check(str_is(&d, c, "start_chat_interval", "10ms"));
	check(str_is(&d, c, "create_participant_interval", "1s"));
	check(str_is(&d, c, "send_message_interval", "1m40s"));
	check(!strncmp(text + d.tok[json_find(&d, c, "log_ws")].start, "true", 4));
	check(str_is(&d, 0, "description", "performance test summary"));
	check(str_is(&d, 0, "organizer_time_started",
		     "2023-11-14T22:13:20.123456789Z"));
	check(str_is(&d, 0, "organizer_duration", "2m23.810203s"));
	/* No participant start: the run's start is used. */
	check(str_is(&d, 0, "participants_time_started",
		     "2023-11-14T22:13:20.122456789Z"));
	check(str_is(&d, 0, "participants_duration", "2m23.811203s"));
	check(int_is(&d, 0, "messages_sent", 123));
	check(int_is(&d, 0, "chats_count", 26));
	check(int_is(&d, 0, "created_participants_count", 30));

	e = json_find(&d, 0, "esmeload");
	check(e > 0);
	keys_of(&d, e, keys, sizeof(keys));
	check(!strcmp(keys, "sent,delivered,in_flight,lost,accounted,echo_unmatched,"
		      "organizer_received,organizers,delivery_ratio,replies,"
		      "chats,reconnects,devices,start_chats,new_chats,no_new_chats,server_errors,"
		      "connected,participants_failed,embedded_serve,scenario,"
		      "max_conns,tls,latency_ms,latency_actual_ms,lag_ms,"
		      "arrival_lag_ms,time_to_chat_ms,phases_ms,arrivals,timer,errors,"
		      "stop_reason,first_error,shard,histograms,self_check,"
		      "server,cross_check,thresholds"));
	check(int_is(&d, e, "sent", 123));
	check(int_is(&d, e, "delivered", 111));
	check(int_is(&d, e, "organizer_received", 81));
	check(int_is(&d, e, "start_chats", 71));
	check(int_is(&d, e, "new_chats", 7));
	check(int_is(&d, e, "no_new_chats", 6));
	check(int_is(&d, e, "server_errors", 5));
	check(int_is(&d, e, "connected", 28));
	check(int_is(&d, e, "participants_failed", 3));
	check(int_is(&d, e, "max_conns", 1234));
	check(!strncmp(text + d.tok[json_find(&d, e, "embedded_serve")].start,
		       "false", 5));
	check(str_is(&d, e, "stop_reason", "error"));
	check(str_is(&d, e, "first_error", "ws handshake: \"timeout\" after 45s"));
	{
		int er = json_find(&d, e, "errors");

		check(er > 0);
		keys_of(&d, er, keys, sizeof(keys));
		check(!strcmp(keys, "connect,http_status,ws_handshake,timeout,"
			      "recv,send,protocol,no_chat,closed,server"));
		check(int_is(&d, er, "connect", 7));
		check(int_is(&d, er, "ws_handshake", 1));
		check(int_is(&d, er, "server", 5));
		check(int_is(&d, er, "recv", 0));
	}
	/* MarshalIndent layout: two spaces a level, ": " after keys. */
	{
		static const char head[] =
			"{\n  \"constants\": {\n    \"start_chat_interval\": "
			"\"10ms\",\n    \"create_participant_interval\": \"1s\",\n";

		check(!strncmp(text, head, sizeof(head) - 1));
	}
	check(strstr(text, "\n    \"log_ws\": true\n  },\n  \"description\": "
		      "\"performance test summary\",\n"));
	check(strstr(text, "\n    \"errors\": {\n      \"connect\": 7,\n"));
	check(strstr(text, "\n    \"first_error\": \"ws handshake: \\\"timeout\\\" after 45s\",\n"));
	check(strstr(text, "\n    \"thresholds\": []\n  }\n}\n"));
	check(text[len - 1] == '\n');
	check(strstr(text, "\t") == NULL);
	/* The same summary went to stdout, then a line naming both files. */
	check(!strncmp(out_text, text, len - 1));
	snprintf(rpath, sizeof(rpath), "%s/1700000000_performance_test_message_rates.json",
		 dir);
	check(strstr(out_text, path) && strstr(out_text, rpath));
	free(text);

	/* Rates merged across workers, ascending, zero seconds left out. */
	text = slurp(rpath, &len);
	check(text != NULL);
	check(json_parse(&d, text, len, tok, NTOK) > 0);
	keys_of(&d, 0, keys, sizeof(keys));
	check(!strcmp(keys, "1699999998,1700000000,1700000001,1700000002,"
		      "1700000003"));
	check(int_is(&d, 0, "1699999998", 1));
	check(int_is(&d, 0, "1700000000", 5));
	check(int_is(&d, 0, "1700000001", 5));
	check(int_is(&d, 0, "1700000002", 4));
	check(int_is(&d, 0, "1700000003", 7));
	check(!strcmp(text, "{\n  \"1699999998\": 1,\n  \"1700000000\": 5,\n"
		      "  \"1700000001\": 5,\n  \"1700000002\": 4,\n"
		      "  \"1700000003\": 7\n}\n"));
	free(text);

	test_remove_dir(dir);
	free_run(r);
	return 0;
}

static int test_zone_and_edges(void)
{
	struct run *r = fake_run();
	char path[512], rpath[512];
	jsmntok_t tok[NTOK];
	struct json_doc d;
	char *text;
	size_t len;
	int e;

	check(r != NULL);
	check(make_dir() == 0);
	/* India: +05:30, no daylight saving. */
	setenv("TZ", "IST-5:30", 1);
	tzset();
	r->org_start_real_ns = 1700000000120000000LL;  /* trims to .12 */
	r->part_start_real_ns = 1700000001000000000LL; /* whole second */
	r->end_real_ns = 1700000001000000000LL + 3600000000000LL;
	r->o.sci_ms = 0;
	r->o.cpi_ms = 20;
	r->o.smi_ms = 1500;
	r->o.log_ws = 0;
	r->o.embedded = 1; /* a demo says so */
	r->stop_reason = STOP_SIGNAL;
	r->has_first_err = 0;
	r->w[0].sc.rates = NULL;
	r->w[1].sc.rates = NULL;
	check_eq(write_outputs(r, path, sizeof(path)), 0);
	text = slurp(path, &len);
	check(text != NULL);
	check(json_parse(&d, text, len, tok, NTOK) > 0);
	check(str_is(&d, 0, "organizer_time_started",
		     "2023-11-15T03:43:20.12+05:30"));
	check(str_is(&d, 0, "participants_time_started",
		     "2023-11-15T03:43:21+05:30"));
	check(str_is(&d, 0, "participants_duration", "1h0m0s"));
	check(str_is(&d, 0, "organizer_duration", "1h0m0.88s"));
	e = json_find(&d, 0, "constants");
	check(str_is(&d, e, "start_chat_interval", "0s"));
	check(str_is(&d, e, "create_participant_interval", "20ms"));
	check(str_is(&d, e, "send_message_interval", "1.5s"));
	check(!strncmp(text + d.tok[json_find(&d, e, "log_ws")].start, "false", 5));
	e = json_find(&d, 0, "esmeload");
	check(str_is(&d, e, "stop_reason", "signal"));
	check(!strncmp(text + d.tok[json_find(&d, e, "embedded_serve")].start,
		       "true", 4));
	check(json_is_null(&d, json_find(&d, e, "first_error")));
	free(text);
	/* No rates at all: an empty object. */
	snprintf(rpath, sizeof(rpath), "%s/1700000000_performance_test_message_rates.json",
		 dir);
	text = slurp(rpath, &len);
	check(text != NULL);
	check(!strcmp(text, "{}\n"));
	free(text);

	/* The other stop reasons. */
	{
		static const struct { int reason; const char *name; } sr[] = {
			{ STOP_NONE, "none" }, { STOP_DURATION, "duration" },
			{ STOP_DONE, "max_participants" },
		};

		for (size_t i = 0; i < 3; i++) {
			r->stop_reason = sr[i].reason;
			r->end_real_ns += 1000000000LL;
			check_eq(write_outputs(r, path, sizeof(path)), 0);
			text = slurp(path, &len);
			check(text != NULL);
			check(json_parse(&d, text, len, tok, NTOK) > 0);
			check(str_is(&d, json_find(&d, 0, "esmeload"),
				     "stop_reason", sr[i].name));
			free(text);
		}
	}
	/* A summary_path too short is cut, still NUL-terminated. */
	{
		char small[8];

		r->end_real_ns += 1000000000LL;
		check_eq(write_outputs(r, small, sizeof(small)), 0);
		check_eq(strlen(small), 7);
		check(!strncmp(small, dir, 7));
		check_eq(write_outputs(r, NULL, 0), 0);
	}
	test_remove_dir(dir);
	free_run(r);
	setenv("TZ", "UTC0", 1);
	tzset();
	return 0;
}

static int test_unwritable(void)
{
	struct run *r = fake_run();
	char path[512], missing[128];
	int tmp_seen;

	check(r != NULL);
	check(make_dir() == 0);
	snprintf(missing, sizeof(missing), "%s/missing", dir);
	r->o.out_dir = missing;
	check_eq(write_outputs(r, path, sizeof(path)), -ENOENT);
	/* One line on stderr naming the file. */
	check(!strncmp(err_text, "esmeload: ", 10));
	check(strstr(err_text, "missing/1700000000_performance_test_summary.json"));
	check(strchr(err_text, '\n') == err_text + strlen(err_text) - 1);
	check(out_text[0] == 0);
	check_eq(count_files(dir, &tmp_seen), 0);

	/* A directory without write permission (root ignores it). */
	if (geteuid() != 0) {
		check(chmod(dir, 0500) == 0);
		r->o.out_dir = dir;
		check(write_outputs(r, path, sizeof(path)) == -EACCES);
		check(chmod(dir, 0700) == 0);
		check_eq(count_files(dir, &tmp_seen), 0);
	}
	/* The rates file cannot be written: a directory is in its way. The
	 * summary must not appear alone, and no temporary file is left. */
	{
		char blocker[256];

		snprintf(blocker, sizeof(blocker),
			 "%s/1700000000_performance_test_message_rates.json.tmp.%d",
			 dir, (int)getpid());
		check(mkdir(blocker, 0700) == 0);
		r->o.out_dir = dir;
		check(write_outputs(r, path, sizeof(path)) < 0);
		check(strstr(err_text, "message_rates.json"));
		check_eq(count_files(dir, &tmp_seen), 1); /* the blocker */
		rmdir(blocker);
	}
	test_remove_dir(dir);
	free_run(r);
	return 0;
}

/* ---- the self-check, the cross-check and thresholds in the summary ---- */

static jsmntok_t big_tok[1024];
static char *sum_text;

/* Write r's files and parse its summary into d; returns the "esmeload"
 * object's token, or -1. The text stays in sum_text until the next call. */
static int esme_of(struct run *r, struct json_doc *d)
{
	char path[512];
	size_t len;

	free(sum_text);
	sum_text = NULL;
	r->end_real_ns += 1000000000LL; /* a new pair of files each time */
	if (write_outputs(r, path, sizeof(path)) != 0)
		return -1;
	sum_text = slurp(path, &len);
	if (!sum_text || json_parse(d, sum_text, len, big_tok, 1024) <= 0)
		return -1;
	return json_find(d, 0, "esmeload");
}

static int has_text(const struct json_doc *d, int obj, const char *key,
		    const char *part)
{
	int t = json_find(d, obj, key);
	char buf[1024];
	size_t n;

	if (t < 0 || json_get_str(d, t, buf, sizeof(buf), &n) < 0 ||
	    !strstr(buf, part)) {
		fprintf(stderr, "%s: no \"%s\" in %.*s\n", key, part,
			t < 0 ? 4 : d->tok[t].end - d->tok[t].start,
			t < 0 ? "none" : d->js + d->tok[t].start);
		return 0;
	}
	return 1;
}

static int starts(const struct json_doc *d, int obj, const char *key,
		  const char *head)
{
	int t = json_find(d, obj, key);

	if (t < 0 || json_type(d, t) != JSMN_STRING ||
	    d->tok[t].end - d->tok[t].start < (int)strlen(head) ||
	    memcmp(d->js + d->tok[t].start, head, strlen(head))) {
		fprintf(stderr, "%s does not start with \"%s\": %.*s\n", key,
			head, t < 0 ? 4 : d->tok[t].end - d->tok[t].start,
			t < 0 ? "none" : d->js + d->tok[t].start);
		return 0;
	}
	return 1;
}

/* tester_limited: 1 true, 0 false, -1 null, -2 missing. */
static int limited_of(const struct json_doc *d, int sc)
{
	int t = json_find(d, sc, "tester_limited"), v;

	if (t < 0)
		return -2;
	if (json_is_null(d, t))
		return -1;
	return json_get_bool(d, t, &v) < 0 ? -2 : v;
}

/* A finished run that kept up: 5 seconds judged, lag 1 ms, no signal. */
static struct run *quiet_run(void)
{
	struct run *r = fake_run();

	if (!r)
		return NULL;
	r->w[0].sc.c.enobufs = r->w[1].sc.c.enobufs = 0;
	hist_reset(&r->lag);
	hist_reset(&r->lat);
	hist_reset(&r->lat_actual);
	for (int i = 0; i < 100; i++)
		hist_add(&r->lag, 1000);
	r->cpu.cores = 2;
	r->cpu.limit_percent = 200;
	r->cpu.windows = 5;
	r->cpu.busiest_percent = 40;
	r->cpu.wait_max = 0.01;
	r->o.smi_ms = 100; /* late is above 10 ms */
	r->server_received = -1;
	r->server_received_start = -1;
	return r;
}

static int test_self_check(void)
{
	struct run *r = quiet_run();
	struct json_doc d;
	char keys[1024];
	int e, sc;

	check(r != NULL);
	check(make_dir() == 0);
	e = esme_of(r, &d);
	check(e > 0);
	sc = json_find(&d, e, "self_check");
	check(sc > 0);
	keys_of(&d, sc, keys, sizeof(keys));
	check(!strcmp(keys, "ring,uring_features,bundle_bufs,inc_partial,"
		      "cpu_percent,cores,cpu_limit_percent,"
		      "cpu_busiest_percent,seconds,seconds_at_cpu_limit,"
		      "cpu_wait_max_percent,stalled_s,send,threads,rings,"
		      "cq_overflows,cq_dropped,enobufs,latency_actual_unmatched,"
		      "lag_p99_ms,lag_bound_ms,tester_limited,verdict"));
	check_eq(limited_of(&d, sc), 0);
	check(starts(&d, sc, "verdict", "the tester kept up"));
	check(has_text(&d, sc, "verdict", "2 thread(s) on 2 core(s)"));
	check(int_is(&d, sc, "cores", 2));
	check(int_is(&d, sc, "seconds", 5));
	check(int_is(&d, sc, "seconds_at_cpu_limit", 0));
	check(int_is(&d, sc, "cq_overflows", 0));
	check(int_is(&d, sc, "cq_dropped", 0));
	check(int_is(&d, sc, "enobufs", 0));
	check(int_is(&d, sc, "bundle_bufs", 0));
	check(int_is(&d, sc, "inc_partial", 0));

	/* The receive features at work, summed over the threads: counts,
	 * not signals. */
	r->w[0].sc.c.bundle_bufs = 3;
	r->w[1].sc.c.bundle_bufs = 4;
	r->w[1].sc.c.inc_partial = 9;
	e = esme_of(r, &d);
	sc = json_find(&d, e, "self_check");
	check(int_is(&d, sc, "bundle_bufs", 7));
	check(int_is(&d, sc, "inc_partial", 9));
	check_eq(limited_of(&d, sc), 0);
	r->w[0].sc.c.bundle_bufs = r->w[1].sc.c.bundle_bufs = 0;
	r->w[1].sc.c.inc_partial = 0;

	/* Each signal on its own makes the tester a limit. */
	r->cq_overflows = 3;
	e = esme_of(r, &d);
	sc = json_find(&d, e, "self_check");
	check_eq(limited_of(&d, sc), 1);
	check(int_is(&d, sc, "cq_overflows", 3));
	check(has_text(&d, sc, "verdict", "completion queue overflowed (3 times)"));
	r->cq_overflows = 0;
	r->cq_dropped = 2;
	e = esme_of(r, &d);
	sc = json_find(&d, e, "self_check");
	check_eq(limited_of(&d, sc), 1);
	check(has_text(&d, sc, "verdict", "the kernel dropped 2 completions"));
	r->cq_dropped = 0;
	r->w[1].sc.c.enobufs = 5;
	e = esme_of(r, &d);
	sc = json_find(&d, e, "self_check");
	check_eq(limited_of(&d, sc), 1);
	check(int_is(&d, sc, "enobufs", 5));
	check(has_text(&d, sc, "verdict", "receive buffers ran out (5 times)"));
	r->w[1].sc.c.enobufs = 0;

	/* Late sends with CPU to spare: the server's doing. */
	for (int i = 0; i < 10; i++)
		hist_add(&r->lag, 50000);
	e = esme_of(r, &d);
	sc = json_find(&d, e, "self_check");
	check_eq(limited_of(&d, sc), 0);
	check(starts(&d, sc, "verdict", "sends left late"));
	check(has_text(&d, sc, "verdict", "it can use): the server did not"));
	/* ... with some waiting for a CPU: both causes named. */
	r->cpu.wait_max = 0.08;
	e = esme_of(r, &d);
	sc = json_find(&d, e, "self_check");
	check_eq(limited_of(&d, sc), 0);
	check(has_text(&d, sc, "verdict", "waited for a CPU up to 8% of a second"));
	check(has_text(&d, sc, "verdict", "or the server did not take them"));
	r->cpu.wait_max = 0.01;
	/* ... and in a second at the CPU limit: the tester's. */
	r->cpu.saturated = r->cpu.at_limit = 1;
	r->cpu.busiest_percent = 199;
	e = esme_of(r, &d);
	sc = json_find(&d, e, "self_check");
	check_eq(limited_of(&d, sc), 1);
	check(has_text(&d, sc, "verdict", "CPU was at the limit in 1 of 5 s"));
	check(has_text(&d, sc, "verdict", "sends left late"));
	/* Starved (waiting for a CPU) and stalled seconds are named. */
	r->cpu.saturated = 0;
	r->cpu.starved = 1;
	r->cpu.stalled = 1;
	r->cpu.at_limit = 2;
	r->cpu.wait_max = 0.45;
	r->cpu.stalled_s = 1.25;
	e = esme_of(r, &d);
	sc = json_find(&d, e, "self_check");
	check_eq(limited_of(&d, sc), 1);
	check(has_text(&d, sc, "verdict", "waited for a CPU in 1 of 5 s (up to 45%"));
	check(has_text(&d, sc, "verdict", "did not run for 1.2 s"));
	check(int_is(&d, sc, "seconds_at_cpu_limit", 2));

	/* Seconds at the limit without late sends: limited only when they
	 * are half of the run or more. */
	hist_reset(&r->lag);
	hist_add(&r->lag, 1000);
	r->cpu.starved = r->cpu.stalled = 0;
	r->cpu.saturated = r->cpu.at_limit = 2;
	e = esme_of(r, &d);
	sc = json_find(&d, e, "self_check");
	check_eq(limited_of(&d, sc), 0);
	check(starts(&d, sc, "verdict", "the tester kept up"));
	r->cpu.saturated = r->cpu.at_limit = 3;
	e = esme_of(r, &d);
	sc = json_find(&d, e, "self_check");
	check_eq(limited_of(&d, sc), 1);

	/* Nothing sent and no other signal: no verdict, and it says so. */
	hist_reset(&r->lag);
	r->cpu.saturated = r->cpu.at_limit = 0;
	e = esme_of(r, &d);
	sc = json_find(&d, e, "self_check");
	check_eq(limited_of(&d, sc), -1);
	check(starts(&d, sc, "verdict", "no data"));
	/* ... unless a signal fired all the same. */
	r->cq_overflows = 1;
	e = esme_of(r, &d);
	sc = json_find(&d, e, "self_check");
	check_eq(limited_of(&d, sc), 1);

	/* No run-queue figures from the kernel: null. */
	r->cpu.wait_max = -1;
	e = esme_of(r, &d);
	sc = json_find(&d, e, "self_check");
	check(json_is_null(&d, json_find(&d, sc, "cpu_wait_max_percent")));

	test_remove_dir(dir);
	free(sum_text);
	sum_text = NULL;
	free_run(r);
	return 0;
}

static int test_cross_check(void)
{
	struct run *r = quiet_run();
	struct json_doc d;
	char keys[256];
	int e, cc, v;

	check(r != NULL);
	check(make_dir() == 0);
	/* Not a serve: null. */
	e = esme_of(r, &d);
	check(e > 0);
	check(json_is_null(&d, json_find(&d, e, "cross_check")));
	/* A serve that had received 1000 before: 123 during the run. */
	r->server_received_start = 1000;
	r->server_received = 1123;
	e = esme_of(r, &d);
	cc = json_find(&d, e, "cross_check");
	check(cc > 0);
	keys_of(&d, cc, keys, sizeof(keys));
	check(!strcmp(keys, "sent,replies_sent,server_received,"
		      "server_received_start,server_received_end,passed"));
	check(int_is(&d, cc, "sent", 123));
	check(int_is(&d, cc, "server_received", 123));
	check(int_is(&d, cc, "server_received_start", 1000));
	check(int_is(&d, cc, "server_received_end", 1123));
	check(json_get_bool(&d, json_find(&d, cc, "passed"), &v) == 0 && v == 1);
	/* One message more than the run sent: another client. */
	r->server_received = 1124;
	e = esme_of(r, &d);
	cc = json_find(&d, e, "cross_check");
	check(int_is(&d, cc, "server_received", 124));
	check(json_get_bool(&d, json_find(&d, cc, "passed"), &v) == 0 && v == 0);
	/* The cumulative count equal to sent is not a pass any more. */
	r->server_received_start = 1;
	r->server_received = 123;
	e = esme_of(r, &d);
	cc = json_find(&d, e, "cross_check");
	check(json_get_bool(&d, json_find(&d, cc, "passed"), &v) == 0 && v == 0);
	/* No count at the start: nothing to compare with. */
	r->server_received_start = -1;
	e = esme_of(r, &d);
	cc = json_find(&d, e, "cross_check");
	check(json_is_null(&d, json_find(&d, cc, "passed")));
	check(json_is_null(&d, json_find(&d, cc, "server_received")));
	check(int_is(&d, cc, "server_received_end", 123));
	test_remove_dir(dir);
	free(sum_text);
	sum_text = NULL;
	free_run(r);
	return 0;
}

/* bool_of: 1 true, 0 false, -1 null, -2 missing or not a flag. */
static int bool_of(const struct json_doc *d, int obj, const char *key)
{
	int t = json_find(d, obj, key), v;

	if (t < 0)
		return -2;
	if (json_is_null(d, t))
		return -1;
	return json_get_bool(d, t, &v) < 0 ? -2 : v;
}

/* The opt-in behaviours' objects: null without their options, filled and
 * their identities kept with them. */
static int test_behaviours(void)
{
	struct run *r = quiet_run();
	struct json_doc d;
	char keys[512];
	double f;
	int e, o, h;

	check(r != NULL);
	check(make_dir() == 0);
	/* Off (the options as config.c leaves them: one device each). */
	r->o.devices = r->o.org_devices = 1;
	e = esme_of(r, &d);
	check(e > 0);
	check(json_is_null(&d, json_find(&d, e, "replies")));
	check(json_is_null(&d, json_find(&d, e, "chats")));
	check(json_is_null(&d, json_find(&d, e, "reconnects")));
	check(json_is_null(&d, json_find(&d, e, "devices")));
	check(json_is_null(&d, json_find(&d, e, "scenario")));

	/* Replies: in flight = sent - received - missed. */
	r->o.org_reply_every = 2;
	r->w[0].sc.c.replies_scheduled = 20;
	r->w[0].sc.c.replies_sent = 12;
	r->w[1].sc.c.replies_sent = 6;
	r->w[0].sc.c.replies_received = 9;
	r->w[1].sc.c.replies_received = 4;
	r->w[1].sc.c.replies_missed = 3;
	r->w[0].sc.c.replies_dropped = 2;
	e = esme_of(r, &d);
	o = json_find(&d, e, "replies");
	check(o > 0 && json_type(&d, o) == JSMN_OBJECT);
	keys_of(&d, o, keys, sizeof(keys));
	check(!strcmp(keys, "scheduled,sent,received,in_flight,latency_ms,"
		      "dropped,missed"));
	check(int_is(&d, o, "sent", 18));
	check(int_is(&d, o, "received", 13));
	check(int_is(&d, o, "missed", 3));
	check(int_is(&d, o, "dropped", 2));
	check(int_is(&d, o, "in_flight", 2));
	/* ... never below 0 */
	r->w[1].sc.c.replies_missed = 30;
	e = esme_of(r, &d);
	check(int_is(&d, json_find(&d, e, "replies"), "in_flight", 0));

	/* Chats that end: opened = closed + active. */
	r->o.chat_messages = 3;
	r->w[0].sc.c.chats_closed = 5;
	r->w[1].sc.c.chats_closed = 6;
	r->w[1].sc.c.chats_reopened = 4;
	r->w[0].sc.c.org_closes = 10;
	r->w[1].sc.c.chat_refused = 1;
	e = esme_of(r, &d);
	o = json_find(&d, e, "chats");
	check(o > 0 && json_type(&d, o) == JSMN_OBJECT);
	keys_of(&d, o, keys, sizeof(keys));
	check(!strcmp(keys, "opened,closed,active,reopened,closes_sent,"
		      "refused_after_close,accounted"));
	check(int_is(&d, o, "opened", 26));
	check(int_is(&d, o, "closed", 11));
	check(int_is(&d, o, "active", 15));
	check(int_is(&d, o, "reopened", 4));
	check(int_is(&d, o, "closes_sent", 10));
	check(int_is(&d, o, "refused_after_close", 1));
	check_eq(bool_of(&d, o, "accounted"), 1);
	/* more closed than opened: none active, and not accounted */
	r->w[1].sc.c.chats_closed = 30;
	e = esme_of(r, &d);
	o = json_find(&d, e, "chats");
	check(int_is(&d, o, "active", 0));
	check_eq(bool_of(&d, o, "accounted"), 0);
	/* --chat-lifetime alone opens it too */
	r->o.chat_messages = 0;
	r->o.chat_lifetime_ms = 5000;
	e = esme_of(r, &d);
	check(json_type(&d, json_find(&d, e, "chats")) == JSMN_OBJECT);

	/* Reconnects: no history checked, passed is null. */
	r->o.reconnect_uptime_ms = 2000;
	r->w[0].sc.c.drops_tester = 7;
	r->w[1].sc.c.drops_server = 1;
	r->w[0].sc.c.rejoined = 6;
	r->w[1].sc.c.echo_after_drop = 2;
	hist_reset(&r->rejoin);
	for (int i = 0; i < 6; i++)
		hist_add(&r->rejoin, 40000); /* 40 ms */
	e = esme_of(r, &d);
	o = json_find(&d, e, "reconnects");
	check(o > 0 && json_type(&d, o) == JSMN_OBJECT);
	keys_of(&d, o, keys, sizeof(keys));
	check(!strcmp(keys, "drops_tester,drops_server,rejoined,back_in_chat_ms,"
		      "echoes_after_drop,history"));
	check(int_is(&d, o, "drops_tester", 7));
	check(int_is(&d, o, "drops_server", 1));
	check(int_is(&d, o, "rejoined", 6));
	check(int_is(&d, o, "echoes_after_drop", 2));
	check(json_get_f64(&d, json_find(&d, json_find(&d, o, "back_in_chat_ms"),
					 "p50"), &f) == 0 && f > 39 && f < 41);
	h = json_find(&d, o, "history");
	check(h > 0);
	keys_of(&d, h, keys, sizeof(keys));
	check(!strcmp(keys, "checks,missing,duplicated,recovered,unexpected,truncated,"
		      "passed"));
	check(int_is(&d, h, "checks", 0));
	check_eq(bool_of(&d, h, "passed"), -1);
	/* checked and clean: passed; recovered messages are no failure */
	r->w[0].sc.c.hist_checks = 4;
	r->w[1].sc.c.hist_checks = 2;
	r->w[1].sc.c.hist_recovered = 3;
	r->w[0].sc.c.hist_truncated = 5;
	r->w[1].sc.c.hist_truncated = 2;
	e = esme_of(r, &d);
	h = json_find(&d, json_find(&d, e, "reconnects"), "history");
	check(int_is(&d, h, "checks", 6));
	check(int_is(&d, h, "recovered", 3));
	/* a history cut at its start is reported, and no failure */
	check(int_is(&d, h, "truncated", 7));
	check_eq(bool_of(&d, h, "passed"), 1);
	/* one missing, one duplicated or one unexpected: failed */
	r->w[0].sc.c.hist_missing = 1;
	e = esme_of(r, &d);
	h = json_find(&d, json_find(&d, e, "reconnects"), "history");
	check(int_is(&d, h, "missing", 1));
	check_eq(bool_of(&d, h, "passed"), 0);
	r->w[0].sc.c.hist_missing = 0;
	r->w[1].sc.c.hist_duplicated = 1;
	e = esme_of(r, &d);
	h = json_find(&d, json_find(&d, e, "reconnects"), "history");
	check(int_is(&d, h, "duplicated", 1));
	check_eq(bool_of(&d, h, "passed"), 0);
	r->w[1].sc.c.hist_duplicated = 0;
	r->w[0].sc.c.hist_unexpected = 2;
	e = esme_of(r, &d);
	h = json_find(&d, json_find(&d, e, "reconnects"), "history");
	check(int_is(&d, h, "unexpected", 2));
	check_eq(bool_of(&d, h, "passed"), 0);

	/* Devices: on with either count above 1. */
	r->o.devices = 3;
	r->w[0].sc.c.dev_expected = 20;
	r->w[1].sc.c.dev_received = 19;
	r->w[0].sc.c.org_dev_expected = 0;
	e = esme_of(r, &d);
	o = json_find(&d, e, "devices");
	check(o > 0 && json_type(&d, o) == JSMN_OBJECT);
	keys_of(&d, o, keys, sizeof(keys));
	check(!strcmp(keys, "participant,organizer,copies_expected,"
		      "copies_received,organizer_copies_expected,"
		      "organizer_copies_received"));
	check(int_is(&d, o, "participant", 3));
	check(int_is(&d, o, "organizer", 1));
	check(int_is(&d, o, "copies_expected", 20));
	check(int_is(&d, o, "copies_received", 19));
	check(int_is(&d, o, "organizer_copies_expected", 0));
	r->o.devices = 1;
	r->o.org_devices = 2;
	r->w[1].sc.c.org_dev_expected = 8;
	r->w[0].sc.c.org_dev_received = 8;
	e = esme_of(r, &d);
	o = json_find(&d, e, "devices");
	check(int_is(&d, o, "participant", 1));
	check(int_is(&d, o, "organizer", 2));
	check(int_is(&d, o, "organizer_copies_expected", 8));
	check(int_is(&d, o, "organizer_copies_received", 8));
	/* every histogram whole, the reconnects' among them */
	h = json_find(&d, e, "histograms");
	check(int_is(&d, json_find(&d, h, "rejoin"), "count", 6));

	test_remove_dir(dir);
	free(sum_text);
	sum_text = NULL;
	free_run(r);
	return 0;
}

/* serve counts the organizers' replies among the send_message frames. */
static int test_cross_check_replies(void)
{
	struct run *r = quiet_run();
	struct json_doc d;
	int e, cc;

	check(r != NULL);
	check(make_dir() == 0);
	r->o.org_reply_every = 2;
	r->w[0].sc.c.replies_sent = 5;
	r->w[1].sc.c.replies_sent = 2;
	r->server_received_start = 1000;
	r->server_received = 1000 + 123 + 7;
	e = esme_of(r, &d);
	cc = json_find(&d, e, "cross_check");
	check(cc > 0);
	check(int_is(&d, cc, "sent", 123));
	check(int_is(&d, cc, "replies_sent", 7));
	check(int_is(&d, cc, "server_received", 130));
	check_eq(bool_of(&d, cc, "passed"), 1);
	/* the participants' messages alone are not all serve counted */
	r->server_received = 1000 + 123;
	e = esme_of(r, &d);
	cc = json_find(&d, e, "cross_check");
	check_eq(bool_of(&d, cc, "passed"), 0);
	test_remove_dir(dir);
	free(sum_text);
	sum_text = NULL;
	free_run(r);
	return 0;
}

static int test_thresholds(void)
{
	struct run *r = quiet_run();
	struct threshold t[2];
	struct json_doc d;
	char why[128];
	int e, a, k, v;

	check(r != NULL);
	check(make_dir() == 0);
	check_eq(threshold_parse(&t[0], "p99<50ms", why, sizeof(why)), 0);
	check_eq(threshold_parse(&t[1], "errors>=1", why, sizeof(why)), 0);
	threshold_apply(&t[0], 0, 0);
	threshold_apply(&t[1], 8, 1);
	r->o.thresholds = t;
	r->o.nthresholds = 2;
	e = esme_of(r, &d);
	check(e > 0);
	a = json_find(&d, e, "thresholds");
	check(a > 0 && d.tok[a].size == 2);
	k = a + 1;
	check(str_is(&d, k, "expr", "p99<50ms"));
	check(json_is_null(&d, json_find(&d, k, "measured")));
	check(json_get_bool(&d, json_find(&d, k, "passed"), &v) == 0 && v == 0);
	check(str_is(&d, k, "why", "no samples (nothing delivered)"));
	k = json_next(&d, k);
	check(str_is(&d, k, "expr", "errors>=1"));
	check(int_is(&d, k, "measured", 8));
	check(json_get_bool(&d, json_find(&d, k, "passed"), &v) == 0 && v == 1);
	check(json_find(&d, k, "why") < 0);
	test_remove_dir(dir);
	free(sum_text);
	sum_text = NULL;
	free_run(r);
	return 0;
}

/* --quiet: the files and stdout as ever, nothing on stderr. */
static int test_quiet_summary(void)
{
	struct run *r = fake_run();
	char path[512];

	check(r != NULL);
	r->o.quiet = 1;
	check(make_dir() == 0);
	check_eq(write_outputs(r, path, sizeof(path)), 0);
	check_eq(err_text[0], 0);
	check(strstr(out_text, "\"messages_sent\"") != NULL);
	test_remove_dir(dir);
	free_run(r);
	return 0;
}

/* Indentation drops the layout a value brought from a file (a scenario,
 * a shard's object copied by merge) and lays it out as the rest. */
static int test_indent_copied(void)
{
	static const char in[] = "{\"a\":{\"b\" : [1, 2]},\n  \"c\":{ },"
				 "\"d\":\"x  y\",\"e\":[\n]}";
	static const char want[] = "{\n  \"a\": {\n    \"b\": [\n      1,\n"
				   "      2\n    ]\n  },\n  \"c\": {},\n"
				   "  \"d\": \"x  y\",\n  \"e\": []\n}";
	static char out[16384];
	size_t n;

	check(run_json_indent_room(sizeof(in) - 1) <= sizeof(out));
	n = run_json_indent(out, in, sizeof(in) - 1);
	check_span(out, n, want);
	return 0;
}

TEST_MAIN(T(test_err_names), T(test_indent_copied), T(test_sum), T(test_files), T(test_quiet_summary),
	  T(test_zone_and_edges), T(test_unwritable), T(test_self_check),
	  T(test_cross_check), T(test_behaviours), T(test_cross_check_replies),
	  T(test_thresholds))
