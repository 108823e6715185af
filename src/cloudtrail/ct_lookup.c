/*
 * ct_lookup.c: LookupEvents, CloudTrail's event history (cloudtrail.md §5).
 *
 * What: at most one lookup attribute, an inclusive time range (default:
 * the retention window up to now), newest first, pages of at most 50 with
 * an opaque NextToken. Each event carries the stored record as the
 * CloudTrailEvent string.
 *
 * Each stored event carries its LookupEvents entry (ct_lookup_summary,
 * made by the dispatcher from the record's tree when it records a call),
 * so a page parses 50 small summaries instead of 50 whole records (that
 * parse was 45% of a page's instructions, bench/RESULTS.md round 2).
 * Events without one are summarised from their record, identically.
 *
 * Why this shape: every attribute has an index ending in (time, seq), so a
 * page is one index range scan whatever the journal's size; the cursor is
 * the (time, seq) of the last event returned, bound by HMAC to the query
 * that made it (api/pagetoken), so a token cannot be forged or replayed
 * against another query.
 */
#include "cloudtrail/ct_lookup.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/decode.h"
#include "api/pagetoken.h"
#include "api/service.h"
#include "cloudtrail/ct_trail.h"
#include "util/gtutil.h"
#include "util/jsonw.h"

static const struct {
    const char *name;
    store_attr attr;
} attrs[] = {
    {"EventId", STORE_ATTR_EVENT_ID},         {"EventName", STORE_ATTR_EVENT_NAME},
    {"ReadOnly", STORE_ATTR_READ_ONLY},       {"Username", STORE_ATTR_USERNAME},
    {"ResourceType", STORE_ATTR_RESOURCE_TYPE}, {"ResourceName", STORE_ATTR_RESOURCE_NAME},
    {"EventSource", STORE_ATTR_EVENT_SOURCE}, {"AccessKeyId", STORE_ATTR_ACCESS_KEY_ID},
};

/* A timestamp member: epoch seconds (number) or ISO-8601 string. */
static bool time_member(const gt_call *c, const char *name, int64_t *ms, bool *given)
{
    json_t *v = json_object_get(c->input, name);
    *given = v != NULL;
    if (!v)
        return true;
    if (json_is_number(v)) {
        double d = json_number_value(v);
        if (!isfinite(d) || d < 0 || d > 253402300799.0)
            return false;
        *ms = (int64_t)(d * 1000.0);
        return true;
    }
    const char *s = json_string_value(v);
    return s && gt_parse_iso(s, ms);
}

/* The LookupEvents entry of a record, without its CloudTrailEvent: the
 * members in the order CloudTrail's answer has them. */
static json_t *summary_of(const json_t *rec, int64_t time_ms)
{
    json_t *e = json_object();
    if (!e)
        return NULL;
    json_t *ui = json_object_get(rec, "userIdentity");
    json_object_set(e, "EventId", json_object_get(rec, "eventID"));
    json_object_set(e, "EventName", json_object_get(rec, "eventName"));
    json_object_set_new(e, "ReadOnly", json_string(json_is_true(json_object_get(rec, "readOnly")) ? "true" : "false"));
    json_t *akid = json_object_get(ui, "accessKeyId");
    if (json_string_length(akid) > 0)
        json_object_set(e, "AccessKeyId", akid);
    json_object_set_new(e, "EventTime", json_integer(time_ms / 1000));
    json_object_set(e, "EventSource", json_object_get(rec, "eventSource"));
    const char *type = json_string_value(json_object_get(ui, "type"));
    if (type && strcmp(type, "Root") == 0)
        json_object_set_new(e, "Username", json_string("root"));
    else if (json_object_get(ui, "userName"))
        json_object_set(e, "Username", json_object_get(ui, "userName"));
    json_t *res = json_object_get(rec, "resources");
    json_t *out = json_array();
    for (size_t i = 0; i < json_array_size(res); i++) {
        json_t *r = json_array_get(res, i);
        json_array_append_new(out, json_pack("{s:O?, s:O?}", "ResourceType", json_object_get(r, "type"),
                                             "ResourceName", json_object_get(r, "ARN")));
    }
    json_object_set_new(e, "Resources", out);
    return e;
}

