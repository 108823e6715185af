/* Unit tests: the external S3 client's pieces that need no server
 * (s3/s3_remote.c: ListObjectsV2 and <Error> parsing, URI encoding for
 * SigV4's canonical form, option checks) and the per-bucket target
 * selector (s3/s3_target.c). Requests themselves are tested end to end
 * against s3rver and greentrail's own S3 (tests/e2e/test_external_s3.py). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "s3/s3_remote.h"
#include "s3/s3_target.h"

typedef struct keys {
    char got[8][128];
    int n;
    int stop_after;
} keys;

static int key_cb(void *ud, const char *key)
{
    keys *k = ud;
    if (k->n < 8)
        snprintf(k->got[k->n], sizeof k->got[0], "%s", key);
    k->n++;
    return k->stop_after && k->n >= k->stop_after;
}

static void test_parse_list(void **st)
{
    (void)st;
    const char *xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
                      "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>b</Name>"
                      "<Prefix>p/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated>"
                      "<Contents><Key>p/a&amp;b.json.gz</Key><Size>1</Size></Contents>"
                      "<Contents><ETag>\"x\"</ETag><Key>p/c</Key></Contents>"
                      "<NextContinuationToken>tok/+=</NextContinuationToken></ListBucketResult>";
    keys k = {0};
    bool more = false;
    char tok[64];
    assert_int_equal(s3_remote_parse_list(xml, strlen(xml), key_cb, &k, &more, tok, sizeof tok), 0);
    assert_int_equal(k.n, 2);
    assert_string_equal(k.got[0], "p/a&b.json.gz");
    assert_string_equal(k.got[1], "p/c");
    assert_true(more);
    assert_string_equal(tok, "tok/+=");
    /* the last page; a callback that stops */
    const char *last = "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>k1</Key></Contents>"
                       "<Contents><Key>k2</Key></Contents></ListBucketResult>";
    keys k2 = {.stop_after = 1};
    assert_int_equal(s3_remote_parse_list(last, strlen(last), key_cb, &k2, &more, tok, sizeof tok), 1);
    assert_int_equal(k2.n, 1);
    assert_false(more);
    assert_string_equal(tok, "");
    /* not a listing */
    const char *err = "<Error><Code>NoSuchBucket</Code></Error>";
    assert_int_equal(s3_remote_parse_list(err, strlen(err), key_cb, &k, &more, tok, sizeof tok), -1);
    assert_int_equal(s3_remote_parse_list("garbage<", 8, key_cb, &k, &more, tok, sizeof tok), -1);
}

static void test_parse_error(void **st)
{
    (void)st;
    s3_remote_res r = {0};
    const char *xml = "<?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code>"
                      "<Message>The request signature we calculated does not match</Message><RequestId>1</RequestId></Error>";
    s3_remote_parse_error(xml, strlen(xml), &r);
    assert_string_equal(r.code, "SignatureDoesNotMatch");
    assert_string_equal(r.msg, "The request signature we calculated does not match");
    s3_remote_res r2 = {0};
    s3_remote_parse_error("<html>oops</html>", 17, &r2);
    assert_string_equal(r2.code, "");
    s3_remote_parse_error(NULL, 0, &r2);
    assert_string_equal(r2.code, "");
}

static void test_uri_encode(void **st)
{
    (void)st;
    char out[64];
    assert_true(s3_remote_uri_encode("AWSLogs/1/a b+c~_-.json", true, out, sizeof out));
    assert_string_equal(out, "AWSLogs/1/a%20b%2Bc~_-.json");
    assert_true(s3_remote_uri_encode("p/q=1&é", false, out, sizeof out));
    assert_string_equal(out, "p%2Fq%3D1%26%C3%A9");
    assert_false(s3_remote_uri_encode("abcdef", true, out, 6));
    assert_true(s3_remote_uri_encode("abcde", true, out, 6));
}

