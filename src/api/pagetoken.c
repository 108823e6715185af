/*
 * pagetoken.c: HMAC-bound paging tokens (see pagetoken.h).
 * Invariant: api_pagetoken_open accepts only tokens api_pagetoken_make
 * produced with the same key and scope; comparison is constant-time.
 */
#include "api/pagetoken.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

static const char B64U[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static size_t b64u_enc(const unsigned char *in, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n) v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n) v |= in[i + 2];
        size_t chars = (n - i >= 3) ? 4 : (n - i == 2 ? 3 : 2);
        for (size_t k = 0; k < chars; k++) {
            if (o + 1 >= cap)
                return 0;
            out[o++] = B64U[(v >> (18 - 6 * k)) & 63];
        }
    }
    out[o] = '\0';
    return o;
}

static int b64u_val(char c)
{
    const char *p = c ? strchr(B64U, c) : NULL;
    return p ? (int)(p - B64U) : -1;
}

static size_t b64u_dec(const char *in, size_t n, unsigned char *out, size_t cap)
{
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64u_val(in[i]);
        if (v < 0)
            return (size_t)-1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= cap)
                return (size_t)-1;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    return o;
}

static void mac(const unsigned char key[32], const char *scope, const unsigned char *cur,
                size_t curlen, unsigned char out[32])
{
    unsigned char buf[1024];
    size_t sl = strlen(scope);
    if (sl > sizeof buf - 32)
        sl = sizeof buf - 32;
    memcpy(buf, scope, sl);
    buf[sl] = 0;
    memcpy(buf + sl + 1, cur, curlen);
    unsigned int ol = 32;
    HMAC(EVP_sha256(), key, 32, buf, sl + 1 + curlen, out, &ol);
}

static void put64(unsigned char *p, int64_t v)
{
    uint64_t u = (uint64_t)v;
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)(u & 0xff);
        u >>= 8;
    }
}

static int64_t get64(const unsigned char *p)
{
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u = (u << 8) | p[i];
    return (int64_t)u;
}

bool api_pagetoken_make(const unsigned char key[32], const char *scope, int64_t a, int64_t b,
                        char out[API_PAGETOKEN_MAX])
{
    unsigned char cur[16], m[32];
    put64(cur, a);
    put64(cur + 8, b);
    mac(key, scope, cur, sizeof cur, m);
    char c1[32], c2[32];
    if (!b64u_enc(cur, sizeof cur, c1, sizeof c1) || !b64u_enc(m, 16, c2, sizeof c2))
        return false;
    return snprintf(out, API_PAGETOKEN_MAX, "v1.%s.%s", c1, c2) < API_PAGETOKEN_MAX;
}

bool api_pagetoken_open(const unsigned char key[32], const char *scope, const char *token,
                        int64_t *a, int64_t *b)
{
    if (!token || strncmp(token, "v1.", 3) != 0 || strlen(token) >= API_PAGETOKEN_MAX)
        return false;
    const char *p1 = token + 3, *dot = strchr(p1, '.');
    if (!dot)
        return false;
    unsigned char cur[32], got[32], want[32];
    size_t n1 = b64u_dec(p1, (size_t)(dot - p1), cur, sizeof cur);
    size_t n2 = b64u_dec(dot + 1, strlen(dot + 1), got, sizeof got);
    if (n1 != 16 || n2 != 16)
        return false;
    mac(key, scope, cur, 16, want);
    if (CRYPTO_memcmp(want, got, 16) != 0)
        return false;
    *a = get64(cur);
    *b = get64(cur + 8);
    return true;
}
