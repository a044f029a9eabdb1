/*
 * report/svg: a small chart writer for the report page: nice ticks, axes
 * with a grid, paths, x markers and a legend, as inline SVG text. See
 * src/report/report.h.
 */
#include "report/report.h"

#include <errno.h>
#include <math.h>
#include <string.h>

/* Layout, in viewBox units (about CSS pixels at 100 %). */
#define M_LEFT 74.0
#define M_RIGHT 26.0
#define M_TOP 14.0
#define M_BOTTOM 58.0
#define LEGEND_ROW 22.0
#define CHAR_W 7.0      /* a rough mean glyph width at 13 px sans-serif */
#define SWATCH_W 26.0
#define MARK_R 7.0
#define GRID_MAJOR "#c8c8c8"
#define GRID_MINOR "#ececec"

/* see report.h */
int svg_nice_ticks(double lo, double hi, int target, struct svg_ticks *t)
{
	static const double mult[] = { 1, 2, 5 };
	double span, mag, step = 0;

	if (!isfinite(lo) || !isfinite(hi) || target < 2)
		return -EINVAL;
	if (hi < lo) {
		double x = lo;

		lo = hi;
		hi = x;
	}
	if (hi == lo) {
		if (lo == 0) {
			hi = 1;
		} else if (lo > 0) {
			/* One value: an axis from 0 shows it in proportion. */
			lo = 0;
		} else {
			hi = 0;
		}
	}
	span = hi - lo;
	/* Below span / target no step fits. Alignment to multiples can
	 * cost one more interval than span / step, so the search may go on
	 * past 10 x that; a step of at least span always fits in two. */
	mag = pow(10, floor(log10(span / target)));
	for (int found = 0; !found; mag *= 10) {
		for (size_t i = 0; i < sizeof(mult) / sizeof(mult[0]); i++) {
			step = mult[i] * mag;
			/* The epsilon keeps 0.3 / 0.1 = 2.9999... from
			 * adding a whole interval. */
			if (ceil(hi / step - 1e-9) -
				    floor(lo / step + 1e-9) <= target) {
				found = 1;
				break;
			}
		}
	}
	t->step = step;
	t->lo = floor(lo / step + 1e-9) * step;
	t->hi = ceil(hi / step - 1e-9) * step;
	if (t->lo == 0)
		t->lo = 0; /* no -0 */
	return (int)lround((t->hi - t->lo) / step);
}

/* Decimals that show multiples of step exactly (step of 1, 2 or 5 x 10^k). */
static int decimals(double step)
{
	int d;

	if (!(step > 0) || step >= 1)
		return 0;
	d = (int)ceil(-log10(step) - 1e-9);
	return d > 12 ? 12 : d;
}

/* see report.h */
size_t svg_fmt_num(char *dst, size_t cap, double v, double step)
{
	const char *suffix = "";
	double a = fabs(v);
	int n, d;

	if (!cap)
		return 0;
	if (!isfinite(v)) {
		dst[0] = 0;
		return 0;
	}
	if (a < step * 1e-6) {
		/* 1e-17 from accumulated steps is 0, and 0 needs no
		 * decimals. */
		return (size_t)snprintf(dst, cap, "%s", cap > 1 ? "0" : "");
	}
	if (a >= 1e6 && step >= 1e5) {
		v /= 1e6;
		step /= 1e6;
		suffix = "M";
	} else if (a >= 1e4 && step >= 100) {
		v /= 1e3;
		step /= 1e3;
		suffix = "k";
	}
	d = decimals(step);
	n = snprintf(dst, cap, "%.*f", d, v);
	if (n < 0 || (size_t)n >= cap)
		return 0;
	if (*suffix && d > 0) {
		/* "10.5k", but "10k" rather than "10.0k". */
		while (n > 0 && dst[n - 1] == '0')
			n--;
		if (n > 0 && dst[n - 1] == '.')
			n--;
	}
	if (!strcmp(dst, "-0"))
		n = snprintf(dst, cap, "0");
	n += snprintf(dst + n, cap - (size_t)n, "%s", suffix);
	return (size_t)n < cap ? (size_t)n : cap - 1;
}

