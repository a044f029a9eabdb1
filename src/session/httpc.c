/*
 * httpc: the HTTP/1.1 client session: requests written into the send
 * slot, responses framed where the engine hands them over (chunked bodies
 * decoded into the session's scratch). See session.h.
 */
#include "session/internal.h"

#include "http.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* see session.h */
int ses_http_request(struct ses *S, uint32_t id, const char *method,
		     const char *path, const char *extra, const char *body,
		     size_t blen)
{
	const struct ses_target *t = &S->targets[S->eng.conns[id].target];
	size_t room, n;
	uint8_t *dst = eng_slot(&S->eng, id, &room);

	n = http_request_write((char *)dst, room, method, t->hostport, path,
			       extra, body, blen);
	if (!n)
		return -ENOSPC;
	eng_commit(&S->eng, id, n, 0);
	S->conns[id].busy = 1;
	return 0;
}

/*
 * A complete HTTP response at p: returns bytes consumed (> 0) and the
 * status and body (decoded into S->scratch when chunked); 0 when more is
 * needed; < 0 when malformed.
 */
static long http_frame(struct ses *S, uint8_t *p, size_t n, int *status,
		       const char **body, size_t *blen, int *keep_alive)
{
	struct http_response r;
	long hl = http_response_parse(&r, (const char *)p, n, 16384);

	if (hl == HTTP_PARTIAL)
		return 0;
	if (hl < 0)
		return -EPROTO;
	*status = r.status;
	*keep_alive = r.keep_alive;
	if (r.chunked) {
		struct http_chunked d = { 0 };
		size_t len = n - (size_t)hl, extra = 0;
		int ret;

		if (len > SES_BODY_MAX)
			return -EMSGSIZE;
		memcpy(S->scratch, p + hl, len);
		ret = http_chunked_decode(&d, (char *)S->scratch, &len,
					  SES_BODY_MAX, &extra);
		if (ret == 0)
			return 0;
		if (ret < 0)
			return -EPROTO;
		*body = (const char *)S->scratch;
		*blen = len;
		return (long)(n - extra);
	}
	if (r.content_length < 0) {
		/* Without a length the body ends with the connection; the
		 * ESME APIs always send one. */
		*body = (const char *)p + hl;
		*blen = 0;
		*keep_alive = 0;
		return hl;
	}
	if ((uint64_t)r.content_length > n - (size_t)hl)
		return r.content_length > SES_BODY_MAX ? -EMSGSIZE : 0;
	*body = (const char *)p + hl;
	*blen = (size_t)r.content_length;
	return hl + (long)r.content_length;
}

/* see internal.h */
long ses_http_input(struct ses *S, uint32_t id, uint32_t tag, uint8_t *p,
		       size_t n)
{
	const char *body = NULL;
	size_t blen = 0;
	int status = 0, ka = 1;
	long r;

	if (!S->conns[id].busy) {
		ses_end_what(S, id, tag, SES_UNASKED, "unexpected bytes from the server");
		return -1;
	}
	r = http_frame(S, p, n, &status, &body, &blen, &ka);
	if (r == 0)
		return 0;
	if (r < 0) {
		ses_end_what(S, id, tag, SES_MALFORMED, "malformed HTTP response");
		return -1;
	}
	S->conns[id].busy = 0;
	if (S->conns[id].pool) {
		struct ses_pool *P = S->pools[S->conns[id].pool - 1];

		if (!ka) {
			/* Let go before the pool hears it: its pump must
			 * not write into a connection that closes. */
			S->conns[id].kind = 0;
			S->conns[id].pool = 0;
		}
		ses_pool_response(P, tag, status, body, blen, ka);
		return ka ? r : -1;
	}
	S->ops->response(S->app, tag, id, status, body, blen, ka);
	if (!ka) {
		/* The server closes: so do we (the application knew). */
		S->conns[id].kind = 0;
		return -1;
	}
	return r;
}
