/*
 * policy.c: IAM policy grammar, evaluation and per-call authorization.
 *
 * What: every decoded call of every service passes auth_authorize()
 * before its handler runs (api/dispatch.c). The principal's applicable
 * policies (IAM user or role: inline + attached managed, iam/iam.c) are
 * read from a store snapshot, the call's action ("greengrass:CreateGroup")
 * and resource ARN are derived from the operation and its input, and the
 * documents are evaluated: explicit Deny > Allow > implicit deny.
 *
 * Supported grammar: Version, Statement (object or array), Sid, Effect,
 * Action/NotAction, Resource/NotResource, Principal/NotPrincipal (trust
 * policies), Condition with String*, Arn*, IpAddress/NotIpAddress, Bool,
 * Date*, Numeric*, Null operators, the IfExists suffix and the
 * ForAnyValue:/ForAllValues: prefixes (our keys are single-valued, so
 * both act as the plain operator), and policy variables (${aws:username},
 * any condition key, ${$}) in Resource and condition values. Condition keys: aws:SourceIp,
 * aws:RequestedRegion, aws:PrincipalArn, aws:PrincipalAccount,
 * aws:PrincipalType, aws:username, aws:userid, aws:MultiFactorAuthPresent,
 * aws:CurrentTime, aws:EpochTime, aws:SecureTransport (always false here:
 * greentrail serves plain HTTP), plus per-call extras.
 *
 * Invariants: evaluation never allocates per statement beyond jansson
 * lookups; an unknown operator in a stored document (it was validated on
 * the way in) never matches; Root is always allowed; a missing user or
 * role (deleted while a session lives) has no policies, so only an
 * implicit deny remains.
 */
#include "auth/policy.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/errors.h"
#include "auth/authcache.h"
#include "iam/iam.h"
#include "util/gtutil.h"

/* ---------------------------------------------------------------- matching */

bool auth_wildcard_match(const char *p, const char *s, bool icase)
{
    /* iterative glob with one backtrack point: O(len(p) * len(s)) worst case */
    const char *star = NULL, *ss = NULL;
    while (*s) {
        char pc = *p, sc = *s;
        if (icase) {
            pc = (char)((pc >= 'A' && pc <= 'Z') ? pc + 32 : pc);
            sc = (char)((sc >= 'A' && sc <= 'Z') ? sc + 32 : sc);
        }
        if (*p == '*') {
            star = p++;
            ss = s;
        } else if (*p && (*p == '?' || pc == sc)) {
            p++;
            s++;
        } else if (star) {
            p = star + 1;
            s = ++ss;
        } else {
            return false;
        }
    }
    while (*p == '*')
        p++;
    return *p == '\0';
}

static const char *cond_key(const auth_req_ctx *r, const char *key, char *buf, size_t cap);

/* Policy variables (Version 2012-10-17): "${aws:username}" etc. are
 * replaced by the request's value; "${$}" is a literal '$'. false when a
 * variable has no value (the pattern then matches nothing) or the result
 * does not fit. Without "${" the pattern is copied as is. */
static bool expand_vars(const char *pat, const auth_req_ctx *r, char *out, size_t cap)
{
    size_t j = 0;
    for (const char *p = pat; *p;) {
        const char *add;
        size_t n;
        char vbuf[64], key[128];
        const char *close = p[0] == '$' && p[1] == '{' ? strchr(p + 2, '}') : NULL;
        if (close && (size_t)(close - p - 2) < sizeof key) {
            snprintf(key, sizeof key, "%.*s", (int)(close - p - 2), p + 2);
            add = strcmp(key, "$") == 0 ? "$" : cond_key(r, key, vbuf, sizeof vbuf);
            if (!add)
                return false;
            n = strlen(add);
            p = close + 1;
        } else {
            add = p;
            n = 1;
            p++;
        }
        if (j + n >= cap)
            return false;
        memcpy(out + j, add, n);
        j += n;
    }
    out[j] = '\0';
    return true;
}

static bool one_match(const char *pat, const char *s, bool icase, const auth_req_ctx *r)
{
    if (!r || !strstr(pat, "${"))
        return auth_wildcard_match(pat, s, icase);
    char buf[2048];
    return expand_vars(pat, r, buf, sizeof buf) && auth_wildcard_match(buf, s, icase);
}

/* A string or an array of strings: does any match? r: expand policy
 * variables (NULL: none, e.g. for actions). */
