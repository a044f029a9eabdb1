/*
 * xq: a single-producer, single-consumer ring of frames. See xq.h.
 *
 * head and tail count bytes since the start and only grow; an offset in
 * the ring is the count modulo cap. The producer owns tail and reads
 * head, the consumer the other way round: release stores publish what
 * was written or read, acquire loads see it.
 */
#include "serve/xq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN 16

static size_t ent_size(uint32_t len)
{
	return (sizeof(struct xq_ent) + len + ALIGN - 1) & ~(size_t)(ALIGN - 1);
}

/* see xq.h */
int xq_init(struct xq *q, size_t cap)
{
	size_t c = 4096;

	memset(q, 0, sizeof(*q));
	while (c < cap)
		c <<= 1;
	/* calloc of this size maps pages lazily: the memory is what the
	 * queue's deepest backlog touched. */
	q->buf = calloc(1, c);
	if (!q->buf)
		return -ENOMEM;
	q->cap = c;
	return 0;
}

/* see xq.h */
void xq_free(struct xq *q)
{
	free(q->buf);
	q->buf = NULL;
}

/* see xq.h */
int xq_push(struct xq *q, const struct xq_ent *h, const void *frame)
{
	uint64_t tail = q->tail;
	uint64_t head = __atomic_load_n(&q->head, __ATOMIC_ACQUIRE);
	size_t need = ent_size(h->len), off = (size_t)tail & (q->cap - 1);
	size_t pad = q->cap - off < need ? q->cap - off : 0;
	struct xq_ent *e;

	if (need > q->cap / 2 || q->cap - (size_t)(tail - head) < pad + need)
		return -ENOBUFS;
	if (pad) {
		e = (struct xq_ent *)(q->buf + off);
		e->len = XQ_PAD;
		tail += pad;
		off = 0;
	}
	e = (struct xq_ent *)(q->buf + off);
	*e = *h;
	if (h->len)
		memcpy(e + 1, frame, h->len);
	__atomic_store_n(&q->tail, tail + need, __ATOMIC_RELEASE);
	return 0;
}

/* see xq.h */
int xq_bell(struct xq *q)
{
	return __atomic_exchange_n(&q->bell, 1, __ATOMIC_SEQ_CST) == 0;
}

/* see xq.h */
void xq_unbell(struct xq *q)
{
	__atomic_store_n(&q->bell, 0, __ATOMIC_SEQ_CST);
	/* the reads of tail that follow must not pass the store: with the
	 * producer's exchange after its push, one side sees the other */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* see xq.h */
const struct xq_ent *xq_peek(struct xq *q, const uint8_t **frame)
{
	uint64_t tail = __atomic_load_n(&q->tail, __ATOMIC_ACQUIRE);
	const struct xq_ent *e;

	if (q->head == tail)
		return NULL;
	e = (const struct xq_ent *)(q->buf + ((size_t)q->head & (q->cap - 1)));
	if (e->len == XQ_PAD) {
		/* the producer padded only when an entry followed */
		__atomic_store_n(&q->head, q->head + q->cap -
				 ((size_t)q->head & (q->cap - 1)),
				 __ATOMIC_RELEASE);
		e = (const struct xq_ent *)q->buf;
	}
	*frame = (const uint8_t *)(e + 1);
	return e;
}

/* see xq.h */
void xq_pop(struct xq *q)
{
	const struct xq_ent *e =
		(const struct xq_ent *)(q->buf + ((size_t)q->head & (q->cap - 1)));

	__atomic_store_n(&q->head, q->head + ent_size(e->len),
			 __ATOMIC_RELEASE);
}
