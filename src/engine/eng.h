/*
 * eng: the io_uring connection engine under `esmeload run` and `esmeload
 * serve`. One engine is one thread's event loop: its rings, connection
 * slots, receive buffers, send backend, timer wheel and self-check
 * counters. It knows TCP, TLS and bytes; what the bytes mean is the
 * application's, which it hears through a table of callbacks (struct
 * eng_ops). Nothing of an engine is shared with another thread but the
 * descriptor other loops post messages to (eng_msg_fd, eng_msg_post),
 * which does not change once it is set up.
 *
 * Connections
 * - A connection is a slot id (0 .. max_conns - 1). It is also its index
 *   in a ring's table of direct descriptors: slot i lives in ring
 *   i / per_ring at table index i % per_ring. A ring's table may hold at
 *   most RLIMIT_NOFILE entries, so max_conns above that takes several
 *   rings; everything about a connection goes to its ring.
 * - Client connections (eng_connect) take the lowest free slot; the socket
 *   is connected as an ordinary descriptor, so its local address can be
 *   read, then moved into the table. Server connections come from
 *   eng_listen's listeners, accepted straight into a table entry the
 *   kernel picks. One engine does one or the other, not both.
 * - Every completion carries op | generation | slot (ring.h). A slot is
 *   reused only after its close completes, and its generation changes, so a
 *   late completion for an earlier owner is recognised and dropped (its
 *   receive buffer given back).
 * - The application's tag (a uint32_t it chooses at connect, or gets as 0
 *   at accept and sets with eng_set_tag) comes back with every callback.
 *
 * Input: one multishot receive per connection from the ring's
 * provided-buffer ring. The bytes are handed to ops.input where they lie;
 * only a trailing partial message is copied into a per-connection block
 * (in_block bytes at most) until the rest arrives. With the kernel's
 * receive bundles (RING_F_RECV_BUNDLE) one completion may fill several
 * buffers, handed over one buffer's piece at a time, in order; with
 * incremental buffers (RING_F_BUF_INC) buffers are bigger and shared by
 * receives a part each (ring.h). Both are on when the kernel has them and
 * the application asks (eng_opts.uring_want), unless refused (uring_off).
 *
 * Output: at most one send in flight per connection; what the application
 * writes meanwhile goes behind it and leaves with the next send, after the
 * current batch of completions. Two backends, chosen per engine:
 * - ENG_SEND_SLOT: a fixed slot of slot_size bytes per connection in one
 *   registered arena; the application encodes straight into it
 *   (eng_slot/eng_commit). SEND_ZC from the arena with --zc. Bytes carry
 *   units (the application's count, e.g. messages): ops.submitted hears
 *   when a send takes them, ops.sent when the kernel took all their bytes.
 * - ENG_SEND_QUEUE: a queue of pool blocks per connection (outq.h),
 *   appended by eng_write and sent vectored, up to 16 blocks a send.
 * TLS (a target with a host name for it) is a transport inside the slot
 * backend: the slot holds plaintext, the engine moves it through the
 * connection's BearSSL engine and sends the records; ops.up comes after
 * the handshake.
 *
 * Closing: by the application (eng_close, eng_linger) or by the engine
 * (end of stream, errors, a stalled send, an input over in_block): then
 * ops.closed says why, once. Either way no callback follows for the
 * connection except ops.sent for units the kernel had already taken
 * (detached = 1). The receive and send are cancelled by user_data (never
 * by descriptor: the index may already be the next connection's), then
 * the table entry is closed.
 *
 * Time: a hashed timer wheel of 2^tick_shift ns ticks from t0_ns. The loop
 * wakes on the boundary of the next tick that holds a timer, plus
 * slack_ns. The application arms its own nodes (eng_timer_at; ops.timer
 * fires them). Each connection has one deadline node besides, which the
 * engine keeps at the earliest of: the application's deadline
 * (eng_deadline; ops.deadline), its send in flight plus send_timeout_ns
 * (ops.stalled, then closed) and its TLS handshake plus
 * connect_timeout_ns. The node is moved lazily: a deadline that moved
 * later fires early once and is re-armed, so a busy connection costs one
 * wheel operation per timeout, not one per send.
 *
 * The loop (eng_run): flush the dirty connections' sends, give receive
 * buffers back, wait on the rings, dispatch every completion, fire the
 * due timers, call ops.turn; until ops.turn returns ENG_STOP or a wait
 * fails. Several rings: rings 1.. signal an eventfd that ring 0 reads,
 * so the thread sleeps in ring 0 alone (see eng.c).
 *
 * Self-check counters (struct eng_stats): a full completion queue
 * (per ring, ring.h), receives that found no buffer (enobufs), the
 * buffers of bundles and the part-used incremental buffers (bundle_bufs,
 * inc_partial: the features at work), and the byte, accept and TLS
 * counts the applications report.
 */
