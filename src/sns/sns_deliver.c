/*
 * sns_deliver.c: SNS HTTP(S) delivery, message signing, and the few
 * unauthenticated SNS URLs (signing certificate, SubscribeURL,
 * UnsubscribeURL).
 *
 * What: one background thread. Every interval it reads the due delivery
 * documents ("sns.dlv", written by sns.c in the transaction of the call
 * that caused them), builds each one's JSON envelope (cloudtrail.md §4.2:
 * Type, MessageId, Token, TopicArn, Subject, Message, SubscribeURL,
 * Timestamp, SignatureVersion, Signature, SigningCertURL, UnsubscribeURL),
 * signs it and POSTs it with libcurl (Content-Type text/plain, the
 * x-amz-sns-* headers). Then one store_run job deletes the delivered
 * documents and moves the others' retry time.
 *
 * Signing: an RSA-2048 key and a self-signed certificate are created once
 * in DATA_DIR/sns (kept across restarts, so SigningCertURL stays valid)
 * and the certificate is served at BASE/sns/SimpleNotificationService-<id>.pem
 * (id: the first 16 bytes of the certificate's SHA-256, hex). They are
 * loaded (or, on an empty data dir, made: an RSA-2048 generation, 0.2-1 s)
 * by a short-lived thread at low priority (nice 10), not before the
 * server listens; a stop cancels a generation in progress (gt_rsa_gen); whoever needs them first (that thread, the delivery
 * thread, or a GET of the certificate) makes them under key_mu and the
 * others wait for it (ensure_key). Tests hold the
 * thread back with DATA_DIR/test-keygen-hold (GREENTRAIL_TEST_FAULTS=1).
 * Signature
 * version 1 is SHA1withRSA, version 2 SHA256withRSA, over the string to
 * sign of §4.2 -- what the SNS message verifiers of the AWS SDKs check.
 *
 * Retries: exponential back-off, 1 s doubling to 20 s (AWS's default
 * maxDelayTarget), at most SNS_MAX_ATTEMPTS attempts; the MessageId is
 * kept. A message is lost only after that (logged to stderr). Delivery is
 * at least once: a crash after the POST and before the delete re-sends.
 *
 * Several nodes sharing one store: the "sns-delivery" lease (60 s, taken
 * when deliveries are due) lets one node deliver at a time; a pass longer
 * than the lease may overlap another node's (at least once still holds).
 *
 * Invariants: writes only in store_run jobs; no network inside a store
 * job; the thread is the only writer of existing delivery documents.
 */
#include "sns/sns.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/query.h"
#include "util/gtutil.h"
#include "util/testclock.h"

#define SNS_MAX_ATTEMPTS 50
#define SNS_BATCH 64
#define SNS_HTTP_TIMEOUT_MS 5000L
#define SNS_BACKOFF_BASE_MS 1000
#define SNS_BACKOFF_MAX_MS 20000
#define SNS_LEASE "sns-delivery"
#define SNS_LEASE_TTL_MS 60000

struct sns_worker {
    sns_worker_opts o;
    char base_url[512];
    EVP_PKEY *key;
    char *cert_pem;
    char cert_id[33];
    char cert_url[700];
    pthread_mutex_t key_mu;   /* guards key, cert_pem, cert_id, cert_url until key is set */
    _Atomic bool key_ready;   /* set once, after they are */
    pthread_t th, key_th;
    bool key_th_started;
    _Atomic bool key_th_done;   /* key_main returned: the worker may retry a failed key */
    _Atomic bool key_cancel;    /* stopping: a key generation in progress gives up */
    bool key_warned;            /* the failure was logged (under key_mu) */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    bool leased;   /* this node took the delivery lease at least once */
};

static _Atomic(sns_worker *) g_worker;

int sns_url_action(store *st, const char *action, const char *topic_arn, const char *token, const char *sub_arn,
                   char **xml);

/* ---------------------------------------------------------------- key + certificate */

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(65536);
    size_t n = buf ? fread(buf, 1, 65535, f) : 0;
    fclose(f);
    if (buf)
        buf[n] = '\0';
    return buf;
}

static bool write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return false;
    bool ok = fwrite(text, 1, strlen(text), f) == strlen(text);
    return fclose(f) == 0 && ok;
}

static char *bio_text(BIO *b)
{
    char *p;
    long n = BIO_get_mem_data(b, &p);
    char *out = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (out) {
        memcpy(out, p, (size_t)n);
        out[n] = '\0';
    }
    return out;
}

