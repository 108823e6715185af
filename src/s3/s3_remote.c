/*
 * s3_remote.c: a client for an external S3-compatible server.
 *
 * What: the five S3 calls greentrail needs outside its own store: HEAD
 * bucket (CreateTrail/UpdateTrail's bucket check), PUT object (trail log
 * files and digests), GET object, HEAD object and ListObjectsV2 (`greentrail
 * validate --s3-endpoint`). Path-style URLs ENDPOINT/BUCKET/KEY, which every
 * S3-compatible server accepts.
 *
 * Why libcurl's signer: curl signs with SigV4 itself (CURLOPT_AWS_SIGV4
 * "aws:amz:REGION:s3"). curl 7.88 (Debian 12) neither adds
 * x-amz-content-sha256 (real S3 refuses a request without it) nor sorts
 * the query string, so this module sends that header itself (the SHA-256
 * of the body, hashed by OpenSSL; curl signs every header we add) and
 * builds query strings already in canonical form (names sorted, values
 * %XX-encoded). One more curl 7.88 flaw: it sorts the signed headers as
 * whole "name:value" lines, so of two names where one is the other's
 * prefix ("x-amz-meta-signature", "x-amz-meta-signature-algorithm", which
 * every digest carries) it signs them in the wrong order and S3 answers
 * SignatureDoesNotMatch. Requests with such headers (digest PUTs only) are
 * signed here instead (rs_self_sign: SigV4's canonical request over the
 * exact headers we send, HMAC-SHA256 from OpenSSL); both signers are
 * checked against greentrail's own S3, which verifies every signature.
 *
 * Invariants:
 *  - One curl easy handle per request, never shared: a hanging request
 *    holds up only its caller; each is bounded by CURLOPT_CONNECTTIMEOUT_MS
 *    and CURLOPT_TIMEOUT_MS, signals are off (CURLOPT_NOSIGNAL).
 *  - The secret key is only ever handed to curl as the SigV4 password; no
 *    message built here contains it.
 *  - Bodies read into memory are capped (max_bytes; error bodies 64 KiB).
 */
#include "s3/s3_remote.h"

#include <curl/curl.h>
#include <jansson.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <time.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/gtutil.h"

#define RS_URL_CAP 4096
#define RS_ERRBODY_MAX ((size_t)64 * 1024)
#define RS_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct s3_remote {
    char endpoint[1024];   /* without a trailing '/' */
    char sigv4[96];        /* "aws:amz:REGION:s3" */
    char region[48];
    char host[512];        /* the Host header: host[:port] of the endpoint */
    char *access_key, *secret_key, *session_token;
    long connect_timeout_ms, timeout_ms;
};

static pthread_once_t rs_once = PTHREAD_ONCE_INIT;

static void rs_global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    xmlInitParser();
}

