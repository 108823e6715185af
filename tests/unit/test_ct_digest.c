/*
 * test_ct_digest.c: unit tests for cloudtrail/ct_digest.c: gzip as one
 * member that round-trips, SHA-256 hex, the string to sign (§3.3), signing
 * with a per-region key stored 0600 under the data dir and verifying with
 * the PKCS#1 DER ListPublicKeys serves, fingerprint = MD5 of that DER,
 * and that a changed message or signature does not verify.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cloudtrail/ct_digest.h"
#include "util/gtutil.h"

static void test_gzip(void **state)
{
    (void)state;
    const char *text = "{\"Records\":[{\"eventName\":\"CreateGroup\"}]}";
    unsigned char *gz = NULL, *back = NULL;
    size_t gzn = 0, backn = 0;
    assert_true(ct_gzip(text, strlen(text), &gz, &gzn));
    assert_true(gzn > 18 && gz[0] == 0x1f && gz[1] == 0x8b);
    assert_true(ct_gunzip(gz, gzn, 1 << 20, &back, &backn));
    assert_int_equal(backn, strlen(text));
    assert_memory_equal(back, text, backn);
    free(back);
    /* a cap smaller than the content fails rather than truncating */
    assert_false(ct_gunzip(gz, gzn, 8, &back, &backn));
    /* garbage is not gzip */
    assert_false(ct_gunzip("nope", 4, 1024, &back, &backn));
    free(gz);
    char hex[65];
    ct_sha256_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_string_to_sign(void **state)
{
    (void)state;
    char *s = ct_digest_string_to_sign("2026-01-01T01:00:00Z", "bkt", "AWSLogs/k.json.gz", "ab12", NULL);
    assert_string_equal(s, "2026-01-01T01:00:00Z\nbkt/AWSLogs/k.json.gz\nab12\nnull");
    free(s);
    s = ct_digest_string_to_sign("2026-01-01T01:00:00Z", "bkt", "k", "ab12", "ff00");
    assert_string_equal(s, "2026-01-01T01:00:00Z\nbkt/k\nab12\nff00");
    free(s);
}

/* The DER ListPublicKeys would serve, read back from the handler. */
static void list_keys(json_t **out)
{
    gt_call c;
    memset(&c, 0, sizeof c);
    c.region = "eu-west-1";
    c.now_ms = gt_now_ms();
    c.input = json_object();
    assert_int_equal(ct_digest_list_public_keys(&c, NULL), GT_OK);
    *out = json_incref(json_object_get(c.output, "PublicKeyList"));
    json_decref(c.output);
    json_decref(c.input);
}

/* DATA_DIR/cloudtrail-keys/REGION holds exactly one key file, mode 0600. */
static void assert_one_private_key(const char *data_dir, const char *region)
{
    char kdir[512];
    snprintf(kdir, sizeof kdir, "%s/cloudtrail-keys/%s", data_dir, region);
    DIR *d = opendir(kdir);
    assert_non_null(d);
    struct dirent *e;
    int files = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", kdir, e->d_name);
        struct stat sb;
        assert_int_equal(stat(p, &sb), 0);
        assert_int_equal(sb.st_mode & 0777, 0600);
        files++;
    }
    closedir(d);
    assert_int_equal(files, 1);
}

static void test_sign_verify(void **state)
{
    (void)state;
    char dir[] = "/tmp/gt-ct-digest-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char err[256];
    assert_true(ct_digest_init(dir, err, sizeof err));
    char sig[513], fp[33];
    const char *msg = "2026-01-01T01:00:00Z\nbkt/k\nab12\nnull";
    assert_true(ct_digest_sign("eu-west-1", msg, sig, fp));
    assert_int_equal(strlen(sig), 512);
    assert_int_equal(strlen(fp), 32);

    assert_one_private_key(dir, "eu-west-1");   /* the key file is private */

    json_t *keys;
    list_keys(&keys);
    assert_int_equal(json_array_size(keys), 1);
    json_t *k = json_array_get(keys, 0);
    const char *b64 = json_string_value(json_object_get(k, "Value"));
    unsigned char der[1024];
    int n = EVP_DecodeBlock(der, (const unsigned char *)b64, (int)strlen(b64));
    assert_true(n > 0);
    while (n > 0 && b64[strlen(b64) - 1] == '=' && der[n - 1] == 0 && n > 200)   /* strip base64 padding bytes */
        n--;
    /* PKCS#1 RSAPublicKey (what the v1 CLI's rsa.PublicKey.load_pkcs1 takes) */
    assert_true(strncmp(b64, "MIIBCgKCAQEA", 12) == 0);
    unsigned char md[16];
    unsigned int mdl;
    EVP_Digest(der, (size_t)n, md, &mdl, EVP_md5(), NULL);
    char mdhex[33];
    gt_hex(md, 16, mdhex);
    assert_string_equal(mdhex, fp);
    assert_string_equal(json_string_value(json_object_get(k, "Fingerprint")), fp);
    assert_true(ct_digest_verify_der(der, (size_t)n, msg, sig));
    assert_false(ct_digest_verify_der(der, (size_t)n, "2026-01-01T01:00:00Z\nbkt/k\nab13\nnull", sig));
    char bad[513];
    memcpy(bad, sig, sizeof bad);
    bad[10] = bad[10] == '0' ? '1' : '0';
    assert_false(ct_digest_verify_der(der, (size_t)n, msg, bad));
    json_decref(keys);

    /* a restart loads the same key (same fingerprint), no new file */
    ct_digest_shutdown();
    assert_true(ct_digest_init(dir, err, sizeof err));
    char fp2[33];
    assert_true(ct_digest_sign("eu-west-1", msg, sig, fp2));
    assert_string_equal(fp, fp2);
    ct_digest_shutdown();
}

