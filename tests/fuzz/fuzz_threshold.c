/*
 * fuzz_threshold: threshold_parse (src/run/run.h), the --threshold values.
 * Byte 0 picks the capacity of the reason buffer (1..64 bytes or 160, what
 * config.c passes); the rest, up to a NUL, is the expression.
 * Invariants: 0 or -EINVAL; the reason is always terminated inside its
 * buffer; on success the metric has a name, the operator is one of five,
 * the value is a finite number, expr holds the input, and parsing expr
 * again gives the same threshold; threshold_check agrees with the op.
 */
#include <errno.h>
#include <math.h>

#include "fuzz.h"
#include "run/run.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct threshold t, t2;
	size_t whylen;
	char *s, *why;
	int r;

	if (size < 1)
		return 0;
	whylen = data[0] & 0x80 ? 160 : (size_t)(data[0] & 0x3f) + 1;
	s = fuzz_dup(data + 1, size - 1, 1);
	why = malloc(whylen);
	if (!why)
		abort();
	memset(why, 'x', whylen);
	r = threshold_parse(&t, s, why, whylen);
	FUZZ_ASSERT(r == 0 || r == -EINVAL);
	if (r < 0) {
		FUZZ_ASSERT(memchr(why, 0, whylen) != NULL);
	} else {
		const char *name = threshold_metric(&t);

		FUZZ_ASSERT(name && name[0]);
		/* delivery_ratio is an alias of delivered_ratio. */
		FUZZ_ASSERT(!strncmp(s, name, strlen(name)) ||
			    !strncmp(s, "delivery_ratio", 14));
		FUZZ_ASSERT(t.op >= 0 && t.op <= 4);
		FUZZ_ASSERT(isfinite(t.value));
		FUZZ_ASSERT(!strcmp(t.expr, s));
		FUZZ_ASSERT(threshold_parse(&t2, t.expr, why, whylen) == 0);
		FUZZ_ASSERT(t2.metric == t.metric && t2.op == t.op &&
			    t2.value == t.value);
		/* Exactly one of <, == and > holds for value itself. */
		FUZZ_ASSERT(threshold_check(&t, t.value) ==
			    (t.op == 1 || t.op == 3 || t.op == 4));
	}
	free(why);
	free(s);
	return 0;
}
