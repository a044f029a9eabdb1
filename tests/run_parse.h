/*
 * For the tests of run's options (test_run_config.c, test_scenfile.c):
 * a call with its stdout and stderr captured into std_out and err_out,
 * run_parse over a NULL-terminated argument list, and a fresh temporary
 * directory as the current one, with files written into it.
 */
#ifndef ESMELOAD_TESTS_RUN_PARSE_H
#define ESMELOAD_TESTS_RUN_PARSE_H

#include "run/run.h"
#include "test.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAXARGS 16

/* Output of the last captured call on stderr and stdout. */
static char err_out[4096], std_out[16384];

/* From here, fd goes to a temporary file ... */
static void grab_begin(int fd, int *saved, FILE **tmp)
{
	fflush(fd == 1 ? stdout : stderr);
	*tmp = tmpfile();
	*saved = dup(fd);
	dup2(fileno(*tmp), fd);
}

/* ... whose text lands in buf, and fd is back. */
static void grab_end(int fd, int saved, FILE *tmp, char *buf, size_t cap)
{
	size_t n;

	fflush(fd == 1 ? stdout : stderr);
	dup2(saved, fd);
	close(saved);
	rewind(tmp);
	n = fread(buf, 1, cap - 1, tmp);
	buf[n] = 0;
	fclose(tmp);
}

/* run_parse over the NULL-terminated arguments, both outputs captured. */
static inline int call(struct run_opts *o, ...)
{
	static char *argv[MAXARGS];
	int argc = 0, r, s1, s2;
	FILE *t1, *t2;
	va_list ap;
	char *a;

	va_start(ap, o);
	while ((a = va_arg(ap, char *)) != NULL && argc < MAXARGS)
		argv[argc++] = a;
	va_end(ap);
	grab_begin(1, &s1, &t1);
	grab_begin(2, &s2, &t2);
	r = run_parse(o, argc, argv);
	grab_end(2, s2, t2, err_out, sizeof(err_out));
	grab_end(1, s1, t1, std_out, sizeof(std_out));
	return r;
}

static char tmpdir[64];

/* A fresh empty directory /tmp/<name>.XXXXXX as the current one. */
static inline int tmpdir_enter(const char *name)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/%s.XXXXXX", name);
	if (!mkdtemp(tmpdir) || chdir(tmpdir) < 0)
		return -1;
	return 0;
}

/* Out of it, and it removed with what it holds. */
static inline void leave_tmpdir(void)
{
	if (chdir("/") == 0)
		test_remove_dir(tmpdir);
}

static inline int write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

#endif
