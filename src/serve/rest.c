/*
 * rest: the HTTP side of serve: the organizer and participant APIs
 * (docs/protocol.md §3), the messenger's REST chat endpoints, /stats and
 * the WebSocket upgrade (docs/protocol.md §4). Status codes, error texts
 * and body shapes follow the service that answers the call in ESME (NestJS
 * on the organizer port, Go on the other two). It hears whole requests
 * from the HTTP session (http_session.c) and answers through it. See
 * serve.h.
 */
#include "serve.h"
#include "store.h"
#include "http.h"
#include "json.h"
#include "jsonw.h"
#include "ws.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
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

/* A response with a JSON body (NULL body: empty; the Content-Type is
 * application/json either way, as ESME's services send). */
static void reply(struct req *q, int status, const char *body,
		  size_t body_len)
{
	hses_reply(q->s, q->c, status, "application/json", NULL, body,
		   body_len, q->keep_alive);
}

static void reply_error(struct req *q, int status, const char *msg)
{
	char buf[512];
	long n = render_http_error(buf, sizeof(buf), status, msg);

	reply(q, status, buf, n > 0 ? (size_t)n : 0);
}

/*
 * Go's http.Error and http.NotFound, which the participant API and the
 * messenger answer with outside their handlers (httprouter, gorilla's
 * upgrader): a plain-text status line.
 */
static void reply_text(struct req *q, int status, const char *text,
		       const char *extra)
{
	char head[256];

	snprintf(head, sizeof(head), "X-Content-Type-Options: nosniff\r\n%s",
		 extra ? extra : "");
	hses_reply(q->s, q->c, status, "text/plain; charset=utf-8", head,
		   text, strlen(text), q->keep_alive);
}

