/*
 * report/load: the files of one run into a struct rep_run, and the list of
 * runs named on the command line. See src/report/report.h.
 */
#include "report/report.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hist.h"
#include "histjson.h"
#include "json.h"
#include "timefmt.h"

/* A .jsonl line has about 40 tokens (60 with the opt-in behaviours'
 * keys); a shard's line carries up to 7 histograms whole, each at most
 * 2 x 1728 bucket tokens and a few more. */
#define LINE_TOKENS 30000

static void seterr(char *err, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t cap, const char *fmt, ...)
{
	va_list ap;

	if (!cap)
		return;
	va_start(ap, fmt);
	vsnprintf(err, cap, fmt, ap);
	va_end(ap);
}

/* see report.h */
void rep_run_init(struct rep_run *r)
{
	double *nums[] = {
		&r->start_unix, &r->org_dur_s, &r->part_dur_s,
		&r->messages_sent, &r->chats_count, &r->participants,
		&r->sent, &r->delivered, &r->org_received, &r->delivery_ratio,
		&r->start_chats, &r->new_chats, &r->no_new_chats,
		&r->server_errors, &r->connected, &r->errors_total,
		&r->cpu_percent, &r->cq_overflows, &r->enobufs,
		&r->lag_p99_ms, &r->in_flight, &r->lost,
		&r->replies_scheduled, &r->replies_sent, &r->replies_received,
		&r->replies_in_flight, &r->replies_dropped, &r->replies_missed,
		&r->chats_opened, &r->chats_closed, &r->chats_active,
		&r->chats_reopened, &r->closes_sent, &r->refused_after_close,
		&r->drops_tester, &r->drops_server, &r->rejoined,
		&r->echoes_after_drop, &r->hist_checks, &r->hist_missing,
		&r->hist_duplicated, &r->hist_recovered, &r->hist_unexpected,
		&r->hist_truncated,
		&r->devices, &r->org_devices, &r->copies_expected,
		&r->copies_received, &r->org_copies_expected,
		&r->org_copies_received,
	};
	struct rep_pct *pcts[] = { &r->lat, &r->lat_actual, &r->lag,
				   &r->arrival_lag, &r->to_chat, &r->reply_lat,
				   &r->back_in_chat };

	memset(r, 0, sizeof(*r));
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
		*nums[i] = NAN;
	for (size_t i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++)
		*pcts[i] = (struct rep_pct){ NAN, NAN, NAN, NAN, NAN };
	r->log_ws = -1;
	r->tester_limited = -1;
	r->cross_check = -1;
	r->hist_passed = -1;
	r->name = r->path;
}

/* see report.h */
const char *const rep_dist_names[REP_NDIST] = {
	"latency", "latency_actual", "time_to_chat", "sign_up",
	"chat_request", "connect", "reply_latency", "rejoin",
};

/* see report.h */
const char *const rep_sx_names[REP_NX] = {
	"replies_sent", "replies_received", "chats_active", "reconnects",
	"drops_tester", "drops_server",
};

/* see report.h */
void rep_run_free(struct rep_run *r)
{
	struct rep_series *s = &r->s;

	for (int k = 0; k < REP_NDIST; k++) {
		free(r->dist[k]);
		r->dist[k] = NULL;
	}

	free(s->t);
	free(s->sent);
	free(s->delivered);
	free(s->chats);
	free(s->p50);
	free(s->p99);
	free(s->cpu);
	for (int k = 0; k < REP_NX; k++)
		free(s->x[k]);
	memset(s, 0, sizeof(*s));
}

static int grow(double **v, size_t cap)
{
	double *p = realloc(*v, cap * sizeof(double));

	if (!p)
		return -ENOMEM;
	*v = p;
	return 0;
}

/* One second; x[REP_NX] the opt-in behaviours' figures, NULL: none. */
static int series_push(struct rep_series *s, double t, double sent,
		       double delivered, double chats, double p50, double p99,
		       double cpu, const double *x)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		double **arr[] = { &s->t, &s->sent, &s->delivered, &s->chats,
				   &s->p50, &s->p99, &s->cpu };

		for (size_t i = 0; i < sizeof(arr) / sizeof(arr[0]); i++)
			if (grow(arr[i], cap) < 0)
				return -ENOMEM;
		for (int k = 0; k < REP_NX; k++)
			if (grow(&s->x[k], cap) < 0)
				return -ENOMEM;
		s->cap = cap;
	}
	for (int k = 0; k < REP_NX; k++)
		s->x[k][s->n] = x ? x[k] : NAN;
	s->t[s->n] = t;
	s->sent[s->n] = sent;
	s->delivered[s->n] = delivered;
	s->chats[s->n] = chats;
	s->p50[s->n] = p50;
	s->p99[s->n] = p99;
	s->cpu[s->n] = cpu;
	s->n++;
	return 0;
}

/* see report.h */
int rep_duration_s(const char *s, size_t n, double *sec)
{
	int64_t ns;
	int e = timefmt_duration_parse(s, n, &ns);

	if (e < 0)
		return e;
	*sec = (double)ns / 1e9;
	return 0;
}

