/*
 * serve: options, setup, signals and the exit report of `esmeload serve`.
 * See serve.h.
 */
#include "serve.h"
#include "store.h"
#include "jsonw.h"
#include "opt.h"
#include "timefmt.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/*
 * The seeded organizer: the account of the ESME Go tool's example
 * config.json, so that file works unchanged against serve on the default
 * ports. The password passes the organizer API's sign-in rules (16 to 128
 * characters, docs/protocol.md §3).
 */
#define DEFAULT_ORG_EMAIL "jan@kowalski.com"
#define DEFAULT_ORG_PASSWORD "&Y+sFaS{&d>8ycO)FLhF41qiQk{IYEb?"
/* --organizers: as many as esmeload run's --organizers takes. */
#define ORG_POOL_MAX 1000
#define ORG_POOL_MAX_S "1000"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static const char usage[] =
"usage: esmeload serve [options]\n"
"\n"
"The reference ESME backend: organizer API, participant API and messenger\n"
"(WebSocket) in one process, in memory. A test target, not a production\n"
"server. Stops on SIGINT/SIGTERM and prints its counters as JSON.\n"
"\n"
"  --host ADDR               bind address (default 127.0.0.1)\n"
"  --organizer-port N        organizer API port (default 8000; 0 = any free)\n"
"  --participant-port N      participant API port (default 8100; 0 = any)\n"
"  --messenger-port N        messenger port (default 8300; 0 = any)\n"
"  --metrics-port N          also serve GET /metrics, the counters in the\n"
"                            Prometheus text format, on this port (0 = any;\n"
"                            default: off)\n"
"  --write-config FILE       write a config.json for the ESME Go tool and\n"
"                            esmeload run, once the ports are bound\n"
"  --organizer E:P[:ROLE[:AGENCY]]  seed an organizer account (repeatable;\n"
"                            default " DEFAULT_ORG_EMAIL ":" DEFAULT_ORG_PASSWORD ":2:1);\n"
"                            the password takes 16 to 128 characters, as\n"
"                            the organizer API's sign-in checks\n"
"  --organizers N            the organizer pool, 1-" ORG_POOL_MAX_S " (default 1): the first\n"
"                            organizer and N - 1 more in its agency, with its\n"
"                            role and password, the address with +K before the\n"
"                            @ (jan+2@kowalski.com, ...); --write-config lists\n"
"                            them under \"organizers\"\n"
"  --event ID[:AGENCY]       seed an event (repeatable; default 1:1)\n"
"  --jwt-secret S            token signing secret (default random)\n"
"  --api-key K               service key of DELETE /chat-requests and GET\n"
"                            /users, sent as Authorization: Bearer K\n"
"                            (default random)\n"
"  --max-conns N             connection limit, 1-1048576 (default 10000);\n"
"                            past RLIMIT_NOFILE, one io_uring per that many\n"
"  --threads N               event loops, 1-64 (default: the CPUs serve may\n"
"                            run on), each with its own io_urings and\n"
"                            connections, accepting on the same ports; the\n"
"                            accounts, queues and chats are shared\n"
"  --cross-queue BYTES       the queue of frames from each thread to each\n"
"                            other one (default 4M); frames past it are\n"
"                            dropped and counted (threads.cross_full)\n"
"  --uring-off LIST          refuse newer io_uring features, as a kernel\n"
"                            without them would: ring_fd, recv_bundle\n"
"                            (several receive buffers per completion,\n"
"                            Linux 6.10+), buf_inc (64 KiB receive buffers\n"
"                            shared a part at a time, 6.12+) or all,\n"
"                            comma-separated; each is used when the kernel\n"
"                            has it (/stats uring_features says which are\n"
"                            on)\n"
"  --out-limit BYTES         outbound backlog per connection (default 256K)\n"
"  --out-memory BYTES        outbound backlog of all connections (default 512M)\n"
"  --slow drop|close         a connection over its backlog: drop the frame\n"
"                            and count it, or close it (default drop)\n"
"  --history N               messages kept per chat (default 100)\n"
"  --log-memory BYTES        message log size, shared out between the\n"
"                            threads (default 64M)\n"
"  --max-message BYTES       longest chat message (default 4096)\n"
"  --auth-timeout DUR        deadline of the authorization frame (60s)\n"
"  --idle-timeout DUR        silent WebSocket connections close (30m)\n"
"  --http-timeout DUR        idle HTTP connections close (60s)\n"
"  --quiet                   print nothing but the bound ports and stats\n"
"\n"
"Fault injection, for testing testers:\n"
"  --delay DUR               hold every user_message DUR before sending it\n"
"  --stall-at DUR --stall-for DUR\n"
"                            stop the whole server once, DUR after start\n"
"  --rcvbuf BYTES            receive buffer of accepted sockets\n";