static bool any_match(const json_t *v, const char *s, bool icase, const auth_req_ctx *r)
{
    if (json_is_string(v))
        return one_match(json_string_value(v), s, icase, r);
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
        if (json_is_string(e) && one_match(json_string_value(e), s, icase, r))
            return true;
    return false;
}

/* ---------------------------------------------------------------- conditions */

static bool parse_cidr(const char *s, unsigned char *addr, int *family, int *bits)
{
    char buf[64];
    gt_strlcpy(buf, s, sizeof buf);
    char *slash = strchr(buf, '/');
    if (slash)
        *slash = '\0';
    if (inet_pton(AF_INET, buf, addr) == 1) {
        *family = AF_INET;
        *bits = 32;
    } else if (inet_pton(AF_INET6, buf, addr) == 1) {
        *family = AF_INET6;
        *bits = 128;
    } else {
        return false;
    }
    if (slash) {
        int64_t b;
        if (!gt_parse_i64(slash + 1, strlen(slash + 1), &b) || b < 0 || b > *bits)
            return false;
        *bits = (int)b;
    }
    return true;
}

static bool ip_in(const char *ip, const char *cidr)
{
    unsigned char a[16], n[16];
    int fa, fn, ba, bn;
    if (!ip || !parse_cidr(ip, a, &fa, &ba) || !parse_cidr(cidr, n, &fn, &bn) || fa != fn)
        return false;
    for (int i = 0; i < bn; i++) {
        int byte = i / 8, bit = 7 - i % 8;
        if (((a[byte] >> bit) & 1) != ((n[byte] >> bit) & 1))
            return false;
    }
    return true;
}

static bool parse_date(const char *s, int64_t *ms)
{
    int64_t v;
    if (gt_parse_i64(s, strlen(s), &v)) {
        *ms = v * 1000;
        return true;
    }
    if (gt_parse_iso(s, ms))
        return true;
    /* date only: "2030-01-01" */
    char buf[32];
    if (strlen(s) == 10 && snprintf(buf, sizeof buf, "%sT00:00:00Z", s) > 0)
        return gt_parse_iso(buf, ms);
    return false;
}

/* The value of a condition key for r, or NULL when absent. buf holds
 * formatted values. Key names are case-insensitive. */
static const char *cond_key(const auth_req_ctx *r, const char *key, char *buf, size_t cap)
{
    if (strcasecmp(key, "aws:SourceIp") == 0)
        return r->source_ip;
    if (strcasecmp(key, "aws:RequestedRegion") == 0)
        return r->region;
    if (strcasecmp(key, "aws:PrincipalArn") == 0)
        return r->principal_arn;
    if (strcasecmp(key, "aws:PrincipalAccount") == 0)
        return r->principal_account;
    if (strcasecmp(key, "aws:PrincipalType") == 0)
        return r->principal_type;
    if (strcasecmp(key, "aws:username") == 0)
        return r->user_name;
    if (strcasecmp(key, "aws:userid") == 0)
        return r->user_id;
    if (strcasecmp(key, "aws:SecureTransport") == 0)
        return "false";
    if (strcasecmp(key, "aws:MultiFactorAuthPresent") == 0)
        return r->mfa_known ? (r->mfa ? "true" : "false") : NULL;
    if (strcasecmp(key, "aws:CurrentTime") == 0) {
        char iso[21];
        gt_fmt_iso_s(r->now_ms / 1000, iso);
        gt_strlcpy(buf, iso, cap);
        return buf;
    }
    if (strcasecmp(key, "aws:EpochTime") == 0) {
        snprintf(buf, cap, "%lld", (long long)(r->now_ms / 1000));
        return buf;
    }
    if (r->extra) {
        char lower[128];
        size_t i = 0;
        for (; key[i] && i + 1 < sizeof lower; i++)
            lower[i] = (char)((key[i] >= 'A' && key[i] <= 'Z') ? key[i] + 32 : key[i]);
        lower[i] = '\0';
        const char *v = json_string_value(json_object_get(r->extra, lower));
        if (v)
            return v;
    }
    return NULL;
}

typedef enum { OP_UNKNOWN, OP_STR_EQ, OP_STR_EQ_I, OP_STR_LIKE, OP_ARN_EQ, OP_ARN_LIKE, OP_IP, OP_BOOL,
               OP_DATE_EQ, OP_DATE_LT, OP_DATE_LE, OP_DATE_GT, OP_DATE_GE, OP_NUM_EQ, OP_NUM_LT,
               OP_NUM_LE, OP_NUM_GT, OP_NUM_GE, OP_NULL } cond_op;