/*
 * Tokenize a whole document, growing the token array as needed. jsmn
 * reports -ENOSPC only after scanning, so starting small costs a rescan
 * at most a few times.
 */
static int parse_doc(struct json_doc *d, const char *js, size_t n,
		     jsmntok_t **toks)
{
	size_t cap = n / 8 + 64;

	for (;;) {
		jsmntok_t *t;
		int e;

		/* Every token takes at least one byte: n + 2 always do. */
		if (cap > n + 2)
			cap = n + 2;
		t = realloc(*toks, cap * sizeof(**toks));
		if (!t)
			return -ENOMEM;
		*toks = t;
		e = json_parse(d, js, n, t, (unsigned)cap);
		if (e != -ENOSPC)
			return e < 0 ? e : 0;
		if (cap == n + 2)
			return -EINVAL;
		cap *= 4;
	}
}

/*
 * Field readers. An absent key or null leaves the target as absent and
 * returns 0; a wrong type returns -EINVAL with "where.key: reason".
 */
static int get_num(const struct json_doc *d, int obj, const char *where,
		   const char *key, double *v, char *err, size_t cap)
{
	int t = json_find(d, obj, key);

	if (t < 0 || json_is_null(d, t))
		return 0;
	if (json_get_f64(d, t, v) < 0) {
		seterr(err, cap, "%s%s%s: not a number", where,
		       *where ? "." : "", key);
		return -EINVAL;
	}
	return 0;
}

static int get_bool(const struct json_doc *d, int obj, const char *where,
		    const char *key, int *v, char *err, size_t cap)
{
	int t = json_find(d, obj, key);

	if (t < 0 || json_is_null(d, t))
		return 0;
	if (json_get_bool(d, t, v) < 0) {
		seterr(err, cap, "%s%s%s: not true or false", where,
		       *where ? "." : "", key);
		return -EINVAL;
	}
	return 0;
}

