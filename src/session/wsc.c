/*
 * wsc: the WebSocket client session: the upgrade and its
 * Sec-WebSocket-Accept check, masked frames written into the send slot,
 * frames parsed where the engine hands them over (pings answered, a close
 * or a bad frame ends the connection). See session.h.
 *
 * The key of a connection derives from its tag and a per-session seed,
 * so it need not be kept between request and response.
 */
#include "session/internal.h"

#include "http.h"
#include "ws.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* see internal.h */
uint64_t ses_splitmix(uint64_t *x)
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

	r[0] = ses_splitmix(&x);
	r[1] = ses_splitmix(&x);
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
	uint32_t v = (uint32_t)ses_splitmix(&S->rng);
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

/* see internal.h */
int ses_ws_upgrade(struct ses *S, uint32_t id, uint32_t tag)
{
	const struct ses_target *t = &S->targets[S->eng.conns[id].target];
	char key[WS_KEY_LEN + 1], req[1024];
	size_t n;

	ws_key_for(S, tag, key);
	n = ws_client_request(req, sizeof(req), t->hostport, t->ws_path, key);
	if (!n || write_raw(S, id, req, n) < 0)
		return -ENOSPC;
	S->conns[id].state = S_UPGRADING;
	return 0;
}

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

/* see internal.h */
long ses_ws_input(struct ses *S, uint32_t id, uint32_t tag, uint8_t *data,
		     size_t n)
{
	size_t off = 0;

	if (S->conns[id].state == S_UPGRADING) {
		const char *why = NULL;
		long r = upgrade_response(S, tag, data, n, &why);

		if (r <= 0) {
			if (r < 0)
				ses_end_what(S, id, tag, SES_HANDSHAKE, why);
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
			ses_end_what(S, id, tag, SES_BAD_FRAME,
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
			ses_end_what(S, id, tag, SES_WS_CLOSE,
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
