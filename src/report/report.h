/*
 * report: reading the output files of `esmeload run` (and of ESME's Go
 * performance test), `esmeload report` (one self-contained HTML page) and
 * `esmeload compare` (two runs side by side).
 *
 * Internal contract between the report modules:
 *   load.c     the summary, time series and message-rate files into a
 *              struct rep_run; finding a run's files
 *   svg.c      a small chart writer: nice ticks, axes, paths, legend
 *   html.c     the page and report_main
 *   compare.c  the key figures of two runs and compare_main
 *
 * IMPLEMENTATION NOTES
 * - Every number read from a file is a double; an absent one is NaN. A Go
 *   tool summary has no "esmeload" object, a second without deliveries has
 *   null latencies: both simply show as absent, so one code path draws
 *   every kind of run. Counts stay exact as doubles below 2^53.
 * - Parsers take the whole text in memory and write a one-line reason into
 *   a caller buffer; the loaders prefix it with the file name, so every
 *   error the user sees names the file (and the line of a .jsonl).
 * - The page has no script and no URL: inline CSS and inline SVG only.
 */
#ifndef ESMELOAD_REPORT_H
#define ESMELOAD_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define REP_SUMMARY_SUFFIX "_performance_test_summary.json"
#define REP_RATES_SUFFIX "_performance_test_message_rates.json"
#define REP_SERIES_SUFFIX "_performance_test_timeseries.jsonl"

/* Files larger than this are refused rather than read into memory. */
#define REP_FILE_MAX (1024L * 1024 * 1024)

/* ---- one run (load.c) ---- */

/* Latency-like percentiles in ms; NaN when absent. */
struct rep_pct {
	double p50, p90, p99, p99_9, max;
};

enum rep_src {
	REP_SRC_NONE = 0,   /* no per-second data */
	REP_SRC_SERIES = 1, /* the .jsonl time series */
	REP_SRC_RATES = 2,  /* only the Go tool's message_rates.json */
};

/*
 * The opt-in behaviours' per-second figures a time series may carry
 * (src/run/series.c writes them only when the behaviour is on), indexes
 * of rep_series.x; rep_sx_names are their .jsonl keys.
 */
enum rep_sx { REP_X_REPLIES_SENT, REP_X_REPLIES_RECEIVED, REP_X_CHATS_ACTIVE,
	      REP_X_RECONNECTS, REP_X_DROPS_TESTER, REP_X_DROPS_SERVER,
	      REP_NX };
extern const char *const rep_sx_names[REP_NX];

/*
 * Per-second data, parallel arrays of n values. t is seconds since the
 * run's start (the end of each one-second interval). From message rates
 * only t and sent are known; the other arrays then hold NaN, as x[k] does
 * on every line without its key.
 */
struct rep_series {
	size_t n, cap;
	double *t, *sent, *delivered, *chats, *p50, *p99, *cpu;
	double *x[REP_NX];
};

/* The distributions a summary carries whole (esmeload.histograms), in
 * the order of rep_dist_names: REP_D_REPLY an organizer's reply from its
 * schedule ("reply_latency"), REP_D_REJOIN a reconnect until it is back
 * in its chat ("rejoin"). */
enum rep_dist { REP_D_LAT, REP_D_ACTUAL, REP_D_TTC, REP_D_SIGNUP,
		REP_D_REQUEST, REP_D_CONNECT, REP_D_REPLY, REP_D_REJOIN,
		REP_NDIST };
extern const char *const rep_dist_names[REP_NDIST];
struct hist;

struct rep_run {
	char path[4096];    /* the summary file as named by the user */
	const char *name;   /* its last path component, inside path */

	/* The Go tool's keys. Texts are "" when absent. */
	char sci[32], cpi[32], smi[32]; /* constants as written ("10ms") */
	int log_ws;                     /* -1 absent */
	char org_started[64], part_started[64];
	double start_unix;              /* organizer_time_started, Unix s */
	double org_dur_s, part_dur_s;
	double messages_sent, chats_count, participants;

