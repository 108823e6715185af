/*
 * ct_trail.c: the CloudTrail trail API (cloudtrail.md §2.4, §2.5, §6, §7).
 *
 * What: CreateTrail, UpdateTrail, DeleteTrail, GetTrail, DescribeTrails,
 * ListTrails, StartLogging, StopLogging, GetTrailStatus, Put/Get
 * EventSelectors (basic and advanced), Put/GetInsightSelectors, AddTags,
 * RemoveTags, ListTags, with AWS's validation and exception types; plus the
 * two predicates the delivery worker needs (does a trail select a record;
 * does a bucket policy let CloudTrail write).
 *
 * Storage: a trail is the document (account, home region, "ct_trail",
 * name) holding AWS's Trail members in AWS's order, then private "_"
 * members (uid, logging state, the journal seqs where logging started and
 * stopped, the validation generation, selectors, tags). A reference
 * document ("", "", "ct_trail_ref", "acct/region/name") lets the delivery
 * worker and account-wide listings enumerate trails without knowing every
 * region. Both are written in the handler's transaction, so they never
 * disagree. The worker's own state (cursor, delivery times and errors,
 * digest chains) is a separate document it alone writes; GetTrailStatus
 * reads it.
 *
 * Invariants:
 *  - Mutating operations (Update, Delete, Start/Stop, Put*Selectors) run
 *    only in the trail's home region (InvalidHomeRegionException).
 *  - A name (not an ARN) matches only a trail whose home is the call's
 *    region; ARNs reach any trail of the caller's account.
 *  - _start_seq is the journal's last seq when logging started: delivery
 *    sends events after it. _stop_seq is the seq of the StopLogging record
 *    itself (the dispatcher appends it right after the handler in the same
 *    job; store_event_next_seq, as seqs are not dense on PostgreSQL), so
 *    the stop call is delivered too.
 *  - _vgen changes whenever a new digest chain must start (StartLogging,
 *    validation switched on), cloudtrail.md §3.2 "Chain start".
 */
#include "cloudtrail/ct_trail.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/policy.h"
#include "cloudtrail/ct_digest.h"
#include "cloudtrail/ct_org.h"
#include "s3/s3_store.h"
#include "s3/s3_target.h"
#include "sns/sns.h"
#include "util/gtutil.h"

#define CT_MAX_TRAILS_PER_REGION 5
#define CT_MAX_TAGS 50
#define CT_TRAIL_RTYPE "AWS::CloudTrail::Trail"

/* ---------------------------------------------------------------- names */

static bool ct_is_alnum(char ch)
{
    return isalnum((unsigned char)ch) != 0;
}

static bool ct_ip_shaped(const char *s)
{
    int dots = 0, digits = 0;
    for (const char *p = s; *p; p++) {
        if (*p == '.') {
            if (digits == 0)
                return false;
            dots++;
            digits = 0;
        } else if (isdigit((unsigned char)*p)) {
            digits++;
        } else {
            return false;
        }
    }
    return dots == 3 && digits > 0;
}

const char *ct_trail_name_problem(const char *name)
{
    size_t n = strlen(name);
    if (n < 3)
        return "Trail name too short. Minimum allowed length: 3 characters.";
    if (n > 128)
        return "Trail name too long. Maximum allowed length: 128 characters.";
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        if (!ct_is_alnum(ch) && ch != '.' && ch != '_' && ch != '-')
            return "Trail name or ARN can only contain uppercase letters, lowercase letters, numbers, "
                   "periods (.), hyphens (-), and underscores (_).";
        if (i > 0 && !ct_is_alnum(ch) && !ct_is_alnum(name[i - 1]))
            return "Trail name cannot contain adjacent periods (.), hyphens (-), or underscores (_).";
    }
    if (!ct_is_alnum(name[0]))
        return "Trail name must start with a letter or number.";
    if (!ct_is_alnum(name[n - 1]))
        return "Trail name must end with a letter or number.";
    if (ct_ip_shaped(name))
        return "Trail name cannot be formatted as an IP address.";
    return NULL;
}

static bool ct_bucket_name_ok(const char *b)
{
    size_t n = strlen(b);
    if (n < 3 || n > 63 || !ct_is_alnum(b[0]) || !ct_is_alnum(b[n - 1]) || ct_ip_shaped(b))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)b[i]) || isdigit((unsigned char)b[i]) || b[i] == '.' || b[i] == '-'))
            return false;
    return true;
}

/* "arn:aws:cloudtrail:REGION:ACCT:trail/NAME" -> parts. */
static bool ct_parse_trail_arn(const char *arn, char region[32], char account[16], char name[129])
{
    static const char pre[] = "arn:aws:cloudtrail:";
    if (strncmp(arn, pre, sizeof pre - 1) != 0)
        return false;
    const char *r = arn + sizeof pre - 1;
    const char *c1 = strchr(r, ':');
    if (!c1 || c1 == r || (size_t)(c1 - r) >= 32)
        return false;
    const char *a = c1 + 1;
    const char *c2 = strchr(a, ':');
    if (!c2 || c2 - a != 12 || strncmp(c2 + 1, "trail/", 6) != 0)
        return false;
    const char *nm = c2 + 7;
    if (strlen(nm) == 0 || strlen(nm) > 128)
        return false;
    memcpy(region, r, (size_t)(c1 - r));
    region[c1 - r] = '\0';
    memcpy(account, a, 12);
    account[12] = '\0';
    gt_strlcpy(name, nm, 129);
    return true;
}

static void ct_trail_arn(char *out, size_t cap, const char *region, const char *account, const char *name)
{
    snprintf(out, cap, "arn:aws:cloudtrail:%s:%s:trail/%s", region, account, name);
}

/* ---------------------------------------------------------------- storage */

static json_t *ct_load(store_txn *t, const char *account, const char *region, const char *name)
{
    store_key k = {account, region, CT_KIND_TRAIL, name};
    char *body = NULL;
    if (store_doc_get(t, &k, &body) != STORE_OK)
        return NULL;
    json_t *j = json_loads(body, 0, NULL);
    free(body);
    return j;
}

static gt_err ct_save(store_txn *t, json_t *trail)
{
    const char *account = json_string_value(json_object_get(trail, "_account"));
    const char *region = json_string_value(json_object_get(trail, "HomeRegion"));
    const char *name = json_string_value(json_object_get(trail, "Name"));
    char *text = json_dumps(trail, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!text)
        return GT_E_NOMEM;
    store_key k = {account, region, CT_KIND_TRAIL, name};
    int rc = store_doc_put(t, &k, NULL, text);
    free(text);
    if (rc != STORE_OK)
        return GT_E_UNAVAILABLE;
    char id[256];
    snprintf(id, sizeof id, "%s/%s/%s", account, region, name);
    json_t *ref = json_pack("{s:s, s:s, s:s}", "account", account, "region", region, "name", name);
    text = ref ? json_dumps(ref, JSON_COMPACT) : NULL;
    json_decref(ref);
    if (!text)
        return GT_E_NOMEM;
    store_key rk = {CT_REF_ACCOUNT, CT_REF_REGION, CT_KIND_TRAIL_REF, id};
    rc = store_doc_put(t, &rk, NULL, text);
    free(text);
    return rc == STORE_OK ? GT_OK : GT_E_UNAVAILABLE;
}

typedef struct ct_list_ctx {
    store_txn *t;
    const char *account;
    json_t *out;       /* array of trail docs */
    const char *org_id, *mgmt;   /* also the organization trails a member sees (ct_org.c), or NULL */
} ct_list_ctx;

static int ct_list_cb(void *ud, int64_t seq, const char *id, const char *body)
{
    ct_list_ctx *l = ud;
    json_t *ref = json_loads(body, 0, NULL);
    const char *a = json_string_value(json_object_get(ref, "account"));
    if (a && strcmp(a, l->account) == 0) {
        json_t *tr = ct_load(l->t, a, json_string_value(json_object_get(ref, "region")),
                             json_string_value(json_object_get(ref, "name")));
        if (tr)
            json_array_append_new(l->out, tr);
    } else if (a && l->mgmt && strcmp(a, l->mgmt) == 0) {
        json_t *tr = ct_load(l->t, a, json_string_value(json_object_get(ref, "region")),
                             json_string_value(json_object_get(ref, "name")));
        if (tr && ct_org_trail_visible(tr, l->org_id, l->mgmt))
            json_array_append_new(l->out, tr);
        else
            json_decref(tr);
    }
    json_decref(ref);
    return 0;
}

