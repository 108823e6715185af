/* store.h: the durable store behind every handler.
 *
 * Handlers see documents (JSON text keyed by account/region/kind/id, with an
 * optional parent id and a stable insertion sequence) and the CloudTrail
 * event journal. No SQL leaves this interface, so a PostgreSQL backend can
 * sit behind the same calls.
 *
 * Writes happen only inside store_run(): the job runs on the single writer
 * thread, inside a transaction that many concurrent jobs share (group
 * commit). store_run() returns after that transaction is durable on disk.
 *
 * Two backends implement it (store.c picks one by URL): the embedded
 * SQLite file in the data dir (store_sqlite.c) and PostgreSQL
 * (store_pg.c), which several `greentrail serve` nodes can share.
 */
#ifndef GT_STORE_H
#define GT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/errors.h"

typedef struct store store;
typedef struct store_txn store_txn;

enum { STORE_OK = 0, STORE_NOTFOUND = 1, STORE_BUSY = 2, STORE_ERR = -1 };

/* Open (create) the store under data_dir, apply migrations, start the
 * writer. NULL on failure with a reason in err. */
store *store_open(const char *data_dir, char *err, size_t errcap);
/* Open the store named by url: NULL or "" is the embedded SQLite store
 * under data_dir (as store_open); "postgresql://..." or "postgres://..."
 * (any libpq connection URI) is PostgreSQL; the schema is created or
 * migrated on open. data_dir is still used (test fault marker). NULL on
 * failure with a reason in err (never containing a password). */
store *store_open_url(const char *url, const char *data_dir, char *err, size_t errcap);
/* "sqlite" or "postgresql". */
const char *store_backend_name(const store *s);
/* A random id for this open store (this node), 36 chars: the node id to
 * pass to the lease calls below. */
const char *store_node_id(const store *s);
/* Finish queued jobs, stop the writer, close. NULL is a no-op. */
void store_close(store *s);

/* A job: runs on the writer thread. Return GT_OK to keep its changes; any
 * other value rolls back everything the job did (its own savepoint). */
typedef gt_err (*store_job_fn)(store_txn *t, void *ud);
/* Run fn in the shared write transaction and wait until it is durable.
 * Returns fn's result, or GT_E_UNAVAILABLE when the commit failed (then
 * nothing of fn persisted). Thread-safe. */
gt_err store_run(store *s, store_job_fn fn, void *ud);
/* Run fn on a read-only connection (a consistent snapshot). Its t accepts
 * only the read calls below. Thread-safe. */
gt_err store_read(store *s, store_job_fn fn, void *ud);

/* A process-wide counter that moves after every write job (of any open
 * store) that wrote or deleted a document of kind "access_key" or "iam.*",
 * before that job's store_run returns, and when a store is opened or
 * closed. Caches of credentials and policies (auth/authcache.c) note it
 * when they read and drop what was read under an older value. Changes
 * made by another process or node sharing the store do not move it (those
 * caches bound their age for that). Lock-free; any thread. */
uint64_t store_auth_generation(void);

/* Nested savepoint inside a job, so a handler's failed changes can be
 * undone while the job still records its event. */
int store_sp_begin(store_txn *t);
int store_sp_rollback(store_txn *t);   /* undo to begin and release */
int store_sp_release(store_txn *t);    /* keep */

/* ---- documents ---- */
typedef struct store_key {
    const char *account;
    const char *region;
    const char *kind;
    const char *id;
} store_key;

/* *body_out is malloc'd (caller frees) when STORE_OK. */
int store_doc_get(store_txn *t, const store_key *k, char **body_out);
/* Insert, or replace the body of an existing key (its seq is kept). */
int store_doc_put(store_txn *t, const store_key *k, const char *parent, const char *body);
int store_doc_delete(store_txn *t, const store_key *k);
/* Delete every doc of kind whose parent is `parent`. */
int store_doc_delete_children(store_txn *t, const char *account, const char *region,
                              const char *kind, const char *parent);
/* Calls cb for docs of kind (and parent, unless NULL) in seq order
 * (ascending, or descending if desc), starting after `after_seq` (0: from
 * the start; for desc, 0 means from the end), at most `limit` (<=0: all).
 * cb returns non-zero to stop. */
typedef int (*store_doc_cb)(void *ud, int64_t seq, const char *id, const char *body);
int store_doc_list(store_txn *t, const char *account, const char *region, const char *kind,
                   const char *parent, int64_t after_seq, bool desc, int limit,
                   store_doc_cb cb, void *ud);

/* ---- CloudTrail event journal ---- */
typedef struct store_event {
    const char *account;
    const char *region;
    int64_t time_ms;
    const char *event_id;
    const char *event_name;
    const char *event_source;
    const char *username;        /* may be NULL */
    const char *access_key_id;   /* may be NULL */
    bool read_only;
    int n_res;
    const char *const *res_types;
    const char *const *res_names;
    const char *json;            /* the whole record */
    /* May be NULL: the LookupEvents summary of the record (compact JSON,
     * ct_lookup_summary), stored beside it so a lookup page need not parse
     * the records. Events stored without one are summarised from the
     * record when looked up. */
    const char *summary;
    /* May be NULL: json and summary already in the backend's stored form,
     * made by store_event_pack before the job (on the caller's thread, so
     * the writer thread need not); when NULL the append packs them. */
    const void *packed;
    size_t packed_len;
} store_event;

