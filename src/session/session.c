/*
 * session: HTTP/1.1 and WebSocket client connections on the engine. See
 * session.h.
 *
 * IMPLEMENTATION NOTES
 * - Requests and frames are written straight into the connection's send
 *   slot (eng_slot/eng_commit), never copied.
 * - The WebSocket key of a connection derives from its tag and a per-
 *   session seed, so it need not be kept between request and response.
 * - Responses and frames are parsed where the engine hands them over; an
 *   incomplete one returns 0 and the engine keeps it for the next bytes.
 */
#include "session/session.h"

#include "clock.h"
#include "http.h"
#include "ws.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { S_CONNECTING = 0, S_UPGRADING, S_OPEN };

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* The Sec-WebSocket-Key of the connection tagged tag. */
static void ws_key_for(const struct ses *S, uint32_t tag,
		       char key[WS_KEY_LEN + 1])
{
	uint64_t x = S->key_seed ^ ((uint64_t)tag * 0x9e3779b97f4a7c15ULL),
		 r[2];

	r[0] = splitmix(&x);
	r[1] = splitmix(&x);
	ws_client_key(key, (const uint8_t *)r);
}

static int write_raw(struct ses *S, uint32_t id, const char *p, size_t n)
{
	size_t room;
	uint8_t *dst = eng_slot(&S->eng, id, &room);

	if (n > room)
		return -ENOSPC;
	memcpy(dst, p, n);
	eng_commit(&S->eng, id, n, 0);
	return 0;
}

static int write_frame(struct ses *S, uint32_t id, unsigned op,
		       const void *p, size_t n, unsigned units)
{
	uint32_t v = (uint32_t)splitmix(&S->rng);
	uint8_t *dst, mask[4];
	size_t room, fl;

	memcpy(mask, &v, 4);
	dst = eng_slot(&S->eng, id, &room);
	fl = ws_frame_encode(dst, room, 1, op, p, n, mask);
	if (!fl)
		return -ENOSPC;
	eng_commit(&S->eng, id, fl, units);
	return 0;
}

/* see session.h */
int ses_ws_text(struct ses *S, uint32_t id, const char *txt, size_t n,
		unsigned units)
{
	if (write_frame(S, id, WS_OP_TEXT, txt, n, units) < 0)
		return -ENOSPC;
	if (S->log_ws) {
		/* Tokens never reach a log: the authorization frame is
		 * shown without its value. */
		if (n > 17 && memcmp(txt, "{\"Authorization\":", 17) == 0)
			fprintf(stderr, "ws send [%u]: {\"Authorization\":"
				"\"Bearer <redacted>\"}\n", id);
		else
			fprintf(stderr, "ws send [%u]: %.*s\n", id, (int)n, txt);
	}
	return 0;
}

/* see session.h */
int ses_http_request(struct ses *S, uint32_t id, const char *method,
		     const char *path, const char *extra, const char *body,
		     size_t blen)
{
	const struct ses_target *t = &S->targets[S->eng.conns[id].target];
	size_t room, n;
	uint8_t *dst = eng_slot(&S->eng, id, &room);

	n = http_request_write((char *)dst, room, method, t->hostport, path,
			       extra, body, blen);
	if (!n)
		return -ENOSPC;
	eng_commit(&S->eng, id, n, 0);
	S->conns[id].busy = 1;
	return 0;
}

static void end(struct ses *S, uint32_t id, uint32_t tag, enum ses_what what,
		const char *text)
{
	struct ses_end e = { .what = what, .text = text };

	S->conns[id].kind = 0;
	S->ops->closed(S->app, tag, &e);
}

/* ---- HTTP ---- */

/*
 * A complete HTTP response at p: returns bytes consumed (> 0) and the
 * status and body (decoded into S->scratch when chunked); 0 when more is
 * needed; < 0 when malformed.
 */
