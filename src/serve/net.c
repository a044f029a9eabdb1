/*
 * net: serve's listeners, connections and event loop on one thread and one
 * or more io_urings. See serve.h.
 *
 * IMPLEMENTATION NOTES
 * - Listeners are ordinary sockets with accepts that install each new
 *   connection straight into a ring's direct-descriptor table; the index
 *   the kernel picks is the connection's slot in that ring. Connections
 *   use no process descriptor, but a ring's table may hold at most
 *   RLIMIT_NOFILE entries (registering more fails with EMFILE; 20,000 and
 *   not raisable on our machines). So --max-conns N takes
 *   ceil(N / per_ring) rings, per_ring = min(N, RLIMIT_NOFILE) after the
 *   soft limit is raised to the hard one; connection i lives in ring
 *   i / per_ring at index i % per_ring, and every operation on it goes to
 *   that ring. Each ring has its own provided-buffer ring (the pool of
 *   --nbufs is split between them, at least 256 each).
 * - Accepting into several tables. When a table is full, an accept direct
 *   with IORING_FILE_INDEX_ALLOC still takes the connection off the listen
 *   queue, fails with -ENFILE and closes it (the peer sees EOF or a reset;
 *   tested on 6.18, single and multishot alike): an accept must never run
 *   in a ring that may be full while another has room. With one ring
 *   (--max-conns <= per_ring) each listener keeps one multishot accept,
 *   and -ENFILE is the connection limit, as before. With several, each
 *   listener keeps acc_depth single accepts armed (ACCEPT_DEPTH, less for
 *   tiny tables), and each holds an entry of its ring until it completes
 *   (rings[r].pend): used + pend <= cap, so no single accept can find its
 *   table full. They go to the lowest ring with an unclaimed entry, so
 *   rings fill in order. A listener that finds no unclaimed entry anywhere
 *   (fewer than NPORTS * acc_depth left in all) falls back to one
 *   multishot accept in the ring with the most free entries; it may take
 *   entries claimed by other listeners' accepts, which then fail with
 *   -ENFILE. Near the limit that is first come, first served, and a
 *   connection may be refused up to NPORTS * acc_depth early (claims idle
 *   in another ring). When an entry is freed, the multishot is cancelled
 *   (by user_data) and single accepts take over again.
 * - Waiting on several rings. All rings are set up alike (DEFER_TASKRUN
 *   when the kernel has it). A DEFER_TASKRUN ring runs its completions only
 *   when its owner enters it, so a thread asleep in ring 0 would never see
 *   ring 1's; but queueing that work sets IORING_SQ_TASKRUN in ring 1's SQ
 *   flags and signals an eventfd registered on it (tested on 6.18). Rings
 *   1.. share one eventfd, and ring 0 keeps a read of it armed: the read
 *   completes, ring 0's wait returns. Each iteration enters only the rings
 *   that have SQEs or whose flags say they have work (submit and get
 *   events), reaps every ring, and sleeps in ring 0 only when no other
 *   ring holds unread completions. COOP_TASKRUN for rings 1.. would run
 *   their completions at any kernel exit instead (no get_events, but a
 *   task_work wake-up each, interleaved with whatever the thread does).
 *   Measured with bench/serve.sh (256 chats, 9 rings of 70 under a
 *   lowered RLIMIT_NOFILE; messages per serve CPU-second, two interleaved
 *   rounds): DEFER 230k/220k, COOP 219k/158k, one ring 233k/154k, on a
 *   shared 2-CPU machine whose noise is larger than any difference. So
 *   every ring keeps DEFER_TASKRUN: one set of rules.
 * - Timers, the dirty list and the send vectors are shared by all rings;
 *   the vectors are reset only after every ring has submitted.
 * - Each connection has one multishot recv on its ring's provided-buffer
 *   ring. Input is parsed in the provided buffer when it holds whole
 *   messages; only a trailing partial message is copied to a per-connection
 *   block, and only until it completes.
 * - Output is appended to the connection's outq and the connection is put
 *   on the dirty list; after each batch of completions every dirty
 *   connection without a send in flight gets one send of everything queued
 *   (up to SEND_IOV blocks, vectored). Frames produced while a send is in
 *   flight leave with the next one.
 * - Closing: cancel the recv and send by user_data, then, once neither is
 *   outstanding, close_direct. The kernel may hand the index to a new
 *   connection as soon as the close is done, possibly before its
 *   completion reaches us: on_accept recognises that case (a ring's
 *   indexes map to connections of that ring only, so the check holds per
 *   ring), and the entry stays counted in rings[r].used throughout.
 */
