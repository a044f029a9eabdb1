/*
 * hist: log-linear latency histogram. See include/hist.h.
 *
 * IMPLEMENTATION NOTES
 * Bucket i covers a group g = i / 64. Groups 0 and 1 are the linear range
 * (width 1). Group g >= 1 holds [2^(g+5), 2^(g+6)) in 64 sub-buckets of
 * width 2^(g-1), so its low bound is (64 + i % 64) << (g - 1); group 1 gives
 * 64..127 with width 1, which is why the linear range needs no special case
 * in hist_bucket.
 *
 * The single writer reads its own fields with plain loads (nobody else
 * stores to them) and publishes each new value with a relaxed atomic store:
 * no read-modify-write, hence no lock prefix, and a concurrent relaxed load
 * sees either the old or the new value, never a torn one. Relaxed is enough
 * because a reader only needs each field on its own to be a real, monotonic
 * value; nothing orders one field against another, which the header states.
 */
#include "hist.h"

#include <string.h>

#define RELAXED __ATOMIC_RELAXED

static unsigned bucket_shift(unsigned i)
{
	unsigned g = i >> HIST_SUB_BITS;

	return g ? g - 1 : 0;
}

/* see hist.h */
uint64_t hist_bucket_low(unsigned i)
{
	if (i < HIST_SUB)
		return i;
	return (uint64_t)(HIST_SUB | (i & (HIST_SUB - 1))) << bucket_shift(i);
}

/* see hist.h */
uint64_t hist_bucket_high(unsigned i)
{
	if (i >= HIST_NBUCKETS - 1)
		return UINT64_MAX;
	return hist_bucket_low(i) + ((uint64_t)1 << bucket_shift(i)) - 1;
}

/* see hist.h */
uint64_t hist_bucket_mid(unsigned i)
{
	/* The nominal width also for the last bucket: values above HIST_TOP
	 * have no error bound anyway, and max caps what is reported. */
	uint64_t w = (uint64_t)1 << bucket_shift(i);

	return hist_bucket_low(i) + ((w - 1) >> 1);
}

/* see hist.h */
void hist_reset(struct hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

/* see hist.h */
void hist_add(struct hist *h, uint64_t us)
{
	unsigned i = hist_bucket(us);

	__atomic_store_n(&h->buckets[i], h->buckets[i] + 1, RELAXED);
	__atomic_store_n(&h->count, h->count + 1, RELAXED);
	__atomic_store_n(&h->sum, h->sum + us, RELAXED);
	if (us < h->min)
		__atomic_store_n(&h->min, us, RELAXED);
	if (us > h->max)
		__atomic_store_n(&h->max, us, RELAXED);
}

/* see hist.h */
void hist_snapshot(struct hist *dst, const struct hist *src)
{
	dst->count = __atomic_load_n(&src->count, RELAXED);
	dst->min = __atomic_load_n(&src->min, RELAXED);
	dst->max = __atomic_load_n(&src->max, RELAXED);
	dst->sum = __atomic_load_n(&src->sum, RELAXED);
	for (unsigned i = 0; i < HIST_NBUCKETS; i++)
		dst->buckets[i] = __atomic_load_n(&src->buckets[i], RELAXED);
}

/* see hist.h */
void hist_merge(struct hist *dst, const struct hist *src)
{
	for (unsigned i = 0; i < HIST_NBUCKETS; i++)
		dst->buckets[i] += src->buckets[i];
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

static uint64_t sat_sub(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

/* see hist.h */
void hist_delta(struct hist *dst, const struct hist *now,
		const struct hist *before)
{
	/* Read the header first: dst may alias now or before. */
	uint64_t nmin = now->min, nmax = now->max;
	uint64_t bmin = before->min, bmax = before->max;
	uint64_t count = sat_sub(now->count, before->count);
	uint64_t sum = now->sum - before->sum;
	unsigned lo = HIST_NBUCKETS, hi = 0;

	for (unsigned i = 0; i < HIST_NBUCKETS; i++) {
		uint64_t d = sat_sub(now->buckets[i], before->buckets[i]);

		dst->buckets[i] = d;
		if (d) {
			if (lo == HIST_NBUCKETS)
				lo = i;
			hi = i;
		}
	}
	dst->count = count;
	dst->sum = sum;
	if (lo == HIST_NBUCKETS) {
		dst->min = UINT64_MAX;
		dst->max = 0;
		return;
	}
	/* now->max only grows, so if it grew the new maximum is in the
	 * interval; otherwise the interval's maximum is somewhere in bucket
	 * hi and no larger than now->max: report the midpoint, which keeps
	 * the 1/128 bound (the bucket's high would not). */
	if (nmax > bmax) {
		dst->max = nmax;
	} else {
		uint64_t m = hist_bucket_mid(hi);

		dst->max = m < nmax ? m : nmax;
	}
	if (nmin < bmin) {
		dst->min = nmin;
	} else {
		uint64_t m = hist_bucket_mid(lo);

		dst->min = m > nmin ? m : nmin;
	}
}

/* see hist.h */
uint64_t hist_quantile(const struct hist *h, double q)
{
	uint64_t total = 0, rank, seen = 0;
	unsigned i;

	for (i = 0; i < HIST_NBUCKETS; i++)
		total += h->buckets[i];
	if (total == 0)
		return 0;
	if (!(q > 0)) {
		rank = 1;
	} else if (q >= 1) {
		rank = total;
	} else {
		double x = q * (double)total;

		/* ceil without libm; x < total here up to rounding */
		rank = x < (double)total ? (uint64_t)x : total;
		if ((double)rank < x)
			rank++;
		if (rank < 1)
			rank = 1;
		if (rank > total)
			rank = total;
	}
	for (i = 0; i < HIST_NBUCKETS; i++) {
		seen += h->buckets[i];
		if (seen >= rank)
			break;
	}

	uint64_t lo = hist_bucket_low(i), hi = hist_bucket_high(i);
	uint64_t r = hist_bucket_mid(i);
	/* min and max are used only when they lie in this bucket: then they
	 * are at least as close as the midpoint. A snapshot can carry a min
	 * or max older than its buckets, which must not drag r elsewhere;
	 * min > max means it saw the empty state (min UINT64_MAX would
	 * otherwise look like a value in the last bucket). */
	int ok = h->min <= h->max;
	int min_in = ok && h->min >= lo && h->min <= hi;
	int max_in = ok && h->max >= lo && h->max <= hi;

	if (rank == total && max_in)
		return h->max;
	if (rank == 1 && min_in)
		return h->min;
	if (min_in && r < h->min)
		r = h->min;
	if (max_in && r > h->max)
		r = h->max;
	return r;
}

/* see hist.h */
double hist_mean(const struct hist *h)
{
	return h->count ? (double)h->sum / (double)h->count : 0.0;
}
