/* test_testclock.c: the retry back-offs' scheduling clock (util/testclock.c):
 * the wall clock unless GREENTRAIL_TEST_FAULTS=1, then advanced by the
 * number in DATA_DIR/test-clock-advance-ms; bad numbers count as 0 and the
 * clock never goes backwards. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/gtutil.h"
#include "util/testclock.h"

static char dir[64];

static void put(const char *text)
{
    char p[128];
    snprintf(p, sizeof p, "%s/test-clock-advance-ms", dir);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/gt-testclock-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char p[128];
    snprintf(p, sizeof p, "%s/test-clock-advance-ms", dir);
    unlink(p);
    rmdir(dir);
    return 0;
}

/* Without the fault switch the file is never read. */
static void test_off_without_switch(void **state)
{
    (void)state;
    unsetenv("GREENTRAIL_TEST_FAULTS");
    put("3600000");
    gt_sched_clock_init(dir);
    int64_t a = gt_now_ms(), s = gt_sched_now_ms(), b = gt_now_ms();
    assert_true(s >= a && s <= b);
}

static void test_advance_and_bad_values(void **state)
{
    (void)state;
    setenv("GREENTRAIL_TEST_FAULTS", "1", 1);
    gt_sched_clock_init(dir);
    put("3600000\n");
    int64_t a = gt_now_ms(), s = gt_sched_now_ms(), b = gt_now_ms();
    assert_true(s >= a + 3600000 && s <= b + 3600000);
    /* advancing further moves it on */
    put("7200000");
    assert_true(gt_sched_now_ms() >= a + 7200000);
    /* a smaller number, garbage or a negative number never moves it back */
    int64_t before = gt_sched_now_ms();
    put("-5");
    assert_true(gt_sched_now_ms() >= before);
    put("12abc");
    assert_true(gt_sched_now_ms() >= before);
    put("0");
    assert_true(gt_sched_now_ms() >= before);
    unsetenv("GREENTRAIL_TEST_FAULTS");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_off_without_switch),
        cmocka_unit_test(test_advance_and_bad_values),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
