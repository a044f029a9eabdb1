/* Unit tests for timefmt: RFC 3339, Go durations, civil dates. */
#include "timefmt.h"

#include "test.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SEC_0001 (-62135596800LL) /* 0001-01-01T00:00:00Z, Go's zero Time */

static uint64_t rng_next(uint64_t *s)
{
	/* xorshift64*: deterministic spread of values. */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

/* Parse from a heap copy of exactly n bytes so ASan sees any overread. */
static int parse_exact(const char *s, size_t n, int64_t *sec, int32_t *nsec,
		       int32_t *off)
{
	char *copy = malloc(n ? n : 1);
	int r;

	if (!copy)
		return -ENOMEM;
	memcpy(copy, s, n);
	r = timefmt_rfc3339_parse(copy, n, sec, nsec, off);
	free(copy);
	return r;
}

static int rfc3339_format(void)
{
	static const struct {
		int64_t sec;
		int32_t nsec, off;
		enum timefmt_frac frac;
		const char *want;
	} v[] = {
		{ 0, 0, 0, TIMEFMT_SECONDS, "1970-01-01T00:00:00Z" },
		{ -1, 0, 0, TIMEFMT_SECONDS, "1969-12-31T23:59:59Z" },
		{ 1672671845, 0, 0, TIMEFMT_SECONDS, "2023-01-02T15:04:05Z" },
		{ 1672671845, 999999999, 0, TIMEFMT_SECONDS, "2023-01-02T15:04:05Z" },
		{ SEC_0001, 0, 0, TIMEFMT_SECONDS, "0001-01-01T00:00:00Z" },
		{ SEC_0001, 0, 0, TIMEFMT_NANO_TRIM, "0001-01-01T00:00:00Z" },
		{ 253402300799, 0, 0, TIMEFMT_SECONDS, "9999-12-31T23:59:59Z" },
		{ 951825600, 0, 0, TIMEFMT_SECONDS, "2000-02-29T12:00:00Z" },
		{ 1709251199, 0, 0, TIMEFMT_SECONDS, "2024-02-29T23:59:59Z" },
		{ -2203891200, 0, 0, TIMEFMT_SECONDS, "1900-03-01T00:00:00Z" },
		{ -2203891201, 0, 0, TIMEFMT_SECONDS, "1900-02-28T23:59:59Z" },
		/* Fractions. */
		{ 1672671845, 123456789, 0, TIMEFMT_NANO_TRIM, "2023-01-02T15:04:05.123456789Z" },
		{ 1672671845, 120000000, 0, TIMEFMT_NANO_TRIM, "2023-01-02T15:04:05.12Z" },
		{ 1672671845, 1, 0, TIMEFMT_NANO_TRIM, "2023-01-02T15:04:05.000000001Z" },
		{ 1672671845, 0, 0, TIMEFMT_NANO_TRIM, "2023-01-02T15:04:05Z" },
		{ 1672671845, 0, 0, TIMEFMT_NANO_FIXED, "2023-01-02T15:04:05.000000000Z" },
		{ 1672671845, 120000000, 0, TIMEFMT_NANO_FIXED, "2023-01-02T15:04:05.120000000Z" },
		{ 1672671845, 500000000, 0, TIMEFMT_NANO_TRIM, "2023-01-02T15:04:05.5Z" },
		/* Offsets: local wall time, zone hh:mm. */
		{ 1672671845, 0, 7200, TIMEFMT_SECONDS, "2023-01-02T17:04:05+02:00" },
		{ 1672671845, 0, -19800, TIMEFMT_SECONDS, "2023-01-02T09:34:05-05:30" },
		{ 1672671845, 0, -57600, TIMEFMT_SECONDS, "2023-01-01T23:04:05-16:00" },
		{ 0, 0, 3661, TIMEFMT_SECONDS, "1970-01-01T01:01:01+01:01" },
		{ 0, 0, -59, TIMEFMT_SECONDS, "1969-12-31T23:59:01+00:00" }, /* as Go */
		{ 0, 0, 86399, TIMEFMT_SECONDS, "1970-01-01T23:59:59+23:59" },
		{ 1700000000, 123400000, 3600, TIMEFMT_NANO_TRIM, "2023-11-14T23:13:20.1234+01:00" },
		{ 253402300799, 999999999, -86399, TIMEFMT_NANO_FIXED, "9999-12-31T00:00:00.999999999-23:59" },
		/* Year 0 exists in the proleptic calendar (and is leap). */
		{ SEC_0001 - 366 * 86400, 0, 0, TIMEFMT_SECONDS, "0000-01-01T00:00:00Z" },
		{ SEC_0001 - 307 * 86400, 0, 0, TIMEFMT_SECONDS, "0000-02-29T00:00:00Z" },
	};
	char buf[TIMEFMT_RFC3339_MAX];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		size_t n = timefmt_rfc3339(buf, sizeof(buf), v[i].sec,
					   v[i].nsec, v[i].off, v[i].frac);

		check_span(buf, n, v[i].want);
		check_eq(buf[n], '\0');
	}
	return 0;
}

