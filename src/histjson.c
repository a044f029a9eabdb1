/*
 * histjson: histograms as JSON. See include/histjson.h.
 */
#include "histjson.h"

#include <errno.h>
#include <stdint.h>

/* see histjson.h */
void histjson_write(struct jw *w, const struct hist *h)
{
	jw_obj_begin(w);
	jw_kv_u64(w, "count", h->count);
	jw_kv_u64(w, "sum", h->sum);
	jw_key(w, "min");
	if (h->count)
		jw_u64(w, h->min);
	else
		jw_null(w);
	jw_key(w, "max");
	if (h->count)
		jw_u64(w, h->max);
	else
		jw_null(w);
	jw_key(w, "buckets");
	jw_arr_begin(w);
	for (unsigned i = 0; i < HIST_NBUCKETS; i++)
		if (h->buckets[i]) {
			jw_u64(w, i);
			jw_u64(w, h->buckets[i]);
		}
	jw_arr_end(w);
	jw_obj_end(w);
}

static int get_u64(const struct json_doc *d, int t, uint64_t *v)
{
	int64_t x;

	if (t < 0 || json_get_i64(d, t, &x) < 0 || x < 0)
		return -EINVAL;
	*v = (uint64_t)x;
	return 0;
}

/* see histjson.h */
int histjson_read(const struct json_doc *d, int tok, struct hist *h)
{
	uint64_t total = 0, prev = 0;
	int first = 1, t, b = -1, tc = -1, ts = -1, tmin = -1, tmax = -1;

	hist_reset(h);
	if (tok < 0 || json_type(d, tok) != JSMN_OBJECT)
		return -EINVAL;
	/* one pass over the keys: json_find would walk the buckets for each */
	t = tok + 1;
	for (int k = 0; k < d->tok[tok].size && t + 1 < d->ntok; k++) {
		if (json_str_eq(d, t, "count"))
			tc = t + 1;
		else if (json_str_eq(d, t, "sum"))
			ts = t + 1;
		else if (json_str_eq(d, t, "min"))
			tmin = t + 1;
		else if (json_str_eq(d, t, "max"))
			tmax = t + 1;
		else if (json_str_eq(d, t, "buckets"))
			b = t + 1;
		t = json_next(d, t + 1);
	}
	if (get_u64(d, tc, &h->count) < 0 || get_u64(d, ts, &h->sum) < 0 ||
	    b < 0 || json_type(d, b) != JSMN_ARRAY || d->tok[b].size % 2)
		return -EINVAL;
	t = b + 1;
	for (int k = 0; k < d->tok[b].size; k += 2) {
		int64_t i, c;

		/* the array holds numbers only: each is one token */
		if (json_type(d, t) != JSMN_PRIMITIVE ||
		    json_type(d, t + 1) != JSMN_PRIMITIVE ||
		    json_get_i64(d, t, &i) < 0 || i < 0 || i >= HIST_NBUCKETS ||
		    (!first && (uint64_t)i <= prev) ||
		    json_get_i64(d, t + 1, &c) < 0 || c <= 0)
			return -EINVAL;
		t += 2;
		h->buckets[i] = (uint64_t)c;
		total += (uint64_t)c;
		prev = (uint64_t)i;
		first = 0;
	}
	if (total != h->count)
		return -EINVAL;
	if (!h->count) {
		h->min = UINT64_MAX;
		h->max = 0;
		return 0;
	}
	if (get_u64(d, tmin, &h->min) < 0 || get_u64(d, tmax, &h->max) < 0 ||
	    h->min > h->max ||
	    hist_bucket(h->min) > hist_bucket(h->max) ||
	    !h->buckets[hist_bucket(h->min)] || !h->buckets[hist_bucket(h->max)])
		return -EINVAL;
	return 0;
}
