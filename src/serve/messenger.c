/*
 * messenger: serve's WebSocket protocol (docs/protocol.md §4), answered the
 * way ESME's Go messenger answers: the same error texts for the same
 * requests, the same recipients. Where serve differs on purpose (bounded
 * queues, size limits, order kept) docs/protocol.md says so. It hears
 * whole messages from the WebSocket session (ws_session.c), which frames
 * what it sends. See serve.h.
 */
#include "serve.h"
#include "store.h"
#include "json.h"
#include "jsonw.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TOKENS 128

/* Start an envelope {"type":type,"payload": in the frame scratch buffer;
 * the payload is written by the caller, then frame_finish. */
static void env_begin(struct serve *s, struct jw *w, const char *type)
{
	jw_init(w, (char *)s->scratch + WSES_ROOM,
		s->scratch_cap - WSES_ROOM);
	jw_obj_begin(w);
	jw_kv_cstr(w, "type", type);
	jw_key(w, "payload");
}

/* Close the envelope and turn it into a frame: returns its length and the
 * frame start in *frame, or 0 when it did not fit. */
static size_t env_frame(struct serve *s, struct jw *w, uint8_t **frame)
{
	long n;
	size_t len;

	jw_obj_end(w);
	n = jw_finish(w);
	if (n < 0)
		return 0;
	*frame = wses_text_frame(s->scratch + WSES_ROOM, (size_t)n, &len);
	return len;
}

static int send_frame(struct serve *s, struct conn *c, const uint8_t *f,
		      size_t n)
{
	return conn_write(s, c, f, n, 1);
}

/* Send one frame to every connection of a user. Returns how many took it. */
static unsigned fan_out(struct serve *s, uint32_t head, const uint8_t *f,
			size_t n, int is_msg)
{
	unsigned ok = 0;

	for (uint32_t i = head; i != NIL;) {
		struct conn *c = &s->conns[i];

		i = c->unext; /* c may be closed (and unlinked) by the write */
		if (send_frame(s, c, f, n) == 0)
			ok++;
		else if (is_msg)
			s->stats.msg_dropped++;
	}
	if (is_msg)
		s->stats.msg_sent += ok;
	return ok;
}

/* This thread's first connection of a user, or NIL. */
static uint32_t head_of(const struct serve *s, enum role role, uint32_t u)
{
	unsigned r = role == ROLE_PART;

	return u < s->ucap[r] ? s->uhead[r][u] : NIL;
}

/* The slot of that head, the list grown to hold u; NULL without memory. */
static uint32_t *head_slot(struct serve *s, enum role role, uint32_t u)
{
	unsigned r = role == ROLE_PART;

	if (u >= s->ucap[r]) {
		uint32_t cap = s->ucap[r] ? s->ucap[r] : 1024;
		uint32_t *h;

		while (cap <= u)
			cap *= 2;
		h = realloc(s->uhead[r], (size_t)cap * sizeof(*h));
		if (!h)
			return NULL;
		for (uint32_t i = s->ucap[r]; i < cap; i++)
			h[i] = NIL;
		s->uhead[r] = h;
		s->ucap[r] = cap;
	}
	return &s->uhead[r][u];
}

/* The store's mask of threads holding connections of a user: set and
 * cleared by each thread for itself, read by the thread that owns a
 * chat of the user, all without the lock (serve.h). */
static uint64_t *threads_of(struct serve *s, enum role role, uint32_t u)
{
	return role == ROLE_ORG ? &store_org(s->st, u)->conn_threads :
				  &store_part(s->st, u)->conn_threads;
}

static uint64_t mask_of(struct serve *s, enum role role, uint32_t u)
{
	return __atomic_load_n(threads_of(s, role, u), __ATOMIC_ACQUIRE);
}

/*
 * What a thread hands the owner of a chat: a message to store and send
 * (XQ_POST: this header, then the text), or the chat to end (XQ_CLOSE).
 * An error for the sender comes back to its connection (XQ_CONN), which
 * the generation names safely: the slot may have been reused since.
 */
struct fwd_post {
	uint32_t chat, author;  /* chat index, user id */
	uint32_t conn, gen;     /* the sender's connection */
	uint32_t from;          /* the sender's thread */
	uint8_t from_org, has_loc;
	double lat, lng;
};

