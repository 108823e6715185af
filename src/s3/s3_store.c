/*
 * s3_store.c: the built-in S3 bucket store (buckets, object metadata,
 * object bodies on disk).
 *
 * What: bucket documents (kind "s3.bucket", id = bucket name) and object
 * metadata documents (kind "s3.obj", id = "<bucket>/<key>", parent = the
 * bucket) live in the store under account "" and region "" (bucket names
 * are global). Object bodies are files:
 *     DATA_DIR/s3/<sha256(bucket)[0..32)>/<sha256(key)>.<16 random hex>
 *
 * Why two phases: writing and fsync'ing a body must not happen on the
 * store's single writer thread (it would stall every other call), and the
 * metadata must only name a body that is already durable. So phase 1
 * (s3_body_write, any thread) writes a NEW file under a temporary name,
 * fsyncs it, renames it to its final unique name and fsyncs the directory;
 * phase 2 (s3_object_commit, inside a store job) points the metadata at
 * it. The replaced body is unlinked only after the job committed.
 *
 * Invariants:
 *  - A half-written object is never visible: metadata names only files
 *    that were complete and durable before the metadata was written.
 *  - Each PUT writes a fresh file name, so an overwrite never changes
 *    bytes a reader (or an uncommitted metadata row) refers to; readers
 *    that opened a file keep it readable after it is unlinked.
 *  - Files not named by any metadata (object docs "s3.obj" or multipart
 *    part docs "s3.part"; crash between phases, temporary files) are
 *    removed by s3_store_open before the server serves.
 */
#include "s3/s3_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <openssl/evp.h>

#include "util/gtutil.h"

#define S3_KIND_BUCKET "s3.bucket"
#define S3_KIND_OBJ "s3.obj"
#define S3_MAX_ID 2048      /* bucket (63) + '/' + key (1024 bytes max in S3) with margin */

struct s3_store {
    store *st;
    char root[PATH_MAX];    /* DATA_DIR/s3 */
};

static _Atomic(s3_store *) default_store;

void s3_store_set_default(s3_store *s)
{
    atomic_store(&default_store, s);
}

s3_store *s3_store_default(void)
{
    return atomic_load(&default_store);
}

store *s3_store_db(s3_store *s)
{
    return s->st;
}

/* ---------------------------------------------------------------- paths */

static void sha256_hex(const char *s, char out[65])
{
    unsigned char d[32];
    unsigned int dl = 0;
    if (!EVP_Digest(s, strlen(s), d, &dl, EVP_sha256(), NULL) || dl != 32)
        memset(d, 0, sizeof d);
    gt_hex(d, 32, out);
}

static bool bucket_dir(const s3_store *s, const char *bucket, char *out, size_t cap)
{
    char h[65];
    sha256_hex(bucket, h);
    h[32] = '\0';
    int n = snprintf(out, cap, "%s/%s", s->root, h);
    return n > 0 && (size_t)n < cap;
}

/* A body file name is <64 hex>.<16 hex>; anything else is refused, so a
 * name read back from a document can never escape the bucket directory. */
