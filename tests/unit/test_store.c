/* Unit tests: the store behind store.h: documents, savepoints, the event
 * journal with its lookup cursor, pruning, scan, group commit under
 * concurrent writers, reopening (migrations are idempotent) and leases.
 *
 * Every test runs on the embedded SQLite store, and again on PostgreSQL
 * when GREENTRAIL_TEST_STORE holds a cluster's base URL
 * (postgresql://user@host:port, as tools/pg-test-cluster prints): each
 * test then gets a fresh database. PostgreSQL-only tests cover the scan's
 * commit-order watermark and retention by dropping month partitions. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sqlite3.h>
#include <time.h>
#include <zlib.h>

#include "store/lease_set.h"
#include "store/store.h"

static char dir[256];
static const char *pg_base;   /* NULL: this run is SQLite */
static char url[600];         /* "" for SQLite, else base/dbname */
static char dbname[64];

/* Run sql on database db of the PostgreSQL cluster; returns the first
 * value of the result (static buffer) or NULL on error. */
static const char *pg_admin(const char *db, const char *sql)
{
    static char out[256];
    char u[600];
    snprintf(u, sizeof u, "%s/%s", pg_base, db);
    PGconn *c = PQconnectdb(u);
    const char *ret = NULL;
    if (PQstatus(c) == CONNECTION_OK) {
        PGresult *r = PQexec(c, sql);
        ExecStatusType s = PQresultStatus(r);
        if (s == PGRES_TUPLES_OK && PQntuples(r) > 0) {
            snprintf(out, sizeof out, "%s", PQgetvalue(r, 0, 0));
            ret = out;
        } else if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) {
            out[0] = '\0';
            ret = out;
        } else {
            fprintf(stderr, "pg_admin: %s: %s", sql, PQerrorMessage(c));
        }
        PQclear(r);
    }
    PQfinish(c);
    return ret;
}

static store *open_s(void)
{
    char err[256];
    store *s = store_open_url(url, dir, err, sizeof err);
    if (!s)
        fprintf(stderr, "store_open_url: %s\n", err);
    return s;
}