#include "serve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* OP_ACCEPT: multishot; OP_ACCEPT1: single accept (user_data gen = ring,
 * idx = port); OP_WAKE: ring 0's read of the eventfd. */
enum { OP_ACCEPT = 1, OP_RECV, OP_SEND, OP_CANCEL, OP_CLOSE, OP_ACCEPT1,
       OP_WAKE };

#define OUT_BLOCK 16384
/* Blocks one send may take: a connection that receives a copy of every
 * message (an organizer) drains up to 256 KiB per completion. */
#define SEND_IOV 16
#define SEND_VECS 512
/* Single accepts armed per listener with several rings: enough to take a
 * burst of connections per loop iteration; at most 1/64 of a table, since
 * near the limit they may keep entries from the other listeners. */
#define ACCEPT_DEPTH 32
/* More rings than this is a mistake in the limits, not a plan. */
#define MAX_RINGS 1024

/*
 * A vectored send's msghdr and iovecs need to live only until the SQE is
 * submitted (IORING_FEAT_SUBMIT_STABLE): they come from this scratch
 * array, reset after every submit.
 */
struct send_vec {
	struct msghdr mh;
	struct iovec iov[SEND_IOV];
};

/* The ring a connection lives in. */
static inline struct serve_ring *conn_ring(const struct serve *s,
					   uint32_t idx)
{
	return &s->rings[idx / s->per_ring];
}

/* Entries of a ring neither held nor claimed by an armed single accept
 * (negative when a multishot took claimed ones). */
static int64_t ring_room(const struct serve_ring *sr)
{
	return (int64_t)sr->cap - sr->used - sr->pend;
}

static void arm_accept_multi(struct serve *s, uint32_t ri, int port)
{
	struct io_uring_sqe *sqe = ring_sqe(s->rings[ri].ring);

	io_uring_prep_multishot_accept_direct(sqe, s->lfd[port], NULL, NULL, 0);
	io_uring_sqe_set_data64(sqe, ring_ud(OP_ACCEPT, ri, (uint32_t)port));
	s->acc_multi[port] = (int32_t)ri;
}

static void arm_accept_one(struct serve *s, uint32_t ri, int port)
{
	struct io_uring_sqe *sqe = ring_sqe(s->rings[ri].ring);

	/* liburing 2.3 encodes IORING_FILE_INDEX_ALLOC wrongly here (as 0, a
	 * plain accept); ALLOC - 1 is what it stores after its "+ 1". */
	io_uring_prep_accept_direct(sqe, s->lfd[port], NULL, NULL, 0,
				    IORING_FILE_INDEX_ALLOC - 1);
	io_uring_sqe_set_data64(sqe, ring_ud(OP_ACCEPT1, ri, (uint32_t)port));
	s->rings[ri].pend++;
	s->acc_pend[port]++;
}

/*
 * Keep a listener accepting (see IMPLEMENTATION NOTES): single accepts in
 * the lowest rings with unclaimed entries, else one multishot accept.
 */
static void accept_fill(struct serve *s, int port)
{
	uint32_t ri = 0, best = 0;

	if (s->nrings > 1) {
		while (s->acc_pend[port] < s->acc_depth) {
			while (ri < s->nrings && ring_room(&s->rings[ri]) <= 0)
				ri++;
			if (ri == s->nrings)
				break;
			arm_accept_one(s, ri, port);
		}
		if (s->acc_pend[port]) {
			int32_t m = s->acc_multi[port];

			if (m >= 0 && !(s->acc_cancel & 1u << port)) {
				struct io_uring_sqe *sqe =
					ring_sqe(s->rings[m].ring);

				io_uring_prep_cancel64(sqe, ring_ud(OP_ACCEPT,
					(uint32_t)m, (uint32_t)port), 0);
				io_uring_sqe_set_data64(sqe,
					ring_ud(OP_CANCEL, 0, 0));
				s->acc_cancel |= (uint8_t)(1u << port);
			}
			return;
		}
	}
	/* One multishot at a time: a cancelled one is replaced only after
	 * its last completion. */
	if (s->acc_multi[port] >= 0)
		return;
	for (ri = 1; ri < s->nrings; ri++)
		if (s->rings[ri].cap - s->rings[ri].used >
		    s->rings[best].cap - s->rings[best].used)
			best = ri;
	arm_accept_multi(s, best, port);
}

