/*
 * ct_digest.c: signing keys, digest signatures and ListPublicKeys
 * (cloudtrail.md §3.3, §3.4).
 *
 * Keys: one RSA-2048 (e = 65537) key pair per region and period, stored as
 * DATA_DIR/cloudtrail-keys/<region>/<validity-start-epoch>.pem (PKCS#8 PEM,
 * mode 0600, written to a temporary name, fsync'd and renamed; the
 * directories are 0700). A key signs for CT_DIGEST_KEY_DAYS days from its
 * start; its validity window runs one day longer, so consecutive windows
 * overlap as AWS's do. ListPublicKeys serves each key as base64 of its
 * PKCS#1 RSAPublicKey DER (what both CLIs load), with the fingerprint =
 * lower-case hex MD5 of exactly those DER bytes.
 *
 * Why every region's keys in ListPublicKeys: validate-logs signs its
 * CloudTrail calls for the CLI's configured region, which need not be the
 * digest's source region (cloudtrail.md §3.6); the CLI indexes keys by
 * fingerprint, so serving all of them is harmless and makes it work.
 *
 * Several nodes (ct_digest_attach_store): the key pairs live in the store,
 * one document each (account "", region "", kind CT_KIND_SIGNKEY, id
 * "<region>/<start>-<fingerprint>", body {"region","start","pem"}), so every
 * node signs with and lists the same keys and a node taking a trail over
 * continues its digest chain with keys the others know. No API reads these
 * documents; only the public half leaves the process (ListPublicKeys). The
 * files stay as a private cache (named <start>-<fingerprint>.pem then), and
 * keys found only in files (made before the store held keys) are copied into
 * the store on the first sync. A node that finds no current key for a region
 * makes one and inserts it in a transaction that first checks the store has
 * none (on PostgreSQL also under the "ct-signkey" lease): one key per region
 * and period per store, however many nodes start at once; a node that lost
 * the race drops its own and uses the stored one.
 *
 * Cold start: the home region's key (an RSA-2048 generation, 0.2-1.5 s) is
 * found or made by a background thread started by ct_digest_attach_store,
 * so the server listens and answers at once; whoever needs a key first
 * waits for it: signing takes ct_mu (and makes the key itself if the thread
 * has not yet), ListPublicKeys waits for the thread (bounded). Tests hold
 * the thread back with DATA_DIR/test-keygen-hold (GREENTRAIL_TEST_FAULTS=1).
 *
 * Thread safety: one mutex guards the key cache; signing runs under it
 * (a signature takes about a millisecond). Syncing with the store runs
 * under it too: store_read, and store_run for a new key (lock order
 * ct_mu -> store). ListPublicKeys runs inside a store transaction (order
 * store -> ct_mu), so it never waits for ct_mu without a bound
 * (ct_lock_bounded): a collision answers 503, never a deadlock. It is
 * a read-path call: it merges the store's keys through its own read
 * transaction and never makes a key (it may run inside a write job, where
 * waiting on another write job would deadlock): the home region's key is
 * made by the start thread (ct_digest_attach_store), other regions' by the
 * worker.
 */
#include "cloudtrail/ct_digest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
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
#include <jansson.h>
#include <openssl/crypto.h>
#include <zlib.h>

#include "util/gtutil.h"

#define CT_MAX_KEYS 256
#define CT_KIND_SIGNKEY "ct_signkey"   /* private: never served by any API */
#define CT_KEY_LEASE "ct-signkey"      /* shared stores: one node makes a key at a time */
#define CT_KEY_LEASE_MS 60000

typedef struct ct_key {
    char region[32];
    int64_t start_s;
    EVP_PKEY *pkey;
    unsigned char *der;
    size_t der_len;
    char fp[33];
    bool in_store;   /* known to be in the store (or no store attached) */
} ct_key;

static pthread_mutex_t ct_mu = PTHREAD_MUTEX_INITIALIZER;
static char ct_dir[2048];
static bool ct_ready;
static ct_key ct_keys[CT_MAX_KEYS];
static int ct_nkeys;
static bool ct_scanned;
static store *ct_st;   /* NULL: keys are files only (one node) */
static bool ct_shared; /* ct_st is shared by nodes (not SQLite): new keys under a lease */
static char ct_data[2048];  /* DATA_DIR */
/* The background key generation (ct_digest_attach_store): ct_kg_done is
 * set under ct_mu when it is done; ListPublicKeys polls for it. */
