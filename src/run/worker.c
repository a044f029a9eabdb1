/*
 * worker: one thread of `esmeload run`: its ring, connections, sends,
 * receives and timers. What the connections carry is scenario.c's.
 * See run.h.
 *
 * TLS (https://, wss://) is this file's business, not the scenario's: a
 * connection to a TLS target gets a struct wtls when its TCP connect
 * completes, the scenario hears sc_connected once the handshake is done,
 * and from then on it reads and writes plaintext as on any connection.
 * Its send slot holds plaintext; the flush moves it into the engine and
 * sends the engine's records instead, still one send in flight (the
 * engine's output buffer stays put until tls_cipher_out_done).
 */
#include "run.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { OP_CONNECT = 1, OP_LTIMEOUT, OP_RECV, OP_SEND,
       OP_CANCEL, OP_CLOSE };

/*
 * CF_ZCWAIT: a SEND_ZC completed, its notification (the kernel is done
 * with the slot's bytes) has not; CF_SEND stays set until it comes. A
 * close need not wait for it (a peer that stopped reading would hold it
 * forever), but the slot is reused only after it: CF_CLOSED marks a
 * connection closed while the notification is still due.
 */
enum { CF_RECV = 1, CF_SEND = 2, CF_DIRTY = 4, CF_CLOSE = 8, CF_ZCWAIT = 16,
       CF_CLOSED = 32 };

#define IN_BLOCK (64 * 1024 + 64)
/* The longest wait of the loop, in ticks: 50 ms. */
#define WAIT_TICKS ((uint64_t)(50000000 >> RUN_TICK_SHIFT))

/* A TLS connection: the engine and what the worker keeps beside it. */
struct wtls {
	struct tls t;
	int64_t since;    /* TCP connected: the handshake deadline counts */
	uint8_t *cin;     /* ciphertext the engine could not take yet */
	uint32_t cin_len; /* (an in_pool block), or NULL */
	uint8_t up;       /* handshake done and the scenario told */
};

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

