/*
 * echo: recognise a participant's own message coming back, from the
 * frame's bytes. See run.h.
 */
#include "run/run.h"

#include <string.h>

/* memmem for needle followed by a byte of end; NULL if none. */
static const char *find_ended(const char *s, size_t n, const char *needle,
			      size_t nl, const char *end)
{
	const char *e = s + n, *q;

	while ((q = memmem(s, (size_t)(e - s), needle, nl)) != NULL) {
		if (q + nl < e && q[nl] && strchr(end, q[nl]))
			return q;
		s = q + 1;
	}
	return NULL;
}

/* see run.h */
int echo_match(const char *js, size_t n, uint32_t user_id, const char *addr,
	       size_t addr_len, const char **content, size_t *content_len)
{
	static const char um[] = "{\"type\":\"user_message\"";
	static const char author[] = "\"authorId\":";
	static const char text[] = "\"content\":\"connection ";
	static const char tail[] = ": message number ";
	char key[sizeof(text) + ECHO_ADDR_MAX + sizeof(tail)];
	char digits[10];
	const char *c, *e;
	size_t kl;
	int dl = 0;

	if (addr_len > ECHO_ADDR_MAX || n <= sizeof(um) ||
	    memcmp(js, um, sizeof(um) - 1) != 0)
		return 0;
	/* "authorId":<user_id>, then a delimiter: not a longer number */
	for (uint32_t v = user_id; dl == 0 || v; v /= 10)
		digits[sizeof(digits) - 1 - dl++] = (char)('0' + v % 10);
	kl = sizeof(author) - 1;
	memcpy(key, author, kl);
	memcpy(key + kl, digits + sizeof(digits) - dl, (size_t)dl);
	kl += (size_t)dl;
	if (!find_ended(js, n, key, kl, ",} \t\r\n"))
		return 0;
	/* "content":"connection <addr>: message number <digits>" */
	kl = sizeof(text) - 1;
	memcpy(key, text, kl);
	memcpy(key + kl, addr, addr_len);
	kl += addr_len;
	memcpy(key + kl, tail, sizeof(tail) - 1);
	kl += sizeof(tail) - 1;
	c = memmem(js, n, key, kl);
	if (!c)
		return 0;
	e = c + kl;
	c += sizeof("\"content\":\"") - 1;
	if (e >= js + n || *e < '0' || *e > '9')
		return 0;
	while (e < js + n && *e >= '0' && *e <= '9')
		e++;
	if (e >= js + n || *e != '"')
		return 0;
	*content = c;
	*content_len = (size_t)(e - c);
	return 1;
}
