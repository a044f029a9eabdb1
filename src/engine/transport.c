/*
 * transport: TLS under the engine's client connections (https://, wss://).
 * A connection to a TLS target gets a struct eng_tls when its TCP connect
 * completes; the application hears ops.up once the handshake is done, and
 * from then on reads and writes plaintext as on any connection. Its slot
 * holds plaintext; the flush moves it into the BearSSL engine and sends
 * the engine's records instead, still one send in flight (the engine's
 * output buffer stays put until tls_cipher_out_done). Units written with
 * plaintext count as sent once the records that carry them are.
 * Handshakes resume the engine's last session with the same target.
 */
#include "engine/internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* see internal.h */
void eng_tls_free(struct eng *e, struct eng_conn *c)
{
	struct eng_tls *x = c->tls;

	if (!x->up)
		e->tls_handshaking--;
	if (x->cin)
		pool_put(&e->in_pool, x->cin);
	pool_put(&e->tls_pool, x);
	c->tls = NULL;
}

static void tls_failed(struct eng *e, struct eng_conn *c)
{
	char text[200];

	snprintf(text, sizeof(text), "TLS%s: %s", c->tls->up ? "" :
		 " handshake", tls_error(&c->tls->t));
	eng_fail_err(e, c, -EPROTO, text);
}

/* see internal.h */
int eng_tls_start(struct eng *e, struct eng_conn *c,
		  const struct sockaddr_storage *local)
{
	const struct eng_target *t = &e->o.targets[c->target];
	struct eng_tls *x = pool_get(&e->tls_pool);

	if (!x) {
		eng_fail_err(e, c, -ENOMEM, "TLS: out of memory");
		return -1;
	}
	x->local = *local;
	x->since = e->now_ns;
	x->cin = NULL;
	x->cin_len = 0;
	x->up = 0;
	c->tls = x;
	e->tls_handshaking++;
	if (tls_init(&x->t, e->o.tas, t->tls_host, e->o.insecure,
		     &e->tls_sess[c->target]) < 0) {
		tls_failed(e, c);
		return -1;
	}
	eng_dl_update(e, c); /* the handshake's deadline */
	eng_mark_dirty(e, c);
	return 0;
}

/* The handshake just completed: count it, hand the connection to the
 * application. Returns 0, or -1 when the connection is no longer open. */
static int tls_check_up(struct eng *e, struct eng_conn *c)
{
	struct eng_tls *x = c->tls;

	if (x->up || tls_state(&x->t) != TLS_OPEN)
		return 0;
	x->up = 1;
	e->tls_handshaking--;
	e->stats.tls_handshakes++;
	e->stats.tls_resumed += (uint64_t)tls_resumed(&x->t);
	if (!(c->flags & CF_DETACHED))
		e->ops->up(e->app, eng_id(e, c), c->tag, &x->local);
	return c->state == EC_OPEN && !(c->flags & CF_DETACHED) ? 0 : -1;
}

/*
 * Ciphertext from the wire through the engine; the plaintext goes to
 * eng_input. Returns the bytes the engine took: fewer than n when it
 * cannot read on before it has written (its output is on the wire), or
 * when the connection ended.
 */
static size_t tls_feed(struct eng *e, struct eng_conn *c, const uint8_t *data,
		       size_t n)
{
	struct eng_tls *x = c->tls;
	size_t took = 0;

	for (;;) {
		size_t k = tls_cipher_in(&x->t, data + took, n - took), m;
		uint8_t *p;

		took += k;
		if (tls_check_up(e, c) < 0)
			return n;
		m = tls_plain_out(&x->t, &p);
		if (m) {
			eng_input(e, c, p, m);
			if (c->state != EC_OPEN || (c->flags & CF_DETACHED))
				return n;
			tls_plain_out_done(&x->t, m);
			continue;
		}
		if (tls_state(&x->t) == TLS_FAILED) {
			tls_failed(e, c);
			return n;
		}
		if (tls_state(&x->t) == TLS_CLOSED) {
			eng_fail_err(e, c, -ECONNRESET,
				     "the server closed the TLS session");
			return n;
		}
		if (took == n || k == 0)
			break;
	}
	/* Handshake records, alerts: the engine may have output now. */
	eng_mark_dirty(e, c);
	return took;
}

/* tls_feed as eng_carry's feed: -1 once the connection takes no more. */
static long tls_carry_feed(struct eng *e, struct eng_conn *c, uint8_t *data,
			   size_t n)
{
	size_t took = tls_feed(e, c, data, n);

	if (c->state != EC_OPEN || (c->flags & CF_DETACHED))
		return -1;
	return (long)took;
}

/* see internal.h */
void eng_tls_input(struct eng *e, struct eng_conn *c, uint8_t *data,
		   size_t n)
{
	struct eng_tls *x = c->tls;

	/* Ciphertext the engine could not take yet waits in cin. */
	eng_carry(e, c, &x->cin, &x->cin_len, data, n, tls_carry_feed);
}

/* see internal.h */
void eng_tls_kick(struct eng *e, struct eng_conn *c)
{
	struct eng_tls *x = c->tls;
	uint32_t id = eng_id(e, c);
	struct io_uring_sqe *sqe;
	const uint8_t *p;
	size_t n;

	if (c->out.s.len && x->up) {
		uint8_t *slot = e->arena + (size_t)id * e->o.slot_size;
		size_t k = tls_plain_in(&x->t, slot, c->out.s.len);

		memmove(slot, slot + k, c->out.s.len - k);
		c->out.s.len -= (uint16_t)k;
		/* Units count as sent once their records are: credited when
		 * the engine's output is empty. */
		if (!c->out.s.len && c->out.s.units) {
			if (e->ops->submitted && !(c->flags & CF_DETACHED))
				e->ops->submitted(e->app, id, c->tag,
						  c->out.s.units);
			c->out.s.units_inflight += c->out.s.units;
			c->out.s.units = 0;
		}
	}
	n = tls_cipher_out(&x->t, &p);
	if (!n)
		return;
	sqe = eng_sqe(e, id);
	io_uring_prep_send(sqe, eng_fixed(e, id), p, n, MSG_NOSIGNAL);
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, ring_ud(OP_SEND, c->gen, id));
	c->flags |= CF_SEND;
	c->send_since = e->now_ns;
	if (e->o.send_timeout_ns)
		eng_dl_update(e, c);
}

/* see internal.h */
void eng_tls_sent(struct eng *e, struct eng_conn *c, int res)
{
	struct eng_tls *x = c->tls;
	const uint8_t *p;

	tls_cipher_out_done(&x->t, (size_t)res);
	/* A resumed handshake ends with our Finished on the wire. */
	if (tls_check_up(e, c) < 0)
		return;
	if (!tls_cipher_out(&x->t, &p) && c->out.s.units_inflight)
		eng_credit(e, c);
	/* With its output on the wire the engine reads on. */
	if (x->cin_len) {
		eng_tls_input(e, c, NULL, 0);
		if (c->state != EC_OPEN || (c->flags & CF_DETACHED))
			return;
	}
	if (x->up && e->ops->writable && !(c->flags & CF_DETACHED))
		e->ops->writable(e->app, eng_id(e, c), c->tag);
	eng_mark_dirty(e, c);
}
