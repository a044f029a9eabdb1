/*
 * ring: one io_uring per thread, set up with the best flags the kernel
 * accepts, a provided-buffer ring for multishot receive, a sparse table of
 * direct descriptors, and the user_data encoding every completion carries.
 *
 * IMPLEMENTATION NOTES
 * - Setup tries SINGLE_ISSUER | DEFER_TASKRUN | TASKRUN_FLAG | SUBMIT_ALL and
 *   falls back to COOP_TASKRUN, then to no flags, when the kernel says EINVAL.
 *   DEFER_TASKRUN runs completions only when we wait, which batches them and
 *   keeps the kernel from interrupting the loop.
 * - user_data = op (8 bits) | generation (24 bits) | slot index (32 bits).
 *   A slot is reused only after its close completes; the generation makes a
 *   late completion for a previous owner of the slot recognisable.
 * - A full completion queue. Every kernel esmeload runs on has
 *   IORING_FEAT_NODROP: a completion that finds the CQ full is kept on the
 *   kernel's overflow list, the kernel sets IORING_SQ_CQ_OVERFLOW in the SQ
 *   flags until the list is flushed back into the CQ (on the next wait),
 *   and io_uring_enter may answer -EBUSY meanwhile. Nothing is lost, but
 *   those completions reach the loop late: the tester was behind. The
 *   kernel drops a completion only when it cannot allocate an overflow
 *   entry; its CQ overflow counter (the mmapped cq.koverflow) counts those,
 *   and the next wait fails with -EBADR. A user sees both in the summary:
 *   cq_overflows (ring.cq_overflow below: waits after which the flag was
 *   set, plus -EBUSY answers) and cq_dropped (ring_cq_dropped). The
 *   kernel does not say how many completions waited on its list, so
 *   cq_overflow counts occasions, not completions.
 * - Receive-buffer shortage (a multishot receive ending with -ENOBUFS) is
 *   seen in the receive's completion; the ring's user counts it (serve in
 *   ring.enobufs, run in its worker's counters).
 * - Receive buffers and where they sit. Buffers go back to the kernel in
 *   any order, so a buffer id (bid) is not its position in the buffer
 *   ring. A receive with RING_F_RECV_BUNDLE fills several buffers and its
 *   completion names only the first; the others are the ones that followed
 *   it in the ring, in ring order. The ring keeps a shadow of which bid
 *   sits at which position (written where a buffer is added: setup and
 *   ring_buf_return) and the position of each bid, and ring_rx walks a
 *   completion's buffers with it. The kernel fills them in ring order,
 *   each to its end before the next (a bundle that continues into more
 *   buffers does so only after a full transfer), so every piece but the
 *   last is the rest of its buffer.
 * - RING_F_BUF_INC: the buffer ring is registered with IOU_PBUF_RING_INC
 *   and its buffers are bigger (ring_opts.inc_buf_size, the same memory
 *   in fewer buffers). The kernel then takes a buffer a part at a time,
 *   for any connection: a completion's data starts where the previous
 *   completion that used the buffer ended (ring.buf_off), and
 *   IORING_CQE_F_BUF_MORE says the kernel keeps the buffer (its last
 *   buffer, in a bundle) for more. A buffer goes back once a completion
 *   without that flag used it. Bundles and incremental buffers combine:
 *   a bundle begins in the rest of a part-used buffer and may leave its
 *   last buffer part-used; the same walk covers both. The kernel peeks a
 *   bundle's buffers only when it knows the socket holds more than the
 *   first one takes (a previous receive left data behind), so with big
 *   incremental buffers bundles happen where a receive crosses from one
 *   buffer into the next.
 * - Newer features (enum ring_feat): each is probed at setup and used only
 *   when the kernel accepts it; otherwise the ring works as before. A user
 *   may refuse one (ring_opts.off, the --uring-off flag), which takes the
 *   same fallback a kernel without it takes: that is how the fallbacks are
 *   tested and how each feature is measured against its absence.
 */