/* see run.h */
int worker_init(struct worker *w, const struct run_opts *o, unsigned id,
		char *err, size_t errlen)
{
	struct ring_opts ro = {
		.entries = o->ring_entries,
		.cq_entries = o->cq_entries,
		.files = o->max_conns,
		.nbufs = o->recv_buffers,
		.buf_size = 4096,
		.sqpoll = o->sqpoll,
		.no_defer = o->no_defer,
	};
	struct iovec iov;
	int ret;

	w->id = id;
	w->o = o;
	w->ring.uring.ring_fd = -1;
	w->nconns = o->max_conns;
	w->free_head = NIL;
	ret = ring_init(&w->ring, &ro, err, errlen);
	if (ret < 0)
		return ret;
	w->conns = calloc(w->nconns, sizeof(*w->conns));
	w->dirty = calloc(w->nconns, sizeof(*w->dirty));
	w->arena = aligned_alloc(4096, (size_t)w->nconns * RUN_SLOT);
	if (!w->conns || !w->dirty || !w->arena ||
	    pool_init(&w->in_pool, IN_BLOCK, 8, 4096) < 0 ||
	    pool_init(&w->tok_pool, 1024, 256, 0) < 0 ||
	    pool_init(&w->tls_pool, sizeof(struct wtls), 16, 0) < 0 ||
	    tw_init(&w->tw, RUN_WHEEL_SLOTS, 0) < 0) {
		snprintf(err, errlen, "out of memory for %u connections",
			 w->nconns);
		return -ENOMEM;
	}
	/* Slots go out lowest first: a small run touches little memory. */
	for (uint32_t i = w->nconns; i-- > 0;) {
		w->conns[i].next_free = w->free_head;
		w->free_head = i;
		w->conns[i].fd = -1;
	}
	/* The send arena is registered so SEND_ZC can use it as a fixed
	 * buffer; plain SEND does not need it. Best effort: without it
	 * --zc pins the pages of every send instead. */
	iov.iov_base = w->arena;
	iov.iov_len = (size_t)w->nconns * RUN_SLOT;
	ret = io_uring_register_buffers(&w->ring.uring, &iov, 1);
	if (o->zc) {
		if (!ring_has_op(&w->ring, IORING_OP_SEND_ZC) ||
		    !zc_usage_ok(&w->ring)) {
			snprintf(err, errlen, "--zc: this kernel's "
				 "IORING_OP_SEND_ZC cannot report copied sends "
				 "(Linux 6.2 or newer); run without --zc");
			return -EOPNOTSUPP;
		}
		w->zc = ret == 0 ? ZC_FIXED : ZC_PLAIN;
	}
	w->connect_ts.tv_sec = o->connect_timeout_ms / 1000;
	w->connect_ts.tv_nsec = (o->connect_timeout_ms % 1000) * 1000000;
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
	if (w->conns)
		for (uint32_t i = 0; i < w->nconns; i++)
			if (w->conns[i].fd >= 0)
				close(w->conns[i].fd);
	sc_free(w);
	ring_exit(&w->ring);
	pool_destroy(&w->in_pool);
	pool_destroy(&w->tok_pool);
	pool_destroy(&w->tls_pool);
	tw_free(&w->tw);
	free(w->conns);
	free(w->dirty);
	free(w->arena);
	free(w->rates);
	w->conns = NULL;
	w->dirty = NULL;
	w->arena = NULL;
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

static uint32_t slot_alloc(struct worker *w)
{
	uint32_t i = w->free_head;

	if (i != NIL)
		w->free_head = w->conns[i].next_free;
	return i;
}

static void slot_free(struct worker *w, uint32_t i)
{
	struct cconn *c = &w->conns[i];
	uint32_t gen = c->gen + 1;

	if (c->in)
		pool_put(&w->in_pool, c->in);
	if (c->tls) {
		if (!c->tls->up)
			w->tls_handshaking--;
		if (c->tls->cin)
			pool_put(&w->in_pool, c->tls->cin);
		pool_put(&w->tls_pool, c->tls);
	}
	memset(c, 0, sizeof(*c));
	c->gen = gen & 0xffffff;
	c->fd = -1;
	c->next_free = w->free_head;
	w->free_head = i;
}

static void mark_dirty(struct worker *w, struct cconn *c, uint32_t idx)
{
	if (c->flags & CF_DIRTY)
		return;
	c->flags |= CF_DIRTY;
	w->dirty[w->ndirty++] = idx;
}

/* The next source address of the pool, round robin. */
static uint32_t next_src(struct worker *w)
{
	const struct run_opts *o = w->o;
	uint64_t span = (uint64_t)o->src_hi - o->src_lo + 1;

	return o->src_lo + (uint32_t)(w->src_next++ % span);
}

/* see run.h */
uint32_t wk_connect(struct worker *w, int target, enum owner_kind kind,
		    uint32_t owner, char *why, size_t whylen)
{
	const struct run_target *t = &w->o->t[target];
	struct io_uring_sqe *sqe;
	struct cconn *c;
	uint32_t idx;
	int one = 1, fd;

	if (!t->addr_len) {
		snprintf(why, whylen, "connect: %s", t->resolve_err);
		return NIL;
	}
	idx = slot_alloc(w);
	if (idx == NIL) {
		snprintf(why, whylen, "connect: no free connection slot "
			 "(--max-conns %u per thread)", w->o->max_conns);
		return NIL;
	}
	c = &w->conns[idx];
	fd = socket(t->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(why, whylen, "connect: socket: %s", strerror(errno));
		slot_free(w, idx);
		return NIL;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (w->o->sndbuf)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &w->o->sndbuf,
			   sizeof(w->o->sndbuf));
	if (w->o->src_lo && t->addr.ss_family == AF_INET) {
		struct sockaddr_in a = { .sin_family = AF_INET };

		a.sin_addr.s_addr = htonl(next_src(w));
		/* The port is chosen at connect time, per destination, so
		 * each source address gives a full ephemeral range. */
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
			   sizeof(one));
		if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
			snprintf(why, whylen, "connect: bind to source address: "
				 "%s", strerror(errno));
			close(fd);
			slot_free(w, idx);
			return NIL;
		}
	}
	c->fd = fd;
	c->state = C_CONNECTING;
	c->kind = (uint8_t)kind;
	c->owner = owner;
	c->target = (uint8_t)target;
	sqe = ring_sqe(&w->ring);
	io_uring_prep_connect(sqe, fd, (const struct sockaddr *)&t->addr,
			      t->addr_len);
	io_uring_sqe_set_data64(sqe, ring_ud(OP_CONNECT, c->gen, idx));
	sqe->flags |= IOSQE_IO_LINK;
	sqe = ring_sqe(&w->ring);
	io_uring_prep_link_timeout(sqe, &w->connect_ts, 0);
	io_uring_sqe_set_data64(sqe, ring_ud(OP_LTIMEOUT, 0, 0));
	return idx;
}

/* see run.h */
uint8_t *wk_slot(struct worker *w, uint32_t idx, size_t *room)
{
	struct cconn *c = &w->conns[idx];

	*room = RUN_SLOT - c->out_len;
	return w->arena + (size_t)idx * RUN_SLOT + c->out_len;
}

