/*
 * accept: the engine's listeners. Accepts install each new connection
 * straight into a ring's table of direct descriptors; the index the kernel
 * picks, plus the ring's base, is the connection's slot. See eng.h.
 *
 * IMPLEMENTATION NOTES
 * - Accepting into several tables. When a table is full, an accept direct
 *   with IORING_FILE_INDEX_ALLOC still takes the connection off the listen
 *   queue, fails with -ENFILE and closes it (the peer sees EOF or a reset;
 *   single and multishot alike): an accept must never run in a ring that
 *   may be full while another has room. With one ring each listener keeps
 *   one multishot accept, and -ENFILE is the connection limit. With
 *   several, each listener keeps acc_depth single accepts armed
 *   (ACCEPT_DEPTH, less for tiny tables), and each holds an entry of its
 *   ring until it completes (pend): used + pend <= cap, so no single
 *   accept can find its table full. They go to the lowest ring with an
 *   unclaimed entry, so rings fill in order. A listener that finds no
 *   unclaimed entry anywhere falls back to one multishot accept in the
 *   ring with the most free entries; it may take entries claimed by other
 *   listeners' accepts, which then fail with -ENFILE. Near the limit that
 *   is first come, first served, and a connection may be refused up to
 *   nlisten * acc_depth early. When an entry is freed, the multishot is
 *   cancelled (by user_data) and single accepts take over again.
 * - The kernel may hand an index to a new connection as soon as our
 *   close_direct of the previous one is done, possibly before its
 *   completion reaches us: eng_on_accept recognises that case (a ring's
 *   indexes map to slots of that ring only, so the check holds per ring),
 *   and the entry stays counted in used throughout.
 */
#include "engine/internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Single accepts armed per listener with several rings: enough to take a
 * burst of connections per pass; at most 1/64 of a table, since near the
 * limit they may keep entries from the other listeners. */
#define ACCEPT_DEPTH 32

/* Entries of a ring neither held nor claimed by an armed single accept
 * (negative when a multishot took claimed ones). */
static int64_t ring_room(const struct eng_ring *er)
{
	return (int64_t)er->cap - er->used - er->pend;
}

static void arm_accept_multi(struct eng *e, uint32_t ri, unsigned l)
{
	struct io_uring_sqe *sqe = ring_sqe(&e->rings[ri].ring);

	io_uring_prep_multishot_accept_direct(sqe, e->lfd[l], NULL, NULL, 0);
	io_uring_sqe_set_data64(sqe, ring_ud(OP_ACCEPT, ri, l));
	e->acc_multi[l] = (int32_t)ri;
}

static void arm_accept_one(struct eng *e, uint32_t ri, unsigned l)
{
	struct io_uring_sqe *sqe = ring_sqe(&e->rings[ri].ring);

	/* liburing 2.3 encodes IORING_FILE_INDEX_ALLOC wrongly here (as 0, a
	 * plain accept); ALLOC - 1 is what it stores after its "+ 1". */
	io_uring_prep_accept_direct(sqe, e->lfd[l], NULL, NULL, 0,
				    IORING_FILE_INDEX_ALLOC - 1);
	io_uring_sqe_set_data64(sqe, ring_ud(OP_ACCEPT1, ri, l));
	e->rings[ri].pend++;
	e->acc_pend[l]++;
}

/* see internal.h */
void eng_accept_fill(struct eng *e, unsigned l)
{
	uint32_t ri = 0, best = 0;

	if (e->nrings > 1) {
		while (e->acc_pend[l] < e->acc_depth) {
			while (ri < e->nrings && ring_room(&e->rings[ri]) <= 0)
				ri++;
			if (ri == e->nrings)
				break;
			arm_accept_one(e, ri, l);
		}
		if (e->acc_pend[l]) {
			int32_t m = e->acc_multi[l];

			if (m >= 0 && !(e->acc_cancel & 1u << l)) {
				struct io_uring_sqe *sqe =
					ring_sqe(&e->rings[m].ring);

				io_uring_prep_cancel64(sqe, ring_ud(OP_ACCEPT,
					(uint32_t)m, l), 0);
				io_uring_sqe_set_data64(sqe,
					ring_ud(OP_CANCEL, 0, 0));
				e->acc_cancel |= (uint8_t)(1u << l);
			}
			return;
		}
	}
	/* One multishot at a time: a cancelled one is replaced only after
	 * its last completion. */
	if (e->acc_multi[l] >= 0)
		return;
	for (ri = 1; ri < e->nrings; ri++)
		if (e->rings[ri].cap - e->rings[ri].used >
		    e->rings[best].cap - e->rings[best].used)
			best = ri;
	arm_accept_multi(e, best, l);
}

/* see internal.h */
void eng_on_entry_freed(struct eng *e)
{
	/* Listeners short of single accepts take it (and drop a multishot
	 * that stood in for them). */
	if (e->nrings > 1)
		for (unsigned l = 0; l < e->nlisten; l++)
			if (e->acc_pend[l] < e->acc_depth)
				eng_accept_fill(e, l);
}

