/*
 * store_pg.c: the PostgreSQL store, so several greentrail nodes can share
 * one database (libpq).
 *
 * What: the same documents, event journal and LookupEvents indexes as the
 * SQLite backend (store_sqlite.c), the same versioned migrations (kept in
 * table schema_version, applied under an advisory lock so nodes starting
 * together migrate once), leases for background work, and the event
 * tables partitioned by month.
 *
 * Writes: like SQLite, one writer thread per node with one connection runs
 * every waiting job inside ONE transaction, each job in its own SAVEPOINT,
 * and commits once (group commit; synchronous_commit=on, so the commit
 * returns after the WAL is flushed). A job's caller is woken after COMMIT
 * returned. A statement error poisons a PostgreSQL transaction until the
 * savepoint is rolled back, so a job that returns GT_OK while its
 * transaction is in the error state is treated as failed (rolled back to
 * its savepoint, GT_E_UNAVAILABLE): a batch never commits as a silent
 * ROLLBACK. Reads use a small pool of connections, each read in a
 * REPEATABLE READ READ ONLY transaction (one consistent snapshot).
 *
 * Round trips are the cost of a call here (SQLite is in-process), so
 * statements without an answer worth waiting for are deferred: BEGIN, a
 * job's SAVEPOINT and the previous job's RELEASE are queued on the
 * transaction (pg_txn.defer) and sent with the job's first statement in
 * one libpq pipeline (pq_t); a job that sends nothing leaves no trace. A
 * reader sends its COMMIT without waiting and reads the answer at its
 * next use. A one-statement read is one round trip.
 *
 * The commit-order watermark (store_event_scan, store_event_max_seq).
 * Consumers follow the journal by seq with a cursor ("after seq N"). With
 * several nodes (several writing transactions at once) seqs taken from a
 * sequence can commit out of order: A takes 10, B takes 11, B commits, a
 * consumer reads 11 and moves its cursor to 11, A commits 10: skipped
 * forever. Filtering rows by "xid < pg_snapshot_xmin" alone is not
 * enough, because xid order and sequence order differ (B may have got its
 * xid before A while A took the lower seq). So the seq is MADE from the
 * transaction id: seq = (xid8 of the writing transaction << 20) + n, n =
 * 1, 2, ... within the transaction (at most 2^20 - 1 events per
 * transaction; xid8 is 64-bit and never wraps, < 2^43 for ever in
 * practice). Seq order is then xid order, and a scan returns only rows
 * with seq < (pg_snapshot_xmin(pg_current_snapshot()) << 20): every
 * transaction with an xid below the snapshot's xmin has finished (it is
 * committed and visible in this snapshot, or rolled back), and every
 * transaction still running or starting later has xid >= xmin, so its
 * seqs are above everything returned. Hence a returned seq N is never
 * followed by a later commit of a seq < N. The price: while a write
 * transaction is open anywhere in the cluster, newer events wait for it
 * (milliseconds with group commit; a long transaction in another database
 * of the same cluster delays the feed too). Seqs are not dense.
 *
 * Partitions: events and event_resources are partitioned by RANGE on
 * time_ms, one partition per UTC month (events_pYYYYMM), plus a DEFAULT
 * partition for times outside them. The writer creates the partitions of
 * this month and the next two at open and then hourly, outside any batch
 * (DDL locks the parent table), under an advisory lock. Retention
 * (store_event_prune) drops whole partitions whose month ended before the
 * cutoff, then deletes older rows left in the other partitions in
 * batches.
 *
 * Invariants:
 *  - Every event has seq = xid << 20 | n of the transaction that wrote it.
 *  - A job's changes and its event record commit together or not at all.
 *  - Reader connections never write; each PGconn is used by one thread at
 *    a time (its mutex, or the writer thread).
 */
#include <errno.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"
#include "store/store_int.h"
#include "util/gtutil.h"

/* Each job's savepoint is a subtransaction; past 64 per transaction
 * PostgreSQL's subxid cache overflows and every snapshot gets slower. */
#define PG_MAX_BATCH 64
#define PG_READERS 4
#define PG_SEQ_SHIFT 20
#define PG_SEQ_PER_TXN (1LL << PG_SEQ_SHIFT)
#define PG_MIGRATE_LOCK 7263514201LL
#define PG_PARTITION_LOCK 7263514202LL
#define PG_PARTITION_CHECK_MS (3600LL * 1000)

typedef struct pg_store pg_store;

typedef struct pg_txn {
    pg_store *s;
    PGconn *c;
    bool writable;
    int sp_depth;
    int64_t seq_base;   /* xid << PG_SEQ_SHIFT once known in this transaction, else 0 */
    int64_t n_seq;
    /* Statements (no parameters) not sent yet: they go in one round trip
     * with the next statement (BEGIN, SAVEPOINT job, ...). */
    const char *defer[3];
    int ndefer;
    /* The connection was reset under this transaction: every further
     * statement fails (it would otherwise run outside the transaction). */
    bool broken;
} pg_txn;

typedef struct pg_job {
    store_be_job fn;
    void *ud;
    gt_err result;
    bool done;
    struct pg_job *next;
} pg_job;

typedef struct pg_reader {
    pthread_mutex_t mu;
    PGconn *c;
    bool pending;   /* a COMMIT was sent and its answer not read yet */
} pg_reader;