int store_event_append(store_txn *t, const store_event *ev, int64_t *seq_out);

/* Pack a record (and its summary, may be NULL) into the form the backend
 * stores, outside any job, from any thread: *out is a malloc'd buffer for
 * store_event.packed (the caller frees it after the append), or NULL when
 * the backend stores the text as it is (then pass nothing). Returns
 * STORE_OK, or STORE_ERR (out of memory: leave packed NULL, the append
 * packs it itself). */
int store_event_pack(store *s, const char *json, const char *summary, void **out, size_t *out_len);

typedef enum store_attr {
    STORE_ATTR_NONE = 0,
    STORE_ATTR_EVENT_ID,
    STORE_ATTR_EVENT_NAME,
    STORE_ATTR_READ_ONLY,
    STORE_ATTR_USERNAME,
    STORE_ATTR_RESOURCE_TYPE,
    STORE_ATTR_RESOURCE_NAME,
    STORE_ATTR_EVENT_SOURCE,
    STORE_ATTR_ACCESS_KEY_ID,
} store_attr;

typedef struct store_lookup {
    const char *account;
    const char *region;
    store_attr attr;
    const char *value;
    int64_t start_ms, end_ms;    /* inclusive */
    int64_t cur_time_ms;         /* cursor: strictly older than (time, seq) */
    int64_t cur_seq;             /* 0 = no cursor */
    int limit;
} store_lookup;

/* summary: the one given to store_event_append, or NULL (none stored). */
typedef int (*store_event_cb)(void *ud, int64_t seq, int64_t time_ms, const char *json,
                              const char *summary);
/* Newest first. */
int store_event_lookup(store_txn *t, const store_lookup *q, store_event_cb cb, void *ud);
/* Delete events older than cutoff; returns the count or STORE_ERR. */
int64_t store_event_prune(store_txn *t, int64_t cutoff_ms, int max_rows);
/* Events with seq > after_seq in seq order (all accounts and regions), at
 * most `limit`: the feed every background consumer (delivery, digests,
 * rules) reads with its own cursor. cb gets the account and region too.
 * Seqs increase but need not be dense. The scan never skips: once it has
 * returned seq N, no event with seq < N can appear later (on PostgreSQL
 * with several writers, events of still-open transactions hold the scan
 * back; see store_pg.c). */
typedef int (*store_scan_cb)(void *ud, int64_t seq, const char *account, const char *region,
                             int64_t time_ms, const char *json);
int store_event_scan(store_txn *t, int64_t after_seq, int limit, store_scan_cb cb, void *ud);
/* Highest seq stored (0 when none), under the same watermark as the scan:
 * a cursor started there misses nothing committed later. */
int64_t store_event_max_seq(store_txn *t);
/* In a write job: the seq the next event appended in this transaction will
 * get (a call's own record: the dispatcher appends it right after the
 * handler, in the same job). Seqs are not dense on PostgreSQL, so max + 1
 * is not it there. STORE_ERR (< 0) on failure. */
int64_t store_event_next_seq(store_txn *t);

/* Count of stored events (tests, metrics). */
int64_t store_event_count(store_txn *t);

/* ---- leases: one node at a time does a piece of background work ----
 *
 * A lease is a named row (holder, expiry). Background workers that must
 * run on one node only (trail delivery, rules, ...) call, every few
 * seconds:   if (store_lease_acquire(s, "trail-delivery",
 *                                    store_node_id(s), 15000) == STORE_OK)
 *                do_one_round();
 * Acquire takes a free or expired lease, or extends one the node already
 * holds; so a node that dies loses its leases after ttl_ms and another
 * node takes over on its next try. Expiry uses the database's clock on
 * PostgreSQL (nodes' clocks may differ) and the local clock on SQLite.
 * Each call runs as its own write job (store_run): never call these from
 * inside a job. ttl_ms must be in [1, 1 day]. */
/* STORE_OK: node_id holds the lease until now + ttl_ms. STORE_BUSY:
 * another node holds it, unexpired. STORE_ERR: store failure. */
int store_lease_acquire(store *s, const char *name, const char *node_id, int64_t ttl_ms);
/* Extend a lease node_id holds (even if expired, as long as nobody took
 * it). STORE_OK, STORE_BUSY (not held by node_id), STORE_ERR. */
int store_lease_renew(store *s, const char *name, const char *node_id, int64_t ttl_ms);
/* Give the lease up so another node can take it at once. STORE_OK,
 * STORE_BUSY (not held by node_id), STORE_ERR. */
int store_lease_release(store *s, const char *name, const char *node_id);

#endif
