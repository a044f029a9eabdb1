/*
 * run/scenfile: `esmeload run --scenario FILE`, the behaviours and rates
 * of a run as one JSON object (docs/scenario.schema.json). See
 * src/run/run.h.
 *
 * IMPLEMENTATION NOTES
 * - Every key maps to one of run's flags and its value goes through
 *   run_opt_apply (config.c) as the flag's text would: the file has the
 *   flags' checks and ranges because it has the flags' code. What is
 *   checked here is only what JSON adds: the shape (sections are objects,
 *   no unknown or repeated key), the types, and for the Go tool's three
 *   intervals, a duration's being whole milliseconds.
 * - Walking the document: an object token's size is its key count and
 *   each key's one child is its value; json_next skips a whole value.
 *   Sections are one level deep (walk recurses once, into a section, and
 *   a section has no section key), and a value is looked at once.
 * - Errors quote the file's own text of a value or an unknown key, cut
 *   to SHOW_MAX bytes: json_parse has checked that a string holds no raw
 *   control character, so the quote cannot break the one-line error.
 */
#include "run/run.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "timefmt.h"

#define SHOW_MAX 48      /* bytes of a value or key quoted in an error */
#define VALUE_MAX 64     /* a flag's value text, NUL included */

/* The sections; 0 is the top level. */
enum { S_TOP, S_LOAD, S_REPLIES, S_CHATS, S_RECONNECTS, S_DEVICES, NSEC };
static const char *const sec_name[NSEC] = {
	[S_TOP] = "a scenario", [S_LOAD] = "load", [S_REPLIES] = "replies",
	[S_CHATS] = "chats", [S_RECONNECTS] = "reconnects",
	[S_DEVICES] = "devices",
};

enum kind {
	K_SECTION,  /* an object of the section's keys */
	K_NAME,     /* a string, kept as o->scenario_name */
	K_TEXT,     /* a string, only checked */
	K_GO_MS,    /* a Go tool interval: a duration of whole ms, or an
		     * integer of ms */
	K_DUR,      /* a duration string, e.g. "30s" */
	K_COUNT,    /* a whole number */
	K_RATE,     /* any number */
	K_WORD,     /* a string, one of the flag's words */
};

