/*
 * test_policy_creds.c: unit tests for the credentials that feed policy
 * decisions: RS256 web identity tokens (sts/webid.c: PEM and JWKS keys,
 * kid selection, wrong key, alg none/HS256, malformed tokens) and console
 * passwords (iam/iam.c: scrypt-hashed login profiles, checked in a real
 * store in a temporary directory), and the sweep of long-expired STS
 * sessions.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "iam/iam.h"
#include "sts/sts.h"
#include "sts/webid.h"
#include "util/gtutil.h"

static char *b64u(const unsigned char *in, size_t n)
{
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    int len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);
    while (len > 0 && out[len - 1] == '=')
        len--;
    out[len] = '\0';
    for (int i = 0; i < len; i++)
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    return out;
}

static char *make_jwt(EVP_PKEY *key, const char *header, const char *payload)
{
    char *h = b64u((const unsigned char *)header, strlen(header));
    char *p = b64u((const unsigned char *)payload, strlen(payload));
    size_t cap = strlen(h) + strlen(p) + 1024;
    char *t = malloc(cap);
    snprintf(t, cap, "%s.%s", h, p);
    unsigned char sig[512];
    size_t sl = sizeof sig;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key), 1);
    assert_int_equal(EVP_DigestSign(md, sig, &sl, (unsigned char *)t, strlen(t)), 1);
    EVP_MD_CTX_free(md);
    char *s = b64u(sig, sl);
    size_t n = strlen(t);
    snprintf(t + n, cap - n, ".%s", s);
    free(h);
    free(p);
    free(s);
    return t;
}

static char *pem_of(EVP_PKEY *key)
{
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(b, key);
    char *data;
    long n = BIO_get_mem_data(b, &data);
    char *out = strndup(data, (size_t)n);
    BIO_free(b);
    return out;
}

static char *jwks_of(EVP_PKEY *key, const char *kid)
{
    BIGNUM *n = NULL, *e = NULL;
    EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n);
    EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e);
    unsigned char nb[512], eb[8];
    int nl = BN_bn2bin(n, nb), el = BN_bn2bin(e, eb);
    char *ns = b64u(nb, (size_t)nl), *es = b64u(eb, (size_t)el);
    json_t *j = json_pack("{s:[{s:s, s:s, s:s, s:s}]}", "keys", "kty", "RSA", "kid", kid, "n", ns, "e", es);
    char *out = json_dumps(j, 0);
    json_decref(j);
    free(ns);
    free(es);
    BN_free(n);
    BN_free(e);
    return out;
}

static void test_jwt(void **state)
{
    EVP_PKEY *k1 = EVP_RSA_gen(2048), *k2 = EVP_RSA_gen(2048);
    assert_non_null(k1);
    assert_non_null(k2);
    const char *payload = "{\"iss\":\"https://idp.example\",\"sub\":\"u1\",\"aud\":\"app\",\"exp\":9999999999}";
    char *pem1 = pem_of(k1), *jwks = jwks_of(k1, "one");
    assert_true(sts_jwt_keys_usable(pem1));
    assert_true(sts_jwt_keys_usable(jwks));
    assert_false(sts_jwt_keys_usable("{}"));
    assert_false(sts_jwt_keys_usable("-----BEGIN PUBLIC KEY-----\ngarbage\n-----END PUBLIC KEY-----\n"));

    char *good = make_jwt(k1, "{\"alg\":\"RS256\",\"kid\":\"one\"}", payload);
    json_t *claims = NULL;
    assert_int_equal(sts_jwt_verify(good, pem1, &claims), STS_JWT_OK);
    assert_string_equal(json_string_value(json_object_get(claims, "sub")), "u1");
    json_decref(claims);
    assert_int_equal(sts_jwt_verify(good, jwks, &claims), STS_JWT_OK);
    json_decref(claims);
    json_t *unv = sts_jwt_claims_unverified(good);
    assert_string_equal(json_string_value(json_object_get(unv, "iss")), "https://idp.example");
    json_decref(unv);

    char *other = make_jwt(k2, "{\"alg\":\"RS256\"}", payload);
    assert_int_equal(sts_jwt_verify(other, pem1, &claims), STS_JWT_BAD_SIGNATURE);
    assert_null(claims);
    char *wrongkid = make_jwt(k1, "{\"alg\":\"RS256\",\"kid\":\"two\"}", payload);
    assert_int_equal(sts_jwt_verify(wrongkid, jwks, &claims), STS_JWT_NO_KEY);
    char *hs = make_jwt(k1, "{\"alg\":\"HS256\"}", payload);
    assert_int_equal(sts_jwt_verify(hs, pem1, &claims), STS_JWT_BAD_ALG);
    /* a tampered payload keeps the old signature */
    char *dot = strchr(good, '.');
    dot[2] = dot[2] == 'A' ? 'B' : 'A';
    assert_int_not_equal(sts_jwt_verify(good, pem1, &claims), STS_JWT_OK);
    assert_int_equal(sts_jwt_verify("a.b", pem1, &claims), STS_JWT_MALFORMED);
    assert_int_equal(sts_jwt_verify("a.b.c.d", pem1, &claims), STS_JWT_MALFORMED);
    assert_int_equal(sts_jwt_verify("e30.e30.!!", pem1, &claims), STS_JWT_MALFORMED);
    assert_null(sts_jwt_claims_unverified("x.y"));
    free(good);
    free(other);
    free(wrongkid);
    free(hs);
    free(pem1);
    free(jwks);
    EVP_PKEY_free(k1);
    EVP_PKEY_free(k2);
}

