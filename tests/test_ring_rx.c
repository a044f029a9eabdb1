/*
 * Unit tests for the walk over a receive completion's buffers (ring_rx in
 * src/engine/ring.h): a bundle's buffers found by ring position after
 * buffers went back out of order, incremental buffers consumed a part at
 * a time, and what goes back to the kernel. The ring is built by hand (no
 * io_uring): the walk only reads the shadow and writes ring entries.
 */
#include "test.h"
#include "engine/eng.h"
#include "engine/ring.h"

#include <stdlib.h>

#define NB 8
#define SZ 16

static struct ring r;

/* NB buffers of SZ bytes at positions 0..NB-1, bid = position; feat. */
static int ring_fake(unsigned feat)
{
	memset(&r, 0, sizeof(r));
	r.br = aligned_alloc(4096, 4096);
	r.bufs = malloc(NB * SZ);
	r.bid_at = calloc(NB, sizeof(*r.bid_at));
	r.pos_of = calloc(NB, sizeof(*r.pos_of));
	r.buf_off = calloc(NB, sizeof(*r.buf_off));
	if (!r.br || !r.bufs || !r.bid_at || !r.pos_of || !r.buf_off)
		return -1;
	memset(r.br, 0, 4096);
	r.nbufs = NB;
	r.buf_size = SZ;
	r.feat = feat;
	for (unsigned i = 0; i < NB; i++) {
		io_uring_buf_ring_add(r.br, ring_buf(&r, i), SZ, i,
				      io_uring_buf_ring_mask(NB), i);
		r.bid_at[i] = (uint16_t)i;
		r.pos_of[i] = (uint16_t)i;
	}
	io_uring_buf_ring_advance(r.br, NB);
	return 0;
}

static void ring_unfake(void)
{
	free(r.br);
	free(r.bufs);
	free(r.bid_at);
	free(r.pos_of);
	free(r.buf_off);
}

static void cqe_set(struct io_uring_cqe *c, int res, unsigned bid,
		    unsigned flags)
{
	memset(c, 0, sizeof(*c));
	c->res = res;
	c->flags = IORING_CQE_F_BUFFER | bid << IORING_CQE_BUFFER_SHIFT | flags;
}

/* The kernel's view: the bid of the entry at ring index i. */
static unsigned entry_bid(unsigned i)
{
	return r.br->bufs[i & (NB - 1)].bid;
}

/* Buffers 5, 2 and 7 went back in that order (positions 8, 9, 10): a
 * bundle starting at 5 continues with 2, then 7, not with bids 6, 7. */
static int bundle_follows_ring_order(void)
{
	struct ring_rx x;
	struct io_uring_cqe c;
	uint8_t *p;
	size_t n;

	check(ring_fake(RING_F_RECV_BUNDLE) == 0);
	ring_buf_return(&r, 5);
	ring_buf_return(&r, 2);
	ring_buf_return(&r, 7);
	check_eq(r.br_pending, 3);
	check_eq(entry_bid(8), 5);
	check_eq(entry_bid(10), 7);
	ring_bufs_publish(&r);
	check_eq(r.br->tail, NB + 3);
	cqe_set(&c, SZ + SZ + 5, 5, 0);
	ring_rx_begin(&r, &c, &x);
	n = ring_rx_next(&r, &x, &p);
	check_eq(n, SZ);
	check(p == ring_buf(&r, 5));
	n = ring_rx_next(&r, &x, &p);
	check_eq(n, SZ);
	check(p == ring_buf(&r, 2));
	n = ring_rx_next(&r, &x, &p);
	check_eq(n, 5);
	check(p == ring_buf(&r, 7));
	check_eq(ring_rx_next(&r, &x, &p), 0);
	check_eq(x.bufs, 3);
	/* all three went back, in the order of their data */
	check_eq(r.br_pending, 3);
	check_eq(entry_bid(NB + 3), 5);
	check_eq(entry_bid(NB + 4), 2);
	check_eq(entry_bid(NB + 5), 7);
	check_eq(r.pos_of[2], (NB + 4) & (NB - 1));
	ring_unfake();
	return 0;
}

