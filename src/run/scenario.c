/*
 * scenario: what the participants and organizers of `esmeload run` do
 * (docs/protocol.md §5), as state machines over worker.c's connections.
 * See run.h.
 *
 * A participant: sign-up and chat request over a shared pool of keep-alive
 * REST connections, then its own WebSocket: upgrade, authorization, its
 * chat (from a new_chat push or up to 10 get_chats, smi apart), then
 * send_message every smi on a fixed schedule. An organizer: sign-in, its
 * WebSocket, start_chat every sci. Every connection reads all it is sent.
 */
#include "run.h"
#include "http.h"
#include "json.h"
#include "jsonw.h"
#include "ws.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCHUNK 1024
#define MAX_TOKENS 256
#define GET_CHATS_TRIES 10

enum tkind { TK_PART = 1, TK_ORG, TK_ARRIVAL };

#define timer run_timer

enum pstate {
	P_SIGNUP_Q = 0, P_SIGNUP, P_REQUEST_Q, P_REQUEST, P_CONNECT, P_UPGRADE,
	P_WAIT_CHAT, P_CHAT, P_DONE,
};

struct part {
	uint64_t n;          /* participant number, from 1 */
	uint32_t user_id;    /* the server's id */
	uint32_t conn;       /* WebSocket slot or NIL */
	uint8_t state;       /* enum pstate */
	uint8_t tries;       /* get_chats sent */
	uint8_t awaiting;    /* the answer to the last get_chats is due */
	uint8_t addr_len;
	uint8_t failed;      /* counted in part_failed */
	char addr[48];       /* local "ip:port", for the message text */
	char chat[24];
	uint32_t k;          /* last message number encoded */
	uint32_t ksub;       /* ... handed to the kernel (lag taken) */
	uint32_t nsent;      /* ... taken by the kernel in full */
	uint32_t ndeliv;     /* own echoes received */
	uint32_t high;       /* highest message number echoed */
	uint32_t http;       /* REST connection of its request, or NIL */
	int64_t due_ns;      /* its arrival's scheduled moment */
	int64_t phase_ns;    /* when its current phase began */
	int64_t chat_ns;     /* schedule base: when the chat was found */
	struct timer t;
	char *token;         /* tok_pool block until authorized */
	uint16_t token_len;
	/*
	 * Send lag of the last LAGS messages, by number: the echo of message
	 * k finds its actual send time as scheduled + lag. An entry is the
	 * lag in µs (26 bits, saturating at 67 s) under a 6-bit tag of
	 * k / LAGS, so an entry overwritten by a later message is recognised
	 * and counted instead of misread.
	 */
	uint32_t lag[32];
};
#define LAGS 32
#define LAG_BITS 26
#define LAG_TAG(k) ((uint32_t)(((k) / LAGS) & 63) << LAG_BITS)

enum ostate { O_SIGNIN = 0, O_CONNECT, O_UPGRADE, O_OPEN, O_DONE };

struct org {
	uint32_t conn;
	uint8_t state;
	char token[768];
	size_t token_len;
	int64_t start_ns;
	uint64_t j;          /* start_chat frames sent */
	struct timer t;
};

enum hstate { H_DOWN = 0, H_CONNECTING, H_IDLE, H_BUSY };

/* A REST connection. The deadline of a request is its participant's
 * timer: it runs from when the request was queued, not from when a
 * connection was free to write it. */
struct httpc {
	uint32_t conn;
	uint8_t state;
	uint32_t job;        /* participant index while busy */
};

static struct part *part_at(struct worker *w, uint32_t i)
{
	return &w->pchunks[i / PCHUNK][i % PCHUNK];
}

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void mask_bytes(struct worker *w, uint8_t m[4])
{
	uint32_t v = (uint32_t)splitmix(&w->rng);

	memcpy(m, &v, 4);
}

/* The Sec-WebSocket-Key of connection `who`: derived, so it need not be
 * stored between the request and the response. */
static void ws_key_for(struct worker *w, uint64_t who, char key[WS_KEY_LEN + 1])
{
	uint64_t x = w->key_seed ^ who, r[2];

	r[0] = splitmix(&x);
	r[1] = splitmix(&x);
	ws_client_key(key, (const uint8_t *)r);
}

static int64_t ms_ns(int64_t ms) { return ms * 1000000; }

static void timer_at(struct worker *w, struct timer *t, int64_t at_ns)
{
	tw_del(&w->eng.tw, &t->node);
	t->due_ns = at_ns;
	tw_add(&w->eng.tw, &t->node, run_tick_of(w->t0_ns, at_ns));
}

/* base + step * n, saturating: intervals up to the Go tool's largest
 * (INT64_MAX ns) cannot wrap a schedule into the past. */
static int64_t sched(int64_t base, int64_t step, uint64_t n)
{
	int64_t d;

	if (n && (uint64_t)step > (uint64_t)(INT64_MAX - base) / n)
		return INT64_MAX;
	d = step * (int64_t)n;
	return base + d;
}

/* A duration in µs for a histogram: end - start, 0 if negative. */
static uint64_t us_since(int64_t start_ns, int64_t end_ns)
{
	return end_ns > start_ns ? (uint64_t)(end_ns - start_ns) / 1000 : 0;
}

/* ---- errors ---- */

/* The path a phase calls, so an error names the whole URL. */
static const char *phase_path(const char *phase)
{
	if (!strcmp(phase, "sign-up"))
		return "/auth/sign-up";
	if (!strcmp(phase, "chat request"))
		return "/chat-requests";
	if (!strcmp(phase, "sign-in"))
		return "/auth/sign-in";
	return "";
}

static void perr(struct worker *w, struct part *p, enum run_err kind,
		 const char *phase, const char *cause, int target)
{
	if (w->draining)
		return;
	/* Failed before its chat: --max-participants counts it as done. */
	if (p->state < P_CHAT && !p->failed) {
		p->failed = 1;
		w->c.part_failed++;
	}
	wk_error(w, kind, "%s: participant %llu: %s (%s%s)", phase,
		 (unsigned long long)p->n, cause, w->o->t[target].url,
		 phase_path(phase));
}

static void oerr(struct worker *w, unsigned i, enum run_err kind,
		 const char *phase, const char *cause, int target)
{
	if (w->draining)
		return;
	wk_error(w, kind, "%s: organizer %u: %s (%s%s)", phase, i + 1, cause,
		 w->o->t[target].url, phase_path(phase));
}

/* An organizer is out of the run: no timer, no connection of its own
 * (the caller closes it, or the worker does on a negative return). */
static void org_done(struct worker *w, struct org *o)
{
	tw_del(&w->eng.tw, &o->t.node);
	o->state = O_DONE;
	o->conn = NIL;
}

/* ---- sending ---- */

