/*
 * conn: serve's connections on the engine (engine/eng.h): listeners on
 * the three ports, the state of each connection (HTTP, WebSocket waiting
 * for its authorization, authorized), its deadline, and the writes of
 * the sessions and the applications with the slow-reader policy. Input
 * goes to the session of the connection's state: http_session.c or
 * ws_session.c. See serve.h.
 *
 * A connection is the engine slot the kernel chose at accept; struct conn
 * at the same index in s->conns holds what serve keeps of it. The
 * connection counts per state (/stats "connections") change only here,
 * in conn_set_state and when a connection starts or ends.
 */
#include "serve.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* serve's wheel tick: 2^20 ns, about a millisecond. */
#define SERVE_TICK_SHIFT 20
#define OUT_BLOCK 16384

static int count_of(const struct conn *c)
{
	if (c->state == CS_HTTP)
		return 0;
	if (c->state == CS_WS_AUTH)
		return 1;
	if (c->state == CS_WS)
		return c->role == ROLE_ORG ? 2 : 3;
	return -1;
}

static void state_count(struct serve *s, const struct conn *c, int delta)
{
	int k = count_of(c);

	if (k >= 0)
		s->stats.conns[k] += (uint32_t)delta;
}

/* see serve.h */
void conn_set_state(struct serve *s, struct conn *c, enum conn_state st)
{
	state_count(s, c, -1);
	c->state = (uint8_t)st;
	state_count(s, c, 1);
}

/* see serve.h */
void conn_deadline(struct serve *s, struct conn *c, uint64_t ms)
{
	struct eng *e = &s->eng;

	eng_deadline(e, conn_idx(s, c),
		     eng_tick_of(e, e->now_ns + (int64_t)ms * 1000000));
}

/* What serve keeps of a connection that ends, either way. */
static void conn_end(struct serve *s, struct conn *c)
{
	if (c->state == CS_CLOSING || c->state == CS_FREE)
		return;
	if (s->sh->nthreads > 1)
		__atomic_fetch_sub(&s->sh->live, 1, __ATOMIC_RELAXED);
	if (c->role != ROLE_NONE)
		msgr_detach(s, c);
	state_count(s, c, -1);
	c->state = CS_CLOSING;
	wses_release(s, c);
}

/* see serve.h */
void conn_close(struct serve *s, struct conn *c)
{
	if (c->state == CS_CLOSING || c->state == CS_FREE)
		return;
	conn_end(s, c);
	eng_close(&s->eng, conn_idx(s, c));
}

/* see serve.h */
void conn_linger(struct serve *s, struct conn *c)
{
	if (c->state == CS_CLOSING || c->state == CS_FREE)
		return;
	eng_linger(&s->eng, conn_idx(s, c));
}

/* see serve.h */
int conn_alive(const struct serve *s, const struct conn *c)
{
	return c->state != CS_CLOSING && c->state != CS_FREE &&
	       eng_writable(&s->eng, conn_idx(s, c));
}

/* see serve.h */
int conn_write(struct serve *s, struct conn *c, const void *p, size_t n,
	       int bounded)
{
	int ret;

	if (c->state == CS_CLOSING || c->state == CS_FREE)
		return -EPIPE;
	/* The limit bounds the backlog; one frame larger than it still
	 * goes out when nothing is queued. */
	ret = eng_write(&s->eng, conn_idx(s, c), p, n,
			!bounded ? SIZE_MAX :
			n > s->o.out_limit ? n : s->o.out_limit);
	if (ret == 0) {
		s->stats.frames_out += c->state != CS_HTTP;
		return 0;
	}
	if (ret == -EPIPE)
		return -EPIPE;
	s->stats.frames_dropped++;
	if (ret == -ENOMEM)
		s->stats.err[E_NO_MEMORY]++;
	if (s->o.slow_close || ret == -ENOMEM) {
		s->stats.err[E_SLOW_CLOSED] += ret == -ENOBUFS;
		conn_close(s, c);
	}
	return -ENOBUFS;
}

/* ---- the engine's callbacks ---- */