static void post_forwarded(struct serve *s, const struct fwd_post *fp,
			   size_t tn);
static void close_owned(struct serve *s, struct chat *ch);

/* Take one entry another thread queued for this one (xq.h). */
static void take_entry(struct serve *s, const struct xq_ent *h,
		       const uint8_t *f)
{
	int msg = h->flags & XQ_MSG;
	unsigned k = 0;

	if (h->flags & XQ_POST) {
		post_forwarded(s, (const struct fwd_post *)f,
			       h->len - sizeof(struct fwd_post));
		return;
	}
	if (h->flags & XQ_CLOSE) {
		struct chat *ch = store_chat(s->st, h->org);

		serve_lock(s);
		if (ch && !store_chat_ended(ch))
			close_owned(s, ch);
		serve_unlock(s);
		return;
	}
	if (h->flags & XQ_CONN) {
		struct conn *c = &s->conns[h->org];

		if (c->gen == h->part)
			send_frame(s, c, f, h->len);
		return;
	}

	if (h->org != NIL) {
		k = fan_out(s, head_of(s, ROLE_ORG, h->org), f, h->len, msg);
		if (msg)
			s->stats.msg_sent_org += k;
	}
	if (h->part != NIL)
		k += fan_out(s, head_of(s, ROLE_PART, h->part), f, h->len, msg);
	if (msg)
		s->stats.msg_sent_cross += k;
}

/* see serve.h */
void msgr_take_queued(struct serve *s)
{
	unsigned n = s->sh->nthreads;

	for (unsigned t = 0; t < n; t++) {
		struct xq *q = &s->sh->xq[t * n + s->tid];
		const struct xq_ent *h;
		const uint8_t *f;

		if (t == s->tid)
			continue;
		xq_unbell(q);
		while ((h = xq_peek(q, &f))) {
			take_entry(s, h, f);
			xq_pop(q);
		}
	}
}

/* Queue an entry for thread t and ring it if its queue was idle; -ENOBUFS
 * when the queue is full (counted). */
static int hand_to(struct serve *s, unsigned t, const struct xq_ent *h,
		   const void *p)
{
	struct xq *q = &s->sh->xq[s->tid * s->sh->nthreads + t];

	if (xq_push(q, h, p) < 0) {
		s->stats.cross_full++;
		return -ENOBUFS;
	}
	s->stats.cross_queued++;
	if (xq_bell(q))
		eng_msg_post(&s->eng, eng_msg_fd(&s->sh->thr[t].eng), s->tid);
	return 0;
}

/* see serve.h */
void msgr_exit(struct serve *s)
{
	for (int r = 0; r < 2; r++) {
		free(s->uhead[r]);
		s->uhead[r] = NULL;
		s->ucap[r] = 0;
	}
}

/*
 * A frame of a chat for both its sides: organizer org's connections and
 * participant part's, wherever they are. Only the chat's owner calls it,
 * so each connection gets a chat's frames in the owner's order: at once
 * for its own connections, through the queue to each other thread that
 * holds some (serve.h).
 */
static void deliver(struct serve *s, uint32_t org, uint32_t part,
		    const uint8_t *f, size_t n, int is_msg)
{
	uint64_t mo = mask_of(s, ROLE_ORG, org);
	uint64_t mp = mask_of(s, ROLE_PART, part);
	uint64_t me = 1ULL << s->tid, other = (mo | mp) & ~me;

	for (unsigned t = 0; other; t++, other >>= 1) {
		struct xq_ent h = {
			.len = (uint32_t)n,
			.org = (mo >> t) & 1 ? org : NIL,
			.part = (mp >> t) & 1 ? part : NIL,
			.flags = is_msg ? XQ_MSG : 0,
		};

		if ((other & 1) && hand_to(s, t, &h, f) < 0 && is_msg)
			s->stats.msg_dropped += (h.org != NIL) +
						(h.part != NIL);
	}
	if (mo & me) {
		unsigned k = fan_out(s, head_of(s, ROLE_ORG, org), f, n,
				     is_msg);

		if (is_msg)
			s->stats.msg_sent_org += k;
	}
	if (mp & me)
		fan_out(s, head_of(s, ROLE_PART, part), f, n, is_msg);
}

