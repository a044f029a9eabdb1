/*
 * run: `esmeload run`, the load scenario of ESME's Go performance test done
 * on io_uring (docs/protocol.md §5).
 *
 * Internal contract between the run modules:
 *   config.c    command line (Go flag syntax) and config.json
 *   scenfile.c  --scenario FILE, a scenario's flags as one JSON object
 *   scenario.c  what participants and organizers do (scenario.h): state
 *               machines over sessions (session/session.h), no sockets
 *   worker.c    one thread (worker.h): its sessions and engine, the
 *               scenario on them, the drain at the end
 *   output.c    the summary and message-rate files, the printed summary
 *   run.c       threads, signals, progress, the embedded serve child
 *
 * IMPLEMENTATION NOTES
 * - Participants are sharded over workers by number: participant n (from 1)
 *   belongs to worker (n - 1) % threads. Organizers live on worker 0.
 *   Nothing on the hot path is shared; the coordinator reads each worker's
 *   counters with relaxed atomic loads once per progress tick.
 * - Connections are the engine's (engine/eng.h), each tagged with its
 *   owner (a participant, an organizer, a REST connection). Every
 *   connection has a fixed slot in the engine's registered send arena;
 *   frames are encoded into it directly, and a send_message frame is one
 *   unit, so the engine says when it was submitted and when sent.
 * - TLS targets (https://, wss://) are the engine's transport: the
 *   scenario hears sc_connected after the handshake and reads and writes
 *   plaintext.
 * - Schedules are open loop: arrival n is due at start + (n - 1) * cpi,
 *   message k of a participant at chat + k * smi, whatever happened before.
 */
#ifndef ESMELOAD_RUN_H
#define ESMELOAD_RUN_H

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/socket.h>

#include "clock.h"
#include "hist.h"
#include "http.h"
#include "pool.h"
#include "tls.h"

#define NIL UINT32_MAX
#define RUN_URL_MAX 512

/* ---- options (config.c) ---- */

struct run_target {
	char url[RUN_URL_MAX];
	struct http_url u;
	struct sockaddr_storage addr;
	socklen_t addr_len;
	char hostport[RUN_URL_MAX]; /* Host header value */
	char resolve_err[RUN_URL_MAX + 128]; /* addr_len 0: why the host has no address */
};

enum { T_ORG = 0, T_PART = 1, T_MSG = 2, NTARGETS = 3 };

/* An organizer account of the pool (config.json's "organizers"). */
struct run_org_acct {
	char email[256], password[256];
};

/* The Go tool's interval flags, in run_opts.go_set (config.c's go_ms[]
 * order). */
enum { RUN_GO_SCI = 0, RUN_GO_CPI, RUN_GO_SMI };

