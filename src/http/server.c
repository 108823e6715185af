/*
 * server.c: libmicrohttpd glue. Moves bytes, nothing else.
 *
 * What: accepts connections, keeps the raw request target (the URI log
 * callback sees it before any unescaping, which SigV4 needs), collects the
 * headers and the body under a hard cap, builds the read-only http_req
 * view, calls gt_dispatch, and sends what it returns.
 *
 * Invariants:
 *  - The body never grows past max_body: the rest is drained and the
 *    request answered 413 without being dispatched.
 *  - A request past a header cap (section size, one line, count; see
 *    HTTP_MAX_HEADER_*) is answered 400 RequestHeaderSectionTooLarge in
 *    its service's error shape and is never dispatched.
 *  - `GET /health` answers without authentication and touches nothing.
 *  - `GET /metrics` (Prometheus text) answers without SigV4: with a bearer
 *    token when --metrics-token is set, else to anyone who can connect
 *    (like /health; it shows counts and trail ARNs, never secrets).
 *  - Slow or idle clients cost a connection slot, never a worker thread
 *    (epoll: a thread runs only when a whole request is in); connections
 *    are capped in all and per address, and closed after --idle-timeout
 *    seconds of silence, so one client cannot starve the others.
 *  - /console and /console/... go to the console module (its own sessions).
 *  - Per-request memory is freed in the completion callback, whatever
 *    happened to the connection.
 */
#include "http/server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "sns/sns.h"
#include "util/gtutil.h"

/* Request header caps (docs/RELIABILITY.md, "Limits"). A request past any
 * of them is answered 400 RequestHeaderSectionTooLarge, as S3 answers
 * (S3's own cap is 8 KiB); JSON for the JSON services, S3's XML for a
 * request signed for s3. "Bytes" counts what the headers take on the wire
 * (name + ": " + value + CRLF). The section as a whole must also fit in
 * libmicrohttpd's per-connection pool (HTTP_CONN_POOL): a header section
 * larger than that never reaches on_request, and libmicrohttpd answers
 * with its own 431 page and closes the connection. */
#define HTTP_MAX_HEADERS 128
#define HTTP_MAX_HEADER_BYTES (16 * 1024)
#define HTTP_MAX_HEADER_LINE (8 * 1024)
#define HTTP_CONN_POOL (96 * 1024)

struct http_server {
    struct MHD_Daemon *d;
    http_server_opts o;
    int port;
};

typedef struct req_state {
    char *uri;               /* raw request target, from the URI log callback */
    unsigned char *body;
    size_t len, cap;
    bool too_big;
    size_t cap_limit;        /* this request's body cap (set with the headers) */
    bool headers_seen;       /* the first (headers-only) call has been made */
    int hdr_too_big;         /* 0, or which header cap the request broke (hdr_cap) */
} req_state;

static void *uri_log(void *cls, const char *uri, struct MHD_Connection *con)
{
    req_state *rs = calloc(1, sizeof *rs);
    if (rs)
        rs->uri = strdup(uri ? uri : "/");
    return rs;
}

/* Leave URL text exactly as received: SigV4 and routing decode it. */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
    return strlen(s);
}

static void completed(void *cls, struct MHD_Connection *con, void **req_cls,
                      enum MHD_RequestTerminationCode toe)
{
    req_state *rs = *req_cls;
    if (rs) {
        free(rs->uri);
        free(rs->body);
        free(rs);
    }
    *req_cls = NULL;
}

typedef struct hdr_acc {
    http_header h[HTTP_MAX_HEADERS];
    size_t n;
    bool overflow;
} hdr_acc;

enum hdr_cap { HDR_OK = 0, HDR_COUNT, HDR_TOTAL, HDR_LINE };

typedef struct hdr_size {
    size_t n, bytes;
    int broke;               /* enum hdr_cap */
} hdr_size;

