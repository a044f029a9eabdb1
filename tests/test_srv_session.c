/*
 * Unit tests for serve's two server sessions without sockets:
 * src/serve/ws_session.c (frames in, whole messages and control answers
 * out) and src/serve/http_session.c (requests in, routes called, responses
 * written). The test links the sessions alone and stands in for what is
 * around them: conn.c's writes, lingers, closes and deadlines are recorded
 * here, and so are the calls into the applications (msgr_message,
 * rest_request, rest_refused).
 */
#include "test.h"
#include "serve/serve.h"
#include "http.h"
#include "ws.h"

#include <errno.h>
#include <stdlib.h>

/* ---- what the sessions did, recorded by the stand-ins ---- */

#define MAX_REC 8

struct rec_msg {
	uint8_t data[2048];
	size_t n;
	const uint8_t *at;   /* where the session handed it */
	int text, utf8;
};

static struct {
	uint8_t out[8192];   /* every byte written, in order */
	size_t out_n;
	unsigned writes, lingers, closes, deadlines;
	uint64_t deadline_ms;
	int write_ret;       /* what conn_write answers */
	int dead;            /* conn_alive answers 0 */
	struct rec_msg msg[MAX_REC];
	unsigned nmsg;
	int linger_on_msg;   /* msgr_message lingers the connection */
	/* rest_request / rest_refused */
	unsigned requests, refused;
	char path[256], method[16];
	int keep_alive, status;
	const char *why;
	int upgrade_on_request; /* rest_request moves c to CS_WS_AUTH */
} rec;

static struct serve s;
static struct conn conns[2];
static uint8_t scratch2[4096];

static void setup(size_t max_frame, size_t max_blocks)
{
	memset(&rec, 0, sizeof(rec));
	pool_destroy(&s.msg_pool);
	memset(&s, 0, sizeof(s));
	memset(conns, 0, sizeof(conns));
	s.conns = conns;
	s.o.max_frame = max_frame;
	s.o.max_head = 512;
	s.o.max_body = 64;
	s.o.http_timeout_ms = 7000;
	s.eng.now_ns = 5000000000LL;
	s.scratch2 = scratch2;
	s.scratch_cap = sizeof(scratch2);
	pool_init(&s.msg_pool, max_frame, 4, max_blocks);
	for (int i = 0; i < 2; i++) {
		conns[i].state = CS_WS;
		conns[i].user = conns[i].unext = conns[i].uprev = NIL;
	}
}

int conn_write(struct serve *sv, struct conn *c, const void *p, size_t n,
	       int bounded)
{
	(void)sv;
	(void)c;
	(void)bounded;
	if (rec.write_ret < 0)
		return rec.write_ret;
	if (rec.out_n + n <= sizeof(rec.out)) {
		memcpy(rec.out + rec.out_n, p, n);
		rec.out_n += n;
	}
	rec.writes++;
	return 0;
}

void conn_linger(struct serve *sv, struct conn *c)
{
	(void)sv;
	(void)c;
	rec.lingers++;
	rec.dead = 1;
}

void conn_close(struct serve *sv, struct conn *c)
{
	(void)sv;
	(void)c;
	rec.closes++;
	rec.dead = 1;
}

int conn_alive(const struct serve *sv, const struct conn *c)
{
	(void)sv;
	(void)c;
	return !rec.dead;
}

void conn_deadline(struct serve *sv, struct conn *c, uint64_t ms)
{
	(void)sv;
	(void)c;
	rec.deadlines++;
	rec.deadline_ms = ms;
}

void msgr_message(struct serve *sv, struct conn *c, const uint8_t *p,
		  size_t n, int text, int utf8)
{
	(void)sv;
	(void)c;
	if (rec.nmsg < MAX_REC && n <= sizeof(rec.msg[0].data)) {
		struct rec_msg *m = &rec.msg[rec.nmsg];

		memcpy(m->data, p, n);
		m->n = n;
		m->at = p;
		m->text = text;
		m->utf8 = utf8;
	}
	rec.nmsg++;
	if (rec.linger_on_msg)
		conn_linger(sv, c);
}

