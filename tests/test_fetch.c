/*
 * Unit tests for fetch (src/session/fetch.h): fetch_get against a scripted
 * server on a loopback port, one thread per case: it accepts one
 * connection, reads the request head, sends its reply (byte by byte where
 * it matters, so the answer arrives in pieces) and then waits for the
 * client to close. TLS cases put a BearSSL server engine with the test PKI
 * (tests/tls/, tests/tls_server.h) on the same socket. Run from the source
 * tree's root, as tests/run.sh does.
 */
#include "test.h"
#include "session/fetch.h"
#include "clock.h"
#include "tls.h"
#include "tls_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Deadlines: generous, the machine is shared; only the deadline case
 * waits its own out. */
#define LONG_NS 20000000000LL
#define SHORT_NS 1000000000LL /* a loaded machine still connects in it */

/* ---- the scripted server ---- */

enum { R_WHOLE = 0, R_BYTES, R_SILENT, R_CLOSE };

struct srv {
	int lfd;
	uint16_t port;
	const char *reply;   /* sent after the request head */
	size_t reply_len;
	int how;             /* R_*: whole, byte by byte, nothing, close */
	int tls;             /* a TLS server on the connection */
	char req[4096];      /* the request head it read */
	size_t req_len;
	int handshake_failed;
	pthread_t th;
};

static int sock_read(void *ctx, unsigned char *p, size_t n)
{
	ssize_t k = recv(*(int *)ctx, p, n, 0);

	return k > 0 ? (int)k : -1;
}

static int sock_write(void *ctx, const unsigned char *p, size_t n)
{
	ssize_t k = send(*(int *)ctx, p, n, MSG_NOSIGNAL);

	return k > 0 ? (int)k : -1;
}

static struct tsrv tsrv;

/* Reads through BearSSL's simple I/O wrapper when tls. */
static int srv_read(struct srv *s, br_sslio_context *io, int fd, char *p,
		    size_t n)
{
	if (s->tls)
		return br_sslio_read(io, p, n);
	return sock_read(&fd, (unsigned char *)p, n);
}

static int srv_write(struct srv *s, br_sslio_context *io, int fd,
		     const char *p, size_t n)
{
	if (s->tls)
		return br_sslio_write_all(io, p, n) < 0 ||
		       br_sslio_flush(io) < 0 ? -1 : 0;
	return send(fd, p, n, MSG_NOSIGNAL) == (ssize_t)n ? 0 : -1;
}

static void *srv_main(void *arg)
{
	struct srv *s = arg;
	br_sslio_context io;
	char b[256];
	int one = 1, fd = accept(s->lfd, NULL, NULL);

	if (fd < 0)
		return NULL;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (s->tls) {
		tsrv_reset(&tsrv, 0, 0);
		br_sslio_init(&io, &tsrv.sc.eng, sock_read, &fd, sock_write,
			      &fd);
	}
	while (!memmem(s->req, s->req_len, "\r\n\r\n", 4)) {
		int k = srv_read(s, &io, fd, s->req + s->req_len,
				 sizeof(s->req) - 1 - s->req_len);

		if (k <= 0) {
			s->handshake_failed = s->tls && !s->req_len;
			goto out;
		}
		s->req_len += (size_t)k;
	}
	if (s->how == R_WHOLE && s->reply_len)
		srv_write(s, &io, fd, s->reply, s->reply_len);
	for (size_t i = 0; s->how == R_BYTES && i < s->reply_len; i++)
		if (srv_write(s, &io, fd, s->reply + i, 1) < 0)
			break;
	if (s->how == R_CLOSE) {
		srv_write(s, &io, fd, s->reply, s->reply_len);
		goto out;
	}
	/* Until the client closes (it is done with the answer). */
	while (recv(fd, b, sizeof(b), 0) > 0)
		;
out:
	close(fd);
	return NULL;
}

static int srv_start(struct srv *s, const char *reply, int how, int tls)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);

	memset(s, 0, sizeof(*s));
	s->reply = reply;
	s->reply_len = reply ? strlen(reply) : 0;
	s->how = how;
	s->tls = tls;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(s->lfd, 4) < 0 ||
	    getsockname(s->lfd, (struct sockaddr *)&a, &al) < 0)
		return -1;
	s->port = ntohs(a.sin_port);
	return pthread_create(&s->th, NULL, srv_main, s) == 0 ? 0 : -1;
}

static void srv_stop(struct srv *s)
{
	pthread_join(s->th, NULL);
	close(s->lfd);
}

/* ---- the client side ---- */

static struct tls_tas tas_ca, tas_other;
static int tls_ready; /* setup loaded the PKI */
static char buf[1024], err[256];