/* see run.h */
void wk_commit(struct worker *w, uint32_t idx, size_t n, unsigned msgs)
{
	struct cconn *c = &w->conns[idx];

	c->out_len += (uint16_t)n;
	c->msgs_pending += (uint16_t)msgs;
	mark_dirty(w, c, idx);
}

static void finish_close(struct worker *w, uint32_t idx)
{
	struct cconn *c = &w->conns[idx];
	struct io_uring_sqe *sqe;

	if (c->state != C_CLOSING || (c->flags & (CF_RECV | CF_CLOSE)) ||
	    (c->flags & (CF_SEND | CF_ZCWAIT)) == CF_SEND)
		return;
	sqe = ring_sqe(&w->ring);
	io_uring_prep_close_direct(sqe, idx);
	io_uring_sqe_set_data64(sqe, ring_ud(OP_CLOSE, c->gen, idx));
	c->flags |= CF_CLOSE;
}

/* see run.h */
void wk_close(struct worker *w, uint32_t idx)
{
	struct cconn *c = &w->conns[idx];
	struct io_uring_sqe *sqe;

	if (c->state == C_FREE || c->state == C_CLOSING)
		return;
	c->kind = OWN_NONE;
	if (c->state == C_CONNECTING) {
		/* The connect completes with -ECANCELED and frees the slot. */
		sqe = ring_sqe(&w->ring);
		io_uring_prep_cancel64(sqe, ring_ud(OP_CONNECT, c->gen, idx), 0);
		io_uring_sqe_set_data64(sqe, ring_ud(OP_CANCEL, 0, 0));
		c->state = C_CLOSING;
		return;
	}
	c->state = C_CLOSING;
	/* By user_data, never by descriptor: see serve's net.c. */
	if (c->flags & CF_RECV) {
		sqe = ring_sqe(&w->ring);
		io_uring_prep_cancel64(sqe, ring_ud(OP_RECV, c->gen, idx), 0);
		io_uring_sqe_set_data64(sqe, ring_ud(OP_CANCEL, 0, 0));
	}
	if (c->flags & CF_SEND) {
		sqe = ring_sqe(&w->ring);
		io_uring_prep_cancel64(sqe, ring_ud(OP_SEND, c->gen, idx), 0);
		io_uring_sqe_set_data64(sqe, ring_ud(OP_CANCEL, 0, 0));
	}
	finish_close(w, idx);
}

static void arm_recv(struct worker *w, struct cconn *c, uint32_t idx)
{
	struct io_uring_sqe *sqe = ring_sqe(&w->ring);

	io_uring_prep_recv_multishot(sqe, (int)idx, NULL, 0, 0);
	sqe->flags |= IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
	sqe->buf_group = RING_BGID;
	io_uring_sqe_set_data64(sqe, ring_ud(OP_RECV, c->gen, idx));
	c->flags |= CF_RECV;
}

static void tls_kick(struct worker *w, struct cconn *c, uint32_t idx);

static void kick_send(struct worker *w, struct cconn *c, uint32_t idx)
{
	struct io_uring_sqe *sqe;
	uint8_t *p;
	size_t n;

	if (c->tls) {
		tls_kick(w, c, idx);
		return;
	}
	if ((c->flags & CF_SEND) || c->state != C_OPEN ||
	    c->out_off >= c->out_len)
		return;
	if (!c->inflight) {
		/* A new send takes everything encoded so far. */
		c->inflight = c->out_len;
		c->msgs_inflight = c->msgs_pending;
		c->msgs_pending = 0;
		if (c->msgs_inflight && c->kind != OWN_NONE)
			sc_submitted(w, c, idx, c->msgs_inflight);
	}
	sqe = ring_sqe(&w->ring);
	p = w->arena + (size_t)idx * RUN_SLOT + c->out_off;
	n = c->inflight - c->out_off;
	if (w->zc == ZC_FIXED)
		io_uring_prep_send_zc_fixed(sqe, (int)idx, p, n, MSG_NOSIGNAL,
					    IORING_SEND_ZC_REPORT_USAGE, 0);
	else if (w->zc == ZC_PLAIN)
		io_uring_prep_send_zc(sqe, (int)idx, p, n, MSG_NOSIGNAL,
				      IORING_SEND_ZC_REPORT_USAGE);
	else
		io_uring_prep_send(sqe, (int)idx, p, n, MSG_NOSIGNAL);
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, ring_ud(OP_SEND, c->gen, idx));
	c->flags |= CF_SEND;
	c->send_since = w->now_ns;
}

