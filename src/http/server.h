/* server.h: the HTTP listener (libmicrohttpd) in front of gt_dispatch. */
#ifndef GT_HTTP_SERVER_H
#define GT_HTTP_SERVER_H

#include <stddef.h>

#include "api/dispatch.h"
#include "console/console.h"

typedef struct http_server http_server;

typedef struct http_server_opts {
    const char *host;
    int port;                 /* 0: any free port */
    size_t max_body;
    size_t max_s3_put_body;   /* cap for PUTs signed for service s3 (objects); 0: max_body */
    unsigned threads;
    const gt_server_ctx *ctx;
    gt_dispatch_opts dispatch;
    console *console;         /* /console requests; NULL: no console */
} http_server_opts;

/* Start listening. NULL on failure (reason in err). */
http_server *http_server_start(const http_server_opts *o, char *err, size_t errcap);
/* The port actually bound. */
int http_server_port(const http_server *s);
/* Stop accepting, finish in-flight requests, free. NULL is a no-op. */
void http_server_stop(http_server *s);

#endif
