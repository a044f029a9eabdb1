/* Unit tests for the queue of frames between serve threads
 * (src/serve/xq.h). */
#include "test.h"
#include "serve/xq.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

/* Entries of varied sizes many times around a small ring: order, header
 * and frame bytes survive every wrap (and the pad entries it takes). */
static int wraps_in_order(void)
{
	struct xq q;
	uint8_t frame[1500];
	const uint8_t *f;
	const struct xq_ent *e;
	uint32_t pushed = 0, popped = 0;

	check(xq_init(&q, 4096) == 0);
	check_eq(q.cap, 4096);
	for (int round = 0; round < 20000; round++) {
		struct xq_ent h = { .len = (uint32_t)(round * 131 % 1400) + 1,
				    .org = pushed, .part = ~pushed,
				    .flags = pushed & 1 };

		memset(frame, (int)(pushed & 0xff), h.len);
		if (xq_push(&q, &h, frame) == 0)
			pushed++;
		else
			check(xq_peek(&q, &f) != NULL); /* full: never empty */
		if (round % 3 != 0 && (e = xq_peek(&q, &f))) {
			check_eq(e->org, popped);
			check_eq(e->part, ~popped);
			check_eq(e->flags, popped & 1);
			for (uint32_t i = 0; i < e->len; i++)
				check_eq(f[i], popped & 0xff);
			xq_pop(&q);
			popped++;
		}
	}
	while ((e = xq_peek(&q, &f))) {
		check_eq(e->org, popped);
		xq_pop(&q);
		popped++;
	}
	check_eq(popped, pushed);
	check(pushed > 10000);
	xq_free(&q);
	return 0;
}

/* Full: -ENOBUFS, nothing half-written; an entry over half the ring is
 * refused even when it is empty. */
static int full_and_too_big(void)
{
	struct xq q;
	uint8_t frame[4096] = { 0 };
	struct xq_ent h = { .len = 1000 };
	const uint8_t *f;
	int n = 0;

	check(xq_init(&q, 4096) == 0);
	h.len = 2049;
	check_eq(xq_push(&q, &h, frame), -ENOBUFS);
	check(xq_peek(&q, &f) == NULL);
	h.len = 1000;
	while (xq_push(&q, &h, frame) == 0)
		n++;
	check_eq(n, 4);      /* 4 x 1024 bytes with their headers */
	check_eq(xq_push(&q, &h, frame), -ENOBUFS);
	xq_pop(&q);
	check(xq_peek(&q, &f) != NULL);
	check_eq(xq_push(&q, &h, frame), 0);
	xq_free(&q);
	return 0;
}

/* The doorbell rings once until the consumer unbells it. */
static int bell_once(void)
{
	struct xq q;

	check(xq_init(&q, 4096) == 0);
	check_eq(xq_bell(&q), 1);
	check_eq(xq_bell(&q), 0);
	check_eq(xq_bell(&q), 0);
	xq_unbell(&q);
	check_eq(xq_bell(&q), 1);
	xq_free(&q);
	return 0;
}

/* Two threads: a producer pushes a counted sequence through a small ring
 * while the consumer takes it; every entry arrives once, in order. */
#define STREAM 200000
static struct xq stream_q;

static void *producer(void *arg)
{
	uint8_t frame[64];

	(void)arg;
	for (uint32_t i = 0; i < STREAM;) {
		struct xq_ent h = { .len = 1 + i % 60, .org = i };

		memset(frame, (int)(i & 0xff), h.len);
		if (xq_push(&stream_q, &h, frame) == 0)
			i++;
	}
	return NULL;
}

static int two_threads(void)
{
	pthread_t t;
	uint32_t next = 0, bad = 0;

	check(xq_init(&stream_q, 8192) == 0);
	check(pthread_create(&t, NULL, producer, NULL) == 0);
	while (next < STREAM) {
		const uint8_t *f;
		const struct xq_ent *e = xq_peek(&stream_q, &f);

		if (!e)
			continue;
		/* a wrong entry is counted, and the stream still drained,
		 * so the producer always ends */
		bad += e->org != next || e->len != 1 + next % 60 ||
		       f[e->len - 1] != (next & 0xff);
		xq_pop(&stream_q);
		next++;
	}
	pthread_join(t, NULL);
	check_eq(next, STREAM);
	check_eq(bad, 0);
	xq_free(&stream_q);
	return 0;
}

TEST_MAIN(T(wraps_in_order), T(full_and_too_big), T(bell_once),
	  T(two_threads))