/* see serve.h */
void msgr_send_json(struct serve *s, struct conn *c, const char *json,
		    size_t n)
{
	uint8_t *p = s->scratch + WSES_ROOM, *f;
	size_t len;

	if (n > s->scratch_cap - WSES_ROOM)
		return;
	memcpy(p, json, n);
	f = wses_text_frame(p, n, &len);
	send_frame(s, c, f, len);
}

static void send_simple(struct serve *s, struct conn *c, const char *type,
			const char *msg)
{
	struct jw w;
	uint8_t *f;
	size_t n;

	env_begin(s, &w, type);
	jw_obj_begin(&w);
	jw_kv_cstr(&w, "message", msg);
	jw_obj_end(&w);
	n = env_frame(s, &w, &f);
	if (n)
		send_frame(s, c, f, n);
}

static void send_error(struct serve *s, struct conn *c, enum serve_err kind,
		       const char *msg)
{
	s->stats.err[kind]++;
	send_simple(s, c, "error", msg);
}

static void send_error_n(struct serve *s, struct conn *c,
			 enum serve_err kind, const char *msg, size_t n)
{
	struct jw w;
	uint8_t *f;
	size_t fn;

	s->stats.err[kind]++;
	env_begin(s, &w, "error");
	jw_obj_begin(&w);
	jw_key(&w, "message");
	jw_str(&w, msg, n);
	jw_obj_end(&w);
	fn = env_frame(s, &w, &f);
	if (fn)
		send_frame(s, c, f, fn);
}

/*
 * A failed authorization: the messenger closes the socket without a close
 * frame (gorilla's Conn.Close). What is queued (the 101 response, when
 * the client sent its frame with the upgrade) still goes out first.
 */
static void auth_denied(struct serve *s, struct conn *c)
{
	s->stats.err[E_AUTH]++;
	conn_linger(s, c);
}

/* Link c into its user's list on this thread; -ENOMEM without room. */
static int attach(struct serve *s, struct conn *c, enum role role,
		  uint32_t u)
{
	uint32_t *head = head_slot(s, role, u);
	uint32_t idx = conn_idx(s, c);

	if (!head)
		return -ENOMEM;
	c->role = (uint8_t)role;
	c->user = u;
	c->uprev = NIL;
	c->unext = *head;
	if (*head != NIL)
		s->conns[*head].uprev = idx;
	*head = idx;
	__atomic_fetch_or(threads_of(s, role, u), 1ULL << s->tid,
			  __ATOMIC_RELEASE);
	return 0;
}

/* see serve.h */
void msgr_detach(struct serve *s, struct conn *c)
{
	uint32_t *head;

	if (c->role == ROLE_NONE || c->user == NIL)
		return;
	head = &s->uhead[c->role == ROLE_PART][c->user];
	if (c->uprev != NIL)
		s->conns[c->uprev].unext = c->unext;
	else
		*head = c->unext;
	if (c->unext != NIL)
		s->conns[c->unext].uprev = c->uprev;
	c->unext = c->uprev = NIL;
	if (*head == NIL)
		__atomic_fetch_and(threads_of(s, (enum role)c->role, c->user),
				   ~(1ULL << s->tid), __ATOMIC_RELEASE);
	/* role stays: the closing path counts the connection by it */
}

/* see serve.h */
void msgr_timeout(struct serve *s, struct conn *c)
{
	send_error(s, c, E_IDLE_TIMEOUT, "timeout");
	conn_linger(s, c);
}