static int setup(void **st)
{
    (void)st;
    snprintf(dir, sizeof dir, "/tmp/gt-store-test-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    url[0] = '\0';
    if (pg_base) {
        /* one database for the run, emptied before each test (creating a
         * database per test costs seconds) */
        if (!dbname[0]) {
            char sql[128];
            snprintf(dbname, sizeof dbname, "gt_unit_%d", (int)getpid());
            snprintf(sql, sizeof sql, "CREATE DATABASE %s", dbname);
            if (!pg_admin("postgres", sql))
                return -1;
        } else if (!pg_admin(dbname, "TRUNCATE docs, events, event_resources, leases")) {
            return -1;
        }
        snprintf(url, sizeof url, "%s/%s", pg_base, dbname);
    }
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void drop_pg_db(void)
{
    char sql[128];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", dbname);
    pg_admin("postgres", sql);
}

typedef struct docs_ctx {
    int step;
} docs_ctx;

static int count_cb(void *ud, int64_t seq, const char *id, const char *body)
{
    (void)seq; (void)id; (void)body;
    (*(int *)ud)++;
    return 0;
}

static gt_err docs_job(store_txn *t, void *ud)
{
    (void)ud;
    store_key k = {"111111111111", "us-east-1", "thing", "a"};
    char *body = NULL;
    assert_int_equal(store_doc_get(t, &k, &body), STORE_NOTFOUND);
    assert_int_equal(store_doc_put(t, &k, NULL, "{\"v\":1}"), STORE_OK);
    assert_int_equal(store_doc_put(t, &k, NULL, "{\"v\":2}"), STORE_OK);   /* replace */
    assert_int_equal(store_doc_get(t, &k, &body), STORE_OK);
    assert_string_equal(body, "{\"v\":2}");
    free(body);
    /* a savepoint rolled back leaves no trace */
    store_key k2 = {"111111111111", "us-east-1", "thing", "b"};
    assert_int_equal(store_sp_begin(t), STORE_OK);
    assert_int_equal(store_doc_put(t, &k2, "a", "{}"), STORE_OK);
    assert_int_equal(store_sp_rollback(t), STORE_OK);
    assert_int_equal(store_doc_get(t, &k2, &body), STORE_NOTFOUND);
    /* children */
    for (int i = 0; i < 3; i++) {
        char id[8];
        snprintf(id, sizeof id, "c%d", i);
        store_key kc = {"111111111111", "us-east-1", "child", id};
        assert_int_equal(store_doc_put(t, &kc, "a", "{}"), STORE_OK);
    }
    int n = 0;
    assert_int_equal(store_doc_list(t, "111111111111", "us-east-1", "child", "a", 0, false, 0, count_cb, &n), STORE_OK);
    assert_int_equal(n, 3);
    n = 0;   /* another account sees nothing */
    assert_int_equal(store_doc_list(t, "222222222222", "us-east-1", "child", NULL, 0, false, 0, count_cb, &n), STORE_OK);
    assert_int_equal(n, 0);
    assert_int_equal(store_doc_delete_children(t, "111111111111", "us-east-1", "child", "a"), STORE_OK);
    n = 0;
    assert_int_equal(store_doc_list(t, "111111111111", "us-east-1", "child", "a", 0, false, 0, count_cb, &n), STORE_OK);
    assert_int_equal(n, 0);
    assert_int_equal(store_doc_delete(t, &k), STORE_OK);
    assert_int_equal(store_doc_delete(t, &k), STORE_NOTFOUND);
    return GT_OK;
}

static gt_err failing_job(store_txn *t, void *ud)
{
    (void)ud;
    store_key k = {"1", "r", "x", "must-not-exist"};
    assert_int_equal(store_doc_put(t, &k, NULL, "{}"), STORE_OK);
    return GT_E_GG_BAD_REQUEST;   /* any error rolls the whole job back */
}

static gt_err absent_job(store_txn *t, void *ud)
{
    (void)ud;
    char *b = NULL;
    store_key k = {"1", "r", "x", "must-not-exist"};
    return store_doc_get(t, &k, &b) == STORE_NOTFOUND ? GT_OK : GT_E_INTERNAL;
}

static void test_docs_and_rollback(void **st)
{
    (void)st;
    store *s = open_s();
    assert_non_null(s);
    assert_int_equal(store_run(s, docs_job, NULL), GT_OK);
    assert_int_equal(store_run(s, failing_job, NULL), GT_E_GG_BAD_REQUEST);
    assert_int_equal(store_run(s, absent_job, NULL), GT_OK);
    assert_int_equal(store_read(s, absent_job, NULL), GT_OK);
    store_close(s);
}

/* events: 30 events over 3 seconds, lookups newest first with a cursor */
static gt_err append_job(store_txn *t, void *ud)
{
    (void)ud;
    for (int i = 0; i < 30; i++) {
        char id[16], json[64];
        snprintf(id, sizeof id, "e%02d", i);
        snprintf(json, sizeof json, "{\"eventID\":\"%s\"}", id);
        const char *types[] = {"AWS::Greengrass::Group"};
        const char *names[] = {i % 2 ? "arn:odd" : "arn:even"};
        store_event ev = {
            .account = "111111111111", .region = "us-east-1", .time_ms = 1000000 + (i / 10) * 1000,
            .event_id = id, .event_name = i % 3 ? "GetGroup" : "CreateGroup",
            .event_source = "greengrass.amazonaws.com", .username = "admin",
            .access_key_id = "AKIA", .read_only = i % 3 != 0, .n_res = 1,
            .res_types = types, .res_names = names, .json = json,
        };
        int64_t seq;
        assert_int_equal(store_event_append(t, &ev, &seq), STORE_OK);
        assert_true(seq > 0);
    }
    return GT_OK;
}

typedef struct page {
    int n;
    int64_t last_time, last_seq;
} page;

static int page_cb(void *ud, int64_t seq, int64_t time_ms, const char *json, const char *summary)
{
    page *p = ud;
    assert_true(p->n == 0 || time_ms < p->last_time || (time_ms == p->last_time && seq < p->last_seq));
    assert_non_null(strstr(json, "\"eventID\""));
    p->n++;
    p->last_time = time_ms;
    p->last_seq = seq;
    return 0;
}

typedef struct lookup_ctx {
    store_lookup q;
    page *p;
} lookup_ctx;

static gt_err lookup_job(store_txn *t, void *ud)
{
    lookup_ctx *l = ud;
    return store_event_lookup(t, &l->q, page_cb, l->p) == STORE_OK ? GT_OK : GT_E_INTERNAL;
}

static int total(store *s, store_attr attr, const char *value)
{
    int n = 0;
    store_lookup q = {.account = "111111111111", .region = "us-east-1", .attr = attr, .value = value,
                      .start_ms = 0, .end_ms = 9999999, .limit = 7};
    for (;;) {
        page p = {0};
        lookup_ctx l = {q, &p};
        assert_int_equal(store_read(s, lookup_job, &l), GT_OK);
        n += p.n;
        if (p.n < 7)
            return n;
        q.cur_time_ms = p.last_time;
        q.cur_seq = p.last_seq;
    }
}

/* A consumer of store_event_scan with its cursor. */
typedef struct scan_ctx {
    int64_t after;
    int limit;
    int n;
    int64_t seqs[64];
} scan_ctx;

static int scan_cb(void *ud, int64_t seq, const char *account, const char *region, int64_t time_ms,
                   const char *json)
{
    (void)account; (void)region; (void)time_ms; (void)json;
    scan_ctx *c = ud;
    assert_true(seq > c->after);
    assert_true(c->n == 0 || seq > c->seqs[c->n - 1]);
    if (c->n < 64)
        c->seqs[c->n] = seq;
    c->n++;
    return 0;
}

static gt_err scan_job(store_txn *t, void *ud)
{
    scan_ctx *c = ud;
    return store_event_scan(t, c->after, c->limit, scan_cb, ud) == STORE_OK ? GT_OK : GT_E_INTERNAL;
}

static gt_err prune_job(store_txn *t, void *ud)
{
    *(int64_t *)ud = store_event_prune(t, 1001000, 1000);
    return GT_OK;
}

/* io[0]: the cutoff in; io[1]: the count pruned out */
static gt_err prune_job_at(store_txn *t, void *ud)
{
    int64_t *io = ud;
    io[1] = store_event_prune(t, io[0], 1000);
    return io[1] >= 0 ? GT_OK : GT_E_INTERNAL;
}

static void test_events(void **st)
{
    (void)st;
    store *s = open_s();
    assert_non_null(s);
    assert_int_equal(store_run(s, append_job, NULL), GT_OK);
    assert_int_equal(total(s, STORE_ATTR_NONE, NULL), 30);
    assert_int_equal(total(s, STORE_ATTR_EVENT_NAME, "CreateGroup"), 10);
    assert_int_equal(total(s, STORE_ATTR_READ_ONLY, "true"), 20);
    assert_int_equal(total(s, STORE_ATTR_RESOURCE_NAME, "arn:odd"), 15);
    assert_int_equal(total(s, STORE_ATTR_RESOURCE_TYPE, "AWS::Greengrass::Group"), 30);
    assert_int_equal(total(s, STORE_ATTR_USERNAME, "nobody"), 0);
    scan_ctx all = {.after = 0, .limit = 100};
    assert_int_equal(store_read(s, scan_job, &all), GT_OK);
    assert_int_equal(all.n, 30);
    scan_ctx rest = {.after = all.seqs[9], .limit = 100};   /* after the 10th event */
    assert_int_equal(store_read(s, scan_job, &rest), GT_OK);
    assert_int_equal(rest.n, 20);
    assert_true(rest.seqs[0] == all.seqs[10]);
    int64_t pruned = 0;
    assert_int_equal(store_run(s, prune_job, &pruned), GT_OK);
    assert_int_equal(pruned, 10);   /* the first second's events */
    assert_int_equal(total(s, STORE_ATTR_NONE, NULL), 20);
    assert_int_equal(total(s, STORE_ATTR_RESOURCE_TYPE, "AWS::Greengrass::Group"), 20);
    store_close(s);
    /* reopen: migrations already applied, data still there */
    s = open_s();
    assert_non_null(s);
    assert_int_equal(total(s, STORE_ATTR_NONE, NULL), 20);
    store_close(s);
}

/* group commit: many threads, every job durable and counted once */
static store *gs;

static gt_err one_doc(store_txn *t, void *ud)
{
    char id[32];
    snprintf(id, sizeof id, "%ld", (long)(intptr_t)ud);
    store_key k = {"1", "r", "gc", id};
    return store_doc_put(t, &k, NULL, "{}") == STORE_OK ? GT_OK : GT_E_UNAVAILABLE;
}

static void *writer(void *arg)
{
    intptr_t base = (intptr_t)arg;
    for (intptr_t i = 0; i < 50; i++)
        if (store_run(gs, one_doc, (void *)(base * 1000 + i)) != GT_OK)
            return (void *)1;
    return NULL;
}

static gt_err count_gc(store_txn *t, void *ud)
{
    return store_doc_list(t, "1", "r", "gc", NULL, 0, false, 0, count_cb, ud) == STORE_OK ? GT_OK : GT_E_INTERNAL;
}

static void test_group_commit(void **st)
{
    (void)st;
    gs = open_s();
    assert_non_null(gs);
    pthread_t th[8];
    for (intptr_t i = 0; i < 8; i++)
        pthread_create(&th[i], NULL, writer, (void *)i);
    for (int i = 0; i < 8; i++) {
        void *r;
        pthread_join(th[i], &r);
        assert_null(r);
    }
    int n = 0;
    assert_int_equal(store_read(gs, count_gc, &n), GT_OK);
    assert_int_equal(n, 400);
    store_close(gs);
}

static void test_bad_dir(void **st)
{
    (void)st;
    char err[256] = "";
    assert_null(store_open("/proc/definitely/not/here", err, sizeof err));
    assert_true(strlen(err) > 0);
}

/* leases: two nodes (two open stores on one database) */
static void test_leases(void **st)
{
    (void)st;
    store *a = open_s(), *b = open_s();
    assert_non_null(a);
    assert_non_null(b);
    const char *na = store_node_id(a), *nb = store_node_id(b);
    assert_int_equal(strlen(na), 36);
    assert_string_not_equal(na, nb);
    /* TTLs are long wherever a lease must still be held when checked (a
     * loaded machine may take long between two calls) */
    assert_int_equal(store_lease_acquire(a, "work", na, 60000), STORE_OK);
    assert_int_equal(store_lease_acquire(a, "work", na, 60000), STORE_OK);   /* extends its own */
    assert_int_equal(store_lease_acquire(b, "work", nb, 60000), STORE_BUSY);
    assert_int_equal(store_lease_acquire(b, "other", nb, 60000), STORE_OK);  /* names are separate */
    assert_int_equal(store_lease_renew(b, "work", nb, 60000), STORE_BUSY);
    assert_int_equal(store_lease_release(b, "work", nb), STORE_BUSY);
    assert_int_equal(store_lease_acquire(a, "work", "", 600), STORE_ERR);
    assert_int_equal(store_lease_acquire(a, "work", na, 0), STORE_ERR);
    /* a renews for 300 ms only, then dies (stops renewing): b takes over */
    assert_int_equal(store_lease_renew(a, "work", na, 300), STORE_OK);
    usleep(800 * 1000);
    assert_int_equal(store_lease_acquire(b, "work", nb, 60000), STORE_OK);
    assert_int_equal(store_lease_renew(a, "work", na, 60000), STORE_BUSY);
    assert_int_equal(store_lease_acquire(a, "work", na, 60000), STORE_BUSY);
    /* release hands it over at once */
    assert_int_equal(store_lease_release(b, "work", nb), STORE_OK);
    assert_int_equal(store_lease_acquire(a, "work", na, 60000), STORE_OK);
    store_close(a);
    store_close(b);
}

/* ---- PostgreSQL only ---- */

/* A write job that appends one event and then, if asked, waits (with its
 * transaction open) until released. */
typedef struct hold_ctx {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool appended, release, hold;
    const char *id;
    int64_t seq;
    store *s;
} hold_ctx;

/* store_event_next_seq is the seq the next append in the same job gets
 * (on PostgreSQL seqs are not dense, so max + 1 is wrong there). */
static gt_err next_seq_job(store_txn *t, void *ud)
{
    int64_t *out = ud;
    out[0] = store_event_next_seq(t);
    store_event ev = {
        .account = "111111111111", .region = "us-east-1", .time_ms = 1000000, .event_id = "nx",
        .event_name = "StopLogging", .event_source = "cloudtrail.amazonaws.com", .json = "{}",
    };
    return store_event_append(t, &ev, &out[1]) == STORE_OK ? GT_OK : GT_E_UNAVAILABLE;
}

static void test_event_next_seq(void **st)
{
    (void)st;
    store *s = open_s();
    assert_non_null(s);
    assert_int_equal(store_run(s, append_job, NULL), GT_OK);
    for (int i = 0; i < 2; i++) {
        int64_t got[2] = {0, 0};
        assert_int_equal(store_run(s, next_seq_job, got), GT_OK);
        assert_true(got[0] > 0);
        assert_true(got[0] == got[1]);
    }
    store_close(s);
}

/* A record that does not compress (pseudo-random non-ASCII text: 9 bits
 * a byte in fixed Huffman codes, more than compressBound allows) and a
 * large one are stored and read back byte for byte, by lookup and scan. */
static char *big_rec;

/* ud: NULL, or a record packed beforehand by store_event_pack (the read
 * path's way: compressed on the HTTP thread) with BIG_SUMMARY. */
typedef struct big_packed {
    void *p;
    size_t n;
} big_packed;
#define BIG_SUMMARY "{\"EventId\":\"big\"}"

static gt_err big_append_job(store_txn *t, void *ud)
{
    big_packed *bp = ud;
    store_event ev = {
        .account = "111111111111", .region = "us-east-1", .time_ms = 5000000, .event_id = "big",
        .event_name = "Big", .event_source = "x.amazonaws.com", .read_only = true, .json = big_rec,
        .summary = bp ? BIG_SUMMARY : NULL, .packed = bp ? bp->p : NULL, .packed_len = bp ? bp->n : 0,
    };
    return store_event_append(t, &ev, NULL) == STORE_OK ? GT_OK : GT_E_INTERNAL;
}

static int big_cb(void *ud, int64_t seq, int64_t time_ms, const char *json, const char *summary)
{
    (void)seq; (void)time_ms;
    if (strlen(json) != strlen(big_rec))
        return 0;   /* the other one */
    (*(int *)ud)++;
    assert_string_equal(json, big_rec);
    if (summary)
        assert_string_equal(summary, BIG_SUMMARY);
    return 0;
}

static int big_scan_cb(void *ud, int64_t seq, const char *account, const char *region, int64_t time_ms,
                       const char *json)
{
    (void)seq; (void)account; (void)region; (void)time_ms;
    if (strlen(json) != strlen(big_rec))
        return 0;
    (*(int *)ud)++;
    assert_string_equal(json, big_rec);
    return 0;
}

static gt_err big_read_job(store_txn *t, void *ud)
{
    store_lookup q = {.account = "111111111111", .region = "us-east-1", .attr = STORE_ATTR_EVENT_NAME,
                      .value = "Big", .start_ms = 0, .end_ms = 9999999, .limit = 5};
    int *n = ud;
    if (store_event_lookup(t, &q, big_cb, &n[0]) != STORE_OK)
        return GT_E_INTERNAL;
    return store_event_scan(t, 0, 0, big_scan_cb, &n[1]) == STORE_OK ? GT_OK : GT_E_INTERNAL;
}

static void test_event_records_roundtrip(void **st)
{
    (void)st;
    store *s = open_s();
    assert_non_null(s);
    size_t sizes[] = {9000, 300000};
    unsigned x = 12345;
    for (int k = 0; k < 2; k++) {
        size_t n = sizes[k];
        big_rec = malloc(n + 1);
        assert_non_null(big_rec);
        size_t i = 0;
        memcpy(big_rec, "{\"eventID\":\"", 12);
        i = 12;
        while (i + 4 < n) {
            x = x * 1103515245u + 12345u;
            big_rec[i++] = (char)(0xC2 + (x >> 16) % 30);      /* a 2-byte UTF-8 character */
            big_rec[i++] = (char)(0x80 + (x >> 8) % 64);
        }
        memcpy(big_rec + i, "\"}", 3);
        assert_int_equal(store_run(s, big_append_job, NULL), GT_OK);
        big_packed bp = {NULL, 0};   /* SQLite packs; PostgreSQL stores text (NULL) */
        assert_int_equal(store_event_pack(s, big_rec, BIG_SUMMARY, &bp.p, &bp.n), STORE_OK);
        if (strcmp(store_backend_name(s), "sqlite") == 0)
            assert_non_null(bp.p);
        assert_int_equal(store_run(s, big_append_job, &bp), GT_OK);
        free(bp.p);
        int got[2] = {0, 0};
        assert_int_equal(store_read(s, big_read_job, got), GT_OK);
        assert_int_equal(got[0], 2);
        assert_int_equal(got[1], 2);
        free(big_rec);
        big_rec = NULL;
    }
    store_close(s);
}

/* ---- schema migration: a store written by schema 1 opens and works ----
 *
 * SQLite: the data dir is built here from schema 1's SQL (a copy, as the
 * binary of that time made it: records as TEXT, no summary column), with
 * a delivery cursor document. PostgreSQL: a fresh store is taken back to
 * schema 1 (the column dropped, the version set). Then store_open
 * migrates it; the old events are found by every lookup path with their
 * record and no summary, the scan from the cursor still returns what
 * follows it, and new events carry their summary. */
static const char v1_sql[] =
    "CREATE TABLE docs (seq INTEGER PRIMARY KEY AUTOINCREMENT, account TEXT NOT NULL, region TEXT NOT NULL,"
    " kind TEXT NOT NULL, id TEXT NOT NULL, parent TEXT, body TEXT NOT NULL, UNIQUE (account, region, kind, id));"
    "CREATE INDEX docs_parent ON docs (account, region, kind, parent, seq);"
    "CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, account TEXT NOT NULL, region TEXT NOT NULL,"
    " time_ms INTEGER NOT NULL, event_id TEXT NOT NULL, event_name TEXT NOT NULL, event_source TEXT NOT NULL,"
    " username TEXT, access_key_id TEXT, read_only INTEGER NOT NULL, json TEXT NOT NULL);"
    "CREATE INDEX ev_time ON events (account, region, time_ms, seq);"
    "CREATE INDEX ev_id ON events (account, region, event_id, time_ms, seq);"
    "CREATE INDEX ev_name ON events (account, region, event_name, time_ms, seq);"
    "CREATE INDEX ev_user ON events (account, region, username, time_ms, seq);"
    "CREATE INDEX ev_source ON events (account, region, event_source, time_ms, seq);"
    "CREATE INDEX ev_key ON events (account, region, access_key_id, time_ms, seq);"
    "CREATE INDEX ev_ro ON events (account, region, read_only, time_ms, seq);"
    "CREATE TABLE event_resources (seq INTEGER NOT NULL, account TEXT NOT NULL, region TEXT NOT NULL,"
    " time_ms INTEGER NOT NULL, rtype TEXT NOT NULL, rname TEXT NOT NULL);"
    "CREATE INDEX evr_type ON event_resources (account, region, rtype, time_ms, seq);"
    "CREATE INDEX evr_name ON event_resources (account, region, rname, time_ms, seq);"
    "CREATE INDEX evr_seq ON event_resources (seq);"
    "PRAGMA user_version=1;";

typedef struct mig_page {
    int n, with_summary;
    char ids[8][16];
} mig_page;

static int mig_cb(void *ud, int64_t seq, int64_t time_ms, const char *json, const char *summary)
{
    (void)seq; (void)time_ms;
    mig_page *p = ud;
    const char *at = strstr(json, "\"eventID\":\"");
    assert_non_null(at);
    if (p->n < 8)
        snprintf(p->ids[p->n], sizeof p->ids[0], "%.3s", at + 11);
    if (summary) {
        assert_non_null(strstr(summary, "\"EventId\""));
        p->with_summary++;
    }
    p->n++;
    return 0;
}

typedef struct mig_ctx {
    store_lookup q;
    mig_page p;
} mig_ctx;

static gt_err mig_lookup_job(store_txn *t, void *ud)
{
    mig_ctx *m = ud;
    return store_event_lookup(t, &m->q, mig_cb, &m->p) == STORE_OK ? GT_OK : GT_E_INTERNAL;
}

static mig_page mig_lookup(store *s, store_attr attr, const char *value)
{
    mig_ctx m = {.q = {.account = "111111111111", .region = "us-east-1", .attr = attr, .value = value,
                       .start_ms = 0, .end_ms = 9999999, .limit = 8}};
    assert_int_equal(store_read(s, mig_lookup_job, &m), GT_OK);
    return m.p;
}

/* ud: the summary to give (NULL: none), events e10.. with time 2000000 */
static int mig_next;

static gt_err mig_append_job(store_txn *t, void *ud)
{
    int next = 10 + mig_next++;
    char id[16], json[64];
    snprintf(id, sizeof id, "e%02d", next++);
    snprintf(json, sizeof json, "{\"eventID\":\"%s\"}", id);
    const char *types[] = {"AWS::Greengrass::Group"};
    const char *names[] = {"arn:new"};
    store_event ev = {
        .account = "111111111111", .region = "us-east-1", .time_ms = 2000000, .event_id = id,
        .event_name = "GetGroup", .event_source = "greengrass.amazonaws.com", .username = "admin",
        .access_key_id = "AKIA", .read_only = true, .n_res = 1, .res_types = types, .res_names = names,
        .json = json, .summary = ud,
    };
    return store_event_append(t, &ev, NULL) == STORE_OK ? GT_OK : GT_E_INTERNAL;
}

typedef struct mig_scan {
    int n;
    char first[16];
} mig_scan;

static int mig_scan_cb(void *ud, int64_t seq, const char *account, const char *region, int64_t time_ms,
                       const char *json)
{
    (void)seq; (void)account; (void)region; (void)time_ms;
    mig_scan *m = ud;
    const char *at = strstr(json, "\"eventID\":\"");
    assert_non_null(at);
    if (m->n++ == 0)
        snprintf(m->first, sizeof m->first, "%.3s", at + 11);
    return 0;
}

static gt_err mig_scan_job(store_txn *t, void *ud)
{
    /* the cursor document says: delivered up to seq 2 */
    char *body = NULL;
    store_key k = {"111111111111", "us-east-1", "ct_trail_state", "t1"};
    if (store_doc_get(t, &k, &body) != STORE_OK)
        return GT_E_INTERNAL;
    int64_t after = strstr(body, "\"cursor\":2") ? 2 : -1;
    free(body);
    return after == 2 && store_event_scan(t, after, 0, mig_scan_cb, ud) == STORE_OK ? GT_OK : GT_E_INTERNAL;
}

/* from schema 1 (v = 1), or from schema 2 (v = 2: the same tables, and
 * e03 stored as schema 2's blob: record and summary, zlib, no dictionary) */
static void migrate_from(int v)
{
    mig_next = 0;
    if (!pg_base) {
        char path[300];
        snprintf(path, sizeof path, "%s/greentrail.db", dir);
        sqlite3 *db = NULL;
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db, v1_sql, NULL, NULL, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db,
            "INSERT INTO docs (account, region, kind, id, body) VALUES"
            " ('111111111111', 'us-east-1', 'ct_trail_state', 't1', '{\"cursor\":2}');"
            "INSERT INTO events (account, region, time_ms, event_id, event_name, event_source, username,"
            " access_key_id, read_only, json) VALUES"
            " ('111111111111', 'us-east-1', 1000000, 'e01', 'CreateGroup', 'greengrass.amazonaws.com', 'admin', 'AKIA', 0, '{\"eventID\":\"e01\"}'),"
            " ('111111111111', 'us-east-1', 1001000, 'e02', 'GetGroup', 'greengrass.amazonaws.com', 'admin', 'AKIA', 1, '{\"eventID\":\"e02\"}'),"
            " ('111111111111', 'us-east-1', 1002000, 'e03', 'GetGroup', 'greengrass.amazonaws.com', 'admin', 'AKIA', 1, '{\"eventID\":\"e03\"}');"
            "INSERT INTO event_resources VALUES (3, '111111111111', 'us-east-1', 1002000, 'AWS::Greengrass::Group', 'arn:old');",
            NULL, NULL, NULL), SQLITE_OK);
        if (v == 2) {
            /* schema 2's blob form, as its writer made it */
            static const char rec[] = "{\"eventID\":\"e03\"}", summ[] = "{\"EventId\":\"e03\"}";
            unsigned char blob[256];
            char both[64];
            snprintf(both, sizeof both, "%s%s", rec, summ);
            for (int i = 0; i < 4; i++) {
                blob[i] = (unsigned char)((sizeof rec - 1) >> (8 * i));
                blob[4 + i] = (unsigned char)((sizeof summ - 1) >> (8 * i));
            }
            uLongf zn = sizeof blob - 8;
            assert_int_equal(compress2(blob + 8, &zn, (const Bytef *)both, (uLong)strlen(both), 1), Z_OK);
            sqlite3_stmt *up = NULL;
            assert_int_equal(sqlite3_prepare_v2(db, "UPDATE events SET json = ?1 WHERE event_id = 'e03'", -1, &up, NULL),
                             SQLITE_OK);
            sqlite3_bind_blob(up, 1, blob, (int)(8 + zn), SQLITE_STATIC);
            assert_int_equal(sqlite3_step(up), SQLITE_DONE);
            sqlite3_finalize(up);
            assert_int_equal(sqlite3_exec(db, "PRAGMA user_version=2", NULL, NULL, NULL), SQLITE_OK);
        }
        sqlite3_close(db);
    } else {
        store *s0 = open_s();
        assert_non_null(s0);
        for (int i = 0; i < 3; i++)
            assert_int_equal(store_run(s0, mig_append_job, NULL), GT_OK);
        store_close(s0);
        assert_non_null(pg_admin(dbname, "ALTER TABLE events DROP COLUMN summary"));
        assert_non_null(pg_admin(dbname, "UPDATE schema_version SET version = 1"));
        /* as the schema 1 rows above: e01..e03 at 1000000, 1001000, 1002000 */
        assert_non_null(pg_admin(dbname, "UPDATE events SET event_id = 'e0' || (right(event_id, 1)::int + 1)"));
        assert_non_null(pg_admin(dbname, "UPDATE events SET json = '{\"eventID\":\"' || event_id || '\"}',"
                                         " time_ms = 1000000 + (right(event_id, 1)::int - 1) * 1000"));
        assert_non_null(pg_admin(dbname, "UPDATE event_resources r SET time_ms = e.time_ms FROM events e"
                                         " WHERE e.seq = r.seq"));
    }
    store *s = open_s();
    assert_non_null(s);
    int old_summaries = v == 2 && !pg_base ? 1 : 0;
    mig_page p = mig_lookup(s, STORE_ATTR_NONE, NULL);
    assert_int_equal(p.n, 3);
    assert_int_equal(p.with_summary, old_summaries);
    assert_string_equal(p.ids[0], "e03");
    assert_string_equal(p.ids[2], "e01");
    assert_int_equal(mig_lookup(s, STORE_ATTR_EVENT_ID, "e02").n, 1);
    assert_int_equal(mig_lookup(s, STORE_ATTR_EVENT_ID, "e03").n, 1);
    assert_int_equal(mig_lookup(s, STORE_ATTR_EVENT_ID, "e09").n, 0);
    assert_int_equal(mig_lookup(s, STORE_ATTR_USERNAME, "admin").n, 3);
    assert_int_equal(mig_lookup(s, STORE_ATTR_ACCESS_KEY_ID, "AKIA").n, 3);
    assert_int_equal(mig_lookup(s, STORE_ATTR_EVENT_SOURCE, "greengrass.amazonaws.com").n, 3);
    assert_int_equal(mig_lookup(s, STORE_ATTR_EVENT_NAME, "CreateGroup").n, pg_base ? 0 : 1);
    /* values never stored: an empty page, not an error */
    assert_int_equal(mig_lookup(s, STORE_ATTR_USERNAME, "nobody").n, 0);
    assert_int_equal(mig_lookup(s, STORE_ATTR_RESOURCE_TYPE, "AWS::Nothing").n, 0);
    assert_int_equal(mig_lookup(s, STORE_ATTR_READ_ONLY, "true").n, pg_base ? 3 : 2);
    if (!pg_base) {
        assert_int_equal(mig_lookup(s, STORE_ATTR_RESOURCE_NAME, "arn:old").n, 1);
        /* the delivery cursor and the feed after it */
        mig_scan sc = {0};
        assert_int_equal(store_read(s, mig_scan_job, &sc), GT_OK);
        assert_int_equal(sc.n, 1);
        assert_string_equal(sc.first, "e03");
    }
    /* new events: stored compressed (SQLite) with their summary */
    assert_int_equal(store_run(s, mig_append_job, "{\"EventId\":\"x\"}"), GT_OK);
    p = mig_lookup(s, STORE_ATTR_NONE, NULL);
    assert_int_equal(p.n, 4);
    assert_int_equal(p.with_summary, 1 + old_summaries);
    assert_string_equal(p.ids[0][0] == 'e' ? "ok" : p.ids[0], "ok");
    assert_int_equal(mig_lookup(s, STORE_ATTR_RESOURCE_NAME, "arn:new").n, pg_base ? 4 : 1);
    store_close(s);
    /* reopening is idempotent and keeps both kinds of rows readable */
    s = open_s();
    assert_non_null(s);
    assert_int_equal(mig_lookup(s, STORE_ATTR_EVENT_NAME, "GetGroup").n, pg_base ? 4 : 3);
    store_close(s);
}

