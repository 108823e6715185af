/*
 * sns.c: the SNS API (query protocol): CreateTopic, DeleteTopic,
 * ListTopics, Get/SetTopicAttributes, Subscribe (http, https),
 * ConfirmSubscription, Unsubscribe, ListSubscriptions,
 * ListSubscriptionsByTopic, Publish; and the two entry points other
 * services use: sns_publish_internal (trail log files, EventBridge
 * targets) and sns_check_trail_topic (trail API).
 *
 * Why this shape: every handler only reads and writes documents in the
 * call's transaction (sns.h lists them). Anything sent over the network
 * (SubscriptionConfirmation, Notification) becomes a delivery document in
 * that same transaction, so a 2xx answer means the message is durable;
 * the delivery thread (sns_deliver.c) sends, signs and retries.
 *
 * Invariants: a subscription is "pending confirmation" until its token
 * comes back (ConfirmSubscription or the SubscribeURL); only confirmed
 * subscriptions get Notifications. Topic names are 1-256 of [A-Za-z0-9_-]
 * (FIFO topics are not modelled). CreateTopic is idempotent for the same
 * name. A topic belongs to one account and region; calls on another
 * account's topic answer AuthorizationError (topic policies granting
 * other accounts are not evaluated, except CloudTrail's, see
 * sns_check_trail_topic).
 */
#include "sns/sns.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/query.h"
#include "api/service.h"
#include "iam/iam.h"
#include "util/gtutil.h"

#define PAGE 100

static json_t *load(store_txn *t, const char *a, const char *r, const char *kind, const char *id)
{
    char *body = NULL;
    store_key k = {a, r, kind, id};
    if (store_doc_get(t, &k, &body) != STORE_OK)
        return NULL;
    json_t *j = json_loads(body, 0, NULL);
    free(body);
    return j;
}

static int save(store_txn *t, const char *a, const char *r, const char *kind, const char *id, const char *parent,
                const json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT);
    if (!text)
        return STORE_ERR;
    store_key k = {a, r, kind, id};
    int rc = store_doc_put(t, &k, parent, text);
    free(text);
    return rc;
}

static bool name_ok(const char *n)
{
    size_t len = n ? strlen(n) : 0;
    if (len < 1 || len > 256)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)n[i]) && n[i] != '_' && n[i] != '-')
            return false;
    return true;
}

bool sns_parse_topic_arn(const char *arn, char region[32], char acct[16], char name[257])
{
    static const char pfx[] = "arn:aws:sns:";
    if (!arn || strncmp(arn, pfx, sizeof pfx - 1) != 0)
        return false;
    const char *r = arn + sizeof pfx - 1;
    const char *c1 = strchr(r, ':');
    if (!c1 || c1 == r || c1 - r >= 32)
        return false;
    const char *a = c1 + 1, *c2 = strchr(a, ':');
    if (!c2 || c2 - a != 12)
        return false;
    const char *n = c2 + 1;
    if (!name_ok(n))
        return false;
    snprintf(region, 32, "%.*s", (int)(c1 - r), r);
    snprintf(acct, 16, "%.12s", a);
    gt_strlcpy(name, n, 257);
    return true;
}

/* Resolve a topic name or ARN (relative to account/region). */
static bool resolve(const char *topic, const char *account, const char *region, char r[32], char a[16], char n[257])
{
    if (topic && strncmp(topic, "arn:", 4) == 0)
        return sns_parse_topic_arn(topic, r, a, n);
    if (!name_ok(topic))
        return false;
    gt_strlcpy(r, region, 32);
    gt_strlcpy(a, account, 16);
    gt_strlcpy(n, topic, 257);
    return true;
}

static void topic_arn(const char *r, const char *a, const char *n, char *out, size_t cap)
{
    snprintf(out, cap, "arn:aws:sns:%s:%s:%s", r, a, n);
}

/* ---------------------------------------------------------------- subscriptions */

typedef struct sub_list {
    const char *topic_arn;   /* filter, or NULL */
    const char *token;       /* find by token, or NULL */
    json_t *arr;
    int64_t last_seq;
    int limit;
} sub_list;

static int sub_cb(void *ud, int64_t seq, const char *id, const char *body)
{
    sub_list *s = ud;
    json_t *j = json_loads(body, 0, NULL);
    if (!j)
        return 0;
    const char *ta = json_string_value(json_object_get(j, "TopicArn"));
    const char *tok = json_string_value(json_object_get(j, "Token"));
    if ((s->topic_arn && (!ta || strcmp(ta, s->topic_arn) != 0)) || (s->token && (!tok || strcmp(tok, s->token) != 0))) {
        json_decref(j);
        return 0;
    }
    json_object_set_new(j, "_id", json_string(id));
    json_array_append_new(s->arr, j);
    s->last_seq = seq;
    return s->limit > 0 && (int)json_array_size(s->arr) >= s->limit;
}