/* Encode a masked text frame into a connection's slot; -ENOSPC if full. */
static int send_text(struct worker *w, uint32_t conn, const char *txt,
		     size_t n, unsigned msgs)
{
	size_t room;
	uint8_t *dst = wk_slot(w, conn, &room), mask[4];
	size_t fl;

	mask_bytes(w, mask);
	fl = ws_frame_encode(dst, room, 1, WS_OP_TEXT, txt, n, mask);
	if (!fl)
		return -ENOSPC;
	wk_commit(w, conn, fl, msgs);
	if (w->o->log_ws) {
		/* Tokens never reach a log: the authorization frame is
		 * shown without its value. */
		if (n > 17 && memcmp(txt, "{\"Authorization\":", 17) == 0)
			fprintf(stderr, "ws send [%u]: {\"Authorization\":"
				"\"Bearer <redacted>\"}\n", conn);
		else
			fprintf(stderr, "ws send [%u]: %.*s\n", conn, (int)n,
				txt);
	}
	return 0;
}

static int send_raw(struct worker *w, uint32_t conn, const char *p, size_t n)
{
	size_t room;
	uint8_t *dst = wk_slot(w, conn, &room);

	if (n > room)
		return -ENOSPC;
	memcpy(dst, p, n);
	wk_commit(w, conn, n, 0);
	return 0;
}

static int send_upgrade(struct worker *w, uint32_t conn, uint64_t who)
{
	const struct run_target *t = &w->o->t[T_MSG];
	char key[WS_KEY_LEN + 1], path[RUN_URL_MAX], req[1024];
	size_t n;

	ws_key_for(w, who, key);
	snprintf(path, sizeof(path), "%.*s", (int)t->u.path_len, t->u.path);
	n = ws_client_request(req, sizeof(req), t->hostport, path, key);
	if (!n)
		return -ENOSPC;
	return send_raw(w, conn, req, n);
}

/* Parse the 101 response; returns bytes consumed, 0 for more, or < 0. */
static long upgrade_response(struct worker *w, uint64_t who, uint8_t *p,
			     size_t n, char *why, size_t whylen)
{
	struct http_response r;
	long hl = http_response_parse(&r, (const char *)p, n, 8192);
	const struct http_header *acc;
	char key[WS_KEY_LEN + 1];

	if (hl == HTTP_PARTIAL)
		return 0;
	if (hl < 0) {
		snprintf(why, whylen, "malformed handshake response");
		return -EPROTO;
	}
	if (r.status != 101) {
		snprintf(why, whylen, "handshake answered HTTP %d, not 101",
			 r.status);
		return -EPROTO;
	}
	acc = http_header_find(r.headers, r.num_headers, "sec-websocket-accept");
	ws_key_for(w, who, key);
	if (!acc || !ws_client_accept_ok(key, acc->value, acc->value_len)) {
		snprintf(why, whylen, "wrong Sec-WebSocket-Accept in handshake");
		return -EPROTO;
	}
	return hl;
}

/*
 * A complete HTTP response at p: returns bytes consumed (> 0) and the
 * status and body (decoded into w->scratch when chunked); 0 when more is
 * needed; < 0 when malformed.
 */
static long http_response(struct worker *w, uint8_t *p, size_t n, int *status,
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

		if (len > 65536)
			return -EMSGSIZE;
		memcpy(w->scratch, p + hl, len);
		ret = http_chunked_decode(&d, (char *)w->scratch, &len, 65536,
					  &extra);
		if (ret == 0)
			return 0;
		if (ret < 0)
			return -EPROTO;
		*body = (const char *)w->scratch;
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
		return r.content_length > 65536 ? -EMSGSIZE : 0;
	*body = (const char *)p + hl;
	*blen = (size_t)r.content_length;
	return hl + (long)r.content_length;
}

/* "HTTP 400 \"email already exists\"" from an error response. */
static void http_cause(int status, const char *body, size_t blen, char *out,
		       size_t cap)
{
	jsmntok_t toks[32];
	struct json_doc d;
	char msg[160];
	size_t mn;
	int t;

	if (json_parse(&d, body, blen, toks, 32) > 0 &&
	    json_type(&d, 0) == JSMN_OBJECT &&
	    (t = json_find(&d, 0, "message")) >= 0 &&
	    json_get_str(&d, t, msg, sizeof(msg), &mn) == 0)
		snprintf(out, cap, "HTTP %d \"%s\"", status, msg);
	else
		snprintf(out, cap, "HTTP %d", status);
}

/* The token (and user id) of a sign-up or sign-in response. */
static int token_of(const char *body, size_t blen, char *tok, size_t cap,
		    size_t *tn, uint32_t *uid)
{
	jsmntok_t toks[MAX_TOKENS];
	struct json_doc d;
	int t, u, id;
	int64_t v;

	if (json_parse(&d, body, blen, toks, MAX_TOKENS) < 0 ||
	    json_type(&d, 0) != JSMN_OBJECT ||
	    (t = json_find(&d, 0, "token")) < 0 ||
	    json_get_str(&d, t, tok, cap, tn) < 0 || *tn == 0)
		return -EINVAL;
	if (uid) {
		if ((u = json_find(&d, 0, "user")) < 0 ||
		    (id = json_find(&d, u, "id")) < 0 ||
		    json_get_i64(&d, id, &v) < 0 || v < 0 || v > UINT32_MAX)
			return -EINVAL;
		*uid = (uint32_t)v;
	}
	return 0;
}

/* ---- REST jobs (participants) ---- */

/* Queue participant pi's next REST request; its deadline runs from
 * queued_ns. */
static void job_push(struct worker *w, uint32_t pi, int64_t queued_ns)
{
	if (w->jobs_len == w->jobs_cap) {
		uint32_t ncap = w->jobs_cap ? w->jobs_cap * 2 : 256;
		uint32_t *nj = malloc(ncap * sizeof(*nj));

		if (!nj) {
			wk_error(w, RE_HTTP, "out of memory for REST jobs");
			return;
		}
		for (uint32_t k = 0; k < w->jobs_len; k++)
			nj[k] = w->jobs[(w->jobs_head + k) % w->jobs_cap];
		free(w->jobs);
		w->jobs = nj;
		w->jobs_cap = ncap;
		w->jobs_head = 0;
	}
	w->jobs[(w->jobs_head + w->jobs_len) % w->jobs_cap] = pi;
	w->jobs_len++;
	timer_at(w, &part_at(w, pi)->t,
		 queued_ns + ms_ns(w->o->request_timeout_ms));
}

/* The oldest queued job still waiting (one that timed out in the queue
 * is skipped), or NIL. */
static uint32_t job_pop(struct worker *w)
{
	while (w->jobs_len) {
		uint32_t pi = w->jobs[w->jobs_head];
		uint8_t st = part_at(w, pi)->state;

		w->jobs_head = (w->jobs_head + 1) % w->jobs_cap;
		w->jobs_len--;
		if (st == P_SIGNUP_Q || st == P_REQUEST_Q)
			return pi;
	}
	return NIL;
}

