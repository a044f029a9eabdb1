/*
 * worker: one thread of `esmeload run`: its engine (engine/eng.h) and the
 * scenario on it. This file turns the engine's callbacks into scenario
 * events (connections are tagged with their owner), counts sent
 * messages, and ends the loop: at the stop it drains, giving the messages
 * already encoded a bounded time to go and come back. See run.h.
 */
#include "run.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define IN_BLOCK (64 * 1024 + 64)
/* The longest wait of the loop: 50 ms. */
#define WAIT_NS 50000000

/* A connection's engine tag: the owner's kind and index. */
#define TAG(kind, owner) ((uint32_t)(kind) << 28 | (owner))
#define TAG_KIND(tag) ((enum owner_kind)((tag) >> 28))
#define TAG_OWNER(tag) ((tag) & 0x0fffffffu)

static const struct eng_ops worker_ops;

/* see run.h */
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
		.send = ENG_SEND_SLOT,
		.slot_size = RUN_SLOT,
		.zc = o->zc,
		.in_block = IN_BLOCK,
		.in_memory = (size_t)4096 * IN_BLOCK,
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
		.targets = w->targets,
		.ntargets = NTARGETS,
		.tas = &o->tas,
		.insecure = o->insecure,
	};
	int ret;

	w->id = id;
	w->o = o;
	for (int i = 0; i < NTARGETS; i++) {
		const struct run_target *t = &o->t[i];
		struct eng_target *et = &w->targets[i];

		et->addr = t->addr;
		et->addr_len = t->addr_len;
		et->no_addr = t->resolve_err;
		snprintf(w->tls_host[i], sizeof(w->tls_host[i]), "%.*s",
			 (int)t->u.host_len, t->u.host);
		et->tls_host = t->u.tls ? w->tls_host[i] : NULL;
	}
	ret = eng_init(&w->eng, &eo, &worker_ops, w, err, errlen);
	if (ret < 0)
		return ret;
	if (pool_init(&w->tok_pool, 1024, 256, 0) < 0) {
		snprintf(err, errlen, "out of memory for %u connections",
			 o->max_conns);
		return -ENOMEM;
	}
	hist_reset(&w->lat);
	hist_reset(&w->lat_actual);
	hist_reset(&w->lag);
	hist_reset(&w->arrival_lag);
	hist_reset(&w->ph_signup);
	hist_reset(&w->ph_request);
	hist_reset(&w->ph_connect);
	hist_reset(&w->to_chat);
	hist_reset(&w->timer_late);
	w->rng = 0x9e3779b97f4a7c15ULL ^ ((uint64_t)id << 32) ^
		 (uint64_t)clock_mono_ns();
	return 0;
}

/* see run.h */
void worker_exit(struct worker *w)
{
	sc_free(w);
	eng_exit(&w->eng);
	pool_destroy(&w->tok_pool);
	free(w->rates);
	w->rates = NULL;
}

/* see run.h */
void wk_error(struct worker *w, enum run_err kind, const char *fmt, ...)
{
	struct run *r = w->run;
	char buf[256];
	va_list ap;
	uint64_t total;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	w->c.err[kind]++;
	if (!w->has_err) {
		snprintf(w->err_text, sizeof(w->err_text), "%s", buf);
		w->has_err = 1;
	}
	pthread_mutex_lock(&r->err_lock);
	if (!r->has_first_err && !run_stopping(r)) {
		snprintf(r->first_err, sizeof(r->first_err), "%s", buf);
		r->has_first_err = 1;
	}
	total = 0;
	for (unsigned i = 0; i < r->nw; i++)
		for (int k = 0; k < RE_COUNT; k++)
			total += __atomic_load_n(&r->w[i].c.err[k],
						 __ATOMIC_RELAXED);
	pthread_mutex_unlock(&r->err_lock);
	if (total >= w->o->max_errors)
		run_request_stop(r, STOP_ERROR);
}

/* see run.h */
void wk_rate(struct worker *w, unsigned n)
{
	int64_t sec = clock_real_ns() / 1000000000;
	uint64_t i;

	if (!w->rates) {
		w->rate_base = sec;
		w->rates_cap = 4096;
		w->rates = calloc(w->rates_cap, sizeof(*w->rates));
		if (!w->rates)
			return;
	}
	if (sec < w->rate_base)
		sec = w->rate_base; /* the wall clock stepped back */
	i = (uint64_t)(sec - w->rate_base);
	if (i >= w->rates_cap) {
		uint32_t ncap = w->rates_cap;
		uint32_t *nr;

		while (i >= ncap)
			ncap *= 2;
		nr = realloc(w->rates, ncap * sizeof(*nr));
		if (!nr)
			return;
		memset(nr + w->rates_cap, 0,
		       (ncap - w->rates_cap) * sizeof(*nr));
		w->rates = nr;
		w->rates_cap = ncap;
	}
	w->rates[i] += n;
}

/* see run.h */
uint32_t wk_connect(struct worker *w, int target, enum owner_kind kind,
		    uint32_t owner, char *why, size_t whylen)
{
	uint32_t id = eng_connect(&w->eng, (unsigned)target, TAG(kind, owner),
				  why, whylen);

	if (id == ENG_NIL && strstr(why, "no free connection slot"))
		snprintf(why, whylen, "connect: no free connection slot "
			 "(--max-conns %u per thread)", w->o->max_conns);
	return id;
}

