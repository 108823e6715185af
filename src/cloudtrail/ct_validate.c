/*
 * ct_validate.c: `greentrail validate`, offline validation of a trail.
 *
 *   greentrail validate --dir DIR --trail-arn ARN [--s3-prefix P]
 *       [--region SRC] [--start-time T] [--end-time T]
 *       [--account-id ACCT [--org-id o-ID]]
 *       [--data-dir D | --public-keys FILE] [--verbose]
 *
 * What: the checks `aws cloudtrail validate-logs` makes (cloudtrail.md
 * §3.5), on a local copy of the trail's bucket (DIR holds each object at
 * DIR/<key>, as `aws s3 sync s3://bucket DIR` leaves it), with no network:
 * digests are found by their key pattern, walked newest to oldest along
 * previousDigestS3Object, each digest's signature is checked with the key
 * its fingerprint names, and each listed log file's SHA-256 (of the
 * uncompressed bytes) is compared with the digest's hashValue. The result
 * lines and the summary use the CLI's wording, so tampering reads the same:
 * "INVALID: not found", "INVALID: hash value doesn't match", "INVALID:
 * signature verification failed", "INVALID: has been moved from its
 * original location", "INVALID: public key not found".
 *
 * Why a signature can be checked offline: a digest's signature lives in its
 * S3 metadata, which a plain copy loses, but every digest repeats its
 * predecessor's signature (previousDigestSignature), and that value is
 * itself covered by the next signature. So every digest but the newest of
 * the chain is verified; the newest one is verified when its signature is
 * beside it as DIGEST.sig (hex), and otherwise reported as "valid
 * (signature not checked offline)". Public keys come from the server's
 * data dir (its key files) or from a saved `aws cloudtrail
 * list-public-keys` output.
 *
 * Organization trails (cloudtrail.md §2.2, §3.1): --account-id picks the
 * member account whose files are checked (as with validate-logs); their
 * digests are under [prefix/]AWSLogs/<o-id>/<account>/. The organization
 * id is --org-id, or else found in DIR (the one AWSLogs/o-* folder holding
 * that account), since there is no DescribeOrganization offline.
 *
 * Remote mode (--s3-endpoint URL --bucket B): the same checks read
 * straight from an S3-compatible server (s3/s3_remote.c: ListObjectsV2 of
 * the digest folder, GetObject per file), with the key pair from
 * --access-key/--secret-key or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY.
 * There every digest's signature, the newest's too, comes from its
 * x-amz-meta-signature, as the aws CLI reads it. An object that cannot be
 * read for another reason than its absence is an input error (exit 2),
 * never "valid" nor "not found".
 *
 * Exit code: 0 nothing invalid, 1 something invalid, 2 usage/input error.
 */
#include "cloudtrail/ct_validate.h"

#include <dirent.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cloudtrail/ct_digest.h"
#include "s3/s3_remote.h"
#include "util/gtutil.h"

#define CV_MAX_FILE ((size_t)256 << 20)
#define CV_MAX_KEYS 256

typedef struct cv_key {
    char fp[33];
    unsigned char *der;
    size_t der_len;
} cv_key;

typedef struct cv {
    const char *dir, *prefix, *region;
    char account[16], home[32], name[129];
    char start_stamp[24], end_stamp[24];
    int64_t start_s;
    bool verbose;
    cv_key keys[CV_MAX_KEYS];
    int nkeys;
    char **digests;      /* relative keys, ascending */
    size_t ndigests, cap;
    int d_ok, d_bad, l_ok, l_bad;
    s3_remote *rem;      /* remote mode: the server, and the bucket read */
    const char *bucket;
    bool io_error;       /* remote: something could not be read (exit 2) */
} cv;

/* ---------------------------------------------------------------- files */

