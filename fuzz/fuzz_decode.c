/*
 * fuzz_decode.c: libFuzzer target for the generic request decoder.
 *
 * The input is split on the first two '\n' bytes into path, query and
 * body (missing parts are empty) and is fed to api_restjson_decode
 * (Greengrass) with every method, and to api_json_decode (CloudTrail) with
 * the path used as the X-Amz-Target operation suffix (or, if it contains
 * a '.', as the whole target). Invariants checked: GT_OK implies an op
 * and an object input; errors imply no input and a terminated, valid
 * UTF-8 message; the input round-trips through json_dumps.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/decode.h"

static void check(gt_err e, const model_op *op, json_t *in, const char *msg)
{
    if (e == GT_OK) {
        if (!op || !json_is_object(in))
            abort();
        char *s = json_dumps(in, JSON_COMPACT);
        if (!s)
            abort();
        free(s);
        json_decref(in);
    } else {
        if (in)
            abort();
        json_t *m = json_string(msg); /* NULL if the message is not UTF-8 */
        if (!m)
            abort();
        json_decref(m);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *d = (const char *)data;
    const char *nl1 = memchr(d, '\n', size);
    size_t plen = nl1 ? (size_t)(nl1 - d) : size;
    const char *q = nl1 ? nl1 + 1 : d + size;
    size_t rest = nl1 ? size - plen - 1 : 0;
    const char *nl2 = memchr(q, '\n', rest);
    size_t qlen = nl2 ? (size_t)(nl2 - q) : rest;
    const unsigned char *body = nl2 ? (const unsigned char *)nl2 + 1 : (const unsigned char *)q + qlen;
    size_t blen = nl2 ? rest - qlen - 1 : 0;

    static const char *const methods[] = {"GET", "POST", "PUT", "DELETE"};
    http_header hdrs[2] = {
        {"X-Amzn-Client-Token", 19, q, qlen},
        {"X-Amz-Target", 12, NULL, 0},
    };
    http_req req = {
        .path = d, .path_len = plen, .query = q, .query_len = qlen,
        .headers = hdrs, .n_headers = 1, .body = body, .body_len = blen,
        .remote_ip = "127.0.0.1",
    };
    char msg[256];
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        const model_op *op = NULL;
        json_t *in = NULL;
        req.method = methods[i];
        gt_err e = api_restjson_decode(&model_greengrass, &req, &op, &in, msg, sizeof msg);
        check(e, op, in, msg);
    }

    /* awsJson: target = prefix "." path, unless path already has a '.' */
    char target[512];
    if (memchr(d, '.', plen) || plen > 200) {
        hdrs[1].value = d;
        hdrs[1].value_len = plen;
    } else {
        int n = snprintf(target, sizeof target, "%s.%.*s", model_cloudtrail.target_prefix,
                         (int)plen, d);
        hdrs[1].value = target;
        hdrs[1].value_len = n > 0 ? (size_t)n : 0;
    }
    req.headers = &hdrs[1];
    req.n_headers = 1;
    req.method = "POST";
    const model_op *op = NULL;
    json_t *in = NULL;
    gt_err e = api_json_decode(&model_cloudtrail, &req, &op, &in, msg, sizeof msg);
    check(e, op, in, msg);
    return 0;
}