typedef struct op_def {
    const char *name;
    cond_op op;
    bool negated;
} op_def;

static const op_def OPS[] = {
    {"StringEquals", OP_STR_EQ, false}, {"StringNotEquals", OP_STR_EQ, true},
    {"StringEqualsIgnoreCase", OP_STR_EQ_I, false}, {"StringNotEqualsIgnoreCase", OP_STR_EQ_I, true},
    {"StringLike", OP_STR_LIKE, false}, {"StringNotLike", OP_STR_LIKE, true},
    {"ArnEquals", OP_ARN_EQ, false}, {"ArnNotEquals", OP_ARN_EQ, true},
    {"ArnLike", OP_ARN_LIKE, false}, {"ArnNotLike", OP_ARN_LIKE, true},
    {"IpAddress", OP_IP, false}, {"NotIpAddress", OP_IP, true},
    {"Bool", OP_BOOL, false},
    {"DateEquals", OP_DATE_EQ, false}, {"DateNotEquals", OP_DATE_EQ, true},
    {"DateLessThan", OP_DATE_LT, false}, {"DateLessThanEquals", OP_DATE_LE, false},
    {"DateGreaterThan", OP_DATE_GT, false}, {"DateGreaterThanEquals", OP_DATE_GE, false},
    {"NumericEquals", OP_NUM_EQ, false}, {"NumericNotEquals", OP_NUM_EQ, true},
    {"NumericLessThan", OP_NUM_LT, false}, {"NumericLessThanEquals", OP_NUM_LE, false},
    {"NumericGreaterThan", OP_NUM_GT, false}, {"NumericGreaterThanEquals", OP_NUM_GE, false},
    {"Null", OP_NULL, false},
};

/* Parse "ForAnyValue:StringLikeIfExists" into its operator. */
static const op_def *find_op(const char *name, bool *if_exists)
{
    if (strncmp(name, "ForAnyValue:", 12) == 0)
        name += 12;
    else if (strncmp(name, "ForAllValues:", 13) == 0)
        name += 13;
    char base[64];
    gt_strlcpy(base, name, sizeof base);
    size_t n = strlen(base);
    *if_exists = n > 8 && strcmp(base + n - 8, "IfExists") == 0;
    if (*if_exists)
        base[n - 8] = '\0';
    for (size_t i = 0; i < sizeof OPS / sizeof OPS[0]; i++)
        if (strcmp(OPS[i].name, base) == 0)
            return &OPS[i];
    return NULL;
}

/* A policy value as a string: strings, numbers and booleans. */
static const char *val_str(const json_t *v, char *buf, size_t cap)
{
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_boolean(v))
        return json_is_true(v) ? "true" : "false";
    if (json_is_integer(v)) {
        snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
        return buf;
    }
    if (json_is_real(v)) {
        snprintf(buf, cap, "%.17g", json_real_value(v));
        return buf;
    }
    return NULL;
}

static bool one_value_raw(cond_op op, const char *have, const char *want);

static bool one_value(cond_op op, const char *have, const char *want, const auth_req_ctx *r)
{
    char buf[2048];
    if (strstr(want, "${")) {
        if (!expand_vars(want, r, buf, sizeof buf))
            return false;
        want = buf;
    }
    return one_value_raw(op, have, want);
}

static bool one_value_raw(cond_op op, const char *have, const char *want)
{
    int64_t a, b;
    double da, db;
    char *end;
    switch (op) {
    case OP_STR_EQ: case OP_ARN_EQ: return strcmp(have, want) == 0;
    case OP_STR_EQ_I: return strcasecmp(have, want) == 0;
    case OP_STR_LIKE: case OP_ARN_LIKE: return auth_wildcard_match(want, have, false);
    case OP_IP: return ip_in(have, want);
    case OP_BOOL: return strcasecmp(have, want) == 0;
    case OP_DATE_EQ: case OP_DATE_LT: case OP_DATE_LE: case OP_DATE_GT: case OP_DATE_GE:
        if (!parse_date(have, &a) || !parse_date(want, &b))
            return false;
        return op == OP_DATE_EQ ? a == b : op == OP_DATE_LT ? a < b : op == OP_DATE_LE ? a <= b
             : op == OP_DATE_GT ? a > b : a >= b;
    case OP_NUM_EQ: case OP_NUM_LT: case OP_NUM_LE: case OP_NUM_GT: case OP_NUM_GE:
        da = strtod(have, &end);
        if (*end)
            return false;
        db = strtod(want, &end);
        if (*end)
            return false;
        return op == OP_NUM_EQ ? da == db : op == OP_NUM_LT ? da < db : op == OP_NUM_LE ? da <= db
             : op == OP_NUM_GT ? da > db : da >= db;
    default: return false;
    }
}