	/* The esmeload object; has_esme 0 for Go tool files. */
	int has_esme;
	double sent, delivered, org_received, delivery_ratio;
	double start_chats, new_chats, no_new_chats, server_errors, connected;
	double in_flight, lost;  /* sent = delivered + in_flight + lost */
	struct rep_pct lat, lat_actual, lag;
	struct rep_pct arrival_lag, to_chat; /* from each arrival's schedule */
	double errors_total;    /* sum of the "errors" object */
	char errors_text[256];  /* its nonzero members, "timeout 3, recv 1" */
	char stop_reason[32];
	char first_error[1024]; /* "" when null or absent */
	int has_self_check;
	double cpu_percent, cq_overflows, enobufs, lag_p99_ms;
	int tester_limited;     /* -1 absent */
	char verdict[1024];
	int cross_check;        /* -1 absent or null, 0 failed, 1 passed */
	int thresholds_n, thresholds_passed;
	/*
	 * The opt-in behaviours: esmeload.replies, .chats, .reconnects and
	 * .devices; has_* is 0 when the object is null or absent (the
	 * behaviour was off, or an older file), and its numbers are NaN.
	 */
	int has_replies, has_chats, has_reconnects, has_devices;
	/* replies: sent = received + missed + in_flight */
	double replies_scheduled, replies_sent, replies_received;
	double replies_in_flight, replies_dropped, replies_missed;
	struct rep_pct reply_lat;
	/* chats: opened = closed + active */
	double chats_opened, chats_closed, chats_active, chats_reopened;
	double closes_sent, refused_after_close;
	/* reconnects, and the history check of each return */
	double drops_tester, drops_server, rejoined, echoes_after_drop;
	struct rep_pct back_in_chat;
	double hist_checks, hist_missing, hist_duplicated, hist_recovered;
	double hist_unexpected, hist_truncated;
	int hist_passed;        /* -1 absent or null (nothing checked) */
	/* devices: connections per user, and the copies of every frame
	 * their other connections should read (expected) and did */
	double devices, org_devices;
	double copies_expected, copies_received;
	double org_copies_expected, org_copies_received;
	/* Its histograms (microseconds), NULL each when the file has none
	 * (the Go tool's, an older esmeload's). */
	struct hist *dist[REP_NDIST];

	/* Per-second data. */
	enum rep_src src;
	struct rep_series s;
	int skipped_last;       /* a truncated last .jsonl line was skipped */
};

/* Zero everything, set every number to NaN and every flag to absent. */
void rep_run_init(struct rep_run *r);
void rep_run_free(struct rep_run *r);

/* A Go duration string ("2m23.81s") in seconds; 0 or -EINVAL/-ERANGE. */
int rep_duration_s(const char *s, size_t n, double *sec);

/*
 * Parsers of one file's text (js[0..n), need not be NUL-terminated). On
 * error they return a negative errno and write a one-line reason into
 * err (capacity cap); rep_parse_series names the line ("line 3: ...").
 *
 * rep_parse_summary: the summary object; unknown keys are ignored, a known
 * key with the wrong type is an error, a file with neither messages_sent
 * nor an esmeload object is not a summary.
 * rep_parse_series: one object per line with at least elapsed_s (or t)
 * and sent; an unparseable last line is skipped (the tester may have been
 * killed mid-write) and sets r->skipped_last. Blank lines only at the end.
 * rep_parse_rates: {"<unix second>": count, ...}. Seconds missing between
 * two present ones had no sends: zero points are put at their edges.
 * Relative to r->start_unix when known and at most an hour before the
 * first second, else to the first second.
 */
int rep_parse_summary(struct rep_run *r, const char *js, size_t n, char *err,
		      size_t cap);
int rep_parse_series(struct rep_run *r, const char *js, size_t n, char *err,
		     size_t cap);
