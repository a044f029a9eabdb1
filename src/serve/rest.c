/*
 * rest: the HTTP side of serve: the organizer and participant APIs
 * (SPEC.md §3), the messenger's REST chat endpoints, /stats and the
 * WebSocket upgrade (SPEC.md §4). See serve.h.
 */
#include "serve.h"
#include "store.h"
#include "http.h"
#include "json.h"
#include "jsonw.h"
#include "ws.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define MAX_TOKENS 128

struct req {
	struct serve *s;
	struct conn *c;
	const struct http_request *h;
	const char *path;
	size_t path_len;
	int keep_alive;
};

/* see serve.h */
void rest_reply(struct serve *s, struct conn *c, int status, const char *body,
		size_t body_len, int keep_alive)
{
	char *out = (char *)s->scratch2;
	size_t n = http_response_head(out, s->scratch_cap, status,
				      body_len ? "application/json" : NULL,
				      body_len, keep_alive, NULL);

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

static void reply_error(struct req *q, int status, const char *msg)
{
	char buf[512];
	long n = render_http_error(buf, sizeof(buf), status, msg);

	rest_reply(q->s, q->c, status, buf, n > 0 ? (size_t)n : 0,
		   q->keep_alive);
}

/* Finish a body written into s->scratch with w and send it. */
static void reply_jw(struct req *q, int status, struct jw *w)
{
	long n = jw_finish(w);

	if (n < 0) {
		reply_error(q, 500, "internal server error");
		return;
	}
	rest_reply(q->s, q->c, status, (const char *)q->s->scratch, (size_t)n,
		   q->keep_alive);
}

static int path_is(const struct req *q, const char *p)
{
	return q->path_len == strlen(p) && memcmp(q->path, p, q->path_len) == 0;
}

static int method_is(const struct req *q, const char *m)
{
	return q->h->method_len == strlen(m) &&
	       memcmp(q->h->method, m, q->h->method_len) == 0;
}

/* Bearer token of the request: 0 and role/user, or -EACCES. */
static int bearer(struct req *q, enum role *role, uint32_t *user)
{
	const struct http_header *a = http_header_find(q->h->headers,
						       q->h->num_headers,
						       "authorization");

	if (!a || a->value_len < 8 || strncasecmp(a->value, "Bearer ", 7) != 0)
		return -EACCES;
	return auth_token(q->s, a->value + 7, a->value_len - 7, role, user);
}

static int parse_body(struct req *q, struct json_doc *d, jsmntok_t *toks)
{
	if (json_parse(d, q->h->body, q->h->content_length, toks,
		       MAX_TOKENS) < 0 || json_type(d, 0) != JSMN_OBJECT) {
		reply_error(q, 400, "invalid request body");
		return -EINVAL;
	}
	return 0;
}

/* A string field into buf; 0, or -EINVAL when absent or not a string. */
static int str_field(const struct json_doc *d, const char *key, char *buf,
		     size_t cap, size_t *n)
{
	int t = json_find(d, 0, key);

	if (t < 0 || json_type(d, t) != JSMN_STRING)
		return -EINVAL;
	return json_get_str(d, t, buf, cap, n) == 0 ? 0 : -EINVAL;
}

static int email_valid(const char *e, size_t n)
{
	const char *at = memchr(e, '@', n);

	if (!at || at == e || n > 254)
		return 0;
	const char *dom = at + 1;
	size_t dn = n - (size_t)(dom - e);

	if (dn < 3 || !memchr(dom, '.', dn) || dom[0] == '.' ||
	    dom[dn - 1] == '.' || memchr(dom, '@', dn))
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)e[i] <= ' ' || e[i] == '"' || e[i] == ',')
			return 0;
	return 1;
}

static void reply_token(struct req *q, int status, enum role role,
			uint32_t user)
{
	char tok[512];
	struct jw w;
	int n = auth_issue(q->s, role, user, tok, sizeof(tok));

	if (n < 0) {
		reply_error(q, 500, "internal server error");
		return;
	}
	jw_init(&w, (char *)q->s->scratch, q->s->scratch_cap);
	jw_obj_begin(&w);
	jw_key(&w, "user");
	if (role == ROLE_ORG)
		render_org(q->s, &w, user);
	else
		render_part(q->s, &w, user, 0);
	jw_key(&w, "token");
	jw_str(&w, tok, (size_t)n);
	jw_obj_end(&w);
	reply_jw(q, status, &w);
}