static void test_migrate_from_v1(void **st)
{
    (void)st;
    migrate_from(1);
}

static void test_migrate_from_v2(void **st)
{
    (void)st;
    migrate_from(2);
}

/* ---- interned values and rollbacks: a job that fails after storing an
 * event with a new value leaves no cached id behind (the id is reused by
 * the next new value; a stale cache entry would file later events under
 * the wrong value). */
typedef struct ghost_job {
    const char *name;
    bool fail;
} ghost_job;

static gt_err ghost_append(store_txn *t, void *ud)
{
    ghost_job *g = ud;
    char json[96];
    snprintf(json, sizeof json, "{\"eventID\":\"g-%s-%d\"}", g->name, g->fail);
    store_event ev = {
        .account = "222222222222", .region = "eu-west-1", .time_ms = 3000000, .event_id = json + 12,
        .event_name = g->name, .event_source = "greengrass.amazonaws.com", .username = g->name,
        .read_only = false, .json = json,
    };
    if (store_event_append(t, &ev, NULL) != STORE_OK)
        return GT_E_INTERNAL;
    return g->fail ? GT_E_INTERNAL : GT_OK;
}

static gt_err ghost_sp_append(store_txn *t, void *ud)
{
    /* inside a savepoint that is rolled back, then a real append */
    if (store_sp_begin(t) != STORE_OK)
        return GT_E_INTERNAL;
    ghost_job g2 = {"SpGhost", false};
    if (ghost_append(t, &g2) != GT_OK)
        return GT_E_INTERNAL;
    if (store_sp_rollback(t) != STORE_OK)
        return GT_E_INTERNAL;
    return ghost_append(t, ud);
}

