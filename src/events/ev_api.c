/*
 * ev_api.c: the EventBridge API on the default event bus (cloudtrail.md
 * §8.4): rules, targets, TestEventPattern, PutEvents, connections and API
 * destinations.
 *
 * Why this shape: every handler is a short read-modify-write of one or two
 * documents inside the call's store transaction (see events.h for the
 * layout), so a rule, its targets and their delivery cursors change
 * atomically with the call's CloudTrail record. Patterns are validated
 * with the same module that matches them (events/pattern.c).
 *
 * Invariants:
 *  - Only the default bus exists; any other EventBusName is
 *    ResourceNotFoundException, as on AWS for a missing bus.
 *  - A target's delivery cursor starts at the journal's end when the
 *    target is first put: a new target sees events from then on. Its
 *    "gen" changes on every PutTargets, so the worker never writes back
 *    state for a target that was replaced or removed meanwhile.
 *  - Connection secrets (ApiKeyValue, Password) are stored for delivery
 *    but never answered nor recorded (masked in requestParameters).
 *  - ScheduleExpression rules and OAuth connections are refused with a
 *    ValidationException that says so, rather than accepted and ignored.
 */
#include "events/events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/decode.h"
#include "api/pagetoken.h"
#include "api/service.h"
#include "events/pattern.h"
#include "events/transform.h"
#include "util/gtutil.h"

#define NAME_RE "[\\.\\-_A-Za-z0-9]+"

/* ---------------------------------------------------------------- helpers */

static json_t *load(store_txn *t, const char *acct, const char *region, const char *kind, const char *id,
                    int *rc)
{
    char *body = NULL;
    store_key key = {acct, region, kind, id};
    *rc = store_doc_get(t, &key, &body);
    if (*rc != STORE_OK)
        return NULL;
    json_t *j = json_loads(body, 0, NULL);
    free(body);
    if (!j)
        *rc = STORE_ERR;
    return j;
}

static gt_err save(store_txn *t, const char *acct, const char *region, const char *kind, const char *id,
                   const char *parent, const json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    if (!text)
        return GT_E_NOMEM;
    store_key key = {acct, region, kind, id};
    int rc = store_doc_put(t, &key, parent, text);
    free(text);
    return rc == STORE_OK ? GT_OK : GT_E_UNAVAILABLE;
}

static bool valid_name(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
              ch == '-' || ch == '_'))
            return false;
    }
    return true;
}

static gt_err check_name(gt_call *c, const char *member, const char *wire)
{
    const char *v = gt_in_str(c, member);
    if (!valid_name(v))
        return gt_call_fail(c, GT_E_VALIDATION,
                            "1 validation error detected: Value '%.128s' at '%s' failed to satisfy constraint: "
                            "Member must satisfy regular expression pattern: " NAME_RE,
                            v ? v : "null", wire);
    return GT_OK;
}

/* Only the default bus: absent, "default", or its ARN. */
static gt_err check_bus(gt_call *c)
{
    const char *b = gt_in_str(c, "EventBusName");
    if (!b || strcmp(b, "default") == 0)
        return GT_OK;
    char arn[256];
    snprintf(arn, sizeof arn, "arn:aws:events:%s:%s:event-bus/default", c->region, c->account);
    if (strcmp(b, arn) == 0)
        return GT_OK;
    const char *slash = strrchr(b, '/');
    return gt_call_fail(c, GT_E_EV_RESOURCE_NOT_FOUND, "Event bus %.256s does not exist.", slash ? slash + 1 : b);
}

static void rule_arn(const gt_call *c, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "arn:aws:events:%s:%s:rule/%s", c->region, c->account, name);
}

static json_t *ts(int64_t ms)
{
    return json_real((double)ms / 1000.0);
}

static gt_err rule_not_found(gt_call *c, const char *name)
{
    return gt_call_fail(c, GT_E_EV_RESOURCE_NOT_FOUND, "Rule %.64s does not exist on EventBus default.", name);
}

static json_t *load_rule(gt_call *c, store_txn *t, const char *name, gt_err *e)
{
    int rc;
    json_t *r = load(t, c->account, c->region, EV_KIND_RULE, name, &rc);
    *e = GT_OK;
    if (!r)
        *e = rc == STORE_NOTFOUND ? rule_not_found(c, name) : GT_E_UNAVAILABLE;
    return r;
}

/* The rule as the API shows it (without tags). New reference. */
static json_t *rule_view(const json_t *doc, bool describe)
{
    json_t *o = json_deep_copy(doc);
    if (!o)
        return NULL;
    json_object_del(o, "Tags");
    if (!describe)
        json_object_del(o, "CreatedBy");
    return o;
}

/* ---------------------------------------------------------------- rules */