static int rfc3339_format_limits(void)
{
	char buf[TIMEFMT_RFC3339_MAX];
	size_t n;

	/* Out of range years, nsec and offsets give 0. */
	check_eq(timefmt_rfc3339(buf, sizeof(buf), 253402300800, 0, 0, 0), 0);
	check_eq(timefmt_rfc3339(buf, sizeof(buf), SEC_0001 - 366 * 86400 - 1,
				 0, 0, 0),
		 0);
	check_eq(timefmt_rfc3339(buf, sizeof(buf), 253402300799, 0, 1, 0), 0);
	check_eq(timefmt_rfc3339(buf, sizeof(buf), INT64_MAX, 0, 0, 0), 0);
	check_eq(timefmt_rfc3339(buf, sizeof(buf), INT64_MIN, 0, 0, 0), 0);
	check_eq(timefmt_rfc3339(buf, sizeof(buf), INT64_MAX, 0, 3600, 0), 0);
	check_eq(timefmt_rfc3339(buf, sizeof(buf), 0, -1, 0, 0), 0);
	check_eq(timefmt_rfc3339(buf, sizeof(buf), 0, 1000000000, 0, 0), 0);
	check_eq(timefmt_rfc3339(buf, sizeof(buf), 0, 0, 86400, 0), 0);
	check_eq(timefmt_rfc3339(buf, sizeof(buf), 0, 0, -86400, 0), 0);

	/* The longest output fits TIMEFMT_RFC3339_MAX; cap needs the NUL. */
	n = timefmt_rfc3339(buf, sizeof(buf), 253402300799, 999999999, -3600,
			    TIMEFMT_NANO_FIXED);
	check_eq(n, 35);
	check(n < TIMEFMT_RFC3339_MAX);
	check_eq(timefmt_rfc3339(buf, 21, 0, 0, 0, 0), 20);
	check_span(buf, 20, "1970-01-01T00:00:00Z");
	memset(buf, '#', sizeof(buf));
	check_eq(timefmt_rfc3339(buf, 20, 0, 0, 0, 0), 0);
	check_eq(timefmt_rfc3339(buf, 0, 0, 0, 0, 0), 0);
	check_eq(buf[0], '#');
	return 0;
}

