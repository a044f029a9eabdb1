/* Unit tests for src/b64.c: RFC 4648 §10 vectors, round trips, rejections. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "b64.h"
#include "test.h"

/*
 * Decode from an exact-size heap copy so ASan reports any read past n, into
 * an exact-size heap buffer so it reports any write past cap.
 */
static ssize_t dec(int url, size_t cap, const char *src, size_t n)
{
	char *s = malloc(n ? n : 1);
	uint8_t *d = malloc(cap ? cap : 1);
	ssize_t r;

	if (!s || !d)
		abort();
	memcpy(s, src, n);
	r = url ? b64url_decode(d, cap, s, n) : b64_decode(d, cap, s, n);
	free(s);
	free(d);
	return r;
}

struct vec {
	const char *raw, *std, *url;
};

/* RFC 4648 §10, with the unpadded url form alongside. */
static const struct vec rfc_vecs[] = {
	{ "", "", "" },
	{ "f", "Zg==", "Zg" },
	{ "fo", "Zm8=", "Zm8" },
	{ "foo", "Zm9v", "Zm9v" },
	{ "foob", "Zm9vYg==", "Zm9vYg" },
	{ "fooba", "Zm9vYmE=", "Zm9vYmE" },
	{ "foobar", "Zm9vYmFy", "Zm9vYmFy" },
};

static int rfc4648_encode(void)
{
	for (size_t i = 0; i < sizeof(rfc_vecs) / sizeof(rfc_vecs[0]); i++) {
		const struct vec *v = &rfc_vecs[i];
		size_t n = strlen(v->raw);
		char out[16];

		memset(out, '#', sizeof(out));
		check_eq(b64_encode(out, v->raw, n), B64_ENCODED_LEN(n));
		check_span(out, B64_ENCODED_LEN(n), v->std);
		check(out[B64_ENCODED_LEN(n)] == '#'); /* no NUL, no overrun */

		memset(out, '#', sizeof(out));
		check_eq(b64url_encode(out, v->raw, n), B64URL_ENCODED_LEN(n));
		check_span(out, B64URL_ENCODED_LEN(n), v->url);
		check(out[B64URL_ENCODED_LEN(n)] == '#');
	}
	return 0;
}

static int rfc4648_decode(void)
{
	for (size_t i = 0; i < sizeof(rfc_vecs) / sizeof(rfc_vecs[0]); i++) {
		const struct vec *v = &rfc_vecs[i];
		size_t n = strlen(v->raw);
		char out[16];

		check_eq(b64_decode(out, n, v->std, strlen(v->std)), n);
		check(memcmp(out, v->raw, n) == 0);
		check_eq(b64url_decode(out, n, v->url, strlen(v->url)), n);
		check(memcmp(out, v->raw, n) == 0);
		/* One byte short of room is ENOSPC, not a partial write. */
		if (n) {
			check_eq(b64_decode(out, n - 1, v->std,
					    strlen(v->std)), -ENOSPC);
			check_eq(b64url_decode(out, n - 1, v->url,
					       strlen(v->url)), -ENOSPC);
		}
	}
	return 0;
}

/* The two alphabets differ exactly in symbols 62 and 63. */
static int alphabets(void)
{
	const uint8_t raw[] = { 0xfb, 0xff, 0xbf, 0x00 };
	char out[8];
	uint8_t back[4];

	check_eq(b64_encode(out, raw, 3), 4);
	check_span(out, 4, "+/+/");
	check_eq(b64url_encode(out, raw, 3), 4);
	check_span(out, 4, "-_-_");
	check_eq(b64_encode(out, raw, 4), 8);
	check_span(out, 8, "+/+/AA==");
	check_eq(b64url_encode(out, raw, 4), 6);
	check_span(out, 6, "-_-_AA");

	check_eq(b64_decode(back, 4, "+/+/AA==", 8), 4);
	check(memcmp(back, raw, 4) == 0);
	check_eq(b64url_decode(back, 4, "-_-_AA", 6), 4);
	check(memcmp(back, raw, 4) == 0);
	/* Each alphabet refuses the other's symbols. */
	check_eq(b64_decode(back, 4, "-_-_", 4), -EINVAL);
	check_eq(b64url_decode(back, 4, "+/+/", 4), -EINVAL);
	return 0;
}

static uint32_t rng = 12345;
static uint8_t rnd8(void)
{
	rng = rng * 1103515245u + 12345u;
	return (uint8_t)(rng >> 16);
}

static int round_trips(void)
{
	uint8_t raw[300], back[300];
	char enc[B64_ENCODED_LEN(300)];

	for (size_t n = 0; n <= sizeof(raw); n++) {
		for (size_t i = 0; i < n; i++)
			raw[i] = rnd8();

		size_t e = b64_encode(enc, raw, n);
		check_eq(e, B64_ENCODED_LEN(n));
		check_eq(b64_decode(back, n, enc, e), n);
		check(n == 0 || memcmp(back, raw, n) == 0);

		e = b64url_encode(enc, raw, n);
		check_eq(e, B64URL_ENCODED_LEN(n));
		for (size_t i = 0; i < e; i++)
			check(enc[i] != '=' && enc[i] != '+' && enc[i] != '/');
		check_eq(b64url_decode(back, n, enc, e), n);
		check(n == 0 || memcmp(back, raw, n) == 0);
	}
	/* Every byte value in every position of a 3-byte group. */
	for (int v = 0; v < 256; v++) {
		for (int pos = 0; pos < 3; pos++) {
			uint8_t r[3] = { 0x55, 0xaa, 0x0f };

			r[pos] = (uint8_t)v;
			for (size_t n = 1; n <= 3; n++) {
				size_t e = b64url_encode(enc, r, n);
				check_eq(b64url_decode(back, 3, enc, e), n);
				check(memcmp(back, r, n) == 0);
				e = b64_encode(enc, r, n);
				check_eq(b64_decode(back, 3, enc, e), n);
				check(memcmp(back, r, n) == 0);
			}
		}
	}
	return 0;
}