static int job_request(struct worker *w, struct httpc *h, struct part *p)
{
	const struct run_target *t = &w->o->t[T_PART];
	char path[RUN_URL_MAX + 32], body[512], extra[1024];
	size_t room, n;
	uint8_t *dst = wk_slot(w, h->conn, &room);
	int64_t now = clock_mono_ns();
	int bn;

	p->phase_ns = now;
	if (p->state == P_SIGNUP_Q) {
		/* The arrival happens now: its lag is from its schedule. */
		hist_add(&w->arrival_lag, us_since(p->due_ns, now));
		if (now - p->due_ns > 1000000000)
			w->c.arrivals_late++;
		w->backlog--;
		snprintf(path, sizeof(path), "%.*s/auth/sign-up",
			 (int)t->u.path_len, t->u.path);
		bn = snprintf(body, sizeof(body),
			      "{\"email\":\"participant_%lld_%llu@performance.com\","
			      "\"password\":\"performance\","
			      "\"confirmPassword\":\"performance\","
			      "\"phoneNumber\":\"+48100200300\"}",
			      (long long)(w->run->t0_real_ns / 1000000000),
			      (unsigned long long)p->n);
		n = http_request_write((char *)dst, room, "POST", t->hostport,
				       path, NULL, body, (size_t)bn);
		p->state = P_SIGNUP;
	} else {
		snprintf(path, sizeof(path), "%.*s/chat-requests",
			 (int)t->u.path_len, t->u.path);
		bn = snprintf(body, sizeof(body),
			      "{\"eventId\":%u,\"description\":"
			      "\"Performance test chat request\"}",
			      w->o->event_id);
		snprintf(extra, sizeof(extra), "Authorization: Bearer %.*s\r\n",
			 (int)p->token_len, p->token);
		n = http_request_write((char *)dst, room, "POST", t->hostport,
				       path, extra, body, (size_t)bn);
		p->state = P_REQUEST;
	}
	if (!n)
		return -ENOSPC;
	wk_commit(w, h->conn, n, 0);
	return 0;
}

/* The phase a participant's REST request belongs to, for errors. */
static const char *rest_phase(const struct part *p)
{
	return p->state == P_SIGNUP_Q || p->state == P_SIGNUP ? "sign-up" :
	       "chat request";
}

/* A participant is out of the run: no timer, no request. */
static void part_done(struct worker *w, struct part *p)
{
	if (p->state == P_SIGNUP_Q)
		w->backlog--;
	tw_del(&w->eng.tw, &p->t.node);
	p->state = P_DONE;
	p->http = NIL;
}

/* A participant on the messenger fails: the error, its connection
 * closed, and it is done. */
static void part_fail(struct worker *w, struct part *p, enum run_err kind,
		      const char *phase, const char *why)
{
	perr(w, p, kind, phase, why, T_MSG);
	wk_close(w, p->conn);
	p->conn = NIL;
	part_done(w, p);
}

/*
 * Hand queued requests to idle REST connections, then open connections
 * for the requests still waiting, up to --http-conns: a burst of arrivals
 * gets connections instead of a queue that makes the run closed-loop.
 */
static void http_pump(struct worker *w)
{
	unsigned connecting = 0;

	for (unsigned i = 0; i < w->nhttp && w->jobs_len; i++) {
		struct httpc *h = &w->http[i];
		struct part *p;
		uint32_t pi;

		connecting += h->state == H_CONNECTING;
		if (h->state != H_IDLE || (pi = job_pop(w)) == NIL)
			continue;
		p = part_at(w, pi);
		h->job = pi;
		h->state = H_BUSY;
		p->http = i;
		if (job_request(w, h, p) < 0) {
			perr(w, p, RE_HTTP, rest_phase(p), "request too large",
			     T_PART);
			part_done(w, p);
			h->state = H_IDLE;
		}
	}
	for (unsigned i = 0; i < w->nhttp && w->jobs_len > connecting; i++) {
		struct httpc *h = &w->http[i];
		char why[200];

		if (h->state != H_DOWN)
			continue;
		h->conn = wk_connect(w, T_PART, OWN_HTTP, i, why, sizeof(why));
		if (h->conn == NIL) {
			/* The request waiting longest cannot be sent. */
			uint32_t pi = job_pop(w);

			if (pi != NIL) {
				perr(w, part_at(w, pi), RE_CONNECT,
				     rest_phase(part_at(w, pi)), why, T_PART);
				part_done(w, part_at(w, pi));
			}
			return;
		}
		h->state = H_CONNECTING;
		w->c.http_opened++;
		connecting++;
	}
}

static void part_connect(struct worker *w, uint32_t pi)
{
	struct part *p = part_at(w, pi);

	char why[200];

	p->state = P_CONNECT;
	p->phase_ns = w->eng.now_ns;
	p->conn = wk_connect(w, T_MSG, OWN_PART, pi, why, sizeof(why));
	if (p->conn == NIL) {
		perr(w, p, RE_CONNECT, "connect", why, T_MSG);
		part_done(w, p);
	}
}

static void http_done(struct worker *w, struct httpc *h, int status,
		      const char *body, size_t blen)
{
	struct part *p = part_at(w, h->job);
	char cause[256];

	h->state = H_IDLE;
	p->http = NIL;
	tw_del(&w->eng.tw, &p->t.node);
	if (p->state == P_SIGNUP) {
		char tok[1024];
		size_t tn;

		hist_add(&w->ph_signup, us_since(p->phase_ns, w->eng.now_ns));
		if (status != 201) {
			http_cause(status, body, blen, cause, sizeof(cause));
			perr(w, p, RE_HTTP, "sign-up", cause, T_PART);
			part_done(w, p);
			return;
		}
		if (token_of(body, blen, tok, sizeof(tok), &tn, &p->user_id) < 0 ||
		    tn > 1000) {
			perr(w, p, RE_PROTOCOL, "sign-up",
			     "response without a token and user id", T_PART);
			part_done(w, p);
			return;
		}
		p->token = pool_get(&w->tok_pool);
		if (!p->token) {
			perr(w, p, RE_HTTP, "sign-up", "out of memory", T_PART);
			part_done(w, p);
			return;
		}
		memcpy(p->token, tok, tn);
		p->token_len = (uint16_t)tn;
		p->state = P_REQUEST_Q;
		job_push(w, h->job, w->eng.now_ns);
		return;
	}
	if (p->state == P_REQUEST) {
		hist_add(&w->ph_request, us_since(p->phase_ns, w->eng.now_ns));
		if (status != 200) {
			http_cause(status, body, blen, cause, sizeof(cause));
			perr(w, p, RE_HTTP, "chat request", cause, T_PART);
			part_done(w, p);
			return;
		}
		w->c.created++;
		part_connect(w, h->job);
	}
}

static long http_input(struct worker *w, struct httpc *h, uint32_t idx,
		       uint8_t *data, size_t n)
{
	const char *body = NULL;
	size_t blen = 0;
	int status = 0, ka = 1;
	long r;

	(void)idx;
	if (h->state != H_BUSY) {
		wk_error(w, RE_PROTOCOL, "REST: unexpected bytes from the "
			 "server (%s)", w->o->t[T_PART].url);
		h->state = H_DOWN; /* the worker closes it */
		h->conn = NIL;
		return -EPROTO;
	}
	r = http_response(w, data, n, &status, &body, &blen, &ka);
	if (r == 0)
		return 0;
	if (r < 0) {
		struct part *p = part_at(w, h->job);

		perr(w, p, RE_PROTOCOL, rest_phase(p), "malformed HTTP response",
		     T_PART);
		part_done(w, p);
		h->state = H_DOWN; /* the worker closes it */
		h->conn = NIL;
		return r;
	}
	http_done(w, h, status, body, blen);
	if (!ka) {
		/* The server closes: reconnect for the next job. */
		wk_close(w, h->conn);
		h->state = H_DOWN;
		h->conn = NIL;
	}
	http_pump(w);
	return r;
}

