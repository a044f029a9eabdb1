/*
 * fetch: one HTTP/1.1 GET, start to end, over a connection of the engine
 * (engine/eng.h). For the few requests a run makes outside its workers,
 * from the coordinator thread: the cross-check's reads of serve's /stats
 * (run/series.c). Not a hot path: each call sets up a small engine of its
 * own (one connection slot, one ring) and tears it down again, so it
 * must not be called from inside another engine's callbacks.
 *
 * The request is "GET path" with Host and "Connection: close"; the answer
 * taken is a 200 with a Content-Length body (no chunked encoding), its
 * head at most 8 KiB, head and body together at most cap bytes. Over TLS
 * when the target names a host for it (t->tls_host), verified against tas
 * unless insecure; no session is resumed from one call to the next.
 */
#ifndef ESMELOAD_FETCH_H
#define ESMELOAD_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "engine/eng.h"
#include "tls.h"

/*
 * GET path from target t, with host_header as the Host header, before
 * deadline_ns (monotonic, clock.h): the connect, the TLS handshake and the
 * whole response. buf holds the response as it arrives (cap bytes); on
 * success the body is moved to buf[0 .. return value) (not NUL-terminated)
 * and its length returned. Returns -1 otherwise, with a one-line cause in
 * err: the target has no address (t->no_addr), the connect or handshake
 * failed or timed out, the answer is not a 200 (its status is named), has
 * no Content-Length, is malformed, or is longer than cap, the connection
 * ended before the response did, or the deadline passed. tas may be NULL
 * for a plain target.
 */
long fetch_get(const struct eng_target *t, const char *host_header,
	       const char *path, const struct tls_tas *tas, int insecure,
	       char *buf, size_t cap, int64_t deadline_ns, char *err,
	       size_t errlen);

#endif