void rest_request(struct serve *sv, struct conn *c, const struct hses_req *r)
{
	(void)sv;
	rec.requests++;
	snprintf(rec.path, sizeof(rec.path), "%.*s", (int)r->path_len,
		 r->path);
	snprintf(rec.method, sizeof(rec.method), "%.*s",
		 (int)r->h->method_len, r->h->method);
	rec.keep_alive = r->keep_alive;
	if (rec.upgrade_on_request)
		c->state = CS_WS_AUTH;
}

void rest_refused(struct serve *sv, struct conn *c, int status,
		  const char *msg)
{
	(void)sv;
	(void)c;
	rec.refused++;
	rec.status = status;
	rec.why = msg;
}

/* ---- helpers ---- */

static const uint8_t MASK[4] = { 0x11, 0x22, 0x33, 0x44 };

/* Every input buffer of the WebSocket tests holds IN_CAP bytes. */
#define IN_CAP 4096

/* Append a masked client frame to buf (IN_CAP bytes) at *len. */
static void put(uint8_t *buf, size_t *len, int fin, int op, const void *p,
		size_t n)
{
	*len += ws_frame_encode(buf + *len, IN_CAP - *len, fin, op, p, n,
				MASK);
}

/* The next server frame written, from rec.out at *off. */
static int next_out(size_t *off, struct ws_frame *f)
{
	long r = ws_frame_parse(f, rec.out + *off, rec.out_n - *off,
				WS_ROLE_CLIENT, 1 << 20);

	if (r <= 0)
		return -1;
	*off += (size_t)r;
	return 0;
}

/* The only output is one close frame with this code and reason. */
static int wrote_close(uint16_t code, const char *reason)
{
	struct ws_frame f;
	size_t off = 0, rn;
	uint16_t got;
	const uint8_t *rp;

	if (next_out(&off, &f) < 0 || off != rec.out_n ||
	    f.opcode != WS_OP_CLOSE ||
	    ws_close_parse(f.payload, f.payload_len, &got, &rp, &rn) < 0)
		return 0;
	return got == code && rn == strlen(reason) &&
	       memcmp(rp, reason, rn) == 0;
}

/* ---- ws_session ---- */

/* One frame, one message: handed in place (no copy), counted, and the
 * input counts as activity. */
static int ws_whole_text_in_place(void)
{
	uint8_t in[IN_CAP];
	size_t n = 0;

	setup(1024, 4);
	put(in, &n, 1, WS_OP_TEXT, "hello", 5);
	check_eq(wses_input(&s, &conns[0], in, n), n);
	check_eq(rec.nmsg, 1);
	check_span(rec.msg[0].data, rec.msg[0].n, "hello");
	check(rec.msg[0].text && rec.msg[0].utf8);
	check(rec.msg[0].at >= in && rec.msg[0].at < in + n);
	check_eq(s.stats.frames_in, 1);
	check_eq(conns[0].last_ms, 5000);
	check_eq(rec.writes, 0);
	check_eq(s.msg_pool.used, 0);
	return 0;
}

/* Every truncated prefix of a frame is "need more": nothing consumed,
 * nothing delivered. */
static int ws_partial_prefixes(void)
{
	uint8_t in[IN_CAP], copy[IN_CAP];
	size_t n = 0;

	setup(1024, 4);
	put(in, &n, 1, WS_OP_TEXT, "partial", 7);
	for (size_t k = 0; k < n; k++) {
		memcpy(copy, in, n);
		check_eq(wses_input(&s, &conns[0], copy, k), 0);
	}
	check_eq(rec.nmsg, 0);
	check_eq(s.stats.frames_in, 0);
	check_eq(wses_input(&s, &conns[0], in, n), n);
	check_eq(rec.nmsg, 1);
	return 0;
}

/* Fragments are reassembled in a pool block, a ping between them is
 * answered with its payload at once, and the block goes back when the
 * message is whole. */
