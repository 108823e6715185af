/*
 * webid.c: JWT (RFC 7519) RS256 verification for AssumeRoleWithWebIdentity.
 *
 * What: a compact JWS "b64url(header).b64url(payload).b64url(sig)" is
 * split, its header and payload decoded (OpenSSL's EVP_DecodeBlock after
 * mapping base64url to base64) and parsed with jansson; the signature is
 * checked with EVP_DigestVerify (RSASSA-PKCS1-v1_5 with SHA-256) over the
 * first two parts as received. Keys come from the OIDC provider's
 * configuration: a PEM SubjectPublicKeyInfo, or a JWKS whose RSA keys are
 * rebuilt from n and e with EVP_PKEY_fromdata.
 *
 * Invariants: only alg RS256 is accepted (never "none", never HMAC with a
 * public key); every length is capped (STS_JWT_MAX); no claim is trusted
 * before the signature verified, except through
 * sts_jwt_claims_unverified, which is for display only.
 */
#include "sts/webid.h"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>

/* base64url (no padding) -> bytes; malloc'd, *n its length; NULL if bad. */
static unsigned char *b64url_decode(const char *s, size_t len, size_t *n)
{
    if (len > STS_JWT_MAX)
        return NULL;
    size_t padded = (len + 3) / 4 * 4;
    char *b = malloc(padded + 1);
    unsigned char *out = malloc(padded / 4 * 3 + 1);
    if (!b || !out) {
        free(b);
        free(out);
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (ch == '-')
            ch = '+';
        else if (ch == '_')
            ch = '/';
        else if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'))) {
            free(b);
            free(out);
            return NULL;
        }
        b[i] = ch;
    }
    size_t pad = padded - len;
    if (pad == 3) {
        free(b);
        free(out);
        return NULL;
    }
    memset(b + len, '=', pad);
    b[padded] = '\0';
    int r = padded ? EVP_DecodeBlock(out, (const unsigned char *)b, (int)padded) : 0;
    free(b);
    if (r < 0) {
        free(out);
        return NULL;
    }
    *n = (size_t)r - pad;
    return out;
}

static json_t *b64url_json(const char *s, size_t len)
{
    size_t n;
    unsigned char *raw = b64url_decode(s, len, &n);
    if (!raw)
        return NULL;
    json_t *j = json_loadb((const char *)raw, n, JSON_REJECT_DUPLICATES, NULL);
    free(raw);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

typedef struct jwt_parts {
    const char *h, *p, *s;
    size_t hn, pn, sn;
} jwt_parts;

static bool split(const char *t, jwt_parts *out)
{
    size_t len = strnlen(t, STS_JWT_MAX + 1);
    if (len > STS_JWT_MAX)
        return false;
    const char *d1 = memchr(t, '.', len);
    const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - t)) : NULL;
    if (!d1 || !d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - t)))
        return false;
    out->h = t;
    out->hn = (size_t)(d1 - t);
    out->p = d1 + 1;
    out->pn = (size_t)(d2 - d1 - 1);
    out->s = d2 + 1;
    out->sn = len - (size_t)(d2 + 1 - t);
    return out->hn && out->pn && out->sn;
}

json_t *sts_jwt_claims_unverified(const char *token)
{
    jwt_parts jp;
    if (!token || !split(token, &jp))
        return NULL;
    return b64url_json(jp.p, jp.pn);
}

static EVP_PKEY *rsa_from_jwk(const json_t *k)
{
    const char *kty = json_string_value(json_object_get(k, "kty"));
    const char *n64 = json_string_value(json_object_get(k, "n"));
    const char *e64 = json_string_value(json_object_get(k, "e"));
    if (!kty || strcmp(kty, "RSA") != 0 || !n64 || !e64)
        return NULL;
    size_t nn, en;
    unsigned char *n = b64url_decode(n64, strlen(n64), &nn);
    unsigned char *e = b64url_decode(e64, strlen(e64), &en);
    EVP_PKEY *pkey = NULL;
    BIGNUM *bn = n ? BN_bin2bn(n, (int)nn, NULL) : NULL;
    BIGNUM *be = e ? BN_bin2bn(e, (int)en, NULL) : NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    if (bn && be && bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) && (params = OSSL_PARAM_BLD_to_param(bld)) &&
        (ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) && EVP_PKEY_fromdata_init(ctx) == 1) {
        if (EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
            pkey = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);
    free(n);
    free(e);
    return pkey;
}

/* The key to verify with: PEM, or the JWKS entry matching kid (any RSA
 * key when either side has no kid). */
static EVP_PKEY *pick_key(const char *keys, const char *kid)
{
    if (!keys)
        return NULL;
    if (strstr(keys, "-----BEGIN")) {
        BIO *bio = BIO_new_mem_buf(keys, -1);
        EVP_PKEY *k = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
        BIO_free(bio);
        if (k && EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA) {
            EVP_PKEY_free(k);
            k = NULL;
        }
        return k;
    }
    json_t *j = json_loads(keys, 0, NULL);
    json_t *arr = json_object_get(j, "keys");
    EVP_PKEY *found = NULL;
    size_t i;
    json_t *k;
    json_array_foreach(arr, i, k) {
        const char *kk = json_string_value(json_object_get(k, "kid"));
        if (kid && kk && strcmp(kid, kk) != 0)
            continue;
        found = rsa_from_jwk(k);
        if (found)
            break;
    }
    json_decref(j);
    return found;
}

bool sts_jwt_keys_usable(const char *keys)
{
    EVP_PKEY *k = pick_key(keys, NULL);
    EVP_PKEY_free(k);
    return k != NULL;
}

sts_jwt_result sts_jwt_verify(const char *token, const char *keys, json_t **claims_out)
{
    *claims_out = NULL;
    jwt_parts jp;
    if (!token || !split(token, &jp))
        return STS_JWT_MALFORMED;
    json_t *hdr = b64url_json(jp.h, jp.hn);
    json_t *claims = b64url_json(jp.p, jp.pn);
    size_t sigl = 0;
    unsigned char *sig = b64url_decode(jp.s, jp.sn, &sigl);
    sts_jwt_result r = STS_JWT_OK;
    EVP_PKEY *key = NULL;
    EVP_MD_CTX *md = NULL;
    if (!hdr || !claims || !sig) {
        r = STS_JWT_MALFORMED;
        goto out;
    }
    const char *alg = json_string_value(json_object_get(hdr, "alg"));
    if (!alg || strcmp(alg, "RS256") != 0) {
        r = STS_JWT_BAD_ALG;
        goto out;
    }
    key = pick_key(keys, json_string_value(json_object_get(hdr, "kid")));
    if (!key) {
        r = STS_JWT_NO_KEY;
        goto out;
    }
    md = EVP_MD_CTX_new();
    size_t signed_len = jp.hn + 1 + jp.pn;   /* "header.payload" as received */
    if (!md || EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
        EVP_DigestVerify(md, sig, sigl, (const unsigned char *)jp.h, signed_len) != 1) {
        r = STS_JWT_BAD_SIGNATURE;
        goto out;
    }
    *claims_out = claims;
    claims = NULL;
out:
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(key);
    free(sig);
    json_decref(hdr);
    json_decref(claims);
    return r;
}
