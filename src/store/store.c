/*
 * store.c: backend selection and the public store.h calls.
 *
 * What: store_open_url() picks a backend by URL (empty: the embedded
 * SQLite file in the data dir; postgresql:// or postgres://: PostgreSQL)
 * and every store.h call forwards to that backend's store_ops table
 * (store_int.h). It also implements the lease API on top of the backends.
 *
 * Why a table of function pointers: handlers, services and workers keep
 * calling store_doc_get(t, ...) and never know which database is behind
 * it; backends keep their own private handle types.
 *
 * Invariants:
 *  - A public store_txn exists only for the duration of one job: it is
 *    built on the stack of the trampoline that calls the user's job, and
 *    carries the backend's ops and its transaction handle.
 *  - Leases are changed only inside write jobs, so acquire is atomic: on
 *    SQLite one writer runs at a time (even across processes, BEGIN
 *    IMMEDIATE); PostgreSQL does it in one conditional upsert.
 */
#include "store/store.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"
#include "util/gtutil.h"

struct store {
    const store_ops *ops;
    void *be;
    char node_id[37];
};

struct store_txn {
    const store_ops *ops;
    void *bt;
    bool *auth_dirty;   /* set when the job writes a credentials/IAM document */
};

typedef struct tramp {
    const store_ops *ops;
    store_job_fn fn;
    void *ud;
    bool auth_dirty;
} tramp;

static gt_err tramp_job(void *bt, void *ud)
{
    tramp *tr = ud;
    store_txn t = {tr->ops, bt, &tr->auth_dirty};
    return tr->fn(&t, tr->ud);
}

/* store_auth_generation: starts at 1 so that 0 never matches. */
static _Atomic uint64_t auth_gen = 1;

uint64_t store_auth_generation(void)
{
    return atomic_load_explicit(&auth_gen, memory_order_acquire);
}

static void auth_gen_bump(void)
{
    atomic_fetch_add_explicit(&auth_gen, 1, memory_order_acq_rel);
}

/* Kinds whose documents decide who a key is and what it may do. */
static void note_kind(store_txn *t, const char *kind)
{
    if (kind && (strcmp(kind, "access_key") == 0 || strncmp(kind, "iam.", 4) == 0))
        *t->auth_dirty = true;
}

static bool is_pg_url(const char *url)
{
    return strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0;
}

store *store_open_url(const char *url, const char *data_dir, char *err, size_t errcap)
{
    const store_ops *ops;
    if (!url || !*url)
        ops = &store_sqlite_ops;
    else if (is_pg_url(url))
        ops = &store_pg_ops;
    else {
        snprintf(err, errcap, "--store: expected empty (SQLite in the data dir) or a postgresql:// URL");
        return NULL;
    }
    store *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    s->ops = ops;
    gt_uuid4(s->node_id);
    s->be = ops->open(url, data_dir, err, errcap);
    if (!s->be) {
        free(s);
        return NULL;
    }
    auth_gen_bump();   /* nothing cached for an earlier store at this address */
    return s;
}

store *store_open(const char *data_dir, char *err, size_t errcap)
{
    return store_open_url(NULL, data_dir, err, errcap);
}

const char *store_backend_name(const store *s)
{
    return s->ops->name;
}

const char *store_node_id(const store *s)
{
    return s->node_id;
}

void store_close(store *s)
{
    if (!s)
        return;
    s->ops->close(s->be);
    free(s);
    auth_gen_bump();
}

gt_err store_run(store *s, store_job_fn fn, void *ud)
{
    tramp tr = {s->ops, fn, ud, false};
    gt_err e = s->ops->run(s->be, tramp_job, &tr);
    /* after the commit, before the caller can answer (a rolled back job
     * moves it too: harmless) */
    if (tr.auth_dirty)
        auth_gen_bump();
    return e;
}

gt_err store_read(store *s, store_job_fn fn, void *ud)
{
    tramp tr = {s->ops, fn, ud, false};
    return s->ops->read(s->be, tramp_job, &tr);
}

int store_sp_begin(store_txn *t) { return t->ops->sp_begin(t->bt); }
int store_sp_rollback(store_txn *t) { return t->ops->sp_rollback(t->bt); }
int store_sp_release(store_txn *t) { return t->ops->sp_release(t->bt); }

int store_doc_get(store_txn *t, const store_key *k, char **body_out)
{
    return t->ops->doc_get(t->bt, k, body_out);
}

int store_doc_put(store_txn *t, const store_key *k, const char *parent, const char *body)
{
    note_kind(t, k->kind);
    return t->ops->doc_put(t->bt, k, parent, body);
}

int store_doc_delete(store_txn *t, const store_key *k)
{
    note_kind(t, k->kind);
    return t->ops->doc_delete(t->bt, k);
}

int store_doc_delete_children(store_txn *t, const char *account, const char *region,
                              const char *kind, const char *parent)
{
    note_kind(t, kind);
    return t->ops->doc_delete_children(t->bt, account, region, kind, parent);
}

