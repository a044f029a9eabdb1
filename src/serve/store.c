/*
 * store: serve's in-memory data. See store.h.
 */
#include "store.h"
#include "serve.h"

#include <bearssl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ORG(st, i) ((struct organizer *)stab_at(&(st)->orgs, sizeof(struct organizer), (i)))
#define PART(st, i) ((struct participant *)stab_at(&(st)->parts, sizeof(struct participant), (i)))
#define CHAT(st, i) ((struct chat *)stab_at(&(st)->chats, sizeof(struct chat), (i)))

#define ARENA_CHUNK (1u << 20)

/*
 * A table whose entries never move: a fixed directory of chunks, each
 * allocated when the first entry in it is added. A thread that learned an
 * index may use the entry's unchanging fields without the store's lock
 * while other threads add entries (serve.h).
 */
#define STAB_SHIFT 12
#define STAB_CHUNK (1u << STAB_SHIFT)
#define STAB_DIR 4096           /* 16,777,216 entries */

struct stab {
	char *dir[STAB_DIR];
	uint32_t n;             /* published with release (stab_publish) */
};

static inline void *stab_at(const struct stab *t, size_t esize, uint32_t i)
{
	return t->dir[i >> STAB_SHIFT] + (size_t)(i & (STAB_CHUNK - 1)) * esize;
}

/* The zeroed slot for entry t->n, not yet counted; NULL without room. */
static void *stab_next(struct stab *t, size_t esize)
{
	uint32_t i = t->n, d = i >> STAB_SHIFT;
	void *e;

	if (d >= STAB_DIR)
		return NULL;
	if (!t->dir[d] && !(t->dir[d] = malloc(STAB_CHUNK * esize)))
		return NULL;
	e = stab_at(t, esize, i);
	memset(e, 0, esize);
	return e;
}

/* Count the slot stab_next gave: readers without the lock see it whole. */
static void stab_publish(struct stab *t)
{
	__atomic_store_n(&t->n, t->n + 1, __ATOMIC_RELEASE);
}

static void stab_free(struct stab *t)
{
	for (unsigned d = 0; d < STAB_DIR && t->dir[d]; d++)
		free(t->dir[d]);
}

/* One thread's message log: a circular arena of records. */
struct msglog {
	pthread_mutex_t lock;   /* with several logs (store_hist_lock) */
	uint8_t *buf;
	size_t cap;
	uint64_t head;          /* logical bytes written */
	uint64_t seq;           /* records written */
};

struct arena_chunk {
	struct arena_chunk *next;
	size_t used;
	char data[];
};

struct queue {
	uint32_t agency;
	struct request *r;
	size_t cap, head, len;
};

struct store {
	struct stab orgs, parts, chats;
	uint32_t *email_tab;     /* open addressing: participant idx or NIL */
	uint32_t email_cap;      /* power of two */
	struct event events[STORE_MAX_EVENTS];
	int nevents;
	struct queue *queues;
	uint32_t nqueues;
	uint64_t active;
	unsigned hist_cap;
	struct msglog *logs;     /* one per owner (store_chat_new) */
	unsigned nlogs;
	uint32_t instance;
	uint8_t salt_seed[16];
	struct arena_chunk *arena;
};

static char *arena_dup(struct store *st, const char *s, size_t n)
{
	struct arena_chunk *a = st->arena;

	if (n + 1 > ARENA_CHUNK / 4) {
		/* Large strings get their own chunk, linked behind. */
		struct arena_chunk *big = malloc(sizeof(*big) + n + 1);

		if (!big)
			return NULL;
		/* Full: small strings never go into a chunk of this size. */
		big->used = ARENA_CHUNK;
		if (a) {
			big->next = a->next;
			a->next = big;
		} else {
			big->next = NULL;
			st->arena = big;
		}
		memcpy(big->data, s, n);
		big->data[n] = 0;
		return big->data;
	}
	if (!a || a->used + n + 1 > ARENA_CHUNK) {
		a = malloc(sizeof(*a) + ARENA_CHUNK);
		if (!a)
			return NULL;
		a->next = st->arena;
		a->used = 0;
		st->arena = a;
	}
	char *d = a->data + a->used;

	memcpy(d, s, n);
	d[n] = 0;
	a->used += n + 1;
	return d;
}