int rep_parse_rates(struct rep_run *r, const char *js, size_t n, char *err,
		    size_t cap);

/*
 * Read a summary file and its time series (or, without one or with an
 * empty one, its message rates) found beside it by the same <unix>
 * prefix; neither need exist. 0, or a negative errno with "FILE: reason"
 * in err.
 */
int rep_load(struct rep_run *r, const char *summary_path, char *err,
	     size_t cap);

/* A growable list of summary paths. */
struct rep_paths {
	char **v;
	size_t n, cap;
};

/*
 * Append arg if it is a file, or every *_performance_test_summary.json in
 * it (sorted by name) if it is a directory. A directory without any is an
 * error. 0 or a negative errno with "ARG: reason" in err.
 */
int rep_paths_add(struct rep_paths *p, const char *arg, char *err,
		  size_t cap);
void rep_paths_free(struct rep_paths *p);

/*
 * Derived figures; NaN when the run does not have them.
 *   rep_sent         esmeload.sent, else messages_sent
 *   rep_msg_rate     sent / participants_duration (messages/s)
 *   rep_max_rate     the largest per-second sent
 *   rep_final_chats  chats_count, else the series' last chats
 */
double rep_sent(const struct rep_run *r);
double rep_msg_rate(const struct rep_run *r);
double rep_max_rate(const struct rep_run *r);
double rep_final_chats(const struct rep_run *r);

/* ---- charts (svg.c) ---- */

/*
 * "Nice" axis ticks: the smallest step of 1, 2 or 5 times a power of ten
 * that covers [lo, hi] with at most `target` intervals, and the range
 * widened to multiples of it. lo == hi is widened around the value; a
 * range starting at 0 stays at 0. Returns the interval count, or -EINVAL
 * for non-finite input or target < 2 (one interval cannot always hold a
 * range that straddles a multiple of every step).
 */
struct svg_ticks {
	double lo, hi, step;
};
int svg_nice_ticks(double lo, double hi, int target, struct svg_ticks *t);

/*
 * A tick label of v on an axis of step `step`: as many decimals as the
 * step needs, none for whole steps; "1.5k"/"2M" from 10 000 up. Returns
 * the length (NUL added).
 */
size_t svg_fmt_num(char *dst, size_t cap, double v, double step);

enum svg_scale { SVG_LINEAR = 0, SVG_LOG = 1 };

struct svg_axis {
	enum svg_scale scale;
	double lo, hi, step;    /* linear: the tick range; log: powers of ten */
	const char *label;      /* axis title, plain text (escaped on output) */
};

/*
 * Set a linear axis to nice ticks over [lo, hi] in at most `target`
 * intervals (wide axes take more); a log axis to the powers of ten around
 * [lo, hi] (lo > 0, else it falls back to linear).
 */
void svg_axis_fit(struct svg_axis *a, enum svg_scale scale, double lo,
		  double hi, int target, const char *label);

enum svg_dash { SVG_SOLID = 0, SVG_DASHED = 1, SVG_DOTTED = 2 };

struct svg_legend_item {
	const char *text;
	const char *color;
	enum svg_dash dash;
	int marker;             /* 1: an x marker instead of a line */
};

struct svg_box {
	double x0, y0, x1, y1;
};

#define SVG_MAX_BOXES 128

struct svg_chart {
	FILE *f;
	char id[32];
	double w, h;            /* the viewBox */
	double x0, x1, y0, y1;  /* plot area: left, right, bottom, top */
	struct svg_axis x, y;
	/* Markers and labels drawn so far, which later labels avoid. */
	struct svg_box box[SVG_MAX_BOXES];
	unsigned nbox;
};

/*
 * Open an <svg> of viewBox w x h with a plot area leaving room for tick
 * labels, axis titles and `legend_rows` rows of legend above it. id is the
 * element id (a plain identifier; "<id>-clip" clips the data to the plot
 * area), title becomes the aria-label and <title>. Set c->x and c->y
 * before drawing.
 */