int store_doc_list(store_txn *t, const char *account, const char *region, const char *kind,
                   const char *parent, int64_t after_seq, bool desc, int limit,
                   store_doc_cb cb, void *ud)
{
    return t->ops->doc_list(t->bt, account, region, kind, parent, after_seq, desc, limit, cb, ud);
}

int store_event_append(store_txn *t, const store_event *ev, int64_t *seq_out)
{
    return t->ops->event_append(t->bt, ev, seq_out);
}

int store_event_pack(store *s, const char *json, const char *summary, void **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (!s->ops->event_pack)
        return STORE_OK;
    return s->ops->event_pack(json, summary, out, out_len);
}

int store_event_lookup(store_txn *t, const store_lookup *q, store_event_cb cb, void *ud)
{
    return t->ops->event_lookup(t->bt, q, cb, ud);
}

int64_t store_event_prune(store_txn *t, int64_t cutoff_ms, int max_rows)
{
    return t->ops->event_prune(t->bt, cutoff_ms, max_rows);
}

int store_event_scan(store_txn *t, int64_t after_seq, int limit, store_scan_cb cb, void *ud)
{
    return t->ops->event_scan(t->bt, after_seq, limit, cb, ud);
}

int64_t store_event_max_seq(store_txn *t)
{
    return t->ops->event_max_seq(t->bt);
}

int64_t store_event_next_seq(store_txn *t)
{
    if (t->ops->event_next_seq)
        return t->ops->event_next_seq(t->bt);
    int64_t max = t->ops->event_max_seq(t->bt);
    return max < 0 ? max : max + 1;
}

int64_t store_event_count(store_txn *t)
{
    return t->ops->event_count(t->bt);
}

/* ---------------------------------------------------------------- leases */

typedef struct lease_ctx {
    store_lease_op op;
    const char *name;
    const char *node;
    int64_t ttl_ms;
    int rc;
} lease_ctx;

/* Leases as documents {"holder":..., "expires_ms":...} of kind "lease". */
static int lease_doc(store_txn *t, lease_ctx *l)
{
    store_key k = {"", "", "lease", l->name};
    char *body = NULL;
    int rc = store_doc_get(t, &k, &body);
    if (rc == STORE_ERR)
        return STORE_ERR;
    const char *holder = NULL;
    int64_t expires = 0;
    json_t *j = NULL;
    if (rc == STORE_OK) {
        j = json_loads(body, 0, NULL);
        free(body);
        holder = json_string_value(json_object_get(j, "holder"));
        expires = (int64_t)json_integer_value(json_object_get(j, "expires_ms"));
    }
    int64_t now = gt_now_ms();
    bool mine = holder && strcmp(holder, l->node) == 0;
    bool free_now = !holder || expires < now;
    int ret;
    if (l->op == STORE_LEASE_RELEASE) {
        ret = !mine ? STORE_BUSY : (store_doc_delete(t, &k) == STORE_ERR ? STORE_ERR : STORE_OK);
    } else if ((l->op == STORE_LEASE_ACQUIRE && (mine || free_now)) || (l->op == STORE_LEASE_RENEW && mine)) {
        json_t *nj = json_pack("{s:s, s:I}", "holder", l->node, "expires_ms", (json_int_t)(now + l->ttl_ms));
        char *text = nj ? json_dumps(nj, JSON_COMPACT) : NULL;
        json_decref(nj);
        ret = text && store_doc_put(t, &k, NULL, text) == STORE_OK ? STORE_OK : STORE_ERR;
        free(text);
    } else {
        ret = STORE_BUSY;
    }
    json_decref(j);
    return ret;
}

static gt_err lease_job(store_txn *t, void *ud)
{
    lease_ctx *l = ud;
    l->rc = t->ops->lease ? t->ops->lease(t->bt, l->op, l->name, l->node, l->ttl_ms) : lease_doc(t, l);
    return l->rc == STORE_ERR ? GT_E_UNAVAILABLE : GT_OK;
}

static int lease_call(store *s, store_lease_op op, const char *name, const char *node_id, int64_t ttl_ms)
{
    if (!name || !*name || !node_id || !*node_id ||
        (op != STORE_LEASE_RELEASE && (ttl_ms < 1 || ttl_ms > 86400000)))
        return STORE_ERR;
    lease_ctx l = {op, name, node_id, ttl_ms, STORE_ERR};
    if (store_run(s, lease_job, &l) != GT_OK)
        return STORE_ERR;
    return l.rc;
}

int store_lease_acquire(store *s, const char *name, const char *node_id, int64_t ttl_ms)
{
    return lease_call(s, STORE_LEASE_ACQUIRE, name, node_id, ttl_ms);
}

int store_lease_renew(store *s, const char *name, const char *node_id, int64_t ttl_ms)
{
    return lease_call(s, STORE_LEASE_RENEW, name, node_id, ttl_ms);
}

int store_lease_release(store *s, const char *name, const char *node_id)
{
    return lease_call(s, STORE_LEASE_RELEASE, name, node_id, 0);
}
