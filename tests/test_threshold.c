/* Unit tests for --threshold expressions (src/run/threshold.c). */
#include "test.h"
#include "run/run.h"

#include <errno.h>
#include <math.h>

static int parses(void)
{
	struct threshold t;
	char why[160];

	check_eq(threshold_parse(&t, "p99<50ms", why, sizeof(why)), 0);
	check(!strcmp(threshold_metric(&t), "p99") && t.value == 50);
	check(threshold_check(&t, 49.9) && !threshold_check(&t, 50));
	check_eq(threshold_parse(&t, "max<=2s", why, sizeof(why)), 0);
	check(t.value == 2000 && threshold_check(&t, 2000));
	check_eq(threshold_parse(&t, "lag_p99<500us", why, sizeof(why)), 0);
	check(t.value == 0.5);
	check_eq(threshold_parse(&t, "delivery_ratio>0.999", why, sizeof(why)), 0);
	check(!strcmp(threshold_metric(&t), "delivered_ratio"));
	check(threshold_check(&t, 1.0) && !threshold_check(&t, 0.999));
	check_eq(threshold_parse(&t, "errors==0", why, sizeof(why)), 0);
	check(threshold_check(&t, 0) && !threshold_check(&t, 1));
	check_eq(threshold_parse(&t, "msgs_per_s>=1000", why, sizeof(why)), 0);
	check(threshold_check(&t, 1000) && !threshold_check(&t, 999));
	/* The arrival figures are latencies, with units; lost is a count. */
	check_eq(threshold_parse(&t, "time_to_chat_p99<2s", why, sizeof(why)), 0);
	check(!strcmp(threshold_metric(&t), "time_to_chat_p99") &&
	      t.metric == M_TIME_TO_CHAT + 2 && t.value == 2000);
	check_eq(threshold_parse(&t, "arrival_lag_max<=500us", why,
				 sizeof(why)), 0);
	check(t.metric == M_ARRIVAL_LAG + 4 && t.value == 0.5);
	check_eq(threshold_parse(&t, "lost==0", why, sizeof(why)), 0);
	check(t.metric == M_LOST && threshold_check(&t, 0));
	check_eq(threshold_parse(&t, "in_flight<10", why, sizeof(why)), 0);
	check(t.metric == M_IN_FLIGHT);
	check(threshold_parse(&t, "lost<5ms", why, sizeof(why)) == -EINVAL);
	/* organizers' replies: a latency with units, and two counts */
	check_eq(threshold_parse(&t, "reply_p99<1.5s", why, sizeof(why)), 0);
	check(!strcmp(threshold_metric(&t), "reply_p99") &&
	      t.metric == M_REPLY + 2 && t.value == 1500);
	check_eq(threshold_parse(&t, "replies_received>=10", why, sizeof(why)),
		 0);
	check(t.metric == M_REPLIES_RECEIVED && threshold_check(&t, 10));
	check_eq(threshold_parse(&t, "replies_sent==0", why, sizeof(why)), 0);
	check(t.metric == M_REPLIES_SENT);
	check(threshold_parse(&t, "replies_sent<5ms", why, sizeof(why)) ==
	      -EINVAL);
	return 0;
}

/* Reconnects' time back in the chat: a latency group of five, after the
 * replies'; the opt-in behaviours' counts, after replies_received. */
