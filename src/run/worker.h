/*
 * worker: one thread of `esmeload run`: its sessions (and under them its
 * engine: rings, connections, the timer wheel, the loop) and its share of
 * the scenario on them. The coordinator (run.c, series.c, output.c) reads
 * the scenario's counters and histograms with relaxed atomic loads while
 * the thread runs, everything after it stopped.
 */
#ifndef ESMELOAD_RUN_WORKER_H
#define ESMELOAD_RUN_WORKER_H

#include "run/scenario.h"
#include "session/session.h"

struct worker {
	unsigned id;
	const struct run_opts *o;
	struct run *run;
	pthread_t thread;
	int64_t t0_ns;          /* the run's start (monotonic) */
	struct ses ses;         /* sessions, and their engine in ses.eng */
	struct ses_target targets[NTARGETS];
	char tls_host[NTARGETS][256];
	char ws_path[RUN_URL_MAX];
	struct scenario sc;
	int64_t drain_deadline; /* the drain ends by then (monotonic) */
	char init_err[256];     /* worker_init failed: why */
};

int worker_init(struct worker *w, const struct run_opts *o, unsigned id,
		char *err, size_t errlen);
void worker_exit(struct worker *w);
void *worker_main(void *arg);

#endif