/* Every trail of the account (all home regions), in creation order; with
 * org, also its organization's organization trails when the account is a
 * member (AWS shows them to members, read-only). */
static json_t *ct_account_trails(store_txn *t, const char *account, bool org)
{
    char org_id[16], mgmt[16];
    bool member = org && ct_org_of(t, account, org_id, mgmt) && strcmp(mgmt, account) != 0;
    ct_list_ctx l = {t, account, json_array(), member ? org_id : NULL, member ? mgmt : NULL};
    if (!l.out)
        return NULL;
    if (store_doc_list(t, CT_REF_ACCOUNT, CT_REF_REGION, CT_KIND_TRAIL_REF, NULL, 0, false, 0, ct_list_cb, &l) !=
        STORE_OK) {
        json_decref(l.out);
        return NULL;
    }
    return l.out;
}

static bool ct_jbool(const json_t *o, const char *k)
{
    return json_is_true(json_object_get(o, k));
}

static const char *ct_jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* Trails visible in `region`: home there, or multi-region (shadow). */
static bool ct_visible_in(const json_t *tr, const char *region)
{
    return strcmp(ct_jstr(tr, "HomeRegion"), region) == 0 || ct_jbool(tr, "IsMultiRegionTrail");
}

/* An ARN of another account: an organization trail of the caller's
 * organization is visible to members (read-only operations); changing it
 * is the management account's (NotOrganizationMasterAccountException). */
static gt_err ct_resolve_org(gt_call *c, store_txn *t, const char *arn, const char *region, const char *account,
                             const char *name, json_t **out)
{
    char org_id[16], mgmt[16];
    json_t *tr = NULL;
    if (ct_org_of(t, c->account, org_id, mgmt) && strcmp(mgmt, account) == 0) {
        tr = ct_load(t, account, region, name);
        if (tr && !ct_org_trail_visible(tr, org_id, mgmt)) {
            json_decref(tr);
            tr = NULL;
        }
    }
    if (!tr)
        return gt_call_fail(c, GT_E_CT_TRAIL_NOT_FOUND, "Unknown trail: %s for the user: %s", arn, c->account);
    gt_call_add_resource(c, CT_TRAIL_RTYPE, ct_jstr(tr, "TrailARN"));
    if (!c->op->read_only) {
        json_decref(tr);
        return gt_call_fail(c, GT_E_CT_NOT_ORG_MASTER,
                            "The trail %s is an organization trail; only the organization's management account "
                            "%s can change it.", arn, mgmt);
    }
    *out = tr;
    return GT_OK;
}

/* Resolve a Name / TrailName member (a name or an ARN) to the trail. */
static gt_err ct_resolve(gt_call *c, store_txn *t, const char *member, json_t **out)
{
    *out = NULL;
    const char *v = gt_in_str(c, member);
    if (!v || !*v)
        return gt_call_fail(c, GT_E_CT_INVALID_TRAIL_NAME, "Trail name or ARN must be specified.");
    char region[32], account[16], name[129];
    if (strncmp(v, "arn:", 4) == 0) {
        if (!ct_parse_trail_arn(v, region, account, name))
            return gt_call_fail(c, GT_E_CT_ARN_INVALID,
                                "%s is not a valid trail ARN. The ARN should be of the form "
                                "arn:aws:cloudtrail:region:account-id:trail/trail-name.", v);
        if (strcmp(account, c->account) != 0)
            return ct_resolve_org(c, t, v, region, account, name, out);
    } else {
        const char *why = ct_trail_name_problem(v);
        if (why)
            return gt_call_fail(c, GT_E_CT_INVALID_TRAIL_NAME, "%s", why);
        gt_strlcpy(region, c->region, sizeof region);
        gt_strlcpy(name, v, sizeof name);
    }
    json_t *tr = ct_load(t, c->account, region, name);
    if (!tr) {
        char arn[256];
        ct_trail_arn(arn, sizeof arn, region, c->account, name);
        return gt_call_fail(c, GT_E_CT_TRAIL_NOT_FOUND, "Unknown trail: %s for the user: %s", arn, c->account);
    }
    *out = tr;
    gt_call_add_resource(c, CT_TRAIL_RTYPE, ct_jstr(tr, "TrailARN"));
    return GT_OK;
}

static gt_err ct_home_only(gt_call *c, const json_t *tr)
{
    const char *home = ct_jstr(tr, "HomeRegion");
    if (strcmp(home, c->region) != 0)
        return gt_call_fail(c, GT_E_CT_HOME_REGION,
                            "This operation must be called from the trail's home region, %s.", home);
    return GT_OK;
}

/* The public Trail object: every non-"_" member, as stored (AWS order). */
static json_t *ct_public(const json_t *tr)
{
    json_t *o = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)tr, k, v) {
        if (k[0] != '_')
            json_object_set(o, k, v);
    }
    return o;
}

/* CreateTrail / UpdateTrail output: the settings without HomeRegion and
 * the Has* flags (cloudtrail.md §6.3). */
static json_t *ct_settings_out(const json_t *tr)
{
    json_t *o = ct_public(tr);
    json_object_del(o, "HomeRegion");
    json_object_del(o, "HasCustomEventSelectors");
    json_object_del(o, "HasInsightSelectors");
    return o;
}

/* ---------------------------------------------------------------- bucket policy */

bool ct_trail_policy_allows(const char *policy, const char *bucket, const char *prefix,
                            const char *account, const char *trail_arn)
{
    json_t *p = policy ? json_loads(policy, 0, NULL) : NULL;
    if (!p)
        return false;
    /* CloudTrail's PutObject as the service principal, evaluated by the
     * same evaluator S3 uses for every bucket-policy decision (auth/policy.c):
     * its condition keys are the trail (aws:SourceArn), the trail's
     * account (aws:SourceAccount) and the ACL it sends. */
    json_t *extra = json_pack("{s:s, s:s, s:s}", "aws:sourcearn", trail_arn ? trail_arn : "", "aws:sourceaccount",
                              account, "s3:x-amz-acl", "bucket-owner-full-control");
    auth_req_ctx r = {.action = "s3:PutObject", .now_ms = gt_now_ms(), .extra = extra};
    bool ok = extra != NULL;
    /* both folders CloudTrail writes must be allowed */
    const char *folders[] = {"CloudTrail", "CloudTrail-Digest"};
    for (size_t f = 0; f < 2 && ok; f++) {
        char res[1024];
        snprintf(res, sizeof res, "arn:aws:s3:::%s/%s%sAWSLogs/%s/%s/x", bucket, prefix ? prefix : "",
                 prefix && *prefix ? "/" : "", account, folders[f]);
        r.resource = res;
        ok = auth_resource_policy_eval(p, &r, NULL, NULL, "cloudtrail.amazonaws.com") == AUTH_ALLOW;
    }
    json_decref(extra);
    json_decref(p);
    return ok;
}

/* ---------------------------------------------------------------- selectors */

static bool ct_str_in(const json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        if (json_is_string(v) && s && strcmp(json_string_value(v), s) == 0)
            return true;
    }
    return false;
}

static bool ct_basic_matches(const json_t *sel, const json_t *rec, bool management)
{
    const char *rw = ct_jstr(sel, "ReadWriteType");
    bool ro = json_is_true(json_object_get(rec, "readOnly"));
    if (rw && ((strcmp(rw, "ReadOnly") == 0 && !ro) || (strcmp(rw, "WriteOnly") == 0 && ro)))
        return false;
    if (management) {
        json_t *inc = json_object_get(sel, "IncludeManagementEvents");
        if (inc && !json_is_true(inc))
            return false;
        return !ct_str_in(json_object_get(sel, "ExcludeManagementEventSources"), ct_jstr(rec, "eventSource"));
    }
    /* data events: a DataResources prefix over the record's resources */
    size_t i, j, k;
    json_t *dr, *r, *v;
    json_array_foreach(json_object_get(sel, "DataResources"), i, dr) {
        const char *type = ct_jstr(dr, "Type");
        json_array_foreach(json_object_get(rec, "resources"), j, r) {
            const char *rt = ct_jstr(r, "type"), *arn = ct_jstr(r, "ARN");
            if (!type || !rt || !arn || strcmp(type, rt) != 0)
                continue;
            json_array_foreach(json_object_get(dr, "Values"), k, v) {
                const char *pfx = json_string_value(v);
                if (pfx && strncmp(arn, pfx, strlen(pfx)) == 0)
                    return true;
            }
        }
    }
    return false;
}