static void target(struct eng_target *t, uint16_t port, const char *tls_host)
{
	struct sockaddr_in *a = (struct sockaddr_in *)&t->addr;

	memset(t, 0, sizeof(*t));
	a->sin_family = AF_INET;
	a->sin_port = htons(port);
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	t->addr_len = sizeof(*a);
	t->tls_host = tls_host;
}

/* fetch_get of /stats from s, the buffer's first cap bytes. */
static long get(struct srv *s, const char *tls_host,
		const struct tls_tas *tas, size_t cap, int64_t within)
{
	struct eng_target t;

	target(&t, s->port, tls_host);
	err[0] = 0;
	memset(buf, 0, sizeof(buf));
	return fetch_get(&t, "localhost:1234", "/base/stats", tas, 0, buf,
			 cap, clock_mono_ns() + within, err, sizeof(err));
}

#define OK_REPLY "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" \
		 "Content-Length: 24\r\nConnection: close\r\n\r\n"    \
		 "{\"messages\":{\"received\":"

static int answered(void)
{
	static const int how[] = { R_WHOLE, R_BYTES };
	struct srv s;

	for (size_t i = 0; i < sizeof(how) / sizeof(how[0]); i++) {
		check_eq(srv_start(&s, OK_REPLY, how[i], 0), 0);
		check_eq(get(&s, NULL, NULL, sizeof(buf), LONG_NS), 24);
		srv_stop(&s);
		check_span(buf, 24, "{\"messages\":{\"received\":");
		check_span(s.req, s.req_len, "GET /base/stats HTTP/1.1\r\n"
			   "Host: localhost:1234\r\nConnection: close\r\n\r\n");
	}
	return 0;
}

/* Head and body exactly fill the buffer: taken. One byte less: refused. */
static int cap_bounds_the_response(void)
{
	size_t whole = strlen(OK_REPLY);
	struct srv s;

	check_eq(srv_start(&s, OK_REPLY, R_BYTES, 0), 0);
	check_eq(get(&s, NULL, NULL, whole, LONG_NS), 24);
	srv_stop(&s);
	check_eq(srv_start(&s, OK_REPLY, R_BYTES, 0), 0);
	check_eq(get(&s, NULL, NULL, whole - 1, LONG_NS), -1);
	srv_stop(&s);
	check(strstr(err, "GET /base/stats: the response is over"));
	/* A head that does not fit at all. */
	check_eq(srv_start(&s, OK_REPLY, R_WHOLE, 0), 0);
	check_eq(get(&s, NULL, NULL, 40, LONG_NS), -1);
	srv_stop(&s);
	check(strstr(err, "the response head is over 40 bytes"));
	return 0;
}

static int declared_body_over_cap(void)
{
	struct srv s;

	check_eq(srv_start(&s, "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n"
			   "\r\n{", R_WHOLE, 0), 0);
	check_eq(get(&s, NULL, NULL, sizeof(buf), LONG_NS), -1);
	srv_stop(&s);
	check(strstr(err, "over 1024 bytes (Content-Length 5000)"));
	return 0;
}

static int not_200(void)
{
	struct srv s;

	check_eq(srv_start(&s, "HTTP/1.1 404 Not Found\r\nContent-Length: 9"
			   "\r\n\r\nnot found", R_BYTES, 0), 0);
	check_eq(get(&s, NULL, NULL, sizeof(buf), LONG_NS), -1);
	srv_stop(&s);
	check(strstr(err, "GET /base/stats: HTTP 404 Not Found"));
	return 0;
}

static int no_content_length(void)
{
	struct srv s;

	check_eq(srv_start(&s, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
			   "\r\n\r\n2\r\n{}\r\n0\r\n\r\n", R_WHOLE, 0), 0);
	check_eq(get(&s, NULL, NULL, sizeof(buf), LONG_NS), -1);
	srv_stop(&s);
	check(strstr(err, "no Content-Length"));
	return 0;
}

static int malformed(void)
{
	struct srv s;

	check_eq(srv_start(&s, "SMTP ready\r\n\r\n", R_WHOLE, 0), 0);
	check_eq(get(&s, NULL, NULL, sizeof(buf), LONG_NS), -1);
	srv_stop(&s);
	check(strstr(err, "malformed response head"));
	return 0;
}

/* The server closes half way through the body. */
static int ended_early(void)
{
	static const char part[] = "HTTP/1.1 200 OK\r\nContent-Length: 100"
				   "\r\n\r\n0123456789";
	char want[64];
	struct srv s;

	check_eq(srv_start(&s, part, R_CLOSE, 0), 0);
	check_eq(get(&s, NULL, NULL, sizeof(buf), LONG_NS), -1);
	srv_stop(&s);
	snprintf(want, sizeof(want), "the connection ended after %zu bytes",
		 sizeof(part) - 1);
	check(strstr(err, want));
	return 0;
}