static unsigned char *cv_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 65536, n = 0;
    unsigned char *buf = malloc(cap);
    while (buf) {
        if (n == cap) {
            if (cap >= CV_MAX_FILE) {
                free(buf);
                buf = NULL;
                break;
            }
            unsigned char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    *len = n;
    return buf;
}

static void cv_path(const cv *v, const char *key, char *out, size_t cap)
{
    if (snprintf(out, cap, "%s/%s", v->dir, key) >= (int)cap)
        out[0] = '\0';   /* too long: no such file */
}

/* An object's bytes (malloc'd), from the directory or the remote bucket;
 * NULL when absent. Remote: sig (cap bytes) gets its x-amz-meta-signature
 * when asked; a failure other than absence sets io_error. */
static unsigned char *cv_fetch(cv *v, const char *key, size_t *len, char *sig, size_t sigcap)
{
    if (sig && sigcap)
        sig[0] = '\0';
    if (!v->rem) {
        char p[4096];
        cv_path(v, key, p, sizeof p);
        return cv_read(p, len);
    }
    unsigned char *data = NULL;
    s3_remote_res res;
    if (s3_remote_get(v->rem, v->bucket, key, CV_MAX_FILE, &data, len, sig ? "signature" : NULL, sig, sigcap, &res))
        return data;
    if (res.http != 404) {
        fprintf(stderr, "greentrail validate: cannot read s3://%s/%s: %s %s\n", v->bucket, key, res.code, res.msg);
        v->io_error = true;
    }
    return NULL;
}

/* ---------------------------------------------------------------- keys */

static bool cv_add_key(cv *v, unsigned char *der, size_t len)
{
    if (v->nkeys >= CV_MAX_KEYS) {
        free(der);
        return false;
    }
    unsigned char md[16];
    unsigned int mdl = 0;
    EVP_Digest(der, len, md, &mdl, EVP_md5(), NULL);
    cv_key *k = &v->keys[v->nkeys++];
    gt_hex(md, 16, k->fp);
    k->der = der;
    k->der_len = len;
    return true;
}

/* Public halves of the server's key files: DATA_DIR/cloudtrail-keys/<region>/<start>.pem */
static int cv_keys_from_data_dir(cv *v, const char *data_dir)
{
    char top[2048];
    snprintf(top, sizeof top, "%s/cloudtrail-keys", data_dir);
    DIR *d = opendir(top);
    if (!d)
        return -1;
    struct dirent *r;
    while ((r = readdir(d))) {
        if (r->d_name[0] == '.')
            continue;
        char sub[2400];
        snprintf(sub, sizeof sub, "%s/%s", top, r->d_name);
        DIR *s = opendir(sub);
        if (!s)
            continue;
        struct dirent *e;
        while ((e = readdir(s))) {
            size_t n = strlen(e->d_name);
            if (n < 5 || strcmp(e->d_name + n - 4, ".pem") != 0)
                continue;
            char p[2800];
            snprintf(p, sizeof p, "%s/%s", sub, e->d_name);
            FILE *f = fopen(p, "r");
            EVP_PKEY *pk = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
            if (f)
                fclose(f);
            unsigned char *der = NULL;
            int len = pk ? i2d_PublicKey(pk, &der) : -1;
            EVP_PKEY_free(pk);
            if (len > 0) {
                unsigned char *copy = malloc((size_t)len);
                if (copy) {
                    memcpy(copy, der, (size_t)len);
                    cv_add_key(v, copy, (size_t)len);
                }
            }
            OPENSSL_free(der);
        }
        closedir(s);
    }
    closedir(d);
    return 0;
}

/* A saved `aws cloudtrail list-public-keys` output (Value = base64 DER). */
static int cv_keys_from_json(cv *v, const char *path)
{
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    json_t *list = json_object_get(j, "PublicKeyList");
    if (!json_is_array(list)) {
        json_decref(j);
        return -1;
    }
    size_t i;
    json_t *k;
    json_array_foreach(list, i, k) {
        const char *b64 = json_string_value(json_object_get(k, "Value"));
        size_t n = b64 ? strlen(b64) : 0;
        if (n == 0 || n % 4 || n > 8192)
            continue;
        unsigned char *der = malloc(n);
        int len = der ? EVP_DecodeBlock(der, (const unsigned char *)b64, (int)n) : -1;
        if (len <= 0) {
            free(der);
            continue;
        }
        len -= (b64[n - 1] == '=') + (b64[n - 2] == '=');
        cv_add_key(v, der, (size_t)len);
    }
    json_decref(j);
    return 0;
}

static const cv_key *cv_key_for(const cv *v, const char *fp)
{
    for (int i = 0; fp && i < v->nkeys; i++)
        if (strcmp(v->keys[i].fp, fp) == 0)
            return &v->keys[i];
    return NULL;
}

/* ---------------------------------------------------------------- listing */

/* A digest of the trail within the time range? name: the key's last part. */
static void cv_consider(cv *v, const char *key, const char *name)
{
    char want[512];
    int wn = snprintf(want, sizeof want, "%s_CloudTrail-Digest_%s_%s_%s_", v->account, v->region, v->name, v->home);
    /* NAME_HOME_YYYYMMDDTHHMMSSZ.json.gz, exactly (no backfill) */
    size_t n = strlen(name);
    if (wn <= 0 || (size_t)wn >= sizeof want || n != (size_t)wn + 16 + 8 || strncmp(name, want, (size_t)wn) != 0 ||
        strcmp(name + n - 8, ".json.gz") != 0)
        return;
    const char *stamp = name + wn;
    if (strncmp(stamp, v->start_stamp, 16) < 0 || strncmp(stamp, v->end_stamp, 16) > 0)
        return;
    if (v->ndigests == v->cap) {
        size_t nc = v->cap ? v->cap * 2 : 64;
        char **nd = realloc(v->digests, nc * sizeof *nd);
        if (!nd)
            return;
        v->digests = nd;
        v->cap = nc;
    }
    char *copy = strdup(key);
    if (copy)
        v->digests[v->ndigests++] = copy;
}

typedef struct cv_list_ctx {
    cv *v;
    size_t plen;   /* the listed prefix's length ("REL/") */
} cv_list_ctx;

/* Remote listing: keys REL/YYYY/MM/DD/NAME, as the directory walk sees them. */
static int cv_list_cb(void *ud, const char *key)
{
    cv_list_ctx *c = ud;
    const char *rest = key + c->plen;
    int slashes = 0;
    for (const char *p = rest; *p; p++)
        slashes += *p == '/';
    if (strlen(key) > c->plen && slashes == 3)
        cv_consider(c->v, key, strrchr(key, '/') + 1);
    return 0;
}

static void cv_collect(cv *v, const char *rel, int depth)
{
    char abs[4096];
    cv_path(v, rel, abs, sizeof abs);
    DIR *d = opendir(abs);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char sub[4096];
        if (snprintf(sub, sizeof sub, "%s/%s", rel, e->d_name) >= (int)sizeof sub)
            continue;   /* too long to be one of ours */
        if (depth < 3) {
            cv_collect(v, sub, depth + 1);
            continue;
        }
        cv_consider(v, sub, e->d_name);
    }
    closedir(d);
}

