/*
 * chatmap: chat ids (24 hex characters) to a number, for the organizers'
 * chats (--chat-lifetime, --chat-messages). Open addressing, doubled at
 * half full; entries are never removed (a run's chats are few enough, and
 * an ended chat's refusals still need its record). No I/O.
 */
#ifndef ESMELOAD_RUN_CHATMAP_H
#define ESMELOAD_RUN_CHATMAP_H

#include <stddef.h>
#include <stdint.h>

struct chatmap_ent {
	char id[24];
	uint32_t v;          /* UINT32_MAX: empty */
};

struct chatmap {
	struct chatmap_ent *e;
	uint32_t cap, n;     /* cap a power of two */
};

void chatmap_init(struct chatmap *m);
void chatmap_free(struct chatmap *m);
/* Map id (24 bytes) to v, replacing an earlier value. 0 or -ENOMEM. */
int chatmap_put(struct chatmap *m, const char *id, uint32_t v);
/* The value of id, or UINT32_MAX when it has none. */
uint32_t chatmap_get(const struct chatmap *m, const char *id);

#endif
