/* Unit tests for jwt: RFC 7515 A.1, HS256 sign/verify, the ESME claims. */
#include "jwt.h"

#include "b64.h"
#include "test.h"

#include <bearssl.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* RFC 7515 Appendix A.1: the JWK "k" value and the resulting JWS. */
static const char a1_k[] =
	"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
/* The same key as the octets the RFC lists. */
static const unsigned char a1_key[64] = {
	3, 35, 53, 75, 43, 15, 165, 188, 131, 126, 6, 101, 119, 123, 166,
	143, 90, 179, 40, 230, 240, 84, 201, 40, 169, 15, 132, 178, 210, 80,
	46, 191, 211, 251, 90, 146, 210, 6, 71, 239, 150, 138, 180, 195, 119,
	98, 61, 34, 61, 46, 33, 114, 5, 46, 79, 8, 192, 205, 154, 245, 103,
	208, 128, 163,
};
static const char a1_header[] = "{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}";
static const char a1_payload[] =
	"{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}";
static const char a1_token[] =
	"eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
	"."
	"eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
	"."
	"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

static const char secret[] = "esme-test-secret";

/* Verify from a heap copy of exactly n bytes so ASan sees any overread. */
static int verify_exact(const void *key, size_t keylen, const char *tok,
			size_t n, char *claims, size_t cap)
{
	char *copy = malloc(n ? n : 1);
	int r;

	if (!copy)
		return -ENOMEM;
	memcpy(copy, tok, n);
	r = jwt_hs256_verify(key, keylen, copy, n, claims, cap);
	free(copy);
	return r;
}

/* Build header.payload.signature with an arbitrary header, correctly MACed. */
static size_t make_token(char *dst, const char *header, const char *payload,
			 const void *key, size_t keylen)
{
	br_hmac_key_context kc;
	br_hmac_context hc;
	unsigned char mac[32];
	size_t o;

	o = b64url_encode(dst, header, strlen(header));
	dst[o++] = '.';
	o += b64url_encode(dst + o, payload, strlen(payload));
	br_hmac_key_init(&kc, &br_sha256_vtable, key, keylen);
	br_hmac_init(&hc, &kc, 0);
	br_hmac_update(&hc, dst, o);
	br_hmac_out(&hc, mac);
	dst[o++] = '.';
	o += b64url_encode(dst + o, mac, sizeof(mac));
	return o;
}

static int rfc7515_a1(void)
{
	unsigned char key[80];
	char claims[256], hdr[64];
	ssize_t kl;
	size_t n = sizeof(a1_token) - 1;
	int r;

	kl = b64url_decode(key, sizeof(key), a1_k, sizeof(a1_k) - 1);
	check_eq(kl, 64);
	check(memcmp(key, a1_key, 64) == 0);
	/* The token's first part is the RFC's header with its CRLF. */
	check_eq(b64url_decode(hdr, sizeof(hdr), a1_token, 40),
		 (long)sizeof(a1_header) - 1);
	check(memcmp(hdr, a1_header, sizeof(a1_header) - 1) == 0);

	r = verify_exact(key, 64, a1_token, n, claims, sizeof(claims));
	check_eq(r, (long)sizeof(a1_payload) - 1);
	check_span(claims, (size_t)r, a1_payload);
	/* Exact capacity works, one less does not. */
	check_eq(verify_exact(key, 64, a1_token, n, claims, (size_t)r), r);
	check_eq(verify_exact(key, 64, a1_token, n, claims, (size_t)r - 1),
		 JWT_E_SPACE);
	/* Another key does not verify. */
	check_eq(verify_exact(key, 63, a1_token, n, claims, sizeof(claims)),
		 JWT_E_SIGNATURE);
	check_eq(verify_exact(secret, sizeof(secret) - 1, a1_token, n, claims,
			      sizeof(claims)),
		 JWT_E_SIGNATURE);
	return 0;
}