static int cv_cmp(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    return strcmp(x + strlen(x) - 24, y + strlen(y) - 24);
}

/* ---------------------------------------------------------------- checks */

static void cv_status(cv *v, bool bad, const char *what, const char *bucket, const char *key, const char *st)
{
    if (bad || v->verbose)
        printf("%s\ts3://%s/%s\t%s\n", what, bucket, key, st);
}

static void cv_check_log(cv *v, const json_t *lf)
{
    const char *b = json_string_value(json_object_get(lf, "s3Bucket"));
    const char *k = json_string_value(json_object_get(lf, "s3Object"));
    const char *h = json_string_value(json_object_get(lf, "hashValue"));
    if (!b || !k || !h) {
        v->l_bad++;
        cv_status(v, true, "Log file", b ? b : "?", k ? k : "?", "INVALID: invalid format");
        return;
    }
    size_t n = 0;
    unsigned char *gz = cv_fetch(v, k, &n, NULL, 0);
    if (!gz) {
        v->l_bad++;
        cv_status(v, true, "Log file", b, k, "INVALID: not found");
        return;
    }
    unsigned char *raw = NULL;
    size_t rn = 0;
    bool ok = ct_gunzip(gz, n, CV_MAX_FILE, &raw, &rn);
    free(gz);
    if (!ok) {
        v->l_bad++;
        cv_status(v, true, "Log file", b, k, "INVALID: invalid format");
        return;
    }
    char hex[65];
    ct_sha256_hex(raw, rn, hex);
    free(raw);
    if (strcmp(hex, h) != 0) {
        v->l_bad++;
        cv_status(v, true, "Log file", b, k, "INVALID: hash value doesn't match");
        return;
    }
    v->l_ok++;
    cv_status(v, false, "Log file", b, k, "valid");
}