struct run_opts {
	int64_t sci_ms, cpi_ms, smi_ms;
	double arrival_rate;         /* --arrival-rate: per second, 0: -cpi */
	int cpi_given;               /* -cpi was on the command line */
	unsigned go_set;             /* -sci, -cpi, -smi (1 << RUN_GO_SCI, ...) set
				      * by a flag or the scenario file */
	int log_ws;
	const char *config_path;     /* NULL: ./config.json if present */
	int embedded;                /* no config: start our own serve */
	uint32_t event_id;
	char org_email[256], org_password[256];
	struct run_target t[NTARGETS];
	int64_t duration_ms;         /* 0: until the first error or a signal */
	uint64_t max_participants;   /* 0: unbounded */
	uint64_t max_errors;         /* stop when this many errors happened */
	unsigned threads;
	unsigned organizers;         /* distinct organizer accounts used */
	struct run_org_acct *org_accts; /* config.json's "organizers", or NULL */
	unsigned n_org_accts;
	unsigned http_conns;         /* keep-alive REST connections per worker */
	unsigned max_conns;          /* per worker, direct descriptor table */
	uint32_t src_lo, src_hi;     /* IPv4 source pool, host order; 0 = none */
	int64_t connect_timeout_ms;
	int64_t handshake_timeout_ms;
	int64_t request_timeout_ms;  /* a REST call's whole response */
	int64_t send_timeout_ms;     /* one send's completion */
	int64_t timer_slack_ns;      /* --timer-slack: a wake may be this late */
	int sndbuf;                  /* SO_SNDBUF, 0: the kernel's */
	unsigned ring_entries;       /* SQ size per ring */
	unsigned cq_entries;         /* CQ size per ring, 0: 8 x ring_entries */
	unsigned recv_buffers;       /* provided buffers per ring */
	int sqpoll, no_defer;        /* ring setup experiments */
	unsigned uring_off;          /* --uring-off: enum ring_feat */
	int64_t wake_grain_ns;       /* --wake-grain (RING_F_MIN_WAIT) */
	int zc;                      /* --zc: SEND_ZC from the send arena */
	const char *out_dir;
	int quiet;
	const char *serve_bin;       /* for the embedded target */
	const char *cacert;          /* --cacert, NULL: the system's */
	int insecure;                /* --insecure: no certificate checks */
	struct tls_tas tas;          /* loaded once when a target is TLS */
	struct threshold *thresholds; /* --threshold, in order given */
	unsigned nthresholds;
	/* --shard I/N: this process is shard I (from 0) of N; 1 shard: 0/1 */
	unsigned shard, shards;
	int shard_given;             /* by flag or environment */
	int64_t start_at_ns;         /* --start-at (Unix ns), 0: now */
	/* organizers who answer: every k-th participant message an
	 * organizer reads gets a reply after the think time; 0: never */
	unsigned org_reply_every;    /* --org-reply-every */
	int64_t org_think_ms;        /* --org-think (default 1s) */
	int org_think_exp;           /* --org-think-dist exp: drawn, mean
				      * org_think_ms, seeded by the test */
	/* chats that end (0: never): the organizer closes a chat this
	 * long after it began, or once it read the participant's Nth
	 * message in it; a participant whose chat closed asks again after
	 * reopen_after_ms (0: never) */
	int64_t chat_lifetime_ms;    /* --chat-lifetime */
	unsigned chat_messages;      /* --chat-messages */
	int64_t reopen_after_ms;     /* --reopen-after */
	/* people who reconnect: the tester closes a participant's
	 * connection in its chat after an uptime (fixed, or drawn from the
	 * exponential distribution of that mean, seeded by the test); it
	 * comes back with its token after the backoff. 0: never */
	int64_t reconnect_uptime_ms; /* --reconnect-uptime */
	int reconnect_fixed;         /* --reconnect-dist fixed */
	int64_t reconnect_backoff_ms; /* --reconnect-backoff (default 500ms) */
	/* several devices: connections per participant and per organizer,
	 * each authorized with the same token (1-8, default 1) */
	unsigned devices;            /* --devices */
	unsigned org_devices;        /* --org-devices */
	const char *metrics_listen;  /* --metrics-listen HOST:PORT, or NULL */
	int64_t metrics_linger_ms;   /* --metrics-linger */
	/* --scenario FILE (scenfile.c), all NULL/0 without one: the path
	 * as given (argv's), the file's bytes, NUL-terminated (one JSON
	 * object, checked), and its "name", unescaped (NULL: none) */
	const char *scenario_path;
	char *scenario_text;
	size_t scenario_len;         /* bytes of scenario_text, NUL not counted */
	char *scenario_name;
};

/* Most connections a participant or an organizer holds (--devices). */
#define RUN_MAX_DEVICES 8

/* Largest --shard count. */
#define RUN_MAX_SHARDS 10000

/*
 * Shards: participant n (from 1) belongs to shard (n - 1) % shards and,
 * within it, to worker ((n - 1) / shards) % threads; organizer account g
 * (from 0) to shard g % shards. So N shards at the same flags make the
 * arrivals, messages and organizers of one process at those flags.
 */
/* The shard count (options zeroed by hand, as tests make them: 1). */
static inline unsigned run_shards(const struct run_opts *o)
{
	return o->shards ? o->shards : 1;
}
/* The pool index of this shard's organizer i. */
static inline unsigned run_org_global(const struct run_opts *o, unsigned i)
{
	return o->shard + i * (o->shards ? o->shards : 1);
}
/* How many of the pool's organizers this shard has. */
static inline unsigned run_org_count(const struct run_opts *o)
{
	unsigned n = o->shards ? o->shards : 1;

	return o->organizers > o->shard ?
		(o->organizers - o->shard + n - 1) / n : 0;
}

