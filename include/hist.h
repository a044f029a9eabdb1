/*
 * hist: a fixed-size log-linear latency histogram (HDR style) for the load
 * tester's hot path. Values are unsigned 64-bit microseconds.
 *
 * Buckets. Values 0..HIST_LINEAR-1 (0..127 µs) each get their own bucket, so
 * they are exact. Above that, every power of two [2^m, 2^(m+1)) is split into
 * HIST_SUB (64) equal sub-buckets of width 2^(m-6), up to HIST_TOP (2^32 µs,
 * about 71.6 minutes). Values >= HIST_TOP are counted in the last bucket
 * (max still records the true value). A bucket's width is at most 1/64 of its
 * lower bound, and a quantile reports the bucket's midpoint (rounded down),
 * so its relative error is at most 1/128 (0.79 %) for any value below
 * HIST_TOP, and 0 below HIST_LINEAR. The struct is 13.9 KB, no allocation.
 *
 * Quantiles use the nearest-rank definition over the bucket total n: the
 * value of rank max(1, ceil(q * n)) in sorted order (q clamped to [0, 1]).
 * The ranks 1 and n report min and max when those lie in the chosen bucket,
 * so q = 0 gives min and q = 1 gives max on any histogram built by hist_add
 * and hist_merge.
 *
 * Concurrency. Exactly one writer thread per histogram calls hist_add; it
 * updates each field with a relaxed atomic store of the incremented value (a
 * plain mov on x86-64, no lock prefix), so any other thread may call
 * hist_snapshot at the same time. A snapshot reads each field with a relaxed
 * load: every field is a value it really had, and each bucket and count
 * never go backwards between two snapshots taken by one thread, but the
 * fields are not read at one instant (count, sum, min and max may disagree
 * with the buckets by the few adds that ran during the copy). hist_quantile
 * therefore takes its total from the buckets, never from count, and only
 * uses min and max where they fall in the bucket it found (and not at all
 * when min > max, a snapshot of the empty state). Within 1/128 is promised
 * for consistent histograms; a torn snapshot's quantiles still lie in the
 * right bucket for its bucket counts. Every function
 * other than hist_add and hist_snapshot needs its arguments quiescent: use
 * them on snapshots (or on histograms only the calling thread touches).
 *
 * Keep each thread's histogram in memory that thread owns (the struct is
 * cache-line aligned); merge snapshots for totals.
 */
#ifndef ESMELOAD_HIST_H
#define ESMELOAD_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 6
#define HIST_SUB      (1u << HIST_SUB_BITS)   /* sub-buckets per power of two */
#define HIST_LINEAR   (2u * HIST_SUB)         /* 0..127: one bucket per µs */
#define HIST_TOP_BITS 32
#define HIST_TOP      ((uint64_t)1 << HIST_TOP_BITS) /* first clamped value */
/* Powers of two 2^7 .. 2^31, plus the linear range (two groups of 64). */
#define HIST_NBUCKETS ((HIST_TOP_BITS - HIST_SUB_BITS + 1) * HIST_SUB) /* 1728 */

struct hist {
	_Alignas(64) uint64_t count; /* values added */
	uint64_t min;                /* UINT64_MAX when empty */
	uint64_t max;                /* 0 when empty */
	uint64_t sum;                /* of the true values, modulo 2^64 */
	uint64_t buckets[HIST_NBUCKETS];
};

/* The bucket index of a value: HIST_NBUCKETS - 1 for us >= HIST_TOP. One
 * count-leading-zeros, a shift and an add; no loop, no floating point. */
static inline unsigned hist_bucket(uint64_t us)
{
	uint64_t v = us < HIST_TOP ? us : HIST_TOP - 1;
	/* v | (HIST_LINEAR - 1) puts the top bit at >= 6, so e is 0 for the
	 * linear range (index = v) and m - 6 for v in [2^m, 2^(m+1)). */
	unsigned e = 63u - (unsigned)__builtin_clzll(v | (HIST_LINEAR - 1)) -
		     HIST_SUB_BITS;

	return (e << HIST_SUB_BITS) + (unsigned)(v >> e);
}

/* Smallest and largest value counted in bucket i (< HIST_NBUCKETS); the last
 * bucket's high is UINT64_MAX since it also holds every value >= HIST_TOP. */
uint64_t hist_bucket_low(unsigned i);
uint64_t hist_bucket_high(unsigned i);
/* The value reported for bucket i: the midpoint of its range below HIST_TOP,
 * rounded down (low itself in the linear range). */
uint64_t hist_bucket_mid(unsigned i);

/* Empty: all counts and sum 0, min UINT64_MAX, max 0. */
void hist_reset(struct hist *h);

/* Count one value. Only h's single writer thread may call it. */
void hist_add(struct hist *h, uint64_t us);

/*
 * Copy src into dst with relaxed atomic loads; src's writer may be adding
 * meanwhile (see the concurrency note above for what that means). dst must
 * not be shared.
 */
void hist_snapshot(struct hist *dst, const struct hist *src);

/* dst += src: buckets, count and sum added, min and max combined. dst may
 * be src. */
void hist_merge(struct hist *dst, const struct hist *src);

/*
 * dst = now - before, for per-interval views of one cumulative histogram:
 * now and before are two snapshots of it, before taken first. Buckets and
 * count are subtracted (a field that went backwards, impossible for such
 * snapshots, gives 0), sum modulo 2^64. dst may be now or before.
 *
 * min and max of the interval cannot always be known. dst->max is
 * now->max exactly when now->max > before->max (the new maximum arrived in
 * the interval); otherwise it is the midpoint of the highest non-empty delta
 * bucket capped by now->max, within 1/128 of the interval's true maximum and
 * in the same bucket. dst->min likewise: now->min when now->min <
 * before->min, else the lowest non-empty delta bucket's midpoint raised to
 * now->min. Both are exact below HIST_LINEAR. An empty interval gives the
 * hist_reset state.
 */
void hist_delta(struct hist *dst, const struct hist *now,
		const struct hist *before);

/*
 * The q-quantile in µs (nearest rank, see above), within 1/128 relative of
 * the exact one for values below HIST_TOP. q < 0 (or NaN) counts as 0, q > 1
 * as 1. 0 when the buckets are empty.
 */
uint64_t hist_quantile(const struct hist *h, double q);

/* sum / count in µs, 0 when count is 0. */
double hist_mean(const struct hist *h);

#endif