static void sign_in(struct req *q, enum role role)
{
	jsmntok_t toks[MAX_TOKENS];
	struct json_doc d;
	char email[256], pw[256];
	size_t en, pn;
	uint32_t u;

	if (parse_body(q, &d, toks) < 0)
		return;
	if (str_field(&d, "email", email, sizeof(email), &en) < 0 ||
	    str_field(&d, "password", pw, sizeof(pw), &pn) < 0) {
		reply_error(q, 400, "invalid email or password");
		return;
	}
	if (role == ROLE_ORG) {
		u = store_org_find(q->s->st, email, en);
		if (u == NIL || strlen(store_org(q->s->st, u)->password) != pn ||
		    memcmp(store_org(q->s->st, u)->password, pw, pn) != 0)
			u = NIL;
	} else {
		u = store_part_find(q->s->st, email, en);
		if (u != NIL &&
		    !store_part_password_ok(store_part(q->s->st, u), pw, pn))
			u = NIL;
	}
	if (u == NIL) {
		reply_error(q, 400, "invalid email or password");
		return;
	}
	reply_token(q, 200, role, u);
}

static void sign_up(struct req *q)
{
	jsmntok_t toks[MAX_TOKENS];
	struct json_doc d;
	char email[256], pw[256], pw2[256], phone[64];
	size_t en, pn, pn2, phn = 0;
	uint32_t u;
	int t, ret;

	if (parse_body(q, &d, toks) < 0)
		return;
	if (str_field(&d, "email", email, sizeof(email), &en) < 0 ||
	    !email_valid(email, en)) {
		reply_error(q, 400, "invalid email address");
		return;
	}
	if (str_field(&d, "password", pw, sizeof(pw), &pn) < 0 || pn < 8) {
		reply_error(q, 400, "password must be at least 8 characters");
		return;
	}
	if (str_field(&d, "confirmPassword", pw2, sizeof(pw2), &pn2) < 0 ||
	    pn2 != pn || memcmp(pw, pw2, pn) != 0) {
		reply_error(q, 400, "confirmPassword must match password");
		return;
	}
	t = json_find(&d, 0, "phoneNumber");
	if (t >= 0 && (json_type(&d, t) != JSMN_STRING ||
		       json_get_str(&d, t, phone, sizeof(phone), &phn) < 0)) {
		reply_error(q, 400, "invalid phone number");
		return;
	}
	if (t < 0)
		phone[0] = 0;
	ret = store_part_add(q->s->st, email, en, pw, pn, phone, phn,
			     clock_real_ns(), &u);
	if (ret == -EEXIST) {
		reply_error(q, 400, "email already exists");
		return;
	}
	if (ret < 0) {
		reply_error(q, 500, "internal server error");
		return;
	}
	reply_token(q, 201, ROLE_PART, u);
}

static void profile(struct req *q, enum role want)
{
	enum role role;
	uint32_t u;
	struct jw w;

	if (bearer(q, &role, &u) < 0 || role != want) {
		reply_error(q, 401, "Unauthorized");
		return;
	}
	jw_init(&w, (char *)q->s->scratch, q->s->scratch_cap);
	if (role == ROLE_ORG)
		render_org(q->s, &w, u);
	else
		render_part(q->s, &w, u, 0);
	reply_jw(q, 200, &w);
}

