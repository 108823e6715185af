/* pagetoken.h: opaque, unforgeable paging tokens.
 *
 * A token carries two integers (a cursor) bound to a "scope" string that
 * names the query it belongs to (account, region, operation, filters). It
 * is "v1." + base64url(cursor) + "." + base64url(HMAC-SHA256(key, scope |
 * cursor))[:16 bytes], so a token from one query cannot be replayed
 * against another, and no cursor can be made up by a client. */
#ifndef GT_API_PAGETOKEN_H
#define GT_API_PAGETOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define API_PAGETOKEN_MAX 128

/* Writes a NUL-terminated token into out (API_PAGETOKEN_MAX bytes). */
bool api_pagetoken_make(const unsigned char key[32], const char *scope, int64_t a, int64_t b,
                        char out[API_PAGETOKEN_MAX]);
/* false if the token is malformed, was made for another scope, or forged. */
bool api_pagetoken_open(const unsigned char key[32], const char *scope, const char *token,
                        int64_t *a, int64_t *b);

#endif
