/*
 * scenario: what the participants and organizers of `esmeload run` do
 * (docs/protocol.md §5), as state machines over client sessions
 * (session/session.h). No sockets, no slots, no framing: the scenario
 * opens HTTP and WebSocket sessions, writes requests and text frames,
 * hears responses and frames, and keeps its schedules on the session's
 * timers and clock. A unit test (tests/test_scenario.c) runs it on fake
 * sessions.
 *
 * A participant: sign-up and chat request over a pool of keep-alive REST
 * connections (opened on demand up to --http-conns, requests queued in
 * arrival order, each deadline counted from its queueing: open loop),
 * then its own WebSocket: upgrade, authorization, its chat (from a
 * new_chat push or up to 10 get_chats, smi apart), then send_message
 * every smi on a fixed schedule. An organizer: sign-in, its WebSocket,
 * start_chat every sci. Every connection reads all it is sent.
 *
 * Sessions are tagged with their owner: TAG(kind, index); the REST pool's
 * connections are the pool's, its jobs are participant indexes.
 */
#ifndef ESMELOAD_RUN_SCENARIO_H
#define ESMELOAD_RUN_SCENARIO_H

#include "run/run.h"
#include "run/chatmap.h"
#include "session/session.h"

/* OWN_PDEV and OWN_ODEV: a participant's or organizer's other devices
 * (--devices), owner = index * 8 + device (1-7). */
enum owner_kind { OWN_NONE = 0, OWN_PART, OWN_ORG, OWN_PDEV, OWN_ODEV };

#define TAG(kind, owner) ((uint32_t)(kind) << 28 | (owner))
#define TAG_KIND(tag) ((enum owner_kind)((tag) >> 28))
#define TAG_OWNER(tag) ((tag) & 0x0fffffffu)
/* A device's owner: its user's index and the device (1 .. 7; its slot
 * in the user's devices is one less). */
#define DEV_OWNER(idx, d) ((idx) * RUN_MAX_DEVICES + (d))
#define DEV_USER(owner) ((owner) / RUN_MAX_DEVICES)
#define DEV_SLOT(owner) ((owner) % RUN_MAX_DEVICES - 1)
/* Most users on a thread whose devices a tag can name. */
#define DEV_USERS_MAX ((0x0fffffffu + 1) / RUN_MAX_DEVICES)

/* The longest partial input a session keeps (the engine's in_block);
 * with reconnects, a chat's history comes in one frame, so more. */
#define SC_IN_BLOCK (64 * 1024 + 64)
#define SC_IN_BLOCK_HISTORY (1024 * 1024 + 64)
static inline size_t sc_in_block(const struct run_opts *o)
{
	return o->reconnect_uptime_ms ? SC_IN_BLOCK_HISTORY : SC_IN_BLOCK;
}

/* A scenario timer: the wheel node and what it belongs to. */
struct run_timer {
	struct tw_node node;
	int64_t due_ns;       /* when it is due (monotonic) */
	uint32_t idx;
	uint8_t kind;
};

struct part;
struct org;
struct ochat;

/* One thread's share of the scenario: participants id + 1, id + 1 +
 * threads, ...; the organizers on thread 0. */
