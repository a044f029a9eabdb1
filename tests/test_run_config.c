/*
 * Tests of run/config: the Go tool's flag syntax, our flags and their
 * checks, config.json loading and target resolution.
 */
#include "run/run.h"
#include "engine/ring.h"

#include <arpa/inet.h>
#include <sched.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "opt.h"
#include "run_parse.h"
#include "test.h"

/* run_load_config with stderr captured. */
static int load(struct run_opts *o, const char *path)
{
	int r, s;
	FILE *t;

	grab_begin(2, &s, &t);
	r = run_load_config(o, path);
	grab_end(2, s, t, err_out, sizeof(err_out));
	return r;
}

/* One line, starting with "esmeload: ". */
static int one_line_error(void)
{
	size_t n = strlen(err_out);

	return n > 11 && !strncmp(err_out, "esmeload: ", 10) &&
	       err_out[n - 1] == '\n' && strchr(err_out, '\n') == err_out + n - 1;
}

/* A fresh empty directory as the current directory (no config.json). */
static int enter_tmpdir(void)
{
	return tmpdir_enter("test_run_config");
}

static const char good_cfg[] =
	"{\"event_id\": 7, \"messenger_ws_url\": \"ws://127.0.0.1:8300\",\n"
	" \"organizer_api_url\": \"http://127.0.0.1:8000\",\n"
	" \"organizer_email\": \"jan@kowalski.com\",\n"
	" \"organizer_password\": \"se\\\"cret\",\n"
	" \"participant_api_url\": \"http://127.0.0.1:8100/api\",\n"
	" \"extra\": {\"nested\": [1, 2, {\"event_id\": \"x\"}]}, \"n\": null}\n";

/* A fresh directory with a valid ./config.json: without one, a command
 * line with flags is refused. */
static int enter_tmpdir_cfg(void)
{
	if (enter_tmpdir() < 0)
		return -1;
	return write_text("config.json", good_cfg);
}

static int test_defaults(void)
{
	struct run_opts o;
	struct rlimit rl;
	unsigned want = 1u << 20;

	check(enter_tmpdir() == 0);
	check_eq(call(&o, NULL), 0);
	check_eq(err_out[0], 0);
	check_eq(o.sci_ms, 1000);
	check_eq(o.cpi_ms, 1000);
	check_eq(o.smi_ms, 1000);
	check_eq(o.log_ws, 0);
	check(o.config_path == NULL);
	check_eq(o.embedded, 1);
	check_eq(o.duration_ms, 0);
	check_eq(o.max_participants, 0);
	check_eq(o.max_errors, 1);
	/* The CPUs this process may run on, as sched_getaffinity says. */
	{
		cpu_set_t set;

		check(sched_getaffinity(0, sizeof(set), &set) == 0);
		check_eq(o.threads, (unsigned)CPU_COUNT(&set) > 64 ?
			 64u : (unsigned)CPU_COUNT(&set));
	}
	check_eq(o.organizers, 1);
	check_eq(o.http_conns, 64);
	check(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want)
		want = (unsigned)rl.rlim_cur;
	check_eq(o.max_conns, want);
	check_eq(o.src_lo, 0);
	check_eq(o.src_hi, 0);
	check_eq(o.connect_timeout_ms, 10000);
	check_eq(o.handshake_timeout_ms, 45000);
	check(!strcmp(o.out_dir, "."));
	check_eq(o.quiet, 0);
	check(o.serve_bin == NULL);
	/* Defaults are set again on every call. */
	check(write_text("config.json", good_cfg) == 0);
	check_eq(call(&o, "-sci", "5", NULL), 0);
	check_eq(o.sci_ms, 5);
	check_eq(call(&o, NULL), 0);
	check_eq(o.sci_ms, 1000);
	leave_tmpdir();
	return 0;
}

static int test_go_flag_forms(void)
{
	static const char *const names[] = { "sci", "cpi", "smi" };
	struct run_opts o;

	check(enter_tmpdir_cfg() == 0);
	for (int k = 0; k < 3; k++) {
		char one[16], two[16], eq1[24], eq2[24];
		int64_t *field = k == 0 ? &o.sci_ms : k == 1 ? &o.cpi_ms : &o.smi_ms;

		snprintf(one, sizeof(one), "-%s", names[k]);
		snprintf(two, sizeof(two), "--%s", names[k]);
		snprintf(eq1, sizeof(eq1), "-%s=17", names[k]);
		snprintf(eq2, sizeof(eq2), "--%s=18", names[k]);
		check_eq(call(&o, one, "10", NULL), 0);
		check_eq(*field, 10);
		check_eq(call(&o, two, "11", NULL), 0);
		check_eq(*field, 11);
		check_eq(call(&o, eq1, NULL), 0);
		check_eq(*field, 17);
		check_eq(call(&o, eq2, NULL), 0);
		check_eq(*field, 18);
		check_eq(call(&o, one, "0", NULL), 0);
		check_eq(*field, 0);
	}
	/* The thesis' command line; the last of repeated flags wins. */
	check_eq(call(&o, "-sci", "10", "-cpi", "20", "-smi", "100", "-smi=7",
		      NULL), 0);
	check_eq(o.sci_ms, 10);
	check_eq(o.cpi_ms, 20);
	check_eq(o.smi_ms, 7);
	check_eq(call(&o, "-sci", "9223372036854", NULL), 0);
	check_eq(o.sci_ms, 9223372036854LL);
	/* "--" ends the flags. */
	check_eq(call(&o, "-sci", "3", "--", NULL), 0);
	check_eq(o.sci_ms, 3);
	leave_tmpdir();
	return 0;
}