/* ---- participants ---- */

/* 1 when this worker has no arrival left: --max-participants reached, or
 * -cpi 0, which creates exactly one participant (as the Go tool does). */
static int arrivals_over(const struct worker *w)
{
	const struct run_opts *o = w->o;

	return (o->max_participants && w->next_arrival > o->max_participants) ||
	       (o->cpi_ms == 0 && w->next_arrival > 1);
}

/* Participant number w->next_arrival, due at due_ns, arrives: its
 * sign-up is queued. Returns 0, or -ENOMEM after reporting it. */
static int arrive(struct worker *w, int64_t due_ns)
{
	uint32_t pi = w->nparts;
	struct part *p;

	if (pi / PCHUNK >= w->pchunks_cap) {
		uint32_t ncap = w->pchunks_cap ? w->pchunks_cap * 2 : 16;
		struct part **nc = realloc(w->pchunks, ncap * sizeof(*nc));

		if (!nc) {
			wk_error(w, RE_HTTP, "out of memory for participants");
			return -ENOMEM;
		}
		memset(nc + w->pchunks_cap, 0,
		       (ncap - w->pchunks_cap) * sizeof(*nc));
		w->pchunks = nc;
		w->pchunks_cap = ncap;
	}
	if (!w->pchunks[pi / PCHUNK]) {
		w->pchunks[pi / PCHUNK] = calloc(PCHUNK, sizeof(struct part));
		if (!w->pchunks[pi / PCHUNK]) {
			wk_error(w, RE_HTTP, "out of memory for participants");
			return -ENOMEM;
		}
	}
	if (w->run->part_start_real_ns == 0 && w->id == 0)
		w->run->part_start_real_ns = clock_real_ns();
	p = part_at(w, pi);
	memset(p, 0, sizeof(*p));
	p->n = w->next_arrival;
	p->conn = NIL;
	p->http = NIL;
	p->state = P_SIGNUP_Q;
	p->due_ns = due_ns;
	p->t.kind = TK_PART;
	p->t.idx = pi;
	w->nparts++;
	w->backlog++;
	if (w->backlog > w->backlog_max)
		w->backlog_max = w->backlog;
	job_push(w, pi, due_ns);
	return 0;
}

/*
 * Open loop: arrival n is due at start + (n - 1) * cpi whatever happened
 * before. Every arrival already due is made now (a tester that fell
 * behind catches up, and the lag of each shows it), at most a thousand
 * per pass so the loop stays responsive; then the timer waits for the
 * next.
 */
static void arrivals(struct worker *w)
{
	const int64_t cpi = ms_ns(w->o->cpi_ms);

	for (int made = 0; made < 1000; made++) {
		int64_t due = sched(w->t0_ns, cpi, w->next_arrival - 1);

		if (arrivals_over(w)) {
			w->arrivals_done = 1;
			break;
		}
		if (due > w->eng.now_ns) {
			timer_at(w, &w->arrival, due);
			break;
		}
		if (arrive(w, due) < 0)
			break;
		w->next_arrival += w->run->nw;
	}
	if (!w->arrivals_done && !tw_armed(&w->arrival.node))
		timer_at(w, &w->arrival, w->eng.now_ns);
	http_pump(w);
}

/*
 * As the Go tool does it: wait smi, send get_chats, read one frame; a
 * chats answer with a chat ends the wait, anything else is a try used,
 * and the next comes smi later; more than 10 tries fail. The answer is
 * awaited for at most --request-timeout. A new_chat push ends the wait
 * early whenever it comes.
 */
static void send_get_chats(struct worker *w, struct part *p)
{
	static const char msg[] = "{\"type\":\"get_chats\",\"payload\":\"\"}";

	p->tries++;
	p->awaiting = 1;
	send_text(w, p->conn, msg, sizeof(msg) - 1, 0);
	timer_at(w, &p->t, w->eng.now_ns + ms_ns(w->o->request_timeout_ms));
}

/* The frame that answered a get_chats was not a chat: try again smi
 * later, or fail after the tenth. */
static void get_chats_again(struct worker *w, struct part *p)
{
	p->awaiting = 0;
	if (p->tries >= GET_CHATS_TRIES) {
		part_fail(w, p, RE_NO_CHAT, "waiting for chat",
			  "no chat after 10 get_chats");
		return;
	}
	timer_at(w, &p->t, w->eng.now_ns + ms_ns(w->o->smi_ms));
}

/* Encode every message that is due and fits; arm the timer for the next.
 * Their lag is taken when they are handed to the kernel (sc_submitted). */
static void send_due(struct worker *w, struct part *p)
{
	const int64_t smi = ms_ns(w->o->smi_ms);
	char txt[256];

	while (sched(p->chat_ns, smi, p->k + 1) <= w->eng.now_ns) {
		int n = snprintf(txt, sizeof(txt),
				 "{\"type\":\"send_message\",\"payload\":"
				 "{\"chatId\":\"%.24s\",\"message\":\"connection "
				 "%.*s: message number %u\"}}",
				 p->chat, p->addr_len, p->addr, p->k + 1);

		if (send_text(w, p->conn, txt, (size_t)n, 1) < 0)
			return; /* slot full: sc_writable resumes */
		p->k++;
	}
	timer_at(w, &p->t, sched(p->chat_ns, smi, p->k + 1));
}

static int hex24(const char *s, size_t n)
{
	if (n != 24)
		return 0;
	for (size_t i = 0; i < 24; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
		      (s[i] >= 'A' && s[i] <= 'F')))
			return 0;
	return 1;
}

static void chat_found(struct worker *w, struct part *p, const char *id)
{
	memcpy(p->chat, id, 24);
	p->state = P_CHAT;
	p->awaiting = 0;
	p->chat_ns = w->eng.now_ns;
	w->c.chats++;
	hist_add(&w->to_chat, us_since(p->due_ns, w->eng.now_ns));
	send_due(w, p);
}

/*
 * One of p's own messages came back: "connection <addr>: message number
 * <k>". Its latency counts from when message k was due, so a late send
 * cannot hide delay (no coordinated omission), and from when it was
 * actually written, when that is still known.
 */
