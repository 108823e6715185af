/*
 * ct_deliver.c: trail delivery, the journal's S3 consumer (cloudtrail.md
 * §2, §3).
 *
 * What: one thread per server. Every --delivery-interval seconds it walks
 * every trail (through the trail references), reads the journal after the
 * trail's cursor with store_event_scan, keeps the records the trail
 * selects (ct_trail_selects), and writes one gzipped {"Records":[...]}
 * object per event region with the key layout of §2.2 through
 * deliver_put: the bucket's store, built-in or an external S3 server
 * (s3/s3_target.h). With an external S3 configured, main starts two
 * workers, one per kind of bucket (ct_deliver_opts.only), so a hanging
 * server holds up only its own trails. For trails with log file validation it also writes, per
 * source region, a signed digest every --digest-interval seconds (empty
 * ones too) chained by previousDigestSignature (§3.1-§3.3), and a final
 * digest after StopLogging.
 *
 * State: a per-trail document (CT_KIND_TRAIL_STATE) with the cursor, the
 * delivery/digest times and errors GetTrailStatus shows, and per source
 * region the open digest window (start, previous digest, the log files
 * delivered since). Only this thread writes it, always in store_run jobs,
 * and the job first checks that the trail still exists with the same uid,
 * so a deleted trail is not resurrected.
 *
 * Regions: a multi-region trail's digest chain for its home region starts
 * with logging; another region's chain starts with the first log file
 * delivered for it (AWS runs one per enabled region from the start; we
 * serve every region, so chains are made where there is something to
 * cover, then kept hourly, empty or not).
 *
 * Deleted trails: DeleteTrail leaves a tombstone (the trail stopped at the
 * DeleteTrail record, plus this worker's state) that the worker finishes
 * like a stopped trail (deliver up to the stop, final digest) and then
 * removes.
 *
 * Several nodes (docs/SCALING.md): each trail is worked on by one node at
 * a time, the holder of the lease "trail:<uid>" (CT_LEASE_TTL_MS, renewed
 * through lease_set as the rounds go, released on a clean stop or when a
 * deleted trail is finished). Everything the next owner needs is in the
 * state document: the cursor, and per region the digest chain (window
 * start, previous digest's key/hash/signature, files since) plus "end",
 * the end of the digest being written. Signing keys are in the store too
 * (ct_digest.c), so a new owner continues the chain where the old one
 * stopped. A node that just took a lease re-reads the state (its snapshot
 * may predate the lease). Fencing: the state carries "rev", bumped by each
 * write; a write from a stale copy is refused (rev_conflict) and that node
 * drops the trail for the round, so a node that stalled past its lease
 * cannot move the chain back.
 *
 * Invariants:
 *  - One digest per window: "end" is stored before the digest object is
 *    written and cleared after, so after a crash in between the next owner
 *    writes the same key (end time) again rather than a second window.
 *  - At least once: the cursor and the digest's file list advance only in
 *    the job that runs after the object's PUT (deliver_put) succeeded. A crash between the
 *    two re-delivers the same events in a new object on restart (AWS also
 *    allows duplicates; consumers de-duplicate on eventID).
 *  - Never on the request path: API calls only change trail documents; the
 *    worker's failures (S3 I/O) are kept in the state document and retried
 *    with exponential back-off (delivery interval doubling up to 5 min).
 *  - Built-in buckets are written only as CloudTrail's service principal
 *    may (builtin_authorize: the bucket's current policy, every object),
 *    so a policy turned against CloudTrail stops delivery without losing
 *    anything: the cursor stays until the policy lets the PUT through.
 *  - Digest windows are whole seconds, each starting where the previous
 *    ended, so digest keys (named by end time) never collide.
 */
#include "cloudtrail/ct_deliver.h"
#include "sns/sns.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/policy.h"
#include "cloudtrail/ct_digest.h"
#include "cloudtrail/ct_org.h"
#include "cloudtrail/ct_trail.h"
#include "s3/s3_target.h"
#include "store/lease_set.h"
#include "util/gtutil.h"
#include "util/metrics.h"
#include "util/testclock.h"

#define CT_SCAN_BATCH 2000
#define CT_MAX_BATCHES 16
#define CT_MAX_BACKOFF_S 300
#define CT_MAX_RETRY 64
#define CT_DATE_CAP 16
#define CT_STAMP_CAP 24
#define CT_FILE_MAX_BYTES (40u << 20)   /* keep objects below AWS's 50 MB */
#define CT_LEASE_TTL_MS 10000           /* a dead node's trails move after this */

typedef struct ct_retry {
    char uid[37];
    int failures;
    int64_t next_ms;
} ct_retry;

struct ct_deliver {
    ct_deliver_opts o;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    lease_set *leases;   /* "trail:<uid>" leases this node holds */
    ct_retry retry[CT_MAX_RETRY];
};