static void test_new_checks_options(void **st)
{
    (void)st;
    char err[256];
    s3_remote_opts o = {.endpoint = "ftp://x", .access_key = "AK", .secret_key = "SK"};
    assert_null(s3_remote_new(&o, err, sizeof err));
    assert_non_null(strstr(err, "http"));
    o.endpoint = "http://user:pw@127.0.0.1:9000";
    assert_null(s3_remote_new(&o, err, sizeof err));
    o.endpoint = "http://127.0.0.1:9000/";
    o.secret_key = "";
    assert_null(s3_remote_new(&o, err, sizeof err));
    assert_null(strstr(err, "SK"));
    o.secret_key = "SECRET-VALUE";
    o.region = "Bad Region";
    assert_null(s3_remote_new(&o, err, sizeof err));
    assert_null(strstr(err, "SECRET-VALUE"));
    o.region = NULL;
    s3_remote *r = s3_remote_new(&o, err, sizeof err);
    assert_non_null(r);
    assert_string_equal(s3_remote_endpoint(r), "http://127.0.0.1:9000");
    s3_remote_free(r);
}

static s3_remote *remote(void)
{
    char err[256];
    s3_remote_opts o = {.endpoint = "http://127.0.0.1:1", .access_key = "AK", .secret_key = "SK"};
    return s3_remote_new(&o, err, sizeof err);
}

static void test_target_selects(void **st)
{
    (void)st;
    char err[256];
    s3_target *t = s3_target_new(NULL, remote(), " ext-a, ext-b ext-c ", err, sizeof err);
    assert_non_null(t);
    assert_true(s3_target_is_external(t, "ext-a"));
    assert_true(s3_target_is_external(t, "ext-c"));
    assert_false(s3_target_is_external(t, "ext"));
    assert_false(s3_target_is_external(t, "local"));
    assert_false(s3_target_is_external(t, NULL));
    assert_string_equal(s3_target_endpoint(t), "http://127.0.0.1:1");
    s3_target_free(t);
    t = s3_target_new(NULL, remote(), "*", err, sizeof err);
    assert_true(s3_target_is_external(t, "anything"));
    s3_target_free(t);
    /* no list: nothing is external; a list without an endpoint is an error */
    t = s3_target_new(NULL, NULL, "", err, sizeof err);
    assert_non_null(t);
    assert_false(s3_target_is_external(t, "x-bkt"));
    assert_null(s3_target_endpoint(t));
    /* built-in store absent: a put fails with NoSuchBucket, as before */
    char msg[128] = "";
    assert_int_not_equal(s3_target_put(t, "x-bkt", "k", "a", 1, "text/plain", NULL, msg, sizeof msg), GT_OK);
    assert_string_equal(msg, "NoSuchBucket");
    s3_target_free(t);
    assert_null(s3_target_new(NULL, NULL, "ext-a", err, sizeof err));
    assert_non_null(strstr(err, "endpoint"));
    assert_null(s3_target_new(NULL, remote(), "ok-name,x", err, sizeof err));
    assert_false(s3_target_is_external(NULL, "x"));
}

/* A refused connection comes back fast, as ConnectionRefused, with no
 * HTTP status, and through the selector as the GetTrailStatus text. */
static void test_refused_is_reported(void **st)
{
    (void)st;
    char err[256];
    s3_remote_opts o = {.endpoint = "http://127.0.0.1:1", .access_key = "AK", .secret_key = "SK",
                        .connect_timeout_ms = 500, .timeout_ms = 1000};
    s3_remote *r = s3_remote_new(&o, err, sizeof err);
    s3_remote_res res;
    assert_false(s3_remote_head_bucket(r, "b-bkt", &res));
    assert_int_equal(res.http, 0);
    assert_string_equal(res.code, "ConnectionRefused");
    s3_target *t = s3_target_new(NULL, r, "*", err, sizeof err);
    char msg[512];
    assert_int_equal(s3_target_put(t, "b-bkt", "k", "x", 1, "text/plain", "{\"signature\":\"ab\"}", msg, sizeof msg),
                     GT_E_UNAVAILABLE);
    assert_non_null(strstr(msg, "ConnectionRefused: http://127.0.0.1:1"));
    assert_null(strstr(msg, "SK"));
    assert_int_equal(s3_target_check_bucket(t, "b-bkt", msg, sizeof msg), S3_TARGET_BUCKET_UNREACHABLE);
    s3_target_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_list),
        cmocka_unit_test(test_parse_error),
        cmocka_unit_test(test_uri_encode),
        cmocka_unit_test(test_new_checks_options),
        cmocka_unit_test(test_target_selects),
        cmocka_unit_test(test_refused_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
