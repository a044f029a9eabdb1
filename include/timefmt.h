/*
 * timefmt: the time formats of the ESME wire and of the Go tool's outputs,
 * no I/O. RFC 3339 timestamps and Go's time.Duration text.
 */
#ifndef ESMELOAD_TIMEFMT_H
#define ESMELOAD_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

enum timefmt_frac {
	TIMEFMT_SECONDS = 0,   /* 2023-01-02T15:04:05Z */
	TIMEFMT_NANO_TRIM = 1, /* Go RFC3339Nano: fraction with trailing zeros cut */
	TIMEFMT_NANO_FIXED = 2,/* always 9 fraction digits */
};

/* Longest output of timefmt_rfc3339, NUL included. */
#define TIMEFMT_RFC3339_MAX 40

/*
 * Format the instant sec.nsec (Unix time, 0 <= nsec < 1e9) as RFC 3339 in the
 * zone utc_offset_s seconds east of UTC ("Z" when 0, else "+hh:mm", as Go
 * does). Years 0..9999. Returns the length written (NUL added), or 0 when
 * cap is too small or the year is out of range.
 */
size_t timefmt_rfc3339(char *dst, size_t cap, int64_t sec, int32_t nsec,
		       int32_t utc_offset_s, enum timefmt_frac frac);

/*
 * Parse RFC 3339 (date "T" or "t" time, optional fraction of 1-9 digits,
 * "Z" or an offset) into Unix sec/nsec and the offset. Returns 0 or -EINVAL
 * (including invalid dates such as February 30).
 */
int timefmt_rfc3339_parse(const char *s, size_t n, int64_t *sec,
			  int32_t *nsec, int32_t *utc_offset_s);

/* Longest output of timefmt_go_duration, NUL included. */
#define TIMEFMT_DURATION_MAX 40

/*
 * Go's time.Duration.String() of ns nanoseconds: "0s", "500ns", "1.5µs",
 * "1.5ms", "2m23.810203s", "1h0m0s", "-1.5s". Returns the length (NUL added),
 * or 0 when cap is too small.
 */
size_t timefmt_go_duration(char *dst, size_t cap, int64_t ns);

/*
 * Parse a Go duration string ("300ms", "1.5h", "2h45m", "-1s", "1µs"/"1us")
 * into nanoseconds, as time.ParseDuration does. A bare number other than "0"
 * has no unit and is -EINVAL; overflow is -ERANGE.
 */
int timefmt_duration_parse(const char *s, size_t n, int64_t *ns);

/* Days since 1970-01-01 of a civil date, and back (proleptic Gregorian). */
int64_t timefmt_days_from_civil(int64_t y, unsigned m, unsigned d);
void timefmt_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);

#endif
