/*
 * opt: Go-flag-style option matching. See include/opt.h.
 */
#include "opt.h"

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

/* The option name in arg, without its one or two dashes; NULL if arg is
 * not an option. */
static const char *strip(const char *arg)
{
	if (arg[0] != '-' || arg[1] == 0)
		return NULL;
	arg++;
	if (arg[0] == '-')
		arg++;
	return arg[0] ? arg : NULL;
}

/* see opt.h */
int opt_value(int argc, char **argv, int *i, const char *name,
	      const char **val)
{
	const char *a = strip(argv[*i]);
	size_t n = strlen(name);

	*val = NULL;
	if (!a || strncmp(a, name, n) != 0 || (a[n] != 0 && a[n] != '='))
		return 0;
	if (a[n] == '=') {
		*val = a + n + 1;
		return 1;
	}
	if (*i + 1 >= argc)
		return -EINVAL;
	*val = argv[++*i];
	return 1;
}

/* see opt.h */
int opt_bool(char **argv, int i, const char *name, int *on)
{
	const char *a = strip(argv[i]);
	size_t n = strlen(name);

	if (!a || strncmp(a, name, n) != 0 || (a[n] != 0 && a[n] != '='))
		return 0;
	if (a[n] == 0) {
		*on = 1;
		return 1;
	}
	a += n + 1;
	if (!strcmp(a, "true") || !strcmp(a, "1") || !strcmp(a, "t") ||
	    !strcmp(a, "TRUE") || !strcmp(a, "True") || !strcmp(a, "T")) {
		*on = 1;
		return 1;
	}
	if (!strcmp(a, "false") || !strcmp(a, "0") || !strcmp(a, "f") ||
	    !strcmp(a, "FALSE") || !strcmp(a, "False") || !strcmp(a, "F")) {
		*on = 0;
		return 1;
	}
	return -EINVAL;
}

/* Go's rule for underscores in a number with base prefix detection
 * (strconv's underscoreOK): each one between two digits, or between the
 * base prefix and a digit. s is the number without its sign. */
static int underscores_ok(const char *s)
{
	char saw = '^'; /* '^' start, '0' digit or prefix, '_', '!' other */
	int hex = 0;

	if (s[0] == '0' && (s[1] == 'b' || s[1] == 'B' || s[1] == 'o' ||
			    s[1] == 'O' || s[1] == 'x' || s[1] == 'X')) {
		hex = s[1] == 'x' || s[1] == 'X';
		saw = '0';
		s += 2;
	}
	for (; *s; s++) {
		char c = *s;

		if ((c >= '0' && c <= '9') ||
		    (hex && ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))) {
			saw = '0';
			continue;
		}
		if (c == '_') {
			if (saw != '0')
				return 0;
			saw = '_';
			continue;
		}
		if (saw == '_')
			return 0;
		saw = '!';
	}
	return saw != '_';
}

static int digit_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 10;
	return 99;
}

/* see opt.h */
int opt_go_int(const char *s, int64_t *v)
{
	const char *digits, *num;
	uint64_t x = 0, cut;
	unsigned base = 10;
	int neg = 0, unders = 0;

	if (!s || !*s)
		return -EINVAL;
	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	num = s;
	if (!*s)
		return -EINVAL;
	digits = s;
	if (s[0] == '0') {
		/* A prefix needs a digit (or underscore) after it: "0x" alone
		 * is octal "x", which is no number. */
		char p = s[1];

		if (s[1] && s[2] && (p == 'b' || p == 'B')) {
			base = 2;
			digits = s + 2;
		} else if (s[1] && s[2] && (p == 'o' || p == 'O')) {
			base = 8;
			digits = s + 2;
		} else if (s[1] && s[2] && (p == 'x' || p == 'X')) {
			base = 16;
			digits = s + 2;
		} else {
			base = 8;
			digits = s + 1;
		}
	}
	cut = UINT64_MAX / base + 1;
	for (const char *c = digits; *c; c++) {
		unsigned d;

		if (*c == '_') {
			unders = 1;
			continue;
		}
		d = (unsigned)digit_val(*c);
		if (d >= base)
			return -EINVAL;
		/* Like Go, an overflow is reported where it happens, before
		 * what follows is looked at. */
		if (x >= cut || x * base + d < x * base)
			return -ERANGE;
		x = x * base + d;
	}
	if (unders && !underscores_ok(num))
		return -EINVAL;
	if ((!neg && x > (uint64_t)INT64_MAX) ||
	    (neg && x > (uint64_t)INT64_MAX + 1))
		return -ERANGE;
	*v = neg ? (int64_t)(0 - x) : (int64_t)x;
	return 0;
}

/* see opt.h */
int opt_u64(const char *s, uint64_t min, uint64_t max, uint64_t *v)
{
	uint64_t x = 0;

	if (!s || !*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || x > (UINT64_MAX - 9) / 10)
			return -EINVAL;
		x = x * 10 + (uint64_t)(*s - '0');
	}
	if (x < min || x > max)
		return -EINVAL;
	*v = x;
	return 0;
}

/* see opt.h */
int opt_size(const char *s, uint64_t *v)
{
	char digits[24];
	size_t n = s ? strlen(s) : 0;
	unsigned shift = 0;

	if (n == 0 || n >= sizeof(digits))
		return -EINVAL;
	memcpy(digits, s, n + 1);
	switch (digits[n - 1]) {
	case 'K': case 'k': shift = 10; break;
	case 'M': case 'm': shift = 20; break;
	case 'G': case 'g': shift = 30; break;
	default: break;
	}
	if (shift)
		digits[n - 1] = 0;
	if (opt_u64(digits, 0, UINT64_MAX >> shift, v) < 0)
		return -EINVAL;
	*v <<= shift;
	return 0;
}

/* see opt.h */
unsigned opt_cpus(void)
{
	cpu_set_t set;
	long n;

	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		return (unsigned)CPU_COUNT(&set);
	/* More CPUs than a cpu_set_t holds: all of them, then. */
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned)n : 1;
}
