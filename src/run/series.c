/*
 * series: what the coordinator measures while workers run: the per-second
 * time series, the run's latency and CPU figures, the cross-check against
 * serve's counters and the thresholds. See run.h.
 *
 * The workers' counters and histograms are read with relaxed atomic loads
 * while they keep writing (one writer each); a second's figures are the
 * difference of two such snapshots.
 */
#include "run.h"
#include "run/worker.h"
#include "http.h"
#include "json.h"
#include "histjson.h"
#include "jsonw.h"
#include "opt.h"
#include "session/fetch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

double run_cpu_seconds(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/*
 * Seconds the process's other threads (the workers, and io_uring's own
 * threads when it has any) spent runnable but waiting for a CPU, from the
 * second field of /proc/self/task/<tid>/schedstat; -1 when the kernel
 * does not say (no CONFIG_SCHED_INFO). Once a second, off the hot path.
 */
static double threads_wait_s(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	pid_t self = gettid();
	double sum = 0;
	int any = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL) {
		char path[64], buf[96];
		unsigned long long run, wait;
		long tid = strtol(e->d_name, NULL, 10);
		ssize_t n;
		int fd;

		if (tid <= 0 || tid == self)
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%ld/schedstat", tid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue; /* the thread is gone */
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = 0;
		if (sscanf(buf, "%llu %llu", &run, &wait) != 2)
			continue;
		sum += (double)wait / 1e9;
		any = 1;
	}
	closedir(d);
	return any ? sum : -1;
}


/*
 * One window of the run for the self-check: dt seconds with cpu percent
 * of tester CPU and wait seconds of worker threads waiting for a CPU (< 0
 * unknown). Thresholds: a tester within 10 % of all the CPU it may use is
 * at its limit; worker threads that spent a fifth of the second runnable
 * but not running lost that time to other load on their cores; a window
 * half a second longer than its second means the coordinator, polling
 * every 50 ms, did not run either: the process was stopped or starved.
 */
static void cpu_window(struct run *r, double dt, double cpu, double wait)
{
	struct run_cpu *k = &r->cpu;
	double share = wait >= 0 ? wait / dt / (r->nw ? r->nw : 1) : -1;
	int sat = cpu >= 0.9 * k->limit_percent;
	int starved = share >= 0.2;
	int stalled = dt >= 1.5;

	k->windows++;
	k->saturated += sat;
	k->starved += starved;
	k->stalled += stalled;
	k->at_limit += sat || starved || stalled;
	if (cpu > k->busiest_percent)
		k->busiest_percent = cpu;
	if (share > k->wait_max)
		k->wait_max = share;
	if (stalled)
		k->stalled_s += dt - 1.0;
}

/*
 * Whether the window that ends now is judged by the self-check: not when
 * it holds part of the drain. A window that ends just after the
 * coordinator asked for the stop (by duration or signal) does not, until
 * a worker has seen the stop; the last one, after the workers stopped,
 * is all drain.
 */
static int judged(const struct run *r)
{
	if (r->end_real_ns)
		return 0;
	for (unsigned i = 0; i < r->nw; i++)
		if (__atomic_load_n(&r->w[i].sc.draining, __ATOMIC_RELAXED))
			return 0;
	return 1;
}

/* Sum of the workers' histograms, chosen by offset, into dst. */
void run_merged_hist(const struct run *r, size_t off, struct hist *dst,
		     struct hist *tmp)
{
	hist_reset(dst);
	for (unsigned i = 0; i < r->nw; i++) {
		hist_snapshot(tmp, (const struct hist *)((const char *)&r->w[i] + off));
		hist_merge(dst, tmp);
	}
}

