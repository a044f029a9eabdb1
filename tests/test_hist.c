/*
 * Unit tests for the latency histogram (include/hist.h).
 * HIST_BENCH=1 ./build/tests/test_hist runs a micro-benchmark instead.
 */
#include "test.h"
#include "hist.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#define NVAL 100000

/* splitmix64: a deterministic stream, so failures reproduce. */
static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* uniform in (0, 1] */
static double rnd_unit(uint64_t *s)
{
	return (double)((rnd(s) >> 11) + 1) / 9007199254740992.0;
}

static uint64_t rnd_below(uint64_t *s, uint64_t n)
{
	return rnd(s) % n;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The header's nearest rank, computed independently with libm. */
static uint64_t exact_quantile(const uint64_t *sorted, size_t n, double q)
{
	double r;

	if (!(q > 0))
		q = 0;
	if (q > 1)
		q = 1;
	r = ceil(q * (double)n);
	if (r < 1)
		r = 1;
	if (r > (double)n)
		r = (double)n;
	return sorted[(size_t)r - 1];
}

/* |got - want| <= want / 128 (which implies the required 1 %), and exact
 * below the linear range. */
static int within_bound(uint64_t got, uint64_t want)
{
	uint64_t d = got > want ? got - want : want - got;

	if (want < HIST_LINEAR)
		return d == 0;
	return d <= want / 128 && d * 100 <= want;
}

/* Field by field: the struct has tail padding from its alignment. */
static int hist_equal(const struct hist *a, const struct hist *b)
{
	return a->count == b->count && a->min == b->min && a->max == b->max &&
	       a->sum == b->sum &&
	       memcmp(a->buckets, b->buckets, sizeof(a->buckets)) == 0;
}

/* The quantiles checked against sorted data: a sweep plus the tails. */
static const double tail_q[] = { 0, 1e-9, 1e-5, 1e-4, 1e-3, 0.01, 0.25, 0.5,
				 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9995,
				 0.9999, 0.99999, 1 };

/* Every checked quantile of h within the bound of the exact one from the
 * n values in v (sorted here), and q = 0 and 1 exactly min and max when
 * exact_ends (h's min and max are known, not estimated by hist_delta).
 * Returns 0 or the failing line. */
static int check_quantiles(const struct hist *h, uint64_t *v, size_t n,
			   int exact_ends)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	for (int k = 0; k <= 2000; k++) {
		double q = k / 2000.0;
		uint64_t got = hist_quantile(h, q), want = exact_quantile(v, n, q);

		if (!within_bound(got, want)) {
			fprintf(stderr, "q=%g got %llu want %llu\n", q,
				(unsigned long long)got,
				(unsigned long long)want);
			return __LINE__;
		}
	}
	for (size_t k = 0; k < sizeof(tail_q) / sizeof(tail_q[0]); k++) {
		double q = tail_q[k];
		uint64_t got = hist_quantile(h, q), want = exact_quantile(v, n, q);

		if (!within_bound(got, want)) {
			fprintf(stderr, "q=%g got %llu want %llu\n", q,
				(unsigned long long)got,
				(unsigned long long)want);
			return __LINE__;
		}
	}
	if (exact_ends) {
		check_eq(hist_quantile(h, 0), v[0]);
		check_eq(hist_quantile(h, 1), v[n - 1]);
	}
	return 0;
}

/* The bucket layout itself: contiguous, each bucket's ends map back to it,
 * widths at most low/64, and the reported midpoint within 1/128 of both
 * ends, hence of every value in the bucket. This covers every value below
 * HIST_TOP. */