/* Create a key and a self-signed certificate (PEM texts); false when
 * *cancel became true meanwhile (the server is stopping). */
static bool make_key_cert(char **key_pem, char **cert_pem, const _Atomic bool *cancel)
{
    EVP_PKEY *k = gt_rsa_gen(2048, cancel);
    X509 *x = X509_new();
    BIO *kb = BIO_new(BIO_s_mem()), *cb = BIO_new(BIO_s_mem());
    bool ok = k && x && kb && cb;
    if (ok) {
        unsigned char serial[8];
        ok = RAND_bytes(serial, sizeof serial) == 1;
        serial[0] &= 0x7f;
        ASN1_INTEGER_set_uint64(X509_get_serialNumber(x), ((uint64_t)serial[0] << 56) | ((uint64_t)serial[1] << 48) |
                                                               ((uint64_t)serial[2] << 40) | ((uint64_t)serial[3] << 32) |
                                                               ((uint64_t)serial[4] << 24) | ((uint64_t)serial[5] << 16) |
                                                               ((uint64_t)serial[6] << 8) | serial[7]);
        X509_set_version(x, 2);
        X509_gmtime_adj(X509_getm_notBefore(x), -3600);
        X509_gmtime_adj(X509_getm_notAfter(x), 3650L * 24 * 3600);
        X509_set_pubkey(x, k);
        X509_NAME *nm = X509_get_subject_name(x);
        X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)"sns.amazonaws.com", -1, -1, 0);
        X509_NAME_add_entry_by_txt(nm, "O", MBSTRING_ASC, (const unsigned char *)"greentrail", -1, -1, 0);
        X509_set_issuer_name(x, nm);
        ok = ok && X509_sign(x, k, EVP_sha256()) > 0 && PEM_write_bio_PrivateKey(kb, k, NULL, NULL, 0, NULL, NULL) == 1 &&
             PEM_write_bio_X509(cb, x) == 1;
    }
    if (ok) {
        *key_pem = bio_text(kb);
        *cert_pem = bio_text(cb);
        ok = *key_pem && *cert_pem;
    }
    BIO_free(kb);
    BIO_free(cb);
    X509_free(x);
    EVP_PKEY_free(k);
    return ok;
}

static bool load_key_cert(sns_worker *w, char *err, size_t errcap)
{
    char dir[2300], kp[2400], cp[2400];
    snprintf(dir, sizeof dir, "%s/sns", w->o.data_dir);
    snprintf(kp, sizeof kp, "%s/signing-key.pem", dir);
    snprintf(cp, sizeof cp, "%s/signing-cert.pem", dir);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errcap, "cannot create %s: %s", dir, strerror(errno));
        return false;
    }
    char *key_pem = read_file(kp), *cert_pem = read_file(cp);
    if (!key_pem || !cert_pem || !*key_pem || !*cert_pem) {
        free(key_pem);
        free(cert_pem);
        key_pem = cert_pem = NULL;
        if (!make_key_cert(&key_pem, &cert_pem, &w->key_cancel) || !write_file(kp, key_pem) || !write_file(cp, cert_pem)) {
            snprintf(err, errcap, "cannot create the SNS signing key in %s", dir);
            free(key_pem);
            free(cert_pem);
            return false;
        }
        chmod(kp, 0600);
    }
    BIO *kb = BIO_new_mem_buf(key_pem, -1), *cb = BIO_new_mem_buf(cert_pem, -1);
    w->key = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
    X509 *x = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
    BIO_free(kb);
    BIO_free(cb);
    OPENSSL_cleanse(key_pem, strlen(key_pem));
    free(key_pem);
    unsigned char md[32];
    unsigned int mdn = 0;
    bool ok = w->key && x && X509_digest(x, EVP_sha256(), md, &mdn) == 1;
    X509_free(x);
    if (!ok) {
        free(cert_pem);
        snprintf(err, errcap, "cannot read the SNS signing key or certificate in %s", dir);
        return false;
    }
    gt_hex(md, 16, w->cert_id);
    w->cert_pem = cert_pem;
    snprintf(w->cert_url, sizeof w->cert_url, "%s/sns/SimpleNotificationService-%s.pem", w->base_url, w->cert_id);
    return true;
}

