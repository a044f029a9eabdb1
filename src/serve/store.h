/*
 * store: serve's in-memory data: accounts, events, per-agency request
 * queues, chats and the message log. No I/O.
 *
 * Ids: organizer id = index + 1, participant id = index + 1 (two tables,
 * as ESME has two APIs). A chat id is 24 hex characters: seconds, the
 * instance tag, and the chat index, so a lookup parses the index and
 * compares the whole id. Messages live in circular log arenas, one per
 * owner (a serve thread): a chat's history holds offsets into its owner's
 * log, and an offset overwritten by newer messages is simply gone, which
 * bounds memory both per chat and overall.
 *
 * Threads (serve.h): the store is used under serve's lock, except that
 * - accounts and chats never move once added, and a chat's id, org, part,
 *   owner and idx never change: a thread that found a chat
 *   (store_chat_find, store_chat) may read those, and store_chat_ended,
 *   without the lock;
 * - a chat's messages are written by its owner alone (store_msg_add),
 *   holding store_hist_lock but not serve's lock, and read by any thread
 *   (store_msg_at) holding store_hist_lock; store_chat_end takes both.
 */
#ifndef ESMELOAD_SERVE_STORE_H
#define ESMELOAD_SERVE_STORE_H

#include <stddef.h>
#include <stdint.h>

#define STORE_MAX_EVENTS 64
#define STORE_DESC_MAX 2000   /* bytes, as the participant API counts them */

/* has_loc bits: ESME keeps lat and lng as separate optional fields. */
enum { LOC_LAT = 1, LOC_LNG = 2 };

struct organizer {
	char *email, *password, *first, *last, *phone;
	uint8_t role;
	uint32_t agency;
	int64_t created_ns, signout_ns;
	uint64_t conn_threads; /* bit t: thread t holds WebSocket connections
			      * of this user (serve.h) */
	uint32_t chat_head;  /* chats, newest first */
};

struct participant {
	char *email, *phone;
	uint8_t salt[8];
	uint8_t pwhash[32];
	int64_t created_ns, signout_ns;
	uint64_t conn_threads;
	uint32_t chat_head;
	uint64_t locks;      /* bit e: a request for event index e is held */
};

struct request {
	uint32_t part;       /* participant index */
	uint32_t event;      /* event index */
	char *desc;          /* NULL when empty; owned by the queue */
	uint8_t has_loc;     /* LOC_* */
	double lat, lng;
};

struct chat {
	char id[25];
	uint8_t ended, has_loc; /* has_loc: LOC_* */
	uint16_t owner;      /* the log (serve thread) its messages go to */
	uint32_t idx;        /* its index */
	uint32_t agency, event_id;
	uint32_t org, part;  /* indexes */
	uint32_t event;      /* event index */
	double lat, lng;
	int64_t start_ns, end_ns;
	uint32_t next_of_org, next_of_part;
	uint64_t *hist;      /* log offsets, a ring of hist_cap */
	uint32_t hist_head, hist_n;
};

struct msgrec {
	uint64_t seq;
	int64_t ts_ns;
	uint32_t chat;
	uint32_t author;     /* user id */
	uint32_t len;
	uint8_t from_org, has_loc; /* has_loc: LOC_* */
	double lat, lng;
	char content[];
};

struct event {
	uint32_t id, agency;
};

struct store;

/* nlogs: one message log per owner, of log_bytes / nlogs bytes each
 * (at least 16 KiB). A message over a quarter of its log is refused. */
struct store *store_new(unsigned history, size_t log_bytes, unsigned nlogs,
			uint32_t instance, const uint8_t salt_seed[16]);
void store_free(struct store *st);

/* Accounts are created signed out at their creation time, as ESME's APIs
 * create them (timeSignOut = timeCreated). -EEXIST when the email is taken. */
int store_add_organizer(struct store *st, const char *email,
			const char *password, unsigned role, uint32_t agency);
int store_add_event(struct store *st, uint32_t id, uint32_t agency);

uint32_t store_norgs(const struct store *st);
uint32_t store_nparts(const struct store *st);
struct organizer *store_org(struct store *st, uint32_t idx);
struct participant *store_part(struct store *st, uint32_t idx);
/* Index or NIL. */
uint32_t store_org_find(struct store *st, const char *email, size_t n);
uint32_t store_part_find(struct store *st, const char *email, size_t n);
int store_part_password_ok(const struct participant *p, const char *pw,
			   size_t n);
/* 0 and *idx, -EEXIST (email taken) or -ENOMEM. */
int store_part_add(struct store *st, const char *email, size_t en,
		   const char *pw, size_t pn, const char *phone, size_t phn,
		   int64_t now_ns, uint32_t *idx);

/* Event index of id, or -1. */
int store_event_find(const struct store *st, uint32_t id);
const struct event *store_event(const struct store *st, int idx);

/* -EBUSY when the lock is held, -ENOMEM. */
int store_request_add(struct store *st, uint32_t part, int event,
		      const char *desc, size_t dn, int has_loc, double lat,
		      double lng);
void store_request_release(struct store *st, uint32_t part, int event);
/* Pop the oldest request of an agency: 1 and *r (caller frees r->desc), 0
 * when the queue is empty. */
int store_request_pop(struct store *st, uint32_t agency, struct request *r);
/* Queue lengths, for /stats: calls fn for each agency. */
void store_queues(const struct store *st,
		  void (*fn)(void *ctx, uint32_t agency, size_t len),
		  void *ctx);

/* A new chat for organizer org from request r, its messages kept in log
 * owner; NULL on -ENOMEM. */
struct chat *store_chat_new(struct store *st, uint32_t org,
			    const struct request *r, int64_t now_ns,
			    unsigned owner);
struct chat *store_chat_find(struct store *st, const char *id, size_t n);
struct chat *store_chat(struct store *st, uint32_t idx);
uint32_t store_chat_idx(const struct store *st, const struct chat *c);
uint64_t store_chats_active(const struct store *st);
uint64_t store_chats_total(const struct store *st);
/* Under serve's lock and store_hist_lock. */
void store_chat_end(struct store *st, struct chat *c, int64_t now_ns);
int store_chat_ended(const struct chat *c);
/* The lock of the log c's messages are in (no lock with one log). */
void store_hist_lock(struct store *st, const struct chat *c);
void store_hist_unlock(struct store *st, const struct chat *c);

/* Append a message to the owner's log and the chat's history; returns the
 * record (valid until the next store_msg_add of that owner) or NULL when
 * n is over the log's limit or the chat has ended. */
const struct msgrec *store_msg_add(struct store *st, struct chat *c,
				   uint32_t author, int from_org,
				   const char *content, size_t n, int has_loc,
				   double lat, double lng, int64_t now_ns);
/* The i-th message (oldest first) of a chat's history, NULL if evicted. */
const struct msgrec *store_msg_at(struct store *st, const struct chat *c,
				  uint32_t i);
/* 24 hex characters + NUL. */
void store_msg_id(const struct store *st, const struct msgrec *m, char out[25]);

#endif
