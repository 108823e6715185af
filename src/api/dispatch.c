/*
 * dispatch.c: the path of one API request, end to end.
 *
 *   SigV4 parse -> key lookup -> SigV4 verify -> service by credential
 *   scope -> protocol decode (model tables) -> store_run( handler in a
 *   savepoint; CloudTrail record appended ) -> commit (group) -> encode.
 *
 * Invariants:
 *  - Nothing is answered 2xx before the transaction holding the change and
 *    its record is durable (store_run returns after the commit).
 *  - A handler error rolls back the handler's changes, but the failed
 *    call's record is still written, in the same transaction.
 *  - If the record cannot be written the call answers 503 and nothing of
 *    it persists.
 *  - Requests that fail before an operation is known (authentication,
 *    unknown route) are answered but not recorded: there is no event name
 *    to record them under, and AWS does not record them either (unverified).
 */
#include "api/dispatch.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/decode.h"
#include "auth/sigv4.h"
#include "cloudtrail/ct_lookup.h"
#include "cloudtrail/ct_record.h"
#include "greengrass/gg.h"
#include "util/gtutil.h"

typedef enum { PROTO_REST_JSON, PROTO_JSON } proto;

typedef struct gt_service {
    const char *signing_name;
    const model_service *model;
    proto protocol;
    gt_handler (*handler_for)(const char *op);
    /* fills the variable parts of the record */
    void (*record_parts)(const gt_call *c, ct_record_parts *p);
    /* maps generic decode errors to the service's own */
    gt_err (*map_error)(const model_op *op, gt_err e, const char *msg);
} gt_service;

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

static void ct_parts(const gt_call *c, ct_record_parts *p)
{
    p->request_parameters = ct_redact(c->input, NULL);
    p->response_elements = NULL;   /* CloudTrail's own API: reads, or null */
    if (c->err == GT_OK && !c->op->read_only && c->output && json_object_size(c->output) > 0)
        p->response_elements = json_deep_copy(c->output);
    p->with_error_message = true;
}

static const gt_service services[] = {
    {"greengrass", &model_greengrass, PROTO_REST_JSON, gg_handler_for, gg_record_parts, gg_map_error},
    {"cloudtrail", &model_cloudtrail, PROTO_JSON, ct_handler_for, ct_parts, ct_map_error},
};

static const gt_service *service_for(const char *signing_name)
{
    for (size_t i = 0; i < sizeof services / sizeof services[0]; i++)
        if (strcmp(services[i].signing_name, signing_name) == 0)
            return &services[i];
    return NULL;
}

/* ---------------------------------------------------------------- responses */

static void set_body(http_resp *out, json_t *body)
{
    if (!body)
        return;
    out->body = json_dumps(body, JSON_COMPACT);
    out->body_len = out->body ? strlen(out->body) : 0;
}

static void respond_error(http_resp *out, proto p, gt_err e, const char *msg, json_t *details,
                          bool untyped)
{
    out->status = gt_err_status(e);
    json_t *b = json_object();
    if (p == PROTO_REST_JSON) {
        out->content_type = "application/json";
        json_object_set_new(b, "Message", json_string(msg));
        if (details)
            json_object_set(b, "ErrorDetails", details);
        if (!untyped)
            gt_strlcpy(out->error_type, gt_err_code(e), sizeof out->error_type);
    } else {
        out->content_type = "application/x-amz-json-1.1";
        json_object_set_new(b, "__type", json_string(gt_err_code(e)));
        json_object_set_new(b, "message", json_string(msg));
        gt_strlcpy(out->error_type, gt_err_code(e), sizeof out->error_type);
    }
    set_body(out, b);
    json_decref(b);
}

/* ---------------------------------------------------------------- the job */

typedef struct call_job {
    gt_call *c;
    const gt_service *svc;
    gt_handler handler;
} call_job;

static gt_err run_call(store_txn *t, void *ud)
{
    call_job *j = ud;
    gt_call *c = j->c;
    if (c->err == GT_OK) {
        if (store_sp_begin(t) != STORE_OK)
            return GT_E_UNAVAILABLE;
        gt_err e = j->handler(c, t);
        if (e == GT_E_UNAVAILABLE || e == GT_E_NOMEM) {
            store_sp_rollback(t);
            return e;   /* store trouble: the whole job fails, 503 */
        }
        if (e != GT_OK) {
            if (c->err == GT_OK)
                gt_call_fail(c, e, NULL);
            store_sp_rollback(t);
            json_decref(c->output);
            c->output = NULL;
        } else if (store_sp_release(t) != STORE_OK) {
            return GT_E_UNAVAILABLE;
        }
    }
    /* the record */
    char event_id[37];
    gt_uuid4(event_id);
    int64_t when = gt_now_ms();
    ct_record_parts parts = {0};
    j->svc->record_parts(c, &parts);
    json_t *rec = ct_record_build(c, &parts, event_id, when);
    json_decref(parts.request_parameters);
    json_decref(parts.response_elements);
    char *text = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
    if (!text) {
        json_decref(rec);
        return GT_E_NOMEM;
    }
    const char *types[16], *names[16];
    int nres = 0;
    json_t *res = json_object_get(rec, "resources");
    for (size_t i = 0; i < json_array_size(res) && nres < 16; i++) {
        json_t *r = json_array_get(res, i);
        types[nres] = json_string_value(json_object_get(r, "type"));
        names[nres] = json_string_value(json_object_get(r, "ARN"));
        nres++;
    }
    store_event ev = {
        .account = c->account,
        .region = c->region,
        .time_ms = when,
        .event_id = event_id,
        .event_name = c->op->name,
        .event_source = c->svc->event_source,
        .username = ct_username(c->who),
        .access_key_id = c->who->access_key_id,
        .read_only = c->op->read_only,
        .n_res = nres,
        .res_types = types,
        .res_names = names,
        .json = text,
    };
    int rc = store_event_append(t, &ev, NULL);
    free(text);
    json_decref(rec);
    return rc == STORE_OK ? GT_OK : GT_E_UNAVAILABLE;
}

