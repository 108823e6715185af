/*
 * sts.c: the STS service (query protocol, sts 2011-06-15):
 * GetCallerIdentity, AssumeRole, GetSessionToken, GetFederationToken.
 *
 * Temporary credentials are access_key documents (auth/identity.c) with
 * "ASIA" ids, an expiry, the SHA-256 of their session token (the token
 * itself is never stored) and the session's issuer, so SigV4 and
 * CloudTrail's userIdentity.sessionContext work from the key alone.
 *
 * Rules kept from AWS:
 *  - root cannot assume roles; session credentials cannot call
 *    GetSessionToken or GetFederationToken (AccessDenied);
 *  - AssumeRole needs the caller's own Allow for sts:AssumeRole on the
 *    role (checked by auth_authorize before the handler) AND the role's
 *    trust policy naming the caller (its ARN, its account id or
 *    arn:aws:iam::ACCT:root) -- both within and across accounts;
 *  - DurationSeconds: AssumeRole 900..MaxSessionDuration (default 3600),
 *    GetSessionToken/GetFederationToken 900..129600 (default 43200; root 3600);
 *  - a federated user without a session policy has no permissions.
 * MFA: no MFA devices are modelled; a GetSessionToken/AssumeRole call
 * that carries SerialNumber and a 6-digit TokenCode yields an
 * mfaAuthenticated session (documented simplification).
 *
 * Cross-account AssumeRole is recorded in the caller's account (the call)
 * and in the role's account, sharing a sharedEventID (sts_record_parts).
 */
#include "sts/sts.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/query.h"
#include "api/service.h"
#include "cloudtrail/ct_record.h"
#include "auth/identity.h"
#include "auth/policy.h"
#include "iam/iam.h"
#include "sts/webid.h"
#include "util/gtutil.h"