static gt_err list_subs(store_txn *t, const char *a, const char *r, sub_list *s, int64_t after)
{
    s->arr = json_array();
    if (!s->arr)
        return GT_E_NOMEM;
    return store_doc_list(t, a, r, SNS_KIND_SUB, NULL, after, false, 0, sub_cb, s) == STORE_OK ? GT_OK
                                                                                               : GT_E_UNAVAILABLE;
}

/* Queue one delivery document. */
static gt_err enqueue(store_txn *t, json_t *d, int64_t now_ms)
{
    char id[64];
    gt_uuid4(id);
    json_object_set_new(d, "attempts", json_integer(0));
    json_object_set_new(d, "next_ms", json_integer(now_ms));
    json_object_set_new(d, "first_ms", json_integer(now_ms));
    return save(t, "", "", SNS_KIND_DLV, id, NULL, d) == STORE_OK ? GT_OK : GT_E_UNAVAILABLE;
}

gt_err sns_publish_txn(store_txn *t, const char *account, const char *region, const char *topic,
                       const char *subject, const char *message, int64_t now_ms, char msgid_out[37])
{
    char r[32], a[16], n[257], arn[512], mid[37], ts[25];
    if (!resolve(topic, account, region, r, a, n))
        return GT_E_SNS_NOT_FOUND;
    json_t *td = load(t, a, r, SNS_KIND_TOPIC, n);
    if (!td)
        return GT_E_SNS_NOT_FOUND;
    char sigv[4];
    const char *sv = json_string_value(json_object_get(json_object_get(td, "Attributes"), "SignatureVersion"));
    gt_strlcpy(sigv, sv && strcmp(sv, "2") == 0 ? "2" : "1", sizeof sigv);
    json_decref(td);
    topic_arn(r, a, n, arn, sizeof arn);
    gt_uuid4(mid);
    gt_fmt_iso_ms(now_ms, ts);
    if (msgid_out)
        memcpy(msgid_out, mid, 37);
    sub_list s = {.topic_arn = arn};
    gt_err e = list_subs(t, a, r, &s, 0);
    size_t i;
    json_t *sub;
    json_array_foreach(s.arr, i, sub) {
        if (e != GT_OK)
            break;
        if (!json_is_true(json_object_get(sub, "Confirmed")))
            continue;
        json_t *d = json_pack("{s:s?, s:s, s:s, s:s, s:s, s:s, s:s?, s:s}", "url",
                              json_string_value(json_object_get(sub, "Endpoint")), "Type", "Notification",
                              "MessageId", mid, "TopicArn", arn, "Message", message ? message : "", "Timestamp", ts,
                              "SubscriptionArn", json_string_value(json_object_get(sub, "SubscriptionArn")),
                              "region", r);
        if (!d) {
            e = GT_E_NOMEM;
            break;
        }
        if (subject)
            json_object_set_new(d, "Subject", json_string(subject));
        json_object_set_new(d, "sigv", json_string(sigv));
        e = enqueue(t, d, now_ms);
        json_decref(d);
    }
    json_decref(s.arr);
    return e;
}

typedef struct pub_job {
    const char *account, *region, *topic, *subject, *message;
} pub_job;

static gt_err pub_job_fn(store_txn *t, void *ud)
{
    pub_job *p = ud;
    return sns_publish_txn(t, p->account, p->region, p->topic, p->subject, p->message, gt_now_ms(), NULL);
}

gt_err sns_publish_internal(store *st, const char *account, const char *region, const char *topic,
                            const char *subject, const char *message)
{
    pub_job p = {account, region, topic, subject, message};
    return store_run(st, pub_job_fn, &p);
}