/* Chats end in this run (--chat-lifetime, --chat-messages): its figures
 * are reported. */
static inline int run_chats_end(const struct run_opts *o)
{
	return o->chat_lifetime_ms || o->chat_messages;
}
/* A user holds more than one connection (--devices, --org-devices). */
static inline int run_devices(const struct run_opts *o)
{
	return o->devices > 1 || o->org_devices > 1;
}

/* The time between two arrivals, in ns: --arrival-rate's, else -cpi's
 * milliseconds (0: -cpi 0, one participant). */
static inline int64_t run_cpi_ns(const struct run_opts *o)
{
	if (o->arrival_rate > 0)
		return (int64_t)(1e9 / o->arrival_rate + 0.5);
	return o->cpi_ms * 1000000;
}

/* Parse argv (without the subcommand) into o. Returns 0, 1 when --help was
 * printed, or 2 after printing a one-line error. */
int run_parse(struct run_opts *o, int argc, char **argv);

/* The largest config.json or scenario file. */
#define RUN_FILE_MAX (64 << 10)
/*
 * Read the file at path whole, NUL-terminated, into a heap buffer (*out,
 * *len bytes without the NUL): at most RUN_FILE_MAX bytes. A FIFO without
 * a writer reads as empty, a pipe is read whole, a directory is refused.
 * Returns 0, or 2 after one line naming path and what it should be
 * ("a config.json", "the scenario file").
 */
int run_read_file(const char *path, const char *what, char **out,
		  size_t *len);

/* Load a config.json into o (targets, email, password, event). Returns 0
 * or 2 after printing a one-line error naming the file and the key. */
int run_load_config(struct run_opts *o, const char *path);
/*
 * The credentials of organizer i (from 0) of the pool. One organizer (the
 * default) is the Go tool's organizer_email and organizer_password. A
 * pool (--organizers N > 1) takes entry i of config.json's "organizers"
 * when it has one, else derives it from organizer_email: account 0 is that
 * address, account i its local part with "+<i+1>" before the "@" (what
 * `esmeload serve --organizers N` seeds), with organizer_password.
 * Returns 0, or -ENAMETOOLONG.
 */
int run_org_account(const struct run_opts *o, unsigned i, char *email,
		    size_t ecap, const char **password);
/* Resolve a target URL into o->t[i]; 0 or 2 after printing an error. */
int run_set_target(struct run_opts *o, int i, const char *url,
		   const char *what);
/*
 * Apply one of run's value flags by its name without dashes (the Go
 * tool's sci, cpi and smi; our durations, counts, --org-think-dist,
 * --reconnect-dist, --arrival-rate) and its text, with the command
 * line's checks and ranges, so that a scenario file (scenfile.c) and
 * the flags cannot disagree. Sets no *_given field. Returns 0; -ENOENT
 * when name is no such flag; -EINVAL with the reason the flag's error
 * gives into why (e.g. "not a duration of at least 1ms (e.g. 500ms,
 * 90s, 10m)"), o unchanged. No I/O.
 */
int run_opt_apply(struct run_opts *o, const char *name, const char *v,
		  char *why, size_t cap);

/*
 * Scenario files (scenfile.c): `esmeload run --scenario FILE`, the
 * behaviours and rates of a run as one JSON object, documented by
 * docs/scenario.schema.json. Every key is optional and sets its flag's
 * field through run_opt_apply: load.start_chat_interval -sci,
 * create_participant_interval -cpi, arrival_rate --arrival-rate (not
 * both), send_message_interval -smi (durations of whole ms, or integer
 * ms), organizers, max_participants, duration; replies.every, think,
 * think_dist; chats.lifetime, messages, reopen_after; reconnects.uptime,
 * dist, backoff; devices.participant, organizer. run_parse loads it
 * before the flags, which override it.
 *
 * scenfile_parse: the text js[0..len) (path only names it in errors)
 * into o, and o->scenario_name (heap, the previous one freed). Returns
 * 0; -EINVAL (not JSON, an unknown or repeated key, a wrong type, a bad
 * value) or -ENOMEM with one line in err: "<path>: key \"chats.lifetime\":
 * ...". o may be partly set on error. No I/O.
 *
 * scenfile_load: read the file (at most 64 KiB) and parse it; on success
 * o->scenario_path = path (not copied), o->scenario_text its bytes (heap),
 * o->scenario_len. Returns 0, or 2 after printing "esmeload: " and the
 * error as one line on stderr.
 *
 * scenfile_free: free what the two keep in o and zero those fields.
 */
