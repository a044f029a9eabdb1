/*
 * ws: RFC 6455 framing, close payloads, UTF-8 and the opening handshake.
 * See include/ws.h for the contract.
 *
 * IMPLEMENTATION NOTES
 * - ws_frame_parse checks everything it can as soon as the bytes that show
 *   it are present: opcode, RSV, mask bit and the control-frame rules from
 *   the first two bytes, length rules and max_payload from the extended
 *   length, before the masking key or the payload arrive. A peer announcing
 *   a huge frame is refused before we buffer any of it.
 * - The buffer is only written (unmasked) once the whole frame is present,
 *   so re-parsing the same bytes after WS_PARTIAL is always safe.
 * - Masking is XOR with a 4-byte key repeated; an 8-byte word holding the
 *   key twice keeps the same phase, so the loop works 8 bytes at a time and
 *   endianness does not matter (bytes in, same bytes out).
 */
#include "ws.h"
#include "utf8.h"

#include <bearssl.h>
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "b64.h"

static int opcode_known(unsigned op)
{
	return op <= WS_OP_BINARY || (op >= WS_OP_CLOSE && op <= WS_OP_PONG);
}

long ws_frame_parse(struct ws_frame *f, uint8_t *buf, size_t len,
		    enum ws_role role, uint64_t max_payload)
{
	if (len < 2)
		return WS_PARTIAL;

	unsigned b0 = buf[0], b1 = buf[1];
	unsigned op = b0 & 0x0f, fin = b0 >> 7, masked = b1 >> 7;
	uint64_t plen = b1 & 0x7f;

	/* No extension is ever negotiated, so any RSV bit is an error (§5.2). */
	if ((b0 & 0x70) || !opcode_known(op))
		return WS_E_RESERVED;
	/* §5.1: clients must mask, servers must not. */
	if (masked != (role == WS_ROLE_SERVER ? 1u : 0u))
		return WS_E_MASK;
	/* §5.5: control frames are never fragmented and carry <= 125 bytes. */
	if ((op & 0x8) && (!fin || plen > 125))
		return WS_E_CONTROL;

	size_t hlen = 2;
	if (plen == 126) {
		if (len < 4)
			return WS_PARTIAL;
		plen = (uint64_t)buf[2] << 8 | buf[3];
		/* §5.2: "the minimal number of bytes MUST be used". */
		if (plen < 126)
			return WS_E_LENGTH;
		hlen = 4;
	} else if (plen == 127) {
		if (len < 10)
			return WS_PARTIAL;
		plen = 0;
		for (int i = 2; i < 10; i++)
			plen = plen << 8 | buf[i];
		if ((plen >> 63) || plen <= 0xffff)
			return WS_E_LENGTH;
		hlen = 10;
	}
	if (plen > max_payload)
		return WS_E_TOO_BIG;
	if (masked)
		hlen += 4;
	/* The total must fit the return type; no real limit comes close. */
	if (plen > (uint64_t)LONG_MAX - hlen || plen > SIZE_MAX - hlen)
		return WS_E_TOO_BIG;
	if (len < hlen || len - hlen < plen)
		return WS_PARTIAL;

	f->fin = (uint8_t)fin;
	f->opcode = (uint8_t)op;
	f->masked = (uint8_t)masked;
	memset(f->mask, 0, sizeof(f->mask));
	f->header_len = hlen;
	f->payload_len = plen;
	f->payload = buf + hlen;
	if (masked) {
		memcpy(f->mask, buf + hlen - 4, 4);
		ws_mask(f->payload, (size_t)plen, f->mask, 0);
	}
	return (long)(hlen + plen);
}

void ws_mask(uint8_t *p, size_t n, const uint8_t mask[4], size_t offset)
{
	uint8_t m[8];
	uint64_t w, x;

	/* The key rotated to the starting phase, twice over. */
	for (int i = 0; i < 8; i++)
		m[i] = mask[(offset + (size_t)i) & 3];
	memcpy(&w, m, 8);

	/*
	 * memcpy keeps unaligned access defined; compilers turn it into plain
	 * loads and stores. Four words per round lets them overlap.
	 */
	for (; n >= 32; n -= 32, p += 32) {
		uint64_t a, b, c, d;

		memcpy(&a, p, 8);
		memcpy(&b, p + 8, 8);
		memcpy(&c, p + 16, 8);
		memcpy(&d, p + 24, 8);
		a ^= w;
		b ^= w;
		c ^= w;
		d ^= w;
		memcpy(p, &a, 8);
		memcpy(p + 8, &b, 8);
		memcpy(p + 16, &c, 8);
		memcpy(p + 24, &d, 8);
	}
	for (; n >= 8; n -= 8, p += 8) {
		memcpy(&x, p, 8);
		x ^= w;
		memcpy(p, &x, 8);
	}
	/* Whole words advance the phase by multiples of 4: m[] still lines up. */
	for (size_t i = 0; i < n; i++)
		p[i] ^= m[i];
}

