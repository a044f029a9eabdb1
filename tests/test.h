/*
 * A tiny test harness. A test is `static int name(void)` returning 0 on
 * success; check() returns the failing line. TEST_MAIN runs the listed tests
 * and prints one "PASS|FAIL <binary>.<test>" line each, which tests/run.sh
 * counts.
 */
#ifndef ESMELOAD_TEST_H
#define ESMELOAD_TEST_H

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define check(cond)                                                        \
	do {                                                               \
		if (!(cond)) {                                             \
			fprintf(stderr, "%s:%d: check failed: %s\n",       \
				__FILE__, __LINE__, #cond);                \
			return __LINE__;                                   \
		}                                                          \
	} while (0)

/* check(a == b) for integers, printing both values on failure. */
#define check_eq(a, b)                                                     \
	do {                                                               \
		long long a_ = (long long)(a), b_ = (long long)(b);        \
		if (a_ != b_) {                                            \
			fprintf(stderr, "%s:%d: %s == %s: %lld != %lld\n", \
				__FILE__, __LINE__, #a, #b, a_, b_);       \
			return __LINE__;                                   \
		}                                                          \
	} while (0)

/* check that a (ptr,len) span equals a NUL-terminated string. */
#define check_span(p, n, s)                                                \
	do {                                                               \
		size_t n_ = (n);                                           \
		if (n_ != strlen(s) || memcmp((p), (s), n_) != 0) {        \
			fprintf(stderr, "%s:%d: %s: \"%.*s\" != \"%s\"\n", \
				__FILE__, __LINE__, #p, (int)n_,           \
				(const char *)(p), (s));                   \
			return __LINE__;                                   \
		}                                                          \
	} while (0)

struct test_case {
	const char *name;
	int (*fn)(void);
};

#define T(fn) { #fn, fn }

static inline int test_run_all(const char *prog, const struct test_case *t,
			       size_t n)
{
	const char *base = strrchr(prog, '/');
	int failed = 0;

	base = base ? base + 1 : prog;
	for (size_t i = 0; i < n; i++) {
		int line = t[i].fn();

		printf("%s %s.%s\n", line ? "FAIL" : "PASS", base, t[i].name);
		fflush(stdout);
		failed += line != 0;
	}
	return failed ? 1 : 0;
}

/* Remove a test's scratch directory: its files, its empty
 * subdirectories, then itself. */
static inline void test_remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[512];

	while (d && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (unlink(p) < 0)
			rmdir(p);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

#define TEST_MAIN(...)                                                     \
	int main(int argc, char **argv)                                    \
	{                                                                  \
		static const struct test_case tests_[] = { __VA_ARGS__ };  \
		(void)argc;                                                \
		return test_run_all(argv[0], tests_,                       \
				    sizeof(tests_) / sizeof(tests_[0]));   \
	}

#endif