/* The key and certificate, loaded or made on first use (any thread). */
static bool ensure_key(sns_worker *w)
{
    if (atomic_load(&w->key_ready))
        return true;
    pthread_mutex_lock(&w->key_mu);
    if (!atomic_load(&w->key_ready)) {
        char err[2600];
        EVP_PKEY_free(w->key);   /* left by an earlier failed attempt; unused until key_ready */
        w->key = NULL;
        if (load_key_cert(w, err, sizeof err))
            atomic_store(&w->key_ready, true);
        else if (!w->key_warned && !atomic_load(&w->key_cancel))   /* retried at every pass; logged once */
            fprintf(stderr, "greentrail: SNS messages are not delivered: %s\n", err);
        w->key_warned = w->key_warned || !atomic_load(&w->key_ready);
    }
    pthread_mutex_unlock(&w->key_mu);
    return atomic_load(&w->key_ready);
}

/* Tests (GREENTRAIL_TEST_FAULTS=1): the thread waits while
 * DATA_DIR/test-keygen-hold exists (or until stopped). */
static void test_hold(sns_worker *w)
{
    const char *f = getenv("GREENTRAIL_TEST_FAULTS");
    if (!f || strcmp(f, "1") != 0)
        return;
    char path[2300];
    snprintf(path, sizeof path, "%s/test-keygen-hold", w->o.data_dir);
    struct stat sb;
    pthread_mutex_lock(&w->mu);
    while (!w->stop && stat(path, &sb) == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
    }
    pthread_mutex_unlock(&w->mu);
}

/* ---------------------------------------------------------------- envelope */

char *sns_string_to_sign(const json_t *env)
{
    const char *type = json_string_value(json_object_get(env, "Type"));
    if (!type)
        return NULL;
    static const char *const notif[] = {"Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"};
    static const char *const conf[] = {"Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"};
    bool is_n = strcmp(type, "Notification") == 0;
    const char *const *names = is_n ? notif : conf;
    size_t n = is_n ? 6 : 7, len = 1;
    for (size_t i = 0; i < n; i++) {
        const char *v = json_string_value(json_object_get(env, names[i]));
        if (!v && strcmp(names[i], "Subject") != 0)
            return NULL;
        if (v)
            len += strlen(names[i]) + strlen(v) + 2;
    }
    char *out = malloc(len), *p = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        const char *v = json_string_value(json_object_get(env, names[i]));
        if (!v)
            continue;
        size_t a = strlen(names[i]), b = strlen(v);
        memcpy(p, names[i], a);
        p[a] = '\n';
        memcpy(p + a + 1, v, b);
        p[a + 1 + b] = '\n';
        p += a + b + 2;
    }
    *p = '\0';
    return out;
}

static bool sign(const sns_worker *w, const char *text, bool v2, char *b64, size_t cap)
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    unsigned char sig[1024];
    size_t sn = sizeof sig;
    bool ok = m && EVP_DigestSignInit(m, NULL, v2 ? EVP_sha256() : EVP_sha1(), NULL, w->key) == 1 &&
              EVP_DigestSign(m, sig, &sn, (const unsigned char *)text, strlen(text)) == 1;
    EVP_MD_CTX_free(m);
    if (!ok || cap < 4 * ((sn + 2) / 3) + 1)
        return false;
    EVP_EncodeBlock((unsigned char *)b64, sig, (int)sn);
    return true;
}

static void url_escape(CURL *h, const char *s, char *out, size_t cap)
{
    char *e = curl_easy_escape(h, s, 0);
    gt_strlcpy(out, e ? e : "", cap);
    curl_free(e);
}