static pthread_t ct_kg_th;
static bool ct_kg_running, ct_kg_done, ct_kg_stop;
static _Atomic bool ct_kg_cancel;   /* shutdown: the key thread's RSA generation gives up */
static char ct_home[32];
static EVP_PKEY *ct_pregen;   /* a key generated outside ct_mu, for ct_make_key */
static _Thread_local bool ct_on_writer;   /* this thread syncs through store_run (the key thread) */

/* ---------------------------------------------------------------- helpers */

void ct_sha256_hex(const void *data, size_t n, char out[65])
{
    unsigned char md[32];
    unsigned int len = 0;
    EVP_Digest(data, n, md, &len, EVP_sha256(), NULL);
    gt_hex(md, 32, out);
}

bool ct_gzip(const void *in, size_t n, unsigned char **out, size_t *outn)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return false;
    size_t cap = deflateBound(&z, (uLong)n) + 64;
    unsigned char *buf = malloc(cap);
    if (!buf) {
        deflateEnd(&z);
        return false;
    }
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)n;
    z.next_out = buf;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    *outn = z.total_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(buf);
        return false;
    }
    *out = buf;
    return true;
}

bool ct_gunzip(const void *in, size_t n, size_t cap, unsigned char **out, size_t *outn)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 15 + 16) != Z_OK)
        return false;
    size_t size = cap < 4096 ? (cap ? cap : 1) : 4096, len = 0;
    unsigned char *buf = malloc(size);
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)n;
    int rc = Z_OK;
    while (buf && rc == Z_OK) {
        if (len == size) {
            if (size >= cap)
                break;
            size = size * 2 > cap ? cap : size * 2;
            unsigned char *nb = realloc(buf, size);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
        }
        z.next_out = buf + len;
        z.avail_out = (uInt)(size - len);
        rc = inflate(&z, Z_NO_FLUSH);
        len = size - z.avail_out;
    }
    inflateEnd(&z);
    if (!buf || rc != Z_STREAM_END) {
        free(buf);
        return false;
    }
    *out = buf;
    *outn = len;
    return true;
}

char *ct_digest_string_to_sign(const char *end_time, const char *bucket, const char *key, const char *hash_hex,
                               const char *prev_sig)
{
    size_t n = strlen(end_time) + strlen(bucket) + strlen(key) + strlen(hash_hex) +
               (prev_sig ? strlen(prev_sig) : 4) + 8;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s\n%s/%s\n%s\n%s", end_time, bucket, key, hash_hex, prev_sig ? prev_sig : "null");
    return s;
}

/* ---------------------------------------------------------------- keys */

static bool ct_key_fill(ct_key *k, EVP_PKEY *pkey)
{
    unsigned char *der = NULL;
    int len = i2d_PublicKey(pkey, &der);   /* RSA: PKCS#1 RSAPublicKey */
    if (len <= 0)
        return false;
    unsigned char md[16];
    unsigned int mdlen = 0;
    if (!EVP_Digest(der, (size_t)len, md, &mdlen, EVP_md5(), NULL)) {
        OPENSSL_free(der);
        return false;
    }
    k->pkey = pkey;
    k->der = der;
    k->der_len = (size_t)len;
    gt_hex(md, 16, k->fp);
    return true;
}

static bool ct_region_ok(const char *region)
{
    size_t n = strlen(region);
    if (n == 0 || n >= 32)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((region[i] >= 'a' && region[i] <= 'z') || (region[i] >= '0' && region[i] <= '9') || region[i] == '-'))
            return false;
    return true;
}

static bool ct_key_known(const char *fp)
{
    for (int i = 0; i < ct_nkeys; i++)
        if (strcmp(ct_keys[i].fp, fp) == 0)
            return true;
    return false;
}

