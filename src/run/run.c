/*
 * run: `esmeload run`: threads, signals, progress, and the embedded serve
 * child used when no config.json is given. See run.h.
 */
#include "run.h"
#include "run/worker.h"
#include "opt.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	(void)sig;
	got_signal = 1;
}

/* see run.h */
void run_request_stop(struct run *r, int reason)
{
	int none = STOP_NONE;

	__atomic_compare_exchange_n(&r->stop_reason, &none, reason, 0,
				    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

/* see run.h */
int run_stopping(const struct run *r)
{
	return __atomic_load_n(&r->stop_reason, __ATOMIC_RELAXED) != STOP_NONE;
}

/* The longest --start-at may lie behind (a late shard catches up, each
 * arrival's lag showing it) or ahead. */
#define START_LATE_MAX_NS (600 * (int64_t)1000000000)
#define START_AHEAD_MAX_NS (7 * 86400 * (int64_t)1000000000)

/* Sleep until 20 ms before --start-at (the rings are set up in them);
 * -1 on a signal or a start too far off (printed). */
static int wait_start(const struct run_opts *o)
{
	int64_t ahead = o->start_at_ns - clock_real_ns();

	if (ahead < -START_LATE_MAX_NS || ahead > START_AHEAD_MAX_NS) {
		fprintf(stderr, "esmeload: --start-at is %.0f s %s: give an "
			"instant at most 10 minutes past or 7 days ahead\n",
			(double)(ahead < 0 ? -ahead : ahead) / 1e9,
			ahead < 0 ? "in the past" : "ahead");
		return -1;
	}
	if (!o->quiet && ahead > 0)
		fprintf(stderr, "esmeload: shard %u/%u starts in %.1f s\n",
			o->shard, o->shards, (double)ahead / 1e9);
	while (!got_signal) {
		int64_t left = o->start_at_ns - 20000000 - clock_real_ns();
		struct timespec ts;

		if (left <= 0)
			return 0;
		if (left > 200000000)
			left = 200000000;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)left;
		nanosleep(&ts, NULL);
	}
	return -1;
}

/* ---- the embedded target ---- */

struct child {
	pid_t pid;
	char dir[256];
	char config[300];
};

static int start_serve(struct run_opts *o, struct child *ch)
{
	char self[4096];
	const char *bin = o->serve_bin;
	int64_t deadline;
	ssize_t n;

	if (!bin) {
		n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n <= 0) {
			fprintf(stderr, "esmeload: cannot find my own binary to "
				"start serve: %s\n", strerror(errno));
			return -1;
		}
		self[n] = 0;
		bin = self;
	}
	const char *tmp = getenv("TMPDIR");

	/* $TMPDIR when it names a directory by an absolute path, as
	 * mkdtemp(1) takes it */
	if (!tmp || tmp[0] != '/' || strlen(tmp) > 200 || access(tmp, W_OK))
		tmp = "/tmp";
	snprintf(ch->dir, sizeof(ch->dir), "%s/esmeload-serve-XXXXXX", tmp);
	if (!mkdtemp(ch->dir)) {
		fprintf(stderr, "esmeload: mkdtemp: %s\n", strerror(errno));
		return -1;
	}
	snprintf(ch->config, sizeof(ch->config), "%s/config.json", ch->dir);
	ch->pid = fork();
	if (ch->pid < 0) {
		fprintf(stderr, "esmeload: fork: %s\n", strerror(errno));
		return -1;
	}
	if (ch->pid == 0) {
		char out[300], norgs[16];
		int fd;

		snprintf(out, sizeof(out), "%s/serve.out", ch->dir);
		fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd >= 0)
			dup2(fd, 1);
		/* As many organizer accounts as the run's pool. */
		snprintf(norgs, sizeof(norgs), "%u", o->organizers);
		execl(bin, bin, "serve", "--organizer-port", "0",
		      "--participant-port", "0", "--messenger-port", "0",
		      "--organizers", norgs,
		      "--write-config", ch->config, "--quiet", (char *)NULL);
		_exit(127);
	}
	/* Wait, bounded, for the child to bind and write its config. */
	deadline = clock_mono_ns() + 5000000000LL;
	while (access(ch->config, R_OK) != 0) {
		int st;

		if (waitpid(ch->pid, &st, WNOHANG) == ch->pid) {
			ch->pid = 0;
			fprintf(stderr, "esmeload: the embedded serve exited "
				"before it was ready (its error is above)\n");
			return -1;
		}
		if (clock_mono_ns() > deadline) {
			fprintf(stderr, "esmeload: the embedded serve did not "
				"start within 5 s\n");
			return -1;
		}
		poll(NULL, 0, 10);
	}
	return 0;
}