/* see report.h */
void svg_axis_fit(struct svg_axis *a, enum svg_scale scale, double lo,
		  double hi, int target, const char *label)
{
	struct svg_ticks t;

	a->scale = scale;
	a->label = label;
	if (scale == SVG_LOG && lo > 0 && hi > 0 && isfinite(lo) &&
	    isfinite(hi)) {
		a->lo = pow(10, floor(log10(lo) + 1e-9));
		a->hi = pow(10, ceil(log10(hi) - 1e-9));
		if (a->hi <= a->lo)
			a->hi = a->lo * 10;
		a->step = 10;
		return;
	}
	if (svg_nice_ticks(isfinite(lo) ? lo : 0, isfinite(hi) ? hi : 1,
			   target, &t) < 0)
		t = (struct svg_ticks){ 0, 1, 0.2 };
	a->scale = SVG_LINEAR;
	a->lo = t.lo;
	a->hi = t.hi;
	a->step = t.step;
}

static double frac(const struct svg_axis *a, double v)
{
	if (a->scale == SVG_LOG)
		return v > 0 ? (log10(v) - log10(a->lo)) /
				       (log10(a->hi) - log10(a->lo))
			     : NAN;
	return (v - a->lo) / (a->hi - a->lo);
}

/* see report.h */
double svg_px(const struct svg_chart *c, double v)
{
	return c->x0 + frac(&c->x, v) * (c->x1 - c->x0);
}

/* see report.h */
double svg_py(const struct svg_chart *c, double v)
{
	return c->y0 - frac(&c->y, v) * (c->y0 - c->y1);
}

/* see report.h */
void svg_begin(struct svg_chart *c, FILE *f, double w, double h,
	       int legend_rows, const char *id, const char *title)
{
	c->f = f;
	c->nbox = 0;
	snprintf(c->id, sizeof(c->id), "%s", id);
	c->w = w;
	c->h = h;
	c->x0 = M_LEFT;
	c->x1 = w - M_RIGHT;
	c->y1 = M_TOP + legend_rows * LEGEND_ROW + (legend_rows ? 6 : 0);
	c->y0 = h - M_BOTTOM;
	fprintf(f, "<svg id=\"%s\" class=\"chart\" viewBox=\"0 0 %.0f %.0f\" "
		   "role=\"img\" aria-label=\"",
		c->id, w, h);
	rep_html_cesc(f, title);
	fprintf(f, "\" font-family=\"sans-serif\" font-size=\"13\">"
		   "<title>");
	rep_html_cesc(f, title);
	fprintf(f, "</title>\n<defs><clipPath id=\"%s-clip\"><rect x=\"%.1f\" "
		   "y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/></clipPath>"
		   "</defs>\n",
		c->id, c->x0, c->y1 - 2, c->x1 - c->x0, c->y0 - c->y1 + 4);
}

static void text(FILE *f, double x, double y, const char *anchor,
		 const char *s)
{
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">", x, y,
		anchor);
	rep_html_cesc(f, s);
	fputs("</text>", f);
}

/* Major ticks with labels and grid lines, half-step minor grid lines. */
static void linear_grid(const struct svg_chart *c, const struct svg_axis *a,
			int vertical)
{
	FILE *f = c->f;
	long steps = lround((a->hi - a->lo) / a->step);

	if (steps < 1 || steps > 1000)
		return;
	for (long i = 0; i <= 2 * steps; i++) {
		double v = a->lo + a->step * (double)i / 2;
		int major = !(i & 1);
		char lab[32];

		if (vertical) {
			double px = svg_px(c, v);

			fprintf(f, "<line stroke=\"%s\" x1=\"%.1f\" y1=\"%.1f\" "
				   "x2=\"%.1f\" y2=\"%.1f\"/>",
				major ? GRID_MAJOR : GRID_MINOR, px, c->y0, px, c->y1);
			if (major) {
				svg_fmt_num(lab, sizeof(lab), v, a->step);
				text(f, px, c->y0 + 18, "middle", lab);
			}
		} else {
			double py = svg_py(c, v);

			fprintf(f, "<line stroke=\"%s\" x1=\"%.1f\" y1=\"%.1f\" "
				   "x2=\"%.1f\" y2=\"%.1f\"/>",
				major ? GRID_MAJOR : GRID_MINOR, c->x0, py, c->x1, py);
			if (major) {
				svg_fmt_num(lab, sizeof(lab), v, a->step);
				text(f, c->x0 - 8, py + 4.5, "end", lab);
			}
		}
		fputc('\n', f);
	}
}

