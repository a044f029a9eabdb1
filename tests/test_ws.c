/*
 * Unit tests for src/ws.c: RFC 6455 §1.3 and §5.7 examples, frame round
 * trips in both roles, every protocol violation the parser must catch,
 * prefix / split / byte-by-byte feeding, close payloads, UTF-8, message
 * reassembly and the handshake strings.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "test.h"
#include "utf8_ref.h"
#include "ws.h"

static const uint8_t rfc_mask[4] = { 0x37, 0xfa, 0x21, 0x3d };

/* RFC 6455 §5.7 examples. */
static const uint8_t ex_text[] = { 0x81, 0x05, 'H', 'e', 'l', 'l', 'o' };
static const uint8_t ex_text_masked[] = { 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
					  0x7f, 0x9f, 0x4d, 0x51, 0x58 };
static const uint8_t ex_frag1[] = { 0x01, 0x03, 'H', 'e', 'l' };
static const uint8_t ex_frag2[] = { 0x80, 0x02, 'l', 'o' };
static const uint8_t ex_ping[] = { 0x89, 0x05, 'H', 'e', 'l', 'l', 'o' };
static const uint8_t ex_pong_masked[] = { 0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d,
					  0x7f, 0x9f, 0x4d, 0x51, 0x58 };

static uint32_t rng = 2463534242u;
static uint8_t rnd8(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return (uint8_t)rng;
}

static void fill_rnd(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = rnd8();
}

/*
 * Parse wire[0..n) and expect `want`. Every shorter prefix must give
 * WS_PARTIAL and leave its bytes untouched; for small inputs each prefix
 * sits in an exact-size heap buffer so ASan catches reads past `len`. On
 * success the frame is parsed in `out` (n bytes plus room for 16 more) and
 * described by *f; with trailing bytes appended the result must not change.
 */
static int parse_all(const uint8_t *wire, size_t n, enum ws_role role,
		     uint64_t max, long want, struct ws_frame *f, uint8_t *out)
{
	struct ws_frame g;
	uint8_t *big = malloc(n + 16);

	check(big != NULL);
	memcpy(big, wire, n);
	for (size_t k = 0; k < n; k++) {
		long r;

		if (n <= 4096 || k < 32 || k + 32 > n) {
			uint8_t *p = malloc(k ? k : 1);

			check(p != NULL);
			memcpy(p, wire, k);
			r = ws_frame_parse(&g, p, k, role, max);
			check(memcmp(p, wire, k) == 0);
			free(p);
		} else {
			r = ws_frame_parse(&g, big, k, role, max);
		}
		if (r != WS_PARTIAL) {
			fprintf(stderr, "prefix %zu of %zu: %ld\n", k, n, r);
			check(0);
		}
	}
	check(memcmp(big, wire, n) == 0);

	uint8_t *exact = malloc(n ? n : 1);
	check(exact != NULL);
	memcpy(exact, wire, n);
	check_eq(ws_frame_parse(&g, exact, n, role, max), want);
	free(exact);

	/* More bytes after the frame (or the error) change nothing. */
	memcpy(out, wire, n);
	memset(out + n, 0xff, 16);
	check_eq(ws_frame_parse(f, out, n + 16, role, max), want);
	if (want > 0) {
		check(f->payload >= out && f->payload + f->payload_len <= out + n);
		check_eq(f->header_len + f->payload_len, want);
	}
	free(big);
	return 0;
}

/* Frame fields and payload in one call. */
static int frame_is(const struct ws_frame *f, int fin, int op, int masked,
		    size_t hlen, const void *payload, size_t n)
{
	check_eq(f->fin, fin);
	check_eq(f->opcode, op);
	check_eq(f->masked, masked);
	check_eq(f->header_len, hlen);
	check_eq(f->payload_len, n);
	check(n == 0 || memcmp(f->payload, payload, n) == 0);
	return 0;
}

static int rfc_single_unmasked(void)
{
	struct ws_frame f;
	uint8_t out[64], enc[64];

	check(parse_all(ex_text, sizeof(ex_text), WS_ROLE_CLIENT, 1 << 20,
			sizeof(ex_text), &f, out) == 0);
	check(frame_is(&f, 1, WS_OP_TEXT, 0, 2, "Hello", 5) == 0);
	/* A server must refuse it: clients always mask. */
	check(parse_all(ex_text, 2, WS_ROLE_SERVER, 1 << 20, WS_E_MASK, &f,
			out) == 0);
	check_eq(ws_frame_encode(enc, sizeof(enc), 1, WS_OP_TEXT, "Hello", 5,
				 NULL), sizeof(ex_text));
	check(memcmp(enc, ex_text, sizeof(ex_text)) == 0);
	return 0;
}

static int rfc_single_masked(void)
{
	struct ws_frame f;
	uint8_t out[64], enc[64];

	check(parse_all(ex_text_masked, sizeof(ex_text_masked), WS_ROLE_SERVER,
			1 << 20, sizeof(ex_text_masked), &f, out) == 0);
	check(frame_is(&f, 1, WS_OP_TEXT, 1, 6, "Hello", 5) == 0);
	check(memcmp(f.mask, rfc_mask, 4) == 0);
	check(parse_all(ex_text_masked, 2, WS_ROLE_CLIENT, 1 << 20, WS_E_MASK,
			&f, out) == 0);
	check_eq(ws_frame_encode(enc, sizeof(enc), 1, WS_OP_TEXT, "Hello", 5,
				 rfc_mask), sizeof(ex_text_masked));
	check(memcmp(enc, ex_text_masked, sizeof(ex_text_masked)) == 0);
	/* Exactly enough room works, one byte less does not. */
	check_eq(ws_frame_encode(enc, 11, 1, WS_OP_TEXT, "Hello", 5, rfc_mask),
		 11);
	check_eq(ws_frame_encode(enc, 10, 1, WS_OP_TEXT, "Hello", 5, rfc_mask),
		 0);
	check_eq(ws_frame_encode(enc, 5, 1, WS_OP_TEXT, "Hello", 5, rfc_mask),
		 0);
	return 0;
}

static int rfc_fragmented(void)
{
	struct ws_frame f;
	uint8_t out[64], enc[64];

	check(parse_all(ex_frag1, sizeof(ex_frag1), WS_ROLE_CLIENT, 100,
			sizeof(ex_frag1), &f, out) == 0);
	check(frame_is(&f, 0, WS_OP_TEXT, 0, 2, "Hel", 3) == 0);
	check(parse_all(ex_frag2, sizeof(ex_frag2), WS_ROLE_CLIENT, 100,
			sizeof(ex_frag2), &f, out) == 0);
	check(frame_is(&f, 1, WS_OP_CONT, 0, 2, "lo", 2) == 0);
	check_eq(ws_frame_encode(enc, sizeof(enc), 0, WS_OP_TEXT, "Hel", 3,
				 NULL), sizeof(ex_frag1));
	check(memcmp(enc, ex_frag1, sizeof(ex_frag1)) == 0);
	check_eq(ws_frame_encode(enc, sizeof(enc), 1, WS_OP_CONT, "lo", 2,
				 NULL), sizeof(ex_frag2));
	check(memcmp(enc, ex_frag2, sizeof(ex_frag2)) == 0);
	return 0;
}