static void authorize(struct serve *s, struct conn *c, const char *p,
		      size_t n)
{
	jsmntok_t toks[16];
	struct json_doc d;
	char tok[1024];
	size_t tn;
	enum role role;
	uint32_t u;
	int t;

	if (json_parse(&d, p, n, toks, 16) < 0 ||
	    json_type(&d, 0) != JSMN_OBJECT ||
	    (t = json_find(&d, 0, "Authorization")) < 0 ||
	    json_get_str(&d, t, tok, sizeof(tok), &tn) < 0 || tn < 8 ||
	    strncmp(tok, "Bearer ", 7) != 0)
		goto denied;
	serve_lock(s);
	if (auth_token(s, tok + 7, tn - 7, &role, &u) < 0 ||
	    (role == ROLE_ORG && (store_org(s->st, u)->role < 2 ||
				  store_org(s->st, u)->role > 4))) {
		serve_unlock(s);
		goto denied;
	}
	if (attach(s, c, role, u) < 0) {
		serve_unlock(s);
		s->stats.err[E_NO_MEMORY]++;
		conn_linger(s, c);
		return;
	}
	serve_unlock(s);
	conn_set_state(s, c, CS_WS);
	conn_deadline(s, c, s->o.idle_timeout_ms);
	return;
denied:
	auth_denied(s, c);
}

static int member(const struct conn *c, const struct chat *ch)
{
	return c->role == ROLE_ORG ? ch->org == c->user : ch->part == c->user;
}

#define NO_ACCESS "you have no access to chat "
#define NO_ACCESS_LEN (sizeof(NO_ACCESS) - 1)

/*
 * The open chat a payload {"chatId": ...} names, if c belongs to it.
 * As the messenger decodes it: a payload that is not an object (or null)
 * is "invalid message payload", and so is a chatId that is not a string;
 * a missing chatId is the empty id. A chat that is unknown, ended or not
 * the sender's is "you have no access to chat <id>", the id as sent. The
 * error is sent here and NULL returned. Uses scratch2 for the id.
 */
static struct chat *chat_of(struct serve *s, struct conn *c,
			    const struct json_doc *d, int pl)
{
	char *msg = (char *)s->scratch2, *id = msg + NO_ACCESS_LEN;
	size_t idn = 0;
	struct chat *ch;
	int t;

	if (pl < 0 ||
	    (!json_is_null(d, pl) && json_type(d, pl) != JSMN_OBJECT)) {
		send_error(s, c, E_BAD_PAYLOAD, "invalid message payload");
		return NULL;
	}
	t = json_type(d, pl) == JSMN_OBJECT ? json_find(d, pl, "chatId") : -1;
	if (t >= 0 && !json_is_null(d, t) &&
	    (json_type(d, t) != JSMN_STRING ||
	     json_get_str(d, t, id, s->scratch_cap - NO_ACCESS_LEN, &idn) < 0)) {
		send_error(s, c, E_BAD_PAYLOAD, "invalid message payload");
		return NULL;
	}
	ch = store_chat_find(s->st, id, idn);
	if (!ch || store_chat_ended(ch) || !member(c, ch)) {
		memcpy(msg, NO_ACCESS, NO_ACCESS_LEN);
		send_error_n(s, c, E_NO_ACCESS, msg, NO_ACCESS_LEN + idn);
		return NULL;
	}
	return ch;
}

static void get_chats(struct serve *s, struct conn *c)
{
	struct jw w;
	uint8_t *f;
	size_t n;
	uint32_t i = c->role == ROLE_ORG ? store_org(s->st, c->user)->chat_head :
					   store_part(s->st, c->user)->chat_head;

	env_begin(s, &w, "chats");
	jw_obj_begin(&w);
	jw_key(&w, "chats");
	jw_arr_begin(&w);
	while (i != NIL) {
		struct chat *ch = store_chat(s->st, i);

		if (!ch->ended)   /* an organizer's list names participants */
			render_chat(s, &w, ch, c->role == ROLE_ORG);
		i = c->role == ROLE_ORG ? ch->next_of_org : ch->next_of_part;
	}
	jw_arr_end(&w);
	jw_obj_end(&w);
	n = env_frame(s, &w, &f);
	if (n)
		send_frame(s, c, f, n);
	else
		send_error(s, c, E_NO_MEMORY, "could not get chats");
}

