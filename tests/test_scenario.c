/*
 * Unit tests for run's scenario (src/run/scenario.h) on fake sessions: no
 * sockets, no engine. This file provides the session calls the scenario
 * makes (ses_*: they record what was opened and written) and its host's
 * run_error, drives the scenario's callbacks as a server would answer, and
 * moves a fake clock whose timers fire sc_timer. The REST pool is the
 * real one (session/pool.c) on these fake connections, driven through the
 * events the session gives it (ses_pool_up, _response, _ended).
 */
#include "test.h"
#include "run/scenario.h"
#include "session/internal.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdlib.h>

/* ---- fake sessions ---- */

#define FMAX 64
#define FOUT 32

struct fconn {
	int kind;          /* SES_HTTP, SES_WS */
	unsigned target;
	uint32_t tag;
	int open;
	unsigned nout, units;
	char out[FOUT][1200];
};

static struct fconn fc[FMAX];
static unsigned nfc;
static int64_t fnow;
static struct tw ftw;
static char errs[16][256];
static unsigned nerrs;
static struct ses fses;   /* never looked into */
static struct run frun;
static struct run_opts fopts;

static uint32_t fopen_conn(int kind, unsigned t, uint32_t tag)
{
	if (nfc == FMAX)
		return ENG_NIL;
	memset(&fc[nfc], 0, sizeof(fc[nfc]));
	fc[nfc].kind = kind;
	fc[nfc].target = t;
	fc[nfc].tag = tag;
	fc[nfc].open = 1;
	return nfc++;
}

uint32_t ses_http_open(struct ses *S, unsigned t, uint32_t tag, char *why,
		       size_t whylen)
{
	(void)S;
	snprintf(why, whylen, "no slot");
	return fopen_conn(SES_HTTP, t, tag);
}

uint32_t ses_ws_open(struct ses *S, unsigned t, uint32_t tag, char *why,
		     size_t whylen)
{
	(void)S;
	snprintf(why, whylen, "no slot");
	return fopen_conn(SES_WS, t, tag);
}

