/*
 * net: serve's listeners, connections and event loop on one io_uring.
 * See serve.h.
 *
 * IMPLEMENTATION NOTES
 * - Listeners are ordinary sockets with a multishot accept that installs
 *   each new connection straight into the ring's direct-descriptor table;
 *   the index the kernel picks is the connection's slot. Connections use
 *   no process descriptor, so RLIMIT_NOFILE does not bound them.
 * - Each connection has one multishot recv on the shared provided-buffer
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
 *   completion reaches us: on_accept recognises that case.
 */
#include "serve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { OP_ACCEPT = 1, OP_RECV, OP_SEND, OP_CANCEL, OP_CLOSE };

#define OUT_BLOCK 16384
/* Blocks one send may take: a connection that receives a copy of every
 * message (an organizer) drains up to 256 KiB per completion. */
#define SEND_IOV 16
#define SEND_VECS 512

/*
 * A vectored send's msghdr and iovecs need to live only until the SQE is
 * submitted (IORING_FEAT_SUBMIT_STABLE): they come from this scratch
 * array, reset after every submit.
 */
struct send_vec {
	struct msghdr mh;
	struct iovec iov[SEND_IOV];
};

static void arm_accept(struct serve *s, int port)
{
	struct io_uring_sqe *sqe = ring_sqe(&s->ring);

	io_uring_prep_multishot_accept_direct(sqe, s->lfd[port], NULL, NULL, 0);
	io_uring_sqe_set_data64(sqe, ring_ud(OP_ACCEPT, 0, (uint32_t)port));
}

static void arm_recv(struct serve *s, struct conn *c)
{
	struct io_uring_sqe *sqe = ring_sqe(&s->ring);
	uint32_t idx = conn_idx(s, c);

	io_uring_prep_recv_multishot(sqe, (int)idx, NULL, 0, 0);
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

	if (c->state != CS_CLOSING || (c->flags & (CF_RECV | CF_SEND | CF_CLOSE)))
		return;
	outq_clear(&c->out, &s->out_pool);
	sqe = ring_sqe(&s->ring);
	io_uring_prep_close_direct(sqe, idx);
	io_uring_sqe_set_data64(sqe, ring_ud(OP_CLOSE, c->gen, idx));
	c->flags |= CF_CLOSE;
}

