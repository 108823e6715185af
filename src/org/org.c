/*
 * org.c: AWS Organizations (organizations 2016-11-28, awsJson1_1, target
 * prefix AWSOrganizationsV20161128), the part organization trails need.
 *
 * What: CreateOrganization (FeatureSet ALL by default; the caller's account
 * becomes the management account), DescribeOrganization, DeleteOrganization
 * (only without members), ListRoots, ListAccounts, DescribeAccount,
 * CreateAccount / DescribeCreateAccountStatus / ListCreateAccountStatus,
 * Enable/DisableAWSServiceAccess / ListAWSServiceAccessForOrganization, and
 * joining existing greentrail accounts the way AWS does it:
 * InviteAccountToOrganization (targets of type ACCOUNT) + AcceptHandshake,
 * with DescribeHandshake, ListHandshakesForAccount, DeclineHandshake,
 * CancelHandshake, RemoveAccountFromOrganization and LeaveOrganization.
 * Why the handshake rather than a CLI shortcut: it is what boto3 and the
 * CLI already speak, it is authorized and recorded like any call, and the
 * member's own consent (its credentials accept) stays explicit.
 *
 * Organizations is a global service: the dispatcher records its calls in
 * us-east-1 (like IAM) with eventSource organizations.amazonaws.com.
 *
 * Storage (global scope, account "" region ""):
 *   org.org    id o-id       {"Organization":{AWS members}, "Root":{...},
 *                             "Services":[{ServicePrincipal, DateEnabled}]}
 *   org.member id account    parent o-id  {"org", "Account":{AWS members}}
 *   org.car    id car-id     parent o-id  {"Status":{CreateAccountStatus}}
 *   org.hs     id h-id       parent target account {"org", "Handshake":{...}}
 *   org.made   id account    {"by", "request"}: made by CreateAccount (so it
 *              still exists, and can be invited again, after it leaves)
 * An account is in an organization iff it has an org.member document; the
 * management account has one too (listed first: it is written first).
 *
 * CreateAccount makes a real greentrail account: its id is recorded as a
 * member and gets OrganizationAccountAccessRole (AdministratorAccess)
 * trusting the management account's root, so the management account's
 * admin can AssumeRole into it, as on AWS. It has no access keys (AWS hands
 * out none either); `greentrail account create --account-id ID` gives it
 * root and admin keys later if wanted. AWS finishes CreateAccount
 * asynchronously: the call answers IN_PROGRESS and
 * DescribeCreateAccountStatus then reports SUCCEEDED; here the account
 * exists when the call returns.
 *
 * Who may do what (as AWS): DescribeOrganization, LeaveOrganization and
 * the invitee's handshake calls from any account of the organization;
 * everything else only from the management account (AccessDeniedException
 * "You don't have permissions to access this resource.", HTTP 400, for
 * members; AWSOrganizationsNotInUseException outside any organization).
 * IAM policies decide first (organizations:<Operation>, resource "*").
 *
 * Deviations: greentrail accounts have no e-mail address or name; an
 * account that joins by invitation shows Email "<id>@greentrail.invalid"
 * and Name = its id. Paths, policies, OUs and delegated administrators are
 * not modelled (those operations answer UnsupportedOperationException).
 */
#include "org/org.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/decode.h"
#include "api/pagetoken.h"
#include "api/service.h"
#include "iam/iam.h"
#include "util/gtutil.h"

#define ORG_KIND_ORG "org.org"
#define ORG_KIND_MEMBER "org.member"
#define ORG_KIND_CAR "org.car"
#define ORG_KIND_HS "org.hs"
#define ORG_KIND_MADE "org.made"   /* accounts CreateAccount made: they exist after leaving too */
#define ORG_ID_ALPHA "abcdefghijklmnopqrstuvwxyz0123456789"
#define ORG_HS_TTL_S (15 * 86400)   /* AWS invitations expire after 15 days */
#define ORG_DEFAULT_ROLE "OrganizationAccountAccessRole"

/* ---------------------------------------------------------------- storage */

static json_t *org_load(store_txn *t, const char *kind, const char *id)
{
    store_key k = {"", "", kind, id};
    char *body = NULL;
    if (store_doc_get(t, &k, &body) != STORE_OK)
        return NULL;
    json_t *j = json_loads(body, 0, NULL);
    free(body);
    return j;
}

static gt_err org_save(store_txn *t, const char *kind, const char *id, const char *parent, const json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!text)
        return GT_E_NOMEM;
    store_key k = {"", "", kind, id};
    int rc = store_doc_put(t, &k, parent, text);
    free(text);
    return rc == STORE_OK ? GT_OK : GT_E_UNAVAILABLE;
}

static gt_err org_drop(store_txn *t, const char *kind, const char *id)
{
    store_key k = {"", "", kind, id};
    return store_doc_delete(t, &k) == STORE_ERR ? GT_E_UNAVAILABLE : GT_OK;
}

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

