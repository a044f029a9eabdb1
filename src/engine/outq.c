/*
 * outq: chunked outbound queue. See outq.h.
 */
#include "engine/outq.h"

#include <errno.h>
#include <string.h>
#include <sys/uio.h>

struct outq_block {
	struct outq_block *next;
	uint32_t len;      /* bytes written into data */
	uint32_t pad;
	uint8_t data[];
};

/* see outq.h */
size_t outq_block_payload(const struct pool *p)
{
	return p->block_size - sizeof(struct outq_block);
}

/* see outq.h */
int outq_append(struct outq *q, struct pool *p, const void *data, size_t n,
		size_t limit)
{
	size_t cap = outq_block_payload(p);
	const uint8_t *src = data;
	size_t room = q->tail ? cap - q->tail->len : 0;
	size_t need;
	struct outq_block *first = NULL, *last = NULL;

	if ((size_t)q->bytes + n > limit)
		return -ENOBUFS;
	/* Reserve every new block first so a failure leaves q unchanged. */
	need = n > room ? (n - room + cap - 1) / cap : 0;
	for (size_t i = 0; i < need; i++) {
		struct outq_block *b = pool_get(p);

		if (!b) {
			while (first) {
				struct outq_block *nx = first->next;

				pool_put(p, first);
				first = nx;
			}
			return -ENOMEM;
		}
		b->next = NULL;
		b->len = 0;
		if (last)
			last->next = b;
		else
			first = b;
		last = b;
	}
	if (room) {
		size_t k = n < room ? n : room;

		memcpy(q->tail->data + q->tail->len, src, k);
		q->tail->len += k;
		src += k;
		n -= k;
		q->bytes += k;
	}
	if (first) {
		if (q->tail)
			q->tail->next = first;
		else
			q->head = first;
		q->tail = last;
		for (struct outq_block *b = first; b; b = b->next) {
			size_t k = n < cap ? n : cap;

			memcpy(b->data, src, k);
			b->len = k;
			src += k;
			n -= k;
			q->bytes += k;
		}
	}
	return 0;
}

/* see outq.h */
size_t outq_peek(const struct outq *q, const uint8_t **data)
{
	if (!q->head)
		return 0;
	*data = q->head->data + q->head_off;
	return q->head->len - q->head_off;
}

/* see outq.h */
int outq_peekv(const struct outq *q, struct iovec *iov, int max,
	       size_t *bytes)
{
	const struct outq_block *b = q->head;
	uint32_t off = q->head_off;
	int n = 0;

	*bytes = 0;
	for (; b && n < max; b = b->next, off = 0) {
		if (b->len == off)
			continue;
		iov[n].iov_base = (void *)(b->data + off);
		iov[n].iov_len = b->len - off;
		*bytes += iov[n].iov_len;
		n++;
	}
	return n;
}

/* see outq.h */
void outq_consume(struct outq *q, struct pool *p, size_t n)
{
	q->bytes -= (uint32_t)n;
	while (n) {
		struct outq_block *b = q->head;
		size_t k = b->len - q->head_off;

		if (n < k) {
			q->head_off += (uint32_t)n;
			return;
		}
		/* The head block is fully sent: back to the pool, so an idle
		 * connection holds no block. */
		n -= k;
		q->head = b->next;
		q->head_off = 0;
		if (!q->head)
			q->tail = NULL;
		pool_put(p, b);
	}
}

/* see outq.h */
void outq_clear(struct outq *q, struct pool *p)
{
	while (q->head) {
		struct outq_block *b = q->head;

		q->head = b->next;
		pool_put(p, b);
	}
	q->tail = NULL;
	q->head_off = 0;
	q->bytes = 0;
}