/* ---------------------------------------------------------------- small helpers */

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static int64_t jint(const json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

static ct_retry *retry_for(ct_deliver *d, const char *uid, bool make)
{
    ct_retry *free_slot = NULL;
    for (int i = 0; i < CT_MAX_RETRY; i++) {
        if (strcmp(d->retry[i].uid, uid) == 0)
            return &d->retry[i];
        if (!free_slot && d->retry[i].uid[0] == '\0')
            free_slot = &d->retry[i];
    }
    if (make && free_slot) {
        memset(free_slot, 0, sizeof *free_slot);
        gt_strlcpy(free_slot->uid, uid, sizeof free_slot->uid);
    }
    return make ? free_slot : NULL;
}

static void note_failure(ct_deliver *d, const char *uid, int64_t now_ms)
{
    ct_retry *r = retry_for(d, uid, true);
    if (!r)
        return;
    r->failures++;
    int64_t wait = d->o.delivery_interval_s;
    for (int i = 1; i < r->failures && wait < CT_MAX_BACKOFF_S; i++)
        wait *= 2;
    if (wait > CT_MAX_BACKOFF_S)
        wait = CT_MAX_BACKOFF_S;
    r->next_ms = now_ms + wait * 1000;
}

static void note_success(ct_deliver *d, const char *uid)
{
    ct_retry *r = retry_for(d, uid, false);
    if (r)
        memset(r, 0, sizeof *r);
}

/* "YYYY/MM/DD" and the compact stamp of a time. */
static void fmt_parts(int64_t s, char date[CT_DATE_CAP], char stamp[CT_STAMP_CAP], bool with_seconds)
{
    time_t tt = (time_t)s;
    struct tm tm;
    gmtime_r(&tt, &tm);
    unsigned y = (unsigned)(tm.tm_year + 1900) % 10000u, mo = (unsigned)(tm.tm_mon + 1) % 100u;
    unsigned dd = (unsigned)tm.tm_mday % 100u, h = (unsigned)tm.tm_hour % 100u, mi = (unsigned)tm.tm_min % 100u;
    unsigned se = (unsigned)tm.tm_sec % 100u;
    snprintf(date, CT_DATE_CAP, "%04u/%02u/%02u", y, mo, dd);
    if (with_seconds)
        snprintf(stamp, CT_STAMP_CAP, "%04u%02u%02uT%02u%02u%02uZ", y, mo, dd, h, mi, se);
    else
        snprintf(stamp, CT_STAMP_CAP, "%04u%02u%02uT%02u%02uZ", y, mo, dd, h, mi);
}

/* ---------------------------------------------------------------- reading */

typedef struct ct_item {
    json_t *trail;
    json_t *state;   /* NULL when none yet */
    bool tomb;       /* a deleted trail still being finished */
} ct_item;

typedef struct ct_snapshot {
    ct_item *items;
    size_t n, cap;
    store_txn *t;
} ct_snapshot;

static json_t *load_doc(store_txn *t, const char *a, const char *r, const char *kind, const char *id)
{
    store_key k = {a, r, kind, id};
    char *body = NULL;
    if (store_doc_get(t, &k, &body) != STORE_OK)
        return NULL;
    json_t *j = json_loads(body, 0, NULL);
    free(body);
    return j;
}

static bool snap_add(ct_snapshot *s, json_t *trail, json_t *state, bool tomb)
{
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 16;
        ct_item *ni = realloc(s->items, nc * sizeof *ni);
        if (!ni) {
            json_decref(trail);
            json_decref(state);
            return false;
        }
        s->items = ni;
        s->cap = nc;
    }
    s->items[s->n].trail = trail;
    s->items[s->n].state = state;
    s->items[s->n].tomb = tomb;
    s->n++;
    return true;
}

static int tomb_cb(void *ud, int64_t seq, const char *id, const char *body)
{
    ct_snapshot *s = ud;
    json_t *tomb = json_loads(body, 0, NULL);
    json_t *trail = json_incref(json_object_get(tomb, "trail"));
    json_t *state = json_object_get(tomb, "state");
    state = json_is_object(state) ? json_incref(state) : NULL;
    json_decref(tomb);
    if (!trail)
        return 0;
    return snap_add(s, trail, state, true) ? 0 : 1;
}

static int snap_cb(void *ud, int64_t seq, const char *id, const char *body)
{
    ct_snapshot *s = ud;
    json_t *ref = json_loads(body, 0, NULL);
    const char *a = jstr(ref, "account"), *r = jstr(ref, "region"), *n = jstr(ref, "name");
    json_t *trail = a && r && n ? load_doc(s->t, a, r, CT_KIND_TRAIL, n) : NULL;
    if (trail) {
        if (!snap_add(s, trail, load_doc(s->t, a, r, CT_KIND_TRAIL_STATE, n), false)) {
            json_decref(ref);
            return 1;
        }
    }
    json_decref(ref);
    return 0;
}

static gt_err snap_job(store_txn *t, void *ud)
{
    ct_snapshot *s = ud;
    s->t = t;
    if (store_doc_list(t, CT_REF_ACCOUNT, CT_REF_REGION, CT_KIND_TRAIL_REF, NULL, 0, false, 0, snap_cb, s) !=
            STORE_OK ||
        store_doc_list(t, CT_REF_ACCOUNT, CT_REF_REGION, CT_KIND_TRAIL_TOMB, NULL, 0, false, 0, tomb_cb, s) !=
            STORE_OK)
        return GT_E_UNAVAILABLE;
    return GT_OK;
}

/* ---------------------------------------------------------------- writing state */

typedef struct ct_save_ctx {
    const json_t *trail;
    const json_t *state;
    bool tomb;
    bool remove;     /* tomb only: finished, delete it */
    bool conflict;   /* out: the stored state moved on (another node): not written */
} ct_save_ctx;

/* Fencing: a state carries "rev", bumped by every write. A write whose rev
 * differs from the stored one was computed from a stale copy (the trail's
 * lease moved to another node meanwhile): it is refused, the caller drops
 * its round and reloads. */
static bool rev_conflict(const json_t *stored, const json_t *mine)
{
    const char *su = jstr(stored, "uid"), *mu = jstr(mine, "uid");
    if (!stored || !su || !mu || strcmp(su, mu) != 0)
        return false;
    return jint(stored, "rev") != jint(mine, "rev");
}

/* The text to store: mine with rev + 1. */
static char *next_rev_text(const json_t *state, size_t flags)
{
    json_t *c = json_copy((json_t *)state);
    if (!c)
        return NULL;
    json_object_set_new(c, "rev", json_integer(jint(state, "rev") + 1));
    char *text = json_dumps(c, flags);
    json_decref(c);
    return text;
}

