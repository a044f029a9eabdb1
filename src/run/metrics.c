/*
 * metrics: `esmeload run --metrics-listen HOST:PORT`: the run's live
 * counters and distributions over HTTP in the Prometheus text format
 * (version 0.0.4), for a dashboard to watch a long test. See run.h.
 *
 * IMPLEMENTATION NOTES
 * - The coordinator thread serves it: it wakes every 50 ms anyway for the
 *   stop conditions, the time series and the progress line, and now waits
 *   in poll(2) on the listener and the scrapes in progress instead of
 *   sleeping. The workers' rings are untouched: a scrape reads their
 *   counters with the relaxed loads the progress line uses and their
 *   histograms by snapshot (hist.h), so it costs the load nothing, and
 *   without the flag nothing listens at all.
 * - A scrape is one request per connection: the request head is read (at
 *   most 4 KiB, 5 s), the answer written and the connection closed.
 * - Once the run has ended, the figures are the summary's (r->lat ..., the
 *   counters after the drain): a last scrape in --metrics-linger sees the
 *   same numbers as the summary file.
 */
#include "run/run.h"
#include "run/worker.h"
#include "promtext.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define REQ_MAX 4096
#define REQ_DEADLINE_NS (5 * (int64_t)1000000000)
#define TEXT_MAX (64 * 1024)

/* ---- the exposition text ---- */

static void one(struct prom *m, const char *name, const char *type,
		const char *help, double v)
{
	prom_family(m, name, type, help);
	prom_f64(m, name, NULL, v);
}

/* A counter, exactly. */
static void cnt(struct prom *m, const char *name, const char *help,
		uint64_t v)
{
	prom_family(m, name, "counter", help);
	prom_u64(m, name, NULL, v);
}

/* A histogram of microseconds as a Prometheus summary in seconds: its
 * quantiles (1 is the maximum), sum and count. */
static void summary(struct prom *m, const char *name, const char *help,
		    const struct hist *h)
{
	static const char *const qn[] = {
		"quantile=\"0.5\"", "quantile=\"0.9\"", "quantile=\"0.99\"",
		"quantile=\"0.999\"", "quantile=\"1\"",
	};
	static const double qs[] = { 0.5, 0.9, 0.99, 0.999, 1.0 };
	char n[96];

	prom_family(m, name, "summary", help);
	for (int k = 0; k < 5; k++)
		prom_f64(m, name, qn[k], (double)hist_quantile(h, qs[k]) / 1e6);
	snprintf(n, sizeof(n), "%s_sum", name);
	prom_f64(m, n, NULL, (double)h->sum / 1e6);
	snprintf(n, sizeof(n), "%s_count", name);
	prom_u64(m, n, NULL, h->count);
}