static gt_err h_put_rule(gt_call *c, store_txn *t)
{
    gt_err e;
    if ((e = check_name(c, "Name", "name")) != GT_OK || (e = check_bus(c)) != GT_OK)
        return e;
    const char *name = gt_in_str(c, "Name");
    if (gt_in_str(c, "ScheduleExpression"))
        return gt_call_fail(c, GT_E_VALIDATION,
                            "ScheduleExpression is not supported by greentrail: rules match events only "
                            "(use EventPattern).");
    const char *pattern = gt_in_str(c, "EventPattern");
    if (!pattern)
        return gt_call_fail(c, GT_E_VALIDATION, "Parameter(s) EventPattern or ScheduleExpression must be specified.");
    char why[512];
    ev_pattern *p = ev_pattern_compile(pattern, why, sizeof why);
    if (!p)
        return gt_call_fail(c, GT_E_EV_INVALID_PATTERN, "Event pattern is not valid. Reason: %s", why);
    ev_pattern_free(p);
    int rc;
    json_t *old = load(t, c->account, c->region, EV_KIND_RULE, name, &rc);
    if (!old && rc != STORE_NOTFOUND)
        return GT_E_UNAVAILABLE;
    char arn[512];
    rule_arn(c, name, arn, sizeof arn);
    const char *state = gt_in_str(c, "State");
    /* PutRule replaces the rule: members left out are not kept (AWS docs);
     * tags are set at creation only (TagResource changes them later). */
    json_t *doc = json_pack("{s:s, s:s, s:s, s:s}", "Name", name, "Arn", arn, "EventPattern", pattern, "State",
                            state ? state : "ENABLED");
    if (!doc) {
        json_decref(old);
        return GT_E_NOMEM;
    }
    if (gt_in_str(c, "Description"))
        json_object_set_new(doc, "Description", json_string(gt_in_str(c, "Description")));
    if (gt_in_str(c, "RoleArn"))
        json_object_set_new(doc, "RoleArn", json_string(gt_in_str(c, "RoleArn")));
    json_object_set_new(doc, "EventBusName", json_string("default"));
    json_object_set_new(doc, "CreatedBy", json_string(c->account));
    json_t *tags = old ? json_object_get(old, "Tags") : json_object_get(c->input, "Tags");
    if (tags)
        json_object_set(doc, "Tags", tags);
    e = save(t, c->account, c->region, EV_KIND_RULE, name, NULL, doc);
    json_decref(doc);
    json_decref(old);
    if (e != GT_OK)
        return e;
    gt_call_add_resource(c, "AWS::Events::Rule", arn);
    c->output = json_pack("{s:s}", "RuleArn", arn);
    return GT_OK;
}

static gt_err h_describe_rule(gt_call *c, store_txn *t)
{
    gt_err e;
    if ((e = check_name(c, "Name", "name")) != GT_OK || (e = check_bus(c)) != GT_OK)
        return e;
    json_t *r = load_rule(c, t, gt_in_str(c, "Name"), &e);
    if (!r)
        return e;
    c->output = rule_view(r, true);
    json_decref(r);
    return c->output ? GT_OK : GT_E_NOMEM;
}

typedef struct rule_list {
    json_t *rules;
    const char *prefix;
} rule_list;

static int collect_rule(void *ud, int64_t seq, const char *id, const char *body)
{
    rule_list *l = ud;
    if (l->prefix && strncmp(id, l->prefix, strlen(l->prefix)) != 0)
        return 0;
    json_t *r = json_loads(body, 0, NULL);
    if (r)
        json_array_append_new(l->rules, r);
    return 0;
}

static int by_name(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    return strcmp(json_string_value(json_object_get(x, "Name")), json_string_value(json_object_get(y, "Name")));
}

static gt_err h_list_rules(gt_call *c, store_txn *t)
{
    gt_err e;
    if ((e = check_bus(c)) != GT_OK)
        return e;
    rule_list l = {.rules = json_array(), .prefix = gt_in_str(c, "NamePrefix")};
    if (!l.rules)
        return GT_E_NOMEM;
    if (store_doc_list(t, c->account, c->region, EV_KIND_RULE, NULL, 0, false, 0, collect_rule, &l) != STORE_OK) {
        json_decref(l.rules);
        return GT_E_UNAVAILABLE;
    }
    size_t n = json_array_size(l.rules);
    json_t **v = calloc(n ? n : 1, sizeof *v);
    if (!v) {
        json_decref(l.rules);
        return GT_E_NOMEM;
    }
    for (size_t i = 0; i < n; i++)
        v[i] = json_array_get(l.rules, i);
    qsort(v, n, sizeof *v, by_name);   /* AWS lists rules by name */
    char scope[256];
    snprintf(scope, sizeof scope, "ev|rules|%s|%s|%s", c->account, c->region, l.prefix ? l.prefix : "");
    int64_t start = 0, unused;
    const char *tok = gt_in_str(c, "NextToken");
    if (tok && (!api_pagetoken_open(c->srv->token_key, scope, tok, &start, &unused) || start < 0)) {
        free(v);
        json_decref(l.rules);
        return gt_call_fail(c, GT_E_VALIDATION, "The NextToken provided is invalid.");
    }
    json_t *lim = json_object_get(c->input, "Limit");
    int64_t limit = lim ? json_integer_value(lim) : 100;
    json_t *out = json_array();
    int64_t i = start;
    for (; i < (int64_t)n && i - start < limit; i++)
        json_array_append_new(out, rule_view(v[i], false));
    c->output = json_object();
    json_object_set_new(c->output, "Rules", out);
    if (i < (int64_t)n) {
        char next[API_PAGETOKEN_MAX];
        if (api_pagetoken_make(c->srv->token_key, scope, i, 0, next))
            json_object_set_new(c->output, "NextToken", json_string(next));
    }
    free(v);
    json_decref(l.rules);
    return GT_OK;
}

static int found_one(void *ud, int64_t seq, const char *id, const char *body)
{
    *(bool *)ud = true;
    return 1;
}

static gt_err h_delete_rule(gt_call *c, store_txn *t)
{
    gt_err e;
    if ((e = check_name(c, "Name", "name")) != GT_OK || (e = check_bus(c)) != GT_OK)
        return e;
    const char *name = gt_in_str(c, "Name");
    bool has_targets = false;
    if (store_doc_list(t, c->account, c->region, EV_KIND_TARGET, name, 0, false, 1, found_one, &has_targets) !=
        STORE_OK)
        return GT_E_UNAVAILABLE;
    if (has_targets)
        return gt_call_fail(c, GT_E_VALIDATION, "Rule can't be deleted since it has targets.");
    store_key key = {c->account, c->region, EV_KIND_RULE, name};
    int rc = store_doc_delete(t, &key);
    if (rc == STORE_ERR)
        return GT_E_UNAVAILABLE;
    /* deleting a rule that does not exist succeeds (as AWS answers) */
    char arn[512];
    rule_arn(c, name, arn, sizeof arn);
    gt_call_add_resource(c, "AWS::Events::Rule", arn);
    c->output = json_object();
    return GT_OK;
}