bool org_lookup(store_txn *t, const char *account, org_info *out)
{
    memset(out, 0, sizeof *out);
    json_t *m = org_load(t, ORG_KIND_MEMBER, account);
    const char *id = jstr(m, "org");
    json_t *o = id ? org_load(t, ORG_KIND_ORG, id) : NULL;
    json_decref(m);
    if (!o)
        return false;
    json_t *org = json_object_get(o, "Organization");
    gt_strlcpy(out->id, jstr(org, "Id") ? jstr(org, "Id") : "", sizeof out->id);
    gt_strlcpy(out->mgmt, jstr(org, "MasterAccountId") ? jstr(org, "MasterAccountId") : "", sizeof out->mgmt);
    const char *fs = jstr(org, "FeatureSet");
    out->all_features = fs && strcmp(fs, "ALL") == 0;
    size_t i;
    json_t *sp;
    json_array_foreach(json_object_get(o, "Services"), i, sp) {
        const char *p = jstr(sp, "ServicePrincipal");
        if (p && strcmp(p, ORG_CT_PRINCIPAL) == 0)
            out->ct_access = true;
    }
    json_decref(o);
    return out->id[0] != '\0';
}

typedef struct org_collect {
    json_t *out;
    const char *member;   /* the object member to collect, or NULL: ids */
} org_collect;

static int org_collect_cb(void *ud, int64_t seq, const char *id, const char *body)
{
    (void)seq;
    org_collect *c = ud;
    if (!c->member) {
        json_array_append_new(c->out, json_string(id));
        return 0;
    }
    json_t *d = json_loads(body, 0, NULL);
    json_t *v = json_object_get(d, c->member);
    if (v)
        json_array_append(c->out, v);
    json_decref(d);
    return 0;
}

/* The `member` objects (or ids when NULL) of every doc of kind under parent. */
static json_t *org_children(store_txn *t, const char *kind, const char *parent, const char *member)
{
    org_collect c = {json_array(), member};
    if (!c.out)
        return NULL;
    if (store_doc_list(t, "", "", kind, parent, 0, false, 0, org_collect_cb, &c) != STORE_OK) {
        json_decref(c.out);
        return NULL;
    }
    return c.out;
}

json_t *org_accounts(store_txn *t, const char *org_id)
{
    return org_children(t, ORG_KIND_MEMBER, org_id, NULL);
}

/* ---------------------------------------------------------------- helpers */

static bool org_new_id(char *out, size_t cap, const char *prefix, size_t n)
{
    char r[40];
    if (n >= sizeof r || !gt_random_chars(r, n, ORG_ID_ALPHA))
        return false;
    r[n] = '\0';
    snprintf(out, cap, "%s%s", prefix, r);
    return true;
}

static double org_now(const gt_call *c)
{
    return (double)(c->now_ms / 1000);
}

/* The caller's organization document, or an error set on the call. With
 * mgmt_only, a member's call fails with AccessDeniedException. */
static json_t *org_mine(gt_call *c, store_txn *t, bool mgmt_only, gt_err *e)
{
    json_t *m = org_load(t, ORG_KIND_MEMBER, c->account);
    const char *id = jstr(m, "org");
    json_t *o = id ? org_load(t, ORG_KIND_ORG, id) : NULL;
    json_decref(m);
    if (!o) {
        *e = gt_call_fail(c, GT_E_ORG_NOT_IN_USE,
                          "Your account is not a member of an organization.");
        return NULL;
    }
    const char *mg = jstr(json_object_get(o, "Organization"), "MasterAccountId");
    if (mgmt_only && (!mg || strcmp(mg, c->account) != 0)) {
        json_decref(o);
        *e = gt_call_fail(c, GT_E_ORG_ACCESS_DENIED, "You don't have permissions to access this resource.");
        return NULL;
    }
    *e = GT_OK;
    return o;
}

static const char *org_id_of(const json_t *o)
{
    return jstr(json_object_get(o, "Organization"), "Id");
}

static const char *org_mgmt_of(const json_t *o)
{
    return jstr(json_object_get(o, "Organization"), "MasterAccountId");
}

