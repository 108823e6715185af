/* Unit tests: CloudTrail record building and redaction (ct_record.c),
 * Greengrass masking table (gg.c), paging tokens (pagetoken.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "api/call.h"
#include "api/pagetoken.h"
#include "cloudtrail/ct_record.h"
#include "greengrass/gg.h"
#include "model/model.h"

static auth_principal admin(void)
{
    auth_principal p;
    memset(&p, 0, sizeof p);
    strcpy(p.type, "IAMUser"); /* test data only; src/ bans strcpy */
    strcpy(p.principal_id, "AIDAAAAAAAAAAAAAAAAAA");
    strcpy(p.arn, "arn:aws:iam::123456789012:user/admin");
    strcpy(p.account_id, "123456789012");
    strcpy(p.access_key_id, "AKIAAAAAAAAAAAAAAAAA");
    strcpy(p.user_name, "admin");
    strcpy(p.secret, "SECRETSECRETSECRETSECRETSECRETSECRETSECR");
    return p;
}

static gt_call make_call(const auth_principal *who, const http_req *req, const char *op)
{
    gt_call c;
    memset(&c, 0, sizeof c);
    c.who = who;
    c.req = req;
    c.account = who->account_id;
    c.region = "eu-west-1";
    c.svc = &model_greengrass;
    c.op = model_find_op(&model_greengrass, op);
    strcpy(c.request_id, "11111111-1111-4111-8111-111111111111");
    return c;
}

static void test_record_fields_and_order(void **st)
{
    (void)st;
    auth_principal p = admin();
    http_header h[] = {{"User-Agent", 10, "aws-cli/2.9.19", 14}};
    http_req req = {.method = "POST", .headers = h, .n_headers = 1, .remote_ip = "10.1.2.3"};
    gt_call c = make_call(&p, &req, "CreateFunctionDefinition");
    assert_non_null(c.op);
    c.input = json_pack("{s:{s:[]}}", "InitialVersion", "Functions");
    c.output = json_pack("{s:s}", "Id", "abc");
    ct_record_parts parts = {0};
    gg_record_parts(&c, &parts);
    json_t *r = ct_record_build(&c, &parts, "22222222-2222-4222-8222-222222222222", 1700000000123LL);
    assert_non_null(r);
    const char *order[] = {"eventVersion", "userIdentity", "eventTime", "eventSource", "eventName",
                           "awsRegion", "sourceIPAddress", "userAgent", "requestParameters",
                           "responseElements", "requestID", "eventID", "readOnly", "eventType",
                           "managementEvent", "recipientAccountId", "eventCategory"};
    size_t i = 0;
    const char *key;
    json_t *v;
    json_object_foreach(r, key, v) {
        assert_true(i < sizeof order / sizeof order[0]);
        assert_string_equal(key, order[i]);
        i++;
    }
    assert_int_equal(i, sizeof order / sizeof order[0]);
    assert_string_equal(json_string_value(json_object_get(r, "eventTime")), "2023-11-14T22:13:20Z");
    assert_string_equal(json_string_value(json_object_get(r, "eventSource")), "greengrass.amazonaws.com");
    assert_string_equal(json_string_value(json_object_get(r, "awsRegion")), "eu-west-1");
    assert_string_equal(json_string_value(json_object_get(r, "sourceIPAddress")), "10.1.2.3");
    assert_string_equal(json_string_value(json_object_get(json_object_get(r, "requestParameters"), "InitialVersion")), "***");
    assert_true(json_is_false(json_object_get(r, "readOnly")));
    assert_true(json_is_true(json_object_get(r, "managementEvent")));
    json_t *ui = json_object_get(r, "userIdentity");
    assert_string_equal(json_string_value(json_object_get(ui, "userName")), "admin");
    assert_null(json_object_get(ui, "secret"));
    char *text = json_dumps(r, 0);
    assert_null(strstr(text, p.secret));
    free(text);
    json_decref(r);
    json_decref(c.input);
    json_decref(c.output);
}

static void test_record_failure_and_root(void **st)
{
    (void)st;
    auth_principal p = admin();
    strcpy(p.type, "Root");
    strcpy(p.user_name, "");
    http_req req = {.method = "PUT", .remote_ip = "127.0.0.1"};
    gt_call c = make_call(&p, &req, "AssociateServiceRoleToAccount");
    c.input = json_pack("{s:s}", "RoleArn", "bad");
    gt_call_fail(&c, GT_E_GG_BAD_REQUEST, "That role ARN is invalid.");
    ct_record_parts parts = {0};
    gg_record_parts(&c, &parts);
    json_t *r = ct_record_build(&c, &parts, "e", 0);
    assert_string_equal(json_string_value(json_object_get(r, "errorCode")), "BadRequestException");
    assert_null(json_object_get(r, "errorMessage"));
    assert_true(json_is_null(json_object_get(r, "requestParameters")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(r, "responseElements"), "Message")),
                        "That role ARN is invalid.");
    assert_null(json_object_get(r, "userAgent"));
    json_t *ui = json_object_get(r, "userIdentity");
    assert_string_equal(json_string_value(json_object_get(ui, "type")), "Root");
    assert_null(json_object_get(ui, "userName"));
    assert_string_equal(ct_username(&p), "root");
    json_decref(r);
    json_decref(c.input);
}