static int bad(const char *opt, const char *val, const char *why)
{
	fprintf(stderr, "esmeload serve: %s %s: %s\n", opt, val ? val : "",
		why);
	return 2;
}

/* Characters of a UTF-8 string (the organizer API counts so). */
static size_t chars(const char *p)
{
	size_t k = 0;

	for (; *p; p++)
		k += ((uint8_t)*p & 0xc0) != 0x80;
	return k;
}

/* One --organizer spec into the store; 0 or -1 after a one-line error. */
static int add_organizer(struct store *st, const char *spec)
{
	static const char form[] = "expected EMAIL:PASSWORD[:ROLE 0-4[:AGENCY]]";
	char buf[512];
	char *email, *pw, *role, *agency;
	uint64_t r = 2, a = 1;
	int ret;

	if (strlen(spec) >= sizeof(buf))
		return bad("--organizer", spec, "longer than 511 bytes"), -1;
	strcpy(buf, spec);
	email = strtok(buf, ":");
	pw = strtok(NULL, ":");
	role = strtok(NULL, ":");
	agency = strtok(NULL, ":");
	if (!email || !pw || strtok(NULL, ":") ||
	    (role && opt_u64(role, 0, 4, &r) < 0) ||
	    (agency && opt_u64(agency, 1, UINT32_MAX, &a) < 0))
		return bad("--organizer", spec, form), -1;
	if (!strchr(email, '@'))
		return bad("--organizer", spec, "the email has no @"), -1;
	if (chars(pw) < 16 || chars(pw) > 128)
		return bad("--organizer", spec, "the password must have 16 to "
			   "128 characters (the organizer API refuses others "
			   "at sign-in)"), -1;
	ret = store_add_organizer(st, email, pw, (unsigned)r, (uint32_t)a);
	if (ret == -EEXIST)
		return bad("--organizer", spec, "the email is seeded twice"), -1;
	if (ret < 0)
		return bad("--organizer", spec, "out of memory"), -1;
	return 0;
}

/*
 * The organizer pool (--organizers N): accounts 2..N copy account 1's
 * password, role and agency; the address is account 1's with "+K" put
 * before the last "@". 0 or -1 after a one-line error.
 */
static int add_pool(struct store *st, unsigned n)
{
	const struct organizer *o = store_org(st, 0);
	char first[512], email[600], pw[512];
	unsigned role = o->role;
	uint32_t agency = o->agency;
	char *at;

	/* copies: adding accounts may move the table o points into */
	snprintf(first, sizeof(first), "%s", o->email);
	snprintf(pw, sizeof(pw), "%s", o->password);
	at = strrchr(first, '@');
	for (unsigned k = 2; k <= n; k++) {
		int ret;

		snprintf(email, sizeof(email), "%.*s+%u%s", (int)(at - first),
			 first, k, at);
		ret = store_add_organizer(st, email, pw, role, agency);
		if (ret < 0) {
			fprintf(stderr, "esmeload serve: --organizers %u: cannot "
				"seed %s: %s\n", n, email, ret == -EEXIST ?
				"an --organizer account has that address" :
				"out of memory");
			return -1;
		}
	}
	return 0;
}

static int add_event(struct store *st, const char *spec)
{
	char buf[64];
	char *id, *agency;
	uint64_t e, a = 1;

	if (strlen(spec) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, spec);
	id = strtok(buf, ":");
	agency = strtok(NULL, ":");
	if (!id || opt_u64(id, 0, UINT32_MAX, &e) < 0 ||
	    (agency && opt_u64(agency, 1, UINT32_MAX, &a) < 0))
		return -EINVAL;
	return store_add_event(st, (uint32_t)e, (uint32_t)a);
}

