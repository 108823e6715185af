/*
 * test_query.c: unit tests for the AWS query protocol (api/query.c):
 * form decoding into member-keyed input (scalars, nested structures,
 * lists with .member.N, maps with .entry.N.key/.value, empty lists,
 * percent/plus decoding), the error paths (missing/unknown Action, bad
 * escapes, bad numbers and booleans, model validation), and the XML
 * encoders (envelope, escaping, lists, errors).
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

#include <jansson.h>

#include "api/query.h"
#include "model/model.h"

static gt_err decode(const model_service *svc, const char *body, const model_op **op, json_t **in, char *msg,
                     size_t cap)
{
    http_req r = {.method = "POST", .path = "/", .path_len = 1, .query = "", .query_len = 0,
                  .body = (const unsigned char *)body, .body_len = strlen(body), .remote_ip = "127.0.0.1"};
    return api_query_decode(svc, &r, op, in, msg, cap);
}

static void test_scalars_and_lists(void **state)
{
    const model_op *op = NULL;
    json_t *in = NULL;
    char msg[512];
    gt_err e = decode(&model_iam,
                      "Action=CreateUser&Version=2010-05-08&UserName=bob%2Bx&Path=%2Fa+b%2F"
                      "&Tags.member.2.Key=k2&Tags.member.2.Value=v2&Tags.member.1.Key=k1&Tags.member.1.Value=v%261",
                      &op, &in, msg, sizeof msg);
    assert_int_equal(e, GT_OK);
    assert_string_equal(op->name, "CreateUser");
    assert_string_equal(json_string_value(json_object_get(in, "UserName")), "bob+x");
    assert_string_equal(json_string_value(json_object_get(in, "Path")), "/a b/");
    json_t *tags = json_object_get(in, "Tags");
    assert_int_equal(json_array_size(tags), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(tags, 0), "Key")), "k1");
    assert_string_equal(json_string_value(json_object_get(json_array_get(tags, 0), "Value")), "v&1");
    assert_string_equal(json_string_value(json_object_get(json_array_get(tags, 1), "Key")), "k2");
    json_decref(in);
}

static void test_integers_booleans_and_empty_list(void **state)
{
    const model_op *op = NULL;
    json_t *in = NULL;
    char msg[512];
    assert_int_equal(decode(&model_iam, "Action=ListUsers&MaxItems=5&Marker=3", &op, &in, msg, sizeof msg), GT_OK);
    assert_int_equal(json_integer_value(json_object_get(in, "MaxItems")), 5);
    json_decref(in);
    assert_int_equal(decode(&model_iam, "Action=CreateLoginProfile&UserName=bob&Password=pw&PasswordResetRequired=true",
                            &op, &in, msg, sizeof msg), GT_OK);
    assert_true(json_is_true(json_object_get(in, "PasswordResetRequired")));
    json_decref(in);
    assert_int_equal(decode(&model_iam, "Action=CreateLoginProfile&UserName=bob&PasswordResetRequired=maybe", &op,
                            &in, msg, sizeof msg), GT_E_VALIDATION);
    assert_null(in);
    assert_non_null(op);   /* the operation is known: the failure can be recorded */
    assert_int_equal(decode(&model_iam, "Action=ListUsers&MaxItems=five", &op, &in, msg, sizeof msg), GT_E_VALIDATION);
    /* "Tags=" alone: an empty list */
    assert_int_equal(decode(&model_iam, "Action=CreateUser&UserName=bob&Tags=", &op, &in, msg, sizeof msg), GT_OK);
    assert_true(json_is_array(json_object_get(in, "Tags")));
    assert_int_equal(json_array_size(json_object_get(in, "Tags")), 0);
    json_decref(in);
}

static void test_nested_structures_and_maps(void **state)
{
    const model_op *op = NULL;
    json_t *in = NULL;
    char msg[512];
    /* STS AssumeRole: PolicyArns.member.N.arn (a list of structures) */
    assert_int_equal(decode(&model_sts,
                            "Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fr&RoleSessionName=ss"
                            "&PolicyArns.member.1.arn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FReadOnlyAccess&DurationSeconds=900",
                            &op, &in, msg, sizeof msg), GT_OK);
    json_t *pa = json_object_get(in, "PolicyArns");
    assert_int_equal(json_array_size(pa), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(pa, 0), "arn")),
                        "arn:aws:iam::aws:policy/ReadOnlyAccess");
    assert_int_equal(json_integer_value(json_object_get(in, "DurationSeconds")), 900);
    json_decref(in);
    /* the model's min of 900 is enforced by api_validate */
    assert_int_equal(decode(&model_sts, "Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fr"
                                        "&RoleSessionName=ss&DurationSeconds=60", &op, &in, msg, sizeof msg),
                     GT_E_VALIDATION);
    assert_non_null(strstr(msg, "DurationSeconds"));
    /* a map (SNS attributes: Attributes.entry.N.key/value) */
    assert_int_equal(decode(&model_sns, "Action=CreateTopic&Name=t&Attributes.entry.1.key=DisplayName"
                                        "&Attributes.entry.1.value=Hello&Attributes.entry.2.key=Policy"
                                        "&Attributes.entry.2.value=%7B%7D", &op, &in, msg, sizeof msg), GT_OK);
    json_t *attrs = json_object_get(in, "Attributes");
    assert_string_equal(json_string_value(json_object_get(attrs, "DisplayName")), "Hello");
    assert_string_equal(json_string_value(json_object_get(attrs, "Policy")), "{}");
    json_decref(in);
}

