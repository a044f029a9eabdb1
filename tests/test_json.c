/* Unit tests for json (strict reader over jsmn) and jsonw (writer). */
#include "json.h"
#include "jsonw.h"
#include "test.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NTOK 64

/*
 * Parse n bytes from a heap copy of exactly n bytes, so that ASan catches
 * any read past the end (the caller's buffer is never NUL-terminated).
 */
static int parse_exact(const char *s, size_t n, jsmntok_t *toks, unsigned cap)
{
	struct json_doc d;
	char *copy = malloc(n ? n : 1);
	int r;

	if (!copy)
		return -ENOMEM;
	memcpy(copy, s, n);
	r = json_parse(&d, copy, n, toks, cap);
	free(copy);
	return r;
}

static int parse_str(const char *s)
{
	jsmntok_t toks[NTOK];

	return parse_exact(s, strlen(s), toks, NTOK);
}

static int valid_documents(void)
{
	static const struct {
		const char *js;
		int ntok;
	} v[] = {
		{ "0", 1 },
		{ "-0", 1 },
		{ "1.5e-3", 1 },
		{ "1E+2", 1 },
		{ "-12.0e0", 1 },
		{ " true ", 1 },
		{ "false", 1 },
		{ "null\n", 1 },
		{ "\"x\"", 1 },
		{ "\"\"", 1 },
		{ "[]", 1 },
		{ "{}", 1 },
		{ " \t\r\n[ ]\t", 1 },
		{ "{ }", 1 },
		{ "[[[]]]", 3 },
		{ "[1,2,3]", 4 },
		{ "[ 1 , \"a\" , null ]", 4 },
		{ "{\"a\":1}", 3 },
		{ "{ \"a\" : 1 , \"b\" : [ ] }", 5 },
		{ "{\"a\":{\"b\":[1,{\"c\":null}]},\"d\":\"e\"}", 11 },
		{ "[{},[],{\"\":\"\"}]", 6 },
		{ "[\"\\ud83d\\ude00\",\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]", 3 },
		{ "\"\\ud800\"", 1 },          /* lone surrogate: valid grammar */
		{ "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"", 1 },
		{ "\"\x7f\"", 1 },
		{ "[0,-1,10,0.0,1e5,1e-5,1E5,-0.5e+10]", 9 },
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		int r = parse_str(v[i].js);

		if (r != v[i].ntok)
			fprintf(stderr, "valid #%zu: %s\n", i, v[i].js);
		check_eq(r, v[i].ntok);
	}
	return 0;
}

static int invalid_documents(void)
{
	static const char *const bad[] = {
		"", " ", "\n\t",
		/* numbers */
		"01", "-01", "00", "-", "+1", "1.", ".5", "1.e5", "1e", "1e+",
		"--1", "0x10", "1a", "Infinity", "-Infinity", "NaN", "1 2",
		"[01]", "[-]", "[1.]", "{\"a\":01}", "[1e]", "[0x1]",
		/* literals */
		"nul", "tru", "True", "nulll", "falsey", "[nul]", "[t]",
		"{\"a\":nil}", "undefined", "n",
		/* structure */
		"[", "]", "{", "}", "[}", "{]", "[1 2]", "[1,,2]", "[1,]",
		"[,1]", "[,]", "{,}", "{\"a\" \"b\"}", "{\"a\":1,}",
		"{\"a\"}", "{\"a\":}", "{\"a\",1}", "{\"a\"::1}", "{:1}",
		"{1:2}", "{[]:1}", "{{}}", "[1:2]", "[\"a\":1]",
		"{\"a\":\"b\":\"c\"}", "{\"a\":1 \"b\":2}", "{\"a\":1:2}",
		"{\"a\":{}\"b\":1}", "{\"a\":[1}", "[[]", "[]]", "{} {}",
		"[] []", "\"a\" \"b\"", "\"a\",\"b\"", "1,2", "[1]x", "{}x",
		"[1] 2", "\"a\"x", "1]", "true false", "{\"a\":1}}",
		"{\"a\":1]", "[1}", "\"a\":1", "{\"a\":1,,\"b\":2}",
		"{\"a\":1 , , \"b\":2}", "[1 , , 2]", "{\"a\" : : 1}",
		/* strings */
		"\"abc", "\"a\\\"", "[\"a\\\"]", "\"\\x\"", "\"\\u12\"",
		"\"\\u12g4\"", "\"\\U0041\"", "\"\\'\"", "\"a\tb\"",
		"\"a\nb\"", "\"\x01\"", "\"\x1f\"", "\"\xff\"", "\"\xc0\x80\"",
		"\"\xc3\"", "\"\xe2\x82\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"",
		"\"\xf5\x80\x80\x80\"", "\"\x80\"", "\"\xe0\x80\x80\"",
		"\"\xf0\x80\x80\x80\"", "\"\\", "'a'",
		/* stray characters */
		"[\xff]", "\xef\xbb\xbf[]", "[/**/]", "{\"a\":1}\x0b",
		"\x0c[]",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = parse_str(bad[i]);

		if (r != -EINVAL)
			fprintf(stderr, "invalid #%zu accepted (%d): %s\n", i,
				r, bad[i]);
		check_eq(r, -EINVAL);
	}
	return 0;
}

/* Embedded NUL bytes: jsmn stops at NUL; json_parse must not. */
static int nul_bytes(void)
{
	jsmntok_t toks[NTOK];

	check_eq(parse_exact("{}\0", 3, toks, NTOK), -EINVAL);
	check_eq(parse_exact("{}\0{}", 5, toks, NTOK), -EINVAL);
	check_eq(parse_exact("[1,\0]", 5, toks, NTOK), -EINVAL);
	check_eq(parse_exact("\"a\0b\"", 5, toks, NTOK), -EINVAL);
	check_eq(parse_exact("1\0", 2, toks, NTOK), -EINVAL);
	check_eq(parse_exact("\0", 1, toks, NTOK), -EINVAL);
	check_eq(parse_exact("\"\\u0000\"", 8, toks, NTOK), 1);
	return 0;
}

/*
 * No proper prefix of a document that starts with '{' is JSON: each must be
 * refused, and the whole input, copied exactly, gives the same tokens as
 * parsing it in place.
 */
static int every_prefix(void)
{
	static const char js[] =
		"{\"id\":\"64b7f0c2a1e4d3b2c1a09f8e\",\"n\":-12.5e+3,"
		"\"ok\":true,\"no\":false,\"x\":null,\"arr\":[1,[2,{}],\"\\u00e9\"],"
		"\"s\":\"a\\\"b\\\\c\\ud83d\\ude00\"}";
	size_t n = sizeof(js) - 1;
	jsmntok_t toks[NTOK], ref[NTOK];
	struct json_doc d;
	int r = json_parse(&d, js, n, ref, NTOK);

	check_eq(r, 20);
	for (size_t k = 0; k < n; k++) {
		if (parse_exact(js, k, toks, NTOK) != -EINVAL)
			fprintf(stderr, "prefix %zu accepted\n", k);
		check_eq(parse_exact(js, k, toks, NTOK), -EINVAL);
	}
	check_eq(parse_exact(js, n, toks, NTOK), r);
	check(memcmp(toks, ref, sizeof(jsmntok_t) * (size_t)r) == 0);
	/* Token capacity: one short is -ENOSPC, exact fits. */
	check_eq(parse_exact(js, n, toks, (unsigned)r - 1), -ENOSPC);
	check_eq(parse_exact(js, n, toks, (unsigned)r), r);
	check_eq(parse_exact("1", 1, toks, 0), -ENOSPC);
	return 0;
}

/* Change every byte of a valid document to every value: no crash, no lie. */
static int mutations(void)
{
	static const char js[] = "{\"a\":[1,-2.5e3,true,null],\"b\":{\"c\":\"d\\n\"}}";
	size_t n = sizeof(js) - 1;
	char buf[sizeof(js)];
	jsmntok_t toks[NTOK];
	int accepted = 0;

	for (size_t i = 0; i < n; i++) {
		for (int c = 0; c < 256; c++) {
			struct json_doc d;
			int r;

			memcpy(buf, js, n);
			buf[i] = (char)c;
			r = parse_exact(buf, n, toks, NTOK);
			check(r == -EINVAL || r > 0);
			if (r <= 0)
				continue;
			accepted++;
			/* Whatever passed must be walkable. */
			json_parse(&d, buf, n, toks, NTOK);
			check_eq(json_next(&d, 0), r);
		}
	}
	/* Digits swapped for digits, whitespace for whitespace... */
	check(accepted > 20);
	return 0;
}

static int find_and_next(void)
{
	static const char js[] =
		"{\"a\":{\"x\":1,\"y\":[1,2,{\"a\":9}]},\"b\":2,\"a\\u0062\":3,"
		"\"dup\":1,\"dup\":\"last\",\"e\":[]}";
	jsmntok_t toks[NTOK];
	struct json_doc d;
	int r = json_parse(&d, js, sizeof(js) - 1, toks, NTOK);
	int a, b, ab, y, dup, inner;
	int64_t v;

	check(r > 0);
	a = json_find(&d, 0, "a");
	check(a > 0);
	check_eq(json_type(&d, a), JSMN_OBJECT);
	b = json_find(&d, 0, "b");
	check(b > 0);
	check_eq(json_get_i64(&d, b, &v), 0);
	check_eq(v, 2);
	/* Keys compare after unescaping. */
	ab = json_find(&d, 0, "ab");
	check(ab > 0);
	check_eq(json_get_i64(&d, ab, &v), 0);
	check_eq(v, 3);
	/* Last duplicate wins. */
	dup = json_find(&d, 0, "dup");
	check(json_str_eq(&d, dup, "last"));
	check_eq(json_find(&d, 0, "x"), -ENOENT); /* only in the child */
	check_eq(json_find(&d, 0, ""), -ENOENT);
	check_eq(json_find(&d, 0, "d"), -ENOENT);
	y = json_find(&d, a, "y");
	check(y > 0);
	check_eq(json_type(&d, y), JSMN_ARRAY);
	check_eq(json_find(&d, y, "a"), -EINVAL);
	check_eq(json_find(&d, b, "a"), -EINVAL);
	check_eq(json_find(&d, -1, "a"), -EINVAL);
	check_eq(json_find(&d, r, "a"), -EINVAL);
	inner = json_next(&d, y + 2); /* after the 2, the {"a":9} */
	check_eq(inner, y + 3);
	check_eq(json_type(&d, inner), JSMN_OBJECT);
	check(json_get_i64(&d, json_find(&d, inner, "a"), &v) == 0 && v == 9);
	/* The subtree of "a"'s value ends where key "b" starts. */
	check(json_str_eq(&d, json_next(&d, a), "b"));
	check_eq(json_next(&d, 0), r);
	check_eq(json_next(&d, json_find(&d, 0, "e")), r);
	/* A key's subtree includes its value. */
	check_eq(json_next(&d, a - 1), json_next(&d, a));
	return 0;
}

static int get_str(void)
{
	static const char js[] =
		"[\"plain\",\"\\\"\\\\\\/\\b\\f\\n\\r\\t\",\"\\u0041\\u00e9\\u20ac\","
		"\"\\ud83d\\ude00\",\"\\uD834\\uDD1E\",\"a\\u0000b\",\"\\ud800\","
		"\"\\udc00\",\"\\ud800\\u0041\",\"\\ud800x\",\"\\ud800\\ud800\","
		"\"caf\xc3\xa9\",1]";
	jsmntok_t toks[NTOK];
	struct json_doc d;
	char out[64];
	size_t n = 99;

	check_eq(json_parse(&d, js, sizeof(js) - 1, toks, NTOK), 14);
	check_eq(json_get_str(&d, 1, out, sizeof(out), &n), 0);
	check_span(out, n, "plain");
	check_eq(out[n], '\0');
	check_eq(json_get_str(&d, 2, out, sizeof(out), &n), 0);
	check_span(out, n, "\"\\/\b\f\n\r\t");
	check_eq(json_get_str(&d, 3, out, sizeof(out), &n), 0);
	check_span(out, n, "A\xc3\xa9\xe2\x82\xac");
	check_eq(json_get_str(&d, 4, out, sizeof(out), &n), 0);
	check_span(out, n, "\xf0\x9f\x98\x80");
	check_eq(json_get_str(&d, 5, out, sizeof(out), &n), 0);
	check_span(out, n, "\xf0\x9d\x84\x9e");
	check_eq(json_get_str(&d, 6, out, sizeof(out), &n), 0);
	check_eq(n, 3);
	check(memcmp(out, "a\0b", 4) == 0);
	for (int t = 7; t <= 11; t++)
		check_eq(json_get_str(&d, t, out, sizeof(out), &n), -EINVAL);
	check_eq(json_get_str(&d, 12, out, sizeof(out), &n), 0);
	check_span(out, n, "caf\xc3\xa9");
	check_eq(json_get_str(&d, 13, out, sizeof(out), &n), -EINVAL);
	check_eq(json_get_str(&d, 0, out, sizeof(out), &n), -EINVAL);
	check_eq(json_get_str(&d, 99, out, sizeof(out), &n), -EINVAL);
	/* Capacity: the NUL needs room too. */
	check_eq(json_get_str(&d, 1, out, 5, &n), -ENOSPC);
	check_eq(json_get_str(&d, 1, out, 6, &n), 0);
	check_span(out, n, "plain");
	check_eq(json_get_str(&d, 4, out, 4, &n), -ENOSPC);
	check_eq(json_get_str(&d, 4, out, 0, &n), -ENOSPC);
	check_eq(json_get_str(&d, 4, out, 5, &n), 0);

	check(json_str_eq(&d, 1, "plain"));
	check(!json_str_eq(&d, 1, "plai"));
	check(!json_str_eq(&d, 1, "plainx"));
	check(json_str_eq(&d, 3, "A\xc3\xa9\xe2\x82\xac"));
	check(json_str_eq(&d, 4, "\xf0\x9f\x98\x80"));
	check(!json_str_eq(&d, 7, ""));
	check(!json_str_eq(&d, 13, "1"));
	return 0;
}

static int numbers(void)
{
	static const char js[] =
		"[0,-0,9223372036854775807,-9223372036854775808,"
		"9223372036854775808,-9223372036854775809,1.0,1e3,\"1\",true,"
		"1.5,-2.5e-3,1e308,1e999,5e-324,-1e999,123456789012345678901234567890]";
	jsmntok_t toks[NTOK];
	struct json_doc d;
	int64_t v;
	double f;

	check_eq(json_parse(&d, js, sizeof(js) - 1, toks, NTOK), 18);
	check(json_get_i64(&d, 1, &v) == 0 && v == 0);
	check(json_get_i64(&d, 2, &v) == 0 && v == 0);
	check(json_get_i64(&d, 3, &v) == 0 && v == INT64_MAX);
	check(json_get_i64(&d, 4, &v) == 0 && v == INT64_MIN);
	for (int t = 5; t <= 10; t++)
		check_eq(json_get_i64(&d, t, &v), -EINVAL);
	check_eq(json_get_i64(&d, 0, &v), -EINVAL);

	check(json_get_f64(&d, 1, &f) == 0 && f == 0.0);
	check(json_get_f64(&d, 3, &f) == 0 && f == 9223372036854775807.0);
	check(json_get_f64(&d, 7, &f) == 0 && f == 1.0);
	check(json_get_f64(&d, 8, &f) == 0 && f == 1000.0);
	check_eq(json_get_f64(&d, 9, &f), -EINVAL);
	check_eq(json_get_f64(&d, 10, &f), -EINVAL);
	check(json_get_f64(&d, 11, &f) == 0 && f == 1.5);
	check(json_get_f64(&d, 12, &f) == 0 && f == -2.5e-3);
	check(json_get_f64(&d, 13, &f) == 0 && f == 1e308);
	check_eq(json_get_f64(&d, 14, &f), -EINVAL);
	check(json_get_f64(&d, 15, &f) == 0 && f == 5e-324);
	check_eq(json_get_f64(&d, 16, &f), -EINVAL);
	check(json_get_f64(&d, 17, &f) == 0 && f == 1.2345678901234568e29);
	return 0;
}

/* A number that is the whole document ends the caller's buffer. */
static int top_level_number(void)
{
	jsmntok_t toks[NTOK];
	struct json_doc d;
	char *p = malloc(5);
	double f;
	int64_t v;

	check(p != NULL);
	memcpy(p, "-1250", 5);
	check_eq(json_parse(&d, p, 5, toks, NTOK), 1);
	check(json_get_i64(&d, 0, &v) == 0 && v == -1250);
	check(json_get_f64(&d, 0, &f) == 0 && f == -1250.0);
	check_eq(json_parse(&d, p, 4, toks, NTOK), 1);
	check(json_get_f64(&d, 0, &f) == 0 && f == -125.0);
	free(p);
	return 0;
}

static int bools_and_null(void)
{
	static const char js[] = "[true,false,null,\"true\",0]";
	jsmntok_t toks[NTOK];
	struct json_doc d;
	int b = 7;

	check_eq(json_parse(&d, js, sizeof(js) - 1, toks, NTOK), 6);
	check(json_get_bool(&d, 1, &b) == 0 && b == 1);
	check(json_get_bool(&d, 2, &b) == 0 && b == 0);
	check_eq(json_get_bool(&d, 3, &b), -EINVAL);
	check_eq(json_get_bool(&d, 4, &b), -EINVAL);
	check_eq(json_get_bool(&d, 5, &b), -EINVAL);
	check(json_is_null(&d, 3));
	check(!json_is_null(&d, 4));
	check(!json_is_null(&d, 1));
	check(!json_is_null(&d, 0));
	check_eq(json_type(&d, 0), JSMN_ARRAY);
	check_eq(json_type(&d, 4), JSMN_STRING);
	return 0;
}

/* ---- jsonw ---- */

static int w_basic(void)
{
	char buf[256];
	struct jw w;

	jw_init(&w, buf, sizeof(buf));
	jw_obj_begin(&w);
	jw_key(&w, "type");
	jw_cstr(&w, "send_message");
	jw_key(&w, "payload");
	jw_obj_begin(&w);
	jw_key(&w, "chatId");
	jw_cstr(&w, "abc");
	jw_key(&w, "n");
	jw_i64(&w, -42);
	jw_key(&w, "u");
	jw_u64(&w, UINT64_MAX);
	jw_key(&w, "lat");
	jw_f64(&w, 52.2);
	jw_key(&w, "list");
	jw_arr_begin(&w);
	jw_bool(&w, 1);
	jw_bool(&w, 0);
	jw_null(&w);
	jw_arr_begin(&w);
	jw_arr_end(&w);
	jw_obj_begin(&w);
	jw_obj_end(&w);
	jw_raw(&w, "{\"r\":1}", 7);
	jw_i64(&w, INT64_MIN);
	jw_arr_end(&w);
	jw_obj_end(&w);
	jw_key(&w, "e");
	jw_cstr(&w, "");
	jw_obj_end(&w);
	check_span(buf, (size_t)jw_finish(&w),
		   "{\"type\":\"send_message\",\"payload\":{\"chatId\":\"abc\","
		   "\"n\":-42,\"u\":18446744073709551615,\"lat\":52.2,"
		   "\"list\":[true,false,null,[],{},{\"r\":1},"
		   "-9223372036854775808]},\"e\":\"\"}");
	check_eq(w.depth, 0);

	jw_init(&w, buf, sizeof(buf));
	jw_arr_begin(&w);
	jw_arr_end(&w);
	check_span(buf, (size_t)jw_finish(&w), "[]");
	jw_init(&w, buf, sizeof(buf));
	jw_i64(&w, 0);
	check_span(buf, (size_t)jw_finish(&w), "0");
	/* key-value helpers: the same text as key then value */
	jw_init(&w, buf, sizeof(buf));
	jw_obj_begin(&w);
	jw_kv_u64(&w, "u", UINT64_MAX);
	jw_kv_i64(&w, "i", INT64_MIN);
	jw_kv_cstr(&w, "s\"", "a\n");
	jw_obj_end(&w);
	check_span(buf, (size_t)jw_finish(&w),
		   "{\"u\":18446744073709551615,\"i\":-9223372036854775808,"
		   "\"s\\\"\":\"a\\n\"}");
	return 0;
}

static int w_escape(void)
{
	char buf[256], back[256];
	struct jw w;
	long n;
	jsmntok_t toks[4];
	struct json_doc d;
	size_t m;
	static const char in[] = "q\"b\\s/\b\f\n\r\t\x01\x1f\x7f\0z";

	jw_init(&w, buf, sizeof(buf));
	jw_str(&w, in, sizeof(in) - 1);
	n = jw_finish(&w);
	check_span(buf, (size_t)n,
		   "\"q\\\"b\\\\s/\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\\u0000z\"");
	/* And it reads back to the same bytes. */
	check_eq(json_parse(&d, buf, (size_t)n, toks, 4), 1);
	check_eq(json_get_str(&d, 0, back, sizeof(back), &m), 0);
	check_eq(m, sizeof(in) - 1);
	check(memcmp(back, in, m) == 0);

	/* Valid UTF-8 passes through; each invalid byte becomes U+FFFD. */
	jw_init(&w, buf, sizeof(buf));
	jw_cstr(&w, "\xc3\xa9\xf0\x9f\x98\x80|\xff|\xc3|\xed\xa0\x80|"
		    "\xc0\x80|\xe2\x82");
	n = jw_finish(&w);
	check_span(buf, (size_t)n,
		   "\"\xc3\xa9\xf0\x9f\x98\x80|\xef\xbf\xbd|\xef\xbf\xbd|"
		   "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|"
		   "\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd\"");
	check(json_parse(&d, buf, (size_t)n, toks, 4) == 1);

	/* Keys are escaped too. */
	jw_init(&w, buf, sizeof(buf));
	jw_obj_begin(&w);
	jw_key(&w, "a\"b");
	jw_null(&w);
	jw_obj_end(&w);
	check_span(buf, (size_t)jw_finish(&w), "{\"a\\\"b\":null}");
	return 0;
}

static void w_sample(struct jw *w)
{
	jw_obj_begin(w);
	jw_key(w, "k");
	jw_arr_begin(w);
	jw_cstr(w, "x\ny");
	jw_f64(w, 0.1);
	jw_u64(w, 123456789);
	jw_arr_end(w);
	jw_key(w, "z");
	jw_bool(w, 1);
	jw_obj_end(w);
}

/* Every too-small capacity latches -ENOSPC, never writes past cap. */
static int w_nospace(void)
{
	static const char want[] = "{\"k\":[\"x\\ny\",0.1,123456789],\"z\":true}";
	size_t full = sizeof(want) - 1;
	char buf[64];
	struct jw w;

	for (size_t cap = 0; cap <= full; cap++) {
		memset(buf, '#', sizeof(buf));
		jw_init(&w, buf, cap);
		w_sample(&w);
		if (cap < full) {
			check_eq(jw_finish(&w), -ENOSPC);
			check(w.len <= cap);
		} else {
			check_span(buf, (size_t)jw_finish(&w), want);
		}
		for (size_t i = cap; i < sizeof(buf); i++)
			check_eq(buf[i], '#');
	}
	return 0;
}

static int w_errors(void)
{
	char buf[256];
	struct jw w;

	/* JW_MAX_DEPTH levels fit, one more is -EINVAL and latched. */
	jw_init(&w, buf, sizeof(buf));
	for (int i = 0; i < JW_MAX_DEPTH; i++)
		jw_arr_begin(&w);
	for (int i = 0; i < JW_MAX_DEPTH; i++)
		jw_arr_end(&w);
	check_eq(jw_finish(&w), 2 * JW_MAX_DEPTH);
	jw_init(&w, buf, sizeof(buf));
	for (int i = 0; i <= JW_MAX_DEPTH; i++)
		jw_arr_begin(&w);
	check_eq(jw_finish(&w), -EINVAL);
	jw_arr_end(&w);
	jw_i64(&w, 1);
	check_eq(jw_finish(&w), -EINVAL);
	check_eq(w.len, JW_MAX_DEPTH);

	jw_init(&w, buf, sizeof(buf));
	jw_arr_begin(&w);
	jw_f64(&w, INFINITY);
	check_eq(jw_finish(&w), -EINVAL);
	jw_init(&w, buf, sizeof(buf));
	jw_f64(&w, NAN);
	check_eq(jw_finish(&w), -EINVAL);
	jw_init(&w, buf, sizeof(buf));
	jw_f64(&w, -INFINITY);
	check_eq(jw_finish(&w), -EINVAL);

	/* Misuse that would corrupt the bookkeeping. */
	jw_init(&w, buf, sizeof(buf));
	jw_arr_end(&w);
	check_eq(jw_finish(&w), -EINVAL);
	jw_init(&w, buf, sizeof(buf));
	jw_key(&w, "a");
	check_eq(jw_finish(&w), -EINVAL);
	jw_init(&w, buf, sizeof(buf));
	jw_obj_begin(&w);
	jw_key(&w, "a");
	jw_obj_end(&w);
	check_eq(jw_finish(&w), -EINVAL);

	/* The first error stays. */
	jw_init(&w, buf, 3);
	jw_arr_begin(&w);
	jw_cstr(&w, "long");
	check_eq(jw_finish(&w), -ENOSPC);
	for (int i = 0; i <= JW_MAX_DEPTH; i++)
		jw_arr_begin(&w);
	check_eq(jw_finish(&w), -ENOSPC);
	return 0;
}

static int w_f64_text(void)
{
	static const struct {
		double v;
		const char *s;
	} v[] = {
		{ 0.1, "0.1" },
		{ 0.0, "0" },
		{ 100.0, "100" },
		{ -2.5, "-2.5" },
		{ 52.2297, "52.2297" },
		{ 1e21, "1e+21" },
		{ 1.0 / 3.0, "0.3333333333333333" },
		{ 0.1 + 0.2, "0.30000000000000004" },
		{ 9007199254740993.0, "9007199254740992" },
		{ 5e-324, "4.94065645841247e-324" }, /* any nearby text reads back */
		{ 1.7976931348623157e308, "1.7976931348623157e+308" },
	};
	char buf[64];
	struct jw w;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		jw_init(&w, buf, sizeof(buf));
		jw_f64(&w, v[i].v);
		check_span(buf, (size_t)jw_finish(&w), v[i].s);
	}
	return 0;
}