static int ws_fragments_and_ping(void)
{
	uint8_t in[IN_CAP];
	size_t n = 0, off = 0;
	struct ws_frame f;

	setup(1024, 4);
	put(in, &n, 0, WS_OP_TEXT, "hel", 3);
	check_eq(wses_input(&s, &conns[0], in, n), n);
	check(conns[0].msg.buf != NULL);
	check_eq(s.msg_pool.used, 1);
	check_eq(rec.nmsg, 0);
	n = 0;
	put(in, &n, 1, WS_OP_PING, "pp", 2);
	put(in, &n, 1, WS_OP_CONT, "lo", 2);
	check_eq(wses_input(&s, &conns[0], in, n), n);
	check_eq(rec.nmsg, 1);
	check_span(rec.msg[0].data, rec.msg[0].n, "hello");
	check(rec.msg[0].text);
	check(conns[0].msg.buf == NULL);
	check_eq(s.msg_pool.used, 0);
	check_eq(s.stats.frames_in, 3);
	check(next_out(&off, &f) == 0);
	check_eq(f.opcode, WS_OP_PONG);
	check(!f.masked);
	check_span(f.payload, f.payload_len, "pp");
	check_eq(off, rec.out_n);
	check_eq(rec.lingers, 0);
	return 0;
}

/* Several frames in one input: each message in order; a pong is heard
 * by nobody. */
static int ws_several_in_one_input(void)
{
	uint8_t in[IN_CAP];
	size_t n = 0;

	setup(1024, 4);
	put(in, &n, 1, WS_OP_TEXT, "one", 3);
	put(in, &n, 1, WS_OP_PONG, "x", 1);
	put(in, &n, 1, WS_OP_TEXT, "two", 3);
	check_eq(wses_input(&s, &conns[0], in, n), n);
	check_eq(rec.nmsg, 2);
	check_span(rec.msg[0].data, rec.msg[0].n, "one");
	check_span(rec.msg[1].data, rec.msg[1].n, "two");
	check_eq(rec.writes, 0);
	check_eq(s.stats.frames_in, 3);
	return 0;
}

/* The kind and the UTF-8 check reach the messenger; the session itself
 * fails nothing for either. */
static int ws_kinds_and_utf8(void)
{
	uint8_t in[IN_CAP];
	size_t n = 0;

	setup(1024, 4);
	put(in, &n, 1, WS_OP_BINARY, "\xff", 1);
	put(in, &n, 1, WS_OP_TEXT, "\xc3\x28", 2);
	put(in, &n, 1, WS_OP_BINARY, "ok", 2);
	check_eq(wses_input(&s, &conns[0], in, n), n);
	check_eq(rec.nmsg, 3);
	check(!rec.msg[0].text && !rec.msg[0].utf8);
	check(rec.msg[1].text && !rec.msg[1].utf8);
	check(!rec.msg[2].text && rec.msg[2].utf8);
	check_eq(rec.writes, 0);
	check_eq(s.stats.err[E_PROTOCOL], 0);
	return 0;
}

static int ws_fail_utf8_closes_1007(void)
{
	setup(1024, 4);
	wses_fail_utf8(&s, &conns[0]);
	check(wrote_close(1007, "invalid utf-8"));
	check_eq(rec.lingers, 1);
	check_eq(s.stats.err[E_PROTOCOL], 1);
	return 0;
}

/* A close frame is echoed with its code, the connection lingers, and what
 * follows it in the input is not read. */
static int ws_close_echoed(void)
{
	uint8_t in[IN_CAP], cl[8];
	size_t n = 0, cn = ws_close_encode(cl, 4001, "bye");

	setup(1024, 4);
	put(in, &n, 1, WS_OP_CLOSE, cl, cn);
	put(in, &n, 1, WS_OP_TEXT, "late", 4);
	check_eq(wses_input(&s, &conns[0], in, n), n);
	check(wrote_close(4001, ""));
	check_eq(rec.lingers, 1);
	check_eq(rec.nmsg, 0);
	check_eq(s.stats.err[E_PROTOCOL], 0);
	return 0;
}

static int ws_close_empty(void)
{
	uint8_t in[IN_CAP];
	size_t n = 0;

	setup(1024, 4);
	put(in, &n, 1, WS_OP_CLOSE, "", 0);
	check_eq(wses_input(&s, &conns[0], in, n), n);
	check_eq(rec.out_n, 2);
	check_eq(rec.out[0], 0x88);
	check_eq(rec.out[1], 0x00);
	check_eq(rec.lingers, 1);
	return 0;
}