static int rfc_ping_pong(void)
{
	struct ws_frame f;
	uint8_t out[64], enc[64];

	check(parse_all(ex_ping, sizeof(ex_ping), WS_ROLE_CLIENT, 1 << 20,
			sizeof(ex_ping), &f, out) == 0);
	check(frame_is(&f, 1, WS_OP_PING, 0, 2, "Hello", 5) == 0);
	check(parse_all(ex_pong_masked, sizeof(ex_pong_masked), WS_ROLE_SERVER,
			1 << 20, sizeof(ex_pong_masked), &f, out) == 0);
	check(frame_is(&f, 1, WS_OP_PONG, 1, 6, "Hello", 5) == 0);
	check(memcmp(f.mask, rfc_mask, 4) == 0);
	check_eq(ws_frame_encode(enc, sizeof(enc), 1, WS_OP_PING, "Hello", 5,
				 NULL), sizeof(ex_ping));
	check(memcmp(enc, ex_ping, sizeof(ex_ping)) == 0);
	check_eq(ws_frame_encode(enc, sizeof(enc), 1, WS_OP_PONG, "Hello", 5,
				 rfc_mask), sizeof(ex_pong_masked));
	check(memcmp(enc, ex_pong_masked, sizeof(ex_pong_masked)) == 0);
	return 0;
}

/* §5.7: 256 bytes with a 16-bit length, 64 KiB with a 64-bit length. */
static int rfc_binary_lengths(void)
{
	static const uint8_t h256[] = { 0x82, 0x7e, 0x01, 0x00 };
	static const uint8_t h64k[] = { 0x82, 0x7f, 0x00, 0x00, 0x00, 0x00,
					0x00, 0x01, 0x00, 0x00 };
	struct {
		const uint8_t *hdr;
		size_t hlen, n;
	} c[] = { { h256, sizeof(h256), 256 }, { h64k, sizeof(h64k), 65536 } };

	for (size_t i = 0; i < 2; i++) {
		size_t total = c[i].hlen + c[i].n;
		uint8_t *payload = malloc(c[i].n);
		uint8_t *wire = malloc(total);
		uint8_t *enc = malloc(total);
		uint8_t *out = malloc(total + 16);
		struct ws_frame f;

		check(payload && wire && enc && out);
		fill_rnd(payload, c[i].n);
		memcpy(wire, c[i].hdr, c[i].hlen);
		memcpy(wire + c[i].hlen, payload, c[i].n);
		check_eq(ws_header_len(c[i].n, 0), c[i].hlen);
		check_eq(ws_frame_encode(enc, total, 1, WS_OP_BINARY, payload,
					 c[i].n, NULL), total);
		check(memcmp(enc, wire, total) == 0);
		check_eq(ws_frame_encode(enc, total - 1, 1, WS_OP_BINARY,
					 payload, c[i].n, NULL), 0);
		check(parse_all(wire, total, WS_ROLE_CLIENT, 1 << 20,
				(long)total, &f, out) == 0);
		check(frame_is(&f, 1, WS_OP_BINARY, 0, c[i].hlen, payload,
			       c[i].n) == 0);
		free(payload);
		free(wire);
		free(enc);
		free(out);
	}
	return 0;
}

static const size_t rt_lens[] = { 0, 1, 125, 126, 127, 65535, 65536 };

/* Encode, then parse as the receiving role; both directions of §5.1. */
static int round_trips(void)
{
	for (size_t i = 0; i < sizeof(rt_lens) / sizeof(rt_lens[0]); i++) {
		size_t n = rt_lens[i];

		for (int masked = 0; masked <= 1; masked++) {
			enum ws_role rx = masked ? WS_ROLE_SERVER
						 : WS_ROLE_CLIENT;
			size_t h = ws_header_len(n, masked);
			uint8_t *payload = malloc(n + 1);
			uint8_t *enc = malloc(h + n);
			uint8_t *out = malloc(h + n + 16);
			uint8_t mask[4];
			struct ws_frame f;
			int op = n % 2 ? WS_OP_TEXT : WS_OP_BINARY;
			int fin = n != 127;

			check(payload && enc && out);
			check_eq(h, (n < 126 ? 2 : n < 65536 ? 4 : 10) +
					    (masked ? 4 : 0));
			fill_rnd(payload, n);
			fill_rnd(mask, 4);
			check_eq(ws_frame_encode(enc, h + n, fin, op, payload,
						 n, masked ? mask : NULL),
				 h + n);
			/* The source is never touched. */
			check(parse_all(enc, h + n, rx, 65536, (long)(h + n),
					&f, out) == 0);
			check(frame_is(&f, fin, op, masked, h, payload, n) ==
			      0);
			if (masked)
				check(memcmp(f.mask, mask, 4) == 0);
			/* The other role refuses it on the mask bit alone. */
			memcpy(out, enc, 2);
			check_eq(ws_frame_parse(&f, out, 2, !rx, 65536),
				 WS_E_MASK);
			/* One byte over the limit, from the header alone. */
			if (n > 0) {
				memcpy(out, enc, h);
				check_eq(ws_frame_parse(&f, out, h - (masked ? 4 : 0),
							rx, n - 1),
					 WS_E_TOO_BIG);
			}
			free(payload);
			free(enc);
			free(out);
		}
	}
	return 0;
}

static int prepend(void)
{
	for (size_t i = 0; i < sizeof(rt_lens) / sizeof(rt_lens[0]); i++) {
		size_t n = rt_lens[i];

		for (int masked = 0; masked <= 1; masked++) {
			uint8_t *buf = malloc(WS_HDR_MAX + n);
			uint8_t *orig = malloc(n + 1);
			uint8_t *enc = malloc(WS_HDR_MAX + n);
			uint8_t *payload, *frame, mask[4];
			struct ws_frame f;
			size_t h = ws_header_len(n, masked);

			check(buf && orig && enc);
			payload = buf + WS_HDR_MAX;
			fill_rnd(orig, n);
			fill_rnd(mask, 4);
			memcpy(payload, orig, n);
			frame = ws_frame_prepend(payload, n, 1, WS_OP_BINARY,
						 masked ? mask : NULL);
			check(frame == payload - h);
			/* Same bytes as ws_frame_encode. */
			check_eq(ws_frame_encode(enc, WS_HDR_MAX + n, 1,
						 WS_OP_BINARY, orig, n,
						 masked ? mask : NULL),
				 h + n);
			check(memcmp(frame, enc, h + n) == 0);
			if (masked && n >= 4)
				check(memcmp(payload, orig, n) != 0);
			check_eq(ws_frame_parse(&f, frame, h + n,
						masked ? WS_ROLE_SERVER
						       : WS_ROLE_CLIENT,
						UINT64_MAX),
				 h + n);
			check(frame_is(&f, 1, WS_OP_BINARY, masked, h, orig,
				       n) == 0);
			check(f.payload == payload);
			free(buf);
			free(orig);
			free(enc);
		}
	}
	/* fin clear and a control opcode land in the first byte. */
	uint8_t b[WS_HDR_MAX + 2] = { 0 };
	uint8_t *fr = ws_frame_prepend(b + WS_HDR_MAX, 2, 0, WS_OP_CONT, NULL);
	check(fr == b + WS_HDR_MAX - 2);
	check_eq(fr[0], 0x00);
	check_eq(fr[1], 0x02);
	fr = ws_frame_prepend(b + WS_HDR_MAX, 0, 1, WS_OP_CLOSE, rfc_mask);
	check(fr == b + WS_HDR_MAX - 6);
	check_eq(fr[0], 0x88);
	check_eq(fr[1], 0x80);
	check(memcmp(fr + 2, rfc_mask, 4) == 0);
	return 0;
}