/* The signed envelope of delivery doc d (JSON text, malloc'd). */
static char *envelope(const sns_worker *w, CURL *h, const json_t *d)
{
    const char *type = json_string_value(json_object_get(d, "Type"));
    const char *topic = json_string_value(json_object_get(d, "TopicArn"));
    const char *token = json_string_value(json_object_get(d, "Token"));
    const char *sarn = json_string_value(json_object_get(d, "SubscriptionArn"));
    bool v2 = strcmp(json_string_value(json_object_get(d, "sigv")) ? json_string_value(json_object_get(d, "sigv")) : "1",
                     "2") == 0;
    json_t *env = json_object();
    json_object_set_new(env, "Type", json_string(type));
    json_object_set(env, "MessageId", json_object_get(d, "MessageId"));
    if (token)
        json_object_set_new(env, "Token", json_string(token));
    json_object_set_new(env, "TopicArn", json_string(topic));
    if (json_object_get(d, "Subject"))
        json_object_set(env, "Subject", json_object_get(d, "Subject"));
    json_object_set(env, "Message", json_object_get(d, "Message"));
    char et[1024], es[2048], eu[4096];
    url_escape(h, topic ? topic : "", et, sizeof et);
    if (token) {
        url_escape(h, token, es, sizeof es);
        snprintf(eu, sizeof eu, "%s/sns/?Action=ConfirmSubscription&TopicArn=%s&Token=%s", w->base_url, et, es);
        json_object_set_new(env, "SubscribeURL", json_string(eu));
    }
    json_object_set(env, "Timestamp", json_object_get(d, "Timestamp"));
    json_object_set_new(env, "SignatureVersion", json_string(v2 ? "2" : "1"));
    char *sts = sns_string_to_sign(env);
    char sig[1500];
    bool ok = sts && sign(w, sts, v2, sig, sizeof sig);
    free(sts);
    if (!ok) {
        json_decref(env);
        return NULL;
    }
    json_object_set_new(env, "Signature", json_string(sig));
    json_object_set_new(env, "SigningCertURL", json_string(w->cert_url));
    if (sarn) {
        url_escape(h, sarn, es, sizeof es);
        snprintf(eu, sizeof eu, "%s/sns/?Action=Unsubscribe&SubscriptionArn=%s", w->base_url, es);
        json_object_set_new(env, "UnsubscribeURL", json_string(eu));
    }
    char *text = json_dumps(env, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(env);
    return text;
}

/* ---------------------------------------------------------------- HTTP */

static size_t discard(char *p, size_t sz, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return sz * n;
}

static bool post(const sns_worker *w, CURL *h, const json_t *d, char *err, size_t errcap)
{
    const char *url = json_string_value(json_object_get(d, "url"));
    char *body = url ? envelope(w, h, d) : NULL;
    if (!body) {
        snprintf(err, errcap, "cannot build the message");
        return false;
    }
    struct curl_slist *hd = NULL;
    char line[1200];
    hd = curl_slist_append(hd, "Content-Type: text/plain; charset=UTF-8");
    snprintf(line, sizeof line, "x-amz-sns-message-type: %s", json_string_value(json_object_get(d, "Type")));
    hd = curl_slist_append(hd, line);
    snprintf(line, sizeof line, "x-amz-sns-message-id: %s", json_string_value(json_object_get(d, "MessageId")));
    hd = curl_slist_append(hd, line);
    snprintf(line, sizeof line, "x-amz-sns-topic-arn: %s", json_string_value(json_object_get(d, "TopicArn")));
    hd = curl_slist_append(hd, line);
    const char *sarn = json_string_value(json_object_get(d, "SubscriptionArn"));
    if (sarn) {
        snprintf(line, sizeof line, "x-amz-sns-subscription-arn: %s", sarn);
        hd = curl_slist_append(hd, line);
    }
    hd = curl_slist_append(hd, "Expect:");
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "Amazon Simple Notification Service Agent");
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, SNS_HTTP_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hd);
    free(body);
    if (rc != CURLE_OK) {
        snprintf(err, errcap, "%s", curl_easy_strerror(rc));
        return false;
    }
    if (status < 200 || status > 299) {
        snprintf(err, errcap, "HTTP %ld", status);
        return false;
    }
    return true;
}

/* ---------------------------------------------------------------- the thread */

typedef struct due_list {
    int64_t now;
    json_t *arr;
} due_list;

static int due_cb(void *ud, int64_t seq, const char *id, const char *body)
{
    due_list *l = ud;
    json_t *j = json_loads(body, 0, NULL);
    if (j && json_integer_value(json_object_get(j, "next_ms")) <= l->now) {
        json_object_set_new(j, "_id", json_string(id));
        json_array_append_new(l->arr, j);
    } else {
        json_decref(j);
    }
    return json_array_size(l->arr) >= SNS_BATCH;
}

static gt_err due_job(store_txn *t, void *ud)
{
    due_list *l = ud;
    return store_doc_list(t, "", "", SNS_KIND_DLV, NULL, 0, false, 0, due_cb, l) == STORE_OK ? GT_OK
                                                                                              : GT_E_UNAVAILABLE;
}

