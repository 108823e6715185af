/*
 * transform.c: from a CloudTrail record to what an EventBridge target
 * receives.
 *
 * What: the envelope of cloudtrail.md §8.1 (which records qualify: §8.2),
 * and the three ways a target reshapes it: Input (constant JSON text),
 * InputPath (a JSONPath subset: $, .name, [n], ['name']) and
 * InputTransformer (InputPathsMap variables substituted into
 * InputTemplate).
 *
 * Why here, pure: the delivery worker and the tests use the same
 * functions, and nothing here touches the store or the network.
 *
 * InputTransformer rules (AWS's documented behaviour): a placeholder
 * <name> outside a JSON string is replaced by the value's JSON (strings
 * quoted; a missing value is null); inside a string it is replaced by the
 * value's text, escaped for a JSON string (a missing value is empty).
 * Unknown placeholders stay as written. Reserved variables:
 * aws.events.rule-arn, aws.events.rule-name, aws.events.event,
 * aws.events.event.json, aws.events.event.ingestion-time.
 *
 * Invariants: the envelope id is a function of the record's eventID, so
 * retries and TestEventPattern see the same event; rendered output is
 * capped at 2 x EV_MAX_EVENT_BYTES.
 */
#include "events/transform.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- envelope */

bool ev_record_eligible(const json_t *rec, bool include_read_only)
{
    const char *src = json_string_value(json_object_get(rec, "eventSource"));
    const char *name = json_string_value(json_object_get(rec, "eventName"));
    if (!src || !name)
        return false;
    if (strcmp(src, "events.amazonaws.com") == 0 && strcmp(name, "PutEvents") == 0)
        return false;
    if (!json_is_true(json_object_get(rec, "readOnly")) || include_read_only)
        return true;
    return strcmp(src, "sts.amazonaws.com") == 0 &&
           (strcmp(name, "GetFederationToken") == 0 || strcmp(name, "GetSessionToken") == 0);
}

static const char *detail_type(const char *event_type)
{
    if (!event_type || strcmp(event_type, "AwsApiCall") == 0)
        return "AWS API Call via CloudTrail";
    if (strcmp(event_type, "AwsServiceEvent") == 0)
        return "AWS Service Event via CloudTrail";
    if (strcmp(event_type, "AwsConsoleAction") == 0)
        return "AWS Console Action via CloudTrail";
    if (strcmp(event_type, "AwsConsoleSignIn") == 0)
        return "AWS Console Sign In via CloudTrail";   /* real events' spelling (§8.1) */
    if (strcmp(event_type, "AwsCloudTrailInsight") == 0)
        return "AWS Insight via CloudTrail";
    return "AWS API Call via CloudTrail";
}

static void stable_id(const char *event_id, char out[37])
{
    unsigned char h[SHA256_DIGEST_LENGTH];
    char in[256];
    int n = snprintf(in, sizeof in, "greentrail:eventbridge:%s", event_id ? event_id : "");
    SHA256((const unsigned char *)in, (size_t)(n < (int)sizeof in ? n : (int)sizeof in - 1), h);
    h[6] = (unsigned char)((h[6] & 0x0f) | 0x40);   /* looks like a v4 UUID */
    h[8] = (unsigned char)((h[8] & 0x3f) | 0x80);
    static const char hx[] = "0123456789abcdef";
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hx[h[i] >> 4];
        out[o++] = hx[h[i] & 15];
    }
    out[o] = '\0';
}

json_t *ev_envelope_from_record(const json_t *rec)
{
    const char *src = json_string_value(json_object_get(rec, "eventSource"));
    if (!json_is_object(rec) || !src)
        return NULL;
    char source[128];
    const char *dot = strchr(src, '.');
    size_t n = dot ? (size_t)(dot - src) : strlen(src);
    if (n > sizeof source - 5)
        n = sizeof source - 5;
    snprintf(source, sizeof source, "aws.%.*s", (int)n, src);
    char id[37];
    stable_id(json_string_value(json_object_get(rec, "eventID")), id);
    const char *account = json_string_value(json_object_get(rec, "recipientAccountId"));
    if (!account)
        account = json_string_value(json_object_get(json_object_get(rec, "userIdentity"), "accountId"));
    json_t *env = json_object();
    if (!env)
        return NULL;
    json_object_set_new(env, "version", json_string("0"));
    json_object_set_new(env, "id", json_string(id));
    json_object_set_new(env, "detail-type",
                        json_string(detail_type(json_string_value(json_object_get(rec, "eventType")))));
    json_object_set_new(env, "source", json_string(source));
    json_object_set_new(env, "account", json_string(account ? account : ""));
    const char *when = json_string_value(json_object_get(rec, "eventTime"));
    const char *region = json_string_value(json_object_get(rec, "awsRegion"));
    json_object_set_new(env, "time", json_string(when ? when : ""));
    json_object_set_new(env, "region", json_string(region ? region : ""));
    json_object_set_new(env, "resources", json_array());
    json_object_set(env, "detail", (json_t *)rec);
    return env;
}

/* ---------------------------------------------------------------- JSONPath subset */

/* Walks path; calls back per segment. Returns false on a syntax error.
 * With event != NULL it also resolves the value into *out. */
