/*
 * fuzz_ws_close_utf8: the WebSocket helpers that see peer bytes outside the
 * framing (include/ws.h): ws_utf8_valid against a plain code-point decoder
 * (tests/utf8_ref.h; and utf8_seq / utf8_valid of include/utf8.h, which it
 * wraps), ws_close_parse against the rule in ws.h (empty, or a code
 * allowed on the wire plus UTF-8), ws_close_encode round trips and its
 * truncation at a character boundary, ws_mask in pieces, and the handshake
 * keys (ws_key_valid, ws_accept_key / ws_client_accept_ok).
 */
#include "fuzz.h"
#include "../utf8_ref.h"
#include "utf8.h"
#include "ws.h"

/*
 * utf8_seq at every position: a length L > 0 exactly when the L bytes
 * there are one well-formed character, and stepping by it over a valid
 * input lands on its end.
 */
static void seq(const uint8_t *p, size_t n)
{
	int valid = utf8_ref(p, n);
	size_t i = 0;

	for (size_t k = 0; k < n; k++) {
		size_t l = utf8_seq(p + k, n - k);

		FUZZ_ASSERT(l <= 4 && l <= n - k);
		if (l)
			FUZZ_ASSERT(utf8_ref(p + k, l) &&
				    (l == 1 || !utf8_ref(p + k, l - 1)));
		else
			for (size_t m = 1; m <= 4 && m <= n - k; m++)
				FUZZ_ASSERT(!utf8_ref(p + k, m) ||
					    (m > 1 && utf8_ref(p + k, m - 1)));
	}
	while (i < n) {
		size_t l = utf8_seq(p + i, n - i);

		if (!l)
			break;
		i += l;
	}
	FUZZ_ASSERT(valid == (i == n));
	FUZZ_ASSERT(utf8_valid(p, n) == valid);
}

static int code_ok(unsigned c)
{
	return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) ||
	       (c >= 3000 && c <= 4999);
}

static void close_parse(const uint8_t *p, size_t n)
{
	uint8_t *b = (uint8_t *)fuzz_dup(p, n, 0);
	const uint8_t *reason = NULL;
	size_t rlen = 99;
	uint16_t code = 0;
	int want, got = ws_close_parse(b, n, &code, &reason, &rlen);

	want = n == 0 || (n >= 2 && n <= 125 &&
			  code_ok((unsigned)p[0] << 8 | p[1]) &&
			  utf8_ref(p + 2, n - 2));
	FUZZ_ASSERT(got == 0 || got == -22);
	FUZZ_ASSERT(want == (got == 0));
	if (got == 0 && n == 0)
		FUZZ_ASSERT(code == 1005 && rlen == 0);
	if (got == 0 && n > 0) {
		uint8_t enc[125];
		char *s = fuzz_dup(reason, rlen, 1);

		FUZZ_ASSERT(code == ((unsigned)p[0] << 8 | p[1]));
		FUZZ_ASSERT(reason == b + 2 && rlen == n - 2);
		/* Without a NUL inside, encoding gives the same payload. */
		if (!memchr(s, 0, rlen)) {
			FUZZ_ASSERT(ws_close_encode(enc, code, s) == n);
			FUZZ_ASSERT(!memcmp(enc, p, n));
		}
		free(s);
	}
	free(b);
}

static void close_encode(const uint8_t *p, size_t n)
{
	/* The reason is the input up to its first NUL. */
	char *s = fuzz_dup(p, n, 1);
	size_t sl = strlen(s);
	uint8_t *dst = malloc(125);
	size_t k;
	uint16_t code = 1000, c2;
	const uint8_t *r;
	size_t rl;

	if (!dst)
		abort();
	k = ws_close_encode(dst, code, s);
	FUZZ_ASSERT(k >= 2 && k <= 125);
	FUZZ_ASSERT(dst[0] == 1000 >> 8 && dst[1] == (1000 & 0xff));
	FUZZ_ASSERT(!memcmp(dst + 2, s, k - 2));
	if (sl <= 123)
		FUZZ_ASSERT(k - 2 == sl);
	/* A valid reason stays valid when cut: the peer accepts it. */
	if (utf8_ref((const uint8_t *)s, sl)) {
		FUZZ_ASSERT(ws_close_parse(dst, k, &c2, &r, &rl) == 0);
		FUZZ_ASSERT(c2 == code && rl == k - 2);
		/* The cut drops at most one partial character. */
		if (sl > 123)
			FUZZ_ASSERT(k - 2 > 123 - 4);
	}
	free(dst);
	free(s);
}

static void mask(const uint8_t *p, size_t n)
{
	uint8_t m[4];
	uint8_t *a, *b;
	size_t split;

	if (n < 4)
		return;
	memcpy(m, p, 4);
	p += 4;
	n -= 4;
	a = (uint8_t *)fuzz_dup(p, n, 0);
	b = (uint8_t *)fuzz_dup(p, n, 0);
	ws_mask(a, n, m, 0);
	for (size_t i = 0; i < n; i++)
		FUZZ_ASSERT(a[i] == (p[i] ^ m[i & 3]));
	/* In two pieces, the second continuing the mask phase. */
	split = n ? (size_t)(fuzz_hash(p, n) % (n + 1)) : 0;
	ws_mask(b, split, m, 0);
	ws_mask(b + split, n - split, m, split);
	FUZZ_ASSERT(!memcmp(a, b, n));
	ws_mask(a, n, m, 0);
	FUZZ_ASSERT(!memcmp(a, p, n));
	free(b);
	free(a);
}

static void keys(const uint8_t *p, size_t n)
{
	char *key = fuzz_dup(p, n, 1);
	char acc[WS_ACCEPT_LEN + 1];

	(void)ws_key_valid(key, n);
	if (strlen(key) == n) {
		ws_accept_key(acc, key, n);
		FUZZ_ASSERT(strlen(acc) == WS_ACCEPT_LEN);
		FUZZ_ASSERT(ws_client_accept_ok(key, acc, WS_ACCEPT_LEN) == 1);
		acc[0] ^= 1;
		FUZZ_ASSERT(ws_client_accept_ok(key, acc, WS_ACCEPT_LEN) == 0);
	}
	free(key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *b = (uint8_t *)fuzz_dup(data, size, 0);

	FUZZ_ASSERT(ws_utf8_valid(b, size) == utf8_ref(data, size));
	free(b);
	if (size <= 1024) {
		b = (uint8_t *)fuzz_dup(data, size, 0);
		seq(b, size);
		free(b);
	}
	close_parse(data, size);
	close_encode(data, size);
	mask(data, size);
	if (size <= 64)
		keys(data, size);
	return 0;
}
