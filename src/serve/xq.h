/*
 * xq: the frames one serve thread hands another, for connections the
 * other thread owns. One producer, one consumer, a ring of bytes, no lock
 * and no I/O: the producer writes an entry and publishes its end, the
 * consumer reads entries up to that end and publishes how far it read.
 *
 * An entry is a header (struct xq_ent) and a frame, padded to 16 bytes,
 * and never wraps: when the end of the ring has no room for one, a pad
 * entry fills it and the entry starts at the beginning.
 *
 * The doorbell: a producer that made the queue non-empty rings the
 * consumer (a message to its loop) unless a ring is already on its way:
 * xq_bell says whether to. The consumer calls xq_unbell before it reads,
 * so an entry pushed after its last read always rings again.
 */
#ifndef ESMELOAD_SERVE_XQ_H
#define ESMELOAD_SERVE_XQ_H

#include <stddef.h>
#include <stdint.h>

/* What the consumer does with an entry, by flags (messenger.c):
 * - none or XQ_MSG: send the frame to the connections it owns of
 *   organizer org and of participant part (either UINT32_MAX: none);
 *   XQ_MSG: the frame is a user_message;
 * - XQ_POST: store and send the message the bytes hold, in a chat the
 *   consumer owns;
 * - XQ_CLOSE: end chat org (an index), which the consumer owns;
 * - XQ_CONN: send the frame to connection org if its generation is part. */
struct xq_ent {
	uint32_t len;    /* frame bytes; XQ_PAD: skip to the ring's start */
	uint32_t org, part;
	uint32_t flags;
};
#define XQ_PAD UINT32_MAX
enum { XQ_MSG = 1, XQ_POST = 2, XQ_CLOSE = 4, XQ_CONN = 8 };

struct xq {
	_Alignas(64) uint64_t tail;  /* producer: bytes written */
	uint32_t bell;               /* 1: a ring is on its way */
	_Alignas(64) uint64_t head;  /* consumer: bytes read */
	_Alignas(64) uint8_t *buf;
	size_t cap;                  /* a power of two */
};

/* A queue of cap bytes (rounded up to a power of two, at least 4 KiB).
 * 0 or -ENOMEM. */
int xq_init(struct xq *q, size_t cap);
void xq_free(struct xq *q);

/* Producer: append an entry with n bytes of frame. 0, or -ENOBUFS when
 * the queue has no room for it (the consumer is that far behind). */
int xq_push(struct xq *q, const struct xq_ent *h, const void *frame);
/* Producer, after pushing: 1 when the consumer must be rung. */
int xq_bell(struct xq *q);

/* Consumer: before reading, after a ring came. */
void xq_unbell(struct xq *q);
/* Consumer: the oldest entry and its frame in *frame, or NULL when the
 * queue is empty. Valid until xq_pop. */
const struct xq_ent *xq_peek(struct xq *q, const uint8_t **frame);
void xq_pop(struct xq *q);

#endif
