/* test_metrics.c: the counters of GET /metrics (util/metrics.c): counting
 * per label set, label escaping, sorted stable output, and the fixed table
 * counting what it cannot hold instead of growing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/metrics.h"

static char *render(void)
{
    gt_metrics_buf b = {0};
    gt_metrics_render_counters(&b);
    assert_false(b.failed);
    return b.p;
}

static void test_counts_per_label_set(void **state)
{
    (void)state;
    gt_metrics_reset();
    gt_metrics_call("greengrass", "GetGroup", 200);
    gt_metrics_call("greengrass", "GetGroup", 200);
    gt_metrics_call("greengrass", "GetGroup", 404);
    gt_metrics_sigv4_failure("SignatureDoesNotMatch");
    gt_metrics_audit_failure("greengrass", "CreateGroup");
    gt_metrics_delivery_error("digest");
    char *t = render();
    assert_non_null(strstr(t, "greentrail_calls_total{service=\"greengrass\",operation=\"GetGroup\",status=\"200\"} 2\n"));
    assert_non_null(strstr(t, "greentrail_calls_total{service=\"greengrass\",operation=\"GetGroup\",status=\"404\"} 1\n"));
    assert_non_null(strstr(t, "greentrail_sigv4_failures_total{reason=\"SignatureDoesNotMatch\"} 1\n"));
    assert_non_null(strstr(t, "greentrail_audit_write_failures_total{service=\"greengrass\",operation=\"CreateGroup\"} 1\n"));
    assert_non_null(strstr(t, "greentrail_trail_delivery_errors_total{file=\"digest\"} 1\n"));
    assert_non_null(strstr(t, "# TYPE greentrail_calls_total counter\n"));
    /* 200 sorts before 404 */
    assert_true(strstr(t, "status=\"200\"") < strstr(t, "status=\"404\""));
    free(t);
}

static void test_label_escaping(void **state)
{
    (void)state;
    gt_metrics_reset();
    gt_metrics_sigv4_failure("a\"b\\c\nd");
    char *t = render();
    assert_non_null(strstr(t, "{reason=\"a\\\"b\\\\c\\nd\"} 1\n"));
    free(t);
}

static void test_full_table_counts_drops(void **state)
{
    (void)state;
    gt_metrics_reset();
    char op[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(op, sizeof op, "Op%d", i);
        gt_metrics_call("svc", op, 200);
    }
    char *t = render();
    assert_non_null(strstr(t, "greentrail_metrics_dropped_total 904\n"));
    free(t);
    gt_metrics_reset();
    t = render();
    assert_non_null(strstr(t, "greentrail_metrics_dropped_total 0\n"));
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_per_label_set),
        cmocka_unit_test(test_label_escaping),
        cmocka_unit_test(test_full_table_counts_drops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