static void arm_recv(struct serve *s, struct conn *c)
{
	uint32_t idx = conn_idx(s, c);
	struct serve_ring *sr = conn_ring(s, idx);
	struct io_uring_sqe *sqe = ring_sqe(sr->ring);

	io_uring_prep_recv_multishot(sqe, (int)(idx - sr->base), NULL, 0, 0);
	sqe->flags |= IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
	sqe->buf_group = RING_BGID;
	io_uring_sqe_set_data64(sqe, ring_ud(OP_RECV, c->gen, idx));
	c->flags |= CF_RECV;
}

static void mark_dirty(struct serve *s, struct conn *c)
{
	if (c->flags & CF_DIRTY)
		return;
	c->flags |= CF_DIRTY;
	s->dirty[s->ndirty++] = conn_idx(s, c);
}

static void set_timer(struct serve *s, struct conn *c, uint64_t ms)
{
	tw_del(&s->tw, &c->timer);
	tw_add(&s->tw, &c->timer, s->now_ms + ms);
}

static void free_input(struct serve *s, struct conn *c)
{
	if (c->in)
		pool_put(&s->in_pool, c->in);
	if (c->msg.buf)
		pool_put(&s->in_pool, c->msg.buf);
	c->in = NULL;
	c->in_len = 0;
	memset(&c->msg, 0, sizeof(c->msg));
}

static void state_count(struct serve *s, struct conn *c, int delta)
{
	int k = -1;

	if (c->state == CS_HTTP)
		k = 0;
	else if (c->state == CS_WS_AUTH)
		k = 1;
	else if (c->state == CS_WS)
		k = c->role == ROLE_ORG ? 2 : 3;
	if (k >= 0)
		s->stats.conns[k] += (uint32_t)delta;
}

static void maybe_finish_close(struct serve *s, struct conn *c)
{
	struct io_uring_sqe *sqe;
	uint32_t idx = conn_idx(s, c);
	struct serve_ring *sr = conn_ring(s, idx);

	if (c->state != CS_CLOSING || (c->flags & (CF_RECV | CF_SEND | CF_CLOSE)))
		return;
	outq_clear(&c->out, &s->out_pool);
	sqe = ring_sqe(sr->ring);
	io_uring_prep_close_direct(sqe, idx - sr->base);
	io_uring_sqe_set_data64(sqe, ring_ud(OP_CLOSE, c->gen, idx));
	c->flags |= CF_CLOSE;
}

/* see serve.h */
void conn_close(struct serve *s, struct conn *c)
{
	struct io_uring_sqe *sqe;
	uint32_t idx = conn_idx(s, c);
	struct ring *r = conn_ring(s, idx)->ring;

	if (c->state == CS_CLOSING || c->state == CS_FREE)
		return;
	if (c->role != ROLE_NONE)
		msgr_detach(s, c);
	state_count(s, c, -1);
	c->state = CS_CLOSING;
	tw_del(&s->tw, &c->timer);
	free_input(s, c);
	/* Cancel by user_data, never by descriptor: a cancel or shutdown
	 * addressed to the table index could run after the index has been
	 * given to the next connection (shutdown always goes through the
	 * io-wq). close_direct then drops the socket; the peer sees FIN
	 * when the last request holding it completes. The cancel goes to the
	 * connection's ring: a cancel finds requests of its own ring only. */
	if (c->flags & CF_RECV) {
		sqe = ring_sqe(r);
		io_uring_prep_cancel64(sqe, ring_ud(OP_RECV, c->gen, idx), 0);
		io_uring_sqe_set_data64(sqe, ring_ud(OP_CANCEL, 0, 0));
	}
	if (c->flags & CF_SEND) {
		sqe = ring_sqe(r);
		io_uring_prep_cancel64(sqe, ring_ud(OP_SEND, c->gen, idx), 0);
		io_uring_sqe_set_data64(sqe, ring_ud(OP_CANCEL, 0, 0));
	}
	c->flags |= CF_SHUTDOWN;
	maybe_finish_close(s, c);
}

/* see serve.h */
void conn_linger(struct serve *s, struct conn *c)
{
	if (c->state == CS_CLOSING || c->state == CS_FREE)
		return;
	c->flags |= CF_LINGER;
	mark_dirty(s, c);
}