/* Finish a body written into s->scratch with w and send it. */
static void reply_jw(struct req *q, int status, struct jw *w)
{
	long n = jw_finish(w);

	if (n < 0) {
		reply_error(q, 500, "internal server error");
		return;
	}
	reply(q, status, (const char *)q->s->scratch, (size_t)n);
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

/*
 * The credential of "Authorization: Bearer <credential>", split the way all
 * three ESME services split it: on single spaces, exactly two parts, the
 * first exactly "Bearer". 0 with the value in v and n, or -EACCES.
 */
static int bearer_value(const struct req *q, const char **v, size_t *n)
{
	const struct http_header *a = http_header_find(q->h->headers,
						       q->h->num_headers,
						       "authorization");

	if (!a || a->value_len < 7 || memcmp(a->value, "Bearer ", 7) != 0 ||
	    memchr(a->value + 7, ' ', a->value_len - 7))
		return -EACCES;
	*v = a->value + 7;
	*n = a->value_len - 7;
	return 0;
}

/*
 * The role prefix of a token as the services read it: "<prefix>:<jwt>"
 * with exactly one colon. ROLE_ORG, ROLE_PART, ROLE_NONE (another prefix)
 * or -EINVAL (not two parts).
 */
static int token_prefix(const char *t, size_t n)
{
	const char *colon = memchr(t, ':', n);

	if (!colon || memchr(colon + 1, ':', n - (size_t)(colon + 1 - t)))
		return -EINVAL;
	if ((size_t)(colon - t) == 9 && memcmp(t, "organizer", 9) == 0)
		return ROLE_ORG;
	if ((size_t)(colon - t) == 11 && memcmp(t, "participant", 11) == 0)
		return ROLE_PART;
	return ROLE_NONE;
}

/*
 * The participant API's current-user check (docs/protocol.md §3): 0 and
 * *user, or the 401 is sent and -EACCES returned.
 */
static int participant_auth(struct req *q, uint32_t *user)
{
	const char *v;
	size_t n;
	enum role role;

	if (bearer_value(q, &v, &n) < 0) {
		reply_error(q, 401, "invalid authorization header");
		return -EACCES;
	}
	if (token_prefix(v, n) != ROLE_PART ||
	    auth_token(q->s, v, n, &role, user) < 0 || role != ROLE_PART) {
		reply_error(q, 401, "invalid token");
		return -EACCES;
	}
	return 0;
}

/* The messenger's REST middleware (docs/protocol.md §4, REST): 0 and
 * *user, or the 401 is sent and -EACCES returned. */
static int messenger_auth(struct req *q, enum role want, uint32_t *user)
{
	const char *v;
	size_t n;
	enum role role;
	int p;

	if (bearer_value(q, &v, &n) < 0 ||
	    (p = token_prefix(v, n)) < 0 || p == ROLE_NONE) {
		reply_error(q, 401, "malformed token");
		return -EACCES;
	}
	if (p != (int)want) {
		reply_error(q, 401, "invalid token type");
		return -EACCES;
	}
	if (auth_token(q->s, v, n, &role, user) < 0) {
		reply_error(q, 401, "unknown user");
		return -EACCES;
	}
	if (role == ROLE_ORG && (store_org(q->s->st, *user)->role < 2 ||
				 store_org(q->s->st, *user)->role > 4)) {
		reply_error(q, 401, "invalid role");
		return -EACCES;
	}
	return 0;
}

/* The service key, as the participant API checks it: a bearer credential. */
static int api_key_auth(struct req *q)
{
	const char *v;
	size_t n;

	if (bearer_value(q, &v, &n) < 0) {
		reply_error(q, 401, "invalid authorization header");
		return -EACCES;
	}
	if (n != strlen(q->s->api_key) || memcmp(v, q->s->api_key, n) != 0) {
		reply_error(q, 401, "invalid api key");
		return -EACCES;
	}
	return 0;
}

/* The body as one JSON object; a parse error is answered (400) here. The
 * services' own parsers word that error differently (docs/protocol.md §3). */
static int parse_body(struct req *q, struct json_doc *d, jsmntok_t *toks,
		      unsigned ntoks)
{
	if (json_parse(d, q->h->body, q->h->content_length, toks, ntoks) < 0 ||
	    json_type(d, 0) != JSMN_OBJECT) {
		reply_error(q, 400, "invalid request body");
		return -EINVAL;
	}
	return 0;
}

/*
 * A string field as Go's encoding/json fills one: absent or null leave it
 * empty, a string sets it, anything else is an error. 0 or -EINVAL.
 */
static int go_str(const struct json_doc *d, const char *key, char *buf,
		  size_t cap, size_t *n)
{
	int t = json_find(d, 0, key);

	*n = 0;
	buf[0] = 0;
	if (t < 0 || json_is_null(d, t))
		return 0;
	if (json_type(d, t) != JSMN_STRING)
		return -EINVAL;
	return json_get_str(d, t, buf, cap, n) == 0 ? 0 : -EINVAL;
}

/* An int field the same way (absent or null: 0). */
static int go_int(const struct json_doc *d, const char *key, int64_t *v)
{
	int t = json_find(d, 0, key);

	*v = 0;
	if (t < 0 || json_is_null(d, t))
		return 0;
	return json_type(d, t) == JSMN_PRIMITIVE ? json_get_i64(d, t, v) :
						    -EINVAL;
}

/* RFC 5322 atext, plus any non-ASCII byte (RFC 6532). */
static int atext(unsigned char ch)
{
	return ch >= 0x80 || (ch >= 'a' && ch <= 'z') ||
	       (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       strchr("!#$%&'*+-/=?^_`{|}~", ch) != NULL;
}

/* dot-atom: atext runs separated by single dots. */
static int dot_atom(const char *p, size_t n)
{
	int run = 0;

	for (size_t i = 0; i < n; i++) {
		if (p[i] == '.') {
			if (!run)
				return 0;
			run = 0;
		} else if (atext((unsigned char)p[i])) {
			run = 1;
		} else {
			return 0;
		}
	}
	return run;
}

/*
 * An address "local@domain" of two dot-atoms: the common part of Go's
 * mail.ParseAddress (participant API) and, with js set, of validator.js's
 * isEmail (organizer API), which also wants a dotted domain whose last
 * label has two or more characters. Display names, quoted local parts and
 * domain literals are not taken (docs/protocol.md §3).
 */
static int email_valid(const char *e, size_t n, int js)
{
	const char *at = memrchr(e, '@', n);
	const char *dom, *dot;
	size_t dn;

	if (!at || n > 320)
		return 0;
	dom = at + 1;
	dn = n - (size_t)(dom - e);
	if (!dot_atom(e, (size_t)(at - e)) || !dot_atom(dom, dn))
		return 0;
	if (!js)
		return 1;
	dot = memrchr(dom, '.', dn);
	return dot && dom + dn - (dot + 1) >= 2;
}

/* Characters of a UTF-8 string, as JavaScript's length roughly counts. */
static size_t utf8_chars(const char *p, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		k += ((uint8_t)p[i] & 0xc0) != 0x80;
	return k;
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

/*
 * Organizer sign-in. The organizer API (NestJS) runs its ValidationPipe
 * first: unknown keys are refused and every failed rule of the two fields
 * is listed, in the order class-validator reports them, as a "message"
 * array; only a valid body reaches the credential check.
 */
static void org_sign_in(struct req *q)
{
	jsmntok_t toks[MAX_TOKENS];
	struct json_doc d;
	char email[512], pw[512], line[320];
	size_t en = 0, pn = 0;
	int te, tp, nerr = 0;
	uint32_t u;
	struct jw w;
	const struct organizer *o;

	if (parse_body(q, &d, toks, MAX_TOKENS) < 0)
		return;
	jw_init(&w, (char *)q->s->scratch, q->s->scratch_cap);
	jw_obj_begin(&w);
	jw_kv_i64(&w, "statusCode", 400);
	jw_key(&w, "message");
	jw_arr_begin(&w);
	for (int t = 1; t < d.ntok; t = json_next(&d, t + 1)) {
		char key[128];
		size_t kn;

		if (json_get_str(&d, t, key, sizeof(key), &kn) < 0)
			kn = 0;   /* an over-long key: named by its start */
		if (kn == 5 && !memcmp(key, "email", 5))
			continue;
		if (kn == 8 && !memcmp(key, "password", 8))
			continue;
		snprintf(line, sizeof(line), "property %.*s should not exist",
			 (int)kn, key);
		jw_cstr(&w, line);
		nerr++;
	}
	te = json_find(&d, 0, "email");
	if (te < 0 || json_type(&d, te) != JSMN_STRING ||
	    json_get_str(&d, te, email, sizeof(email), &en) < 0)
		te = -1;
	tp = json_find(&d, 0, "password");
	if (tp < 0 || json_type(&d, tp) != JSMN_STRING ||
	    json_get_str(&d, tp, pw, sizeof(pw), &pn) < 0)
		tp = -1;
	if (te < 0 || utf8_chars(email, en) > 320) {
		jw_cstr(&w, "email must be shorter than or equal to 320 characters");
		nerr++;
	}
	if (te < 0 || !email_valid(email, en, 1)) {
		jw_cstr(&w, "email must be an email");
		nerr++;
	}
	if (tp < 0 || utf8_chars(pw, pn) > 128) {
		jw_cstr(&w, "password must be shorter than or equal to 128 characters");
		nerr++;
	}
	if (tp < 0 || utf8_chars(pw, pn) < 16) {
		jw_cstr(&w, "password must be longer than or equal to 16 characters");
		nerr++;
	}
	if (tp < 0) {
		jw_cstr(&w, "password must be a string");
		nerr++;
	}
	jw_arr_end(&w);
	jw_kv_cstr(&w, "error", "Bad Request");
	jw_obj_end(&w);
	if (nerr) {
		reply_jw(q, 400, &w);
		return;
	}
	u = store_org_find(q->s->st, email, en);
	o = u != NIL ? store_org(q->s->st, u) : NULL;
	if (!o || strlen(o->password) != pn || memcmp(o->password, pw, pn)) {
		reply_error(q, 400, "invalid email or password");
		return;
	}
	reply_token(q, 200, ROLE_ORG, u);
}

/* Participant sign-in: the DTO's checks, then 401 for bad credentials. */
static void part_sign_in(struct req *q)
{
	jsmntok_t toks[MAX_TOKENS];
	struct json_doc d;
	char email[512], pw[512];
	size_t en, pn;
	uint32_t u;

	if (parse_body(q, &d, toks, MAX_TOKENS) < 0)
		return;
	if (go_str(&d, "email", email, sizeof(email), &en) < 0 ||
	    go_str(&d, "password", pw, sizeof(pw), &pn) < 0) {
		reply_error(q, 400, "invalid request body");
		return;
	}
	if (!email_valid(email, en, 0)) {
		reply_error(q, 400, "invalid email address");
		return;
	}
	if (pn < 8) {
		reply_error(q, 400, "password must be at least 8 characters");
		return;
	}
	u = store_part_find(q->s->st, email, en);
	if (u == NIL ||
	    !store_part_password_ok(store_part(q->s->st, u), pw, pn)) {
		reply_error(q, 401, "invalid email or password");
		return;
	}
	reply_token(q, 200, ROLE_PART, u);
}

static void sign_up(struct req *q)
{
	jsmntok_t toks[MAX_TOKENS];
	struct json_doc d;
	char email[512], pw[512], pw2[512], phone[128];
	size_t en, pn, pn2, phn;
	uint32_t u;
	int ret;

	if (parse_body(q, &d, toks, MAX_TOKENS) < 0)
		return;
	if (go_str(&d, "email", email, sizeof(email), &en) < 0 ||
	    go_str(&d, "password", pw, sizeof(pw), &pn) < 0 ||
	    go_str(&d, "confirmPassword", pw2, sizeof(pw2), &pn2) < 0 ||
	    go_str(&d, "phoneNumber", phone, sizeof(phone), &phn) < 0) {
		reply_error(q, 400, "invalid request body");
		return;
	}
	if (!email_valid(email, en, 0)) {
		reply_error(q, 400, "invalid email address");
		return;
	}
	if (pn < 8) {
		reply_error(q, 400, "password must be at least 8 characters");
		return;
	}
	if (pn2 != pn || memcmp(pw, pw2, pn) != 0) {
		reply_error(q, 400, "confirmPassword must match password");
		return;
	}
	ret = store_part_add(q->s->st, email, en, pw, pn, phone, phn,
			     clock_real_ns(), &u);
	if (ret == -EEXIST) {
		reply_error(q, 400, "email already exists");
		return;
	}
	if (ret < 0) {
		reply_error(q, 500, "database error");
		return;
	}
	reply_token(q, 201, ROLE_PART, u);
}

/* Organizer GET /profile: the organizer API's guard refuses any request
 * without a valid organizer token with 403 (docs/protocol.md §3). */
static void org_profile(struct req *q)
{
	const char *v;
	size_t n;
	enum role role;
	uint32_t u;
	struct jw w;

	if (bearer_value(q, &v, &n) < 0 || token_prefix(v, n) != ROLE_ORG ||
	    auth_token(q->s, v, n, &role, &u) < 0 || role != ROLE_ORG) {
		reply_error(q, 403, "Forbidden resource");
		return;
	}
	jw_init(&w, (char *)q->s->scratch, q->s->scratch_cap);
	render_org(q->s, &w, u);
	reply_jw(q, 200, &w);
}

static void part_profile(struct req *q)
{
	uint32_t u;
	struct jw w;

	if (participant_auth(q, &u) < 0)
		return;
	jw_init(&w, (char *)q->s->scratch, q->s->scratch_cap);
	render_part(q->s, &w, u, 0);
	reply_jw(q, 200, &w);
}

/* A number field (lat, lng): absent or null is no value. 1 with *v, 0, or
 * -EINVAL. */
static int go_num(const struct json_doc *d, const char *key, double *v)
{
	int t = json_find(d, 0, key);

	if (t < 0 || json_is_null(d, t))
		return 0;
	if (json_type(d, t) != JSMN_PRIMITIVE || json_get_f64(d, t, v) < 0)
		return -EINVAL;
	return 1;
}

/*
 * POST /chat-requests, in the participant API's order: the body's types,
 * the description's length in bytes, the event, then the lock.
 */
static void chat_request(struct req *q)
{
	jsmntok_t toks[MAX_TOKENS];
	struct json_doc d;
	char desc[STORE_DESC_MAX + 2];
	size_t dn = 0;
	int64_t eid;
	double lat = 0, lng = 0;
	int has_lat, has_lng, ev, t, too_long = 0, bad_desc = 0;
	uint32_t u;

	if (participant_auth(q, &u) < 0)
		return;
	if (parse_body(q, &d, toks, MAX_TOKENS) < 0)
		return;
	t = json_find(&d, 0, "description");
	if (t >= 0 && !json_is_null(&d, t)) {
		int r = json_type(&d, t) != JSMN_STRING ? -EINVAL :
			json_get_str(&d, t, desc, sizeof(desc), &dn);

		if (r == -ENOSPC)
			too_long = 1;
		else if (r < 0)
			bad_desc = 1;
	}
	has_lat = go_num(&d, "lat", &lat);
	has_lng = go_num(&d, "lng", &lng);
	if (go_int(&d, "eventId", &eid) < 0 || bad_desc || has_lat < 0 ||
	    has_lng < 0) {
		reply_error(q, 400, "invalid request body");
		return;
	}
	if (too_long || dn > STORE_DESC_MAX) {
		reply_error(q, 400, "description must be at most 2000 characters");
		return;
	}
	ev = eid >= 0 && eid <= UINT32_MAX ?
	     store_event_find(q->s->st, (uint32_t)eid) : -1;
	if (ev < 0) {
		char msg[64];

		snprintf(msg, sizeof(msg), "event with id %lld not found",
			 (long long)eid);
		reply_error(q, 404, msg);
		return;
	}
	t = store_request_add(q->s->st, u, ev, desc, dn,
			      (has_lat ? LOC_LAT : 0) | (has_lng ? LOC_LNG : 0),
			      lat, lng);
	if (t == -EBUSY) {
		reply_error(q, 400, "chat request already exists");
		return;
	}
	if (t < 0) {
		reply_error(q, 500, "database error");
		return;
	}
	q->s->stats.requests_total++;
	reply(q, 200, NULL, 0);
}

/* DELETE /chat-requests (service key): releases the lock if there is one;
 * 200 either way, as the participant API's DELETE statement does. */
static void chat_request_release(struct req *q)
{
	jsmntok_t toks[MAX_TOKENS];
	struct json_doc d;
	int64_t pid, eid;
	int ev;

	if (api_key_auth(q) < 0 || parse_body(q, &d, toks, MAX_TOKENS) < 0)
		return;
	if (go_int(&d, "participantId", &pid) < 0 ||
	    go_int(&d, "eventId", &eid) < 0) {
		reply_error(q, 400, "invalid request body");
		return;
	}
	ev = eid >= 0 && eid <= UINT32_MAX ?
	     store_event_find(q->s->st, (uint32_t)eid) : -1;
	if (pid >= 1 && (uint64_t)pid <= store_nparts(q->s->st) && ev >= 0)
		store_request_release(q->s->st, (uint32_t)pid - 1, ev);
	reply(q, 200, NULL, 0);
}

/* Decimal strings order: Go's encoding/json sorts a map's keys so. */
static int id_str_cmp(const void *a, const void *b)
{
	char x[16], y[16];

	snprintf(x, sizeof(x), "%u", *(const uint32_t *)a);
	snprintf(y, sizeof(y), "%u", *(const uint32_t *)b);
	return strcmp(x, y);
}

/*
 * GET /users (service key), body {"ids": [...]}: the participants found,
 * as an object keyed by id. The messenger looks participants up with it.
 * Tokens and ids live in scratch2 (the body is at most max_body bytes).
 */
static void users_by_ids(struct req *q)
{
	struct serve *s = q->s;
	size_t half = s->scratch_cap / 2;
	jsmntok_t *toks = (jsmntok_t *)s->scratch2;
	uint32_t *ids = (uint32_t *)(s->scratch2 + half);
	size_t nids = 0, max_ids = half / sizeof(*ids);
	struct json_doc d;
	struct jw w;
	int t, n = 0, bad = 0;

	if (api_key_auth(q) < 0 ||
	    parse_body(q, &d, toks, (unsigned)(half / sizeof(*toks))) < 0)
		return;
	/* Go's decoding: absent or null is an empty list, which is refused
	 * like a list with a member that is not an int. */
	t = json_find(&d, 0, "ids");
	if (t >= 0 && !json_is_null(&d, t)) {
		if (json_type(&d, t) != JSMN_ARRAY)
			bad = 1;
		else
			n = d.tok[t].size;
	}
	for (int k = 0, e = t + 1; !bad && k < n; k++, e = json_next(&d, e)) {
		int64_t id;

		if (json_type(&d, e) != JSMN_PRIMITIVE ||
		    json_get_i64(&d, e, &id) < 0)
			bad = 1;
		else if (id >= 1 && (uint64_t)id <= store_nparts(s->st) &&
			 nids < max_ids)
			ids[nids++] = (uint32_t)id;
	}
	if (bad || n == 0) {
		reply_error(q, 400, "invalid request body");
		return;
	}
	qsort(ids, nids, sizeof(*ids), id_str_cmp);
	jw_init(&w, (char *)s->scratch, s->scratch_cap);
	jw_obj_begin(&w);
	for (size_t k = 0; k < nids; k++) {
		char key[16];

		if (k && ids[k] == ids[k - 1])
			continue;
		snprintf(key, sizeof(key), "%u", ids[k]);
		jw_key(&w, key);
		render_part(s, &w, ids[k] - 1, 0);
	}
	jw_obj_end(&w);
	reply_jw(q, 200, &w);
}

/*
 * The messenger's REST chat endpoints (docs/protocol.md §4, REST):
 * GET /agency/chats and /participant/chats list the ended chats, newest
 * first, each with its participant, as a bare array; .../:chatId/messages
 * lists a chat's messages, oldest first, or answers 400 "chat not found"
 * for a chat that is not the caller's (or its agency's).
 */
static void rest_chats(struct req *q, enum role want, const char *rest,
		       size_t rn)
{
	struct serve *s = q->s;
	uint32_t u;
	struct jw w;
	struct chat *c;

	if (messenger_auth(q, want, &u) < 0)
		return;
	jw_init(&w, (char *)s->scratch, s->scratch_cap);
	if (rn == 0) {
		jw_arr_begin(&w);
		if (want == ROLE_ORG) {
			uint32_t ag = store_org(s->st, u)->agency;

			for (uint32_t i = (uint32_t)store_chats_total(s->st); i-- > 0;) {
				c = store_chat(s->st, i);
				if (c->agency == ag && c->ended)
					render_chat(s, &w, c, 1);
			}
		} else {
			for (uint32_t i = store_part(s->st, u)->chat_head;
			     i != NIL; i = c->next_of_part) {
				c = store_chat(s->st, i);
				if (c->ended)
					render_chat(s, &w, c, 1);
			}
		}
		jw_arr_end(&w);
		reply_jw(q, 200, &w);
		return;
	}
	/* "/<chatId>/messages": any one path segment names the chat. */
	if (rn < 11 || rest[0] != '/' || memcmp(rest + rn - 9, "/messages", 9) ||
	    memchr(rest + 1, '/', rn - 10)) {
		reply_text(q, 404, "404 page not found\n", NULL);
		return;
	}
	c = store_chat_find(s->st, rest + 1, rn - 10);
	if (!c || (want == ROLE_ORG ? c->agency != store_org(s->st, u)->agency :
				      c->part != u)) {
		s->stats.err[E_CHAT_NOT_FOUND]++;
		reply_error(q, 400, "chat not found");
		return;
	}
	jw_arr_begin(&w);
	store_hist_lock(s->st, c);
	for (uint32_t i = 0; i < c->hist_n; i++) {
		const struct msgrec *m = store_msg_at(s->st, c, i);

		if (m)
			render_msg(s, &w, m);
	}
	store_hist_unlock(s->st, c);
	jw_arr_end(&w);
	reply_jw(q, 200, &w);
}

/*
 * GET /connect. gorilla/websocket's upgrader answers a request it cannot
 * upgrade (no upgrade tokens, a version other than 13, a bad key) with
 * http.Error 400 and names the version it speaks.
 */
static void upgrade(struct req *q)
{
	const struct http_request *h = q->h;
	const struct http_header *key = http_header_find(h->headers,
							 h->num_headers,
							 "sec-websocket-key");
	const struct http_header *ver = http_header_find(h->headers,
							 h->num_headers,
							 "sec-websocket-version");

	if (!h->upgrade_websocket || !ver || ver->value_len != 2 ||
	    memcmp(ver->value, "13", 2) != 0 || !key ||
	    !ws_key_valid(key->value, key->value_len)) {
		reply_text(q, 400, "Bad Request\n", "Sec-Websocket-Version: 13\r\n");
		return;
	}
	if (hses_upgrade(q->s, q->c, key->value, key->value_len) < 0)
		return;
	/* The messenger's first message is the authorization. */
	conn_set_state(q->s, q->c, CS_WS_AUTH);
	conn_deadline(q->s, q->c, q->s->o.auth_timeout_ms);
}

/* GET /stats (JSON) or GET /metrics (prom: the Prometheus text
 * exposition of the same counters). */
static void stats(struct req *q, int prom)
{
	long n = (prom ? serve_metrics_text : serve_stats_json)(
		q->s, (char *)q->s->scratch, q->s->scratch_cap);

	if (n < 0) {
		reply_error(q, 500, "internal server error");
		return;
	}
	if (prom)
		hses_reply(q->s, q->c, 200,
			   "text/plain; version=0.0.4; charset=utf-8", NULL,
			   (const char *)q->s->scratch, (size_t)n, q->keep_alive);
	else
		reply(q, 200, (const char *)q->s->scratch, (size_t)n);
}

/* The organizer API (NestJS) for a route it does not have. */
static void not_found(struct req *q)
{
	char msg[160];

	snprintf(msg, sizeof(msg), "Cannot %.*s %.*s", (int)q->h->method_len,
		 q->h->method, (int)(q->path_len > 100 ? 100 : q->path_len),
		 q->path);
	reply_error(q, 404, msg);
}

/* httprouter (participant API, messenger) for a path it does not have,
 * and for a path it has under another method. */
static void go_not_found(struct req *q, const char *allow)
{
	char extra[96];

	if (!allow) {
		reply_text(q, 404, "404 page not found\n", NULL);
		return;
	}
	snprintf(extra, sizeof(extra), "Allow: %s\r\n", allow);
	reply_text(q, 405, "Method Not Allowed\n", extra);
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
	int get = method_is(q, "GET");

	switch (q->c->port) {
	case PORT_ORG:
		if (path_is(q, "/auth/sign-in") && method_is(q, "POST"))
			return org_sign_in(q);
		if (path_is(q, "/profile") && get)
			return org_profile(q);
		return not_found(q);
	case PORT_PART:
		if (path_is(q, "/auth/sign-up"))
			return method_is(q, "POST") ? sign_up(q) :
			       go_not_found(q, "OPTIONS, POST");
		if (path_is(q, "/auth/sign-in"))
			return method_is(q, "POST") ? part_sign_in(q) :
			       go_not_found(q, "OPTIONS, POST");
		if (path_is(q, "/profile"))
			return get ? part_profile(q) :
			       go_not_found(q, "GET, OPTIONS");
		if (path_is(q, "/chat-requests")) {
			if (method_is(q, "POST"))
				return chat_request(q);
			if (method_is(q, "DELETE"))
				return chat_request_release(q);
			return go_not_found(q, "DELETE, OPTIONS, POST");
		}
		if (path_is(q, "/users"))
			return get ? users_by_ids(q) :
			       go_not_found(q, "GET, OPTIONS");
		return go_not_found(q, NULL);
	case PORT_MSG:
		if (path_is(q, "/connect"))
			return get ? upgrade(q) : go_not_found(q, "GET, OPTIONS");
		if (path_is(q, "/stats"))
			return get ? stats(q, 0) : go_not_found(q, "GET, OPTIONS");
		if (prefix(q, "/agency/chats", &rest, &rn))
			return get ? rest_chats(q, ROLE_ORG, rest, rn) :
			       go_not_found(q, "GET, OPTIONS");
		if (prefix(q, "/participant/chats", &rest, &rn))
			return get ? rest_chats(q, ROLE_PART, rest, rn) :
			       go_not_found(q, "GET, OPTIONS");
		return go_not_found(q, NULL);
	case PORT_METRICS:
		if (path_is(q, "/metrics") && get)
			return stats(q, 1);
		return reply_text(q, 404, "not found: GET /metrics\n", NULL);
	}
	not_found(q);
}

/* see serve.h */
void rest_request(struct serve *s, struct conn *c, const struct hses_req *r)
{
	struct req q = {
		.s = s, .c = c, .h = r->h,
		.path = r->path, .path_len = r->path_len,
		.keep_alive = r->keep_alive,
	};

	serve_lock(s);
	route(&q);
	serve_unlock(s);
}

/* see serve.h */
void rest_refused(struct serve *s, struct conn *c, int status,
		  const char *msg)
{
	struct req q = { .s = s, .c = c, .keep_alive = 0 };

	reply_error(&q, status, msg);
}