static void delivered(struct worker *w, struct part *p, const char *c,
		      size_t n)
{
	static const char tag[] = "message number ";
	const int64_t smi = ms_ns(w->o->smi_ms);
	const char *num = memmem(c, n, tag, sizeof(tag) - 1);
	uint64_t k = 0;
	int64_t lat;

	if (num)
		for (num += sizeof(tag) - 1;
		     num < c + n && *num >= '0' && *num <= '9' && k < UINT32_MAX;
		     num++)
			k = k * 10 + (uint64_t)(*num - '0');
	/* Echoes come back in order: one at or below the highest number
	 * already echoed is a repeat, one above the last encoded never left. */
	if (k <= p->high || k > p->k || p->state != P_CHAT) {
		w->c.echo_unmatched++;
		return;
	}
	w->c.delivered++;
	p->ndeliv++;
	p->high = (uint32_t)k;
	lat = w->eng.now_ns - sched(p->chat_ns, smi, k);
	if (lat < 0)
		lat = 0;
	hist_add(&w->lat, (uint64_t)lat / 1000);
	if ((p->lag[k % LAGS] & ~((1u << LAG_BITS) - 1)) == LAG_TAG(k)) {
		int64_t act = lat / 1000 -
			      (int64_t)(p->lag[k % LAGS] & ((1u << LAG_BITS) - 1));

		hist_add(&w->lat_actual, act > 0 ? (uint64_t)act : 0);
	} else {
		w->c.lat_unmatched++; /* more than LAGS messages in flight */
	}
}

/* An error frame from the messenger: an error of the run, with the
 * server's text. */
static void server_error(struct worker *w, const struct json_doc *d, int pl,
			 const char *who, uint64_t n)
{
	char msg[160];
	size_t mn;
	int m;

	if (w->draining)
		return;
	if (pl < 0 || (m = json_find(d, pl, "message")) < 0 ||
	    json_get_str(d, m, msg, sizeof(msg), &mn) < 0)
		snprintf(msg, sizeof(msg), "(no message)");
	wk_error(w, RE_SERVER, "messenger: %s %llu: server error \"%s\" (%s)",
		 who, (unsigned long long)n, msg, w->o->t[T_MSG].url);
}

/* A text frame for a participant. */
static int part_text(struct worker *w, struct part *p, const char *js,
		     size_t n)
{
	jsmntok_t toks[MAX_TOKENS];
	struct json_doc d;
	int t, pl, k;
	char id[32];
	size_t idn;
	const char *ct;
	size_t ctn;

	if (p->state == P_CHAT &&
	    echo_match(js, n, p->user_id, p->addr, p->addr_len, &ct, &ctn)) {
		delivered(w, p, ct, ctn);
		return 0;
	}
	if (json_parse(&d, js, n, toks, MAX_TOKENS) < 0 ||
	    json_type(&d, 0) != JSMN_OBJECT ||
	    (t = json_find(&d, 0, "type")) < 0)
		return 0; /* not ours to judge: read and discarded */
	pl = json_find(&d, 0, "payload");
	if (json_str_eq(&d, t, "user_message")) {
		int64_t author;

		if (pl >= 0 && (k = json_find(&d, pl, "authorId")) >= 0 &&
		    json_get_i64(&d, k, &author) == 0 &&
		    author == p->user_id &&
		    (k = json_find(&d, pl, "content")) >= 0 &&
		    d.tok[k].end - d.tok[k].start > 11 &&
		    memcmp(js + d.tok[k].start, "connection ", 11) == 0)
			delivered(w, p, js + d.tok[k].start,
				  (size_t)(d.tok[k].end - d.tok[k].start));
		else if (p->state == P_WAIT_CHAT && p->awaiting)
			get_chats_again(w, p); /* one frame a try */
		return 0;
	}
	if (json_str_eq(&d, t, "error")) {
		server_error(w, &d, pl, "participant", p->n);
		if (p->state == P_WAIT_CHAT && p->awaiting)
			get_chats_again(w, p);
		return 0;
	}
	if (p->state != P_WAIT_CHAT)
		return 0;
	if (pl >= 0 && json_str_eq(&d, t, "new_chat")) {
		k = json_find(&d, pl, "id");
	} else if (pl >= 0 && p->awaiting && json_str_eq(&d, t, "chats")) {
		int arr = json_find(&d, pl, "chats");

		if (arr < 0 || json_type(&d, arr) != JSMN_ARRAY ||
		    d.tok[arr].size < 1) {
			get_chats_again(w, p);
			return 0;
		}
		k = json_find(&d, arr + 1, "id");
	} else {
		if (p->awaiting) /* the Go tool reads one frame a try */
			get_chats_again(w, p);
		return 0;
	}
	if (k < 0 || json_get_str(&d, k, id, sizeof(id), &idn) < 0 ||
	    !hex24(id, idn)) {
		perr(w, p, RE_PROTOCOL, "waiting for chat",
		     "chat without a 24-hex id", T_MSG);
		return -EPROTO;
	}
	chat_found(w, p, id);
	return 0;
}

/* ---- organizers ---- */

static void org_text(struct worker *w, struct org *o, const char *js,
		     size_t n)
{
	static const char um[] = "{\"type\":\"user_message\"";
	jsmntok_t toks[MAX_TOKENS];
	struct json_doc d;
	int t;

	/* Most frames an organizer reads are user_message: skip the parse
	 * when the type leads, as every ESME server writes it. */
	if (n > sizeof(um) && memcmp(js, um, sizeof(um) - 1) == 0) {
		w->c.org_received++;
		w->org_copies[o - w->orgs]++;
		return;
	}
	if (json_parse(&d, js, n, toks, MAX_TOKENS) < 0 ||
	    json_type(&d, 0) != JSMN_OBJECT ||
	    (t = json_find(&d, 0, "type")) < 0)
		return;
	if (json_str_eq(&d, t, "user_message")) {
		w->c.org_received++;
		w->org_copies[o - w->orgs]++;
	} else if (json_str_eq(&d, t, "new_chat"))
		w->c.new_chats++;
	else if (json_str_eq(&d, t, "info"))
		w->c.no_new_chats++;
	else if (json_str_eq(&d, t, "error"))
		server_error(w, &d, json_find(&d, 0, "payload"), "organizer",
			     (uint64_t)(o - w->orgs) + 1);
}

static void org_signin(struct worker *w, unsigned i)
{
	struct org *o = &w->orgs[i];

	char why[200];

	o->state = O_SIGNIN;
	o->conn = wk_connect(w, T_ORG, OWN_ORG, i, why, sizeof(why));
	if (o->conn == NIL) {
		oerr(w, i, RE_CONNECT, "sign-in", why, T_ORG);
		o->state = O_DONE;
	}
}

static void org_start_chat(struct worker *w, struct org *o)
{
	static const char msg[] = "{\"type\":\"start_chat\",\"payload\":\"\"}";
	const int64_t sci = ms_ns(w->o->sci_ms);

	while (sched(o->start_ns, sci, o->j + 1) <= w->eng.now_ns) {
		if (send_text(w, o->conn, msg, sizeof(msg) - 1, 0) < 0)
			return; /* slot full: sc_writable resumes */
		o->j++;
		w->c.start_chats++;
	}
	timer_at(w, &o->t, sched(o->start_ns, sci, o->j + 1));
}

/* ---- WebSocket frames (both roles of ours) ---- */

static long ws_input(struct worker *w, uint32_t idx, uint8_t *data, size_t n,
		     struct part *p, struct org *o, unsigned oi)
{
	size_t off = 0;