static int ghost_count(store *s, store_attr a, const char *v)
{
    mig_ctx m = {.q = {.account = "222222222222", .region = "eu-west-1", .attr = a, .value = v,
                       .start_ms = 0, .end_ms = 9999999, .limit = 8}};
    assert_int_equal(store_read(s, mig_lookup_job, &m), GT_OK);
    return m.p.n;
}

static void test_intern_rollback(void **st)
{
    (void)st;
    store *s = open_s();
    assert_non_null(s);
    ghost_job ghost = {"Ghost", true}, real = {"Real", false}, again = {"Ghost", false};
    assert_int_not_equal(store_run(s, ghost_append, &ghost), GT_OK);
    assert_int_equal(store_run(s, ghost_append, &real), GT_OK);
    assert_int_equal(store_run(s, ghost_append, &again), GT_OK);
    assert_int_equal(ghost_count(s, STORE_ATTR_EVENT_NAME, "Real"), 1);
    assert_int_equal(ghost_count(s, STORE_ATTR_EVENT_NAME, "Ghost"), 1);
    assert_int_equal(ghost_count(s, STORE_ATTR_USERNAME, "Real"), 1);
    /* a savepoint rolled back inside a job that commits */
    ghost_job after = {"AfterSp", false}, sp_again = {"SpGhost", false};
    assert_int_equal(store_run(s, ghost_sp_append, &after), GT_OK);
    assert_int_equal(store_run(s, ghost_append, &sp_again), GT_OK);
    assert_int_equal(ghost_count(s, STORE_ATTR_EVENT_NAME, "AfterSp"), 1);
    assert_int_equal(ghost_count(s, STORE_ATTR_EVENT_NAME, "SpGhost"), 1);
    assert_int_equal(ghost_count(s, STORE_ATTR_EVENT_NAME, "Real"), 1);
    assert_int_equal(ghost_count(s, STORE_ATTR_EVENT_NAME, "Never"), 0);
    store_close(s);
}

