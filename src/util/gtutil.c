/*
 * gtutil.c: bounded, reentrant helpers (time, ids, numbers, randomness).
 *
 * Why: the project bans gmtime/localtime/atoi/sscanf/sprintf/strcpy; these
 * are the replacements every module uses, so each rule is enforced once.
 * Invariants: every output buffer size is fixed by the signature or passed
 * in; nothing keeps state between calls; randomness comes from OpenSSL's
 * CSPRNG (ids and keys must not be guessable).
 */
#include "util/gtutil.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <uuid/uuid.h>

int64_t gt_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void split_tm(int64_t epoch_s, struct tm *tm)
{
    time_t t = (time_t)epoch_s;
    if (!gmtime_r(&t, tm))
        memset(tm, 0, sizeof *tm);
}

static char *put_num(char *p, unsigned v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + width;
}

/* "YYYY-MM-DDTHH:MM:SS" (19 chars, no NUL) */
static char *put_datetime(char *p, const struct tm *tm)
{
    unsigned y = (unsigned)(tm->tm_year + 1900) % 10000;
    p = put_num(p, y, 4);
    *p++ = '-';
    p = put_num(p, (unsigned)(tm->tm_mon + 1) % 100, 2);
    *p++ = '-';
    p = put_num(p, (unsigned)tm->tm_mday % 100, 2);
    *p++ = 'T';
    p = put_num(p, (unsigned)tm->tm_hour % 100, 2);
    *p++ = ':';
    p = put_num(p, (unsigned)tm->tm_min % 100, 2);
    *p++ = ':';
    p = put_num(p, (unsigned)tm->tm_sec % 100, 2);
    return p;
}

void gt_fmt_iso_ms(int64_t epoch_ms, char out[25])
{
    struct tm tm;
    int64_t s = epoch_ms / 1000, ms = epoch_ms % 1000;
    if (ms < 0) {
        ms += 1000;
        s -= 1;
    }
    split_tm(s, &tm);
    char *p = put_datetime(out, &tm);
    *p++ = '.';
    p = put_num(p, (unsigned)ms, 3);
    *p++ = 'Z';
    *p = '\0';
}

void gt_fmt_iso_s(int64_t epoch_s, char out[21])
{
    struct tm tm;
    split_tm(epoch_s, &tm);
    char *p = put_datetime(out, &tm);
    *p++ = 'Z';
    *p = '\0';
}

static bool digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

bool gt_parse_iso(const char *s, int64_t *epoch_ms)
{
    struct tm tm = {0};
    int y, mo, d, h, mi, se, ms = 0;
    size_t n = strlen(s);
    if (n < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
        !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
        !digits(s + 17, 2, &se))
        return false;
    const char *p = s + 19;
    if (*p == '.') {
        p++;
        int nd = 0;
        while (*p >= '0' && *p <= '9') {
            if (nd < 3)
                ms = ms * 10 + (*p - '0');
            nd++;
            p++;
        }
        if (nd == 0)
            return false;
        for (; nd < 3; nd++)
            ms *= 10;
    }
    if (!(strcmp(p, "Z") == 0 || strcmp(p, "z") == 0 || strcmp(p, "+00:00") == 0))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
        return false;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    *epoch_ms = (int64_t)timegm(&tm) * 1000 + ms;
    return true;
}

/* OpenSSL's DRBG (per-thread, no system call once seeded) rather than
 * libuuid's uuid_generate_random, which costs a getrandom and two more
 * system calls per id: two ids per API call showed as 3.6% of a GetGroup's
 * instructions (bench/RESULTS.md). libuuid remains the fallback. */
void gt_uuid4(char out[37])
{
    unsigned char u[16];
    if (RAND_bytes(u, sizeof u) != 1) {
        uuid_t lu;
        uuid_generate_random(lu);
        uuid_unparse_lower(lu, out);
        return;
    }
    u[6] = (unsigned char)((u[6] & 0x0f) | 0x40);   /* version 4 */
    u[8] = (unsigned char)((u[8] & 0x3f) | 0x80);   /* RFC 4122 variant */
    static const char hex[] = "0123456789abcdef";
    size_t j = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[j++] = '-';
        out[j++] = hex[u[i] >> 4];
        out[j++] = hex[u[i] & 15];
    }
    out[j] = '\0';
}

bool gt_parse_i64(const char *s, size_t len, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    uint64_t v = 0;
    if (len == 0)
        return false;
    if (s[0] == '-') {
        neg = true;
        i = 1;
        if (len == 1)
            return false;
    }
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        uint64_t dgt = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - dgt) / 10)
            return false;
        v = v * 10 + dgt;
    }
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1)
            return false;
        *out = (v == (uint64_t)INT64_MAX + 1) ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX)
            return false;
        *out = (int64_t)v;
    }
    return true;
}

bool gt_random_bytes(unsigned char *out, size_t n)
{
    return RAND_bytes(out, (int)n) == 1;
}

bool gt_random_chars(char *out, size_t n, const char *alphabet)
{
    size_t m = strlen(alphabet);
    unsigned char b;
    size_t limit = 256 - (256 % m); /* reject to avoid modulo bias */
    for (size_t i = 0; i < n; i++) {
        do {
            if (!gt_random_bytes(&b, 1))
                return false;
        } while (b >= limit);
        out[i] = alphabet[b % m];
    }
    out[n] = '\0';
    return true;
}

void gt_hex(const unsigned char *in, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[in[i] >> 4];
        out[2 * i + 1] = hx[in[i] & 15];
    }
    out[2 * n] = '\0';
}

bool gt_strlcpy(char *dst, const char *src, size_t cap)
{
    size_t n = strlen(src);
    if (cap == 0)
        return false;
    if (n >= cap) {
        memcpy(dst, src, cap - 1);
        dst[cap - 1] = '\0';
        return false;
    }
    memcpy(dst, src, n + 1);
    return true;
}

int gt_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool gt_unhex(const char *hex, unsigned char *out, size_t n)
{
    if (strlen(hex) != 2 * n)
        return false;
    for (size_t i = 0; i < n; i++) {
        int hi = gt_hexval(hex[2 * i]), lo = gt_hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (unsigned char)(hi * 16 + lo);
    }
    return true;
}

/* EVP_PKEY_CTX_set_cb's callback: 0 stops the key generation. */
static int rsa_gen_cb(EVP_PKEY_CTX *ctx)
{
    const _Atomic bool *cancel = EVP_PKEY_CTX_get_app_data(ctx);
    return cancel && atomic_load(cancel) ? 0 : 1;
}

EVP_PKEY *gt_rsa_gen(int bits, const _Atomic bool *cancel)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    EVP_PKEY *k = NULL;
    if (ctx && EVP_PKEY_keygen_init(ctx) > 0 && EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, bits) > 0) {
        EVP_PKEY_CTX_set_app_data(ctx, (void *)(uintptr_t)cancel);
        EVP_PKEY_CTX_set_cb(ctx, rsa_gen_cb);
        if (EVP_PKEY_generate(ctx, &k) <= 0)
            k = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    return k;
}
