/*
 * For the targets that drive src/run/config.c (fuzz_config, fuzz_argv).
 *
 * run_set_target resolves host names with getaddrinfo. A fuzzer must not
 * send DNS queries (slow, and not reproducible), so this definition takes
 * the place of the C library's for the whole binary: numeric hosts only,
 * plus "localhost" as 127.0.0.1; anything else fails like an unknown name.
 *
 * config.c prints its one-line errors (and --help prints the usage) with
 * stdio; the first call points stdout and stderr at /dev/null. Only the
 * FILE pointers are replaced (glibc allows assigning them): descriptor 2
 * stays open, because libFuzzer and the sanitizers write their reports
 * to it.
 */
#include <dlfcn.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "fuzz.h"

typedef int (*gai_fn)(const char *, const char *, const struct addrinfo *,
		      struct addrinfo **);

int getaddrinfo(const char *node, const char *service,
		const struct addrinfo *hints, struct addrinfo **res)
{
	static gai_fn real;
	struct addrinfo h;

	if (!real) {
		real = (gai_fn)(uintptr_t)dlsym(RTLD_NEXT, "getaddrinfo");
		if (!real)
			abort();
	}
	if (hints)
		h = *hints;
	else
		memset(&h, 0, sizeof(h));
	h.ai_flags |= AI_NUMERICHOST;
	if (node && !strcmp(node, "localhost"))
		node = "127.0.0.1";
	return real(node, service, &h, res);
}

static void fuzz_quiet(void)
{
	static int done;
	FILE *null;

	if (done)
		return;
	done = 1;
	null = fopen("/dev/null", "w");
	if (!null)
		abort();
	stdout = null;
	stderr = null;
}