static bool fname_ok(const char *f)
{
    size_t n = strlen(f);
    if (n != 64 + 1 + 16 || f[64] != '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        if (i == 64)
            continue;
        char c = f[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return true;
}

static bool body_path(const s3_store *s, const char *bucket, const char *fname, char *out,
                      size_t cap)
{
    char dir[PATH_MAX];
    if (!fname_ok(fname) || !bucket_dir(s, bucket, dir, sizeof dir))
        return false;
    int n = snprintf(out, cap, "%s/%s", dir, fname);
    return n > 0 && (size_t)n < cap;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static int ensure_dir(const char *dir, const char *parent)
{
    if (mkdir(dir, 0700) == 0)
        return parent ? fsync_dir(parent) : 0;
    return errno == EEXIST ? 0 : -1;
}

/* ---------------------------------------------------------------- open / orphans */

typedef struct name_set {
    char **v;
    size_t n, cap;
    bool oom;
} name_set;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int collect_cb(void *ud, int64_t seq, const char *id, const char *body)
{
    struct {
        name_set *ns;
        const s3_store *s;
    } *c = ud;
    json_t *doc = json_loads(body, 0, NULL);
    const char *f = json_string_value(json_object_get(doc, "File"));
    const char *b = json_string_value(json_object_get(doc, "Bucket"));
    if (f && b) {
        char dir[PATH_MAX], rel[256];
        if (bucket_dir(c->s, b, dir, sizeof dir)) {
            const char *slash = strrchr(dir, '/');
            if (snprintf(rel, sizeof rel, "%s/%s", slash ? slash + 1 : dir, f) >= (int)sizeof rel) {
                json_decref(doc);
                return 0;
            }
            name_set *ns = c->ns;
            if (ns->n == ns->cap) {
                size_t nc = ns->cap ? ns->cap * 2 : 256;
                char **nv = realloc(ns->v, nc * sizeof *nv);
                if (!nv) {
                    ns->oom = true;
                    json_decref(doc);
                    return 1;
                }
                ns->v = nv;
                ns->cap = nc;
            }
            ns->v[ns->n] = strdup(rel);
            if (!ns->v[ns->n])
                ns->oom = true;
            else
                ns->n++;
        }
    }
    json_decref(doc);
    return 0;
}

static gt_err collect_job(store_txn *t, void *ud)
{
    /* bodies named by objects, and by parts of unfinished multipart uploads */
    int rc = store_doc_list(t, "", "", S3_KIND_OBJ, NULL, 0, false, 0, collect_cb, ud);
    if (rc == STORE_OK)
        rc = store_doc_list(t, "", "", "s3.part", NULL, 0, false, 0, collect_cb, ud);
    return rc == STORE_OK ? GT_OK : GT_E_UNAVAILABLE;
}

/* Remove temporary files and bodies no metadata names; remove empty
 * bucket directories. Returns the number of files removed, -1 on error. */
static long clean_orphans(s3_store *s)
{
    name_set ns = {0};
    struct {
        name_set *ns;
        const s3_store *s;
    } cc = {&ns, s};
    long removed = 0;
    if (store_read(s->st, collect_job, &cc) != GT_OK || ns.oom) {
        removed = -1;
        goto out;
    }
    if (ns.n)
        qsort(ns.v, ns.n, sizeof *ns.v, cmp_str);
    DIR *root = opendir(s->root);
    if (!root) {
        removed = -1;
        goto out;
    }
    struct dirent *de;
    while ((de = readdir(root)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char dir[PATH_MAX];
        if (snprintf(dir, sizeof dir, "%s/%s", s->root, de->d_name) >= (int)sizeof dir)
            continue;
        DIR *d = opendir(dir);
        if (!d)
            continue;
        bool any = false, changed = false;
        struct dirent *fe;
        while ((fe = readdir(d)) != NULL) {
            if (strcmp(fe->d_name, ".") == 0 || strcmp(fe->d_name, "..") == 0)
                continue;
            char rel[600], path[PATH_MAX];
            if (snprintf(rel, sizeof rel, "%s/%s", de->d_name, fe->d_name) >= (int)sizeof rel)
                continue;
            const char *key = rel;
            bool keep = ns.n && bsearch(&key, ns.v, ns.n, sizeof *ns.v, cmp_str) != NULL;
            if (keep) {
                any = true;
                continue;
            }
            if (snprintf(path, sizeof path, "%s/%s", dir, fe->d_name) >= (int)sizeof path)
                continue;
            if (unlink(path) == 0) {
                removed++;
                changed = true;
            }
        }
        closedir(d);
        if (changed)
            fsync_dir(dir);
        if (!any)
            rmdir(dir);
    }
    closedir(root);
out:
    for (size_t i = 0; i < ns.n; i++)
        free(ns.v[i]);
    free(ns.v);
    return removed;
}

s3_store *s3_store_open(store *st, const char *data_dir, char *err, size_t errcap)
{
    s3_store *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errcap, "s3 store: out of memory");
        return NULL;
    }
    s->st = st;
    xmlInitParser();   /* once, before request threads parse S3 XML bodies */
    int n = snprintf(s->root, sizeof s->root, "%s/s3", data_dir);
    if (n <= 0 || (size_t)n >= sizeof s->root) {
        snprintf(err, errcap, "s3 store: data dir path too long");
        free(s);
        return NULL;
    }
    if (ensure_dir(s->root, data_dir) != 0) {
        snprintf(err, errcap, "s3 store: cannot create %s: %s", s->root, strerror(errno));
        free(s);
        return NULL;
    }
    if (clean_orphans(s) < 0) {
        snprintf(err, errcap, "s3 store: cannot scan %s for orphaned object files", s->root);
        free(s);
        return NULL;
    }
    return s;
}

void s3_store_close(s3_store *s)
{
    if (!s)
        return;
    s3_store *cur = s;
    atomic_compare_exchange_strong(&default_store, &cur, NULL);
    free(s);
}

/* ---------------------------------------------------------------- bodies */

gt_err s3_body_write(s3_store *s, const char *bucket, const char *key, const void *data,
                     size_t len, char fname[S3_FNAME_MAX], char etag[33])
{
    char dir[PATH_MAX], tmp[PATH_MAX], fin[PATH_MAX], kh[65], rnd[17];
    if (!bucket_dir(s, bucket, dir, sizeof dir) || ensure_dir(dir, s->root) != 0)
        return GT_E_UNAVAILABLE;
    if (!gt_random_chars(rnd, 16, "0123456789abcdef"))
        return GT_E_UNAVAILABLE;
    sha256_hex(key, kh);
    snprintf(fname, S3_FNAME_MAX, "%s.%s", kh, rnd);
    if (snprintf(tmp, sizeof tmp, "%s/.tmp.%s", dir, rnd) >= (int)sizeof tmp ||
        snprintf(fin, sizeof fin, "%s/%s", dir, fname) >= (int)sizeof fin)
        return GT_E_UNAVAILABLE;

    unsigned char md[16];
    unsigned int mdl = 0;
    if (!EVP_Digest(data ? data : "", len, md, &mdl, EVP_md5(), NULL) || mdl != 16)
        return GT_E_UNAVAILABLE;
    gt_hex(md, 16, etag);

    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return GT_E_UNAVAILABLE;
    const unsigned char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            goto fail;
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0)
        goto fail;
    if (close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (rename(tmp, fin) != 0)
        goto fail;
    if (fsync_dir(dir) != 0) {
        unlink(fin);
        return GT_E_UNAVAILABLE;
    }
    return GT_OK;
fail:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return GT_E_UNAVAILABLE;
}

/* Concatenate body files parts[0..n) of src_bucket into a new durable
 * body file for (bucket, key); md5_hex (33 bytes) gets the MD5 of the
 * result when non-NULL. */
static gt_err concat_files(s3_store *s, const char *src_bucket, const char *const *parts, size_t n_parts,
                           int64_t off, int64_t limit, const char *bucket, const char *key,
                           char fname[S3_FNAME_MAX], int64_t *size_out, char *md5_hex)
{
    char dir[PATH_MAX], tmp[PATH_MAX], fin[PATH_MAX], kh[65], rnd[17];
    *size_out = 0;
    if (!bucket_dir(s, bucket, dir, sizeof dir) || ensure_dir(dir, s->root) != 0)
        return GT_E_UNAVAILABLE;
    if (!gt_random_chars(rnd, 16, "0123456789abcdef"))
        return GT_E_UNAVAILABLE;
    sha256_hex(key, kh);
    snprintf(fname, S3_FNAME_MAX, "%s.%s", kh, rnd);
    if (snprintf(tmp, sizeof tmp, "%s/.tmp.%s", dir, rnd) >= (int)sizeof tmp ||
        snprintf(fin, sizeof fin, "%s/%s", dir, fname) >= (int)sizeof fin)
        return GT_E_UNAVAILABLE;
    EVP_MD_CTX *md = md5_hex ? EVP_MD_CTX_new() : NULL;
    if (md5_hex && (!md || !EVP_DigestInit_ex(md, EVP_md5(), NULL))) {
        EVP_MD_CTX_free(md);
        return GT_E_NOMEM;
    }
    enum { BLOCK = 1 << 20 };
    unsigned char *buf = malloc(BLOCK);
    if (!buf) {
        EVP_MD_CTX_free(md);
        return GT_E_NOMEM;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        EVP_MD_CTX_free(md);
        free(buf);
        return GT_E_UNAVAILABLE;
    }
    int64_t total = 0;
    for (size_t i = 0; i < n_parts; i++) {
        int in = s3_body_open(s, src_bucket, parts[i]);
        if (in < 0)
            goto fail;
        if (off > 0 && lseek(in, (off_t)off, SEEK_SET) < 0) {
            close(in);
            goto fail;
        }
        for (;;) {
            size_t want = BLOCK;
            if (limit >= 0 && (int64_t)want > limit - total)
                want = (size_t)(limit - total);
            if (want == 0)
                break;
            ssize_t r = read(in, buf, want);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0) {
                close(in);
                goto fail;
            }
            if (r == 0)
                break;
            for (ssize_t done = 0; done < r;) {
                ssize_t w = write(fd, buf + done, (size_t)(r - done));
                if (w < 0 && errno == EINTR)
                    continue;
                if (w <= 0) {
                    close(in);
                    goto fail;
                }
                done += w;
            }
            if (md && !EVP_DigestUpdate(md, buf, (size_t)r)) {
                close(in);
                goto fail;
            }
            total += r;
        }
        close(in);
    }
    free(buf);
    buf = NULL;
    if (md) {
        unsigned char d[16];
        unsigned int dl = 0;
        if (!EVP_DigestFinal_ex(md, d, &dl) || dl != 16)
            goto fail;
        gt_hex(d, 16, md5_hex);
        EVP_MD_CTX_free(md);
        md = NULL;
    }
    if (fsync(fd) != 0)
        goto fail;
    if (close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (rename(tmp, fin) != 0)
        goto fail;
    if (fsync_dir(dir) != 0) {
        unlink(fin);
        return GT_E_UNAVAILABLE;
    }
    *size_out = total;
    return GT_OK;
fail:
    EVP_MD_CTX_free(md);
    free(buf);
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return GT_E_UNAVAILABLE;
}

gt_err s3_body_concat(s3_store *s, const char *bucket, const char *key, const char *const *parts,
                      size_t n_parts, char fname[S3_FNAME_MAX], int64_t *size_out)
{
    return concat_files(s, bucket, parts, n_parts, 0, -1, bucket, key, fname, size_out, NULL);
}

gt_err s3_body_copy(s3_store *s, const char *src_bucket, const char *src_fname, int64_t off, int64_t len,
                    const char *bucket, const char *key, char fname[S3_FNAME_MAX], int64_t *size_out,
                    char etag[33])
{
    const char *parts[1] = {src_fname};
    return concat_files(s, src_bucket, parts, 1, off, len, bucket, key, fname, size_out, etag);
}

void s3_body_discard(s3_store *s, const char *bucket, const char *fname)
{
    char path[PATH_MAX];
    if (!fname || !*fname || !body_path(s, bucket, fname, path, sizeof path))
        return;
    unlink(path);
}

int s3_body_open(s3_store *s, const char *bucket, const char *fname)
{
    char path[PATH_MAX];
    if (!body_path(s, bucket, fname, path, sizeof path))
        return -1;
    return open(path, O_RDONLY | O_CLOEXEC);
}

/* ---------------------------------------------------------------- metadata */

json_t *s3_bucket_doc(store_txn *t, const char *bucket)
{
    store_key k = {"", "", S3_KIND_BUCKET, bucket};
    char *body = NULL;
    if (store_doc_get(t, &k, &body) != STORE_OK)
        return NULL;
    json_t *doc = json_loads(body, 0, NULL);
    free(body);
    return doc;
}

static bool obj_id(const char *bucket, const char *key, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/%s", bucket, key);
    return n > 0 && (size_t)n < cap;
}

gt_err s3_object_commit(store_txn *t, const char *bucket, const char *key, const char *fname,
                        const s3_object_info *info, const char *meta_json,
                        char old_fname[S3_FNAME_MAX])
{
    old_fname[0] = '\0';
    json_t *b = s3_bucket_doc(t, bucket);
    if (!b)
        return GT_E_S3_NO_SUCH_BUCKET;
    json_decref(b);
    char id[S3_MAX_ID];
    if (!obj_id(bucket, key, id, sizeof id))
        return GT_E_VALIDATION;
    store_key k = {"", "", S3_KIND_OBJ, id};
    char *prev = NULL;
    int rc = store_doc_get(t, &k, &prev);
    if (rc == STORE_OK) {
        json_t *pd = json_loads(prev, 0, NULL);
        const char *pf = json_string_value(json_object_get(pd, "File"));
        if (pf)
            gt_strlcpy(old_fname, pf, S3_FNAME_MAX);
        json_decref(pd);
        free(prev);
    } else if (rc != STORE_NOTFOUND) {
        return GT_E_UNAVAILABLE;
    }
    json_t *meta = meta_json ? json_loads(meta_json, 0, NULL) : NULL;
    if (meta && !json_is_object(meta)) {
        json_decref(meta);
        meta = NULL;
    }
    json_t *doc = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:o}", "Bucket", bucket, "Key", key,
                            "File", fname, "ETag", info->etag, "Size", (json_int_t)info->size,
                            "LastModified", (json_int_t)info->last_modified_ms, "ContentType",
                            info->content_type[0] ? info->content_type : "binary/octet-stream",
                            "Meta", meta ? meta : json_object());
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!text)
        return GT_E_NOMEM;
    rc = store_doc_put(t, &k, bucket, text);
    free(text);
    return rc == STORE_OK ? GT_OK : GT_E_UNAVAILABLE;
}