/*
 * config.json for the Go tool and esmeload run, plus the key "organizers":
 * the pool's accounts in order, [{"email", "password"}, ...] (the Go tool's
 * decoder ignores keys it does not know). Written beside the target and
 * renamed into place, so a reader never sees half a file.
 */
static int write_config(struct serve *s, const char *path)
{
	char url[3][96], tmp[4096];
	char *buf = (char *)s->scratch;
	const struct organizer *o = store_org(s->st, 0);
	const char *host = s->o.host;
	int v6 = strchr(host, ':') != NULL;
	struct jw w;
	long n;
	FILE *f;

	for (int p = 0; p < NPORTS; p++)
		snprintf(url[p], sizeof(url[p]), "%s://%s%s%s:%u",
			 p == PORT_MSG ? "ws" : "http", v6 ? "[" : "", host,
			 v6 ? "]" : "", s->bound[p]);
	jw_init(&w, buf, s->scratch_cap);
	jw_obj_begin(&w);
	jw_kv_u64(&w, "event_id", store_event(s->st, 0)->id);
	jw_kv_cstr(&w, "messenger_ws_url", url[PORT_MSG]);
	jw_kv_cstr(&w, "organizer_api_url", url[PORT_ORG]);
	jw_kv_cstr(&w, "organizer_email", o->email);
	jw_kv_cstr(&w, "organizer_password", o->password);
	jw_kv_cstr(&w, "participant_api_url", url[PORT_PART]);
	jw_key(&w, "organizers");
	jw_arr_begin(&w);
	for (uint32_t i = 0; i < s->pool_n; i++) {
		const struct organizer *p =
			store_org(s->st, i ? s->pool_first + i - 1 : 0);

		jw_obj_begin(&w);
		jw_kv_cstr(&w, "email", p->email);
		jw_kv_cstr(&w, "password", p->password);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_obj_end(&w);
	n = jw_finish(&w);
	if (n < 0)
		return -ENOSPC;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >=
	    (int)sizeof(tmp))
		return -ENAMETOOLONG;
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	if (fwrite(buf, 1, (size_t)n, f) != (size_t)n || fputc('\n', f) < 0 ||
	    fclose(f) != 0) {
		unlink(tmp);
		return -EIO;
	}
	if (rename(tmp, path) < 0) {
		int e = errno;

		unlink(tmp);
		return -e;
	}
	return 0;
}

static void defaults(struct serve_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->host = "127.0.0.1";
	o->port[PORT_ORG] = 8000;
	o->port[PORT_PART] = 8100;
	o->port[PORT_MSG] = 8300;
	o->metrics_port = -1;
	o->max_conns = 10000;
	o->out_limit = 256 << 10;
	o->out_memory = (size_t)512 << 20;
	o->history = 100;
	o->log_bytes = (size_t)64 << 20;
	o->auth_timeout_ms = 60000;
	o->idle_timeout_ms = 30 * 60000;
	o->http_timeout_ms = 60000;
	o->max_frame = 16384;
	o->max_head = 8192;
	o->max_body = 16384;
	o->max_message = 4096;
	o->nbufs = 4096;
	o->buf_size = 4096;
	o->threads = opt_cpus();
	if (o->threads > SERVE_MAX_THREADS)
		o->threads = SERVE_MAX_THREADS;
	o->xq_bytes = (size_t)4 << 20;
}