/* A server that reads the request and never answers: the deadline ends
 * it, not before. Plain, then TLS (no handshake answer either). */
static int deadline(void)
{
	for (int tls = 0; tls < 1 + tls_ready; tls++) {
		struct srv s;
		int64_t t0 = clock_mono_ns();
		long n;
		int ok;

		check_eq(srv_start(&s, NULL, R_SILENT, 0), 0);
		n = get(&s, tls ? "localhost" : NULL, &tas_ca, sizeof(buf),
			SHORT_NS);
		check(clock_mono_ns() - t0 >= SHORT_NS);
		srv_stop(&s);
		check_eq(n, -1);
		/* With TLS the handshake's own deadline (the same length,
		 * from a little later) may be seen first by a loop that woke
		 * late on a loaded machine: either says the server did not
		 * answer. */
		ok = strstr(err, "GET /base/stats: no complete answer in time "
			    "(0 bytes received)") ||
		     (tls && strstr(err, "GET /base/stats: TLS handshake: no "
				    "answer within"));
		if (!ok)
			fprintf(stderr, "deadline (%s): %s\n", tls ? "tls" : "plain",
				err);
		check(ok);
		check(s.req_len > 0); /* the request, or the ClientHello */
	}
	return 0;
}

static int refused(void)
{
	struct srv s;
	uint16_t port;

	/* A port that was just free: nobody listens there now. */
	check_eq(srv_start(&s, NULL, R_SILENT, 0), 0);
	port = s.port;
	shutdown(s.lfd, SHUT_RDWR);
	srv_stop(&s);
	s.port = port;
	check_eq(get(&s, NULL, NULL, sizeof(buf), LONG_NS), -1);
	check(strstr(err, "GET /base/stats: connect: "));
	return 0;
}

static int no_address(void)
{
	struct eng_target t = { .addr_len = 0, .no_addr = "no such host" };

	check_eq(fetch_get(&t, "nowhere", "/stats", NULL, 0, buf, sizeof(buf),
			   clock_mono_ns() + LONG_NS, err, sizeof(err)), -1);
	check(strstr(err, "GET /stats: connect: no such host"));
	return 0;
}

static int tls_answered(void)
{
	struct srv s;

	check(tls_ready);
	check_eq(srv_start(&s, OK_REPLY, R_BYTES, 1), 0);
	check_eq(get(&s, "localhost", &tas_ca, sizeof(buf), LONG_NS), 24);
	srv_stop(&s);
	check_span(buf, 24, "{\"messages\":{\"received\":");
	check(strstr(s.req, "GET /base/stats HTTP/1.1\r\n"));
	return 0;
}

/* A certificate from an unknown CA: refused, unless insecure. */
static int tls_unknown_ca(void)
{
	struct eng_target t;
	struct srv s;

	check(tls_ready);
	check_eq(srv_start(&s, OK_REPLY, R_WHOLE, 1), 0);
	check_eq(get(&s, "localhost", &tas_other, sizeof(buf), LONG_NS), -1);
	srv_stop(&s);
	check(strstr(err, "TLS handshake"));
	check(s.handshake_failed);
	check_eq(srv_start(&s, OK_REPLY, R_WHOLE, 1), 0);
	target(&t, s.port, "localhost");
	check_eq(fetch_get(&t, "localhost", "/stats", &tas_other, 1, buf,
			   sizeof(buf), clock_mono_ns() + LONG_NS, err,
			   sizeof(err)), 24);
	srv_stop(&s);
	return 0;
}

static int setup(void)
{
	check(tls_ta_load(&tas_ca, TSRV_DIR "ca.pem", err, sizeof(err)) > 0);
	check(tls_ta_load(&tas_other, TSRV_DIR "other-ca.pem", err,
			  sizeof(err)) > 0);
	check_eq(tsrv_load(&tsrv, TSRV_DIR "server.pem"), 0);
	tls_ready = 1;
	return 0;
}

static int cleanup(void)
{
	tls_ta_free(&tas_ca);
	tls_ta_free(&tas_other);
	return 0;
}

TEST_MAIN(T(setup), T(answered), T(cap_bounds_the_response),
	  T(declared_body_over_cap), T(not_200), T(no_content_length),
	  T(malformed), T(ended_early), T(deadline), T(refused),
	  T(no_address), T(tls_answered), T(tls_unknown_ca), T(cleanup))