static gt_err save_job(store_txn *t, void *ud)
{
    json_t *arr = ud;
    size_t i;
    json_t *d;
    json_array_foreach(arr, i, d) {
        char id[64];
        gt_strlcpy(id, json_string_value(json_object_get(d, "_id")), sizeof id);
        store_key k = {"", "", SNS_KIND_DLV, id};
        int rc;
        if (json_is_true(json_object_get(d, "_done"))) {
            rc = store_doc_delete(t, &k);
        } else {
            json_t *c = json_copy(d);
            json_object_del(c, "_id");
            char *text = json_dumps(c, JSON_COMPACT);
            json_decref(c);
            rc = text ? store_doc_put(t, &k, NULL, text) : STORE_ERR;
            free(text);
        }
        if (rc == STORE_ERR)
            return GT_E_UNAVAILABLE;
    }
    return GT_OK;
}

static void run_pass(sns_worker *w, CURL *h)
{
    due_list l = {.now = gt_sched_now_ms(), .arr = json_array()};   /* back-offs: the test clock */
    /* several nodes on one PostgreSQL store: one delivers at a time (the
     * lease is taken only when something is due, so an idle node writes nothing) */
    if (!l.arr || store_read(w->o.st, due_job, &l) != GT_OK || json_array_size(l.arr) == 0 ||
        store_lease_acquire(w->o.st, SNS_LEASE, store_node_id(w->o.st), SNS_LEASE_TTL_MS) != STORE_OK) {
        json_decref(l.arr);
        return;
    }
    w->leased = true;
    size_t i;
    json_t *d;
    json_array_foreach(l.arr, i, d) {
        char err[256];
        if (post(w, h, d, err, sizeof err)) {
            json_object_set_new(d, "_done", json_true());
            continue;
        }
        int64_t a = json_integer_value(json_object_get(d, "attempts")) + 1;
        fprintf(stderr, "sns: delivery of %s to %s failed (attempt %lld): %s\n",
                json_string_value(json_object_get(d, "MessageId")), json_string_value(json_object_get(d, "url")),
                (long long)a, err);
        if (a >= SNS_MAX_ATTEMPTS) {
            fprintf(stderr, "sns: giving up on message %s after %lld attempts\n",
                    json_string_value(json_object_get(d, "MessageId")), (long long)a);
            json_object_set_new(d, "_done", json_true());
            continue;
        }
        int64_t delay = SNS_BACKOFF_BASE_MS;
        for (int64_t k = 1; k < a && delay < SNS_BACKOFF_MAX_MS; k++)
            delay *= 2;
        if (delay > SNS_BACKOFF_MAX_MS)
            delay = SNS_BACKOFF_MAX_MS;
        json_object_set_new(d, "attempts", json_integer(a));
        json_object_set_new(d, "next_ms", json_integer(gt_sched_now_ms() + delay));
    }
    if (store_run(w->o.st, save_job, l.arr) != GT_OK)
        fprintf(stderr, "sns: cannot save the delivery state\n");
    json_decref(l.arr);
}

/* The key at start, in the background at low priority. */
static void *key_main(void *arg)
{
    sns_worker *w = arg;
    /* below the request threads, not starved by them: at 19 a loaded
     * machine left it so little CPU that the key (and a stop, which
     * waited for it) took over 20 s (Linux: this thread only) */
    setpriority(PRIO_PROCESS, (id_t)gettid(), 10);
    test_hold(w);
    pthread_mutex_lock(&w->mu);
    bool stop = w->stop;
    pthread_mutex_unlock(&w->mu);
    if (!stop)
        ensure_key(w);
    atomic_store(&w->key_th_done, true);
    return NULL;
}

static void *worker_main(void *arg)
{
    sns_worker *w = arg;
    CURL *h = curl_easy_init();
    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        pthread_mutex_unlock(&w->mu);
        /* the key thread first; after it, a failed key is retried here */
        if (h && (atomic_load(&w->key_ready) ||
                  ((!w->key_th_started || atomic_load(&w->key_th_done)) && ensure_key(w))))
            run_pass(w, h);
        pthread_mutex_lock(&w->mu);
        if (w->stop)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = ts.tv_nsec + (int64_t)w->o.interval_ms * 1000000;
        ts.tv_sec += (time_t)(ns / 1000000000);
        ts.tv_nsec = (long)(ns % 1000000000);
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
    }
    pthread_mutex_unlock(&w->mu);
    curl_easy_cleanup(h);
    return NULL;
}