/* Parse options into s->o; organizers and events go to the store later. */
static int parse(struct serve *s, int argc, char **argv, const char **orgs,
		 int *norgs, const char **events, int *nevents)
{
	struct serve_opts *o = &s->o;

	for (int i = 0; i < argc; i++) {
		static const char *const port_opt[NPORTS] = {
			"organizer-port", "participant-port", "messenger-port"
		};
		const char *v;
		uint64_t x;
		int64_t ns;
		int r, on, matched = 0;

		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help") ||
		    !strcmp(argv[i], "-help")) {
			fputs(usage, stdout);
			return 1;
		}
		if (opt_bool(argv, i, "quiet", &on) == 1) {
			o->quiet = on;
			continue;
		}
#define VALUE(name) \
	((r = opt_value(argc, argv, &i, name, &v)) < 0 ? \
	 (bad("--" name, NULL, "needs a value"), -1) : r)
		for (int p = 0; p < NPORTS; p++) {
			const char *name = port_opt[p];

			r = opt_value(argc, argv, &i, name, &v);
			if (r < 0)
				return bad(argv[i], NULL, "needs a value");
			if (r == 1) {
				if (opt_u64(v, 0, 65535, &x) < 0)
					return bad(argv[i - 1], v, "not a port number (0-65535)");
				o->port[p] = (uint16_t)x;
				matched = 1;
			}
		}
		if (matched)
			continue;
		if ((r = VALUE("metrics-port")) < 0) return 2;
		if (r) {
			if (opt_u64(v, 0, 65535, &x) < 0)
				return bad("--metrics-port", v, "not a port number (0-65535)");
			o->metrics_port = (int)x;
			continue;
		}
		if ((r = VALUE("host")) < 0) return 2;
		if (r) { o->host = v; continue; }
		if ((r = VALUE("write-config")) < 0) return 2;
		if (r) { o->write_config = v; continue; }
		if ((r = VALUE("jwt-secret")) < 0) return 2;
		if (r) {
			if (!*v || strlen(v) > 64)
				return bad("--jwt-secret", NULL, "must be 1 to 64 bytes");
			o->jwt_secret = v;
			continue;
		}
		if ((r = VALUE("api-key")) < 0) return 2;
		if (r) {
			if (!*v || strlen(v) > 64)
				return bad("--api-key", NULL, "must be 1 to 64 bytes");
			o->api_key = v;
			continue;
		}
		if ((r = VALUE("organizers")) < 0) return 2;
		if (r) {
			if (opt_u64(v, 1, ORG_POOL_MAX, &x) < 0)
				return bad("--organizers", v, "not a number from 1 to " ORG_POOL_MAX_S);
			s->pool_n = (uint32_t)x;
			continue;
		}
		if ((r = VALUE("organizer")) < 0) return 2;
		if (r) { orgs[(*norgs)++ % 64] = v; continue; }
		if ((r = VALUE("event")) < 0) return 2;
		if (r) { events[(*nevents)++ % 64] = v; continue; }
		if ((r = VALUE("uring-off")) < 0) return 2;
		if (r) {
			char why[160];

			if (ring_feat_parse(v, &o->uring_off, why,
					    sizeof(why)) < 0)
				return bad("--uring-off", v, why);
			continue;
		}
		if ((r = VALUE("max-conns")) < 0) return 2;
		if (r) {
			if (opt_u64(v, 1, 1u << 20, &x) < 0)
				return bad("--max-conns", v, "not a number from 1 to 1048576");
			o->max_conns = (unsigned)x;
			continue;
		}
		if ((r = VALUE("threads")) < 0) return 2;
		if (r) {
			if (opt_u64(v, 1, SERVE_MAX_THREADS, &x) < 0)
				return bad("--threads", v, "not a number from 1 to 64");
			o->threads = (unsigned)x;
			continue;
		}
		if ((r = VALUE("cross-queue")) < 0) return 2;
		if (r) {
			if (opt_size(v, &x) < 0 || x < 4096 || x > (1u << 30))
				return bad("--cross-queue", v, "not a size from 4K to 1G");
			o->xq_bytes = x;
			continue;
		}
		if ((r = VALUE("out-limit")) < 0) return 2;
		if (r) {
			if (opt_size(v, &x) < 0 || x < 1024)
				return bad("--out-limit", v, "not a size of at least 1K");
			o->out_limit = x;
			continue;
		}
		if ((r = VALUE("out-memory")) < 0) return 2;
		if (r) {
			if (opt_size(v, &x) < 0 || x < (1 << 20))
				return bad("--out-memory", v, "not a size of at least 1M");
			o->out_memory = x;
			continue;
		}
		if ((r = VALUE("log-memory")) < 0) return 2;
		if (r) {
			if (opt_size(v, &x) < 0 || x < (1 << 16))
				return bad("--log-memory", v, "not a size of at least 64K");
			o->log_bytes = x;
			continue;
		}
		if ((r = VALUE("max-message")) < 0) return 2;
		if (r) {
			if (opt_size(v, &x) < 0 || x < 1 || x > 12000)
				return bad("--max-message", v, "not a size from 1 to 12000");
			o->max_message = x;
			continue;
		}
		if ((r = VALUE("slow")) < 0) return 2;
		if (r) {
			if (strcmp(v, "drop") && strcmp(v, "close"))
				return bad("--slow", v, "must be drop or close");
			o->slow_close = !strcmp(v, "close");
			continue;
		}
		if ((r = VALUE("rcvbuf")) < 0) return 2;
		if (r) {
			if (opt_size(v, &x) < 0 || x < 1024 || x > (1u << 30))
				return bad("--rcvbuf", v, "not a size from 1K to 1G");
			o->rcvbuf = (int)x;
			continue;
		}
		{
			static const char *const fault[] = { "delay", "stall-at", "stall-for" };
			int k = 0;

			for (; k < 3; k++) {
				r = opt_value(argc, argv, &i, fault[k], &v);
				if (r < 0)
					return bad(argv[i], NULL, "needs a value");
				if (r == 1)
					break;
			}
			if (k < 3) {
				if (timefmt_duration_parse(v, strlen(v), &ns) < 0 || ns < 0)
					return bad(argv[i - 1], v, "not a duration (e.g. 20ms, 2s)");
				if (k == 0)
					o->delay_ns = ns;
				else if (k == 1)
					o->stall_at_ms = (uint64_t)ns / 1000000;
				else
					o->stall_for_ms = (uint64_t)ns / 1000000;
				continue;
			}
		}
		if ((r = VALUE("history")) < 0) return 2;
		if (r) {
			if (opt_u64(v, 1, 100000, &x) < 0)
				return bad("--history", v, "not a number from 1 to 100000");
			o->history = (unsigned)x;
			continue;
		}
		{
			static const struct { const char *name; size_t off; } durs[] = {
				{ "auth-timeout", offsetof(struct serve_opts, auth_timeout_ms) },
				{ "idle-timeout", offsetof(struct serve_opts, idle_timeout_ms) },
				{ "http-timeout", offsetof(struct serve_opts, http_timeout_ms) },
			};
			for (size_t k = 0; k < 3 && !matched; k++) {
				r = opt_value(argc, argv, &i, durs[k].name, &v);
				if (r < 0)
					return bad(argv[i], NULL, "needs a value");
				if (r == 0)
					continue;
				if (timefmt_duration_parse(v, strlen(v), &ns) < 0 ||
				    ns < 1000000)
					return bad(argv[i - 1], v, "not a duration of at least 1ms (e.g. 60s, 30m)");
				*(uint64_t *)((char *)o + durs[k].off) =
					(uint64_t)ns / 1000000;
				matched = 1;
			}
		}
		if (matched)
			continue;
#undef VALUE
		fprintf(stderr, "esmeload serve: unknown option %s (see --help)\n",
			argv[i]);
		return 2;
	}
	if (*norgs > 64 || *nevents > 64)
		return bad("--organizer/--event", NULL, "at most 64 of each");
	return 0;
}