static void get_history(struct serve *s, struct conn *c,
			const struct json_doc *d, int pl)
{
	struct chat *ch = chat_of(s, c, d, pl);
	struct jw w;
	uint8_t *f;
	size_t n;

	if (!ch)
		return;
	env_begin(s, &w, "chat_history");
	jw_obj_begin(&w);
	jw_key(&w, "chatId");
	jw_str(&w, ch->id, 24);
	jw_key(&w, "messages");
	jw_arr_begin(&w);
	store_hist_lock(s->st, ch);
	for (uint32_t k = 0; k < ch->hist_n; k++) {
		const struct msgrec *m = store_msg_at(s->st, ch, k);

		if (m)
			render_msg(s, &w, m);
	}
	store_hist_unlock(s->st, ch);
	jw_arr_end(&w);
	jw_obj_end(&w);
	n = env_frame(s, &w, &f);
	if (n)
		send_frame(s, c, f, n);
	else
		send_error(s, c, E_NO_MEMORY, "could not get messages");
}

/* Store a message and push user_message to both sides of the chat: on
 * the chat's owner. Its lock keeps readers of the history out while the
 * record is written; the owner reads its own records without it. */
static int post(struct serve *s, struct chat *ch, uint32_t author_id,
		int from_org, const char *text, size_t tn, int has_loc,
		double lat, double lng)
{
	const struct msgrec *m;
	struct jw w;
	uint8_t *f;
	size_t n;

	if (tn > s->o.max_message)
		return -EINVAL;
	store_hist_lock(s->st, ch);
	m = store_msg_add(s->st, ch, author_id, from_org, text, tn, has_loc,
			  lat, lng, clock_real_ns());
	store_hist_unlock(s->st, ch);
	if (!m)
		return -EINVAL;
	s->stats.msg_stored++;
	env_begin(s, &w, "user_message");
	render_msg(s, &w, m);
	n = env_frame(s, &w, &f);
	if (!n)
		return -EINVAL;
	if (s->o.delay_ns &&
	    delayq_push(&s->dq, clock_mono_ns() + s->o.delay_ns,
			store_chat_idx(s->st, ch), f, n) == 0)
		return 0;
	deliver(s, ch->org, ch->part, f, n, 1);
	return 0;
}

/* see serve.h */
int64_t msgr_flush_delayed(struct serve *s, int64_t now_ns)
{
	const struct delay_rec *r;
	int64_t due;

	while ((r = delayq_peek(&s->dq)) && r->due_ns <= now_ns) {
		struct chat *ch = store_chat(s->st, r->chat);

		deliver(s, ch->org, ch->part, r->frame, r->len, 1);
		delayq_pop(&s->dq);
	}
	due = r ? r->due_ns : 0;
	return due;
}

/*
 * send_message. The payload's types are checked first (the messenger
 * decodes it whole), then access; a missing "message" is the empty text.
 * An organizer's lat/lng are decoded but not stored: the messenger drops
 * them.
 */
static void send_message(struct serve *s, struct conn *c,
			 const struct json_doc *d, int pl)
{
	/* 16-aligned: a forwarded message's header goes just before it */
	size_t tn = 0, half = (s->scratch_cap / 2) & ~(size_t)15;
	struct chat *ch;
	double lat = 0, lng = 0;
	int t = -1, tl = -1, tg = -1, loc = 0, bad;
	/* The message text is unescaped into the upper half of the frame
	 * buffer: chat_of uses scratch2, and the frame is built from the
	 * store's copy in the lower half. */
	char *text = (char *)s->scratch + half;

	s->stats.msg_received++;
	if (pl >= 0 && json_type(d, pl) == JSMN_OBJECT) {
		t = json_find(d, pl, "message");
		tl = json_find(d, pl, "lat");
		tg = json_find(d, pl, "lng");
		if (t >= 0 && json_is_null(d, t))
			t = -1;
		if (tl >= 0 && json_is_null(d, tl))
			tl = -1;
		if (tg >= 0 && json_is_null(d, tg))
			tg = -1;
		if ((t >= 0 && json_type(d, t) != JSMN_STRING) ||
		    (tl >= 0 && (json_type(d, tl) != JSMN_PRIMITIVE ||
				 json_get_f64(d, tl, &lat) < 0)) ||
		    (tg >= 0 && (json_type(d, tg) != JSMN_PRIMITIVE ||
				 json_get_f64(d, tg, &lng) < 0)))
			return send_error(s, c, E_BAD_PAYLOAD,
					  "invalid message payload");
		if (c->role == ROLE_PART)
			loc = (tl >= 0 ? LOC_LAT : 0) | (tg >= 0 ? LOC_LNG : 0);
	}
	text[0] = 0;
	bad = t >= 0 && json_get_str(d, t, text, half - sizeof(struct fwd_post),
				     &tn) < 0;
	ch = chat_of(s, c, d, pl);
	if (!ch)
		return;
	if (bad || tn > s->o.max_message)
		return send_error(s, c, E_NOT_SAVED,
				  "message could not be saved");
	if (ch->owner != s->tid) {
		/* the header goes just in front of the text */
		struct fwd_post *fp = (struct fwd_post *)(text - sizeof(*fp));
		struct xq_ent h = {
			.len = (uint32_t)(sizeof(*fp) + tn),
			.org = NIL, .part = NIL, .flags = XQ_POST,
		};

		*fp = (struct fwd_post){
			.chat = ch->idx, .author = c->user + 1,
			.conn = conn_idx(s, c), .gen = c->gen, .from = s->tid,
			.from_org = c->role == ROLE_ORG, .has_loc = (uint8_t)loc,
			.lat = lat, .lng = lng,
		};
		if (hand_to(s, ch->owner, &h, fp) == 0)
			s->stats.msg_forwarded++;
		else
			send_error(s, c, E_NOT_SAVED,
				   "message could not be saved");
		return;
	}
	if (post(s, ch, c->user + 1, c->role == ROLE_ORG, text, tn, loc, lat,
		 lng) < 0)
		send_error(s, c, E_NOT_SAVED, "message could not be saved");
}

