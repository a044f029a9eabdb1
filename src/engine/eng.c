/*
 * eng: setup, connection slots, connect, receive and the input carry,
 * close, deadlines and the loop. See eng.h.
 *
 * IMPLEMENTATION NOTES
 * - Rings: max_conns takes ceil(max_conns / per_ring) rings, per_ring =
 *   min(max_conns, RLIMIT_NOFILE) after the soft limit is raised to the
 *   hard one (a table may hold RLIMIT_NOFILE entries; registering more
 *   fails with EMFILE). The receive buffers are split between the rings,
 *   at least 256 each: a ring's share of the traffic is a share of the
 *   connections.
 * - Waiting on several rings. Every ring is set up alike (DEFER_TASKRUN
 *   when the kernel has it). A DEFER_TASKRUN ring runs its completions
 *   only when its owner enters it, so a thread asleep in ring 0 would never
 *   see ring 1's; but queueing that work sets IORING_SQ_TASKRUN in ring 1's
 *   SQ flags and signals an eventfd registered on it. Rings 1.. share one
 *   eventfd, and ring 0 keeps a read of it armed: the read completes, ring
 *   0's wait returns. Each pass enters only the rings that have SQEs or
 *   whose flags say they have work, reaps every ring, and sleeps in ring 0
 *   only when no other ring holds unread completions. (Measured with
 *   bench/serve.sh against COOP_TASKRUN for rings 1..: no difference above
 *   the machine's noise, so one set of rules.)
 * - A client socket is connected as an ordinary descriptor (so its local
 *   address can be read), with a linked timeout, then moved into the
 *   ring's table and closed: the process holds a descriptor only while a
 *   connect is in flight.
 * - Sends are timed (send_since) when they are handed over, not when the
 *   bytes were written: the loop may have worked for a while in between.
 */
#include "engine/internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

/* More rings than this is a mistake in the limits, not a plan. */
#define MAX_RINGS 1024

static int plan_rings(struct eng *e, char *err, size_t errlen)
{
	struct rlimit rl;
	uint64_t lim = 1u << 20; /* IORING_MAX_FIXED_FILES */
	uint32_t n = e->o.max_conns;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		if (rl.rlim_cur < rl.rlim_max) {
			struct rlimit up = { rl.rlim_max, rl.rlim_max };

			if (setrlimit(RLIMIT_NOFILE, &up) == 0)
				rl.rlim_cur = rl.rlim_max;
		}
		if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < lim)
			lim = rl.rlim_cur;
	}
	e->per_ring = n < lim ? n : (uint32_t)lim;
	e->nrings = (n + e->per_ring - 1) / e->per_ring;
	/* Each ring is a process descriptor too. */
	if (e->nrings > 1 &&
	    (e->nrings > MAX_RINGS || e->nrings + 16 > lim)) {
		snprintf(err, errlen, "%u connections would take %u io_urings "
			 "of %u direct descriptors (RLIMIT_NOFILE %llu): raise "
			 "ulimit -n or allow fewer connections", n, e->nrings,
			 e->per_ring, (unsigned long long)lim);
		return -EMFILE;
	}
	return 0;
}

static void arm_wake(struct eng *e)
{
	struct io_uring_sqe *sqe = ring_sqe(&e->rings[0].ring);

	io_uring_prep_read(sqe, e->wake_fd, &e->wake_val, sizeof(e->wake_val),
			   0);
	io_uring_sqe_set_data64(sqe, ring_ud(OP_WAKE, 0, 0));
}

static int setup_rings(struct eng *e, char *err, size_t errlen)
{
	unsigned nbufs = e->o.nbufs, share = 256;
	int ret;

	while (share < e->o.nbufs / e->nrings)
		share <<= 1;
	if (e->nrings > 1 && share < nbufs)
		nbufs = share;
	e->rings = calloc(e->nrings, sizeof(*e->rings));
	if (!e->rings) {
		snprintf(err, errlen, "out of memory for %u rings", e->nrings);
		return -ENOMEM;
	}
	for (uint32_t ri = 0; ri < e->nrings; ri++)
		e->rings[ri].ring.uring.ring_fd = -1;
	for (uint32_t ri = 0; ri < e->nrings; ri++) {
		struct eng_ring *er = &e->rings[ri];
		uint32_t left = e->o.max_conns - ri * e->per_ring;
		struct ring_opts ro = {
			.entries = e->o.ring_entries ? e->o.ring_entries : 4096,
			.cq_entries = e->o.cq_entries,
			.nbufs = nbufs,
			.buf_size = e->o.buf_size,
			.inc_buf_size = e->o.inc_buf_size ? e->o.inc_buf_size :
					65536,
			.no_defer = e->o.no_defer,
			.sqpoll = e->o.sqpoll,
			.off = e->o.uring_off,
			.want = e->o.uring_want,
			.min_wait_us = e->o.min_wait_us,
		};

		er->base = ri * e->per_ring;
		er->cap = left < e->per_ring ? left : e->per_ring;
		ro.files = er->cap;
		ret = ring_init(&er->ring, &ro, err, errlen);
		if (ret < 0)
			return ret;
	}
	if (e->nrings == 1)
		return 0;
	e->wake_fd = eventfd(0, EFD_CLOEXEC);
	if (e->wake_fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "eventfd: %s", strerror(-ret));
		return ret;
	}
	for (uint32_t ri = 1; ri < e->nrings; ri++) {
		ret = io_uring_register_eventfd(&e->rings[ri].ring.uring,
						e->wake_fd);
		if (ret < 0) {
			snprintf(err, errlen, "cannot register an eventfd on "
				 "io_uring %u: %s", ri, strerror(-ret));
			return ret;
		}
	}
	arm_wake(e);
	return 0;
}

