/*
 * Unit tests for src/http.c (include/http.h). Every parser input is fed
 * whole, as every truncated prefix, split in two at every position, and one
 * byte at a time; inputs live in heap copies of exactly their length so the
 * sanitizer build catches any read past the end.
 */
#include "http.h"
#include "test.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#define BIG (1u << 20)
/* As an expected parse result: the length of the whole input. */
#define WHOLE 0

static char *dup_n(const char *s, size_t n)
{
	char *p = malloc(n ? n : 1);

	if (p != NULL)
		memcpy(p, s, n);
	return p;
}

/* ---- request parsing ---- */

static long req_parse_copy(struct http_request *r, const char *in, size_t n,
			   size_t max_head, uint64_t max_body)
{
	char *p = dup_n(in, n);
	long rc = http_request_parse(r, p, n, max_head, max_body);

	free(p); /* r now dangles into p: only rc is of use */
	return rc;
}

/* Compare two parses of equal bytes held at different addresses. */
static int req_same(const struct http_request *a, const char *ab,
		    const struct http_request *b, const char *bb)
{
	check_eq(a->method - ab, b->method - bb);
	check_eq(a->method_len, b->method_len);
	check_eq(a->target - ab, b->target - bb);
	check_eq(a->target_len, b->target_len);
	check_eq(a->minor_version, b->minor_version);
	check_eq(a->num_headers, b->num_headers);
	for (size_t i = 0; i < a->num_headers; i++) {
		check_eq(a->headers[i].name - ab, b->headers[i].name - bb);
		check_eq(a->headers[i].name_len, b->headers[i].name_len);
		check_eq(a->headers[i].value - ab, b->headers[i].value - bb);
		check_eq(a->headers[i].value_len, b->headers[i].value_len);
	}
	check_eq(a->head_len, b->head_len);
	check_eq(a->content_length, b->content_length);
	check_eq(a->body - ab, b->body - bb);
	check_eq(a->keep_alive, b->keep_alive);
	check_eq(a->upgrade_websocket, b->upgrade_websocket);
	return 0;
}

/*
 * Parse in[0..n) and expect `want`. Every truncated prefix must give
 * HTTP_PARTIAL (want > 0), or HTTP_PARTIAL up to some point and `want`
 * from there on (want < 0: refused as early as the parser can tell, and
 * never un-refused). For want > 0, a parse after a partial one with the
 * same struct must equal a fresh parse. *out receives the whole-input parse
 * of the caller's own buffer `in`.
 */
static int req_feed(struct http_request *out, const char *in, size_t n,
		    size_t max_head, uint64_t max_body, long want)
{
	struct http_request ref, r;
	char *full = dup_n(in, n);
	int refused = 0;
	long rc;

	if (want == WHOLE)
		want = (long)n;
	check(full != NULL);
	rc = http_request_parse(&ref, full, n, max_head, max_body);
	check_eq(rc, want);
	/* one byte at a time: each longer prefix, as a reader would grow it */
	for (size_t k = 0; k < n; k++) {
		rc = req_parse_copy(&r, in, k, max_head, max_body);
		if (want > 0 || !refused) {
			if (rc != HTTP_PARTIAL) {
				check(want < 0);
				check_eq(rc, want);
				refused = 1;
			}
		} else {
			check_eq(rc, want);
		}
	}
	/* split at every position: the partial call, then the whole input */
	for (size_t k = 0; k <= n && want > 0; k++) {
		char *p = dup_n(in, k);
		int line;

		rc = http_request_parse(&r, p, k, max_head, max_body);
		check_eq(rc, k == n ? want : HTTP_PARTIAL);
		free(p);
		rc = http_request_parse(&r, full, n, max_head, max_body);
		check_eq(rc, want);
		line = req_same(&r, full, &ref, full);
		if (line)
			return line;
	}
	free(full);
	rc = http_request_parse(out, in, n, max_head, max_body);
	check_eq(rc, want);
	return 0;
}

#define FEED_REQ(r, s, mh, mb, want)                                       \
	do {                                                               \
		int l_ = req_feed((r), (s), strlen(s), (mh), (mb), (want)); \
		if (l_) {                                                  \
			fprintf(stderr, "  (from line %d)\n", __LINE__);   \
			return l_;                                         \
		}                                                          \
	} while (0)

static int t_req_get(void)
{
	static const char in[] = "GET /agency/chats?x=1 HTTP/1.1\r\n"
				 "Host: localhost:8300\r\n"
				 "Authorization:\tBearer abc \t\r\n"
				 "X-Empty:\r\n"
				 "\r\n";
	struct http_request r;

	FEED_REQ(&r, in, BIG, BIG, (long)strlen(in));
	check_span(r.method, r.method_len, "GET");
	check_span(r.target, r.target_len, "/agency/chats?x=1");
	check_eq(r.minor_version, 1);
	check_eq(r.num_headers, 3);
	check_span(r.headers[0].name, r.headers[0].name_len, "Host");
	check_span(r.headers[0].value, r.headers[0].value_len,
		   "localhost:8300");
	check_span(r.headers[1].value, r.headers[1].value_len, "Bearer abc");
	check_span(r.headers[2].name, r.headers[2].name_len, "X-Empty");
	check_eq(r.headers[2].value_len, 0);
	check_eq(r.head_len, strlen(in));
	check_eq(r.content_length, 0);
	check(r.body == in + strlen(in));
	check_eq(r.keep_alive, 1);
	check_eq(r.upgrade_websocket, 0);
	return 0;
}

static int t_req_post_body(void)
{
	static const char in[] = "POST /participant/signup HTTP/1.1\r\n"
				 "Host: h\r\n"
				 "Content-Type: application/json\r\n"
				 "Content-Length: 13\r\n"
				 "content-length: 013\r\n" /* same value: fine */
				 "\r\n"
				 "{\"a\":\"hello\"}";
	struct http_request r;
	size_t head = strlen(in) - 13;

	FEED_REQ(&r, in, BIG, BIG, (long)strlen(in));
	check_span(r.method, r.method_len, "POST");
	check_eq(r.head_len, head);
	check_eq(r.content_length, 13);
	check(r.body == in + head);
	check_span(r.body, (size_t)r.content_length, "{\"a\":\"hello\"}");
	/* body exactly at the limit is accepted */
	FEED_REQ(&r, in, BIG, 13, (long)strlen(in));
	/* the head limit counts the blank line: exactly head_len is enough */
	FEED_REQ(&r, in, head, 13, (long)strlen(in));
	return 0;
}

