/*
 * report/compare: `esmeload compare A B`, the key figures of two runs side
 * by side with B's relative change. See src/report/report.h.
 */
#include "report/report.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"

static void row(struct rep_cmp_row *r, const char *key, const char *label,
		double a, double b, enum rep_better better, int decimals)
{
	r->key = key;
	r->label = label;
	r->a = a;
	r->b = b;
	r->better = better;
	r->decimals = decimals;
	r->change_pct = NAN;
	r->verdict = 0;
	if (isnan(a) || isnan(b))
		return;
	/* From 0 any change is infinitely large: no percentage then. */
	if (a != 0)
		r->change_pct = (b - a) / fabs(a) * 100;
	else if (b == 0)
		r->change_pct = 0;
	if (b != a)
		r->verdict = (b > a) == (better == REP_HIGHER) ? 1 : -1;
}

static double lag_p99(const struct rep_run *r)
{
	return !isnan(r->lag.p99) ? r->lag.p99 : r->lag_p99_ms;
}

/* A row of an opt-in behaviour: only when a or b has the figure. */
static void opt_row(struct rep_cmp_row **r, const char *key,
		    const char *label, double a, double b,
		    enum rep_better better, int decimals)
{
	if (isnan(a) && isnan(b))
		return;
	row((*r)++, key, label, a, b, better, decimals);
}

/* see report.h */
int rep_compare_rows(const struct rep_run *a, const struct rep_run *b,
		     struct rep_cmp_row rows[REP_CMP_ROWS])
{
	struct rep_cmp_row *r = rows;

	row(r++, "sent", "sent", rep_sent(a), rep_sent(b), REP_HIGHER, 0);
	row(r++, "delivered", "delivered", a->delivered, b->delivered,
	    REP_HIGHER, 0);
	row(r++, "delivery_ratio", "delivery ratio", a->delivery_ratio,
	    b->delivery_ratio, REP_HIGHER, 5);
	row(r++, "messages_per_s", "messages/s", rep_msg_rate(a),
	    rep_msg_rate(b), REP_HIGHER, 1);
	row(r++, "latency_p50_ms", "latency p50 [ms]", a->lat.p50, b->lat.p50,
	    REP_LOWER, 3);
	row(r++, "latency_p90_ms", "latency p90 [ms]", a->lat.p90, b->lat.p90,
	    REP_LOWER, 3);
	row(r++, "latency_p99_ms", "latency p99 [ms]", a->lat.p99, b->lat.p99,
	    REP_LOWER, 3);
	row(r++, "latency_p99_9_ms", "latency p99.9 [ms]", a->lat.p99_9,
	    b->lat.p99_9, REP_LOWER, 3);
	row(r++, "latency_max_ms", "latency max [ms]", a->lat.max, b->lat.max,
	    REP_LOWER, 3);
	row(r++, "lag_p99_ms", "lag p99 [ms]", lag_p99(a), lag_p99(b),
	    REP_LOWER, 3);
	row(r++, "tester_cpu_percent", "tester CPU [%]", a->cpu_percent,
	    b->cpu_percent, REP_LOWER, 1);
	row(r++, "chats", "chats", rep_final_chats(a), rep_final_chats(b),
	    REP_HIGHER, 0);
	row(r++, "participants", "participants", a->participants,
	    b->participants, REP_HIGHER, 0);
	row(r++, "errors_total", "errors total", a->errors_total,
	    b->errors_total, REP_LOWER, 0);
	row(r++, "in_flight", "in flight at stop", a->in_flight, b->in_flight,
	    REP_LOWER, 0);
	row(r++, "lost", "lost", a->lost, b->lost, REP_LOWER, 0);
	row(r++, "arrival_lag_p99_ms", "arrival lag p99 [ms]",
	    a->arrival_lag.p99, b->arrival_lag.p99, REP_LOWER, 3);
	row(r++, "time_to_chat_p50_ms", "time to chat p50 [ms]",
	    a->to_chat.p50, b->to_chat.p50, REP_LOWER, 3);
	row(r++, "time_to_chat_p99_ms", "time to chat p99 [ms]",
	    a->to_chat.p99, b->to_chat.p99, REP_LOWER, 3);
	/* The opt-in behaviours. More replies, closes and returns done at
	 * the same flags is more of the test done; the history check's
	 * faults and the copies a device never read should be 0. */
	opt_row(&r, "replies_received", "replies received",
		a->replies_received, b->replies_received, REP_HIGHER, 0);
	opt_row(&r, "reply_p99_ms", "reply p99 [ms]", a->reply_lat.p99,
		b->reply_lat.p99, REP_LOWER, 3);
	opt_row(&r, "chats_closed", "chats closed", a->chats_closed,
		b->chats_closed, REP_HIGHER, 0);
	opt_row(&r, "reconnects", "reconnects", a->rejoined, b->rejoined,
		REP_HIGHER, 0);
	opt_row(&r, "back_in_chat_p99_ms", "back in chat p99 [ms]",
		a->back_in_chat.p99, b->back_in_chat.p99, REP_LOWER, 3);
	opt_row(&r, "history_missing", "history missing", a->hist_missing,
		b->hist_missing, REP_LOWER, 0);
	opt_row(&r, "history_duplicated", "history duplicated",
		a->hist_duplicated, b->hist_duplicated, REP_LOWER, 0);
	opt_row(&r, "history_truncated", "history truncated",
		a->hist_truncated, b->hist_truncated, REP_LOWER, 0);
	opt_row(&r, "device_copies_missing", "device copies missing",
		rep_copies_missing(a), rep_copies_missing(b), REP_LOWER, 0);
	return (int)(r - rows);
}

