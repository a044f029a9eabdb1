/*
 * bench/limit/limit.c: the floor of a load tester's CPU per message.
 *
 * It opens N loopback TCP connections to a discard server (bench/limit/
 * discard.c) and sends on each the frame esmeload's participants send: a
 * masked WebSocket text frame carrying
 *   {"type":"send_message","payload":{"chatId":"<24 hex>","message":
 *    "connection <ip:port>: message number <k>"}}
 * encoded afresh for every message (snprintf, a new mask key, masking), one
 * IORING_OP_SEND per frame on a registered descriptor. Nothing else: no
 * handshake, no reads, no parsing, no timers per connection, so its CPU per
 * message is what any io_uring tester must at least spend to send a frame.
 *
 * Two modes:
 *   scheduled (default)  connection i sends message k at
 *                        t0 + i*smi/N + k*smi: the open-loop schedule of N
 *                        participants at -smi, woken on a --tick-us grid
 *                        (1 ms, the grain of esmeload's timer wheel), all
 *                        sends due at a tick submitted together.
 *   --fast               every connection keeps one send in flight and
 *                        re-sends on its completion: as fast as the kernel
 *                        accepts frames.
 *
 * With --reads it is the floor of a tester that also reads what the
 * messenger sends back, as esmeload does: the target is bench/limit/sink.c,
 * which answers each frame with an echo to its connection and a copy to an
 * organizer connection (--org-port), and limit reads all of it the way
 * esmeload does, with one multishot receive per connection into a ring of
 * provided buffers (the same kernel path), walking only the frame headers
 * (frame.h) to count the echoes and copies that arrived; each buffer goes
 * back to the ring at once. The organizer connection opens first and sends
 * nothing. At the end limit waits (at most --drain-ms) for the answers to
 * what it sent, so the counts can be checked against "sent".
 *
 * A message counts as sent when its send completes in full, esmeload's
 * definition. Output: <unix>_performance_test_message_rates.json in
 * --out-dir (messages per Unix second, the Go tool's format) and one JSON
 * line on stdout with the totals (bytes too, which the target's count must
 * equal; with --reads also echoes, copies and bytes received).
 *
 *   limit --port P --conns N --smi MS --duration SEC [--fast] [--tick-us U]
 *         [--host A.B.C.D] [--out-dir DIR] [--sndbuf BYTES]
 *         [--reads --org-port Q [--drain-ms MS]]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"

#define SLOT 256        /* one encoded frame: 8 header bytes + ~130 payload */
#define MAX_CONNS 65536
#define MAX_SECS 3600
/* --reads: esmeload's receive buffers (its --recv-buffers default, 4 KiB
 * each), one group, and the tag that tells a receive completion from a
 * send's (user_data is the connection number otherwise). */
#define NBUFS 2048
#define BUF_SIZE 4096
#define BGID 0
#define RECV_TAG (1ULL << 32)

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

struct conn {
	uint32_t k;          /* last message number encoded */
	uint32_t len;        /* bytes of the frame in flight, 0 if none */
	char addr[24];       /* local ip:port, as esmeload puts it in the text */
	uint8_t addr_len;
};

struct limit {
	struct io_uring ring;
	struct conn *c;
	uint8_t *slots;      /* SLOT bytes per connection, allocated up front */
	uint32_t n;
	int fast;
	int64_t smi_ns, tick_ns, t0_ns, dur_ns;
	uint64_t rng;
	uint64_t next;       /* scheduled mode: global number of the next message */
	uint64_t blocked;    /* the message last found waiting, +1 (0: none) */
	int64_t start_sec;
	uint64_t rates[MAX_SECS + 2];
	uint64_t sent, bytes, late, errors;
	int64_t lag_max_ns;
	int first_err;
	/* --reads: connection n is the organizer's */
	int reads;
	struct fw *fw;       /* n + 1 frame walkers */
	struct io_uring_buf_ring *br;
	uint8_t *bufs;
	unsigned br_pending; /* buffers given back since the last advance */
	uint64_t echoes, copies, recv_bytes, recv_errors, nobufs, rearms;
	int first_recv_err;
};