	while (off < n) {
		struct ws_frame f;
		long r = ws_frame_parse(&f, data + off, n - off, WS_ROLE_CLIENT,
					64 * 1024);

		if (r == WS_PARTIAL)
			break;
		if (r < 0) {
			const char *why =
				r == WS_E_MASK ? "a masked frame from the server "
						 "(RFC 6455 5.1)" :
				r == WS_E_TOO_BIG ? "a frame over 64 KiB" :
				r == WS_E_RESERVED ? "a frame with reserved bits or "
						     "opcode" :
				r == WS_E_CONTROL ? "a fragmented or oversized "
						    "control frame" :
				"a frame with an invalid length";

			if (p)
				perr(w, p, RE_PROTOCOL, "messenger", why, T_MSG);
			else
				oerr(w, oi, RE_PROTOCOL, "messenger", why, T_MSG);
			return -EPROTO;
		}
		off += (size_t)r;
		if (w->o->log_ws && f.opcode == WS_OP_TEXT)
			fprintf(stderr, "ws recv [%u]: %.*s\n", idx,
				(int)f.payload_len, (const char *)f.payload);
		if (f.opcode == WS_OP_PING) {
			size_t room;
			uint8_t *dst = wk_slot(w, idx, &room), m[4];
			size_t fl;

			mask_bytes(w, m);
			fl = ws_frame_encode(dst, room, 1, WS_OP_PONG,
					     f.payload, f.payload_len, m);
			if (fl)
				wk_commit(w, idx, fl, 0);
			continue;
		}
		if (f.opcode == WS_OP_CLOSE) {
			if (p)
				perr(w, p, RE_CLOSED, "messenger",
				     "the server closed the WebSocket", T_MSG);
			else
				oerr(w, oi, RE_CLOSED, "messenger",
				     "the server closed the WebSocket", T_MSG);
			return -ECONNRESET;
		}
		if (f.opcode != WS_OP_TEXT || !f.fin)
			continue; /* binary, pong, fragments: read, discarded */
		if (p) {
			if (part_text(w, p, (const char *)f.payload,
				      f.payload_len) < 0)
				return -EPROTO;
		} else {
			org_text(w, o, (const char *)f.payload, f.payload_len);
		}
		if (!eng_open(&w->eng, idx))
			return (long)n;
	}
	return (long)off;
}

/* ---- worker callbacks ---- */

/* see run.h */
void sc_start(struct worker *w)
{
	const struct run_opts *o = w->o;

	w->scratch = malloc(65536 + 64);
	w->key_seed = splitmix(&w->rng);
	w->nhttp = o->http_conns;
	w->http = calloc(w->nhttp, sizeof(*w->http));
	if (!w->scratch || !w->http) {
		wk_error(w, RE_HTTP, "out of memory");
		return;
	}
	for (unsigned i = 0; i < w->nhttp; i++)
		w->http[i].conn = NIL;
	if (w->id == 0) {
		w->norgs = o->organizers;
		w->orgs = calloc(w->norgs, sizeof(*w->orgs));
		w->org_copies = calloc(w->norgs, sizeof(*w->org_copies));
		if (!w->orgs || !w->org_copies) {
			wk_error(w, RE_HTTP, "out of memory");
			return;
		}
		for (unsigned i = 0; i < w->norgs; i++) {
			w->orgs[i].t.kind = TK_ORG;
			w->orgs[i].t.idx = i;
			org_signin(w, i);
		}
	}
	w->arrival.kind = TK_ARRIVAL;
	w->next_arrival = w->id + 1;
	if (arrivals_over(w))
		w->arrivals_done = 1;
	else
		timer_at(w, &w->arrival,
			 sched(w->t0_ns, ms_ns(o->cpi_ms), w->id));
}

/* see run.h */
void sc_connected(struct worker *w, enum owner_kind kind, uint32_t owner,
		  uint32_t idx, const struct sockaddr_storage *local)
{
	if (kind == OWN_HTTP) {
		w->http[owner].state = H_IDLE;
		http_pump(w);
	} else if (kind == OWN_PART) {
		struct part *p = part_at(w, owner);
		char ip[INET6_ADDRSTRLEN] = "";
		int v6 = local->ss_family == AF_INET6;
		uint16_t port = 0;

		if (v6) {
			const struct sockaddr_in6 *a = (const void *)local;

			inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
			port = ntohs(a->sin6_port);
		} else if (local->ss_family == AF_INET) {
			const struct sockaddr_in *a = (const void *)local;

			inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
			port = ntohs(a->sin_port);
		}
		p->addr_len = (uint8_t)snprintf(p->addr, sizeof(p->addr),
						v6 ? "[%s]:%u" : "%s:%u",
						ip, port);
		p->state = P_UPGRADE;
		send_upgrade(w, idx, p->n);
		timer_at(w, &p->t, w->eng.now_ns + ms_ns(w->o->handshake_timeout_ms));
	} else if (kind == OWN_ORG) {
		struct org *o = &w->orgs[owner];
		const struct run_target *t = &w->o->t[T_ORG];

		if (o->state == O_SIGNIN) {
			char path[RUN_URL_MAX + 32], body[1024], req[2048];
			char email[256];
			const char *password;
			struct jw jw;
			long bl;
			size_t n;

			snprintf(path, sizeof(path), "%.*s/auth/sign-in",
				 (int)t->u.path_len, t->u.path);
			/* Organizer i signs in with account i of the pool; the
			 * JSON writer escapes what the address and password
			 * need. */
			jw_init(&jw, body, sizeof(body));
			jw_obj_begin(&jw);
			bl = run_org_account(w->o, owner, email,
					     sizeof(email), &password);
			jw_kv_cstr(&jw, "email", bl < 0 ? "" : email);
			jw_kv_cstr(&jw, "password", bl < 0 ? "" : password);
			jw_obj_end(&jw);
			bl = bl < 0 ? bl : jw_finish(&jw);
			n = bl > 0 ? http_request_write(req, sizeof(req), "POST",
							t->hostport, path, NULL,
							body, (size_t)bl) : 0;
			if (!n || send_raw(w, idx, req, n) < 0) {
				oerr(w, owner, RE_HTTP, "sign-in",
				     "organizer e-mail or password too long",
				     T_ORG);
				wk_close(w, idx);
				org_done(w, o);
				return;
			}
			timer_at(w, &o->t,
				 w->eng.now_ns + ms_ns(w->o->request_timeout_ms));
		} else {
			o->state = O_UPGRADE;
			send_upgrade(w, idx, ~(uint64_t)owner);
			timer_at(w, &o->t,
				 w->eng.now_ns + ms_ns(w->o->handshake_timeout_ms));
		}
	}
}