/* ---- console passwords in a real store ---- */

typedef struct pw_job {
    const char *op;
    const char *input;
    gt_err rc;
    const model_service *svc;   /* NULL: IAM */
    int64_t now_ms;             /* 0: now */
    char akid[32];              /* out: Credentials.AccessKeyId, if any */
} pw_job;

static gt_err run_op(store_txn *t, void *ud)
{
    pw_job *j = ud;
    auth_principal who = {.type = "IAMUser", .account_id = "123456789012", .user_name = "admin",
                          .arn = "arn:aws:iam::123456789012:user/admin"};
    http_req req = {.method = "POST", .remote_ip = "127.0.0.1"};
    const model_service *svc = j->svc ? j->svc : &model_iam;
    gt_call c = {.who = &who, .req = &req, .account = "123456789012", .region = "us-east-1", .svc = svc,
                 .op = model_find_op(svc, j->op), .now_ms = j->now_ms ? j->now_ms : gt_now_ms()};
    c.input = json_loads(j->input, 0, NULL);
    j->rc = (svc == &model_iam ? iam_handler_for(j->op) : sts_handler_for(j->op))(&c, t);
    const char *ak = json_string_value(json_object_get(json_object_get(c.output, "Credentials"), "AccessKeyId"));
    gt_strlcpy(j->akid, ak ? ak : "", sizeof j->akid);
    json_decref(c.input);
    json_decref(c.output);
    json_decref(c.resources);
    return j->rc;
}

typedef struct check_job {
    const char *user, *pw;
    bool ok;
} check_job;

static gt_err run_check(store_txn *t, void *ud)
{
    check_job *j = ud;
    j->ok = iam_check_password(t, "123456789012", j->user, j->pw);
    return GT_OK;
}

static void test_passwords(void **state)
{
    char dir[] = "/tmp/gt-test-pw-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char err[256];
    store *st = store_open(dir, err, sizeof err);
    assert_non_null(st);
    pw_job a = {.op = "CreateUser", .input = "{\"UserName\":\"web\"}"};
    assert_int_equal(store_run(st, run_op, &a), GT_OK);
    pw_job b = {.op = "CreateLoginProfile", .input = "{\"UserName\":\"web\",\"Password\":\"correct horse\"}"};
    assert_int_equal(store_run(st, run_op, &b), GT_OK);
    check_job c1 = {.user = "web", .pw = "correct horse"}, c2 = {.user = "web", .pw = "correct hors"},
              c3 = {.user = "nobody", .pw = "correct horse"};
    assert_int_equal(store_read(st, run_check, &c1), GT_OK);
    assert_true(c1.ok);
    store_read(st, run_check, &c2);
    assert_false(c2.ok);
    store_read(st, run_check, &c3);
    assert_false(c3.ok);
    store_close(st);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_session_sweep(void **state)
{
    char dir[] = "/tmp/gt-test-sweep-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char err[256];
    store *st = store_open(dir, err, sizeof err);
    assert_non_null(st);
    pw_job role = {.op = "CreateRole", .input = "{\"RoleName\":\"r\",\"AssumeRolePolicyDocument\":"
                   "\"{\\\"Statement\\\":[{\\\"Effect\\\":\\\"Allow\\\",\\\"Principal\\\":"
                   "{\\\"AWS\\\":\\\"123456789012\\\"},\\\"Action\\\":\\\"sts:AssumeRole\\\"}]}\"}"};
    assert_int_equal(store_run(st, run_op, &role), GT_OK);
    const char *in = "{\"RoleArn\":\"arn:aws:iam::123456789012:role/r\",\"RoleSessionName\":\"ss\","
                     "\"DurationSeconds\":900}";
    /* a session issued three days ago, long expired */
    pw_job old = {.op = "AssumeRole", .input = in, .svc = &model_sts, .now_ms = gt_now_ms() - 3LL * 86400 * 1000};
    assert_int_equal(store_run(st, run_op, &old), GT_OK);
    assert_true(strncmp(old.akid, "ASIA", 4) == 0);
    auth_principal p;
    assert_int_equal(auth_lookup_key(st, old.akid, &p), GT_OK);
    assert_int_equal(auth_check_session(&p, "x", 1, gt_now_ms()), GT_E_UNRECOGNIZED_CLIENT);
    /* a fresh session sweeps it away; the fresh one stays */
    pw_job fresh = {.op = "AssumeRole", .input = in, .svc = &model_sts};
    assert_int_equal(store_run(st, run_op, &fresh), GT_OK);
    assert_int_equal(auth_lookup_key(st, old.akid, &p), GT_E_UNRECOGNIZED_CLIENT);
    assert_int_equal(auth_lookup_key(st, fresh.akid, &p), GT_OK);
    assert_true(p.temporary && p.expires_ms > gt_now_ms());
    store_close(st);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jwt),
        cmocka_unit_test(test_passwords),
        cmocka_unit_test(test_session_sweep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
