/*
 * render: the JSON objects serve sends (docs/protocol.md §3-§4). See
 * serve.h.
 */
#include "serve.h"
#include "store.h"
#include "http.h"
#include "jsonw.h"
#include "timefmt.h"

#include <stdio.h>

/* see serve.h */
void render_time(struct jw *w, int64_t ns)
{
	char buf[TIMEFMT_RFC3339_MAX];
	size_t n;

	if (ns == 0) {
		/* Go's zero time, which ESME shows for "not yet". */
		jw_cstr(w, "0001-01-01T00:00:00Z");
		return;
	}
	n = timefmt_rfc3339(buf, sizeof(buf), ns / 1000000000,
			    (int32_t)(ns % 1000000000 / 1000000 * 1000000), 0,
			    TIMEFMT_NANO_TRIM);
	jw_str(w, buf, n);
}

/* JavaScript's Date.toISOString, which the organizer API (Node) sends:
 * always three fraction digits, UTC. */
static void render_time_js(struct jw *w, int64_t ns)
{
	char buf[TIMEFMT_RFC3339_MAX + 4];
	size_t n = timefmt_rfc3339(buf, sizeof(buf), ns / 1000000000, 0, 0,
				   TIMEFMT_SECONDS);

	if (n == 0 || buf[n - 1] != 'Z') {
		jw_cstr(w, "1970-01-01T00:00:00.000Z");
		return;
	}
	snprintf(buf + n - 1, sizeof(buf) - (n - 1), ".%03dZ",
		 (int)(ns % 1000000000 / 1000000));
	jw_str(w, buf, n + 4);
}

/* see serve.h */
void render_org(struct serve *s, struct jw *w, uint32_t org)
{
	const struct organizer *o = store_org(s->st, org);

	jw_obj_begin(w);
	jw_kv_u64(w, "id", org + 1);
	jw_kv_cstr(w, "email", o->email);
	jw_kv_cstr(w, "firstName", o->first);
	jw_kv_cstr(w, "lastName", o->last);
	jw_kv_cstr(w, "phoneNumber", o->phone);
	jw_key(w, "timeCreated");
	render_time_js(w, o->created_ns);
	jw_key(w, "timeSignOut");
	render_time_js(w, o->signout_ns);
	jw_kv_u64(w, "role", o->role);
	jw_kv_u64(w, "agencyId", o->agency);
	jw_obj_end(w);
}

/* see serve.h */
void render_part(struct serve *s, struct jw *w, uint32_t part, int brief)
{
	const struct participant *p = store_part(s->st, part);

	jw_obj_begin(w);
	jw_kv_u64(w, "id", part + 1);
	jw_kv_cstr(w, "email", p->email);
	jw_kv_cstr(w, "phoneNumber", p->phone);
	if (!brief) {
		jw_key(w, "timeCreated");
		render_time(w, p->created_ns);
		jw_key(w, "timeSignOut");
		render_time(w, p->signout_ns);
	}
	jw_obj_end(w);
}

/* see serve.h */
void render_chat(struct serve *s, struct jw *w, const struct chat *c,
		 int with_participant)
{
	jw_obj_begin(w);
	jw_key(w, "id");
	jw_str(w, c->id, 24);
	jw_kv_u64(w, "agencyId", c->agency);
	jw_kv_u64(w, "eventId", c->event_id);
	jw_kv_u64(w, "organizerId", c->org + 1);
	jw_kv_u64(w, "participantId", c->part + 1);
	jw_kv_u64(w, "ended", c->ended);
	if (c->has_loc & LOC_LAT) {
		jw_key(w, "latStart");
		jw_f64(w, c->lat);
	}
	if (c->has_loc & LOC_LNG) {
		jw_key(w, "lngStart");
		jw_f64(w, c->lng);
	}
	jw_key(w, "timeStart");
	render_time(w, c->start_ns);
	/* ESME's close_chat sets only "ended"; timeEnd keeps Go's zero time
	 * (docs/protocol.md §4, close_chat). */
	jw_key(w, "timeEnd");
	render_time(w, 0);
	if (with_participant) {
		jw_key(w, "participant");
		render_part(s, w, c->part, 1);
	}
	jw_obj_end(w);
}

/* see serve.h */
void render_msg(struct serve *s, struct jw *w, const struct msgrec *m)
{
	char id[25];

	store_msg_id(s->st, m, id);
	jw_obj_begin(w);
	jw_key(w, "id");
	jw_str(w, id, 24);
	jw_key(w, "chatId");
	jw_str(w, store_chat(s->st, m->chat)->id, 24);
	jw_kv_u64(w, "authorId", m->author);
	jw_kv_u64(w, "fromOrganizer", m->from_org);
	jw_key(w, "content");
	jw_str(w, m->content, m->len);
	jw_key(w, "timeSent");
	render_time(w, m->ts_ns);
	if (m->has_loc & LOC_LAT) {
		jw_key(w, "lat");
		jw_f64(w, m->lat);
	}
	if (m->has_loc & LOC_LNG) {
		jw_key(w, "lng");
		jw_f64(w, m->lng);
	}
	jw_obj_end(w);
}

/* see serve.h */
long render_http_error(char *buf, size_t cap, int status, const char *msg)
{
	struct jw w;

	jw_init(&w, buf, cap);
	jw_obj_begin(&w);
	jw_kv_i64(&w, "statusCode", status);
	jw_kv_cstr(&w, "message", msg);
	jw_kv_cstr(&w, "error", http_reason(status));
	jw_obj_end(&w);
	return jw_finish(&w);
}