/* see serve.h */
int conn_write(struct serve *s, struct conn *c, const void *p, size_t n,
	       int bounded)
{
	int ret;

	if (c->state == CS_CLOSING || c->state == CS_FREE ||
	    (c->flags & CF_LINGER))
		return -EPIPE;
	/* The limit bounds the backlog; one frame larger than it still
	 * goes out when nothing is queued. */
	ret = outq_append(&c->out, &s->out_pool, p, n,
			  !bounded ? SIZE_MAX :
			  n > s->o.out_limit ? n : s->o.out_limit);
	if (ret == 0) {
		s->stats.frames_out += c->state != CS_HTTP;
		mark_dirty(s, c);
		return 0;
	}
	s->stats.frames_dropped++;
	if (ret == -ENOMEM)
		s->stats.err[E_NO_MEMORY]++;
	if (s->o.slow_close || ret == -ENOMEM) {
		s->stats.err[E_SLOW_CLOSED] += ret == -ENOBUFS;
		conn_close(s, c);
	}
	return -ENOBUFS;
}

/* Submit every ring's pending SQEs (no waiting). */
static void submit_all(struct serve *s)
{
	for (uint32_t ri = 0; ri < s->nrings; ri++) {
		struct io_uring *u = &s->rings[ri].ring->uring;

		if (io_uring_sq_ready(u))
			io_uring_submit(u);
	}
}

static void kick_send(struct serve *s, struct conn *c)
{
	struct io_uring_sqe *sqe;
	struct send_vec *v;
	size_t n;
	int k;
	uint32_t idx = conn_idx(s, c);
	struct serve_ring *sr = conn_ring(s, idx);
	int slot = (int)(idx - sr->base);

	if ((c->flags & CF_SEND) || c->state == CS_CLOSING ||
	    c->state == CS_FREE)
		return;
	if (!c->out.bytes) {
		if (c->flags & CF_LINGER)
			conn_close(s, c);
		return;
	}
	if (s->nsv == SEND_VECS) {
		/* The vectors may be queued in any ring. */
		submit_all(s);
		s->nsv = 0;
	}
	v = &s->sv[s->nsv];
	k = outq_peekv(&c->out, v->iov, SEND_IOV, &n);
	sqe = ring_sqe(sr->ring);
	if (k == 1) {
		io_uring_prep_send(sqe, slot, v->iov[0].iov_base, n,
				   MSG_NOSIGNAL);
	} else {
		memset(&v->mh, 0, sizeof(v->mh));
		v->mh.msg_iov = v->iov;
		v->mh.msg_iovlen = (size_t)k;
		io_uring_prep_sendmsg(sqe, slot, &v->mh, MSG_NOSIGNAL);
		s->nsv++;
	}
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, ring_ud(OP_SEND, c->gen, idx));
	c->flags |= CF_SEND;
}

static void flush_dirty(struct serve *s)
{
	/* kick_send may close connections, which never adds to the list. */
	for (uint32_t i = 0; i < s->ndirty; i++) {
		struct conn *c = &s->conns[s->dirty[i]];

		c->flags &= ~CF_DIRTY;
		kick_send(s, c);
	}
	s->ndirty = 0;
}

/*
 * Feed input to the connection's protocol handler. data is either a
 * provided buffer or the connection's own block; what is left unparsed is
 * kept in the block.
 */
static void conn_input(struct serve *s, struct conn *c, uint8_t *data,
		       size_t n)
{
	size_t off = 0;

	s->stats.bytes_in += n;
	if (c->flags & CF_LINGER)
		return; /* answered and closing: the rest is not read */
	if (c->in) {
		if (c->in_len + n > s->in_block) {
			s->stats.err[E_TOO_BIG]++;
			conn_close(s, c);
			return;
		}
		memcpy(c->in + c->in_len, data, n);
		c->in_len += n;
		data = c->in;
		n = c->in_len;
	}
	while (off < n) {
		long r;
		uint8_t st = c->state;

		if (st == CS_HTTP)
			r = rest_input(s, c, data + off, n - off);
		else if (st == CS_WS_AUTH || st == CS_WS)
			r = msgr_input(s, c, data + off, n - off);
		else
			return; /* closing: the rest is discarded */
		if (r < 0) {
			conn_close(s, c);
			return;
		}
		off += (size_t)r;
		/* Stop when nothing more parses, unless the handler switched
		 * protocols (HTTP upgrade) and the rest is for the new one. */
		if (r == 0 && c->state == st)
			break;
	}
	if (c->state == CS_CLOSING)
		return;
	if (c->in) {
		memmove(c->in, c->in + off, n - off);
		c->in_len = (uint32_t)(n - off);
		if (c->in_len == 0) {
			pool_put(&s->in_pool, c->in);
			c->in = NULL;
		}
	} else if (off < n) {
		c->in = pool_get(&s->in_pool);
		if (!c->in) {
			s->stats.err[E_NO_MEMORY]++;
			conn_close(s, c);
			return;
		}
		memcpy(c->in, data + off, n - off);
		c->in_len = (uint32_t)(n - off);
	}
}