static bool ct_load_file(const char *region, int64_t start_s, const char *fname)
{
    if (ct_nkeys >= CT_MAX_KEYS)
        return false;
    char path[2400];
    snprintf(path, sizeof path, "%s/%s/%s", ct_dir, region, fname);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    EVP_PKEY *pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (!pkey)
        return false;
    ct_key *k = &ct_keys[ct_nkeys];
    memset(k, 0, sizeof *k);
    gt_strlcpy(k->region, region, sizeof k->region);
    k->start_s = start_s;
    if (!ct_key_fill(k, pkey) || ct_key_known(k->fp)) {
        EVP_PKEY_free(pkey);
        OPENSSL_free(k->der);
        memset(k, 0, sizeof *k);
        return false;
    }
    k->in_store = ct_st == NULL;
    ct_nkeys++;
    return true;
}

/* Load every stored key once (caller holds ct_mu). */
static void ct_scan(void)
{
    if (ct_scanned)
        return;
    ct_scanned = true;
    DIR *top = opendir(ct_dir);
    if (!top)
        return;
    struct dirent *r;
    while ((r = readdir(top))) {
        if (!ct_region_ok(r->d_name))
            continue;
        char sub[2400];
        snprintf(sub, sizeof sub, "%s/%s", ct_dir, r->d_name);
        DIR *d = opendir(sub);
        if (!d)
            continue;
        struct dirent *e;
        while ((e = readdir(d))) {
            size_t n = strlen(e->d_name);
            int64_t start;
            const char *dash = strchr(e->d_name, '-');
            size_t digits = dash ? (size_t)(dash - e->d_name) : n - 4;
            if (n > 4 && strcmp(e->d_name + n - 4, ".pem") == 0 && digits <= n - 4 &&
                gt_parse_i64(e->d_name, digits, &start))
                ct_load_file(r->d_name, start, e->d_name);
        }
        closedir(d);
    }
    closedir(top);
}

/* Write a private key file (0600, temp name, fsync, rename) in the cache. */
static bool ct_write_file(const char *region, const char *fname, const char *pem, size_t pem_len)
{
    char dir[2400], path[2600], tmp[2700];
    snprintf(dir, sizeof dir, "%s/%s", ct_dir, region);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return false;
    if (snprintf(path, sizeof path, "%s/%s", dir, fname) >= (int)sizeof path)
        return false;
    snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    bool ok = fd >= 0 && write(fd, pem, pem_len) == (ssize_t)pem_len && fsync(fd) == 0;
    if (fd >= 0)
        close(fd);
    ok = ok && rename(tmp, path) == 0;
    if (!ok)
        unlink(tmp);
    return ok;
}

/* Append pkey to the cache (takes ownership on success). */
static ct_key *ct_add(const char *region, int64_t start_s, EVP_PKEY *pkey, bool in_store)
{
    if (ct_nkeys >= CT_MAX_KEYS)
        return NULL;
    ct_key *k = &ct_keys[ct_nkeys];
    memset(k, 0, sizeof *k);
    gt_strlcpy(k->region, region, sizeof k->region);
    k->start_s = start_s;
    if (!ct_key_fill(k, pkey)) {
        memset(k, 0, sizeof *k);
        return NULL;
    }
    k->in_store = in_store;
    ct_nkeys++;
    return k;
}

static char *ct_pem_of(EVP_PKEY *pkey)
{
    BIO *mem = BIO_new(BIO_s_mem());
    char *pem = NULL, *out = NULL;
    long n = 0;
    if (mem && PEM_write_bio_PrivateKey(mem, pkey, NULL, NULL, 0, NULL, NULL) &&
        (n = BIO_get_mem_data(mem, &pem)) > 0 && (out = malloc((size_t)n + 1))) {
        memcpy(out, pem, (size_t)n);
        out[n] = '\0';
    }
    BIO_free(mem);
    return out;
}

/* ---- keys in the store */

typedef struct ct_put_ctx {
    const char *region, *fp, *pem;
    int64_t start_s;
    bool check;    /* a new key: not when the store already has a current one */
    bool exists;   /* out: it had one, nothing was written */
} ct_put_ctx;

/* Does a stored key's id ("<region>/<start>-<fp>") name a key of
 * p->region that is current at p->start_s? */
