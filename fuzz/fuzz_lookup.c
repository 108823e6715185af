/*
 * fuzz_lookup.c: libFuzzer target for LookupEvents (cloudtrail/ct_lookup.c)
 * past the decoder: lookup attributes (key and value), the time range
 * (numbers and ISO strings), MaxResults, EventCategory and NextToken, run
 * as the handler against a real SQLite store holding a few dozen events
 * with resources (so every attribute's index query runs).
 *
 * Input: the LookupEvents JSON body. It is decoded as the server does
 * (api_json_decode, which validates against the model) and, when that
 * succeeds, run by the handler in a read snapshot. Invariants: GT_OK
 * means an output object whose Events array is no longer than MaxResults
 * (default 50), every event has EventId and CloudTrailEvent, and a
 * NextToken, when returned, is accepted by the same query (the next page
 * also succeeds); an error has a NUL-terminated message and no output.
 * Build: tools/fuzz-replay (meson -Dfuzz=replay|instrumented, fuzz/meson.build).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <unistd.h>

#include <jansson.h>

#include "api/decode.h"
#include "api/service.h"
#include "cloudtrail/ct_lookup.h"

static store *st;
static gt_server_ctx srv;
static char dir[64];

static gt_err fill_job(store_txn *t, void *ud)
{
    (void)ud;
    static const char *const names[] = {"CreateGroup", "GetGroup", "DeleteGroup", "ListGroups"};
    for (int i = 0; i < 40; i++) {
        char id[40], json[160], arn[80];
        snprintf(id, sizeof id, "00000000-0000-4000-8000-%012d", i);
        snprintf(json, sizeof json, "{\"eventID\":\"%s\",\"eventName\":\"%s\"}", id, names[i % 4]);
        snprintf(arn, sizeof arn, "arn:aws:greengrass:us-east-1:123456789012:/greengrass/groups/g%d", i % 7);
        const char *types[] = {"AWS::Greengrass::Group"};
        const char *rnames[] = {arn};
        store_event ev = {
            .account = "123456789012", .region = "us-east-1",
            .time_ms = 1700000000000LL + (int64_t)(i / 3) * 1000,
            .event_id = id, .event_name = names[i % 4], .event_source = "greengrass.amazonaws.com",
            .username = i % 2 ? "admin" : "root", .access_key_id = i % 2 ? "AKIAADMIN" : "AKIAROOT",
            .read_only = i % 4 == 1 || i % 4 == 3, .n_res = i % 4 == 3 ? 0 : 1,
            .res_types = types, .res_names = rnames, .json = json,
        };
        int64_t seq;
        if (store_event_append(t, &ev, &seq) != STORE_OK)
            return GT_E_INTERNAL;
    }
    return GT_OK;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* At exit (the end of a replay): close the store and remove the temp dir. */
static void cleanup(void)
{
    store_close(st);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(dir, sizeof dir, "/tmp/gt-fuzz-lookup-XXXXXX");
    if (!mkdtemp(dir))
        abort();
    char err[256];
    st = store_open_url(NULL, dir, err, sizeof err);
    if (!st || store_run(st, fill_job, NULL) != GT_OK)
        abort();
    srv.st = st;
    srv.home_region = "us-east-1";
    srv.retention_days = 36500;   /* the fixed event times above stay in the window */
    memset(srv.token_key, 7, sizeof srv.token_key);
    atexit(cleanup);
    return 0;
}

typedef struct run_ctx {
    gt_call *c;
    gt_err e;
} run_ctx;

static gt_err run_job(store_txn *t, void *ud)
{
    run_ctx *r = ud;
    r->e = ct_handler_for("LookupEvents")(r->c, t);
    return GT_OK;
}

/* Runs the handler on input (borrowed); returns its result, *out the output. */
static gt_err lookup(const model_op *op, json_t *input, json_t **out, char *msg, size_t msgcap)
{
    gt_call c = {.srv = &srv, .account = "123456789012", .region = "us-east-1",
                 .svc = &model_cloudtrail, .op = op, .input = input, .now_ms = 1700000100000LL};
    snprintf(c.request_id, sizeof c.request_id, "fuzz");
    run_ctx r = {&c, GT_OK};
    if (store_read(st, run_job, &r) != GT_OK)
        abort();
    if (r.e != GT_OK) {
        if (c.output || !memchr(c.errmsg, '\0', sizeof c.errmsg))
            abort();
        snprintf(msg, msgcap, "%s", c.errmsg);
    }
    json_decref(c.resources);
    json_decref(c.err_details);
    *out = c.output;
    return r.e;
}

static void check_page(const json_t *in, const json_t *out)
{
    if (!json_is_object(out))
        abort();
    const json_t *evs = json_object_get(out, "Events");
    const json_t *mr = json_object_get(in, "MaxResults");
    size_t limit = mr ? (size_t)json_integer_value(mr) : 50;
    if (!json_is_array(evs) || json_array_size(evs) > limit)
        abort();
    size_t i;
    const json_t *e;
    json_array_foreach(evs, i, e) {
        if (!json_is_string(json_object_get(e, "EventId")) || !json_is_string(json_object_get(e, "CloudTrailEvent")))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char target[128];
    snprintf(target, sizeof target, "%s.LookupEvents", model_cloudtrail.target_prefix);
    http_header hdr = {"X-Amz-Target", 12, target, strlen(target)};
    http_req req = {.method = "POST", .path = "/", .path_len = 1, .query = "", .query_len = 0,
                    .headers = &hdr, .n_headers = 1, .body = data, .body_len = size, .remote_ip = "127.0.0.1"};
    const model_op *op = NULL;
    json_t *in = NULL;
    char msg[512];
    if (api_json_decode(&model_cloudtrail, &req, &op, &in, msg, sizeof msg) != GT_OK)
        return 0;
    if (!op || strcmp(op->name, "LookupEvents") != 0 || !json_is_object(in))
        abort();
    json_t *out = NULL;
    if (lookup(op, in, &out, msg, sizeof msg) == GT_OK) {
        check_page(in, out);
        /* a returned token must be accepted by the same query */
        const char *next = json_string_value(json_object_get(out, "NextToken"));
        if (next) {
            json_object_set_new(in, "NextToken", json_string(next));
            json_t *out2 = NULL;
            if (lookup(op, in, &out2, msg, sizeof msg) != GT_OK)
                abort();
            check_page(in, out2);
            json_decref(out2);
        }
    }
    json_decref(out);
    json_decref(in);
    return 0;
}