static bool org_is_account_id(const char *s)
{
    if (!s || strlen(s) != 12)
        return false;
    for (size_t i = 0; i < 12; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* Does a greentrail account with this id exist (keys bootstrapped, or made
 * by CreateAccount)? */
static bool org_account_exists(store_txn *t, const char *account)
{
    store_key k = {account, "", "bootstrap", "keys"};
    char *body = NULL;
    if (store_doc_get(t, &k, &body) == STORE_OK) {
        free(body);
        return true;
    }
    json_t *m = org_load(t, ORG_KIND_MADE, account);
    bool made = m != NULL;
    json_decref(m);
    return made;
}

/* Add `account` to organization o (member doc). */
static gt_err org_add_member(gt_call *c, store_txn *t, const json_t *o, const char *account, const char *email,
                             const char *name, const char *method, bool created)
{
    char arn[256], em[320];
    snprintf(arn, sizeof arn, "arn:aws:organizations::%s:account/%s/%s", org_mgmt_of(o), org_id_of(o), account);
    if (!email) {
        snprintf(em, sizeof em, "%s@greentrail.invalid", account);
        email = em;
    }
    json_t *doc = json_pack("{s:s, s:b, s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:f}}", "org", org_id_of(o), "created",
                            created, "Account", "Id", account, "Arn", arn, "Email", email, "Name", name ? name : account,
                            "Status", "ACTIVE", "State", "ACTIVE", "JoinedMethod", method, "JoinedTimestamp",
                            org_now(c));
    if (!doc)
        return GT_E_NOMEM;
    gt_err e = org_save(t, ORG_KIND_MEMBER, account, org_id_of(o), doc);
    json_decref(doc);
    return e;
}

/* Page `all` (a JSON array, stolen; NULL means the read failed) into
 * c->output[key] with MaxResults / NextToken. Tokens are HMAC-bound offsets
 * (api/pagetoken.h) scoped to "org|<what>|<owner>", so a token from one list
 * or organization is refused by another. */
static gt_err org_page(gt_call *c, json_t *all, const char *key, const char *what, const char *owner)
{
    if (!all)
        return GT_E_UNAVAILABLE;
    char scope[96];
    snprintf(scope, sizeof scope, "org|%s|%s", what, owner);
    int64_t start = 0, unused;
    const char *tok = gt_in_str(c, "NextToken");
    if (tok && (!api_pagetoken_open(c->srv->token_key, scope, tok, &start, &unused) || start < 0)) {
        json_decref(all);
        return gt_call_fail(c, GT_E_ORG_INVALID_INPUT, "The NextToken provided is invalid.");
    }
    json_t *mr = json_object_get(c->input, "MaxResults");
    int64_t limit = json_is_integer(mr) && json_integer_value(mr) > 0 ? json_integer_value(mr) : 20;
    json_t *page = json_array();
    int64_t n = (int64_t)json_array_size(all), i = start;
    for (; i < n && i - start < limit; i++)
        json_array_append(page, json_array_get(all, (size_t)i));
    json_decref(all);
    c->output = json_object();
    json_object_set_new(c->output, key, page);
    if (i < n) {
        char next[API_PAGETOKEN_MAX];
        if (!api_pagetoken_make(c->srv->token_key, scope, i, 0, next))
            return GT_E_INTERNAL;
        json_object_set_new(c->output, "NextToken", json_string(next));
    }
    return GT_OK;
}

/* ---------------------------------------------------------------- organization */

static gt_err h_create_org(gt_call *c, store_txn *t)
{
    json_t *m = org_load(t, ORG_KIND_MEMBER, c->account);
    if (m) {
        json_decref(m);
        return gt_call_fail(c, GT_E_ORG_ALREADY_IN, "The AWS account is already a member of an organization.");
    }
    const char *fs = gt_in_str(c, "FeatureSet");
    if (!fs)
        fs = "ALL";
    char oid[48], rid[48], arn[256], marn[128], rarn[256], email[64];
    if (!org_new_id(oid, sizeof oid, "o-", 10) || !org_new_id(rid, sizeof rid, "r-", 4))
        return GT_E_INTERNAL;
    snprintf(arn, sizeof arn, "arn:aws:organizations::%s:organization/%s", c->account, oid);
    snprintf(marn, sizeof marn, "arn:aws:organizations::%s:account/%s/%s", c->account, oid, c->account);
    snprintf(rarn, sizeof rarn, "arn:aws:organizations::%s:root/%s/%s", c->account, oid, rid);
    snprintf(email, sizeof email, "%s@greentrail.invalid", c->account);
    json_t *org = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:[]}", "Id", oid, "Arn", arn, "FeatureSet", fs,
                            "MasterAccountArn", marn, "MasterAccountId", c->account, "MasterAccountEmail", email,
                            "AvailablePolicyTypes");
    json_t *doc = json_pack("{s:O, s:{s:s, s:s, s:s, s:[]}, s:[]}", "Organization", org, "Root", "Id", rid, "Arn",
                            rarn, "Name", "Root", "PolicyTypes", "Services");
    if (!org || !doc) {
        json_decref(org);
        json_decref(doc);
        return GT_E_NOMEM;
    }
    gt_err e = org_save(t, ORG_KIND_ORG, oid, NULL, doc);
    /* the management account is a member too; AWS shows it as INVITED
     * (from memory; unverified) */
    if (e == GT_OK)
        e = org_add_member(c, t, doc, c->account, email, NULL, "INVITED", false);
    json_decref(doc);
    if (e != GT_OK) {
        json_decref(org);
        return e;
    }
    gt_call_add_resource(c, "AWS::Organizations::Organization", arn);
    c->output = json_object();
    json_object_set_new(c->output, "Organization", org);
    return GT_OK;
}