static int rfc3339_parse(void)
{
	static const struct {
		const char *s;
		int64_t sec;
		int32_t nsec, off;
	} v[] = {
		{ "1970-01-01T00:00:00Z", 0, 0, 0 },
		{ "0001-01-01T00:00:00Z", SEC_0001, 0, 0 },
		{ "2023-01-02T15:04:05Z", 1672671845, 0, 0 },
		{ "2023-01-02t15:04:05z", 1672671845, 0, 0 },
		{ "2023-01-02T17:04:05+02:00", 1672671845, 0, 7200 },
		{ "2023-01-02T09:34:05-05:30", 1672671845, 0, -19800 },
		{ "2023-01-02T15:04:05-00:00", 1672671845, 0, 0 },
		{ "2023-01-02T15:04:05.1Z", 1672671845, 100000000, 0 },
		{ "2023-01-02T15:04:05.12Z", 1672671845, 120000000, 0 },
		{ "2023-01-02T15:04:05.000000001Z", 1672671845, 1, 0 },
		{ "2023-01-02T15:04:05.123456789+00:00", 1672671845, 123456789, 0 },
		{ "2023-01-02T15:04:05.000Z", 1672671845, 0, 0 },
		{ "2000-02-29T12:00:00Z", 951825600, 0, 0 },
		{ "2024-02-29T23:59:59Z", 1709251199, 0, 0 },
		{ "9999-12-31T23:59:59.999999999Z", 253402300799, 999999999, 0 },
		{ "1969-12-31T23:59:59Z", -1, 0, 0 },
		{ "1970-01-01T00:00:00+23:59", -86340, 0, 86340 },
		{ "0000-02-29T00:00:00Z", SEC_0001 - 307 * 86400, 0, 0 },
	};
	int64_t sec;
	int32_t nsec, off;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		sec = -7;
		nsec = off = -7;
		check_eq(parse_exact(v[i].s, strlen(v[i].s), &sec, &nsec, &off),
			 0);
		check_eq(sec, v[i].sec);
		check_eq(nsec, v[i].nsec);
		check_eq(off, v[i].off);
	}
	return 0;
}

static int rfc3339_parse_invalid(void)
{
	static const char *const bad[] = {
		"", "2023-01-02", "2023-01-02T15:04:05", "2023-01-02 15:04:05Z",
		"2023-01-02X15:04:05Z", "2023-01-02T15:04Z", "2023-1-02T15:04:05Z",
		"23-01-02T15:04:05Z", "+2023-01-02T15:04:05Z", "2023/01/02T15:04:05Z",
		"2023-01-02T15:04:05.Z", "2023-01-02T15:04:05.1234567891Z",
		"2023-01-02T15:04:05,1Z", "2023-01-02T15:04:05ZZ",
		"2023-01-02T15:04:05Z ", " 2023-01-02T15:04:05Z",
		"2023-01-02T15:04:05+0200", "2023-01-02T15:04:05+02",
		"2023-01-02T15:04:05+2:00", "2023-01-02T15:04:05+24:00",
		"2023-01-02T15:04:05+02:60", "2023-01-02T15:04:05UTC",
		/* calendar */
		"2023-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2023-02-30T00:00:00Z",
		"2024-02-30T00:00:00Z", "2023-04-31T00:00:00Z", "2023-06-31T00:00:00Z",
		"2023-09-31T00:00:00Z", "2023-11-31T00:00:00Z", "2023-13-01T00:00:00Z",
		"2023-00-01T00:00:00Z", "2023-01-00T00:00:00Z", "2023-01-32T00:00:00Z",
		"2023-01-01T24:00:00Z", "2023-01-01T23:60:00Z", "2023-01-01T23:59:60Z",
		"2023-01-01T-1:00:00Z", "2023-0a-01T00:00:00Z",
	};
	int64_t sec;
	int32_t nsec, off;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = parse_exact(bad[i], strlen(bad[i]), &sec, &nsec, &off);

		if (r != -EINVAL)
			fprintf(stderr, "accepted: %s\n", bad[i]);
		check_eq(r, -EINVAL);
	}
	/* Months with 31 days accept the 31st, leap years Feb 29. */
	check_eq(parse_exact("2023-12-31T00:00:00Z", 20, &sec, &nsec, &off), 0);
	check_eq(parse_exact("2000-02-29T00:00:00Z", 20, &sec, &nsec, &off), 0);
	check_eq(parse_exact("2400-02-29T00:00:00Z", 20, &sec, &nsec, &off), 0);
	check_eq(parse_exact("2100-02-29T00:00:00Z", 20, &sec, &nsec, &off),
		 -EINVAL);
	return 0;
}

