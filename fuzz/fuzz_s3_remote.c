/*
 * fuzz_s3_remote.c: libFuzzer target for the external S3 client's parsers
 * of what a (possibly hostile or broken) S3-compatible server answers:
 * ListObjectsV2 results (s3_remote_parse_list) and <Error> bodies
 * (s3_remote_parse_error). Invariants checked: every key handed to the
 * callback is a NUL-terminated string; the continuation token and the
 * error code/message stay NUL-terminated within their buffers; the result
 * is -1, 0 or 1, and a document that is not a listing is never "truncated"
 * (the client would ask for another page forever).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "s3/s3_remote.h"

static int count_cb(void *ud, const char *key)
{
    size_t *n = ud;
    if (!key)
        abort();
    (void)strlen(key);
    (*n)++;
    return *n > 100000;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n = 0;
    bool more = true;
    char tok[64];
    int rc = s3_remote_parse_list((const char *)data, size, count_cb, &n, &more, tok, sizeof tok);
    if (rc < -1 || rc > 1 || memchr(tok, '\0', sizeof tok) == NULL)
        abort();
    if (rc == -1 && more)
        abort();
    s3_remote_res res;
    memset(&res, 0, sizeof res);
    s3_remote_parse_error((const char *)data, size, &res);
    if (!memchr(res.code, '\0', sizeof res.code) || !memchr(res.msg, '\0', sizeof res.msg))
        abort();
    return 0;
}
