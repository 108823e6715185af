/* ct_org.h: organization trails (cloudtrail.md §2.2, §2.5, §3.1): the
 * checks for making one, what members see, which accounts one delivers
 * for and where their files go. */
#ifndef GT_CT_ORG_H
#define GT_CT_ORG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "api/call.h"
#include "store/store.h"

/* CreateTrail / UpdateTrail with IsOrganizationTrail=true: the caller's
 * account must be the management account of an organization with all
 * features and CloudTrail trusted access, and the bucket policy must also
 * let CloudTrail write under [prefix/]AWSLogs/<o-id>/. On success the
 * organization id is in org_id; else the call's error is set (AWS's
 * exception types) and returned. */
gt_err ct_org_check_trail(gt_call *c, store_txn *t, const char *bucket, const char *prefix,
                          const char *trail_arn, char org_id[16]);

/* The organization of `account`, for showing its organization trails:
 * true with org_id and mgmt (the management account) filled; false when
 * the account is in no organization. */
bool ct_org_of(store_txn *t, const char *account, char org_id[16], char mgmt[16]);

/* Is `trail` (a stored trail document) an organization trail that
 * `account`, a member of organization org_id managed by mgmt, sees? */
bool ct_org_trail_visible(const json_t *trail, const char *org_id, const char *mgmt);

/* The accounts an organization trail delivers for, as a new JSON array of
 * account ids (the trail's own account first, then the organization's
 * other accounts now); NULL for a trail that is not an organization trail
 * (or on a store error, then with *err set). Reads through store_read. */
json_t *ct_org_trail_accounts(store *st, const json_t *trail, bool *err);

/* "[prefix/]AWSLogs/[<o-id>/]<account>" for `trail`'s objects of
 * `account` (the o-id level only for organization trails). */
void ct_org_logs_root(const json_t *trail, const char *account, char *out, size_t cap);

#endif
