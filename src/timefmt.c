/*
 * timefmt: RFC 3339 timestamps and Go time.Duration text.
 * see include/timefmt.h
 *
 * Civil dates use the proleptic Gregorian calendar split into 400-year eras
 * of 146097 days, with years starting on March 1 so that the leap day is
 * the last day of the year; that keeps the month arithmetic free of
 * special cases (H. Hinnant's well-known formulation of the calendar).
 *
 * The conversions are exact for any day count or year whose magnitude is
 * far below 2^63 / 146097 (the era arithmetic multiplies by that); callers
 * here stay within a few thousand years.
 *
 * Durations follow Go's time package: String() prints h, m and s with a
 * trimmed fraction, or one sub-second unit (ns, µs, ms) below one second;
 * ParseDuration accumulates an unsigned magnitude up to 1<<63 so that the
 * most negative duration is accepted, and scales fractions through a
 * double exactly as Go does, so results match bit for bit.
 */
#include "timefmt.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define SECS_PER_DAY 86400

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

int64_t timefmt_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = floor_div(y, 400);
	yoe = y - era * 400;                             /* [0, 399] */
	doy = (153 * (int64_t)(m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;     /* [0, 146096] */
	return era * 146097 + doe - 719468;
}

void timefmt_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468; /* shift the epoch to 0000-03-01 */
	era = floor_div(z, 146097);
	doe = z - era * 146097;                                       /* [0, 146096] */
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);                /* [0, 365] */
	mp = (5 * doy + 2) / 153;                                     /* [0, 11] */
	*d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	*m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static bool is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(int64_t y, unsigned m)
{
	static const unsigned char dm[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31,
	};

	return m == 2 && is_leap(y) ? 29 : dm[m - 1];
}

