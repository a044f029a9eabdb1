/*
 * The body of fuzz_ws_frame_server.c and fuzz_ws_frame_client.c, which
 * define FUZZ_WS_ROLE and include this file: ws_frame_parse in one role on
 * a stream of frames, then ws_msg_feed reassembly (include/ws.h).
 *
 * Input: byte 0 picks max_payload, byte 1 the reassembly capacity, the
 * rest is the byte stream from the peer. Invariants:
 * - a parsed frame's header_len + payload_len is the return, the header is
 *   minimal (ws_header_len), the role's mask rule and the control-frame
 *   rules hold, and encoding the frame again (ws_frame_encode and
 *   ws_frame_prepend, with the same mask) gives back the input bytes;
 * - a prefix of a frame is WS_PARTIAL; an error shows from the first 10
 *   bytes at most (before any mask or payload arrives);
 * - the stream read in two parts at an input-chosen split (as a socket
 *   would deliver it) yields the same frames and the same final status;
 * - ws_msg_feed agrees with a small model of RFC 6455 §5.4 sequencing and
 *   returns the concatenated fragments.
 */
#include "fuzz.h"
#include "ws.h"

#define MAX_EVENTS 32800 /* frames are >= 2 bytes; inputs are cut at 64 KiB */

struct log {
	long r[MAX_EVENTS];      /* ws_frame_parse results, in order */
	uint8_t fin[MAX_EVENTS], op[MAX_EVENTS];
	size_t n;
	uint8_t *bytes;          /* payloads, concatenated */
	size_t nbytes;
};

static uint64_t pick_max(uint8_t b)
{
	/* Mostly small limits, so that TOO_BIG is reached often. */
	return b & 0x80 ? (uint64_t)1 << 20 : (uint64_t)(b & 0x7f) * 3;
}

static void log_add(struct log *lg, long r, const struct ws_frame *f)
{
	FUZZ_ASSERT(lg->n < MAX_EVENTS);
	lg->r[lg->n] = r;
	lg->fin[lg->n] = r > 0 ? f->fin : 0;
	lg->op[lg->n] = r > 0 ? f->opcode : 0;
	lg->n++;
	if (r > 0 && f->payload_len) {
		memcpy(lg->bytes + lg->nbytes, f->payload,
		       (size_t)f->payload_len);
		lg->nbytes += (size_t)f->payload_len;
	}
}

/* Parse frames from buf[0..n) into lg; returns the bytes consumed, or -1
 * after an error (logged). */
static long parse_all(struct log *lg, uint8_t *buf, size_t n, uint64_t max)
{
	size_t off = 0;

	while (off < n) {
		struct ws_frame f;
		long r = ws_frame_parse(&f, buf + off, n - off, FUZZ_WS_ROLE,
					max);

		if (r == WS_PARTIAL)
			break;
		log_add(lg, r, &f);
		if (r < 0)
			return -1;
		off += (size_t)r;
	}
	return (long)off;
}

static void check_frame(const struct ws_frame *f, long r, const uint8_t *orig,
			uint8_t *cur, size_t avail, uint64_t max)
{
	uint8_t *enc, *room;
	size_t cap, n = (size_t)f->payload_len;
	const uint8_t *mask = f->masked ? f->mask : NULL;

	FUZZ_ASSERT(r > 0 && (size_t)r <= avail);
	FUZZ_ASSERT((uint64_t)r == f->header_len + f->payload_len);
	FUZZ_ASSERT(f->header_len >= 2 && f->header_len <= WS_HDR_MAX);
	FUZZ_ASSERT(f->header_len == ws_header_len(f->payload_len, f->masked));
	FUZZ_ASSERT(f->masked == (FUZZ_WS_ROLE == WS_ROLE_SERVER));
	FUZZ_ASSERT(f->fin <= 1);
	FUZZ_ASSERT(f->opcode <= WS_OP_BINARY ||
		    (f->opcode >= WS_OP_CLOSE && f->opcode <= WS_OP_PONG));
	FUZZ_ASSERT(!(f->opcode & 8) || (f->fin && f->payload_len <= 125));
	FUZZ_ASSERT(f->payload_len <= max);
	FUZZ_ASSERT(f->payload == cur + f->header_len);

	/* Encoding the frame again reproduces the wire bytes. */
	cap = (size_t)r;
	enc = malloc(cap);
	if (!enc)
		abort();
	FUZZ_ASSERT(ws_frame_encode(enc, cap, f->fin, f->opcode, f->payload, n,
				    mask) == cap);
	FUZZ_ASSERT(!memcmp(enc, orig, cap));
	if (cap > 0)
		FUZZ_ASSERT(ws_frame_encode(enc, cap - 1, f->fin, f->opcode,
					    f->payload, n, mask) == 0);
	free(enc);

	room = malloc(WS_HDR_MAX + n + 1);
	if (!room)
		abort();
	memcpy(room + WS_HDR_MAX, f->payload, n);
	enc = ws_frame_prepend(room + WS_HDR_MAX, n, f->fin, f->opcode, mask);
	FUZZ_ASSERT(enc == room + WS_HDR_MAX - f->header_len);
	FUZZ_ASSERT(!memcmp(enc, orig, cap));
	free(room);
}

/* The model of §5.4 reassembly next to ws_msg_feed. */
struct model {
	uint8_t op;     /* opcode of the message in progress, 0 if none */
	uint8_t *buf;   /* its bytes so far */
	size_t len, cap;
};

