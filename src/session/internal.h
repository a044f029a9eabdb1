/*
 * The session files among themselves (session.c, httpc.c, pool.c, wsc.c). Not
 * for applications: they use session.h.
 */
#ifndef ESMELOAD_SESSION_INTERNAL_H
#define ESMELOAD_SESSION_INTERNAL_H

#include "session/session.h"

enum { S_CONNECTING = 0, S_UPGRADING, S_OPEN };

/* The connection ends for what (no ses_close follows: the caller returns
 * < 0 to the engine, or closes it): the application or its pool hears
 * it. */
void ses_end_with(struct ses *S, uint32_t id, uint32_t tag,
		  const struct ses_end *end);
void ses_end_what(struct ses *S, uint32_t id, uint32_t tag,
		  enum ses_what what, const char *text);

/* httpc.c */
long ses_http_input(struct ses *S, uint32_t id, uint32_t tag, uint8_t *p,
		    size_t n);

/* pool.c: events of a pool connection (S->conns[id].pool != 0; its tag
 * is its index i in the pool). */
void ses_pool_up(struct ses_pool *P, unsigned i);
void ses_pool_response(struct ses_pool *P, unsigned i, int status,
		       const char *body, size_t blen, int keep_alive);
void ses_pool_ended(struct ses_pool *P, unsigned i, const struct ses_end *end);
/* session.c: open connection i of pool P (ses_http_open, marked as the
 * pool's). */
uint32_t ses_pool_open(struct ses *S, struct ses_pool *P, unsigned i,
		       char *why, size_t whylen);

/* wsc.c */
uint64_t ses_splitmix(uint64_t *x);
/* TCP (and TLS) is up: the upgrade request. Returns 0 or -ENOSPC. */
int ses_ws_upgrade(struct ses *S, uint32_t id, uint32_t tag);
long ses_ws_input(struct ses *S, uint32_t id, uint32_t tag, uint8_t *p,
		  size_t n);

#endif
