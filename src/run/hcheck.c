/*
 * hcheck: a participant's history check after a reconnect. See hcheck.h.
 */
#include "run/hcheck.h"

#include "json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* see hcheck.h */
uint32_t hcheck_number(const char *c, size_t n)
{
	static const char tag[] = "message number ";
	const size_t tl = sizeof(tag) - 1;
	const char *num = c + n;
	uint64_t k = 0;

	/* The number ends the text: the digits before the end, after the
	 * tag, ten at most. */
	while (num > c && num[-1] >= '0' && num[-1] <= '9')
		num--;
	if (num == c + n || num - c < (ptrdiff_t)tl || c + n - num > 10 ||
	    memcmp(num - tl, tag, tl) != 0)
		return 0;
	for (; num < c + n; num++)
		k = k * 10 + (uint64_t)(*num - '0');
	return k > UINT32_MAX ? 0 : (uint32_t)k;
}

/* see hcheck.h */
int64_t hcheck_reply(const char *text)
{
	char *end;
	long long due;

	if (strncmp(text, "reply ", 6))
		return -1;
	due = strtoll(text + 6, &end, 10);
	return *end || end == text + 6 || due < 0 ? -1 : due;
}

/* One message object of the history. */
static void one(struct hcheck *h, const struct json_doc *d, int m)
{
	char text[64];
	int64_t author = -1, from = 0;
	int t, b;
	uint32_t k, i;
	size_t tn;

	if (json_type(d, m) != JSMN_OBJECT)
		return;
	if ((t = json_find(d, m, "fromOrganizer")) >= 0 &&
	    json_get_i64(d, t, &from) < 0 && json_get_bool(d, t, &b) == 0)
		from = b;
	if ((t = json_find(d, m, "authorId")) >= 0)
		json_get_i64(d, t, &author);
	t = json_find(d, m, "content");
	if (t < 0 || json_type(d, t) != JSMN_STRING)
		return;
	if (from) {
		/* the text of a reply is short: a longer one is not ours */
		int64_t due = json_get_str(d, t, text, sizeof(text), &tn) ?
			      -1 : hcheck_reply(text);

		if (due >= 0) {
			h->replies++;
			if (due > h->reply_last)
				h->reply_last = due;
		}
		return;
	}
	if (author != (int64_t)h->user_id)
		return;
	k = hcheck_number(d->js + d->tok[t].start,
			  (size_t)(d->tok[t].end - d->tok[t].start));
	if (!k) /* the description, or a text not the tester's */
		return;
	if (k <= h->k0 || k > h->kmax) {
		h->unexpected++;
		return;
	}
	i = k - h->k0 - 1;
	if (hcheck_bit(h->seen, i)) {
		h->duplicated++;
		return;
	}
	hcheck_set(h->seen, i);
	if (!hcheck_bit(h->echoed, i)) {
		h->recovered++;
		hcheck_set(h->echoed, i);
	}
}

/* see hcheck.h */
int hcheck_run(struct hcheck *h, const char *js, size_t n, const char *chat,
	       void *toks, unsigned cap)
{
	struct json_doc d;
	int t, pl, arr, r;
	uint32_t first;

	r = json_parse(&d, js, n, toks, cap);
	if (r == -ENOSPC)
		return r;
	if (r < 0 || json_type(&d, 0) != JSMN_OBJECT ||
	    (t = json_find(&d, 0, "type")) < 0 ||
	    !json_str_eq(&d, t, "chat_history") ||
	    (pl = json_find(&d, 0, "payload")) < 0 ||
	    json_type(&d, pl) != JSMN_OBJECT ||
	    (t = json_find(&d, pl, "chatId")) < 0 ||
	    json_type(&d, t) != JSMN_STRING ||
	    d.tok[t].end - d.tok[t].start != 24 ||
	    memcmp(js + d.tok[t].start, chat, 24) != 0 ||
	    (arr = json_find(&d, pl, "messages")) < 0 ||
	    json_type(&d, arr) != JSMN_ARRAY)
		return -EPROTO;
	h->missing = h->duplicated = h->recovered = h->unexpected = 0;
	h->truncated = h->replies = 0;
	h->reply_last = 0;
	for (int m = arr + 1, left = d.tok[arr].size; left > 0;
	     left--, m = json_next(&d, m))
		one(h, &d, m);
	/* An echoed number the history lacks: the server lost a message it
	 * had delivered; but one older than the first the history holds (or
	 * any, when it holds only others' messages) was cut from its start. */
	first = h->kmax - h->k0;
	for (uint32_t i = 0; i < h->kmax - h->k0; i++)
		if (hcheck_bit(h->seen, i)) {
			first = i;
			break;
		}
	for (uint32_t i = 0; i < h->kmax - h->k0; i++)
		if (hcheck_bit(h->echoed, i) && !hcheck_bit(h->seen, i)) {
			if (i < first && d.tok[arr].size > 0)
				h->truncated++;
			else
				h->missing++;
		}
	return 0;
}
