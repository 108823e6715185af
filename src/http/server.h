/* server.h: the HTTP listener (libmicrohttpd) in front of gt_dispatch. */
#ifndef GT_HTTP_SERVER_H
#define GT_HTTP_SERVER_H

#include <stddef.h>

#include "api/dispatch.h"
#include "console/console.h"
#include "util/metrics.h"

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
    /* GET /metrics: appends the exposition text (Prometheus 0.0.4) to b;
     * NULL: /metrics is not served (404 like any unknown path). */
    void (*metrics)(void *ud, gt_metrics_buf *b);
    void *metrics_ud;
    const char *metrics_token;   /* non-empty: /metrics needs "Authorization: Bearer <token>" */
    unsigned max_connections;        /* 0: libmicrohttpd's default */
    unsigned max_connections_per_ip; /* 0: no per-address limit */
    unsigned idle_timeout_s;         /* a connection silent this long is closed (slow clients) */
} http_server_opts;

/* Start listening. NULL on failure (reason in err). */
http_server *http_server_start(const http_server_opts *o, char *err, size_t errcap);
/* The port actually bound. */
int http_server_port(const http_server *s);
/* Stop accepting, finish in-flight requests, free. NULL is a no-op. */
void http_server_stop(http_server *s);

#endif