static void record(uint32_t id, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void record(uint32_t id, const char *fmt, ...)
{
	struct fconn *c = &fc[id];
	va_list ap;

	if (c->nout == FOUT)
		return;
	va_start(ap, fmt);
	vsnprintf(c->out[c->nout++], sizeof(c->out[0]), fmt, ap);
	va_end(ap);
}

uint32_t ses_pool_open(struct ses *S, struct ses_pool *P, unsigned i,
		       char *why, size_t whylen)
{
	(void)S;
	snprintf(why, whylen, "no slot");
	return fopen_conn(SES_HTTP, P->target, i);
}

int ses_http_request(struct ses *S, uint32_t id, const char *method,
		     const char *path, const char *extra, const char *body,
		     size_t blen)
{
	(void)S;
	record(id, "%s %s\n%s\n%.*s", method, path, extra ? extra : "",
	       (int)blen, body);
	return 0;
}

int ses_ws_text(struct ses *S, uint32_t id, const char *txt, size_t n,
		unsigned units)
{
	(void)S;
	record(id, "%.*s", (int)n, txt);
	fc[id].units += units;
	return 0;
}

void ses_close(struct ses *S, uint32_t id)
{
	(void)S;
	if (id < nfc)
		fc[id].open = 0;
}

void ses_timer_at(struct ses *S, struct tw_node *n, int64_t at_ns)
{
	(void)S;
	tw_del(&ftw, n);
	tw_add(&ftw, n, (uint64_t)(at_ns + 999999) / 1000000);
}

void ses_timer_del(struct ses *S, struct tw_node *n)
{
	(void)S;
	tw_del(&ftw, n);
}

int64_t ses_now(const struct ses *S)
{
	(void)S;
	return fnow;
}

int64_t ses_clock(const struct ses *S)
{
	(void)S;
	return fnow;
}

void run_error(struct scenario *sc, const char *text)
{
	(void)sc;
	if (nerrs < 16)
		snprintf(errs[nerrs++], sizeof(errs[0]), "%s", text);
}

/* ---- driving ---- */

#define T0 1000000000LL      /* the run's start on the fake clock */
#define MS 1000000LL

static void fire(void *ctx, struct tw_node *n)
{
	sc_timer(ctx, n);
}

/* Move the clock to `to`, firing every timer due by then, in order. */
static void advance(struct scenario *sc, int64_t to)
{
	for (int64_t t = fnow; t < to;) {
		t = t + MS < to ? t + MS : to;
		fnow = t;
		tw_advance(&ftw, (uint64_t)t / 1000000, fire, sc);
	}
}

/* The newest connection of this kind, target and owner, or -1. */
static int conn_of(int kind, unsigned t, uint32_t tag)
{
	for (int i = (int)nfc - 1; i >= 0; i--)
		if (fc[i].kind == kind && fc[i].target == t && fc[i].tag == tag)
			return i;
	return -1;
}

static const char *last_out(int id)
{
	return id >= 0 && fc[id].nout ? fc[id].out[fc[id].nout - 1] : "";
}

static int setup(struct scenario *sc, unsigned organizers, unsigned http)
{
	memset(fc, 0, sizeof(fc));
	memset(&fses, 0, sizeof(fses));
	nfc = 0;
	nerrs = 0;
	fnow = T0;
	tw_free(&ftw);
	memset(&ftw, 0, sizeof(ftw));
	if (tw_init(&ftw, 4096, (uint64_t)T0 / 1000000) < 0)
		return -1;
	memset(&frun, 0, sizeof(frun));
	frun.nw = 1;
	frun.t0_real_ns = 1700000000LL * 1000000000LL;
	memset(&fopts, 0, sizeof(fopts));
	fopts.sci_ms = 1000;
	fopts.cpi_ms = 1000;
	fopts.smi_ms = 100;
	fopts.max_errors = 1000;
	fopts.threads = 1;
	fopts.organizers = organizers;
	fopts.http_conns = http;
	fopts.event_id = 1;
	fopts.request_timeout_ms = 1000;
	fopts.handshake_timeout_ms = 1000;
	fopts.send_timeout_ms = 1000;
	snprintf(fopts.org_email, sizeof(fopts.org_email), "jan@kowalski.com");
	snprintf(fopts.org_password, sizeof(fopts.org_password), "secret");
	fopts.max_participants = 1;
	if (run_set_target(&fopts, T_ORG, "http://127.0.0.1:3000", "organizer") ||
	    run_set_target(&fopts, T_PART, "http://127.0.0.1:3001", "participant") ||
	    run_set_target(&fopts, T_MSG, "ws://127.0.0.1:3002/", "messenger"))
		return -1;
	return sc_init(sc, &fopts, &frun, 0, &fses, T0);
}

static const struct sockaddr_storage *local_addr(void)
{
	static struct sockaddr_storage ss;
	struct sockaddr_in *a = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	a->sin_family = AF_INET;
	a->sin_port = htons(40000);
	inet_pton(AF_INET, "127.0.0.1", &a->sin_addr);
	return &ss;
}

/* A response on REST connection h of the pool; keep_alive 0: the server
 * closes after it, and so does the session. */
static void rest_answer(struct scenario *sc, int h, int status,
			const char *body, size_t blen, int keep_alive)
{
	if (!keep_alive)
		fc[h].open = 0;
	ses_pool_response(&sc->rest, fc[h].tag, status, body, blen,
			  keep_alive);
}

#define PTAG TAG(OWN_PART, 0)
#define PTOK "{\"token\":\"ptok\",\"user\":{\"id\":7}}"
#define CHAT_ID "0123456789abcdef01234567"

/* Participant 1 from its arrival to an authorized WebSocket; returns the
 * WebSocket's id, or -1 with the failing line printed. */
static int reach_ws(struct scenario *sc)
{
	int h, ws;

	advance(sc, T0 + MS);          /* arrival 1 is due at T0 */
	h = conn_of(SES_HTTP, T_PART, 0);
	if (h < 0)
		return -__LINE__;
	ses_pool_up(&sc->rest, fc[h].tag);
	if (!strstr(last_out(h), "POST /auth/sign-up") ||
	    !strstr(last_out(h), "participant_1700000000_1@performance.com"))
		return -__LINE__;
	rest_answer(sc, h, 201,
		    PTOK, strlen(PTOK), 1);
	if (!strstr(last_out(h), "POST /chat-requests") ||
	    !strstr(last_out(h), "Authorization: Bearer ptok") ||
	    !strstr(last_out(h), "\"eventId\":1"))
		return -__LINE__;
	rest_answer(sc, h, 200, "{}", 2, 1);
	ws = conn_of(SES_WS, T_MSG, PTAG);
	if (ws < 0 || sc->c.created != 1)
		return -__LINE__;
	sc_up(sc, PTAG, (uint32_t)ws, local_addr());
	sc_upgraded(sc, PTAG, (uint32_t)ws);
	if (strcmp(last_out(ws), "{\"Authorization\":\"Bearer ptok\"}") ||
	    sc->c.connected != 1)
		return -__LINE__;
	return ws;
}

/* ... and on to its chat, from a get_chats answer. */
static int reach_chat(struct scenario *sc)
{
	int ws = reach_ws(sc);
	static const char chats[] = "{\"type\":\"chats\",\"payload\":{\"chats\":"
				    "[{\"id\":\"" CHAT_ID "\"}]}}";

	if (ws < 0)
		return ws;
	advance(sc, fnow + 100 * MS);
	if (strcmp(last_out(ws), "{\"type\":\"get_chats\",\"payload\":\"\"}"))
		return -__LINE__;
	if (sc_text(sc, PTAG, (uint32_t)ws, chats, sizeof(chats) - 1) < 0 ||
	    sc->c.chats != 1)
		return -__LINE__;
	return ws;
}

static void echo_of(char *buf, size_t cap, unsigned k)
{
	snprintf(buf, cap, "{\"type\":\"user_message\",\"payload\":{\"id\":"
		 "\"aaaaaaaaaaaaaaaaaaaaaaaa\",\"chatId\":\"" CHAT_ID "\","
		 "\"authorId\":7,\"content\":\"connection 127.0.0.1:40000: "
		 "message number %u\"}}", k);
}

/* ---- cases ---- */

/* Sign-up, chat request, WebSocket, chat, messages on schedule, their
 * echoes: every counter of the way. */
static int participant_lifecycle(void)
{
	struct scenario sc;
	char echo[400];
	int ws;

	check(setup(&sc, 0, 2) == 0);
	sc_start(&sc);
	ws = reach_chat(&sc);
	if (ws < 0)
		fprintf(stderr, "reach_chat: line %d; errors %u: %s\n", -ws,
			nerrs, nerrs ? errs[0] : "");
	check(ws >= 0);
	check_eq(sc.c.http_opened, 1);
	check_eq(sc.ph_signup.count, 1);
	check_eq(sc.ph_request.count, 1);
	check_eq(sc.to_chat.count, 1);
	check_eq(sc.arrival_lag.count, 1);
	/* Message 1 is due smi after the chat was found, 2 after 2 smi. */
	check_eq(fc[ws].units, 0);
	advance(&sc, fnow + 100 * MS);
	check_eq(fc[ws].units, 1);
	check(!strcmp(last_out(ws), "{\"type\":\"send_message\",\"payload\":"
		      "{\"chatId\":\"" CHAT_ID "\",\"message\":\"connection "
		      "127.0.0.1:40000: message number 1\"}}"));
	check(strstr(last_out(ws),
		     "connection 127.0.0.1:40000: message number 1"));
	advance(&sc, fnow + 100 * MS);
	check_eq(fc[ws].units, 2);
	check(strstr(last_out(ws), "message number 2"));
	sc_submitted(&sc, PTAG, 2);
	check_eq(sc.lag.count, 2);
	sc_sent(&sc, PTAG, 2, 0);
	check_eq(sc.c.sent, 2);
	echo_of(echo, sizeof(echo), 1);
	check(sc_text(&sc, PTAG, (uint32_t)ws, echo, strlen(echo)) == 0);
	check_eq(sc.c.delivered, 1);
	check_eq(sc.lat.count, 1);
	check_eq(sc.lat_actual.count, 1);
	/* A repeat and a number never sent are not deliveries. */
	check(sc_text(&sc, PTAG, (uint32_t)ws, echo, strlen(echo)) == 0);
	echo_of(echo, sizeof(echo), 9);
	check(sc_text(&sc, PTAG, (uint32_t)ws, echo, strlen(echo)) == 0);
	check_eq(sc.c.delivered, 1);
	check_eq(sc.c.echo_unmatched, 2);
	/* Message 2 is in flight on an open connection. */
	check_eq(sc_in_flight(&sc), 1);
	sc_account(&sc);
	check_eq(sc.c.in_flight, 1);
	check_eq(sc.c.lost, 0);
	check_eq(nerrs, 0);
	sc_free(&sc);
	return 0;
}

/* A connection that ends takes its messages in flight with it: lost. */
static int closed_connection_loses_in_flight(void)
{
	struct scenario sc;
	struct ses_end end = { .what = SES_NET, .err = -ECONNRESET };
	int ws;

	check(setup(&sc, 0, 1) == 0);
	sc_start(&sc);
	ws = reach_chat(&sc);
	check(ws >= 0);
	advance(&sc, fnow + 300 * MS);
	check_eq(fc[ws].units, 3);
	sc_submitted(&sc, PTAG, 3);
	sc_sent(&sc, PTAG, 3, 0);
	sc_closed(&sc, PTAG, &end);
	check_eq(sc.c.err[RE_CLOSED], 1);
	check(nerrs == 1 && strstr(errs[0], "messenger: participant 1: "
				   "connection closed by the server"));
	/* Nothing more is written for it. */
	advance(&sc, fnow + 500 * MS);
	check_eq(fc[ws].units, 3);
	/* Frames the kernel took after the close count as lost. */
	sc_sent(&sc, PTAG, 1, 1);
	check_eq(sc.c.sent, 4);
	sc_account(&sc);
	check_eq(sc.c.in_flight, 0);
	check_eq(sc.c.lost, 4);
	check_eq(sc.c.part_failed, 0); /* it had found its chat */
	sc_free(&sc);
	return 0;
}

/* The organizer: sign-in, its WebSocket, start_chat every sci, and what
 * it reads. */
static int organizer_flow(void)
{
	struct scenario sc;
	static const char um[] = "{\"type\":\"user_message\",\"payload\":{}}";
	static const char nc[] = "{\"type\":\"new_chat\",\"payload\":{}}";
	static const char info[] = "{\"type\":\"info\",\"payload\":"
				   "\"no new chats\"}";
	uint32_t otag = TAG(OWN_ORG, 0);
	int h, ws;

	check(setup(&sc, 1, 1) == 0);
	fopts.cpi_ms = 1000000;  /* participant 1 only, at T0, */
	fopts.request_timeout_ms = 10000; /* left waiting for its REST */
	sc_start(&sc);
	h = conn_of(SES_HTTP, T_ORG, otag);
	check(h >= 0);
	sc_up(&sc, otag, (uint32_t)h, local_addr());
	check(strstr(last_out(h), "POST /auth/sign-in"));
	check(strstr(last_out(h), "\"email\":\"jan@kowalski.com\""));
	check(strstr(last_out(h), "\"password\":\"secret\""));
	sc_response(&sc, otag, (uint32_t)h, 200, "{\"token\":\"otok\"}",
		    strlen("{\"token\":\"otok\"}"), 1);
	check(!fc[h].open);
	check(frun.org_start_real_ns != 0);
	ws = conn_of(SES_WS, T_MSG, otag);
	check(ws >= 0);
	sc_up(&sc, otag, (uint32_t)ws, local_addr());
	sc_upgraded(&sc, otag, (uint32_t)ws);
	check(!strcmp(fc[ws].out[0], "{\"Authorization\":\"Bearer otok\"}"));
	/* start_chat on the schedule from the run's start: one per sci. */
	advance(&sc, T0 + 3000 * MS + MS);
	check_eq(sc.c.start_chats, 3);
	check(!strcmp(last_out(ws), "{\"type\":\"start_chat\",\"payload\":\"\"}"));
	check(sc_text(&sc, otag, (uint32_t)ws, um, sizeof(um) - 1) == 0);
	check(sc_text(&sc, otag, (uint32_t)ws, um, sizeof(um) - 1) == 0);
	check(sc_text(&sc, otag, (uint32_t)ws, nc, sizeof(nc) - 1) == 0);
	check(sc_text(&sc, otag, (uint32_t)ws, info, sizeof(info) - 1) == 0);
	check_eq(sc.c.org_received, 2);
	check_eq(sc.org_copies[0], 2);
	check_eq(sc.c.new_chats, 1);
	check_eq(sc.c.no_new_chats, 1);
	check_eq(nerrs, 0);
	sc_free(&sc);
	return 0;
}

/* A wrong password: the organizer's error names the API's message. */
static int organizer_sign_in_refused(void)
{
	struct scenario sc;
	uint32_t otag = TAG(OWN_ORG, 0);
	static const char body[] = "{\"statusCode\":400,\"message\":"
				   "\"invalid email or password\"}";
	int h;

	check(setup(&sc, 1, 1) == 0);
	fopts.cpi_ms = 1000000;
	fopts.request_timeout_ms = 10000;
	sc_start(&sc);
	h = conn_of(SES_HTTP, T_ORG, otag);
	sc_up(&sc, otag, (uint32_t)h, local_addr());
	sc_response(&sc, otag, (uint32_t)h, 400, body, sizeof(body) - 1, 1);
	check_eq(sc.c.err[RE_HTTP], 1);
	check(strstr(errs[0], "sign-in: organizer 1: HTTP 400 \"invalid email "
		     "or password\" (http://127.0.0.1:3000/auth/sign-in)"));
	check(!fc[h].open);
	check(conn_of(SES_WS, T_MSG, otag) < 0);
	/* It is out of the run: no start_chat, no timer. */
	advance(&sc, T0 + 3000 * MS);
	check_eq(sc.c.start_chats, 0);
	sc_free(&sc);
	return 0;
}

/* Open loop: a request's deadline counts from its queueing, also while
 * it waits for a REST connection. */
static int rest_deadline_counts_from_queue(void)
{
	struct scenario sc;

	check(setup(&sc, 0, 1) == 0);
	fopts.max_participants = 2;
	fopts.cpi_ms = 100;
	sc_start(&sc);
	advance(&sc, T0 + 150 * MS);  /* two arrivals, one connection */
	check_eq(nfc, 1);             /* never comes up */
	check_eq(sc.backlog, 2);
	advance(&sc, T0 + 1000 * MS + 2 * MS);
	check_eq(sc.c.err[RE_TIMEOUT], 1);
	check(strstr(errs[0], "sign-up: participant 1: no complete response "
		     "within 1s (queued for a REST connection)"));
	advance(&sc, T0 + 1100 * MS + 2 * MS);
	check_eq(sc.c.err[RE_TIMEOUT], 2);
	check(strstr(errs[1], "participant 2"));
	check_eq(sc.c.part_failed, 2);
	check_eq(sc.backlog, 0);
	sc_free(&sc);
	return 0;
}

/* Without a chat after ten get_chats the participant fails. */
static int no_chat_after_ten_get_chats(void)
{
	struct scenario sc;
	static const char empty[] = "{\"type\":\"chats\",\"payload\":"
				    "{\"chats\":[]}}";
	unsigned asked = 0;
	int ws;

	check(setup(&sc, 0, 1) == 0);
	sc_start(&sc);
	ws = reach_ws(&sc);
	check(ws >= 0);
	for (int i = 0; i < 10; i++) {
		advance(&sc, fnow + 100 * MS);
		check(!strcmp(last_out(ws),
			      "{\"type\":\"get_chats\",\"payload\":\"\"}"));
		asked = fc[ws].nout;
		check(sc_text(&sc, PTAG, (uint32_t)ws, empty,
			      sizeof(empty) - 1) == 0);
	}
	check_eq(sc.c.err[RE_NO_CHAT], 1);
	check(strstr(errs[0], "no chat after 10 get_chats"));
	check(!fc[ws].open);
	check_eq(sc.c.part_failed, 1);
	advance(&sc, fnow + 500 * MS);
	check_eq(fc[ws].nout, asked);
	sc_free(&sc);
	return 0;
}

/* What the sessions report ends a participant with the right kind. */
static int session_ends_are_errors(void)
{
	struct scenario sc;
	struct ses_end bad = { .what = SES_BAD_FRAME,
			       .text = "a masked frame from the server" };
	struct ses_end hs = { .what = SES_HANDSHAKE,
			      .text = "wrong Sec-WebSocket-Accept in handshake" };
	struct ses_end unasked = { .what = SES_UNASKED,
				   .text = "unexpected bytes from the server" };
	static const char serr[] = "{\"type\":\"error\",\"payload\":"
				   "{\"message\":\"message could not be saved\"}}";
	int ws;

	check(setup(&sc, 0, 1) == 0);
	sc_start(&sc);
	ws = reach_chat(&sc);
	check(ws >= 0);
	check(sc_text(&sc, PTAG, (uint32_t)ws, serr, sizeof(serr) - 1) == 0);
	check_eq(sc.c.err[RE_SERVER], 1);
	check(strstr(errs[0], "server error \"message could not be saved\""));
	sc_closed(&sc, PTAG, &bad);
	check_eq(sc.c.err[RE_PROTOCOL], 1);
	check(strstr(errs[1], "messenger: participant 1: a masked frame"));
	/* The REST connection, idle, gets bytes nobody asked for. */
	ses_pool_ended(&sc.rest, 0, &unasked);
	check_eq(sc.c.err[RE_PROTOCOL], 2);
	check(strstr(errs[2], "REST: unexpected bytes from the server "
		     "(http://127.0.0.1:3001)"));
	sc_free(&sc);

	/* A failed upgrade, before the chat: a failed participant. */
	check(setup(&sc, 0, 1) == 0);
	sc_start(&sc);
	advance(&sc, T0 + MS);
	{
		int h = conn_of(SES_HTTP, T_PART, 0);

		ses_pool_up(&sc.rest, fc[h].tag);
		rest_answer(&sc, h, 201,
			    PTOK, strlen(PTOK), 1);
		rest_answer(&sc, h, 200, "{}", 2, 1);
	}
	ws = conn_of(SES_WS, T_MSG, PTAG);
	sc_up(&sc, PTAG, (uint32_t)ws, local_addr());
	sc_closed(&sc, PTAG, &hs);
	check_eq(sc.c.err[RE_HANDSHAKE], 1);
	check(strstr(errs[0], "messenger handshake: participant 1: wrong "
		     "Sec-WebSocket-Accept"));
	check_eq(sc.c.part_failed, 1);
	check_eq(sc.c.connected, 0);
	sc_free(&sc);
	return 0;
}

/* A REST server that closes after each response: the next request gets
 * a new connection. */
static int connection_close_reopens(void)
{
	struct scenario sc;
	int h, h2;

	check(setup(&sc, 0, 1) == 0);
	sc_start(&sc);
	advance(&sc, T0 + MS);
	h = conn_of(SES_HTTP, T_PART, 0);
	ses_pool_up(&sc.rest, fc[h].tag);
	rest_answer(&sc, h, 201,
		    PTOK, strlen(PTOK), 0);
	check_eq(fc[h].nout, 1);   /* nothing more on the closing one */
	h2 = conn_of(SES_HTTP, T_PART, 0);
	check(h2 > h);
	check_eq(sc.c.http_opened, 2);
	ses_pool_up(&sc.rest, fc[h2].tag);
	check(strstr(last_out(h2), "POST /chat-requests"));
	sc_free(&sc);
	return 0;
}

/* The pool's connections fail their job with the right kind: the oldest
 * queued one when a connection never came up, the one in flight when it
 * was lost, stalled or answered with garbage. A burst opens connections
 * up to the pool's size. */
static int rest_pool_failures(void)
{
	struct scenario sc;
	struct ses_end refused = { .what = SES_NET, .err = -ECONNREFUSED,
				   .connecting = 1 };
	struct ses_end reset = { .what = SES_NET, .err = -ECONNRESET };
	struct ses_end stalled = { .what = SES_STALLED };
	struct ses_end garbage = { .what = SES_MALFORMED,
				   .text = "malformed HTTP response" };

	check(setup(&sc, 0, 2) == 0);
	fopts.max_participants = 5;
	fopts.cpi_ms = 1;
	fopts.request_timeout_ms = 60000;
	sc_start(&sc);
	advance(&sc, T0 + 3 * MS);       /* arrivals 1..3 (and 4 due) */
	check_eq(nfc, 2);                /* two connections, not more */
	check_eq(sc.c.http_opened, 2);
	/* Connection 0 is refused: participant 1, the oldest, fails. */
	ses_pool_ended(&sc.rest, 0, &refused);
	check_eq(sc.c.err[RE_CONNECT], 1);
	check(strstr(errs[0], "sign-up: participant 1: connect: "));
	/* ... and the pool opens another for the jobs still waiting. */
	check_eq(sc.c.http_opened, 3);
	/* Connection 1 comes up and takes participant 2; it is reset. */
	ses_pool_up(&sc.rest, 1);
	check(strstr(last_out(1), "participant_1700000000_2@"));
	ses_pool_ended(&sc.rest, 1, &reset);
	check_eq(sc.c.err[RE_RECV], 1);
	check(strstr(errs[1], "sign-up: participant 2: connection closed by "
		     "the server"));
	/* The third connection (pool slot 0 again) takes participant 3 and
	 * stalls; then the next one answers garbage for participant 4. */
	ses_pool_up(&sc.rest, 0);
	check(strstr(last_out((int)nfc - 1), "participant_1700000000_3@") ||
	      strstr(last_out((int)nfc - 2), "participant_1700000000_3@"));
	ses_pool_ended(&sc.rest, 0, &stalled);
	check_eq(sc.c.err[RE_SEND], 1);
	check(strstr(errs[2], "participant 3: a send waited 1s"));
	advance(&sc, T0 + 5 * MS);
	ses_pool_up(&sc.rest, 0);
	ses_pool_ended(&sc.rest, 0, &garbage);
	check_eq(sc.c.err[RE_PROTOCOL], 1);
	check(strstr(errs[3], "participant 4: malformed HTTP response"));
	check_eq(sc.c.part_failed, 4);
	sc_free(&sc);
	return 0;
}

TEST_MAIN(T(participant_lifecycle), T(closed_connection_loses_in_flight),
	  T(organizer_flow), T(organizer_sign_in_refused),
	  T(rest_deadline_counts_from_queue), T(no_chat_after_ten_get_chats),
	  T(session_ends_are_errors), T(connection_close_reopens),
	  T(rest_pool_failures))
