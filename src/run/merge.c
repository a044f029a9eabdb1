/*
 * merge: `esmeload merge`: the files of the N shards of one test (run
 * --shard I/N) read back as one result, in the same three formats. See
 * run.h; README.md "One test over several machines" says what each figure
 * of the merged summary is.
 *
 * IMPLEMENTATION NOTES
 * - Everything is read and checked before anything is written: a missing
 *   shard, one index twice, shards of different tests, a file that does
 *   not parse (truncated) end the merge with exit 2 and one line, and no
 *   file is left behind.
 * - The summary is shard 0's tree walked once, each key merged from the
 *   same key of every shard by a rule (struct rule): counts add up, flags
 *   are or-ed, settings are copied, instants and spans come from the
 *   shards' Unix-ns instants, and every percentile is recomputed from the
 *   histograms the shards carry whole (histjson.h), so a merged p99 is the
 *   p99 of all samples, never an average.
 * - Message rates add up per Unix second; time-series lines add up per
 *   Unix second, each shard's running totals (participants, chats)
 *   carried forward, and the second's percentiles come from the lines'
 *   histograms added up. The opt-in behaviours' keys (replies, chats
 *   that end, reconnects, devices) are merged the same way, and written
 *   only in the seconds whose lines have them.
 */
#include "run/run.h"
#include "histjson.h"
#include "json.h"
#include "jsonw.h"
#include "report/report.h"
#include "timefmt.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_MAX ((size_t)256 << 20)
#define SERIES_SUFFIX "_performance_test_timeseries.jsonl"
#define RATES_SUFFIX "_performance_test_message_rates.json"

/* The histograms a summary carries, and the figures made of them. */
enum { H_LAT, H_ACT, H_LAG, H_ARR, H_TTC, H_SIGNUP, H_REQUEST, H_CONNECT,
       H_TIMER, H_REPLY, H_REJOIN, NH };
static const char *const hist_names[NH] = {
	"latency", "latency_actual", "lag", "arrival_lag", "time_to_chat",
	"sign_up", "chat_request", "connect", "timer_late", "reply_latency",
	"rejoin",
};

struct part {
	char *path;                 /* its summary */
	char *js, *rates, *series;  /* the three files */
	size_t n, rates_n, series_n;
	jsmntok_t *tok, *rtok;
	struct json_doc d, rd;
	int es;                     /* the esmeload object */
	unsigned index, count;
	char test[17];
	int64_t t0, org_start, part_start, end, files_unix;
	int64_t srv_start, srv_end; /* cross_check, -1: none */
	struct hist h[NH];
};

struct merge {
	struct part *p;             /* in index order once checked */
	unsigned n;
	struct hist h[NH];          /* merged */
	uint64_t sent, delivered, in_flight, lost, errors, created, chats;
	uint64_t org_received, replies_sent, replies_received;
	/* the opt-in objects' counts, summed over the shards that have
	 * them (replies, chats, reconnects, devices) */
	uint64_t replies_missed, chats_opened, chats_closed, chats_reopened;
	uint64_t rejoined, hist_checks, hist_missing, hist_duplicated;
	uint64_t hist_truncated;
	uint64_t hist_unexpected, copies_missing;
	struct threshold *th;
	unsigned nth;
	int th_failed;
};

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Token t's JSON text as it stands (a string with its quotes). */
static void raw(struct jw *w, const struct json_doc *d, int t)
{
	int q = d->tok[t].type == JSMN_STRING;

	jw_raw(w, d->js + d->tok[t].start - q,
	       (size_t)(d->tok[t].end - d->tok[t].start + 2 * q));
}

/* One "esmeload merge: ..." line; returns 2, the exit code of bad input. */
static int fail(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "esmeload merge: %s\n", line);
	return 2;
}

static int read_all(const char *path, char **out, size_t *n)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	char *b;

	if (!f)
		return -errno;
	if (fstat(fileno(f), &st) < 0 || (size_t)st.st_size > FILE_MAX) {
		fclose(f);
		return -EFBIG;
	}
	b = malloc((size_t)st.st_size + 1);
	if (!b) {
		fclose(f);
		return -ENOMEM;
	}
	*n = fread(b, 1, (size_t)st.st_size, f);
	fclose(f);
	b[*n] = 0;
	*out = b;
	return 0;
}

/* A whole document into tokens of its own; 0 or -EINVAL/-ENOMEM. */
static int parse_doc(const char *js, size_t n, jsmntok_t **tok,
		     struct json_doc *d)
{
	unsigned cap = (unsigned)(n / 2 + 64);

	jsmntok_t *fit;

	*tok = malloc((size_t)cap * sizeof(**tok));
	if (!*tok)
		return -ENOMEM;
	if (json_parse(d, js, n, *tok, cap) < 0)
		return -EINVAL;
	/* keep what the document took: every shard's stays until the end */
	fit = realloc(*tok, (size_t)d->ntok * sizeof(**tok));
	if (fit)
		*tok = d->tok = fit;
	return 0;
}

static int i64_at(const struct json_doc *d, int obj, const char *key,
		  int64_t *v)
{
	int t = obj >= 0 ? json_find(d, obj, key) : -1;

	return t < 0 ? -EINVAL : json_get_i64(d, t, v);
}

/* The sibling of a summary path with another suffix. */
static char *sibling(const char *sum, const char *suffix)
{
	size_t pl = strlen(sum), sl = strlen(REP_SUMMARY_SUFFIX);
	char *s = malloc(pl + 64);

	if (s)
		snprintf(s, pl + 64, "%.*s%s", (int)(pl - sl), sum, suffix);
	return s;
}