/* Stop the embedded serve (its counters are already in the summary's
 * "server" object) and remove its directory. */
static void stop_serve(struct child *ch)
{
	char path[300];

	if (ch->pid > 0) {
		int st;
		int64_t deadline = clock_mono_ns() + 3000000000LL;

		kill(ch->pid, SIGTERM);
		while (waitpid(ch->pid, &st, WNOHANG) == 0) {
			if (clock_mono_ns() > deadline) {
				kill(ch->pid, SIGKILL);
				waitpid(ch->pid, &st, 0);
				break;
			}
			poll(NULL, 0, 10);
		}
	}
	snprintf(path, sizeof(path), "%s/serve.out", ch->dir);
	unlink(path);
	unlink(ch->config);
	rmdir(ch->dir);
}

/*
 * --max-participants N without --duration: the run is done when every one
 * of the N participants has arrived and either found its chat or failed
 * (with --max-errors above the failures; else the first failure stopped
 * it already). With --duration, arrivals stop at N and the run holds them
 * until the duration instead.
 */
static void participants_done(struct run *r)
{
	struct run_counters t;

	run_sum(r, &t);
	/* -cpi 0 makes one participant, whatever the limit. */
	if (t.chatted + t.part_failed >=
	    (run_cpi_ns(&r->o) ? r->o.max_participants : 1))
		run_request_stop(r, STOP_DONE);
}

/* ---- progress ---- */

/* One line on stderr: in place on a terminal, plain lines otherwise. */
static void progress(struct run *r, const struct series *se, int64_t now,
		     int tty, int final)
{
	struct run_counters t;
	uint64_t errs = 0;
	char p99[32], ttc[32];

	run_sum(r, &t);
	for (int k = 0; k < RE_COUNT; k++)
		errs += t.err[k];
	if (se->have_p99)
		snprintf(p99, sizeof(p99), "%.1fms", se->p99_ms);
	else
		snprintf(p99, sizeof(p99), "-");
	if (se->have_ttc)
		snprintf(ttc, sizeof(ttc), "%.0fms", se->ttc_p99_ms);
	else
		snprintf(ttc, sizeof(ttc), "-");
	fprintf(stderr, "%s%6.1fs  participants %llu  chats %llu  to chat p99 %s"
		"  sent/s %.0f  delivered/s %.0f  p99 %s  errors %llu  cpu %.0f%%%s",
		tty ? "\r" : "", (double)(now - r->t0_ns) / 1e9,
		(unsigned long long)t.created, (unsigned long long)t.chats, ttc,
		se->sent_per_s, se->delivered_per_s, p99,
		(unsigned long long)errs, se->cpu_percent,
		tty && !final ? "\033[K" : "\n");
	fflush(stderr);
}

