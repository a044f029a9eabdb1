/* Unit tests for serve's in-memory store (src/serve/store.h). */
#include "test.h"
#include "clock.h"
#include "serve/serve.h" /* NIL */
#include "serve/store.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#define INSTANCE 0x01020304u
#define T0 1700000000123456789LL /* 0x6553f100 seconds */

static const uint8_t seed[16] = { 1, 2, 3, 4, 5, 6, 7, 8,
				  9, 10, 11, 12, 13, 14, 15, 16 };

static struct store *mk(unsigned history, size_t log_bytes)
{
	return store_new(history, log_bytes, 1, INSTANCE, seed);
}

static int is_hex24(const char *s)
{
	for (int i = 0; i < 24; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[24] == 0;
}

/* ---- organizers ---- */

static int org_add_find(void)
{
	struct store *st = mk(8, 1 << 20);
	const struct organizer *o;
	int64_t t0, t1;

	check(st != NULL);
	t0 = clock_real_ns();
	check_eq(store_add_organizer(st, "ann@x.io", "password-ann-0123", 2, 1), 0);
	check_eq(store_add_organizer(st, "bob@x.io", "password-bob-0123", 1, 7), 0);
	t1 = clock_real_ns();
	check_eq(store_add_organizer(st, "ann@x.io", "another-password", 2, 3),
		 -EEXIST);
	check_eq(store_norgs(st), 2);

	/* The email is matched on its exact length: not a prefix, not longer. */
	check_eq(store_org_find(st, "ann@x.io", 8), 0);
	check_eq(store_org_find(st, "bob@x.io", 8), 1);
	check_eq(store_org_find(st, "bob@x.io-and-more", 8), 1);
	check_eq(store_org_find(st, "ann@x.i", 7), NIL);
	check_eq(store_org_find(st, "ann@x.iox", 9), NIL);
	check_eq(store_org_find(st, "", 0), NIL);
	check_eq(store_org_find(st, "carl@x.io", 9), NIL);

	/* Index i is organizer id i + 1; the index leads to its account. */
	o = store_org(st, 1);
	check(strcmp(o->email, "bob@x.io") == 0);
	check(strcmp(o->password, "password-bob-0123") == 0);
	check_eq(o->role, 1);
	check_eq(o->agency, 7);
	o = store_org(st, 0);
	check(strcmp(o->email, "ann@x.io") == 0);
	check(strcmp(o->password, "password-ann-0123") == 0);
	check_eq(o->role, 2);
	check_eq(o->agency, 1); /* not the refused duplicate's 3 */

	/* Created signed out, at the time of creation. */
	for (uint32_t i = 0; i < 2; i++) {
		o = store_org(st, i);
		check_eq(o->signout_ns, o->created_ns);
		check(o->created_ns >= t0 && o->created_ns <= t1);
		check_eq(o->conn_threads, 0);
		check_eq(o->chat_head, NIL);
		check(o->first && o->last && o->phone);
	}
	store_free(st);
	return 0;
}

/* ---- participants ---- */

static int part_add_find(void)
{
	struct store *st = mk(8, 1 << 20);
	const struct participant *p, *q;
	uint32_t idx = 99;

	check(st != NULL);
	check_eq(store_part_add(st, "p0@x.io", 7, "secret", 6, "+481", 4, T0,
				&idx), 0);
	check_eq(idx, 0);
	/* Lengths are given: the bytes past them are not part of the value. */
	check_eq(store_part_add(st, "p1@x.ioXX", 7, "secretYY", 6, "+482ZZ", 4,
				T0 + 5, &idx), 0);
	check_eq(idx, 1);
	idx = 99;
	check_eq(store_part_add(st, "p0@x.io", 7, "other", 5, "", 0, T0, &idx),
		 -EEXIST);
	check_eq(idx, 99);
	check_eq(store_nparts(st), 2);

	check_eq(store_part_find(st, "p0@x.io", 7), 0);
	check_eq(store_part_find(st, "p1@x.io", 7), 1);
	check_eq(store_part_find(st, "p1@x.i", 6), NIL);
	check_eq(store_part_find(st, "p1@x.ioX", 8), NIL);
	check_eq(store_part_find(st, "p2@x.io", 7), NIL);

	p = store_part(st, 1);
	check(strcmp(p->email, "p1@x.io") == 0);
	check(strcmp(p->phone, "+482") == 0);
	check_eq(p->created_ns, T0 + 5);
	check_eq(p->signout_ns, p->created_ns);
	check_eq(p->conn_threads, 0);
	check_eq(p->chat_head, NIL);
	check_eq(p->locks, 0);

	/* Password: right, wrong of the same length, a prefix, longer, empty. */
	check(store_part_password_ok(p, "secret", 6));
	check(store_part_password_ok(p, "secretYY", 6));
	check(!store_part_password_ok(p, "secreT", 6));
	check(!store_part_password_ok(p, "secre", 5));
	check(!store_part_password_ok(p, "secrets", 7));
	check(!store_part_password_ok(p, "", 0));

	/* Same password, own salt: the stored hashes differ. */
	q = store_part(st, 0);
	check(store_part_password_ok(q, "secret", 6));
	check(memcmp(p->salt, q->salt, sizeof(p->salt)) != 0);
	check(memcmp(p->pwhash, q->pwhash, sizeof(p->pwhash)) != 0);
	store_free(st);
	return 0;
}

/* Enough participants to grow the email table several times: every one is
 * still found at its index, and a duplicate is still refused. */
static int part_many(void)
{
	struct store *st = mk(8, 1 << 20);
	char e[64];
	uint32_t idx;
	int n;

	check(st != NULL);
	for (uint32_t i = 0; i < 5000; i++) {
		n = snprintf(e, sizeof(e), "user%u@load.test", i);
		check_eq(store_part_add(st, e, (size_t)n, e, (size_t)n, "", 0,
					T0, &idx), 0);
		check_eq(idx, i);
	}
	check_eq(store_nparts(st), 5000);
	for (uint32_t i = 0; i < 5000; i++) {
		n = snprintf(e, sizeof(e), "user%u@load.test", i);
		check_eq(store_part_find(st, e, (size_t)n), i);
		check(strcmp(store_part(st, i)->email, e) == 0);
	}
	for (uint32_t i = 0; i < 5000; i += 997) {
		n = snprintf(e, sizeof(e), "user%u@load.test", i);
		check(store_part_password_ok(store_part(st, i), e, (size_t)n));
		check_eq(store_part_add(st, e, (size_t)n, "x", 1, "", 0, T0, &idx),
			 -EEXIST);
	}
	n = snprintf(e, sizeof(e), "user%u@load.test", 5000);
	check_eq(store_part_find(st, e, (size_t)n), NIL);
	check_eq(store_nparts(st), 5000);
	store_free(st);
	return 0;
}

/* Emails that are prefixes of one another: each is found only on its own
 * length, and the lengths between them are not found. */
static int part_find_prefix(void)
{
	struct store *st = mk(8, 1 << 20);
	static char e[1000];
	uint32_t idx;

	check(st != NULL);
	memcpy(e, "u@", 2);
	for (size_t i = 2; i < sizeof(e); i++)
		e[i] = (char)('a' + i % 26);
	for (uint32_t k = 1; k < 800; k += 2) {
		check_eq(store_part_add(st, e, 2 + k, "pw", 2, "", 0, T0, &idx),
			 0);
		check_eq(idx, k / 2);
	}
	for (uint32_t k = 1; k < 800; k += 2) {
		check_eq(store_part_find(st, e, 2 + k), k / 2);
		check_eq(store_part_find(st, e, 2 + k + 1), NIL);
	}
	check_eq(store_part_find(st, e, 2), NIL);
	check_eq(store_part_find(st, e, 1), NIL);
	check_eq(store_part_find(st, e, 0), NIL);
	store_free(st);
	return 0;
}

/* A string too big for the shared chunks, stored first, then many small
 * ones: every string reads back whole (ASan sees any write past a chunk). */
static int long_strings(void)
{
	struct store *st = mk(8, 1 << 20);
	size_t big = 300000;
	char *e = malloc(big), s[600];
	uint32_t idx;

	check(st != NULL && e != NULL);
	memset(e, 'b', big);
	memcpy(e + big - 5, "@x.io", 5);
	check_eq(store_part_add(st, e, big, "pw", 2, "+48", 3, T0, &idx), 0);
	for (uint32_t i = 1; i <= 2000; i++) {
		int n = snprintf(s, sizeof(s), "%0500u@x.io", i);

		check_eq(store_part_add(st, s, (size_t)n, "pw", 2, "+48", 3, T0,
					&idx), 0);
		check_eq(idx, i);
	}
	check_eq(store_add_organizer(st, "org@x.io", "password-org-0123", 2, 1),
		 0);
	check_eq(strlen(store_part(st, 0)->email), big);
	check(memcmp(store_part(st, 0)->email, e, big) == 0);
	check_eq(store_part_find(st, e, big), 0);
	for (uint32_t i = 1; i <= 2000; i++) {
		int n = snprintf(s, sizeof(s), "%0500u@x.io", i);

		check(strcmp(store_part(st, i)->email, s) == 0);
		check(strcmp(store_part(st, i)->phone, "+48") == 0);
		check_eq(store_part_find(st, s, (size_t)n), i);
	}
	check(strcmp(store_org(st, 0)->email, "org@x.io") == 0);
	store_free(st);
	free(e);
	return 0;
}

/* ---- events ---- */

static int events(void)
{
	struct store *st = mk(8, 1 << 20);

	check(st != NULL);
	check_eq(store_add_event(st, 10, 1), 0);
	check_eq(store_add_event(st, 20, 1), 0);
	check_eq(store_add_event(st, 0, 2), 0);
	check_eq(store_add_event(st, 20, 5), -EEXIST);
	check_eq(store_event_find(st, 10), 0);
	check_eq(store_event_find(st, 20), 1);
	check_eq(store_event_find(st, 0), 2);
	check_eq(store_event_find(st, 30), -1);
	check_eq(store_event_find(st, UINT32_MAX), -1);
	check_eq(store_event(st, 1)->id, 20);
	check_eq(store_event(st, 1)->agency, 1);
	check_eq(store_event(st, 2)->id, 0);
	check_eq(store_event(st, 2)->agency, 2);
	/* The table holds STORE_MAX_EVENTS. */
	for (uint32_t id = 100; id < 100 + STORE_MAX_EVENTS - 3; id++)
		check_eq(store_add_event(st, id, 3), 0);
	check_eq(store_add_event(st, 5000, 3), -ENOSPC);
	check_eq(store_event_find(st, 5000), -1);
	check_eq(store_event_find(st, 100 + STORE_MAX_EVENTS - 4),
		 STORE_MAX_EVENTS - 1);
	store_free(st);
	return 0;
}

/* ---- request queues ---- */

struct qlens {
	int n;
	uint32_t agency[8];
	size_t len[8];
};

static void qlen_cb(void *ctx, uint32_t agency, size_t len)
{
	struct qlens *q = ctx;

	if (q->n < 8) {
		q->agency[q->n] = agency;
		q->len[q->n] = len;
	}
	q->n++;
}

/* Length of an agency's queue as store_queues reports it, -1 if absent,
 * -2 if reported twice. */
static long qlen(const struct store *st, uint32_t agency)
{
	struct qlens q = { 0 };
	long r = -1;

	store_queues(st, qlen_cb, &q);
	for (int i = 0; i < q.n && i < 8; i++)
		if (q.agency[i] == agency)
			r = r == -1 ? (long)q.len[i] : -2;
	return r;
}

static int add_parts(struct store *st, unsigned n)
{
	char e[32];
	uint32_t idx;

	for (unsigned i = 0; i < n; i++) {
		int k = snprintf(e, sizeof(e), "p%u@x.io", i);

		if (store_part_add(st, e, (size_t)k, "pw", 2, "", 0, T0, &idx))
			return -1;
	}
	return 0;
}

/* Events 0, 1 of agency 1, event 2 of agency 2, an organizer of agency 3. */
static struct store *queue_store(unsigned nparts)
{
	struct store *st = mk(8, 1 << 20);

	if (!st || store_add_event(st, 10, 1) || store_add_event(st, 11, 1) ||
	    store_add_event(st, 12, 2) ||
	    store_add_organizer(st, "o3@x.io", "password-o3-01234", 2, 3) ||
	    add_parts(st, nparts)) {
		store_free(st);
		return NULL;
	}
	return st;
}

static int queue_fifo(void)
{
	struct store *st = queue_store(4);
	static const struct {
		uint32_t part;
		int event;
		const char *desc;
		int has_loc;
		double lat, lng;
	} add[] = {
		{ 0, 0, "first, agency 1", LOC_LAT | LOC_LNG, 52.25, 21.0 },
		{ 1, 2, "first, agency 2", 0, 0, 0 },
		{ 2, 1, NULL, LOC_LAT, -33.5, 0 },
		{ 0, 1, "p0 again, other event", LOC_LNG, 0, 151.25 },
		{ 3, 2, NULL, 0, 0, 0 },
		{ 1, 0, "last, agency 1", 0, 0, 0 },
		{ 0, 2, "last, agency 2", LOC_LAT | LOC_LNG, 1.5, -2.5 },
	};
	static const int order1[] = { 0, 2, 3, 5 }, order2[] = { 1, 4, 6 };
	struct request r;

	check(st != NULL);
	check_eq(qlen(st, 1), 0);
	check_eq(qlen(st, 2), 0);
	check_eq(qlen(st, 3), 0);
	check_eq(store_request_pop(st, 1, &r), 0);
	check_eq(store_request_pop(st, 3, &r), 0);
	check_eq(store_request_pop(st, 99, &r), 0);
	for (size_t i = 0; i < sizeof(add) / sizeof(add[0]); i++)
		check_eq(store_request_add(st, add[i].part, add[i].event,
					   add[i].desc,
					   add[i].desc ? strlen(add[i].desc) : 0,
					   add[i].has_loc, add[i].lat,
					   add[i].lng), 0);
	check_eq(qlen(st, 1), 4);
	check_eq(qlen(st, 2), 3);
	check_eq(qlen(st, 3), 0);
	check_eq(qlen(st, 99), -1);
	check_eq(store_request_pop(st, 3, &r), 0);

	for (int k = 0; k < 4; k++) {
		int i = order1[k];

		check_eq(store_request_pop(st, 1, &r), 1);
		check_eq(r.part, add[i].part);
		check_eq(r.event, add[i].event);
		check_eq(r.has_loc, add[i].has_loc);
		check(r.lat == add[i].lat && r.lng == add[i].lng);
		if (add[i].desc)
			check(r.desc && strcmp(r.desc, add[i].desc) == 0);
		else
			check(r.desc == NULL);
		free(r.desc);
		check_eq(qlen(st, 1), 3 - k);
		check_eq(qlen(st, 2), 3);
	}
	check_eq(store_request_pop(st, 1, &r), 0);
	for (int k = 0; k < 3; k++) {
		int i = order2[k];

		check_eq(store_request_pop(st, 2, &r), 1);
		check_eq(r.part, add[i].part);
		check_eq(r.event, add[i].event);
		check_eq(r.has_loc, add[i].has_loc);
		check(r.lat == add[i].lat && r.lng == add[i].lng);
		if (add[i].desc)
			check(r.desc && strcmp(r.desc, add[i].desc) == 0);
		else
			check(r.desc == NULL);
		free(r.desc);
	}
	check_eq(store_request_pop(st, 2, &r), 0);
	check_eq(qlen(st, 1), 0);
	check_eq(qlen(st, 2), 0);
	store_free(st);
	return 0;
}

/* A description is copied for its length, bytes past it are not; the
 * longest one the participant API takes is carried whole. */
static int queue_desc(void)
{
	struct store *st = queue_store(2);
	static char big[STORE_DESC_MAX];
	struct request r;

	check(st != NULL);
	memset(big, 'd', sizeof(big));
	big[0] = 'D';
	big[sizeof(big) - 1] = 'Z';
	check_eq(store_request_add(st, 0, 0, "help!IGNORED", 5, 0, 0, 0), 0);
	check_eq(store_request_add(st, 1, 0, big, sizeof(big), 0, 0, 0), 0);
	check_eq(store_request_pop(st, 1, &r), 1);
	check(r.desc && strcmp(r.desc, "help!") == 0);
	free(r.desc);
	check_eq(store_request_pop(st, 1, &r), 1);
	check(r.desc != NULL);
	check_eq(strlen(r.desc), STORE_DESC_MAX);
	check(memcmp(r.desc, big, sizeof(big)) == 0);
	free(r.desc);
	store_free(st);
	return 0;
}

static int queue_lock(void)
{
	struct store *st = queue_store(3);
	struct request r;

	check(st != NULL);
	check_eq(store_request_add(st, 0, 0, "a", 1, 0, 0, 0), 0);
	/* A second request of the same participant for the same event. */
	check_eq(store_request_add(st, 0, 0, "b", 1, 0, 0, 0), -EBUSY);
	check_eq(qlen(st, 1), 1);
	/* Other event, other participant: their own locks. */
	check_eq(store_request_add(st, 0, 1, NULL, 0, 0, 0, 0), 0);
	check_eq(store_request_add(st, 1, 0, NULL, 0, 0, 0, 0), 0);
	check_eq(store_request_add(st, 0, 2, NULL, 0, 0, 0, 0), 0);
	check_eq(qlen(st, 1), 3);
	check_eq(qlen(st, 2), 1);
	check_eq(store_part(st, 0)->locks, 7);

	/* Popping does not release: the chat (or its failure) does. */
	check_eq(store_request_pop(st, 1, &r), 1);
	check(r.part == 0 && r.event == 0 && r.desc && !strcmp(r.desc, "a"));
	free(r.desc);
	check_eq(store_request_add(st, 0, 0, NULL, 0, 0, 0, 0), -EBUSY);
	store_request_release(st, 0, 0);
	check_eq(store_part(st, 0)->locks, 6);
	check_eq(store_request_add(st, 0, 0, "c", 1, 0, 0, 0), 0);
	/* Releasing one lock leaves the others; an unheld release is a no-op. */
	store_request_release(st, 2, 1);
	store_request_release(st, 0, 1);
	check_eq(store_request_add(st, 0, 2, NULL, 0, 0, 0, 0), -EBUSY);
	check_eq(store_request_add(st, 1, 0, NULL, 0, 0, 0, 0), -EBUSY);
	check_eq(store_part(st, 2)->locks, 0);
	/* Released while still queued: a second request is let in, as the
	 * participant API's DELETE /chat-requests allows. */
	check_eq(store_request_add(st, 0, 1, NULL, 0, 0, 0, 0), 0);
	check_eq(qlen(st, 1), 4);
	store_free(st); /* frees the queued descriptions */
	return 0;
}

/* The last event index is the top bit of the lock word. */
static int queue_lock_last_event(void)
{
	struct store *st = queue_store(2);
	struct request r;
	int last = STORE_MAX_EVENTS - 1;

	check(st != NULL);
	for (uint32_t id = 100; store_add_event(st, id, 4) == 0; id++)
		;
	check_eq(store_event_find(st, 100 + STORE_MAX_EVENTS - 4), last);
	check_eq(store_request_add(st, 1, last, NULL, 0, 0, 0, 0), 0);
	check_eq(store_part(st, 1)->locks, 1ULL << last);
	check_eq(store_request_add(st, 1, last, NULL, 0, 0, 0, 0), -EBUSY);
	check_eq(store_request_add(st, 1, last - 1, NULL, 0, 0, 0, 0), 0);
	check_eq(qlen(st, 4), 2);
	check_eq(store_request_pop(st, 4, &r), 1);
	check_eq(r.event, last);
	store_request_release(st, 1, last);
	check_eq(store_part(st, 1)->locks, 1ULL << (last - 1));
	check_eq(store_request_add(st, 1, last, NULL, 0, 0, 0, 0), 0);
	store_free(st);
	return 0;
}

/* A queue that grows while its ring has wrapped keeps its order. */
static int queue_grow(void)
{
	struct store *st = queue_store(100);
	char d[32];
	uint32_t next = 0, added = 0;
	struct request r;

	check(st != NULL);
	/* Requests k: participant k / 2, event k % 2 (both agency 1). */
	for (; added < 40; added++) {
		int n = snprintf(d, sizeof(d), "req %u", added);

		check_eq(store_request_add(st, added / 2, (int)(added % 2), d,
					   (size_t)n, 0, 0, 0), 0);
	}
	for (; next < 30; next++) {
		check_eq(store_request_pop(st, 1, &r), 1);
		check_eq(r.part * 2 + r.event, next);
		free(r.desc);
	}
	for (; added < 200; added++) {
		int n = snprintf(d, sizeof(d), "req %u", added);

		check_eq(store_request_add(st, added / 2, (int)(added % 2), d,
					   (size_t)n, 0, 0, 0), 0);
		if (added % 3 == 0) {
			check_eq(store_request_pop(st, 1, &r), 1);
			check_eq(r.part * 2 + r.event, next);
			free(r.desc);
			next++;
		}
	}
	check_eq(qlen(st, 1), added - next);
	check(added - next > 64);
	while (store_request_pop(st, 1, &r) == 1) {
		snprintf(d, sizeof(d), "req %u", next);
		check_eq(r.part * 2 + r.event, next);
		check(r.desc && strcmp(r.desc, d) == 0);
		free(r.desc);
		next++;
	}
	check_eq(next, 200);
	check_eq(qlen(st, 1), 0);
	store_free(st);
	return 0;
}

/* ---- chats ---- */

/* Two organizers of agency 1, one of agency 2; events 10 (agency 1), 12
 * (agency 2), 11 (agency 1); n participants. */
static struct store *chat_store_logs(unsigned history, size_t log_bytes,
				     unsigned nparts, unsigned nlogs)
{
	struct store *st = store_new(history, log_bytes, nlogs, INSTANCE, seed);

	if (!st || store_add_event(st, 10, 1) || store_add_event(st, 12, 2) ||
	    store_add_event(st, 11, 1) ||
	    store_add_organizer(st, "o0@x.io", "password-o0-01234", 2, 1) ||
	    store_add_organizer(st, "o1@x.io", "password-o1-01234", 2, 1) ||
	    store_add_organizer(st, "o2@x.io", "password-o2-01234", 2, 2) ||
	    add_parts(st, nparts)) {
		store_free(st);
		return NULL;
	}
	return st;
}

static struct store *chat_store(unsigned history, size_t log_bytes,
				unsigned nparts)
{
	return chat_store_logs(history, log_bytes, nparts, 1);
}

/* Request and pop a chat for organizer org, its messages in log owner;
 * NULL on any failure. */
static struct chat *open_chat_on(struct store *st, uint32_t org,
				 uint32_t part, int event, int64_t now,
				 unsigned owner)
{
	struct request r;
	struct chat *c;

	if (store_request_add(st, part, event, "d", 1, LOC_LAT | LOC_LNG,
			      (double)part, (double)org) < 0 ||
	    store_request_pop(st, store_org(st, org)->agency, &r) != 1)
		return NULL;
	c = store_chat_new(st, org, &r, now, owner);
	free(r.desc);
	return c;
}

static struct chat *open_chat(struct store *st, uint32_t org, uint32_t part,
			      int event, int64_t now)
{
	return open_chat_on(st, org, part, event, now, 0);
}

static int chat_ids(void)
{
	enum { N = 150 };
	struct store *st = chat_store(8, 1 << 20, N);
	char id[25], pfx[17];
	struct chat *c;

	check(st != NULL);
	check_eq(store_chats_total(st), 0);
	check_eq(store_chats_active(st), 0);
	/* Chat i starts i seconds after T0, so ids differ in their seconds. */
	for (uint32_t i = 0; i < N; i++) {
		c = open_chat(st, i % 2, i, 0, T0 + (int64_t)i * 1000000000);
		check(c != NULL);
		check_eq(store_chat_idx(st, c), i);
	}
	check_eq(store_chats_total(st), N);
	check_eq(store_chats_active(st), N);
	for (uint32_t i = 0; i < N; i++) {
		c = store_chat(st, i);
		check(c != NULL);
		check(is_hex24(c->id));
		snprintf(pfx, sizeof(pfx), "%08x01020304", 0x6553f100u + i);
		check(memcmp(c->id, pfx, 16) == 0);
		check(store_chat_find(st, c->id, 24) == c);
		for (uint32_t k = 0; k < i; k++)
			check(strcmp(store_chat(st, k)->id, c->id) != 0);
		check_eq(c->agency, 1);
		check_eq(c->event_id, 10);
		check_eq(c->event, 0);
		check_eq(c->org, i % 2);
		check_eq(c->part, i);
		check_eq(c->has_loc, LOC_LAT | LOC_LNG);
		check(c->lat == (double)i && c->lng == (double)(i % 2));
		check_eq(c->start_ns, T0 + (int64_t)i * 1000000000);
		check_eq(c->ended, 0);
		check_eq(c->hist_n, 0);
	}
	check(strcmp(store_chat(st, 0)->id, "6553f10001020304" "00000000") == 0);
	check(strcmp(store_chat(st, 17)->id, "6553f11101020304" "00000011") == 0);
	check(store_chat(st, N) == NULL);

	/* Wrong ids: short, long, altered anywhere, another chat's index,
	 * upper case, past the last chat. */
	c = store_chat(st, 17);
	memcpy(id, c->id, 25);
	check(store_chat_find(st, id, 23) == NULL);
	check(store_chat_find(st, id, 0) == NULL);
	for (int k = 0; k < 24; k++) {
		memcpy(id, c->id, 25);
		id[k] = id[k] == '0' ? '1' : '0';
		check(store_chat_find(st, id, 24) == NULL);
		memcpy(id, c->id, 25);
		id[k] = 'g';
		check(store_chat_find(st, id, 24) == NULL);
	}
	memcpy(id, c->id, 25);
	memcpy(id + 16, "00000012", 8);  /* chat 18's index, chat 17's time */
	check(store_chat_find(st, id, 24) == NULL);
	memcpy(id, "6553F11101020304" "00000011", 25);
	check(store_chat_find(st, id, 24) == NULL);
	snprintf(id, sizeof(id), "%08x01020304%08x", 0x6553f100u + N,
		 (unsigned)N);
	check(store_chat_find(st, id, 24) == NULL);
	char longer[26];
	memcpy(longer, c->id, 24);
	memcpy(longer + 24, "0", 2);
	check(store_chat_find(st, longer, 25) == NULL);
	store_free(st);
	return 0;
}

/* Each organizer's and participant's chats, newest first. */
static int chat_lists(void)
{
	struct store *st = chat_store(8, 1 << 20, 3);
	uint32_t i;
	static const struct { uint32_t org, part; int event; } o[] = {
		{ 0, 0, 0 }, { 1, 1, 0 }, { 0, 2, 0 }, { 2, 0, 1 }, { 0, 1, 2 },
	};

	check(st != NULL);
	for (uint32_t k = 0; k < 5; k++)
		check(open_chat(st, o[k].org, o[k].part, o[k].event,
				T0 + k) != NULL);
	check_eq(store_chat(st, 3)->agency, 2);
	check_eq(store_chat(st, 3)->event_id, 12);
	check_eq(store_chat(st, 4)->event_id, 11);
	check_eq(store_chat(st, 4)->agency, 1);
	/* organizer 0: chats 4, 2, 0 */
	i = store_org(st, 0)->chat_head;
	check_eq(i, 4);
	i = store_chat(st, i)->next_of_org;
	check_eq(i, 2);
	i = store_chat(st, i)->next_of_org;
	check_eq(i, 0);
	check_eq(store_chat(st, i)->next_of_org, NIL);
	check_eq(store_org(st, 1)->chat_head, 1);
	check_eq(store_chat(st, 1)->next_of_org, NIL);
	check_eq(store_org(st, 2)->chat_head, 3);
	check_eq(store_chat(st, 3)->next_of_org, NIL);
	/* participant 0: chats 3, 0; participant 1: 4, 1; participant 2: 2 */
	check_eq(store_part(st, 0)->chat_head, 3);
	check_eq(store_chat(st, 3)->next_of_part, 0);
	check_eq(store_chat(st, 0)->next_of_part, NIL);
	check_eq(store_part(st, 1)->chat_head, 4);
	check_eq(store_chat(st, 4)->next_of_part, 1);
	check_eq(store_chat(st, 1)->next_of_part, NIL);
	check_eq(store_part(st, 2)->chat_head, 2);
	check_eq(store_chat(st, 2)->next_of_part, NIL);
	store_free(st);
	return 0;
}

static int chat_end(void)
{
	struct store *st = chat_store(8, 1 << 20, 3);
	struct chat *c;

	check(st != NULL);
	check(open_chat(st, 0, 0, 0, T0) != NULL);
	check(open_chat(st, 0, 1, 0, T0) != NULL);
	check(open_chat(st, 2, 0, 1, T0) != NULL);
	check_eq(store_chats_active(st), 3);
	check_eq(store_chats_total(st), 3);
	/* Open chats hold their participant's lock for the event. */
	check_eq(store_request_add(st, 0, 0, NULL, 0, 0, 0, 0), -EBUSY);
	check_eq(store_request_add(st, 0, 1, NULL, 0, 0, 0, 0), -EBUSY);

	c = store_chat(st, 0);
	store_chat_end(st, c, T0 + 77);
	check_eq(c->ended, 1);
	check_eq(c->end_ns, T0 + 77);
	check_eq(store_chats_active(st), 2);
	check_eq(store_chats_total(st), 3);
	check(store_chat_find(st, c->id, 24) == c);
	/* Ending releases the lock, as the messenger's close_chat deletes the
	 * chat request lock; other locks stay. */
	check_eq(store_part(st, 0)->locks, 2);
	check_eq(store_request_add(st, 0, 1, NULL, 0, 0, 0, 0), -EBUSY);
	/* Ending twice counts once and keeps the first end time. */
	store_chat_end(st, c, T0 + 99);
	check_eq(c->end_ns, T0 + 77);
	check_eq(store_chats_active(st), 2);
	check_eq(store_request_add(st, 0, 0, NULL, 0, 0, 0, 0), 0);
	check_eq(store_part(st, 0)->locks, 3);
	/* ... and the second end did not release the lock taken since. */
	check_eq(store_request_add(st, 0, 0, NULL, 0, 0, 0, 0), -EBUSY);

	store_chat_end(st, store_chat(st, 1), T0 + 1);
	store_chat_end(st, store_chat(st, 2), T0 + 1);
	check_eq(store_chats_active(st), 0);
	check_eq(store_chats_total(st), 3);
	check_eq(store_part(st, 1)->locks, 0);
	store_free(st);
	return 0;
}

/* ---- message log ---- */

static int msg_order(void)
{
	struct store *st = chat_store(100, 1 << 20, 2);
	const struct msgrec *m;
	struct chat *a, *b;
	char t[32];

	check(st != NULL);
	check(open_chat(st, 0, 0, 0, T0) && open_chat(st, 0, 1, 0, T0));
	a = store_chat(st, 0);
	b = store_chat(st, 1);
	check(store_msg_at(st, a, 0) == NULL);
	for (int i = 0; i < 10; i++) {
		int n = snprintf(t, sizeof(t), "message %d", i);
		struct chat *c = i % 3 ? a : b;

		m = store_msg_add(st, c, i % 2 ? 1 : 7, i % 2, t, (size_t)n,
				  i % 4, (double)i, -(double)i, T0 + i);
		check(m != NULL);
		check_eq(m->seq, i + 1);
		check_eq(m->chat, store_chat_idx(st, c));
		check_span(m->content, m->len, t);
	}
	/* a: 1, 2, 4, 5, 7, 8; b: 0, 3, 6, 9 */
	static const int ia[] = { 1, 2, 4, 5, 7, 8 }, ib[] = { 0, 3, 6, 9 };
	check_eq(a->hist_n, 6);
	check_eq(b->hist_n, 4);
	for (uint32_t k = 0; k < 6; k++) {
		int i = ia[k], n = snprintf(t, sizeof(t), "message %d", i);

		m = store_msg_at(st, a, k);
		check(m != NULL);
		check_span(m->content, m->len, t);
		check_eq((int)m->len, n);
		check_eq(m->seq, i + 1);
		check_eq(m->ts_ns, T0 + i);
		check_eq(m->chat, 0);
		check_eq(m->author, i % 2 ? 1 : 7);
		check_eq(m->from_org, i % 2);
		check_eq(m->has_loc, i % 4);
		check(m->lat == (double)i && m->lng == -(double)i);
	}
	for (uint32_t k = 0; k < 4; k++) {
		m = store_msg_at(st, b, k);
		check(m != NULL);
		snprintf(t, sizeof(t), "message %d", ib[k]);
		check_span(m->content, m->len, t);
		check_eq(m->chat, 1);
	}
	check(store_msg_at(st, a, 6) == NULL);
	check(store_msg_at(st, b, 4) == NULL);
	/* An empty message is a message. */
	m = store_msg_add(st, a, 1, 1, "", 0, 0, 0, 0, T0);
	check(m != NULL && m->len == 0 && m->seq == 11);
	check_eq(a->hist_n, 7);
	store_free(st);
	return 0;
}

/* Past the history cap the oldest go: the newest `history` remain. */
static int msg_history_cap(void)
{
	struct store *st = chat_store(4, 1 << 20, 2);
	const struct msgrec *m;
	struct chat *a, *b;
	char t[32];

	check(st != NULL);
	check(open_chat(st, 0, 0, 0, T0) && open_chat(st, 0, 1, 0, T0));
	a = store_chat(st, 0);
	b = store_chat(st, 1);
	check(store_msg_add(st, b, 1, 0, "b only", 6, 0, 0, 0, T0) != NULL);
	for (int i = 0; i < 11; i++) {
		int n = snprintf(t, sizeof(t), "a%d", i);

		check(store_msg_add(st, a, 1, 1, t, (size_t)n, 0, 0, 0, T0 + i));
		check_eq(a->hist_n, i < 4 ? i + 1 : 4);
		/* Oldest first: messages max(0, i-3) .. i. */
		int first = i < 4 ? 0 : i - 3;

		for (int k = 0; k <= i - first; k++) {
			m = store_msg_at(st, a, (uint32_t)k);
			snprintf(t, sizeof(t), "a%d", first + k);
			check(m != NULL);
			check_span(m->content, m->len, t);
			check_eq(m->ts_ns, T0 + first + k);
		}
		check(store_msg_at(st, a, (uint32_t)(i - first + 1)) == NULL);
	}
	/* The other chat's history is its own. */
	check_eq(b->hist_n, 1);
	m = store_msg_at(st, b, 0);
	check(m != NULL);
	check_span(m->content, m->len, "b only");
	store_free(st);

	/* history 0 keeps one. */
	st = chat_store(0, 1 << 20, 1);
	check(st != NULL);
	check(open_chat(st, 0, 0, 0, T0) != NULL);
	a = store_chat(st, 0);
	check(store_msg_add(st, a, 1, 1, "x", 1, 0, 0, 0, T0) != NULL);
	check(store_msg_add(st, a, 1, 1, "y", 1, 0, 0, 0, T0) != NULL);
	check_eq(a->hist_n, 1);
	m = store_msg_at(st, a, 0);
	check(m != NULL);
	check_span(m->content, m->len, "y");
	store_free(st);
	return 0;
}

static void fill(char *buf, size_t n, uint32_t msg)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)('a' + (msg * 7 + i) % 26);
}