void svg_begin(struct svg_chart *c, FILE *f, double w, double h,
	       int legend_rows, const char *id, const char *title);
/* Grid, ticks, tick labels and axis titles from c->x and c->y. */
void svg_axes(const struct svg_chart *c);
/* Data to SVG coordinates; NaN for values a log axis cannot show. */
double svg_px(const struct svg_chart *c, double v);
double svg_py(const struct svg_chart *c, double v);
/*
 * A line through (x[i], y[i]). NaN points (and non-positive ones on a log
 * axis) break it. Points closer than a pixel column are reduced to their
 * first, lowest, highest and last, so long runs stay small and look the
 * same.
 */
void svg_path(const struct svg_chart *c, const double *x, const double *y,
	      size_t n, const char *color, enum svg_dash dash, double width);
/* An x marker at (x, y). */
void svg_marker(struct svg_chart *c, double x, double y, const char *color);
/*
 * A label beside the marker at (x, y): the first of a few places around
 * it (then further up or down) that overlaps no marker or label drawn
 * before and stays inside the plot. Draw all markers first.
 */
void svg_marker_label(struct svg_chart *c, double x, double y,
		      const char *label);
/* A line of legend entries above the plot, wrapped into rows. */
void svg_legend(const struct svg_chart *c, const struct svg_legend_item *it,
		size_t n);
/* Rows svg_legend will need for these items at width w. */
int svg_legend_rows(double w, const struct svg_legend_item *it, size_t n);
void svg_end(const struct svg_chart *c);

/* ---- the page (html.c) ---- */

/*
 * Text as HTML: & < > " ' escaped, invalid UTF-8 bytes and control
 * characters (but tab and newline) as U+FFFD, so nothing read from a file
 * can open markup.
 */
void rep_html_esc(FILE *f, const char *s, size_t n);
static inline void rep_html_cesc(FILE *f, const char *s)
{
	rep_html_esc(f, s, __builtin_strlen(s));
}

/* The whole page for runs[0..n). 0 or -EIO. */
int rep_html_write(FILE *f, const struct rep_run *runs, size_t n);

/* Colour of run i (cycled). */
const char *rep_color(size_t i);

/* `esmeload report [-o FILE] RUN...`: 0, or 2 (usage, a bad file). */
int report_main(int argc, char **argv);

/* ---- compare (compare.c) ---- */

enum rep_better { REP_HIGHER = 1, REP_LOWER = -1 };

struct rep_cmp_row {
	const char *key;        /* JSON key */
	const char *label;      /* table label */
	double a, b;            /* NaN when a run lacks it */
	double change_pct;      /* (b - a) / a * 100; NaN when a is 0 or absent */
	enum rep_better better;
	int decimals;           /* for the text table */
	int verdict;            /* +1 B better, -1 B worse, 0 same or unknown */
};

/* The rows every comparison has, then at most this many in all: the
 * opt-in behaviours' rows come only when a or b has the figure. */
#define REP_CMP_BASE_ROWS 19
#define REP_CMP_ROWS 28

/*
 * Fill rows[0..n) with the key figures of a and b and return n: the
 * REP_CMP_BASE_ROWS rows always, then those of replies, chats that end,
 * reconnects and devices that a or b has (both NaN: left out).
 */
int rep_compare_rows(const struct rep_run *a, const struct rep_run *b,
		     struct rep_cmp_row rows[REP_CMP_ROWS]);

/* Copies of frames a run's other devices should have read and did not:
 * copies_expected - copies_received plus the organizers' (each >= 0);
 * NaN without the devices object. */
double rep_copies_missing(const struct rep_run *r);

/* `esmeload compare [--json] A B`: 0, or 2 (usage, a bad file). */
int compare_main(int argc, char **argv);

#endif
