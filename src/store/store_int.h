/* store_int.h: what a store backend provides (internal to src/store).
 *
 * store.c owns the public `store` and `store_txn` handles and forwards
 * every call of store.h through a backend's store_ops table. Backends see
 * only opaque pointers: `be` is a backend's store, `bt` a backend's
 * transaction handle. Only shared value types of store.h (store_key,
 * store_event, store_lookup, the callbacks) cross this boundary, so a
 * backend may be compiled with its own private names for store/store_txn
 * (see store_sqlite_be.c).
 */
#ifndef GT_STORE_INT_H
#define GT_STORE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* A job as a backend sees it: bt is the backend's transaction handle. */
typedef gt_err (*store_be_job)(void *bt, void *ud);

typedef enum store_lease_op {
    STORE_LEASE_ACQUIRE = 0,
    STORE_LEASE_RENEW,
    STORE_LEASE_RELEASE,
} store_lease_op;

typedef struct store_ops {
    const char *name;   /* "sqlite", "postgresql" */
    /* url is the --store value (NULL or "" for SQLite); data_dir is the
     * server's data directory (SQLite file, test fault marker). */
    void *(*open)(const char *url, const char *data_dir, char *err, size_t errcap);
    void (*close)(void *be);
    gt_err (*run)(void *be, store_be_job fn, void *ud);
    gt_err (*read)(void *be, store_be_job fn, void *ud);
    int (*sp_begin)(void *bt);
    int (*sp_rollback)(void *bt);
    int (*sp_release)(void *bt);
    int (*doc_get)(void *bt, const store_key *k, char **body_out);
    int (*doc_put)(void *bt, const store_key *k, const char *parent, const char *body);
    int (*doc_delete)(void *bt, const store_key *k);
    int (*doc_delete_children)(void *bt, const char *account, const char *region, const char *kind,
                               const char *parent);
    int (*doc_list)(void *bt, const char *account, const char *region, const char *kind,
                    const char *parent, int64_t after_seq, bool desc, int limit, store_doc_cb cb,
                    void *ud);
    int (*event_append)(void *bt, const store_event *ev, int64_t *seq_out);
    /* Optional (NULL: the backend stores the record text, nothing to pack):
     * store_event_pack, callable from any thread outside a job. */
    int (*event_pack)(const char *json, const char *summary, void **out, size_t *out_len);
    int (*event_lookup)(void *bt, const store_lookup *q, store_event_cb cb, void *ud);
    int64_t (*event_prune)(void *bt, int64_t cutoff_ms, int max_rows);
    int (*event_scan)(void *bt, int64_t after_seq, int limit, store_scan_cb cb, void *ud);
    int64_t (*event_max_seq)(void *bt);
    /* Optional (NULL: event_max_seq + 1, right for dense seqs): the seq the
     * next event_append in this write transaction gets. */
    int64_t (*event_next_seq)(void *bt);
    int64_t (*event_count)(void *bt);
    /* Optional (NULL: store.c keeps leases as documents of kind "lease",
     * which is atomic when the backend has one writer at a time). Runs
     * inside a write job. Returns STORE_OK, STORE_BUSY or STORE_ERR. */
    int (*lease)(void *bt, store_lease_op op, const char *name, const char *node_id, int64_t ttl_ms);
} store_ops;

extern const store_ops store_sqlite_ops;
extern const store_ops store_pg_ops;

#endif
