/*
 * run/output: the Go tool's two result files and its printed summary, plus
 * what only esmeload measures. See src/run/run.h, docs/protocol.md §5.
 */
#include "run/run.h"
#include "run/worker.h"

#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "histjson.h"
#include "jsonw.h"
#include "timefmt.h"

/* see run.h; the order of enum run_err */
const char *const run_err_names[RE_COUNT] = {
	[RE_CONNECT] = "connect",
	[RE_HTTP] = "http_status",
	[RE_HANDSHAKE] = "ws_handshake",
	[RE_TIMEOUT] = "timeout",
	[RE_RECV] = "recv",
	[RE_SEND] = "send",
	[RE_PROTOCOL] = "protocol",
	[RE_NO_CHAT] = "no_chat",
	[RE_CLOSED] = "closed",
	[RE_SERVER] = "server",
};

/* run_sum walks the counters as an array of uint64_t. */
_Static_assert(sizeof(struct run_counters) % sizeof(uint64_t) == 0,
	       "struct run_counters must hold only uint64_t");

/* see run.h */
void run_sum(const struct run *r, struct run_counters *t)
{
	enum { N = sizeof(struct run_counters) / sizeof(uint64_t) };
	uint64_t *dst = (uint64_t *)(void *)t;

	memset(t, 0, sizeof(*t));
	/* Relaxed loads: the coordinator may sum while the workers still
	 * count (progress ticks); each counter has a single writer. */
	for (unsigned i = 0; i < r->nw; i++) {
		const uint64_t *src = (const uint64_t *)(const void *)&r->w[i].sc.c;

		for (unsigned k = 0; k < N; k++)
			dst[k] += __atomic_load_n(&src[k], __ATOMIC_RELAXED);
	}
}

static const char *stop_name(int reason)
{
	switch (reason) {
	case STOP_SIGNAL: return "signal";
	case STOP_ERROR: return "error";
	case STOP_DURATION: return "duration";
	case STOP_DONE: return "max_participants";
	default: return "none";
	}
}

/* Go's time.Duration text of a nanosecond count. */
static void jw_ns(struct jw *w, int64_t ns)
{
	char d[TIMEFMT_DURATION_MAX];

	jw_cstr(w, timefmt_go_duration(d, sizeof(d), ns) ? d : "");
}

/* ... of a millisecond count. */
static void jw_ms(struct jw *w, int64_t ms)
{
	jw_ns(w, ms * 1000000);
}

/* An instant as Go marshals a time.Time: RFC 3339, nanoseconds with
 * trailing zeros cut, in the local zone. */
static void jw_time(struct jw *w, int64_t ns)
{
	char s[TIMEFMT_RFC3339_MAX];
	int64_t sec = ns / 1000000000;
	int32_t nsec = (int32_t)(ns % 1000000000);
	time_t tt;
	struct tm tm;
	long off = 0;

	if (nsec < 0) {
		nsec += 1000000000;
		sec--;
	}
	tt = (time_t)sec;
	if (localtime_r(&tt, &tm))
		off = tm.tm_gmtoff;
	jw_cstr(w, timefmt_rfc3339(s, sizeof(s), sec, nsec, (int32_t)off,
				   TIMEFMT_NANO_TRIM) ? s : "");
}

/* Go's duration text of end - start. The real clock can step back during
 * a run; a negative duration would only confuse, so it is clamped. */
static void jw_span(struct jw *w, int64_t start, int64_t end)
{
	char d[TIMEFMT_DURATION_MAX];
	int64_t ns = end > start ? end - start : 0;

	jw_cstr(w, timefmt_go_duration(d, sizeof(d), ns) ? d : "");
}

/* with the histograms, at most 12 x 35 KiB, and a scenario file of at
 * most 64 KiB */
#define SUMMARY_MAX (1024 * 1024)

/* see run.h: {"p50","p90","p99","p99_9","max"} in milliseconds */
void run_jw_quantiles(struct jw *w, const struct hist *h)
{
	static const struct { const char *name; double q; } qs[] = {
		{ "p50", 0.5 }, { "p90", 0.9 }, { "p99", 0.99 },
		{ "p99_9", 0.999 }, { "max", 1.0 },
	};

	jw_obj_begin(w);
	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		jw_key(w, qs[i].name);
		jw_f64(w, (double)hist_quantile(h, qs[i].q) / 1000.0);
	}
	jw_obj_end(w);
}

static void jw_quantiles(struct jw *w, const char *key, const struct hist *h)
{
	jw_key(w, key);
	run_jw_quantiles(w, h);
}

/*
 * What the self-check judges the tester by, in one place. The arrival
 * backlog (arrivals started late because the tester was behind) is the
 * next input; it joins "late" below.
 */
struct sc_in {
	const struct run_cpu *cpu;
	double lag99, lag_bound;   /* send lag p99 and what counts as late, ms */
	uint64_t lag_n;            /* sends whose lag was measured */
	uint64_t cq_overflows, cq_dropped, enobufs;
	unsigned threads;
	/* Arrivals: sign-ups written late against their schedule mean the
	 * tester offered less load than asked (its CPU, or every REST
	 * connection of --http-conns busy). */
	double arr_lag99, arr_bound;  /* arrival lag p99 and its bound, ms */
	uint64_t arr_n;               /* arrivals whose lag was measured */
	unsigned http_conns;
};