static const char TOKEN_ALPHA[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Expired sessions are removed some time after expiry (so a late caller
 * still hears ExpiredToken for a while), a few per issued session: each
 * session has an "sts.session" index doc in insertion order; the oldest
 * STS_SWEEP are looked at each time. A long session at the front only
 * delays the sweep until it expires itself. */
#define STS_SWEEP 16
#define STS_KEEP_EXPIRED_MS (24LL * 3600 * 1000)

typedef struct sweep_ctx {
    int64_t cutoff;
    char ids[STS_SWEEP][32];
    int n;
} sweep_ctx;

static int sweep_cb(void *ud, int64_t seq, const char *id, const char *body)
{
    sweep_ctx *s = ud;
    json_t *j = json_loads(body, 0, NULL);
    int64_t exp = (int64_t)json_integer_value(json_object_get(j, "expiresMs"));
    json_decref(j);
    if (exp < s->cutoff && s->n < STS_SWEEP)
        gt_strlcpy(s->ids[s->n++], id, sizeof s->ids[0]);
    return 0;
}

static gt_err sweep_expired(store_txn *t, int64_t now_ms)
{
    sweep_ctx s = {.cutoff = now_ms - STS_KEEP_EXPIRED_MS};
    if (store_doc_list(t, "", "", "sts.session", NULL, 0, false, STS_SWEEP, sweep_cb, &s) != STORE_OK)
        return GT_E_UNAVAILABLE;
    for (int i = 0; i < s.n; i++) {
        store_key k = {"", "", "sts.session", s.ids[i]};
        if (auth_delete_key(t, s.ids[i]) == STORE_ERR || store_doc_delete(t, &k) == STORE_ERR)
            return GT_E_UNAVAILABLE;
    }
    return GT_OK;
}

/* Issue temporary credentials for p (type, ids, issuer already set):
 * new ASIA key, secret and token, stored; c->output gets Credentials. */
static gt_err issue(gt_call *c, store_txn *t, auth_principal *p, int64_t duration_s)
{
    char token[357];
    memcpy(token, "IQoJb3JpZ2luX2VjE", 17);
    if (!auth_new_key(p, "ASIA") || !gt_random_chars(token + 17, 339, TOKEN_ALPHA))
        return GT_E_INTERNAL;
    p->temporary = true;
    p->created_ms = c->now_ms;
    p->expires_ms = c->now_ms + duration_s * 1000;
    auth_sha256_hex(token, strlen(token), p->token_sha256);
    gt_err e = auth_put_key(t, p);
    if (e == GT_OK) {
        char body[64];
        snprintf(body, sizeof body, "{\"expiresMs\":%lld}", (long long)p->expires_ms);
        store_key k = {"", "", "sts.session", p->access_key_id};
        e = store_doc_put(t, &k, NULL, body) == STORE_OK ? sweep_expired(t, c->now_ms) : GT_E_UNAVAILABLE;
    }
    if (e != GT_OK)
        return e;
    char exp[21];
    gt_fmt_iso_s(p->expires_ms / 1000, exp);
    if (!c->output)
        c->output = json_object();
    json_object_set_new(c->output, "Credentials",
                        json_pack("{s:s, s:s, s:s, s:s}", "AccessKeyId", p->access_key_id, "SecretAccessKey",
                                  p->secret, "SessionToken", token, "Expiration", exp));
    OPENSSL_cleanse(p->secret, sizeof p->secret);
    OPENSSL_cleanse(token, sizeof token);
    return GT_OK;
}

static int64_t duration(const gt_call *c, int64_t def)
{
    json_t *d = json_object_get(c->input, "DurationSeconds");
    return json_is_integer(d) ? (int64_t)json_integer_value(d) : def;
}

static bool mfa_given(const gt_call *c)
{
    const char *sn = gt_in_str(c, "SerialNumber"), *tc = gt_in_str(c, "TokenCode");
    return sn && tc && strlen(tc) == 6 && strspn(tc, "0123456789") == 6;
}

static gt_err session_policy(gt_call *c, auth_principal *p)
{
    const char *pol = gt_in_str(c, "Policy");
    if (!pol)
        return GT_OK;
    char why[256];
    if (!auth_policy_valid(pol, false, why, sizeof why))
        return gt_call_fail(c, GT_E_STS_MALFORMED_POLICY, "%s", why);
    if (!gt_strlcpy(p->session_policy, pol, sizeof p->session_policy))
        return gt_call_fail(c, GT_E_Q_VALIDATION, "Policy exceeds the maximum allowed size.");
    json_object_set_new(c->output, "PackedPolicySize", json_integer((json_int_t)(strlen(pol) * 100 / 2048)));
    return GT_OK;
}

static gt_err h_get_caller_identity(gt_call *c, store_txn *t)
{
    const auth_principal *w = c->who;
    c->output = json_pack("{s:s, s:s, s:s}", "UserId", w->principal_id, "Account", w->account_id, "Arn", w->arn);
    return GT_OK;
}

/* "arn:aws:iam::ACCT:role/path/NAME" -> account and name. */
static bool parse_role_arn(const char *arn, char *acct, size_t acap, char *name, size_t ncap)
{
    static const char pfx[] = "arn:aws:iam::";
    if (strncmp(arn, pfx, sizeof pfx - 1) != 0)
        return false;
    const char *a = arn + sizeof pfx - 1;
    const char *colon = strchr(a, ':');
    if (!colon || colon - a != 12 || strncmp(colon + 1, "role/", 5) != 0)
        return false;
    snprintf(acct, acap, "%.12s", a);
    const char *slash = strrchr(colon, '/');
    return gt_strlcpy(name, slash + 1, ncap) && name[0];
}

/* Cross-account AssumeRole: the role's account records the call too, as
 * done by an AWSAccount, both records sharing sharedEventID. The caller's
 * record is written by the dispatcher (iam_record_parts reads the id
 * from the internal output member "_sharedEventID", which the XML
 * encoder ignores: it is no member of the output shape). */
static gt_err record_in_role_account(gt_call *c, store_txn *t, const char *acct)
{
    char shared[37], event_id[37];
    gt_uuid4(shared);
    gt_uuid4(event_id);
    json_object_set_new(c->output, "_sharedEventID", json_string(shared));
    gt_call c2 = *c;
    c2.account = acct;
    ct_record_parts parts = {0};
    iam_record_parts(&c2, &parts);
    int64_t when = gt_now_ms();
    json_t *rec = ct_record_build(&c2, &parts, event_id, when);
    json_decref(parts.request_parameters);
    json_decref(parts.response_elements);
    if (!rec)
        return GT_E_NOMEM;
    json_object_set_new(rec, "userIdentity", json_pack("{s:s, s:s, s:s}", "type", "AWSAccount", "principalId",
                                                       c->who->principal_id, "accountId", c->who->account_id));
    char *text = json_dumps(rec, JSON_COMPACT);
    json_decref(rec);
    if (!text)
        return GT_E_NOMEM;
    const char *types[1] = {"AWS::IAM::Role"}, *names[1] = {gt_in_str(c, "RoleArn")};
    store_event ev = {.account = acct, .region = c->region, .time_ms = when, .event_id = event_id,
                      .event_name = c->op->name, .event_source = c->svc->event_source, .read_only = c->op->read_only,
                      .n_res = 1, .res_types = types, .res_names = names, .json = text};
    int rc = store_event_append(t, &ev, NULL);
    free(text);
    return rc == STORE_OK ? GT_OK : GT_E_UNAVAILABLE;
}

static gt_err h_assume_role(gt_call *c, store_txn *t)
{
    const auth_principal *w = c->who;
    const char *role_arn = gt_in_str(c, "RoleArn");
    const char *sess = gt_in_str(c, "RoleSessionName");
    char acct[16], name[128];
    if (strcmp(w->type, "Root") == 0)
        return gt_call_fail(c, GT_E_Q_ACCESS_DENIED, "Roles may not be assumed by root accounts.");
    if (!parse_role_arn(role_arn, acct, sizeof acct, name, sizeof name))
        return gt_call_fail(c, GT_E_Q_VALIDATION, "%s is invalid", role_arn);
    json_t *doc = iam_get_role(t, acct, name);
    json_t *role = json_object_get(doc, "Role");
    const char *stored_arn = json_string_value(json_object_get(role, "Arn"));
    json_t *trust = role ? json_loads(json_string_value(json_object_get(role, "AssumeRolePolicyDocument")), 0, NULL)
                         : NULL;
    auth_req_ctx r;
    auth_req_from_call(c, &r);
    r.action = "sts:AssumeRole";
    r.resource = role_arn;
    /* STS's own condition keys for trust policies (lower-case for lookup) */
    r.extra = json_pack("{s:s, s:s?}", "sts:rolesessionname", sess, "sts:externalid", gt_in_str(c, "ExternalId"));
    auth_decision d = AUTH_IMPLICIT_DENY;
    if (trust && stored_arn && strcmp(stored_arn, role_arn) == 0) {
        d = auth_trust_eval(trust, &r, "AWS", w->arn, w->account_id);
        if (d == AUTH_IMPLICIT_DENY && w->issuer.arn[0])   /* role chaining: the role's ARN counts too */
            d = auth_trust_eval(trust, &r, "AWS", w->issuer.arn, w->account_id);
    }
    json_decref(trust);
    json_decref(r.extra);
    if (d != AUTH_ALLOW) {
        json_decref(doc);
        return gt_call_fail(c, GT_E_Q_ACCESS_DENIED, "User: %s is not authorized to perform: sts:AssumeRole on resource: %s",
                            w->arn, role_arn);
    }
    int64_t max = json_integer_value(json_object_get(role, "MaxSessionDuration"));
    int64_t dur = duration(c, 3600);
    if (max <= 0)
        max = 3600;
    if (dur > max) {
        json_decref(doc);
        return gt_call_fail(c, GT_E_Q_VALIDATION, "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.");
    }
    auth_principal p = {0};
    const char *role_id = json_string_value(json_object_get(role, "RoleId"));
    gt_strlcpy(p.type, "AssumedRole", sizeof p.type);
    snprintf(p.principal_id, sizeof p.principal_id, "%s:%s", role_id, sess);
    snprintf(p.arn, sizeof p.arn, "arn:aws:sts::%s:assumed-role/%s/%s", acct, name, sess);
    gt_strlcpy(p.account_id, acct, sizeof p.account_id);
    gt_strlcpy(p.session_name, sess, sizeof p.session_name);
    gt_strlcpy(p.issuer.type, "Role", sizeof p.issuer.type);
    gt_strlcpy(p.issuer.principal_id, role_id, sizeof p.issuer.principal_id);
    gt_strlcpy(p.issuer.arn, stored_arn, sizeof p.issuer.arn);
    gt_strlcpy(p.issuer.account_id, acct, sizeof p.issuer.account_id);
    gt_strlcpy(p.issuer.user_name, name, sizeof p.issuer.user_name);
    p.mfa = mfa_given(c) || (w->temporary && w->mfa);
    json_decref(doc);
    c->output = json_object();
    gt_err e = session_policy(c, &p);
    if (e == GT_OK)
        e = issue(c, t, &p, dur);
    if (e != GT_OK)
        return e;
    json_object_set_new(c->output, "AssumedRoleUser",
                        json_pack("{s:s, s:s}", "AssumedRoleId", p.principal_id, "Arn", p.arn));
    gt_call_add_resource(c, "AWS::IAM::Role", role_arn);
    json_t *res = json_array_get(c->resources, json_array_size(c->resources) - 1);
    json_object_set_new(res, "accountId", json_string(acct));
    if (strcmp(acct, c->account) != 0)
        return record_in_role_account(c, t, acct);
    return GT_OK;
}

static gt_err h_get_session_token(gt_call *c, store_txn *t)
{
    const auth_principal *w = c->who;
    if (w->temporary)
        return gt_call_fail(c, GT_E_Q_ACCESS_DENIED, "Cannot call GetSessionToken with session credentials");
    bool root = strcmp(w->type, "Root") == 0;
    int64_t dur = duration(c, root ? 3600 : 43200);
    if (root && dur > 3600)
        dur = 3600;   /* AWS caps root sessions at one hour */
    auth_principal p = {0};
    gt_strlcpy(p.type, w->type, sizeof p.type);
    gt_strlcpy(p.principal_id, w->principal_id, sizeof p.principal_id);
    gt_strlcpy(p.arn, w->arn, sizeof p.arn);
    gt_strlcpy(p.account_id, w->account_id, sizeof p.account_id);
    gt_strlcpy(p.user_name, w->user_name, sizeof p.user_name);
    p.mfa = mfa_given(c);
    return issue(c, t, &p, dur);
}

static gt_err h_get_federation_token(gt_call *c, store_txn *t)
{
    const auth_principal *w = c->who;
    if (w->temporary)
        return gt_call_fail(c, GT_E_Q_ACCESS_DENIED, "Cannot call GetFederationToken with session credentials");
    const char *name = gt_in_str(c, "Name");
    bool root = strcmp(w->type, "Root") == 0;
    auth_principal p = {0};
    gt_strlcpy(p.type, "FederatedUser", sizeof p.type);
    snprintf(p.principal_id, sizeof p.principal_id, "%s:%s", w->account_id, name);
    snprintf(p.arn, sizeof p.arn, "arn:aws:sts::%s:federated-user/%s", w->account_id, name);
    gt_strlcpy(p.account_id, w->account_id, sizeof p.account_id);
    gt_strlcpy(p.session_name, name, sizeof p.session_name);
    gt_strlcpy(p.issuer.type, root ? "Root" : "IAMUser", sizeof p.issuer.type);
    gt_strlcpy(p.issuer.principal_id, w->principal_id, sizeof p.issuer.principal_id);
    gt_strlcpy(p.issuer.arn, w->arn, sizeof p.issuer.arn);
    gt_strlcpy(p.issuer.account_id, w->account_id, sizeof p.issuer.account_id);
    gt_strlcpy(p.issuer.user_name, root ? "" : w->user_name, sizeof p.issuer.user_name);
    /* no session policy: the federated user can do nothing [AWS doc] */
    gt_strlcpy(p.session_policy, "{\"Statement\":[]}", sizeof p.session_policy);
    c->output = json_object();
    gt_err e = session_policy(c, &p);
    if (e == GT_OK)
        e = issue(c, t, &p, duration(c, root ? 3600 : 43200));
    if (e != GT_OK)
        return e;
    json_object_set_new(c->output, "FederatedUser",
                        json_pack("{s:s, s:s}", "FederatedUserId", p.principal_id, "Arn", p.arn));
    return GT_OK;
}

/* ---------------------------------------------------------------- web identity */

/* "https://host/path" -> "host/path" (IAM's provider URL form). */
static const char *strip_https(const char *iss)
{
    return iss && strncmp(iss, "https://", 8) == 0 ? iss + 8 : iss;
}

/* The token's audience matching one of the provider's client ids, or NULL. */
static const char *match_aud(const json_t *claims, const json_t *client_ids)
{
    const json_t *aud = json_object_get(claims, "aud");
    size_t i, j;
    json_t *a, *cid;
    json_array_foreach(client_ids, j, cid) {
        if (json_is_string(aud) && strcmp(json_string_value(aud), json_string_value(cid)) == 0)
            return json_string_value(aud);
        json_array_foreach(aud, i, a)
            if (json_is_string(a) && strcmp(json_string_value(a), json_string_value(cid)) == 0)
                return json_string_value(a);
    }
    return NULL;
}

static gt_err bad_token(gt_call *c, const char *why)
{
    return gt_call_fail(c, GT_E_STS_INVALID_IDENTITY_TOKEN, "%s", why);
}

static gt_err h_assume_role_web(gt_call *c, store_txn *t)
{
    const char *role_arn = gt_in_str(c, "RoleArn");
    const char *sess = gt_in_str(c, "RoleSessionName");
    const char *token = gt_in_str(c, "WebIdentityToken");
    char acct[16], name[128], parn[1200];
    if (!parse_role_arn(role_arn, acct, sizeof acct, name, sizeof name))
        return gt_call_fail(c, GT_E_Q_VALIDATION, "%s is invalid", role_arn);
    json_t *unv = sts_jwt_claims_unverified(token);
    const char *iss = json_string_value(json_object_get(unv, "iss"));
    if (!iss) {
        json_decref(unv);
        return bad_token(c, "The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)");
    }
    snprintf(parn, sizeof parn, "arn:aws:iam::%s:oidc-provider/%s", acct, strip_https(iss));
    json_decref(unv);
    json_t *prov = iam_get_oidc(t, acct, parn);
    if (!prov)
        return bad_token(c, "No OpenIDConnect provider found in your account for the token's issuer");
    const char *keys = json_string_value(json_object_get(prov, "Keys"));
    json_t *claims = NULL;
    sts_jwt_result jr = keys ? sts_jwt_verify(token, keys, &claims) : STS_JWT_NO_KEY;
    if (jr != STS_JWT_OK) {
        json_decref(prov);
        return bad_token(c, jr == STS_JWT_NO_KEY ? "Couldn't retrieve verification key from your identity provider"
                                                  : "Invalid token signature or format");
    }
    gt_err e = GT_OK;
    const char *url = json_string_value(json_object_get(prov, "Url"));
    const char *viss = json_string_value(json_object_get(claims, "iss"));
    const char *sub = json_string_value(json_object_get(claims, "sub"));
    const char *aud = match_aud(claims, json_object_get(prov, "ClientIDList"));
    json_t *exp = json_object_get(claims, "exp"), *nbf = json_object_get(claims, "nbf");
    int64_t now_s = c->now_ms / 1000;
    if (!viss || !url || strcmp(strip_https(viss), url) != 0 || strncmp(viss, "https://", 8) != 0)
        e = bad_token(c, "Issuer of the token does not match the OpenIDConnect provider");
    else if (!aud)
        e = bad_token(c, "Incorrect token audience");
    else if (!sub)
        e = bad_token(c, "The token has no subject");
    else if (!json_is_number(exp) || json_number_value(exp) <= (double)now_s)
        e = gt_call_fail(c, GT_E_STS_EXPIRED_IDENTITY_TOKEN, "Token is expired");
    else if (json_is_number(nbf) && json_number_value(nbf) > (double)now_s + 300)
        e = bad_token(c, "Token is not yet valid");
    json_t *doc = e == GT_OK ? iam_get_role(t, acct, name) : NULL;
    json_t *role = json_object_get(doc, "Role");
    if (e == GT_OK) {
        json_t *trust = role ? json_loads(json_string_value(json_object_get(role, "AssumeRolePolicyDocument")), 0, NULL)
                             : NULL;
        auth_req_ctx r;
        auth_req_from_call(c, &r);
        r.action = "sts:AssumeRoleWithWebIdentity";
        r.resource = role_arn;
        /* the provider's condition keys, e.g. "example.com/id:aud" (lower-case for lookup) */
        r.extra = json_object();
        static const char *const suffix[2] = {"aud", "sub"};
        const char *vals[2] = {aud, sub};
        for (int i = 0; i < 2; i++) {
            char k[1100];
            snprintf(k, sizeof k, "%s:%s", url, suffix[i]);
            for (char *q = k; *q; q++)
                *q = (char)((*q >= 'A' && *q <= 'Z') ? *q + 32 : *q);
            json_object_set_new(r.extra, k, json_string(vals[i]));
        }
        auth_decision d = trust ? auth_trust_eval(trust, &r, "Federated", parn, NULL) : AUTH_IMPLICIT_DENY;
        json_decref(r.extra);
        json_decref(trust);
        if (d != AUTH_ALLOW)
            e = gt_call_fail(c, GT_E_Q_ACCESS_DENIED, "Not authorized to perform sts:AssumeRoleWithWebIdentity");
    }
    int64_t dur = duration(c, 3600);
    int64_t max = json_integer_value(json_object_get(role, "MaxSessionDuration"));
    if (e == GT_OK && dur > (max > 0 ? max : 3600))
        e = gt_call_fail(c, GT_E_Q_VALIDATION, "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.");
    auth_principal p = {0};
    if (e == GT_OK) {
        const char *role_id = json_string_value(json_object_get(role, "RoleId"));
        gt_strlcpy(p.type, "AssumedRole", sizeof p.type);
        snprintf(p.principal_id, sizeof p.principal_id, "%s:%s", role_id, sess);
        snprintf(p.arn, sizeof p.arn, "arn:aws:sts::%s:assumed-role/%s/%s", acct, name, sess);
        gt_strlcpy(p.account_id, acct, sizeof p.account_id);
        gt_strlcpy(p.session_name, sess, sizeof p.session_name);
        gt_strlcpy(p.issuer.type, "Role", sizeof p.issuer.type);
        gt_strlcpy(p.issuer.principal_id, role_id, sizeof p.issuer.principal_id);
        gt_strlcpy(p.issuer.arn, json_string_value(json_object_get(role, "Arn")), sizeof p.issuer.arn);
        gt_strlcpy(p.issuer.account_id, acct, sizeof p.issuer.account_id);
        gt_strlcpy(p.issuer.user_name, name, sizeof p.issuer.user_name);
        gt_strlcpy(p.web_provider, parn, sizeof p.web_provider);
        c->output = json_object();
        e = session_policy(c, &p);
        if (e == GT_OK)
            e = issue(c, t, &p, dur);
    }
    if (e == GT_OK) {
        json_object_set_new(c->output, "SubjectFromWebIdentityToken", json_string(sub));
        json_object_set_new(c->output, "AssumedRoleUser",
                            json_pack("{s:s, s:s}", "AssumedRoleId", p.principal_id, "Arn", p.arn));
        json_object_set_new(c->output, "Provider", json_string(viss));
        json_object_set_new(c->output, "Audience", json_string(aud));
        gt_call_add_resource(c, "AWS::IAM::Role", role_arn);
    }
    json_decref(doc);
    json_decref(claims);
    json_decref(prov);
    return e;
}

bool sts_unsigned_principal(const http_req *req, auth_principal *who)
{
    const model_op *op = NULL;
    json_t *in = NULL;
    char msg[256];
    api_query_decode(&model_sts, req, &op, &in, msg, sizeof msg);
    const char *role_arn = json_string_value(json_object_get(in, "RoleArn"));
    char acct[16], name[128];
    bool ok = op && strcmp(op->name, "AssumeRoleWithWebIdentity") == 0 && role_arn &&
              parse_role_arn(role_arn, acct, sizeof acct, name, sizeof name);
    if (ok) {
        memset(who, 0, sizeof *who);
        gt_strlcpy(who->type, "WebIdentityUser", sizeof who->type);
        gt_strlcpy(who->account_id, acct, sizeof who->account_id);
        json_t *cl = sts_jwt_claims_unverified(json_string_value(json_object_get(in, "WebIdentityToken")));
        const char *iss = strip_https(json_string_value(json_object_get(cl, "iss")));
        const char *sub = json_string_value(json_object_get(cl, "sub"));
        json_t *aud = json_object_get(cl, "aud");
        const char *a = json_is_string(aud) ? json_string_value(aud) : json_string_value(json_array_get(aud, 0));
        snprintf(who->principal_id, sizeof who->principal_id, "%s:%s:%s", iss ? iss : "", a ? a : "", sub ? sub : "");
        gt_strlcpy(who->user_name, sub ? sub : "", sizeof who->user_name);
        gt_strlcpy(who->web_provider, iss ? iss : "", sizeof who->web_provider);
        snprintf(who->arn, sizeof who->arn, "%s", "");
        json_decref(cl);
    }
    json_decref(in);
    return ok;
}

static const gt_op_handler handlers[] = {
    {"AssumeRole", h_assume_role},
    {"AssumeRoleWithWebIdentity", h_assume_role_web},
    {"GetCallerIdentity", h_get_caller_identity},
    {"GetFederationToken", h_get_federation_token},
    {"GetSessionToken", h_get_session_token},
};

gt_handler sts_handler_for(const char *op)
{
    return GT_OP_HANDLER_FIND(handlers, op);
}

static gt_err sts_map_error(const model_op *op, gt_err e, const char *msg)
{
    return api_query_err(e);
}

static void sts_encode_error(const gt_call *c, gt_err e, const char *msg, json_t *details, bool untyped,
                             http_resp *out)
{
    api_query_encode_error(&model_sts, c, e, msg, out);
}

const gt_service sts_service = {
    .signing_name = "sts",
    .model = &model_sts,
    .decode = api_query_decode,
    .handler_for = sts_handler_for,
    .record_parts = iam_record_parts,
    .map_error = sts_map_error,
    .encode_ok = gt_encode_query_ok,
    .encode_error = sts_encode_error,
};
