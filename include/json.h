/*
 * json: field extraction from a JSON document over jsmn (strict mode), no I/O.
 * The caller owns the token array; values are read by token index.
 */
#ifndef ESMELOAD_JSON_H
#define ESMELOAD_JSON_H

#define JSMN_HEADER
#define JSMN_STRICT
#define JSMN_PARENT_LINKS
#include <jsmn.h>

#include <stddef.h>
#include <stdint.h>

struct json_doc {
	const char *js;
	size_t len;
	jsmntok_t *tok;
	int ntok;
};

/*
 * Tokenize js[0..len) into toks (capacity cap). The whole input must be one
 * JSON value, surrounded only by whitespace. Returns the token count (> 0),
 * -EINVAL for invalid or trailing data, -ENOSPC when cap is too small.
 */
int json_parse(struct json_doc *d, const char *js, size_t len, jsmntok_t *toks,
	       unsigned cap);

/*
 * Token index of the value of key in the object at token obj (0 is the
 * root), or -ENOENT (absent) / -EINVAL (obj is not an object). Keys compare
 * after unescaping. The last occurrence wins for duplicate keys.
 */
int json_find(const struct json_doc *d, int obj, const char *key);

/* Index of the token after tok's whole subtree (its next sibling). */
int json_next(const struct json_doc *d, int tok);

/* JSMN_OBJECT, JSMN_ARRAY, JSMN_STRING or JSMN_PRIMITIVE of a token. */
static inline jsmntype_t json_type(const struct json_doc *d, int tok)
{
	return d->tok[tok].type;
}

/* 1 if tok is the primitive null. */
int json_is_null(const struct json_doc *d, int tok);

/*
 * Unescape the string at tok into dst (capacity cap, NUL added) and set
 * *n to its length (without NUL). \uXXXX escapes, surrogate pairs included,
 * become UTF-8. Returns 0, -EINVAL (not a string, bad escape, lone
 * surrogate) or -ENOSPC.
 */
int json_get_str(const struct json_doc *d, int tok, char *dst, size_t cap,
		 size_t *n);

/* 1 if the string at tok equals s after unescaping, else 0. */
int json_str_eq(const struct json_doc *d, int tok, const char *s);

/*
 * Numbers: an integer primitive in range (json_get_i64), or any number
 * (json_get_f64). Returns 0 or -EINVAL (not a number, not an integer,
 * out of range).
 */
int json_get_i64(const struct json_doc *d, int tok, int64_t *v);
int json_get_f64(const struct json_doc *d, int tok, double *v);

/* true/false primitive into *v (1/0); 0 or -EINVAL. */
int json_get_bool(const struct json_doc *d, int tok, int *v);

#endif