/* The values of an advanced-selector field in a record. */
static size_t ct_field_values(const json_t *rec, const char *field, const char **out, size_t cap)
{
    size_t n = 0;
    if (strcmp(field, "readOnly") == 0) {
        out[n++] = json_is_true(json_object_get(rec, "readOnly")) ? "true" : "false";
        return n;
    }
    if (strcmp(field, "resources.type") == 0 || strcmp(field, "resources.ARN") == 0) {
        const char *m = field[10] == 't' ? "type" : "ARN";
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(rec, "resources"), i, r) {
            if (n < cap && ct_jstr(r, m))
                out[n++] = ct_jstr(r, m);
        }
        return n;
    }
    if (strcmp(field, "userIdentity.arn") == 0) {
        const char *s = ct_jstr(json_object_get(rec, "userIdentity"), "arn");
        if (s)
            out[n++] = s;
        return n;
    }
    const char *s = ct_jstr(rec, field);
    if (s)
        out[n++] = s;
    return n;
}

static bool ct_field_matches(const json_t *fs, const json_t *rec)
{
    const char *field = ct_jstr(fs, "Field");
    if (!field)
        return false;
    const char *vals[32];
    size_t n = ct_field_values(rec, field, vals, 32);
    static const char *const ops[] = {"Equals", "StartsWith", "EndsWith", "NotEquals", "NotStartsWith", "NotEndsWith"};
    for (size_t o = 0; o < 6; o++) {
        json_t *list = json_object_get(fs, ops[o]);
        if (!list)
            continue;
        bool negative = o >= 3;
        bool any = false;
        size_t i;
        json_t *pv;
        json_array_foreach(list, i, pv) {
            const char *p = json_string_value(pv);
            size_t pl = p ? strlen(p) : 0;
            for (size_t k = 0; p && k < n && !any; k++) {
                size_t vl = strlen(vals[k]);
                switch (o % 3) {
                case 0: any = strcmp(vals[k], p) == 0; break;
                case 1: any = strncmp(vals[k], p, pl) == 0; break;
                default: any = vl >= pl && strcmp(vals[k] + vl - pl, p) == 0; break;
                }
            }
        }
        if (negative ? any : !any)
            return false;
    }
    return true;
}

static bool ct_is_global_source(const char *src, const char *region)
{
    if (!src)
        return false;
    return strcmp(src, "iam.amazonaws.com") == 0 || strcmp(src, "signin.amazonaws.com") == 0 ||
           strcmp(src, "cloudfront.amazonaws.com") == 0 || strcmp(src, "organizations.amazonaws.com") == 0 ||
           (strcmp(src, "sts.amazonaws.com") == 0 && strcmp(region, "us-east-1") == 0);
}

bool ct_trail_selects(const json_t *trail, const json_t *rec, const char *event_region)
{
    const char *acct = ct_jstr(trail, "_account");
    const char *rcpt = ct_jstr(rec, "recipientAccountId");
    /* an organization trail takes every account of its organization: the
     * delivery worker picks the accounts (ct_org_trail_accounts) */
    if (!acct || !rcpt || (strcmp(acct, rcpt) != 0 && !ct_jbool(trail, "IsOrganizationTrail")))
        return false;
    if (!ct_jbool(trail, "IsMultiRegionTrail") && strcmp(ct_jstr(trail, "HomeRegion"), event_region) != 0)
        return false;
    if (!ct_jbool(trail, "IncludeGlobalServiceEvents") && ct_is_global_source(ct_jstr(rec, "eventSource"), event_region))
        return false;
    const char *cat = ct_jstr(rec, "eventCategory");
    if (!cat)
        cat = "Management";
    if (strcmp(cat, "Insight") == 0)
        return false;   /* Insights go to their own folder, never to log files */
    json_t *aes = json_object_get(trail, "_aes");
    if (json_is_array(aes)) {
        size_t i, j;
        json_t *sel, *fs;
        json_array_foreach(aes, i, sel) {
            bool all = true;
            json_array_foreach(json_object_get(sel, "FieldSelectors"), j, fs) {
                if (!ct_field_matches(fs, rec)) {
                    all = false;
                    break;
                }
            }
            if (all)
                return true;
        }
        return false;
    }
    json_t *es = json_object_get(trail, "_es");
    if (!json_is_array(es))
        return strcmp(cat, "Management") == 0;   /* the default selector */
    size_t i;
    json_t *sel;
    json_array_foreach(es, i, sel) {
        if (ct_basic_matches(sel, rec, strcmp(cat, "Management") == 0))
            return true;
    }
    return false;
}

/* ---------------------------------------------------------------- handlers */

static const char *ct_in_str_nonempty(const gt_call *c, const char *m)
{
    const char *s = gt_in_str(c, m);
    return s && *s ? s : NULL;
}

/* ---------------------------------------------------------------- external S3 */

void ct_trail_prepare(gt_call *c)
{
    const char *op = c->op ? c->op->name : "";
    const char *bucket = gt_in_str(c, "S3BucketName");
    if ((strcmp(op, "CreateTrail") != 0 && strcmp(op, "UpdateTrail") != 0) || !bucket ||
        !ct_bucket_name_ok(bucket) || !s3_target_is_external(s3_target_default(), bucket))
        return;
    char msg[512] = "";
    int st = s3_target_check_bucket(s3_target_default(), bucket, msg, sizeof msg);
    c->pre = json_pack("{s:s, s:i, s:s}", "bucket", bucket, "status", st, "msg", msg);
}

/* A bucket on the external S3: only its existence can be checked (HEAD
 * bucket, made by ct_trail_prepare off the writer thread). A generic S3
 * has no CloudTrail service principal, so no bucket policy is checked:
 * whether our keys may write there shows at delivery (GetTrailStatus). A
 * 403 on HEAD means our keys cannot use the bucket: reported like AWS
 * reports a policy that keeps CloudTrail out. An endpoint that does not
 * answer fails the call rather than accept a bucket nobody could check
 * (S3BucketDoesNotExistException, saying why; AWS has no closer error).
 * An UpdateTrail that keeps its bucket (only the prefix changes) is not
 * checked again. */
static gt_err ct_check_external_bucket(gt_call *c, const char *bucket)
{
    const char *pb = json_string_value(json_object_get(c->pre, "bucket"));
    const char *named = gt_in_str(c, "S3BucketName");
    if (!pb || strcmp(pb, bucket) != 0) {
        if (named && strcmp(named, bucket) == 0)   /* named but not checked (no memory for the finding) */
            return gt_call_fail(c, GT_E_CT_S3_BUCKET_MISSING, "S3 bucket %s could not be checked on the external S3",
                                bucket);
        return GT_OK;   /* the trail's bucket, kept: checked when it was named */
    }
    int st = (int)json_integer_value(json_object_get(c->pre, "status"));
    const char *msg = json_string_value(json_object_get(c->pre, "msg"));
    if (st == S3_TARGET_BUCKET_OK)
        return GT_OK;
    if (st == S3_TARGET_BUCKET_MISSING)
        return gt_call_fail(c, GT_E_CT_S3_BUCKET_MISSING, "S3 bucket does not exist: %s", bucket);
    if (st == S3_TARGET_BUCKET_FORBIDDEN)
        return gt_call_fail(c, GT_E_CT_S3_POLICY, "Incorrect S3 bucket policy is detected for bucket: %s", bucket);
    return gt_call_fail(c, GT_E_CT_S3_BUCKET_MISSING, "S3 bucket %s could not be checked on the external S3 (%s)",
                        bucket, msg ? msg : "no answer");
}