int scenfile_parse(struct run_opts *o, const char *path, const char *js,
		   size_t len, char *err, size_t cap);
int scenfile_load(struct run_opts *o, const char *path);
void scenfile_free(struct run_opts *o);

/* ---- thresholds (threshold.c) ---- */

/*
 * The figures a threshold can name. The latency-like ones come in groups
 * of five (p50, p90, p99, p99_9, max, in that order) and are in
 * milliseconds: M_LAT + 2 is p99.
 */
enum run_metric_id {
	M_LAT = 0,            /* latency from the scheduled send */
	M_ACTUAL = 5,         /* ... from the actual send */
	M_LAG = 10,           /* send lag */
	M_ARRIVAL_LAG = 15,   /* sign-up written minus its schedule */
	M_TIME_TO_CHAT = 20,  /* scheduled arrival until the chat exists */
	M_REPLY = 25,         /* an organizer's reply, from its schedule */
	M_REJOIN = 30,        /* a reconnect: dropped until back in the chat */
	M_NLATENCY = 35,
	M_DELIVERED_RATIO = M_NLATENCY, M_SENT, M_DELIVERED, M_ORG_RECEIVED,
	M_ERRORS, M_CHATS, M_PARTICIPANTS, M_MSGS_PER_S, M_CPU, M_IN_FLIGHT,
	M_LOST, M_REPLIES_SENT, M_REPLIES_RECEIVED,
	M_CHATS_CLOSED,       /* run_counters.chats_closed */
	M_CHATS_REOPENED,     /* ... chats_reopened */
	M_RECONNECTS,         /* ... rejoined: back in their chat */
	M_HISTORY_MISSING,    /* ... hist_missing */
	M_HISTORY_DUPLICATED, /* ... hist_duplicated */
	M_DEVICE_COPIES_MISSING, /* dev_expected - dev_received +
				  * org_dev_expected - org_dev_received, >= 0 */
	M_REPLIES_MISSED,     /* ... replies_missed */
	M_HISTORY_TRUNCATED,  /* ... hist_truncated */
	M_COUNT
};

/* A pass/fail condition on a figure of the summary, e.g. "p99<50ms". */
struct threshold {
	char expr[64];
	int metric;       /* enum run_metric_id */
	int op;           /* <, <=, >, >=, == */
	double value;     /* in the metric's unit (ms for latencies) */
	double measured;  /* filled by threshold_apply */
	int passed;
	const char *no_data; /* threshold_apply: why there was nothing to
			      * measure ("nothing delivered"), else NULL */
};

/*
 * Parse "<metric><op><number>[unit]": metrics p50 p90 p99 p99_9 max (latency
 * from the scheduled send time), actual_p50 ... actual_max, lag_p50 ...
 * lag_max, arrival_lag_p50 ... arrival_lag_max, time_to_chat_p50 ...
 * time_to_chat_max, reply_p50 ... reply_max, rejoin_p50 ... rejoin_max
 * (a reconnect until back in its chat), delivered_ratio (or
 * delivery_ratio), sent, delivered, organizer_received, errors, chats,
 * participants, msgs_per_s, cpu_percent, in_flight, lost, replies_sent,
 * replies_received, chats_closed, chats_reopened, reconnects,
 * history_missing, history_duplicated, history_truncated,
 * device_copies_missing,
 * replies_missed (enum run_metric_id);
 * ops < <= > >= ==; latency units us, ms (default), s. Returns 0, or -EINVAL
 * with a reason in why.
 */