static int64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* splitmix64: a fresh mask key per frame, as esmeload draws its own. */
static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Encode message k+1 of connection i into its slot; returns the frame size,
 * 0 if it does not fit. Like esmeload: format the text, then write header
 * and masked payload into the send slot in one pass. */
static uint32_t encode(struct limit *l, uint32_t i)
{
	struct conn *c = &l->c[i];
	uint8_t *f = l->slots + (size_t)i * SLOT;
	uint32_t m = (uint32_t)splitmix(&l->rng);
	char txt[SLOT];
	uint8_t key[4];
	size_t h;
	int n;

	/* The chat id is the connection number in 24 hex digits: the shape
	 * matters (it is what a real id costs to format), not the value. */
	n = snprintf(txt, sizeof(txt),
		     "{\"type\":\"send_message\",\"payload\":{\"chatId\":"
		     "\"%024x\",\"message\":\"connection %.*s: message "
		     "number %u\"}}", i, c->addr_len, c->addr, c->k + 1);
	if (n < 0 || (size_t)n + 8 > SLOT)
		return 0;
	c->k++;
	memcpy(key, &m, 4);
	f[0] = 0x81;         /* FIN, text */
	if (n <= 125) {
		f[1] = (uint8_t)(0x80 | n);
		h = 2;
	} else {             /* RFC 6455 5.2: 126, then a 16-bit length */
		f[1] = 0x80 | 126;
		f[2] = (uint8_t)(n >> 8);
		f[3] = (uint8_t)n;
		h = 4;
	}
	memcpy(f + h, key, 4);
	h += 4;
	for (int j = 0; j < n; j++)
		f[h + (size_t)j] = (uint8_t)txt[j] ^ key[j & 3];
	return (uint32_t)(h + (size_t)n);
}

static struct io_uring_sqe *get_sqe(struct limit *l)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&l->ring);

	if (!sqe) {
		io_uring_submit(&l->ring);
		sqe = io_uring_get_sqe(&l->ring);
	}
	return sqe;
}

static int queue_send(struct limit *l, uint32_t i)
{
	struct io_uring_sqe *sqe;
	uint32_t len = encode(l, i);

	if (!len)
		return -EMSGSIZE;
	sqe = get_sqe(l);
	if (!sqe)
		return -EBUSY;
	l->c[i].len = len;
	io_uring_prep_send(sqe, (int)i, l->slots + (size_t)i * SLOT, len,
			   MSG_NOSIGNAL);
	sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, i);
	return 0;
}

/* Scheduled mode: message number m (global, from 0) belongs to connection
 * m % N and is due at t0 + (m % N) * smi / N + (m / N + 1) * smi; the order
 * is fixed, so one counter replaces a timer per connection. */
static int64_t due_ns(const struct limit *l, uint64_t m)
{
	return l->t0_ns + (int64_t)(m % l->n) * l->smi_ns / l->n +
	       (int64_t)(m / l->n + 1) * l->smi_ns;
}

/* Queue every message that is due; 1 if one waits for a completion. */
static int send_due(struct limit *l, int64_t now)
{
	while (due_ns(l, l->next) <= now) {
		uint32_t i = (uint32_t)(l->next % l->n);
		int64_t lag;

		if (l->c[i].len) {
			/* Its previous frame is still in the kernel: the
			 * schedule waits for that completion (counted once). */
			if (l->blocked != l->next + 1) {
				l->blocked = l->next + 1;
				l->late++;
			}
			return 1;
		}
		if (queue_send(l, i) < 0) {
			l->errors++;
			return 1;
		}
		lag = now - due_ns(l, l->next);
		if (lag > l->lag_max_ns)
			l->lag_max_ns = lag;
		l->next++;
	}
	return 0;
}