/* see store.h */
struct store *store_new(unsigned history, size_t log_bytes, unsigned nlogs,
			uint32_t instance, const uint8_t salt_seed[16])
{
	struct store *st = calloc(1, sizeof(*st));
	size_t each;

	if (!st)
		return NULL;
	st->hist_cap = history ? history : 1;
	st->nlogs = nlogs ? nlogs : 1;
	each = log_bytes / st->nlogs;
	st->logs = calloc(st->nlogs, sizeof(*st->logs));
	st->email_cap = 1024;
	st->email_tab = malloc(st->email_cap * sizeof(uint32_t));
	if (!st->logs || !st->email_tab) {
		store_free(st);
		return NULL;
	}
	for (unsigned k = 0; k < st->nlogs; k++) {
		struct msglog *l = &st->logs[k];

		l->cap = each < 16384 ? 16384 : each;
		l->buf = malloc(l->cap);
		if (!l->buf || pthread_mutex_init(&l->lock, NULL) != 0) {
			free(l->buf);
			l->buf = NULL;
			store_free(st);
			return NULL;
		}
	}
	memset(st->email_tab, 0xff, st->email_cap * sizeof(uint32_t));
	st->instance = instance;
	memcpy(st->salt_seed, salt_seed, 16);
	return st;
}

/* see store.h */
void store_free(struct store *st)
{
	if (!st)
		return;
	for (uint32_t i = 0; i < st->nqueues; i++) {
		struct queue *q = &st->queues[i];

		for (size_t k = 0; k < q->len; k++)
			free(q->r[(q->head + k) % q->cap].desc);
		free(q->r);
	}
	free(st->queues);
	for (uint32_t i = 0; i < st->chats.n; i++)
		free(CHAT(st, i)->hist);
	stab_free(&st->chats);
	stab_free(&st->orgs);
	stab_free(&st->parts);
	free(st->email_tab);
	for (unsigned k = 0; st->logs && k < st->nlogs; k++) {
		if (!st->logs[k].buf)
			break;
		free(st->logs[k].buf);
		pthread_mutex_destroy(&st->logs[k].lock);
	}
	free(st->logs);
	while (st->arena) {
		struct arena_chunk *n = st->arena->next;

		free(st->arena);
		st->arena = n;
	}
	free(st);
}

static struct queue *queue_of(struct store *st, uint32_t agency, int create)
{
	for (uint32_t i = 0; i < st->nqueues; i++)
		if (st->queues[i].agency == agency)
			return &st->queues[i];
	if (!create)
		return NULL;
	struct queue *q = realloc(st->queues,
				  (st->nqueues + 1) * sizeof(*q));
	if (!q)
		return NULL;
	st->queues = q;
	q = &st->queues[st->nqueues++];
	memset(q, 0, sizeof(*q));
	q->agency = agency;
	return q;
}

/* see store.h */
int store_add_organizer(struct store *st, const char *email,
			const char *password, unsigned role, uint32_t agency)
{
	struct organizer *o;

	if (store_org_find(st, email, strlen(email)) != NIL)
		return -EEXIST;
	if (!(o = stab_next(&st->orgs, sizeof(*o))) || !queue_of(st, agency, 1))
		return -ENOMEM;
	o->email = arena_dup(st, email, strlen(email));
	o->password = arena_dup(st, password, strlen(password));
	o->first = arena_dup(st, "Jan", 3);
	o->last = arena_dup(st, "Kowalski", 8);
	o->phone = arena_dup(st, "+48100200300", 12);
	if (!o->email || !o->password || !o->first || !o->last || !o->phone)
		return -ENOMEM;
	o->role = (uint8_t)role;
	o->agency = agency;
	o->created_ns = o->signout_ns = clock_real_ns();
	o->conn_threads = 0;
	o->chat_head = NIL;
	stab_publish(&st->orgs);
	return 0;
}

