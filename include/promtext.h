/*
 * promtext: the Prometheus text exposition format (version 0.0.4) written
 * into a caller's buffer: families (their HELP and TYPE lines) and
 * samples, every metric name behind one prefix ("esmeload_serve_",
 * "esmeload_run_"). No I/O. The first sample that does not fit marks the
 * text over, and prom_finish says so.
 */
#ifndef ESMELOAD_PROMTEXT_H
#define ESMELOAD_PROMTEXT_H

#include <stddef.h>
#include <stdint.h>

struct prom {
	char *p;
	size_t cap, n;
	int over;
	const char *prefix;
};

void prom_init(struct prom *m, char *buf, size_t cap, const char *prefix);
/* "# HELP <prefix><name> help" and "# TYPE <prefix><name> type". */
void prom_family(struct prom *m, const char *name, const char *type,
		 const char *help);
/* One sample; labels NULL or `k="v",...` (written as they are). */
void prom_u64(struct prom *m, const char *name, const char *labels,
	      uint64_t v);
void prom_f64(struct prom *m, const char *name, const char *labels,
	      double v);
/* The text's length, or -ENOSPC when it did not fit. */
long prom_finish(const struct prom *m);

#endif