static int t_req_websocket(void)
{
	static const char in[] = "GET /connect HTTP/1.1\r\n"
				 "Host: localhost:8300\r\n"
				 "Connection: keep-alive, Upgrade\r\n"
				 "Upgrade: WebSocket\r\n"
				 "Sec-WebSocket-Version: 13\r\n"
				 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
				 "\r\n";
	struct http_request r;
	const struct http_header *h;

	FEED_REQ(&r, in, BIG, 0, (long)strlen(in));
	check_eq(r.upgrade_websocket, 1);
	check_eq(r.keep_alive, 1);
	h = http_header_find(r.headers, r.num_headers, "sec-websocket-key");
	check(h != NULL);
	check_span(h->value, h->value_len, "dGhlIHNhbXBsZSBub25jZQ==");
	check(http_header_find(r.headers, r.num_headers, "Origin") == NULL);

	/* either half missing: not an upgrade */
	FEED_REQ(&r, "GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n", BIG, 0,
		 WHOLE);
	check_eq(r.upgrade_websocket, 0);
	FEED_REQ(&r, "GET / HTTP/1.1\r\nConnection: upgrade\r\n"
		     "Upgrade: h2c\r\n\r\n", BIG, 0, WHOLE);
	check_eq(r.upgrade_websocket, 0);
	/* the tokens may come in separate header lines */
	FEED_REQ(&r, "GET / HTTP/1.1\r\nConnection: x\r\nConnection: upgrade\r\n"
		     "Upgrade: foo, websocket\r\n\r\n", BIG, 0, WHOLE);
	check_eq(r.upgrade_websocket, 1);
	return 0;
}

static int t_req_keep_alive(void)
{
	struct http_request r;

	FEED_REQ(&r, "GET / HTTP/1.1\r\n\r\n", BIG, 0, WHOLE);
	check_eq(r.keep_alive, 1);
	FEED_REQ(&r, "GET / HTTP/1.1\r\nConnection: Close\r\n\r\n", BIG, 0,
		 WHOLE);
	check_eq(r.keep_alive, 0);
	FEED_REQ(&r, "GET / HTTP/1.1\r\nConnection: foo, close\r\n\r\n", BIG,
		 0, WHOLE);
	check_eq(r.keep_alive, 0);
	FEED_REQ(&r, "GET / HTTP/1.0\r\n\r\n", BIG, 0, WHOLE);
	check_eq(r.minor_version, 0);
	check_eq(r.keep_alive, 0);
	FEED_REQ(&r, "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", BIG,
		 0, WHOLE);
	check_eq(r.keep_alive, 1);
	/* "keep-alives" is not the token keep-alive */
	FEED_REQ(&r, "GET / HTTP/1.0\r\nConnection: keep-alives\r\n\r\n", BIG,
		 0, WHOLE);
	check_eq(r.keep_alive, 0);
	return 0;
}

static int t_req_pipelined(void)
{
	static const char a[] = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n";
	static const char b[] = "POST /b HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
	static const char c[] = "GET /c HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
	char in[256];
	size_t la = strlen(a), lb = strlen(b), lc = strlen(c), n, off;
	const char *targets[3] = { "/a", "/b", "/c" };
	struct http_request r;

	n = (size_t)snprintf(in, sizeof(in), "%s%s%s", a, b, c);
	check_eq(n, la + lb + lc);
	/* a caller looping over the buffer sees three requests */
	off = 0;
	for (int i = 0; i < 3; i++) {
		long rc = http_request_parse(&r, in + off, n - off, BIG, BIG);

		check(rc > 0);
		check_span(r.target, r.target_len, targets[i]);
		off += (size_t)rc;
	}
	check_eq(off, n);
	check_eq(http_request_parse(&r, in + off, 0, BIG, BIG), HTTP_PARTIAL);
	/* every prefix: PARTIAL until the first request is whole, then its
	 * length, whatever follows */
	for (size_t k = 0; k <= n; k++) {
		char *p = dup_n(in, k);
		long rc = http_request_parse(&r, p, k, BIG, BIG);

		check_eq(rc, k < la ? HTTP_PARTIAL : (long)la);
		free(p);
	}
	/* and the second one behind it, from every prefix of the rest */
	for (size_t k = la; k <= n; k++) {
		char *p = dup_n(in + la, k - la);
		long rc = http_request_parse(&r, p, k - la, BIG, BIG);

		check_eq(rc, k - la < lb ? HTTP_PARTIAL : (long)lb);
		if (rc > 0)
			check_span(r.body, (size_t)r.content_length, "hello");
		free(p);
	}
	return 0;
}

static int t_req_431(void)
{
	static const char in[] = "GET / HTTP/1.1\r\nHost: example\r\n\r\n";
	size_t n = strlen(in);
	struct http_request r;
	char hdrs[2048];
	size_t len;

	/* exactly fits, one byte short */
	FEED_REQ(&r, in, n, 0, (long)n);
	FEED_REQ(&r, in, n - 1, 0, HTTP_E_HEADER_TOO_BIG);
	/* refused as soon as max_head bytes hold no head, not before */
	for (size_t k = 0; k < 10; k++)
		check_eq(http_request_parse(&r, in, k, 10, 0), HTTP_PARTIAL);
	for (size_t k = 10; k <= n; k++)
		check_eq(http_request_parse(&r, in, k, 10, 0),
			 HTTP_E_HEADER_TOO_BIG);
	/* a head that never ends */
	memset(hdrs, 'a', sizeof(hdrs));
	memcpy(hdrs, "GET / HTTP/1.1\r\nX-Long: ", 24);
	check_eq(http_request_parse(&r, hdrs, sizeof(hdrs), 1024, 0),
		 HTTP_E_HEADER_TOO_BIG);
	check_eq(http_request_parse(&r, hdrs, 1023, 1024, 0), HTTP_PARTIAL);

	/* HTTP_MAX_HEADERS fields are fine, one more is not */
	len = (size_t)snprintf(hdrs, sizeof(hdrs), "GET / HTTP/1.1\r\n");
	for (int i = 0; i < HTTP_MAX_HEADERS; i++)
		len += (size_t)snprintf(hdrs + len, sizeof(hdrs) - len,
					"X-%d: v\r\n", i);
	memcpy(hdrs + len, "\r\n", 3);
	FEED_REQ(&r, hdrs, BIG, 0, (long)len + 2);
	check_eq(r.num_headers, HTTP_MAX_HEADERS);
	len += (size_t)snprintf(hdrs + len, sizeof(hdrs) - len, "X-x: v\r\n\r\n");
	FEED_REQ(&r, hdrs, BIG, 0, HTTP_E_TOO_MANY_HEADERS);

	/* A malformed line past the limit is bad, not "too many", however
	 * the bytes are split (a fuzzer's finding: "\r\r\n" after 32
	 * fields was 400 as a prefix and 431 whole). */
	len = (size_t)snprintf(hdrs, sizeof(hdrs), "GET / HTTP/1.1\r\n");
	for (int i = 0; i < HTTP_MAX_HEADERS; i++)
		len += (size_t)snprintf(hdrs + len, sizeof(hdrs) - len, "a:\r\n");
	memcpy(hdrs + len, "\r\r\n", 4);
	FEED_REQ(&r, hdrs, BIG, 0, HTTP_E_BAD);
	return 0;
}