static void chat_request(struct req *q)
{
	jsmntok_t toks[MAX_TOKENS];
	struct json_doc d;
	char desc[STORE_DESC_MAX * 4 + 1];
	size_t dn = 0;
	int64_t eid;
	double lat = 0, lng = 0;
	int has_lat, has_lng, ev, t;
	enum role role;
	uint32_t u;

	if (bearer(q, &role, &u) < 0 || role != ROLE_PART) {
		reply_error(q, 401, "Unauthorized");
		return;
	}
	if (parse_body(q, &d, toks) < 0)
		return;
	t = json_find(&d, 0, "eventId");
	if (t < 0 || json_get_i64(&d, t, &eid) < 0 || eid < 0 ||
	    eid > UINT32_MAX) {
		reply_error(q, 400, "eventId must be a number");
		return;
	}
	t = json_find(&d, 0, "description");
	if (t >= 0 && (json_type(&d, t) != JSMN_STRING ||
		       json_get_str(&d, t, desc, sizeof(desc), &dn) < 0)) {
		reply_error(q, 400, "description must be a string of at most "
			    "2000 characters");
		return;
	}
	if (dn && ws_utf8_valid((const uint8_t *)desc, dn)) {
		/* The limit counts characters, not bytes. */
		size_t chars = 0;

		for (size_t i = 0; i < dn; i++)
			chars += ((uint8_t)desc[i] & 0xc0) != 0x80;
		if (chars > STORE_DESC_MAX) {
			reply_error(q, 400, "description must be a string of "
				    "at most 2000 characters");
			return;
		}
	}
	t = json_find(&d, 0, "lat");
	has_lat = t >= 0 && !json_is_null(&d, t);
	if (has_lat && json_get_f64(&d, t, &lat) < 0) {
		reply_error(q, 400, "lat must be a number");
		return;
	}
	t = json_find(&d, 0, "lng");
	has_lng = t >= 0 && !json_is_null(&d, t);
	if (has_lng && json_get_f64(&d, t, &lng) < 0) {
		reply_error(q, 400, "lng must be a number");
		return;
	}
	ev = store_event_find(q->s->st, (uint32_t)eid);
	if (ev < 0) {
		char msg[64];

		snprintf(msg, sizeof(msg), "event with id %lld not found",
			 (long long)eid);
		reply_error(q, 404, msg);
		return;
	}
	t = store_request_add(q->s->st, u, ev, desc, dn, has_lat && has_lng,
			      lat, lng);
	if (t == -EBUSY) {
		reply_error(q, 400, "chat request already exists");
		return;
	}
	if (t < 0) {
		reply_error(q, 500, "internal server error");
		return;
	}
	q->s->stats.requests_total++;
	rest_reply(q->s, q->c, 200, NULL, 0, q->keep_alive);
}

static void chat_request_release(struct req *q)
{
	const struct http_header *k = http_header_find(q->h->headers,
						       q->h->num_headers,
						       "x-api-key");
	jsmntok_t toks[MAX_TOKENS];
	struct json_doc d;
	int64_t pid, eid;
	int tp, te, ev;

	if (!k || k->value_len != strlen(q->s->api_key) ||
	    memcmp(k->value, q->s->api_key, k->value_len) != 0) {
		reply_error(q, 401, "Unauthorized");
		return;
	}
	if (parse_body(q, &d, toks) < 0)
		return;
	tp = json_find(&d, 0, "participantId");
	te = json_find(&d, 0, "eventId");
	if (tp < 0 || te < 0 || json_get_i64(&d, tp, &pid) < 0 ||
	    json_get_i64(&d, te, &eid) < 0) {
		reply_error(q, 400, "participantId and eventId must be numbers");
		return;
	}
	ev = eid >= 0 && eid <= UINT32_MAX ?
	     store_event_find(q->s->st, (uint32_t)eid) : -1;
	if (pid < 1 || (uint64_t)pid > store_nparts(q->s->st) || ev < 0) {
		reply_error(q, 404, "chat request not found");
		return;
	}
	store_request_release(q->s->st, (uint32_t)pid - 1, ev);
	rest_reply(q->s, q->c, 200, NULL, 0, q->keep_alive);
}