/* Bucket checks shared by Create and Update (cloudtrail.md §2.5). */
static gt_err ct_check_bucket(gt_call *c, const char *bucket, const char *prefix, const char *trail_arn)
{
    if (!ct_bucket_name_ok(bucket))
        return gt_call_fail(c, GT_E_CT_S3_BUCKET_NAME, "Bucket name is not valid: %s", bucket);
    /* AWS caps the prefix at 200 characters (cloudtrail.md §2.2); a leading
     * or doubled '/' would make keys with empty path segments, which we
     * refuse as well (likely AWS behaviour, unverified). */
    if (prefix && (strlen(prefix) > 200 || prefix[0] == '/' || strstr(prefix, "//")))
        return gt_call_fail(c, GT_E_CT_S3_PREFIX, "Invalid S3 prefix: %s", prefix);
    if (s3_target_is_external(s3_target_default(), bucket))
        return ct_check_external_bucket(c, bucket);
    if (!c->srv->s3 || !s3_bucket_exists(c->srv->s3, bucket, NULL, NULL))
        return gt_call_fail(c, GT_E_CT_S3_BUCKET_MISSING, "S3 bucket does not exist: %s", bucket);
    char *policy = s3_bucket_policy(c->srv->s3, bucket);
    bool ok = ct_trail_policy_allows(policy, bucket, prefix, c->account, trail_arn);
    free(policy);
    if (!ok)
        return gt_call_fail(c, GT_E_CT_S3_POLICY, "Incorrect S3 bucket policy is detected for bucket: %s", bucket);
    return GT_OK;
}

static gt_err ct_check_unsupported(gt_call *c)
{
    const char *kms = ct_in_str_nonempty(c, "KmsKeyId");
    if (kms)
        return gt_call_fail(c, GT_E_CT_KMS_NOT_FOUND, "KMS key not found: %s (greentrail serves no KMS).", kms);
    if (ct_in_str_nonempty(c, "CloudWatchLogsLogGroupArn") || ct_in_str_nonempty(c, "CloudWatchLogsRoleArn"))
        return gt_call_fail(c, GT_E_CT_CWL_UNAVAILABLE, "greentrail does not deliver to CloudWatch Logs.");
    return GT_OK;
}

static gt_err ct_check_tags(gt_call *c, const json_t *tags)
{
    size_t i;
    json_t *tg;
    json_array_foreach(tags, i, tg) {
        const char *k = ct_jstr(tg, "Key");
        const char *v = ct_jstr(tg, "Value");
        if (!k || !*k || strlen(k) > 128 || strncmp(k, "aws:", 4) == 0)
            return gt_call_fail(c, GT_E_CT_TAG_PARAM, "Tag key is invalid: %s", k ? k : "null");
        if (v && strlen(v) > 256)
            return gt_call_fail(c, GT_E_CT_TAG_PARAM, "Tag value for key %s is longer than 256 characters.", k);
    }
    return GT_OK;
}

/* Merge tags into the trail's _tags (AddTags overwrites same keys). */
static void ct_merge_tags(json_t *tr, const json_t *add)
{
    json_t *cur = json_object_get(tr, "_tags");
    if (!json_is_array(cur)) {
        cur = json_array();
        json_object_set_new(tr, "_tags", cur);
    }
    size_t i, j;
    json_t *tg, *e;
    json_array_foreach(add, i, tg) {
        const char *k = ct_jstr(tg, "Key");
        bool replaced = false;
        json_array_foreach(cur, j, e) {
            if (strcmp(ct_jstr(e, "Key"), k) == 0) {
                json_array_set_new(cur, j, json_deep_copy(tg));
                replaced = true;
                break;
            }
        }
        if (!replaced)
            json_array_append_new(cur, json_deep_copy(tg));
    }
}

static gt_err ct_create_trail(gt_call *c, store_txn *t)
{
    const char *name = gt_in_str(c, "Name");
    const char *why = name ? ct_trail_name_problem(name) : "Trail name must be specified.";
    if (why)
        return gt_call_fail(c, GT_E_CT_INVALID_TRAIL_NAME, "%s", why);
    char arn[256];
    ct_trail_arn(arn, sizeof arn, c->region, c->account, name);
    gt_err e = ct_check_unsupported(c);
    if (e != GT_OK)
        return e;
    json_t *old = ct_load(t, c->account, c->region, name);
    if (old) {
        json_decref(old);
        return gt_call_fail(c, GT_E_CT_TRAIL_EXISTS, "Trail %s already exists for customer: %s", name, c->account);
    }
    json_t *all = ct_account_trails(t, c->account, false);
    if (!all)
        return GT_E_UNAVAILABLE;
    size_t n = 0, i;
    json_t *tr;
    json_array_foreach(all, i, tr) {
        if (ct_visible_in(tr, c->region))
            n++;
    }
    json_decref(all);
    if (n >= CT_MAX_TRAILS_PER_REGION)
        return gt_call_fail(c, GT_E_CT_MAX_TRAILS, "User: %s already has %d trails in %s.", c->account,
                            CT_MAX_TRAILS_PER_REGION, c->region);
    json_t *g = json_object_get(c->input, "IncludeGlobalServiceEvents");
    bool multi = ct_jbool(c->input, "IsMultiRegionTrail");
    bool global = g ? json_is_true(g) : true;
    if (multi && !global)
        return gt_call_fail(c, GT_E_CT_PARAM_COMBINATION, "Multi-Region trail must include global service events.");
    const char *bucket = gt_in_str(c, "S3BucketName");
    const char *prefix = ct_in_str_nonempty(c, "S3KeyPrefix");
    json_t *tags = json_object_get(c->input, "TagsList");
    if (json_array_size(tags) > CT_MAX_TAGS)
        return gt_call_fail(c, GT_E_CT_TAGS_LIMIT, "The number of tags exceeds the limit of %d.", CT_MAX_TAGS);
    if ((e = ct_check_tags(c, tags)) != GT_OK)
        return e;
    if ((e = ct_check_bucket(c, bucket ? bucket : "", prefix, arn)) != GT_OK)
        return e;
    char org_id[16] = "";
    bool org = ct_jbool(c->input, "IsOrganizationTrail");
    if (org && (e = ct_org_check_trail(c, t, bucket, prefix, arn, org_id)) != GT_OK)
        return e;
    const char *sns = ct_in_str_nonempty(c, "SnsTopicName");
    char snsmsg[512];   /* the topic must exist and let CloudTrail publish (sns/sns.c) */
    if (sns && (e = sns_check_trail_topic(t, c->account, c->region, sns, snsmsg, sizeof snsmsg)) != GT_OK)
        return gt_call_fail(c, e, "%s", snsmsg);

    char uid[37];
    gt_uuid4(uid);
    tr = json_object();
    json_object_set_new(tr, "Name", json_string(name));
    json_object_set_new(tr, "S3BucketName", json_string(bucket));
    if (prefix)
        json_object_set_new(tr, "S3KeyPrefix", json_string(prefix));
    if (sns) {
        /* SNS notifications are delivered by a later component; the
         * settings are kept so they round-trip (cloudtrail.md §4). */
        char sarn[512];
        if (strncmp(sns, "arn:", 4) == 0)
            gt_strlcpy(sarn, sns, sizeof sarn);
        else
            snprintf(sarn, sizeof sarn, "arn:aws:sns:%s:%s:%s", c->region, c->account, sns);
        json_object_set_new(tr, "SnsTopicName", json_string(sns));
        json_object_set_new(tr, "SnsTopicARN", json_string(sarn));
    }
    json_object_set_new(tr, "IncludeGlobalServiceEvents", json_boolean(global));
    json_object_set_new(tr, "IsMultiRegionTrail", json_boolean(multi));
    json_object_set_new(tr, "HomeRegion", json_string(c->region));
    json_object_set_new(tr, "TrailARN", json_string(arn));
    json_object_set_new(tr, "LogFileValidationEnabled", json_boolean(ct_jbool(c->input, "EnableLogFileValidation")));
    json_object_set_new(tr, "HasCustomEventSelectors", json_false());
    json_object_set_new(tr, "HasInsightSelectors", json_false());
    json_object_set_new(tr, "IsOrganizationTrail", json_boolean(org));
    json_object_set_new(tr, "_account", json_string(c->account));
    if (org)
        json_object_set_new(tr, "_org_id", json_string(org_id));
    json_object_set_new(tr, "_uid", json_string(uid));
    json_object_set_new(tr, "_logging", json_false());
    json_object_set_new(tr, "_vgen", json_integer(0));
    json_object_set_new(tr, "_tags", json_array());
    ct_merge_tags(tr, tags);
    e = ct_save(t, tr);
    if (e == GT_OK) {
        gt_call_add_resource(c, CT_TRAIL_RTYPE, arn);
        c->output = ct_settings_out(tr);
    }
    json_decref(tr);
    return e;
}