/* see store.h */
int store_add_event(struct store *st, uint32_t id, uint32_t agency)
{
	if (st->nevents >= STORE_MAX_EVENTS)
		return -ENOSPC;
	if (store_event_find(st, id) >= 0)
		return -EEXIST;
	if (!queue_of(st, agency, 1))
		return -ENOMEM;
	st->events[st->nevents].id = id;
	st->events[st->nevents].agency = agency;
	st->nevents++;
	return 0;
}

uint32_t store_norgs(const struct store *st) { return st->orgs.n; }
uint32_t store_nparts(const struct store *st) { return st->parts.n; }
struct organizer *store_org(struct store *st, uint32_t i) { return ORG(st, i); }
struct participant *store_part(struct store *st, uint32_t i) { return PART(st, i); }

/* see store.h */
uint32_t store_org_find(struct store *st, const char *email, size_t n)
{
	for (uint32_t i = 0; i < st->orgs.n; i++)
		if (strlen(ORG(st, i)->email) == n &&
		    memcmp(ORG(st, i)->email, email, n) == 0)
			return i;
	return NIL;
}

/* FNV-1a: emails are short and the table is ours alone. */
static uint32_t hash(const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 16777619u;
	return h;
}

/* see store.h */
uint32_t store_part_find(struct store *st, const char *email, size_t n)
{
	uint32_t m = st->email_cap - 1;

	for (uint32_t i = hash(email, n) & m;; i = (i + 1) & m) {
		uint32_t p = st->email_tab[i];

		if (p == NIL)
			return NIL;
		if (strlen(PART(st, p)->email) == n &&
		    memcmp(PART(st, p)->email, email, n) == 0)
			return p;
	}
}

static void pw_hash(const uint8_t salt[8], const char *pw, size_t n,
		    uint8_t out[32])
{
	br_sha256_context h;

	br_sha256_init(&h);
	br_sha256_update(&h, salt, 8);
	br_sha256_update(&h, pw, n);
	br_sha256_out(&h, out);
}

/* see store.h */
int store_part_password_ok(const struct participant *p, const char *pw,
			   size_t n)
{
	uint8_t h[32];
	unsigned diff = 0;

	pw_hash(p->salt, pw, n, h);
	for (int i = 0; i < 32; i++)
		diff |= h[i] ^ p->pwhash[i];
	return diff == 0;
}

static int email_insert(struct store *st, uint32_t idx)
{
	if ((st->parts.n + 1) * 2 > st->email_cap) {
		uint32_t ncap = st->email_cap * 2;
		uint32_t *t = malloc(ncap * sizeof(uint32_t));

		if (!t)
			return -ENOMEM;
		memset(t, 0xff, ncap * sizeof(uint32_t));
		for (uint32_t p = 0; p < st->parts.n; p++) {
			const char *e = PART(st, p)->email;
			uint32_t i = hash(e, strlen(e)) & (ncap - 1);

			while (t[i] != NIL)
				i = (i + 1) & (ncap - 1);
			t[i] = p;
		}
		free(st->email_tab);
		st->email_tab = t;
		st->email_cap = ncap;
	}
	const char *e = PART(st, idx)->email;
	uint32_t m = st->email_cap - 1, i = hash(e, strlen(e)) & m;

	while (st->email_tab[i] != NIL)
		i = (i + 1) & m;
	st->email_tab[i] = idx;
	return 0;
}

/* see store.h */
int store_part_add(struct store *st, const char *email, size_t en,
		   const char *pw, size_t pn, const char *phone, size_t phn,
		   int64_t now_ns, uint32_t *idx)
{
	struct participant *p;
	uint32_t i = st->parts.n;
	br_sha256_context h;
	uint8_t d[32];

	if (store_part_find(st, email, en) != NIL)
		return -EEXIST;
	if (!(p = stab_next(&st->parts, sizeof(*p))))
		return -ENOMEM;
	p->email = arena_dup(st, email, en);
	p->phone = arena_dup(st, phone, phn);
	if (!p->email || !p->phone)
		return -ENOMEM;
	/* Per-participant salt: a hash of the instance seed and the index. */
	br_sha256_init(&h);
	br_sha256_update(&h, st->salt_seed, 16);
	br_sha256_update(&h, &i, sizeof(i));
	br_sha256_out(&h, d);
	memcpy(p->salt, d, 8);
	pw_hash(p->salt, pw, pn, p->pwhash);
	p->created_ns = p->signout_ns = now_ns;
	p->conn_threads = 0;
	p->chat_head = NIL;
	if (email_insert(st, i) < 0)
		return -ENOMEM;
	stab_publish(&st->parts);
	*idx = i;
	return 0;
}