static int test_logws_forms(void)
{
	static const struct {
		const char *arg;
		int want;
	} ok[] = {
		{ "-logWs", 1 }, { "--logWs", 1 }, { "-logWs=true", 1 },
		{ "--logWs=true", 1 }, { "-logWs=1", 1 }, { "-logWs=T", 1 },
		{ "-logWs=false", 0 }, { "--logWs=false", 0 }, { "-logWs=0", 0 },
		{ "-logWs=F", 0 },
		/* The rest of what Go's strconv.ParseBool takes. */
		{ "-logWs=t", 1 }, { "-logWs=TRUE", 1 }, { "-logWs=True", 1 },
		{ "-logWs=f", 0 }, { "-logWs=FALSE", 0 }, { "-logWs=False", 0 },
	};
	struct run_opts o;

	check(enter_tmpdir_cfg() == 0);
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		check_eq(call(&o, "-logWs", (char *)ok[i].arg, NULL), 0);
		check_eq(o.log_ws, ok[i].want);
	}
	check_eq(call(&o, "-logWs", "-sci", "5", NULL), 0);
	check_eq(o.log_ws, 1);
	check_eq(o.sci_ms, 5);
	/* Go's flag package takes no separate value for a bool: "false"
	 * is a stray argument. */
	check_eq(call(&o, "-logWs", "false", NULL), 2);
	check(one_line_error());
	check(strstr(err_out, "false"));
	/* ... and nothing else, as in Go. */
	{
		static const char *const no[] = {
			"-logWs=maybe", "-logWs=", "-logWs=yes", "-logWs=on",
			"-logWs=tRUE", "-logWs=2", "-logWs= true", "-logWs=00",
		};

		for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
			check_eq(call(&o, (char *)no[i], NULL), 2);
			check(one_line_error());
		}
	}
	check_eq(call(&o, "-logWs=maybe", NULL), 2);
	check(one_line_error());
	check(strstr(err_out, "logWs") && strstr(err_out, "maybe"));
	/* Flag names are case-sensitive, as in Go. */
	check_eq(call(&o, "-logws", NULL), 2);
	check(one_line_error());
	leave_tmpdir();
	return 0;
}

static int test_our_flags(void)
{
	struct run_opts o;

	check(enter_tmpdir_cfg() == 0);
	check_eq(call(&o, "--duration", "90s", "--max-participants", "100",
		      "--max-errors=5", "--threads", "64", "--organizers",
		      "1000", "--http-conns", "256", "--max-conns", "10", NULL),
		 0);
	check_eq(o.duration_ms, 90000);
	check_eq(o.max_participants, 100);
	check_eq(o.max_errors, 5);
	check_eq(o.threads, 64);
	check_eq(o.organizers, 1000);
	check_eq(o.http_conns, 256);
	check_eq(o.max_conns, 10);
	check_eq(call(&o, "--duration=1m30.5s", "--max-participants", "0",
		      "--threads=1", "--organizers", "1", "--http-conns", "1",
		      "--max-conns", "1048576", NULL), 0);
	check_eq(o.duration_ms, 90500);
	check_eq(o.max_participants, 0);
	check_eq(o.max_conns, 1048576);
	check_eq(call(&o, "--max-participants", "1000000000000", NULL), 0);
	check(o.max_participants == 1000000000000ULL);
	check_eq(call(&o, "--source-ip", "10.0.0.1-10.0.1.9", NULL), 0);
	check_eq(o.src_lo, 0x0a000001);
	check_eq(o.src_hi, 0x0a000109);
	check_eq(call(&o, "--source-ip=192.168.1.7", NULL), 0);
	check_eq(o.src_lo, 0xc0a80107);
	check_eq(o.src_hi, 0xc0a80107);
	check_eq(call(&o, "--source-ip", "127.0.0.2-127.0.0.2", NULL), 0);
	check_eq(o.src_lo, 0x7f000002);
	check_eq(call(&o, "--connect-timeout", "500ms", "--handshake-timeout",
		      "1m", NULL), 0);
	check_eq(o.connect_timeout_ms, 500);
	check_eq(o.handshake_timeout_ms, 60000);
	check_eq(call(&o, "--connect-timeout=1ms", "--duration", "1h", NULL), 0);
	check_eq(o.connect_timeout_ms, 1);
	check_eq(o.duration_ms, 3600000);
	check_eq(call(&o, "--out-dir", "/var/tmp/x", "--quiet", "--serve-bin",
		      "/opt/esmeload", NULL), 0);
	check(!strcmp(o.out_dir, "/var/tmp/x"));
	check_eq(o.quiet, 1);
	check(!strcmp(o.serve_bin, "/opt/esmeload"));
	check_eq(call(&o, "--quiet=false", "-out-dir=o", NULL), 0);
	check_eq(o.quiet, 0);
	check(!strcmp(o.out_dir, "o"));
	check_eq(o.embedded, 0);
	check_eq(o.insecure, 0);
	check(o.cacert == NULL);
	check_eq(call(&o, "--insecure", "--cacert", "/etc/ca.pem", NULL), 0);
	check_eq(o.insecure, 1);
	check(!strcmp(o.cacert, "/etc/ca.pem"));
	check_eq(call(&o, "--insecure=false", "--cacert=x.pem", NULL), 0);
	check_eq(o.insecure, 0);
	check(!strcmp(o.cacert, "x.pem"));
	leave_tmpdir();
	return 0;
}

