/*
 * json: strict JSON over jsmn, field extraction by token index.
 * see include/json.h
 *
 * IMPLEMENTATION NOTES
 *
 * jsmn's strict mode is a tokenizer, not a validator: it accepts missing or
 * doubled commas and colons ("[1 2]", "[1,,2]", "{\"a\" \"b\"}"), trailing
 * commas, several top-level values, any printable run as a primitive
 * ("01", "1:2", "nul"), raw control characters and invalid UTF-8 inside
 * strings, and it stops silently at a NUL byte. It also cannot end a
 * top-level primitive at the end of input (it asks for more).
 *
 * So json_parse runs jsmn for the tree, then walks the tokens in document
 * order and checks every gap of text between consecutive tokens against what
 * the tree says must be there (only whitespace, one ',' or one ':', closing
 * brackets at the right places), checks the shape jsmn built (object children
 * are keys: strings with exactly one child; nothing else has children), and
 * validates each primitive against the RFC 8259 grammar and each string's
 * escapes and UTF-8. A top-level primitive is tokenized here, not by jsmn.
 * The walk uses the parent links, so it needs no stack and no recursion.
 */
/*
 * The one place jsmn's function bodies are compiled: include it before
 * json.h (which would set JSMN_HEADER), with the same mode macros json.h
 * defines, so the token layout is identical everywhere.
 */
#undef JSMN_HEADER
#define JSMN_STRICT
#define JSMN_PARENT_LINKS
#include <jsmn.h>
#include "json.h"
#include "utf8.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Text extent of a token: strings include their quotes. */
static int ext_start(const jsmntok_t *t)
{
	return t->type == JSMN_STRING ? t->start - 1 : t->start;
}

static int ext_end(const jsmntok_t *t)
{
	return t->type == JSMN_STRING ? t->end + 1 : t->end;
}

/*
 * The text js[a..b) must be whitespace around at most one sep character
 * (exactly one when sep is not 0).
 */
static int gap_ok(const char *js, int a, int b, char sep)
{
	int seen = 0;

	if (a > b)
		return 0;
	for (int i = a; i < b; i++) {
		if (is_ws(js[i]))
			continue;
		if (sep && js[i] == sep && !seen) {
			seen = 1;
			continue;
		}
		return 0;
	}
	return !sep || seen;
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* RFC 8259 section 6: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)? */
static int number_ok(const char *p, size_t n)
{
	size_t i = 0;

	if (i < n && p[i] == '-')
		i++;
	if (i >= n)
		return 0;
	if (p[i] == '0') {
		i++;
	} else if (is_digit(p[i])) {
		while (i < n && is_digit(p[i]))
			i++;
	} else {
		return 0;
	}
	if (i < n && p[i] == '.') {
		i++;
		if (i >= n || !is_digit(p[i]))
			return 0;
		while (i < n && is_digit(p[i]))
			i++;
	}
	if (i < n && (p[i] == 'e' || p[i] == 'E')) {
		i++;
		if (i < n && (p[i] == '+' || p[i] == '-'))
			i++;
		if (i >= n || !is_digit(p[i]))
			return 0;
		while (i < n && is_digit(p[i]))
			i++;
	}
	return i == n;
}

static int lit_eq(const char *p, size_t n, const char *lit)
{
	return n == strlen(lit) && memcmp(p, lit, n) == 0;
}

static int primitive_ok(const char *p, size_t n)
{
	return lit_eq(p, n, "true") || lit_eq(p, n, "false") ||
	       lit_eq(p, n, "null") || number_ok(p, n);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * String body (between the quotes): no raw control characters, only the
 * RFC 8259 escapes, well-formed UTF-8. Lone surrogate escapes are valid
 * grammar; json_get_str refuses them.
 */
static int string_ok(const char *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = (unsigned char)p[i];

		if (c < 0x20)
			return 0;
		if (c == '\\') {
			if (i + 1 >= n)
				return 0;
			switch (p[i + 1]) {
			case '"': case '\\': case '/': case 'b':
			case 'f': case 'n': case 'r': case 't':
				i += 2;
				continue;
			case 'u':
				if (i + 6 > n)
					return 0;
				for (size_t k = 2; k < 6; k++)
					if (hexval(p[i + k]) < 0)
						return 0;
				i += 6;
				continue;
			default:
				return 0;
			}
		}
		if (c >= 0x80) {
			size_t l = utf8_seq((const uint8_t *)p + i, n - i);

			if (!l)
				return 0;
			i += l;
			continue;
		}
		i++;
	}
	return 1;
}

