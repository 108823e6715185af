/* Unit tests: Greengrass pure helpers: version-content rules
 * (gg_validate.c), S3 input URIs, bulk input-file checks and deployment
 * status progression (gg_deploy.c), the handler table (gg.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "greengrass/gg.h"
#include "greengrass/gg_int.h"
#include "model/model.h"

static bool valid(const char *seg, const char *json, char *msg, size_t cap)
{
    json_t *c = json_loads(json, 0, NULL);
    assert_non_null(c);
    msg[0] = '\0';
    bool ok = gg_validate_content(seg, c, msg, cap);
    json_decref(c);
    return ok;
}

static void test_content_rules(void **st)
{
    (void)st;
    char m[512];
    assert_true(valid("cores", "{\"Cores\":[{\"Id\":\"a\"}]}", m, sizeof m));
    assert_true(valid("cores", "{\"Cores\":[]}", m, sizeof m));
    assert_false(valid("cores", "{\"Cores\":[{\"Id\":\"a\"},{\"Id\":\"b\"}]}", m, sizeof m));
    assert_string_equal(m, "The cores definition is invalid or corrupted. (ErrorDetails: [Only one core is allowed])");
    assert_false(valid("devices", "{\"Devices\":[{\"Id\":\"a\"},{\"Id\":\"a\"}]}", m, sizeof m));
    assert_string_equal(m, "The devices definition is invalid or corrupted. (ErrorDetails: [Duplicate Id: a])");
    assert_false(valid("devices", "{\"Devices\":[{\"Id\":\"a b\"}]}", m, sizeof m));
    assert_true(valid("devices", "{\"Devices\":[{\"Id\":\"a:b_c-D9\"}]}", m, sizeof m));
    /* 128 chars fine, 129 not */
    char big[300];
    snprintf(big, sizeof big, "{\"Loggers\":[{\"Id\":\"%0128d\"}]}", 0);
    assert_true(valid("loggers", big, m, sizeof m));
    snprintf(big, sizeof big, "{\"Loggers\":[{\"Id\":\"%0129d\"}]}", 0);
    assert_false(valid("loggers", big, m, sizeof m));
}

static void test_subscription_endpoints(void **st)
{
    (void)st;
    char m[512], j[512];
    const char *good[] = {"cloud", "GGShadowService", "arn:aws:iot:us-east-1:123456789012:thing/core_1",
                          "arn:aws:lambda:us-east-1:123456789012:function:f:1",
                          "arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST",
                          "arn:aws:lambda:::function:GGIPDetector:1",
                          "arn:aws:greengrass:us-east-1::/connectors/TwilioNotifications/versions/3"};
    const char *bad[] = {"", "Cloud", "arn:aws:lambda:us-east-1:123456789012:function:f",
                         "arn:aws:iot:us-east-1:1234:thing/x", "arn:aws:iot:us-east-1:123456789012:thinggroup/x",
                         "arn:aws:greengrass:us-east-1::/connectors/X/versions/latest"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        snprintf(j, sizeof j, "{\"Subscriptions\":[{\"Id\":\"s\",\"Source\":\"cloud\",\"Target\":\"%s\"}]}", good[i]);
        assert_true(valid("subscriptions", j, m, sizeof m));
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(j, sizeof j, "{\"Subscriptions\":[{\"Id\":\"s\",\"Source\":\"%s\",\"Target\":\"cloud\"}]}", bad[i]);
        assert_false(valid("subscriptions", j, m, sizeof m));
        assert_non_null(strstr(m, "Subscription source is invalid. ID is 's' and Source is"));
    }
}

static void test_resources_and_connectors(void **st)
{
    (void)st;
    char m[512];
    assert_true(valid("resources",
                      "{\"Resources\":[{\"Id\":\"r\",\"Name\":\"n\",\"ResourceDataContainer\":"
                      "{\"LocalDeviceResourceData\":{\"SourcePath\":\"/dev/tty0\"}}}]}",
                      m, sizeof m));
    assert_false(valid("resources",
                       "{\"Resources\":[{\"Id\":\"r\",\"Name\":\"n\",\"ResourceDataContainer\":"
                       "{\"LocalDeviceResourceData\":{\"SourcePath\":\"/devx\"}}}]}",
                       m, sizeof m));
    assert_string_equal(m, "The resources definition is invalid. (ErrorDetails: [Device resource path should begin "
                           "with /dev, but got: /devx])");
    assert_false(valid("resources",
                       "{\"Resources\":[{\"Id\":\"r\",\"Name\":\"n\",\"ResourceDataContainer\":"
                       "{\"LocalVolumeResourceData\":{\"SourcePath\":\"/sys\"}}}]}",
                       m, sizeof m));
    assert_string_equal(m, "The resources definition is invalid. (ErrorDetails: [Accessing /sys is prohibited])");
    assert_true(valid("resources",
                      "{\"Resources\":[{\"Id\":\"r\",\"Name\":\"n\",\"ResourceDataContainer\":"
                      "{\"LocalVolumeResourceData\":{\"SourcePath\":\"/sysroot\"}}}]}",
                      m, sizeof m));
    assert_false(valid("resources",
                       "{\"Resources\":[{\"Id\":\"r\",\"Name\":\"n\",\"ResourceDataContainer\":"
                       "{\"LocalVolumeResourceData\":{},\"LocalDeviceResourceData\":{}}}]}",
                       m, sizeof m));
    assert_false(valid("resources",
                       "{\"Resources\":[{\"Id\":\"a\",\"Name\":\"n\",\"ResourceDataContainer\":{\"S3MachineLearning"
                       "ModelResourceData\":{}}},{\"Id\":\"b\",\"Name\":\"n\",\"ResourceDataContainer\":{\"S3Machine"
                       "LearningModelResourceData\":{}}}]}",
                       m, sizeof m));
    assert_non_null(strstr(m, "Duplicate resource name: n"));
    assert_false(valid("connectors", "{\"Connectors\":[{\"Id\":\"c\",\"ConnectorArn\":\"arn:aws:sns:x\"}]}", m, sizeof m));
    assert_false(valid("functions",
                       "{\"Functions\":[{\"Id\":\"f\",\"FunctionConfiguration\":{\"Environment\":{\"ResourceAccess"
                       "Policies\":[{},{},{},{},{},{},{},{},{},{},{}]}}}]}",
                       m, sizeof m));
}