/* Returns 0 to go on, 1 when the connection must close. */
static int feed(struct ws_msg *m, struct model *md, const struct ws_frame *f)
{
	uint8_t *out = NULL, op = 0xff;
	size_t out_len = 0, n = (size_t)f->payload_len;
	int st = ws_msg_feed(m, f, &out, &out_len, &op);

	if (f->opcode & 8) {
		FUZZ_ASSERT(st == WS_MSG_CONTROL);
		return 0;
	}
	if (f->opcode == WS_OP_CONT && md->op == 0) {
		FUZZ_ASSERT(st == WS_MSG_E_SEQ);
		return 1;
	}
	if (f->opcode != WS_OP_CONT && md->op != 0) {
		FUZZ_ASSERT(st == WS_MSG_E_SEQ);
		return 1;
	}
	if (f->opcode != WS_OP_CONT && f->fin) {
		/* Unfragmented: handed out in place, whatever the capacity. */
		FUZZ_ASSERT(st == WS_MSG_DATA);
		FUZZ_ASSERT(out == f->payload && out_len == n);
		FUZZ_ASSERT(op == f->opcode);
		return 0;
	}
	if (n > md->cap - md->len) {
		FUZZ_ASSERT(st == WS_MSG_E_TOO_BIG);
		return 1;
	}
	if (f->opcode != WS_OP_CONT) {
		md->op = f->opcode;
		md->len = 0;
	}
	memcpy(md->buf + md->len, f->payload, n);
	md->len += n;
	if (!f->fin) {
		FUZZ_ASSERT(st == WS_MSG_NONE);
		return 0;
	}
	FUZZ_ASSERT(st == WS_MSG_DATA);
	FUZZ_ASSERT(op == md->op);
	FUZZ_ASSERT(out_len == md->len && !memcmp(out, md->buf, md->len));
	FUZZ_ASSERT(out_len <= m->cap);
	md->op = 0;
	md->len = 0;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct log one, two;
	uint8_t *orig, *w, *scratch, *rbuf;
	uint64_t max, h;
	struct ws_msg m;
	struct model md;
	size_t n, off = 0, split;
	int msg_stop = 0;
	long c1;

	if (size < 2 || size > 65536)
		return 0;
	max = pick_max(data[0]);
	n = size - 2;
	h = fuzz_hash(data, size);
	orig = (uint8_t *)fuzz_dup(data + 2, n, 0);
	w = (uint8_t *)fuzz_dup(data + 2, n, 0);
	scratch = malloc(n + 1);
	memset(&m, 0, sizeof(m));
	memset(&md, 0, sizeof(md));
	m.cap = md.cap = (size_t)data[1] * 4;
	m.buf = malloc(m.cap ? m.cap : 1);
	md.buf = malloc(md.cap ? md.cap : 1);
	one.bytes = malloc(n + 1);
	two.bytes = malloc(n + 1);
	if (!scratch || !m.buf || !md.buf || !one.bytes || !two.bytes)
		abort();
	one.n = one.nbytes = two.n = two.nbytes = 0;

	/* One frame after another, as wses_input and ws_input do. */
	while (off < n) {
		struct ws_frame f, g;
		size_t avail = n - off, k;
		long r, p;

		r = ws_frame_parse(&f, w + off, avail, FUZZ_WS_ROLE, max);
		FUZZ_ASSERT(r > 0 || (r <= WS_PARTIAL && r >= WS_E_TOO_BIG));

		/* A prefix: PARTIAL, or the same error. */
		k = (size_t)(h % avail);
		memcpy(scratch, orig + off, k);
		p = ws_frame_parse(&g, scratch, k, FUZZ_WS_ROLE, max);
		if (r > 0)
			FUZZ_ASSERT((size_t)r > k ? p == WS_PARTIAL : p == r);
		else
			FUZZ_ASSERT(p == WS_PARTIAL || p == r);
		if (r < WS_PARTIAL) {
			/* Errors show in the header, before mask and payload. */
			k = avail < 10 ? avail : 10;
			memcpy(scratch, orig + off, k);
			FUZZ_ASSERT(ws_frame_parse(&g, scratch, k, FUZZ_WS_ROLE,
						   max) == r);
		}
		if (r == WS_PARTIAL)
			break;
		if (r > 0)
			check_frame(&f, r, orig + off, w + off, avail, max);
		log_add(&one, r, &f);
		if (r < 0)
			break;
		if (feed(&m, &md, &f)) {
			msg_stop = 1;
			break;
		}
		off += (size_t)r;
		h = h * 6364136223846793005ull + 1;
	}

	/* The same stream in two reads. */
	rbuf = (uint8_t *)fuzz_dup(data + 2, n, 0);
	split = (size_t)(fuzz_hash(data + 1, size - 1) % (n + 1));
	c1 = parse_all(&two, rbuf, split, max);
	if (c1 >= 0) {
		/* Keep the unparsed tail, append the second read. */
		memmove(rbuf, rbuf + c1, split - (size_t)c1);
		memcpy(rbuf + split - (size_t)c1, data + 2 + split, n - split);
		(void)parse_all(&two, rbuf, n - (size_t)c1, max);
	}
	free(rbuf);
	if (msg_stop) {
		/* The one-shot loop also stopped at a reassembly error:
		 * the frames it saw are a prefix of the others. */
		FUZZ_ASSERT(two.n >= one.n && two.nbytes >= one.nbytes);
	} else {
		FUZZ_ASSERT(two.n == one.n && two.nbytes == one.nbytes);
	}
	for (size_t i = 0; i < one.n; i++) {
		FUZZ_ASSERT(one.r[i] == two.r[i]);
		FUZZ_ASSERT(one.fin[i] == two.fin[i]);
		FUZZ_ASSERT(one.op[i] == two.op[i]);
	}
	FUZZ_ASSERT(!memcmp(one.bytes, two.bytes, one.nbytes));

	free(two.bytes);
	free(one.bytes);
	free(md.buf);
	free(m.buf);
	free(scratch);
	free(w);
	free(orig);
	return 0;
}
