/*
 * bench/limit/discard.c: the target of bench/limit/limit.c. Accepts TCP
 * connections on a loopback port and reads and throws away everything they
 * send (RFC 863 in spirit), with one epoll loop. It prints "port N" once
 * listening and, on SIGINT/SIGTERM, one JSON line with the bytes it read, so
 * the limit's count of bytes sent can be checked against what arrived.
 *
 *   discard [--host A.B.C.D] [--port N]     (port 0, the default: any free)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	const char *host = "127.0.0.1";
	static char buf[1 << 16];
	uint64_t bytes = 0, conns = 0, open_now = 0;
	struct sigaction act = { .sa_handler = on_signal };
	int one = 1, lfd, ep, port = 0;

	for (int a = 1; a + 1 < argc; a += 2) {
		if (!strcmp(argv[a], "--host"))
			host = argv[a + 1];
		else if (!strcmp(argv[a], "--port"))
			port = atoi(argv[a + 1]);
	}
	sa.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		fprintf(stderr, "discard: bad --host %s\n", host);
		return 2;
	}
	/* No SA_RESTART: epoll_wait returns EINTR and the loop sees the flag. */
	sigaction(SIGINT, &act, NULL);
	sigaction(SIGTERM, &act, NULL);

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		goto out_err;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(lfd, 4096) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl) < 0)
		goto out_err;
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		goto out_err;
	{
		struct epoll_event ev = { .events = EPOLLIN, .data.fd = lfd };

		if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0)
			goto out_err;
	}
	printf("port %u\n", ntohs(sa.sin_port));
	fflush(stdout);

	while (!stop_flag) {
		struct epoll_event evs[256];
		int n = epoll_wait(ep, evs, 256, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto out_err;
		}
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == lfd) {
				int c;

				while ((c = accept4(lfd, NULL, NULL,
						    SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
					struct epoll_event ev = { .events = EPOLLIN, .data.fd = c };

					if (epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev) < 0) {
						close(c);
						continue;
					}
					conns++;
					open_now++;
				}
				continue;
			}
			for (;;) {
				ssize_t r = read(fd, buf, sizeof(buf));

				if (r > 0) {
					bytes += (uint64_t)r;
					if ((size_t)r < sizeof(buf))
						break;
					continue;
				}
				if (r < 0 && (errno == EAGAIN || errno == EINTR))
					break;
				/* EOF or error: closing also leaves the epoll set. */
				close(fd);
				open_now--;
				break;
			}
		}
	}
	printf("{\"bytes\":%llu,\"conns\":%llu,\"open\":%llu}\n",
	       (unsigned long long)bytes, (unsigned long long)conns,
	       (unsigned long long)open_now);
	return 0;
out_err:
	fprintf(stderr, "discard: %s\n", strerror(errno));
	return 1;
}
