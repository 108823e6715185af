/* ct_lookup.h: the CloudTrail service's handlers (LookupEvents for now). */
#ifndef GT_CT_LOOKUP_H
#define GT_CT_LOOKUP_H

#include "api/call.h"

/* Handler for a CloudTrail operation, or NULL when not implemented. */
gt_handler ct_handler_for(const char *op);

/* The LookupEvents entry of a CloudTrail record (its EventId, EventName,
 * ReadOnly, AccessKeyId, EventTime from time_ms, EventSource, Username,
 * Resources; not the CloudTrailEvent itself) as compact JSON, to store
 * beside the record (store_event.summary). malloc'd (caller frees); NULL
 * when out of memory. */
char *ct_lookup_summary(const json_t *rec, int64_t time_ms);

#endif