/* see run.h */
long run_metrics_text(struct run *r, int ended, char *buf, size_t cap)
{
	static struct hist lat, act, ttc, arr, tmp;
	const struct run_opts *o = &r->o;
	struct prom m;
	struct run_counters c;
	char l[128];
	const struct hist *hl = &r->lat, *ha = &r->lat_actual,
			  *ht = &r->to_chat, *hr = &r->arrival_lag;

	prom_init(&m, buf, cap, "esmeload_run_");
	run_sum(r, &c);
	if (!ended) {
		run_merged_hist(r, offsetof(struct worker, sc.lat), &lat, &tmp);
		run_merged_hist(r, offsetof(struct worker, sc.lat_actual), &act,
				&tmp);
		run_merged_hist(r, offsetof(struct worker, sc.to_chat), &ttc,
				&tmp);
		run_merged_hist(r, offsetof(struct worker, sc.arrival_lag), &arr,
				&tmp);
		hl = &lat, ha = &act, ht = &ttc, hr = &arr;
	}
	prom_family(&m, "info", "gauge",
		    "The run: its shard, of how many, its test.");
	snprintf(l, sizeof(l), "shard=\"%u\",shards=\"%u\",test=\"%016llx\"",
		 o->shard, run_shards(o), (unsigned long long)run_test_id(o));
	prom_u64(&m, "info", l, 1);
	one(&m, "running", "gauge", "1 while the run goes, 0 once it ended "
	    "(the figures are then the summary's).", ended ? 0 : 1);
	cnt(&m, "participants_created_total",
	    "Participants signed up with their chat request accepted.",
	    c.created);
	cnt(&m, "participants_connected_total",
	    "Participants authorized on the messenger.", c.connected);
	cnt(&m, "participants_failed_total",
	    "Participants that failed before their chat.", c.part_failed);
	cnt(&m, "chats_total", "Chats participants found, reopened ones "
	    "included.", c.chats);
	cnt(&m, "messages_sent_total", "send_message frames the kernel took.",
	    c.sent);
	cnt(&m, "messages_delivered_total",
	    "Own messages the server echoed back.", c.delivered);
	cnt(&m, "messages_organizer_received_total",
	    "user_message frames the organizers read.", c.org_received);
	one(&m, "messages_unechoed", "gauge",
	    "Messages sent and not echoed (yet).",
	    (double)(c.sent > c.delivered ? c.sent - c.delivered : 0));
	prom_family(&m, "errors_total", "counter", "Errors, by kind.");
	for (int k = 0; k < RE_COUNT; k++) {
		snprintf(l, sizeof(l), "kind=\"%s\"", run_err_names[k]);
		prom_u64(&m, "errors_total", l, c.err[k]);
	}
	summary(&m, "latency_seconds", "Echo received minus the message's "
		"scheduled send (coordinated omission included).", hl);
	summary(&m, "latency_actual_seconds",
		"Echo received minus the message's actual send.", ha);
	summary(&m, "time_to_chat_seconds",
		"Scheduled arrival until the participant's chat existed.", ht);
	summary(&m, "arrival_lag_seconds",
		"Sign-up written minus its scheduled arrival.", hr);
	one(&m, "cpu_seconds_total", "counter",
	    "The tester's CPU time (user + system).", run_cpu_seconds());
	return prom_finish(&m);
}

/* ---- the listener ---- */

/* see run.h */
int run_metrics_open(struct run_metrics *mx, const char *spec, char *err,
		     size_t cap)
{
	char host[256];
	const char *colon = strrchr(spec, ':');
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
				  .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	size_t hl;
	char *end;
	long port;
	int one_ = 1, fd, e;

	memset(mx, 0, sizeof(*mx));
	mx->lfd = -1;
	for (int i = 0; i < RUN_METRICS_CONNS; i++)
		mx->c[i].fd = -1;
	port = colon ? strtol(colon + 1, &end, 10) : -1;
	if (!colon || !colon[1] || *end || port < 0 || port > 65535) {
		snprintf(err, cap, "invalid value \"%s\" for flag "
			 "--metrics-listen: not HOST:PORT (e.g. "
			 "127.0.0.1:9464, :9464 for every address, port 0 "
			 "for any)", spec);
		return -EINVAL;
	}
	hl = (size_t)(colon - spec);
	if (hl >= sizeof(host)) {
		snprintf(err, cap, "--metrics-listen %s: host too long", spec);
		return -EINVAL;
	}
	memcpy(host, spec, hl);
	host[hl] = 0;
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = 0;
	}
	e = getaddrinfo(*host ? host : NULL, colon + 1, &hints, &ai);
	if (e) {
		snprintf(err, cap, "--metrics-listen %s: %s", spec,
			 gai_strerror(e));
		return -EINVAL;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one_, sizeof(one_)) < 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 16) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		e = errno;
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		snprintf(err, cap, "--metrics-listen %s: %s", spec, strerror(e));
		return -e;
	}
	freeaddrinfo(ai);
	mx->lfd = fd;
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *a6 = (const void *)&ss;

		mx->port = ntohs(a6->sin6_port);
		inet_ntop(AF_INET6, &a6->sin6_addr, mx->host + 1,
			  sizeof(mx->host) - 2);
		mx->host[0] = '[';
		strcat(mx->host, "]");
	} else {
		const struct sockaddr_in *a4 = (const void *)&ss;

		mx->port = ntohs(a4->sin_port);
		inet_ntop(AF_INET, &a4->sin_addr, mx->host, sizeof(mx->host));
	}
	return 0;
}

static void conn_drop(struct run_metrics_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->n = 0;
}

/* Write all of p on a non-blocking socket without waiting: its send
 * buffer holds a whole answer (accept sets it), so a scraper whose
 * buffer is full is not reading, and is dropped (the coordinator that
 * serves it must not wait). */
static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);

		if (k > 0) {
			p += k;
			n -= (size_t)k;
		} else if (!(k < 0 && errno == EINTR)) {
			return;
		}
	}
}

