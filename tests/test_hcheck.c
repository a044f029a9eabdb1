/*
 * hcheck (src/run/hcheck.h): the history check of a participant back from
 * a reconnect, and chatmap (src/run/chatmap.h), the organizers' chats by
 * id.
 */
#include "test.h"

#include "json.h"
#include "run/chatmap.h"
#include "run/hcheck.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static jsmntok_t toks[4096];

#define CHAT "6b0f527c9b8159a600000001"
#define OTHER "6b0f527c9b8159a600000002"

/* A chat_history frame for CHAT holding messages of user 7 numbered by
 * nums (0 ends), one organizer reply after each of the first replies. */
static size_t history(char *out, size_t cap, const char *chat,
		      const unsigned *nums, unsigned replies)
{
	size_t n = (size_t)snprintf(out, cap,
				    "{\"type\":\"chat_history\",\"payload\":"
				    "{\"chatId\":\"%s\",\"messages\":["
				    "{\"id\":\"x\",\"chatId\":\"%s\","
				    "\"authorId\":7,\"fromOrganizer\":0,"
				    "\"content\":\"Problem description: help\"}",
				    chat, chat);

	for (unsigned i = 0; nums[i]; i++) {
		n += (size_t)snprintf(out + n, cap - n,
				      ",{\"authorId\":7,\"fromOrganizer\":0,"
				      "\"content\":\"connection 127.0.0.1:%u: "
				      "message number %u\"}", 40000 + i, nums[i]);
		if (i < replies)
			n += (size_t)snprintf(out + n, cap - n,
					      ",{\"authorId\":2,\"fromOrganizer\":1,"
					      "\"content\":\"reply 1796166270%u\"}",
					      i);
	}
	n += (size_t)snprintf(out + n, cap - n, "]}}");
	return n;
}

/* Echoed numbers k0+1 .. as the string says ('1' echoed). */
static void echoes(uint8_t *bits, const char *s)
{
	memset(bits, 0, 16);
	for (uint32_t i = 0; s[i]; i++)
		if (s[i] == '1')
			hcheck_set(bits, i);
}

static int whole_history_passes(void)
{
	static const unsigned nums[] = { 11, 12, 13, 14, 15, 0 };
	uint8_t echoed[16], seen[16] = { 0 };
	struct hcheck h = { .user_id = 7, .k0 = 10, .kmax = 15,
			    .echoed = echoed, .seen = seen };
	char f[4096];
	size_t n = history(f, sizeof(f), CHAT, nums, 2);

	echoes(echoed, "11111");
	check_eq(hcheck_run(&h, f, n, CHAT, toks, 4096), 0);
	check_eq(h.missing, 0);
	check_eq(h.duplicated, 0);
	check_eq(h.recovered, 0);
	check_eq(h.unexpected, 0);
	check_eq(h.replies, 2);
	check(h.reply_last == 17961662701LL); /* the later of "...0" and "...1" */
	return 0;
}

static int faults_are_found(void)
{
	/* 12 missing though echoed, 13 twice, 15 stored though never echoed
	 * (on its way at the drop), 9 and 16 outside the chat's numbers */
	static const unsigned nums[] = { 11, 13, 13, 14, 15, 9, 16, 0 };
	uint8_t echoed[16], seen[16] = { 0 };
	struct hcheck h = { .user_id = 7, .k0 = 10, .kmax = 15,
			    .echoed = echoed, .seen = seen };
	char f[4096];
	size_t n = history(f, sizeof(f), CHAT, nums, 0);

	echoes(echoed, "11110");
	check_eq(hcheck_run(&h, f, n, CHAT, toks, 4096), 0);
	check_eq(h.missing, 1);
	check_eq(h.duplicated, 1);
	check_eq(h.recovered, 1);
	check_eq(h.unexpected, 2);
	check_eq(h.replies, 0);
	check(h.reply_last == 0);
	/* a recovered number is expected from now on */
	check(hcheck_bit(echoed, 4));
	return 0;
}