static const char *verdict_name(int v)
{
	return v > 0 ? "better" : v < 0 ? "worse" : "same";
}

static void fmt_val(char *dst, size_t cap, double v, int decimals)
{
	if (isnan(v))
		snprintf(dst, cap, "-");
	else
		snprintf(dst, cap, "%.*f", decimals, v);
}

static void print_text(const struct rep_run *a, const struct rep_run *b,
		       const struct rep_cmp_row *rows, int n)
{
	printf("A: %s\nB: %s\n\n", a->path, b->path);
	printf("%-21s %14s %14s %10s  %-7s %s\n", "", "A", "B", "change",
	       "better", "B is");
	for (int i = 0; i < n; i++) {
		const struct rep_cmp_row *r = &rows[i];
		char va[40], vb[40], ch[40];

		fmt_val(va, sizeof(va), r->a, r->decimals);
		fmt_val(vb, sizeof(vb), r->b, r->decimals);
		if (isnan(r->change_pct))
			snprintf(ch, sizeof(ch), isnan(r->a) || isnan(r->b)
						 ? "-" : "n/a");
		else
			snprintf(ch, sizeof(ch), "%+.2f%%", r->change_pct);
		printf("%-21s %14s %14s %10s  %-7s %s\n", r->label, va, vb, ch,
		       r->better == REP_HIGHER ? "higher" : "lower",
		       isnan(r->a) || isnan(r->b) ? "-"
						  : verdict_name(r->verdict));
	}
}

static void jw_num(struct jw *w, double v)
{
	if (isfinite(v))
		jw_f64(w, v);
	else
		jw_null(w);
}

