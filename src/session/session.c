/*
 * session: setup, opening and closing, and the engine's callbacks turned
 * into session events. See session.h.
 */
#include "session/internal.h"

#include "clock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* see internal.h */
void ses_end_with(struct ses *S, uint32_t id, uint32_t tag,
		  const struct ses_end *end)
{
	struct ses_conn *c = &S->conns[id];
	unsigned pool = c->pool;

	c->kind = 0;
	c->pool = 0;
	if (pool)
		ses_pool_ended(S->pools[pool - 1], tag, end);
	else
		S->ops->closed(S->app, tag, end);
}

/* see internal.h */
void ses_end_what(struct ses *S, uint32_t id, uint32_t tag,
		  enum ses_what what, const char *text)
{
	struct ses_end e = { .what = what, .text = text };

	ses_end_with(S, id, tag, &e);
}

/* ---- the engine's callbacks ---- */

static void on_up(void *app, uint32_t id, uint32_t tag,
		  const struct sockaddr_storage *local)
{
	struct ses *S = app;
	struct ses_conn *c = &S->conns[id];

	if (c->kind == SES_WS) {
		if (ses_ws_upgrade(S, id, tag) < 0) {
			ses_end_what(S, id, tag, SES_HANDSHAKE,
				     "handshake request too large");
			eng_close(&S->eng, id);
			return;
		}
	} else {
		c->state = S_OPEN;
	}
	if (c->pool)
		ses_pool_up(S->pools[c->pool - 1], tag);
	else
		S->ops->up(S->app, tag, id, local);
}

static long on_input(void *app, uint32_t id, uint32_t tag, uint8_t *p,
		     size_t n)
{
	struct ses *S = app;

	return S->conns[id].kind == SES_HTTP ?
	       ses_http_input(S, id, tag, p, n) : ses_ws_input(S, id, tag, p, n);
}

static void on_closed(void *app, uint32_t id, uint32_t tag,
		      const struct eng_why *why)
{
	struct ses *S = app;
	struct ses_end e = {
		.what = why->input ? SES_INPUT : SES_NET,
		.err = why->err,
		.text = why->text,
		.connecting = why->connecting,
		.handshaking = why->handshaking,
	};

	ses_end_with(S, id, tag, &e);
}

static void on_submitted(void *app, uint32_t id, uint32_t tag,
			 unsigned units)
{
	struct ses *S = app;

	(void)id;
	S->ops->submitted(S->app, tag, units);
}

static void on_sent(void *app, uint32_t id, uint32_t tag, unsigned units,
		    int detached)
{
	struct ses *S = app;

	(void)id;
	S->ops->sent(S->app, tag, units, detached);
}

static void on_writable(void *app, uint32_t id, uint32_t tag)
{
	struct ses *S = app;

	if (!S->conns[id].pool)
		S->ops->writable(S->app, tag);
}

static void on_stalled(void *app, uint32_t id, uint32_t tag)
{
	struct ses *S = app;

	if (S->conns[id].pool) {
		struct ses_end e = { .what = SES_STALLED };

		ses_end_with(S, id, tag, &e);
		return;
	}
	S->conns[id].kind = 0;
	S->ops->stalled(S->app, tag);
}

static void on_timer(void *app, struct tw_node *n)
{
	struct ses *S = app;

	S->ops->timer(S->app, n);
}

static int64_t on_turn(void *app)
{
	struct ses *S = app;

	return S->ops->turn(S->app);
}

static const struct eng_ops ses_eng_ops = {
	.up = on_up,
	.input = on_input,
	.submitted = on_submitted,
	.sent = on_sent,
	.writable = on_writable,
	.closed = on_closed,
	.stalled = on_stalled,
	.timer = on_timer,
	.turn = on_turn,
};

/* see session.h */
int ses_init(struct ses *S, const struct eng_opts *eo,
	     const struct ses_target *targets, unsigned ntargets,
	     const struct ses_ops *ops, void *app, uint64_t seed, int log_ws,
	     char *err, size_t errlen)
{
	struct eng_target *et = calloc(ntargets ? ntargets : 1, sizeof(*et));
	struct eng_opts o = *eo;
	int ret;

	memset(S, 0, sizeof(*S));
	S->ops = ops;
	S->app = app;
	S->targets = targets;
	S->log_ws = log_ws;
	S->rng = seed;
	S->key_seed = ses_splitmix(&S->rng);
	if (!et) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (unsigned i = 0; i < ntargets; i++)
		et[i] = targets[i].eng;
	o.targets = et;
	o.ntargets = ntargets;
	ret = eng_init(&S->eng, &o, &ses_eng_ops, S, err, errlen);
	/* The engine copied its options, not the targets: keep them. */
	S->eng.o.targets = et;
	if (ret < 0)
		return ret;
	S->conns = calloc(o.max_conns, sizeof(*S->conns));
	S->scratch = malloc(SES_BODY_MAX + 64);
	if (!S->conns || !S->scratch) {
		snprintf(err, errlen, "out of memory for %u connections",
			 o.max_conns);
		return -ENOMEM;
	}
	return 0;
}

/* see session.h */
void ses_exit(struct ses *S)
{
	const struct eng_target *et = S->eng.o.targets;

	eng_exit(&S->eng);
	free((void *)et);
	free(S->conns);
	free(S->scratch);
	S->eng.o.targets = NULL;
	S->conns = NULL;
	S->scratch = NULL;
}

static uint32_t open_kind(struct ses *S, unsigned t, uint32_t tag,
			  enum ses_kind kind, char *why, size_t whylen)
{
	uint32_t id = eng_connect(&S->eng, t, tag, why, whylen);

	if (id != ENG_NIL) {
		S->conns[id].kind = (uint8_t)kind;
		S->conns[id].state = S_CONNECTING;
		S->conns[id].busy = 0;
		S->conns[id].pool = 0;
	}
	return id;
}

/* see session.h */
uint32_t ses_http_open(struct ses *S, unsigned t, uint32_t tag, char *why,
		       size_t whylen)
{
	return open_kind(S, t, tag, SES_HTTP, why, whylen);
}

/* see session.h */
uint32_t ses_ws_open(struct ses *S, unsigned t, uint32_t tag, char *why,
		     size_t whylen)
{
	return open_kind(S, t, tag, SES_WS, why, whylen);
}

/* see internal.h */
uint32_t ses_pool_open(struct ses *S, struct ses_pool *P, unsigned i,
		       char *why, size_t whylen)
{
	uint32_t id = open_kind(S, P->target, i, SES_HTTP, why, whylen);

	if (id != ENG_NIL)
		S->conns[id].pool = (uint8_t)(P->num + 1);
	return id;
}

/* see session.h */
void ses_close(struct ses *S, uint32_t id)
{
	if (id == ENG_NIL)
		return;
	S->conns[id].kind = 0;
	S->conns[id].pool = 0;
	eng_close(&S->eng, id);
}

/* see session.h */
void ses_timer_at(struct ses *S, struct tw_node *n, int64_t at_ns)
{
	eng_timer_at(&S->eng, n, eng_tick_of(&S->eng, at_ns));
}

/* see session.h */
void ses_timer_del(struct ses *S, struct tw_node *n)
{
	eng_timer_del(&S->eng, n);
}

/* see session.h */
int64_t ses_now(const struct ses *S)
{
	return S->eng.now_ns;
}

/* see session.h */
int64_t ses_clock(const struct ses *S)
{
	(void)S;
	return clock_mono_ns();
}