static int t_req_413(void)
{
	struct http_request r;
	static const char over[] = "POST / HTTP/1.1\r\nContent-Length: 1001\r\n\r\n";
	static const char at[] = "POST / HTTP/1.1\r\nContent-Length: 1000\r\n\r\n";
	static const char huge[] =
		"POST / HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\n";

	/* refused at the end of the head, no body bytes needed */
	FEED_REQ(&r, over, BIG, 1000, HTTP_E_BODY_TOO_BIG);
	/* within the limit: waits for the body */
	FEED_REQ(&r, at, BIG, 1000, HTTP_PARTIAL);
	check_eq(r.content_length, 1000);
	/* max uint64 parses but can never be returned as a long */
	FEED_REQ(&r, huge, BIG, UINT64_MAX, HTTP_E_BODY_TOO_BIG);
	return 0;
}

static int t_req_bad(void)
{
	static const struct {
		const char *in;
		long want;
	} cases[] = {
		/* line endings */
		{ "GET / HTTP/1.1\n\n", HTTP_E_BAD },
		{ "GET / HTTP/1.1\r\nHost: h\n\r\n", HTTP_E_BAD },
		{ "GET / HTTP/1.1\r\nHost: h\r\n\n", HTTP_E_BAD },
		{ "GET / HTTP/1.1\rHost: h\r\n\r\n", HTTP_E_BAD },
		{ "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", HTTP_E_BAD },
		{ "\r\nGET / HTTP/1.1\r\n\r\n", HTTP_E_BAD },
		/* request line */
		{ "G@T / HTTP/1.1\r\n\r\n", HTTP_E_BAD },
		{ "GET  / HTTP/1.1\r\n\r\n", HTTP_E_BAD },
		{ " GET / HTTP/1.1\r\n\r\n", HTTP_E_BAD },
		{ " / HTTP/1.1\r\n\r\n", HTTP_E_BAD },
		{ "GET  HTTP/1.1\r\n\r\n", HTTP_E_BAD },
		{ "GET /\x01 HTTP/1.1\r\n\r\n", HTTP_E_BAD },
		{ "GET / HTTP/1.1 \r\n\r\n", HTTP_E_BAD },
		{ "GET /\r\n\r\n", HTTP_E_BAD },
		{ "GET / HTTP/1.2\r\n\r\n", HTTP_E_BAD },
		{ "GET / HTTP/2.0\r\n\r\n", HTTP_E_BAD },
		{ "GET / http/1.1\r\n\r\n", HTTP_E_BAD },
		{ "GET / HTTP/1.10\r\n\r\n", HTTP_E_BAD },
		{ "GET / HTTP/1\r\n\r\n", HTTP_E_BAD },
		/* fields */
		{ "GET / HTTP/1.1\r\nHost : h\r\n\r\n", HTTP_E_BAD },
		{ "GET / HTTP/1.1\r\nHo(st: h\r\n\r\n", HTTP_E_BAD },
		{ "GET / HTTP/1.1\r\n: h\r\n\r\n", HTTP_E_BAD },
		{ "GET / HTTP/1.1\r\nHost h\r\n\r\n", HTTP_E_BAD },
		{ "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", HTTP_E_BAD },
		{ "GET / HTTP/1.1\r\n\tX: a\r\n\r\n", HTTP_E_BAD },
		{ "GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n", HTTP_E_BAD },
		{ "GET / HTTP/1.1\r\nX: a\x01\r\n\r\n", HTTP_E_BAD },
		/* Content-Length */
		{ "POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", HTTP_E_BAD },
		{ "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", HTTP_E_BAD },
		{ "POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\n", HTTP_E_BAD },
		{ "POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", HTTP_E_BAD },
		{ "POST / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n", HTTP_E_BAD },
		{ "POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n", HTTP_E_BAD },
		{ "POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n", HTTP_E_BAD },
		{ "POST / HTTP/1.1\r\nContent-Length: 18446744073709551616\r\n\r\n",
		  HTTP_E_BAD },
		{ "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
		  HTTP_E_BAD },
		{ "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
		  HTTP_E_BAD },
		/* Transfer-Encoding */
		{ "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
		  HTTP_E_UNSUPPORTED },
		{ "POST / HTTP/1.1\r\nContent-Length: 3\r\n"
		  "transfer-encoding: gzip\r\n\r\nabc", HTTP_E_UNSUPPORTED },
	};
	struct http_request r;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int line = req_feed(&r, cases[i].in, strlen(cases[i].in), BIG,
				    BIG, cases[i].want);

		if (line) {
			fprintf(stderr, "  case %zu: \"%s\"\n", i, cases[i].in);
			return line;
		}
	}
	/* a NUL in a value (strlen-free input) */
	{
		static const char in[] = "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n";

		FEED_REQ(&r, in, BIG, BIG, HTTP_PARTIAL); /* strlen stops */
		check_eq(req_feed(&r, in, sizeof(in) - 1, BIG, BIG,
				  HTTP_E_BAD), 0);
	}
	/* and in a field name and a method */
	{
		static const char in[] = "GET / HTTP/1.1\r\nX\0Y: a\r\n\r\n";
		static const char in2[] = "G\0T / HTTP/1.1\r\n\r\n";

		check_eq(req_feed(&r, in, sizeof(in) - 1, BIG, BIG,
				  HTTP_E_BAD), 0);
		check_eq(req_feed(&r, in2, sizeof(in2) - 1, BIG, BIG,
				  HTTP_E_BAD), 0);
	}
	return 0;
}

