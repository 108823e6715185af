/* transform.h: CloudTrail record -> EventBridge envelope (cloudtrail.md
 * §8.1, §8.2), and what a target receives (Input, InputPath,
 * InputTransformer). Pure functions: no store, no I/O. */
#ifndef GT_EVENTS_TRANSFORM_H
#define GT_EVENTS_TRANSFORM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define EV_MAX_EVENT_BYTES (256 * 1024)   /* larger events are not sent */

/* Is this CloudTrail record sent to EventBridge at all? Read-only calls
 * are sent only when include_read_only (a rule in state
 * ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS); STS GetFederationToken
 * and GetSessionToken always are. EventBridge's own PutEvents records are
 * never sent as API-call events (their entries are the custom events). */
bool ev_record_eligible(const json_t *rec, bool include_read_only);

/* The envelope for a record: version "0", a stable id derived from the
 * record's eventID (so a redelivery carries the same id), detail-type by
 * eventType, source "aws.<service prefix>", account, time, region,
 * resources [], detail = the record. New reference, NULL on bad input. */
json_t *ev_envelope_from_record(const json_t *rec);

/* Validate an InputPath ("$", "$.a.b", "$.a[0]", "$['a b']"). */
bool ev_input_path_valid(const char *path);
/* The value at path in event (borrowed), or NULL when absent. */
const json_t *ev_input_path_get(const json_t *event, const char *path);

/* What a target with this spec (the stored Target object) receives for
 * `event`: Input verbatim, InputPath's value, InputTransformer's rendered
 * template, or the whole event. malloc'd text (caller frees), NULL on
 * allocation failure. */
char *ev_target_body(const json_t *target, const json_t *event, const char *rule_arn,
                     const char *rule_name);

#endif
