/*
 * s3.c: the built-in S3 service (signing name "s3", rest-xml, path-style
 * URLs http://HOST/bucket/key).
 *
 * What: buckets (Create/Head/Delete/List, GetBucketLocation, bucket
 * policies), objects (Put/Get/Head/Delete/Copy, DeleteObjects, ListObjects
 * v1 and v2, multipart Create/UploadPart/UploadPartCopy/Complete/Abort/
 * ListParts/ListMultipartUploads) with user
 * metadata, ETag, Range reads, If-Match/If-None-Match, aws-chunked uploads
 * (chunk signatures verified) and flexible checksums (CRC32, CRC32C,
 * CRC64NVME, SHA1, SHA256, Content-MD5). Not served (501 NotImplemented):
 * versioning, ACLs, tagging (GetObjectTagging answers an empty set) and
 * the other bucket sub-resources. Storage is s3_store
 * (documents + body files).
 *
 * How it plugs in (api/service.h): the generic rest-json decoder does not
 * fit S3 (XML or raw bodies, sub-resources chosen by bare query words), so
 * s3_decode routes by method + path + query itself and leaves headers and
 * bodies to the handlers (they see c->req). Two things happen outside the
 * store's writer thread on purpose:
 *   - PutObject: decode decodes/verifies the payload and writes the body
 *     file durably (s3_body_write) on the HTTP worker; the handler only
 *     commits the metadata. encode_ok unlinks the replaced body after the
 *     commit; encode_error unlinks the new one when the call failed.
 *   - GetObject: the handler opens the body file (so a concurrent
 *     overwrite cannot pull it away) and encode_ok reads the bytes.
 *   - CompleteMultipartUpload and CopyObject: decode builds the new body
 *     file from existing ones (s3_body_concat / s3_body_copy).
 * Handler outputs use private members ("_xml", "_status", "_headers",
 * "_fd", ...) that encode_ok turns into the HTTP response; S3 calls are
 * never rendered as JSON.
 *
 * CloudTrail: only bucket-level management calls are recorded (as AWS
 * does without data events): CreateBucket, DeleteBucket, HeadBucket,
 * ListBuckets, GetBucketLocation, Get/Put/DeleteBucketPolicy.
 *
 * Invariants: an object is visible only after its body is durable; a
 * failed or rolled-back PutObject leaves no body file behind; every text
 * in a response is XML-escaped (s3_xml.c); the bucket owner's account
 * may use its bucket unless the bucket policy explicitly denies it; other
 * accounts only as the bucket policy allows (bucket_access; S3 actions,
 * not operation names; the policy calls and DeleteBucket stay the
 * owner's).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/evp.h>

#include "api/service.h"
#include "auth/identity.h"
#include "auth/policy.h"
#include "auth/sigv4.h"
#include "s3/s3_chunk.h"
#include "s3/s3_store.h"
#include "s3/s3_xml.h"
#include "util/gtutil.h"

#define S3_MAX_KEY_BYTES 1024
#define S3_MAX_QUERY_PARAMS 64
#define S3_MAX_LIST_KEYS 1000
#define S3_MAX_META_BYTES 2048
#define S3_MAX_DELETE_KEYS 1000

/* ---------------------------------------------------------------- small helpers */

static bool part_number(const char *s, int64_t *n);
static gt_err decode_complete(const http_req *req, const char *b, const char *k, json_t *q, json_t *in,
                              char *msg, size_t msgcap);
static gt_err drop_bucket_uploads(store_txn *t, const char *b, json_t *discard);
static gt_err decode_copy(const http_req *req, const char *b, const char *k, json_t *in, bool part,
                          char *msg, size_t msgcap);

static const char *in_str(const gt_call *c, const char *name)
{
    return json_string_value(json_object_get(c->input, name));
}

static const char *q_get(const gt_call *c, const char *name)
{
    return json_string_value(json_object_get(json_object_get(c->input, "_q"), name));
}

/* Header value copied (NUL-terminated) into out; false when absent or too long. */
static bool hdr(const http_req *r, const char *name, char *out, size_t cap)
{
    size_t n = 0;
    const char *v = http_req_header(r, name, &n);
    if (!v || n >= cap)
        return false;
    memcpy(out, v, n);
    out[n] = '\0';
    return true;
}

static void owner_id(const char *account, char out[65])
{
    char in[64];
    unsigned char d[32];
    unsigned int dl = 0;
    snprintf(in, sizeof in, "greentrail-canonical-user:%s", account);
    if (!EVP_Digest(in, strlen(in), d, &dl, EVP_sha256(), NULL))
        memset(d, 0, sizeof d);
    gt_hex(d, 32, out);
}

/* "Wed, 12 Oct 2009 17:50:00 GMT" */
static void http_date(int64_t ms, char out[40])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(out, 40, "%a, %d %b %Y %H:%M:%S GMT", &tm))
        gt_strlcpy(out, "Thu, 01 Jan 1970 00:00:00 GMT", 40);
}

static void add_bucket_resource(gt_call *c, const char *bucket)
{
    char arn[128];
    snprintf(arn, sizeof arn, "arn:aws:s3:::%s", bucket);
    gt_call_add_resource(c, "AWS::S3::Bucket", arn);
}

static void set_detail(gt_call *c, const char *name, const char *value)
{
    if (!c->err_details)
        c->err_details = json_object();
    json_object_set_new(c->err_details, name, json_string(value));
}

/* ---------------------------------------------------------------- decode */

static const char *const bucket_subresources[][3] = {
    /* query word, GET op, PUT op (DELETE op derived where it exists) */
    {"acl", "GetBucketAcl", "PutBucketAcl"},
    {"cors", "GetBucketCors", "PutBucketCors"},
    {"encryption", "GetBucketEncryption", "PutBucketEncryption"},
    {"lifecycle", "GetBucketLifecycleConfiguration", "PutBucketLifecycleConfiguration"},
    {"logging", "GetBucketLogging", "PutBucketLogging"},
    {"notification", "GetBucketNotificationConfiguration", "PutBucketNotificationConfiguration"},
    {"object-lock", "GetObjectLockConfiguration", "PutObjectLockConfiguration"},
    {"ownershipControls", "GetBucketOwnershipControls", "PutBucketOwnershipControls"},
    {"policyStatus", "GetBucketPolicyStatus", NULL},
    {"publicAccessBlock", "GetPublicAccessBlock", "PutPublicAccessBlock"},
    {"replication", "GetBucketReplication", "PutBucketReplication"},
    {"requestPayment", "GetBucketRequestPayment", "PutBucketRequestPayment"},
    {"tagging", "GetBucketTagging", "PutBucketTagging"},
    {"versioning", "GetBucketVersioning", "PutBucketVersioning"},
    {"versions", "ListObjectVersions", NULL},
    {"website", "GetBucketWebsite", "PutBucketWebsite"},
    {"accelerate", "GetBucketAccelerateConfiguration", "PutBucketAccelerateConfiguration"},
};

/* The operation for method + (bucket?, key?) + query words. NULL: none. */
static const char *route(const char *m, bool has_bucket, bool has_key, const json_t *q)
{
#define HAS(w) (json_object_get(q, (w)) != NULL)
    bool get = strcmp(m, "GET") == 0, put = strcmp(m, "PUT") == 0, del = strcmp(m, "DELETE") == 0,
         head = strcmp(m, "HEAD") == 0, post = strcmp(m, "POST") == 0;
    if (!has_bucket)
        return get ? "ListBuckets" : NULL;
    if (!has_key) {
        if (HAS("policy"))
            return get ? "GetBucketPolicy" : put ? "PutBucketPolicy" : del ? "DeleteBucketPolicy" : NULL;
        if (HAS("location"))
            return get ? "GetBucketLocation" : NULL;
        if (HAS("uploads"))
            return get ? "ListMultipartUploads" : NULL;
        if (HAS("delete"))
            return post ? "DeleteObjects" : NULL;
        for (size_t i = 0; i < sizeof bucket_subresources / sizeof bucket_subresources[0]; i++) {
            if (!HAS(bucket_subresources[i][0]))
                continue;
            if (get)
                return bucket_subresources[i][1];
            if (put)
                return bucket_subresources[i][2];
            if (del && strcmp(bucket_subresources[i][0], "cors") == 0)
                return "DeleteBucketCors";
            if (del && strcmp(bucket_subresources[i][0], "tagging") == 0)
                return "DeleteBucketTagging";
            return NULL;
        }
        if (get) {
            const char *lt = json_string_value(json_object_get(q, "list-type"));
            return lt && strcmp(lt, "2") == 0 ? "ListObjectsV2" : "ListObjects";
        }
        return put ? "CreateBucket" : del ? "DeleteBucket" : head ? "HeadBucket" : NULL;
    }
    if (HAS("uploads"))
        return post ? "CreateMultipartUpload" : NULL;
    if (HAS("uploadId")) {
        if (put)
            return HAS("partNumber") ? "UploadPart" : NULL;
        return post ? "CompleteMultipartUpload" : del ? "AbortMultipartUpload" : get ? "ListParts" : NULL;
    }
    if (HAS("acl"))
        return get ? "GetObjectAcl" : put ? "PutObjectAcl" : NULL;
    if (HAS("tagging"))
        return get ? "GetObjectTagging" : put ? "PutObjectTagging" : del ? "DeleteObjectTagging" : NULL;
    if (HAS("attributes"))
        return get ? "GetObjectAttributes" : NULL;
    if (get)
        return "GetObject";
    if (put)
        return "PutObject";
    return del ? "DeleteObject" : head ? "HeadObject" : NULL;
#undef HAS
}

static gt_err parse_query(const http_req *req, json_t *q, char *msg, size_t msgcap)
{
    const char *s = req->query;
    size_t n = req->query_len, i = 0;
    int count = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && s[j] != '&')
            j++;
        if (j > i) {
            if (++count > S3_MAX_QUERY_PARAMS) {
                snprintf(msg, msgcap, "Too many query parameters.");
                return GT_E_S3_INVALID_ARGUMENT;
            }
            size_t eq = i;
            while (eq < j && s[eq] != '=')
                eq++;
            char *name = s3_pct_decode(s + i, eq - i, true);
            char *val = eq < j ? s3_pct_decode(s + eq + 1, j - eq - 1, true) : strdup("");
            if (!name || !val) {
                free(name);
                free(val);
                snprintf(msg, msgcap, "A query parameter is not validly percent-encoded.");
                return GT_E_S3_INVALID_ARGUMENT;
            }
            json_object_set_new(q, name, json_string(val));
            free(name);
            free(val);
        }
        i = j + 1;
    }
    return GT_OK;
}

/* Base64 (standard alphabet, padded) of exactly `want` bytes into out. */
static bool b64_decode_exact(const char *s, size_t n, unsigned char *out, size_t want)
{
    unsigned char buf[96];
    if (n == 0 || n % 4 != 0 || n > 128)
        return false;
    int r = EVP_DecodeBlock(buf, (const unsigned char *)s, (int)n);
    if (r < 0)
        return false;
    size_t pad = (s[n - 1] == '=') + (n > 1 && s[n - 2] == '=');
    if ((size_t)r - pad != want)
        return false;
    memcpy(out, buf, want);
    return true;
}

static const char *const checksum_algos[] = {"crc32", "crc32c", "crc64nvme", "sha1", "sha256"};

/* Check a claimed base64 checksum of algo against data. */
static gt_err check_sum(const char *algo, const char *claimed, const unsigned char *data, size_t len,
                        char *msg, size_t msgcap)
{
    char got[64];
    if (!s3_checksum_b64(algo, data, len, got))
        return GT_OK;
    if (strcmp(got, claimed) == 0)
        return GT_OK;
    char up[16];
    size_t i = 0;
    for (; algo[i] && i < sizeof up - 1; i++)
        up[i] = (char)(algo[i] >= 'a' && algo[i] <= 'z' ? algo[i] - 32 : algo[i]);
    up[i] = '\0';
    snprintf(msg, msgcap, "The %s you specified did not match the calculated checksum.", up);
    return GT_E_S3_BAD_DIGEST;
}

/* The verified, decoded payload of a PutObject/UploadPart request.
 * *data points into req->body or into dec->data. */
