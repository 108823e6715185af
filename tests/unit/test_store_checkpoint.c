/*
 * test_store_checkpoint.c: the SQLite store's WAL checkpoints run on their
 * own thread (store/store_sqlite.c, "checkpointer"), not inside the
 * writer's commits.
 *
 * 1. While a store is open, a thread named "gt-checkpoint" runs next to
 *    "gt-writer".
 * 2. With SQLite's automatic checkpoint off on the writer's connection,
 *    that thread still copies the WAL into the database file: after
 *    writing several times the checkpoint threshold (1000 pages), the
 *    database file grows to hold the data without anyone asking for a
 *    checkpoint, and everything written reads back.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"

#define DOCS_PER_JOB 50
#define JOBS 40
#define BODY 8000

static bool thread_named(const char *name)
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return false;
    bool found = false;
    struct dirent *e;
    while (!found && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[300], comm[64] = "";
        snprintf(p, sizeof p, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(p, "r");
        if (f) {
            if (fgets(comm, sizeof comm, f))
                comm[strcspn(comm, "\n")] = '\0';
            fclose(f);
        }
        found = strcmp(comm, name) == 0;
    }
    closedir(d);
    return found;
}

typedef struct put_ctx {
    int job;
    char *body;
} put_ctx;

static gt_err put_job(store_txn *t, void *ud)
{
    put_ctx *p = ud;
    for (int i = 0; i < DOCS_PER_JOB; i++) {
        char id[32];
        snprintf(id, sizeof id, "d%d-%d", p->job, i);
        store_key k = {"a", "r", "ckpt", id};
        if (store_doc_put(t, &k, NULL, p->body) != STORE_OK)
            return GT_E_UNAVAILABLE;
    }
    return GT_OK;
}

typedef struct count_ctx {
    int n;
} count_ctx;

static int count_cb(void *ud, int64_t seq, const char *id, const char *body)
{
    (void)seq;
    (void)id;
    count_ctx *c = ud;
    if (strlen(body) == BODY)
        c->n++;
    return 0;
}

static gt_err count_job(store_txn *t, void *ud)
{
    return store_doc_list(t, "a", "r", "ckpt", NULL, 0, false, 0, count_cb, ud) == STORE_OK ? GT_OK
                                                                                               : GT_E_UNAVAILABLE;
}

static void test_checkpointer(void **state)
{
    (void)state;
    char dir[] = "/tmp/gt-ckpt-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char err[256], db[300];
    snprintf(db, sizeof db, "%s/greentrail.db", dir);
    store *st = store_open(dir, err, sizeof err);
    assert_non_null(st);
    assert_true(thread_named("gt-writer"));
    assert_true(thread_named("gt-checkpoint"));

    put_ctx p = {0, malloc(BODY + 1)};
    assert_non_null(p.body);
    memset(p.body, 'x', BODY);
    p.body[BODY] = '\0';
    for (p.job = 0; p.job < JOBS; p.job++)
        assert_int_equal(store_run(st, put_job, &p), GT_OK);
    free(p.body);

    /* ~16 MB of documents: the database file holds them once the
     * checkpointer has copied the WAL (no checkpoint is requested here) */
    off_t want = (off_t)JOBS * DOCS_PER_JOB * BODY * 3 / 4;
    struct stat sb = {0};
    for (int i = 0; i < 400 && (stat(db, &sb) != 0 || sb.st_size < want); i++) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    assert_true(sb.st_size >= want);
    count_ctx c = {0};
    assert_int_equal(store_read(st, count_job, &c), GT_OK);
    assert_int_equal(c.n, JOBS * DOCS_PER_JOB);
    store_close(st);
    assert_false(thread_named("gt-checkpoint"));
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checkpointer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