/* --reads: one multishot receive on connection i, into provided buffers. */
static int arm_recv(struct limit *l, uint32_t i)
{
	struct io_uring_sqe *sqe = get_sqe(l);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_recv_multishot(sqe, (int)i, NULL, 0, 0);
	sqe->flags |= IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
	sqe->buf_group = BGID;
	io_uring_sqe_set_data64(sqe, RECV_TAG | i);
	return 0;
}

/* The ring of provided buffers, as esmeload's engine lays it out: the
 * entries, page aligned, then the buffers, in one mapping. */
static int setup_bufs(struct limit *l)
{
	struct io_uring_buf_reg reg = { 0 };
	size_t ring_len = ((size_t)NBUFS * sizeof(struct io_uring_buf) + 4095) & ~(size_t)4095;
	void *mem = mmap(NULL, ring_len + (size_t)NBUFS * BUF_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int ret;

	if (mem == MAP_FAILED)
		return -errno;
	l->br = mem;
	l->bufs = (uint8_t *)mem + ring_len;
	io_uring_buf_ring_init(l->br);
	reg.ring_addr = (unsigned long)l->br;
	reg.ring_entries = NBUFS;
	reg.bgid = BGID;
	ret = io_uring_register_buf_ring(&l->ring, &reg, 0);
	if (ret < 0)
		return ret;
	for (unsigned b = 0; b < NBUFS; b++)
		io_uring_buf_ring_add(l->br, l->bufs + (size_t)b * BUF_SIZE, BUF_SIZE, b,
				      io_uring_buf_ring_mask(NBUFS), (int)b);
	io_uring_buf_ring_advance(l->br, NBUFS);
	return 0;
}

/* A receive completion: count the frames the bytes complete, give the
 * buffer back, re-arm when the kernel ended the multishot. */
static void on_recv(struct limit *l, const struct io_uring_cqe *cqe)
{
	uint32_t i = (uint32_t)cqe->user_data;

	if (cqe->res > 0 && (cqe->flags & IORING_CQE_F_BUFFER)) {
		unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
		uint8_t *b = l->bufs + (size_t)bid * BUF_SIZE;
		uint64_t k = fw_feed(&l->fw[i], b, (size_t)cqe->res);

		if (i == l->n)
			l->copies += k;
		else
			l->echoes += k;
		l->recv_bytes += (uint64_t)cqe->res;
		io_uring_buf_ring_add(l->br, b, BUF_SIZE, (unsigned short)bid,
				      io_uring_buf_ring_mask(NBUFS), (int)l->br_pending++);
	} else if (cqe->res == -ENOBUFS) {
		l->nobufs++;   /* every buffer was full: re-armed below */
	} else {
		/* The target closed (0) or the receive failed: not re-armed. */
		l->recv_errors++;
		if (!l->first_recv_err)
			l->first_recv_err = cqe->res < 0 ? cqe->res : -ECONNRESET;
		return;
	}
	if (!(cqe->flags & IORING_CQE_F_MORE)) {
		l->rearms++;
		if (arm_recv(l, i) < 0)
			l->recv_errors++;
	}
}

static void on_cqe(struct limit *l, const struct io_uring_cqe *cqe, int64_t sec)
{
	uint32_t i = (uint32_t)cqe->user_data;
	struct conn *c = &l->c[i];

	if (cqe->user_data & RECV_TAG) {
		on_recv(l, cqe);
		return;
	}

	if (cqe->res != (int)c->len) {
		/* A short send would need the rest queued; on loopback with
		 * one small frame in flight it does not happen, so it is an
		 * error here rather than code. */
		l->errors++;
		if (!l->first_err)
			l->first_err = cqe->res < 0 ? cqe->res : -EIO;
		c->len = 0;
		stop_flag = 1;
		return;
	}
	l->sent++;
	l->bytes += c->len;
	c->len = 0;
	if (sec >= l->start_sec && sec - l->start_sec <= MAX_SECS)
		l->rates[sec - l->start_sec]++;
	if (l->fast && !stop_flag && queue_send(l, i) < 0)
		l->errors++;
}

/* The N participant connections, registered as descriptors 0..N-1; with
 * --reads the organizer's first (to org_port), registered as N. */
static int open_conns(struct limit *l, const char *host, int port, int org_port,
		      int sndbuf)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct sockaddr_in oa;
	uint32_t total = l->n + (l->reads ? 1 : 0);
	int *fds = calloc(total, sizeof(*fds));
	int ret = 0;

	if (!fds)
		return -ENOMEM;
	for (uint32_t i = 0; i < total; i++)
		fds[i] = -1;
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		ret = -EINVAL;
		goto out_free;
	}
	oa = sa;
	oa.sin_port = htons((uint16_t)org_port);
	for (uint32_t k = 0; k < total; k++) {
		/* The organizer is there before any message is. */
		uint32_t i = l->reads ? (k == 0 ? l->n : k - 1) : k;
		const struct sockaddr_in *to = i == l->n ? &oa : &sa;
		struct sockaddr_in la;
		socklen_t ll = sizeof(la);
		char ip[INET_ADDRSTRLEN];
		int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0) {
			ret = -errno;
			goto out_close;
		}
		fds[i] = fd;
		/* Go and esmeload both send each frame at once (no Nagle). */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (sndbuf > 0)
			setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
		if (connect(fd, (const struct sockaddr *)to, sizeof(*to)) < 0 ||
		    getsockname(fd, (struct sockaddr *)&la, &ll) < 0) {
			ret = -errno;
			fds[i] = -1;
			close(fd);
			goto out_close;
		}
		if (i == l->n)
			continue;
		inet_ntop(AF_INET, &la.sin_addr, ip, sizeof(ip));
		l->c[i].addr_len = (uint8_t)snprintf(l->c[i].addr, sizeof(l->c[i].addr),
						     "%s:%u", ip, ntohs(la.sin_port));
	}
	/* The ring keeps its own references: the process descriptors can go. */
	ret = io_uring_register_files(&l->ring, fds, total);