/* --timer-slack: 0 by default, any duration up to 1 s, in ns. */
static int test_timer_slack(void)
{
	struct run_opts o;

	check(enter_tmpdir_cfg() == 0);
	check_eq(call(&o, NULL), 0);
	check_eq(o.timer_slack_ns, 0);
	check_eq(call(&o, "--timer-slack", "200us", NULL), 0);
	check_eq(o.timer_slack_ns, 200000);
	check_eq(call(&o, "--timer-slack=1ms", NULL), 0);
	check_eq(o.timer_slack_ns, 1000000);
	check_eq(call(&o, "--timer-slack", "0", NULL), 0);
	check_eq(o.timer_slack_ns, 0);
	leave_tmpdir();
	return 0;
}

/* --arrival-rate: any rate, as the interval between arrivals in ns; -cpi
 * otherwise, and not both. --wake-grain and --uring-off. */
static int test_arrival_rate(void)
{
	struct run_opts o;

	check(enter_tmpdir_cfg() == 0);
	check_eq(call(&o, NULL), 0);
	check_eq(run_cpi_ns(&o), 1000000000);
	check_eq(call(&o, "-cpi", "20", NULL), 0);
	check_eq(run_cpi_ns(&o), 20000000);
	check_eq(call(&o, "--arrival-rate", "10000", NULL), 0);
	check_eq(run_cpi_ns(&o), 100000);
	check_eq(call(&o, "--arrival-rate=2500/s", NULL), 0);
	check_eq(run_cpi_ns(&o), 400000);
	check_eq(call(&o, "--arrival-rate", "0.5", NULL), 0);
	check_eq(run_cpi_ns(&o), 2000000000);
	check_eq(call(&o, "--arrival-rate", "3000", NULL), 0);
	check_eq(run_cpi_ns(&o), 333333);
	check_eq(call(&o, "--arrival-rate", "100", "-cpi", "10", NULL), 2);
	check_eq(call(&o, "--wake-grain", "250us", NULL), 0);
	check_eq(o.wake_grain_ns, 250000);
	check_eq(call(&o, "--uring-off", "ring_fd,buf_inc", NULL), 0);
	check_eq(o.uring_off, RING_F_RING_FD | RING_F_BUF_INC);
	check_eq(call(&o, "--uring-off", "all", NULL), 0);
	check_eq(o.uring_off, RING_F_ALL);
	leave_tmpdir();
	return 0;
}

static int test_bad_values(void)
{
	static const char *const bad[][4] = {
		{ "-sci", "-5" }, { "-sci", "1.5" }, { "-sci", "abc" },
		{ "-sci=" }, { "-sci" }, { "--cpi=-1" }, { "-smi", "0x1g" },
		{ "-smi", "1e3" }, { "-cpi", " 5" }, { "-sci", "9223372036855" },
		{ "-sci", "99999999999999999999999" },
		{ "--duration", "0" }, { "--duration", "0s" }, { "--duration", "10" },
		{ "--duration", "-1s" }, { "--duration", "100us" },
		{ "--duration", "forever" }, { "--duration" },
		{ "--max-participants", "-1" }, { "--max-participants", "x" },
		{ "--max-errors", "0" }, { "--max-errors", "" },
		{ "--threads", "0" }, { "--threads", "65" }, { "--threads=2x" },
		{ "--organizers", "0" }, { "--organizers", "1001" },
		{ "--http-conns", "0" }, { "--http-conns", "4097" },
		{ "--timer-slack", "-1ms" }, { "--timer-slack", "2s" },
		{ "--timer-slack", "soon" }, { "--timer-slack" },
		{ "--arrival-rate", "0" }, { "--arrival-rate", "-5" },
		{ "--arrival-rate", "fast" }, { "--arrival-rate", "10/m" },
		{ "--arrival-rate", "2000000" }, { "--arrival-rate", "nan" },
		{ "--arrival-rate" }, { "--wake-grain", "1s" },
		{ "--wake-grain", "10ns" }, { "--uring-off", "fast" },
		{ "--uring-off", "ring_fd,,x" },
		{ "--max-conns", "0" }, { "--max-conns", "1048577" },
		{ "--source-ip", "10.0.0.9-10.0.0.1" }, { "--source-ip", "1.2.3" },
		{ "--source-ip", "0.0.0.0" }, { "--source-ip", "1.2.3.4-" },
		{ "--source-ip", "-1.2.3.4" }, { "--source-ip", "::1" },
		{ "--source-ip", "1.2.3.256" }, { "--source-ip" },
		{ "--connect-timeout", "x" }, { "--connect-timeout", "0s" },
		{ "--handshake-timeout", "0s" }, { "--handshake-timeout", "5" },
		{ "--out-dir", "" }, { "--out-dir" }, { "--config" },
		{ "--config", "" }, { "--serve-bin=" },
		{ "-x" }, { "--bogus" }, { "--bogus=1" }, { "foo" }, { "-" },
		{ "--", "foo" }, { "---sci", "10" }, { "-sci", "10", "extra" },
		{ "--quiet=maybe" }, { "--config", "/nonexistent/config.json" },
		{ "--help=1" }, { "-threads", "4", "-logWs", "true" },
	};
	struct run_opts o;

	check(enter_tmpdir_cfg() == 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = call(&o, (char *)bad[i][0], (char *)bad[i][1],
			     (char *)bad[i][2], (char *)bad[i][3], NULL);

		if (r != 2 || !one_line_error()) {
			fprintf(stderr, "case %zu (%s %s): r=%d err=%s\n", i,
				bad[i][0], bad[i][1] ? bad[i][1] : "", r,
				err_out);
			check(0);
		}
		check(std_out[0] == 0);
	}
	/* The error names the flag and the value. */
	check_eq(call(&o, "-sci", "-5", NULL), 2);
	check(strstr(err_out, "-sci") && strstr(err_out, "\"-5\""));
	check_eq(call(&o, "--threads=65", NULL), 2);
	check(strstr(err_out, "--threads") && strstr(err_out, "65"));
	check(strstr(err_out, "1 to 64"));
	check_eq(call(&o, "-smi", NULL), 2);
	check(strstr(err_out, "-smi") && strstr(err_out, "argument"));
	check_eq(call(&o, "--nope", NULL), 2);
	check(!strncmp(err_out, "esmeload: unknown flag --nope", 29));
	check_eq(call(&o, "stray", NULL), 2);
	check(strstr(err_out, "stray"));
	check_eq(call(&o, "--config", "/nonexistent/config.json", NULL), 2);
	check(strstr(err_out, "/nonexistent/config.json"));
	leave_tmpdir();
	return 0;
}

