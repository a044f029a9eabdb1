/*
 * serve: the reference ESME backend (organizer API, participant API and
 * messenger) in one process, in memory, on --threads threads: each one an
 * engine (one io_uring, or several when --max-conns exceeds what one
 * ring's table may hold) accepting on the same ports (SO_REUSEPORT).
 *
 * Internal contract between the serve modules, from the network up:
 *   serve.c         options, setup, signals, exit report
 *   conn.c          listeners and connections on the engine (engine/eng.h):
 *                   per-connection state, deadlines, writes
 *   http_session.c  the HTTP/1.1 server session: request framing, the
 *                   answers to requests that do not parse, keep-alive and
 *                   its deadline, response writing
 *   ws_session.c    the WebSocket server session (RFC 6455): frames,
 *                   fragment reassembly, ping/pong, the close handshake,
 *                   the close frames of protocol failures
 *   rest.c          the HTTP routes of the three ports, on http_session.c:
 *                   it hears whole requests
 *   messenger.c     the WebSocket protocol of docs/protocol.md §4, on
 *                   ws_session.c: it hears whole messages
 *   store.c         accounts, events, queues, chats, the message log
 *   auth.c          tokens
 *   render.c        the JSON shapes of docs/protocol.md §3-§4
 *   stats.c         the /stats JSON
 *
 * The two sessions know bytes, requests, frames and messages, nothing of
 * ESME: no store, no token, no JSON. conn.c hands a connection's input to
 * the session of its state (CS_HTTP: HTTP; CS_WS_AUTH, CS_WS: WebSocket);
 * the upgrade is a route of rest.c that writes the 101 through the HTTP
 * session and moves the connection to the WebSocket one (conn_set_state).
 *
 * IMPLEMENTATION NOTES
 * - struct serve is one thread's: its engine, connections, counters and
 *   scratch buffers, nothing another thread writes. A connection is the
 *   engine's slot (the direct-descriptor entry the kernel gave it at
 *   accept); serve keeps its own part of it at the same index of s->conns.
 * - The threads share the store (accounts, queues, chats) under one lock
 *   (serve_lock), taken around the store's part of a request or of a
 *   WebSocket message other than send_message, and nothing else: not for
 *   input, parsing, frames, output or timers. With one thread there is no
 *   lock.
 * - Each chat is owned by the thread that started it (start_chat): its
 *   messages go into that thread's log, and only that thread sends the
 *   chat's frames. send_message takes no shared lock: its thread checks
 *   the chat (which never moves and whose members never change, store.h)
 *   and stores it itself if it owns the chat, or hands it to the owner
 *   (XQ_POST), whose refusal, if any, comes back to the sender's
 *   connection (XQ_CONN). close_chat is handed over the same way
 *   (XQ_CLOSE). A log has its own lock, which its owner takes to write a
 *   record and another thread only to read a history.
 * - A user may hold several WebSocket connections, on any threads; each
 *   thread keeps an intrusive list of the ones it owns (conn indexes, by
 *   user index: uhead), and the store a mask of the threads that hold any
 *   (conn_threads, atomic). A chat's frame goes to the owner's own
 *   connections at once and, for each other thread in the mask, into the
 *   queue from the owner to that one (xq.h) with a message to its ring
 *   (IORING_OP_MSG_RING, eng_msg_post) when the queue was idle. That
 *   thread sends it to its own list; it counts what it sent, so every
 *   counter has one writer.
 * - Order: a chat's frames all leave from its owner, in the order it
 *   stored them, and each queue is FIFO: every connection sees a chat's
 *   frames (new_chat, messages, closed_chat) in the owner's order, and a
 *   sender's messages in the order it sent them.
 * - Frames are encoded once into a scratch buffer and copied into each
 *   recipient's outbound queue: server frames are unmasked, so the bytes
 *   are the same for every recipient.
 */
#ifndef ESMELOAD_SERVE_H
#define ESMELOAD_SERVE_H

#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "engine/eng.h"
#include "serve/delay.h"
#include "serve/xq.h"
#include "pool.h"
#include "ws.h"

#define NIL UINT32_MAX
#define SERVE_MAX_THREADS 64
/* The engine message that only wakes a thread (to see the stop flag). */
#define SERVE_WAKE UINT32_MAX

enum { PORT_ORG = 0, PORT_PART = 1, PORT_MSG = 2, NPORTS = 3,
       PORT_METRICS = 3 /* --metrics-port, when asked for */ };
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
	uint32_t gen;       /* accepts in this slot so far: names it to
			     * other threads (an error for a message they
			     * stored) */
	struct ws_msg msg;  /* ws_session.c: fragmented message under
			     * reassembly (a msg_pool block while one is) */
	uint64_t last_ms;   /* last input, for the idle timeout */
};