/* lease_set: first hold takes the lease (HELD_NEW), then HELD from memory;
 * a lease another node holds is NOT_HELD; released, it is taken anew. */
static void test_lease_set(void **st)
{
    (void)st;
    store *a = open_s(), *b = open_s();
    assert_non_null(a);
    assert_non_null(b);
    lease_set *la = lease_set_new(a, 60000), *lb = lease_set_new(b, 60000);
    assert_non_null(la);
    assert_non_null(lb);
    assert_int_equal(lease_set_hold(la, "trail:x"), LEASE_HELD_NEW);
    assert_int_equal(lease_set_hold(la, "trail:x"), LEASE_HELD);
    assert_int_equal(lease_set_hold(lb, "trail:x"), LEASE_NOT_HELD);
    assert_int_equal(lease_set_hold(lb, "trail:y"), LEASE_HELD_NEW);
    assert_int_equal(store_lease_acquire(a, "trail:y", store_node_id(a), 60000), STORE_BUSY);
    lease_set_release(la, "trail:x");
    assert_int_equal(lease_set_hold(lb, "trail:x"), LEASE_HELD_NEW);
    lease_set_free(lb);   /* a clean stop releases everything */
    assert_int_equal(lease_set_hold(la, "trail:y"), LEASE_HELD_NEW);
    assert_int_equal(lease_set_hold(la, "trail:x"), LEASE_HELD_NEW);
    lease_set_free(la);
    store_close(a);
    store_close(b);
}

