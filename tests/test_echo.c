/*
 * Unit tests for echo_match (src/run/echo.c): the participant's fast
 * reading of its own message's echo must agree with the full JSON parse
 * on every frame it answers for, and leave every other frame to it.
 */
#include "test.h"
#include "run/run.h"
#include "json.h"

#include <stdlib.h>

#define ADDR "127.0.0.1:40001"
#define NTOK 64

static int match(const char *js, uint32_t uid, const char *addr,
		 const char **c, size_t *cn)
{
	return echo_match(js, strlen(js), uid, addr, strlen(addr), c, cn);
}

/*
 * What the full parse says: 1 when js is valid JSON whose payload has
 * authorId == uid and a content of exactly "connection <addr>: message
 * number <digits>"; the content's raw bytes in *c, *cn.
 */
static int reference(const char *js, uint32_t uid, const char *addr,
		     const char **c, size_t *cn)
{
	static const char tail[] = ": message number ";
	jsmntok_t toks[NTOK];
	struct json_doc d;
	char want[96];
	int t, pl, k;
	int64_t a;
	size_t wl, len, i;

	if (json_parse(&d, js, strlen(js), toks, NTOK) < 0 ||
	    json_type(&d, 0) != JSMN_OBJECT ||
	    (t = json_find(&d, 0, "type")) < 0 ||
	    !json_str_eq(&d, t, "user_message") ||
	    (pl = json_find(&d, 0, "payload")) < 0 ||
	    (k = json_find(&d, pl, "authorId")) < 0 ||
	    json_get_i64(&d, k, &a) < 0 || a != (int64_t)uid ||
	    (k = json_find(&d, pl, "content")) < 0 ||
	    json_type(&d, k) != JSMN_STRING)
		return 0;
	wl = (size_t)snprintf(want, sizeof(want), "connection %s%s", addr, tail);
	len = (size_t)(d.tok[k].end - d.tok[k].start);
	if (len <= wl || memcmp(js + d.tok[k].start, want, wl) != 0)
		return 0;
	for (i = wl; i < len; i++)
		if (js[d.tok[k].start + i] < '0' || js[d.tok[k].start + i] > '9')
			return 0;
	*c = js + d.tok[k].start;
	*cn = len;
	return 1;
}

static int forms(void)
{
	/* serve's order, and the Go ESME server's with a location */
	static const char *const yes[] = {
		"{\"type\":\"user_message\",\"payload\":{\"id\":\"0123456789abcdef01234567\","
		"\"chatId\":\"0123456789abcdef01234567\",\"authorId\":42,\"fromOrganizer\":0,"
		"\"content\":\"connection " ADDR ": message number 7\","
		"\"timeSent\":\"2026-11-26T12:00:00.123456789Z\"}}",
		"{\"type\":\"user_message\",\"payload\":{\"content\":\"connection " ADDR
		": message number 1234567\",\"authorId\":42}}",
		"{\"type\":\"user_message\",\"payload\":{\"authorId\":42 ,\"content\":"
		"\"connection " ADDR ": message number 7\",\"lat\":1.5,\"lng\":-2}}",
	};
	const char *c = NULL, *rc = NULL;
	size_t cn = 0, rn = 0;

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		check_eq(match(yes[i], 42, ADDR, &c, &cn), 1);
		check_eq(reference(yes[i], 42, ADDR, &rc, &rn), 1);
		check(c == rc && cn == rn);
	}
	check_span(c, cn, "connection " ADDR ": message number 7");
	return 0;
}