static int ct_exists_cb(void *ud, int64_t seq, const char *id, const char *body)
{
    (void)seq;
    (void)body;
    ct_put_ctx *p = ud;
    size_t rl = strlen(p->region);
    const char *dash = strrchr(id, '-');
    int64_t start = 0;
    if (strncmp(id, p->region, rl) == 0 && id[rl] == '/' && dash && dash > id + rl + 1 &&
        gt_parse_i64(id + rl + 1, (size_t)(dash - (id + rl + 1)), &start) && start <= p->start_s &&
        p->start_s < start + CT_DIGEST_KEY_DAYS * 86400LL)
        p->exists = true;
    return p->exists ? 1 : 0;
}

/* Put one key document. With p->check, the check and the insert are one
 * write transaction (SQLite: one writer even across processes; PostgreSQL:
 * the caller also holds the "ct-signkey" lease), so a store gets exactly
 * one key per region and period however many nodes start at once. */
static gt_err ct_put_job(store_txn *t, void *ud)
{
    ct_put_ctx *p = ud;
    if (p->check) {
        p->exists = false;
        if (store_doc_list(t, "", "", CT_KIND_SIGNKEY, NULL, 0, false, 0, ct_exists_cb, p) != STORE_OK)
            return GT_E_UNAVAILABLE;
        if (p->exists)
            return GT_OK;
    }
    char id[128];
    snprintf(id, sizeof id, "%s/%lld-%s", p->region, (long long)p->start_s, p->fp);
    json_t *doc = json_pack("{s:s, s:I, s:s}", "region", p->region, "start", (json_int_t)p->start_s, "pem", p->pem);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!text)
        return GT_E_NOMEM;
    store_key k = {"", "", CT_KIND_SIGNKEY, id};
    int rc = store_doc_put(t, &k, NULL, text);
    free(text);
    return rc == STORE_OK ? GT_OK : GT_E_UNAVAILABLE;
}

static bool ct_put(const ct_key *k)
{
    char *pem = ct_pem_of(k->pkey);
    if (!pem)
        return false;
    ct_put_ctx p = {k->region, k->fp, pem, k->start_s, false, false};
    bool ok = store_run(ct_st, ct_put_job, &p) == GT_OK;
    OPENSSL_cleanse(pem, strlen(pem));
    free(pem);
    return ok;
}

/* One stored key: load it into the cache (and the file cache) if new. */
static int ct_merge_cb(void *ud, int64_t seq, const char *id, const char *body)
{
    (void)ud;
    (void)seq;
    const char *dash = strrchr(id, '-');
    if (!dash || strlen(dash + 1) != 32)
        return 0;
    if (ct_key_known(dash + 1)) {
        /* already loaded from the file cache: it is in the store too, so
         * ct_sync need not put it again (a commit + fsync every start) */
        for (int i = 0; i < ct_nkeys; i++)
            if (strcmp(ct_keys[i].fp, dash + 1) == 0)
                ct_keys[i].in_store = true;
        return 0;
    }
    json_t *doc = json_loads(body, 0, NULL);
    const char *region = json_string_value(json_object_get(doc, "region"));
    const char *pem = json_string_value(json_object_get(doc, "pem"));
    int64_t start = json_integer_value(json_object_get(doc, "start"));
    if (region && pem && ct_region_ok(region)) {
        BIO *mem = BIO_new_mem_buf(pem, -1);
        EVP_PKEY *pkey = mem ? PEM_read_bio_PrivateKey(mem, NULL, NULL, NULL) : NULL;
        BIO_free(mem);
        ct_key *k = pkey ? ct_add(region, start, pkey, true) : NULL;
        if (!k) {
            EVP_PKEY_free(pkey);
        } else {
            char fname[128];
            snprintf(fname, sizeof fname, "%lld-%s.pem", (long long)start, k->fp);
            ct_write_file(region, fname, pem, strlen(pem));   /* a cache: failure is harmless */
        }
    }
    json_decref(doc);
    return 0;
}

static gt_err ct_merge_job(store_txn *t, void *ud)
{
    (void)ud;
    return store_doc_list(t, "", "", CT_KIND_SIGNKEY, NULL, 0, false, 0, ct_merge_cb, NULL) == STORE_OK
               ? GT_OK
               : GT_E_UNAVAILABLE;
}

