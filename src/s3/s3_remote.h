/* s3_remote.h: a small client for an external S3-compatible server
 * (AWS S3, MinIO, Ceph, s3rver, another greentrail), over libcurl with
 * curl's own SigV4 signing. Used by trail delivery (through s3_target.h)
 * and by `greentrail validate --s3-endpoint`. Path-style addressing:
 * ENDPOINT/BUCKET/KEY. Every call makes its own connection handle, so
 * calls from several threads never wait for each other, and each is
 * bounded by the connect and total timeouts given at creation. */
#ifndef GT_S3_REMOTE_H
#define GT_S3_REMOTE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct s3_remote s3_remote;

typedef struct s3_remote_opts {
    const char *endpoint;        /* http(s)://host[:port][/base], no trailing query */
    const char *region;          /* signing region ("us-east-1" when NULL/empty) */
    const char *access_key;      /* required */
    const char *secret_key;      /* required; never printed or logged */
    const char *session_token;   /* optional (x-amz-security-token) */
    long connect_timeout_ms;     /* <= 0: 3000 */
    long timeout_ms;             /* whole request; <= 0: 30000 */
} s3_remote_opts;

/* The outcome of one request. */
typedef struct s3_remote_res {
    long http;        /* HTTP status, 0 when no answer came (connect error, timeout) */
    char code[64];    /* error: S3's <Code>, or for no answer ConnectionRefused,
                         RequestTimeout, UnknownHost, ConnectionError; "" on success */
    char msg[256];    /* error: a human-readable line (never holds credentials) */
} s3_remote_res;

/* Create a client (copies the options). NULL with a message in err when
 * the endpoint is not an http(s) URL or a key is missing. Call once from
 * the main thread before other threads use libcurl (it runs
 * curl_global_init and xmlInitParser). */
s3_remote *s3_remote_new(const s3_remote_opts *o, char *err, size_t errcap);
/* NULL is a no-op. */
void s3_remote_free(s3_remote *r);
/* The endpoint URL (for messages). */
const char *s3_remote_endpoint(const s3_remote *r);

/* HEAD /BUCKET. True when it exists and is reachable with our keys
 * (2xx); otherwise res says why (404 NoSuchBucket, 403 AccessDenied, ...). */
bool s3_remote_head_bucket(s3_remote *r, const char *bucket, s3_remote_res *res);

/* PUT /BUCKET/KEY with the body, its Content-Type, and meta_json (a JSON
 * object of x-amz-meta-* values, or NULL). Sends x-amz-content-sha256 (the
 * body's SHA-256) as S3 requires. True on 2xx. */
bool s3_remote_put(s3_remote *r, const char *bucket, const char *key, const void *data, size_t len,
                   const char *content_type, const char *meta_json, s3_remote_res *res);

/* GET /BUCKET/KEY into *data (malloc'd, at most max_bytes, else an error).
 * When meta_name is given (e.g. "signature"), the x-amz-meta-<meta_name>
 * response header's value is copied to meta_val ("" when absent). */
bool s3_remote_get(s3_remote *r, const char *bucket, const char *key, size_t max_bytes, unsigned char **data,
                   size_t *len, const char *meta_name, char *meta_val, size_t meta_cap, s3_remote_res *res);

/* HEAD /BUCKET/KEY: true when the object exists. */
bool s3_remote_head_object(s3_remote *r, const char *bucket, const char *key, s3_remote_res *res);

/* Called for each listed key; return non-zero to stop the listing. */
typedef int (*s3_remote_key_cb)(void *ud, const char *key);

/* ListObjectsV2 of every key under prefix, all pages, in S3's order
 * (ascending). True when the listing completed (or cb stopped it). */
bool s3_remote_list(s3_remote *r, const char *bucket, const char *prefix, s3_remote_key_cb cb, void *ud,
                    s3_remote_res *res);

/* Parse one ListObjectsV2 answer (for the client and its unit test):
 * calls cb per <Contents><Key>; *truncated and next_token (cap bytes,
 * "" when none) from <IsTruncated>/<NextContinuationToken>. Returns 0, 1
 * when cb stopped it, -1 when xml is not a ListBucketResult. */
int s3_remote_parse_list(const char *xml, size_t n, s3_remote_key_cb cb, void *ud, bool *truncated,
                         char *next_token, size_t cap);

/* Parse an S3 <Error> body: code and message into res (unchanged when
 * the body is not one). For the client and its unit test. */
void s3_remote_parse_error(const char *xml, size_t n, s3_remote_res *res);

/* URI-encode s for a URL path (keep_slash) or a query value, the way
 * SigV4's canonical form wants it (unreserved kept, %XX upper case).
 * False when out (cap bytes) is too small. */
bool s3_remote_uri_encode(const char *s, bool keep_slash, char *out, size_t cap);

#endif
