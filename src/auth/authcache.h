/* authcache.h: access key -> principal, and principal -> policy documents,
 * cached in memory so that a signed call does not read and parse them from
 * the store every time (auth/authcache.c explains when entries go stale).
 */
#ifndef GT_AUTH_AUTHCACHE_H
#define GT_AUTH_AUTHCACHE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "auth/identity.h"
#include "store/store.h"

/* How long an entry is trusted when nothing on this node changed IAM: the
 * delay with which a change made by another node (shared PostgreSQL
 * store) or another process reaches this node. */
#define AUTH_CACHE_TTL_MS 1000

/* The principal of an (active) access key of store s, cached: true and
 * *out filled, or false (not cached: read it from the store). */
bool auth_cache_get_key(const store *s, const char *access_key_id, auth_principal *out);
/* Remember p (an active key's principal) read from s under generation gen
 * (store_auth_generation() taken BEFORE the read). */
void auth_cache_put_key(const store *s, uint64_t gen, const auth_principal *p);

/* The policy documents (a JSON array; a new reference, read-only: shared
 * between threads) that apply to principal p of store s, or NULL. */
json_t *auth_cache_get_policies(const store *s, const auth_principal *p);
/* Remember docs (not stolen; must not be changed afterwards) for p, read
 * under generation gen (taken before the read). */
void auth_cache_put_policies(const store *s, uint64_t gen, const auth_principal *p, json_t *docs);

/* Drop every entry (tests). */
void auth_cache_clear(void);

#endif
