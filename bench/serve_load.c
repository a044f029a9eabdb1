/*
 * serve_load: the load client of bench/serve.sh, for `esmeload serve`.
 * Uses the project's codecs (include/http.h, ws.h, json.h); see bench/serve.sh.
 *
 *   serve_load load  --config FILE [--chats N] [--window W] [--duration S]
 *                    [--gate delivered|echo]
 *   serve_load idle  --config FILE [--conns N] [--warm REQUESTS]
 *   serve_load stats --config FILE
 *
 * load: N participants sign up and ask for a chat, the organizer starts N
 *   chats, then (one thread, epoll) every participant keeps W send_message
 *   frames outstanding for S seconds. The organizer receives a copy of
 *   every message (the fan-out) and the client reads it all. With --gate
 *   delivered (the default) a message stops being outstanding once both
 *   its echo and the organizer's copy have arrived, so serve cannot get
 *   ahead of its slowest fan-out target; with --gate echo the echo alone
 *   frees the slot, and whatever serve drops for the organizer shows.
 *   Prints "load_start N W" when the load begins, one JSON line at the end.
 * idle: N participants sign up, then REQUESTS (8192) keep-alive GET
 *   /profile go round serve's receive buffers; "signed_up N" is printed and a line is
 *   awaited on stdin; then N WebSocket connections open and authorize;
 *   once /stats counts them, "ready N" is printed and the connections stay
 *   open until stdin gives another line or ends.
 * stats: GET /stats from the messenger port, printed as "a.b.c value"
 *   lines (numbers only), so a shell script can read it, after a
 *   "time.monotonic_s" line: CLOCK_MONOTONIC when the request left.
 *
 * IMPLEMENTATION NOTES
 * - Setup runs over blocking sockets, one request at a time: it is not
 *   what is measured, and it keeps serve's per-connection out-limit from
 *   ever dropping a setup reply.
 * - Setup keeps its HTTP connections open until the end: a connection
 *   closed just before the next one is accepted can take that one down
 *   with it in serve as of this writing (bench/SERVE_RESULTS.md, "bugs");
 *   the benchmark measures throughput, so it does not provoke that.
 * - A participant's chat contains only its own messages (the organizer
 *   never writes), so every user_message on a participant's connection is
 *   one of its echoes; the client checks the envelope type only and does
 *   not parse the JSON of load-phase frames, to stay cheaper per message
 *   than the server it measures.
 * - Frames are masked with a fresh key from a xorshift generator seeded by
 *   getrandom: RFC 6455 wants unpredictable keys against proxy cache
 *   poisoning; for a benchmark on loopback a fast PRNG is enough, but the
 *   server must still unmask every frame, as it would in production.
 */
#include "http.h"
#include "json.h"
#include "ws.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HTTP_BUF (64 * 1024)
#define TOKEN_MAX 1024
#define ORG_RBUF (1024 * 1024)
#define PART_RBUF (64 * 1024)
#define FRAME_MAX 512 /* one send_message frame, header included */

struct target {
	char host[64];    /* "127.0.0.1" */
	char hostport[80]; /* Host header: "127.0.0.1:port" */
	struct sockaddr_in sa;
};

struct config {
	struct target org, part, msgr;
	char email[256], password[256];
	int64_t event_id;
};

/* A blocking keep-alive HTTP client connection. */
struct hconn {
	const struct target *t;
	int fd;
	size_t len;
	char buf[HTTP_BUF];
};

/* Inbound WebSocket bytes: frames are parsed at off, len is the fill. */
struct rd {
	uint8_t *buf;
	size_t cap, len, off;
};

struct part {
	int64_t uid;
	char token[TOKEN_MAX];
	char chat[32];
};

/* A load-phase connection. */
struct lconn {
	int fd;
	int is_org;
	struct rd r;
	uint8_t *wbuf;
	size_t wcap, wlen, woff;
	int want_out;        /* EPOLLOUT armed */
	int dirty;           /* on the load's dirty list */
	uint64_t next_k;     /* the last message number used */
	uint64_t sent, echoes, frames;
	uint64_t orgcopies;  /* the organizer's copies of its messages */
	char chat[32];
	char local[48];
};

static uint64_t rng_state;

