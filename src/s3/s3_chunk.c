/*
 * s3_chunk.c: decoding aws-chunked request bodies and checking payload
 * checksums.
 *
 * The framing (AWS "Signature Calculations for the Authorization Header:
 * Transferring Payload in Multiple Chunks" and the trailer variant):
 *
 *   signed:    <hex-size>;chunk-signature=<64 hex>\r\n<bytes>\r\n ...
 *              0;chunk-signature=<64 hex>\r\n
 *              [<trailer>:<value>\r\n ... x-amz-trailer-signature:<hex>\r\n]
 *              \r\n
 *   unsigned:  <hex-size>\r\n<bytes>\r\n ... 0\r\n[<trailer>:<value>\r\n...]\r\n
 *
 * Chunk signatures chain: chunk i is signed over
 *   "AWS4-HMAC-SHA256-PAYLOAD\n" date "\n" scope "\n" prev-sig "\n"
 *   sha256("") "\n" sha256(chunk bytes)
 * with prev-sig = the request's (seed) signature for the first chunk. The
 * trailer signature is over "AWS4-HMAC-SHA256-TRAILER\n" date "\n" scope
 * "\n" prev-sig "\n" sha256(trailer lines as "name:value\n").
 *
 * Why here: the dispatcher verifies the seed signature (the STREAMING-*
 * literal is the payload hash of the canonical request); only the S3
 * service knows the body is chunked, so it decodes and checks the chain.
 *
 * Invariants: every length is checked against the remaining input before
 * it is used; the output is never larger than the input; the decoder
 * never reads past in[n); signatures compare in constant time.
 */
#include "s3/s3_chunk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <zlib.h>

#include "util/gtutil.h"

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static void set_msg(char *msg, size_t cap, const char *s)
{
    if (msg && cap)
        snprintf(msg, cap, "%s", s);
}

/* One line ending in "\n" (the "\r" before it is optional) starting at
 * in[*pos]; returns its length without the terminator, or -1 when there
 * is no terminator within S3_CHUNK_MAX_LINE bytes. */
static long next_line(const unsigned char *in, size_t n, size_t *pos, const char **line)
{
    size_t start = *pos;
    for (size_t i = start; i < n && i - start <= S3_CHUNK_MAX_LINE; i++) {
        if (in[i] == '\n') {
            size_t len = i - start;
            if (len > 0 && in[i - 1] == '\r')
                len--;
            *line = (const char *)in + start;
            *pos = i + 1;
            return (long)len;
        }
    }
    return -1;
}

static bool sha256_hex(const void *d, size_t n, char out[65])
{
    unsigned char md[32];
    unsigned int ml = 0;
    if (!EVP_Digest(d ? d : "", n, md, &ml, EVP_sha256(), NULL) || ml != 32)
        return false;
    gt_hex(md, 32, out);
    return true;
}

static bool hmac_hex(const unsigned char key[32], const char *msg, size_t n, char out[65])
{
    unsigned char md[32];
    unsigned int ml = 0;
    if (!HMAC(EVP_sha256(), key, 32, (const unsigned char *)msg, n, md, &ml) || ml != 32)
        return false;
    gt_hex(md, 32, out);
    return true;
}

/* Expected signature of one chunk (kind "PAYLOAD") or the trailer
 * ("TRAILER", hash_hex of the trailer lines). */
static bool chain_sig(const s3_chunk_sig *s, const char *kind, const char *prev,
                      const char *hash_line, char out[65])
{
    char sts[512];
    int k = snprintf(sts, sizeof sts, "AWS4-HMAC-SHA256-%s\n%s\n%s\n%s\n%s", kind, s->amz_date,
                     s->scope, prev, hash_line);
    if (k <= 0 || (size_t)k >= sizeof sts)
        return false;
    return hmac_hex(s->signing_key, sts, (size_t)k, out);
}

static bool is_hex64(const char *p, size_t n)
{
    if (n != 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return false;
    }
    return true;
}