/* see store.h */
int store_event_find(const struct store *st, uint32_t id)
{
	for (int i = 0; i < st->nevents; i++)
		if (st->events[i].id == id)
			return i;
	return -1;
}

const struct event *store_event(const struct store *st, int idx)
{
	return &st->events[idx];
}

/* see store.h */
int store_request_add(struct store *st, uint32_t part, int event,
		      const char *desc, size_t dn, int has_loc, double lat,
		      double lng)
{
	struct participant *p = PART(st, part);
	struct queue *q = queue_of(st, st->events[event].agency, 0);
	struct request *r;

	if (p->locks & (1ULL << event))
		return -EBUSY;
	if (!q)
		return -ENOMEM;
	if (q->len == q->cap) {
		size_t ncap = q->cap ? q->cap * 2 : 64;
		struct request *nr = malloc(ncap * sizeof(*nr));

		if (!nr)
			return -ENOMEM;
		for (size_t k = 0; k < q->len; k++)
			nr[k] = q->r[(q->head + k) % q->cap];
		free(q->r);
		q->r = nr;
		q->cap = ncap;
		q->head = 0;
	}
	r = &q->r[(q->head + q->len) % q->cap];
	r->desc = NULL;
	if (dn) {
		r->desc = malloc(dn + 1);
		if (!r->desc)
			return -ENOMEM;
		memcpy(r->desc, desc, dn);
		r->desc[dn] = 0;
	}
	r->part = part;
	r->event = (uint32_t)event;
	r->has_loc = (uint8_t)has_loc;
	r->lat = lat;
	r->lng = lng;
	q->len++;
	p->locks |= 1ULL << event;
	return 0;
}

/* see store.h */
void store_request_release(struct store *st, uint32_t part, int event)
{
	PART(st, part)->locks &= ~(1ULL << event);
}

/* see store.h */
int store_request_pop(struct store *st, uint32_t agency, struct request *r)
{
	struct queue *q = queue_of(st, agency, 0);

	if (!q || !q->len)
		return 0;
	*r = q->r[q->head];
	q->head = (q->head + 1) % q->cap;
	q->len--;
	return 1;
}

/* see store.h */
void store_queues(const struct store *st,
		  void (*fn)(void *, uint32_t, size_t), void *ctx)
{
	for (uint32_t i = 0; i < st->nqueues; i++)
		fn(ctx, st->queues[i].agency, st->queues[i].len);
}