out_close:
	for (uint32_t i = 0; i < total; i++)
		if (fds[i] >= 0)
			close(fds[i]);
out_free:
	free(fds);
	return ret;
}

static int write_rates(const struct limit *l, const char *dir, int64_t last_sec)
{
	char name[4096], tmp[4200];
	FILE *f;
	int first = 1;

	snprintf(name, sizeof(name), "%s/%lld_performance_test_message_rates.json",
		 dir, (long long)l->start_sec);
	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fputc('{', f);
	for (int64_t s = 0; s <= last_sec - l->start_sec && s <= MAX_SECS; s++) {
		if (!l->rates[s])
			continue;
		fprintf(f, "%s\"%lld\":%llu", first ? "" : ",",
			(long long)(l->start_sec + s), (unsigned long long)l->rates[s]);
		first = 0;
	}
	fputs("}\n", f);
	if (fclose(f) != 0 || rename(tmp, name) != 0)
		return -errno;
	return 0;
}

/* Handle every completion ready, then give the buffers read back. */
static void reap(struct limit *l)
{
	struct io_uring_cqe *cqe;
	int64_t sec = now_ns(CLOCK_REALTIME) / 1000000000;
	unsigned head, seen = 0;

	io_uring_for_each_cqe(&l->ring, head, cqe) {
		on_cqe(l, cqe, sec);
		seen++;
	}
	io_uring_cq_advance(&l->ring, seen);
	if (l->br_pending) {
		io_uring_buf_ring_advance(l->br, (int)l->br_pending);
		l->br_pending = 0;
	}
}

/* Wait at most ms for a completion and handle what is ready. */
static int wait_some(struct limit *l, int64_t ms)
{
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts = { .tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000 };
	int ret = io_uring_submit_and_wait_timeout(&l->ring, &cqe, 1, &ts, NULL);

	if (ret < 0 && ret != -ETIME && ret != -EINTR)
		return ret;
	reap(l);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: limit --port P --conns N --smi MS --duration SEC "
		"[--fast] [--tick-us U] [--host A.B.C.D] [--out-dir DIR] "
		"[--sndbuf BYTES] [--reads --org-port Q [--drain-ms MS]]\n");
}