#ifndef ESMELOAD_RING_H
#define ESMELOAD_RING_H

#include <stddef.h>
#include <stdint.h>

#include "uring_compat.h"

/* Newer io_uring features (constants in uring_compat.h). */
enum ring_feat {
	/* io_uring_enter by the ring's index in the task's registered ring
	 * table, not by a descriptor looked up on each call (5.18) */
	RING_F_RING_FD = 1U << 0,
	/* a wait that sleeps at least ring_opts.min_wait_us for more
	 * completions once one is there: fewer wake-ups (6.12) */
	RING_F_MIN_WAIT = 1U << 1,
	/* a multishot receive fills several provided buffers per
	 * completion (IORING_RECVSEND_BUNDLE, 6.10) */
	RING_F_RECV_BUNDLE = 1U << 2,
	/* provided buffers consumed a part at a time: several receives
	 * share one buffer (IOU_PBUF_RING_INC, 6.12) */
	RING_F_BUF_INC = 1U << 3,
};
#define RING_F_COUNT 4
#define RING_F_ALL ((1U << RING_F_COUNT) - 1)

/* Feature i's name ("ring_fd", "min_wait", "recv_bundle", "buf_inc"). */
const char *ring_feat_name(unsigned i);
/*
 * Parse a comma-separated list of feature names ("all" for every one) into
 * *mask. Returns 0, or -EINVAL with the unknown name in err.
 */
int ring_feat_parse(const char *list, unsigned *mask, char *err,
		    size_t errlen);

/*
 * Of want, the features the kernel's IORING_FEAT_* bits (features) say it
 * has: min_wait (IORING_FEAT_MIN_TIMEOUT) and recv_bundle
 * (IORING_FEAT_RECVSEND_BUNDLE). Those wanted that it lacks are added to
 * *unsupported. (ring_fd and buf_inc are known only by trying them.)
 */
unsigned ring_feat_of_kernel(unsigned features, unsigned want,
			     unsigned *unsupported);

struct ring_opts {
	unsigned entries;    /* SQ size */
	unsigned cq_entries; /* CQ size, at least entries; 0: 8 x entries */
	unsigned files;      /* direct descriptor table size (0: none) */
	unsigned nbufs;      /* provided buffers (power of two; 0: none) */
	unsigned buf_size;   /* bytes per provided buffer */
	unsigned inc_buf_size; /* RING_F_BUF_INC: bytes per buffer (a power
				* of two; 0: buf_size), the same memory as
				* nbufs x buf_size in fewer buffers, at least
				* 16 of them (smaller buffers if need be) */
	int no_defer;        /* 1: do not try DEFER_TASKRUN */
	int sqpoll;          /* 1: SQPOLL (experiments) */
	unsigned off;        /* enum ring_feat: refused, as if the kernel
			      * lacked them */
	unsigned want;       /* enum ring_feat the user of the ring asks
			      * for beyond the default ones (ring_fd):
			      * min_wait, recv_bundle, buf_inc */
	unsigned min_wait_us; /* RING_F_MIN_WAIT: the wake-up grain */
};

struct ring {
	struct io_uring uring;
	unsigned setup_flags;  /* what setup accepted */
	unsigned features;     /* IORING_FEAT_* reported by the kernel */
	unsigned feat;         /* enum ring_feat in use */
	unsigned feat_unsupported; /* asked for, refused by the kernel */
	unsigned min_wait_us;
	int reg_tid;           /* RING_F_RING_FD: the thread whose table
				* holds the registration */
	/* provided buffers, group RING_BGID */
	struct io_uring_buf_ring *br;
	uint8_t *bufs;
	unsigned nbufs, buf_size;
	unsigned br_pending;   /* buffers returned since the last publish */
	size_t br_map_len;
	uint16_t *bid_at;      /* ring position -> the bid added there */
	uint16_t *pos_of;      /* bid -> its ring position */
	uint32_t *buf_off;     /* RING_F_BUF_INC: bytes of bid used so far */
	/* Written by the thread that waits on the ring; read by others only
	 * once it stopped. */
	uint64_t enobufs;      /* for the user's count of receives that
				* ended with -ENOBUFS (serve's) */
	uint64_t cq_overflow;  /* ring_wait calls after which the kernel held
				* completions on its overflow list (the
				* IORING_SQ_CQ_OVERFLOW flag, or -EBUSY) */
};