static int is_key(const jsmntok_t *tok, int i)
{
	int p = tok[i].parent;

	return p >= 0 && tok[p].type == JSMN_OBJECT;
}

/* Shape and content of one token, regardless of its neighbours. */
static int token_ok(const char *js, const jsmntok_t *tok, int i)
{
	const jsmntok_t *t = &tok[i];

	if (is_key(tok, i))
		return t->type == JSMN_STRING && t->size == 1 &&
		       string_ok(js + t->start, (size_t)(t->end - t->start));
	switch (t->type) {
	case JSMN_OBJECT:
	case JSMN_ARRAY:
		return 1;
	case JSMN_STRING:
		return t->size == 0 &&
		       string_ok(js + t->start, (size_t)(t->end - t->start));
	case JSMN_PRIMITIVE:
		return t->size == 0 &&
		       primitive_ok(js + t->start, (size_t)(t->end - t->start));
	default:
		return 0;
	}
}

/*
 * Check the text between token j (whose subtree is complete, ending at
 * *cur) and the next token n (or the end of input when n == ntok): climb
 * from j through the ancestors that n is not a child of, each of which must
 * close right there, then expect a ',' before a sibling.
 */
static int climb_ok(const char *js, int len, const jsmntok_t *tok, int ntok,
		    int j, int n, int *cur)
{
	int c = j;

	for (;;) {
		int q = tok[c].parent;

		if (q < 0) {
			/* Root complete: only whitespace may follow. */
			if (n != ntok)
				return 0;
			return gap_ok(js, *cur, len, 0);
		}
		if (tok[q].type == JSMN_STRING) {
			/* c was the value of key q: q has no further child. */
			if (n < ntok && tok[n].parent == q)
				return 0;
			c = q;
			continue;
		}
		if (n < ntok && tok[n].parent == q)
			return gap_ok(js, *cur, ext_start(&tok[n]), ',');
		/* c was q's last child: q's closing bracket comes next. */
		if (!gap_ok(js, *cur, tok[q].end - 1, 0))
			return 0;
		*cur = tok[q].end;
		c = q;
	}
}

static int tree_ok(const char *js, int len, const jsmntok_t *tok, int ntok)
{
	int cur;

	if (!gap_ok(js, 0, ext_start(&tok[0]), 0))
		return 0;
	for (int i = 0; i < ntok; i++) {
		const jsmntok_t *t = &tok[i];
		int n = i + 1;

		if (!token_ok(js, tok, i))
			return 0;
		if (n < ntok && tok[n].parent == i) {
			/* Descend into i's first child (or a key's value). */
			if (t->type == JSMN_STRING) {
				if (!gap_ok(js, t->end + 1, ext_start(&tok[n]),
					    ':'))
					return 0;
			} else if (!gap_ok(js, t->start + 1,
					   ext_start(&tok[n]), 0)) {
				return 0;
			}
			continue;
		}
		/* i has no children: its own text ends its subtree. */
		if (t->type == JSMN_OBJECT || t->type == JSMN_ARRAY) {
			if (t->size != 0 ||
			    !gap_ok(js, t->start + 1, t->end - 1, 0))
				return 0;
		} else if (is_key(tok, i)) {
			return 0; /* a key without its value */
		}
		cur = ext_end(t);
		if (!climb_ok(js, len, tok, ntok, i, n, &cur))
			return 0;
	}
	return 1;
}

/*
 * jsmn in strict mode needs a delimiter after a primitive, so a document
 * that is one bare primitive is tokenized here.
 */
static int parse_top_primitive(struct json_doc *d, int s, int len,
			       jsmntok_t *toks, unsigned cap)
{
	int e = s;

	while (e < len && !is_ws(d->js[e]))
		e++;
	if (!gap_ok(d->js, e, len, 0) ||
	    !primitive_ok(d->js + s, (size_t)(e - s)))
		return -EINVAL;
	if (cap < 1)
		return -ENOSPC;
	toks[0].type = JSMN_PRIMITIVE;
	toks[0].start = s;
	toks[0].end = e;
	toks[0].size = 0;
	toks[0].parent = -1;
	d->ntok = 1;
	return 1;
}