static int behaviours(void)
{
	static const char *const rejoin[] = {
		"rejoin_p50", "rejoin_p90", "rejoin_p99", "rejoin_p99_9",
		"rejoin_max",
	};
	static const struct { const char *name; int metric; } counts[] = {
		{ "chats_closed", M_CHATS_CLOSED },
		{ "chats_reopened", M_CHATS_REOPENED },
		{ "reconnects", M_RECONNECTS },
		{ "history_missing", M_HISTORY_MISSING },
		{ "history_truncated", M_HISTORY_TRUNCATED },
		{ "history_duplicated", M_HISTORY_DUPLICATED },
		{ "device_copies_missing", M_DEVICE_COPIES_MISSING },
		{ "replies_missed", M_REPLIES_MISSED },
	};
	struct threshold t;
	char why[160], expr[64];

	check(M_REJOIN == M_REPLY + 5 && M_NLATENCY == M_REJOIN + 5);
	for (int i = 0; i < 5; i++) {
		snprintf(expr, sizeof(expr), "%s<250ms", rejoin[i]);
		check_eq(threshold_parse(&t, expr, why, sizeof(why)), 0);
		check(t.metric == M_REJOIN + i && t.value == 250);
		check(!strcmp(threshold_metric(&t), rejoin[i]));
	}
	check_eq(threshold_parse(&t, "rejoin_p99<2s", why, sizeof(why)), 0);
	check(t.value == 2000);
	check_eq(threshold_parse(&t, "rejoin_max<=500us", why, sizeof(why)), 0);
	check(t.value == 0.5);
	/* no reconnect back in its chat: no samples, a fail */
	threshold_apply(&t, 0, 0);
	check(!t.passed && t.no_data &&
	      !strcmp(t.no_data, "no reconnect back in its chat"));
	threshold_apply(&t, 0.4, 3);
	check(t.passed && !t.no_data);
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		snprintf(expr, sizeof(expr), "%s==0", counts[i].name);
		check_eq(threshold_parse(&t, expr, why, sizeof(why)), 0);
		check(t.metric == counts[i].metric);
		check(!strcmp(threshold_metric(&t), counts[i].name));
		/* a count: measured even when 0, no unit */
		threshold_apply(&t, 0, 0);
		check(t.passed && !t.no_data);
		threshold_apply(&t, 2, 1);
		check(!t.passed);
		snprintf(expr, sizeof(expr), "%s<5ms", counts[i].name);
		check(threshold_parse(&t, expr, why, sizeof(why)) == -EINVAL);
	}
	check(M_HISTORY_TRUNCATED + 1 == M_COUNT);
	/* names that are not metrics */
	check(threshold_parse(&t, "rejoin_p98<1s", why, sizeof(why)) == -EINVAL);
	check(strstr(why, "unknown metric \"rejoin_p98\"") != NULL);
	check(threshold_parse(&t, "rejoin<1s", why, sizeof(why)) == -EINVAL);
	check(threshold_parse(&t, "reconnect==0", why, sizeof(why)) == -EINVAL);
	check(threshold_parse(&t, "device_copies==0", why, sizeof(why)) ==
	      -EINVAL);
	check(threshold_parse(&t, "history_lost==0", why, sizeof(why)) ==
	      -EINVAL);
	return 0;
}

static int refuses(void)
{
	static const char *const bad[] = {
		"", "p98<1ms", "p99", "p99<", "p99<>5", "p99=5", "p99<5h",
		"errors<5ms", "p99<abc", "p99<nan", "p99<inf",
		/* a fuzzer's finding: finite, but not once scaled to ms */
		"p99<1e308s",
		"p99<1ms and more",
		"a_very_long_expression_that_is_longer_than_sixty_three_chars_x<1",
	};
	struct threshold t;
	char why[160];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = 0;
		if (threshold_parse(&t, bad[i], why, sizeof(why)) != -EINVAL ||
		    !why[0]) {
			fprintf(stderr, "accepted or no reason: \"%s\"\n", bad[i]);
			return __LINE__;
		}
	}
	return 0;
}

/* Metrics that stand on samples fail without any, naming what was missing;
 * counts are measured even when 0. */
static int no_samples(void)
{
	static const struct {
		const char *expr, *why;
	} empty[] = {
		{ "p99<50ms", "nothing delivered" },
		{ "max<=1s", "nothing delivered" },
		{ "actual_p50<1ms", "no echo matched to its send" },
		{ "lag_p99<5ms", "nothing sent" },
		{ "lag_max<1s", "nothing sent" },
		{ "delivered_ratio>=0", "nothing sent" },
		{ "msgs_per_s>=0", "no run time" },
		{ "cpu_percent<100", "no run time" },
		{ "arrival_lag_p99<1s", "no participant arrived" },
		{ "time_to_chat_p50<1s", "no participant found its chat" },
	};
	static const char *const counts[] = {
		"sent==0", "delivered==0", "organizer_received==0", "errors==0",
		"chats==0", "participants==0", "in_flight==0", "lost==0",
	};
	struct threshold t;
	char why[160];

	for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
		check_eq(threshold_parse(&t, empty[i].expr, why, sizeof(why)), 0);
		/* An empty histogram reads 0, which satisfies the expression. */
		check(threshold_check(&t, 0));
		threshold_apply(&t, 0, 0);
		check(!t.passed);
		check(t.no_data && !strcmp(t.no_data, empty[i].why));
		/* With samples, the value decides. */
		threshold_apply(&t, 0, 1);
		check(t.passed && !t.no_data && t.measured == 0);
	}
	check_eq(threshold_parse(&t, "p99<50ms", why, sizeof(why)), 0);
	threshold_apply(&t, 60, 1000);
	check(!t.passed && !t.no_data && t.measured == 60);
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		check_eq(threshold_parse(&t, counts[i], why, sizeof(why)), 0);
		threshold_apply(&t, 0, 0);
		check(t.passed && !t.no_data);
	}
	return 0;
}

TEST_MAIN(T(parses), T(behaviours), T(refuses), T(no_samples))
