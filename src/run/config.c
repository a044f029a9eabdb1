/*
 * run/config: the command line of `esmeload run` (the Go tool's flags plus
 * ours) and config.json. See src/run/run.h, docs/protocol.md §5.
 */
#include "run/run.h"
#include "engine/ring.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "json.h"
#include "opt.h"
#include "timefmt.h"


#define MAX_CONNS_CAP (1u << 20)
/* Largest interval in ms whose nanoseconds still fit an int64_t, so later
 * ms -> ns conversions cannot overflow. */
#define MS_MAX (INT64_MAX / 1000000)

static const char usage[] =
"usage: esmeload run [options]\n"
"\n"
"The ESME performance test (the Go tool of tests/performance) on io_uring:\n"
"organizers sign in and send start_chat every -sci ms; every -cpi ms a new\n"
"participant signs up, posts a chat request, connects to the messenger,\n"
"waits for its chat and then sends a message every -smi ms. Unlike the Go\n"
"tool, every connection is read, and delivered messages are counted.\n"
"\n"
"The Go tool's flags, in its syntax (-sci 10, --sci 10, -sci=10, --sci=10),\n"
"with integers as Go reads them (010 is 8, 0x10 is 16, 0b11 3, 1_000 1000)\n"
"and no negative intervals (Go's loops would not wait; exit code 2):\n"
"  -sci MS                   start-chat interval (default 1000)\n"
"  -cpi MS                   create-participant interval (default 1000)\n"
"  --arrival-rate R          instead of -cpi: R participants arrive per\n"
"                            second, at any rate (e.g. 10000: one every\n"
"                            100 us), open loop as -cpi; the summary's\n"
"                            create_participant_interval is 1/R\n"
"  -smi MS                   send-message interval (default 1000)\n"
"  -logWs                    log every WebSocket text message to stderr;\n"
"                            -logWs or -logWs=true|false (default false)\n"
"\n"
"Targets:\n"
"  --config FILE             config.json of the Go tool: event_id,\n"
"                            messenger_ws_url, organizer_api_url,\n"
"                            organizer_email, organizer_password,\n"
"                            participant_api_url (default ./config.json)\n"
"  --serve-bin PATH          esmeload binary started in embedded mode\n"
"                            (default: this program)\n"
"  --cacert FILE             trust anchors (PEM certificates) for https://\n"
"                            and wss:// targets (default\n"
"                            /etc/ssl/certs/ca-certificates.crt)\n"
"  --insecure                TLS without certificate checks (any CA, date\n"
"                            or name); the summary says so\n"
"\n"
"  --demo                    the demo below, also where ./config.json exists\n"
"                            (`esmeload demo [flags]` is the same)\n"
"\n"
"  With no --config and no ./config.json, any argument stops the run with\n"
"  exit code 2 naming the missing file. A bare `esmeload` (no arguments),\n"
"  or --demo, is the demo instead: a short run against an embedded\n"
"  `esmeload serve` started on loopback (targets and organizer from it,\n"
"  stopped at the end), with -sci 10 -cpi 20 -smi 100 unless given (by a\n"
"  flag or --scenario) and --duration 10s (at most 30s). It says so on\n"
"  stderr, even with --quiet,\n"
"  and its summary has \"embedded_serve\": true.\n"
"\n"
"When to stop (the Go tool stops at the first error or a signal):\n"
"  --duration DUR            stop after DUR, e.g. 90s, 10m (default: never)\n"
"  --max-participants N      at most N participants arrive (default 0, no\n"
"                            limit). Without --duration the run then ends\n"
"                            when each has its chat or has failed; with\n"
"                            --duration it holds them until the duration\n"
"  --max-errors N            stop after N errors (default 1)\n"
"\n"
"Beyond the Go tool's scenario (each off by default):\n"
"  --org-reply-every K       organizers answer: every K-th participant\n"
"                            message an organizer reads gets a reply after\n"
"                            its think time; the participant times it from\n"
"                            the reply's schedule (default 0: never)\n"
"  --org-think DUR           the think time (default 1s)\n"
"  --org-think-dist fixed|exp\n"
"                            fixed, or drawn from the exponential\n"
"                            distribution of that mean, seeded by the test's\n"
"                            flags (default fixed)\n"
"  --chat-lifetime DUR       organizers close each chat DUR after it began\n"
"                            (default: never)\n"
"  --chat-messages N         ... or once they read the participant's N-th\n"
"                            message in it (default 0: never)\n"
"  --reopen-after DUR        a participant whose chat closed asks for help\n"
"                            again after DUR, on the same connection\n"
"                            (default: never; it stays connected, idle)\n"
"  --reconnect-uptime DUR    the tester drops a participant's connection\n"
"                            DUR after it was last back in its chat; it\n"
"                            reconnects with its token, fetches its chat\n"
"                            and get_chat_history, checks the history for\n"
"                            missing or doubled messages and carries on (a\n"
"                            history must fit in 1 MiB, some 6,000\n"
"                            messages). A connection the server drops comes\n"
"                            back too (default: never; drops are errors)\n"
"  --reconnect-dist fixed|exp\n"
"                            the uptime fixed, or drawn from the exponential\n"
"                            distribution of that mean, seeded by the\n"
"                            test's flags (default exp)\n"
"  --reconnect-backoff DUR   the wait before reconnecting (default 500ms)\n"
"  --devices N               connections per participant, 1-8 (default 1):\n"
"                            messages leave from the first, and every other\n"
"                            one must read each echo\n"
"  --org-devices N           connections per organizer, 1-8 (default 1):\n"
"                            start_chat and replies leave from the first,\n"
"                            and every other one must read what it reads\n"
"  --scenario FILE           these behaviours and the load (-sci, -cpi or\n"
"                            --arrival-rate, -smi, --organizers,\n"
"                            --max-participants, --duration) from a JSON\n"
"                            file (docs/scenario.schema.json), recorded in\n"
"                            the summary; a flag on the command line wins\n"
"                            over the file, wherever --scenario is\n"
"\n"
"Shards (one test over several processes or machines; `esmeload merge`\n"
"reads their files back as one result):\n"
"  --shard I/N               be shard I (from 0) of N: participants I+1,\n"
"                            I+1+N, ... and organizer accounts I, I+N, ...\n"
"                            of the whole test's schedule, so N shards at\n"
"                            the same flags make the load of one process;\n"
"                            files named <unix>_shard-I-of-N_... (or from\n"
"                            the environment: ESMELOAD_SHARD=I/N, or\n"
"                            ESMELOAD_SHARDS=N and JOB_COMPLETION_INDEX=I)\n"
"  --start-at TIME           the test's start, the same for every shard:\n"
"                            Unix seconds or RFC 3339; waits until then\n"
"                            (or ESMELOAD_START_AT; default: now)\n"
"\n"
"Resources:\n"
"  --threads N               worker threads, 1-64 (default: the CPUs this\n"
"                            process may run on, as taskset or the\n"
"                            container sets them; each thread takes as\n"
"                            many rings as its --max-conns needs)\n"
"  --organizers N            organizer accounts, one connection each, 1-1000\n"
"                            (default 1): config.json's \"organizers\" list, or\n"
"                            organizer_email with +2, +3, ... before the @\n"
"  --http-conns N            most keep-alive REST connections per thread,\n"
"                            opened as arrivals need them, 1-4096 (default 64)\n"
"  --max-conns N             connections per thread, 1-1048576 (default: the\n"
"                            open-files hard limit, to which esmeload raises\n"
"                            its soft limit at start; at most 1048576)\n"
"  --source-ip A.B.C.D[-A.B.C.D]\n"
"                            bind connections to these local IPv4 addresses\n"
"                            in turn (default: the kernel chooses)\n"
"  --connect-timeout DUR     TCP connect deadline, and TLS handshake\n"
"                            deadline after it (default 10s)\n"
"  --handshake-timeout DUR   WebSocket handshake deadline, the Go tool's\n"
"                            (default 45s)\n"
"  --request-timeout DUR     a REST call without a complete response is an\n"
"                            error after DUR (default 30s)\n"
"  --send-timeout DUR        a send the server does not take (it stopped\n"
"                            reading) is an error after DUR (default 30s)\n"
"  --timer-slack DUR         let the loop wake up to DUR after a timer is due,\n"
"                            so one wake-up serves the timers of that window:\n"
"                            less CPU at high message rates, DUR coarser\n"
"                            timing (default 0: timers within 32.8 us)\n"
"  --ring-entries N          submission queue entries per ring, 8-32768\n"
"                            (default 2048)\n"
"  --cq-entries N            completion queue entries per ring, at least\n"
"                            --ring-entries, up to 65536 (default 8x\n"
"                            --ring-entries); a small one shows the\n"
"                            self-check's cq_overflows\n"
"  --recv-buffers N          provided receive buffers of 4 KiB per ring,\n"
"                            a power of two, 16-32768 (default 2048); with\n"
"                            buf_inc the same memory in fewer buffers of up\n"
"                            to 64 KiB (at least 16)\n"
"  --defer-taskrun=false     set rings up without DEFER_TASKRUN\n"
"                            (COOP_TASKRUN instead), to compare\n"
"  --sqpoll                  a kernel thread polls each submission queue\n"
"  --wake-grain DUR          once a completion is there, the loop's wait\n"
"                            lasts DUR more for others (io_uring's minimum\n"
"                            wait, Linux 6.12+): fewer wake-ups, timers and\n"
"                            receive times up to DUR late (default 0: off)\n"
"  --uring-off LIST          refuse newer io_uring features, as a kernel\n"
"                            without them would: ring_fd, min_wait,\n"
"                            recv_bundle (several receive buffers per\n"
"                            completion, Linux 6.10+), buf_inc (64 KiB\n"
"                            receive buffers shared a part at a time,\n"
"                            6.12+) or all, comma-separated; each is used\n"
"                            when the kernel has it, and the self-check's\n"
"                            uring_features says which are on\n"
"  --zc                      send with IORING_OP_SEND_ZC from the registered\n"
"                            send arena (Linux 6.2+; the summary counts the\n"
"                            sends the kernel copied all the same)\n"
"  --sndbuf BYTES            SO_SNDBUF of every connection (default: the\n"
"                            kernel's autotuning)\n"
"\n"
"Output:\n"
"  --out-dir DIR             where the files go (default .)\n"
"  --quiet                   no progress line on stderr\n"
"  --metrics-listen HOST:PORT\n"
"                            serve GET /metrics, the live counters and\n"
"                            latency summaries in the Prometheus text\n"
"                            format (:PORT: every address; port 0: any, the\n"
"                            address is printed on stderr; default: off)\n"
"  --metrics-linger DUR      after the run, keep answering /metrics for DUR\n"
"                            with the summary's figures, for a last scrape\n"
"                            (a signal ends it; default 0)\n"
"  --threshold EXPR          a condition the run must meet, e.g. 'p99<50ms',\n"
"                            'delivered_ratio>0.999', 'errors==0'\n"
"                            (repeatable); any failed: exit code 99\n"
"  -h, --help                this text\n"
"\n"
"The integers of our own flags (--threads, --max-participants, ...) are\n"
"plain decimal.\n"
"\n"
"Threshold metrics: p50 p90 p99 p99_9 max (latency from the scheduled send,\n"
"ms), actual_p50 ... actual_max (from the actual send), lag_p50 ... lag_max,\n"
"arrival_lag_p50 ... arrival_lag_max (sign-up written minus its schedule),\n"
"time_to_chat_p50 ... time_to_chat_max (scheduled arrival until its chat),\n"
"reply_p50 ... reply_max (an organizer's reply, from its schedule),\n"
"rejoin_p50 ... rejoin_max (a reconnect until back in its chat),\n"
"delivered_ratio, sent, delivered, organizer_received, errors, chats,\n"
"participants, msgs_per_s, cpu_percent, in_flight, lost, replies_sent,\n"
"replies_received, chats_closed, chats_reopened, reconnects,\n"
"history_missing, history_duplicated, device_copies_missing,\n"
"replies_missed, history_truncated.\n"
"\n"
"Files, <unix> being the Unix second they are written in at the end of the\n"
"run, as the Go tool names its two (the time series is written under the\n"
"start second as the run goes and renamed at the end; a killed run leaves\n"
"it under the start second, alone):\n"
"  <unix>_performance_test_summary.json        the Go tool's summary, plus\n"
"                                              an \"esmeload\" object:\n"
"                                              delivered, latency, errors,\n"
"                                              the tester's self-check\n"
"  <unix>_performance_test_message_rates.json  messages sent per Unix second\n"
"  <unix>_performance_test_timeseries.jsonl    one line per second\n"
"\n"
"Other commands: esmeload serve (the reference backend), esmeload report,\n"
"esmeload compare; `esmeload help` lists them.\n";