struct pg_store {
    char url[4096];
    PGconn *w;
    pthread_t writer;
    pthread_mutex_t mu;
    pthread_cond_t work;
    pthread_cond_t done;
    pg_job *head, *tail;
    bool stopping;
    pg_reader readers[PG_READERS];
    unsigned next_reader;
    pthread_mutex_t rr_mu;
    int64_t partitions_checked_ms;
    /* Test-only: with GREENTRAIL_TEST_FAULTS=1 at open, event appends fail
     * while the file DATA_DIR/fault-event-append exists (as store_sqlite.c). */
    char fault_path[4096];
};

/* ---------------------------------------------------------------- schema */

static const char *const migrations[] = {
    /* 1: documents, the event journal (partitioned by month), leases */
    "CREATE TABLE docs ("
    "  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  account text NOT NULL, region text NOT NULL, kind text NOT NULL, id text NOT NULL,"
    "  parent text, body text NOT NULL,"
    "  UNIQUE (account, region, kind, id));"
    "CREATE INDEX docs_parent ON docs (account, region, kind, parent, seq);"
    "CREATE TABLE events ("
    "  seq bigint NOT NULL,"
    "  account text NOT NULL, region text NOT NULL, time_ms bigint NOT NULL,"
    "  event_id text NOT NULL, event_name text NOT NULL, event_source text NOT NULL,"
    "  username text, access_key_id text, read_only boolean NOT NULL, json text NOT NULL,"
    "  PRIMARY KEY (time_ms, seq)) PARTITION BY RANGE (time_ms);"
    "CREATE INDEX ev_seq ON events (seq);"
    "CREATE INDEX ev_time ON events (account, region, time_ms, seq);"
    "CREATE INDEX ev_id ON events (account, region, event_id, time_ms, seq);"
    "CREATE INDEX ev_name ON events (account, region, event_name, time_ms, seq);"
    "CREATE INDEX ev_user ON events (account, region, username, time_ms, seq);"
    "CREATE INDEX ev_source ON events (account, region, event_source, time_ms, seq);"
    "CREATE INDEX ev_key ON events (account, region, access_key_id, time_ms, seq);"
    "CREATE INDEX ev_ro ON events (account, region, read_only, time_ms, seq);"
    "CREATE TABLE events_pdefault PARTITION OF events DEFAULT;"
    "CREATE TABLE event_resources ("
    "  seq bigint NOT NULL, account text NOT NULL, region text NOT NULL, time_ms bigint NOT NULL,"
    "  rtype text NOT NULL, rname text NOT NULL) PARTITION BY RANGE (time_ms);"
    "CREATE INDEX evr_type ON event_resources (account, region, rtype, time_ms, seq);"
    "CREATE INDEX evr_name ON event_resources (account, region, rname, time_ms, seq);"
    "CREATE INDEX evr_seq ON event_resources (time_ms, seq);"
    "CREATE TABLE event_resources_pdefault PARTITION OF event_resources DEFAULT;"
    "CREATE TABLE leases (name text PRIMARY KEY, holder text NOT NULL, expires_ms bigint NOT NULL);",
    /* 2: the LookupEvents summary beside each record (NULL for events
     * stored before: summarised from the record when looked up). Adding a
     * nullable column rewrites nothing, whatever the journal's size. */
    "ALTER TABLE events ADD COLUMN summary text;",
};

static void quiet_notices(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;   /* "relation ... already exists, skipping" and the like */
}

static void log_pg(PGconn *c, const char *what)
{
    const char *m = PQerrorMessage(c);
    size_t n = strcspn(m, "\n");
    fprintf(stderr, "greentrail: postgresql: %s: %.*s\n", what, (int)n, m);
}

/* Run a parameterized statement; NULL (logged) unless it succeeded. */
static PGresult *pq(PGconn *c, const char *sql, int n, const char *const *vals)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, vals, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return r;
    log_pg(c, sql);
    PQclear(r);
    return NULL;
}