static long org_input(struct worker *w, uint32_t oi, uint32_t idx,
		      uint8_t *p, size_t n)
{
	struct org *o = &w->orgs[oi];
	char why[160];
	long r;

	if (o->state == O_SIGNIN) {
		const char *body = NULL;
		size_t blen = 0;
		int status = 0, ka;

		r = http_response(w, p, n, &status, &body, &blen, &ka);
		if (r == 0)
			return 0;
		if (r < 0) {
			oerr(w, oi, RE_PROTOCOL, "sign-in",
			     "malformed HTTP response", T_ORG);
			return r;
		}
		if (status != 200) {
			http_cause(status, body, blen, why, sizeof(why));
			oerr(w, oi, RE_HTTP, "sign-in", why, T_ORG);
			o->state = O_DONE;
			return -EACCES;
		}
		if (token_of(body, blen, o->token, sizeof(o->token),
			     &o->token_len, NULL) < 0) {
			oerr(w, oi, RE_PROTOCOL, "sign-in",
			     "response without a token", T_ORG);
			o->state = O_DONE;
			return -EPROTO;
		}
		/* Done with the organizer API: on to the messenger. The Go
		 * tool's organizer_time_started is this moment. */
		if (!w->run->org_start_real_ns)
			w->run->org_start_real_ns = clock_real_ns();
		tw_del(&w->eng.tw, &o->t.node);
		wk_close(w, idx);
		o->state = O_CONNECT;
		o->conn = wk_connect(w, T_MSG, OWN_ORG, oi, why, sizeof(why));
		if (o->conn == NIL) {
			oerr(w, oi, RE_CONNECT, "messenger", why, T_MSG);
			o->state = O_DONE;
		}
		return (long)n;
	}
	if (o->state == O_UPGRADE) {
		char auth[1024];
		int an;

		r = upgrade_response(w, ~(uint64_t)oi, p, n, why, sizeof(why));
		if (r == 0)
			return 0;
		if (r < 0) {
			oerr(w, oi, RE_HANDSHAKE, "messenger handshake", why,
			     T_MSG);
			return r;
		}
		an = snprintf(auth, sizeof(auth),
			      "{\"Authorization\":\"Bearer %.*s\"}",
			      (int)o->token_len, o->token);
		send_text(w, idx, auth, (size_t)an, 0);
		o->state = O_OPEN;
		/* The pool's start_chat frames interleave on one origin, the
		 * run's start: organizer i is i/N of an interval behind the
		 * first, so each has its turn at the queue instead of all
		 * asking at the same moment. The first start_chat is the
		 * first of that schedule after the authorization (the Go
		 * tool's waits sci after it). */
		{
			int64_t sci = ms_ns(w->o->sci_ms);

			o->start_ns = w->t0_ns + (int64_t)((__int128)sci * oi /
							   w->norgs);
			o->j = sci && w->eng.now_ns > o->start_ns ?
			       (uint64_t)((w->eng.now_ns - o->start_ns) / sci) : 0;
		}
		tw_del(&w->eng.tw, &o->t.node);
		org_start_chat(w, o);
		return r;
	}
	return ws_input(w, idx, p, n, NULL, o, oi);
}

/* see run.h */
long sc_input(struct worker *w, enum owner_kind kind, uint32_t owner,
	      uint32_t idx, uint8_t *data, size_t n)
{
	if (kind == OWN_HTTP)
		return http_input(w, &w->http[owner], idx, data, n);
	if (kind == OWN_ORG) {
		long r = org_input(w, owner, idx, data, n);

		/* The worker closes the connection: the organizer is done. */
		if (r < 0)
			org_done(w, &w->orgs[owner]);
		return r;
	}
	if (kind == OWN_PART) {
		struct part *p = part_at(w, owner);

		if (p->state == P_UPGRADE) {
			char why[160], auth[1100];
			long r = upgrade_response(w, p->n, data, n, why,
						  sizeof(why));
			int an;

			if (r == 0)
				return 0;
			if (r < 0) {
				perr(w, p, RE_HANDSHAKE, "messenger handshake",
				     why, T_MSG);
				part_done(w, p);
				p->conn = NIL;
				return r;
			}
			an = snprintf(auth, sizeof(auth),
				      "{\"Authorization\":\"Bearer %.*s\"}",
				      (int)p->token_len, p->token);
			send_text(w, idx, auth, (size_t)an, 0);
			pool_put(&w->tok_pool, p->token);
			p->token = NULL;
			p->state = P_WAIT_CHAT;
			w->c.connected++;
			hist_add(&w->ph_connect, us_since(p->phase_ns, w->eng.now_ns));
			p->tries = 0;
			p->awaiting = 0;
			timer_at(w, &p->t, w->eng.now_ns + ms_ns(w->o->smi_ms));
			return r;
		}
		{
			long r = ws_input(w, idx, data, n, p, NULL, 0);

			/* The worker closes the connection (a close frame, a
			 * bad frame, a chat without an id): the participant is
			 * done, its slot no longer its own. */
			if (r < 0) {
				part_done(w, p);
				p->conn = NIL;
			}
			return r;
		}
	}
	return -EINVAL;
}

/* see run.h */
void sc_closed(struct worker *w, enum owner_kind kind, uint32_t owner,
	       int err, int connecting)
{
	char cause[200];

	if (w->close_cause) /* the worker knows better, e.g. a TLS cause */
		snprintf(cause, sizeof(cause), "%s", w->close_cause);
	else
		snprintf(cause, sizeof(cause), "%s%s",
			 connecting && err != -ETIMEDOUT ?
			 "connect: " : "",
			 err == -ETIMEDOUT ? "connect timed out" :
			 err == -ECONNRESET ? "connection closed by the server" :
			 strerror(-err));
	if (kind == OWN_HTTP) {
		struct httpc *h = &w->http[owner];

		if (h->state == H_BUSY) {
			struct part *p = part_at(w, h->job);

			perr(w, p, RE_RECV, rest_phase(p), cause, T_PART);
			part_done(w, p);
		} else if (h->state == H_CONNECTING && w->jobs_len) {
			uint32_t pi = job_pop(w);

			if (pi != NIL) {
				perr(w, part_at(w, pi), RE_CONNECT,
				     rest_phase(part_at(w, pi)), cause, T_PART);
				part_done(w, part_at(w, pi));
			}
		}
		h->state = H_DOWN;
		h->conn = NIL;
		http_pump(w);
	} else if (kind == OWN_PART) {
		struct part *p = part_at(w, owner);
		const char *phase = p->state == P_CONNECT ? "connect" :
				    p->state == P_UPGRADE ? "messenger handshake" :
				    "messenger";

		perr(w, p, p->state == P_CONNECT ? RE_CONNECT : RE_CLOSED,
		     phase, cause, T_MSG);
		part_done(w, p);
		p->conn = NIL;
	} else if (kind == OWN_ORG) {
		struct org *o = &w->orgs[owner];

		oerr(w, owner, o->state == O_OPEN ? RE_CLOSED : RE_CONNECT,
		     o->state == O_SIGNIN ? "sign-in" : "messenger", cause,
		     o->state == O_SIGNIN ? T_ORG : T_MSG);
		tw_del(&w->eng.tw, &o->t.node);
		o->state = O_DONE;
		o->conn = NIL;
	}
}

/* see run.h */
void sc_writable(struct worker *w, enum owner_kind kind, uint32_t owner)
{
	if (kind == OWN_PART) {
		struct part *p = part_at(w, owner);

		if (p->state == P_CHAT && !w->draining)
			send_due(w, p);
	} else if (kind == OWN_ORG) {
		struct org *o = &w->orgs[owner];

		if (o->state == O_OPEN && !w->draining)
			org_start_chat(w, o);
	}
}