static uint64_t rng_next(uint64_t *s)
{
	/* xorshift64*: deterministic and good enough to spread bit patterns. */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

/* Random doubles written by jw_f64 read back exactly through json. */
static int w_f64_roundtrip(void)
{
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	char buf[64];
	jsmntok_t toks[2];

	for (int i = 0; i < 200000; i++) {
		uint64_t bits = rng_next(&seed);
		double v, back;
		struct jw w;
		struct json_doc d;
		long n;

		if (i & 1) /* also plain-looking values */
			v = (double)(int64_t)(bits >> 20) / 1000.0;
		else
			memcpy(&v, &bits, sizeof(v));
		if (!isfinite(v))
			continue;
		jw_init(&w, buf, sizeof(buf));
		jw_f64(&w, v);
		n = jw_finish(&w);
		check(n > 0);
		check_eq(json_parse(&d, buf, (size_t)n, toks, 2), 1);
		check_eq(json_get_f64(&d, 0, &back), 0);
		if (memcmp(&back, &v, sizeof(v)) != 0)
			fprintf(stderr, "%.17g -> %.*s\n", v, (int)n, buf);
		check(memcmp(&back, &v, sizeof(v)) == 0);
	}
	return 0;
}

/* Arbitrary bytes written as a string always make valid JSON. */
static int w_str_random(void)
{
	uint64_t seed = 42;
	char in[64], buf[64 * 6 + 2];
	jsmntok_t toks[2];

	for (int i = 0; i < 20000; i++) {
		size_t len = rng_next(&seed) % sizeof(in);
		struct jw w;
		struct json_doc d;
		long n;

		for (size_t k = 0; k < len; k++)
			in[k] = (char)rng_next(&seed);
		jw_init(&w, buf, sizeof(buf));
		jw_str(&w, in, len);
		n = jw_finish(&w);
		check(n > 0);
		check_eq(json_parse(&d, buf, (size_t)n, toks, 2), 1);
	}
	return 0;
}

TEST_MAIN(T(valid_documents), T(invalid_documents), T(nul_bytes),
	  T(every_prefix), T(mutations), T(find_and_next), T(get_str),
	  T(numbers), T(top_level_number), T(bools_and_null), T(w_basic),
	  T(w_escape), T(w_nospace), T(w_errors), T(w_f64_text),
	  T(w_f64_roundtrip), T(w_str_random))