static gt_err hold_job(store_txn *t, void *ud)
{
    hold_ctx *h = ud;
    store_event ev = {.account = "111111111111", .region = "us-east-1", .time_ms = 5000000,
                      .event_id = h->id, .event_name = "CreateGroup",
                      .event_source = "greengrass.amazonaws.com", .json = "{\"eventID\":\"x\"}"};
    if (store_event_append(t, &ev, &h->seq) != STORE_OK)
        return GT_E_INTERNAL;
    pthread_mutex_lock(&h->mu);
    h->appended = true;
    pthread_cond_broadcast(&h->cv);
    while (h->hold && !h->release)
        pthread_cond_wait(&h->cv, &h->mu);
    pthread_mutex_unlock(&h->mu);
    return GT_OK;
}

static void *hold_thread(void *arg)
{
    hold_ctx *h = arg;
    return store_run(h->s, hold_job, h) == GT_OK ? NULL : (void *)1;
}

static gt_err max_seq_job(store_txn *t, void *ud)
{
    *(int64_t *)ud = store_event_max_seq(t);
    return *(int64_t *)ud >= 0 ? GT_OK : GT_E_INTERNAL;
}

/* Two nodes; the transaction that took the LOWER seq commits LAST. A
 * consumer scanning in between must not see the higher seq yet (else it
 * would move its cursor past the lower one and skip it for ever). */