/* Two frames back to back: the first parse consumes only the first. */
static int back_to_back(void)
{
	uint8_t buf[64];
	struct ws_frame f;
	long k;

	memcpy(buf, ex_text_masked, sizeof(ex_text_masked));
	memcpy(buf + sizeof(ex_text_masked), ex_pong_masked,
	       sizeof(ex_pong_masked));
	k = ws_frame_parse(&f, buf, 22, WS_ROLE_SERVER, 125);
	check_eq(k, 11);
	check(frame_is(&f, 1, WS_OP_TEXT, 1, 6, "Hello", 5) == 0);
	check(memcmp(buf + 11, ex_pong_masked, 11) == 0);
	k = ws_frame_parse(&f, buf + 11, 11, WS_ROLE_SERVER, 125);
	check_eq(k, 11);
	check(frame_is(&f, 1, WS_OP_PONG, 1, 6, "Hello", 5) == 0);
	return 0;
}

static int mask_violations(void)
{
	static const int ops[] = { WS_OP_CONT, WS_OP_TEXT, WS_OP_BINARY,
				   WS_OP_CLOSE, WS_OP_PING, WS_OP_PONG };
	struct ws_frame f;
	uint8_t out[32];

	for (size_t i = 0; i < 6; i++) {
		uint8_t unmasked[2] = { (uint8_t)(0x80 | ops[i]), 0x00 };
		uint8_t masked[2] = { (uint8_t)(0x80 | ops[i]), 0x80 };

		check(parse_all(unmasked, 2, WS_ROLE_SERVER, 125, WS_E_MASK,
				&f, out) == 0);
		check(parse_all(masked, 2, WS_ROLE_CLIENT, 125, WS_E_MASK, &f,
				out) == 0);
	}
	return 0;
}

static int reserved(void)
{
	struct ws_frame f;
	uint8_t out[32];

	for (int role = 0; role <= 1; role++) {
		uint8_t mbit = role == WS_ROLE_SERVER ? 0x80 : 0;

		for (int rsv = 0x10; rsv <= 0x40; rsv <<= 1) {
			uint8_t w[2] = { (uint8_t)(0x81 | rsv), mbit };

			check(parse_all(w, 2, role, 125, WS_E_RESERVED, &f,
					out) == 0);
		}
		for (int op = 0; op < 16; op++) {
			int known = op <= 2 || (op >= 8 && op <= 10);
			uint8_t w[6] = { (uint8_t)(0x80 | op), mbit, 1, 2, 3,
					 4 };

			if (known)
				check_eq(ws_frame_parse(&f, w, role ? 2 : 6,
							role, 125),
					 role ? 2 : 6);
			else
				check(parse_all(w, 2, role, 125, WS_E_RESERVED,
						&f, out) == 0);
		}
	}
	return 0;
}

static int control_rules(void)
{
	struct ws_frame f;
	uint8_t out[256], w[256];
	static const int ctl[] = { WS_OP_CLOSE, WS_OP_PING, WS_OP_PONG };

	for (size_t i = 0; i < 3; i++) {
		/* Fragmented control frame. */
		uint8_t frag[2] = { (uint8_t)ctl[i], 0x80 };
		check(parse_all(frag, 2, WS_ROLE_SERVER, 1 << 20, WS_E_CONTROL,
				&f, out) == 0);
		frag[1] = 0;
		check(parse_all(frag, 2, WS_ROLE_CLIENT, 1 << 20, WS_E_CONTROL,
				&f, out) == 0);

		/* 126 and 127 announce an extended length: over 125. */
		for (uint8_t l = 126; l <= 127; l++) {
			uint8_t big[2] = { (uint8_t)(0x80 | ctl[i]),
					   (uint8_t)(0x80 | l) };
			check(parse_all(big, 2, WS_ROLE_SERVER, 1 << 20,
					WS_E_CONTROL, &f, out) == 0);
		}

		/* Exactly 125 is fine. */
		fill_rnd(out, 125);
		size_t n = ws_frame_encode(w, sizeof(w), 1, ctl[i], out, 125,
					   rfc_mask);
		check_eq(n, 131);
		check(parse_all(w, n, WS_ROLE_SERVER, 1 << 20, (long)n, &f,
				out) == 0);
		check_eq(f.payload_len, 125);
	}
	/* Data frames may be fragmented and long: header accepted, the
	 * payload is awaited. */
	uint8_t d[4] = { 0x02, 0x7e, 0x00, 0x7e };
	check_eq(ws_frame_parse(&f, d, 4, WS_ROLE_CLIENT, 1 << 20), WS_PARTIAL);
	return 0;
}