#define MAX_THRESHOLDS 32

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print one "esmeload: ..." line; returns 2, the exit code of bad input. */
static int fail(const char *fmt, ...)
{
	char line[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "esmeload: %s\n", line);
	return 2;
}

static int bad_value(const char *dashes, const char *name, const char *v,
		     const char *why)
{
	return fail("invalid value \"%s\" for flag %s%s: %s", v, dashes, name,
		    why);
}

static void defaults(struct run_opts *o)
{
	struct rlimit rl;

	memset(o, 0, sizeof(*o));
	o->sci_ms = o->cpi_ms = o->smi_ms = 1000;
	o->max_errors = 1;
	o->threads = opt_cpus();
	if (o->threads > 64)
		o->threads = 64;
	o->organizers = 1;
	o->http_conns = 64;
	o->max_conns = 1024;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		o->max_conns = rl.rlim_cur == RLIM_INFINITY ||
				       rl.rlim_cur > MAX_CONNS_CAP
			? MAX_CONNS_CAP : (unsigned)rl.rlim_cur;
	if (o->max_conns == 0)
		o->max_conns = 1;
	o->connect_timeout_ms = 10000;
	o->handshake_timeout_ms = 45000;
	o->request_timeout_ms = 30000;
	o->send_timeout_ms = 30000;
	o->ring_entries = 2048;
	o->recv_buffers = 2048;
	o->out_dir = ".";
	o->shards = 1;
	o->org_think_ms = 1000;
	o->reconnect_backoff_ms = 500;
	o->devices = 1;
	o->org_devices = 1;
}