/* Append to the text in v (n bytes of cap); a text too long is cut. */
static void vcat(char *v, size_t cap, size_t *n, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void vcat(char *v, size_t cap, size_t *n, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (*n + 1 >= cap)
		return;
	va_start(ap, fmt);
	k = vsnprintf(v + *n, cap - *n, fmt, ap);
	va_end(ap);
	if (k > 0)
		*n = *n + (size_t)k < cap ? *n + (size_t)k : cap - 1;
}

/*
 * Is the tester the limit? Returns 1 (it was), 0 (it kept up, or its
 * sends were late for a reason that is not the tester's) or -1 (no data:
 * nothing was due to be sent and no other signal fired), with the verdict
 * in words.
 *
 * - A completion queue that overflowed or receive buffers that ran out
 *   are always the tester's: completions reached it late.
 * - CPU, judged per second (r->cpu; the drain is left out): a second is
 *   at the limit when the tester used 90 % of what it may use (its worker
 *   threads, at most one core each, on the cores its affinity allows),
 *   when its threads waited for a CPU a fifth of the second (other load
 *   on its cores), or when the process did not run for half a second.
 *   Such seconds limit the figures when sends also left late, or when
 *   they are half of the run or more.
 * - Late sends in seconds with CPU to spare are not the tester's doing:
 *   a send waits when the server does not take the previous one. When
 *   its threads waited for a CPU in some second (5 % of it or more, below
 *   the limit), other load may have delayed them too: the verdict says
 *   both.
 */
static int self_verdict(const struct sc_in *in, char *v, size_t cap)
{
	const struct run_cpu *k = in->cpu;
	int late = in->lag_n && in->lag99 > in->lag_bound;
	int hard = in->cq_overflows || in->cq_dropped || in->enobufs;
	int arr = in->arr_n && in->arr_lag99 > in->arr_bound;
	int no_data = !in->lag_n;
	int cpu = k->at_limit && (late || arr || no_data ||
				  2 * k->at_limit >= k->windows);
	size_t n = 0;

	if (hard || cpu || arr) {
		vcat(v, cap, &n, "the tester was a limit:");
		if (cpu && k->saturated)
			vcat(v, cap, &n,
				" its CPU was at the limit in %u of %u s "
				"(busiest %.0f%% of the %.0f%% it can use: %u "
				"thread(s) on %u core(s));", k->saturated,
				k->windows, k->busiest_percent,
				k->limit_percent, in->threads, k->cores);
		if (cpu && k->starved)
			vcat(v, cap, &n,
				" it waited for a CPU in %u of %u s (up to "
				"%.0f%% of a second: other load on its cores);",
				k->starved, k->windows, k->wait_max * 100);
		if (cpu && k->stalled)
			vcat(v, cap, &n,
				" it did not run for %.1f s (stopped or "
				"starved);", k->stalled_s);
		if (late)
			vcat(v, cap, &n,
				" sends left late (lag p99 %.1f ms, above "
				"%.0f ms);", in->lag99, in->lag_bound);
		if (arr)
			vcat(v, cap, &n,
				" arrivals left late (arrival lag p99 %.1f ms, "
				"above %.0f ms: its CPU, or all %u REST "
				"connections per thread busy, --http-conns);",
				in->arr_lag99, in->arr_bound, in->http_conns);
		if (in->cq_overflows)
			vcat(v, cap, &n,
				" its completion queue overflowed (%llu "
				"times);", (unsigned long long)in->cq_overflows);
		if (in->cq_dropped)
			vcat(v, cap, &n,
				" the kernel dropped %llu completions;",
				(unsigned long long)in->cq_dropped);
		if (in->enobufs)
			vcat(v, cap, &n,
				" receive buffers ran out (%llu times);",
				(unsigned long long)in->enobufs);
		vcat(v, cap, &n, " the figures understate the server");
		return 1;
	}
	if (no_data) {
		vcat(v, cap, &n, "no data: no message was due to be sent, so the "
		     "tester's timing cannot be judged");
		if (k->windows)
			vcat(v, cap, &n, " (busiest second %.0f%% CPU in %u s)",
			     k->busiest_percent, k->windows);
		return -1;
	}
	if (late && k->wait_max >= 0.05) {
		snprintf(v, cap, "sends left late (lag p99 %.1f ms, above %.0f ms) "
			 "while the tester had CPU to spare (busiest second "
			 "%.0f%% of the %.0f%% it can use) but waited for a CPU "
			 "up to %.0f%% of a second: other load on its cores may "
			 "have delayed them, or the server did not take them in "
			 "time", in->lag99, in->lag_bound, k->busiest_percent,
			 k->limit_percent, k->wait_max * 100);
		return 0;
	}
	if (late) {
		snprintf(v, cap, "sends left late (lag p99 %.1f ms, above %.0f ms) "
			 "while the tester had CPU to spare (busiest second "
			 "%.0f%% of the %.0f%% it can use): the server did not "
			 "take them in time", in->lag99, in->lag_bound,
			 k->busiest_percent, k->limit_percent);
		return 0;
	}
	snprintf(v, cap, "the tester kept up: send lag p99 %.2f ms (late is "
		 "above %.0f ms), busiest second %.0f%% CPU of the %.0f%% it can "
		 "use (%u thread(s) on %u core(s))", in->lag99, in->lag_bound,
		 k->busiest_percent, k->limit_percent, in->threads, k->cores);
	return 0;
}

/* The self-check's inputs into *in and its verdict in words into v: 1
 * when the tester was the limit, 0 when it kept up, < 0 when there is
 * nothing to judge. */
static int verdict_of(const struct run *r, const struct run_counters *c,
		      struct sc_in *in, char *v, size_t cap)
{
	*in = (struct sc_in){
		.cpu = &r->cpu,
		.lag99 = (double)hist_quantile(&r->lag, 0.99) / 1000.0,
		.lag_bound = r->o.smi_ms / 10.0 > 10.0 ? r->o.smi_ms / 10.0 : 10.0,
		.lag_n = r->lag.count,
		.cq_overflows = r->cq_overflows,
		.cq_dropped = r->cq_dropped,
		.enobufs = c->enobufs,
		.threads = r->nw,
		.arr_lag99 = (double)hist_quantile(&r->arrival_lag, 0.99) / 1000.0,
		.arr_bound = run_cpi_ns(&r->o) > 100000000 ?
			(double)run_cpi_ns(&r->o) / 1e6 : 100.0,
		.arr_n = r->arrival_lag.count,
		.http_conns = r->o.http_conns,
	};
	return self_verdict(in, v, cap);
}

static void self_check(struct jw *w, const struct run *r,
		       const struct run_counters *c)
{
	struct sc_in in;
	char verdict[768];
	int limited = verdict_of(r, c, &in, verdict, sizeof(verdict));

	jw_key(w, "self_check");
	jw_obj_begin(w);
	jw_kv_cstr(w, "ring", r->nw && *eng_ring_mode(&r->w[0].ses.eng) ?
		eng_ring_mode(&r->w[0].ses.eng) : "none");
	jw_key(w, "uring_features");
	jw_obj_begin(w);
	for (unsigned i = 0; r->nw && i < RING_F_COUNT; i++) {
		const char *st = eng_feat_state(&r->w[0].ses.eng, i);

		if (st)
			jw_kv_cstr(w, ring_feat_name(i), st);
	}
	jw_obj_end(w);
	jw_kv_u64(w, "bundle_bufs", c->bundle_bufs);
	jw_kv_u64(w, "inc_partial", c->inc_partial);
	jw_key(w, "cpu_percent");
	jw_f64(w, (double)(int64_t)(r->cpu_percent * 10) / 10.0);
	jw_kv_u64(w, "cores", r->cpu.cores);
	jw_key(w, "cpu_limit_percent");
	jw_f64(w, r->cpu.limit_percent);
	jw_key(w, "cpu_busiest_percent");
	jw_f64(w, (double)(int64_t)(r->cpu.busiest_percent * 10) / 10.0);
	jw_kv_u64(w, "seconds", r->cpu.windows);
	jw_kv_u64(w, "seconds_at_cpu_limit", r->cpu.at_limit);
	jw_key(w, "cpu_wait_max_percent");
	if (r->cpu.wait_max >= 0)
		jw_f64(w, (double)(int64_t)(r->cpu.wait_max * 1000) / 10.0);
	else
		jw_null(w);
	jw_key(w, "stalled_s");
	jw_f64(w, (double)(int64_t)(r->cpu.stalled_s * 10) / 10.0);
	jw_kv_cstr(w, "send", !r->nw ? "none" :
		   r->w[0].ses.eng.zc == ENG_ZC_FIXED ? "send_zc_fixed" :
		   r->w[0].ses.eng.zc == ENG_ZC_PLAIN ? "send_zc" : "send");
	if (r->nw && r->w[0].ses.eng.zc) {
		jw_kv_u64(w, "zc_sends", c->zc_sends);
		jw_kv_u64(w, "zc_copied", c->zc_copied);
	}
	jw_kv_u64(w, "threads", r->nw);
	{
		uint64_t rings = 0;

		for (unsigned i = 0; i < r->nw; i++)
			rings += r->w[i].ses.eng.nrings;
		jw_kv_u64(w, "rings", rings);
	}
	jw_kv_u64(w, "cq_overflows", r->cq_overflows);
	jw_kv_u64(w, "cq_dropped", r->cq_dropped);
	jw_kv_u64(w, "enobufs", c->enobufs);
	jw_kv_u64(w, "latency_actual_unmatched", c->lat_unmatched);
	jw_key(w, "lag_p99_ms");
	jw_f64(w, in.lag99);
	jw_key(w, "lag_bound_ms");
	jw_f64(w, in.lag_bound);
	jw_key(w, "tester_limited");
	if (limited < 0)
		jw_null(w);
	else
		jw_bool(w, limited);
	jw_kv_cstr(w, "verdict", verdict);
	jw_obj_end(w);
}

/* Each organizer account and the user_message frames it read: with
 * distinct accounts every copy the server fans out is counted once. */
static void organizers_json(struct jw *w, const struct run *r)
{
	jw_key(w, "organizers");
	jw_arr_begin(w);
	for (unsigned i = 0; r->nw && i < r->w[0].sc.norgs; i++) {
		char email[256];
		const char *pw;

		jw_obj_begin(w);
		jw_kv_cstr(w, "email", run_org_account(&r->o,
				run_org_global(&r->o, i), email,
				sizeof(email), &pw) == 0 ? email : "");
		jw_kv_u64(w, "user_messages",
			  r->w[0].sc.org_copies ? r->w[0].sc.org_copies[i] : 0);
		jw_obj_end(w);
	}
	jw_arr_end(w);
}

/*
 * Arrivals, each timed from its scheduled moment: how late its sign-up
 * left, its phases, and its time to chat (scheduled arrival until its chat
 * exists: the wait of a person asking for help). Then the timer's own
 * resolution: how late timers fired after they were due. The median is
 * the latency resolution: what the timer adds to a typical latency from
 * the schedule; the tail is the tester's own lateness (lag shows it too).
 */
static void arrivals_json(struct jw *w, const struct run *r,
			  const struct run_counters *c)
{
	jw_quantiles(w, "arrival_lag_ms", &r->arrival_lag);
	jw_quantiles(w, "time_to_chat_ms", &r->to_chat);
	jw_key(w, "phases_ms");
	jw_obj_begin(w);
	jw_quantiles(w, "sign_up", &r->ph_signup);
	jw_quantiles(w, "chat_request", &r->ph_request);
	jw_quantiles(w, "connect", &r->ph_connect);
	jw_obj_end(w);
	jw_key(w, "arrivals");
	jw_obj_begin(w);
	jw_kv_u64(w, "late_over_1s", c->arrivals_late);
	jw_kv_u64(w, "backlog_max", r->backlog_max);
	jw_kv_u64(w, "rest_connections", c->http_opened);
	jw_obj_end(w);
	jw_key(w, "timer");
	jw_obj_begin(w);
	jw_key(w, "tick_us");
	jw_f64(w, (double)RUN_TICK_NS / 1000.0);
	jw_key(w, "slack_us");
	jw_f64(w, (double)r->o.timer_slack_ns / 1000.0);
	jw_key(w, "wake_grain_us");
	jw_f64(w, (double)r->o.wake_grain_ns / 1000.0);
	jw_quantiles(w, "late_ms", &r->timer_late);
	jw_key(w, "latency_resolution_ms");
	jw_f64(w, (double)hist_quantile(&r->timer_late, 0.5) / 1000.0);
	jw_obj_end(w);
}

/*
 * Chats that end (--chat-lifetime, --chat-messages; null without them):
 * opened = closed + active, as run_counters says. accounted is that
 * identity, false when more chats closed than opened.
 */
static void chats_json(struct jw *w, const struct run_opts *o,
		       const struct run_counters *c)
{
	uint64_t active = c->chats > c->chats_closed ?
		c->chats - c->chats_closed : 0;

	jw_key(w, "chats");
	if (!run_chats_end(o)) {
		jw_null(w);
		return;
	}
	jw_obj_begin(w);
	jw_kv_u64(w, "opened", c->chats);
	jw_kv_u64(w, "closed", c->chats_closed);
	jw_kv_u64(w, "active", active);
	jw_kv_u64(w, "reopened", c->chats_reopened);
	jw_kv_u64(w, "closes_sent", c->org_closes);
	jw_kv_u64(w, "refused_after_close", c->chat_refused);
	/* active is opened - closed: the books hold unless more closed
	 * than opened */
	jw_key(w, "accounted");
	jw_bool(w, c->chats_closed <= c->chats);
	jw_obj_end(w);
}

/*
 * Reconnects (--reconnect-uptime; null without it): the drops, the
 * returns and their time back in the chat, and the history check of
 * every return. passed is null when no history was checked.
 */
static void reconnects_json(struct jw *w, const struct run *r,
			    const struct run_counters *c)
{
	jw_key(w, "reconnects");
	if (!r->o.reconnect_uptime_ms) {
		jw_null(w);
		return;
	}
	jw_obj_begin(w);
	jw_kv_u64(w, "drops_tester", c->drops_tester);
	jw_kv_u64(w, "drops_server", c->drops_server);
	jw_kv_u64(w, "rejoined", c->rejoined);
	jw_quantiles(w, "back_in_chat_ms", &r->rejoin);
	jw_kv_u64(w, "echoes_after_drop", c->echo_after_drop);
	jw_key(w, "history");
	jw_obj_begin(w);
	jw_kv_u64(w, "checks", c->hist_checks);
	jw_kv_u64(w, "missing", c->hist_missing);
	jw_kv_u64(w, "duplicated", c->hist_duplicated);
	jw_kv_u64(w, "recovered", c->hist_recovered);
	jw_kv_u64(w, "unexpected", c->hist_unexpected);
	jw_kv_u64(w, "truncated", c->hist_truncated);
	jw_key(w, "passed");
	if (c->hist_checks)
		jw_bool(w, !c->hist_missing && !c->hist_duplicated &&
			!c->hist_unexpected);
	else
		jw_null(w);
	jw_obj_end(w);
	jw_obj_end(w);
}

/* Several devices (--devices or --org-devices above 1; null without):
 * the copies every user's other connections should have read, and did. */
static void devices_json(struct jw *w, const struct run_opts *o,
			 const struct run_counters *c)
{
	jw_key(w, "devices");
	if (!run_devices(o)) {
		jw_null(w);
		return;
	}
	jw_obj_begin(w);
	jw_kv_u64(w, "participant", o->devices);
	jw_kv_u64(w, "organizer", o->org_devices);
	jw_kv_u64(w, "copies_expected", c->dev_expected);
	jw_kv_u64(w, "copies_received", c->dev_received);
	jw_kv_u64(w, "organizer_copies_expected", c->org_dev_expected);
	jw_kv_u64(w, "organizer_copies_received", c->org_dev_received);
	jw_obj_end(w);
}

/* p50 .. max of a histogram of microseconds, in milliseconds. */
static void human_quantiles(FILE *f, const struct hist *h)
{
	if (!h->count) {
		fputs("none measured", f);
		return;
	}
	fprintf(f, "p50 %.3g ms, p90 %.3g, p99 %.3g, p99.9 %.3g, max %.3g",
		(double)hist_quantile(h, 0.5) / 1000.0,
		(double)hist_quantile(h, 0.9) / 1000.0,
		(double)hist_quantile(h, 0.99) / 1000.0,
		(double)hist_quantile(h, 0.999) / 1000.0,
		(double)hist_quantile(h, 1.0) / 1000.0);
}

/*
 * What a person reads at the end of a run, on stderr: the summary's main
 * figures in words, the self-check's verdict and where the files went.
 * The files and stdout (the Go tool's JSON) are what scripts read.
 */
static void human_summary(FILE *f, const struct run *r, const char *sum_path,
			  const char *rate_path)
{
	struct run_counters c;
	struct sc_in in;
	char verdict[768] = "";
	int64_t part = r->part_start_real_ns ? r->part_start_real_ns
					     : r->t0_real_ns;
	double secs = (double)(r->end_real_ns - part) / 1e9;
	int any = 0;

	run_sum(r, &c);
	verdict_of(r, &c, &in, verdict, sizeof(verdict));
	if (!*verdict)
		snprintf(verdict, sizeof(verdict), "nothing to judge");
	fprintf(f, "\nesmeload: %s after %.1f s\n",
		r->stop_reason == STOP_SIGNAL ? "stopped by a signal" :
		r->stop_reason == STOP_ERROR ? "stopped on errors" :
		r->stop_reason == STOP_DURATION ? "the duration is over" :
		r->stop_reason == STOP_DONE ? "every participant is done" :
		"ended", secs > 0 ? secs : 0);
	fprintf(f, "  participants  %llu created, %llu connected, %llu failed; "
		"%llu chats\n", (unsigned long long)c.created,
		(unsigned long long)c.connected,
		(unsigned long long)c.part_failed, (unsigned long long)c.chats);
	fprintf(f, "  messages      %llu sent, %llu delivered (%.2f %%), %llu in "
		"flight, %llu lost; %.0f sent/s\n", (unsigned long long)c.sent,
		(unsigned long long)c.delivered,
		c.sent ? 100.0 * (double)c.delivered / (double)c.sent : 0.0,
		(unsigned long long)c.in_flight, (unsigned long long)c.lost,
		secs > 0 ? (double)c.sent / secs : 0.0);
	fputs("  latency       ", f);
	human_quantiles(f, &r->lat);
	fputs(" (from each message's scheduled send)\n  time to chat  ", f);
	human_quantiles(f, &r->to_chat);
	fputs("\n  errors        ", f);
	for (int k = 0; k < RE_COUNT; k++)
		if (c.err[k]) {
			fprintf(f, "%s%s %llu", any ? ", " : "", run_err_names[k],
				(unsigned long long)c.err[k]);
			any = 1;
		}
	fputs(any ? "" : "none", f);
	if (r->has_first_err)
		fprintf(f, "; first: %.*s", (int)strnlen(r->first_err,
							 sizeof(r->first_err)),
			r->first_err);
	fprintf(f, "\n  self-check    %s\n  files         %s, %s\n", verdict,
		sum_path, rate_path);
	fflush(f);
}

/*
 * Which part of a test this run was, and its instants in Unix ns: what
 * `esmeload merge` checks and lines up. Then every histogram whole
 * (histjson.h), so percentiles merge exactly.
 */
static void shard_json(struct jw *w, const struct run *r)
{
	static const struct { const char *name; size_t off; } hists[] = {
		{ "latency", offsetof(struct run, lat) },
		{ "latency_actual", offsetof(struct run, lat_actual) },
		{ "lag", offsetof(struct run, lag) },
		{ "arrival_lag", offsetof(struct run, arrival_lag) },
		{ "time_to_chat", offsetof(struct run, to_chat) },
		{ "sign_up", offsetof(struct run, ph_signup) },
		{ "chat_request", offsetof(struct run, ph_request) },
		{ "connect", offsetof(struct run, ph_connect) },
		{ "timer_late", offsetof(struct run, timer_late) },
		{ "reply_latency", offsetof(struct run, reply_lat) },
		{ "rejoin", offsetof(struct run, rejoin) },
	};
	const struct run_opts *o = &r->o;
	char id[17];

	snprintf(id, sizeof(id), "%016llx", (unsigned long long)run_test_id(o));
	jw_key(w, "shard");
	jw_obj_begin(w);
	jw_kv_u64(w, "index", o->shard);
	jw_kv_u64(w, "count", o->shards);
	jw_kv_cstr(w, "test", id);
	jw_key(w, "start_at");
	if (o->start_at_ns)
		jw_time(w, o->start_at_ns);
	else
		jw_null(w);
	jw_kv_i64(w, "t0_unix_ns", r->t0_real_ns);
	jw_kv_i64(w, "organizer_start_unix_ns", r->org_start_real_ns ?
		  r->org_start_real_ns : r->t0_real_ns);
	jw_kv_i64(w, "participants_start_unix_ns", r->part_start_real_ns ?
		  r->part_start_real_ns : r->t0_real_ns);
	jw_kv_i64(w, "end_unix_ns", r->end_real_ns);
	jw_kv_i64(w, "files_unix", r->files_unix ? r->files_unix :
		  r->end_real_ns / 1000000000);
	jw_obj_end(w);
	jw_key(w, "histograms");
	jw_obj_begin(w);
	for (size_t i = 0; i < sizeof(hists) / sizeof(hists[0]); i++) {
		jw_key(w, hists[i].name);
		histjson_write(w, (const struct hist *)(const void *)
			       ((const char *)r + hists[i].off));
	}
	jw_obj_end(w);
}

/* The summary as compact JSON; returns its length or a negative error. */
static long summary_json(const struct run *r, char *buf, size_t cap)
{
	const struct run_opts *o = &r->o;
	struct run_counters c;
	struct jw w;
	int64_t org = r->org_start_real_ns ? r->org_start_real_ns : r->t0_real_ns;
	int64_t part = r->part_start_real_ns ? r->part_start_real_ns
					     : r->t0_real_ns;

	run_sum(r, &c);
	jw_init(&w, buf, cap);
	jw_obj_begin(&w);
	jw_key(&w, "constants");
	jw_obj_begin(&w);
	jw_key(&w, "start_chat_interval");
	jw_ms(&w, o->sci_ms);
	jw_key(&w, "create_participant_interval");
	jw_ns(&w, run_cpi_ns(o));
	jw_key(&w, "send_message_interval");
	jw_ms(&w, o->smi_ms);
	jw_key(&w, "log_ws");
	jw_bool(&w, o->log_ws);
	jw_obj_end(&w);
	jw_kv_cstr(&w, "description", "performance test summary");
	jw_key(&w, "organizer_time_started");
	jw_time(&w, org);
	jw_key(&w, "organizer_duration");
	jw_span(&w, org, r->end_real_ns);
	jw_key(&w, "participants_time_started");
	jw_time(&w, part);
	jw_key(&w, "participants_duration");
	jw_span(&w, part, r->end_real_ns);
	jw_kv_u64(&w, "messages_sent", c.sent);
	jw_kv_u64(&w, "chats_count", c.chats);
	jw_kv_u64(&w, "created_participants_count", c.created);

	/* Ours: what the Go tool cannot see. */
	jw_key(&w, "esmeload");
	jw_obj_begin(&w);
	jw_kv_u64(&w, "sent", c.sent);
	jw_kv_u64(&w, "delivered", c.delivered);
	/* sent = delivered + in_flight + lost, see run_counters */
	jw_kv_u64(&w, "in_flight", c.in_flight);
	jw_kv_u64(&w, "lost", c.lost);
	jw_key(&w, "accounted");
	jw_bool(&w, c.sent == c.delivered + c.in_flight + c.lost);
	jw_kv_u64(&w, "echo_unmatched", c.echo_unmatched);
	jw_kv_u64(&w, "organizer_received", c.org_received);
	organizers_json(&w, r);
	jw_key(&w, "delivery_ratio");
	jw_f64(&w, c.sent ? (double)c.delivered / (double)c.sent : 0.0);
	/* --org-reply-every: decided on = written + not yet out at the
	 * stop (+ dropped: their chat had closed); written = read by their
	 * participants + missed (found in a history after a reconnect,
	 * never read) + in flight */
	jw_key(&w, "replies");
	if (o->org_reply_every) {
		jw_obj_begin(&w);
		jw_kv_u64(&w, "scheduled", c.replies_scheduled);
		jw_kv_u64(&w, "sent", c.replies_sent);
		jw_kv_u64(&w, "received", c.replies_received);
		jw_kv_u64(&w, "in_flight", c.replies_sent >
			  c.replies_received + c.replies_missed ? c.replies_sent -
			  c.replies_received - c.replies_missed : 0);
		jw_quantiles(&w, "latency_ms", &r->reply_lat);
		jw_kv_u64(&w, "dropped", c.replies_dropped);
		jw_kv_u64(&w, "missed", c.replies_missed);
		jw_obj_end(&w);
	} else {
		jw_null(&w);
	}
	chats_json(&w, o, &c);
	reconnects_json(&w, r, &c);
	devices_json(&w, o, &c);
	jw_kv_u64(&w, "start_chats", c.start_chats);
	jw_kv_u64(&w, "new_chats", c.new_chats);
	jw_kv_u64(&w, "no_new_chats", c.no_new_chats);
	jw_kv_u64(&w, "server_errors", c.err[RE_SERVER]);
	jw_kv_u64(&w, "connected", c.connected);
	jw_kv_u64(&w, "participants_failed", c.part_failed);
	jw_key(&w, "embedded_serve"); /* true: a demo, not a real target */
	jw_bool(&w, o->embedded);
	/* --scenario: the file as given, checked to be one JSON object */
	jw_key(&w, "scenario");
	if (o->scenario_text) {
		jw_obj_begin(&w);
		jw_kv_cstr(&w, "path", o->scenario_path);
		jw_key(&w, "name");
		if (o->scenario_name)
			jw_cstr(&w, o->scenario_name);
		else
			jw_null(&w);
		jw_key(&w, "file"); /* indent() lays it out anew */
		jw_raw(&w, o->scenario_text, o->scenario_len);
		jw_obj_end(&w);
	} else {
		jw_null(&w);
	}
	jw_kv_u64(&w, "max_conns", o->max_conns);
	jw_key(&w, "tls"); /* null when no target is https:// or wss:// */
	if (o->t[T_ORG].u.tls || o->t[T_PART].u.tls || o->t[T_MSG].u.tls) {
		jw_obj_begin(&w);
		jw_key(&w, "insecure");
		jw_bool(&w, o->insecure);
		jw_kv_u64(&w, "handshakes", c.tls_handshakes);
		jw_kv_u64(&w, "resumed", c.tls_resumed);
		jw_obj_end(&w);
	} else {
		jw_null(&w);
	}
	jw_quantiles(&w, "latency_ms", &r->lat);
	jw_quantiles(&w, "latency_actual_ms", &r->lat_actual);
	jw_quantiles(&w, "lag_ms", &r->lag);
	arrivals_json(&w, r, &c);
	jw_key(&w, "errors");
	jw_obj_begin(&w);
	for (int k = 0; k < RE_COUNT; k++)
		jw_kv_u64(&w, run_err_names[k], c.err[k]);
	jw_obj_end(&w);
	jw_kv_cstr(&w, "stop_reason", stop_name(r->stop_reason));
	jw_key(&w, "first_error");
	if (r->has_first_err)
		jw_str(&w, r->first_err, strnlen(r->first_err,
						 sizeof(r->first_err)));
	else
		jw_null(&w);
	shard_json(&w, r);
	self_check(&w, r, &c);
	jw_key(&w, "server");
	if (r->server_json)
		jw_raw(&w, r->server_json, strlen(r->server_json));
	else
		jw_null(&w);
	/* serve's counter is cumulative: the run's share is what it
	 * counted between the start and the end. */
	jw_key(&w, "cross_check");
	if (r->server_received >= 0) {
		int64_t s0 = r->server_received_start;

		jw_obj_begin(&w);
		jw_kv_u64(&w, "sent", c.sent);
		/* serve counts every send_message frame: the organizers'
		 * replies too */
		jw_kv_u64(&w, "replies_sent", c.replies_sent);
		jw_key(&w, "server_received");
		if (s0 >= 0 && r->server_received >= s0)
			jw_i64(&w, r->server_received - s0);
		else
			jw_null(&w);
		jw_key(&w, "server_received_start");
		if (s0 >= 0)
			jw_i64(&w, s0);
		else
			jw_null(&w);
		jw_kv_i64(&w, "server_received_end", r->server_received);
		/* A shard shares the server with the others: only the
		 * merge of all of them can be checked (esmeload merge). */
		jw_key(&w, "passed");
		if (s0 >= 0 && run_shards(o) == 1)
			jw_bool(&w, r->server_received >= s0 &&
				(uint64_t)(r->server_received - s0) ==
				c.sent + c.replies_sent);
		else
			jw_null(&w); /* no start to count from */
		jw_obj_end(&w);
	} else {
		jw_null(&w);
	}
	jw_key(&w, "thresholds");
	jw_arr_begin(&w);
	for (unsigned i = 0; i < r->o.nthresholds; i++) {
		const struct threshold *t = &r->o.thresholds[i];

		jw_obj_begin(&w);
		jw_kv_cstr(&w, "expr", t->expr);
		jw_kv_cstr(&w, "metric", threshold_metric(t));
		jw_key(&w, "measured");
		if (t->no_data)
			jw_null(&w);
		else
			jw_f64(&w, t->measured);
		jw_key(&w, "passed");
		jw_bool(&w, t->passed);
		if (t->no_data) {
			char why[96];

			snprintf(why, sizeof(why), "no samples (%s)", t->no_data);
			jw_kv_cstr(&w, "why", why);
		}
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_obj_end(&w);
	jw_obj_end(&w);
	return jw_finish(&w);
}

static void put_indent(char *dst, size_t *o, unsigned depth)
{
	dst[(*o)++] = '\n';
	for (unsigned i = 0; i < depth; i++) {
		dst[(*o)++] = ' ';
		dst[(*o)++] = ' ';
	}
}

/*
 * Re-indent JSON the way Go's json.MarshalIndent(v, "", "  ") lays it
 * out: one member per line, ": " after keys, empty {} and [] kept on one
 * line; whitespace outside strings (a value copied whole from a file)
 * is dropped. dst needs room for indent_room(n, depth) bytes.
 * Returns the output length.
 */
static size_t indent(char *dst, const char *s, size_t n)
{
	size_t o = 0;
	unsigned depth = 0;
	int in_str = 0;

	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (in_str) {
			dst[o++] = ch;
			if (ch == '\\' && i + 1 < n)
				dst[o++] = s[++i];
			else if (ch == '"')
				in_str = 0;
			continue;
		}
		switch (ch) {
		case '"':
			in_str = 1;
			dst[o++] = ch;
			break;
		case '{':
		case '[': {
			size_t j = i + 1;

			dst[o++] = ch;
			while (j < n && (s[j] == ' ' || s[j] == '\t' ||
					 s[j] == '\n' || s[j] == '\r'))
				j++;
			if (j < n && (s[j] == '}' || s[j] == ']')) {
				dst[o++] = s[j];
				i = j;
				break;
			}
			put_indent(dst, &o, ++depth);
			break;
		}
		case '}':
		case ']':
			put_indent(dst, &o, --depth);
			dst[o++] = ch;
			break;
		case ',':
			dst[o++] = ch;
			put_indent(dst, &o, depth);
			break;
		case ':':
			dst[o++] = ':';
			dst[o++] = ' ';
			break;
		case ' ':
		case '\t':
		case '\n':
		case '\r':
			break; /* its own layout: a value copied whole */
		default:
			dst[o++] = ch;
			break;
		}
	}
	return o;
}

/* Worst case of indent(): every byte a structural one at depth d gets a
 * newline and 2 * d spaces. */
static size_t indent_room(size_t n)
{
	return n * (2 + 2 * JW_MAX_DEPTH) + 1;
}

/*
 * Open a temporary file next to path: "<path>.tmp.<pid>". Renamed over
 * path only when complete, so readers never see half a file.
 */
static FILE *open_tmp(const char *path, char *tmp, size_t cap)
{
	if (snprintf(tmp, cap, "%s.tmp.%d", path, (int)getpid()) >= (int)cap) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	return fopen(tmp, "w");
}

/* Flush, sync and close f; 0 or -errno. The file is unlinked on error. */
static int close_tmp(FILE *f, const char *tmp)
{
	int e = 0;

	if (fflush(f) != 0 || ferror(f))
		e = errno ? errno : EIO;
	else if (fsync(fileno(f)) < 0)
		e = errno;
	if (fclose(f) != 0 && !e)
		e = errno ? errno : EIO;
	if (e)
		unlink(tmp);
	return -e;
}

static int write_file_tmp(const char *path, char *tmp, size_t cap,
			  const char *data, size_t n)
{
	FILE *f = open_tmp(path, tmp, cap);

	if (!f)
		return -errno;
	errno = 0;
	if (fwrite(data, 1, n, f) != n || fputc('\n', f) == EOF) {
		int e = errno ? errno : EIO;

		fclose(f);
		unlink(tmp);
		return -e;
	}
	errno = 0;
	return close_tmp(f, tmp);
}

/*
 * The message rates of every worker, merged by Unix second, in ascending
 * order (Go sorts map keys as strings; for the 10-digit seconds of these
 * decades that is the same). Zero seconds are left out, as the Go tool
 * records only seconds in which something was sent.
 */
static int write_rates_tmp(const struct run *r, const char *path, char *tmp,
			   size_t cap)
{
	/* A merge of the workers' tables with one cursor each, so the cost
	 * follows the entries, not the span between the workers' bases. */
	uint32_t *cur = calloc(r->nw ? r->nw : 1, sizeof(*cur));
	FILE *f;
	int first = 1;

	if (!cur)
		return -ENOMEM;
	f = open_tmp(path, tmp, cap);
	if (!f) {
		int e = errno;

		free(cur);
		return -e;
	}
	errno = 0;
	fputc('{', f);
	for (;;) {
		int64_t s = INT64_MAX;
		uint64_t sum = 0;

		for (unsigned i = 0; i < r->nw; i++) {
			const struct scenario *w = &r->w[i].sc;

			if (!w->rates)
				continue;
			while (cur[i] < w->rates_cap && !w->rates[cur[i]])
				cur[i]++;
			if (cur[i] < w->rates_cap && w->rate_base + cur[i] < s)
				s = w->rate_base + cur[i];
		}
		if (s == INT64_MAX)
			break;
		for (unsigned i = 0; i < r->nw; i++) {
			const struct scenario *w = &r->w[i].sc;

			if (w->rates && cur[i] < w->rates_cap &&
			    w->rate_base + cur[i] == s)
				sum += w->rates[cur[i]++];
		}
		fprintf(f, "%s\n  \"%lld\": %llu", first ? "" : ",",
			(long long)s, (unsigned long long)sum);
		first = 0;
	}
	free(cur);
	fputs(first ? "}\n" : "\n}\n", f);
	if (ferror(f)) {
		int e = errno ? errno : EIO;

		fclose(f);
		unlink(tmp);
		return -e;
	}
	return close_tmp(f, tmp);
}

/* see run.h: what esmeload merge writes the same way */
void run_jw_time(struct jw *w, int64_t ns) { jw_time(w, ns); }
void run_jw_span(struct jw *w, int64_t start, int64_t end)
{
	jw_span(w, start, end);
}
size_t run_json_indent_room(size_t n) { return indent_room(n); }
size_t run_json_indent(char *dst, const char *s, size_t n)
{
	return indent(dst, s, n);
}
FILE *run_open_tmp(const char *path, char *tmp, size_t cap)
{
	return open_tmp(path, tmp, cap);
}
int run_close_tmp(FILE *f, const char *tmp) { return close_tmp(f, tmp); }

static int file_err(const char *what, const char *path, int e)
{
	fprintf(stderr, "esmeload: cannot write %s %s: %s\n", what, path,
		strerror(-e));
	return e;
}

/* see run.h */
int run_file_name(const struct run_opts *o, char *dst, size_t cap,
		  long long unix_s, const char *what)
{
	const char *dir = o->out_dir ? o->out_dir : ".";
	int n;

	if (o->shards > 1)
		n = snprintf(dst, cap, "%s/%lld_shard-%u-of-%u_%s", dir, unix_s,
			     o->shard, o->shards, what);
	else
		n = snprintf(dst, cap, "%s/%lld_%s", dir, unix_s, what);
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

/* see run.h */
int run_write_outputs(struct run *r, char *summary_path, size_t cap)
{
	char sum_path[4096], rate_path[4096], sum_tmp[4200], rate_tmp[4200];
	const char *dir = r->o.out_dir ? r->o.out_dir : ".";
	/* The second they are written in, as the Go tool names them (set
	 * by run.c); else the end of the run. */
	long long unix_s = (long long)(r->files_unix ? r->files_unix :
				       r->end_real_ns / 1000000000);
	char *json;
	char *pretty;
	long n;
	size_t pn;
	int e;

	if (run_file_name(&r->o, sum_path, sizeof(sum_path), unix_s,
			  "performance_test_summary.json") < 0 ||
	    run_file_name(&r->o, rate_path, sizeof(rate_path), unix_s,
			  "performance_test_message_rates.json") < 0)
		return file_err("into", dir, -ENAMETOOLONG);
	if (summary_path && cap)
		snprintf(summary_path, cap, "%s", sum_path);

	/* The largest parts are serve's /stats (at most 64 KiB) and
	 * first_err (255 bytes, 6 each when escaped). */
	json = malloc(SUMMARY_MAX);
	if (!json)
		return file_err("summary", sum_path, -ENOMEM);
	n = summary_json(r, json, SUMMARY_MAX);
	if (n < 0) {
		free(json);
		return file_err("summary", sum_path, (int)n);
	}
	pretty = malloc(indent_room((size_t)n));
	if (!pretty) {
		free(json);
		return file_err("summary", sum_path, -ENOMEM);
	}
	pn = indent(pretty, json, (size_t)n);
	pretty[pn] = 0;

	e = write_file_tmp(sum_path, sum_tmp, sizeof(sum_tmp), pretty, pn);
	if (e < 0) {
		file_err("summary", sum_path, e);
		goto out_free;
	}
	e = write_rates_tmp(r, rate_path, rate_tmp, sizeof(rate_tmp));
	if (e < 0) {
		unlink(sum_tmp);
		file_err("message rates", rate_path, e);
		goto out_free;
	}
	/* Both complete: make them visible. */
	if (rename(sum_tmp, sum_path) < 0) {
		e = -errno;
		unlink(sum_tmp);
		unlink(rate_tmp);
		file_err("summary", sum_path, e);
		goto out_free;
	}
	if (rename(rate_tmp, rate_path) < 0) {
		e = -errno;
		unlink(rate_tmp);
		file_err("message rates", rate_path, e);
		goto out_free;
	}
	fwrite(pretty, 1, pn, stdout);
	printf("\nwrote %s and %s\n", sum_path, rate_path);
	fflush(stdout);
	if (!r->o.quiet)
		human_summary(stderr, r, sum_path, rate_path);
	e = 0;
out_free:
	free(pretty);
	free(json);
	return e;
}