static void random_text(char *dst, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t r[32];

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		memset(r, 0x42, sizeof(r));
	for (size_t i = 0; i + 1 < n && i < 64; i++)
		dst[i] = hex[(r[i / 2] >> ((i & 1) * 4)) & 15];
	dst[n - 1 < 64 ? n - 1 : 64] = 0;
}

/* One thread's part: scratch buffers of its own. */
static int thread_alloc(struct serve *s)
{
	s->scratch_cap = 2u << 20;
	s->scratch = malloc(s->scratch_cap);
	s->scratch2 = malloc(s->scratch_cap);
	return s->scratch && s->scratch2 ? 0 : -ENOMEM;
}

/*
 * The threads' start. Every thread sets up its own engine (a ring belongs
 * to the thread that made it), thread 0 first, since the others join the
 * ports it bound; then they wait until the main thread, having seen all
 * of them, says go (1) or give up (-1).
 */
struct start {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned ready;         /* threads past their setup */
	int go;
	int err[SERVE_MAX_THREADS];
	uint8_t tried[SERVE_MAX_THREADS];
	char text[SERVE_MAX_THREADS][256];
};
static struct start start = {
	.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER,
};

static void thread_init(struct serve *s)
{
	start.tried[s->tid] = 1;
	start.err[s->tid] = serve_net_init(s, start.text[s->tid],
					   sizeof(start.text[s->tid]));
}