static gt_err payload(const http_req *req, s3_chunk_out *dec, const unsigned char **data, size_t *len,
                      char *msg, size_t msgcap)
{
    memset(dec, 0, sizeof *dec);
    char sha[80] = "", enc[256] = "";
    hdr(req, "x-amz-content-sha256", sha, sizeof sha);
    hdr(req, "Content-Encoding", enc, sizeof enc);
    bool stream = strncmp(sha, "STREAMING-", 10) == 0;
    *data = req->body;
    *len = req->body_len;
    if (stream) {
        bool signed_chunks = strncmp(sha, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", 34) == 0;
        bool trailer = strlen(sha) > 8 && strcmp(sha + strlen(sha) - 8, "-TRAILER") == 0;
        s3_chunk_sig sig;
        unsigned char key[32];
        char scope[128];
        auth_sigv4_info info;
        const s3_chunk_sig *sp = NULL;
        if (signed_chunks) {
            /* The dispatcher verified the seed signature; re-derive the
             * signing key to verify the chain of chunk signatures. */
            auth_sigv4_opts ao = {.max_skew_seconds = 7L * 86400L, .normalize_path = false,
                                  .sign_body_unsigned_ok = true};
            auth_principal who;
            s3_store *s = s3_store_default();
            if (!s || auth_sigv4_parse(req, &ao, &info, NULL, 0) != GT_OK ||
                auth_lookup_key(s3_store_db(s), info.access_key, &who) != GT_OK ||
                !s3_signing_key(who.secret, info.scope_date, info.region, info.service, key)) {
                snprintf(msg, msgcap, "The chunk signatures could not be verified.");
                return GT_E_S3_SIGNATURE_MISMATCH;
            }
            snprintf(scope, sizeof scope, "%s/%s/%s/aws4_request", info.scope_date, info.region, info.service);
            sig = (s3_chunk_sig){.signing_key = key, .amz_date = info.amz_date, .scope = scope,
                                 .seed = info.signature};
            sp = &sig;
        }
        gt_err e = s3_chunk_decode(req->body, req->body_len, signed_chunks, trailer, sp, dec, msg, msgcap);
        OPENSSL_cleanse(key, sizeof key);
        if (e != GT_OK)
            return e;
        *data = dec->data;
        *len = dec->len;
        char dl[32];
        int64_t want = 0;
        if (hdr(req, "x-amz-decoded-content-length", dl, sizeof dl)) {
            if (!gt_parse_i64(dl, strlen(dl), &want) || want < 0 || (size_t)want != dec->len) {
                snprintf(msg, msgcap, "The decoded body length does not match x-amz-decoded-content-length.");
                s3_chunk_out_free(dec);
                return GT_E_S3_INCOMPLETE_BODY;
            }
        }
    }
    char md5[64];
    if (hdr(req, "Content-MD5", md5, sizeof md5)) {
        unsigned char want[16];
        if (!b64_decode_exact(md5, strlen(md5), want, 16)) {
            s3_chunk_out_free(dec);
            return GT_E_S3_INVALID_DIGEST;
        }
        unsigned char got[16];
        unsigned int gl = 0;
        if (!EVP_Digest(*data ? (const void *)*data : "", *len, got, &gl, EVP_md5(), NULL) ||
            memcmp(got, want, 16) != 0) {
            s3_chunk_out_free(dec);
            return GT_E_S3_BAD_DIGEST;
        }
    }
    for (size_t i = 0; i < sizeof checksum_algos / sizeof checksum_algos[0]; i++) {
        char name[40], claimed[256];
        snprintf(name, sizeof name, "x-amz-checksum-%s", checksum_algos[i]);
        bool have = hdr(req, name, claimed, sizeof claimed);
        for (int t = 0; !have && t < dec->n_trailers; t++)
            if (strcmp(dec->trailers[t].name, name) == 0) {
                gt_strlcpy(claimed, dec->trailers[t].value, sizeof claimed);
                have = true;
            }
        if (!have)
            continue;
        gt_err e = check_sum(checksum_algos[i], claimed, *data, *len, msg, msgcap);
        if (e != GT_OK) {
            s3_chunk_out_free(dec);
            return e;
        }
    }
    return GT_OK;
}

static gt_err s3_decode(const model_service *svc, const http_req *req, const model_op **op_out,
                        json_t **input_out, char *msg, size_t msgcap)
{
    *op_out = NULL;
    *input_out = NULL;
    const char *p = req->path;
    size_t n = req->path_len;
    if (n == 0 || p[0] != '/') {
        snprintf(msg, msgcap, "The request path must start with '/'.");
        return GT_E_S3_INVALID_REQUEST;
    }
    p++, n--;
    size_t bl = 0;
    while (bl < n && p[bl] != '/')
        bl++;
    char *bucket = bl ? s3_pct_decode(p, bl, false) : NULL;
    char *key = bl < n && n - bl > 1 ? s3_pct_decode(p + bl + 1, n - bl - 1, false) : NULL;
    json_t *in = json_object(), *q = json_object();
    gt_err e = GT_OK;
    if (!in || !q) {
        e = GT_E_NOMEM;
        goto out;
    }
    if ((bl && !bucket) || (bl < n && n - bl > 1 && !key)) {
        snprintf(msg, msgcap, "The request path is not validly percent-encoded.");
        e = GT_E_S3_INVALID_ARGUMENT;
        goto out;
    }
    if ((e = parse_query(req, q, msg, msgcap)) != GT_OK)
        goto out;
    const char *name = route(req->method, bucket != NULL, key != NULL, q);
    size_t srcl = 0;
    if (name && http_req_header(req, "x-amz-copy-source", &srcl)) {
        if (strcmp(name, "PutObject") == 0)
            name = "CopyObject";
        else if (strcmp(name, "UploadPart") == 0)
            name = "UploadPartCopy";
    }
    const model_op *op = name ? model_find_op(svc, name) : NULL;
    if (!op) {
        snprintf(msg, msgcap, "The specified method is not allowed against this resource.");
        e = GT_E_S3_METHOD_NOT_ALLOWED;
        goto out;
    }
    *op_out = op;
    if (bucket)
        json_object_set_new(in, "Bucket", json_string(bucket));
    if (key)
        json_object_set_new(in, "Key", json_string(key));
    json_object_set(in, "_q", q);
    if (key && strlen(key) > S3_MAX_KEY_BYTES) {
        e = GT_E_S3_KEY_TOO_LONG;
        goto out;
    }
    if (strcmp(name, "UploadPart") == 0) {
        int64_t pn = 0;
        if (!part_number(json_string_value(json_object_get(q, "partNumber")), &pn)) {
            snprintf(msg, msgcap, "Part number must be an integer between 1 and 10000, inclusive");
            e = GT_E_S3_INVALID_ARGUMENT;
            goto out;
        }
    }
    if (strcmp(name, "CompleteMultipartUpload") == 0) {
        e = decode_complete(req, bucket, key, q, in, msg, msgcap);
        goto out;
    }
    if (strcmp(name, "CopyObject") == 0 || strcmp(name, "UploadPartCopy") == 0) {
        bool part = strcmp(name, "UploadPartCopy") == 0;
        int64_t pn = 0;
        if (part && !part_number(json_string_value(json_object_get(q, "partNumber")), &pn)) {
            snprintf(msg, msgcap, "Part number must be an integer between 1 and 10000, inclusive");
            e = GT_E_S3_INVALID_ARGUMENT;
            goto out;
        }
        e = decode_copy(req, bucket, key, in, part, msg, msgcap);
        goto out;
    }
    if (strcmp(name, "PutObject") == 0 || strcmp(name, "UploadPart") == 0) {
        s3_chunk_out dec;
        const unsigned char *data;
        size_t len;
        if ((e = payload(req, &dec, &data, &len, msg, msgcap)) != GT_OK)
            goto out;
        s3_store *s = s3_store_default();
        char fname[S3_FNAME_MAX], etag[33];
        e = s ? s3_body_write(s, bucket, key, data, len, fname, etag) : GT_E_UNAVAILABLE;
        s3_chunk_out_free(&dec);
        if (e != GT_OK)
            goto out;
        json_object_set_new(in, "_File", json_string(fname));
        json_object_set_new(in, "_ETag", json_string(etag));
        json_object_set_new(in, "_Size", json_integer((json_int_t)len));
    }
out:
    free(bucket);
    free(key);
    json_decref(q);
    *input_out = in;
    return e;
}

/* ---------------------------------------------------------------- bucket helpers */

/* The IAM action S3 authorizes an operation as: bucket policies name
 * these (s3:ListBucket, s3:PutObject, ...), not operation names. */
static const char *policy_action(const char *op)
{
    static const struct {
        const char *op, *action;
    } map[] = {
        {"AbortMultipartUpload", "s3:AbortMultipartUpload"},
        {"CompleteMultipartUpload", "s3:PutObject"},
        {"CopyObject", "s3:PutObject"},
        {"CreateMultipartUpload", "s3:PutObject"},
        {"DeleteBucket", "s3:DeleteBucket"},
        {"DeleteBucketPolicy", "s3:DeleteBucketPolicy"},
        {"DeleteObject", "s3:DeleteObject"},
        {"DeleteObjects", "s3:DeleteObject"},
        {"GetBucketLocation", "s3:GetBucketLocation"},
        {"GetBucketPolicy", "s3:GetBucketPolicy"},
        {"GetObject", "s3:GetObject"},
        {"GetObjectTagging", "s3:GetObjectTagging"},
        {"HeadBucket", "s3:ListBucket"},
        {"HeadObject", "s3:GetObject"},
        {"ListMultipartUploads", "s3:ListBucketMultipartUploads"},
        {"ListObjects", "s3:ListBucket"},
        {"ListObjectsV2", "s3:ListBucket"},
        {"ListParts", "s3:ListMultipartUploadParts"},
        {"PutBucketPolicy", "s3:PutBucketPolicy"},
        {"PutObject", "s3:PutObject"},
        {"UploadPart", "s3:PutObject"},
        {"UploadPartCopy", "s3:PutObject"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(map[i].op, op) == 0)
            return map[i].action;
    return NULL;
}

/* The bucket policy's decision for call c doing `action` on bucket b
 * (key NULL: the bucket itself; "*" for DeleteObjects, whose keys are in
 * the body). The caller is named by its ARN (an assumed role also by its
 * role's ARN) and account. A policy that does not parse decides nothing. */
static auth_decision bucket_policy_decision(const gt_call *c, const char *policy, const char *b, const char *action,
                                            const char *key)
{
    json_t *doc = policy ? json_loads(policy, 0, NULL) : NULL;
    if (!doc)
        return AUTH_IMPLICIT_DENY;
    char res[S3_MAX_KEY_BYTES + 128];
    if (key)
        snprintf(res, sizeof res, "arn:aws:s3:::%s/%s", b, key);
    else
        snprintf(res, sizeof res, "arn:aws:s3:::%s", b);
    auth_req_ctx r;
    auth_req_from_call(c, &r);
    r.action = action;
    r.resource = res;
    /* S3's own condition keys that we can know */
    json_t *extra = json_object();
    char acl[64];
    if (c->req && hdr(c->req, "x-amz-acl", acl, sizeof acl))
        json_object_set_new(extra, "s3:x-amz-acl", json_string(acl));
    const char *prefix = q_get(c, "prefix");
    if (prefix && strcmp(action, "s3:ListBucket") == 0)
        json_object_set_new(extra, "s3:prefix", json_string(prefix));
    r.extra = extra;
    const auth_principal *p = c->who;
    auth_decision d = auth_resource_policy_eval(doc, &r, p->arn, p->account_id, NULL);
    if (d == AUTH_IMPLICIT_DENY && strcmp(p->type, "AssumedRole") == 0 && p->issuer.arn[0])
        d = auth_resource_policy_eval(doc, &r, p->issuer.arn, p->account_id, NULL);
    json_decref(extra);
    json_decref(doc);
    return d;
}

/* The bucket's doc for call c doing `action` (an S3 IAM action) on key
 * (NULL: the bucket); fails the call otherwise. The owner's account may
 * use its bucket unless the bucket policy explicitly denies it (never for
 * the policy calls themselves, so an owner cannot lock itself out); any
 * other account needs an Allow in the bucket policy (its own identity
 * policies were checked before the handler, auth_authorize). */
static gt_err bucket_access(gt_call *c, store_txn *t, const char *bucket, const char *action, const char *key,
                            json_t **doc)
{
    *doc = NULL;
    json_t *d = bucket ? s3_bucket_doc(t, bucket) : NULL;
    if (!d) {
        if (bucket)
            set_detail(c, "BucketName", bucket);
        return gt_call_fail(c, GT_E_S3_NO_SUCH_BUCKET, NULL);
    }
    const char *owner = json_string_value(json_object_get(d, "Owner"));
    const char *policy = json_string_value(json_object_get(d, "Policy"));
    bool mine = owner && strcmp(owner, c->account) == 0;
    bool ok;
    if (mine)
        ok = !policy || strstr(action, "BucketPolicy") ||
             bucket_policy_decision(c, policy, bucket, action, key) != AUTH_EXPLICIT_DENY;
    else
        ok = bucket_policy_decision(c, policy, bucket, action, key) == AUTH_ALLOW &&
             !strstr(action, "BucketPolicy") && strcmp(action, "s3:DeleteBucket") != 0;
    if (!ok) {
        json_decref(d);
        return gt_call_fail(c, GT_E_S3_ACCESS_DENIED, NULL);
    }
    *doc = d;
    return GT_OK;
}

/* bucket_access for the call's own operation and key. */
static gt_err own_bucket(gt_call *c, store_txn *t, const char *bucket, json_t **doc)
{
    const char *action = policy_action(c->op->name);
    char other[160];
    if (!action) {
        snprintf(other, sizeof other, "s3:%s", c->op->name);
        action = other;
    }
    const char *key = in_str(c, "Key");
    if (strcmp(c->op->name, "DeleteObjects") == 0)
        key = "*";
    return bucket_access(c, t, bucket, action, key, doc);
}

static bool bucket_name_ok(const char *b)
{
    size_t n = strlen(b);
    if (n < 3 || n > 63)
        return false;
    bool all_digits_dots = true;
    for (size_t i = 0; i < n; i++) {
        char ch = b[i];
        bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
        if (!alnum && ch != '.' && ch != '-')
            return false;
        if ((i == 0 || i == n - 1) && !alnum)
            return false;
        if (ch == '.' && (b[i + 1] == '.' || b[i + 1] == '-' || (i > 0 && b[i - 1] == '-')))
            return false;
        if (!((ch >= '0' && ch <= '9') || ch == '.'))
            all_digits_dots = false;
    }
    if (all_digits_dots)
        return false;   /* looks like an IP address */
    if (strncmp(b, "xn--", 4) == 0 || (n > 8 && strcmp(b + n - 8, "-s3alias") == 0))
        return false;
    return true;
}

static json_t *out_status(int status)
{
    return json_pack("{s:i}", "_status", status);
}

static void out_header(json_t *out, const char *name, const char *value)
{
    json_t *h = json_object_get(out, "_headers");
    if (!h) {
        h = json_object();
        json_object_set_new(out, "_headers", h);
    }
    json_object_set_new(h, name, json_string(value));
}

static void out_xml(json_t *out, s3_xbuf *x)
{
    size_t n = 0;
    char *s = s3x_take(x, &n);
    if (s)
        json_object_set_new(out, "_xml", json_stringn(s, n));
    free(s);
}

/* ---------------------------------------------------------------- XML request bodies */

/* Parse a small XML request body (NULL on malformed XML). No network, no
 * entity substitution, no DTD loading. */
static xmlDocPtr xml_parse(const http_req *req)
{
    if (req->body_len == 0 || req->body_len > 1024 * 1024)
        return NULL;
    return xmlReadMemory((const char *)req->body, (int)req->body_len, "body.xml", NULL,
                         XML_PARSE_NONET | XML_PARSE_NOBLANKS | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}

static xmlNodePtr xml_child(xmlNodePtr n, const char *name)
{
    for (xmlNodePtr k = n ? n->children : NULL; k; k = k->next)
        if (k->type == XML_ELEMENT_NODE && strcmp((const char *)k->name, name) == 0)
            return k;
    return NULL;
}

/* Text content (malloc'd, caller frees with xmlFree). */
static char *xml_text(xmlNodePtr n)
{
    return n ? (char *)xmlNodeGetContent(n) : NULL;
}

/* ---------------------------------------------------------------- bucket handlers */

static gt_err h_create_bucket(gt_call *c, store_txn *t)
{
    const char *b = in_str(c, "Bucket");
    add_bucket_resource(c, b);
    char region[64];
    gt_strlcpy(region, "us-east-1", sizeof region);
    bool have_constraint = false;
    if (c->req->body_len > 0) {
        xmlDocPtr d = xml_parse(c->req);
        xmlNodePtr root = d ? xmlDocGetRootElement(d) : NULL;
        if (!root || strcmp((const char *)root->name, "CreateBucketConfiguration") != 0) {
            xmlFreeDoc(d);
            return gt_call_fail(c, GT_E_S3_MALFORMED_XML, NULL);
        }
        char *lc = xml_text(xml_child(root, "LocationConstraint"));
        if (lc && *lc) {
            have_constraint = true;
            gt_strlcpy(region, strcmp(lc, "EU") == 0 ? "eu-west-1" : lc, sizeof region);
        }
        json_object_set_new(c->input, "LocationConstraint", json_string(lc ? lc : ""));
        xmlFree(lc);
        xmlFreeDoc(d);
    }
    if (have_constraint) {
        bool ok = strlen(region) <= 32;
        for (const char *p = region; *p && ok; p++)
            ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-';
        if (!ok || strcmp(region, "us-east-1") == 0)
            return gt_call_fail(c, GT_E_S3_INVALID_LOCATION, NULL);
        if (strcmp(region, c->region) != 0)
            return gt_call_fail(c, GT_E_S3_ILLEGAL_LOCATION,
                                "The %s location constraint is incompatible for the region specific "
                                "endpoint this request was sent to.", region);
    } else if (strcmp(c->region, "us-east-1") != 0) {
        return gt_call_fail(c, GT_E_S3_ILLEGAL_LOCATION, NULL);
    }
    if (!bucket_name_ok(b)) {
        set_detail(c, "BucketName", b);
        return gt_call_fail(c, GT_E_S3_INVALID_BUCKET_NAME, NULL);
    }
    json_t *prev = s3_bucket_doc(t, b);
    if (prev) {
        const char *owner = json_string_value(json_object_get(prev, "Owner"));
        bool mine = owner && strcmp(owner, c->account) == 0;
        json_decref(prev);
        set_detail(c, "BucketName", b);
        /* AWS: re-creating your own bucket succeeds (200) in us-east-1
         * only, for legacy compatibility; elsewhere BucketAlreadyOwnedByYou. */
        if (mine && strcmp(c->region, "us-east-1") == 0) {
            json_decref(c->err_details);
            c->err_details = NULL;
            c->output = out_status(200);
            char loc[128];
            snprintf(loc, sizeof loc, "/%s", b);
            out_header(c->output, "Location", loc);
            return GT_OK;
        }
        return gt_call_fail(c, mine ? GT_E_S3_BUCKET_OWNED : GT_E_S3_BUCKET_EXISTS, NULL);
    }
    json_t *doc = json_pack("{s:s, s:s, s:s, s:I}", "Name", b, "Owner", c->account, "Region", region,
                            "CreationDate", (json_int_t)c->now_ms);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!text)
        return GT_E_NOMEM;
    store_key k = {"", "", "s3.bucket", b};
    int rc = store_doc_put(t, &k, NULL, text);
    free(text);
    if (rc != STORE_OK)
        return GT_E_UNAVAILABLE;
    c->output = out_status(200);
    char loc[128];
    if (have_constraint)
        snprintf(loc, sizeof loc, "http://%s.s3.amazonaws.com/", b);
    else
        snprintf(loc, sizeof loc, "/%s", b);
    out_header(c->output, "Location", loc);
    return GT_OK;
}

static int any_child_cb(void *ud, int64_t seq, const char *id, const char *body)
{
    *(bool *)ud = true;
    return 1;
}

static gt_err h_delete_bucket(gt_call *c, store_txn *t)
{
    const char *b = in_str(c, "Bucket");
    add_bucket_resource(c, b);
    json_t *doc;
    gt_err e = own_bucket(c, t, b, &doc);
    if (e != GT_OK)
        return e;
    json_decref(doc);
    bool any = false;
    if (store_doc_list(t, "", "", "s3.obj", b, 0, false, 1, any_child_cb, &any) != STORE_OK)
        return GT_E_UNAVAILABLE;
    if (any) {
        set_detail(c, "BucketName", b);
        return gt_call_fail(c, GT_E_S3_BUCKET_NOT_EMPTY, NULL);
    }
    json_t *discard = json_array();
    if ((e = drop_bucket_uploads(t, b, discard)) != GT_OK) {
        json_decref(discard);
        return e;
    }
    store_key k = {"", "", "s3.bucket", b};
    if (store_doc_delete(t, &k) != STORE_OK) {
        json_decref(discard);
        return GT_E_UNAVAILABLE;
    }
    c->output = out_status(204);
    json_object_set_new(c->output, "_discard", discard);
    return GT_OK;
}

static gt_err h_head_bucket(gt_call *c, store_txn *t)
{
    const char *b = in_str(c, "Bucket");
    add_bucket_resource(c, b);
    json_t *doc;
    gt_err e = own_bucket(c, t, b, &doc);
    if (e != GT_OK)
        return e;
    c->output = out_status(200);
    out_header(c->output, "x-amz-bucket-region", json_string_value(json_object_get(doc, "Region")));
    json_decref(doc);
    return GT_OK;
}

static gt_err h_get_bucket_location(gt_call *c, store_txn *t)
{
    const char *b = in_str(c, "Bucket");
    add_bucket_resource(c, b);
    json_t *doc;
    gt_err e = own_bucket(c, t, b, &doc);
    if (e != GT_OK)
        return e;
    const char *region = json_string_value(json_object_get(doc, "Region"));
    s3_xbuf x = {0};
    s3x_str(&x, S3_XML_DECL "<LocationConstraint xmlns=\"" S3_XML_NS "\">");
    if (region && strcmp(region, "us-east-1") != 0)
        s3x_text(&x, region, strlen(region));
    s3x_str(&x, "</LocationConstraint>");
    json_decref(doc);
    c->output = out_status(200);
    out_xml(c->output, &x);
    return GT_OK;
}

typedef struct bucket_list {
    json_t *arr;
    const char *account;
} bucket_list;

static int bucket_list_cb(void *ud, int64_t seq, const char *id, const char *body)
{
    bucket_list *l = ud;
    json_t *d = json_loads(body, 0, NULL);
    const char *owner = json_string_value(json_object_get(d, "Owner"));
    if (owner && strcmp(owner, l->account) == 0)
        json_array_append(l->arr, d);
    json_decref(d);
    return 0;
}

static int cmp_bucket(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    return strcmp(json_string_value(json_object_get(x, "Name")), json_string_value(json_object_get(y, "Name")));
}

/* The items of a JSON array as a sorted pointer array (borrowed
 * references; free() the array itself). NULL when out of memory. */
static json_t **sorted_items(json_t *arr, int (*cmp)(const void *, const void *))
{
    size_t n = json_array_size(arr);
    json_t **v = calloc(n ? n : 1, sizeof *v);
    if (!v)
        return NULL;
    for (size_t i = 0; i < n; i++)
        v[i] = json_array_get(arr, i);
    qsort(v, n, sizeof *v, cmp);
    return v;
}

static gt_err h_list_buckets(gt_call *c, store_txn *t)
{
    bucket_list l = {json_array(), c->account};
    if (!l.arr)
        return GT_E_NOMEM;
    if (store_doc_list(t, "", "", "s3.bucket", NULL, 0, false, 0, bucket_list_cb, &l) != STORE_OK) {
        json_decref(l.arr);
        return GT_E_UNAVAILABLE;
    }
    size_t n = json_array_size(l.arr);
    json_t **v = sorted_items(l.arr, cmp_bucket);
    if (!v) {
        json_decref(l.arr);
        return GT_E_NOMEM;
    }
    char oid[65];
    owner_id(c->account, oid);
    s3_xbuf x = {0};
    s3x_str(&x, S3_XML_DECL "<ListAllMyBucketsResult xmlns=\"" S3_XML_NS "\"><Owner>");
    s3x_elem(&x, "ID", oid);
    s3x_elem(&x, "DisplayName", c->account);
    s3x_str(&x, "</Owner><Buckets>");
    for (size_t i = 0; i < n; i++) {
        char when[25];
        gt_fmt_iso_ms(json_integer_value(json_object_get(v[i], "CreationDate")), when);
        s3x_str(&x, "<Bucket>");
        s3x_elem(&x, "Name", json_string_value(json_object_get(v[i], "Name")));
        s3x_elem(&x, "CreationDate", when);
        s3x_elem(&x, "BucketRegion", json_string_value(json_object_get(v[i], "Region")));
        s3x_str(&x, "</Bucket>");
    }
    s3x_str(&x, "</Buckets></ListAllMyBucketsResult>");
    free(v);
    json_decref(l.arr);
    c->output = out_status(200);
    out_xml(c->output, &x);
    return GT_OK;
}

static gt_err put_bucket_doc(store_txn *t, const char *b, json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    if (!text)
        return GT_E_NOMEM;
    store_key k = {"", "", "s3.bucket", b};
    int rc = store_doc_put(t, &k, NULL, text);
    free(text);
    return rc == STORE_OK ? GT_OK : GT_E_UNAVAILABLE;
}

static gt_err h_put_bucket_policy(gt_call *c, store_txn *t)
{
    const char *b = in_str(c, "Bucket");
    add_bucket_resource(c, b);
    json_t *doc;
    gt_err e = own_bucket(c, t, b, &doc);
    if (e != GT_OK)
        return e;
    const http_req *r = c->req;
    size_t i = 0;
    while (i < r->body_len && (r->body[i] == ' ' || r->body[i] == '\t' || r->body[i] == '\r' || r->body[i] == '\n'))
        i++;
    json_error_t jerr;
    json_t *pol = i < r->body_len && r->body[i] == '{' && r->body_len <= 20 * 1024
                      ? json_loadb((const char *)r->body, r->body_len, JSON_REJECT_DUPLICATES, &jerr)
                      : NULL;
    if (!json_is_object(pol)) {
        json_decref(pol);
        json_decref(doc);
        if (r->body_len > 20 * 1024)
            return gt_call_fail(c, GT_E_S3_MALFORMED_POLICY, "Policy exceeds the maximum allowed document size.");
        return gt_call_fail(c, GT_E_S3_MALFORMED_POLICY, NULL);
    }
    json_object_set_new(c->input, "_policy", pol);
    json_object_set_new(doc, "Policy", json_stringn((const char *)r->body, r->body_len));
    e = put_bucket_doc(t, b, doc);
    json_decref(doc);
    if (e != GT_OK)
        return e;
    c->output = out_status(204);
    return GT_OK;
}

static gt_err h_get_bucket_policy(gt_call *c, store_txn *t)
{
    const char *b = in_str(c, "Bucket");
    add_bucket_resource(c, b);
    json_t *doc;
    gt_err e = own_bucket(c, t, b, &doc);
    if (e != GT_OK)
        return e;
    const char *p = json_string_value(json_object_get(doc, "Policy"));
    if (!p) {
        json_decref(doc);
        set_detail(c, "BucketName", b);
        return gt_call_fail(c, GT_E_S3_NO_SUCH_BUCKET_POLICY, NULL);
    }
    c->output = out_status(200);
    json_object_set_new(c->output, "_raw", json_string(p));
    json_decref(doc);
    return GT_OK;
}

static gt_err h_delete_bucket_policy(gt_call *c, store_txn *t)
{
    const char *b = in_str(c, "Bucket");
    add_bucket_resource(c, b);
    json_t *doc;
    gt_err e = own_bucket(c, t, b, &doc);
    if (e != GT_OK)
        return e;
    if (json_object_get(doc, "Policy")) {
        json_object_del(doc, "Policy");
        e = put_bucket_doc(t, b, doc);
    }
    json_decref(doc);
    if (e != GT_OK)
        return e;
    c->output = out_status(204);
    return GT_OK;
}

/* ---------------------------------------------------------------- object handlers */

/* Stored response headers of an object (besides Content-Type). */
static const char *const stored_headers[] = {"Cache-Control", "Content-Disposition", "Content-Encoding",
                                             "Content-Language", "Expires", "x-amz-website-redirect-location"};

/* x-amz-meta-* (names lower-cased) and the stored headers of a request,
 * as two new JSON objects. Fails the call on bad or oversized metadata. */
static gt_err collect_meta(gt_call *c, json_t **meta_out, json_t **hdrs_out)
{
    const http_req *r = c->req;
    json_t *meta = json_object(), *hdrs = json_object();
    size_t meta_bytes = 0;
    *meta_out = *hdrs_out = NULL;
    for (size_t i = 0; i < r->n_headers; i++) {
        const http_header *h = &r->headers[i];
        if (h->name_len > 11 && strncasecmp(h->name, "x-amz-meta-", 11) == 0) {
            char name[256];
            size_t nl = h->name_len - 11 < sizeof name - 1 ? h->name_len - 11 : sizeof name - 1;
            for (size_t j = 0; j < nl; j++) {
                char ch = h->name[11 + j];
                name[j] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
            }
            name[nl] = '\0';
            meta_bytes += nl + h->value_len;
            json_t *v = json_stringn(h->value, h->value_len);
            if (!v) {
                json_decref(meta);
                json_decref(hdrs);
                return gt_call_fail(c, GT_E_S3_INVALID_ARGUMENT, "User metadata values must be UTF-8.");
            }
            json_object_set_new(meta, name, v);
        }
    }
    if (meta_bytes > S3_MAX_META_BYTES) {
        json_decref(meta);
        json_decref(hdrs);
        return gt_call_fail(c, GT_E_S3_INVALID_ARGUMENT,
                            "Your metadata headers exceed the maximum allowed metadata size");
    }
    for (size_t i = 0; i < sizeof stored_headers / sizeof stored_headers[0]; i++) {
        char v[1024];
        if (!hdr(r, stored_headers[i], v, sizeof v))
            continue;
        if (strcmp(stored_headers[i], "Content-Encoding") == 0) {
            /* aws-chunked is the transfer framing, not the object's encoding */
            char keep[1024] = "";
            size_t kl = 0;
            for (char *save = NULL, *tok = strtok_r(v, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                while (*tok == ' ')
                    tok++;
                size_t tl = strlen(tok);
                while (tl && tok[tl - 1] == ' ')
                    tok[--tl] = '\0';
                if (!tl || strcmp(tok, "aws-chunked") == 0)
                    continue;
                int w = snprintf(keep + kl, sizeof keep - kl, "%s%s", kl ? "," : "", tok);
                if (w > 0 && (size_t)w < sizeof keep - kl)
                    kl += (size_t)w;
            }
            if (!kl)
                continue;
            gt_strlcpy(v, keep, sizeof v);
        }
        json_t *jv = json_string(v);
        if (jv)
            json_object_set_new(hdrs, stored_headers[i], jv);
    }
    *meta_out = meta;
    *hdrs_out = hdrs;
    return GT_OK;
}

/* Commit an object whose body file is durable, with its metadata and
 * stored headers. old gets the replaced body file ("" if none). */
static gt_err commit_object(gt_call *c, store_txn *t, const char *b, const char *k, const char *file,
                            const s3_object_info *info, json_t *meta, json_t *hdrs, char old[S3_FNAME_MAX])
{
    char *meta_text = json_dumps(meta, JSON_COMPACT);
    gt_err e = meta_text ? s3_object_commit(t, b, k, file, info, meta_text, old) : GT_E_NOMEM;
    free(meta_text);
    if (e == GT_OK && json_object_size(hdrs) > 0) {
        char id[S3_MAX_KEY_BYTES + 80];
        snprintf(id, sizeof id, "%s/%s", b, k);
        store_key sk = {"", "", "s3.obj", id};
        char *body = NULL;
        if (store_doc_get(t, &sk, &body) == STORE_OK) {
            json_t *d = json_loads(body, 0, NULL);
            free(body);
            json_object_set(d, "Headers", hdrs);
            char *nt = d ? json_dumps(d, JSON_COMPACT) : NULL;
            json_decref(d);
            if (!nt || store_doc_put(t, &sk, b, nt) != STORE_OK)
                e = GT_E_UNAVAILABLE;
            free(nt);
        } else {
            e = GT_E_UNAVAILABLE;
        }
    }
    if (e == GT_E_S3_NO_SUCH_BUCKET)
        return gt_call_fail(c, e, NULL);
    return e;
}

static gt_err h_put_object(gt_call *c, store_txn *t)
{
    const char *b = in_str(c, "Bucket"), *k = in_str(c, "Key");
    json_t *doc;
    gt_err e = own_bucket(c, t, b, &doc);
    if (e != GT_OK)
        return e;
    json_decref(doc);
    json_t *meta, *hdrs;
    if ((e = collect_meta(c, &meta, &hdrs)) != GT_OK)
        return e;
    s3_object_info info = {0};
    gt_strlcpy(info.etag, in_str(c, "_ETag"), sizeof info.etag);
    info.size = json_integer_value(json_object_get(c->input, "_Size"));
    info.last_modified_ms = c->now_ms;
    if (!hdr(c->req, "Content-Type", info.content_type, sizeof info.content_type))
        info.content_type[0] = '\0';
    char old[S3_FNAME_MAX];
    e = commit_object(c, t, b, k, in_str(c, "_File"), &info, meta, hdrs, old);
    json_decref(meta);
    json_decref(hdrs);
    if (e != GT_OK)
        return e;
    c->output = out_status(200);
    char etag[48];
    snprintf(etag, sizeof etag, "\"%s\"", info.etag);
    out_header(c->output, "ETag", etag);
    if (old[0])
        json_object_set_new(c->output, "_discard", json_pack("[s]", old));
    return GT_OK;
}

static json_t *obj_doc(store_txn *t, const char *b, const char *k)
{
    char id[S3_MAX_KEY_BYTES + 80];
    if (snprintf(id, sizeof id, "%s/%s", b, k) >= (int)sizeof id)
        return NULL;
    store_key sk = {"", "", "s3.obj", id};
    char *body = NULL;
    if (store_doc_get(t, &sk, &body) != STORE_OK)
        return NULL;
    json_t *d = json_loads(body, 0, NULL);
    free(body);
    return d;
}

/* Parse "bytes=a-b" | "bytes=a-" | "bytes=-n" against size. Returns 1
 * with [*start, *end] (inclusive) for a satisfiable range, 0 when the
 * header is absent or not a single byte range (ignored, as RFC 9110
 * allows), -1 when unsatisfiable. */
static int parse_range(const char *h, int64_t size, int64_t *start, int64_t *end)
{
    if (!h || strncmp(h, "bytes=", 6) != 0)
        return 0;
    const char *s = h + 6;
    const char *dash = strchr(s, '-');
    if (!dash || strchr(s, ','))
        return 0;
    int64_t a = -1, b = -1;
    if (dash > s && !gt_parse_i64(s, (size_t)(dash - s), &a))
        return 0;
    if (dash[1] && !gt_parse_i64(dash + 1, strlen(dash + 1), &b))
        return 0;
    if ((dash > s && a < 0) || (dash[1] && b < 0))
        return 0;
    if (a < 0 && b < 0)
        return 0;
    if (a < 0) {   /* suffix */
        if (b == 0 || size == 0)
            return -1;
        *start = b >= size ? 0 : size - b;
        *end = size - 1;
        return 1;
    }
    if (b >= 0 && b < a)
        return 0;
    if (a >= size)
        return -1;
    *start = a;
    *end = b < 0 || b >= size ? size - 1 : b;
    return 1;
}

static gt_err get_or_head(gt_call *c, store_txn *t, bool get)
{
    const char *b = in_str(c, "Bucket"), *k = in_str(c, "Key");
    json_t *bd;
    gt_err e = own_bucket(c, t, b, &bd);
    if (e != GT_OK)
        return e;
    json_decref(bd);
    json_t *d = obj_doc(t, b, k);
    if (!d) {
        set_detail(c, "Key", k);
        return gt_call_fail(c, GT_E_S3_NO_SUCH_KEY, NULL);
    }
    int64_t size = json_integer_value(json_object_get(d, "Size"));
    int64_t start = 0, end = size - 1;
    char range[128];
    int rr = hdr(c->req, "Range", range, sizeof range) ? parse_range(range, size, &start, &end) : 0;
    if (rr < 0) {
        char sz[24];
        snprintf(sz, sizeof sz, "%lld", (long long)size);
        set_detail(c, "RangeRequested", range);
        set_detail(c, "ActualObjectSize", sz);
        json_decref(d);
        return gt_call_fail(c, GT_E_S3_INVALID_RANGE, NULL);
    }
    /* conditional requests on the ETag */
    char cond[256], quoted[80];
    snprintf(quoted, sizeof quoted, "\"%s\"", json_string_value(json_object_get(d, "ETag")));
    if (hdr(c->req, "If-Match", cond, sizeof cond) && strcmp(cond, "*") != 0 && !strstr(cond, quoted)) {
        json_decref(d);
        set_detail(c, "Condition", "If-Match");
        return gt_call_fail(c, GT_E_S3_PRECONDITION_FAILED, NULL);
    }
    bool not_modified = hdr(c->req, "If-None-Match", cond, sizeof cond) && (strcmp(cond, "*") == 0 || strstr(cond, quoted));
    json_t *out = out_status(not_modified ? 304 : rr > 0 ? 206 : 200);
    out_header(out, "ETag", quoted);
    char date[40];
    http_date(json_integer_value(json_object_get(d, "LastModified")), date);
    out_header(out, "Last-Modified", date);
    out_header(out, "Accept-Ranges", "bytes");
    json_object_set(out, "_ctype", json_object_get(d, "ContentType"));
    const char *mk;
    json_t *mv;
    json_object_foreach(json_object_get(d, "Meta"), mk, mv) {
        char name[300];
        snprintf(name, sizeof name, "x-amz-meta-%s", mk);
        out_header(out, name, json_string_value(mv));
    }
    json_object_foreach(json_object_get(d, "Headers"), mk, mv)
        out_header(out, mk, json_string_value(mv));
    if (rr > 0) {
        char cr[96];
        snprintf(cr, sizeof cr, "bytes %lld-%lld/%lld", (long long)start, (long long)end, (long long)size);
        out_header(out, "Content-Range", cr);
    }
    if (!not_modified) {
        json_object_set_new(out, "_start", json_integer(start));
        json_object_set_new(out, "_len", json_integer(size == 0 ? 0 : end - start + 1));
        /* HEAD too: the file response gives the Content-Length; no byte is read */
        if (size > 0) {
            int fd = s3_body_open(s3_store_default(), b, json_string_value(json_object_get(d, "File")));
            if (fd < 0) {
                json_decref(out);
                json_decref(d);
                return GT_E_UNAVAILABLE;
            }
            json_object_set_new(out, "_fd", json_integer(fd));
        }
    }
    json_decref(d);
    c->output = out;
    return GT_OK;
}

static gt_err h_get_object(gt_call *c, store_txn *t)
{
    return get_or_head(c, t, true);
}

static gt_err h_head_object(gt_call *c, store_txn *t)
{
    return get_or_head(c, t, false);
}

/* Delete one object's metadata; its body file name is appended to discard. */
static gt_err delete_one(store_txn *t, const char *b, const char *k, json_t *discard)
{
    json_t *d = obj_doc(t, b, k);
    if (!d)
        return GT_OK;
    const char *f = json_string_value(json_object_get(d, "File"));
    if (f)
        json_array_append_new(discard, json_string(f));
    json_decref(d);
    char id[S3_MAX_KEY_BYTES + 80];
    snprintf(id, sizeof id, "%s/%s", b, k);
    store_key sk = {"", "", "s3.obj", id};
    return store_doc_delete(t, &sk) == STORE_OK ? GT_OK : GT_E_UNAVAILABLE;
}

static gt_err h_delete_object(gt_call *c, store_txn *t)
{
    const char *b = in_str(c, "Bucket"), *k = in_str(c, "Key");
    json_t *bd;
    gt_err e = own_bucket(c, t, b, &bd);
    if (e != GT_OK)
        return e;
    json_decref(bd);
    json_t *discard = json_array();
    e = delete_one(t, b, k, discard);
    if (e != GT_OK) {
        json_decref(discard);
        return e;
    }
    c->output = out_status(204);
    json_object_set_new(c->output, "_discard", discard);
    return GT_OK;
}

static gt_err h_delete_objects(gt_call *c, store_txn *t)
{
    const char *b = in_str(c, "Bucket");
    json_t *bd;
    gt_err e = own_bucket(c, t, b, &bd);
    if (e != GT_OK)
        return e;
    json_decref(bd);
    xmlDocPtr d = xml_parse(c->req);
    xmlNodePtr root = d ? xmlDocGetRootElement(d) : NULL;
    if (!root || strcmp((const char *)root->name, "Delete") != 0) {
        xmlFreeDoc(d);
        return gt_call_fail(c, GT_E_S3_MALFORMED_XML, NULL);
    }
    char *quiet = xml_text(xml_child(root, "Quiet"));
    bool q = quiet && strcmp(quiet, "true") == 0;
    xmlFree(quiet);
    int count = 0;
    for (xmlNodePtr o = root->children; o; o = o->next)
        if (o->type == XML_ELEMENT_NODE && strcmp((const char *)o->name, "Object") == 0)
            count++;
    if (count == 0 || count > S3_MAX_DELETE_KEYS) {
        xmlFreeDoc(d);
        return gt_call_fail(c, GT_E_S3_MALFORMED_XML, NULL);
    }
    json_t *discard = json_array();
    s3_xbuf x = {0};
    s3x_str(&x, S3_XML_DECL "<DeleteResult xmlns=\"" S3_XML_NS "\">");
    for (xmlNodePtr o = root->children; o && e == GT_OK; o = o->next) {
        if (o->type != XML_ELEMENT_NODE || strcmp((const char *)o->name, "Object") != 0)
            continue;
        char *k = xml_text(xml_child(o, "Key"));
        if (!k || !*k || strlen(k) > S3_MAX_KEY_BYTES) {
            s3x_str(&x, "<Error>");
            s3x_elem(&x, "Key", k ? k : "");
            s3x_elem(&x, "Code", k && *k ? "KeyTooLongError" : "InvalidArgument");
            s3x_elem(&x, "Message", k && *k ? "Your key is too long" : "The key is empty");
            s3x_str(&x, "</Error>");
        } else {
            e = delete_one(t, b, k, discard);
            if (e == GT_OK && !q) {
                s3x_str(&x, "<Deleted>");
                s3x_elem(&x, "Key", k);
                s3x_str(&x, "</Deleted>");
            }
        }
        xmlFree(k);
    }
    xmlFreeDoc(d);
    s3x_str(&x, "</DeleteResult>");
    if (e != GT_OK) {
        s3x_free(&x);
        json_decref(discard);
        return e;
    }
    c->output = out_status(200);
    out_xml(c->output, &x);
    json_object_set_new(c->output, "_discard", discard);
    return GT_OK;
}

/* ---------------------------------------------------------------- multipart uploads
 *
 * Uploads are docs of kind "s3.upload" (id = upload id, parent = bucket)
 * holding the object's future metadata; parts are docs of kind "s3.part"
 * (id = "<upload id>/<5-digit part number>", parent = upload id) naming a
 * durable body file each. CompleteMultipartUpload concatenates the part
 * files into a new body file on the HTTP worker (s3_decode) and commits
 * the object in the handler after re-checking that the parts it used are
 * still the upload's parts. */

#define S3_MIN_PART_BYTES ((int64_t)5 * 1024 * 1024)
#define S3_MAX_PARTS 10000

static json_t *doc_get(store_txn *t, const char *kind, const char *id)
{
    store_key k = {"", "", kind, id};
    char *body = NULL;
    if (store_doc_get(t, &k, &body) != STORE_OK)
        return NULL;
    json_t *d = json_loads(body, 0, NULL);
    free(body);
    return d;
}

/* The upload doc when it exists for this bucket and key; fails the call otherwise. */
static gt_err own_upload(gt_call *c, store_txn *t, const char *b, const char *k, const char *id, json_t **out)
{
    json_t *u = id ? doc_get(t, "s3.upload", id) : NULL;
    const char *ub = json_string_value(json_object_get(u, "Bucket"));
    const char *uk = json_string_value(json_object_get(u, "Key"));
    if (!u || !ub || !uk || strcmp(ub, b) != 0 || strcmp(uk, k) != 0) {
        json_decref(u);
        if (id)
            set_detail(c, "UploadId", id);
        return gt_call_fail(c, GT_E_S3_NO_SUCH_UPLOAD, NULL);
    }
    *out = u;
    return GT_OK;
}

static int parts_cb(void *ud, int64_t seq, const char *id, const char *body)
{
    json_t *d = json_loads(body, 0, NULL);
    if (d)
        json_array_append_new(ud, d);
    return 0;
}

/* Delete an upload and its parts; their body files go to discard. */
static gt_err drop_upload(store_txn *t, const char *id, json_t *discard)
{
    json_t *parts = json_array();
    if (!parts || store_doc_list(t, "", "", "s3.part", id, 0, false, 0, parts_cb, parts) != STORE_OK) {
        json_decref(parts);
        return GT_E_UNAVAILABLE;
    }
    size_t i;
    json_t *p;
    json_array_foreach(parts, i, p) {
        const char *f = json_string_value(json_object_get(p, "File"));
        if (f)
            json_array_append_new(discard, json_string(f));
    }
    json_decref(parts);
    store_key k = {"", "", "s3.upload", id};
    if (store_doc_delete_children(t, "", "", "s3.part", id) != STORE_OK || store_doc_delete(t, &k) != STORE_OK)
        return GT_E_UNAVAILABLE;
    return GT_OK;
}

static int upload_ids_cb(void *ud, int64_t seq, const char *id, const char *body)
{
    json_array_append_new(ud, json_string(id));
    return 0;
}

/* Abort every unfinished upload of a bucket (DeleteBucket). */
static gt_err drop_bucket_uploads(store_txn *t, const char *b, json_t *discard)
{
    json_t *ids = json_array();
    if (!ids || store_doc_list(t, "", "", "s3.upload", b, 0, false, 0, upload_ids_cb, ids) != STORE_OK) {
        json_decref(ids);
        return GT_E_UNAVAILABLE;
    }
    gt_err e = GT_OK;
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v) {
        if ((e = drop_upload(t, json_string_value(v), discard)) != GT_OK)
            break;
    }
    json_decref(ids);
    return e;
}

static gt_err h_create_mpu(gt_call *c, store_txn *t)
{
    const char *b = in_str(c, "Bucket"), *k = in_str(c, "Key");
    json_t *bd;
    gt_err e = own_bucket(c, t, b, &bd);
    if (e != GT_OK)
        return e;
    json_decref(bd);
    json_t *meta, *hdrs;
    if ((e = collect_meta(c, &meta, &hdrs)) != GT_OK)
        return e;
    char id[65], ctype[256] = "";
    if (!gt_random_chars(id, 64, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")) {
        json_decref(meta);
        json_decref(hdrs);
        return GT_E_INTERNAL;
    }
    hdr(c->req, "Content-Type", ctype, sizeof ctype);
    json_t *doc = json_pack("{s:s, s:s, s:s, s:I, s:s, s:o, s:o}", "Bucket", b, "Key", k, "UploadId", id,
                            "Initiated", (json_int_t)c->now_ms, "ContentType", ctype, "Meta", meta, "Headers", hdrs);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!text)
        return GT_E_NOMEM;
    store_key sk = {"", "", "s3.upload", id};
    int rc = store_doc_put(t, &sk, b, text);
    free(text);
    if (rc != STORE_OK)
        return GT_E_UNAVAILABLE;
    s3_xbuf x = {0};
    s3x_str(&x, S3_XML_DECL "<InitiateMultipartUploadResult xmlns=\"" S3_XML_NS "\">");
    s3x_elem(&x, "Bucket", b);
    s3x_elem(&x, "Key", k);
    s3x_elem(&x, "UploadId", id);
    s3x_str(&x, "</InitiateMultipartUploadResult>");
    c->output = out_status(200);
    out_xml(c->output, &x);
    return GT_OK;
}

static bool part_number(const char *s, int64_t *n)
{
    return s && gt_parse_i64(s, strlen(s), n) && *n >= 1 && *n <= S3_MAX_PARTS;
}

static gt_err h_upload_part(gt_call *c, store_txn *t)
{
    const char *b = in_str(c, "Bucket"), *k = in_str(c, "Key"), *id = q_get(c, "uploadId");
    json_t *bd, *u;
    gt_err e = own_bucket(c, t, b, &bd);
    if (e != GT_OK)
        return e;
    json_decref(bd);
    if ((e = own_upload(c, t, b, k, id, &u)) != GT_OK)
        return e;
    json_decref(u);
    int64_t n = 0;
    part_number(q_get(c, "partNumber"), &n);
    char pid[128];
    snprintf(pid, sizeof pid, "%s/%05lld", id, (long long)n);
    json_t *prev = doc_get(t, "s3.part", pid);
    json_t *discard = json_array();
    if (prev && json_string_value(json_object_get(prev, "File")))
        json_array_append(discard, json_object_get(prev, "File"));
    json_decref(prev);
    json_t *doc = json_pack("{s:s, s:I, s:s, s:s, s:I, s:I}", "Bucket", b, "PartNumber", (json_int_t)n, "File",
                            in_str(c, "_File"), "ETag", in_str(c, "_ETag"), "Size",
                            json_integer_value(json_object_get(c->input, "_Size")), "LastModified",
                            (json_int_t)c->now_ms);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    store_key sk = {"", "", "s3.part", pid};
    if (!text || store_doc_put(t, &sk, id, text) != STORE_OK) {
        free(text);
        json_decref(discard);
        return text ? GT_E_UNAVAILABLE : GT_E_NOMEM;
    }
    free(text);
    c->output = out_status(200);
    char etag[48];
    snprintf(etag, sizeof etag, "\"%s\"", in_str(c, "_ETag"));
    out_header(c->output, "ETag", etag);
    json_object_set_new(c->output, "_discard", discard);
    return GT_OK;
}

static gt_err h_abort_mpu(gt_call *c, store_txn *t)
{
    const char *b = in_str(c, "Bucket"), *k = in_str(c, "Key"), *id = q_get(c, "uploadId");
    json_t *bd, *u;
    gt_err e = own_bucket(c, t, b, &bd);
    if (e != GT_OK)
        return e;
    json_decref(bd);
    if ((e = own_upload(c, t, b, k, id, &u)) != GT_OK)
        return e;
    json_decref(u);
    json_t *discard = json_array();
    if ((e = drop_upload(t, id, discard)) != GT_OK) {
        json_decref(discard);
        return e;
    }
    c->output = out_status(204);
    json_object_set_new(c->output, "_discard", discard);
    return GT_OK;
}

static gt_err h_complete_mpu(gt_call *c, store_txn *t)
{
    const char *b = in_str(c, "Bucket"), *k = in_str(c, "Key"), *id = q_get(c, "uploadId");
    json_t *bd, *u;
    gt_err e = own_bucket(c, t, b, &bd);
    if (e != GT_OK)
        return e;
    json_decref(bd);
    if ((e = own_upload(c, t, b, k, id, &u)) != GT_OK)
        return e;
    if (!in_str(c, "_File")) {   /* the upload appeared after decode looked */
        json_decref(u);
        return gt_call_fail(c, GT_E_S3_NO_SUCH_UPLOAD, NULL);
    }
    /* the parts decode concatenated must still be this upload's parts */
    size_t i;
    json_t *used;
    json_array_foreach(json_object_get(c->input, "_Parts"), i, used) {
        json_t *p = doc_get(t, "s3.part", json_string_value(json_object_get(used, "Id")));
        const char *f = json_string_value(json_object_get(p, "File"));
        bool same = f && strcmp(f, json_string_value(json_object_get(used, "File"))) == 0;
        json_decref(p);
        if (!same) {
            json_decref(u);
            return gt_call_fail(c, GT_E_S3_INVALID_PART, NULL);
        }
    }
    s3_object_info info = {0};
    gt_strlcpy(info.etag, in_str(c, "_ETag"), sizeof info.etag);
    info.size = json_integer_value(json_object_get(c->input, "_Size"));
    info.last_modified_ms = c->now_ms;
    gt_strlcpy(info.content_type, json_string_value(json_object_get(u, "ContentType")) ?: "",
               sizeof info.content_type);
    char old[S3_FNAME_MAX];
    e = commit_object(c, t, b, k, in_str(c, "_File"), &info, json_object_get(u, "Meta"),
                      json_object_get(u, "Headers"), old);
    json_decref(u);
    if (e != GT_OK)
        return e;
    json_t *discard = json_array();
    if ((e = drop_upload(t, id, discard)) != GT_OK) {
        json_decref(discard);
        return e;
    }
    if (old[0])
        json_array_append_new(discard, json_string(old));
    char etag[48], loc[2200];
    snprintf(etag, sizeof etag, "\"%s\"", info.etag);
    size_t hl = 0;
    const char *host = http_req_header(c->req, "Host", &hl);
    snprintf(loc, sizeof loc, "http://%.*s/%s/%s", (int)(hl > 255 ? 255 : hl), host ? host : "", b, k);
    s3_xbuf x = {0};
    s3x_str(&x, S3_XML_DECL "<CompleteMultipartUploadResult xmlns=\"" S3_XML_NS "\">");
    s3x_elem(&x, "Location", loc);
    s3x_elem(&x, "Bucket", b);
    s3x_elem(&x, "Key", k);
    s3x_elem(&x, "ETag", etag);
    s3x_str(&x, "</CompleteMultipartUploadResult>");
    c->output = out_status(200);
    out_xml(c->output, &x);
    json_object_set_new(c->output, "_discard", discard);
    return GT_OK;
}

static int cmp_part(const void *a, const void *b)
{
    json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "PartNumber"));
    json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "PartNumber"));
    return x < y ? -1 : x > y;
}