/* A message another thread handed this one, the chat's owner. An error
 * goes back to the sender's connection on its thread. */
static void post_forwarded(struct serve *s, const struct fwd_post *fp,
			   size_t tn)
{
	struct chat *ch = store_chat(s->st, fp->chat);
	struct jw w;
	uint8_t *f;
	size_t n;

	int ended = ch && store_chat_ended(ch);

	if (ch && !ended && post(s, ch, fp->author, fp->from_org,
				 (const char *)(fp + 1), tn, fp->has_loc,
				 fp->lat, fp->lng) == 0)
		return;
	/* A chat that ended after the sender's thread looked: the refusal
	 * it would have made had it looked now. */
	s->stats.err[ended ? E_NO_ACCESS : E_NOT_SAVED]++;
	env_begin(s, &w, "error");
	jw_obj_begin(&w);
	if (ended) {
		char msg[NO_ACCESS_LEN + 24];

		memcpy(msg, NO_ACCESS, NO_ACCESS_LEN);
		memcpy(msg + NO_ACCESS_LEN, ch->id, 24);
		jw_key(&w, "message");
		jw_str(&w, msg, sizeof(msg));
	} else {
		jw_kv_cstr(&w, "message", "message could not be saved");
	}
	jw_obj_end(&w);
	n = env_frame(s, &w, &f);
	if (n) {
		struct xq_ent h = {
			.len = (uint32_t)n, .org = fp->conn, .part = fp->gen,
			.flags = XQ_CONN,
		};

		hand_to(s, fp->from, &h, f);
	}
}

static void start_chat(struct serve *s, struct conn *c)
{
	struct request r;
	struct chat *ch;
	struct jw w;
	uint8_t *f;
	size_t n;

	if (!store_request_pop(s->st, store_org(s->st, c->user)->agency, &r)) {
		send_simple(s, c, "info", "no new chats");
		return;
	}
	/* this thread owns the chat: it sends new_chat, then its messages */
	ch = store_chat_new(s->st, c->user, &r, clock_real_ns(), s->tid);
	if (!ch) {
		store_request_release(s->st, r.part, (int)r.event);
		send_error(s, c, E_NO_MEMORY, "chat could not be created");
		goto out;
	}
	env_begin(s, &w, "new_chat");
	render_chat(s, &w, ch, 1);
	n = env_frame(s, &w, &f);
	if (n)
		deliver(s, ch->org, ch->part, f, n, 0);
	if (r.desc) {
		char *text = (char *)s->scratch2;
		int tn = snprintf(text, s->scratch_cap,
				  "Problem description: %s", r.desc);

		post(s, ch, ch->part + 1, 0, text, (size_t)tn, 0, 0, 0);
	}
out:
	free(r.desc);
}

