/*
 * http: HTTP/1.1 message parsing and writing as byte spans, no I/O.
 * Server side: request parsing, response writing. Client side: request
 * writing, response parsing, chunked decoding.
 *
 * Parsers follow one convention: a return > 0 is a byte count, HTTP_PARTIAL
 * means "feed more bytes and call again", other negative values name the
 * reason the input is refused. Outputs point into the caller's buffer.
 */
#ifndef ESMELOAD_HTTP_H
#define ESMELOAD_HTTP_H

#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_HEADERS 32

enum http_status {
	HTTP_PARTIAL = -1,          /* incomplete: read more */
	HTTP_E_BAD = -2,            /* malformed: answer 400 and close */
	HTTP_E_HEADER_TOO_BIG = -3, /* head over the limit: 431 */
	HTTP_E_BODY_TOO_BIG = -4,   /* Content-Length over the limit: 413 */
	HTTP_E_UNSUPPORTED = -5,    /* e.g. Transfer-Encoding on a request: 501 */
	HTTP_E_TOO_MANY_HEADERS = -6, /* more than HTTP_MAX_HEADERS: 431 */
};

struct http_header {
	const char *name;
	size_t name_len;
	const char *value; /* leading and trailing whitespace trimmed */
	size_t value_len;
};

struct http_request {
	const char *method;
	size_t method_len;
	const char *target; /* request target as sent (path + query) */
	size_t target_len;
	int minor_version; /* 0 or 1 */
	struct http_header headers[HTTP_MAX_HEADERS];
	size_t num_headers;
	size_t head_len;        /* bytes up to and including the blank line */
	uint64_t content_length; /* 0 when absent */
	const char *body;       /* head end; content_length bytes */
	int keep_alive;         /* from version and Connection */
	int upgrade_websocket;  /* Upgrade: websocket and Connection: upgrade */
};

/*
 * Parse a request at buf[0..len). Returns head_len + content_length when the
 * whole request (head and body) is present; HTTP_PARTIAL before that. Returns
 * HTTP_E_HEADER_TOO_BIG as soon as max_head bytes hold no complete head, and
 * HTTP_E_BODY_TOO_BIG as soon as the head declares more than max_body.
 * Rejects (HTTP_E_BAD) bare LF line ends, obs-fold, invalid token characters,
 * a missing or duplicate-and-different Content-Length, versions other than
 * HTTP/1.0 and 1.1; Transfer-Encoding is HTTP_E_UNSUPPORTED.
 */
long http_request_parse(struct http_request *r, const char *buf, size_t len,
			size_t max_head, uint64_t max_body);

/* Case-insensitive header lookup; NULL when absent. */
const struct http_header *http_header_find(const struct http_header *h,
					   size_t n, const char *name);

/*
 * 1 if a comma-separated header value contains token (case-insensitive),
 * e.g. http_has_token("keep-alive, Upgrade", 19, "upgrade").
 */
int http_has_token(const char *value, size_t n, const char *token);

/* The standard reason phrase for a status code ("Unknown" otherwise). */
const char *http_reason(int status);

/*
 * Write a response head: status line, Content-Type (omitted when ctype is
 * NULL), Content-Length, Connection: keep-alive or close, and extra (a block
 * of complete "Name: value\r\n" lines, or NULL), then the blank line.
 * Returns its length, or 0 when cap is too small (or status is not 3 digits).
 * Per RFC 9110, 1xx and 204 get no Content-Length, and 101 gets
 * "Connection: Upgrade" instead of keep-alive/close.
 */
size_t http_response_head(char *dst, size_t cap, int status, const char *ctype,
			  uint64_t content_length, int keep_alive,
			  const char *extra);

/* ---- client side ---- */

struct http_response {
	int minor_version;
	int status;
	const char *reason;
	size_t reason_len;
	struct http_header headers[HTTP_MAX_HEADERS];
	size_t num_headers;
	size_t head_len;
	int64_t content_length; /* -1 when absent */
	int chunked;            /* Transfer-Encoding: chunked */
	int keep_alive;
};

/*
 * Parse a response head at buf[0..len). Returns head_len when the head is
 * complete (the body follows; see content_length and chunked), HTTP_PARTIAL,
 * HTTP_E_BAD, HTTP_E_HEADER_TOO_BIG past max_head or HTTP_E_TOO_MANY_HEADERS.
 */
long http_response_parse(struct http_response *r, const char *buf, size_t len,
			 size_t max_head);

/*
 * Write a request: "METHOD target HTTP/1.1", Host, extra header lines (or
 * NULL), and, when body is non-NULL, Content-Type: application/json and
 * Content-Length followed by the body. Returns the length, or 0 when cap is
 * too small.
 */
size_t http_request_write(char *dst, size_t cap, const char *method,
			  const char *host, const char *target,
			  const char *extra, const void *body, size_t body_len);

/*
 * Chunked transfer decoding in place (RFC 9112 §7.1): call with the bytes
 * after the head as they arrive; chunk data is moved to the front of buf.
 * Returns 0 while more input is needed, 1 once the last chunk and trailers
 * are consumed, HTTP_E_BAD on malformed input, HTTP_E_BODY_TOO_BIG when the
 * decoded body would exceed max_body. *len is updated to the decoded bytes
 * now at buf[0..*len); *consumed_extra (on return 1) tells how many input
 * bytes after the body belong to the next message and were left after the
 * decoded data, at buf[*len .. *len + *consumed_extra).
 * Start each body with a zeroed struct http_chunked. An error is latched:
 * later calls return HTTP_E_BAD. consumed_extra may be NULL.
 */
struct http_chunked {
	int state;
	uint64_t remaining; /* bytes left in the current chunk */
	uint64_t total;     /* decoded so far */
	size_t hex_digits;
};
int http_chunked_decode(struct http_chunked *d, char *buf, size_t *len,
			uint64_t max_body, size_t *consumed_extra);

/*
 * URLs of the config file: "http://host[:port][/path]" and ws://, https://,
 * wss://. Host may be a name, IPv4 or [IPv6]. Default ports 80/443.
 * Returns 0 or -EINVAL; the spans point into url.
 */
struct http_url {
	int tls;            /* https or wss */
	int websocket;      /* ws or wss */
	const char *host;   /* without brackets */
	size_t host_len;
	uint16_t port;
	const char *path;   /* "" when absent */
	size_t path_len;
};
int http_url_parse(struct http_url *u, const char *url, size_t n);

#endif
