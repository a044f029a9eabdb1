/*
 * scenario: the participants' and organizers' state machines of `esmeload
 * run` over client sessions. See scenario.h.
 */
#include "run/scenario.h"

#include "run/chatmap.h"
#include "run/hcheck.h"

#include "json.h"
#include "jsonw.h"
#include "run.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCHUNK 1024
#define MAX_TOKENS 256
#define GET_CHATS_TRIES 10

enum tkind { TK_PART = 1, TK_ORG, TK_ARRIVAL, TK_REPLY, TK_CLOSE };

#define timer run_timer

/*
 * A participant's states, in the order of its first chat. After it:
 * P_CLOSED, its chat ended (waiting --reopen-after, or idle); P_AWAY,
 * dropped, waiting the backoff; P_REJOIN and P_HISTORY, back on a new
 * connection, waiting for its chats and its chat's history. A reopened
 * chat's request goes through P_REQUEST_Q and P_REQUEST again, and a
 * reconnect through P_CONNECT and P_UPGRADE (p->resume says what then).
 */
enum pstate {
	P_SIGNUP_Q = 0, P_SIGNUP, P_REQUEST_Q, P_REQUEST, P_CONNECT, P_UPGRADE,
	P_WAIT_CHAT, P_CHAT, P_CLOSED, P_AWAY, P_REJOIN, P_HISTORY, P_DONE,
};

/* What a participant back from a reconnect does once authorized. */
enum resume { R_WAIT = 0, R_CHAT, R_IDLE };

/* One more connection of a participant (--devices): what it must read.
 * Registered once its get_chats is answered: then every echo of a
 * message numbered above from must reach it. */
struct pdev {
	uint32_t conn;
	uint32_t from;       /* NIL until registered */
	uint32_t high;       /* highest own number it read */
};
/* A device whose copies count: open and registered. */
#define PDEV_LIVE(v) ((v)->conn != NIL && (v)->from != NIL)

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
	/*
	 * Settled accounts: numbers up to acc are counted (delivered or
	 * lost) already, at a chat's end or a drop; ndeliv counts the echoes
	 * above acc. A chat's numbers follow on from chat_k0; message
	 * sched_k0 + j is due at chat_ns + j * smi (a return from a
	 * reconnect starts the schedule again).
	 */
	uint32_t acc;
	uint32_t chat_k0, sched_k0;
	uint32_t drop_k;     /* the last number of the dropped connection */
	uint32_t rep_chat;   /* replies read (or found in a history), this chat */
	uint32_t rep_owed;   /* ... counted missed at the last history check */
	int64_t rep_last;    /* the latest reply schedule that history held */
	uint8_t resume;      /* enum resume */
	uint8_t had_chat;    /* found a chat once: not a failed arrival */
	uint8_t closed_seen; /* prev_chat is set */
	uint8_t back;        /* connecting again after a drop */
	uint8_t early_refusal; /* refused in its chat, its closed_chat due */
	uint8_t hist_asked;  /* its get_chat_history not answered yet */
	int64_t refused_ns;  /* ... since then */
	uint32_t drop_high;  /* the highest echo read before the last drop */
	uint32_t early_echoes; /* echoed before their send's credit, at a
				* drop: that credit comes detached, and they
				* are delivered, not lost */
	int64_t drop_ns;     /* in its chat: when the tester drops it, 0 never */
	int64_t away_ns;     /* the reconnect's start, for rejoin */
	char prev_chat[24];  /* the chat that ended: its refusals are expected */
	uint8_t *ebits;      /* --reconnect-uptime: this chat's echoed numbers */
	uint32_t ebits_cap;  /* ... bits */
	struct pdev *dev;    /* --devices: devices 1 .. N-1 */
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

/* O_DEVICES: authorized, its other devices not all registered yet
 * (--org-devices): no start_chat before they are. */
enum ostate { O_SIGNIN = 0, O_CONNECT, O_UPGRADE, O_DEVICES, O_OPEN, O_DONE };

/* An organizer's reply waiting for its time, then for room to be sent
 * (the organizer's queue, in due order). */
struct reply {
	struct timer t;
	char chat[25];
	uint32_t org;
	uint32_t next;       /* queue or free list: reply index or NIL */
	int64_t due_real_ns; /* its schedule, on the wall clock */
};
#define RCHUNK 1024

/* One more connection of an organizer (--org-devices). */
struct odev {
	uint32_t conn;
	uint8_t up;          /* registered: its get_chats answered (or given
			      * up on) */
	uint64_t expected, received; /* frames it should read, and did */
};

/* A chat an organizer started, with a lifetime (--chat-lifetime,
 * --chat-messages). */
struct ochat {
	struct timer t;      /* TK_CLOSE: its lifetime's end */
	char id[24];
	uint32_t org;
	uint32_t heard;      /* the participant's messages read */
	uint8_t state;       /* OC_OPEN, OC_CLOSING (close_chat sent), OC_CLOSED */
};
enum { OC_OPEN = 0, OC_CLOSING, OC_CLOSED };

struct org {
	uint32_t conn;
	struct odev dev[RUN_MAX_DEVICES - 1];
	uint8_t ndev_up;
	uint32_t rq_head, rq_tail; /* replies due, not yet sent */
	uint64_t heard;      /* participants' messages read */
	uint8_t state;
	char token[768];
	size_t token_len;
	int64_t start_ns;
	uint64_t j;          /* start_chat frames sent */
	struct timer t;
};

/*
 * Room for entry i of a table of chunks of n entries each, tab[cap]: the
 * table doubled and entry i's chunk allocated (zeroed) as needed, so
 * entries never move. 0 or -ENOMEM. A macro, for each table's own type.
 */
#define CHUNK_ROOM(tab, cap, i, n) __extension__ ({                        \
	int r_ = 0;                                                         \
	if ((i) / (n) >= (cap)) {                                           \
		uint32_t nc_ = (cap) ? (cap) * 2 : 16;                      \
		__typeof__(tab) t_ = realloc((tab), nc_ * sizeof(*t_));     \
		if (t_) {                                                   \
			memset(t_ + (cap), 0, (nc_ - (cap)) * sizeof(*t_)); \
			(tab) = t_;                                         \
			(cap) = nc_;                                        \
		} else {                                                    \
			r_ = -ENOMEM;                                       \
		}                                                           \
	}                                                                   \
	if (!r_ && !(tab)[(i) / (n)] &&                                     \
	    !((tab)[(i) / (n)] = calloc((n), sizeof(**(tab)))))             \
		r_ = -ENOMEM;                                               \
	r_;                                                                 \
})

static struct part *part_at(struct scenario *sc, uint32_t i)
{
	return &sc->pchunks[i / PCHUNK][i % PCHUNK];
}

static int64_t ms_ns(int64_t ms) { return ms * 1000000; }