static gt_err set_state(gt_call *c, store_txn *t, const char *state)
{
    gt_err e;
    if ((e = check_name(c, "Name", "name")) != GT_OK || (e = check_bus(c)) != GT_OK)
        return e;
    json_t *r = load_rule(c, t, gt_in_str(c, "Name"), &e);
    if (!r)
        return e;
    json_object_set_new(r, "State", json_string(state));
    e = save(t, c->account, c->region, EV_KIND_RULE, gt_in_str(c, "Name"), NULL, r);
    gt_call_add_resource(c, "AWS::Events::Rule", json_string_value(json_object_get(r, "Arn")));
    json_decref(r);
    if (e == GT_OK)
        c->output = json_object();
    return e;
}

static gt_err h_enable_rule(gt_call *c, store_txn *t) { return set_state(c, t, "ENABLED"); }
static gt_err h_disable_rule(gt_call *c, store_txn *t) { return set_state(c, t, "DISABLED"); }

/* ---------------------------------------------------------------- targets */

bool ev_file_target(const char *arn, const char **rel)
{
    size_t pl = strlen(EV_FILE_ARN_PREFIX);
    if (!arn || strncmp(arn, EV_FILE_ARN_PREFIX, pl) != 0)
        return false;
    const char *p = arn + pl;
    size_t n = strlen(p);
    if (n == 0 || n > 255 || p[0] == '/')
        return false;
    const char *seg = p;
    for (size_t i = 0; i <= n; i++) {
        char ch = p[i];
        if (ch == '/' || ch == '\0') {
            size_t sl = (size_t)(p + i - seg);
            if (sl == 0 || (sl == 1 && seg[0] == '.') || (sl == 2 && seg[0] == '.' && seg[1] == '.'))
                return false;
            seg = p + i + 1;
            continue;
        }
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
              ch == '-' || ch == '_'))
            return false;
    }
    *rel = p;
    return true;
}

/* An API destination ARN of this account and region that exists. */
static bool apidest_exists(gt_call *c, store_txn *t, const char *arn, int *rc)
{
    char pfx[256];
    snprintf(pfx, sizeof pfx, "arn:aws:events:%s:%s:api-destination/", c->region, c->account);
    *rc = STORE_OK;
    if (strncmp(arn, pfx, strlen(pfx)) != 0)
        return false;
    const char *name = arn + strlen(pfx);
    const char *slash = strchr(name, '/');
    if (!slash || (size_t)(slash - name) > 64)
        return false;
    char nm[65];
    memcpy(nm, name, (size_t)(slash - name));
    nm[slash - name] = '\0';
    json_t *d = load(t, c->account, c->region, EV_KIND_APIDEST, nm, rc);
    bool ok = d && strcmp(json_string_value(json_object_get(d, "ApiDestinationArn")), arn) == 0;
    json_decref(d);
    return ok;
}

/* Why this target cannot be accepted, or NULL. code gets the ErrorCode. */
static const char *target_problem(gt_call *c, store_txn *t, const json_t *tg, const char **code, int *rc)
{
    const char *arn = json_string_value(json_object_get(tg, "Arn"));
    const char *rel;
    *rc = STORE_OK;
    *code = "ValidationException";
    if (!valid_name(json_string_value(json_object_get(tg, "Id"))))
        return "Target Id must satisfy regular expression pattern: " NAME_RE;
    int forms = !!json_object_get(tg, "Input") + !!json_object_get(tg, "InputPath") +
                !!json_object_get(tg, "InputTransformer");
    if (forms > 1)
        return "Only one of Input, InputPath, or InputTransformer must be provided.";
    const char *input = json_string_value(json_object_get(tg, "Input"));
    if (input) {
        json_t *j = json_loads(input, JSON_DECODE_ANY, NULL);
        json_decref(j);
        if (!j)
            return "Input is not valid JSON text.";
    }
    const char *path = json_string_value(json_object_get(tg, "InputPath"));
    if (path && !ev_input_path_valid(path))
        return "InputPath is not a valid JsonPath.";
    const json_t *paths = json_object_get(json_object_get(tg, "InputTransformer"), "InputPathsMap");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)paths, k, v) {
        if (!ev_input_path_valid(json_string_value(v)))
            return "InputTransformer InputPathsMap contains an invalid JsonPath.";
        if (strncmp(k, "aws.", 4) == 0)
            return "InputTransformer InputPathsMap keys must not start with \"aws.\".";
    }
    if (strncmp(arn, "arn:aws:sns:", 12) == 0)
        return NULL;   /* SNS topics (sns/sns.c); like AWS, the topic's existence is not checked here */
    if (ev_file_target(arn, &rel))
        return NULL;
    if (strncmp(arn, EV_FILE_ARN_PREFIX, strlen(EV_FILE_ARN_PREFIX)) == 0)
        return "File target path must be relative, with segments of [A-Za-z0-9._-] and no '..'.";
    if (strstr(arn, ":api-destination/")) {
        if (apidest_exists(c, t, arn, rc))
            return NULL;
        *code = "ResourceNotFoundException";
        return "API destination does not exist.";
    }
    return "Target type is not supported by greentrail: targets may be SNS topics, API destinations or "
           "arn:aws:greentrail:::file/<path>.";
}

static void tstate_id(const gt_call *c, const char *rule, const char *tid, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s/%s/%s", c->account, c->region, rule, tid);
}