static void test_errors(void **state)
{
    const model_op *op = NULL;
    json_t *in = NULL;
    char msg[512];
    assert_int_equal(decode(&model_iam, "Version=2010-05-08", &op, &in, msg, sizeof msg), GT_E_Q_MISSING_ACTION);
    assert_null(op);
    assert_int_equal(decode(&model_iam, "Action=Nope&Version=2010-05-08", &op, &in, msg, sizeof msg),
                     GT_E_Q_INVALID_ACTION);
    assert_non_null(strstr(msg, "Nope"));
    assert_int_equal(decode(&model_iam, "Action=GetUser&UserName=%G1", &op, &in, msg, sizeof msg),
                     GT_E_Q_MALFORMED_QUERY);
    assert_int_equal(decode(&model_iam, "Action=GetUser&UserName=%4", &op, &in, msg, sizeof msg),
                     GT_E_Q_MALFORMED_QUERY);
    assert_int_equal(decode(&model_iam, "Action=CreateUser", &op, &in, msg, sizeof msg), GT_E_VALIDATION);
    assert_int_equal(decode(&model_iam, "Action=CreateUser&UserName=x&Tags.member.0.Key=a", &op, &in, msg,
                            sizeof msg), GT_E_VALIDATION);
    assert_int_equal(decode(&model_iam, "Action=CreateUser&UserName=x&Tags.member.99999999.Key=a", &op, &in, msg,
                            sizeof msg), GT_E_VALIDATION);
    assert_null(in);
    assert_int_equal(api_query_err(GT_E_ACCESS_DENIED), GT_E_Q_ACCESS_DENIED);
    assert_int_equal(api_query_err(GT_E_UNRECOGNIZED_CLIENT), GT_E_Q_INVALID_CLIENT_TOKEN);
    assert_int_equal(api_query_err(GT_E_EXPIRED_TOKEN), GT_E_Q_EXPIRED_TOKEN);
    assert_int_equal(api_query_err(GT_E_IAM_NO_SUCH_ENTITY), GT_E_IAM_NO_SUCH_ENTITY);
    assert_string_equal(gt_err_code(GT_E_Q_EXPIRED_TOKEN), "ExpiredToken");
}

static void test_xml_ok(void **state)
{
    const model_op *op = model_find_op(&model_iam, "ListUsers");
    json_t *out = json_pack("{s:[{s:s, s:s, s:s, s:s, s:s}], s:b}", "Users", "UserName", "a<b&\"c\"", "Path", "/",
                            "UserId", "AIDA1", "Arn", "arn", "CreateDate", "2026-01-01T00:00:00Z", "IsTruncated", 0);
    char *x = api_query_xml_ok(&model_iam, op, out, "rid-1");
    assert_non_null(x);
    assert_non_null(strstr(x, "<ListUsersResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">"
                              "<ListUsersResult>"));
    assert_non_null(strstr(x, "<Users><member>"));
    assert_non_null(strstr(x, "<UserName>a&lt;b&amp;&quot;c&quot;</UserName>"));
    assert_non_null(strstr(x, "<IsTruncated>false</IsTruncated>"));
    assert_non_null(strstr(x, "</ListUsersResult><ResponseMetadata><RequestId>rid-1</RequestId></ResponseMetadata>"
                              "</ListUsersResponse>"));
    free(x);
    json_decref(out);
    /* an operation without output: no Result element */
    op = model_find_op(&model_iam, "DeleteUser");
    x = api_query_xml_ok(&model_iam, op, NULL, "rid-2");
    assert_string_equal(x, "<DeleteUserResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">"
                           "<ResponseMetadata><RequestId>rid-2</RequestId></ResponseMetadata></DeleteUserResponse>");
    free(x);
    /* control characters become numeric references; numbers for timestamps become ISO 8601 */
    op = model_find_op(&model_sts, "GetSessionToken");
    out = json_pack("{s:{s:s, s:s, s:s, s:i}}", "Credentials", "AccessKeyId", "ASIA\x01", "SecretAccessKey", "s",
                    "SessionToken", "t", "Expiration", 0);
    x = api_query_xml_ok(&model_sts, op, out, "r");
    assert_non_null(strstr(x, "<AccessKeyId>ASIA&#x1;</AccessKeyId>"));
    assert_non_null(strstr(x, "<Expiration>1970-01-01T00:00:00Z</Expiration>"));
    free(x);
    json_decref(out);
}

static void test_xml_error(void **state)
{
    char *x = api_query_xml_error(&model_sts, "ExpiredToken", "expired <now>", 403, "rid");
    assert_string_equal(x, "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error>"
                           "<Type>Sender</Type><Code>ExpiredToken</Code><Message>expired &lt;now&gt;</Message>"
                           "</Error><RequestId>rid</RequestId></ErrorResponse>");
    free(x);
    x = api_query_xml_error(&model_iam, "ServiceUnavailable", "m", 503, "rid");
    assert_non_null(strstr(x, "<Type>Receiver</Type>"));
    free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars_and_lists),
        cmocka_unit_test(test_integers_booleans_and_empty_list),
        cmocka_unit_test(test_nested_structures_and_maps),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_xml_ok),
        cmocka_unit_test(test_xml_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
