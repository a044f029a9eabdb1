/*
 * report/html: `esmeload report`, one self-contained HTML page (inline CSS
 * and SVG, no script, no URL) of one or more runs. See
 * src/report/report.h.
 */
#include "report/report.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hist.h"
#include "utf8.h"

#define CHART_W 960.0
#define CHART_H 390.0

static const char *const colors[] = {
	/* The thesis's chart colours first (blue, red, yellow darkened to
	 * stay readable on paper), then more that differ in print. */
	"#3366cc", "#dc3912", "#e69f00", "#109618", "#990099",
	"#0099c6", "#dd4477", "#66aa00", "#8c564b", "#316395",
};

/* see report.h */
const char *rep_color(size_t i)
{
	return colors[i % (sizeof(colors) / sizeof(colors[0]))];
}

/* see report.h */
void rep_html_esc(FILE *f, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < n;) {
		unsigned c = p[i];
		size_t l;

		switch (c) {
		case '&': fputs("&amp;", f); i++; continue;
		case '<': fputs("&lt;", f); i++; continue;
		case '>': fputs("&gt;", f); i++; continue;
		case '"': fputs("&quot;", f); i++; continue;
		case '\'': fputs("&#39;", f); i++; continue;
		case '\t':
		case '\n': fputc((int)c, f); i++; continue;
		default: break;
		}
		if (c < 0x20 || c == 0x7F) {
			fputs("\xEF\xBF\xBD", f);
			i++;
			continue;
		}
		l = utf8_seq(p + i, n - i);
		if (!l) {
			fputs("\xEF\xBF\xBD", f);
			i++;
			continue;
		}
		/* C1 controls (U+0080..U+009F) are not allowed either. */
		if (l == 2 && c == 0xC2 && p[i + 1] < 0xA0)
			fputs("\xEF\xBF\xBD", f);
		else
			fwrite(p + i, 1, l, f);
		i += l;
	}
}

/* ---- number formatting ---- */

/* An integer with thousands commas: "6,174". */
static void fmt_int(char *dst, size_t cap, double v)
{
	char tmp[40];
	int n = snprintf(tmp, sizeof(tmp), "%.0f", fabs(v));
	size_t o = 0;

	if (n < 0 || (size_t)n >= sizeof(tmp) || cap < 2 * sizeof(tmp)) {
		snprintf(dst, cap, "%.0f", v);
		return;
	}
	if (v < 0 && lround(v) != 0)
		dst[o++] = '-';
	for (int i = 0; i < n; i++) {
		if (i && (n - i) % 3 == 0)
			dst[o++] = ',';
		dst[o++] = tmp[i];
	}
	dst[o] = 0;
}

/* Milliseconds with about three significant digits. */
static void fmt_ms(char *dst, size_t cap, double v)
{
	snprintf(dst, cap, "%.*f", v >= 100 ? 0 : v >= 10 ? 1 : v >= 1 ? 2 : 3,
		 v);
}

/* Seconds as "5.0 s", "2 min 23.8 s", "1 h 02 min". */
static void fmt_dur(char *dst, size_t cap, double s)
{
	if (s < 60)
		snprintf(dst, cap, "%.1f s", s);
	else if (s < 3600)
		snprintf(dst, cap, "%d min %.1f s", (int)(s / 60),
			 fmod(s, 60));
	else
		snprintf(dst, cap, "%d h %02d min", (int)(s / 3600),
			 (int)fmod(s / 60, 60));
}

/* ---- table cells ---- */

static void td_na(FILE *f)
{
	fputs("<td class=\"na\">\xE2\x80\x93</td>", f);
}

static void td_text(FILE *f, const char *cls, const char *s)
{
	if (!s || !*s) {
		td_na(f);
		return;
	}
	fprintf(f, "<td class=\"%s\">", cls);
	rep_html_cesc(f, s);
	fputs("</td>", f);
}

static void td_int(FILE *f, double v)
{
	char b[96];

	if (isnan(v)) {
		td_na(f);
		return;
	}
	fmt_int(b, sizeof(b), v);
	fprintf(f, "<td>%s</td>", b);
}

static void td_ms(FILE *f, double v)
{
	char b[64];

	if (isnan(v)) {
		td_na(f);
		return;
	}
	fmt_ms(b, sizeof(b), v);
	fprintf(f, "<td>%s</td>", b);
}

/* ---- labels ---- */

/* The <unix> prefix of a run's file name, or the whole name. */
static void run_stamp(const struct rep_run *r, char *dst, size_t cap)
{
	const char *u = strstr(r->name, REP_SUMMARY_SUFFIX);
	size_t n = u ? (size_t)(u - r->name) : strlen(r->name);

	snprintf(dst, cap, "%.*s", (int)(n < 40 ? n : 40), r->name);
}

/* "#2 1795685602 smi 100ms". Plain text, escaped where written. */
static void run_label(const struct rep_run *r, size_t i, char *dst,
		      size_t cap)
{
	char stamp[48];

	run_stamp(r, stamp, sizeof(stamp));
	if (r->smi[0])
		snprintf(dst, cap, "#%zu %s, smi %s", i + 1, stamp, r->smi);
	else
		snprintf(dst, cap, "#%zu %s", i + 1, stamp);
}

/* ---- charts ---- */

static int any_finite(const double *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (isfinite(v[i]))
			return 1;
	return 0;
}

/* Largest finite value (and smallest positive one) of v, folded in. */
static void fold(const double *v, size_t n, double *max, double *minpos)
{
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(v[i]))
			continue;
		if (!(v[i] <= *max))
			*max = v[i];
		if (minpos && v[i] > 0 && !(v[i] >= *minpos))
			*minpos = v[i];
	}
}

static double t_max(const struct rep_run *runs, size_t n)
{
	double m = NAN;

	for (size_t i = 0; i < n; i++)
		fold(runs[i].s.t, runs[i].s.n, &m, NULL);
	return isnan(m) || m < 1 ? 1 : m;
}