/* "I/N" with 0 <= I < N <= RUN_MAX_SHARDS; 0 or -EINVAL. */
static int parse_shard(const char *v, unsigned *i, unsigned *n)
{
	char *end;
	unsigned long a, b;

	if (*v < '0' || *v > '9')
		return -EINVAL;
	errno = 0;
	a = strtoul(v, &end, 10);
	if (errno || *end != '/' || end[1] < '0' || end[1] > '9')
		return -EINVAL;
	b = strtoul(end + 1, &end, 10);
	if (errno || *end || b < 1 || b > RUN_MAX_SHARDS || a >= b)
		return -EINVAL;
	*i = (unsigned)a;
	*n = (unsigned)b;
	return 0;
}

/* Unix seconds (a fraction allowed) or RFC 3339 into Unix ns; 0 or
 * -EINVAL. */
static int parse_instant(const char *v, int64_t *ns)
{
	int64_t sec;
	int32_t nsec, off;
	char *end;
	double d;

	if (timefmt_rfc3339_parse(v, strlen(v), &sec, &nsec, &off) == 0) {
		*ns = sec * 1000000000 + nsec;
		return 0;
	}
	errno = 0;
	d = strtod(v, &end);
	if (end == v || *end || errno || !(d >= 1e9) || d > 4e9)
		return -EINVAL;
	*ns = (int64_t)(d * 1e9 + 0.5);
	return 0;
}

/* "A.B.C.D" or "A.B.C.D-A.B.C.D" into host-order lo/hi. */
static int parse_range(const char *s, uint32_t *lo, uint32_t *hi)
{
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
	const char *dash = strchr(s, '-');
	struct in_addr x, y;
	size_t n = dash ? (size_t)(dash - s) : strlen(s);

	if (n == 0 || n >= sizeof(a))
		return -EINVAL;
	memcpy(a, s, n);
	a[n] = 0;
	if (dash) {
		if (strlen(dash + 1) >= sizeof(b))
			return -EINVAL;
		strcpy(b, dash + 1);
	} else {
		strcpy(b, a);
	}
	if (inet_pton(AF_INET, a, &x) != 1 || inet_pton(AF_INET, b, &y) != 1)
		return -EINVAL;
	*lo = ntohl(x.s_addr);
	*hi = ntohl(y.s_addr);
	/* 0 means "no pool" in run_opts, and 0.0.0.0 binds to nothing. */
	if (*lo == 0 || *lo > *hi)
		return -EINVAL;
	return 0;
}

/* The Go tool's integer millisecond flags. */
static const struct {
	const char *name;
	size_t off;
} go_ms[] = {
	[RUN_GO_SCI] = { "sci", offsetof(struct run_opts, sci_ms) },
	[RUN_GO_CPI] = { "cpi", offsetof(struct run_opts, cpi_ms) },
	[RUN_GO_SMI] = { "smi", offsetof(struct run_opts, smi_ms) },
};

/* Our duration flags, stored in ms, at least 1 ms. */
static const struct {
	const char *name;
	size_t off;
} dur_opt[] = {
	{ "duration", offsetof(struct run_opts, duration_ms) },
	{ "connect-timeout", offsetof(struct run_opts, connect_timeout_ms) },
	{ "handshake-timeout", offsetof(struct run_opts, handshake_timeout_ms) },
	{ "request-timeout", offsetof(struct run_opts, request_timeout_ms) },
	{ "send-timeout", offsetof(struct run_opts, send_timeout_ms) },
	{ "metrics-linger", offsetof(struct run_opts, metrics_linger_ms) },
	{ "org-think", offsetof(struct run_opts, org_think_ms) },
	{ "chat-lifetime", offsetof(struct run_opts, chat_lifetime_ms) },
	{ "reopen-after", offsetof(struct run_opts, reopen_after_ms) },
	{ "reconnect-uptime", offsetof(struct run_opts, reconnect_uptime_ms) },
	{ "reconnect-backoff", offsetof(struct run_opts, reconnect_backoff_ms) },
};

/* Our unsigned flags with their ranges. */
enum { U_MAXP, U_MAXERR, U_THREADS, U_ORGS, U_HTTP, U_CONNS, U_SNDBUF,
       U_RING, U_RECVBUFS, U_CQ, U_REPLY, U_CHATMSGS, U_DEVICES, U_ODEVICES,
       NU };
