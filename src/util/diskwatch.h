/* diskwatch.h: disk-pressure warnings for the data dir (diskwatch.c). */
#ifndef GT_DISKWATCH_H
#define GT_DISKWATCH_H

#include <stdbool.h>

enum { GT_DISK_OK = 0, GT_DISK_LOW = 1, GT_DISK_CRITICAL = 2 };

typedef struct gt_diskwatch gt_diskwatch;

/* The level for free_mb MB free: GT_DISK_CRITICAL below crit_mb,
 * GT_DISK_LOW below warn_mb, else GT_DISK_OK (a threshold <= 0 is off). */
int gt_disk_level(long free_mb, long warn_mb, long crit_mb);

/* Start watching the file system holding dir; logs each change of level to
 * stderr. Returns NULL (nothing started) when both thresholds are <= 0 or
 * the thread cannot start. Stop with gt_diskwatch_stop. */
gt_diskwatch *gt_diskwatch_start(const char *dir, long warn_mb, long crit_mb);

/* Stop the thread and free w; w may be NULL. */
void gt_diskwatch_stop(gt_diskwatch *w);

#endif