static void timer_at(struct scenario *sc, struct timer *t, int64_t at_ns)
{
	t->due_ns = at_ns;
	ses_timer_at(sc->ses, &t->node, at_ns);
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

/* Message k of p is due at chat_ns + (k - sched_k0) * smi. */
static int64_t part_due(const struct scenario *sc, const struct part *p,
			uint32_t k)
{
	return sched(p->chat_ns, sc->o->smi_ms * 1000000,
		     (uint64_t)(k - p->sched_k0));
}

/* The token is kept past the authorization: for a reopened chat's
 * request, a reconnect or the other devices. */
static int keep_token(const struct run_opts *o)
{
	return o->reopen_after_ms || o->reconnect_uptime_ms || o->devices > 1;
}

/* A participant acts on closed_chat: chats end in this run (the Go
 * tool's scenario reads it and goes on sending). */
static int ends_seen(const struct run_opts *o)
{
	return run_chats_end(o) || o->reopen_after_ms || o->reconnect_uptime_ms;
}


/* xorshift64: the next number of a seeded sequence, as a draw in (0, 1]. */
static double draw(uint64_t *rng)
{
	*rng ^= *rng << 13;
	*rng ^= *rng >> 7;
	*rng ^= *rng << 17;
	return (double)((*rng >> 11) + 1) * 0x1.0p-53;
}

/* A duration drawn from the exponential distribution of mean ns. */
static int64_t exp_ns(uint64_t *rng, int64_t mean)
{
	return (int64_t)(-log(draw(rng)) * (double)mean);
}

/* A duration in µs for a histogram: end - start, 0 if negative. */
static uint64_t us_since(int64_t start_ns, int64_t end_ns)
{
	return end_ns > start_ns ? (uint64_t)(end_ns - start_ns) / 1000 : 0;
}

/* ---- the scenario's own ---- */

/* see scenario.h */
int sc_init(struct scenario *sc, const struct run_opts *o, struct run *r,
	    unsigned id, struct ses *ses, int64_t t0_ns)
{
	memset(sc, 0, sizeof(*sc));
	sc->id = id;
	sc->o = o;
	sc->run = r;
	sc->ses = ses;
	sc->t0_ns = t0_ns;
	hist_reset(&sc->lat);
	hist_reset(&sc->lat_actual);
	hist_reset(&sc->lag);
	hist_reset(&sc->arrival_lag);
	hist_reset(&sc->ph_signup);
	hist_reset(&sc->ph_request);
	hist_reset(&sc->ph_connect);
	hist_reset(&sc->to_chat);
	hist_reset(&sc->timer_late);
	hist_reset(&sc->reply_lat);
	hist_reset(&sc->rejoin);
	sc->reply_free = NIL;
	/* the think times drawn are the test's: the same for every run of
	 * it, different for each worker */
	sc->rng = run_test_id(o) ^ (0x9e3779b97f4a7c15ULL * (id + 1));
	if (!sc->rng)
		sc->rng = 1;
	sc->rng_up = sc->rng ^ 0xd1b54a32d192ed03ULL;
	if (!sc->rng_up)
		sc->rng_up = 1;
	chatmap_init(&sc->ochat_map);
	return pool_init(&sc->tok_pool, 1024, 256, 0) < 0 ? -ENOMEM : 0;
}

/* see scenario.h */
void sc_error(struct scenario *sc, enum run_err kind, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	__atomic_store_n(&sc->c.err[kind], sc->c.err[kind] + 1,
			 __ATOMIC_RELAXED);
	if (!sc->has_err) {
		snprintf(sc->err_text, sizeof(sc->err_text), "%s", buf);
		sc->has_err = 1;
	}
	run_error(sc, buf);
}

/* see scenario.h */
void sc_rate(struct scenario *sc, unsigned n)
{
	int64_t sec = clock_real_ns() / 1000000000;
	uint64_t i;

	if (!sc->rates) {
		sc->rate_base = sec;
		sc->rates_cap = 4096;
		sc->rates = calloc(sc->rates_cap, sizeof(*sc->rates));
		if (!sc->rates)
			return;
	}
	if (sec < sc->rate_base)
		sec = sc->rate_base; /* the wall clock stepped back */
	i = (uint64_t)(sec - sc->rate_base);
	if (i >= sc->rates_cap) {
		uint32_t ncap = sc->rates_cap;
		uint32_t *nr;

		while (i >= ncap)
			ncap *= 2;
		nr = realloc(sc->rates, ncap * sizeof(*nr));
		if (!nr)
			return;
		memset(nr + sc->rates_cap, 0,
		       (ncap - sc->rates_cap) * sizeof(*nr));
		sc->rates = nr;
		sc->rates_cap = ncap;
	}
	sc->rates[i] += n;
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

static void perr(struct scenario *sc, struct part *p, enum run_err kind,
		 const char *phase, const char *cause, int target)
{
	if (sc->draining)
		return;
	/* Failed before its chat: --max-participants counts it as done. */
	if (p->state < P_CHAT && !p->failed && !p->had_chat) {
		p->failed = 1;
		sc->c.part_failed++;
	}
	sc_error(sc, kind, "%s: participant %llu: %s (%s%s)", phase,
		 (unsigned long long)p->n, cause, sc->o->t[target].url,
		 phase_path(phase));
}

static void oerr(struct scenario *sc, unsigned i, enum run_err kind,
		 const char *phase, const char *cause, int target)
{
	if (sc->draining)
		return;
	sc_error(sc, kind, "%s: organizer %u: %s (%s%s)", phase, i + 1, cause,
		 sc->o->t[target].url, phase_path(phase));
}

/* An organizer is out of the run: no timer, no connection of its own
 * (the caller closes it, or the worker does on a negative return). */
static void org_done(struct scenario *sc, struct org *o)
{
	ses_timer_del(sc->ses, &o->t.node);
	o->state = O_DONE;
	o->conn = NIL;
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
static void job_push(struct scenario *sc, uint32_t pi, int64_t queued_ns)
{
	if (ses_pool_queue(&sc->rest, pi) < 0) {
		sc_error(sc, RE_HTTP, "out of memory for REST jobs");
		return;
	}
	timer_at(sc, &part_at(sc, pi)->t,
		 queued_ns + ms_ns(sc->o->request_timeout_ms));
}

static int job_request(struct scenario *sc, uint32_t conn, struct part *p)
{
	const struct run_target *t = &sc->o->t[T_PART];
	char path[RUN_URL_MAX + 32], body[512], extra[1024];
	int64_t now = ses_clock(sc->ses);
	int bn, ret;

	p->phase_ns = now;
	if (p->state == P_SIGNUP_Q) {
		/* The arrival happens now: its lag is from its schedule. */
		hist_add(&sc->arrival_lag, us_since(p->due_ns, now));
		if (now - p->due_ns > 1000000000)
			sc->c.arrivals_late++;
		sc->backlog--;
		snprintf(path, sizeof(path), "%.*s/auth/sign-up",
			 (int)t->u.path_len, t->u.path);
		bn = snprintf(body, sizeof(body),
			      "{\"email\":\"participant_%lld_%llu@performance.com\","
			      "\"password\":\"performance\","
			      "\"confirmPassword\":\"performance\","
			      "\"phoneNumber\":\"+48100200300\"}",
			      (long long)(sc->run->t0_real_ns / 1000000000),
			      (unsigned long long)p->n);
		ret = ses_http_request(sc->ses, conn, "POST", path, NULL,
				       body, (size_t)bn);
		p->state = P_SIGNUP;
	} else {
		snprintf(path, sizeof(path), "%.*s/chat-requests",
			 (int)t->u.path_len, t->u.path);
		bn = snprintf(body, sizeof(body),
			      "{\"eventId\":%u,\"description\":"
			      "\"Performance test chat request\"}",
			      sc->o->event_id);
		snprintf(extra, sizeof(extra), "Authorization: Bearer %.*s\r\n",
			 (int)p->token_len, p->token);
		ret = ses_http_request(sc->ses, conn, "POST", path, extra,
				       body, (size_t)bn);
		p->state = P_REQUEST;
	}
	return ret;
}

/* The phase a participant's REST request belongs to, for errors. */
static const char *rest_phase(const struct part *p)
{
	return p->state == P_SIGNUP_Q || p->state == P_SIGNUP ? "sign-up" :
	       "chat request";
}

/* A participant is out of the run: no timer, no request. */
static void part_done(struct scenario *sc, struct part *p)
{
	if (p->state == P_SIGNUP_Q)
		sc->backlog--;
	ses_timer_del(sc->ses, &p->t.node);
	p->state = P_DONE;
	for (unsigned d = 0; p->dev && d + 1 < sc->o->devices; d++)
		if (p->dev[d].conn != NIL) {
			ses_close(sc->ses, p->dev[d].conn);
			p->dev[d].conn = NIL;
		}
}

/* A participant's REST request failed: it is done, and a connection it
 * holds while it asks again (--reopen-after) is closed. */
static void rest_done(struct scenario *sc, struct part *p)
{
	if (p->conn != NIL)
		ses_close(sc->ses, p->conn);
	p->conn = NIL;
	part_done(sc, p);
}

/* A participant on the messenger fails: the error, its connection
 * closed, and it is done. */
static void part_fail(struct scenario *sc, struct part *p, enum run_err kind,
		      const char *phase, const char *why)
{
	perr(sc, p, kind, phase, why, T_MSG);
	ses_close(sc->ses, p->conn);
	p->conn = NIL;
	part_done(sc, p);
}

static void part_connect(struct scenario *sc, uint32_t pi)
{
	struct part *p = part_at(sc, pi);

	char why[200];

	p->state = P_CONNECT;
	p->phase_ns = ses_now(sc->ses);
	p->conn = ses_ws_open(sc->ses, T_MSG, TAG(OWN_PART, pi), why,
			      sizeof(why));
	if (p->conn == NIL) {
		perr(sc, p, RE_CONNECT, "connect", why, T_MSG);
		part_done(sc, p);
	}
}

/* The response to a participant's REST request. */
static void rest_response(void *app, uint32_t job, int status,
			  const char *body, size_t blen)
{
	struct scenario *sc = app;
	struct part *p = part_at(sc, job);
	char cause[256];

	ses_timer_del(sc->ses, &p->t.node);
	if (p->state == P_SIGNUP) {
		char tok[1024];
		size_t tn;

		hist_add(&sc->ph_signup, us_since(p->phase_ns, ses_now(sc->ses)));
		if (status != 201) {
			http_cause(status, body, blen, cause, sizeof(cause));
			perr(sc, p, RE_HTTP, "sign-up", cause, T_PART);
			rest_done(sc, p);
			return;
		}
		if (token_of(body, blen, tok, sizeof(tok), &tn, &p->user_id) < 0 ||
		    tn > 1000) {
			perr(sc, p, RE_PROTOCOL, "sign-up",
			     "response without a token and user id", T_PART);
			rest_done(sc, p);
			return;
		}
		p->token = pool_get(&sc->tok_pool);
		if (!p->token) {
			perr(sc, p, RE_HTTP, "sign-up", "out of memory", T_PART);
			rest_done(sc, p);
			return;
		}
		memcpy(p->token, tok, tn);
		p->token_len = (uint16_t)tn;
		p->state = P_REQUEST_Q;
		job_push(sc, job, ses_now(sc->ses));
		return;
	}
	if (p->state == P_REQUEST) {
		hist_add(&sc->ph_request, us_since(p->phase_ns, ses_now(sc->ses)));
		if (status != 200) {
			http_cause(status, body, blen, cause, sizeof(cause));
			perr(sc, p, RE_HTTP, "chat request", cause, T_PART);
			rest_done(sc, p);
			return;
		}
		if (p->had_chat) /* --reopen-after: asked again */
			sc->c.chats_reopened++;
		else
			sc->c.created++;
		if (p->conn != NIL) {
			p->state = P_WAIT_CHAT;
			p->tries = 0;
			p->awaiting = 0;
			timer_at(sc, &p->t, ses_now(sc->ses) + ms_ns(sc->o->smi_ms));
			return;
		}
		part_connect(sc, job);
	}
}

/* ---- participants ---- */

/* 1 when this worker has no arrival left: --max-participants reached, or
 * -cpi 0, which creates exactly one participant (as the Go tool does). */
static int arrivals_over(const struct scenario *sc)
{
	const struct run_opts *o = sc->o;

	return (o->max_participants && sc->next_arrival > o->max_participants) ||
	       (run_cpi_ns(o) == 0 && sc->next_arrival > 1);
}

/* Participant number sc->next_arrival, due at due_ns, arrives: its
 * sign-up is queued. Returns 0, or -ENOMEM after reporting it. */
static int arrive(struct scenario *sc, int64_t due_ns)
{
	uint32_t pi = sc->nparts;
	struct part *p;

	if (CHUNK_ROOM(sc->pchunks, sc->pchunks_cap, pi, PCHUNK) < 0) {
		sc_error(sc, RE_HTTP, "out of memory for participants");
		return -ENOMEM;
	}
	if (sc->run->part_start_real_ns == 0 && sc->id == 0)
		sc->run->part_start_real_ns = clock_real_ns();
	p = part_at(sc, pi);
	memset(p, 0, sizeof(*p));
	p->n = sc->next_arrival;
	p->conn = NIL;
	p->state = P_SIGNUP_Q;
	p->due_ns = due_ns;
	p->t.kind = TK_PART;
	p->t.idx = pi;
	sc->nparts++;
	sc->backlog++;
	if (sc->backlog > sc->backlog_max)
		sc->backlog_max = sc->backlog;
	job_push(sc, pi, due_ns);
	return 0;
}

/*
 * Open loop: arrival n is due at start + (n - 1) * cpi whatever happened
 * before. Every arrival already due is made now (a tester that fell
 * behind catches up, and the lag of each shows it), at most a thousand
 * per pass so the loop stays responsive; then the timer waits for the
 * next.
 */
static void arrivals(struct scenario *sc)
{
	const int64_t cpi = run_cpi_ns(sc->o);

	for (int made = 0; made < 1000; made++) {
		int64_t due = sched(sc->t0_ns, cpi, sc->next_arrival - 1);

		if (arrivals_over(sc)) {
			sc->arrivals_done = 1;
			break;
		}
		if (due > ses_now(sc->ses)) {
			timer_at(sc, &sc->arrival, due);
			break;
		}
		if (arrive(sc, due) < 0)
			break;
		sc->next_arrival += (uint64_t)sc->run->nw * run_shards(sc->o);
	}
	if (!sc->arrivals_done && !tw_armed(&sc->arrival.node))
		timer_at(sc, &sc->arrival, ses_now(sc->ses));
	ses_pool_pump(&sc->rest);
}

/*
 * As the Go tool does it: wait smi, send get_chats, read one frame; a
 * chats answer with a chat ends the wait, anything else is a try used,
 * and the next comes smi later; more than 10 tries fail. The answer is
 * awaited for at most --request-timeout. A new_chat push ends the wait
 * early whenever it comes.
 */
static void send_get_chats(struct scenario *sc, struct part *p)
{
	static const char msg[] = "{\"type\":\"get_chats\",\"payload\":\"\"}";

	p->tries++;
	p->awaiting = 1;
	ses_ws_text(sc->ses, p->conn, msg, sizeof(msg) - 1, 0);
	timer_at(sc, &p->t, ses_now(sc->ses) + ms_ns(sc->o->request_timeout_ms));
}

/* The frame that answered a get_chats was not a chat: try again smi
 * later, or fail after the tenth. */
static void get_chats_again(struct scenario *sc, struct part *p)
{
	p->awaiting = 0;
	if (p->tries >= GET_CHATS_TRIES) {
		part_fail(sc, p, RE_NO_CHAT, "waiting for chat",
			  "no chat after 10 get_chats");
		return;
	}
	timer_at(sc, &p->t, ses_now(sc->ses) + ms_ns(sc->o->smi_ms));
}

/*
 * The text of message k of p: {"type":"send_message","payload":{"chatId":
 * "<chat>","message":"connection <addr>: message number <k>"}}, the Go
 * tool's, put together from its parts (no format string on the hot path).
 * out holds at least 256 bytes; returns the length.
 */
static size_t message_text(const struct part *p, uint32_t k, char *out)
{
	static const char a[] = "{\"type\":\"send_message\",\"payload\":"
				"{\"chatId\":\"";
	static const char b[] = "\",\"message\":\"connection ";
	static const char c[] = ": message number ";
	char digits[10], *o = out;
	int nd = 0;

	memcpy(o, a, sizeof(a) - 1);
	o += sizeof(a) - 1;
	memcpy(o, p->chat, 24);
	o += 24;
	memcpy(o, b, sizeof(b) - 1);
	o += sizeof(b) - 1;
	memcpy(o, p->addr, p->addr_len);
	o += p->addr_len;
	memcpy(o, c, sizeof(c) - 1);
	o += sizeof(c) - 1;
	do {
		digits[nd++] = (char)('0' + k % 10);
		k /= 10;
	} while (k);
	while (nd)
		*o++ = digits[--nd];
	memcpy(o, "\"}}", 3);
	return (size_t)(o + 3 - out);
}

/* Encode every message that is due and fits; arm the timer for the next.
 * Their lag is taken when they are handed to the kernel (sc_submitted). */
static void send_due(struct scenario *sc, struct part *p)
{
	char txt[256];
	int64_t next;

	while (part_due(sc, p, p->k + 1) <= ses_now(sc->ses)) {
		size_t n = message_text(p, p->k + 1, txt);

		if (ses_ws_text(sc->ses, p->conn, txt, n, 1) < 0)
			return; /* slot full: sc_writable resumes */
		p->k++;
	}
	next = part_due(sc, p, p->k + 1);
	if (p->drop_ns && p->drop_ns < next)
		next = p->drop_ns;
	timer_at(sc, &p->t, next);
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

/* The uptime of a connection back in its chat: when the tester drops
 * it (--reconnect-uptime), or 0. */
static int64_t drop_at(struct scenario *sc)
{
	int64_t mean = ms_ns(sc->o->reconnect_uptime_ms);

	if (!mean || sc->draining)
		return 0;
	return ses_now(sc->ses) +
	       (sc->o->reconnect_fixed ? mean : exp_ns(&sc->rng_up, mean));
}

static void chat_found(struct scenario *sc, struct part *p, const char *id)
{
	memcpy(p->chat, id, 24);
	p->state = P_CHAT;
	p->awaiting = 0;
	/* this chat's numbers follow on from the last one sent */
	p->chat_ns = ses_now(sc->ses);
	p->chat_k0 = p->sched_k0 = p->k;
	p->rep_chat = p->rep_owed = 0;
	p->rep_last = 0;
	p->early_refusal = 0;
	if (p->ebits)
		memset(p->ebits, 0, p->ebits_cap / 8);
	sc->c.chats++;
	if (!p->had_chat) { /* a reopened chat's wait is not an arrival's */
		hist_add(&sc->to_chat, us_since(p->due_ns, ses_now(sc->ses)));
		sc->c.chatted++;
	}
	p->had_chat = 1;
	p->drop_ns = drop_at(sc);
	send_due(sc, p);
}

/*
 * Settle p's accounts as far as it got: the numbers above acc that were
 * sent in full and never echoed are lost, or in flight when open (its
 * connection still in its chat). acc moves to the last of them. At the
 * stop, at a chat's end and at a drop.
 */
static void settle(struct scenario *sc, struct part *p, int open)
{
	/* An echo can beat the credit of its own send's last bytes (a short
	 * send the stop cut off): nothing above nsent is counted twice. */
	uint32_t hi = p->high < p->nsent ? p->high : p->nsent;
	uint64_t gap, above;

	if (hi < p->acc)
		hi = p->acc;
	gap = hi - p->acc > p->ndeliv ? hi - p->acc - p->ndeliv : 0;
	above = p->nsent > hi ? p->nsent - hi : 0;
	sc->c.lost += gap;
	if (open)
		sc->c.in_flight += above;
	else
		sc->c.lost += above;
	p->acc = p->nsent > hi ? p->nsent : hi;
	p->ndeliv = 0;
}

/* Room in p's bitmap of echoed numbers for bits numbers; 0 or -ENOMEM
 * (reported). */
static int ebits_room(struct scenario *sc, struct part *p, uint32_t bits)
{
	uint32_t ncap = p->ebits_cap ? p->ebits_cap : 256;
	uint8_t *nb;

	if (bits <= p->ebits_cap && p->ebits)
		return 0;
	while (ncap < bits && ncap < (UINT32_MAX >> 1))
		ncap *= 2;
	nb = realloc(p->ebits, ncap / 8);
	if (!nb) {
		sc_error(sc, RE_PROTOCOL, "out of memory for the history check");
		return -ENOMEM;
	}
	memset(nb + p->ebits_cap / 8, 0, (ncap - p->ebits_cap) / 8);
	p->ebits = nb;
	p->ebits_cap = ncap;
	return 0;
}

/* Echoed number k of this chat, for a later history check. */
static void echo_bit(struct scenario *sc, struct part *p, uint32_t k)
{
	if (ebits_room(sc, p, k - p->chat_k0) == 0)
		hcheck_set(p->ebits, k - p->chat_k0 - 1);
}

/*
 * One of p's own messages came back: "connection <addr>: message number
 * <k>". Its latency counts from when message k was due, so a late send
 * cannot hide delay (no coordinated omission), and from when it was
 * actually written, when that is still known. Every other device that
 * was registered before it was written must read it too.
 */
static void delivered(struct scenario *sc, struct part *p, const char *c,
		      size_t n)
{
	/* The number ends the content (echo_match and the full parse both
	 * hand over the content up to its closing quote). */
	uint32_t k = hcheck_number(c, n);
	int64_t lat;

	/* A message of a connection the tester dropped, stored late: its
	 * account is settled (the history check finds it). */
	if (k && k <= p->drop_k && k <= p->acc) {
		sc->c.echo_after_drop++;
		return;
	}
	/* Echoes come back in order: one at or below the highest number
	 * already echoed is a repeat, one above the last encoded never left.
	 * After its chat ended a participant may still read the echoes of
	 * what the chat stored (a server need not order them before the
	 * closed_chat). */
	if (k <= p->high || k > p->k || p->state == P_DONE ||
	    (p->state != P_CHAT && !p->closed_seen)) {
		sc->c.echo_unmatched++;
		return;
	}
	sc->c.delivered++;
	p->ndeliv++;
	p->high = k;
	if (sc->o->reconnect_uptime_ms && k > p->chat_k0)
		echo_bit(sc, p, k);
	for (unsigned d = 0; p->dev && d + 1 < sc->o->devices; d++)
		if (PDEV_LIVE(&p->dev[d]) && k > p->dev[d].from)
			sc->c.dev_expected++;
	if (k <= p->sched_k0) {
		/* an ended chat's, read after the next began: its schedule
		 * is gone */
		sc->c.lat_unmatched++;
		return;
	}
	lat = ses_now(sc->ses) - part_due(sc, p, k);
	if (lat < 0)
		lat = 0;
	hist_add(&sc->lat, (uint64_t)lat / 1000);
	if ((p->lag[k % LAGS] & ~((1u << LAG_BITS) - 1)) == LAG_TAG(k)) {
		int64_t act = lat / 1000 -
			      (int64_t)(p->lag[k % LAGS] & ((1u << LAG_BITS) - 1));

		hist_add(&sc->lat_actual, act > 0 ? (uint64_t)act : 0);
	} else {
		sc->c.lat_unmatched++; /* more than LAGS messages in flight */
	}
}

/* p's chat ended (closed_chat, or gone from its chats after a return):
 * what it sent since is refused, and lost when its account is settled;
 * it asks again after --reopen-after. */
/* A reconnect is over: p is back (in its chat, or idle). */
static void back(struct scenario *sc, struct part *p)
{
	hist_add(&sc->rejoin, us_since(p->away_ns, ses_now(sc->ses)));
	sc->c.rejoined++;
}

static void chat_ended(struct scenario *sc, struct part *p)
{
	if (p->state == P_REJOIN || p->state == P_HISTORY)
		back(sc, p); /* and its chat ended meanwhile */
	memcpy(p->prev_chat, p->chat, 24);
	p->closed_seen = 1;
	p->early_refusal = 0;
	p->drop_ns = 0;
	p->state = P_CLOSED;
	sc->c.chats_closed++;
	ses_timer_del(sc->ses, &p->t.node);
	if (sc->o->reopen_after_ms && !sc->draining)
		timer_at(sc, &p->t, ses_now(sc->ses) +
			 ms_ns(sc->o->reopen_after_ms));
}

/*
 * p's connection is gone: dropped by the tester (its uptime is over) or
 * by the server. Its messages are settled as a closed connection's, the
 * numbers it had not sent are skipped, and it comes back after the
 * backoff. The tester drops a connection only once its sends are all
 * done, so what it counts as sent is what the kernel took.
 */
static void part_away(struct scenario *sc, struct part *p, int by_server)
{
	if (!by_server && p->nsent != p->k) {
		timer_at(sc, &p->t, ses_now(sc->ses) + 1000000);
		return;
	}
	if (by_server)
		sc->c.drops_server++;
	else
		sc->c.drops_tester++;
	p->resume = p->state == P_CHAT || p->state == P_REJOIN ||
		    p->state == P_HISTORY ? R_CHAT :
		    p->state == P_CLOSED ? R_IDLE : R_WAIT;
	p->early_echoes = p->high > p->nsent ? p->high - p->nsent : 0;
	/* echoes a device read before this connection did, which it now
	 * never will: copies expected all the same (later ones pdev_text
	 * counts by the drop's range) */
	for (unsigned d = 0; p->dev && d + 1 < sc->o->devices; d++) {
		const struct pdev *v = &p->dev[d];
		uint32_t lo = p->high > v->from ? p->high : v->from;
		uint32_t hi = v->high < p->k ? v->high : p->k;

		if (PDEV_LIVE(v) && hi > lo)
			sc->c.dev_expected += hi - lo;
	}
	settle(sc, p, 0);
	p->drop_k = p->k;
	p->drop_high = p->high;
	p->nsent = p->ksub = p->high = p->acc = p->k;
	if (!by_server)
		ses_close(sc->ses, p->conn);
	p->conn = NIL;
	p->drop_ns = 0;
	p->awaiting = 0;
	p->back = 1;
	p->state = P_AWAY;
	timer_at(sc, &p->t, ses_now(sc->ses) +
		 ms_ns(sc->o->reconnect_backoff_ms));
}

/* Back in the chat: history checked, the schedule starts again from now
 * (what fell due while away was never owed). */
static void rejoined(struct scenario *sc, struct part *p)
{
	back(sc, p);
	p->state = P_CHAT;
	p->chat_ns = ses_now(sc->ses);
	p->sched_k0 = p->k;
	p->drop_ns = drop_at(sc);
	if (!sc->draining)
		send_due(sc, p);
}

/* The chats answer of a participant back from a reconnect: its chat is
 * there (ask for its history) or it ended while it was away. */
static void rejoin_chats(struct scenario *sc, struct part *p,
			 const struct json_doc *d, int pl)
{
	int arr = pl >= 0 ? json_find(d, pl, "chats") : -1;
	char f[96];
	int n;

	if (arr >= 0 && json_type(d, arr) == JSMN_ARRAY)
		for (int c = arr + 1, left = d->tok[arr].size; left > 0;
		     left--, c = json_next(d, c)) {
			int k = json_find(d, c, "id");

			if (k >= 0 && json_type(d, k) == JSMN_STRING &&
			    d->tok[k].end - d->tok[k].start == 24 &&
			    memcmp(d->js + d->tok[k].start, p->chat, 24) == 0) {
				n = snprintf(f, sizeof(f),
					     "{\"type\":\"get_chat_history\","
					     "\"payload\":{\"chatId\":\"%.24s\"}}",
					     p->chat);
				ses_ws_text(sc->ses, p->conn, f, (size_t)n, 0);
				p->hist_asked = 1;
				p->state = P_HISTORY;
				timer_at(sc, &p->t, ses_now(sc->ses) +
					 ms_ns(sc->o->request_timeout_ms));
				return;
			}
		}
	chat_ended(sc, p);
}

/* The chat_history answer: checked against what p knows it sent and saw
 * echoed; 1 when it was that answer. */
static int rejoin_history(struct scenario *sc, struct part *p, const char *js,
			  size_t n)
{
	struct hcheck h = {
		.user_id = p->user_id, .k0 = p->chat_k0, .kmax = p->drop_k,
	};
	uint32_t bits = p->drop_k - p->chat_k0;
	unsigned cap = (unsigned)(n / 2 + 2);
	void *toks;
	int r;

	if (ebits_room(sc, p, bits) < 0)
		return 0;
	h.echoed = p->ebits;
	h.seen = calloc(bits / 8 + 1, 1);
	toks = malloc((size_t)cap * sizeof(jsmntok_t));
	if (!h.seen || !toks) {
		free(h.seen);
		free(toks);
		sc_error(sc, RE_PROTOCOL, "out of memory for the history check");
		return 0;
	}
	r = hcheck_run(&h, js, n, p->chat, toks, cap);
	free(h.seen);
	free(toks);
	if (r < 0)
		return 0;
	p->hist_asked = 0;
	sc->c.hist_checks++;
	sc->c.hist_missing += h.missing;
	sc->c.hist_truncated += h.truncated;
	sc->c.hist_duplicated += h.duplicated;
	sc->c.hist_recovered += h.recovered;
	sc->c.hist_unexpected += h.unexpected;
	if (h.replies > p->rep_chat) {
		/* held, never read: missed, unless their push is still on
		 * its way to the new connection (reply_got) */
		sc->c.replies_missed += h.replies - p->rep_chat;
		p->rep_owed += h.replies - p->rep_chat;
		p->rep_chat = h.replies;
		p->rep_last = h.reply_last;
	}
	rejoined(sc, p);
	return 1;
}

/* An error frame from the messenger: an error of the run, with the
 * server's text. */
static void server_error(struct scenario *sc, const struct json_doc *d, int pl,
			 const char *who, uint64_t n)
{
	char msg[160];
	size_t mn;
	int m;

	if (sc->draining)
		return;
	if (pl < 0 || (m = json_find(d, pl, "message")) < 0 ||
	    json_get_str(d, m, msg, sizeof(msg), &mn) < 0)
		snprintf(msg, sizeof(msg), "(no message)");
	sc_error(sc, RE_SERVER, "messenger: %s %llu: server error \"%s\" (%s)",
		 who, (unsigned long long)n, msg, sc->o->t[T_MSG].url);
}

/* The schedule an organizer's reply carries ("reply <wall-clock ns>"),
 * or -1 when the message is not one. */
static int64_t reply_schedule(const struct json_doc *d, int pl)
{
	int k = json_find(d, pl, "content");
	char text[48];
	size_t tn;

	if (k < 0 || json_get_str(d, k, text, sizeof(text), &tn) < 0)
		return -1;
	return hcheck_reply(text);
}

/* A reply p read: counted, and timed from its schedule. One a history
 * held (and counted missed) whose push came after is read after all. */
static void reply_got(struct scenario *sc, struct part *p, int64_t due)
{
	sc->c.replies_received++;
	hist_add(&sc->reply_lat, us_since(due, clock_real_ns()));
	if (p->rep_owed && due <= p->rep_last) {
		p->rep_owed--;
		sc->c.replies_missed--;
		return;
	}
	p->rep_chat++;
}

/*
 * 1 when the error frame is the refusal of a message to p's chat that
 * ended ("you have no access to chat <id>"): expected, not an error; 2
 * when it refused p's get_chat_history of that chat instead, 3 when that
 * came before the chat's closed_chat (the chat ended). With
 * chat lifetimes it may come before the chat's closed_chat (the server
 * refuses on the participant's connection while the close is on its way
 * from the organizer's): p->early_refusal marks it until the close.
 */
static int refused_after_close(const struct scenario *sc, struct part *p,
			       const struct json_doc *d, int pl)
{
	static const char pre[] = "you have no access to chat ";
	char msg[80];
	size_t mn;
	int m;

	if (pl < 0 || (m = json_find(d, pl, "message")) < 0 ||
	    json_get_str(d, m, msg, sizeof(msg), &mn) < 0 ||
	    mn != sizeof(pre) - 1 + 24 || memcmp(msg, pre, sizeof(pre) - 1))
		return 0;
	/* its get_chat_history refused before the closed_chat came (the
	 * two leave the server by different ways): the chat has ended */
	if (p->hist_asked && p->state == P_HISTORY &&
	    !memcmp(msg + sizeof(pre) - 1, p->chat, 24)) {
		p->hist_asked = 0;
		return 3;
	}
	if (p->closed_seen && !memcmp(msg + sizeof(pre) - 1, p->prev_chat, 24)) {
		/* its get_chat_history, refused as the chat closed: no
		 * message (none is sent while it waits for the history) */
		if (p->hist_asked) {
			p->hist_asked = 0;
			return 2;
		}
		return 1;
	}
	if (run_chats_end(sc->o) && p->state == P_CHAT &&
	    !memcmp(msg + sizeof(pre) - 1, p->chat, 24)) {
		if (!p->early_refusal)
			p->refused_ns = ses_now(sc->ses);
		p->early_refusal = 1;
		return 1;
	}
	return 0;
}

/* 1 when the string at tok is p's chat id. */
static int is_chat(const struct part *p, const struct json_doc *d, int tok)
{
	return tok >= 0 && json_type(d, tok) == JSMN_STRING &&
	       d->tok[tok].end - d->tok[tok].start == 24 &&
	       memcmp(d->js + d->tok[tok].start, p->chat, 24) == 0;
}

/* A text frame for a participant. */
static int part_text(struct scenario *sc, struct part *p, const char *js,
		     size_t n)
{
	jsmntok_t toks[MAX_TOKENS];
	struct json_doc d;
	int t, pl, k;
	char id[32];
	size_t idn;
	const char *ct;
	size_t ctn;
	int in_chat = p->state == P_CHAT || p->state == P_REJOIN ||
		      p->state == P_HISTORY;
	int64_t due;

	if (p->state == P_CHAT &&
	    echo_match(js, n, p->user_id, p->addr, p->addr_len, &ct, &ctn)) {
		delivered(sc, p, ct, ctn);
		return 0;
	}
	/* every ESME server writes the type first: only a chat_history (or a
	 * frame in another form) is worth its tokens */
	if (p->state == P_HISTORY &&
	    !(n > 9 && !memcmp(js, "{\"type\":\"", 9) &&
	      (n < 23 || memcmp(js + 9, "chat_history\"", 13))) &&
	    rejoin_history(sc, p, js, n))
		return 0;
	if (json_parse(&d, js, n, toks, MAX_TOKENS) < 0 ||
	    json_type(&d, 0) != JSMN_OBJECT ||
	    (t = json_find(&d, 0, "type")) < 0)
		return 0; /* not ours to judge: read and discarded */
	pl = json_find(&d, 0, "payload");
	if (json_str_eq(&d, t, "user_message")) {
		int64_t author = -1; /* none: not the participant's */

		if (pl >= 0 && (k = json_find(&d, pl, "authorId")) >= 0 &&
		    json_get_i64(&d, k, &author) == 0 &&
		    author == p->user_id &&
		    (k = json_find(&d, pl, "content")) >= 0 &&
		    d.tok[k].end - d.tok[k].start > 11 &&
		    memcmp(js + d.tok[k].start, "connection ", 11) == 0)
			delivered(sc, p, js + d.tok[k].start,
				  (size_t)(d.tok[k].end - d.tok[k].start));
		else if (pl >= 0 && sc->o->org_reply_every &&
			 author != p->user_id && (due = reply_schedule(&d, pl)) >= 0)
			reply_got(sc, p, due);
		else if (p->state == P_WAIT_CHAT && p->awaiting)
			get_chats_again(sc, p); /* one frame a try */
		return 0;
	}
	if (json_str_eq(&d, t, "error")) {
		int ref = refused_after_close(sc, p, &d, pl);

		if (ref == 1)
			sc->c.chat_refused++;
		else if (ref == 3)
			chat_ended(sc, p);
		else if (!ref)
			server_error(sc, &d, pl, "participant", p->n);
		if (p->state == P_WAIT_CHAT && p->awaiting)
			get_chats_again(sc, p);
		return 0;
	}
	if (ends_seen(sc->o) && json_str_eq(&d, t, "closed_chat") && in_chat &&
	    pl >= 0 &&
	    is_chat(p, &d, json_find(&d, pl, "chatId"))) {
		chat_ended(sc, p);
		return 0;
	}
	if (p->state == P_REJOIN && json_str_eq(&d, t, "chats")) {
		rejoin_chats(sc, p, &d, pl);
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
			get_chats_again(sc, p);
			return 0;
		}
		k = json_find(&d, arr + 1, "id");
	} else {
		if (p->awaiting) /* the Go tool reads one frame a try */
			get_chats_again(sc, p);
		return 0;
	}
	if (k < 0 || json_get_str(&d, k, id, sizeof(id), &idn) < 0 ||
	    !hex24(id, idn)) {
		perr(sc, p, RE_PROTOCOL, "waiting for chat",
		     "chat without a 24-hex id", T_MSG);
		return -EPROTO;
	}
	chat_found(sc, p, id);
	return 0;
}

/*
 * A frame on one of p's other devices (--devices). Its first get_chats
 * answer registers it; then every echo of p's messages numbered above
 * what p had written by then must come, once each and in order.
 */
static void pdev_text(struct scenario *sc, struct part *p, struct pdev *v,
		      const char *js, size_t n)
{
	jsmntok_t toks[MAX_TOKENS];
	struct json_doc d;
	const char *ct = NULL;
	size_t ctn = 0;
	int t, pl, k;
	int64_t author = -1;
	uint32_t num;

	if (!echo_match(js, n, p->user_id, p->addr, p->addr_len, &ct, &ctn)) {
		if (json_parse(&d, js, n, toks, MAX_TOKENS) < 0 ||
		    json_type(&d, 0) != JSMN_OBJECT ||
		    (t = json_find(&d, 0, "type")) < 0)
			return;
		pl = json_find(&d, 0, "payload");
		if (v->from == NIL) {
			if (json_str_eq(&d, t, "chats"))
				v->from = v->high = p->k;
			return;
		}
		if (!json_str_eq(&d, t, "user_message") || pl < 0 ||
		    (k = json_find(&d, pl, "authorId")) < 0 ||
		    json_get_i64(&d, k, &author) < 0 || author != p->user_id ||
		    (k = json_find(&d, pl, "content")) < 0)
			return;
		ct = js + d.tok[k].start;
		ctn = (size_t)(d.tok[k].end - d.tok[k].start);
	}
	num = hcheck_number(ct, ctn);
	if (v->from == NIL || num <= v->high) /* high >= from */
		return;
	v->high = num;
	sc->c.dev_received++;
	/* one the first connection never read: it was dropped first */
	if (num <= p->drop_k && num > p->drop_high)
		sc->c.dev_expected++;
}

/* ---- organizers ---- */

static struct reply *reply_at(struct scenario *sc, uint32_t i)
{
	return &sc->rchunks[i / RCHUNK][i % RCHUNK];
}

/* A free reply's index, or NIL without memory. */
static uint32_t reply_alloc(struct scenario *sc)
{
	uint32_t i = sc->reply_free;

	if (i != NIL) {
		sc->reply_free = reply_at(sc, i)->next;
		return i;
	}
	i = sc->nreplies;
	if (CHUNK_ROOM(sc->rchunks, sc->rchunks_cap, i, RCHUNK) < 0)
		return NIL;
	sc->nreplies++;
	return i;
}

static void reply_release(struct scenario *sc, uint32_t i)
{
	reply_at(sc, i)->next = sc->reply_free;
	sc->reply_free = i;
}

/* The think time: --org-think, or drawn from the exponential
 * distribution of that mean (--org-think-dist exp). */
static int64_t think_ns(struct scenario *sc)
{
	int64_t mean = ms_ns(sc->o->org_think_ms);

	return sc->o->org_think_exp ? exp_ns(&sc->rng, mean) : mean;
}

#define OCHUNK 1024

static struct ochat *ochat_at(struct scenario *sc, uint32_t i)
{
	return &sc->ochunks[i / OCHUNK][i % OCHUNK];
}

/* The record of chat id (24 bytes), or NULL. */
static struct ochat *ochat_find(struct scenario *sc, const char *id)
{
	uint32_t i = chatmap_get(&sc->ochat_map, id);

	return i == NIL ? NULL : ochat_at(sc, i);
}

/* A chat organizer o started (its new_chat): recorded, its lifetime's
 * end armed. */
static void ochat_new(struct scenario *sc, struct org *o, const char *id)
{
	uint32_t i = sc->nochats;
	struct ochat *c;

	if (ochat_find(sc, id))
		return;
	if (CHUNK_ROOM(sc->ochunks, sc->ochunks_cap, i, OCHUNK) < 0)
		goto oom;
	if (chatmap_put(&sc->ochat_map, id, i) < 0)
		goto oom;
	sc->nochats++;
	c = ochat_at(sc, i);
	memset(c, 0, sizeof(*c));
	memcpy(c->id, id, 24);
	c->org = (uint32_t)(o - sc->orgs);
	c->t.kind = TK_CLOSE;
	c->t.idx = i;
	if (sc->o->chat_lifetime_ms)
		timer_at(sc, &c->t, ses_now(sc->ses) +
			 ms_ns(sc->o->chat_lifetime_ms));
	return;
oom:
	sc_error(sc, RE_PROTOCOL, "out of memory for chats");
}

/* Its lifetime is over: the organizer closes the chat (again a moment
 * later while its send slot is full). */
static void ochat_close(struct scenario *sc, struct ochat *c)
{
	struct org *o = &sc->orgs[c->org];
	char f[96];
	int n;

	if (c->state != OC_OPEN || o->state != O_OPEN || sc->draining)
		return;
	n = snprintf(f, sizeof(f), "{\"type\":\"close_chat\",\"payload\":"
		     "{\"chatId\":\"%.24s\"}}", c->id);
	if (ses_ws_text(sc->ses, o->conn, f, (size_t)n, 0) < 0) {
		timer_at(sc, &c->t, ses_now(sc->ses) + 1000000);
		return;
	}
	ses_timer_del(sc->ses, &c->t.node);
	c->state = OC_CLOSING;
	sc->c.org_closes++;
}

/* A participant's message organizer o read in chat (24 hex): every k-th
 * gets a reply, due a think time from now, open loop: its latency is
 * taken from that moment however late it leaves. */
static void org_heard(struct scenario *sc, struct org *o, const char *chat,
		      size_t cn)
{
	struct reply *r;
	uint32_t i;
	int64_t th;

	if (sc->draining || !sc->o->org_reply_every ||
	    ++o->heard % sc->o->org_reply_every || cn != 24)
		return;
	i = reply_alloc(sc);
	if (i == NIL) {
		sc_error(sc, RE_PROTOCOL, "out of memory for replies");
		return;
	}
	r = reply_at(sc, i);
	memcpy(r->chat, chat, 24);
	r->chat[24] = 0;
	r->org = (uint32_t)(o - sc->orgs);
	r->next = NIL;
	th = think_ns(sc);
	r->due_real_ns = clock_real_ns() + th;
	r->t.kind = TK_REPLY;
	r->t.idx = i;
	sc->c.replies_scheduled++;
	timer_at(sc, &r->t, ses_now(sc->ses) + th);
}

/* Take the first of o's due replies off its queue, and free it. */
static void reply_pop(struct scenario *sc, struct org *o)
{
	uint32_t i = o->rq_head;

	o->rq_head = reply_at(sc, i)->next;
	if (o->rq_head == NIL)
		o->rq_tail = NIL;
	reply_release(sc, i);
}

/* The organizer's due replies, in order, while its send slot has room
 * (sc_writable resumes). The text carries the reply's schedule, so the
 * participant, in whatever process, times it from there. */
static void org_flush_replies(struct scenario *sc, struct org *o)
{
	char f[192];

	while (o->rq_head != NIL && o->state == O_OPEN) {
		uint32_t i = o->rq_head;
		struct reply *r = reply_at(sc, i);
		struct ochat *c = run_chats_end(sc->o) ? ochat_find(sc, r->chat) :
				  NULL;
		int n;

		if (c && c->state != OC_OPEN) {
			/* its chat closed while the organizer thought */
			sc->c.replies_dropped++;
			reply_pop(sc, o);
			continue;
		}
		n = snprintf(f, sizeof(f),
				 "{\"type\":\"send_message\",\"payload\":{"
				 "\"chatId\":\"%s\",\"message\":\"reply %lld\"}}",
				 r->chat, (long long)r->due_real_ns);

		if (ses_ws_text(sc->ses, o->conn, f, (size_t)n, 0) < 0)
			return;
		sc->c.replies_sent++;
		reply_pop(sc, o);
	}
}

/* A reply's time has come: behind the organizer's others, then out. */
static void reply_due(struct scenario *sc, uint32_t i)
{
	struct reply *r = reply_at(sc, i);
	struct org *o = &sc->orgs[r->org];

	r->next = NIL;
	if (o->rq_tail != NIL)
		reply_at(sc, o->rq_tail)->next = i;
	else
		o->rq_head = i;
	o->rq_tail = i;
	if (!sc->draining)
		org_flush_replies(sc, o);
}

/* A user_message an answering organizer, or one counting a chat's
 * messages, read: a participant's (not its own reply coming back) is
 * heard; the participant's own N-th ("connection ...") ends its chat
 * under --chat-messages. */
static void org_user_message(struct scenario *sc, struct org *o,
			     const struct json_doc *d)
{
	int pl = json_find(d, 0, "payload"), k;
	int64_t from = 1;
	int b;
	char chat[32];
	size_t cn;
	struct ochat *c;

	if (pl < 0 || json_type(d, pl) != JSMN_OBJECT ||
	    (k = json_find(d, pl, "fromOrganizer")) < 0 ||
	    (json_get_i64(d, k, &from) < 0 &&
	     (json_get_bool(d, k, &b) < 0 || ((from = b), 0))) || from ||
	    (k = json_find(d, pl, "chatId")) < 0 ||
	    json_get_str(d, k, chat, sizeof(chat), &cn) < 0)
		return;
	org_heard(sc, o, chat, cn);
	if (sc->o->chat_messages && cn == 24 && (c = ochat_find(sc, chat)) &&
	    (k = json_find(d, pl, "content")) >= 0 &&
	    d->tok[k].end - d->tok[k].start > 11 &&
	    memcmp(d->js + d->tok[k].start, "connection ", 11) == 0 &&
	    ++c->heard == sc->o->chat_messages)
		ochat_close(sc, c);
}

/* The id (24 bytes) at payload key of a frame, or NULL. */
static const char *payload_id(const struct json_doc *d, const char *key)
{
	int pl = json_find(d, 0, "payload"), k;

	if (pl < 0 || json_type(d, pl) != JSMN_OBJECT ||
	    (k = json_find(d, pl, key)) < 0 || json_type(d, k) != JSMN_STRING ||
	    d->tok[k].end - d->tok[k].start != 24)
		return NULL;
	return d->js + d->tok[k].start;
}

/* A frame for every connection of organizer o, read on its first: each
 * of its other devices that is open and registered must read it too. */
static void odev_expect(struct scenario *sc, struct org *o)
{
	for (unsigned d = 0; d + 1 < sc->o->org_devices; d++)
		if (o->dev[d].up && o->dev[d].conn != NIL) {
			o->dev[d].expected++;
			sc->c.org_dev_expected++;
		}
}

/* 1 when the organizer's frames must be parsed whole: it answers, or
 * counts a chat's messages. */
static int org_parses(const struct run_opts *o)
{
	return o->org_reply_every || o->chat_messages;
}

static void org_text(struct scenario *sc, struct org *o, const char *js,
		     size_t n)
{
	static const char um[] = "{\"type\":\"user_message\"";
	jsmntok_t toks[MAX_TOKENS];
	struct json_doc d;
	const char *id;
	int t;

	/* Most frames an organizer reads are user_message: skip the parse
	 * when the type leads, as every ESME server writes it (unless the
	 * organizer needs the chat). */
	if (!org_parses(sc->o) && n > sizeof(um) &&
	    memcmp(js, um, sizeof(um) - 1) == 0) {
		sc->c.org_received++;
		sc->org_copies[o - sc->orgs]++;
		odev_expect(sc, o);
		return;
	}
	if (json_parse(&d, js, n, toks, MAX_TOKENS) < 0 ||
	    json_type(&d, 0) != JSMN_OBJECT ||
	    (t = json_find(&d, 0, "type")) < 0)
		return;
	if (json_str_eq(&d, t, "user_message")) {
		sc->c.org_received++;
		sc->org_copies[o - sc->orgs]++;
		odev_expect(sc, o);
		if (org_parses(sc->o))
			org_user_message(sc, o, &d);
	} else if (json_str_eq(&d, t, "new_chat")) {
		sc->c.new_chats++;
		odev_expect(sc, o);
		if (run_chats_end(sc->o) && (id = payload_id(&d, "id")))
			ochat_new(sc, o, id);
	} else if (json_str_eq(&d, t, "closed_chat")) {
		struct ochat *c;

		odev_expect(sc, o);
		if (run_chats_end(sc->o) && (id = payload_id(&d, "chatId")) &&
		    (c = ochat_find(sc, id))) {
			ses_timer_del(sc->ses, &c->t.node);
			c->state = OC_CLOSED;
		}
	} else if (json_str_eq(&d, t, "info"))
		sc->c.no_new_chats++;
	else if (json_str_eq(&d, t, "error"))
		server_error(sc, &d, json_find(&d, 0, "payload"), "organizer",
			     (uint64_t)(o - sc->orgs) + 1);
}

/* A frame on one of an organizer's other devices: its first get_chats
 * answer registers it; then it must read each user_message, new_chat
 * and closed_chat the organizer's first connection reads. */
static void odev_text(struct scenario *sc, struct org *o, struct odev *v,
		      const char *js, size_t n);
static void org_open(struct scenario *sc, struct org *o, unsigned oi);

/* An organizer's device is registered (or gone): once all are, it
 * opens. */
static void odev_up(struct scenario *sc, struct org *o, struct odev *v)
{
	if (v->up)
		return;
	v->up = 1;
	o->ndev_up++;
	if ((unsigned)o->ndev_up + 1 >= sc->o->org_devices &&
	    o->state == O_DEVICES)
		org_open(sc, o, (unsigned)(o - sc->orgs));
}

static void org_signin(struct scenario *sc, unsigned i)
{
	struct org *o = &sc->orgs[i];

	char why[200];

	o->state = O_SIGNIN;
	o->conn = ses_http_open(sc->ses, T_ORG, TAG(OWN_ORG, i), why,
				 sizeof(why));
	if (o->conn == NIL) {
		oerr(sc, i, RE_CONNECT, "sign-in", why, T_ORG);
		o->state = O_DONE;
	}
}

static void org_start_chat(struct scenario *sc, struct org *o)
{
	static const char msg[] = "{\"type\":\"start_chat\",\"payload\":\"\"}";
	const int64_t sci = ms_ns(sc->o->sci_ms);

	while (sched(o->start_ns, sci, o->j + 1) <= ses_now(sc->ses)) {
		if (ses_ws_text(sc->ses, o->conn, msg, sizeof(msg) - 1, 0) < 0)
			return; /* slot full: sc_writable resumes */
		o->j++;
		sc->c.start_chats++;
	}
	timer_at(sc, &o->t, sched(o->start_ns, sci, o->j + 1));
}

static const struct ses_pool_ops rest_ops;

/* ---- the sessions' callbacks ---- */

/* see scenario.h */
void sc_start(struct scenario *sc)
{
	const struct run_opts *o = sc->o;

	if (ses_pool_init(&sc->rest, sc->ses, T_PART, o->http_conns,
			  &rest_ops, sc) < 0) {
		sc_error(sc, RE_HTTP, "out of memory");
		return;
	}
	if (sc->id == 0) {
		sc->norgs = run_org_count(o);
		sc->orgs = calloc(sc->norgs, sizeof(*sc->orgs));
		sc->org_copies = calloc(sc->norgs, sizeof(*sc->org_copies));
		if (sc->norgs && (!sc->orgs || !sc->org_copies)) {
			sc_error(sc, RE_HTTP, "out of memory");
			return;
		}
		for (unsigned i = 0; i < sc->norgs; i++) {
			sc->orgs[i].t.kind = TK_ORG;
			sc->orgs[i].t.idx = i;
			sc->orgs[i].rq_head = sc->orgs[i].rq_tail = NIL;
			org_signin(sc, i);
		}
	}
	sc->arrival.kind = TK_ARRIVAL;
	/* see run.h: the shard's numbers, then this worker's among them */
	sc->next_arrival = o->shard + (uint64_t)sc->id * run_shards(o) + 1;
	if (arrivals_over(sc))
		sc->arrivals_done = 1;
	else
		timer_at(sc, &sc->arrival,
			 sched(sc->t0_ns, run_cpi_ns(o), sc->next_arrival - 1));
}

/* The organizer's sign-in request, on its connection to the organizer
 * API. */
static void org_sign_in_request(struct scenario *sc, struct org *o, unsigned oi)
{
	const struct run_target *t = &sc->o->t[T_ORG];
	char path[RUN_URL_MAX + 32], body[1024];
	char email[256];
	const char *password;
	struct jw jw;
	long bl;

	snprintf(path, sizeof(path), "%.*s/auth/sign-in", (int)t->u.path_len,
		 t->u.path);
	/* Organizer i signs in with account i of the pool; the JSON writer
	 * escapes what the address and password need. */
	jw_init(&jw, body, sizeof(body));
	jw_obj_begin(&jw);
	bl = run_org_account(sc->o, run_org_global(sc->o, oi), email,
			     sizeof(email), &password);
	jw_kv_cstr(&jw, "email", bl < 0 ? "" : email);
	jw_kv_cstr(&jw, "password", bl < 0 ? "" : password);
	jw_obj_end(&jw);
	bl = bl < 0 ? bl : jw_finish(&jw);
	if (bl <= 0 || ses_http_request(sc->ses, o->conn, "POST", path, NULL,
					 body, (size_t)bl) < 0) {
		oerr(sc, oi, RE_HTTP, "sign-in",
		     "organizer e-mail or password too long", T_ORG);
		ses_close(sc->ses, o->conn);
		org_done(sc, o);
		return;
	}
	timer_at(sc, &o->t, ses_now(sc->ses) + ms_ns(sc->o->request_timeout_ms));
}

/* see scenario.h */
void sc_up(void *app, uint32_t tag, uint32_t id,
	   const struct sockaddr_storage *local)
{
	struct scenario *sc = app;
	uint32_t owner = TAG_OWNER(tag);

	(void)id;
	switch (TAG_KIND(tag)) {
	case OWN_PART: {
		struct part *p = part_at(sc, owner);
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
						v6 ? "[%s]:%u" : "%s:%u", ip,
						port);
		p->state = P_UPGRADE; /* the session sent the upgrade */
		timer_at(sc, &p->t,
			 ses_now(sc->ses) + ms_ns(sc->o->handshake_timeout_ms));
		break;
	}
	case OWN_ORG: {
		struct org *o = &sc->orgs[owner];

		if (o->state == O_SIGNIN) {
			org_sign_in_request(sc, o, owner);
			break;
		}
		o->state = O_UPGRADE;
		timer_at(sc, &o->t,
			 ses_now(sc->ses) + ms_ns(sc->o->handshake_timeout_ms));
		break;
	}
	default:
		break;
	}
}

/* The organizer's start_chat schedule begins: it is open. */
static void org_open(struct scenario *sc, struct org *o, unsigned oi)
{
	int64_t sci = ms_ns(sc->o->sci_ms);

	o->state = O_OPEN;
	/* The pool's start_chat frames interleave on one origin, the run's
	 * start: organizer i is i/N of an interval behind the first, so
	 * each has its turn at the queue instead of all asking at the same
	 * moment. The first start_chat is the first of that schedule after
	 * the authorization (the Go tool's waits sci after it). */
	o->start_ns = sc->t0_ns + (int64_t)((__int128)sci *
		run_org_global(sc->o, oi) / sc->o->organizers);
	o->j = sci && ses_now(sc->ses) > o->start_ns ?
	       (uint64_t)((ses_now(sc->ses) - o->start_ns) / sci) : 0;
	ses_timer_del(sc->ses, &o->t.node);
	org_start_chat(sc, o);
}

/* The authorization frame for a token. */
static void send_auth(struct scenario *sc, uint32_t id, const char *tok,
		      size_t tn)
{
	char auth[1100];
	int an = snprintf(auth, sizeof(auth),
			  "{\"Authorization\":\"Bearer %.*s\"}", (int)tn, tok);

	ses_ws_text(sc->ses, id, auth, (size_t)an, 0);
}

static const char get_chats_msg[] = "{\"type\":\"get_chats\",\"payload\":\"\"}";

/* Open the other devices of an owner (kind OWN_PDEV or OWN_ODEV, index
 * idx) into conns; n - 1 of them. A device that cannot open is an error
 * of its owner's; returns how many opened. */
static unsigned open_devices(struct scenario *sc, enum owner_kind kind,
			     uint32_t idx, unsigned n, uint32_t *conns,
			     size_t stride)
{
	char why[200];
	unsigned up = 0;

	for (unsigned d = 1; d < n; d++) {
		uint32_t *c = (uint32_t *)(void *)((char *)conns +
						   (d - 1) * stride);

		*c = ses_ws_open(sc->ses, T_MSG, TAG(kind, DEV_OWNER(idx, d)), why,
				 sizeof(why));
		if (*c == NIL)
			sc_error(sc, RE_CONNECT, "connect: %s %u device %u: %s "
				 "(%s)", kind == OWN_PDEV ? "participant" :
				 "organizer", idx + 1, d + 1, why,
				 sc->o->t[T_MSG].url);
		else
			up++;
	}
	return up;
}

/* A participant authorized on the messenger, first or back again. */
static void part_authorized(struct scenario *sc, struct part *p, uint32_t pi,
			    uint32_t id)
{
	send_auth(sc, id, p->token, p->token_len);
	if (p->back) {
		/* back from a reconnect */
		p->back = 0;
		if (p->resume == R_CHAT) {
			ses_ws_text(sc->ses, id, get_chats_msg,
				    sizeof(get_chats_msg) - 1, 0);
			p->state = P_REJOIN;
			timer_at(sc, &p->t, ses_now(sc->ses) +
				 ms_ns(sc->o->request_timeout_ms));
			return;
		}
		if (p->resume == R_IDLE) {
			back(sc, p);
			p->state = P_CLOSED;
			ses_timer_del(sc->ses, &p->t.node);
			if (sc->o->reopen_after_ms)
				timer_at(sc, &p->t, ses_now(sc->ses) +
					 ms_ns(sc->o->reopen_after_ms));
			return;
		}
	} else {
		sc->c.connected++;
		hist_add(&sc->ph_connect, us_since(p->phase_ns,
						   ses_now(sc->ses)));
		if (sc->o->devices > 1 && !p->dev && pi >= DEV_USERS_MAX) {
			sc_error(sc, RE_CONNECT, "participant %llu: more than "
				 "%u participants on a thread hold no devices",
				 (unsigned long long)p->n, DEV_USERS_MAX);
		} else if (sc->o->devices > 1 && !p->dev) {
			p->dev = calloc(sc->o->devices - 1, sizeof(*p->dev));
			if (!p->dev)
				sc_error(sc, RE_CONNECT, "out of memory for "
					 "devices");
			for (unsigned d = 0; p->dev && d + 1 < sc->o->devices;
			     d++)
				p->dev[d].from = NIL;
			if (p->dev)
				open_devices(sc, OWN_PDEV, pi, sc->o->devices,
					     &p->dev[0].conn, sizeof(*p->dev));
		}
	}
	if (!keep_token(sc->o)) {
		pool_put(&sc->tok_pool, p->token);
		p->token = NULL;
	}
	p->state = P_WAIT_CHAT;
	p->tries = 0;
	p->awaiting = 0;
	timer_at(sc, &p->t, ses_now(sc->ses) + ms_ns(sc->o->smi_ms));
}

/* see scenario.h */
void sc_upgraded(void *app, uint32_t tag, uint32_t id)
{
	struct scenario *sc = app;
	uint32_t owner = TAG_OWNER(tag);

	switch (TAG_KIND(tag)) {
	case OWN_PART:
		part_authorized(sc, part_at(sc, owner), owner, id);
		break;
	case OWN_ORG: {
		struct org *o = &sc->orgs[owner];

		send_auth(sc, id, o->token, o->token_len);
		if (sc->o->org_devices > 1) {
			/* start_chat waits for the other devices: then every
			 * frame for the organizer is for all of them */
			o->state = O_DEVICES;
			timer_at(sc, &o->t, ses_now(sc->ses) +
				 ms_ns(sc->o->handshake_timeout_ms));
			open_devices(sc, OWN_ODEV, owner, sc->o->org_devices,
				     &o->dev[0].conn, sizeof(o->dev[0]));
			for (unsigned d = 0; d + 1 < sc->o->org_devices; d++)
				if (o->dev[d].conn == NIL) /* reported */
					odev_up(sc, o, &o->dev[d]);
			break;
		}
		org_open(sc, o, owner);
		break;
	}
	case OWN_PDEV: {
		struct part *p = part_at(sc, DEV_USER(owner));

		if (p->token)
			send_auth(sc, id, p->token, p->token_len);
		ses_ws_text(sc->ses, id, get_chats_msg,
			    sizeof(get_chats_msg) - 1, 0);
		break;
	}
	case OWN_ODEV: {
		struct org *o = &sc->orgs[DEV_USER(owner)];

		send_auth(sc, id, o->token, o->token_len);
		ses_ws_text(sc->ses, id, get_chats_msg,
			    sizeof(get_chats_msg) - 1, 0);
		break;
	}
	default:
		break;
	}
}

/* see above */
static void odev_text(struct scenario *sc, struct org *o, struct odev *v,
		      const char *js, size_t n)
{
	static const char um[] = "{\"type\":\"user_message\"";
	jsmntok_t toks[MAX_TOKENS];
	struct json_doc d;
	int t;

	if (v->up && n > sizeof(um) && memcmp(js, um, sizeof(um) - 1) == 0) {
		v->received++;
		sc->c.org_dev_received++;
		return;
	}
	if (json_parse(&d, js, n, toks, MAX_TOKENS) < 0 ||
	    json_type(&d, 0) != JSMN_OBJECT ||
	    (t = json_find(&d, 0, "type")) < 0)
		return;
	if (!v->up) {
		if (json_str_eq(&d, t, "chats"))
			odev_up(sc, o, v);
		return;
	}
	if (json_str_eq(&d, t, "user_message") ||
	    json_str_eq(&d, t, "new_chat") ||
	    json_str_eq(&d, t, "closed_chat")) {
		v->received++;
		sc->c.org_dev_received++;
	}
}

/* The organizer's sign-in answer: its token, then the messenger. */
static void org_signed_in(struct scenario *sc, unsigned oi, int status,
			  const char *body, size_t blen)
{
	struct org *o = &sc->orgs[oi];
	char why[200];

	if (status != 200) {
		http_cause(status, body, blen, why, sizeof(why));
		oerr(sc, oi, RE_HTTP, "sign-in", why, T_ORG);
		ses_close(sc->ses, o->conn);
		org_done(sc, o);
		return;
	}
	if (token_of(body, blen, o->token, sizeof(o->token), &o->token_len,
		     NULL) < 0) {
		oerr(sc, oi, RE_PROTOCOL, "sign-in", "response without a token",
		     T_ORG);
		ses_close(sc->ses, o->conn);
		org_done(sc, o);
		return;
	}
	/* Done with the organizer API: on to the messenger. The Go tool's
	 * organizer_time_started is this moment. */
	if (!sc->run->org_start_real_ns)
		sc->run->org_start_real_ns = clock_real_ns();
	ses_timer_del(sc->ses, &o->t.node);
	ses_close(sc->ses, o->conn);
	o->state = O_CONNECT;
	o->conn = ses_ws_open(sc->ses, T_MSG, TAG(OWN_ORG, oi), why, sizeof(why));
	if (o->conn == NIL) {
		oerr(sc, oi, RE_CONNECT, "messenger", why, T_MSG);
		o->state = O_DONE;
	}
}

/* see scenario.h */
void sc_response(void *app, uint32_t tag, uint32_t id, int status,
		 const char *body, size_t blen, int keep_alive)
{
	struct scenario *sc = app;

	(void)id;
	(void)keep_alive; /* the organizer's connection closes after it */
	if (TAG_KIND(tag) == OWN_ORG &&
	    sc->orgs[TAG_OWNER(tag)].state == O_SIGNIN)
		org_signed_in(sc, TAG_OWNER(tag), status, body, blen);
}

/* see scenario.h */
int sc_text(void *app, uint32_t tag, uint32_t id, const char *p, size_t n)
{
	struct scenario *sc = app;

	(void)id;
	if (TAG_KIND(tag) == OWN_PART) {
		struct part *pt = part_at(sc, TAG_OWNER(tag));

		if (part_text(sc, pt, p, n) < 0) {
			/* The session closes it (a chat without an id): the
			 * participant is done. */
			part_done(sc, pt);
			pt->conn = NIL;
			return -1;
		}
	} else if (TAG_KIND(tag) == OWN_ORG) {
		org_text(sc, &sc->orgs[TAG_OWNER(tag)], p, n);
	} else if (TAG_KIND(tag) == OWN_PDEV) {
		struct part *pt = part_at(sc, DEV_USER(TAG_OWNER(tag)));

		if (pt->dev)
			pdev_text(sc, pt, &pt->dev[DEV_SLOT(TAG_OWNER(tag))], p, n);
	} else if (TAG_KIND(tag) == OWN_ODEV) {
		struct org *o = &sc->orgs[DEV_USER(TAG_OWNER(tag))];

		odev_text(sc, o, &o->dev[DEV_SLOT(TAG_OWNER(tag))], p, n);
	}
	return 0;
}

/* The target a connection of this owner talks to, for errors. */
static int target_of(const struct scenario *sc, uint32_t tag)
{
	if (TAG_KIND(tag) == OWN_ORG &&
	    sc->orgs[TAG_OWNER(tag)].state == O_SIGNIN)
		return T_ORG;
	return T_MSG;
}

/*
 * The cause of a connection's end in words, into cause. An input over the
 * limit (or without memory) is an error of its own first, on target t.
 */
static void net_cause(struct scenario *sc, const struct ses_end *end, int t,
		      char *cause, size_t cap)
{
	int err = end->err;

	if (end->what == SES_INPUT && err == -EMSGSIZE)
		sc_error(sc, RE_PROTOCOL, "receive: message over %u bytes (%s)",
			 (unsigned)sc_in_block(sc->o), sc->o->t[t].url);
	else if (end->what == SES_INPUT)
		sc_error(sc, RE_RECV, "receive: out of input buffers");
	if (end->what == SES_STALLED)
		snprintf(cause, cap, "a send waited %gs: the server stopped "
			 "reading", (double)sc->o->send_timeout_ms / 1000);
	else if (end->text)
		snprintf(cause, cap, "%s%s", end->text,
			 end->handshaking && err == -ETIMEDOUT ?
			 " (--connect-timeout)" : "");
	else
		snprintf(cause, cap, "%s%s",
			 end->connecting && err != -ETIMEDOUT ? "connect: " : "",
			 err == -ETIMEDOUT ? "connect timed out" :
			 err == -ECONNRESET ? "connection closed by the server" :
			 strerror(-err));
}

/*
 * A REST connection of the pool ended (ses_pool_ops.failed): the request
 * in flight on it (busy), or the oldest queued one that waited for it,
 * fails; without a job, bytes nobody asked for are an error of their own.
 */
static void rest_failed(void *app, uint32_t job, int busy,
			const struct ses_end *end)
{
	struct scenario *sc = app;
	char cause[200];
	struct part *p;

	if (job == NIL) {
		if (end->what == SES_UNASKED)
			sc_error(sc, RE_PROTOCOL, "REST: unexpected bytes from "
				 "the server (%s)", sc->o->t[T_PART].url);
		else if (end->what == SES_INPUT)
			net_cause(sc, end, T_PART, cause, sizeof(cause));
		return;
	}
	p = part_at(sc, job);
	if (end->what == SES_MALFORMED) {
		perr(sc, p, RE_PROTOCOL, rest_phase(p), end->text, T_PART);
		rest_done(sc, p);
		return;
	}
	net_cause(sc, end, T_PART, cause, sizeof(cause));
	perr(sc, p, end->what == SES_STALLED ? RE_SEND :
		    busy ? RE_RECV : RE_CONNECT, rest_phase(p), cause, T_PART);
	rest_done(sc, p);
}

static int rest_wanted(void *app, uint32_t job)
{
	uint8_t st = part_at(app, job)->state;

	return st == P_SIGNUP_Q || st == P_REQUEST_Q;
}

static int rest_write(void *app, uint32_t job, uint32_t id)
{
	struct scenario *sc = app;
	struct part *p = part_at(sc, job);

	if (job_request(sc, id, p) < 0) {
		perr(sc, p, RE_HTTP, rest_phase(p), "request too large", T_PART);
		rest_done(sc, p);
		return -1;
	}
	return 0;
}

static void rest_opened(void *app)
{
	struct scenario *sc = app;

	sc->c.http_opened++;
}

static const struct ses_pool_ops rest_ops = {
	.wanted = rest_wanted,
	.write = rest_write,
	.response = rest_response,
	.failed = rest_failed,
	.opened = rest_opened,
};

/* A session ended by the server's side in a way of its own: a
 * malformed response, a failed upgrade, a bad frame, a close frame. */
static void ended(struct scenario *sc, uint32_t tag, enum run_err kind,
		  const char *phase, const char *cause)
{
	uint32_t owner = TAG_OWNER(tag);

	if (TAG_KIND(tag) == OWN_PART) {
		struct part *p = part_at(sc, owner);

		perr(sc, p, kind, phase, cause, T_MSG);
		part_done(sc, p);
		p->conn = NIL;
	} else if (TAG_KIND(tag) == OWN_ORG) {
		struct org *o = &sc->orgs[owner];

		oerr(sc, owner, kind, phase, cause,
		     o->state == O_SIGNIN ? T_ORG : T_MSG);
		org_done(sc, o);
	}
}

/* One of the other devices ended: an error of its owner's; nothing more
 * is expected on it. */
static void dev_closed(struct scenario *sc, uint32_t tag,
		       const struct ses_end *end)
{
	uint32_t owner = TAG_OWNER(tag);
	char cause[200];

	if (end->what == SES_INPUT || end->what == SES_NET ||
	    end->what == SES_STALLED)
		net_cause(sc, end, T_MSG, cause, sizeof(cause));
	else
		snprintf(cause, sizeof(cause), "%s", end->text ? end->text :
			 "closed");
	if (!sc->draining)
		sc_error(sc, RE_CLOSED, "messenger: %s %u device %u: %s (%s)",
			 TAG_KIND(tag) == OWN_PDEV ? "participant" : "organizer",
			 TAG_KIND(tag) == OWN_PDEV ?
			 (unsigned)part_at(sc, DEV_USER(owner))->n :
			 DEV_USER(owner) + 1,
			 /* counted from the first connection, device 1 */
			 DEV_SLOT(owner) + 2, cause, sc->o->t[T_MSG].url);
	if (TAG_KIND(tag) == OWN_PDEV) {
		struct part *p = part_at(sc, DEV_USER(owner));

		if (p->dev)
			p->dev[DEV_SLOT(owner)].conn = NIL;
	} else {
		struct org *o = &sc->orgs[DEV_USER(owner)];

		o->dev[DEV_SLOT(owner)].conn = NIL;
		odev_up(sc, o, &o->dev[DEV_SLOT(owner)]);
	}
}

/* see scenario.h */
void sc_closed(void *app, uint32_t tag, const struct ses_end *end)
{
	struct scenario *sc = app;
	uint32_t owner = TAG_OWNER(tag);
	char cause[200];

	if (TAG_KIND(tag) == OWN_PDEV || TAG_KIND(tag) == OWN_ODEV) {
		dev_closed(sc, tag, end);
		return;
	}
	/* With --reconnect-uptime, a participant the server drops on the
	 * messenger comes back as one the tester dropped does. */
	if (TAG_KIND(tag) == OWN_PART && sc->o->reconnect_uptime_ms &&
	    !sc->draining &&
	    (end->what == SES_NET || end->what == SES_WS_CLOSE)) {
		struct part *p = part_at(sc, owner);

		if (p->state >= P_WAIT_CHAT && p->state != P_AWAY &&
		    p->state != P_DONE) {
			p->conn = NIL;
			part_away(sc, p, 1);
			return;
		}
		/* asking again (--reopen-after): it connects once accepted */
		if (p->had_chat && (p->state == P_REQUEST_Q ||
				    p->state == P_REQUEST)) {
			sc->c.drops_server++;
			p->conn = NIL;
			p->back = 1;
			p->resume = R_WAIT;
			return;
		}
	}
	switch (end->what) {
	case SES_UNASKED:
		ended(sc, tag, RE_PROTOCOL, "sign-in", end->text);
		return;
	case SES_MALFORMED:
		ended(sc, tag, RE_PROTOCOL, "sign-in", end->text);
		return;
	case SES_HANDSHAKE:
		ended(sc, tag, RE_HANDSHAKE, "messenger handshake", end->text);
		return;
	case SES_BAD_FRAME:
		ended(sc, tag, RE_PROTOCOL, "messenger", end->text);
		return;
	case SES_WS_CLOSE:
		ended(sc, tag, RE_CLOSED, "messenger", end->text);
		return;
	case SES_INPUT:
	case SES_NET:
	case SES_STALLED:
		break;
	}
	net_cause(sc, end, target_of(sc, tag), cause, sizeof(cause));
	if (TAG_KIND(tag) == OWN_PART) {
		struct part *p = part_at(sc, owner);
		const char *phase = p->state == P_CONNECT ? "connect" :
				    p->state == P_UPGRADE ? "messenger handshake" :
				    "messenger";

		perr(sc, p, p->state == P_CONNECT ? RE_CONNECT : RE_CLOSED,
		     phase, cause, T_MSG);
		part_done(sc, p);
		p->conn = NIL;
	} else if (TAG_KIND(tag) == OWN_ORG) {
		struct org *o = &sc->orgs[owner];

		oerr(sc, owner, o->state == O_OPEN ? RE_CLOSED : RE_CONNECT,
		     o->state == O_SIGNIN ? "sign-in" : "messenger", cause,
		     o->state == O_SIGNIN ? T_ORG : T_MSG);
		ses_timer_del(sc->ses, &o->t.node);
		o->state = O_DONE;
		o->conn = NIL;
	}
}

/* see scenario.h */
void sc_writable(void *app, uint32_t tag)
{
	struct scenario *sc = app;

	if (TAG_KIND(tag) == OWN_PART) {
		struct part *p = part_at(sc, TAG_OWNER(tag));

		if (p->state == P_CHAT && !sc->draining)
			send_due(sc, p);
	} else if (TAG_KIND(tag) == OWN_ORG) {
		struct org *o = &sc->orgs[TAG_OWNER(tag)];

		if (o->state == O_OPEN && !sc->draining) {
			org_start_chat(sc, o);
			org_flush_replies(sc, o);
		}
	}
}

/* see scenario.h */
void sc_stalled(void *app, uint32_t tag)
{
	struct scenario *sc = app;
	uint32_t owner = TAG_OWNER(tag);
	char why[96];

	snprintf(why, sizeof(why), "a send waited %gs: the server stopped "
		 "reading", (double)sc->o->send_timeout_ms / 1000);
	if (TAG_KIND(tag) == OWN_PART) {
		struct part *p = part_at(sc, owner);

		perr(sc, p, RE_SEND, "messenger", why, T_MSG);
		part_done(sc, p);
		p->conn = NIL;
	} else if (TAG_KIND(tag) == OWN_ORG) {
		struct org *o = &sc->orgs[owner];

		oerr(sc, owner, RE_SEND, "messenger", why, T_MSG);
		org_done(sc, o);
	}
}

/* why = "no <kind> response within <ms as seconds>s" */
static void no_response(char *why, size_t cap, const char *kind, int64_t ms)
{
	snprintf(why, cap, "no %s response within %gs", kind, (double)ms / 1000);
}

/* A REST request's deadline passed, counted from when it was queued:
 * waiting for a connection counts, as the open loop wants. */
static void rest_timeout(struct scenario *sc, struct part *p)
{
	char why[96];

	no_response(why, sizeof(why), "complete", sc->o->request_timeout_ms);
	if (p->state == P_SIGNUP_Q || p->state == P_REQUEST_Q)
		snprintf(why + strlen(why), sizeof(why) - strlen(why),
			 " (queued for a REST connection)");
	perr(sc, p, RE_TIMEOUT, rest_phase(p), why, T_PART);
	rest_done(sc, p);
	/* A request in flight takes its connection with it. */
	ses_pool_cancel(&sc->rest, p->t.idx);
}

static void org_timer(struct scenario *sc, unsigned i)
{
	struct org *o = &sc->orgs[i];
	char why[64];

	if (o->state == O_OPEN) {
		org_start_chat(sc, o);
		return;
	}
	if (o->state == O_DEVICES) {
		/* the devices that did not register are not waited for */
		no_response(why, sizeof(why), "get_chats",
			    sc->o->handshake_timeout_ms);
		oerr(sc, i, RE_TIMEOUT, "messenger, its other devices", why,
		     T_MSG);
		for (unsigned d = 0; d + 1 < sc->o->org_devices; d++)
			if (!o->dev[d].up) {
				if (o->dev[d].conn != NIL)
					ses_close(sc->ses, o->dev[d].conn);
				o->dev[d].conn = NIL;
				odev_up(sc, o, &o->dev[d]); /* the last opens it */
			}
		return;
	}
	if (o->state == O_SIGNIN) {
		no_response(why, sizeof(why), "complete",
			    sc->o->request_timeout_ms);
		oerr(sc, i, RE_TIMEOUT, "sign-in", why, T_ORG);
	} else if (o->state == O_UPGRADE) {
		no_response(why, sizeof(why), "handshake",
			    sc->o->handshake_timeout_ms);
		oerr(sc, i, RE_HANDSHAKE, "messenger handshake", why, T_MSG);
	} else {
		return;
	}
	ses_close(sc->ses, o->conn);
	o->state = O_DONE;
}

static void part_timer(struct scenario *sc, struct part *p)
{
	char why[64];

	if (p->state == P_CHAT) {
		if (p->early_refusal && ses_now(sc->ses) - p->refused_ns >
		    ms_ns(sc->o->request_timeout_ms)) {
			/* refused, and no closed_chat came: not an end */
			part_fail(sc, p, RE_SERVER, "messenger",
				  "its chat refused its messages, but sent "
				  "no closed_chat within the request timeout");
		} else if (p->drop_ns && ses_now(sc->ses) >= p->drop_ns) {
			part_away(sc, p, 0);
		} else {
			send_due(sc, p);
		}
	} else if (p->state == P_CLOSED) {
		/* --reopen-after: a new chat request, same connection */
		if (sc->draining || !p->token)
			return;
		p->state = P_REQUEST_Q;
		job_push(sc, p->t.idx, ses_now(sc->ses));
		ses_pool_pump(&sc->rest);
	} else if (p->state == P_AWAY) {
		p->away_ns = ses_now(sc->ses);
		part_connect(sc, p->t.idx);
	} else if (p->state == P_REJOIN || p->state == P_HISTORY) {
		no_response(why, sizeof(why), p->state == P_REJOIN ?
			    "get_chats" : "get_chat_history",
			    sc->o->request_timeout_ms);
		part_fail(sc, p, RE_TIMEOUT, "back from a reconnect", why);
	} else if (p->state == P_WAIT_CHAT && p->awaiting) {
		no_response(why, sizeof(why), "get_chats",
			    sc->o->request_timeout_ms);
		part_fail(sc, p, RE_TIMEOUT, "waiting for chat", why);
	} else if (p->state == P_WAIT_CHAT) {
		send_get_chats(sc, p);
	} else if (p->state <= P_REQUEST) {
		rest_timeout(sc, p);
	} else if (p->state == P_UPGRADE) {
		no_response(why, sizeof(why), "handshake",
			    sc->o->handshake_timeout_ms);
		part_fail(sc, p, RE_HANDSHAKE, "messenger handshake", why);
	}
}

/* see scenario.h */
void sc_timer(void *app, struct tw_node *n)
{
	struct scenario *sc = app;
	struct timer *t = (struct timer *)n;

	hist_add(&sc->timer_late, us_since(t->due_ns, ses_now(sc->ses)));
	switch (t->kind) {
	case TK_ARRIVAL:
		arrivals(sc);
		break;
	case TK_ORG:
		org_timer(sc, t->idx);
		break;
	case TK_PART:
		part_timer(sc, part_at(sc, t->idx));
		break;
	case TK_REPLY:
		reply_due(sc, t->idx);
		break;
	case TK_CLOSE:
		ochat_close(sc, ochat_at(sc, t->idx));
		break;
	default:
		break;
	}
}

/* see scenario.h */
void sc_submitted(void *app, uint32_t tag, unsigned msgs)
{
	struct scenario *sc = app;
	struct part *p;

	if (TAG_KIND(tag) != OWN_PART)
		return;
	p = part_at(sc, TAG_OWNER(tag));
	/* The frames are this participant's next messages, in order. */
	while (msgs--) {
		uint32_t k = ++p->ksub;
		uint64_t lag = us_since(part_due(sc, p, k), ses_now(sc->ses));

		p->lag[k % LAGS] = LAG_TAG(k) |
				   (uint32_t)(lag < (1u << LAG_BITS) ? lag :
					      (1u << LAG_BITS) - 1);
		hist_add(&sc->lag, lag);
	}
}

/* see scenario.h */
void sc_sent(void *app, uint32_t tag, unsigned msgs, int detached)
{
	struct scenario *sc = app;

	/* Counted in the rate table and for their participant; on a
	 * connection the scenario already closed (its owner gone) they
	 * count as lost, but for those whose echo came before this credit
	 * and a drop (part_away): they were delivered. */
	sc->c.sent += msgs;
	sc_rate(sc, msgs);
	if (detached) {
		unsigned early = 0;

		if (TAG_KIND(tag) == OWN_PART) {
			struct part *p = part_at(sc, TAG_OWNER(tag));

			early = msgs < p->early_echoes ? msgs : p->early_echoes;
			p->early_echoes -= early;
		}
		sc->c.lost += msgs - early;
	} else if (TAG_KIND(tag) == OWN_PART) {
		part_at(sc, TAG_OWNER(tag))->nsent += msgs;
	}
}

/* see scenario.h */
uint64_t sc_dev_lag(const struct scenario *sc)
{
	uint64_t n = 0;

	if (sc->o->devices > 1)
		for (uint32_t i = 0; i < sc->nparts; i++) {
			const struct part *p = &sc->pchunks[i / PCHUNK][i % PCHUNK];

			for (unsigned d = 0; p->dev && d + 1 < sc->o->devices; d++) {
				const struct pdev *v = &p->dev[d];

				/* registered: high starts at from */
				if (PDEV_LIVE(v) && p->high > v->high)
					n += p->high - v->high;
			}
		}
	for (unsigned i = 0; i < sc->norgs && sc->o->org_devices > 1; i++)
		for (unsigned d = 0; d + 1 < sc->o->org_devices; d++) {
			const struct odev *v = &sc->orgs[i].dev[d];

			if (v->conn != NIL && v->expected > v->received)
				n += v->expected - v->received;
		}
	return n;
}

/* see scenario.h */
uint64_t sc_in_flight(const struct scenario *sc)
{
	uint64_t n = 0;

	for (uint32_t i = 0; i < sc->nparts; i++) {
		const struct part *p = &sc->pchunks[i / PCHUNK][i % PCHUNK];

		if (p->state == P_CHAT && p->conn != NIL && p->nsent > p->high)
			n += p->nsent - p->high;
	}
	return n;
}

/* see scenario.h */
void sc_account(struct scenario *sc)
{
	for (uint32_t i = 0; i < sc->nparts; i++) {
		struct part *p = part_at(sc, i);

		settle(sc, p, p->state == P_CHAT && p->conn != NIL);
	}
}

/* see scenario.h */
void sc_drain(struct scenario *sc)
{
	/* Timers stop with the worker's wheel; nothing new is queued. */
	ses_pool_drain(&sc->rest);
}

/* see scenario.h */
void sc_free(struct scenario *sc)
{
	for (uint32_t i = 0; i < sc->nparts; i++) {
		free(part_at(sc, i)->ebits);
		free(part_at(sc, i)->dev);
	}
	for (uint32_t i = 0; i < sc->pchunks_cap; i++)
		free(sc->pchunks[i]);
	for (uint32_t i = 0; i < sc->ochunks_cap; i++)
		free(sc->ochunks[i]);
	free(sc->ochunks);
	sc->ochunks = NULL;
	sc->ochunks_cap = sc->nochats = 0;
	chatmap_free(&sc->ochat_map);
	free(sc->pchunks);
	free(sc->orgs);
	free(sc->org_copies);
	for (uint32_t i = 0; i < sc->rchunks_cap; i++)
		free(sc->rchunks[i]);
	free(sc->rchunks);
	sc->rchunks = NULL;
	sc->rchunks_cap = sc->nreplies = 0;
	ses_pool_free(&sc->rest);
	free(sc->rates);
	pool_destroy(&sc->tok_pool);
	sc->rates = NULL;
	sc->pchunks = NULL;
	sc->orgs = NULL;
	sc->org_copies = NULL;
}