/* Each truncation is invalid; byte-by-byte growth ends in the same result. */
static int rfc3339_prefixes(void)
{
	static const char *const s[] = {
		"2023-01-02T15:04:05.123456789+05:45",
		"0001-01-01T00:00:00Z",
		"2024-02-29T23:59:59-12:00",
	};
	int64_t sec, sec2;
	int32_t nsec, nsec2, off, off2;

	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
		size_t n = strlen(s[i]);

		for (size_t k = 0; k < n; k++)
			check_eq(parse_exact(s[i], k, &sec, &nsec, &off),
				 -EINVAL);
		check_eq(parse_exact(s[i], n, &sec, &nsec, &off), 0);
		check_eq(timefmt_rfc3339_parse(s[i], n, &sec2, &nsec2, &off2),
			 0);
		check(sec == sec2 && nsec == nsec2 && off == off2);
	}
	return 0;
}

/* format -> parse gives the instant back, over years 0000..9999. */
static int rfc3339_roundtrip(void)
{
	const int64_t lo = SEC_0001 - 366 * 86400, hi = 253402300799;
	uint64_t seed = 7;
	char buf[TIMEFMT_RFC3339_MAX];

	for (int i = 0; i < 200000; i++) {
		int64_t sec = lo + (int64_t)(rng_next(&seed) %
					     (uint64_t)(hi - lo + 1));
		int32_t nsec = (int32_t)(rng_next(&seed) % 1000000000);
		int32_t off = (int32_t)(rng_next(&seed) % (2 * 1440 - 1)) * 60 -
			      1439 * 60;
		enum timefmt_frac frac = (enum timefmt_frac)(i % 3);
		int64_t s2;
		int32_t n2, o2;
		size_t n;

		if (i % 7 == 0)
			nsec = (nsec / 1000000) * 1000000; /* trailing zeros */
		n = timefmt_rfc3339(buf, sizeof(buf), sec, nsec, off, frac);
		if (n == 0)
			continue; /* local time outside 0000..9999 */
		check_eq(timefmt_rfc3339_parse(buf, n, &s2, &n2, &o2), 0);
		check_eq(s2, sec);
		check_eq(o2, off);
		check_eq(n2, frac == TIMEFMT_SECONDS ? 0 : nsec);
	}
	return 0;
}

static int go_duration_string(void)
{
	static const struct {
		int64_t ns;
		const char *want;
	} v[] = {
		/* Go's own table for Duration.String. */
		{ 0, "0s" },
		{ 1, "1ns" },
		{ 1100, "1.1\xc2\xb5s" },
		{ 2200000, "2.2ms" },
		{ 3300000000, "3.3s" },
		{ 4 * 60000000000LL + 5000000000LL, "4m5s" },
		{ 4 * 60000000000LL + 5001000000LL, "4m5.001s" },
		{ 5 * 3600000000000LL + 6 * 60000000000LL + 7001000000LL, "5h6m7.001s" },
		{ 8 * 60000000000LL + 1, "8m0.000000001s" },
		{ INT64_MAX, "2562047h47m16.854775807s" },
		{ INT64_MIN, "-2562047h47m16.854775808s" },
		/* Others from Go's documentation and the header. */
		{ 143810203000, "2m23.810203s" },
		{ 3600000000000, "1h0m0s" },
		{ 3600000000000 + 2 * 60000000000LL + 300000000, "1h2m0.3s" },
		{ 4530918273645, "1h15m30.918273645s" },
		{ 500, "500ns" },
		{ 999, "999ns" },
		{ 1000, "1\xc2\xb5s" },
		{ 1500, "1.5\xc2\xb5s" },
		{ 999999, "999.999\xc2\xb5s" },
		{ 1000000, "1ms" },
		{ 1500000, "1.5ms" },
		{ 300000000, "300ms" },
		{ 999999999, "999.999999ms" },
		{ 1000000000, "1s" },
		{ 59999999999, "59.999999999s" },
		{ 60000000000, "1m0s" },
		{ 61000000000, "1m1s" },
		{ 86400000000000, "24h0m0s" },
		{ -1, "-1ns" },
		{ -1500, "-1.5\xc2\xb5s" },
		{ -1500000000, "-1.5s" },
		{ -3600000000000, "-1h0m0s" },
	};
	char buf[TIMEFMT_DURATION_MAX];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		size_t n = timefmt_go_duration(buf, sizeof(buf), v[i].ns);

		check_span(buf, n, v[i].want);
		check_eq(buf[n], '\0');
	}
	/* Capacity includes the NUL. */
	check_eq(timefmt_go_duration(buf, 3, 0), 2);
	check_eq(timefmt_go_duration(buf, 2, 0), 0);
	check_eq(timefmt_go_duration(buf, 0, 0), 0);
	check_eq(timefmt_go_duration(buf, 26, INT64_MIN), 25);
	check_eq(timefmt_go_duration(buf, 25, INT64_MIN), 0);
	return 0;
}

