/*
 * pool: fixed-size blocks carved from large slabs, with a free list.
 * Nothing is returned to the system until pool_destroy: memory use is the
 * high-water mark, bounded by max_blocks.
 */
#ifndef ESMELOAD_POOL_H
#define ESMELOAD_POOL_H

#include <stddef.h>

struct pool {
	size_t block_size;   /* rounded up to 16 */
	size_t per_slab;
	size_t max_blocks;   /* 0: unbounded */
	size_t total;        /* blocks carved so far */
	size_t used;         /* blocks handed out */
	void *free;          /* free list, linked through the blocks */
	void *slabs;         /* slab list, for pool_destroy */
};

/* Returns 0 or -EINVAL. Allocates nothing until the first pool_get. */
int pool_init(struct pool *p, size_t block_size, size_t per_slab,
	      size_t max_blocks);
/* A block, or NULL when max_blocks are in use or memory is exhausted. */
void *pool_get(struct pool *p);
void pool_put(struct pool *p, void *block);
void pool_destroy(struct pool *p);

#endif