static gt_err h_describe_org(gt_call *c, store_txn *t)
{
    gt_err e;
    json_t *o = org_mine(c, t, false, &e);
    if (!o)
        return e;
    c->output = json_object();
    json_object_set(c->output, "Organization", json_object_get(o, "Organization"));
    json_decref(o);
    return GT_OK;
}

static gt_err h_delete_org(gt_call *c, store_txn *t)
{
    gt_err e;
    json_t *o = org_mine(c, t, true, &e);
    if (!o)
        return e;
    json_t *ids = org_accounts(t, org_id_of(o));
    if (!ids) {
        json_decref(o);
        return GT_E_UNAVAILABLE;
    }
    if (json_array_size(ids) > 1) {
        e = gt_call_fail(c, GT_E_ORG_NOT_EMPTY,
                         "To delete an organization you must first remove all member accounts (except the master).");
    } else {
        e = org_drop(t, ORG_KIND_MEMBER, c->account);
        if (e == GT_OK)
            e = org_drop(t, ORG_KIND_ORG, org_id_of(o));
        if (e == GT_OK &&
            store_doc_delete_children(t, "", "", ORG_KIND_CAR, org_id_of(o)) == STORE_ERR)
            e = GT_E_UNAVAILABLE;
        if (e == GT_OK) {
            gt_call_add_resource(c, "AWS::Organizations::Organization",
                                 jstr(json_object_get(o, "Organization"), "Arn"));
            c->output = json_object();
        }
    }
    json_decref(ids);
    json_decref(o);
    return e;
}

static gt_err h_list_roots(gt_call *c, store_txn *t)
{
    gt_err e;
    json_t *o = org_mine(c, t, true, &e);
    if (!o)
        return e;
    json_t *all = json_pack("[O]", json_object_get(o, "Root"));
    gt_err r = org_page(c, all, "Roots", "roots", org_id_of(o));
    json_decref(o);
    return r;
}

/* ---------------------------------------------------------------- accounts */

static gt_err h_list_accounts(gt_call *c, store_txn *t)
{
    gt_err e;
    json_t *o = org_mine(c, t, true, &e);
    if (!o)
        return e;
    json_t *all = org_children(t, ORG_KIND_MEMBER, org_id_of(o), "Account");
    gt_err r = org_page(c, all, "Accounts", "accounts", org_id_of(o));
    json_decref(o);
    return r;
}

static gt_err h_describe_account(gt_call *c, store_txn *t)
{
    gt_err e;
    json_t *o = org_mine(c, t, true, &e);
    if (!o)
        return e;
    const char *id = gt_in_str(c, "AccountId");
    json_t *m = id ? org_load(t, ORG_KIND_MEMBER, id) : NULL;
    const char *mo = jstr(m, "org");
    if (!mo || strcmp(mo, org_id_of(o)) != 0) {
        e = gt_call_fail(c, GT_E_ORG_ACCOUNT_NOT_FOUND, "You specified an account that doesn't exist.");
    } else {
        c->output = json_object();
        json_object_set(c->output, "Account", json_object_get(m, "Account"));
    }
    json_decref(m);
    json_decref(o);
    return e;
}

static gt_err h_create_account(gt_call *c, store_txn *t)
{
    gt_err e;
    json_t *o = org_mine(c, t, true, &e);
    if (!o)
        return e;
    const char *email = gt_in_str(c, "Email");
    const char *name = gt_in_str(c, "AccountName");
    const char *role = gt_in_str(c, "RoleName");
    if (!role || !*role)
        role = ORG_DEFAULT_ROLE;
    if (!email || !strchr(email, '@') || !name || !*name) {
        json_decref(o);
        return gt_call_fail(c, GT_E_ORG_INVALID_INPUT, "You provided a value that does not match the required pattern.");
    }
    /* a fresh 12-digit id, not starting with 0, not in use */
    char acct[16] = "";
    for (int tries = 0; tries < 8 && !acct[0]; tries++) {
        if (!gt_random_chars(acct, 12, "0123456789")) {
            json_decref(o);
            return GT_E_INTERNAL;
        }
        acct[12] = '\0';
        if (acct[0] == '0')
            acct[0] = '5';
        json_t *taken = org_load(t, ORG_KIND_MEMBER, acct);
        if (taken || org_account_exists(t, acct))
            acct[0] = '\0';
        json_decref(taken);
    }
    char car[48], trust[512];
    if (!acct[0] || !org_new_id(car, sizeof car, "car-", 32)) {
        json_decref(o);
        return GT_E_INTERNAL;
    }
    snprintf(trust, sizeof trust,
             "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":"
             "\"arn:aws:iam::%s:root\"},\"Action\":\"sts:AssumeRole\"}]}",
             org_mgmt_of(o));
    e = org_add_member(c, t, o, acct, email, name, "CREATED", true);
    if (e == GT_OK)
        e = iam_put_org_role(t, acct, role, trust, c->now_ms);
    if (e == GT_OK) {
        json_t *made = json_pack("{s:s, s:s}", "by", org_id_of(o), "request", car);
        e = made ? org_save(t, ORG_KIND_MADE, acct, NULL, made) : GT_E_NOMEM;
        json_decref(made);
    }
    json_t *st = NULL;
    if (e == GT_OK) {
        st = json_pack("{s:s, s:s, s:s, s:f, s:f, s:s}", "Id", car, "AccountName", name, "State", "SUCCEEDED",
                       "RequestedTimestamp", org_now(c), "CompletedTimestamp", org_now(c), "AccountId", acct);
        json_t *doc = st ? json_pack("{s:O}", "Status", st) : NULL;
        e = doc ? org_save(t, ORG_KIND_CAR, car, org_id_of(o), doc) : GT_E_NOMEM;
        json_decref(doc);
    }
    if (e == GT_OK) {
        /* AWS answers before the account exists: IN_PROGRESS, no AccountId */
        json_t *out = json_pack("{s:s, s:s, s:s, s:f}", "Id", car, "AccountName", name, "State", "IN_PROGRESS",
                                "RequestedTimestamp", org_now(c));
        c->output = json_object();
        json_object_set_new(c->output, "CreateAccountStatus", out);
    }
    json_decref(st);
    json_decref(o);
    return e;
}