static void *thread_main(void *arg)
{
	struct serve *s = arg;
	int go;

	thread_init(s);
	pthread_mutex_lock(&start.mu);
	start.ready++;
	pthread_cond_broadcast(&start.cv);
	while (!start.go)
		pthread_cond_wait(&start.cv, &start.mu);
	go = start.go;
	pthread_mutex_unlock(&start.mu);
	if (go > 0 && serve_net_run(s) < 0)
		*s->stop = 1;
	return NULL;
}

/* Set up thread 0 here and start the others once it could: returns how
 * many of them started, each set up and waiting for start_go. */
static unsigned start_threads(struct serve_shared *sh, pthread_t *tids)
{
	unsigned started = 0;

	thread_init(&sh->thr[0]);
	if (start.err[0] < 0)
		return 0;
	for (unsigned t = 1; t < sh->nthreads; t++) {
		if (pthread_create(&tids[t], NULL, thread_main, &sh->thr[t])) {
			start.err[t] = -EAGAIN;
			snprintf(start.text[t], sizeof(start.text[t]),
				 "cannot start thread %u of %u", t + 1,
				 sh->nthreads);
			break;
		}
		started++;
	}
	pthread_mutex_lock(&start.mu);
	while (start.ready < started)
		pthread_cond_wait(&start.cv, &start.mu);
	pthread_mutex_unlock(&start.mu);
	return started;
}

static void start_go(int go)
{
	pthread_mutex_lock(&start.mu);
	start.go = go;
	pthread_cond_broadcast(&start.cv);
	pthread_mutex_unlock(&start.mu);
}

/* The threads: copies of s (its options, keys and store), each with
 * buffers of its own, and the queues between them. 0 or -1 after a
 * one-line error. */
static int make_threads(struct serve_shared *sh, const struct serve *s)
{
	unsigned n = s->o.threads;

	sh->nthreads = n;
	{
		/* The lock is held for microseconds: spin a little before
		 * sleeping on it. */
		pthread_mutexattr_t a;

		pthread_mutexattr_init(&a);
		pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ADAPTIVE_NP);
		pthread_mutex_init(&sh->lock, &a);
		pthread_mutexattr_destroy(&a);
	}
	sh->thr = calloc(n, sizeof(*sh->thr));
	sh->xq = calloc((size_t)n * n, sizeof(*sh->xq));
	if (!sh->thr || !sh->xq)
		goto nomem;
	for (unsigned t = 0; t < n; t++) {
		struct serve *x = &sh->thr[t];

		*x = *s;
		x->sh = sh;
		x->tid = t;
		if (thread_alloc(x) < 0)
			goto nomem;
		/* one thread: no queues (and no lock) */
		for (unsigned u = 0; n > 1 && u < n; u++)
			if (u != t && xq_init(&sh->xq[t * n + u],
					      s->o.xq_bytes) < 0)
				goto nomem;
	}
	return 0;
nomem:
	fprintf(stderr, "esmeload serve: out of memory for %u threads\n", n);
	return -1;
}

static void free_threads(struct serve_shared *sh)
{
	for (unsigned t = 0; sh->thr && t < sh->nthreads; t++) {
		if (start.tried[t])
			serve_net_exit(&sh->thr[t]);
		free(sh->thr[t].scratch);
		free(sh->thr[t].scratch2);
		for (unsigned u = 0; sh->xq && u < sh->nthreads; u++)
			xq_free(&sh->xq[t * sh->nthreads + u]);
	}
	free(sh->thr);
	free(sh->xq);
}

/* The bound ports on stdout, the setup on stderr. */
static void announce(const struct serve *s)
{
	int v6 = strchr(s->o.host, ':') != NULL;
	const char *l = v6 ? "[" : "", *r = v6 ? "]" : "";

	printf("esmeload serve: organizer http://%s%s%s:%u participant "
	       "http://%s%s%s:%u messenger ws://%s%s%s:%u\n",
	       l, s->o.host, r, s->bound[PORT_ORG], l, s->o.host, r,
	       s->bound[PORT_PART], l, s->o.host, r, s->bound[PORT_MSG]);
	if (s->o.metrics_port >= 0)
		printf("esmeload serve: metrics http://%s%s%s:%u/metrics\n", l,
		       s->o.host, r, s->bound_metrics);
	fflush(stdout);
	if (!s->o.quiet)
		fprintf(stderr, "esmeload serve: io_uring %s, %u thread%s, up "
			"to %u connections as direct descriptors in %u ring%s "
			"of %u a thread\n", eng_ring_mode(&s->eng),
			s->sh->nthreads, s->sh->nthreads > 1 ? "s" : "",
			s->o.max_conns, s->eng.nrings,
			s->eng.nrings > 1 ? "s" : "", s->eng.per_ring);
}

