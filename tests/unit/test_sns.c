/*
 * test_sns.c: unit tests for the pure parts of SNS (sns/sns.c,
 * sns/sns_deliver.c): topic ARN parsing (region, account, name rules) and
 * the string to sign of both envelope kinds (cloudtrail.md §4.2: byte
 * order of the names, Subject only when present, Notification vs
 * SubscriptionConfirmation field sets, missing fields rejected).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sns/sns.h"

static void test_parse_topic_arn(void **state)
{
    char r[32], a[16], n[257];
    assert_true(sns_parse_topic_arn("arn:aws:sns:us-east-1:123456789012:my_topic-1", r, a, n));
    assert_string_equal(r, "us-east-1");
    assert_string_equal(a, "123456789012");
    assert_string_equal(n, "my_topic-1");
    assert_false(sns_parse_topic_arn("arn:aws:sns:us-east-1:12345:t", r, a, n));        /* short account */
    assert_false(sns_parse_topic_arn("arn:aws:sns:us-east-1:123456789012:", r, a, n));  /* empty name */
    assert_false(sns_parse_topic_arn("arn:aws:sns:us-east-1:123456789012:a b", r, a, n));
    assert_false(sns_parse_topic_arn("arn:aws:sqs:us-east-1:123456789012:q", r, a, n));
    assert_false(sns_parse_topic_arn("arn:aws:sns::123456789012:t", r, a, n));          /* no region */
    assert_false(sns_parse_topic_arn(NULL, r, a, n));
    char long_arn[400];
    memset(long_arn, 'x', sizeof long_arn);
    memcpy(long_arn, "arn:aws:sns:us-east-1:123456789012:", 35);
    long_arn[35 + 257] = '\0';   /* a 257-character name */
    assert_false(sns_parse_topic_arn(long_arn, r, a, n));
}

static void test_string_to_sign_notification(void **state)
{
    json_t *env = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "Type", "Notification", "MessageId", "m-1",
                            "TopicArn", "arn:aws:sns:us-east-1:123456789012:t", "Subject", "S", "Message", "hi",
                            "Timestamp", "2023-05-27T23:27:39.734Z", "SignatureVersion", "1");
    char *s = sns_string_to_sign(env);
    assert_non_null(s);
    assert_string_equal(s, "Message\nhi\nMessageId\nm-1\nSubject\nS\nTimestamp\n2023-05-27T23:27:39.734Z\n"
                           "TopicArn\narn:aws:sns:us-east-1:123456789012:t\nType\nNotification\n");
    free(s);
    json_object_del(env, "Subject");   /* Subject only when present */
    s = sns_string_to_sign(env);
    assert_non_null(s);
    assert_null(strstr(s, "Subject"));
    free(s);
    json_object_del(env, "Message");   /* a required field missing */
    assert_null(sns_string_to_sign(env));
    json_decref(env);
}

static void test_string_to_sign_confirmation(void **state)
{
    json_t *env = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "Type", "SubscriptionConfirmation",
                            "MessageId", "m", "Token", "tok", "TopicArn", "arn", "Message", "msg", "SubscribeURL",
                            "http://x/", "Timestamp", "ts", "Subject", "ignored");
    char *s = sns_string_to_sign(env);
    assert_non_null(s);
    assert_string_equal(s, "Message\nmsg\nMessageId\nm\nSubscribeURL\nhttp://x/\nTimestamp\nts\nToken\ntok\n"
                           "TopicArn\narn\nType\nSubscriptionConfirmation\n");
    free(s);
    json_object_del(env, "Token");
    assert_null(sns_string_to_sign(env));
    json_decref(env);
    assert_null(sns_string_to_sign(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_topic_arn),
        cmocka_unit_test(test_string_to_sign_notification),
        cmocka_unit_test(test_string_to_sign_confirmation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