size_t ws_header_len(uint64_t n, int masked)
{
	size_t h = n < 126 ? 2 : n <= 0xffff ? 4 : 10;

	return h + (masked ? 4 : 0);
}

/* Writes the header for n bytes at h (ws_header_len bytes). */
static void put_header(uint8_t *h, uint64_t n, int fin, int opcode,
		       const uint8_t *mask)
{
	uint8_t mbit = mask ? 0x80 : 0;

	*h++ = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0f));
	if (n < 126) {
		*h++ = (uint8_t)(mbit | n);
	} else if (n <= 0xffff) {
		*h++ = mbit | 126;
		*h++ = (uint8_t)(n >> 8);
		*h++ = (uint8_t)n;
	} else {
		*h++ = mbit | 127;
		for (int s = 56; s >= 0; s -= 8)
			*h++ = (uint8_t)(n >> s);
	}
	if (mask)
		memcpy(h, mask, 4);
}

uint8_t *ws_frame_prepend(uint8_t *payload, uint64_t n, int fin, int opcode,
			  const uint8_t *mask)
{
	uint8_t *h = payload - ws_header_len(n, mask != NULL);

	put_header(h, n, fin, opcode, mask);
	if (mask)
		ws_mask(payload, (size_t)n, mask, 0);
	return h;
}

size_t ws_frame_encode(uint8_t *dst, size_t cap, int fin, int opcode,
		       const void *src, size_t n, const uint8_t *mask)
{
	size_t h = ws_header_len(n, mask != NULL);

	if (cap < h || cap - h < n)
		return 0;
	put_header(dst, n, fin, opcode, mask);
	if (n) {
		memcpy(dst + h, src, n);
		if (mask)
			ws_mask(dst + h, n, mask, 0);
	}
	return h + n;
}

/* Codes a peer may send (§7.4.1 and the IANA registry; 1004-1006 and 1015
 * are reserved for local use, 1016-2999 unassigned). */
static int close_code_ok(unsigned c)
{
	return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) ||
	       (c >= 3000 && c <= 4999);
}

int ws_close_parse(const uint8_t *p, size_t n, uint16_t *code,
		   const uint8_t **reason, size_t *reason_len)
{
	if (n == 0) {
		/* §7.1.5: no status code means "1005 No Status Rcvd". */
		*code = 1005;
		*reason = p;
		*reason_len = 0;
		return 0;
	}
	/* A 1-byte body cannot hold a code; > 125 is no control frame. */
	if (n < 2 || n > 125)
		return -EINVAL;

	unsigned c = (unsigned)p[0] << 8 | p[1];
	if (!close_code_ok(c) || !ws_utf8_valid(p + 2, n - 2))
		return -EINVAL;
	*code = (uint16_t)c;
	*reason = p + 2;
	*reason_len = n - 2;
	return 0;
}

size_t ws_close_encode(uint8_t *dst, uint16_t code, const char *reason)
{
	size_t n = reason ? strlen(reason) : 0;

	dst[0] = (uint8_t)(code >> 8);
	dst[1] = (uint8_t)code;
	if (n > 123) {
		/* Cut at a character boundary so the peer's UTF-8 check holds. */
		n = 123;
		while (n > 0 && ((uint8_t)reason[n] & 0xc0) == 0x80)
			n--;
	}
	if (n)
		memcpy(dst + 2, reason, n);
	return n + 2;
}

int ws_utf8_valid(const uint8_t *p, size_t n)
{
	return utf8_valid(p, n);
}

void ws_accept_key(char out[WS_ACCEPT_LEN + 1], const char *key, size_t n)
{
	br_sha1_context sha;
	uint8_t digest[br_sha1_SIZE];

	br_sha1_init(&sha);
	br_sha1_update(&sha, key, n);
	br_sha1_update(&sha, WS_GUID, sizeof(WS_GUID) - 1);
	br_sha1_out(&sha, digest);
	b64_encode(out, digest, sizeof(digest));
	out[WS_ACCEPT_LEN] = '\0';
}