/* see eng.h */
int eng_init(struct eng *e, const struct eng_opts *o,
	     const struct eng_ops *ops, void *app, char *err, size_t errlen)
{
	size_t in_mem;
	int ret;

	memset(e, 0, sizeof(*e));
	e->o = *o;
	e->ops = ops;
	e->app = app;
	e->wake_fd = -1;
	e->free_head = ENG_NIL;
	for (int l = 0; l < ENG_MAX_LISTEN; l++) {
		e->lfd[l] = -1;
		e->acc_multi[l] = -1;
	}
	if (!o->max_conns || !o->in_block ||
	    (o->send == ENG_SEND_SLOT && (!o->slot_size ||
					  o->slot_size > UINT16_MAX)) ||
	    (o->send == ENG_SEND_QUEUE && !o->out_block)) {
		snprintf(err, errlen, "engine: invalid options");
		return -EINVAL;
	}
	ret = plan_rings(e, err, errlen);
	if (ret == 0)
		ret = setup_rings(e, err, errlen);
	if (ret < 0)
		return ret;
	e->nconns = o->max_conns;
	e->conns = calloc(e->nconns, sizeof(*e->conns));
	e->dirty = calloc(e->nconns, sizeof(*e->dirty));
	in_mem = o->in_memory ? o->in_memory : (size_t)64 << 20;
	if (!e->conns || !e->dirty ||
	    pool_init(&e->in_pool, o->in_block, 8,
		      in_mem / o->in_block + 16) < 0 ||
	    tw_init(&e->tw, o->wheel_slots ? o->wheel_slots : 4096, 0) < 0)
		goto oom;
	if (o->ntargets) {
		e->tls_sess = calloc(o->ntargets, sizeof(*e->tls_sess));
		if (!e->tls_sess ||
		    pool_init(&e->tls_pool, sizeof(struct eng_tls), 16, 0) < 0)
			goto oom;
	}
	if (o->send == ENG_SEND_QUEUE) {
		e->sv = calloc(ENG_SEND_VECS, sizeof(*e->sv));
		if (!e->sv || pool_init(&e->out_pool, o->out_block, 64,
					o->out_memory / o->out_block) < 0)
			goto oom;
	} else {
		e->arena = aligned_alloc(4096, ((size_t)e->nconns *
						o->slot_size + 4095) & ~(size_t)4095);
		if (!e->arena)
			goto oom;
		/* Registered so SEND_ZC can use it as a fixed buffer; plain
		 * SEND does not need it. Best effort: without it --zc pins
		 * the pages of every send instead. */
		ret = 0;
		for (uint32_t ri = 0; ri < e->nrings; ri++) {
			struct eng_ring *er = &e->rings[ri];
			struct iovec iov = {
				e->arena + (size_t)er->base * o->slot_size,
				(size_t)er->cap * o->slot_size,
			};

			if (ret == 0)
				ret = io_uring_register_buffers(&er->ring.uring,
								&iov, 1);
		}
		if (o->zc) {
			ret = eng_zc_probe(e, err, errlen) < 0 ? -EOPNOTSUPP :
			      (e->zc = ret == 0 ? ENG_ZC_FIXED : ENG_ZC_PLAIN, 0);
			if (ret < 0)
				return ret;
		}
	}
	/* Slots go out lowest first: a small run touches little memory. */
	for (uint32_t i = e->nconns; i-- > 0;) {
		e->conns[i].next_free = e->free_head;
		e->conns[i].fd = -1;
		e->free_head = i;
	}
	e->connect_ts.tv_sec = o->connect_timeout_ns / 1000000000;
	e->connect_ts.tv_nsec = o->connect_timeout_ns % 1000000000;
	e->now_ns = clock_mono_ns();
	e->tw.now = eng_tick_now(e);
	return 0;
oom:
	snprintf(err, errlen, "out of memory for %u connections", o->max_conns);
	return -ENOMEM;
}