/* see run.h */
void sc_send_stalled(struct worker *w, enum owner_kind kind, uint32_t owner)
{
	char why[96];

	snprintf(why, sizeof(why), "a send waited %gs: the server stopped "
		 "reading", (double)w->o->send_timeout_ms / 1000);
	if (kind == OWN_PART) {
		struct part *p = part_at(w, owner);

		perr(w, p, RE_SEND, "messenger", why, T_MSG);
		part_done(w, p);
		p->conn = NIL;
	} else if (kind == OWN_ORG) {
		struct org *o = &w->orgs[owner];

		oerr(w, owner, RE_SEND, "messenger", why, T_MSG);
		org_done(w, o);
	} else if (kind == OWN_HTTP) {
		struct httpc *h = &w->http[owner];

		if (h->state == H_BUSY) {
			struct part *p = part_at(w, h->job);

			perr(w, p, RE_SEND, rest_phase(p), why, T_PART);
			part_done(w, p);
		}
		h->state = H_DOWN;
		h->conn = NIL;
		http_pump(w);
	}
}

/* why = "no <kind> response within <ms as seconds>s" */
static void no_response(char *why, size_t cap, const char *kind, int64_t ms)
{
	snprintf(why, cap, "no %s response within %gs", kind, (double)ms / 1000);
}

/* A REST request's deadline passed, counted from when it was queued:
 * waiting for a connection counts, as the open loop wants. */
static void rest_timeout(struct worker *w, struct part *p)
{
	char why[96];

	no_response(why, sizeof(why), "complete", w->o->request_timeout_ms);
	if (p->state == P_SIGNUP_Q || p->state == P_REQUEST_Q)
		snprintf(why + strlen(why), sizeof(why) - strlen(why),
			 " (queued for a REST connection)");
	perr(w, p, RE_TIMEOUT, rest_phase(p), why, T_PART);
	if (p->http != NIL) {
		struct httpc *h = &w->http[p->http];

		wk_close(w, h->conn);
		h->state = H_DOWN;
		h->conn = NIL;
	}
	part_done(w, p);
	http_pump(w);
}

static void org_timer(struct worker *w, unsigned i)
{
	struct org *o = &w->orgs[i];
	char why[64];

	if (o->state == O_OPEN) {
		org_start_chat(w, o);
		return;
	}
	if (o->state == O_SIGNIN) {
		no_response(why, sizeof(why), "complete",
			    w->o->request_timeout_ms);
		oerr(w, i, RE_TIMEOUT, "sign-in", why, T_ORG);
	} else if (o->state == O_UPGRADE) {
		no_response(why, sizeof(why), "handshake",
			    w->o->handshake_timeout_ms);
		oerr(w, i, RE_HANDSHAKE, "messenger handshake", why, T_MSG);
	} else {
		return;
	}
	wk_close(w, o->conn);
	o->state = O_DONE;
}

static void part_timer(struct worker *w, struct part *p)
{
	char why[64];

	if (p->state == P_CHAT) {
		send_due(w, p);
	} else if (p->state == P_WAIT_CHAT && p->awaiting) {
		no_response(why, sizeof(why), "get_chats",
			    w->o->request_timeout_ms);
		part_fail(w, p, RE_TIMEOUT, "waiting for chat", why);
	} else if (p->state == P_WAIT_CHAT) {
		send_get_chats(w, p);
	} else if (p->state <= P_REQUEST) {
		rest_timeout(w, p);
	} else if (p->state == P_UPGRADE) {
		no_response(why, sizeof(why), "handshake",
			    w->o->handshake_timeout_ms);
		part_fail(w, p, RE_HANDSHAKE, "messenger handshake", why);
	}
}

/* see run.h */
void sc_timer(struct worker *w, struct tw_node *n)
{
	struct timer *t = (struct timer *)n;

	hist_add(&w->timer_late, us_since(t->due_ns, w->eng.now_ns));
	switch (t->kind) {
	case TK_ARRIVAL:
		arrivals(w);
		break;
	case TK_ORG:
		org_timer(w, t->idx);
		break;
	case TK_PART:
		part_timer(w, part_at(w, t->idx));
		break;
	default:
		break;
	}
}

/* see run.h */
void sc_submitted(struct worker *w, enum owner_kind kind, uint32_t owner,
		  unsigned msgs)
{
	const int64_t smi = ms_ns(w->o->smi_ms);
	struct part *p;

	if (kind != OWN_PART)
		return;
	p = part_at(w, owner);
	/* The frames are this participant's next messages, in order. */
	while (msgs--) {
		uint32_t k = ++p->ksub;
		uint64_t lag = us_since(sched(p->chat_ns, smi, k), w->eng.now_ns);

		p->lag[k % LAGS] = LAG_TAG(k) |
				   (uint32_t)(lag < (1u << LAG_BITS) ? lag :
					      (1u << LAG_BITS) - 1);
		hist_add(&w->lag, lag);
	}
}

/* see run.h */
void sc_sent(struct worker *w, enum owner_kind kind, uint32_t owner,
	     unsigned msgs)
{
	if (kind == OWN_PART)
		part_at(w, owner)->nsent += msgs;
}

/* see run.h */
uint64_t sc_in_flight(const struct worker *w)
{
	uint64_t n = 0;

	for (uint32_t i = 0; i < w->nparts; i++) {
		const struct part *p = &w->pchunks[i / PCHUNK][i % PCHUNK];

		if (p->state == P_CHAT && p->conn != NIL && p->nsent > p->high)
			n += p->nsent - p->high;
	}
	return n;
}

/* see run.h */
void sc_account(struct worker *w)
{
	for (uint32_t i = 0; i < w->nparts; i++) {
		const struct part *p = part_at(w, i);
		/* An echo can beat the credit of its own send's last bytes
		 * (a short send the stop cut off): nothing above nsent is
		 * counted twice. */
		uint64_t hi = p->high < p->nsent ? p->high : p->nsent;
		uint64_t gap = hi > p->ndeliv ? hi - p->ndeliv : 0;
		uint64_t above = p->nsent - hi;

		w->c.lost += gap;
		if (p->state == P_CHAT && p->conn != NIL)
			w->c.in_flight += above;
		else
			w->c.lost += above;
	}
}

/* see run.h */
void sc_drain(struct worker *w)
{
	/* Timers stop with the worker's wheel; nothing new is queued. */
	w->jobs_len = 0;
}

/* see run.h */
void sc_free(struct worker *w)
{
	for (uint32_t i = 0; i < w->pchunks_cap; i++)
		free(w->pchunks[i]);
	free(w->pchunks);
	free(w->orgs);
	free(w->org_copies);
	free(w->http);
	free(w->jobs);
	free(w->scratch);
	w->pchunks = NULL;
	w->orgs = NULL;
	w->org_copies = NULL;
	w->http = NULL;
	w->jobs = NULL;
	w->scratch = NULL;
}