static gt_err ct_update_trail(gt_call *c, store_txn *t)
{
    json_t *tr;
    gt_err e = ct_resolve(c, t, "Name", &tr);
    if (e != GT_OK)
        return e;
    if ((e = ct_home_only(c, tr)) != GT_OK || (e = ct_check_unsupported(c)) != GT_OK)
        goto out;
    json_t *v;
    const char *bucket = gt_in_str(c, "S3BucketName");
    json_t *pfx = json_object_get(c->input, "S3KeyPrefix");
    if (bucket || pfx) {
        const char *b = bucket ? bucket : ct_jstr(tr, "S3BucketName");
        const char *p = pfx ? json_string_value(pfx) : ct_jstr(tr, "S3KeyPrefix");
        if (p && !*p)
            p = NULL;
        if ((e = ct_check_bucket(c, b, p, ct_jstr(tr, "TrailARN"))) != GT_OK)
            goto out;
        json_object_set_new(tr, "S3BucketName", json_string(b));
        if (p)
            json_object_set_new(tr, "S3KeyPrefix", json_string(p));
        else
            json_object_del(tr, "S3KeyPrefix");
    }
    if ((v = json_object_get(c->input, "SnsTopicName"))) {
        const char *sns = json_string_value(v);
        char snsmsg[512];   /* the topic must exist and let CloudTrail publish (sns/sns.c) */
        if (sns && *sns && (e = sns_check_trail_topic(t, c->account, c->region, sns, snsmsg, sizeof snsmsg)) != GT_OK) {
            gt_call_fail(c, e, "%s", snsmsg);
            goto out;
        }
        if (sns && *sns) {
            char sarn[512];
            if (strncmp(sns, "arn:", 4) == 0)
                gt_strlcpy(sarn, sns, sizeof sarn);
            else
                snprintf(sarn, sizeof sarn, "arn:aws:sns:%s:%s:%s", c->region, c->account, sns);
            json_object_set_new(tr, "SnsTopicName", json_string(sns));
            json_object_set_new(tr, "SnsTopicARN", json_string(sarn));
        } else {
            json_object_del(tr, "SnsTopicName");
            json_object_del(tr, "SnsTopicARN");
        }
    }
    bool multi = ct_jbool(tr, "IsMultiRegionTrail");
    bool global = ct_jbool(tr, "IncludeGlobalServiceEvents");
    json_t *mv = json_object_get(c->input, "IsMultiRegionTrail");
    json_t *gv = json_object_get(c->input, "IncludeGlobalServiceEvents");
    if (mv)
        multi = json_is_true(mv);
    if (gv)
        global = json_is_true(gv);
    else if (mv && multi)
        global = true;   /* turning a trail multi-region turns global events on (§2.4) */
    if (multi && !global) {
        e = gt_call_fail(c, GT_E_CT_PARAM_COMBINATION, "Multi-Region trail must include global service events.");
        goto out;
    }
    json_object_set_new(tr, "IsMultiRegionTrail", json_boolean(multi));
    json_object_set_new(tr, "IncludeGlobalServiceEvents", json_boolean(global));
    if ((v = json_object_get(c->input, "IsOrganizationTrail")) && json_is_true(v)) {
        /* checked against the (possibly just changed) bucket and prefix */
        char org_id[16];
        if ((e = ct_org_check_trail(c, t, ct_jstr(tr, "S3BucketName"), ct_jstr(tr, "S3KeyPrefix"),
                                    ct_jstr(tr, "TrailARN"), org_id)) != GT_OK)
            goto out;
        if (!ct_jbool(tr, "IsOrganizationTrail"))   /* new key layout: new digest chains */
            json_object_set_new(tr, "_vgen", json_integer(json_integer_value(json_object_get(tr, "_vgen")) + 1));
        json_object_set_new(tr, "IsOrganizationTrail", json_true());
        json_object_set_new(tr, "_org_id", json_string(org_id));
    } else if (v) {
        if (ct_jbool(tr, "IsOrganizationTrail"))
            json_object_set_new(tr, "_vgen", json_integer(json_integer_value(json_object_get(tr, "_vgen")) + 1));
        json_object_set_new(tr, "IsOrganizationTrail", json_false());
        json_object_del(tr, "_org_id");
    }
    if ((v = json_object_get(c->input, "EnableLogFileValidation"))) {
        bool was = ct_jbool(tr, "LogFileValidationEnabled");
        if (json_is_true(v) && !was)   /* a new digest chain starts */
            json_object_set_new(tr, "_vgen", json_integer(json_integer_value(json_object_get(tr, "_vgen")) + 1));
        json_object_set_new(tr, "LogFileValidationEnabled", json_boolean(json_is_true(v)));
    }
    if ((e = ct_save(t, tr)) == GT_OK)
        c->output = ct_settings_out(tr);
out:
    json_decref(tr);
    return e;
}

/* A deleted trail that ever logged leaves a tombstone (the trail, stopped
 * at the DeleteTrail record, plus the worker's state), so the worker still
 * delivers what was recorded before the deletion and writes the final
 * digest (cloudtrail.md §3.2 "Final digest"); the worker then removes it. */