/* Write v as exactly w decimal digits (v < 10^w). */
static char *put_digits(char *p, uint64_t v, int w)
{
	for (int i = w - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return p + w;
}

size_t timefmt_rfc3339(char *dst, size_t cap, int64_t sec, int32_t nsec,
		       int32_t utc_offset_s, enum timefmt_frac frac)
{
	char tmp[TIMEFMT_RFC3339_MAX];
	char *p = tmp;
	int64_t local, days, sod, y;
	unsigned mo, d;
	size_t n;

	if (nsec < 0 || nsec >= 1000000000)
		return 0;
	/* RFC 3339 offsets are hh:mm with hh <= 23. */
	if (utc_offset_s <= -SECS_PER_DAY || utc_offset_s >= SECS_PER_DAY)
		return 0;
	if (__builtin_add_overflow(sec, (int64_t)utc_offset_s, &local))
		return 0;
	days = floor_div(local, SECS_PER_DAY);
	/* Not local - days * 86400: that product overflows near INT64_MIN. */
	sod = local % SECS_PER_DAY;
	if (sod < 0)
		sod += SECS_PER_DAY;
	/* Bound days before the calendar math so nothing in it can overflow. */
	if (days < -800000 || days > 3000000)
		return 0;
	timefmt_civil_from_days(days, &y, &mo, &d);
	if (y < 0 || y > 9999)
		return 0;

	p = put_digits(p, (uint64_t)y, 4);
	*p++ = '-';
	p = put_digits(p, mo, 2);
	*p++ = '-';
	p = put_digits(p, d, 2);
	*p++ = 'T';
	p = put_digits(p, (uint64_t)(sod / 3600), 2);
	*p++ = ':';
	p = put_digits(p, (uint64_t)(sod / 60 % 60), 2);
	*p++ = ':';
	p = put_digits(p, (uint64_t)(sod % 60), 2);

	if (frac == TIMEFMT_NANO_FIXED ||
	    (frac == TIMEFMT_NANO_TRIM && nsec != 0)) {
		int w = 9;
		uint64_t v = (uint64_t)nsec;

		if (frac == TIMEFMT_NANO_TRIM) {
			while (v % 10 == 0) {
				v /= 10;
				w--;
			}
		}
		*p++ = '.';
		p = put_digits(p, v, w);
	}

	if (utc_offset_s == 0) {
		*p++ = 'Z';
	} else {
		/*
		 * Go prints the offset's whole minutes, truncated toward
		 * zero, and takes the sign from them: -59 s is "+00:00".
		 */
		int32_t zone = utc_offset_s / 60;

		*p++ = zone < 0 ? '-' : '+';
		if (zone < 0)
			zone = -zone;
		p = put_digits(p, (uint64_t)(zone / 60), 2);
		*p++ = ':';
		p = put_digits(p, (uint64_t)(zone % 60), 2);
	}

	n = (size_t)(p - tmp);
	if (n + 1 > cap)
		return 0;
	memcpy(dst, tmp, n);
	dst[n] = '\0';
	return n;
}

/* Exactly w digits at s[*i] into *v. */
static bool get_digits(const char *s, size_t n, size_t *i, int w, unsigned *v)
{
	unsigned x = 0;

	if (n - *i < (size_t)w)
		return false;
	for (int k = 0; k < w; k++) {
		char c = s[*i + (size_t)k];

		if (c < '0' || c > '9')
			return false;
		x = x * 10 + (unsigned)(c - '0');
	}
	*i += (size_t)w;
	*v = x;
	return true;
}

static bool get_char(const char *s, size_t n, size_t *i, char c)
{
	if (*i >= n || s[*i] != c)
		return false;
	(*i)++;
	return true;
}

int timefmt_rfc3339_parse(const char *s, size_t n, int64_t *sec,
			  int32_t *nsec, int32_t *utc_offset_s)
{
	size_t i = 0;
	unsigned y, mo, d, hh, mi, ss, oh, om;
	int32_t ns = 0, off = 0;

	if (!get_digits(s, n, &i, 4, &y) || !get_char(s, n, &i, '-') ||
	    !get_digits(s, n, &i, 2, &mo) || !get_char(s, n, &i, '-') ||
	    !get_digits(s, n, &i, 2, &d))
		return -EINVAL;
	if (i >= n || (s[i] != 'T' && s[i] != 't'))
		return -EINVAL;
	i++;
	if (!get_digits(s, n, &i, 2, &hh) || !get_char(s, n, &i, ':') ||
	    !get_digits(s, n, &i, 2, &mi) || !get_char(s, n, &i, ':') ||
	    !get_digits(s, n, &i, 2, &ss))
		return -EINVAL;
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
		return -EINVAL;
	/* Go, like most Unix-time code, has no leap second 60. */
	if (hh > 23 || mi > 59 || ss > 59)
		return -EINVAL;

	if (i < n && s[i] == '.') {
		int digits = 0;

		i++;
		while (i < n && s[i] >= '0' && s[i] <= '9') {
			if (++digits > 9)
				return -EINVAL;
			ns = ns * 10 + (s[i] - '0');
			i++;
		}
		if (digits == 0)
			return -EINVAL;
		for (int k = digits; k < 9; k++)
			ns *= 10;
	}

	if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i < n && (s[i] == '+' || s[i] == '-')) {
		int neg = s[i] == '-';

		i++;
		if (!get_digits(s, n, &i, 2, &oh) || !get_char(s, n, &i, ':') ||
		    !get_digits(s, n, &i, 2, &om) || oh > 23 || om > 59)
			return -EINVAL;
		off = (int32_t)(oh * 3600 + om * 60);
		if (neg)
			off = -off;
	} else {
		return -EINVAL;
	}
	if (i != n)
		return -EINVAL;

	*sec = timefmt_days_from_civil(y, mo, d) * SECS_PER_DAY +
	       (int64_t)(hh * 3600 + mi * 60 + ss) - off;
	*nsec = ns;
	*utc_offset_s = off;
	return 0;
}

/*
 * Write v's digits right-aligned ending before *end; returns the new start.
 */
static char *fmt_int(char *end, uint64_t v)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return end;
}

/*
 * Print v/10^prec with its fraction before end, trimming trailing zeros
 * (and the '.' if nothing is left); *v becomes the integer part.
 */
static char *fmt_frac(char *end, uint64_t *v, int prec)
{
	bool print = false;
	uint64_t x = *v;

	for (int i = 0; i < prec; i++) {
		unsigned dg = (unsigned)(x % 10);

		print = print || dg != 0;
		if (print)
			*--end = (char)('0' + dg);
		x /= 10;
	}
	if (print)
		*--end = '.';
	*v = x;
	return end;
}

