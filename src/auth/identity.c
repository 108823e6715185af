/*
 * identity.c: access keys, principals and the first-start bootstrap.
 *
 * Keys are documents in the store (account "", region "", kind
 * "access_key", id = the access key id), so every node of a shared store
 * sees the same keys. Formats follow AWS: access key ids are "AKIA" + 16
 * chars of [A-Z2-7] (20 in all), secrets 40 chars of base64 alphabet, IAM
 * user ids "AIDA" + 17 chars.
 * Temporary credentials (STS) are the same documents with "ASIA" ids and
 * extra fields: expiry, the SHA-256 of the session token (the token
 * itself is never stored), the session name and issuer, an optional
 * session policy.
 * Invariant: secrets are only ever written to the store and to the
 * credentials file (mode 0600); logs and records never see them.
 */
#include "auth/identity.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/authcache.h"
#include "util/gtutil.h"

static const char KEY_ALPHA[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
static const char ID_ALPHA[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
static const char SECRET_ALPHA[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static json_t *principal_json(const auth_principal *p)
{
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "type", p->type, "principalId",
                          p->principal_id, "arn", p->arn, "accountId", p->account_id, "userName",
                          p->user_name, "secret", p->secret, "active", p->active);
    if (j && p->temporary) {
        /* temporary credentials: the session's own fields */
        json_t *iss = json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", p->issuer.type, "principalId",
                                p->issuer.principal_id, "arn", p->issuer.arn, "accountId",
                                p->issuer.account_id, "userName", p->issuer.user_name);
        json_object_set_new(j, "temporary", json_true());
        json_object_set_new(j, "createdMs", json_integer(p->created_ms));
        json_object_set_new(j, "expiresMs", json_integer(p->expires_ms));
        json_object_set_new(j, "mfa", json_boolean(p->mfa));
        json_object_set_new(j, "tokenSha256", json_string(p->token_sha256));
        json_object_set_new(j, "sessionName", json_string(p->session_name));
        json_object_set_new(j, "webProvider", json_string(p->web_provider));
        json_object_set_new(j, "sessionPolicy", json_string(p->session_policy));
        json_object_set_new(j, "issuer", iss);
    }
    return j;
}

static void copy_str(char *dst, size_t cap, json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    gt_strlcpy(dst, v ? v : "", cap);
}

static bool principal_from_json(const char *text, const char *akid, auth_principal *p)
{
    json_t *j = json_loads(text, 0, NULL);
    if (!j)
        return false;
    const char *type = json_string_value(json_object_get(j, "type"));
    const char *pid = json_string_value(json_object_get(j, "principalId"));
    const char *arn = json_string_value(json_object_get(j, "arn"));
    const char *acct = json_string_value(json_object_get(j, "accountId"));
    const char *user = json_string_value(json_object_get(j, "userName"));
    const char *secret = json_string_value(json_object_get(j, "secret"));
    bool ok = type && pid && arn && acct && secret;
    if (ok) {
        memset(p, 0, sizeof *p);
        gt_strlcpy(p->type, type, sizeof p->type);
        gt_strlcpy(p->principal_id, pid, sizeof p->principal_id);
        gt_strlcpy(p->arn, arn, sizeof p->arn);
        gt_strlcpy(p->account_id, acct, sizeof p->account_id);
        gt_strlcpy(p->user_name, user ? user : "", sizeof p->user_name);
        gt_strlcpy(p->secret, secret, sizeof p->secret);
        gt_strlcpy(p->access_key_id, akid, sizeof p->access_key_id);
        p->active = json_is_true(json_object_get(j, "active"));
        p->temporary = json_is_true(json_object_get(j, "temporary"));
        if (p->temporary) {
            json_t *iss = json_object_get(j, "issuer");
            p->created_ms = (int64_t)json_integer_value(json_object_get(j, "createdMs"));
            p->expires_ms = (int64_t)json_integer_value(json_object_get(j, "expiresMs"));
            p->mfa = json_is_true(json_object_get(j, "mfa"));
            copy_str(p->token_sha256, sizeof p->token_sha256, j, "tokenSha256");
            copy_str(p->session_name, sizeof p->session_name, j, "sessionName");
            copy_str(p->web_provider, sizeof p->web_provider, j, "webProvider");
            copy_str(p->session_policy, sizeof p->session_policy, j, "sessionPolicy");
            copy_str(p->issuer.type, sizeof p->issuer.type, iss, "type");
            copy_str(p->issuer.principal_id, sizeof p->issuer.principal_id, iss, "principalId");
            copy_str(p->issuer.arn, sizeof p->issuer.arn, iss, "arn");
            copy_str(p->issuer.account_id, sizeof p->issuer.account_id, iss, "accountId");
            copy_str(p->issuer.user_name, sizeof p->issuer.user_name, iss, "userName");
        }
    }
    json_decref(j);
    return ok;
}

bool auth_new_key(auth_principal *p, const char *prefix)
{
    char rnd[17], sec[41];
    if (!gt_random_chars(rnd, 16, KEY_ALPHA) || !gt_random_chars(sec, 40, SECRET_ALPHA))
        return false;
    snprintf(p->access_key_id, sizeof p->access_key_id, "%s%s", prefix, rnd);
    gt_strlcpy(p->secret, sec, sizeof p->secret);
    p->active = true;
    return true;
}

static bool new_key(auth_principal *p) { return auth_new_key(p, "AKIA"); }

bool auth_new_id(char *out, size_t cap, const char *prefix)
{
    char uid[18];
    if (!gt_random_chars(uid, 17, ID_ALPHA))
        return false;
    return snprintf(out, cap, "%s%s", prefix, uid) < (int)cap;
}

void auth_sha256_hex(const char *s, size_t n, char out[65])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)s, n, md);
    gt_hex(md, sizeof md, out);
}