char *ct_lookup_summary(const json_t *rec, int64_t time_ms)
{
    json_t *e = summary_of(rec, time_ms);
    char *s = e ? gt_json_dumps(e, false, false) : NULL;
    json_decref(e);
    return s;
}

/* The answer is written as text while the page is read (ct_encode_ok
 * sends it): no jansson tree of 50 large strings, and the records are
 * escaped by copying (escape_into). Output bytes are what jansson's
 * json_dumps(..., JSON_COMPACT) made of the former tree: the stored
 * summary is that dump of the entry's first members, the CloudTrailEvent
 * follows it, then the NextToken.
 *
 * c->output carries that text (member LOOKUP_BODY_KEY) and, for code that
 * runs the handler and reads the tree (fuzz/fuzz_lookup.c), a reduced
 * view: "Events" with each entry's EventId and CloudTrailEvent (copies
 * without UTF-8 checks: a memcpy each), and "NextToken". */
typedef struct page {
    json_t *view;   /* the reduced Events array */
    char *buf;
    size_t len, cap;
    bool oom;
    int n, limit;
    int64_t last_time, last_seq;
    bool more;
} page;

#define LOOKUP_BODY_KEY "\x01greentrail-body"   /* c->output's member for ct_encode_ok */

static char *reserve(page *p, size_t n)
{
    if (p->oom)
        return NULL;
    if (p->len + n + 1 > p->cap) {
        size_t cap = p->cap ? p->cap : 65536;
        while (cap < p->len + n + 1)
            cap *= 2;
        char *nb = realloc(p->buf, cap);
        if (!nb) {
            p->oom = true;
            return NULL;
        }
        p->buf = nb;
        p->cap = cap;
    }
    return p->buf + p->len;
}

static void put(page *p, const char *s, size_t n)
{
    char *d = reserve(p, n);
    if (!d)
        return;
    memcpy(d, s, n);
    p->len += n;
}

/* s as a JSON string, exactly as jansson's json_dumps writes it (without
 * JSON_ENSURE_ASCII / JSON_ESCAPE_SLASH): '"' and '\\' get a backslash,
 * every other byte is copied. A string with a control character (never in
 * a stored record, which is itself compact JSON) is handed to jansson. */
static void escape_into(page *p, const char *s)
{
    size_t n = strlen(s), extra = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20) {
            json_t *j = json_string(s);
            char *d = j ? json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
            json_decref(j);
            if (!d) {
                p->oom = true;
                return;
            }
            put(p, d, strlen(d));
            free(d);
            return;
        }
        extra += ch == '"' || ch == '\\';
    }
    char *d = reserve(p, n + extra + 2);
    if (!d)
        return;
    *d++ = '"';
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '"' || ch == '\\')
            *d++ = '\\';
        *d++ = ch;
    }
    *d++ = '"';
    p->len += n + extra + 2;
}

static int add_event(void *ud, int64_t seq, int64_t time_ms, const char *json, const char *summary)
{
    page *p = ud;
    if (p->n == p->limit) {
        p->more = true;
        return 1;
    }
    /* The stored summary when the event has one; else (stored before
     * schema 2, or by a writer that gave none) the record is parsed and
     * summarised the same way, so both give the same bytes. */
    char *made = NULL;
    if (!summary) {
        json_t *rec = json_loads(json, 0, NULL);
        if (!rec)
            return 1;
        made = ct_lookup_summary(rec, time_ms);
        json_decref(rec);
        if (!made)
            return 1;
        summary = made;
    }
    size_t sl = strlen(summary);
    if (sl < 2 || summary[sl - 1] != '}') {
        free(made);
        return 1;
    }
    if (p->n > 0)
        put(p, ",", 1);
    put(p, summary, sl - 1);   /* the entry without its closing brace */
    put(p, ",\"CloudTrailEvent\":", 19);
    escape_into(p, json);
    put(p, "}", 1);
    /* the reduced view: EventId is the summary's first member */
    static const char lead[] = "{\"EventId\":\"";
    json_t *ve = json_object();
    if (ve && strncmp(summary, lead, sizeof lead - 1) == 0) {
        const char *id = summary + sizeof lead - 1;
        size_t idn = strcspn(id, "\"\\");
        if (id[idn] == '"')
            json_object_set_new(ve, "EventId", json_stringn_nocheck(id, idn));
    }
    json_object_set_new(ve, "CloudTrailEvent", json_stringn_nocheck(json, strlen(json)));
    if (!ve || json_array_append_new(p->view, ve) != 0)
        p->oom = true;
    free(made);
    p->n++;
    p->last_time = time_ms;
    p->last_seq = seq;
    return 0;
}