static gt_err h_describe_cas(gt_call *c, store_txn *t)
{
    gt_err e;
    json_t *o = org_mine(c, t, true, &e);
    if (!o)
        return e;
    const char *id = gt_in_str(c, "CreateAccountRequestId");
    json_t *all = org_children(t, ORG_KIND_CAR, org_id_of(o), "Status");
    json_decref(o);
    if (!all)
        return GT_E_UNAVAILABLE;
    size_t i;
    json_t *s, *hit = NULL;
    json_array_foreach(all, i, s) {
        if (id && jstr(s, "Id") && strcmp(jstr(s, "Id"), id) == 0)
            hit = s;
    }
    if (!hit) {
        json_decref(all);
        return gt_call_fail(c, GT_E_ORG_CAS_NOT_FOUND,
                            "We can't find an create account request with the CreateAccountRequestId that you specified.");
    }
    c->output = json_object();
    json_object_set(c->output, "CreateAccountStatus", hit);
    json_decref(all);
    return GT_OK;
}

static gt_err h_list_cas(gt_call *c, store_txn *t)
{
    gt_err e;
    json_t *o = org_mine(c, t, true, &e);
    if (!o)
        return e;
    json_t *all = org_children(t, ORG_KIND_CAR, org_id_of(o), "Status");
    if (!all) {
        json_decref(o);
        return GT_E_UNAVAILABLE;
    }
    json_t *states = json_object_get(c->input, "States");
    if (json_array_size(states) > 0) {
        json_t *keep = json_array();
        size_t i, j;
        json_t *s, *v;
        json_array_foreach(all, i, s) {
            json_array_foreach(states, j, v) {
                if (json_string_value(v) && jstr(s, "State") && strcmp(json_string_value(v), jstr(s, "State")) == 0) {
                    json_array_append(keep, s);
                    break;
                }
            }
        }
        json_decref(all);
        all = keep;
    }
    gt_err r = org_page(c, all, "CreateAccountStatuses", "cas", org_id_of(o));
    json_decref(o);
    return r;
}

/* ---------------------------------------------------------------- trusted access */

static gt_err org_set_access(gt_call *c, store_txn *t, bool on)
{
    gt_err e;
    json_t *o = org_mine(c, t, true, &e);
    if (!o)
        return e;
    const char *sp = gt_in_str(c, "ServicePrincipal");
    if (!sp || !*sp || !strchr(sp, '.')) {
        json_decref(o);
        return gt_call_fail(c, GT_E_ORG_INVALID_INPUT, "You specified an invalid service principal: %s", sp ? sp : "");
    }
    json_t *svcs = json_object_get(o, "Services");
    if (!json_is_array(svcs)) {
        svcs = json_array();
        json_object_set_new(o, "Services", svcs);
    }
    size_t i;
    json_t *s;
    int at = -1;
    json_array_foreach(svcs, i, s) {
        if (jstr(s, "ServicePrincipal") && strcmp(jstr(s, "ServicePrincipal"), sp) == 0)
            at = (int)i;
    }
    bool changed = false;
    if (on && at < 0) {   /* enabling twice changes nothing */
        json_array_append_new(svcs, json_pack("{s:s, s:f}", "ServicePrincipal", sp, "DateEnabled", org_now(c)));
        changed = true;
    } else if (!on && at >= 0) {
        json_array_remove(svcs, (size_t)at);
        changed = true;
    }
    if (changed)
        e = org_save(t, ORG_KIND_ORG, org_id_of(o), NULL, o);
    if (e == GT_OK)
        c->output = json_object();
    json_decref(o);
    return e;
}