/* A key older than its signing period is replaced; both stay listed while
 * their validity windows overlap the asked range. */
static void test_rotation(void **state)
{
    (void)state;
    char dir[] = "/tmp/gt-ct-rotate-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char err[256], sig[513], fp_old[33], fp_new[33];
    assert_true(ct_digest_init(dir, err, sizeof err));
    assert_true(ct_digest_sign("eu-west-1", "m", sig, fp_old));
    ct_digest_shutdown();
    /* age the key file: 30.5 days old */
    char kdir[512], from[1024] = "", to[1024];
    snprintf(kdir, sizeof kdir, "%s/cloudtrail-keys/eu-west-1", dir);
    DIR *d = opendir(kdir);
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            snprintf(from, sizeof from, "%s/%s", kdir, e->d_name);
    closedir(d);
    long long old = (long long)(gt_now_ms() / 1000) - 30 * 86400 - 43200;
    snprintf(to, sizeof to, "%s/%lld.pem", kdir, old);
    assert_int_equal(rename(from, to), 0);
    assert_true(ct_digest_init(dir, err, sizeof err));
    assert_true(ct_digest_sign("eu-west-1", "m", sig, fp_new));
    assert_string_not_equal(fp_old, fp_new);
    json_t *keys;
    list_keys(&keys);   /* now: both windows overlap (31-day validity) */
    assert_int_equal(json_array_size(keys), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(keys, 0), "Fingerprint")), fp_new);
    json_decref(keys);
    ct_digest_shutdown();
}

/* Keys in the store (several nodes): a node with an empty key dir, on the
 * same store, signs with the key another node made, and ListPublicKeys
 * (through the call's read transaction) lists it. Keys made before the
 * store held them (files only) are copied into it. */
typedef struct lk_ctx {
    json_t *keys;
} lk_ctx;

static gt_err list_job(store_txn *t, void *ud)
{
    lk_ctx *l = ud;
    gt_call c;
    memset(&c, 0, sizeof c);
    c.region = "eu-west-1";
    c.now_ms = gt_now_ms();
    c.input = json_object();
    gt_err e = ct_digest_list_public_keys(&c, t);
    l->keys = json_incref(json_object_get(c.output, "PublicKeyList"));
    json_decref(c.output);
    json_decref(c.input);
    return e;
}

static bool listed(json_t *keys, const char *fp)
{
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k)
        if (strcmp(json_string_value(json_object_get(k, "Fingerprint")), fp) == 0)
            return true;
    return false;
}

static void test_keys_in_store(void **state)
{
    (void)state;
    char sdir[] = "/tmp/gt-ct-store-XXXXXX", d1[] = "/tmp/gt-ct-node1-XXXXXX", d2[] = "/tmp/gt-ct-node2-XXXXXX";
    assert_non_null(mkdtemp(sdir));
    assert_non_null(mkdtemp(d1));
    assert_non_null(mkdtemp(d2));
    char err[256], sig[513], fp_legacy[33], fp1[33], fp2[33];
    /* node 1 before keys were shared: a file-only key */
    assert_true(ct_digest_init(d1, err, sizeof err));
    assert_true(ct_digest_sign("eu-west-1", "m", sig, fp_legacy));
    ct_digest_shutdown();
    store *st = store_open(sdir, err, sizeof err);
    assert_non_null(st);
    /* node 1 on the store: its file key goes into the store */
    assert_true(ct_digest_init(d1, err, sizeof err));
    ct_digest_attach_store(st, "us-east-1");
    assert_true(ct_digest_sign("eu-west-1", "m", sig, fp1));
    assert_string_equal(fp1, fp_legacy);
    ct_digest_shutdown();
    /* node 2: empty key dir, same store */
    assert_true(ct_digest_init(d2, err, sizeof err));
    ct_digest_attach_store(st, "us-east-1");
    lk_ctx l = {NULL};
    assert_int_equal(store_read(st, list_job, &l), GT_OK);
    assert_true(listed(l.keys, fp1));
    assert_true(json_array_size(l.keys) >= 2);   /* and the home region's, made at attach */
    json_decref(l.keys);
    assert_true(ct_digest_sign("eu-west-1", "m", sig, fp2));
    assert_string_equal(fp2, fp1);
    assert_one_private_key(d2, "eu-west-1");   /* node 2's copy is a private cache file */
    ct_digest_shutdown();
    store_close(st);
}