int json_parse(struct json_doc *d, const char *js, size_t len, jsmntok_t *toks,
	       unsigned cap)
{
	jsmn_parser p;
	int r, s = 0;

	d->js = js;
	d->len = len;
	d->tok = toks;
	d->ntok = 0;
	/* jsmn keeps offsets in int. */
	if (len >= INT_MAX || cap > INT_MAX)
		return -EINVAL;
	while ((size_t)s < len && is_ws(js[s]))
		s++;
	if ((size_t)s == len)
		return -EINVAL;
	if (js[s] != '{' && js[s] != '[' && js[s] != '"')
		return parse_top_primitive(d, s, (int)len, toks, cap);

	jsmn_init(&p);
	r = jsmn_parse(&p, js, len, toks, cap);
	if (r == JSMN_ERROR_NOMEM)
		return -ENOSPC;
	if (r <= 0)
		return -EINVAL; /* invalid, or truncated (PART) */
	if (!tree_ok(js, (int)len, toks, r))
		return -EINVAL;
	d->ntok = r;
	return r;
}

static int tok_valid(const struct json_doc *d, int tok)
{
	return tok >= 0 && tok < d->ntok;
}

int json_next(const struct json_doc *d, int tok)
{
	/* Each token owes its size more tokens; a key's size 1 is its value. */
	long owed = 1;
	int i = tok;

	if (!tok_valid(d, tok))
		return d->ntok;
	while (owed > 0 && i < d->ntok) {
		owed += d->tok[i].size - 1;
		i++;
	}
	return i;
}

/*
 * Unescape one unit of the (validated) string body p[*i..n) into out (up to
 * 4 bytes). Returns the byte count or -EINVAL (lone surrogate, bad escape).
 */
