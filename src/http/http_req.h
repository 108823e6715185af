/* http_req.h: a read-only view of one received HTTP request.
 *
 * Every parser downstream of the HTTP glue (SigV4, routing, protocol
 * decoders) reads the request through this view, never through
 * libmicrohttpd, so each can be unit-tested and fuzzed on plain bytes.
 * All pointers are borrowed from the connection and live as long as the
 * request. Strings are (ptr,len) slices; they need not be NUL-terminated
 * except `method` and `remote_ip`.
 */
#ifndef GT_HTTP_REQ_H
#define GT_HTTP_REQ_H

#include <stddef.h>

typedef struct http_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} http_header;

typedef struct http_req {
    const char *method;              /* "GET", "POST", ... */
    const char *path;                /* raw, still percent-encoded, before '?' */
    size_t path_len;
    const char *query;               /* raw, after '?', without it; "" if none */
    size_t query_len;
    const http_header *headers;      /* in received order, repeats kept */
    size_t n_headers;
    const unsigned char *body;
    size_t body_len;
    const char *remote_ip;           /* "127.0.0.1" */
} http_req;

/* First header named `name` (case-insensitive), or NULL. *len gets its length. */
const char *http_req_header(const http_req *r, const char *name, size_t *len);

#endif