typedef struct count_ctx {
    int n;
} count_ctx;

static int count_doc(void *ud, int64_t seq, const char *id, const char *body)
{
    ((count_ctx *)ud)->n++;
    return 0;
}

static gt_err h_put_targets(gt_call *c, store_txn *t)
{
    gt_err e;
    if ((e = check_name(c, "Rule", "rule")) != GT_OK || (e = check_bus(c)) != GT_OK)
        return e;
    const char *rule = gt_in_str(c, "Rule");
    json_t *r = load_rule(c, t, rule, &e);
    if (!r)
        return e;
    gt_call_add_resource(c, "AWS::Events::Rule", json_string_value(json_object_get(r, "Arn")));
    json_decref(r);
    json_t *targets = json_object_get(c->input, "Targets");
    /* validate every entry first; the limit counts the targets the rule
     * would have after the call (existing ones plus new valid ids) */
    count_ctx cc = {0};
    if (store_doc_list(t, c->account, c->region, EV_KIND_TARGET, rule, 0, false, 0, count_doc, &cc) != STORE_OK)
        return GT_E_UNAVAILABLE;
    size_t n = json_array_size(targets);
    bool *bad = calloc(n ? n : 1, sizeof *bad);
    json_t *failed = json_array();
    int64_t maxseq = store_event_max_seq(t);
    if (!bad || !failed || maxseq < 0) {
        free(bad);
        json_decref(failed);
        return maxseq < 0 ? GT_E_UNAVAILABLE : GT_E_NOMEM;
    }
    int added = 0;
    e = GT_OK;
    for (size_t i = 0; i < n && e == GT_OK; i++) {
        json_t *tg = json_array_get(targets, i);
        const char *tid = json_string_value(json_object_get(tg, "Id"));
        const char *code;
        int rc;
        const char *why = target_problem(c, t, tg, &code, &rc);
        if (rc == STORE_ERR) {
            e = GT_E_UNAVAILABLE;
            break;
        }
        if (why) {
            bad[i] = true;
            json_array_append_new(failed, json_pack("{s:s?, s:s, s:s}", "TargetId", tid, "ErrorCode", code,
                                                    "ErrorMessage", why));
            continue;
        }
        char id[256];
        snprintf(id, sizeof id, "%s/%s", rule, tid);
        json_t *old = load(t, c->account, c->region, EV_KIND_TARGET, id, &rc);
        if (rc == STORE_ERR)
            e = GT_E_UNAVAILABLE;
        added += old ? 0 : 1;
        json_decref(old);
    }
    if (e == GT_OK && cc.n + added > EV_MAX_TARGETS_PER_RULE)
        e = gt_call_fail(c, GT_E_EV_LIMIT, "The requested resource exceeds the maximum number allowed.");
    for (size_t i = 0; i < n && e == GT_OK; i++) {
        if (bad[i])
            continue;
        json_t *tg = json_array_get(targets, i);
        const char *tid = json_string_value(json_object_get(tg, "Id"));
        int rc;
        char id[256], sid[512], gen[37];
        snprintf(id, sizeof id, "%s/%s", rule, tid);
        tstate_id(c, rule, tid, sid, sizeof sid);
        gt_uuid4(gen);
        json_t *st = load(t, "", "", EV_KIND_TSTATE, sid, &rc);
        if (rc == STORE_ERR) {
            e = GT_E_UNAVAILABLE;
            break;
        }
        if (!st)
            st = json_pack("{s:s, s:s, s:s, s:s, s:I, s:i, s:I, s:I, s:I, s:I}", "account", c->account, "region",
                           c->region, "rule", rule, "id", tid, "cursor", (json_int_t)maxseq, "attempts", 0,
                           "next_ms", (json_int_t)0, "delivered", (json_int_t)0, "failures", (json_int_t)0,
                           "dead_letters", (json_int_t)0);
        if (!st) {
            e = GT_E_NOMEM;
            break;
        }
        json_object_set_new(st, "gen", json_string(gen));
        json_object_set_new(st, "attempts", json_integer(0));
        json_object_set_new(st, "next_ms", json_integer(0));
        e = save(t, "", "", EV_KIND_TSTATE, sid, NULL, st);
        json_decref(st);
        if (e == GT_OK)
            e = save(t, c->account, c->region, EV_KIND_TARGET, id, rule, tg);
    }
    free(bad);
    if (e != GT_OK) {
        json_decref(failed);
        return e;
    }
    c->output = json_object();
    json_object_set_new(c->output, "FailedEntryCount", json_integer((json_int_t)json_array_size(failed)));
    json_object_set_new(c->output, "FailedEntries", failed);
    return GT_OK;
}

static gt_err h_remove_targets(gt_call *c, store_txn *t)
{
    gt_err e;
    if ((e = check_name(c, "Rule", "rule")) != GT_OK || (e = check_bus(c)) != GT_OK)
        return e;
    const char *rule = gt_in_str(c, "Rule");
    json_t *r = load_rule(c, t, rule, &e);
    if (!r)
        return e;
    gt_call_add_resource(c, "AWS::Events::Rule", json_string_value(json_object_get(r, "Arn")));
    json_decref(r);
    json_t *ids = json_object_get(c->input, "Ids");
    for (size_t i = 0; i < json_array_size(ids); i++) {
        const char *tid = json_string_value(json_array_get(ids, i));
        char id[256], sid[512];
        snprintf(id, sizeof id, "%s/%s", rule, tid ? tid : "");
        tstate_id(c, rule, tid ? tid : "", sid, sizeof sid);
        store_key k1 = {c->account, c->region, EV_KIND_TARGET, id}, k2 = {"", "", EV_KIND_TSTATE, sid};
        /* unknown ids are not an error (AWS answers FailedEntryCount 0) */
        if (store_doc_delete(t, &k1) == STORE_ERR || store_doc_delete(t, &k2) == STORE_ERR)
            return GT_E_UNAVAILABLE;
    }
    c->output = json_pack("{s:i, s:[]}", "FailedEntryCount", 0, "FailedEntries");
    return c->output ? GT_OK : GT_E_NOMEM;
}