/* Bring the cache up to date with the store and copy file-only keys into
 * it (caller holds ct_mu; never inside a write job). */
static void ct_sync(void)
{
    if (!ct_st)
        return;
    /* the key thread reads through the writer: a reader may be held by a
     * ListPublicKeys call that waits for this very thread (a deadlock
     * seen on PostgreSQL) */
    if (ct_on_writer)
        store_run(ct_st, ct_merge_job, NULL);
    else
        store_read(ct_st, ct_merge_job, NULL);
    for (int i = 0; i < ct_nkeys; i++)
        if (!ct_keys[i].in_store && ct_put(&ct_keys[i]))
            ct_keys[i].in_store = true;
}

/* The region's newest key in the store that signs at now_s, or NULL
 * (caller holds ct_mu). */
static ct_key *ct_best(const char *region, int64_t now_s)
{
    ct_key *best = NULL;
    for (int i = 0; i < ct_nkeys; i++)
        if (strcmp(ct_keys[i].region, region) == 0 && ct_keys[i].start_s <= now_s && ct_keys[i].in_store &&
            (!best || ct_keys[i].start_s > best->start_s ||
             (ct_keys[i].start_s == best->start_s && strcmp(ct_keys[i].fp, best->fp) > 0)))
            best = &ct_keys[i];
    return best && now_s < best->start_s + CT_DIGEST_KEY_DAYS * 86400LL ? best : NULL;
}

/* Forget the cache's last entry (a key that did not make it to the store). */
static void ct_drop_last(void)
{
    ct_key *k = &ct_keys[--ct_nkeys];
    EVP_PKEY_free(k->pkey);
    OPENSSL_free(k->der);
    memset(k, 0, sizeof *k);
}

/* Make and store a new key for region starting at now (caller holds ct_mu).
 * With a shared store, under the "ct-signkey" lease, and only when no node
 * made one meanwhile; the check and the insert are one write transaction. */
static ct_key *ct_make_key(const char *region, int64_t now_s)
{
    if (ct_nkeys >= CT_MAX_KEYS || !ct_region_ok(region))
        return NULL;
    bool leased = false;
    if (ct_st && ct_shared) {
        for (int i = 0; i < 300 && !leased; i++) {
            int rc = store_lease_acquire(ct_st, CT_KEY_LEASE, store_node_id(ct_st), CT_KEY_LEASE_MS);
            if (rc == STORE_OK) {
                leased = true;
            } else if (rc != STORE_BUSY) {
                break;
            } else {
                struct timespec ts = {0, 100 * 1000 * 1000};
                nanosleep(&ts, NULL);
            }
        }
        if (!leased)
            return NULL;
        ct_sync();
        ct_key *have = ct_best(region, now_s);
        if (have) {
            store_lease_release(ct_st, CT_KEY_LEASE, store_node_id(ct_st));
            return have;
        }
    }
    EVP_PKEY *pkey = ct_pregen ? ct_pregen : EVP_RSA_gen(2048);
    ct_pregen = NULL;
    char *pem = pkey ? ct_pem_of(pkey) : NULL;
    ct_key *k = pem ? ct_add(region, now_s, pkey, ct_st == NULL) : NULL;
    if (!k) {
        EVP_PKEY_free(pkey);
        free(pem);
        if (leased)
            store_lease_release(ct_st, CT_KEY_LEASE, store_node_id(ct_st));
        return NULL;
    }
    char fname[128];
    if (ct_st) {
        /* in the store first: a key is used only once every node can list it */
        ct_put_ctx p = {region, k->fp, pem, now_s, true, false};
        if (store_run(ct_st, ct_put_job, &p) != GT_OK) {
            ct_drop_last();
            k = NULL;
        } else if (p.exists) {   /* another process made it first: use that one */
            ct_drop_last();
            ct_sync();
            k = ct_best(region, now_s);
        } else {
            k->in_store = true;
            snprintf(fname, sizeof fname, "%lld-%s.pem", (long long)now_s, k->fp);
            ct_write_file(region, fname, pem, strlen(pem));   /* cache only */
            fprintf(stderr, "cloudtrail: new digest signing key for %s, fingerprint %s\n", region, k->fp);
        }
    } else {
        snprintf(fname, sizeof fname, "%lld.pem", (long long)now_s);
        if (!ct_write_file(region, fname, pem, strlen(pem))) {
            ct_drop_last();
            k = NULL;
        }
    }
    if (leased)
        store_lease_release(ct_st, CT_KEY_LEASE, store_node_id(ct_st));
    OPENSSL_cleanse(pem, strlen(pem));
    free(pem);
    return k;
}