/* see internal.h */
void eng_conn_release(struct eng *e, struct eng_conn *c)
{
	if (c->in)
		pool_put(&e->in_pool, c->in);
	c->in = NULL;
	if (c->tls)
		eng_tls_free(e, c);
	if (e->o.send == ENG_SEND_QUEUE)
		outq_clear(&c->out.q, &e->out_pool);
}

/* see eng.h */
void eng_exit(struct eng *e)
{
	for (unsigned l = 0; l < e->nlisten; l++)
		if (e->lfd[l] >= 0)
			close(e->lfd[l]);
	if (e->conns)
		for (uint32_t i = 0; i < e->nconns; i++) {
			if (e->conns[i].fd >= 0)
				close(e->conns[i].fd);
			eng_conn_release(e, &e->conns[i]);
		}
	if (e->rings)
		for (uint32_t ri = 0; ri < e->nrings; ri++)
			ring_exit(&e->rings[ri].ring);
	if (e->wake_fd >= 0)
		close(e->wake_fd);
	pool_destroy(&e->in_pool);
	pool_destroy(&e->out_pool);
	pool_destroy(&e->tls_pool);
	tw_free(&e->tw);
	free(e->conns);
	free(e->dirty);
	free(e->arena);
	free(e->sv);
	free(e->rings);
	free(e->tls_sess);
	e->conns = NULL;
	e->dirty = NULL;
	e->arena = NULL;
	e->sv = NULL;
	e->rings = NULL;
	e->tls_sess = NULL;
	e->nlisten = 0;
	e->wake_fd = -1;
}

/* ---- slots ---- */

/* see internal.h */
void eng_slot_free(struct eng *e, uint32_t id)
{
	struct eng_conn *c = &e->conns[id];
	uint32_t gen = c->gen + 1;

	eng_conn_release(e, c);
	tw_del(&e->tw, &c->dl);
	memset(c, 0, sizeof(*c));
	c->gen = gen & 0xffffff;
	c->fd = -1;
	e->stats.closed++;
	if (e->nlisten) {
		/* The kernel picks accepted entries; a free one may let a
		 * listener short of accepts take it. */
		eng_ring_of(e, id)->used--;
		eng_on_entry_freed(e);
	} else {
		c->next_free = e->free_head;
		e->free_head = id;
	}
}

/* ---- connect ---- */

/* The next source address of the pool, round robin. */
static uint32_t next_src(struct eng *e)
{
	uint64_t span = (uint64_t)e->o.src_hi - e->o.src_lo + 1;

	return e->o.src_lo + (uint32_t)(e->src_next++ % span);
}

/* see eng.h */
uint32_t eng_connect(struct eng *e, unsigned ti, uint32_t tag, char *why,
		     size_t whylen)
{
	const struct eng_target *t = ti < e->o.ntargets ? &e->o.targets[ti] :
				     NULL;
	struct io_uring_sqe *sqe;
	struct eng_conn *c;
	uint32_t id;
	int one = 1, fd;

	if (!t) {
		snprintf(why, whylen, "connect: no target %u", ti);
		return ENG_NIL;
	}
	if (e->nlisten) {
		snprintf(why, whylen, "connect: an engine that accepts does not "
			 "connect");
		return ENG_NIL;
	}
	if (!t->addr_len) {
		snprintf(why, whylen, "connect: %s",
			 t->no_addr ? t->no_addr : "no address");
		return ENG_NIL;
	}
	id = e->free_head;
	if (id == ENG_NIL) {
		snprintf(why, whylen, "connect: no free connection slot "
			 "(%u in use)", e->nconns);
		return ENG_NIL;
	}
	c = &e->conns[id];
	fd = socket(t->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(why, whylen, "connect: socket: %s", strerror(errno));
		return ENG_NIL;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (e->o.sndbuf)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &e->o.sndbuf,
			   sizeof(e->o.sndbuf));
	if (e->o.src_lo && t->addr.ss_family == AF_INET) {
		struct sockaddr_in a = { .sin_family = AF_INET };

		a.sin_addr.s_addr = htonl(next_src(e));
		/* The port is chosen at connect time, per destination, so
		 * each source address gives a full ephemeral range. */
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
			   sizeof(one));
		if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
			snprintf(why, whylen, "connect: bind to source address: "
				 "%s", strerror(errno));
			close(fd);
			return ENG_NIL;
		}
	}
	e->free_head = c->next_free;
	c->next_free = ENG_NIL;
	c->fd = fd;
	c->state = EC_CONNECTING;
	c->tag = tag;
	c->target = (uint8_t)ti;
	sqe = eng_sqe(e, id);
	io_uring_prep_connect(sqe, fd, (const struct sockaddr *)&t->addr,
			      t->addr_len);
	io_uring_sqe_set_data64(sqe, ring_ud(OP_CONNECT, c->gen, id));
	sqe->flags |= IOSQE_IO_LINK;
	sqe = eng_sqe(e, id);
	io_uring_prep_link_timeout(sqe, &e->connect_ts, 0);
	io_uring_sqe_set_data64(sqe, ring_ud(OP_LTIMEOUT, 0, 0));
	return id;
}

