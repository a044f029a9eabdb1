/*
 * opt: Go-flag-style option matching. See include/opt.h.
 */
#include "opt.h"

#include <errno.h>
#include <string.h>

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
