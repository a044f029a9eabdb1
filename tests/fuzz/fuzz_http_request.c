/*
 * fuzz_http_request: http_request_parse (include/http.h) as serve uses it on
 * bytes from any client. Invariants checked besides the sanitizers:
 * - a complete request returns head_len + content_length, every span lies
 *   inside the head, the fields are in range;
 * - the parser is stateless, so every shorter prefix of the same bytes is
 *   HTTP_PARTIAL or, once the input shows an error, that same error;
 * - a request written back with http_request_write parses to the same
 *   method, target and body.
 */
#include "fuzz.h"
#include "http.h"

#define MAX_HEAD 8192
#define MAX_BODY (1u << 20)

static int in_buf(const char *b, size_t n, const char *p, size_t len)
{
	return p >= b && (size_t)(p - b) <= n && len <= n - (size_t)(p - b);
}

static void check_ok(const struct http_request *r, const char *buf,
		     size_t len, size_t max_head, long res)
{
	FUZZ_ASSERT((uint64_t)res == r->head_len + r->content_length);
	FUZZ_ASSERT((size_t)res <= len);
	FUZZ_ASSERT(r->head_len <= max_head);
	FUZZ_ASSERT(r->body == buf + r->head_len);
	FUZZ_ASSERT(r->content_length <= MAX_BODY);
	FUZZ_ASSERT(r->minor_version == 0 || r->minor_version == 1);
	FUZZ_ASSERT(r->num_headers <= HTTP_MAX_HEADERS);
	FUZZ_ASSERT(r->method_len > 0 && r->target_len > 0);
	FUZZ_ASSERT(in_buf(buf, r->head_len, r->method, r->method_len));
	FUZZ_ASSERT(in_buf(buf, r->head_len, r->target, r->target_len));
	FUZZ_ASSERT(r->keep_alive == 0 || r->keep_alive == 1);
	for (size_t i = 0; i < r->num_headers; i++) {
		const struct http_header *h = &r->headers[i];
		const struct http_header *f;
		char name[256];

		FUZZ_ASSERT(h->name_len > 0);
		FUZZ_ASSERT(in_buf(buf, r->head_len, h->name, h->name_len));
		FUZZ_ASSERT(in_buf(buf, r->head_len, h->value, h->value_len));
		/* Trimmed: no OWS at either end of a value. */
		if (h->value_len) {
			FUZZ_ASSERT(h->value[0] != ' ' && h->value[0] != '\t');
			FUZZ_ASSERT(h->value[h->value_len - 1] != ' ' &&
				    h->value[h->value_len - 1] != '\t');
		}
		/* Lookup by the same name finds this header or an earlier one. */
		if (h->name_len < sizeof(name)) {
			memcpy(name, h->name, h->name_len);
			name[h->name_len] = 0;
			f = http_header_find(r->headers, r->num_headers, name);
			FUZZ_ASSERT(f != NULL && f <= h);
		}
		(void)http_has_token(h->value, h->value_len, "upgrade");
	}
}

/* Write the parsed request back and parse it again. */
static void round_trip(const struct http_request *r)
{
	char *method = fuzz_dup(r->method, r->method_len, 1);
	char *target = fuzz_dup(r->target, r->target_len, 1);
	size_t cap = r->method_len + r->target_len + r->content_length + 256;
	char *out = malloc(cap);
	struct http_request r2;
	size_t n;
	long res;

	if (!out)
		abort();
	n = http_request_write(out, cap, method, "h", target, NULL,
			       r->content_length ? r->body : NULL,
			       (size_t)r->content_length);
	FUZZ_ASSERT(n > 0);
	res = http_request_parse(&r2, out, n, cap, MAX_BODY);
	FUZZ_ASSERT(res == (long)n);
	FUZZ_ASSERT(r2.method_len == r->method_len &&
		    !memcmp(r2.method, r->method, r->method_len));
	FUZZ_ASSERT(r2.target_len == r->target_len &&
		    !memcmp(r2.target, r->target, r->target_len));
	FUZZ_ASSERT(r2.content_length == r->content_length &&
		    !memcmp(r2.body, r->body, (size_t)r->content_length));
	FUZZ_ASSERT(r2.minor_version == 1);
	free(out);
	free(target);
	free(method);
}

/* The result for a prefix of k bytes, against the result for all of it. */
static void check_prefix(const char *buf, size_t k, size_t max_head,
			 long full)
{
	struct http_request r;
	long res = http_request_parse(&r, buf, k, max_head, MAX_BODY);

	if (full > 0) {
		FUZZ_ASSERT((size_t)full > k ? res == HTTP_PARTIAL
					      : res == full);
		return;
	}
	FUZZ_ASSERT(res == HTTP_PARTIAL || res == full);
}

static void run(const char *buf, size_t n, size_t max_head)
{
	struct http_request r;
	long res = http_request_parse(&r, buf, n, max_head, MAX_BODY);
	uint64_t h = fuzz_hash((const uint8_t *)buf, n);

	FUZZ_ASSERT(res > 0 || (res <= HTTP_PARTIAL &&
				res >= HTTP_E_TOO_MANY_HEADERS));
	if (res > 0)
		check_ok(&r, buf, n, max_head, res);
	if (n == 0)
		return;
	/* Small inputs: every prefix; large ones: a few. */
	if (n <= 64) {
		for (size_t k = 0; k < n; k++)
			check_prefix(buf, k, max_head, res);
	} else {
		check_prefix(buf, n - 1, max_head, res);
		check_prefix(buf, (size_t)(h % n), max_head, res);
		if (res > 0)
			check_prefix(buf, (size_t)res - 1, max_head, res);
	}
	if (res > 0)
		round_trip(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = fuzz_dup(data, size, 0);

	run(buf, size, MAX_HEAD);
	/* A limit inside the input reaches the 431 paths too. */
	if (size > 1)
		run(buf, size, size / 2);
	free(buf);
	return 0;
}