static bool cond_block(const json_t *cond, const auth_req_ctx *r)
{
    if (!cond)
        return true;
    const char *opname;
    json_t *keys;
    json_object_foreach((json_t *)cond, opname, keys) {
        bool if_exists;
        const op_def *od = find_op(opname, &if_exists);
        if (!od || !json_is_object(keys))
            return false;
        const char *key;
        json_t *vals;
        json_object_foreach(keys, key, vals) {
            char kbuf[64], vbuf[64];
            const char *have = cond_key(r, key, kbuf, sizeof kbuf);
            if (od->op == OP_NULL) {
                const json_t *w = json_is_array(vals) ? json_array_get(vals, 0) : vals;
                const char *want = val_str(w, vbuf, sizeof vbuf);
                bool want_null = want && strcasecmp(want, "true") == 0;
                if ((have == NULL) != want_null)
                    return false;
                continue;
            }
            if (!have) {
                if (if_exists || od->negated)
                    continue;
                return false;
            }
            bool any = false;
            if (json_is_array(vals)) {
                size_t i;
                json_t *v;
                json_array_foreach(vals, i, v) {
                    const char *want = val_str(v, vbuf, sizeof vbuf);
                    if (want && one_value(od->op, have, want, r)) {
                        any = true;
                        break;
                    }
                }
            } else {
                const char *want = val_str(vals, vbuf, sizeof vbuf);
                any = want && one_value(od->op, have, want, r);
            }
            if (any == od->negated)
                return false;
        }
    }
    return true;
}

/* ---------------------------------------------------------------- statements */

static bool stmt_applies(const json_t *st, const auth_req_ctx *r, bool trust)
{
    const json_t *a = json_object_get(st, "Action"), *na = json_object_get(st, "NotAction");
    if (a ? !any_match(a, r->action, true, NULL) : !(na && !any_match(na, r->action, true, NULL)))
        return false;
    if (!trust) {
        const json_t *res = json_object_get(st, "Resource"), *nr = json_object_get(st, "NotResource");
        if (res ? !any_match(res, r->resource, false, r) : !(nr && !any_match(nr, r->resource, false, r)))
            return false;
    }
    return cond_block(json_object_get(st, "Condition"), r);
}

static auth_decision eval_doc(const json_t *doc, const auth_req_ctx *r, const char *kind,
                              const char *principal, const char *account)
{
    const json_t *sts = json_object_get(doc, "Statement");
    size_t n = json_is_array(sts) ? json_array_size(sts) : (json_is_object(sts) ? 1 : 0);
    auth_decision d = AUTH_IMPLICIT_DENY;
    for (size_t i = 0; i < n; i++) {
        const json_t *st = json_is_array(sts) ? json_array_get(sts, i) : sts;
        if (kind) {
            /* trust policy: the caller must be named in Principal */
            const json_t *p = json_object_get(st, "Principal");
            bool named = false;
            if (json_is_string(p) && strcmp(json_string_value(p), "*") == 0) {
                named = true;
            } else if (json_is_object(p)) {
                const json_t *v = json_object_get(p, kind);
                char root[64];
                snprintf(root, sizeof root, "arn:aws:iam::%s:root", account ? account : "");
                named = v && (any_match(v, principal, false, NULL) ||
                              (account && (any_match(v, account, false, NULL) || any_match(v, root, false, NULL))));
            }
            if (!named)
                continue;
        }
        if (!stmt_applies(st, r, kind != NULL))
            continue;
        const char *eff = json_string_value(json_object_get(st, "Effect"));
        if (eff && strcmp(eff, "Deny") == 0)
            return AUTH_EXPLICIT_DENY;
        if (eff && strcmp(eff, "Allow") == 0)
            d = AUTH_ALLOW;
    }
    return d;
}

