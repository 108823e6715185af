/*
 * testclock.c: the scheduling clock of the retry back-offs (SNS HTTP
 * delivery, EventBridge rule targets, trail delivery), with a test-only
 * way to move it forward.
 *
 * Why: the dead-target tests must show what an hour of outage does
 * (retries capped, backlog bounded, nothing lost) without running for an
 * hour. The workers keep their real-time loops (they wake every interval
 * as usual); only the question "is this retry due?" is asked of this
 * clock. A test writes a number of milliseconds to
 * DATA_DIR/test-clock-advance-ms and every back-off that was waiting for
 * that much time is due at the next wake-up.
 *
 * Invariants: the file is read only when GREENTRAIL_TEST_FAULTS=1 was set
 * at start (the same switch as the store's fault files), so a production
 * server's clock is the wall clock and no file in its data dir changes
 * it; the advance is never negative, and the clock never goes backwards
 * (a test that rewrites the file with a smaller number, or a torn read,
 * is ignored until the wall clock catches up). Event times, object keys,
 * SigV4 and everything recorded keep the wall clock.
 */
#include "util/testclock.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/gtutil.h"

static char gt_tc_path[4096];       /* "" = off; set before the workers start */
static _Atomic int64_t gt_tc_last;  /* the largest value returned so far */

void gt_sched_clock_init(const char *data_dir)
{
    const char *f = getenv("GREENTRAIL_TEST_FAULTS");
    gt_tc_path[0] = '\0';
    if (!f || strcmp(f, "1") != 0 || !data_dir)
        return;
    int n = snprintf(gt_tc_path, sizeof gt_tc_path, "%s/test-clock-advance-ms", data_dir);
    if (n < 0 || (size_t)n >= sizeof gt_tc_path)
        gt_tc_path[0] = '\0';
}

static int64_t read_advance(void)
{
    int fd = open(gt_tc_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    char buf[32];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    size_t len = (size_t)n;
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
        len--;
    int64_t v = 0;
    if (!gt_parse_i64(buf, len, &v) || v < 0)
        return 0;
    return v;
}

int64_t gt_sched_now_ms(void)
{
    int64_t now = gt_now_ms();
    if (gt_tc_path[0] == '\0')
        return now;
    now += read_advance();
    int64_t last = atomic_load(&gt_tc_last);
    while (now > last && !atomic_compare_exchange_weak(&gt_tc_last, &last, now))
        ;
    return now > last ? now : last;
}