/* see internal.h */
void eng_arm_recv(struct eng *e, struct eng_conn *c)
{
	uint32_t id = eng_id(e, c);
	struct io_uring_sqe *sqe = eng_sqe(e, id);

	io_uring_prep_recv_multishot(sqe, eng_fixed(e, id), NULL, 0, 0);
	/* several buffers per completion when the socket holds more than
	 * one takes (ring.h) */
	if (eng_ring_of(e, id)->ring.feat & RING_F_RECV_BUNDLE)
		sqe->ioprio |= IORING_RECVSEND_BUNDLE;
	sqe->flags |= IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
	sqe->buf_group = RING_BGID;
	io_uring_sqe_set_data64(sqe, ring_ud(OP_RECV, c->gen, id));
	c->flags |= CF_RECV;
}

static void on_connect(struct eng *e, struct eng_conn *c, int res)
{
	uint32_t id = eng_id(e, c);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int fd = c->fd;

	if (c->state == EC_CLOSING || res < 0) {
		struct eng_why why = {
			.err = res == -ECANCELED ? -ETIMEDOUT : res,
			.connecting = 1,
		};

		close(fd);
		c->fd = -1;
		if (!(c->flags & CF_DETACHED))
			e->ops->closed(e->app, id, c->tag, &why);
		eng_slot_free(e, id);
		return;
	}
	memset(&ss, 0, sizeof(ss));
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
		ss.ss_family = AF_UNSPEC;
	/* Into the ring's table; from here on it costs no process
	 * descriptor. */
	res = io_uring_register_files_update(&eng_ring_of(e, id)->ring.uring,
					     (unsigned)eng_fixed(e, id), &fd, 1);
	close(fd);
	c->fd = -1;
	if (res < 0) {
		struct eng_why why = { .err = res, .connecting = 1 };

		if (!(c->flags & CF_DETACHED))
			e->ops->closed(e->app, id, c->tag, &why);
		eng_slot_free(e, id);
		return;
	}
	c->state = EC_OPEN;
	eng_arm_recv(e, c);
	if (e->o.targets[c->target].tls_host) {
		eng_tls_start(e, c, &ss); /* ops.up after the handshake */
		return;
	}
	e->ops->up(e->app, id, c->tag, &ss);
}

/* ---- input ---- */

/* ops.input over data until it wants more bytes; returns what it took, or
 * -1 when the connection takes no more input (closed, lingering). */
static long input_feed(struct eng *e, struct eng_conn *c, uint8_t *data,
		       size_t n)
{
	uint32_t id = eng_id(e, c);
	size_t off = 0;

	while (off < n) {
		long r = e->ops->input(e->app, id, c->tag, data + off, n - off);

		if (r < 0) {
			eng_close(e, id);
			return -1;
		}
		off += (size_t)r;
		if (r == 0 || c->state != EC_OPEN ||
		    (c->flags & (CF_LINGER | CF_DETACHED)))
			break;
	}
	if (c->state != EC_OPEN || (c->flags & (CF_LINGER | CF_DETACHED)))
		return -1;
	return (long)off;
}

static void input_failed(struct eng *e, struct eng_conn *c, int err)
{
	struct eng_why why = { .err = err, .input = 1 };

	if (err == -EMSGSIZE)
		e->stats.too_big++;
	else
		e->stats.no_memory++;
	eng_fail(e, c, &why);
}

