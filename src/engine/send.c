/*
 * send: the engine's two send backends, both with at most one send in
 * flight per connection. See eng.h.
 *
 * - Slot: bytes [0, len) of a connection's arena slot are written; a send
 *   takes [off, inflight) where inflight is what was written when it
 *   started, so bytes written meanwhile wait behind it. A short send sends
 *   the rest of the same bytes; a complete one moves what waited to the
 *   front of the slot. Units ride along: those written with the bytes of
 *   a send are submitted with it and credited when its last byte went.
 * - Queue: the connection's outq, sent vectored (up to ENG_SEND_IOV blocks
 *   a send); a lingering connection is closed once its queue is empty.
 * - SEND_ZC (slot backend, --zc) posts two completions: the result
 *   (IORING_CQE_F_MORE when a notification follows) and the notification,
 *   once the kernel no longer reads the slot. The result is taken at once
 *   and the units count as sent then (the server may read them before the
 *   notification comes); the slot is reused, and a close may go ahead,
 *   only after it.
 */
#include "engine/internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/*
 * 1 when SEND_ZC takes IORING_SEND_ZC_REPORT_USAGE (Linux 6.2): a one-byte
 * send on a UNIX socket pair, which the kernel refuses with EOPNOTSUPP
 * once it has accepted the flags, and with EINVAL when it does not know
 * them. Its completions are consumed here, before the loop starts.
 */
static int zc_usage_ok(struct ring *r)
{
	struct __kernel_timespec ts = { .tv_nsec = 200000000 };
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	int sv[2], res = -EINVAL, more = 1;
	char b = 0;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;
	sqe = ring_sqe(r);
	io_uring_prep_send_zc(sqe, sv[0], &b, 1, MSG_NOSIGNAL,
			      IORING_SEND_ZC_REPORT_USAGE);
	io_uring_sqe_set_data64(sqe, 0);
	io_uring_submit(&r->uring);
	for (int first = 1; more;) {
		if (io_uring_wait_cqe_timeout(&r->uring, &cqe, &ts) < 0)
			break;
		if (first)
			res = cqe->res;
		more = first && (cqe->flags & IORING_CQE_F_MORE);
		first = 0;
		io_uring_cqe_seen(&r->uring, cqe);
	}
	close(sv[0]);
	close(sv[1]);
	return res != -EINVAL;
}

/* see internal.h */
int eng_zc_probe(struct eng *e, char *err, size_t errlen)
{
	struct ring *r = &e->rings[0].ring;

	if (!ring_has_op(r, IORING_OP_SEND_ZC) || !zc_usage_ok(r)) {
		snprintf(err, errlen, "--zc: this kernel's IORING_OP_SEND_ZC "
			 "cannot report copied sends (Linux 6.2 or newer); run "
			 "without --zc");
		return -EOPNOTSUPP;
	}
	return 0;
}

static uint8_t *slot_of(const struct eng *e, uint32_t id)
{
	return e->arena + (size_t)id * e->o.slot_size;
}

/* see eng.h */
int eng_write(struct eng *e, uint32_t id, const void *p, size_t n,
	      size_t limit)
{
	struct eng_conn *c = &e->conns[id];
	int ret;

	if (c->state != EC_OPEN || (c->flags & (CF_LINGER | CF_DETACHED)))
		return -EPIPE;
	ret = outq_append(&c->out.q, &e->out_pool, p, n, limit);
	if (ret == 0)
		eng_mark_dirty(e, c);
	return ret;
}

/* see eng.h */
size_t eng_pending(const struct eng *e, uint32_t id)
{
	const struct eng_conn *c = &e->conns[id];

	if (e->o.send == ENG_SEND_QUEUE)
		return c->out.q.bytes;
	if (c->tls && (c->flags & CF_SEND))
		return 1;
	return (size_t)(c->out.s.len - c->out.s.off);
}