/* The region's signing key now, made when missing or too old; sync: first
 * merge the store's keys (caller holds ct_mu). */
static ct_key *ct_current(const char *region, int64_t now_s, bool sync, bool make)
{
    ct_scan();
    if (sync)
        ct_sync();
    ct_key *best = ct_best(region, now_s);
    if (best)
        return best;
    return make ? ct_make_key(region, now_s) : NULL;
}

/* Tests (GREENTRAIL_TEST_FAULTS=1): while DATA_DIR/test-keygen-hold exists
 * the background key generation does not start, so a test can show the
 * server answering before the key exists. */
static void ct_test_hold(void)
{
    const char *f = getenv("GREENTRAIL_TEST_FAULTS");
    if (!f || strcmp(f, "1") != 0)
        return;
    char path[2100];
    pthread_mutex_lock(&ct_mu);
    snprintf(path, sizeof path, "%s/test-keygen-hold", ct_data);
    pthread_mutex_unlock(&ct_mu);
    for (;;) {
        pthread_mutex_lock(&ct_mu);
        bool stop = ct_kg_stop;
        pthread_mutex_unlock(&ct_mu);
        struct stat sb;
        if (stop || stat(path, &sb) != 0)
            return;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* The background thread of ct_digest_attach_store: the home region's
 * current key, found in the store or made (the RSA generation, ~0.2-1 s,
 * outside ct_mu so signing for other regions is not held up by it). */
static void *ct_keygen_main(void *arg)
{
    (void)arg;
    /* low priority: on a small machine the first requests come first
     * (Linux: the nice value of this thread only). Not 19: at 19 a loaded
     * machine starved it for over 20 s, and a stop waited for it; a stop
     * now cancels the generation (gt_rsa_gen). */
    setpriority(PRIO_PROCESS, (id_t)gettid(), 10);
    ct_on_writer = true;
    ct_test_hold();
    pthread_mutex_lock(&ct_mu);
    bool need = !ct_kg_stop && ct_ready && !ct_current(ct_home, gt_now_ms() / 1000, true, false);
    pthread_mutex_unlock(&ct_mu);
    EVP_PKEY *pre = need ? gt_rsa_gen(2048, &ct_kg_cancel) : NULL;
    pthread_mutex_lock(&ct_mu);
    if (!ct_kg_stop && ct_ready) {
        ct_pregen = pre;   /* ct_make_key takes it, if it makes a key */
        pre = NULL;
        if (!ct_current(ct_home, gt_now_ms() / 1000, true, true))
            fprintf(stderr, "cloudtrail: no digest signing key for %s yet (made at the first digest)\n", ct_home);
        pre = ct_pregen;
        ct_pregen = NULL;
    }
    ct_kg_done = true;
    pthread_mutex_unlock(&ct_mu);
    EVP_PKEY_free(pre);
    return NULL;
}

void ct_digest_attach_store(store *st, const char *home_region)
{
    pthread_mutex_lock(&ct_mu);
    ct_st = st;
    ct_shared = st && strcmp(store_backend_name(st), "sqlite") != 0;
    bool start = ct_ready && home_region && ct_region_ok(home_region) && !ct_kg_running;
    if (start) {
        gt_strlcpy(ct_home, home_region, sizeof ct_home);
        ct_kg_done = false;
        ct_kg_stop = false;
        atomic_store(&ct_kg_cancel, false);
        ct_kg_running = pthread_create(&ct_kg_th, NULL, ct_keygen_main, NULL) == 0;
        if (!ct_kg_running)   /* no thread: the old way, before serving */
            ct_current(home_region, gt_now_ms() / 1000, true, true);
    }
    pthread_mutex_unlock(&ct_mu);
}

bool ct_digest_init(const char *data_dir, char *err, size_t errcap)
{
    pthread_mutex_lock(&ct_mu);
    snprintf(ct_dir, sizeof ct_dir, "%s/cloudtrail-keys", data_dir);
    gt_strlcpy(ct_data, data_dir, sizeof ct_data);
    bool ok = mkdir(ct_dir, 0700) == 0 || errno == EEXIST;
    if (ok)
        chmod(ct_dir, 0700);
    ct_ready = ok;
    ct_scanned = false;
    pthread_mutex_unlock(&ct_mu);
    if (!ok)
        snprintf(err, errcap, "cannot create %s: %s", ct_dir, strerror(errno));
    return ok;
}

void ct_digest_shutdown(void)
{
    pthread_mutex_lock(&ct_mu);
    bool join = ct_kg_running;
    ct_kg_stop = true;
    atomic_store(&ct_kg_cancel, true);   /* a stop never waits for a starved RSA generation */
    pthread_mutex_unlock(&ct_mu);
    if (join)
        pthread_join(ct_kg_th, NULL);
    pthread_mutex_lock(&ct_mu);
    ct_kg_running = false;
    ct_kg_done = false;
    ct_shared = false;
    for (int i = 0; i < ct_nkeys; i++) {
        EVP_PKEY_free(ct_keys[i].pkey);
        OPENSSL_free(ct_keys[i].der);
    }
    ct_nkeys = 0;
    ct_ready = false;
    ct_st = NULL;
    ct_scanned = false;
    pthread_mutex_unlock(&ct_mu);
}

bool ct_digest_sign(const char *region, const char *msg, char sig_hex[513], char fp[33])
{
    pthread_mutex_lock(&ct_mu);
    ct_key *k = ct_ready ? ct_current(region, gt_now_ms() / 1000, true, true) : NULL;
    bool ok = false;
    if (k) {
        unsigned char sig[512];
        size_t siglen = sizeof sig;
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        ok = md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k->pkey) == 1 &&
             EVP_DigestSign(md, sig, &siglen, (const unsigned char *)msg, strlen(msg)) == 1 && siglen == 256;
        EVP_MD_CTX_free(md);
        if (ok) {
            gt_hex(sig, siglen, sig_hex);
            memcpy(fp, k->fp, 33);
        }
    }
    pthread_mutex_unlock(&ct_mu);
    return ok;
}

bool ct_digest_fingerprint(const char *region, char fp[33])
{
    pthread_mutex_lock(&ct_mu);
    ct_key *k = ct_ready ? ct_current(region, gt_now_ms() / 1000, true, true) : NULL;
    if (k)
        memcpy(fp, k->fp, 33);
    pthread_mutex_unlock(&ct_mu);
    return k != NULL;
}

bool ct_digest_verify_der(const unsigned char *der, size_t der_len, const char *msg, const char *sig_hex)
{
    size_t hl = strlen(sig_hex);
    if (hl == 0 || hl % 2 || hl > 1024)
        return false;
    unsigned char sig[512];
    if (!gt_unhex(sig_hex, sig, hl / 2))
        return false;
    const unsigned char *p = der;
    EVP_PKEY *pkey = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)der_len);
    if (!pkey)
        return false;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok = md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey) == 1 &&
              EVP_DigestVerify(md, sig, hl / 2, (const unsigned char *)msg, strlen(msg)) == 1;
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(pkey);
    return ok;
}

