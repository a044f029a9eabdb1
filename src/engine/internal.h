/*
 * The engine's files among themselves: eng.c (setup, slots, receive,
 * close, deadlines, the loop), accept.c (listeners), send.c (the two send
 * backends) and transport.c (TLS). Not for applications: they use eng.h.
 */
#ifndef ESMELOAD_ENG_INTERNAL_H
#define ESMELOAD_ENG_INTERNAL_H

#include "engine/eng.h"
#include "clock.h"

#include <sys/socket.h>
#include <sys/uio.h>

/* Operations in user_data. OP_ACCEPT: multishot (gen = ring, idx =
 * listener); OP_ACCEPT1: a single accept (same); OP_WAKE: ring 0's read
 * of the eventfd; OP_MSG: a message another engine posted to ring 0 (idx =
 * its value); OP_MSG_POST: the failure of this engine's post (idx = the
 * value); OP_LTIMEOUT and OP_CANCEL carry nothing. */
enum { OP_CONNECT = 1, OP_LTIMEOUT, OP_RECV, OP_SEND, OP_CANCEL, OP_CLOSE,
       OP_ACCEPT, OP_ACCEPT1, OP_WAKE, OP_MSG, OP_MSG_POST };

enum { EC_FREE = ENG_C_FREE, EC_CONNECTING = ENG_C_CONNECTING,
       EC_OPEN = ENG_C_OPEN, EC_CLOSING = ENG_C_CLOSING };

/*
 * CF_ZCWAIT: a SEND_ZC completed, its notification (the kernel is done
 * with the slot's bytes) has not; CF_SEND stays set until it comes. A
 * close need not wait for it (a peer that stopped reading would hold it
 * forever), but the slot is reused only after it: CF_CLOSED marks a
 * connection closed while the notification is still due.
 * CF_DETACHED: the application is done with the connection; no callback
 * but ops.sent follows.
 */
enum { CF_RECV = 1, CF_SEND = 2, CF_DIRTY = ENG_F_DIRTY, CF_CLOSE = 8,
       CF_ZCWAIT = 16, CF_CLOSED = 32, CF_LINGER = ENG_F_LINGER,
       CF_DETACHED = ENG_F_DETACHED };

/* Blocks one vectored send may take. */
#define ENG_SEND_IOV 16
/* Vectored sends per batch before the rings must be submitted. */
#define ENG_SEND_VECS 512

/* A vectored send's msghdr and iovecs live until it is submitted
 * (IORING_FEAT_SUBMIT_STABLE). */
struct eng_send_vec {
	struct msghdr mh;
	struct iovec iov[ENG_SEND_IOV];
};

/* A TLS connection's engine and what the transport keeps beside it. */
struct eng_tls {
	struct tls t;
	struct sockaddr_storage local; /* for ops.up, after the handshake */
	int64_t since;                 /* TCP connected */
	uint8_t *cin;                  /* ciphertext the engine could not */
	uint32_t cin_len;              /* take yet (an in_pool block) */
	uint8_t up;                    /* handshake done, ops.up called */
};

static inline struct eng_ring *eng_ring_of(const struct eng *e, uint32_t id)
{
	return &e->rings[id / e->per_ring];
}
/* The table index of id in its ring. */
static inline int eng_fixed(const struct eng *e, uint32_t id)
{
	return (int)(id % e->per_ring);
}
static inline struct io_uring_sqe *eng_sqe(struct eng *e, uint32_t id)
{
	return ring_sqe(&eng_ring_of(e, id)->ring);
}
static inline uint32_t eng_id(const struct eng *e, const struct eng_conn *c)
{
	return (uint32_t)(c - e->conns);
}

static inline void eng_mark_dirty(struct eng *e, struct eng_conn *c)
{
	if (c->flags & CF_DIRTY)
		return;
	c->flags |= CF_DIRTY;
	e->dirty[e->ndirty++] = eng_id(e, c);
}
/* Give back what c holds: its input carry, TLS state and send queue. */
void eng_conn_release(struct eng *e, struct eng_conn *c);
/* Arm c's multishot receive from its ring's provided buffers. */
void eng_arm_recv(struct eng *e, struct eng_conn *c);
/* The engine closes c for why: ops.closed (unless detached), then close. */
void eng_fail(struct eng *e, struct eng_conn *c, const struct eng_why *why);
void eng_fail_err(struct eng *e, struct eng_conn *c, int err,
		  const char *text);
void eng_finish_close(struct eng *e, struct eng_conn *c);
void eng_slot_free(struct eng *e, uint32_t id);
/* The connection's deadline node: re-armed at the earliest due time. */
void eng_dl_update(struct eng *e, struct eng_conn *c);
/* Hands input to its reader: the bytes it took, or -1 when the connection
 * takes no more input (closed, lingering, detached). */
typedef long (*eng_feed_fn)(struct eng *e, struct eng_conn *c, uint8_t *data,
			    size_t n);
/*
 * data to feed behind the partial input waiting in *buf (*len bytes, a
 * block of e->in_pool, NULL when none): what feed leaves of it waits in
 * *buf for the next call. Input over in_block, or no block, fails the
 * connection (too_big, no_memory). Plaintext (c->in) and ciphertext (TLS)
 * carry alike.
 */
void eng_carry(struct eng *e, struct eng_conn *c, uint8_t **buf,
	       uint32_t *len, uint8_t *data, size_t n, eng_feed_fn feed);
/* Plaintext in: the partial-input carry and ops.input. */
void eng_input(struct eng *e, struct eng_conn *c, uint8_t *data, size_t n);
/* Submit every ring's pending SQEs (no waiting). */
void eng_submit_all(struct eng *e);

/* accept.c */
void eng_accept_fill(struct eng *e, unsigned l);
void eng_on_accept(struct eng *e, uint32_t ri, struct io_uring_cqe *cqe,
		   unsigned l, int multi);
void eng_on_entry_freed(struct eng *e);

/* send.c */
int eng_zc_probe(struct eng *e, char *err, size_t errlen);
void eng_kick(struct eng *e, struct eng_conn *c);
void eng_on_send(struct eng *e, struct eng_conn *c,
		 const struct io_uring_cqe *cqe);
/* Slot backend: credit the units of the send in flight. */
void eng_credit(struct eng *e, struct eng_conn *c);

/* transport.c */
int eng_tls_start(struct eng *e, struct eng_conn *c,
		  const struct sockaddr_storage *local);
void eng_tls_input(struct eng *e, struct eng_conn *c, uint8_t *data,
		   size_t n);
void eng_tls_kick(struct eng *e, struct eng_conn *c);
void eng_tls_sent(struct eng *e, struct eng_conn *c, int res);
void eng_tls_free(struct eng *e, struct eng_conn *c);

#endif