/* ---------------------------------------------------------------- dispatch */

void gt_dispatch(const gt_server_ctx *srv, const gt_dispatch_opts *o, const http_req *req,
                 http_resp *out)
{
    memset(out, 0, sizeof *out);
    gt_uuid4(out->request_id);
    out->content_type = "application/json";

    char msg[1024] = "";
    auth_sigv4_info info;
    auth_sigv4_opts ao = {
        .now = (time_t)((gt_now_ms() + o->clock_offset_ms) / 1000),
        .max_skew_seconds = o->max_skew_seconds,
        .normalize_path = true,
    };
    /* Until the scope is known, answer in rest-json style with a typed
     * error header: botocore reads the header for both protocols. */
    gt_err e = auth_sigv4_parse(req, &ao, &info, msg, sizeof msg);
    const gt_service *svc = (e == GT_OK) ? service_for(info.service) : NULL;
    proto p = svc ? svc->protocol : PROTO_REST_JSON;
    if (e != GT_OK) {
        respond_error(out, PROTO_JSON, e, msg[0] ? msg : gt_err_message(e), NULL, false);
        return;
    }
    auth_principal who;
    e = auth_lookup_key(srv->st, info.access_key, &who);
    if (e != GT_OK) {
        respond_error(out, p, e == GT_E_UNRECOGNIZED_CLIENT ? e : GT_E_UNAVAILABLE,
                      gt_err_message(e == GT_E_UNRECOGNIZED_CLIENT ? e : GT_E_UNAVAILABLE), NULL, false);
        return;
    }
    e = auth_sigv4_verify(req, &ao, &info, who.secret, msg, sizeof msg);
    if (e != GT_OK) {
        respond_error(out, p, e, msg[0] ? msg : gt_err_message(e), NULL, false);
        return;
    }
    if (!svc) {
        respond_error(out, PROTO_JSON, GT_E_UNKNOWN_SERVICE, gt_err_message(GT_E_UNKNOWN_SERVICE), NULL, false);
        return;
    }

    gt_call c = {
        .srv = srv,
        .req = req,
        .who = &who,
        .account = who.account_id,
        .region = info.region,
        .svc = svc->model,
        .now_ms = gt_now_ms(),
    };
    gt_strlcpy(c.request_id, out->request_id, sizeof c.request_id);
    const model_op *op = NULL;
    json_t *input = NULL;
    msg[0] = '\0';
    if (p == PROTO_REST_JSON)
        e = api_restjson_decode(svc->model, req, &op, &input, msg, sizeof msg);
    else
        e = api_json_decode(svc->model, req, &op, &input, msg, sizeof msg);
    if (!op) {
        respond_error(out, p, e, msg[0] ? msg : gt_err_message(e), NULL, false);
        json_decref(input);
        return;
    }
    c.op = op;
    c.input = input ? input : json_object();
    if (e != GT_OK) {
        gt_err me = svc->map_error(op, e, msg);
        gt_call_fail(&c, me, "%s", msg[0] ? msg : gt_err_message(me));
    }
    call_job job = {.c = &c, .svc = svc, .handler = svc->handler_for(op->name)};
    if (c.err == GT_OK && !job.handler)
        gt_call_fail(&c, p == PROTO_JSON ? GT_E_CT_UNSUPPORTED_OPERATION : GT_E_NOT_IMPLEMENTED,
                     "%s is not supported by greentrail yet.", op->name);

    gt_err se = store_run(srv->st, run_call, &job);
    if (se != GT_OK) {
        respond_error(out, p, GT_E_UNAVAILABLE, gt_err_message(GT_E_UNAVAILABLE), NULL, false);
    } else if (c.err != GT_OK) {
        respond_error(out, p, c.err, c.errmsg, c.err_details, c.err_untyped);
    } else {
        out->status = op->status ? op->status : 200;
        out->content_type = p == PROTO_JSON ? "application/x-amz-json-1.1" : "application/json";
        if (out->status != 204)
            set_body(out, c.output);
        if (out->status != 204 && !out->body) {
            out->body = strdup("{}");
            out->body_len = out->body ? 2 : 0;
        }
    }
    json_decref(c.input);
    json_decref(c.output);
    json_decref(c.err_details);
    json_decref(c.resources);
}