void sns_notify_trail_file(store *st, const json_t *trail, const char *bucket, const char *key)
{
    const char *topic = json_string_value(json_object_get(trail, "SnsTopicName"));
    const char *acct = json_string_value(json_object_get(trail, "_account"));
    const char *region = json_string_value(json_object_get(trail, "HomeRegion"));
    if (!topic || !*topic || !acct || !region || !bucket || !key)
        return;
    json_t *m = json_pack("{s:s, s:[s]}", "s3Bucket", bucket, "s3ObjectKey", key);
    char *text = m ? json_dumps(m, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(m);
    gt_err e = text ? sns_publish_internal(st, acct, region, topic, NULL, text) : GT_E_NOMEM;
    free(text);
    if (e != GT_OK)
        fprintf(stderr, "sns: trail notification to %s failed: %s\n", topic, gt_err_code(e));
}

/* Does policy (JSON text) Allow service principal `svc` the action sns:Publish? */
static bool policy_allows_service(const char *policy, const char *svc)
{
    json_t *p = policy ? json_loads(policy, 0, NULL) : NULL;
    json_t *stmts = json_object_get(p, "Statement");
    bool ok = false;
    if (json_is_object(stmts)) {
        json_t *one = json_array();
        json_array_append(one, stmts);
        stmts = one;
    } else {
        json_incref(stmts);
    }
    size_t i, j;
    json_t *s, *v;
    json_array_foreach(stmts, i, s) {
        if (strcmp(json_string_value(json_object_get(s, "Effect")) ? json_string_value(json_object_get(s, "Effect")) : "",
                   "Allow") != 0)
            continue;
        json_t *pr = json_object_get(json_object_get(s, "Principal"), "Service");
        bool who = json_is_string(pr) && strcmp(json_string_value(pr), svc) == 0;
        json_array_foreach(pr, j, v) who = who || (json_is_string(v) && strcmp(json_string_value(v), svc) == 0);
        json_t *act = json_object_get(s, "Action");
        bool what = false;
        json_t *acts = json_is_string(act) ? json_pack("[O]", act) : json_incref(act);
        json_array_foreach(acts, j, v) {
            const char *x = json_string_value(v);
            what = what || (x && (strcasecmp(x, "sns:Publish") == 0 || strcasecmp(x, "sns:*") == 0 || strcmp(x, "*") == 0));
        }
        json_decref(acts);
        if (who && what) {
            ok = true;
            break;
        }
    }
    json_decref(stmts);
    json_decref(p);
    return ok;
}

gt_err sns_check_trail_topic(store_txn *t, const char *account, const char *region, const char *topic,
                             char *msg, size_t msgcap)
{
    char r[32], a[16], n[257];
    if (!resolve(topic, account, region, r, a, n)) {
        snprintf(msg, msgcap, "SNS topic name %.300s is invalid.", topic ? topic : "");
        return GT_E_SNS_CT_NAME;
    }
    json_t *td = load(t, a, r, SNS_KIND_TOPIC, n);
    const char *pol = json_string_value(json_object_get(json_object_get(td, "Attributes"), "Policy"));
    /* AWS answers InsufficientSnsTopicPolicyException for a missing topic as
     * well as for a policy without cloudtrail.amazonaws.com SNS:Publish
     * [likely AWS behaviour; aws:SourceArn conditions are not evaluated]. */
    bool ok = td && policy_allows_service(pol, "cloudtrail.amazonaws.com");
    json_decref(td);
    if (!ok) {
        snprintf(msg, msgcap, "Problem with the SNS topic policy for topic %.300s.", topic);
        return GT_E_SNS_CT_POLICY;
    }
    return GT_OK;
}

/* ---------------------------------------------------------------- handlers */

static void default_policy(const char *arn, const char *acct, char *out, size_t cap)
{
    snprintf(out, cap,
             "{\"Version\":\"2008-10-17\",\"Id\":\"__default_policy_ID\",\"Statement\":[{\"Sid\":\"__default_statement_ID\","
             "\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"*\"},\"Action\":[\"SNS:GetTopicAttributes\","
             "\"SNS:SetTopicAttributes\",\"SNS:AddPermission\",\"SNS:RemovePermission\",\"SNS:DeleteTopic\","
             "\"SNS:Subscribe\",\"SNS:ListSubscriptionsByTopic\",\"SNS:Publish\"],\"Resource\":\"%s\","
             "\"Condition\":{\"StringEquals\":{\"AWS:SourceOwner\":\"%s\"}}}]}",
             arn, acct);
}

static const char *const SETTABLE[] = {"Policy", "DisplayName", "DeliveryPolicy", "KmsMasterKeyId",
                                       "TracingConfig", "SignatureVersion"};

static bool attr_settable(const char *k)
{
    for (size_t i = 0; i < sizeof SETTABLE / sizeof SETTABLE[0]; i++)
        if (strcmp(SETTABLE[i], k) == 0)
            return true;
    return false;
}

static gt_err check_attr(gt_call *c, const char *k, const char *v)
{
    if (!attr_settable(k))
        return gt_call_fail(c, GT_E_SNS_INVALID_PARAMETER, "Invalid parameter: AttributeName");
    if (strcmp(k, "Policy") == 0) {
        json_t *p = json_loads(v, 0, NULL);
        bool ok = json_is_object(p);
        json_decref(p);
        if (!ok)
            return gt_call_fail(c, GT_E_SNS_INVALID_PARAMETER, "Invalid parameter: Policy Error: null");
    }
    if (strcmp(k, "SignatureVersion") == 0 && strcmp(v, "1") != 0 && strcmp(v, "2") != 0)
        return gt_call_fail(c, GT_E_SNS_INVALID_PARAMETER, "Invalid parameter: SignatureVersion");
    return GT_OK;
}

static gt_err h_create_topic(gt_call *c, store_txn *t)
{
    const char *name = gt_in_str(c, "Name");
    if (!name_ok(name))
        return gt_call_fail(c, GT_E_SNS_INVALID_PARAMETER,
                            "Invalid parameter: Topic Name");
    char arn[512];
    topic_arn(c->region, c->account, name, arn, sizeof arn);
    gt_call_add_resource(c, "AWS::SNS::Topic", arn);
    json_t *td = load(t, c->account, c->region, SNS_KIND_TOPIC, name);
    json_t *in_attrs = json_object_get(c->input, "Attributes");
    const char *k;
    json_t *v;
    json_object_foreach(in_attrs, k, v) {
        gt_err e = check_attr(c, k, json_string_value(v) ? json_string_value(v) : "");
        if (e != GT_OK) {
            json_decref(td);
            return e;
        }
    }
    if (!td) {
        char pol[2048];
        default_policy(arn, c->account, pol, sizeof pol);
        json_t *attrs = json_pack("{s:s, s:s, s:s, s:s}", "TopicArn", arn, "Owner", c->account, "Policy", pol,
                                  "DisplayName", "");
        json_object_update(attrs, in_attrs);
        td = json_pack("{s:o}", "Attributes", attrs);
        int rc = save(t, c->account, c->region, SNS_KIND_TOPIC, name, NULL, td);
        json_decref(td);
        if (rc != STORE_OK)
            return GT_E_UNAVAILABLE;
    } else {
        json_decref(td);   /* idempotent: an existing topic is answered as is */
    }
    c->output = json_pack("{s:s}", "TopicArn", arn);
    return GT_OK;
}

/* The caller's topic named by input member `member` (an ARN). */
static gt_err own_topic(gt_call *c, store_txn *t, const char *member, char n[257], char arn[512], json_t **doc)
{
    const char *ta = gt_in_str(c, member);
    char r[32], a[16];
    if (!sns_parse_topic_arn(ta, r, a, n))
        return gt_call_fail(c, GT_E_SNS_INVALID_PARAMETER, "Invalid parameter: %s Reason: An ARN must have at least 6 elements, not 1", member);
    topic_arn(r, a, n, arn, 512);
    gt_call_add_resource(c, "AWS::SNS::Topic", arn);
    if (strcmp(a, c->account) != 0)
        return gt_call_fail(c, GT_E_SNS_AUTHORIZATION, "User: %s is not authorized to access this topic", c->who->arn);
    if (strcmp(r, c->region) != 0)
        return gt_call_fail(c, GT_E_SNS_INVALID_PARAMETER, "Invalid parameter: TopicArn");
    json_t *d = load(t, a, r, SNS_KIND_TOPIC, n);
    if (!d)
        return gt_call_fail(c, GT_E_SNS_NOT_FOUND, "Topic does not exist");
    if (doc)
        *doc = d;
    else
        json_decref(d);
    return GT_OK;
}

static gt_err h_delete_topic(gt_call *c, store_txn *t)
{
    char n[257], arn[512];
    gt_err e = own_topic(c, t, "TopicArn", n, arn, NULL);
    if (e == GT_E_SNS_NOT_FOUND) {
        c->err = GT_OK;   /* DeleteTopic of a missing topic succeeds (AWS: idempotent) */
        c->output = json_object();
        return GT_OK;
    }
    if (e != GT_OK)
        return e;
    store_key k = {c->account, c->region, SNS_KIND_TOPIC, n};
    if (store_doc_delete(t, &k) == STORE_ERR ||
        store_doc_delete_children(t, c->account, c->region, SNS_KIND_SUB, n) == STORE_ERR)
        return GT_E_UNAVAILABLE;
    c->output = json_object();
    return GT_OK;
}

typedef struct topic_list {
    json_t *arr;
    int64_t last_seq;
    const char *acct, *region;
} topic_list;

static int topic_cb(void *ud, int64_t seq, const char *id, const char *body)
{
    topic_list *l = ud;
    char arn[512];
    topic_arn(l->region, l->acct, id, arn, sizeof arn);
    json_array_append_new(l->arr, json_pack("{s:s}", "TopicArn", arn));
    l->last_seq = seq;
    return 0;
}

static bool parse_token(const gt_call *c, int64_t *after)
{
    const char *tok = gt_in_str(c, "NextToken");
    *after = 0;
    if (!tok)
        return true;
    return gt_parse_i64(tok, strlen(tok), after) && *after >= 0;
}

static gt_err h_list_topics(gt_call *c, store_txn *t)
{
    int64_t after;
    if (!parse_token(c, &after))
        return gt_call_fail(c, GT_E_SNS_INVALID_PARAMETER, "Invalid parameter: NextToken");
    topic_list l = {.arr = json_array(), .acct = c->account, .region = c->region};
    if (store_doc_list(t, c->account, c->region, SNS_KIND_TOPIC, NULL, after, false, PAGE, topic_cb, &l) != STORE_OK) {
        json_decref(l.arr);
        return GT_E_UNAVAILABLE;
    }
    size_t n = json_array_size(l.arr);
    c->output = json_pack("{s:o}", "Topics", l.arr);
    if (n == PAGE) {
        char tok[32];
        snprintf(tok, sizeof tok, "%lld", (long long)l.last_seq);
        json_object_set_new(c->output, "NextToken", json_string(tok));
    }
    return GT_OK;
}

static gt_err h_get_topic_attributes(gt_call *c, store_txn *t)
{
    char n[257], arn[512];
    json_t *d = NULL;
    gt_err e = own_topic(c, t, "TopicArn", n, arn, &d);
    if (e != GT_OK)
        return e;
    json_t *attrs = json_deep_copy(json_object_get(d, "Attributes"));
    json_decref(d);
    sub_list s = {.topic_arn = arn};
    if ((e = list_subs(t, c->account, c->region, &s, 0)) != GT_OK) {
        json_decref(attrs);
        json_decref(s.arr);
        return e;
    }
    int conf = 0, pend = 0;
    size_t i;
    json_t *sub;
    json_array_foreach(s.arr, i, sub) {
        if (json_is_true(json_object_get(sub, "Confirmed")))
            conf++;
        else
            pend++;
    }
    json_decref(s.arr);
    char num[16];
    snprintf(num, sizeof num, "%d", conf);
    json_object_set_new(attrs, "SubscriptionsConfirmed", json_string(num));
    snprintf(num, sizeof num, "%d", pend);
    json_object_set_new(attrs, "SubscriptionsPending", json_string(num));
    json_object_set_new(attrs, "SubscriptionsDeleted", json_string("0"));
    if (!json_object_get(attrs, "SignatureVersion"))
        json_object_set_new(attrs, "SignatureVersion", json_string("1"));
    json_object_set_new(attrs, "EffectiveDeliveryPolicy",
                        json_string("{\"http\":{\"defaultHealthyRetryPolicy\":{\"minDelayTarget\":1,\"maxDelayTarget\":20,"
                                    "\"numRetries\":50,\"numMaxDelayRetries\":0,\"numNoDelayRetries\":0,"
                                    "\"numMinDelayRetries\":0,\"backoffFunction\":\"exponential\"},"
                                    "\"disableSubscriptionOverrides\":false}}"));
    c->output = json_pack("{s:o}", "Attributes", attrs);
    return GT_OK;
}

static gt_err h_set_topic_attributes(gt_call *c, store_txn *t)
{
    char n[257], arn[512];
    json_t *d = NULL;
    gt_err e = own_topic(c, t, "TopicArn", n, arn, &d);
    if (e != GT_OK)
        return e;
    const char *k = gt_in_str(c, "AttributeName");
    const char *v = gt_in_str(c, "AttributeValue");
    if ((e = check_attr(c, k ? k : "", v ? v : "")) != GT_OK) {
        json_decref(d);
        return e;
    }
    json_object_set_new(json_object_get(d, "Attributes"), k, json_string(v ? v : ""));
    int rc = save(t, c->account, c->region, SNS_KIND_TOPIC, n, NULL, d);
    json_decref(d);
    if (rc != STORE_OK)
        return GT_E_UNAVAILABLE;
    c->output = json_object();
    return GT_OK;
}

static gt_err h_subscribe(gt_call *c, store_txn *t)
{
    char n[257], arn[512];
    gt_err e = own_topic(c, t, "TopicArn", n, arn, NULL);
    if (e != GT_OK)
        return e;
    const char *proto = gt_in_str(c, "Protocol"), *ep = gt_in_str(c, "Endpoint");
    if (!proto || (strcmp(proto, "http") != 0 && strcmp(proto, "https") != 0))
        return gt_call_fail(c, GT_E_SNS_INVALID_PARAMETER,
                            "Invalid parameter: Protocol (greentrail delivers to http and https endpoints only)");
    char want[16];
    snprintf(want, sizeof want, "%s://", proto);
    if (!ep || strncmp(ep, want, strlen(want)) != 0 || strlen(ep) > 2048 || strlen(ep) <= strlen(want))
        return gt_call_fail(c, GT_E_SNS_INVALID_PARAMETER, "Invalid parameter: Endpoint must match the specified protocol");
    /* the same endpoint subscribed again: the existing subscription */
    sub_list s = {.topic_arn = arn};
    if ((e = list_subs(t, c->account, c->region, &s, 0)) != GT_OK) {
        json_decref(s.arr);
        return e;
    }
    size_t i;
    json_t *sub, *found = NULL;
    json_array_foreach(s.arr, i, sub) {
        const char *se = json_string_value(json_object_get(sub, "Endpoint"));
        const char *sp = json_string_value(json_object_get(sub, "Protocol"));
        if (se && sp && strcmp(se, ep) == 0 && strcmp(sp, proto) == 0)
            found = sub;
    }
    bool ret_arn = json_is_true(json_object_get(c->input, "ReturnSubscriptionArn"));
    if (found && json_is_true(json_object_get(found, "Confirmed"))) {
        c->output = json_pack("{s:O}", "SubscriptionArn", json_object_get(found, "SubscriptionArn"));
        json_decref(s.arr);
        return GT_OK;
    }
    char uuid[37], sarn[600], token[129], ts[25];
    unsigned char rnd[64];
    json_t *doc;
    if (found) {
        doc = json_incref(found);
        gt_strlcpy(uuid, json_string_value(json_object_get(found, "_id")), sizeof uuid);
        json_object_del(doc, "_id");
    } else {
        gt_uuid4(uuid);
        snprintf(sarn, sizeof sarn, "%s:%s", arn, uuid);
        doc = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b}", "SubscriptionArn", sarn, "TopicArn", arn, "Protocol", proto,
                        "Endpoint", ep, "Owner", c->account, "Confirmed", 0);
    }
    json_decref(s.arr);
    /* a fresh token for every confirmation request (AWS sends a new one) */
    if (!gt_random_bytes(rnd, sizeof rnd)) {
        json_decref(doc);
        return GT_E_INTERNAL;
    }
    gt_hex(rnd, sizeof rnd, token);
    json_object_set_new(doc, "Token", json_string(token));
    if (save(t, c->account, c->region, SNS_KIND_SUB, uuid, n, doc) != STORE_OK) {
        json_decref(doc);
        return GT_E_UNAVAILABLE;
    }
    gt_fmt_iso_ms(c->now_ms, ts);
    char mid[37], text[1024];
    gt_uuid4(mid);
    snprintf(text, sizeof text,
             "You have chosen to subscribe to the topic %s.\nTo confirm the subscription, visit the SubscribeURL "
             "included in this message.",
             arn);
    json_t *d = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "url", ep, "Type", "SubscriptionConfirmation",
                          "MessageId", mid, "TopicArn", arn, "Message", text, "Timestamp", ts, "Token", token, "region",
                          c->region);
    e = d ? enqueue(t, d, c->now_ms) : GT_E_NOMEM;
    json_decref(d);
    if (e == GT_OK)
        c->output = ret_arn ? json_pack("{s:O}", "SubscriptionArn", json_object_get(doc, "SubscriptionArn"))
                            : json_pack("{s:s}", "SubscriptionArn", "pending confirmation");
    json_decref(doc);
    return e;
}

