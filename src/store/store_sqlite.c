/*
 * store_sqlite.c: the embedded store, SQLite in WAL mode.
 *
 * What: documents (resources as JSON), the CloudTrail event journal with
 * the indexed columns LookupEvents needs, and versioned migrations.
 *
 * Why one writer thread: SQLite has one writer at a time anyway. Request
 * threads hand their job (a function) to the writer, which runs every job
 * that is waiting inside ONE transaction, each job in its own savepoint,
 * and then commits once: group commit, one fsync (synchronous=FULL in WAL
 * mode) for a whole batch. A job's caller is woken only after the commit
 * returned, so a 2xx is never sent for a change that is not durable.
 *
 * Invariants:
 *  - A job's changes and its event record are in the same transaction.
 *  - If the commit fails (disk full, I/O error) every job of the batch gets
 *    GT_E_UNAVAILABLE and nothing of the batch persists.
 *  - Readers use separate connections (WAL snapshots); they never write.
 *  - The journal (schema 3) keeps each text attribute (account, region,
 *    event name and source, user, access key, resource type and name) as
 *    an id into `vals` (interned once, never deleted, so a committed id
 *    never changes meaning), and the EventId as a 64-bit hash: its indexes
 *    are (acct, region, X, time_ms) plus SQLite's implicit rowid (seq),
 *    ~1-2 bytes a column instead of the text. A lookup resolves the
 *    values to ids first (a value never stored: an empty page); an EventId
 *    lookup keeps only records whose own eventID is the one asked for.
 *    The writer caches ids (val_intern); ids cached inside the open
 *    transaction are forgotten at any rollback (job, savepoint or batch),
 *    so no id that was never committed survives in the cache.
 *
 * Performance (measured with bench/run, see bench/RESULTS.md):
 *  - Every connection keeps its prepared statements (stmt_get/stmt_put):
 *    statements are compiled once per connection, not once per call.
 *    A statement in use is never handed out twice: a nested use of the
 *    same SQL gets a one-off statement that is finalized after use.
 *  - temp_store=MEMORY: the savepoint (statement) journals live in memory
 *    instead of a temp file created and deleted for every job. They only
 *    serve rollbacks inside an open transaction; durability is the WAL's.
 *  - Each waiting job has its own condition variable, so a commit wakes
 *    exactly the jobs of its batch, not every waiting thread.
 *  - Since schema 2 a record is stored zlib-compressed together with its
 *    LookupEvents summary (store/evpack.c), so a lookup page neither parses
 *    records nor reads twice their size from disk; rows of older schemas
 *    stay TEXT and are read as they are. Since schema 3 with a preset
 *    dictionary (evpack's dictionary form: ~200 B a record instead of
 *    ~740 B); schema 2's blobs stay as they are and are read too. With
 *    the slim indexes above, a bulk-loaded 200k-event journal takes 472 B
 *    an event on disk (0.47x its record JSON; 1,774 B, 1.76x, before).
 *  - WAL checkpoints run on a checkpointer thread with its own connection,
 *    not on the writer: SQLite's automatic checkpoint (wal_autocheckpoint,
 *    off on the writer's connection) copies ~1000 pages into the database
 *    file and fsyncs it inside the COMMIT that crossed the threshold, and
 *    every call waiting for the next batch waited for that too (the tail
 *    of the create latency, bench/RESULTS.md round 3). The writer's WAL
 *    hook wakes the checkpointer once the WAL holds STORE_CKPT_PAGES pages;
 *    it runs a PASSIVE checkpoint (never blocks the writer or readers; the
 *    writer rewinds the WAL at its next transaction once everything was
 *    copied). Should readers keep the WAL from being rewound until it holds
 *    STORE_CKPT_RESTART_PAGES, a RESTART checkpoint (which waits for the
 *    writer and readers) bounds it. Durability is unchanged: commits are
 *    durable in the WAL (synchronous=FULL), checkpoints fsync the database
 *    file before the WAL is reused.
 */
#include "store/evpack.h"
#include "store/store.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "util/gtutil.h"

#define STORE_MAX_BATCH 256
#define STORE_READERS 4
#define STORE_STMT_CACHE 48

/* One connection and its prepared statements. Used by one thread at a time
 * (the writer, or a reader under its mutex). */
typedef struct store_conn {
    sqlite3 *db;
    int n;
    struct {
        char *sql;
        sqlite3_stmt *st;
        bool busy;
    } c[STORE_STMT_CACHE];
    evpack_buf zb; /* an inflated record (record_text), valid until the next */
    /* The writer's interned values (vals: text -> id), open addressing.
     * An entry made inside the open transaction is `pending` until its
     * COMMIT: any rollback (of a job, a savepoint or the batch) forgets the
     * pending entries, so no id that was never committed stays cached. */
    struct intern_ent {
        char *v;
        int64_t id;
        bool pending;
    } *it;
    int it_n, it_pending;
} store_conn;

#define INTERN_SLOTS 2048 /* a power of 2; cleared when 3/4 full */

struct store_txn {
    sqlite3 *db;
    store_conn *conn;
    bool writable;
    int sp_depth;
    const char *fault_path;   /* test-only fault injection, NULL normally */
};

typedef struct store_job {
    store_job_fn fn;
    void *ud;
    gt_err result;
    bool done;
    pthread_cond_t cv;
    struct store_job *next;
} store_job;

typedef struct store_reader {
    pthread_mutex_t mu;
    store_conn conn;
} store_reader;

struct store {
    sqlite3 *wdb;
    store_conn wconn;
    pthread_t writer;
    pthread_mutex_t mu;
    pthread_cond_t work;
    store_job *head, *tail;
    bool stopping;
    store_reader readers[STORE_READERS];
    unsigned next_reader;
    pthread_mutex_t rr_mu;
    /* Test-only: with GREENTRAIL_TEST_FAULTS=1 at open, event appends fail
     * (as on a full disk) while the file DATA_DIR/fault-event-append exists. */
    char fault_path[4096];
    /* the checkpointer (see the head comment) */
    sqlite3 *ckdb;
    pthread_t ckth;
    bool ck_started, ck_want, ck_stop;
    int ck_pages;
    pthread_mutex_t ck_mu;
    pthread_cond_t ck_cv;
};

#define STORE_CKPT_PAGES 1000           /* SQLite's default autocheckpoint threshold */
#define STORE_CKPT_RESTART_PAGES 16000  /* ~64 MB of WAL: RESTART, which waits for readers */

