/* sigv4.h: server-side AWS Signature Version 4 verification.
 *
 * Two steps, so the caller can look the access key up in between:
 *   1. auth_sigv4_parse(): find the Authorization header or the presigned
 *      query form, parse it, check the credential scope and the clock.
 *   2. auth_sigv4_verify(): rebuild the canonical request from the exact
 *      bytes received, derive (or take from cache) the signing key from the
 *      secret, compare signatures in constant time.
 * Errors are gt_err values (api/errors.def) plus a message in AWS's wording
 * written to msg (always NUL-terminated when msgcap > 0).
 * Thread-safe: the signing-key cache is internally locked.
 */
#ifndef GT_AUTH_SIGV4_H
#define GT_AUTH_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "api/errors.h"
#include "http/http_req.h"

#define AUTH_SIGV4_MAX_SIGNED_HEADERS 64

typedef struct auth_sigv4_info {
    char access_key[129];
    char scope_date[9];      /* YYYYMMDD from the credential scope */
    char region[33];
    char service[33];
    char amz_date[17];       /* YYYYMMDDTHHMMSSZ (X-Amz-Date, or from Date) */
    time_t request_time;     /* amz_date as epoch seconds */
    char signature[65];      /* lower-case hex */
    bool presigned;          /* query-string form */
    long expires;            /* X-Amz-Expires for presigned, else 0 */
    const char *session_token;   /* X-Amz-Security-Token (header or query), borrowed, may be NULL */
    size_t session_token_len;
    bool session_token_encoded;  /* true when taken from the query: still
                                    percent-encoded, see auth_sigv4_session_token() */
    /* SignedHeaders, lower-case, as listed (borrowed or copied inside) */
    char signed_headers[1024];
} auth_sigv4_info;

typedef struct auth_sigv4_opts {
    time_t now;              /* injectable clock: the server's "now" */
    long max_skew_seconds;   /* default 900 */
    bool normalize_path;     /* true for every service except s3 */
    bool sign_body_unsigned_ok; /* accept x-amz-content-sha256: UNSIGNED-PAYLOAD (s3) */
} auth_sigv4_opts;

/* Parse and check the request's SigV4 credentials (no secret needed).
 * GT_E_MISSING_AUTH when the request carries no signature at all;
 * GT_E_INCOMPLETE_SIGNATURE for malformed forms; GT_E_INVALID_SIGNATURE
 * (as AWS) for a bad credential scope or host/x-amz-date not signed;
 * GT_E_SIGNATURE_EXPIRED
 * when outside the skew window (message as AWS: "Signature expired: ... is
 * now earlier than ... (... - 15 min.)" / "Signature not yet current: ...").
 */
gt_err auth_sigv4_parse(const http_req *req, const auth_sigv4_opts *opts,
                        auth_sigv4_info *out, char *msg, size_t msgcap);

/* Verify the signature of a parsed request against `secret`.
 * GT_E_INVALID_SIGNATURE on mismatch (AWS's message, including the
 * canonical request and string-to-sign is NOT echoed). */
gt_err auth_sigv4_verify(const http_req *req, const auth_sigv4_opts *opts,
                         const auth_sigv4_info *info, const char *secret,
                         char *msg, size_t msgcap);

/* Copy the session token (decoded when it came from the query string) into
 * out (NUL-terminated). Returns its length, 0 when there is none, or
 * (size_t)-1 when it does not fit in outcap. */
size_t auth_sigv4_session_token(const auth_sigv4_info *info, char *out, size_t outcap);

/* For tests and tools: the canonical request and string to sign the
 * verifier builds (malloc'd, caller frees). NULL on allocation failure or
 * when the request exceeds the verifier's size caps. */
char *auth_sigv4_canonical_request(const http_req *req, const auth_sigv4_opts *opts,
                                   const auth_sigv4_info *info);
char *auth_sigv4_string_to_sign(const http_req *req, const auth_sigv4_opts *opts,
                                const auth_sigv4_info *info);

#endif
