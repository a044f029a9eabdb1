/*
 * bench/limit/sink.c: the target of the reading floor (limit --reads).
 *
 * It answers each frame as the messenger's fan-out does, with as little
 * work as it can: for every complete frame a participant connection sends
 * (limit's masked send_message frames), one server frame back to that
 * connection (the echo of the sender's own message) and one to the
 * organizer connection (the organizer's copy), as `esmeload serve` sends a
 * user_message to both sides of the chat (docs/protocol.md, send_message).
 * No JSON: it only finds frame boundaries (frame.h). Every answer is the
 * same unmasked text frame, a user_message of the size serve's echo of
 * limit's text has, so each connection's output is that frame repeated
 * and its state is a count of bytes owed: nothing is copied or allocated
 * per message. A participant's echo is written as soon as its frame is
 * read; the organizer's copies are gathered over one epoll batch and
 * written together, as serve coalesces what it queues for a connection
 * while a send is in flight. When a socket is full, what is owed waits for
 * EPOLLOUT.
 *
 * Two loopback ports: participants connect to the first, organizers to the
 * second (copies go to the organizer connected last; with none they are
 * counted as dropped). It prints "port N" and "organizer_port M" once
 * listening and, on SIGINT/SIGTERM, one JSON line: bytes and frames read,
 * echoes and copies written in full, copies dropped, the answer's size.
 *
 *   sink [--host A.B.C.D] [--port N] [--organizer-port M]   (0: any free)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "frame.h"

/* The answer: serve's user_message for limit's text, field for field
 * (docs/protocol.md, message), with typical values. */
#define ANSWER_JSON \
	"{\"type\":\"user_message\",\"payload\":{\"id\":" \
	"\"6650f2c1a4b3c2d1e0f01234\",\"chatId\":\"000000000000000000000123\"," \
	"\"authorId\":1123,\"fromOrganizer\":0,\"content\":\"connection " \
	"127.0.0.1:54321: message number 123\",\"timeSent\":" \
	"\"2025-01-01T12:00:00.123Z\"}}"
#define REP_MIN (1 << 16)   /* bytes of answers one write can take */

_Static_assert(sizeof(ANSWER_JSON) - 1 > 125 && sizeof(ANSWER_JSON) - 1 < 65536,
	       "the answer takes a 16-bit length");

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

struct sconn {
	struct fw fw;
	uint64_t owe;        /* answer bytes to write */
	uint32_t pos;        /* offset of the next one within the answer */
	uint8_t used, org, want_out;
};

struct sink {
	struct sconn *c;     /* by descriptor */
	int maxfd, ep, lfd, ofd, org_fd;
	uint8_t *rep;        /* the answer, repeated */
	uint32_t alen, rep_len;
	uint64_t bytes, frames, echo_bytes, copy_bytes, copies_dropped;
	uint64_t conns, orgs, open_now;
};

static int set_events(struct sink *s, int fd, uint32_t ev)
{
	struct epoll_event e = { .events = ev, .data.fd = fd };

	return epoll_ctl(s->ep, EPOLL_CTL_MOD, fd, &e);
}

/* Write what fd is owed until done or the socket is full; returns the
 * bytes written, -1 when the connection failed. */
static int64_t flush(struct sink *s, int fd)
{
	struct sconn *c = &s->c[fd];
	int64_t done = 0;

	while (c->owe) {
		size_t n = s->rep_len - c->pos;
		ssize_t w;

		if (n > c->owe)
			n = (size_t)c->owe;
		w = write(fd, s->rep + c->pos, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -1;
			if (!c->want_out && set_events(s, fd, EPOLLIN | EPOLLOUT) == 0)
				c->want_out = 1;
			return done;
		}
		c->owe -= (uint64_t)w;
		c->pos = (uint32_t)((c->pos + (size_t)w) % s->alen);
		done += w;
	}
	if (c->want_out && set_events(s, fd, EPOLLIN) == 0)
		c->want_out = 0;
	return done;
}

static void drop(struct sink *s, int fd)
{
	if (fd == s->org_fd)
		s->org_fd = -1;
	memset(&s->c[fd], 0, sizeof(s->c[fd]));
	close(fd);   /* closing also leaves the epoll set */
	s->open_now--;
}

static void accept_all(struct sink *s, int lfd, int org)
{
	int fd;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		struct epoll_event e = { .events = EPOLLIN, .data.fd = fd };
		int one = 1;

		if (fd >= s->maxfd || epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &e) < 0) {
			close(fd);
			continue;
		}
		/* Each answer leaves at once, as serve's do. */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		memset(&s->c[fd], 0, sizeof(s->c[fd]));
		s->c[fd].used = 1;
		s->c[fd].org = (uint8_t)org;
		s->open_now++;
		if (org) {
			s->org_fd = fd;
			s->orgs++;
		} else {
			s->conns++;
		}
	}
}

/* Read what fd sent; a participant's frames are answered. */
static void on_readable(struct sink *s, int fd)
{
	static uint8_t buf[1 << 16];
	struct sconn *c = &s->c[fd];

	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));
		uint64_t k;

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return;
		if (r <= 0) {
			drop(s, fd);
			return;
		}
		s->bytes += (uint64_t)r;
		if (!c->org) {
			k = fw_feed(&c->fw, buf, (size_t)r);
			s->frames += k;
			if (k) {
				c->owe += k * s->alen;
				if (s->org_fd >= 0)
					s->c[s->org_fd].owe += k * s->alen;
				else
					s->copies_dropped += k;
				if (!c->want_out) {
					int64_t w = flush(s, fd);

					if (w < 0) {
						drop(s, fd);
						return;
					}
					s->echo_bytes += (uint64_t)w;
				}
			}
		}
		if ((size_t)r < sizeof(buf))
			return;
	}
}