static int same_fill(const struct msgrec *m, size_t n, uint32_t msg)
{
	if (m->len != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (m->content[i] != (char)('a' + (msg * 7 + i) % 26))
			return 0;
	return 1;
}

/*
 * A small log, messages of one size, many times around: the readable ones
 * are always the newest k of them (k fixed by the log's size, the same
 * after every message), each intact; older ones are NULL. 1000 bytes do
 * not divide 64 KiB, so each lap ends with an unused tail.
 */
static int msg_log_wrap(void)
{
	enum { N = 1000, LEN = 1000 };
	struct store *st = chat_store(N, 65536, 1);
	static char buf[LEN];
	struct chat *c;
	int k_seen = -1;

	check(st != NULL);
	check(open_chat(st, 0, 0, 0, T0) != NULL);
	c = store_chat(st, 0);
	for (uint32_t i = 0; i < N; i++) {
		int k = 0;

		fill(buf, LEN, i);
		check(store_msg_add(st, c, 1, 1, buf, LEN, 0, 0, 0, T0 + i));
		check_eq(c->hist_n, i + 1);
		/* Count readable from the newest back; all older are NULL. */
		for (uint32_t j = i + 1; j-- > 0;) {
			const struct msgrec *m = store_msg_at(st, c, j);

			if (!m)
				break;
			check(same_fill(m, LEN, j));
			check_eq(m->seq, j + 1);
			k++;
		}
		for (uint32_t j = 0; j + (uint32_t)k <= i; j++)
			check(store_msg_at(st, c, j) == NULL);
		check(k >= 1);
		check((size_t)k * LEN <= 65536);
		if (i >= 200) {
			if (k_seen < 0)
				k_seen = k;
			check_eq(k, k_seen);
		}
	}
	/* 64 KiB holds 62 records of 1000 bytes and their headers. */
	check(k_seen >= 65536 / (LEN + (int)sizeof(struct msgrec) + 8));
	check(k_seen <= 65536 / LEN);
	store_free(st);
	return 0;
}

/*
 * Messages of mixed sizes in several chats through a small log: whatever
 * store_msg_at returns is the message written there, never other bytes; a
 * message followed by more than the log's size is gone, one followed by
 * much less is kept; within a chat the kept ones are its newest.
 */
static int msg_log_mixed(void)
{
	enum { N = 3000, CH = 5, LOG = 65536 };
	struct store *st = chat_store(N, LOG, CH);
	static char buf[16384];
	static uint32_t len[N], chat_of[N], pos[N];
	uint64_t s = 12345;
	size_t over = sizeof(struct msgrec) + 8;

	check(st != NULL);
	for (uint32_t i = 0; i < CH; i++)
		check(open_chat(st, 0, i, 0, T0) != NULL);
	for (uint32_t i = 0; i < N; i++) {
		struct chat *c;

		s = s * 6364136223846793005ULL + 1442695040888963407ULL;
		len[i] = (uint32_t)(s >> 33) % (i % 10 ? 600 : 9000);
		chat_of[i] = (uint32_t)(s >> 20) % CH;
		c = store_chat(st, chat_of[i]);
		pos[i] = c->hist_n;
		fill(buf, len[i], i);
		check(store_msg_add(st, c, 1, 1, buf, len[i], 0, 0, 0, T0 + i));
	}
	/* Walk back from the newest, summing what was written after. */
	uint64_t after = 0;
	int kept_tail[CH], nkept = 0, ngone = 0;

	for (int c = 0; c < CH; c++)
		kept_tail[c] = 1;
	for (uint32_t i = N; i-- > 0;) {
		const struct chat *c = store_chat(st, chat_of[i]);
		const struct msgrec *m = store_msg_at(st, c, pos[i]);
		uint64_t span = after + len[i];

		if (m) {
			check(same_fill(m, len[i], i));
			check_eq(m->seq, i + 1);
			check_eq(m->chat, chat_of[i]);
			/* kept only below older ones that are kept too */
			check(kept_tail[chat_of[i]]);
		} else {
			kept_tail[chat_of[i]] = 0;
		}
		if (span > LOG)
			check(m == NULL);
		/* Records are at most `over` bytes more than their text, and
		 * one unused lap tail (under 16 KiB) may lie between. */
		if (span + (N - i) * over + 16384 <= LOG) {
			check(m != NULL);
			nkept++;
		}
		ngone += m == NULL;
		after += len[i];
	}
	/* Both bounds were reached many times. */
	check(nkept > 20);
	check(ngone > N / 2);
	store_free(st);
	return 0;
}

/* A message over the log's limit (a quarter of it) is refused and leaves
 * the chat and the sequence as they were; the limit grows with the log. */
static int msg_too_large(void)
{
	static char buf[65536 + 1];
	struct store *st = chat_store(10, 65536, 1);
	size_t lim = 65536 / 4 - sizeof(struct msgrec);
	const struct msgrec *m;
	struct chat *c;

	check(st != NULL);
	memset(buf, 'q', sizeof(buf));
	check(open_chat(st, 0, 0, 0, T0) != NULL);
	c = store_chat(st, 0);
	check(store_msg_add(st, c, 1, 1, "one", 3, 0, 0, 0, T0) != NULL);
	check(store_msg_add(st, c, 1, 1, buf, 65536, 0, 0, 0, T0) == NULL);
	check(store_msg_add(st, c, 1, 1, buf, lim + 1, 0, 0, 0, T0) == NULL);
	check_eq(c->hist_n, 1);
	m = store_msg_add(st, c, 1, 1, buf, lim, 0, 0, 0, T0);
	check(m != NULL);
	check_eq(m->len, lim);
	check_eq(m->seq, 2);
	check_eq(c->hist_n, 2);
	m = store_msg_at(st, c, 0);
	check(m != NULL);
	check_span(m->content, m->len, "one");
	store_free(st);

	st = chat_store(10, 1 << 20, 1);
	check(st != NULL);
	check(open_chat(st, 0, 0, 0, T0) != NULL);
	c = store_chat(st, 0);
	m = store_msg_add(st, c, 1, 1, buf, 65536, 0, 0, 0, T0);
	check(m != NULL && m->len == 65536 && m->content[65535] == 'q');
	store_free(st);
	return 0;
}

/* Message ids: seconds, the instance tag (not the chat id's), sequence. */
static int msg_ids(void)
{
	struct store *st = chat_store(10, 1 << 20, 1);
	const struct msgrec *m;
	char id[25], prev[25] = "";
	struct chat *c;

	check(st != NULL);
	check(open_chat(st, 0, 0, 0, T0) != NULL);
	c = store_chat(st, 0);
	m = store_msg_add(st, c, 1, 1, "x", 1, 0, 0, 0, T0);
	check(m != NULL);
	memset(id, '#', sizeof(id));
	store_msg_id(st, m, id);
	check(strcmp(id, "6553f100" "5b58595e" "00000001") == 0);
	check(strcmp(id, c->id) != 0);
	for (int i = 0; i < 300; i++) {
		m = store_msg_add(st, c, 1, 1, "y", 1, 0, 0, 0,
				  T0 + (int64_t)i * 1000000);
		check(m != NULL);
		store_msg_id(st, m, id);
		check(is_hex24(id));
		check(strcmp(id, prev) != 0);
		check(memcmp(id + 8, "5b58595e", 8) == 0);
		memcpy(prev, id, 25);
	}
	check(strcmp(id, "6553f100" "5b58595e" "0000012d") == 0);
	m = store_msg_add(st, c, 1, 1, "z", 1, 0, 0, 0, T0 + 255000000000LL);
	store_msg_id(st, m, id);
	check(strcmp(id, "6553f1ff" "5b58595e" "0000012e") == 0);
	store_free(st);
	return 0;
}

/* Two logs (two serve threads): each chat's messages go to its owner's
 * log, ids stay unique, one log's churn evicts nothing of the other's,
 * the size limit is a quarter of one log, and an ended chat takes no
 * more. Entries added later never move the ones before. */
static int msg_logs_per_owner(void)
{
	static char big[9000];
	struct store *st = chat_store_logs(100, 65536, 2, 2);
	struct chat *c0, *c1;
	const struct msgrec *m;
	struct participant *p0;
	char id0[25], id1[25];
	uint32_t idx;

	check(st != NULL);
	c0 = open_chat_on(st, 0, 0, 0, T0, 0);
	c1 = open_chat_on(st, 1, 1, 0, T0, 1);
	check(c0 && c1 && c0->owner == 0 && c1->owner == 1);
	check(store_chat_idx(st, c1) == 1 && store_chat(st, 1) == c1);
	m = store_msg_add(st, c0, 1, 1, "a", 1, 0, 0, 0, T0);
	check(m && m->seq == 2);
	store_msg_id(st, m, id0);
	m = store_msg_add(st, c1, 2, 1, "b", 1, 0, 0, 0, T0);
	check(m && m->seq == 3);
	store_msg_id(st, m, id1);
	check(strcmp(id0, id1) != 0);
	/* 32 KiB each: 100 records of 500 bytes overwrite c1's first */
	memset(big, 'z', sizeof(big));
	for (int i = 0; i < 100; i++)
		check(store_msg_add(st, c1, 2, 1, big, 500, 0, 0, 0, T0) != NULL);
	check(store_msg_at(st, c1, 0) == NULL);
	m = store_msg_at(st, c0, 0);
	check(m && m->len == 1 && m->content[0] == 'a');
	check(store_msg_add(st, c0, 1, 1, big, 9000, 0, 0, 0, T0) == NULL);
	check(store_msg_add(st, c0, 1, 1, big, 7000, 0, 0, 0, T0) != NULL);
	check(!store_chat_ended(c0));
	store_chat_end(st, c0, T0 + 1);
	check(store_chat_ended(c0));
	check(store_msg_add(st, c0, 1, 1, "c", 1, 0, 0, 0, T0) == NULL);
	/* past one chunk of 4096: the first participant stays where it was */
	p0 = store_part(st, 0);
	for (unsigned i = 0; i < 5000; i++) {
		char e[32];
		int k = snprintf(e, sizeof(e), "more%u@x.io", i);

		check(store_part_add(st, e, (size_t)k, "pw", 2, "", 0, T0,
				     &idx) == 0);
	}
	check(store_part(st, 0) == p0 && strcmp(p0->email, "p0@x.io") == 0);
	check(store_part_find(st, "more4999@x.io", 13) == idx);
	check(strcmp(store_part(st, idx)->email, "more4999@x.io") == 0);
	store_free(st);
	return 0;
}

TEST_MAIN(T(org_add_find), T(part_add_find), T(part_many),
	  T(part_find_prefix), T(long_strings),
	  T(events), T(queue_fifo), T(queue_desc), T(queue_lock),
	  T(queue_lock_last_event), T(queue_grow), T(chat_ids), T(chat_lists),
	  T(chat_end), T(msg_order), T(msg_history_cap), T(msg_log_wrap),
	  T(msg_log_mixed), T(msg_too_large), T(msg_ids),
	  T(msg_logs_per_owner))
