/*
 * Shared bits of the libFuzzer targets in tests/fuzz/ (see README there).
 * Every target is built with clang -fsanitize=fuzzer,address,undefined and
 * links only the module objects it names in tests/fuzz/deps.mk.
 */
#ifndef ESMELOAD_FUZZ_H
#define ESMELOAD_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The libFuzzer entry points (declared for -Wmissing-prototypes). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/*
 * An invariant that must hold whatever the input: a violation stops the
 * fuzzer with a crash report and a reproducer, like a sanitizer finding.
 */
#define FUZZ_ASSERT(c)                                                        \
	do {                                                                  \
		if (!(c))                                                     \
			__builtin_trap();                                     \
	} while (0)

/*
 * A heap copy of exactly n bytes (plus a NUL after them when nul is set),
 * so AddressSanitizer sees any read past the input. Never NULL: a target
 * that cannot allocate has nothing to test.
 */
static inline char *fuzz_dup(const void *p, size_t n, int nul)
{
	char *b = malloc(n + (nul ? 1 : 0) + (n == 0 && !nul));

	if (!b)
		abort();
	if (n)
		memcpy(b, p, n);
	if (nul)
		b[n] = 0;
	return b;
}

/* A small deterministic hash of the input, to choose split points. */
static inline uint64_t fuzz_hash(const uint8_t *p, size_t n)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

#endif