struct serve_opts {
	const char *host;
	uint16_t port[NPORTS];
	int metrics_port;       /* --metrics-port, -1: none */
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
	unsigned threads;       /* --threads */
	size_t xq_bytes;        /* each thread-to-thread queue */
	unsigned nbufs, buf_size;
	unsigned uring_off;     /* --uring-off: enum ring_feat refused */
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
	uint64_t msg_sent_cross; /* ... of msg_sent, stored by another thread */
	uint64_t msg_forwarded; /* msg_received handed to the chat's thread */
	uint64_t cross_queued;  /* entries queued to other threads */
	uint64_t cross_full;    /* ... refused: that thread's queue was full */
	uint64_t frames_in, frames_out, frames_dropped;
	uint64_t bytes_in, bytes_out;
	uint64_t chats_total, chats_active;
	uint64_t requests_total;
	uint32_t conns[4];      /* http, pending, organizer, participant */
	uint64_t err[E_COUNT];
};

struct store;

/* What the threads share (see the notes above). */
struct serve_shared {
	pthread_mutex_t lock;   /* the store, but a chat's messages (store.h) */
	struct serve *thr;      /* the threads: nthreads */
	unsigned nthreads;
	struct xq *xq;          /* xq[from * nthreads + to] */
	uint64_t live;          /* open connections, all threads (atomic) */
};

struct serve {
	struct serve_opts o;
	struct eng eng;         /* rings, connections, the loop */
	struct conn *conns;     /* max_conns, by engine slot */
	struct pool msg_pool;   /* fragmented messages under reassembly */
	uint16_t bound[NPORTS];
	uint16_t bound_metrics;
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
	struct serve_shared *sh;
	unsigned tid;           /* this thread's index in sh->thr */
	unsigned lock_depth;    /* serve_lock calls not yet undone */
	int woke_others;        /* the stop was passed on */
	uint32_t *uhead[2];     /* [0] organizers, [1] participants: the
				 * first connection of each user on this
				 * thread, by user index, NIL: none */
	uint32_t ucap[2];
};

/* The store's lock, taken once however deep the calls nest (a write may
 * close a connection, which detaches it from its user). */
static inline void serve_lock(struct serve *s)
{
	if (s->sh->nthreads > 1 && s->lock_depth++ == 0)
		pthread_mutex_lock(&s->sh->lock);
}
static inline void serve_unlock(struct serve *s)
{
	if (s->sh->nthreads > 1 && --s->lock_depth == 0)
		pthread_mutex_unlock(&s->sh->lock);
}

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

/* ---- http_session.c: the HTTP/1.1 server session ---- */
struct http_request;
/* A whole request, as the HTTP session hands it to rest.c. Everything
 * points into the connection's input and is valid during the call. */
struct hses_req {
	const struct http_request *h; /* method, target, headers, body */
	const char *path;             /* the target up to its '?' */
	size_t path_len;
	int keep_alive;               /* the answer keeps the connection */
};
/*
 * Take bytes on an HTTP connection (CS_HTTP): one whole request is handed
 * to rest_request; bytes that do not parse as one (or one over max_head,
 * max_body) are counted (E_HTTP_BAD) and handed to rest_refused with the
 * status to answer (400, 413, 431, 501), and the connection closes after
 * that answer. After a request the connection, if still CS_HTTP, waits
 * http_timeout_ms for the next one. Returns bytes consumed (0: no whole
 * request yet; all of them for bytes refused). The route may have
 * switched the connection to the WebSocket session; what follows the
 * request is then that session's input.
 */
long hses_input(struct serve *s, struct conn *c, uint8_t *p, size_t n);
/*
 * Write a response: the head (Content-Type ctype, or none when NULL; extra
 * header lines "Name: value\r\n" each, or NULL) and body_len bytes of
 * body. keep_alive 0: "Connection: close" and the connection closes once
 * it is out. 4xx answers are counted (E_HTTP_4XX). Uses s->scratch2, so
 * the body may be in s->scratch but not in scratch2; a response over
 * scratch_cap closes the connection instead.
 */
void hses_reply(struct serve *s, struct conn *c, int status,
		const char *ctype, const char *extra, const char *body,
		size_t body_len, int keep_alive);