static int test_bucket_layout(void)
{
	check_eq(hist_bucket_low(0), 0);
	check_eq(hist_bucket_high(HIST_NBUCKETS - 1), UINT64_MAX);
	check_eq(hist_bucket_low(HIST_NBUCKETS - 1) +
			 (HIST_TOP >> (HIST_SUB_BITS + 1)),
		 HIST_TOP);
	for (unsigned i = 0; i < HIST_NBUCKETS; i++) {
		uint64_t lo = hist_bucket_low(i), hi = hist_bucket_high(i);
		uint64_t mid = hist_bucket_mid(i);

		if (i == HIST_NBUCKETS - 1)
			hi = HIST_TOP - 1; /* nominal end; the rest is clamped */
		check(lo <= mid && mid <= hi);
		check_eq(hist_bucket(lo), i);
		check_eq(hist_bucket(hi), i);
		if (i > 0)
			check_eq(lo, hist_bucket_high(i - 1) + 1);
		if (i < HIST_LINEAR) {
			check_eq(lo, i);
			check_eq(hi, i);
			check_eq(mid, i);
		} else {
			check((hi - lo + 1) * HIST_SUB <= lo);
			check(within_bound(mid, lo));
			check(within_bound(mid, hi));
		}
	}
	/* 100 s is inside the bounded range */
	check(hist_bucket(100000000) < HIST_NBUCKETS - 1);
	check(within_bound(hist_bucket_mid(hist_bucket(100000000)), 100000000));
	check(sizeof(struct hist) <= 30 * 1024);
	return 0;
}

static int test_linear_exact(void)
{
	static uint64_t v[HIST_LINEAR * 8];
	struct hist h;
	size_t n = 0;

	hist_reset(&h);
	/* value x added (x % 7) + 1 times, in a scrambled order */
	for (unsigned x = 0; x < HIST_LINEAR; x++)
		for (unsigned k = 0; k <= x % 7; k++)
			v[n++] = (x * 37) % HIST_LINEAR;
	for (size_t i = 0; i < n; i++)
		hist_add(&h, v[i]);
	for (unsigned x = 0; x < HIST_LINEAR; x++)
		check_eq(h.buckets[x], (((x * 45) % HIST_LINEAR) % 7) + 1);
	qsort(v, n, sizeof(*v), cmp_u64);
	/* every rank r, asked for with q in ((r-1)/n, r/n] */
	for (size_t r = 1; r <= n; r++)
		check_eq(hist_quantile(&h, ((double)r - 0.5) / (double)n),
			 v[r - 1]);
	for (int k = 0; k <= 1000; k++)
		check_eq(hist_quantile(&h, k / 1000.0),
			 exact_quantile(v, n, k / 1000.0));
	check_eq(h.min, 0);
	check_eq(h.max, HIST_LINEAR - 1);
	return 0;
}

enum dist { D_UNIFORM_100S, D_UNIFORM_TOP, D_LOG_UNIFORM, D_EXP_SMALL,
	    D_EXP_LARGE, D_BIMODAL, D_CONST, D_CONST_SMALL, D_NDIST };

static uint64_t draw(enum dist d, uint64_t *s)
{
	switch (d) {
	case D_UNIFORM_100S:
		return rnd_below(s, 100000001);
	case D_UNIFORM_TOP:
		return rnd_below(s, HIST_TOP);
	case D_LOG_UNIFORM: { /* every power of two equally likely */
		unsigned m = (unsigned)rnd_below(s, HIST_TOP_BITS);

		return ((uint64_t)1 << m) + rnd_below(s, (uint64_t)1 << m);
	}
	case D_EXP_SMALL: /* mean 500 µs */
		return (uint64_t)(-500.0 * log(rnd_unit(s)));
	case D_EXP_LARGE: /* mean 3 s */
		return (uint64_t)(-3e6 * log(rnd_unit(s)));
	case D_BIMODAL: /* 90 % near 300 µs, 10 % near 80 ms */
		if (rnd_below(s, 10))
			return 200 + rnd_below(s, 200);
		return 70000 + rnd_below(s, 20000);
	case D_CONST:
		return 12345678;
	case D_CONST_SMALL:
		return 77;
	case D_NDIST:
		break;
	}
	return 0;
}