/* see run.h */
int series_open(struct run *r, struct series *s)
{
	char path[4096];
	const char *dir = r->o.out_dir ? r->o.out_dir : ".";

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	hist_reset(&s->prev_lat);
	hist_reset(&s->prev_act);
	hist_reset(&s->prev_lag);
	hist_reset(&s->prev_arr);
	hist_reset(&s->prev_ttc);
	hist_reset(&s->prev_reply);
	hist_reset(&s->prev_rejoin);
	s->last_ns = r->t0_ns;
	s->prev_cpu_s = run_cpu_seconds();
	/* Under the start second while the run goes; series_rename moves
	 * it to the prefix of the other two files at the end. */
	s->unix_s = r->t0_real_ns / 1000000000;
	s->prev_wait_s = threads_wait_s();
	r->cpu.cores = opt_cpus();
	r->cpu.limit_percent = 100.0 * (r->nw < r->cpu.cores ? r->nw : r->cpu.cores);
	r->cpu.wait_max = s->prev_wait_s >= 0 ? 0 : -1;
	if (run_file_name(&r->o, path, sizeof(path), (long long)s->unix_s,
			  "performance_test_timeseries.jsonl") < 0) {
		fprintf(stderr, "esmeload: output directory name too long: %s\n", dir);
		return -ENAMETOOLONG;
	}
	s->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC,
		     0644);
	if (s->fd < 0) {
		int e = errno;

		fprintf(stderr, "esmeload: cannot write time series %s: %s\n",
			path, strerror(e));
		return -e;
	}
	return 0;
}

/* see run.h */
int series_rename(const struct run *r, const struct series *s)
{
	char from[4096], to[4096];

	if (!s->unix_s || s->unix_s == r->files_unix)
		return 0;
	if (run_file_name(&r->o, from, sizeof(from), (long long)s->unix_s,
			  "performance_test_timeseries.jsonl") < 0 ||
	    run_file_name(&r->o, to, sizeof(to), (long long)r->files_unix,
			  "performance_test_timeseries.jsonl") < 0)
		return -ENAMETOOLONG; /* series_open refused it already */
	if (rename(from, to) < 0) {
		int e = errno;

		fprintf(stderr, "esmeload: cannot rename time series %s to %s: "
			"%s\n", from, to, strerror(e));
		return -e;
	}
	return 0;
}

/* see run.h */
void run_jw_ms3(struct jw *w, const char *key, const struct hist *h,
		int with_p50)
{
	jw_key(w, key);
	if (!h->count && !hist_quantile(h, 1.0)) {
		jw_null(w);
		return;
	}
	jw_obj_begin(w);
	if (with_p50) {
		jw_key(w, "p50");
		jw_f64(w, (double)hist_quantile(h, 0.5) / 1000.0);
	}
	jw_key(w, "p99");
	jw_f64(w, (double)hist_quantile(h, 0.99) / 1000.0);
	if (with_p50) {
		jw_key(w, "max");
		jw_f64(w, (double)hist_quantile(h, 1.0) / 1000.0);
	}
	jw_obj_end(w);
}

static uint64_t err_total(const struct run_counters *c)
{
	uint64_t n = 0;

	for (int k = 0; k < RE_COUNT; k++)
		n += c->err[k];
	return n;
}

static uint64_t since(uint64_t now, uint64_t before)
{
	return now > before ? now - before : 0;
}

/* see run.h */
void run_jw_p99(struct jw *w, const char *key, const struct hist *h)
{
	jw_key(w, key);
	if (!h->count && !hist_quantile(h, 1.0))
		jw_null(w);
	else
		jw_f64(w, (double)hist_quantile(h, 0.99) / 1000.0);
}

/*
 * The opt-in behaviours' keys of a line, each group only when its
 * behaviour is on, so a plain run's lines stay as they were: the
 * second's counts (c less the previous line's p) and p99s (reply,
 * rejoin: the second's histograms), and running totals where the count
 * is a level (chats_active, replies_in_flight, device_copies_missing).
 * README.md, "What the numbers mean", lists them.
 */
