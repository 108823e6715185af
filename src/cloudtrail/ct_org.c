/*
 * ct_org.c: organization trails (cloudtrail.md §2.2, §2.5, §3.1).
 *
 * What: the rules for an organization trail, kept out of ct_trail.c and
 * ct_deliver.c so those only call in at a few points:
 *  - making one (CreateTrail/UpdateTrail with IsOrganizationTrail=true):
 *    the caller's account must be in an organization
 *    (OrganizationsNotInUseException), be its management account
 *    (NotOrganizationMasterAccountException), the organization must have
 *    all features (OrganizationNotInAllFeaturesModeException) and trusted
 *    access for cloudtrail.amazonaws.com (CloudTrailAccessNotEnabledException),
 *    and the bucket policy must let CloudTrail write under
 *    [prefix/]AWSLogs/<o-id>/ as well (InsufficientS3BucketPolicyException);
 *  - what members see: the management account's organization trails of
 *    their organization (DescribeTrails, GetTrail and GetTrailStatus by ARN);
 *  - what one delivers: the events of every account of the organization
 *    at delivery time (the management account included), each account's
 *    files and digests under [prefix/]AWSLogs/<o-id>/<account>/ with one
 *    digest chain per account and region.
 *
 * The trail document keeps IsOrganizationTrail and the private "_org_id"
 * (the organization it was made in). Membership is read at delivery time
 * (org/org.h): an account that joins is covered from the next delivery
 * round on (events it recorded before joining and not yet past the
 * trail's cursor included; AWS does not say what it does there), an
 * account that leaves stops being covered. The records themselves are the
 * member's own (recipientAccountId stays the member's, §1.2).
 */
#include "cloudtrail/ct_org.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/policy.h"
#include "org/org.h"
#include "s3/s3_store.h"
#include "util/gtutil.h"

static const char *ct_org_jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* Does the bucket policy let CloudTrail PutObject under
 * [prefix/]AWSLogs/<o-id>/<account>/ (both folders)? */
static bool ct_org_policy_allows(const char *policy, const char *bucket, const char *prefix, const char *org_id,
                                 const char *account, const char *trail_arn)
{
    json_t *p = policy ? json_loads(policy, 0, NULL) : NULL;
    json_t *extra = json_pack("{s:s, s:s, s:s}", "aws:sourcearn", trail_arn, "aws:sourceaccount", account,
                              "s3:x-amz-acl", "bucket-owner-full-control");
    auth_req_ctx r = {.action = "s3:PutObject", .now_ms = gt_now_ms(), .extra = extra};
    bool ok = p && extra;
    const char *folders[] = {"CloudTrail", "CloudTrail-Digest"};
    for (size_t f = 0; f < 2 && ok; f++) {
        char res[1024];
        snprintf(res, sizeof res, "arn:aws:s3:::%s/%s%sAWSLogs/%s/%s/%s/x", bucket, prefix ? prefix : "",
                 prefix && *prefix ? "/" : "", org_id, account, folders[f]);
        r.resource = res;
        ok = auth_resource_policy_eval(p, &r, NULL, NULL, "cloudtrail.amazonaws.com") == AUTH_ALLOW;
    }
    json_decref(extra);
    json_decref(p);
    return ok;
}

gt_err ct_org_check_trail(gt_call *c, store_txn *t, const char *bucket, const char *prefix,
                          const char *trail_arn, char org_id[16])
{
    org_info oi;
    if (!org_lookup(t, c->account, &oi))
        return gt_call_fail(c, GT_E_CT_ORG_NOT_IN_USE,
                            "This account is not a member of an organization. Create an organization in AWS "
                            "Organizations before creating an organization trail.");
    if (strcmp(oi.mgmt, c->account) != 0)
        return gt_call_fail(c, GT_E_CT_NOT_ORG_MASTER,
                            "The request was made from account %s, which is not the management account of "
                            "organization %s.", c->account, oi.id);
    if (!oi.all_features)
        return gt_call_fail(c, GT_E_CT_ORG_NOT_ALL_FEATURES,
                            "All features must be enabled in organization %s to create an organization trail.", oi.id);
    if (!oi.ct_access)
        return gt_call_fail(c, GT_E_CT_ORG_ACCESS_NOT_ENABLED,
                            "CloudTrail trusted access is not enabled for organization %s. Enable it with AWS "
                            "Organizations EnableAWSServiceAccess for %s.", oi.id, ORG_CT_PRINCIPAL);
    if (c->srv->s3 && bucket && s3_bucket_exists(c->srv->s3, bucket, NULL, NULL)) {
        char *policy = s3_bucket_policy(c->srv->s3, bucket);
        bool ok = ct_org_policy_allows(policy, bucket, prefix, oi.id, c->account, trail_arn);
        free(policy);
        if (!ok)
            return gt_call_fail(c, GT_E_CT_S3_POLICY, "Incorrect S3 bucket policy is detected for bucket: %s", bucket);
    }
    gt_strlcpy(org_id, oi.id, 16);
    return GT_OK;
}

bool ct_org_of(store_txn *t, const char *account, char org_id[16], char mgmt[16])
{
    org_info oi;
    if (!org_lookup(t, account, &oi))
        return false;
    gt_strlcpy(org_id, oi.id, 16);
    gt_strlcpy(mgmt, oi.mgmt, 16);
    return true;
}

bool ct_org_trail_visible(const json_t *trail, const char *org_id, const char *mgmt)
{
    const char *oid = ct_org_jstr(trail, "_org_id"), *acct = ct_org_jstr(trail, "_account");
    return json_is_true(json_object_get(trail, "IsOrganizationTrail")) && oid && acct && strcmp(oid, org_id) == 0 &&
           strcmp(acct, mgmt) == 0;
}

typedef struct ct_org_accts_job {
    const char *org_id;
    json_t *out;
} ct_org_accts_job;

static gt_err ct_org_accts_read(store_txn *t, void *ud)
{
    ct_org_accts_job *j = ud;
    j->out = org_accounts(t, j->org_id);
    return j->out ? GT_OK : GT_E_UNAVAILABLE;
}

json_t *ct_org_trail_accounts(store *st, const json_t *trail, bool *err)
{
    *err = false;
    const char *oid = ct_org_jstr(trail, "_org_id"), *own = ct_org_jstr(trail, "_account");
    if (!json_is_true(json_object_get(trail, "IsOrganizationTrail")) || !oid || !own)
        return NULL;
    ct_org_accts_job j = {oid, NULL};
    if (store_read(st, ct_org_accts_read, &j) != GT_OK) {
        *err = true;
        return NULL;
    }
    /* the trail's own account first (its home chain), then the others */
    json_t *out = json_pack("[s]", own);
    size_t i;
    json_t *v;
    json_array_foreach(j.out, i, v) {
        const char *a = json_string_value(v);
        if (a && strcmp(a, own) != 0)
            json_array_append(out, v);
    }
    json_decref(j.out);
    return out;
}

void ct_org_logs_root(const json_t *trail, const char *account, char *out, size_t cap)
{
    const char *p = ct_org_jstr(trail, "S3KeyPrefix");
    const char *oid = ct_org_jstr(trail, "_org_id");
    bool org = json_is_true(json_object_get(trail, "IsOrganizationTrail")) && oid;
    snprintf(out, cap, "%s%sAWSLogs/%s%s%s", p && *p ? p : "", p && *p ? "/" : "", org ? oid : "", org ? "/" : "",
             account);
}
