/*
 * store_sqlite_be.c: the SQLite backend's store_ops table.
 *
 * What: compiles store_sqlite.c with its public store.h names renamed to
 * private ones (store_open -> sqlite_be_open, store -> sqlite_be, ...),
 * then wraps those in the store_ops table that store.c dispatches to.
 *
 * Why this way: store_sqlite.c stays a plain, self-contained
 * implementation of store.h that others keep improving in place; this file
 * is the only glue, and nothing in store_sqlite.c had to change for a
 * second backend. (If store_sqlite.c is ever edited for other reasons, its
 * functions can be renamed and made static directly, and this file
 * shrinks to the table.)
 *
 * Keep in step: a function added to store.h needs a rename line below (or
 * store_sqlite.c's definition would be exported under the public name with
 * the wrong handle type), a store_ops entry and a forwarder in store.c.
 *
 * Invariants: store_sqlite.c is compiled only here (not in meson's source
 * list); the system headers it uses are included before the renaming
 * macros, so only greentrail's own names are renamed; value types shared
 * with store.c (store_key, store_event, ...) keep their names.
 */
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/errors.h"
#include "util/gtutil.h"

#define store sqlite_be
#define store_txn sqlite_be_txn
#define store_job_fn sqlite_be_job_fn
#define store_open sqlite_be_open
#define store_close sqlite_be_close
#define store_run sqlite_be_run
#define store_read sqlite_be_read
#define store_sp_begin sqlite_be_sp_begin
#define store_sp_rollback sqlite_be_sp_rollback
#define store_sp_release sqlite_be_sp_release
#define store_doc_get sqlite_be_doc_get
#define store_doc_put sqlite_be_doc_put
#define store_doc_delete sqlite_be_doc_delete
#define store_doc_delete_children sqlite_be_doc_delete_children
#define store_doc_list sqlite_be_doc_list
#define store_event_append sqlite_be_event_append
#define store_event_pack sqlite_be_event_pack_unused
#define store_event_lookup sqlite_be_event_lookup
#define store_event_prune sqlite_be_event_prune
#define store_event_scan sqlite_be_event_scan
#define store_event_max_seq sqlite_be_event_max_seq
#define store_event_next_seq sqlite_be_event_next_seq
#define store_event_count sqlite_be_event_count
#define store_open_url sqlite_be_unused_open_url
#define store_backend_name sqlite_be_unused_backend_name
#define store_node_id sqlite_be_unused_node_id
#define store_lease_acquire sqlite_be_unused_lease_acquire
#define store_lease_renew sqlite_be_unused_lease_renew
#define store_lease_release sqlite_be_unused_lease_release

#include "store_sqlite.c"

#undef store
#undef store_txn
#undef store_job_fn

#include "store/store_int.h"

typedef struct sq_tramp {
    store_be_job fn;
    void *ud;
} sq_tramp;

static gt_err sq_job(sqlite_be_txn *t, void *ud)
{
    sq_tramp *x = ud;
    return x->fn(t, x->ud);
}

static void *sq_open(const char *url, const char *data_dir, char *err, size_t errcap)
{
    (void)url;
    return sqlite_be_open(data_dir, err, errcap);
}

static void sq_close(void *be) { sqlite_be_close(be); }

static gt_err sq_run(void *be, store_be_job fn, void *ud)
{
    sq_tramp x = {fn, ud};
    return sqlite_be_run(be, sq_job, &x);
}

static gt_err sq_read(void *be, store_be_job fn, void *ud)
{
    sq_tramp x = {fn, ud};
    return sqlite_be_read(be, sq_job, &x);
}

static int sq_sp_begin(void *bt) { return sqlite_be_sp_begin(bt); }
static int sq_sp_rollback(void *bt) { return sqlite_be_sp_rollback(bt); }
static int sq_sp_release(void *bt) { return sqlite_be_sp_release(bt); }

static int sq_doc_get(void *bt, const store_key *k, char **body_out)
{
    return sqlite_be_doc_get(bt, k, body_out);
}

static int sq_doc_put(void *bt, const store_key *k, const char *parent, const char *body)
{
    return sqlite_be_doc_put(bt, k, parent, body);
}

static int sq_doc_delete(void *bt, const store_key *k) { return sqlite_be_doc_delete(bt, k); }

static int sq_doc_delete_children(void *bt, const char *account, const char *region, const char *kind,
                                  const char *parent)
{
    return sqlite_be_doc_delete_children(bt, account, region, kind, parent);
}

static int sq_doc_list(void *bt, const char *account, const char *region, const char *kind,
                       const char *parent, int64_t after_seq, bool desc, int limit, store_doc_cb cb,
                       void *ud)
{
    return sqlite_be_doc_list(bt, account, region, kind, parent, after_seq, desc, limit, cb, ud);
}

static int sq_event_append(void *bt, const store_event *ev, int64_t *seq_out)
{
    return sqlite_be_event_append(bt, ev, seq_out);
}

static int sq_event_lookup(void *bt, const store_lookup *q, store_event_cb cb, void *ud)
{
    return sqlite_be_event_lookup(bt, q, cb, ud);
}

static int64_t sq_event_prune(void *bt, int64_t cutoff_ms, int max_rows)
{
    return sqlite_be_event_prune(bt, cutoff_ms, max_rows);
}

static int sq_event_scan(void *bt, int64_t after_seq, int limit, store_scan_cb cb, void *ud)
{
    return sqlite_be_event_scan(bt, after_seq, limit, cb, ud);
}

static int64_t sq_event_max_seq(void *bt) { return sqlite_be_event_max_seq(bt); }
static int64_t sq_event_next_seq(void *bt) { return sqlite_be_event_next_seq(bt); }
static int64_t sq_event_count(void *bt) { return sqlite_be_event_count(bt); }

const store_ops store_sqlite_ops = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .run = sq_run,
    .read = sq_read,
    .sp_begin = sq_sp_begin,
    .sp_rollback = sq_sp_rollback,
    .sp_release = sq_sp_release,
    .doc_get = sq_doc_get,
    .doc_put = sq_doc_put,
    .doc_delete = sq_doc_delete,
    .doc_delete_children = sq_doc_delete_children,
    .doc_list = sq_doc_list,
    .event_append = sq_event_append,
    .event_pack = pack_record,   /* store_sqlite.c: takes no store */
    .event_lookup = sq_event_lookup,
    .event_prune = sq_event_prune,
    .event_scan = sq_event_scan,
    .event_max_seq = sq_event_max_seq,
    .event_next_seq = sq_event_next_seq,
    .event_count = sq_event_count,
    .lease = NULL,
};