static void conn_start(struct serve *s, struct conn *c, int port)
{
	uint32_t gen = c->gen;

	memset(c, 0, sizeof(*c));
	c->gen = gen;
	c->state = CS_HTTP;
	c->port = (uint8_t)port;
	c->user = c->unext = c->uprev = NIL;
	c->last_ms = s->now_ms;
	s->stats.accepted++;
	state_count(s, c, 1);
	arm_recv(s, c);
	set_timer(s, c, s->o.http_timeout_ms);
}

/* An accept completion of ring ri; multi: the multishot kind. */
static void on_accept(struct serve *s, uint32_t ri, struct io_uring_cqe *cqe,
		      int port, int multi)
{
	struct serve_ring *sr = &s->rings[ri];

	if (!multi) {
		sr->pend--;
		s->acc_pend[port]--;
	} else if (!(cqe->flags & IORING_CQE_F_MORE)) {
		s->acc_multi[port] = -1;
		s->acc_cancel &= (uint8_t)~(1u << port);
	}
	if (cqe->res < 0) {
		if (cqe->res == -ENFILE || cqe->res == -EMFILE)
			s->stats.err[E_CONN_LIMIT]++;
	} else if ((uint32_t)cqe->res >= sr->cap) {
		/* Cannot happen with a table of cap entries; be safe. */
		struct io_uring_sqe *sqe = ring_sqe(sr->ring);

		io_uring_prep_close_direct(sqe, (unsigned)cqe->res);
		io_uring_sqe_set_data64(sqe, ring_ud(OP_CANCEL, 0, 0));
	} else {
		struct conn *c = &s->conns[sr->base + (uint32_t)cqe->res];

		if (c->state == CS_CLOSING) {
			/* The kernel freed this index at our close_direct and
			 * gave it out again before the close's completion
			 * reached us: the old connection is gone. A new
			 * generation makes that completion (and any other of
			 * the old owner) stale. */
			c->gen = (c->gen + 1) & 0xffffff;
			s->stats.closed++;
		} else {
			sr->used++;
		}
		conn_start(s, c, port);
	}
	if (!multi || !(cqe->flags & IORING_CQE_F_MORE))
		accept_fill(s, port);
}

static void on_recv(struct serve *s, struct ring *r, struct conn *c,
		    struct io_uring_cqe *cqe)
{
	int more = cqe->flags & IORING_CQE_F_MORE;

	if (!more)
		c->flags &= ~CF_RECV;
	if (cqe->res > 0 && (cqe->flags & IORING_CQE_F_BUFFER)) {
		unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;

		if (c->state != CS_CLOSING)
			conn_input(s, c, ring_buf(r, bid), (size_t)cqe->res);
		ring_buf_return(r, bid);
	} else if (cqe->res == -ENOBUFS) {
		/* Every provided buffer is in use: count it; the recv is
		 * re-armed below once buffers come back. */
		s->stats.err[E_ENOBUFS]++;
		r->enobufs++;
	} else if (cqe->res <= 0 && c->state != CS_CLOSING) {
		if (cqe->res < 0 && cqe->res != -ECONNRESET)
			s->stats.err[E_RECV]++;
		conn_close(s, c);
	}
	if (c->state == CS_CLOSING)
		maybe_finish_close(s, c);
	else if (!more && !(c->flags & CF_RECV))
		arm_recv(s, c);
}

static void on_send(struct serve *s, struct conn *c, int res)
{
	c->flags &= ~CF_SEND;
	if (c->state == CS_CLOSING) {
		maybe_finish_close(s, c);
		return;
	}
	if (res < 0) {
		if (res != -EPIPE && res != -ECONNRESET)
			s->stats.err[E_SEND]++;
		conn_close(s, c);
		return;
	}
	s->stats.bytes_out += (uint64_t)res;
	outq_consume(&c->out, &s->out_pool, (size_t)res);
	mark_dirty(s, c);
}

static void on_close(struct serve *s, struct serve_ring *sr, struct conn *c)
{
	c->gen = (c->gen + 1) & 0xffffff;
	c->state = CS_FREE;
	c->flags = 0;
	s->stats.closed++;
	sr->used--;
	/* A free entry: listeners short of single accepts take it (and drop
	 * a multishot that stood in for them). */
	if (s->nrings > 1)
		for (int p = 0; p < NPORTS; p++)
			if (s->acc_pend[p] < s->acc_depth)
				accept_fill(s, p);
}

