/*
 * fetch: one GET over an engine of its own. See fetch.h.
 *
 * The engine's callbacks do the work: ops.up writes the request into the
 * connection's slot, ops.input copies what arrives into the caller's
 * buffer (so the engine never carries a partial input) and parses it as
 * it grows, ops.closed records why the connection ended early, and
 * ops.turn, after every batch, stops the loop once the answer is taken,
 * has failed, or the deadline passed. The loop never sleeps past the
 * deadline: ops.turn bounds each wait by the time left.
 */
#include "session/fetch.h"
#include "clock.h"
#include "http.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define REQ_MAX 2048
#define HEAD_MAX 8192
/* A TLS connection's ciphertext carry: a record (16 KiB and its
 * overhead) and then some. */
#define IN_BLOCK (64 * 1024)
/* The wheel's tick: 2^20 ns, about 1 ms. */
#define TICK_SHIFT 20
#define WAIT_MAX_NS 100000000LL

enum { F_RUNNING = 0, F_DONE, F_FAILED };

struct fetch {
	struct eng e;
	const char *req;
	size_t req_len;
	const char *path;
	char *buf;
	size_t cap, got;
	long body;            /* F_DONE: the body's length */
	int state;
	int64_t deadline_ns;
	char *err;
	size_t errlen;
};

/* The first failure, as "GET path: cause"; later ones are not news. */
__attribute__((format(printf, 2, 3)))
static void failed(struct fetch *f, const char *fmt, ...)
{
	int k;
	va_list ap;

	if (f->state != F_RUNNING)
		return;
	f->state = F_FAILED;
	k = snprintf(f->err, f->errlen, "GET %s: ", f->path);
	if (k < 0 || (size_t)k >= f->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(f->err + k, f->errlen - (size_t)k, fmt, ap);
	va_end(ap);
}

static void on_up(void *app, uint32_t id, uint32_t tag,
		  const struct sockaddr_storage *local)
{
	struct fetch *f = app;
	size_t room;
	uint8_t *p = eng_slot(&f->e, id, &room);

	(void)tag;
	(void)local;
	/* The slot is sized for the request (fetch_get). */
	memcpy(p, f->req, f->req_len);
	eng_commit(&f->e, id, f->req_len, 0);
}

/* The response so far, buf[0 .. got): taken, failed, or wanting more. */
static void parse(struct fetch *f)
{
	struct http_response resp;
	long hl = http_response_parse(&resp, f->buf, f->got, HEAD_MAX);

	if (hl == HTTP_PARTIAL) {
		if (f->got == f->cap)
			failed(f, "the response head is over %zu bytes",
			       f->cap);
		return;
	}
	if (hl < 0) {
		failed(f, "malformed response head (%ld)", hl);
	} else if (resp.status != 200) {
		failed(f, "HTTP %d %.*s", resp.status, (int)resp.reason_len,
		       resp.reason);
	} else if (resp.content_length < 0) {
		failed(f, "the 200 has no Content-Length");
	} else if ((uint64_t)hl + (uint64_t)resp.content_length > f->cap) {
		failed(f, "the response is over %zu bytes (Content-Length "
		       "%lld)", f->cap, (long long)resp.content_length);
	} else if ((size_t)hl + (size_t)resp.content_length <= f->got) {
		memmove(f->buf, f->buf + hl, (size_t)resp.content_length);
		f->body = (long)resp.content_length;
		f->state = F_DONE;
	} /* else the body is on its way */
}

static long on_input(void *app, uint32_t id, uint32_t tag, uint8_t *p,
		     size_t n)
{
	struct fetch *f = app;
	size_t k = n < f->cap - f->got ? n : f->cap - f->got;

	(void)id;
	(void)tag;
	if (f->state != F_RUNNING)
		return (long)n; /* after the answer: not ours to read */
	memcpy(f->buf + f->got, p, k);
	f->got += k;
	parse(f);
	if (f->state == F_RUNNING && k < n)
		failed(f, "the response is over %zu bytes", f->cap);
	return f->state == F_FAILED ? -1 : (long)n;
}

static void on_closed(void *app, uint32_t id, uint32_t tag,
		      const struct eng_why *why)
{
	struct fetch *f = app;
	const char *cause = why->text ? why->text :
			    strerror(why->err < 0 ? -why->err : EPIPE);

	(void)id;
	(void)tag;
	if (why->connecting)
		failed(f, "connect: %s", cause);
	else if (why->handshaking)
		failed(f, "%s", cause);
	else
		failed(f, "the connection ended after %zu bytes of the "
		       "response (%s)", f->got, cause);
}

static int64_t on_turn(void *app)
{
	struct fetch *f = app;
	int64_t left;

	if (f->state != F_RUNNING)
		return ENG_STOP;
	left = f->deadline_ns - clock_mono_ns();
	if (left <= 0) {
		failed(f, "no complete answer in time (%zu bytes received)",
		       f->got);
		return ENG_STOP;
	}
	return left;
}

static const struct eng_ops fetch_ops = {
	.up = on_up,
	.input = on_input,
	.closed = on_closed,
	.turn = on_turn,
};

/* see fetch.h */
long fetch_get(const struct eng_target *t, const char *host_header,
	       const char *path, const struct tls_tas *tas, int insecure,
	       char *buf, size_t cap, int64_t deadline_ns, char *err,
	       size_t errlen)
{
	char req[REQ_MAX];
	int64_t now = clock_mono_ns(), left = deadline_ns - now;
	size_t n = http_request_write(req, sizeof(req), "GET", host_header,
				      path, "Connection: close\r\n", NULL, 0);
	struct eng_opts o = {
		.max_conns = 1,
		.ring_entries = 64,
		.nbufs = 32,
		.buf_size = 4096,
		.send = ENG_SEND_SLOT,
		.slot_size = (unsigned)n,
		.in_block = IN_BLOCK,
		.in_memory = 4 * IN_BLOCK,
		.tick_shift = TICK_SHIFT,
		.wheel_slots = 64,
		.t0_ns = now,
		.max_wait_ns = left < WAIT_MAX_NS ? left : WAIT_MAX_NS,
		.connect_timeout_ns = left,
		.targets = t,
		.ntargets = 1,
		.tas = tas,
		.insecure = insecure,
	};
	struct fetch f = {
		.req = req,
		.req_len = n,
		.path = path,
		.buf = buf,
		.cap = cap,
		.deadline_ns = deadline_ns,
		.err = err,
		.errlen = errlen,
	};
	char why[sizeof(f.e.err_text)];
	uint32_t id;
	int ret;

	if (!n) {
		snprintf(err, errlen, "GET %.64s...: the request is over %d "
			 "bytes", path, REQ_MAX);
		return -1;
	}
	if (left <= 0) {
		snprintf(err, errlen, "GET %s: the deadline has passed", path);
		return -1;
	}
	ret = eng_init(&f.e, &o, &fetch_ops, &f, err, errlen);
	if (ret < 0)
		goto out;
	id = eng_connect(&f.e, 0, 0, why, sizeof(why));
	if (id == ENG_NIL) {
		snprintf(err, errlen, "GET %s: %s", path, why);
		ret = -1;
		goto out;
	}
	ret = eng_run(&f.e);
	if (ret < 0)
		snprintf(err, errlen, "GET %s: %s", path, f.e.err_text);
	else if (f.state != F_DONE)
		ret = -1; /* err says why */
out:
	eng_exit(&f.e);
	return ret < 0 ? -1 : f.body;
}