static void flush_dirty(struct worker *w)
{
	/* Sends are timed when they are handed over, not when the frames
	 * were encoded: the loop may have worked for a while in between. */
	if (w->ndirty)
		w->now_ns = clock_mono_ns();
	for (uint32_t i = 0; i < w->ndirty; i++) {
		uint32_t idx = w->dirty[i];
		struct cconn *c = &w->conns[idx];

		c->flags &= ~CF_DIRTY;
		kick_send(w, c, idx);
	}
	w->ndirty = 0;
}

static void conn_failed(struct worker *w, struct cconn *c, uint32_t idx,
			int err)
{
	if (c->kind != OWN_NONE)
		sc_closed(w, c, idx, err);
	wk_close(w, idx);
}

/* conn_failed with the cause in words (sc_closed reads w->close_cause). */
static void conn_failed_why(struct worker *w, struct cconn *c, uint32_t idx,
			    int err, const char *why)
{
	w->close_cause = why;
	conn_failed(w, c, idx, err);
	w->close_cause = NULL;
}

/* c's frames in flight are sent: count them, in the rate table and for
 * their participant; on a connection the scenario already closed (its
 * owner gone) they count as lost. */
static void credit(struct worker *w, struct cconn *c, uint32_t idx)
{
	w->c.sent += c->msgs_inflight;
	wk_rate(w, c->msgs_inflight);
	if (c->kind != OWN_NONE)
		sc_sent(w, c, idx, c->msgs_inflight);
	else
		w->c.lost += c->msgs_inflight;
	c->msgs_inflight = 0;
}

/* ---- TLS ---- */

static void tls_failed(struct worker *w, struct cconn *c, uint32_t idx)
{
	char why[200];

	snprintf(why, sizeof(why), "TLS%s: %s", c->tls->up ? "" : " handshake",
		 tls_error(&c->tls->t));
	conn_failed_why(w, c, idx, -EPROTO, why);
}

/* The TCP connection is up: start the handshake (the ClientHello leaves
 * with the next flush). Returns 0, or -1 after failing the connection. */
static int tls_start(struct worker *w, struct cconn *c, uint32_t idx)
{
	const struct run_target *t = &w->o->t[c->target];
	struct wtls *x = pool_get(&w->tls_pool);
	char host[256];

	if (!x) {
		conn_failed_why(w, c, idx, -ENOMEM, "TLS: out of memory");
		return -1;
	}
	x->since = w->now_ns;
	x->cin = NULL;
	x->cin_len = 0;
	x->up = 0;
	c->tls = x;
	w->tls_handshaking++;
	snprintf(host, sizeof(host), "%.*s", (int)t->u.host_len, t->u.host);
	if (tls_init(&x->t, &w->o->tas, host, w->o->insecure,
		     &w->tls_sess[c->target]) < 0) {
		tls_failed(w, c, idx);
		return -1;
	}
	mark_dirty(w, c, idx);
	return 0;
}

static void on_plain(struct worker *w, struct cconn *c, uint32_t idx,
		     uint8_t *data, size_t n);

/* The handshake just completed: count it, hand the connection to the
 * scenario. Returns 0, or -1 when the connection is no longer open. */
static int tls_check_up(struct worker *w, struct cconn *c, uint32_t idx)
{
	struct wtls *x = c->tls;

	if (x->up || tls_state(&x->t) != TLS_OPEN)
		return 0;
	x->up = 1;
	w->tls_handshaking--;
	w->c.tls_handshakes++;
	w->c.tls_resumed += (uint64_t)tls_resumed(&x->t);
	if (c->kind != OWN_NONE)
		sc_connected(w, c, idx);
	return c->state == C_OPEN ? 0 : -1;
}

/*
 * Ciphertext from the wire through the engine; the plaintext goes to
 * on_plain. Returns the bytes the engine took: fewer than n when it
 * cannot read on before it has written (its output is on the wire), or
 * when the connection ended.
 */
static size_t tls_feed(struct worker *w, struct cconn *c, uint32_t idx,
		       const uint8_t *data, size_t n)
{
	struct wtls *x = c->tls;
	size_t took = 0;

	for (;;) {
		size_t k = tls_cipher_in(&x->t, data + took, n - took), m;
		uint8_t *p;

		took += k;
		if (tls_check_up(w, c, idx) < 0)
			return n;
		m = tls_plain_out(&x->t, &p);
		if (m) {
			on_plain(w, c, idx, p, m);
			if (c->state != C_OPEN)
				return n;
			tls_plain_out_done(&x->t, m);
			continue;
		}
		if (tls_state(&x->t) == TLS_FAILED) {
			tls_failed(w, c, idx);
			return n;
		}
		if (tls_state(&x->t) == TLS_CLOSED) {
			conn_failed_why(w, c, idx, -ECONNRESET,
					"the server closed the TLS session");
			return n;
		}
		if (took == n || k == 0)
			break;
	}
	/* Handshake records, alerts: the engine may have output now. */
	mark_dirty(w, c, idx);
	return took;
}