int threshold_parse(struct threshold *t, const char *s, char *why,
		    size_t whylen);
/* 1 if v satisfies t. */
int threshold_check(const struct threshold *t, double v);
/*
 * Judge t on the value v measured from samples values and fill measured,
 * passed and no_data. A metric that stands on samples (the latencies, the
 * lag, delivered_ratio, msgs_per_s, cpu_percent) fails when there were
 * none, whatever v says: an empty histogram reads 0, and "p99<50ms" on
 * nothing delivered is not a pass. no_data then names what was missing.
 * Counts (sent, errors, ...) are measured even when 0.
 */
void threshold_apply(struct threshold *t, double v, uint64_t samples);
/* The metric's name as parsed ("p99", "delivered_ratio", ...). */
const char *threshold_metric(const struct threshold *t);

/* ---- counters, per worker, merged by the coordinator ---- */

enum run_err {
	RE_CONNECT, RE_HTTP, RE_HANDSHAKE, RE_TIMEOUT, RE_RECV, RE_SEND,
	RE_PROTOCOL, RE_NO_CHAT, RE_CLOSED, RE_SERVER, RE_COUNT
};
extern const char *const run_err_names[RE_COUNT];

struct run_counters {
	uint64_t created;        /* participants signed up + request accepted */
	uint64_t connected;      /* participants authorized on the messenger */
	uint64_t chats;          /* chats participants found (a reopened one too) */
	uint64_t chatted;        /* participants that found their first chat */
	uint64_t sent;           /* send_message frames the kernel took */
	uint64_t delivered;      /* own messages echoed back */
	uint64_t org_received;   /* user_message frames read by organizers */
	uint64_t start_chats;    /* start_chat frames sent */
	uint64_t new_chats;      /* new_chat frames read by organizers */
	uint64_t no_new_chats;   /* info "no new chats" read by organizers */
	uint64_t part_failed;    /* participants that failed before their chat */
	uint64_t err[RE_COUNT];  /* err[RE_SERVER]: the server's error frames */
	uint64_t enobufs;
	uint64_t bundle_bufs;    /* receive buffers in multi-buffer bundles */
	uint64_t inc_partial;    /* receives that left their buffer part-used */
	uint64_t lat_unmatched;  /* echoes whose actual send time was lost */
	uint64_t tls_handshakes; /* TLS handshakes completed */
	uint64_t tls_resumed;    /* ... of which resumed a session */
	uint64_t zc_sends;       /* --zc: SEND_ZC notifications seen */
	uint64_t zc_copied;      /* ... of which the kernel copied anyway */
	/*
	 * Where every sent message ended, filled when a worker stops
	 * (sc_account): sent = delivered + in_flight + lost. A participant's
	 * echoes come back in order, so a message below the highest number
	 * echoed that never came back is lost; one above it is in flight if
	 * the participant's connection is still open, else lost.
	 */
	uint64_t in_flight;
	uint64_t lost;
	uint64_t echo_unmatched;   /* own echoes whose number was never sent */
	uint64_t arrivals_late;    /* arrivals written more than 1 s late */
	uint64_t replies_scheduled; /* organizers' replies decided on */
	uint64_t replies_sent;     /* ... written to their connections */
	uint64_t replies_received; /* ... read by their participants */
	uint64_t http_opened;      /* REST connections opened */
	/*
	 * Chats that end (--chat-lifetime, --chat-messages, --reopen-after):
	 * opened = chats (found by participants); closed_chat read by
	 * participants (or found gone after a reconnect) = chats_closed;
	 * chats = chats_closed + chats active. Messages a participant sent
	 * after the server closed its chat, refused with "you have no access
	 * to chat", are in lost and counted in chat_refused.
	 */
	uint64_t org_closes;       /* close_chat frames organizers sent */
	uint64_t chats_closed;     /* participants' chats that ended */
	uint64_t chats_reopened;   /* chat requests after a chat ended */
	uint64_t chat_refused;     /* messages refused: the chat had closed */
	uint64_t replies_dropped;  /* replies not sent: their chat closed */
	/*
	 * Reconnects (--reconnect-uptime): drops by the tester and by the
	 * server; reconnects back in their chat (history checked). The
	 * history check, for each return: messages echoed before the drop
	 * that the history lacks (missing) or holds twice (duplicated);
	 * unechoed ones it holds (recovered: counted lost at the drop, found
	 * stored); numbers the participant never sent (unexpected); the
	 * organizer's replies it holds that the participant never read
	 * (replies_missed).
	 */
	uint64_t drops_tester, drops_server;
	uint64_t rejoined;
	uint64_t hist_checks, hist_missing, hist_duplicated, hist_recovered;
	uint64_t hist_unexpected, replies_missed;
	uint64_t hist_truncated;   /* echoed, older than the history's start */
	uint64_t echo_after_drop;  /* echoes of a dropped connection's messages */
	/*
	 * Devices (--devices, --org-devices): every frame for a user reaches
	 * all its connections. A participant's own echoes read on its
	 * sending connection make copies_expected (devices - 1 each);
	 * copies_received are the echoes its other devices read.
	 */
	uint64_t dev_expected, dev_received;
	uint64_t org_dev_expected, org_dev_received; /* the organizers' */
};