static bool walk_path(const char *path, const json_t *event, const json_t **out)
{
    if (!path || path[0] != '$')
        return false;
    const json_t *cur = event;
    const char *p = path + 1;
    while (*p) {
        char key[256];
        if (*p == '.') {
            p++;
            size_t n = strcspn(p, ".[");
            if (n == 0 || n >= sizeof key)
                return false;
            memcpy(key, p, n);
            key[n] = '\0';
            p += n;
            cur = cur ? json_object_get(cur, key) : NULL;
        } else if (*p == '[') {
            p++;
            if (*p == '\'') {
                const char *end = strstr(p + 1, "']");
                if (!end || (size_t)(end - p - 1) >= sizeof key || end == p + 1)
                    return false;
                memcpy(key, p + 1, (size_t)(end - p - 1));
                key[end - p - 1] = '\0';
                p = end + 2;
                cur = cur ? json_object_get(cur, key) : NULL;
            } else {
                size_t n = strspn(p, "0123456789");
                if (n == 0 || n > 9 || p[n] != ']')
                    return false;
                size_t idx = 0;
                for (size_t i = 0; i < n; i++)
                    idx = idx * 10 + (size_t)(p[i] - '0');
                p += n + 1;
                cur = cur ? json_array_get(cur, idx) : NULL;
            }
        } else {
            return false;
        }
    }
    if (out)
        *out = cur;
    return true;
}

bool ev_input_path_valid(const char *path)
{
    return path && strlen(path) <= 256 && walk_path(path, NULL, NULL);
}

const json_t *ev_input_path_get(const json_t *event, const char *path)
{
    const json_t *v = NULL;
    if (!walk_path(path, event, &v))
        return NULL;
    return v;
}

/* ---------------------------------------------------------------- rendering */

typedef struct sbuf {
    char *p;
    size_t n, cap;
    bool fail;
} sbuf;

#define SBUF_LIMIT (2 * EV_MAX_EVENT_BYTES)

static void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->fail)
        return;
    if (b->n + n + 1 > SBUF_LIMIT) {
        b->fail = true;
        return;
    }
    if (b->n + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc < b->n + n + 1)
            nc *= 2;
        char *np = realloc(b->p, nc);
        if (!np) {
            b->fail = true;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_json(sbuf *b, const json_t *v)
{
    char *t = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    if (!t) {
        sb_add(b, "null", 4);
        return;
    }
    sb_add(b, t, strlen(t));
    free(t);
}

/* The value as the inside of a JSON string (no quotes). */
static void sb_in_string(sbuf *b, const json_t *v)
{
    if (!v)
        return;
    json_t *s = json_is_string(v) ? json_incref((json_t *)v) : NULL;
    if (!s) {
        char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        s = t ? json_string(t) : NULL;
        free(t);
    }
    char *q = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
    json_decref(s);
    if (q && strlen(q) >= 2)
        sb_add(b, q + 1, strlen(q) - 2);
    free(q);
}

static char *render_template(const json_t *tr, const json_t *event, const char *rule_arn,
                             const char *rule_name)
{
    const char *tpl = json_string_value(json_object_get(tr, "InputTemplate"));
    const json_t *paths = json_object_get(tr, "InputPathsMap");
    sbuf b = {0};
    bool in_str = false;
    if (!tpl)
        tpl = "";
    for (const char *p = tpl; *p;) {
        if (*p == '"') {
            /* count preceding backslashes inside strings */
            size_t bs = 0;
            for (const char *q = p; q > tpl && q[-1] == '\\'; q--)
                bs++;
            if (!in_str || bs % 2 == 0)
                in_str = !in_str;
            sb_add(&b, p, 1);
            p++;
            continue;
        }
        if (*p == '<') {
            const char *end = strchr(p + 1, '>');
            size_t n = end ? (size_t)(end - p - 1) : 0;
            char name[256];
            if (end && n > 0 && n < sizeof name) {
                memcpy(name, p + 1, n);
                name[n] = '\0';
                json_t *tmp = NULL;
                const json_t *val = NULL;
                bool known = true;
                if (strcmp(name, "aws.events.rule-arn") == 0)
                    val = tmp = json_string(rule_arn ? rule_arn : "");
                else if (strcmp(name, "aws.events.rule-name") == 0)
                    val = tmp = json_string(rule_name ? rule_name : "");
                else if (strcmp(name, "aws.events.event") == 0 || strcmp(name, "aws.events.event.json") == 0)
                    val = event;
                else if (strcmp(name, "aws.events.event.ingestion-time") == 0)
                    val = json_object_get(event, "time");
                else if (json_object_get(paths, name))
                    val = ev_input_path_get(event, json_string_value(json_object_get(paths, name)));
                else
                    known = false;
                if (known) {
                    if (in_str)
                        sb_in_string(&b, val);
                    else
                        sb_json(&b, val);
                    json_decref(tmp);
                    p = end + 1;
                    continue;
                }
            }
        }
        sb_add(&b, p, 1);
        p++;
    }
    if (b.fail) {
        free(b.p);
        return NULL;
    }
    if (!b.p)
        return strdup("");
    return b.p;
}

char *ev_target_body(const json_t *target, const json_t *event, const char *rule_arn,
                     const char *rule_name)
{
    const char *input = json_string_value(json_object_get(target, "Input"));
    if (input)
        return strdup(input);
    const char *path = json_string_value(json_object_get(target, "InputPath"));
    if (path)
        return json_dumps(ev_input_path_get(event, path) ? ev_input_path_get(event, path) : json_null(),
                          JSON_COMPACT | JSON_ENCODE_ANY);
    const json_t *tr = json_object_get(target, "InputTransformer");
    if (tr)
        return render_template(tr, event, rule_arn, rule_name);
    return json_dumps(event, JSON_COMPACT);
}