/* Malformed input is refused when its line ends, not at max_head. */
static int t_req_bad_early(void)
{
	struct http_request r;

	check_eq(http_request_parse(&r, "GET / HTTP/1.1\n", 15, BIG, 0),
		 HTTP_E_BAD);
	check_eq(http_request_parse(&r, "GET / HTTP/1.1\rX", 16, BIG, 0),
		 HTTP_E_BAD);
	check_eq(http_request_parse(&r, "GET / HTTP/1.1\r", 15, BIG, 0),
		 HTTP_PARTIAL);
	check_eq(http_request_parse(&r, "GET / HTTP/1.1\r\nX : y\r\n", 23,
				    BIG, 0), HTTP_E_BAD);
	check_eq(http_request_parse(&r, "GET / HTTP/1.1\r\nX : y", 21, BIG,
				    0), HTTP_PARTIAL);
	return 0;
}

/* ---- helpers ---- */

static int t_has_token(void)
{
	check_eq(http_has_token("keep-alive, Upgrade", 19, "upgrade"), 1);
	check_eq(http_has_token("keep-alive, Upgrade", 19, "keep-alive"), 1);
	check_eq(http_has_token("keep-alive, Upgrade", 19, "upgrad"), 0);
	check_eq(http_has_token("keep-alive, Upgrade", 19, "alive"), 0);
	check_eq(http_has_token("  close  ", 9, "CLOSE"), 1);
	check_eq(http_has_token(",,close,", 8, "close"), 1);
	check_eq(http_has_token("a,\tb ,c", 7, "b"), 1);
	check_eq(http_has_token("close", 4, "close"), 0); /* n bounds it */
	check_eq(http_has_token("", 0, "close"), 0);
	check_eq(http_has_token("a, ,b", 5, "b"), 1);
	check_eq(http_has_token("upgrade-x", 9, "upgrade"), 0);
	return 0;
}

static int t_header_find(void)
{
	struct http_header h[2] = {
		{ "Host", 4, "a", 1 },
		{ "Content-Length", 14, "5", 1 },
	};

	check(http_header_find(h, 2, "host") == &h[0]);
	check(http_header_find(h, 2, "CONTENT-LENGTH") == &h[1]);
	check(http_header_find(h, 2, "Content") == NULL);
	check(http_header_find(h, 2, "Content-Lengths") == NULL);
	check(http_header_find(h, 1, "content-length") == NULL);
	check(http_header_find(h, 0, "host") == NULL);
	return 0;
}

static int t_reason(void)
{
	check(strcmp(http_reason(200), "OK") == 0);
	check(strcmp(http_reason(101), "Switching Protocols") == 0);
	check(strcmp(http_reason(400), "Bad Request") == 0);
	check(strcmp(http_reason(404), "Not Found") == 0);
	check(strcmp(http_reason(413), "Content Too Large") == 0);
	check(strcmp(http_reason(431),
		     "Request Header Fields Too Large") == 0);
	check(strcmp(http_reason(501), "Not Implemented") == 0);
	check(strcmp(http_reason(299), "Unknown") == 0);
	check(strcmp(http_reason(-1), "Unknown") == 0);
	return 0;
}

/* ---- writers ---- */

/*
 * Write with every capacity from 0 up: 0 while too small, never a byte past
 * cap, and the exact expected bytes once it fits.
 */
#define CANARY '\xa5'
static int check_writer_caps(const char *want, size_t (*w)(char *, size_t,
							   const void *),
			     const void *arg)
{
	size_t n = strlen(want);
	char buf[512];

	check(n + 8 < sizeof(buf));
	for (size_t cap = 0; cap <= n + 4; cap++) {
		size_t got;

		memset(buf, CANARY, sizeof(buf));
		got = w(buf, cap, arg);
		for (size_t i = cap; i < sizeof(buf); i++)
			check(buf[i] == CANARY);
		if (cap < n) {
			check_eq(got, 0);
		} else {
			check_eq(got, n);
			check(memcmp(buf, want, n) == 0);
		}
	}
	return 0;
}

struct resp_args {
	int status;
	const char *ctype;
	uint64_t cl;
	int ka;
	const char *extra;
};

static size_t resp_w(char *dst, size_t cap, const void *arg)
{
	const struct resp_args *a = arg;

	return http_response_head(dst, cap, a->status, a->ctype, a->cl, a->ka,
				  a->extra);
}