/* Legend items: one per run with data, plus line-style keys. */
struct legend {
	struct svg_legend_item it[64];
	char text[64][128];
	size_t n;
};

static void legend_add(struct legend *l, const char *text, const char *color,
		       enum svg_dash dash, int marker)
{
	if (l->n >= sizeof(l->it) / sizeof(l->it[0]))
		return;
	snprintf(l->text[l->n], sizeof(l->text[0]), "%s", text);
	l->it[l->n] = (struct svg_legend_item){ l->text[l->n], color, dash,
						 marker };
	l->n++;
}

static void legend_runs(struct legend *l, const struct rep_run *runs,
			size_t n, int (*has)(const struct rep_run *), int marker)
{
	for (size_t i = 0; i < n; i++) {
		char lab[128];

		if (!has(&runs[i]))
			continue;
		run_label(&runs[i], i, lab, sizeof(lab));
		legend_add(l, lab, rep_color(i), SVG_SOLID, marker);
	}
}

static void chart_open(struct svg_chart *c, FILE *f, const struct legend *l,
		       const char *id, const char *title)
{
	int rows = svg_legend_rows(CHART_W, l->it, l->n);

	svg_begin(c, f, CHART_W, CHART_H + rows * 22.0, rows, id, title);
}

static int has_rate(const struct rep_run *r)
{
	return r->s.n > 0 && any_finite(r->s.sent, r->s.n);
}

static int has_delivered(const struct rep_run *r)
{
	return r->s.n > 0 && any_finite(r->s.delivered, r->s.n);
}

static int has_chats(const struct rep_run *r)
{
	return r->s.n > 0 && any_finite(r->s.chats, r->s.n);
}

static int has_latency(const struct rep_run *r)
{
	return r->s.n > 0 &&
	       (any_finite(r->s.p50, r->s.n) || any_finite(r->s.p99, r->s.n));
}

static int has_point(const struct rep_run *r)
{
	return isfinite(rep_max_rate(r)) && isfinite(rep_final_chats(r));
}

static size_t count(const struct rep_run *runs, size_t n,
		    int (*has)(const struct rep_run *))
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += has(&runs[i]) != 0;
	return k;
}

static void no_data(FILE *f, const char *why)
{
	fputs("<p class=\"nodata\">", f);
	rep_html_cesc(f, why);
	fputs("</p>\n", f);
}

static void chart_rate(FILE *f, const struct rep_run *runs, size_t n)
{
	struct legend l = { .n = 0 };
	struct svg_chart c;
	double ymax = NAN;

	if (!count(runs, n, has_rate)) {
		no_data(f, "No run has per-second data (neither a time series "
			   "nor message rates beside its summary).");
		return;
	}
	legend_runs(&l, runs, n, has_rate, 0);
	if (count(runs, n, has_delivered)) {
		legend_add(&l, "sent (solid)", "#555", SVG_SOLID, 0);
		legend_add(&l, "delivered (dashed)", "#555", SVG_DASHED, 0);
	}
	for (size_t i = 0; i < n; i++) {
		fold(runs[i].s.sent, runs[i].s.n, &ymax, NULL);
		fold(runs[i].s.delivered, runs[i].s.n, &ymax, NULL);
	}
	chart_open(&c, f, &l, "chart-rate", "Message rate over time");
	svg_axis_fit(&c.x, SVG_LINEAR, 0, t_max(runs, n), 8, "time [s]");
	svg_axis_fit(&c.y, SVG_LINEAR, 0, isnan(ymax) ? 1 : ymax, 6,
		     "message rate [1/s]");
	svg_axes(&c);
	for (size_t i = 0; i < n; i++) {
		const struct rep_series *s = &runs[i].s;

		if (has_delivered(&runs[i]))
			svg_path(&c, s->t, s->delivered, s->n, rep_color(i),
				 SVG_DASHED, 1.6);
		if (has_rate(&runs[i]))
			svg_path(&c, s->t, s->sent, s->n, rep_color(i),
				 SVG_SOLID, 1.8);
	}
	svg_legend(&c, l.it, l.n);
	svg_end(&c);
}

static void chart_chats(FILE *f, const struct rep_run *runs, size_t n)
{
	struct legend l = { .n = 0 };
	struct svg_chart c;
	double ymax = NAN;

	if (!count(runs, n, has_chats)) {
		no_data(f, "No run has a time series of chats (files of the "
			   "Go tool hold only the final count, in the table "
			   "below).");
		return;
	}
	legend_runs(&l, runs, n, has_chats, 0);
	for (size_t i = 0; i < n; i++)
		fold(runs[i].s.chats, runs[i].s.n, &ymax, NULL);
	chart_open(&c, f, &l, "chart-chats", "Active chats over time");
	svg_axis_fit(&c.x, SVG_LINEAR, 0, t_max(runs, n), 8, "time [s]");
	svg_axis_fit(&c.y, SVG_LINEAR, 0, isnan(ymax) ? 1 : ymax, 6,
		     "active chats");
	svg_axes(&c);
	for (size_t i = 0; i < n; i++)
		if (has_chats(&runs[i]))
			svg_path(&c, runs[i].s.t, runs[i].s.chats,
				 runs[i].s.n, rep_color(i), SVG_SOLID, 1.8);
	svg_legend(&c, l.it, l.n);
	svg_end(&c);
}

