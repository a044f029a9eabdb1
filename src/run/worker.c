/*
 * worker: one thread of `esmeload run`. See worker.h.
 *
 * The thread sets up its sessions (and their engine) and its share of the
 * scenario, runs the engine's loop with the scenario's callbacks, and ends
 * it: at the stop it drains, giving the messages already encoded a bounded
 * time to go and come back, so the end of a run does not count messages
 * in flight as lost.
 */
#include "run/worker.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The longest wait of the loop: 50 ms. */
#define WAIT_NS 50000000

static int64_t worker_turn(void *app);

static const struct ses_ops worker_ops = {
	.up = sc_up,
	.upgraded = sc_upgraded,
	.response = sc_response,
	.text = sc_text,
	.closed = sc_closed,
	.submitted = sc_submitted,
	.sent = sc_sent,
	.writable = sc_writable,
	.stalled = sc_stalled,
	.timer = sc_timer,
	.turn = worker_turn,
};

static struct worker *worker_of(struct scenario *sc)
{
	return (struct worker *)(void *)((char *)sc -
					 offsetof(struct worker, sc));
}

/* see worker.h */
int worker_init(struct worker *w, const struct run_opts *o, unsigned id,
		char *err, size_t errlen)
{
	struct eng_opts eo = {
		.max_conns = o->max_conns,
		.ring_entries = o->ring_entries,
		.cq_entries = o->cq_entries,
		.nbufs = o->recv_buffers,
		.buf_size = 4096,
		.no_defer = o->no_defer,
		.sqpoll = o->sqpoll,
		.uring_off = o->uring_off,
		/* receive bundles and incremental buffers whenever the kernel
		 * has them; the minimum wait only for --wake-grain */
		.uring_want = RING_F_RECV_BUNDLE | RING_F_BUF_INC |
			      (o->wake_grain_ns ? RING_F_MIN_WAIT : 0),
		.min_wait_us = (unsigned)(o->wake_grain_ns / 1000),
		.send = ENG_SEND_SLOT,
		.slot_size = RUN_SLOT,
		.zc = o->zc,
		.in_block = sc_in_block(o),
		.in_memory = (size_t)4096 * SC_IN_BLOCK,
		.tick_shift = RUN_TICK_SHIFT,
		.wheel_slots = RUN_WHEEL_SLOTS,
		.t0_ns = w->t0_ns,
		.max_wait_ns = WAIT_NS,
		.slack_ns = o->timer_slack_ns,
		.send_timeout_ns = o->send_timeout_ms * 1000000,
		.connect_timeout_ns = o->connect_timeout_ms * 1000000,
		.sndbuf = o->sndbuf,
		.src_lo = o->src_lo,
		.src_hi = o->src_hi,
		.tas = &o->tas,
		.insecure = o->insecure,
	};
	const struct run_target *mt = &o->t[T_MSG];
	int ret;

	w->id = id;
	w->o = o;
	snprintf(w->ws_path, sizeof(w->ws_path), "%.*s", (int)mt->u.path_len,
		 mt->u.path);
	for (int i = 0; i < NTARGETS; i++) {
		const struct run_target *t = &o->t[i];
		struct ses_target *st = &w->targets[i];

		st->eng.addr = t->addr;
		st->eng.addr_len = t->addr_len;
		st->eng.no_addr = t->resolve_err;
		snprintf(w->tls_host[i], sizeof(w->tls_host[i]), "%.*s",
			 (int)t->u.host_len, t->u.host);
		st->eng.tls_host = t->u.tls ? w->tls_host[i] : NULL;
		st->hostport = t->hostport;
		st->ws_path = w->ws_path;
	}
	ret = sc_init(&w->sc, o, w->run, id, &w->ses, w->t0_ns);
	if (ret < 0) {
		snprintf(err, errlen, "out of memory");
		return ret;
	}
	return ses_init(&w->ses, &eo, w->targets, NTARGETS, &worker_ops,
			&w->sc, 0x9e3779b97f4a7c15ULL ^ ((uint64_t)id << 32) ^
			(uint64_t)clock_mono_ns(), o->log_ws, err, errlen);
}