/* Sizes the header section against the caps (first call, headers only). */
static enum MHD_Result size_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    hdr_size *z = cls;
    size_t line = strlen(key) + 2 + (value ? strlen(value) : 0) + 2;
    z->n++;
    z->bytes += line;
    if (line > HTTP_MAX_HEADER_LINE)
        z->broke = HDR_LINE;
    else if (z->n > HTTP_MAX_HEADERS)
        z->broke = HDR_COUNT;
    else if (z->bytes > HTTP_MAX_HEADER_BYTES)
        z->broke = HDR_TOTAL;
    return z->broke ? MHD_NO : MHD_YES;
}

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    hdr_acc *a = cls;
    if (a->n >= HTTP_MAX_HEADERS) {
        a->overflow = true;
        return MHD_NO;
    }
    a->h[a->n].name = key;
    a->h[a->n].name_len = strlen(key);
    a->h[a->n].value = value ? value : "";
    a->h[a->n].value_len = value ? strlen(value) : 0;
    a->n++;
    return MHD_YES;
}

static enum MHD_Result send_resp(struct MHD_Connection *con, http_resp *out);

static enum MHD_Result send_bytes(struct MHD_Connection *con, int status, const char *ctype,
                                  const char *request_id, const char *error_type, char *body,
                                  size_t len)
{
    http_resp out = {.status = status, .content_type = ctype, .body = body, .body_len = len};
    gt_strlcpy(out.request_id, request_id ? request_id : "", sizeof out.request_id);
    gt_strlcpy(out.error_type, error_type ? error_type : "", sizeof out.error_type);
    return send_resp(con, &out);
}