/* Run a command string (may hold several commands); 0 on success. */
static int pexec(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    PQclear(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return 0;
    log_pg(c, sql);
    return -1;
}

/* Settings of every session (also after a reset). 0 on success. */
static int session_setup(PGconn *c)
{
    PQsetNoticeProcessor(c, quiet_notices, NULL);
    if (PQsetClientEncoding(c, "UTF8") != 0)
        return -1;
    return pexec(c, "SET synchronous_commit = on; SET application_name = 'greentrail'");
}

/* Run sql in transaction t, after (and in the same round trip as) its
 * deferred statements, using libpq's pipeline mode. NULL (logged) unless
 * every one of them succeeded. */
static PGresult *pq_t(pg_txn *t, const char *sql, int n, const char *const *vals)
{
    if (t->broken)
        return NULL;
    if (t->ndefer == 0)
        return pq(t->c, sql, n, vals);
    PGconn *c = t->c;
    int nd = t->ndefer;
    t->ndefer = 0;
    if (PQenterPipelineMode(c) != 1) {
        log_pg(c, "pipeline mode");
        return NULL;
    }
    bool sent = true;
    for (int i = 0; i < nd && sent; i++)
        sent = PQsendQueryParams(c, t->defer[i], 0, NULL, NULL, NULL, NULL, 0) == 1;
    sent = sent && PQsendQueryParams(c, sql, n, NULL, vals, NULL, NULL, 0) == 1 && PQpipelineSync(c) == 1;
    if (!sent) {   /* the connection is broken: start over on a fresh one */
        log_pg(c, sql);
        PQreset(c);
        if (PQstatus(c) == CONNECTION_OK)
            session_setup(c);
        t->broken = true;
        return NULL;
    }
    PGresult *out = NULL;
    bool ok = true;
    for (int i = 0; i <= nd; i++) {
        PGresult *r = PQgetResult(c);
        ExecStatusType st = PQresultStatus(r);
        bool good = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
        if (!good && ok && st != PGRES_PIPELINE_ABORTED)
            log_pg(c, i < nd ? t->defer[i] : sql);
        ok = ok && good;
        if (i == nd && ok)
            out = r;
        else
            PQclear(r);
        PGresult *end = PQgetResult(c);   /* NULL ends each statement's results */
        PQclear(end);
    }
    PQclear(PQgetResult(c));   /* PGRES_PIPELINE_SYNC */
    if (PQexitPipelineMode(c) != 1)
        log_pg(c, "pipeline mode");
    return out;
}

/* pexec in transaction t: its deferred statements and sql, one round trip. */
static int pexec_t(pg_txn *t, const char *sql)
{
    if (t->broken)
        return -1;
    if (t->ndefer == 0)
        return pexec(t->c, sql);
    char buf[1024];
    size_t off = 0;
    for (int i = 0; i < t->ndefer; i++) {
        int w = snprintf(buf + off, sizeof buf - off, "%s; ", t->defer[i]);
        if (w < 0 || (size_t)w >= sizeof buf - off)
            return -1;
        off += (size_t)w;
    }
    int w = snprintf(buf + off, sizeof buf - off, "%s", sql);
    if (w < 0 || (size_t)w >= sizeof buf - off)
        return -1;
    t->ndefer = 0;
    return pexec(t->c, buf);
}

static int64_t val_i64(const PGresult *r, int row, int col)
{
    const char *v = PQgetvalue(r, row, col);
    int64_t n = 0;
    if (!gt_parse_i64(v, strlen(v), &n))
        return 0;
    return n;
}

static int64_t cmd_rows(const PGresult *r)
{
    const char *v = PQcmdTuples((PGresult *)r);
    int64_t n = 0;
    return gt_parse_i64(v, strlen(v), &n) ? n : 0;
}

static PGconn *connect_db(const char *url, char *err, size_t errcap)
{
    PGconn *c = PQconnectdb(url);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        const char *m = c ? PQerrorMessage(c) : "out of memory";
        size_t n = strcspn(m, "\n");
        snprintf(err, errcap, "cannot connect to PostgreSQL: %.*s", (int)n, m);
        PQfinish(c);
        return NULL;
    }
    if (session_setup(c) != 0) {
        snprintf(err, errcap, "cannot configure the PostgreSQL session");
        PQfinish(c);
        return NULL;
    }
    return c;
}

/* A connection that broke (server restart, network) is reset once. */
static bool conn_ok(PGconn *c)
{
    if (PQstatus(c) == CONNECTION_OK)
        return true;
    PQreset(c);
    return PQstatus(c) == CONNECTION_OK && session_setup(c) == 0;
}