static void owner_xml(s3_xbuf *x, const char *elem, const char *account)
{
    char oid[65];
    owner_id(account, oid);
    s3x_str(x, "<");
    s3x_str(x, elem);
    s3x_str(x, ">");
    s3x_elem(x, "ID", oid);
    s3x_elem(x, "DisplayName", account);
    s3x_str(x, "</");
    s3x_str(x, elem);
    s3x_str(x, ">");
}

/* A non-negative integer query parameter (default def, capped at cap). */
static bool q_int(const gt_call *c, const char *name, int64_t def, int64_t cap, int64_t *out)
{
    const char *v = q_get(c, name);
    *out = def;
    if (v && (!gt_parse_i64(v, strlen(v), out) || *out < 0))
        return false;
    if (*out > cap)
        *out = cap;
    return true;
}

static gt_err h_list_parts(gt_call *c, store_txn *t)
{
    const char *b = in_str(c, "Bucket"), *k = in_str(c, "Key"), *id = q_get(c, "uploadId");
    json_t *bd, *u;
    gt_err e = own_bucket(c, t, b, &bd);
    if (e != GT_OK)
        return e;
    json_decref(bd);
    if ((e = own_upload(c, t, b, k, id, &u)) != GT_OK)
        return e;
    json_decref(u);
    int64_t max, marker;
    if (!q_int(c, "max-parts", 1000, 1000, &max) || !q_int(c, "part-number-marker", 0, S3_MAX_PARTS, &marker))
        return gt_call_fail(c, GT_E_S3_INVALID_ARGUMENT, "max-parts and part-number-marker must be non-negative integers");
    json_t *parts = json_array();
    if (!parts || store_doc_list(t, "", "", "s3.part", id, 0, false, 0, parts_cb, parts) != STORE_OK) {
        json_decref(parts);
        return GT_E_UNAVAILABLE;
    }
    size_t n = json_array_size(parts);
    json_t **v = sorted_items(parts, cmp_part);
    if (!v) {
        json_decref(parts);
        return GT_E_NOMEM;
    }
    s3_xbuf body = {0};
    int64_t count = 0, last = 0;
    bool truncated = false;
    for (size_t i = 0; i < n; i++) {
        json_int_t pn = json_integer_value(json_object_get(v[i], "PartNumber"));
        if (pn <= marker)
            continue;
        if (count >= max) {
            truncated = true;
            break;
        }
        count++;
        last = pn;
        char num[24], size[24], when[25], etag[48];
        snprintf(num, sizeof num, "%lld", (long long)pn);
        snprintf(size, sizeof size, "%lld", (long long)json_integer_value(json_object_get(v[i], "Size")));
        gt_fmt_iso_ms(json_integer_value(json_object_get(v[i], "LastModified")), when);
        snprintf(etag, sizeof etag, "\"%s\"", json_string_value(json_object_get(v[i], "ETag")) ?: "");
        s3x_str(&body, "<Part>");
        s3x_elem(&body, "PartNumber", num);
        s3x_elem(&body, "LastModified", when);
        s3x_elem(&body, "ETag", etag);
        s3x_elem(&body, "Size", size);
        s3x_str(&body, "</Part>");
    }
    free(v);
    json_decref(parts);
    s3_xbuf x = {0};
    char num[24];
    s3x_str(&x, S3_XML_DECL "<ListPartsResult xmlns=\"" S3_XML_NS "\">");
    s3x_elem(&x, "Bucket", b);
    s3x_elem(&x, "Key", k);
    s3x_elem(&x, "UploadId", id);
    owner_xml(&x, "Initiator", c->account);
    owner_xml(&x, "Owner", c->account);
    s3x_elem(&x, "StorageClass", "STANDARD");
    snprintf(num, sizeof num, "%lld", (long long)marker);
    s3x_elem(&x, "PartNumberMarker", num);
    snprintf(num, sizeof num, "%lld", (long long)last);
    s3x_elem(&x, "NextPartNumberMarker", num);
    snprintf(num, sizeof num, "%lld", (long long)max);
    s3x_elem(&x, "MaxParts", num);
    s3x_elem(&x, "IsTruncated", truncated ? "true" : "false");
    if (body.p)
        s3x_raw(&x, body.p, body.n);
    bool oom = body.oom;
    s3x_free(&body);
    s3x_str(&x, "</ListPartsResult>");
    if (oom) {
        s3x_free(&x);
        return GT_E_NOMEM;
    }
    c->output = out_status(200);
    out_xml(c->output, &x);
    return GT_OK;
}

