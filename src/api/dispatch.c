/*
 * dispatch.c: the path of one API request, end to end.
 *
 *   SigV4 parse -> key lookup (+ session token check) -> SigV4 verify ->
 *   service by credential scope -> protocol decode (model tables) ->
 *   authorization (auth/policy.c) -> store_run( handler in a savepoint;
 *   CloudTrail record appended ) -> commit (group) -> encode.
 *
 * gt_dispatch_as enters the same path after decoding, for principals
 * authenticated another way (the web console's session): the input is
 * validated against the model and everything from store_run on is shared
 * (run_and_encode), so console calls are run and recorded like any other.
 *
 * Invariants:
 *  - Nothing is answered 2xx before the transaction holding the change and
 *    its record is durable (store_run returns after the commit).
 *  - A handler error rolls back the handler's changes, but the failed
 *    call's record is still written, in the same transaction.
 *  - If the record cannot be written the call answers 503 and nothing of
 *    it persists.
 *  - Read-only operations (Get/List/Describe/Lookup) run their handler on a
 *    reader snapshot (store_read, in parallel, taken after every commit
 *    that was answered before) and build their record in the HTTP thread;
 *    the writer only appends the record and commits, so the answer still
 *    waits for the durable record. A handler that turns out to need the
 *    writer (STORE_ERR on a read-only transaction: GT_E_UNAVAILABLE) is
 *    simply run again the ordinary way.
 *  - Requests that fail before an operation is known (authentication,
 *    unknown route) are answered but not recorded: there is no event name
 *    to record them under, and AWS does not record them either (unverified).
 */
#include "api/dispatch.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/decode.h"
#include "api/query.h"
#include "api/service.h"
#include "auth/policy.h"
#include "auth/sigv4.h"
#include "cloudtrail/ct_lookup.h"
#include "cloudtrail/ct_record.h"
#include "sts/sts.h"
#include "util/gtutil.h"
#include "util/metrics.h"
#include "util/jsonw.h"

/* ---------------------------------------------------------------- encoders */

static void set_body(http_resp *out, json_t *body)
{
    if (!body)
        return;
    out->body = gt_json_dumps(body, false, false);
    out->body_len = out->body ? strlen(out->body) : 0;
}

void http_resp_add_header(http_resp *out, const char *name, const char *value)
{
    if (out->n_headers >= HTTP_RESP_MAX_HEADERS)
        return;
    char *v = strdup(value);
    if (!v)
        return;
    gt_strlcpy(out->headers[out->n_headers].name, name, sizeof out->headers[0].name);
    out->headers[out->n_headers].value = v;
    out->n_headers++;
}

void http_resp_free(http_resp *out)
{
    free(out->body);
    out->body = NULL;
    if (out->body_is_fd)
        close(out->body_fd);
    out->body_is_fd = false;
    for (int i = 0; i < out->n_headers; i++)
        free(out->headers[i].value);
    out->n_headers = 0;
}

void gt_encode_json_ok(const gt_call *c, http_resp *out)
{
    bool awsjson = c->svc->target_prefix != NULL;
    out->status = c->op->status ? c->op->status : 200;
    out->content_type = awsjson ? "application/x-amz-json-1.1" : "application/json";
    if (out->status == 204)
        return;
    set_body(out, c->output);
    if (!out->body) {
        out->body = strdup("{}");
        out->body_len = out->body ? 2 : 0;
    }
}

void gt_encode_restjson_error(const gt_call *c, gt_err e, const char *msg, json_t *details,
                              bool untyped, http_resp *out)
{
    out->status = gt_err_status(e);
    out->content_type = "application/json";
    json_t *b = json_object();
    json_object_set_new(b, "Message", json_string(msg));
    if (details)
        json_object_set(b, "ErrorDetails", details);
    if (!untyped)
        gt_strlcpy(out->error_type, gt_err_code(e), sizeof out->error_type);
    set_body(out, b);
    json_decref(b);
}

void gt_encode_awsjson_error(const gt_call *c, gt_err e, const char *msg, json_t *details,
                             bool untyped, http_resp *out)
{
    out->status = gt_err_status(e);
    out->content_type = "application/x-amz-json-1.1";
    json_t *b = json_object();
    json_object_set_new(b, "__type", json_string(gt_err_code(e)));
    json_object_set_new(b, "message", json_string(msg));
    gt_strlcpy(out->error_type, gt_err_code(e), sizeof out->error_type);
    set_body(out, b);
    json_decref(b);
}

/* ---------------------------------------------------------------- the job */