/*
 * Write the 101 answer that accepts a WebSocket upgrade with this
 * Sec-WebSocket-Key (checked by the caller). Returns 0, or < 0 with the
 * connection closed. The caller then moves the connection to CS_WS_AUTH.
 */
int hses_upgrade(struct serve *s, struct conn *c, const char *key,
		 size_t n);

/* ---- ws_session.c: the WebSocket server session ---- */
/*
 * Take bytes on an upgraded connection (CS_WS_AUTH, CS_WS): frames are
 * parsed (masked, at most max_frame), counted (frames_in), fragments
 * reassembled in a msg_pool block, and each whole data message handed to
 * msgr_message. Pings are answered with pongs, pongs ignored, a close
 * frame echoed (its code; an empty one with an empty one) and the
 * connection closed once that is out. A frame against RFC 6455 is
 * counted (E_PROTOCOL, E_TOO_BIG) and answered with a close frame (1002,
 * 1009). The messenger hears none of the control frames; the end of a
 * connection reaches it through msgr_detach (conn.c). Any input counts as
 * activity (c->last_ms). Returns bytes consumed (the rest once the
 * connection stops taking input), or < 0 to close (-ENOMEM: no block for
 * a fragmented message, counted E_NO_MEMORY).
 */
long wses_input(struct serve *s, struct conn *c, uint8_t *p, size_t n);
/* A text message that is not UTF-8 (RFC 6455 §8.1): counted (E_PROTOCOL),
 * a close frame 1007 "invalid utf-8", closed once it is out. */
void wses_fail_utf8(struct serve *s, struct conn *c);
/* Give back the connection's reassembly block, if it holds one. */
void wses_release(struct serve *s, struct conn *c);
/* Room a frame header takes in front of its payload: a frame is built by
 * writing the payload at buf + WSES_ROOM, then wses_text_frame. */
#define WSES_ROOM WS_HDR_MAX
/*
 * Make the n bytes at payload (with WSES_ROOM bytes free in front) a
 * final, unmasked text frame in place: returns the frame's first byte and
 * its length in *len. A server frame is the same bytes for every
 * recipient, so one frame is built once and written to each. Inline: every
 * pushed message passes here.
 */
static inline uint8_t *wses_text_frame(uint8_t *payload, size_t n,
				       size_t *len)
{
	uint8_t *f = ws_frame_prepend(payload, n, 1, WS_OP_TEXT, NULL);

	*len = (size_t)(payload + n - f);
	return f;
}

/* ---- rest.c, on the HTTP session ---- */
/* A whole request: route it and answer (hses_reply), or upgrade. */
void rest_request(struct serve *s, struct conn *c, const struct hses_req *r);
/* The answer to bytes the HTTP session could not take as a request: a
 * body for status and its cause msg (the connection closes after it). */
void rest_refused(struct serve *s, struct conn *c, int status,
		  const char *msg);

/* ---- messenger.c, on the WebSocket session ---- */
/*
 * A whole data message on c (CS_WS_AUTH or CS_WS), valid during the call
 * (in place in the input when it came in one frame). text: a text
 * message, else binary. utf8: p[0..n) is valid UTF-8 (checked once, by the
 * session). A text message that is not UTF-8 must end the connection:
 * wses_fail_utf8, or another way the protocol wants.
 */
void msgr_message(struct serve *s, struct conn *c, const uint8_t *p,
		  size_t n, int text, int utf8);
/* The connection is going away: unlink it from its user. */
void msgr_detach(struct serve *s, struct conn *c);
/* Timer expiry for a WebSocket connection (auth deadline or idle). */
void msgr_timeout(struct serve *s, struct conn *c);
/* Fan out the delayed frames that are due; returns the next due time
 * (monotonic ns) or 0 when none is waiting. */
int64_t msgr_flush_delayed(struct serve *s, int64_t now_ns);
/* Send what other threads queued for this one (xq.h). */
void msgr_take_queued(struct serve *s);
/* Free this thread's lists of users' connections. */
void msgr_exit(struct serve *s);
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
/* The /stats JSON into buf; returns its length (< 0 on overflow). The
 * counters are summed over the threads: exact once they are quiet, and
 * while they run each one as its thread last wrote it. */
long serve_stats_json(struct serve *s, char *buf, size_t cap);

/* The counters in the Prometheus text format (version 0.0.4) into buf,
 * for GET /metrics on --metrics-port; returns its length (< 0 on
 * overflow). The same sums as serve_stats_json. */
long serve_metrics_text(struct serve *s, char *buf, size_t cap);

/* ---- main.c ---- */
int serve_main(int argc, char **argv);

#endif
