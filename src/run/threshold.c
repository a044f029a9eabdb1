/*
 * threshold: pass/fail conditions on a run's figures, for CI.
 * See run.h.
 */
#include "run.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OP_LT, OP_LE, OP_GT, OP_GE, OP_EQ };

/* Metric names in the order of enum run_metric_id, then the alias. */
static const char *const metrics[] = {
	"p50", "p90", "p99", "p99_9", "max",
	"actual_p50", "actual_p90", "actual_p99", "actual_p99_9", "actual_max",
	"lag_p50", "lag_p90", "lag_p99", "lag_p99_9", "lag_max",
	"arrival_lag_p50", "arrival_lag_p90", "arrival_lag_p99",
	"arrival_lag_p99_9", "arrival_lag_max",
	"time_to_chat_p50", "time_to_chat_p90", "time_to_chat_p99",
	"time_to_chat_p99_9", "time_to_chat_max",
	"reply_p50", "reply_p90", "reply_p99", "reply_p99_9", "reply_max",
	"rejoin_p50", "rejoin_p90", "rejoin_p99", "rejoin_p99_9", "rejoin_max",
	"delivered_ratio", "sent", "delivered", "organizer_received", "errors",
	"chats", "participants", "msgs_per_s", "cpu_percent", "in_flight",
	"lost", "replies_sent", "replies_received",
	"chats_closed", "chats_reopened", "reconnects", "history_missing",
	"history_duplicated", "device_copies_missing", "replies_missed",
	"history_truncated",
	"delivery_ratio", /* alias, kept last */
};
_Static_assert(sizeof(metrics) / sizeof(metrics[0]) == M_COUNT + 1,
	       "a name for every enum run_metric_id");
#define NLATENCY M_NLATENCY
#define NMETRICS (sizeof(metrics) / sizeof(metrics[0]))

/* see run.h */
int threshold_parse(struct threshold *t, const char *s, char *why,
		    size_t whylen)
{
	size_t n = strlen(s), mlen = 0;
	const char *p = s;
	char *end;
	int m = -1;

	memset(t, 0, sizeof(*t));
	if (n == 0 || n >= sizeof(t->expr)) {
		snprintf(why, whylen, "empty or longer than %zu characters",
			 sizeof(t->expr) - 1);
		return -EINVAL;
	}
	snprintf(t->expr, sizeof(t->expr), "%s", s);
	while (p[mlen] && (p[mlen] == '_' || (p[mlen] >= 'a' && p[mlen] <= 'z') ||
			   (p[mlen] >= '0' && p[mlen] <= '9')))
		mlen++;
	for (size_t i = 0; i < NMETRICS; i++)
		if (strlen(metrics[i]) == mlen && !strncmp(metrics[i], p, mlen))
			m = (int)i;
	if (m < 0) {
		snprintf(why, whylen, "unknown metric \"%.*s\" (p50, p99, max, "
			 "actual_p99, lag_p99, arrival_lag_p99, time_to_chat_p99, "
			 "delivered_ratio, sent, lost, errors, msgs_per_s, "
			 "cpu_percent, ...)", (int)mlen, p);
		return -EINVAL;
	}
	if (m == (int)NMETRICS - 1)
		m = M_DELIVERED_RATIO; /* delivery_ratio is its alias */
	t->metric = m;
	p += mlen;
	if (p[0] == '<' && p[1] == '=') { t->op = OP_LE; p += 2; }
	else if (p[0] == '>' && p[1] == '=') { t->op = OP_GE; p += 2; }
	else if (p[0] == '=' && p[1] == '=') { t->op = OP_EQ; p += 2; }
	else if (p[0] == '<') { t->op = OP_LT; p++; }
	else if (p[0] == '>') { t->op = OP_GT; p++; }
	else {
		snprintf(why, whylen, "expected <, <=, >, >= or == after %s",
			 metrics[m]);
		return -EINVAL;
	}
	if (!*p || *p == ' ') {
		snprintf(why, whylen, "expected a number after the operator");
		return -EINVAL;
	}
	t->value = strtod(p, &end);
	if (end == p || !isfinite(t->value)) {
		snprintf(why, whylen, "\"%s\" is not a number", p);
		return -EINVAL;
	}
	if (m < NLATENCY) {
		if (!*end || !strcmp(end, "ms"))
			;
		else if (!strcmp(end, "s"))
			t->value *= 1000;
		else if (!strcmp(end, "us") || !strcmp(end, "µs"))
			t->value /= 1000;
		else {
			snprintf(why, whylen, "unit \"%s\": use us, ms or s", end);
			return -EINVAL;
		}
	} else if (*end) {
		snprintf(why, whylen, "%s takes a plain number, not \"%s\"",
			 metrics[m], end);
		return -EINVAL;
	}
	if (!isfinite(t->value)) {
		snprintf(why, whylen, "\"%s\" is out of range", p);
		return -EINVAL;
	}
	return 0;
}

/* see run.h */
int threshold_check(const struct threshold *t, double v)
{
	switch (t->op) {
	case OP_LT: return v < t->value;
	case OP_LE: return v <= t->value;
	case OP_GT: return v > t->value;
	case OP_GE: return v >= t->value;
	default: return v == t->value;
	}
}

/* What a metric stands on, when it needs samples: the latencies need
 * echoes, the lag and the ratio sends, the rates the run's time. */
static const char *needs(int m)
{
	if (m < M_ACTUAL)
		return "nothing delivered";
	if (m < M_LAG)
		return "no echo matched to its send";
	if (m < M_ARRIVAL_LAG || m == M_DELIVERED_RATIO)
		return "nothing sent";
	if (m < M_TIME_TO_CHAT)
		return "no participant arrived";
	if (m < M_REPLY)
		return "no participant found its chat";
	if (m < M_REJOIN)
		return "no reply received";
	if (m < M_NLATENCY)
		return "no reconnect back in its chat";
	if (m == M_MSGS_PER_S || m == M_CPU)
		return "no run time";
	return NULL;
}

/* see run.h */
void threshold_apply(struct threshold *t, double v, uint64_t samples)
{
	t->no_data = samples ? NULL : needs(t->metric);
	t->measured = v;
	t->passed = !t->no_data && threshold_check(t, v);
}

/* see run.h */
const char *threshold_metric(const struct threshold *t)
{
	return metrics[t->metric];
}
