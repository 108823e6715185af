/* test_diskwatch.c: the disk-pressure ladder (util/diskwatch.c): levels at
 * and around each threshold, thresholds switched off, and start/stop. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "util/diskwatch.h"

static void test_levels(void **state)
{
    (void)state;
    assert_int_equal(gt_disk_level(1000, 256, 64), GT_DISK_OK);
    assert_int_equal(gt_disk_level(256, 256, 64), GT_DISK_OK);
    assert_int_equal(gt_disk_level(255, 256, 64), GT_DISK_LOW);
    assert_int_equal(gt_disk_level(64, 256, 64), GT_DISK_LOW);
    assert_int_equal(gt_disk_level(63, 256, 64), GT_DISK_CRITICAL);
    assert_int_equal(gt_disk_level(0, 256, 64), GT_DISK_CRITICAL);
}

static void test_off(void **state)
{
    (void)state;
    assert_int_equal(gt_disk_level(0, 0, 0), GT_DISK_OK);
    assert_int_equal(gt_disk_level(10, 0, 64), GT_DISK_CRITICAL);
    assert_int_equal(gt_disk_level(10, 256, 0), GT_DISK_LOW);
    assert_null(gt_diskwatch_start("/", 0, 0));
}

static void test_start_stop(void **state)
{
    (void)state;
    gt_diskwatch *w = gt_diskwatch_start("/", 1, 1);
    assert_non_null(w);
    gt_diskwatch_stop(w);
    gt_diskwatch_stop(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_levels),
        cmocka_unit_test(test_off),
        cmocka_unit_test(test_start_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