static void behaviours_json(struct jw *w, const struct run_opts *o,
			    const struct run_counters *c,
			    const struct run_counters *p,
			    const struct hist *reply, const struct hist *rejoin)
{
	if (o->org_reply_every) {
		jw_kv_u64(w, "replies_sent",
			  since(c->replies_sent, p->replies_sent));
		jw_kv_u64(w, "replies_received",
			  since(c->replies_received, p->replies_received));
		/* found in a history after a reconnect, never read */
		jw_kv_u64(w, "replies_missed",
			  since(c->replies_missed, p->replies_missed));
		run_jw_p99(w, "reply_p99_ms", reply);
		/* sent = received + missed + in flight */
		jw_kv_u64(w, "replies_in_flight",
			  since(c->replies_sent,
				c->replies_received + c->replies_missed));
	}
	if (run_chats_end(o)) {
		jw_kv_u64(w, "chats_closed",
			  since(c->chats_closed, p->chats_closed));
		jw_kv_u64(w, "chats_reopened",
			  since(c->chats_reopened, p->chats_reopened));
		jw_kv_u64(w, "refused_after_close",
			  since(c->chat_refused, p->chat_refused));
		/* opened (the line's "chats") = closed + active */
		jw_kv_u64(w, "chats_active", since(c->chats, c->chats_closed));
	}
	if (o->reconnect_uptime_ms) {
		jw_kv_u64(w, "drops_tester",
			  since(c->drops_tester, p->drops_tester));
		jw_kv_u64(w, "drops_server",
			  since(c->drops_server, p->drops_server));
		jw_kv_u64(w, "reconnects", since(c->rejoined, p->rejoined));
		run_jw_p99(w, "rejoin_p99_ms", rejoin);
		jw_kv_u64(w, "history_missing",
			  since(c->hist_missing, p->hist_missing));
		jw_kv_u64(w, "history_duplicated",
			  since(c->hist_duplicated, p->hist_duplicated));
		jw_kv_u64(w, "history_truncated",
			  since(c->hist_truncated, p->hist_truncated));
	}
	if (run_devices(o))
		jw_kv_u64(w, "device_copies_missing",
			  since(c->dev_expected + c->org_dev_expected,
				c->dev_received + c->org_dev_received));
}

/* A line: at most 2 KiB, and a shard's its histograms (7 of at most
 * 35 KiB). The coordinator alone writes lines. */
static char line_buf[256 * 1024];

