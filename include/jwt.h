/*
 * jwt: HS256 JSON Web Tokens (RFC 7519, JWS compact serialization of
 * RFC 7515) with BearSSL's HMAC-SHA-256, and the ESME claim set. No I/O.
 */
#ifndef ESMELOAD_JWT_H
#define ESMELOAD_JWT_H

#include <stddef.h>
#include <stdint.h>

enum jwt_status {
	JWT_E_FORMAT = -1001,    /* not three base64url parts, bad JSON */
	JWT_E_ALG = -1002,       /* header alg is not HS256 (alg none included) */
	JWT_E_SIGNATURE = -1003, /* signature does not verify */
	JWT_E_EXPIRED = -1004,   /* now >= exp */
	JWT_E_NOT_YET = -1005,   /* now < nbf */
	JWT_E_CLAIMS = -1006,    /* iss/aud/sub missing or wrong */
	JWT_E_SPACE = -1007,     /* output buffer too small */
};

/*
 * Sign claims_json (n bytes) with header {"alg":"HS256","typ":"JWT"}.
 * Returns the token length written to dst (no NUL), or JWT_E_SPACE.
 */
int jwt_hs256_sign(char *dst, size_t cap, const void *key, size_t keylen,
		   const char *claims_json, size_t n);

/*
 * Verify an HS256 token's header and signature (constant-time compare).
 * On success decodes the claims JSON into claims (capacity cap) and returns
 * its length; JWT_E_FORMAT, JWT_E_ALG, JWT_E_SIGNATURE or JWT_E_SPACE.
 * Does not look at the claims.
 */
int jwt_hs256_verify(const void *key, size_t keylen, const char *tok, size_t n,
		     char *claims, size_t cap);

/*
 * ESME tokens: claims sub (user id, a number), iat, nbf, exp = now + ttl,
 * iss "esme.com", aud ["esme.com"]. jwt_esme_issue returns the JWT length
 * (without any role prefix) or JWT_E_SPACE.
 */
int jwt_esme_issue(char *dst, size_t cap, const void *key, size_t keylen,
		   int64_t sub, int64_t now, int64_t ttl);

/*
 * Verify an ESME JWT (no role prefix) at time now: signature, then iss, aud,
 * nbf and exp. Returns 0 and sets *sub and *iat, or a JWT_E_* value.
 */
int jwt_esme_check(const void *key, size_t keylen, const char *tok, size_t n,
		   int64_t now, int64_t *sub, int64_t *iat);

/* A short name of a JWT_E_* value ("expired", "bad signature", ...). */
const char *jwt_strerror(int err);

#endif