static int a_cut_history_is_truncated(void)
{
	/* the server keeps the latest: 11 and 12 are gone from its start,
	 * 14 from its middle */
	static const unsigned nums[] = { 13, 15, 16, 0 };
	uint8_t echoed[16], seen[16] = { 0 };
	struct hcheck h = { .user_id = 7, .k0 = 10, .kmax = 16,
			    .echoed = echoed, .seen = seen };
	char f[4096];
	size_t n = history(f, sizeof(f), CHAT, nums, 0);

	echoes(echoed, "111111");
	check_eq(hcheck_run(&h, f, n, CHAT, toks, 4096), 0);
	check_eq(h.truncated, 2);
	check_eq(h.missing, 1);
	/* a history of others' messages only: all of them cut */
	memset(seen, 0, sizeof(seen));
	n = (size_t)snprintf(f, sizeof(f), "{\"type\":\"chat_history\",\"payload\":"
			     "{\"chatId\":\"%s\",\"messages\":[{\"authorId\":2,"
			     "\"fromOrganizer\":1,\"content\":\"reply 5\"}]}}", CHAT);
	check_eq(hcheck_run(&h, f, n, CHAT, toks, 4096), 0);
	check_eq(h.truncated, 6);
	check_eq(h.missing, 0);
	/* an empty history: every echoed message missing */
	memset(seen, 0, sizeof(seen));
	n = (size_t)snprintf(f, sizeof(f), "{\"type\":\"chat_history\",\"payload\":"
			     "{\"chatId\":\"%s\",\"messages\":[]}}", CHAT);
	check_eq(hcheck_run(&h, f, n, CHAT, toks, 4096), 0);
	check_eq(h.truncated, 0);
	check_eq(h.missing, 6);
	return 0;
}

static int other_frames_are_not_checked(void)
{
	static const unsigned nums[] = { 11, 0 };
	uint8_t echoed[16] = { 0 }, seen[16] = { 0 };
	struct hcheck h = { .user_id = 7, .k0 = 10, .kmax = 11,
			    .echoed = echoed, .seen = seen };
	char f[4096];
	size_t n = history(f, sizeof(f), OTHER, nums, 0);
	static const char um[] = "{\"type\":\"user_message\",\"payload\":{}}";

	check_eq(hcheck_run(&h, f, n, CHAT, toks, 4096), -EPROTO);
	check_eq(hcheck_run(&h, um, sizeof(um) - 1, CHAT, toks, 4096), -EPROTO);
	check_eq(hcheck_run(&h, "[", 1, CHAT, toks, 4096), -EPROTO);
	n = history(f, sizeof(f), CHAT, nums, 0);
	check_eq(hcheck_run(&h, f, n, CHAT, toks, 4), -ENOSPC);
	check_eq(hcheck_run(&h, f, n, CHAT, toks, (unsigned)(n / 2 + 2)), 0);
	return 0;
}

static int numbers_of_texts(void)
{
	static const char *const t[] = {
		"connection 1.2.3.4:5: message number 42",
		"connection [::1]:5: message number 4294967295",
		"connection 1.2.3.4:5: message number 4294967296",
		"connection 1.2.3.4:5: message number ",
		"Problem description: message number x",
		"message number 7",
		"number 7",
	};
	static const uint32_t want[] = { 42, 4294967295u, 0, 0, 0, 7, 0 };

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		check_eq(hcheck_number(t[i], strlen(t[i])), want[i]);
	/* a reply's schedule: the whole rest a number */
	check(hcheck_reply("reply 1796166270123456789") == 1796166270123456789LL);
	check(hcheck_reply("reply 0") == 0);
	check(hcheck_reply("reply ") == -1);
	check(hcheck_reply("reply 12x") == -1);
	check(hcheck_reply("reply -5") == -1);
	check(hcheck_reply("replied 5") == -1);
	return 0;
}

static int chatmap_finds_what_it_holds(void)
{
	struct chatmap m;
	char id[25];

	chatmap_init(&m);
	check_eq(chatmap_get(&m, CHAT), UINT32_MAX);
	for (uint32_t i = 0; i < 5000; i++) {
		snprintf(id, sizeof(id), "%024x", i * 2654435761u);
		check_eq(chatmap_put(&m, id, i), 0);
	}
	check_eq(m.n, 5000);
	check(m.cap >= 10000);
	for (uint32_t i = 0; i < 5000; i++) {
		snprintf(id, sizeof(id), "%024x", i * 2654435761u);
		check_eq(chatmap_get(&m, id), i);
	}
	snprintf(id, sizeof(id), "%024x", 3u * 2654435761u);
	check_eq(chatmap_put(&m, id, 77), 0);
	check_eq(chatmap_get(&m, id), 77);
	check_eq(m.n, 5000);
	check_eq(chatmap_get(&m, CHAT), UINT32_MAX);
	chatmap_free(&m);
	check_eq(chatmap_get(&m, CHAT), UINT32_MAX);
	return 0;
}

TEST_MAIN(T(whole_history_passes), T(faults_are_found),
	  T(a_cut_history_is_truncated), T(other_frames_are_not_checked),
	  T(numbers_of_texts),
	  T(chatmap_finds_what_it_holds))