static gt_err h_enable_access(gt_call *c, store_txn *t)
{
    return org_set_access(c, t, true);
}

static gt_err h_disable_access(gt_call *c, store_txn *t)
{
    return org_set_access(c, t, false);
}

static gt_err h_list_access(gt_call *c, store_txn *t)
{
    gt_err e;
    json_t *o = org_mine(c, t, true, &e);
    if (!o)
        return e;
    json_t *all = json_deep_copy(json_object_get(o, "Services"));
    gt_err r = org_page(c, all ? all : json_array(), "EnabledServicePrincipals", "svc", org_id_of(o));
    json_decref(o);
    return r;
}

/* ---------------------------------------------------------------- handshakes */

/* The handshake h-id as the caller may see it (its target or the inviting
 * organization's management account), else an error. */
static json_t *org_hs_load(gt_call *c, store_txn *t, gt_err *e)
{
    const char *id = gt_in_str(c, "HandshakeId");
    json_t *d = id ? org_load(t, ORG_KIND_HS, id) : NULL;
    const char *target = jstr(d, "target"), *mgmt = jstr(d, "mgmt");
    if (!d || !target || !mgmt || (strcmp(target, c->account) != 0 && strcmp(mgmt, c->account) != 0)) {
        json_decref(d);
        *e = gt_call_fail(c, GT_E_ORG_HS_NOT_FOUND, "We can't find a handshake with the HandshakeId that you specified.");
        return NULL;
    }
    *e = GT_OK;
    return d;
}

static gt_err h_invite(gt_call *c, store_txn *t)
{
    gt_err e;
    json_t *o = org_mine(c, t, true, &e);
    if (!o)
        return e;
    json_t *target = json_object_get(c->input, "Target");
    const char *type = jstr(target, "Type"), *acct = jstr(target, "Id");
    if (!type || strcmp(type, "ACCOUNT") != 0 || !org_is_account_id(acct)) {
        json_decref(o);
        /* greentrail accounts have no e-mail addresses */
        return gt_call_fail(c, GT_E_ORG_INVALID_INPUT,
                            "You provided a value that does not match the required pattern: greentrail invites "
                            "accounts by Type ACCOUNT and a 12-digit Id.");
    }
    if (!org_account_exists(t, acct)) {
        json_decref(o);
        return gt_call_fail(c, GT_E_ORG_ACCOUNT_NOT_FOUND, "You specified an account that doesn't exist.");
    }
    json_t *m = org_load(t, ORG_KIND_MEMBER, acct);
    if (m) {
        bool same = jstr(m, "org") && strcmp(jstr(m, "org"), org_id_of(o)) == 0;
        json_decref(m);
        json_decref(o);
        if (same)
            return gt_call_fail(c, GT_E_ORG_DUPLICATE_ACCOUNT, "That account is already present in the specified destination.");
        return gt_call_fail(c, GT_E_ORG_HS_CONSTRAINT,
                            "The account is already a member of another organization (ALREADY_IN_AN_ORGANIZATION).");
    }
    json_t *open = org_children(t, ORG_KIND_HS, acct, NULL);
    size_t i;
    json_t *hid;
    json_array_foreach(open, i, hid) {
        json_t *d = org_load(t, ORG_KIND_HS, json_string_value(hid));
        bool dup = jstr(d, "org") && strcmp(jstr(d, "org"), org_id_of(o)) == 0 &&
                   strcmp(jstr(json_object_get(d, "Handshake"), "State"), "OPEN") == 0;
        json_decref(d);
        if (dup) {
            json_decref(open);
            json_decref(o);
            return gt_call_fail(c, GT_E_ORG_DUP_HANDSHAKE, "A handshake with the same action and target already exists.");
        }
    }
    json_decref(open);
    char hs[48], arn[256];
    if (!org_new_id(hs, sizeof hs, "h-", 32)) {
        json_decref(o);
        return GT_E_INTERNAL;
    }
    const char *oid = org_id_of(o);
    snprintf(arn, sizeof arn, "arn:aws:organizations::%s:handshake/%s/invite/%s", org_mgmt_of(o), oid, hs);
    json_t *org = json_object_get(o, "Organization");
    json_t *res = json_pack("[{s:s, s:s, s:[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}]}, {s:s, s:s}]", "Value", oid, "Type",
                            "ORGANIZATION", "Resources", "Value", jstr(org, "MasterAccountEmail"), "Type",
                            "MASTER_EMAIL", "Value", org_mgmt_of(o), "Type", "MASTER_NAME", "Value",
                            jstr(org, "FeatureSet"), "Type", "ORGANIZATION_FEATURE_SET", "Value", acct, "Type",
                            "ACCOUNT");
    const char *notes = gt_in_str(c, "Notes");
    if (notes && res)
        json_array_append_new(res, json_pack("{s:s, s:s}", "Value", notes, "Type", "NOTES"));
    json_t *h = json_pack("{s:s, s:s, s:[{s:s, s:s}, {s:s, s:s}], s:s, s:f, s:f, s:s, s:o}", "Id", hs, "Arn", arn,
                          "Parties", "Id", oid + 2, "Type", "ORGANIZATION", "Id", acct, "Type", "ACCOUNT", "State",
                          "OPEN", "RequestedTimestamp", org_now(c), "ExpirationTimestamp",
                          org_now(c) + ORG_HS_TTL_S, "Action", "INVITE", "Resources", res);
    json_t *doc = h ? json_pack("{s:s, s:s, s:s, s:O}", "org", oid, "mgmt", org_mgmt_of(o), "target", acct,
                                "Handshake", h)
                    : NULL;
    e = doc ? org_save(t, ORG_KIND_HS, hs, acct, doc) : GT_E_NOMEM;
    json_decref(doc);
    json_decref(o);
    if (e != GT_OK) {
        json_decref(h);
        return e;
    }
    c->output = json_object();
    json_object_set_new(c->output, "Handshake", h);
    return GT_OK;
}