static int ws_bad_close(void)
{
	uint8_t in[IN_CAP];
	size_t n = 0;

	setup(1024, 4);
	put(in, &n, 1, WS_OP_CLOSE, "\x03", 1);
	check_eq(wses_input(&s, &conns[0], in, n), n);
	check(wrote_close(1002, "bad close frame"));
	check_eq(s.stats.err[E_PROTOCOL], 1);
	check_eq(rec.lingers, 1);
	return 0;
}

/* A frame against RFC 6455 (here unmasked from a client): 1002, counted,
 * the whole input taken. */
static int ws_protocol_error(void)
{
	uint8_t in[IN_CAP];
	size_t n = ws_frame_encode(in, sizeof(in), 1, WS_OP_TEXT, "hi", 2,
				   NULL);

	setup(1024, 4);
	check_eq(wses_input(&s, &conns[0], in, n), n);
	check(wrote_close(1002, "protocol error"));
	check_eq(s.stats.err[E_PROTOCOL], 1);
	check_eq(s.stats.err[E_TOO_BIG], 0);
	check_eq(rec.nmsg, 0);
	return 0;
}

static int ws_too_big(void)
{
	static uint8_t in[IN_CAP], big[2000];
	size_t n = 0;

	setup(1024, 4);
	put(in, &n, 1, WS_OP_TEXT, big, sizeof(big));
	check_eq(wses_input(&s, &conns[0], in, 20), 20); /* the header shows it */
	check(wrote_close(1009, "message too big"));
	check_eq(s.stats.err[E_TOO_BIG], 1);
	check_eq(s.stats.err[E_PROTOCOL], 0);
	return 0;
}

/* Continuation without a start: 1002; fragments over max_frame: 1009. */
static int ws_bad_fragmentation(void)
{
	static uint8_t in[IN_CAP], part[600];
	size_t n = 0;

	setup(1024, 4);
	put(in, &n, 1, WS_OP_CONT, "x", 1);
	check_eq(wses_input(&s, &conns[0], in, n), n);
	check(wrote_close(1002, "bad fragmentation"));
	check_eq(s.stats.err[E_PROTOCOL], 1);

	setup(1024, 4);
	n = 0;
	put(in, &n, 0, WS_OP_TEXT, part, sizeof(part));
	put(in, &n, 1, WS_OP_CONT, part, sizeof(part));
	check_eq(wses_input(&s, &conns[0], in, n), n);
	check(wrote_close(1009, "bad fragmentation"));
	check_eq(s.stats.err[E_TOO_BIG], 1);
	check_eq(s.stats.err[E_PROTOCOL], 0);
	check_eq(rec.nmsg, 0);
	return 0;
}

/* No block for a fragmented message: -ENOMEM (conn.c closes), counted. */
static int ws_no_block(void)
{
	uint8_t in[IN_CAP];
	size_t n = 0;

	setup(1024, 1);
	put(in, &n, 0, WS_OP_TEXT, "a", 1);
	check_eq(wses_input(&s, &conns[0], in, n), n);
	check_eq(s.stats.err[E_NO_MEMORY], 0);
	check_eq(wses_input(&s, &conns[1], in, n), -ENOMEM);
	check_eq(s.stats.err[E_NO_MEMORY], 1);
	wses_release(&s, &conns[0]);
	check_eq(s.msg_pool.used, 0);
	check(conns[0].msg.buf == NULL && conns[0].msg.len == 0);
	return 0;
}

/* Once the connection stops taking input (the messenger ended it, or it
 * was closing already) the rest of the input is not read. */
static int ws_stops_when_not_alive(void)
{
	uint8_t in[IN_CAP];
	size_t n = 0;

	setup(1024, 4);
	put(in, &n, 1, WS_OP_TEXT, "a", 1);
	put(in, &n, 1, WS_OP_TEXT, "b", 1);
	rec.linger_on_msg = 1;
	check_eq(wses_input(&s, &conns[0], in, n), n);
	check_eq(rec.nmsg, 1);
	check_eq(s.stats.frames_in, 1);

	setup(1024, 4);
	rec.dead = 1;
	check_eq(wses_input(&s, &conns[0], in, n), n);
	check_eq(rec.nmsg, 0);
	return 0;
}