/* see store.h */
struct chat *store_chat_new(struct store *st, uint32_t org,
			    const struct request *r, int64_t now_ns,
			    unsigned owner)
{
	struct chat *c;
	uint32_t i = st->chats.n;

	if (!(c = stab_next(&st->chats, sizeof(*c))))
		return NULL;
	c->idx = i;
	c->owner = (uint16_t)(owner < st->nlogs ? owner : 0);
	snprintf(c->id, sizeof(c->id), "%08x%08x%08x",
		 (uint32_t)(now_ns / 1000000000), st->instance, i);
	c->agency = st->events[r->event].agency;
	c->event_id = st->events[r->event].id;
	c->event = r->event;
	c->org = org;
	c->part = r->part;
	c->has_loc = r->has_loc;
	c->lat = r->lat;
	c->lng = r->lng;
	c->start_ns = now_ns;
	c->next_of_org = ORG(st, org)->chat_head;
	ORG(st, org)->chat_head = i;
	c->next_of_part = PART(st, r->part)->chat_head;
	PART(st, r->part)->chat_head = i;
	stab_publish(&st->chats);
	st->active++;
	return c;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/* see store.h */
struct chat *store_chat_find(struct store *st, const char *id, size_t n)
{
	uint32_t idx = 0;

	if (n != 24)
		return NULL;
	for (int k = 16; k < 24; k++) {
		int v = hexval(id[k]);

		if (v < 0)
			return NULL;
		idx = idx << 4 | (uint32_t)v;
	}
	/* without the lock too: a chat is whole once counted */
	if (idx >= __atomic_load_n(&st->chats.n, __ATOMIC_ACQUIRE) ||
	    memcmp(CHAT(st, idx)->id, id, 24) != 0)
		return NULL;
	return CHAT(st, idx);
}

struct chat *store_chat(struct store *st, uint32_t idx)
{
	return idx < __atomic_load_n(&st->chats.n, __ATOMIC_ACQUIRE) ?
		       CHAT(st, idx) : NULL;
}

uint32_t store_chat_idx(const struct store *st, const struct chat *c)
{
	(void)st;
	return c->idx;
}

uint64_t store_chats_active(const struct store *st) { return st->active; }
uint64_t store_chats_total(const struct store *st) { return st->chats.n; }

/* see store.h */
void store_hist_lock(struct store *st, const struct chat *c)
{
	if (st->nlogs > 1)
		pthread_mutex_lock(&st->logs[c->owner].lock);
}

void store_hist_unlock(struct store *st, const struct chat *c)
{
	if (st->nlogs > 1)
		pthread_mutex_unlock(&st->logs[c->owner].lock);
}

int store_chat_ended(const struct chat *c)
{
	return __atomic_load_n(&c->ended, __ATOMIC_ACQUIRE);
}

/* see store.h */
void store_chat_end(struct store *st, struct chat *c, int64_t now_ns)
{
	if (c->ended)
		return;
	c->end_ns = now_ns;
	__atomic_store_n(&c->ended, 1, __ATOMIC_RELEASE);
	st->active--;
	store_request_release(st, c->part, (int)c->event);
}

/* see store.h */
const struct msgrec *store_msg_add(struct store *st, struct chat *c,
				   uint32_t author, int from_org,
				   const char *content, size_t n, int has_loc,
				   double lat, double lng, int64_t now_ns)
{
	size_t size = (sizeof(struct msgrec) + n + 7) & ~(size_t)7;
	struct msglog *l = &st->logs[c->owner];
	uint64_t off;
	struct msgrec *m;

	if (size > l->cap / 4 || c->ended)
		return NULL;
	if (!c->hist) {
		c->hist = malloc(st->hist_cap * sizeof(uint64_t));
		if (!c->hist)
			return NULL;
	}
	/* Records never wrap: skip to the start when the tail is short. */
	off = l->head;
	if (off % l->cap + size > l->cap)
		off += l->cap - off % l->cap;
	l->head = off + size;
	m = (struct msgrec *)(l->buf + off % l->cap);
	/* unique over the logs; with one log: 1, 2, 3, ... */
	m->seq = ++l->seq * st->nlogs + c->owner;
	m->ts_ns = now_ns;
	m->chat = store_chat_idx(st, c);
	m->author = author;
	m->len = (uint32_t)n;
	m->from_org = (uint8_t)from_org;
	m->has_loc = (uint8_t)has_loc;
	m->lat = lat;
	m->lng = lng;
	memcpy(m->content, content, n);
	if (c->hist_n < st->hist_cap) {
		c->hist[(c->hist_head + c->hist_n) % st->hist_cap] = off;
		c->hist_n++;
	} else {
		c->hist[c->hist_head] = off;
		c->hist_head = (c->hist_head + 1) % st->hist_cap;
	}
	return m;
}

/* see store.h */
const struct msgrec *store_msg_at(struct store *st, const struct chat *c,
				  uint32_t i)
{
	const struct msglog *l = &st->logs[c->owner];
	uint64_t off;

	if (i >= c->hist_n)
		return NULL;
	off = c->hist[(c->hist_head + i) % st->hist_cap];
	/* Overwritten once the log has moved more than its size past it. */
	if (l->head > l->cap && off < l->head - l->cap)
		return NULL;
	return (const struct msgrec *)(l->buf + off % l->cap);
}

/* see store.h */
void store_msg_id(const struct store *st, const struct msgrec *m, char out[25])
{
	snprintf(out, 25, "%08x%08x%08x", (uint32_t)(m->ts_ns / 1000000000),
		 st->instance ^ 0x5a5a5a5au, (uint32_t)m->seq);
}