static void arm_wake(struct serve *s)
{
	struct io_uring_sqe *sqe = ring_sqe(&s->ring);

	io_uring_prep_read(sqe, s->wake_fd, &s->wake_val, sizeof(s->wake_val),
			   0);
	io_uring_sqe_set_data64(sqe, ring_ud(OP_WAKE, 0, 0));
}

/* A completion from ring ri. */
static void handle_cqe(struct serve *s, uint32_t ri, struct io_uring_cqe *cqe)
{
	uint64_t ud = io_uring_cqe_get_data64(cqe);
	unsigned op = ring_ud_op(ud);
	uint32_t idx = ring_ud_idx(ud);
	struct ring *r = s->rings[ri].ring;
	struct conn *c;

	if (op == OP_ACCEPT || op == OP_ACCEPT1) {
		on_accept(s, ri, cqe, (int)idx, op == OP_ACCEPT);
		return;
	}
	if (op == OP_WAKE) {
		/* Whatever the result: without this read the loop would not
		 * see the other rings until a timeout. */
		arm_wake(s);
		return;
	}
	if (op == OP_CANCEL || idx >= s->nconns)
		return;
	c = &s->conns[idx];
	if (c->gen != ring_ud_gen(ud)) {
		/* A completion for an earlier owner of the slot. */
		if (cqe->flags & IORING_CQE_F_BUFFER)
			ring_buf_return(r, cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		return;
	}
	switch (op) {
	case OP_RECV:
		on_recv(s, r, c, cqe);
		break;
	case OP_SEND:
		on_send(s, c, cqe->res);
		break;
	case OP_CLOSE:
		on_close(s, &s->rings[ri], c);
		break;
	default:
		break;
	}
}

static void on_timer(void *ctx, struct tw_node *n)
{
	struct serve *s = ctx;
	struct conn *c = (struct conn *)((char *)n - offsetof(struct conn, timer));

	if (c->state == CS_HTTP) {
		conn_close(s, c);
	} else if (c->state == CS_WS_AUTH) {
		s->stats.err[E_AUTH_TIMEOUT]++;
		conn_close(s, c);
	} else if (c->state == CS_WS) {
		/* Idle deadline, checked lazily against the last input. */
		uint64_t due = c->last_ms + s->o.idle_timeout_ms;

		if (due > s->now_ms)
			tw_add(&s->tw, &c->timer, due);
		else
			msgr_timeout(s, c);
	}
}

static int listen_on(struct serve *s, int port, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int one = 1, fd;

	memset(&ss, 0, sizeof(ss));
	if (strchr(s->o.host, ':')) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(s->o.port[port]);
		if (inet_pton(AF_INET6, s->o.host, &a->sin6_addr) != 1)
			goto bad_host;
		sl = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(s->o.port[port]);
		if (inet_pton(AF_INET, s->o.host, &a->sin_addr) != 1)
			goto bad_host;
		sl = sizeof(*a);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -errno;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* Accepted sockets inherit TCP_NODELAY: frames leave at once. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (s->o.rcvbuf)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &s->o.rcvbuf,
			   sizeof(s->o.rcvbuf));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 4096) < 0) {
		int e = errno;

		snprintf(err, errlen, "cannot listen on %s port %u: %s",
			 s->o.host, s->o.port[port], strerror(e));
		close(fd);
		return -e;
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		s->bound[port] = ntohs(ss.ss_family == AF_INET6 ?
			((struct sockaddr_in6 *)&ss)->sin6_port :
			((struct sockaddr_in *)&ss)->sin_port);
	s->lfd[port] = fd;
	return 0;
bad_host:
	snprintf(err, errlen, "--host %s is not an IPv4 or IPv6 address",
		 s->o.host);
	return -EINVAL;
}

/*
 * How many rings and how large. A ring's table may hold RLIMIT_NOFILE
 * entries (the check is at registration; the entries are not process
 * descriptors), so the soft limit is raised to the hard one first.
 */
