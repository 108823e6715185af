/*
 * bench/floor.c: the ceiling of greentrail's mandated stack, measured.
 *
 * Issue 8 asks for signed, recorded GetGroup calls at 0.5x the requests/s of
 * nginx serving a static 200. Before spending effort on greentrail's own code
 * this program answers a narrower question: how fast can the libraries we
 * are required to use go on this machine, doing nothing but their part?
 *
 *   floor PORT static THREADS
 *       libmicrohttpd with greentrail's exact daemon flags (internal epoll
 *       thread pool of THREADS, 64 KiB connection pool) answering every
 *       request with a fixed ~300-byte JSON body: no auth, no record, no
 *       store. The HTTP library's own ceiling.
 *   floor PORT record THREADS DB [indexes]
 *       the same, plus what "recorded durably before the answer" costs at
 *       the least: each request formats a ~1 KB CloudTrail-shaped record
 *       (snprintf, no JSON library), hands it to one writer thread, and waits
 *       for it. The writer group-commits every queued record in one SQLite
 *       transaction (WAL, synchronous=FULL, so one fdatasync per batch) and
 *       then releases the batch. With `indexes` the events table carries
 *       greentrail's seven lookup indexes; without, only its rowid.
 *
 * Everything greentrail adds on top (SigV4, authorization, the handler's
 * read, the real record builder, the JSON protocol) comes out of whatever
 * this leaves. bench/floor drives it with wrk next to nginx in one run.
 *
 * Invariant: a request in record mode is answered only after the COMMIT
 * that holds its row has returned (the same rule greentrail follows).
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BODY "{\"Arn\":\"arn:aws:greengrass:us-east-1:123456789012:/greengrass/groups/0b3b8d4e-0f7e-4d5c-9a53-1f5e7c0b9f10\"," \
             "\"CreationTimestamp\":\"2026-11-27T10:00:00.000Z\",\"Id\":\"0b3b8d4e-0f7e-4d5c-9a53-1f5e7c0b9f10\"," \
             "\"LastUpdatedTimestamp\":\"2026-11-27T10:00:00.000Z\",\"Name\":\"bench\"}"

typedef struct job {
    char rec[1400];
    char id[40];
    long long seq;
    bool done;
    pthread_cond_t cv;
    struct job *next;
} job;

static pthread_mutex_t q_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_cv = PTHREAD_COND_INITIALIZER;
static job *q_head, *q_tail;
static long long q_counter;
static sqlite3 *db;
static sqlite3_stmt *ins;
static bool record_mode;

static void die(const char *what)
{
    fprintf(stderr, "floor: %s: %s\n", what, db ? sqlite3_errmsg(db) : "");
    exit(1);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* FLOOR_STATS=1: every 2 s, batches, mean batch size and mean / max commit
 * time to stderr (why the durable floor is what it is). */