static int migrate(PGconn *c, char *err, size_t errcap)
{
    char sql[160];
    snprintf(sql, sizeof sql, "BEGIN; SELECT pg_advisory_xact_lock(%lld)", (long long)PG_MIGRATE_LOCK);
    if (pexec(c, sql) ||
        pexec(c, "CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)")) {
        snprintf(err, errcap, "cannot prepare migrations: %s", PQerrorMessage(c));
        pexec(c, "ROLLBACK");
        return -1;
    }
    PGresult *r = pq(c, "SELECT coalesce(max(version), 0) FROM schema_version", 0, NULL);
    int64_t version = r ? val_i64(r, 0, 0) : -1;
    PQclear(r);
    int n = (int)(sizeof migrations / sizeof migrations[0]);
    if (version < 0 || version > n) {
        snprintf(err, errcap, version < 0 ? "cannot read the schema version"
                                          : "store schema version is newer than this binary");
        pexec(c, "ROLLBACK");
        return -1;
    }
    for (int i = (int)version; i < n; i++) {
        char upd[96];
        snprintf(upd, sizeof upd, "DELETE FROM schema_version; INSERT INTO schema_version VALUES (%d)", i + 1);
        if (pexec(c, migrations[i]) || pexec(c, upd)) {
            snprintf(err, errcap, "migration %d failed: %s", i + 1, PQerrorMessage(c));
            pexec(c, "ROLLBACK");
            return -1;
        }
    }
    if (pexec(c, "COMMIT")) {
        snprintf(err, errcap, "migration commit failed: %s", PQerrorMessage(c));
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- partitions */

/* Epoch ms of the first instant of month m (0-based, may be out of range)
 * of year y, UTC. */
static int64_t month_start_ms(int y, int m)
{
    y += m / 12;
    m %= 12;
    if (m < 0) {
        m += 12;
        y--;
    }
    struct tm tm = {.tm_year = y - 1900, .tm_mon = m, .tm_mday = 1};
    return (int64_t)timegm(&tm) * 1000;
}

static void year_month(int64_t ms, int *y, int *m)
{
    time_t sec = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    *y = tm.tm_year + 1900;
    *m = tm.tm_mon;
}

/* Create the partitions of this month and the next two (idempotent). Runs
 * on the writer connection outside any batch. */
static void ensure_partitions(pg_store *s, int64_t now_ms)
{
    int y, m;
    year_month(now_ms, &y, &m);
    for (int k = 0; k < 3; k++) {
        int64_t from = month_start_ms(y, m + k), to = month_start_ms(y, m + k + 1);
        int py, pm;
        year_month(from, &py, &pm);
        char sql[1024];
        snprintf(sql, sizeof sql, "SELECT to_regclass('events_p%04d%02d') IS NOT NULL"
                                  " AND to_regclass('event_resources_p%04d%02d') IS NOT NULL",
                 py, pm + 1, py, pm + 1);
        PGresult *r = pq(s->w, sql, 0, NULL);
        bool have = r && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
        PQclear(r);
        if (have)
            continue;   /* no DDL (and no lock on the parent) when nothing is missing */
        snprintf(sql, sizeof sql,
                 "BEGIN; SET LOCAL lock_timeout = '2s'; SELECT pg_advisory_xact_lock(%lld);"
                 "CREATE TABLE IF NOT EXISTS events_p%04d%02d PARTITION OF events"
                 " FOR VALUES FROM (%lld) TO (%lld);"
                 "CREATE TABLE IF NOT EXISTS event_resources_p%04d%02d PARTITION OF event_resources"
                 " FOR VALUES FROM (%lld) TO (%lld); COMMIT",
                 (long long)PG_PARTITION_LOCK, py, pm + 1, (long long)from, (long long)to, py, pm + 1,
                 (long long)from, (long long)to);
        if (pexec(s->w, sql))
            pexec(s->w, "ROLLBACK");   /* retried at the next check */
    }
    s->partitions_checked_ms = now_ms;
}

/* ---------------------------------------------------------------- writer */

static int pg_sp_rollback(void *bt);

static void *writer_main(void *arg)
{
    pg_store *s = arg;
    pg_txn t = {.s = s, .c = s->w, .writable = true};
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->head && !s->stopping)
            pthread_cond_wait(&s->work, &s->mu);
        if (!s->head && s->stopping)
            break;
        pg_job *batch = s->head, *last = NULL;
        int n = 0;
        for (pg_job *j = batch; j && n < PG_MAX_BATCH; j = j->next, n++)
            last = j;
        s->head = last->next;
        if (!s->head)
            s->tail = NULL;
        last->next = NULL;
        pthread_mutex_unlock(&s->mu);

        bool ok = conn_ok(s->w);
        if (ok && gt_now_ms() - s->partitions_checked_ms >= PG_PARTITION_CHECK_MS)
            ensure_partitions(s, gt_now_ms());
        t.seq_base = 0;
        t.n_seq = 0;
        t.broken = false;
        /* Round trips matter: BEGIN, each job's SAVEPOINT and the previous
         * job's RELEASE are deferred and go with the job's first statement
         * (pq_t); COMMIT releases the last savepoint. A job that runs no
         * statement leaves no trace on the server. */
        bool started = false, sp_open = false;
        for (pg_job *j = batch; j; j = j->next) {
            if (!ok) {
                j->result = GT_E_UNAVAILABLE;
                continue;
            }
            t.ndefer = 0;
            if (!started)
                t.defer[t.ndefer++] = "BEGIN ISOLATION LEVEL READ COMMITTED";
            if (sp_open)
                t.defer[t.ndefer++] = "RELEASE SAVEPOINT job";
            t.defer[t.ndefer++] = "SAVEPOINT job";
            t.sp_depth = 0;
            j->result = j->fn(&t, j->ud);
            while (t.sp_depth > 0)
                pg_sp_rollback(&t);
            if (t.broken) {   /* the connection was reset: the transaction is gone */
                j->result = GT_E_UNAVAILABLE;
                ok = false;
                started = true;
                continue;
            }
            if (t.ndefer > 0) {   /* nothing was sent for this job */
                t.ndefer = 0;
                continue;
            }
            started = sp_open = true;
            if (j->result == GT_OK && PQtransactionStatus(s->w) != PQTRANS_INTRANS) {
                fprintf(stderr, "greentrail: postgresql: a job succeeded after a failed statement; rolled back\n");
                j->result = GT_E_UNAVAILABLE;
            }
            if (j->result != GT_OK) {
                if (pexec(s->w, "ROLLBACK TO SAVEPOINT job; RELEASE SAVEPOINT job") != 0)
                    ok = false;
                sp_open = false;
            }
        }
        if (!started) {   /* no job ran a statement: nothing to commit */
            if (!ok)
                for (pg_job *j = batch; j; j = j->next)
                    j->result = GT_E_UNAVAILABLE;
            pthread_mutex_lock(&s->mu);
            for (pg_job *j = batch; j; j = j->next)
                j->done = true;
            pthread_cond_broadcast(&s->done);
            continue;
        }
        if (ok) {
            PGresult *r = PQexec(s->w, "COMMIT");
            ok = PQresultStatus(r) == PGRES_COMMAND_OK && strcmp(PQcmdStatus(r), "COMMIT") == 0;
            if (!ok)
                log_pg(s->w, "COMMIT");
            PQclear(r);
        }
        if (!ok) {
            if (PQstatus(s->w) == CONNECTION_OK && PQtransactionStatus(s->w) != PQTRANS_IDLE)
                pexec(s->w, "ROLLBACK");
            for (pg_job *j = batch; j; j = j->next)
                j->result = GT_E_UNAVAILABLE;
        }

        pthread_mutex_lock(&s->mu);
        for (pg_job *j = batch; j; j = j->next)
            j->done = true;
        pthread_cond_broadcast(&s->done);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static gt_err pg_run(void *be, store_be_job fn, void *ud)
{
    pg_store *s = be;
    pg_job j = {.fn = fn, .ud = ud, .result = GT_E_UNAVAILABLE};
    pthread_mutex_lock(&s->mu);
    if (s->stopping) {
        pthread_mutex_unlock(&s->mu);
        return GT_E_UNAVAILABLE;
    }
    if (s->tail)
        s->tail->next = &j;
    else
        s->head = &j;
    s->tail = &j;
    pthread_cond_signal(&s->work);
    while (!j.done)
        pthread_cond_wait(&s->done, &s->mu);
    pthread_mutex_unlock(&s->mu);
    return j.result;
}

static gt_err pg_read(void *be, store_be_job fn, void *ud)
{
    pg_store *s = be;
    pthread_mutex_lock(&s->rr_mu);
    pg_reader *r = &s->readers[s->next_reader++ % PG_READERS];
    pthread_mutex_unlock(&s->rr_mu);
    pthread_mutex_lock(&r->mu);
    if (r->pending) {   /* the previous read's COMMIT answer */
        PGresult *x;
        while ((x = PQgetResult(r->c)))
            PQclear(x);
        r->pending = false;
    }
    /* BEGIN goes with the job's first statement; COMMIT is sent without
     * waiting (its answer is read at the next use): one round trip for a
     * one-statement read. */
    pg_txn t = {.s = s, .c = r->c, .writable = false,
                .defer = {"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"}, .ndefer = 1};
    gt_err e = GT_E_UNAVAILABLE;
    if (conn_ok(r->c)) {
        e = fn(&t, ud);
        if (t.ndefer == 0 && PQstatus(r->c) == CONNECTION_OK &&
            PQsendQuery(r->c, PQtransactionStatus(r->c) == PQTRANS_INERROR ? "ROLLBACK" : "COMMIT") == 1)
            r->pending = true;
    }
    pthread_mutex_unlock(&r->mu);
    return e;
}

static int pg_sp_begin(void *bt)
{
    pg_txn *t = bt;
    if (pexec_t(t, "SAVEPOINT h"))
        return STORE_ERR;
    t->sp_depth++;
    return STORE_OK;
}

static int pg_sp_rollback(void *bt)
{
    pg_txn *t = bt;
    if (t->sp_depth <= 0)
        return STORE_ERR;
    t->sp_depth--;
    return pexec_t(t, "ROLLBACK TO SAVEPOINT h; RELEASE SAVEPOINT h") ? STORE_ERR : STORE_OK;
}

static int pg_sp_release(void *bt)
{
    pg_txn *t = bt;
    if (t->sp_depth <= 0)
        return STORE_ERR;
    t->sp_depth--;
    return pexec_t(t, "RELEASE SAVEPOINT h") ? STORE_ERR : STORE_OK;
}

/* ---------------------------------------------------------------- open/close */

static void free_store(pg_store *s)
{
    for (int i = 0; i < PG_READERS; i++) {
        PQfinish(s->readers[i].c);
        pthread_mutex_destroy(&s->readers[i].mu);
    }
    PQfinish(s->w);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->rr_mu);
    pthread_cond_destroy(&s->work);
    pthread_cond_destroy(&s->done);
    free(s);
}

static void *pg_open(const char *url, const char *data_dir, char *err, size_t errcap)
{
    pg_store *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->rr_mu, NULL);
    pthread_cond_init(&s->work, NULL);
    pthread_cond_init(&s->done, NULL);
    for (int i = 0; i < PG_READERS; i++)
        pthread_mutex_init(&s->readers[i].mu, NULL);
    if (!gt_strlcpy(s->url, url, sizeof s->url)) {
        snprintf(err, errcap, "--store: URL too long");
        free_store(s);
        return NULL;
    }
    if (data_dir && mkdir(data_dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errcap, "cannot create %s: %s", data_dir, strerror(errno));
        free_store(s);
        return NULL;
    }
    const char *faults = getenv("GREENTRAIL_TEST_FAULTS");
    if (faults && strcmp(faults, "1") == 0 && data_dir)
        snprintf(s->fault_path, sizeof s->fault_path, "%s/fault-event-append", data_dir);
    s->w = connect_db(s->url, err, errcap);
    if (!s->w || migrate(s->w, err, errcap)) {
        free_store(s);
        return NULL;
    }
    ensure_partitions(s, gt_now_ms());
    for (int i = 0; i < PG_READERS; i++) {
        s->readers[i].c = connect_db(s->url, err, errcap);
        if (!s->readers[i].c) {
            free_store(s);
            return NULL;
        }
    }
    if (pthread_create(&s->writer, NULL, writer_main, s) != 0) {
        snprintf(err, errcap, "cannot start the store writer");
        free_store(s);
        return NULL;
    }
    return s;
}

