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
#include <jansson.h>

#include "store/store.h"

typedef struct s3_store s3_store;

/* Largest S3 PUT body the HTTP layer accepts (the object, or its
 * aws-chunked encoding), independent of --max-body. Bodies are held in
 * memory while a request is handled. */
#define GT_S3_MAX_PUT_BODY ((size_t)64 * 1024 * 1024)

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

/* ---- additions (two-phase writes, used by the S3 service; usable by
 * anyone who must commit object metadata inside their own store job) ---- */

#define S3_FNAME_MAX 96          /* body file name: <sha256(key)>.<random> */

/* The process-wide store (set by main after s3_store_open), or NULL. */
void s3_store_set_default(s3_store *s);
s3_store *s3_store_default(void);

/* The document store behind s (borrowed). */
store *s3_store_db(s3_store *s);

/* Phase 1, outside any store job: write data durably to a new body file
 * for (bucket, key) (temporary name, fsync, rename, directory fsync).
 * fname gets the file's name, etag the lower-case hex MD5. Nothing is
 * visible until phase 2 commits metadata naming fname. GT_E_UNAVAILABLE on
 * I/O failure (no file is left behind). */
gt_err s3_body_write(s3_store *s, const char *bucket, const char *key, const void *data,
                     size_t len, char fname[S3_FNAME_MAX], char etag[33]);
/* Phase 1 for CompleteMultipartUpload: concatenate existing body files
 * parts[0..n) of bucket into a new durable body file (same guarantees as
 * s3_body_write). *size_out gets its length. */
gt_err s3_body_concat(s3_store *s, const char *bucket, const char *key, const char *const *parts,
                      size_t n_parts, char fname[S3_FNAME_MAX], int64_t *size_out);
/* Phase 1 for CopyObject / UploadPartCopy: copy bytes [off, off+len) (len
 * < 0: to the end) of body file src_fname of src_bucket into a new durable
 * body file for (bucket, key); etag gets its MD5 (hex). */
gt_err s3_body_copy(s3_store *s, const char *src_bucket, const char *src_fname, int64_t off, int64_t len,
                    const char *bucket, const char *key, char fname[S3_FNAME_MAX], int64_t *size_out,
                    char etag[33]);
/* Remove a body file (after its metadata was replaced/deleted and that is
 * committed, or when phase 2 failed). Missing files are ignored. */
void s3_body_discard(s3_store *s, const char *bucket, const char *fname);
/* Open a body file read-only; -1 on failure. */
int s3_body_open(s3_store *s, const char *bucket, const char *fname);

/* Phase 2, inside a store job: the bucket's document (new reference) or
 * NULL when the bucket does not exist. Members: Name, Owner, Region,
 * CreationDate (ms), Policy (optional string). */
json_t *s3_bucket_doc(store_txn *t, const char *bucket);
/* Phase 2, inside a store job: make (bucket, key) name body file fname.
 * info gives etag, size, last_modified_ms, content_type; meta_json may be
 * NULL. old_fname gets the replaced body file ("" if none): discard it
 * after the job committed. GT_E_S3_NO_SUCH_BUCKET when the bucket is
 * absent; GT_E_UNAVAILABLE on store errors. */
gt_err s3_object_commit(store_txn *t, const char *bucket, const char *key, const char *fname,
                        const s3_object_info *info, const char *meta_json,
                        char old_fname[S3_FNAME_MAX]);

#endif