/* see serve.h */
void conn_close(struct serve *s, struct conn *c)
{
	struct io_uring_sqe *sqe;
	uint32_t idx = conn_idx(s, c);

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
	 * when the last request holding it completes. */
	if (c->flags & CF_RECV) {
		sqe = ring_sqe(&s->ring);
		io_uring_prep_cancel64(sqe, ring_ud(OP_RECV, c->gen, idx), 0);
		io_uring_sqe_set_data64(sqe, ring_ud(OP_CANCEL, 0, 0));
	}
	if (c->flags & CF_SEND) {
		sqe = ring_sqe(&s->ring);
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

static void kick_send(struct serve *s, struct conn *c)
{
	struct io_uring_sqe *sqe;
	struct send_vec *v;
	size_t n;
	int k;
	uint32_t idx = conn_idx(s, c);

	if ((c->flags & CF_SEND) || c->state == CS_CLOSING ||
	    c->state == CS_FREE)
		return;
	if (!c->out.bytes) {
		if (c->flags & CF_LINGER)
			conn_close(s, c);
		return;
	}
	if (s->nsv == SEND_VECS) {
		io_uring_submit(&s->ring.uring);
		s->nsv = 0;
	}
	v = &s->sv[s->nsv];
	k = outq_peekv(&c->out, v->iov, SEND_IOV, &n);
	sqe = ring_sqe(&s->ring);
	if (k == 1) {
		io_uring_prep_send(sqe, (int)idx, v->iov[0].iov_base, n,
				   MSG_NOSIGNAL);
	} else {
		memset(&v->mh, 0, sizeof(v->mh));
		v->mh.msg_iov = v->iov;
		v->mh.msg_iovlen = (size_t)k;
		io_uring_prep_sendmsg(sqe, (int)idx, &v->mh, MSG_NOSIGNAL);
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

static void on_accept(struct serve *s, struct io_uring_cqe *cqe, int port)
{
	if (!(cqe->flags & IORING_CQE_F_MORE))
		arm_accept(s, port);
	if (cqe->res < 0) {
		if (cqe->res == -ENFILE || cqe->res == -EMFILE)
			s->stats.err[E_CONN_LIMIT]++;
		return;
	}
	if ((uint32_t)cqe->res >= s->nconns) {
		/* Cannot happen with a table of nconns entries; be safe. */
		struct io_uring_sqe *sqe = ring_sqe(&s->ring);

		io_uring_prep_close_direct(sqe, (unsigned)cqe->res);
		io_uring_sqe_set_data64(sqe, ring_ud(OP_CANCEL, 0, 0));
		return;
	}
	struct conn *c = &s->conns[cqe->res];
	uint32_t gen = c->gen;

	if (c->state == CS_CLOSING) {
		/* The kernel freed this index at our close_direct and gave it
		 * out again before the close's completion reached us: the old
		 * connection is gone. A new generation makes that completion
		 * (and any other of the old owner) stale. */
		gen = (gen + 1) & 0xffffff;
		s->stats.closed++;
	}

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

static void on_recv(struct serve *s, struct conn *c, struct io_uring_cqe *cqe)
{
	int more = cqe->flags & IORING_CQE_F_MORE;

	if (!more)
		c->flags &= ~CF_RECV;
	if (cqe->res > 0 && (cqe->flags & IORING_CQE_F_BUFFER)) {
		unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;

		if (c->state != CS_CLOSING)
			conn_input(s, c, ring_buf(&s->ring, bid),
				   (size_t)cqe->res);
		ring_buf_return(&s->ring, bid);
	} else if (cqe->res == -ENOBUFS) {
		/* Every provided buffer is in use: count it; the recv is
		 * re-armed below once buffers come back. */
		s->stats.err[E_ENOBUFS]++;
		s->ring.enobufs++;
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

static void on_close(struct serve *s, struct conn *c)
{
	c->gen = (c->gen + 1) & 0xffffff;
	c->state = CS_FREE;
	c->flags = 0;
	s->stats.closed++;
}

static void handle_cqe(struct serve *s, struct io_uring_cqe *cqe)
{
	uint64_t ud = io_uring_cqe_get_data64(cqe);
	unsigned op = ring_ud_op(ud);
	uint32_t idx = ring_ud_idx(ud);
	struct conn *c;

	if (op == OP_ACCEPT) {
		on_accept(s, cqe, (int)idx);
		return;
	}
	if (op == OP_CANCEL || idx >= s->nconns)
		return;
	c = &s->conns[idx];
	if (c->gen != ring_ud_gen(ud)) {
		/* A completion for an earlier owner of the slot. */
		if (cqe->flags & IORING_CQE_F_BUFFER)
			ring_buf_return(&s->ring,
					cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		return;
	}
	switch (op) {
	case OP_RECV:
		on_recv(s, c, cqe);
		break;
	case OP_SEND:
		on_send(s, c, cqe->res);
		break;
	case OP_CLOSE:
		on_close(s, c);
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

/* see serve.h */
int serve_net_init(struct serve *s, char *err, size_t errlen)
{
	struct ring_opts ro = {
		.entries = 4096,
		.files = s->o.max_conns,
		.nbufs = s->o.nbufs,
		.buf_size = s->o.buf_size,
	};
	size_t in_need;
	int ret;

	for (int p = 0; p < NPORTS; p++)
		s->lfd[p] = -1;
	ret = ring_init(&s->ring, &ro, err, errlen);
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
		arm_accept(s, p);
	}
	return 0;
}

/* see serve.h */
int serve_net_run(struct serve *s)
{
	while (!*s->stop) {
		struct __kernel_timespec ts;
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;
		uint64_t wait;
		int ret;

		int64_t due = s->o.delay_ns ?
			      msgr_flush_delayed(s, serve_mono_ns()) : 0;

		flush_dirty(s);
		ring_bufs_publish(&s->ring);
		wait = tw_next(&s->tw, 1000) * 1000000;
		if (due) {
			int64_t left = due - serve_mono_ns();

			wait = left <= 0 ? 1000 : (uint64_t)left < wait ?
			       (uint64_t)left : wait;
		}
		ts.tv_sec = (long long)(wait / 1000000000);
		ts.tv_nsec = (long long)(wait % 1000000000);
		ret = io_uring_submit_and_wait_timeout(&s->ring.uring, &cqe, 1,
						       &ts, NULL);
		s->nsv = 0;
		if (ret < 0 && ret != -ETIME && ret != -EINTR &&
		    ret != -EAGAIN && ret != -EBUSY) {
			fprintf(stderr, "esmeload serve: io_uring wait: %s\n",
				strerror(-ret));
			return ret;
		}
		s->now_ms = serve_mono_ms();
		if (s->o.stall_for_ms && s->now_ms >= s->start_ms + s->o.stall_at_ms) {
			/* --stall-at/--stall-for: the whole server stops, once. */
			struct timespec st = {
				.tv_sec = (time_t)(s->o.stall_for_ms / 1000),
				.tv_nsec = (long)(s->o.stall_for_ms % 1000) * 1000000,
			};

			s->o.stall_for_ms = 0;
			nanosleep(&st, NULL);
			s->now_ms = serve_mono_ms();
		}
		io_uring_for_each_cqe(&s->ring.uring, head, cqe) {
			handle_cqe(s, cqe);
			n++;
		}
		io_uring_cq_advance(&s->ring.uring, n);
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
	ring_exit(&s->ring);
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
	delayq_free(&s->dq);
}
