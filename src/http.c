/*
 * http: HTTP/1.1 heads, chunked bodies and config URLs as byte spans.
 * See include/http.h for the contract.
 *
 * IMPLEMENTATION NOTES
 *
 * The head parsers keep no state between calls: each call re-scans the head
 * from the start. Heads are small (a few hundred bytes, bounded by max_head)
 * so the rescan costs less than carrying a resumable state machine around,
 * and it makes "every prefix gives PARTIAL, then the full input gives the
 * answer" hold by construction.
 *
 * Lines are validated as soon as they are complete, so a malformed request
 * is refused before its head ends (a bare-LF client would otherwise sit
 * until max_head). Only bytes inside buf[0..max_head) are ever looked at,
 * which is what bounds the work per call.
 *
 * The chunked decoder, by contrast, is a byte-level state machine: a body
 * can be far larger than any buffer, so it must be consumable piecewise,
 * and every input byte is either decoded data or folded into the state, so
 * the caller never has to keep undecoded bytes around.
 */
#include "http.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

/* ---- character classes (RFC 9110 §5.6.2, §5.5) ---- */

static int is_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* field-vchar plus SP and HTAB: what may appear in a field value. */
static int is_field_char(unsigned char c)
{
	return c == '\t' || (c >= ' ' && c != 0x7f);
}