/* ---- time ---- */

/*
 * The engine's timer wheel under run ticks 2^RUN_TICK_SHIFT ns (32.8 µs). A timer due at
 * t is armed on the first tick boundary at or after t, and the loop's wait
 * ends on that boundary, so a timer never fires early and fires at most one
 * tick late plus the wake-up's own latency (measured per run:
 * timer_late in the summary). 65,536 slots make one turn of the wheel 2.1 s,
 * longer than the common intervals, so most timers are looked at once.
 */
#ifndef RUN_TICK_SHIFT
#define RUN_TICK_SHIFT 15
#endif
#define RUN_TICK_NS ((int64_t)1 << RUN_TICK_SHIFT)
#define RUN_WHEEL_SLOTS 65536

/* Bytes of a connection's slot in the send arena. */
#define RUN_SLOT 512

struct worker;

/* ---- echo (echo.c) ---- */

/* Longest local address text ("[v6]:port") echo_match takes. */
#define ECHO_ADDR_MAX 47

/*
 * The frame a participant reads most is the echo of its own message; this
 * finds it without tokenizing, in the form every ESME server writes: the
 * envelope starts {"type":"user_message", the payload holds
 * "authorId":<user_id> and "content":"connection <addr>: message number
 * <k>" with no spaces around the colons and no escapes. The quote after
 * a key's name follows a letter, so it is not escaped and ends a key: the
 * text of a message never matches. Returns 1 and the content's bytes
 * (from "connection" to the digits) when it is this participant's echo;
 * 0 when the full JSON parse must decide (any other frame or form).
 * Unlike the full parse it does not check the rest of the document, and
 * it can be misled by keys no ESME server writes: a nested or repeated
 * "authorId", or a key ending in \"authorId. No I/O.
 */
int echo_match(const char *js, size_t n, uint32_t user_id, const char *addr,
	       size_t addr_len, const char **content, size_t *content_len);

/* ---- the whole run (run.c) ---- */

/*
 * The tester's CPU as the self-check sees it: one-second windows of the
 * time series that end before the stop (the drain is left out), each
 * judged against what the tester can use. Filled by series.c.
 */
struct run_cpu {
	unsigned cores;          /* CPUs the process may run on (affinity) */
	double limit_percent;    /* 100 x min(worker threads, cores) */
	uint32_t windows;        /* one-second windows before the stop */
	uint32_t saturated;      /* ... with CPU >= 90 % of limit_percent */
	uint32_t starved;        /* ... in which the worker threads waited
				  * for a CPU >= 20 % of the time */
	uint32_t stalled;        /* ... that ended >= 0.5 s late: the
				  * process did not run (stopped, starved) */
	uint32_t at_limit;       /* windows with any of the three */
	double busiest_percent;  /* CPU of the busiest window */
	double wait_max;         /* largest share of a window a worker
				  * thread waited for a CPU; -1 unknown */
	double stalled_s;        /* time the process did not run, in all */
};

