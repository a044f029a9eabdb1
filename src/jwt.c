/*
 * jwt: HS256 JWS compact tokens and the ESME claim set.
 * see include/jwt.h
 *
 * Verification order matters for what a caller learns: the header is read
 * first so that "alg":"none" (or any other alg) is reported as JWT_E_ALG
 * whatever its signature part holds; then both remaining parts must be
 * syntactically base64url; only then is the MAC compared, and the claims
 * are decoded for the caller only after the MAC matched.
 */
#include "jwt.h"

#include "b64.h"
#include "json.h"

#include <bearssl.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#define MAC_LEN 32 /* HMAC-SHA-256 */
#define MAC_B64_LEN B64URL_ENCODED_LEN(MAC_LEN)

/* Largest decoded JOSE header we read; real ones are ~40 bytes. */
#define HEADER_MAX 512
/* Largest ESME claim set jwt_esme_check reads. */
#define CLAIMS_MAX 2048

static const char hs256_header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

static void hs256(const void *key, size_t keylen, const void *data, size_t n,
		  unsigned char out[MAC_LEN])
{
	br_hmac_key_context kc;
	br_hmac_context hc;

	br_hmac_key_init(&kc, &br_sha256_vtable, key, keylen);
	br_hmac_init(&hc, &kc, 0);
	br_hmac_update(&hc, data, n);
	br_hmac_out(&hc, out);
}

/* Equal in time independent of where the first difference is. */
static int ct_equal(const unsigned char *a, const unsigned char *b, size_t n)
{
	unsigned char diff = 0;

	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

/* Alphabet and length of unpadded base64url; trailing bits are left to the decoder. */
static int b64url_syntax_ok(const char *s, size_t n)
{
	if (n % 4 == 1)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return 0;
	}
	return 1;
}

int jwt_hs256_sign(char *dst, size_t cap, const void *key, size_t keylen,
		   const char *claims_json, size_t n)
{
	size_t hl = B64URL_ENCODED_LEN(sizeof(hs256_header) - 1);
	size_t pl, total, o;
	unsigned char mac[MAC_LEN];

	/* Bound n first so no length arithmetic below can wrap. */
	if (n > (size_t)INT_MAX / 4 * 3)
		return JWT_E_SPACE;
	pl = n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
	total = hl + 1 + pl + 1 + MAC_B64_LEN;
	if (total > cap || total > INT_MAX)
		return JWT_E_SPACE;
	o = b64url_encode(dst, hs256_header, sizeof(hs256_header) - 1);
	dst[o++] = '.';
	o += b64url_encode(dst + o, claims_json, n);
	/* The MAC covers the ASCII "header.payload" exactly as sent. */
	hs256(key, keylen, dst, o, mac);
	dst[o++] = '.';
	o += b64url_encode(dst + o, mac, MAC_LEN);
	return (int)o;
}

/* The JOSE header must be a JSON object whose alg is exactly "HS256". */
static int check_header(const char *part, size_t n)
{
	char hdr[HEADER_MAX];
	jsmntok_t toks[32];
	struct json_doc d;
	ssize_t hl;
	int alg;

	hl = b64url_decode(hdr, sizeof(hdr), part, n);
	if (hl <= 0)
		return JWT_E_FORMAT;
	if (json_parse(&d, hdr, (size_t)hl, toks, 32) <= 0 ||
	    json_type(&d, 0) != JSMN_OBJECT)
		return JWT_E_FORMAT;
	alg = json_find(&d, 0, "alg");
	if (alg < 0 || !json_str_eq(&d, alg, "HS256"))
		return JWT_E_ALG;
	/* RFC 7515 4.1.11: extensions listed in crit must be understood; we know none. */
	if (json_find(&d, 0, "crit") >= 0)
		return JWT_E_FORMAT;
	return 0;
}

int jwt_hs256_verify(const void *key, size_t keylen, const char *tok, size_t n,
		     char *claims, size_t cap)
{
	const char *d1, *d2, *pay, *sig;
	size_t hn, pn, sn;
	unsigned char want[MAC_LEN], got[MAC_LEN + 3];
	ssize_t r;
	int err;

	d1 = memchr(tok, '.', n);
	if (!d1)
		return JWT_E_FORMAT;
	pay = d1 + 1;
	d2 = memchr(pay, '.', n - (size_t)(pay - tok));
	if (!d2)
		return JWT_E_FORMAT;
	sig = d2 + 1;
	hn = (size_t)(d1 - tok);
	pn = (size_t)(d2 - pay);
	sn = n - (size_t)(sig - tok);
	if (memchr(sig, '.', sn)) /* JWE has five parts; nothing else fits */
		return JWT_E_FORMAT;

	err = check_header(tok, hn);
	if (err)
		return err;
	if (!b64url_syntax_ok(pay, pn) || !b64url_syntax_ok(sig, sn))
		return JWT_E_FORMAT;
	r = b64url_decode(got, sizeof(got), sig, sn);
	if (r == -EINVAL)
		return JWT_E_FORMAT;
	if (r != MAC_LEN)
		return JWT_E_SIGNATURE;
	hs256(key, keylen, tok, (size_t)(d2 - tok), want);
	if (!ct_equal(want, got, MAC_LEN))
		return JWT_E_SIGNATURE;

	r = b64url_decode(claims, cap, pay, pn);
	if (r == -ENOSPC)
		return JWT_E_SPACE;
	if (r < 0 || r > INT_MAX)
		return JWT_E_FORMAT;
	return (int)r;
}