typedef struct call_job {
    gt_call *c;
    const gt_service *svc;
    gt_handler handler;
    int64_t console_session_ms;   /* > 0: a console session's call (gt_dispatch_as) */
    bool handled;          /* the handler already ran (read path) */
    bool recorded;         /* false: the service does not record this call */
    char *text;            /* the record, built by make_record */
    char *summary;         /* its LookupEvents entry (ct_lookup_summary) */
    void *packed;          /* text + summary in the store's form (read path), or NULL */
    size_t packed_len;
    char event_id[37];
    int64_t when;
    const char *types[16], *names[16];
    int nres;
    json_t *rec;
} call_job;

/* A console session's record: temporary-credential userIdentity with a
 * sessionContext, and sessionCredentialFromConsole the *string* "true"
 * (cloudtrail.md §1.1, §1.3). */
static void mark_console(json_t *rec, int64_t session_ms)
{
    char created[21];
    gt_fmt_iso_s(session_ms / 1000, created);
    json_t *ui = json_object_get(rec, "userIdentity");
    json_object_set_new(ui, "sessionContext",
                        json_pack("{s:{}, s:{}, s:{s:s, s:s}}", "sessionIssuer", "webIdFederationData",
                                  "attributes", "creationDate", created, "mfaAuthenticated", "false"));
    json_object_set_new(rec, "sessionCredentialFromConsole", json_string("true"));
}

/* Build the record of a finished call into j (no store access). */
static gt_err make_record(call_job *j)
{
    gt_call *c = j->c;
    j->recorded = !(j->svc->recorded && !j->svc->recorded(c));
    if (!j->recorded)
        return GT_OK;
    gt_uuid4(j->event_id);
    j->when = gt_now_ms();
    ct_record_parts parts = {0};
    j->svc->record_parts(c, &parts);
    j->rec = ct_record_build(c, &parts, j->event_id, j->when);
    if (j->rec && j->console_session_ms > 0)
        mark_console(j->rec, j->console_session_ms);
    json_decref(parts.request_parameters);
    json_decref(parts.response_elements);
    j->text = j->rec ? gt_json_dumps(j->rec, false, false) : NULL;
    if (!j->text)
        return GT_E_NOMEM;
    j->summary = ct_lookup_summary(j->rec, j->when);   /* NULL: summarised when looked up */
    j->nres = 0;
    json_t *res = json_object_get(j->rec, "resources");
    for (size_t i = 0; i < json_array_size(res) && j->nres < 16; i++) {
        json_t *r = json_array_get(res, i);
        j->types[j->nres] = json_string_value(json_object_get(r, "type"));
        j->names[j->nres] = json_string_value(json_object_get(r, "ARN"));
        j->nres++;
    }
    return GT_OK;
}

static void free_record(call_job *j)
{
    free(j->text);
    j->text = NULL;
    free(j->summary);
    j->summary = NULL;
    free(j->packed);
    j->packed = NULL;
    j->packed_len = 0;
    json_decref(j->rec);
    j->rec = NULL;
}

/* Append the record built by make_record (same transaction as the call). */
static gt_err append_record(store_txn *t, call_job *j)
{
    if (!j->recorded)
        return GT_OK;
    gt_call *c = j->c;
    store_event ev = {
        .account = c->account,
        .region = c->region,
        .time_ms = j->when,
        .event_id = j->event_id,
        .event_name = c->op->name,
        .event_source = c->svc->event_source,
        .username = ct_username(c->who),
        .access_key_id = c->who->access_key_id,
        .read_only = c->op->read_only,
        .n_res = j->nres,
        .res_types = j->types,
        .res_names = j->names,
        .json = j->text,
        .summary = j->summary,
        .packed = j->packed,
        .packed_len = j->packed_len,
    };
    return store_event_append(t, &ev, NULL) == STORE_OK ? GT_OK : GT_E_UNAVAILABLE;
}

/* The read path's writer job: the record only. */
static gt_err append_job(store_txn *t, void *ud)
{
    return append_record(t, ud);
}