/* The send was handed over: its deadline starts. */
static void sending(struct eng *e, struct eng_conn *c)
{
	c->flags |= CF_SEND;
	c->send_since = e->now_ns;
	if (e->o.send_timeout_ns && (!tw_armed(&c->dl) ||
	    c->dl.expires > eng_tick_of(e, c->send_since +
					e->o.send_timeout_ns)))
		eng_dl_update(e, c);
}

static void kick_slot(struct eng *e, struct eng_conn *c)
{
	uint32_t id = eng_id(e, c);
	struct io_uring_sqe *sqe;
	uint8_t *p;
	size_t n;

	if (c->out.s.off >= c->out.s.len)
		return;
	if (!c->out.s.inflight) {
		/* A new send takes everything written so far. */
		c->out.s.inflight = c->out.s.len;
		c->out.s.units_inflight = c->out.s.units;
		c->out.s.units = 0;
		if (c->out.s.units_inflight && e->ops->submitted &&
		    !(c->flags & CF_DETACHED))
			e->ops->submitted(e->app, id, c->tag,
					  c->out.s.units_inflight);
	}
	sqe = eng_sqe(e, id);
	p = slot_of(e, id) + c->out.s.off;
	n = c->out.s.inflight - c->out.s.off;
	if (e->zc == ENG_ZC_FIXED)
		io_uring_prep_send_zc_fixed(sqe, eng_fixed(e, id), p, n,
					    MSG_NOSIGNAL,
					    IORING_SEND_ZC_REPORT_USAGE, 0);
	else if (e->zc == ENG_ZC_PLAIN)
		io_uring_prep_send_zc(sqe, eng_fixed(e, id), p, n, MSG_NOSIGNAL,
				      IORING_SEND_ZC_REPORT_USAGE);
	else
		io_uring_prep_send(sqe, eng_fixed(e, id), p, n, MSG_NOSIGNAL);
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, ring_ud(OP_SEND, c->gen, id));
	sending(e, c);
}

static void kick_queue(struct eng *e, struct eng_conn *c)
{
	uint32_t id = eng_id(e, c);
	struct io_uring_sqe *sqe;
	struct eng_send_vec *v;
	size_t n;
	int k;

	if (!c->out.q.bytes) {
		if (c->flags & CF_LINGER) {
			struct eng_why why = { .err = 0 };

			eng_fail(e, c, &why); /* the close it asked for */
		}
		return;
	}
	if (e->nsv == ENG_SEND_VECS) {
		/* The vectors may be queued in any ring. */
		eng_submit_all(e);
		e->nsv = 0;
	}
	v = &e->sv[e->nsv];
	k = outq_peekv(&c->out.q, v->iov, ENG_SEND_IOV, &n);
	sqe = eng_sqe(e, id);
	if (k == 1) {
		io_uring_prep_send(sqe, eng_fixed(e, id), v->iov[0].iov_base, n,
				   MSG_NOSIGNAL);
	} else {
		memset(&v->mh, 0, sizeof(v->mh));
		v->mh.msg_iov = v->iov;
		v->mh.msg_iovlen = (size_t)k;
		io_uring_prep_sendmsg(sqe, eng_fixed(e, id), &v->mh,
				      MSG_NOSIGNAL);
		e->nsv++;
	}
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, ring_ud(OP_SEND, c->gen, id));
	sending(e, c);
}

/* see internal.h */
void eng_kick(struct eng *e, struct eng_conn *c)
{
	if ((c->flags & CF_SEND) || c->state != EC_OPEN)
		return;
	if (c->tls)
		eng_tls_kick(e, c);
	else if (e->o.send == ENG_SEND_QUEUE)
		kick_queue(e, c);
	else
		kick_slot(e, c);
}

/* see internal.h */
void eng_credit(struct eng *e, struct eng_conn *c)
{
	unsigned u = c->out.s.units_inflight;

	c->out.s.units_inflight = 0;
	if (u && e->ops->sent)
		e->ops->sent(e->app, eng_id(e, c), c->tag, u,
			     (c->flags & CF_DETACHED) != 0);
}

/* The units of the send in flight count once the kernel took all of its
 * bytes. */