gt_err s3_chunk_decode(const unsigned char *in, size_t n, bool signed_chunks, bool trailer,
                       const s3_chunk_sig *sig, s3_chunk_out *out, char *msg, size_t msgcap)
{
    memset(out, 0, sizeof *out);
    set_msg(msg, msgcap, "");
    out->data = malloc(n ? n : 1);
    if (!out->data)
        return GT_E_NOMEM;
    char prev[65] = "";
    if (sig)
        gt_strlcpy(prev, sig->seed, sizeof prev);
    size_t pos = 0;
    gt_err e = GT_E_S3_INCOMPLETE_BODY;
    for (;;) {
        const char *line;
        long ll = next_line(in, n, &pos, &line);
        if (ll <= 0) {
            set_msg(msg, msgcap, "The aws-chunked body ends inside a chunk header.");
            goto fail;
        }
        size_t hexlen = 0;
        while (hexlen < (size_t)ll && line[hexlen] != ';')
            hexlen++;
        if (hexlen == 0 || hexlen > 15) {
            set_msg(msg, msgcap, "Malformed aws-chunked chunk size.");
            goto fail;
        }
        size_t size = 0;
        for (size_t i = 0; i < hexlen; i++) {
            char c = line[i];
            int v = c >= '0' && c <= '9' ? c - '0'
                  : c >= 'a' && c <= 'f' ? c - 'a' + 10
                  : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
            if (v < 0) {
                set_msg(msg, msgcap, "Malformed aws-chunked chunk size.");
                goto fail;
            }
            size = size * 16 + (size_t)v;
        }
        const char *csig = NULL;
        static const char ext[] = ";chunk-signature=";
        if ((size_t)ll > hexlen) {
            size_t el = (size_t)ll - hexlen;
            if (el == sizeof ext - 1 + 64 && memcmp(line + hexlen, ext, sizeof ext - 1) == 0 &&
                is_hex64(line + hexlen + sizeof ext - 1, 64))
                csig = line + hexlen + sizeof ext - 1;
            else if (signed_chunks) {
                set_msg(msg, msgcap, "Malformed aws-chunked chunk signature.");
                goto fail;
            }
        }
        if (signed_chunks && !csig) {
            set_msg(msg, msgcap, "An aws-chunked chunk has no chunk-signature.");
            goto fail;
        }
        if (size > n - pos) {
            set_msg(msg, msgcap, "The aws-chunked body is shorter than its chunk sizes say.");
            goto fail;
        }
        if (signed_chunks && sig) {
            char dh[65], expect[65], hl[140];
            if (!sha256_hex(in + pos, size, dh)) {
                e = GT_E_INTERNAL;
                goto fail;
            }
            snprintf(hl, sizeof hl, "%s\n%s", EMPTY_SHA256, dh);
            if (!chain_sig(sig, "PAYLOAD", prev, hl, expect)) {
                e = GT_E_INTERNAL;
                goto fail;
            }
            char got[65];
            for (int i = 0; i < 64; i++)
                got[i] = (char)(csig[i] >= 'A' && csig[i] <= 'F' ? csig[i] - 'A' + 'a' : csig[i]);
            got[64] = '\0';
            if (CRYPTO_memcmp(got, expect, 64) != 0) {
                e = GT_E_S3_SIGNATURE_MISMATCH;
                set_msg(msg, msgcap, "The chunk signature we calculated does not match the signature you provided.");
                goto fail;
            }
            memcpy(prev, expect, 65);
        }
        if (size == 0)
            break;
        memcpy(out->data + out->len, in + pos, size);
        out->len += size;
        pos += size;
        if (n - pos < 2 || in[pos] != '\r' || in[pos + 1] != '\n') {
            set_msg(msg, msgcap, "An aws-chunked chunk is not followed by CRLF.");
            goto fail;
        }
        pos += 2;
    }
    /* After the final chunk: trailer lines (if any), then an empty line. */
    char tcanon[S3_CHUNK_MAX_TRAILERS * 330];
    size_t tcl = 0;
    const char *tsig = NULL;
    for (;;) {
        if (pos == n && !trailer) {
            break;   /* tolerate a missing final CRLF without trailers */
        }
        const char *line;
        long ll = next_line(in, n, &pos, &line);
        if (ll < 0) {
            set_msg(msg, msgcap, "The aws-chunked body ends inside its trailer.");
            goto fail;
        }
        if (ll == 0)
            break;
        if (!trailer) {
            set_msg(msg, msgcap, "Unexpected trailer in an aws-chunked body.");
            goto fail;
        }
        const char *colon = memchr(line, ':', (size_t)ll);
        if (!colon || colon == line) {
            set_msg(msg, msgcap, "Malformed aws-chunked trailer.");
            goto fail;
        }
        size_t nl = (size_t)(colon - line);
        const char *v = colon + 1;
        size_t vl = (size_t)ll - nl - 1;
        while (vl && (*v == ' ' || *v == '\t')) {
            v++;
            vl--;
        }
        while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
            vl--;
        if (nl == 23 && strncasecmp(line, "x-amz-trailer-signature", 23) == 0) {
            if (!is_hex64(v, vl)) {
                set_msg(msg, msgcap, "Malformed x-amz-trailer-signature.");
                goto fail;
            }
            tsig = v;
            continue;
        }
        if (out->n_trailers >= S3_CHUNK_MAX_TRAILERS || nl >= sizeof out->trailers[0].name ||
            vl >= sizeof out->trailers[0].value) {
            set_msg(msg, msgcap, "Too many or too long aws-chunked trailers.");
            goto fail;
        }
        s3_chunk_trailer *t = &out->trailers[out->n_trailers++];
        for (size_t i = 0; i < nl; i++)
            t->name[i] = (char)(line[i] >= 'A' && line[i] <= 'Z' ? line[i] - 'A' + 'a' : line[i]);
        t->name[nl] = '\0';
        memcpy(t->value, v, vl);
        t->value[vl] = '\0';
        int k = snprintf(tcanon + tcl, sizeof tcanon - tcl, "%s:%s\n", t->name, t->value);
        if (k > 0 && (size_t)k < sizeof tcanon - tcl)
            tcl += (size_t)k;
    }
    /* Only line breaks may follow. */
    while (pos < n && (in[pos] == '\r' || in[pos] == '\n'))
        pos++;
    if (pos != n) {
        set_msg(msg, msgcap, "Bytes follow the end of the aws-chunked body.");
        goto fail;
    }
    if (signed_chunks && trailer && sig) {
        if (!tsig) {
            e = GT_E_S3_SIGNATURE_MISMATCH;
            set_msg(msg, msgcap, "The signed aws-chunked trailer has no x-amz-trailer-signature.");
            goto fail;
        }
        char th[65], expect[65], got[65];
        if (!sha256_hex(tcanon, tcl, th) || !chain_sig(sig, "TRAILER", prev, th, expect)) {
            e = GT_E_INTERNAL;
            goto fail;
        }
        for (int i = 0; i < 64; i++)
            got[i] = (char)(tsig[i] >= 'A' && tsig[i] <= 'F' ? tsig[i] - 'A' + 'a' : tsig[i]);
        got[64] = '\0';
        if (CRYPTO_memcmp(got, expect, 64) != 0) {
            e = GT_E_S3_SIGNATURE_MISMATCH;
            set_msg(msg, msgcap, "The trailer signature we calculated does not match the signature you provided.");
            goto fail;
        }
    }
    return GT_OK;
fail:
    s3_chunk_out_free(out);
    return e;
}