/* see worker.h */
void worker_exit(struct worker *w)
{
	sc_free(&w->sc);
	ses_exit(&w->ses);
}

/* see scenario.h */
void run_error(struct scenario *sc, const char *text)
{
	struct run *r = sc->run;
	uint64_t total = 0;

	pthread_mutex_lock(&r->err_lock);
	if (!r->has_first_err && !run_stopping(r)) {
		snprintf(r->first_err, sizeof(r->first_err), "%s", text);
		r->has_first_err = 1;
	}
	for (unsigned i = 0; i < r->nw; i++)
		for (int k = 0; k < RE_COUNT; k++)
			total += __atomic_load_n(&r->w[i].sc.c.err[k],
						 __ATOMIC_RELAXED);
	pthread_mutex_unlock(&r->err_lock);
	if (total >= sc->o->max_errors)
		run_request_stop(r, STOP_ERROR);
}

/* What the engine counts that the run reports as its own. */
static void engine_counts(struct worker *w)
{
	const struct eng_stats *es = &w->ses.eng.stats;
	struct run_counters *c = &w->sc.c;

	c->enobufs = es->enobufs;
	c->bundle_bufs = es->bundle_bufs;
	c->inc_partial = es->inc_partial;
	c->tls_handshakes = es->tls_handshakes;
	c->tls_resumed = es->tls_resumed;
	c->zc_sends = es->zc_sends;
	c->zc_copied = es->zc_copied;
}

static int64_t worker_turn(void *app)
{
	struct worker *w = worker_of(app);
	struct scenario *sc = &w->sc;
	struct eng *e = &w->ses.eng;
	struct run *r = w->run;
	int64_t now = e->now_ns, left;

	engine_counts(w);
	if (!sc->draining && run_stopping(r)) {
		__atomic_store_n(&sc->draining, 1, __ATOMIC_RELAXED);
		e->timers_off = 1;
		sc_drain(sc);
		/* No new messages from here; short after a signal, which
		 * wants the files fast. */
		w->drain_deadline = now + (r->stop_reason == STOP_SIGNAL ?
					   200000000LL : 2000000000LL);
	}
	if (!sc->draining)
		return ENG_GO;
	eng_flush(e);
	/* Done when every echo that can still come has: nothing left to
	 * send, nothing in flight on an open connection (a lost message is
	 * not waited for), no copy a device has yet to read. */
	if ((!eng_sends_pending(e) && !sc_dev_lag(sc) &&
	     (sc->c.delivered >= sc->c.sent || !sc_in_flight(sc))) ||
	    now >= w->drain_deadline)
		return ENG_STOP;
	/* The drain runs no timers: it looks again every 10 ms until its
	 * deadline. */
	left = w->drain_deadline - now;
	return left < 10000000 ? (left > 0 ? left : 1) : 10000000;
}

/* see worker.h */
void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct run *r = w->run;
	int ok = worker_init(w, w->o, w->id, w->init_err,
			     sizeof(w->init_err)) == 0;

	if (!ok && !w->init_err[0])
		snprintf(w->init_err, sizeof(w->init_err), "worker setup failed");
	pthread_barrier_wait(&r->ready);  /* report */
	pthread_barrier_wait(&r->ready);  /* everyone has looked */
	if (!ok || run_stopping(r))
		return NULL;
	w->ses.eng.now_ns = clock_mono_ns();
	sc_start(&w->sc);
	if (eng_run(&w->ses.eng) < 0)
		sc_error(&w->sc, RE_RECV, "%s", w->ses.eng.err_text);
	engine_counts(w);
	sc_account(&w->sc);
	return NULL;
}