static const struct key {
	int sec;          /* where the key is */
	const char *name;
	int kind;
	int sub;          /* K_SECTION: the section it opens */
	const char *flag; /* run_opt_apply's name, or NULL */
} keys[] = {
	{ S_TOP, "name", K_NAME, 0, NULL },
	{ S_TOP, "description", K_TEXT, 0, NULL },
	{ S_TOP, "load", K_SECTION, S_LOAD, NULL },
	{ S_TOP, "replies", K_SECTION, S_REPLIES, NULL },
	{ S_TOP, "chats", K_SECTION, S_CHATS, NULL },
	{ S_TOP, "reconnects", K_SECTION, S_RECONNECTS, NULL },
	{ S_TOP, "devices", K_SECTION, S_DEVICES, NULL },
	{ S_LOAD, "start_chat_interval", K_GO_MS, 0, "sci" },
	{ S_LOAD, "create_participant_interval", K_GO_MS, 0, "cpi" },
	{ S_LOAD, "arrival_rate", K_RATE, 0, "arrival-rate" },
	{ S_LOAD, "send_message_interval", K_GO_MS, 0, "smi" },
	{ S_LOAD, "organizers", K_COUNT, 0, "organizers" },
	{ S_LOAD, "max_participants", K_COUNT, 0, "max-participants" },
	{ S_LOAD, "duration", K_DUR, 0, "duration" },
	{ S_REPLIES, "every", K_COUNT, 0, "org-reply-every" },
	{ S_REPLIES, "think", K_DUR, 0, "org-think" },
	{ S_REPLIES, "think_dist", K_WORD, 0, "org-think-dist" },
	{ S_CHATS, "lifetime", K_DUR, 0, "chat-lifetime" },
	{ S_CHATS, "messages", K_COUNT, 0, "chat-messages" },
	{ S_CHATS, "reopen_after", K_DUR, 0, "reopen-after" },
	{ S_RECONNECTS, "uptime", K_DUR, 0, "reconnect-uptime" },
	{ S_RECONNECTS, "dist", K_WORD, 0, "reconnect-dist" },
	{ S_RECONNECTS, "backoff", K_DUR, 0, "reconnect-backoff" },
	{ S_DEVICES, "participant", K_COUNT, 0, "devices" },
	{ S_DEVICES, "organizer", K_COUNT, 0, "org-devices" },
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* What a parse is working on; the first error ends it. */
struct ctx {
	struct run_opts *o;
	const struct json_doc *d;
	const char *path;
	char *err;
	size_t cap;
	char *name;         /* "name", unescaped, until it is o's */
	unsigned long seen; /* bit k: keys[k] was there */
};

static int bad(struct ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* err = "<path>: " and the text; returns -EINVAL. */
static int bad(struct ctx *c, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(c->err, c->cap, "%s: ", c->path);

	if (n >= 0 && (size_t)n < c->cap) {
		va_start(ap, fmt);
		vsnprintf(c->err + n, c->cap - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* The file's text p[0..n) for an error, cut at SHOW_MAX bytes (at a
 * UTF-8 character's start) with "..." after it. */
static void show_span(char *dst, size_t cap, const char *p, size_t n)
{
	if (n > SHOW_MAX) {
		n = SHOW_MAX;
		while (n > 0 && ((unsigned char)p[n] & 0xc0) == 0x80)
			n--;
		snprintf(dst, cap, "%.*s...", (int)n, p);
	} else {
		snprintf(dst, cap, "%.*s", (int)n, p);
	}
}

/* A value token as the file has it, strings with their quotes. */
static void show(const struct ctx *c, int tok, char *dst, size_t cap)
{
	const jsmntok_t *t = &c->d->tok[tok];
	int q = t->type == JSMN_STRING;
	const char *p = c->d->js + t->start - q;
	size_t n = (size_t)(t->end - t->start) + 2 * (size_t)q;

	show_span(dst, cap, p, n);
}

/* "section.key" of keys[k]. */
static void key_path(const struct key *k, char *dst, size_t cap)
{
	if (k->sec == S_TOP)
		snprintf(dst, cap, "%s", k->name);
	else
		snprintf(dst, cap, "%s.%s", sec_name[k->sec], k->name);
}

/* What a token is, for "must be ..., not <what>". */
static const char *type_name(const struct ctx *c, int tok)
{
	const jsmntok_t *t = &c->d->tok[tok];
	char c0 = c->d->js[t->start];

	switch (t->type) {
	case JSMN_OBJECT: return "an object";
	case JSMN_ARRAY: return "an array";
	case JSMN_STRING: return "a string";
	default:
		return c0 == 't' || c0 == 'f' ? "a boolean" :
		       c0 == 'n' ? "null" : "a number";
	}
}

static int is_number(const struct ctx *c, int tok)
{
	const jsmntok_t *t = &c->d->tok[tok];
	char c0 = c->d->js[t->start];

	return t->type == JSMN_PRIMITIVE && (c0 == '-' || (c0 >= '0' && c0 <= '9'));
}

static int wrong_type(struct ctx *c, const struct key *k, int tok,
		      const char *want)
{
	char kp[96];

	key_path(k, kp, sizeof(kp));
	return bad(c, "key \"%s\" must be %s, not %s", kp, want,
		   type_name(c, tok));
}

/* The flag refused the value: "<value> is not ..." or "<value>: ...". */
static int refused(struct ctx *c, const struct key *k, int tok,
		   const char *why)
{
	char kp[96], v[SHOW_MAX + 8];

	key_path(k, kp, sizeof(kp));
	show(c, tok, v, sizeof(v));
	return bad(c, "key \"%s\": %s%s%s", kp, v,
		   strncmp(why, "not ", 4) ? ": " : " is ", why);
}

/*
 * A string value unescaped into dst (VALUE_MAX). One that does not fit,
 * holds a NUL or cannot be unescaped becomes "", which no flag takes, so
 * the flag's own reason is given for it.
 */
static void value_str(const struct ctx *c, int tok, char *dst)
{
	size_t n;

	if (json_get_str(c->d, tok, dst, VALUE_MAX, &n) < 0 || strlen(dst) != n)
		dst[0] = 0;
}

/* A number's text as the file has it (JSON's grammar, checked), or "". */
static void value_num(const struct ctx *c, int tok, char *dst)
{
	const jsmntok_t *t = &c->d->tok[tok];
	size_t n = (size_t)(t->end - t->start);

	if (n >= VALUE_MAX)
		n = 0;
	memcpy(dst, c->d->js + t->start, n);
	dst[n] = 0;
}

/* A Go tool interval into its flag's text: integer ms. 0 or -EINVAL. */
static int go_ms_text(struct ctx *c, const struct key *k, int tok, char *v)
{
	char kp[96], s[SHOW_MAX + 8];
	const char *flag = k->flag;
	int64_t ns;

	key_path(k, kp, sizeof(kp));
	show(c, tok, s, sizeof(s));
	if (is_number(c, tok)) {
		value_num(c, tok, v);
		if (strpbrk(v, ".eE"))
			return bad(c, "key \"%s\": %s is not a whole number of "
				   "milliseconds (the Go tool's -%s is integer "
				   "ms)", kp, s, flag);
		if (!v[0])
			return bad(c, "key \"%s\": %s: value out of range", kp, s);
		return 0;
	}
	if (json_type(c->d, tok) != JSMN_STRING)
		return wrong_type(c, k, tok, "a duration such as \"10ms\" or an "
				  "integer of ms");
	value_str(c, tok, v);
	if (!v[0] || timefmt_duration_parse(v, strlen(v), &ns) < 0)
		return bad(c, "key \"%s\": %s is not a duration (e.g. 10ms, 1s) "
			   "or an integer of ms", kp, s);
	if (ns % 1000000)
		return bad(c, "key \"%s\": %s is not a whole number of "
			   "milliseconds (the Go tool's -%s is integer ms)",
			   kp, s, flag);
	snprintf(v, VALUE_MAX, "%lld", (long long)(ns / 1000000));
	return 0;
}

/* keys[k] (not a section) with its value at token tok. */
static int apply(struct ctx *c, const struct key *k, int tok)
{
	char v[VALUE_MAX], why[160], kp[96];
	size_t n;
	int r;

	switch (k->kind) {
	case K_NAME:
	case K_TEXT: {
		char *s;

		if (json_type(c->d, tok) != JSMN_STRING)
			return wrong_type(c, k, tok, "a string");
		/* Unescaped, a string is never longer than its raw text. */
		n = (size_t)(c->d->tok[tok].end - c->d->tok[tok].start) + 1;
		s = malloc(n);
		if (!s) {
			snprintf(c->err, c->cap, "%s: %s", c->path,
				 strerror(ENOMEM));
			return -ENOMEM;
		}
		key_path(k, kp, sizeof(kp));
		r = json_get_str(c->d, tok, s, n, &n);
		if (r == 0 && strlen(s) != n)
			r = bad(c, "key \"%s\" contains a NUL character", kp);
		else if (r < 0)
			r = bad(c, "key \"%s\" is not a valid string (a lone "
				"surrogate escape)", kp);
		if (r < 0 || k->kind == K_TEXT) {
			free(s);
			return r;
		}
		free(c->name);
		c->name = s;
		return 0;
	}
	case K_GO_MS:
		if ((r = go_ms_text(c, k, tok, v)) < 0)
			return r;
		break;
	case K_DUR:
		if (json_type(c->d, tok) != JSMN_STRING)
			return wrong_type(c, k, tok, "a duration string such as "
					  "\"30s\"");
		value_str(c, tok, v);
		break;
	case K_WORD:
		if (json_type(c->d, tok) != JSMN_STRING)
			return wrong_type(c, k, tok, "\"fixed\" or \"exp\"");
		value_str(c, tok, v);
		break;
	case K_COUNT:
	case K_RATE:
		if (!is_number(c, tok))
			return wrong_type(c, k, tok, k->kind == K_COUNT ?
					  "a whole number" : "a number");
		value_num(c, tok, v);
		break;
	default:
		return bad(c, "internal error: key kind %d", k->kind);
	}
	if (run_opt_apply(c->o, k->flag, v, why, sizeof(why)) < 0)
		return refused(c, k, tok, why);
	return 0;
}

/* "unknown key "<sec>.<raw>" (<sec> takes a, b, c)". */
static int unknown(struct ctx *c, int sec, int keytok)
{
	const jsmntok_t *t = &c->d->tok[keytok];
	char raw[SHOW_MAX + 8], list[512];
	size_t n = 0;

	show_span(raw, sizeof(raw), c->d->js + t->start,
		  (size_t)(t->end - t->start));
	list[0] = 0;
	for (size_t k = 0; k < NKEYS; k++)
		if (keys[k].sec == sec && n < sizeof(list))
			n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s",
					      n ? ", " : "", keys[k].name);
	return bad(c, "unknown key \"%s%s%s\" (%s takes %s)",
		   sec == S_TOP ? "" : sec_name[sec], sec == S_TOP ? "" : ".",
		   raw, sec_name[sec], list);
}

/* The keys of the object at token obj, section sec. */
static int walk(struct ctx *c, int obj, int sec)
{
	int n = c->d->tok[obj].size, t = obj + 1;

	for (int i = 0; i < n; i++) {
		int val = t + 1, r;
		size_t k;

		for (k = 0; k < NKEYS; k++)
			if (keys[k].sec == sec && json_str_eq(c->d, t, keys[k].name))
				break;
		if (k == NKEYS)
			return unknown(c, sec, t);
		if (c->seen & (1ul << k)) {
			char kp[96];

			key_path(&keys[k], kp, sizeof(kp));
			return bad(c, "key \"%s\" is given twice", kp);
		}
		c->seen |= 1ul << k;
		if (keys[k].kind == K_SECTION) {
			if (json_type(c->d, val) != JSMN_OBJECT)
				return wrong_type(c, &keys[k], val, "an object");
			r = walk(c, val, keys[k].sub);
		} else {
			r = apply(c, &keys[k], val);
		}
		if (r < 0)
			return r;
		t = json_next(c->d, val);
	}
	return 0;
}

static size_t key_index(int sec, const char *name)
{
	for (size_t k = 0; k < NKEYS; k++)
		if (keys[k].sec == sec && !strcmp(keys[k].name, name))
			return k;
	return NKEYS;
}

/* see run.h */
int scenfile_parse(struct run_opts *o, const char *path, const char *js,
		   size_t len, char *err, size_t cap)
{
	struct ctx c = { .o = o, .path = path, .err = err, .cap = cap };
	struct json_doc d;
	jsmntok_t *tok;
	size_t cpi = key_index(S_LOAD, "create_participant_interval");
	size_t rate = key_index(S_LOAD, "arrival_rate");
	int r;

	if (cap)
		err[0] = 0;
	/* A token takes at least one byte of input: len + 1 is enough. */
	tok = malloc((len + 1) * sizeof(*tok));
	if (!tok) {
		snprintf(err, cap, "%s: %s", path, strerror(ENOMEM));
		return -ENOMEM;
	}
	c.d = &d;
	if (len > INT32_MAX || json_parse(&d, js, len, tok,
					  (unsigned)(len + 1)) < 0) {
		r = bad(&c, "not valid JSON (a scenario is one JSON object, "
			"see docs/scenario.schema.json)");
		goto out_tok;
	}
	if (json_type(&d, 0) != JSMN_OBJECT) {
		r = bad(&c, "not a JSON object (a scenario is one, see "
			"docs/scenario.schema.json)");
		goto out_tok;
	}
	/* One bit per key in c.seen. */
	_Static_assert(NKEYS <= 32, "more keys than bits of unsigned long");
	r = walk(&c, 0, S_TOP);
	if (r == 0 && (c.seen & (1ul << cpi)) && (c.seen & (1ul << rate)))
		r = bad(&c, "key \"load\": \"create_participant_interval\" and "
			"\"arrival_rate\" both set the arrivals: give one of "
			"them");
	if (r == 0) {
		free(o->scenario_name);
		o->scenario_name = c.name;
		c.name = NULL;
	}
	free(c.name);
out_tok:
	free(tok);
	return r;
}

/* see run.h */
int scenfile_load(struct run_opts *o, const char *path)
{
	char err[768], *buf;
	size_t n;
	int r;

	if (run_read_file(path, "the scenario file", &buf, &n))
		return 2;
	r = scenfile_parse(o, path, buf, n, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "esmeload: %s\n", err);
		free(buf);
		return 2;
	}
	free(o->scenario_text);
	o->scenario_path = path;
	o->scenario_text = buf;
	o->scenario_len = n;
	return 0;
}

/* see run.h */
void scenfile_free(struct run_opts *o)
{
	free(o->scenario_text);
	free(o->scenario_name);
	o->scenario_path = NULL;
	o->scenario_text = NULL;
	o->scenario_name = NULL;
	o->scenario_len = 0;
}
