/* test_events_transform.c: CloudTrail record -> EventBridge envelope, the
 * read-only exclusion, InputPath / InputTransformer / Input, and the file
 * target path check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "events/events.h"
#include "events/transform.h"

static json_t *rec(const char *src, const char *name, bool ro, const char *type, const char *id)
{
    return json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:s, s:s, s:s}", "eventSource", src, "eventName", name,
                     "eventTime", "2026-01-02T03:04:05Z", "readOnly", ro, "eventType", type, "eventID", id,
                     "awsRegion", "eu-west-1", "recipientAccountId", "123456789012", "requestID", "r");
}

static void test_eligible(void **st)
{
    (void)st;
    json_t *w = rec("greengrass.amazonaws.com", "CreateGroup", false, "AwsApiCall", "e1");
    json_t *r = rec("greengrass.amazonaws.com", "ListGroups", true, "AwsApiCall", "e2");
    json_t *sts = rec("sts.amazonaws.com", "GetSessionToken", true, "AwsApiCall", "e3");
    json_t *sts2 = rec("sts.amazonaws.com", "GetCallerIdentity", true, "AwsApiCall", "e4");
    json_t *pe = rec("events.amazonaws.com", "PutEvents", false, "AwsApiCall", "e5");
    assert_true(ev_record_eligible(w, false));
    assert_false(ev_record_eligible(r, false));
    assert_true(ev_record_eligible(r, true));
    assert_true(ev_record_eligible(sts, false));
    assert_false(ev_record_eligible(sts2, false));
    assert_false(ev_record_eligible(pe, true));
    json_decref(w);
    json_decref(r);
    json_decref(sts);
    json_decref(sts2);
    json_decref(pe);
}

static void test_envelope(void **st)
{
    (void)st;
    json_t *r = rec("greengrass.amazonaws.com", "CreateGroup", false, "AwsApiCall", "e1");
    json_t *e = ev_envelope_from_record(r);
    assert_non_null(e);
    assert_string_equal(json_string_value(json_object_get(e, "version")), "0");
    assert_string_equal(json_string_value(json_object_get(e, "source")), "aws.greengrass");
    assert_string_equal(json_string_value(json_object_get(e, "detail-type")), "AWS API Call via CloudTrail");
    assert_string_equal(json_string_value(json_object_get(e, "account")), "123456789012");
    assert_string_equal(json_string_value(json_object_get(e, "region")), "eu-west-1");
    assert_string_equal(json_string_value(json_object_get(e, "time")), "2026-01-02T03:04:05Z");
    assert_int_equal(json_array_size(json_object_get(e, "resources")), 0);
    assert_true(json_equal(json_object_get(e, "detail"), r));
    const char *id = json_string_value(json_object_get(e, "id"));
    assert_int_equal(strlen(id), 36);
    assert_int_equal(id[14], '4');
    /* stable per eventID, different across events */
    json_t *e2 = ev_envelope_from_record(r);
    assert_string_equal(id, json_string_value(json_object_get(e2, "id")));
    json_t *other = rec("greengrass.amazonaws.com", "CreateGroup", false, "AwsServiceEvent", "e9");
    json_t *e3 = ev_envelope_from_record(other);
    assert_string_not_equal(id, json_string_value(json_object_get(e3, "id")));
    assert_string_equal(json_string_value(json_object_get(e3, "detail-type")), "AWS Service Event via CloudTrail");
    json_decref(e);
    json_decref(e2);
    json_decref(e3);
    json_decref(other);
    json_decref(r);
}

static void test_input_path(void **st)
{
    (void)st;
    assert_true(ev_input_path_valid("$"));
    assert_true(ev_input_path_valid("$.detail.eventName"));
    assert_true(ev_input_path_valid("$.a[1].b"));
    assert_true(ev_input_path_valid("$['detail-type']"));
    assert_false(ev_input_path_valid("detail"));
    assert_false(ev_input_path_valid("$."));
    assert_false(ev_input_path_valid("$[x]"));
    assert_false(ev_input_path_valid("$..a"));
    assert_false(ev_input_path_valid("$['a"));
    json_t *ev = json_loads("{\"detail-type\":\"t\",\"a\":[{\"b\":1},{\"b\":2}]}", 0, NULL);
    assert_int_equal(json_integer_value(ev_input_path_get(ev, "$.a[1].b")), 2);
    assert_string_equal(json_string_value(ev_input_path_get(ev, "$['detail-type']")), "t");
    assert_ptr_equal(ev_input_path_get(ev, "$"), ev);
    assert_null(ev_input_path_get(ev, "$.a[5]"));
    assert_null(ev_input_path_get(ev, "$.nope.deeper"));
    json_decref(ev);
}