static int go_duration_parse(void)
{
	static const int64_t S = 1000000000, MS = 1000000, US = 1000;
	static const int64_t M = 60 * S, H = 60 * M;
	static const struct {
		const char *s;
		int64_t ns;
	} v[] = {
		/* Go's table for ParseDuration. */
		{ "0", 0 },
		{ "5s", 5 * S },
		{ "30s", 30 * S },
		{ "1478s", 1478 * S },
		{ "-5s", -5 * S },
		{ "+5s", 5 * S },
		{ "-0", 0 },
		{ "+0", 0 },
		{ "5.0s", 5 * S },
		{ "5.6s", 5 * S + 600 * MS },
		{ "5.s", 5 * S },
		{ ".5s", 500 * MS },
		{ "1.0s", 1 * S },
		{ "1.00s", 1 * S },
		{ "1.004s", 1 * S + 4 * MS },
		{ "1.0040s", 1 * S + 4 * MS },
		{ "100.00100s", 100 * S + 1 * MS },
		{ "10ns", 10 },
		{ "11us", 11 * US },
		{ "12\xc2\xb5s", 12 * US },
		{ "12\xce\xbcs", 12 * US },
		{ "13ms", 13 * MS },
		{ "14s", 14 * S },
		{ "15m", 15 * M },
		{ "16h", 16 * H },
		{ "3h30m", 3 * H + 30 * M },
		{ "10.5s4m", 4 * M + 10 * S + 500 * MS },
		{ "-2m3.4s", -(2 * M + 3 * S + 400 * MS) },
		{ "1h2m3s4ms5us6ns", 1 * H + 2 * M + 3 * S + 4 * MS + 5 * US + 6 },
		{ "39h9m14.425s", 39 * H + 9 * M + 14 * S + 425 * MS },
		{ "52763797000ns", 52763797000 },
		{ "0.3333333333333333333h", 20 * M },
		{ "9007199254740993ns", (1LL << 53) + 1 },
		{ "9223372036854775807ns", INT64_MAX },
		{ "9223372036854775.807us", INT64_MAX },
		{ "9223372036s854ms775us807ns", INT64_MAX },
		{ "-9223372036854775808ns", INT64_MIN },
		{ "-9223372036854775.808us", INT64_MIN },
		{ "-9223372036s854ms775us808ns", INT64_MIN },
		{ "-2562047h47m16.854775808s", INT64_MIN },
		{ "0.100000000000000000000h", 6 * M },
		{ "0.830103483285477580700h", 49 * M + 48 * S + 372539827 },
		/* Others: the header's examples and the spec's strings. */
		{ "300ms", 300 * MS },
		{ "1.5h", 90 * M },
		{ "2h45m", 2 * H + 45 * M },
		{ "-1s", -S },
		{ "1\xc2\xb5s", US },
		{ "1us", US },
		{ "2m23.81s", 2 * M + 23 * S + 810 * MS },
		{ "1h0m0s", H },
		{ "0s", 0 },
		{ "0.0s", 0 },
		{ "000000000000000000000000001ns", 1 },
		{ "1.1\xc2\xb5s", 1100 },
	};
	static const struct {
		const char *s;
		int err;
	} bad[] = {
		{ "", -EINVAL },
		{ "3", -EINVAL },
		{ "-", -EINVAL },
		{ "+", -EINVAL },
		{ "s", -EINVAL },
		{ ".", -EINVAL },
		{ "-.", -EINVAL },
		{ ".s", -EINVAL },
		{ "+.s", -EINVAL },
		{ "1d", -EINVAL },
		{ "\x85\x85", -EINVAL },
		{ "\xff\xff", -EINVAL },
		{ "hello \xff\xff world", -EINVAL },
		{ "00", -EINVAL },
		{ "1h30", -EINVAL },
		{ "1 h", -EINVAL },
		{ " 1h", -EINVAL },
		{ "1h ", -EINVAL },
		{ "1H", -EINVAL },
		{ "1sec", -EINVAL },
		{ "1ns-1ns", -EINVAL },
		{ "--1s", -EINVAL },
		{ "1e3s", -EINVAL },
		{ "1..5s", -EINVAL },
		{ "0x10s", -EINVAL },
		{ "9223372036854775810ns", -ERANGE },
		{ "9223372036854775808ns", -ERANGE },
		{ "-9223372036854775809ns", -ERANGE },
		{ "9223372036854775.808us", -ERANGE },
		{ "9223372036854ms775us808ns", -ERANGE },
		{ "2562047h47m16.854775808s", -ERANGE },
		{ "2562048h", -ERANGE },
		{ "99999999999999999999ns", -ERANGE },
		{ "5124095576030432h", -ERANGE },
		{ "2562047h2562047h", -ERANGE },
	};
	int64_t ns;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		int r;

		ns = -7;
		r = timefmt_duration_parse(v[i].s, strlen(v[i].s), &ns);
		if (r != 0 || ns != v[i].ns)
			fprintf(stderr, "%s: %d %lld\n", v[i].s, r,
				(long long)ns);
		check_eq(r, 0);
		check_eq(ns, v[i].ns);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = timefmt_duration_parse(bad[i].s, strlen(bad[i].s), &ns);

		if (r != bad[i].err)
			fprintf(stderr, "%s: %d\n", bad[i].s, r);
		check_eq(r, bad[i].err);
	}
	/* Only n bytes are read: "5s" of "5sX". */
	check_eq(timefmt_duration_parse("5sX", 2, &ns), 0);
	check_eq(ns, 5 * S);
	check_eq(timefmt_duration_parse("0s", 1, &ns), 0);
	check_eq(ns, 0);
	return 0;
}