static void pg_close(void *be)
{
    pg_store *s = be;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_signal(&s->work);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->writer, NULL);
    free_store(s);
}

/* ---------------------------------------------------------------- documents */

static int pg_doc_get(void *bt, const store_key *k, char **body_out)
{
    pg_txn *t = bt;
    const char *v[4] = {k->account, k->region, k->kind, k->id};
    PGresult *r = pq_t(t, "SELECT body FROM docs WHERE account=$1 AND region=$2 AND kind=$3 AND id=$4", 4, v);
    if (!r)
        return STORE_ERR;
    int ret = STORE_NOTFOUND;
    if (PQntuples(r) > 0) {
        *body_out = strdup(PQgetvalue(r, 0, 0));
        ret = *body_out ? STORE_OK : STORE_ERR;
    }
    PQclear(r);
    return ret;
}

static int pg_doc_put(void *bt, const store_key *k, const char *parent, const char *body)
{
    pg_txn *t = bt;
    if (!t->writable)
        return STORE_ERR;
    const char *v[6] = {k->account, k->region, k->kind, k->id, parent, body};
    PGresult *r = pq_t(t, "INSERT INTO docs (account, region, kind, id, parent, body)"
                           " VALUES ($1, $2, $3, $4, $5, $6)"
                           " ON CONFLICT (account, region, kind, id) DO UPDATE SET body = excluded.body",
                     6, v);
    PQclear(r);
    return r ? STORE_OK : STORE_ERR;
}