/* Cut s (length n) to fit cap bytes with its NUL, at a UTF-8 boundary. */
static void copy_cut(char *dst, size_t cap, const char *s, size_t n)
{
	if (n >= cap) {
		n = cap - 1;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(dst, s, n);
	dst[n] = 0;
}

static int get_text(const struct json_doc *d, int obj, const char *where,
		    const char *key, char *dst, size_t cap, char *err,
		    size_t ecap)
{
	int t = json_find(d, obj, key);
	size_t room, n;
	char *tmp;

	dst[0] = 0;
	if (t < 0 || json_is_null(d, t))
		return 0;
	if (json_type(d, t) != JSMN_STRING)
		goto bad;
	/* Unescaping never lengthens: the token length is enough. */
	room = (size_t)(d->tok[t].end - d->tok[t].start) + 1;
	tmp = malloc(room);
	if (!tmp)
		return -ENOMEM;
	if (json_get_str(d, t, tmp, room, &n) < 0) {
		free(tmp);
		goto bad;
	}
	copy_cut(dst, cap, tmp, n);
	free(tmp);
	return 0;
bad:
	seterr(err, ecap, "%s%s%s: not a string", where, *where ? "." : "",
	       key);
	return -EINVAL;
}

/* An object member that must be an object (or null/absent: returns -1). */
static int get_obj(const struct json_doc *d, int obj, const char *where,
		   const char *key, int *out, char *err, size_t cap)
{
	int t = json_find(d, obj, key);

	*out = -1;
	if (t < 0 || json_is_null(d, t))
		return 0;
	if (json_type(d, t) != JSMN_OBJECT) {
		seterr(err, cap, "%s%s%s: not an object", where,
		       *where ? "." : "", key);
		return -EINVAL;
	}
	*out = t;
	return 0;
}

/* The quantiles object obj.key (p50 ... max); in names obj in errors. */
static int get_pct_in(const struct json_doc *d, int obj, const char *in,
		      const char *key, struct rep_pct *p, char *err, size_t cap)
{
	char where[96];
	int o, e;

	snprintf(where, sizeof(where), "%s.%s", in, key);
	e = get_obj(d, obj, in, key, &o, err, cap);
	if (e < 0 || o < 0)
		return e;
	if ((e = get_num(d, o, where, "p50", &p->p50, err, cap)) < 0 ||
	    (e = get_num(d, o, where, "p90", &p->p90, err, cap)) < 0 ||
	    (e = get_num(d, o, where, "p99", &p->p99, err, cap)) < 0 ||
	    (e = get_num(d, o, where, "p99_9", &p->p99_9, err, cap)) < 0 ||
	    (e = get_num(d, o, where, "max", &p->max, err, cap)) < 0)
		return e;
	return 0;
}

static int get_pct(const struct json_doc *d, int obj, const char *key,
		   struct rep_pct *p, char *err, size_t cap)
{
	return get_pct_in(d, obj, "esmeload", key, p, err, cap);
}

static int get_duration(const struct json_doc *d, const char *key, double *v,
			char *err, size_t cap)
{
	char text[64];
	int e = get_text(d, 0, "", key, text, sizeof(text), err, cap);

	if (e < 0 || !text[0])
		return e;
	if (rep_duration_s(text, strlen(text), v) < 0) {
		seterr(err, cap, "%s: not a Go duration: \"%s\"", key, text);
		return -EINVAL;
	}
	return 0;
}

/* The "errors" object: its sum, and its nonzero members as text. */
static int get_errors(struct rep_run *r, const struct json_doc *d, int esme,
		      char *err, size_t cap)
{
	int o, e = get_obj(d, esme, "esmeload", "errors", &o, err, cap);
	size_t len = 0;
	double sum = 0;

	if (e < 0 || o < 0)
		return e;
	for (int k = o + 1; k < json_next(d, o); k = json_next(d, k + 1)) {
		char name[48];
		size_t nn;
		double v;

		if (json_get_str(d, k, name, sizeof(name), &nn) < 0)
			snprintf(name, sizeof(name), "?");
		if (json_get_f64(d, k + 1, &v) < 0) {
			seterr(err, cap, "esmeload.errors.%s: not a number",
			       name);
			return -EINVAL;
		}
		sum += v;
		if (v != 0 && len < sizeof(r->errors_text)) {
			int w = snprintf(r->errors_text + len,
					 sizeof(r->errors_text) - len,
					 "%s%s %.0f", len ? ", " : "", name, v);

			len += w > 0 ? (size_t)w : 0;
		}
	}
	r->errors_total = sum;
	return 0;
}

static int get_self_check(struct rep_run *r, const struct json_doc *d,
			  int esme, char *err, size_t cap)
{
	const char *w = "esmeload.self_check";
	int o, e = get_obj(d, esme, "esmeload", "self_check", &o, err, cap);

	if (e < 0 || o < 0)
		return e;
	r->has_self_check = 1;
	if ((e = get_num(d, o, w, "cpu_percent", &r->cpu_percent, err,
			 cap)) < 0 ||
	    (e = get_num(d, o, w, "cq_overflows", &r->cq_overflows, err,
			 cap)) < 0 ||
	    (e = get_num(d, o, w, "enobufs", &r->enobufs, err, cap)) < 0 ||
	    (e = get_num(d, o, w, "lag_p99_ms", &r->lag_p99_ms, err,
			 cap)) < 0 ||
	    (e = get_bool(d, o, w, "tester_limited", &r->tester_limited, err,
			  cap)) < 0 ||
	    (e = get_text(d, o, w, "verdict", r->verdict, sizeof(r->verdict),
			  err, cap)) < 0)
		return e;
	return 0;
}

/* cross_check.passed and the thresholds' pass count. */
static int get_checks(struct rep_run *r, const struct json_doc *d, int esme,
		      char *err, size_t cap)
{
	int o, e = get_obj(d, esme, "esmeload", "cross_check", &o, err, cap);
	int t;

	if (e < 0)
		return e;
	if (o >= 0) {
		int passed = -1;

		e = get_bool(d, o, "esmeload.cross_check", "passed", &passed,
			     err, cap);
		if (e < 0)
			return e;
		r->cross_check = passed;
	}
	t = json_find(d, esme, "thresholds");
	if (t < 0 || json_is_null(d, t))
		return 0;
	if (json_type(d, t) != JSMN_ARRAY) {
		seterr(err, cap, "esmeload.thresholds: not an array");
		return -EINVAL;
	}
	for (int k = t + 1; k < json_next(d, t); k = json_next(d, k)) {
		int passed = 0;

		if (json_type(d, k) != JSMN_OBJECT) {
			seterr(err, cap, "esmeload.thresholds: not objects");
			return -EINVAL;
		}
		e = get_bool(d, k, "esmeload.thresholds[]", "passed", &passed,
			     err, cap);
		if (e < 0)
			return e;
		r->thresholds_n++;
		r->thresholds_passed += passed == 1;
	}
	return 0;
}

/* esmeload.histograms, when the file has them: each one whole. */
static int get_dists(struct rep_run *r, const struct json_doc *d, int o,
		     char *err, size_t cap)
{
	int hs = json_find(d, o, "histograms");

	if (hs < 0 || json_is_null(d, hs))
		return 0;
	for (int k = 0; k < REP_NDIST; k++) {
		int t = json_find(d, hs, rep_dist_names[k]);

		if (t < 0)
			continue;
		r->dist[k] = malloc(sizeof(struct hist));
		if (!r->dist[k]) {
			seterr(err, cap, "out of memory");
			return -ENOMEM;
		}
		if (histjson_read(d, t, r->dist[k]) < 0) {
			seterr(err, cap, "esmeload.histograms.%s: not a histogram "
			       "(count, sum, min, max, buckets)", rep_dist_names[k]);
			return -EINVAL;
		}
	}
	return 0;
}

/* A number member of an object, by its place in struct rep_run. */
struct num_key {
	const char *key;
	size_t off;
};
#define NK(key, field) { key, offsetof(struct rep_run, field) }

static int get_nums(struct rep_run *r, const struct json_doc *d, int o,
		    const char *where, const struct num_key *k, size_t n,
		    char *err, size_t cap)
{
	for (size_t i = 0; i < n; i++) {
		double *v = (double *)(void *)((char *)r + k[i].off);
		int e = get_num(d, o, where, k[i].key, v, err, cap);

		if (e < 0)
			return e;
	}
	return 0;
}

/*
 * The opt-in behaviours' objects (null when off): esmeload.replies,
 * .chats, .reconnects (with its history check), .devices.
 */
static int get_behaviours(struct rep_run *r, const struct json_doc *d,
			  int esme, char *err, size_t cap)
{
	static const struct num_key replies[] = {
		NK("scheduled", replies_scheduled), NK("sent", replies_sent),
		NK("received", replies_received),
		NK("in_flight", replies_in_flight),
		NK("dropped", replies_dropped), NK("missed", replies_missed),
	};
	static const struct num_key chats[] = {
		NK("opened", chats_opened), NK("closed", chats_closed),
		NK("active", chats_active), NK("reopened", chats_reopened),
		NK("closes_sent", closes_sent),
		NK("refused_after_close", refused_after_close),
	};
	static const struct num_key reconnects[] = {
		NK("drops_tester", drops_tester),
		NK("drops_server", drops_server), NK("rejoined", rejoined),
		NK("echoes_after_drop", echoes_after_drop),
	};
	static const struct num_key history[] = {
		NK("checks", hist_checks), NK("missing", hist_missing),
		NK("duplicated", hist_duplicated),
		NK("recovered", hist_recovered),
		NK("unexpected", hist_unexpected),
		NK("truncated", hist_truncated),
	};
	static const struct num_key devices[] = {
		NK("participant", devices), NK("organizer", org_devices),
		NK("copies_expected", copies_expected),
		NK("copies_received", copies_received),
		NK("organizer_copies_expected", org_copies_expected),
		NK("organizer_copies_received", org_copies_received),
	};
#define N(a) (sizeof(a) / sizeof(a[0]))
	int o, h, e;

	if ((e = get_obj(d, esme, "esmeload", "replies", &o, err, cap)) < 0)
		return e;
	if (o >= 0) {
		r->has_replies = 1;
		if ((e = get_nums(r, d, o, "esmeload.replies", replies,
				  N(replies), err, cap)) < 0 ||
		    (e = get_pct_in(d, o, "esmeload.replies", "latency_ms",
				    &r->reply_lat, err, cap)) < 0)
			return e;
	}
	if ((e = get_obj(d, esme, "esmeload", "chats", &o, err, cap)) < 0)
		return e;
	if (o >= 0) {
		r->has_chats = 1;
		if ((e = get_nums(r, d, o, "esmeload.chats", chats, N(chats),
				  err, cap)) < 0)
			return e;
	}
	if ((e = get_obj(d, esme, "esmeload", "reconnects", &o, err, cap)) < 0)
		return e;
	if (o >= 0) {
		const char *w = "esmeload.reconnects";

		r->has_reconnects = 1;
		if ((e = get_nums(r, d, o, w, reconnects, N(reconnects), err,
				  cap)) < 0 ||
		    (e = get_pct_in(d, o, w, "back_in_chat_ms",
				    &r->back_in_chat, err, cap)) < 0 ||
		    (e = get_obj(d, o, w, "history", &h, err, cap)) < 0)
			return e;
		if (h >= 0 &&
		    ((e = get_nums(r, d, h, "esmeload.reconnects.history",
				   history, N(history), err, cap)) < 0 ||
		     (e = get_bool(d, h, "esmeload.reconnects.history",
				   "passed", &r->hist_passed, err, cap)) < 0))
			return e;
	}
	if ((e = get_obj(d, esme, "esmeload", "devices", &o, err, cap)) < 0)
		return e;
	if (o >= 0) {
		r->has_devices = 1;
		if ((e = get_nums(r, d, o, "esmeload.devices", devices,
				  N(devices), err, cap)) < 0)
			return e;
	}
#undef N
	return 0;
}

static int get_esme(struct rep_run *r, const struct json_doc *d, int o,
		    char *err, size_t cap)
{
	const char *w = "esmeload";
	int e;

	r->has_esme = 1;
	if ((e = get_num(d, o, w, "sent", &r->sent, err, cap)) < 0 ||
	    (e = get_num(d, o, w, "delivered", &r->delivered, err, cap)) < 0 ||
	    (e = get_num(d, o, w, "organizer_received", &r->org_received, err,
			 cap)) < 0 ||
	    (e = get_num(d, o, w, "delivery_ratio", &r->delivery_ratio, err,
			 cap)) < 0 ||
	    (e = get_num(d, o, w, "start_chats", &r->start_chats, err,
			 cap)) < 0 ||
	    (e = get_num(d, o, w, "new_chats", &r->new_chats, err, cap)) < 0 ||
	    (e = get_num(d, o, w, "no_new_chats", &r->no_new_chats, err,
			 cap)) < 0 ||
	    (e = get_num(d, o, w, "server_errors", &r->server_errors, err,
			 cap)) < 0 ||
	    (e = get_num(d, o, w, "connected", &r->connected, err, cap)) < 0 ||
	    (e = get_pct(d, o, "latency_ms", &r->lat, err, cap)) < 0 ||
	    (e = get_pct(d, o, "latency_actual_ms", &r->lat_actual, err,
			 cap)) < 0 ||
	    (e = get_pct(d, o, "lag_ms", &r->lag, err, cap)) < 0 ||
	    (e = get_num(d, o, w, "in_flight", &r->in_flight, err, cap)) < 0 ||
	    (e = get_num(d, o, w, "lost", &r->lost, err, cap)) < 0 ||
	    (e = get_pct(d, o, "arrival_lag_ms", &r->arrival_lag, err,
			 cap)) < 0 ||
	    (e = get_pct(d, o, "time_to_chat_ms", &r->to_chat, err,
			 cap)) < 0 ||
	    (e = get_errors(r, d, o, err, cap)) < 0 ||
	    (e = get_text(d, o, w, "stop_reason", r->stop_reason,
			  sizeof(r->stop_reason), err, cap)) < 0 ||
	    (e = get_text(d, o, w, "first_error", r->first_error,
			  sizeof(r->first_error), err, cap)) < 0 ||
	    (e = get_self_check(r, d, o, err, cap)) < 0 ||
	    (e = get_checks(r, d, o, err, cap)) < 0 ||
	    (e = get_behaviours(r, d, o, err, cap)) < 0 ||
	    (e = get_dists(r, d, o, err, cap)) < 0)
		return e;
	/* Older files: the ratio from its parts. */
	if (isnan(r->delivery_ratio) && r->sent > 0 && !isnan(r->delivered))
		r->delivery_ratio = r->delivered / r->sent;
	return 0;
}

/* see report.h */
int rep_parse_summary(struct rep_run *r, const char *js, size_t n, char *err,
		      size_t cap)
{
	jsmntok_t *toks = NULL;
	struct json_doc d;
	int e, c, o, have_sent;

	e = parse_doc(&d, js, n, &toks);
	if (e < 0) {
		seterr(err, cap, e == -ENOMEM ? "out of memory"
					      : "not valid JSON");
		goto out;
	}
	if (json_type(&d, 0) != JSMN_OBJECT) {
		seterr(err, cap, "not a JSON object");
		e = -EINVAL;
		goto out;
	}
	have_sent = json_find(&d, 0, "messages_sent") >= 0;
	if (!have_sent && json_find(&d, 0, "esmeload") < 0) {
		seterr(err, cap, "not a performance test summary "
				 "(neither messages_sent nor esmeload)");
		e = -EINVAL;
		goto out;
	}
	if ((e = get_obj(&d, 0, "", "constants", &c, err, cap)) < 0)
		goto out;
	if (c >= 0 &&
	    ((e = get_text(&d, c, "constants", "start_chat_interval", r->sci,
			   sizeof(r->sci), err, cap)) < 0 ||
	     (e = get_text(&d, c, "constants", "create_participant_interval",
			   r->cpi, sizeof(r->cpi), err, cap)) < 0 ||
	     (e = get_text(&d, c, "constants", "send_message_interval",
			   r->smi, sizeof(r->smi), err, cap)) < 0 ||
	     (e = get_bool(&d, c, "constants", "log_ws", &r->log_ws, err,
			   cap)) < 0))
		goto out;
	if ((e = get_text(&d, 0, "", "organizer_time_started", r->org_started,
			  sizeof(r->org_started), err, cap)) < 0 ||
	    (e = get_text(&d, 0, "", "participants_time_started",
			  r->part_started, sizeof(r->part_started), err,
			  cap)) < 0 ||
	    (e = get_duration(&d, "organizer_duration", &r->org_dur_s, err,
			      cap)) < 0 ||
	    (e = get_duration(&d, "participants_duration", &r->part_dur_s, err,
			      cap)) < 0 ||
	    (e = get_num(&d, 0, "", "messages_sent", &r->messages_sent, err,
			 cap)) < 0 ||
	    (e = get_num(&d, 0, "", "chats_count", &r->chats_count, err,
			 cap)) < 0 ||
	    (e = get_num(&d, 0, "", "created_participants_count",
			 &r->participants, err, cap)) < 0)
		goto out;
	if (r->org_started[0]) {
		int64_t sec;
		int32_t nsec, off;

		if (timefmt_rfc3339_parse(r->org_started,
					  strlen(r->org_started), &sec, &nsec,
					  &off) < 0) {
			seterr(err, cap, "organizer_time_started: not an "
					 "RFC 3339 time: \"%s\"",
			       r->org_started);
			e = -EINVAL;
			goto out;
		}
		r->start_unix = (double)sec + nsec / 1e9;
	}
	if ((e = get_obj(&d, 0, "", "esmeload", &o, err, cap)) < 0)
		goto out;
	if (o >= 0 && (e = get_esme(r, &d, o, err, cap)) < 0)
		goto out;
	e = 0;
out:
	free(toks);
	return e;
}

/* A number member of a .jsonl line; absent or null is NaN. */
static int line_num(const struct json_doc *d, int obj, const char *key,
		    double *v, size_t line, char *err, size_t cap)
{
	*v = NAN;
	if (get_num(d, obj, "", key, v, err, cap) < 0) {
		seterr(err, cap, "line %zu: %s: not a number", line, key);
		return -EINVAL;
	}
	return 0;
}

static int line_lat(const struct json_doc *d, const char *key,
		    const char *sub, double *v, size_t line, char *err,
		    size_t cap)
{
	int o;

	*v = NAN;
	if (get_obj(d, 0, "", key, &o, err, cap) < 0) {
		seterr(err, cap, "line %zu: %s: not an object", line, key);
		return -EINVAL;
	}
	if (o >= 0 && get_num(d, o, "", sub, v, err, cap) < 0) {
		seterr(err, cap, "line %zu: %s.%s: not a number", line, key,
		       sub);
		return -EINVAL;
	}
	return 0;
}

static int only_space(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' &&
		    p[i] != '\n')
			return 0;
	return 1;
}

