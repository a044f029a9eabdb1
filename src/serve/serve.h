/*
 * serve: the reference ESME backend (organizer API, participant API and
 * messenger) in one process, in memory, in one thread (one io_uring, or
 * several when --max-conns exceeds what one ring's table may hold).
 *
 * Internal contract between the serve modules:
 *   serve.c     options, setup, signals, exit report
 *   conn.c      listeners and connections on the engine (engine/eng.h):
 *               per-connection state, deadlines, writes
 *   store.c     accounts, events, queues, chats, the message log
 *   rest.c      the HTTP routes of the three ports
 *   messenger.c the WebSocket protocol of docs/protocol.md §4
 *   stats.c     the /stats JSON
 *
 * IMPLEMENTATION NOTES
 * - One thread owns everything; no locks. A connection is the engine's
 *   slot (the direct-descriptor entry the kernel gave it at accept); serve
 *   keeps its own part of it at the same index of s->conns.
 * - A user may hold several WebSocket connections; each user keeps an
 *   intrusive list of them (conn indexes) and fan-out walks it.
 * - Frames are encoded once into a scratch buffer and copied into each
 *   recipient's outbound queue: server frames are unmasked, so the bytes
 *   are the same for every recipient.
 */
#ifndef ESMELOAD_SERVE_H
#define ESMELOAD_SERVE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "engine/eng.h"
#include "serve/delay.h"
#include "pool.h"
#include "ws.h"

#define NIL UINT32_MAX

enum { PORT_ORG = 0, PORT_PART = 1, PORT_MSG = 2, NPORTS = 3 };
enum role { ROLE_NONE = 0, ROLE_ORG = 1, ROLE_PART = 2 };

enum conn_state {
	CS_FREE = 0,
	CS_HTTP,     /* plain HTTP, keep-alive */
	CS_WS_AUTH,  /* upgraded, waiting for the authorization frame */
	CS_WS,       /* authorized */
	CS_CLOSING,  /* shutdown issued, waiting for recv/send to end */
};

/* serve's part of a connection (the engine keeps the rest). */
struct conn {
	uint8_t state;      /* enum conn_state */
	uint8_t port;       /* which listener accepted it */
	uint8_t role;       /* enum role, for WebSocket connections */
	uint32_t user;      /* organizer or participant index */
	uint32_t unext, uprev; /* the user's connection list */
	struct ws_msg msg;  /* fragmented message under reassembly */
	uint64_t last_ms;   /* last input, for the idle timeout */
};

struct serve_opts {
	const char *host;
	uint16_t port[NPORTS];
	const char *write_config;
	const char *jwt_secret;
	const char *api_key;
	unsigned max_conns;
	size_t out_limit;       /* per connection */
	size_t out_memory;      /* all outbound queues together */
	int slow_close;         /* 1: close a connection over out_limit */
	unsigned history;       /* messages kept per chat */
	size_t log_bytes;       /* message log arena */
	uint64_t auth_timeout_ms;
	uint64_t idle_timeout_ms;
	uint64_t http_timeout_ms;
	size_t max_frame;       /* largest inbound WebSocket message */
	size_t max_head;        /* largest HTTP request head */
	size_t max_body;        /* largest HTTP request body */
	size_t max_message;     /* longest chat message content */
	int quiet;
	unsigned nbufs, buf_size;
	/* fault injection, for tests of the tester */
	int64_t delay_ns;       /* hold every user_message this long */
	uint64_t stall_at_ms;   /* stop the event loop at this time ... */
	uint64_t stall_for_ms;  /* ... for this long (0: never) */
	int rcvbuf;             /* SO_RCVBUF of accepted sockets (0: default) */
};

/* Error kinds counted in /stats "errors". */
enum serve_err {
	E_MALFORMED, E_BAD_TYPE, E_BAD_PAYLOAD, E_NO_ACCESS, E_CHAT_NOT_FOUND,
	E_NOT_SAVED, E_AUTH, E_AUTH_TIMEOUT, E_IDLE_TIMEOUT,
	E_PROTOCOL, E_TOO_BIG, E_HTTP_BAD, E_HTTP_4XX, E_CONN_LIMIT,
	E_SLOW_CLOSED, E_NO_MEMORY, E_RECV, E_SEND, E_ENOBUFS,
	E_COUNT
};
extern const char *const serve_err_names[E_COUNT];

struct serve_stats {
	uint64_t accepted, closed;
	uint64_t http_requests;
	uint64_t msg_received;  /* send_message frames received */
	uint64_t msg_stored;
	uint64_t msg_sent;      /* user_message frames queued to connections */
	uint64_t msg_sent_org;  /* ... of them to organizer connections */
	uint64_t msg_dropped;   /* user_message frames dropped (slow reader) */
	uint64_t frames_in, frames_out, frames_dropped;
	uint64_t bytes_in, bytes_out;
	uint64_t chats_total, chats_active;
	uint64_t requests_total;
	uint32_t conns[4];      /* http, pending, organizer, participant */
	uint64_t err[E_COUNT];
};

struct store;