static int unesc_next(const char *p, size_t n, size_t *i, char out[4])
{
	size_t k = *i;
	unsigned long cp;

	if (p[k] != '\\') {
		out[0] = p[k];
		*i = k + 1;
		return 1;
	}
	if (k + 1 >= n)
		return -EINVAL;
	switch (p[k + 1]) {
	case '"': out[0] = '"'; break;
	case '\\': out[0] = '\\'; break;
	case '/': out[0] = '/'; break;
	case 'b': out[0] = '\b'; break;
	case 'f': out[0] = '\f'; break;
	case 'n': out[0] = '\n'; break;
	case 'r': out[0] = '\r'; break;
	case 't': out[0] = '\t'; break;
	case 'u':
		goto unicode;
	default:
		return -EINVAL;
	}
	*i = k + 2;
	return 1;

unicode:
	cp = 0;
	if (k + 6 > n)
		return -EINVAL;
	for (size_t j = 2; j < 6; j++) {
		int h = hexval(p[k + j]);

		if (h < 0)
			return -EINVAL;
		cp = cp << 4 | (unsigned long)h;
	}
	k += 6;
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return -EINVAL; /* low surrogate first */
	if (cp >= 0xd800 && cp <= 0xdbff) {
		unsigned long lo = 0;

		if (k + 6 > n || p[k] != '\\' || p[k + 1] != 'u')
			return -EINVAL;
		for (size_t j = 2; j < 6; j++) {
			int h = hexval(p[k + j]);

			if (h < 0)
				return -EINVAL;
			lo = lo << 4 | (unsigned long)h;
		}
		if (lo < 0xdc00 || lo > 0xdfff)
			return -EINVAL;
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		k += 6;
	}
	*i = k;
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

int json_get_str(const struct json_doc *d, int tok, char *dst, size_t cap,
		 size_t *n)
{
	const jsmntok_t *t;
	const char *p;
	size_t len, i = 0, o = 0;

	if (!tok_valid(d, tok) || d->tok[tok].type != JSMN_STRING)
		return -EINVAL;
	t = &d->tok[tok];
	p = d->js + t->start;
	len = (size_t)(t->end - t->start);
	while (i < len) {
		char u[4];
		int k = unesc_next(p, len, &i, u);

		if (k < 0)
			return k;
		/* Keep one byte for the NUL. */
		if (cap - o <= (size_t)k || cap == 0)
			return -ENOSPC;
		memcpy(dst + o, u, (size_t)k);
		o += (size_t)k;
	}
	if (cap == 0)
		return -ENOSPC;
	dst[o] = '\0';
	if (n)
		*n = o;
	return 0;
}

int json_str_eq(const struct json_doc *d, int tok, const char *s)
{
	const jsmntok_t *t;
	const char *p;
	size_t len, i = 0, o = 0, slen;

	if (!tok_valid(d, tok) || d->tok[tok].type != JSMN_STRING)
		return 0;
	t = &d->tok[tok];
	p = d->js + t->start;
	len = (size_t)(t->end - t->start);
	slen = strlen(s);
	while (i < len) {
		char u[4];
		int k = unesc_next(p, len, &i, u);

		if (k < 0 || slen - o < (size_t)k ||
		    memcmp(s + o, u, (size_t)k) != 0)
			return 0;
		o += (size_t)k;
	}
	return o == slen;
}

int json_find(const struct json_doc *d, int obj, const char *key)
{
	int found = -ENOENT, i;

	if (!tok_valid(d, obj) || d->tok[obj].type != JSMN_OBJECT)
		return -EINVAL;
	i = obj + 1;
	for (int k = 0; k < d->tok[obj].size && i + 1 < d->ntok; k++) {
		if (json_str_eq(d, i, key))
			found = i + 1; /* later duplicates override */
		i = json_next(d, i + 1);
	}
	return found;
}

static int prim_is(const struct json_doc *d, int tok, const char *lit)
{
	const jsmntok_t *t;

	if (!tok_valid(d, tok) || d->tok[tok].type != JSMN_PRIMITIVE)
		return 0;
	t = &d->tok[tok];
	return lit_eq(d->js + t->start, (size_t)(t->end - t->start), lit);
}

int json_is_null(const struct json_doc *d, int tok)
{
	return prim_is(d, tok, "null");
}

int json_get_bool(const struct json_doc *d, int tok, int *v)
{
	if (prim_is(d, tok, "true")) {
		*v = 1;
		return 0;
	}
	if (prim_is(d, tok, "false")) {
		*v = 0;
		return 0;
	}
	return -EINVAL;
}

int json_get_i64(const struct json_doc *d, int tok, int64_t *v)
{
	const jsmntok_t *t;
	const char *p;
	size_t n, i = 0;
	int neg = 0;
	/* Accumulate the magnitude unsigned so INT64_MIN is reachable. */
	uint64_t m = 0, lim;

	if (!tok_valid(d, tok) || d->tok[tok].type != JSMN_PRIMITIVE)
		return -EINVAL;
	t = &d->tok[tok];
	p = d->js + t->start;
	n = (size_t)(t->end - t->start);
	if (!number_ok(p, n))
		return -EINVAL;
	if (p[0] == '-') {
		neg = 1;
		i = 1;
	}
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; i < n; i++) {
		unsigned dg;

		if (!is_digit(p[i]))
			return -EINVAL; /* fraction or exponent */
		dg = (unsigned)(p[i] - '0');
		if (m > (lim - dg) / 10)
			return -EINVAL;
		m = m * 10 + dg;
	}
	if (neg)
		*v = m == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)m;
	else
		*v = (int64_t)m;
	return 0;
}

int json_get_f64(const struct json_doc *d, int tok, double *v)
{
	/*
	 * strtod needs a terminated string and the token may end the caller's
	 * buffer, so copy it. Longer numbers than this are refused. strtod
	 * follows LC_NUMERIC; the program stays in the C locale.
	 */
	char buf[512];
	const jsmntok_t *t;
	size_t n;
	double x;
	char *end;

	if (!tok_valid(d, tok) || d->tok[tok].type != JSMN_PRIMITIVE)
		return -EINVAL;
	t = &d->tok[tok];
	n = (size_t)(t->end - t->start);
	if (!number_ok(d->js + t->start, n) || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, d->js + t->start, n);
	buf[n] = '\0';
	x = strtod(buf, &end);
	/* Underflow rounds to zero or a subnormal, which is fine; overflow is not. */
	if (end != buf + n || !isfinite(x))
		return -EINVAL;
	*v = x;
	return 0;
}