static int cmp_upload(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    int r = strcmp(json_string_value(json_object_get(x, "Key")) ?: "", json_string_value(json_object_get(y, "Key")) ?: "");
    if (r)
        return r;
    json_int_t p = json_integer_value(json_object_get(x, "Initiated")), q = json_integer_value(json_object_get(y, "Initiated"));
    return p < q ? -1 : p > q;
}

/* ListMultipartUploads: prefix, key-marker (uploads of keys after it),
 * max-uploads; Delimiter is not supported (ignored). */
static gt_err h_list_mpus(gt_call *c, store_txn *t)
{
    const char *b = in_str(c, "Bucket");
    json_t *bd;
    gt_err e = own_bucket(c, t, b, &bd);
    if (e != GT_OK)
        return e;
    json_decref(bd);
    int64_t max;
    if (!q_int(c, "max-uploads", 1000, 1000, &max))
        return gt_call_fail(c, GT_E_S3_INVALID_ARGUMENT, "max-uploads must be a non-negative integer");
    const char *prefix = q_get(c, "prefix") ? q_get(c, "prefix") : "";
    const char *marker = q_get(c, "key-marker");
    json_t *ups = json_array();
    if (!ups || store_doc_list(t, "", "", "s3.upload", b, 0, false, 0, parts_cb, ups) != STORE_OK) {
        json_decref(ups);
        return GT_E_UNAVAILABLE;
    }
    size_t n = json_array_size(ups);
    json_t **v = sorted_items(ups, cmp_upload);
    if (!v) {
        json_decref(ups);
        return GT_E_NOMEM;
    }
    s3_xbuf body = {0};
    int64_t count = 0;
    bool truncated = false;
    const char *next_key = NULL, *next_id = NULL;
    for (size_t i = 0; i < n; i++) {
        const char *k = json_string_value(json_object_get(v[i], "Key")) ?: "";
        if (strncmp(k, prefix, strlen(prefix)) != 0 || (marker && strcmp(k, marker) <= 0))
            continue;
        if (count >= max) {
            truncated = true;
            break;
        }
        count++;
        next_key = k;
        next_id = json_string_value(json_object_get(v[i], "UploadId"));
        char when[25];
        gt_fmt_iso_ms(json_integer_value(json_object_get(v[i], "Initiated")), when);
        s3x_str(&body, "<Upload>");
        s3x_elem(&body, "Key", k);
        s3x_elem(&body, "UploadId", next_id);
        owner_xml(&body, "Initiator", c->account);
        owner_xml(&body, "Owner", c->account);
        s3x_elem(&body, "StorageClass", "STANDARD");
        s3x_elem(&body, "Initiated", when);
        s3x_str(&body, "</Upload>");
    }
    s3_xbuf x = {0};
    char num[24];
    s3x_str(&x, S3_XML_DECL "<ListMultipartUploadsResult xmlns=\"" S3_XML_NS "\">");
    s3x_elem(&x, "Bucket", b);
    s3x_elem(&x, "KeyMarker", marker ? marker : "");
    s3x_elem(&x, "UploadIdMarker", "");
    if (truncated) {
        s3x_elem(&x, "NextKeyMarker", next_key);
        s3x_elem(&x, "NextUploadIdMarker", next_id);
    }
    if (*prefix)
        s3x_elem(&x, "Prefix", prefix);
    snprintf(num, sizeof num, "%lld", (long long)max);
    s3x_elem(&x, "MaxUploads", num);
    s3x_elem(&x, "IsTruncated", truncated ? "true" : "false");
    if (body.p)
        s3x_raw(&x, body.p, body.n);
    bool oom = body.oom;
    s3x_free(&body);
    s3x_str(&x, "</ListMultipartUploadsResult>");
    free(v);
    json_decref(ups);
    if (oom) {
        s3x_free(&x);
        return GT_E_NOMEM;
    }
    c->output = out_status(200);
    out_xml(c->output, &x);
    return GT_OK;
}