static gt_err lookup_events(gt_call *c, store_txn *t)
{
    store_lookup q = {.account = c->account, .region = c->region};
    json_t *la = json_object_get(c->input, "LookupAttributes");
    if (json_array_size(la) > 1)
        return gt_call_fail(c, GT_E_CT_INVALID_LOOKUP_ATTRS, "You cannot specify more than one lookup attribute.");
    const char *akey = NULL, *aval = NULL;
    if (json_array_size(la) == 1) {
        json_t *a = json_array_get(la, 0);
        akey = json_string_value(json_object_get(a, "AttributeKey"));
        aval = json_string_value(json_object_get(a, "AttributeValue"));
        for (size_t i = 0; akey && i < sizeof attrs / sizeof attrs[0]; i++)
            if (strcmp(attrs[i].name, akey) == 0)
                q.attr = attrs[i].attr;
        if (q.attr == STORE_ATTR_NONE || !aval)
            return gt_call_fail(c, GT_E_CT_INVALID_LOOKUP_ATTRS, "Invalid lookup attribute: %s", akey ? akey : "null");
        if (q.attr == STORE_ATTR_READ_ONLY && strcmp(aval, "true") != 0 && strcmp(aval, "false") != 0)
            return gt_call_fail(c, GT_E_CT_INVALID_LOOKUP_ATTRS, "Invalid value for ReadOnly: must be true or false.");
        q.value = aval;
    }
    const char *cat = gt_in_str(c, "EventCategory");
    if (cat && strcmp(cat, "insight") != 0)
        return gt_call_fail(c, GT_E_CT_INVALID_EVENT_CATEGORY, "Invalid EventCategory: %s", cat);

    bool sgiven, egiven;
    int64_t now = gt_now_ms();
    q.start_ms = now - (int64_t)c->srv->retention_days * 86400000LL;
    q.end_ms = now;
    if (!time_member(c, "StartTime", &q.start_ms, &sgiven) || !time_member(c, "EndTime", &q.end_ms, &egiven))
        return gt_call_fail(c, GT_E_CT_INVALID_TIME_RANGE, "Invalid time value.");
    if (q.start_ms > q.end_ms)
        return gt_call_fail(c, GT_E_CT_INVALID_TIME_RANGE, "Start time must be before end time.");
    /* second precision, both ends inclusive */
    q.start_ms -= q.start_ms % 1000;
    q.end_ms += 999 - q.end_ms % 1000;

    json_t *mr = json_object_get(c->input, "MaxResults");
    q.limit = 50;
    if (mr) {
        json_int_t m = json_integer_value(mr);
        if (!json_is_integer(mr) || m < 1 || m > 50)
            return gt_call_fail(c, GT_E_CT_INVALID_MAX_RESULTS, "Value for MaxResults must be between 1 and 50.");
        q.limit = (int)m;
    }

    char scope[1024];
    snprintf(scope, sizeof scope, "ct|%s|%s|%s|%s|%lld|%lld|%s", c->account, c->region, akey ? akey : "",
             aval ? aval : "", sgiven ? (long long)q.start_ms : -1LL, egiven ? (long long)q.end_ms : -1LL,
             cat ? cat : "");
    const char *tok = gt_in_str(c, "NextToken");
    if (tok && !api_pagetoken_open(c->srv->token_key, scope, tok, &q.cur_time_ms, &q.cur_seq))
        return gt_call_fail(c, GT_E_CT_INVALID_NEXT_TOKEN, "Invalid NextToken.");

    page p = {.limit = q.limit, .view = json_array()};
    if (!p.view)
        return GT_E_NOMEM;
    put(&p, "{\"Events\":[", 11);
    store_lookup fetch = q;
    fetch.limit = q.limit + 1;
    /* insights are not produced (no Insights selectors yet): an empty page */
    if (!cat && store_event_lookup(t, &fetch, add_event, &p) != STORE_OK) {
        free(p.buf);
        json_decref(p.view);
        return GT_E_UNAVAILABLE;
    }
    put(&p, "]", 1);
    char next_tok[API_PAGETOKEN_MAX] = "";
    if (p.more) {
        char *next = next_tok;
        if (!api_pagetoken_make(c->srv->token_key, scope, p.last_time, p.last_seq, next)) {
            free(p.buf);
            json_decref(p.view);
            return GT_E_INTERNAL;
        }
        put(&p, ",\"NextToken\":", 13);
        escape_into(&p, next);
    }
    put(&p, "}", 1);
    json_t *body = p.oom ? NULL : json_stringn_nocheck(p.buf, p.len);
    free(p.buf);
    json_t *out = json_object();
    if (!out || !body) {
        json_decref(out);
        json_decref(body);
        json_decref(p.view);
        return GT_E_NOMEM;
    }
    /* json_object_set_new takes each value, on failure too */
    int bad = json_object_set_new(out, LOOKUP_BODY_KEY, body);
    bad |= json_object_set_new(out, "Events", p.view);
    if (p.more)
        bad |= json_object_set_new(out, "NextToken", json_string(next_tok));
    if (bad) {
        json_decref(out);
        return GT_E_NOMEM;
    }
    c->output = out;
    return GT_OK;
}

