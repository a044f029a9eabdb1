/*
 * fuzz_json: json_parse, then every accessor on every token (include/json.h).
 * Invariants:
 * - the token count is exact: cap = count parses the same, cap = count - 1
 *   is -ENOSPC;
 * - json_next steps over whole subtrees: a container's children, stepped
 *   with json_next, end exactly at json_next of the container;
 * - strings unescape into at most their raw length, as valid UTF-8, and
 *   json_str_eq agrees with the unescaped bytes; a capacity one byte short
 *   is -ENOSPC;
 * - json_find on an object returns the value of the last key that
 *   unescapes equal to the key asked for;
 * - json_get_i64 success implies json_get_f64 gives the same number.
 */
#include <errno.h>
#include <math.h>

#include "fuzz.h"
#include "json.h"
#include "ws.h"

#define MAX_TOK 4096

static void check_string(const struct json_doc *d, int t, char *buf,
			 size_t cap)
{
	size_t raw = (size_t)(d->tok[t].end - d->tok[t].start), n = 0;
	int r = json_get_str(d, t, buf, cap, &n);

	FUZZ_ASSERT(r == 0 || r == -EINVAL);
	if (r != 0)
		return;
	FUZZ_ASSERT(n <= raw && buf[n] == 0);
	FUZZ_ASSERT(ws_utf8_valid((const uint8_t *)buf, n));
	if (strlen(buf) == n)
		FUZZ_ASSERT(json_str_eq(d, t, buf) == 1);
	/* Exactly n + 1 bytes suffice; n do not. */
	{
		char *tight = malloc(n + 1);

		if (!tight)
			abort();
		FUZZ_ASSERT(json_get_str(d, t, tight, n + 1, NULL) == 0);
		FUZZ_ASSERT(!memcmp(tight, buf, n + 1));
		FUZZ_ASSERT(json_get_str(d, t, tight, n, NULL) == -ENOSPC);
		free(tight);
	}
}

static void check_primitive(const struct json_doc *d, int t)
{
	int64_t i;
	double f;
	int b;
	int ri = json_get_i64(d, t, &i), rf = json_get_f64(d, t, &f);
	int rb = json_get_bool(d, t, &b), rn = json_is_null(d, t);

	FUZZ_ASSERT(ri == 0 || ri == -EINVAL);
	FUZZ_ASSERT(rf == 0 || rf == -EINVAL);
	if (ri == 0) {
		FUZZ_ASSERT(rf == 0);
		FUZZ_ASSERT(f == (double)i);
	}
	if (rf == 0)
		FUZZ_ASSERT(isfinite(f));
	/* A primitive is a number, a boolean or null: exactly one. Numbers
	 * past double's range (1e400) read as neither integer nor float. */
	FUZZ_ASSERT((rb == 0) + rn + (rf == 0 || ri == 0) <= 1);
	if ((rb == 0) + rn + (rf == 0 || ri == 0) == 0) {
		char c = d->js[d->tok[t].start];

		FUZZ_ASSERT(c == '-' || (c >= '0' && c <= '9'));
	}
	if (rb == 0)
		FUZZ_ASSERT(b == 0 || b == 1);
}

/* The object at obj: every key looked up must find its last occurrence. */
static void check_object(const struct json_doc *d, int obj, char *key,
			 char *k2, size_t cap)
{
	int i = obj + 1, n = d->tok[obj].size;

	for (int k = 0; k < n; k++) {
		size_t kl;
		int want = -1, j = obj + 1, got;

		FUZZ_ASSERT(i < d->ntok && json_type(d, i) == JSMN_STRING);
		FUZZ_ASSERT(d->tok[i].size == 1);
		if (json_get_str(d, i, key, cap, &kl) == 0 &&
		    strlen(key) == kl) {
			for (int m = 0; m < n; m++) {
				size_t l2;

				if (json_get_str(d, j, k2, cap, &l2) == 0 &&
				    l2 == kl && !memcmp(k2, key, kl))
					want = j + 1;
				j = json_next(d, j + 1);
			}
			got = json_find(d, obj, key);
			FUZZ_ASSERT(got == want);
		}
		i = json_next(d, i + 1);
	}
	FUZZ_ASSERT(i == json_next(d, obj));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *js = fuzz_dup(data, size, 0);
	jsmntok_t *tok = malloc(MAX_TOK * sizeof(*tok));
	struct json_doc d, d2;
	char *buf, *k2;
	int r;

	if (!tok)
		abort();
	r = json_parse(&d, js, size, tok, MAX_TOK);
	FUZZ_ASSERT(r > 0 || r == -EINVAL || r == -ENOSPC);
	if (r <= 0)
		goto out;
	FUZZ_ASSERT(d.ntok == r && d.js == js && d.tok == tok);
	{
		jsmntok_t *t2 = malloc((size_t)r * sizeof(*t2));

		if (!t2)
			abort();
		FUZZ_ASSERT(json_parse(&d2, js, size, t2, (unsigned)r) == r);
		FUZZ_ASSERT(!memcmp(t2, tok, (size_t)r * sizeof(*t2)));
		if (r > 1)
			FUZZ_ASSERT(json_parse(&d2, js, size, t2,
					       (unsigned)r - 1) == -ENOSPC);
		free(t2);
	}
	FUZZ_ASSERT(json_next(&d, 0) == r);
	FUZZ_ASSERT(json_next(&d, r) == r && json_next(&d, -1) == r);
	FUZZ_ASSERT(json_find(&d, -1, "a") == -EINVAL);

	buf = malloc(size + 1);
	k2 = malloc(size + 1);
	if (!buf || !k2)
		abort();
	for (int t = 0; t < r; t++) {
		const jsmntok_t *tk = &tok[t];
		int next = json_next(&d, t);

		FUZZ_ASSERT(next > t && next <= r);
		FUZZ_ASSERT(tk->start >= 0 && tk->end <= (int)size &&
			    tk->start <= tk->end);
		switch (tk->type) {
		case JSMN_OBJECT:
			check_object(&d, t, buf, k2, size + 1);
			break;
		case JSMN_ARRAY: {
			int c = t + 1;

			for (int k = 0; k < tk->size; k++)
				c = json_next(&d, c);
			FUZZ_ASSERT(c == next);
			FUZZ_ASSERT(json_find(&d, t, "a") == -EINVAL);
			break;
		}
		case JSMN_STRING:
			check_string(&d, t, buf, size + 1);
			FUZZ_ASSERT(json_find(&d, t, "") == -EINVAL);
			break;
		case JSMN_PRIMITIVE:
			check_primitive(&d, t);
			FUZZ_ASSERT(tk->size == 0);
			break;
		default:
			FUZZ_ASSERT(0);
		}
	}
	free(k2);
	free(buf);
out:
	free(tok);
	free(js);
	return 0;
}
