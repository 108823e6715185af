/*
 * test_store_paths.c: unit tests for the store's fast paths (store/store_sqlite.c).
 *
 * 1. Statement cache: a nested use of the same SQL (a doc list inside the
 *    callback of the same doc list) gets its own statement, so both
 *    enumerations are complete; cached statements come back unbound and
 *    reset (a later get of a missing key is NOTFOUND, not a stale row);
 *    reader connections use their own cache.
 * 2. Resource lookups stream the resource index: an event with two
 *    resources of the same type comes once, pages are exact and the
 *    cursor continues where the page ended.
 * 3. Pruning takes the oldest events (first seqs) and their resources, at
 *    most max_rows per call, and leaves younger ones; when nothing is old
 *    it reads no batch of rows (the writer's page cache stays empty).
 * 4. A job's failure rolls back only that job (savepoints with the
 *    in-memory statement journal).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store/store.h"

static char dir[256];

static store *open_tmp(void)
{
    snprintf(dir, sizeof dir, "/tmp/gt-test-store-XXXXXX");
    assert_non_null(mkdtemp(dir));
    char err[256];
    store *s = store_open(dir, err, sizeof err);
    assert_non_null(s);
    return s;
}

static void close_tmp(store *s)
{
    store_close(s);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* ---------------------------------------------------------------- 1 */

static gt_err put_three(store_txn *t, void *ud)
{
    for (int i = 0; i < 3; i++) {
        char id[8];
        snprintf(id, sizeof id, "d%d", i);
        store_key k = {"acct", "us-east-1", "thing", id};
        if (store_doc_put(t, &k, NULL, "{}") != STORE_OK)
            return GT_E_UNAVAILABLE;
    }
    return GT_OK;
}

typedef struct nest {
    store_txn *t;
    int outer, inner;
} nest;

static int inner_cb(void *ud, int64_t seq, const char *id, const char *body)
{
    ((nest *)ud)->inner++;
    return 0;
}

static int outer_cb(void *ud, int64_t seq, const char *id, const char *body)
{
    nest *n = ud;
    n->outer++;
    /* the same SQL while the outer statement is still stepping */
    store_doc_list(n->t, "acct", "us-east-1", "thing", NULL, 0, false, 0, inner_cb, n);
    return 0;
}

static gt_err nested_job(store_txn *t, void *ud)
{
    nest *n = ud;
    n->t = t;
    if (store_doc_list(t, "acct", "us-east-1", "thing", NULL, 0, false, 0, outer_cb, n) != STORE_OK)
        return GT_E_UNAVAILABLE;
    char *body = NULL;
    store_key missing = {"acct", "us-east-1", "thing", "nope"};
    if (store_doc_get(t, &missing, &body) != STORE_NOTFOUND)
        return GT_E_INTERNAL;
    store_key there = {"acct", "us-east-1", "thing", "d1"};
    if (store_doc_get(t, &there, &body) != STORE_OK)
        return GT_E_INTERNAL;
    free(body);
    if (store_doc_get(t, &missing, &body) != STORE_NOTFOUND)   /* cached, rebound */
        return GT_E_INTERNAL;
    return GT_OK;
}

static void test_nested_same_sql(void **state)
{
    store *s = open_tmp();
    assert_int_equal(store_run(s, put_three, NULL), GT_OK);
    for (int round = 0; round < 2; round++) {   /* second round: statements from the cache */
        nest n = {0};
        assert_int_equal(store_run(s, nested_job, &n), GT_OK);
        assert_int_equal(n.outer, 3);
        assert_int_equal(n.inner, 9);
        nest r = {0};
        assert_int_equal(store_read(s, nested_job, &r), GT_OK);
        assert_int_equal(r.outer, 3);
        assert_int_equal(r.inner, 9);
    }
    close_tmp(s);
}

/* ---------------------------------------------------------------- 2 */