/* A single-buffer completion: one piece, the buffer goes back. */
static int plain_one_buffer(void)
{
	struct ring_rx x;
	struct io_uring_cqe c;
	uint8_t *p;

	check(ring_fake(0) == 0);
	cqe_set(&c, 9, 3, 0);
	ring_rx_begin(&r, &c, &x);
	check_eq(ring_rx_next(&r, &x, &p), 9);
	check(p == ring_buf(&r, 3));
	check_eq(ring_rx_next(&r, &x, &p), 0);
	check_eq(x.bufs, 1);
	check_eq(r.br_pending, 1);
	check_eq(entry_bid(NB), 3);
	ring_unfake();
	return 0;
}

/* Incremental: BUF_MORE keeps the buffer and the next completion starts
 * where this one ended; a bundle goes from the rest of it into the next
 * buffer and may keep that one in turn. */
static int inc_parts_and_bundle(void)
{
	struct ring_rx x;
	struct io_uring_cqe c;
	uint8_t *p;

	check(ring_fake(RING_F_BUF_INC | RING_F_RECV_BUNDLE) == 0);
	cqe_set(&c, 5, 0, IORING_CQE_F_BUF_MORE);
	ring_rx_begin(&r, &c, &x);
	check_eq(ring_rx_next(&r, &x, &p), 5);
	check(p == ring_buf(&r, 0));
	check_eq(ring_rx_next(&r, &x, &p), 0);
	check_eq(r.br_pending, 0);      /* kept */
	check_eq(r.buf_off[0], 5);
	check(x.more);
	/* 11 bytes finish buffer 0, 9 go into buffer 1, which is kept */
	cqe_set(&c, 20, 0, IORING_CQE_F_BUF_MORE);
	ring_rx_begin(&r, &c, &x);
	check_eq(ring_rx_next(&r, &x, &p), SZ - 5);
	check(p == ring_buf(&r, 0) + 5);
	check_eq(ring_rx_next(&r, &x, &p), 9);
	check(p == ring_buf(&r, 1));
	check_eq(ring_rx_next(&r, &x, &p), 0);
	check_eq(x.bufs, 2);
	check_eq(r.br_pending, 1);
	check_eq(entry_bid(NB), 0);
	check_eq(r.buf_off[0], 0);
	check_eq(r.buf_off[1], 9);
	/* the last 7 bytes of buffer 1, no BUF_MORE: it goes back */
	cqe_set(&c, SZ - 9, 1, 0);
	ring_rx_begin(&r, &c, &x);
	check_eq(ring_rx_next(&r, &x, &p), SZ - 9);
	check(p == ring_buf(&r, 1) + 9);
	check_eq(ring_rx_next(&r, &x, &p), 0);
	check_eq(r.br_pending, 2);
	check_eq(r.buf_off[1], 0);
	check_eq(entry_bid(NB + 1), 1);
	ring_unfake();
	return 0;
}

/* A completion nobody reads (the slot's earlier owner) gives back every
 * buffer of its bundle, and keeps the offsets right for the next one. */
static int drop_returns_the_bundle(void)
{
	struct ring_rx x;
	struct io_uring_cqe c;
	uint8_t *p;

	check(ring_fake(RING_F_BUF_INC | RING_F_RECV_BUNDLE) == 0);
	cqe_set(&c, SZ + SZ + 3, 0, IORING_CQE_F_BUF_MORE);
	ring_rx_drop(&r, &c);
	check_eq(r.br_pending, 2);
	check_eq(entry_bid(NB), 0);
	check_eq(entry_bid(NB + 1), 1);
	check_eq(r.buf_off[2], 3);
	cqe_set(&c, 4, 2, 0);
	ring_rx_begin(&r, &c, &x);
	check_eq(ring_rx_next(&r, &x, &p), 4);
	check(p == ring_buf(&r, 2) + 3);
	check_eq(r.br_pending, 3);
	ring_unfake();
	return 0;
}

