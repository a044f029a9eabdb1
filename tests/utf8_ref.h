/*
 * utf8_ref: a straightforward UTF-8 decoder, code point by code point,
 * that rejects what RFC 3629 excludes (overlong forms, surrogates, above
 * U+10FFFF). The unit tests and the fuzz targets hold src/utf8.c against
 * it; it is written differently on purpose.
 */
#ifndef ESMELOAD_TEST_UTF8_REF_H
#define ESMELOAD_TEST_UTF8_REF_H

#include <stddef.h>
#include <stdint.h>

static inline int utf8_ref(const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint32_t c = p[i], min;
		size_t len;

		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			len = 2, c &= 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			len = 3, c &= 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			len = 4, c &= 0x07, min = 0x10000;
		} else {
			return 0;
		}
		if (n - i < len)
			return 0;
		for (size_t k = 1; k < len; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			c = c << 6 | (p[i + k] & 0x3f);
		}
		if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return 0;
		i += len;
	}
	return 1;
}

#endif
