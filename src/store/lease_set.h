/*
 * lease_set.h: the leases one background worker holds, renewed lazily.
 *
 * A worker that owns many units of work (one per trail, one per rule
 * target) asks, before touching a unit, lease_set_hold(ls, name): the
 * answer says whether this node owns that unit now. The set remembers
 * when each lease was last confirmed and goes to the store (one write
 * job) only when that was ttl/3 ago or more, so a worker running every
 * second costs about one lease write per unit every few seconds.
 */
#ifndef GT_LEASE_SET_H
#define GT_LEASE_SET_H

#include <stdint.h>

#include "store/store.h"

typedef struct lease_set lease_set;

enum {
    LEASE_NOT_HELD = 0,   /* another node holds it (or the store failed) */
    LEASE_HELD = 1,       /* held, and was held at the previous call too */
    LEASE_HELD_NEW = 2,   /* just taken: state read before now may be stale */
};

/* A set for st with leases of ttl_ms (>= 3000 recommended). NULL: no memory. */
lease_set *lease_set_new(store *st, int64_t ttl_ms);
/* Whether this node holds lease `name` now (LEASE_*): acquires or renews
 * through the store when due. Never call from inside a store job. The
 * answer holds for at least 2/3 of the ttl after the call, provided the
 * caller asks again at least that often while working on the unit. */
int lease_set_hold(lease_set *ls, const char *name);
/* Give lease `name` up now (the unit is gone) if held. */
void lease_set_release(lease_set *ls, const char *name);
/* Release every lease held (clean stop) and forget them. */
void lease_set_release_all(lease_set *ls);
/* Release all, then free. NULL is a no-op. */
void lease_set_free(lease_set *ls);

#endif
