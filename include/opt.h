/*
 * opt: command-line options the way Go's flag package reads them, which
 * the ESME tool's users already type: "-name value", "--name value",
 * "-name=value" and "--name=value"; booleans as "-name" or "-name=true".
 * Plus the value checks every subcommand needs. No I/O but the error text
 * the caller prints.
 */
#ifndef ESMELOAD_OPT_H
#define ESMELOAD_OPT_H

#include <stddef.h>
#include <stdint.h>

/*
 * If argv[*i] names option `name` (without dashes), set *val to its value
 * (after '=' or the next argument, then *i is advanced past it) and return
 * 1; return 0 when it is another option; -EINVAL when the value is missing
 * (*val is then NULL).
 */
int opt_value(int argc, char **argv, int *i, const char *name,
	      const char **val);

/*
 * Boolean option: "-name", "-name=true|false|1|0". Returns 1 and sets *on
 * when argv[*i] is this option, 0 when not, -EINVAL for another value.
 */
int opt_bool(char **argv, int i, const char *name, int *on);

/*
 * An integer the way Go's flag.Int reads it (strconv.ParseInt(s, 0, 64)):
 * an optional sign, then decimal, or a base prefix 0x/0X (hex), 0o/0O or a
 * bare leading 0 (octal: "010" is 8), 0b/0B (binary); underscores only
 * between digits or right after a base prefix ("1_000", "0x_ff"). Returns
 * 0 with *v set, -EINVAL when it is not such a number (Go's "parse
 * error"), -ERANGE when it is one but does not fit an int64_t (Go's
 * "value out of range").
 */
int opt_go_int(const char *s, int64_t *v);

/* A decimal unsigned integer in [min, max]; 0 or -EINVAL. */
int opt_u64(const char *s, uint64_t min, uint64_t max, uint64_t *v);

/* A byte size: digits with an optional K, M or G suffix (binary). */
int opt_size(const char *s, uint64_t *v);

/* The CPUs this process may run on (its affinity mask): the default of
 * --threads. At least 1. */
unsigned opt_cpus(void);

#endif
