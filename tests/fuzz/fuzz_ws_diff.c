/*
 * fuzz_ws_diff: esmeload's WebSocket decoder (include/ws.h) against wslay's
 * (libwslay, Debian's libwslay-dev) on the same bytes.
 *
 * Input: byte 0 bit 0 is the receiving role (0 server: masked frames
 * expected, 1 client), bits 1-2 the size limit; the rest is the stream from
 * the peer, at most 4096 bytes (see D5 below).
 *
 * Part A, frames: ws_frame_parse against wslay_frame_recv, frame after
 * frame. A frame esmeload accepts must come out of wslay with the same FIN,
 * opcode, RSV 0, mask bit, length and payload bytes; WS_E_CONTROL and
 * WS_E_LENGTH must be WSLAY_ERR_PROTO; WS_PARTIAL must not be an error.
 * wslay's frame layer leaves RSV, opcode and mask checks to its event
 * layer, so for WS_E_RESERVED / WS_E_MASK the header wslay decoded must
 * show the reserved bits, the unknown opcode or the wrong mask bit.
 *
 * Part B, messages: what serve does with the frames (ws_frame_parse,
 * ws_msg_feed, ws_utf8_valid on text messages, ws_close_parse on close
 * frames, stop after a close) against wslay_event_recv with the same size
 * limit, in the same role. Both must deliver the same messages and control
 * frames (opcode, payload; close code and reason), and end the same way
 * (stream consumed, peer closed, or protocol error), except where the two
 * differ on purpose:
 *   D1 close codes 1012-1014 (IANA registry, RFC 6455 §7.4.2 leaves them
 *      to IANA): esmeload accepts them, wslay refuses any code over 1011.
 *      Comparison stops at such a close frame.
 *   D2 a 1-byte close payload: esmeload refuses it (a body must start with
 *      a 2-byte code, §5.5.1), wslay takes it as "no status code".
 *      Comparison stops there.
 *   D3 invalid UTF-8 in a text message: wslay fails as soon as a fragment
 *      shows it, esmeload (serve) checks the whole message when it is
 *      complete, so control frames between fragments and the end of the
 *      stream may come before esmeload's error. When esmeload has a text
 *      message open, wslay may have failed earlier.
 *   D4 wslay judges a frame (sequencing, size) once its header and first
 *      payload byte are in; ws_frame_parse judges size from the header but
 *      ws_msg_feed sequencing only on a whole frame. So with an incomplete
 *      frame at the end, either side may have failed while the other waits.
 *   D5 wslay reads through a 4096-byte buffer and checks a close reason's
 *      UTF-8 per read chunk, skipping two bytes of every chunk (fine only
 *      when a close frame arrives in one chunk); inputs are limited to
 *      4096 bytes so that every frame does.
 * Anything else that differs is a trap.
 */
#include <wslay/wslay.h>

#include "fuzz.h"
#include "ws.h"

#define MAX_IN 4096

/* ---- Part A: frames ---- */

struct feed {
	const uint8_t *p;
	size_t n, off;
};

static ssize_t frame_recv(uint8_t *buf, size_t len, int flags, void *user)
{
	struct feed *f = user;
	size_t k = f->n - f->off < len ? f->n - f->off : len;

	(void)flags;
	memcpy(buf, f->p + f->off, k);
	f->off += k;
	return (ssize_t)k; /* 0: no more, which wslay takes as WANT_READ */
}

static ssize_t frame_send(const uint8_t *d, size_t len, int flags, void *u)
{
	(void)d, (void)flags, (void)u;
	return (ssize_t)len;
}

static int frame_genmask(uint8_t *buf, size_t len, void *u)
{
	(void)u;
	memset(buf, 0x5a, len);
	return 0;
}

enum { W_FRAME, W_PARTIAL, W_PROTO };

struct wframe {
	int seen_header; /* wslay returned at least one chunk of it */
	uint8_t fin, rsv, opcode, mask;
	uint64_t len;
	uint8_t *bytes;  /* payload so far (capacity MAX_IN) */
	size_t got;
};

