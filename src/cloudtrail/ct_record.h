/* ct_record.h: build the CloudTrail record of one finished API call. */
#ifndef GT_CT_RECORD_H
#define GT_CT_RECORD_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "api/call.h"

#define CT_EVENT_VERSION "1.08"
#define CT_MAX_SHORT_FIELD 1024          /* userAgent, errorCode, errorMessage, requestID */
#define CT_MAX_PARAMS_BYTES (100 * 1024) /* requestParameters / responseElements */

/* How a service shapes the variable parts of its records. */
typedef struct ct_record_parts {
    json_t *request_parameters;   /* stolen; NULL -> JSON null */
    json_t *response_elements;    /* stolen; NULL -> JSON null */
    bool with_error_message;      /* emit errorMessage on failures */
    const char *shared_event_id;  /* cross-account events (STS AssumeRole): sharedEventID, or NULL */
} ct_record_parts;

/* The record as a new JSON object, fields in AWS's usual order.
 * Never NULL unless out of memory. */
json_t *ct_record_build(const gt_call *c, ct_record_parts *parts, const char *event_id,
                        int64_t time_ms);

/* A copy of `input` (object keyed by member names) with each member named
 * in `masked` (NULL-terminated) replaced by the string "***". Empty input
 * gives NULL (CloudTrail's null requestParameters). New reference. */
json_t *ct_redact(const json_t *input, const char *const *masked);

/* The userIdentity object for a principal. New reference. */
json_t *ct_user_identity(const auth_principal *p);

/* The LookupEvents "Username" of a principal ("root" for Root). */
const char *ct_username(const auth_principal *p);

#endif