static void chart_latency(FILE *f, const struct rep_run *runs, size_t n)
{
	struct legend l = { .n = 0 };
	struct svg_chart c;
	double ymax = NAN, ymin = NAN;
	int log_scale;

	if (!count(runs, n, has_latency)) {
		no_data(f, "No run has a time series of latencies (files of "
			   "the Go tool do not measure them).");
		return;
	}
	legend_runs(&l, runs, n, has_latency, 0);
	legend_add(&l, "p99 (solid)", "#555", SVG_SOLID, 0);
	legend_add(&l, "p50 (dashed)", "#555", SVG_DASHED, 0);
	for (size_t i = 0; i < n; i++) {
		fold(runs[i].s.p50, runs[i].s.n, &ymax, &ymin);
		fold(runs[i].s.p99, runs[i].s.n, &ymax, &ymin);
	}
	/* Latencies spread over decades (0.2 ms idle, seconds when a server
	 * falls behind): a linear axis would flatten everything but the
	 * peak. */
	log_scale = ymin > 0 && ymax / ymin > 30;
	chart_open(&c, f, &l, "chart-latency", "Latency percentiles over time");
	svg_axis_fit(&c.x, SVG_LINEAR, 0, t_max(runs, n), 8, "time [s]");
	if (log_scale)
		svg_axis_fit(&c.y, SVG_LOG, ymin, ymax, 6,
			     "latency [ms], log scale");
	else
		svg_axis_fit(&c.y, SVG_LINEAR, 0, isnan(ymax) ? 1 : ymax, 6,
			     "latency [ms]");
	svg_axes(&c);
	for (size_t i = 0; i < n; i++) {
		const struct rep_series *s = &runs[i].s;

		if (!has_latency(&runs[i]))
			continue;
		svg_path(&c, s->t, s->p50, s->n, rep_color(i), SVG_DASHED,
			 1.5);
		svg_path(&c, s->t, s->p99, s->n, rep_color(i), SVG_SOLID,
			 1.8);
	}
	svg_legend(&c, l.it, l.n);
	svg_end(&c);
}

/* ---- the opt-in behaviours over time ---- */

/* A line of an over-time chart: the series' x[k], or its chats (-1). */
struct sline {
	int x;
	enum svg_dash dash;
	const char *label;
};

static const double *sline_v(const struct rep_series *s, int x)
{
	return x >= 0 ? s->x[x] : s->chats;
}

static int has_replies_s(const struct rep_run *r)
{
	const struct rep_series *s = &r->s;

	return s->n > 0 && (any_finite(s->x[REP_X_REPLIES_SENT], s->n) ||
			    any_finite(s->x[REP_X_REPLIES_RECEIVED], s->n));
}

static int has_chats_active_s(const struct rep_run *r)
{
	return r->s.n > 0 && any_finite(r->s.x[REP_X_CHATS_ACTIVE], r->s.n);
}

static int has_reconnects_s(const struct rep_run *r)
{
	const struct rep_series *s = &r->s;

	return s->n > 0 && (any_finite(s->x[REP_X_RECONNECTS], s->n) ||
			    any_finite(s->x[REP_X_DROPS_TESTER], s->n) ||
			    any_finite(s->x[REP_X_DROPS_SERVER], s->n));
}

/* One chart of lines[0..nl) of every run that has(), from 0 up; the
 * caller draws it only when some run has. */
static void chart_time(FILE *f, const struct rep_run *runs, size_t n,
		       int (*has)(const struct rep_run *),
		       const struct sline *lines, size_t nl, const char *id,
		       const char *title, const char *ylabel)
{
	struct legend l = { .n = 0 };
	struct svg_chart c;
	double ymax = NAN;

	legend_runs(&l, runs, n, has, 0);
	if (nl > 1)
		for (size_t k = 0; k < nl; k++)
			legend_add(&l, lines[k].label, "#555", lines[k].dash,
				   0);
	for (size_t i = 0; i < n; i++)
		if (has(&runs[i]))
			for (size_t k = 0; k < nl; k++)
				fold(sline_v(&runs[i].s, lines[k].x),
				     runs[i].s.n, &ymax, NULL);
	chart_open(&c, f, &l, id, title);
	svg_axis_fit(&c.x, SVG_LINEAR, 0, t_max(runs, n), 8, "time [s]");
	svg_axis_fit(&c.y, SVG_LINEAR, 0, isnan(ymax) || ymax <= 0 ? 1 : ymax,
		     6, ylabel);
	svg_axes(&c);
	for (size_t i = 0; i < n; i++) {
		const struct rep_series *s = &runs[i].s;

		if (!has(&runs[i]))
			continue;
		/* the last line on top: the first, solid, is the main one */
		for (size_t k = nl; k-- > 0;) {
			const double *v = sline_v(s, lines[k].x);

			if (any_finite(v, s->n))
				svg_path(&c, s->t, v, s->n, rep_color(i),
					 lines[k].dash, k ? 1.5 : 1.8);
		}
	}
	svg_legend(&c, l.it, l.n);
	svg_end(&c);
}

/* ---- distributions: percentile on a log 1/(1 - p) axis ---- */

#define DIST_PTS 200   /* points per line, at most */

static int has_dist_lat(const struct rep_run *r)
{
	return (r->dist[REP_D_LAT] && r->dist[REP_D_LAT]->count) ||
	       (r->dist[REP_D_ACTUAL] && r->dist[REP_D_ACTUAL]->count);
}

static int has_dist_ttc(const struct rep_run *r)
{
	return r->dist[REP_D_TTC] && r->dist[REP_D_TTC]->count;
}

static int has_dist_phases(const struct rep_run *r)
{
	for (int k = REP_D_SIGNUP; k <= REP_D_CONNECT; k++)
		if (r->dist[k] && r->dist[k]->count)
			return 1;
	return 0;
}

static int has_dist_reply(const struct rep_run *r)
{
	return r->dist[REP_D_REPLY] && r->dist[REP_D_REPLY]->count;
}

static int has_dist_rejoin(const struct rep_run *r)
{
	return r->dist[REP_D_REJOIN] && r->dist[REP_D_REJOIN]->count;
}

/*
 * A histogram as HdrHistogram plots it: x = 1/(1 - p), so 10 is p90,
 * 100 p99, 1000 p99.9, at twenty points a decade up to its count (the
 * last sample: its maximum), y the p-quantile in ms. Returns the points.
 */