static int url_rejects(void)
{
	uint8_t out[64];
	static const char *bad[] = {
		"Z",        /* n % 4 == 1 */
		"Zm9vY",    /* n % 4 == 1 */
		"Zg==",     /* padding is not allowed in base64url */
		"Zg=",
		"Zm8=",
		"Zh",       /* trailing bits 0001 */
		"Zm9",      /* trailing bits 01 */
		"Zm+v",     /* standard alphabet */
		"Zm/v",
		"Zm9v Yg",  /* whitespace */
		"Zm9v\nYg",
		"Zm9v.mFy",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (dec(1, sizeof(out), bad[i], strlen(bad[i])) != -EINVAL) {
			fprintf(stderr, "accepted \"%s\"\n", bad[i]);
			check(0);
		}
	}
	/* Every byte outside the alphabet, at every position of a group. */
	for (int c = 0; c < 256; c++) {
		int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			 (c >= '0' && c <= '9') || c == '-' || c == '_';
		for (int pos = 0; pos < 4; pos++) {
			char s[9] = "AAAAAAAA";

			s[4 + pos] = (char)c;
			/* Last position of a 4-group carries no trailing
			 * bits, so every alphabet symbol decodes. */
			check_eq(b64url_decode(out, sizeof(out), s, 8) == 6,
				 ok);
			if (!ok)
				check_eq(b64url_decode(out, sizeof(out), s, 8),
					 -EINVAL);
		}
	}
	/* The NUL byte is data, not a terminator. */
	check_eq(b64url_decode(out, sizeof(out), "Zm9v\0Zm9", 8), -EINVAL);
	/* Only n characters count: valid ones after them change nothing. */
	check_eq(b64url_decode(out, sizeof(out), "ZAAA", 1), -EINVAL);
	check_eq(b64url_decode(out, sizeof(out), "Zm9vYmFy", 5), -EINVAL);
	check_eq(b64url_decode(out, sizeof(out), "Zm9vYg==", 6), 4);
	check_eq(dec(1, 4, "Zm9vYg==", 6), 4);
	check_eq(dec(1, 3, "Zm9vYg==", 6), -ENOSPC);
	/* All-zero bits: every length but n % 4 == 1 decodes. */
	for (size_t n = 0; n <= 8; n++)
		check_eq(dec(1, 6, "AAAAAAAA", n),
			 n % 4 == 1 ? -EINVAL : (ssize_t)(n * 3 / 4));
	return 0;
}

static int std_rejects(void)
{
	uint8_t out[64];
	static const char *bad[] = {
		"Zg",        /* not a multiple of 4 */
		"Zm8",
		"Zm9vY",
		"Zm9vYg=",
		"Z===",      /* three pads */
		"====",
		"Zg==Zg==",  /* padding in the middle */
		"Zg=a",
		"=Zg=",
		"Zh==",      /* trailing bits */
		"Zm9=",
		"Zm-v",      /* url alphabet */
		"Zm_v",
		"Zm9v Yg==",
		"Zm9v\r\nYg==",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (dec(0, sizeof(out), bad[i], strlen(bad[i])) != -EINVAL) {
			fprintf(stderr, "accepted \"%s\"\n", bad[i]);
			check(0);
		}
	}
	for (int c = 0; c < 256; c++) {
		int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			 (c >= '0' && c <= '9') || c == '+' || c == '/';
		char s[9] = "AAAAAAAA";

		s[5] = (char)c;
		check_eq(b64_decode(out, sizeof(out), s, 8) == 6, ok);
	}
	/* Exact capacity works; one less is ENOSPC. */
	check_eq(b64_decode(out, 6, "Zm9vYmFy", 8), 6);
	check_eq(b64_decode(out, 5, "Zm9vYmFy", 8), -ENOSPC);
	check_eq(b64_decode(out, 4, "Zm9vYg==", 8), 4);
	check_eq(b64_decode(out, 3, "Zm9vYg==", 8), -ENOSPC);
	for (size_t n = 1; n < 8; n++)
		check_eq(dec(0, 6, "Zm9vYmFy", n), n == 4 ? 3 : -EINVAL);
	check_eq(dec(0, 6, "Zm9vYmFy", 8), 6);
	check_eq(dec(0, 1, "Zg==", 4), 1);
	check_eq(dec(0, 0, "Zg==", 4), -ENOSPC);
	check_eq(b64_decode(NULL, 0, "", 0), 0);
	check_eq(b64url_decode(NULL, 0, "", 0), 0);
	return 0;
}

TEST_MAIN(T(rfc4648_encode), T(rfc4648_decode), T(alphabets), T(round_trips),
	  T(url_rejects), T(std_rejects))
