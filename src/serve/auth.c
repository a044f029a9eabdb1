/*
 * auth: serve's bearer tokens (docs/protocol.md §2). See serve.h.
 */
#include "serve.h"
#include "store.h"
#include "jwt.h"

#include <errno.h>
#include <string.h>

#define TOKEN_TTL_S (24 * 3600)

/* see serve.h */
int auth_token(struct serve *s, const char *tok, size_t n, enum role *role,
	       uint32_t *user)
{
	int64_t sub, iat, now = clock_real_ns() / 1000000000;
	enum role r;
	size_t plen;

	if (n > 10 && memcmp(tok, "organizer:", 10) == 0) {
		r = ROLE_ORG;
		plen = 10;
	} else if (n > 12 && memcmp(tok, "participant:", 12) == 0) {
		r = ROLE_PART;
		plen = 12;
	} else {
		return -EACCES;
	}
	if (jwt_esme_check(s->jwt_key, s->jwt_key_len, tok + plen, n - plen,
			   now, &sub, &iat) != 0)
		return -EACCES;
	if (r == ROLE_ORG) {
		if (sub < 1 || (uint64_t)sub > store_norgs(s->st))
			return -EACCES;
		if (iat < store_org(s->st, (uint32_t)sub - 1)->signout_ns / 1000000000)
			return -EACCES;
	} else {
		if (sub < 1 || (uint64_t)sub > store_nparts(s->st))
			return -EACCES;
		if (iat < store_part(s->st, (uint32_t)sub - 1)->signout_ns / 1000000000)
			return -EACCES;
	}
	*role = r;
	*user = (uint32_t)sub - 1;
	return 0;
}

/* see serve.h */
int auth_issue(struct serve *s, enum role role, uint32_t user, char *dst,
	       size_t cap)
{
	const char *prefix = role == ROLE_ORG ? "organizer:" : "participant:";
	size_t plen = strlen(prefix);
	int n;

	if (cap < plen + 1)
		return -ENOSPC;
	memcpy(dst, prefix, plen);
	n = jwt_esme_issue(dst + plen, cap - plen, s->jwt_key, s->jwt_key_len,
			   (int64_t)user + 1, clock_real_ns() / 1000000000,
			   TOKEN_TTL_S);
	if (n < 0)
		return -ENOSPC;
	return (int)plen + n;
}