/* Duration.String output always parses back to the same value. */
static int go_duration_roundtrip(void)
{
	uint64_t seed = 99;
	char buf[TIMEFMT_DURATION_MAX];

	for (int i = 0; i < 300000; i++) {
		uint64_t r = rng_next(&seed);
		int64_t ns, back;
		size_t n;

		/* Spread over all magnitudes, not just huge ones. */
		ns = (int64_t)(r >> (rng_next(&seed) % 64));
		if (i & 1)
			ns = -ns;
		if (i % 1000 == 0)
			ns = i % 2000 ? INT64_MIN : INT64_MAX;
		n = timefmt_go_duration(buf, sizeof(buf), ns);
		check(n > 0);
		check_eq(timefmt_duration_parse(buf, n, &back), 0);
		if (back != ns)
			fprintf(stderr, "%lld -> %s -> %lld\n", (long long)ns,
				buf, (long long)back);
		check_eq(back, ns);
	}
	return 0;
}

static int civil_days(void)
{
	int64_t y;
	unsigned m, d;

	check_eq(timefmt_days_from_civil(1970, 1, 1), 0);
	check_eq(timefmt_days_from_civil(1969, 12, 31), -1);
	check_eq(timefmt_days_from_civil(2000, 3, 1), 11017);
	check_eq(timefmt_days_from_civil(1, 1, 1), -719162);
	check_eq(timefmt_days_from_civil(0, 1, 1), -719528);
	check_eq(timefmt_days_from_civil(9999, 12, 31), 2932896);
	check_eq(timefmt_days_from_civil(2024, 3, 1) -
			 timefmt_days_from_civil(2024, 2, 28),
		 2);
	check_eq(timefmt_days_from_civil(2023, 3, 1) -
			 timefmt_days_from_civil(2023, 2, 28),
		 1);
	check_eq(timefmt_days_from_civil(2001, 1, 1) -
			 timefmt_days_from_civil(2000, 1, 1),
		 366);
	check_eq(timefmt_days_from_civil(1901, 1, 1) -
			 timefmt_days_from_civil(1900, 1, 1),
		 365);
	timefmt_civil_from_days(-719162, &y, &m, &d);
	check(y == 1 && m == 1 && d == 1);
	timefmt_civil_from_days(11016, &y, &m, &d);
	check(y == 2000 && m == 2 && d == 29);
	timefmt_civil_from_days(-1, &y, &m, &d);
	check(y == 1969 && m == 12 && d == 31);
	timefmt_civil_from_days(-719529, &y, &m, &d);
	check(y == -1 && m == 12 && d == 31);
	return 0;
}

