/*
 * utf8: UTF-8 well-formedness. See include/utf8.h.
 */
#include "utf8.h"

#include <string.h>

/* see utf8.h */
size_t utf8_seq(const uint8_t *p, size_t n)
{
	uint8_t c = p[0], lo = 0x80, hi = 0xbf;
	size_t len;

	if (c < 0x80)
		return 1;
	/* The lead byte fixes the length and the range of the second byte,
	 * which is where overlongs (E0, F0), surrogates (ED) and code points
	 * above U+10FFFF (F4) are excluded. Later bytes are plain 80..BF. */
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		return 0; /* continuation, C0/C1 overlong, F5..FF */
	}
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

/* see utf8.h */
int utf8_valid(const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t len;

		/* Chat text is mostly ASCII: skip it a word at a time. */
		if (n - i >= 8) {
			uint64_t w;

			memcpy(&w, p + i, 8);
			if (!(w & 0x8080808080808080ull)) {
				i += 8;
				continue;
			}
		}
		len = utf8_seq(p + i, n - i);
		if (!len)
			return 0;
		i += len;
	}
	return 1;
}
