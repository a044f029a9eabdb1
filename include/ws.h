/*
 * ws: the WebSocket protocol of RFC 6455 as byte spans in and out, no I/O.
 * Frame parsing and encoding for both roles, the opening handshake's keys,
 * close payloads and UTF-8 validation.
 *
 * Roles: a server receives masked frames and sends unmasked ones; a client
 * the other way round (§5.1). Every function that parses takes the role of
 * the side that receives.
 */
#ifndef ESMELOAD_WS_H
#define ESMELOAD_WS_H

#include <stddef.h>
#include <stdint.h>

enum ws_opcode {
	WS_OP_CONT = 0x0,
	WS_OP_TEXT = 0x1,
	WS_OP_BINARY = 0x2,
	WS_OP_CLOSE = 0x8,
	WS_OP_PING = 0x9,
	WS_OP_PONG = 0xa,
};

enum ws_role {
	WS_ROLE_SERVER = 0, /* expects masked frames from the peer */
	WS_ROLE_CLIENT = 1, /* expects unmasked frames from the peer */
};

/* Results of ws_frame_parse below zero. */
enum ws_status {
	WS_PARTIAL = -1,     /* the frame is not complete yet: read more */
	WS_E_RESERVED = -2,  /* RSV1-3 set, or a reserved opcode */
	WS_E_MASK = -3,      /* mask bit not what the role requires */
	WS_E_CONTROL = -4,   /* control frame with FIN clear or > 125 bytes */
	WS_E_LENGTH = -5,    /* non-minimal length, or 64-bit length with MSB set */
	WS_E_TOO_BIG = -6,   /* payload longer than the caller's limit */
};

/* Largest frame header: 2 + 8 (length) + 4 (mask). */
#define WS_HDR_MAX 14
/* The GUID of RFC 6455 §1.3, appended to the key before SHA-1. */
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
/* Length of a Sec-WebSocket-Accept value (base64 of 20 bytes). */
#define WS_ACCEPT_LEN 28
/* Length of a Sec-WebSocket-Key value (base64 of 16 bytes). */
#define WS_KEY_LEN 24

struct ws_frame {
	uint8_t fin;         /* 1 if FIN is set */
	uint8_t opcode;      /* enum ws_opcode */
	uint8_t masked;      /* 1 if the MASK bit was set */
	uint8_t mask[4];     /* the masking key when masked */
	size_t header_len;   /* 2..14 */
	uint64_t payload_len;
	uint8_t *payload;    /* points into the caller's buffer, unmasked */
};

/*
 * Parse one frame at buf[0..len). On success returns header_len + payload_len
 * (> 0), fills *f and unmasks the payload in place, so the caller's buffer
 * is modified. Returns WS_PARTIAL while the header or the payload is
 * incomplete; an error as soon as the header shows it (a frame over
 * max_payload fails before its payload arrives). The caller closes the
 * connection with 1002 (protocol error) or 1009 (too big) on errors.
 * Opcode sequencing (continuation without a start, etc.) is the caller's:
 * see ws_msg below.
 */
long ws_frame_parse(struct ws_frame *f, uint8_t *buf, size_t len,
		    enum ws_role role, uint64_t max_payload);

/*
 * XOR n bytes at p with the mask, starting at mask position `offset` (so a
 * payload can be unmasked in pieces). Applying it twice restores the data.
 */
void ws_mask(uint8_t *p, size_t n, const uint8_t mask[4], size_t offset);

/* Header length for a payload of n bytes, masked (client) or not. */
size_t ws_header_len(uint64_t n, int masked);

/*
 * Write a frame header immediately before `payload` (the caller reserves
 * WS_HDR_MAX bytes in front of it) and return a pointer to the frame's first
 * byte. When mask is non-NULL the header carries it and the n payload bytes
 * are masked in place. The frame is payload - returned pointer + n bytes.
 */
uint8_t *ws_frame_prepend(uint8_t *payload, uint64_t n, int fin, int opcode,
			  const uint8_t *mask);