/* ---------------------------------------------------------------- ListPublicKeys */

static bool ct_time_in(const gt_call *c, const char *name, int64_t *s)
{
    json_t *v = json_object_get(c->input, name);
    if (!v)
        return true;
    if (json_is_number(v)) {
        double d = json_number_value(v);
        if (!isfinite(d) || d < 0 || d > 253402300799.0)
            return false;
        *s = (int64_t)d;
        return true;
    }
    int64_t ms;
    const char *str = json_string_value(v);
    if (!str || !gt_parse_iso(str, &ms))
        return false;
    *s = ms / 1000;
    return true;
}

static json_t *ct_key_json(const ct_key *k)
{
    size_t b64cap = 4 * ((k->der_len + 2) / 3) + 1;
    char *b64 = malloc(b64cap);
    if (!b64)
        return NULL;
    EVP_EncodeBlock((unsigned char *)b64, k->der, (int)k->der_len);
    json_t *o = json_pack("{s:s, s:I, s:I, s:s}", "Value", b64, "ValidityStartTime", (json_int_t)k->start_s,
                          "ValidityEndTime", (json_int_t)(k->start_s + (CT_DIGEST_KEY_DAYS + 1) * 86400LL),
                          "Fingerprint", k->fp);
    free(b64);
    return o;
}