/* see serve.h */
int serve_main(int argc, char **argv)
{
	static struct serve srv;
	static struct serve_shared shared;
	struct serve *s = &srv;
	struct serve_shared *sh = &shared;
	const char *orgs[64], *events[64];
	pthread_t tids[SERVE_MAX_THREADS];
	int norgs = 0, nevents = 0, ret = 0, failed = 0;
	unsigned started;
	struct store *st;
	uint8_t seed[16];
	struct sigaction sa;

	defaults(&s->o);
	s->pool_n = 1;
	ret = parse(s, argc, argv, orgs, &norgs, events, &nevents);
	if (ret)
		return ret == 1 ? 0 : ret;
	if (getrandom(seed, sizeof(seed), 0) != (ssize_t)sizeof(seed)) {
		fprintf(stderr, "esmeload serve: getrandom: %s\n", strerror(errno));
		return 1;
	}
	memcpy(&s->instance, seed, sizeof(s->instance));
	if (s->o.jwt_secret) {
		s->jwt_key_len = strlen(s->o.jwt_secret);
		memcpy(s->jwt_key, s->o.jwt_secret, s->jwt_key_len);
	} else {
		s->jwt_key_len = 32;
		if (getrandom(s->jwt_key, 32, 0) != 32)
			return 1;
	}
	if (s->o.api_key)
		snprintf(s->api_key, sizeof(s->api_key), "%s", s->o.api_key);
	else
		random_text(s->api_key, 33);
	s->st = store_new(s->o.history, s->o.log_bytes, s->o.threads,
			  s->instance, seed);
	if (!s->st) {
		fprintf(stderr, "esmeload serve: out of memory\n");
		return 1;
	}
	if (norgs == 0)
		orgs[norgs++] = DEFAULT_ORG_EMAIL ":" DEFAULT_ORG_PASSWORD ":2:1";
	if (nevents == 0)
		events[nevents++] = "1:1";
	for (int i = 0; i < norgs; i++)
		if (add_organizer(s->st, orgs[i]) < 0)
			return 2;
	s->pool_first = store_norgs(s->st);
	if (add_pool(s->st, s->pool_n) < 0)
		return 2;
	for (int i = 0; i < nevents; i++)
		if (add_event(s->st, events[i]) < 0)
			return bad("--event", events[i],
				   "expected a new ID[:AGENCY]");

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	s->stop = &stop_flag;

	if (make_threads(sh, s) < 0) {
		free_threads(sh);
		store_free(s->st);
		return 1;
	}
	s = &sh->thr[0];
	started = start_threads(sh, tids);
	for (unsigned t = 0; t < sh->nthreads && !failed; t++)
		if (start.err[t] < 0) {
			fprintf(stderr, "esmeload serve: %s\n", start.text[t]);
			failed = 1;
		}
	if (!failed && s->o.write_config) {
		ret = write_config(s, s->o.write_config);
		if (ret < 0) {
			fprintf(stderr, "esmeload serve: --write-config %s: %s\n",
				s->o.write_config, strerror(-ret));
			failed = 1;
		}
	}
	if (!failed)
		announce(s);
	start_go(failed ? -1 : 1);
	if (!failed)
		ret = serve_net_run(s);
	stop_flag = 1;
	for (unsigned t = 1; t <= started; t++)
		pthread_join(tids[t], NULL);
	if (!failed) {
		long n = serve_stats_json(s, (char *)s->scratch, s->scratch_cap);

		if (n > 0)
			printf("%.*s\n", (int)n, (const char *)s->scratch);
		fflush(stdout);
	}
	st = s->st;
	free_threads(sh);
	store_free(st);
	return failed || ret < 0 ? 1 : 0;
}