/* Read one shard's files and its shard object; 0 or 2 (printed). */
static int load_part(struct part *p)
{
	const struct json_doc *d = &p->d;
	char *rp, *sp;
	int64_t v;
	int t, e, hs, cc;

	if ((e = read_all(p->path, &p->js, &p->n)) < 0)
		return fail("%s: %s", p->path, strerror(-e));
	if (parse_doc(p->js, p->n, &p->tok, &p->d) < 0 ||
	    json_type(d, 0) != JSMN_OBJECT)
		return fail("%s: not a whole JSON summary (truncated?)",
			    p->path);
	p->es = json_find(d, 0, "esmeload");
	t = p->es >= 0 ? json_find(d, p->es, "shard") : -1;
	if (t < 0 || json_type(d, t) != JSMN_OBJECT)
		return fail("%s: no esmeload.shard: not a summary of esmeload "
			    "run (a Go tool run or an older esmeload cannot "
			    "be merged)", p->path);
	if (i64_at(d, t, "index", &v) < 0 || v < 0)
		return fail("%s: esmeload.shard.index is not a count", p->path);
	p->index = (unsigned)v;
	if (i64_at(d, t, "count", &v) < 0 || v < 1 || v > RUN_MAX_SHARDS ||
	    p->index >= (unsigned)v)
		return fail("%s: esmeload.shard.count is not a shard count "
			    "above its index", p->path);
	p->count = (unsigned)v;
	if (json_get_str(d, json_find(d, t, "test"), p->test, sizeof(p->test),
			 NULL) < 0 ||
	    i64_at(d, t, "t0_unix_ns", &p->t0) < 0 ||
	    i64_at(d, t, "organizer_start_unix_ns", &p->org_start) < 0 ||
	    i64_at(d, t, "participants_start_unix_ns", &p->part_start) < 0 ||
	    i64_at(d, t, "end_unix_ns", &p->end) < 0 ||
	    i64_at(d, t, "files_unix", &p->files_unix) < 0)
		return fail("%s: esmeload.shard lacks test, t0_unix_ns, "
			    "organizer_start_unix_ns, participants_start_unix_ns, "
			    "end_unix_ns or files_unix", p->path);
	hs = json_find(d, p->es, "histograms");
	for (int k = 0; k < NH; k++)
		if (histjson_read(d, hs >= 0 ? json_find(d, hs, hist_names[k])
					     : -1, &p->h[k]) < 0)
			return fail("%s: esmeload.histograms.%s is missing or not "
				    "a histogram", p->path, hist_names[k]);
	p->srv_start = p->srv_end = -1;
	cc = json_find(d, p->es, "cross_check");
	if (cc >= 0 && json_type(d, cc) == JSMN_OBJECT) {
		if (i64_at(d, cc, "server_received_start", &v) == 0)
			p->srv_start = v;
		if (i64_at(d, cc, "server_received_end", &v) == 0)
			p->srv_end = v;
	}
	rp = sibling(p->path, RATES_SUFFIX);
	sp = sibling(p->path, SERIES_SUFFIX);
	if (!rp || !sp) {
		free(rp);
		free(sp);
		return fail("out of memory");
	}
	e = read_all(rp, &p->rates, &p->rates_n);
	if (e < 0) {
		fail("%s: %s (each shard's message rates are merged)", rp,
		     strerror(-e));
		goto out;
	}
	if (parse_doc(p->rates, p->rates_n, &p->rtok, &p->rd) < 0 ||
	    json_type(&p->rd, 0) != JSMN_OBJECT) {
		e = -EINVAL;
		fail("%s: not a whole JSON object of message rates "
		     "(truncated?)", rp);
		goto out;
	}
	for (int k = 0, x = 1; k < p->rd.tok[0].size; k++,
	     x = json_next(&p->rd, x + 1)) {
		char key[32], *end;
		int64_t c;

		if (json_get_str(&p->rd, x, key, sizeof(key), NULL) < 0 ||
		    (strtoll(key, &end, 10), *end || !*key) ||
		    json_get_i64(&p->rd, x + 1, &c) < 0 || c < 0) {
			e = -EINVAL;
			fail("%s: entry %d is not \"<unix second>\": <count>", rp,
			     k + 1);
			goto out;
		}
	}
	e = read_all(sp, &p->series, &p->series_n);
	if (e < 0)
		fail("%s: %s (each shard's time series is merged)", sp,
		     strerror(-e));
out:
	free(rp);
	free(sp);
	return e < 0 ? 2 : 0;
}

static int by_index(const void *a, const void *b)
{
	const struct part *x = a, *y = b;

	return x->index < y->index ? -1 : x->index > y->index;
}

/* One test, every shard once; 0 or 2 (printed). */
static int check_parts(struct merge *m)
{
	struct part *p = m->p;

	for (unsigned i = 1; i < m->n; i++)
		if (strcmp(p[i].test, p[0].test) || p[i].count != p[0].count)
			return fail("%s and %s are not shards of one test (test "
				    "%s of %u shards, test %s of %u): give the "
				    "same flags and --start-at to every shard",
				    p[0].path, p[i].path, p[0].test, p[0].count,
				    p[i].test, p[i].count);
	qsort(p, m->n, sizeof(*p), by_index);
	for (unsigned i = 1; i < m->n; i++)
		if (p[i].index == p[i - 1].index)
			return fail("shard %u twice: %s and %s", p[i].index,
				    p[i - 1].path, p[i].path);
	/* indexes are below the count and distinct: n == count is all */
	for (unsigned i = 0; i < p[0].count; i++)
		if (i >= m->n || p[i].index != i)
			return fail("shard %u of %u is missing (%u given)", i,
				    p[0].count, m->n);
	return 0;
}

/* ---- the summary ---- */

enum op {
	OP_DEFAULT,  /* by type: objects recurse, numbers add, flags or */
	OP_COPY,     /* shard 0's */
	OP_MAX,
	OP_CONCAT,   /* arrays one after another */
	OP_QUANT,    /* percentiles of merged histogram .hist */
	OP_P50,      /* its median, in ms */
	OP_P99,
	OP_TIME,     /* the earliest of the shards' instants at offset .arg */
	OP_SPAN,     /* from that instant to the latest end */
	OP_SPECIAL,  /* fn */
};

struct rule {
	const char *path;
	enum op op;
	size_t arg;  /* OP_QUANT, OP_P50, OP_P99: the histogram (H_*);
		      * OP_TIME, OP_SPAN: offsetof(struct part, instant) */
	void (*fn)(struct merge *m, struct jw *w, const int *tok);
};

static int64_t min_of(const struct merge *m, size_t off)
{
	int64_t v = INT64_MAX;

	for (unsigned i = 0; i < m->n; i++) {
		int64_t x = *(const int64_t *)(const void *)
			((const char *)&m->p[i] + off);

		if (x < v)
			v = x;
	}
	return v;
}

static int64_t max_end(const struct merge *m)
{
	int64_t v = INT64_MIN;

	for (unsigned i = 0; i < m->n; i++)
		if (m->p[i].end > v)
			v = m->p[i].end;
	return v;
}

#define MIN_OF(m, f) min_of(m, offsetof(struct part, f))

static void fn_accounted(struct merge *m, struct jw *w, const int *tok)
{
	(void)tok;
	jw_bool(w, m->sent == m->delivered + m->in_flight + m->lost);
}

/* Replies in flight over the whole test: an organizer of one shard
 * answers participants of another. sent = received + missed + in
 * flight, as a run writes it. */
static void fn_reply_flight(struct merge *m, struct jw *w, const int *tok)
{
	uint64_t done = m->replies_received + m->replies_missed;

	(void)tok;
	jw_u64(w, m->replies_sent > done ? m->replies_sent - done : 0);
}

/* Chats still open over the whole test: opened - closed, as a run
 * writes it, and the identity on the totals (a shard's true is not the
 * test's). */
static void fn_chats_active(struct merge *m, struct jw *w, const int *tok)
{
	(void)tok;
	jw_u64(w, m->chats_opened > m->chats_closed ?
	       m->chats_opened - m->chats_closed : 0);
}

static void fn_chats_accounted(struct merge *m, struct jw *w, const int *tok)
{
	(void)tok; /* as output.c's chats_json */
	jw_bool(w, m->chats_closed <= m->chats_opened);
}

/* The history check of the whole test: null when no shard checked one. */
static void fn_history_passed(struct merge *m, struct jw *w, const int *tok)
{
	(void)tok;
	if (m->hist_checks)
		jw_bool(w, !m->hist_missing && !m->hist_duplicated &&
			!m->hist_unexpected);
	else
		jw_null(w);
}

static void fn_ratio(struct merge *m, struct jw *w, const int *tok)
{
	(void)tok;
	jw_f64(w, m->sent ? (double)m->delivered / (double)m->sent : 0.0);
}

/* The most telling stop of the shards': an error, a signal, the duration,
 * every participant done. */
static void fn_stop(struct merge *m, struct jw *w, const int *tok)
{
	static const char *const rank[] = {
		"error", "signal", "duration", "max_participants",
	};
	const struct json_doc *d0 = &m->p[0].d;

	for (size_t r = 0; r < sizeof(rank) / sizeof(rank[0]); r++)
		for (unsigned i = 0; i < m->n; i++)
			if (tok[i] >= 0 && json_str_eq(&m->p[i].d, tok[i], rank[r])) {
				jw_cstr(w, rank[r]);
				return;
			}
	raw(w, d0, tok[0]);
}

