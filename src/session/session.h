/*
 * session: the client sessions of `esmeload run` on the engine
 * (engine/eng.h): HTTP/1.1 connections (requests written into the
 * connection's send slot, responses framed, chunked bodies decoded), a
 * keep-alive pool of them with a queue of requests (struct ses_pool), and
 * WebSocket connections (the upgrade and its Sec-WebSocket-Accept check,
 * masked text frames, pings answered, close and bad frames ending the
 * connection). The application (run's scenario) talks to sessions and
 * hears whole responses and whole text frames; it never sees a slot, a
 * frame header or a byte of framing.
 *
 * Files: session.c (setup, open and close, the engine's callbacks),
 * httpc.c (HTTP framing), pool.c (the keep-alive pool), wsc.c
 * (WebSocket).
 *
 * A connection is named by the application's tag (given at open, back
 * with every callback) and by its id (ses_*_open's answer, for the calls
 * that write or close). After ses_close, or after ops.closed, the id is
 * the application's no longer; only ops.sent may still name the tag
 * (detached).
 *
 * Units: a text frame may carry units (the application's count, e.g. one
 * send_message); ops.submitted hears when a send takes them and ops.sent
 * when the kernel took all their bytes (see eng.h).
 *
 * The scenario's own timers live on the engine's wheel (ses_timer_at),
 * and so does its clock (ses_now): a unit test gives the scenario fake
 * sessions by linking its own ses_* functions instead of this file.
 *
 * No include of the applications: the session knows targets, bytes and
 * frames, nothing of participants or organizers.
 */
#ifndef ESMELOAD_SESSION_H
#define ESMELOAD_SESSION_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "engine/eng.h"

enum ses_kind { SES_HTTP = 1, SES_WS };

/* What ended a connection (struct ses_end's what). */
enum ses_what {
	SES_NET = 0,     /* the connection: err (-errno), text when known */
	SES_INPUT,       /* an input over the session's limit, or no memory
			  * for it (err -EMSGSIZE / -ENOMEM) */
	SES_UNASKED,     /* HTTP: bytes with no request outstanding */
	SES_MALFORMED,   /* HTTP: a response that does not parse */
	SES_HANDSHAKE,   /* WebSocket: the upgrade failed; text says why */
	SES_BAD_FRAME,   /* WebSocket: a frame against RFC 6455; text */
	SES_WS_CLOSE,    /* WebSocket: the server sent a close frame */
	SES_STALLED,     /* a pool connection's send waited the engine's
			  * send timeout */
};

struct ses_end {
	enum ses_what what;
	int err;                  /* -errno (SES_NET, SES_INPUT) */
	const char *text;         /* the cause in words, or NULL */
	uint8_t connecting;       /* the TCP connect had not completed */
	uint8_t handshaking;      /* the TLS handshake had not */
};

struct ses_ops {
	/* The connection is up (TCP, and TLS when the target has it). HTTP:
	 * ready for a request. WebSocket: the upgrade request is on its
	 * way. local: the connection's local address. */
	void (*up)(void *app, uint32_t tag, uint32_t id,
		   const struct sockaddr_storage *local);
	/* WebSocket: the server answered 101 with the right accept key. */
	void (*upgraded)(void *app, uint32_t tag, uint32_t id);
	/* HTTP: the response to the request in flight (body decoded when
	 * chunked; valid during the call). keep_alive 0: the server closes
	 * after it, and so does the session when the call returns (no
	 * ops.closed follows). */
	void (*response)(void *app, uint32_t tag, uint32_t id, int status,
			 const char *body, size_t blen, int keep_alive);
	/* WebSocket: a whole text frame. Returns 0, or < 0 to close the
	 * connection (no ops.closed follows). */
	int (*text)(void *app, uint32_t tag, uint32_t id, const char *p,
		    size_t n);
	/* The connection ended, not by ses_close. */
	void (*closed)(void *app, uint32_t tag, const struct ses_end *end);
	void (*submitted)(void *app, uint32_t tag, unsigned units);
	void (*sent)(void *app, uint32_t tag, unsigned units, int detached);
	/* A send completed: the connection takes more again. */
	void (*writable)(void *app, uint32_t tag);
	/* A send waited the engine's send timeout (the connection closes
	 * after this, without ops.closed). */
	void (*stalled)(void *app, uint32_t tag);
	void (*timer)(void *app, struct tw_node *n);
	/* After every batch (eng_ops.turn). */
	int64_t (*turn)(void *app);
};

/* A destination: the engine's, its Host header and, for WebSocket, the
 * path of the upgrade. */
struct ses_target {
	struct eng_target eng;
	const char *hostport;
	const char *ws_path;
};

struct ses_conn {
	uint8_t kind;             /* enum ses_kind, 0: free */
	uint8_t state;            /* connecting, upgrading, open */
	uint8_t busy;             /* HTTP: a request is in flight */
	uint8_t pool;             /* 1 + the pool it belongs to, 0: none */
};

struct ses_pool;
#define SES_MAX_POOLS 4