static const struct {
	const char *name;
	uint64_t min, max;
} u_opt[NU] = {
	[U_MAXP] = { "max-participants", 0, UINT64_MAX },
	[U_MAXERR] = { "max-errors", 1, UINT64_MAX },
	[U_THREADS] = { "threads", 1, 64 },
	[U_ORGS] = { "organizers", 1, 1000 },
	[U_HTTP] = { "http-conns", 1, 4096 },
	[U_CONNS] = { "max-conns", 1, MAX_CONNS_CAP },
	[U_SNDBUF] = { "sndbuf", 1024, 1u << 30 },
	[U_RING] = { "ring-entries", 8, 32768 },
	[U_RECVBUFS] = { "recv-buffers", 16, 32768 },
	[U_CQ] = { "cq-entries", 8, 65536 },
	[U_REPLY] = { "org-reply-every", 0, 1000000 },
	[U_CHATMSGS] = { "chat-messages", 0, 1000000000 },
	[U_DEVICES] = { "devices", 1, RUN_MAX_DEVICES },
	[U_ODEVICES] = { "org-devices", 1, RUN_MAX_DEVICES },
};

static void set_u(struct run_opts *o, int k, uint64_t x)
{
	switch (k) {
	case U_MAXP: o->max_participants = x; break;
	case U_MAXERR: o->max_errors = x; break;
	case U_THREADS: o->threads = (unsigned)x; break;
	case U_ORGS: o->organizers = (unsigned)x; break;
	case U_HTTP: o->http_conns = (unsigned)x; break;
	case U_CONNS: o->max_conns = (unsigned)x; break;
	case U_SNDBUF: o->sndbuf = (int)x; break;
	case U_RING: o->ring_entries = (unsigned)x; break;
	case U_RECVBUFS: o->recv_buffers = (unsigned)x; break;
	case U_CQ: o->cq_entries = (unsigned)x; break;
	case U_REPLY: o->org_reply_every = (unsigned)x; break;
	case U_CHATMSGS: o->chat_messages = (unsigned)x; break;
	case U_DEVICES: o->devices = (unsigned)x; break;
	case U_ODEVICES: o->org_devices = (unsigned)x; break;
	default: break;
	}
}

/* see run.h */
int run_opt_apply(struct run_opts *o, const char *name, const char *v,
		  char *why, size_t cap)
{
	uint64_t x;
	int64_t ns, ms;
	int r;

	for (size_t k = 0; k < sizeof(go_ms) / sizeof(go_ms[0]); k++) {
		if (strcmp(name, go_ms[k].name))
			continue;
		/* Go's flag.Int syntax: "010" is 8, "0x10" 16, "+7" 7. */
		r = opt_go_int(v, &ms);
		if (r == -EINVAL)
			snprintf(why, cap, "parse error (an integer in ms, as Go "
				 "reads it: 10, 012, 0o12, 0x0a, 0b1010, 1_000)");
		else if (r < 0)
			snprintf(why, cap, "value out of range");
		/* Go takes these and its loops spin without waiting (or its
		 * Duration overflows): they mean nothing, so we refuse them. */
		else if (ms < 0)
			snprintf(why, cap, "a negative interval means nothing "
				 "(esmeload refuses it; the Go tool would not "
				 "wait at all)");
		else if (ms > MS_MAX)
			snprintf(why, cap, "at most 9223372036854 ms (more "
				 "overflows the Go tool's time.Duration)");
		else {
			*(int64_t *)(void *)((char *)o + go_ms[k].off) = ms;
			o->go_set |= 1u << k;
			return 0;
		}
		return -EINVAL;
	}
	for (size_t k = 0; k < sizeof(dur_opt) / sizeof(dur_opt[0]); k++) {
		if (strcmp(name, dur_opt[k].name))
			continue;
		if (timefmt_duration_parse(v, strlen(v), &ns) < 0 ||
		    ns < 1000000) {
			snprintf(why, cap, "not a duration of at least 1ms "
				 "(e.g. 500ms, 90s, 10m)");
			return -EINVAL;
		}
		*(int64_t *)(void *)((char *)o + dur_opt[k].off) = ns / 1000000;
		return 0;
	}
	if (!strcmp(name, "org-think-dist") || !strcmp(name, "reconnect-dist")) {
		if (strcmp(v, "fixed") && strcmp(v, "exp")) {
			snprintf(why, cap, "not fixed or exp");
			return -EINVAL;
		}
		if (name[0] == 'o')
			o->org_think_exp = !strcmp(v, "exp");
		else
			o->reconnect_fixed = !strcmp(v, "fixed");
		return 0;
	}
	if (!strcmp(name, "arrival-rate")) {
		char *end;
		double rate;

		errno = 0;
		rate = strtod(v, &end);
		if (end != v && !strcmp(end, "/s"))
			end += 2;
		if (end == v || *end || errno || !(rate >= 0.001) ||
		    rate > 1000000) {
			snprintf(why, cap, "not a rate of arrivals per second "
				 "from 0.001 to 1000000 (e.g. 5000, 2500/s, 0.5)");
			return -EINVAL;
		}
		o->arrival_rate = rate;
		return 0;
	}
	for (int k = 0; k < NU; k++) {
		if (strcmp(name, u_opt[k].name))
			continue;
		if (opt_u64(v, u_opt[k].min, u_opt[k].max, &x) < 0) {
			if (u_opt[k].max == UINT64_MAX)
				snprintf(why, cap, "not a whole number >= %llu",
					 (unsigned long long)u_opt[k].min);
			else
				snprintf(why, cap,
					 "not a whole number from %llu to %llu",
					 (unsigned long long)u_opt[k].min,
					 (unsigned long long)u_opt[k].max);
			return -EINVAL;
		}
		set_u(o, k, x);
		return 0;
	}
	return -ENOENT;
}

/* The value flags run_opt_apply checks and sets besides the tables. */
static const char *const apply_other[] = {
	"org-think-dist", "reconnect-dist", "arrival-rate",
};
#define N_GO (sizeof(go_ms) / sizeof(go_ms[0]))
#define N_DUR (sizeof(dur_opt) / sizeof(dur_opt[0]))
#define N_OTHER (sizeof(apply_other) / sizeof(apply_other[0]))

/*
 * Match argv[*i] against one value option. Returns 1 with *v set (and *i
 * advanced when the value was the next argument), 0 when it is another
 * option, 2 after printing Go's "flag needs an argument" error.
 */
static int value(int argc, char **argv, int *i, const char *dashes,
		 const char *name, const char **v)
{
	int r = opt_value(argc, argv, i, name, v);

	if (r < 0)
		return fail("flag needs an argument: %s%s (see esmeload run --help)",
			    dashes, name);
	return r;
}

/*
 * argv[*i] as one of the flags run_opt_apply sets: 0 applied, 2 after
 * printing the error, -ENOENT when it is another argument.
 */
