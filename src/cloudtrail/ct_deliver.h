/* ct_deliver.h: the background worker that delivers trail log files and
 * digest files to the built-in S3 (cloudtrail.md §2, §3). */
#ifndef GT_CT_DELIVER_H
#define GT_CT_DELIVER_H

#include <stdint.h>

#include "s3/s3_store.h"
#include "store/store.h"
#include "util/metrics.h"

typedef struct ct_deliver ct_deliver;
struct s3_target;

/* Which trails a worker delivers: all, or split by where their bucket is
 * (s3/s3_target.h), so a hanging external server delays only its trails. */
enum { CT_DELIVER_ALL = 0, CT_DELIVER_BUILTIN, CT_DELIVER_EXTERNAL };

typedef struct ct_deliver_opts {
    store *st;
    s3_store *s3;
    struct s3_target *target;   /* where objects go (NULL: the built-in s3 only) */
    int only;                   /* CT_DELIVER_*: which trails this worker takes */
    long delivery_interval_s;   /* how often log files are written (>= 1) */
    long digest_interval_s;     /* digest period (>= 1; AWS: 3600) */
} ct_deliver_opts;

/* Start the worker thread. NULL on failure. ct_digest_init() must have run. */
ct_deliver *ct_deliver_start(const ct_deliver_opts *o);
/* Let the current round finish, stop the thread, free. NULL is a no-op. */
void ct_deliver_stop(ct_deliver *d);

/* One delivery round now (the worker's loop body), for tests. */
void ct_deliver_round(ct_deliver *d, int64_t now_ms);

/* Appends the per-trail gauges of GET /metrics (logging, backlog, lag,
 * failing deliveries, last delivery time), read from the store now. */
gt_err ct_deliver_metrics(store *st, gt_metrics_buf *b, int64_t now_ms);

#endif