/* see run.h */
int run_main(int argc, char **argv)
{
	static struct run run;
	struct run *r = &run;
	struct run_opts *o = &r->o;
	struct child ch = { 0 };
	struct sigaction sa;
	sigset_t block, old;
	char summary[4096];
	static struct series se;
	static struct run_metrics mx = { .lfd = -1 };
	int ret, tty = isatty(2), rc = 0;
	int64_t last_progress;

	ret = run_parse(o, argc, argv);
	if (ret)
		return ret == 1 ? 0 : ret;
	if (o->embedded && o->shards > 1) {
		fprintf(stderr, "esmeload: shard %u/%u: shards run against one "
			"target (--config), not each its own demo\n", o->shard,
			o->shards);
		return 2;
	}
	if (o->embedded) {
		/* No target given: a short, bounded demonstration against our
		 * own serve, with the thesis's intervals unless overridden. */
		if (!(o->go_set & 1u << RUN_GO_SCI))
			o->sci_ms = 10;
		if (!(o->go_set & 1u << RUN_GO_CPI) && !o->arrival_rate)
			o->cpi_ms = 20;
		if (!(o->go_set & 1u << RUN_GO_SMI))
			o->smi_ms = 100;
		if (!o->duration_ms || o->duration_ms > 30000)
			o->duration_ms = o->duration_ms ? 30000 : 10000;
		/* Even with --quiet: a demo must never pass for a real run. */
		fprintf(stderr, "esmeload: demo: the target is an esmeload serve "
			"started on loopback, not a real deployment%s: a %llds "
			"run (sci %lld, cpi %lld, smi %lld ms%s)\n",
			access("config.json", F_OK) == 0 ?
			" (./config.json is not read)" : "",
			(long long)o->duration_ms / 1000,
			(long long)o->sci_ms, (long long)o->cpi_ms,
			(long long)o->smi_ms, o->arrival_rate ?
			", arrivals by --arrival-rate" : "");
		if (start_serve(o, &ch) < 0) {
			stop_serve(&ch);
			return 1;
		}
		ret = run_load_config(o, ch.config);
		if (ret) {
			stop_serve(&ch);
			return ret;
		}
	}
	if (o->org_accts && o->organizers > 1 &&
	    o->organizers > o->n_org_accts) {
		fprintf(stderr, "esmeload: --organizers %u: %s lists %u "
			"organizer account(s) under \"organizers\"\n",
			o->organizers, o->config_path ? o->config_path : ch.config,
			o->n_org_accts);
		rc = 2;
		goto out;
	}

	/* One set of trust anchors for every TLS connection of the run. */
	if (!o->insecure && (o->t[T_ORG].u.tls || o->t[T_PART].u.tls ||
			     o->t[T_MSG].u.tls)) {
		char err[600];

		if (tls_ta_load(&o->tas, o->cacert, err, sizeof(err)) < 0) {
			fprintf(stderr, "esmeload: %s: %s\n", o->cacert ?
				"--cacert" : "trust anchors", err);
			rc = 2;
			goto out;
		}
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	pthread_mutex_init(&r->err_lock, NULL);

	if (o->metrics_listen) {
		char why[512];

		if (run_metrics_open(&mx, o->metrics_listen, why,
				     sizeof(why)) < 0) {
			fprintf(stderr, "esmeload: %s\n", why);
			rc = 2;
			goto out;
		}
		/* even with --quiet: port 0 is only known from here */
		fprintf(stderr, "esmeload: metrics http://%s:%u/metrics\n",
			mx.host, mx.port);
	}
	/* serve's counters before the first message, for the cross-check. */
	run_cross_check_start(r);
	r->nw = o->threads;
	r->w = calloc(r->nw, sizeof(*r->w));
	if (!r->w) {
		fprintf(stderr, "esmeload: out of memory\n");
		rc = 1;
		goto out;
	}
	/* Each worker sets up its ring on its own thread: a SINGLE_ISSUER
	 * ring accepts submissions only from the thread that created it. */
	r->t0_ns = clock_mono_ns() + 20000000; /* rings are up by then */
	r->t0_real_ns = clock_real_ns() + 20000000;
	if (o->start_at_ns) {
		if (wait_start(o) < 0) {
			rc = got_signal ? 130 : 2;
			goto out;
		}
		/* every shard's schedule from the same instant */
		r->t0_real_ns = o->start_at_ns;
		r->t0_ns = clock_mono_ns() + (o->start_at_ns - clock_real_ns());
	}
	pthread_barrier_init(&r->ready, NULL, r->nw + 1);
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	for (unsigned i = 0; i < r->nw; i++) {
		r->w[i].run = r;
		r->w[i].id = i;
		r->w[i].o = o;
		r->w[i].t0_ns = r->t0_ns;
		pthread_create(&r->w[i].thread, NULL, worker_main, &r->w[i]);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_barrier_wait(&r->ready);
	for (unsigned i = 0; i < r->nw; i++)
		if (r->w[i].init_err[0]) {
			fprintf(stderr, "esmeload: %s\n", r->w[i].init_err);
			run_request_stop(r, STOP_ERROR);
			rc = 1;
			break;
		}
	/* Workers that failed to set up exit; the others see the stop. */
	pthread_barrier_wait(&r->ready);

	if (rc == 0 && series_open(r, &se) < 0) {
		run_request_stop(r, STOP_ERROR);
		rc = 1;
	}
	last_progress = r->t0_ns;
	while (!run_stopping(r)) {
		int64_t now;

		run_metrics_poll(&mx, r, 0, 50);
		now = clock_mono_ns();
		if (got_signal)
			run_request_stop(r, STOP_SIGNAL);
		if (o->duration_ms && now - r->t0_ns >= o->duration_ms * 1000000)
			run_request_stop(r, STOP_DURATION);
		if (o->max_participants && !o->duration_ms)
			participants_done(r);
		if (now - se.last_ns >= 1000000000LL)
			series_tick(r, &se, now);
		/* Once stopping, the final line below is the last one. */
		if (!o->quiet && !run_stopping(r) &&
		    now - last_progress >= (tty ? 1 : 5) * 1000000000LL) {
			progress(r, &se, now, tty, 0);
			last_progress = now;
		}
	}
	for (unsigned i = 0; i < r->nw; i++)
		pthread_join(r->w[i].thread, NULL);
	r->end_real_ns = clock_real_ns();
	if (rc) {
		series_close(&se);
		for (unsigned i = 0; i < r->nw; i++)
			worker_exit(&r->w[i]);
		goto out;
	}
	/* The last (partial) second, then the run's figures. */
	series_tick(r, &se, clock_mono_ns());
	series_close(&se);
	if (!o->quiet)
		progress(r, &se, clock_mono_ns(), tty, 1);
	/* The first error is the one line a user reads, whether it stopped
	 * the run or --max-errors let it go on. */
	if (r->has_first_err)
		fprintf(stderr, "esmeload: %s%s\n",
			r->stop_reason == STOP_ERROR ? "" : "first error: ",
			r->first_err);
	run_figures(r);
	run_cross_check(r);
	run_thresholds(r);
	/* Like the Go tool, the files are named for the second they are
	 * written in; the time series joins them under that prefix. */
	r->files_unix = clock_real_ns() / 1000000000;
	if (series_rename(r, &se) < 0)
		rc = 1;
	if (run_write_outputs(r, summary, sizeof(summary)) < 0)
		rc = 1;
	if (r->stop_reason == STOP_ERROR)
		rc = 1;
	if (r->thresholds_failed)
		rc = 99; /* CI reads this one code */
	/* The last scrapes see the summary's figures. */
	if (mx.lfd >= 0 && o->metrics_linger_ms) {
		int64_t until = clock_mono_ns() + o->metrics_linger_ms * 1000000;

		while (!got_signal && clock_mono_ns() < until)
			run_metrics_poll(&mx, r, 1, 50);
	}
	for (unsigned i = 0; i < r->nw; i++)
		worker_exit(&r->w[i]);
out:
	run_metrics_close(&mx);
	if (o->embedded)
		stop_serve(&ch);
	free(r->w);
	free(r->server_json);
	free(o->thresholds);
	free(o->org_accts);
	tls_ta_free(&o->tas);
	return rc;
}