/* The first error of the lowest shard that had one, named. */
static void fn_first_error(struct merge *m, struct jw *w, const int *tok)
{
	char s[300], line[320];

	for (unsigned i = 0; i < m->n; i++) {
		size_t n;

		if (tok[i] < 0 || json_is_null(&m->p[i].d, tok[i]) ||
		    json_get_str(&m->p[i].d, tok[i], s, sizeof(s), &n) < 0)
			continue;
		snprintf(line, sizeof(line), "shard %u: %s", i, s);
		jw_cstr(w, line);
		return;
	}
	jw_null(w);
}

static void fn_shard(struct merge *m, struct jw *w, const int *tok)
{
	const struct json_doc *d0 = &m->p[0].d;
	int sa = json_find(d0, tok[0], "start_at");
	int64_t fu = 0;

	for (unsigned i = 0; i < m->n; i++)
		if (m->p[i].files_unix > fu)
			fu = m->p[i].files_unix;
	jw_obj_begin(w);
	jw_kv_u64(w, "index", 0);
	jw_kv_u64(w, "count", 1);
	jw_kv_cstr(w, "test", m->p[0].test);
	jw_key(w, "start_at");
	if (sa >= 0)
		raw(w, d0, sa);
	else
		jw_null(w);
	jw_kv_i64(w, "t0_unix_ns", MIN_OF(m, t0));
	jw_kv_i64(w, "organizer_start_unix_ns", MIN_OF(m, org_start));
	jw_kv_i64(w, "participants_start_unix_ns", MIN_OF(m, part_start));
	jw_kv_i64(w, "end_unix_ns", max_end(m));
	jw_kv_i64(w, "files_unix", fu);
	jw_obj_end(w);
}

static void fn_hists(struct merge *m, struct jw *w, const int *tok)
{
	(void)tok;
	jw_obj_begin(w);
	for (int k = 0; k < NH; k++) {
		jw_key(w, hist_names[k]);
		histjson_write(w, &m->h[k]);
	}
	jw_obj_end(w);
}

/* The shards' verdicts: one when they agree, else each named. */
static void fn_verdict(struct merge *m, struct jw *w, const int *tok)
{
	size_t cap = m->n * 540 + 16, o = 0;
	char *out = malloc(cap), v[512], v0[512];
	int same = 1;

	if (!out) {
		jw_cstr(w, "");
		return;
	}
	v0[0] = 0;
	for (unsigned i = 0; i < m->n; i++) {
		size_t n;

		if (tok[i] < 0 || json_get_str(&m->p[i].d, tok[i], v, sizeof(v),
					       &n) < 0)
			snprintf(v, sizeof(v), "none");
		if (i == 0)
			snprintf(v0, sizeof(v0), "%s", v);
		else if (strcmp(v, v0))
			same = 0;
		o += (size_t)snprintf(out + o, cap - o, "%sshard %u: %s",
				      i ? "; " : "", i, v);
	}
	jw_cstr(w, same ? v0 : out);
	free(out);
}

/* serve's /stats as the shard that ended last saw it: one server. */
static void fn_server(struct merge *m, struct jw *w, const int *tok)
{
	unsigned best = 0;

	for (unsigned i = 1; i < m->n; i++)
		if (m->p[i].end > m->p[best].end)
			best = i;
	if (tok[best] < 0) {
		jw_null(w);
		return;
	}
	raw(w, &m->p[best].d, tok[best]);
}

/* The cross-check of the whole test: serve's count from the earliest
 * shard's start to the latest shard's end against the merged sent. */
static void fn_cross(struct merge *m, struct jw *w, const int *tok)
{
	int64_t s0 = INT64_MAX, s1 = -1;

	(void)tok;
	for (unsigned i = 0; i < m->n; i++) {
		if (m->p[i].srv_start >= 0 && m->p[i].srv_start < s0)
			s0 = m->p[i].srv_start;
		if (m->p[i].srv_end > s1)
			s1 = m->p[i].srv_end;
	}
	if (s1 < 0) {
		jw_null(w);
		return;
	}
	jw_obj_begin(w);
	jw_kv_u64(w, "sent", m->sent);
	jw_kv_u64(w, "replies_sent", m->replies_sent); /* serve counts them */
	jw_key(w, "server_received");
	if (s0 != INT64_MAX && s1 >= s0)
		jw_i64(w, s1 - s0);
	else
		jw_null(w);
	jw_key(w, "server_received_start");
	if (s0 != INT64_MAX)
		jw_i64(w, s0);
	else
		jw_null(w);
	jw_kv_i64(w, "server_received_end", s1);
	jw_key(w, "passed");
	if (s0 != INT64_MAX)
		jw_bool(w, s1 >= s0 &&
			(uint64_t)(s1 - s0) == m->sent + m->replies_sent);
	else
		jw_null(w);
	jw_obj_end(w);
}

static double quantile_ms(const struct hist *h, double q)
{
	return (double)hist_quantile(h, q) / 1000.0;
}

/* The value of a threshold's metric on the merged result and the samples
 * it stands on (see run_metric). */
static uint64_t metric(const struct merge *m, const struct threshold *t,
		       double *v)
{
	static const double qs[] = { 0.5, 0.9, 0.99, 0.999, 1.0 };
	double secs = (double)(max_end(m) - MIN_OF((struct merge *)m,
						    part_start)) / 1e9;

	if (t->metric < M_NLATENCY) {
		static const int hk[] = { H_LAT, H_ACT, H_LAG, H_ARR, H_TTC,
					  H_REPLY, H_REJOIN };
		const struct hist *h = &m->h[hk[t->metric / 5]];

		*v = quantile_ms(h, qs[t->metric % 5]);
		return h->count;
	}
	switch (t->metric) {
	case M_DELIVERED_RATIO:
		*v = m->sent ? (double)m->delivered / (double)m->sent : 0;
		return m->sent;
	case M_SENT: *v = (double)m->sent; return 1;
	case M_DELIVERED: *v = (double)m->delivered; return 1;
	case M_ORG_RECEIVED: *v = (double)m->org_received; return 1;
	case M_ERRORS: *v = (double)m->errors; return 1;
	case M_CHATS: *v = (double)m->chats; return 1;
	case M_PARTICIPANTS: *v = (double)m->created; return 1;
	case M_MSGS_PER_S:
		*v = secs > 0 ? (double)m->sent / secs : 0;
		return secs > 0 ? m->sent : 0;
	case M_IN_FLIGHT: *v = (double)m->in_flight; return 1;
	case M_LOST: *v = (double)m->lost; return 1;
	case M_REPLIES_SENT: *v = (double)m->replies_sent; return 1;
	case M_REPLIES_RECEIVED: *v = (double)m->replies_received; return 1;
	case M_CHATS_CLOSED: *v = (double)m->chats_closed; return 1;
	case M_CHATS_REOPENED: *v = (double)m->chats_reopened; return 1;
	case M_RECONNECTS: *v = (double)m->rejoined; return 1;
	case M_HISTORY_MISSING: *v = (double)m->hist_missing; return 1;
	case M_HISTORY_TRUNCATED: *v = (double)m->hist_truncated; return 1;
	case M_HISTORY_DUPLICATED: *v = (double)m->hist_duplicated; return 1;
	case M_DEVICE_COPIES_MISSING: *v = (double)m->copies_missing; return 1;
	case M_REPLIES_MISSED: *v = (double)m->replies_missed; return 1;
	default: *v = 0; return 0; /* cpu_percent: per machine */
	}
}