static gt_err run_call(store_txn *t, void *ud)
{
    call_job *j = ud;
    gt_call *c = j->c;
    if (c->err == GT_OK && !j->handled) {
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
    gt_err e = make_record(j);
    if (e == GT_OK)
        e = append_record(t, j);
    free_record(j);
    return e;
}

/* The read path's reader job: the handler on a snapshot. */
static gt_err read_job(store_txn *t, void *ud)
{
    call_job *j = ud;
    gt_call *c = j->c;
    gt_err e = j->handler(c, t);
    if (e == GT_E_UNAVAILABLE || e == GT_E_NOMEM)
        return e;
    if (e != GT_OK) {
        if (c->err == GT_OK)
            gt_call_fail(c, e, NULL);
        json_decref(c->output);
        c->output = NULL;
    }
    return GT_OK;
}

/* Read-only operation: handler on a reader snapshot, record built here,
 * appended by the writer. Returns false when the snapshot could not serve
 * the handler: then the call is reset to its input and the caller runs it
 * the ordinary way. Otherwise *se is the outcome (GT_OK: recorded). */
static bool run_read_path(const gt_server_ctx *srv, call_job *j, gt_err *se)
{
    gt_call *c = j->c;
    gt_err e = store_read(srv->st, read_job, j);
    if (e != GT_OK) {
        json_decref(c->output);
        c->output = NULL;
        json_decref(c->err_details);
        c->err_details = NULL;
        json_decref(c->resources);
        c->resources = NULL;
        c->err = GT_OK;
        c->errmsg[0] = '\0';
        c->err_untyped = false;
        return false;
    }
    j->handled = true;
    e = make_record(j);
    /* pack (compress) the record here, on this HTTP thread, so the writer
     * only inserts it; on failure the append packs it itself */
    if (e == GT_OK && j->recorded && store_event_pack(srv->st, j->text, j->summary, &j->packed, &j->packed_len) != STORE_OK)
        j->packed = NULL;
    if (e == GT_OK && j->recorded)
        e = store_run(srv->st, append_job, j);
    free_record(j);
    *se = e;
    return true;
}

/* ---------------------------------------------------------------- dispatch */

/* Errors before a service is known: awsJson's shape with the type header,
 * which every botocore protocol parser reads. */
static void early_error(const gt_service *svc, gt_err e, const char *msg, http_resp *out)
{
    if (svc)
        svc->encode_error(NULL, e, msg && *msg ? msg : gt_err_message(e), NULL, false, out);
    else
        gt_encode_awsjson_error(NULL, e, msg && *msg ? msg : gt_err_message(e), NULL, false, out);
}

/* Does the request's (unverified) credential scope name s3? Only picks
 * the error format for requests whose SigV4 does not parse: S3 clients
 * read only S3's XML errors. */
static bool scope_is_s3(const http_req *req)
{
    size_t n = 0;
    const char *a = http_req_header(req, "Authorization", &n);
    if (a && memmem(a, n, "/s3/aws4_request", 16))
        return true;
    return req->query && memmem(req->query, req->query_len, "%2Fs3%2Faws4_request", 20) != NULL;
}
static void run_and_encode(const gt_service *svc, gt_call *cp, const model_op *op, json_t *input,
                           gt_err e, const char *msg, int64_t console_session_ms, http_resp *out);

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
    gt_err e = auth_sigv4_parse(req, &ao, &info, msg, sizeof msg);
    auth_principal who;
    /* STS AssumeRoleWithWebIdentity is sent unsigned (botocore: authtype
     * none): its web identity token is the credential, which its handler
     * verifies (sts/sts.c). No key lookup, no signature for it. */
    bool anonymous = e == GT_E_MISSING_AUTH && sts_unsigned_principal(req, &who);
    if (anonymous) {
        e = GT_OK;
        gt_strlcpy(info.service, "sts", sizeof info.service);
        gt_strlcpy(info.region, srv->home_region, sizeof info.region);
    }
    if (e != GT_OK) {
        gt_metrics_sigv4_failure(gt_err_code(e));
        if (api_query_is_form(req))   /* a query-protocol client (IAM, STS) reads XML errors */
            api_query_encode_error(NULL, NULL, e, msg[0] ? msg : gt_err_message(e), out);
        else
            early_error(scope_is_s3(req) ? gt_service_for("s3") : NULL, e, msg, out);
        return;
    }
    const gt_service *svc = gt_service_for(info.service);
    ao.normalize_path = strcmp(info.service, "s3") != 0;
    ao.sign_body_unsigned_ok = !ao.normalize_path;
    if (!anonymous)
        e = auth_lookup_key(srv->st, info.access_key, &who);
    if (e == GT_OK && !anonymous) {
        /* Session tokens (auth/identity.c): a temporary ASIA key needs its
         * own unexpired token, a long-term key none. The expiry clock is
         * SigV4's (it follows GREENTRAIL_TEST_CLOCK_OFFSET_MS in tests). */
        char tok[4096];
        size_t tn = info.session_token ? auth_sigv4_session_token(&info, tok, sizeof tok) : 0;
        if (tn == (size_t)-1)
            e = GT_E_UNRECOGNIZED_CLIENT;
        else
            e = auth_check_session(&who, info.session_token ? tok : NULL, tn,
                                   gt_now_ms() + o->clock_offset_ms);
    }
    if (e != GT_OK) {
        gt_err pe = e == GT_E_UNRECOGNIZED_CLIENT || e == GT_E_EXPIRED_TOKEN ? e : GT_E_UNAVAILABLE;
        gt_metrics_sigv4_failure(gt_err_code(pe));
        early_error(svc, pe, gt_err_message(pe), out);
        return;
    }
    if (!anonymous)
        e = auth_sigv4_verify(req, &ao, &info, who.secret, msg, sizeof msg);
    if (e != GT_OK) {
        gt_metrics_sigv4_failure(gt_err_code(e));
        early_error(svc, e, msg, out);
        return;
    }
    if (!svc) {
        early_error(NULL, GT_E_UNKNOWN_SERVICE, NULL, out);
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
    if (strcmp(svc->signing_name, "iam") == 0 || strcmp(svc->signing_name, "organizations") == 0)
        c.region = "us-east-1";   /* IAM and Organizations are global: their events are us-east-1's */
    gt_strlcpy(c.request_id, out->request_id, sizeof c.request_id);
    const model_op *op = NULL;
    json_t *input = NULL;
    msg[0] = '\0';
    e = svc->decode(svc->model, req, &op, &input, msg, sizeof msg);
    if (!op) {
        svc->encode_error(NULL, e, msg[0] ? msg : gt_err_message(e), NULL, false, out);
        json_decref(input);
        return;
    }
    run_and_encode(svc, &c, op, input, e, msg, 0, out);
}

/* From a decoded (or failed-to-decode) operation to the response: the
 * handler and its record in one store job, then the protocol's encoding.
 * Takes ownership of input. */
static void run_and_encode(const gt_service *svc, gt_call *cp, const model_op *op, json_t *input,
                           gt_err e, const char *msg, int64_t console_session_ms, http_resp *out)
{
    gt_call c = *cp;
    c.op = op;
    c.input = input ? input : json_object();
    if (e != GT_OK) {
        gt_err me = svc->map_error(op, e, msg);
        gt_call_fail(&c, me, "%s", msg[0] ? msg : gt_err_message(me));
    }
    if (c.err == GT_OK) {
        /* Authorization (auth/policy.c): a denied call runs no handler,
         * changes nothing, and is still recorded with its errorCode. */
        char amsg[1024] = "";
        gt_err ae = auth_authorize(c.srv->st, &c, amsg, sizeof amsg);
        if (ae != GT_OK)
            gt_call_fail(&c, ae, "%s", amsg[0] ? amsg : gt_err_message(ae));
    }
    call_job job = {.c = &c, .svc = svc, .handler = svc->handler_for(op->name),
                    .console_session_ms = console_session_ms};
    if (c.err == GT_OK && !job.handler)
        gt_call_fail(&c, svc->model->target_prefix ? GT_E_CT_UNSUPPORTED_OPERATION : GT_E_NOT_IMPLEMENTED,
                     "%s is not supported by greentrail yet.", op->name);

    if (c.err == GT_OK && svc->prepare)
        svc->prepare(&c);   /* outside the writer: may take network time */
    gt_err se = GT_E_UNAVAILABLE;
    if (!(c.err == GT_OK && op->read_only && job.handler && run_read_path(c.srv, &job, &se)))
        se = store_run(c.srv->st, run_call, &job);
    if (se != GT_OK) {
        gt_metrics_audit_failure(svc->signing_name, op->name);
        svc->encode_error(&c, GT_E_UNAVAILABLE, gt_err_message(GT_E_UNAVAILABLE), NULL, false, out);
    } else if (c.err != GT_OK) {
        svc->encode_error(&c, c.err, c.errmsg, c.err_details, c.err_untyped, out);
    } else {
        svc->encode_ok(&c, out);
    }
    gt_metrics_call(svc->signing_name, op->name, out->status);
    json_decref(c.input);
    json_decref(c.output);
    json_decref(c.err_details);
    json_decref(c.resources);
    json_decref(c.pre);
}

void gt_dispatch_as(const gt_server_ctx *srv, const gt_dispatch_as_args *a, http_resp *out)
{
    memset(out, 0, sizeof *out);
    gt_uuid4(out->request_id);
    out->content_type = "application/json";
    const gt_service *svc = gt_service_for(a->service);
    if (!svc) {
        early_error(NULL, GT_E_UNKNOWN_SERVICE, NULL, out);
        return;
    }
    const model_op *op = model_find_op(svc->model, a->op);
    if (!op) {
        svc->encode_error(NULL, GT_E_UNKNOWN_OPERATION, gt_err_message(GT_E_UNKNOWN_OPERATION), NULL, false, out);
        return;
    }
    gt_call c = {
        .srv = srv,
        .req = a->req,
        .who = a->who,
        .account = a->who->account_id,
        .region = a->region,
        .svc = svc->model,
        .now_ms = gt_now_ms(),
    };
    gt_strlcpy(c.request_id, out->request_id, sizeof c.request_id);
    char msg[1024] = "";
    json_t *input = a->input ? json_deep_copy(a->input) : json_object();
    gt_err e = input ? api_validate(svc->model, op->input, input, msg, sizeof msg) : GT_E_NOMEM;
    run_and_encode(svc, &c, op, input, e, msg, a->console_session_ms, out);
}