/* see report.h */
int rep_parse_series(struct rep_run *r, const char *js, size_t n, char *err,
		     size_t cap)
{
	jsmntok_t *toks = malloc(LINE_TOKENS * sizeof(*toks));
	double t_first = NAN;
	size_t pos = 0, line = 0;
	int e = 0;

	if (!toks)
		return -ENOMEM;
	r->s.n = 0;
	r->skipped_last = 0;
	while (pos < n) {
		const char *p = js + pos, *nl = memchr(p, '\n', n - pos);
		size_t len = nl ? (size_t)(nl - p) : n - pos;
		int last = only_space(p + len, n - pos - len);
		double t, ts, sent, dlv, chats, p50, p99, cpu, x[REP_NX];
		struct json_doc d;

		line++;
		pos += len + (nl != NULL);
		if (len && p[len - 1] == '\r')
			len--;
		if (only_space(p, len)) {
			if (last)
				break;
			seterr(err, cap, "line %zu: empty line", line);
			e = -EINVAL;
			goto out;
		}
		e = json_parse(&d, p, len, toks, LINE_TOKENS);
		if (e < 0) {
			if (last && e != -ENOSPC) {
				/* Cut off mid-write, e.g. by SIGKILL. */
				r->skipped_last = 1;
				e = 0;
				break;
			}
			seterr(err, cap, "line %zu: %s", line,
			       e == -ENOSPC ? "too many fields"
					    : "not valid JSON");
			e = -EINVAL;
			goto out;
		}
		if (json_type(&d, 0) != JSMN_OBJECT) {
			seterr(err, cap, "line %zu: not a JSON object", line);
			e = -EINVAL;
			goto out;
		}
		if ((e = line_num(&d, 0, "elapsed_s", &t, line, err, cap)) ||
		    (e = line_num(&d, 0, "t", &ts, line, err, cap)) ||
		    (e = line_num(&d, 0, "sent", &sent, line, err, cap)) ||
		    (e = line_num(&d, 0, "delivered", &dlv, line, err, cap)) ||
		    (e = line_num(&d, 0, "chats", &chats, line, err, cap)) ||
		    (e = line_num(&d, 0, "cpu_percent", &cpu, line, err,
				  cap)) ||
		    (e = line_lat(&d, "latency_ms", "p50", &p50, line, err,
				  cap)) ||
		    (e = line_lat(&d, "latency_ms", "p99", &p99, line, err,
				  cap)))
			goto out;
		for (int k = 0; k < REP_NX; k++)
			if ((e = line_num(&d, 0, rep_sx_names[k], &x[k], line,
					  err, cap)))
				goto out;
		if (isnan(t) && !isnan(ts)) {
			/* No elapsed_s: from the Unix second it ends. */
			if (isnan(t_first))
				t_first = isnan(r->start_unix) ? ts - 1
							       : r->start_unix;
			t = ts - t_first;
		}
		if (isnan(t) || isnan(sent)) {
			seterr(err, cap, "line %zu: %s missing", line,
			       isnan(t) ? "elapsed_s" : "sent");
			e = -EINVAL;
			goto out;
		}
		e = series_push(&r->s, t, sent, dlv, chats, p50, p99, cpu, x);
		if (e < 0) {
			seterr(err, cap, "out of memory");
			goto out;
		}
	}
	r->src = REP_SRC_SERIES;
out:
	free(toks);
	return e;
}