/* merge's own --threshold, judged on the merged figures. */
static void fn_thresholds(struct merge *m, struct jw *w, const int *tok)
{
	(void)tok;
	jw_arr_begin(w);
	for (unsigned i = 0; i < m->nth; i++) {
		struct threshold *t = &m->th[i];
		double v;
		uint64_t n = metric(m, t, &v);

		if (t->metric == M_CPU) {
			t->passed = 0;
			t->no_data = "CPU is per machine: judge each shard";
		} else {
			threshold_apply(t, v, n);
		}
		m->th_failed += !t->passed;
		jw_obj_begin(w);
		jw_kv_cstr(w, "expr", t->expr);
		jw_kv_cstr(w, "metric", threshold_metric(t));
		jw_key(w, "measured");
		if (t->no_data)
			jw_null(w);
		else
			jw_f64(w, t->measured);
		jw_key(w, "passed");
		jw_bool(w, t->passed);
		if (t->no_data) {
			char why[96];

			snprintf(why, sizeof(why), "no samples (%s)", t->no_data);
			jw_kv_cstr(w, "why", why);
		}
		jw_obj_end(w);
	}
	jw_arr_end(w);
}

static const struct rule rules[] = {
	{ "constants", OP_COPY, 0, NULL },
	{ "description", OP_COPY, 0, NULL },
	{ "organizer_time_started", OP_TIME,
	  offsetof(struct part, org_start), NULL },
	{ "organizer_duration", OP_SPAN,
	  offsetof(struct part, org_start), NULL },
	{ "participants_time_started", OP_TIME,
	  offsetof(struct part, part_start), NULL },
	{ "participants_duration", OP_SPAN,
	  offsetof(struct part, part_start), NULL },
	{ "esmeload.accounted", OP_SPECIAL, 0, fn_accounted },
	{ "esmeload.delivery_ratio", OP_SPECIAL, 0, fn_ratio },
	{ "esmeload.organizers", OP_CONCAT, 0, NULL },
	{ "esmeload.replies.in_flight", OP_SPECIAL, 0, fn_reply_flight },
	{ "esmeload.replies.latency_ms", OP_QUANT, H_REPLY, NULL },
	{ "esmeload.chats.active", OP_SPECIAL, 0, fn_chats_active },
	{ "esmeload.chats.accounted", OP_SPECIAL, 0, fn_chats_accounted },
	{ "esmeload.reconnects.back_in_chat_ms", OP_QUANT, H_REJOIN, NULL },
	{ "esmeload.reconnects.history.passed", OP_SPECIAL, 0,
	  fn_history_passed },
	{ "esmeload.devices.participant", OP_COPY, 0, NULL },
	{ "esmeload.devices.organizer", OP_COPY, 0, NULL },
	{ "esmeload.max_conns", OP_COPY, 0, NULL },
	{ "esmeload.scenario", OP_COPY, 0, NULL },
	{ "esmeload.latency_ms", OP_QUANT, H_LAT, NULL },
	{ "esmeload.latency_actual_ms", OP_QUANT, H_ACT, NULL },
	{ "esmeload.lag_ms", OP_QUANT, H_LAG, NULL },
	{ "esmeload.arrival_lag_ms", OP_QUANT, H_ARR, NULL },
	{ "esmeload.time_to_chat_ms", OP_QUANT, H_TTC, NULL },
	{ "esmeload.phases_ms.sign_up", OP_QUANT, H_SIGNUP, NULL },
	{ "esmeload.phases_ms.chat_request", OP_QUANT, H_REQUEST, NULL },
	{ "esmeload.phases_ms.connect", OP_QUANT, H_CONNECT, NULL },
	{ "esmeload.arrivals.backlog_max", OP_MAX, 0, NULL },
	{ "esmeload.timer.tick_us", OP_COPY, 0, NULL },
	{ "esmeload.timer.slack_us", OP_COPY, 0, NULL },
	{ "esmeload.timer.wake_grain_us", OP_COPY, 0, NULL },
	{ "esmeload.timer.late_ms", OP_QUANT, H_TIMER, NULL },
	{ "esmeload.timer.latency_resolution_ms", OP_P50, H_TIMER, NULL },
	{ "esmeload.stop_reason", OP_SPECIAL, 0, fn_stop },
	{ "esmeload.first_error", OP_SPECIAL, 0, fn_first_error },
	{ "esmeload.shard", OP_SPECIAL, 0, fn_shard },
	{ "esmeload.histograms", OP_SPECIAL, 0, fn_hists },
	{ "esmeload.self_check.ring", OP_COPY, 0, NULL },
	{ "esmeload.self_check.uring_features", OP_COPY, 0, NULL },
	{ "esmeload.self_check.send", OP_COPY, 0, NULL },
	{ "esmeload.self_check.lag_bound_ms", OP_COPY, 0, NULL },
	{ "esmeload.self_check.cpu_busiest_percent", OP_MAX, 0, NULL },
	{ "esmeload.self_check.seconds", OP_MAX, 0, NULL },
	{ "esmeload.self_check.seconds_at_cpu_limit", OP_MAX, 0, NULL },
	{ "esmeload.self_check.cpu_wait_max_percent", OP_MAX, 0, NULL },
	{ "esmeload.self_check.stalled_s", OP_MAX, 0, NULL },
	{ "esmeload.self_check.lag_p99_ms", OP_P99, H_LAG, NULL },
	{ "esmeload.self_check.verdict", OP_SPECIAL, 0, fn_verdict },
	{ "esmeload.server", OP_SPECIAL, 0, fn_server },
	{ "esmeload.cross_check", OP_SPECIAL, 0, fn_cross },
	{ "esmeload.thresholds", OP_SPECIAL, 0, fn_thresholds },
};

static const struct rule *rule_of(const char *path)
{
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		if (!strcmp(rules[i].path, path))
			return &rules[i];
	return NULL;
}


static int is_int(const struct json_doc *d, int t)
{
	for (int k = d->tok[t].start; k < d->tok[t].end; k++)
		if (d->js[k] == '.' || d->js[k] == 'e' || d->js[k] == 'E')
			return 0;
	return 1;
}

/* Numbers: the sum, or with max the largest; integers stay integers. */
static void numbers(struct merge *m, struct jw *w, const int *tok, int max)
{
	int ints = 1;
	int64_t si = 0;
	double sd = 0;
	int any = 0;

	for (unsigned i = 0; i < m->n; i++)
		if (tok[i] >= 0 && json_type(&m->p[i].d, tok[i]) == JSMN_PRIMITIVE &&
		    !json_is_null(&m->p[i].d, tok[i]))
			ints &= is_int(&m->p[i].d, tok[i]);
	for (unsigned i = 0; i < m->n; i++) {
		int64_t x;
		double y;

		if (tok[i] < 0 || json_is_null(&m->p[i].d, tok[i]))
			continue;
		if (ints && json_get_i64(&m->p[i].d, tok[i], &x) == 0) {
			si = max ? (!any || x > si ? x : si) : si + x;
		} else if (json_get_f64(&m->p[i].d, tok[i], &y) == 0) {
			ints = 0;
			sd = max ? (!any || y > sd ? y : sd) : sd + y;
		}
		any = 1;
	}
	if (ints)
		jw_i64(w, si);
	else
		jw_f64(w, sd + (double)si);
}

static void walk(struct merge *m, struct jw *w, const char *path,
		 const int *tok);