gt_handler ct_handler_for(const char *op)
{
    if (strcmp(op, "LookupEvents") == 0)
        return lookup_events;
    return ct_trail_handler_for(op);   /* trails, selectors, tags, public keys */
}

/* ---------------------------------------------------------------- the service */

/* CloudTrail's own API (awsJson1_1). */
static void ct_parts(const gt_call *c, ct_record_parts *p)
{
    p->request_parameters = ct_redact(c->input, NULL);
    p->response_elements = NULL;
    if (c->err == GT_OK && !c->op->read_only && c->output && json_object_size(c->output) > 0)
        p->response_elements = json_deep_copy(c->output);
    p->with_error_message = true;
}

/* LookupEvents' answer is already text (lookup_events); everything else
 * is encoded from its tree. */
static void ct_encode_ok(const gt_call *c, http_resp *out)
{
    json_t *body = c->output ? json_object_get(c->output, LOOKUP_BODY_KEY) : NULL;
    if (!body) {
        gt_encode_json_ok(c, out);
        return;
    }
    gt_call bare = *c;
    bare.output = NULL;
    gt_encode_json_ok(&bare, out);   /* status, content type, "{}" */
    size_t n = json_string_length(body);
    char *copy = malloc(n + 1);
    if (!copy)
        return;   /* keeps "{}" */
    memcpy(copy, json_string_value(body), n);
    copy[n] = '\0';
    free(out->body);
    out->body = copy;
    out->body_len = n;
}

/* CloudTrail answers bad LookupEvents members with their own exception
 * types (cloudtrail.md §5.2); the decoder's message names the member. */
static gt_err ct_map_error(const model_op *op, gt_err e, const char *msg)
{
    static const struct {
        const char *op, *member;
        gt_err e;
    } rows[] = {
        {"LookupEvents", "MaxResults", GT_E_CT_INVALID_MAX_RESULTS},
        {"LookupEvents", "LookupAttributes", GT_E_CT_INVALID_LOOKUP_ATTRS},
        {"LookupEvents", "EventCategory", GT_E_CT_INVALID_EVENT_CATEGORY},
        {"LookupEvents", "StartTime", GT_E_CT_INVALID_TIME_RANGE},
        {"LookupEvents", "EndTime", GT_E_CT_INVALID_TIME_RANGE},
    };
    const char *at = (e == GT_E_VALIDATION && msg) ? strstr(msg, " at '") : NULL;
    if (!at)
        return e;
    at += 5;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        size_t n = strlen(rows[i].member);
        if (strcmp(op->name, rows[i].op) == 0 && strncmp(at, rows[i].member, n) == 0 &&
            (at[n] == '\'' || at[n] == '.' || at[n] == '['))
            return rows[i].e;
    }
    return e;
}


const gt_service ct_service = {
    .signing_name = "cloudtrail",
    .model = &model_cloudtrail,
    .decode = api_json_decode,
    .handler_for = ct_handler_for,
    .record_parts = ct_parts,
    .map_error = ct_map_error,
    .encode_ok = ct_encode_ok,
    .encode_error = gt_encode_awsjson_error,
    .prepare = ct_trail_prepare,
};

