/*
 * fuzz_http_response: what esmeload reads from a (possibly hostile) server:
 * http_response_parse on the head, then http_chunked_decode on the body
 * when the head says chunked (include/http.h).
 *
 * Head: spans inside the head, fields in range, every prefix HTTP_PARTIAL
 * or the same error. Chunked body, decoded three ways (all at once, in two
 * parts split at an input-chosen point, one byte per call) must give the
 * same status, the same decoded bytes and the same trailing bytes of the
 * next message; the decoder latches errors.
 */
#include "fuzz.h"
#include "http.h"

#define MAX_HEAD 8192

struct dec {
	int rc;          /* last status: 0 more, 1 done, < 0 error */
	char *out;       /* decoded bytes, concatenated over the calls */
	size_t out_len;
	size_t extra;    /* consumed_extra of the call that returned 1 */
	size_t extra_at; /* input offset where those bytes begin */
};

/* Feed body[0..n) in pieces of at most step bytes. */
static void decode(struct dec *r, const char *body, size_t n, size_t step,
		   uint64_t max_body)
{
	struct http_chunked d;
	size_t off = 0;

	memset(&d, 0, sizeof(d));
	memset(r, 0, sizeof(*r));
	r->out = malloc(n + 1);
	if (!r->out)
		abort();
	do {
		size_t k = n - off < step ? n - off : step;
		char *piece = fuzz_dup(body + off, k, 0);
		size_t len = k, extra = 99;
		int rc = http_chunked_decode(&d, piece, &len, max_body, &extra);

		FUZZ_ASSERT(rc >= HTTP_E_BODY_TOO_BIG && rc <= 1);
		FUZZ_ASSERT(len <= k);
		FUZZ_ASSERT(rc == 1 ? len + extra <= k : extra == 0);
		memcpy(r->out + r->out_len, piece, len);
		r->out_len += len;
		r->rc = rc;
		if (rc == 1) {
			/* The next message's bytes, untouched, after the data. */
			FUZZ_ASSERT(!memcmp(piece + len, body + off + k - extra,
					    extra));
			r->extra = extra + (n - off - k);
			r->extra_at = off + k - extra;
		}
		free(piece);
		off += k;
		if (rc < 0) {
			/* Latched: any later call fails at once. */
			char z = '0';
			size_t zl = 1;

			FUZZ_ASSERT(http_chunked_decode(&d, &z, &zl, max_body,
							NULL) == HTTP_E_BAD);
			FUZZ_ASSERT(zl == 0);
		}
	} while (off < n && r->rc == 0);
	if (r->rc != 1)
		r->extra_at = n;
	FUZZ_ASSERT(r->out_len <= max_body);
	FUZZ_ASSERT(d.total == r->out_len || r->rc < 0);
}

static void same(const struct dec *a, const struct dec *b)
{
	FUZZ_ASSERT(a->rc == b->rc);
	/* Bytes decoded before an error may differ in how far they got. */
	if (a->rc < 0)
		return;
	FUZZ_ASSERT(a->out_len == b->out_len);
	FUZZ_ASSERT(!memcmp(a->out, b->out, a->out_len));
	if (a->rc == 1) {
		FUZZ_ASSERT(a->extra == b->extra);
		FUZZ_ASSERT(a->extra_at == b->extra_at);
	}
}

static void body(const char *b, size_t n, uint64_t h)
{
	uint64_t max_body = h & 1 ? 1u << 20 : (h >> 1) % 64;
	struct dec whole, two, bytes;

	decode(&whole, b, n, n ? n : 1, max_body);
	decode(&two, b, n, n ? (size_t)((h >> 8) % n) + 1 : 1, max_body);
	same(&whole, &two);
	if (n <= 512) {
		decode(&bytes, b, n, 1, max_body);
		same(&whole, &bytes);
		free(bytes.out);
	}
	free(two.out);
	free(whole.out);
}

static void check_head(const struct http_response *r, const char *buf,
		       size_t n, long res)
{
	FUZZ_ASSERT((size_t)res == r->head_len && r->head_len <= n);
	FUZZ_ASSERT(r->head_len <= MAX_HEAD);
	FUZZ_ASSERT(r->status >= 0 && r->status <= 999);
	FUZZ_ASSERT(r->minor_version == 0 || r->minor_version == 1);
	FUZZ_ASSERT(r->num_headers <= HTTP_MAX_HEADERS);
	FUZZ_ASSERT(r->content_length >= -1);
	FUZZ_ASSERT(!r->chunked || r->content_length == -1);
	FUZZ_ASSERT(r->reason >= buf && r->reason + r->reason_len <= buf + n);
	for (size_t i = 0; i < r->num_headers; i++) {
		const struct http_header *h = &r->headers[i];

		FUZZ_ASSERT(h->name_len > 0 && h->name >= buf &&
			    h->name + h->name_len <= buf + r->head_len);
		FUZZ_ASSERT(h->value >= buf &&
			    h->value + h->value_len <= buf + r->head_len);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = fuzz_dup(data, size, 0);
	uint64_t h = fuzz_hash(data, size);
	struct http_response r;
	long res = http_response_parse(&r, buf, size, MAX_HEAD);

	FUZZ_ASSERT(res > 0 || (res <= HTTP_PARTIAL &&
				res >= HTTP_E_TOO_MANY_HEADERS));
	/* A prefix (input-chosen, and all but the last byte): PARTIAL, or
	 * the same result as the whole input. */
	for (int i = 0; i < 2 && size > 0; i++) {
		size_t k = i ? size - 1 : (size_t)(h % size);
		struct http_response r2;
		long p = http_response_parse(&r2, buf, k, MAX_HEAD);

		if (res > 0)
			FUZZ_ASSERT((size_t)res > k ? p == HTTP_PARTIAL
						     : p == res);
		else
			FUZZ_ASSERT(p == HTTP_PARTIAL || p == res);
	}
	if (res > 0) {
		check_head(&r, buf, size, res);
		/* The body decoder sees what follows the head, chunked or
		 * not: a server may lie about Transfer-Encoding. */
		body(buf + res, size - (size_t)res, h);
	} else if (size > 0 && data[0] != 'H') {
		/* Inputs that are not a response exercise the decoder alone. */
		body(buf, size, h);
	}
	free(buf);
	return 0;
}