struct serve {
	struct serve_opts o;
	struct eng eng;         /* rings, connections, the loop */
	struct conn *conns;     /* max_conns, by engine slot */
	struct pool msg_pool;   /* fragmented messages under reassembly */
	uint16_t bound[NPORTS];
	uint8_t port_of[ENG_MAX_LISTEN]; /* listener -> PORT_* */
	struct store *st;
	struct serve_stats stats;
	uint8_t *scratch;       /* one encoded frame or response */
	size_t scratch_cap;
	uint8_t *scratch2;
	uint8_t jwt_key[64];
	size_t jwt_key_len;
	char api_key[65];
	uint32_t instance;      /* random, part of every generated id */
	struct delayq dq;       /* --delay */
	uint64_t start_ms;
	uint32_t pool_n;        /* --organizers: accounts in the pool */
	uint32_t pool_first;    /* store index of pool account 2 (account 1
				 * is organizer 0) */
	volatile sig_atomic_t *stop;
};

/* Monotonic milliseconds, as of the engine's current batch. */
static inline uint64_t serve_now_ms(const struct serve *s)
{
	return (uint64_t)s->eng.now_ns / 1000000;
}

/* ---- conn.c ---- */
int serve_net_init(struct serve *s, char *err, size_t errlen);
int serve_net_run(struct serve *s);
void serve_net_exit(struct serve *s);
/* Queue bytes for a connection. bounded: the out_limit and slow-reader
 * policy apply (pushed frames); replies to a client's own request pass
 * unbounded (the pool bound still holds). Returns 0, -ENOBUFS (dropped or
 * closed) or -EPIPE (closing). */
int conn_write(struct serve *s, struct conn *c, const void *p, size_t n,
	       int bounded);
/* Close after what is queued has been sent (HTTP close, WS close frame). */
void conn_linger(struct serve *s, struct conn *c);
/* Close now; queued output is discarded. */
void conn_close(struct serve *s, struct conn *c);
/* 1 while the connection takes input and writes (not closing or
 * lingering). */
int conn_alive(const struct serve *s, const struct conn *c);
/* Move c to state st, keeping the per-state counts of /stats. */
void conn_set_state(struct serve *s, struct conn *c, enum conn_state st);
/* c's deadline: ms from now (HTTP keep-alive, authorization, idle). */
void conn_deadline(struct serve *s, struct conn *c, uint64_t ms);
static inline uint32_t conn_idx(const struct serve *s, const struct conn *c)
{
	return (uint32_t)(c - s->conns);
}

/* ---- rest.c ---- */
/* Handle bytes on an HTTP connection; returns bytes consumed or < 0 to
 * close. May switch the connection to CS_WS_AUTH (upgrade). */
long rest_input(struct serve *s, struct conn *c, uint8_t *p, size_t n);
/* Write an HTTP response with a JSON body (NULL body: empty; the
 * Content-Type is application/json either way, as ESME's services send). */
void rest_reply(struct serve *s, struct conn *c, int status, const char *body,
		size_t body_len, int keep_alive);
/* The same with another Content-Type (NULL: none) and extra header lines
 * ("Name: value\r\n" each, or NULL). */
void rest_reply_ext(struct serve *s, struct conn *c, int status,
		    const char *ctype, const char *extra, const char *body,
		    size_t body_len, int keep_alive);

/* ---- messenger.c ---- */
/* Handle bytes on a WebSocket connection; returns bytes consumed or < 0 to
 * close. */
long msgr_input(struct serve *s, struct conn *c, uint8_t *p, size_t n);
/* The connection is going away: unlink it from its user. */
void msgr_detach(struct serve *s, struct conn *c);
/* Timer expiry for a WebSocket connection (auth deadline or idle). */
void msgr_timeout(struct serve *s, struct conn *c);
/* Fan out the delayed frames that are due; returns the next due time
 * (monotonic ns) or 0 when none is waiting. */
int64_t msgr_flush_delayed(struct serve *s, int64_t now_ns);
/* Send a text frame with the JSON text to one connection. */
void msgr_send_json(struct serve *s, struct conn *c, const char *json,
		    size_t n);

/* ---- auth.c ---- */
struct jw;
struct chat;
struct msgrec;
/*
 * Check a prefixed token ("organizer:<jwt>" or "participant:<jwt>"): the
 * signature and claims, the user, and that it was issued after the user's
 * last sign-out. Returns 0 with *role and *user (index), or -EACCES.
 */
int auth_token(struct serve *s, const char *tok, size_t n, enum role *role,
	       uint32_t *user);
/* Issue "<role>:<jwt>" for a user index into dst; returns its length. */
int auth_issue(struct serve *s, enum role role, uint32_t user, char *dst,
	       size_t cap);

/* ---- render.c: the JSON shapes of docs/protocol.md §3-§4 ---- */
void render_time(struct jw *w, int64_t ns);
void render_org(struct serve *s, struct jw *w, uint32_t org);
void render_part(struct serve *s, struct jw *w, uint32_t part, int brief);
void render_chat(struct serve *s, struct jw *w, const struct chat *c,
		 int with_participant);
void render_msg(struct serve *s, struct jw *w, const struct msgrec *m);
/* An error body {"statusCode":N,"message":msg,"error":reason}. */
long render_http_error(char *buf, size_t cap, int status, const char *msg);

/* ---- stats.c ---- */
/* The /stats JSON into buf; returns its length (< 0 on overflow). */
long serve_stats_json(struct serve *s, char *buf, size_t cap);

/* ---- main.c ---- */
int serve_main(int argc, char **argv);

#endif