static size_t dist_points(const struct hist *h, double *x, double *y)
{
	size_t k = 0;

	if (!h || !h->count)
		return 0;
	for (double v = 1; v < (double)h->count && k + 1 < DIST_PTS;
	     v *= 1.122018454) { /* 10^(1/20) */
		x[k] = v;
		y[k++] = (double)hist_quantile(h, 1.0 - 1.0 / v) / 1000.0;
	}
	x[k] = (double)h->count > 1 ? (double)h->count : 1.0;
	y[k++] = (double)hist_quantile(h, 1.0) / 1000.0;
	return k;
}

static const char *const dist_label[REP_NDIST] = {
	"from the scheduled send (solid)", "from the actual send (dashed)",
	"time to chat", "sign-up (solid)", "chat request (dashed)",
	"connect (dotted)", "reply", "back in chat",
};

/* One chart of the distributions first..last of each run that has one,
 * their line styles in that order. */
static void chart_dist(FILE *f, const struct rep_run *runs, size_t n,
		       int first, int last, int (*has)(const struct rep_run *),
		       const char *id, const char *title, const char *ylabel)
{
	static const enum svg_dash dash[] = { SVG_SOLID, SVG_DASHED,
					      SVG_DOTTED };
	static double x[DIST_PTS], y[DIST_PTS];
	struct legend l = { .n = 0 };
	struct svg_chart c;
	double xmax = 10, ymax = NAN, ymin = NAN;
	char ylab[160];
	int log_scale;

	if (!count(runs, n, has)) {
		no_data(f, "No run carries these histograms (files of the Go "
			   "tool and of older esmeload runs do not).");
		return;
	}
	legend_runs(&l, runs, n, has, 0);
	if (last > first)
		for (int k = first; k <= last; k++)
			legend_add(&l, dist_label[k], "#555",
				   dash[(k - first) % 3], 0);
	for (size_t i = 0; i < n; i++)
		for (int k = first; k <= last; k++) {
			size_t m = dist_points(runs[i].dist[k], x, y);

			if (m && x[m - 1] > xmax)
				xmax = x[m - 1];
			fold(y, m, &ymax, &ymin);
		}
	log_scale = ymin > 0 && ymax / ymin > 30;
	chart_open(&c, f, &l, id, title);
	svg_axis_fit(&c.x, SVG_LOG, 1, xmax, 6,
		     "percentile as 1/(1-p), log scale: 10 = p90, 100 = p99, "
		     "1000 = p99.9");
	snprintf(ylab, sizeof(ylab), "%s%s", ylabel,
		 log_scale ? ", log scale" : "");
	if (log_scale)
		svg_axis_fit(&c.y, SVG_LOG, ymin, ymax, 6, ylab);
	else
		svg_axis_fit(&c.y, SVG_LINEAR, 0, isnan(ymax) || ymax <= 0 ?
			     1 : ymax, 6, ylab);
	svg_axes(&c);
	for (size_t i = 0; i < n; i++) {
		if (!has(&runs[i]))
			continue;
		for (int k = first; k <= last; k++) {
			size_t m = dist_points(runs[i].dist[k], x, y);

			if (m)
				svg_path(&c, x, y, m, rep_color(i),
					 dash[(k - first) % 3], 1.8);
		}
	}
	svg_legend(&c, l.it, l.n);
	svg_end(&c);
}

static void chart_capacity(FILE *f, const struct rep_run *runs, size_t n)
{
	struct legend l = { .n = 0 };
	struct svg_chart c;
	double xmax = NAN, ymax = NAN;

	if (!count(runs, n, has_point)) {
		no_data(f, "No run has both a chat count and per-second "
			   "message rates.");
		return;
	}
	legend_runs(&l, runs, n, has_point, 1);
	for (size_t i = 0; i < n; i++) {
		double x = rep_final_chats(&runs[i]);
		double y = rep_max_rate(&runs[i]);

		if (has_point(&runs[i])) {
			fold(&x, 1, &xmax, NULL);
			fold(&y, 1, &ymax, NULL);
		}
	}
	chart_open(&c, f, &l, "chart-capacity",
		   "Max message rate vs active chats at the end");
	/* Headroom so markers at the maximum are not cut by the frame. */
	svg_axis_fit(&c.x, SVG_LINEAR, 0, xmax * 1.04, 8,
		     "active chats at the end");
	svg_axis_fit(&c.y, SVG_LINEAR, 0, ymax * 1.04, 6,
		     "max message rate [1/s]");
	svg_axes(&c);
	for (size_t i = 0; i < n; i++)
		if (has_point(&runs[i]))
			svg_marker(&c, rep_final_chats(&runs[i]),
				   rep_max_rate(&runs[i]), rep_color(i));
	for (size_t i = 0; i < n; i++) {
		char lab[24];

		if (!has_point(&runs[i]))
			continue;
		snprintf(lab, sizeof(lab), "#%zu", i + 1);
		svg_marker_label(&c, rep_final_chats(&runs[i]),
				 rep_max_rate(&runs[i]), lab);
	}
	svg_legend(&c, l.it, l.n);
	svg_end(&c);
}

/* ---- the table ---- */

static void td_run(FILE *f, const struct rep_run *r, size_t i)
{
	char stamp[48];

	run_stamp(r, stamp, sizeof(stamp));
	fprintf(f, "<td class=\"t nw\"><span class=\"sw\" "
		   "style=\"border-color:%s\"></span>#%zu <span "
		   "class=\"stamp\">",
		rep_color(i), i + 1);
	rep_html_cesc(f, stamp);
	fputs("</span></td>", f);
}

static int has_behaviour(const struct rep_run *r)
{
	return r->has_replies || r->has_chats || r->has_reconnects ||
	       r->has_devices;
}

