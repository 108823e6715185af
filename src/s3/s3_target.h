/* s3_target.h: where a trail's objects go: the built-in S3 store, or the
 * external S3-compatible server (s3_remote.h) for the buckets configured
 * with --external-s3-buckets. Trail delivery (ct_deliver.c) writes every
 * log file and digest through s3_target_put, and CreateTrail/UpdateTrail
 * ask s3_target_is_external / s3_target_check_bucket, so neither knows
 * which store is behind a bucket. */
#ifndef GT_S3_TARGET_H
#define GT_S3_TARGET_H

#include <stdbool.h>
#include <stddef.h>

#include "api/errors.h"
#include "s3/s3_remote.h"
#include "s3/s3_store.h"

typedef struct s3_target s3_target;

/* A selector over the built-in store (may be NULL: then puts to built-in
 * buckets fail with NoSuchBucket) and an external client (may be NULL:
 * nothing is external). buckets: "" none, "*" every bucket, or names
 * separated by commas or spaces. Takes ownership of remote. NULL with a
 * message when the list is malformed (or names buckets without a remote). */
s3_target *s3_target_new(s3_store *builtin, s3_remote *remote, const char *buckets, char *err, size_t errcap);
/* Frees the external client too. NULL is a no-op. */
void s3_target_free(s3_target *t);

/* The process-wide selector (set by main), or NULL. */
void s3_target_set_default(s3_target *t);
s3_target *s3_target_default(void);

/* Does `bucket` live on the external server? False when t is NULL. */
bool s3_target_is_external(const s3_target *t, const char *bucket);
/* The external endpoint URL, or NULL when none. */
const char *s3_target_endpoint(const s3_target *t);

/* Write an object to the bucket's store. meta_json: a JSON object of
 * x-amz-meta-* values, or NULL. On failure msg gets what GetTrailStatus
 * shows: the S3 error code (NoSuchBucket, AccessDenied, ...), or for an
 * unreachable external server "<Code>: <endpoint>: <detail>". */
gt_err s3_target_put(s3_target *t, const char *bucket, const char *key, const void *data, size_t len,
                     const char *content_type, const char *meta_json, char *msg, size_t msgcap);

enum {
    S3_TARGET_BUCKET_OK = 0,
    S3_TARGET_BUCKET_MISSING,       /* 404 */
    S3_TARGET_BUCKET_FORBIDDEN,     /* 403: our keys may not use it */
    S3_TARGET_BUCKET_UNREACHABLE,   /* no answer, or another error */
};
/* HEAD the external bucket (network: never call inside a store job).
 * Returns S3_TARGET_BUCKET_*; msg gets a description on failure. */
int s3_target_check_bucket(s3_target *t, const char *bucket, char *msg, size_t msgcap);

#endif