/* Decades labelled, 2..9 times each as minor lines. */
static void log_grid(const struct svg_chart *c, const struct svg_axis *a,
		     int vertical)
{
	FILE *f = c->f;

	for (double d = a->lo; d <= a->hi * 1.0001; d *= 10) {
		for (int m = 1; m < 10; m++) {
			double v = d * m, p;
			char lab[32];

			if (v > a->hi * 1.0001)
				break;
			p = vertical ? svg_px(c, v) : svg_py(c, v);
			if (vertical)
				fprintf(f, "<line stroke=\"%s\" x1=\"%.1f\" "
					   "y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>",
					m == 1 ? GRID_MAJOR : GRID_MINOR, p, c->y0, p,
					c->y1);
			else
				fprintf(f, "<line stroke=\"%s\" x1=\"%.1f\" "
					   "y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>",
					m == 1 ? GRID_MAJOR : GRID_MINOR, c->x0, p, c->x1,
					p);
			if (m == 1) {
				svg_fmt_num(lab, sizeof(lab), d, d);
				if (vertical)
					text(f, p, c->y0 + 18, "middle", lab);
				else
					text(f, c->x0 - 8, p + 4.5, "end", lab);
			}
			fputc('\n', f);
		}
	}
}

/* see report.h */
void svg_axes(const struct svg_chart *c)
{
	FILE *f = c->f;

	/* Presentation attributes only, no stylesheet: the chart reads the
	 * same when cut out of the page. */
	fputs("<g stroke-width=\"1\" fill=\"#222\">\n", f);
	if (c->x.scale == SVG_LOG)
		log_grid(c, &c->x, 1);
	else
		linear_grid(c, &c->x, 1);
	if (c->y.scale == SVG_LOG)
		log_grid(c, &c->y, 0);
	else
		linear_grid(c, &c->y, 0);
	fprintf(f, "<path d=\"M%.1f %.1fV%.1fH%.1f\" fill=\"none\" "
		   "stroke=\"#333\" stroke-width=\"1.2\"/>\n",
		c->x0, c->y1, c->y0, c->x1);
	if (c->x.label) {
		text(f, (c->x0 + c->x1) / 2, c->h - 12, "middle", c->x.label);
		fputc('\n', f);
	}
	if (c->y.label) {
		fprintf(f, "<text transform=\"translate(18 %.1f) rotate(-90)\" "
			   "text-anchor=\"middle\">",
			(c->y0 + c->y1) / 2);
		rep_html_cesc(f, c->y.label);
		fputs("</text>\n", f);
	}
	fputs("</g>\n", f);
}

static const char *dash_attr(enum svg_dash d)
{
	switch (d) {
	case SVG_DASHED: return " stroke-dasharray=\"7 4\"";
	case SVG_DOTTED: return " stroke-dasharray=\"1.5 3.5\"";
	default: return "";
	}
}

/* Writes the points of a path; a point is M (new piece) or L. */
struct pen {
	FILE *f;
	int in_seg;     /* 0: the next point starts a piece */
	int seg_pts;    /* points in the current piece */
};

static void pen_pt(struct pen *p, double x, double y)
{
	if (!p->in_seg) {
		fprintf(p->f, "M%.1f %.1f", x, y);
		p->in_seg = 1;
		p->seg_pts = 1;
		return;
	}
	fprintf(p->f, "%s%.1f %.1f", p->seg_pts == 1 ? "L" : " ", x, y);
	p->seg_pts++;
}