/* Validate one digest. sig: its signature (hex) or NULL when unknown.
 * *doc_out gets the parsed digest when it could be read. */
static void cv_check_digest(cv *v, const char *key, const char *sig, json_t **doc_out)
{
    *doc_out = NULL;
    char p[4096], meta_sig[1100];
    cv_path(v, key, p, sizeof p);
    size_t n = 0;
    unsigned char *gz = cv_fetch(v, key, &n, meta_sig, sizeof meta_sig), *raw = NULL;
    size_t rn = 0;
    json_t *d = NULL;
    if (gz && ct_gunzip(gz, n, CV_MAX_FILE, &raw, &rn))
        d = json_loadb((const char *)raw, rn, 0, NULL);
    free(gz);
    const char *bucket = json_string_value(json_object_get(d, "digestS3Bucket"));
    const char *fp = json_string_value(json_object_get(d, "digestPublicKeyFingerprint"));
    const char *end = json_string_value(json_object_get(d, "digestEndTime"));
    const char *obj = json_string_value(json_object_get(d, "digestS3Object"));
    json_t *prev = json_object_get(d, "previousDigestSignature");
    if (!d || !bucket || !fp || !end || !obj || !json_is_array(json_object_get(d, "logFiles")) ||
        !json_object_get(d, "digestStartTime") || (prev && !json_is_null(prev) && !json_is_string(prev))) {
        v->d_bad++;
        cv_status(v, true, "Digest file", bucket ? bucket : "?", key, "INVALID: invalid format");
        free(raw);
        json_decref(d);
        return;
    }
    *doc_out = d;
    if (strcmp(obj, key) != 0) {
        v->d_bad++;
        cv_status(v, true, "Digest file", bucket, key, "INVALID: has been moved from its original location");
        free(raw);
        return;
    }
    const cv_key *k = cv_key_for(v, fp);
    if (!k) {
        v->d_bad++;
        cv_status(v, true, "Digest file", bucket, key, "INVALID: public key not found for fingerprint");
        free(raw);
        return;
    }
    char sidecar_sig[1100] = "";
    if (!sig && v->rem) {   /* remote: the signature S3 keeps in the object's metadata */
        if (meta_sig[0])
            sig = meta_sig;
    } else if (!sig) {   /* DIGEST.sig beside the file (hex), if the user kept it */
        char sp[4200];
        snprintf(sp, sizeof sp, "%s.sig", p);
        size_t sn = 0;
        unsigned char *s = cv_read(sp, &sn);
        if (s && sn < sizeof sidecar_sig) {
            memcpy(sidecar_sig, s, sn);
            sidecar_sig[sn] = '\0';
            sidecar_sig[strcspn(sidecar_sig, " \r\n")] = '\0';
            sig = sidecar_sig;
        }
        free(s);
    }
    if (sig) {
        char hash[65];
        ct_sha256_hex(raw, rn, hash);
        char *sts = ct_digest_string_to_sign(end, bucket, key, hash, json_string_value(prev));
        bool ok = sts && ct_digest_verify_der(k->der, k->der_len, sts, sig);
        free(sts);
        if (!ok) {
            v->d_bad++;
            cv_status(v, true, "Digest file", bucket, key, "INVALID: signature verification failed");
            free(raw);
            return;
        }
        v->d_ok++;
        cv_status(v, false, "Digest file", bucket, key, "valid");
    } else {
        v->d_ok++;
        cv_status(v, false, "Digest file", bucket, key,
                  "valid (newest digest: its signature is only in S3 metadata, not checked offline)");
    }
    free(raw);
    size_t i;
    json_t *lf;
    json_array_foreach(json_object_get(d, "logFiles"), i, lf)
        cv_check_log(v, lf);
}

static bool cv_exists(cv *v, const char *key)
{
    if (v->rem) {
        s3_remote_res res;
        if (s3_remote_head_object(v->rem, v->bucket, key, &res))
            return true;
        if (res.http != 404) {
            fprintf(stderr, "greentrail validate: cannot read s3://%s/%s: %s %s\n", v->bucket, key, res.code, res.msg);
            v->io_error = true;
        }
        return false;
    }
    char p[4096];
    cv_path(v, key, p, sizeof p);
    struct stat st;
    return stat(p, &st) == 0;
}