/* see internal.h */
void eng_carry(struct eng *e, struct eng_conn *c, uint8_t **buf,
	       uint32_t *len, uint8_t *data, size_t n, eng_feed_fn feed)
{
	long off;

	/*
	 * What waits in the carry takes no more of data than it has room for
	 * (a piece may be a whole 64 KiB buffer), and once the input went
	 * past the carried bytes, the rest of data is read where it lies.
	 */
	while (*buf) {
		size_t old = *len, take = e->o.in_block - old;

		if (take > n)
			take = n;
		if (!take && n) {
			input_failed(e, c, -EMSGSIZE);
			return;
		}
		if (take)
			memcpy(*buf + old, data, take);
		*len += (uint32_t)take;
		off = feed(e, c, *buf, *len);
		if (off < 0)
			return;
		if ((size_t)off >= old) {
			/* what is left in the carry came from data */
			pool_put(&e->in_pool, *buf);
			*buf = NULL;
			*len = 0;
			data += (size_t)off - old;
			n -= (size_t)off - old;
			break;
		}
		memmove(*buf, *buf + off, *len - (size_t)off);
		*len -= (uint32_t)off;
		data += take;
		n -= take;
		if (!n)
			return;
	}
	if (!n)
		return;
	off = feed(e, c, data, n);
	if (off < 0 || (size_t)off == n)
		return;
	if (n - (size_t)off > e->o.in_block) {
		input_failed(e, c, -EMSGSIZE);
		return;
	}
	*buf = pool_get(&e->in_pool);
	if (!*buf) {
		input_failed(e, c, -ENOMEM);
		return;
	}
	memcpy(*buf, data + off, n - (size_t)off);
	*len = (uint32_t)(n - (size_t)off);
}

/* see internal.h */
void eng_input(struct eng *e, struct eng_conn *c, uint8_t *data, size_t n)
{
	if (c->flags & (CF_LINGER | CF_DETACHED))
		return; /* answered and closing: the rest is not read */
	eng_carry(e, c, &c->in, &c->in_len, data, n, input_feed);
}

static void on_recv(struct eng *e, struct ring *r, struct eng_conn *c,
		    struct io_uring_cqe *cqe)
{
	int more = cqe->flags & IORING_CQE_F_MORE;

	if (!more)
		c->flags &= ~CF_RECV;
	if (cqe->flags & IORING_CQE_F_BUFFER) {
		/* The bytes in the order they came: one buffer, or a bundle's
		 * several (every piece goes in, each buffer goes back, also
		 * when the input closed the connection half-way). */
		struct ring_rx x;
		uint8_t *p;
		size_t n;

		ring_rx_begin(r, cqe, &x);
		while ((n = ring_rx_next(r, &x, &p)) != 0) {
			if (c->state != EC_OPEN)
				continue;
			if (c->tls)
				eng_tls_input(e, c, p, n);
			else
				eng_input(e, c, p, n);
		}
		if (x.bufs > 1)
			e->stats.bundle_bufs += x.bufs;
		if (x.more)
			e->stats.inc_partial++;
	}
	if (cqe->res > 0) {
		e->stats.bytes_in += (uint64_t)cqe->res;
	} else if (cqe->res == -ENOBUFS) {
		/* Every provided buffer is in use: counted; the receive is
		 * re-armed below, once buffers come back. */
		e->stats.enobufs++;
		r->enobufs++;
	} else if (cqe->res <= 0 && c->state == EC_OPEN) {
		int hs = c->tls && !c->tls->up;

		if (cqe->res < 0 && cqe->res != -ECONNRESET)
			e->stats.recv_errors++;
		eng_fail_err(e, c, cqe->res ? cqe->res : -ECONNRESET,
			     hs ? (cqe->res ? "TLS handshake: connection reset" :
				   "TLS handshake: the server closed the "
				   "connection") : NULL);
	}
	if (c->state == EC_CLOSING)
		eng_finish_close(e, c);
	else if (c->state == EC_OPEN && !(c->flags & CF_RECV))
		eng_arm_recv(e, c);
}

/* ---- close ---- */

/* see internal.h */
void eng_finish_close(struct eng *e, struct eng_conn *c)
{
	uint32_t id = eng_id(e, c);
	struct io_uring_sqe *sqe;

	if (c->state != EC_CLOSING || (c->flags & (CF_RECV | CF_CLOSE)) ||
	    (c->flags & (CF_SEND | CF_ZCWAIT)) == CF_SEND)
		return;
	if (e->o.send == ENG_SEND_QUEUE)
		outq_clear(&c->out.q, &e->out_pool);
	sqe = eng_sqe(e, id);
	io_uring_prep_close_direct(sqe, (unsigned)eng_fixed(e, id));
	io_uring_sqe_set_data64(sqe, ring_ud(OP_CLOSE, c->gen, id));
	c->flags |= CF_CLOSE;
}