static int test_quantile_bound(void)
{
	static uint64_t v[NVAL];
	struct hist h;

	for (int d = 0; d < D_NDIST; d++) {
		uint64_t s = 1000 + (uint64_t)d, sum = 0;
		int line;

		hist_reset(&h);
		for (size_t i = 0; i < NVAL; i++) {
			v[i] = draw((enum dist)d, &s);
			sum += v[i];
			hist_add(&h, v[i]);
		}
		check_eq(h.count, NVAL);
		check(h.sum == sum);
		check(fabs(hist_mean(&h) - (double)sum / NVAL) < 1e-6 * hist_mean(&h));
		line = check_quantiles(&h, v, NVAL, 1);
		if (line) {
			fprintf(stderr, "distribution %d\n", d);
			return line;
		}
		check_eq(h.min, v[0]);
		check_eq(h.max, v[NVAL - 1]);
	}
	/* constant: every quantile is exact, not just within the bound; the
	 * first lies below its bucket's midpoint (max pulls it down), the
	 * second above (min pulls it up) */
	static const uint64_t cv[] = { 12345678, 1006 };

	for (size_t c = 0; c < 2; c++) {
		unsigned b = hist_bucket(cv[c]);

		check(c == 0 ? cv[c] < hist_bucket_mid(b) : cv[c] > hist_bucket_mid(b));
		hist_reset(&h);
		for (int i = 0; i < 1000; i++)
			hist_add(&h, cv[c]);
		for (int k = 0; k <= 100; k++)
			check_eq(hist_quantile(&h, k / 100.0), cv[c]);
	}
	return 0;
}

static int test_boundaries(void)
{
	uint64_t v[3 * 64 + 8];
	size_t n = 0;
	struct hist h;

	check_eq(hist_bucket(0), 0);
	check_eq(hist_bucket(1), 1);
	check_eq(hist_bucket(127), 127);
	check_eq(hist_bucket(128), 128);
	check_eq(hist_bucket(129), 128);
	check_eq(hist_bucket(130), 129);
	check_eq(hist_bucket(255), 191);
	check_eq(hist_bucket(256), 192);
	check_eq(hist_bucket(HIST_TOP - 1), HIST_NBUCKETS - 1);
	check_eq(hist_bucket(HIST_TOP), HIST_NBUCKETS - 1);
	check_eq(hist_bucket(UINT64_MAX), HIST_NBUCKETS - 1);
	check(hist_bucket(HIST_TOP - 1 - (HIST_TOP >> 7)) == HIST_NBUCKETS - 2);

	v[n++] = 0;
	for (unsigned k = 0; k < 64; k++) {
		uint64_t p = (uint64_t)1 << k;

		v[n++] = p - 1;
		v[n++] = p;
		v[n++] = p + 1;
	}
	v[n++] = UINT64_MAX - 1;
	v[n++] = UINT64_MAX;
	qsort(v, n, sizeof(*v), cmp_u64);
	hist_reset(&h);
	for (size_t i = 0; i < n; i++) {
		unsigned b = hist_bucket(v[i]);

		check(b < HIST_NBUCKETS);
		if (i > 0)
			check(b >= hist_bucket(v[i - 1]));
		check(hist_bucket_low(b) <= v[i] && v[i] <= hist_bucket_high(b));
		if (v[i] < HIST_TOP)
			check(within_bound(hist_bucket_mid(b), v[i]));
		else
			check_eq(b, HIST_NBUCKETS - 1);
		hist_add(&h, v[i]);
	}
	check_eq(h.count, n);
	check_eq(h.min, 0);
	check(h.max == UINT64_MAX);
	check_eq(hist_quantile(&h, 0), 0);
	check(hist_quantile(&h, 1) == UINT64_MAX);
	/* values below the top keep their bound; the 2^32..2^63 ones (and
	 * UINT64_MAX) share the last bucket */
	for (size_t i = 0; i < n; i++) {
		double q = ((double)i + 0.5) / (double)n;

		if (v[i] < HIST_TOP)
			check(within_bound(hist_quantile(&h, q), v[i]));
	}
	check_eq(h.buckets[HIST_NBUCKETS - 1],
		 3 * (64 - HIST_TOP_BITS) + 2);

	/* one huge value: reported exactly through max */
	hist_reset(&h);
	hist_add(&h, UINT64_MAX);
	check(hist_quantile(&h, 0.5) == UINT64_MAX);
	check(h.sum == UINT64_MAX);
	return 0;
}