/* Go's flag.Int syntax (strconv.ParseInt base 0), value by value. */
static int test_go_int_syntax(void)
{
	static const struct {
		const char *s;
		int64_t want;
	} ok[] = {
		{ "0", 0 }, { "00", 0 }, { "7", 7 }, { "+7", 7 }, { "-0", 0 },
		{ "010", 8 }, { "0o10", 8 }, { "0O17", 15 }, { "0x10", 16 },
		{ "0X1f", 31 }, { "0xFF", 255 }, { "0b101", 5 }, { "0B11", 3 },
		{ "1_000", 1000 }, { "0x_10", 16 }, { "0_10", 8 },
		{ "0b_1_0", 2 }, { "-12", -12 }, { "-0x10", -16 },
		{ "9223372036854775807", INT64_MAX },
		{ "-9223372036854775808", INT64_MIN },
		{ "0x7fffffffffffffff", INT64_MAX },
	};
	static const char *const syntax[] = {
		"", "+", "-", "x", "08", "09", "0x", "0o", "0b", "0b2", "0o8",
		"0xg", "1.5", "1e3", " 5", "5 ", "_1", "1_", "1__0", "0x_",
		"+-5", "--5", "++5", "0_x1", "1a", "0d10", "12_", "0b_",
	};
	static const char *const range[] = {
		"9223372036854775808", "-9223372036854775809",
		"0x8000000000000000", "99999999999999999999999",
		"99999999999999999999x", /* like Go: the range error first */
	};
	struct run_opts o;
	int64_t v;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		v = 12345;
		if (opt_go_int(ok[i].s, &v) != 0 || v != ok[i].want) {
			fprintf(stderr, "\"%s\": %lld\n", ok[i].s, (long long)v);
			check(0);
		}
	}
	for (size_t i = 0; i < sizeof(syntax) / sizeof(syntax[0]); i++) {
		if (opt_go_int(syntax[i], &v) != -EINVAL) {
			fprintf(stderr, "\"%s\" accepted\n", syntax[i]);
			check(0);
		}
	}
	for (size_t i = 0; i < sizeof(range) / sizeof(range[0]); i++) {
		if (opt_go_int(range[i], &v) != -ERANGE) {
			fprintf(stderr, "\"%s\" not out of range\n", range[i]);
			check(0);
		}
	}
	check_eq(opt_go_int(NULL, &v), -EINVAL);

	/* Through the command line: the Go tool's three intervals. */
	check(enter_tmpdir_cfg() == 0);
	check_eq(call(&o, "-sci", "010", "-cpi", "0x10", "-smi", "+7", NULL), 0);
	check_eq(o.sci_ms, 8);
	check_eq(o.cpi_ms, 16);
	check_eq(o.smi_ms, 7);
	check_eq(call(&o, "-sci=0b11", "--cpi=1_000", "--smi", "0o17", NULL), 0);
	check_eq(o.sci_ms, 3);
	check_eq(o.cpi_ms, 1000);
	check_eq(o.smi_ms, 15);
	check_eq(call(&o, "-sci", "-0", NULL), 0);
	check_eq(o.sci_ms, 0);
	/* Go's words for a bad number and a big one. */
	check_eq(call(&o, "-sci", "08", NULL), 2);
	check(one_line_error());
	check(strstr(err_out, "invalid value \"08\" for flag -sci: parse error"));
	check_eq(call(&o, "-cpi", "9223372036854775808", NULL), 2);
	check(one_line_error());
	check(strstr(err_out, "flag -cpi: value out of range"));
	/* Go takes these; they mean nothing, so they are refused. */
	check_eq(call(&o, "-smi", "-1", NULL), 2);
	check(one_line_error());
	check(strstr(err_out, "-smi") && strstr(err_out, "negative interval"));
	check_eq(call(&o, "-cpi", "-0x10", NULL), 2);
	check(strstr(err_out, "negative interval"));
	check_eq(call(&o, "-sci", "9223372036855", NULL), 2);
	check(one_line_error());
	check(strstr(err_out, "at most 9223372036854"));
	check_eq(call(&o, "-sci", "9223372036854", NULL), 0);
	/* Our own integer flags stay decimal. */
	check_eq(call(&o, "--threads", "010", NULL), 0);
	check_eq(o.threads, 10);
	check_eq(call(&o, "--threads", "0x10", NULL), 2);
	leave_tmpdir();
	return 0;
}

