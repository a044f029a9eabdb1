/*
 * fuzz_duration_and_time: the text time formats of include/timefmt.h.
 * - timefmt_duration_parse: a parsed duration printed with
 *   timefmt_go_duration parses back to the same nanoseconds (Go's
 *   String/ParseDuration round trip); so does any int64 from the input.
 * - timefmt_rfc3339_parse: a parsed timestamp printed with timefmt_rfc3339
 *   in its own offset parses back to the same instant and offset, in all
 *   three fraction styles (the seconds-only one drops nsec); any (sec,
 *   nsec, whole-minute offset) that prints parses back the same.
 * - timefmt_days_from_civil / timefmt_civil_from_days are inverse.
 */
#include <errno.h>

#include "fuzz.h"
#include "timefmt.h"

static int64_t get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return (int64_t)v;
}

static void duration_round_trip(int64_t ns)
{
	char txt[TIMEFMT_DURATION_MAX];
	int64_t back = 0;
	size_t n = timefmt_go_duration(txt, sizeof(txt), ns);

	FUZZ_ASSERT(n > 0 && n < sizeof(txt) && txt[n] == 0);
	FUZZ_ASSERT(timefmt_duration_parse(txt, n, &back) == 0);
	FUZZ_ASSERT(back == ns);
	/* Too small a buffer is refused, not overrun. */
	FUZZ_ASSERT(timefmt_go_duration(txt, n, ns) == 0);
}

static void duration(const uint8_t *p, size_t n)
{
	char *s = fuzz_dup(p, n, 0);
	int64_t ns = 0;
	int r = timefmt_duration_parse(s, n, &ns);

	FUZZ_ASSERT(r == 0 || r == -EINVAL || r == -ERANGE);
	if (r == 0)
		duration_round_trip(ns);
	if (n >= 8)
		duration_round_trip(get64(p));
	free(s);
}

static void civil(int64_t days)
{
	int64_t y;
	unsigned m, d;

	timefmt_civil_from_days(days, &y, &m, &d);
	FUZZ_ASSERT(m >= 1 && m <= 12 && d >= 1 && d <= 31);
	FUZZ_ASSERT(timefmt_days_from_civil(y, m, d) == days);
}

static void time_round_trip(int64_t sec, int32_t nsec, int32_t off,
			    int must_print)
{
	static const enum timefmt_frac fr[] = {
		TIMEFMT_SECONDS, TIMEFMT_NANO_TRIM, TIMEFMT_NANO_FIXED
	};

	for (size_t k = 0; k < 3; k++) {
		char txt[TIMEFMT_RFC3339_MAX];
		int64_t s2 = 0;
		int32_t n2 = -1, o2 = -1;
		size_t n = timefmt_rfc3339(txt, sizeof(txt), sec, nsec, off,
					   fr[k]);

		if (must_print)
			FUZZ_ASSERT(n > 0);
		if (n == 0)
			continue;
		FUZZ_ASSERT(n < sizeof(txt) && txt[n] == 0);
		FUZZ_ASSERT(timefmt_rfc3339_parse(txt, n, &s2, &n2, &o2) == 0);
		FUZZ_ASSERT(s2 == sec && o2 == off);
		FUZZ_ASSERT(n2 == (fr[k] == TIMEFMT_SECONDS ? 0 : nsec));
		FUZZ_ASSERT(timefmt_rfc3339(txt, n, sec, nsec, off, fr[k]) == 0);
	}
}

static void rfc3339(const uint8_t *p, size_t n)
{
	char *s = fuzz_dup(p, n, 0);
	int64_t sec = 0;
	int32_t nsec = 0, off = 0;
	int r = timefmt_rfc3339_parse(s, n, &sec, &nsec, &off);

	FUZZ_ASSERT(r == 0 || r == -EINVAL);
	if (r == 0) {
		FUZZ_ASSERT(nsec >= 0 && nsec < 1000000000);
		FUZZ_ASSERT(off > -86400 && off < 86400 && off % 60 == 0);
		/* Years 0000-9999 in, so the same local date prints. */
		time_round_trip(sec, nsec, off, 1);
	}
	if (n >= 16) {
		int64_t sv = get64(p);
		uint64_t x = (uint64_t)get64(p + 8);
		int32_t ns = (int32_t)((x >> 32) % 1000000000u);
		/* Whole minutes within a day: Go prints those exactly. */
		int32_t o = (int32_t)((int64_t)(x & 0xffffffffu) % 2879) - 1439;

		/* Mostly times in the printable years. */
		if (!(p[0] & 0x80))
			sv %= 253402300800ll;
		time_round_trip(sv, ns, o * 60, 0);
		civil(sv / 86400);
	}
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	duration(data, size);
	rfc3339(data, size);
	return 0;
}