static long http_frame(struct ses *S, uint8_t *p, size_t n, int *status,
		       const char **body, size_t *blen, int *keep_alive)
{
	struct http_response r;
	long hl = http_response_parse(&r, (const char *)p, n, 16384);

	if (hl == HTTP_PARTIAL)
		return 0;
	if (hl < 0)
		return -EPROTO;
	*status = r.status;
	*keep_alive = r.keep_alive;
	if (r.chunked) {
		struct http_chunked d = { 0 };
		size_t len = n - (size_t)hl, extra = 0;
		int ret;

		if (len > SES_BODY_MAX)
			return -EMSGSIZE;
		memcpy(S->scratch, p + hl, len);
		ret = http_chunked_decode(&d, (char *)S->scratch, &len,
					  SES_BODY_MAX, &extra);
		if (ret == 0)
			return 0;
		if (ret < 0)
			return -EPROTO;
		*body = (const char *)S->scratch;
		*blen = len;
		return (long)(n - extra);
	}
	if (r.content_length < 0) {
		/* Without a length the body ends with the connection; the
		 * ESME APIs always send one. */
		*body = (const char *)p + hl;
		*blen = 0;
		*keep_alive = 0;
		return hl;
	}
	if ((uint64_t)r.content_length > n - (size_t)hl)
		return r.content_length > SES_BODY_MAX ? -EMSGSIZE : 0;
	*body = (const char *)p + hl;
	*blen = (size_t)r.content_length;
	return hl + (long)r.content_length;
}

static long http_input(struct ses *S, uint32_t id, uint32_t tag, uint8_t *p,
		       size_t n)
{
	const char *body = NULL;
	size_t blen = 0;
	int status = 0, ka = 1;
	long r;

	if (!S->conns[id].busy) {
		end(S, id, tag, SES_UNASKED, "unexpected bytes from the server");
		return -1;
	}
	r = http_frame(S, p, n, &status, &body, &blen, &ka);
	if (r == 0)
		return 0;
	if (r < 0) {
		end(S, id, tag, SES_MALFORMED, "malformed HTTP response");
		return -1;
	}
	S->conns[id].busy = 0;
	S->ops->response(S->app, tag, id, status, body, blen, ka);
	if (!ka) {
		/* The server closes: so do we (the application knew). */
		S->conns[id].kind = 0;
		return -1;
	}
	return r;
}

/* ---- WebSocket ---- */

/* Parse the 101 response; returns bytes consumed, 0 for more, or < 0. */
static long upgrade_response(struct ses *S, uint32_t tag, uint8_t *p,
			     size_t n, const char **why)
{
	struct http_response r;
	long hl = http_response_parse(&r, (const char *)p, n, 8192);
	const struct http_header *acc;
	char key[WS_KEY_LEN + 1];
	static char status[64];

	if (hl == HTTP_PARTIAL)
		return 0;
	if (hl < 0) {
		*why = "malformed handshake response";
		return -EPROTO;
	}
	if (r.status != 101) {
		snprintf(status, sizeof(status),
			 "handshake answered HTTP %d, not 101", r.status);
		*why = status;
		return -EPROTO;
	}
	acc = http_header_find(r.headers, r.num_headers, "sec-websocket-accept");
	ws_key_for(S, tag, key);
	if (!acc || !ws_client_accept_ok(key, acc->value, acc->value_len)) {
		*why = "wrong Sec-WebSocket-Accept in handshake";
		return -EPROTO;
	}
	return hl;
}