/* Decode side of CompleteMultipartUpload: parse the part list, check it
 * against the stored parts, concatenate them into a new durable body. */
typedef struct mpu_read {
    const char *bucket, *key, *id;
    json_t *upload, *parts;
} mpu_read;

static gt_err mpu_read_job(store_txn *t, void *ud)
{
    mpu_read *r = ud;
    r->upload = doc_get(t, "s3.upload", r->id);
    r->parts = json_array();
    if (!r->parts)
        return GT_E_NOMEM;
    if (r->upload && store_doc_list(t, "", "", "s3.part", r->id, 0, false, 0, parts_cb, r->parts) != STORE_OK)
        return GT_E_UNAVAILABLE;
    return GT_OK;
}

static void strip_quotes(const char *in, char *out, size_t cap)
{
    size_t n = strlen(in);
    if (n >= 2 && in[0] == '"' && in[n - 1] == '"') {
        in++;
        n -= 2;
    }
    if (n >= cap)
        n = cap - 1;
    memcpy(out, in, n);
    out[n] = '\0';
}

static gt_err decode_complete(const http_req *req, const char *b, const char *k, json_t *q, json_t *in,
                              char *msg, size_t msgcap)
{
    const char *id = json_string_value(json_object_get(q, "uploadId"));
    s3_store *s = s3_store_default();
    if (!s)
        return GT_E_UNAVAILABLE;
    mpu_read r = {b, k, id, NULL, NULL};
    gt_err e = store_read(s3_store_db(s), mpu_read_job, &r);
    const char *ub = json_string_value(json_object_get(r.upload, "Bucket"));
    const char *uk = json_string_value(json_object_get(r.upload, "Key"));
    xmlDocPtr d = NULL;
    const char **files = NULL;
    json_t *used = json_array();
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (e != GT_OK)
        goto out;
    if (!r.upload || !ub || !uk || strcmp(ub, b) != 0 || strcmp(uk, k) != 0) {
        e = GT_OK;   /* the handler answers NoSuchUpload */
        goto out;
    }
    d = xml_parse(req);
    xmlNodePtr root = d ? xmlDocGetRootElement(d) : NULL;
    if (!root || strcmp((const char *)root->name, "CompleteMultipartUpload") != 0) {
        e = GT_E_S3_MALFORMED_XML;
        goto out;
    }
    size_t n = 0;
    for (xmlNodePtr p = root->children; p; p = p->next)
        if (p->type == XML_ELEMENT_NODE && strcmp((const char *)p->name, "Part") == 0)
            n++;
    if (n == 0 || n > S3_MAX_PARTS) {
        snprintf(msg, msgcap, "You must specify at least one part");
        e = n ? GT_E_S3_MALFORMED_XML : GT_E_S3_INVALID_REQUEST;
        goto out;
    }
    files = calloc(n, sizeof *files);
    if (!files || !used || !md || !EVP_DigestInit_ex(md, EVP_md5(), NULL)) {
        e = GT_E_NOMEM;
        goto out;
    }
    int64_t last = 0;
    size_t i = 0;
    for (xmlNodePtr p = root->children; p; p = p->next) {
        if (p->type != XML_ELEMENT_NODE || strcmp((const char *)p->name, "Part") != 0)
            continue;
        char *pn = xml_text(xml_child(p, "PartNumber"));
        char *et = xml_text(xml_child(p, "ETag"));
        int64_t num = 0;
        bool ok_num = part_number(pn, &num);
        char want[80] = "";
        if (et)
            strip_quotes(et, want, sizeof want);
        xmlFree(pn);
        xmlFree(et);
        if (!ok_num) {
            e = GT_E_S3_MALFORMED_XML;
            goto out;
        }
        if (num <= last) {
            e = GT_E_S3_INVALID_PART_ORDER;
            goto out;
        }
        last = num;
        json_t *part = NULL, *pj;
        size_t j;
        json_array_foreach(r.parts, j, pj) {
            if (json_integer_value(json_object_get(pj, "PartNumber")) == num)
                part = pj;
        }
        const char *etag = json_string_value(json_object_get(part, "ETag"));
        if (!part || !etag || strcmp(etag, want) != 0) {
            e = GT_E_S3_INVALID_PART;
            goto out;
        }
        if (i + 1 < n && json_integer_value(json_object_get(part, "Size")) < S3_MIN_PART_BYTES) {
            e = GT_E_S3_ENTITY_TOO_SMALL;
            goto out;
        }
        unsigned char bin[16];
        if (strlen(etag) != 32 || !gt_unhex(etag, bin, 16) || !EVP_DigestUpdate(md, bin, 16)) {
            e = GT_E_S3_INVALID_PART;
            goto out;
        }
        files[i++] = json_string_value(json_object_get(part, "File"));
        char pid[128];
        snprintf(pid, sizeof pid, "%s/%05lld", id, (long long)num);
        json_array_append_new(used, json_pack("{s:s, s:s}", "Id", pid, "File", files[i - 1]));
    }
    unsigned char dig[16];
    unsigned int dl = 0;
    if (!EVP_DigestFinal_ex(md, dig, &dl)) {
        e = GT_E_INTERNAL;
        goto out;
    }
    char hex[33], etag[40], fname[S3_FNAME_MAX];
    gt_hex(dig, 16, hex);
    snprintf(etag, sizeof etag, "%s-%zu", hex, n);
    int64_t size = 0;
    if ((e = s3_body_concat(s, b, k, files, n, fname, &size)) != GT_OK)
        goto out;
    json_object_set_new(in, "_File", json_string(fname));
    json_object_set_new(in, "_ETag", json_string(etag));
    json_object_set_new(in, "_Size", json_integer((json_int_t)size));
    json_object_set(in, "_Parts", used);
out:
    EVP_MD_CTX_free(md);
    free(files);
    json_decref(used);
    xmlFreeDoc(d);
    json_decref(r.upload);
    json_decref(r.parts);
    return e;
}