typedef struct tpage {
    json_t *targets;
    int limit, n;
    int64_t last_seq;
    bool more;
} tpage;

static int collect_target(void *ud, int64_t seq, const char *id, const char *body)
{
    tpage *p = ud;
    if (p->n == p->limit) {
        p->more = true;
        return 1;
    }
    json_t *tg = json_loads(body, 0, NULL);
    if (tg)
        json_array_append_new(p->targets, tg);
    p->n++;
    p->last_seq = seq;
    return 0;
}

static gt_err h_list_targets(gt_call *c, store_txn *t)
{
    gt_err e;
    if ((e = check_name(c, "Rule", "rule")) != GT_OK || (e = check_bus(c)) != GT_OK)
        return e;
    const char *rule = gt_in_str(c, "Rule");
    json_t *r = load_rule(c, t, rule, &e);
    if (!r)
        return e;
    json_decref(r);
    char scope[256];
    snprintf(scope, sizeof scope, "ev|targets|%s|%s|%s", c->account, c->region, rule);
    int64_t after = 0, unused;
    const char *tok = gt_in_str(c, "NextToken");
    if (tok && !api_pagetoken_open(c->srv->token_key, scope, tok, &after, &unused))
        return gt_call_fail(c, GT_E_VALIDATION, "The NextToken provided is invalid.");
    json_t *lim = json_object_get(c->input, "Limit");
    tpage p = {.targets = json_array(), .limit = lim ? (int)json_integer_value(lim) : 100};
    if (!p.targets)
        return GT_E_NOMEM;
    if (store_doc_list(t, c->account, c->region, EV_KIND_TARGET, rule, after, false, p.limit + 1, collect_target,
                       &p) != STORE_OK) {
        json_decref(p.targets);
        return GT_E_UNAVAILABLE;
    }
    c->output = json_object();
    json_object_set_new(c->output, "Targets", p.targets);
    if (p.more) {
        char next[API_PAGETOKEN_MAX];
        if (api_pagetoken_make(c->srv->token_key, scope, p.last_seq, 0, next))
            json_object_set_new(c->output, "NextToken", json_string(next));
    }
    return GT_OK;
}

/* ---------------------------------------------------------------- testing, custom events */

static gt_err h_test_event_pattern(gt_call *c, store_txn *t)
{
    char why[512];
    ev_pattern *p = ev_pattern_compile(gt_in_str(c, "EventPattern"), why, sizeof why);
    if (!p)
        return gt_call_fail(c, GT_E_EV_INVALID_PATTERN, "Event pattern is not valid. Reason: %s", why);
    json_t *ev = json_loads(gt_in_str(c, "Event"), 0, NULL);
    static const char *const required[] = {"id", "account", "source", "time", "region", "detail-type"};
    bool ok = json_is_object(ev);
    for (size_t i = 0; ok && i < sizeof required / sizeof required[0]; i++)
        ok = json_object_get(ev, required[i]) != NULL;
    if (!ok) {
        json_decref(ev);
        ev_pattern_free(p);
        return gt_call_fail(c, GT_E_VALIDATION, "Parameter Event is not valid.");
    }
    bool m = ev_pattern_match(p, ev);
    json_decref(ev);
    ev_pattern_free(p);
    c->output = json_pack("{s:b}", "Result", m);
    return GT_OK;
}

static json_t *entry_error(const char *code, const char *msg)
{
    return json_pack("{s:s, s:s}", "ErrorCode", code, "ErrorMessage", msg);
}

static gt_err h_put_events(gt_call *c, store_txn *t)
{
    json_t *entries = json_object_get(c->input, "Entries");
    json_t *results = json_array();
    int failed = 0;
    char when[21];
    gt_fmt_iso_s(c->now_ms / 1000, when);
    for (size_t i = 0; i < json_array_size(entries); i++) {
        json_t *en = json_array_get(entries, i);
        const char *source = json_string_value(json_object_get(en, "Source"));
        const char *dtype = json_string_value(json_object_get(en, "DetailType"));
        const char *detail = json_string_value(json_object_get(en, "Detail"));
        const char *bus = json_string_value(json_object_get(en, "EventBusName"));
        json_t *res = NULL, *d = NULL;
        char busarn[256];
        snprintf(busarn, sizeof busarn, "arn:aws:events:%s:%s:event-bus/default", c->region, c->account);
        if (!source)
            res = entry_error("InvalidArgument", "Parameter Source is not valid. Reason: Source is a required argument.");
        else if (!dtype)
            res = entry_error("InvalidArgument",
                              "Parameter DetailType is not valid. Reason: DetailType is a required argument.");
        else if (!detail)
            res = entry_error("InvalidArgument", "Parameter Detail is not valid. Reason: Detail is a required argument.");
        else if (strncmp(source, "aws.", 4) == 0)
            res = entry_error("NotAuthorizedForSourceException", "Not authorized for the source.");
        else if (bus && strcmp(bus, "default") != 0 && strcmp(bus, busarn) != 0)
            res = entry_error("ResourceNotFoundException", "Event bus does not exist.");
        else if (!(d = json_loads(detail, 0, NULL)) || !json_is_object(d))
            res = entry_error("MalformedDetail", "Detail is malformed.");
        if (res) {
            json_decref(d);
            failed++;
            json_array_append_new(results, res);
            continue;
        }
        char id[37], key[256];
        gt_uuid4(id);
        const char *tm = when;
        char tbuf[21];
        json_t *tj = json_object_get(en, "Time");
        int64_t tms;
        if (json_is_number(tj) && json_number_value(tj) >= 0 && json_number_value(tj) < 253402300799.0) {
            gt_fmt_iso_s((int64_t)json_number_value(tj), tbuf);
            tm = tbuf;
        } else if (json_is_string(tj) && gt_parse_iso(json_string_value(tj), &tms) && tms >= 0) {
            gt_fmt_iso_s(tms / 1000, tbuf);
            tm = tbuf;
        }
        json_t *resources = json_object_get(en, "Resources");
        resources = resources ? json_incref(resources) : json_array();
        json_t *env = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o}", "version", "0", "id", id,
                                "detail-type", dtype, "source", source, "account", c->account, "time", tm, "region",
                                c->region, "resources", resources, "detail", d);
        json_t *doc = env ? json_pack("{s:I, s:o}", "t", (json_int_t)c->now_ms, "event", env) : NULL;
        snprintf(key, sizeof key, "%s/%s/%s", c->account, c->region, id);
        gt_err e = doc ? save(t, "", "", EV_KIND_CUSTOM, key, NULL, doc) : GT_E_NOMEM;
        json_decref(doc);
        if (e != GT_OK) {
            json_decref(results);
            return e;
        }
        json_array_append_new(results, json_pack("{s:s}", "EventId", id));
    }
    c->output = json_pack("{s:i, s:o}", "FailedEntryCount", failed, "Entries", results);
    return c->output ? GT_OK : GT_E_NOMEM;
}