/* wses_text_frame: the header goes in the room before the payload. */
static int ws_text_frame_in_place(void)
{
	uint8_t buf[WSES_ROOM + 300], *f;
	size_t len;

	memcpy(buf + WSES_ROOM, "abc", 3);
	f = wses_text_frame(buf + WSES_ROOM, 3, &len);
	check(f == buf + WSES_ROOM - 2);
	check_eq(len, 5);
	check(memcmp(f, "\x81\x03" "abc", 5) == 0);
	f = wses_text_frame(buf + WSES_ROOM, 300, &len);
	check(f == buf + WSES_ROOM - 4);
	check_eq(len, 304);
	check_eq(f[0], 0x81);
	check_eq(f[1], 126);
	check_eq((f[2] << 8) | f[3], 300);
	return 0;
}

/* ---- http_session ---- */

static void http_setup(void)
{
	setup(1024, 4);
	conns[0].state = CS_HTTP;
}

/* A whole request reaches the route with its path (no query) and its
 * keep-alive; the connection then waits http_timeout_ms for the next. */
static int http_request_routed(void)
{
	static const char req[] =
		"POST /auth/sign-in?x=1 HTTP/1.1\r\nHost: h\r\n"
		"Content-Length: 2\r\n\r\n{}"
		"GET /next HTTP/1.1\r\n\r\n";
	size_t first = sizeof(req) - 1 - strlen("GET /next HTTP/1.1\r\n\r\n");
	char buf[sizeof(req)];

	http_setup();
	memcpy(buf, req, sizeof(req));
	check_eq(hses_input(&s, &conns[0], (uint8_t *)buf, sizeof(req) - 1),
		 first);
	check_eq(rec.requests, 1);
	check(strcmp(rec.method, "POST") == 0);
	check(strcmp(rec.path, "/auth/sign-in") == 0);
	check_eq(rec.keep_alive, 1);
	check_eq(s.stats.http_requests, 1);
	check_eq(rec.deadlines, 1);
	check_eq(rec.deadline_ms, 7000);
	check_eq(rec.refused, 0);
	return 0;
}

static int http_partial_prefixes(void)
{
	static const char req[] = "GET /a HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc";
	char buf[sizeof(req)];

	http_setup();
	for (size_t k = 0; k < sizeof(req) - 1; k++) {
		memcpy(buf, req, sizeof(req));
		check_eq(hses_input(&s, &conns[0], (uint8_t *)buf, k), 0);
	}
	check_eq(rec.requests, 0);
	check_eq(s.stats.http_requests, 0);
	memcpy(buf, req, sizeof(req));
	check_eq(hses_input(&s, &conns[0], (uint8_t *)buf, sizeof(req) - 1),
		 sizeof(req) - 1);
	check_eq(rec.requests, 1);
	check_eq(rec.keep_alive, 0);
	return 0;
}

/* Bytes that are no request: the status for each cause, counted, all the
 * input taken, no route and no new deadline. */
static int http_refused(void)
{
	static const struct { const char *in; int status; const char *why; } t[] = {
		{ "GET / HTTP/2.0\r\n\r\n", 400, "bad request" },
		{ "GET / HTTP/1.1\nHost: x\n\n", 400, "bad request" },
		{ "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 501,
		  "transfer encoding not supported" },
		{ "POST / HTTP/1.1\r\nContent-Length: 65\r\n\r\n", 413,
		  "payload too large" },
	};
	char buf[1024];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		size_t n = strlen(t[i].in);

		http_setup();
		memcpy(buf, t[i].in, n);
		check_eq(hses_input(&s, &conns[0], (uint8_t *)buf, n), n);
		check_eq(rec.refused, 1);
		check_eq(rec.status, t[i].status);
		check(strcmp(rec.why, t[i].why) == 0);
		check_eq(s.stats.err[E_HTTP_BAD], 1);
		check_eq(s.stats.http_requests, 0);
		check_eq(rec.requests, 0);
		check_eq(rec.deadlines, 0);
	}
	/* A head over max_head (512) with no end in sight. */
	http_setup();
	memset(buf, 'a', 600);
	memcpy(buf, "GET /", 5);
	check_eq(hses_input(&s, &conns[0], (uint8_t *)buf, 600), 600);
	check_eq(rec.status, 431);
	check(strcmp(rec.why, "request header fields too large") == 0);
	return 0;
}