/* see eng.h */
void eng_close(struct eng *e, uint32_t id)
{
	struct eng_conn *c = &e->conns[id];
	struct io_uring_sqe *sqe;

	if (c->state == EC_FREE || c->state == EC_CLOSING)
		return;
	c->flags |= CF_DETACHED;
	tw_del(&e->tw, &c->dl);
	if (c->in) {
		pool_put(&e->in_pool, c->in);
		c->in = NULL;
		c->in_len = 0;
	}
	if (c->state == EC_CONNECTING) {
		/* The connect completes with -ECANCELED and frees the slot. */
		sqe = eng_sqe(e, id);
		io_uring_prep_cancel64(sqe, ring_ud(OP_CONNECT, c->gen, id), 0);
		io_uring_sqe_set_data64(sqe, ring_ud(OP_CANCEL, 0, 0));
		c->state = EC_CLOSING;
		return;
	}
	c->state = EC_CLOSING;
	/* By user_data, never by descriptor: a cancel addressed to the
	 * table index could run after the index was given to the next
	 * connection. close_direct then drops the socket; the peer sees FIN
	 * when the last request holding it completes. */
	if (c->flags & CF_RECV) {
		sqe = eng_sqe(e, id);
		io_uring_prep_cancel64(sqe, ring_ud(OP_RECV, c->gen, id), 0);
		io_uring_sqe_set_data64(sqe, ring_ud(OP_CANCEL, 0, 0));
	}
	if (c->flags & CF_SEND) {
		sqe = eng_sqe(e, id);
		io_uring_prep_cancel64(sqe, ring_ud(OP_SEND, c->gen, id), 0);
		io_uring_sqe_set_data64(sqe, ring_ud(OP_CANCEL, 0, 0));
	}
	eng_finish_close(e, c);
}

/* see eng.h */
void eng_linger(struct eng *e, uint32_t id)
{
	struct eng_conn *c = &e->conns[id];

	if (c->state != EC_OPEN || (c->flags & CF_DETACHED))
		return;
	c->flags |= CF_LINGER;
	eng_mark_dirty(e, c);
}

/* see internal.h */
void eng_fail(struct eng *e, struct eng_conn *c, const struct eng_why *why)
{
	uint32_t id = eng_id(e, c);

	if (!(c->flags & CF_DETACHED)) {
		c->flags |= CF_DETACHED;
		e->ops->closed(e->app, id, c->tag, why);
	}
	eng_close(e, id);
}

/* see internal.h */
void eng_fail_err(struct eng *e, struct eng_conn *c, int err,
		  const char *text)
{
	struct eng_why why = {
		.err = err,
		.text = text,
		.handshaking = c->tls && !c->tls->up,
	};

	eng_fail(e, c, &why);
}

static void on_close(struct eng *e, struct eng_conn *c)
{
	if (c->flags & CF_ZCWAIT)
		c->flags |= CF_CLOSED; /* the notification frees it */
	else
		eng_slot_free(e, eng_id(e, c));
}

/* ---- deadlines and timers ---- */

static uint64_t stall_tick(const struct eng *e, const struct eng_conn *c)
{
	return eng_tick_of(e, c->send_since + e->o.send_timeout_ns);
}

/* see internal.h */
void eng_dl_update(struct eng *e, struct eng_conn *c)
{
	uint64_t due = c->app_due ? c->app_due : UINT64_MAX;

	if ((c->flags & CF_SEND) && e->o.send_timeout_ns) {
		uint64_t s = stall_tick(e, c);

		due = s < due ? s : due;
	}
	if (c->tls && !c->tls->up) {
		uint64_t h = eng_tick_of(e, c->tls->since +
					 e->o.connect_timeout_ns);

		due = h < due ? h : due;
	}
	if (due == UINT64_MAX)
		return; /* an armed node fires, finds nothing, stays off */
	if (tw_armed(&c->dl)) {
		if (c->dl.expires <= due)
			return; /* fires early, re-armed then */
		tw_del(&e->tw, &c->dl);
	}
	tw_add(&e->tw, &c->dl, due);
}

/* see eng.h */
void eng_deadline(struct eng *e, uint32_t id, uint64_t tick)
{
	struct eng_conn *c = &e->conns[id];

	c->app_due = tick;
	if (tick && tw_armed(&c->dl) && c->dl.expires > tick)
		tw_del(&e->tw, &c->dl);
	eng_dl_update(e, c);
}

static void dl_fire(struct eng *e, struct eng_conn *c)
{
	uint32_t id = eng_id(e, c);
	uint64_t now = e->tw.now;

	if (c->state != EC_OPEN || (c->flags & CF_DETACHED))
		return;
	if ((c->flags & CF_SEND) && e->o.send_timeout_ns &&
	    stall_tick(e, c) <= now) {
		if (e->ops->stalled) {
			c->flags |= CF_DETACHED;
			e->ops->stalled(e->app, id, c->tag);
			eng_close(e, id);
		} else {
			eng_fail_err(e, c, -ETIMEDOUT, "send timed out");
		}
		return;
	}
	if (c->tls && !c->tls->up &&
	    eng_tick_of(e, c->tls->since + e->o.connect_timeout_ns) <= now) {
		char text[96];

		snprintf(text, sizeof(text), "TLS handshake: no answer within "
			 "%gs", (double)e->o.connect_timeout_ns / 1e9);
		eng_fail_err(e, c, -ETIMEDOUT, text);
		return;
	}
	if (c->app_due && c->app_due <= now) {
		c->app_due = 0;
		e->ops->deadline(e->app, id, c->tag);
		if (c->state != EC_OPEN || (c->flags & CF_DETACHED))
			return;
	}
	eng_dl_update(e, c);
}