/* Take ct_mu, giving up after CT_LOCK_WAIT_MS. ListPublicKeys
 * runs inside a store transaction (a reader, or the writer on dispatch's
 * fallback path), while the key threads hold ct_mu across their own store
 * calls (order ct_mu -> store): waiting for ct_mu without a bound could
 * close that cycle (this call holds the reader or writer the key thread
 * needs). Bounded, a collision costs one 503 that the SDKs retry. */
#define CT_LOCK_WAIT_MS 5000

static bool ct_lock_bounded(void)
{
    int64_t deadline_ms = gt_now_ms() + CT_LOCK_WAIT_MS;
    for (;;) {
        if (pthread_mutex_trylock(&ct_mu) == 0)
            return true;
        if (gt_now_ms() >= deadline_ms)
            return false;
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

gt_err ct_digest_list_public_keys(gt_call *c, store_txn *t)
{
    int64_t now = c->now_ms / 1000, start = now, end = now;
    if (!ct_time_in(c, "StartTime", &start) || !ct_time_in(c, "EndTime", &end))
        return gt_call_fail(c, GT_E_CT_INVALID_TIME_RANGE, "Invalid time value.");
    if (start > end)
        return gt_call_fail(c, GT_E_CT_INVALID_TIME_RANGE, "Start time must be before end time.");
    int64_t deadline = gt_now_ms() + 20000;
    if (!ct_lock_bounded())
        return gt_call_fail(c, GT_E_UNAVAILABLE, NULL);
    /* the home region's key is being made in the background (the first
     * seconds after an empty start): list it too. Polled with ct_mu
     * released and every re-take bounded (see ct_lock_bounded); the key
     * thread's own store calls go through the writer. */
    if (ct_kg_running && !ct_kg_done) {
        while (ct_kg_running && !ct_kg_done && gt_now_ms() < deadline) {
            pthread_mutex_unlock(&ct_mu);
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
            if (!ct_lock_bounded())
                return gt_call_fail(c, GT_E_UNAVAILABLE, NULL);
        }
        /* the key starts after this call's time: "now" is when it answers */
        int64_t after = gt_now_ms() / 1000;
        if (!json_object_get(c->input, "EndTime") && end < after)
            end = after;
        if (!json_object_get(c->input, "StartTime") && start < after)
            start = after;
        now = after;
    }
    json_t *list = json_array();
    if (ct_ready) {
        if (ct_st && t)
            store_doc_list(t, "", "", CT_KIND_SIGNKEY, NULL, 0, false, 0, ct_merge_cb, NULL);
        /* with a store, a key is made only by the worker or the start
         * thread (ct_digest_attach_store): this call may run inside a write job */
        ct_current(c->region, now, false, ct_st == NULL);   /* the caller's region always has a current key */
        /* the call's region first, newest first; then every other region */
        for (int pass = 0; pass < 2; pass++) {
            for (int i = ct_nkeys - 1; i >= 0; i--) {
                const ct_key *k = &ct_keys[i];
                bool mine = strcmp(k->region, c->region) == 0;
                if (mine != (pass == 0))
                    continue;
                int64_t kend = k->start_s + (CT_DIGEST_KEY_DAYS + 1) * 86400LL;
                if (k->start_s <= end && kend >= start)
                    json_array_append_new(list, ct_key_json(k));
            }
        }
    }
    pthread_mutex_unlock(&ct_mu);
    c->output = json_object();
    json_object_set_new(c->output, "PublicKeyList", list);
    return GT_OK;
}