gt_err auth_check_session(const auth_principal *p, const char *token, size_t token_len, int64_t now_ms)
{
    if (!p->temporary)
        return token ? GT_E_UNRECOGNIZED_CLIENT : GT_OK;
    if (!token || token_len == 0)
        return GT_E_UNRECOGNIZED_CLIENT;
    char h[65];
    auth_sha256_hex(token, token_len, h);
    if (strlen(p->token_sha256) != 64 || CRYPTO_memcmp(h, p->token_sha256, 64) != 0)
        return GT_E_UNRECOGNIZED_CLIENT;
    if (now_ms >= p->expires_ms)
        return GT_E_EXPIRED_TOKEN;
    return GT_OK;
}

typedef struct boot_ctx {
    const char *account;
    auth_principal *root, *admin;
    bool created;
} boot_ctx;

gt_err auth_put_key(store_txn *t, const auth_principal *p)
{
    json_t *j = principal_json(p);
    char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!body)
        return GT_E_NOMEM;
    store_key k = {"", "", "access_key", p->access_key_id};
    int rc = store_doc_put(t, &k, p->account_id, body);
    free(body);
    return rc == STORE_OK ? GT_OK : GT_E_UNAVAILABLE;
}

static gt_err boot_job(store_txn *t, void *ud)
{
    boot_ctx *b = ud;
    store_key k = {b->account, "", "bootstrap", "keys"};
    char *body = NULL;
    int rc = store_doc_get(t, &k, &body);
    if (rc == STORE_OK) {
        json_t *j = json_loads(body, 0, NULL);
        free(body);
        const char *rk = j ? json_string_value(json_object_get(j, "root")) : NULL;
        const char *ak = j ? json_string_value(json_object_get(j, "admin")) : NULL;
        char *rb = NULL, *ab = NULL;
        bool ok = rk && ak;
        if (ok) {
            store_key kr = {"", "", "access_key", rk}, ka = {"", "", "access_key", ak};
            ok = store_doc_get(t, &kr, &rb) == STORE_OK && store_doc_get(t, &ka, &ab) == STORE_OK &&
                 principal_from_json(rb, rk, b->root) && principal_from_json(ab, ak, b->admin);
        }
        free(rb);
        free(ab);
        json_decref(j);
        /* data dirs from before IAM: give admin its IAM user (idempotent) */
        return ok ? iam_bootstrap_admin(t, b->admin) : GT_E_INTERNAL;
    }
    if (rc != STORE_NOTFOUND)
        return GT_E_UNAVAILABLE;

    auth_principal *r = b->root, *a = b->admin;
    memset(r, 0, sizeof *r);
    memset(a, 0, sizeof *a);
    char uid[18];
    if (!new_key(r) || !new_key(a) || !gt_random_chars(uid, 17, ID_ALPHA))
        return GT_E_INTERNAL;
    gt_strlcpy(r->type, "Root", sizeof r->type);
    gt_strlcpy(r->principal_id, b->account, sizeof r->principal_id);
    snprintf(r->arn, sizeof r->arn, "arn:aws:iam::%s:root", b->account);
    gt_strlcpy(r->account_id, b->account, sizeof r->account_id);
    gt_strlcpy(a->type, "IAMUser", sizeof a->type);
    snprintf(a->principal_id, sizeof a->principal_id, "AIDA%s", uid);
    snprintf(a->arn, sizeof a->arn, "arn:aws:iam::%s:user/admin", b->account);
    gt_strlcpy(a->account_id, b->account, sizeof a->account_id);
    gt_strlcpy(a->user_name, "admin", sizeof a->user_name);
    gt_err e = auth_put_key(t, r);
    if (e == GT_OK)
        e = auth_put_key(t, a);
    if (e == GT_OK)
        e = iam_bootstrap_admin(t, a);
    if (e != GT_OK)
        return e;
    json_t *j = json_pack("{s:s, s:s}", "root", r->access_key_id, "admin", a->access_key_id);
    body = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!body)
        return GT_E_NOMEM;
    rc = store_doc_put(t, &k, NULL, body);
    free(body);
    b->created = true;
    return rc == STORE_OK ? GT_OK : GT_E_UNAVAILABLE;
}

/* Is the file at path exactly text (n bytes)? */
static bool same_content(const char *path, const char *text, size_t n)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    char buf[4096];
    bool same = false;
    if (n < sizeof buf) {
        ssize_t got = read(fd, buf, sizeof buf);
        same = got == (ssize_t)n && memcmp(buf, text, n) == 0;
    }
    close(fd);
    return same;
}

