/*
 * store: serve's in-memory data. See store.h.
 */
#include "store.h"
#include "serve.h"

#include <bearssl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_CHUNK (1u << 20)

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
	struct organizer *orgs;
	uint32_t norgs, orgs_cap;
	struct participant *parts;
	uint32_t nparts, parts_cap;
	uint32_t *email_tab;     /* open addressing: participant idx or NIL */
	uint32_t email_cap;      /* power of two */
	struct event events[STORE_MAX_EVENTS];
	int nevents;
	struct queue *queues;
	uint32_t nqueues;
	struct chat *chats;
	uint32_t nchats, chats_cap;
	uint64_t active;
	unsigned hist_cap;
	uint8_t *log;
	size_t log_cap;
	uint64_t log_head;       /* logical bytes written */
	uint64_t msg_seq;
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

static int grow(void **p, uint32_t *cap, size_t elem, uint32_t need)
{
	uint32_t n = *cap ? *cap : 64;
	void *q;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	q = realloc(*p, (size_t)n * elem);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = n;
	return 0;
}

/* see store.h */
struct store *store_new(unsigned history, size_t log_bytes, uint32_t instance,
			const uint8_t salt_seed[16])
{
	struct store *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	st->hist_cap = history ? history : 1;
	st->log_cap = log_bytes < 65536 ? 65536 : log_bytes;
	st->log = malloc(st->log_cap);
	st->email_cap = 1024;
	st->email_tab = malloc(st->email_cap * sizeof(uint32_t));
	if (!st->log || !st->email_tab) {
		store_free(st);
		return NULL;
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
	for (uint32_t i = 0; i < st->nchats; i++)
		free(st->chats[i].hist);
	free(st->chats);
	free(st->orgs);
	free(st->parts);
	free(st->email_tab);
	free(st->log);
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
	if (grow((void **)&st->orgs, &st->orgs_cap, sizeof(*o),
		 st->norgs + 1) < 0 || !queue_of(st, agency, 1))
		return -ENOMEM;
	o = &st->orgs[st->norgs];
	memset(o, 0, sizeof(*o));
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
	st->norgs++;
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

uint32_t store_norgs(const struct store *st) { return st->norgs; }
uint32_t store_nparts(const struct store *st) { return st->nparts; }
struct organizer *store_org(struct store *st, uint32_t i) { return &st->orgs[i]; }
struct participant *store_part(struct store *st, uint32_t i) { return &st->parts[i]; }

/* see store.h */
uint32_t store_org_find(struct store *st, const char *email, size_t n)
{
	for (uint32_t i = 0; i < st->norgs; i++)
		if (strlen(st->orgs[i].email) == n &&
		    memcmp(st->orgs[i].email, email, n) == 0)
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
		if (strlen(st->parts[p].email) == n &&
		    memcmp(st->parts[p].email, email, n) == 0)
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
	if ((st->nparts + 1) * 2 > st->email_cap) {
		uint32_t ncap = st->email_cap * 2;
		uint32_t *t = malloc(ncap * sizeof(uint32_t));

		if (!t)
			return -ENOMEM;
		memset(t, 0xff, ncap * sizeof(uint32_t));
		for (uint32_t p = 0; p < st->nparts; p++) {
			const char *e = st->parts[p].email;
			uint32_t i = hash(e, strlen(e)) & (ncap - 1);

			while (t[i] != NIL)
				i = (i + 1) & (ncap - 1);
			t[i] = p;
		}
		free(st->email_tab);
		st->email_tab = t;
		st->email_cap = ncap;
	}
	const char *e = st->parts[idx].email;
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
	uint32_t i = st->nparts;
	br_sha256_context h;
	uint8_t d[32];

	if (store_part_find(st, email, en) != NIL)
		return -EEXIST;
	if (grow((void **)&st->parts, &st->parts_cap, sizeof(*p), i + 1) < 0)
		return -ENOMEM;
	p = &st->parts[i];
	memset(p, 0, sizeof(*p));
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
	st->nparts++;
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
	struct participant *p = &st->parts[part];
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
	st->parts[part].locks &= ~(1ULL << event);
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
			    const struct request *r, int64_t now_ns)
{
	struct chat *c;
	uint32_t i = st->nchats;

	if (grow((void **)&st->chats, &st->chats_cap, sizeof(*c), i + 1) < 0)
		return NULL;
	c = &st->chats[i];
	memset(c, 0, sizeof(*c));
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
	c->next_of_org = st->orgs[org].chat_head;
	st->orgs[org].chat_head = i;
	c->next_of_part = st->parts[r->part].chat_head;
	st->parts[r->part].chat_head = i;
	st->nchats++;
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
	if (idx >= st->nchats || memcmp(st->chats[idx].id, id, 24) != 0)
		return NULL;
	return &st->chats[idx];
}

struct chat *store_chat(struct store *st, uint32_t idx)
{
	return idx < st->nchats ? &st->chats[idx] : NULL;
}

uint32_t store_chat_idx(const struct store *st, const struct chat *c)
{
	return (uint32_t)(c - st->chats);
}

uint64_t store_chats_active(const struct store *st) { return st->active; }
uint64_t store_chats_total(const struct store *st) { return st->nchats; }

/* see store.h */
void store_chat_end(struct store *st, struct chat *c, int64_t now_ns)
{
	if (c->ended)
		return;
	c->ended = 1;
	c->end_ns = now_ns;
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
	uint64_t off;
	struct msgrec *m;

	if (size > st->log_cap / 4)
		return NULL;
	if (!c->hist) {
		c->hist = malloc(st->hist_cap * sizeof(uint64_t));
		if (!c->hist)
			return NULL;
	}
	/* Records never wrap: skip to the start when the tail is short. */
	off = st->log_head;
	if (off % st->log_cap + size > st->log_cap)
		off += st->log_cap - off % st->log_cap;
	st->log_head = off + size;
	m = (struct msgrec *)(st->log + off % st->log_cap);
	m->seq = ++st->msg_seq;
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
	uint64_t off;

	if (i >= c->hist_n)
		return NULL;
	off = c->hist[(c->hist_head + i) % st->hist_cap];
	/* Overwritten once the log has moved more than its size past it. */
	if (st->log_head > st->log_cap && off < st->log_head - st->log_cap)
		return NULL;
	return (const struct msgrec *)(st->log + off % st->log_cap);
}

/* see store.h */
void store_msg_id(const struct store *st, const struct msgrec *m, char out[25])
{
	snprintf(out, 25, "%08x%08x%08x", (uint32_t)(m->ts_ns / 1000000000),
		 st->instance ^ 0x5a5a5a5au, (uint32_t)m->seq);
}