/* One whole frame out of wslay's frame layer. */
static int wslay_frame(wslay_frame_context_ptr ctx, struct wframe *w)
{
	memset(w, 0, offsetof(struct wframe, bytes));
	w->got = 0;
	for (;;) {
		struct wslay_frame_iocb io;
		ssize_t r;

		memset(&io, 0, sizeof(io));
		r = wslay_frame_recv(ctx, &io);
		if (r == WSLAY_ERR_PROTO)
			return W_PROTO;
		if (r < 0)
			return W_PARTIAL;
		w->seen_header = 1;
		w->fin = io.fin;
		w->rsv = io.rsv;
		w->opcode = io.opcode;
		w->mask = io.mask;
		w->len = io.payload_length;
		FUZZ_ASSERT(w->got + io.data_length <= MAX_IN);
		memcpy(w->bytes + w->got, io.data, io.data_length);
		w->got += io.data_length;
		if (w->got == w->len)
			return W_FRAME;
		if (io.data_length == 0)
			return W_PARTIAL;
	}
}

static int opcode_known(unsigned op)
{
	return op <= WS_OP_BINARY || (op >= WS_OP_CLOSE && op <= WS_OP_PONG);
}

static void part_a(const uint8_t *in, size_t n, enum ws_role role)
{
	struct wslay_frame_callbacks cb = { frame_send, frame_recv,
					    frame_genmask };
	struct feed fd = { in, n, 0 };
	wslay_frame_context_ptr ctx;
	uint8_t *buf = (uint8_t *)fuzz_dup(in, n, 0);
	struct wframe w;
	size_t off = 0;

	w.bytes = malloc(MAX_IN);
	if (!w.bytes || wslay_frame_context_init(&ctx, &cb, &fd) != 0)
		abort();
	for (;;) {
		struct ws_frame f;
		long r = ws_frame_parse(&f, buf + off, n - off, role,
					UINT64_MAX);
		int wr = wslay_frame(ctx, &w);

		if (r > 0) {
			FUZZ_ASSERT(wr == W_FRAME);
			FUZZ_ASSERT(w.fin == f.fin && w.rsv == 0);
			FUZZ_ASSERT(w.opcode == f.opcode && w.mask == f.masked);
			FUZZ_ASSERT(w.len == f.payload_len);
			FUZZ_ASSERT(!memcmp(w.bytes, f.payload, w.got));
			off += (size_t)r;
			continue;
		}
		if (r == WS_PARTIAL || r == WS_E_TOO_BIG) {
			/* TOO_BIG: only lengths near 2^63 with no limit. */
			FUZZ_ASSERT(wr == W_PARTIAL);
		} else if (r == WS_E_CONTROL || r == WS_E_LENGTH) {
			FUZZ_ASSERT(wr == W_PROTO);
		} else if (r == WS_E_RESERVED) {
			FUZZ_ASSERT(wr == W_PROTO || !w.seen_header ||
				    w.rsv != 0 || !opcode_known(w.opcode));
		} else {
			FUZZ_ASSERT(r == WS_E_MASK);
			FUZZ_ASSERT(wr == W_PROTO || !w.seen_header ||
				    w.mask != (role == WS_ROLE_SERVER));
		}
		break;
	}
	wslay_frame_context_free(ctx);
	free(w.bytes);
	free(buf);
}

/* ---- Part B: messages ---- */

#define MAX_EV 2100

struct ev {
	uint8_t op;
	uint16_t code; /* close frames */
	size_t at, len;
};

enum term { T_END, T_CLOSED, T_ERROR };

struct side {
	struct ev ev[MAX_EV];
	size_t nev;
	uint8_t *bytes;
	size_t nbytes;
	enum term term;
	int excluded;      /* stopped at D1 / D2 */
	int text_open;     /* a fragmented text message is in progress, or
			    * the error is invalid UTF-8 in a text message */
	int partial;       /* bytes of an incomplete frame are left */
	int err_incomplete; /* the frame-level error is on an incomplete frame */
};

static void add(struct side *s, uint8_t op, uint16_t code, const uint8_t *p,
		size_t n)
{
	FUZZ_ASSERT(s->nev < MAX_EV && s->nbytes + n <= MAX_IN);
	s->ev[s->nev].op = op;
	s->ev[s->nev].code = code;
	s->ev[s->nev].at = s->nbytes;
	s->ev[s->nev].len = n;
	s->nev++;
	if (n)
		memcpy(s->bytes + s->nbytes, p, n);
	s->nbytes += n;
}