static int lengths(void)
{
	struct ws_frame f;
	uint8_t out[64];

	for (int role = 0; role <= 1; role++) {
		uint8_t mbit = role == WS_ROLE_SERVER ? 0x80 : 0;

		/* 16-bit form for a length that fits 7 bits. */
		static const uint16_t small16[] = { 0, 1, 125 };
		for (size_t i = 0; i < 3; i++) {
			uint8_t w[4] = { 0x82, (uint8_t)(mbit | 126),
					 (uint8_t)(small16[i] >> 8),
					 (uint8_t)small16[i] };
			check(parse_all(w, 4, role, UINT64_MAX, WS_E_LENGTH,
					&f, out) == 0);
		}
		/* 64-bit form for a length that fits 16 bits. */
		static const uint64_t small64[] = { 0, 125, 126, 65535 };
		for (size_t i = 0; i < 4; i++) {
			uint8_t w[10] = { 0x82, (uint8_t)(mbit | 127) };
			for (int b = 0; b < 8; b++)
				w[2 + b] = (uint8_t)(small64[i] >> (56 - 8 * b));
			check(parse_all(w, 10, role, UINT64_MAX, WS_E_LENGTH,
					&f, out) == 0);
		}
		/* Most significant bit set (§5.2), whatever else. */
		static const uint64_t msb[] = { 0x8000000000000000ull,
						0x8000000000010000ull,
						UINT64_MAX };
		for (size_t i = 0; i < 3; i++) {
			uint8_t w[10] = { 0x82, (uint8_t)(mbit | 127) };
			for (int b = 0; b < 8; b++)
				w[2 + b] = (uint8_t)(msb[i] >> (56 - 8 * b));
			check(parse_all(w, 10, role, UINT64_MAX, WS_E_LENGTH,
					&f, out) == 0);
		}
		/* Minimal forms are fine: header complete, payload missing. */
		uint8_t ok16[8] = { 0x82, (uint8_t)(mbit | 126), 0, 126 };
		check_eq(ws_frame_parse(&f, ok16, role ? 4 : 8, role,
					UINT64_MAX), WS_PARTIAL);
		uint8_t ok64[14] = { 0x82, (uint8_t)(mbit | 127), 0, 0, 0, 0,
				     0, 1, 0, 0 };
		check_eq(ws_frame_parse(&f, ok64, role ? 10 : 14, role,
					UINT64_MAX), WS_PARTIAL);
		/* The largest legal length cannot be returned as a long. */
		uint8_t huge[10] = { 0x82, (uint8_t)(mbit | 127), 0x7f, 0xff,
				     0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
		check_eq(ws_frame_parse(&f, huge, 10, role, UINT64_MAX),
			 WS_E_TOO_BIG);
	}
	return 0;
}

/* max_payload is enforced from the length field, before mask or payload. */
static int too_big(void)
{
	struct ws_frame f;
	uint8_t out[64];

	/* 7-bit length: two bytes are enough. */
	uint8_t w7[2] = { 0x81, 0x80 | 11 };
	check(parse_all(w7, 2, WS_ROLE_SERVER, 10, WS_E_TOO_BIG, &f, out) == 0);
	/* 16-bit: four bytes, the mask has not arrived yet. */
	uint8_t w16[4] = { 0x82, 0x80 | 126, 0x03, 0xe9 };
	check(parse_all(w16, 4, WS_ROLE_SERVER, 1000, WS_E_TOO_BIG, &f,
			out) == 0);
	w16[1] = 126;
	check(parse_all(w16, 4, WS_ROLE_CLIENT, 1000, WS_E_TOO_BIG, &f,
			out) == 0);
	/* Exactly the limit waits for the payload instead. */
	w16[3] = 0xe8;
	check_eq(ws_frame_parse(&f, w16, 4, WS_ROLE_CLIENT, 1000), WS_PARTIAL);
	/* 64-bit: 1 TiB against a 1 MiB limit, ten bytes in. */
	uint8_t w64[10] = { 0x82, 0x80 | 127, 0, 0, 0x01, 0, 0, 0, 0, 0 };
	check(parse_all(w64, 10, WS_ROLE_SERVER, 1 << 20, WS_E_TOO_BIG, &f,
			out) == 0);
	/* A 2-byte frame against a limit of 1. */
	check(parse_all(ex_frag2, 2, WS_ROLE_CLIENT, 1, WS_E_TOO_BIG, &f,
			out) == 0);
	/* Limit 0 still admits empty frames. */
	uint8_t empty[2] = { 0x89, 0x00 };
	check(parse_all(empty, 2, WS_ROLE_CLIENT, 0, 2, &f, out) == 0);
	check(frame_is(&f, 1, WS_OP_PING, 0, 2, NULL, 0) == 0);
	return 0;
}

/*
 * A stream reader as a connection would run it: append what arrives, parse
 * frames off the front, latch the first error. The log records every frame
 * so different ways of cutting the same bytes can be compared.
 */
struct rd {
	uint8_t *buf;
	size_t len;
	uint8_t *log;
	size_t loglen;
	long err;
	int frames;
};

static void rd_init(struct rd *r, uint8_t *buf, uint8_t *log)
{
	r->buf = buf;
	r->len = 0;
	r->log = log;
	r->loglen = 0;
	r->err = 0;
	r->frames = 0;
}

static void rd_feed(struct rd *r, const uint8_t *p, size_t n,
		    enum ws_role role, uint64_t max)
{
	if (r->err)
		return;
	memcpy(r->buf + r->len, p, n);
	r->len += n;
	for (;;) {
		struct ws_frame f;
		long k = ws_frame_parse(&f, r->buf, r->len, role, max);

		if (k == WS_PARTIAL)
			return;
		if (k < 0) {
			r->err = k;
			return;
		}
		r->log[r->loglen++] = (uint8_t)(f.fin << 4 | f.opcode);
		memcpy(r->log + r->loglen, &f.payload_len, 8);
		r->loglen += 8;
		memcpy(r->log + r->loglen, f.payload, f.payload_len);
		r->loglen += f.payload_len;
		r->frames++;
		memmove(r->buf, r->buf + k, r->len - (size_t)k);
		r->len -= (size_t)k;
	}
}

/*
 * Feed `s` whole, then cut in two at every position (or a sample of them for
 * big streams), then byte by byte: the frames and the final error must be
 * the same every time.
 */
static int feed_every_way(const uint8_t *s, size_t n, enum ws_role role,
			  uint64_t max, int want_frames, long want_err)
{
	uint8_t *buf = malloc(n + 1), *log0 = malloc(5 * n + 64);
	uint8_t *log = malloc(5 * n + 64);
	struct rd r0, r;

	check(buf && log0 && log);
	/* Whole. The reader writes into its own copy, never into s. */
	rd_init(&r0, buf, log0);
	rd_feed(&r0, s, n, role, max);
	check_eq(r0.frames, want_frames);
	check_eq(r0.err, want_err);
	if (!want_err)
		check_eq(r0.len, 0);

	uint8_t *buf2 = malloc(n + 1);
	check(buf2 != NULL);
	size_t step = n <= 4096 ? 1 : 997;
	for (size_t cut = 0; cut <= n; cut += (cut < 16 || cut + 16 > n) ? 1
									  : step) {
		rd_init(&r, buf2, log);
		rd_feed(&r, s, cut, role, max);
		rd_feed(&r, s + cut, n - cut, role, max);
		check_eq(r.frames, r0.frames);
		check_eq(r.err, r0.err);
		check(r.loglen == r0.loglen &&
		      memcmp(r.log, r0.log, r.loglen) == 0);
	}
	rd_init(&r, buf2, log);
	for (size_t i = 0; i < n; i++)
		rd_feed(&r, s + i, 1, role, max);
	check_eq(r.frames, r0.frames);
	check_eq(r.err, r0.err);
	check(r.loglen == r0.loglen && memcmp(r.log, r0.log, r.loglen) == 0);
	free(buf);
	free(buf2);
	free(log0);
	free(log);
	return 0;
}

static size_t cat(uint8_t *dst, size_t at, const void *src, size_t n)
{
	memcpy(dst + at, src, n);
	return at + n;
}

static int stream_splits(void)
{
	uint8_t s[1024], p256[256];
	size_t n = 0;

	/* Client side: everything of §5.7 that a server sends. */
	fill_rnd(p256, sizeof(p256));
	n = cat(s, n, ex_text, sizeof(ex_text));
	n = cat(s, n, ex_frag1, sizeof(ex_frag1));
	n = cat(s, n, ex_ping, sizeof(ex_ping));
	n = cat(s, n, ex_frag2, sizeof(ex_frag2));
	n += ws_frame_encode(s + n, sizeof(s) - n, 1, WS_OP_BINARY, p256, 256,
			     NULL);
	n += ws_frame_encode(s + n, sizeof(s) - n, 1, WS_OP_CLOSE, "\x03\xe8",
			     2, NULL);
	check(feed_every_way(s, n, WS_ROLE_CLIENT, 1 << 20, 6, 0) == 0);
	/* The same bytes at a server: the first frame is unmasked. */
	check(feed_every_way(s, n, WS_ROLE_SERVER, 1 << 20, 0, WS_E_MASK) == 0);
	/* A bad frame after good ones: the good ones come out first. */
	uint8_t bad[2] = { 0xc1, 0x00 }; /* RSV1 */
	size_t nb = cat(s, n, bad, 2);
	check(feed_every_way(s, nb, WS_ROLE_CLIENT, 1 << 20, 6,
			     WS_E_RESERVED) == 0);
	/* Too big for the limit: refused before its payload arrives. */
	check(feed_every_way(s, n - 4 - 256, WS_ROLE_CLIENT, 255, 4,
			     WS_E_TOO_BIG) == 0);

	/* Server side: masked frames, including an empty one. */
	uint8_t mask[4];
	n = 0;
	n = cat(s, n, ex_text_masked, sizeof(ex_text_masked));
	n = cat(s, n, ex_pong_masked, sizeof(ex_pong_masked));
	fill_rnd(mask, 4);
	n += ws_frame_encode(s + n, sizeof(s) - n, 0, WS_OP_BINARY, p256, 200,
			     mask);
	n += ws_frame_encode(s + n, sizeof(s) - n, 0, WS_OP_CONT, NULL, 0,
			     mask);
	fill_rnd(mask, 4);
	n += ws_frame_encode(s + n, sizeof(s) - n, 1, WS_OP_CONT, p256 + 200,
			     56, mask);
	check(feed_every_way(s, n, WS_ROLE_SERVER, 1 << 20, 5, 0) == 0);
	check(feed_every_way(s, n, WS_ROLE_CLIENT, 1 << 20, 0, WS_E_MASK) == 0);
	return 0;
}

static int stream_big(void)
{
	size_t cap = 65536 + 2 * WS_HDR_MAX + 16;
	uint8_t *s = malloc(cap), *p = malloc(65536), mask[4];
	size_t n = 0;

	check(s && p);
	fill_rnd(p, 65536);
	fill_rnd(mask, 4);
	n += ws_frame_encode(s + n, cap - n, 1, WS_OP_BINARY, p, 65536, mask);
	n += ws_frame_encode(s + n, cap - n, 1, WS_OP_PING, "x", 1, mask);
	check(feed_every_way(s, n, WS_ROLE_SERVER, 65536, 2, 0) == 0);
	check(feed_every_way(s, n, WS_ROLE_SERVER, 65535, 0, WS_E_TOO_BIG) ==
	      0);
	free(s);
	free(p);
	return 0;
}

/* Byte loop the fast ws_mask must agree with. */
static void mask_ref(uint8_t *p, size_t n, const uint8_t m[4], size_t off)
{
	for (size_t i = 0; i < n; i++)
		p[i] ^= m[(off + i) % 4];
}

static int mask_fast_path(void)
{
	uint8_t a[300], b[300], orig[300], m[4];

	for (size_t align = 0; align < 8; align++) {
		for (size_t n = 0; n + align <= 140; n++) {
			for (size_t off = 0; off < 8; off++) {
				fill_rnd(orig, sizeof(orig));
				fill_rnd(m, 4);
				memcpy(a, orig, sizeof(a));
				memcpy(b, orig, sizeof(b));
				ws_mask(a + align, n, m, off);
				mask_ref(b + align, n, m, off);
				check(memcmp(a, b, sizeof(a)) == 0);
				ws_mask(a + align, n, m, off);
				check(memcmp(a, orig, sizeof(a)) == 0);
			}
		}
	}
	/* In pieces: the offset carries the phase across calls. */
	fill_rnd(orig, sizeof(orig));
	fill_rnd(m, 4);
	memcpy(b, orig, sizeof(b));
	mask_ref(b, 300, m, 0);
	for (size_t cut = 0; cut <= 300; cut++) {
		memcpy(a, orig, sizeof(a));
		ws_mask(a, cut, m, 0);
		ws_mask(a + cut, 300 - cut, m, cut);
		check(memcmp(a, b, sizeof(a)) == 0);
	}
	return 0;
}

static int close_parse(void)
{
	uint16_t code = 0;
	const uint8_t *reason = NULL;
	size_t rlen = 99;

	check_eq(ws_close_parse((const uint8_t *)"", 0, &code, &reason, &rlen),
		 0);
	check_eq(code, 1005);
	check_eq(rlen, 0);
	/* One byte is invalid even when a valid code sits beyond n. */
	uint8_t *one = malloc(2);
	check(one != NULL);
	memcpy(one, "\x03\xe8", 2);
	check_eq(ws_close_parse(one, 1, &code, &reason, &rlen), -EINVAL);
	free(one);
	check_eq(ws_close_parse((const uint8_t *)"\x03\xe8", 2, &code, &reason,
				&rlen), 0);
	check_eq(code, 1000);
	check_eq(rlen, 0);
	check_eq(ws_close_parse((const uint8_t *)"\x03\xe9going away", 12,
				&code, &reason, &rlen), 0);
	check_eq(code, 1001);
	check_span(reason, rlen, "going away");
	/* UTF-8 reasons: valid multibyte, then invalid and truncated. */
	check_eq(ws_close_parse((const uint8_t *)"\x0f\xa0\xce\xba\xe1\xbd\xb9",
				7, &code, &reason, &rlen), 0);
	check_eq(code, 4000);
	check_eq(rlen, 5);
	check_eq(ws_close_parse((const uint8_t *)"\x03\xe8\xff", 3, &code,
				&reason, &rlen), -EINVAL);
	check_eq(ws_close_parse((const uint8_t *)"\x03\xe8"
						 "ab\xce",
				5, &code, &reason, &rlen), -EINVAL);
	check_eq(ws_close_parse((const uint8_t *)"\x03\xe8\xed\xa0\x80", 5,
				&code, &reason, &rlen), -EINVAL);

	/* Every code: exactly the wire-legal ones are accepted. */
	for (unsigned c = 0; c <= 0xffff; c++) {
		uint8_t p[2] = { (uint8_t)(c >> 8), (uint8_t)c };
		int ok = (c >= 1000 && c <= 1003) ||
			 (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);

		check_eq(ws_close_parse(p, 2, &code, &reason, &rlen) == 0, ok);
		if (ok)
			check_eq(code, c);
	}
	/* Spot checks named in §7.4.1. */
	static const unsigned bad[] = { 0, 999, 1004, 1005, 1006, 1015, 1016,
					2999, 5000, 65535 };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t p[2] = { (uint8_t)(bad[i] >> 8), (uint8_t)bad[i] };
		check_eq(ws_close_parse(p, 2, &code, &reason, &rlen), -EINVAL);
	}
	return 0;
}

