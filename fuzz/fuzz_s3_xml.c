/*
 * fuzz_s3_xml.c: libFuzzer target for the XML request bodies of S3
 * (s3/s3.c, parsed with libxml2): CreateBucketConfiguration (CreateBucket),
 * Delete (DeleteObjects) and CompleteMultipartUpload, run through the
 * service's decoder and handlers against a real SQLite store and S3 body
 * store (fuzz_s3_decode stops before them: it has no store).
 *
 * Input: the first byte picks the call, the rest is the body:
 *   0  PUT  /fz-new                              CreateBucket (handler run, rolled back on error)
 *   1  POST /fz-bkt?delete                       DeleteObjects (handler run; the bucket holds one object)
 *   2  POST /fz-bkt/mpu?uploadId=<the upload's>  CompleteMultipartUpload (decode only: it reads the
 *                                                parts and checks the list; the handler would use
 *                                                the upload up)
 * Invariants: decode GT_OK gives an op and an object input (an error: a
 * message, and at most an object input); a handler's
 * GT_OK gives an output object or none, an error a NUL-terminated message;
 * nothing leaks (LeakSanitizer) and the process never aborts in libxml2.
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

#include "api/service.h"
#include "s3/s3_store.h"

extern const gt_service s3_service;

static store *st;
static s3_store *s3s;
static gt_server_ctx srv;
static auth_principal root;
static char upload_id[256];
static char dir[64];

typedef struct run_ctx {
    gt_call *c;
    gt_handler h;
    gt_err e;
} run_ctx;

static gt_err run_job(store_txn *t, void *ud)
{
    run_ctx *r = ud;
    r->e = r->h(r->c, t);
    return r->e;   /* an error rolls the handler's changes back, as dispatch does */
}

/* Decode and (if run) handle one request; returns the handler's output
 * (owned) or NULL. */
static json_t *call(const char *method, const char *path, const char *query, const void *body, size_t blen,
                    bool run, gt_err *err)
{
    http_header hdrs[1] = {{"Content-Type", 12, "application/xml", 15}};
    http_req req = {.method = method, .path = path, .path_len = strlen(path), .query = query,
                    .query_len = strlen(query), .headers = hdrs, .n_headers = 1, .body = body,
                    .body_len = blen, .remote_ip = "127.0.0.1"};
    const model_op *op = NULL;
    json_t *in = NULL;
    char msg[512];
    gt_err e = s3_service.decode(&model_s3, &req, &op, &in, msg, sizeof msg);
    *err = e;
    if (e != GT_OK) {   /* (S3's decoder may hand back the input with an error, for the record) */
        if (!memchr(msg, '\0', sizeof msg) || (in && !json_is_object(in)))
            abort();
        json_decref(in);
        return NULL;
    }
    if (!op || !json_is_object(in))
        abort();
    json_t *out = NULL;
    gt_handler h = run ? s3_service.handler_for(op->name) : NULL;
    if (h) {
        gt_call c = {.srv = &srv, .req = &req, .who = &root, .account = root.account_id, .region = "us-east-1",
                     .svc = &model_s3, .op = op, .input = in, .now_ms = 1700000000000LL};
        snprintf(c.request_id, sizeof c.request_id, "fuzz");
        run_ctx r = {&c, h, GT_OK};
        gt_err se = store_run(st, run_job, &r);
        *err = r.e;
        if (r.e != GT_OK && !memchr(c.errmsg, '\0', sizeof c.errmsg))
            abort();
        if (se != GT_OK && r.e == GT_OK)
            abort();
        out = c.output;
        json_decref(c.resources);
        json_decref(c.err_details);
    }
    json_decref(in);
    return out;
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
    s3_store_set_default(NULL);
    s3_store_close(s3s);
    store_close(st);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(dir, sizeof dir, "/tmp/gt-fuzz-s3xml-XXXXXX");
    if (!mkdtemp(dir))
        abort();
    char err[256];
    st = store_open_url(NULL, dir, err, sizeof err);
    s3s = st ? s3_store_open(st, dir, err, sizeof err) : NULL;
    if (!s3s)
        abort();
    s3_store_set_default(s3s);
    srv.st = st;
    srv.s3 = s3s;
    srv.home_region = "us-east-1";
    srv.retention_days = 90;
    snprintf(root.type, sizeof root.type, "Root");
    snprintf(root.account_id, sizeof root.account_id, "123456789012");
    snprintf(root.arn, sizeof root.arn, "arn:aws:iam::123456789012:root");
    snprintf(root.principal_id, sizeof root.principal_id, "123456789012");
    root.active = true;
    gt_err e;
    json_decref(call("PUT", "/fz-bkt", "", NULL, 0, true, &e));
    if (e != GT_OK)
        abort();
    json_decref(call("PUT", "/fz-bkt/obj", "", "hello", 5, true, &e));
    json_t *o = call("POST", "/fz-bkt/mpu", "uploads", NULL, 0, true, &e);
    /* the answer is XML (output "_xml"): <UploadId>...</UploadId> */
    const char *x = json_string_value(json_object_get(o, "_xml"));
    const char *a = x ? strstr(x, "<UploadId>") : NULL;
    const char *z = a ? strstr(a, "</UploadId>") : NULL;
    if (e != GT_OK || !z)
        abort();
    a += strlen("<UploadId>");
    snprintf(upload_id, sizeof upload_id, "%.*s", (int)(z - a), a);
    json_decref(o);
    char q[400];
    snprintf(q, sizeof q, "partNumber=1&uploadId=%s", upload_id);
    json_decref(call("PUT", "/fz-bkt/mpu", q, "part-one", 8, true, &e));
    if (e != GT_OK)
        abort();
    atexit(cleanup);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    gt_err e;
    char q[400];
    switch (data[0] % 3) {
    case 0:
        json_decref(call("PUT", "/fz-new", "", data + 1, size - 1, true, &e));
        break;
    case 1:
        json_decref(call("POST", "/fz-bkt", "delete", data + 1, size - 1, true, &e));
        if (e == GT_OK)   /* keep an object to delete for the next input */
            json_decref(call("PUT", "/fz-bkt/obj", "", "hello", 5, true, &e));
        break;
    default:
        snprintf(q, sizeof q, "uploadId=%s", upload_id);
        json_decref(call("POST", "/fz-bkt/mpu", q, data + 1, size - 1, false, &e));
        break;
    }
    return 0;
}
