/* webid.h: OpenID Connect web identity tokens for STS
 * AssumeRoleWithWebIdentity: JWT parsing and RS256 verification with
 * OpenSSL against a provider's keys (a PEM public key or a JWKS). */
#ifndef GT_STS_WEBID_H
#define GT_STS_WEBID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define STS_JWT_MAX 16384   /* bytes of one token */

typedef enum sts_jwt_result {
    STS_JWT_OK = 0,
    STS_JWT_MALFORMED,      /* not three base64url parts of JSON */
    STS_JWT_BAD_ALG,        /* header alg is not RS256 */
    STS_JWT_NO_KEY,         /* no usable key (kid unknown, keys unparsable) */
    STS_JWT_BAD_SIGNATURE,
} sts_jwt_result;

/* Decode the token's claims WITHOUT verifying them (new reference, or
 * NULL when malformed). For display only (the caller's identity in a
 * record); never for decisions. */
json_t *sts_jwt_claims_unverified(const char *token);

/* Check that `keys` (PEM "-----BEGIN PUBLIC KEY-----" text, or a JWKS
 * JSON {"keys":[{"kty":"RSA","n":..,"e":..,"kid":..}]}) holds at least one
 * usable RSA public key. */
bool sts_jwt_keys_usable(const char *keys);

/* Verify token's RS256 signature with `keys` (as above; a JWKS key is
 * chosen by the header's kid when both have one). On STS_JWT_OK,
 * *claims_out is the payload (new reference). Claims (iss, aud, exp) are
 * the caller's to check. */
sts_jwt_result sts_jwt_verify(const char *token, const char *keys, json_t **claims_out);

#endif
