/*
 * jsonw: a JSON writer into a caller buffer, no I/O, no allocation.
 * Commas are inserted automatically; the first error (-ENOSPC, or -EINVAL
 * for nesting deeper than JW_MAX_DEPTH or a non-finite number) is latched and
 * every later call is a no-op, so a sequence of calls is checked once at the
 * end with jw_finish.
 */
#ifndef ESMELOAD_JSONW_H
#define ESMELOAD_JSONW_H

#include <stddef.h>
#include <stdint.h>

#define JW_MAX_DEPTH 32

struct jw {
	char *buf;
	size_t cap;
	size_t len;
	int err;          /* first error, 0 if none */
	unsigned depth;
	uint32_t first;   /* bit d set: no element written yet at depth d */
	int after_key;    /* a key was written, its value comes next */
};

void jw_init(struct jw *w, char *buf, size_t cap);

/* Returns w->len, or the latched negative error. */
long jw_finish(const struct jw *w);

void jw_obj_begin(struct jw *w);
void jw_obj_end(struct jw *w);
void jw_arr_begin(struct jw *w);
void jw_arr_end(struct jw *w);

/* An object key (NUL-terminated, escaped as needed). */
void jw_key(struct jw *w, const char *key);

/*
 * String values, escaped per RFC 8259 (", \, control characters; invalid
 * UTF-8 bytes become U+FFFD so the output is always valid JSON).
 */
void jw_str(struct jw *w, const char *s, size_t n);
void jw_cstr(struct jw *w, const char *s);

void jw_i64(struct jw *w, int64_t v);
void jw_u64(struct jw *w, uint64_t v);
/* Shortest text that reads back to the same double; non-finite -> -EINVAL. */
void jw_f64(struct jw *w, double v);
void jw_bool(struct jw *w, int v);
void jw_null(struct jw *w);
/* Already-encoded JSON text, inserted as one value. */
void jw_raw(struct jw *w, const char *s, size_t n);

/* A key and its value in one call. */
void jw_kv_u64(struct jw *w, const char *key, uint64_t v);
void jw_kv_i64(struct jw *w, const char *key, int64_t v);
void jw_kv_cstr(struct jw *w, const char *key, const char *s);

#endif