/* GET /{agency,participant}/chats[/:id/messages] */
static void rest_chats(struct req *q, enum role want, const char *rest,
		       size_t rn)
{
	enum role role;
	uint32_t u;
	struct jw w;

	if (bearer(q, &role, &u) < 0 || role != want ||
	    (role == ROLE_ORG && (store_org(q->s->st, u)->role < 2 ||
				  store_org(q->s->st, u)->role > 4))) {
		reply_error(q, 401, "Unauthorized");
		return;
	}
	jw_init(&w, (char *)q->s->scratch, q->s->scratch_cap);
	if (rn == 0) {
		/* Agency: every chat of the organizer's agency; participant:
		 * its own. Newest first. */
		jw_obj_begin(&w);
		jw_key(&w, "chats");
		jw_arr_begin(&w);
		if (role == ROLE_ORG) {
			uint32_t ag = store_org(q->s->st, u)->agency;

			for (uint32_t i = (uint32_t)store_chats_total(q->s->st); i-- > 0;) {
				struct chat *c = store_chat(q->s->st, i);

				if (c->agency == ag)
					render_chat(q->s, &w, c, 0);
			}
		} else {
			for (uint32_t i = store_part(q->s->st, u)->chat_head;
			     i != NIL; i = store_chat(q->s->st, i)->next_of_part)
				render_chat(q->s, &w, store_chat(q->s->st, i), 0);
		}
		jw_arr_end(&w);
		jw_obj_end(&w);
		reply_jw(q, 200, &w);
		return;
	}
	/* "/<24 hex>/messages" */
	if (rn != 1 + 24 + 9 || rest[0] != '/' ||
	    memcmp(rest + 25, "/messages", 9) != 0) {
		reply_error(q, 404, "Not Found");
		return;
	}
	struct chat *c = store_chat_find(q->s->st, rest + 1, 24);

	if (!c) {
		reply_error(q, 404, "chat not found");
		return;
	}
	if (role == ROLE_ORG ? c->agency != store_org(q->s->st, u)->agency :
			       c->part != u) {
		char msg[64];

		snprintf(msg, sizeof(msg), "you have no access to chat %.24s",
			 c->id);
		reply_error(q, 403, msg);
		return;
	}
	jw_obj_begin(&w);
	jw_key(&w, "chatId");
	jw_str(&w, c->id, 24);
	jw_key(&w, "messages");
	jw_arr_begin(&w);
	for (uint32_t i = 0; i < c->hist_n; i++) {
		const struct msgrec *m = store_msg_at(q->s->st, c, i);

		if (m)
			render_msg(q->s, &w, m);
	}
	jw_arr_end(&w);
	jw_obj_end(&w);
	reply_jw(q, 200, &w);
}

static void upgrade(struct req *q)
{
	const struct http_request *h = q->h;
	const struct http_header *key = http_header_find(h->headers,
							 h->num_headers,
							 "sec-websocket-key");
	const struct http_header *ver = http_header_find(h->headers,
							 h->num_headers,
							 "sec-websocket-version");
	char out[256];
	size_t n;

	if (!h->upgrade_websocket || !key || !ws_key_valid(key->value,
							    key->value_len)) {
		reply_error(q, 400, "invalid websocket upgrade request");
		return;
	}
	if (!ver || ver->value_len != 2 || memcmp(ver->value, "13", 2) != 0) {
		/* RFC 6455 §4.4: name the version we speak. */
		static const char body[] =
			"{\"statusCode\":426,\"message\":\"unsupported websocket "
			"version\",\"error\":\"Upgrade Required\"}";
		char head[256];
		size_t hn = http_response_head(head, sizeof(head), 426,
					       "application/json",
					       sizeof(body) - 1, 0,
					       "Sec-WebSocket-Version: 13\r\n");

		conn_write(q->s, q->c, head, hn, 0);
		conn_write(q->s, q->c, body, sizeof(body) - 1, 0);
		conn_linger(q->s, q->c);
		return;
	}
	n = ws_server_response(out, sizeof(out), key->value, key->value_len);
	if (n == 0 || conn_write(q->s, q->c, out, n, 0) < 0) {
		conn_close(q->s, q->c);
		return;
	}
	q->s->stats.conns[0]--;
	q->s->stats.conns[1]++;
	q->c->state = CS_WS_AUTH;
	tw_del(&q->s->tw, &q->c->timer);
	tw_add(&q->s->tw, &q->c->timer, q->s->now_ms + q->s->o.auth_timeout_ms);
}