static int plan_rings(struct serve *s, char *err, size_t errlen)
{
	struct rlimit rl;
	uint64_t lim = 1u << 20; /* IORING_MAX_FIXED_FILES */
	uint32_t n = s->o.max_conns;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		if (rl.rlim_cur < rl.rlim_max) {
			struct rlimit up = { rl.rlim_max, rl.rlim_max };

			if (setrlimit(RLIMIT_NOFILE, &up) == 0)
				rl.rlim_cur = rl.rlim_max;
		}
		if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < lim)
			lim = rl.rlim_cur;
	}
	s->per_ring = n < lim ? n : (uint32_t)lim;
	s->nrings = (n + s->per_ring - 1) / s->per_ring;
	s->acc_depth = s->per_ring / 64;
	if (s->acc_depth > ACCEPT_DEPTH)
		s->acc_depth = ACCEPT_DEPTH;
	if (s->acc_depth == 0)
		s->acc_depth = 1;
	/* Each ring is a process descriptor too. */
	if (s->nrings > 1 &&
	    (s->nrings > MAX_RINGS || s->nrings + 16 > lim)) {
		snprintf(err, errlen, "--max-conns %u would take %u io_urings "
			 "of %u direct descriptors (RLIMIT_NOFILE %llu): raise "
			 "ulimit -n or lower --max-conns", n, s->nrings,
			 s->per_ring, (unsigned long long)lim);
		return -EMFILE;
	}
	return 0;
}

static int setup_rings(struct serve *s, char *err, size_t errlen)
{
	/* The receive buffers are split between the rings: a ring's share
	 * of the traffic is a share of the connections. */
	unsigned nbufs = s->o.nbufs, share = 256;
	int ret;

	while (share < s->o.nbufs / s->nrings)
		share <<= 1;
	if (s->nrings > 1 && share < nbufs)
		nbufs = share;
	s->rings = calloc(s->nrings, sizeof(*s->rings));
	if (s->nrings > 1)
		s->xring = calloc(s->nrings - 1, sizeof(*s->xring));
	if (!s->rings || (s->nrings > 1 && !s->xring)) {
		snprintf(err, errlen, "out of memory for %u rings", s->nrings);
		return -ENOMEM;
	}
	for (uint32_t ri = 0; ri < s->nrings; ri++) {
		struct serve_ring *sr = &s->rings[ri];
		uint32_t left = s->o.max_conns - ri * s->per_ring;
		struct ring_opts ro = {
			.entries = 4096,
			.nbufs = nbufs,
			.buf_size = s->o.buf_size,
		};

		sr->ring = ri ? &s->xring[ri - 1] : &s->ring;
		sr->base = ri * s->per_ring;
		sr->cap = left < s->per_ring ? left : s->per_ring;
		ro.files = sr->cap;
		ret = ring_init(sr->ring, &ro, err, errlen);
		if (ret < 0)
			return ret;
	}
	if (s->nrings == 1)
		return 0;
	s->wake_fd = eventfd(0, EFD_CLOEXEC);
	if (s->wake_fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "eventfd: %s", strerror(-ret));
		return ret;
	}
	for (uint32_t ri = 1; ri < s->nrings; ri++) {
		ret = io_uring_register_eventfd(&s->rings[ri].ring->uring,
						s->wake_fd);
		if (ret < 0) {
			snprintf(err, errlen, "cannot register an eventfd on "
				 "io_uring %u: %s", ri, strerror(-ret));
			return ret;
		}
	}
	arm_wake(s);
	return 0;
}