/* ---------------------------------------------------------------- connections and API destinations */

/* The two named, account-and-region-scoped resources share their life
 * cycle: create once (AlreadyExists), load by Name (ResourceNotFound with
 * the kind's own wording), and answer a create with ARN, state and times. */
typedef struct {
    const char *kind;       /* store kind */
    const char *arn_member; /* "ConnectionArn" / "ApiDestinationArn" */
    const char *state_member;
    const char *res_type;   /* CloudTrail resource type */
    const char *exists_fmt; /* "%s" = name */
    const char *missing_fmt;
} ev_named;

static const ev_named NAMED_CONN = {EV_KIND_CONN, "ConnectionArn", "ConnectionState", "AWS::Events::Connection",
                                    "Connection %s already exists.",
                                    "Failed to describe the connection(s). Connection '%.64s' does not exist."};
static const ev_named NAMED_APIDEST = {
    EV_KIND_APIDEST, "ApiDestinationArn", "ApiDestinationState", "AWS::Events::ApiDestination",
    "Api destination %s already exists.",
    "Failed to describe the api-destination(s). An api-destination '%.64s' does not exist."};

/* GT_OK when no resource of nk's kind is called name yet. */
static gt_err named_absent(gt_call *c, store_txn *t, const ev_named *nk, const char *name)
{
    int rc;
    json_t *old = load(t, c->account, c->region, nk->kind, name, &rc);
    json_decref(old);
    if (old)
        return gt_call_fail(c, GT_E_EV_ALREADY_EXISTS, nk->exists_fmt, name);
    return rc == STORE_NOTFOUND ? GT_OK : GT_E_UNAVAILABLE;
}

/* Stores doc (adding the optional Description) as the new resource `name`
 * and answers the create call. doc holds arn_member, state_member. */
static gt_err named_create(gt_call *c, store_txn *t, const ev_named *nk, const char *name, json_t *doc)
{
    if (gt_in_str(c, "Description"))
        json_object_set_new(doc, "Description", json_string(gt_in_str(c, "Description")));
    gt_err e = save(t, c->account, c->region, nk->kind, name, NULL, doc);
    if (e != GT_OK)
        return e;
    gt_call_add_resource(c, nk->res_type, json_string_value(json_object_get(doc, nk->arn_member)));
    c->output = json_pack("{s:O, s:O, s:o, s:o}", nk->arn_member, json_object_get(doc, nk->arn_member),
                          nk->state_member, json_object_get(doc, nk->state_member), "CreationTime",
                          ts(c->now_ms), "LastModifiedTime", ts(c->now_ms));
    return c->output ? GT_OK : GT_E_NOMEM;
}

/* The resource named by the input's Name, or NULL with *e set. */
static json_t *named_load(gt_call *c, store_txn *t, const ev_named *nk, gt_err *e)
{
    int rc;
    const char *name = gt_in_str(c, "Name");
    json_t *d = load(t, c->account, c->region, nk->kind, name, &rc);
    *e = GT_OK;
    if (!d)
        *e = rc == STORE_NOTFOUND ? gt_call_fail(c, GT_E_EV_RESOURCE_NOT_FOUND, nk->missing_fmt, name)
                                  : GT_E_UNAVAILABLE;
    return d;
}

static const char *const secret_members[] = {"ApiKeyValue", "Password", "ClientSecret", NULL};

/* A deep copy of v with every secret member dropped (drop) or masked. */
static json_t *without_secrets(const json_t *v, bool drop)
{
    json_t *o = json_deep_copy(v);
    if (!o)
        return NULL;
    if (json_is_object(o)) {
        const char *k;
        json_t *x;
        void *tmp;
        json_object_foreach_safe(o, tmp, k, x) {
            bool secret = false;
            for (int i = 0; secret_members[i]; i++)
                secret = secret || strcmp(k, secret_members[i]) == 0;
            if (secret) {
                if (drop)
                    json_object_del(o, k);
                else
                    json_object_set_new(o, k, json_string("HIDDEN_DUE_TO_SECURITY_REASONS"));
            } else if (json_is_object(x) || json_is_array(x)) {
                json_object_set_new(o, k, without_secrets(x, drop));
            }
        }
    } else if (json_is_array(o)) {
        for (size_t i = 0; i < json_array_size(o); i++)
            json_array_set_new(o, i, without_secrets(json_array_get(o, i), drop));
    }
    return o;
}

