/* ct_trail.h: CloudTrail trails (cloudtrail.md §2.4, §2.5, §6, §7).
 *
 * A trail is a store document (account, home region, CT_KIND_TRAIL, name)
 * with AWS's Trail members plus private "_"-prefixed fields; a reference
 * (CT_REF_ACCOUNT, CT_REF_REGION, CT_KIND_TRAIL_REF, "acct/region/name")
 * lets the delivery worker and account-wide listings find every trail. */
#ifndef GT_CT_TRAIL_H
#define GT_CT_TRAIL_H

#include <jansson.h>
#include <stdbool.h>

#include "api/call.h"

#define CT_KIND_TRAIL "ct_trail"
#define CT_KIND_TRAIL_REF "ct_trail_ref"
#define CT_KIND_TRAIL_STATE "ct_trail_state"   /* written by the delivery worker only */
#define CT_KIND_TRAIL_TOMB "ct_trail_tomb"     /* (REF_ACCOUNT, REF_REGION, uid): a deleted trail to finish */
#define CT_REF_ACCOUNT ""
#define CT_REF_REGION ""

/* Handler for a trail operation, or NULL when op is not one of them. */
gt_handler ct_trail_handler_for(const char *op);

/* Does `trail` (the stored document) log `record` (a CloudTrail record
 * whose event happened in event_region)? Applies account, region
 * (single/multi-region), global service events and the basic or advanced
 * event selectors. */
bool ct_trail_selects(const json_t *trail, const json_t *record, const char *event_region);

/* Does the bucket policy (JSON text) let cloudtrail.amazonaws.com
 * s3:PutObject to `[prefix/]AWSLogs/<account>/` of `bucket` for the trail
 * `trail_arn` (cloudtrail.md §2.5)? A matching Deny wins. */
bool ct_trail_policy_allows(const char *policy, const char *bucket, const char *prefix,
                            const char *account, const char *trail_arn);

/* The cloudtrail service's prepare hook (HTTP thread, before the store
 * job): for CreateTrail/UpdateTrail naming a bucket on the external S3
 * (s3/s3_target.h), HEAD it and leave {"bucket", "status", "msg"} in
 * c->pre for the handler's bucket check. */
void ct_trail_prepare(gt_call *c);

/* Trail-name rules of CreateTrail; NULL when valid, else the message. */
const char *ct_trail_name_problem(const char *name);

#endif