size_t timefmt_go_duration(char *dst, size_t cap, int64_t ns)
{
	char buf[TIMEFMT_DURATION_MAX];
	char *end = buf + sizeof(buf), *p = end;
	bool neg = ns < 0;
	/* Negate in unsigned arithmetic: INT64_MIN has no positive twin. */
	uint64_t u = neg ? -(uint64_t)ns : (uint64_t)ns;
	size_t n;

	if (u < 1000000000) {
		/* Under a second: one unit, the smallest that keeps it >= 1. */
		int prec;

		*--p = 's';
		if (u == 0) {
			*--p = '0';
			goto out;
		}
		if (u < 1000) {
			prec = 0;
			*--p = 'n';
		} else if (u < 1000000) {
			prec = 3;
			p -= 2;
			memcpy(p, "\xc2\xb5", 2); /* U+00B5 MICRO SIGN, as Go */
		} else {
			prec = 6;
			*--p = 'm';
		}
		p = fmt_frac(p, &u, prec);
		p = fmt_int(p, u);
	} else {
		*--p = 's';
		p = fmt_frac(p, &u, 9);
		/* u is now whole seconds. */
		p = fmt_int(p, u % 60);
		u /= 60;
		if (u > 0) {
			*--p = 'm';
			p = fmt_int(p, u % 60);
			u /= 60;
			if (u > 0) {
				*--p = 'h';
				p = fmt_int(p, u);
			}
		}
	}
	if (neg)
		*--p = '-';
out:
	n = (size_t)(end - p);
	if (n + 1 > cap)
		return 0;
	memcpy(dst, p, n);
	dst[n] = '\0';
	return n;
}

struct unit {
	const char *name;
	uint64_t ns;
};

static const struct unit units[] = {
	{ "ns", 1 },
	{ "us", 1000 },
	{ "\xc2\xb5s", 1000 }, /* U+00B5 MICRO SIGN */
	{ "\xce\xbcs", 1000 }, /* U+03BC GREEK SMALL LETTER MU */
	{ "ms", 1000000 },
	{ "s", 1000000000 },
	{ "m", 60ULL * 1000000000 },
	{ "h", 3600ULL * 1000000000 },
};

int timefmt_duration_parse(const char *s, size_t n, int64_t *ns)
{
	const uint64_t lim = (uint64_t)1 << 63;
	size_t i = 0;
	uint64_t total = 0;
	bool neg = false;

	if (i < n && (s[i] == '-' || s[i] == '+')) {
		neg = s[i] == '-';
		i++;
	}
	/* "0" needs no unit, and only "0" (signed or not). */
	if (n - i == 1 && s[i] == '0') {
		*ns = 0;
		return 0;
	}
	if (i == n)
		return -EINVAL;

	while (i < n) {
		uint64_t v = 0, f = 0, unit = 0;
		double scale = 1;
		bool pre = false, post = false, f_over = false;
		size_t u0, ul;

		if (!(s[i] == '.' || (s[i] >= '0' && s[i] <= '9')))
			return -EINVAL;
		/* Integer part; a magnitude past 1<<63 can never fit. */
		while (i < n && s[i] >= '0' && s[i] <= '9') {
			unsigned dg = (unsigned)(s[i] - '0');

			if (v > (lim - dg) / 10)
				return -ERANGE;
			v = v * 10 + dg;
			i++;
			pre = true;
		}
		/* Fraction: digits beyond what fits are read but ignored. */
		if (i < n && s[i] == '.') {
			i++;
			while (i < n && s[i] >= '0' && s[i] <= '9') {
				unsigned dg = (unsigned)(s[i] - '0');

				post = true;
				i++;
				if (f_over)
					continue;
				if (f > (lim - 1) / 10 || f * 10 + dg > lim) {
					f_over = true;
					continue;
				}
				f = f * 10 + dg;
				scale *= 10;
			}
		}
		if (!pre && !post)
			return -EINVAL; /* "." or ".s" */

		u0 = i;
		while (i < n && s[i] != '.' && !(s[i] >= '0' && s[i] <= '9'))
			i++;
		ul = i - u0;
		if (ul == 0)
			return -EINVAL; /* missing unit */
		for (size_t k = 0; k < sizeof(units) / sizeof(units[0]); k++) {
			if (strlen(units[k].name) == ul &&
			    memcmp(units[k].name, s + u0, ul) == 0) {
				unit = units[k].ns;
				break;
			}
		}
		if (!unit)
			return -EINVAL;

		if (v > lim / unit)
			return -ERANGE;
		v *= unit;
		if (f > 0) {
			/* Go scales the fraction in float64; do the same. */
			v += (uint64_t)((double)f * ((double)unit / scale));
			if (v > lim)
				return -ERANGE;
		}
		total += v;
		if (total > lim)
			return -ERANGE;
	}
	if (neg) {
		/* 1<<63 is only reachable negated: INT64_MIN. */
		*ns = total == lim ? INT64_MIN : -(int64_t)total;
		return 0;
	}
	if (total > lim - 1)
		return -ERANGE;
	*ns = (int64_t)total;
	return 0;
}