struct run {
	struct run_opts o;
	struct worker *w;
	unsigned nw;
	volatile sig_atomic_t *stop;   /* signal */
	int stop_reason;               /* 0 running, else why */
	pthread_mutex_t err_lock;      /* first error across workers */
	pthread_barrier_t ready;       /* workers' rings are set up */
	char first_err[256];
	int has_first_err;
	int64_t t0_ns;                 /* monotonic start */
	int64_t t0_real_ns;
	int64_t org_start_real_ns, part_start_real_ns;
	int64_t end_real_ns;
	int64_t files_unix;            /* the output files' Unix-second prefix */
	/* figures of the whole run, for the summary */
	struct hist lat, lat_actual, lag;
	struct hist arrival_lag, ph_signup, ph_request, ph_connect, to_chat;
	struct hist timer_late;
	struct hist reply_lat;         /* organizers' replies: received minus
					* scheduled (wall clock) */
	struct hist rejoin;            /* reconnects: back in the chat */
	uint64_t backlog_max;          /* most arrivals waiting, any worker */
	double cpu_percent;            /* tester CPU, 100 = one core */
	struct run_cpu cpu;            /* ... per second, for the self-check */
	uint64_t cq_overflows;         /* the rings' cq_overflow, summed */
	uint64_t cq_dropped;           /* completions the kernels dropped */
	char *server_json;             /* serve's /stats at the end, or NULL */
	int64_t server_received;       /* its messages.received at the end,
					* or -1 */
	int64_t server_received_start; /* ... before the first message, or -1 */
	int thresholds_failed;
};

enum { STOP_NONE = 0, STOP_SIGNAL, STOP_ERROR, STOP_DURATION, STOP_DONE };

int run_main(int argc, char **argv);
/* Ask every worker to stop (first reason wins). */
void run_request_stop(struct run *r, int reason);
int run_stopping(const struct run *r);

/* ---- series.c: the time series, end figures, cross-check ---- */

struct series {
	int fd;                        /* the .jsonl file, -1 if none */
	int64_t unix_s;                /* the prefix it was opened under */
	int64_t last_ns;               /* monotonic time of the last line */
	struct run_counters prev;
	struct hist prev_lat, prev_act, prev_lag, prev_arr, prev_ttc;
	/* the opt-in behaviours' (taken only when on): organizers'
	 * replies, reconnects back in their chat */
	struct hist prev_reply, prev_rejoin;
	struct hist cur, tmp;          /* scratch */
	double prev_cpu_s;
	double prev_wait_s;            /* threads' run-queue wait, -1 unknown */
	/* the last second, for the progress line */
	double sent_per_s, delivered_per_s, p99_ms, cpu_percent;
	double ttc_p99_ms;             /* time to chat of the chats found */
	int have_p99, have_ttc;
};

/* Open <out_dir>/<unix>_performance_test_timeseries.jsonl; prints and
 * returns -errno on failure. */
int series_open(struct run *r, struct series *s);
/* Write the line for the time since the previous one; a window that holds
 * no part of the drain also counts in r->cpu. */
void series_tick(struct run *r, struct series *s, int64_t now_ns);
void series_close(struct series *s);
/* After series_close: rename the file from its start prefix to
 * r->files_unix, the prefix of the other two files (nothing to do when
 * they are equal or there is no file). Prints and returns -errno on
 * failure. A run killed before its end leaves the file under the start
 * prefix, without the other two. */
int series_rename(const struct run *r, const struct series *s);
/* The workers' histogram at byte offset off of struct worker, summed
 * from snapshots (a worker may be adding meanwhile) into dst; tmp is
 * scratch. */
void run_merged_hist(const struct run *r, size_t off, struct hist *dst,
		     struct hist *tmp);
/* The process's user + system CPU time so far, in seconds. */
double run_cpu_seconds(void);
/* Merge the workers' histograms, CPU use and ring counters into r, after
 * they stopped (before worker_exit). */
void run_figures(struct run *r);
/* Before the first message: serve's messages.received (bounded wait, 1 s)
 * into r->server_received_start, -1 when the messenger is not a serve. */
