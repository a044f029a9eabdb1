/*
 * ring: io_uring setup, probing and provided buffers. See ring.h.
 */
#include "engine/ring.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

static int try_setup(struct ring *r, const struct ring_opts *o, unsigned flags)
{
	unsigned entries = o->entries;
	struct io_uring_params p;

	memset(&p, 0, sizeof(p));
	p.flags = flags | IORING_SETUP_CQSIZE;
	p.cq_entries = o->cq_entries ? o->cq_entries : entries * 8;
	int ret = io_uring_queue_init_params(entries, &r->uring, &p);
	if (ret == 0) {
		r->setup_flags = flags;
		r->features = p.features;
	}
	return ret;
}

static void explain(int err, char *buf, size_t len)
{
	struct utsname u;

	if (uname(&u) != 0)
		snprintf(u.release, sizeof(u.release), "unknown");
	switch (err) {
	case -ENOSYS:
		snprintf(buf, len, "io_uring is not available in this kernel "
			 "(%s): esmeload needs Linux 6.0 or newer built with "
			 "CONFIG_IO_URING", u.release);
		break;
	case -EPERM:
	case -EACCES:
		snprintf(buf, len, "io_uring is disabled for this process: "
			 "check sysctl kernel.io_uring_disabled (0 enables it) "
			 "or the container's seccomp profile");
		break;
	case -ENOMEM:
		snprintf(buf, len, "io_uring setup ran out of locked memory: "
			 "raise RLIMIT_MEMLOCK (ulimit -l) or use a smaller ring");
		break;
	default:
		snprintf(buf, len, "io_uring setup failed: %s (kernel %s)",
			 strerror(-err), u.release);
	}
}

/* RING_F_BUF_INC's buffers: o's memory in fewer, bigger ones, at least 16
 * of them (smaller ones when the memory is short), never smaller than
 * buf_size. */
static void inc_layout(const struct ring_opts *o, unsigned *n, unsigned *size)
{
	size_t total = (size_t)o->nbufs * o->buf_size;
	unsigned sz = o->inc_buf_size > o->buf_size ? o->inc_buf_size :
		      o->buf_size;
	size_t k;

	while (sz > o->buf_size && total / sz < 16)
		sz >>= 1;
	if (sz < o->buf_size)
		sz = o->buf_size;
	k = total / sz;
	while (k & (k - 1))
		k &= k - 1;
	*n = k ? (unsigned)k : 1;
	*size = sz;
}

static int register_bufs(struct ring *r, unsigned n, unsigned flags)
{
	struct io_uring_buf_reg reg;

	io_uring_buf_ring_init(r->br);
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (unsigned long)r->br;
	reg.ring_entries = n;
	reg.bgid = RING_BGID;
	/* The kernel's flags field, which liburing 2.3 calls pad. */
	reg.pad = (__u16)flags;
	return io_uring_register_buf_ring(&r->uring, &reg, 0);
}

