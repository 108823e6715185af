/*
 * diskwatch.c: disk-pressure warnings for the data dir.
 *
 * What: one thread that looks at the free space of the data dir's file
 * system (statvfs, f_bavail: what an unprivileged writer can still use)
 * every couple of seconds and logs to stderr when it crosses a threshold:
 * "low" below --disk-warn-mb, "critical" below --disk-critical-mb, and
 * "ok" when it is back above the warning level. Only changes of level are
 * logged, never the same level twice in a row.
 *
 * Why: a full disk makes every call answer 503 (every call, reads too, is
 * recorded before it is answered: fail-closed, docs/RELIABILITY.md). As
 * auditd's space_left / admin_space_left ladder (engineering.md §B.4), an
 * operator should hear about it before the end, not at the end.
 *
 * Invariants: the thread only reads (statvfs) and writes log lines; it
 * never touches the store. gt_diskwatch_stop joins it. A statvfs error is
 * logged once and the level is left as it was.
 */
#include "util/diskwatch.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>

#include "util/gtutil.h"

#define DW_PERIOD_MS 2000

struct gt_diskwatch {
    char dir[2048];
    long warn_mb, crit_mb;
    int level;   /* GT_DISK_OK, GT_DISK_LOW, GT_DISK_CRITICAL */
    bool stat_failed;
    bool stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t th;
};

int gt_disk_level(long free_mb, long warn_mb, long crit_mb)
{
    if (crit_mb > 0 && free_mb < crit_mb)
        return GT_DISK_CRITICAL;
    if (warn_mb > 0 && free_mb < warn_mb)
        return GT_DISK_LOW;
    return GT_DISK_OK;
}

static void check(gt_diskwatch *w)
{
    struct statvfs sv;
    if (statvfs(w->dir, &sv) != 0) {
        if (!w->stat_failed)
            fprintf(stderr, "greentrail: disk space: cannot stat %s: %s\n", w->dir, strerror(errno));
        w->stat_failed = true;
        return;
    }
    w->stat_failed = false;
    long free_mb = (long)(((unsigned long long)sv.f_bavail * sv.f_frsize) >> 20);
    int lv = gt_disk_level(free_mb, w->warn_mb, w->crit_mb);
    if (lv == w->level)
        return;
    if (lv == GT_DISK_CRITICAL)
        fprintf(stderr, "greentrail: disk space critical: %ld MB free in %s (below --disk-critical-mb %ld); "
                "when it is full every call fails with 503\n", free_mb, w->dir, w->crit_mb);
    else if (lv == GT_DISK_LOW)
        fprintf(stderr, "greentrail: disk space low: %ld MB free in %s (below --disk-warn-mb %ld)\n",
                free_mb, w->dir, w->warn_mb);
    else
        fprintf(stderr, "greentrail: disk space ok again: %ld MB free in %s\n", free_mb, w->dir);
    fflush(stderr);
    w->level = lv;
}

static void *dw_main(void *arg)
{
    gt_diskwatch *w = arg;
    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        pthread_mutex_unlock(&w->mu);
        check(w);
        pthread_mutex_lock(&w->mu);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += DW_PERIOD_MS / 1000;
        while (!w->stop && pthread_cond_timedwait(&w->cv, &w->mu, &ts) == 0)
            ;
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

gt_diskwatch *gt_diskwatch_start(const char *dir, long warn_mb, long crit_mb)
{
    if (warn_mb <= 0 && crit_mb <= 0)
        return NULL;
    gt_diskwatch *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    if (!gt_strlcpy(w->dir, dir, sizeof w->dir)) {
        free(w);
        return NULL;
    }
    w->warn_mb = warn_mb;
    w->crit_mb = crit_mb;
    w->level = GT_DISK_OK;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->th, NULL, dw_main, w) != 0) {
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        free(w);
        return NULL;
    }
    return w;
}

void gt_diskwatch_stop(gt_diskwatch *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->th, NULL);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}