/* Received bytes of a TLS connection, after what waited before them. */
static void tls_input(struct worker *w, struct cconn *c, uint32_t idx,
		      const uint8_t *data, size_t n)
{
	struct wtls *x = c->tls;
	size_t took;

	if (x->cin) {
		if (x->cin_len + n > IN_BLOCK) {
			wk_error(w, RE_RECV, "receive: TLS input over %u bytes "
				 "waiting (%s)", IN_BLOCK,
				 w->o->t[c->target].url);
			conn_failed(w, c, idx, -EMSGSIZE);
			return;
		}
		if (n)
			memcpy(x->cin + x->cin_len, data, n);
		x->cin_len += (uint32_t)n;
		data = x->cin;
		n = x->cin_len;
	}
	took = tls_feed(w, c, idx, data, n);
	if (c->state != C_OPEN)
		return;
	if (x->cin) {
		memmove(x->cin, x->cin + took, n - took);
		x->cin_len = (uint32_t)(n - took);
		if (!x->cin_len) {
			pool_put(&w->in_pool, x->cin);
			x->cin = NULL;
		}
	} else if (took < n) {
		x->cin = pool_get(&w->in_pool);
		if (!x->cin) {
			wk_error(w, RE_RECV, "receive: out of input buffers");
			conn_failed(w, c, idx, -ENOMEM);
			return;
		}
		memcpy(x->cin, data + took, n - took);
		x->cin_len = (uint32_t)(n - took);
	}
}

/* The flush of a TLS connection: plaintext from the slot into the
 * engine, the engine's records onto the wire. */
static void tls_kick(struct worker *w, struct cconn *c, uint32_t idx)
{
	struct wtls *x = c->tls;
	struct io_uring_sqe *sqe;
	const uint8_t *p;
	size_t n;

	if ((c->flags & CF_SEND) || c->state != C_OPEN)
		return;
	if (c->out_len && x->up) {
		uint8_t *slot = w->arena + (size_t)idx * RUN_SLOT;
		size_t k = tls_plain_in(&x->t, slot, c->out_len);

		memmove(slot, slot + k, c->out_len - k);
		c->out_len -= (uint16_t)k;
		/* Frames count as sent once their records are: credited in
		 * on_send when the engine's output is empty. */
		if (!c->out_len && c->msgs_pending) {
			if (c->kind != OWN_NONE)
				sc_submitted(w, c, idx, c->msgs_pending);
			c->msgs_inflight += c->msgs_pending;
			c->msgs_pending = 0;
		}
	}
	n = tls_cipher_out(&x->t, &p);
	if (!n)
		return;
	sqe = ring_sqe(&w->ring);
	io_uring_prep_send(sqe, (int)idx, p, n, MSG_NOSIGNAL);
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, ring_ud(OP_SEND, c->gen, idx));
	c->flags |= CF_SEND;
	c->send_since = w->now_ns;
}

static void tls_sent(struct worker *w, struct cconn *c, uint32_t idx, int res)
{
	struct wtls *x = c->tls;
	const uint8_t *p;

	tls_cipher_out_done(&x->t, (size_t)res);
	/* A resumed handshake ends with our Finished on the wire. */
	if (tls_check_up(w, c, idx) < 0)
		return;
	if (!tls_cipher_out(&x->t, &p) && c->msgs_inflight)
		credit(w, c, idx);
	/* With its output on the wire the engine reads on. */
	if (x->cin_len) {
		tls_input(w, c, idx, NULL, 0);
		if (c->state != C_OPEN)
			return;
	}
	if (x->up && c->kind != OWN_NONE)
		sc_writable(w, c, idx);
	mark_dirty(w, c, idx);
}