/* see run.h */
void series_tick(struct run *r, struct series *s, int64_t now_ns)
{
	struct run_counters c;
	struct hist lat, act, lag, arr, ttc, reply, rejoin;
	int replies_on = r->o.org_reply_every != 0;
	int rejoin_on = r->o.reconnect_uptime_ms != 0;
	double dt = (double)(now_ns - s->last_ns) / 1e9, cpu = run_cpu_seconds();
	double wait = threads_wait_s();
	char *buf = line_buf;
	struct jw w;
	long n;

	if (dt <= 0)
		return;
	run_sum(r, &c);
	run_merged_hist(r, offsetof(struct worker, sc.lat), &s->cur, &s->tmp);
	hist_delta(&lat, &s->cur, &s->prev_lat);
	s->prev_lat = s->cur;
	run_merged_hist(r, offsetof(struct worker, sc.lat_actual), &s->cur, &s->tmp);
	hist_delta(&act, &s->cur, &s->prev_act);
	s->prev_act = s->cur;
	run_merged_hist(r, offsetof(struct worker, sc.lag), &s->cur, &s->tmp);
	hist_delta(&lag, &s->cur, &s->prev_lag);
	s->prev_lag = s->cur;
	run_merged_hist(r, offsetof(struct worker, sc.arrival_lag), &s->cur, &s->tmp);
	hist_delta(&arr, &s->cur, &s->prev_arr);
	s->prev_arr = s->cur;
	run_merged_hist(r, offsetof(struct worker, sc.to_chat), &s->cur, &s->tmp);
	hist_delta(&ttc, &s->cur, &s->prev_ttc);
	s->prev_ttc = s->cur;
	hist_reset(&reply);
	hist_reset(&rejoin);
	if (replies_on) {
		run_merged_hist(r, offsetof(struct worker, sc.reply_lat),
				&s->cur, &s->tmp);
		hist_delta(&reply, &s->cur, &s->prev_reply);
		s->prev_reply = s->cur;
	}
	if (rejoin_on) {
		run_merged_hist(r, offsetof(struct worker, sc.rejoin), &s->cur,
				&s->tmp);
		hist_delta(&rejoin, &s->cur, &s->prev_rejoin);
		s->prev_rejoin = s->cur;
	}

	s->sent_per_s = (double)(c.sent - s->prev.sent) / dt;
	s->delivered_per_s = (double)(c.delivered - s->prev.delivered) / dt;
	s->cpu_percent = (cpu - s->prev_cpu_s) / dt * 100.0;
	if (judged(r))
		cpu_window(r, dt, s->cpu_percent,
			   wait >= 0 && s->prev_wait_s >= 0 ?
			   (wait > s->prev_wait_s ? wait - s->prev_wait_s : 0) : -1);
	s->have_p99 = lat.count > 0;
	s->p99_ms = (double)hist_quantile(&lat, 0.99) / 1000.0;
	s->have_ttc = ttc.count > 0;
	s->ttc_p99_ms = (double)hist_quantile(&ttc, 0.99) / 1000.0;

	jw_init(&w, buf, sizeof(line_buf) - 1);
	jw_obj_begin(&w);
	jw_kv_i64(&w, "t", clock_real_ns() / 1000000000);
	jw_key(&w, "elapsed_s");
	jw_f64(&w, (double)((now_ns - r->t0_ns) / 1000000) / 1000.0);
	jw_kv_u64(&w, "sent", c.sent - s->prev.sent);
	jw_kv_u64(&w, "delivered", c.delivered - s->prev.delivered);
	jw_kv_u64(&w, "organizer_received",
		  c.org_received - s->prev.org_received);
	jw_kv_u64(&w, "participants_created", c.created);
	jw_kv_u64(&w, "participants_connected", c.connected);
	jw_kv_u64(&w, "chats", c.chats);
	jw_kv_u64(&w, "errors", err_total(&c) - err_total(&s->prev));
	jw_key(&w, "error_kinds");
	jw_obj_begin(&w);
	for (int k = 0; k < RE_COUNT; k++)
		if (c.err[k] != s->prev.err[k]) {
			jw_key(&w, run_err_names[k]);
			jw_u64(&w, c.err[k] - s->prev.err[k]);
		}
	jw_obj_end(&w);
	run_jw_ms3(&w, "latency_ms", &lat, 1);
	run_jw_ms3(&w, "latency_actual_ms", &act, 1);
	run_jw_ms3(&w, "lag_ms", &lag, 0);
	/* The arrivals of this second (sign-ups written) and the chats
	 * found in it, each from its arrival's schedule. */
	jw_kv_u64(&w, "arrivals", arr.count);
	run_jw_ms3(&w, "arrival_lag_ms", &arr, 1);
	run_jw_ms3(&w, "time_to_chat_ms", &ttc, 1);
	jw_key(&w, "cpu_percent");
	jw_f64(&w, (double)(int64_t)(s->cpu_percent * 10) / 10.0);
	behaviours_json(&w, &r->o, &c, &s->prev, &reply, &rejoin);
	if (r->o.shards > 1) {
		/* the second's histograms whole: `esmeload merge` adds the
		 * shards' lines of one second into the same percentiles */
		jw_key(&w, "histograms");
		jw_obj_begin(&w);
		jw_key(&w, "latency");
		histjson_write(&w, &lat);
		jw_key(&w, "latency_actual");
		histjson_write(&w, &act);
		jw_key(&w, "lag");
		histjson_write(&w, &lag);
		jw_key(&w, "arrival_lag");
		histjson_write(&w, &arr);
		jw_key(&w, "time_to_chat");
		histjson_write(&w, &ttc);
		if (replies_on) {
			jw_key(&w, "reply_latency");
			histjson_write(&w, &reply);
		}
		if (rejoin_on) {
			jw_key(&w, "rejoin");
			histjson_write(&w, &rejoin);
		}
		jw_obj_end(&w);
	}
	jw_obj_end(&w);
	n = jw_finish(&w);
	if (n > 0 && s->fd >= 0) {
		/* One write per line: a SIGKILL loses at most this line, and
		 * readers skip an unfinished last line. */
		buf[n] = '\n';
		if (write(s->fd, buf, (size_t)n + 1) != n + 1) {
			fprintf(stderr, "esmeload: time series write failed: %s; "
				"no more lines\n", strerror(errno));
			close(s->fd);
			s->fd = -1;
		}
	}
	s->prev = c;
	s->prev_cpu_s = cpu;
	s->prev_wait_s = wait;
	s->last_ns = now_ns;
}