/* Confirm the subscription holding token on topic arn (in acct/region). */
static gt_err confirm(store_txn *t, const char *acct, const char *region, const char *arn, const char *token,
                      char sarn_out[600])
{
    sub_list s = {.topic_arn = arn, .token = token};
    gt_err e = list_subs(t, acct, region, &s, 0);
    json_t *sub = json_array_get(s.arr, 0);
    if (e == GT_OK && !sub)
        e = GT_E_SNS_INVALID_PARAMETER;
    if (e == GT_OK) {
        char id[64], n[257], r[32], a[16];
        gt_strlcpy(id, json_string_value(json_object_get(sub, "_id")), sizeof id);
        json_object_del(sub, "_id");
        json_object_set_new(sub, "Confirmed", json_true());
        gt_strlcpy(sarn_out, json_string_value(json_object_get(sub, "SubscriptionArn")), 600);
        sns_parse_topic_arn(arn, r, a, n);
        if (save(t, acct, region, SNS_KIND_SUB, id, n, sub) != STORE_OK)
            e = GT_E_UNAVAILABLE;
    }
    json_decref(s.arr);
    return e;
}

static gt_err h_confirm_subscription(gt_call *c, store_txn *t)
{
    char n[257], arn[512], sarn[600];
    gt_err e = own_topic(c, t, "TopicArn", n, arn, NULL);
    if (e != GT_OK)
        return e;
    e = confirm(t, c->account, c->region, arn, gt_in_str(c, "Token"), sarn);
    if (e == GT_E_SNS_INVALID_PARAMETER)
        return gt_call_fail(c, e, "Invalid token");
    if (e != GT_OK)
        return e;
    c->output = json_pack("{s:s}", "SubscriptionArn", sarn);
    return GT_OK;
}

