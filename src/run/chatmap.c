/*
 * chatmap: chat ids to numbers. See chatmap.h.
 */
#include "run/chatmap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define EMPTY UINT32_MAX

/* FNV-1a over the id's 24 bytes. */
static uint32_t hash(const char *id)
{
	uint32_t h = 2166136261u;

	for (int i = 0; i < 24; i++)
		h = (h ^ (uint8_t)id[i]) * 16777619u;
	return h;
}

/* see chatmap.h */
void chatmap_init(struct chatmap *m)
{
	memset(m, 0, sizeof(*m));
}

/* see chatmap.h */
void chatmap_free(struct chatmap *m)
{
	free(m->e);
	memset(m, 0, sizeof(*m));
}

/* The slot of id, or of the empty slot where it would go. */
static struct chatmap_ent *slot(const struct chatmap *m, const char *id)
{
	uint32_t i = hash(id) & (m->cap - 1);

	while (m->e[i].v != EMPTY && memcmp(m->e[i].id, id, 24))
		i = (i + 1) & (m->cap - 1);
	return &m->e[i];
}

static int grow(struct chatmap *m)
{
	uint32_t ncap = m->cap ? m->cap * 2 : 64;
	struct chatmap old = *m;

	if (ncap < m->cap)
		return -ENOMEM;
	m->e = malloc((size_t)ncap * sizeof(*m->e));
	if (!m->e) {
		*m = old;
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < ncap; i++)
		m->e[i].v = EMPTY;
	m->cap = ncap;
	for (uint32_t i = 0; i < old.cap; i++)
		if (old.e[i].v != EMPTY)
			*slot(m, old.e[i].id) = old.e[i];
	free(old.e);
	return 0;
}

/* see chatmap.h */
int chatmap_put(struct chatmap *m, const char *id, uint32_t v)
{
	struct chatmap_ent *s;

	if ((m->n + 1) * 2 > m->cap && grow(m) < 0)
		return -ENOMEM;
	s = slot(m, id);
	if (s->v == EMPTY)
		m->n++;
	memcpy(s->id, id, 24);
	s->v = v;
	return 0;
}

/* see chatmap.h */
uint32_t chatmap_get(const struct chatmap *m, const char *id)
{
	return m->cap ? slot(m, id)->v : EMPTY;
}