auth_decision auth_resource_policy_eval(const json_t *doc, const auth_req_ctx *r, const char *principal_arn,
                                        const char *principal_account, const char *service)
{
    const json_t *sts = json_object_get(doc, "Statement");
    size_t n = json_is_array(sts) ? json_array_size(sts) : (json_is_object(sts) ? 1 : 0);
    auth_decision d = AUTH_IMPLICIT_DENY;
    char root[64];
    snprintf(root, sizeof root, "arn:aws:iam::%s:root", principal_account ? principal_account : "");
    for (size_t i = 0; i < n; i++) {
        const json_t *st = json_is_array(sts) ? json_array_get(sts, i) : sts;
        const json_t *p = json_object_get(st, "Principal");
        bool named = false;
        if (json_is_string(p)) {
            named = strcmp(json_string_value(p), "*") == 0;
        } else if (json_is_object(p)) {
            const json_t *aws = json_object_get(p, "AWS");
            const json_t *svc = json_object_get(p, "Service");
            /* a service principal is named by its own name, or by
             * {"AWS": "*"}, which AWS treats as "*" */
            named = service ? (svc && any_match(svc, service, true, NULL)) || (aws && any_match(aws, "*", false, NULL))
                            : aws && ((principal_arn && any_match(aws, principal_arn, false, NULL)) ||
                                      (principal_account && (any_match(aws, principal_account, false, NULL) ||
                                                             any_match(aws, root, false, NULL))));
        }
        if (!named || !stmt_applies(st, r, false))
            continue;
        const char *eff = json_string_value(json_object_get(st, "Effect"));
        if (eff && strcmp(eff, "Deny") == 0)
            return AUTH_EXPLICIT_DENY;
        if (eff && strcmp(eff, "Allow") == 0)
            d = AUTH_ALLOW;
    }
    return d;
}

auth_decision auth_policy_eval(const json_t *doc, const auth_req_ctx *r)
{
    return eval_doc(doc, r, NULL, NULL, NULL);
}

auth_decision auth_trust_eval(const json_t *doc, const auth_req_ctx *r, const char *kind,
                              const char *principal, const char *principal_account)
{
    return eval_doc(doc, r, kind, principal, principal_account);
}

/* ---------------------------------------------------------------- grammar */

static bool str_or_strs(const json_t *v)
{
    if (json_is_string(v))
        return true;
    if (!json_is_array(v) || json_array_size(v) == 0)
        return false;
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
        if (!json_is_string(e))
            return false;
    return true;
}

static bool bad(char *msg, size_t cap, const char *why)
{
    if (cap)
        snprintf(msg, cap, "%s", why);
    return false;
}

