/* Unit tests: the credentials/policy cache (auth/authcache.c), the store's
 * auth generation that invalidates it (store.c), the key lookup through
 * the cache (identity.c), and gt_uuid4's format (now from RAND_bytes). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth/authcache.h"
#include "auth/identity.h"
#include "store/store.h"
#include "util/gtutil.h"

static char dir[256];

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/gt-authcache-XXXXXX");
    assert_non_null(mkdtemp(dir));
    char err[512];
    store *s = store_open(dir, err, sizeof err);
    assert_non_null(s);
    auth_cache_clear();
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    store_close(*state);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

typedef struct put_ctx {
    const char *kind;
    const char *id;
    bool del;
} put_ctx;

static gt_err put_job(store_txn *t, void *ud)
{
    put_ctx *p = ud;
    store_key k = {"", "", p->kind, p->id};
    if (p->del)
        return store_doc_delete(t, &k) == STORE_ERR ? GT_E_UNAVAILABLE : GT_OK;
    return store_doc_put(t, &k, NULL, "{}") == STORE_OK ? GT_OK : GT_E_UNAVAILABLE;
}

static gt_err get_job(store_txn *t, void *ud)
{
    char *body = NULL;
    store_key k = {"", "", "iam.user", ud};
    if (store_doc_get(t, &k, &body) == STORE_OK)
        free(body);
    return GT_OK;
}

static void run_put(store *s, const char *kind, const char *id, bool del)
{
    put_ctx p = {kind, id, del};
    assert_int_equal(store_run(s, put_job, &p), GT_OK);
}

/* Only writes to credential and IAM documents move the generation. */
static void test_generation(void **state)
{
    store *s = *state;
    uint64_t g0 = store_auth_generation();
    run_put(s, "gg.group", "g1", false);
    assert_true(store_auth_generation() == g0);
    assert_int_equal(store_read(s, get_job, "u"), GT_OK);
    assert_true(store_auth_generation() == g0);
    run_put(s, "iam.user", "u", false);
    uint64_t g1 = store_auth_generation();
    assert_true(g1 != g0);
    run_put(s, "access_key", "AKIAX", false);
    uint64_t g2 = store_auth_generation();
    assert_true(g2 != g1);
    run_put(s, "iam.policy", "p", true);
    assert_true(store_auth_generation() != g2);
}

static void principal(auth_principal *p, const char *akid, const char *user)
{
    memset(p, 0, sizeof *p);
    gt_strlcpy(p->type, "IAMUser", sizeof p->type);
    gt_strlcpy(p->account_id, "123456789012", sizeof p->account_id);
    gt_strlcpy(p->access_key_id, akid, sizeof p->access_key_id);
    gt_strlcpy(p->user_name, user, sizeof p->user_name);
    gt_strlcpy(p->secret, "sekrit", sizeof p->secret);
    p->active = true;
}

static void test_key_entries(void **state)
{
    store *s = *state;
    auth_principal p, out;
    principal(&p, "AKIAAAAAAAAAAAAAAAAA", "alice");
    assert_false(auth_cache_get_key(s, p.access_key_id, &out));
    auth_cache_put_key(s, store_auth_generation(), &p);
    assert_true(auth_cache_get_key(s, p.access_key_id, &out));
    assert_string_equal(out.user_name, "alice");
    assert_string_equal(out.secret, "sekrit");
    /* another key, another store: misses */
    assert_false(auth_cache_get_key(s, "AKIABBBBBBBBBBBBBBBB", &out));
    assert_false(auth_cache_get_key((store *)&p, p.access_key_id, &out));
    /* an IAM change on this node drops it at once */
    run_put(s, "iam.user", "alice", false);
    assert_false(auth_cache_get_key(s, p.access_key_id, &out));
    /* filled under a generation older than a change: never served */
    uint64_t before = store_auth_generation();
    run_put(s, "access_key", p.access_key_id, false);
    auth_cache_put_key(s, before, &p);
    assert_false(auth_cache_get_key(s, p.access_key_id, &out));
    /* inactive keys are not cached */
    p.active = false;
    auth_cache_put_key(s, store_auth_generation(), &p);
    assert_false(auth_cache_get_key(s, p.access_key_id, &out));
}