static int is_ows(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static unsigned char lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

static int span_ieq(const char *a, size_t n, const char *b, size_t m)
{
	if (n != m)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
			return 0;
	return 1;
}

static int name_is(const struct http_header *h, const char *name)
{
	return span_ieq(h->name, h->name_len, name, strlen(name));
}

/* ---- shared head scanning ---- */

/* Parses the request or status line into msg; 0 or HTTP_E_BAD. */
typedef int (*first_line_fn)(void *msg, const char *p, size_t n);

static int parse_header_line(struct http_header *h, const char *p, size_t n)
{
	size_t i = 0, end;

	/* A leading SP/HTAB is obs-fold (or space before the first field):
	 * refused, as RFC 9112 §5.2 allows a server to. */
	while (i < n && p[i] != ':') {
		if (!is_tchar((unsigned char)p[i]))
			return HTTP_E_BAD;
		i++;
	}
	/* No colon, empty name, or whitespace before the colon (§5.1). */
	if (i == n || i == 0)
		return HTTP_E_BAD;
	h->name = p;
	h->name_len = i;
	i++;
	for (size_t k = i; k < n; k++)
		if (!is_field_char((unsigned char)p[k]))
			return HTTP_E_BAD;
	while (i < n && is_ows((unsigned char)p[i]))
		i++;
	end = n;
	while (end > i && is_ows((unsigned char)p[end - 1]))
		end--;
	h->value = p + i;
	h->value_len = end - i;
	return 0;
}

/*
 * Splits buf[0..min(len, max_head)) into CRLF lines. The first line goes to
 * first_line(); later ones become headers. Returns head_len, HTTP_PARTIAL,
 * or an error. HTTP_PARTIAL is turned into HTTP_E_HEADER_TOO_BIG once
 * max_head bytes are present, since more bytes cannot complete a head
 * within the limit.
 */
static long scan_head(const char *buf, size_t len, size_t max_head,
		      first_line_fn first_line, void *msg,
		      struct http_header *hdrs, size_t *num_headers)
{
	size_t lim = len < max_head ? len : max_head;
	size_t pos = 0, nh = 0;
	int first = 1;

	*num_headers = 0;
	for (;;) {
		const char *lf = memchr(buf + pos, '\n', lim - pos);
		size_t e, n;
		int rc;

		if (lf == NULL) {
			/* A CR not at the very end cannot be followed by LF. */
			const char *cr = memchr(buf + pos, '\r', lim - pos);

			if (cr != NULL && (size_t)(cr - buf) + 1 < lim)
				return HTTP_E_BAD;
			return len >= max_head ? HTTP_E_HEADER_TOO_BIG
					       : HTTP_PARTIAL;
		}
		e = (size_t)(lf - buf);
		if (e == pos || buf[e - 1] != '\r')
			return HTTP_E_BAD; /* bare LF */
		n = e - 1 - pos;
		if (first) {
			rc = first_line(msg, buf + pos, n);
			if (rc < 0)
				return rc;
			first = 0;
		} else if (n == 0) {
			*num_headers = nh;
			return (long)(e + 1);
		} else {
			struct http_header spare;

			/* A malformed line is HTTP_E_BAD even past the
			 * header limit, so the verdict does not depend on
			 * how the bytes were split when they arrived. */
			rc = parse_header_line(nh < HTTP_MAX_HEADERS ?
					       &hdrs[nh] : &spare, buf + pos, n);
			if (rc < 0)
				return rc;
			if (nh == HTTP_MAX_HEADERS)
				return HTTP_E_TOO_MANY_HEADERS;
			nh++;
		}
		pos = e + 1;
	}
}

/* "HTTP/1.0" or "HTTP/1.1" at p (8 bytes); the minor digit or -1. */
static int parse_version(const char *p, size_t n)
{
	if (n < 8 || memcmp(p, "HTTP/1.", 7) != 0 ||
	    (p[7] != '0' && p[7] != '1'))
		return -1;
	return p[7] - '0';
}

/*
 * Content-Length (RFC 9110 §8.6): 1*DIGIT, no sign, no list. Repeats must
 * agree, since disagreeing lengths are the classic smuggling vector.
 */
static int parse_content_length(const struct http_header *h, size_t nh,
				uint64_t *out, int *present)
{
	*present = 0;
	*out = 0;
	for (size_t i = 0; i < nh; i++) {
		uint64_t v = 0;

		if (!name_is(&h[i], "content-length"))
			continue;
		if (h[i].value_len == 0)
			return HTTP_E_BAD;
		for (size_t k = 0; k < h[i].value_len; k++) {
			unsigned char c = (unsigned char)h[i].value[k];

			if (!is_digit(c))
				return HTTP_E_BAD;
			if (v > (UINT64_MAX - (c - '0')) / 10)
				return HTTP_E_BAD;
			v = v * 10 + (c - '0');
		}
		if (*present && v != *out)
			return HTTP_E_BAD;
		*present = 1;
		*out = v;
	}
	return 0;
}

static int any_has_token(const struct http_header *h, size_t nh,
			 const char *name, const char *token)
{
	for (size_t i = 0; i < nh; i++)
		if (name_is(&h[i], name) &&
		    http_has_token(h[i].value, h[i].value_len, token))
			return 1;
	return 0;
}

/* HTTP/1.1 is persistent unless closed; 1.0 only when asked (§9.3). */
static int persistent(const struct http_header *h, size_t nh, int minor)
{
	if (any_has_token(h, nh, "connection", "close"))
		return 0;
	if (minor >= 1)
		return 1;
	return any_has_token(h, nh, "connection", "keep-alive");
}

/* ---- server side ---- */

static int request_line(void *msg, const char *p, size_t n)
{
	struct http_request *r = msg;
	size_t i = 0, t;
	int minor;

	while (i < n && is_tchar((unsigned char)p[i]))
		i++;
	if (i == 0 || i == n || p[i] != ' ')
		return HTTP_E_BAD;
	r->method = p;
	r->method_len = i;
	t = ++i;
	/* The target is visible ASCII only; one SP on each side. */
	while (i < n && (unsigned char)p[i] > ' ' && (unsigned char)p[i] < 0x7f)
		i++;
	if (i == t || i == n || p[i] != ' ')
		return HTTP_E_BAD;
	r->target = p + t;
	r->target_len = i - t;
	i++;
	minor = parse_version(p + i, n - i);
	if (minor < 0 || n - i != 8)
		return HTTP_E_BAD;
	r->minor_version = minor;
	return 0;
}

long http_request_parse(struct http_request *r, const char *buf, size_t len,
			size_t max_head, uint64_t max_body)
{
	long head;
	int rc, has_cl;
	uint64_t cl;

	head = scan_head(buf, len, max_head, request_line, r, r->headers,
			 &r->num_headers);
	if (head < 0)
		return head;
	rc = parse_content_length(r->headers, r->num_headers, &cl, &has_cl);
	if (rc < 0)
		return rc;
	/* We never read chunked request bodies; 501 says so honestly. */
	if (http_header_find(r->headers, r->num_headers, "transfer-encoding"))
		return HTTP_E_UNSUPPORTED;
	/* The second test keeps head + body representable as a long. */
	if (cl > max_body || cl > (uint64_t)(LONG_MAX - head))
		return HTTP_E_BODY_TOO_BIG;
	r->head_len = (size_t)head;
	r->content_length = cl;
	r->body = buf + head;
	r->keep_alive = persistent(r->headers, r->num_headers,
				   r->minor_version);
	r->upgrade_websocket =
		any_has_token(r->headers, r->num_headers, "upgrade",
			      "websocket") &&
		any_has_token(r->headers, r->num_headers, "connection",
			      "upgrade");
	if (len - (size_t)head < cl)
		return HTTP_PARTIAL;
	return head + (long)cl;
}

const struct http_header *http_header_find(const struct http_header *h,
					   size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (name_is(&h[i], name))
			return &h[i];
	return NULL;
}

int http_has_token(const char *value, size_t n, const char *token)
{
	size_t tlen = strlen(token), i = 0;

	while (i < n) {
		size_t s, e;

		while (i < n && is_ows((unsigned char)value[i]))
			i++;
		s = i;
		while (i < n && value[i] != ',')
			i++;
		e = i;
		while (e > s && is_ows((unsigned char)value[e - 1]))
			e--;
		if (span_ieq(value + s, e - s, token, tlen))
			return 1;
		i++; /* past the comma */
	}
	return 0;
}

const char *http_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 416: return "Range Not Satisfiable";
	case 417: return "Expectation Failed";
	case 421: return "Misdirected Request";
	case 422: return "Unprocessable Content";
	case 426: return "Upgrade Required";
	case 428: return "Precondition Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

/* ---- writers: append into dst, remembering overflow ---- */

struct out {
	char *p;
	size_t cap, len;
	int over;
};

static void put(struct out *o, const void *s, size_t n)
{
	if (o->over || n > o->cap - o->len) {
		o->over = 1;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void putu(struct out *o, uint64_t v)
{
	char tmp[20];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	put(o, tmp + i, sizeof(tmp) - i);
}

size_t http_response_head(char *dst, size_t cap, int status, const char *ctype,
			  uint64_t content_length, int keep_alive,
			  const char *extra)
{
	struct out o = { dst, cap, 0, 0 };

	/* The status line needs exactly three digits. */
	if (status < 100 || status > 999)
		return 0;
	puts_(&o, "HTTP/1.1 ");
	putu(&o, (uint64_t)status);
	puts_(&o, " ");
	puts_(&o, http_reason(status));
	puts_(&o, "\r\n");
	if (ctype != NULL) {
		puts_(&o, "Content-Type: ");
		puts_(&o, ctype);
		puts_(&o, "\r\n");
	}
	/* RFC 9110 §8.6: no Content-Length on 1xx or 204. */
	if (status >= 200 && status != 204) {
		puts_(&o, "Content-Length: ");
		putu(&o, content_length);
		puts_(&o, "\r\n");
	}
	/* A 101 hands the connection to another protocol (RFC 9110 §7.8). */
	if (status == 101)
		puts_(&o, "Connection: Upgrade\r\n");
	else
		puts_(&o, keep_alive ? "Connection: keep-alive\r\n"
				      : "Connection: close\r\n");
	if (extra != NULL)
		puts_(&o, extra);
	puts_(&o, "\r\n");
	return o.over ? 0 : o.len;
}

/* ---- client side ---- */

static int status_line(void *msg, const char *p, size_t n)
{
	struct http_response *r = msg;
	int minor = parse_version(p, n);

	if (minor < 0 || n < 12 || p[8] != ' ' || !is_digit((unsigned char)p[9]) ||
	    !is_digit((unsigned char)p[10]) || !is_digit((unsigned char)p[11]))
		return HTTP_E_BAD;
	r->minor_version = minor;
	r->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	/* "HTTP/1.1 200\r\n" (no SP) is tolerated: the reason is optional
	 * and some servers drop the separator along with it. */
	if (n == 12) {
		r->reason = p + 12;
		r->reason_len = 0;
		return 0;
	}
	if (p[12] != ' ')
		return HTTP_E_BAD;
	for (size_t i = 13; i < n; i++)
		if (!is_field_char((unsigned char)p[i]))
			return HTTP_E_BAD;
	r->reason = p + 13;
	r->reason_len = n - 13;
	return 0;
}

long http_response_parse(struct http_response *r, const char *buf, size_t len,
			 size_t max_head)
{
	long head;
	int rc, has_cl;
	uint64_t cl;

	head = scan_head(buf, len, max_head, status_line, r, r->headers,
			 &r->num_headers);
	if (head < 0)
		return head;
	rc = parse_content_length(r->headers, r->num_headers, &cl, &has_cl);
	if (rc < 0)
		return rc;
	if (cl > INT64_MAX)
		return HTTP_E_BAD;
	r->head_len = (size_t)head;
	r->content_length = has_cl ? (int64_t)cl : -1;
	r->chunked = any_has_token(r->headers, r->num_headers,
				   "transfer-encoding", "chunked");
	/* Transfer-Encoding overrides Content-Length (RFC 9112 §6.3), so a
	 * caller that sees chunked never also sees a length to trust. */
	if (r->chunked)
		r->content_length = -1;
	r->keep_alive = persistent(r->headers, r->num_headers,
				   r->minor_version);
	return head;
}

size_t http_request_write(char *dst, size_t cap, const char *method,
			  const char *host, const char *target,
			  const char *extra, const void *body, size_t body_len)
{
	struct out o = { dst, cap, 0, 0 };

	puts_(&o, method);
	puts_(&o, " ");
	puts_(&o, target);
	puts_(&o, " HTTP/1.1\r\nHost: ");
	puts_(&o, host);
	puts_(&o, "\r\n");
	if (extra != NULL)
		puts_(&o, extra);
	if (body != NULL) {
		puts_(&o, "Content-Type: application/json\r\nContent-Length: ");
		putu(&o, body_len);
		puts_(&o, "\r\n");
	}
	puts_(&o, "\r\n");
	if (body != NULL)
		put(&o, body, body_len);
	return o.over ? 0 : o.len;
}

/* ---- chunked decoding ---- */

enum {
	CH_SIZE = 0,  /* chunk-size hex digits (zeroed struct starts here) */
	CH_SIZE_WS,   /* BWS after the size, before ';' or CR */
	CH_EXT,       /* chunk-ext: skipped up to CR */
	CH_SIZE_LF,   /* LF ending the size line */
	CH_DATA,      /* chunk data */
	CH_DATA_CR,   /* CRLF after chunk data */
	CH_DATA_LF,
	CH_TRAILER,   /* start of a trailer line, or the final CRLF */
	CH_TRAILER_LINE,
	CH_TRAILER_LF,
	CH_END_LF,    /* LF of the final CRLF */
	CH_DONE,
	CH_ERROR,     /* latched: the stream is unusable */
};

static int hex_val(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int http_chunked_decode(struct http_chunked *d, char *buf, size_t *len,
			uint64_t max_body, size_t *consumed_extra)
{
	size_t n = *len, in = 0, out = 0;
	int rc = 0;

	if (consumed_extra != NULL)
		*consumed_extra = 0;
	if (d->state == CH_ERROR) {
		*len = 0;
		return HTTP_E_BAD;
	}
	while (in < n && d->state != CH_DONE) {
		unsigned char c = (unsigned char)buf[in];
		int h;

		switch (d->state) {
		case CH_SIZE:
			h = hex_val(c);
			if (h >= 0) {
				/* Leading zeros are fine; overflow is not. */
				if (d->remaining > (UINT64_MAX >> 4))
					goto bad;
				d->remaining = (d->remaining << 4) | (uint64_t)h;
				d->hex_digits++;
				in++;
				break;
			}
			if (d->hex_digits == 0)
				goto bad;
			if (is_ows(c))
				d->state = CH_SIZE_WS;
			else if (c == ';')
				d->state = CH_EXT;
			else if (c == '\r')
				d->state = CH_SIZE_LF;
			else
				goto bad;
			in++;
			break;
		case CH_SIZE_WS:
			if (c == ';')
				d->state = CH_EXT;
			else if (c == '\r')
				d->state = CH_SIZE_LF;
			else if (!is_ows(c))
				goto bad;
			in++;
			break;
		case CH_EXT:
			/* Extensions carry nothing we use; only keep the
			 * line framing honest. */
			if (c == '\r')
				d->state = CH_SIZE_LF;
			else if (!is_field_char(c))
				goto bad;
			in++;
			break;
		case CH_SIZE_LF:
			if (c != '\n')
				goto bad;
			in++;
			if (d->remaining == 0) {
				d->state = CH_TRAILER;
				break;
			}
			/* Refuse as soon as the size is known, before the
			 * data arrives. */
			if (d->remaining > max_body ||
			    d->total > max_body - d->remaining) {
				rc = HTTP_E_BODY_TOO_BIG;
				goto fail;
			}
			d->state = CH_DATA;
			break;
		case CH_DATA: {
			size_t k = n - in;

			if (k > d->remaining)
				k = (size_t)d->remaining;
			memmove(buf + out, buf + in, k);
			out += k;
			in += k;
			d->remaining -= k;
			d->total += k;
			if (d->remaining == 0)
				d->state = CH_DATA_CR;
			break;
		}
		case CH_DATA_CR:
			if (c != '\r')
				goto bad;
			d->state = CH_DATA_LF;
			in++;
			break;
		case CH_DATA_LF:
			if (c != '\n')
				goto bad;
			d->state = CH_SIZE;
			d->hex_digits = 0;
			in++;
			break;
		case CH_TRAILER:
			if (c == '\r')
				d->state = CH_END_LF;
			else if (is_tchar(c))
				d->state = CH_TRAILER_LINE;
			else
				goto bad; /* obs-fold or junk */
			in++;
			break;
		case CH_TRAILER_LINE:
			/* Trailer fields are dropped, not interpreted. */
			if (c == '\r')
				d->state = CH_TRAILER_LF;
			else if (!is_field_char(c))
				goto bad;
			in++;
			break;
		case CH_TRAILER_LF:
			if (c != '\n')
				goto bad;
			d->state = CH_TRAILER;
			in++;
			break;
		case CH_END_LF:
			if (c != '\n')
				goto bad;
			d->state = CH_DONE;
			in++;
			break;
		default:
			goto bad;
		}
	}
	*len = out;
	if (d->state != CH_DONE)
		return 0;
	/* Bytes of the next message go right after the decoded data. */
	memmove(buf + out, buf + in, n - in);
	if (consumed_extra != NULL)
		*consumed_extra = n - in;
	return 1;
bad:
	rc = HTTP_E_BAD;
fail:
	d->state = CH_ERROR;
	*len = out;
	return rc;
}

/* ---- URLs ---- */

static int scheme_is(const char *url, size_t n, const char *s)
{
	size_t k = strlen(s);

	return n >= k && span_ieq(url, k, s, k);
}

static int is_host_char(unsigned char c)
{
	/* RFC 3986 unreserved; enough for names and IPv4. */
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z') || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

static int is_ip6_char(unsigned char c)
{
	return hex_val(c) >= 0 || c == ':' || c == '.';
}

int http_url_parse(struct http_url *u, const char *url, size_t n)
{
	size_t i, hs, he, end;

	memset(u, 0, sizeof(*u));
	if (scheme_is(url, n, "http://")) {
		i = 7;
	} else if (scheme_is(url, n, "https://")) {
		i = 8;
		u->tls = 1;
	} else if (scheme_is(url, n, "ws://")) {
		i = 5;
		u->websocket = 1;
	} else if (scheme_is(url, n, "wss://")) {
		i = 6;
		u->tls = 1;
		u->websocket = 1;
	} else {
		return -EINVAL;
	}
	u->port = u->tls ? 443 : 80;

	if (i < n && url[i] == '[') {
		hs = ++i;
		while (i < n && is_ip6_char((unsigned char)url[i]))
			i++;
		if (i == n || url[i] != ']' || i == hs)
			return -EINVAL;
		he = i++;
		/* At least one colon, or it is not an IPv6 literal. */
		if (memchr(url + hs, ':', he - hs) == NULL)
			return -EINVAL;
	} else {
		/* Userinfo ('@') and anything else unusual end up here
		 * and are refused. */
		hs = i;
		while (i < n && is_host_char((unsigned char)url[i]))
			i++;
		he = i;
		if (he == hs)
			return -EINVAL;
	}
	u->host = url + hs;
	u->host_len = he - hs;

	if (i < n && url[i] == ':') {
		uint32_t port = 0;
		size_t ps = ++i;

		while (i < n && is_digit((unsigned char)url[i])) {
			port = port * 10 + (uint32_t)(url[i] - '0');
			if (port > 65535)
				return -EINVAL;
			i++;
		}
		if (i == ps || port == 0)
			return -EINVAL;
		u->port = (uint16_t)port;
	}
	if (i < n && url[i] != '/' && url[i] != '?' && url[i] != '#')
		return -EINVAL;
	/* The fragment is never sent to a server. */
	end = i;
	while (end < n && url[end] != '#')
		end++;
	for (size_t k = i; k < n; k++) {
		unsigned char c = (unsigned char)url[k];

		if (c <= ' ' || c >= 0x7f)
			return -EINVAL;
	}
	u->path = end > i ? url + i : "";
	u->path_len = end - i;
	return 0;
}