bool auth_policy_valid(const char *text, bool trust, char *msg, size_t msgcap)
{
    json_error_t jerr;
    json_t *doc = text ? json_loads(text, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    bool ok = false;
    if (!doc || !json_is_object(doc)) {
        bad(msg, msgcap, "Syntax errors in policy.");
        goto out;
    }
    const json_t *ver = json_object_get(doc, "Version");
    if (ver && (!json_is_string(ver) || (strcmp(json_string_value(ver), "2012-10-17") != 0 &&
                                         strcmp(json_string_value(ver), "2008-10-17") != 0))) {
        bad(msg, msgcap, "The policy failed legacy parsing");
        goto out;
    }
    const json_t *sts = json_object_get(doc, "Statement");
    if (!sts || !(json_is_object(sts) || (json_is_array(sts) && json_array_size(sts) > 0))) {
        bad(msg, msgcap, "Missing required field Statement");
        goto out;
    }
    size_t n = json_is_array(sts) ? json_array_size(sts) : 1;
    for (size_t i = 0; i < n; i++) {
        const json_t *st = json_is_array(sts) ? json_array_get(sts, i) : sts;
        if (!json_is_object(st)) {
            bad(msg, msgcap, "Syntax errors in policy.");
            goto out;
        }
        const char *eff = json_string_value(json_object_get(st, "Effect"));
        if (!eff || (strcmp(eff, "Allow") != 0 && strcmp(eff, "Deny") != 0)) {
            bad(msg, msgcap, "Missing required field Effect");
            goto out;
        }
        const json_t *a = json_object_get(st, "Action"), *na = json_object_get(st, "NotAction");
        if (!(a ? str_or_strs(a) : (na && str_or_strs(na)))) {
            bad(msg, msgcap, "Missing required field Action");
            goto out;
        }
        if (trust) {
            const json_t *p = json_object_get(st, "Principal");
            if (!p || !(json_is_object(p) || (json_is_string(p) && strcmp(json_string_value(p), "*") == 0))) {
                bad(msg, msgcap, "Missing required field Principal");
                goto out;
            }
        } else {
            const json_t *res = json_object_get(st, "Resource"), *nr = json_object_get(st, "NotResource");
            if (!(res ? str_or_strs(res) : (nr && str_or_strs(nr)))) {
                bad(msg, msgcap, "Policy statement must contain resources.");
                goto out;
            }
            if (json_object_get(st, "Principal")) {
                bad(msg, msgcap, "Policy document should not specify a principal.");
                goto out;
            }
        }
        const json_t *cond = json_object_get(st, "Condition");
        if (cond) {
            const char *opname;
            json_t *keys;
            if (!json_is_object(cond)) {
                bad(msg, msgcap, "Syntax errors in policy.");
                goto out;
            }
            json_object_foreach((json_t *)cond, opname, keys) {
                bool ie;
                if (!find_op(opname, &ie) || !json_is_object(keys)) {
                    if (msgcap)
                        snprintf(msg, msgcap, "Invalid Condition type : %.64s", opname);
                    goto out;
                }
            }
        }
    }
    ok = true;
out:
    json_decref(doc);
    return ok;
}

/* ---------------------------------------------------------------- calls */

void auth_action_name(const gt_call *c, char *out, size_t cap)
{
    /* the IAM action prefix is the signing name for every service we serve */
    snprintf(out, cap, "%s:%s", c->svc->signing_name, c->op->name);
}

static const struct { const char *member; const char *seg; } GG_DEFS[] = {
    {"CoreDefinition", "cores"}, {"DeviceDefinition", "devices"}, {"FunctionDefinition", "functions"},
    {"SubscriptionDefinition", "subscriptions"}, {"LoggerDefinition", "loggers"},
    {"ResourceDefinition", "resources"}, {"ConnectorDefinition", "connectors"},
};

static void gg_resource(const gt_call *c, char *out, size_t cap)
{
    char base[128];
    snprintf(base, sizeof base, "arn:aws:greengrass:%s:%s:/greengrass", c->region, c->account);
    const char *op = c->op->name;
    const char *gid = gt_in_str(c, "GroupId");
    if (gt_in_str(c, "ResourceArn")) {
        snprintf(out, cap, "%s", gt_in_str(c, "ResourceArn"));
        return;
    }
    if (gid) {
        const char *vid = gt_in_str(c, "GroupVersionId"), *did = gt_in_str(c, "DeploymentId");
        const char *ca = gt_in_str(c, "CertificateAuthorityId");
        if (vid && strstr(op, "GroupVersion"))
            snprintf(out, cap, "%s/groups/%s/versions/%s", base, gid, vid);
        else if (did && strstr(op, "Deployment"))
            snprintf(out, cap, "%s/groups/%s/deployments/%s", base, gid, did);
        else if (ca && strstr(op, "CertificateAuthority"))
            snprintf(out, cap, "%s/groups/%s/certificateauthorities/%s", base, gid, ca);
        else
            snprintf(out, cap, "%s/groups/%s", base, gid);
        return;
    }
    for (size_t i = 0; i < sizeof GG_DEFS / sizeof GG_DEFS[0]; i++) {
        char m[64];
        snprintf(m, sizeof m, "%sId", GG_DEFS[i].member);
        const char *id = gt_in_str(c, m);
        if (!id)
            continue;
        snprintf(m, sizeof m, "%sVersionId", GG_DEFS[i].member);
        const char *vid = gt_in_str(c, m);
        if (vid && strstr(op, "Version"))
            snprintf(out, cap, "%s/definition/%s/%s/versions/%s", base, GG_DEFS[i].seg, id, vid);
        else
            snprintf(out, cap, "%s/definition/%s/%s", base, GG_DEFS[i].seg, id);
        return;
    }
    const char *bulk = gt_in_str(c, "BulkDeploymentId");
    if (bulk) {
        snprintf(out, cap, "%s/bulk/deployments/%s", base, bulk);
        return;
    }
    const char *thing = gt_in_str(c, "ThingName");
    if (thing) {
        snprintf(out, cap, "%s/things/%s/%s", base, thing,
                 strstr(op, "RuntimeConfiguration") ? "runtimeconfig" : "connectivityInfo");
        return;
    }
    /* Creating a container: no id yet. The Service Authorization Reference
     * lists no resource type for these (policies must say "*", which
     * matches anything), so the denial names the collection the new
     * resource would join [INF]. */
    if (strcmp(op, "CreateGroup") == 0) {
        snprintf(out, cap, "%s/groups", base);
        return;
    }
    for (size_t i = 0; i < sizeof GG_DEFS / sizeof GG_DEFS[0]; i++) {
        char m[64];
        snprintf(m, sizeof m, "Create%s", GG_DEFS[i].member);
        if (strcmp(op, m) == 0) {
            snprintf(out, cap, "%s/definition/%s", base, GG_DEFS[i].seg);
            return;
        }
    }
    snprintf(out, cap, "*");
}

void auth_resource_arn(const gt_call *c, char *out, size_t cap)
{
    const char *svc = c->svc->signing_name;
    const char *v;
    if (strcmp(svc, "greengrass") == 0) {
        gg_resource(c, out, cap);
    } else if (strcmp(svc, "iam") == 0) {
        if ((v = gt_in_str(c, "GroupName")) && strcmp(c->op->name, "ListGroupsForUser") != 0)
            snprintf(out, cap, "arn:aws:iam::%s:group/%s", c->account, v);
        else if ((v = gt_in_str(c, "UserName")))
            snprintf(out, cap, "arn:aws:iam::%s:user/%s", c->account, v);
        else if ((v = gt_in_str(c, "RoleName")))
            snprintf(out, cap, "arn:aws:iam::%s:role/%s", c->account, v);
        else if ((v = gt_in_str(c, "PolicyArn")) || (v = gt_in_str(c, "OpenIDConnectProviderArn")))
            snprintf(out, cap, "%s", v);
        else if (strcmp(c->op->name, "CreatePolicy") == 0 && (v = gt_in_str(c, "PolicyName")))
            snprintf(out, cap, "arn:aws:iam::%s:policy%s%s", c->account,
                     gt_in_str(c, "Path") ? gt_in_str(c, "Path") : "/", v);
        else if (strstr(c->op->name, "AccessKey") || strstr(c->op->name, "LoginProfile") ||
                 strcmp(c->op->name, "ChangePassword") == 0)
            /* no UserName: the caller's own user */
            snprintf(out, cap, "%s", c->who->arn);
        else
            snprintf(out, cap, "*");
    } else if (strcmp(svc, "sts") == 0) {
        if ((v = gt_in_str(c, "RoleArn")))
            snprintf(out, cap, "%s", v);
        else if (strcmp(c->op->name, "GetFederationToken") == 0 && (v = gt_in_str(c, "Name")))
            snprintf(out, cap, "arn:aws:sts::%s:federated-user/%s", c->account, v);
        else
            snprintf(out, cap, "*");
    } else if (strcmp(svc, "cloudtrail") == 0) {
        v = gt_in_str(c, "TrailName");
        if (!v)
            v = gt_in_str(c, "Name");
        if (v && strncmp(v, "arn:", 4) == 0)
            snprintf(out, cap, "%s", v);
        else if (v)
            snprintf(out, cap, "arn:aws:cloudtrail:%s:%s:trail/%s", c->region, c->account, v);
        else
            snprintf(out, cap, "*");
    } else if (strcmp(svc, "s3") == 0 && (v = gt_in_str(c, "Bucket"))) {
        const char *key = gt_in_str(c, "Key");
        if (key)
            snprintf(out, cap, "arn:aws:s3:::%s/%s", v, key);
        else
            snprintf(out, cap, "arn:aws:s3:::%s", v);
    } else if (strcmp(svc, "sns") == 0 && (v = gt_in_str(c, "TopicArn"))) {
        snprintf(out, cap, "%s", v);
    } else if (strcmp(svc, "events") == 0 && (v = gt_in_str(c, "Name")) && strstr(c->op->name, "Rule")) {
        snprintf(out, cap, "arn:aws:events:%s:%s:rule/%s", c->region, c->account, v);
    } else {
        snprintf(out, cap, "*");
    }
}

void auth_req_from_call(const gt_call *c, auth_req_ctx *r)
{
    const auth_principal *p = c->who;
    memset(r, 0, sizeof *r);
    r->principal_arn = p->arn;
    r->principal_account = p->account_id;
    r->principal_type = strcmp(p->type, "IAMUser") == 0 ? "User"
                      : strcmp(p->type, "Root") == 0    ? "Account"
                                                        : p->type;
    r->user_name = p->user_name[0] ? p->user_name : (p->session_name[0] ? p->session_name : NULL);
    r->user_id = p->principal_id;
    r->source_ip = c->req ? c->req->remote_ip : NULL;
    r->region = c->region;
    r->mfa = p->mfa;
    r->mfa_known = p->temporary;
    r->now_ms = c->now_ms;
}

typedef struct authz_job {
    const auth_principal *who;
    json_t *docs;
    bool found;
} authz_job;

static gt_err authz_read(store_txn *t, void *ud)
{
    authz_job *j = ud;
    return iam_policies_for(t, j->who, j->docs, &j->found);
}

static auth_decision eval_all(const json_t *docs, const auth_req_ctx *r)
{
    auth_decision d = AUTH_IMPLICIT_DENY;
    size_t i;
    json_t *doc;
    json_array_foreach(docs, i, doc) {
        auth_decision x = auth_policy_eval(doc, r);
        if (x == AUTH_EXPLICIT_DENY)
            return x;
        if (x == AUTH_ALLOW)
            d = x;
    }
    return d;
}

/* The principal's policies, narrowed by its session policy if any. */
static auth_decision decide(const json_t *docs, const auth_principal *p, const auth_req_ctx *r)
{
    auth_decision d = eval_all(docs, r);
    if (d == AUTH_ALLOW && p->session_policy[0]) {
        json_t *sp = json_loads(p->session_policy, 0, NULL);
        auth_decision sd = sp ? auth_policy_eval(sp, r) : AUTH_IMPLICIT_DENY;
        json_decref(sp);
        if (sd != AUTH_ALLOW)
            d = sd == AUTH_EXPLICIT_DENY ? AUTH_EXPLICIT_DENY : AUTH_IMPLICIT_DENY;
    }
    return d;
}

gt_err auth_authorize(store *st, const gt_call *c, char *msg, size_t msgcap)
{
    const auth_principal *p = c->who;
    if (strcmp(p->type, "Root") == 0)
        return GT_OK;
    /* unsigned AssumeRoleWithWebIdentity: the role's trust policy decides (sts.c) */
    if (strcmp(p->type, "WebIdentityUser") == 0)
        return GT_OK;
    /* AWS: no permission is needed to ask who you are. */
    if (strcmp(c->svc->signing_name, "sts") == 0 && strcmp(c->op->name, "GetCallerIdentity") == 0)
        return GT_OK;
    char action[160], resource[1024];
    auth_action_name(c, action, sizeof action);
    auth_resource_arn(c, resource, sizeof resource);
    auth_req_ctx r;
    auth_req_from_call(c, &r);
    r.action = action;
    r.resource = resource;

    /* the principal's policies: cached (auth/authcache.c), else read */
    authz_job j = {.who = p, .docs = auth_cache_get_policies(st, p)};
    if (!j.docs) {
        uint64_t gen = store_auth_generation();   /* before the read */
        j.docs = json_array();
        if (!j.docs)
            return GT_E_NOMEM;
        gt_err e = store_read(st, authz_read, &j);
        if (e != GT_OK) {
            json_decref(j.docs);
            return e;
        }
        auth_cache_put_policies(st, gen, p, j.docs);
    }
    auth_decision d = decide(j.docs, p, &r);
    /* Handing a role to a service (Greengrass's service and group roles)
     * also needs iam:PassRole on that role, as in AWS. */
    const char *pass = strcmp(c->svc->signing_name, "greengrass") == 0 ? gt_in_str(c, "RoleArn") : NULL;
    if (d == AUTH_ALLOW && pass) {
        r.action = "iam:PassRole";
        r.resource = pass;
        d = decide(j.docs, p, &r);
        if (d != AUTH_ALLOW) {
            gt_strlcpy(action, r.action, sizeof action);
            gt_strlcpy(resource, pass, sizeof resource);
        }
    }
    json_decref(j.docs);
    if (d == AUTH_ALLOW)
        return GT_OK;
    snprintf(msg, msgcap, "User: %s is not authorized to perform: %s on resource: %s", p->arn, action, resource);
    const char *proto = c->svc->protocol;
    bool xmlish = proto && (strcmp(proto, "query") == 0 || strcmp(proto, "rest-xml") == 0);
    return xmlish ? GT_E_Q_ACCESS_DENIED : GT_E_ACCESS_DENIED;
}
