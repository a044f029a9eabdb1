/*
 * delay: a FIFO of delayed frames. See delay.h.
 *
 * Records are contiguous in the buffer; one that would not fit before the
 * end starts at the beginning, and the skipped tail is accounted in the
 * logical offsets (a record with len UINT32_MAX marks it when there is
 * room for a header).
 */
#include "serve/delay.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN8(n) (((n) + 7) & ~(size_t)7)
#define WRAP UINT32_MAX

/* see delay.h */
int delayq_init(struct delayq *q, size_t cap)
{
	q->cap = ALIGN8(cap);
	q->buf = malloc(q->cap);
	q->head = q->tail = 0;
	return q->buf ? 0 : -ENOMEM;
}

/* see delay.h */
void delayq_free(struct delayq *q)
{
	free(q->buf);
	q->buf = NULL;
}

/* see delay.h */
int delayq_push(struct delayq *q, int64_t due_ns, uint32_t chat,
		const uint8_t *frame, size_t n)
{
	size_t size = ALIGN8(sizeof(struct delay_rec) + n);
	size_t pos = q->tail % q->cap, skip = 0;
	struct delay_rec *r;

	if (size > q->cap / 2)
		return -ENOSPC;
	if (pos + size > q->cap)
		skip = q->cap - pos;
	if (q->tail + skip + size - q->head > q->cap)
		return -ENOSPC;
	if (skip) {
		if (skip >= sizeof(struct delay_rec)) {
			r = (struct delay_rec *)(q->buf + pos);
			r->len = WRAP;
		}
		q->tail += skip;
		pos = 0;
	}
	r = (struct delay_rec *)(q->buf + pos);
	r->due_ns = due_ns;
	r->chat = chat;
	r->len = (uint32_t)n;
	memcpy(r->frame, frame, n);
	q->tail += size;
	return 0;
}

/* Step over a wrap marker or a tail too short for one. */
static void skip_wrap(struct delayq *q)
{
	size_t pos = q->head % q->cap;

	if (q->head == q->tail)
		return;
	if (q->cap - pos < sizeof(struct delay_rec) ||
	    ((struct delay_rec *)(q->buf + pos))->len == WRAP)
		q->head += q->cap - pos;
}

/* see delay.h */
const struct delay_rec *delayq_peek(const struct delayq *q)
{
	skip_wrap((struct delayq *)q);
	if (q->head == q->tail)
		return NULL;
	return (const struct delay_rec *)(q->buf + q->head % q->cap);
}

/* see delay.h */
void delayq_pop(struct delayq *q)
{
	const struct delay_rec *r = delayq_peek(q);

	if (r)
		q->head += ALIGN8(sizeof(struct delay_rec) + r->len);
}