/* Every changed character of the signature part makes the token fail. */
static int a1_signature_chars(void)
{
	static const char alpha[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char tok[sizeof(a1_token)], claims[256];
	size_t n = sizeof(a1_token) - 1, sig = n - 43;

	for (size_t i = sig; i < n; i++) {
		for (size_t a = 0; a < 64; a++) {
			int r;

			if (alpha[a] == a1_token[i])
				continue;
			memcpy(tok, a1_token, n);
			tok[i] = alpha[a];
			r = verify_exact(a1_key, 64, tok, n, claims,
					 sizeof(claims));
			/* The last character may leave non-zero pad bits. */
			if (i == n - 1)
				check(r == JWT_E_SIGNATURE || r == JWT_E_FORMAT);
			else
				check_eq(r, JWT_E_SIGNATURE);
		}
	}
	return 0;
}

/* Every flipped bit of the decoded MAC fails as a bad signature. */
static int a1_signature_bits(void)
{
	unsigned char mac[32];
	char tok[sizeof(a1_token)], claims[256];
	size_t n = sizeof(a1_token) - 1, sig = n - 43;

	check_eq(b64url_decode(mac, sizeof(mac), a1_token + sig, 43), 32);
	memcpy(tok, a1_token, n);
	for (size_t i = 0; i < 32; i++) {
		for (int b = 0; b < 8; b++) {
			mac[i] ^= (unsigned char)(1u << b);
			check_eq(b64url_encode(tok + sig, mac, 32), 43);
			check_eq(verify_exact(a1_key, 64, tok, n, claims,
					      sizeof(claims)),
				 JWT_E_SIGNATURE);
			mac[i] ^= (unsigned char)(1u << b);
		}
	}
	check_eq(b64url_encode(tok + sig, mac, 32), 43);
	check(verify_exact(a1_key, 64, tok, n, claims, sizeof(claims)) > 0);
	return 0;
}

/* Changing the payload (or header) breaks the MAC. */
static int a1_tampered(void)
{
	char tok[sizeof(a1_token)], claims[256];
	size_t n = sizeof(a1_token) - 1;

	for (size_t i = 41; i < n - 44; i++) {
		memcpy(tok, a1_token, n);
		tok[i] = tok[i] == 'A' ? 'B' : 'A';
		int r = verify_exact(a1_key, 64, tok, n, claims, sizeof(claims));

		check(r == JWT_E_SIGNATURE || r == JWT_E_FORMAT);
	}
	return 0;
}

/* No truncation of a valid token verifies (and none reads out of bounds). */
static int a1_prefixes(void)
{
	char claims[256];
	size_t n = sizeof(a1_token) - 1;

	for (size_t k = 0; k < n; k++)
		check(verify_exact(a1_key, 64, a1_token, k, claims,
				   sizeof(claims)) < 0);
	return 0;
}

static int sign_roundtrip(void)
{
	static const char claims_in[] = "{\"sub\":1,\"x\":\"\xc3\xa9\"}";
	char tok[256], claims[64];
	size_t cn = sizeof(claims_in) - 1;
	int n, r;

	n = jwt_hs256_sign(tok, sizeof(tok), secret, sizeof(secret) - 1,
			   claims_in, cn);
	check(n > 0);
	/* Header {"alg":"HS256","typ":"JWT"}, three parts, 43-char MAC. */
	check(memcmp(tok, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.", 37) == 0);
	check_eq(n, 36 + 1 + (long)B64URL_ENCODED_LEN(cn) + 1 + 43);
	check(memchr(tok, '=', (size_t)n) == NULL);
	r = verify_exact(secret, sizeof(secret) - 1, tok, (size_t)n, claims,
			 sizeof(claims));
	check_eq(r, (long)cn);
	check(memcmp(claims, claims_in, cn) == 0);

	/* Exact output capacity, and one less. */
	check_eq(jwt_hs256_sign(tok, (size_t)n, secret, sizeof(secret) - 1,
				claims_in, cn),
		 n);
	check_eq(jwt_hs256_sign(tok, (size_t)n - 1, secret, sizeof(secret) - 1,
				claims_in, cn),
		 JWT_E_SPACE);
	check_eq(jwt_hs256_sign(tok, 0, secret, sizeof(secret) - 1, claims_in,
				cn),
		 JWT_E_SPACE);

	/* Every payload length 0..40 (all base64 tails) round-trips. */
	for (size_t len = 0; len <= 40; len++) {
		char in[41];

		for (size_t i = 0; i < len; i++)
			in[i] = (char)('a' + i % 26);
		n = jwt_hs256_sign(tok, sizeof(tok), "k", 1, in, len);
		check(n > 0);
		r = verify_exact("k", 1, tok, (size_t)n, claims, sizeof(claims));
		check_eq(r, (long)len);
		check(memcmp(claims, in, len) == 0);
	}
	/* An empty key is still a key. */
	n = jwt_hs256_sign(tok, sizeof(tok), "", 0, "{}", 2);
	check_eq(verify_exact("", 0, tok, (size_t)n, claims, sizeof(claims)), 2);
	check_eq(verify_exact("x", 1, tok, (size_t)n, claims, sizeof(claims)),
		 JWT_E_SIGNATURE);
	return 0;
}

static int bad_alg(void)
{
	static const char *const hdrs[] = {
		"{\"alg\":\"none\"}",
		"{\"alg\":\"none\",\"typ\":\"JWT\"}",
		"{\"alg\":\"HS384\",\"typ\":\"JWT\"}",
		"{\"alg\":\"RS256\"}",
		"{\"alg\":\"hs256\"}",
		"{\"alg\":\"HS256 \"}",
		"{\"alg\":[\"HS256\"]}",
		"{\"alg\":null}",
		"{\"typ\":\"JWT\"}",
		"{}",
		"{\"ALG\":\"HS256\"}",
		"{\"alg\":\"HS256\",\"alg\":\"none\"}", /* last duplicate wins */
	};
	char tok[256], claims[64];

	for (size_t i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
		/* Even with a correct HMAC over the parts. */
		size_t n = make_token(tok, hdrs[i], "{}", secret,
				      sizeof(secret) - 1);

		check_eq(verify_exact(secret, sizeof(secret) - 1, tok, n,
				      claims, sizeof(claims)),
			 JWT_E_ALG);
	}
	/* alg none usually comes with an empty signature. */
	{
		char t[128];
		size_t o = b64url_encode(t, "{\"alg\":\"none\"}", 14);

		t[o++] = '.';
		o += b64url_encode(t + o, "{}", 2);
		t[o++] = '.';
		check_eq(verify_exact(secret, sizeof(secret) - 1, t, o, claims,
				      sizeof(claims)),
			 JWT_E_ALG);
	}
	/* Escaped spelling of HS256 is the same string. */
	{
		size_t n = make_token(tok, "{\"alg\":\"HS\\u0032\\u00356\"}", "{}",
				      secret, sizeof(secret) - 1);

		check_eq(verify_exact(secret, sizeof(secret) - 1, tok, n,
				      claims, sizeof(claims)),
			 2);
	}
	return 0;
}

static int bad_format(void)
{
	static const char *const hdrs[] = {
		"", "not json", "[\"alg\",\"HS256\"]", "\"HS256\"",
		"{\"alg\":\"HS256\"", "{\"alg\":\"HS256\"} x",
		"{\"alg\":\"HS256\",\"crit\":[\"exp\"]}",
	};
	static const char *const toks[] = {
		"", ".", "..", "...", "abc", "a.b", "a.b.c.d", "a.b.c.",
		"eyJhbGciOiJIUzI1NiJ9.e30",
		/* header part with padding / standard alphabet / bad chars */
		"eyJhbGciOiJIUzI1NiJ9==.e30.AAAA",
		"eyJhbGciOiJIUzI1NiJ9*.e30.AAAA",
		"eyJhbGciOiJIUzI1NiJ9 .e30.AAAA",
		/* payload: padded, '+', impossible length */
		"eyJhbGciOiJIUzI1NiJ9.e30=.AAAA",
		"eyJhbGciOiJIUzI1NiJ9.e+0.AAAA",
		"eyJhbGciOiJIUzI1NiJ9.e30AA.AAAA",
		/* signature: '/', padding, length 1 mod 4, trailing bits */
		"eyJhbGciOiJIUzI1NiJ9.e30.AA/A",
		"eyJhbGciOiJIUzI1NiJ9.e30.AAA=",
		"eyJhbGciOiJIUzI1NiJ9.e30.AAAAA",
		"eyJhbGciOiJIUzI1NiJ9.e30.AB",
		/* the role prefix is not part of the JWT */
		"organizer:eyJhbGciOiJIUzI1NiJ9.e30.AAAA",
	};
	char tok[256], claims[64];

	for (size_t i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
		size_t n = make_token(tok, hdrs[i], "{}", secret,
				      sizeof(secret) - 1);

		check_eq(verify_exact(secret, sizeof(secret) - 1, tok, n,
				      claims, sizeof(claims)),
			 JWT_E_FORMAT);
	}
	for (size_t i = 0; i < sizeof(toks) / sizeof(toks[0]); i++) {
		int r = verify_exact(secret, sizeof(secret) - 1, toks[i],
				     strlen(toks[i]), claims, sizeof(claims));

		if (r != JWT_E_FORMAT)
			fprintf(stderr, "#%zu %s: %d\n", i, toks[i], r);
		check_eq(r, JWT_E_FORMAT);
	}
	/* A MAC of the wrong length is a bad signature, not a format error. */
	check_eq(verify_exact(secret, sizeof(secret) - 1,
			      "eyJhbGciOiJIUzI1NiJ9.e30.", 25, claims,
			      sizeof(claims)),
		 JWT_E_SIGNATURE);
	check_eq(verify_exact(secret, sizeof(secret) - 1,
			      "eyJhbGciOiJIUzI1NiJ9.e30.AAAA", 29, claims,
			      sizeof(claims)),
		 JWT_E_SIGNATURE);
	{
		size_t n = make_token(tok, "{\"alg\":\"HS256\"}", "{}", secret,
				      sizeof(secret) - 1);

		check_eq(verify_exact(secret, sizeof(secret) - 1, tok, n,
				      claims, sizeof(claims)),
			 2);
		/* The right MAC cut to 31 bytes, or with a 33rd byte added. */
		unsigned char mac[33] = { 0 };
		size_t sig = n - 43, m;

		check_eq(b64url_decode(mac, sizeof(mac), tok + sig, 43), 32);
		m = b64url_encode(tok + sig, mac, 31);
		check_eq(verify_exact(secret, sizeof(secret) - 1, tok, sig + m,
				      claims, sizeof(claims)),
			 JWT_E_SIGNATURE);
		m = b64url_encode(tok + sig, mac, 33);
		check_eq(verify_exact(secret, sizeof(secret) - 1, tok, sig + m,
				      claims, sizeof(claims)),
			 JWT_E_SIGNATURE);
		m = b64url_encode(tok + sig, mac, 32);
		check_eq(verify_exact(secret, sizeof(secret) - 1, tok, sig + m,
				      claims, sizeof(claims)),
			 2);
	}
	return 0;
}

static int esme_issue_check(void)
{
	const int64_t now = 1700000000, ttl = 86400;
	char tok[512], claims[256];
	int64_t sub = 0, iat = 0;
	int n, r;

	n = jwt_esme_issue(tok, sizeof(tok), secret, sizeof(secret) - 1, 42,
			   now, ttl);
	check(n > 0);
	r = verify_exact(secret, sizeof(secret) - 1, tok, (size_t)n, claims,
			 sizeof(claims));
	check(r > 0);
	check_span(claims, (size_t)r,
		   "{\"sub\":42,\"iat\":1700000000,\"nbf\":1700000000,"
		   "\"exp\":1700086400,\"iss\":\"esme.com\",\"aud\":[\"esme.com\"]}");

	check_eq(jwt_esme_check(secret, sizeof(secret) - 1, tok, (size_t)n,
				now, &sub, &iat),
		 0);
	check_eq(sub, 42);
	check_eq(iat, now);
	check_eq(jwt_esme_check(secret, sizeof(secret) - 1, tok, (size_t)n,
				now + ttl - 1, &sub, &iat),
		 0);
	check_eq(jwt_esme_check(secret, sizeof(secret) - 1, tok, (size_t)n,
				now + ttl, &sub, &iat),
		 JWT_E_EXPIRED);
	check_eq(jwt_esme_check(secret, sizeof(secret) - 1, tok, (size_t)n,
				now - 1, &sub, &iat),
		 JWT_E_NOT_YET);
	check_eq(jwt_esme_check("other", 5, tok, (size_t)n, now, &sub, &iat),
		 JWT_E_SIGNATURE);
	tok[n - 5] ^= 1;
	check(jwt_esme_check(secret, sizeof(secret) - 1, tok, (size_t)n, now,
			     &sub, &iat) < 0);
	tok[n - 5] ^= 1;

	/* Capacity, negative and large subjects, overflowing exp. */
	check_eq(jwt_esme_issue(tok, (size_t)n, secret, sizeof(secret) - 1, 42,
				now, ttl),
		 n);
	check_eq(jwt_esme_issue(tok, (size_t)n - 1, secret, sizeof(secret) - 1,
				42, now, ttl),
		 JWT_E_SPACE);
	n = jwt_esme_issue(tok, sizeof(tok), secret, sizeof(secret) - 1,
			   INT64_MAX, now, ttl);
	check_eq(jwt_esme_check(secret, sizeof(secret) - 1, tok, (size_t)n,
				now, &sub, &iat),
		 0);
	check(sub == INT64_MAX);
	check(jwt_esme_issue(tok, sizeof(tok), secret, sizeof(secret) - 1, 1,
			     INT64_MAX, 1) < 0);
	return 0;
}

/* Hand-made claim sets, correctly signed. */
static int esme_claims(void)
{
	static const struct {
		const char *claims;
		int want;
	} c[] = {
		{ "{\"sub\":7,\"iat\":100,\"nbf\":100,\"exp\":200,\"iss\":\"esme.com\",\"aud\":[\"esme.com\"]}", 0 },
		{ "{\"sub\":7,\"iat\":100,\"nbf\":100,\"exp\":200,\"iss\":\"esme.com\",\"aud\":\"esme.com\"}", 0 },
		{ "{\"aud\":[\"x\",\"esme.com\"],\"iss\":\"esme.com\",\"exp\":200,\"sub\":7,\"iat\":100}", 0 },
		{ "{\"sub\":7,\"iat\":100,\"exp\":200,\"iss\":\"esme.com\",\"aud\":[\"esme.com\"],\"extra\":{\"a\":[1,2]}}", 0 },
		{ "{\"sub\":7,\"iat\":100,\"nbf\":100,\"exp\":200,\"iss\":\"esme.org\",\"aud\":[\"esme.com\"]}", JWT_E_CLAIMS },
		{ "{\"sub\":7,\"iat\":100,\"nbf\":100,\"exp\":200,\"aud\":[\"esme.com\"]}", JWT_E_CLAIMS },
		{ "{\"sub\":7,\"iat\":100,\"nbf\":100,\"exp\":200,\"iss\":[\"esme.com\"],\"aud\":[\"esme.com\"]}", JWT_E_CLAIMS },
		{ "{\"sub\":7,\"iat\":100,\"nbf\":100,\"exp\":200,\"iss\":\"esme.com\"}", JWT_E_CLAIMS },
		{ "{\"sub\":7,\"iat\":100,\"nbf\":100,\"exp\":200,\"iss\":\"esme.com\",\"aud\":[]}", JWT_E_CLAIMS },
		{ "{\"sub\":7,\"iat\":100,\"nbf\":100,\"exp\":200,\"iss\":\"esme.com\",\"aud\":[\"other\"]}", JWT_E_CLAIMS },
		{ "{\"sub\":7,\"iat\":100,\"nbf\":100,\"exp\":200,\"iss\":\"esme.com\",\"aud\":\"other\"}", JWT_E_CLAIMS },
		{ "{\"sub\":7,\"iat\":100,\"nbf\":100,\"exp\":200,\"iss\":\"esme.com\",\"aud\":null}", JWT_E_CLAIMS },
		{ "{\"iat\":100,\"nbf\":100,\"exp\":200,\"iss\":\"esme.com\",\"aud\":[\"esme.com\"]}", JWT_E_CLAIMS },
		{ "{\"sub\":\"7\",\"iat\":100,\"nbf\":100,\"exp\":200,\"iss\":\"esme.com\",\"aud\":[\"esme.com\"]}", JWT_E_CLAIMS },
		{ "{\"sub\":7.5,\"iat\":100,\"nbf\":100,\"exp\":200,\"iss\":\"esme.com\",\"aud\":[\"esme.com\"]}", JWT_E_CLAIMS },
		{ "{\"sub\":7,\"nbf\":100,\"exp\":200,\"iss\":\"esme.com\",\"aud\":[\"esme.com\"]}", JWT_E_CLAIMS },
		{ "{\"sub\":7,\"iat\":100,\"nbf\":100,\"iss\":\"esme.com\",\"aud\":[\"esme.com\"]}", JWT_E_CLAIMS },
		{ "{\"sub\":7,\"iat\":100,\"nbf\":\"100\",\"exp\":200,\"iss\":\"esme.com\",\"aud\":[\"esme.com\"]}", JWT_E_CLAIMS },
		{ "{\"sub\":7,\"iat\":100,\"nbf\":151,\"exp\":200,\"iss\":\"esme.com\",\"aud\":[\"esme.com\"]}", JWT_E_NOT_YET },
		{ "{\"sub\":7,\"iat\":100,\"nbf\":100,\"exp\":150,\"iss\":\"esme.com\",\"aud\":[\"esme.com\"]}", JWT_E_EXPIRED },
		{ "{\"sub\":7,\"iat\":100,\"nbf\":100,\"exp\":149,\"iss\":\"esme.com\",\"aud\":[\"esme.com\"]}", JWT_E_EXPIRED },
		{ "[\"esme.com\"]", JWT_E_FORMAT },
		{ "{\"sub\":7,", JWT_E_FORMAT },
		{ "", JWT_E_FORMAT },
	};
	char tok[512];
	int64_t sub, iat;

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		int n = jwt_hs256_sign(tok, sizeof(tok), secret,
				       sizeof(secret) - 1, c[i].claims,
				       strlen(c[i].claims));
		int r;

		check(n > 0);
		sub = iat = -1;
		r = jwt_esme_check(secret, sizeof(secret) - 1, tok, (size_t)n,
				   150, &sub, &iat);
		if (r != c[i].want)
			fprintf(stderr, "#%zu: %d (%s)\n", i, r,
				jwt_strerror(r));
		check_eq(r, c[i].want);
		if (r == 0) {
			check_eq(sub, 7);
			check_eq(iat, 100);
		}
	}
	return 0;
}

static int strerror_names(void)
{
	static const int errs[] = {
		JWT_E_FORMAT, JWT_E_ALG, JWT_E_SIGNATURE, JWT_E_EXPIRED,
		JWT_E_NOT_YET, JWT_E_CLAIMS, JWT_E_SPACE,
	};
	size_t n = sizeof(errs) / sizeof(errs[0]);

	for (size_t i = 0; i < n; i++) {
		check(jwt_strerror(errs[i]) != NULL);
		for (size_t j = 0; j < i; j++)
			check(strcmp(jwt_strerror(errs[i]),
				      jwt_strerror(errs[j])) != 0);
	}
	check(strcmp(jwt_strerror(JWT_E_EXPIRED), "expired") == 0);
	check(strcmp(jwt_strerror(JWT_E_SIGNATURE), "bad signature") == 0);
	check(jwt_strerror(12345) != NULL);
	return 0;
}

TEST_MAIN(T(rfc7515_a1), T(a1_signature_chars), T(a1_signature_bits),
	  T(a1_tampered), T(a1_prefixes), T(sign_roundtrip), T(bad_alg),
	  T(bad_format), T(esme_issue_check), T(esme_claims),
	  T(strerror_names))