static gt_err tomb_save(store_txn *t, ct_save_ctx *s)
{
    store_key k = {CT_REF_ACCOUNT, CT_REF_REGION, CT_KIND_TRAIL_TOMB, jstr(s->trail, "_uid")};
    char *body = NULL;
    int rc = store_doc_get(t, &k, &body);
    if (rc != STORE_OK)
        return rc == STORE_NOTFOUND ? GT_OK : GT_E_UNAVAILABLE;
    if (s->remove)
        return store_doc_delete(t, &k) == STORE_ERR ? GT_E_UNAVAILABLE : GT_OK;
    json_t *old = json_loads(body, 0, NULL);
    s->conflict = rev_conflict(json_object_get(old, "state"), s->state);
    json_decref(old);
    if (s->conflict)
        return GT_OK;
    json_t *st = json_copy((json_t *)s->state);
    if (st)
        json_object_set_new(st, "rev", json_integer(jint(s->state, "rev") + 1));
    json_t *tomb = st ? json_pack("{s:O, s:o}", "trail", s->trail, "state", st) : NULL;
    free(body);
    char *text = tomb ? json_dumps(tomb, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(tomb);
    if (!text)
        return GT_E_NOMEM;
    rc = store_doc_put(t, &k, NULL, text);
    free(text);
    return rc == STORE_OK ? GT_OK : GT_E_UNAVAILABLE;
}

static gt_err save_job(store_txn *t, void *ud)
{
    ct_save_ctx *s = ud;
    if (s->tomb)
        return tomb_save(t, s);
    const char *a = jstr(s->trail, "_account"), *r = jstr(s->trail, "HomeRegion"), *n = jstr(s->trail, "Name");
    json_t *cur = load_doc(t, a, r, CT_KIND_TRAIL, n);
    bool same = cur && jstr(cur, "_uid") && strcmp(jstr(cur, "_uid"), jstr(s->trail, "_uid")) == 0;
    json_decref(cur);
    if (!same)
        return GT_OK;   /* deleted (or re-created) meanwhile: drop our state */
    json_t *stored = load_doc(t, a, r, CT_KIND_TRAIL_STATE, n);
    s->conflict = rev_conflict(stored, s->state);
    json_decref(stored);
    if (s->conflict)
        return GT_OK;
    char *text = next_rev_text(s->state, JSON_COMPACT);
    if (!text)
        return GT_E_NOMEM;
    store_key k = {a, r, CT_KIND_TRAIL_STATE, n};
    int rc = store_doc_put(t, &k, NULL, text);
    free(text);
    return rc == STORE_OK ? GT_OK : GT_E_UNAVAILABLE;
}

/* Write state back (fenced by its rev, which moves on success). False: not
 * written (store failure, or another node moved the state on: the caller
 * must stop working on this trail this round). */
static bool save_state(ct_deliver *d, const json_t *trail, json_t *state, bool tomb)
{
    ct_save_ctx s = {trail, state, tomb, false, false};
    if (store_run(d->o.st, save_job, &s) != GT_OK || s.conflict)
        return false;
    json_object_set_new(state, "rev", json_integer(jint(state, "rev") + 1));
    return true;
}

/* ---------------------------------------------------------------- scanning */

typedef struct ct_region_batch {
    char account[16];   /* the events' account (several for an organization trail) */
    char region[32];
    char *buf;       /* {"Records":[ ... */
    size_t len, cap;
    int count;
    char newest[21], oldest[21];
} ct_region_batch;

typedef struct ct_scan {
    const json_t *trail;
    const json_t *accounts;   /* organization trail: the accounts it covers (ct_org.c); NULL: its own */
    int64_t upper;         /* deliver seq <= upper */
    int64_t last_seq;      /* last seq looked at */
    ct_region_batch *rb;
    size_t nrb;
    size_t bytes;
    bool full;
} ct_scan;

static bool append(ct_region_batch *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 4096;
        while (nc < b->len + n + 1)
            nc *= 2;
        char *nb = realloc(b->buf, nc);
        if (!nb)
            return false;
        b->buf = nb;
        b->cap = nc;
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = '\0';
    return true;
}

/* Is `account`'s event for this trail: its own, or for an organization
 * trail one of its organization's accounts. */
static bool scan_account_ok(const ct_scan *s, const char *account)
{
    if (!s->accounts)
        return strcmp(account, jstr(s->trail, "_account")) == 0;
    size_t i;
    json_t *v;
    json_array_foreach((json_t *)s->accounts, i, v) {
        if (strcmp(json_string_value(v), account) == 0)
            return true;
    }
    return false;
}

static int scan_cb(void *ud, int64_t seq, const char *account, const char *region, int64_t time_ms,
                   const char *json)
{
    ct_scan *s = ud;
    if (seq > s->upper || s->full)
        return 1;
    /* the cursor passes seq only once its record is in a batch (or is not
     * for this trail): every early stop below leaves last_seq before it */
    if (!scan_account_ok(s, account)) {
        s->last_seq = seq;
        return 0;
    }
    json_t *rec = json_loads(json, 0, NULL);
    bool take = rec && ct_trail_selects(s->trail, rec, region);
    char et[21] = "";
    if (take) {
        const char *t = jstr(rec, "eventTime");
        gt_strlcpy(et, t ? t : "", sizeof et);
    }
    json_decref(rec);
    if (!take) {
        s->last_seq = seq;
        return 0;
    }
    ct_region_batch *b = NULL;
    for (size_t i = 0; i < s->nrb; i++)
        if (strcmp(s->rb[i].region, region) == 0 && strcmp(s->rb[i].account, account) == 0)
            b = &s->rb[i];
    if (!b) {
        ct_region_batch *nb = realloc(s->rb, (s->nrb + 1) * sizeof *nb);
        if (!nb)
            return 1;
        s->rb = nb;
        b = &s->rb[s->nrb++];
        memset(b, 0, sizeof *b);
        gt_strlcpy(b->region, region, sizeof b->region);
        gt_strlcpy(b->account, account, sizeof b->account);
        if (!append(b, "{\"Records\":[", 12))
            return 1;
    }
    size_t n = strlen(json);
    size_t len0 = b->len;
    if ((b->count && !append(b, ",", 1)) || !append(b, json, n)) {
        b->len = len0;   /* drop a half-appended record; it is scanned again */
        s->full = true;
        return 1;
    }
    s->last_seq = seq;
    b->count++;
    if (!b->newest[0] || strcmp(et, b->newest) > 0)
        gt_strlcpy(b->newest, et, sizeof b->newest);
    if (!b->oldest[0] || strcmp(et, b->oldest) < 0)
        gt_strlcpy(b->oldest, et, sizeof b->oldest);
    s->bytes += n;
    if (s->bytes > CT_FILE_MAX_BYTES)
        s->full = true;
    return 0;
}

typedef struct ct_scan_job {
    ct_scan *s;
    int64_t after;
} ct_scan_job;

static gt_err scan_job(store_txn *t, void *ud)
{
    ct_scan_job *j = ud;
    return store_event_scan(t, j->after, CT_SCAN_BATCH, scan_cb, j->s) == STORE_OK ? GT_OK : GT_E_UNAVAILABLE;
}

static void free_batches(ct_scan *s)
{
    for (size_t i = 0; i < s->nrb; i++)
        free(s->rb[i].buf);
    free(s->rb);
    s->rb = NULL;
    s->nrb = 0;
}

/* ---------------------------------------------------------------- digests */

/* The digest chain's key in state.regions: the source region, or for an
 * organization trail "<account>/<region>" (one chain per account and
 * region, cloudtrail.md §3.1). */
static void chain_key(const json_t *trail, const char *account, const char *region, char *out, size_t cap)
{
    if (json_is_true(json_object_get(trail, "IsOrganizationTrail")))
        snprintf(out, cap, "%s/%s", account, region);
    else
        snprintf(out, cap, "%s", region);
}

/* A chain key -> its account (the trail's own for plain keys) and region. */
static void chain_parts(const json_t *trail, const char *key, char acct[16], char region[32])
{
    const char *sl = strchr(key, '/');
    if (!sl) {
        gt_strlcpy(acct, jstr(trail, "_account"), 16);
        gt_strlcpy(region, key, 32);
        return;
    }
    size_t n = (size_t)(sl - key);
    snprintf(acct, 16, "%.*s", (int)(n < 15 ? n : 15), key);
    gt_strlcpy(region, sl + 1, 32);
}

/* The per-region digest state object, made when missing (chain start). */
static json_t *region_state(json_t *state, const char *region, int64_t start_s)
{
    json_t *regions = json_object_get(state, "regions");
    if (!json_is_object(regions)) {
        regions = json_object();
        json_object_set_new(state, "regions", regions);
    }
    json_t *r = json_object_get(regions, region);
    if (!r) {
        r = json_pack("{s:I, s:[]}", "start", (json_int_t)start_s, "pending");
        json_object_set_new(regions, region, r);
    }
    return r;
}

static void set_error(json_t *state, const char *k, const char *msg)
{
    json_object_set_new(state, k, json_string(msg));
    gt_metrics_delivery_error(strcmp(k, "LatestDigestDeliveryError") == 0 ? "digest" : "log");
}

/* Delivery to a built-in bucket is CloudTrail's PutObject as the service
 * principal cloudtrail.amazonaws.com, authorized on every object against
 * the bucket as it is now: the bucket must exist and its current policy
 * must allow the object's own key, with the condition keys CreateTrail's
 * check uses (ct_trail_policy_allows: aws:SourceArn, aws:SourceAccount,
 * s3:x-amz-acl) and the same evaluator (auth/policy.c). So a policy changed
 * to keep CloudTrail out, or a deleted bucket, stops delivery as on AWS;
 * the caller keeps its cursor and retries with back-off. On denial msg
 * gets S3's error code ("AccessDenied", "NoSuchBucket"), which is what
 * GetTrailStatus shows (LatestDeliveryError: "any Amazon S3 error"). An
 * external S3 does its own authorization (our keys, not a principal). */
static gt_err builtin_authorize(ct_deliver *d, const json_t *trail, const char *bucket, const char *key, char *msg,
                                size_t cap)
{
    if (!d->o.s3 || !s3_bucket_exists(d->o.s3, bucket, NULL, NULL)) {
        snprintf(msg, cap, "NoSuchBucket");
        return GT_E_S3_NO_SUCH_BUCKET;
    }
    char *policy = s3_bucket_policy(d->o.s3, bucket);
    json_t *p = policy ? json_loads(policy, 0, NULL) : NULL;
    free(policy);
    const char *arn = jstr(trail, "TrailARN"), *account = jstr(trail, "_account");
    json_t *extra = json_pack("{s:s, s:s, s:s}", "aws:sourcearn", arn ? arn : "", "aws:sourceaccount",
                              account ? account : "", "s3:x-amz-acl", "bucket-owner-full-control");
    char res[1400];
    int n = snprintf(res, sizeof res, "arn:aws:s3:::%s/%s", bucket, key);
    bool ok = false;
    if (p && extra && n > 0 && (size_t)n < sizeof res) {
        auth_req_ctx r = {.action = "s3:PutObject", .resource = res, .now_ms = gt_now_ms(), .extra = extra};
        ok = auth_resource_policy_eval(p, &r, NULL, NULL, "cloudtrail.amazonaws.com") == AUTH_ALLOW;
    }
    json_decref(extra);
    json_decref(p);
    if (ok)
        return GT_OK;
    snprintf(msg, cap, "AccessDenied");
    return GT_E_S3_ACCESS_DENIED;
}

/* The one place objects leave: the bucket's store, built-in or external
 * (s3/s3_target.h). On failure msg gets what GetTrailStatus shows. */
static gt_err deliver_put(ct_deliver *d, const json_t *trail, const char *bucket, const char *key, const void *gz,
                          size_t n, const char *meta, char *msg, size_t cap)
{
    if (!d->o.target || !s3_target_is_external(d->o.target, bucket)) {
        gt_err a = builtin_authorize(d, trail, bucket, key, msg, cap);
        if (a != GT_OK)
            return a;
    }
    /* a gzip body, so its content type says so (AWS's exact Content-Type
     * for log objects is unverified) */
    if (d->o.target)
        return s3_target_put(d->o.target, bucket, key, gz, n, "application/x-gzip", meta, msg, cap);
    gt_err e = d->o.s3 ? s3_object_put(d->o.s3, bucket, key, gz, n, "application/x-gzip", meta, NULL)
                       : GT_E_S3_NO_SUCH_BUCKET;
    if (e != GT_OK)
        snprintf(msg, cap, "%s", e == GT_E_S3_NO_SUCH_BUCKET ? "NoSuchBucket" : gt_err_code(e));
    return e;
}

/* Write the digest of region `src` for [start, end_s]; on success update rs. */
static bool write_digest(ct_deliver *d, const json_t *trail, json_t *state, const char *chain, json_t *rs,
                         int64_t end_s, int64_t now_ms)
{
    const char *bucket = jstr(trail, "S3BucketName");
    const char *home = jstr(trail, "HomeRegion"), *name = jstr(trail, "Name");
    char acct[16], src[32];
    chain_parts(trail, chain, acct, src);
    char root[512], date[CT_DATE_CAP], stamp[CT_STAMP_CAP], key[1024], start_iso[21], end_iso[21];
    ct_org_logs_root(trail, acct, root, sizeof root);
    fmt_parts(end_s, date, stamp, true);
    snprintf(key, sizeof key, "%s/CloudTrail-Digest/%s/%s/%s_CloudTrail-Digest_%s_%s_%s_%s.json.gz", root, src,
             date, acct, src, name, home, stamp);
    gt_fmt_iso_s(jint(rs, "start"), start_iso);
    gt_fmt_iso_s(end_s, end_iso);
    json_t *pending = json_object_get(rs, "pending");
    const char *newest = NULL, *oldest = NULL;
    size_t i;
    json_t *lf;
    json_array_foreach(pending, i, lf) {
        const char *n = jstr(lf, "newestEventTime"), *o = jstr(lf, "oldestEventTime");
        if (n && (!newest || strcmp(n, newest) > 0))
            newest = n;
        if (o && (!oldest || strcmp(o, oldest) < 0))
            oldest = o;
    }
    /* fingerprint first: the JSON names the key that signs it */
    char sig[513], fp[33];
    if (!ct_digest_fingerprint(src, fp)) {
        set_error(state, "LatestDigestDeliveryError", "Signing failed: no signing key for the region.");
        return false;
    }
    const char *prev_sig = jstr(rs, "prev_sig");
    json_t *dj = json_object();
    json_object_set_new(dj, "awsAccountId", json_string(acct));
    json_object_set_new(dj, "digestStartTime", json_string(start_iso));
    json_object_set_new(dj, "digestEndTime", json_string(end_iso));
    json_object_set_new(dj, "digestS3Bucket", json_string(bucket));
    json_object_set_new(dj, "digestS3Object", json_string(key));
    json_object_set_new(dj, "digestPublicKeyFingerprint", json_string(fp));
    json_object_set_new(dj, "digestSignatureAlgorithm", json_string("SHA256withRSA"));
    json_object_set_new(dj, "newestEventTime", newest ? json_string(newest) : json_null());
    json_object_set_new(dj, "oldestEventTime", oldest ? json_string(oldest) : json_null());
    json_object_set_new(dj, "previousDigestS3Bucket", prev_sig ? json_string(jstr(rs, "prev_bucket")) : json_null());
    json_object_set_new(dj, "previousDigestS3Object", prev_sig ? json_string(jstr(rs, "prev_key")) : json_null());
    json_object_set_new(dj, "previousDigestHashValue", prev_sig ? json_string(jstr(rs, "prev_hash")) : json_null());
    json_object_set_new(dj, "previousDigestHashAlgorithm", prev_sig ? json_string("SHA-256") : json_null());
    json_object_set_new(dj, "previousDigestSignature", prev_sig ? json_string(prev_sig) : json_null());
    json_object_set(dj, "logFiles", pending ? pending : json_array());
    char *text = json_dumps(dj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(dj);
    if (!text)
        return false;
    char hash[65];
    ct_sha256_hex(text, strlen(text), hash);
    char *sts = ct_digest_string_to_sign(end_iso, bucket, key, hash, prev_sig);
    char fp2[33];
    bool signed_ok = sts && ct_digest_sign(src, sts, sig, fp2) && strcmp(fp, fp2) == 0;
    free(sts);
    unsigned char *gz = NULL;
    size_t gzn = 0;
    bool ok = false;
    if (!signed_ok) {
        set_error(state, "LatestDigestDeliveryError", "Signing failed (the region's key rotated); retrying.");
    } else if (!ct_gzip(text, strlen(text), &gz, &gzn)) {
        set_error(state, "LatestDigestDeliveryError", "Compression failed.");
    } else {
        json_t *meta = json_pack("{s:s, s:s}", "signature", sig, "signature-algorithm", "SHA256withRSA");
        char *mtext = meta ? json_dumps(meta, JSON_COMPACT) : NULL;
        json_decref(meta);
        char why[384] = "";
        gt_err e = mtext ? deliver_put(d, trail, bucket, key, gz, gzn, mtext, why, sizeof why) : GT_E_NOMEM;
        free(mtext);
        if (e == GT_OK) {
            ok = true;
            json_object_set_new(rs, "start", json_integer(end_s));
            json_object_set_new(rs, "prev_bucket", json_string(bucket));
            json_object_set_new(rs, "prev_key", json_string(key));
            json_object_set_new(rs, "prev_hash", json_string(hash));
            json_object_set_new(rs, "prev_sig", json_string(sig));
            json_object_set_new(rs, "pending", json_array());
            json_object_set_new(state, "LatestDigestDeliveryTime", json_integer(now_ms));
            json_object_del(state, "LatestDigestDeliveryError");
        } else {
            char msg[512];
            snprintf(msg, sizeof msg, "%s: the digest could not be written to bucket %s.", why[0] ? why : gt_err_code(e),
                     bucket);
            set_error(state, "LatestDigestDeliveryError", msg);
        }
    }
    free(gz);
    free(text);
    return ok;
}

/* ---------------------------------------------------------------- one trail */

typedef struct ct_reload_ctx {
    const json_t *trail;
    bool tomb;
    json_t *state;   /* out: NULL when none */
} ct_reload_ctx;

static gt_err reload_job(store_txn *t, void *ud)
{
    ct_reload_ctx *r = ud;
    if (!r->tomb) {
        r->state = load_doc(t, jstr(r->trail, "_account"), jstr(r->trail, "HomeRegion"), CT_KIND_TRAIL_STATE,
                            jstr(r->trail, "Name"));
        return GT_OK;
    }
    json_t *tomb = load_doc(t, CT_REF_ACCOUNT, CT_REF_REGION, CT_KIND_TRAIL_TOMB, jstr(r->trail, "_uid"));
    json_t *st = json_object_get(tomb, "state");
    r->state = json_is_object(st) ? json_incref(st) : NULL;
    json_decref(tomb);
    return GT_OK;
}

/* Whether this node (still) owns the trail's delivery: its lease. */
static bool owns(ct_deliver *d, const char *uid, bool *fresh)
{
    char name[80];
    snprintf(name, sizeof name, "trail:%s", uid);
    int h = lease_set_hold(d->leases, name);
    if (fresh)
        *fresh = h == LEASE_HELD_NEW;
    return h != LEASE_NOT_HELD;
}

static void deliver_owned(ct_deliver *d, const json_t *trail, json_t *state_in, bool tomb, int64_t now_ms)
{
    const char *uid = jstr(trail, "_uid");
    json_t *state;
    const char *suid = jstr(state_in, "uid");
    if (state_in && suid && strcmp(suid, uid) == 0) {
        state = json_incref(state_in);
    } else {
        state = json_pack("{s:s, s:I, s:I}", "uid", uid, "cursor", (json_int_t)jint(trail, "_start_seq"), "vgen",
                          (json_int_t)-1);
    }
    bool logging = json_is_true(json_object_get(trail, "_logging"));
    bool validation = json_is_true(json_object_get(trail, "LogFileValidationEnabled"));
    int64_t now_s = now_ms / 1000;
    bool dirty = false;

    /* a new logging session or validation switched on: a new digest chain */
    if (jint(trail, "_vgen") != jint(state, "vgen") && (logging || json_object_get(trail, "_stop_seq"))) {
        int64_t cur = jint(state, "cursor"), start = jint(trail, "_start_seq");
        json_object_set_new(state, "cursor", json_integer(cur > start ? cur : start));
        json_object_set_new(state, "vgen", json_integer(jint(trail, "_vgen")));
        json_object_set_new(state, "regions", json_object());
        json_object_del(state, "final_done");
        dirty = true;
    }
    if (!validation && json_object_size(json_object_get(state, "regions")) > 0) {
        json_object_set_new(state, "regions", json_object());   /* chain broken (§3.2 "Gaps") */
        dirty = true;
    }
    int64_t upper = logging ? INT64_MAX : (json_object_get(trail, "_stop_seq") ? jint(trail, "_stop_seq") : 0);

    ct_retry *rt = retry_for(d, uid, false);
    bool backing_off = rt && rt->next_ms > gt_sched_now_ms();   /* back-offs: the test clock */
    bool failed = false;
    bool org_err = false;
    json_t *accounts = ct_org_trail_accounts(d->o.st, trail, &org_err);   /* NULL: not an organization trail */
    if (org_err) {
        json_decref(state);
        return;   /* the store is unreadable now: next round */
    }

    /* ---- log files */
    bool fenced = false;   /* lost the trail to another node: stop touching it */
    for (int batch = 0; !backing_off && !failed && batch < CT_MAX_BATCHES && jint(state, "cursor") < upper; batch++) {
        if (d->leases && batch > 0 && !owns(d, uid, NULL)) {
            fenced = true;
            break;
        }
        ct_scan s = {.trail = trail, .accounts = accounts, .upper = upper, .last_seq = jint(state, "cursor")};
        ct_scan_job j = {&s, s.last_seq};
        if (store_read(d->o.st, scan_job, &j) != GT_OK) {
            free_batches(&s);
            break;
        }
        if (s.last_seq == jint(state, "cursor")) {
            free_batches(&s);
            break;   /* nothing new */
        }
        const char *bucket = jstr(trail, "S3BucketName");
        json_t *delivered = json_array();
        for (size_t i = 0; i < s.nrb && !failed; i++) {
            ct_region_batch *b = &s.rb[i];
            if (!append(b, "]}", 2)) {
                failed = true;
                break;
            }
            const char *acct = b->account;
            char root[512], date[CT_DATE_CAP], stamp[CT_STAMP_CAP], rnd[17], key[1024], hash[65];
            ct_org_logs_root(trail, acct, root, sizeof root);
            fmt_parts(now_s, date, stamp, false);
            if (!gt_random_chars(rnd, 16, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")) {
                failed = true;
                break;
            }
            snprintf(key, sizeof key, "%s/CloudTrail/%s/%s/%s_CloudTrail_%s_%s_%s.json.gz", root, b->region, date,
                     acct, b->region, stamp, rnd);
            ct_sha256_hex(b->buf, b->len, hash);
            unsigned char *gz = NULL;
            size_t gzn = 0;
            gt_err e = GT_E_NOMEM;
            char msg[512] = "";
            if (ct_gzip(b->buf, b->len, &gz, &gzn))
                e = deliver_put(d, trail, bucket, key, gz, gzn, NULL, msg, sizeof msg);
            free(gz);
            if (e != GT_OK) {
                set_error(state, "LatestDeliveryError", msg[0] ? msg : gt_err_code(e));
                failed = true;
                break;
            }
            char ck[64];
            chain_key(trail, acct, b->region, ck, sizeof ck);
            json_array_append_new(delivered, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "region", ck,
                                                       "s3Bucket", bucket, "s3Object", key, "hashValue", hash,
                                                       "hashAlgorithm", "SHA-256", "newestEventTime", b->newest,
                                                       "oldestEventTime", b->oldest));
        }
        free_batches(&s);
        json_object_set_new(state, "LatestDeliveryAttemptTime", json_integer(now_ms));
        if (failed) {
            note_failure(d, uid, gt_sched_now_ms());
            json_decref(delivered);
            dirty = true;
            break;
        }
        note_success(d, uid);
        json_object_set_new(state, "cursor", json_integer(s.last_seq));
        size_t i;
        json_t *lf;
        json_array_foreach(delivered, i, lf) {
            sns_notify_trail_file(d->o.st, trail, jstr(lf, "s3Bucket"), jstr(lf, "s3Object"));   /* SNS (§4.1) */
            json_object_set_new(state, "LatestDeliveryTime", json_integer(now_ms));
            json_object_del(state, "LatestDeliveryError");
            if (validation) {
                json_t *rs = region_state(state, jstr(lf, "region"), now_s);
                json_t *entry = json_deep_copy(lf);
                json_object_del(entry, "region");
                json_array_append_new(json_object_get(rs, "pending"), entry);
            }
        }
        json_decref(delivered);
        dirty = true;
        /* the cursor moves only once the objects are stored */
        if (!save_state(d, trail, state, tomb)) {
            fenced = true;   /* unknown outcome or moved on: reload next round */
            break;
        }
        dirty = false;
    }
    if (fenced) {
        json_decref(accounts);
        json_decref(state);
        return;
    }

    /* ---- digests */
    bool caught_up = jint(state, "cursor") >= upper;
    bool final_due = !logging && caught_up && json_object_get(trail, "_stop_seq") &&
                     !json_is_true(json_object_get(state, "final_done"));
    if (validation && d->o.s3 && (logging || final_due) && jint(state, "vgen") == jint(trail, "_vgen")) {
        /* the home chain always runs (an organization trail's: for each account) */
        char ck[64];
        size_t ai;
        json_t *av;
        chain_key(trail, jstr(trail, "_account"), jstr(trail, "HomeRegion"), ck, sizeof ck);
        region_state(state, ck, now_s);
        json_array_foreach(accounts, ai, av) {
            chain_key(trail, json_string_value(av), jstr(trail, "HomeRegion"), ck, sizeof ck);
            region_state(state, ck, now_s);
        }
        json_t *regions = json_object_get(state, "regions");
        const char *src;
        json_t *rs;
        bool all_final = true;
        json_object_foreach(regions, src, rs) {
            int64_t start = jint(rs, "start");
            bool intent = json_object_get(rs, "end") != NULL;
            bool due = intent || (final_due ? now_s > start : now_s >= start + d->o.digest_interval_s);
            if (!due) {
                all_final = all_final && !final_due;
                continue;
            }
            /* Exactly one digest per window: the window's end is stored
             * before the object is written, so a node that takes over after
             * a crash in between writes the same key again (overwriting the
             * orphan) instead of a second, overlapping digest. */
            if (!intent) {
                json_object_set_new(rs, "end", json_integer(now_s));
                if ((d->leases && !owns(d, uid, NULL)) || !save_state(d, trail, state, tomb)) {
                    json_decref(accounts);
                    json_decref(state);
                    return;
                }
            } else if (d->leases && !owns(d, uid, NULL)) {
                json_decref(accounts);
                json_decref(state);
                return;
            }
            if (write_digest(d, trail, state, src, rs, jint(rs, "end"), now_ms)) {
                json_object_del(rs, "end");
                dirty = true;
            } else {
                all_final = false;
                dirty = true;
            }
        }
        if (final_due && all_final) {
            json_object_set_new(state, "final_done", json_true());
            dirty = true;
        }
    }
    if (dirty)
        save_state(d, trail, state, tomb);
    /* a deleted trail is finished once delivered and, with validation, its final digest written */
    if (tomb && caught_up && (!validation || !d->o.s3 || json_is_true(json_object_get(state, "final_done")))) {
        ct_save_ctx rm = {trail, state, true, true, false};
        if (store_run(d->o.st, save_job, &rm) == GT_OK && d->leases) {
            char name[80];
            snprintf(name, sizeof name, "trail:%s", uid);
            lease_set_release(d->leases, name);
        }
    }
    json_decref(accounts);
    json_decref(state);
}

/* One trail, if this node holds its lease ("trail:<uid>"). */
static void deliver_trail(ct_deliver *d, const json_t *trail, json_t *state_in, bool tomb, int64_t now_ms)
{
    const char *uid = jstr(trail, "_uid");
    if (!uid)
        return;
    bool fresh = false;
    if (d->leases && !owns(d, uid, &fresh))
        return;   /* another node's */
    json_t *reloaded = NULL;
    if (fresh) {
        /* just taken (over): the snapshot may predate the lease, so read
         * the state the previous owner left */
        ct_reload_ctx rc = {trail, tomb, NULL};
        if (store_read(d->o.st, reload_job, &rc) != GT_OK)
            return;
        state_in = reloaded = rc.state;
    }
    deliver_owned(d, trail, state_in, tomb, now_ms);
    json_decref(reloaded);
}

/* Is this worker's the trail? (A worker for external buckets runs apart,
 * so a slow or hanging external server holds up only those trails.) */
static bool worker_takes(const ct_deliver *d, const json_t *trail)
{
    if (d->o.only == CT_DELIVER_ALL)
        return true;
    bool ext = s3_target_is_external(d->o.target, jstr(trail, "S3BucketName"));
    return d->o.only == CT_DELIVER_EXTERNAL ? ext : !ext;
}

void ct_deliver_round(ct_deliver *d, int64_t now_ms)
{
    ct_snapshot s = {0};
    if (store_read(d->o.st, snap_job, &s) == GT_OK) {
        for (size_t i = 0; i < s.n; i++)
            if (worker_takes(d, s.items[i].trail))
                deliver_trail(d, s.items[i].trail, s.items[i].state, s.items[i].tomb, now_ms);
    }
    for (size_t i = 0; i < s.n; i++) {
        json_decref(s.items[i].trail);
        json_decref(s.items[i].state);
    }
    free(s.items);
}

/* ---------------------------------------------------------------- metrics */

typedef struct ct_metrics_ctx {
    ct_snapshot snap;
    gt_metrics_buf *b;
    int64_t now_ms;
} ct_metrics_ctx;

static int first_time_cb(void *ud, int64_t seq, const char *account, const char *region, int64_t time_ms,
                         const char *json)
{
    *(int64_t *)ud = time_ms;
    return 1;
}

static void gauge(gt_metrics_buf *b, const char *name, const char *arn, const char *extra, double v)
{
    gt_metrics_printf(b, "%s{trail=\"", name);
    gt_metrics_label(b, arn);
    gt_metrics_printf(b, "\"%s} %.3f\n", extra, v);
}

static gt_err metrics_job(store_txn *t, void *ud)
{
    ct_metrics_ctx *m = ud;
    gt_err e = snap_job(t, &m->snap);
    if (e != GT_OK)
        return e;
    int64_t head = store_event_max_seq(t);
    static const struct {
        const char *name, *type, *help;
    } fam[] = {
        {"greentrail_trail_logging", "gauge", "1 while the trail is logging."},
        {"greentrail_trail_backlog_seqs", "gauge",
         "Journal sequence numbers between the trail's delivery cursor and the journal head (an upper bound "
         "of the events still to examine: PostgreSQL sequences may have gaps)."},
        {"greentrail_trail_lag_seconds", "gauge",
         "Age of the oldest journal event the trail's delivery has not yet examined (0 when caught up)."},
        {"greentrail_trail_delivery_failing", "gauge",
         "1 while the trail's latest log-file or digest delivery failed (GetTrailStatus shows the error)."},
        {"greentrail_trail_last_delivery_timestamp_seconds", "gauge",
         "Unix time of the trail's latest successful log-file delivery (0: none yet)."},
    };
    for (size_t f = 0; f < sizeof fam / sizeof fam[0]; f++) {
        gt_metrics_printf(m->b, "# HELP %s %s\n# TYPE %s %s\n", fam[f].name, fam[f].help, fam[f].name,
                          fam[f].type);
        for (size_t i = 0; i < m->snap.n; i++) {
            const json_t *tr = m->snap.items[i].trail, *st = m->snap.items[i].state;
            if (m->snap.items[i].tomb)
                continue;
            const char *arn = jstr(tr, "TrailARN");
            const char *suid = jstr(st, "uid");
            if (!(suid && jstr(tr, "_uid") && strcmp(suid, jstr(tr, "_uid")) == 0))
                st = NULL;   /* state of an earlier trail of the same name */
            bool logging = json_is_true(json_object_get(tr, "_logging"));
            int64_t cursor = st ? jint(st, "cursor") : jint(tr, "_start_seq");
            int64_t upper = logging ? head : (json_object_get(tr, "_stop_seq") ? jint(tr, "_stop_seq") : cursor);
            if (upper > head)
                upper = head;
            int64_t backlog = upper > cursor ? upper - cursor : 0;
            switch (f) {
            case 0:
                gauge(m->b, fam[f].name, arn, "", logging ? 1 : 0);
                break;
            case 1:
                gauge(m->b, fam[f].name, arn, "", (double)backlog);
                break;
            case 2: {
                int64_t first = 0;
                if (backlog > 0 && store_event_scan(t, cursor, 1, first_time_cb, &first) < 0)
                    first = 0;
                gauge(m->b, fam[f].name, arn, "", first > 0 && m->now_ms > first ? (m->now_ms - first) / 1000.0 : 0);
                break;
            }
            case 3:
                gauge(m->b, fam[f].name, arn, ",file=\"log\"", jstr(st, "LatestDeliveryError") ? 1 : 0);
                gauge(m->b, fam[f].name, arn, ",file=\"digest\"", jstr(st, "LatestDigestDeliveryError") ? 1 : 0);
                break;
            default:
                gauge(m->b, fam[f].name, arn, "", jint(st, "LatestDeliveryTime") / 1000.0);
            }
        }
    }
    return GT_OK;
}

gt_err ct_deliver_metrics(store *st, gt_metrics_buf *b, int64_t now_ms)
{
    ct_metrics_ctx m = {.b = b, .now_ms = now_ms};
    gt_err e = store_read(st, metrics_job, &m);
    for (size_t i = 0; i < m.snap.n; i++) {
        json_decref(m.snap.items[i].trail);
        json_decref(m.snap.items[i].state);
    }
    free(m.snap.items);
    return e;
}

/* ---------------------------------------------------------------- the thread */

static void *ct_main(void *arg)
{
    ct_deliver *d = arg;
    pthread_mutex_lock(&d->mu);
    while (!d->stop) {
        pthread_mutex_unlock(&d->mu);
        ct_deliver_round(d, gt_now_ms());
        pthread_mutex_lock(&d->mu);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += d->o.delivery_interval_s;
        while (!d->stop && pthread_cond_timedwait(&d->cv, &d->mu, &ts) == 0)
            ;
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

ct_deliver *ct_deliver_start(const ct_deliver_opts *o)
{
    ct_deliver *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->o = *o;
    d->leases = lease_set_new(o->st, CT_LEASE_TTL_MS);
    if (!d->leases) {
        free(d);
        return NULL;
    }
    if (d->o.delivery_interval_s < 1)
        d->o.delivery_interval_s = 1;
    if (d->o.digest_interval_s < 1)
        d->o.digest_interval_s = 1;
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    if (pthread_create(&d->th, NULL, ct_main, d) != 0) {
        pthread_mutex_destroy(&d->mu);
        pthread_cond_destroy(&d->cv);
        lease_set_free(d->leases);
        free(d);
        return NULL;
    }
    return d;
}

void ct_deliver_stop(ct_deliver *d)
{
    if (!d)
        return;
    pthread_mutex_lock(&d->mu);
    d->stop = true;
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
    pthread_join(d->th, NULL);
    lease_set_free(d->leases);   /* a clean stop hands the trails over at once */
    pthread_mutex_destroy(&d->mu);
    pthread_cond_destroy(&d->cv);
    free(d);
}