sns_worker *sns_worker_start(const sns_worker_opts *o, char *err, size_t errcap)
{
    sns_worker *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    w->o = *o;
    if (w->o.interval_ms <= 0)
        w->o.interval_ms = 200;
    gt_strlcpy(w->base_url, o->base_url, sizeof w->base_url);
    pthread_mutex_init(&w->key_mu, NULL);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->key_th_started = pthread_create(&w->key_th, NULL, key_main, w) == 0;
    if (pthread_create(&w->th, NULL, worker_main, w) != 0) {
        if (w->key_th_started) {
            pthread_mutex_lock(&w->mu);
            w->stop = true;
            pthread_mutex_unlock(&w->mu);
            atomic_store(&w->key_cancel, true);
            pthread_join(w->key_th, NULL);
            EVP_PKEY_free(w->key);
            free(w->cert_pem);
        }
        snprintf(err, errcap, "cannot start the SNS delivery thread");
        pthread_mutex_destroy(&w->key_mu);
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        free(w);
        return NULL;
    }
    atomic_store(&g_worker, w);
    return w;
}

void sns_worker_stop(sns_worker *w)
{
    if (!w)
        return;
    atomic_store(&g_worker, NULL);
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    atomic_store(&w->key_cancel, true);   /* a key being made now is not waited for */
    pthread_join(w->th, NULL);
    if (w->key_th_started)
        pthread_join(w->key_th, NULL);
    if (w->leased)
        store_lease_release(w->o.st, SNS_LEASE, store_node_id(w->o.st));
    pthread_mutex_destroy(&w->mu);
    pthread_mutex_destroy(&w->key_mu);
    pthread_cond_destroy(&w->cv);
    EVP_PKEY_free(w->key);
    free(w->cert_pem);
    free(w);
}

/* ---------------------------------------------------------------- unauthenticated URLs */

/* Narrow on purpose: a path-style S3 request for a bucket named "sns" is
 * signed (Authorization header, or a presigned URL's Signature) and stays
 * with the API. */
bool sns_http_wants(const http_req *req)
{
    static const char cert_pfx[] = "/sns/SimpleNotificationService-";
    size_t n;
    if (strcmp(req->method, "GET") != 0 || http_req_header(req, "Authorization", &n) ||
        memmem(req->query, req->query_len, "Signature", 9))   /* presigned: X-Amz-Signature, SigV2 */
        return false;
    if (req->path_len > sizeof cert_pfx - 1 && strncmp(req->path, cert_pfx, sizeof cert_pfx - 1) == 0)
        return true;
    bool root = (req->path_len == 4 && strncmp(req->path, "/sns", 4) == 0) ||
                (req->path_len == 5 && strncmp(req->path, "/sns/", 5) == 0);
    return root && memmem(req->query, req->query_len, "Action=", 7) != NULL;
}

static void answer(http_resp *out, int status, const char *ctype, char *body)
{
    out->status = status;
    out->content_type = ctype;
    out->body = body;
    out->body_len = body ? strlen(body) : 0;
}

void sns_http_handle(const http_req *req, http_resp *out)
{
    memset(out, 0, sizeof *out);
    gt_uuid4(out->request_id);
    sns_worker *w = atomic_load(&g_worker);
    if (!w) {
        answer(out, 503, "text/plain", strdup("SNS is not running"));
        return;
    }
    static const char cert_pfx[] = "/sns/SimpleNotificationService-";
    char want[128] = "";
    if (req->path_len > sizeof cert_pfx - 1 && strncmp(req->path, cert_pfx, sizeof cert_pfx - 1) == 0 && ensure_key(w))
        snprintf(want, sizeof want, "/sns/SimpleNotificationService-%s.pem", w->cert_id);
    if (want[0] && req->path_len == strlen(want) && strncmp(req->path, want, req->path_len) == 0) {
        answer(out, 200, "application/x-x509-ca-cert", strdup(w->cert_pem));
        return;
    }
    bool root = req->path_len == 4 || (req->path_len == 5 && req->path[4] == '/');
    const model_op *op = NULL;
    json_t *in = NULL;
    char msg[256];
    if (root && req->query_len > 0 && api_query_decode(&model_sns, req, &op, &in, msg, sizeof msg) == GT_OK && op) {
        char *xml = NULL;
        int st = sns_url_action(w->o.st, op->name, json_string_value(json_object_get(in, "TopicArn")),
                                json_string_value(json_object_get(in, "Token")),
                                json_string_value(json_object_get(in, "SubscriptionArn")), &xml);
        json_decref(in);
        answer(out, st, "text/xml", xml);
        return;
    }
    json_decref(in);
    answer(out, 404, "text/plain", strdup("Not Found"));
}
