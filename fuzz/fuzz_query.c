/*
 * fuzz_query.c: libFuzzer target for the AWS query protocol decoder and
 * its XML encoder (api/query.c).
 *
 * The first byte picks the service (IAM, STS or SNS: all query
 * protocol); the rest is the form body. Invariants checked: GT_OK implies
 * an operation and an object input, which must then encode to XML
 * without failing; errors imply no input and a valid UTF-8 message.
 * Build: tools/fuzz-replay (meson -Dfuzz=replay|instrumented, fuzz/meson.build).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const model_service *svcs[] = {&model_iam, &model_sts, &model_sns};
    const model_service *svc = svcs[data[0] % 3];
    http_req req = {.method = "POST", .path = "/", .path_len = 1, .query = "", .query_len = 0,
                    .body = data + 1, .body_len = size - 1, .remote_ip = "127.0.0.1"};
    const model_op *op = NULL;
    json_t *in = NULL;
    char msg[1024];
    gt_err e = api_query_decode(svc, &req, &op, &in, msg, sizeof msg);
    if (e == GT_OK) {
        if (!op || !json_is_object(in))
            abort();
        /* the input is not the output shape, but the encoder must cope with any JSON */
        char *x = api_query_xml_ok(svc, op, in, "request-id");
        if (!x)
            abort();
        free(x);
        json_decref(in);
    } else {
        if (in)
            abort();
        json_t *m = json_string(msg);
        if (!m)
            abort();
        json_decref(m);
    }
    return 0;
}