static int close_encode(void)
{
	uint8_t p[125], q[125];
	char reason[300];
	uint16_t code;
	const uint8_t *r;
	size_t rlen;

	check_eq(ws_close_encode(p, 1000, "bye"), 5);
	check(memcmp(p, "\x03\xe8"
			"bye",
		     5) == 0);
	check_eq(ws_close_encode(p, 1001, NULL), 2);
	check(memcmp(p, "\x03\xe9", 2) == 0);
	check_eq(ws_close_encode(p, 4999, ""), 2);
	check_eq(ws_close_parse(p, 2, &code, &r, &rlen), 0);
	check_eq(code, 4999);

	/* Long ASCII: cut to 123 bytes of reason. */
	memset(reason, 'a', 200);
	reason[200] = 0;
	check_eq(ws_close_encode(p, 1009, reason), 125);
	check_eq(ws_close_parse(p, 125, &code, &r, &rlen), 0);
	check_eq(code, 1009);
	check_eq(rlen, 123);

	/* A multibyte character across the cut is dropped whole. */
	for (size_t pre = 118; pre <= 123; pre++) {
		for (size_t clen = 2; clen <= 4; clen++) {
			static const char *chars[] = { "", "", "\xc3\xa9",
						       "\xe2\x82\xac",
						       "\xf0\x9f\x98\x80" };
			memset(reason, 'a', pre);
			strcpy(reason + pre, chars[clen]);
			strcat(reason, "zz");
			size_t total = pre + clen + 2;
			/* The cut is at 123 unless it splits the char. */
			size_t want = total <= 123	     ? total
				      : pre + clen <= 123 ? 123
							  : pre;
			size_t got = ws_close_encode(q, 1000, reason);
			check_eq(got, 2 + want);
			check(ws_utf8_valid(q + 2, got - 2));
			check_eq(ws_close_parse(q, got, &code, &r, &rlen), 0);
		}
	}
	return 0;
}