static int t_response_head(void)
{
	static const struct {
		struct resp_args a;
		const char *want;
	} cases[] = {
		{ { 200, "application/json", 2, 1, NULL },
		  "HTTP/1.1 200 OK\r\n"
		  "Content-Type: application/json\r\n"
		  "Content-Length: 2\r\n"
		  "Connection: keep-alive\r\n"
		  "\r\n" },
		{ { 404, NULL, 0, 0, "X-A: b\r\nX-C: d\r\n" },
		  "HTTP/1.1 404 Not Found\r\n"
		  "Content-Length: 0\r\n"
		  "Connection: close\r\n"
		  "X-A: b\r\nX-C: d\r\n"
		  "\r\n" },
		{ { 413, "text/plain", UINT64_MAX, 0, NULL },
		  "HTTP/1.1 413 Content Too Large\r\n"
		  "Content-Type: text/plain\r\n"
		  "Content-Length: 18446744073709551615\r\n"
		  "Connection: close\r\n"
		  "\r\n" },
		{ { 101, NULL, 0, 1,
		    "Upgrade: websocket\r\n"
		    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" },
		  "HTTP/1.1 101 Switching Protocols\r\n"
		  "Connection: Upgrade\r\n"
		  "Upgrade: websocket\r\n"
		  "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
		  "\r\n" },
		{ { 204, NULL, 0, 1, NULL },
		  "HTTP/1.1 204 No Content\r\n"
		  "Connection: keep-alive\r\n"
		  "\r\n" },
		{ { 599, NULL, 10, 1, NULL },
		  "HTTP/1.1 599 Unknown\r\n"
		  "Content-Length: 10\r\n"
		  "Connection: keep-alive\r\n"
		  "\r\n" },
	};
	char buf[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int line = check_writer_caps(cases[i].want, resp_w,
					     &cases[i].a);

		if (line) {
			fprintf(stderr, "  case %zu\n", i);
			return line;
		}
	}
	check_eq(http_response_head(buf, sizeof(buf), 99, NULL, 0, 1, NULL), 0);
	check_eq(http_response_head(buf, sizeof(buf), 1000, NULL, 0, 1, NULL),
		 0);
	return 0;
}

struct reqw_args {
	const char *method, *host, *target, *extra;
	const void *body;
	size_t body_len;
};

static size_t reqw_w(char *dst, size_t cap, const void *arg)
{
	const struct reqw_args *a = arg;

	return http_request_write(dst, cap, a->method, a->host, a->target,
				  a->extra, a->body, a->body_len);
}

static int t_request_write(void)
{
	static const struct {
		struct reqw_args a;
		const char *want;
	} cases[] = {
		{ { "GET", "localhost:8000", "/organizer/me",
		    "Authorization: Bearer t\r\n", NULL, 0 },
		  "GET /organizer/me HTTP/1.1\r\n"
		  "Host: localhost:8000\r\n"
		  "Authorization: Bearer t\r\n"
		  "\r\n" },
		{ { "POST", "h", "/auth/signin", NULL, "{\"a\":1}", 7 },
		  "POST /auth/signin HTTP/1.1\r\n"
		  "Host: h\r\n"
		  "Content-Type: application/json\r\n"
		  "Content-Length: 7\r\n"
		  "\r\n"
		  "{\"a\":1}" },
		{ { "POST", "h", "/", NULL, "", 0 },
		  "POST / HTTP/1.1\r\n"
		  "Host: h\r\n"
		  "Content-Type: application/json\r\n"
		  "Content-Length: 0\r\n"
		  "\r\n" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int line = check_writer_caps(cases[i].want, reqw_w,
					     &cases[i].a);

		if (line) {
			fprintf(stderr, "  case %zu\n", i);
			return line;
		}
	}
	return 0;
}

/* What the request writer produces, the request parser accepts. */
static int t_write_parse_roundtrip(void)
{
	char buf[256];
	struct http_request r;
	size_t n = http_request_write(buf, sizeof(buf), "POST", "h:1", "/x?y",
				      "Connection: close\r\n", "[1,2]", 5);

	check(n > 0);
	check_eq(http_request_parse(&r, buf, n, BIG, BIG), (long)n);
	check_span(r.method, r.method_len, "POST");
	check_span(r.target, r.target_len, "/x?y");
	check_span(r.body, (size_t)r.content_length, "[1,2]");
	check_eq(r.keep_alive, 0);
	return 0;
}

/* ---- response parsing ---- */

static int resp_same(const struct http_response *a, const char *ab,
		     const struct http_response *b, const char *bb)
{
	check_eq(a->minor_version, b->minor_version);
	check_eq(a->status, b->status);
	check_eq(a->reason - ab, b->reason - bb);
	check_eq(a->reason_len, b->reason_len);
	check_eq(a->num_headers, b->num_headers);
	for (size_t i = 0; i < a->num_headers; i++) {
		check_eq(a->headers[i].name - ab, b->headers[i].name - bb);
		check_eq(a->headers[i].name_len, b->headers[i].name_len);
		check_eq(a->headers[i].value - ab, b->headers[i].value - bb);
		check_eq(a->headers[i].value_len, b->headers[i].value_len);
	}
	check_eq(a->head_len, b->head_len);
	check_eq(a->content_length, b->content_length);
	check_eq(a->chunked, b->chunked);
	check_eq(a->keep_alive, b->keep_alive);
	return 0;
}

static int resp_feed(struct http_response *out, const char *in, size_t n,
		     size_t max_head, long want)
{
	struct http_response ref, r;
	char *full = dup_n(in, n);
	int refused = 0;
	long rc;

	if (want == WHOLE)
		want = (long)n;
	check(full != NULL);
	rc = http_response_parse(&ref, full, n, max_head);
	check_eq(rc, want);
	for (size_t k = 0; k < n; k++) {
		char *p = dup_n(in, k);

		rc = http_response_parse(&r, p, k, max_head);
		free(p);
		/* A response head is complete before its body: prefixes
		 * that already hold the head give the same answer. */
		if (want > 0 && k >= (size_t)want) {
			check_eq(rc, want);
		} else if (want > 0 || !refused) {
			if (rc != HTTP_PARTIAL) {
				check(want < 0);
				check_eq(rc, want);
				refused = 1;
			}
		} else {
			check_eq(rc, want);
		}
	}
	for (size_t k = 0; k <= n && want > 0; k++) {
		char *p = dup_n(in, k);
		int line;

		rc = http_response_parse(&r, p, k, max_head);
		check_eq(rc, k >= (size_t)want ? want : HTTP_PARTIAL);
		free(p);
		rc = http_response_parse(&r, full, n, max_head);
		check_eq(rc, want);
		line = resp_same(&r, full, &ref, full);
		if (line)
			return line;
	}
	free(full);
	rc = http_response_parse(out, in, n, max_head);
	check_eq(rc, want);
	return 0;
}

#define FEED_RESP(r, s, mh, want)                                          \
	do {                                                               \
		int l_ = resp_feed((r), (s), strlen(s), (mh), (want));     \
		if (l_) {                                                  \
			fprintf(stderr, "  (from line %d)\n", __LINE__);   \
			return l_;                                         \
		}                                                          \
	} while (0)

static int t_resp_basic(void)
{
	static const char head[] = "HTTP/1.1 201 Created\r\n"
				   "Content-Type: application/json; charset=utf-8\r\n"
				   "Content-Length: 2\r\n"
				   "\r\n";
	char in[256];
	struct http_response r;

	snprintf(in, sizeof(in), "%s{}", head);
	FEED_RESP(&r, in, BIG, (long)strlen(head));
	check_eq(r.minor_version, 1);
	check_eq(r.status, 201);
	check_span(r.reason, r.reason_len, "Created");
	check_eq(r.num_headers, 2);
	check_eq(r.head_len, strlen(head));
	check_eq(r.content_length, 2);
	check_eq(r.chunked, 0);
	check_eq(r.keep_alive, 1);
	return 0;
}

static int t_resp_variants(void)
{
	struct http_response r;

	/* empty reason, with and without the separating space */
	FEED_RESP(&r, "HTTP/1.1 200 \r\n\r\n", BIG, WHOLE);
	check_eq(r.status, 200);
	check_eq(r.reason_len, 0);
	FEED_RESP(&r, "HTTP/1.1 204\r\n\r\n", BIG, WHOLE);
	check_eq(r.status, 204);
	check_eq(r.reason_len, 0);
	check_eq(r.content_length, -1);
	/* reason with spaces and tabs */
	FEED_RESP(&r, "HTTP/1.1 404 Not\tReally Found\r\n\r\n", BIG, WHOLE);
	check_span(r.reason, r.reason_len, "Not\tReally Found");
	/* chunked, which overrides a Content-Length */
	FEED_RESP(&r, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n"
		      "Content-Length: 10\r\n\r\n", BIG, WHOLE);
	check_eq(r.chunked, 1);
	check_eq(r.content_length, -1);
	/* HTTP/1.0 closes unless asked */
	FEED_RESP(&r, "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", BIG, WHOLE);
	check_eq(r.minor_version, 0);
	check_eq(r.keep_alive, 0);
	check_eq(r.content_length, 0);
	FEED_RESP(&r, "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n", BIG,
		  WHOLE);
	check_eq(r.keep_alive, 1);
	FEED_RESP(&r, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", BIG, WHOLE);
	check_eq(r.keep_alive, 0);
	/* largest representable length */
	FEED_RESP(&r, "HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775807"
		      "\r\n\r\n", BIG, WHOLE);
	check_eq(r.content_length, INT64_MAX);
	/* 101 for the WebSocket client */
	FEED_RESP(&r, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket"
		      "\r\nConnection: Upgrade\r\n\r\n", BIG, WHOLE);
	check_eq(r.status, 101);
	return 0;
}

static int t_resp_bad(void)
{
	static const struct {
		const char *in;
		long want;
	} cases[] = {
		{ "HTTP/1.1 20 OK\r\n\r\n", HTTP_E_BAD },
		{ "HTTP/1.1 2000 OK\r\n\r\n", HTTP_E_BAD },
		{ "HTTP/1.1 2x0 OK\r\n\r\n", HTTP_E_BAD },
		{ "HTTP/1.1  200 OK\r\n\r\n", HTTP_E_BAD },
		{ "HTTP/2 200 OK\r\n\r\n", HTTP_E_BAD },
		{ "HTTP/1.1 200 OK\n\r\n", HTTP_E_BAD },
		{ "HTTP/1.1 200 OK\r\nX: y\n\r\n", HTTP_E_BAD },
		{ "HTTP/1.1 200 O\x01K\r\n\r\n", HTTP_E_BAD },
		{ "HTTP/1.1 200 OK\r\n folded\r\n\r\n", HTTP_E_BAD },
		{ "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", HTTP_E_BAD },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775808\r\n\r\n",
		  HTTP_E_BAD },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
		  HTTP_E_BAD },
	};
	struct http_response r;
	char big[2048];
	size_t len;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int line = resp_feed(&r, cases[i].in, strlen(cases[i].in), BIG,
				     cases[i].want);

		if (line) {
			fprintf(stderr, "  case %zu: \"%s\"\n", i, cases[i].in);
			return line;
		}
	}
	/* head limits */
	FEED_RESP(&r, "HTTP/1.1 200 OK\r\n\r\n", 19, 19);
	FEED_RESP(&r, "HTTP/1.1 200 OK\r\n\r\n", 18, HTTP_E_HEADER_TOO_BIG);
	len = (size_t)snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\n");
	for (int i = 0; i <= HTTP_MAX_HEADERS; i++)
		len += (size_t)snprintf(big + len, sizeof(big) - len,
					"X-%d: v\r\n", i);
	snprintf(big + len, sizeof(big) - len, "\r\n");
	FEED_RESP(&r, big, BIG, HTTP_E_TOO_MANY_HEADERS);
	return 0;
}