static uint64_t rng_next(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static void rng_mask(uint8_t m[4])
{
	uint32_t v = (uint32_t)(rng_next() >> 16);

	memcpy(m, &v, 4);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "serve_load: %s: %s\n", what,
		err ? strerror(err < 0 ? -err : err) : "failed");
	exit(1);
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t w = write(fd, c, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* ---- configuration ---- */

static int target_set(struct target *t, const char *url, size_t n)
{
	struct http_url u;

	if (http_url_parse(&u, url, n) < 0 || u.tls || u.host_len >= sizeof(t->host))
		return -EINVAL;
	memcpy(t->host, u.host, u.host_len);
	t->host[u.host_len] = 0;
	memset(&t->sa, 0, sizeof(t->sa));
	t->sa.sin_family = AF_INET;
	t->sa.sin_port = htons(u.port);
	/* An IPv4 literal only: the benchmark talks to 127.0.0.1. */
	if (inet_pton(AF_INET, t->host, &t->sa.sin_addr) != 1)
		return -EINVAL;
	snprintf(t->hostport, sizeof(t->hostport), "%s:%u", t->host,
		 (unsigned)u.port);
	return 0;
}

static int cfg_str(const struct json_doc *d, const char *key, char *dst,
		   size_t cap)
{
	size_t n;
	int t = json_find(d, 0, key);

	if (t < 0)
		return t;
	return json_get_str(d, t, dst, cap, &n);
}

static void config_load(struct config *c, const char *path)
{
	static char text[8192];
	char url[512];
	jsmntok_t toks[64];
	struct json_doc d;
	FILE *f = fopen(path, "r");
	size_t n;
	int t;

	if (!f)
		die(path, errno);
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	if (json_parse(&d, text, n, toks, 64) < 0 || json_type(&d, 0) != JSMN_OBJECT)
		die("config: not a JSON object", 0);
	if (cfg_str(&d, "organizer_email", c->email, sizeof(c->email)) < 0 ||
	    cfg_str(&d, "organizer_password", c->password, sizeof(c->password)) < 0)
		die("config: organizer_email/organizer_password", 0);
	if ((t = json_find(&d, 0, "event_id")) < 0 ||
	    json_get_i64(&d, t, &c->event_id) < 0)
		die("config: event_id", 0);
	if (cfg_str(&d, "organizer_api_url", url, sizeof(url)) < 0 ||
	    target_set(&c->org, url, strlen(url)) < 0)
		die("config: organizer_api_url", 0);
	if (cfg_str(&d, "participant_api_url", url, sizeof(url)) < 0 ||
	    target_set(&c->part, url, strlen(url)) < 0)
		die("config: participant_api_url", 0);
	if (cfg_str(&d, "messenger_ws_url", url, sizeof(url)) < 0 ||
	    target_set(&c->msgr, url, strlen(url)) < 0)
		die("config: messenger_ws_url", 0);
}

/* ---- sockets ---- */

static int tcp_connect(const struct target *t)
{
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)&t->sa, sizeof(t->sa)) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* ---- HTTP (setup) ---- */

/*
 * One request and its response on a keep-alive connection. The body is
 * copied into out (NUL-terminated). Returns the status or -errno.
 */
static int http_call(struct hconn *h, const char *method, const char *path,
		     const char *token, const char *body, char *out,
		     size_t cap)
{
	char req[4096], extra[TOKEN_MAX + 64];
	struct http_response r;
	size_t n, total;
	long hl = HTTP_PARTIAL;
	int err;

	if (h->fd < 0) {
		h->fd = tcp_connect(h->t);
		if (h->fd < 0)
			return h->fd;
		h->len = 0;
	}
	extra[0] = 0;
	if (token)
		snprintf(extra, sizeof(extra), "Authorization: Bearer %s\r\n",
			 token);
	n = http_request_write(req, sizeof(req), method, h->t->hostport, path,
			       extra[0] ? extra : NULL, body,
			       body ? strlen(body) : 0);
	if (!n)
		return -ENOSPC;
	err = write_all(h->fd, req, n);
	if (err < 0)
		return err;
	for (;;) {
		ssize_t got;

		if (h->len) {
			hl = http_response_parse(&r, h->buf, h->len, sizeof(h->buf));
			if (hl > 0 && r.chunked)
				return -EPROTO; /* serve sends Content-Length */
			if (hl > 0 && r.content_length >= 0 &&
			    h->len >= (size_t)hl + (size_t)r.content_length)
				break;
			if (hl != HTTP_PARTIAL && hl <= 0)
				return -EPROTO;
		}
		if (h->len == sizeof(h->buf))
			return -EMSGSIZE;
		got = read(h->fd, h->buf + h->len, sizeof(h->buf) - h->len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return got < 0 ? -errno : -ECONNRESET;
		h->len += (size_t)got;
	}
	total = (size_t)hl + (size_t)r.content_length;
	if ((size_t)r.content_length >= cap)
		return -EMSGSIZE;
	memcpy(out, h->buf + hl, (size_t)r.content_length);
	out[r.content_length] = 0;
	memmove(h->buf, h->buf + total, h->len - total);
	h->len -= total;
	if (!r.keep_alive) {
		close(h->fd);
		h->fd = -1;
	}
	return r.status;
}

static void hconn_close(struct hconn *h)
{
	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
}

/* The "token" (and user.id when uid is non-NULL) of an auth response. */
static int auth_reply(const char *body, char *token, int64_t *uid)
{
	jsmntok_t toks[128];
	struct json_doc d;
	size_t n;
	int t, u;

	if (json_parse(&d, body, strlen(body), toks, 128) < 0 ||
	    json_type(&d, 0) != JSMN_OBJECT ||
	    (t = json_find(&d, 0, "token")) < 0 ||
	    json_get_str(&d, t, token, TOKEN_MAX, &n) < 0)
		return -EPROTO;
	if (!uid)
		return 0;
	if ((u = json_find(&d, 0, "user")) < 0 ||
	    (t = json_find(&d, u, "id")) < 0 || json_get_i64(&d, t, uid) < 0)
		return -EPROTO;
	return 0;
}

/*
 * Sign up participants [0, n): token and id of each, over h (a participant
 * API connection, which the caller closes when setup is over).
 */
static void sign_up_all(struct hconn *h, struct part *p, unsigned n,
			int64_t event_id, int with_request)
{
	char body[1024], resp[8192];
	unsigned long tag = (unsigned long)time(NULL);
	int st;

	for (unsigned i = 0; i < n; i++) {
		snprintf(body, sizeof(body),
			 "{\"email\":\"bench_%lu_%d_%u@performance.com\","
			 "\"password\":\"performance\","
			 "\"confirmPassword\":\"performance\","
			 "\"phoneNumber\":\"+48100200300\"}",
			 tag, (int)getpid(), i);
		st = http_call(h, "POST", "/auth/sign-up", NULL, body, resp,
			       sizeof(resp));
		if (st != 201) {
			fprintf(stderr, "serve_load: sign-up %u: status %d %s\n",
				i, st, st > 0 ? resp : "");
			exit(1);
		}
		if (auth_reply(resp, p[i].token, &p[i].uid) < 0)
			die("sign-up reply", 0);
		if (!with_request)
			continue;
		snprintf(body, sizeof(body),
			 "{\"eventId\":%" PRId64 ",\"description\":"
			 "\"Performance test chat request\"}", event_id);
		st = http_call(h, "POST", "/chat-requests", p[i].token, body,
			       resp, sizeof(resp));
		if (st != 200) {
			fprintf(stderr, "serve_load: chat request %u: status %d %s\n",
				i, st, st > 0 ? resp : "");
			exit(1);
		}
	}
}

/* ---- WebSocket ---- */

/*
 * The next frame at r->off: returns its length (> 0) with *f filled, 0
 * when more bytes are needed (the buffer is compacted first), or a
 * negative ws_status.
 */
static long rd_next(struct rd *r, struct ws_frame *f)
{
	long n = ws_frame_parse(f, r->buf + r->off, r->len - r->off,
				WS_ROLE_CLIENT, r->cap / 2);

	if (n > 0) {
		r->off += (size_t)n;
		return n;
	}
	if (n != WS_PARTIAL)
		return n;
	if (r->off) {
		memmove(r->buf, r->buf + r->off, r->len - r->off);
		r->len -= r->off;
		r->off = 0;
	}
	return 0;
}

/* The next text frame from a blocking socket; its payload in *p, *n. */
static int rd_text_blocking(int fd, struct rd *r, uint8_t **p, size_t *n)
{
	struct ws_frame f;

	for (;;) {
		long k = rd_next(r, &f);
		ssize_t got;

		if (k > 0) {
			if (f.opcode == WS_OP_CLOSE)
				return -ECONNRESET;
			if (f.opcode != WS_OP_TEXT || !f.fin)
				continue; /* ping, pong: serve sends none */
			*p = f.payload;
			*n = (size_t)f.payload_len;
			return 0;
		}
		if (k < 0)
			return -EPROTO;
		if (r->len == r->cap)
			return -EMSGSIZE;
		got = read(fd, r->buf + r->len, r->cap - r->len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return got < 0 ? -errno : -ECONNRESET;
		r->len += (size_t)got;
	}
}

static int ws_send_text(int fd, const char *s, size_t n)
{
	uint8_t frame[TOKEN_MAX + 256], mask[4];
	size_t len;

	rng_mask(mask);
	len = ws_frame_encode(frame, sizeof(frame), 1, WS_OP_TEXT, s, n, mask);
	if (!len)
		return -ENOSPC;
	return write_all(fd, frame, len);
}

/*
 * Open a WebSocket to the messenger and send the authorization frame.
 * Bytes read past the 101 head are left in r (may be NULL: none expected).
 * Returns the descriptor or -errno.
 */
static int ws_open(const struct target *t, const char *token, struct rd *r)
{
	char req[1024], head[4096], key[WS_KEY_LEN + 1], auth[TOKEN_MAX + 64];
	uint8_t rnd[16];
	struct http_response resp;
	const struct http_header *acc;
	size_t len = 0, n;
	long hl;
	int fd, err;

	for (int i = 0; i < 16; i += 8) {
		uint64_t v = rng_next();

		memcpy(rnd + i, &v, 8);
	}
	ws_client_key(key, rnd);
	fd = tcp_connect(t);
	if (fd < 0)
		return fd;
	n = ws_client_request(req, sizeof(req), t->hostport, "/connect", key);
	err = n ? write_all(fd, req, n) : -ENOSPC;
	if (err < 0)
		goto out_close;
	for (;;) {
		ssize_t got = read(fd, head + len, sizeof(head) - len);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			err = got < 0 ? -errno : -ECONNRESET;
			goto out_close;
		}
		len += (size_t)got;
		hl = http_response_parse(&resp, head, len, sizeof(head));
		if (hl > 0)
			break;
		if (hl != HTTP_PARTIAL) {
			err = -EPROTO;
			goto out_close;
		}
	}
	acc = http_header_find(resp.headers, resp.num_headers,
			       "Sec-WebSocket-Accept");
	if (resp.status != 101 || !acc ||
	    !ws_client_accept_ok(key, acc->value, acc->value_len)) {
		err = -EPROTO;
		goto out_close;
	}
	if ((size_t)hl < len) {
		if (!r || len - (size_t)hl > r->cap - r->len) {
			err = -EPROTO;
			goto out_close;
		}
		memcpy(r->buf + r->len, head + hl, len - (size_t)hl);
		r->len += len - (size_t)hl;
	}
	n = (size_t)snprintf(auth, sizeof(auth),
			     "{\"Authorization\":\"Bearer %s\"}", token);
	err = ws_send_text(fd, auth, n);
	if (err < 0)
		goto out_close;
	return fd;
out_close:
	close(fd);
	return err;
}

/* "type" of an envelope is at the start: serve writes it first. */
static int env_type_is(const uint8_t *p, size_t n, const char *type)
{
	char want[64];
	int k = snprintf(want, sizeof(want), "{\"type\":\"%s\"", type);

	return n >= (size_t)k && memcmp(p, want, (size_t)k) == 0;
}

/* ---- /stats ---- */

static void flatten(const struct json_doc *d, int t, char *path, size_t pl,
		    int *next)
{
	const jsmntok_t *k = &d->tok[t];

	if (k->type == JSMN_OBJECT) {
		int i = t + 1;

		for (int c = 0; c < k->size; c++) {
			const jsmntok_t *key = &d->tok[i];
			int kl = key->end - key->start;
			size_t npl = pl;

			if (npl + (size_t)kl + 2 < 512) {
				if (npl)
					path[npl++] = '.';
				memcpy(path + npl, d->js + key->start, (size_t)kl);
				npl += (size_t)kl;
				path[npl] = 0;
			}
			flatten(d, i + 1, path, npl, &i);
			path[pl] = 0;
		}
		*next = i;
		return;
	}
	if (k->type == JSMN_PRIMITIVE && pl)
		printf("%s %.*s\n", path, k->end - k->start, d->js + k->start);
	*next = json_next(d, t);
}

static int stats_get(const struct config *c, char *body, size_t cap,
		     struct json_doc *d, jsmntok_t *toks, unsigned ntok)
{
	static struct hconn h;
	int st;

	h.t = &c->msgr;
	h.fd = -1;
	st = http_call(&h, "GET", "/stats", NULL, NULL, body, cap);
	hconn_close(&h);
	if (st != 200)
		return st < 0 ? st : -EPROTO;
	if (json_parse(d, body, strlen(body), toks, ntok) < 0 ||
	    json_type(d, 0) != JSMN_OBJECT)
		return -EPROTO;
	return 0;
}

static int cmd_stats(const struct config *c)
{
	static char body[65536];
	static jsmntok_t toks[1024];
	struct json_doc d;
	char path[512] = "";
	double t = now_s();
	int next, err = stats_get(c, body, sizeof(body), &d, toks, 1024);

	/* Retried: see "bugs" in bench/SERVE_RESULTS.md. */
	for (int tries = 1; err < 0 && tries < 3; tries++) {
		usleep(20000);
		t = now_s();
		err = stats_get(c, body, sizeof(body), &d, toks, 1024);
	}
	if (err < 0)
		die("GET /stats", err);
	/* When the sample was taken, for rates over a window. */
	printf("time.monotonic_s %.6f\n", t);
	flatten(&d, 0, path, 0, &next);
	return 0;
}

static int64_t stats_participants(const struct config *c)
{
	static char body[65536];
	static jsmntok_t toks[1024];
	struct json_doc d;
	int64_t v = -1;
	int t;

	if (stats_get(c, body, sizeof(body), &d, toks, 1024) < 0 ||
	    (t = json_find(&d, 0, "connections")) < 0 ||
	    (t = json_find(&d, t, "participant")) < 0 ||
	    json_get_i64(&d, t, &v) < 0)
		return -1;
	return v;
}

/* ---- idle ---- */

static int wait_line(void)
{
	char line[64];

	return fgets(line, sizeof(line), stdin) ? 0 : -1;
}

static int cmd_idle(const struct config *c, unsigned n, unsigned warm)
{
	struct part *p = calloc(n, sizeof(*p));
	int *fds = calloc(n, sizeof(*fds));
	struct hconn *ph = calloc(1, sizeof(*ph));
	double t0;
	int64_t have = -1;

	if (!p || !fds || !ph)
		die("calloc", ENOMEM);
	ph->t = &c->part;
	ph->fd = -1;
	sign_up_all(ph, p, n, c->event_id, 0);
	/*
	 * serve receives into a ring of provided buffers that are touched
	 * (and become resident) one by one as receives go round it; that is
	 * a fixed cost, not a per-connection one. Enough requests to go
	 * round it twice (4096 x 4 KiB by default) before the baseline
	 * keep it out of the difference.
	 */
	for (unsigned i = 0; i < warm; i++) {
		char resp[1024];
		int st = http_call(ph, "GET", "/profile", p[0].token, NULL,
				   resp, sizeof(resp));

		if (st != 200)
			die("GET /profile (warm-up)", st < 0 ? st : 0);
	}
	printf("signed_up %u\n", n);
	fflush(stdout);
	wait_line();
	t0 = now_s();
	for (unsigned i = 0; i < n; i++) {
		fds[i] = ws_open(&c->msgr, p[i].token, NULL);
		if (fds[i] < 0)
			die("idle WebSocket connect", fds[i]);
	}
	/* The last authorization frames may still be in flight: wait until
	 * serve counts every connection as an authorized participant. */
	for (int tries = 0; tries < 200; tries++) {
		have = stats_participants(c);
		if (have >= (int64_t)n)
			break;
		usleep(50000);
	}
	if (have < (int64_t)n) {
		fprintf(stderr, "serve_load: idle: serve counts %" PRId64
			" participant connections, want %u\n", have, n);
		return 1;
	}
	printf("ready %u %.3f\n", n, now_s() - t0);
	fflush(stdout);
	wait_line();
	for (unsigned i = 0; i < n; i++)
		close(fds[i]);
	hconn_close(ph);
	free(ph);
	free(fds);
	free(p);
	return 0;
}

/* ---- load ---- */

struct load {
	int ep;
	unsigned n, window;
	int gate_org;        /* a slot frees when the organizer's copy is in too */
	int sending;         /* 0 once the duration is over */
	struct lconn *l;     /* n participants, then the organizer */
	uint32_t *chat_tab;  /* open addressing: chat id -> participant */
	uint32_t chat_mask;
	uint32_t *dirty;     /* participants to flush after an organizer read */
	uint32_t ndirty;
	uint64_t errors, closes, other, unknown_chat;
	int reported;
};

static uint32_t chat_hash(const char *id)
{
	uint32_t h = 2166136261u; /* FNV-1a over the 24 hex characters */

	for (int i = 0; i < 24; i++)
		h = (h ^ (uint8_t)id[i]) * 16777619u;
	return h;
}

static void chat_put(struct load *L, uint32_t idx)
{
	uint32_t i = chat_hash(L->l[idx].chat) & L->chat_mask;

	while (L->chat_tab[i] != UINT32_MAX)
		i = (i + 1) & L->chat_mask;
	L->chat_tab[i] = idx;
}

static struct lconn *chat_get(struct load *L, const char *id)
{
	uint32_t i = chat_hash(id) & L->chat_mask;

	for (; L->chat_tab[i] != UINT32_MAX; i = (i + 1) & L->chat_mask)
		if (memcmp(L->l[L->chat_tab[i]].chat, id, 24) == 0)
			return &L->l[L->chat_tab[i]];
	return NULL;
}

/* Queue one send_message frame on a participant connection. */
static int queue_msg(struct lconn *l)
{
	char text[FRAME_MAX];
	uint8_t mask[4];
	size_t n, len;

	if (l->wcap - l->wlen < FRAME_MAX)
		return -ENOSPC;
	n = (size_t)snprintf(text, sizeof(text),
			     "{\"type\":\"send_message\",\"payload\":"
			     "{\"chatId\":\"%s\",\"message\":\"connection %s: "
			     "message number %" PRIu64 "\"}}",
			     l->chat, l->local, ++l->next_k);
	rng_mask(mask);
	len = ws_frame_encode(l->wbuf + l->wlen, l->wcap - l->wlen, 1,
			      WS_OP_TEXT, text, n, mask);
	if (!len)
		return -ENOSPC;
	l->wlen += len;
	l->sent++;
	return 0;
}

/*
 * Keep the participant's window full. A message is outstanding until its
 * echo arrived and, with gate_org, the organizer's copy as well.
 */
static void top_up(struct load *L, struct lconn *l)
{
	for (;;) {
		uint64_t done = l->echoes;

		if (L->gate_org && l->orgcopies < done)
			done = l->orgcopies;
		if (!L->sending || l->sent - done >= L->window ||
		    queue_msg(l) < 0)
			return;
	}
}

/* Write what is queued; arm EPOLLOUT when the socket is full. */
static int flush_out(int ep, struct lconn *l)
{
	while (l->woff < l->wlen) {
		ssize_t w = write(l->fd, l->wbuf + l->woff, l->wlen - l->woff);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -errno;
			break;
		}
		l->woff += (size_t)w;
	}
	if (l->woff == l->wlen)
		l->woff = l->wlen = 0;
	int want = l->wlen != 0;

	if (want != l->want_out) {
		struct epoll_event ev = {
			.events = EPOLLIN | (want ? EPOLLOUT : 0),
			.data.ptr = l,
		};

		if (epoll_ctl(ep, EPOLL_CTL_MOD, l->fd, &ev) < 0)
			return -errno;
		l->want_out = want;
	}
	return 0;
}

/* The organizer's copy of a message: credit the participant it came from. */
static void org_copy(struct load *L, const uint8_t *p, size_t n)
{
	static const char key[] = "\"chatId\":\"";
	const uint8_t *k = memmem(p, n, key, sizeof(key) - 1);
	struct lconn *x;

	if (!k || (size_t)(p + n - k) < sizeof(key) - 1 + 24 ||
	    !(x = chat_get(L, (const char *)k + sizeof(key) - 1))) {
		L->unknown_chat++;
		return;
	}
	x->orgcopies++;
	if (!L->gate_org || x->fd < 0)
		return;
	top_up(L, x);
	if (x->wlen && !x->dirty) {
		x->dirty = 1;
		L->dirty[L->ndirty++] = (uint32_t)(x - L->l);
	}
}

/* Read and handle what a connection has; 0 or -errno (connection lost). */
static int on_readable(struct load *L, struct lconn *l)
{
	struct ws_frame f;
	ssize_t got;
	long k;

	if (l->r.len == l->r.cap)
		return -EMSGSIZE;
	got = read(l->fd, l->r.buf + l->r.len, l->r.cap - l->r.len);
	if (got < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	if (got == 0)
		return -ECONNRESET;
	l->r.len += (size_t)got;
	while ((k = rd_next(&l->r, &f)) > 0) {
		size_t n = (size_t)f.payload_len;

		if (f.opcode == WS_OP_CLOSE) {
			L->closes++;
			return -ECONNRESET;
		}
		if (f.opcode != WS_OP_TEXT || !f.fin)
			continue;
		l->frames++;
		if (env_type_is(f.payload, n, "user_message")) {
			l->echoes++;
			if (l->is_org)
				org_copy(L, f.payload, n);
			else
				top_up(L, l);
			continue;
		}
		if (env_type_is(f.payload, n, "error")) {
			L->errors++;
			if (!L->reported++)
				fprintf(stderr, "serve_load: server error: %.*s\n",
					(int)(n > 200 ? 200 : n), f.payload);
			continue;
		}
		L->other++;
	}
	if (k < 0)
		return -EPROTO;
	return l->is_org ? 0 : flush_out(L->ep, l);
}

static void conn_lost(struct load *L, struct lconn *x, int err,
		      uint64_t *lost)
{
	/* Reported, not fatal: the rest of the run still measures. */
	fprintf(stderr, "serve_load: %s connection lost: %s\n",
		x->is_org ? "organizer" : "participant", strerror(-err));
	epoll_ctl(L->ep, EPOLL_CTL_DEL, x->fd, NULL);
	close(x->fd);
	x->fd = -1;
	(*lost)++;
}

/* The organizer starts n chats; chat ids go to the participants by uid. */
static void start_chats(const struct config *c, struct hconn *h,
			struct part *p, unsigned n, int *org_fd, struct rd *r)
{
	char token[TOKEN_MAX], body[1024], resp[8192];
	jsmntok_t toks[128];
	struct json_doc d;
	int64_t maxuid = 0;
	uint32_t *by_uid;
	unsigned chats = 0, descs = 0;
	int st, fd;

	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"%s\"}",
		 c->email, c->password);
	st = http_call(h, "POST", "/auth/sign-in", NULL, body, resp,
		       sizeof(resp));
	if (st != 200 || auth_reply(resp, token, NULL) < 0) {
		fprintf(stderr, "serve_load: organizer sign-in: %d %s\n", st,
			st > 0 ? resp : "");
		exit(1);
	}
	for (unsigned i = 0; i < n; i++)
		if (p[i].uid > maxuid)
			maxuid = p[i].uid;
	by_uid = malloc(((size_t)maxuid + 1) * sizeof(*by_uid));
	if (!by_uid)
		die("malloc", ENOMEM);
	memset(by_uid, 0xff, ((size_t)maxuid + 1) * sizeof(*by_uid));
	for (unsigned i = 0; i < n; i++)
		if (p[i].uid >= 0)
			by_uid[p[i].uid] = i;
	fd = ws_open(&c->msgr, token, r);
	if (fd < 0)
		die("organizer WebSocket", fd);
	/* One start_chat at a time, reading its new_chat and the description
	 * message, so no reply ever waits behind the out-limit. */
	for (unsigned i = 0; i < n; i++) {
		static const char sc[] = "{\"type\":\"start_chat\",\"payload\":\"\"}";

		st = ws_send_text(fd, sc, sizeof(sc) - 1);
		if (st < 0)
			die("start_chat", st);
		while (chats < i + 1 || descs < i + 1) {
			uint8_t *pl = NULL;
			size_t pn = 0, idn;
			int64_t uid;
			int t, q;

			st = rd_text_blocking(fd, r, &pl, &pn);
			if (st < 0)
				die("organizer read", st);
			if (env_type_is(pl, pn, "user_message")) {
				descs++;
				continue;
			}
			if (!env_type_is(pl, pn, "new_chat")) {
				fprintf(stderr, "serve_load: start_chat %u: %.*s\n",
					i, (int)pn, pl);
				exit(1);
			}
			if (json_parse(&d, (const char *)pl, pn, toks, 128) < 0 ||
			    (q = json_find(&d, 0, "payload")) < 0 ||
			    (t = json_find(&d, q, "participantId")) < 0 ||
			    json_get_i64(&d, t, &uid) < 0 || uid < 0 ||
			    uid > maxuid || by_uid[uid] == UINT32_MAX ||
			    (t = json_find(&d, q, "id")) < 0 ||
			    json_get_str(&d, t, p[by_uid[uid]].chat,
					 sizeof(p[0].chat), &idn) < 0)
				die("new_chat payload", 0);
			chats++;
		}
	}
	free(by_uid);
	*org_fd = fd;
}

static int cmd_load(const struct config *c, unsigned n, unsigned window,
		    double duration, int gate_org)
{
	struct load L = { .n = n, .window = window, .gate_org = gate_org };
	struct part *p = calloc(n, sizeof(*p));
	struct epoll_event *evs = calloc(1024, sizeof(*evs));
	struct hconn *ph = calloc(1, sizeof(*ph)), *oh = calloc(1, sizeof(*oh));
	struct lconn *org;
	double t0, t1, tend, tnow;
	uint64_t sent = 0, echoes = 0, copies = 0, lost = 0;
	uint32_t tab = 1;
	int org_fd;

	while (tab < 2 * n)
		tab <<= 1;
	L.l = calloc(n + 1, sizeof(*L.l));
	L.chat_tab = malloc(tab * sizeof(*L.chat_tab));
	L.chat_mask = tab - 1;
	L.dirty = calloc(n, sizeof(*L.dirty));
	if (!p || !L.l || !evs || !ph || !oh || !L.chat_tab || !L.dirty)
		die("calloc", ENOMEM);
	memset(L.chat_tab, 0xff, tab * sizeof(*L.chat_tab));
	org = &L.l[n];
	org->r.cap = ORG_RBUF;
	org->r.buf = malloc(ORG_RBUF);
	if (!org->r.buf)
		die("malloc", ENOMEM);
	org->is_org = 1;

	t0 = now_s();
	ph->t = &c->part;
	ph->fd = -1;
	oh->t = &c->org;
	oh->fd = -1;
	sign_up_all(ph, p, n, c->event_id, 1);
	start_chats(c, oh, p, n, &org_fd, &org->r);
	org->fd = org_fd;
	for (unsigned i = 0; i < n; i++) {
		struct lconn *l = &L.l[i];
		struct sockaddr_in sa;
		socklen_t sl = sizeof(sa);
		char ip[INET_ADDRSTRLEN];

		l->r.cap = PART_RBUF;
		l->r.buf = malloc(PART_RBUF);
		l->wcap = (size_t)window * FRAME_MAX + FRAME_MAX;
		l->wbuf = malloc(l->wcap);
		if (!l->r.buf || !l->wbuf)
			die("malloc", ENOMEM);
		if (strlen(p[i].chat) != 24)
			die("a participant got no chat", 0);
		memcpy(l->chat, p[i].chat, sizeof(l->chat));
		chat_put(&L, i);
		l->fd = ws_open(&c->msgr, p[i].token, &l->r);
		if (l->fd < 0)
			die("participant WebSocket", l->fd);
		getsockname(l->fd, (struct sockaddr *)&sa, &sl);
		inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof(ip));
		snprintf(l->local, sizeof(l->local), "%s:%u", ip,
			 (unsigned)ntohs(sa.sin_port));
	}
	t1 = now_s();

	L.ep = epoll_create1(EPOLL_CLOEXEC);
	if (L.ep < 0)
		die("epoll_create1", errno);
	for (unsigned i = 0; i <= n; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &L.l[i] };
		int fl = fcntl(L.l[i].fd, F_GETFL);

		if (fl < 0 || fcntl(L.l[i].fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
		    epoll_ctl(L.ep, EPOLL_CTL_ADD, L.l[i].fd, &ev) < 0)
			die("epoll_ctl", errno);
	}

	/* The load phase: everyone starts with a full window. The driver
	 * starts its warm-up when it sees this line. */
	printf("load_start %u %u\n", n, window);
	fflush(stdout);
	tnow = now_s();
	tend = tnow + duration;
	L.sending = 1;
	for (unsigned i = 0; i < n; i++) {
		int err;

		top_up(&L, &L.l[i]);
		err = flush_out(L.ep, &L.l[i]);
		if (err < 0)
			die("write", err);
	}
	while (tnow < tend) {
		int ms = (int)((tend - tnow) * 1000) + 1;
		int ne = epoll_wait(L.ep, evs, 1024, ms > 100 ? 100 : ms);

		if (ne < 0 && errno != EINTR)
			die("epoll_wait", errno);
		tnow = now_s();
		L.sending = tnow < tend;
		for (int e = 0; e < ne; e++) {
			struct lconn *x = evs[e].data.ptr;
			int err = 0;

			if (x->fd < 0)
				continue;
			if (evs[e].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
				err = on_readable(&L, x);
			if (!err && (evs[e].events & EPOLLOUT))
				err = flush_out(L.ep, x);
			if (err < 0)
				conn_lost(&L, x, err, &lost);
		}
		/* Participants whose window the organizer's copies opened. */
		for (uint32_t i = 0; i < L.ndirty; i++) {
			struct lconn *x = &L.l[L.dirty[i]];
			int err;

			x->dirty = 0;
			if (x->fd >= 0 && (err = flush_out(L.ep, x)) < 0)
				conn_lost(&L, x, err, &lost);
		}
		L.ndirty = 0;
	}
	for (unsigned i = 0; i < n; i++) {
		sent += L.l[i].sent;
		echoes += L.l[i].echoes;
		copies += L.l[i].orgcopies;
	}
	printf("{\"mode\":\"load\",\"chats\":%u,\"window\":%u,\"gate\":\"%s\","
	       "\"setup_s\":%.3f,\"duration_s\":%.3f,\"sent\":%" PRIu64
	       ",\"echoes\":%" PRIu64 ",\"organizer_copies\":%" PRIu64
	       ",\"echoes_per_s\":%.0f,\"organizer_per_s\":%.0f,"
	       "\"errors\":%" PRIu64 ",\"other_frames\":%" PRIu64
	       ",\"unknown_chat\":%" PRIu64 ",\"closes\":%" PRIu64
	       ",\"lost_connections\":%" PRIu64 "}\n",
	       n, window, gate_org ? "delivered" : "echo", t1 - t0, duration,
	       sent, echoes, copies, (double)echoes / duration,
	       (double)copies / duration, L.errors, L.other, L.unknown_chat,
	       L.closes, lost);
	fflush(stdout);
	for (unsigned i = 0; i <= n; i++) {
		if (L.l[i].fd >= 0)
			close(L.l[i].fd);
		free(L.l[i].r.buf);
		free(L.l[i].wbuf);
	}
	hconn_close(ph);
	hconn_close(oh);
	free(ph);
	free(oh);
	close(L.ep);
	free(evs);
	free(L.chat_tab);
	free(L.dirty);
	free(L.l);
	free(p);
	return lost || L.errors ? 2 : 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: serve_load load  --config FILE [--chats N] [--window W] [--duration S]\n"
		"                        [--gate delivered|echo]\n"
		"       serve_load idle  --config FILE [--conns N] [--warm REQUESTS]\n"
		"       serve_load stats --config FILE\n");
	exit(2);
}

