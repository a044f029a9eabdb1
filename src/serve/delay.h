/*
 * delay: serve's fault injection for latency tests: user_message frames
 * held back a fixed time before fan-out (--delay), in a bounded FIFO of
 * encoded frames. With one fixed delay, arrival order is due order, so a
 * FIFO is a timer queue. No I/O.
 */
#ifndef ESMELOAD_SERVE_DELAY_H
#define ESMELOAD_SERVE_DELAY_H

#include <stddef.h>
#include <stdint.h>

struct delay_rec {
	int64_t due_ns;
	uint32_t chat;     /* chat index */
	uint32_t len;      /* frame bytes that follow */
	uint8_t frame[];
};

struct delayq {
	uint8_t *buf;
	size_t cap;
	uint64_t head, tail;  /* logical offsets: head is the oldest record */
};

/* Returns 0 or -ENOMEM. */
int delayq_init(struct delayq *q, size_t cap);
void delayq_free(struct delayq *q);
/* Append a frame due at due_ns; -ENOSPC when the queue is full. */
int delayq_push(struct delayq *q, int64_t due_ns, uint32_t chat,
		const uint8_t *frame, size_t n);
/* The oldest record, or NULL when empty; valid until delayq_pop. */
const struct delay_rec *delayq_peek(const struct delayq *q);
void delayq_pop(struct delayq *q);

#endif