static long ws_input(struct ses *S, uint32_t id, uint32_t tag, uint8_t *data,
		     size_t n)
{
	size_t off = 0;

	if (S->conns[id].state == S_UPGRADING) {
		const char *why = NULL;
		long r = upgrade_response(S, tag, data, n, &why);

		if (r <= 0) {
			if (r < 0)
				end(S, id, tag, SES_HANDSHAKE, why);
			return r < 0 ? -1 : 0;
		}
		S->conns[id].state = S_OPEN;
		S->ops->upgraded(S->app, tag, id);
		return r;
	}
	while (off < n) {
		struct ws_frame f;
		long r = ws_frame_parse(&f, data + off, n - off, WS_ROLE_CLIENT,
					SES_BODY_MAX);

		if (r == WS_PARTIAL)
			break;
		if (r < 0) {
			end(S, id, tag, SES_BAD_FRAME,
			    r == WS_E_MASK ? "a masked frame from the server "
					     "(RFC 6455 5.1)" :
			    r == WS_E_TOO_BIG ? "a frame over 64 KiB" :
			    r == WS_E_RESERVED ? "a frame with reserved bits or "
						 "opcode" :
			    r == WS_E_CONTROL ? "a fragmented or oversized "
						"control frame" :
			    "a frame with an invalid length");
			return -1;
		}
		off += (size_t)r;
		if (S->log_ws && f.opcode == WS_OP_TEXT)
			fprintf(stderr, "ws recv [%u]: %.*s\n", id,
				(int)f.payload_len, (const char *)f.payload);
		if (f.opcode == WS_OP_PING) {
			write_frame(S, id, WS_OP_PONG, f.payload, f.payload_len,
				    0);
			continue;
		}
		if (f.opcode == WS_OP_CLOSE) {
			end(S, id, tag, SES_WS_CLOSE,
			    "the server closed the WebSocket");
			return -1;
		}
		if (f.opcode != WS_OP_TEXT || !f.fin)
			continue; /* binary, pong, fragments: read, discarded */
		if (S->ops->text(S->app, tag, id, (const char *)f.payload,
				 f.payload_len) < 0) {
			S->conns[id].kind = 0;
			return -1;
		}
		if (!eng_open(&S->eng, id))
			return (long)n;
	}
	return (long)off;
}

/* ---- the engine's callbacks ---- */

static void on_up(void *app, uint32_t id, uint32_t tag,
		  const struct sockaddr_storage *local)
{
	struct ses *S = app;
	struct ses_conn *c = &S->conns[id];

	if (c->kind == SES_WS) {
		const struct ses_target *t =
			&S->targets[S->eng.conns[id].target];
		char key[WS_KEY_LEN + 1], req[1024];
		size_t n;

		ws_key_for(S, tag, key);
		n = ws_client_request(req, sizeof(req), t->hostport,
				      t->ws_path, key);
		if (!n || write_raw(S, id, req, n) < 0) {
			end(S, id, tag, SES_HANDSHAKE,
			    "handshake request too large");
			eng_close(&S->eng, id);
			return;
		}
		c->state = S_UPGRADING;
	} else {
		c->state = S_OPEN;
	}
	S->ops->up(S->app, tag, id, local);
}

static long on_input(void *app, uint32_t id, uint32_t tag, uint8_t *p,
		     size_t n)
{
	struct ses *S = app;

	return S->conns[id].kind == SES_HTTP ? http_input(S, id, tag, p, n) :
	       ws_input(S, id, tag, p, n);
}

static void on_closed(void *app, uint32_t id, uint32_t tag,
		      const struct eng_why *why)
{
	struct ses *S = app;
	struct ses_end e = {
		.what = why->input ? SES_INPUT : SES_NET,
		.err = why->err,
		.text = why->text,
		.connecting = why->connecting,
		.handshaking = why->handshaking,
	};

	S->conns[id].kind = 0;
	S->ops->closed(S->app, tag, &e);
}

static void on_submitted(void *app, uint32_t id, uint32_t tag,
			 unsigned units)
{
	struct ses *S = app;

	(void)id;
	S->ops->submitted(S->app, tag, units);
}

static void on_sent(void *app, uint32_t id, uint32_t tag, unsigned units,
		    int detached)
{
	struct ses *S = app;

	(void)id;
	S->ops->sent(S->app, tag, units, detached);
}

static void on_writable(void *app, uint32_t id, uint32_t tag)
{
	struct ses *S = app;

	(void)id;
	S->ops->writable(S->app, tag);
}

static void on_stalled(void *app, uint32_t id, uint32_t tag)
{
	struct ses *S = app;

	S->conns[id].kind = 0;
	S->ops->stalled(S->app, tag);
}