static int pg_doc_delete(void *bt, const store_key *k)
{
    pg_txn *t = bt;
    if (!t->writable)
        return STORE_ERR;
    const char *v[4] = {k->account, k->region, k->kind, k->id};
    PGresult *r = pq_t(t, "DELETE FROM docs WHERE account=$1 AND region=$2 AND kind=$3 AND id=$4", 4, v);
    if (!r)
        return STORE_ERR;
    int64_t n = cmd_rows(r);
    PQclear(r);
    return n > 0 ? STORE_OK : STORE_NOTFOUND;
}

static int pg_doc_delete_children(void *bt, const char *account, const char *region, const char *kind,
                                  const char *parent)
{
    pg_txn *t = bt;
    if (!t->writable)
        return STORE_ERR;
    const char *v[4] = {account, region, kind, parent};
    PGresult *r = pq_t(t, "DELETE FROM docs WHERE account=$1 AND region=$2 AND kind=$3 AND parent=$4", 4, v);
    PQclear(r);
    return r ? STORE_OK : STORE_ERR;
}

static int pg_doc_list(void *bt, const char *account, const char *region, const char *kind,
                       const char *parent, int64_t after_seq, bool desc, int limit, store_doc_cb cb,
                       void *ud)
{
    pg_txn *t = bt;
    char after[24], lim[24];
    snprintf(after, sizeof after, "%lld", (long long)after_seq);
    snprintf(lim, sizeof lim, "%d", limit);
    /* $4 is the parent (NULL: any), $6 the limit (NULL: all) */
    const char *v[6] = {account, region, kind, parent, after, limit > 0 ? lim : NULL};
    const char *sql =
        desc ? "SELECT seq, id, body FROM docs WHERE account=$1 AND region=$2 AND kind=$3"
               " AND ($4::text IS NULL OR parent = $4) AND ($5::bigint = 0 OR seq < $5::bigint)"
               " ORDER BY seq DESC LIMIT $6::bigint"
             : "SELECT seq, id, body FROM docs WHERE account=$1 AND region=$2 AND kind=$3"
               " AND ($4::text IS NULL OR parent = $4) AND seq > $5::bigint"
               " ORDER BY seq ASC LIMIT $6::bigint";
    PGresult *r = pq_t(t, sql, 6, v);
    if (!r)
        return STORE_ERR;
    int n = PQntuples(r);
    for (int i = 0; i < n; i++)
        if (cb(ud, val_i64(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2)))
            break;
    PQclear(r);
    return STORE_OK;
}

/* ---------------------------------------------------------------- events */

/* Learn this transaction's seq base (xid << shift) if not yet known. */
static int pg_seq_base(pg_txn *t)
{
    if (t->seq_base == 0) {
        /* assigns the transaction's xid if it has none yet */
        PGresult *r = pq_t(t, "SELECT pg_current_xact_id()::text::bigint", 0, NULL);
        if (!r)
            return STORE_ERR;
        int64_t xid = val_i64(r, 0, 0);
        PQclear(r);
        if (xid <= 0 || xid >= (INT64_MAX >> PG_SEQ_SHIFT))
            return STORE_ERR;
        t->seq_base = xid << PG_SEQ_SHIFT;
        t->n_seq = 0;
    }
    return STORE_OK;
}

static int64_t pg_event_next_seq(void *bt)
{
    pg_txn *t = bt;
    if (!t->writable || pg_seq_base(t) != STORE_OK)
        return STORE_ERR;
    return t->seq_base + t->n_seq + 1;
}

static int pg_event_append(void *bt, const store_event *ev, int64_t *seq_out)
{
    pg_txn *t = bt;
    if (!t->writable)
        return STORE_ERR;
    if (t->s->fault_path[0] && access(t->s->fault_path, F_OK) == 0)
        return STORE_ERR;
    if (pg_seq_base(t) != STORE_OK)
        return STORE_ERR;
    if (t->n_seq + 1 >= PG_SEQ_PER_TXN)
        return STORE_ERR;   /* the batch is too large; its writer retries nothing */
    int64_t seq = t->seq_base + ++t->n_seq;
    char seqs[24], tms[24];
    snprintf(seqs, sizeof seqs, "%lld", (long long)seq);
    snprintf(tms, sizeof tms, "%lld", (long long)ev->time_ms);
    const char *v[12] = {seqs, ev->account, ev->region, tms, ev->event_id, ev->event_name,
                         ev->event_source, ev->username, ev->access_key_id,
                         ev->read_only ? "true" : "false", ev->json, ev->summary};
    PGresult *r = pq_t(t, "INSERT INTO events (seq, account, region, time_ms, event_id, event_name,"
                           " event_source, username, access_key_id, read_only, json, summary)"
                           " VALUES ($1::bigint, $2, $3, $4::bigint, $5, $6, $7, $8, $9, $10::boolean, $11, $12)",
                     12, v);
    if (!r)
        return STORE_ERR;
    PQclear(r);
    for (int i = 0; i < ev->n_res; i++) {
        const char *rv[6] = {seqs, ev->account, ev->region, tms, ev->res_types[i] ? ev->res_types[i] : "",
                             ev->res_names[i] ? ev->res_names[i] : ""};
        r = pq_t(t, "INSERT INTO event_resources (seq, account, region, time_ms, rtype, rname)"
                     " VALUES ($1::bigint, $2, $3, $4::bigint, $5, $6)",
               6, rv);
        if (!r)
            return STORE_ERR;
        PQclear(r);
    }
    if (seq_out)
        *seq_out = seq;
    return STORE_OK;
}