struct u8case {
	const char *s;
	size_t n;
	int ok;
};
#define U(lit, ok) { lit, sizeof(lit) - 1, ok }

static const struct u8case u8cases[] = {
	U("", 1),
	U("Hello, world", 1),
	U("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", 1), /* κόσμε */
	U("\xc2\x80", 1),             /* U+0080 */
	U("\xdf\xbf", 1),             /* U+07FF */
	U("\xe0\xa0\x80", 1),         /* U+0800 */
	U("\xed\x9f\xbf", 1),         /* U+D7FF */
	U("\xee\x80\x80", 1),         /* U+E000 */
	U("\xef\xbf\xbf", 1),         /* U+FFFF */
	U("\xf0\x90\x80\x80", 1),     /* U+10000 */
	U("\xf4\x8f\xbf\xbf", 1),     /* U+10FFFF */
	U("a\0b", 1),                 /* NUL is a character */
	/* Overlongs. */
	U("\xc0\x80", 0),
	U("\xc0\xaf", 0),
	U("\xc1\xbf", 0),
	U("\xe0\x80\x80", 0),
	U("\xe0\x9f\xbf", 0),
	U("\xf0\x80\x80\x80", 0),
	U("\xf0\x8f\xbf\xbf", 0),
	/* Surrogates, alone and paired. */
	U("\xed\xa0\x80", 0),
	U("\xed\xbf\xbf", 0),
	U("\xed\xa0\xbd\xed\xb2\xa9", 0),
	/* Above U+10FFFF. */
	U("\xf4\x90\x80\x80", 0),
	U("\xf5\x80\x80\x80", 0),
	U("\xf7\xbf\xbf\xbf", 0),
	U("\xf8\x88\x80\x80\x80", 0),
	U("\xfe", 0),
	U("\xff", 0),
	/* Lone continuations. */
	U("\x80", 0),
	U("\xbf", 0),
	U("a\x80", 0),
	/* Truncated sequences, at the end and before more text. */
	U("\xc2", 0),
	U("\xe0\xa0", 0),
	U("\xe2\x82", 0),
	U("\xf0\x90\x80", 0),
	U("\xf4\x8f\xbf", 0),
	U("\xc2"
	  "A",
	  0),
	U("\xe2\x82"
	  "A",
	  0),
	U("\xf0\x90\x80"
	  "A",
	  0),
	U("\xe2\x82\xc2\x80", 0),
	U("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"
	  "edited",
	  0),
};

static int utf8_vectors(void)
{
	uint8_t buf[64];

	for (size_t i = 0; i < sizeof(u8cases) / sizeof(u8cases[0]); i++) {
		const struct u8case *c = &u8cases[i];
		int got = ws_utf8_valid((const uint8_t *)c->s, c->n);

		if (got != c->ok || utf8_ref((const uint8_t *)c->s, c->n) !=
					    c->ok) {
			fprintf(stderr, "case %zu: got %d want %d\n", i, got,
				c->ok);
			check(0);
		}
		/* Behind ASCII long enough to take the word-at-a-time path,
		 * at every alignment, and with ASCII after it. */
		for (size_t pre = 0; pre <= 17; pre++) {
			memset(buf, 'x', sizeof(buf));
			memcpy(buf + pre, c->s, c->n);
			check_eq(ws_utf8_valid(buf, pre + c->n), c->ok);
			check_eq(ws_utf8_valid(buf, pre + c->n + 20), c->ok);
		}
	}
	/* Cut inside a character: invalid, even with the rest in memory. */
	for (size_t i = 0; i < sizeof(u8cases) / sizeof(u8cases[0]); i++) {
		const struct u8case *c = &u8cases[i];

		if (!c->ok)
			continue;
		for (size_t k = 0; k <= c->n; k++) {
			int boundary = k == c->n ||
				       ((uint8_t)c->s[k] & 0xc0) != 0x80;
			uint8_t *h = malloc(k ? k : 1);

			check(h != NULL);
			memcpy(h, c->s, k);
			check_eq(ws_utf8_valid((const uint8_t *)c->s, k),
				 boundary);
			check_eq(ws_utf8_valid(h, k), boundary);
			free(h);
		}
	}
	/* A bad byte anywhere in a long ASCII run. */
	for (size_t pos = 0; pos < 40; pos++) {
		memset(buf, 'a', 40);
		buf[pos] = 0x80;
		check_eq(ws_utf8_valid(buf, 40), 0);
		buf[pos] = 0x7f;
		check_eq(ws_utf8_valid(buf, 40), 1);
	}
	return 0;
}

/* Every sequence of up to three bytes, and four-byte leads with a spread
 * of tails, against the reference decoder. */
static int utf8_exhaustive(void)
{
	uint8_t b[4];

	for (uint32_t v = 0; v < 0x1000000; v++) {
		b[0] = (uint8_t)(v >> 16);
		b[1] = (uint8_t)(v >> 8);
		b[2] = (uint8_t)v;
		if (ws_utf8_valid(b, 3) != utf8_ref(b, 3)) {
			fprintf(stderr, "%02x %02x %02x\n", b[0], b[1], b[2]);
			check(0);
		}
		if (b[2] == 0 && ws_utf8_valid(b + 1, 2) != utf8_ref(b + 1, 2))
			check(0);
	}
	static const uint8_t tails[] = { 0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90,
					 0xbf, 0xc0, 0xc2, 0xff };
	for (unsigned l = 0xe0; l <= 0xff; l++)
		for (unsigned s = 0; s < 256; s++)
			for (size_t t = 0; t < sizeof(tails); t++)
				for (size_t u = 0; u < sizeof(tails); u++) {
					b[0] = (uint8_t)l;
					b[1] = (uint8_t)s;
					b[2] = tails[t];
					b[3] = tails[u];
					check_eq(ws_utf8_valid(b, 4),
						 utf8_ref(b, 4));
				}
	return 0;
}