static enum MHD_Result send_resp(struct MHD_Connection *con, http_resp *out)
{
    char *body = out->body;
    size_t len = out->body_len;
    int status = out->status;
    const char *ctype = out->content_type, *request_id = out->request_id, *error_type = out->error_type;
    out->body = NULL;
    struct MHD_Response *r;
    if (out->body_is_fd) {   /* the fd goes to MHD, which closes it */
        free(body);
        out->body_is_fd = false;
        r = MHD_create_response_from_fd_at_offset64(len, out->body_fd, (uint64_t)out->body_fd_offset);
        if (!r)
            close(out->body_fd);
    } else {
        r = MHD_create_response_from_buffer(len, body ? body : (char *)"",
                                            body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
        if (!r)
            free(body);
    }
    if (!r) {
        http_resp_free(out);
        return MHD_NO;
    }
    if (status != 204 && ctype)
        MHD_add_response_header(r, "Content-Type", ctype);
    for (int i = 0; i < out->n_headers; i++)
        MHD_add_response_header(r, out->headers[i].name, out->headers[i].value);
    http_resp_free(out);
    if (request_id && *request_id) {
        MHD_add_response_header(r, "x-amzn-RequestId", request_id);
    }
    if (error_type && *error_type)
        MHD_add_response_header(r, "x-amzn-ErrorType", error_type);
    enum MHD_Result ret = MHD_queue_response(con, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

/* S3 object PUTs (signed for service s3, in the header or a presigned
 * URL's credential) get their own, larger cap. */
static bool signed_for_s3(struct MHD_Connection *con, const char *uri)
{
    const char *a = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Authorization");
    return (a && strstr(a, "/s3/aws4_request")) || (uri && strstr(uri, "%2Fs3%2Faws4_request"));
}

static size_t body_limit(const http_server *s, struct MHD_Connection *con, const char *method,
                         const char *uri)
{
    if (s->o.max_s3_put_body <= s->o.max_body || strcmp(method, "PUT") != 0)
        return s->o.max_body;
    return signed_for_s3(con, uri) ? s->o.max_s3_put_body : s->o.max_body;
}

/* The answer to a request past a header cap: S3's error (400
 * RequestHeaderSectionTooLarge with MaxSizeAllowed) in S3's XML for a
 * request signed for s3, in the awsJson/restJson error shape otherwise. */
static enum MHD_Result send_header_too_big(struct MHD_Connection *con, const char *uri,
                                           int broke, const char *rid)
{
    const char *msg = broke == HDR_COUNT ? "Your request has too many header fields."
                      : broke == HDR_LINE ? "A header field of your request exceeds the maximum allowed size."
                                          : "Your request header section exceeds the maximum allowed size.";
    const char *what = broke == HDR_COUNT ? "MaxHeaderCount" : "MaxSizeAllowed";
    unsigned long max = broke == HDR_COUNT ? HTTP_MAX_HEADERS
                        : broke == HDR_LINE ? HTTP_MAX_HEADER_LINE : HTTP_MAX_HEADER_BYTES;
    char buf[512];
    bool s3 = signed_for_s3(con, uri);
    int n = s3 ? snprintf(buf, sizeof buf,
                          "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>RequestHeaderSectionTooLarge</Code>"
                          "<Message>%s</Message><%s>%lu</%s><RequestId>%s</RequestId></Error>",
                          msg, what, max, what, rid)
               : snprintf(buf, sizeof buf,
                          "{\"__type\":\"RequestHeaderSectionTooLarge\",\"message\":\"%s\",\"%s\":%lu}",
                          msg, what, max);
    char *b = (n > 0 && (size_t)n < sizeof buf) ? strdup(buf) : NULL;
    return send_bytes(con, 400, s3 ? "application/xml" : "application/json", rid,
                      "RequestHeaderSectionTooLarge", b, b ? strlen(b) : 0);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *con, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **req_cls)
{
    http_server *s = cls;
    req_state *rs = *req_cls;
    if (!rs)
        return MHD_NO;
    if (!rs->cap_limit)
        rs->cap_limit = body_limit(s, con, method, rs->uri);
    if (*upload_size) {
        if (!rs->too_big) {
            if (rs->len + *upload_size > rs->cap_limit) {
                rs->too_big = true;
            } else {
                if (rs->len + *upload_size > rs->cap) {
                    size_t nc = rs->cap ? rs->cap : 4096;
                    while (nc < rs->len + *upload_size)
                        nc *= 2;
                    if (nc > rs->cap_limit)
                        nc = rs->cap_limit;
                    unsigned char *nb = realloc(rs->body, nc);
                    if (!nb)
                        return MHD_NO;
                    rs->body = nb;
                    rs->cap = nc;
                }
                memcpy(rs->body + rs->len, upload_data, *upload_size);
                rs->len += *upload_size;
            }
        }
        *upload_size = 0;
        return MHD_YES;
    }
    /* First call (headers only): never answer here, even without a body.
     * libmicrohttpd (0.9.75) closes the connection after a response queued
     * in the first call, which would turn every keep-alive GET into a new
     * TCP connection (measured: 5.5k/s vs 40k+/s for GET /health). */
    if (!rs->headers_seen) {
        rs->headers_seen = true;
        hdr_size z = {0};
        MHD_get_connection_values(con, MHD_HEADER_KIND, size_header, &z);
        rs->hdr_too_big = z.broke;
        if (z.broke)
            rs->too_big = true;   /* drain the body, keep none of it */
        const char *cl = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Content-Length");
        int64_t n = 0;
        if (cl && gt_parse_i64(cl, strlen(cl), &n) && n > (int64_t)rs->cap_limit)
            rs->too_big = true;
        return MHD_YES;
    }
    char rid[37];
    gt_uuid4(rid);
    if (rs->hdr_too_big)
        return send_header_too_big(con, rs->uri ? rs->uri : url, rs->hdr_too_big, rid);
    if (rs->too_big) {
        char *b = strdup("{\"__type\":\"RequestEntityTooLargeException\",\"message\":\"Request body is too large.\"}");
        return send_bytes(con, 413, "application/json", rid, "RequestEntityTooLargeException", b, b ? strlen(b) : 0);
    }
    const char *uri = rs->uri ? rs->uri : url;
    if (strcmp(method, "GET") == 0 && (strcmp(uri, "/health") == 0 || strcmp(uri, "/health/") == 0)) {
        char *b = strdup("{\"status\":\"ok\"}");
        return send_bytes(con, 200, "application/json", rid, NULL, b, b ? strlen(b) : 0);
    }

    if (strcmp(method, "GET") == 0 && strcmp(uri, "/metrics") == 0 && s->o.metrics) {
        const char *tok = s->o.metrics_token;
        if (tok && *tok) {
            const char *auth = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Authorization");
            size_t tl = strlen(tok);
            if (!auth || strncmp(auth, "Bearer ", 7) != 0 || strlen(auth + 7) != tl ||
                CRYPTO_memcmp(auth + 7, tok, tl) != 0) {
                char *b = strdup("unauthorized: /metrics needs the bearer token set with --metrics-token\n");
                return send_bytes(con, 401, "text/plain; charset=utf-8", rid, NULL, b, b ? strlen(b) : 0);
            }
        }
        gt_metrics_buf mb = {0};
        s->o.metrics(s->o.metrics_ud, &mb);
        if (mb.failed || !mb.p) {
            free(mb.p);
            char *b = strdup("metrics unavailable\n");
            return send_bytes(con, 503, "text/plain; charset=utf-8", rid, NULL, b, b ? strlen(b) : 0);
        }
        return send_bytes(con, 200, "text/plain; version=0.0.4; charset=utf-8", rid, NULL, mb.p, mb.len);
    }

    hdr_acc acc = {.n = 0};
    MHD_get_connection_values(con, MHD_HEADER_KIND, collect_header, &acc);
    if (acc.overflow)   /* cannot happen: counted with the headers (hdr_too_big) */
        return send_header_too_big(con, uri, HDR_COUNT, rid);
    char ip[INET6_ADDRSTRLEN] = "";
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(con, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        if (ci->client_addr->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)ci->client_addr)->sin_addr, ip, sizeof ip);
        else if (ci->client_addr->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ci->client_addr)->sin6_addr, ip, sizeof ip);
    }
    const char *q = strchr(uri, '?');
    http_req req = {
        .method = method,
        .path = uri,
        .path_len = q ? (size_t)(q - uri) : strlen(uri),
        .query = q ? q + 1 : "",
        .query_len = q ? strlen(q + 1) : 0,
        .headers = acc.h,
        .n_headers = acc.n,
        .body = rs->len ? rs->body : (const unsigned char *)"",
        .body_len = rs->len,
        .remote_ip = ip,
    };
    http_resp out;
    /* The web console (src/console) owns /console and /console/...: it
     * authenticates by session cookie, not SigV4, so it is routed before
     * gt_dispatch (SigV4-signed requests still go to the API). */
    if (sns_http_wants(&req))   /* SNS signing certificate, SubscribeURL, UnsubscribeURL (sns/sns_deliver.c) */
        sns_http_handle(&req, &out);
    else if (s->o.console && console_wants(&req))
        console_handle(s->o.console, &req, &out);
    else
        gt_dispatch(s->o.ctx, &s->o.dispatch, &req, &out);
    return send_resp(con, &out);
}