/* ---------------------------------------------------------------- whole-object API */

typedef struct bucket_read {
    const char *bucket;
    json_t *doc;
} bucket_read;

static gt_err bucket_read_job(store_txn *t, void *ud)
{
    bucket_read *r = ud;
    r->doc = s3_bucket_doc(t, r->bucket);
    return GT_OK;
}

bool s3_bucket_exists(s3_store *s, const char *bucket, char owner[16], char region[32])
{
    bucket_read r = {bucket, NULL};
    if (store_read(s->st, bucket_read_job, &r) != GT_OK || !r.doc)
        return false;
    if (owner)
        gt_strlcpy(owner, json_string_value(json_object_get(r.doc, "Owner")) ?: "", 16);
    if (region)
        gt_strlcpy(region, json_string_value(json_object_get(r.doc, "Region")) ?: "", 32);
    json_decref(r.doc);
    return true;
}

char *s3_bucket_policy(s3_store *s, const char *bucket)
{
    bucket_read r = {bucket, NULL};
    if (store_read(s->st, bucket_read_job, &r) != GT_OK || !r.doc)
        return NULL;
    const char *p = json_string_value(json_object_get(r.doc, "Policy"));
    char *out = p ? strdup(p) : NULL;
    json_decref(r.doc);
    return out;
}