static void body_is(const char *target_json, const char *event_json, const char *want)
{
    json_t *tg = json_loads(target_json, 0, NULL);
    json_t *ev = json_loads(event_json, 0, NULL);
    assert_non_null(tg);
    assert_non_null(ev);
    char *b = ev_target_body(tg, ev, "arn:aws:events:us-east-1:123456789012:rule/r", "r");
    assert_non_null(b);
    assert_string_equal(b, want);
    free(b);
    json_decref(tg);
    json_decref(ev);
}

static void test_target_body(void **st)
{
    (void)st;
    const char *ev = "{\"id\":\"i\",\"time\":\"T\",\"detail\":{\"name\":\"say \\\"hi\\\"\",\"n\":3,\"o\":{\"k\":1}}}";
    body_is("{\"Id\":\"t\"}", ev, "{\"id\":\"i\",\"time\":\"T\",\"detail\":{\"name\":\"say \\\"hi\\\"\",\"n\":3,\"o\":{\"k\":1}}}");
    body_is("{\"Input\":\"{\\\"x\\\": 1}\"}", ev, "{\"x\": 1}");
    body_is("{\"InputPath\":\"$.detail.n\"}", ev, "3");
    body_is("{\"InputPath\":\"$.detail.o\"}", ev, "{\"k\":1}");
    body_is("{\"InputPath\":\"$.detail.none\"}", ev, "null");
    /* outside quotes: JSON values; inside: escaped text; missing: null / empty */
    body_is("{\"InputTransformer\":{\"InputPathsMap\":{\"nm\":\"$.detail.name\",\"n\":\"$.detail.n\","
            "\"o\":\"$.detail.o\",\"z\":\"$.nothing\"},"
            "\"InputTemplate\":\"{\\\"a\\\": <nm>, \\\"b\\\": \\\"<nm>!\\\", \\\"c\\\": <n>, \\\"d\\\": <o>, "
            "\\\"e\\\": <z>, \\\"f\\\": \\\"<z>\\\", \\\"g\\\": \\\"<unknown>\\\"}\"}}",
            ev,
            "{\"a\": \"say \\\"hi\\\"\", \"b\": \"say \\\"hi\\\"!\", \"c\": 3, \"d\": {\"k\":1}, \"e\": null, "
            "\"f\": \"\", \"g\": \"<unknown>\"}");
    /* a plain-text template (the template's own quotes make it a JSON string) */
    body_is("{\"InputTransformer\":{\"InputPathsMap\":{\"n\":\"$.detail.n\"},"
            "\"InputTemplate\":\"\\\"<aws.events.rule-name> saw <n> at <aws.events.event.ingestion-time>\\\"\"}}",
            ev, "\"r saw 3 at T\"");
    body_is("{\"InputTransformer\":{\"InputTemplate\":\"{\\\"rule\\\": <aws.events.rule-arn>}\"}}", ev,
            "{\"rule\": \"arn:aws:events:us-east-1:123456789012:rule/r\"}");
}

static void test_file_target(void **st)
{
    (void)st;
    const char *rel = NULL;
    assert_true(ev_file_target("arn:aws:greentrail:::file/out/a.jsonl", &rel));
    assert_string_equal(rel, "out/a.jsonl");
    assert_false(ev_file_target("arn:aws:greentrail:::file//etc/passwd", &rel));
    assert_false(ev_file_target("arn:aws:greentrail:::file/../x", &rel));
    assert_false(ev_file_target("arn:aws:greentrail:::file/a/../../x", &rel));
    assert_false(ev_file_target("arn:aws:greentrail:::file/a//b", &rel));
    assert_false(ev_file_target("arn:aws:greentrail:::file/a b", &rel));
    assert_false(ev_file_target("arn:aws:greentrail:::file/", &rel));
    assert_false(ev_file_target("arn:aws:sns:us-east-1:1:t", &rel));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eligible),      cmocka_unit_test(test_envelope),
        cmocka_unit_test(test_input_path),    cmocka_unit_test(test_target_body),
        cmocka_unit_test(test_file_target),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