static void on_accepted(void *app, uint32_t id, unsigned listener)
{
	struct serve *s = app;
	struct conn *c = &s->conns[id];
	uint32_t gen = c->gen + 1;

	memset(c, 0, sizeof(*c));
	c->gen = gen;
	c->state = CS_HTTP;
	c->port = (uint8_t)s->port_of[listener];
	c->user = c->unext = c->uprev = NIL;
	c->last_ms = serve_now_ms(s);
	state_count(s, c, 1);
	/* Each thread's tables could take --max-conns; together they take
	 * no more either (a connection past it closes, as a full table
	 * would close it). */
	if (s->sh->nthreads > 1 &&
	    __atomic_fetch_add(&s->sh->live, 1, __ATOMIC_RELAXED) >=
	    s->o.max_conns) {
		s->stats.err[E_CONN_LIMIT]++;
		conn_close(s, c);
		return;
	}
	conn_deadline(s, c, s->o.http_timeout_ms);
}

static long on_input(void *app, uint32_t id, uint32_t tag, uint8_t *p,
		     size_t n)
{
	struct serve *s = app;
	struct conn *c = &s->conns[id];
	size_t off = 0;

	(void)tag;
	while (off < n) {
		uint8_t st = c->state;
		long r;

		if (st == CS_HTTP)
			r = hses_input(s, c, p + off, n - off);
		else if (st == CS_WS_AUTH || st == CS_WS)
			r = wses_input(s, c, p + off, n - off);
		else
			return (long)n; /* closing: the rest is discarded */
		if (r < 0) {
			conn_close(s, c);
			return -1;
		}
		off += (size_t)r;
		/* Stop when nothing more parses, unless the handler switched
		 * protocols (HTTP upgrade) and the rest is for the new one. */
		if (r == 0 && c->state == st)
			break;
	}
	return (long)off;
}

static void on_closed(void *app, uint32_t id, uint32_t tag,
		      const struct eng_why *why)
{
	struct serve *s = app;

	(void)tag;
	(void)why; /* the engine counted receive and send errors */
	conn_end(s, &s->conns[id]);
}

static void on_deadline(void *app, uint32_t id, uint32_t tag)
{
	struct serve *s = app;
	struct conn *c = &s->conns[id];

	(void)tag;
	if (c->state == CS_HTTP) {
		conn_close(s, c);
	} else if (c->state == CS_WS_AUTH) {
		s->stats.err[E_AUTH_TIMEOUT]++;
		conn_close(s, c);
	} else if (c->state == CS_WS) {
		/* Idle deadline, checked lazily against the last input. */
		uint64_t due = c->last_ms + s->o.idle_timeout_ms,
			 now = serve_now_ms(s);

		if (due > now)
			conn_deadline(s, c, due - now);
		else
			msgr_timeout(s, c);
	}
}

static void on_message(void *app, uint32_t value)
{
	struct serve *s = app;

	if (value != SERVE_WAKE)
		msgr_take_queued(s);
}

/* The first thread to see the stop wakes the others to see it too. */
static void wake_others(struct serve *s)
{
	for (unsigned t = 0; t < s->sh->nthreads; t++)
		if (t != s->tid)
			eng_msg_post(&s->eng, eng_msg_fd(&s->sh->thr[t].eng),
				     SERVE_WAKE);
	s->woke_others = 1;
}

static int64_t on_turn(void *app)
{
	struct serve *s = app;
	int64_t bound = ENG_GO;

	if (*s->stop) {
		if (!s->woke_others)
			wake_others(s);
		return ENG_STOP;
	}
	if (s->o.stall_for_ms &&
	    serve_now_ms(s) >= s->start_ms + s->o.stall_at_ms) {
		/* --stall-at/--stall-for: the whole server stops, once. */
		struct timespec st = {
			.tv_sec = (time_t)(s->o.stall_for_ms / 1000),
			.tv_nsec = (long)(s->o.stall_for_ms % 1000) * 1000000,
		};

		s->o.stall_for_ms = 0;
		nanosleep(&st, NULL);
		s->eng.now_ns = clock_mono_ns();
	}
	if (s->o.delay_ns) {
		int64_t now = clock_mono_ns(), due = msgr_flush_delayed(s, now);

		if (due)
			bound = due - now > 1000 ? due - now : 1000;
	}
	return bound;
}

