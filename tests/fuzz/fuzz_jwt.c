/*
 * fuzz_jwt: jwt_hs256_verify and jwt_esme_check (include/jwt.h) with a fixed
 * key. Random bytes almost never carry a valid MAC, so byte 0 picks a mode:
 *   0  the input is a token as received: any success must carry the MAC
 *      this target computes itself (no forgery);
 *   1  "header\0claims": the target signs b64url(header).b64url(claims)
 *      itself, so the header checks (alg, crit, JSON) see arbitrary JSON;
 *      a success must return the claims unchanged;
 *   2  the input is a claim set: sign, verify gives it back, esme_check
 *      runs on it, and changing any one byte of the token must fail;
 *   3  24 bytes of sub, now, ttl: jwt_esme_issue then jwt_esme_check at
 *      an input-chosen time must follow nbf = iat = now, exp = now + ttl.
 */
#include <bearssl.h>

#include "b64.h"
#include "fuzz.h"
#include "jwt.h"

static const char key[] = "fuzz-key-0123456789abcdef";
#define KEYLEN (sizeof(key) - 1)

static void mac(const void *data, size_t n, unsigned char out[32])
{
	br_hmac_key_context kc;
	br_hmac_context hc;

	br_hmac_key_init(&kc, &br_sha256_vtable, key, KEYLEN);
	br_hmac_init(&hc, &kc, 0);
	br_hmac_update(&hc, data, n);
	br_hmac_out(&hc, out);
}

static int64_t get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return (int64_t)v;
}

/* Mode 0: a received token. */
static void raw(const char *tok, size_t n, int64_t now)
{
	char *claims = malloc(n + 1);
	int64_t sub, iat;
	int r = jwt_hs256_verify(key, KEYLEN, tok, n, claims, n + 1);

	if (!claims)
		abort();
	FUZZ_ASSERT(r >= 0 || (r <= JWT_E_FORMAT && r >= JWT_E_SPACE));
	if (r >= 0) {
		/* Only a token with the right MAC may verify. */
		const char *d2 = memchr(tok, '.', n);
		unsigned char want[32], got[40];

		FUZZ_ASSERT(d2 != NULL);
		d2 = memchr(d2 + 1, '.', n - (size_t)(d2 + 1 - tok));
		FUZZ_ASSERT(d2 != NULL);
		mac(tok, (size_t)(d2 - tok), want);
		FUZZ_ASSERT(b64url_decode(got, sizeof(got), d2 + 1,
					  n - (size_t)(d2 + 1 - tok)) == 32);
		FUZZ_ASSERT(!memcmp(want, got, 32));
	}
	r = jwt_esme_check(key, KEYLEN, tok, n, now, &sub, &iat);
	FUZZ_ASSERT(r == 0 || (r <= JWT_E_FORMAT && r >= JWT_E_SPACE));
	(void)jwt_strerror(r);
	free(claims);
}