static void stats(struct req *q)
{
	long n = serve_stats_json(q->s, (char *)q->s->scratch,
				  q->s->scratch_cap);

	if (n < 0) {
		reply_error(q, 500, "internal server error");
		return;
	}
	rest_reply(q->s, q->c, 200, (const char *)q->s->scratch, (size_t)n,
		   q->keep_alive);
}

static void not_found(struct req *q)
{
	char msg[160];

	snprintf(msg, sizeof(msg), "Cannot %.*s %.*s", (int)q->h->method_len,
		 q->h->method, (int)(q->path_len > 100 ? 100 : q->path_len),
		 q->path);
	reply_error(q, 404, msg);
}

static int prefix(const struct req *q, const char *p, const char **rest,
		  size_t *rn)
{
	size_t n = strlen(p);

	if (q->path_len < n || memcmp(q->path, p, n) != 0)
		return 0;
	*rest = q->path + n;
	*rn = q->path_len - n;
	return *rn == 0 || **rest == '/';
}

static void route(struct req *q)
{
	const char *rest;
	size_t rn;

	switch (q->c->port) {
	case PORT_ORG:
		if (path_is(q, "/auth/sign-in") && method_is(q, "POST"))
			return sign_in(q, ROLE_ORG);
		if (path_is(q, "/profile") && method_is(q, "GET"))
			return profile(q, ROLE_ORG);
		break;
	case PORT_PART:
		if (path_is(q, "/auth/sign-up") && method_is(q, "POST"))
			return sign_up(q);
		if (path_is(q, "/auth/sign-in") && method_is(q, "POST"))
			return sign_in(q, ROLE_PART);
		if (path_is(q, "/profile") && method_is(q, "GET"))
			return profile(q, ROLE_PART);
		if (path_is(q, "/chat-requests") && method_is(q, "POST"))
			return chat_request(q);
		if (path_is(q, "/chat-requests") && method_is(q, "DELETE"))
			return chat_request_release(q);
		break;
	case PORT_MSG:
		if (!method_is(q, "GET"))
			break;
		if (path_is(q, "/connect"))
			return upgrade(q);
		if (path_is(q, "/stats"))
			return stats(q);
		if (prefix(q, "/agency/chats", &rest, &rn))
			return rest_chats(q, ROLE_ORG, rest, rn);
		if (prefix(q, "/participant/chats", &rest, &rn))
			return rest_chats(q, ROLE_PART, rest, rn);
		break;
	}
	not_found(q);
}

/* see serve.h */
long rest_input(struct serve *s, struct conn *c, uint8_t *p, size_t n)
{
	struct http_request h;
	struct req q = { .s = s, .c = c, .h = &h };
	long r = http_request_parse(&h, (const char *)p, n, s->o.max_head,
				    s->o.max_body);
	const char *qm;

	if (r == HTTP_PARTIAL)
		return 0;
	if (r < 0) {
		static const struct { long code; int status; const char *msg; } map[] = {
			{ HTTP_E_HEADER_TOO_BIG, 431, "request header fields too large" },
			{ HTTP_E_TOO_MANY_HEADERS, 431, "request header fields too large" },
			{ HTTP_E_BODY_TOO_BIG, 413, "payload too large" },
			{ HTTP_E_UNSUPPORTED, 501, "transfer encoding not supported" },
		};
		int status = 400;
		const char *msg = "bad request";

		for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
			if (map[i].code == r) {
				status = map[i].status;
				msg = map[i].msg;
			}
		s->stats.err[E_HTTP_BAD]++;
		q.keep_alive = 0;
		reply_error(&q, status, msg);
		return (long)n;
	}
	s->stats.http_requests++;
	q.keep_alive = h.keep_alive;
	q.path = h.target;
	qm = memchr(h.target, '?', h.target_len);
	q.path_len = qm ? (size_t)(qm - h.target) : h.target_len;
	route(&q);
	if (c->state == CS_HTTP) {
		tw_del(&s->tw, &c->timer);
		tw_add(&s->tw, &c->timer, s->now_ms + s->o.http_timeout_ms);
	}
	return r;
}