int jwt_esme_issue(char *dst, size_t cap, const void *key, size_t keylen,
		   int64_t sub, int64_t now, int64_t ttl)
{
	char claims[256];
	int64_t exp;
	int k;

	/* An exp past INT64_MAX cannot be written; say so rather than wrap. */
	if (__builtin_add_overflow(now, ttl, &exp))
		return JWT_E_CLAIMS;
	k = snprintf(claims, sizeof(claims),
		     "{\"sub\":%" PRId64 ",\"iat\":%" PRId64 ",\"nbf\":%" PRId64
		     ",\"exp\":%" PRId64
		     ",\"iss\":\"esme.com\",\"aud\":[\"esme.com\"]}",
		     sub, now, now, exp);
	if (k < 0 || (size_t)k >= sizeof(claims))
		return JWT_E_SPACE;
	return jwt_hs256_sign(dst, cap, key, keylen, claims, (size_t)k);
}

/* aud is "esme.com" or an array holding it (RFC 7519 4.1.3 allows both). */
static int aud_ok(const struct json_doc *d, int aud)
{
	int i;

	if (json_type(d, aud) == JSMN_STRING)
		return json_str_eq(d, aud, "esme.com");
	if (json_type(d, aud) != JSMN_ARRAY)
		return 0;
	i = aud + 1;
	for (int k = 0; k < d->tok[aud].size; k++) {
		if (json_str_eq(d, i, "esme.com"))
			return 1;
		i = json_next(d, i);
	}
	return 0;
}

/* An integer claim; NumericDate with a fraction is not something ESME issues. */
static int get_int_claim(const struct json_doc *d, const char *name,
			 int64_t *v)
{
	int t = json_find(d, 0, name);

	if (t < 0)
		return t;
	return json_get_i64(d, t, v) == 0 ? 0 : -EINVAL;
}

int jwt_esme_check(const void *key, size_t keylen, const char *tok, size_t n,
		   int64_t now, int64_t *sub, int64_t *iat)
{
	char claims[CLAIMS_MAX];
	jsmntok_t toks[96];
	struct json_doc d;
	int64_t s, ia, nbf, exp;
	int r, t;

	r = jwt_hs256_verify(key, keylen, tok, n, claims, sizeof(claims));
	if (r == JWT_E_SPACE)
		return JWT_E_CLAIMS; /* far larger than any ESME claim set */
	if (r < 0)
		return r;
	r = json_parse(&d, claims, (size_t)r, toks, 96);
	if (r == -ENOSPC)
		return JWT_E_CLAIMS;
	if (r <= 0 || json_type(&d, 0) != JSMN_OBJECT)
		return JWT_E_FORMAT;

	t = json_find(&d, 0, "iss");
	if (t < 0 || !json_str_eq(&d, t, "esme.com"))
		return JWT_E_CLAIMS;
	t = json_find(&d, 0, "aud");
	if (t < 0 || !aud_ok(&d, t))
		return JWT_E_CLAIMS;
	if (get_int_claim(&d, "sub", &s) || get_int_claim(&d, "iat", &ia) ||
	    get_int_claim(&d, "exp", &exp))
		return JWT_E_CLAIMS;
	/* nbf is optional in RFC 7519; ESME always sets it. */
	r = get_int_claim(&d, "nbf", &nbf);
	if (r == -EINVAL)
		return JWT_E_CLAIMS;
	if (r == 0 && now < nbf)
		return JWT_E_NOT_YET;
	if (now >= exp)
		return JWT_E_EXPIRED;
	*sub = s;
	*iat = ia;
	return 0;
}

const char *jwt_strerror(int err)
{
	switch (err) {
	case 0:
		return "ok";
	case JWT_E_FORMAT:
		return "malformed token";
	case JWT_E_ALG:
		return "unsupported alg";
	case JWT_E_SIGNATURE:
		return "bad signature";
	case JWT_E_EXPIRED:
		return "expired";
	case JWT_E_NOT_YET:
		return "not yet valid";
	case JWT_E_CLAIMS:
		return "bad claims";
	case JWT_E_SPACE:
		return "buffer too small";
	default:
		return "unknown jwt error";
	}
}