/* Delete subscription sarn; GT_E_SNS_NOT_FOUND when there is none. */
static gt_err unsubscribe(store_txn *t, const char *sarn, const char *only_acct)
{
    char r[32], a[16], n[257], tarn[600];
    const char *colon = sarn ? strrchr(sarn, ':') : NULL;
    if (!colon || colon - sarn >= (long)sizeof tarn)
        return GT_E_SNS_INVALID_PARAMETER;
    snprintf(tarn, sizeof tarn, "%.*s", (int)(colon - sarn), sarn);
    if (!sns_parse_topic_arn(tarn, r, a, n))
        return GT_E_SNS_INVALID_PARAMETER;
    if (only_acct && strcmp(a, only_acct) != 0)
        return GT_E_SNS_AUTHORIZATION;
    char id[64];
    if (!gt_strlcpy(id, colon + 1, sizeof id))
        return GT_E_SNS_NOT_FOUND;
    json_t *d = load(t, a, r, SNS_KIND_SUB, id);
    if (!d)
        return GT_E_SNS_NOT_FOUND;
    json_decref(d);
    store_key k = {a, r, SNS_KIND_SUB, id};
    return store_doc_delete(t, &k) == STORE_ERR ? GT_E_UNAVAILABLE : GT_OK;
}

static gt_err h_unsubscribe(gt_call *c, store_txn *t)
{
    gt_err e = unsubscribe(t, gt_in_str(c, "SubscriptionArn"), c->account);
    if (e == GT_E_SNS_INVALID_PARAMETER)
        return gt_call_fail(c, e, "Invalid parameter: SubscriptionArn");
    if (e == GT_E_SNS_AUTHORIZATION)
        return gt_call_fail(c, e, "User: %s is not authorized to perform: SNS:Unsubscribe", c->who->arn);
    if (e == GT_E_SNS_NOT_FOUND)
        return gt_call_fail(c, e, "Subscription does not exist");
    if (e != GT_OK)
        return e;
    c->output = json_object();
    return GT_OK;
}

