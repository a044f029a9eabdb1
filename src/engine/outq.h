/*
 * outq: a connection's outbound byte queue, a list of pool blocks.
 *
 * At most one send is in flight per socket (two could reorder on the wire).
 * The bytes of that send, outq_peek's span, stay untouched until
 * outq_consume; frames appended meanwhile go behind them and leave with the
 * next send (coalescing). An empty queue holds no block, so an idle
 * connection costs only the struct.
 */
#ifndef ESMELOAD_OUTQ_H
#define ESMELOAD_OUTQ_H

#include <stddef.h>
#include <stdint.h>

#include "pool.h"

struct outq_block;

struct outq {
	struct outq_block *head, *tail;
	uint32_t head_off;  /* first unsent byte in head */
	uint32_t bytes;     /* queued, unsent bytes */
};

/*
 * Append n bytes, all or nothing. Returns 0, -ENOBUFS when the queue would
 * exceed limit bytes (the caller drops or closes: a slow reader), or -ENOMEM
 * when the pool is exhausted.
 */
int outq_append(struct outq *q, struct pool *p, const void *data, size_t n,
		size_t limit);

/* The contiguous bytes at the head (0 when empty): what the next send takes. */
size_t outq_peek(const struct outq *q, const uint8_t **data);

/*
 * The queued bytes as up to max spans, oldest first, for one vectored send.
 * Returns the number of spans and sets *bytes to their total.
 */
struct iovec;
int outq_peekv(const struct outq *q, struct iovec *iov, int max,
	       size_t *bytes);

/* Drop n sent bytes from the head (n <= what the last peek returned). */
void outq_consume(struct outq *q, struct pool *p, size_t n);

/* Free every block. */
void outq_clear(struct outq *q, struct pool *p);

/* Payload bytes one block of pool p holds. */
size_t outq_block_payload(const struct pool *p);

#endif
