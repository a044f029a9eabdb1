/*
 * b64: base64 and base64url encoding and strict decoding.
 * See include/b64.h for the contract.
 *
 * IMPLEMENTATION NOTES
 * Decoding is strict on purpose: JWS signatures and WebSocket keys are
 * compared as strings elsewhere, so accepting two spellings of the same
 * bytes (non-zero trailing bits, stray padding, whitespace) would let a
 * token or key be mangled without the decoder noticing.
 */
#include "b64.h"

#include <errno.h>
#include <stdint.h>

static const char std_alpha[64] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alpha[64] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Encodes n bytes; pads with '=' when pad is set. Returns characters written. */
static size_t encode(char *dst, const uint8_t *s, size_t n,
		     const char alpha[64], int pad)
{
	char *d = dst;
	size_t i = 0;

	for (; n - i >= 3; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 |
			     s[i + 2];

		*d++ = alpha[v >> 18];
		*d++ = alpha[(v >> 12) & 63];
		*d++ = alpha[(v >> 6) & 63];
		*d++ = alpha[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)s[i] << 16;

		*d++ = alpha[v >> 18];
		*d++ = alpha[(v >> 12) & 63];
		if (pad) {
			*d++ = '=';
			*d++ = '=';
		}
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;

		*d++ = alpha[v >> 18];
		*d++ = alpha[(v >> 12) & 63];
		*d++ = alpha[(v >> 6) & 63];
		if (pad)
			*d++ = '=';
	}
	return (size_t)(d - dst);
}

size_t b64_encode(char *dst, const void *src, size_t n)
{
	return encode(dst, src, n, std_alpha, 1);
}

size_t b64url_encode(char *dst, const void *src, size_t n)
{
	return encode(dst, src, n, url_alpha, 0);
}

/*
 * Value of one character, or -1. The two alphabets differ only in the last
 * two symbols, so ranges are shared and the 62/63 pair is chosen by url.
 */
static int sym(unsigned char c, int url)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (url ? '-' : '+'))
		return 62;
	if (c == (url ? '_' : '/'))
		return 63;
	return -1;
}

/* Decodes n unpadded characters (n % 4 != 1 already checked). */
static ssize_t decode(uint8_t *dst, size_t cap, const char *src, size_t n,
		      int url)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t rem = n % 4, out = n / 4 * 3 + (rem ? rem - 1 : 0);
	size_t i = 0, o = 0;

	if (out > cap)
		return -ENOSPC;
	for (; n - i >= 4; i += 4) {
		int a = sym(s[i], url), b = sym(s[i + 1], url);
		int c = sym(s[i + 2], url), d = sym(s[i + 3], url);

		if ((a | b | c | d) < 0)
			return -EINVAL;
		uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 |
			     (uint32_t)c << 6 | (uint32_t)d;
		dst[o++] = (uint8_t)(v >> 16);
		dst[o++] = (uint8_t)(v >> 8);
		dst[o++] = (uint8_t)v;
	}
	if (rem) {
		int a = sym(s[i], url), b = sym(s[i + 1], url);
		int c = rem == 3 ? sym(s[i + 2], url) : 0;

		if ((a | b | c) < 0)
			return -EINVAL;
		uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 |
			     (uint32_t)c << 6;
		/* Bits below the last whole byte must be zero (§3.5). */
		if (rem == 2 ? (v & 0xffff) : (v & 0xff))
			return -EINVAL;
		dst[o++] = (uint8_t)(v >> 16);
		if (rem == 3)
			dst[o++] = (uint8_t)(v >> 8);
	}
	return (ssize_t)o;
}

ssize_t b64url_decode(void *dst, size_t cap, const char *src, size_t n)
{
	if (n % 4 == 1)
		return -EINVAL;
	/* '=' is outside the url alphabet, so sym() rejects any padding. */
	return decode(dst, cap, src, n, 1);
}

ssize_t b64_decode(void *dst, size_t cap, const char *src, size_t n)
{
	if (n % 4 != 0)
		return -EINVAL;
	/*
	 * Strip at most two '='; any other '=' is left in the data where
	 * sym() rejects it. With n % 4 == 0 the stripped length then has
	 * remainder 2 or 3, never the impossible 1.
	 */
	if (n > 0 && src[n - 1] == '=') {
		n--;
		if (src[n - 1] == '=')
			n--;
	}
	return decode(dst, cap, src, n, 0);
}