void run_cross_check_start(struct run *r);
/* After the run: serve's /stats (bounded wait) into r->server_json and
 * r->server_received; waits, bounded, until serve counted as many
 * messages since the start as the run sent. */
void run_cross_check(struct run *r);
/* Evaluate every --threshold; returns how many failed. */
int run_thresholds(struct run *r);
/* The value of a threshold's metric for the run into *v; returns how many
 * samples it stands on (1 for counts, which a run always has). */
uint64_t run_metric(const struct run *r, const struct threshold *t,
		    double *v);

/* ---- output (output.c) ---- */
/* Sum the workers' counters. */
void run_sum(const struct run *r, struct run_counters *t);
/* The summary's ways, for esmeload merge (merge.c) to write the same:
 * an instant as Go marshals a time.Time, Go's duration text of end -
 * start, Go's MarshalIndent layout of compact JSON (into dst of
 * run_json_indent_room(n) bytes; returns the length), and a file written
 * beside its path and renamed over it once whole ("<path>.tmp.<pid>";
 * run_close_tmp: 0 or -errno, the temporary removed on error). */
struct jw;
void run_jw_time(struct jw *w, int64_t ns);
void run_jw_span(struct jw *w, int64_t start, int64_t end);
/* A histogram's p50, p90, p99, p99_9 and max in ms, as one object. */
void run_jw_quantiles(struct jw *w, const struct hist *h);
/* A time-series line's key: {p50, p99, max} in ms ({p99} alone without
 * with_p50), or null for an empty histogram. */
void run_jw_ms3(struct jw *w, const char *key, const struct hist *h,
		int with_p50);
/* A time-series line's p99 key in ms alone, or null for an empty
 * histogram (reply_p99_ms, rejoin_p99_ms). */
void run_jw_p99(struct jw *w, const char *key, const struct hist *h);
size_t run_json_indent_room(size_t n);
size_t run_json_indent(char *dst, const char *s, size_t n);
FILE *run_open_tmp(const char *path, char *tmp, size_t cap);
int run_close_tmp(FILE *f, const char *tmp);

/* ---- metrics.c: --metrics-listen, served by the coordinator ---- */

#define RUN_METRICS_CONNS 8

struct run_metrics_conn {
	int fd;                 /* -1: free */
	size_t n;
	int64_t deadline_ns;    /* the request head by then */
	char buf[4096];
};

struct run_metrics {
	int lfd;                /* -1: off */
	uint16_t port;          /* bound */
	char host[64];          /* bound address, [v6] in brackets */
	struct run_metrics_conn c[RUN_METRICS_CONNS];
};

/* Listen on HOST:PORT (":PORT": every address; port 0: any). 0, or
 * -errno with a one-line reason in err. */
int run_metrics_open(struct run_metrics *mx, const char *spec, char *err,
		     size_t cap);
/* Wait up to timeout_ms for scrapes and answer them (a plain sleep when
 * off); ended: the run is over, the figures are the summary's. */
void run_metrics_poll(struct run_metrics *mx, struct run *r, int ended,
		      int timeout_ms);
void run_metrics_close(struct run_metrics *mx);
/* The exposition text into buf; its length, or -ENOSPC. */
long run_metrics_text(struct run *r, int ended, char *buf, size_t cap);

/* ---- merge.c: esmeload merge ---- */
int merge_main(int argc, char **argv);

/* A hash of what makes shards parts of one test (the intervals, the
 * limits, the shard count, the start, the behaviours beyond the Go
 * tool's scenario): shards that differ in it are not one test. */
uint64_t run_test_id(const struct run_opts *o);
/* An output file's path: "<out_dir>/<unix>_<what>", with "shard-I-of-N_"
 * after the prefix when the run is one of several shards. Returns 0, or
 * -ENAMETOOLONG. */
int run_file_name(const struct run_opts *o, char *dst, size_t cap,
		  long long unix_s, const char *what);
/* Write both files into o.out_dir, print the summary; returns 0 or -errno
 * (the error is printed). */
int run_write_outputs(struct run *r, char *summary_path, size_t cap);

#endif
