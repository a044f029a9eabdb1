/*
 * fuzz_config: run_load_config (src/run/run.h) on an arbitrary config.json.
 * run_load_config takes a path, so the input goes into a memfd written
 * afresh for every input and is read back through /proc/self/fd/N: no
 * temporary files. Host names never reach DNS (fuzz_run_common.h).
 * Invariants: the result is 0 or 2; on 0 the three targets are set, their
 * URL spans lie inside the stored URL, the strings are terminated, and a
 * target without an address says why (resolve_err).
 */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_run_common.h"
#include "run/run.h"

static int memfd = -1;
static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	memfd = memfd_create("fuzz-config", MFD_CLOEXEC);
	if (memfd < 0)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run_opts *o = malloc(sizeof(*o));
	int r;

	if (!o)
		abort();
	if (ftruncate(memfd, 0) < 0 ||
	    (size && pwrite(memfd, data, size, 0) != (ssize_t)size))
		abort();
	memset(o, 0, sizeof(*o));
	r = run_load_config(o, path);
	FUZZ_ASSERT(r == 0 || r == 2);
	FUZZ_ASSERT(memchr(o->org_email, 0, sizeof(o->org_email)) != NULL);
	FUZZ_ASSERT(memchr(o->org_password, 0, sizeof(o->org_password)) != NULL);
	if (r == 0) {
		for (int i = 0; i < NTARGETS; i++) {
			const struct run_target *t = &o->t[i];
			size_t n = strnlen(t->url, sizeof(t->url));

			FUZZ_ASSERT(n > 0 && n < sizeof(t->url));
			FUZZ_ASSERT(t->u.host >= t->url &&
				    t->u.host + t->u.host_len <= t->url + n);
			FUZZ_ASSERT(t->u.websocket == (i == T_MSG));
			/* A host that does not resolve is reported at its
			 * first connection, with the reason kept here. */
			FUZZ_ASSERT(t->addr_len <= sizeof(t->addr));
			FUZZ_ASSERT(memchr(t->resolve_err, 0,
					   sizeof(t->resolve_err)) != NULL);
			FUZZ_ASSERT(t->addr_len > 0 || t->resolve_err[0]);
			FUZZ_ASSERT(memchr(t->hostport, 0,
					   sizeof(t->hostport)) != NULL);
		}
	}
	free(o);
	return 0;
}