/* Changes made elsewhere (another node) are bounded by the TTL. */
static void test_ttl(void **state)
{
    store *s = *state;
    auth_principal p, out;
    principal(&p, "AKIACCCCCCCCCCCCCCCC", "carol");
    auth_cache_put_key(s, store_auth_generation(), &p);
    json_t *docs = json_pack("[{s:s}]", "Version", "2012-10-17");
    auth_cache_put_policies(s, store_auth_generation(), &p, docs);
    assert_true(auth_cache_get_key(s, p.access_key_id, &out));
    json_t *got = auth_cache_get_policies(s, &p);
    assert_ptr_equal(got, docs);
    json_decref(got);
    struct timespec ts = {0, (AUTH_CACHE_TTL_MS + 50) * 1000000L};
    while (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    nanosleep(&ts, NULL);
    assert_false(auth_cache_get_key(s, p.access_key_id, &out));
    assert_null(auth_cache_get_policies(s, &p));
    json_decref(docs);
}

static void test_policy_entries(void **state)
{
    store *s = *state;
    auth_principal a, b;
    principal(&a, "AKIADDDDDDDDDDDDDDDD", "dave");
    principal(&b, "AKIAEEEEEEEEEEEEEEEE", "erin");
    json_t *docs = json_array();
    auth_cache_put_policies(s, store_auth_generation(), &a, docs);
    json_t *got = auth_cache_get_policies(s, &a);
    assert_ptr_equal(got, docs);
    json_decref(got);
    assert_null(auth_cache_get_policies(s, &b));   /* another user */
    /* a role session of the same name is another principal */
    gt_strlcpy(b.type, "AssumedRole", sizeof b.type);
    gt_strlcpy(b.user_name, "dave", sizeof b.user_name);
    assert_null(auth_cache_get_policies(s, &b));
    run_put(s, "iam.group", "devs", false);
    assert_null(auth_cache_get_policies(s, &a));
    json_decref(docs);
}

/* Through identity.c: a deleted key stops working on the next call. */
static void test_lookup_sees_delete(void **state)
{
    store *s = *state;
    auth_principal root, admin, out;
    bool created = false;
    char err[512];
    assert_int_equal(auth_bootstrap(s, dir, "123456789012", "us-east-1", &root, &admin, &created, err, sizeof err),
                     GT_OK);
    assert_int_equal(auth_lookup_key(s, admin.access_key_id, &out), GT_OK);
    assert_int_equal(auth_lookup_key(s, admin.access_key_id, &out), GT_OK);   /* cached */
    assert_true(auth_cache_get_key(s, admin.access_key_id, &out));
    run_put(s, "access_key", admin.access_key_id, true);
    assert_int_equal(auth_lookup_key(s, admin.access_key_id, &out), GT_E_UNRECOGNIZED_CLIENT);
}

/* A start on an existing data dir leaves an unchanged credentials file
 * alone (no write, fsync and rename on the cold start), and repairs one
 * that differs. */
static void test_credentials_file_kept(void **state)
{
    store *s = *state;
    auth_principal root, admin;
    bool created = false;
    char err[512], path[400];
    snprintf(path, sizeof path, "%s/credentials", dir);
    assert_int_equal(auth_bootstrap(s, dir, "123456789012", "us-east-1", &root, &admin, &created, err, sizeof err),
                     GT_OK);
    assert_true(created);
    struct stat a, b;
    assert_int_equal(stat(path, &a), 0);
    assert_int_equal(a.st_mode & 0777, 0600);
    assert_int_equal(auth_bootstrap(s, dir, "123456789012", "us-east-1", &root, &admin, &created, err, sizeof err),
                     GT_OK);
    assert_false(created);
    assert_int_equal(stat(path, &b), 0);
    assert_true(a.st_ino == b.st_ino);   /* not replaced */
    /* another region is another text: rewritten */
    assert_int_equal(auth_bootstrap(s, dir, "123456789012", "eu-west-1", &root, &admin, &created, err, sizeof err),
                     GT_OK);
    assert_int_equal(stat(path, &b), 0);
    assert_true(a.st_ino != b.st_ino);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char text[2048];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    assert_non_null(strstr(text, "region = eu-west-1"));
    assert_non_null(strstr(text, admin.secret));
}

static void test_uuid4(void **state)
{
    (void)state;
    char a[37], b[37];
    gt_uuid4(a);
    gt_uuid4(b);
    assert_int_equal(strlen(a), 36);
    assert_string_not_equal(a, b);
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            assert_int_equal(a[i], '-');
        else
            assert_non_null(strchr("0123456789abcdef", a[i]));
    }
    assert_int_equal(a[14], '4');
    assert_non_null(strchr("89ab", a[19]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_generation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_entries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ttl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_policy_entries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lookup_sees_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_credentials_file_kept, setup, teardown),
        cmocka_unit_test(test_uuid4),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