/* The history check's faults: red when not 0. */
static void td_fault(FILE *f, double v)
{
	char b[96];

	if (isnan(v) || v == 0) {
		td_int(f, v);
		return;
	}
	fmt_int(b, sizeof(b), v);
	fprintf(f, "<td class=\"bad\">%s</td>", b);
}

/* The opt-in behaviours' figures, one row per run that had any; none
 * for a page of plain runs. */
static void behaviour_table(FILE *f, const struct rep_run *runs, size_t n)
{
	if (!count(runs, n, has_behaviour))
		return;
	fputs("<div class=\"tw\"><table id=\"behaviours\">\n<thead><tr>"
	      "<th class=\"t\">run</th>"
	      "<th>replies sent</th><th>replies received</th>"
	      "<th>replies in flight</th><th>replies missed</th>"
	      "<th>reply p99 [ms]</th>"
	      "<th>chats closed</th><th>chats active</th>"
	      "<th>refused after close</th>"
	      "<th>drops</th><th>re&shy;connects</th>"
	      "<th>back in chat p99 [ms]</th><th>history missing</th>"
	      "<th>history dupli&shy;cated</th><th>history recovered</th>"
	      "<th>device copies missing</th>"
	      "</tr></thead>\n<tbody>\n", f);
	for (size_t i = 0; i < n; i++) {
		const struct rep_run *r = &runs[i];

		if (!has_behaviour(r))
			continue;
		fputs("<tr class=\"behaviour\">", f);
		td_run(f, r, i);
		td_int(f, r->replies_sent);
		td_int(f, r->replies_received);
		td_int(f, r->replies_in_flight);
		td_int(f, r->replies_missed);
		td_ms(f, r->reply_lat.p99);
		td_int(f, r->chats_closed);
		td_int(f, r->chats_active);
		td_int(f, r->refused_after_close);
		td_int(f, r->drops_tester + (isnan(r->drops_server) ? 0 :
					      r->drops_server));
		td_int(f, r->rejoined);
		td_ms(f, r->back_in_chat.p99);
		td_fault(f, r->hist_missing);
		td_fault(f, r->hist_duplicated);
		td_int(f, r->hist_recovered);
		td_fault(f, rep_copies_missing(r));
		fputs("</tr>\n", f);
	}
	fputs("</tbody></table></div>\n", f);
}

/* The figures, one row per run; then what ended each run. Two tables so
 * neither needs scrolling: the texts get the width they need. */
static void tables(FILE *f, const struct rep_run *runs, size_t n)
{
	fputs("<div class=\"tw\"><table id=\"runs\">\n<thead><tr>"
	      "<th class=\"t\">run</th>"
	      "<th class=\"t\">sci / cpi / smi</th><th>duration</th>"
	      "<th>partici&shy;pants</th><th>chats</th><th>sent</th>"
	      "<th>delivered</th><th>delivery ratio</th>"
	      "<th>mean rate [1/s]</th><th>max rate [1/s]</th>"
	      "<th>latency p50 [ms]</th><th>latency p99 [ms]</th>"
	      "<th>latency max [ms]</th><th>lost</th>"
	      "<th>arrival lag p99 [ms]</th>"
	      "<th>time to chat p50 [ms]</th><th>time to chat p99 [ms]</th>"
	      "</tr></thead>\n<tbody>\n",
	      f);
	for (size_t i = 0; i < n; i++) {
		const struct rep_run *r = &runs[i];
		char b[128];

		fputs("<tr class=\"run\">", f);
		td_run(f, r, i);
		if (r->sci[0] || r->cpi[0] || r->smi[0]) {
			snprintf(b, sizeof(b), "%s / %s / %s",
				 r->sci[0] ? r->sci : "?",
				 r->cpi[0] ? r->cpi : "?",
				 r->smi[0] ? r->smi : "?");
			td_text(f, "t nw", b);
		} else {
			td_na(f);
		}
		if (isnan(r->org_dur_s) && isnan(r->part_dur_s)) {
			td_na(f);
		} else {
			fmt_dur(b, sizeof(b), !isnan(r->org_dur_s)
						      ? r->org_dur_s
						      : r->part_dur_s);
			td_text(f, "nw", b);
		}
		td_int(f, r->participants);
		td_int(f, rep_final_chats(r));
		td_int(f, rep_sent(r));
		td_int(f, r->delivered);
		if (isnan(r->delivery_ratio)) {
			td_na(f);
		} else {
			snprintf(b, sizeof(b), r->delivery_ratio == 1
				 ? "%.0f&nbsp;%%" : "%.3f&nbsp;%%",
				 r->delivery_ratio * 100);
			fprintf(f, "<td%s>%s</td>",
				r->delivery_ratio < 0.99 ? " class=\"bad\"" : "",
				b);
		}
		td_int(f, rep_msg_rate(r));
		td_int(f, rep_max_rate(r));
		td_ms(f, r->lat.p50);
		td_ms(f, r->lat.p99);
		td_ms(f, r->lat.max);
		td_int(f, r->lost);
		td_ms(f, r->arrival_lag.p99);
		td_ms(f, r->to_chat.p50);
		td_ms(f, r->to_chat.p99);
		fputs("</tr>\n", f);
	}
	fputs("</tbody></table></div>\n", f);

	behaviour_table(f, runs, n);

	fputs("<div class=\"tw\"><table id=\"outcomes\">\n<thead><tr>"
	      "<th class=\"t\">run</th><th class=\"t\">summary file</th>"
	      "<th class=\"t\">stop reason</th><th class=\"t\">first error</th>"
	      "<th class=\"t\">tester self-check</th></tr></thead>\n<tbody>\n",
	      f);
	for (size_t i = 0; i < n; i++) {
		const struct rep_run *r = &runs[i];

		fputs("<tr class=\"outcome\">", f);
		td_run(f, r, i);
		td_text(f, "t file", r->path);
		td_text(f, !strcmp(r->stop_reason, "error") ? "t bad" : "t",
			r->stop_reason);
		td_text(f, "t long", r->first_error);
		if (!r->has_self_check)
			td_na(f);
		else
			td_text(f, r->tester_limited == 1 ? "t long bad"
							  : "t long",
				r->verdict[0] ? r->verdict
					      : r->tester_limited == 1
						? "tester limited"
						: "no verdict");
		fputs("</tr>\n", f);
	}
	fputs("</tbody></table></div>\n", f);
}