typedef struct put_job {
    const char *bucket, *key, *fname, *meta;
    const s3_object_info *info;
    char old[S3_FNAME_MAX];
} put_job;

static gt_err put_job_fn(store_txn *t, void *ud)
{
    put_job *p = ud;
    return s3_object_commit(t, p->bucket, p->key, p->fname, p->info, p->meta, p->old);
}

gt_err s3_object_put(s3_store *s, const char *bucket, const char *key, const void *data,
                     size_t len, const char *content_type, const char *meta_json,
                     s3_object_info *info_out)
{
    s3_object_info info = {0};
    char fname[S3_FNAME_MAX];
    gt_err e = s3_body_write(s, bucket, key, data, len, fname, info.etag);
    if (e != GT_OK)
        return e;
    info.size = (int64_t)len;
    info.last_modified_ms = gt_now_ms();
    gt_strlcpy(info.content_type, content_type ? content_type : "", sizeof info.content_type);
    put_job p = {bucket, key, fname, meta_json, &info, ""};
    e = store_run(s->st, put_job_fn, &p);
    if (e != GT_OK) {
        s3_body_discard(s, bucket, fname);
        return e;
    }
    s3_body_discard(s, bucket, p.old);
    if (info_out) {
        *info_out = info;
        if (!info_out->content_type[0])
            gt_strlcpy(info_out->content_type, "binary/octet-stream", sizeof info_out->content_type);
    }
    return GT_OK;
}

