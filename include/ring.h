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
 */
#ifndef ESMELOAD_RING_H
#define ESMELOAD_RING_H

#include <stddef.h>
#include <stdint.h>

#include "uring_compat.h"

struct ring_opts {
	unsigned entries;    /* SQ size; CQ is 8x */
	unsigned files;      /* direct descriptor table size (0: none) */
	unsigned nbufs;      /* provided buffers (power of two; 0: none) */
	unsigned buf_size;   /* bytes per provided buffer */
	int no_defer;        /* 1: do not try DEFER_TASKRUN */
	int sqpoll;          /* 1: SQPOLL (experiments) */
};

struct ring {
	struct io_uring uring;
	unsigned setup_flags;  /* what setup accepted */
	unsigned features;     /* IORING_FEAT_* reported by the kernel */
	/* provided buffers, group RING_BGID */
	struct io_uring_buf_ring *br;
	uint8_t *bufs;
	unsigned nbufs, buf_size;
	unsigned br_pending;   /* buffers returned since the last publish */
	size_t br_map_len;
	/* counters */
	uint64_t enobufs;      /* multishot recv ended for lack of buffers */
	uint64_t cq_overflow;  /* kernel-reported CQ overflows seen */
};

#define RING_BGID 0

/*
 * Set up r. On failure returns -errno and writes a one-line explanation (what
 * failed, what to do) into err.
 */
int ring_init(struct ring *r, const struct ring_opts *o, char *err,
	      size_t errlen);
void ring_exit(struct ring *r);

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