/* End a chat this thread owns and tell both sides; under the lock. */
static void close_owned(struct serve *s, struct chat *ch)
{
	struct jw w;
	uint8_t *f;
	size_t n;

	store_hist_lock(s->st, ch);
	store_chat_end(s->st, ch, clock_real_ns());
	store_hist_unlock(s->st, ch);
	env_begin(s, &w, "closed_chat");
	jw_obj_begin(&w);
	jw_key(&w, "chatId");
	jw_str(&w, ch->id, 24);
	jw_obj_end(&w);
	n = env_frame(s, &w, &f);
	if (n)
		deliver(s, ch->org, ch->part, f, n, 0);
}

/* close_chat: its owner ends it, after the messages it holds. */
static void close_chat(struct serve *s, struct conn *c,
		       const struct json_doc *d, int pl)
{
	struct chat *ch = chat_of(s, c, d, pl);
	struct xq_ent h = {
		.len = 0, .org = 0, .part = NIL, .flags = XQ_CLOSE,
	};

	if (!ch)
		return;
	if (ch->owner == s->tid)
		return close_owned(s, ch);
	h.org = ch->idx;
	if (hand_to(s, ch->owner, &h, NULL) < 0)
		send_error(s, c, E_NO_MEMORY, "chat could not be closed");
}

static int type_is(const struct json_doc *d, int t, const char *name)
{
	return json_str_eq(d, t, name);
}

/*
 * One envelope. As the messenger decodes it: anything but an object (or
 * null) is "malformed message", and so is a "type" that is not a string;
 * a missing type is the empty type, which no consumer knows.
 */
static void dispatch(struct serve *s, struct conn *c, const char *p,
		     size_t n)
{
	jsmntok_t toks[MAX_TOKENS];
	struct json_doc d;
	int t = -1, pl = -1;

	if (json_parse(&d, p, n, toks, MAX_TOKENS) < 0 ||
	    (json_type(&d, 0) != JSMN_OBJECT && !json_is_null(&d, 0)))
		return send_error(s, c, E_MALFORMED, "malformed message");
	if (json_type(&d, 0) == JSMN_OBJECT) {
		t = json_find(&d, 0, "type");
		if (t >= 0 && json_is_null(&d, t))
			t = -1;
		if (t >= 0 && json_type(&d, t) != JSMN_STRING)
			return send_error(s, c, E_MALFORMED, "malformed message");
		pl = json_find(&d, 0, "payload");
	}
	if (t < 0)
		return send_error(s, c, E_BAD_TYPE, "invalid message type");
	/* send_message takes no lock: its chat's owner stores it. */
	if (type_is(&d, t, "send_message"))
		return send_message(s, c, &d, pl);
	/* Parsed: the store's part under its lock. */
	serve_lock(s);
	if (type_is(&d, t, "get_chats"))
		get_chats(s, c);
	else if (type_is(&d, t, "get_chat_history"))
		get_history(s, c, &d, pl);
	else if (c->role == ROLE_ORG && type_is(&d, t, "start_chat"))
		start_chat(s, c);
	else if (c->role == ROLE_ORG && type_is(&d, t, "close_chat"))
		close_chat(s, c, &d, pl);
	else
		send_error(s, c, E_BAD_TYPE, "invalid message type");
	serve_unlock(s);
}

/*
 * see serve.h. gorilla hands the messenger text and binary messages
 * alike; serve does too, but fails a text message that is not UTF-8 (RFC
 * 6455 §8.1; gorilla does not check) and answers a binary one that is not
 * UTF-8 as malformed, since its text could not be sent on. Before the
 * authorization, a message that is not UTF-8 is a failed authorization.
 */
void msgr_message(struct serve *s, struct conn *c, const uint8_t *p,
		  size_t n, int text, int utf8)
{
	if (c->state == CS_WS_AUTH) {
		if (!utf8)
			auth_denied(s, c);
		else
			authorize(s, c, (const char *)p, n);
	} else if (!utf8) {
		if (text)
			wses_fail_utf8(s, c);
		else
			send_error(s, c, E_MALFORMED, "malformed message");
	} else {
		dispatch(s, c, (const char *)p, n);
	}
}