static void object(struct merge *m, struct jw *w, const char *path,
		   const int *tok)
{
	const struct json_doc *d0 = &m->p[0].d;
	int *sub = malloc(m->n * sizeof(*sub));
	char key[128], child[512];
	int k = tok[0] + 1;

	if (!sub) {
		jw_null(w);
		return;
	}
	jw_obj_begin(w);
	for (int i = 0; i < d0->tok[tok[0]].size; i++) {
		size_t kn;

		if (json_get_str(d0, k, key, sizeof(key), &kn) < 0) {
			k = json_next(d0, k + 1); /* no key of ours is that long */
			continue;
		}
		snprintf(child, sizeof(child), "%s%s%s", path, *path ? "." : "",
			 key);
		for (unsigned s = 0; s < m->n; s++)
			sub[s] = tok[s] >= 0 && json_type(&m->p[s].d, tok[s]) ==
				 JSMN_OBJECT ? json_find(&m->p[s].d, tok[s], key) : -1;
		jw_key(w, key);
		walk(m, w, child, sub);
		k = json_next(d0, k + 1);
	}
	if (!strcmp(path, "esmeload")) {
		/* what the merge was made of */
		jw_key(w, "merged");
		jw_obj_begin(w);
		jw_kv_u64(w, "shards", m->n);
		jw_key(w, "parts");
		jw_arr_begin(w);
		for (unsigned s = 0; s < m->n; s++) {
			const struct part *p = &m->p[s];
			const struct json_doc *d = &p->d;
			int sc = json_find(d, p->es, "self_check");
			int er = json_find(d, p->es, "errors"), t;
			char buf[512];
			int64_t v;
			uint64_t errs = 0;

			jw_obj_begin(w);
			jw_kv_u64(w, "index", p->index);
			jw_kv_cstr(w, "file", p->path);
			jw_kv_i64(w, "sent", i64_at(d, p->es, "sent", &v) ? 0 : v);
			jw_kv_i64(w, "delivered",
				  i64_at(d, p->es, "delivered", &v) ? 0 : v);
			jw_kv_i64(w, "participants",
				  i64_at(d, 0, "created_participants_count", &v) ? 0 : v);
			jw_kv_i64(w, "chats", i64_at(d, 0, "chats_count", &v) ? 0 : v);
			for (int e = 0, c = er >= 0 ? d->tok[er].size : 0,
			     x = er + 1; e < c; e++, x = json_next(d, x + 1))
				if (json_get_i64(d, x + 1, &v) == 0)
					errs += (uint64_t)v;
			jw_kv_u64(w, "errors", errs);
			t = json_find(d, p->es, "stop_reason");
			jw_kv_cstr(w, "stop_reason", t >= 0 &&
				   json_get_str(d, t, buf, sizeof(buf), NULL) == 0 ?
				   buf : "");
			t = sc >= 0 ? json_find(d, sc, "verdict") : -1;
			jw_kv_cstr(w, "verdict", t >= 0 &&
				   json_get_str(d, t, buf, sizeof(buf), NULL) == 0 ?
				   buf : "");
			jw_key(w, "latency_p99_ms");
			jw_f64(w, quantile_ms(&p->h[H_LAT], 0.99));
			jw_obj_end(w);
		}
		jw_arr_end(w);
		jw_obj_end(w);
	}
	jw_obj_end(w);
	free(sub);
}

static void walk(struct merge *m, struct jw *w, const char *path,
		 const int *tok)
{
	const struct rule *r = rule_of(path);
	const struct json_doc *d0 = &m->p[0].d;
	jsmntype_t ty = tok[0] >= 0 ? json_type(d0, tok[0]) : JSMN_UNDEFINED;

	if (r) {
		switch (r->op) {
		case OP_COPY:
			if (tok[0] >= 0)
				raw(w, d0, tok[0]);
			else
				jw_null(w);
			return;
		case OP_MAX:
			numbers(m, w, tok, 1);
			return;
		case OP_QUANT:
			run_jw_quantiles(w, &m->h[r->arg]);
			return;
		case OP_P50:
			jw_f64(w, quantile_ms(&m->h[r->arg], 0.5));
			return;
		case OP_P99:
			jw_f64(w, quantile_ms(&m->h[r->arg], 0.99));
			return;
		case OP_TIME:
			run_jw_time(w, min_of(m, r->arg));
			return;
		case OP_SPAN:
			run_jw_span(w, min_of(m, r->arg), max_end(m));
			return;
		case OP_CONCAT:
			jw_arr_begin(w);
			for (unsigned s = 0; s < m->n; s++) {
				const struct json_doc *d = &m->p[s].d;
				int t = tok[s];

				if (t < 0 || json_type(d, t) != JSMN_ARRAY)
					continue;
				for (int i = 0, x = t + 1; i < d->tok[t].size;
				     i++, x = json_next(d, x))
					raw(w, d, x);
			}
			jw_arr_end(w);
			return;
		case OP_SPECIAL:
			r->fn(m, w, tok);
			return;
		case OP_DEFAULT:
			break;
		}
	}
	if (tok[0] < 0) {
		jw_null(w);
		return;
	}
	if (ty == JSMN_OBJECT) {
		object(m, w, path, tok);
	} else if (ty == JSMN_PRIMITIVE && !json_is_null(d0, tok[0])) {
		char c = d0->js[d0->tok[tok[0]].start];

		if (c == 't' || c == 'f') {
			int any = 0, b;

			for (unsigned s = 0; s < m->n; s++)
				if (tok[s] >= 0 &&
				    json_get_bool(&m->p[s].d, tok[s], &b) == 0)
					any |= b;
			jw_bool(w, any);
		} else {
			numbers(m, w, tok, 0);
		}
	} else if (ty == JSMN_PRIMITIVE) {
		/* null: the first shard that has a value */
		for (unsigned s = 0; s < m->n; s++)
			if (tok[s] >= 0 && !json_is_null(&m->p[s].d, tok[s])) {
				raw(w, &m->p[s].d, tok[s]);
				return;
			}
		jw_null(w);
	} else {
		raw(w, d0, tok[0]);
	}
}

static uint64_t sum_key(const struct merge *m, int top, const char *key)
{
	uint64_t s = 0;

	for (unsigned i = 0; i < m->n; i++) {
		const struct part *p = &m->p[i];
		int64_t v;

		if (i64_at(&p->d, top ? 0 : p->es, key, &v) == 0 && v > 0)
			s += (uint64_t)v;
	}
	return s;
}

/* The sum over the shards of esmeload.<obj>[.<sub>].<key>, where the
 * shard has that object (null: the option was off). */
static uint64_t sum_in(const struct merge *m, const char *obj,
		       const char *sub, const char *key)
{
	uint64_t s = 0;

	for (unsigned i = 0; i < m->n; i++) {
		const struct part *p = &m->p[i];
		int o = json_find(&p->d, p->es, obj);
		int64_t v;

		if (o >= 0 && sub && json_type(&p->d, o) == JSMN_OBJECT)
			o = json_find(&p->d, o, sub);
		if (o >= 0 && json_type(&p->d, o) == JSMN_OBJECT &&
		    i64_at(&p->d, o, key, &v) == 0 && v > 0)
			s += (uint64_t)v;
	}
	return s;
}

