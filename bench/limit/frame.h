/*
 * bench/limit/frame.h: WebSocket frame boundaries in a byte stream, and
 * nothing else (RFC 6455 5.2), for the reading floor (limit --reads) and
 * its sink (sink.c). Both only need to know where each frame ends: the
 * walker reads each header, skips the payload unread and counts the frames
 * completed, whether masked (client to server) or not. Header only: the
 * two programs are built standalone.
 */
#ifndef BENCH_LIMIT_FRAME_H
#define BENCH_LIMIT_FRAME_H

#include <stddef.h>
#include <stdint.h>

struct fw {
	uint64_t skip;     /* payload bytes of the current frame still to come */
	uint8_t hdr[14];   /* a header split across reads, so far */
	uint8_t hn;        /* bytes in hdr */
};

/* Bytes of the header whose second byte is b1. */
static inline unsigned fw_hdr_len(uint8_t b1)
{
	unsigned len7 = b1 & 0x7f;

	return 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + (b1 & 0x80 ? 4 : 0);
}

static inline uint64_t fw_payload_len(const uint8_t *h)
{
	unsigned len7 = h[1] & 0x7f;
	uint64_t n = 0;

	if (len7 < 126)
		return len7;
	if (len7 == 126)
		return (uint64_t)h[2] << 8 | h[3];
	for (int i = 0; i < 8; i++)
		n = n << 8 | h[2 + i];
	return n;
}

/* Feed n more bytes of the stream; returns the frames they completed. */
static inline uint64_t fw_feed(struct fw *w, const uint8_t *p, size_t n)
{
	const uint8_t *end = p + n;
	uint64_t frames = 0;

	while (p < end) {
		size_t left = (size_t)(end - p);

		if (w->skip) {
			size_t k = w->skip < left ? (size_t)w->skip : left;

			w->skip -= k;
			p += k;
			if (!w->skip)
				frames++;
			continue;
		}
		if (!w->hn && left >= 2 && left >= fw_hdr_len(p[1])) {
			/* The common case: the whole header is here. */
			w->skip = fw_payload_len(p);
			p += fw_hdr_len(p[1]);
		} else {
			/* A header split across reads: gather it. */
			w->hdr[w->hn++] = *p++;
			if (w->hn < 2 || w->hn < fw_hdr_len(w->hdr[1]))
				continue;
			w->skip = fw_payload_len(w->hdr);
			w->hn = 0;
		}
		if (!w->skip)
			frames++;
	}
	return frames;
}

#endif
