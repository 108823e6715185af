/* dispatch.h: one HTTP request in, one HTTP response out.
 *
 * The whole API path lives behind gt_dispatch: SigV4, routing by the
 * credential scope's service, decoding, the handler and its CloudTrail
 * record in one store transaction, and the protocol's response encoding.
 * The HTTP glue (http/server.c) only moves bytes.
 */
#ifndef GT_API_DISPATCH_H
#define GT_API_DISPATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/call.h"
#include "http/http_req.h"

#define HTTP_RESP_MAX_HEADERS 32

typedef struct http_resp {
    int status;
    const char *content_type;      /* static string; NULL: no Content-Type */
    char request_id[37];
    char error_type[128];          /* x-amzn-ErrorType, "" for none */
    char *body;                    /* malloc'd, may be NULL */
    size_t body_len;
    bool body_is_fd;               /* send body_len bytes of body_fd from body_fd_offset instead of
                                      body (S3 objects); the fd is owned: closed after sending */
    int body_fd;
    int64_t body_fd_offset;
    struct {
        char name[64];
        char *value;               /* malloc'd */
    } headers[HTTP_RESP_MAX_HEADERS];  /* extra response headers */
    int n_headers;
} http_resp;

/* Add a response header (copied). Silently ignored past the cap. */
void http_resp_add_header(http_resp *out, const char *name, const char *value);
/* Free the body and the extra headers. */
void http_resp_free(http_resp *out);

typedef struct gt_dispatch_opts {
    long max_skew_seconds;
    long long clock_offset_ms;     /* tests only: shift of the SigV4 clock */
} gt_dispatch_opts;

/* Handle one request. Always fills *out (release it with http_resp_free()).
 * Thread-safe. */
void gt_dispatch(const gt_server_ctx *srv, const gt_dispatch_opts *o, const http_req *req,
                 http_resp *out);

/* One operation for a principal authenticated some other way than SigV4
 * (the console's session). Everything after decoding is the same path as
 * gt_dispatch: the input (keyed by model member names, borrowed; NULL
 * means {}) is validated against the model, the handler runs and the call
 * is recorded in one store transaction, and *out is the service's own
 * response (release with http_resp_free()). */
typedef struct gt_dispatch_as_args {
    const auth_principal *who;     /* its access_key_id is what the record shows */
    const char *service;           /* signing name: "greengrass", "cloudtrail" */
    const char *op;                /* "CreateGroup" */
    const char *region;
    const json_t *input;
    const http_req *req;           /* remote_ip and User-Agent for the record */
    int64_t console_session_ms;    /* > 0: session start; the record gets a sessionContext
                                      and sessionCredentialFromConsole "true" */
} gt_dispatch_as_args;

void gt_dispatch_as(const gt_server_ctx *srv, const gt_dispatch_as_args *a, http_resp *out);

#endif