/* What a reader should know about the data behind the charts. */
static void notes(FILE *f, const struct rep_run *runs, size_t n)
{
	int open = 0;

	for (size_t i = 0; i < n; i++) {
		const struct rep_run *r = &runs[i];
		char lab[128], more[256] = "";
		const char *what = NULL;

		run_label(r, i, lab, sizeof(lab));
		if (r->src == REP_SRC_RATES)
			what = "no time series: the rate is from "
			       "message_rates.json (sent only; no delivered, "
			       "chats or latency per second)";
		else if (r->src == REP_SRC_NONE)
			what = "no time series and no message rates beside "
			       "the summary: table only";
		else if (r->skipped_last)
			what = "the last line of the time series was cut off "
			       "(the tester was killed) and is left out";
		if (!r->has_esme)
			snprintf(more, sizeof(more), "%s%s", what ? "; " : "",
				 "no esmeload object in the summary (a file "
				 "of the Go tool): only its keys are shown");
		if (r->errors_text[0])
			snprintf(more + strlen(more),
				 sizeof(more) - strlen(more), "%serrors: %s",
				 what || more[0] ? "; " : "", r->errors_text);
		if (!what && !more[0])
			continue;
		if (!open)
			fputs("<h3>Notes</h3>\n<ul class=\"notes\">\n", f);
		open = 1;
		fputs("<li><b>", f);
		rep_html_cesc(f, lab);
		fputs("</b>: ", f);
		if (what)
			rep_html_cesc(f, what);
		rep_html_cesc(f, more);
		fputs("</li>\n", f);
	}
	if (open)
		fputs("</ul>\n", f);
}

static const char css[] =
	"*{box-sizing:border-box}"
	"body{font:15px/1.45 system-ui,-apple-system,\"Segoe UI\",Roboto,"
	"\"Helvetica Neue\",Arial,sans-serif;color:#1d1d1f;background:#fff;"
	"margin:0 auto;max-width:1180px;padding:24px 28px}"
	"h1{font-size:26px;margin:0 0 2px}"
	"h2{font-size:18px;margin:30px 0 6px;padding-bottom:4px;"
	"border-bottom:1px solid #d8d8d8}"
	"h3{font-size:15px;margin:18px 0 4px}"
	".sub{color:#555;margin:0}"
	".what{color:#444;margin:0 0 6px;font-size:14px}"
	"figure{margin:0}"
	"svg.chart{display:block;width:100%;height:auto}"
	".nodata{color:#777;font-style:italic}"
	".tw{overflow-x:auto}"
	"table{border-collapse:collapse;font-size:13px;width:100%;"
	"margin-bottom:14px}"
	"th,td{padding:5px 7px;border-bottom:1px solid #e2e2e2;"
	"text-align:right;vertical-align:top}"
	"th{background:#f3f3f5;font-weight:600;border-bottom:2px solid #c8c8c8}"
	"tbody tr:nth-child(even) td{background:#fafafa}"
	"td.t,th.t{text-align:left}"
	"td.nw{white-space:nowrap}"
	"td.file{overflow-wrap:anywhere;max-width:22em}"
	"td.long{min-width:12em;overflow-wrap:anywhere}"
	".stamp{color:#555;font-size:12px}"
	"td{font-variant-numeric:tabular-nums}"
	"td.na{color:#999;text-align:center}"
	".bad{color:#b3261e;font-weight:600}"
	/* A border, not a background: browsers drop backgrounds in print. */
	".sw{display:inline-block;width:0;height:0;border:6px solid;"
	"border-radius:2px;margin-right:6px;vertical-align:-1px}"
	".notes{font-size:14px;color:#333;padding-left:20px}"
	"footer{margin-top:28px;color:#777;font-size:12px}"
	"@media print{"
	"@page{size:A4 landscape;margin:12mm}"
	"body{max-width:none;padding:0;font-size:11pt}"
	"section{break-inside:avoid}"
	"h2{break-after:avoid}"
	".tw{overflow:visible}"
	"table{font-size:8pt}"
	"th,td{padding:3px 4px}"
	"}";

/*
 * The opt-in behaviours' charts over time (organizers' replies, chats
 * that end, reconnects), each only when a run's time series has its
 * figures: a plain run's page has none of them.
 */