typedef struct get_job {
    const char *bucket, *key;
    json_t *doc;
    bool bucket_missing;
} get_job;

static gt_err get_job_fn(store_txn *t, void *ud)
{
    get_job *g = ud;
    json_t *b = s3_bucket_doc(t, g->bucket);
    if (!b) {
        g->bucket_missing = true;
        return GT_OK;
    }
    json_decref(b);
    char id[S3_MAX_ID];
    if (!obj_id(g->bucket, g->key, id, sizeof id))
        return GT_OK;
    store_key k = {"", "", S3_KIND_OBJ, id};
    char *body = NULL;
    int rc = store_doc_get(t, &k, &body);
    if (rc == STORE_OK) {
        g->doc = json_loads(body, 0, NULL);
        free(body);
    } else if (rc != STORE_NOTFOUND) {
        return GT_E_UNAVAILABLE;
    }
    return GT_OK;
}

gt_err s3_object_get(s3_store *s, const char *bucket, const char *key, void **data, size_t *len,
                     s3_object_info *info_out)
{
    *data = NULL;
    *len = 0;
    /* An overwrite may unlink the file between our read and open: retry. */
    for (int attempt = 0; attempt < 3; attempt++) {
        get_job g = {bucket, key, NULL, false};
        gt_err e = store_read(s->st, get_job_fn, &g);
        if (e != GT_OK)
            return e;
        if (g.bucket_missing)
            return GT_E_S3_NO_SUCH_BUCKET;
        if (!g.doc)
            return GT_E_S3_NO_SUCH_KEY;
        const char *f = json_string_value(json_object_get(g.doc, "File"));
        int fd = f ? s3_body_open(s, bucket, f) : -1;
        if (fd < 0) {
            json_decref(g.doc);
            continue;
        }
        json_int_t size = json_integer_value(json_object_get(g.doc, "Size"));
        unsigned char *buf = malloc(size > 0 ? (size_t)size : 1);
        size_t got = 0;
        while (buf && got < (size_t)size) {
            ssize_t r = read(fd, buf + got, (size_t)size - got);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                break;
            got += (size_t)r;
        }
        close(fd);
        if (!buf || got != (size_t)size) {
            free(buf);
            json_decref(g.doc);
            return buf ? GT_E_UNAVAILABLE : GT_E_NOMEM;
        }
        if (info_out) {
            memset(info_out, 0, sizeof *info_out);
            gt_strlcpy(info_out->etag, json_string_value(json_object_get(g.doc, "ETag")) ?: "",
                       sizeof info_out->etag);
            info_out->size = size;
            info_out->last_modified_ms = json_integer_value(json_object_get(g.doc, "LastModified"));
            gt_strlcpy(info_out->content_type,
                       json_string_value(json_object_get(g.doc, "ContentType")) ?: "",
                       sizeof info_out->content_type);
        }
        json_decref(g.doc);
        *data = buf;
        *len = (size_t)size;
        return GT_OK;
    }
    return GT_E_UNAVAILABLE;
}

typedef struct del_job {
    const char *bucket, *key;
    char old[S3_FNAME_MAX];
} del_job;

static gt_err del_job_fn(store_txn *t, void *ud)
{
    del_job *d = ud;
    char id[S3_MAX_ID];
    if (!obj_id(d->bucket, d->key, id, sizeof id))
        return GT_OK;
    store_key k = {"", "", S3_KIND_OBJ, id};
    char *body = NULL;
    int rc = store_doc_get(t, &k, &body);
    if (rc == STORE_NOTFOUND)
        return GT_OK;
    if (rc != STORE_OK)
        return GT_E_UNAVAILABLE;
    json_t *doc = json_loads(body, 0, NULL);
    free(body);
    gt_strlcpy(d->old, json_string_value(json_object_get(doc, "File")) ?: "", S3_FNAME_MAX);
    json_decref(doc);
    return store_doc_delete(t, &k) == STORE_OK ? GT_OK : GT_E_UNAVAILABLE;
}

gt_err s3_object_delete(s3_store *s, const char *bucket, const char *key)
{
    del_job d = {bucket, key, ""};
    gt_err e = store_run(s->st, del_job_fn, &d);
    if (e == GT_OK)
        s3_body_discard(s, bucket, d.old);
    return e;
}