/* Without a config.json only a bare command line (or --demo) is a demo. */
static int test_no_config(void)
{
	static const char *const flags[][3] = {
		{ "-sci", "10" }, { "-cpi=20" }, { "-smi", "100" }, { "-logWs" },
		{ "--duration", "5s" }, { "--quiet" }, { "--out-dir", "x" },
		{ "--max-participants", "5" }, { "--threads", "2" },
		{ "--demo=false" }, { "--" },
	};
	struct run_opts o;

	check(enter_tmpdir() == 0);
	check_eq(call(&o, NULL), 0);
	check_eq(o.embedded, 1);
	check(o.config_path == NULL);
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		int r = call(&o, (char *)flags[i][0], (char *)flags[i][1], NULL);

		if (r != 2 || !one_line_error() ||
		    strncmp(err_out, "esmeload: ./config.json: No such file", 37) ||
		    !strstr(err_out, "--config FILE") ||
		    !strstr(err_out, "esmeload demo")) {
			fprintf(stderr, "case %zu (%s): r=%d err=%s\n", i,
				flags[i][0], r, err_out);
			check(0);
		}
		check_eq(std_out[0], 0);
	}
	/* The explicit demo takes any flag. */
	check_eq(call(&o, "--demo", NULL), 0);
	check_eq(o.embedded, 1);
	check_eq(call(&o, "-sci", "5", "--demo", "--quiet", NULL), 0);
	check_eq(o.embedded, 1);
	check_eq(o.sci_ms, 5);
	check_eq(o.quiet, 1);
	/* ... but no config: it runs against its own serve. */
	check(write_text("other.json", good_cfg) == 0);
	check_eq(call(&o, "--demo", "--config", "other.json", NULL), 2);
	check(one_line_error());
	check(strstr(err_out, "--config other.json") && strstr(err_out, "demo"));
	/* A ./config.json is not read by the demo, and is by a run. */
	check(write_text("config.json", good_cfg) == 0);
	check_eq(call(&o, "--demo", NULL), 0);
	check_eq(o.embedded, 1);
	check(o.config_path == NULL);
	check_eq(o.event_id, 0);
	check_eq(call(&o, NULL), 0);
	check_eq(o.embedded, 0);
	check_eq(o.event_id, 7);
	check_eq(call(&o, "-sci", "10", NULL), 0);
	check_eq(o.embedded, 0);
	leave_tmpdir();
	return 0;
}

static int test_help(void)
{
	static const char *const words[] = {
		"-sci", "-cpi", "-smi", "-logWs", "--config", "--duration",
		"--max-participants", "--max-errors", "--threads",
		"--organizers", "--http-conns", "--max-conns", "--source-ip",
		"--connect-timeout", "--handshake-timeout", "--out-dir",
		"--quiet", "--serve-bin", "--help", "default 1000",
		"default 10s", "default 45s", "default 4", "default 1)",
		"default .", "embedded", "config.json", "--demo", "0x10",
		"_performance_test_summary.json",
		"_performance_test_message_rates.json",
	};
	static const char *const forms[] = { "-h", "-help", "--help" };
	struct run_opts o;

	check(enter_tmpdir_cfg() == 0);
	for (size_t k = 0; k < 3; k++) {
		check_eq(call(&o, (char *)forms[k], NULL), 1);
		check(!strncmp(std_out, "usage: esmeload run", 19));
		check_eq(err_out[0], 0);
		for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
			if (!strstr(std_out, words[i])) {
				fprintf(stderr, "help lacks %s\n", words[i]);
				check(0);
			}
		}
	}
	/* Help wins over the flags before it, as in Go. */
	check_eq(call(&o, "-sci", "5", "--help", NULL), 1);
	/* No line wider than 80 columns. */
	for (const char *p = std_out, *nl; *p; p = nl + 1) {
		nl = strchr(p, '\n');
		check(nl != NULL);
		check(nl - p <= 80);
	}
	leave_tmpdir();
	return 0;
}

