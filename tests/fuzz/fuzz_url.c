/*
 * fuzz_url: http_url_parse (include/http.h) on config-file URLs. A parsed
 * URL is written back in canonical form (scheme, host with brackets for
 * IPv6, explicit port, path) and must parse to the same fields.
 */
#include <stdio.h>

#include "fuzz.h"
#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *url = fuzz_dup(data, size, 0);
	struct http_url u, v;
	char *canon;
	size_t cap;
	int n;

	if (http_url_parse(&u, url, size) != 0) {
		free(url);
		return 0;
	}
	FUZZ_ASSERT(u.host_len > 0 && u.host >= url &&
		    u.host + u.host_len <= url + size);
	FUZZ_ASSERT(u.port != 0);
	FUZZ_ASSERT(u.path_len == 0 || (u.path >= url &&
					 u.path + u.path_len <= url + size));
	FUZZ_ASSERT(u.path_len == 0 || u.path[0] == '/' || u.path[0] == '?');
	FUZZ_ASSERT(memchr(u.path, '#', u.path_len) == NULL);
	FUZZ_ASSERT(memchr(u.host, '[', u.host_len) == NULL);

	cap = size + 32;
	canon = malloc(cap);
	if (!canon)
		abort();
	n = snprintf(canon, cap, "%s://%s%.*s%s:%u%.*s",
		     u.websocket ? (u.tls ? "wss" : "ws") : (u.tls ? "https" : "http"),
		     memchr(u.host, ':', u.host_len) ? "[" : "", (int)u.host_len,
		     u.host, memchr(u.host, ':', u.host_len) ? "]" : "",
		     (unsigned)u.port, (int)u.path_len, u.path);
	FUZZ_ASSERT(n > 0 && (size_t)n < cap);
	FUZZ_ASSERT(http_url_parse(&v, canon, (size_t)n) == 0);
	FUZZ_ASSERT(v.tls == u.tls && v.websocket == u.websocket);
	FUZZ_ASSERT(v.port == u.port);
	FUZZ_ASSERT(v.host_len == u.host_len &&
		    !memcmp(v.host, u.host, u.host_len));
	FUZZ_ASSERT(v.path_len == u.path_len &&
		    !memcmp(v.path, u.path, u.path_len));
	free(canon);
	free(url);
	return 0;
}