/* The lock cycle between ListPublicKeys (inside a store reader, then the
 * key lock) and signing (the key lock, then a store reader): with every
 * reader held by a ListPublicKeys call and a signer holding the key lock
 * while it waits for a reader, the calls must give up (503) so the signer
 * gets its reader; before the bound this hung forever. */
#define HOLDERS 4   /* = the SQLite store's reader connections */
static atomic_int lc_holding;
static atomic_bool lc_go;
static gt_err lc_result[HOLDERS];

static gt_err lc_hold_job(store_txn *t, void *ud)
{
    (void)ud;
    int me = atomic_fetch_add(&lc_holding, 1);
    while (!atomic_load(&lc_go)) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    lk_ctx l = {NULL};
    lc_result[me] = list_job(t, &l);
    json_decref(l.keys);
    return GT_OK;
}

static void *lc_holder(void *arg)
{
    store_read(arg, lc_hold_job, NULL);
    return NULL;
}

static void *lc_signer(void *arg)
{
    (void)arg;
    char sig[513], fp[33];
    return ct_digest_sign("eu-west-1", "m", sig, fp) ? (void *)1 : NULL;
}

static void test_list_keys_lock_cycle(void **state)
{
    (void)state;
    char sdir[] = "/tmp/gt-ct-cycle-XXXXXX", d1[] = "/tmp/gt-ct-cyclen-XXXXXX";
    assert_non_null(mkdtemp(sdir));
    assert_non_null(mkdtemp(d1));
    char err[256], sig[513], fp[33];
    store *st = store_open(sdir, err, sizeof err);
    assert_non_null(st);
    assert_true(ct_digest_init(d1, err, sizeof err));
    ct_digest_attach_store(st, "us-east-1");
    assert_true(ct_digest_sign("us-east-1", "m", sig, fp));   /* the home key exists */
    pthread_t h[HOLDERS], sg;
    for (int i = 0; i < HOLDERS; i++)
        assert_int_equal(pthread_create(&h[i], NULL, lc_holder, st), 0);
    while (atomic_load(&lc_holding) < HOLDERS) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    /* every reader is held: the signer takes the key lock and then waits
     * for a reader (a new region's key: it syncs with the store first) */
    assert_int_equal(pthread_create(&sg, NULL, lc_signer, NULL), 0);
    struct timespec ts = {0, 300 * 1000 * 1000};
    nanosleep(&ts, NULL);
    atomic_store(&lc_go, true);
    for (int i = 0; i < HOLDERS; i++)
        assert_int_equal(pthread_join(h[i], NULL), 0);
    void *signed_ok = NULL;
    assert_int_equal(pthread_join(sg, &signed_ok), 0);
    assert_non_null(signed_ok);
    for (int i = 0; i < HOLDERS; i++)
        assert_true(lc_result[i] == GT_E_UNAVAILABLE || lc_result[i] == GT_OK);
    assert_int_equal(lc_result[0] == GT_E_UNAVAILABLE || lc_result[1] == GT_E_UNAVAILABLE ||
                         lc_result[2] == GT_E_UNAVAILABLE || lc_result[3] == GT_E_UNAVAILABLE,
                     1);
    /* and afterwards the keys list as usual */
    lk_ctx l = {NULL};
    assert_int_equal(store_read(st, list_job, &l), GT_OK);
    assert_true(listed(l.keys, fp));
    json_decref(l.keys);
    ct_digest_shutdown();
    store_close(st);
}

/* gt_rsa_gen (the background key threads' generator): a key when not
 * cancelled; NULL, soon, when cancelled before or during the generation
 * (a stop must not wait for a key starved of CPU). */
static _Atomic bool rg_cancel;

static void *rg_cancel_soon(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    atomic_store(&rg_cancel, true);
    return NULL;
}

static void test_rsa_gen_cancel(void **state)
{
    (void)state;
    EVP_PKEY *k = gt_rsa_gen(2048, NULL);
    assert_non_null(k);
    assert_int_equal(EVP_PKEY_get_bits(k), 2048);
    EVP_PKEY_free(k);
    atomic_store(&rg_cancel, true);
    assert_null(gt_rsa_gen(2048, &rg_cancel));
    /* during: 8192 bits take seconds; the cancel comes after 20 ms */
    atomic_store(&rg_cancel, false);
    pthread_t th;
    int64_t t0 = gt_now_ms();
    assert_int_equal(pthread_create(&th, NULL, rg_cancel_soon, NULL), 0);
    k = gt_rsa_gen(8192, &rg_cancel);
    int64_t took = gt_now_ms() - t0;
    assert_int_equal(pthread_join(th, NULL), 0);
    if (k) {   /* finished before the cancel: only on a very fast machine */
        assert_true(took < 100);
        EVP_PKEY_free(k);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gzip),
        cmocka_unit_test(test_string_to_sign),
        cmocka_unit_test(test_sign_verify),
        cmocka_unit_test(test_rotation),
        cmocka_unit_test(test_keys_in_store),
        cmocka_unit_test(test_list_keys_lock_cycle),
        cmocka_unit_test(test_rsa_gen_cancel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