static int test_config_valid(void)
{
	struct run_opts o;
	const struct sockaddr_in *sin;

	check(enter_tmpdir() == 0);
	check(write_text("other.json", good_cfg) == 0);
	check_eq(call(&o, "--config", "other.json", "-sci", "10", NULL), 0);
	check_eq(err_out[0], 0);
	check_eq(o.embedded, 0);
	check(!strcmp(o.config_path, "other.json"));
	check_eq(o.event_id, 7);
	check(!strcmp(o.org_email, "jan@kowalski.com"));
	check(!strcmp(o.org_password, "se\"cret"));
	check(!strcmp(o.t[T_ORG].url, "http://127.0.0.1:8000"));
	check(!strcmp(o.t[T_ORG].hostport, "127.0.0.1:8000"));
	check_eq(o.t[T_ORG].u.port, 8000);
	check_eq(o.t[T_ORG].u.path_len, 0);
	check_eq(o.t[T_ORG].addr.ss_family, AF_INET);
	check_eq(o.t[T_ORG].addr_len, sizeof(struct sockaddr_in));
	sin = (const struct sockaddr_in *)&o.t[T_ORG].addr;
	check_eq(ntohs(sin->sin_port), 8000);
	check_eq(ntohl(sin->sin_addr.s_addr), 0x7f000001);
	check(!strcmp(o.t[T_PART].url, "http://127.0.0.1:8100/api"));
	check_span(o.t[T_PART].u.path, o.t[T_PART].u.path_len, "/api");
	check(!strcmp(o.t[T_PART].hostport, "127.0.0.1:8100"));
	sin = (const struct sockaddr_in *)&o.t[T_PART].addr;
	check_eq(ntohs(sin->sin_port), 8100);
	/* The Go tool dials messenger_ws_url + "/connect". */
	check(!strcmp(o.t[T_MSG].url, "ws://127.0.0.1:8300/connect"));
	check_span(o.t[T_MSG].u.path, o.t[T_MSG].u.path_len, "/connect");
	check_span(o.t[T_MSG].u.host, o.t[T_MSG].u.host_len, "127.0.0.1");
	check(o.t[T_MSG].u.websocket);
	sin = (const struct sockaddr_in *)&o.t[T_MSG].addr;
	check_eq(ntohs(sin->sin_port), 8300);
	check(!strcmp(o.t[T_MSG].hostport, "127.0.0.1:8300"));

	/* ./config.json is taken when present and no --config is given. */
	check(write_text("config.json",
			 "{\"event_id\": 4294967295, "
			 "\"messenger_ws_url\": \"ws://localhost/\", "
			 "\"organizer_api_url\": \"http://[::1]:8000\", "
			 "\"organizer_email\": \"e\", \"organizer_password\": \"\", "
			 "\"participant_api_url\": \"http://127.0.0.1\"}") == 0);
	check_eq(call(&o, NULL), 0);
	check_eq(o.embedded, 0);
	check(o.config_path && !strcmp(o.config_path, "config.json"));
	check_eq(o.event_id, 4294967295u);
	check(!strcmp(o.org_password, ""));
	check(!strcmp(o.t[T_MSG].url, "ws://localhost//connect"));
	check(!strcmp(o.t[T_MSG].hostport, "localhost"));
	check(o.t[T_MSG].addr.ss_family == AF_INET ||
	      o.t[T_MSG].addr.ss_family == AF_INET6);
	check(!strcmp(o.t[T_PART].hostport, "127.0.0.1"));
	check_eq(ntohs(((const struct sockaddr_in *)&o.t[T_PART].addr)->sin_port),
		 80);
	check_eq(o.t[T_ORG].addr.ss_family, AF_INET6);
	check_eq(o.t[T_ORG].addr_len, sizeof(struct sockaddr_in6));
	check(!strcmp(o.t[T_ORG].hostport, "[::1]:8000"));
	check_eq(ntohs(((const struct sockaddr_in6 *)&o.t[T_ORG].addr)->sin6_port),
		 8000);
	/* --config beats ./config.json. */
	check_eq(call(&o, "--config=other.json", NULL), 0);
	check_eq(o.event_id, 7);
	leave_tmpdir();
	return 0;
}

/* good_cfg with key removed. */
static void without(char *dst, size_t cap, const char *key)
{
	static const char *const keys[] = {
		"event_id", "messenger_ws_url", "organizer_api_url",
		"organizer_email", "organizer_password", "participant_api_url",
	};
	static const char *const vals[] = {
		"7", "\"ws://127.0.0.1:8300\"", "\"http://127.0.0.1:8000\"",
		"\"a@b.c\"", "\"p\"", "\"http://127.0.0.1:8100\"",
	};
	size_t n = 0;

	n += (size_t)snprintf(dst + n, cap - n, "{\"other\": 1");
	for (int k = 0; k < 6; k++)
		if (strcmp(keys[k], key))
			n += (size_t)snprintf(dst + n, cap - n, ", \"%s\": %s",
					      keys[k], vals[k]);
	snprintf(dst + n, cap - n, "}");
}

static int test_config_missing_keys(void)
{
	static const char *const keys[] = {
		"event_id", "messenger_ws_url", "organizer_api_url",
		"organizer_email", "organizer_password", "participant_api_url",
	};
	struct run_opts o;
	char text[1024], want[128];

	check(enter_tmpdir() == 0);
	without(text, sizeof(text), "none");
	check(write_text("config.json", text) == 0);
	/* Loading leaves the embedded flag alone: run.c loads the embedded
	 * serve's config and still has to stop that serve at the end. */
	memset(&o, 0, sizeof(o));
	o.embedded = 1;
	check_eq(load(&o, "config.json"), 0);
	check_eq(o.embedded, 1);
	check(!strcmp(o.org_email, "a@b.c"));
	for (int k = 0; k < 6; k++) {
		without(text, sizeof(text), keys[k]);
		check(write_text("config.json", text) == 0);
		check_eq(load(&o, "config.json"), 2);
		check(one_line_error());
		snprintf(want, sizeof(want),
			 "esmeload: config.json: key \"%s\" missing\n", keys[k]);
		check(!strcmp(err_out, want));
	}
	leave_tmpdir();
	return 0;
}