/* Write DATA_DIR/file (write a temp file, fsync, rename). A start on an
 * existing data dir usually finds the same text there: then nothing is
 * written (a write + fsync + rename cost several ms of the cold start). */
static bool write_credentials(const char *data_dir, const char *file, const char *region,
                              const auth_principal *root, const auth_principal *admin, char *err, size_t errcap)
{
    char path[4096], tmp[4200], text[3072];
    snprintf(path, sizeof path, "%s/%s", data_dir, file);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int n = snprintf(text, sizeof text,
                     "# greentrail credentials (aws CLI format). Keep this file private.\n"
                     "[default]\n"
                     "# IAM user %s\n"
                     "aws_access_key_id = %s\n"
                     "aws_secret_access_key = %s\n"
                     "region = %s\n"
                     "\n[root]\n"
                     "# account root %s\n"
                     "aws_access_key_id = %s\n"
                     "aws_secret_access_key = %s\n"
                     "region = %s\n",
                     admin->arn, admin->access_key_id, admin->secret, region, root->arn, root->access_key_id,
                     root->secret, region);
    if (n < 0 || (size_t)n >= sizeof text) {
        snprintf(err, errcap, "cannot write %s: credentials too long", path);
        return false;
    }
    if (same_content(path, text, (size_t)n)) {
        OPENSSL_cleanse(text, sizeof text);
        return true;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        OPENSSL_cleanse(text, sizeof text);
        snprintf(err, errcap, "cannot write %s: %s", tmp, strerror(errno));
        return false;
    }
    bool ok = true;
    for (size_t off = 0; ok && off < (size_t)n;) {
        ssize_t w = write(fd, text + off, (size_t)n - off);
        if (w < 0 && errno == EINTR)
            continue;
        ok = w > 0;
        if (ok)
            off += (size_t)w;
    }
    OPENSSL_cleanse(text, sizeof text);
    ok = ok && fsync(fd) == 0;
    ok = (close(fd) == 0) && ok;
    if (ok)
        ok = rename(tmp, path) == 0;
    if (!ok)
        snprintf(err, errcap, "cannot write %s: %s", path, strerror(errno));
    return ok;
}

gt_err auth_bootstrap(store *s, const char *data_dir, const char *account, const char *region,
                      auth_principal *root, auth_principal *admin, bool *created,
                      char *err, size_t errcap)
{
    return auth_bootstrap_file(s, data_dir, "credentials", account, region, root, admin, created, err, errcap);
}

gt_err auth_bootstrap_file(store *s, const char *data_dir, const char *file, const char *account,
                           const char *region, auth_principal *root, auth_principal *admin, bool *created,
                           char *err, size_t errcap)
{
    boot_ctx b = {.account = account, .root = root, .admin = admin};
    gt_err e = store_run(s, boot_job, &b);
    if (e != GT_OK) {
        snprintf(err, errcap, "cannot bootstrap credentials (%s)", gt_err_name(e));
        return e;
    }
    *created = b.created;
    if (!write_credentials(data_dir, file, region, root, admin, err, errcap))
        return GT_E_INTERNAL;
    return GT_OK;
}

typedef struct lookup_ctx {
    const char *akid;
    auth_principal *out;
} lookup_ctx;

static gt_err lookup_job(store_txn *t, void *ud)
{
    lookup_ctx *l = ud;
    store_key k = {"", "", "access_key", l->akid};
    char *body = NULL;
    int rc = store_doc_get(t, &k, &body);
    if (rc == STORE_NOTFOUND)
        return GT_E_UNRECOGNIZED_CLIENT;
    if (rc != STORE_OK)
        return GT_E_UNAVAILABLE;
    bool ok = principal_from_json(body, l->akid, l->out);
    free(body);
    if (!ok)
        return GT_E_INTERNAL;
    return l->out->active ? GT_OK : GT_E_UNRECOGNIZED_CLIENT;
}

int auth_get_key(store_txn *t, const char *access_key_id, auth_principal *out)
{
    store_key k = {"", "", "access_key", access_key_id};
    char *body = NULL;
    int rc = store_doc_get(t, &k, &body);
    if (rc != STORE_OK)
        return rc;
    bool ok = principal_from_json(body, access_key_id, out);
    free(body);
    return ok ? STORE_OK : STORE_ERR;
}

int auth_delete_key(store_txn *t, const char *access_key_id)
{
    store_key k = {"", "", "access_key", access_key_id};
    return store_doc_delete(t, &k);
}

gt_err auth_lookup_key(store *s, const char *access_key_id, auth_principal *out)
{
    if (auth_cache_get_key(s, access_key_id, out))
        return GT_OK;
    uint64_t gen = store_auth_generation();   /* before the read: see authcache.c */
    lookup_ctx l = {access_key_id, out};
    gt_err e = store_read(s, lookup_job, &l);
    if (e == GT_OK)
        auth_cache_put_key(s, gen, out);
    return e;
}