static int print_json(const struct rep_run *a, const struct rep_run *b,
		      const struct rep_cmp_row *rows, int nrows)
{
	/* Two paths of 4 KiB at 6 bytes an escaped byte, and the rows. */
	size_t cap = 2 * 6 * sizeof(a->path) + 8192;
	char *buf = malloc(cap);
	struct jw w;
	long n;

	if (!buf)
		return -ENOMEM;
	jw_init(&w, buf, cap);
	jw_obj_begin(&w);
	jw_kv_cstr(&w, "a", a->path);
	jw_kv_cstr(&w, "b", b->path);
	jw_key(&w, "metrics");
	jw_obj_begin(&w);
	for (int i = 0; i < nrows; i++) {
		const struct rep_cmp_row *r = &rows[i];

		jw_key(&w, r->key);
		jw_obj_begin(&w);
		jw_key(&w, "a");
		jw_num(&w, r->a);
		jw_key(&w, "b");
		jw_num(&w, r->b);
		jw_key(&w, "change_pct");
		jw_num(&w, r->change_pct);
		jw_kv_cstr(&w, "better",
			   r->better == REP_HIGHER ? "higher" : "lower");
		jw_key(&w, "verdict");
		if (isnan(r->a) || isnan(r->b))
			jw_null(&w);
		else
			jw_cstr(&w, verdict_name(r->verdict));
		jw_obj_end(&w);
	}
	jw_obj_end(&w);
	jw_obj_end(&w);
	n = jw_finish(&w);
	if (n >= 0) {
		fwrite(buf, 1, (size_t)n, stdout);
		fputc('\n', stdout);
	}
	free(buf);
	return n < 0 ? (int)n : 0;
}

static const char usage[] =
"usage: esmeload compare [--json] A B\n"
"\n"
"Key figures of two runs side by side, with B's change relative to A and\n"
"which direction is better; the figures of organizers' replies, chats that\n"
"end, reconnects and devices when either run has them. A and B are\n"
"summary files (<unix>_performance_test_summary.json) or directories\n"
"holding one run.\n"
"  --json   the same as one JSON object\n";

/* see report.h */
int compare_main(int argc, char **argv)
{
	struct rep_cmp_row rows[REP_CMP_ROWS];
	struct rep_run *runs = NULL;
	struct rep_paths p = { 0 };
	const char *args[2];
	int nargs = 0, json = 0, rc = 2, opts = 1, loaded = 0, nrows;
	char err[2048];

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (opts && (!strcmp(a, "-h") || !strcmp(a, "--help") ||
			     !strcmp(a, "-help"))) {
			fputs(usage, stdout);
			return 0;
		}
		if (opts && !strcmp(a, "--")) {
			opts = 0;
		} else if (opts && (!strcmp(a, "--json") ||
				    !strcmp(a, "-json"))) {
			json = 1;
		} else if (opts && a[0] == '-' && a[1]) {
			fprintf(stderr, "esmeload compare: unknown option %s\n"
					"%s", a, usage);
			return 2;
		} else if (nargs == 2) {
			fprintf(stderr, "esmeload compare: more than two runs "
					"given\n%s", usage);
			return 2;
		} else {
			args[nargs++] = a;
		}
	}
	if (nargs != 2) {
		fprintf(stderr, "esmeload compare: needs two runs, A and B\n%s",
			usage);
		return 2;
	}
	for (int i = 0; i < 2; i++) {
		size_t before = p.n;

		if (rep_paths_add(&p, args[i], err, sizeof(err)) < 0) {
			fprintf(stderr, "esmeload compare: %s\n", err);
			goto out;
		}
		if (p.n - before != 1) {
			fprintf(stderr, "esmeload compare: %s: holds %zu runs, "
					"name one summary file\n",
				args[i], p.n - before);
			goto out;
		}
	}
	runs = calloc(2, sizeof(*runs));
	if (!runs) {
		fprintf(stderr, "esmeload compare: out of memory\n");
		goto out;
	}
	for (; loaded < 2; loaded++) {
		if (rep_load(&runs[loaded], p.v[loaded], err, sizeof(err)) < 0) {
			fprintf(stderr, "esmeload compare: %s\n", err);
			loaded++;
			goto out;
		}
	}
	nrows = rep_compare_rows(&runs[0], &runs[1], rows);
	if (json) {
		if (print_json(&runs[0], &runs[1], rows, nrows) < 0) {
			fprintf(stderr, "esmeload compare: output too large\n");
			goto out;
		}
	} else {
		print_text(&runs[0], &runs[1], rows, nrows);
	}
	rc = fflush(stdout) == 0 ? 0 : 2;
out:
	for (int i = 0; i < loaded; i++)
		rep_run_free(&runs[i]);
	free(runs);
	rep_paths_free(&p);
	return rc;
}