struct sec_count {
	int64_t sec;
	double count;
};

static int sec_cmp(const void *a, const void *b)
{
	int64_t x = ((const struct sec_count *)a)->sec;
	int64_t y = ((const struct sec_count *)b)->sec;

	return (x > y) - (x < y);
}

/* see report.h */
int rep_parse_rates(struct rep_run *r, const char *js, size_t n, char *err,
		    size_t cap)
{
	jsmntok_t *toks = NULL;
	struct sec_count *v = NULL;
	struct json_doc d;
	size_t cnt = 0;
	double start;
	int e;

	e = parse_doc(&d, js, n, &toks);
	if (e < 0) {
		seterr(err, cap, e == -ENOMEM ? "out of memory"
					      : "not valid JSON");
		goto out;
	}
	if (json_type(&d, 0) != JSMN_OBJECT) {
		seterr(err, cap, "not a JSON object");
		e = -EINVAL;
		goto out;
	}
	v = malloc(((size_t)d.tok[0].size + 1) * sizeof(*v));
	if (!v) {
		e = -ENOMEM;
		seterr(err, cap, "out of memory");
		goto out;
	}
	for (int k = 1; k < d.ntok; k = json_next(&d, k + 1)) {
		char key[32];
		size_t kn;
		char *end;
		long long sec;

		if (json_get_str(&d, k, key, sizeof(key), &kn) < 0 || !kn)
			goto bad_key;
		errno = 0;
		sec = strtoll(key, &end, 10);
		if (errno || *end || key[0] == '-' || key[0] == '+' ||
		    key[0] == ' ')
			goto bad_key;
		v[cnt].sec = sec;
		if (json_get_f64(&d, k + 1, &v[cnt].count) < 0) {
			seterr(err, cap, "\"%s\": not a number", key);
			e = -EINVAL;
			goto out;
		}
		cnt++;
		continue;
bad_key:
		{
			int kl = d.tok[k].end - d.tok[k].start;

			seterr(err, cap, "key \"%.*s\": not a Unix second",
			       kl > 40 ? 40 : kl, js + d.tok[k].start);
		}
		e = -EINVAL;
		goto out;
	}
	qsort(v, cnt, sizeof(*v), sec_cmp);
	r->s.n = 0;
	/* Each count is for the second [sec, sec + 1): plotted at its end,
	 * as the time series plots its seconds. */
	start = cnt ? (double)v[0].sec : 0;
	/* From the run's start when the summary's clock agrees with the
	 * rates' (the first send comes seconds after it); a start an hour
	 * off is another clock, and the first second is the better zero. */
	if (!isnan(r->start_unix) && start >= floor(r->start_unix) &&
	    start < r->start_unix + 3600)
		start = r->start_unix;
	for (size_t i = 0; i < cnt; i++) {
		double x = (double)v[i].sec + 1 - start;

		if (i && v[i].sec > v[i - 1].sec + 1) {
			/* The Go tool writes only seconds with sends. */
			double gap0 = (double)v[i - 1].sec + 2 - start;

			if (series_push(&r->s, gap0, 0, NAN, NAN, NAN, NAN,
					NAN, NULL))
				goto nomem;
			if (v[i].sec > v[i - 1].sec + 2 &&
			    series_push(&r->s, x - 1, 0, NAN, NAN, NAN, NAN,
					NAN, NULL))
				goto nomem;
		}
		if (series_push(&r->s, x, v[i].count, NAN, NAN, NAN, NAN, NAN,
				NULL))
			goto nomem;
	}
	r->src = REP_SRC_RATES;
	e = 0;
	goto out;
nomem:
	seterr(err, cap, "out of memory");
	e = -ENOMEM;
out:
	free(v);
	free(toks);
	return e;
}