#ifndef ESMELOAD_ENG_H
#define ESMELOAD_ENG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "engine/outq.h"
#include "pool.h"
#include "engine/ring.h"
#include "tls.h"
#include "tw.h"

#define ENG_NIL UINT32_MAX
#define ENG_MAX_LISTEN 8

enum eng_send { ENG_SEND_SLOT = 0, ENG_SEND_QUEUE };
/* How slot sends leave (eng_opts.zc, after eng_init: eng.zc). */
enum { ENG_ZC_OFF = 0, ENG_ZC_PLAIN, ENG_ZC_FIXED };

/* ops.turn's answer: go on (waiting no longer than the wheel says), or
 * stop the loop. A positive value bounds the next wait, in ns. */
#define ENG_GO 0
#define ENG_STOP (-1)

/* A destination of eng_connect. */
struct eng_target {
	struct sockaddr_storage addr;
	socklen_t addr_len;        /* 0: no address; eng_connect says why */
	const char *no_addr;       /* ... in these words */
	const char *tls_host;      /* NULL: plain TCP; else TLS to this name */
};

/* Why the engine closed a connection (ops.closed). */
struct eng_why {
	int err;                   /* -errno */
	const char *text;          /* the cause in words, or NULL: err says */
	uint8_t connecting;        /* the TCP connect had not completed */
	uint8_t handshaking;       /* ... or the TLS handshake */
	uint8_t input;             /* the input carry failed (too long or
				    * out of blocks): err -EMSGSIZE/-ENOMEM */
};

struct eng_ops {
	/* A client connection is ready: connected, and its TLS handshake
	 * done. local: its local address. */
	void (*up)(void *app, uint32_t id, uint32_t tag,
		   const struct sockaddr_storage *local);
	/* A listener accepted connection id (its tag is 0). */
	void (*accepted)(void *app, uint32_t id, unsigned listener);
	/* Bytes received (plaintext); returns how many it consumed (the
	 * rest is kept and given again with more), or < 0 to close. */
	long (*input)(void *app, uint32_t id, uint32_t tag, uint8_t *p,
		      size_t n);
	/* Slot backend: a send took these units at eng.now_ns (NULL: no
	 * interest). */
	void (*submitted)(void *app, uint32_t id, uint32_t tag,
			  unsigned units);
	/* Slot backend: the kernel took every byte of these units;
	 * detached: the connection was closed meanwhile. */
	void (*sent)(void *app, uint32_t id, uint32_t tag, unsigned units,
		     int detached);
	/* A send completed: the slot has room again (NULL: none). */
	void (*writable)(void *app, uint32_t id, uint32_t tag);
	/* The engine closed the connection, for this reason; err 0: a
	 * lingering connection sent what it had (eng_linger). */
	void (*closed)(void *app, uint32_t id, uint32_t tag,
		       const struct eng_why *why);
	/* A send waited send_timeout_ns; the engine closes the connection
	 * after this call (without ops.closed). NULL: ops.closed. */
	void (*stalled)(void *app, uint32_t id, uint32_t tag);
	/* The application's deadline (eng_deadline) passed. NULL for an
	 * application that never calls eng_deadline. */
	void (*deadline)(void *app, uint32_t id, uint32_t tag);
	/* A node armed with eng_timer_at expired (it is disarmed). NULL for
	 * one that never calls eng_timer_at. */
	void (*timer)(void *app, struct tw_node *n);
	/* Another engine's eng_msg_post reached this one, with its value
	 * (NULL for an application that is never posted to). */
	void (*message)(void *app, uint32_t value);
	/* After every batch of completions and timers. */
	int64_t (*turn)(void *app);
};

/* eng_opts.listen: how eng_listen binds. ENG_LISTEN_GROUP_FIRST binds
 * with SO_REUSEPORT after checking that nothing else holds the port (a
 * port in use is an error, as for ENG_LISTEN_OWN); ENG_LISTEN_GROUP_JOIN
 * joins the group such a listener started, so several engines (threads)
 * accept on one port and the kernel spreads connections over them. */
enum { ENG_LISTEN_OWN = 0, ENG_LISTEN_GROUP_FIRST, ENG_LISTEN_GROUP_JOIN };