/* ---------------------------------------------------------------- CopyObject
 *
 * decode_copy (HTTP worker) resolves x-amz-copy-source against a snapshot
 * and copies the source body into a new durable file; the handler checks
 * access and commits the destination. The copy is the source as of that
 * snapshot, which is a state the source really had. */

typedef struct copy_read {
    const char *bucket, *key;
    json_t *bucket_doc, *obj;
} copy_read;

static gt_err copy_read_job(store_txn *t, void *ud)
{
    copy_read *r = ud;
    r->bucket_doc = s3_bucket_doc(t, r->bucket);
    r->obj = r->bucket_doc ? obj_doc(t, r->bucket, r->key) : NULL;
    return GT_OK;
}

static gt_err decode_copy(const http_req *req, const char *b, const char *k, json_t *in, bool part,
                          char *msg, size_t msgcap)
{
    size_t n = 0;
    const char *v = http_req_header(req, "x-amz-copy-source", &n);
    size_t end = 0;
    while (end < n && v[end] != '?')
        end++;
    char *src = s3_pct_decode(v, end, false);
    if (!src) {
        snprintf(msg, msgcap, "Copy Source must mention the source bucket and key: sourcebucket/sourcekey");
        return GT_E_S3_INVALID_ARGUMENT;
    }
    const char *p = src[0] == '/' ? src + 1 : src;
    const char *slash = strchr(p, '/');
    if (!slash || slash == p || !slash[1] || strlen(slash + 1) > S3_MAX_KEY_BYTES) {
        free(src);
        snprintf(msg, msgcap, "Copy Source must mention the source bucket and key: sourcebucket/sourcekey");
        return GT_E_S3_INVALID_ARGUMENT;
    }
    char *sb = strndup(p, (size_t)(slash - p));
    const char *sk = slash + 1;
    json_object_set_new(in, "_SrcBucket", json_string(sb ? sb : ""));
    json_object_set_new(in, "_SrcKey", json_string(sk));
    s3_store *s = s3_store_default();
    copy_read r = {sb, sk, NULL, NULL};
    gt_err e = sb && s ? store_read(s3_store_db(s), copy_read_job, &r) : GT_E_NOMEM;
    const char *sf = json_string_value(json_object_get(r.obj, "File"));
    int64_t off = 0, len = -1;
    char range[128];
    if (e == GT_OK && sf && part && hdr(req, "x-amz-copy-source-range", range, sizeof range)) {
        /* UploadPartCopy: "bytes=first-last", both given, inside the source */
        int64_t total = json_integer_value(json_object_get(r.obj, "Size")), a = -1, z = -1;
        const char *dash = strncmp(range, "bytes=", 6) == 0 ? strchr(range + 6, '-') : NULL;
        if (!dash || !gt_parse_i64(range + 6, (size_t)(dash - range - 6), &a) ||
            !gt_parse_i64(dash + 1, strlen(dash + 1), &z) || a < 0 || z < a || z >= total) {
            snprintf(msg, msgcap, "Range specified is not valid for source object of size: %lld",
                     (long long)total);
            e = GT_E_S3_INVALID_ARGUMENT;
        } else {
            off = a;
            len = z - a + 1;
        }
    }
    if (e == GT_OK && sf) {
        char fname[S3_FNAME_MAX], etag[33];
        int64_t size = 0;
        e = s3_body_copy(s, sb, sf, off, len, b, k, fname, &size, etag);
        if (e == GT_OK) {
            json_object_set_new(in, "_File", json_string(fname));
            json_object_set_new(in, "_ETag", json_string(etag));
            json_object_set_new(in, "_Size", json_integer((json_int_t)size));
            json_object_set(in, "_Src", r.obj);
        }
    }
    /* a missing source bucket or key is answered by the handler */
    json_decref(r.bucket_doc);
    json_decref(r.obj);
    free(sb);
    free(src);
    return e;
}

