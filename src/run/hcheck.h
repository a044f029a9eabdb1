/*
 * hcheck: the history check of a participant back from a reconnect
 * (--reconnect-uptime). The participant asked get_chat_history for its
 * chat; this reads the chat_history frame and holds it against what the
 * participant knows of its own messages. No I/O.
 *
 * A participant's messages in a chat are numbered k0 + 1 .. kmax (the
 * Go tool's text, "connection <addr>: message number <k>", whatever
 * connection sent them). A number whose echo came back was stored by the
 * server, so the history must hold it exactly once; a number sent but
 * never echoed (on its way at the drop) may be there or not. A history
 * that begins after the chat's first messages (a server that keeps only
 * the latest, as `esmeload serve --history N` does) leaves those out:
 * truncated, not missing.
 */
#ifndef ESMELOAD_RUN_HCHECK_H
#define ESMELOAD_RUN_HCHECK_H

#include <stddef.h>
#include <stdint.h>

/* Bit k - k0 - 1 of a chat's bitmap: number k. */
static inline int hcheck_bit(const uint8_t *bits, uint32_t i)
{
	return bits[i / 8] >> (i % 8) & 1;
}
static inline void hcheck_set(uint8_t *bits, uint32_t i)
{
	bits[i / 8] |= (uint8_t)(1u << (i % 8));
}

struct hcheck {
	/* in */
	uint32_t user_id;     /* the participant */
	uint32_t k0, kmax;    /* its numbers in this chat: k0 + 1 .. kmax */
	/* in and out: the numbers echoed (kmax - k0 bits). A number the
	 * history holds is set, so the next check expects it too. */
	uint8_t *echoed;
	uint8_t *seen;        /* scratch, kmax - k0 bits, zeroed by the caller */
	/* out */
	uint32_t missing;     /* echoed, not in the history */
	uint32_t truncated;   /* echoed, older than the history's first of the
			       * participant's: a server that keeps only the
			       * latest messages of a chat */
	uint32_t duplicated;  /* in the history more than once */
	uint32_t recovered;   /* not echoed, in the history */
	uint32_t unexpected;  /* the participant's, numbered outside its range */
	uint32_t replies;     /* the organizer's replies ("reply <ns>") held */
	int64_t reply_last;   /* ... the latest schedule among them, 0 none */
};

/*
 * Check the chat_history frame js[0..n) for chat (24 hex) against h.
 * toks (cap entries) is the caller's scratch: a frame of n bytes needs at
 * most n / 2 + 2. Returns 0 with h's outputs filled; -EPROTO when it is
 * not a chat_history of that chat (nothing changed); -ENOSPC when toks is
 * too small (try again with more).
 */
int hcheck_run(struct hcheck *h, const char *js, size_t n, const char *chat,
	       void *toks, unsigned cap);

/* The number of a participant's message text ("... message number <k>"),
 * or 0 when it has none. */
uint32_t hcheck_number(const char *c, size_t n);
/* The schedule an organizer's reply carries in its text ("reply <unix
 * ns>", NUL-terminated), or -1 when the text is not a reply. */
int64_t hcheck_reply(const char *text);

#endif
