/* Unit tests for the engine's messages between loops (eng_msg_post,
 * ops.message): one that arrives, one that the kernel refuses. */
#include "test.h"
#include "engine/eng.h"
#include "clock.h"

#include <errno.h>
#include <stdint.h>
#include <unistd.h>

struct app {
	struct eng e;
	uint32_t got[8];
	unsigned ngot, turns;
};

static void on_message(void *p, uint32_t value)
{
	struct app *a = p;

	if (a->ngot < 8)
		a->got[a->ngot++] = value;
}

/* Stop once something came back, or after a bounded number of passes
 * (each waits at most max_wait_ns). */
static int64_t on_turn(void *p)
{
	struct app *a = p;

	return ++a->turns >= 50 || a->ngot || a->e.stats.msg_failed ?
	       ENG_STOP : ENG_GO;
}

static const struct eng_ops ops = {
	.message = on_message,
	.turn = on_turn,
};

static int setup(struct app *a)
{
	struct eng_opts o = {
		.max_conns = 4,
		.nbufs = 16,
		.buf_size = 4096,
		.send = ENG_SEND_QUEUE,
		.out_block = 4096,
		.out_memory = 1 << 16,
		.in_block = 4096,
		.tick_shift = 20,
		.wheel_slots = 64,
		.t0_ns = clock_mono_ns(),
		.max_wait_ns = 100000000,
	};
	char err[256];

	return eng_init(&a->e, &o, &ops, a, err, sizeof(err));
}

/* A message to the engine's own ring comes back as ops.message with its
 * value; nothing is counted as refused. */
static int delivered(void)
{
	static struct app a;

	check(setup(&a) == 0);
	eng_msg_post(&a.e, eng_msg_fd(&a.e), 12345);
	check(eng_run(&a.e) == 0);
	check_eq(a.ngot, 1);
	check_eq(a.got[0], 12345);
	check_eq(a.e.stats.msg_posted, 1);
	check_eq(a.e.stats.msg_failed, 0);
	check_eq(a.e.msg_err, 0);
	eng_exit(&a.e);
	return 0;
}

/* A descriptor that is not an io_uring: the kernel refuses the post, and
 * the engine counts it and latches the error. */
static int refused(void)
{
	static struct app a;
	int p[2];

	check(pipe(p) == 0);
	check(setup(&a) == 0);
	eng_msg_post(&a.e, p[0], 7);
	check(eng_run(&a.e) == 0);
	check_eq(a.ngot, 0);
	check_eq(a.e.stats.msg_failed, 1);
	check(a.e.msg_err < 0);
	eng_exit(&a.e);
	close(p[0]);
	close(p[1]);
	return 0;
}

TEST_MAIN(T(delivered), T(refused))