static void behaviour_charts(FILE *f, const struct rep_run *runs, size_t n)
{
	static const struct sline replies[] = {
		{ REP_X_REPLIES_RECEIVED, SVG_SOLID, "received (solid)" },
		{ REP_X_REPLIES_SENT, SVG_DASHED, "sent (dashed)" },
	};
	static const struct sline chats[] = {
		{ REP_X_CHATS_ACTIVE, SVG_SOLID, "active (solid)" },
		{ -1, SVG_DASHED, "opened in all (dashed)" },
	};
	static const struct sline reconnects[] = {
		{ REP_X_RECONNECTS, SVG_SOLID, "back in their chat (solid)" },
		{ REP_X_DROPS_TESTER, SVG_DASHED,
		  "dropped by the tester (dashed)" },
		{ REP_X_DROPS_SERVER, SVG_DOTTED,
		  "dropped by the server (dotted)" },
	};

	if (count(runs, n, has_replies_s)) {
		fputs("<section id=\"replies\"><h2>Organizers' replies over "
		      "time</h2>\n<p class=\"what\">Replies the organizers "
		      "wrote per second (dashed) and the replies their "
		      "participants read per second (solid).</p>\n<figure>", f);
		chart_time(f, runs, n, has_replies_s, replies, 2,
			   "chart-replies", "Organizers' replies over time",
			   "replies [1/s]");
		fputs("</figure></section>\n", f);
	}
	if (count(runs, n, has_chats_active_s)) {
		fputs("<section id=\"chats-active\"><h2>Chats that end"
		      "</h2>\n<p class=\"what\">Chats still open at each "
		      "second (solid) and the chats opened so far (dashed): "
		      "the gap between them is the chats that closed.</p>\n"
		      "<figure>", f);
		chart_time(f, runs, n, has_chats_active_s, chats, 2,
			   "chart-chats-active", "Chats open over time",
			   "chats");
		fputs("</figure></section>\n", f);
	}
	if (count(runs, n, has_reconnects_s)) {
		fputs("<section id=\"reconnects\"><h2>Reconnects over time"
		      "</h2>\n<p class=\"what\">Per second: participants "
		      "back in their chat after a reconnect (solid), "
		      "connections the tester dropped (dashed) and the server "
		      "closed (dotted).</p>\n<figure>", f);
		chart_time(f, runs, n, has_reconnects_s, reconnects, 3,
			   "chart-reconnects", "Reconnects over time",
			   "per second [1/s]");
		fputs("</figure></section>\n", f);
	}
}

/* The distributions of replies and reconnects, when a run carries them. */
static void behaviour_dists(FILE *f, const struct rep_run *runs, size_t n)
{
	if (count(runs, n, has_dist_reply)) {
		fputs("<section id=\"reply-dist\"><h2>Reply latency</h2>\n"
		      "<p class=\"what\">Every organizer's reply from the "
		      "moment it was due (its think time after the message it "
		      "answers) until its participant read it, at each "
		      "percentile (log 1/(1-p) as above).</p>\n<figure>", f);
		chart_dist(f, runs, n, REP_D_REPLY, REP_D_REPLY, has_dist_reply,
			   "chart-reply-dist", "Reply latency distribution",
			   "reply latency [ms]");
		fputs("</figure></section>\n", f);
	}
	if (count(runs, n, has_dist_rejoin)) {
		fputs("<section id=\"rejoin-dist\"><h2>Back in chat after a "
		      "reconnect</h2>\n<p class=\"what\">Every reconnect "
		      "from its start (after the backoff) until the "
		      "participant was back in its chat and had checked its "
		      "history, at each percentile (log 1/(1-p) as above)."
		      "</p>\n<figure>", f);
		chart_dist(f, runs, n, REP_D_REJOIN, REP_D_REJOIN,
			   has_dist_rejoin, "chart-rejoin-dist",
			   "Back in chat distribution", "back in chat [ms]");
		fputs("</figure></section>\n", f);
	}
}

/* see report.h */
int rep_html_write(FILE *f, const struct rep_run *runs, size_t n)
{
	char when[64] = "";
	time_t now = time(NULL);
	struct tm tm;

	if (gmtime_r(&now, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm);
	fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
		   "<meta charset=\"utf-8\">\n"
		   "<meta name=\"viewport\" content=\"width=device-width, "
		   "initial-scale=1\">\n"
		   "<title>esmeload report: %zu run%s</title>\n"
		   "<style>%s</style>\n</head>\n<body>\n",
		n, n == 1 ? "" : "s", css);
	fprintf(f, "<header><h1>esmeload report</h1>\n<p class=\"sub\">%zu "
		   "run%s, written %s. Time is counted from each run's start."
		   "</p></header>\n",
		n, n == 1 ? "" : "s", when);

	fputs("<section id=\"rate\"><h2>Message rate over time</h2>\n"
	      "<p class=\"what\">Messages sent per second by the "
	      "participants of each run; dashed in the same colour, the "
	      "messages the server delivered back per second.</p>\n<figure>",
	      f);
	chart_rate(f, runs, n);
	fputs("</figure></section>\n", f);

	fputs("<section id=\"chats\"><h2>Active chats over time</h2>\n"
	      "<p class=\"what\">Participants that found their chat", f);
	fputs(count(runs, n, has_chats_active_s) ?
	      ", counted up: a chat that ends stays counted here (the chats "
	      "still open are charted below).</p>\n<figure>" :
	      " (participants never close a chat).</p>\n<figure>", f);
	chart_chats(f, runs, n);
	fputs("</figure></section>\n", f);

	fputs("<section id=\"latency\"><h2>Latency over time</h2>\n"
	      "<p class=\"what\">Send-to-delivery latency of the messages "
	      "delivered in each second: p99 solid, median (p50) dashed. "
	      "Seconds without deliveries leave gaps.</p>\n<figure>",
	      f);
	chart_latency(f, runs, n);
	fputs("</figure></section>\n", f);
	behaviour_charts(f, runs, n);

	fputs("<section id=\"capacity\"><h2>Max message rate vs active "
	      "chats</h2>\n<p class=\"what\">One point per run: its highest "
	      "per-second send rate against the chats active at its end "
	      "(as in the thesis's analysis chart).</p>\n<figure>",
	      f);
	chart_capacity(f, runs, n);
	fputs("</figure></section>\n", f);

	fputs("<section id=\"latency-dist\"><h2>Latency distribution</h2>\n"
	      "<p class=\"what\">Every message of the whole run, as "
	      "HdrHistogram plots it: the latency at each percentile, the "
	      "percentile on a log scale of 1/(1-p) (10 is p90, 100 p99, "
	      "1000 p99.9), up to the slowest message. Solid from each "
	      "message's scheduled send (what a user waits, coordinated "
	      "omission included), dashed from its actual send.</p>\n<figure>",
	      f);
	chart_dist(f, runs, n, REP_D_LAT, REP_D_ACTUAL, has_dist_lat,
		   "chart-latency-dist", "Latency distribution",
		   "latency [ms]");
	fputs("</figure></section>\n", f);

	fputs("<section id=\"ttc-dist\"><h2>Time to chat</h2>\n"
	      "<p class=\"what\">Every participant's wait from its scheduled "
	      "arrival until its chat existed, at each percentile (log "
	      "1/(1-p) as above).</p>\n<figure>",
	      f);
	chart_dist(f, runs, n, REP_D_TTC, REP_D_TTC, has_dist_ttc,
		   "chart-ttc-dist", "Time to chat distribution",
		   "time to chat [ms]");
	fputs("</figure></section>\n", f);

	fputs("<section id=\"phases-dist\"><h2>Phases of an arrival</h2>\n"
	      "<p class=\"what\">Each arrival's sign-up and chat request "
	      "(request written to response) and its messenger connection "
	      "(connect started to authorization written), at each "
	      "percentile (log 1/(1-p) as above).</p>\n<figure>",
	      f);
	chart_dist(f, runs, n, REP_D_SIGNUP, REP_D_CONNECT, has_dist_phases,
		   "chart-phases-dist", "Phase distributions",
		   "duration [ms]");
	fputs("</figure></section>\n", f);
	behaviour_dists(f, runs, n);

	fputs("<section id=\"summary\"><h2>Runs</h2>\n", f);
	tables(f, runs, n);
	notes(f, runs, n);
	fputs("</section>\n<footer>Written by esmeload report. Durations are "
	      "the organizer's; latencies are from the summary (whole run)."
	      "</footer>\n</body>\n</html>\n",
	      f);
	return ferror(f) ? -EIO : 0;
}