http_server *http_server_start(const http_server_opts *o, char *err, size_t errcap)
{
    http_server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    s->o = *o;
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)o->port);
    const char *host = strcmp(o->host, "localhost") == 0 ? "127.0.0.1" : o->host;
    if (inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
        snprintf(err, errcap, "listen address '%s' is not an IPv4 address", o->host);
        free(s);
        return NULL;
    }
    s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL_LINUX_ONLY | MHD_USE_ERROR_LOG |
                                MHD_USE_ITC, /* MHD_quiesce_daemon at stop needs it */
                            0, NULL, NULL, on_request, s,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin,
                            MHD_OPTION_THREAD_POOL_SIZE, (unsigned)o->threads,
                            MHD_OPTION_URI_LOG_CALLBACK, uri_log, NULL,
                            MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONN_POOL,
                            MHD_OPTION_CONNECTION_TIMEOUT, o->idle_timeout_s ? o->idle_timeout_s : 60u,
                            MHD_OPTION_CONNECTION_LIMIT, o->max_connections ? o->max_connections : 1024u,
                            MHD_OPTION_PER_IP_CONNECTION_LIMIT, o->max_connections_per_ip,
                            MHD_OPTION_END);
    if (!s->d) {
        snprintf(err, errcap, "cannot listen on %s:%d", o->host, o->port);
        free(s);
        return NULL;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : o->port;
    return s;
}

int http_server_port(const http_server *s) { return s->port; }

void http_server_stop(http_server *s)
{
    if (!s)
        return;
    MHD_quiesce_daemon(s->d);
    MHD_stop_daemon(s->d);
    free(s);
}
