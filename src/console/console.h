/* console.h: the web console under /console (sign-in, sessions, the
 * static UI and the console API that runs real, recorded API calls).
 *
 * http/server.c hands every request whose path is /console or starts with
 * /console/ (and that is not SigV4-signed) to console_handle(); nothing
 * else in the server knows about browsers, cookies or CSRF. */
#ifndef GT_CONSOLE_H
#define GT_CONSOLE_H

#include <stdbool.h>
#include <stdint.h>

#include "api/dispatch.h"
#include "http/http_req.h"

typedef struct console console;

typedef struct console_opts {
    const gt_server_ctx *ctx;      /* store, home region, token key */
    long session_ttl_seconds;      /* --console-session-ttl */
    int max_signin_failures;       /* per IP and window; 0: default (5) */
    long signin_window_seconds;    /* 0: default (300) */
    bool tls;                      /* listener speaks TLS: cookies get Secure */
} console_opts;

/* A console bound to a server context. NULL on allocation failure. */
console *console_new(const console_opts *o);
/* NULL is a no-op. */
void console_free(console *c);

/* Does this request belong to the console? (path /console or /console/...,
 * and no SigV4 Authorization header or presigned query, so an S3 bucket
 * named "console" still reaches the API.) */
bool console_wants(const http_req *req);

/* Answer one console request. Always fills *out (http_resp_free() it).
 * Thread-safe. */
void console_handle(console *c, const http_req *req, http_resp *out);

#endif