static void on_connect(struct worker *w, struct cconn *c, uint32_t idx,
		       int res)
{
	int fd = c->fd;

	if (c->state == C_CLOSING || res < 0) {
		int was_closing = c->state == C_CLOSING;

		close(fd);
		c->fd = -1;
		if (!was_closing && c->kind != OWN_NONE)
			sc_closed(w, c, idx, res == -ECANCELED ? -ETIMEDOUT : res);
		slot_free(w, idx);
		return;
	}
	{
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);

		if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
			if (ss.ss_family == AF_INET) {
				struct sockaddr_in *a = (struct sockaddr_in *)&ss;

				memcpy(c->local, &a->sin_addr, 4);
				memcpy(c->local + 16, &a->sin_port, 2);
				c->local_v6 = 0;
			} else {
				struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

				memcpy(c->local, &a->sin6_addr, 16);
				memcpy(c->local + 16, &a->sin6_port, 2);
				c->local_v6 = 1;
			}
		}
	}
	/* Move the socket into the ring's table; from here on it costs no
	 * process descriptor. */
	res = io_uring_register_files_update(&w->ring.uring, idx, &fd, 1);
	close(fd);
	c->fd = -1;
	if (res < 0) {
		int e = res;

		if (c->kind != OWN_NONE)
			sc_closed(w, c, idx, e);
		slot_free(w, idx);
		return;
	}
	c->state = C_OPEN;
	arm_recv(w, c, idx);
	if (w->o->t[c->target].u.tls) {
		tls_start(w, c, idx); /* sc_connected after the handshake */
		return;
	}
	sc_connected(w, c, idx);
}

static void on_plain(struct worker *w, struct cconn *c, uint32_t idx,
		     uint8_t *data, size_t n)
{
	size_t off = 0;

	if (c->in) {
		if (c->in_len + n > IN_BLOCK) {
			wk_error(w, RE_PROTOCOL, "receive: message over %u "
				 "bytes (%s)", IN_BLOCK, w->o->t[c->target].url);
			conn_failed(w, c, idx, -EMSGSIZE);
			return;
		}
		memcpy(c->in + c->in_len, data, n);
		c->in_len += (uint32_t)n;
		data = c->in;
		n = c->in_len;
	}
	while (off < n && c->state == C_OPEN && c->kind != OWN_NONE) {
		long r = sc_input(w, c, idx, data + off, n - off);

		if (r < 0) {
			wk_close(w, idx);
			return;
		}
		if (r == 0)
			break;
		off += (size_t)r;
	}
	if (c->state != C_OPEN)
		return;
	if (c->in) {
		memmove(c->in, c->in + off, n - off);
		c->in_len = (uint32_t)(n - off);
		if (!c->in_len) {
			pool_put(&w->in_pool, c->in);
			c->in = NULL;
		}
	} else if (off < n) {
		c->in = pool_get(&w->in_pool);
		if (!c->in) {
			wk_error(w, RE_RECV, "receive: out of input buffers");
			conn_failed(w, c, idx, -ENOMEM);
			return;
		}
		memcpy(c->in, data + off, n - off);
		c->in_len = (uint32_t)(n - off);
	}
}

static void on_recv(struct worker *w, struct cconn *c, uint32_t idx,
		    struct io_uring_cqe *cqe)
{
	int more = cqe->flags & IORING_CQE_F_MORE;

	if (!more)
		c->flags &= ~CF_RECV;
	if (cqe->res > 0 && (cqe->flags & IORING_CQE_F_BUFFER)) {
		unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;

		if (c->state == C_OPEN && c->tls)
			tls_input(w, c, idx, ring_buf(&w->ring, bid),
				  (size_t)cqe->res);
		else if (c->state == C_OPEN)
			on_plain(w, c, idx, ring_buf(&w->ring, bid),
				 (size_t)cqe->res);
		ring_buf_return(&w->ring, bid);
	} else if (cqe->res == -ENOBUFS) {
		w->c.enobufs++;
	} else if (cqe->res <= 0 && c->state == C_OPEN) {
		conn_failed_why(w, c, idx, cqe->res ? cqe->res : -ECONNRESET,
				c->tls && !c->tls->up ? (cqe->res ?
				"TLS handshake: connection reset" :
				"TLS handshake: the server closed the "
				"connection") : NULL);
	}
	if (c->state == C_CLOSING)
		finish_close(w, idx);
	else if (c->state == C_OPEN && !(c->flags & CF_RECV))
		arm_recv(w, c, idx);
}

/* The frames of the send in flight count as sent once the kernel took
 * all of their bytes. */
static void send_credit(struct worker *w, struct cconn *c, uint32_t idx)
{
	if (c->out_off >= c->inflight && c->msgs_inflight)
		credit(w, c, idx);
}

/* The bytes of the send in flight are sent and the slot is ours again. */
static void send_done(struct worker *w, struct cconn *c, uint32_t idx)
{
	uint8_t *slot = w->arena + (size_t)idx * RUN_SLOT;

	if (c->out_off < c->inflight) {
		kick_send(w, c, idx); /* short send: the rest, same frames */
		return;
	}
	send_credit(w, c, idx);
	/* Move what was encoded meanwhile to the front of the slot. */
	memmove(slot, slot + c->inflight, c->out_len - c->inflight);
	c->out_len -= c->inflight;
	c->out_off = 0;
	c->inflight = 0;
	if (c->kind != OWN_NONE)
		sc_writable(w, c, idx);
	if (c->out_len)
		mark_dirty(w, c, idx);
}