/* see run.h */
uint8_t *wk_slot(struct worker *w, uint32_t idx, size_t *room)
{
	return eng_slot(&w->eng, idx, room);
}

/* see run.h */
void wk_commit(struct worker *w, uint32_t idx, size_t n, unsigned msgs)
{
	eng_commit(&w->eng, idx, n, msgs);
}

/* see run.h */
void wk_close(struct worker *w, uint32_t idx)
{
	eng_close(&w->eng, idx);
}

/* ---- the engine's callbacks ---- */

static void on_up(void *app, uint32_t id, uint32_t tag,
		  const struct sockaddr_storage *local)
{
	sc_connected(app, TAG_KIND(tag), TAG_OWNER(tag), id, local);
}

static long on_input(void *app, uint32_t id, uint32_t tag, uint8_t *p,
		     size_t n)
{
	return sc_input(app, TAG_KIND(tag), TAG_OWNER(tag), id, p, n);
}

static void on_submitted(void *app, uint32_t id, uint32_t tag,
			 unsigned units)
{
	(void)id;
	sc_submitted(app, TAG_KIND(tag), TAG_OWNER(tag), units);
}

/* Frames in flight were sent: count them, in the rate table and for
 * their participant; on a connection the scenario already closed (its
 * owner gone) they count as lost. */
static void on_sent(void *app, uint32_t id, uint32_t tag, unsigned units,
		    int detached)
{
	struct worker *w = app;

	(void)id;
	w->c.sent += units;
	wk_rate(w, units);
	if (!detached)
		sc_sent(w, TAG_KIND(tag), TAG_OWNER(tag), units);
	else
		w->c.lost += units;
}

static void on_writable(void *app, uint32_t id, uint32_t tag)
{
	(void)id;
	sc_writable(app, TAG_KIND(tag), TAG_OWNER(tag));
}

static void on_closed(void *app, uint32_t id, uint32_t tag,
		      const struct eng_why *why)
{
	struct worker *w = app;
	const char *url = w->o->t[w->eng.conns[id].target].url;
	char cause[200];

	if (why->input && why->err == -EMSGSIZE)
		wk_error(w, RE_PROTOCOL, "receive: message over %u bytes (%s)",
			 IN_BLOCK, url);
	else if (why->input)
		wk_error(w, RE_RECV, "receive: out of input buffers");
	if (why->text) {
		snprintf(cause, sizeof(cause), "%s%s", why->text,
			 why->handshaking && why->err == -ETIMEDOUT ?
			 " (--connect-timeout)" : "");
		w->close_cause = cause;
	}
	sc_closed(w, TAG_KIND(tag), TAG_OWNER(tag), why->err, why->connecting);
	w->close_cause = NULL;
}

static void on_stalled(void *app, uint32_t id, uint32_t tag)
{
	(void)id;
	sc_send_stalled(app, TAG_KIND(tag), TAG_OWNER(tag));
}

static void on_deadline(void *app, uint32_t id, uint32_t tag)
{
	(void)app;
	(void)id;
	(void)tag; /* the scenario keeps its deadlines on its own timers */
}

static void on_timer(void *app, struct tw_node *n)
{
	sc_timer(app, n);
}

/* What the engine counts that the run reports as its own. */
static void engine_counts(struct worker *w)
{
	const struct eng_stats *es = &w->eng.stats;

	w->c.enobufs = es->enobufs;
	w->c.tls_handshakes = es->tls_handshakes;
	w->c.tls_resumed = es->tls_resumed;
	w->c.zc_sends = es->zc_sends;
	w->c.zc_copied = es->zc_copied;
}

static int64_t on_turn(void *app)
{
	struct worker *w = app;
	struct run *r = w->run;
	int64_t now = w->eng.now_ns, left;

	engine_counts(w);
	if (!w->draining && run_stopping(r)) {
		w->draining = 1;
		w->eng.timers_off = 1;
		sc_drain(w);
		/* No new messages from here. Give those already encoded a
		 * bounded time to go and to come back, so the end of a run
		 * does not count messages in flight as lost; short after a
		 * signal, which wants the files fast. */
		w->drain_deadline = now + (r->stop_reason == STOP_SIGNAL ?
					   200000000LL : 2000000000LL);
	}
	if (!w->draining)
		return ENG_GO;
	eng_flush(&w->eng);
	/* Done when every echo that can still come has: nothing left to
	 * send, nothing in flight on an open connection (a lost message is
	 * not waited for). */
	if ((!eng_sends_pending(&w->eng) && (w->c.delivered >= w->c.sent ||
					     !sc_in_flight(w))) ||
	    now >= w->drain_deadline)
		return ENG_STOP;
	/* The drain runs no timers: it looks again every 10 ms until its
	 * deadline. */
	left = w->drain_deadline - now;
	return left < 10000000 ? (left > 0 ? left : 1) : 10000000;
}

static const struct eng_ops worker_ops = {
	.up = on_up,
	.input = on_input,
	.submitted = on_submitted,
	.sent = on_sent,
	.writable = on_writable,
	.closed = on_closed,
	.stalled = on_stalled,
	.deadline = on_deadline,
	.timer = on_timer,
	.turn = on_turn,
};

/* see run.h */
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
	w->eng.now_ns = clock_mono_ns();
	sc_start(w);
	if (eng_run(&w->eng) < 0)
		wk_error(w, RE_RECV, "%s", w->eng.err_text);
	engine_counts(w);
	sc_account(w);
	return NULL;
}