static unsigned arg_uint(const char *s, unsigned lo, unsigned hi)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (*s == 0 || *end || v < lo || v > hi)
		usage();
	return (unsigned)v;
}

int main(int argc, char **argv)
{
	static struct config cfg;
	const char *cfg_path = NULL;
	unsigned chats = 256, window = 4, conns = 5000, warm = 8192;
	double duration = 10;
	int gate_org = 1;

	if (argc < 2)
		usage();
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];

		if (i + 1 >= argc)
			usage();
		if (!strcmp(a, "--config"))
			cfg_path = argv[++i];
		else if (!strcmp(a, "--chats"))
			chats = arg_uint(argv[++i], 1, 15000);
		else if (!strcmp(a, "--window"))
			window = arg_uint(argv[++i], 1, 1000);
		else if (!strcmp(a, "--duration"))
			duration = arg_uint(argv[++i], 1, 3600);
		else if (!strcmp(a, "--gate") && !strcmp(argv[i + 1], "echo") && ++i)
			gate_org = 0;
		else if (!strcmp(a, "--gate") && !strcmp(argv[i + 1], "delivered") && ++i)
			gate_org = 1;
		else if (!strcmp(a, "--warm"))
			warm = arg_uint(argv[++i], 0, 1000000);
		else if (!strcmp(a, "--conns"))
			conns = arg_uint(argv[++i], 1, 100000);
		else
			usage();
	}
	if (!cfg_path)
		usage();
	if (getrandom(&rng_state, sizeof(rng_state), 0) != sizeof(rng_state))
		die("getrandom", errno);
	rng_state |= 1; /* xorshift must not start at zero */
	signal(SIGPIPE, SIG_IGN);
	config_load(&cfg, cfg_path);
	if (!strcmp(argv[1], "load"))
		return cmd_load(&cfg, chats, window, duration, gate_org);
	if (!strcmp(argv[1], "idle"))
		return cmd_idle(&cfg, conns, warm);
	if (!strcmp(argv[1], "stats"))
		return cmd_stats(&cfg);
	usage();
	return 2;
}