static gt_err ct_tombstone(store_txn *t, json_t *tr, const store_key *state_key)
{
    if (!json_object_get(tr, "_start_seq"))
        return GT_OK;   /* never logged: nothing to finish */
    if (ct_jbool(tr, "_logging")) {
        /* the DeleteTrail record's own seq: the next append of this job */
        int64_t next = store_event_next_seq(t);
        if (next < 0)
            return GT_E_UNAVAILABLE;
        json_object_set_new(tr, "_logging", json_false());
        json_object_set_new(tr, "_stop_seq", json_integer(next));
    }
    char *body = NULL;
    json_t *st = NULL;
    if (store_doc_get(t, state_key, &body) == STORE_OK) {
        st = json_loads(body, 0, NULL);
        free(body);
    }
    json_t *tomb = json_pack("{s:O, s:o}", "trail", tr, "state", st ? st : json_null());
    char *text = tomb ? json_dumps(tomb, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(tomb);
    if (!text)
        return GT_E_NOMEM;
    store_key k = {CT_REF_ACCOUNT, CT_REF_REGION, CT_KIND_TRAIL_TOMB, ct_jstr(tr, "_uid")};
    int rc = store_doc_put(t, &k, NULL, text);
    free(text);
    return rc == STORE_OK ? GT_OK : GT_E_UNAVAILABLE;
}

static gt_err ct_delete_trail(gt_call *c, store_txn *t)
{
    json_t *tr;
    gt_err e = ct_resolve(c, t, "Name", &tr);
    if (e != GT_OK)
        return e;
    if ((e = ct_home_only(c, tr)) == GT_OK) {
        const char *region = ct_jstr(tr, "HomeRegion"), *name = ct_jstr(tr, "Name");
        char id[256];
        snprintf(id, sizeof id, "%s/%s/%s", c->account, region, name);
        store_key k = {c->account, region, CT_KIND_TRAIL, name};
        store_key sk = {c->account, region, CT_KIND_TRAIL_STATE, name};
        store_key rk = {CT_REF_ACCOUNT, CT_REF_REGION, CT_KIND_TRAIL_REF, id};
        if ((e = ct_tombstone(t, tr, &sk)) != GT_OK)
            ;
        else if (store_doc_delete(t, &k) == STORE_ERR || store_doc_delete(t, &rk) == STORE_ERR ||
                 store_doc_delete(t, &sk) == STORE_ERR)
            e = GT_E_UNAVAILABLE;
        else
            c->output = json_object();
    }
    json_decref(tr);
    return e;
}

static gt_err ct_get_trail(gt_call *c, store_txn *t)
{
    json_t *tr;
    gt_err e = ct_resolve(c, t, "Name", &tr);
    if (e != GT_OK)
        return e;
    c->output = json_object();
    json_object_set_new(c->output, "Trail", ct_public(tr));
    json_decref(tr);
    return GT_OK;
}

static gt_err ct_describe_trails(gt_call *c, store_txn *t)
{
    json_t *names = json_object_get(c->input, "trailNameList");
    json_t *sh = json_object_get(c->input, "includeShadowTrails");
    bool shadows = sh ? json_is_true(sh) : true;
    json_t *all = ct_account_trails(t, c->account, true);
    if (!all)
        return GT_E_UNAVAILABLE;
    json_t *list = json_array();
    size_t i, j;
    json_t *tr, *nv;
    json_array_foreach(all, i, tr) {
        bool home = strcmp(ct_jstr(tr, "HomeRegion"), c->region) == 0;
        bool take;
        if (json_array_size(names) == 0) {
            take = home || (shadows && ct_jbool(tr, "IsMultiRegionTrail"));
        } else {
            take = false;
            json_array_foreach(names, j, nv) {
                const char *n = json_string_value(nv);
                if (!n)
                    continue;
                if (strncmp(n, "arn:", 4) == 0)
                    take = take || strcmp(n, ct_jstr(tr, "TrailARN")) == 0;
                else
                    take = take || (home && strcmp(n, ct_jstr(tr, "Name")) == 0 &&
                                    strcmp(ct_jstr(tr, "_account"), c->account) == 0);   /* org trails: by ARN */
            }
        }
        if (take)
            json_array_append_new(list, ct_public(tr));
    }
    json_decref(all);
    c->output = json_object();
    json_object_set_new(c->output, "trailList", list);
    return GT_OK;
}

static gt_err ct_list_trails(gt_call *c, store_txn *t)
{
    json_t *all = ct_account_trails(t, c->account, true);
    if (!all)
        return GT_E_UNAVAILABLE;
    json_t *list = json_array();
    size_t i;
    json_t *tr;
    json_array_foreach(all, i, tr) {
        json_array_append_new(list, json_pack("{s:O, s:O, s:O}", "TrailARN", json_object_get(tr, "TrailARN"), "Name",
                                              json_object_get(tr, "Name"), "HomeRegion",
                                              json_object_get(tr, "HomeRegion")));
    }
    json_decref(all);
    c->output = json_object();
    json_object_set_new(c->output, "Trails", list);
    return GT_OK;
}

static gt_err ct_set_logging(gt_call *c, store_txn *t, bool on)
{
    json_t *tr;
    gt_err e = ct_resolve(c, t, "Name", &tr);
    if (e != GT_OK)
        return e;
    if ((e = ct_home_only(c, tr)) != GT_OK)
        goto out;
    if (ct_jbool(tr, "_logging") != on) {   /* both calls are idempotent */
        /* this call's own record gets `next` (the next append of this job):
         * StartLogging's record is the first delivered, StopLogging's the
         * last. (Not max+1: on PostgreSQL seqs are not consecutive.) */
        int64_t next = store_event_next_seq(t);
        if (next < 0) {
            e = GT_E_UNAVAILABLE;
            goto out;
        }
        json_object_set_new(tr, "_logging", json_boolean(on));
        if (on) {
            json_object_set_new(tr, "_start_ms", json_integer(c->now_ms));
            json_object_set_new(tr, "_start_seq", json_integer(next - 1));
            json_object_del(tr, "_stop_seq");
            json_object_set_new(tr, "_vgen", json_integer(json_integer_value(json_object_get(tr, "_vgen")) + 1));
        } else {
            json_object_set_new(tr, "_stop_ms", json_integer(c->now_ms));
            json_object_set_new(tr, "_stop_seq", json_integer(next));
        }
        e = ct_save(t, tr);
    }
    if (e == GT_OK)
        c->output = json_object();
out:
    json_decref(tr);
    return e;
}

static gt_err ct_start_logging(gt_call *c, store_txn *t)
{
    return ct_set_logging(c, t, true);
}

static gt_err ct_stop_logging(gt_call *c, store_txn *t)
{
    return ct_set_logging(c, t, false);
}

static void ct_set_epoch(json_t *o, const char *k, const json_t *ms)
{
    if (json_is_integer(ms))
        json_object_set_new(o, k, json_real((double)json_integer_value(ms) / 1000.0));
}

static void ct_set_iso(json_t *o, const char *k, const json_t *ms)
{
    char iso[21] = "";
    if (json_is_integer(ms))
        gt_fmt_iso_s(json_integer_value(ms) / 1000, iso);
    json_object_set_new(o, k, json_string(iso));
}

static gt_err ct_get_trail_status(gt_call *c, store_txn *t)
{
    json_t *tr;
    gt_err e = ct_resolve(c, t, "Name", &tr);
    if (e != GT_OK)
        return e;
    /* the trail's own account: a member reads its organization trail's status */
    store_key sk = {ct_jstr(tr, "_account"), ct_jstr(tr, "HomeRegion"), CT_KIND_TRAIL_STATE, ct_jstr(tr, "Name")};
    char *body = NULL;
    json_t *st = NULL;
    if (store_doc_get(t, &sk, &body) == STORE_OK) {
        st = json_loads(body, 0, NULL);
        free(body);
        const char *uid = ct_jstr(st, "uid");
        if (!uid || strcmp(uid, ct_jstr(tr, "_uid")) != 0) {
            json_decref(st);
            st = NULL;
        }
    }
    json_t *o = json_object();
    json_object_set_new(o, "IsLogging", json_boolean(ct_jbool(tr, "_logging")));
    const char *derr = ct_jstr(st, "LatestDeliveryError");
    if (derr)
        json_object_set_new(o, "LatestDeliveryError", json_string(derr));
    ct_set_epoch(o, "LatestDeliveryTime", json_object_get(st, "LatestDeliveryTime"));
    ct_set_epoch(o, "StartLoggingTime", json_object_get(tr, "_start_ms"));
    ct_set_epoch(o, "StopLoggingTime", json_object_get(tr, "_stop_ms"));
    ct_set_epoch(o, "LatestDigestDeliveryTime", json_object_get(st, "LatestDigestDeliveryTime"));
    const char *gerr = ct_jstr(st, "LatestDigestDeliveryError");
    if (gerr)
        json_object_set_new(o, "LatestDigestDeliveryError", json_string(gerr));
    ct_set_iso(o, "LatestDeliveryAttemptTime", json_object_get(st, "LatestDeliveryAttemptTime"));
    json_object_set_new(o, "LatestNotificationAttemptTime", json_string(""));
    json_object_set_new(o, "LatestNotificationAttemptSucceeded", json_string(""));
    ct_set_iso(o, "LatestDeliveryAttemptSucceeded", json_object_get(st, "LatestDeliveryTime"));
    ct_set_iso(o, "TimeLoggingStarted", json_object_get(tr, "_start_ms"));
    ct_set_iso(o, "TimeLoggingStopped", ct_jbool(tr, "_logging") ? NULL : json_object_get(tr, "_stop_ms"));
    c->output = o;
    json_decref(st);
    json_decref(tr);
    return GT_OK;
}

/* ---- event selectors */

static const char *const ct_basic_types[] = {"AWS::S3::Object", "AWS::Lambda::Function", "AWS::DynamoDB::Table"};
static const char *const ct_adv_fields[] = {"eventCategory", "eventSource", "eventName", "eventType", "readOnly",
                                            "resources.type", "resources.ARN", "sessionCredentialFromConsole",
                                            "userIdentity.arn", "errorCode", "vpcEndpointId"};

static gt_err ct_check_basic(gt_call *c, json_t *sels, json_t **norm)
{
    if (json_array_size(sels) > 5)
        return gt_call_fail(c, GT_E_CT_EVENT_SELECTORS, "A trail can have at most 5 event selectors.");
    size_t resources = 0, i, j, k;
    json_t *sel, *dr, *v;
    *norm = json_array();
    json_array_foreach(sels, i, sel) {
        json_t *n = json_object();
        const char *rw = ct_jstr(sel, "ReadWriteType");
        json_object_set_new(n, "ReadWriteType", json_string(rw ? rw : "All"));
        json_t *inc = json_object_get(sel, "IncludeManagementEvents");
        json_object_set_new(n, "IncludeManagementEvents", json_boolean(inc ? json_is_true(inc) : true));
        json_t *drs = json_array();
        json_array_foreach(json_object_get(sel, "DataResources"), j, dr) {
            const char *type = ct_jstr(dr, "Type");
            bool known = false;
            for (k = 0; type && k < 3; k++)
                known = known || strcmp(type, ct_basic_types[k]) == 0;
            if (!known) {
                json_decref(n);
                json_decref(drs);
                return gt_call_fail(c, GT_E_CT_EVENT_SELECTORS, "Value %s for parameter DataResources.Type is invalid.",
                                    type ? type : "null");
            }
            json_array_foreach(json_object_get(dr, "Values"), k, v) {
                const char *s = json_string_value(v);
                resources++;
                if (!s || strncmp(s, "arn:", 4) != 0) {
                    json_decref(n);
                    json_decref(drs);
                    return gt_call_fail(c, GT_E_CT_EVENT_SELECTORS, "Value %s for parameter DataResources.Values is invalid.",
                                        s ? s : "null");
                }
            }
            json_t *vals = json_object_get(dr, "Values");
            json_array_append_new(drs, json_pack("{s:s, s:O}", "Type", type, "Values", vals ? vals : json_array()));
        }
        json_object_set_new(n, "DataResources", drs);
        json_t *ex = json_object_get(sel, "ExcludeManagementEventSources");
        json_array_foreach(ex, j, v) {
            const char *s = json_string_value(v);
            if (!s || (strcmp(s, "kms.amazonaws.com") != 0 && strcmp(s, "rdsdata.amazonaws.com") != 0)) {
                json_decref(n);
                return gt_call_fail(c, GT_E_CT_EVENT_SELECTORS,
                                    "Value %s for parameter ExcludeManagementEventSources is invalid.", s ? s : "null");
            }
        }
        json_object_set_new(n, "ExcludeManagementEventSources", ex ? json_deep_copy(ex) : json_array());
        json_array_append_new(*norm, n);
    }
    if (resources > 250)
        return gt_call_fail(c, GT_E_CT_EVENT_SELECTORS, "A trail can have at most 250 data resources.");
    return GT_OK;
}

static gt_err ct_check_advanced(gt_call *c, json_t *sels)
{
    static const char *const ops[] = {"Equals", "StartsWith", "EndsWith", "NotEquals", "NotStartsWith", "NotEndsWith"};
    size_t values = 0, i, j, k;
    json_t *sel, *fs, *v;
    json_array_foreach(sels, i, sel) {
        json_t *fss = json_object_get(sel, "FieldSelectors");
        bool has_cat = false;
        const char *cat = NULL;
        if (json_array_size(fss) == 0)
            return gt_call_fail(c, GT_E_CT_EVENT_SELECTORS, "An advanced event selector needs at least one field selector.");
        json_array_foreach(fss, j, fs) {
            const char *f = ct_jstr(fs, "Field");
            bool known = false;
            for (k = 0; f && k < sizeof ct_adv_fields / sizeof ct_adv_fields[0]; k++)
                known = known || strcmp(f, ct_adv_fields[k]) == 0;
            if (!known)
                return gt_call_fail(c, GT_E_CT_EVENT_SELECTORS, "Invalid field: %s", f ? f : "null");
            bool equals_only = strcmp(f, "readOnly") == 0 || strcmp(f, "eventCategory") == 0 ||
                               strcmp(f, "resources.type") == 0;
            int nops = 0;
            for (k = 0; k < 6; k++) {
                json_t *list = json_object_get(fs, ops[k]);
                if (!list)
                    continue;
                nops++;
                if (equals_only && k != 0)
                    return gt_call_fail(c, GT_E_CT_EVENT_SELECTORS, "Field %s only supports the Equals operator.", f);
                if (json_array_size(list) == 0)
                    return gt_call_fail(c, GT_E_CT_EVENT_SELECTORS, "Operator %s of field %s needs a value.", ops[k], f);
                values += json_array_size(list);
                size_t m;
                json_array_foreach(list, m, v) {
                    const char *s = json_string_value(v);
                    if (strcmp(f, "readOnly") == 0 && s && strcmp(s, "true") != 0 && strcmp(s, "false") != 0)
                        return gt_call_fail(c, GT_E_CT_EVENT_SELECTORS, "Invalid value for readOnly: %s", s);
                    if (strcmp(f, "eventCategory") == 0 && s && strcmp(s, "Management") != 0 &&
                        strcmp(s, "Data") != 0 && strcmp(s, "NetworkActivity") != 0)
                        return gt_call_fail(c, GT_E_CT_EVENT_SELECTORS, "Invalid value for eventCategory: %s", s);
                    if (strcmp(f, "eventCategory") == 0 && s)
                        cat = s;
                }
            }
            if (nops == 0)
                return gt_call_fail(c, GT_E_CT_EVENT_SELECTORS, "Field selector %s has no operator.", f);
            if (strcmp(f, "eventCategory") == 0)
                has_cat = true;
        }
        if (!has_cat)
            return gt_call_fail(c, GT_E_CT_EVENT_SELECTORS, "Each advanced event selector must include eventCategory.");
        if (cat && strcmp(cat, "Data") == 0) {
            bool rtype = false;
            json_array_foreach(fss, j, fs) {
                rtype = rtype || strcmp(ct_jstr(fs, "Field"), "resources.type") == 0;
            }
            if (!rtype)
                return gt_call_fail(c, GT_E_CT_EVENT_SELECTORS, "Data event selectors must include resources.type.");
        }
    }
    if (values > 500)
        return gt_call_fail(c, GT_E_CT_EVENT_SELECTORS, "Advanced event selectors can have at most 500 values.");
    return GT_OK;
}

static gt_err ct_put_event_selectors(gt_call *c, store_txn *t)
{
    json_t *tr;
    gt_err e = ct_resolve(c, t, "TrailName", &tr);
    if (e != GT_OK)
        return e;
    if ((e = ct_home_only(c, tr)) != GT_OK)
        goto out;
    json_t *es = json_object_get(c->input, "EventSelectors");
    json_t *aes = json_object_get(c->input, "AdvancedEventSelectors");
    if ((es != NULL) == (aes != NULL)) {
        e = gt_call_fail(c, GT_E_CT_EVENT_SELECTORS,
                         "Specify either event selectors or advanced event selectors, but not both.");
        goto out;
    }
    json_t *norm = NULL;
    if (es)
        e = ct_check_basic(c, es, &norm);
    else
        e = ct_check_advanced(c, aes);
    if (e != GT_OK) {
        json_decref(norm);
        goto out;
    }
    json_object_del(tr, es ? "_aes" : "_es");
    json_object_set_new(tr, es ? "_es" : "_aes", es ? norm : json_deep_copy(aes));
    json_object_set_new(tr, "HasCustomEventSelectors", json_true());
    if ((e = ct_save(t, tr)) == GT_OK) {
        c->output = json_object();
        json_object_set(c->output, "TrailARN", json_object_get(tr, "TrailARN"));
        json_object_set(c->output, es ? "EventSelectors" : "AdvancedEventSelectors", json_object_get(tr, es ? "_es" : "_aes"));
    }
out:
    json_decref(tr);
    return e;
}

static gt_err ct_get_event_selectors(gt_call *c, store_txn *t)
{
    json_t *tr;
    gt_err e = ct_resolve(c, t, "TrailName", &tr);
    if (e != GT_OK)
        return e;
    c->output = json_object();
    json_object_set(c->output, "TrailARN", json_object_get(tr, "TrailARN"));
    json_t *aes = json_object_get(tr, "_aes");
    json_t *es = json_object_get(tr, "_es");
    if (aes)
        json_object_set(c->output, "AdvancedEventSelectors", aes);
    else if (es)
        json_object_set(c->output, "EventSelectors", es);
    else   /* the API default (cloudtrail.md §6.3, from memory) */
        json_object_set_new(c->output, "EventSelectors",
                            json_pack("[{s:s, s:b, s:[], s:[]}]", "ReadWriteType", "All", "IncludeManagementEvents", 1,
                                      "DataResources", "ExcludeManagementEventSources"));
    json_decref(tr);
    return GT_OK;
}

/* Does the trail log write (or, any_rw, read or write) management events? */
static bool ct_logs_management(const json_t *tr, bool any_rw)
{
    json_t *aes = json_object_get(tr, "_aes");
    size_t i, j;
    json_t *sel, *fs;
    if (aes) {
        json_array_foreach(aes, i, sel) {
            bool mgmt = false, ro_only = false;
            json_array_foreach(json_object_get(sel, "FieldSelectors"), j, fs) {
                const char *f = ct_jstr(fs, "Field");
                json_t *eq = json_object_get(fs, "Equals");
                if (f && strcmp(f, "eventCategory") == 0 && ct_str_in(eq, "Management"))
                    mgmt = true;
                if (f && strcmp(f, "readOnly") == 0 && ct_str_in(eq, "true") && !ct_str_in(eq, "false"))
                    ro_only = true;
            }
            if (mgmt && (any_rw || !ro_only))
                return true;
        }
        return false;
    }
    json_t *es = json_object_get(tr, "_es");
    if (!es)
        return true;
    json_array_foreach(es, i, sel) {
        const char *rw = ct_jstr(sel, "ReadWriteType");
        if (ct_jbool(sel, "IncludeManagementEvents") && (any_rw || !rw || strcmp(rw, "ReadOnly") != 0))
            return true;
    }
    return false;
}

static gt_err ct_put_insight_selectors(gt_call *c, store_txn *t)
{
    if (!gt_in_str(c, "TrailName"))
        return gt_call_fail(c, GT_E_CT_INVALID_PARAMETER, "You must specify a TrailName (event data stores are not served).");
    json_t *tr;
    gt_err e = ct_resolve(c, t, "TrailName", &tr);
    if (e != GT_OK)
        return e;
    if ((e = ct_home_only(c, tr)) != GT_OK)
        goto out;
    json_t *is = json_object_get(c->input, "InsightSelectors");
    bool call_rate = false, error_rate = false;
    size_t i;
    json_t *sel;
    json_array_foreach(is, i, sel) {
        const char *type = ct_jstr(sel, "InsightType");
        bool *seen = type && strcmp(type, "ApiCallRateInsight") == 0   ? &call_rate
                     : type && strcmp(type, "ApiErrorRateInsight") == 0 ? &error_rate
                                                                        : NULL;
        if (!seen || *seen) {
            e = gt_call_fail(c, GT_E_CT_INSIGHT_SELECTORS, "Insight selector %s is invalid or repeated.",
                             type ? type : "null");
            goto out;
        }
        *seen = true;
    }
    if ((call_rate && !ct_logs_management(tr, false)) || (error_rate && !ct_logs_management(tr, true))) {
        e = gt_call_fail(c, GT_E_CT_INSIGHT_SELECTORS,
                         "The trail must log %s management events to enable these Insights types.",
                         call_rate ? "write" : "read or write");
        goto out;
    }
    json_object_set(tr, "_is", is);
    json_object_set_new(tr, "HasInsightSelectors", json_boolean(json_array_size(is) > 0));
    if ((e = ct_save(t, tr)) == GT_OK) {
        c->output = json_object();
        json_object_set(c->output, "TrailARN", json_object_get(tr, "TrailARN"));
        json_object_set(c->output, "InsightSelectors", is);
    }
out:
    json_decref(tr);
    return e;
}

static gt_err ct_get_insight_selectors(gt_call *c, store_txn *t)
{
    if (!gt_in_str(c, "TrailName"))
        return gt_call_fail(c, GT_E_CT_INVALID_PARAMETER, "You must specify a TrailName (event data stores are not served).");
    json_t *tr;
    gt_err e = ct_resolve(c, t, "TrailName", &tr);
    if (e != GT_OK)
        return e;
    json_t *is = json_object_get(tr, "_is");
    if (json_array_size(is) == 0) {
        e = gt_call_fail(c, GT_E_CT_INSIGHT_NOT_ENABLED, "Trail %s does not have Insights enabled.",
                         ct_jstr(tr, "TrailARN"));
    } else {
        c->output = json_object();
        json_object_set(c->output, "TrailARN", json_object_get(tr, "TrailARN"));
        json_object_set(c->output, "InsightSelectors", is);
    }
    json_decref(tr);
    return e;
}

/* ---- tags */

static gt_err ct_tag_target(gt_call *c, store_txn *t, const char *arn, json_t **out)
{
    char region[32], account[16], name[129];
    *out = NULL;
    if (!arn || strncmp(arn, "arn:aws:cloudtrail:", 19) != 0)
        return gt_call_fail(c, GT_E_CT_ARN_INVALID, "%s is not a valid CloudTrail ARN.", arn ? arn : "null");
    if (!ct_parse_trail_arn(arn, region, account, name)) {
        if (strstr(arn, ":eventdatastore/") || strstr(arn, ":channel/"))
            return gt_call_fail(c, GT_E_CT_RESOURCE_NOT_FOUND, "Resource %s is not found.", arn);
        return gt_call_fail(c, GT_E_CT_ARN_INVALID, "%s is not a valid CloudTrail ARN.", arn);
    }
    json_t *tr = strcmp(account, c->account) == 0 ? ct_load(t, account, region, name) : NULL;
    if (!tr)
        return gt_call_fail(c, GT_E_CT_RESOURCE_NOT_FOUND, "Resource %s is not found.", arn);
    gt_call_add_resource(c, CT_TRAIL_RTYPE, arn);
    *out = tr;
    return GT_OK;
}

static gt_err ct_add_tags(gt_call *c, store_txn *t)
{
    json_t *tr;
    gt_err e = ct_tag_target(c, t, gt_in_str(c, "ResourceId"), &tr);
    if (e != GT_OK)
        return e;
    json_t *tags = json_object_get(c->input, "TagsList");
    if ((e = ct_check_tags(c, tags)) == GT_OK) {
        ct_merge_tags(tr, tags);
        if (json_array_size(json_object_get(tr, "_tags")) > CT_MAX_TAGS)
            e = gt_call_fail(c, GT_E_CT_TAGS_LIMIT, "The number of tags exceeds the limit of %d.", CT_MAX_TAGS);
        else if ((e = ct_save(t, tr)) == GT_OK)
            c->output = json_object();
    }
    json_decref(tr);
    return e;
}

static gt_err ct_remove_tags(gt_call *c, store_txn *t)
{
    json_t *tr;
    gt_err e = ct_tag_target(c, t, gt_in_str(c, "ResourceId"), &tr);
    if (e != GT_OK)
        return e;
    json_t *cur = json_object_get(tr, "_tags");
    json_t *keep = json_array();
    size_t i, j;
    json_t *tg, *rm;
    json_array_foreach(cur, i, tg) {
        bool drop = false;
        json_array_foreach(json_object_get(c->input, "TagsList"), j, rm) {
            const char *k = ct_jstr(rm, "Key");
            json_t *v = json_object_get(rm, "Value");
            /* a given Value must match too (likely AWS behaviour, unverified) */
            if (k && strcmp(k, ct_jstr(tg, "Key")) == 0 &&
                (!v || json_equal(v, json_object_get(tg, "Value"))))
                drop = true;
        }
        if (!drop)
            json_array_append(keep, tg);
    }
    json_object_set_new(tr, "_tags", keep);
    if ((e = ct_save(t, tr)) == GT_OK)
        c->output = json_object();
    json_decref(tr);
    return e;
}

static gt_err ct_list_tags(gt_call *c, store_txn *t)
{
    json_t *ids = json_object_get(c->input, "ResourceIdList");
    if (json_array_size(ids) > 20)
        return gt_call_fail(c, GT_E_CT_INVALID_PARAMETER, "ResourceIdList can contain at most 20 ARNs.");
    json_t *list = json_array();
    size_t i;
    json_t *idv;
    json_array_foreach(ids, i, idv) {
        json_t *tr;
        gt_err e = ct_tag_target(c, t, json_string_value(idv), &tr);
        if (e != GT_OK) {
            json_decref(list);
            return e;
        }
        json_t *tags = json_object_get(tr, "_tags");
        json_array_append_new(list, json_pack("{s:O, s:O}", "ResourceId", idv, "TagsList", tags ? tags : json_array()));
        json_decref(tr);
    }
    c->output = json_object();
    json_object_set_new(c->output, "ResourceTagList", list);
    return GT_OK;
}

gt_handler ct_trail_handler_for(const char *op)
{
    static const struct {
        const char *op;
        gt_handler h;
    } table[] = {
        {"CreateTrail", ct_create_trail},
        {"UpdateTrail", ct_update_trail},
        {"DeleteTrail", ct_delete_trail},
        {"GetTrail", ct_get_trail},
        {"DescribeTrails", ct_describe_trails},
        {"ListTrails", ct_list_trails},
        {"StartLogging", ct_start_logging},
        {"StopLogging", ct_stop_logging},
        {"GetTrailStatus", ct_get_trail_status},
        {"PutEventSelectors", ct_put_event_selectors},
        {"GetEventSelectors", ct_get_event_selectors},
        {"PutInsightSelectors", ct_put_insight_selectors},
        {"GetInsightSelectors", ct_get_insight_selectors},
        {"AddTags", ct_add_tags},
        {"RemoveTags", ct_remove_tags},
        {"ListTags", ct_list_tags},
        {"ListPublicKeys", ct_digest_list_public_keys},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(table[i].op, op) == 0)
            return table[i].h;
    return NULL;
}
