/* s3_store.h: the built-in S3 bucket store, as other modules use it.
 *
 * The S3 HTTP service (s3/s3.c) and CloudTrail delivery (cloudtrail/)
 * both go through this interface. Buckets and object metadata are store
 * documents; object bodies are files under DATA_DIR/s3/ written to a
 * temporary name, fsync'd and renamed, so a half-written object is never
 * visible. Bucket names are global (one namespace per server, as in AWS);
 * each bucket has an owner account and a home region.
 */
#ifndef GT_S3_STORE_H
#define GT_S3_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/errors.h"
#include "store/store.h"

typedef struct s3_store s3_store;

typedef struct s3_object_info {
    char etag[40];           /* lower-case hex MD5, without quotes */
    int64_t size;
    int64_t last_modified_ms;
    char content_type[128];
} s3_object_info;

/* Open the object directory under data_dir. NULL on failure. */
s3_store *s3_store_open(store *st, const char *data_dir, char *err, size_t errcap);
void s3_store_close(s3_store *s);

/* Does the bucket exist? Owner account and region out when non-NULL.
 * Runs its own read (not inside a job). */
bool s3_bucket_exists(s3_store *s, const char *bucket, char owner[16], char region[32]);

/* The bucket policy (JSON text, malloc'd) or NULL when none. */
char *s3_bucket_policy(s3_store *s, const char *bucket);

/* Store an object durably (body file fsync'd and renamed, then metadata
 * committed). Overwrites. `meta` is a JSON object of x-amz-meta-* values
 * (may be NULL). GT_E_UNAVAILABLE on I/O failure; then no new object is
 * visible. */
gt_err s3_object_put(s3_store *s, const char *bucket, const char *key, const void *data,
                     size_t len, const char *content_type, const char *meta_json,
                     s3_object_info *info_out);

/* Read a whole object (malloc'd into *data). GT_E_S3_NO_SUCH_KEY when absent. */
gt_err s3_object_get(s3_store *s, const char *bucket, const char *key, void **data, size_t *len,
                     s3_object_info *info_out);

/* Delete an object (absent is not an error). */
gt_err s3_object_delete(s3_store *s, const char *bucket, const char *key);

#endif
