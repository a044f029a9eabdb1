/*
 * tw: hashed timer wheel. See include/tw.h.
 *
 * Slot of a node = expires & (nslots - 1). A slot is a doubly linked list
 * (pprev style, so unlinking needs no head). The bitmap marks slots that
 * may be non-empty so tw_next skips empty ones 64 at a time; bits are set
 * on add and cleared lazily when a slot is found empty.
 */
#include "tw.h"

#include <errno.h>
#include <stdlib.h>

/* see tw.h */
int tw_init(struct tw *w, unsigned nslots, uint64_t now)
{
	unsigned n = 64;

	while (n < nslots)
		n <<= 1;
	w->slots = calloc(n, sizeof(*w->slots));
	w->bitmap = calloc(n / 64, sizeof(*w->bitmap));
	if (!w->slots || !w->bitmap) {
		tw_free(w);
		return -ENOMEM;
	}
	w->nslots = n;
	w->now = now;
	w->armed = 0;
	return 0;
}

/* see tw.h */
void tw_free(struct tw *w)
{
	free(w->slots);
	free(w->bitmap);
	w->slots = NULL;
	w->bitmap = NULL;
}

/* see tw.h */
void tw_add(struct tw *w, struct tw_node *n, uint64_t expires)
{
	unsigned s;

	/* A deadline in the past goes to the next slot processed. */
	if (expires <= w->now)
		expires = w->now + 1;
	s = expires & (w->nslots - 1);
	n->expires = expires;
	n->next = w->slots[s];
	if (n->next)
		n->next->pprev = &n->next;
	w->slots[s] = n;
	n->pprev = &w->slots[s];
	w->bitmap[s / 64] |= 1ULL << (s % 64);
	w->armed++;
}

/* see tw.h */
void tw_del(struct tw *w, struct tw_node *n)
{
	if (!n->pprev)
		return;
	*n->pprev = n->next;
	if (n->next)
		n->next->pprev = n->pprev;
	n->next = NULL;
	n->pprev = NULL;
	w->armed--;
}

/*
 * Detach slot s, then pop nodes one by one: due ones fire, the others (later
 * rounds) go back. fire() may cancel nodes still on the detached list (their
 * pprev points into it, so tw_del works) or arm new ones, which land in the
 * live slots, never on the list being walked.
 */
static size_t run_slot(struct tw *w, unsigned s,
		       void (*fire)(void *, struct tw_node *), void *ctx)
{
	struct tw_node *head = w->slots[s];
	size_t fired = 0;

	w->slots[s] = NULL;
	w->bitmap[s / 64] &= ~(1ULL << (s % 64));
	head->pprev = &head;
	while (head) {
		struct tw_node *n = head;

		tw_del(w, n);
		if (n->expires <= w->now) {
			fire(ctx, n);
			fired++;
		} else {
			tw_add(w, n, n->expires);
		}
	}
	return fired;
}

/* see tw.h */
size_t tw_advance(struct tw *w, uint64_t now,
		  void (*fire)(void *, struct tw_node *), void *ctx)
{
	size_t fired = 0;

	if (now <= w->now)
		return 0;
	if (now - w->now >= w->nslots) {
		/* Jumped a whole turn: every slot may hold due timers. */
		w->now = now;
		for (unsigned s = 0; s < w->nslots; s++)
			if (w->slots[s])
				fired += run_slot(w, s, fire, ctx);
		return fired;
	}
	/* w->now moves tick by tick so timers armed by fire() relative to
	 * "now" land in a slot still ahead. */
	while (w->now < now) {
		unsigned s = ++w->now & (w->nslots - 1);

		if (w->slots[s])
			fired += run_slot(w, s, fire, ctx);
	}
	return fired;
}

/* see tw.h */
uint64_t tw_next(const struct tw *w, uint64_t limit)
{
	if (!w->armed)
		return limit;
	for (uint64_t d = 1; d <= limit && d <= w->nslots; ) {
		unsigned s = (w->now + d) & (w->nslots - 1);
		uint64_t word = w->bitmap[s / 64] >> (s % 64);

		if (word)
			return d + (uint64_t)__builtin_ctzll(word) <= limit ?
			       d + (uint64_t)__builtin_ctzll(word) : limit;
		d += 64 - s % 64;
	}
	return limit;
}
