/* s3_chunk.h: S3 request payloads that are not plain bytes.
 *
 *  - aws-chunked bodies (Content-Encoding: aws-chunked) as the aws CLI
 *    and the SDKs send them with x-amz-content-sha256 set to
 *    STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER] (every chunk signed,
 *    chained from the request's seed signature) or
 *    STREAMING-UNSIGNED-PAYLOAD-TRAILER (plain chunks, trailing checksum);
 *  - the flexible checksums (x-amz-checksum-crc32|crc32c|crc64nvme|sha1|
 *    sha256, base64) and Content-MD5 that guard a payload.
 * Pure functions over bytes: unit-tested and fuzzed (fuzz/fuzz_s3_chunk.c).
 */
#ifndef GT_S3_CHUNK_H
#define GT_S3_CHUNK_H

#include <stdbool.h>
#include <stddef.h>

#include "api/errors.h"

#define S3_CHUNK_MAX_TRAILERS 8
#define S3_CHUNK_MAX_LINE 4096   /* a chunk header or trailer line */

/* What verifying chunk signatures needs (all from the request's SigV4). */
typedef struct s3_chunk_sig {
    const unsigned char *signing_key;   /* 32-byte derived SigV4 key */
    const char *amz_date;               /* "20130524T000000Z" */
    const char *scope;                  /* "20130524/us-east-1/s3/aws4_request" */
    const char *seed;                   /* the request's signature, hex */
} s3_chunk_sig;

typedef struct s3_chunk_trailer {
    char name[64];       /* lower-cased */
    char value[256];
} s3_chunk_trailer;

typedef struct s3_chunk_out {
    unsigned char *data;   /* decoded payload, malloc'd (never NULL on GT_OK) */
    size_t len;
    int n_trailers;
    s3_chunk_trailer trailers[S3_CHUNK_MAX_TRAILERS];
} s3_chunk_out;

/* Decode an aws-chunked body in[0..n).
 *   signed_chunks: each chunk header carries ";chunk-signature=<64 hex>"
 *   (required). When sig is non-NULL every chunk signature (and a
 *   x-amz-trailer-signature, if sent) is verified against the chain that
 *   starts at sig->seed; with sig NULL signatures are only parsed.
 *   trailer: trailing header lines follow the final 0-size chunk.
 * Errors: GT_E_S3_INCOMPLETE_BODY (truncated / malformed framing, or
 * bytes after the end), GT_E_S3_SIGNATURE_MISMATCH (a chunk or trailer
 * signature is wrong), GT_E_NOMEM. msg gets a message (may be empty). On
 * error out holds nothing to free. */
gt_err s3_chunk_decode(const unsigned char *in, size_t n, bool signed_chunks, bool trailer,
                       const s3_chunk_sig *sig, s3_chunk_out *out, char *msg, size_t msgcap);
void s3_chunk_out_free(s3_chunk_out *o);

/* The base64 checksum of data for algorithm `algo` (lower-case: "crc32",
 * "crc32c", "crc64nvme", "sha1", "sha256", "md5") into out (NUL-
 * terminated). false for an unknown algorithm. */
bool s3_checksum_b64(const char *algo, const unsigned char *data, size_t len, char out[64]);

/* CRC-32C (Castagnoli) and CRC-64/NVME of data (init/xorout all ones). */
unsigned int s3_crc32c(const unsigned char *data, size_t len);
unsigned long long s3_crc64nvme(const unsigned char *data, size_t len);

/* SigV4 signing key: HMAC chain over "AWS4"+secret, date, region,
 * service, "aws4_request". false on failure (secret too long, crypto). */
bool s3_signing_key(const char *secret, const char *date8, const char *region,
                    const char *service, unsigned char key[32]);

#endif