static int apply_arg(struct run_opts *o, int argc, char **argv, int *i)
{
	char why[160];
	const char *v;
	int r;

	for (size_t k = 0; k < N_GO + N_DUR + N_OTHER + NU; k++) {
		const char *dashes = k < N_GO ? "-" : "--";
		const char *name =
			k < N_GO ? go_ms[k].name :
			k < N_GO + N_DUR ? dur_opt[k - N_GO].name :
			k < N_GO + N_DUR + N_OTHER ?
				apply_other[k - N_GO - N_DUR] :
				u_opt[k - N_GO - N_DUR - N_OTHER].name;

		r = value(argc, argv, i, dashes, name, &v);
		if (r != 1) {
			if (r)
				return r;
			continue;
		}
		if (run_opt_apply(o, name, v, why, sizeof(why)) < 0)
			return bad_value(dashes, name, v, why);
		if (!strcmp(name, "cpi"))
			o->cpi_given = 1;
		return 0;
	}
	return -ENOENT;
}

/* One option at argv[*i]: 0 matched and applied, 1 help, 2 error. */
static int parse_one(struct run_opts *o, int argc, char **argv, int *i)
{
	const char *a = argv[*i], *v;
	int64_t ns;
	int r, on;
	/* The boolean flags (-name, -name=true|false) and what each sets. */
	const struct {
		const char *dashes, *name;  /* as help and errors spell them */
		int *field;
		int invert;                 /* the field holds the negation */
	} bools[] = {
		{ "-", "logWs", &o->log_ws, 0 },
		{ "--", "insecure", &o->insecure, 0 },
		{ "--", "sqpoll", &o->sqpoll, 0 },
		{ "--", "zc", &o->zc, 0 },
		{ "--", "defer-taskrun", &o->no_defer, 1 },
		{ "--", "quiet", &o->quiet, 0 },
		{ "--", "demo", &o->embedded, 0 },
	};

	if (!strcmp(a, "-h") || !strcmp(a, "-help") || !strcmp(a, "--help")) {
		fputs(usage, stdout);
		return 1;
	}
	for (size_t k = 0; k < sizeof(bools) / sizeof(bools[0]); k++) {
		r = opt_bool(argv, *i, bools[k].name, &on);
		if (r < 0)
			return bad_value(bools[k].dashes, bools[k].name,
					 strchr(a, '=') + 1,
					 "not a boolean (true or false)");
		if (r == 1) {
			*bools[k].field = bools[k].invert ? !on : on;
			return 0;
		}
	}
	r = apply_arg(o, argc, argv, i);
	if (r != -ENOENT)
		return r;
	r = value(argc, argv, i, "--", "shard", &v);
	if (r == 1) {
		if (parse_shard(v, &o->shard, &o->shards) < 0)
			return bad_value("--", "shard", v,
					 "not I/N with 0 <= I < N <= 10000 "
					 "(e.g. 0/3, 2/3)");
		o->shard_given = 1;
		return 0;
	}
	if (r)
		return r;
	r = value(argc, argv, i, "--", "start-at", &v);
	if (r == 1) {
		if (parse_instant(v, &o->start_at_ns) < 0)
			return bad_value("--", "start-at", v,
					 "not a Unix time in seconds or an "
					 "RFC 3339 time (e.g. 1764622800, "
					 "2026-12-01T21:00:00Z)");
		return 0;
	}
	if (r)
		return r;
	r = value(argc, argv, i, "--", "wake-grain", &v);
	if (r == 1) {
		if (timefmt_duration_parse(v, strlen(v), &ns) < 0 || ns < 0 ||
		    ns > 100000000 || (ns > 0 && ns < 1000))
			return bad_value("--", "wake-grain", v,
					 "not 0 or a duration from 1us to "
					 "100ms (e.g. 200us, 1ms)");
		o->wake_grain_ns = ns;
		return 0;
	}
	if (r)
		return r;
	r = value(argc, argv, i, "--", "uring-off", &v);
	if (r == 1) {
		char why[160];

		if (ring_feat_parse(v, &o->uring_off, why, sizeof(why)) < 0)
			return bad_value("--", "uring-off", v, why);
		return 0;
	}
	if (r)
		return r;
	r = value(argc, argv, i, "--", "timer-slack", &v);
	if (r == 1) {
		if (timefmt_duration_parse(v, strlen(v), &ns) < 0 || ns < 0 ||
		    ns > 1000000000)
			return bad_value("--", "timer-slack", v,
					 "not a duration from 0 to 1s (e.g. 0, "
					 "200us, 1ms)");
		o->timer_slack_ns = ns;
		return 0;
	}
	if (r)
		return r;
	if ((r = value(argc, argv, i, "--", "threshold", &v)) > 1)
		return r;
	if (r == 1) {
		char why[160];
		struct threshold *t;

		if (o->nthresholds >= MAX_THRESHOLDS)
			return bad_value("--", "threshold", v, "more than 32 thresholds");
		if (!o->thresholds) {
			o->thresholds = calloc(MAX_THRESHOLDS, sizeof(*t));
			if (!o->thresholds)
				return fail("out of memory");
		}
		t = &o->thresholds[o->nthresholds];
		if (threshold_parse(t, v, why, sizeof(why)) < 0)
			return bad_value("--", "threshold", v, why);
		o->nthresholds++;
		return 0;
	}
	if ((r = value(argc, argv, i, "--", "source-ip", &v)) > 1)
		return r;
	if (r == 1) {
		if (parse_range(v, &o->src_lo, &o->src_hi) < 0)
			return bad_value("--", "source-ip", v,
					 "not an IPv4 address or range A.B.C.D-A.B.C.D (low <= high, not 0.0.0.0)");
		return 0;
	}
	/* run_parse loaded the file before the flags (scenario_argv). */
	r = value(argc, argv, i, "--", "scenario", &v);
	if (r == 1) {
		if (!*v)
			return bad_value("--", "scenario", v, "must not be empty");
		return 0;
	}
	if (r)
		return r;
	{
		static const struct {
			const char *name;
			size_t off;
		} str_opt[] = {
			{ "config", offsetof(struct run_opts, config_path) },
			{ "out-dir", offsetof(struct run_opts, out_dir) },
			{ "serve-bin", offsetof(struct run_opts, serve_bin) },
			{ "cacert", offsetof(struct run_opts, cacert) },
			{ "metrics-listen", offsetof(struct run_opts, metrics_listen) },
		};

		for (size_t k = 0; k < sizeof(str_opt) / sizeof(str_opt[0]); k++) {
			r = value(argc, argv, i, "--", str_opt[k].name, &v);
			if (r != 1) {
				if (r)
					return r;
				continue;
			}
			if (!*v)
				return bad_value("--", str_opt[k].name, v,
						 "must not be empty");
			*(const char **)(void *)((char *)o + str_opt[k].off) = v;
			return 0;
		}
	}
	if (a[0] == '-' && a[1] != 0)
		return fail("unknown flag %s (see esmeload run --help)", a);
	return fail("unexpected argument \"%s\" (see esmeload run --help)", a);
}