/* A route that upgraded the connection: no HTTP deadline after it. */
static int http_upgrade_route_no_deadline(void)
{
	char buf[] = "GET /connect HTTP/1.1\r\n\r\n";

	http_setup();
	rec.upgrade_on_request = 1;
	check_eq(hses_input(&s, &conns[0], (uint8_t *)buf, strlen(buf)),
		 strlen(buf));
	check_eq(rec.requests, 1);
	check_eq(rec.deadlines, 0);
	return 0;
}

/* hses_reply: head and body in one write; 4xx counted; close lingers. */
static int http_reply(void)
{
	char want[512];
	size_t wn;

	http_setup();
	hses_reply(&s, &conns[0], 200, "application/json", NULL, "{}", 2, 1);
	wn = http_response_head(want, sizeof(want), 200, "application/json",
				2, 1, NULL);
	memcpy(want + wn, "{}", 2);
	wn += 2;
	check_eq(rec.writes, 1);
	check_eq(rec.out_n, wn);
	check(memcmp(rec.out, want, wn) == 0);
	check_eq(s.stats.err[E_HTTP_4XX], 0);
	check_eq(rec.lingers, 0);

	http_setup();
	hses_reply(&s, &conns[0], 404, "text/plain", "X-A: b\r\n", "no", 2, 0);
	wn = http_response_head(want, sizeof(want), 404, "text/plain", 2, 0,
				"X-A: b\r\n");
	memcpy(want + wn, "no", 2);
	wn += 2;
	check_eq(rec.out_n, wn);
	check(memcmp(rec.out, want, wn) == 0);
	check_eq(s.stats.err[E_HTTP_4XX], 1);
	check_eq(rec.lingers, 1);

	http_setup();
	hses_reply(&s, &conns[0], 500, NULL, NULL, NULL, 0, 1);
	check_eq(s.stats.err[E_HTTP_4XX], 0);
	check_eq(rec.writes, 1);
	return 0;
}

/* A response over scratch_cap closes instead of writing. */
static int http_reply_too_big(void)
{
	static char body[sizeof(scratch2)];

	http_setup();
	hses_reply(&s, &conns[0], 200, NULL, NULL, body, sizeof(body), 1);
	check_eq(rec.writes, 0);
	check_eq(rec.closes, 1);
	return 0;
}

/* The 101 with the accept key of RFC 6455 §1.3's example; a failed write
 * closes. */
static int http_upgrade_101(void)
{
	static const char key[] = "dGhlIHNhbXBsZSBub25jZQ==";

	http_setup();
	check_eq(hses_upgrade(&s, &conns[0], key, strlen(key)), 0);
	check_eq(rec.writes, 1);
	check(rec.out_n > 12 && memcmp(rec.out, "HTTP/1.1 101 ", 13) == 0);
	check(memmem(rec.out, rec.out_n, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
		     28) != NULL);
	check_eq(rec.closes, 0);

	http_setup();
	rec.write_ret = -EPIPE;
	check(hses_upgrade(&s, &conns[0], key, strlen(key)) < 0);
	check_eq(rec.closes, 1);
	return 0;
}

TEST_MAIN(T(ws_whole_text_in_place), T(ws_partial_prefixes),
	  T(ws_fragments_and_ping), T(ws_several_in_one_input),
	  T(ws_kinds_and_utf8), T(ws_fail_utf8_closes_1007),
	  T(ws_close_echoed), T(ws_close_empty), T(ws_bad_close),
	  T(ws_protocol_error), T(ws_too_big), T(ws_bad_fragmentation),
	  T(ws_no_block), T(ws_stops_when_not_alive),
	  T(ws_text_frame_in_place), T(http_request_routed),
	  T(http_partial_prefixes), T(http_refused),
	  T(http_upgrade_route_no_deadline), T(http_reply),
	  T(http_reply_too_big), T(http_upgrade_101))
