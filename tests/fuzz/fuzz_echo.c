/*
 * fuzz_echo: echo_match (src/run/echo.c), the participant's reading of
 * its own message's echo without tokenizing, against the full JSON parse.
 * Input: 4 bytes of user id (little endian), 1 byte choosing the local
 * address, then the frame.
 * Invariants, whatever the frame:
 * - an answer of 1 gives a content span inside the frame that reads
 *   "connection <addr>: message number <digits>";
 * - when the frame is valid JSON of the envelope's two keys, "type" and
 *   "payload", whose payload is a flat object with no repeated key (the
 *   form of every ESME server), an answer of 1 is what the full parse
 *   says: type user_message, authorId the user id, content that span.
 */
#include <stdio.h>

#include "fuzz.h"
#include "json.h"
#include "run/run.h"

#define MAX_TOK 512

static const char *const addrs[] = {
	"127.0.0.1:40001", "127.0.0.1:4000", "[::1]:40001", "10.1.2.3:1",
};

/* 1 when the payload at token pl is an object of strings and primitives
 * whose keys differ byte for byte and carry no escapes. */
static int flat_unique(const struct json_doc *d, int pl)
{
	int i = pl + 1;

	if (json_type(d, pl) != JSMN_OBJECT)
		return 0;
	for (int k = 0; k < d->tok[pl].size; k++, i += 2) {
		const jsmntok_t *key = &d->tok[i], *v = &d->tok[i + 1];
		int j = pl + 1;

		if (v->type == JSMN_OBJECT || v->type == JSMN_ARRAY ||
		    memchr(d->js + key->start, '\\', (size_t)(key->end - key->start)))
			return 0;
		for (int m = 0; m < k; m++, j += 2)
			if (d->tok[j].end - d->tok[j].start == key->end - key->start &&
			    !memcmp(d->js + d->tok[j].start, d->js + key->start,
				    (size_t)(key->end - key->start)))
				return 0;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static jsmntok_t toks[MAX_TOK];
	struct json_doc d;
	const char *addr, *c = NULL;
	char want[96], *js;
	size_t n, cn = 0, wl;
	uint32_t uid;
	int r, t, pl, k;
	int64_t a;

	if (size < 5)
		return 0;
	uid = (uint32_t)data[0] | (uint32_t)data[1] << 8 |
	      (uint32_t)data[2] << 16 | (uint32_t)data[3] << 24;
	addr = addrs[data[4] % (sizeof(addrs) / sizeof(addrs[0]))];
	n = size - 5;
	js = fuzz_dup(data + 5, n, 0);
	r = echo_match(js, n, uid, addr, strlen(addr), &c, &cn);
	FUZZ_ASSERT(r == 0 || r == 1);
	if (r == 1) {
		wl = (size_t)snprintf(want, sizeof(want),
				      "connection %s: message number ", addr);
		FUZZ_ASSERT(c >= js && cn > wl && c + cn <= js + n);
		FUZZ_ASSERT(!memcmp(c, want, wl));
		for (size_t i = wl; i < cn; i++)
			FUZZ_ASSERT(c[i] >= '0' && c[i] <= '9');
		if (json_parse(&d, js, n, toks, MAX_TOK) > 0 &&
		    json_type(&d, 0) == JSMN_OBJECT && d.tok[0].size == 2 &&
		    (t = json_find(&d, 0, "type")) >= 0 &&
		    (pl = json_find(&d, 0, "payload")) >= 0 &&
		    flat_unique(&d, pl)) {
			FUZZ_ASSERT(json_str_eq(&d, t, "user_message"));
			k = json_find(&d, pl, "authorId");
			FUZZ_ASSERT(k >= 0 && json_get_i64(&d, k, &a) == 0 &&
				    a == (int64_t)uid);
			k = json_find(&d, pl, "content");
			FUZZ_ASSERT(k >= 0 && json_type(&d, k) == JSMN_STRING);
			FUZZ_ASSERT(js + d.tok[k].start == c &&
				    (size_t)(d.tok[k].end - d.tok[k].start) == cn);
		}
	}
	free(js);
	return 0;
}