static void on_deadline(void *app, uint32_t id, uint32_t tag)
{
	(void)app;
	(void)id;
	(void)tag; /* never armed: the scenario keeps its own timers */
}

static void on_timer(void *app, struct tw_node *n)
{
	struct ses *S = app;

	S->ops->timer(S->app, n);
}

static int64_t on_turn(void *app)
{
	struct ses *S = app;

	return S->ops->turn(S->app);
}

static const struct eng_ops ses_eng_ops = {
	.up = on_up,
	.input = on_input,
	.submitted = on_submitted,
	.sent = on_sent,
	.writable = on_writable,
	.closed = on_closed,
	.stalled = on_stalled,
	.deadline = on_deadline,
	.timer = on_timer,
	.turn = on_turn,
};

/* see session.h */
int ses_init(struct ses *S, const struct eng_opts *eo,
	     const struct ses_target *targets, unsigned ntargets,
	     const struct ses_ops *ops, void *app, uint64_t seed, int log_ws,
	     char *err, size_t errlen)
{
	struct eng_target *et = calloc(ntargets ? ntargets : 1, sizeof(*et));
	struct eng_opts o = *eo;
	int ret;

	memset(S, 0, sizeof(*S));
	S->ops = ops;
	S->app = app;
	S->targets = targets;
	S->log_ws = log_ws;
	S->rng = seed;
	S->key_seed = splitmix(&S->rng);
	if (!et) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (unsigned i = 0; i < ntargets; i++)
		et[i] = targets[i].eng;
	o.targets = et;
	o.ntargets = ntargets;
	ret = eng_init(&S->eng, &o, &ses_eng_ops, S, err, errlen);
	/* The engine copied its options, not the targets: keep them. */
	S->eng.o.targets = et;
	if (ret < 0)
		return ret;
	S->conns = calloc(o.max_conns, sizeof(*S->conns));
	S->scratch = malloc(SES_BODY_MAX + 64);
	if (!S->conns || !S->scratch) {
		snprintf(err, errlen, "out of memory for %u connections",
			 o.max_conns);
		return -ENOMEM;
	}
	return 0;
}

/* see session.h */
void ses_exit(struct ses *S)
{
	const struct eng_target *et = S->eng.o.targets;

	eng_exit(&S->eng);
	free((void *)et);
	free(S->conns);
	free(S->scratch);
	S->eng.o.targets = NULL;
	S->conns = NULL;
	S->scratch = NULL;
}

static uint32_t open_kind(struct ses *S, unsigned t, uint32_t tag,
			  enum ses_kind kind, char *why, size_t whylen)
{
	uint32_t id = eng_connect(&S->eng, t, tag, why, whylen);

	if (id != ENG_NIL) {
		S->conns[id].kind = (uint8_t)kind;
		S->conns[id].state = S_CONNECTING;
		S->conns[id].busy = 0;
	}
	return id;
}

/* see session.h */
uint32_t ses_http_open(struct ses *S, unsigned t, uint32_t tag, char *why,
		       size_t whylen)
{
	return open_kind(S, t, tag, SES_HTTP, why, whylen);
}

/* see session.h */
uint32_t ses_ws_open(struct ses *S, unsigned t, uint32_t tag, char *why,
		     size_t whylen)
{
	return open_kind(S, t, tag, SES_WS, why, whylen);
}

/* see session.h */
void ses_close(struct ses *S, uint32_t id)
{
	if (id == ENG_NIL)
		return;
	S->conns[id].kind = 0;
	eng_close(&S->eng, id);
}

/* see session.h */
void ses_timer_at(struct ses *S, struct tw_node *n, int64_t at_ns)
{
	eng_timer_at(&S->eng, n, eng_tick_of(&S->eng, at_ns));
}

/* see session.h */
void ses_timer_del(struct ses *S, struct tw_node *n)
{
	eng_timer_del(&S->eng, n);
}

/* see session.h */
int64_t ses_now(const struct ses *S)
{
	return S->eng.now_ns;
}

/* see session.h */
int64_t ses_clock(const struct ses *S)
{
	(void)S;
	return clock_mono_ns();
}