static gt_err append_events(store_txn *t, void *ud)
{
    int64_t base = *(int64_t *)ud;
    for (int i = 0; i < 10; i++) {
        char eid[16], arn[32];
        snprintf(eid, sizeof eid, "e%d", i);
        snprintf(arn, sizeof arn, "arn:group/%d", i);
        const char *types[2] = {"AWS::Greengrass::Group", "AWS::Greengrass::Group"};
        const char *names[2] = {arn, "arn:group/shared"};
        store_event ev = {.account = "acct", .region = "us-east-1", .time_ms = base + i * 1000,
                          .event_id = eid, .event_name = "GetGroup", .event_source = "greengrass.amazonaws.com",
                          .read_only = true, .n_res = i % 2 ? 2 : 1, .res_types = types, .res_names = names,
                          .json = "{}"};
        if (store_event_append(t, &ev, NULL) != STORE_OK)
            return GT_E_UNAVAILABLE;
    }
    return GT_OK;
}

typedef struct seen {
    int64_t seqs[32];
    int64_t last_time;
    int n;
} seen;

static int collect(void *ud, int64_t seq, int64_t time_ms, const char *json, const char *summary)
{
    seen *s = ud;
    if (s->n < 32)
        s->seqs[s->n++] = seq;
    s->last_time = time_ms;
    return 0;
}

typedef struct lk {
    store_lookup q;
    seen out;
} lk;

static gt_err lookup_job(store_txn *t, void *ud)
{
    lk *l = ud;
    return store_event_lookup(t, &l->q, collect, &l->out) == STORE_OK ? GT_OK : GT_E_UNAVAILABLE;
}

static void test_resource_lookup_streams_distinct(void **state)
{
    store *s = open_tmp();
    int64_t base = 1000000;
    assert_int_equal(store_run(s, append_events, &base), GT_OK);
    int64_t all[32];
    int n = 0;
    lk l = {.q = {.account = "acct", .region = "us-east-1", .attr = STORE_ATTR_RESOURCE_TYPE,
                  .value = "AWS::Greengrass::Group", .start_ms = 0, .end_ms = base + 100000, .limit = 4}};
    for (int page = 0; page < 5; page++) {
        l.out.n = 0;
        assert_int_equal(store_read(s, lookup_job, &l), GT_OK);
        assert_true(l.out.n <= 4);
        for (int i = 0; i < l.out.n; i++)
            all[n++] = l.out.seqs[i];
        if (l.out.n < 4)
            break;
        l.q.cur_seq = l.out.seqs[l.out.n - 1];
        l.q.cur_time_ms = l.out.last_time;
    }
    assert_int_equal(n, 10);   /* every event once, newest first */
    for (int i = 1; i < n; i++)
        assert_true(all[i] < all[i - 1]);
    /* by name: the shared ARN is on the five odd events only */
    lk byname = {.q = {.account = "acct", .region = "us-east-1", .attr = STORE_ATTR_RESOURCE_NAME,
                       .value = "arn:group/shared", .start_ms = 0, .end_ms = base + 100000, .limit = 50}};
    assert_int_equal(store_read(s, lookup_job, &byname), GT_OK);
    assert_int_equal(byname.out.n, 5);
    close_tmp(s);
}

/* ---------------------------------------------------------------- 3 */

typedef struct prune {
    int64_t cutoff;
    int max;
    int64_t deleted;
    int64_t left;
} prune;

static gt_err prune_job(store_txn *t, void *ud)
{
    prune *p = ud;
    p->deleted = store_event_prune(t, p->cutoff, p->max);
    p->left = store_event_count(t);
    return p->deleted < 0 ? GT_E_UNAVAILABLE : GT_OK;
}

