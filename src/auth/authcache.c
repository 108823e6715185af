/*
 * authcache.c: who an access key is, and which policies apply to a
 * principal, kept in memory between calls.
 *
 * Why: every signed call needs its key's principal (SigV4 secret, user)
 * and, for authorization, the principal's policy documents (the user's
 * inline and attached managed policies and its groups'). Reading them
 * meant a reader transaction, several document reads and JSON parses per
 * call: the largest part of a GetGroup's CPU time after the durable commit
 * (bench/RESULTS.md). They change rarely.
 *
 * When an entry goes stale, two rules:
 *  - On this node, exactly: store.c moves store_auth_generation() after
 *    every write job that touched a document of kind "access_key" or
 *    "iam.*", after its commit and before that job's caller can answer.
 *    An entry remembers the generation read BEFORE its store read, so an
 *    entry filled from a snapshot older than such a commit is never used
 *    once the change was answered: a call that starts after an IAM change
 *    was answered sees the change, as before.
 *  - Changes made elsewhere (another node on the same PostgreSQL store,
 *    `greentrail account create` on the same data dir) do not move this
 *    process's counter: there an entry is trusted for AUTH_CACHE_TTL_MS
 *    (1 s) at most. Checking a store-wide version on every call would cost
 *    a database round trip per call on PostgreSQL, the very thing the cache
 *    removes; AWS IAM itself is eventually consistent ("changes ... can take
 *    time to propagate", a few seconds), so a one-second propagation delay
 *    between nodes is within what clients already expect.
 *
 * Invariants: only active keys are cached (unknown or inactive ones are
 * read every time, as before); the cache never returns an entry of another
 * store (entries carry their store, and opening or closing a store moves
 * the generation); cached policy arrays are never modified after they are
 * put, so threads share them by reference (jansson's reference counts are
 * atomic); an entry's secret is wiped when it is replaced or cleared.
 */
#include "auth/authcache.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/gtutil.h"

#define SLOTS 128   /* direct-mapped, per table; a collision just replaces */

typedef struct key_slot {
    const store *s;
    uint64_t gen;
    int64_t at_ms;
    auth_principal p;   /* p.access_key_id is the key */
} key_slot;

typedef struct pol_slot {
    const store *s;
    uint64_t gen;
    int64_t at_ms;
    char id[512];
    json_t *docs;
} pol_slot;

static pthread_mutex_t key_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t pol_mu = PTHREAD_MUTEX_INITIALIZER;
static key_slot keys[SLOTS];
static pol_slot pols[SLOTS];

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static unsigned slot_of(const store *s, const char *id)
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)(uintptr_t)s;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return (unsigned)(h % SLOTS);
}

static bool fresh(const store *want, const store *s, uint64_t gen, int64_t at_ms)
{
    return s == want && gen == store_auth_generation() && mono_ms() - at_ms < AUTH_CACHE_TTL_MS;
}

bool auth_cache_get_key(const store *s, const char *access_key_id, auth_principal *out)
{
    key_slot *k = &keys[slot_of(s, access_key_id)];
    bool hit = false;
    pthread_mutex_lock(&key_mu);
    if (k->p.active && fresh(s, k->s, k->gen, k->at_ms) && strcmp(k->p.access_key_id, access_key_id) == 0) {
        *out = k->p;
        hit = true;
    }
    pthread_mutex_unlock(&key_mu);
    return hit;
}

void auth_cache_put_key(const store *s, uint64_t gen, const auth_principal *p)
{
    if (!p->active)
        return;
    key_slot *k = &keys[slot_of(s, p->access_key_id)];
    pthread_mutex_lock(&key_mu);
    k->s = s;
    k->gen = gen;
    k->at_ms = mono_ms();
    k->p = *p;
    pthread_mutex_unlock(&key_mu);
}

/* What decides a principal's policies (iam_policies_for): its type,
 * account and name, and its issuer's. false when it does not fit. */
static bool pol_id(const auth_principal *p, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s|%s|%s|%s|%s|%s", p->type, p->account_id, p->user_name, p->issuer.type,
                     p->issuer.account_id, p->issuer.user_name);
    return n > 0 && (size_t)n < cap;
}

json_t *auth_cache_get_policies(const store *s, const auth_principal *p)
{
    char id[sizeof pols[0].id];
    if (!pol_id(p, id, sizeof id))
        return NULL;
    pol_slot *e = &pols[slot_of(s, id)];
    json_t *docs = NULL;
    pthread_mutex_lock(&pol_mu);
    if (e->docs && fresh(s, e->s, e->gen, e->at_ms) && strcmp(e->id, id) == 0)
        docs = json_incref(e->docs);
    pthread_mutex_unlock(&pol_mu);
    return docs;
}

void auth_cache_put_policies(const store *s, uint64_t gen, const auth_principal *p, json_t *docs)
{
    char id[sizeof pols[0].id];
    if (!docs || !pol_id(p, id, sizeof id))
        return;
    pol_slot *e = &pols[slot_of(s, id)];
    pthread_mutex_lock(&pol_mu);
    json_t *old = e->docs;
    e->s = s;
    e->gen = gen;
    e->at_ms = mono_ms();
    gt_strlcpy(e->id, id, sizeof e->id);
    e->docs = json_incref(docs);
    pthread_mutex_unlock(&pol_mu);
    json_decref(old);
}

void auth_cache_clear(void)
{
    pthread_mutex_lock(&key_mu);
    OPENSSL_cleanse(keys, sizeof keys);
    pthread_mutex_unlock(&key_mu);
    pthread_mutex_lock(&pol_mu);
    for (int i = 0; i < SLOTS; i++) {
        json_decref(pols[i].docs);
        memset(&pols[i], 0, sizeof pols[i]);
    }
    pthread_mutex_unlock(&pol_mu);
}