static void test_pg_watermark(void **st)
{
    (void)st;
    store *a = open_s(), *b = open_s();
    assert_non_null(a);
    assert_non_null(b);
    hold_ctx ha = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER, .hold = true, .id = "A", .s = a};
    hold_ctx hb = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER, .hold = false, .id = "B", .s = b};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, hold_thread, &ha);
    pthread_mutex_lock(&ha.mu);
    while (!ha.appended)
        pthread_cond_wait(&ha.cv, &ha.mu);
    pthread_mutex_unlock(&ha.mu);
    /* A holds an open transaction with its event; B appends and commits */
    pthread_create(&tb, NULL, hold_thread, &hb);
    void *r;
    pthread_join(tb, &r);
    assert_null(r);
    assert_true(hb.seq > ha.seq);
    scan_ctx c = {.after = 0, .limit = 100};
    assert_int_equal(store_read(b, scan_job, &c), GT_OK);
    assert_int_equal(c.n, 0);            /* B is committed but held back by A */
    int64_t mx = -1;
    assert_int_equal(store_read(b, max_seq_job, &mx), GT_OK);
    assert_true(mx < ha.seq);
    assert_int_equal(store_read(a, scan_job, &c), GT_OK);
    assert_int_equal(c.n, 0);
    pthread_mutex_lock(&ha.mu);
    ha.release = true;
    pthread_cond_broadcast(&ha.cv);
    pthread_mutex_unlock(&ha.mu);
    pthread_join(ta, &r);
    assert_null(r);
    /* the consumer, continuing from its cursor, gets both, lower first */
    assert_int_equal(store_read(b, scan_job, &c), GT_OK);
    assert_int_equal(c.n, 2);
    assert_true(c.seqs[0] == ha.seq && c.seqs[1] == hb.seq);
    assert_int_equal(store_read(a, max_seq_job, &mx), GT_OK);
    assert_true(mx == hb.seq);
    store_close(a);
    store_close(b);
}

/* Stress: two nodes, four writer threads, and a consumer following the feed
 * with its cursor (small pages) while they write: it must see every event
 * exactly once. Without the watermark, commits out of seq order make it
 * skip events. */
#define STRESS_WRITERS 4
#define STRESS_EACH 40
static store *stress_nodes[2];

static gt_err one_event_job(store_txn *t, void *ud)
{
    (void)ud;
    store_event ev = {.account = "111111111111", .region = "us-east-1", .time_ms = 6000000,
                      .event_id = "s", .event_name = "CreateGroup",
                      .event_source = "greengrass.amazonaws.com", .json = "{\"eventID\":\"s\"}"};
    return store_event_append(t, &ev, NULL) == STORE_OK ? GT_OK : GT_E_INTERNAL;
}

static void *stress_writer(void *arg)
{
    intptr_t k = (intptr_t)arg;
    for (int i = 0; i < STRESS_EACH; i++)
        if (store_run(stress_nodes[(k + i) % 2], one_event_job, NULL) != GT_OK)
            return (void *)1;
    return NULL;
}

typedef struct follow_ctx {
    int64_t cursor;
    int n;
    int64_t seen[STRESS_WRITERS * STRESS_EACH + 8];
} follow_ctx;

static int follow_cb(void *ud, int64_t seq, const char *account, const char *region, int64_t time_ms,
                     const char *json)
{
    (void)account; (void)region; (void)time_ms; (void)json;
    follow_ctx *f = ud;
    if (seq <= f->cursor || f->n >= STRESS_WRITERS * STRESS_EACH + 8)
        return 1;
    f->seen[f->n++] = seq;
    f->cursor = seq;
    return 0;
}

