/* gtutil.h: small bounded, reentrant helpers shared by every module:
 * time formatting, ids, strict number parsing, random tokens, hex.
 * Nothing here allocates except where the contract says so. */
#ifndef GT_UTIL_H
#define GT_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Wall clock, epoch milliseconds. */
int64_t gt_now_ms(void);

/* "2019-06-19T22:24:44.585Z" (24 chars + NUL). out must hold 25 bytes. */
void gt_fmt_iso_ms(int64_t epoch_ms, char out[25]);
/* "2018-10-17T18:01:11Z" (20 chars + NUL). out must hold 21 bytes. */
void gt_fmt_iso_s(int64_t epoch_s, char out[21]);
/* Parse "YYYY-MM-DDTHH:MM:SS[.fff]Z" (also "+00:00"); false if malformed. */
bool gt_parse_iso(const char *s, int64_t *epoch_ms);

/* Lower-case UUIDv4, 36 chars + NUL. */
void gt_uuid4(char out[37]);

/* Strict decimal parse of s[0..len): optional '-', digits only, no overflow. */
bool gt_parse_i64(const char *s, size_t len, int64_t *out);

/* n random characters from alphabet (CSPRNG), NUL-terminated; out holds n+1.
 * Returns false if the CSPRNG failed. */
bool gt_random_chars(char *out, size_t n, const char *alphabet);

/* A new RSA key of `bits` (e = 65537) that a shutdown can cancel: OpenSSL
 * calls back during the prime search and the generation stops (NULL) soon
 * after *cancel becomes true. cancel may be NULL. Background key threads
 * use it so that stopping the server never waits for a key generation
 * starved of CPU. */
struct evp_pkey_st *gt_rsa_gen(int bits, const _Atomic bool *cancel);
/* n random bytes (CSPRNG). */
bool gt_random_bytes(unsigned char *out, size_t n);

/* Lower-case hex of in[0..n) into out (2n+1 bytes). */
void gt_hex(const unsigned char *in, size_t n, char *out);

/* Decode exactly 2n hex digits into out[0..n). false if malformed. */
/* The value of one hex digit (either case), or -1. */
int gt_hexval(int c);

bool gt_unhex(const char *hex, unsigned char *out, size_t n);

/* Copy at most cap-1 bytes of src into dst, always NUL-terminated (cap>0).
 * Returns false if truncated. */
bool gt_strlcpy(char *dst, const char *src, size_t cap);

#endif