/*
 * Walk day by day over years -1000..12000: each day is the successor of
 * the previous one in the calendar, and both directions agree.
 */
static int civil_walk(void)
{
	static const unsigned dm[13] = { 0, 31, 28, 31, 30, 31, 30, 31, 31, 30,
					 31, 30, 31 };
	int64_t z0 = timefmt_days_from_civil(-1000, 1, 1);
	int64_t z1 = timefmt_days_from_civil(12000, 12, 31);
	int64_t y = -1000;
	unsigned m = 1, d = 1;

	check(z1 - z0 > 4000000);
	for (int64_t z = z0; z <= z1; z++) {
		int64_t yy;
		unsigned mm, dd, len;
		int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

		timefmt_civil_from_days(z, &yy, &mm, &dd);
		if (yy != y || mm != m || dd != d)
			fprintf(stderr, "day %lld: %lld-%u-%u != %lld-%u-%u\n",
				(long long)z, (long long)yy, mm, dd,
				(long long)y, m, d);
		check(yy == y && mm == m && dd == d);
		check_eq(timefmt_days_from_civil(y, m, d), z);
		len = m == 2 && leap ? 29 : dm[m];
		if (++d > len) {
			d = 1;
			if (++m > 12) {
				m = 1;
				y++;
			}
		}
	}
	return 0;
}

/* Far outside the walked range the two conversions still invert. */
static int civil_far(void)
{
	uint64_t seed = 3;

	for (int i = 0; i < 200000; i++) {
		/* +-2.7e12 days is about +-7.5e9 years. */
		int64_t z = (int64_t)(rng_next(&seed) % 5400000000000ULL) -
			    2700000000000LL;
		int64_t y;
		unsigned m, d;

		timefmt_civil_from_days(z, &y, &m, &d);
		check(m >= 1 && m <= 12 && d >= 1 && d <= 31);
		check_eq(timefmt_days_from_civil(y, m, d), z);
	}
	return 0;
}

TEST_MAIN(T(rfc3339_format), T(rfc3339_format_limits), T(rfc3339_parse),
	  T(rfc3339_parse_invalid), T(rfc3339_prefixes), T(rfc3339_roundtrip),
	  T(go_duration_string), T(go_duration_parse),
	  T(go_duration_roundtrip), T(civil_days), T(civil_walk),
	  T(civil_far))
