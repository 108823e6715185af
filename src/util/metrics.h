/* metrics.h: process counters for GET /metrics (Prometheus text format,
 * version 0.0.4). */
#ifndef GT_METRICS_H
#define GT_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* A growable text buffer for the exposition. */
typedef struct gt_metrics_buf {
    char *p;
    size_t len, cap;
    int failed;   /* an allocation failed: the text is incomplete */
} gt_metrics_buf;

/* Appends printf-style text (bounded by the buffer growing; never more
 * than 16 MiB in all). */
void gt_metrics_printf(gt_metrics_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a Prometheus label value: \ " and newline escaped. */
void gt_metrics_label(gt_metrics_buf *b, const char *s);

/* Counters. Every name must be one of the families in metrics.c's table;
 * label values are copied. Thread-safe; cost: one short mutex hold. */
void gt_metrics_call(const char *service, const char *operation, int http_status);
void gt_metrics_sigv4_failure(const char *reason);   /* the AWS error code answered */
void gt_metrics_audit_failure(const char *service, const char *operation);
void gt_metrics_delivery_error(const char *what);     /* "log", "digest" */

/* Appends every counter family (HELP, TYPE, samples) to b. */
void gt_metrics_render_counters(gt_metrics_buf *b);

/* Drops every counter (unit tests). */
void gt_metrics_reset(void);

#endif