static void slot_credit(struct eng *e, struct eng_conn *c)
{
	if (c->out.s.off >= c->out.s.inflight && c->out.s.units_inflight)
		eng_credit(e, c);
}

/* The bytes of the send in flight are sent and the slot is ours again. */
static void slot_done(struct eng *e, struct eng_conn *c)
{
	uint32_t id = eng_id(e, c);
	uint8_t *slot = slot_of(e, id);

	if (c->out.s.off < c->out.s.inflight) {
		kick_slot(e, c); /* short send: the rest, same units */
		return;
	}
	slot_credit(e, c);
	/* Move what was written meanwhile to the front of the slot. */
	memmove(slot, slot + c->out.s.inflight,
		c->out.s.len - c->out.s.inflight);
	c->out.s.len -= c->out.s.inflight;
	c->out.s.off = 0;
	c->out.s.inflight = 0;
	if (e->ops->writable && !(c->flags & CF_DETACHED))
		e->ops->writable(e->app, id, c->tag);
	if (c->out.s.len)
		eng_mark_dirty(e, c);
}

static void send_failed(struct eng *e, struct eng_conn *c, int res)
{
	if (res < 0 && res != -EPIPE && res != -ECONNRESET)
		e->stats.send_errors++;
	eng_fail_err(e, c, res ? res : -EPIPE, NULL);
}

static void on_send_plain(struct eng *e, struct eng_conn *c, int res)
{
	c->flags &= ~CF_SEND;
	if (res > 0)
		e->stats.bytes_out += (uint64_t)res;
	if (c->state != EC_OPEN) {
		/* Units the kernel took before the close was asked for are
		 * sent (the server may read them): they count, detached. */
		if (res > 0 && !c->tls && e->o.send == ENG_SEND_SLOT) {
			c->out.s.off += (uint16_t)res;
			slot_credit(e, c);
		}
		eng_finish_close(e, c);
		return;
	}
	if (res <= 0) {
		send_failed(e, c, res);
		return;
	}
	if (c->tls) {
		eng_tls_sent(e, c, res);
		return;
	}
	if (e->o.send == ENG_SEND_QUEUE) {
		outq_consume(&c->out.q, &e->out_pool, (size_t)res);
		if (e->ops->writable && !(c->flags & CF_DETACHED))
			e->ops->writable(e->app, eng_id(e, c), c->tag);
		eng_mark_dirty(e, c);
		return;
	}
	c->out.s.off += (uint16_t)res;
	slot_done(e, c);
}

static void on_send_zc(struct eng *e, struct eng_conn *c,
		       const struct io_uring_cqe *cqe)
{
	if (cqe->flags & IORING_CQE_F_NOTIF) {
		e->stats.zc_sends++;
		if (cqe->res & IORING_NOTIF_USAGE_ZC_COPIED)
			e->stats.zc_copied++;
		c->flags &= ~(CF_SEND | CF_ZCWAIT);
		if (c->flags & CF_CLOSED)
			eng_slot_free(e, eng_id(e, c));
		else if (c->state != EC_OPEN)
			eng_finish_close(e, c);
		else
			slot_done(e, c);
		return;
	}
	if (!(cqe->flags & IORING_CQE_F_MORE)) {
		on_send_plain(e, c, cqe->res); /* no notification follows */
		return;
	}
	c->flags |= CF_ZCWAIT;
	if (cqe->res > 0)
		e->stats.bytes_out += (uint64_t)cqe->res;
	if (c->state != EC_OPEN) {
		if (cqe->res > 0) { /* taken before the close: detached */
			c->out.s.off += (uint16_t)cqe->res;
			slot_credit(e, c);
		}
		return;
	}
	if (cqe->res <= 0) {
		send_failed(e, c, cqe->res);
		return;
	}
	c->out.s.off += (uint16_t)cqe->res;
	slot_credit(e, c);
}

/* see internal.h */
void eng_on_send(struct eng *e, struct eng_conn *c,
		 const struct io_uring_cqe *cqe)
{
	if (e->zc && !c->tls)
		on_send_zc(e, c, cqe);
	else
		on_send_plain(e, c, cqe->res);
}
