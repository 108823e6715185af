/* events.h: Amazon EventBridge (events 2015-10-07, awsJson1_1) on the
 * default event bus: the API (ev_api.c) and the delivery worker that feeds
 * rule targets from the CloudTrail journal (ev_worker.c).
 *
 * Storage (documents, see store.h):
 *   (acct, region, "ev.rule",    <rule name>)              the rule
 *   (acct, region, "ev.target",  <rule>/<target id>)        a target, parent = rule
 *   (acct, region, "ev.conn",    <connection name>)         a connection (with its secret)
 *   (acct, region, "ev.apidest", <api destination name>)    an API destination
 *   ("", "", "ev.tstate", <acct>/<region>/<rule>/<id>)      a target's delivery cursor
 *   ("", "", "ev.custom", <acct>/<region>/<event id>)       a PutEvents entry's envelope
 *   ("", "", "ev.dlq",    <uuid>)                           a dead-lettered delivery
 * The global ("" account) kinds let the worker see every account's targets
 * in one listing.
 */
#ifndef GT_EVENTS_H
#define GT_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define EV_KIND_RULE "ev.rule"
#define EV_KIND_TARGET "ev.target"
#define EV_KIND_CONN "ev.conn"
#define EV_KIND_APIDEST "ev.apidest"
#define EV_KIND_TSTATE "ev.tstate"
#define EV_KIND_CUSTOM "ev.custom"
#define EV_KIND_DLQ "ev.dlq"

/* Operator file sink: "arn:aws:greentrail:::file/<relative path>". */
#define EV_FILE_ARN_PREFIX "arn:aws:greentrail:::file/"
#define EV_MAX_TARGETS_PER_RULE 5

/* Is `arn` a file-sink ARN with a safe relative path (segments of
 * [A-Za-z0-9._-], no "." or ".." segment, no leading '/', <= 255 bytes)?
 * On true, *rel points into arn at the path. */
bool ev_file_target(const char *arn, const char **rel);

typedef struct ev_worker ev_worker;

typedef struct ev_worker_opts {
    store *st;
    long interval_ms;        /* poll period of the journal */
    long retry_max_ms;       /* cap of the exponential back-off */
    const char *file_dir;    /* root of file-sink targets */
    long retention_days;     /* custom events older than this are dropped */
} ev_worker_opts;

/* Start the delivery thread. NULL (with a reason in err) on failure. */
ev_worker *ev_worker_start(const ev_worker_opts *o, char *err, size_t errcap);
/* Stop it (finishes the delivery in progress) and free. NULL is a no-op. */
void ev_worker_stop(ev_worker *w);

/* `greentrail rules-status [serve options]`: print every target's delivery
 * state and every dead letter as JSON (ev_status.c). Returns the exit code. */
int ev_cmd_status(int argc, char **argv);

#endif