struct eng_opts {
	unsigned max_conns;        /* connection slots */
	unsigned ring_entries;     /* SQ size per ring (0: 4096) */
	unsigned cq_entries;       /* CQ size per ring (0: 8 x entries) */
	unsigned nbufs, buf_size;  /* provided receive buffers (all rings) */
	unsigned inc_buf_size;     /* RING_F_BUF_INC: bytes per buffer, the
				    * same memory in fewer (0: 64 KiB) */
	int no_defer, sqpoll;      /* ring setup experiments */
	unsigned uring_off;        /* enum ring_feat refused (--uring-off) */
	unsigned uring_want;       /* enum ring_feat asked for beyond ring_fd */
	unsigned min_wait_us;      /* RING_F_MIN_WAIT: the wake-up grain */
	enum eng_send send;
	unsigned slot_size;        /* ENG_SEND_SLOT: bytes per connection */
	int zc;                    /* ENG_SEND_SLOT: SEND_ZC (--zc) */
	size_t out_block;          /* ENG_SEND_QUEUE: block size */
	size_t out_memory;         /* ... all queues together */
	size_t in_block;           /* longest partial input kept */
	size_t in_memory;          /* all partial inputs together (0: 64 MiB) */
	unsigned tick_shift;       /* wheel tick: 2^tick_shift ns */
	unsigned wheel_slots;
	int64_t t0_ns;             /* tick 0 (monotonic) */
	int64_t max_wait_ns;       /* longest sleep of the loop */
	int64_t slack_ns;          /* a wake may be this late (batching) */
	int64_t send_timeout_ns;   /* 0: sends never stall */
	int64_t connect_timeout_ns; /* the TCP connect; the TLS handshake */
	int sndbuf;                /* SO_SNDBUF of client sockets (0) */
	uint32_t src_lo, src_hi;   /* IPv4 source pool, host order (0) */
	const struct eng_target *targets;
	unsigned ntargets;
	const struct tls_tas *tas; /* TLS targets: trust anchors */
	int insecure;              /* TLS: accept any certificate */
	int listen;                /* ENG_LISTEN_* */
};

struct eng_stats {
	uint64_t accepted, closed;
	uint64_t bytes_in, bytes_out;
	uint64_t enobufs;          /* receives that found no buffer */
	uint64_t bundle_bufs;      /* RING_F_RECV_BUNDLE: buffers received in
				    * completions that filled several */
	uint64_t inc_partial;      /* RING_F_BUF_INC: completions after which
				    * the kernel kept the buffer for more */
	uint64_t conn_limit;       /* accepts refused: tables full */
	uint64_t recv_errors;      /* receive errors other than a reset */
	uint64_t send_errors;      /* send errors other than EPIPE, reset */
	uint64_t too_big;          /* inputs over in_block */
	uint64_t no_memory;        /* input or output blocks exhausted */
	uint64_t tls_handshakes, tls_resumed;
	uint64_t zc_sends, zc_copied;
	uint64_t msg_posted;       /* eng_msg_post: messages submitted */
	uint64_t msg_failed;       /* ... that the kernel refused */
};

struct eng_tls;

/* A connection's state and the flags the inline calls below read (the
 * engine's files have the rest, engine/internal.h). */
enum { ENG_C_FREE = 0, ENG_C_CONNECTING, ENG_C_OPEN, ENG_C_CLOSING };
enum { ENG_F_DIRTY = 4, ENG_F_LINGER = 64, ENG_F_DETACHED = 128 };

/* A connection slot. The application reads it through the calls below. */
struct eng_conn {
	uint32_t gen;
	uint8_t state;             /* free, connecting, open, closing */
	uint8_t flags;
	uint8_t target;            /* eng_connect's */
	uint8_t listener;          /* the listener that accepted it */
	uint32_t tag;
	uint32_t in_len;
	uint8_t *in;               /* partial input (in_pool), or NULL */
	union {
		struct {           /* ENG_SEND_SLOT */
			uint16_t len;      /* bytes in the slot */
			uint16_t off;      /* first byte not yet sent */
			uint16_t inflight; /* end of the send in flight */
			uint16_t units;    /* units in [inflight, len) */
			uint16_t units_inflight;
		} s;
		struct outq q;     /* ENG_SEND_QUEUE */
	} out;
	uint32_t next_free;        /* free list (client slots) */
	int fd;                    /* ordinary descriptor while connecting */
	int64_t send_since;        /* the send in flight was submitted */
	uint64_t app_due;          /* eng_deadline's tick, 0: none */
	struct tw_node dl;         /* the deadline node */
	struct eng_tls *tls;       /* TLS connections, or NULL */
};