struct scenario {
	unsigned id;
	const struct run_opts *o;
	struct run *run;
	struct ses *ses;        /* its sessions */
	struct pool tok_pool;   /* tokens held between sign-up and auth */
	int64_t t0_ns;          /* the run's start (monotonic) */
	/* participants, in chunks so pointers stay valid */
	struct part **pchunks;
	uint32_t nparts, pchunks_cap;
	uint64_t next_arrival;  /* next participant number of this thread */
	struct run_timer arrival;
	int arrivals_done;
	/* organizers (thread 0 only) */
	struct org *orgs;
	unsigned norgs;
	uint64_t *org_copies;   /* user_message frames read, per organizer */
	/* the REST pool: keep-alive connections, jobs = participants */
	struct ses_pool rest;
	/* message rates: per Unix second since rate_base */
	uint32_t *rates;
	uint32_t rates_cap;
	int64_t rate_base;      /* Unix second of rates[0] */
	struct run_counters c;
	/* latency from the scheduled send, from the actual send; send lag */
	struct hist lat, lat_actual, lag;
	/*
	 * Arrivals, each from its scheduled moment: arrival lag (sign-up
	 * written minus scheduled), the phases (sign-up and chat request:
	 * request written to response; connect: connect started to
	 * authorization written) and time to chat (scheduled arrival to chat
	 * found). timer_late: how late each timer fired after it was due.
	 */
	struct hist arrival_lag, ph_signup, ph_request, ph_connect, to_chat;
	struct hist timer_late;
	struct hist reply_lat;  /* an organizer's reply, from its schedule */
	struct hist rejoin;     /* a reconnect's start (after the backoff)
				 * until its history is checked */
	/* organizers' replies waiting for their time (thread 0), in chunks
	 * so the timers in them never move; free ones chained by next */
	struct reply **rchunks;
	uint32_t nreplies, rchunks_cap, reply_free;
	uint64_t rng;           /* --org-think-dist exp */
	uint64_t rng_up;        /* --reconnect-dist exp */
	/* the organizers' chats with a lifetime (thread 0), in chunks so
	 * their timers never move, found by id */
	struct ochat **ochunks;
	uint32_t nochats, ochunks_cap;
	struct chatmap ochat_map;
	uint64_t backlog;       /* arrivals due whose sign-up is not written */
	uint64_t backlog_max;
	char err_text[256];     /* the first error of this thread */
	int has_err;
	int draining;           /* stop: no new work, finish sends */
};

/* Set up sc for thread id (its sessions in ses). Returns 0 or -ENOMEM. */
int sc_init(struct scenario *sc, const struct run_opts *o, struct run *r,
	    unsigned id, struct ses *ses, int64_t t0_ns);
/* The first arrivals and the organizers' sign-ins. */
void sc_start(struct scenario *sc);
/* Stop making new work (the drain). */
void sc_drain(struct scenario *sc);
/* Messages sent on connections still open and not yet echoed (those
 * above the highest echoed number): what a drain may still wait for. */
uint64_t sc_in_flight(const struct scenario *sc);
/* Copies a device (--devices, --org-devices) has yet to read of what its
 * user's first connection read: what a drain also waits for (apart from
 * sc_in_flight). */
uint64_t sc_dev_lag(const struct scenario *sc);
/* After the loop: fill the counters' in_flight and lost. */
void sc_account(struct scenario *sc);
void sc_free(struct scenario *sc);
/* Record an error (the first one's text kept); run_error hears it. */
void sc_error(struct scenario *sc, enum run_err kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Count sent messages in the rate table at the current Unix second. */
void sc_rate(struct scenario *sc, unsigned n);

/*
 * The session callbacks (struct ses_ops, app = the scenario); the worker
 * puts them in its table with its own turn.
 */
void sc_up(void *app, uint32_t tag, uint32_t id,
	   const struct sockaddr_storage *local);
void sc_upgraded(void *app, uint32_t tag, uint32_t id);
void sc_response(void *app, uint32_t tag, uint32_t id, int status,
		 const char *body, size_t blen, int keep_alive);
int sc_text(void *app, uint32_t tag, uint32_t id, const char *p, size_t n);
void sc_closed(void *app, uint32_t tag, const struct ses_end *end);
void sc_submitted(void *app, uint32_t tag, unsigned msgs);
void sc_sent(void *app, uint32_t tag, unsigned msgs, int detached);
void sc_writable(void *app, uint32_t tag);
void sc_stalled(void *app, uint32_t tag);
void sc_timer(void *app, struct tw_node *n);

/*
 * Provided by the scenario's host (worker.c; a test's own): an error of
 * thread sc happened, text in words. The host keeps the run's first error
 * and stops the run at --max-errors.
 */
void run_error(struct scenario *sc, const char *text);

#endif