static gt_err h_create_connection(gt_call *c, store_txn *t)
{
    gt_err e;
    if ((e = check_name(c, "Name", "name")) != GT_OK)
        return e;
    const char *name = gt_in_str(c, "Name");
    const char *type = gt_in_str(c, "AuthorizationType");
    json_t *ap = json_object_get(c->input, "AuthParameters");
    if (strcmp(type, "OAUTH_CLIENT_CREDENTIALS") == 0)
        return gt_call_fail(c, GT_E_VALIDATION,
                            "OAUTH_CLIENT_CREDENTIALS connections are not supported by greentrail yet: use API_KEY "
                            "or BASIC.");
    const char *need = strcmp(type, "BASIC") == 0 ? "BasicAuthParameters" : "ApiKeyAuthParameters";
    if (!json_object_get(ap, need))
        return gt_call_fail(c, GT_E_VALIDATION, "%s must be specified for authorization type %s.", need, type);
    /* these become an HTTP header: the model's pattern forbids control
     * characters and ':' (no header injection) */
    static const char *const hdr_members[] = {"ApiKeyName", "ApiKeyValue", "Username", "Password"};
    for (size_t i = 0; i < sizeof hdr_members / sizeof hdr_members[0]; i++) {
        const char *v = json_string_value(json_object_get(json_object_get(ap, need), hdr_members[i]));
        bool bad = v && (!*v || strchr(v, ':'));
        for (const char *q = v; q && *q && !bad; q++)
            bad = (unsigned char)*q < 0x20 || *q == 0x7f;
        if (bad)
            return gt_call_fail(c, GT_E_VALIDATION,
                                "1 validation error detected: Value at 'authParameters.%s.%s' failed to satisfy "
                                "constraint: Member must satisfy regular expression pattern: "
                                "^[ \\t]*[^\\x00-\\x1F:\\x7F]+([ \\t]+[^\\x00-\\x1F:\\x7F]+)*[ \\t]*$",
                                need, hdr_members[i]);
    }
    if ((e = named_absent(c, t, &NAMED_CONN, name)) != GT_OK)
        return e;
    char uuid[37], arn[512];
    gt_uuid4(uuid);
    snprintf(arn, sizeof arn, "arn:aws:events:%s:%s:connection/%s/%s", c->region, c->account, name, uuid);
    json_t *doc = json_pack("{s:s, s:s, s:s, s:s, s:O, s:I}", "ConnectionArn", arn, "Name", name,
                            "ConnectionState", "AUTHORIZED", "AuthorizationType", type, "AuthParameters", ap,
                            "CreatedMs", (json_int_t)c->now_ms);
    if (!doc)
        return GT_E_NOMEM;
    e = named_create(c, t, &NAMED_CONN, name, doc);
    json_decref(doc);
    return e;
}

static gt_err h_describe_connection(gt_call *c, store_txn *t)
{
    gt_err e;
    if ((e = check_name(c, "Name", "name")) != GT_OK)
        return e;
    json_t *d = named_load(c, t, &NAMED_CONN, &e);
    if (!d)
        return e;
    json_int_t ms = json_integer_value(json_object_get(d, "CreatedMs"));
    json_t *out = json_object();
    json_object_set(out, "ConnectionArn", json_object_get(d, "ConnectionArn"));
    json_object_set(out, "Name", json_object_get(d, "Name"));
    if (json_object_get(d, "Description"))
        json_object_set(out, "Description", json_object_get(d, "Description"));
    json_object_set(out, "ConnectionState", json_object_get(d, "ConnectionState"));
    json_object_set(out, "AuthorizationType", json_object_get(d, "AuthorizationType"));
    json_object_set_new(out, "AuthParameters", without_secrets(json_object_get(d, "AuthParameters"), true));
    json_object_set_new(out, "CreationTime", ts(ms));
    json_object_set_new(out, "LastModifiedTime", ts(ms));
    json_object_set_new(out, "LastAuthorizedTime", ts(ms));
    json_decref(d);
    c->output = out;
    return GT_OK;
}

static gt_err h_delete_connection(gt_call *c, store_txn *t)
{
    gt_err e;
    if ((e = check_name(c, "Name", "name")) != GT_OK)
        return e;
    json_t *d = named_load(c, t, &NAMED_CONN, &e);
    if (!d)
        return e;
    store_key key = {c->account, c->region, EV_KIND_CONN, gt_in_str(c, "Name")};
    if (store_doc_delete(t, &key) == STORE_ERR) {
        json_decref(d);
        return GT_E_UNAVAILABLE;
    }
    json_int_t ms = json_integer_value(json_object_get(d, "CreatedMs"));
    gt_call_add_resource(c, "AWS::Events::Connection", json_string_value(json_object_get(d, "ConnectionArn")));
    c->output = json_pack("{s:O, s:s, s:o, s:o, s:o}", "ConnectionArn", json_object_get(d, "ConnectionArn"),
                          "ConnectionState", "DELETING", "CreationTime", ts(ms), "LastModifiedTime", ts(ms),
                          "LastAuthorizedTime", ts(ms));
    json_decref(d);
    return GT_OK;
}

/* ---------------------------------------------------------------- API destinations */

