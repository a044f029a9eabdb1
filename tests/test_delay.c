/* Unit tests for serve's delay FIFO (src/serve/delay.h). */
#include "test.h"
#include "serve/delay.h"

#include <errno.h>
#include <stdint.h>

/* Push and pop records of varied sizes through a small buffer many times
 * around: order, contents and due times survive every wrap. */
static int fifo_wraps(void)
{
	struct delayq q;
	uint8_t frame[300];
	uint32_t pushed = 0, popped = 0;

	check(delayq_init(&q, 1000) == 0);
	for (int round = 0; round < 5000; round++) {
		size_t n = (size_t)(round * 37 % 250) + 1;

		for (size_t i = 0; i < n; i++)
			frame[i] = (uint8_t)(pushed + i);
		if (delayq_push(&q, (int64_t)pushed * 10, pushed, frame, n) == 0) {
			pushed++;
		} else {
			/* Full: drain a little and go on. */
			check(delayq_peek(&q) != NULL);
		}
		if (round % 3 != 0) {
			const struct delay_rec *r = delayq_peek(&q);

			if (r) {
				check_eq(r->chat, popped);
				check_eq(r->due_ns, (int64_t)popped * 10);
				for (uint32_t i = 0; i < r->len; i++)
					check_eq(r->frame[i], (uint8_t)(popped + i));
				delayq_pop(&q);
				popped++;
			}
		}
	}
	while (delayq_peek(&q)) {
		check_eq(delayq_peek(&q)->chat, popped);
		delayq_pop(&q);
		popped++;
	}
	check_eq(popped, pushed);
	check(pushed > 1000);
	delayq_free(&q);
	return 0;
}

static int bounded(void)
{
	struct delayq q;
	uint8_t frame[600] = { 0 };
	int n = 0;

	check(delayq_init(&q, 1024) == 0);
	check_eq(delayq_push(&q, 0, 0, frame, 600), -ENOSPC); /* > half */
	while (delayq_push(&q, 0, (uint32_t)n, frame, 100) == 0)
		n++;
	check(n >= 7 && n <= 9);
	check(delayq_peek(&q) != NULL);
	delayq_free(&q);
	return 0;
}

TEST_MAIN(T(fifo_wraps), T(bounded))