static int test_quantile_edges(void)
{
	struct hist h, z;

	hist_reset(&h);
	check_eq(h.count, 0);
	check(h.min == UINT64_MAX);
	check_eq(h.max, 0);
	check_eq(hist_quantile(&h, 0), 0);
	check_eq(hist_quantile(&h, 0.5), 0);
	check_eq(hist_quantile(&h, 1), 0);
	check_eq(hist_quantile(&h, NAN), 0);
	check(hist_mean(&h) == 0);

	/* one value: every q returns it exactly */
	hist_add(&h, 1000003);
	check_eq(hist_quantile(&h, 0), 1000003);
	check_eq(hist_quantile(&h, 1e-12), 1000003);
	check_eq(hist_quantile(&h, 0.5), 1000003);
	check_eq(hist_quantile(&h, 1), 1000003);
	check_eq(hist_quantile(&h, -3), 1000003);
	check_eq(hist_quantile(&h, 7), 1000003);
	check_eq(hist_quantile(&h, NAN), 1000003);
	check(hist_mean(&h) == 1000003.0);

	/* two values: rank 1 up to q = 0.5, rank 2 above */
	hist_add(&h, 10);
	check_eq(hist_quantile(&h, 0), 10);
	check_eq(hist_quantile(&h, 0.5), 10);
	check_eq(hist_quantile(&h, 0.5000001), 1000003);
	check_eq(hist_quantile(&h, 1), 1000003);
	check(hist_mean(&h) == (1000003.0 + 10) / 2);

	/* q = 1 is max even when max sits above its bucket's midpoint */
	hist_reset(&h);
	hist_add(&h, 1000);
	hist_add(&h, 1000);
	hist_add(&h, 1007); /* same bucket as 1000 (width 8 from 1000) */
	check_eq(hist_bucket(1000), hist_bucket(1007));
	check_eq(hist_quantile(&h, 1), 1007);
	check_eq(hist_quantile(&h, 0), 1000);

	/* an inconsistent snapshot: buckets newer than count/min/max */
	hist_reset(&z);
	for (uint64_t x = 1000; x < 2000; x++)
		hist_add(&z, x);
	z.count = 0;
	z.min = UINT64_MAX;
	z.max = 0;
	check(within_bound(hist_quantile(&z, 0), 1000));
	check(within_bound(hist_quantile(&z, 0.5), 1499));
	check(within_bound(hist_quantile(&z, 1), 1999));
	/* count larger than the buckets, min/max from elsewhere */
	z.count = 5000;
	z.min = 3;
	z.max = 5;
	check(within_bound(hist_quantile(&z, 1), 1999));
	check(within_bound(hist_quantile(&z, 0), 1000));
	/* a value in the last bucket seen before min and max were: the empty
	 * min (UINT64_MAX) lies in that bucket's range but must be ignored */
	hist_reset(&z);
	hist_add(&z, 4280000000u);
	check_eq(hist_bucket(4280000000u), HIST_NBUCKETS - 1);
	z.count = 0;
	z.min = UINT64_MAX;
	z.max = 0;
	check(within_bound(hist_quantile(&z, 0), 4280000000u));
	check(within_bound(hist_quantile(&z, 1), 4280000000u));
	return 0;
}

