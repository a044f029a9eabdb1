/*
 * promtext: the Prometheus text format. See include/promtext.h.
 */
#include "promtext.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

static void put(struct prom *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void put(struct prom *m, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (m->over)
		return;
	va_start(ap, fmt);
	k = vsnprintf(m->p + m->n, m->cap - m->n, fmt, ap);
	va_end(ap);
	if (k < 0 || (size_t)k >= m->cap - m->n)
		m->over = 1;
	else
		m->n += (size_t)k;
}

/* see promtext.h */
void prom_init(struct prom *m, char *buf, size_t cap, const char *prefix)
{
	m->p = buf;
	m->cap = cap;
	m->n = 0;
	m->over = cap == 0;
	m->prefix = prefix;
}

/* see promtext.h */
void prom_family(struct prom *m, const char *name, const char *type,
		 const char *help)
{
	put(m, "# HELP %s%s %s\n# TYPE %s%s %s\n", m->prefix, name, help,
	    m->prefix, name, type);
}

/* see promtext.h */
void prom_u64(struct prom *m, const char *name, const char *labels,
	      uint64_t v)
{
	put(m, "%s%s%s%s%s %llu\n", m->prefix, name, labels ? "{" : "",
	    labels ? labels : "", labels ? "}" : "", (unsigned long long)v);
}

/* see promtext.h */
void prom_f64(struct prom *m, const char *name, const char *labels,
	      double v)
{
	put(m, "%s%s%s%s%s %.12g\n", m->prefix, name, labels ? "{" : "",
	    labels ? labels : "", labels ? "}" : "", v);
}

/* see promtext.h */
long prom_finish(const struct prom *m)
{
	return m->over ? -ENOSPC : (long)m->n;
}