static const char *attr_column(store_attr a)
{
    switch (a) {
    case STORE_ATTR_EVENT_ID: return "event_id";
    case STORE_ATTR_EVENT_NAME: return "event_name";
    case STORE_ATTR_READ_ONLY: return "read_only";
    case STORE_ATTR_USERNAME: return "username";
    case STORE_ATTR_EVENT_SOURCE: return "event_source";
    case STORE_ATTR_ACCESS_KEY_ID: return "access_key_id";
    case STORE_ATTR_RESOURCE_TYPE: return "rtype";
    case STORE_ATTR_RESOURCE_NAME: return "rname";
    default: return NULL;
    }
}

static int pg_event_lookup(void *bt, const store_lookup *q, store_event_cb cb, void *ud)
{
    pg_txn *t = bt;
    const char *col = attr_column(q->attr);
    bool res = q->attr == STORE_ATTR_RESOURCE_TYPE || q->attr == STORE_ATTR_RESOURCE_NAME;
    const char *a = res ? "r" : "e";
    char start[24], end[24], ct[24], cs[24], lim[24];
    snprintf(start, sizeof start, "%lld", (long long)q->start_ms);
    snprintf(end, sizeof end, "%lld", (long long)q->end_ms);
    snprintf(ct, sizeof ct, "%lld", (long long)q->cur_time_ms);
    snprintf(cs, sizeof cs, "%lld", (long long)q->cur_seq);
    snprintf(lim, sizeof lim, "%d", q->limit > 0 ? q->limit : 50);
    const char *v[8];
    int n = 0;
    v[n++] = q->account;   /* $1 */
    v[n++] = q->region;    /* $2 */
    v[n++] = start;        /* $3 */
    v[n++] = end;          /* $4 */
    char cursor[200] = "", attr[96] = "";
    if (q->cur_seq > 0) {
        v[n++] = ct;   /* $5 */
        v[n++] = cs;   /* $6 */
        snprintf(cursor, sizeof cursor,
                 " AND (%s.time_ms < $5::bigint OR (%s.time_ms = $5::bigint AND %s.seq < $6::bigint))", a, a, a);
    }
    if (col) {
        if (q->attr == STORE_ATTR_READ_ONLY) {
            v[n++] = q->value && strcmp(q->value, "true") == 0 ? "true" : "false";
            snprintf(attr, sizeof attr, " AND e.read_only = $%d::boolean", n);
        } else {
            v[n++] = q->value;
            snprintf(attr, sizeof attr, " AND %s.%s = $%d", a, col, n);
        }
    }
    v[n++] = lim;
    char sql[1024];
    if (res)
        snprintf(sql, sizeof sql,
                 "SELECT e.seq, e.time_ms, e.json, e.summary FROM events e JOIN ("
                 " SELECT DISTINCT r.time_ms, r.seq FROM event_resources r WHERE r.account=$1 AND r.region=$2"
                 "%s AND r.time_ms BETWEEN $3::bigint AND $4::bigint%s"
                 " ORDER BY r.time_ms DESC, r.seq DESC LIMIT $%d::bigint) x"
                 " ON e.time_ms = x.time_ms AND e.seq = x.seq"
                 " ORDER BY e.time_ms DESC, e.seq DESC",
                 attr, cursor, n);
    else
        snprintf(sql, sizeof sql,
                 "SELECT e.seq, e.time_ms, e.json, e.summary FROM events e WHERE e.account=$1 AND e.region=$2"
                 "%s AND e.time_ms BETWEEN $3::bigint AND $4::bigint%s"
                 " ORDER BY e.time_ms DESC, e.seq DESC LIMIT $%d::bigint",
                 attr, cursor, n);
    PGresult *r = pq_t(t, sql, n, v);
    if (!r)
        return STORE_ERR;
    int rows = PQntuples(r);
    for (int i = 0; i < rows; i++)
        if (cb(ud, val_i64(r, i, 0), val_i64(r, i, 1), PQgetvalue(r, i, 2),
               PQgetisnull(r, i, 3) ? NULL : PQgetvalue(r, i, 3)))
            break;
    PQclear(r);
    return STORE_OK;
}

/* Drop the month partitions that ended at or before cutoff; returns the
 * number of events they held, or STORE_ERR. */
static int64_t drop_expired_partitions(pg_txn *t, int64_t cutoff_ms)
{
    PGresult *r = pq_t(t, "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                           " WHERE i.inhparent = 'events'::regclass AND c.relname ~ '^events_p[0-9]{6}$'"
                           " ORDER BY c.relname",
                     0, NULL);
    if (!r)
        return STORE_ERR;
    int64_t total = 0;
    int rows = PQntuples(r);
    for (int i = 0; i < rows; i++) {
        const char *name = PQgetvalue(r, i, 0);
        int64_t y, m;
        if (!gt_parse_i64(name + 8, 4, &y) || !gt_parse_i64(name + 12, 2, &m) || m < 1 || m > 12)
            continue;
        if (month_start_ms((int)y, (int)m) > cutoff_ms)   /* (int)m = next month, 0-based */
            continue;
        char sql[256];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM events_p%04d%02d", (int)y, (int)m);
        PGresult *cr = pq_t(t, sql, 0, NULL);
        if (!cr) {
            PQclear(r);
            return STORE_ERR;
        }
        int64_t cnt = val_i64(cr, 0, 0);
        PQclear(cr);
        snprintf(sql, sizeof sql, "DROP TABLE events_p%04d%02d; DROP TABLE IF EXISTS event_resources_p%04d%02d",
                 (int)y, (int)m, (int)y, (int)m);
        if (pexec_t(t, sql)) {
            PQclear(r);
            return STORE_ERR;
        }
        total += cnt;
    }
    PQclear(r);
    return total;
}