/* ---- chunked decoding ---- */

/*
 * Decode in[0..n) delivered in pieces: cuts[] lists the piece boundaries.
 * Each piece is decoded in place in a heap copy of exactly its length; the
 * decoded bytes are appended to out. Returns the final decoder result.
 */
static int chunked_pieces(const char *in, size_t n, const size_t *cuts,
			  size_t ncuts, uint64_t max_body, char *out,
			  size_t *out_len, char *extra, size_t *extra_len)
{
	struct http_chunked d;
	size_t start = 0;
	int rc = 0;

	memset(&d, 0, sizeof(d));
	*out_len = 0;
	*extra_len = 0;
	for (size_t i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : n;
		size_t len = end - start, ex = 12345;
		char *p = dup_n(in + start, len);

		rc = http_chunked_decode(&d, p, &len, max_body, &ex);
		if (rc < 0) {
			free(p);
			return rc;
		}
		memcpy(out + *out_len, p, len);
		*out_len += len;
		if (rc == 1) {
			memcpy(extra, p + len, ex);
			*extra_len = ex;
			/* later pieces are not fed: they are the next message,
			 * which the extra already accounts for */
			free(p);
			for (size_t j = i + 1; j <= ncuts; j++) {
				size_t e2 = j < ncuts ? cuts[j] : n;
				size_t s2 = j > 0 ? cuts[j - 1] : 0;

				memcpy(extra + *extra_len, in + s2, e2 - s2);
				*extra_len += e2 - s2;
			}
			return 1;
		}
		free(p);
		if (ex != 0)
			return -100; /* consumed_extra must be 0 on return 0 */
		start = end;
	}
	return rc;
}

/*
 * The full input must decode to want/want_extra (rc 1), whole, split at
 * every position, and byte by byte; want_rc < 0 must come out whichever way
 * the input is cut.
 */
