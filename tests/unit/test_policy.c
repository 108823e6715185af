/*
 * test_policy.c: unit tests for IAM policy grammar and evaluation
 * (auth/policy.c): wildcards, explicit Deny > Allow > implicit deny,
 * NotAction/NotResource, every supported condition operator family with
 * IfExists and missing keys, trust-policy principals, and the resource
 * ARN of Greengrass and IAM calls.
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

#include "auth/policy.h"
#include "model/model.h"

static auth_decision eval(const char *text, const auth_req_ctx *r)
{
    json_t *d = json_loads(text, 0, NULL);
    assert_non_null(d);
    auth_decision x = auth_policy_eval(d, r);
    json_decref(d);
    return x;
}

static auth_req_ctx req(const char *action, const char *resource)
{
    auth_req_ctx r = {.action = action, .resource = resource, .principal_arn = "arn:aws:iam::123456789012:user/bob",
                      .principal_account = "123456789012", .user_name = "bob", .source_ip = "192.168.1.20",
                      .region = "eu-west-1", .now_ms = 1700000000000LL};
    return r;
}

static void test_wildcards(void **state)
{
    assert_true(auth_wildcard_match("*", "", false));
    assert_true(auth_wildcard_match("greengrass:*", "greengrass:CreateGroup", false));
    assert_true(auth_wildcard_match("greengrass:create*", "greengrass:CreateGroup", true));
    assert_false(auth_wildcard_match("greengrass:create*", "greengrass:CreateGroup", false));
    assert_true(auth_wildcard_match("a?c*e", "abcdde", false));
    assert_false(auth_wildcard_match("a?c", "ac", false));
    assert_true(auth_wildcard_match("*a*b*c*", "xxaxxbxxcxx", false));
    assert_false(auth_wildcard_match("*a*b*c", "xxaxxbxxcxx", false));
}

static void test_deny_allow_implicit(void **state)
{
    auth_req_ctx r = req("greengrass:DeleteGroup", "arn:aws:greengrass:eu-west-1:123456789012:/greengrass/groups/g1");
    const char *allow = "{\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"greengrass:*\",\"Resource\":\"*\"}}";
    const char *both = "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"},"
                       "{\"Effect\":\"Deny\",\"Action\":\"greengrass:Delete*\",\"Resource\":\"*\"}]}";
    const char *other = "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"iam:*\",\"Resource\":\"*\"}]}";
    const char *scoped = "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"greengrass:*\","
                         "\"Resource\":\"arn:aws:greengrass:*:*:/greengrass/groups/g2\"}]}";
    const char *notres = "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"greengrass:*\","
                         "\"NotResource\":\"arn:aws:greengrass:*:*:/greengrass/groups/g2\"}]}";
    const char *notact = "{\"Statement\":[{\"Effect\":\"Allow\",\"NotAction\":\"iam:*\",\"Resource\":\"*\"}]}";
    assert_int_equal(eval(allow, &r), AUTH_ALLOW);
    assert_int_equal(eval(both, &r), AUTH_EXPLICIT_DENY);
    assert_int_equal(eval(other, &r), AUTH_IMPLICIT_DENY);
    assert_int_equal(eval(scoped, &r), AUTH_IMPLICIT_DENY);
    assert_int_equal(eval(notres, &r), AUTH_ALLOW);
    assert_int_equal(eval(notact, &r), AUTH_ALLOW);
    assert_int_equal(eval("{\"Statement\":[]}", &r), AUTH_IMPLICIT_DENY);
}

static void test_policy_variables(void **state)
{
    auth_req_ctx r = req("iam:CreateAccessKey", "arn:aws:iam::123456789012:user/bob");
    const char *own = "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"iam:*AccessKey*\","
                      "\"Resource\":\"arn:aws:iam::*:user/${aws:username}\"}]}";
    assert_int_equal(eval(own, &r), AUTH_ALLOW);
    r.resource = "arn:aws:iam::123456789012:user/alice";
    assert_int_equal(eval(own, &r), AUTH_IMPLICIT_DENY);
    r.user_name = NULL;   /* no value: the pattern matches nothing */
    r.resource = "arn:aws:iam::123456789012:user/";
    assert_int_equal(eval(own, &r), AUTH_IMPLICIT_DENY);
    r = req("greengrass:ListGroups", "*");
    const char *c = "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\","
                    "\"Condition\":{\"StringEquals\":{\"aws:PrincipalArn\":"
                    "\"arn:aws:iam::${aws:PrincipalAccount}:user/${aws:username}\"}}}]}";
    assert_int_equal(eval(c, &r), AUTH_ALLOW);
}

