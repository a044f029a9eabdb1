/*
 * Unit tests for histjson (include/histjson.h): histograms written by
 * separate processes and read back merge into the very histogram one
 * process would have built from all the samples, bit for bit, and what is
 * not that form is refused.
 */
#include "test.h"
#include "hist.h"
#include "histjson.h"
#include "json.h"
#include "jsonw.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* A value from 0 to beyond HIST_TOP, log-uniform-ish: every range of the
 * histogram, the clamped one included. */
static uint64_t sample(void)
{
	unsigned bits = (unsigned)(next() % 36);

	return bits ? next() & ((1ULL << bits) - 1) : 0;
}

static char buf[1 << 20];
static jsmntok_t toks[1 << 16];

/* h through JSON into out; 0 or the line of the failure. */
static int round_trip(const struct hist *h, struct hist *out)
{
	struct jw w;
	struct json_doc d;
	long n;

	jw_init(&w, buf, sizeof(buf));
	histjson_write(&w, h);
	n = jw_finish(&w);
	check(n > 0);
	check(json_parse(&d, buf, (size_t)n, toks, 1 << 16) > 0);
	check(histjson_read(&d, 0, out) == 0);
	return 0;
}

static int same(const struct hist *a, const struct hist *b)
{
	return a->count == b->count && a->min == b->min && a->max == b->max &&
	       a->sum == b->sum &&
	       !memcmp(a->buckets, b->buckets, sizeof(a->buckets));
}

/* Three shards' samples: their histograms, each through JSON and merged,
 * equal the one histogram of all the samples, and so do its quantiles. */
static int merge_is_exact(void)
{
	static struct hist all, part[3], back, merged;
	static const double qs[] = { 0, 0.5, 0.9, 0.99, 0.999, 1 };

	for (int round = 0; round < 20; round++) {
		unsigned n = 1 + (unsigned)(next() % 20000);

		hist_reset(&all);
		hist_reset(&merged);
		for (int k = 0; k < 3; k++)
			hist_reset(&part[k]);
		for (unsigned i = 0; i < n; i++) {
			uint64_t v = sample();
			/* uneven shares, one shard sometimes empty */
			unsigned k = (unsigned)(next() % (round % 4 ? 3 : 2));

			hist_add(&all, v);
			hist_add(&part[k], v);
		}
		for (int k = 0; k < 3; k++) {
			int e = round_trip(&part[k], &back);

			if (e)
				return e;
			check(same(&back, &part[k]));
			hist_merge(&merged, &back);
		}
		check(same(&merged, &all));
		for (size_t q = 0; q < sizeof(qs) / sizeof(qs[0]); q++)
			check_eq(hist_quantile(&merged, qs[q]),
				 hist_quantile(&all, qs[q]));
	}
	return 0;
}

static int empty_round_trip(void)
{
	static struct hist h, back;

	hist_reset(&h);
	check(round_trip(&h, &back) == 0);
	check(same(&back, &h));
	check(back.min == UINT64_MAX && back.max == 0);
	return 0;
}

static int refuses(const char *js)
{
	static struct hist h;
	struct json_doc d;

	if (json_parse(&d, js, strlen(js), toks, 1 << 16) < 0)
		return 1;
	return histjson_read(&d, 0, &h) == -EINVAL;
}

static int refuses_other_forms(void)
{
	check(!refuses("{\"count\":2,\"sum\":3,\"min\":1,\"max\":2,"
		       "\"buckets\":[1,1,2,1]}"));
	check(refuses("{\"count\":3,\"sum\":3,\"min\":1,\"max\":2,"
		      "\"buckets\":[1,1,2,1]}"));           /* count */
	check(refuses("{\"count\":2,\"sum\":3,\"min\":1,\"max\":2,"
		      "\"buckets\":[2,1,1,1]}"));           /* order */
	check(refuses("{\"count\":2,\"sum\":3,\"min\":1,\"max\":2,"
		      "\"buckets\":[1,1,1728,1]}"));        /* range */
	check(refuses("{\"count\":1,\"sum\":3,\"min\":1,\"max\":1,"
		      "\"buckets\":[1]}"));                 /* pairs */
	check(refuses("{\"count\":2,\"sum\":3,\"min\":0,\"max\":2,"
		      "\"buckets\":[1,1,2,1]}"));           /* min */
	check(refuses("{\"count\":2,\"sum\":3,\"min\":1,\"max\":2,"
		      "\"buckets\":[1,1,2,0]}"));           /* empty pair */
	check(refuses("{\"count\":2,\"sum\":3,\"min\":1,\"max\":2}"));
	check(refuses("[1,2]"));
	return 0;
}

TEST_MAIN(T(merge_is_exact), T(empty_round_trip), T(refuses_other_forms))