/*
 * Read a whole file; *buf is malloc'd (NUL added). Returns 0 or a negative
 * errno; -ENOENT is left to the caller to report, anything else is in err.
 */
static int read_file(const char *path, char **buf, size_t *len, char *err,
		     size_t cap)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	size_t n;
	char *b;
	int e;

	*buf = NULL;
	if (!f) {
		e = errno;
		seterr(err, cap, "%s: %s", path, strerror(e));
		return -e;
	}
	if (fstat(fileno(f), &st) < 0) {
		e = errno;
		seterr(err, cap, "%s: %s", path, strerror(e));
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		e = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		seterr(err, cap, "%s: %s", path,
		       e == EISDIR ? "is a directory" : "not a regular file");
		goto out_close;
	}
	if (st.st_size > REP_FILE_MAX) {
		e = EFBIG;
		seterr(err, cap, "%s: larger than %ld bytes", path,
		       REP_FILE_MAX);
		goto out_close;
	}
	b = malloc((size_t)st.st_size + 1);
	if (!b) {
		e = ENOMEM;
		seterr(err, cap, "%s: out of memory", path);
		goto out_close;
	}
	n = fread(b, 1, (size_t)st.st_size, f);
	if (ferror(f)) {
		e = errno ? errno : EIO;
		free(b);
		seterr(err, cap, "%s: %s", path, strerror(e));
		goto out_close;
	}
	b[n] = 0;
	fclose(f);
	*buf = b;
	*len = n;
	return 0;
