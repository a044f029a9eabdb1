/*
 * stats: serve's counters as JSON, for GET /stats and the exit report.
 * The key names are a stable interface: esmeload run reads them for its
 * cross-check, and README.md documents them.
 */
#include "serve.h"
#include "store.h"
#include "jsonw.h"
#include "promtext.h"

#include <errno.h>
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
	a->msg_forwarded += LD(b->msg_forwarded);
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

/* Every thread's counters summed: serve's in *all, the engines' own in
 * *sum, and the pool blocks in use. */
static void sum_threads(const struct serve_shared *sh, struct serve_stats *all,
			struct eng_stats *sum, uint64_t *out_blocks,
			uint64_t *in_blocks)
{
	*out_blocks = *in_blocks = 0;
	for (unsigned i = 0; i < sh->nthreads; i++) {
		const struct serve *x = &sh->thr[i];

		add_serve(all, &x->stats);
		add_eng(all, sum, &x->eng.stats);
		*out_blocks += LD(x->eng.out_pool.used);
		*in_blocks += LD(x->eng.in_pool.used) + LD(x->msg_pool.used);
	}
}

/* see serve.h */
long serve_stats_json(struct serve *s, char *buf, size_t cap)
{
	const struct serve_shared *sh = s->sh;
	struct serve_stats all = { 0 };
	const struct serve_stats *t = &all;
	struct eng_stats sum = { 0 };
	const struct eng_stats *es = &sum;
	uint64_t out_blocks, in_blocks;
	struct jw w;

	sum_threads(sh, &all, &sum, &out_blocks, &in_blocks);

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
	kv(&w, "forwarded", t->msg_forwarded);
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

/* ---- the Prometheus text exposition ---- */

static void one(struct prom *m, const char *name, const char *type,
		const char *help, uint64_t v)
{
	prom_family(m, name, type, help);
	prom_u64(m, name, NULL, v);
}

static void queue_sample(void *ctx, uint32_t agency, size_t len)
{
	char l[32];

	snprintf(l, sizeof(l), "agency=\"%u\"", agency);
	prom_u64(ctx, "queue_requests", l, len);
}

/* see serve.h */
long serve_metrics_text(struct serve *s, char *buf, size_t cap)
{
	static const char *const state[4] = {
		"http", "pending", "organizer", "participant"
	};
	struct serve_stats all = { 0 };
	struct eng_stats sum = { 0 };
	uint64_t out_blocks, in_blocks;
	struct prom m;
	char l[64];

	prom_init(&m, buf, cap, "esmeload_serve_");
	sum_threads(s->sh, &all, &sum, &out_blocks, &in_blocks);
	prom_family(&m, "connections", "gauge", "Open connections by state.");
	for (int i = 0; i < 4; i++) {
		snprintf(l, sizeof(l), "state=\"%s\"", state[i]);
		prom_u64(&m, "connections", l, all.conns[i]);
	}
	one(&m, "connections_accepted_total", "counter",
	    "Connections accepted.", all.accepted);
	one(&m, "connections_closed_total", "counter",
	    "Connections closed.", all.closed);
	one(&m, "chats_active", "gauge", "Chats started and not ended.",
	    store_chats_active(s->st));
	one(&m, "chats_started_total", "counter", "Chats started.",
	    store_chats_total(s->st));
	one(&m, "participants", "gauge", "Participant accounts.",
	    store_nparts(s->st));
	one(&m, "chat_requests_total", "counter", "Chat requests accepted.",
	    all.requests_total);
	prom_family(&m, "queue_requests", "gauge",
	       "Chat requests waiting for an organizer, by agency.");
	store_queues(s->st, queue_sample, &m);
	one(&m, "messages_received_total", "counter",
	    "send_message frames received.", all.msg_received);
	one(&m, "messages_stored_total", "counter", "Messages stored.",
	    all.msg_stored);
	prom_family(&m, "messages_sent_total", "counter",
	       "user_message frames queued to connections, by the recipient's role.");
	prom_u64(&m, "messages_sent_total", "role=\"organizer\"", all.msg_sent_org);
	prom_u64(&m, "messages_sent_total", "role=\"participant\"",
	       all.msg_sent - all.msg_sent_org);
	one(&m, "messages_dropped_total", "counter",
	    "user_message frames dropped (slow reader or full thread queue).",
	    all.msg_dropped);
	one(&m, "messages_sent_cross_thread_total", "counter",
	    "Of the frames sent, those stored by another thread.",
	    all.msg_sent_cross);
	one(&m, "messages_forwarded_total", "counter",
	    "Messages received by one thread and stored by their chat's.",
	    all.msg_forwarded);
	prom_family(&m, "frames_total", "counter", "WebSocket frames.");
	prom_u64(&m, "frames_total", "direction=\"in\"", all.frames_in);
	prom_u64(&m, "frames_total", "direction=\"out\"", all.frames_out);
	one(&m, "frames_dropped_total", "counter", "WebSocket frames dropped.",
	    all.frames_dropped);
	one(&m, "received_bytes_total", "counter", "Bytes received.",
	    all.bytes_in);
	one(&m, "sent_bytes_total", "counter", "Bytes handed to the kernel.",
	    all.bytes_out);
	one(&m, "http_requests_total", "counter", "HTTP requests.",
	    all.http_requests);
	prom_family(&m, "errors_total", "counter", "Errors, by kind (see /stats).");
	for (int i = 0; i < E_COUNT; i++) {
		snprintf(l, sizeof(l), "kind=\"%s\"", serve_err_names[i]);
		prom_u64(&m, "errors_total", l, all.err[i]);
	}
	one(&m, "threads", "gauge", "Event loops (--threads).",
	    s->sh->nthreads);
	one(&m, "cross_thread_frames_total", "counter",
	    "Frames queued from one thread to another.", all.cross_queued);
	one(&m, "cross_thread_full_total", "counter",
	    "Frames refused: the other thread's queue was full.",
	    all.cross_full);
	one(&m, "out_blocks", "gauge", "Outbound queue blocks in use.",
	    out_blocks);
	return prom_finish(&m);
}