static void test_prune_oldest_first(void **state)
{
    store *s = open_tmp();
    int64_t base = 1000000;
    assert_int_equal(store_run(s, append_events, &base), GT_OK);
    prune p = {.cutoff = base + 6500, .max = 4};   /* events 0..6 are old */
    assert_int_equal(store_run(s, prune_job, &p), GT_OK);
    assert_int_equal(p.deleted, 4);
    assert_int_equal(p.left, 6);
    assert_int_equal(store_run(s, prune_job, &p), GT_OK);
    assert_int_equal(p.deleted, 3);
    assert_int_equal(p.left, 3);
    assert_int_equal(store_run(s, prune_job, &p), GT_OK);
    assert_int_equal(p.deleted, 0);
    /* their resources went with them: only events 7..9 are found by name */
    lk l = {.q = {.account = "acct", .region = "us-east-1", .attr = STORE_ATTR_RESOURCE_TYPE,
                  .value = "AWS::Greengrass::Group", .start_ms = 0, .end_ms = base + 100000, .limit = 50}};
    assert_int_equal(store_read(s, lookup_job, &l), GT_OK);
    assert_int_equal(l.out.n, 3);
    close_tmp(s);
}

/* 6,000 events of ~1 KB that compress badly (random hex): ~6 MB of table */
static gt_err append_big(store_txn *t, void *ud)
{
    const int64_t *base = ud;
    static const char hex[] = "0123456789abcdef";
    char json[1100];
    unsigned x = 12345;
    for (int i = 0; i < 6000; i++) {
        size_t n = 0;
        json[n++] = '"';
        while (n < 1000) {
            x = x * 1103515245u + 12345u;
            json[n++] = hex[(x >> 16) & 15];
        }
        json[n++] = '"';
        json[n] = '\0';
        char eid[16];
        snprintf(eid, sizeof eid, "e%d", i);
        store_event ev = {.account = "acct", .region = "us-east-1", .time_ms = *base + i,
                          .event_id = eid, .event_name = "GetGroup", .event_source = "greengrass.amazonaws.com",
                          .read_only = true, .json = json};
        if (store_event_append(t, &ev, NULL) != STORE_OK)
            return GT_E_UNAVAILABLE;
    }
    return GT_OK;
}

static void test_prune_nothing_old_reads_nothing(void **state)
{
    store *s = open_tmp();
    int64_t base = 1000000;
    assert_int_equal(store_run(s, append_big, &base), GT_OK);
    store_close(s);   /* reopen: every connection's page cache is empty */
    char err[256];
    s = store_open(dir, err, sizeof err);
    assert_non_null(s);
    prune p = {.cutoff = base - 1, .max = 5000};   /* nothing is old */
    sqlite3_int64 before = sqlite3_memory_used();
    assert_int_equal(store_run(s, prune_job, &p), GT_OK);
    sqlite3_int64 grew = sqlite3_memory_used() - before;
    assert_int_equal(p.deleted, 0);
    assert_int_equal(p.left, 6000);
    /* reading the first 5,000 rows took the whole 2 MB cache; the first
     * row and the count's index pages take a few dozen pages */
    fprintf(stderr, "prune with nothing old: SQLite memory grew %lld bytes\n", (long long)grew);
    assert_true(grew < 512 * 1024);
    close_tmp(s);
}

/* ---------------------------------------------------------------- 4 */

static gt_err failing_job(store_txn *t, void *ud)
{
    store_key k = {"acct", "us-east-1", "thing", "doomed"};
    if (store_doc_put(t, &k, NULL, "{}") != STORE_OK)
        return GT_E_UNAVAILABLE;
    return GT_E_INTERNAL;   /* roll back */
}

static gt_err check_job(store_txn *t, void *ud)
{
    char *body = NULL;
    store_key k = {"acct", "us-east-1", "thing", "doomed"};
    *(int *)ud = store_doc_get(t, &k, &body);
    free(body);
    return GT_OK;
}

static void test_failed_job_rolls_back(void **state)
{
    store *s = open_tmp();
    assert_int_equal(store_run(s, failing_job, NULL), GT_E_INTERNAL);
    assert_int_equal(store_run(s, put_three, NULL), GT_OK);
    int rc = -5;
    assert_int_equal(store_read(s, check_job, &rc), GT_OK);
    assert_int_equal(rc, STORE_NOTFOUND);
    close_tmp(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nested_same_sql),
        cmocka_unit_test(test_resource_lookup_streams_distinct),
        cmocka_unit_test(test_prune_oldest_first),
        cmocka_unit_test(test_prune_nothing_old_reads_nothing),
        cmocka_unit_test(test_failed_job_rolls_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