int ws_key_valid(const char *key, size_t n)
{
	uint8_t raw[18];

	/* 24 characters could also be 18 bytes unpadded: the cap and the
	 * length check together demand exactly 16. */
	return n == WS_KEY_LEN && b64_decode(raw, sizeof(raw), key, n) == 16;
}

void ws_client_key(char out[WS_KEY_LEN + 1], const uint8_t rnd[16])
{
	b64_encode(out, rnd, 16);
	out[WS_KEY_LEN] = '\0';
}

/* Appends to a bounded buffer; once something does not fit, *pos is set
 * past cap so the caller checks once at the end. */
struct out {
	char *dst;
	size_t cap, pos;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->pos > o->cap || o->cap - o->pos < n) {
		o->pos = o->cap + 1;
		return;
	}
	memcpy(o->dst + o->pos, s, n);
	o->pos += n;
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static size_t out_done(const struct out *o)
{
	return o->pos > o->cap ? 0 : o->pos;
}

size_t ws_client_request(char *dst, size_t cap, const char *host,
			 const char *path, const char *key)
{
	struct out o = { dst, cap, 0 };

	/* host is the Host header value: the caller adds ":port" when it is
	 * not the scheme's default (§4.1 item 4). */
	puts_(&o, "GET ");
	puts_(&o, path && *path ? path : "/");
	puts_(&o, " HTTP/1.1\r\nHost: ");
	puts_(&o, host);
	puts_(&o, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		  "Sec-WebSocket-Key: ");
	puts_(&o, key);
	puts_(&o, "\r\nSec-WebSocket-Version: 13\r\n\r\n");
	return out_done(&o);
}

int ws_client_accept_ok(const char *key, const char *accept, size_t n)
{
	char want[WS_ACCEPT_LEN + 1];

	if (n != WS_ACCEPT_LEN)
		return 0;
	ws_accept_key(want, key, strlen(key));
	return memcmp(want, accept, WS_ACCEPT_LEN) == 0;
}

size_t ws_server_response(char *dst, size_t cap, const char *key, size_t n)
{
	struct out o = { dst, cap, 0 };
	char acc[WS_ACCEPT_LEN + 1];

	ws_accept_key(acc, key, n);
	puts_(&o, "HTTP/1.1 101 Switching Protocols\r\n"
		  "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		  "Sec-WebSocket-Accept: ");
	put(&o, acc, WS_ACCEPT_LEN);
	puts_(&o, "\r\n\r\n");
	return out_done(&o);
}

int ws_msg_feed(struct ws_msg *m, const struct ws_frame *f, uint8_t **out,
		size_t *out_len, uint8_t *opcode)
{
	size_t n = (size_t)f->payload_len;

	if (f->opcode & 0x8)
		return WS_MSG_CONTROL;

	if (f->opcode == WS_OP_CONT) {
		if (m->opcode == 0)
			return WS_MSG_E_SEQ;
	} else if (f->opcode == WS_OP_TEXT || f->opcode == WS_OP_BINARY) {
		if (m->opcode != 0)
			return WS_MSG_E_SEQ;
		if (f->fin) {
			/* Unfragmented: hand out the frame's own bytes, so
			 * m->cap limits fragmented messages only. */
			*out = f->payload;
			*out_len = n;
			*opcode = f->opcode;
			return WS_MSG_DATA;
		}
		/* Checked before any state changes, like the parser. */
		if (f->payload_len > m->cap)
			return WS_MSG_E_TOO_BIG;
		m->opcode = f->opcode;
		m->len = 0;
	} else {
		return WS_MSG_E_SEQ; /* ws_frame_parse never yields these */
	}

	if (f->payload_len > m->cap - m->len)
		return WS_MSG_E_TOO_BIG;
	if (n) {
		memcpy(m->buf + m->len, f->payload, n);
		m->len += n;
	}
	if (!f->fin)
		return WS_MSG_NONE;

	*out = m->buf;
	*out_len = m->len;
	*opcode = m->opcode;
	/* Ready for the next message; m->buf stays valid until it starts. */
	m->opcode = 0;
	m->len = 0;
	return WS_MSG_DATA;
}