out_close:
	fclose(f);
	return -e;
}

typedef int (*parse_fn)(struct rep_run *, const char *, size_t, char *,
			size_t);

/* Read and parse one file; the error names it. An empty file is an error
 * unless allow_empty (a time series killed before its first line). */
static int load_one(struct rep_run *r, const char *path, parse_fn fn,
		    int allow_empty, char *err, size_t cap)
{
	char why[1200];
	size_t len = 0;
	char *buf;
	int e = read_file(path, &buf, &len, err, cap);

	if (e < 0)
		return e;
	if (!len && !allow_empty) {
		seterr(err, cap, "%s: empty file", path);
		free(buf);
		return -EINVAL;
	}
	e = fn(r, buf, len, why, sizeof(why));
	if (e < 0)
		seterr(err, cap, "%s: %s", path, why);
	free(buf);
	return e;
}

/* see report.h */
int rep_load(struct rep_run *r, const char *summary_path, char *err,
	     size_t cap)
{
	size_t pl = strlen(summary_path), sl = strlen(REP_SUMMARY_SUFFIX);
	char sib[4200];
	const char *slash;
	int e;

	rep_run_init(r);
	if (pl >= sizeof(r->path)) {
		seterr(err, cap, "%.64s...: path too long", summary_path);
		return -ENAMETOOLONG;
	}
	memcpy(r->path, summary_path, pl + 1);
	slash = strrchr(r->path, '/');
	r->name = slash ? slash + 1 : r->path;
	e = load_one(r, r->path, rep_parse_summary, 0, err, cap);
	if (e < 0)
		return e;
	/* Siblings share the prefix; a summary named otherwise has none. */
	if (pl < sl || strcmp(summary_path + pl - sl, REP_SUMMARY_SUFFIX))
		return 0;
	snprintf(sib, sizeof(sib), "%.*s%s", (int)(pl - sl), summary_path,
		 REP_SERIES_SUFFIX);
	e = load_one(r, sib, rep_parse_series, 1, err, cap);
	if (e < 0 && e != -ENOENT)
		return e;
	if (!e && r->s.n)
		return 0;
	/* No time series (a Go tool run, an older esmeload) or an empty
	 * one: the rates. They are optional too: a summary alone still
	 * makes a table row. */
	r->src = REP_SRC_NONE;
	snprintf(sib, sizeof(sib), "%.*s%s", (int)(pl - sl), summary_path,
		 REP_RATES_SUFFIX);
	e = load_one(r, sib, rep_parse_rates, 0, err, cap);
	return e == -ENOENT ? 0 : e;
}