static int handshake_accept(void)
{
	char out[WS_ACCEPT_LEN + 1];
	const char *key = "dGhlIHNhbXBsZSBub25jZQ==";

	memset(out, '#', sizeof(out));
	ws_accept_key(out, key, strlen(key));
	check(strcmp(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0);
	check_eq(ws_client_accept_ok(key, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
				     WS_ACCEPT_LEN), 1);
	check_eq(ws_client_accept_ok(key, "s3pPLMBiTxaQ9kYGzzhZRbK+xOp=",
				     WS_ACCEPT_LEN), 0);
	check_eq(ws_client_accept_ok(key, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
				     WS_ACCEPT_LEN - 1), 0);
	check_eq(ws_client_accept_ok(key, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo==",
				     WS_ACCEPT_LEN + 1), 0);
	check_eq(ws_client_accept_ok("dGhlIHNhbXBsZSBub25jZA==",
				     "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
				     WS_ACCEPT_LEN), 0);
	/* Only the first n key bytes count. */
	ws_accept_key(out, "dGhlIHNhbXBsZSBub25jZQ==trailing", 24);
	check(strcmp(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0);
	return 0;
}

static int handshake_key(void)
{
	uint8_t nonce[16];
	char key[WS_KEY_LEN + 1];

	memcpy(nonce, "the sample nonce", 16); /* RFC 6455 §4.1's example */

	memset(key, '#', sizeof(key));
	ws_client_key(key, nonce);
	check(strcmp(key, "dGhlIHNhbXBsZSBub25jZQ==") == 0);
	check_eq(ws_key_valid(key, WS_KEY_LEN), 1);

	for (int i = 0; i < 50; i++) {
		uint8_t r[16];

		fill_rnd(r, 16);
		ws_client_key(key, r);
		check_eq(strlen(key), WS_KEY_LEN);
		check_eq(ws_key_valid(key, WS_KEY_LEN), 1);
	}
	static const char *bad[] = {
		"dGhlIHNhbXBsZSBub25jZQ=",   /* 23 */
		"dGhlIHNhbXBsZSBub25jZQ===", /* 25 */
		"dGhlIHNhbXBsZSBub25jZQAA",  /* 18 bytes */
		"dGhlIHNhbXBsZSBub25jZQA=",  /* 17 bytes */
		"dGhlIHNhbXBsZSBub25jZR==",  /* trailing bits */
		"dGhlIHNhbXBsZSBub25jZQ=A",
		"dGhlIHNhbXBsZSBub25jZ-==",
		"dGhlIHNhbXBsZSBu b25jZQ=",
		"",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check_eq(ws_key_valid(bad[i], strlen(bad[i])), 0);
	return 0;
}

static int has(const char *p, size_t n, const char *s)
{
	return memmem(p, n, s, strlen(s)) != NULL;
}

static int handshake_request(void)
{
	char buf[512];
	const char *key = "dGhlIHNhbXBsZSBub25jZQ==";
	size_t n = ws_client_request(buf, sizeof(buf), "localhost:8300",
				     "/connect", key);

	check(n > 0 && n < sizeof(buf));
	check(memcmp(buf, "GET /connect HTTP/1.1\r\n", 23) == 0);
	check(has(buf, n, "\r\nHost: localhost:8300\r\n"));
	check(has(buf, n, "\r\nUpgrade: websocket\r\n"));
	check(has(buf, n, "\r\nConnection: Upgrade\r\n"));
	check(has(buf, n, "\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"));
	check(has(buf, n, "\r\nSec-WebSocket-Version: 13\r\n"));
	check(memcmp(buf + n - 4, "\r\n\r\n", 4) == 0);
	check(!has(buf, n - 2, "\r\n\r\n"));
	/* Exactly n bytes fit; anything less is 0. */
	char exact[512];
	memset(exact, '#', sizeof(exact));
	check_eq(ws_client_request(exact, n, "localhost:8300", "/connect",
				   key), n);
	check(memcmp(exact, buf, n) == 0);
	check(exact[n] == '#');
	for (size_t cap = 0; cap < n; cap++) {
		memset(exact, '#', sizeof(exact));
		check_eq(ws_client_request(exact, cap, "localhost:8300",
					   "/connect", key), 0);
		check(exact[cap] == '#'); /* nothing past cap */
	}
	/* Empty path means "/". */
	n = ws_client_request(buf, sizeof(buf), "example.com", "", key);
	check(memcmp(buf, "GET / HTTP/1.1\r\nHost: example.com\r\n", 35) == 0);
	return 0;
}

static int handshake_response(void)
{
	char buf[256];
	const char *key = "dGhlIHNhbXBsZSBub25jZQ==";
	size_t n = ws_server_response(buf, sizeof(buf), key, strlen(key));

	check(n > 0 && n < sizeof(buf));
	check(memcmp(buf, "HTTP/1.1 101 Switching Protocols\r\n", 34) == 0);
	check(has(buf, n, "\r\nUpgrade: websocket\r\n"));
	check(has(buf, n, "\r\nConnection: Upgrade\r\n"));
	check(has(buf, n,
		  "\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
	check(memcmp(buf + n - 4, "\r\n\r\n", 4) == 0);
	check(!has(buf, n - 2, "\r\n\r\n"));
	char exact[256];
	memset(exact, '#', sizeof(exact));
	check_eq(ws_server_response(exact, n, key, strlen(key)), n);
	check(memcmp(exact, buf, n) == 0);
	check(exact[n] == '#');
	for (size_t cap = 0; cap < n; cap++) {
		memset(exact, '#', sizeof(exact));
		check_eq(ws_server_response(exact, cap, key, strlen(key)), 0);
		check(exact[cap] == '#'); /* nothing past cap */
	}
	return 0;
}

static struct ws_frame mkframe(int fin, int op, const char *s)
{
	struct ws_frame f;

	memset(&f, 0, sizeof(f));
	f.fin = (uint8_t)fin;
	f.opcode = (uint8_t)op;
	f.payload = (uint8_t *)s;
	f.payload_len = strlen(s);
	return f;
}

static int msg_reassembly(void)
{
	uint8_t store[16], *out = NULL, op = 0;
	size_t len = 0;
	struct ws_msg m = { store, sizeof(store), 0, 0 };
	struct ws_frame f;
	char hel[] = "Hel", lo[] = "lo", ping[] = "p", whole[] = "unfragmented";

	/* Unfragmented: in place, no copy, and not limited by cap. */
	f = mkframe(1, WS_OP_TEXT, whole);
	check_eq(ws_msg_feed(&m, &f, &out, &len, &op), WS_MSG_DATA);
	check(out == (uint8_t *)whole);
	check_eq(len, 12);
	check_eq(op, WS_OP_TEXT);
	struct ws_msg tiny = { store, 2, 0, 0 };
	check_eq(ws_msg_feed(&tiny, &f, &out, &len, &op), WS_MSG_DATA);

	/* §5.7 fragments with a ping between them (§5.4). */
	f = mkframe(0, WS_OP_TEXT, hel);
	check_eq(ws_msg_feed(&m, &f, &out, &len, &op), WS_MSG_NONE);
	check_eq(m.opcode, WS_OP_TEXT);
	check_eq(m.len, 3);
	f = mkframe(1, WS_OP_PING, ping);
	check_eq(ws_msg_feed(&m, &f, &out, &len, &op), WS_MSG_CONTROL);
	check_eq(m.len, 3);
	memset(hel, '#', 3); /* the fragment was copied */
	f = mkframe(1, WS_OP_CONT, lo);
	op = 0;
	check_eq(ws_msg_feed(&m, &f, &out, &len, &op), WS_MSG_DATA);
	check(out == store);
	check_span(out, len, "Hello");
	check_eq(op, WS_OP_TEXT);
	check_eq(m.opcode, 0);
	check_eq(m.len, 0);

	/* Three binary fragments, the middle one empty, then a new one. */
	f = mkframe(0, WS_OP_BINARY, "ab");
	check_eq(ws_msg_feed(&m, &f, &out, &len, &op), WS_MSG_NONE);
	f = mkframe(0, WS_OP_CONT, "");
	check_eq(ws_msg_feed(&m, &f, &out, &len, &op), WS_MSG_NONE);
	f = mkframe(1, WS_OP_CONT, "cd");
	check_eq(ws_msg_feed(&m, &f, &out, &len, &op), WS_MSG_DATA);
	check_span(out, len, "abcd");
	check_eq(op, WS_OP_BINARY);
	/* Empty fragmented message. */
	f = mkframe(0, WS_OP_TEXT, "");
	check_eq(ws_msg_feed(&m, &f, &out, &len, &op), WS_MSG_NONE);
	f = mkframe(1, WS_OP_CONT, "");
	check_eq(ws_msg_feed(&m, &f, &out, &len, &op), WS_MSG_DATA);
	check_eq(len, 0);
	/* Close passes through too. */
	f = mkframe(1, WS_OP_CLOSE, "\x03\xe8");
	check_eq(ws_msg_feed(&m, &f, &out, &len, &op), WS_MSG_CONTROL);
	return 0;
}

static int msg_errors(void)
{
	uint8_t store[8], *out = NULL, op = 0;
	size_t len = 0;
	struct ws_frame f;

	/* Continuation without a start, with and without FIN. */
	struct ws_msg m = { store, sizeof(store), 0, 0 };
	f = mkframe(1, WS_OP_CONT, "x");
	check_eq(ws_msg_feed(&m, &f, &out, &len, &op), WS_MSG_E_SEQ);
	f = mkframe(0, WS_OP_CONT, "x");
	check_eq(ws_msg_feed(&m, &f, &out, &len, &op), WS_MSG_E_SEQ);
	/* ... and after a message completed. */
	f = mkframe(0, WS_OP_TEXT, "a");
	check_eq(ws_msg_feed(&m, &f, &out, &len, &op), WS_MSG_NONE);
	f = mkframe(1, WS_OP_CONT, "b");
	check_eq(ws_msg_feed(&m, &f, &out, &len, &op), WS_MSG_DATA);
	f = mkframe(1, WS_OP_CONT, "c");
	check_eq(ws_msg_feed(&m, &f, &out, &len, &op), WS_MSG_E_SEQ);

	/* A new start mid-message, fragmented or whole, either type. */
	for (int op2 = WS_OP_TEXT; op2 <= WS_OP_BINARY; op2++) {
		for (int fin = 0; fin <= 1; fin++) {
			struct ws_msg m2 = { store, sizeof(store), 0, 0 };

			f = mkframe(0, WS_OP_TEXT, "a");
			check_eq(ws_msg_feed(&m2, &f, &out, &len, &op),
				 WS_MSG_NONE);
			f = mkframe(fin, op2, "b");
			check_eq(ws_msg_feed(&m2, &f, &out, &len, &op),
				 WS_MSG_E_SEQ);
		}
	}

	/* Fragments beyond cap: exactly cap is fine, one more is not. */
	struct ws_msg m3 = { store, sizeof(store), 0, 0 };
	f = mkframe(0, WS_OP_BINARY, "1234");
	check_eq(ws_msg_feed(&m3, &f, &out, &len, &op), WS_MSG_NONE);
	f = mkframe(1, WS_OP_CONT, "5678");
	check_eq(ws_msg_feed(&m3, &f, &out, &len, &op), WS_MSG_DATA);
	check_span(out, len, "12345678");
	f = mkframe(0, WS_OP_BINARY, "1234");
	check_eq(ws_msg_feed(&m3, &f, &out, &len, &op), WS_MSG_NONE);
	f = mkframe(0, WS_OP_CONT, "5678");
	check_eq(ws_msg_feed(&m3, &f, &out, &len, &op), WS_MSG_NONE);
	f = mkframe(1, WS_OP_CONT, "9");
	check_eq(ws_msg_feed(&m3, &f, &out, &len, &op), WS_MSG_E_TOO_BIG);
	/* A first fragment already over cap. */
	struct ws_msg m4 = { store, 3, 0, 0 };
	f = mkframe(0, WS_OP_TEXT, "1234");
	check_eq(ws_msg_feed(&m4, &f, &out, &len, &op), WS_MSG_E_TOO_BIG);
	check_eq(m4.opcode, 0); /* no message was started */
	/* No storage at all: fragmented messages cannot be taken. */
	struct ws_msg m5 = { NULL, 0, 0, 0 };
	f = mkframe(0, WS_OP_TEXT, "1");
	check_eq(ws_msg_feed(&m5, &f, &out, &len, &op), WS_MSG_E_TOO_BIG);
	return 0;
}

/* Parsed frames straight from the wire into ws_msg_feed. */
static int msg_from_wire(void)
{
	uint8_t s[64], store[16], *out = NULL, op = 0;
	size_t n = 0, len = 0, at = 0;
	struct ws_msg m = { store, sizeof(store), 0, 0 };
	int deliveries = 0, controls = 0;

	n = cat(s, n, ex_frag1, sizeof(ex_frag1));
	n = cat(s, n, ex_ping, sizeof(ex_ping));
	n = cat(s, n, ex_frag2, sizeof(ex_frag2));
	n = cat(s, n, ex_text, sizeof(ex_text));
	while (at < n) {
		struct ws_frame f;
		long k = ws_frame_parse(&f, s + at, n - at, WS_ROLE_CLIENT,
					125);
		int r;

		check(k > 0);
		r = ws_msg_feed(&m, &f, &out, &len, &op);
		check(r >= 0);
		if (r == WS_MSG_DATA) {
			check_span(out, len, "Hello");
			check_eq(op, WS_OP_TEXT);
			deliveries++;
		}
		controls += r == WS_MSG_CONTROL;
		at += (size_t)k;
	}
	check_eq(deliveries, 2);
	check_eq(controls, 1);
	return 0;
}

TEST_MAIN(T(rfc_single_unmasked), T(rfc_single_masked), T(rfc_fragmented),
	  T(rfc_ping_pong), T(rfc_binary_lengths), T(round_trips), T(prepend),
	  T(back_to_back), T(mask_violations), T(reserved), T(control_rules),
	  T(lengths), T(too_big), T(stream_splits), T(stream_big),
	  T(mask_fast_path), T(close_parse), T(close_encode), T(utf8_vectors),
	  T(utf8_exhaustive), T(handshake_accept), T(handshake_key),
	  T(handshake_request), T(handshake_response), T(msg_reassembly),
	  T(msg_errors), T(msg_from_wire))