static void add_all(struct hist *h, const uint64_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		hist_add(h, v[i]);
}

static int test_merge(void)
{
	static uint64_t a[NVAL], b[NVAL / 2];
	static struct hist ha, hb, hab, t, empty;
	uint64_t s = 42;

	for (size_t i = 0; i < NVAL; i++)
		a[i] = draw(D_EXP_SMALL, &s);
	for (size_t i = 0; i < NVAL / 2; i++)
		b[i] = draw(D_LOG_UNIFORM, &s);
	hist_reset(&ha);
	hist_reset(&hb);
	hist_reset(&hab);
	hist_reset(&empty);
	add_all(&ha, a, NVAL);
	add_all(&hb, b, NVAL / 2);
	add_all(&hab, a, NVAL);
	add_all(&hab, b, NVAL / 2);

	t = ha;
	hist_merge(&t, &hb);
	check(hist_equal(&t, &hab));
	t = hb;
	hist_merge(&t, &ha);
	check(hist_equal(&t, &hab));

	t = empty;
	hist_merge(&t, &ha);
	check(hist_equal(&t, &ha));
	t = ha;
	hist_merge(&t, &empty);
	check(hist_equal(&t, &ha));

	/* merging into itself doubles the counts */
	t = hb;
	hist_merge(&t, &t);
	check_eq(t.count, 2 * hb.count);
	check(t.sum == 2 * hb.sum);
	check_eq(t.min, hb.min);
	check_eq(t.max, hb.max);
	for (unsigned i = 0; i < HIST_NBUCKETS; i++)
		check(t.buckets[i] == 2 * hb.buckets[i]);
	return 0;
}

static int test_delta(void)
{
	static uint64_t a[NVAL], b[NVAL], c[1000];
	static struct hist h, s0, s1, s2, s3, ref, d, t, empty;
	uint64_t s = 7;
	int line;

	/* a: a wide window with the extremes; b: inside a's range */
	for (size_t i = 0; i < NVAL; i++)
		a[i] = draw(D_LOG_UNIFORM, &s);
	a[0] = 3;
	a[1] = 3000000000u;
	for (size_t i = 0; i < NVAL; i++)
		b[i] = 1000 + draw(D_EXP_LARGE, &s);
	for (size_t i = 0; i < 1000; i++)
		c[i] = draw(D_BIMODAL, &s);
	c[10] = 0;              /* new minimum */
	c[20] = 5000000000ull;    /* new maximum, above HIST_TOP */

	hist_reset(&h);
	hist_reset(&empty);
	hist_snapshot(&s0, &h);
	check(hist_equal(&s0, &empty));
	add_all(&h, a, NVAL);
	hist_snapshot(&s1, &h);
	add_all(&h, b, NVAL);
	hist_snapshot(&s2, &h);
	add_all(&h, c, 1000);
	hist_snapshot(&s3, &h);
	check(hist_equal(&s3, &h));

	/* interval b: buckets, count and sum exact; min and max estimated */
	hist_reset(&ref);
	add_all(&ref, b, NVAL);
	hist_delta(&d, &s2, &s1);
	check(memcmp(d.buckets, ref.buckets, sizeof(d.buckets)) == 0);
	check_eq(d.count, ref.count);
	check(d.sum == ref.sum);
	check(fabs(hist_mean(&d) - hist_mean(&ref)) < 1e-9 * hist_mean(&ref));
	check(ref.max < s1.max && ref.min > s1.min); /* i.e. not knowable */
	check_eq(hist_bucket(d.max), hist_bucket(ref.max));
	check_eq(hist_bucket(d.min), hist_bucket(ref.min));
	check(within_bound(d.max, ref.max));
	check(within_bound(d.min, ref.min));
	line = check_quantiles(&d, b, NVAL, 0);
	if (line)
		return line;

	/* interval c brought a new min and max: both exact */
	hist_reset(&ref);
	add_all(&ref, c, 1000);
	hist_delta(&d, &s3, &s2);
	check(ref.max > s2.max && ref.min < s2.min);
	check(hist_equal(&d, &ref));
	line = check_quantiles(&d, c, 1000, 1);
	if (line)
		return line;

	/* a window holding only one end of bucket 1024..1039, below an older
	 * max and above an older min: the far end of the bucket would be
	 * 1.5 % off, the midpoint is within 1/128 */
	for (uint64_t x = 1024; x <= 1039; x += 15) {
		t = s3;
		hist_add(&t, x);
		hist_delta(&d, &t, &s3);
		check_eq(d.count, 1);
		check(within_bound(d.max, x));
		check(within_bound(d.min, x));
		check(d.min <= d.max);
		check(within_bound(hist_quantile(&d, 1), x));
		check(within_bound(hist_quantile(&d, 0), x));
		check(within_bound(hist_quantile(&d, 0.5), x));
	}

	/* from an empty start the delta is the histogram itself */
	hist_delta(&d, &s1, &s0);
	check(hist_equal(&d, &s1));
	/* an empty interval gives the reset state */
	hist_delta(&d, &s2, &s2);
	check(hist_equal(&d, &empty));
	check_eq(hist_quantile(&d, 0.5), 0);

	/* dst may alias now or before */
	hist_delta(&d, &s2, &s1);
	t = s2;
	hist_delta(&t, &t, &s1);
	check(hist_equal(&t, &d));
	t = s1;
	hist_delta(&t, &s2, &t);
	check(hist_equal(&t, &d));

	/* arguments swapped: nothing went forwards, all zero */
	hist_delta(&d, &s1, &s2);
	check_eq(d.count, 0);
	for (unsigned i = 0; i < HIST_NBUCKETS; i++)
		check_eq(d.buckets[i], 0);
	check_eq(hist_quantile(&d, 1), 0);
	return 0;
}

