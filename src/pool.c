/*
 * pool: slab-backed fixed-size block allocator. See include/pool.h.
 */
#include "pool.h"

#include <errno.h>
#include <stdlib.h>

struct slab {
	struct slab *next;
	/* blocks follow, 16-byte aligned */
};

#define SLAB_HDR 16

/* see pool.h */
int pool_init(struct pool *p, size_t block_size, size_t per_slab,
	      size_t max_blocks)
{
	if (block_size == 0 || per_slab == 0)
		return -EINVAL;
	p->block_size = (block_size + 15) & ~(size_t)15;
	p->per_slab = per_slab;
	p->max_blocks = max_blocks;
	p->total = p->used = 0;
	p->free = NULL;
	p->slabs = NULL;
	return 0;
}

static int grow(struct pool *p)
{
	size_t n = p->per_slab;
	struct slab *s;
	char *b;

	if (p->max_blocks && p->total + n > p->max_blocks)
		n = p->max_blocks - p->total;
	if (n == 0)
		return -ENOBUFS;
	s = malloc(SLAB_HDR + n * p->block_size);
	if (!s)
		return -ENOMEM;
	s->next = p->slabs;
	p->slabs = s;
	b = (char *)s + SLAB_HDR;
	for (size_t i = 0; i < n; i++) {
		*(void **)(b + i * p->block_size) = p->free;
		p->free = b + i * p->block_size;
	}
	p->total += n;
	return 0;
}

/* see pool.h */
void *pool_get(struct pool *p)
{
	void *b;

	if (!p->free && grow(p) < 0)
		return NULL;
	b = p->free;
	p->free = *(void **)b;
	p->used++;
	return b;
}

/* see pool.h */
void pool_put(struct pool *p, void *block)
{
	*(void **)block = p->free;
	p->free = block;
	p->used--;
}

/* see pool.h */
void pool_destroy(struct pool *p)
{
	struct slab *s = p->slabs;

	while (s) {
		struct slab *next = s->next;

		free(s);
		s = next;
	}
	p->slabs = p->free = NULL;
	p->total = p->used = 0;
}