static json_t *public_sub(const json_t *s)
{
    json_t *o = json_pack("{s:O, s:O, s:O, s:O, s:O}", "SubscriptionArn", json_object_get(s, "SubscriptionArn"), "Owner",
                          json_object_get(s, "Owner"), "Protocol", json_object_get(s, "Protocol"), "Endpoint",
                          json_object_get(s, "Endpoint"), "TopicArn", json_object_get(s, "TopicArn"));
    if (o && !json_is_true(json_object_get(s, "Confirmed")))
        json_object_set_new(o, "SubscriptionArn", json_string("PendingConfirmation"));
    return o;
}

static gt_err list_subs_out(gt_call *c, store_txn *t, const char *arn)
{
    int64_t after;
    if (!parse_token(c, &after))
        return gt_call_fail(c, GT_E_SNS_INVALID_PARAMETER, "Invalid parameter: NextToken");
    sub_list s = {.topic_arn = arn, .limit = PAGE};
    gt_err e = list_subs(t, c->account, c->region, &s, after);
    if (e != GT_OK) {
        json_decref(s.arr);
        return e;
    }
    json_t *out = json_array();
    size_t i;
    json_t *sub;
    json_array_foreach(s.arr, i, sub) json_array_append_new(out, public_sub(sub));
    size_t n = json_array_size(s.arr);
    json_decref(s.arr);
    c->output = json_pack("{s:o}", "Subscriptions", out);
    if (n == PAGE) {
        char tok[32];
        snprintf(tok, sizeof tok, "%lld", (long long)s.last_seq);
        json_object_set_new(c->output, "NextToken", json_string(tok));
    }
    return GT_OK;
}