s3_remote *s3_remote_new(const s3_remote_opts *o, char *err, size_t errcap)
{
    const char *ep = o->endpoint ? o->endpoint : "";
    if (strncmp(ep, "http://", 7) != 0 && strncmp(ep, "https://", 8) != 0) {
        snprintf(err, errcap, "external S3 endpoint must be an http:// or https:// URL");
        return NULL;
    }
    if (strchr(ep, '?') || strchr(ep, '#') || strchr(ep, '@')) {
        snprintf(err, errcap, "external S3 endpoint must be scheme://host[:port][/path] (no query, no user info)");
        return NULL;
    }
    if (!o->access_key || !*o->access_key || !o->secret_key || !*o->secret_key) {
        snprintf(err, errcap, "external S3 needs an access key and a secret key");
        return NULL;
    }
    const char *region = o->region && *o->region ? o->region : "us-east-1";
    if (strspn(region, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(region) || strlen(region) > 40) {
        snprintf(err, errcap, "external S3 region is not a region name");
        return NULL;
    }
    pthread_once(&rs_once, rs_global_init);
    s3_remote *r = calloc(1, sizeof *r);
    if (!r || !gt_strlcpy(r->endpoint, ep, sizeof r->endpoint)) {
        free(r);
        snprintf(err, errcap, "external S3 endpoint is too long");
        return NULL;
    }
    size_t n = strlen(r->endpoint);
    while (n > 0 && r->endpoint[n - 1] == '/')
        r->endpoint[--n] = '\0';
    snprintf(r->sigv4, sizeof r->sigv4, "aws:amz:%s:s3", region);
    gt_strlcpy(r->region, region, sizeof r->region);
    const char *hs = strstr(r->endpoint, "://") + 3;
    size_t hl = strcspn(hs, "/");
    if (hl == 0 || hl >= sizeof r->host) {
        s3_remote_free(r);
        snprintf(err, errcap, "external S3 endpoint has no host");
        return NULL;
    }
    memcpy(r->host, hs, hl);
    r->host[hl] = '\0';
    /* curl leaves a scheme's default port out of Host; so do we */
    size_t l = strlen(r->host);
    if ((strncmp(r->endpoint, "http://", 7) == 0 && l > 3 && strcmp(r->host + l - 3, ":80") == 0) ||
        (strncmp(r->endpoint, "https://", 8) == 0 && l > 4 && strcmp(r->host + l - 4, ":443") == 0))
        *strrchr(r->host, ':') = '\0';
    r->access_key = strdup(o->access_key);
    r->secret_key = strdup(o->secret_key);
    r->session_token = o->session_token && *o->session_token ? strdup(o->session_token) : NULL;
    r->connect_timeout_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 3000;
    r->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 30000;
    if (!r->access_key || !r->secret_key || (o->session_token && *o->session_token && !r->session_token)) {
        s3_remote_free(r);
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    return r;
}

void s3_remote_free(s3_remote *r)
{
    if (!r)
        return;
    free(r->access_key);
    if (r->secret_key) {
        memset(r->secret_key, 0, strlen(r->secret_key));
        free(r->secret_key);
    }
    free(r->session_token);
    free(r);
}

const char *s3_remote_endpoint(const s3_remote *r)
{
    return r->endpoint;
}

/* ---------------------------------------------------------------- encoding */

bool s3_remote_uri_encode(const char *s, bool keep_slash, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        bool plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
                     *p == '-' || *p == '_' || *p == '.' || *p == '~' || (keep_slash && *p == '/');
        if (o + (plain ? 1 : 3) >= cap)
            return false;
        if (plain) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    if (o >= cap)
        return false;
    out[o] = '\0';
    return true;
}

/* ENDPOINT/BUCKET[/KEY][?QUERY] */
static bool rs_url(const s3_remote *r, const char *bucket, const char *key, const char *query, char *out, size_t cap)
{
    char eb[256], ek[3200];
    if (!s3_remote_uri_encode(bucket, false, eb, sizeof eb) || (key && !s3_remote_uri_encode(key, true, ek, sizeof ek)))
        return false;
    int n = snprintf(out, cap, "%s/%s%s%s%s%s", r->endpoint, eb, key ? "/" : "", key ? ek : "", query ? "?" : "",
                     query ? query : "");
    return n > 0 && (size_t)n < cap;
}

/* ---------------------------------------------------------------- XML */

static bool rs_is(const xmlNode *n, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

static xmlDocPtr rs_parse(const char *xml, size_t n)
{
    if (!xml || n == 0 || n > (size_t)64 << 20)
        return NULL;
    return xmlReadMemory(xml, (int)n, "s3.xml", NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}

void s3_remote_parse_error(const char *xml, size_t n, s3_remote_res *res)
{
    xmlDocPtr doc = rs_parse(xml, n);
    xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (rs_is(root, "Error")) {
        for (xmlNode *c = root->children; c; c = c->next) {
            if (!rs_is(c, "Code") && !rs_is(c, "Message"))
                continue;
            xmlChar *t = xmlNodeGetContent(c);
            if (t) {
                if (rs_is(c, "Code"))
                    gt_strlcpy(res->code, (const char *)t, sizeof res->code);
                else
                    gt_strlcpy(res->msg, (const char *)t, sizeof res->msg);
            }
            xmlFree(t);
        }
    }
    xmlFreeDoc(doc);
}

int s3_remote_parse_list(const char *xml, size_t n, s3_remote_key_cb cb, void *ud, bool *truncated,
                         char *next_token, size_t cap)
{
    *truncated = false;
    if (cap)
        next_token[0] = '\0';
    xmlDocPtr doc = rs_parse(xml, n);
    xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (!rs_is(root, "ListBucketResult")) {
        xmlFreeDoc(doc);
        return -1;
    }
    int rc = 0;
    for (xmlNode *c = root->children; c && rc == 0; c = c->next) {
        if (rs_is(c, "Contents")) {
            for (xmlNode *k = c->children; k; k = k->next) {
                if (!rs_is(k, "Key"))
                    continue;
                xmlChar *t = xmlNodeGetContent(k);
                if (t && cb(ud, (const char *)t) != 0)
                    rc = 1;
                xmlFree(t);
                break;
            }
        } else if (rs_is(c, "IsTruncated") || rs_is(c, "NextContinuationToken")) {
            xmlChar *t = xmlNodeGetContent(c);
            if (t && rs_is(c, "IsTruncated"))
                *truncated = strcmp((const char *)t, "true") == 0;
            else if (t && cap && !gt_strlcpy(next_token, (const char *)t, cap))
                next_token[0] = '\0';
            xmlFree(t);
        }
    }
    xmlFreeDoc(doc);
    return rc;
}

/* ---------------------------------------------------------------- one request */

typedef struct rs_buf {
    unsigned char *p;
    size_t n, cap, max;
    bool over;
} rs_buf;

static size_t rs_write(char *data, size_t size, size_t nmemb, void *ud)
{
    rs_buf *b = ud;
    size_t n = size * nmemb;
    if (b->n + n > b->max) {
        b->over = true;
        return 0;   /* aborts the transfer */
    }
    if (b->n + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 16384;
        while (nc < b->n + n + 1)
            nc *= 2;
        unsigned char *np = realloc(b->p, nc);
        if (!np)
            return 0;
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
    b->p[b->n] = '\0';
    return n;
}

typedef struct rs_hdr {
    const char *want;   /* "x-amz-meta-NAME" or NULL */
    char *val;
    size_t cap;
} rs_hdr;

static size_t rs_header(char *data, size_t size, size_t nmemb, void *ud)
{
    rs_hdr *h = ud;
    size_t n = size * nmemb;
    if (!h->want)
        return n;
    size_t wl = strlen(h->want);
    if (n > wl + 1 && strncasecmp(data, h->want, wl) == 0 && data[wl] == ':') {
        const char *v = data + wl + 1;
        size_t vl = n - wl - 1;
        while (vl && (*v == ' ' || *v == '\t'))
            v++, vl--;
        while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
            vl--;
        if (vl < h->cap) {
            memcpy(h->val, v, vl);
            h->val[vl] = '\0';
        }
    }
    return n;
}

typedef struct rs_req {
    const char *method;          /* GET, HEAD, PUT */
    const char *url;
    const void *body;            /* PUT */
    size_t body_len;
    const char *content_type;    /* PUT */
    const char *meta_json;       /* PUT: x-amz-meta-* */
    size_t max_bytes;            /* GET: answer body cap */
    rs_buf *out;                 /* GET: the answer body (success only) */
    rs_hdr *hdr;                 /* GET/HEAD: one header to capture */
    const char *missing_code;    /* code for a body-less 404 (HEAD) */
} rs_req;

static struct curl_slist *rs_add(struct curl_slist *h, const char *name, const char *value, bool *ok)
{
    char line[2048];
    int n = snprintf(line, sizeof line, "%s: %s", name, value);
    if (n <= 0 || (size_t)n >= sizeof line) {
        *ok = false;
        return h;
    }
    struct curl_slist *nh = curl_slist_append(h, line);
    if (!nh) {
        *ok = false;
        return h;
    }
    return nh;
}

/* ---------------------------------------------------------------- signing (see the essay) */

#define RS_MAX_HDRS 16

typedef struct rs_hv {
    char name[160];      /* lower case */
    const char *value;
} rs_hv;

static int rs_hv_cmp(const void *a, const void *b)
{
    return strcmp(((const rs_hv *)a)->name, ((const rs_hv *)b)->name);
}

static bool rs_hmac(const unsigned char *key, size_t kn, const char *msg, unsigned char out[32])
{
    unsigned int n = 32;
    return HMAC(EVP_sha256(), key, (int)kn, (const unsigned char *)msg, strlen(msg), out, &n) && n == 32;
}

static bool rs_cat(char *buf, size_t cap, size_t *len, const char *s)
{
    size_t n = strlen(s);
    if (*len + n >= cap)
        return false;
    memcpy(buf + *len, s, n + 1);
    *len += n;
    return true;
}

/* The Authorization header value for a request to url whose headers are
 * hv (every header sent but Host, which is added here and sent as r->host). */
static bool rs_self_sign(const s3_remote *r, const char *method, const char *url, rs_hv *hv, int n,
                         const char *payload_sha, const char *amz_date, char *auth, size_t authcap)
{
    const char *path = strstr(url, "://");
    path = path ? path + 3 + strcspn(path + 3, "/") : url;
    size_t plen = strcspn(path, "?");
    const char *query = path[plen] == '?' ? path + plen + 1 : "";
    rs_hv all[RS_MAX_HDRS + 1];
    if (n > RS_MAX_HDRS)
        return false;
    memcpy(all, hv, (size_t)n * sizeof *hv);
    gt_strlcpy(all[n].name, "host", sizeof all[n].name);
    all[n].value = r->host;
    n++;
    qsort(all, (size_t)n, sizeof *all, rs_hv_cmp);
    size_t cap = 16384, len = 0;
    char *cr = malloc(cap);
    char signed_list[1024] = "";
    size_t sl = 0;
    bool ok = cr != NULL;
    if (ok) {
        cr[0] = '\0';
        ok = rs_cat(cr, cap, &len, method) && rs_cat(cr, cap, &len, "\n") && plen < 4096;
    }
    if (ok) {
        char p[4096];
        memcpy(p, path, plen);
        p[plen] = '\0';
        ok = rs_cat(cr, cap, &len, plen ? p : "/") && rs_cat(cr, cap, &len, "\n") && rs_cat(cr, cap, &len, query) &&
             rs_cat(cr, cap, &len, "\n");
    }
    for (int i = 0; ok && i < n; i++) {
        ok = rs_cat(cr, cap, &len, all[i].name) && rs_cat(cr, cap, &len, ":") &&
             rs_cat(cr, cap, &len, all[i].value) && rs_cat(cr, cap, &len, "\n") &&
             (i == 0 || rs_cat(signed_list, sizeof signed_list, &sl, ";")) &&
             rs_cat(signed_list, sizeof signed_list, &sl, all[i].name);
    }
    ok = ok && rs_cat(cr, cap, &len, "\n") && rs_cat(cr, cap, &len, signed_list) && rs_cat(cr, cap, &len, "\n") &&
         rs_cat(cr, cap, &len, payload_sha);
    unsigned char md[32] = {0};
    unsigned int mdl = 0;
    ok = ok && EVP_Digest(cr, len, md, &mdl, EVP_sha256(), NULL) == 1 && mdl == 32;
    free(cr);
    if (!ok)
        return false;
    char crhex[65], date[9], scope[128], sts[512], kdate_key[300];
    gt_hex(md, 32, crhex);
    memcpy(date, amz_date, 8);
    date[8] = '\0';
    snprintf(scope, sizeof scope, "%s/%s/s3/aws4_request", date, r->region);
    snprintf(sts, sizeof sts, "AWS4-HMAC-SHA256\n%s\n%s\n%s", amz_date, scope, crhex);
    int kn = snprintf(kdate_key, sizeof kdate_key, "AWS4%s", r->secret_key);
    unsigned char k1[32], k2[32], k3[32], k4[32], sig[32];
    ok = kn > 0 && (size_t)kn < sizeof kdate_key && rs_hmac((unsigned char *)kdate_key, (size_t)kn, date, k1) &&
         rs_hmac(k1, 32, r->region, k2) && rs_hmac(k2, 32, "s3", k3) && rs_hmac(k3, 32, "aws4_request", k4) &&
         rs_hmac(k4, 32, sts, sig);
    memset(kdate_key, 0, sizeof kdate_key);
    memset(k1, 0, sizeof k1);
    memset(k4, 0, sizeof k4);
    if (!ok)
        return false;
    char sighex[65];
    gt_hex(sig, 32, sighex);
    int an = snprintf(auth, authcap, "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
                      r->access_key, scope, signed_list, sighex);
    return an > 0 && (size_t)an < authcap;
}

/* Do two header names sort wrongly in curl 7.88 (one a prefix of another)? */
static bool rs_prefix_names(const rs_hv *hv, int n)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            if (i != j && strncmp(hv[i].name, hv[j].name, strlen(hv[i].name)) == 0)
                return true;
    return false;
}

static void rs_transport_error(CURLcode cc, const char *ebuf, const s3_remote *r, s3_remote_res *res)
{
    const char *code = "ConnectionError";
    if (cc == CURLE_COULDNT_CONNECT)
        code = "ConnectionRefused";
    else if (cc == CURLE_OPERATION_TIMEDOUT)
        code = "RequestTimeout";
    else if (cc == CURLE_COULDNT_RESOLVE_HOST)
        code = "UnknownHost";
    gt_strlcpy(res->code, code, sizeof res->code);
    snprintf(res->msg, sizeof res->msg, "%.120s: %.120s", r->endpoint, ebuf[0] ? ebuf : curl_easy_strerror(cc));
}

static bool rs_perform(const s3_remote *r, const rs_req *q, s3_remote_res *res)
{
    memset(res, 0, sizeof *res);
    CURL *h = curl_easy_init();
    if (!h) {
        gt_strlcpy(res->code, "ConnectionError", sizeof res->code);
        gt_strlcpy(res->msg, "cannot create a connection handle", sizeof res->msg);
        return false;
    }
    bool ok = true;
    struct curl_slist *hd = NULL;
    char sha[65];
    if (q->body) {
        unsigned char md[32] = {0};
        unsigned int mdl = 0;
        if (EVP_Digest(q->body, q->body_len, md, &mdl, EVP_sha256(), NULL) != 1 || mdl != 32)
            ok = false;
        gt_hex(md, 32, sha);
    } else {
        gt_strlcpy(sha, RS_EMPTY_SHA256, sizeof sha);
    }
    rs_hv hv[RS_MAX_HDRS];
    int nhv = 0;
    gt_strlcpy(hv[nhv].name, "x-amz-content-sha256", sizeof hv[0].name);
    hv[nhv++].value = sha;
    if (r->session_token) {
        gt_strlcpy(hv[nhv].name, "x-amz-security-token", sizeof hv[0].name);
        hv[nhv++].value = r->session_token;
    }
    if (q->content_type) {
        gt_strlcpy(hv[nhv].name, "content-type", sizeof hv[0].name);
        hv[nhv++].value = q->content_type;
    }
    json_t *m = q->meta_json ? json_loads(q->meta_json, 0, NULL) : NULL;
    if (q->meta_json) {
        const char *k;
        json_t *v;
        ok = ok && json_is_object(m);
        json_object_foreach(m, k, v) {
            if (!json_is_string(v) || nhv >= RS_MAX_HDRS - 1 ||
                snprintf(hv[nhv].name, sizeof hv[0].name, "x-amz-meta-%s", k) >= (int)sizeof hv[0].name) {
                ok = false;
                break;
            }
            for (char *c = hv[nhv].name; *c; c++)
                if (*c >= 'A' && *c <= 'Z')
                    *c = (char)(*c - 'A' + 'a');
            hv[nhv++].value = json_string_value(v);
        }
    }
    char amz_date[20] = "", auth[1024] = "";
    bool self_sign = rs_prefix_names(hv, nhv);
    if (self_sign) {
        gt_strlcpy(hv[nhv].name, "x-amz-date", sizeof hv[0].name);
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(amz_date, sizeof amz_date, "%Y%m%dT%H%M%SZ", &tm);
        hv[nhv++].value = amz_date;
        ok = ok && rs_self_sign(r, q->method, q->url, hv, nhv, sha, amz_date, auth, sizeof auth);
        hd = rs_add(hd, "Host", r->host, &ok);
        hd = rs_add(hd, "Authorization", auth, &ok);
    }
    for (int i = 0; i < nhv; i++)
        hd = rs_add(hd, hv[i].name, hv[i].value, &ok);
    json_decref(m);   /* the values were copied into hd */
    /* no "Expect:" removal header: curl 7.88 would sign a header it then
     * does not send (servers refuse the signature) */
    if (!ok) {
        curl_slist_free_all(hd);
        curl_easy_cleanup(h);
        gt_strlcpy(res->code, "InvalidRequest", sizeof res->code);
        gt_strlcpy(res->msg, "request headers too large", sizeof res->msg);
        return false;
    }
    rs_buf body = {.max = q->out ? q->max_bytes : RS_ERRBODY_MAX};
    char ebuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, q->url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, r->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, r->timeout_ms);
    if (!self_sign) {
        curl_easy_setopt(h, CURLOPT_AWS_SIGV4, r->sigv4);
        curl_easy_setopt(h, CURLOPT_USERNAME, r->access_key);
        curl_easy_setopt(h, CURLOPT_PASSWORD, r->secret_key);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "greentrail-s3-remote/1");
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, rs_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
    if (q->hdr) {
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, rs_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, q->hdr);
    }
    if (strcmp(q->method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(q->method, "PUT") == 0) {
        /* the body from memory: curl hashes the same bytes we did */
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, q->body ? (const char *)q->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->body_len);
    }
    CURLcode cc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hd);
    curl_easy_cleanup(h);
    bool good = false;
    if (cc != CURLE_OK && !(cc == CURLE_WRITE_ERROR && body.over)) {
        rs_transport_error(cc, ebuf, r, res);
    } else if (body.over) {
        res->http = status;
        gt_strlcpy(res->code, "EntityTooLarge", sizeof res->code);
        snprintf(res->msg, sizeof res->msg, "the answer is larger than %zu bytes", body.max);
    } else {
        res->http = status;
        if (status >= 200 && status < 300) {
            good = true;
        } else {
            s3_remote_parse_error((const char *)body.p, body.n, res);
            if (!res->code[0]) {
                const char *c = status == 404 && q->missing_code ? q->missing_code
                              : status == 404                    ? "NotFound"
                              : status == 403                    ? "AccessDenied"
                              : status == 301 || status == 307   ? "PermanentRedirect"
                              : status >= 500                    ? "InternalError"
                                                                 : "BadRequest";
                gt_strlcpy(res->code, c, sizeof res->code);
            }
            if (!res->msg[0])
                snprintf(res->msg, sizeof res->msg, "HTTP %ld from %.160s", status, r->endpoint);
        }
    }
    if (good && q->out) {
        *q->out = body;
    } else {
        free(body.p);
    }
    return good;
}

/* ---------------------------------------------------------------- calls */

bool s3_remote_head_bucket(s3_remote *r, const char *bucket, s3_remote_res *res)
{
    char url[RS_URL_CAP];
    if (!rs_url(r, bucket, NULL, NULL, url, sizeof url)) {
        memset(res, 0, sizeof *res);
        gt_strlcpy(res->code, "InvalidBucketName", sizeof res->code);
        return false;
    }
    rs_req q = {.method = "HEAD", .url = url, .missing_code = "NoSuchBucket"};
    return rs_perform(r, &q, res);
}

bool s3_remote_put(s3_remote *r, const char *bucket, const char *key, const void *data, size_t len,
                   const char *content_type, const char *meta_json, s3_remote_res *res)
{
    char url[RS_URL_CAP];
    if (!rs_url(r, bucket, key, NULL, url, sizeof url)) {
        memset(res, 0, sizeof *res);
        gt_strlcpy(res->code, "KeyTooLongError", sizeof res->code);
        return false;
    }
    rs_req q = {.method = "PUT", .url = url, .body = data ? data : "", .body_len = len,
                .content_type = content_type ? content_type : "application/octet-stream", .meta_json = meta_json};
    return rs_perform(r, &q, res);
}

bool s3_remote_get(s3_remote *r, const char *bucket, const char *key, size_t max_bytes, unsigned char **data,
                   size_t *len, const char *meta_name, char *meta_val, size_t meta_cap, s3_remote_res *res)
{
    *data = NULL;
    *len = 0;
    char url[RS_URL_CAP], want[160];
    if (!rs_url(r, bucket, key, NULL, url, sizeof url)) {
        memset(res, 0, sizeof *res);
        gt_strlcpy(res->code, "KeyTooLongError", sizeof res->code);
        return false;
    }
    rs_hdr hdr = {NULL, meta_val, meta_cap};
    if (meta_name && meta_val && meta_cap) {
        meta_val[0] = '\0';
        snprintf(want, sizeof want, "x-amz-meta-%s", meta_name);
        hdr.want = want;
    }
    rs_buf out = {0};
    rs_req q = {.method = "GET", .url = url, .max_bytes = max_bytes, .out = &out, .hdr = &hdr,
                .missing_code = "NoSuchKey"};
    if (!rs_perform(r, &q, res))
        return false;
    if (!out.p) {   /* an empty object */
        out.p = malloc(1);
        if (!out.p)
            return false;
        out.p[0] = '\0';
    }
    *data = out.p;
    *len = out.n;
    return true;
}

bool s3_remote_head_object(s3_remote *r, const char *bucket, const char *key, s3_remote_res *res)
{
    char url[RS_URL_CAP];
    if (!rs_url(r, bucket, key, NULL, url, sizeof url)) {
        memset(res, 0, sizeof *res);
        gt_strlcpy(res->code, "KeyTooLongError", sizeof res->code);
        return false;
    }
    rs_req q = {.method = "HEAD", .url = url, .missing_code = "NoSuchKey"};
    return rs_perform(r, &q, res);
}

bool s3_remote_list(s3_remote *r, const char *bucket, const char *prefix, s3_remote_key_cb cb, void *ud,
                    s3_remote_res *res)
{
    char token[1024] = "";
    for (int page = 0; page < 100000; page++) {
        /* canonical order (curl 7.88 signs the query as given): names sorted */
        char et[3200] = "", ep[3200], query[7000], url[RS_URL_CAP + 7000];
        if (!s3_remote_uri_encode(prefix ? prefix : "", false, ep, sizeof ep) ||
            !s3_remote_uri_encode(token, false, et, sizeof et)) {
            memset(res, 0, sizeof *res);
            gt_strlcpy(res->code, "InvalidArgument", sizeof res->code);
            return false;
        }
        snprintf(query, sizeof query, "%s%s%slist-type=2&max-keys=1000&prefix=%s", token[0] ? "continuation-token=" : "",
                 et, token[0] ? "&" : "", ep);
        if (!rs_url(r, bucket, NULL, query, url, sizeof url)) {
            memset(res, 0, sizeof *res);
            gt_strlcpy(res->code, "InvalidArgument", sizeof res->code);
            return false;
        }
        rs_buf out = {0};
        rs_req q = {.method = "GET", .url = url, .max_bytes = (size_t)16 << 20, .out = &out,
                    .missing_code = "NoSuchBucket"};
        if (!rs_perform(r, &q, res))
            return false;
        bool more = false;
        int rc = s3_remote_parse_list((const char *)out.p, out.n, cb, ud, &more, token, sizeof token);
        free(out.p);
        if (rc < 0) {
            gt_strlcpy(res->code, "MalformedXML", sizeof res->code);
            snprintf(res->msg, sizeof res->msg, "the ListObjectsV2 answer of %.160s is not a ListBucketResult",
                     r->endpoint);
            return false;
        }
        if (rc > 0 || !more)
            return true;
        if (!token[0]) {
            gt_strlcpy(res->code, "MalformedXML", sizeof res->code);
            snprintf(res->msg, sizeof res->msg, "truncated listing without NextContinuationToken");
            return false;
        }
    }
    return false;
}