static const struct eng_ops serve_ops = {
	.accepted = on_accepted,
	.input = on_input,
	.closed = on_closed,
	.deadline = on_deadline,
	.message = on_message,
	.turn = on_turn,
};

/* see serve.h */
int serve_net_init(struct serve *s, char *err, size_t errlen)
{
	size_t in_need = s->o.max_head + s->o.max_body;
	struct eng_opts eo = {
		.max_conns = s->o.max_conns,
		.nbufs = s->o.nbufs,
		.buf_size = s->o.buf_size,
		.uring_off = s->o.uring_off,
		/* receive bundles and incremental buffers whenever the kernel
		 * has them (--uring-off refuses them) */
		.uring_want = RING_F_RECV_BUNDLE | RING_F_BUF_INC,
		.send = ENG_SEND_QUEUE,
		.out_block = OUT_BLOCK,
		.out_memory = s->o.out_memory,
		.tick_shift = SERVE_TICK_SHIFT,
		.wheel_slots = 4096,
		.t0_ns = clock_mono_ns(),
		.max_wait_ns = 1000000000,
		.listen = s->sh->nthreads == 1 ? ENG_LISTEN_OWN :
			  s->tid == 0 ? ENG_LISTEN_GROUP_FIRST :
			  ENG_LISTEN_GROUP_JOIN,
	};
	int ret;

	if (s->o.max_frame + WS_HDR_MAX > in_need)
		in_need = s->o.max_frame + WS_HDR_MAX;
	eo.in_block = in_need;
	ret = eng_init(&s->eng, &eo, &serve_ops, s, err, errlen);
	if (ret < 0)
		return ret;
	s->start_ms = serve_now_ms(s);
	s->conns = calloc(s->o.max_conns, sizeof(*s->conns));
	if (!s->conns ||
	    pool_init(&s->msg_pool, s->o.max_frame, 16,
		      (64u << 20) / in_need + 16) < 0) {
		snprintf(err, errlen, "out of memory for %u connections",
			 s->o.max_conns);
		return -ENOMEM;
	}
	if (s->o.delay_ns && delayq_init(&s->dq, (size_t)64 << 20) < 0) {
		snprintf(err, errlen, "out of memory for --delay");
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < s->o.max_conns; i++)
		s->conns[i].user = NIL;
	/* Thread 0 binds the ports (0: any free one); the others join the
	 * ports it got. */
	for (int p = 0; p < NPORTS; p++) {
		uint16_t port = s->tid ? s->sh->thr[0].bound[p] : s->o.port[p];

		ret = eng_listen(&s->eng, s->o.host, port, s->o.rcvbuf,
				 &s->bound[p], err, errlen);
		if (ret < 0)
			return ret;
		s->port_of[ret] = (uint8_t)p;
	}
	if (s->o.metrics_port >= 0) {
		uint16_t port = s->tid ? s->sh->thr[0].bound_metrics :
				(uint16_t)s->o.metrics_port;

		ret = eng_listen(&s->eng, s->o.host, port, 0, &s->bound_metrics,
				 err, errlen);
		if (ret < 0)
			return ret;
		s->port_of[ret] = PORT_METRICS;
	}
	return 0;
}

/* see serve.h */
int serve_net_run(struct serve *s)
{
	int ret = eng_run(&s->eng);

	if (ret < 0)
		fprintf(stderr, "esmeload serve: %s\n", s->eng.err_text);
	return ret;
}

/* see serve.h */
void serve_net_exit(struct serve *s)
{
	if (s->conns)
		for (uint32_t i = 0; i < s->o.max_conns; i++)
			wses_release(s, &s->conns[i]);
	eng_exit(&s->eng);
	msgr_exit(s);
	pool_destroy(&s->msg_pool);
	free(s->conns);
	s->conns = NULL;
	delayq_free(&s->dq);
}