static void conn_start(struct eng *e, struct eng_conn *c, unsigned l)
{
	uint32_t gen = c->gen;

	memset(c, 0, sizeof(*c));
	c->gen = gen;
	c->fd = -1;
	c->next_free = ENG_NIL;
	c->state = EC_OPEN;
	c->listener = (uint8_t)l;
	e->stats.accepted++;
	eng_arm_recv(e, c);
	e->ops->accepted(e->app, eng_id(e, c), l);
}

/* see internal.h */
void eng_on_accept(struct eng *e, uint32_t ri, struct io_uring_cqe *cqe,
		   unsigned l, int multi)
{
	struct eng_ring *er = &e->rings[ri];

	if (l >= e->nlisten)
		return;
	if (!multi) {
		er->pend--;
		e->acc_pend[l]--;
	} else if (!(cqe->flags & IORING_CQE_F_MORE)) {
		e->acc_multi[l] = -1;
		e->acc_cancel &= (uint8_t)~(1u << l);
	}
	if (cqe->res < 0) {
		if (cqe->res == -ENFILE || cqe->res == -EMFILE)
			e->stats.conn_limit++;
	} else if ((uint32_t)cqe->res >= er->cap) {
		/* Cannot happen with a table of cap entries; be safe. */
		struct io_uring_sqe *sqe = ring_sqe(&er->ring);

		io_uring_prep_close_direct(sqe, (unsigned)cqe->res);
		io_uring_sqe_set_data64(sqe, ring_ud(OP_CANCEL, 0, 0));
	} else {
		struct eng_conn *c = &e->conns[er->base + (uint32_t)cqe->res];

		if (c->state == EC_CLOSING) {
			/* The kernel freed this index at our close_direct and
			 * gave it out again before the close's completion
			 * reached us: the old connection is gone. A new
			 * generation makes that completion (and any other of
			 * the old owner) stale. */
			eng_conn_release(e, c);
			tw_del(&e->tw, &c->dl);
			c->gen = (c->gen + 1) & 0xffffff;
			e->stats.closed++;
		} else {
			er->used++;
		}
		conn_start(e, c, l);
	}
	if (!multi || !(cqe->flags & IORING_CQE_F_MORE))
		eng_accept_fill(e, l);
}

/*
 * Whether a socket without SO_REUSEPORT fails to bind the address: then
 * another listener holds it, and a SO_REUSEPORT group must not start
 * there (it would join that listener's group if it has the option too).
 */
static int port_taken(const struct sockaddr_storage *ss, socklen_t sl)
{
	int one = 1, taken, fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC,
					0);

	if (fd < 0)
		return 0;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	taken = bind(fd, (const struct sockaddr *)ss, sl) < 0 &&
		errno == EADDRINUSE;
	close(fd);
	return taken;
}

/* see eng.h */
int eng_listen(struct eng *e, const char *host, uint16_t port, int rcvbuf,
	       uint16_t *bound, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int one = 1, fd;
	unsigned l = e->nlisten;

	if (l == ENG_MAX_LISTEN) {
		snprintf(err, errlen, "more than %d listeners", ENG_MAX_LISTEN);
		return -EINVAL;
	}
	memset(&ss, 0, sizeof(ss));
	if (strchr(host, ':')) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
			goto bad_host;
		sl = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
			goto bad_host;
		sl = sizeof(*a);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -errno;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (e->o.listen == ENG_LISTEN_GROUP_FIRST && port &&
	    port_taken(&ss, sl)) {
		snprintf(err, errlen, "cannot listen on %s port %u: %s", host,
			 port, strerror(EADDRINUSE));
		close(fd);
		return -EADDRINUSE;
	}
	if (e->o.listen != ENG_LISTEN_OWN)
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	/* Accepted sockets inherit TCP_NODELAY: frames leave at once. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (rcvbuf)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 4096) < 0) {
		int er = errno;

		snprintf(err, errlen, "cannot listen on %s port %u: %s", host,
			 port, strerror(er));
		close(fd);
		return -er;
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		*bound = ntohs(ss.ss_family == AF_INET6 ?
			((struct sockaddr_in6 *)&ss)->sin6_port :
			((struct sockaddr_in *)&ss)->sin_port);
	if (!e->acc_depth) {
		e->acc_depth = e->per_ring / 64;
		if (e->acc_depth > ACCEPT_DEPTH)
			e->acc_depth = ACCEPT_DEPTH;
		if (e->acc_depth == 0)
			e->acc_depth = 1;
	}
	e->lfd[l] = fd;
	e->nlisten = l + 1;
	eng_accept_fill(e, l);
	return (int)l;
bad_host:
	snprintf(err, errlen, "--host %s is not an IPv4 or IPv6 address", host);
	return -EINVAL;
}