/* One io_uring and its table: slots base .. base + cap - 1. */
struct eng_ring {
	struct ring ring;
	uint32_t base, cap;
	uint32_t used;             /* entries held (accepted, not closed) */
	uint32_t pend;             /* single accepts armed, an entry each */
};

struct eng_send_vec;

struct eng {
	struct eng_opts o;
	const struct eng_ops *ops;
	void *app;
	struct eng_ring *rings;
	uint32_t nrings, per_ring;
	int wake_fd;               /* rings 1.. signal it; ring 0 reads it */
	uint64_t wake_val;
	struct eng_conn *conns;
	uint32_t nconns;
	uint32_t free_head;
	uint32_t *dirty;
	uint32_t ndirty;
	uint8_t *arena;            /* ENG_SEND_SLOT: nconns * slot_size */
	int zc;                    /* ENG_ZC_* in use */
	struct eng_send_vec *sv;   /* ENG_SEND_QUEUE: msghdrs not submitted */
	uint32_t nsv;
	struct pool in_pool, out_pool, tls_pool;
	struct tls_session *tls_sess; /* per target, resumable */
	uint32_t tls_handshaking;
	struct tw tw;
	int timers_off;            /* 1: the wheel is not advanced */
	int64_t now_ns;            /* monotonic, refreshed around batches */
	uint64_t src_next;
	struct __kernel_timespec connect_ts;
	/* listeners */
	int lfd[ENG_MAX_LISTEN];
	unsigned nlisten;
	uint32_t acc_depth;
	uint32_t acc_pend[ENG_MAX_LISTEN];
	int32_t acc_multi[ENG_MAX_LISTEN];
	uint8_t acc_cancel;
	struct eng_stats stats;
	int err;                   /* the wait that ended the loop, -errno */
	int msg_err;               /* the first refused eng_msg_post, -errno */
	char err_text[160];
};

/*
 * Set up e for o (copied) and ops/app. Returns 0, or -errno with a
 * one-line explanation in err. eng_exit frees what eng_init got, also
 * after a failure.
 */
int eng_init(struct eng *e, const struct eng_opts *o,
	     const struct eng_ops *ops, void *app, char *err, size_t errlen);
void eng_exit(struct eng *e);

/*
 * Listen on host:port (an IPv4 or IPv6 literal; port 0: any) with
 * SO_RCVBUF rcvbuf (0: the kernel's) and start accepting. Returns the
 * listener's number and its bound port in *bound, or -errno with err.
 */
int eng_listen(struct eng *e, const char *host, uint16_t port, int rcvbuf,
	       uint16_t *bound, char *err, size_t errlen);

/*
 * Connect to target t for tag; returns the slot, or ENG_NIL with the cause
 * in why (no callback follows). The connect is bounded by
 * connect_timeout_ns; then ops.up or ops.closed.
 */
uint32_t eng_connect(struct eng *e, unsigned t, uint32_t tag, char *why,
		     size_t whylen);

/* Close now; what is queued is dropped. No callback follows (but
 * ops.sent, detached). Nothing when already closing. */
void eng_close(struct eng *e, uint32_t id);
/* Close once what is queued has been sent (then ops.closed, err 0);
 * input is no longer read, writes fail. */
void eng_linger(struct eng *e, uint32_t id);

/* ENG_SEND_SLOT: the free part of id's slot and its size. */
static inline uint8_t *eng_slot(struct eng *e, uint32_t id, size_t *room)
{
	const struct eng_conn *c = &e->conns[id];

	*room = e->o.slot_size - c->out.s.len;
	return e->arena + (size_t)id * e->o.slot_size + c->out.s.len;
}
/* ... n bytes were written there, carrying units. */
static inline void eng_commit(struct eng *e, uint32_t id, size_t n,
			      unsigned units)
{
	struct eng_conn *c = &e->conns[id];

	c->out.s.len += (uint16_t)n;
	c->out.s.units += (uint16_t)units;
	if (!(c->flags & ENG_F_DIRTY)) {
		c->flags |= ENG_F_DIRTY;
		e->dirty[e->ndirty++] = id;
	}
}
/*
 * ENG_SEND_QUEUE: queue n bytes, all or nothing. limit bounds what may
 * wait (SIZE_MAX: only the pool). Returns 0, -ENOBUFS (over limit),
 * -ENOMEM (pool exhausted) or -EPIPE (closing, lingering).
 */