static gt_err h_copy_object(gt_call *c, store_txn *t)
{
    const char *b = in_str(c, "Bucket"), *k = in_str(c, "Key");
    const char *sb = in_str(c, "_SrcBucket"), *sk = in_str(c, "_SrcKey");
    json_t *bd;
    gt_err e = bucket_access(c, t, sb, "s3:GetObject", sk, &bd);
    if (e != GT_OK)
        return e;
    json_decref(bd);
    if ((e = own_bucket(c, t, b, &bd)) != GT_OK)
        return e;
    json_decref(bd);
    json_t *src = json_object_get(c->input, "_Src");
    if (!src || !in_str(c, "_File")) {
        set_detail(c, "Key", sk);
        return gt_call_fail(c, GT_E_S3_NO_SUCH_KEY, NULL);
    }
    char dir[16] = "COPY";
    hdr(c->req, "x-amz-metadata-directive", dir, sizeof dir);
    bool replace = strcmp(dir, "REPLACE") == 0;
    if (!replace && strcmp(dir, "COPY") != 0)
        return gt_call_fail(c, GT_E_S3_INVALID_ARGUMENT, "Unknown metadata directive.");
    if (!replace && strcmp(sb, b) == 0 && strcmp(sk, k) == 0)
        return gt_call_fail(c, GT_E_S3_INVALID_REQUEST,
                            "This copy request is illegal because it is trying to copy an object to itself "
                            "without changing the object's metadata, storage class, website redirect "
                            "location or encryption attributes.");
    json_t *meta, *hdrs;
    s3_object_info info = {0};
    if (replace) {
        if ((e = collect_meta(c, &meta, &hdrs)) != GT_OK)
            return e;
        if (!hdr(c->req, "Content-Type", info.content_type, sizeof info.content_type))
            info.content_type[0] = '\0';
    } else {
        meta = json_incref(json_object_get(src, "Meta"));
        hdrs = json_incref(json_object_get(src, "Headers"));
        if (!meta)
            meta = json_object();
        gt_strlcpy(info.content_type, json_string_value(json_object_get(src, "ContentType")) ?: "",
                   sizeof info.content_type);
    }
    gt_strlcpy(info.etag, in_str(c, "_ETag"), sizeof info.etag);
    info.size = json_integer_value(json_object_get(c->input, "_Size"));
    info.last_modified_ms = c->now_ms;
    char old[S3_FNAME_MAX];
    e = commit_object(c, t, b, k, in_str(c, "_File"), &info, meta, hdrs, old);
    json_decref(meta);
    json_decref(hdrs);
    if (e != GT_OK)
        return e;
    char when[25], etag[48];
    gt_fmt_iso_ms(c->now_ms, when);
    snprintf(etag, sizeof etag, "\"%s\"", info.etag);
    s3_xbuf x = {0};
    s3x_str(&x, S3_XML_DECL "<CopyObjectResult xmlns=\"" S3_XML_NS "\">");
    s3x_elem(&x, "LastModified", when);
    s3x_elem(&x, "ETag", etag);
    s3x_str(&x, "</CopyObjectResult>");
    c->output = out_status(200);
    out_xml(c->output, &x);
    if (old[0])
        json_object_set_new(c->output, "_discard", json_pack("[s]", old));
    return GT_OK;
}

static gt_err h_upload_part(gt_call *c, store_txn *t);

/* Objects carry no tags here (PutObjectTagging is not served), so an
 * existing object's tag set is empty; the aws CLI v2 asks for it when it
 * copies large objects. */
static gt_err h_get_object_tagging(gt_call *c, store_txn *t)
{
    const char *b = in_str(c, "Bucket"), *k = in_str(c, "Key");
    json_t *bd;
    gt_err e = own_bucket(c, t, b, &bd);
    if (e != GT_OK)
        return e;
    json_decref(bd);
    json_t *d = obj_doc(t, b, k);
    if (!d) {
        set_detail(c, "Key", k);
        return gt_call_fail(c, GT_E_S3_NO_SUCH_KEY, NULL);
    }
    json_decref(d);
    s3_xbuf x = {0};
    s3x_str(&x, S3_XML_DECL "<Tagging xmlns=\"" S3_XML_NS "\"><TagSet></TagSet></Tagging>");
    c->output = out_status(200);
    out_xml(c->output, &x);
    return GT_OK;
}

static gt_err h_upload_part_copy(gt_call *c, store_txn *t)
{
    const char *sb = in_str(c, "_SrcBucket"), *sk = in_str(c, "_SrcKey");
    json_t *bd;
    gt_err e = bucket_access(c, t, sb, "s3:GetObject", sk, &bd);
    if (e != GT_OK)
        return e;
    json_decref(bd);
    if (!json_object_get(c->input, "_Src") || !in_str(c, "_File")) {
        set_detail(c, "Key", sk);
        return gt_call_fail(c, GT_E_S3_NO_SUCH_KEY, NULL);
    }
    if ((e = h_upload_part(c, t)) != GT_OK)
        return e;
    char when[25], etag[48];
    gt_fmt_iso_ms(c->now_ms, when);
    snprintf(etag, sizeof etag, "\"%s\"", in_str(c, "_ETag"));
    s3_xbuf x = {0};
    s3x_str(&x, S3_XML_DECL "<CopyPartResult xmlns=\"" S3_XML_NS "\">");
    s3x_elem(&x, "LastModified", when);
    s3x_elem(&x, "ETag", etag);
    s3x_str(&x, "</CopyPartResult>");
    out_xml(c->output, &x);
    return GT_OK;
}

/* ---------------------------------------------------------------- listing */

typedef struct obj_ent {
    char *key;
    json_t *doc;
} obj_ent;

typedef struct obj_list {
    obj_ent *v;
    size_t n, cap;
    const char *prefix;
    bool oom;
} obj_list;

static int obj_list_cb(void *ud, int64_t seq, const char *id, const char *body)
{
    obj_list *l = ud;
    json_t *d = json_loads(body, 0, NULL);
    const char *k = json_string_value(json_object_get(d, "Key"));
    if (!k || strncmp(k, l->prefix, strlen(l->prefix)) != 0) {
        json_decref(d);
        return 0;
    }
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 64;
        obj_ent *nv = realloc(l->v, nc * sizeof *nv);
        if (!nv) {
            json_decref(d);
            l->oom = true;
            return 1;
        }
        l->v = nv;
        l->cap = nc;
    }
    l->v[l->n].key = (char *)k;
    l->v[l->n].doc = d;
    l->n++;
    return 0;
}

static int cmp_ent(const void *a, const void *b)
{
    return strcmp(((const obj_ent *)a)->key, ((const obj_ent *)b)->key);
}

static void put_listed(s3_xbuf *x, const char *elem, const char *value, bool url)
{
    if (!value)
        return;
    s3x_str(x, "<");
    s3x_str(x, elem);
    s3x_str(x, ">");
    if (url) {
        s3_xbuf tmp = {0};
        s3x_url_encode(&tmp, value);
        size_t n = 0;
        char *s = s3x_take(&tmp, &n);
        if (s)
            s3x_text(x, s, n);
        free(s);
    } else {
        s3x_text(x, value, strlen(value));
    }
    s3x_str(x, "</");
    s3x_str(x, elem);
    s3x_str(x, ">");
}