static void on_wheel(void *ctx, struct tw_node *n)
{
	struct eng *e = ctx;
	const char *p = (const char *)n, *lo = (const char *)e->conns;

	if (p >= lo && p < (const char *)(e->conns + e->nconns)) {
		size_t i = (size_t)(p - lo) / sizeof(struct eng_conn);

		dl_fire(e, &e->conns[i]);
		return;
	}
	e->ops->timer(e->app, n);
}

/* see eng.h */
void eng_timer_at(struct eng *e, struct tw_node *n, uint64_t tick)
{
	tw_del(&e->tw, n);
	tw_add(&e->tw, n, tick);
}

/* ---- completions and the loop ---- */

static void handle_cqe(struct eng *e, uint32_t ri, struct io_uring_cqe *cqe)
{
	uint64_t ud = io_uring_cqe_get_data64(cqe);
	unsigned op = ring_ud_op(ud);
	uint32_t id = ring_ud_idx(ud);
	struct ring *r = &e->rings[ri].ring;
	struct eng_conn *c;

	switch (op) {
	case OP_ACCEPT:
	case OP_ACCEPT1:
		eng_on_accept(e, ri, cqe, id, op == OP_ACCEPT);
		return;
	case OP_WAKE:
		/* Whatever the result: without this read the loop would not
		 * see the other rings until a timeout. */
		arm_wake(e);
		return;
	case OP_MSG:
		if (e->ops->message)
			e->ops->message(e->app, id);
		return;
	case OP_MSG_POST:
		/* Only a failure completes (CQE_SKIP_SUCCESS). */
		if (cqe->res < 0) {
			e->stats.msg_failed++;
			if (!e->msg_err)
				e->msg_err = cqe->res;
		}
		return;
	case OP_LTIMEOUT:
	case OP_CANCEL:
		return;
	default:
		break;
	}
	if (id >= e->nconns)
		return;
	c = &e->conns[id];
	if (c->gen != ring_ud_gen(ud) || c->state == EC_FREE) {
		/* A completion for an earlier owner of the slot: its
		 * buffers (all of a bundle's) go back unread. */
		if (op == OP_RECV)
			ring_rx_drop(r, cqe);
		return;
	}
	switch (op) {
	case OP_CONNECT:
		on_connect(e, c, cqe->res);
		break;
	case OP_RECV:
		on_recv(e, r, c, cqe);
		break;
	case OP_SEND:
		eng_on_send(e, c, cqe);
		break;
	case OP_CLOSE:
		on_close(e, c);
		break;
	default:
		break;
	}
}

/* see eng.h */
void eng_msg_post(struct eng *e, int to_fd, uint32_t value)
{
	struct io_uring_sqe *sqe = ring_sqe(&e->rings[0].ring);

	io_uring_prep_msg_ring(sqe, to_fd, 0, ring_ud(OP_MSG, 0, value), 0);
	io_uring_sqe_set_data64(sqe, ring_ud(OP_MSG_POST, 0, value));
	sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
	e->stats.msg_posted++;
}

/* see eng.h */
void eng_flush(struct eng *e)
{
	/* A send may close connections, which never adds to the list. */
	if (e->ndirty)
		e->now_ns = clock_mono_ns();
	for (uint32_t i = 0; i < e->ndirty; i++) {
		struct eng_conn *c = &e->conns[e->dirty[i]];

		c->flags &= ~CF_DIRTY;
		eng_kick(e, c);
	}
	e->ndirty = 0;
}

/* see internal.h */
void eng_submit_all(struct eng *e)
{
	for (uint32_t ri = 0; ri < e->nrings; ri++) {
		struct io_uring *u = &e->rings[ri].ring.uring;

		if (io_uring_sq_ready(u))
			io_uring_submit(u);
	}
}

/* Whether ring r holds work that only entering it turns into completions:
 * deferred task work or an overflowed CQ. Without TASKRUN_FLAG (old
 * kernels) there is no telling, so always. */
static int ring_has_work(const struct ring *r)
{
	return !(r->setup_flags & IORING_SETUP_TASKRUN_FLAG) ||
	       (IO_URING_READ_ONCE(*r->uring.sq.kflags) &
		(IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW));
}