/* Accept, decline or cancel: the OPEN handshake moves to `state`. */
static gt_err org_hs_finish(gt_call *c, store_txn *t, const char *state)
{
    gt_err e;
    json_t *d = org_hs_load(c, t, &e);
    if (!d)
        return e;
    json_t *h = json_object_get(d, "Handshake");
    bool cancel = strcmp(state, "CANCELED") == 0;
    const char *who = cancel ? jstr(d, "mgmt") : jstr(d, "target");
    if (strcmp(who, c->account) != 0) {
        json_decref(d);
        return gt_call_fail(c, GT_E_ORG_ACCESS_DENIED, "You don't have permissions to access this resource.");
    }
    if (strcmp(jstr(h, "State"), "OPEN") != 0) {
        json_decref(d);
        return gt_call_fail(c, GT_E_ORG_HS_TRANSITION, "You can't perform the operation on the handshake in its current state.");
    }
    if (strcmp(state, "ACCEPTED") == 0) {
        json_t *m = org_load(t, ORG_KIND_MEMBER, c->account);
        json_t *o = org_load(t, ORG_KIND_ORG, jstr(d, "org"));
        if (m || !o) {
            json_decref(m);
            json_decref(o);
            json_decref(d);
            if (m)
                return gt_call_fail(c, GT_E_ORG_ALREADY_IN, "The AWS account is already a member of an organization.");
            return gt_call_fail(c, GT_E_ORG_HS_TRANSITION, "The organization that sent this invitation no longer exists.");
        }
        e = org_add_member(c, t, o, c->account, NULL, NULL, "INVITED", false);
        json_decref(o);
        if (e != GT_OK) {
            json_decref(d);
            return e;
        }
    }
    json_object_set_new(h, "State", json_string(state));
    e = org_save(t, ORG_KIND_HS, jstr(h, "Id"), jstr(d, "target"), d);
    if (e == GT_OK) {
        c->output = json_object();
        json_object_set(c->output, "Handshake", h);
    }
    json_decref(d);
    return e;
}

static gt_err h_accept(gt_call *c, store_txn *t)
{
    return org_hs_finish(c, t, "ACCEPTED");
}

static gt_err h_decline(gt_call *c, store_txn *t)
{
    return org_hs_finish(c, t, "DECLINED");
}

static gt_err h_cancel(gt_call *c, store_txn *t)
{
    return org_hs_finish(c, t, "CANCELED");
}

static gt_err h_describe_hs(gt_call *c, store_txn *t)
{
    gt_err e;
    json_t *d = org_hs_load(c, t, &e);
    if (!d)
        return e;
    c->output = json_object();
    json_object_set(c->output, "Handshake", json_object_get(d, "Handshake"));
    json_decref(d);
    return GT_OK;
}

static gt_err h_list_hs_account(gt_call *c, store_txn *t)
{
    return org_page(c, org_children(t, ORG_KIND_HS, c->account, "Handshake"), "Handshakes", "hs", c->account);
}

/* ---------------------------------------------------------------- leaving */

static gt_err org_remove(gt_call *c, store_txn *t, const char *acct, const json_t *o)
{
    if (strcmp(acct, org_mgmt_of(o)) == 0)
        return gt_call_fail(c, GT_E_ORG_MASTER_CANNOT_LEAVE,
                            "You can't remove a management account from an organization.");
    json_t *m = org_load(t, ORG_KIND_MEMBER, acct);
    bool in = jstr(m, "org") && strcmp(jstr(m, "org"), org_id_of(o)) == 0;
    json_decref(m);
    if (!in)
        return gt_call_fail(c, GT_E_ORG_ACCOUNT_NOT_FOUND, "You specified an account that doesn't exist.");
    gt_err e = org_drop(t, ORG_KIND_MEMBER, acct);
    if (e == GT_OK)
        c->output = json_object();
    return e;
}