#define RING_BGID 0

/*
 * Set up r. On failure returns -errno and writes a one-line explanation (what
 * failed, what to do) into err.
 */
int ring_init(struct ring *r, const struct ring_opts *o, char *err,
	      size_t errlen);
void ring_exit(struct ring *r);

/*
 * Submit what is queued and wait up to ts for at least one completion, as
 * io_uring_submit_and_wait_timeout does (same returns: >= 0, or -ETIME,
 * -EINTR, -EAGAIN, -EBUSY, -EBADR after a dropped completion, ...), and
 * count a full completion queue in r->cq_overflow (see the notes above).
 * *cqe is set when the return is 0.
 */
int ring_wait(struct ring *r, struct io_uring_cqe **cqe,
	      struct __kernel_timespec *ts);

/* Completions the kernel dropped because its CQ and its overflow list were
 * full (cq.koverflow); any thread may read it while the ring is set up. */
uint64_t ring_cq_dropped(const struct ring *r);

/* 1 when the running kernel supports io_uring opcode op, else 0. */
int ring_has_op(struct ring *r, int op);

/* A short description of the accepted setup flags, e.g. "defer_taskrun". */
const char *ring_mode(const struct ring *r);

/* Get an SQE, submitting pending ones when the SQ is full. Never NULL. */
struct io_uring_sqe *ring_sqe(struct ring *r);

/* Buffer id bid's memory. */
static inline uint8_t *ring_buf(const struct ring *r, unsigned bid)
{
	return r->bufs + (size_t)bid * r->buf_size;
}

/* Give buffer bid back to the kernel (published by ring_bufs_publish). */
void ring_buf_return(struct ring *r, unsigned bid);

/*
 * The buffers of one receive completion, in the order of its data
 * (ring_rx_begin, then ring_rx_next until it returns 0). Each buffer is
 * given back to the kernel as the walk passes it, unless the kernel keeps
 * it (IORING_CQE_F_BUF_MORE); the kernel sees it only at the next
 * ring_bufs_publish, so the piece stays valid until then. Completions must
 * be walked in the order they came (the shadow and the offsets follow the
 * kernel's). A completion without IORING_CQE_F_BUFFER has no buffers.
 */
struct ring_rx {
	uint32_t left;    /* bytes not yet walked */
	uint32_t bufs;    /* buffers walked */
	uint16_t bid, pos;
	uint8_t more;     /* IORING_CQE_F_BUF_MORE: the last one stays */
};
void ring_rx_begin(struct ring *r, const struct io_uring_cqe *cqe,
		   struct ring_rx *x);
/* The next piece's bytes in *p and its length; 0 when walked. */
size_t ring_rx_next(struct ring *r, struct ring_rx *x, uint8_t **p);
/* Walk without looking: the buffers of a completion nobody reads. */
void ring_rx_drop(struct ring *r, const struct io_uring_cqe *cqe);
/* Make returned buffers visible to the kernel; cheap when none pending. */
void ring_bufs_publish(struct ring *r);

/* ---- user_data ---- */
static inline uint64_t ring_ud(unsigned op, uint32_t gen, uint32_t idx)
{
	return (uint64_t)(op & 0xff) << 56 | (uint64_t)(gen & 0xffffff) << 32 |
	       idx;
}
static inline unsigned ring_ud_op(uint64_t ud) { return ud >> 56; }
static inline uint32_t ring_ud_gen(uint64_t ud) { return (ud >> 32) & 0xffffff; }
static inline uint32_t ring_ud_idx(uint64_t ud) { return (uint32_t)ud; }

#endif