static void totals(struct merge *m)
{
	uint64_t want, got;

	m->sent = sum_key(m, 0, "sent");
	m->delivered = sum_key(m, 0, "delivered");
	m->in_flight = sum_key(m, 0, "in_flight");
	m->lost = sum_key(m, 0, "lost");
	m->org_received = sum_key(m, 0, "organizer_received");
	m->created = sum_key(m, 1, "created_participants_count");
	m->chats = sum_key(m, 1, "chats_count");
	m->replies_sent = sum_in(m, "replies", NULL, "sent");
	m->replies_received = sum_in(m, "replies", NULL, "received");
	m->replies_missed = sum_in(m, "replies", NULL, "missed");
	m->chats_opened = sum_in(m, "chats", NULL, "opened");
	m->chats_closed = sum_in(m, "chats", NULL, "closed");
	m->chats_reopened = sum_in(m, "chats", NULL, "reopened");
	m->rejoined = sum_in(m, "reconnects", NULL, "rejoined");
	m->hist_checks = sum_in(m, "reconnects", "history", "checks");
	m->hist_missing = sum_in(m, "reconnects", "history", "missing");
	m->hist_duplicated = sum_in(m, "reconnects", "history", "duplicated");
	m->hist_unexpected = sum_in(m, "reconnects", "history", "unexpected");
	m->hist_truncated = sum_in(m, "reconnects", "history", "truncated");
	want = sum_in(m, "devices", NULL, "copies_expected") +
	       sum_in(m, "devices", NULL, "organizer_copies_expected");
	got = sum_in(m, "devices", NULL, "copies_received") +
	      sum_in(m, "devices", NULL, "organizer_copies_received");
	m->copies_missing = want > got ? want - got : 0;
	m->errors = 0;
	for (unsigned i = 0; i < m->n; i++) {
		const struct json_doc *d = &m->p[i].d;
		int er = json_find(d, m->p[i].es, "errors");
		int64_t v;

		for (int e = 0, x = er + 1; er >= 0 && e < d->tok[er].size;
		     e++, x = json_next(d, x + 1))
			if (json_get_i64(d, x + 1, &v) == 0 && v > 0)
				m->errors += (uint64_t)v;
	}
	for (int k = 0; k < NH; k++) {
		hist_reset(&m->h[k]);
		for (unsigned i = 0; i < m->n; i++)
			hist_merge(&m->h[k], &m->p[i].h[k]);
	}
}

/* The merged summary, compact; its length or < 0. */
static long summary(struct merge *m, char *buf, size_t cap)
{
	int *tok = malloc(m->n * sizeof(*tok));
	struct jw w;
	long n;

	if (!tok)
		return -ENOMEM;
	for (unsigned i = 0; i < m->n; i++)
		tok[i] = 0;
	jw_init(&w, buf, cap);
	walk(m, &w, "", tok);
	n = jw_finish(&w);
	free(tok);
	return n;
}

/* ---- message rates: sums per Unix second ---- */

struct rate {
	int64_t s;
	uint64_t n;
};

static int rate_cmp(const void *a, const void *b)
{
	const struct rate *x = a, *y = b;

	return x->s < y->s ? -1 : x->s > y->s;
}

static int write_rates(struct merge *m, FILE *f)
{
	size_t n = 0, cap = 0, o = 0;
	struct rate *v = NULL;

	for (unsigned i = 0; i < m->n; i++) {
		const struct json_doc *d = &m->p[i].rd;

		for (int k = 0, x = 1; k < d->tok[0].size; k++, x = json_next(d, x + 1)) {
			char key[32];
			int64_t c;
			char *end;

			if (n == cap) {
				struct rate *nv;

				cap = cap ? cap * 2 : 1024;
				nv = realloc(v, cap * sizeof(*v));
				if (!nv) {
					free(v);
					return -ENOMEM;
				}
				v = nv;
			}
			if (json_get_str(d, x, key, sizeof(key), NULL) < 0 ||
			    json_get_i64(d, x + 1, &c) < 0 || c < 0) {
				free(v);
				return -EINVAL;
			}
			v[n].s = strtoll(key, &end, 10);
			if (*end) {
				free(v);
				return -EINVAL;
			}
			v[n++].n = (uint64_t)c;
		}
	}
	qsort(v, n, sizeof(*v), rate_cmp);
	fputc('{', f);
	for (size_t i = 0; i < n; i = o) {
		uint64_t sum = 0;

		for (o = i; o < n && v[o].s == v[i].s; o++)
			sum += v[o].n;
		fprintf(f, "%s\n  \"%lld\": %llu", i ? "," : "",
			(long long)v[i].s, (unsigned long long)sum);
	}
	fputs(n ? "\n}" : "}", f);
	free(v);
	return 0;
}

/* ---- the time series: lines added up per Unix second ---- */

struct line {
	int64_t t;
	unsigned shard;
	const char *p;
	size_t n;
};

static int line_cmp(const void *a, const void *b)
{
	const struct line *x = a, *y = b;

	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	if (x->shard != y->shard)
		return x->shard < y->shard ? -1 : 1;
	return x->p < y->p ? -1 : x->p > y->p;
}

/*
 * The keys of a line, in three tables: running totals (per shard, the
 * last value carried forward), the second's counts and the second's
 * histograms with the key of their percentiles. Each table's keys from
 * G_OPT, C_OPT, S_OPT on are the opt-in behaviours' (series.c
 * behaviours_json): a line has them only when its run had the behaviour
 * on, and a merged line only when one of its second's lines has them.
 * replies_in_flight is not summed: a shard's is its organizers' replies
 * less what its own participants read or missed, and organizers answer
 * other shards' participants; the merged line's is the test's, made of
 * the merged counts so far, as the summary's is.
 */
enum { G_CREATED, G_CONNECTED, G_CHATS,
       G_OPT, G_REPLY_FLIGHT = G_OPT, G_CHATS_ACTIVE, G_COPIES_MISSING, NG };
static const char *const gauge_names[NG] = {
	"participants_created", "participants_connected", "chats",
	"replies_in_flight", "chats_active", "device_copies_missing",
};
enum { C_SENT, C_DELIVERED, C_ORG, C_ERRORS, C_ARRIVALS,
       C_OPT, C_REPLIES_SENT = C_OPT, C_REPLIES_RECEIVED, C_REPLIES_MISSED,
       C_CLOSED,
       C_REOPENED, C_REFUSED, C_DROPS_TESTER, C_DROPS_SERVER, C_RECONNECTS,
       C_HIST_MISSING, C_HIST_DUPLICATED, C_HIST_TRUNCATED, NC };
static const char *const count_names[NC] = {
	"sent", "delivered", "organizer_received", "errors", "arrivals",
	"replies_sent", "replies_received", "replies_missed", "chats_closed",
	"chats_reopened",
	"refused_after_close", "drops_tester", "drops_server", "reconnects",
	"history_missing", "history_duplicated", "history_truncated",
};
enum { S_LAT, S_ACT, S_LAG, S_ARR, S_TTC,
       S_OPT, S_REPLY = S_OPT, S_REJOIN, NS };
static const char *const series_hists[NS] = {
	"latency", "latency_actual", "lag", "arrival_lag", "time_to_chat",
	"reply_latency", "rejoin",
};
static const char *const series_keys[NS] = {
	"latency_ms", "latency_actual_ms", "lag_ms", "arrival_lag_ms",
	"time_to_chat_ms", "reply_p99_ms", "rejoin_p99_ms",
};
/* The behaviours' keys in a run's order: a count, a running total or a
 * p99 (null without samples), and its index in that table. */
enum { K_COUNT, K_GAUGE, K_P99 };
static const struct { unsigned char kind, k; } opt_keys[] = {
	{ K_COUNT, C_REPLIES_SENT }, { K_COUNT, C_REPLIES_RECEIVED },
	{ K_COUNT, C_REPLIES_MISSED }, { K_P99, S_REPLY },
	{ K_GAUGE, G_REPLY_FLIGHT },
	{ K_COUNT, C_CLOSED }, { K_COUNT, C_REOPENED }, { K_COUNT, C_REFUSED },
	{ K_GAUGE, G_CHATS_ACTIVE },
	{ K_COUNT, C_DROPS_TESTER }, { K_COUNT, C_DROPS_SERVER },
	{ K_COUNT, C_RECONNECTS }, { K_P99, S_REJOIN },
	{ K_COUNT, C_HIST_MISSING }, { K_COUNT, C_HIST_DUPLICATED },
	{ K_COUNT, C_HIST_TRUNCATED },
	{ K_GAUGE, G_COPIES_MISSING },
};