static gt_err h_remove_account(gt_call *c, store_txn *t)
{
    gt_err e;
    json_t *o = org_mine(c, t, true, &e);
    if (!o)
        return e;
    const char *acct = gt_in_str(c, "AccountId");
    e = org_remove(c, t, acct ? acct : "", o);
    json_decref(o);
    return e;
}

static gt_err h_leave(gt_call *c, store_txn *t)
{
    gt_err e;
    json_t *o = org_mine(c, t, false, &e);
    if (!o)
        return e;
    e = org_remove(c, t, c->account, o);
    json_decref(o);
    return e;
}

/* ---------------------------------------------------------------- the service */

static const struct {
    const char *op;
    gt_handler h;
} handlers[] = {
    {"AcceptHandshake", h_accept},
    {"CancelHandshake", h_cancel},
    {"CreateAccount", h_create_account},
    {"CreateOrganization", h_create_org},
    {"DeclineHandshake", h_decline},
    {"DeleteOrganization", h_delete_org},
    {"DescribeAccount", h_describe_account},
    {"DescribeCreateAccountStatus", h_describe_cas},
    {"DescribeHandshake", h_describe_hs},
    {"DescribeOrganization", h_describe_org},
    {"DisableAWSServiceAccess", h_disable_access},
    {"EnableAWSServiceAccess", h_enable_access},
    {"InviteAccountToOrganization", h_invite},
    {"LeaveOrganization", h_leave},
    {"ListAWSServiceAccessForOrganization", h_list_access},
    {"ListAccounts", h_list_accounts},
    {"ListCreateAccountStatus", h_list_cas},
    {"ListHandshakesForAccount", h_list_hs_account},
    {"ListRoots", h_list_roots},
    {"RemoveAccountFromOrganization", h_remove_account},
};

static gt_handler org_handler_for(const char *op)
{
    for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++)
        if (strcmp(handlers[i].op, op) == 0)
            return handlers[i].h;
    return NULL;
}

/* Organizations records use lowerCamelCase member names ("accountId"). */
static json_t *org_camel(const json_t *v)
{
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t i;
        json_t *x;
        json_array_foreach((json_t *)v, i, x)
            json_array_append_new(a, org_camel(x));
        return a;
    }
    if (!json_is_object(v))
        return json_deep_copy(v);
    json_t *o = json_object();
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)v, k, x) {
        char ck[128];
        gt_strlcpy(ck, k, sizeof ck);
        /* a leading run of capitals is lowered except before a lower-case
         * letter: "AWSServicePrincipal" -> "awsServicePrincipal", "Id" -> "id" */
        for (size_t i = 0; ck[i] >= 'A' && ck[i] <= 'Z'; i++) {
            if (i > 0 && ck[i + 1] >= 'a' && ck[i + 1] <= 'z')
                break;
            ck[i] = (char)(ck[i] - 'A' + 'a');
        }
        json_object_set_new(o, ck, org_camel(x));
    }
    return o;
}

/* Records: input and (for writes) output in lowerCamelCase; CreateAccount's
 * e-mail address and account name appear as HIDDEN_DUE_TO_SECURITY_REASONS
 * (as AWS records them, from memory). */
static void org_parts(const gt_call *c, ct_record_parts *p)
{
    p->request_parameters = json_object_size(c->input) ? org_camel(c->input) : NULL;
    if (p->request_parameters && strcmp(c->op->name, "CreateAccount") == 0) {
        if (json_object_get(p->request_parameters, "email"))
            json_object_set_new(p->request_parameters, "email", json_string("HIDDEN_DUE_TO_SECURITY_REASONS"));
        if (json_object_get(p->request_parameters, "accountName"))
            json_object_set_new(p->request_parameters, "accountName", json_string("HIDDEN_DUE_TO_SECURITY_REASONS"));
    }
    p->response_elements = NULL;
    if (c->err == GT_OK && !c->op->read_only && c->output && json_object_size(c->output) > 0)
        p->response_elements = org_camel(c->output);
    p->with_error_message = true;
}

static gt_err org_map_error(const model_op *op, gt_err e, const char *msg)
{
    (void)op;
    (void)msg;
    return e == GT_E_VALIDATION ? GT_E_ORG_INVALID_INPUT : e;
}

const gt_service org_service = {
    .signing_name = "organizations",
    .model = &model_organizations,
    .decode = api_json_decode,
    .handler_for = org_handler_for,
    .record_parts = org_parts,
    .map_error = org_map_error,
    .encode_ok = gt_encode_json_ok,
    .encode_error = gt_encode_awsjson_error,
};
