/*
 * jsonw: JSON writer into a caller buffer with a latched first error.
 * see include/jsonw.h
 *
 * The writer trusts the caller for structure (it does not know whether the
 * open container is an object or an array); it only refuses what would
 * corrupt its own bookkeeping: closing at depth 0 or nesting too deep.
 * Depth d (1..JW_MAX_DEPTH) keeps its "nothing written yet" flag in bit d-1
 * of w->first. A key sets after_key so its value gets no comma.
 */
#include "jsonw.h"
#include "utf8.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jw_init(struct jw *w, char *buf, size_t cap)
{
	w->buf = buf;
	w->cap = cap;
	w->len = 0;
	w->err = 0;
	w->depth = 0;
	w->first = 0;
	w->after_key = 0;
}

long jw_finish(const struct jw *w)
{
	return w->err ? w->err : (long)w->len;
}

static void fail(struct jw *w, int err)
{
	if (!w->err)
		w->err = err;
}

static void put(struct jw *w, const void *p, size_t n)
{
	if (w->err)
		return;
	if (w->cap - w->len < n) {
		fail(w, -ENOSPC);
		return;
	}
	memcpy(w->buf + w->len, p, n);
	w->len += n;
}

static void putc1(struct jw *w, char c)
{
	put(w, &c, 1);
}

/* Separator before a value or key at the current depth. */
static void sep(struct jw *w)
{
	uint32_t bit;

	if (w->err)
		return;
	if (w->after_key) {
		w->after_key = 0;
		return;
	}
	if (w->depth == 0)
		return;
	bit = (uint32_t)1 << (w->depth - 1);
	if (w->first & bit)
		w->first &= ~bit;
	else
		putc1(w, ',');
}

static void open_(struct jw *w, char c)
{
	sep(w);
	if (w->err)
		return;
	if (w->depth >= JW_MAX_DEPTH) {
		fail(w, -EINVAL);
		return;
	}
	putc1(w, c);
	if (w->err)
		return;
	w->depth++;
	w->first |= (uint32_t)1 << (w->depth - 1);
}

static void close_(struct jw *w, char c)
{
	if (w->err)
		return;
	if (w->depth == 0 || w->after_key) {
		fail(w, -EINVAL);
		return;
	}
	putc1(w, c);
	if (w->err)
		return;
	w->first &= ~((uint32_t)1 << (w->depth - 1));
	w->depth--;
}

void jw_obj_begin(struct jw *w)
{
	open_(w, '{');
}

void jw_obj_end(struct jw *w)
{
	close_(w, '}');
}

void jw_arr_begin(struct jw *w)
{
	open_(w, '[');
}

void jw_arr_end(struct jw *w)
{
	close_(w, ']');
}

static void put_escaped(struct jw *w, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run = 0;

	putc1(w, '"');
	while (i < n && !w->err) {
		unsigned char c = p[i];
		char esc[6];
		size_t l;

		if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
			i++;
			run++;
			continue;
		}
		/* Flush the plain run before the byte that needs care. */
		put(w, s + i - run, run);
		run = 0;
		if (c >= 0x80) {
			l = utf8_seq(p + i, n - i);
			if (l) {
				put(w, s + i, l);
				i += l;
			} else {
				/* One bad byte becomes one U+FFFD. */
				put(w, "\xef\xbf\xbd", 3);
				i++;
			}
			continue;
		}
		esc[0] = '\\';
		switch (c) {
		case '"': esc[1] = '"'; l = 2; break;
		case '\\': esc[1] = '\\'; l = 2; break;
		case '\b': esc[1] = 'b'; l = 2; break;
		case '\f': esc[1] = 'f'; l = 2; break;
		case '\n': esc[1] = 'n'; l = 2; break;
		case '\r': esc[1] = 'r'; l = 2; break;
		case '\t': esc[1] = 't'; l = 2; break;
		default:
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			l = 6;
		}
		put(w, esc, l);
		i++;
	}
	put(w, s + i - run, run);
	putc1(w, '"');
}

void jw_key(struct jw *w, const char *key)
{
	if (w->err)
		return;
	if (w->depth == 0 || w->after_key) {
		fail(w, -EINVAL);
		return;
	}
	sep(w);
	put_escaped(w, key, strlen(key));
	putc1(w, ':');
	if (!w->err)
		w->after_key = 1;
}

void jw_str(struct jw *w, const char *s, size_t n)
{
	sep(w);
	put_escaped(w, s, n);
}

void jw_cstr(struct jw *w, const char *s)
{
	jw_str(w, s, strlen(s));
}

static void put_num(struct jw *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A formatted scalar, written whole or not at all. */
static void put_num(struct jw *w, const char *fmt, ...)
{
	char tmp[40];
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (k < 0 || (size_t)k >= sizeof(tmp)) {
		fail(w, -EINVAL);
		return;
	}
	put(w, tmp, (size_t)k);
}

void jw_i64(struct jw *w, int64_t v)
{
	sep(w);
	put_num(w, "%" PRId64, v);
}

void jw_u64(struct jw *w, uint64_t v)
{
	sep(w);
	put_num(w, "%" PRIu64, v);
}

void jw_f64(struct jw *w, double v)
{
	char tmp[40];
	int k = 0;

	if (w->err)
		return;
	if (!isfinite(v)) {
		fail(w, -EINVAL);
		return;
	}
	/*
	 * 17 significant digits always round-trip a double; fewer often do
	 * and read better (0.1 rather than 0.10000000000000001). %g never
	 * prints a form JSON refuses for a finite value ("1e+20", "-0" and
	 * "0.5" are all valid), assuming the C locale's '.'.
	 */
	for (int prec = 15; prec <= 17; prec++) {
		k = snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
		if (k > 0 && (size_t)k < sizeof(tmp) && strtod(tmp, NULL) == v)
			break;
	}
	sep(w);
	put(w, tmp, (size_t)k);
}

void jw_bool(struct jw *w, int v)
{
	sep(w);
	if (v)
		put(w, "true", 4);
	else
		put(w, "false", 5);
}

void jw_null(struct jw *w)
{
	sep(w);
	put(w, "null", 4);
}

void jw_raw(struct jw *w, const char *s, size_t n)
{
	sep(w);
	put(w, s, n);
}

void jw_kv_u64(struct jw *w, const char *key, uint64_t v)
{
	jw_key(w, key);
	jw_u64(w, v);
}

void jw_kv_i64(struct jw *w, const char *key, int64_t v)
{
	jw_key(w, key);
	jw_i64(w, v);
}

void jw_kv_cstr(struct jw *w, const char *key, const char *s)
{
	jw_key(w, key);
	jw_cstr(w, s);
}