static gt_err h_list_subscriptions(gt_call *c, store_txn *t) { return list_subs_out(c, t, NULL); }

static gt_err h_list_subscriptions_by_topic(gt_call *c, store_txn *t)
{
    char n[257], arn[512];
    gt_err e = own_topic(c, t, "TopicArn", n, arn, NULL);
    return e != GT_OK ? e : list_subs_out(c, t, arn);
}

static gt_err h_publish(gt_call *c, store_txn *t)
{
    const char *ta = gt_in_str(c, "TopicArn");
    if (!ta)
        ta = gt_in_str(c, "TargetArn");
    if (!ta)
        return gt_call_fail(c, GT_E_SNS_INVALID_PARAMETER,
                            "Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter");
    const char *msg = gt_in_str(c, "Message");
    if (!msg || !*msg)
        return gt_call_fail(c, GT_E_SNS_INVALID_PARAMETER, "Invalid parameter: Empty message");
    if (strlen(msg) > 262144)
        return gt_call_fail(c, GT_E_SNS_INVALID_PARAMETER, "Invalid parameter: Message too long");
    const char *subj = gt_in_str(c, "Subject");
    if (subj && (!*subj || strlen(subj) > 100))
        return gt_call_fail(c, GT_E_SNS_INVALID_PARAMETER, "Invalid parameter: Subject");
    char n[257], arn[512];
    gt_err e = own_topic(c, t, gt_in_str(c, "TopicArn") ? "TopicArn" : "TargetArn", n, arn, NULL);
    if (e != GT_OK)
        return e;
    char mid[37];
    e = sns_publish_txn(t, c->account, c->region, arn, subj, msg, c->now_ms, mid);
    if (e != GT_OK)
        return e;
    c->output = json_pack("{s:s}", "MessageId", mid);
    return GT_OK;
}

