/*
 * pool: the keep-alive pool of HTTP/1.1 client connections and its queue
 * of requests (struct ses_pool in session.h). Connections are opened on
 * demand for the jobs waiting, up to the pool's size; an idle one takes
 * the oldest job still wanted; a failure is the job's, or the oldest
 * waiting one's when the connection never came up.
 */
#include "session/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum { PC_DOWN = 0, PC_CONNECTING, PC_IDLE, PC_BUSY };

/* see session.h */
int ses_pool_init(struct ses_pool *P, struct ses *S, unsigned t,
		  unsigned max, const struct ses_pool_ops *ops, void *app)
{
	memset(P, 0, sizeof(*P));
	if (S->npools == SES_MAX_POOLS)
		return -ENOSPC;
	P->S = S;
	P->target = t;
	P->n = max;
	P->ops = ops;
	P->app = app;
	P->c = calloc(max ? max : 1, sizeof(*P->c));
	if (!P->c)
		return -ENOMEM;
	for (unsigned i = 0; i < max; i++)
		P->c[i].id = ENG_NIL;
	P->num = S->npools;
	S->pools[S->npools++] = P;
	return 0;
}

/* see session.h */
void ses_pool_free(struct ses_pool *P)
{
	if (P->S && P->S->pools[P->num] == P) {
		P->S->pools[P->num] = NULL;
		if (P->num + 1 == P->S->npools)
			P->S->npools--;
	}
	P->S = NULL;
	free(P->c);
	free(P->q);
	P->c = NULL;
	P->q = NULL;
}

/* see session.h */
int ses_pool_queue(struct ses_pool *P, uint32_t job)
{
	if (P->len == P->cap) {
		uint32_t ncap = P->cap ? P->cap * 2 : 256;
		uint32_t *nq = malloc(ncap * sizeof(*nq));

		if (!nq)
			return -ENOMEM;
		for (uint32_t k = 0; k < P->len; k++)
			nq[k] = P->q[(P->head + k) % P->cap];
		free(P->q);
		P->q = nq;
		P->cap = ncap;
		P->head = 0;
	}
	P->q[(P->head + P->len) % P->cap] = job;
	P->len++;
	return 0;
}

/* The oldest queued job still wanted, or ENG_NIL. */
static uint32_t pool_pop(struct ses_pool *P)
{
	while (P->len) {
		uint32_t job = P->q[P->head];

		P->head = (P->head + 1) % P->cap;
		P->len--;
		if (P->ops->wanted(P->app, job))
			return job;
	}
	return ENG_NIL;
}

/* see session.h */
void ses_pool_pump(struct ses_pool *P)
{
	unsigned connecting = 0;

	for (unsigned i = 0; i < P->n && P->len; i++) {
		struct ses_pool_conn *c = &P->c[i];
		uint32_t job;

		connecting += c->state == PC_CONNECTING;
		if (c->state != PC_IDLE || (job = pool_pop(P)) == ENG_NIL)
			continue;
		c->job = job;
		c->state = PC_BUSY;
		if (P->ops->write(P->app, job, c->id) < 0)
			c->state = PC_IDLE;
	}
	for (unsigned i = 0; i < P->n && P->len > connecting; i++) {
		struct ses_pool_conn *c = &P->c[i];
		char why[200];

		if (c->state != PC_DOWN)
			continue;
		c->id = ses_pool_open(P->S, P, i, why, sizeof(why));
		if (c->id == ENG_NIL) {
			/* The request waiting longest cannot be sent. */
			uint32_t job = pool_pop(P);
			struct ses_end e = { .what = SES_NET, .text = why,
					     .connecting = 1 };

			if (job != ENG_NIL)
				P->ops->failed(P->app, job, 0, &e);
			return;
		}
		c->state = PC_CONNECTING;
		P->ops->opened(P->app);
		connecting++;
	}
}

/* see internal.h */
void ses_pool_up(struct ses_pool *P, unsigned i)
{
	P->c[i].state = PC_IDLE;
	ses_pool_pump(P);
}

/* see internal.h */
void ses_pool_response(struct ses_pool *P, unsigned i, int status,
		       const char *body, size_t blen, int keep_alive)
{
	struct ses_pool_conn *c = &P->c[i];

	c->state = PC_IDLE;
	P->ops->response(P->app, c->job, status, body, blen);
	if (!keep_alive) {
		/* The server closes, the session with it: the next job
		 * gets another connection. */
		c->state = PC_DOWN;
		c->id = ENG_NIL;
	}
	ses_pool_pump(P);
}

/* see internal.h */
void ses_pool_ended(struct ses_pool *P, unsigned i, const struct ses_end *end)
{
	struct ses_pool_conn *c = &P->c[i];
	uint8_t was = c->state;

	c->state = PC_DOWN;
	c->id = ENG_NIL;
	if (was == PC_BUSY) {
		P->ops->failed(P->app, c->job, 1, end);
	} else if (end->what == SES_UNASKED) {
		P->ops->failed(P->app, ENG_NIL, 0, end);
	} else if (was == PC_CONNECTING && P->len) {
		uint32_t job = pool_pop(P);

		if (job != ENG_NIL)
			P->ops->failed(P->app, job, 0, end);
	} else if (end->what == SES_INPUT) {
		P->ops->failed(P->app, ENG_NIL, 0, end);
	}
	/* A malformed response or bytes nobody asked for leave the next
	 * job to the next arrival's pump, as a failed request would. */
	if (end->what != SES_MALFORMED && end->what != SES_UNASKED)
		ses_pool_pump(P);
}

/* see session.h */
void ses_pool_cancel(struct ses_pool *P, uint32_t job)
{
	for (unsigned i = 0; i < P->n; i++) {
		struct ses_pool_conn *c = &P->c[i];

		if (c->state == PC_BUSY && c->job == job) {
			ses_close(P->S, c->id);
			c->state = PC_DOWN;
			c->id = ENG_NIL;
		}
	}
	ses_pool_pump(P);
}

/* see session.h */
void ses_pool_drain(struct ses_pool *P)
{
	P->len = 0;
}