/*
 * The shard and the start from the environment, where the flags did not
 * set them, so a scheduler can: ESMELOAD_SHARD=I/N, or ESMELOAD_SHARDS=N
 * with the index in JOB_COMPLETION_INDEX (a Kubernetes Indexed Job's);
 * ESMELOAD_START_AT as --start-at.
 */
static int shard_env(struct run_opts *o)
{
	const char *v = getenv("ESMELOAD_SHARD"), *n, *i;
	char both[64];

	if (!o->shard_given && v && *v) {
		if (parse_shard(v, &o->shard, &o->shards) < 0)
			return fail("invalid value \"%s\" for ESMELOAD_SHARD: not "
				    "I/N with 0 <= I < N <= 10000", v);
		o->shard_given = 1;
	}
	n = getenv("ESMELOAD_SHARDS");
	i = getenv("JOB_COMPLETION_INDEX");
	if (!o->shard_given && n && *n) {
		snprintf(both, sizeof(both), "%s/%s", i && *i ? i : "", n);
		if (!i || !*i || parse_shard(both, &o->shard, &o->shards) < 0)
			return fail("invalid shard \"%s\" from JOB_COMPLETION_INDEX"
				    "/ESMELOAD_SHARDS: not I/N with 0 <= I < N "
				    "<= 10000", both);
		o->shard_given = 1;
	}
	v = getenv("ESMELOAD_START_AT");
	if (!o->start_at_ns && v && *v && parse_instant(v, &o->start_at_ns) < 0)
		return fail("invalid value \"%s\" for ESMELOAD_START_AT: not a "
			    "Unix time in seconds or an RFC 3339 time", v);
	return 0;
}

/* see run.h */
uint64_t run_test_id(const struct run_opts *o)
{
	char s[768];
	uint64_t h = 14695981039346656037ULL;
	/* the load, and the behaviours beyond the Go tool's scenario: shards
	 * that differ in any of them are not one test */
	int n = snprintf(s, sizeof(s),
			 "sci=%lld cpi_ns=%lld smi=%lld maxp=%llu dur=%lld "
			 "orgs=%u shards=%u start=%lld event=%u "
			 "reply=%u think=%lld exp=%d life=%lld msgs=%u "
			 "reopen=%lld up=%lld fixed=%d backoff=%lld dev=%u odev=%u",
			 (long long)o->sci_ms, (long long)run_cpi_ns(o),
			 (long long)o->smi_ms,
			 (unsigned long long)o->max_participants,
			 (long long)o->duration_ms, o->organizers, o->shards,
			 (long long)o->start_at_ns, o->event_id,
			 o->org_reply_every, (long long)o->org_think_ms,
			 o->org_think_exp, (long long)o->chat_lifetime_ms,
			 o->chat_messages, (long long)o->reopen_after_ms,
			 (long long)o->reconnect_uptime_ms, o->reconnect_fixed,
			 (long long)o->reconnect_backoff_ms, o->devices,
			 o->org_devices);

	for (int i = 0; i < n && i < (int)sizeof(s); i++)
		h = (h ^ (uint8_t)s[i]) * 1099511628211ULL;
	return h;
}

/*
 * The last --scenario FILE of argv, before a "--" (NULL: none, or only
 * an empty or missing value, which parse_one refuses). *help: -h, -help
 * or --help is there too, so the file is not to be read (help is printed
 * whatever the file holds).
 */
static const char *scenario_argv(int argc, char **argv, int *help)
{
	const char *path = NULL, *v;

	*help = 0;
	for (int i = 0; i < argc && strcmp(argv[i], "--"); i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "-help") ||
		    !strcmp(argv[i], "--help"))
			*help = 1;
		else if (opt_value(argc, argv, &i, "scenario", &v) == 1)
			path = *v ? v : NULL;
	}
	return path;
}

/* see run.h */
int run_parse(struct run_opts *o, int argc, char **argv)
{
	const char *scen;
	double file_rate = 0;
	int r, help;

	defaults(o);
	/* The file first, then every flag over it: the command line wins
	 * wherever --scenario is in it. */
	scen = scenario_argv(argc, argv, &help);
	if (scen && !help) {
		if ((r = scenfile_load(o, scen)))
			return r;
		/* The file's arrival_rate gives way to a -cpi flag. */
		file_rate = o->arrival_rate;
		o->arrival_rate = 0;
	}
	for (int i = 0; i < argc; i++) {
		/* Go's flag package ends the flags at "--"; the tool takes no
		 * arguments, so whatever follows is refused below. */
		if (!strcmp(argv[i], "--")) {
			if (i + 1 < argc)
				return fail("unexpected argument \"%s\" (see esmeload run --help)",
					    argv[i + 1]);
			break;
		}
		r = parse_one(o, argc, argv, &i);
		if (r)
			return r;
	}
	/* A "-h" that was another flag's value, not a request for help. */
	if (scen && help)
		return fail("--scenario %s: not read: -h or --help is on the "
			    "command line, as the value of a flag", scen);
	if (o->arrival_rate > 0 && o->cpi_given)
		return fail("-cpi and --arrival-rate both set the arrivals: "
			    "give one of them");
	if (!o->arrival_rate && !o->cpi_given)
		o->arrival_rate = file_rate;
	if ((r = shard_env(o)) != 0)
		return r;
	if (o->recv_buffers & (o->recv_buffers - 1))
		return fail("invalid value \"%u\" for flag --recv-buffers: not a "
			    "power of two", o->recv_buffers);
	if (o->cq_entries && o->cq_entries < o->ring_entries)
		return fail("invalid value \"%u\" for flag --cq-entries: less than "
			    "--ring-entries (%u)", o->cq_entries, o->ring_entries);
	if (o->embedded) {
		if (o->config_path)
			return fail("--config %s: the demo runs against its own "
				    "serve, not a config (drop --demo, or "
				    "--config)", o->config_path);
		return 0;
	}
	if (o->config_path)
		return run_load_config(o, o->config_path);
	if (access("config.json", F_OK) == 0) {
		o->config_path = "config.json";
		return run_load_config(o, o->config_path);
	}
	/* No config. A bare command line is the one-command demo; any
	 * argument means a run the user configured, and a demo in its place
	 * would be a fake result (the Go tool stops here too). */
	if (argc == 0) {
		o->embedded = 1;
		return 0;
	}
	return fail("./config.json: %s (a run needs the Go tool's config.json "
		    "in the current directory, or --config FILE; `esmeload` "
		    "with no arguments, or `esmeload demo [flags]`, runs a "
		    "demo against an embedded serve)", strerror(errno));
}

