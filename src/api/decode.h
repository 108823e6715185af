/* decode.h: generic request decoding against the generated model.
 *
 * Turns an http_req into (operation, input JSON object keyed by model
 * member names) for the two wire protocols greentrail speaks, and
 * validates the input against the model's shape graph. No handler code
 * runs here; everything is driven by the tables in model/model.h.
 */
#ifndef GT_API_DECODE_H
#define GT_API_DECODE_H

#include <stddef.h>

#include <jansson.h>

#include "api/errors.h"
#include "http/http_req.h"
#include "model/model.h"

/* Hard limits enforced by the decoders and api_validate. */
#define API_MAX_JSON_DEPTH   32          /* nesting levels of a request body */
#define API_MAX_STRING_BYTES (256 * 1024)/* any one string value */
#define API_MAX_COLLECTION   10000       /* entries of one list or map */

/* rest-json (Greengrass): route req->method + raw req->path against every
 * operation's URI template, then bind URI labels, query members, header
 * members and JSON body members into one object keyed by MEMBER names
 * (nested structures too), and validate it (api_validate).
 *
 * On GT_OK: *op_out is the operation, *input_out a NEW reference the
 * caller must json_decref. On error: *input_out is NULL; *op_out is the
 * routed operation when routing succeeded (so failed calls can still be
 * attributed, e.g. for CloudTrail) and NULL otherwise; msg (if msgcap > 0)
 * holds a NUL-terminated, UTF-8 message suitable for the error body.
 * Errors: GT_E_NOT_FOUND_ROUTE (no template matches method+path),
 * GT_E_SERIALIZATION (body not a JSON object / too deep), GT_E_VALIDATION,
 * GT_E_NOMEM. The body size cap is the caller's job. Thread-safe. */
gt_err api_restjson_decode(const model_service *svc, const http_req *req,
                           const model_op **op_out, json_t **input_out,
                           char *msg, size_t msgcap);

/* awsJson1_1 (CloudTrail): the operation comes from the X-Amz-Target
 * header "<target_prefix>.<Operation>"; the body is a JSON object (an
 * empty body counts as {}). Same ownership/out-parameter contract as
 * api_restjson_decode. Errors: GT_E_NOT_FOUND_ROUTE (method is not POST),
 * GT_E_UNKNOWN_OPERATION (target missing, wrong prefix, unknown op),
 * GT_E_SERIALIZATION, GT_E_VALIDATION, GT_E_NOMEM. Thread-safe. */
gt_err api_json_decode(const model_service *svc, const http_req *req,
                       const model_op **op_out, json_t **input_out,
                       char *msg, size_t msgcap);

/* Validate `value` (keyed by member names) against shape index `shape`
 * recursively: required members, JSON types, enums, model min/max and the
 * hard caps above. Unknown structure members are ignored. Normalises in
 * place: structure members whose value is JSON null are removed (null
 * counts as absent). shape == -1 accepts anything. Returns GT_OK or
 * GT_E_VALIDATION with an AWS-style message naming the member path, e.g.
 * "1 validation error detected: Value null at 'InitialVersion.Functions[0].FunctionArn'
 *  failed to satisfy constraint: Member must not be null". Does not take
 * ownership of `value`. */
gt_err api_validate(const model_service *svc, int shape, json_t *value,
                    char *msg, size_t msgcap);

#endif
