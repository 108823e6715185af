/* policy.h: IAM policy documents: validation, evaluation, and the
 * authorization of every API call.
 *
 * Evaluation follows AWS's order for one account: an explicit Deny in any
 * applicable policy wins, then any Allow, else the implicit deny. Session
 * policies (GetFederationToken, AssumeRole's Policy) narrow a session:
 * both the principal's policies and the session policy must allow.
 */
#ifndef GT_AUTH_POLICY_H
#define GT_AUTH_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "api/call.h"

typedef enum auth_decision {
    AUTH_IMPLICIT_DENY = 0,
    AUTH_ALLOW = 1,
    AUTH_EXPLICIT_DENY = 2,
} auth_decision;

/* What a statement is matched against. Strings may be NULL (= absent key). */
typedef struct auth_req_ctx {
    const char *action;            /* "greengrass:CreateGroup" */
    const char *resource;          /* an ARN, or "*" */
    const char *principal_arn;     /* aws:PrincipalArn */
    const char *principal_account; /* aws:PrincipalAccount */
    const char *principal_type;    /* aws:PrincipalType: "User" | "AssumedRole" | ... */
    const char *user_name;         /* aws:username */
    const char *user_id;           /* aws:userid */
    const char *source_ip;         /* aws:SourceIp */
    const char *region;            /* aws:RequestedRegion */
    bool mfa;                      /* aws:MultiFactorAuthPresent */
    bool mfa_known;                /* false: key absent (long-term credentials) */
    int64_t now_ms;                /* aws:CurrentTime, aws:EpochTime */
    json_t *extra;                 /* more condition keys (lower-case names -> string), or NULL */
} auth_req_ctx;

/* Glob match: '*' any run, '?' one char. icase: ASCII case-insensitive. */
bool auth_wildcard_match(const char *pattern, const char *s, bool icase);

/* Check a policy document's grammar. trust: a role trust policy (needs
 * Principal, no Resource). On false, msg holds AWS's style of reason. */
bool auth_policy_valid(const char *text, bool trust, char *msg, size_t msgcap);

/* Decision of one identity policy document (parsed) for r. */
auth_decision auth_policy_eval(const json_t *doc, const auth_req_ctx *r);

/* Decision of a resource-based policy (an S3 bucket policy) for r. A
 * statement counts when its Principal names the caller: "*"; or, for a
 * service caller (service non-NULL, e.g. "cloudtrail.amazonaws.com"),
 * {"Service": service} or {"AWS": "*"}; else {"AWS": ...} matching principal_arn,
 * principal_account or "arn:aws:iam::<principal_account>:root" (glob
 * patterns allowed, so "*" names every account's principals).
 * NotPrincipal is not supported: such statements never count. Then
 * Action, Resource and Condition as in identity policies (r->extra for
 * keys such as aws:SourceArn). Explicit Deny > Allow > implicit deny. */
auth_decision auth_resource_policy_eval(const json_t *doc, const auth_req_ctx *r, const char *principal_arn,
                                        const char *principal_account, const char *service);

/* Decision of a trust policy for a caller. kind is "AWS" or "Federated";
 * principal the caller's ARN (AWS: also matched by its account id or
 * "arn:aws:iam::ACCT:root") or the provider ARN (Federated). */
auth_decision auth_trust_eval(const json_t *doc, const auth_req_ctx *r, const char *kind,
                              const char *principal, const char *principal_account);

/* The resource ARN the authorization of call c is about (greengrass.md
 * §3.1 for Greengrass; "*" for list and account-level operations). */
void auth_resource_arn(const gt_call *c, char *out, size_t cap);

/* The IAM action of a call: "<service prefix>:<Operation>". */
void auth_action_name(const gt_call *c, char *out, size_t cap);

/* Authorize call c (decoded, before its handler): GT_OK, or the
 * protocol's access-denied error (GT_E_ACCESS_DENIED for JSON protocols,
 * GT_E_Q_ACCESS_DENIED for query and rest-xml) with AWS's message in msg.
 * Root is always allowed. Reads the principal's policies with store_read.
 * GT_E_UNAVAILABLE on store trouble. Thread-safe. */
gt_err auth_authorize(store *st, const gt_call *c, char *msg, size_t msgcap);

/* Fill r from a call (principal, source IP, region, time). */
void auth_req_from_call(const gt_call *c, auth_req_ctx *r);

#endif