static void pen_break(struct pen *p)
{
	/* A lone point still shows, as a dot of the round line cap. */
	if (p->in_seg && p->seg_pts == 1)
		fputs("h0.1", p->f);
	p->in_seg = 0;
}

/* The points of one pixel column: first, lowest, highest, last. */
struct column {
	int used;
	long col;
	size_t i_first, i_min, i_max, i_last;
	double yf, ymin, ymax, yl, xf, xmin, xmax, xl;
};

static void column_flush(struct column *k, struct pen *p)
{
	if (!k->used)
		return;
	pen_pt(p, k->xf, k->yf);
	/* SVG y grows downwards: "lowest" is the largest y; order by index
	 * so the line runs forward in time. */
	if (k->i_min < k->i_max) {
		if (k->i_min != k->i_first && k->i_min != k->i_last)
			pen_pt(p, k->xmin, k->ymin);
		if (k->i_max != k->i_first && k->i_max != k->i_last)
			pen_pt(p, k->xmax, k->ymax);
	} else {
		if (k->i_max != k->i_first && k->i_max != k->i_last)
			pen_pt(p, k->xmax, k->ymax);
		if (k->i_min != k->i_first && k->i_min != k->i_last)
			pen_pt(p, k->xmin, k->ymin);
	}
	if (k->i_last != k->i_first)
		pen_pt(p, k->xl, k->yl);
	k->used = 0;
}

/* see report.h */
void svg_path(const struct svg_chart *c, const double *x, const double *y,
	      size_t n, const char *color, enum svg_dash dash, double width)
{
	struct pen p = { c->f, 0, 0 };
	struct column k = { 0 };

	fprintf(c->f, "<path clip-path=\"url(#%s-clip)\" fill=\"none\" "
		      "stroke=\"%s\" stroke-width=\"%.1f\" "
		      "stroke-linejoin=\"round\" stroke-linecap=\"round\"%s "
		      "d=\"",
		c->id, color, width, dash_attr(dash));
	for (size_t i = 0; i < n; i++) {
		double px = svg_px(c, x[i]), py = svg_py(c, y[i]);
		long col;

		if (!isfinite(px) || !isfinite(py)) {
			column_flush(&k, &p);
			pen_break(&p);
			continue;
		}
		col = lround(floor(px));
		if (k.used && col == k.col) {
			if (py > k.ymin) {
				k.ymin = py;
				k.xmin = px;
				k.i_min = i;
			}
			if (py < k.ymax) {
				k.ymax = py;
				k.xmax = px;
				k.i_max = i;
			}
			k.i_last = i;
			k.xl = px;
			k.yl = py;
			continue;
		}
		column_flush(&k, &p);
		k = (struct column){ 1, col, i, i, i, i, py, py, py, py,
				     px, px, px, px };
	}
	column_flush(&k, &p);
	pen_break(&p);
	fputs("\"/>\n", c->f);
}

static void x_mark(FILE *f, double x, double y, double r, const char *color,
		   double width)
{
	fprintf(f, "<path d=\"M%.1f %.1fL%.1f %.1fM%.1f %.1fL%.1f %.1f\" "
		   "stroke=\"%s\" stroke-width=\"%.1f\" "
		   "stroke-linecap=\"round\"/>",
		x - r, y - r, x + r, y + r, x - r, y + r, x + r, y - r, color,
		width);
}

static void add_box(struct svg_chart *c, double x0, double y0, double x1,
		    double y1)
{
	if (c->nbox < SVG_MAX_BOXES)
		c->box[c->nbox++] = (struct svg_box){ x0, y0, x1, y1 };
}

static int box_free(const struct svg_chart *c, const struct svg_box *b)
{
	if (b->x0 < c->x0 || b->x1 > c->x1 || b->y0 < c->y1 || b->y1 > c->y0)
		return 0;
	for (unsigned i = 0; i < c->nbox; i++) {
		const struct svg_box *o = &c->box[i];

		if (b->x0 < o->x1 && o->x0 < b->x1 && b->y0 < o->y1 &&
		    o->y0 < b->y1)
			return 0;
	}
	return 1;
}