/* One writer adds while the reader snapshots. */
#define THR_N 1000000

struct thr {
	struct hist h;      /* written only by the writer thread */
	int started, done;  /* atomics */
	uint64_t seed;
};

static void *writer(void *arg)
{
	struct thr *t = arg;
	uint64_t s = t->seed;

	while (!__atomic_load_n(&t->started, __ATOMIC_ACQUIRE))
		;
	for (int i = 0; i < THR_N; i++)
		hist_add(&t->h, draw(i & 1 ? D_EXP_SMALL : D_LOG_UNIFORM, &s));
	__atomic_store_n(&t->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static uint64_t bucket_total(const struct hist *h)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < HIST_NBUCKETS; i++)
		n += h->buckets[i];
	return n;
}

/* The reader's side: snapshot until the writer is done. Returns 0 or the
 * failing line; *last is the final snapshot. */
static int reader(struct thr *t, struct hist snap[2], struct hist **last)
{
	uint64_t prev_total = 0, prev_count = 0, prev_sum = 0;
	unsigned cur = 0;

	hist_reset(&snap[1]);
	for (;;) {
		int done = __atomic_load_n(&t->done, __ATOMIC_ACQUIRE);
		struct hist *a = &snap[cur], *p = &snap[cur ^ 1];
		uint64_t total;

		hist_snapshot(a, &t->h);
		total = bucket_total(a);
		check(total >= prev_total && total <= THR_N);
		check(a->count >= prev_count && a->count <= THR_N);
		check(a->sum >= prev_sum);
		for (unsigned i = 0; i < HIST_NBUCKETS; i++)
			check(a->buckets[i] >= p->buckets[i]);
		/* quantiles of a torn snapshot stay sane */
		if (total) {
			uint64_t q1 = hist_quantile(a, 1), q0 = hist_quantile(a, 0);

			check(q0 <= hist_quantile(a, 0.5));
			check(hist_quantile(a, 0.5) <= q1);
			check(q1 < HIST_TOP);
		}
		prev_total = total;
		prev_count = a->count;
		prev_sum = a->sum;
		cur ^= 1;
		if (done) {
			/* this snapshot began after the last add */
			check_eq(total, THR_N);
			*last = a;
			return 0;
		}
	}
}

