/*
 * histjson: a histogram (hist.h) as JSON and back, exactly, so that
 * histograms written by separate processes (the shards of one test) merge
 * into the one a single process would have built. No I/O.
 *
 * The form: {"count": N, "sum": S, "min": A, "max": B, "buckets": [i, c,
 * i, c, ...]}: the non-empty buckets (index, count) in ascending index
 * order; min and max are null for an empty histogram. Values are in
 * microseconds, as hist.h counts them.
 */
#ifndef ESMELOAD_HISTJSON_H
#define ESMELOAD_HISTJSON_H

#include "hist.h"
#include "json.h"
#include "jsonw.h"

/* Write h (quiescent) as one JSON object value. */
void histjson_write(struct jw *w, const struct hist *h);

/*
 * Read the object at token tok into h. Returns 0, or -EINVAL when it is
 * not that form: a field missing or of the wrong type, a bucket index out
 * of range or not ascending, counts that do not add up to count, min or
 * max outside the buckets' range.
 */
int histjson_read(const struct json_doc *d, int tok, struct hist *h);

#endif