/* see run.h */
int run_read_file(const char *path, const char *what, char **out, size_t *len)
{
	struct stat st;
	char *buf = NULL;
	size_t n = 0;
	int fl, e = 0;
	/* Not blocking in open: a FIFO without a writer reads as empty
	 * instead of waiting for ever; reads block again after it, so a
	 * pipe (--scenario <(...)) is read whole. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return fail("%s: cannot read %s: %s", path, what, strerror(errno));
	if ((fl = fcntl(fd, F_GETFL)) < 0 ||
	    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0 || fstat(fd, &st) < 0)
		e = errno;
	else if (S_ISDIR(st.st_mode))
		e = EISDIR;
	/* One byte over the limit tells "too big" from "exactly 64 KiB". */
	else if (!(buf = malloc(RUN_FILE_MAX + 2)))
		e = ENOMEM;
	while (!e) {
		ssize_t k = read(fd, buf + n, RUN_FILE_MAX + 1 - n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			e = k < 0 ? errno : 0;
			break;
		}
		n += (size_t)k;
		if (n > RUN_FILE_MAX) {
			close(fd);
			free(buf);
			return fail("%s: larger than 64 KiB, too large for %s",
				    path, what);
		}
	}
	close(fd);
	if (e) {
		free(buf);
		return fail("%s: cannot read %s: %s", path, what, strerror(e));
	}
	buf[n] = 0;
	*out = buf;
	*len = n;
	return 0;
}

/* The string value of key into dst; 0 or 2 after the error. */
static int get_str(const struct json_doc *d, const char *path,
		   const char *key, char *dst, size_t cap)
{
	int t = json_find(d, 0, key);
	size_t n;
	int r;

	if (t < 0)
		return fail("%s: key \"%s\" missing", path, key);
	if (json_type(d, t) != JSMN_STRING)
		return fail("%s: key \"%s\" must be a string", path, key);
	r = json_get_str(d, t, dst, cap, &n);
	if (r == -ENOSPC)
		return fail("%s: key \"%s\" is longer than %zu bytes", path,
			    key, cap - 1);
	if (r < 0)
		return fail("%s: key \"%s\" must be a string", path, key);
	if (strlen(dst) != n)
		return fail("%s: key \"%s\" contains a NUL character", path,
			    key);
	return 0;
}

/*
 * config.json's optional "organizers": [{"email": E, "password": P}, ...],
 * the accounts of --organizers N (esmeload's key; the Go tool ignores it).
 */
static int get_org_accts(struct run_opts *o, const struct json_doc *d,
			 const char *path)
{
	int arr = json_find(d, 0, "organizers"), t;
	unsigned n;

	if (arr < 0)
		return 0;
	if (json_type(d, arr) != JSMN_ARRAY || d->tok[arr].size < 1 ||
	    d->tok[arr].size > 1000)
		return fail("%s: key \"organizers\" must be an array of 1 to "
			    "1000 {\"email\", \"password\"} objects", path);
	n = (unsigned)d->tok[arr].size;
	free(o->org_accts);
	o->org_accts = calloc(n, sizeof(*o->org_accts));
	if (!o->org_accts)
		return fail("%s: %s", path, strerror(ENOMEM));
	o->n_org_accts = n;
	t = arr + 1;
	for (unsigned i = 0; i < n; i++, t = json_next(d, t)) {
		struct run_org_acct *a = &o->org_accts[i];
		char what[64];
		int e, p;
		size_t len;

		snprintf(what, sizeof(what), "organizers[%u]", i);
		if (json_type(d, t) != JSMN_OBJECT ||
		    (e = json_find(d, t, "email")) < 0 ||
		    (p = json_find(d, t, "password")) < 0 ||
		    json_type(d, e) != JSMN_STRING ||
		    json_type(d, p) != JSMN_STRING ||
		    json_get_str(d, e, a->email, sizeof(a->email), &len) < 0 ||
		    len == 0 || strlen(a->email) != len ||
		    json_get_str(d, p, a->password, sizeof(a->password),
				 &len) < 0 || strlen(a->password) != len)
			return fail("%s: %s must be {\"email\": non-empty string, "
				    "\"password\": string}", path, what);
	}
	return 0;
}

/* see run.h */
int run_org_account(const struct run_opts *o, unsigned i, char *email,
		    size_t ecap, const char **password)
{
	const char *at;
	int n;

	if (o->org_accts && o->organizers > 1 && i < o->n_org_accts) {
		if (snprintf(email, ecap, "%s", o->org_accts[i].email) >= (int)ecap)
			return -ENAMETOOLONG;
		*password = o->org_accts[i].password;
		return 0;
	}
	*password = o->org_password;
	at = strrchr(o->org_email, '@');
	if (i == 0 || !at)
		n = i == 0 ? snprintf(email, ecap, "%s", o->org_email) :
			     snprintf(email, ecap, "%s+%u", o->org_email, i + 1);
	else
		n = snprintf(email, ecap, "%.*s+%u%s", (int)(at - o->org_email),
			     o->org_email, i + 1, at);
	return n < 0 || (size_t)n >= ecap ? -ENAMETOOLONG : 0;
}

