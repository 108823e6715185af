/*
 * s3_target.c: the choice between the built-in S3 store and an external
 * S3-compatible server, per bucket.
 *
 * What: --external-s3-buckets names the trail buckets that live on the
 * external server ("*": all of them); every other bucket is the built-in
 * store's. Trail delivery calls s3_target_put for every log file and
 * digest, and the trail API asks s3_target_is_external and
 * s3_target_check_bucket, so the choice is made here only.
 *
 * Invariants: the selection is fixed at start (the list is parsed once and
 * never changes), so every thread sees the same answer without locks; a
 * failed put leaves nothing half-written that a caller must clean up (the
 * built-in store renames a complete file; S3 makes an object visible only
 * when its PUT succeeded), so callers may simply retry the same key.
 */
#include "s3/s3_target.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/gtutil.h"

#define ST_MAX_BUCKETS 128

struct s3_target {
    s3_store *builtin;
    s3_remote *remote;
    bool all;
    char *names[ST_MAX_BUCKETS];
    int n;
};

static s3_target *st_default;

s3_target *s3_target_new(s3_store *builtin, s3_remote *remote, const char *buckets, char *err, size_t errcap)
{
    s3_target *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    t->builtin = builtin;
    t->remote = remote;
    const char *p = buckets ? buckets : "";
    while (*p) {
        size_t skip = strspn(p, ", \t");
        p += skip;
        size_t n = strcspn(p, ", \t");
        if (n == 0)
            break;
        if (n == 1 && p[0] == '*') {
            t->all = true;
        } else if (n < 3 || n > 63 || t->n >= ST_MAX_BUCKETS) {
            snprintf(err, errcap, "external-s3-buckets: '%.*s' is not a bucket name (3-63 characters, at most %d names)",
                     (int)(n > 80 ? 80 : n), p, ST_MAX_BUCKETS);
            s3_target_free(t);
            return NULL;
        } else {
            t->names[t->n] = strndup(p, n);
            if (!t->names[t->n]) {
                snprintf(err, errcap, "out of memory");
                s3_target_free(t);
                return NULL;
            }
            t->n++;
        }
        p += n;
    }
    if ((t->all || t->n) && !remote) {
        snprintf(err, errcap, "external-s3-buckets is set but no external S3 endpoint is configured");
        t->remote = NULL;
        s3_target_free(t);
        return NULL;
    }
    return t;
}

void s3_target_free(s3_target *t)
{
    if (!t)
        return;
    for (int i = 0; i < t->n; i++)
        free(t->names[i]);
    s3_remote_free(t->remote);
    free(t);
}

void s3_target_set_default(s3_target *t)
{
    st_default = t;
}

s3_target *s3_target_default(void)
{
    return st_default;
}

bool s3_target_is_external(const s3_target *t, const char *bucket)
{
    if (!t || !t->remote || !bucket)
        return false;
    if (t->all)
        return true;
    for (int i = 0; i < t->n; i++)
        if (strcmp(t->names[i], bucket) == 0)
            return true;
    return false;
}

const char *s3_target_endpoint(const s3_target *t)
{
    return t && t->remote ? s3_remote_endpoint(t->remote) : NULL;
}

gt_err s3_target_put(s3_target *t, const char *bucket, const char *key, const void *data, size_t len,
                     const char *content_type, const char *meta_json, char *msg, size_t msgcap)
{
    if (s3_target_is_external(t, bucket)) {
        s3_remote_res res;
        if (s3_remote_put(t->remote, bucket, key, data, len, content_type, meta_json, &res))
            return GT_OK;
        if (res.http)   /* an S3 answer: its code, as AWS shows it */
            snprintf(msg, msgcap, "%s", res.code);
        else
            snprintf(msg, msgcap, "%s: %s", res.code, res.msg);
        return GT_E_UNAVAILABLE;
    }
    s3_store *s = t ? t->builtin : NULL;
    gt_err e = s ? s3_object_put(s, bucket, key, data, len, content_type, meta_json, NULL) : GT_E_S3_NO_SUCH_BUCKET;
    if (e != GT_OK)
        snprintf(msg, msgcap, "%s", e == GT_E_S3_NO_SUCH_BUCKET ? "NoSuchBucket" : gt_err_code(e));
    return e;
}

int s3_target_check_bucket(s3_target *t, const char *bucket, char *msg, size_t msgcap)
{
    if (!t || !t->remote) {
        snprintf(msg, msgcap, "no external S3 endpoint");
        return S3_TARGET_BUCKET_UNREACHABLE;
    }
    s3_remote_res res;
    if (s3_remote_head_bucket(t->remote, bucket, &res))
        return S3_TARGET_BUCKET_OK;
    if (res.http == 404) {
        snprintf(msg, msgcap, "%s", res.code);
        return S3_TARGET_BUCKET_MISSING;
    }
    if (res.http == 403) {
        snprintf(msg, msgcap, "%s", res.code);
        return S3_TARGET_BUCKET_FORBIDDEN;
    }
    snprintf(msg, msgcap, "%s: %s", res.code, res.msg);
    return S3_TARGET_BUCKET_UNREACHABLE;
}