static gt_err follow_job(store_txn *t, void *ud)
{
    follow_ctx *f = ud;
    return store_event_scan(t, f->cursor, 3, follow_cb, f) == STORE_OK ? GT_OK : GT_E_INTERNAL;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void test_pg_feed_under_load(void **st)
{
    (void)st;
    stress_nodes[0] = open_s();
    stress_nodes[1] = open_s();
    assert_non_null(stress_nodes[0]);
    assert_non_null(stress_nodes[1]);
    static follow_ctx f;
    memset(&f, 0, sizeof f);
    pthread_t th[STRESS_WRITERS];
    for (intptr_t i = 0; i < STRESS_WRITERS; i++)
        pthread_create(&th[i], NULL, stress_writer, (void *)i);
    int running = STRESS_WRITERS;
    while (running > 0 || f.n < STRESS_WRITERS * STRESS_EACH) {
        int before = f.n;
        assert_int_equal(store_read(stress_nodes[f.n % 2], follow_job, &f), GT_OK);
        if (running > 0 && f.n == before) {
            void *r;
            for (int i = 0; i < STRESS_WRITERS; i++)
                if (th[i] && pthread_tryjoin_np(th[i], &r) == 0) {
                    assert_null(r);
                    th[i] = 0;
                    running--;
                }
        } else if (running == 0 && f.n == before) {
            break;   /* all written and the feed is drained */
        }
    }
    /* every stored event, exactly once */
    static int64_t stored[STRESS_WRITERS * STRESS_EACH];
    int ns = 0;
    follow_ctx g = {0};
    while (ns < STRESS_WRITERS * STRESS_EACH) {
        int before = g.n;
        assert_int_equal(store_read(stress_nodes[0], follow_job, &g), GT_OK);
        if (g.n == before)
            break;
        for (int i = before; i < g.n; i++)
            stored[ns++] = g.seen[i];
    }
    assert_int_equal(ns, STRESS_WRITERS * STRESS_EACH);
    assert_int_equal(f.n, STRESS_WRITERS * STRESS_EACH);
    qsort(f.seen, (size_t)f.n, sizeof f.seen[0], cmp_i64);
    for (int i = 0; i < ns; i++)
        assert_true(f.seen[i] == stored[i]);
    store_close(stress_nodes[0]);
    store_close(stress_nodes[1]);
}

static gt_err append_now_job(store_txn *t, void *ud)
{
    int64_t *times = ud;
    for (int i = 0; i < 2; i++) {
        store_event ev = {.account = "111111111111", .region = "us-east-1", .time_ms = times[i],
                          .event_id = i ? "old" : "now", .event_name = "GetGroup",
                          .event_source = "greengrass.amazonaws.com", .read_only = true,
                          .json = "{\"eventID\":\"p\"}"};
        if (store_event_append(t, &ev, NULL) != STORE_OK)
            return GT_E_INTERNAL;
    }
    return GT_OK;
}

static gt_err count_job(store_txn *t, void *ud)
{
    *(int64_t *)ud = store_event_count(t);
    return GT_OK;
}

/* Retention drops whole month partitions, and deletes rows elsewhere. */
static void test_pg_partitions(void **st)
{
    (void)st;
    store *s = open_s();
    assert_non_null(s);
    const char *n = pg_admin(dbname, "SELECT count(*) FROM pg_class WHERE relname ~ '^events_p[0-9]{6}$'");
    assert_non_null(n);
    assert_string_equal(n, "3");   /* this month and the next two */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000;
    int64_t times[2] = {now, 1000000};   /* this month's partition; the default one */
    assert_int_equal(store_run(s, append_now_job, times), GT_OK);
    int64_t cnt = 0;
    assert_int_equal(store_read(s, count_job, &cnt), GT_OK);
    assert_int_equal(cnt, 2);
    n = pg_admin(dbname, "SELECT count(*) FROM events_pdefault");
    assert_string_equal(n, "1");
    /* a cutoff 100 days ahead: all three month partitions have ended */
    times[0] = now + 100LL * 86400000;
    assert_int_equal(store_run(s, prune_job_at, times), GT_OK);
    assert_int_equal(times[1], 2);
    n = pg_admin(dbname, "SELECT count(*) FROM pg_class WHERE relname ~ '^event(s|_resources)_p[0-9]{6}$'");
    assert_string_equal(n, "0");
    assert_int_equal(store_read(s, count_job, &cnt), GT_OK);
    assert_int_equal(cnt, 0);
    store_close(s);
}

/* A dropped connection (server restart, failover) costs at most one failed
 * call per connection, never a wrong answer; the store reconnects. */
static void test_pg_reconnect(void **st)
{
    (void)st;
    gs = open_s();
    assert_non_null(gs);
    assert_int_equal(store_run(gs, one_doc, (void *)1), GT_OK);
    int n = 0;
    assert_int_equal(store_read(gs, count_gc, &n), GT_OK);
    assert_int_equal(n, 1);
    const char *k = pg_admin(dbname, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                                     " WHERE datname = current_database() AND pid <> pg_backend_pid()");
    assert_non_null(k);
    assert_string_equal(k, "5");   /* the writer and 4 readers */
    gt_err e = store_run(gs, one_doc, (void *)2);
    if (e != GT_OK) {
        assert_int_equal(e, GT_E_UNAVAILABLE);
        assert_int_equal(store_run(gs, one_doc, (void *)2), GT_OK);
    }
    int ok = 0;
    for (int i = 0; i < 10 && ok < 4; i++) {
        n = 0;
        e = store_read(gs, count_gc, &n);
        if (e == GT_OK) {
            assert_int_equal(n, 2);
            ok++;
        }
    }
    assert_int_equal(ok, 4);
    store_close(gs);
}

static void test_pg_bad_url(void **st)
{
    (void)st;
    char err[256] = "";
    assert_null(store_open_url("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2", dir, err, sizeof err));
    assert_non_null(strstr(err, "PostgreSQL"));
    err[0] = '\0';
    assert_null(store_open_url("mysql://x", dir, err, sizeof err));
    assert_true(strlen(err) > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_docs_and_rollback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_leases, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lease_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_next_seq, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_from_v1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_from_v2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_intern_rollback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_records_roundtrip, setup, teardown),
        cmocka_unit_test(test_bad_dir),
    };
    const struct CMUnitTest pg_tests[] = {
        cmocka_unit_test_setup_teardown(test_docs_and_rollback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_leases, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lease_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_next_seq, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_from_v1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_from_v2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_intern_rollback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_records_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_watermark, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_feed_under_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_partitions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_reconnect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_bad_url, setup, teardown),
    };
    int failed = cmocka_run_group_tests_name("store_sqlite", tests, NULL, NULL);
    const char *base = getenv("GREENTRAIL_TEST_STORE");
    if (base && strncmp(base, "postgres", 8) == 0) {
        pg_base = base;
        failed += cmocka_run_group_tests_name("store_postgresql", pg_tests, NULL, NULL);
        drop_pg_db();
    } else {
        printf("store_postgresql: skipped (set GREENTRAIL_TEST_STORE, see tools/pg-test-cluster)\n");
    }
    return failed;
}