static int test_config_bad(void)
{
	static const struct {
		const char *text;
		const char *want; /* in the error */
	} bad[] = {
		{ "{\"event_id\": \"1\"}", "\"event_id\" must be an integer" },
		{ "{\"event_id\": 1.5}", "\"event_id\" must be an integer" },
		{ "{\"event_id\": -1}", "\"event_id\" must be an integer" },
		{ "{\"event_id\": 4294967296}", "\"event_id\" must be an integer" },
		{ "{\"event_id\": true}", "\"event_id\" must be an integer" },
		{ "{\"event_id\": null}", "\"event_id\" must be an integer" },
		{ "{\"event_id\": 1, \"organizer_email\": 5}",
		  "key \"organizer_email\" must be a string" },
		{ "{\"event_id\": 1, \"organizer_email\": \"e\", "
		  "\"organizer_password\": [\"p\"]}",
		  "key \"organizer_password\" must be a string" },
		{ "{\"event_id\": 1, \"organizer_email\": \"e\", "
		  "\"organizer_password\": \"p\", \"organizer_api_url\": null}",
		  "key \"organizer_api_url\" must be a string" },
		{ "{", "not valid JSON" },
		{ "", "not valid JSON" },
		{ "{\"event_id\": 1} x", "not valid JSON" },
		{ "{\"event_id\": 1,}", "not valid JSON" },
		{ "[1, 2]", "not a JSON object" },
		{ "\"event_id\"", "not a JSON object" },
	};
	struct run_opts o;

	check(enter_tmpdir() == 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		check(write_text("config.json", bad[i].text) == 0);
		if (load(&o, "config.json") != 2 || !one_line_error() ||
		    !strstr(err_out, bad[i].want) ||
		    strncmp(err_out, "esmeload: config.json: ", 23)) {
			fprintf(stderr, "case %zu: %s", i, err_out);
			check(0);
		}
	}
	/* Through run_parse too. */
	check_eq(call(&o, NULL), 2);
	check(one_line_error());
	check_eq(load(&o, "absent.json"), 2);
	check(one_line_error());
	check(strstr(err_out, "absent.json") && strstr(err_out, "No such file"));
	/* A directory is not readable as a file. */
	check_eq(load(&o, "/"), 2);
	check(one_line_error());
	leave_tmpdir();
	return 0;
}

static int test_config_size(void)
{
	char *big = malloc((64 << 10) + 2);
	struct run_opts o;
	size_t n = strlen(good_cfg);

	check(big != NULL);
	check(enter_tmpdir() == 0);
	/* Exactly 64 KiB: accepted (whitespace padding). */
	memcpy(big, good_cfg, n);
	memset(big + n, ' ', (64 << 10) - n);
	big[64 << 10] = 0;
	check(write_text("big.json", big) == 0);
	check_eq(load(&o, "big.json"), 0);
	check_eq(o.event_id, 7);
	/* One byte more: refused. */
	big[64 << 10] = ' ';
	big[(64 << 10) + 1] = 0;
	check(write_text("big.json", big) == 0);
	check_eq(load(&o, "big.json"), 2);
	check(one_line_error());
	check(strstr(err_out, "big.json") && strstr(err_out, "64 KiB"));
	free(big);
	leave_tmpdir();
	return 0;
}

/* A valid config with one key overridden. */
static int load_with(struct run_opts *o, const char *key, const char *url)
{
	char text[1024];

	/* json_find takes the last occurrence of a key: the override goes
	 * last. */
	snprintf(text, sizeof(text),
		 "{\"event_id\": 1, \"organizer_email\": \"e\", "
		 "\"organizer_password\": \"p\", "
		 "\"messenger_ws_url\": \"ws://127.0.0.1:8300\", "
		 "\"organizer_api_url\": \"http://127.0.0.1:8000\", "
		 "\"participant_api_url\": \"http://127.0.0.1:8100\", "
		 "\"%s\": \"%s\"}",
		 key, url);
	if (write_text("config.json", text) != 0)
		return -1;
	return load(o, "config.json");
}

static int test_config_targets(void)
{
	static const struct {
		const char *key, *url, *want;
	} bad[] = {
		{ "organizer_api_url", "ws://127.0.0.1:8000", "http://" },
		{ "participant_api_url", "ws://127.0.0.1:8100", "http://" },
		{ "messenger_ws_url", "http://127.0.0.1:8300", "ws://" },
		{ "messenger_ws_url", "https://localhost:8300", "wss://" },
		{ "organizer_api_url", "wss://localhost:8000", "https://" },
		/* BearSSL checks DNS names: an IP address cannot be verified. */
		{ "messenger_ws_url", "wss://127.0.0.1:8300", "IP address" },
		{ "organizer_api_url", "https://127.0.0.1:8000", "--insecure" },
		{ "participant_api_url", "https://[::1]", "IP address" },
		{ "organizer_api_url", "ftp://127.0.0.1", "not a URL" },
		{ "organizer_api_url", "127.0.0.1:8000", "not a URL" },
		{ "organizer_api_url", "http://127.0.0.1:99999", "not a URL" },
	};
	struct run_opts o;

	memset(&o, 0, sizeof(o)); /* o.insecure decides the IP-address cases */
	check(enter_tmpdir() == 0);
	check_eq(load_with(&o, "organizer_api_url", "http://127.0.0.1:8000"), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (load_with(&o, bad[i].key, bad[i].url) != 2 ||
		    !one_line_error() || !strstr(err_out, bad[i].want) ||
		    !strstr(err_out, bad[i].key)) {
			fprintf(stderr, "case %zu: %s", i, err_out);
			check(0);
		}
	}
	/* A URL too long once "/connect" is added. */
	{
		char url[RUN_URL_MAX];

		memset(url, 'a', sizeof(url));
		memcpy(url, "ws://127.0.0.1/", 15);
		url[RUN_URL_MAX - 5] = 0;
		check_eq(load_with(&o, "messenger_ws_url", url), 2);
		check(one_line_error());
	}
	leave_tmpdir();
	return 0;
}