void s3_chunk_out_free(s3_chunk_out *o)
{
    free(o->data);
    memset(o, 0, sizeof *o);
}

/* ---------------------------------------------------------------- checksums */

unsigned int s3_crc32c(const unsigned char *data, size_t len)
{
    static unsigned int table[256];
    static int ready;   /* benign race: every thread computes the same table */
    if (!__atomic_load_n(&ready, __ATOMIC_ACQUIRE)) {
        for (unsigned int i = 0; i < 256; i++) {
            unsigned int c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
            table[i] = c;
        }
        __atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
    }
    unsigned int crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < len; i++)
        crc = table[(crc ^ data[i]) & 0xFF] ^ (crc >> 8);
    return crc ^ 0xFFFFFFFFu;
}

unsigned long long s3_crc64nvme(const unsigned char *data, size_t len)
{
    static unsigned long long table[256];
    static int ready;
    if (!__atomic_load_n(&ready, __ATOMIC_ACQUIRE)) {
        for (unsigned int i = 0; i < 256; i++) {
            unsigned long long c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? (c >> 1) ^ 0x9A6C9329AC4BC9B5ull : c >> 1;
            table[i] = c;
        }
        __atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
    }
    unsigned long long crc = ~0ull;
    for (size_t i = 0; i < len; i++)
        crc = table[(crc ^ data[i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

bool s3_checksum_b64(const char *algo, const unsigned char *data, size_t len, char out[64])
{
    unsigned char d[64];
    size_t dl = 0;
    if (strcmp(algo, "crc32") == 0) {
        uLong c = crc32(0L, Z_NULL, 0);
        size_t off = 0;
        while (off < len) {   /* zlib takes uInt lengths */
            uInt part = len - off > 0x40000000u ? 0x40000000u : (uInt)(len - off);
            c = crc32(c, data + off, part);
            off += part;
        }
        unsigned int v = (unsigned int)c;
        d[0] = (unsigned char)(v >> 24), d[1] = (unsigned char)(v >> 16), d[2] = (unsigned char)(v >> 8),
        d[3] = (unsigned char)v;
        dl = 4;
    } else if (strcmp(algo, "crc32c") == 0) {
        unsigned int v = s3_crc32c(data, len);
        d[0] = (unsigned char)(v >> 24), d[1] = (unsigned char)(v >> 16), d[2] = (unsigned char)(v >> 8),
        d[3] = (unsigned char)v;
        dl = 4;
    } else if (strcmp(algo, "crc64nvme") == 0) {
        unsigned long long v = s3_crc64nvme(data, len);
        for (int i = 0; i < 8; i++)
            d[i] = (unsigned char)(v >> (56 - 8 * i));
        dl = 8;
    } else {
        const EVP_MD *md = strcmp(algo, "sha1") == 0     ? EVP_sha1()
                         : strcmp(algo, "sha256") == 0 ? EVP_sha256()
                         : strcmp(algo, "md5") == 0    ? EVP_md5()
                                                       : NULL;
        unsigned int ml = 0;
        if (!md || !EVP_Digest(data ? (const void *)data : "", len, d, &ml, md, NULL))
            return false;
        dl = ml;
    }
    EVP_EncodeBlock((unsigned char *)out, d, (int)dl);
    return true;
}

bool s3_signing_key(const char *secret, const char *date8, const char *region, const char *service,
                    unsigned char key[32])
{
    char k0[256];
    int n = snprintf(k0, sizeof k0, "AWS4%s", secret);
    if (n <= 0 || (size_t)n >= sizeof k0)
        return false;
    unsigned char a[32], b[32];
    unsigned int l = 0;
    bool ok = HMAC(EVP_sha256(), k0, n, (const unsigned char *)date8, strlen(date8), a, &l) &&
              HMAC(EVP_sha256(), a, 32, (const unsigned char *)region, strlen(region), b, &l) &&
              HMAC(EVP_sha256(), b, 32, (const unsigned char *)service, strlen(service), a, &l) &&
              HMAC(EVP_sha256(), a, 32, (const unsigned char *)"aws4_request", 12, key, &l);
    OPENSSL_cleanse(k0, sizeof k0);
    OPENSSL_cleanse(a, sizeof a);
    OPENSSL_cleanse(b, sizeof b);
    return ok;
}