/* Cut every shard's series into lines, sorted by second and shard. Lines
 * that do not parse (a last line a kill cut short) are left out, as the
 * report leaves them. */
static int collect_lines(struct merge *m, struct line **out, size_t *nout)
{
	size_t n = 0, cap = 0;
	struct line *v = NULL;

	for (unsigned i = 0; i < m->n; i++) {
		const char *s = m->p[i].series, *e = s + m->p[i].series_n;

		while (s < e) {
			const char *nl = memchr(s, '\n', (size_t)(e - s));
			size_t len = nl ? (size_t)(nl - s) : (size_t)(e - s);
			int64_t t;

			/* every line starts with its second: {"t":<unix>, */
			if (len < 6 || memcmp(s, "{\"t\":", 5) ||
			    (t = strtoll(s + 5, NULL, 10)) <= 0) {
				s += len + 1;
				continue;
			}
			if (n == cap) {
				struct line *nv;

				cap = cap ? cap * 2 : 1024;
				nv = realloc(v, cap * sizeof(*v));
				if (!nv) {
					free(v);
					return -ENOMEM;
				}
				v = nv;
			}
			v[n++] = (struct line){ t, i, s, len };
			s += len + 1;
		}
	}
	qsort(v, n, sizeof(*v), line_cmp);
	*out = v;
	*nout = n;
	return 0;
}

/* A running total over the shards: each one's last value. */
static uint64_t gauge_sum(const uint64_t *gauge, unsigned n, int k)
{
	uint64_t g = 0;

	for (unsigned s = 0; s < n; s++)
		g += gauge[s * NG + k];
	return g;
}

static int write_series(struct merge *m, FILE *f)
{
	struct line *v;
	size_t n, cap = 4096;
	uint64_t *gauge = calloc((size_t)m->n * NG, sizeof(uint64_t));
	jsmntok_t *tk = malloc(cap * sizeof(*tk));
	char *buf = malloc(64 * 1024);
	int64_t t0 = MIN_OF(m, t0);
	uint64_t rsent = 0, rdone = 0; /* replies so far: sent, read or missed */
	int e;

	if (!gauge || !tk || !buf || (e = collect_lines(m, &v, &n)) < 0) {
		free(gauge);
		free(tk);
		free(buf);
		return -ENOMEM;
	}
	for (size_t i = 0, j; i < n; i = j) {
		uint64_t cnt[NC] = { 0 }, kinds[RE_COUNT] = { 0 };
		unsigned has[3] = { 0 }; /* by kind, 1 << k: a line has key k */
		struct hist h[NS], one;
		double cpu = 0;
		struct jw w;
		long len;

		for (int k = 0; k < NS; k++)
			hist_reset(&h[k]);
		for (j = i; j < n && v[j].t == v[i].t; j++) {
			struct json_doc d;
			int64_t x;
			double y;

			int pr;

			while ((pr = json_parse(&d, v[j].p, v[j].n, tk,
						(unsigned)cap)) == -ENOSPC) {
				jsmntok_t *nt = realloc(tk, cap * 2 * sizeof(*tk));

				if (!nt) {
					e = -ENOMEM;
					goto out;
				}
				tk = nt;
				cap *= 2;
			}
			if (pr < 0 || json_type(&d, 0) != JSMN_OBJECT)
				continue;
			/* one pass over the line's keys: json_find would walk
			 * its histograms again for each one */
			for (int q = 0, kt = 1; q < d.tok[0].size; q++,
			     kt = json_next(&d, kt + 1)) {
				int val = kt + 1, k;

				for (k = 0; k < NC; k++)
					if (json_str_eq(&d, kt, count_names[k]))
						break;
				if (k < NC) {
					has[K_COUNT] |= 1u << k;
					if (json_get_i64(&d, val, &x) == 0 && x > 0)
						cnt[k] += (uint64_t)x;
					continue;
				}
				for (k = 0; k < NG; k++)
					if (json_str_eq(&d, kt, gauge_names[k]))
						break;
				if (k < NG) {
					has[K_GAUGE] |= 1u << k;
					if (json_get_i64(&d, val, &x) == 0 && x >= 0)
						gauge[v[j].shard * NG + k] = (uint64_t)x;
					continue;
				}
				/* the percentiles come from the histograms */
				for (k = 0; k < NS; k++)
					if (json_str_eq(&d, kt, series_keys[k]))
						break;
				if (k < NS) {
					has[K_P99] |= 1u << k;
					continue;
				}
				if (json_str_eq(&d, kt, "error_kinds")) {
					for (k = 0; k < RE_COUNT; k++)
						if (i64_at(&d, val, run_err_names[k], &x) == 0 &&
						    x > 0)
							kinds[k] += (uint64_t)x;
				} else if (json_str_eq(&d, kt, "cpu_percent")) {
					if (json_get_f64(&d, val, &y) == 0)
						cpu += y;
				} else if (json_str_eq(&d, kt, "histograms") &&
					   json_type(&d, val) == JSMN_OBJECT) {
					for (int hq = 0, ht = val + 1; hq < d.tok[val].size;
					     hq++, ht = json_next(&d, ht + 1))
						for (k = 0; k < NS; k++)
							if (json_str_eq(&d, ht, series_hists[k]) &&
							    histjson_read(&d, ht + 1, &one) == 0)
								hist_merge(&h[k], &one);
				}
			}
		}
		jw_init(&w, buf, 64 * 1024 - 1);
		jw_obj_begin(&w);
		jw_kv_i64(&w, "t", v[i].t);
		jw_key(&w, "elapsed_s");
		jw_f64(&w, (double)((v[i].t * 1000000000 - t0) / 1000000) / 1000.0);
		for (int k = 0; k < C_ERRORS; k++)
			jw_kv_u64(&w, count_names[k], cnt[k]);
		for (int k = 0; k < G_OPT; k++)
			jw_kv_u64(&w, gauge_names[k], gauge_sum(gauge, m->n, k));
		jw_kv_u64(&w, count_names[C_ERRORS], cnt[C_ERRORS]);
		jw_key(&w, "error_kinds");
		jw_obj_begin(&w);
		for (int k = 0; k < RE_COUNT; k++)
			if (kinds[k])
				jw_kv_u64(&w, run_err_names[k], kinds[k]);
		jw_obj_end(&w);
		run_jw_ms3(&w, series_keys[S_LAT], &h[S_LAT], 1);
		run_jw_ms3(&w, series_keys[S_ACT], &h[S_ACT], 1);
		run_jw_ms3(&w, series_keys[S_LAG], &h[S_LAG], 0);
		jw_kv_u64(&w, "arrivals", cnt[C_ARRIVALS]);
		run_jw_ms3(&w, series_keys[S_ARR], &h[S_ARR], 1);
		run_jw_ms3(&w, series_keys[S_TTC], &h[S_TTC], 1);
		jw_key(&w, "cpu_percent");
		jw_f64(&w, (double)(int64_t)(cpu * 10) / 10.0);
		rsent += cnt[C_REPLIES_SENT];
		rdone += cnt[C_REPLIES_RECEIVED] + cnt[C_REPLIES_MISSED];
		for (size_t q = 0; q < sizeof(opt_keys) / sizeof(opt_keys[0]); q++) {
			int k = opt_keys[q].k;

			if (!(has[opt_keys[q].kind] & 1u << k))
				continue;
			if (opt_keys[q].kind == K_COUNT)
				jw_kv_u64(&w, count_names[k], cnt[k]);
			else if (opt_keys[q].kind == K_GAUGE &&
				 k == G_REPLY_FLIGHT)
				jw_kv_u64(&w, gauge_names[k],
					  rsent > rdone ? rsent - rdone : 0);
			else if (opt_keys[q].kind == K_GAUGE)
				jw_kv_u64(&w, gauge_names[k],
					  gauge_sum(gauge, m->n, k));
			else
				run_jw_p99(&w, series_keys[k], &h[k]);
		}
		jw_obj_end(&w);
		len = jw_finish(&w);
		if (len > 0) {
			fwrite(buf, 1, (size_t)len, f);
			fputc('\n', f);
		}
	}
	e = 0;
out:
	free(v);
	free(gauge);
	free(tk);
	free(buf);
	return e;
}