/* Is the frame at p[0..n) complete (header and declared payload)? */
static int frame_complete(const uint8_t *p, size_t n)
{
	size_t h = 2;
	uint64_t len;

	if (n < 2)
		return 0;
	len = p[1] & 0x7f;
	if (len == 126) {
		if (n < 4)
			return 0;
		len = (uint64_t)p[2] << 8 | p[3];
		h = 4;
	} else if (len == 127) {
		if (n < 10)
			return 0;
		len = 0;
		for (int i = 2; i < 10; i++)
			len = len << 8 | p[i];
		h = 10;
	}
	if (p[1] & 0x80)
		h += 4;
	return n >= h && n - h >= len;
}

/* serve's wses_input (src/serve/ws_session.c), minus the application. */
static void esme_side(struct side *s, const uint8_t *in, size_t n,
		      enum ws_role role, uint64_t lim)
{
	uint8_t *buf = (uint8_t *)fuzz_dup(in, n, 0);
	struct ws_msg m;
	size_t off = 0;

	memset(&m, 0, sizeof(m));
	m.cap = (size_t)lim;
	m.buf = malloc(MAX_IN);
	if (!m.buf)
		abort();
	s->term = T_END;
	for (;;) {
		struct ws_frame f;
		uint8_t *out, op;
		size_t olen;
		long r = ws_frame_parse(&f, buf + off, n - off, role, lim);
		int st;

		if (r == WS_PARTIAL) {
			s->partial = off < n;
			break;
		}
		if (r < 0) {
			s->term = T_ERROR;
			s->err_incomplete = !frame_complete(in + off, n - off);
			break;
		}
		off += (size_t)r;
		st = ws_msg_feed(&m, &f, &out, &olen, &op);
		if (st == WS_MSG_DATA) {
			if (op == WS_OP_TEXT && !ws_utf8_valid(out, olen)) {
				s->term = T_ERROR;
				s->text_open = 1; /* D3: wslay may fail earlier */
				break;
			}
			add(s, op, 0, out, olen);
		} else if (st == WS_MSG_CONTROL && f.opcode == WS_OP_CLOSE) {
			uint16_t code;
			const uint8_t *why;
			size_t wl;

			if (f.payload_len == 1) {
				s->excluded = 1; /* D2 */
				break;
			}
			if (ws_close_parse(f.payload, (size_t)f.payload_len,
					   &code, &why, &wl) < 0) {
				s->term = T_ERROR;
				break;
			}
			if (code >= 1012 && code <= 1014) {
				s->excluded = 1; /* D1 */
				break;
			}
			add(s, WS_OP_CLOSE, code, why, wl);
			s->term = T_CLOSED;
			break;
		} else if (st == WS_MSG_CONTROL) {
			add(s, f.opcode, 0, f.payload, (size_t)f.payload_len);
		} else if (st < 0) {
			s->term = T_ERROR;
			break;
		}
	}
	if (m.opcode == WS_OP_TEXT)
		s->text_open = 1;
	free(m.buf);
	free(buf);
}

struct wuser {
	struct feed *feed;
	struct side *s;
};