static int setup_bufs(struct ring *r, const struct ring_opts *o)
{
	size_t ring_len = (size_t)o->nbufs * sizeof(struct io_uring_buf);
	size_t data_len = (size_t)o->nbufs * o->buf_size;
	unsigned n = o->nbufs, size = o->buf_size, inc_n, inc_size;
	void *mem;
	int ret = -EINVAL;

	if (o->nbufs & (o->nbufs - 1))
		return -EINVAL;
	/* One mapping: the ring entries (page aligned, as the kernel wants),
	 * then the buffers. Sized for the plain layout, which has the more
	 * entries and the same memory as the incremental one. */
	ring_len = (ring_len + 4095) & ~(size_t)4095;
	mem = mmap(NULL, ring_len + data_len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return -errno;
	r->br = mem;
	r->bufs = (uint8_t *)mem + ring_len;
	r->br_map_len = ring_len + data_len;
	r->bid_at = calloc(n, sizeof(*r->bid_at));
	r->pos_of = calloc(n, sizeof(*r->pos_of));
	r->buf_off = calloc(n, sizeof(*r->buf_off));
	if (!r->bid_at || !r->pos_of || !r->buf_off)
		return -ENOMEM;
	if ((o->want & RING_F_BUF_INC) && !(o->off & RING_F_BUF_INC)) {
		inc_layout(o, &inc_n, &inc_size);
		ret = register_bufs(r, inc_n, IOU_PBUF_RING_INC);
		if (ret == 0) {
			r->feat |= RING_F_BUF_INC;
			n = inc_n;
			size = inc_size;
		} else if (ret == -EINVAL) {
			/* a kernel before 6.12: whole buffers */
			r->feat_unsupported |= RING_F_BUF_INC;
		} else {
			return ret;
		}
	}
	if (ret != 0)
		ret = register_bufs(r, n, 0);
	if (ret < 0)
		return ret;
	r->nbufs = n;
	r->buf_size = size;
	for (unsigned i = 0; i < n; i++) {
		io_uring_buf_ring_add(r->br, ring_buf(r, i), size, i,
				      io_uring_buf_ring_mask(n), i);
		r->bid_at[i] = (uint16_t)i;
		r->pos_of[i] = (uint16_t)i;
	}
	io_uring_buf_ring_advance(r->br, n);
	return 0;
}

static const char *const feat_names[RING_F_COUNT] = {
	"ring_fd", "min_wait", "recv_bundle", "buf_inc",
};

/* see ring.h */
const char *ring_feat_name(unsigned i)
{
	return i < RING_F_COUNT ? feat_names[i] : "?";
}

/* see ring.h */
int ring_feat_parse(const char *list, unsigned *mask, char *err,
		    size_t errlen)
{
	const char *p = list;

	*mask = 0;
	while (*p) {
		size_t n = strcspn(p, ",");
		unsigned i;

		if (n == 3 && !strncmp(p, "all", 3)) {
			*mask |= RING_F_ALL;
		} else {
			for (i = 0; i < RING_F_COUNT; i++)
				if (strlen(feat_names[i]) == n &&
				    !strncmp(p, feat_names[i], n))
					break;
			if (i == RING_F_COUNT) {
				snprintf(err, errlen, "unknown io_uring feature "
					 "'%.*s' (known: ring_fd, min_wait, "
					 "recv_bundle, buf_inc, all)", (int)n, p);
				return -EINVAL;
			}
			*mask |= 1U << i;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

/* The features that need nothing but the kernel's yes. */
static void probe_feats(struct ring *r, const struct ring_opts *o)
{
	unsigned want = (o->want | RING_F_RING_FD) & ~o->off;

	/* SQPOLL's thread enters for us; a registered descriptor is for
	 * the task that calls io_uring_enter. */
	if ((want & RING_F_RING_FD) && !(r->setup_flags & IORING_SETUP_SQPOLL)) {
		if (io_uring_register_ring_fd(&r->uring) == 1) {
			r->feat |= RING_F_RING_FD;
			r->reg_tid = (int)syscall(SYS_gettid);
		} else {
			r->feat_unsupported |= RING_F_RING_FD;
		}
	}
	if (!o->min_wait_us)
		want &= ~RING_F_MIN_WAIT;
	r->feat |= ring_feat_of_kernel(r->features, want, &r->feat_unsupported);
	if (r->feat & RING_F_MIN_WAIT)
		r->min_wait_us = o->min_wait_us;
}

/* see ring.h */
unsigned ring_feat_of_kernel(unsigned features, unsigned want,
			     unsigned *unsupported)
{
	static const struct {
		unsigned feat, kernel;
	} by_flag[] = {
		{ RING_F_MIN_WAIT, IORING_FEAT_MIN_TIMEOUT },
		{ RING_F_RECV_BUNDLE, IORING_FEAT_RECVSEND_BUNDLE },
	};
	unsigned on = 0;

	for (size_t i = 0; i < sizeof(by_flag) / sizeof(by_flag[0]); i++) {
		if (!(want & by_flag[i].feat))
			continue;
		if (features & by_flag[i].kernel)
			on |= by_flag[i].feat;
		else
			*unsupported |= by_flag[i].feat;
	}
	return on;
}

/* see ring.h */
int ring_init(struct ring *r, const struct ring_opts *o, char *err,
	      size_t errlen)
{
	unsigned base = IORING_SETUP_SUBMIT_ALL;
	int ret;

	memset(r, 0, sizeof(*r));
	if (o->sqpoll) {
		ret = try_setup(r, o, IORING_SETUP_SQPOLL | base);
	} else {
		ret = -EINVAL;
		if (!o->no_defer)
			ret = try_setup(r, o,
					base | IORING_SETUP_SINGLE_ISSUER |
					IORING_SETUP_DEFER_TASKRUN |
					IORING_SETUP_TASKRUN_FLAG);
		if (ret == -EINVAL)
			ret = try_setup(r, o,
					base | IORING_SETUP_COOP_TASKRUN |
					IORING_SETUP_TASKRUN_FLAG);
		if (ret == -EINVAL)
			ret = try_setup(r, o, 0);
	}
	if (ret < 0) {
		explain(ret, err, errlen);
		return ret;
	}
	/* Multishot recv and accept need the fast-poll path (5.19+ features
	 * are all implied by EXT_ARG + the buffer ring registering below). */
	if (!(r->features & IORING_FEAT_FAST_POLL) ||
	    !(r->features & IORING_FEAT_EXT_ARG)) {
		snprintf(err, errlen, "this kernel's io_uring lacks fast poll "
			 "or extended wait arguments: esmeload needs Linux 6.0+");
		ring_exit(r);
		return -EOPNOTSUPP;
	}
	probe_feats(r, o);
	if (o->files) {
		ret = io_uring_register_files_sparse(&r->uring, o->files);
		if (ret < 0) {
			snprintf(err, errlen, "cannot register %u direct "
				 "descriptors: %s (the table is limited by "
				 "RLIMIT_NOFILE)", o->files, strerror(-ret));
			ring_exit(r);
			return ret;
		}
	}
	if (o->nbufs) {
		ret = setup_bufs(r, o);
		if (ret < 0) {
			snprintf(err, errlen, "cannot register a provided-buffer "
				 "ring of %u x %u bytes: %s (needs Linux 5.19+)",
				 o->nbufs, o->buf_size, strerror(-ret));
			ring_exit(r);
			return ret;
		}
	}
	return 0;
}

/* see ring.h */
void ring_exit(struct ring *r)
{
	if (r->br) {
		if (r->nbufs)
			io_uring_unregister_buf_ring(&r->uring, RING_BGID);
		munmap(r->br, r->br_map_len);
		r->br = NULL;
	}
	free(r->bid_at);
	free(r->pos_of);
	free(r->buf_off);
	r->bid_at = r->pos_of = NULL;
	r->buf_off = NULL;
	/* A registered descriptor lives in the registering thread's table
	 * (gone when that thread ended); another thread must not unregister
	 * that index in its own. liburing 2.3 marks the registration with
	 * bit 0 of int_flags (its INT_FLAG_REG_RING). */
	if ((r->feat & RING_F_RING_FD) &&
	    (int)syscall(SYS_gettid) != r->reg_tid)
		r->uring.int_flags &= (__u8)~1U;
	if (r->uring.ring_fd > 0)
		io_uring_queue_exit(&r->uring);
	r->uring.ring_fd = -1;
}

/* see ring.h */
int ring_has_op(struct ring *r, int op)
{
	struct io_uring_probe *p = io_uring_get_probe_ring(&r->uring);
	int yes;

	if (!p)
		return 0;
	yes = io_uring_opcode_supported(p, op);
	io_uring_free_probe(p);
	return yes;
}

/*
 * The wait with a minimum batch time: submit what is queued and wait, in
 * one io_uring_enter, for up to wait_nr completions; once one is there the
 * kernel waits at most min_wait_us more for the rest, and at most ts in
 * all. liburing 2.3 has no call that passes min_wait_usec, so the SQ tail
 * is published here as its submit does (without SQPOLL: store the local
 * tail into the kernel's) and the extended argument is ours.
 */
static int wait_min(struct ring *r, struct io_uring_cqe **cqe,
		    struct __kernel_timespec *ts)
{
	struct io_uring *u = &r->uring;
	struct io_uring_getevents_arg arg;
	unsigned submit = u->sq.sqe_tail - u->sq.sqe_head;
	unsigned flags = IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG;
	int fd = u->ring_fd, ret;

	if (submit) {
		io_uring_smp_store_release(u->sq.ktail, u->sq.sqe_tail);
		u->sq.sqe_head = u->sq.sqe_tail;
	}
	if (io_uring_cq_ready(u) && !submit)
		return io_uring_peek_cqe(u, cqe);
	memset(&arg, 0, sizeof(arg));
	arg.sigmask_sz = _NSIG / 8;
	arg.pad = r->min_wait_us;      /* min_wait_usec */
	arg.ts = (uint64_t)(uintptr_t)ts;
	if (r->feat & RING_F_RING_FD) {
		fd = u->enter_ring_fd;
		flags |= IORING_ENTER_REGISTERED_RING;
	}
	/* Enough completions that the minimum time, not the count, ends
	 * the wait. */
	ret = io_uring_enter2((unsigned)fd, submit, *u->cq.kring_entries,
			      flags, (sigset_t *)&arg, sizeof(arg));
	if (ret < 0 && ret != -ETIME && ret != -EINTR)
		return ret;
	ret = io_uring_peek_cqe(u, cqe);
	return ret == -EAGAIN ? -ETIME : ret;
}

/* see ring.h */
int ring_wait(struct ring *r, struct io_uring_cqe **cqe,
	      struct __kernel_timespec *ts)
{
	int ret = (r->feat & RING_F_MIN_WAIT) ?
		wait_min(r, cqe, ts) :
		io_uring_submit_and_wait_timeout(&r->uring, cqe, 1, ts, NULL);

	/* The flag stays set until the kernel flushed its overflow list into
	 * the CQ, which the next wait does once the loop made room. */
	if (ret == -EBUSY || io_uring_cq_has_overflow(&r->uring))
		r->cq_overflow++;
	return ret;
}

/* see ring.h */
uint64_t ring_cq_dropped(const struct ring *r)
{
	if (r->uring.ring_fd <= 0 || !r->uring.cq.koverflow)
		return 0;
	return IO_URING_READ_ONCE(*r->uring.cq.koverflow);
}

/* see ring.h */
const char *ring_mode(const struct ring *r)
{
	if (r->setup_flags & IORING_SETUP_SQPOLL)
		return "sqpoll";
	if (r->setup_flags & IORING_SETUP_DEFER_TASKRUN)
		return "defer_taskrun";
	if (r->setup_flags & IORING_SETUP_COOP_TASKRUN)
		return "coop_taskrun";
	return "plain";
}

/* see ring.h */
struct io_uring_sqe *ring_sqe(struct ring *r)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&r->uring);

	while (!sqe) {
		io_uring_submit(&r->uring);
		sqe = io_uring_get_sqe(&r->uring);
	}
	return sqe;
}

/* see ring.h */
void ring_buf_return(struct ring *r, unsigned bid)
{
	unsigned mask = io_uring_buf_ring_mask(r->nbufs);
	unsigned pos = (r->br->tail + r->br_pending) & mask;

	io_uring_buf_ring_add(r->br, ring_buf(r, bid), r->buf_size, bid,
			      mask, r->br_pending);
	r->bid_at[pos] = (uint16_t)bid;
	r->pos_of[bid] = (uint16_t)pos;
	r->br_pending++;
}

/*
 * A completion's buffers (see ring.h and the notes there). What the
 * kernel does, for the record: the first buffer is the one at the buffer
 * ring's head, named in the completion; a bundle maps the buffers after it
 * in ring order and commits as many as its bytes filled; an incremental
 * ring advances the head buffer's address and length by what was used and
 * moves the head past a buffer only once it is used up, which the missing
 * IORING_CQE_F_BUF_MORE reports for the completion's last buffer.
 */
void ring_rx_begin(struct ring *r, const struct io_uring_cqe *cqe,
		   struct ring_rx *x)
{
	unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;

	memset(x, 0, sizeof(*x));
	if (!(cqe->flags & IORING_CQE_F_BUFFER) || bid >= r->nbufs)
		return;
	x->bid = (uint16_t)bid;
	x->pos = r->pos_of[bid];
	x->more = !!(cqe->flags & IORING_CQE_F_BUF_MORE);
	x->left = cqe->res > 0 ? (uint32_t)cqe->res : 0;
	/* No bytes, and a buffer all the same: the kernel used the buffer
	 * up, unless it says it keeps it or it was a bundle of whole
	 * buffers, which commits as many buffers as bytes filled (none). */
	if (!x->left && !x->more &&
	    (r->feat & (RING_F_RECV_BUNDLE | RING_F_BUF_INC)) !=
	    RING_F_RECV_BUNDLE) {
		r->buf_off[bid] = 0;
		ring_buf_return(r, bid);
	}
}

size_t ring_rx_next(struct ring *r, struct ring_rx *x, uint8_t **p)
{
	unsigned bid = x->bid;
	uint32_t off, n;

	if (!x->left || x->bufs >= r->nbufs)
		return 0;
	off = (r->feat & RING_F_BUF_INC) ? r->buf_off[bid] : 0;
	if (off >= r->buf_size)
		return 0;
	n = r->buf_size - off;
	if (n > x->left)
		n = x->left;
	*p = ring_buf(r, bid) + off;
	x->left -= n;
	x->bufs++;
	if (!x->left && x->more) {
		r->buf_off[bid] = off + n;
		return n;
	}
	r->buf_off[bid] = 0;
	ring_buf_return(r, bid);
	if (x->left) {
		x->pos = (uint16_t)((x->pos + 1) & (r->nbufs - 1));
		x->bid = r->bid_at[x->pos];
	}
	return n;
}

void ring_rx_drop(struct ring *r, const struct io_uring_cqe *cqe)
{
	struct ring_rx x;
	uint8_t *p;

	ring_rx_begin(r, cqe, &x);
	while (ring_rx_next(r, &x, &p))
		;
}

/* see ring.h */
void ring_bufs_publish(struct ring *r)
{
	if (r->br_pending) {
		io_uring_buf_ring_advance(r->br, r->br_pending);
		r->br_pending = 0;
	}
}
