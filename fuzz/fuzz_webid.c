/*
 * fuzz_webid.c: libFuzzer target for web identity token parsing
 * (sts/webid.c).
 *
 * The input is a token. Invariants checked: parsing and RS256
 * verification never crash whatever the bytes; a token that is not
 * signed by the fixed key (none of the fuzzer's are) never verifies; the
 * unverified claims, when present, are a JSON object.
 * Build: tools/fuzz-replay (meson -Dfuzz=replay|instrumented, fuzz/meson.build).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sts/webid.h"

/* A 2048-bit RSA public key (its private half was thrown away). */
static const char PEM[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHCozMxH2Mo\n"
    "4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u\n"
    "+qKhbwKfBstIs+bMY2Zkp18gnTxKLxoS2tFczGkPLPgizskuemMghRniWaoLcyeh\n"
    "kd3qqGElvW/VDL5AaWTg0nLVkjRo9z+40RQzuVaE8AkAFmxZzow3x+VJYKdjykkJ\n"
    "0iT9wCS0DRTXu269V264Vf/3jvredZiKRkgwlL9xNAwxXFg0x/XFw005UWVRIkdg\n"
    "cKWTjpBP2dPwVZ4WWC+9aGVd+Gyn1o0CLelf4rEjGoXbAAEgAqeGUxrcIlbjXfbc\n"
    "mwIDAQAB\n"
    "-----END PUBLIC KEY-----\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *t = malloc(size + 1);
    if (!t)
        return 0;
    memcpy(t, data, size);
    t[size] = '\0';
    json_t *u = sts_jwt_claims_unverified(t);
    if (u && !json_is_object(u))
        abort();
    json_decref(u);
    json_t *claims = NULL;
    if (sts_jwt_verify(t, PEM, &claims) == STS_JWT_OK)
        abort();
    if (claims)
        abort();
    /* the same bytes as a key set: must not crash */
    (void)sts_jwt_keys_usable(t);
    free(t);
    return 0;
}
