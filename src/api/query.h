/* query.h: the AWS query protocol (IAM, STS, later SNS).
 *
 * Requests are application/x-www-form-urlencoded (body, or the query
 * string of a GET): Action=Op&Version=V&Member=...; nested members are
 * flattened with dots: Foo.member.N (lists), Foo.entry.N.key / .value
 * (maps), Foo.Bar (structures). Responses are XML:
 *   <OpResponse xmlns=NS><OpResult>...</OpResult>
 *   <ResponseMetadata><RequestId>..</RequestId></ResponseMetadata></OpResponse>
 * and errors
 *   <ErrorResponse xmlns=NS><Error><Type>Sender</Type><Code>..</Code>
 *   <Message>..</Message></Error><RequestId>..</RequestId></ErrorResponse>.
 */
#ifndef GT_API_QUERY_H
#define GT_API_QUERY_H

#include <stddef.h>

#include <jansson.h>

#include "api/call.h"
#include "api/dispatch.h"
#include "api/errors.h"
#include "http/http_req.h"
#include "model/model.h"

/* Hard limits of the form decoder. */
#define API_QUERY_MAX_PAIRS 10000   /* name=value pairs of one request */
#define API_QUERY_MAX_DEPTH 16      /* nesting of structures/lists/maps */

/* Decode a query-protocol request: the operation from Action, the input
 * (keyed by MEMBER names, like the JSON decoders) from the flattened form
 * fields, validated with api_validate. Same ownership/out-parameter
 * contract as api_restjson_decode (api/decode.h): on error *input_out is
 * NULL, *op_out is set once Action named a known operation.
 * Errors: GT_E_Q_MISSING_ACTION, GT_E_Q_INVALID_ACTION,
 * GT_E_Q_MALFORMED_QUERY (bad percent-encoding, too many pairs),
 * GT_E_VALIDATION (bad member value; callers map it with
 * api_query_err), GT_E_NOMEM. Thread-safe. */
gt_err api_query_decode(const model_service *svc, const http_req *req, const model_op **op_out,
                        json_t **input_out, char *msg, size_t msgcap);

/* A generic error (GT_E_ACCESS_DENIED, GT_E_UNRECOGNIZED_CLIENT,
 * GT_E_VALIDATION, ...) in the query protocol's spelling
 * (GT_E_Q_ACCESS_DENIED, GT_E_Q_INVALID_CLIENT_TOKEN, GT_E_Q_VALIDATION);
 * other errors are returned unchanged. */
gt_err api_query_err(gt_err e);

/* The XML document of `output` (keyed by member names) for operation op:
 * <OpResponse xmlns=...>[<OpResult>...</OpResult>]<ResponseMetadata>...
 * malloc'd NUL-terminated string, or NULL when out of memory. Numbers
 * given for timestamp members are written as ISO 8601; strings as is. */
char *api_query_xml_ok(const model_service *svc, const model_op *op, const json_t *output,
                       const char *request_id);

/* The <ErrorResponse> document. malloc'd, or NULL when out of memory. */
char *api_query_xml_error(const model_service *svc, const char *code, const char *message,
                          int status, const char *request_id);

/* Is req's body form-encoded (Content-Type
 * application/x-www-form-urlencoded), as query-protocol requests are? */
bool api_query_is_form(const http_req *req);

/* gt_service encode_ok hook for query-protocol services (text/xml). */
void gt_encode_query_ok(const gt_call *c, http_resp *out);
/* The error response of service svc (c may be NULL: failures before an
 * operation is known). e is mapped with api_query_err first. Services
 * wrap it in their encode_error hook, which has no svc argument. svc may
 * be NULL too (no service known yet: no xmlns). */
void api_query_encode_error(const model_service *svc, const gt_call *c, gt_err e, const char *msg,
                            http_resp *out);

#endif