/* ---- the command ---- */

static const char usage[] =
"usage: esmeload merge [options] SHARD...\n"
"\n"
"The files of the shards of one test (esmeload run --shard I/N) as one\n"
"result in the same formats: the summary (counts added up, every\n"
"percentile from the shards' histograms together, the cross-check on the\n"
"total), the message rates and the time series (added up per Unix\n"
"second). SHARD is a <unix>_shard-I-of-N_performance_test_summary.json\n"
"file or a directory of them; the rates and the time series are found\n"
"beside each summary. Every shard must be there once, all of one test;\n"
"otherwise nothing is written (exit code 2).\n"
"\n"
"  -o, --out-dir DIR         where the merged files go (default ., made if\n"
"                            missing), named\n"
"                            <unix>_merged-N_performance_test_... after the\n"
"                            last shard's <unix>\n"
"  --threshold EXPR          a condition the merged result must meet, as\n"
"                            run's (repeatable; any failed: exit code 99;\n"
"                            cpu_percent is per machine and fails here)\n"
"  --quiet                   print only the merged files' names\n"
"  -h, --help                this text\n";

static void free_parts(struct merge *m)
{
	for (unsigned i = 0; m->p && i < m->n; i++) {
		free(m->p[i].path);
		free(m->p[i].js);
		free(m->p[i].rates);
		free(m->p[i].series);
		free(m->p[i].tok);
		free(m->p[i].rtok);
	}
	free(m->p);
	free(m->th);
}

/* Write the three files beside each other, each renamed into place only
 * when all three are whole. */
static int write_all(struct merge *m, const char *dir, int quiet)
{
	char path[3][4200], tmp[3][4300];
	static const char *const what[3] = {
		"performance_test_summary.json",
		"performance_test_message_rates.json",
		"performance_test_timeseries.jsonl",
	};
	size_t cap = 1 << 20;
	int64_t fu = 0;
	char *js, *pretty;
	FILE *f[3] = { NULL, NULL, NULL };
	long n;
	size_t pn;
	int e = 0, k;

	for (unsigned i = 0; i < m->n; i++) {
		cap += m->p[i].n;
		if (m->p[i].files_unix > fu)
			fu = m->p[i].files_unix;
	}
	for (k = 0; k < 3; k++)
		if (snprintf(path[k], sizeof(path[k]), "%s/%lld_merged-%u_%s", dir,
			     (long long)fu, m->n, what[k]) >= (int)sizeof(path[k]))
			return fail("%s: directory name too long", dir);
	js = malloc(cap);
	if (!js)
		return fail("out of memory");
	n = summary(m, js, cap);
	if (n < 0) {
		free(js);
		return fail("the merged summary does not fit in %zu bytes", cap);
	}
	pretty = malloc(run_json_indent_room((size_t)n));
	if (!pretty) {
		free(js);
		return fail("out of memory");
	}
	pn = run_json_indent(pretty, js, (size_t)n);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		e = errno;
		free(js);
		free(pretty);
		return fail("cannot create %s: %s", dir, strerror(e));
	}
	for (k = 0; k < 3; k++) {
		f[k] = run_open_tmp(path[k], tmp[k], sizeof(tmp[k]));
		if (!f[k]) {
			e = -errno;
			break;
		}
	}
	if (!e) {
		fwrite(pretty, 1, pn, f[0]);
		e = write_rates(m, f[1]);
		if (!e)
			e = write_series(m, f[2]);
	}
	for (k = 0; k < 3; k++) {
		int c;

		if (!f[k])
			continue;
		c = run_close_tmp(f[k], tmp[k]);
		if (!e)
			e = c;
	}
	if (e) {
		for (k = 0; k < 3; k++)
			unlink(tmp[k]);
		free(js);
		free(pretty);
		return fail("cannot write into %s: %s", dir, strerror(-e));
	}
	for (k = 0; k < 3; k++)
		if (rename(tmp[k], path[k]) < 0) {
			e = errno;
			for (int j = 0; j < 3; j++)
				unlink(j < k ? path[j] : tmp[j]);
			free(js);
			free(pretty);
			return fail("cannot write %s: %s", path[k], strerror(e));
		}
	if (!quiet) {
		fwrite(pretty, 1, pn, stdout);
		fputc('\n', stdout);
	}
	printf("wrote %s, %s and %s\n", path[0], path[1], path[2]);
	free(js);
	free(pretty);
	return 0;
}

/* see run.h */
int merge_main(int argc, char **argv)
{
	struct rep_paths ps = { 0 };
	struct merge m = { 0 };
	const char *dir = ".";
	char err[512];
	int quiet = 0, rc = 0;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(usage, stdout);
			rep_paths_free(&ps);
			free(m.th);
			return 0;
		} else if (!strcmp(a, "--quiet")) {
			quiet = 1;
		} else if (!strcmp(a, "-o") || !strcmp(a, "--out-dir")) {
			if (++i >= argc) {
				rc = fail("%s needs a directory", a);
				goto out;
			}
			dir = argv[i];
		} else if (!strcmp(a, "--threshold")) {
			char why[160];

			if (++i >= argc) {
				rc = fail("--threshold needs an expression");
				goto out;
			}
			if (!m.th && !(m.th = calloc(32, sizeof(*m.th)))) {
				rc = fail("out of memory");
				goto out;
			}
			if (m.nth == 32) {
				rc = fail("more than 32 thresholds");
				goto out;
			}
			if (threshold_parse(&m.th[m.nth], argv[i], why,
					    sizeof(why)) < 0) {
				rc = fail("--threshold %s: %s", argv[i], why);
				goto out;
			}
			m.nth++;
		} else if (a[0] == '-' && a[1]) {
			rc = fail("unknown option %s (see esmeload merge --help)", a);
			goto out;
		}
	}
	/* the shards once the options (--help among them) are known */
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-o") || !strcmp(a, "--out-dir") ||
		    !strcmp(a, "--threshold")) {
			i++;
			continue;
		}
		if ((a[0] != '-' || !a[1]) &&
		    rep_paths_add(&ps, a, err, sizeof(err)) < 0) {
			rc = fail("%s", err);
			goto out;
		}
	}
	if (!ps.n) {
		fputs(usage, stderr);
		rc = fail("no shard files given");
		goto out;
	}
	m.p = calloc(ps.n, sizeof(*m.p));
	if (!m.p) {
		rc = fail("out of memory");
		goto out;
	}
	for (size_t i = 0; i < ps.n; i++) {
		m.p[m.n].path = ps.v[i];
		ps.v[i] = NULL;
		m.n++;
		if ((rc = load_part(&m.p[m.n - 1])) != 0)
			goto out;
	}
	if ((rc = check_parts(&m)) != 0)
		goto out;
	totals(&m);
	rc = write_all(&m, dir, quiet);
	if (!rc && m.th_failed) {
		fprintf(stderr, "esmeload merge: %d of %u thresholds failed\n",
			m.th_failed, m.nth);
		rc = 99;
	}
out:
	rep_paths_free(&ps);
	free_parts(&m);
	return rc;
}
