/*
 * tw: a hashed timer wheel. O(1) add and cancel, expiry work proportional to
 * the timers due plus the slots passed. Time is in caller-defined ticks
 * (esmeload uses 1 ms); the wheel never reads a clock itself.
 *
 * A timer is an intrusive node the caller embeds in its own struct and maps
 * back with container_of-style arithmetic. A node is armed at most once.
 */
#ifndef ESMELOAD_TW_H
#define ESMELOAD_TW_H

#include <stddef.h>
#include <stdint.h>

struct tw_node {
	struct tw_node *next, **pprev; /* pprev == NULL: not armed */
	uint64_t expires;              /* absolute tick */
};

struct tw {
	struct tw_node **slots;
	uint64_t *bitmap;  /* bit s set: slot s may be non-empty */
	unsigned nslots;   /* power of two */
	uint64_t now;      /* last tick processed */
	size_t armed;
};

/* nslots is rounded up to a power of two (>= 64). Returns 0 or -ENOMEM. */
int tw_init(struct tw *w, unsigned nslots, uint64_t now);
void tw_free(struct tw *w);

static inline int tw_armed(const struct tw_node *n) { return n->pprev != NULL; }

/* Arm n to expire at tick `expires` (ticks in the past fire on the next
 * tw_advance). n must not be armed. */
void tw_add(struct tw *w, struct tw_node *n, uint64_t expires);
/* Disarm n if armed. */
void tw_del(struct tw *w, struct tw_node *n);

/*
 * Move to tick now and call fire(ctx, n) for every node that expired, each
 * disarmed before the call (fire may re-arm it or arm others). Returns the
 * number fired.
 */
size_t tw_advance(struct tw *w, uint64_t now,
		  void (*fire)(void *ctx, struct tw_node *n), void *ctx);

/*
 * Ticks from w->now until the next slot that holds a timer, at most limit
 * (also when nothing is armed). Used as the event loop's wait bound: the
 * slot may hold only later-round timers, so this can wake early, never late.
 */
uint64_t tw_next(const struct tw *w, uint64_t limit);

#endif