struct ses {
	struct eng eng;
	const struct ses_ops *ops;
	void *app;
	const struct ses_target *targets;
	struct ses_conn *conns;   /* by engine slot */
	uint8_t *scratch;         /* decoded chunked bodies */
	uint64_t rng;             /* masks */
	uint64_t key_seed;        /* WebSocket keys derive from it */
	int log_ws;               /* --log-ws: text frames to stderr */
	struct ses_pool *pools[SES_MAX_POOLS];
	unsigned npools;
};

/* The longest HTTP response body and WebSocket frame a session takes. */
#define SES_BODY_MAX 65536

/*
 * Set up S on an engine of eo (its targets become targets[i].eng). seed
 * varies masks and keys between threads. Returns 0 or -errno with err.
 */
int ses_init(struct ses *S, const struct eng_opts *eo,
	     const struct ses_target *targets, unsigned ntargets,
	     const struct ses_ops *ops, void *app, uint64_t seed, int log_ws,
	     char *err, size_t errlen);
void ses_exit(struct ses *S);

/* Open an HTTP or WebSocket connection to target t for tag: the id, or
 * ENG_NIL with the cause in why (no callback follows). */
uint32_t ses_http_open(struct ses *S, unsigned t, uint32_t tag, char *why,
		       size_t whylen);
uint32_t ses_ws_open(struct ses *S, unsigned t, uint32_t tag, char *why,
		     size_t whylen);
/*
 * Write a request (extra: header lines "Name: value\r\n", or NULL) on an
 * HTTP connection that is up and has none in flight. Returns 0, or
 * -ENOSPC when it does not fit the connection's send slot.
 */
int ses_http_request(struct ses *S, uint32_t id, const char *method,
		     const char *path, const char *extra, const char *body,
		     size_t blen);
/* A masked text frame carrying units; -ENOSPC while the send slot is
 * full (ops.writable says when to try again). */
int ses_ws_text(struct ses *S, uint32_t id, const char *txt, size_t n,
		unsigned units);
void ses_close(struct ses *S, uint32_t id);

/*
 * A keep-alive pool: up to max HTTP/1.1 connections to one target and a
 * queue of requests, each an application's job id. A queued job is
 * written as soon as a connection is idle; connections are opened on
 * demand for the jobs still waiting, up to max, so a burst of arrivals
 * gets connections instead of a queue that makes the run closed-loop. A
 * response frees its connection for the next job; a server that closes
 * after its response gets a new connection for the next.
 */
struct ses_pool_ops {
	/* The job is still to be written (one the application gave up
	 * meanwhile is skipped). */
	int (*wanted)(void *app, uint32_t job);
	/* Write the job's request on connection id (ses_http_request).
	 * Returns 0, or < 0 when it cannot be: the application reported it
	 * and the job is dropped. */
	int (*write)(void *app, uint32_t job, uint32_t id);
	void (*response)(void *app, uint32_t job, int status,
			 const char *body, size_t blen);
	/*
	 * A pool connection ended (end says how). busy: job's request was
	 * in flight on it. Else job is the oldest queued job, which waited
	 * for this connection to come up (end->connecting), or ENG_NIL when
	 * no job is concerned (bytes nobody asked for on an idle one).
	 */
	void (*failed)(void *app, uint32_t job, int busy,
		       const struct ses_end *end);
	/* A connection was opened. */
	void (*opened)(void *app);
};

struct ses_pool_conn {
	uint32_t id;              /* session id, ENG_NIL when down */
	uint8_t state;            /* down, connecting, idle, busy */
	uint32_t job;             /* while busy */
};

struct ses_pool {
	struct ses *S;
	unsigned target, n, num;  /* num: this pool's index in S */
	const struct ses_pool_ops *ops;
	void *app;
	struct ses_pool_conn *c;
	uint32_t *q;              /* queued jobs, a ring */
	uint32_t cap, head, len;
};

/* Set up P on S for target t with up to max connections. Returns 0, or
 * -ENOMEM / -ENOSPC (more than SES_MAX_POOLS pools). */
int ses_pool_init(struct ses_pool *P, struct ses *S, unsigned t,
		  unsigned max, const struct ses_pool_ops *ops, void *app);
void ses_pool_free(struct ses_pool *P);
/* Queue job (its request is written when a connection is free); the
 * caller then pumps. Returns 0 or -ENOMEM. */
int ses_pool_queue(struct ses_pool *P, uint32_t job);
/* Hand queued jobs to idle connections, open connections for the rest. */
void ses_pool_pump(struct ses_pool *P);
/* The application gives up job (its deadline passed): a connection with
 * its request in flight is closed; a queued one is skipped. */
void ses_pool_cancel(struct ses_pool *P, uint32_t job);
/* Forget every queued job (the drain). */
void ses_pool_drain(struct ses_pool *P);

/* The scenario's timers and clock (monotonic ns): ses_now is the time of
 * the current batch, ses_clock a fresh reading. */
void ses_timer_at(struct ses *S, struct tw_node *n, int64_t at_ns);
void ses_timer_del(struct ses *S, struct tw_node *n);
int64_t ses_now(const struct ses *S);
int64_t ses_clock(const struct ses *S);

#endif