/* ---------------------------------------------------------------- schema */

static const char *const migrations[] = {
    /* 1: documents and the event journal */
    "CREATE TABLE docs ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  account TEXT NOT NULL, region TEXT NOT NULL, kind TEXT NOT NULL, id TEXT NOT NULL,"
    "  parent TEXT, body TEXT NOT NULL,"
    "  UNIQUE (account, region, kind, id));"
    "CREATE INDEX docs_parent ON docs (account, region, kind, parent, seq);"
    "CREATE TABLE events ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  account TEXT NOT NULL, region TEXT NOT NULL, time_ms INTEGER NOT NULL,"
    "  event_id TEXT NOT NULL, event_name TEXT NOT NULL, event_source TEXT NOT NULL,"
    "  username TEXT, access_key_id TEXT, read_only INTEGER NOT NULL, json TEXT NOT NULL);"
    "CREATE INDEX ev_time ON events (account, region, time_ms, seq);"
    "CREATE INDEX ev_id ON events (account, region, event_id, time_ms, seq);"
    "CREATE INDEX ev_name ON events (account, region, event_name, time_ms, seq);"
    "CREATE INDEX ev_user ON events (account, region, username, time_ms, seq);"
    "CREATE INDEX ev_source ON events (account, region, event_source, time_ms, seq);"
    "CREATE INDEX ev_key ON events (account, region, access_key_id, time_ms, seq);"
    "CREATE INDEX ev_ro ON events (account, region, read_only, time_ms, seq);"
    "CREATE TABLE event_resources ("
    "  seq INTEGER NOT NULL, account TEXT NOT NULL, region TEXT NOT NULL, time_ms INTEGER NOT NULL,"
    "  rtype TEXT NOT NULL, rname TEXT NOT NULL);"
    "CREATE INDEX evr_type ON event_resources (account, region, rtype, time_ms, seq);"
    "CREATE INDEX evr_name ON event_resources (account, region, rname, time_ms, seq);"
    "CREATE INDEX evr_seq ON event_resources (seq);",
    /* 2: from this version on, `json` holds either the record as TEXT
     * (rows written before) or a BLOB: the record and its LookupEvents
     * summary, compressed together (evpack). No table changes: the
     * version tells binaries older than this one (which would read the
     * BLOBs as text) to refuse the store. */
    "SELECT 1;",
    /* 3: slimmer journal indexes, and the BLOBs may also be evpack's
     * dictionary form (a preset deflate dictionary, named by version in
     * the blob's header; schema-2 binaries cannot read it). Every text
     * attribute (account, region, names, sources, users, keys, resource
     * types and names) is interned in `vals` and stored as its id; the
     * EventId as a 64-bit hash (gt_eid_hash; a lookup checks the record's
     * own eventID, so a collision never answers a wrong event). Indexes
     * are (acct, region, X, time_ms): SQLite appends the rowid (seq) to
     * every index entry, which keeps the (time_ms, seq) order. */
    "CREATE TABLE vals (id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE);"
    "INSERT OR IGNORE INTO vals (v)"
    "  SELECT account FROM events UNION SELECT region FROM events UNION SELECT event_name FROM events"
    "  UNION SELECT event_source FROM events UNION SELECT username FROM events WHERE username IS NOT NULL"
    "  UNION SELECT access_key_id FROM events WHERE access_key_id IS NOT NULL"
    "  UNION SELECT account FROM event_resources UNION SELECT region FROM event_resources"
    "  UNION SELECT rtype FROM event_resources UNION SELECT rname FROM event_resources;"
    "DROP INDEX ev_time; DROP INDEX ev_id; DROP INDEX ev_name; DROP INDEX ev_user; DROP INDEX ev_source;"
    "DROP INDEX ev_key; DROP INDEX ev_ro; DROP INDEX evr_type; DROP INDEX evr_name; DROP INDEX evr_seq;"
    "ALTER TABLE events RENAME TO events_v2;"
    "ALTER TABLE event_resources RENAME TO event_resources_v2;"
    "CREATE TABLE events ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  acct INTEGER NOT NULL, region INTEGER NOT NULL, time_ms INTEGER NOT NULL,"
    "  eid INTEGER NOT NULL, name INTEGER NOT NULL, src INTEGER NOT NULL,"
    "  uname INTEGER, akid INTEGER, read_only INTEGER NOT NULL, json BLOB NOT NULL);"
    "INSERT INTO events (seq, acct, region, time_ms, eid, name, src, uname, akid, read_only, json)"
    "  SELECT seq, (SELECT id FROM vals WHERE v = account), (SELECT id FROM vals WHERE v = region), time_ms,"
    "  gt_eid_hash(event_id), (SELECT id FROM vals WHERE v = event_name),"
    "  (SELECT id FROM vals WHERE v = event_source), (SELECT id FROM vals WHERE v = username),"
    "  (SELECT id FROM vals WHERE v = access_key_id), read_only, json FROM events_v2 ORDER BY seq;"
    /* the next seq stays past every seq ever used (delivery cursors) */
    "DELETE FROM sqlite_sequence WHERE name = 'events';"
    "INSERT INTO sqlite_sequence (name, seq) SELECT 'events', MAX(IFNULL((SELECT MAX(seq) FROM events), 0),"
    "  IFNULL((SELECT MAX(seq) FROM sqlite_sequence WHERE name = 'events_v2'), 0));"
    "CREATE TABLE event_resources ("
    "  seq INTEGER NOT NULL, acct INTEGER NOT NULL, region INTEGER NOT NULL, time_ms INTEGER NOT NULL,"
    "  rtype INTEGER NOT NULL, rname INTEGER NOT NULL);"
    "INSERT INTO event_resources (seq, acct, region, time_ms, rtype, rname)"
    "  SELECT seq, (SELECT id FROM vals WHERE v = account), (SELECT id FROM vals WHERE v = region), time_ms,"
    "  (SELECT id FROM vals WHERE v = rtype), (SELECT id FROM vals WHERE v = rname) FROM event_resources_v2;"
    "DROP TABLE events_v2;"
    "DROP TABLE event_resources_v2;"
    "CREATE INDEX ev_time ON events (acct, region, time_ms);"
    "CREATE INDEX ev_id ON events (acct, region, eid, time_ms);"
    "CREATE INDEX ev_name ON events (acct, region, name, time_ms);"
    "CREATE INDEX ev_user ON events (acct, region, uname, time_ms);"
    "CREATE INDEX ev_source ON events (acct, region, src, time_ms);"
    "CREATE INDEX ev_key ON events (acct, region, akid, time_ms);"
    "CREATE INDEX ev_ro ON events (acct, region, read_only, time_ms);"
    "CREATE INDEX evr_type ON event_resources (acct, region, rtype, time_ms, seq);"
    "CREATE INDEX evr_name ON event_resources (acct, region, rname, time_ms, seq);"
    "CREATE INDEX evr_seq ON event_resources (seq);",
};