static void test_s3_uris(void **st)
{
    (void)st;
    char b[64], k[256];
    assert_true(gg_parse_s3_uri("https://my-bucket.s3-us-west-2.amazonaws.com/dir/file.txt", b, sizeof b, k, sizeof k));
    assert_string_equal(b, "my-bucket");
    assert_string_equal(k, "dir/file.txt");
    assert_true(gg_parse_s3_uri("https://my-bucket.s3.amazonaws.com/f", b, sizeof b, k, sizeof k));
    assert_true(gg_parse_s3_uri("https://s3.eu-west-1.amazonaws.com/bkt/a/b", b, sizeof b, k, sizeof k));
    assert_string_equal(b, "bkt");
    assert_string_equal(k, "a/b");
    assert_true(gg_parse_s3_uri("s3://bkt/key", b, sizeof b, k, sizeof k));
    assert_false(gg_parse_s3_uri("s3://bkt/", b, sizeof b, k, sizeof k));
    assert_false(gg_parse_s3_uri("https://example.com/x", b, sizeof b, k, sizeof k));
    assert_false(gg_parse_s3_uri("http://bkt.s3.amazonaws.com/x", b, sizeof b, k, sizeof k));
    assert_false(gg_parse_s3_uri(NULL, b, sizeof b, k, sizeof k));
}

static void test_bulk_parse(void **st)
{
    (void)st;
    char why[256];
    const char ok[] = "{\"GroupId\":\"g\",\"GroupVersionId\":\"v\",\"DeploymentType\":\"NewDeployment\"}\n\n"
                      "{\"GroupId\":\"h\",\"GroupVersionId\":\"w\"}\r\n";
    json_t *r = gg_bulk_parse(ok, strlen(ok), why, sizeof why);
    assert_non_null(r);
    assert_int_equal(json_array_size(r), 2);
    json_decref(r);
    struct { const char *in, *msg; } bad[] = {
        {"{\"GroupId\":\"g\",\"GroupVersionId\":\"v\"}\nnot json\n", "Failed to parse input file at line number: 2"},
        {"{\"GroupVersionId\":\"v\"}", "InvalidInputFile: Missing GroupId at line number: 1"},
        {"{\"GroupId\":\"g\"}", "InvalidInputFile: Missing GroupVersionId at line number: 1"},
        {"{\"GroupId\":\"g\",\"GroupVersionId\":\"v\",\"DeploymentType\":\"Redeployment\"}",
         "InvalidInputFile: Invalid deployment type at line number : 1. Only valid type is 'NewDeployment'."},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_null(gg_bulk_parse(bad[i].in, strlen(bad[i].in), why, sizeof why));
        assert_string_equal(why, bad[i].msg);
    }
    char longline[400];
    memset(longline, 'x', sizeof longline);
    assert_null(gg_bulk_parse(longline, sizeof longline, why, sizeof why));
    assert_string_equal(why, "Line 1 is too long in S3 File. Valid line is less than 256 chars.");
}

static void test_deploy_phase(void **st)
{
    (void)st;
    int64_t since;
    assert_string_equal(gg_deploy_phase(0, false, &since), "Building");
    assert_int_equal(since, 0);
    assert_string_equal(gg_deploy_phase(GG_DEPLOY_STEP_MS, false, &since), "InProgress");
    assert_int_equal(since, GG_DEPLOY_STEP_MS);
    assert_string_equal(gg_deploy_phase(2 * GG_DEPLOY_STEP_MS, false, &since), "Success");
    assert_string_equal(gg_deploy_phase(100 * GG_DEPLOY_STEP_MS, true, &since), "Failure");
    assert_int_equal(since, 2 * GG_DEPLOY_STEP_MS);
    assert_string_equal(gg_deploy_phase(-5, true, &since), "Building");   /* clock stepped back */
}

static void test_every_op_has_a_handler(void **st)
{
    (void)st;
    assert_int_equal(model_greengrass.n_ops, 92);
    for (size_t i = 0; i < model_greengrass.n_ops; i++)
        assert_non_null(gg_handler_for(model_greengrass.ops[i].name));
    assert_null(gg_handler_for("CreateWidget"));
    const char *const *m = gg_redacted_members("CreateGroup");
    assert_string_equal(m[0], "InitialVersion");
    m = gg_redacted_members("CreateConnectorDefinitionVersion");
    assert_string_equal(m[0], "Connectors");
    assert_null(gg_redacted_members("CreateGroupVersion"));
    assert_null(gg_redacted_members("TagResource"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_rules),      cmocka_unit_test(test_subscription_endpoints),
        cmocka_unit_test(test_resources_and_connectors), cmocka_unit_test(test_s3_uris),
        cmocka_unit_test(test_bulk_parse),         cmocka_unit_test(test_deploy_phase),
        cmocka_unit_test(test_every_op_has_a_handler),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