static void on_send(struct worker *w, struct cconn *c, uint32_t idx, int res)
{
	c->flags &= ~CF_SEND;
	if (c->state != C_OPEN) {
		/* Frames the kernel took before the close was asked for are
		 * sent (the server may read them): they count, as lost. */
		if (res > 0 && !c->tls) {
			c->out_off += (uint16_t)res;
			send_credit(w, c, idx);
		}
		finish_close(w, idx);
		return;
	}
	if (res <= 0) {
		conn_failed(w, c, idx, res ? res : -EPIPE);
		return;
	}
	if (c->tls) {
		tls_sent(w, c, idx, res);
		return;
	}
	c->out_off += (uint16_t)res;
	send_done(w, c, idx);
}

/*
 * A SEND_ZC posts two completions: the result (IORING_CQE_F_MORE when a
 * notification follows) and the notification, once the kernel no longer
 * reads the slot. The result is taken at once, and the frames count as
 * sent then (the server may read them before the notification comes);
 * the slot is reused, and a close may go ahead, only after it.
 */
static void on_send_zc(struct worker *w, struct cconn *c, uint32_t idx,
		       const struct io_uring_cqe *cqe)
{
	if (cqe->flags & IORING_CQE_F_NOTIF) {
		w->c.zc_sends++;
		if (cqe->res & IORING_NOTIF_USAGE_ZC_COPIED)
			w->c.zc_copied++;
		c->flags &= ~(CF_SEND | CF_ZCWAIT);
		if (c->flags & CF_CLOSED)
			slot_free(w, idx);
		else if (c->state != C_OPEN)
			finish_close(w, idx);
		else
			send_done(w, c, idx);
		return;
	}
	if (!(cqe->flags & IORING_CQE_F_MORE)) {
		on_send(w, c, idx, cqe->res);  /* no notification follows */
		return;
	}
	c->flags |= CF_ZCWAIT;
	if (c->state != C_OPEN) {
		if (cqe->res > 0) { /* taken before the close: lost */
			c->out_off += (uint16_t)cqe->res;
			send_credit(w, c, idx);
		}
		return;
	}
	if (cqe->res <= 0) {
		conn_failed(w, c, idx, cqe->res ? cqe->res : -EPIPE);
		return;
	}
	c->out_off += (uint16_t)cqe->res;
	send_credit(w, c, idx);
}