/* see run.h */
int run_load_config(struct run_opts *o, const char *path)
{
	static const struct {
		const char *key;
		int target;
	} urls[] = {
		{ "organizer_api_url", T_ORG },
		{ "participant_api_url", T_PART },
		{ "messenger_ws_url", T_MSG },
	};
	char url[RUN_URL_MAX + 16], what[RUN_URL_MAX];
	struct json_doc d;
	jsmntok_t *tok;
	char *js = NULL;
	size_t len = 0;
	int64_t ev;
	int r, t;

	r = run_read_file(path, "a config.json", &js, &len);
	if (r)
		return r;
	/* A token takes at least one byte of input, so len + 1 tokens is
	 * always enough; the allocation happens once per run. */
	tok = malloc((len + 1) * sizeof(*tok));
	if (!tok) {
		r = fail("%s: %s", path, strerror(ENOMEM));
		goto out_js;
	}
	if (json_parse(&d, js, len, tok, (unsigned)(len + 1)) < 0) {
		r = fail("%s: not valid JSON", path);
		goto out_tok;
	}
	if (json_type(&d, 0) != JSMN_OBJECT) {
		r = fail("%s: not a JSON object", path);
		goto out_tok;
	}
	t = json_find(&d, 0, "event_id");
	if (t < 0) {
		r = fail("%s: key \"event_id\" missing", path);
		goto out_tok;
	}
	if (json_type(&d, t) != JSMN_PRIMITIVE || json_get_i64(&d, t, &ev) < 0 ||
	    ev < 0 || ev > UINT32_MAX) {
		r = fail("%s: key \"event_id\" must be an integer from 0 to %u",
			 path, UINT32_MAX);
		goto out_tok;
	}
	o->event_id = (uint32_t)ev;
	if ((r = get_str(&d, path, "organizer_email", o->org_email,
			 sizeof(o->org_email))) ||
	    (r = get_str(&d, path, "organizer_password", o->org_password,
			 sizeof(o->org_password))))
		goto out_tok;
	if ((r = get_org_accts(o, &d, path)))
		goto out_tok;
	/* Check every key before resolving any host: a missing key is the
	 * more useful error. */
	for (size_t k = 0; k < 3; k++)
		if ((r = get_str(&d, path, urls[k].key, url, RUN_URL_MAX)))
			goto out_tok;
	for (size_t k = 0; k < 3; k++) {
		if ((r = get_str(&d, path, urls[k].key, url, RUN_URL_MAX)))
			goto out_tok;
		/* The Go tool dials messenger_ws_url + "/connect", plain
		 * string concatenation, and so do we. */
		if (urls[k].target == T_MSG)
			strcat(url, "/connect");
		snprintf(what, sizeof(what), "%s: %s", path, urls[k].key);
		if ((r = run_set_target(o, urls[k].target, url, what)))
			goto out_tok;
	}
	r = 0;
out_tok:
	free(tok);
out_js:
	free(js);
	return r;
}

/* The Host header: an IPv6 literal keeps its brackets (RFC 9110 §7.2,
 * RFC 3986 §3.2.2); the port only when it is not the default. */
static void set_hostport(struct run_target *t, const char *host)
{
	int v6 = memchr(host, ':', t->u.host_len) != NULL;

	if (t->u.port == (t->u.tls ? 443 : 80))
		snprintf(t->hostport, sizeof(t->hostport), "%s%s%s",
			 v6 ? "[" : "", host, v6 ? "]" : "");
	else
		snprintf(t->hostport, sizeof(t->hostport), "%s%s%s:%u",
			 v6 ? "[" : "", host, v6 ? "]" : "",
			 (unsigned)t->u.port);
}

/* see run.h */
int run_set_target(struct run_opts *o, int i, const char *url,
		   const char *what)
{
	struct run_target *t;
	struct addrinfo hints, *res, *ai;
	/* Room for "[" host "]:65535" in hostport. */
	char host[RUN_URL_MAX - 16], port[8];
	const char *want = i == T_MSG ? "ws://" : "http://";
	size_t n = strlen(url);
	int r;

	if (i < 0 || i >= NTARGETS)
		return fail("%s: no such target %d", what, i);
	t = &o->t[i];
	if (n >= sizeof(t->url))
		return fail("%s: URL longer than %d bytes", what,
			    RUN_URL_MAX - 1);
	memcpy(t->url, url, n + 1);
	/* The spans of t->u point into t->url. */
	if (http_url_parse(&t->u, t->url, n) < 0)
		return fail("%s: \"%s\" is not a URL (%shost[:port][/path])",
			    what, url, want);
	if (t->u.websocket != (i == T_MSG))
		return fail("%s: \"%s\" must be a %s or %s URL", what, url,
			    want, i == T_MSG ? "wss://" : "https://");
	if (t->u.host_len >= sizeof(host))
		return fail("%s: host name longer than %zu bytes", what,
			    sizeof(host) - 1);
	memcpy(host, t->u.host, t->u.host_len);
	host[t->u.host_len] = 0;
	/* BearSSL matches a certificate against DNS names only, so an IP
	 * address cannot be verified: say so now, not at the first
	 * handshake. */
	if (t->u.tls && !o->insecure) {
		unsigned char a[16];

		if (inet_pton(AF_INET, host, a) == 1 ||
		    inet_pton(AF_INET6, host, a) == 1)
			return fail("%s: \"%s\": a certificate cannot be "
				    "verified for an IP address (BearSSL checks "
				    "DNS names): use the host name, or --insecure",
				    what, url);
	}
	snprintf(port, sizeof(port), "%u", (unsigned)t->u.port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	r = getaddrinfo(host, port, &hints, &res);
	if (r != 0) {
		/* Not fatal here: the first connection to this target fails
		 * with this cause, named like any other failure, and the
		 * output files are written as for any error. */
		snprintf(t->resolve_err, sizeof(t->resolve_err),
			 "cannot resolve host %s: %s", host,
			 r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
		t->addr_len = 0;
		set_hostport(t, host);
		return 0;
	}
	/* The first IPv4 result, else the first IPv6 one: "localhost" often
	 * resolves to ::1 first while the ESME services and our serve listen
	 * on 127.0.0.1, and we dial one address only (no fallback like Go's
	 * dialer has). */
	for (ai = res; ai; ai = ai->ai_next)
		if (ai->ai_family == AF_INET && ai->ai_addrlen <= sizeof(t->addr))
			break;
	for (struct addrinfo *a6 = res; !ai && a6; a6 = a6->ai_next)
		if (a6->ai_family == AF_INET6 &&
		    a6->ai_addrlen <= sizeof(t->addr))
			ai = a6;
	if (!ai) {
		freeaddrinfo(res);
		return fail("%s: host %s has no IPv4 or IPv6 address", what,
			    host);
	}
	memset(&t->addr, 0, sizeof(t->addr));
	memcpy(&t->addr, ai->ai_addr, ai->ai_addrlen);
	t->addr_len = ai->ai_addrlen;
	freeaddrinfo(res);
	set_hostport(t, host);
	return 0;
}