static int test_threaded(void)
{
	static struct thr t;
	static struct hist snap[2], ref;
	struct hist *last = NULL;
	pthread_t tid;
	uint64_t s;
	int line;

	hist_reset(&t.h);
	t.seed = 99;
	t.started = t.done = 0;
	check_eq(pthread_create(&tid, NULL, writer, &t), 0);
	__atomic_store_n(&t.started, 1, __ATOMIC_RELEASE);
	line = reader(&t, snap, &last);
	check_eq(pthread_join(tid, NULL), 0);
	if (line)
		return line;

	/* the last snapshot, the writer's histogram and a single-threaded
	 * replay of the same values are identical */
	hist_reset(&ref);
	s = t.seed;
	for (int i = 0; i < THR_N; i++)
		hist_add(&ref, draw(i & 1 ? D_EXP_SMALL : D_LOG_UNIFORM, &s));
	check(hist_equal(last, &t.h));
	check(hist_equal(&t.h, &ref));
	return 0;
}

/* HIST_BENCH=1: ns per hist_add and friends; prints, asserts nothing. */
static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void bench_add(const char *name, const uint64_t *v, size_t nv,
		      struct hist *h)
{
	const size_t iters = 200000000;
	double t0, t1;

	hist_reset(h);
	t0 = now_ns();
	for (size_t i = 0; i < iters; i++)
		hist_add(h, v[i & (nv - 1)]);
	t1 = now_ns();
	printf("hist_add %-22s %.2f ns/add (count %llu, p99 %llu us)\n", name,
	       (t1 - t0) / (double)iters, (unsigned long long)h->count,
	       (unsigned long long)hist_quantile(h, 0.99));
}

static void bench(void)
{
	enum { NV = 1 << 16 };
	static uint64_t v[NV];
	static struct hist h, snap;
	uint64_t s = 1, sink = 0;
	double t0, t1;
	int n;

	for (size_t i = 0; i < NV; i++)
		v[i] = 12345;
	bench_add("constant", v, NV, &h);
	for (size_t i = 0; i < NV; i++)
		v[i] = draw(D_EXP_SMALL, &s);
	bench_add("exponential 500us", v, NV, &h);
	for (size_t i = 0; i < NV; i++)
		v[i] = draw(D_LOG_UNIFORM, &s);
	bench_add("log-uniform 1us-71min", v, NV, &h);

	n = 100000;
	t0 = now_ns();
	for (int i = 0; i < n; i++)
		hist_snapshot(&snap, &h);
	t1 = now_ns();
	printf("hist_snapshot %.0f ns\n", (t1 - t0) / n);
	t0 = now_ns();
	for (int i = 0; i < n; i++)
		sink += hist_quantile(&snap, 0.999);
	t1 = now_ns();
	printf("hist_quantile %.0f ns (%llu)\n", (t1 - t0) / n,
	       (unsigned long long)(sink / (uint64_t)n));
	printf("sizeof(struct hist) %zu bytes\n", sizeof(struct hist));
}

int main(int argc, char **argv)
{
	static const struct test_case tests[] = {
		T(test_bucket_layout),
		T(test_linear_exact),
		T(test_quantile_bound),
		T(test_boundaries),
		T(test_quantile_edges),
		T(test_merge),
		T(test_delta),
		T(test_threaded),
	};
	const char *b = getenv("HIST_BENCH");

	(void)argc;
	if (b && strcmp(b, "1") == 0) {
		bench();
		return 0;
	}
	return test_run_all(argv[0], tests, sizeof(tests) / sizeof(tests[0]));
}