static int chunked_all_ways(const char *in, size_t n, uint64_t max_body,
			    int want_rc, const char *want, size_t want_len,
			    const char *want_extra, size_t want_extra_len)
{
	char out[1024], extra[1024];
	size_t out_len, extra_len, *cuts;
	int rc;

	check(n < sizeof(out));
	/* whole */
	rc = chunked_pieces(in, n, NULL, 0, max_body, out, &out_len, extra,
			    &extra_len);
	check_eq(rc, want_rc);
	if (want_rc == 1) {
		check(out_len == want_len && memcmp(out, want, want_len) == 0);
		check(extra_len == want_extra_len &&
		      memcmp(extra, want_extra, want_extra_len) == 0);
	}
	/* split in two at every position */
	for (size_t k = 0; k <= n; k++) {
		rc = chunked_pieces(in, n, &k, 1, max_body, out, &out_len,
				    extra, &extra_len);
		check_eq(rc, want_rc);
		if (want_rc == 1) {
			check(out_len == want_len &&
			      memcmp(out, want, want_len) == 0);
			check(extra_len == want_extra_len &&
			      memcmp(extra, want_extra, want_extra_len) == 0);
		}
	}
	/* one byte at a time */
	cuts = malloc((n + 1) * sizeof(*cuts));
	check(cuts != NULL);
	for (size_t k = 0; k < n; k++)
		cuts[k] = k + 1;
	rc = chunked_pieces(in, n, cuts, n ? n - 1 : 0, max_body, out,
			    &out_len, extra, &extra_len);
	free(cuts);
	check_eq(rc, want_rc);
	if (want_rc == 1) {
		check(out_len == want_len && memcmp(out, want, want_len) == 0);
		check(extra_len == want_extra_len &&
		      memcmp(extra, want_extra, want_extra_len) == 0);
	}
	/* every truncated prefix is "need more" (or already the error) */
	for (size_t k = 0; k + want_extra_len < n; k++) {
		size_t len = k;
		char *p = dup_n(in, k);
		struct http_chunked d;

		memset(&d, 0, sizeof(d));
		rc = http_chunked_decode(&d, p, &len, max_body, NULL);
		free(p);
		check(rc == 0 || (want_rc < 0 && rc == want_rc));
	}
	return 0;
}

#define CHUNKED(in, mb, rc, want, extra)                                   \
	do {                                                               \
		int l_ = chunked_all_ways((in), strlen(in), (mb), (rc),    \
					  (want), strlen(want), (extra),   \
					  strlen(extra));                  \
		if (l_) {                                                  \
			fprintf(stderr, "  (from line %d)\n", __LINE__);   \
			return l_;                                         \
		}                                                          \
	} while (0)

static int t_chunked_ok(void)
{
	/* The classic example: sizes in hex, a chunk holding CRLFs. */
	CHUNKED("4\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n"
		"0\r\n\r\n",
		BIG, 1, "Wikipedia in\r\n\r\nchunks.", "");
	/* the next response right behind it */
	CHUNKED("3\r\nabc\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n", BIG, 1, "abc",
		"HTTP/1.1 200 OK\r\n");
	/* extensions (RFC 9112 §7.1.1), with BWS and quoted values */
	CHUNKED("5;name=value\r\nhello\r\n6 ; a=\"x;y\" ;b\r\n world\r\n"
		"0;last\r\n\r\n",
		BIG, 1, "hello world", "");
	/* trailers (§7.1.2) are consumed and dropped */
	CHUNKED("2\r\nok\r\n0\r\nExpires: never\r\nX-Sum:\r\n\r\nnext", BIG,
		1, "ok", "next");
	/* hex case and leading zeros; 16 significant digits are fine */
	CHUNKED("0000000000000000000a\r\n0123456789\r\nA\r\nabcdefghij\r\n"
		"0\r\n\r\n",
		BIG, 1, "0123456789abcdefghij", "");
	/* empty body */
	CHUNKED("0\r\n\r\n", 0, 1, "", "");
	/* exactly at the body limit */
	CHUNKED("3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", 5, 1, "abcde", "");
	return 0;
}

static int t_chunked_bad(void)
{
	CHUNKED("\r\n", BIG, HTTP_E_BAD, "", "");
	CHUNKED(";x\r\n", BIG, HTTP_E_BAD, "", "");
	CHUNKED("g\r\n", BIG, HTTP_E_BAD, "", "");
	CHUNKED("-1\r\n", BIG, HTTP_E_BAD, "", "");
	CHUNKED("5\nhello\r\n0\r\n\r\n", BIG, HTTP_E_BAD, "", "");
	CHUNKED("5\rhello\r\n0\r\n\r\n", BIG, HTTP_E_BAD, "", "");
	CHUNKED("5\r\nhelloX\r\n0\r\n\r\n", BIG, HTTP_E_BAD, "", "");
	CHUNKED("5\r\nhello\n0\r\n\r\n", BIG, HTTP_E_BAD, "", "");
	CHUNKED("5 x\r\nhello\r\n0\r\n\r\n", BIG, HTTP_E_BAD, "", "");
	CHUNKED("5;a\nb\r\nhello\r\n0\r\n\r\n", BIG, HTTP_E_BAD, "", "");
	/* a size line needs digits after the first chunk too */
	CHUNKED("3\r\nabc\r\n\r\n", BIG, HTTP_E_BAD, "", "");
	CHUNKED("3\r\nabc\r\n;x\r\n", BIG, HTTP_E_BAD, "", "");
	CHUNKED("0\r\n folded\r\n\r\n", BIG, HTTP_E_BAD, "", "");
	CHUNKED("0\r\nX: y\n\r\n", BIG, HTTP_E_BAD, "", "");
	CHUNKED("0\r\n\rX", BIG, HTTP_E_BAD, "", "");
	/* 2^64 does not fit */
	CHUNKED("10000000000000000\r\n", UINT64_MAX, HTTP_E_BAD, "", "");
	CHUNKED("fffffffffffffffff\r\n", UINT64_MAX, HTTP_E_BAD, "", "");
	/* over the limit: refused when the size line ends, before data */
	CHUNKED("3\r\nabc\r\n3\r\n", 5, HTTP_E_BODY_TOO_BIG, "", "");
	CHUNKED("ffffffffffffffff\r\n", UINT64_MAX - 1, HTTP_E_BODY_TOO_BIG,
		"", "");
	return 0;
}