static gt_err h_list_objects_any(gt_call *c, store_txn *t, bool v2)
{
    const char *b = in_str(c, "Bucket");
    json_t *bd;
    gt_err e = own_bucket(c, t, b, &bd);
    if (e != GT_OK)
        return e;
    json_decref(bd);
    const char *prefix = q_get(c, "prefix") ? q_get(c, "prefix") : "";
    const char *delim = q_get(c, "delimiter");
    if (delim && !*delim)
        delim = NULL;
    const char *enc = q_get(c, "encoding-type");
    if (enc && strcmp(enc, "url") != 0) {
        set_detail(c, "ArgumentName", "encoding-type");
        set_detail(c, "ArgumentValue", enc);
        return gt_call_fail(c, GT_E_S3_INVALID_ARGUMENT, "Invalid Encoding Method specified in Request");
    }
    bool url = enc != NULL;
    int64_t max = S3_MAX_LIST_KEYS;
    const char *mk = q_get(c, "max-keys");
    if (mk && (!gt_parse_i64(mk, strlen(mk), &max) || max < 0)) {
        set_detail(c, "ArgumentName", "max-keys");
        set_detail(c, "ArgumentValue", mk);
        return gt_call_fail(c, GT_E_S3_INVALID_ARGUMENT, "Provided max-keys not an integer or within integer range");
    }
    if (max > S3_MAX_LIST_KEYS)
        max = S3_MAX_LIST_KEYS;
    const char *marker = v2 ? NULL : q_get(c, "marker");
    const char *start_after = v2 ? q_get(c, "start-after") : NULL;
    const char *token = v2 ? q_get(c, "continuation-token") : NULL;
    char *token_key = NULL;
    if (token) {
        size_t tl = strlen(token);
        token_key = malloc(tl / 2 + 1);
        if (!token_key || tl == 0 || tl % 2 || tl > 2 * (S3_MAX_KEY_BYTES + 1) ||
            !gt_unhex(token, (unsigned char *)token_key, tl / 2) || memchr(token_key, 0, tl / 2)) {
            free(token_key);
            set_detail(c, "ArgumentName", "continuation-token");
            return gt_call_fail(c, GT_E_S3_INVALID_ARGUMENT, "The continuation token provided is incorrect");
        }
        token_key[tl / 2] = '\0';
    }
    const char *after = token_key ? token_key : v2 ? start_after : marker;
    bool fetch_owner = !v2 || (q_get(c, "fetch-owner") && strcmp(q_get(c, "fetch-owner"), "true") == 0);

    obj_list l = {.prefix = prefix};
    if (store_doc_list(t, "", "", "s3.obj", b, 0, false, 0, obj_list_cb, &l) != STORE_OK || l.oom) {
        for (size_t i = 0; i < l.n; i++)
            json_decref(l.v[i].doc);
        free(l.v);
        free(token_key);
        return l.oom ? GT_E_NOMEM : GT_E_UNAVAILABLE;
    }
    if (l.n)
        qsort(l.v, l.n, sizeof *l.v, cmp_ent);
    char oid[65];
    owner_id(c->account, oid);

    s3_xbuf body = {0};
    int64_t count = 0;
    bool truncated = false;
    char *last = NULL;          /* last entry listed (key or common prefix) */
    size_t plen = strlen(prefix);
    s3_xbuf cps = {0};          /* CommonPrefixes come after Contents */
    for (size_t i = 0; i < l.n; i++) {
        const char *k = l.v[i].key;
        /* the entry: the key, or its common prefix */
        size_t elen = strlen(k);
        bool is_cp = false;
        if (delim) {
            const char *hit = strstr(k + plen, delim);
            if (hit) {
                elen = (size_t)(hit - k) + strlen(delim);
                is_cp = true;
            }
        }
        if (after && (strncmp(k, after, elen) < 0 || (strncmp(k, after, elen) == 0 && elen <= strlen(after))))
            continue;   /* entry <= after */
        if (last && is_cp && strlen(last) == elen && strncmp(last, k, elen) == 0)
            continue;   /* same common prefix again */
        if (count >= max) {
            truncated = max > 0;   /* max-keys=0: an empty, complete page (no paging loop) */
            break;
        }
        free(last);
        last = strndup(k, elen);
        if (!last) {
            body.oom = true;
            break;
        }
        count++;
        if (is_cp) {
            s3x_str(&cps, "<CommonPrefixes>");
            put_listed(&cps, "Prefix", last, url);
            s3x_str(&cps, "</CommonPrefixes>");
            continue;
        }
        json_t *d = l.v[i].doc;
        char when[25], etag[80], size[24];
        gt_fmt_iso_ms(json_integer_value(json_object_get(d, "LastModified")), when);
        snprintf(etag, sizeof etag, "\"%s\"", json_string_value(json_object_get(d, "ETag")));
        snprintf(size, sizeof size, "%lld", (long long)json_integer_value(json_object_get(d, "Size")));
        s3x_str(&body, "<Contents>");
        put_listed(&body, "Key", k, url);
        s3x_elem(&body, "LastModified", when);
        s3x_elem(&body, "ETag", etag);
        s3x_elem(&body, "Size", size);
        if (fetch_owner) {
            s3x_str(&body, "<Owner>");
            s3x_elem(&body, "ID", oid);
            s3x_elem(&body, "DisplayName", c->account);
            s3x_str(&body, "</Owner>");
        }
        s3x_elem(&body, "StorageClass", "STANDARD");
        s3x_str(&body, "</Contents>");
    }
    s3_xbuf x = {0};
    char num[24];
    s3x_str(&x, S3_XML_DECL "<ListBucketResult xmlns=\"" S3_XML_NS "\">");
    s3x_elem(&x, "Name", b);
    put_listed(&x, "Prefix", prefix, url);
    if (!v2)
        put_listed(&x, "Marker", marker ? marker : "", url);
    if (v2 && token)
        s3x_elem(&x, "ContinuationToken", token);
    if (v2 && truncated && last) {
        s3_xbuf tk = {0};
        char *hex = malloc(strlen(last) * 2 + 1);
        if (hex) {
            gt_hex((const unsigned char *)last, strlen(last), hex);
            s3x_elem(&x, "NextContinuationToken", hex);
        }
        free(hex);
        s3x_free(&tk);
    }
    if (v2) {
        snprintf(num, sizeof num, "%lld", (long long)count);
        s3x_elem(&x, "KeyCount", num);
    }
    snprintf(num, sizeof num, "%lld", (long long)max);
    s3x_elem(&x, "MaxKeys", num);
    if (delim)
        put_listed(&x, "Delimiter", delim, url);
    s3x_elem(&x, "IsTruncated", truncated ? "true" : "false");
    if (!v2 && truncated && last)
        put_listed(&x, "NextMarker", last, url);
    if (v2 && start_after)
        put_listed(&x, "StartAfter", start_after, url);
    if (body.p)
        s3x_raw(&x, body.p, body.n);
    if (cps.p)
        s3x_raw(&x, cps.p, cps.n);
    if (url)
        s3x_elem(&x, "EncodingType", "url");
    s3x_str(&x, "</ListBucketResult>");
    bool oom = body.oom || cps.oom;
    s3x_free(&body);
    s3x_free(&cps);
    free(last);
    free(token_key);
    for (size_t i = 0; i < l.n; i++)
        json_decref(l.v[i].doc);
    free(l.v);
    if (oom) {
        s3x_free(&x);
        return GT_E_NOMEM;
    }
    c->output = out_status(200);
    out_xml(c->output, &x);
    return GT_OK;
}

static gt_err h_list_objects(gt_call *c, store_txn *t)
{
    return h_list_objects_any(c, t, false);
}

static gt_err h_list_objects_v2(gt_call *c, store_txn *t)
{
    return h_list_objects_any(c, t, true);
}

/* ---------------------------------------------------------------- service hooks */

static const struct {
    const char *op;
    gt_handler h;
    bool recorded;   /* bucket-level management call: a CloudTrail event */
} handlers[] = {
    {"AbortMultipartUpload", h_abort_mpu, false},
    {"CompleteMultipartUpload", h_complete_mpu, false},
    {"CopyObject", h_copy_object, false},
    {"CreateBucket", h_create_bucket, true},
    {"CreateMultipartUpload", h_create_mpu, false},
    {"DeleteBucket", h_delete_bucket, true},
    {"DeleteBucketPolicy", h_delete_bucket_policy, true},
    {"DeleteObject", h_delete_object, false},
    {"DeleteObjects", h_delete_objects, false},
    {"GetBucketLocation", h_get_bucket_location, true},
    {"GetBucketPolicy", h_get_bucket_policy, true},
    {"GetObject", h_get_object, false},
    {"GetObjectTagging", h_get_object_tagging, false},
    {"HeadBucket", h_head_bucket, true},
    {"HeadObject", h_head_object, false},
    {"ListBuckets", h_list_buckets, true},
    {"ListMultipartUploads", h_list_mpus, false},
    {"ListObjects", h_list_objects, false},
    {"ListObjectsV2", h_list_objects_v2, false},
    {"ListParts", h_list_parts, false},
    {"PutBucketPolicy", h_put_bucket_policy, true},
    {"PutObject", h_put_object, false},
    {"UploadPart", h_upload_part, false},
    {"UploadPartCopy", h_upload_part_copy, false},
};

static gt_handler s3_handler_for(const char *op)
{
    for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++)
        if (strcmp(handlers[i].op, op) == 0)
            return handlers[i].h;
    return NULL;
}

static bool s3_recorded(const gt_call *c)
{
    for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++)
        if (strcmp(handlers[i].op, c->op->name) == 0)
            return handlers[i].recorded;
    return false;
}

/* requestParameters as S3's CloudTrail records spell them. */
static void s3_record_parts(const gt_call *c, ct_record_parts *p)
{
    json_t *rp = json_object();
    const char *b = in_str(c, "Bucket");
    const char *op = c->op->name;
    if (b)
        json_object_set_new(rp, "bucketName", json_string(b));
    size_t hl = 0;
    const char *host = http_req_header(c->req, "Host", &hl);
    if (host)
        json_object_set_new(rp, "Host", json_stringn(host, hl > 255 ? 255 : hl));
    if (strcmp(op, "GetBucketLocation") == 0)
        json_object_set_new(rp, "location", json_string(""));
    if (strstr(op, "BucketPolicy"))
        json_object_set_new(rp, "policy", json_string(""));
    json_t *pol = json_object_get(c->input, "_policy");
    if (pol)
        json_object_set(rp, "bucketPolicy", pol);
    const char *lc = in_str(c, "LocationConstraint");
    if (strcmp(op, "CreateBucket") == 0 && lc)
        json_object_set_new(rp, "CreateBucketConfiguration",
                            json_pack("{s:s, s:s}", "LocationConstraint", lc, "xmlns", S3_XML_NS));
    p->request_parameters = rp;
    p->response_elements = NULL;
    p->with_error_message = true;
}

static gt_err s3_map_error(const model_op *op, gt_err e, const char *msg)
{
    return e;
}

/* Generic errors in S3's vocabulary. */
static void s3_code(gt_err e, const char **code, int *status, const char **dmsg)
{
    *code = gt_err_code(e);
    *status = gt_err_status(e);
    *dmsg = NULL;
    switch (e) {
    case GT_E_INVALID_SIGNATURE:
        *code = "SignatureDoesNotMatch";
        *dmsg = gt_err_message(GT_E_S3_SIGNATURE_MISMATCH);
        break;
    case GT_E_SIGNATURE_EXPIRED:
        *code = "RequestTimeTooSkewed";
        break;
    case GT_E_UNRECOGNIZED_CLIENT:
        *code = "InvalidAccessKeyId";
        *dmsg = "The AWS Access Key Id you provided does not exist in our records.";
        break;
    case GT_E_EXPIRED_TOKEN:
        *code = "ExpiredToken";
        *status = 400;
        break;
    case GT_E_MISSING_AUTH:
    case GT_E_ACCESS_DENIED:
        *code = "AccessDenied";
        *status = 403;
        *dmsg = "Access Denied";
        break;
    case GT_E_INCOMPLETE_SIGNATURE:
        *code = "AuthorizationHeaderMalformed";
        *status = 400;
        break;
    case GT_E_INTERNAL:
        *code = "InternalError";
        *dmsg = "We encountered an internal error. Please try again.";
        break;
    case GT_E_UNAVAILABLE:
    case GT_E_NOMEM:
        *code = "ServiceUnavailable";
        *dmsg = "Please reduce your request rate.";
        break;
    case GT_E_BODY_TOO_LARGE:
        *code = "EntityTooLarge";
        *status = 400;
        break;
    case GT_E_VALIDATION:
    case GT_E_SERIALIZATION:
        *code = "InvalidArgument";
        *status = 400;
        break;
    case GT_E_NOT_FOUND_ROUTE:
    case GT_E_UNKNOWN_OPERATION:
        *code = "MethodNotAllowed";
        *status = 405;
        break;
    default:
        break;
    }
}

static void std_headers(const gt_call *c, http_resp *out)
{
    http_resp_add_header(out, "x-amz-request-id", out->request_id);
    http_resp_add_header(out, "x-amz-id-2", out->request_id);
}

/* Remove body files the call made obsolete (after the commit) or created
 * for nothing (on failure). */
static void discard_files(const gt_call *c, json_t *names)
{
    s3_store *s = s3_store_default();
    const char *b = in_str(c, "Bucket");
    size_t i;
    json_t *v;
    if (!s || !b)
        return;
    json_array_foreach(names, i, v)
        s3_body_discard(s, b, json_string_value(v));
}

static void close_fd(const gt_call *c)
{
    json_t *fd = c->output ? json_object_get(c->output, "_fd") : NULL;
    if (fd) {
        close((int)json_integer_value(fd));
        json_object_del(c->output, "_fd");
    }
}

static void s3_encode_error(const gt_call *c, gt_err e, const char *msg, json_t *details, bool untyped,
                            http_resp *out)
{
    if (c) {
        close_fd(c);
        const char *f = in_str(c, "_File");
        if (f) {
            json_t *one = json_pack("[s]", f);
            discard_files(c, one);
            json_decref(one);
        }
    }
    const char *code, *dmsg;
    int status;
    s3_code(e, &code, &status, &dmsg);
    if (dmsg && (!msg || !*msg || strcmp(msg, gt_err_message(e)) == 0))
        msg = dmsg;
    out->status = status;
    out->content_type = "application/xml";
    out->error_type[0] = '\0';
    std_headers(c, out);
    if (c && c->req && strcmp(c->req->method, "HEAD") == 0) {
        out->content_type = NULL;
        return;
    }
    s3_xbuf x = {0};
    s3x_str(&x, S3_XML_DECL "<Error>");
    s3x_elem(&x, "Code", code);
    s3x_elem(&x, "Message", msg ? msg : "");
    const char *k;
    json_t *v;
    json_object_foreach(details, k, v)
        if (json_is_string(v))
            s3x_elem(&x, k, json_string_value(v));
    s3x_elem(&x, "RequestId", out->request_id);
    s3x_elem(&x, "HostId", out->request_id);
    s3x_str(&x, "</Error>");
    out->body = s3x_take(&x, &out->body_len);
}

static void s3_encode_ok(const gt_call *c, http_resp *out)
{
    json_t *o = c->output;
    out->status = o ? (int)json_integer_value(json_object_get(o, "_status")) : 200;
    if (out->status == 0)
        out->status = 200;
    out->content_type = NULL;
    std_headers(c, out);
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(o, "_headers"), k, v)
        http_resp_add_header(out, k, json_string_value(v));
    discard_files(c, json_object_get(o, "_discard"));
    const char *xml = json_string_value(json_object_get(o, "_xml"));
    const char *raw = json_string_value(json_object_get(o, "_raw"));
    if (xml) {
        out->content_type = "application/xml";
        out->body = strdup(xml);
        out->body_len = out->body ? strlen(out->body) : 0;
        return;
    }
    if (raw) {
        out->content_type = "application/json";
        out->body = strdup(raw);
        out->body_len = out->body ? strlen(out->body) : 0;
        return;
    }
    json_t *ct = json_object_get(o, "_ctype");
    if (ct)
        http_resp_add_header(out, "Content-Type", json_string_value(ct));
    if (!json_object_get(o, "_len"))
        return;
    int64_t start = json_integer_value(json_object_get(o, "_start"));
    size_t len = (size_t)json_integer_value(json_object_get(o, "_len"));
    json_t *fdj = json_object_get(o, "_fd");
    if (!fdj)
        return;   /* empty object */
    /* the HTTP layer streams the byte range straight from the file (not at all for HEAD) */
    out->body_is_fd = true;
    out->body_fd = (int)json_integer_value(fdj);
    out->body_fd_offset = start;
    out->body_len = len;
    json_object_del(o, "_fd");
}

const gt_service s3_service = {
    .signing_name = "s3",
    .model = &model_s3,
    .decode = s3_decode,
    .handler_for = s3_handler_for,
    .record_parts = s3_record_parts,
    .map_error = s3_map_error,
    .encode_ok = s3_encode_ok,
    .encode_error = s3_encode_error,
    .recorded = s3_recorded,
};