static auth_decision cond(const char *condition, const auth_req_ctx *r)
{
    char text[1024];
    snprintf(text, sizeof text,
             "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":%s}]}", condition);
    return eval(text, r);
}

static void test_conditions(void **state)
{
    auth_req_ctx r = req("greengrass:ListGroups", "*");
    assert_int_equal(cond("{\"StringEquals\":{\"aws:RequestedRegion\":[\"us-east-1\",\"eu-west-1\"]}}", &r), AUTH_ALLOW);
    assert_int_equal(cond("{\"StringEquals\":{\"aws:RequestedRegion\":\"us-east-1\"}}", &r), AUTH_IMPLICIT_DENY);
    assert_int_equal(cond("{\"StringNotEquals\":{\"aws:RequestedRegion\":\"us-east-1\"}}", &r), AUTH_ALLOW);
    assert_int_equal(cond("{\"StringEqualsIgnoreCase\":{\"aws:username\":\"BOB\"}}", &r), AUTH_ALLOW);
    assert_int_equal(cond("{\"StringLike\":{\"aws:username\":\"b?b\"}}", &r), AUTH_ALLOW);
    assert_int_equal(cond("{\"StringNotLike\":{\"aws:username\":\"b*\"}}", &r), AUTH_IMPLICIT_DENY);
    assert_int_equal(cond("{\"ArnLike\":{\"aws:PrincipalArn\":\"arn:aws:iam::*:user/*\"}}", &r), AUTH_ALLOW);
    assert_int_equal(cond("{\"ArnEquals\":{\"aws:PrincipalArn\":\"arn:aws:iam::123456789012:user/alice\"}}", &r),
                     AUTH_IMPLICIT_DENY);
    assert_int_equal(cond("{\"IpAddress\":{\"aws:SourceIp\":\"192.168.0.0/16\"}}", &r), AUTH_ALLOW);
    assert_int_equal(cond("{\"IpAddress\":{\"aws:SourceIp\":\"192.168.1.21/32\"}}", &r), AUTH_IMPLICIT_DENY);
    assert_int_equal(cond("{\"NotIpAddress\":{\"aws:SourceIp\":\"10.0.0.0/8\"}}", &r), AUTH_ALLOW);
    assert_int_equal(cond("{\"IpAddress\":{\"aws:SourceIp\":\"::1/128\"}}", &r), AUTH_IMPLICIT_DENY);
    assert_int_equal(cond("{\"DateLessThan\":{\"aws:CurrentTime\":\"2030-01-01T00:00:00Z\"}}", &r), AUTH_ALLOW);
    assert_int_equal(cond("{\"DateGreaterThan\":{\"aws:CurrentTime\":\"2030-01-01T00:00:00Z\"}}", &r), AUTH_IMPLICIT_DENY);
    assert_int_equal(cond("{\"DateGreaterThan\":{\"aws:EpochTime\":\"1600000000\"}}", &r), AUTH_ALLOW);
    assert_int_equal(cond("{\"NumericLessThan\":{\"aws:EpochTime\":1600000000}}", &r), AUTH_IMPLICIT_DENY);
    /* aws:MultiFactorAuthPresent is absent for long-term credentials */
    assert_int_equal(cond("{\"Bool\":{\"aws:MultiFactorAuthPresent\":\"false\"}}", &r), AUTH_IMPLICIT_DENY);
    assert_int_equal(cond("{\"BoolIfExists\":{\"aws:MultiFactorAuthPresent\":\"false\"}}", &r), AUTH_ALLOW);
    assert_int_equal(cond("{\"Null\":{\"aws:MultiFactorAuthPresent\":\"true\"}}", &r), AUTH_ALLOW);
    r.mfa_known = true;
    r.mfa = true;
    assert_int_equal(cond("{\"Bool\":{\"aws:MultiFactorAuthPresent\":true}}", &r), AUTH_ALLOW);
    assert_int_equal(cond("{\"Null\":{\"aws:MultiFactorAuthPresent\":\"true\"}}", &r), AUTH_IMPLICIT_DENY);
    /* every operator and key must hold (AND) */
    assert_int_equal(cond("{\"StringEquals\":{\"aws:username\":\"bob\",\"aws:RequestedRegion\":\"us-east-1\"}}", &r),
                     AUTH_IMPLICIT_DENY);
    assert_int_equal(cond("{\"StringLike\":{\"aws:username\":\"b*\"},\"ForAnyValue:StringEquals\":"
                          "{\"aws:PrincipalAccount\":\"123456789012\"}}", &r), AUTH_ALLOW);
    /* a missing key fails a positive operator */
    assert_int_equal(cond("{\"StringEquals\":{\"aws:SomethingElse\":\"x\"}}", &r), AUTH_IMPLICIT_DENY);
}