static int t_chunked_state(void)
{
	struct http_chunked d;
	char buf[64];
	size_t len, ex;

	/* the largest size is accepted and waits for its data */
	memset(&d, 0, sizeof(d));
	memcpy(buf, "ffffffffffffffff\r\nab", 20);
	len = 20;
	check_eq(http_chunked_decode(&d, buf, &len, UINT64_MAX, &ex), 0);
	check_eq(len, 2);
	check_eq(d.remaining, UINT64_MAX - 2);
	check_eq(d.total, 2);

	/* an error is latched */
	memset(&d, 0, sizeof(d));
	memcpy(buf, "x", 1);
	len = 1;
	check_eq(http_chunked_decode(&d, buf, &len, BIG, NULL), HTTP_E_BAD);
	memcpy(buf, "0\r\n\r\n", 5);
	len = 5;
	check_eq(http_chunked_decode(&d, buf, &len, BIG, NULL), HTTP_E_BAD);
	len = 0;
	check_eq(http_chunked_decode(&d, buf, &len, BIG, NULL), HTTP_E_BAD);

	/* feeding nothing changes nothing */
	memset(&d, 0, sizeof(d));
	len = 0;
	check_eq(http_chunked_decode(&d, buf, &len, BIG, &ex), 0);
	check_eq(len, 0);
	check_eq(ex, 0);

	/* data is moved to the front, total counts it */
	memset(&d, 0, sizeof(d));
	memcpy(buf, "2\r\nab\r\n1\r\nc\r\n0\r\n\r\nZZ", 20);
	len = 20;
	check_eq(http_chunked_decode(&d, buf, &len, BIG, &ex), 1);
	check_eq(len, 3);
	check_eq(ex, 2);
	check(memcmp(buf, "abcZZ", 5) == 0);
	check_eq(d.total, 3);
	return 0;
}

/* ---- URLs ---- */

static int url_ok(const char *s, int tls, int ws, const char *host,
		  unsigned port, const char *path)
{
	struct http_url u;
	size_t n = strlen(s);
	char *p = dup_n(s, n); /* not NUL-terminated as far as ASan knows */

	check_eq(http_url_parse(&u, p, n), 0);
	check_eq(u.tls, tls);
	check_eq(u.websocket, ws);
	check_span(u.host, u.host_len, host);
	check_eq(u.port, port);
	check_span(u.path, u.path_len, path);
	free(p);
	return 0;
}

static int url_bad(const char *s)
{
	struct http_url u;
	size_t n = strlen(s);
	char *p = dup_n(s, n);

	check_eq(http_url_parse(&u, p, n), -EINVAL);
	free(p);
	return 0;
}

#define URL_OK(...)                                                        \
	do {                                                               \
		int l_ = url_ok(__VA_ARGS__);                              \
		if (l_) {                                                  \
			fprintf(stderr, "  (from line %d)\n", __LINE__);   \
			return l_;                                         \
		}                                                          \
	} while (0)
#define URL_BAD(s)                                                         \
	do {                                                               \
		int l_ = url_bad(s);                                       \
		if (l_) {                                                  \
			fprintf(stderr, "  (from line %d: %s)\n", __LINE__, \
				s);                                        \
			return l_;                                         \
		}                                                          \
	} while (0)

static int t_url(void)
{
	struct http_url u;

	URL_OK("http://localhost:8000", 0, 0, "localhost", 8000, "");
	URL_OK("http://localhost:8100/", 0, 0, "localhost", 8100, "/");
	URL_OK("ws://127.0.0.1:8300/connect", 0, 1, "127.0.0.1", 8300,
	       "/connect");
	URL_OK("wss://host", 1, 1, "host", 443, "");
	URL_OK("ws://host", 0, 1, "host", 80, "");
	URL_OK("http://host", 0, 0, "host", 80, "");
	URL_OK("https://[::1]:8443/x", 1, 0, "::1", 8443, "/x");
	URL_OK("https://[2001:db8::1]/", 1, 0, "2001:db8::1", 443, "/");
	URL_OK("http://[::ffff:192.0.2.1]", 0, 0, "::ffff:192.0.2.1", 80, "");
	URL_OK("HTTP://Example.COM:65535/a/b?c=d", 0, 0, "Example.COM", 65535,
	       "/a/b?c=d");
	URL_OK("http://h:1", 0, 0, "h", 1, "");
	URL_OK("http://h?q=1", 0, 0, "h", 80, "?q=1");
	URL_OK("http://h/p#frag", 0, 0, "h", 80, "/p");
	URL_OK("http://h#frag", 0, 0, "h", 80, "");
	URL_OK("http://my-host.local_1:080/", 0, 0, "my-host.local_1", 80, "/");

	/* ports */
	URL_BAD("http://localhost:0");
	URL_BAD("http://localhost:65536");
	URL_BAD("http://localhost:99999999999999999999");
	URL_BAD("http://localhost:");
	URL_BAD("http://localhost:/x");
	URL_BAD("http://localhost:80a");
	URL_BAD("http://localhost:-1");
	URL_BAD("http://localhost:+80");
	URL_BAD("http://localhost:8 0");
	/* schemes */
	URL_BAD("localhost:8000");
	URL_BAD("//localhost");
	URL_BAD("ftp://localhost");
	URL_BAD("http:/localhost");
	URL_BAD("http:localhost");
	URL_BAD("");
	/* hosts */
	URL_BAD("http://");
	URL_BAD("http:///path");
	URL_BAD("http://:80");
	URL_BAD("https://[]:443");
	URL_BAD("https://[::1:443");
	URL_BAD("https://[::1]x");
	URL_BAD("https://[1.2.3.4]/");
	URL_BAD("https://[::g]/");
	URL_BAD("http://user@host/");
	URL_BAD("http://ho st/");
	URL_BAD("http://host:80:81/");
	/* paths */
	URL_BAD("http://host/a b");
	URL_BAD("http://host/\x01");
	URL_BAD("http://host/\x80");

	/* n bounds the URL: what follows is not read */
	check_eq(http_url_parse(&u, "ws://h:8300/connect", 11), 0);
	check_eq(u.port, 8300);
	check_eq(u.path_len, 0);
	check_eq(http_url_parse(&u, "http://a\0b", 10), -EINVAL);
	return 0;
}

TEST_MAIN(T(t_req_get), T(t_req_post_body), T(t_req_websocket),
	  T(t_req_keep_alive), T(t_req_pipelined), T(t_req_431), T(t_req_413),
	  T(t_req_bad), T(t_req_bad_early), T(t_has_token), T(t_header_find),
	  T(t_reason), T(t_response_head), T(t_request_write),
	  T(t_write_parse_roundtrip), T(t_resp_basic), T(t_resp_variants),
	  T(t_resp_bad), T(t_chunked_ok), T(t_chunked_bad), T(t_chunked_state),
	  T(t_url))