int main(int argc, char **argv)
{
	static struct limit l;
	const char *host = "127.0.0.1", *dir = ".";
	int port = 0, org_port = 0, sndbuf = 0, ret;
	long conns = 0, smi = 1000, dur = 10, tick_us = 1000, drain_ms = 2000;
	struct io_uring_params p = { 0 };
	struct rusage ru;
	int64_t end, sec;

	for (int a = 1; a < argc; a++) {
		const char *o = argv[a], *v = a + 1 < argc ? argv[a + 1] : NULL;

		if (!strcmp(o, "--fast")) {
			l.fast = 1;
			continue;
		}
		if (!strcmp(o, "--reads")) {
			l.reads = 1;
			continue;
		}
		if (!v) {
			usage();
			return 2;
		}
		a++;
		if (!strcmp(o, "--port"))
			port = atoi(v);
		else if (!strcmp(o, "--conns"))
			conns = atol(v);
		else if (!strcmp(o, "--smi"))
			smi = atol(v);
		else if (!strcmp(o, "--duration"))
			dur = atol(v);
		else if (!strcmp(o, "--tick-us"))
			tick_us = atol(v);
		else if (!strcmp(o, "--host"))
			host = v;
		else if (!strcmp(o, "--out-dir"))
			dir = v;
		else if (!strcmp(o, "--sndbuf"))
			sndbuf = atoi(v);
		else if (!strcmp(o, "--org-port"))
			org_port = atoi(v);
		else if (!strcmp(o, "--drain-ms"))
			drain_ms = atol(v);
		else {
			usage();
			return 2;
		}
	}
	if (l.reads && (org_port <= 0 || org_port > 65535)) {
		fprintf(stderr, "limit: --reads needs --org-port, the sink's organizer port\n");
		return 2;
	}
	if (port <= 0 || port > 65535 || conns < 1 || conns > MAX_CONNS ||
	    smi < 1 || dur < 1 || dur > MAX_SECS || tick_us < 1 ||
	    drain_ms < 0) {
		usage();
		return 2;
	}
	l.n = (uint32_t)conns;
	l.smi_ns = smi * 1000000;
	l.tick_ns = tick_us * 1000;
	l.dur_ns = dur * 1000000000LL;
	l.rng = (uint64_t)now_ns(CLOCK_REALTIME) ^ (uint64_t)getpid();
	l.c = calloc(l.n, sizeof(*l.c));
	l.slots = calloc(l.n, SLOT);
	if (l.reads)
		l.fw = calloc(l.n + 1, sizeof(*l.fw));
	if (!l.c || !l.slots || (l.reads && !l.fw)) {
		fprintf(stderr, "limit: out of memory\n");
		return 1;
	}

	/* The setup esmeload prefers, falling back as it does. */
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
	ret = io_uring_queue_init_params(4096, &l.ring, &p);
	if (ret < 0) {
		memset(&p, 0, sizeof(p));
		ret = io_uring_queue_init_params(4096, &l.ring, &p);
	}
	if (ret < 0) {
		fprintf(stderr, "limit: io_uring_queue_init: %s\n", strerror(-ret));
		return 1;
	}
	if (l.reads) {
		ret = setup_bufs(&l);
		if (ret < 0) {
			fprintf(stderr, "limit: provided buffers (%d x %d): %s\n",
				NBUFS, BUF_SIZE, strerror(-ret));
			return 1;
		}
	}
	ret = open_conns(&l, host, port, org_port, sndbuf);
	if (ret < 0) {
		fprintf(stderr, "limit: connecting to %s:%d%s: %s\n", host, port,
			l.reads ? " and the organizer port" : "", strerror(-ret));
		return 1;
	}
	for (uint32_t i = 0; l.reads && i <= l.n; i++) {
		if (arm_recv(&l, i) < 0) {
			fprintf(stderr, "limit: no submission entry for receive %u\n", i);
			return 1;
		}
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	l.start_sec = now_ns(CLOCK_REALTIME) / 1000000000;
	l.t0_ns = now_ns(CLOCK_MONOTONIC);
	end = l.t0_ns + l.dur_ns;
	if (l.fast)
		for (uint32_t i = 0; i < l.n; i++)
			if (queue_send(&l, i) < 0)
				l.errors++;
	while (!stop_flag) {
		struct io_uring_cqe *cqe;
		struct __kernel_timespec ts = { 0 };
		int64_t now = now_ns(CLOCK_MONOTONIC), wake;

		if (now >= end)
			break;
		if (!l.fast && !send_due(&l, now)) {
			/* Sleep to the tick after the next due message. */
			wake = due_ns(&l, l.next);
			wake = l.t0_ns + ((wake - l.t0_ns + l.tick_ns - 1) / l.tick_ns) * l.tick_ns;
		} else {
			/* fast, or blocked: the next completion wakes us. */
			wake = end;
		}
		if (wake > end)
			wake = end;
		if (wake > now) {
			ts.tv_sec = (wake - now) / 1000000000;
			ts.tv_nsec = (wake - now) % 1000000000;
		}
		ret = io_uring_submit_and_wait_timeout(&l.ring, &cqe, 1, &ts, NULL);
		if (ret < 0 && ret != -ETIME && ret != -EINTR) {
			fprintf(stderr, "limit: io_uring_submit_and_wait_timeout: %s\n",
				strerror(-ret));
			break;
		}
		reap(&l);
	}
	/* Let the frames in flight finish, so sent and bytes are final;
	 * stop_flag keeps --fast from sending more. */
	stop_flag = 1;
	for (;;) {
		unsigned inflight = 0;

		for (uint32_t i = 0; i < l.n; i++)
			inflight += l.c[i].len != 0;
		if (!inflight || wait_some(&l, 200) < 0)
			break;
	}
	/* --reads: the answers to what was sent, so the counts are final. */
	if (l.reads) {
		int64_t until = now_ns(CLOCK_MONOTONIC) + drain_ms * 1000000;

		while ((l.echoes < l.sent || l.copies < l.sent) && !l.recv_errors &&
		       now_ns(CLOCK_MONOTONIC) < until)
			if (wait_some(&l, 50) < 0)
				break;
	}
	sec = now_ns(CLOCK_REALTIME) / 1000000000;
	ret = write_rates(&l, dir, sec);
	if (ret < 0)
		fprintf(stderr, "limit: writing the rates file: %s\n", strerror(-ret));
	getrusage(RUSAGE_SELF, &ru);
	printf("{\"mode\":\"%s\",\"conns\":%u,\"smi_ms\":%ld,\"sent\":%llu,"
	       "\"bytes\":%llu,\"late\":%llu,\"errors\":%llu,\"first_error\":\"%s\","
	       "\"lag_max_us\":%lld,\"cpu_s\":%.3f,\"maxrss_kib\":%ld",
	       l.fast ? "fast" : "scheduled", l.n, smi,
	       (unsigned long long)l.sent, (unsigned long long)l.bytes,
	       (unsigned long long)l.late, (unsigned long long)l.errors,
	       l.first_err ? strerror(-l.first_err) : "",
	       (long long)(l.lag_max_ns / 1000),
	       (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
		       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6,
	       ru.ru_maxrss);
	if (l.reads)
		printf(",\"reads\":1,\"echoes\":%llu,\"copies\":%llu,\"recv_bytes\":%llu,"
		       "\"recv_errors\":%llu,\"first_recv_error\":\"%s\",\"nobufs\":%llu,"
		       "\"rearms\":%llu",
		       (unsigned long long)l.echoes, (unsigned long long)l.copies,
		       (unsigned long long)l.recv_bytes, (unsigned long long)l.recv_errors,
		       l.first_recv_err ? strerror(-l.first_recv_err) : "",
		       (unsigned long long)l.nobufs, (unsigned long long)l.rearms);
	printf("}\n");
	io_uring_queue_exit(&l.ring);
	return l.errors || ret < 0 ? 1 : 0;
}