static int64_t pg_event_prune(void *bt, int64_t cutoff_ms, int max_rows)
{
    pg_txn *t = bt;
    if (!t->writable)
        return STORE_ERR;
    int64_t dropped = drop_expired_partitions(t, cutoff_ms);
    if (dropped < 0)
        return STORE_ERR;
    char cut[24], lim[24];
    snprintf(cut, sizeof cut, "%lld", (long long)cutoff_ms);
    snprintf(lim, sizeof lim, "%d", max_rows);
    const char *v[2] = {cut, lim};
    PGresult *r = pq_t(t, "DELETE FROM event_resources r USING (SELECT time_ms, seq FROM events"
                           " WHERE time_ms < $1::bigint ORDER BY time_ms LIMIT $2::bigint) x"
                           " WHERE r.time_ms = x.time_ms AND r.seq = x.seq",
                     2, v);
    if (!r)
        return STORE_ERR;
    PQclear(r);
    r = pq_t(t, "DELETE FROM events e USING (SELECT time_ms, seq FROM events"
                 " WHERE time_ms < $1::bigint ORDER BY time_ms LIMIT $2::bigint) x"
                 " WHERE e.time_ms = x.time_ms AND e.seq = x.seq",
           2, v);
    if (!r)
        return STORE_ERR;
    int64_t n = cmd_rows(r);
    PQclear(r);
    return dropped + n;
}

static int64_t pg_event_count(void *bt)
{
    pg_txn *t = bt;
    PGresult *r = pq_t(t, "SELECT count(*) FROM events", 0, NULL);
    if (!r)
        return STORE_ERR;
    int64_t n = val_i64(r, 0, 0);
    PQclear(r);
    return n;
}

/* The watermark: seqs below it belong to finished transactions only. */
#define PG_WATERMARK "(pg_snapshot_xmin(pg_current_snapshot())::text::bigint << 20)"

static int pg_event_scan(void *bt, int64_t after_seq, int limit, store_scan_cb cb, void *ud)
{
    pg_txn *t = bt;
    char after[24], lim[24];
    snprintf(after, sizeof after, "%lld", (long long)after_seq);
    snprintf(lim, sizeof lim, "%d", limit);
    const char *v[2] = {after, limit > 0 ? lim : NULL};
    PGresult *r = pq_t(t, "SELECT seq, account, region, time_ms, json FROM events"
                           " WHERE seq > $1::bigint AND seq < " PG_WATERMARK
                           " ORDER BY seq LIMIT $2::bigint",
                     2, v);
    if (!r)
        return STORE_ERR;
    int rows = PQntuples(r);
    for (int i = 0; i < rows; i++)
        if (cb(ud, val_i64(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), val_i64(r, i, 3),
               PQgetvalue(r, i, 4)))
            break;
    PQclear(r);
    return STORE_OK;
}

static int64_t pg_event_max_seq(void *bt)
{
    pg_txn *t = bt;
    PGresult *r = pq_t(t, "SELECT coalesce(max(seq), 0) FROM events WHERE seq < " PG_WATERMARK, 0, NULL);
    if (!r)
        return STORE_ERR;
    int64_t n = val_i64(r, 0, 0);
    PQclear(r);
    return n;
}

/* ---------------------------------------------------------------- leases */

static int pg_lease(void *bt, store_lease_op op, const char *name, const char *node_id, int64_t ttl_ms)
{
    pg_txn *t = bt;
    if (!t->writable)
        return STORE_ERR;
    char ttl[24];
    snprintf(ttl, sizeof ttl, "%lld", (long long)ttl_ms);
    const char *v[3] = {name, node_id, ttl};
    const char *sql;
    int n = 3;
    switch (op) {
    case STORE_LEASE_ACQUIRE:
        /* one statement: take it if free, expired or already ours */
        sql = "WITH now AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS ms)"
              " INSERT INTO leases AS l (name, holder, expires_ms) SELECT $1, $2, ms + $3::bigint FROM now"
              " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_ms = excluded.expires_ms"
              " WHERE l.holder = excluded.holder OR l.expires_ms < (SELECT ms FROM now)"
              " RETURNING 1";
        break;
    case STORE_LEASE_RENEW:
        sql = "UPDATE leases SET expires_ms = (extract(epoch FROM clock_timestamp()) * 1000)::bigint"
              " + $3::bigint WHERE name = $1 AND holder = $2 RETURNING 1";
        break;
    default:
        sql = "DELETE FROM leases WHERE name = $1 AND holder = $2 RETURNING 1";
        n = 2;
        break;
    }
    PGresult *r = pq_t(t, sql, n, v);
    if (!r)
        return STORE_ERR;
    int rows = PQntuples(r);
    PQclear(r);
    return rows > 0 ? STORE_OK : STORE_BUSY;
}

const store_ops store_pg_ops = {
    .name = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .run = pg_run,
    .read = pg_read,
    .sp_begin = pg_sp_begin,
    .sp_rollback = pg_sp_rollback,
    .sp_release = pg_sp_release,
    .doc_get = pg_doc_get,
    .doc_put = pg_doc_put,
    .doc_delete = pg_doc_delete,
    .doc_delete_children = pg_doc_delete_children,
    .doc_list = pg_doc_list,
    .event_append = pg_event_append,
    .event_lookup = pg_event_lookup,
    .event_prune = pg_event_prune,
    .event_scan = pg_event_scan,
    .event_max_seq = pg_event_max_seq,
    .event_next_seq = pg_event_next_seq,
    .event_count = pg_event_count,
    .lease = pg_lease,
};
