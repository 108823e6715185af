/*
 * lease_set.c: the leases one background worker holds (see lease_set.h).
 *
 * What: a small table of (name, last confirmed) per worker. hold() answers
 * from the table while the last confirmation is younger than ttl/3 and
 * otherwise calls store_lease_acquire (which takes a free or expired lease
 * or extends our own). A failed or refused acquire drops the entry, so the
 * worker stops touching that unit at once.
 *
 * Why lazily: a worker may own hundreds of units and run every second; a
 * write job per unit per round would load the writer for nothing. With a
 * renewal every ttl/3, a lease confirmed at local time T is still ours
 * until at least T + ttl on the database clock, so the table's answer is
 * safe for 2/3 of the ttl: the caller re-asks before each piece of work.
 *
 * Invariants: times come from CLOCK_MONOTONIC (wall-clock jumps do not
 * stretch a claim); entries not asked about for a whole ttl are dropped
 * (the lease expired on its own); the table is capped (LEASE_SET_MAX) and,
 * when full, hold() answers LEASE_NOT_HELD rather than untracked claims.
 * Not thread-safe: one worker thread owns a set.
 */
#include "store/lease_set.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/gtutil.h"

#define LEASE_SET_MAX 4096
#define LEASE_NAME_CAP 600

typedef struct lease_ent {
    char name[LEASE_NAME_CAP];
    int64_t ok_ms;   /* monotonic time of the last successful acquire */
} lease_ent;

struct lease_set {
    store *st;
    int64_t ttl_ms;
    lease_ent *v;
    size_t n;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

lease_set *lease_set_new(store *st, int64_t ttl_ms)
{
    lease_set *ls = calloc(1, sizeof *ls);
    if (!ls)
        return NULL;
    ls->v = calloc(LEASE_SET_MAX, sizeof *ls->v);
    if (!ls->v) {
        free(ls);
        return NULL;
    }
    ls->st = st;
    ls->ttl_ms = ttl_ms < 300 ? 300 : ttl_ms;
    return ls;
}

static void drop(lease_set *ls, size_t i)
{
    ls->v[i] = ls->v[--ls->n];
}

int lease_set_hold(lease_set *ls, const char *name)
{
    if (!ls || !name || strlen(name) >= LEASE_NAME_CAP)
        return LEASE_NOT_HELD;
    int64_t now = mono_ms();
    for (size_t i = 0; i < ls->n;) {
        if (now - ls->v[i].ok_ms >= ls->ttl_ms)
            drop(ls, i);   /* expired on its own: no longer ours for sure */
        else
            i++;
    }
    lease_ent *e = NULL;
    for (size_t i = 0; i < ls->n; i++)
        if (strcmp(ls->v[i].name, name) == 0)
            e = &ls->v[i];
    if (e && now - e->ok_ms < ls->ttl_ms / 3)
        return LEASE_HELD;
    bool had = e != NULL;
    if (store_lease_acquire(ls->st, name, store_node_id(ls->st), ls->ttl_ms) != STORE_OK) {
        if (e)
            drop(ls, (size_t)(e - ls->v));
        return LEASE_NOT_HELD;
    }
    if (!e) {
        if (ls->n == LEASE_SET_MAX) {
            store_lease_release(ls->st, name, store_node_id(ls->st));
            return LEASE_NOT_HELD;
        }
        e = &ls->v[ls->n++];
        gt_strlcpy(e->name, name, sizeof e->name);
    }
    e->ok_ms = now;   /* the time before the call: conservative */
    return had ? LEASE_HELD : LEASE_HELD_NEW;
}

void lease_set_release(lease_set *ls, const char *name)
{
    if (!ls || !name)
        return;
    for (size_t i = 0; i < ls->n; i++) {
        if (strcmp(ls->v[i].name, name) == 0) {
            store_lease_release(ls->st, name, store_node_id(ls->st));
            drop(ls, i);
            return;
        }
    }
}

void lease_set_release_all(lease_set *ls)
{
    if (!ls)
        return;
    for (size_t i = 0; i < ls->n; i++)
        store_lease_release(ls->st, ls->v[i].name, store_node_id(ls->st));
    ls->n = 0;
}

void lease_set_free(lease_set *ls)
{
    if (!ls)
        return;
    lease_set_release_all(ls);
    free(ls->v);
    free(ls);
}
