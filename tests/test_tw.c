/* Unit tests for the timer wheel (include/tw.h). */
#include "test.h"
#include "tw.h"

#include <stdint.h>
#include <stdlib.h>

struct item {
	struct tw_node node;
	uint64_t fired_at;
	int fired;
	struct item *cancel; /* cancelled by this one's fire */
	int rearm;           /* re-arm this many ticks later, once */
};

struct ctx {
	struct tw *w;
	size_t count;
	uint64_t last;
	int order_ok;
};

static void fire(void *c, struct tw_node *n)
{
	struct ctx *x = c;
	struct item *it = (struct item *)n;

	it->fired++;
	it->fired_at = x->w->now;
	if (it->fired_at < x->last)
		x->order_ok = 0;
	x->last = it->fired_at;
	x->count++;
	if (it->cancel)
		tw_del(x->w, &it->cancel->node);
	if (it->rearm) {
		tw_add(x->w, n, x->w->now + it->rearm);
		it->rearm = 0;
	}
}

static int fires_at_deadline(void)
{
	struct tw w;
	static struct item it[1000];
	struct ctx x = { &w, 0, 0, 1 };

	check(tw_init(&w, 256, 0) == 0);
	for (int i = 0; i < 1000; i++)
		tw_add(&w, &it[i].node, 1 + (uint64_t)(i * 7919) % 5000);
	check_eq(w.armed, 1000);
	for (uint64_t t = 1; t <= 5000; t += 3)
		tw_advance(&w, t, fire, &x);
	tw_advance(&w, 5001, fire, &x);
	check_eq(x.count, 1000);
	check(x.order_ok);
	for (int i = 0; i < 1000; i++) {
		uint64_t dl = 1 + (uint64_t)(i * 7919) % 5000;

		check_eq(it[i].fired, 1);
		check(it[i].fired_at >= dl && it[i].fired_at < dl + 3);
	}
	check_eq(w.armed, 0);
	tw_free(&w);
	return 0;
}

static int cancel_and_rearm(void)
{
	struct tw w;
	struct item a = { 0 }, b = { 0 }, c = { 0 };
	struct ctx x = { &w, 0, 0, 1 };

	check(tw_init(&w, 64, 100) == 0);
	tw_add(&w, &a.node, 110);
	tw_add(&w, &b.node, 110);  /* same slot: a's fire cancels it */
	tw_add(&w, &c.node, 110 + 64); /* same slot, next round */
	a.cancel = &b;
	b.cancel = &a;
	a.rearm = 5;
	b.rearm = 5;
	tw_advance(&w, 110, fire, &x);
	/* Exactly one of a, b fired and cancelled the other; c waits. */
	check_eq(a.fired + b.fired, 1);
	check_eq(c.fired, 0);
	check(tw_armed(&c.node));
	struct item *first = a.fired ? &a : &b;
	check(tw_armed(&first->node)); /* re-armed for 115 */
	tw_advance(&w, 115, fire, &x);
	check_eq(first->fired, 2);
	tw_advance(&w, 173, fire, &x);
	check_eq(c.fired, 0);
	tw_advance(&w, 174, fire, &x);
	check_eq(c.fired, 1);
	check_eq(w.armed, 0);
	tw_del(&w, &c.node); /* disarming an unarmed node is a no-op */
	check_eq(w.armed, 0);
	tw_free(&w);
	return 0;
}

static int big_jump_and_past(void)
{
	struct tw w;
	struct item a = { 0 }, b = { 0 };
	struct ctx x = { &w, 0, 0, 1 };

	check(tw_init(&w, 64, 0) == 0);
	tw_add(&w, &a.node, 1000);
	tw_add(&w, &b.node, 0); /* in the past: next tick */
	tw_advance(&w, 1, fire, &x);
	check_eq(b.fired, 1);
	tw_advance(&w, 999, fire, &x);
	check_eq(a.fired, 0);
	tw_advance(&w, 100000, fire, &x); /* more than a turn at once */
	check_eq(a.fired, 1);
	tw_free(&w);
	return 0;
}

static int next_bound(void)
{
	struct tw w;
	struct item a = { 0 };

	check(tw_init(&w, 1024, 50) == 0);
	check_eq(tw_next(&w, 500), 500);  /* nothing armed */
	tw_add(&w, &a.node, 80);
	check_eq(tw_next(&w, 500), 30);
	check_eq(tw_next(&w, 10), 10);
	tw_del(&w, &a.node);
	tw_add(&w, &a.node, 50 + 1024 + 7); /* next round: may wake early */
	uint64_t d = tw_next(&w, 5000);
	check(d >= 1 && d <= 1024 + 7);
	tw_free(&w);
	return 0;
}

TEST_MAIN(T(fires_at_deadline), T(cancel_and_rearm), T(big_jump_and_past),
	  T(next_bound))
