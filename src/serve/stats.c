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

/* Another thread's counter: it is the only writer, so a load that
 * cannot tear is its value as of some moment. */
#define LD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

static void add_serve(struct serve_stats *a, const struct serve_stats *b)
{
	a->http_requests += LD(b->http_requests);
	a->msg_received += LD(b->msg_received);
	a->msg_stored += LD(b->msg_stored);
	a->msg_sent += LD(b->msg_sent);
	a->msg_sent_org += LD(b->msg_sent_org);
	a->msg_dropped += LD(b->msg_dropped);
	a->msg_sent_cross += LD(b->msg_sent_cross);
	a->cross_queued += LD(b->cross_queued);
	a->cross_full += LD(b->cross_full);
	a->frames_in += LD(b->frames_in);
	a->frames_out += LD(b->frames_out);
	a->frames_dropped += LD(b->frames_dropped);
	a->requests_total += LD(b->requests_total);
	for (int i = 0; i < 4; i++)
		a->conns[i] += LD(b->conns[i]);
	for (int i = 0; i < E_COUNT; i++)
		a->err[i] += LD(b->err[i]);
}

/* What the engines count of the connections, into a. */
static void add_eng(struct serve_stats *a, struct eng_stats *sum,
		    const struct eng_stats *es)
{
	a->accepted += LD(es->accepted);
	a->closed += LD(es->closed);
	a->bytes_in += LD(es->bytes_in);
	a->bytes_out += LD(es->bytes_out);
	a->err[E_ENOBUFS] += LD(es->enobufs);
	a->err[E_RECV] += LD(es->recv_errors);
	a->err[E_SEND] += LD(es->send_errors);
	a->err[E_CONN_LIMIT] += LD(es->conn_limit);
	a->err[E_TOO_BIG] += LD(es->too_big);
	a->err[E_NO_MEMORY] += LD(es->no_memory);
	sum->bundle_bufs += LD(es->bundle_bufs);
	sum->inc_partial += LD(es->inc_partial);
	sum->msg_posted += LD(es->msg_posted);
	sum->msg_failed += LD(es->msg_failed);
}

/* see serve.h */
long serve_stats_json(struct serve *s, char *buf, size_t cap)
{
	const struct serve_shared *sh = s->sh;
	struct serve_stats all = { 0 };
	const struct serve_stats *t = &all;
	struct eng_stats sum = { 0 };
	const struct eng_stats *es = &sum;
	uint64_t out_blocks = 0, in_blocks = 0;
	struct jw w;

	for (unsigned i = 0; i < sh->nthreads; i++) {
		const struct serve *x = &sh->thr[i];

		add_serve(&all, &x->stats);
		add_eng(&all, &sum, &x->eng.stats);
		out_blocks += LD(x->eng.out_pool.used);
		in_blocks += LD(x->eng.in_pool.used) + LD(x->msg_pool.used);
	}

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
	kv(&w, "sent_cross_thread", t->msg_sent_cross);
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
	kv(&w, "out_blocks", out_blocks);
	kv(&w, "out_block_bytes", s->eng.out_pool.block_size);
	kv(&w, "in_blocks", in_blocks);
	jw_obj_end(&w);
	jw_key(&w, "threads");
	jw_obj_begin(&w);
	kv(&w, "count", sh->nthreads);
	jw_key(&w, "connections");
	jw_arr_begin(&w);
	for (unsigned i = 0; i < sh->nthreads; i++) {
		const struct eng_stats *x = &sh->thr[i].eng.stats;

		jw_u64(&w, LD(x->accepted) - LD(x->closed));
	}
	jw_arr_end(&w);
	jw_key(&w, "websocket");
	jw_arr_begin(&w);
	for (unsigned i = 0; i < sh->nthreads; i++) {
		const uint32_t *k = sh->thr[i].stats.conns;

		jw_u64(&w, (uint64_t)LD(k[2]) + LD(k[3]));
	}
	jw_arr_end(&w);
	kv(&w, "cross_queued", t->cross_queued);
	kv(&w, "cross_full", t->cross_full);
	kv(&w, "wakeups", es->msg_posted);
	kv(&w, "wakeup_errors", es->msg_failed);
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
