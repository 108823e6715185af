/* testclock.h: the clock the background workers' retry back-offs run on.
 * Normally the wall clock; in tests (GREENTRAIL_TEST_FAULTS=1) the wall
 * clock plus an advance the test writes to DATA_DIR/test-clock-advance-ms,
 * so an hour of back-off can be simulated in a minute. */
#ifndef GT_TESTCLOCK_H
#define GT_TESTCLOCK_H

#include <stdint.h>

/* Call once at start, before any worker thread: with
 * GREENTRAIL_TEST_FAULTS=1 in the environment, gt_sched_now_ms() reads
 * DATA_DIR/test-clock-advance-ms from then on; otherwise it never reads
 * a file. A data_dir too long for the path leaves the clock real. */
void gt_sched_clock_init(const char *data_dir);

/* Epoch milliseconds for scheduling retries: gt_now_ms() plus, when the
 * test clock is on, the file's decimal milliseconds (re-read on every
 * call; missing, unreadable, malformed or negative counts as 0, and the
 * returned value never goes backwards). Thread-safe. */
int64_t gt_sched_now_ms(void);

#endif