static void test_grammar(void **state)
{
    char msg[256];
    assert_true(auth_policy_valid("{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\","
                                  "\"Resource\":\"*\"}]}", false, msg, sizeof msg));
    assert_false(auth_policy_valid("not json", false, msg, sizeof msg));
    assert_false(auth_policy_valid("{\"Statement\":[{\"Effect\":\"Perhaps\",\"Action\":\"*\",\"Resource\":\"*\"}]}",
                                   false, msg, sizeof msg));
    assert_false(auth_policy_valid("{\"Statement\":[{\"Effect\":\"Allow\",\"Resource\":\"*\"}]}", false, msg, sizeof msg));
    assert_false(auth_policy_valid("{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\"}]}", false, msg, sizeof msg));
    assert_false(auth_policy_valid("{\"Version\":\"2099-01-01\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\","
                                   "\"Resource\":\"*\"}]}", false, msg, sizeof msg));
    assert_false(auth_policy_valid("{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\","
                                   "\"Condition\":{\"StringMaybe\":{\"a\":\"b\"}}}]}", false, msg, sizeof msg));
    assert_non_null(strstr(msg, "StringMaybe"));
    /* trust policies need a Principal, identity policies must not have one */
    const char *t = "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"123456789012\"},"
                    "\"Action\":\"sts:AssumeRole\"}]}";
    assert_true(auth_policy_valid(t, true, msg, sizeof msg));
    assert_false(auth_policy_valid(t, false, msg, sizeof msg));
    assert_false(auth_policy_valid("{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"sts:AssumeRole\"}]}", true, msg,
                                   sizeof msg));
}

static void test_trust(void **state)
{
    auth_req_ctx r = req("sts:AssumeRole", "arn:aws:iam::123456789012:role/r");
    json_t *byacct = json_loads("{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"111111111111\"},"
                                "\"Action\":\"sts:AssumeRole\"}]}", 0, NULL);
    json_t *byroot = json_loads("{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":"
                                "[\"arn:aws:iam::111111111111:root\"]},\"Action\":\"sts:AssumeRole\"}]}", 0, NULL);
    json_t *byuser = json_loads("{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":"
                                "\"arn:aws:iam::111111111111:user/bob\"},\"Action\":\"sts:*\"}]}", 0, NULL);
    json_t *fed = json_loads("{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Federated\":"
                             "\"arn:aws:iam::1:oidc-provider/x\"},\"Action\":\"sts:AssumeRoleWithWebIdentity\"}]}", 0, NULL);
    assert_int_equal(auth_trust_eval(byacct, &r, "AWS", "arn:aws:iam::111111111111:user/bob", "111111111111"), AUTH_ALLOW);
    assert_int_equal(auth_trust_eval(byacct, &r, "AWS", "arn:aws:iam::222222222222:user/bob", "222222222222"),
                     AUTH_IMPLICIT_DENY);
    assert_int_equal(auth_trust_eval(byroot, &r, "AWS", "arn:aws:iam::111111111111:user/x", "111111111111"), AUTH_ALLOW);
    assert_int_equal(auth_trust_eval(byuser, &r, "AWS", "arn:aws:iam::111111111111:user/bob", "111111111111"), AUTH_ALLOW);
    assert_int_equal(auth_trust_eval(byuser, &r, "AWS", "arn:aws:iam::111111111111:user/eve", "111111111111"),
                     AUTH_IMPLICIT_DENY);
    assert_int_equal(auth_trust_eval(fed, &r, "AWS", "arn:aws:iam::1:oidc-provider/x", "1"), AUTH_IMPLICIT_DENY);
    r.action = "sts:AssumeRoleWithWebIdentity";
    assert_int_equal(auth_trust_eval(fed, &r, "Federated", "arn:aws:iam::1:oidc-provider/x", NULL), AUTH_ALLOW);
    json_decref(byacct);
    json_decref(byroot);
    json_decref(byuser);
    json_decref(fed);
}