static int test_set_target(void)
{
	struct run_opts o;
	int r, s;
	FILE *t;

	memset(&o, 0, sizeof(o));
	check_eq(run_set_target(&o, T_MSG, "ws://127.0.0.1:9/connect", "x"), 0);
	check(!strcmp(o.t[T_MSG].url, "ws://127.0.0.1:9/connect"));
	check(!strcmp(o.t[T_MSG].hostport, "127.0.0.1:9"));
	/* The spans point into the stored copy, not the caller's string. */
	check(o.t[T_MSG].u.host == o.t[T_MSG].url + 5);
	check_eq(run_set_target(&o, T_ORG, "http://[::1]", "x"), 0);
	check(!strcmp(o.t[T_ORG].hostport, "[::1]"));
	check_eq(run_set_target(&o, T_PART, "http://localhost:8100", "x"), 0);
	check(!strcmp(o.t[T_PART].hostport, "localhost:8100"));
	/* localhost: the IPv4 address when there is one. */
	check_eq(o.t[T_PART].addr.ss_family, AF_INET);
	/* An unknown host is not fatal when loading: the first connection
	 * fails with the cause, so the run still writes its files. */
	grab_begin(2, &s, &t);
	r = run_set_target(&o, T_PART, "http://host.invalid", "participant_api_url");
	grab_end(2, s, t, err_out, sizeof(err_out));
	check_eq(r, 0);
	check_eq(err_out[0], 0);
	check_eq(o.t[T_PART].addr_len, 0);
	check(strstr(o.t[T_PART].resolve_err, "cannot resolve host host.invalid"));
	check(!strcmp(o.t[T_PART].hostport, "host.invalid"));
	grab_begin(2, &s, &t);
	r = run_set_target(&o, T_ORG, "wss://127.0.0.1", "organizer_api_url");
	grab_end(2, s, t, err_out, sizeof(err_out));
	check_eq(r, 2);
	check(one_line_error() && strstr(err_out, "https://"));
	/* TLS targets keep their flag; 443 is the default port. */
	check_eq(run_set_target(&o, T_ORG, "https://localhost", "x"), 0);
	check(o.t[T_ORG].u.tls);
	check_eq(o.t[T_ORG].u.port, 443);
	check(!strcmp(o.t[T_ORG].hostport, "localhost"));
	check_eq(run_set_target(&o, T_MSG, "wss://localhost:8443/connect", "x"), 0);
	check(o.t[T_MSG].u.tls && o.t[T_MSG].u.websocket);
	check(!strcmp(o.t[T_MSG].hostport, "localhost:8443"));
	/* An IP address: refused unless --insecure. */
	grab_begin(2, &s, &t);
	r = run_set_target(&o, T_PART, "https://127.0.0.1:8100", "participant_api_url");
	grab_end(2, s, t, err_out, sizeof(err_out));
	check_eq(r, 2);
	check(one_line_error() && strstr(err_out, "IP address"));
	o.insecure = 1;
	check_eq(run_set_target(&o, T_PART, "https://127.0.0.1:8100", "x"), 0);
	check(o.t[T_PART].u.tls);
	return 0;
}

/* The test id: the same flags give the same id; each flag of the load
 * and of the behaviours changes it, the output directory does not. */
static int test_test_id(void)
{
	static const char *const differ[][2] = {
		{ "-smi", "99" }, { "--max-participants", "7" },
		{ "--org-reply-every", "2" }, { "--org-think", "2s" },
		{ "--chat-lifetime", "9s" }, { "--chat-messages", "5" },
		{ "--reopen-after", "1s" }, { "--reconnect-uptime", "5s" },
		{ "--reconnect-dist", "fixed" }, { "--reconnect-backoff", "1s" },
		{ "--devices", "2" }, { "--org-devices", "3" },
	};
	struct run_opts a, b;
	uint64_t base;

	check(enter_tmpdir_cfg() == 0);
	check_eq(call(&a, "-sci", "10", NULL), 0);
	base = run_test_id(&a);
	check_eq(call(&b, "-sci", "10", "--out-dir", "/tmp", NULL), 0);
	check(run_test_id(&b) == base);
	for (size_t i = 0; i < sizeof(differ) / sizeof(differ[0]); i++) {
		check_eq(call(&b, "-sci", "10", differ[i][0], differ[i][1], NULL), 0);
		if (run_test_id(&b) == base) {
			fprintf(stderr, "%s %s leaves the test id\n", differ[i][0],
				differ[i][1]);
			return __LINE__;
		}
	}
	leave_tmpdir();
	return 0;
}

TEST_MAIN(T(test_defaults), T(test_test_id), T(test_go_flag_forms), T(test_logws_forms),
	  T(test_our_flags), T(test_timer_slack), T(test_arrival_rate),
	  T(test_bad_values), T(test_go_int_syntax),
	  T(test_no_config), T(test_help),
	  T(test_config_valid), T(test_config_missing_keys),
	  T(test_config_bad), T(test_config_size), T(test_config_targets),
	  T(test_set_target))