static int path_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int paths_push(struct rep_paths *p, char *s)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 16;
		char **v = realloc(p->v, cap * sizeof(*v));

		if (!v) {
			free(s);
			return -ENOMEM;
		}
		p->v = v;
		p->cap = cap;
	}
	p->v[p->n++] = s;
	return 0;
}

/* see report.h */
int rep_paths_add(struct rep_paths *p, const char *arg, char *err,
		  size_t cap)
{
	size_t sl = strlen(REP_SUMMARY_SUFFIX), first = p->n;
	struct dirent *de;
	struct stat st;
	DIR *dir;
	int e = 0;

	if (stat(arg, &st) < 0) {
		e = errno;
		seterr(err, cap, "%s: %s", arg, strerror(e));
		return -e;
	}
	if (!S_ISDIR(st.st_mode)) {
		char *s = strdup(arg);

		if (!s || paths_push(p, s) < 0)
			goto nomem;
		return 0;
	}
	dir = opendir(arg);
	if (!dir) {
		e = errno;
		seterr(err, cap, "%s: %s", arg, strerror(e));
		return -e;
	}
	while ((errno = 0, de = readdir(dir))) {
		size_t nl = strlen(de->d_name), al = strlen(arg);
		char *s;

		if (de->d_name[0] == '.' || nl <= sl ||
		    strcmp(de->d_name + nl - sl, REP_SUMMARY_SUFFIX))
			continue;
		s = malloc(al + nl + 2);
		if (!s)
			goto nomem_dir;
		/* "dir/" stays "dir/name", not "dir//name". */
		snprintf(s, al + nl + 2, "%s%s%s", arg,
			 al && arg[al - 1] == '/' ? "" : "/", de->d_name);
		if (paths_push(p, s) < 0)
			goto nomem_dir;
	}
	if (errno) {
		e = errno;
		closedir(dir);
		seterr(err, cap, "%s: %s", arg, strerror(e));
		return -e;
	}
	closedir(dir);
	if (p->n == first) {
		seterr(err, cap, "%s: no *%s in this directory", arg,
		       REP_SUMMARY_SUFFIX);
		return -ENOENT;
	}
	/* The <unix> prefix sorts runs by time. */
	qsort(p->v + first, p->n - first, sizeof(*p->v), path_cmp);
	return 0;
nomem_dir:
	closedir(dir);
nomem:
	seterr(err, cap, "%s: out of memory", arg);
	return -ENOMEM;
}

/* see report.h */
void rep_paths_free(struct rep_paths *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->v[i]);
	free(p->v);
	memset(p, 0, sizeof(*p));
}

/* see report.h */
double rep_sent(const struct rep_run *r)
{
	return !isnan(r->sent) ? r->sent : r->messages_sent;
}

/* see report.h */
double rep_msg_rate(const struct rep_run *r)
{
	double s = rep_sent(r);

	return r->part_dur_s > 0 ? s / r->part_dur_s : NAN;
}

/* see report.h */
double rep_max_rate(const struct rep_run *r)
{
	double m = NAN;

	for (size_t i = 0; i < r->s.n; i++)
		if (!isnan(r->s.sent[i]) && !(r->s.sent[i] <= m))
			m = r->s.sent[i];
	return m;
}

/* see report.h */
double rep_copies_missing(const struct rep_run *r)
{
	double p = r->copies_expected - r->copies_received;
	double o = r->org_copies_expected - r->org_copies_received;

	if (!r->has_devices || (isnan(p) && isnan(o)))
		return NAN;
	return (isnan(p) || p < 0 ? 0 : p) + (isnan(o) || o < 0 ? 0 : o);
}

/* see report.h */
double rep_final_chats(const struct rep_run *r)
{
	if (!isnan(r->chats_count))
		return r->chats_count;
	for (size_t i = r->s.n; i-- > 0;)
		if (!isnan(r->s.chats[i]))
			return r->s.chats[i];
	return NAN;
}
