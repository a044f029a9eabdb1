/*
 * ws_session: serve's WebSocket server session (RFC 6455) on an upgraded
 * connection of conn.c (see serve.h). It parses the client's masked
 * frames, reassembles fragmented messages in a msg_pool block (an
 * unfragmented one stays in place in the input: no copy), answers pings,
 * echoes the close handshake and fails the connection, with the close
 * frame RFC 6455 names, on frames against the protocol. messenger.c hears
 * whole data messages (msgr_message) and builds its frames with
 * wses_text_frame; it hears no control frame.
 */
#include "serve.h"
#include "ws.h"

#include <errno.h>
#include <string.h>

/* Send a close frame and close once it is out. */
static void fail(struct serve *s, struct conn *c, uint16_t code,
		 const char *reason)
{
	uint8_t buf[WS_HDR_MAX + 125];
	uint8_t *p = buf + WS_HDR_MAX, *f;
	size_t n = ws_close_encode(p, code, reason);

	f = ws_frame_prepend(p, n, 1, WS_OP_CLOSE, NULL);
	conn_write(s, c, f, (size_t)(p + n - f), 0);
	conn_linger(s, c);
}

/* see serve.h */
void wses_fail_utf8(struct serve *s, struct conn *c)
{
	s->stats.err[E_PROTOCOL]++;
	fail(s, c, 1007, "invalid utf-8");
}

/* see serve.h */
void wses_release(struct serve *s, struct conn *c)
{
	if (c->msg.buf)
		pool_put(&s->msg_pool, c->msg.buf);
	memset(&c->msg, 0, sizeof(c->msg));
}

static void on_control(struct serve *s, struct conn *c,
		       const struct ws_frame *f)
{
	uint8_t buf[WS_HDR_MAX + 125], *p = buf + WS_HDR_MAX, *fr;
	uint16_t code;
	const uint8_t *reason;
	size_t rn;

	switch (f->opcode) {
	case WS_OP_PING:
		memcpy(p, f->payload, f->payload_len);
		fr = ws_frame_prepend(p, f->payload_len, 1, WS_OP_PONG, NULL);
		conn_write(s, c, fr, (size_t)(p + f->payload_len - fr), 0);
		break;
	case WS_OP_CLOSE:
		if (ws_close_parse(f->payload, f->payload_len, &code, &reason,
				   &rn) < 0) {
			s->stats.err[E_PROTOCOL]++;
			fail(s, c, 1002, "bad close frame");
			break;
		}
		/* Echo the code, as gorilla's default close handler does;
		 * an empty close frame gets an empty one back. */
		if (code == 1005) {
			fr = ws_frame_prepend(p, 0, 1, WS_OP_CLOSE, NULL);
			conn_write(s, c, fr, (size_t)(p - fr), 0);
			conn_linger(s, c);
		} else {
			fail(s, c, code, "");
		}
		break;
	default:
		break; /* pong */
	}
}

/* see serve.h */
long wses_input(struct serve *s, struct conn *c, uint8_t *p, size_t n)
{
	size_t off = 0;

	c->last_ms = serve_now_ms(s);
	while (off < n && conn_alive(s, c)) {
		struct ws_frame f;
		uint8_t *out, opcode;
		size_t olen;
		long r = ws_frame_parse(&f, p + off, n - off, WS_ROLE_SERVER,
					s->o.max_frame);
		int st;

		if (r == WS_PARTIAL)
			break;
		if (r < 0) {
			s->stats.err[r == WS_E_TOO_BIG ? E_TOO_BIG : E_PROTOCOL]++;
			fail(s, c, r == WS_E_TOO_BIG ? 1009 : 1002,
			     r == WS_E_TOO_BIG ? "message too big" :
						 "protocol error");
			return (long)n;
		}
		off += (size_t)r;
		s->stats.frames_in++;
		if (!f.fin && f.opcode != WS_OP_CONT && !c->msg.buf) {
			c->msg.buf = pool_get(&s->msg_pool);
			c->msg.cap = s->o.max_frame;
			if (!c->msg.buf) {
				s->stats.err[E_NO_MEMORY]++;
				return -ENOMEM;
			}
		}
		st = ws_msg_feed(&c->msg, &f, &out, &olen, &opcode);
		if (st == WS_MSG_DATA) {
			msgr_message(s, c, out, olen, opcode == WS_OP_TEXT,
				     ws_utf8_valid(out, olen));
		} else if (st == WS_MSG_CONTROL) {
			on_control(s, c, &f);
		} else if (st < 0) {
			s->stats.err[st == WS_MSG_E_TOO_BIG ? E_TOO_BIG : E_PROTOCOL]++;
			fail(s, c, st == WS_MSG_E_TOO_BIG ? 1009 : 1002,
			     "bad fragmentation");
			return (long)n;
		}
		if (c->msg.buf && c->msg.opcode == 0) {
			/* Fragmented message done: keep idle connections
			 * free of blocks. */
			pool_put(&s->msg_pool, c->msg.buf);
			c->msg.buf = NULL;
			c->msg.cap = 0;
		}
	}
	if (!conn_alive(s, c))
		return (long)n; /* the rest is never read */
	return (long)off;
}