static void test_long_user_agent_truncated(void **st)
{
    (void)st;
    auth_principal p = admin();
    char ua[3000];
    memset(ua, 'a', sizeof ua - 1);
    ua[sizeof ua - 1] = '\0';
    http_header h[] = {{"user-agent", 10, ua, strlen(ua)}};
    http_req req = {.method = "GET", .headers = h, .n_headers = 1, .remote_ip = "127.0.0.1"};
    gt_call c = make_call(&p, &req, "ListGroups");
    c.input = json_object();
    ct_record_parts parts = {0};
    gg_record_parts(&c, &parts);
    json_t *r = ct_record_build(&c, &parts, "e", 0);
    assert_int_equal(json_string_length(json_object_get(r, "userAgent")), CT_MAX_SHORT_FIELD);
    assert_true(json_is_null(json_object_get(r, "requestParameters")));   /* empty input */
    assert_true(json_is_null(json_object_get(r, "responseElements")));    /* read */
    assert_true(json_is_true(json_object_get(r, "readOnly")));
    json_decref(r);
    json_decref(c.input);
}

static void test_huge_parameters_dropped(void **st)
{
    (void)st;
    auth_principal p = admin();
    http_req req = {.method = "POST", .remote_ip = "127.0.0.1"};
    gt_call c = make_call(&p, &req, "CreateGroup");
    char *big = malloc(CT_MAX_PARAMS_BYTES + 10);
    memset(big, 'x', CT_MAX_PARAMS_BYTES + 9);
    big[CT_MAX_PARAMS_BYTES + 9] = '\0';
    c.input = json_pack("{s:s}", "Name", big);
    ct_record_parts parts = {0};
    gg_record_parts(&c, &parts);
    json_t *r = ct_record_build(&c, &parts, "e", 0);
    assert_true(json_is_null(json_object_get(r, "requestParameters")));
    json_decref(r);
    json_decref(c.input);
    free(big);
}

static void test_masking_table(void **st)
{
    (void)st;
    const char *const *m = gg_redacted_members("CreateCoreDefinition");
    assert_non_null(m);
    assert_string_equal(m[0], "InitialVersion");
    m = gg_redacted_members("CreateFunctionDefinitionVersion");
    assert_string_equal(m[0], "Functions");
    assert_string_equal(m[1], "DefaultConfig");
    assert_null(gg_redacted_members("CreateGroupVersion"));   /* ARNs stay in clear */
    assert_null(gg_redacted_members("GetGroup"));
    json_t *in = json_pack("{s:s, s:[i]}", "Name", "n", "Functions", 1);
    json_t *out = ct_redact(in, gg_redacted_members("CreateFunctionDefinitionVersion"));
    assert_string_equal(json_string_value(json_object_get(out, "Functions")), "***");
    assert_string_equal(json_string_value(json_object_get(out, "Name")), "n");
    assert_true(json_is_array(json_object_get(in, "Functions")));   /* input untouched */
    json_decref(in);
    json_decref(out);
}

static void test_pagetoken(void **st)
{
    (void)st;
    unsigned char key[32] = {1, 2, 3}, other[32] = {9};
    char tok[API_PAGETOKEN_MAX];
    int64_t a = 0, b = 0;
    assert_true(api_pagetoken_make(key, "scope-1", 1700000000000LL, 42, tok));
    assert_true(api_pagetoken_open(key, "scope-1", tok, &a, &b));
    assert_int_equal(a, 1700000000000LL);
    assert_int_equal(b, 42);
    assert_false(api_pagetoken_open(key, "scope-2", tok, &a, &b));     /* other query */
    assert_false(api_pagetoken_open(other, "scope-1", tok, &a, &b));   /* other key */
    for (size_t i = 3; i < strlen(tok); i++) {                         /* any byte changed */
        char t2[API_PAGETOKEN_MAX];
        strcpy(t2, tok);
        t2[i] = t2[i] == 'A' ? 'B' : 'A';
        assert_false(api_pagetoken_open(key, "scope-1", t2, &a, &b));
    }
    assert_false(api_pagetoken_open(key, "scope-1", "", &a, &b));
    assert_false(api_pagetoken_open(key, "scope-1", "v1.", &a, &b));
    assert_false(api_pagetoken_open(key, "scope-1", "v1.AAAA.BBBB", &a, &b));
    assert_false(api_pagetoken_open(key, "scope-1", NULL, &a, &b));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_fields_and_order),
        cmocka_unit_test(test_record_failure_and_root),
        cmocka_unit_test(test_long_user_agent_truncated),
        cmocka_unit_test(test_huge_parameters_dropped),
        cmocka_unit_test(test_masking_table),
        cmocka_unit_test(test_pagetoken),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