static int wait_failed(struct eng *e, int ret)
{
	if (ret >= 0 || ret == -ETIME || ret == -EINTR || ret == -EAGAIN ||
	    ret == -EBUSY)
		return 0;
	e->err = ret;
	snprintf(e->err_text, sizeof(e->err_text), "io_uring wait: %s",
		 strerror(-ret));
	return 1;
}

static unsigned reap(struct eng *e, uint32_t ri)
{
	struct io_uring *u = &e->rings[ri].ring.uring;
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	io_uring_for_each_cqe(u, head, cqe) {
		handle_cqe(e, ri, cqe);
		n++;
	}
	io_uring_cq_advance(u, n);
	return n;
}

/* The wait of this pass: until the next tick that holds a timer (at most
 * max_wait_ns), plus the slack; bounded by ops.turn's last answer. */
static uint64_t wait_ns(struct eng *e, int64_t bound)
{
	uint64_t max_ticks = (uint64_t)e->o.max_wait_ns >> e->o.tick_shift;
	uint64_t w;
	int64_t now = clock_mono_ns();

	if (e->timers_off) {
		w = (uint64_t)e->o.max_wait_ns;
	} else {
		uint64_t tick = e->tw.now + tw_next(&e->tw, max_ticks ?
						    max_ticks : 1);

		w = (uint64_t)eng_tick_wait(e, tick, now) +
		    (uint64_t)e->o.slack_ns;
	}
	if (bound > 0 && (uint64_t)bound < w)
		w = (uint64_t)bound;
	return w;
}

/* see eng.h */
int eng_run(struct eng *e)
{
	int64_t bound = 0;

	for (;;) {
		struct __kernel_timespec ts;
		struct io_uring_cqe *cqe;
		uint64_t w;
		int ret, busy = 0;

		eng_flush(e);
		for (uint32_t ri = 0; ri < e->nrings; ri++)
			ring_bufs_publish(&e->rings[ri].ring);
		w = wait_ns(e, bound);
		ts.tv_sec = (long long)(w / 1000000000);
		ts.tv_nsec = (long long)(w % 1000000000);
		/* Rings 1..: one io_uring_enter each that has something to
		 * submit or deferred work to run, which does both, and their
		 * completions handled at once; sleep in ring 0 only if none of
		 * them had any (their work queued later wakes ring 0 through
		 * the eventfd, and the next pass enters them). So a pass costs
		 * one enter per busy ring, not two. */
		for (uint32_t ri = 1; ri < e->nrings; ri++) {
			struct ring *r = &e->rings[ri].ring;

			if (!io_uring_sq_ready(&r->uring) && !ring_has_work(r) &&
			    !io_uring_cq_ready(&r->uring))
				continue;
			if ((io_uring_sq_ready(&r->uring) || ring_has_work(r)) &&
			    wait_failed(e, io_uring_submit_and_get_events(
					       &r->uring)))
				return e->err;
			if (io_uring_cq_has_overflow(&r->uring))
				r->cq_overflow++;
			if (io_uring_cq_ready(&r->uring)) {
				e->now_ns = clock_mono_ns();
				busy |= reap(e, ri) != 0;
			}
		}
		/* What those completions queued is submitted next pass: do
		 * not sleep on it. */
		if (busy)
			ret = io_uring_submit_and_get_events(
				&e->rings[0].ring.uring);
		else
			ret = ring_wait(&e->rings[0].ring, &cqe, &ts);
		e->nsv = 0;
		if (wait_failed(e, ret))
			return e->err;
		e->now_ns = clock_mono_ns();
		reap(e, 0);
		/* Timers see the time they fire at, not the time the batch
		 * of completions began. */
		e->now_ns = clock_mono_ns();
		if (!e->timers_off)
			tw_advance(&e->tw, eng_tick_now(e), on_wheel, e);
		bound = e->ops->turn(e->app);
		if (bound == ENG_STOP)
			break;
	}
	eng_submit_all(e);
	return 0;
}

/* see eng.h */
int eng_sends_pending(const struct eng *e)
{
	for (uint32_t i = 0; i < e->nconns; i++)
		if (e->conns[i].state == EC_OPEN && eng_pending(e, i))
			return 1;
	return 0;
}

/* see eng.h */
uint64_t eng_cq_overflows(const struct eng *e)
{
	uint64_t n = 0;

	for (uint32_t ri = 0; e->rings && ri < e->nrings; ri++)
		n += e->rings[ri].ring.cq_overflow;
	return n;
}

/* see eng.h */
uint64_t eng_cq_dropped(const struct eng *e)
{
	uint64_t n = 0;

	for (uint32_t ri = 0; e->rings && ri < e->nrings; ri++)
		n += ring_cq_dropped(&e->rings[ri].ring);
	return n;
}
