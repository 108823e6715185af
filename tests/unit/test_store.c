/* Unit tests: the SQLite store (store_sqlite.c): documents, savepoints,
 * the event journal with its lookup cursor, pruning, scan, group commit
 * under concurrent writers, and reopening (migrations are idempotent). */
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

#include "store/store.h"

static char dir[256];

static int setup(void **st)
{
    (void)st;
    snprintf(dir, sizeof dir, "/tmp/gt-store-test-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **st)
{
    (void)st;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
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
    char err[256];
    store *s = store_open(dir, err, sizeof err);
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

static int page_cb(void *ud, int64_t seq, int64_t time_ms, const char *json)
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

static int scan_cb(void *ud, int64_t seq, const char *account, const char *region, int64_t time_ms,
                   const char *json)
{
    (void)seq; (void)account; (void)region; (void)time_ms; (void)json;
    (*(int *)ud)++;
    return 0;
}

static gt_err scan_job(store_txn *t, void *ud)
{
    return store_event_scan(t, 10, 100, scan_cb, ud) == STORE_OK ? GT_OK : GT_E_INTERNAL;
}

static gt_err prune_job(store_txn *t, void *ud)
{
    *(int64_t *)ud = store_event_prune(t, 1001000, 1000);
    return GT_OK;
}

static void test_events(void **st)
{
    (void)st;
    char err[256];
    store *s = store_open(dir, err, sizeof err);
    assert_non_null(s);
    assert_int_equal(store_run(s, append_job, NULL), GT_OK);
    assert_int_equal(total(s, STORE_ATTR_NONE, NULL), 30);
    assert_int_equal(total(s, STORE_ATTR_EVENT_NAME, "CreateGroup"), 10);
    assert_int_equal(total(s, STORE_ATTR_READ_ONLY, "true"), 20);
    assert_int_equal(total(s, STORE_ATTR_RESOURCE_NAME, "arn:odd"), 15);
    assert_int_equal(total(s, STORE_ATTR_RESOURCE_TYPE, "AWS::Greengrass::Group"), 30);
    assert_int_equal(total(s, STORE_ATTR_USERNAME, "nobody"), 0);
    int n = 0;
    assert_int_equal(store_read(s, scan_job, &n), GT_OK);
    assert_int_equal(n, 20);   /* seq 11..30 */
    int64_t pruned = 0;
    assert_int_equal(store_run(s, prune_job, &pruned), GT_OK);
    assert_int_equal(pruned, 10);   /* the first second's events */
    assert_int_equal(total(s, STORE_ATTR_NONE, NULL), 20);
    assert_int_equal(total(s, STORE_ATTR_RESOURCE_TYPE, "AWS::Greengrass::Group"), 20);
    store_close(s);
    /* reopen: migrations already applied, data still there */
    s = store_open(dir, err, sizeof err);
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
    char err[256];
    gs = store_open(dir, err, sizeof err);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_docs_and_rollback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
        cmocka_unit_test(test_bad_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