/* The EventId's 64-bit key in `events.eid`: crc32 and adler32 of its
 * bytes (zlib's; tools/bulkload makes the same with Python's zlib), as one
 * signed 64-bit integer. Not unique: a lookup checks the record. */
static int64_t eid_hash(const char *s)
{
    size_t n = strlen(s);
    uint64_t c = crc32(0L, (const Bytef *)s, (uInt)n), a = adler32(1L, (const Bytef *)s, (uInt)n);
    uint64_t u = (c << 32) | a;
    int64_t v;
    memcpy(&v, &u, sizeof v);
    return v;
}

static void sql_eid_hash(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const char *s = (const char *)sqlite3_value_text(argv[0]);
    sqlite3_result_int64(ctx, eid_hash(s ? s : ""));
}

static int exec(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

/* ---------------------------------------------------------------- statement cache */

/* A prepared statement for sql on conn: the cached one when it is free,
 * else a new one (cached when there is room, one-off otherwise). NULL on
 * error. Give it back with stmt_put. */
static sqlite3_stmt *stmt_get(store_conn *cn, const char *sql)
{
    for (int i = 0; i < cn->n; i++) {
        if (strcmp(cn->c[i].sql, sql) == 0) {
            if (cn->c[i].busy)
                break;   /* nested use of the same SQL: a one-off below */
            cn->c[i].busy = true;
            return cn->c[i].st;
        }
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v3(cn->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        sqlite3_finalize(st);
        return NULL;
    }
    for (int i = 0; i < cn->n; i++)
        if (strcmp(cn->c[i].sql, sql) == 0)
            return st;   /* the cached one is busy: this one is one-off */
    if (cn->n < STORE_STMT_CACHE) {
        char *copy = strdup(sql);
        if (copy) {
            cn->c[cn->n].sql = copy;
            cn->c[cn->n].st = st;
            cn->c[cn->n].busy = true;
            cn->n++;
        }
    }
    return st;
}

/* Return a statement from stmt_get: reset and unbound when cached,
 * finalized when one-off. NULL is a no-op. */
static void stmt_put(store_conn *cn, sqlite3_stmt *st)
{
    if (!st)
        return;
    for (int i = 0; i < cn->n; i++) {
        if (cn->c[i].st == st) {
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            cn->c[i].busy = false;
            return;
        }
    }
    sqlite3_finalize(st);
}

/* exec() of a single statement without result rows, through the cache. */
static int exec_cached(store_conn *cn, const char *sql)
{
    sqlite3_stmt *st = stmt_get(cn, sql);
    if (!st)
        return -1;
    int rc = sqlite3_step(st);
    stmt_put(cn, st);
    return rc == SQLITE_DONE ? 0 : -1;
}

static void intern_clear(store_conn *cn)
{
    if (cn->it)
        for (int i = 0; i < INTERN_SLOTS; i++)
            free(cn->it[i].v);
    free(cn->it);
    cn->it = NULL;
    cn->it_n = cn->it_pending = 0;
}

/* After a rollback: forget what the transaction cached (all of it: rare). */
static void intern_rollback(store_conn *cn)
{
    if (cn->it_pending)
        intern_clear(cn);
}

/* After a COMMIT: the pending entries are committed. */
static void intern_commit(store_conn *cn)
{
    if (!cn->it_pending)
        return;
    for (int i = 0; i < INTERN_SLOTS; i++)
        cn->it[i].pending = false;
    cn->it_pending = 0;
}

static uint32_t intern_slot(const char *v)
{
    uint32_t h = 2166136261u;
    for (; *v; v++)
        h = (h ^ (unsigned char)*v) * 16777619u;
    return h & (INTERN_SLOTS - 1);
}

static void conn_close(store_conn *cn)
{
    intern_clear(cn);
    for (int i = 0; i < cn->n; i++) {
        sqlite3_finalize(cn->c[i].st);
        free(cn->c[i].sql);
    }
    cn->n = 0;
    evpack_buf_free(&cn->zb);
    sqlite3_close(cn->db);
    cn->db = NULL;
}

static int migrate(sqlite3 *db, char *err, size_t errcap)
{
    sqlite3_stmt *st;
    int version = 0;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    int n = (int)(sizeof migrations / sizeof migrations[0]);
    if (sqlite3_create_function(db, "gt_eid_hash", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, sql_eid_hash,
                                NULL, NULL) != SQLITE_OK)
        return -1;
    if (version > n) {
        snprintf(err, errcap, "store schema version %d is newer than this binary (%d)", version, n);
        return -1;
    }
    for (int i = version; i < n; i++) {
        char pragma[64];
        snprintf(pragma, sizeof pragma, "PRAGMA user_version=%d", i + 1);
        if (exec(db, "BEGIN IMMEDIATE") || exec(db, migrations[i]) || exec(db, pragma) ||
            exec(db, "COMMIT")) {
            snprintf(err, errcap, "migration %d failed: %s", i + 1, sqlite3_errmsg(db));
            exec(db, "ROLLBACK");
            return -1;
        }
    }
    return 0;
}

static sqlite3 *open_db(const char *path, bool readonly, char *err, size_t errcap)
{
    sqlite3 *db = NULL;
    int flags = readonly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    flags |= SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
        snprintf(err, errcap, "cannot open %s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 10000);
    exec(db, "PRAGMA temp_store=MEMORY");
    if (!readonly) {
        if (exec(db, "PRAGMA journal_mode=WAL") || exec(db, "PRAGMA synchronous=FULL")) {
            snprintf(err, errcap, "cannot set WAL mode on %s: %s", path, sqlite3_errmsg(db));
            sqlite3_close(db);
            return NULL;
        }
    }
    return db;
}

/* ---------------------------------------------------------------- writer */

static void *writer_main(void *arg)
{
    store *s = arg;
    store_conn *cn = &s->wconn;
    store_txn t = {.db = s->wdb, .conn = cn, .writable = true,
                   .fault_path = s->fault_path[0] ? s->fault_path : NULL};
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->head && !s->stopping)
            pthread_cond_wait(&s->work, &s->mu);
        if (!s->head && s->stopping)
            break;
        store_job *batch = s->head, *last = NULL;
        int n = 0;
        for (store_job *j = batch; j && n < STORE_MAX_BATCH; j = j->next, n++)
            last = j;
        s->head = last->next;
        if (!s->head)
            s->tail = NULL;
        last->next = NULL;
        pthread_mutex_unlock(&s->mu);

        bool ok = exec_cached(cn, "BEGIN IMMEDIATE") == 0;
        for (store_job *j = batch; j; j = j->next) {
            if (!ok) {
                j->result = GT_E_UNAVAILABLE;
                continue;
            }
            t.sp_depth = 0;
            if (exec_cached(cn, "SAVEPOINT job")) {
                j->result = GT_E_UNAVAILABLE;
                continue;
            }
            j->result = j->fn(&t, j->ud);
            while (t.sp_depth > 0)
                store_sp_rollback(&t);
            if (j->result != GT_OK) {
                exec_cached(cn, "ROLLBACK TO job");
                intern_rollback(cn);
            }
            exec_cached(cn, "RELEASE job");
        }
        if (ok && exec_cached(cn, "COMMIT") != 0) {
            fprintf(stderr, "greentrail: store commit failed: %s\n", sqlite3_errmsg(s->wdb));
            exec(s->wdb, "ROLLBACK");
            ok = false;
        }
        if (ok)
            intern_commit(cn);
        else
            intern_rollback(cn);
        if (!ok)
            for (store_job *j = batch; j; j = j->next)
                j->result = GT_E_UNAVAILABLE;

        pthread_mutex_lock(&s->mu);
        for (store_job *j = batch, *nx; j; j = nx) {
            nx = j->next;   /* j lives on its waiter's stack: read next first */
            j->done = true;
            pthread_cond_signal(&j->cv);
        }
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ---------------------------------------------------------------- checkpointer */

/* The writer's WAL hook: after each commit, with the WAL's page count. */
static int ckpt_hook(void *ud, sqlite3 *db, const char *name, int pages)
{
    (void)db;
    (void)name;
    store *s = ud;
    if (pages >= STORE_CKPT_PAGES) {
        pthread_mutex_lock(&s->ck_mu);
        s->ck_want = true;
        s->ck_pages = pages;
        pthread_cond_signal(&s->ck_cv);
        pthread_mutex_unlock(&s->ck_mu);
    }
    return SQLITE_OK;
}

static void *ckpt_main(void *arg)
{
    store *s = arg;
    bool warned = false;
    pthread_mutex_lock(&s->ck_mu);
    for (;;) {
        while (!s->ck_want && !s->ck_stop)
            pthread_cond_wait(&s->ck_cv, &s->ck_mu);
        if (s->ck_stop)
            break;
        int pages = s->ck_pages;
        s->ck_want = false;
        pthread_mutex_unlock(&s->ck_mu);
        int mode = pages >= STORE_CKPT_RESTART_PAGES ? SQLITE_CHECKPOINT_RESTART : SQLITE_CHECKPOINT_PASSIVE;
        int log = 0, done = 0;
        int rc = sqlite3_wal_checkpoint_v2(s->ckdb, NULL, mode, &log, &done);
        if (rc != SQLITE_OK && rc != SQLITE_BUSY && !warned) {
            fprintf(stderr, "greentrail: store checkpoint failed: %s\n", sqlite3_errmsg(s->ckdb));
            warned = true;
        }
        pthread_mutex_lock(&s->ck_mu);
    }
    pthread_mutex_unlock(&s->ck_mu);
    return NULL;
}

/* Start the checkpointer; without it (no connection or thread) the writer
 * keeps SQLite's automatic checkpoints. */
static void ckpt_start(store *s, const char *path)
{
    char err[256];
    pthread_mutex_init(&s->ck_mu, NULL);
    pthread_cond_init(&s->ck_cv, NULL);
    s->ckdb = open_db(path, false, err, sizeof err);
    if (!s->ckdb)
        return;
    if (pthread_create(&s->ckth, NULL, ckpt_main, s) != 0) {
        sqlite3_close(s->ckdb);
        s->ckdb = NULL;
        return;
    }
    pthread_setname_np(s->ckth, "gt-checkpoint");
    s->ck_started = true;
    sqlite3_wal_hook(s->wdb, ckpt_hook, s);   /* replaces wal_autocheckpoint's hook */
}

static void ckpt_stop(store *s)
{
    if (s->ck_started) {
        pthread_mutex_lock(&s->ck_mu);
        s->ck_stop = true;
        pthread_cond_signal(&s->ck_cv);
        pthread_mutex_unlock(&s->ck_mu);
        pthread_join(s->ckth, NULL);
        sqlite3_close(s->ckdb);
    }
    pthread_mutex_destroy(&s->ck_mu);
    pthread_cond_destroy(&s->ck_cv);
}

gt_err store_run(store *s, store_job_fn fn, void *ud)
{
    store_job j = {.fn = fn, .ud = ud, .result = GT_E_UNAVAILABLE};
    pthread_cond_init(&j.cv, NULL);
    pthread_mutex_lock(&s->mu);
    if (s->stopping) {
        pthread_mutex_unlock(&s->mu);
        pthread_cond_destroy(&j.cv);
        return GT_E_UNAVAILABLE;
    }
    if (s->tail)
        s->tail->next = &j;
    else
        s->head = &j;
    s->tail = &j;
    pthread_cond_signal(&s->work);
    while (!j.done)
        pthread_cond_wait(&j.cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
    pthread_cond_destroy(&j.cv);
    return j.result;
}

gt_err store_read(store *s, store_job_fn fn, void *ud)
{
    pthread_mutex_lock(&s->rr_mu);
    store_reader *r = &s->readers[s->next_reader++ % STORE_READERS];
    pthread_mutex_unlock(&s->rr_mu);
    pthread_mutex_lock(&r->mu);
    store_txn t = {.db = r->conn.db, .conn = &r->conn, .writable = false};
    gt_err e = GT_E_UNAVAILABLE;
    if (exec_cached(&r->conn, "BEGIN") == 0) {
        e = fn(&t, ud);
        exec_cached(&r->conn, "COMMIT");
    }
    pthread_mutex_unlock(&r->mu);
    return e;
}

int store_sp_begin(store_txn *t)
{
    if (exec_cached(t->conn, "SAVEPOINT h"))
        return STORE_ERR;
    t->sp_depth++;
    return STORE_OK;
}

int store_sp_rollback(store_txn *t)
{
    if (t->sp_depth <= 0)
        return STORE_ERR;
    t->sp_depth--;
    int rc = (exec_cached(t->conn, "ROLLBACK TO h") || exec_cached(t->conn, "RELEASE h")) ? STORE_ERR : STORE_OK;
    intern_rollback(t->conn);
    return rc;
}

int store_sp_release(store_txn *t)
{
    if (t->sp_depth <= 0)
        return STORE_ERR;
    t->sp_depth--;
    return exec_cached(t->conn, "RELEASE h") ? STORE_ERR : STORE_OK;
}

/* ---------------------------------------------------------------- open/close */

store *store_open(const char *data_dir, char *err, size_t errcap)
{
    char path[4096];
    if (mkdir(data_dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errcap, "cannot create %s: %s", data_dir, strerror(errno));
        return NULL;
    }
    if (snprintf(path, sizeof path, "%s/greentrail.db", data_dir) >= (int)sizeof path) {
        snprintf(err, errcap, "data dir path too long");
        return NULL;
    }
    store *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    const char *faults = getenv("GREENTRAIL_TEST_FAULTS");
    if (faults && strcmp(faults, "1") == 0)
        snprintf(s->fault_path, sizeof s->fault_path, "%s/fault-event-append", data_dir);
    s->wdb = open_db(path, false, err, errcap);
    if (!s->wdb || migrate(s->wdb, err, errcap)) {
        sqlite3_close(s->wdb);
        free(s);
        return NULL;
    }
    s->wconn.db = s->wdb;
    for (int i = 0; i < STORE_READERS; i++) {
        pthread_mutex_init(&s->readers[i].mu, NULL);
        s->readers[i].conn.db = open_db(path, true, err, errcap);
        if (!s->readers[i].conn.db) {
            for (int k = 0; k < i; k++)
                conn_close(&s->readers[k].conn);
            conn_close(&s->wconn);
            free(s);
            return NULL;
        }
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->rr_mu, NULL);
    pthread_cond_init(&s->work, NULL);
    ckpt_start(s, path);
    if (pthread_create(&s->writer, NULL, writer_main, s) == 0)
        pthread_setname_np(s->writer, "gt-writer");   /* for profiles and bench/run */
    else {
        snprintf(err, errcap, "cannot start the store writer");
        ckpt_stop(s);
        for (int k = 0; k < STORE_READERS; k++)
            conn_close(&s->readers[k].conn);
        conn_close(&s->wconn);
        free(s);
        return NULL;
    }
    return s;
}

void store_close(store *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_signal(&s->work);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->writer, NULL);
    ckpt_stop(s);
    for (int i = 0; i < STORE_READERS; i++) {
        conn_close(&s->readers[i].conn);
        pthread_mutex_destroy(&s->readers[i].mu);
    }
    conn_close(&s->wconn);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->rr_mu);
    pthread_cond_destroy(&s->work);
    free(s);
}

/* ---------------------------------------------------------------- documents */

static sqlite3_stmt *prep(store_txn *t, const char *sql)
{
    return stmt_get(t->conn, sql);
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static void bind_key(sqlite3_stmt *st, const store_key *k)
{
    bind_text(st, 1, k->account);
    bind_text(st, 2, k->region);
    bind_text(st, 3, k->kind);
    bind_text(st, 4, k->id);
}

int store_doc_get(store_txn *t, const store_key *k, char **body_out)
{
    sqlite3_stmt *st = prep(t, "SELECT body FROM docs WHERE account=?1 AND region=?2 AND kind=?3 AND id=?4");
    if (!st)
        return STORE_ERR;
    bind_key(st, k);
    int rc = sqlite3_step(st), ret = STORE_ERR;
    if (rc == SQLITE_ROW) {
        const char *b = (const char *)sqlite3_column_text(st, 0);
        *body_out = strdup(b ? b : "");
        ret = *body_out ? STORE_OK : STORE_ERR;
    } else if (rc == SQLITE_DONE) {
        ret = STORE_NOTFOUND;
    }
    stmt_put(t->conn, st);
    return ret;
}

int store_doc_put(store_txn *t, const store_key *k, const char *parent, const char *body)
{
    if (!t->writable)
        return STORE_ERR;
    sqlite3_stmt *st = prep(t, "INSERT INTO docs (account, region, kind, id, parent, body)"
                               " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                               " ON CONFLICT (account, region, kind, id) DO UPDATE SET body = excluded.body");
    if (!st)
        return STORE_ERR;
    bind_key(st, k);
    bind_text(st, 5, parent);
    bind_text(st, 6, body);
    int rc = sqlite3_step(st);
    stmt_put(t->conn, st);
    return rc == SQLITE_DONE ? STORE_OK : STORE_ERR;
}

int store_doc_delete(store_txn *t, const store_key *k)
{
    if (!t->writable)
        return STORE_ERR;
    sqlite3_stmt *st = prep(t, "DELETE FROM docs WHERE account=?1 AND region=?2 AND kind=?3 AND id=?4");
    if (!st)
        return STORE_ERR;
    bind_key(st, k);
    int rc = sqlite3_step(st);
    stmt_put(t->conn, st);
    if (rc != SQLITE_DONE)
        return STORE_ERR;
    return sqlite3_changes(t->db) > 0 ? STORE_OK : STORE_NOTFOUND;
}

int store_doc_delete_children(store_txn *t, const char *account, const char *region,
                              const char *kind, const char *parent)
{
    if (!t->writable)
        return STORE_ERR;
    sqlite3_stmt *st = prep(t, "DELETE FROM docs WHERE account=?1 AND region=?2 AND kind=?3 AND parent=?4");
    if (!st)
        return STORE_ERR;
    store_key k = {account, region, kind, parent};
    bind_key(st, &k);
    int rc = sqlite3_step(st);
    stmt_put(t->conn, st);
    return rc == SQLITE_DONE ? STORE_OK : STORE_ERR;
}

int store_doc_list(store_txn *t, const char *account, const char *region, const char *kind,
                   const char *parent, int64_t after_seq, bool desc, int limit,
                   store_doc_cb cb, void *ud)
{
    const char *sql;
    if (desc)
        sql = parent ? "SELECT seq, id, body FROM docs WHERE account=?1 AND region=?2 AND kind=?3 AND parent=?4"
                       " AND (?5 = 0 OR seq < ?5) ORDER BY seq DESC LIMIT ?6"
                     : "SELECT seq, id, body FROM docs WHERE account=?1 AND region=?2 AND kind=?3"
                       " AND (?5 = 0 OR seq < ?5) ORDER BY seq DESC LIMIT ?6";
    else
        sql = parent ? "SELECT seq, id, body FROM docs WHERE account=?1 AND region=?2 AND kind=?3 AND parent=?4"
                       " AND seq > ?5 ORDER BY seq ASC LIMIT ?6"
                     : "SELECT seq, id, body FROM docs WHERE account=?1 AND region=?2 AND kind=?3"
                       " AND seq > ?5 ORDER BY seq ASC LIMIT ?6";
    sqlite3_stmt *st = prep(t, sql);
    if (!st)
        return STORE_ERR;
    store_key k = {account, region, kind, parent};
    bind_key(st, &k);
    if (!parent)
        sqlite3_bind_null(st, 4);
    sqlite3_bind_int64(st, 5, after_seq);
    sqlite3_bind_int(st, 6, limit > 0 ? limit : -1);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (cb(ud, sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
               (const char *)sqlite3_column_text(st, 2))) {
            rc = SQLITE_DONE;
            break;
        }
    }
    stmt_put(t->conn, st);
    return rc == SQLITE_DONE ? STORE_OK : STORE_ERR;
}

/* ---------------------------------------------------------------- events */

/* Records are stored as evpack blobs (store/evpack.c): compressed,
 * together with their LookupEvents summary. Rows written before schema 2
 * hold the record as TEXT and are read as is. */
static int pack_record(const char *json, const char *summary, void **out, size_t *out_len)
{
    unsigned char *b = evpack_pack(json, summary, out_len);
    if (!b)
        return STORE_ERR;
    *out = b;
    return STORE_OK;
}

/* The record in column col of the current row: the TEXT itself (then
 * *summary_out is NULL), or the BLOB inflated into the connection's
 * buffer, record and summary (NULL when none) each NUL-terminated there,
 * valid until the next call on this connection. NULL when corrupt or out
 * of memory. summary_out may be NULL. */
static const char *record_text(store_conn *cn, sqlite3_stmt *st, int col, const char **summary_out)
{
    if (summary_out)
        *summary_out = NULL;
    if (sqlite3_column_type(st, col) != SQLITE_BLOB)
        return (const char *)sqlite3_column_text(st, col);
    const void *b = sqlite3_column_blob(st, col);
    int bn = sqlite3_column_bytes(st, col);
    const char *rec;
    if (!b || bn < 0 || evpack_unpack(&cn->zb, b, (size_t)bn, &rec, summary_out) != 0)
        return NULL;
    return rec;
}

/* Caches v -> id as pending (the table has room). Returns 0. */
static int val_intern_cache(store_conn *cn, const char *v, int64_t id)
{
    char *copy = strdup(v);
    if (!copy)
        return 0; /* not cached: still correct */
    uint32_t i = intern_slot(v);
    while (cn->it[i].v)
        i = (i + 1) & (INTERN_SLOTS - 1);
    cn->it[i].v = copy;
    cn->it[i].id = id;
    cn->it[i].pending = true;
    cn->it_n++;
    cn->it_pending++;
    return 0;
}

/* The id of an attribute value in `vals`: *id, 1 when found, 0 when the
 * value was never stored (then *id is 0), -1 on error. */
static int val_find(store_txn *t, const char *v, int64_t *id)
{
    *id = 0;
    sqlite3_stmt *st = prep(t, "SELECT id FROM vals WHERE v = ?1");
    if (!st)
        return -1;
    bind_text(st, 1, v);
    int rc = sqlite3_step(st), found = 0;
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        found = 1;
    } else if (rc != SQLITE_DONE) {
        found = -1;
    }
    stmt_put(t->conn, st);
    return found;
}

/* The writer's id for v, interned (inserted) when new. 0 or -1. */
static int val_intern(store_txn *t, const char *v, int64_t *id)
{
    store_conn *cn = t->conn;
    if (!cn->it && !(cn->it = calloc(INTERN_SLOTS, sizeof *cn->it)))
        return -1;
    uint32_t i = intern_slot(v);
    while (cn->it[i].v) {
        if (strcmp(cn->it[i].v, v) == 0) {
            *id = cn->it[i].id;
            return 0;
        }
        i = (i + 1) & (INTERN_SLOTS - 1);
    }
    int f = val_find(t, v, id);
    if (f < 0)
        return -1;
    if (f == 0) {
        sqlite3_stmt *st = prep(t, "INSERT INTO vals (v) VALUES (?1)");
        if (!st)
            return -1;
        bind_text(st, 1, v);
        int rc = sqlite3_step(st);
        stmt_put(cn, st);
        if (rc != SQLITE_DONE)
            return -1;
        *id = sqlite3_last_insert_rowid(t->db);
    }
    if (cn->it_n >= INTERN_SLOTS / 4 * 3) {
        if (cn->it_pending)
            return 0; /* full of this transaction's values: not cached */
        intern_clear(cn);
        if (!(cn->it = calloc(INTERN_SLOTS, sizeof *cn->it)))
            return 0;
    }
    return val_intern_cache(cn, v, *id);
}

/* Binds v's interned id (NULL for NULL) to st's parameter i. 0 or -1. */
static int bind_val(store_txn *t, sqlite3_stmt *st, int i, const char *v)
{
    if (!v)
        return sqlite3_bind_null(st, i) == SQLITE_OK ? 0 : -1;
    int64_t id;
    if (val_intern(t, v, &id))
        return -1;
    return sqlite3_bind_int64(st, i, id) == SQLITE_OK ? 0 : -1;
}

int store_event_append(store_txn *t, const store_event *ev, int64_t *seq_out)
{
    if (!t->writable)
        return STORE_ERR;
    if (t->fault_path && access(t->fault_path, F_OK) == 0)
        return STORE_ERR;
    size_t zlen = ev->packed_len;
    unsigned char *z = ev->packed ? NULL : evpack_pack(ev->json, ev->summary, &zlen);
    if (!z && !ev->packed)
        return STORE_ERR;
    sqlite3_stmt *st = prep(t, "INSERT INTO events (acct, region, time_ms, eid, name,"
                               " src, uname, akid, read_only, json)"
                               " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
    if (!st) {
        free(z);
        return STORE_ERR;
    }
    int64_t acct = 0, region = 0;
    int bad = val_intern(t, ev->account ? ev->account : "", &acct) ||
              val_intern(t, ev->region ? ev->region : "", &region) ||
              sqlite3_bind_int64(st, 1, acct) != SQLITE_OK || sqlite3_bind_int64(st, 2, region) != SQLITE_OK ||
              bind_val(t, st, 5, ev->event_name ? ev->event_name : "") ||
              bind_val(t, st, 6, ev->event_source ? ev->event_source : "") ||
              bind_val(t, st, 7, ev->username) || bind_val(t, st, 8, ev->access_key_id);
    sqlite3_bind_int64(st, 3, ev->time_ms);
    sqlite3_bind_int64(st, 4, eid_hash(ev->event_id ? ev->event_id : ""));
    sqlite3_bind_int(st, 9, ev->read_only ? 1 : 0);
    sqlite3_bind_blob(st, 10, ev->packed ? ev->packed : z, (int)zlen, SQLITE_STATIC);
    int rc = bad ? SQLITE_ERROR : sqlite3_step(st);
    stmt_put(t->conn, st);
    free(z);
    if (rc != SQLITE_DONE)
        return STORE_ERR;
    int64_t seq = sqlite3_last_insert_rowid(t->db);
    if (seq_out)
        *seq_out = seq;
    for (int i = 0; i < ev->n_res; i++) {
        st = prep(t, "INSERT INTO event_resources (seq, acct, region, time_ms, rtype, rname)"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
        if (!st)
            return STORE_ERR;
        sqlite3_bind_int64(st, 1, seq);
        sqlite3_bind_int64(st, 2, acct);
        sqlite3_bind_int64(st, 3, region);
        sqlite3_bind_int64(st, 4, ev->time_ms);
        bad = bind_val(t, st, 5, ev->res_types[i] ? ev->res_types[i] : "") ||
              bind_val(t, st, 6, ev->res_names[i] ? ev->res_names[i] : "");
        rc = bad ? SQLITE_ERROR : sqlite3_step(st);
        stmt_put(t->conn, st);
        if (rc != SQLITE_DONE)
            return STORE_ERR;
    }
    return STORE_OK;
}

static const char *attr_column(store_attr a)
{
    switch (a) {
    case STORE_ATTR_EVENT_ID: return "eid";
    case STORE_ATTR_EVENT_NAME: return "name";
    case STORE_ATTR_READ_ONLY: return "read_only";
    case STORE_ATTR_USERNAME: return "uname";
    case STORE_ATTR_EVENT_SOURCE: return "src";
    case STORE_ATTR_ACCESS_KEY_ID: return "akid";
    case STORE_ATTR_RESOURCE_TYPE: return "rtype";
    case STORE_ATTR_RESOURCE_NAME: return "rname";
    default: return NULL;
    }
}

int store_event_lookup(store_txn *t, const store_lookup *q, store_event_cb cb, void *ud)
{
    char sql[768];
    const char *col = attr_column(q->attr);
    const char *cursor = q->cur_seq > 0 ? " AND (e.time_ms < ?5 OR (e.time_ms = ?5 AND e.seq < ?6))" : "";
    bool by_resource = q->attr == STORE_ATTR_RESOURCE_TYPE || q->attr == STORE_ATTR_RESOURCE_NAME;
    if (by_resource) {
        /* One row per matching resource, streamed from the resource index
         * newest first (CROSS JOIN keeps it the outer loop), so a page costs
         * `limit` index steps whatever the journal's size. An event's rows
         * are adjacent (same time and seq): the loop below keeps the first.
         * (A DISTINCT ... LIMIT subquery sorted every matching row first.) */
        const char *c2 = q->cur_seq > 0 ? " AND (r.time_ms < ?5 OR (r.time_ms = ?5 AND r.seq < ?6))" : "";
        snprintf(sql, sizeof sql,
                 "SELECT e.seq, e.time_ms, e.json FROM event_resources r CROSS JOIN events e ON e.seq = r.seq"
                 " WHERE r.acct=?1 AND r.region=?2 AND r.%s = ?7 AND r.time_ms BETWEEN ?3 AND ?4%s"
                 " ORDER BY r.time_ms DESC, r.seq DESC",
                 col, c2);
    } else if (col) {
        snprintf(sql, sizeof sql,
                 "SELECT e.seq, e.time_ms, e.json FROM events e WHERE e.acct=?1 AND e.region=?2"
                 " AND e.%s = ?7 AND e.time_ms BETWEEN ?3 AND ?4%s"
                 " ORDER BY e.time_ms DESC, e.seq DESC LIMIT ?8",
                 col, cursor);
    } else {
        snprintf(sql, sizeof sql,
                 "SELECT e.seq, e.time_ms, e.json FROM events e WHERE e.acct=?1 AND e.region=?2"
                 " AND e.time_ms BETWEEN ?3 AND ?4%s"
                 " ORDER BY e.time_ms DESC, e.seq DESC LIMIT ?8",
                 cursor);
    }
    /* the values' ids: a value never stored matches nothing */
    int64_t acct, region, vid = 0;
    int f = val_find(t, q->account ? q->account : "", &acct), g = val_find(t, q->region ? q->region : "", &region);
    int h = 1;
    if (col && q->attr != STORE_ATTR_READ_ONLY && q->attr != STORE_ATTR_EVENT_ID)
        h = val_find(t, q->value ? q->value : "", &vid);
    if (f < 0 || g < 0 || h < 0)
        return STORE_ERR;
    if (!f || !g || !h)
        return STORE_OK;
    /* an EventId is looked up by its hash; the record's own eventID decides */
    char eid_needle[160] = "";
    if (q->attr == STORE_ATTR_EVENT_ID) {
        const char *v = q->value ? q->value : "";
        vid = eid_hash(v);
        if ((size_t)snprintf(eid_needle, sizeof eid_needle, "\"eventID\":\"%s\"", v) >= sizeof eid_needle)
            return STORE_OK; /* no EventId is that long */
    }
    sqlite3_stmt *st = prep(t, sql);
    if (!st)
        return STORE_ERR;
    sqlite3_bind_int64(st, 1, acct);
    sqlite3_bind_int64(st, 2, region);
    sqlite3_bind_int64(st, 3, q->start_ms);
    sqlite3_bind_int64(st, 4, q->end_ms);
    if (q->cur_seq > 0) {
        sqlite3_bind_int64(st, 5, q->cur_time_ms);
        sqlite3_bind_int64(st, 6, q->cur_seq);
    }
    if (q->attr == STORE_ATTR_READ_ONLY)
        sqlite3_bind_int(st, 7, q->value && strcmp(q->value, "true") == 0 ? 1 : 0);
    else if (col)
        sqlite3_bind_int64(st, 7, vid);
    int limit = q->limit > 0 ? q->limit : 50;
    if (!by_resource)
        sqlite3_bind_int(st, 8, limit);
    int rc, emitted = 0;
    int64_t prev = -1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(st, 0);
        if (by_resource) {
            if (seq == prev)
                continue;
            prev = seq;
            if (emitted == limit) {
                rc = SQLITE_DONE;
                break;
            }
        }
        const char *summary;
        const char *rec = record_text(t->conn, st, 2, &summary);
        if (!rec) {
            rc = SQLITE_CORRUPT;
            break;
        }
        if (eid_needle[0] && !strstr(rec, eid_needle))
            continue; /* another EventId with the same hash */
        emitted++;
        if (cb(ud, seq, sqlite3_column_int64(st, 1), rec, summary)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    stmt_put(t->conn, st);
    return rc == SQLITE_DONE ? STORE_OK : STORE_ERR;
}

int64_t store_event_prune(store_txn *t, int64_t cutoff_ms, int max_rows)
{
    if (!t->writable)
        return STORE_ERR;
    /* Events are appended as they happen, so seq follows time and the old
     * events are the first ones in seq order: look at the first max_rows
     * rows of the table (a rowid range) and delete those older than the
     * cutoff. The former "WHERE time_ms < ? ORDER BY time_ms" scanned a
     * whole index and sorted it, on the writer, at every start and every
     * 10 minutes (seconds with 10M events). An event stamped out of order
     * (clock stepped back) is pruned in a later round at worst.
     * The first row alone tells whether anything is old: when it is not
     * (every prune of a store younger than the retention, the one at each
     * start among them), the batch's rows are not read at all. Reading
     * them filled the writer's page cache (2 MB) at every start on a big
     * store, for nothing: the idle RSS of bench/run's 10M-event store. */
    sqlite3_stmt *st = prep(t, "SELECT time_ms FROM events ORDER BY seq LIMIT 1");
    if (!st)
        return STORE_ERR;
    int rc = sqlite3_step(st);
    bool old = rc == SQLITE_ROW && sqlite3_column_int64(st, 0) < cutoff_ms;
    stmt_put(t->conn, st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return STORE_ERR;
    if (!old)
        return 0;
    st = prep(t, "DELETE FROM event_resources WHERE seq IN (SELECT seq FROM"
                               " (SELECT seq, time_ms FROM events ORDER BY seq LIMIT ?2) WHERE time_ms < ?1)");
    if (!st)
        return STORE_ERR;
    sqlite3_bind_int64(st, 1, cutoff_ms);
    sqlite3_bind_int(st, 2, max_rows);
    rc = sqlite3_step(st);
    stmt_put(t->conn, st);
    if (rc != SQLITE_DONE)
        return STORE_ERR;
    st = prep(t, "DELETE FROM events WHERE seq IN (SELECT seq FROM"
                 " (SELECT seq, time_ms FROM events ORDER BY seq LIMIT ?2) WHERE time_ms < ?1)");
    if (!st)
        return STORE_ERR;
    sqlite3_bind_int64(st, 1, cutoff_ms);
    sqlite3_bind_int(st, 2, max_rows);
    rc = sqlite3_step(st);
    stmt_put(t->conn, st);
    return rc == SQLITE_DONE ? sqlite3_changes(t->db) : STORE_ERR;
}

int64_t store_event_count(store_txn *t)
{
    sqlite3_stmt *st = prep(t, "SELECT count(*) FROM events");
    if (!st)
        return STORE_ERR;
    int64_t n = STORE_ERR;
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    stmt_put(t->conn, st);
    return n;
}

int store_event_scan(store_txn *t, int64_t after_seq, int limit, store_scan_cb cb, void *ud)
{
    sqlite3_stmt *st = prep(t, "SELECT e.seq, a.v, r.v, e.time_ms, e.json FROM events e"
                               " CROSS JOIN vals a CROSS JOIN vals r ON a.id = e.acct AND r.id = e.region"
                               " WHERE e.seq > ?1 ORDER BY e.seq LIMIT ?2");
    if (!st)
        return STORE_ERR;
    sqlite3_bind_int64(st, 1, after_seq);
    sqlite3_bind_int(st, 2, limit > 0 ? limit : -1);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *rec = record_text(t->conn, st, 4, NULL);
        if (!rec) {
            rc = SQLITE_CORRUPT;
            break;
        }
        if (cb(ud, sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
               (const char *)sqlite3_column_text(st, 2), sqlite3_column_int64(st, 3), rec)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    stmt_put(t->conn, st);
    return rc == SQLITE_DONE ? STORE_OK : STORE_ERR;
}

int64_t store_event_max_seq(store_txn *t)
{
    sqlite3_stmt *st = prep(t, "SELECT IFNULL(MAX(seq), 0) FROM events");
    if (!st)
        return STORE_ERR;
    int64_t n = STORE_ERR;
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    stmt_put(t->conn, st);
    return n;
}

int64_t store_event_next_seq(store_txn *t)
{
    /* AUTOINCREMENT: the next rowid is one past the larger of the table's
     * max and sqlite_sequence's record (which survives deletions). */
    sqlite3_stmt *st = prep(t, "SELECT MAX(IFNULL((SELECT MAX(seq) FROM events), 0),"
                               " IFNULL((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)) + 1");
    if (!st)
        return STORE_ERR;
    int64_t n = STORE_ERR;
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    stmt_put(t->conn, st);
    return n;
}