/* see run.h */
void series_close(struct series *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

/* see run.h */
void run_figures(struct run *r)
{
	struct hist tmp;
	double wall = (double)(r->end_real_ns - r->t0_real_ns) / 1e9;

	run_merged_hist(r, offsetof(struct worker, sc.lat), &r->lat, &tmp);
	run_merged_hist(r, offsetof(struct worker, sc.lat_actual), &r->lat_actual, &tmp);
	run_merged_hist(r, offsetof(struct worker, sc.lag), &r->lag, &tmp);
	run_merged_hist(r, offsetof(struct worker, sc.arrival_lag), &r->arrival_lag, &tmp);
	run_merged_hist(r, offsetof(struct worker, sc.ph_signup), &r->ph_signup, &tmp);
	run_merged_hist(r, offsetof(struct worker, sc.ph_request), &r->ph_request, &tmp);
	run_merged_hist(r, offsetof(struct worker, sc.ph_connect), &r->ph_connect, &tmp);
	run_merged_hist(r, offsetof(struct worker, sc.to_chat), &r->to_chat, &tmp);
	run_merged_hist(r, offsetof(struct worker, sc.timer_late), &r->timer_late, &tmp);
	run_merged_hist(r, offsetof(struct worker, sc.reply_lat), &r->reply_lat, &tmp);
	run_merged_hist(r, offsetof(struct worker, sc.rejoin), &r->rejoin, &tmp);
	r->backlog_max = 0;
	for (unsigned i = 0; i < r->nw; i++)
		if (r->w[i].sc.backlog_max > r->backlog_max)
			r->backlog_max = r->w[i].sc.backlog_max;
	r->cpu_percent = wall > 0 ? run_cpu_seconds() / wall * 100.0 : 0;
	r->cq_overflows = 0;
	r->cq_dropped = 0;
	for (unsigned i = 0; i < r->nw; i++) {
		r->cq_overflows += eng_cq_overflows(&r->w[i].ses.eng);
		r->cq_dropped += eng_cq_dropped(&r->w[i].ses.eng);
	}
}

/* ---- the cross-check ---- */

/*
 * One HTTP GET with a deadline (session/fetch.h), over TLS when the target
 * is https/wss (same trust anchors and --insecure as the run, no session
 * reuse); returns the body length in buf or -1.
 */
static long http_get(const struct run_opts *o, const struct run_target *t,
		     const char *path, char *buf, size_t cap,
		     int64_t deadline_ns)
{
	struct eng_target et = {
		.addr = t->addr,
		.addr_len = t->addr_len,
		.no_addr = t->resolve_err,
	};
	char host[256], err[256];

	snprintf(host, sizeof(host), "%.*s", (int)t->u.host_len, t->u.host);
	et.tls_host = t->u.tls ? host : NULL;
	return fetch_get(&et, t->hostport, path, &o->tas, o->insecure, buf,
			 cap, deadline_ns, err, sizeof(err));
}

/*
 * GET serve's /stats from the messenger until deadline; returns its
 * messages.received, or -1 when the messenger does not answer as a serve.
 * The body stays in buf (NUL-terminated, cap bytes) for the caller.
 */
static int64_t stats_received(const struct run *r, char *buf, size_t cap,
			      long *len, int64_t deadline)
{
	const struct run_target *t = &r->o.t[T_MSG];
	char path[RUN_URL_MAX];
	size_t plen = t->u.path_len;
	jsmntok_t toks[512];
	struct json_doc d;
	long n;
	int m, k;
	int64_t v;

	/* The messenger's base path: its URL less the "/connect" we add. */
	if (plen >= 8 && !memcmp(t->u.path + plen - 8, "/connect", 8))
		plen -= 8;
	snprintf(path, sizeof(path), "%.*s/stats", (int)plen, t->u.path);
	n = http_get(&r->o, t, path, buf, cap - 1, deadline);
	if (n < 0)
		return -1; /* not an esmeload serve, or gone */
	buf[n] = 0;
	if (json_parse(&d, buf, (size_t)n, toks, 512) < 0 ||
	    (m = json_find(&d, 0, "messages")) < 0 ||
	    (k = json_find(&d, m, "received")) < 0 ||
	    json_get_i64(&d, k, &v) < 0 || v < 0)
		return -1;
	*len = n;
	return v;
}

/* see run.h */
void run_cross_check_start(struct run *r)
{
	char *buf = malloc(65536);
	long n;

	r->server_received_start = -1;
	r->server_received = -1;
	if (!buf)
		return;
	/* serve's counters are cumulative (it may have served runs
	 * before): this run's share is the difference from here. A target
	 * that is not a serve holds up the start by a second at most. */
	r->server_received_start = stats_received(r, buf, 65536, &n,
						   clock_mono_ns() + 1000000000LL);
	free(buf);
}

/* see run.h */
void run_cross_check(struct run *r)
{
	/* After a signal the user waits: ask once, briefly. */
	int64_t deadline = clock_mono_ns() + (r->stop_reason == STOP_SIGNAL ?
					    300000000LL : 3000000000LL);
	int64_t base = r->server_received_start > 0 ? r->server_received_start : 0;
	struct run_counters c;
	char *buf = malloc(65536);

	r->server_received = -1;
	if (!buf)
		return;
	run_sum(r, &c);
	for (;;) {
		long n = 0;
		int64_t v = stats_received(r, buf, 65536, &n, deadline);

		if (v < 0)
			break;
		free(r->server_json);
		r->server_json = malloc((size_t)n + 1);
		if (r->server_json)
			memcpy(r->server_json, buf, (size_t)n + 1);
		r->server_received = v;
		/* What the kernel took may still be on its way to the
		 * server: wait, bounded, until it has all arrived (the
		 * participants' messages and the organizers' replies). */
		if ((uint64_t)(v - base) >= c.sent + c.replies_sent || v < base ||
		    clock_mono_ns() > deadline)
			break;
		poll(NULL, 0, 50);
	}
	free(buf);
}

/* see run.h */
uint64_t run_metric(const struct run *r, const struct threshold *t, double *v)
{
	static const double q[5] = { 0.5, 0.9, 0.99, 0.999, 1.0 };
	struct run_counters c;
	double secs = (double)(r->end_real_ns - r->t0_real_ns) / 1e9;

	run_sum(r, &c);
	if (t->metric < M_NLATENCY) {
		const struct hist *h[] = { &r->lat, &r->lat_actual, &r->lag,
					   &r->arrival_lag, &r->to_chat,
					   &r->reply_lat, &r->rejoin };
		const struct hist *g = h[t->metric / 5];

		*v = (double)hist_quantile(g, q[t->metric % 5]) / 1000.0;
		return g->count;
	}
	switch (t->metric) {
	case M_DELIVERED_RATIO:
		*v = c.sent ? (double)c.delivered / (double)c.sent : 0;
		return c.sent;
	case M_SENT: *v = (double)c.sent; return 1;
	case M_DELIVERED: *v = (double)c.delivered; return 1;
	case M_ORG_RECEIVED: *v = (double)c.org_received; return 1;
	case M_ERRORS: *v = (double)err_total(&c); return 1;
	case M_CHATS: *v = (double)c.chats; return 1;
	case M_PARTICIPANTS: *v = (double)c.created; return 1;
	case M_IN_FLIGHT: *v = (double)c.in_flight; return 1;
	case M_LOST: *v = (double)c.lost; return 1;
	case M_REPLIES_SENT: *v = (double)c.replies_sent; return 1;
	case M_REPLIES_RECEIVED: *v = (double)c.replies_received; return 1;
	case M_CHATS_CLOSED: *v = (double)c.chats_closed; return 1;
	case M_CHATS_REOPENED: *v = (double)c.chats_reopened; return 1;
	case M_RECONNECTS: *v = (double)c.rejoined; return 1;
	case M_HISTORY_MISSING: *v = (double)c.hist_missing; return 1;
	case M_HISTORY_TRUNCATED: *v = (double)c.hist_truncated; return 1;
	case M_HISTORY_DUPLICATED: *v = (double)c.hist_duplicated; return 1;
	case M_DEVICE_COPIES_MISSING: {
		uint64_t want = c.dev_expected + c.org_dev_expected;
		uint64_t got = c.dev_received + c.org_dev_received;

		*v = want > got ? (double)(want - got) : 0;
		return 1;
	}
	case M_REPLIES_MISSED: *v = (double)c.replies_missed; return 1;
	case M_MSGS_PER_S:
		*v = secs > 0 ? (double)c.sent / secs : 0;
		return secs > 0;
	default:
		*v = r->cpu_percent;
		return secs > 0;
	}
}

/* see run.h */
int run_thresholds(struct run *r)
{
	int failed = 0;

	for (unsigned i = 0; i < r->o.nthresholds; i++) {
		struct threshold *t = &r->o.thresholds[i];
		double v = 0;
		uint64_t n = run_metric(r, t, &v);

		threshold_apply(t, v, n);
		if (t->passed)
			continue;
		failed++;
		if (t->no_data)
			fprintf(stderr, "esmeload: threshold failed: %s: no "
				"samples (%s)\n", t->expr, t->no_data);
		else
			fprintf(stderr, "esmeload: threshold failed: %s (measured "
				"%s = %g)\n", t->expr, threshold_metric(t), v);
	}
	r->thresholds_failed = failed;
	return failed;
}
