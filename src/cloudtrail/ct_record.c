/*
 * ct_record.c: the CloudTrail record of one API call (cloudtrail.md §1).
 *
 * What: a JSON object with AWS's fields and their usual order
 * (eventVersion, userIdentity, eventTime, eventSource, eventName,
 * awsRegion, sourceIPAddress, userAgent, [errorCode, errorMessage],
 * requestParameters, responseElements, requestID, eventID, readOnly,
 * [resources], eventType, managementEvent, recipientAccountId,
 * eventCategory). jansson keeps insertion order, so the order is the order
 * of the calls below.
 *
 * Invariants:
 *  - eventTime is second-precision UTC "YYYY-MM-DDTHH:MM:SSZ".
 *  - requestID equals the x-amzn-RequestId the client got.
 *  - Secrets never reach a record: callers pass redacted parameters; the
 *    principal's secret is not part of userIdentity.
 *  - Short fields are cut at 1 KB; requestParameters and responseElements
 *    larger than 100 KB are dropped (null), as current AWS docs say.
 */
#include "cloudtrail/ct_record.h"

#include <stdlib.h>
#include <string.h>

#include "util/gtutil.h"
#include "util/jsonw.h"

static json_t *capped_string(const char *s, size_t cap)
{
    size_t n = strlen(s);
    if (n <= cap)
        return json_string(s);
    /* cut on a UTF-8 boundary */
    while (n > 0 && cap > 0 && ((unsigned char)s[cap] & 0xC0) == 0x80)
        cap--;
    return json_stringn(s, cap);
}

static json_t *capped_object(json_t *o)
{
    if (!o)
        return json_null();
    char *text = gt_json_dumps(o, false, false);
    size_t n = text ? strlen(text) : 0;
    free(text);
    if (n > CT_MAX_PARAMS_BYTES) {
        json_decref(o);
        return json_null();
    }
    return o;
}

json_t *ct_user_identity(const auth_principal *p)
{
    json_t *u = json_object();
    if (!u)
        return NULL;
    if (strcmp(p->type, "WebIdentityUser") == 0) {
        /* cloudtrail.md §1.3: only on AssumeRoleWithWebIdentity */
        json_object_set_new(u, "type", json_string(p->type));
        json_object_set_new(u, "principalId", json_string(p->principal_id));
        json_object_set_new(u, "userName", json_string(p->user_name));
        json_object_set_new(u, "identityProvider", json_string(p->web_provider));
        return u;
    }
    json_object_set_new(u, "type", json_string(p->type));
    json_object_set_new(u, "principalId", json_string(p->principal_id));
    json_object_set_new(u, "arn", json_string(p->arn));
    json_object_set_new(u, "accountId", json_string(p->account_id));
    json_object_set_new(u, "accessKeyId", json_string(p->access_key_id));
    if (p->user_name[0] && strcmp(p->type, "Root") != 0)
        json_object_set_new(u, "userName", json_string(p->user_name));
    if (p->temporary) {
        /* cloudtrail.md §1.3: temporary (ASIA) credentials carry
         * sessionContext; the issuer is empty for GetSessionToken sessions. */
        json_t *iss = json_object();
        if (p->issuer.type[0]) {
            json_object_set_new(iss, "type", json_string(p->issuer.type));
            json_object_set_new(iss, "principalId", json_string(p->issuer.principal_id));
            json_object_set_new(iss, "arn", json_string(p->issuer.arn));
            json_object_set_new(iss, "accountId", json_string(p->issuer.account_id));
            if (p->issuer.user_name[0])
                json_object_set_new(iss, "userName", json_string(p->issuer.user_name));
        }
        char created[21];
        gt_fmt_iso_s(p->created_ms / 1000, created);
        json_t *wif = json_object();
        if (p->web_provider[0])
            json_object_set_new(wif, "federatedProvider", json_string(p->web_provider));
        json_object_set_new(u, "sessionContext",
                            json_pack("{s:o, s:o, s:{s:s, s:s}}", "sessionIssuer", iss, "webIdFederationData", wif,
                                      "attributes", "creationDate", created, "mfaAuthenticated",
                                      p->mfa ? "true" : "false"));
    }
    return u;
}

const char *ct_username(const auth_principal *p)
{
    if (strcmp(p->type, "Root") == 0)
        return "root";
    if (p->session_name[0])   /* AssumedRole / FederatedUser: the session's name */
        return p->session_name;
    return p->user_name[0] ? p->user_name : NULL;
}

json_t *ct_redact(const json_t *input, const char *const *masked)
{
    if (!input || !json_is_object(input) || json_object_size(input) == 0)
        return NULL;
    json_t *out = json_deep_copy(input);
    if (!out)
        return NULL;
    for (size_t i = 0; masked && masked[i]; i++)
        if (json_object_get(out, masked[i]))
            json_object_set_new(out, masked[i], json_string("***"));
    return out;
}

json_t *ct_record_build(const gt_call *c, ct_record_parts *parts, const char *event_id,
                        int64_t time_ms)
{
    json_t *r = json_object();
    char when[21];
    if (!r)
        return NULL;
    gt_fmt_iso_s(time_ms / 1000, when);
    size_t ualen = 0;
    const char *ua = http_req_header(c->req, "User-Agent", &ualen);
    char *uacopy = ua ? strndup(ua, ualen > 4096 ? 4096 : ualen) : NULL;

    json_object_set_new(r, "eventVersion", json_string(CT_EVENT_VERSION));
    json_object_set_new(r, "userIdentity", ct_user_identity(c->who));
    json_object_set_new(r, "eventTime", json_string(when));
    json_object_set_new(r, "eventSource", json_string(c->svc->event_source));
    json_object_set_new(r, "eventName", json_string(c->op->name));
    json_object_set_new(r, "awsRegion", json_string(c->region));
    json_object_set_new(r, "sourceIPAddress", json_string(c->req->remote_ip ? c->req->remote_ip : ""));
    if (uacopy)
        json_object_set_new(r, "userAgent", capped_string(uacopy, CT_MAX_SHORT_FIELD));
    free(uacopy);
    if (c->err != GT_OK) {
        json_object_set_new(r, "errorCode", capped_string(gt_err_code(c->err), CT_MAX_SHORT_FIELD));
        if (parts->with_error_message)
            json_object_set_new(r, "errorMessage", capped_string(c->errmsg, CT_MAX_SHORT_FIELD));
    }
    json_object_set_new(r, "requestParameters", capped_object(parts->request_parameters));
    json_object_set_new(r, "responseElements", capped_object(parts->response_elements));
    parts->request_parameters = parts->response_elements = NULL;
    json_object_set_new(r, "requestID", json_string(c->request_id));
    json_object_set_new(r, "eventID", json_string(event_id));
    json_object_set_new(r, "readOnly", json_boolean(c->op->read_only));
    if (c->resources && json_array_size(c->resources) > 0)
        json_object_set(r, "resources", c->resources);
    json_object_set_new(r, "eventType", json_string("AwsApiCall"));
    json_object_set_new(r, "managementEvent", json_true());
    json_object_set_new(r, "recipientAccountId", json_string(c->account));
    if (parts->shared_event_id)
        json_object_set_new(r, "sharedEventID", json_string(parts->shared_event_id));
    json_object_set_new(r, "eventCategory", json_string("Management"));
    return r;
}