/* No bytes: a whole-buffer ring's buffer was used up (back it goes), a
 * bundle of whole buffers committed none, an incremental one says with
 * BUF_MORE whether it keeps it; no completion buffer, nothing. */
static int zero_bytes(void)
{
	struct ring_rx x;
	struct io_uring_cqe c;
	uint8_t *p;

	check(ring_fake(0) == 0);
	cqe_set(&c, 0, 4, 0);
	ring_rx_begin(&r, &c, &x);
	check_eq(ring_rx_next(&r, &x, &p), 0);
	check_eq(r.br_pending, 1);
	cqe_set(&c, -105, 0, 0);
	c.flags = 0;                    /* -ENOBUFS: no buffer */
	ring_rx_begin(&r, &c, &x);
	check_eq(ring_rx_next(&r, &x, &p), 0);
	check_eq(r.br_pending, 1);
	ring_unfake();

	check(ring_fake(RING_F_RECV_BUNDLE) == 0);
	cqe_set(&c, 0, 4, 0);
	ring_rx_begin(&r, &c, &x);
	check_eq(r.br_pending, 0);
	ring_unfake();

	check(ring_fake(RING_F_BUF_INC) == 0);
	cqe_set(&c, 0, 4, IORING_CQE_F_BUF_MORE);
	ring_rx_begin(&r, &c, &x);
	check_eq(r.br_pending, 0);
	cqe_set(&c, 0, 4, 0);
	ring_rx_begin(&r, &c, &x);
	check_eq(r.br_pending, 1);
	ring_unfake();
	return 0;
}

/* The features a kernel's IORING_FEAT_* bits decide: on when it has
 * them, unsupported (the fallback) when it lacks them, nothing when not
 * wanted. */
static int feat_of_kernel(void)
{
	unsigned both = RING_F_MIN_WAIT | RING_F_RECV_BUNDLE, un = 0;

	check_eq(ring_feat_of_kernel(0, both, &un), 0);
	check_eq(un, both);
	un = 0;
	check_eq(ring_feat_of_kernel(IORING_FEAT_MIN_TIMEOUT, both, &un),
		 RING_F_MIN_WAIT);
	check_eq(un, RING_F_RECV_BUNDLE);
	un = 0;
	check_eq(ring_feat_of_kernel(IORING_FEAT_MIN_TIMEOUT |
				     IORING_FEAT_RECVSEND_BUNDLE, both, &un),
		 both);
	check_eq(un, 0);
	check_eq(ring_feat_of_kernel(0, RING_F_RING_FD | RING_F_BUF_INC, &un), 0);
	check_eq(un, 0);
	return 0;
}

/* What self_check.uring_features and /stats say of each state. */
static int feat_states(void)
{
	static struct eng e;
	static struct eng_ring er;

	check(eng_feat_state(&e, 0) == NULL); /* before setup */
	e.rings = &er;
	e.nrings = 1;
	er.ring.feat = RING_F_RING_FD;
	er.ring.feat_unsupported = RING_F_RECV_BUNDLE;
	e.o.uring_off = RING_F_BUF_INC;
	check(!strcmp(eng_feat_state(&e, 0), "on"));
	check(!strcmp(eng_feat_state(&e, 1), "unused"));
	check(!strcmp(eng_feat_state(&e, 2), "unsupported"));
	check(!strcmp(eng_feat_state(&e, 3), "off"));
	check(eng_feat_state(&e, RING_F_COUNT) == NULL);
	return 0;
}

TEST_MAIN(T(bundle_follows_ring_order), T(plain_one_buffer),
	  T(inc_parts_and_bundle), T(drop_returns_the_bundle), T(zero_bytes),
	  T(feat_of_kernel), T(feat_states))