static void answer(struct run_metrics_conn *c, struct run *r, int ended)
{
	static char text[TEXT_MAX], head[256];
	const char *status = "200 OK", *body = text;
	long n = 0;
	int k;

	if (strncmp(c->buf, "GET ", 4) && strncmp(c->buf, "HEAD ", 5)) {
		status = "405 Method Not Allowed";
		body = "only GET /metrics\n";
		n = (long)strlen(body);
	} else if (strncmp(c->buf + (c->buf[0] == 'G' ? 4 : 5), "/metrics", 8) ||
		   !strchr(" ?", c->buf[(c->buf[0] == 'G' ? 4 : 5) + 8])) {
		status = "404 Not Found";
		body = "not found: GET /metrics\n";
		n = (long)strlen(body);
	} else {
		n = run_metrics_text(r, ended, text, sizeof(text));
		if (n < 0) {
			status = "500 Internal Server Error";
			body = "metrics over 64 KiB\n";
			n = (long)strlen(body);
		}
	}
	k = snprintf(head, sizeof(head),
		     "HTTP/1.1 %s\r\nContent-Type: text/plain; version=0.0.4; "
		     "charset=utf-8\r\nContent-Length: %ld\r\n"
		     "Connection: close\r\n\r\n", status, n);
	write_all(c->fd, head, (size_t)k);
	if (c->buf[0] != 'H')
		write_all(c->fd, body, (size_t)n);
	conn_drop(c);
}

/* see run.h */
void run_metrics_poll(struct run_metrics *mx, struct run *r, int ended,
		      int timeout_ms)
{
	struct pollfd pf[1 + RUN_METRICS_CONNS];
	int idx[1 + RUN_METRICS_CONNS], n = 0;
	int64_t now;

	if (mx->lfd < 0) {
		poll(NULL, 0, timeout_ms);
		return;
	}
	pf[n] = (struct pollfd){ .fd = mx->lfd, .events = POLLIN };
	idx[n++] = -1;
	for (int i = 0; i < RUN_METRICS_CONNS; i++)
		if (mx->c[i].fd >= 0) {
			pf[n] = (struct pollfd){ .fd = mx->c[i].fd,
						 .events = POLLIN };
			idx[n++] = i;
		}
	if (poll(pf, (nfds_t)n, timeout_ms) < 0)
		return;
	now = clock_mono_ns();
	for (int k = 1; k < n; k++) {
		struct run_metrics_conn *c = &mx->c[idx[k]];
		ssize_t got;

		/* the deadline holds for a scraper that trickles bytes too */
		if (now > c->deadline_ns) {
			conn_drop(c);
			continue;
		}
		if (!(pf[k].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		got = recv(c->fd, c->buf + c->n, sizeof(c->buf) - 1 - c->n, 0);
		if (got <= 0) {
			if (got < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			conn_drop(c);
			continue;
		}
		c->n += (size_t)got;
		c->buf[c->n] = 0;
		if (strstr(c->buf, "\r\n\r\n") || strstr(c->buf, "\n\n"))
			answer(c, r, ended);
		else if (c->n >= sizeof(c->buf) - 1)
			conn_drop(c); /* a head over 4 KiB */
	}
	if (pf[0].revents & POLLIN) {
		/* room for a whole answer (the kernel doubles the value) */
		const int sndbuf = TEXT_MAX + 4096;

		for (;;) {
			int fd = accept4(mx->lfd, NULL, NULL,
					 SOCK_NONBLOCK | SOCK_CLOEXEC), i;

			if (fd < 0)
				break;
			for (i = 0; i < RUN_METRICS_CONNS && mx->c[i].fd >= 0; i++)
				;
			if (i == RUN_METRICS_CONNS) {
				close(fd); /* busy: the scraper retries */
				continue;
			}
			setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf,
				   sizeof(sndbuf));
			mx->c[i].fd = fd;
			mx->c[i].n = 0;
			mx->c[i].deadline_ns = now + REQ_DEADLINE_NS;
		}
	}
}

/* see run.h */
void run_metrics_close(struct run_metrics *mx)
{
	if (mx->lfd < 0)
		return; /* never opened: the slots were never set */
	for (int i = 0; i < RUN_METRICS_CONNS; i++)
		conn_drop(&mx->c[i]);
	close(mx->lfd);
	mx->lfd = -1;
}