/* Frames the fast path must leave to the full parse. */
static int declines(void)
{
	static const char *const no[] = {
		/* another author, or one whose id starts with ours */
		"{\"type\":\"user_message\",\"payload\":{\"authorId\":43,"
		"\"content\":\"connection " ADDR ": message number 7\"}}",
		"{\"type\":\"user_message\",\"payload\":{\"authorId\":421,"
		"\"content\":\"connection " ADDR ": message number 7\"}}",
		/* another connection's text, one whose port starts with ours */
		"{\"type\":\"user_message\",\"payload\":{\"authorId\":42,"
		"\"content\":\"connection 127.0.0.1:4000: message number 7\"}}",
		"{\"type\":\"user_message\",\"payload\":{\"authorId\":42,"
		"\"content\":\"connection " ADDR "0: message number 7\"}}",
		/* no number, or more after it */
		"{\"type\":\"user_message\",\"payload\":{\"authorId\":42,"
		"\"content\":\"connection " ADDR ": message number \"}}",
		"{\"type\":\"user_message\",\"payload\":{\"authorId\":42,"
		"\"content\":\"connection " ADDR ": message number 7 and more\"}}",
		/* the keys only inside an escaped string */
		"{\"type\":\"user_message\",\"payload\":{\"authorId\":1,\"content\":"
		"\"x \\\"authorId\\\":42, \\\"content\\\":\\\"connection " ADDR
		": message number 7\\\"\"}}",
		/* spaced like Python's json.dumps, type not first, other types */
		"{\"type\": \"user_message\", \"payload\": {\"authorId\": 42, "
		"\"content\": \"connection " ADDR ": message number 7\"}}",
		"{\"payload\":{\"authorId\":42,\"content\":\"connection " ADDR
		": message number 7\"},\"type\":\"user_message\"}",
		"{\"type\":\"user_messages\",\"payload\":{\"authorId\":42,"
		"\"content\":\"connection " ADDR ": message number 7\"}}",
		"{\"type\":\"error\",\"payload\":{\"message\":\"malformed message\"}}",
		/* cut short */
		"{\"type\":\"user_message\",\"payload\":{\"authorId\":42",
		"{\"type\":\"user_message\"",
		"",
	};
	const char *c;
	size_t cn;

	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (match(no[i], 42, ADDR, &c, &cn)) {
			fprintf(stderr, "matched: %s\n", no[i]);
			return __LINE__;
		}
	/* an address one byte longer than the fast path takes, in a frame
	 * that would match it; the longest it takes, matched */
	{
		static const char a47[] = "[0123:4567:89ab:cdef:0123:4567:89ab:cdef]:65535";
		static const char a48[] = "[0123:4567:89ab:cdef:0123:4567:89ab:cdef]:655350";
		char js[256];

		check_eq(sizeof(a47) - 1, ECHO_ADDR_MAX);
		snprintf(js, sizeof(js), "{\"type\":\"user_message\",\"payload\":"
			 "{\"authorId\":42,\"content\":\"connection %s: message "
			 "number 7\"}}", a48);
		check_eq(match(js, 42, a48, &c, &cn), 0);
		snprintf(js, sizeof(js), "{\"type\":\"user_message\",\"payload\":"
			 "{\"authorId\":42,\"content\":\"connection %s: message "
			 "number 7\"}}", a47);
		check_eq(match(js, 42, a47, &c, &cn), 1);
	}
	/* the largest user id */
	check_eq(match("{\"type\":\"user_message\",\"payload\":{\"authorId\":"
		       "4294967295,\"content\":\"connection " ADDR ": message number "
		       "1\"}}", 4294967295u, ADDR, &c, &cn), 1);
	check_eq(match("{\"type\":\"user_message\",\"payload\":{\"authorId\":"
		       "4294967295,\"content\":\"connection " ADDR ": message number "
		       "1\"}}", 429496729u, ADDR, &c, &cn), 0);
	return 0;
}

/*
 * Random compact payloads in random field order, with authors and texts
 * near ours and our keys inside escaped strings: wherever the fast path
 * answers, the full parse agrees; for the frames ESME servers write (own
 * author, own text), it answers.
 */
static int agrees_with_full_parse(void)
{
	static const char *const addrs[] = { ADDR, "127.0.0.1:4000", "[::1]:40001" };
	unsigned seed = 12345;
	unsigned answered = 0;

	for (int round = 0; round < 20000; round++) {
		char fields[8][160], js[1024];
		int nf = 0, order[8], own_author, own_text, own_addr, plain;
		uint32_t uid = (uint32_t)(rand_r(&seed) % 3 == 0 ? rand_r(&seed) % 10 :
					 rand_r(&seed));
		const char *addr = addrs[rand_r(&seed) % 3];
		const char *c1, *c2;
		size_t n1, n2, len;
		unsigned k = (unsigned)rand_r(&seed) % 100000;
		int r1, r2;

		own_author = rand_r(&seed) % 4 != 0;
		own_text = rand_r(&seed) % 4 != 0;
		own_addr = rand_r(&seed) % 4 != 0;
		plain = rand_r(&seed) % 5 != 0;
		snprintf(fields[nf++], 160, "\"id\":\"0123456789abcdef01234567\"");
		snprintf(fields[nf++], 160, "\"authorId\":%llu",
			 own_author ? (unsigned long long)uid :
			 rand_r(&seed) % 2 ? (unsigned long long)uid * 10 + 1 :
					     (unsigned long long)uid + 1);
		snprintf(fields[nf++], 160, "\"fromOrganizer\":%d", rand_r(&seed) % 2);
		if (own_text)
			snprintf(fields[nf++], 160, "\"content\":\"connection %s: "
				 "message number %u%s\"",
				 own_addr ? addr : addrs[rand_r(&seed) % 3],
				 k, plain ? "" : "x");
		else
			snprintf(fields[nf++], 160, "\"content\":\"\\\"authorId\\\":%u,"
				 "\\\"content\\\":\\\"connection %s: message number "
				 "%u\\\"\"", uid, addr, k);
		if (rand_r(&seed) % 2)
			snprintf(fields[nf++], 160, "\"lat\":%d.25", rand_r(&seed) % 90);
		for (int i = 0; i < nf; i++)
			order[i] = i;
		for (int i = nf - 1; i > 0; i--) {
			int j = rand_r(&seed) % (i + 1), t = order[i];

			order[i] = order[j];
			order[j] = t;
		}
		len = (size_t)snprintf(js, sizeof(js),
				       "{\"type\":\"user_message\",\"payload\":{");
		for (int i = 0; i < nf; i++)
			len += (size_t)snprintf(js + len, sizeof(js) - len, "%s%s",
						i ? "," : "", fields[order[i]]);
		snprintf(js + len, sizeof(js) - len, "}}");
		r1 = match(js, uid, addr, &c1, &n1);
		r2 = reference(js, uid, addr, &c2, &n2);
		if (r1 != r2 || (r1 && (c1 != c2 || n1 != n2))) {
			fprintf(stderr, "fast %d, full %d: uid %u addr %s: %s\n",
				r1, r2, uid, addr, js);
			return __LINE__;
		}
		answered += (unsigned)r1;
	}
	check(answered > 5000); /* the own-echo case was exercised */
	return 0;
}

TEST_MAIN(T(forms), T(declines), T(agrees_with_full_parse))