static int listen_on(const char *host, int port, int *out_port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	socklen_t sl = sizeof(sa);
	int one = 1, fd;

	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		errno = EINVAL;
		return -1;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 4096) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
		close(fd);
		return -1;
	}
	*out_port = ntohs(sa.sin_port);
	return fd;
}

int main(int argc, char **argv)
{
	static struct sink s;
	const char *host = "127.0.0.1";
	struct sigaction act = { .sa_handler = on_signal };
	int port = 0, oport = 0;
	struct rlimit rl;
	size_t jn = sizeof(ANSWER_JSON) - 1;

	for (int a = 1; a < argc; a += 2) {
		const char *o = argv[a], *v = a + 1 < argc ? argv[a + 1] : NULL;

		if (v && !strcmp(o, "--host")) {
			host = v;
		} else if (v && !strcmp(o, "--port")) {
			port = atoi(v);
		} else if (v && !strcmp(o, "--organizer-port")) {
			oport = atoi(v);
		} else {
			fprintf(stderr, "sink: unknown argument %s\n"
				"usage: sink [--host A.B.C.D] [--port N] "
				"[--organizer-port M]\n", o);
			return 2;
		}
	}
	/* No SA_RESTART: epoll_wait returns EINTR and the loop sees the flag. */
	sigaction(SIGINT, &act, NULL);
	sigaction(SIGTERM, &act, NULL);

	/* The answer frame: FIN + text, a 16-bit length (RFC 6455 5.2). */
	s.alen = (uint32_t)(4 + jn);
	s.rep_len = (REP_MIN / s.alen + 1) * s.alen;
	s.rep = malloc(s.rep_len);
	getrlimit(RLIMIT_NOFILE, &rl);
	s.maxfd = rl.rlim_cur > 1 << 20 ? 1 << 20 : (int)rl.rlim_cur;
	s.c = calloc((size_t)s.maxfd, sizeof(*s.c));
	if (!s.rep || !s.c) {
		fprintf(stderr, "sink: out of memory\n");
		return 1;
	}
	for (uint32_t off = 0; off < s.rep_len; off += s.alen) {
		s.rep[off] = 0x81;
		s.rep[off + 1] = 126;
		s.rep[off + 2] = (uint8_t)(jn >> 8);
		s.rep[off + 3] = (uint8_t)jn;
		memcpy(s.rep + off + 4, ANSWER_JSON, jn);
	}
	s.org_fd = -1;
	s.lfd = listen_on(host, port, &port);
	if (s.lfd < 0)
		goto out_err;
	s.ofd = listen_on(host, oport, &oport);
	if (s.ofd < 0)
		goto out_err;
	s.ep = epoll_create1(EPOLL_CLOEXEC);
	if (s.ep < 0)
		goto out_err;
	{
		struct epoll_event e1 = { .events = EPOLLIN, .data.fd = s.lfd };
		struct epoll_event e2 = { .events = EPOLLIN, .data.fd = s.ofd };

		if (epoll_ctl(s.ep, EPOLL_CTL_ADD, s.lfd, &e1) < 0 ||
		    epoll_ctl(s.ep, EPOLL_CTL_ADD, s.ofd, &e2) < 0)
			goto out_err;
	}
	printf("port %d\norganizer_port %d\n", port, oport);
	fflush(stdout);

	while (!stop_flag) {
		struct epoll_event evs[256];
		int n = epoll_wait(s.ep, evs, 256, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto out_err;
		}
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == s.lfd || fd == s.ofd) {
				accept_all(&s, fd, fd == s.ofd);
				continue;
			}
			if (!s.c[fd].used)
				continue;   /* dropped earlier in this batch */
			if (evs[i].events & EPOLLOUT) {
				int64_t w = flush(&s, fd);

				if (w < 0) {
					drop(&s, fd);
					continue;
				}
				if (s.c[fd].org)
					s.copy_bytes += (uint64_t)w;
				else
					s.echo_bytes += (uint64_t)w;
			}
			if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
				on_readable(&s, fd);
		}
		/* The batch's copies, in one write when the socket takes them. */
		if (s.org_fd >= 0 && !s.c[s.org_fd].want_out && s.c[s.org_fd].owe) {
			int64_t w = flush(&s, s.org_fd);

			if (w < 0)
				drop(&s, s.org_fd);
			else
				s.copy_bytes += (uint64_t)w;
		}
	}
	printf("{\"bytes\":%llu,\"frames\":%llu,\"echoes\":%llu,\"copies\":%llu,"
	       "\"copies_dropped\":%llu,\"answer_bytes\":%u,\"conns\":%llu,"
	       "\"organizers\":%llu,\"open\":%llu}\n",
	       (unsigned long long)s.bytes, (unsigned long long)s.frames,
	       (unsigned long long)(s.echo_bytes / s.alen),
	       (unsigned long long)(s.copy_bytes / s.alen),
	       (unsigned long long)s.copies_dropped, s.alen,
	       (unsigned long long)s.conns, (unsigned long long)s.orgs,
	       (unsigned long long)s.open_now);
	return 0;
out_err:
	fprintf(stderr, "sink: %s\n", strerror(errno));
	return 1;
}
