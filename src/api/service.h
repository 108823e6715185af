/* service.h: what a service plugs into the dispatcher.
 *
 * Each service (greengrass, cloudtrail, and later s3, sns, iam, sts,
 * events) exports one `const gt_service` and is listed once in
 * api/services.c. The dispatcher routes a request to the service named by
 * its SigV4 credential scope, then calls these hooks in order:
 * decode -> (handler in the store transaction; record_parts) -> encode.
 */
#ifndef GT_API_SERVICE_H
#define GT_API_SERVICE_H

#include <jansson.h>
#include <stdbool.h>

#include "api/call.h"
#include "api/dispatch.h"
#include "cloudtrail/ct_record.h"

typedef struct gt_service {
    const char *signing_name;        /* credential-scope service: "greengrass" */
    const model_service *model;
    /* Request bytes -> operation + input keyed by member names (see api/decode.h). */
    gt_err (*decode)(const model_service *svc, const http_req *req, const model_op **op_out,
                     json_t **input_out, char *msg, size_t msgcap);
    /* The handler of an operation, or NULL when not implemented. */
    gt_handler (*handler_for)(const char *op);
    /* The variable parts of the call's CloudTrail record. */
    void (*record_parts)(const gt_call *c, ct_record_parts *p);
    /* Generic decode errors (GT_E_VALIDATION, ...) -> the service's own. */
    gt_err (*map_error)(const model_op *op, gt_err e, const char *msg);
    /* Success response: status, headers, body from c->output. */
    void (*encode_ok)(const gt_call *c, http_resp *out);
    /* Error response. c is NULL when no operation is known yet. */
    void (*encode_error)(const gt_call *c, gt_err e, const char *msg, json_t *details, bool untyped,
                         http_resp *out);
    /* Should this call be recorded? NULL: always. (S3 records bucket-level calls only.) */
    bool (*recorded)(const gt_call *c);
    /* Optional: runs on the HTTP thread after authorization, before the
     * store job, for work that must not hold the writer (network checks,
     * e.g. an external S3 bucket's existence); leaves its findings in
     * c->pre for the handler, which decides. NULL: none. */
    void (*prepare)(gt_call *c);
} gt_service;

/* The service for a credential-scope name, or NULL. */
const gt_service *gt_service_for(const char *signing_name);

/* A service's operation -> handler table, and its lookup (linear: the
 * tables are small and the answer is cached per call by dispatch). */
typedef struct {
    const char *op;
    gt_handler h;
} gt_op_handler;
gt_handler gt_op_handler_find(const gt_op_handler *tab, size_t n, const char *op);
#define GT_OP_HANDLER_FIND(tab, op) gt_op_handler_find((tab), sizeof(tab) / sizeof((tab)[0]), (op))

/* Shared encoders for the JSON protocols. */
void gt_encode_json_ok(const gt_call *c, http_resp *out);        /* rest-json and awsJson */
void gt_encode_restjson_error(const gt_call *c, gt_err e, const char *msg, json_t *details,
                              bool untyped, http_resp *out);
void gt_encode_awsjson_error(const gt_call *c, gt_err e, const char *msg, json_t *details,
                             bool untyped, http_resp *out);

#endif