static gt_err h_create_apidest(gt_call *c, store_txn *t)
{
    gt_err e;
    if ((e = check_name(c, "Name", "name")) != GT_OK)
        return e;
    const char *name = gt_in_str(c, "Name");
    const char *conn = gt_in_str(c, "ConnectionArn");
    const char *endpoint = gt_in_str(c, "InvocationEndpoint");
    /* AWS requires https; greentrail also takes http so local receivers
     * work (documented deviation). */
    if (strncmp(endpoint, "https://", 8) != 0 && strncmp(endpoint, "http://", 7) != 0)
        return gt_call_fail(c, GT_E_VALIDATION, "InvocationEndpoint must be an http(s) URL.");
    char pfx[256];
    snprintf(pfx, sizeof pfx, "arn:aws:events:%s:%s:connection/", c->region, c->account);
    const char *cn = strncmp(conn, pfx, strlen(pfx)) == 0 ? conn + strlen(pfx) : NULL;
    const char *slash = cn ? strchr(cn, '/') : NULL;
    char cname[65] = "";
    if (slash && (size_t)(slash - cn) < sizeof cname) {
        memcpy(cname, cn, (size_t)(slash - cn));
        cname[slash - cn] = '\0';
    }
    int rc;
    json_t *cd = cname[0] ? load(t, c->account, c->region, EV_KIND_CONN, cname, &rc) : NULL;
    bool conn_ok = cd && strcmp(json_string_value(json_object_get(cd, "ConnectionArn")), conn) == 0;
    json_decref(cd);
    if (!conn_ok)
        return gt_call_fail(c, GT_E_EV_RESOURCE_NOT_FOUND, "Connection '%.256s' does not exist.", conn);
    if ((e = named_absent(c, t, &NAMED_APIDEST, name)) != GT_OK)
        return e;
    char uuid[37], arn[512];
    gt_uuid4(uuid);
    snprintf(arn, sizeof arn, "arn:aws:events:%s:%s:api-destination/%s/%s", c->region, c->account, name, uuid);
    json_t *doc = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "ApiDestinationArn", arn, "Name", name,
                            "ApiDestinationState", "ACTIVE", "ConnectionArn", conn, "InvocationEndpoint", endpoint,
                            "HttpMethod", gt_in_str(c, "HttpMethod"), "CreatedMs", (json_int_t)c->now_ms);
    if (!doc)
        return GT_E_NOMEM;
    json_t *rate = json_object_get(c->input, "InvocationRateLimitPerSecond");
    if (rate)
        json_object_set(doc, "InvocationRateLimitPerSecond", rate);
    e = named_create(c, t, &NAMED_APIDEST, name, doc);
    json_decref(doc);
    return e;
}

static gt_err h_describe_apidest(gt_call *c, store_txn *t)
{
    gt_err e;
    if ((e = check_name(c, "Name", "name")) != GT_OK)
        return e;
    json_t *d = named_load(c, t, &NAMED_APIDEST, &e);
    if (!d)
        return e;
    json_int_t ms = json_integer_value(json_object_get(d, "CreatedMs"));
    json_object_del(d, "CreatedMs");
    json_object_set_new(d, "CreationTime", ts(ms));
    json_object_set_new(d, "LastModifiedTime", ts(ms));
    c->output = d;
    return GT_OK;
}

static gt_err h_delete_apidest(gt_call *c, store_txn *t)
{
    gt_err e;
    if ((e = check_name(c, "Name", "name")) != GT_OK)
        return e;
    json_t *d = named_load(c, t, &NAMED_APIDEST, &e);
    if (!d)
        return e;
    gt_call_add_resource(c, "AWS::Events::ApiDestination", json_string_value(json_object_get(d, "ApiDestinationArn")));
    json_decref(d);
    store_key key = {c->account, c->region, EV_KIND_APIDEST, gt_in_str(c, "Name")};
    if (store_doc_delete(t, &key) == STORE_ERR)
        return GT_E_UNAVAILABLE;
    c->output = json_object();
    return GT_OK;
}

/* ---------------------------------------------------------------- the service */

static const gt_op_handler handlers[] = {
    {"CreateApiDestination", h_create_apidest},
    {"CreateConnection", h_create_connection},
    {"DeleteApiDestination", h_delete_apidest},
    {"DeleteConnection", h_delete_connection},
    {"DeleteRule", h_delete_rule},
    {"DescribeApiDestination", h_describe_apidest},
    {"DescribeConnection", h_describe_connection},
    {"DescribeRule", h_describe_rule},
    {"DisableRule", h_disable_rule},
    {"EnableRule", h_enable_rule},
    {"ListRules", h_list_rules},
    {"ListTargetsByRule", h_list_targets},
    {"PutEvents", h_put_events},
    {"PutRule", h_put_rule},
    {"PutTargets", h_put_targets},
    {"RemoveTargets", h_remove_targets},
    {"TestEventPattern", h_test_event_pattern},
};

static gt_handler ev_handler_for(const char *op)
{
    return GT_OP_HANDLER_FIND(handlers, op);
}

/* Records: the input with connection secrets masked; the output of
 * mutating calls as responseElements; errorMessage on failures. */
static void ev_parts(const gt_call *c, ct_record_parts *p)
{
    p->request_parameters = json_object_size(c->input) ? without_secrets(c->input, false) : NULL;
    p->response_elements = NULL;
    if (c->err == GT_OK && !c->op->read_only && c->output && json_object_size(c->output) > 0)
        p->response_elements = json_deep_copy(c->output);
    p->with_error_message = true;
}

static gt_err ev_map_error(const model_op *op, gt_err e, const char *msg)
{
    return e;
}

const gt_service ev_service = {
    .signing_name = "events",
    .model = &model_events,
    .decode = api_json_decode,
    .handler_for = ev_handler_for,
    .record_parts = ev_parts,
    .map_error = ev_map_error,
    .encode_ok = gt_encode_json_ok,
    .encode_error = gt_encode_awsjson_error,
};
