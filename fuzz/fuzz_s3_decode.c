/*
 * fuzz_s3_decode.c: libFuzzer target for the S3 service's request decoder
 * (s3/s3.c: path and query percent-decoding, routing by method, bucket,
 * key and sub-resource words, copy-source parsing, and for PUTs the
 * payload path: aws-chunked decoding, Content-MD5 and x-amz-checksum-*).
 *
 * Input layout (as fuzz_sigv4):
 *   line          method
 *   line          raw path
 *   line          raw query (may be empty)
 *   lines         "Name:Value" headers, until an empty line
 *   rest          body
 * No s3_store is open, so nothing is ever written: decode stops with
 * ServiceUnavailable where it would write a body file. Invariants: no op
 * implies an error; the input, when returned, is an object that
 * serialises; the message is NUL-terminated UTF-8.
 *
 * Build: tools/fuzz-replay (meson -Dfuzz=replay|instrumented, fuzz/meson.build).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/service.h"

#define FZ_MAX_HEADERS 32

extern const gt_service s3_service;

static const char *next_line(const char **p, const char *end, size_t *len)
{
    const char *s = *p;
    const char *nl = memchr(s, '\n', (size_t)(end - s));
    const char *e = nl ? nl : end;
    *len = (size_t)(e - s);
    *p = nl ? nl + 1 : end;
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    size_t ml, pl, ql;
    const char *m = next_line(&p, end, &ml);
    const char *path = next_line(&p, end, &pl);
    const char *query = next_line(&p, end, &ql);
    char method[16];
    if (ml == 0 || ml >= sizeof method)
        return 0;
    memcpy(method, m, ml);
    method[ml] = '\0';
    http_header hdrs[FZ_MAX_HEADERS];
    size_t nh = 0;
    while (p < end && nh < FZ_MAX_HEADERS) {
        size_t ll;
        const char *l = next_line(&p, end, &ll);
        if (ll == 0)
            break;
        const char *colon = memchr(l, ':', ll);
        if (!colon)
            continue;
        hdrs[nh].name = l;
        hdrs[nh].name_len = (size_t)(colon - l);
        hdrs[nh].value = colon + 1;
        hdrs[nh].value_len = ll - hdrs[nh].name_len - 1;
        nh++;
    }
    http_req req = {
        .method = method, .path = path, .path_len = pl, .query = query, .query_len = ql,
        .headers = hdrs, .n_headers = nh, .body = (const unsigned char *)p,
        .body_len = (size_t)(end - p), .remote_ip = "127.0.0.1",
    };
    const model_op *op = NULL;
    json_t *in = NULL;
    char msg[512];
    msg[0] = '\0';
    gt_err e = s3_service.decode(&model_s3, &req, &op, &in, msg, sizeof msg);
    if (!op && e == GT_OK)
        abort();
    if (in) {
        if (!json_is_object(in))
            abort();
        char *s = json_dumps(in, JSON_COMPACT);
        if (!s)
            abort();
        free(s);
        json_decref(in);
    }
    if (memchr(msg, '\0', sizeof msg) == NULL)
        abort();
    json_t *jm = json_string(msg);
    if (!jm)
        abort();
    json_decref(jm);
    return 0;
}
