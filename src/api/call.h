/* call.h: one API call as handlers see it.
 *
 * The dispatcher fills the request side (who, where, which operation, the
 * decoded input keyed by model member names); a handler fills the
 * response side (output, or an error) and the CloudTrail resources it
 * touched. The call lives on the HTTP worker's stack; handlers run on the
 * store's writer thread while the worker waits, so no field is shared.
 * Read-only operations (op->read_only) first run on the worker itself with
 * a read-only transaction (a snapshot); a write there fails (STORE_ERR) and
 * the call is then run again on the writer (api/dispatch.c).
 */
#ifndef GT_API_CALL_H
#define GT_API_CALL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "api/errors.h"
#include "auth/identity.h"
#include "http/http_req.h"
#include "model/model.h"
#include "store/store.h"

struct s3_store;

typedef struct gt_server_ctx {
    store *st;
    struct s3_store *s3;           /* built-in S3 bucket store (s3/s3_store.h) */
    const char *home_region;
    long retention_days;
    unsigned char token_key[32];   /* HMAC key for paging tokens */
} gt_server_ctx;

typedef struct gt_call {
    /* request side (read-only for handlers) */
    const gt_server_ctx *srv;
    const http_req *req;
    const auth_principal *who;
    const char *account;
    const char *region;
    const model_service *svc;
    const model_op *op;
    json_t *input;              /* never NULL when a handler runs */
    char request_id[37];
    int64_t now_ms;
    /* response side */
    json_t *output;             /* body object; NULL = no body */
    gt_err err;
    char errmsg[1024];
    json_t *err_details;        /* Greengrass ErrorDetails, optional */
    bool err_untyped;           /* Greengrass: answer without x-amzn-ErrorType */
    json_t *resources;          /* CloudTrail resources [{ARN, accountId, type}] */
    json_t *pre;                /* what the service's prepare hook found (or NULL) */
} gt_call;

/* A handler. Runs inside the store transaction; return GT_OK with
 * c->output set, or an error (via gt_call_fail). On error every change it
 * made is rolled back. */
typedef gt_err (*gt_handler)(gt_call *c, store_txn *t);

/* Set c->err and a printf-style message (NULL fmt: the table's default).
 * Returns e, so handlers can `return gt_call_fail(...)`. */
gt_err gt_call_fail(gt_call *c, gt_err e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Add {ARN, accountId, type} to the record's resources. */
void gt_call_add_resource(gt_call *c, const char *type, const char *arn);

/* Input member as string, or NULL. */
const char *gt_in_str(const gt_call *c, const char *member);

#endif