static ssize_t ev_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len,
		       int flags, void *user)
{
	struct feed *f = ((struct wuser *)user)->feed;
	size_t k = f->n - f->off < len ? f->n - f->off : len;

	(void)flags;
	if (k == 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	memcpy(buf, f->p + f->off, k);
	f->off += k;
	return (ssize_t)k;
}

static ssize_t ev_send(wslay_event_context_ptr ctx, const uint8_t *d,
		       size_t len, int flags, void *user)
{
	(void)ctx, (void)d, (void)flags, (void)user;
	return (ssize_t)len;
}

static int ev_genmask(wslay_event_context_ptr ctx, uint8_t *buf, size_t len,
		      void *user)
{
	(void)ctx, (void)user;
	memset(buf, 0xa5, len);
	return 0;
}

static void ev_msg(wslay_event_context_ptr ctx,
		   const struct wslay_event_on_msg_recv_arg *a, void *user)
{
	struct wuser *u = user;

	(void)ctx;
	if (a->opcode == WSLAY_CONNECTION_CLOSE) {
		size_t n = a->msg_length >= 2 ? a->msg_length - 2 : 0;

		add(u->s, WS_OP_CLOSE, a->status_code ? a->status_code : 1005,
		    n ? a->msg + 2 : NULL, n);
		u->s->term = T_CLOSED;
		return;
	}
	add(u->s, a->opcode, 0, a->msg, a->msg_length);
}

static void wslay_side(struct side *s, const uint8_t *in, size_t n,
		       enum ws_role role, uint64_t lim)
{
	struct wslay_event_callbacks cb = {
		ev_recv, ev_send, ev_genmask, NULL, NULL, NULL, ev_msg
	};
	struct feed fd = { in, n, 0 };
	struct wuser u = { &fd, s };
	wslay_event_context_ptr ctx;
	int r;

	r = role == WS_ROLE_SERVER
		? wslay_event_context_server_init(&ctx, &cb, &u)
		: wslay_event_context_client_init(&ctx, &cb, &u);
	if (r != 0)
		abort();
	wslay_event_config_set_max_recv_msg_length(ctx, lim);
	s->term = T_END;
	/* Errors of the frame layer (control frame rules, lengths) come back
	 * as WSLAY_ERR_CALLBACK_FAILURE; the others as a queued close and
	 * reading disabled. */
	r = wslay_event_recv(ctx);
	FUZZ_ASSERT(r == 0 || r == WSLAY_ERR_CALLBACK_FAILURE);
	if (s->term != T_CLOSED &&
	    (r != 0 || !wslay_event_get_read_enabled(ctx)))
		s->term = T_ERROR;
	wslay_event_context_free(ctx);
}

static void part_b(const uint8_t *in, size_t n, enum ws_role role,
		   uint64_t lim)
{
	static struct side e, w;
	size_t k;

	memset(&e, 0, sizeof(e));
	memset(&w, 0, sizeof(w));
	e.bytes = malloc(MAX_IN);
	w.bytes = malloc(MAX_IN);
	if (!e.bytes || !w.bytes)
		abort();
	esme_side(&e, in, n, role, lim);
	wslay_side(&w, in, n, role, lim);

	/* Whatever both delivered is the same. */
	k = e.nev < w.nev ? e.nev : w.nev;
	for (size_t i = 0; i < k; i++) {
		FUZZ_ASSERT(e.ev[i].op == w.ev[i].op);
		FUZZ_ASSERT(e.ev[i].code == w.ev[i].code);
		FUZZ_ASSERT(e.ev[i].len == w.ev[i].len);
		FUZZ_ASSERT(!memcmp(e.bytes + e.ev[i].at, w.bytes + w.ev[i].at,
				    e.ev[i].len));
	}
	if (!e.excluded) {
		if (e.term == w.term && e.term != T_ERROR) {
			FUZZ_ASSERT(e.nev == w.nev);
		} else if (e.term == T_ERROR && w.term == T_ERROR) {
			FUZZ_ASSERT(w.nev <= e.nev);
			if (!e.text_open)
				FUZZ_ASSERT(w.nev == e.nev); /* D3 only */
		} else if (e.term == T_ERROR && w.term == T_END) {
			FUZZ_ASSERT(e.err_incomplete); /* D4 */
			FUZZ_ASSERT(w.nev == e.nev);
		} else if (w.term == T_ERROR) {
			FUZZ_ASSERT(e.partial || e.text_open); /* D3, D4 */
			FUZZ_ASSERT(w.nev <= e.nev);
		} else {
			FUZZ_ASSERT(0); /* closed on one side only */
		}
	}
	free(w.bytes);
	free(e.bytes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t lims[] = { 16, 125, 1000, 1u << 20 };
	enum ws_role role;

	if (size < 1 || size - 1 > MAX_IN)
		return 0;
	role = data[0] & 1 ? WS_ROLE_CLIENT : WS_ROLE_SERVER;
	part_a(data + 1, size - 1, role);
	part_b(data + 1, size - 1, role, lims[(data[0] >> 1) & 3]);
	return 0;
}
