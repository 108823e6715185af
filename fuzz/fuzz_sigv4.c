/*
 * fuzz_sigv4.c: libFuzzer target for auth/sigv4.c.
 *
 * Input layout (seeds in fuzz/corpus/sigv4/ are real signed requests from
 * the SigV4 test suite, so the fuzzer starts from inputs that verify):
 *   byte 0        flags: bit 0 = S3 rules (no path normalisation),
 *                        bit 1 = accept UNSIGNED-PAYLOAD
 *   line          method
 *   line          raw path
 *   line          raw query (may be empty)
 *   lines         "Name:Value" headers, until an empty line
 *   rest          body
 * Every request is parsed and, when that succeeds, verified with the
 * suite's secret at the suite's time; the canonical request and string to
 * sign are built too. Crashes, leaks and sanitizer reports are the bugs.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/sigv4.h"

#define FZ_MAX_HEADERS 64

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
    if (size < 1)
        return 0;
    /* a private copy so that nothing reads past the fuzzer's buffer */
    char *buf = malloc(size);
    if (!buf)
        return 0;
    memcpy(buf, data + 1, size - 1);
    const char *p = buf, *end = buf + size - 1;
    uint8_t flags = data[0];

    char method[16];
    size_t ml;
    const char *m = next_line(&p, end, &ml);
    if (ml >= sizeof method)
        ml = sizeof method - 1;
    memcpy(method, m, ml);
    method[ml] = '\0';

    http_req req = {0};
    req.method = method;
    req.path = next_line(&p, end, &req.path_len);
    req.query = next_line(&p, end, &req.query_len);

    http_header hdrs[FZ_MAX_HEADERS];
    size_t nh = 0;
    while (p < end && nh < FZ_MAX_HEADERS) {
        size_t ll;
        const char *line = next_line(&p, end, &ll);
        if (ll == 0)
            break;
        const char *colon = memchr(line, ':', ll);
        if (!colon)
            continue;
        hdrs[nh].name = line;
        hdrs[nh].name_len = (size_t)(colon - line);
        hdrs[nh].value = colon + 1;
        hdrs[nh].value_len = ll - hdrs[nh].name_len - 1;
        nh++;
    }
    req.headers = hdrs;
    req.n_headers = nh;
    req.body = (const unsigned char *)p;
    req.body_len = (size_t)(end - p);
    req.remote_ip = "127.0.0.1";

    auth_sigv4_opts opts = {
        .now = 1440938160, /* 2015-08-30T12:36:00Z */
        .max_skew_seconds = 900,
        .normalize_path = !(flags & 1),
        .sign_body_unsigned_ok = (flags & 2) != 0,
    };
    auth_sigv4_info info;
    char msg[512];
    if (auth_sigv4_parse(&req, &opts, &info, msg, sizeof msg) == GT_OK) {
        char tok[256];
        (void)auth_sigv4_session_token(&info, tok, sizeof tok);
        (void)auth_sigv4_verify(&req, &opts, &info, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", msg,
                                sizeof msg);
        free(auth_sigv4_canonical_request(&req, &opts, &info));
        free(auth_sigv4_string_to_sign(&req, &opts, &info));
    }
    if (memchr(msg, '\0', sizeof msg) == NULL)
        abort();
    free(buf);
    return 0;
}