/*
 * Encode a whole frame into dst of capacity cap: header, then the n bytes of
 * payload (masked when mask is non-NULL). Returns the frame length, or 0 when
 * cap is too small. src and dst must not overlap.
 */
size_t ws_frame_encode(uint8_t *dst, size_t cap, int fin, int opcode,
		       const void *src, size_t n, const uint8_t *mask);

/*
 * Close payloads (§5.5.1, §7.4). ws_close_parse validates a received close
 * payload: empty (code 1005 reported), or a 2-byte code that may appear on
 * the wire (1000-1003, 1007-1014, 3000-4999) and a UTF-8 reason. Returns 0
 * or -EINVAL. ws_close_encode writes code + reason (truncated to fit 125
 * bytes) and returns the payload length.
 */
int ws_close_parse(const uint8_t *p, size_t n, uint16_t *code,
		   const uint8_t **reason, size_t *reason_len);
size_t ws_close_encode(uint8_t *dst, uint16_t code, const char *reason);

/* 1 if p[0..n) is valid UTF-8 (no overlongs, surrogates or > U+10FFFF). */
int ws_utf8_valid(const uint8_t *p, size_t n);

/*
 * Opening handshake. ws_accept_key computes Sec-WebSocket-Accept for a
 * Sec-WebSocket-Key value (SHA-1 of key + WS_GUID, base64) into out, which
 * receives WS_ACCEPT_LEN characters and a NUL. ws_key_valid checks that a
 * client key is base64 of exactly 16 bytes (§4.2.1 item 5).
 */
void ws_accept_key(char out[WS_ACCEPT_LEN + 1], const char *key, size_t n);
int ws_key_valid(const char *key, size_t n);

/*
 * Client side: ws_client_key encodes 16 random bytes as a key (WS_KEY_LEN
 * characters and a NUL). ws_client_request writes the GET upgrade request
 * for host (with port when not default) and path; returns its length or 0
 * when cap is too small. ws_client_accept_ok checks a server's
 * Sec-WebSocket-Accept value against the key that was sent; returns 1 or 0.
 */
void ws_client_key(char out[WS_KEY_LEN + 1], const uint8_t rnd[16]);
size_t ws_client_request(char *dst, size_t cap, const char *host,
			 const char *path, const char *key);
int ws_client_accept_ok(const char *key, const char *accept, size_t n);

/*
 * Server side: the 101 response for an accepted key. Returns its length or 0
 * when cap is too small.
 */
size_t ws_server_response(char *dst, size_t cap, const char *key, size_t n);

/*
 * Message reassembly over frames (§5.4): feed every parsed frame; data
 * frames are collected until FIN, control frames pass through between
 * fragments. The caller provides the storage for a fragmented message.
 */
struct ws_msg {
	uint8_t *buf;      /* caller storage for fragmented messages */
	size_t cap;
	size_t len;        /* bytes collected so far */
	uint8_t opcode;    /* opcode of the message being collected, 0 if none */
};

enum ws_msg_status {
	WS_MSG_NONE = 0,     /* a fragment was stored; nothing to deliver yet */
	WS_MSG_DATA = 1,     /* a whole text or binary message: *out, *out_len */
	WS_MSG_CONTROL = 2,  /* a control frame: handle f itself */
	WS_MSG_E_SEQ = -2,   /* continuation without start, or new start mid-message */
	WS_MSG_E_TOO_BIG = -3, /* fragments exceed cap */
};

/*
 * Feed one parsed frame. For an unfragmented data frame the payload is
 * returned in place (no copy); fragments are copied into m->buf and the
 * whole message returned with the FIN fragment. *opcode receives the
 * message's opcode (TEXT or BINARY) for WS_MSG_DATA.
 */
int ws_msg_feed(struct ws_msg *m, const struct ws_frame *f, uint8_t **out,
		size_t *out_len, uint8_t *opcode);

#endif