/* ---------------------------------------------------------------- URL confirmation */

typedef struct url_job {
    const char *action, *topic_arn, *token, *sub_arn;
    char sarn[600];
} url_job;

static gt_err url_job_fn(store_txn *t, void *ud)
{
    url_job *u = ud;
    if (strcmp(u->action, "Unsubscribe") == 0) {
        gt_strlcpy(u->sarn, u->sub_arn ? u->sub_arn : "", sizeof u->sarn);
        return unsubscribe(t, u->sub_arn, NULL);
    }
    char r[32], a[16], n[257];
    if (!sns_parse_topic_arn(u->topic_arn, r, a, n) || !u->token)
        return GT_E_SNS_INVALID_PARAMETER;
    return confirm(t, a, r, u->topic_arn, u->token, u->sarn);
}

/* Run the SubscribeURL / UnsubscribeURL action (sns_deliver.c calls it
 * with decoded query parameters). The response XML is malloc'd into
 * *xml; returns the HTTP status. */
int sns_url_action(store *st, const char *action, const char *topic_arn, const char *token, const char *sub_arn,
                   char **xml);
int sns_url_action(store *st, const char *action, const char *topic_arn, const char *token, const char *sub_arn,
                   char **xml)
{
    char rid[37];
    gt_uuid4(rid);
    url_job u = {.action = action, .topic_arn = topic_arn, .token = token, .sub_arn = sub_arn};
    bool unsub = strcmp(action, "Unsubscribe") == 0;
    if (!unsub && strcmp(action, "ConfirmSubscription") != 0) {
        *xml = api_query_xml_error(&model_sns, "InvalidAction", "Invalid action", 400, rid);
        return 400;
    }
    gt_err e = store_run(st, url_job_fn, &u);
    if (e != GT_OK) {
        *xml = api_query_xml_error(&model_sns, gt_err_code(e),
                                   e == GT_E_SNS_INVALID_PARAMETER ? "Invalid token" : gt_err_message(e),
                                   gt_err_status(e), rid);
        return gt_err_status(e);
    }
    const model_op *op = model_find_op(&model_sns, action);
    json_t *out = unsub ? json_object() : json_pack("{s:s}", "SubscriptionArn", u.sarn);
    *xml = op ? api_query_xml_ok(&model_sns, op, out, rid) : NULL;
    json_decref(out);
    return 200;
}

/* ---------------------------------------------------------------- service */

static const gt_op_handler handlers[] = {
    {"ConfirmSubscription", h_confirm_subscription},
    {"CreateTopic", h_create_topic},
    {"DeleteTopic", h_delete_topic},
    {"GetTopicAttributes", h_get_topic_attributes},
    {"ListSubscriptions", h_list_subscriptions},
    {"ListSubscriptionsByTopic", h_list_subscriptions_by_topic},
    {"ListTopics", h_list_topics},
    {"Publish", h_publish},
    {"SetTopicAttributes", h_set_topic_attributes},
    {"Subscribe", h_subscribe},
    {"Unsubscribe", h_unsubscribe},
};

static gt_handler sns_handler_for(const char *op)
{
    return GT_OP_HANDLER_FIND(handlers, op);
}

static gt_err sns_map_error(const model_op *op, gt_err e, const char *msg)
{
    return api_query_err(e);
}

static void sns_encode_error(const gt_call *c, gt_err e, const char *msg, json_t *details, bool untyped,
                             http_resp *out)
{
    api_query_encode_error(&model_sns, c, e, msg, out);
}

const gt_service sns_service = {
    .signing_name = "sns",
    .model = &model_sns,
    .decode = api_query_decode,
    .handler_for = sns_handler_for,
    .record_parts = iam_record_parts,
    .map_error = sns_map_error,
    .encode_ok = gt_encode_query_ok,
    .encode_error = sns_encode_error,
};