static void *writer(void *arg)
{
    (void)arg;
    bool stats = getenv("FLOOR_STATS") != NULL;
    long delay_us = getenv("FLOOR_DELAY_US") ? strtol(getenv("FLOOR_DELAY_US"), NULL, 10) : 0;
    double t_last = now_ms(), c_sum = 0, c_max = 0;
    long batches = 0, jobs = 0;
    for (;;) {
        pthread_mutex_lock(&q_mu);
        while (!q_head)
            pthread_cond_wait(&q_cv, &q_mu);
        if (delay_us > 0) {      /* commit_delay: let a batch gather */
            pthread_mutex_unlock(&q_mu);
            struct timespec d = {0, delay_us * 1000L};
            nanosleep(&d, NULL);
            pthread_mutex_lock(&q_mu);
        }
        job *batch = q_head;
        q_head = q_tail = NULL;
        pthread_mutex_unlock(&q_mu);

        if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
            die("begin");
        for (job *j = batch; j; j = j->next) {
            sqlite3_bind_int64(ins, 1, j->seq);
            sqlite3_bind_int64(ins, 2, 1796000000000LL + j->seq);
            sqlite3_bind_text(ins, 3, j->id, -1, SQLITE_STATIC);
            sqlite3_bind_text(ins, 4, j->rec, -1, SQLITE_STATIC);
            if (sqlite3_step(ins) != SQLITE_DONE)
                die("insert");
            sqlite3_reset(ins);
        }
        double t0 = now_ms();
        if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
            die("commit");
        if (stats) {
            double dt = now_ms() - t0;
            c_sum += dt;
            c_max = dt > c_max ? dt : c_max;
            batches++;
            for (job *j = batch; j; j = j->next)
                jobs++;
            if (t0 - t_last > 2000) {
                fprintf(stderr, "floor: %ld batches, %.1f jobs/batch, commit mean %.2f ms max %.2f ms\n", batches,
                        (double)jobs / (double)batches, c_sum / (double)batches, c_max);
                t_last = t0;
                batches = jobs = 0;
                c_sum = c_max = 0;
            }
        }
        pthread_mutex_lock(&q_mu);
        for (job *j = batch; j; j = j->next) {
            j->done = true;
            pthread_cond_signal(&j->cv);
        }
        pthread_mutex_unlock(&q_mu);
    }
    return NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *con, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_len, void **ctx)
{
    (void)cls, (void)url, (void)method, (void)version, (void)upload;
    if (!*ctx) {            /* headers only: come back for the body */
        *ctx = con;
        return MHD_YES;
    }
    if (*upload_len) {
        *upload_len = 0;
        return MHD_YES;
    }
    if (record_mode) {
        job j = {.done = false, .next = NULL};
        pthread_cond_init(&j.cv, NULL);
        pthread_mutex_lock(&q_mu);
        j.seq = ++q_counter;
        pthread_mutex_unlock(&q_mu);
        snprintf(j.id, sizeof j.id, "%036lld", j.seq);
        snprintf(j.rec, sizeof j.rec,
                 "{\"eventVersion\":\"1.08\",\"userIdentity\":{\"type\":\"IAMUser\",\"principalId\":\"AIDAEXAMPLE\","
                 "\"arn\":\"arn:aws:iam::123456789012:user/bench\",\"accountId\":\"123456789012\","
                 "\"accessKeyId\":\"AKIAEXAMPLE\",\"userName\":\"bench\"},\"eventTime\":\"2026-11-27T10:00:00Z\","
                 "\"eventSource\":\"greengrass.amazonaws.com\",\"eventName\":\"GetGroup\",\"awsRegion\":\"us-east-1\","
                 "\"sourceIPAddress\":\"127.0.0.1\",\"userAgent\":\"aws-cli/2.9.19 Python/3.11.2 Linux/6.1\","
                 "\"requestParameters\":{\"GroupId\":\"0b3b8d4e-0f7e-4d5c-9a53-1f5e7c0b9f10\"},"
                 "\"responseElements\":null,\"requestID\":\"%s\",\"eventID\":\"%s\",\"readOnly\":true,"
                 "\"eventType\":\"AwsApiCall\",\"managementEvent\":true,\"recipientAccountId\":\"123456789012\","
                 "\"eventCategory\":\"Management\",\"tlsDetails\":null}",
                 j.id, j.id);
        pthread_mutex_lock(&q_mu);
        if (q_tail)
            q_tail->next = &j;
        else
            q_head = &j;
        q_tail = &j;
        pthread_cond_signal(&q_cv);
        while (!j.done)
            pthread_cond_wait(&j.cv, &q_mu);
        pthread_mutex_unlock(&q_mu);
        pthread_cond_destroy(&j.cv);
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(sizeof BODY - 1, (void *)BODY, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ok = MHD_queue_response(con, 200, r);
    MHD_destroy_response(r);
    return ok;
}

static void open_store(const char *path, bool indexes)
{
    if (sqlite3_open(path, &db) != SQLITE_OK)
        die("open");
    const char *schema =
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
        "CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, account TEXT NOT NULL, region TEXT NOT NULL,"
        " time_ms INTEGER NOT NULL, event_id TEXT NOT NULL, event_name TEXT NOT NULL, event_source TEXT NOT NULL,"
        " username TEXT, access_key_id TEXT, read_only INTEGER NOT NULL, json TEXT NOT NULL);";
    const char *idx =
        "CREATE INDEX IF NOT EXISTS ev_time ON events (account, region, time_ms, seq);"
        "CREATE INDEX IF NOT EXISTS ev_id ON events (account, region, event_id, time_ms, seq);"
        "CREATE INDEX IF NOT EXISTS ev_name ON events (account, region, event_name, time_ms, seq);"
        "CREATE INDEX IF NOT EXISTS ev_user ON events (account, region, username, time_ms, seq);"
        "CREATE INDEX IF NOT EXISTS ev_source ON events (account, region, event_source, time_ms, seq);"
        "CREATE INDEX IF NOT EXISTS ev_key ON events (account, region, access_key_id, time_ms, seq);"
        "CREATE INDEX IF NOT EXISTS ev_ro ON events (account, region, read_only, time_ms, seq);";
    if (sqlite3_exec(db, schema, NULL, NULL, NULL) != SQLITE_OK || (indexes && sqlite3_exec(db, idx, NULL, NULL, NULL) != SQLITE_OK))
        die("schema");
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO events (seq, account, region, time_ms, event_id, event_name, event_source,"
                           " username, access_key_id, read_only, json) VALUES (?1, '123456789012', 'us-east-1', ?2, ?3,"
                           " 'GetGroup', 'greengrass.amazonaws.com', 'bench', 'AKIAEXAMPLE', 1, ?4)",
                           -1, &ins, NULL) != SQLITE_OK)
        die("prepare");
}

int main(int argc, char **argv)
{
    if (argc < 4 || (strcmp(argv[2], "static") && strcmp(argv[2], "record")) ||
        (!strcmp(argv[2], "record") && argc < 5)) {
        fprintf(stderr, "usage: floor PORT static THREADS | floor PORT record THREADS DB [indexes]\n");
        return 2;
    }
    char *end;
    long port = strtol(argv[1], &end, 10), threads = strtol(argv[3], &end, 10);
    if (port <= 0 || port > 65535 || threads <= 0 || threads > 1024)
        return 2;
    record_mode = strcmp(argv[2], "record") == 0;
    if (record_mode) {
        open_store(argv[4], argc > 5 && strcmp(argv[5], "indexes") == 0);
        pthread_t w;
        if (pthread_create(&w, NULL, writer, NULL))
            return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL_LINUX_ONLY | MHD_USE_ERROR_LOG | MHD_USE_ITC, 0,
        NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024), MHD_OPTION_CONNECTION_TIMEOUT, 60u,
        MHD_OPTION_CONNECTION_LIMIT, 1024u, MHD_OPTION_END);
    if (!d)
        return 1;
    printf("listening\n");
    fflush(stdout);
    for (;;)      /* bench/floor kills it */
        pause();
}
