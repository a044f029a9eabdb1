/*
 * ring: io_uring setup, probing and provided buffers. See ring.h.
 */
#include "engine/ring.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>

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

static int setup_bufs(struct ring *r, const struct ring_opts *o)
{
	struct io_uring_buf_reg reg;
	size_t ring_len = (size_t)o->nbufs * sizeof(struct io_uring_buf);
	size_t data_len = (size_t)o->nbufs * o->buf_size;
	void *mem;
	int ret;

	if (o->nbufs & (o->nbufs - 1))
		return -EINVAL;
	/* One mapping: the ring entries (page aligned, as the kernel wants),
	 * then the buffers. */
	ring_len = (ring_len + 4095) & ~(size_t)4095;
	mem = mmap(NULL, ring_len + data_len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return -errno;
	r->br = mem;
	r->bufs = (uint8_t *)mem + ring_len;
	r->br_map_len = ring_len + data_len;
	r->nbufs = o->nbufs;
	r->buf_size = o->buf_size;
	io_uring_buf_ring_init(r->br);
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (unsigned long)r->br;
	reg.ring_entries = o->nbufs;
	reg.bgid = RING_BGID;
	ret = io_uring_register_buf_ring(&r->uring, &reg, 0);
	if (ret < 0) {
		munmap(mem, r->br_map_len);
		r->br = NULL;
		return ret;
	}
	for (unsigned i = 0; i < o->nbufs; i++)
		io_uring_buf_ring_add(r->br, ring_buf(r, i), o->buf_size, i,
				      io_uring_buf_ring_mask(o->nbufs), i);
	io_uring_buf_ring_advance(r->br, o->nbufs);
	return 0;
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
		io_uring_unregister_buf_ring(&r->uring, RING_BGID);
		munmap(r->br, r->br_map_len);
		r->br = NULL;
	}
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

/* see ring.h */
int ring_wait(struct ring *r, struct io_uring_cqe **cqe,
	      struct __kernel_timespec *ts)
{
	int ret = io_uring_submit_and_wait_timeout(&r->uring, cqe, 1, ts, NULL);

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
	io_uring_buf_ring_add(r->br, ring_buf(r, bid), r->buf_size, bid,
			      io_uring_buf_ring_mask(r->nbufs), r->br_pending);
	r->br_pending++;
}

/* see ring.h */
void ring_bufs_publish(struct ring *r)
{
	if (r->br_pending) {
		io_uring_buf_ring_advance(r->br, r->br_pending);
		r->br_pending = 0;
	}
}
