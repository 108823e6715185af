/*
 * test_ct_trail.c: unit tests for the trail predicates (cloudtrail/ct_trail.c):
 * trail-name rules, the bucket-policy check CreateTrail/UpdateTrail make
 * (cloudtrail.md §2.5), and which records a trail selects (regions, global
 * service events, basic and advanced event selectors, §2.4 and §7).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cloudtrail/ct_org.h"
#include "cloudtrail/ct_trail.h"

static void test_names(void **state)
{
    (void)state;
    assert_null(ct_trail_name_problem("abc"));
    assert_null(ct_trail_name_problem("My-Trail_1.x"));
    assert_non_null(ct_trail_name_problem("ab"));
    assert_non_null(ct_trail_name_problem("-abc"));
    assert_non_null(ct_trail_name_problem("abc-"));
    assert_non_null(ct_trail_name_problem("my--x"));
    assert_non_null(ct_trail_name_problem("my-_x"));
    assert_non_null(ct_trail_name_problem("my trail"));
    assert_non_null(ct_trail_name_problem("10.0.0.1"));
    char longname[130];
    memset(longname, 'a', 129);
    longname[129] = '\0';
    assert_non_null(ct_trail_name_problem(longname));
    longname[128] = '\0';
    assert_null(ct_trail_name_problem(longname));
}

#define ARN "arn:aws:cloudtrail:us-east-1:123456789012:trail/t1"

static const char *good_policy =
    "{\"Version\":\"2012-10-17\",\"Statement\":["
    "{\"Sid\":\"AWSCloudTrailAclCheck20150319\",\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"cloudtrail.amazonaws.com\"},"
    "\"Action\":\"s3:GetBucketAcl\",\"Resource\":\"arn:aws:s3:::bkt\"},"
    "{\"Sid\":\"AWSCloudTrailWrite20150319\",\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"cloudtrail.amazonaws.com\"},"
    "\"Action\":\"s3:PutObject\",\"Resource\":\"arn:aws:s3:::bkt/pfx/AWSLogs/123456789012/*\","
    "\"Condition\":{\"StringEquals\":{\"s3:x-amz-acl\":\"bucket-owner-full-control\",\"aws:SourceArn\":\"" ARN "\"}}}]}";

static void test_policy(void **state)
{
    (void)state;
    assert_true(ct_trail_policy_allows(good_policy, "bkt", "pfx", "123456789012", ARN));
    /* wrong prefix, account, bucket, trail */
    assert_false(ct_trail_policy_allows(good_policy, "bkt", NULL, "123456789012", ARN));
    assert_false(ct_trail_policy_allows(good_policy, "bkt", "pfx", "210987654321", ARN));
    assert_false(ct_trail_policy_allows(good_policy, "other", "pfx", "123456789012", ARN));
    assert_false(ct_trail_policy_allows(good_policy, "bkt", "pfx", "123456789012",
                                        "arn:aws:cloudtrail:us-east-1:123456789012:trail/t2"));
    assert_false(ct_trail_policy_allows(NULL, "bkt", "pfx", "123456789012", ARN));
    assert_false(ct_trail_policy_allows("not json", "bkt", "pfx", "123456789012", ARN));
    /* only GetBucketAcl: not enough */
    assert_false(ct_trail_policy_allows(
        "{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"cloudtrail.amazonaws.com\"},"
        "\"Action\":\"s3:GetBucketAcl\",\"Resource\":\"arn:aws:s3:::bkt\"}}",
        "bkt", NULL, "123456789012", ARN));
    /* another principal only */
    assert_false(ct_trail_policy_allows(
        "{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"config.amazonaws.com\"},"
        "\"Action\":\"s3:PutObject\",\"Resource\":\"arn:aws:s3:::bkt/*\"}}",
        "bkt", NULL, "123456789012", ARN));
    /* wildcards: s3:*, a bucket-wide resource, a single statement object */
    const char *wide = "{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":[\"s3:*\"],"
                       "\"Resource\":[\"arn:aws:s3:::bkt/*\"]}}";
    assert_true(ct_trail_policy_allows(wide, "bkt", NULL, "123456789012", ARN));
    /* a Deny wins */
    const char *denied = "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"s3:*\","
                         "\"Resource\":\"arn:aws:s3:::bkt/*\"},{\"Effect\":\"Deny\",\"Principal\":\"*\","
                         "\"Action\":\"s3:PutObject\",\"Resource\":\"arn:aws:s3:::bkt/AWSLogs/*\"}]}";
    assert_false(ct_trail_policy_allows(denied, "bkt", NULL, "123456789012", ARN));
    /* a folder limited to log files leaves digests out */
    const char *logs_only = "{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":{\"Service\":[\"cloudtrail.amazonaws.com\"]},"
                            "\"Action\":\"s3:PutObject\",\"Resource\":\"arn:aws:s3:::bkt/AWSLogs/123456789012/CloudTrail/*\"}}";
    assert_false(ct_trail_policy_allows(logs_only, "bkt", NULL, "123456789012", ARN));
    /* an unknown condition key cannot be shown to hold */
    const char *odd = "{\"Statement\":{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"s3:PutObject\","
                      "\"Resource\":\"arn:aws:s3:::bkt/*\",\"Condition\":{\"IpAddress\":{\"aws:SourceIp\":\"1.2.3.4\"}}}}";
    assert_false(ct_trail_policy_allows(odd, "bkt", NULL, "123456789012", ARN));
}

static json_t *trail(const char *extra)
{
    char buf[2048];
    snprintf(buf, sizeof buf,
             "{\"Name\":\"t1\",\"HomeRegion\":\"us-east-1\",\"IsMultiRegionTrail\":false,"
             "\"IncludeGlobalServiceEvents\":true,\"_account\":\"123456789012\"%s%s}",
             extra ? "," : "", extra ? extra : "");
    json_t *j = json_loads(buf, 0, NULL);
    assert_non_null(j);
    return j;
}

static json_t *rec(const char *source, bool ro, const char *cat, const char *account)
{
    return json_pack("{s:s, s:s, s:b, s:s, s:s, s:[{s:s, s:s}], s:{s:s}}", "eventSource", source, "eventName", "X",
                     "readOnly", ro, "eventCategory", cat, "recipientAccountId", account, "resources", "type",
                     "AWS::S3::Object", "ARN", "arn:aws:s3:::bkt/data/file", "userIdentity", "arn",
                     "arn:aws:iam::123456789012:user/admin");
}

static void test_selects_regions(void **state)
{
    (void)state;
    json_t *single = trail(NULL);
    json_t *multi = trail("\"IsMultiRegionTrail\":true");
    json_t *r = rec("greengrass.amazonaws.com", false, "Management", "123456789012");
    assert_true(ct_trail_selects(single, r, "us-east-1"));
    assert_false(ct_trail_selects(single, r, "eu-west-1"));
    assert_true(ct_trail_selects(multi, r, "eu-west-1"));
    json_t *other = rec("greengrass.amazonaws.com", false, "Management", "210987654321");
    assert_false(ct_trail_selects(multi, other, "us-east-1"));
    json_t *iam = rec("iam.amazonaws.com", false, "Management", "123456789012");
    json_t *noglobal = trail("\"IncludeGlobalServiceEvents\":false");
    assert_true(ct_trail_selects(single, iam, "us-east-1"));
    assert_false(ct_trail_selects(noglobal, iam, "us-east-1"));
    assert_true(ct_trail_selects(noglobal, r, "us-east-1"));
    json_decref(single);
    json_decref(multi);
    json_decref(r);
    json_decref(other);
    json_decref(iam);
    json_decref(noglobal);
}

/* Organization trails (cloudtrail.md §2.2): another account's record is
 * taken (the delivery worker picks which accounts), and the object keys
 * get the organization's level. Organizations is a global service. */
static void test_org_trail(void **state)
{
    (void)state;
    json_t *org = trail("\"IsOrganizationTrail\":true,\"_org_id\":\"o-abcdefghij\",\"S3KeyPrefix\":\"pp\"");
    json_t *plain = trail(NULL);
    json_t *member = rec("greengrass.amazonaws.com", false, "Management", "210987654321");
    assert_true(ct_trail_selects(org, member, "us-east-1"));
    assert_false(ct_trail_selects(plain, member, "us-east-1"));
    assert_false(ct_trail_selects(org, member, "eu-west-1"));   /* still single-region */
    char root[256];
    ct_org_logs_root(org, "210987654321", root, sizeof root);
    assert_string_equal(root, "pp/AWSLogs/o-abcdefghij/210987654321");
    ct_org_logs_root(plain, "123456789012", root, sizeof root);
    assert_string_equal(root, "AWSLogs/123456789012");
    assert_true(ct_org_trail_visible(org, "o-abcdefghij", "123456789012"));
    assert_false(ct_org_trail_visible(org, "o-other00000", "123456789012"));
    assert_false(ct_org_trail_visible(plain, "o-abcdefghij", "123456789012"));
    json_t *orgs = rec("organizations.amazonaws.com", false, "Management", "123456789012");
    json_t *noglobal = trail("\"IncludeGlobalServiceEvents\":false");
    assert_true(ct_trail_selects(plain, orgs, "us-east-1"));
    assert_false(ct_trail_selects(noglobal, orgs, "us-east-1"));
    json_decref(org);
    json_decref(plain);
    json_decref(member);
    json_decref(orgs);
    json_decref(noglobal);
}

static void test_selects_basic(void **state)
{
    (void)state;
    json_t *w = rec("greengrass.amazonaws.com", false, "Management", "123456789012");
    json_t *ro = rec("greengrass.amazonaws.com", true, "Management", "123456789012");
    json_t *kms = rec("kms.amazonaws.com", false, "Management", "123456789012");
    json_t *data = rec("s3.amazonaws.com", false, "Data", "123456789012");
    json_t *t = trail("\"_es\":[{\"ReadWriteType\":\"WriteOnly\",\"IncludeManagementEvents\":true,"
                      "\"ExcludeManagementEventSources\":[\"kms.amazonaws.com\"],\"DataResources\":[]}]");
    assert_true(ct_trail_selects(t, w, "us-east-1"));
    assert_false(ct_trail_selects(t, ro, "us-east-1"));
    assert_false(ct_trail_selects(t, kms, "us-east-1"));
    assert_false(ct_trail_selects(t, data, "us-east-1"));
    json_decref(t);
    t = trail("\"_es\":[{\"ReadWriteType\":\"All\",\"IncludeManagementEvents\":false,"
              "\"DataResources\":[{\"Type\":\"AWS::S3::Object\",\"Values\":[\"arn:aws:s3:::bkt/data/\"]}]}]");
    assert_false(ct_trail_selects(t, w, "us-east-1"));
    assert_true(ct_trail_selects(t, data, "us-east-1"));
    json_decref(t);
    t = trail("\"_es\":[{\"IncludeManagementEvents\":false,"
              "\"DataResources\":[{\"Type\":\"AWS::S3::Object\",\"Values\":[\"arn:aws:s3:::other/\"]}]}]");
    assert_false(ct_trail_selects(t, data, "us-east-1"));
    json_decref(t);
    /* no selectors: management events only */
    t = trail(NULL);
    assert_true(ct_trail_selects(t, ro, "us-east-1"));
    assert_false(ct_trail_selects(t, data, "us-east-1"));
    json_decref(t);
    json_decref(w);
    json_decref(ro);
    json_decref(kms);
    json_decref(data);
}

static void test_selects_advanced(void **state)
{
    (void)state;
    json_t *w = rec("greengrass.amazonaws.com", false, "Management", "123456789012");
    json_t *ro = rec("greengrass.amazonaws.com", true, "Management", "123456789012");
    json_t *ct = rec("cloudtrail.amazonaws.com", false, "Management", "123456789012");
    json_t *t = trail("\"_aes\":[{\"Name\":\"m\",\"FieldSelectors\":["
                      "{\"Field\":\"eventCategory\",\"Equals\":[\"Management\"]},"
                      "{\"Field\":\"readOnly\",\"Equals\":[\"false\"]},"
                      "{\"Field\":\"eventSource\",\"NotEquals\":[\"cloudtrail.amazonaws.com\"]}]}]");
    assert_true(ct_trail_selects(t, w, "us-east-1"));
    assert_false(ct_trail_selects(t, ro, "us-east-1"));
    assert_false(ct_trail_selects(t, ct, "us-east-1"));
    json_decref(t);
    t = trail("\"_aes\":[{\"FieldSelectors\":[{\"Field\":\"eventCategory\",\"Equals\":[\"Management\"]},"
              "{\"Field\":\"eventSource\",\"StartsWith\":[\"cloud\"]},{\"Field\":\"userIdentity.arn\",\"EndsWith\":[\"/admin\"]}]},"
              "{\"FieldSelectors\":[{\"Field\":\"eventCategory\",\"Equals\":[\"Data\"]},"
              "{\"Field\":\"resources.type\",\"Equals\":[\"AWS::S3::Object\"]}]}]");
    assert_true(ct_trail_selects(t, ct, "us-east-1"));
    assert_false(ct_trail_selects(t, w, "us-east-1"));
    json_t *data = rec("s3.amazonaws.com", true, "Data", "123456789012");
    assert_true(ct_trail_selects(t, data, "us-east-1"));
    json_decref(t);
    json_decref(w);
    json_decref(ro);
    json_decref(ct);
    json_decref(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_policy),
        cmocka_unit_test(test_selects_regions),
        cmocka_unit_test(test_selects_basic),
        cmocka_unit_test(test_org_trail),
        cmocka_unit_test(test_selects_advanced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