/* see report.h */
void svg_marker(struct svg_chart *c, double x, double y, const char *color)
{
	double px = svg_px(c, x), py = svg_py(c, y);

	if (!isfinite(px) || !isfinite(py))
		return;
	x_mark(c->f, px, py, MARK_R, color, 3);
	fputc('\n', c->f);
	add_box(c, px - MARK_R - 1, py - MARK_R - 1, px + MARK_R + 1,
		py + MARK_R + 1);
}

/* see report.h */
void svg_marker_label(struct svg_chart *c, double x, double y,
		      const char *label)
{
	/* Label box offsets from the marker: right, left, above, below. */
	static const struct { double dx, dy; int left; } place[] = {
		{ 10, -18, 0 }, { 10, 4, 0 }, { -10, -18, 1 }, { -10, 4, 1 },
		{ 0, -26, 2 }, { 0, 12, 2 },
	};
	double px = svg_px(c, x), py = svg_py(c, y);
	double tw = CHAR_W * (double)strlen(label) + 4, th = 15;
	struct svg_box b = { 0 }, first = { 0 };
	int found = 0;

	if (!isfinite(px) || !isfinite(py) || !*label)
		return;
	/* The six places, then the same ones further out. */
	for (int ring = 0; ring < 8 && !found; ring++) {
		for (size_t i = 0; i < sizeof(place) / sizeof(place[0]); i++) {
			double dy = place[i].dy +
				    (place[i].dy < 0 ? -1 : 1) * ring * th;
			double bx = place[i].left == 1 ? px + place[i].dx - tw
				  : place[i].left == 2 ? px - tw / 2
						       : px + place[i].dx;

			b = (struct svg_box){ bx, py + dy, bx + tw,
					      py + dy + th };
			if (!ring && !i)
				first = b;
			if (box_free(c, &b)) {
				found = 1;
				break;
			}
		}
	}
	if (!found)
		b = first;
	add_box(c, b.x0, b.y0, b.x1, b.y1);
	fprintf(c->f, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#222\" "
		      "font-weight=\"600\">",
		b.x0 + 2, b.y1 - 3.5);
	rep_html_cesc(c->f, label);
	fputs("</text>\n", c->f);
}

/* Position of legend item i: its x and row, for width w. */
static void legend_place(double w, const struct svg_legend_item *it,
			 size_t i_want, double *x, int *row)
{
	double cx = M_LEFT, right = w - M_RIGHT;
	int r = 0;

	for (size_t i = 0;; i++) {
		double iw = SWATCH_W + 6 + CHAR_W * (double)strlen(it[i].text);

		if (cx > M_LEFT && cx + iw > right) {
			cx = M_LEFT;
			r++;
		}
		if (i == i_want) {
			*x = cx;
			*row = r;
			return;
		}
		cx += iw + 22;
	}
}

/* see report.h */
int svg_legend_rows(double w, const struct svg_legend_item *it, size_t n)
{
	double x;
	int row;

	if (!n)
		return 0;
	legend_place(w, it, n - 1, &x, &row);
	return row + 1;
}

/* see report.h */
void svg_legend(const struct svg_chart *c, const struct svg_legend_item *it,
		size_t n)
{
	FILE *f = c->f;

	fputs("<g class=\"legend\" fill=\"#222\">\n", f);
	for (size_t i = 0; i < n; i++) {
		double x, y;
		int row;

		legend_place(c->w, it, i, &x, &row);
		y = M_TOP + 4 + row * LEGEND_ROW;
		if (it[i].marker)
			x_mark(f, x + SWATCH_W / 2, y, 5, it[i].color, 2.5);
		else
			fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
				   "y2=\"%.1f\" stroke=\"%s\" "
				   "stroke-width=\"3\"%s/>",
				x, y, x + SWATCH_W, y, it[i].color,
				dash_attr(it[i].dash));
		text(f, x + SWATCH_W + 6, y + 4.5, "start", it[i].text);
		fputc('\n', f);
	}
	fputs("</g>\n", f);
}

/* see report.h */
void svg_end(const struct svg_chart *c)
{
	fputs("</svg>\n", c->f);
}