/* ---------------------------------------------------------------- main */

/* The o-* folder of DIR/[prefix/]AWSLogs that holds v->account's digests
 * (organization trails); false when there is none. */
static bool cv_find_org(cv *v, char *out, size_t cap)
{
    char rel[1024], abs[4096];
    snprintf(rel, sizeof rel, "%s%sAWSLogs", v->prefix ? v->prefix : "", v->prefix && *v->prefix ? "/" : "");
    cv_path(v, rel, abs, sizeof abs);
    DIR *d = opendir(abs);
    if (!d)
        return false;
    bool found = false;
    struct dirent *e;
    while (!found && (e = readdir(d))) {
        if (strncmp(e->d_name, "o-", 2) != 0 || strlen(e->d_name) >= cap)
            continue;
        char sub[4200];
        struct stat sb;
        snprintf(sub, sizeof sub, "%s/%s/%s/CloudTrail-Digest", abs, e->d_name, v->account);
        if (stat(sub, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            gt_strlcpy(out, e->d_name, cap);
            found = true;
        }
    }
    closedir(d);
    return found;
}

static void cv_usage(FILE *f)
{
    fprintf(f, "usage: greentrail validate (--dir DIR | --s3-endpoint URL --bucket B) --trail-arn ARN\n"
               "           [--s3-prefix P] [--region SRC] [--start-time ISO] [--end-time ISO]\n"
               "           [--account-id ACCT [--org-id o-ID]] [--data-dir D | --public-keys FILE] [--verbose]\n"
               "           [--access-key K --secret-key S] [--s3-region R]   (remote mode)\n"
               "Validates a trail's digests and log files in DIR, a local copy of its bucket\n"
               "(DIR/<key> per object), or in bucket B of an S3-compatible server (path-style,\n"
               "keys from the options or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY[/AWS_SESSION_TOKEN]),\n"
               "the way `aws cloudtrail validate-logs` does.\n"
               "Public keys: the server's --data-dir (default ./greentrail-data) or a saved\n"
               "`aws cloudtrail list-public-keys` output.\n");
}

static bool cv_stamp(const char *iso, int64_t add_s, char out[24], int64_t *epoch)
{
    int64_t ms;
    if (!gt_parse_iso(iso, &ms))
        return false;
    int64_t s = ms / 1000 + add_s;
    if (epoch)
        *epoch = ms / 1000;
    char e[21];
    gt_fmt_iso_s(s, e);   /* YYYY-MM-DDTHH:MM:SSZ -> YYYYMMDDTHHMMSSZ */
    size_t j = 0;
    for (size_t i = 0; e[i] && j < 23; i++)
        if (e[i] != '-' && e[i] != ':')
            out[j++] = e[i];
    out[j] = '\0';
    return true;
}

int ct_validate_main(int argc, char **argv)
{
    cv *v = calloc(1, sizeof *v);
    if (!v)
        return 2;
    const char *arn = NULL, *data_dir = "./greentrail-data", *keys_file = NULL, *start = NULL, *end = NULL;
    const char *account_id = NULL, *org_id = NULL;
    const char *endpoint = NULL, *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
    const char *s3_region = "us-east-1";
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = true;
        if (strcmp(a, "--dir") == 0)
            v->dir = val;
        else if (strcmp(a, "--trail-arn") == 0)
            arn = val;
        else if (strcmp(a, "--s3-prefix") == 0)
            v->prefix = val;
        else if (strcmp(a, "--region") == 0)
            v->region = val;
        else if (strcmp(a, "--start-time") == 0)
            start = val;
        else if (strcmp(a, "--end-time") == 0)
            end = val;
        else if (strcmp(a, "--data-dir") == 0)
            data_dir = val;
        else if (strcmp(a, "--account-id") == 0)
            account_id = val;
        else if (strcmp(a, "--org-id") == 0)
            org_id = val;
        else if (strcmp(a, "--public-keys") == 0)
            keys_file = val;
        else if (strcmp(a, "--s3-endpoint") == 0)
            endpoint = val;
        else if (strcmp(a, "--bucket") == 0)
            v->bucket = val;
        else if (strcmp(a, "--access-key") == 0)
            ak = val;
        else if (strcmp(a, "--secret-key") == 0)
            sk = val;
        else if (strcmp(a, "--s3-region") == 0)
            s3_region = val;
        else if (strcmp(a, "--verbose") == 0)
            takes = false, v->verbose = true;
        else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            cv_usage(stdout);
            free(v);
            return 0;
        } else {
            fprintf(stderr, "greentrail validate: unknown argument '%s'\n", a);
            cv_usage(stderr);
            free(v);
            return 2;
        }
        if (takes) {
            if (!val) {
                fprintf(stderr, "greentrail validate: %s needs a value\n", a);
                free(v);
                return 2;
            }
            i++;
        }
    }
    /* arn:aws:cloudtrail:HOME:ACCT:trail/NAME */
    const char *f[6] = {0};
    int nf = 0;
    for (const char *p = arn; p && nf < 6; nf++) {
        f[nf] = p;
        const char *c = strchr(p, ':');
        p = c ? c + 1 : NULL;
    }
    const char *slash = arn ? strrchr(arn, '/') : NULL;
    if ((!v->dir == !endpoint) || (endpoint && !v->bucket) || !arn || nf < 6 || strncmp(arn, "arn:", 4) != 0 || strncmp(f[2], "cloudtrail:", 11) != 0 ||
        f[4] - f[3] - 1 <= 0 || f[4] - f[3] - 1 >= 32 || f[5] - f[4] - 1 != 12 || !slash ||
        strlen(slash + 1) == 0 || strlen(slash + 1) > 128) {
        fprintf(stderr, "greentrail validate: --dir (or --s3-endpoint and --bucket) and a trail ARN"
                        " (arn:aws:cloudtrail:REGION:ACCOUNT:trail/NAME) are required\n");
        cv_usage(stderr);
        free(v);
        return 2;
    }
    memcpy(v->home, f[3], (size_t)(f[4] - f[3] - 1));
    memcpy(v->account, f[4], 12);
    if (account_id) {
        if (strlen(account_id) != 12 || strspn(account_id, "0123456789") != 12 ||
            (org_id && (strncmp(org_id, "o-", 2) != 0 || strlen(org_id) > 34 || strchr(org_id, '/')))) {
            fprintf(stderr, "greentrail validate: --account-id is 12 digits, --org-id o-...\n");
            free(v);
            return 2;
        }
        gt_strlcpy(v->account, account_id, sizeof v->account);
    }
    gt_strlcpy(v->name, slash + 1, sizeof v->name);
    if (!v->region)
        v->region = v->home;
    char now_iso[21];
    gt_fmt_iso_s(gt_now_ms() / 1000, now_iso);
    if (!cv_stamp(start ? start : "1970-01-01T00:00:00Z", 0, v->start_stamp, &v->start_s) ||
        !cv_stamp(end ? end : now_iso, 3600, v->end_stamp, NULL)) {
        fprintf(stderr, "greentrail validate: times are YYYY-MM-DDTHH:MM:SSZ\n");
        free(v);
        return 2;
    }
    int kr = keys_file ? cv_keys_from_json(v, keys_file) : cv_keys_from_data_dir(v, data_dir);
    if (kr != 0 || v->nkeys == 0) {
        fprintf(stderr, "greentrail validate: no public keys found in %s\n", keys_file ? keys_file : data_dir);
        free(v);
        return 2;
    }
    if (endpoint) {
        char rerr[256];
        s3_remote_opts ro = {.endpoint = endpoint, .region = s3_region, .access_key = ak, .secret_key = sk,
                             .session_token = getenv("AWS_SESSION_TOKEN")};
        v->rem = s3_remote_new(&ro, rerr, sizeof rerr);
        if (!v->rem) {
            fprintf(stderr, "greentrail validate: %s\n", rerr);
            free(v);
            return 2;
        }
    }
    char rel[1024], org_found[64] = "";
    if (!org_id && account_id && v->rem) {
        fprintf(stderr, "greentrail validate: with --s3-endpoint, give --org-id for an organization trail\n");
        s3_remote_free(v->rem);
        free(v);
        return 2;
    }
    if (!org_id && account_id)
        org_id = cv_find_org(v, org_found, sizeof org_found) ? org_found : NULL;
    snprintf(rel, sizeof rel, "%s%sAWSLogs/%s%s%s/CloudTrail-Digest/%s", v->prefix ? v->prefix : "",
             v->prefix && *v->prefix ? "/" : "", org_id ? org_id : "", org_id ? "/" : "", v->account, v->region);
    if (v->rem) {
        char lp[1100];
        snprintf(lp, sizeof lp, "%s/", rel);
        cv_list_ctx lc = {v, strlen(lp)};
        s3_remote_res res;
        if (!s3_remote_list(v->rem, v->bucket, lp, cv_list_cb, &lc, &res)) {
            fprintf(stderr, "greentrail validate: cannot list s3://%s/%s: %s %s\n", v->bucket, lp, res.code, res.msg);
            v->io_error = true;
        }
    } else {
        cv_collect(v, rel, 0);
    }
    qsort(v->digests, v->ndigests, sizeof *v->digests, cv_cmp);
    printf("Validating log files for trail %s between %s and %s\n\n", arn, start ? start : "the first digest",
           end ? end : now_iso);

    /* newest to oldest, along previousDigestS3Object */
    char *want_key = NULL, *want_sig = NULL, want_bucket[256] = "";
    size_t i = v->ndigests;
    while (i > 0) {
        const char *key = v->digests[i - 1];
        const char *sig = NULL;
        if (want_key && strcmp(want_key, key) != 0) {
            if (!cv_exists(v, want_key)) {
                v->d_bad++;
                printf("Digest file\ts3://%s/%s\tINVALID: not found\n", want_bucket, want_key);
            }
            free(want_key);
            free(want_sig);
            want_key = want_sig = NULL;   /* chain broken: the next one's signature is unknown */
        } else if (want_key) {
            sig = want_sig;
        }
        json_t *d = NULL;
        cv_check_digest(v, key, sig, &d);
        i--;
        free(want_key);
        free(want_sig);
        want_key = want_sig = NULL;
        const char *pk = json_string_value(json_object_get(d, "previousDigestS3Object"));
        const char *ps = json_string_value(json_object_get(d, "previousDigestSignature"));
        if (pk && ps) {
            const char *pb = json_string_value(json_object_get(d, "previousDigestS3Bucket"));
            gt_strlcpy(want_bucket, pb ? pb : "", sizeof want_bucket);
            want_key = strdup(pk);
            want_sig = strdup(ps);
        }
        int64_t dstart = 0;
        const char *ds = json_string_value(json_object_get(d, "digestStartTime"));
        bool before = ds && gt_parse_iso(ds, &dstart) && dstart / 1000 < v->start_s;
        json_decref(d);
        if (before)
            break;
    }
    if (want_key && i == 0 && !cv_exists(v, want_key)) {   /* the oldest digest was deleted */
        v->d_bad++;
        printf("Digest file\ts3://%s/%s\tINVALID: not found\n", want_bucket, want_key);
    }
    free(want_key);
    free(want_sig);
    if (v->ndigests == 0)
        printf("No digests found\n");
    printf("\n%d/%d digest files valid", v->d_ok, v->d_ok + v->d_bad);
    if (v->d_bad)
        printf(", %d/%d digest files INVALID", v->d_bad, v->d_ok + v->d_bad);
    printf("\n%d/%d log files valid", v->l_ok, v->l_ok + v->l_bad);
    if (v->l_bad)
        printf(", %d/%d log files INVALID", v->l_bad, v->l_ok + v->l_bad);
    printf("\n");
    int rc = v->io_error ? 2 : v->d_bad || v->l_bad ? 1 : 0;
    if (v->io_error)
        printf("Some objects could not be read: the result is incomplete\n");
    s3_remote_free(v->rem);
    for (size_t k = 0; k < v->ndigests; k++)
        free(v->digests[k]);
    free(v->digests);
    for (int k = 0; k < v->nkeys; k++)
        free(v->keys[k].der);
    free(v);
    return rc;
}