int eng_write(struct eng *e, uint32_t id, const void *p, size_t n,
	      size_t limit);
/* Bytes queued and not yet sent (either backend). */
size_t eng_pending(const struct eng *e, uint32_t id);
/* Connections with bytes not yet sent (a scan: for the drain). */
int eng_sends_pending(const struct eng *e);

/* Arm or move id's application deadline to tick (0: none). */
void eng_deadline(struct eng *e, uint32_t id, uint64_t tick);
/* 1 while id is connected and not closing. */
static inline int eng_open(const struct eng *e, uint32_t id)
{
	const struct eng_conn *c = &e->conns[id];

	return c->state == ENG_C_OPEN && !(c->flags & ENG_F_DETACHED);
}
/* 1 while eng_open and not lingering: writes are taken. */
static inline int eng_writable(const struct eng *e, uint32_t id)
{
	return eng_open(e, id) && !(e->conns[id].flags & ENG_F_LINGER);
}

/* Arm n (disarmed first) at tick; ops.timer fires it. */
void eng_timer_at(struct eng *e, struct tw_node *n, uint64_t tick);
static inline void eng_timer_del(struct eng *e, struct tw_node *n)
{
	tw_del(&e->tw, n);
}

/* Ticks of the engine's wheel. */
static inline uint64_t eng_tick_of(const struct eng *e, int64_t at_ns)
{
	int64_t t0 = e->o.t0_ns;
	uint64_t one = (uint64_t)1 << e->o.tick_shift;

	return at_ns <= t0 ? 0 :
	       ((uint64_t)(at_ns - t0) + one - 1) >> e->o.tick_shift;
}
/* The ticks begun by e->now_ns (what the loop advances the wheel to). */
static inline uint64_t eng_tick_now(const struct eng *e)
{
	return e->now_ns <= e->o.t0_ns ? 0 :
	       (uint64_t)(e->now_ns - e->o.t0_ns) >> e->o.tick_shift;
}
/* Nanoseconds from now_ns until tick begins (0 if it has): the loop's
 * wait, so a timer never fires early and at most a tick late. */
static inline int64_t eng_tick_wait(const struct eng *e, uint64_t tick,
				    int64_t now_ns)
{
	int64_t at = e->o.t0_ns + (int64_t)(tick << e->o.tick_shift);

	return at > now_ns ? at - now_ns : 0;
}

/*
 * Post value to another engine's loop (its thread): an IORING_OP_MSG_RING
 * from ring 0 to the ring whose descriptor eng_msg_fd gave, submitted with
 * this engine's next batch; there it is a completion that calls
 * ops.message(value). No completion here unless the kernel refuses it
 * (counted: stats.msg_failed; the first error is latched in msg_err).
 */
void eng_msg_post(struct eng *e, int to_fd, uint32_t value);
/* The descriptor other engines post to (ring 0's), -1 before setup. */
static inline int eng_msg_fd(const struct eng *e)
{
	return e->rings && e->nrings ? e->rings[0].ring.uring.ring_fd : -1;
}

/* Run the loop until ops.turn says ENG_STOP (returns 0) or a wait fails
 * (returns -errno, e->err_text says it). */
int eng_run(struct eng *e);
/* Send what is dirty now (ops.turn may call it while draining). */
void eng_flush(struct eng *e);

/* Summed over the rings: waits after which completions were held back,
 * and completions the kernel dropped. */
uint64_t eng_cq_overflows(const struct eng *e);
uint64_t eng_cq_dropped(const struct eng *e);
/*
 * Feature i of enum ring_feat on ring 0 in words: "on" (in use), "off"
 * (refused: eng_opts.uring_off), "unsupported" (asked for, the kernel
 * said no) or "unused" (not asked for). NULL before setup.
 */
static inline const char *eng_feat_state(const struct eng *e, unsigned i)
{
	const struct ring *r;
	unsigned bit = 1U << i;

	if (!e->rings || !e->nrings || i >= RING_F_COUNT)
		return NULL;
	r = &e->rings[0].ring;
	if (r->feat & bit)
		return "on";
	if (e->o.uring_off & bit)
		return "off";
	if (r->feat_unsupported & bit)
		return "unsupported";
	return "unused";
}

/* Setup flags of ring 0 in words (ring_mode), "" before setup. */
static inline const char *eng_ring_mode(const struct eng *e)
{
	return e->rings && e->rings[0].ring.uring.ring_fd > 0 ?
	       ring_mode(&e->rings[0].ring) : "";
}

#endif
