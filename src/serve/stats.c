/*
 * stats: serve's counters as JSON, for GET /stats and the exit report.
 * The key names are a stable interface: esmeload run reads them for its
 * cross-check, and README.md documents them.
 */
#include "serve.h"
#include "store.h"
#include "jsonw.h"

#include <stdio.h>

const char *const serve_err_names[E_COUNT] = {
	[E_MALFORMED] = "malformed_message",
	[E_BAD_TYPE] = "invalid_message_type",
	[E_BAD_PAYLOAD] = "invalid_message_payload",
	[E_NO_ACCESS] = "no_access",
	[E_CHAT_NOT_FOUND] = "chat_not_found",
	[E_NOT_SAVED] = "message_not_saved",
	[E_AUTH] = "auth_failed",
	[E_AUTH_TIMEOUT] = "auth_timeout",
	[E_IDLE_TIMEOUT] = "idle_timeout",
	[E_PROTOCOL] = "websocket_protocol",
	[E_TOO_BIG] = "too_big",
	[E_HTTP_BAD] = "http_bad_request",
	[E_HTTP_4XX] = "http_4xx",
	[E_CONN_LIMIT] = "connection_limit",
	[E_SLOW_CLOSED] = "slow_reader_closed",
	[E_NO_MEMORY] = "out_of_memory",
	[E_RECV] = "recv",
	[E_SEND] = "send",
	[E_ENOBUFS] = "recv_enobufs",
};

static void queue_len(void *ctx, uint32_t agency, size_t len)
{
	struct jw *w = ctx;
	char key[16];

	snprintf(key, sizeof(key), "%u", agency);
	jw_key(w, key);
	jw_u64(w, len);
}

static void kv(struct jw *w, const char *k, uint64_t v)
{
	jw_key(w, k);
	jw_u64(w, v);
}

/* see serve.h */
long serve_stats_json(struct serve *s, char *buf, size_t cap)
{
	const struct eng_stats *es = &s->eng.stats;
	struct serve_stats all = s->stats;
	const struct serve_stats *t = &all;
	struct jw w;

	/* What the engine counts of the connections. */
	all.accepted = es->accepted;
	all.closed = es->closed;
	all.bytes_in = es->bytes_in;
	all.bytes_out = es->bytes_out;
	all.err[E_ENOBUFS] += es->enobufs;
	all.err[E_RECV] += es->recv_errors;
	all.err[E_SEND] += es->send_errors;
	all.err[E_CONN_LIMIT] += es->conn_limit;
	all.err[E_TOO_BIG] += es->too_big;
	all.err[E_NO_MEMORY] += es->no_memory;

	jw_init(&w, buf, cap);
	jw_obj_begin(&w);
	jw_key(&w, "connections");
	jw_obj_begin(&w);
	kv(&w, "http", t->conns[0]);
	kv(&w, "pending", t->conns[1]);
	kv(&w, "organizer", t->conns[2]);
	kv(&w, "participant", t->conns[3]);
	kv(&w, "accepted", t->accepted);
	kv(&w, "closed", t->closed);
	jw_obj_end(&w);
	jw_key(&w, "chats");
	jw_obj_begin(&w);
	kv(&w, "active", store_chats_active(s->st));
	kv(&w, "total", store_chats_total(s->st));
	jw_obj_end(&w);
	jw_kv_u64(&w, "participants", store_nparts(s->st));
	kv(&w, "chat_requests", t->requests_total);
	jw_key(&w, "queues");
	jw_obj_begin(&w);
	store_queues(s->st, queue_len, &w);
	jw_obj_end(&w);
	jw_key(&w, "messages");
	jw_obj_begin(&w);
	kv(&w, "received", t->msg_received);
	kv(&w, "stored", t->msg_stored);
	kv(&w, "sent", t->msg_sent);
	kv(&w, "sent_organizer", t->msg_sent_org);
	kv(&w, "sent_participant", t->msg_sent - t->msg_sent_org);
	kv(&w, "dropped", t->msg_dropped);
	jw_obj_end(&w);
	jw_key(&w, "frames");
	jw_obj_begin(&w);
	kv(&w, "in", t->frames_in);
	kv(&w, "out", t->frames_out);
	kv(&w, "dropped", t->frames_dropped);
	jw_obj_end(&w);
	jw_key(&w, "bytes");
	jw_obj_begin(&w);
	kv(&w, "in", t->bytes_in);
	kv(&w, "out", t->bytes_out);
	jw_obj_end(&w);
	kv(&w, "http_requests", t->http_requests);
	jw_key(&w, "memory");
	jw_obj_begin(&w);
	kv(&w, "out_blocks", s->eng.out_pool.used);
	kv(&w, "out_block_bytes", s->eng.out_pool.block_size);
	kv(&w, "in_blocks", s->eng.in_pool.used + s->msg_pool.used);
	jw_obj_end(&w);
	jw_key(&w, "errors");
	jw_obj_begin(&w);
	for (int i = 0; i < E_COUNT; i++)
		kv(&w, serve_err_names[i], t->err[i]);
	jw_obj_end(&w);
	jw_kv_cstr(&w, "ring", eng_ring_mode(&s->eng));
	jw_key(&w, "uring_features");
	jw_obj_begin(&w);
	for (unsigned i = 0; i < RING_F_COUNT; i++) {
		const char *st = eng_feat_state(&s->eng, i);

		if (st)
			jw_kv_cstr(&w, ring_feat_name(i), st);
	}
	jw_obj_end(&w);
	kv(&w, "bundle_bufs", es->bundle_bufs);
	kv(&w, "inc_partial", es->inc_partial);
	jw_obj_end(&w);
	return jw_finish(&w);
}