/* see serve.h */
int serve_net_init(struct serve *s, char *err, size_t errlen)
{
	size_t in_need;
	int ret;

	s->wake_fd = -1;
	for (int p = 0; p < NPORTS; p++) {
		s->lfd[p] = -1;
		s->acc_multi[p] = -1;
	}
	ret = plan_rings(s, err, errlen);
	if (ret == 0)
		ret = setup_rings(s, err, errlen);
	if (ret < 0)
		return ret;
	s->nconns = s->o.max_conns;
	s->conns = calloc(s->nconns, sizeof(*s->conns));
	s->dirty = calloc(s->nconns, sizeof(*s->dirty));
	s->sv = calloc(SEND_VECS, sizeof(*s->sv));
	in_need = s->o.max_head + s->o.max_body;
	if (s->o.max_frame + WS_HDR_MAX > in_need)
		in_need = s->o.max_frame + WS_HDR_MAX;
	s->in_block = in_need;
	if (s->o.delay_ns && delayq_init(&s->dq, (size_t)64 << 20) < 0) {
		snprintf(err, errlen, "out of memory for --delay");
		return -ENOMEM;
	}
	s->start_ms = s->now_ms;
	if (!s->conns || !s->dirty || !s->sv ||
	    pool_init(&s->out_pool, OUT_BLOCK, 64,
		      s->o.out_memory / OUT_BLOCK) < 0 ||
	    pool_init(&s->in_pool, in_need, 16,
		      (64u << 20) / in_need + 16) < 0 ||
	    tw_init(&s->tw, 4096, s->now_ms) < 0) {
		snprintf(err, errlen, "out of memory for %u connections",
			 s->o.max_conns);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < s->nconns; i++)
		s->conns[i].user = NIL;
	for (int p = 0; p < NPORTS; p++) {
		ret = listen_on(s, p, err, errlen);
		if (ret < 0)
			return ret;
		accept_fill(s, p);
	}
	return 0;
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

static int enter_failed(int ret)
{
	if (ret >= 0 || ret == -ETIME || ret == -EINTR || ret == -EAGAIN ||
	    ret == -EBUSY)
		return 0;
	fprintf(stderr, "esmeload serve: io_uring wait: %s\n", strerror(-ret));
	return 1;
}

/* Handle every completion ring ri holds. */
static void reap(struct serve *s, uint32_t ri)
{
	struct io_uring *u = &s->rings[ri].ring->uring;
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	io_uring_for_each_cqe(u, head, cqe) {
		handle_cqe(s, ri, cqe);
		n++;
	}
	io_uring_cq_advance(u, n);
}

/* see serve.h */
int serve_net_run(struct serve *s)
{
	while (!*s->stop) {
		struct __kernel_timespec ts;
		struct io_uring_cqe *cqe;
		uint64_t wait;
		int ret, busy = 0;

		int64_t due = s->o.delay_ns ?
			      msgr_flush_delayed(s, clock_mono_ns()) : 0;

		flush_dirty(s);
		for (uint32_t ri = 0; ri < s->nrings; ri++)
			ring_bufs_publish(s->rings[ri].ring);
		wait = tw_next(&s->tw, 1000) * 1000000;
		if (due) {
			int64_t left = due - clock_mono_ns();

			wait = left <= 0 ? 1000 : (uint64_t)left < wait ?
			       (uint64_t)left : wait;
		}
		ts.tv_sec = (long long)(wait / 1000000000);
		ts.tv_nsec = (long long)(wait % 1000000000);
		/* Rings 1..: submit, run their deferred work; sleep in ring 0
		 * only if none of them has completions to handle (work queued
		 * later wakes ring 0 through the eventfd). */
		for (uint32_t ri = 1; ri < s->nrings; ri++) {
			struct ring *r = s->rings[ri].ring;

			if ((io_uring_sq_ready(&r->uring) || ring_has_work(r)) &&
			    enter_failed(io_uring_submit_and_get_events(&r->uring)))
				return -EIO;
			busy |= io_uring_cq_ready(&r->uring) != 0;
		}
		if (busy)
			ret = io_uring_submit_and_get_events(&s->ring.uring);
		else
			ret = io_uring_submit_and_wait_timeout(&s->ring.uring,
							       &cqe, 1, &ts, NULL);
		s->nsv = 0;
		if (enter_failed(ret))
			return ret;
		s->now_ms = (uint64_t)(clock_mono_ns() / 1000000);
		if (s->o.stall_for_ms && s->now_ms >= s->start_ms + s->o.stall_at_ms) {
			/* --stall-at/--stall-for: the whole server stops, once. */
			struct timespec st = {
				.tv_sec = (time_t)(s->o.stall_for_ms / 1000),
				.tv_nsec = (long)(s->o.stall_for_ms % 1000) * 1000000,
			};

			s->o.stall_for_ms = 0;
			nanosleep(&st, NULL);
			s->now_ms = (uint64_t)(clock_mono_ns() / 1000000);
		}
		reap(s, 0);
		for (uint32_t ri = 1; ri < s->nrings; ri++) {
			struct ring *r = s->rings[ri].ring;

			if (ring_has_work(r) &&
			    enter_failed(io_uring_get_events(&r->uring)))
				return -EIO;
			reap(s, ri);
		}
		tw_advance(&s->tw, s->now_ms, on_timer, s);
	}
	return 0;
}

/* see serve.h */
void serve_net_exit(struct serve *s)
{
	for (int p = 0; p < NPORTS; p++)
		if (s->lfd[p] >= 0)
			close(s->lfd[p]);
	if (s->rings)
		for (uint32_t ri = 0; ri < s->nrings; ri++)
			if (s->rings[ri].ring)
				ring_exit(s->rings[ri].ring);
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	if (s->conns) {
		for (uint32_t i = 0; i < s->nconns; i++) {
			outq_clear(&s->conns[i].out, &s->out_pool);
			free_input(s, &s->conns[i]);
		}
	}
	pool_destroy(&s->out_pool);
	pool_destroy(&s->in_pool);
	tw_free(&s->tw);
	free(s->conns);
	free(s->dirty);
	free(s->sv);
	free(s->rings);
	free(s->xring);
	delayq_free(&s->dq);
}