/* Bucket policies (auth_resource_policy_eval): principals by account,
 * root ARN, user ARN, "*", a service; Resource is checked (unlike trust
 * policies); Deny wins; a service is not an AWS account principal. */
static void test_resource_policy(void **state)
{
    (void)state;
    auth_req_ctx r = req("s3:GetObject", "arn:aws:s3:::bkt/pub/a.txt");
    json_t *d = json_loads(
        "{\"Statement\":["
        "{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":[\"222222222222\",\"arn:aws:iam::333333333333:user/bob\"]},"
        "\"Action\":\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::bkt/pub/*\"},"
        "{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"cloudtrail.amazonaws.com\"},\"Action\":\"s3:PutObject\","
        "\"Resource\":\"arn:aws:s3:::bkt/AWSLogs/*\",\"Condition\":{\"StringEquals\":{\"aws:SourceAccount\":\"222222222222\"}}},"
        "{\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":\"s3:*\",\"Resource\":\"arn:aws:s3:::bkt/pub/secret\"}]}",
        0, NULL);
    assert_non_null(d);
    const char *u2 = "arn:aws:iam::222222222222:user/x", *u3 = "arn:aws:iam::333333333333:user/bob";
    assert_int_equal(auth_resource_policy_eval(d, &r, u2, "222222222222", NULL), AUTH_ALLOW);
    assert_int_equal(auth_resource_policy_eval(d, &r, u3, "333333333333", NULL), AUTH_ALLOW);
    assert_int_equal(auth_resource_policy_eval(d, &r, "arn:aws:iam::333333333333:user/eve", "333333333333", NULL),
                     AUTH_IMPLICIT_DENY);
    assert_int_equal(auth_resource_policy_eval(d, &r, "arn:aws:iam::444444444444:root", "444444444444", NULL),
                     AUTH_IMPLICIT_DENY);
    assert_int_equal(auth_resource_policy_eval(d, &r, NULL, NULL, "cloudtrail.amazonaws.com"), AUTH_IMPLICIT_DENY);
    r.resource = "arn:aws:s3:::bkt/private/a.txt";   /* outside the granted resource */
    assert_int_equal(auth_resource_policy_eval(d, &r, u2, "222222222222", NULL), AUTH_IMPLICIT_DENY);
    r.resource = "arn:aws:s3:::bkt/pub/secret";
    assert_int_equal(auth_resource_policy_eval(d, &r, u2, "222222222222", NULL), AUTH_EXPLICIT_DENY);
    /* the service statement: only the service, only with its condition */
    r.action = "s3:PutObject";
    r.resource = "arn:aws:s3:::bkt/AWSLogs/222222222222/CloudTrail/x";
    json_t *extra = json_pack("{s:s}", "aws:sourceaccount", "222222222222");
    r.extra = extra;
    assert_int_equal(auth_resource_policy_eval(d, &r, NULL, NULL, "cloudtrail.amazonaws.com"), AUTH_ALLOW);
    assert_int_equal(auth_resource_policy_eval(d, &r, NULL, NULL, "config.amazonaws.com"), AUTH_IMPLICIT_DENY);
    assert_int_equal(auth_resource_policy_eval(d, &r, u2, "222222222222", NULL), AUTH_IMPLICIT_DENY);
    json_object_set_new(extra, "aws:sourceaccount", json_string("999999999999"));
    assert_int_equal(auth_resource_policy_eval(d, &r, NULL, NULL, "cloudtrail.amazonaws.com"), AUTH_IMPLICIT_DENY);
    json_decref(extra);
    json_decref(d);
    /* {"AWS": "*"} names everyone, services included (AWS treats it as "*") */
    d = json_loads("{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"*\"},\"Action\":\"s3:*\","
                   "\"Resource\":\"*\"}}", 0, NULL);
    r.extra = NULL;
    assert_int_equal(auth_resource_policy_eval(d, &r, u2, "222222222222", NULL), AUTH_ALLOW);
    assert_int_equal(auth_resource_policy_eval(d, &r, NULL, NULL, "cloudtrail.amazonaws.com"), AUTH_ALLOW);
    json_decref(d);
}

static void resource_of(const model_service *svc, const char *op, const char *input, const char *want)
{
    auth_principal who = {.type = "IAMUser", .arn = "arn:aws:iam::123456789012:user/me"};
    gt_call c = {.svc = svc, .op = model_find_op(svc, op), .account = "123456789012", .region = "us-west-2",
                 .who = &who};
    assert_non_null(c.op);
    c.input = json_loads(input, 0, NULL);
    char out[512];
    auth_resource_arn(&c, out, sizeof out);
    assert_string_equal(out, want);
    json_decref(c.input);
}

static void test_resource_arns(void **state)
{
    const char *gg = "arn:aws:greengrass:us-west-2:123456789012:/greengrass";
    char want[256];
    resource_of(&model_greengrass, "ListGroups", "{}", "*");
    snprintf(want, sizeof want, "%s/groups", gg);
    resource_of(&model_greengrass, "CreateGroup", "{\"Name\":\"x\"}", want);
    snprintf(want, sizeof want, "%s/definition/loggers", gg);
    resource_of(&model_greengrass, "CreateLoggerDefinition", "{}", want);
    snprintf(want, sizeof want, "%s/groups/g1", gg);
    resource_of(&model_greengrass, "GetGroup", "{\"GroupId\":\"g1\"}", want);
    snprintf(want, sizeof want, "%s/groups/g1/versions/v1", gg);
    resource_of(&model_greengrass, "GetGroupVersion", "{\"GroupId\":\"g1\",\"GroupVersionId\":\"v1\"}", want);
    snprintf(want, sizeof want, "%s/definition/functions/d1", gg);
    resource_of(&model_greengrass, "UpdateFunctionDefinition", "{\"FunctionDefinitionId\":\"d1\",\"Name\":\"n\"}", want);
    snprintf(want, sizeof want, "%s/definition/cores/d1/versions/v2", gg);
    resource_of(&model_greengrass, "GetCoreDefinitionVersion",
                "{\"CoreDefinitionId\":\"d1\",\"CoreDefinitionVersionId\":\"v2\"}", want);
    snprintf(want, sizeof want, "%s/things/t1/connectivityInfo", gg);
    resource_of(&model_greengrass, "GetConnectivityInfo", "{\"ThingName\":\"t1\"}", want);
    resource_of(&model_iam, "CreateUser", "{\"UserName\":\"bob\"}", "arn:aws:iam::123456789012:user/bob");
    resource_of(&model_iam, "CreateAccessKey", "{}", "arn:aws:iam::123456789012:user/me");
    resource_of(&model_iam, "ListUsers", "{}", "*");
    resource_of(&model_sts, "AssumeRole", "{\"RoleArn\":\"arn:aws:iam::1:role/r\"}", "arn:aws:iam::1:role/r");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wildcards),
        cmocka_unit_test(test_deny_allow_implicit),
        cmocka_unit_test(test_policy_variables),
        cmocka_unit_test(test_conditions),
        cmocka_unit_test(test_grammar),
        cmocka_unit_test(test_trust),
        cmocka_unit_test(test_resource_policy),
        cmocka_unit_test(test_resource_arns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