static const char usage[] =
"usage: esmeload report [-o FILE] RUN...\n"
"\n"
"Writes one self-contained HTML page (no scripts, no external resources)\n"
"with the message rate, active chats and latency of every run over time,\n"
"max message rate vs chats, the distributions of latency, time to chat and\n"
"an arrival's phases (percentiles on a log 1/(1-p) axis, as HdrHistogram\n"
"plots them), and a table of the runs' summaries and self-check verdicts.\n"
"Runs with organizers who answer, chats that end, reconnects or several\n"
"devices add their charts (replies, open chats and reconnects over time,\n"
"the distributions of reply latency and of the time back in chat) and a\n"
"table of their figures.\n"
"\n"
"  RUN       a <unix>_performance_test_summary.json file, or a directory:\n"
"            every summary file in it. The time series (.jsonl) or, without\n"
"            it, the message rates (.json) with the same <unix> prefix are\n"
"            read from beside it.\n"
"  -o FILE   the page to write (default report.html; - for stdout)\n";

/* Write the page to path through a temporary file, so a failed report
 * never leaves half a page where a good one was. */
static int write_page(const char *path, const struct rep_run *runs,
		      size_t n)
{
	char tmp[4200];
	FILE *f;
	int e;

	if (!strcmp(path, "-")) {
		e = rep_html_write(stdout, runs, n);
		if (fflush(stdout) != 0)
			e = -EIO;
		return e;
	}
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >=
	    (int)sizeof(tmp))
		return -ENAMETOOLONG;
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	e = rep_html_write(f, runs, n);
	if (fclose(f) != 0 && !e)
		e = -errno;
	if (!e && rename(tmp, path) < 0)
		e = -errno;
	if (e)
		unlink(tmp);
	return e;
}

/* see report.h */
int report_main(int argc, char **argv)
{
	struct rep_paths p = { 0 };
	struct rep_run *runs = NULL;
	const char *out = "report.html";
	char err[2048];
	size_t loaded = 0;
	int rc = 2, opts = 1, e;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (opts && (!strcmp(a, "-h") || !strcmp(a, "--help") ||
			     !strcmp(a, "-help"))) {
			fputs(usage, stdout);
			rc = 0;
			goto out;
		}
		if (opts && !strcmp(a, "--")) {
			opts = 0;
			continue;
		}
		if (opts && (!strcmp(a, "-o") || !strcmp(a, "--output"))) {
			if (++i >= argc) {
				fprintf(stderr, "esmeload report: %s needs a "
						"file name\n", a);
				goto out;
			}
			out = argv[i];
			continue;
		}
		if (opts && !strncmp(a, "-o=", 3)) {
			out = a + 3;
			continue;
		}
		if (opts && !strncmp(a, "--output=", 9)) {
			out = a + 9;
			continue;
		}
		if (opts && a[0] == '-' && a[1]) {
			fprintf(stderr, "esmeload report: unknown option %s\n"
					"%s", a, usage);
			goto out;
		}
		if (rep_paths_add(&p, a, err, sizeof(err)) < 0) {
			fprintf(stderr, "esmeload report: %s\n", err);
			goto out;
		}
	}
	if (!p.n) {
		fprintf(stderr, "esmeload report: no RUN given\n%s", usage);
		goto out;
	}
	runs = calloc(p.n, sizeof(*runs));
	if (!runs) {
		fprintf(stderr, "esmeload report: out of memory\n");
		goto out;
	}
	for (; loaded < p.n; loaded++) {
		if (rep_load(&runs[loaded], p.v[loaded], err, sizeof(err)) < 0) {
			fprintf(stderr, "esmeload report: %s\n", err);
			loaded++; /* freed below */
			goto out;
		}
	}
	e = write_page(out, runs, p.n);
	if (e < 0) {
		fprintf(stderr, "esmeload report: cannot write %s: %s\n", out,
			strerror(-e));
		goto out;
	}
	if (strcmp(out, "-"))
		printf("wrote %s (%zu run%s)\n", out, p.n,
		       p.n == 1 ? "" : "s");
	rc = 0;
out:
	for (size_t i = 0; i < loaded; i++)
		rep_run_free(&runs[i]);
	free(runs);
	rep_paths_free(&p);
	return rc;
}