static void handle_cqe(struct worker *w, struct io_uring_cqe *cqe)
{
	uint64_t ud = io_uring_cqe_get_data64(cqe);
	unsigned op = ring_ud_op(ud);
	uint32_t idx = ring_ud_idx(ud);
	struct cconn *c;

	if (op == OP_LTIMEOUT || op == OP_CANCEL ||
	    idx >= w->nconns)
		return;
	c = &w->conns[idx];
	if (c->gen != ring_ud_gen(ud) || c->state == C_FREE) {
		if (cqe->flags & IORING_CQE_F_BUFFER)
			ring_buf_return(&w->ring,
					cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		return;
	}
	switch (op) {
	case OP_CONNECT:
		on_connect(w, c, idx, cqe->res);
		break;
	case OP_RECV:
		on_recv(w, c, idx, cqe);
		break;
	case OP_SEND:
		if (w->zc && !c->tls)
			on_send_zc(w, c, idx, cqe);
		else
			on_send(w, c, idx, cqe->res);
		break;
	case OP_CLOSE:
		if (c->flags & CF_ZCWAIT)
			c->flags |= CF_CLOSED; /* on_send_zc frees it */
		else
			slot_free(w, idx);
		break;
	default:
		break;
	}
}

static void on_timer(void *ctx, struct tw_node *n);

/*
 * Sends the server has not taken for --send-timeout: it stopped reading.
 * A scan once a second; a send normally completes in microseconds.
 */
static void sweep_stalled(struct worker *w)
{
	int64_t limit = w->o->send_timeout_ms * 1000000;
	int64_t hs_limit = w->o->connect_timeout_ms * 1000000;

	for (uint32_t i = 0; i < w->nconns; i++) {
		struct cconn *c = &w->conns[i];

		if (c->state == C_OPEN && (c->flags & CF_SEND) &&
		    w->now_ns - c->send_since >= limit && c->kind != OWN_NONE) {
			sc_send_stalled(w, c, i);
			wk_close(w, i);
		} else if (c->state == C_OPEN && c->tls && !c->tls->up &&
			   c->kind != OWN_NONE &&
			   w->now_ns - c->tls->since >= hs_limit) {
			char why[96];

			snprintf(why, sizeof(why), "TLS handshake: no answer "
				 "within %gs (--connect-timeout)",
				 (double)w->o->connect_timeout_ms / 1000);
			conn_failed_why(w, c, i, -ETIMEDOUT, why);
		}
	}
}

/* Pending sends, for the drain at the end. */
static int sends_pending(const struct worker *w)
{
	for (uint32_t i = 0; i < w->nconns; i++) {
		const struct cconn *c = &w->conns[i];

		if (c->state == C_OPEN && (c->out_off < c->out_len ||
					   (c->tls && (c->flags & CF_SEND))))
			return 1;
	}
	return 0;
}

/* see run.h */
void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct run *r = w->run;
	int64_t drain_deadline = 0;
	int ok = worker_init(w, w->o, w->id, w->init_err,
			     sizeof(w->init_err)) == 0;

	if (!ok && !w->init_err[0])
		snprintf(w->init_err, sizeof(w->init_err), "worker setup failed");
	pthread_barrier_wait(&r->ready);  /* report */
	pthread_barrier_wait(&r->ready);  /* everyone has looked */
	if (!ok || run_stopping(r))
		return NULL;
	w->now_ns = clock_mono_ns();
	sc_start(w);
	while (!w->stopped) {
		struct __kernel_timespec ts;
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;
		uint64_t wait;
		int ret;

		flush_dirty(w);
		ring_bufs_publish(&w->ring);
		/* Wake on the boundary of the next tick that holds a timer
		 * (at most 50 ms away), to the nanosecond. The drain runs no
		 * timers: it looks again every 10 ms until its deadline. */
		if (w->draining) {
			int64_t left = drain_deadline - clock_mono_ns();

			wait = left <= 0 ? 0 : left < 10000000 ? (uint64_t)left :
			       10000000;
		} else {
			/* --timer-slack: wake that much after the first due
			 * timer, so the timers of the window share one wake. */
			wait = (uint64_t)run_tick_wait(w->t0_ns, w->tw.now +
				tw_next(&w->tw, WAIT_TICKS), clock_mono_ns()) +
			       (uint64_t)w->o->timer_slack_ns;
		}
		ts.tv_sec = (long long)(wait / 1000000000);
		ts.tv_nsec = (long long)(wait % 1000000000);
		ret = ring_wait(&w->ring, &cqe, &ts);
		if (ret < 0 && ret != -ETIME && ret != -EINTR &&
		    ret != -EAGAIN && ret != -EBUSY) {
			wk_error(w, RE_RECV, "io_uring wait: %s", strerror(-ret));
			break;
		}
		w->now_ns = clock_mono_ns();
		io_uring_for_each_cqe(&w->ring.uring, head, cqe) {
			handle_cqe(w, cqe);
			n++;
		}
		io_uring_cq_advance(&w->ring.uring, n);
		/* Timers see the time they fire at, not the time the batch
		 * of completions above began. */
		w->now_ns = clock_mono_ns();
		if (!w->draining)
			tw_advance(&w->tw, run_tick_now(w->t0_ns, w->now_ns),
				   on_timer, w);
		if (!w->draining && w->now_ns >= w->next_sweep_ns) {
			sweep_stalled(w);
			/* TLS handshake deadlines want a finer check than
			 * send stalls, while there are handshakes. */
			w->next_sweep_ns = w->now_ns + (w->tls_handshaking ?
				100000000LL : 1000000000LL);
		}
		if (!w->draining && run_stopping(r)) {
			w->draining = 1;
			sc_drain(w);
			/* No new messages from here. Give those already
			 * encoded a bounded time to go and to come back, so
			 * the end of a run does not count messages in flight
			 * as lost; short after a signal, which wants the files
			 * fast. */
			drain_deadline = w->now_ns +
				(r->stop_reason == STOP_SIGNAL ? 200000000LL :
								 2000000000LL);
		}
		if (w->draining) {
			flush_dirty(w);
			/* Done when every echo that can still come has:
			 * nothing left to send, nothing in flight on an open
			 * connection (a lost message is not waited for). */
			if ((!sends_pending(w) && (w->c.delivered >= w->c.sent ||
						   !sc_in_flight(w))) ||
			    w->now_ns >= drain_deadline)
				w->stopped = 1;
		}
	}
	io_uring_submit(&w->ring.uring);
	sc_account(w);
	return NULL;
}

/* Timers are owned by scenario.c; the wheel only needs a dispatcher. */
static void on_timer(void *ctx, struct tw_node *n)
{
	sc_timer(ctx, n);
}
