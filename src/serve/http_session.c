/*
 * http_session: serve's HTTP/1.1 server session on a connection of conn.c
 * (see serve.h). It frames requests (http.h's parser, bounded by max_head
 * and max_body), picks the status for bytes that are not a request it
 * takes, keeps the connection for the next request (keep-alive, with its
 * deadline) and writes responses. What a request means, and the words of
 * every answer, are rest.c's: it hears whole requests (rest_request) and
 * refused ones (rest_refused).
 */
#include "serve.h"
#include "http.h"
#include "ws.h"

#include <errno.h>
#include <string.h>

/* see serve.h */
void hses_reply(struct serve *s, struct conn *c, int status,
		const char *ctype, const char *extra, const char *body,
		size_t body_len, int keep_alive)
{
	char *out = (char *)s->scratch2;
	size_t n = http_response_head(out, s->scratch_cap, status, ctype,
				      body_len, keep_alive, extra);

	if (n == 0 || n + body_len > s->scratch_cap) {
		conn_close(s, c);
		return;
	}
	if (body_len)
		memcpy(out + n, body, body_len);
	if (status >= 400 && status < 500)
		s->stats.err[E_HTTP_4XX]++;
	conn_write(s, c, out, n + body_len, 0);
	if (!keep_alive)
		conn_linger(s, c);
}

/* see serve.h */
int hses_upgrade(struct serve *s, struct conn *c, const char *key, size_t n)
{
	char out[256];
	size_t len = ws_server_response(out, sizeof(out), key, n);
	int ret = len == 0 ? -ENOSPC : conn_write(s, c, out, len, 0);

	if (ret < 0)
		conn_close(s, c);
	return ret;
}

/* The status and the cause for a request the parser refuses. */
static int refusal(long err, const char **msg)
{
	static const struct { long code; int status; const char *msg; } map[] = {
		{ HTTP_E_HEADER_TOO_BIG, 431, "request header fields too large" },
		{ HTTP_E_TOO_MANY_HEADERS, 431, "request header fields too large" },
		{ HTTP_E_BODY_TOO_BIG, 413, "payload too large" },
		{ HTTP_E_UNSUPPORTED, 501, "transfer encoding not supported" },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i].code == err) {
			*msg = map[i].msg;
			return map[i].status;
		}
	*msg = "bad request";
	return 400;
}

/* see serve.h */
long hses_input(struct serve *s, struct conn *c, uint8_t *p, size_t n)
{
	struct http_request h;
	struct hses_req q = { .h = &h };
	long r = http_request_parse(&h, (const char *)p, n, s->o.max_head,
				    s->o.max_body);
	const char *qm, *msg;
	int status;

	if (r == HTTP_PARTIAL)
		return 0;
	if (r < 0) {
		status = refusal(r, &msg);
		s->stats.err[E_HTTP_BAD]++;
		rest_refused(s, c, status, msg);
		return (long)n;
	}
	s->stats.http_requests++;
	q.keep_alive = h.keep_alive;
	q.path = h.target;
	qm = memchr(h.target, '?', h.target_len);
	q.path_len = qm ? (size_t)(qm - h.target) : h.target_len;
	rest_request(s, c, &q);
	if (c->state == CS_HTTP)
		conn_deadline(s, c, s->o.http_timeout_ms);
	return r;
}