/* Mode 1: sign arbitrary header and claim bytes ourselves. */
static void self_signed(const uint8_t *p, size_t n, int64_t now)
{
	const uint8_t *nul = memchr(p, 0, n);
	size_t hn = nul ? (size_t)(nul - p) : n;
	const uint8_t *c = nul ? nul + 1 : p + n;
	size_t cn = n - hn - (nul ? 1 : 0);
	size_t cap = B64URL_ENCODED_LEN(hn) + B64URL_ENCODED_LEN(cn) +
		     B64URL_ENCODED_LEN(32) + 3;
	char *tok = malloc(cap), *claims = malloc(cn + 1);
	unsigned char m[32];
	size_t t = 0;
	int64_t sub, iat;
	int r;

	if (!tok || !claims)
		abort();
	t += b64url_encode(tok + t, p, hn);
	tok[t++] = '.';
	t += b64url_encode(tok + t, c, cn);
	mac(tok, t, m);
	tok[t++] = '.';
	t += b64url_encode(tok + t, m, 32);
	FUZZ_ASSERT(t < cap);
	r = jwt_hs256_verify(key, KEYLEN, tok, t, claims, cn + 1);
	if (r >= 0)
		FUZZ_ASSERT((size_t)r == cn && !memcmp(claims, c, cn));
	else
		FUZZ_ASSERT(r != JWT_E_SIGNATURE && r != JWT_E_SPACE);
	if (hn == 27 && !memcmp(p, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", 27))
		FUZZ_ASSERT(r >= 0);
	(void)jwt_esme_check(key, KEYLEN, tok, t, now, &sub, &iat);
	free(claims);
	free(tok);
}

/* Mode 2: our own signature over an arbitrary claim set. */
static void round_trip(const uint8_t *p, size_t n, uint64_t h)
{
	char *c = fuzz_dup(p, n, 0);
	size_t cap = B64URL_ENCODED_LEN(n) + 128;
	char *tok = malloc(cap), *back = malloc(n + 1);
	int64_t sub, iat;
	int t, r;

	if (!tok || !back)
		abort();
	t = jwt_hs256_sign(tok, cap, key, KEYLEN, c, n);
	FUZZ_ASSERT(t > 0 && (size_t)t <= cap);
	FUZZ_ASSERT(jwt_hs256_sign(tok, (size_t)t - 1, key, KEYLEN, c, n) ==
		    JWT_E_SPACE);
	t = jwt_hs256_sign(tok, cap, key, KEYLEN, c, n);
	r = jwt_hs256_verify(key, KEYLEN, tok, (size_t)t, back, n + 1);
	FUZZ_ASSERT(r >= 0 && (size_t)r == n && !memcmp(back, c, n));
	if (n > 0)
		FUZZ_ASSERT(jwt_hs256_verify(key, KEYLEN, tok, (size_t)t, back,
					     n - 1) == JWT_E_SPACE);
	/* A different key does not verify. */
	FUZZ_ASSERT(jwt_hs256_verify(key, KEYLEN - 1, tok, (size_t)t, back,
				     n + 1) == JWT_E_SIGNATURE);
	r = jwt_esme_check(key, KEYLEN, tok, (size_t)t, (int64_t)(h >> 1),
			   &sub, &iat);
	FUZZ_ASSERT(r == 0 || (r <= JWT_E_FORMAT && r >= JWT_E_SPACE));
	FUZZ_ASSERT(r != JWT_E_SIGNATURE && r != JWT_E_ALG);
	/* Any one changed byte breaks the token. */
	{
		size_t pos = (size_t)(h % (uint64_t)t);
		uint8_t x = (uint8_t)(h >> 32) | 1;

		tok[pos] = (char)(tok[pos] ^ (x & 0x7f ? x & 0x7f : 1));
		r = jwt_hs256_verify(key, KEYLEN, tok, (size_t)t, back, n + 1);
		FUZZ_ASSERT(r < 0);
		r = jwt_esme_check(key, KEYLEN, tok, (size_t)t, 0, &sub, &iat);
		FUZZ_ASSERT(r < 0);
	}
	free(back);
	free(tok);
	free(c);
}

/* Mode 3: issue and check. */
static void issue(const uint8_t *p, size_t n)
{
	char tok[512];
	int64_t sub, now, ttl, at, s2 = 0, i2 = 0;
	int t, r;

	if (n < 32)
		return;
	sub = get64(p);
	now = get64(p + 8);
	ttl = get64(p + 16);
	at = get64(p + 24);
	t = jwt_esme_issue(tok, sizeof(tok), key, KEYLEN, sub, now, ttl);
	if (t == JWT_E_CLAIMS) {
		int64_t e;

		FUZZ_ASSERT(__builtin_add_overflow(now, ttl, &e));
		return;
	}
	FUZZ_ASSERT(t > 0 && (size_t)t < sizeof(tok));
	r = jwt_esme_check(key, KEYLEN, tok, (size_t)t, at, &s2, &i2);
	if (at < now)
		FUZZ_ASSERT(r == JWT_E_NOT_YET);
	else if (at >= now + ttl)
		FUZZ_ASSERT(r == JWT_E_EXPIRED);
	else
		FUZZ_ASSERT(r == 0 && s2 == sub && i2 == now);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t h;
	char *tok;

	if (size < 1 || size > 8192)
		return 0;
	h = fuzz_hash(data, size);
	switch (data[0] & 3) {
	case 0:
		tok = fuzz_dup(data + 1, size - 1, 0);
		raw(tok, size - 1, (int64_t)(h >> 2));
		free(tok);
		break;
	case 1:
		self_signed(data + 1, size - 1, (int64_t)(h >> 2));
		break;
	case 2:
		round_trip(data + 1, size - 1, h);
		break;
	default:
		issue(data + 1, size - 1);
		break;
	}
	return 0;
}
