/*
 * fuzz_histjson: histjson_read (include/histjson.h), the histograms of a
 * summary that `esmeload merge` and `report` read from files.
 * Invariants: 0 or -EINVAL; on success the counts add up to count, min
 * and max lie in non-empty buckets and min <= max (or the reset state for
 * an empty one), and writing the histogram back and reading that gives
 * the very same histogram.
 */
#include <errno.h>

#include "fuzz.h"
#include "hist.h"
#include "histjson.h"
#include "json.h"
#include "jsonw.h"

static jsmntok_t toks[1 << 14];
static struct hist h, back;
static char out[1 << 17];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_doc d;
	struct jw w;
	uint64_t total = 0;
	long n;
	int r;

	if (json_parse(&d, (const char *)data, size, toks, 1 << 14) < 0)
		return 0;
	r = histjson_read(&d, 0, &h);
	FUZZ_ASSERT(r == 0 || r == -EINVAL);
	if (r < 0)
		return 0;
	for (unsigned i = 0; i < HIST_NBUCKETS; i++)
		total += h.buckets[i];
	FUZZ_ASSERT(total == h.count);
	if (h.count) {
		FUZZ_ASSERT(h.min <= h.max);
		FUZZ_ASSERT(h.buckets[hist_bucket(h.min)] > 0);
		FUZZ_ASSERT(h.buckets[hist_bucket(h.max)] > 0);
	} else {
		FUZZ_ASSERT(h.min == UINT64_MAX && h.max == 0);
	}
	jw_init(&w, out, sizeof(out));
	histjson_write(&w, &h);
	n = jw_finish(&w);
	FUZZ_ASSERT(n > 0);
	FUZZ_ASSERT(json_parse(&d, out, (size_t)n, toks, 1 << 14) > 0);
	FUZZ_ASSERT(histjson_read(&d, 0, &back) == 0);
	FUZZ_ASSERT(!memcmp(&h.count, &back.count,
			    sizeof(h) - offsetof(struct hist, count)));
	return 0;
}
