/* Unit tests for pool (include/pool.h) and outq (src/engine/outq.h). */
#include "test.h"
#include "engine/outq.h"
#include "pool.h"

#include <errno.h>
#include <stdint.h>
#include <sys/uio.h>

static int pool_bounded(void)
{
	struct pool p;
	void *b[10];

	check(pool_init(&p, 100, 4, 10) == 0);
	check_eq(p.block_size, 112);
	for (int i = 0; i < 10; i++) {
		b[i] = pool_get(&p);
		check(b[i] != NULL);
		memset(b[i], i, 112);
	}
	check(pool_get(&p) == NULL);
	check_eq(p.used, 10);
	pool_put(&p, b[3]);
	void *again = pool_get(&p);
	check(again == b[3]);
	for (int i = 0; i < 10; i++)
		pool_put(&p, b[i]);
	check_eq(p.used, 0);
	check_eq(p.total, 10);
	pool_destroy(&p);
	return 0;
}

/* Append a byte pattern in odd sizes, drain with partial sends, compare. */
static int outq_stream(void)
{
	struct pool p;
	struct outq q = { 0 };
	static uint8_t src[100000], dst[100000];
	size_t in = 0, out = 0;

	check(pool_init(&p, 256, 8, 0) == 0);
	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i * 31 + (i >> 8));
	while (out < sizeof(src)) {
		size_t n = (in * 7 + 13) % 700 + 1;

		if (in + n > sizeof(src))
			n = sizeof(src) - in;
		if (n && outq_append(&q, &p, src + in, n, 1 << 20) == 0)
			in += n;
		const uint8_t *d;
		size_t k = outq_peek(&q, &d);
		/* a short send: take at most 3/4 of the span */
		if (k > 4)
			k = k * 3 / 4;
		memcpy(dst + out, d, k);
		outq_consume(&q, &p, k);
		out += k;
		check_eq(q.bytes, in - out);
	}
	check(memcmp(src, dst, sizeof(src)) == 0);
	check(q.head == NULL && q.tail == NULL);
	check_eq(p.used, 0); /* an empty queue holds no block */
	pool_destroy(&p);
	return 0;
}

/* The same through vectored peeks of up to 3 spans, consumed short. */
static int outq_vectored(void)
{
	struct pool p;
	struct outq q = { 0 };
	static uint8_t src[60000], dst[60000];
	size_t in = 0, out = 0;

	check(pool_init(&p, 256, 8, 0) == 0);
	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i * 7 + (i >> 9));
	while (out < sizeof(src)) {
		size_t n = (in * 5 + 11) % 900 + 1, bytes, take, left;
		struct iovec iov[3];
		int k;

		if (in + n > sizeof(src))
			n = sizeof(src) - in;
		if (n && outq_append(&q, &p, src + in, n, 1 << 20) == 0)
			in += n;
		k = outq_peekv(&q, iov, 3, &bytes);
		check(k <= 3);
		take = bytes > 10 ? bytes * 2 / 3 : bytes;
		left = take;
		for (int j = 0; j < k && left; j++) {
			size_t c = iov[j].iov_len < left ? iov[j].iov_len : left;

			check(iov[j].iov_len > 0);
			memcpy(dst + out + (take - left), iov[j].iov_base, c);
			left -= c;
		}
		outq_consume(&q, &p, take);
		out += take;
		check_eq(q.bytes, in - out);
	}
	check(memcmp(src, dst, sizeof(src)) == 0);
	check_eq(p.used, 0);
	pool_destroy(&p);
	return 0;
}

static int outq_limits(void)
{
	struct pool p;
	struct outq q = { 0 };
	uint8_t buf[1000] = { 0 };

	check(pool_init(&p, 256, 2, 5) == 0);
	check_eq(outq_append(&q, &p, buf, 600, 1000), 0);
	/* over the per-queue limit: refused, queue unchanged */
	check_eq(outq_append(&q, &p, buf, 401, 1000), -ENOBUFS);
	check_eq(q.bytes, 600);
	/* pool has 5 blocks of 240 payload; 600 used 3 blocks */
	check_eq(outq_append(&q, &p, buf, 900, 1 << 20), -ENOMEM);
	check_eq(q.bytes, 600);
	check_eq(p.used, 3);
	check_eq(outq_append(&q, &p, buf, 300, 1 << 20), 0);
	outq_clear(&q, &p);
	check_eq(p.used, 0);
	check_eq(q.bytes, 0);
	pool_destroy(&p);
	return 0;
}

TEST_MAIN(T(pool_bounded), T(outq_stream), T(outq_vectored), T(outq_limits))
