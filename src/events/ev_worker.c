/*
 * ev_worker.c: EventBridge rule delivery from the CloudTrail journal.
 *
 * What: one background thread. Every --rules-interval-ms it loads every
 * target's delivery state ("ev.tstate" docs: a cursor into the journal,
 * retry state and counters), scans the journal after the smallest cursor
 * of the targets that are due (store_event_scan), turns each record into
 * its EventBridge envelope (events/transform.c; PutEvents records expand
 * into their stored custom events), matches it against the target's rule
 * (events/pattern.c, the same code as TestEventPattern) and delivers
 * matches: an HTTP request to an API destination with the connection's
 * auth header (libcurl), or one JSON line appended to a file under
 * --rules-file-dir. Then it writes the new cursors in one store_run job.
 *
 * Why from the journal: the journal is already durable and ordered, so
 * the API path does nothing extra (calls are never slowed), a restart
 * resumes at the stored cursors, and delivery is at least once: a cursor
 * moves past an event only after the event was delivered (or
 * dead-lettered), and it is written after the delivery.
 *
 * Failures: a failed delivery blocks that target (events stay in order)
 * and is retried with exponential back-off (interval x 2^n, capped at
 * --rules-retry-max-ms). After the target's RetryPolicy
 * (MaximumRetryAttempts, default 185; MaximumEventAgeInSeconds, default
 * 86400) or at once for a permanent HTTP 4xx (not 408/429), the event is
 * dead-lettered: an "ev.dlq" doc records it, the target's dead_letters
 * counter moves and the cursor passes it. Every failed attempt counts in
 * the target's "failures" counter and is logged to stderr.
 *
 * Threads: matching and rendering run on the worker thread; the
 * deliveries of different targets then run in parallel (up to
 * MAX_DELIVERY_THREADS, on plain strings and read-only target data), so a
 * slow or black-holed endpoint delays only its own target.
 *
 * Several nodes (docs/SCALING.md): a target is delivered by one node at a
 * time, the holder of the lease "evtarget:<state id>" (LEASE_TTL_MS,
 * renewed each batch through lease_set, released on a clean stop). A node
 * that just took a target re-reads its state; a write-back is fenced by
 * the cursor it loaded (skipped if the stored cursor moved meanwhile, i.e.
 * another node owned the target), so a stalled node cannot move a cursor
 * back. Pruning old custom events runs under the "events-prune" lease.
 *
 * Invariants: writes only inside store_run jobs; a state write-back is
 * skipped when the target's "gen" changed meanwhile (replaced or removed
 * by the API); delivery never runs inside a store job.
 */
#include "events/events.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "events/pattern.h"
#include "events/transform.h"
#include "sns/sns.h"
#include "store/lease_set.h"
#include "util/gtutil.h"
#include "util/testclock.h"

#define SCAN_BATCH 256
#define MAX_BATCHES_PER_PASS 8
#define MAX_TARGETS 4096
#define HTTP_TIMEOUT_MS 10000L
#define LEASE_TTL_MS 10000   /* a dead node's targets move after this */

struct ev_worker {
    ev_worker_opts o;
    char file_dir[2048];
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    int64_t last_prune_ms;
    lease_set *leases;   /* "evtarget:<state id>" and "events-prune" */
};

typedef struct tgt {
    char sid[512];
    char gen[64];
    char account[16], region[32];
    json_t *state, *target, *rule, *dest, *conn;
    ev_pattern *pat;
    int64_t cursor, next_ms;
    int64_t cursor0;   /* the stored cursor when loaded (fencing) */
    int attempts;
    bool mine;         /* this node holds the target's lease */
    bool ready, blocked, dirty;
    json_int_t delivered, failures, dead_letters;
    char last_error[256];
    json_t *dlq;   /* dead-letter docs to write */
} tgt;

typedef struct tgt_set {
    tgt *v;
    size_t n;
} tgt_set;

/* ---------------------------------------------------------------- loading */

static json_t *get_doc(store_txn *t, const char *acct, const char *region, const char *kind, const char *id)
{
    char *body = NULL;
    store_key k = {acct, region, kind, id};
    if (store_doc_get(t, &k, &body) != STORE_OK)
        return NULL;
    json_t *j = json_loads(body, 0, NULL);
    free(body);
    return j;
}

static int collect_state(void *ud, int64_t seq, const char *id, const char *body)
{
    json_t *arr = ud;
    json_t *j = json_loads(body, 0, NULL);
    if (j) {
        json_object_set_new(j, "_sid", json_string(id));
        json_array_append_new(arr, j);
    }
    return json_array_size(arr) >= MAX_TARGETS;
}

/* "arn:...:<kind>/<name>/<uuid>" -> name */
static bool arn_name(const char *arn, const char *kind, char *out, size_t cap)
{
    const char *p = arn ? strstr(arn, kind) : NULL;
    if (!p)
        return false;
    p += strlen(kind);
    const char *slash = strchr(p, '/');
    size_t n = slash ? (size_t)(slash - p) : strlen(p);
    if (n == 0 || n >= cap)
        return false;
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

static void tgt_free(tgt *g)
{
    json_decref(g->state);
    json_decref(g->target);
    json_decref(g->rule);
    json_decref(g->dest);
    json_decref(g->conn);
    json_decref(g->dlq);
    ev_pattern_free(g->pat);
}

static void set_free(tgt_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        tgt_free(&s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

static gt_err load_job(store_txn *t, void *ud)
{
    tgt_set *s = ud;
    json_t *states = json_array();
    if (!states)
        return GT_E_NOMEM;
    if (store_doc_list(t, "", "", EV_KIND_TSTATE, NULL, 0, false, 0, collect_state, states) != STORE_OK) {
        json_decref(states);
        return GT_E_UNAVAILABLE;
    }
    s->v = calloc(json_array_size(states) + 1, sizeof *s->v);
    if (!s->v) {
        json_decref(states);
        return GT_E_NOMEM;
    }
    for (size_t i = 0; i < json_array_size(states); i++) {
        json_t *st = json_array_get(states, i);
        tgt *g = &s->v[s->n];
        memset(g, 0, sizeof *g);
        const char *acct = json_string_value(json_object_get(st, "account"));
        const char *region = json_string_value(json_object_get(st, "region"));
        const char *rule = json_string_value(json_object_get(st, "rule"));
        const char *id = json_string_value(json_object_get(st, "id"));
        const char *gen = json_string_value(json_object_get(st, "gen"));
        if (!acct || !region || !rule || !id || !gen)
            continue;
        gt_strlcpy(g->sid, json_string_value(json_object_get(st, "_sid")), sizeof g->sid);
        gt_strlcpy(g->gen, gen, sizeof g->gen);
        gt_strlcpy(g->account, acct, sizeof g->account);
        gt_strlcpy(g->region, region, sizeof g->region);
        char tid[256];
        snprintf(tid, sizeof tid, "%s/%s", rule, id);
        g->rule = get_doc(t, acct, region, EV_KIND_RULE, rule);
        g->target = get_doc(t, acct, region, EV_KIND_TARGET, tid);
        if (!g->rule || !g->target) {
            tgt_free(g);
            continue;
        }
        g->pat = ev_pattern_compile(json_string_value(json_object_get(g->rule, "EventPattern")), NULL, 0);
        const char *arn = json_string_value(json_object_get(g->target, "Arn"));
        char name[128];
        if (arn && strstr(arn, ":api-destination/") && arn_name(arn, ":api-destination/", name, sizeof name)) {
            g->dest = get_doc(t, acct, region, EV_KIND_APIDEST, name);
            const char *carn = json_string_value(json_object_get(g->dest, "ConnectionArn"));
            if (arn_name(carn, ":connection/", name, sizeof name))
                g->conn = get_doc(t, acct, region, EV_KIND_CONN, name);
        }
        g->state = json_incref(st);
        g->cursor = json_integer_value(json_object_get(st, "cursor"));
        g->cursor0 = g->cursor;
        g->next_ms = json_integer_value(json_object_get(st, "next_ms"));
        g->attempts = (int)json_integer_value(json_object_get(st, "attempts"));
        g->delivered = json_integer_value(json_object_get(st, "delivered"));
        g->failures = json_integer_value(json_object_get(st, "failures"));
        g->dead_letters = json_integer_value(json_object_get(st, "dead_letters"));
        const char *le = json_string_value(json_object_get(st, "last_error"));
        gt_strlcpy(g->last_error, le ? le : "", sizeof g->last_error);
        s->n++;
    }
    json_decref(states);
    return GT_OK;
}

/* ---------------------------------------------------------------- journal batch */

typedef struct row {
    int64_t seq, time_ms;
    char account[16], region[32];
    char *json;
} row;

typedef struct batch {
    row v[SCAN_BATCH];
    int n;
    int64_t after;
} batch;

static int collect_row(void *ud, int64_t seq, const char *account, const char *region, int64_t time_ms,
                       const char *json)
{
    batch *b = ud;
    row *r = &b->v[b->n];
    r->seq = seq;
    r->time_ms = time_ms;
    gt_strlcpy(r->account, account ? account : "", sizeof r->account);
    gt_strlcpy(r->region, region ? region : "", sizeof r->region);
    r->json = strdup(json ? json : "");
    if (!r->json)
        return 1;
    b->n++;
    return b->n >= SCAN_BATCH;
}

static gt_err scan_job(store_txn *t, void *ud)
{
    batch *b = ud;
    return store_event_scan(t, b->after, SCAN_BATCH, collect_row, b) == STORE_OK ? GT_OK : GT_E_UNAVAILABLE;
}

typedef struct custom_ctx {
    const char *account, *region;
    const json_t *ids;    /* responseElements.Entries */
    json_t *out;          /* envelopes */
} custom_ctx;

static gt_err custom_job(store_txn *t, void *ud)
{
    custom_ctx *cc = ud;
    for (size_t i = 0; i < json_array_size(cc->ids); i++) {
        const char *id = json_string_value(json_object_get(json_array_get(cc->ids, i), "EventId"));
        if (!id)
            continue;
        char key[256];
        snprintf(key, sizeof key, "%s/%s/%s", cc->account, cc->region, id);
        json_t *d = get_doc(t, "", "", EV_KIND_CUSTOM, key);
        if (d && json_object_get(d, "event"))
            json_array_append(cc->out, json_object_get(d, "event"));
        json_decref(d);
    }
    return GT_OK;
}

/* The envelopes a journal row stands for (a new array; may be empty). */
static json_t *envelopes_of(ev_worker *w, const row *r, json_t **rec_out)
{
    json_t *out = json_array();
    *rec_out = NULL;
    if (!out || strlen(r->json) > EV_MAX_EVENT_BYTES)
        return out;
    json_t *rec = json_loads(r->json, 0, NULL);
    if (!rec)
        return out;
    *rec_out = rec;
    const char *src = json_string_value(json_object_get(rec, "eventSource"));
    const char *name = json_string_value(json_object_get(rec, "eventName"));
    if (src && name && strcmp(src, "events.amazonaws.com") == 0 && strcmp(name, "PutEvents") == 0) {
        if (json_object_get(rec, "errorCode"))
            return out;
        custom_ctx cc = {r->account, r->region, json_object_get(json_object_get(rec, "responseElements"), "Entries"),
                         out};
        store_read(w->o.st, custom_job, &cc);
        return out;
    }
    json_t *env = ev_envelope_from_record(rec);
    if (env)
        json_array_append_new(out, env);
    return out;
}

/* ---------------------------------------------------------------- delivery */

static size_t discard(char *p, size_t sz, size_t n, void *ud)
{
    return sz * n;
}

/* 0 ok, 1 retryable failure, 2 permanent failure. */
static int deliver_http(const tgt *g, const char *body, char *err, size_t errcap)
{
    const char *url = json_string_value(json_object_get(g->dest, "InvocationEndpoint"));
    const char *method = json_string_value(json_object_get(g->dest, "HttpMethod"));
    if (!g->dest || !g->conn || !url) {
        snprintf(err, errcap, "API destination or its connection no longer exists");
        return 1;
    }
    CURL *h = curl_easy_init();
    if (!h) {
        snprintf(err, errcap, "cannot start an HTTP client");
        return 1;
    }
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json; charset=utf-8");
    hdr = curl_slist_append(hdr, "User-Agent: Amazon/EventBridge/ApiDestinations");
    const json_t *ap = json_object_get(g->conn, "AuthParameters");
    const char *type = json_string_value(json_object_get(g->conn, "AuthorizationType"));
    char line[1200];
    if (type && strcmp(type, "API_KEY") == 0) {
        const json_t *k = json_object_get(ap, "ApiKeyAuthParameters");
        snprintf(line, sizeof line, "%s: %s", json_string_value(json_object_get(k, "ApiKeyName")),
                 json_string_value(json_object_get(k, "ApiKeyValue")));
        hdr = curl_slist_append(hdr, line);
    } else if (type && strcmp(type, "BASIC") == 0) {
        const json_t *b = json_object_get(ap, "BasicAuthParameters");
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERNAME, json_string_value(json_object_get(b, "Username")));
        curl_easy_setopt(h, CURLOPT_PASSWORD, json_string_value(json_object_get(b, "Password")));
    }
    const json_t *hp = json_object_get(json_object_get(ap, "InvocationHttpParameters"), "HeaderParameters");
    for (size_t i = 0; i < json_array_size(hp); i++) {
        const json_t *x = json_array_get(hp, i);
        const char *k = json_string_value(json_object_get(x, "Key"));
        const char *v = json_string_value(json_object_get(x, "Value"));
        if (k && v && !strpbrk(k, "\r\n:") && !strpbrk(v, "\r\n")) {
            snprintf(line, sizeof line, "%s: %s", k, v);
            hdr = curl_slist_append(hdr, line);
        }
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, HTTP_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    if (!method || strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0 || strcmp(method, "OPTIONS") == 0) {
        if (method && strcmp(method, "HEAD") == 0)
            curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
        else if (method && strcmp(method, "OPTIONS") == 0)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "OPTIONS");
    } else {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
        if (strcmp(method, "POST") != 0)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    }
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    if (rc != CURLE_OK) {
        snprintf(err, errcap, "%s: %s", url, curl_easy_strerror(rc));
        return 1;
    }
    if (status >= 200 && status < 300)
        return 0;
    snprintf(err, errcap, "%s answered HTTP %ld", url, status);
    return (status >= 400 && status < 500 && status != 408 && status != 429) ? 2 : 1;
}

/* mkdir -p of the directories leading to path (path is under our root). */
static int make_parents(char *path, size_t root_len)
{
    for (char *p = path + root_len + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int rc = mkdir(path, 0700);
        *p = '/';
        if (rc != 0 && errno != EEXIST)
            return -1;
    }
    return 0;
}

static int deliver_file(ev_worker *w, const char *rel, const char *body, char *err, size_t errcap)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", w->file_dir, rel) >= (int)sizeof path) {
        snprintf(err, errcap, "file target path too long");
        return 2;
    }
    if ((mkdir(w->file_dir, 0700) != 0 && errno != EEXIST) || make_parents(path, strlen(w->file_dir)) != 0) {
        snprintf(err, errcap, "cannot create the directories of %.300s: %s", path, strerror(errno));
        return 1;
    }
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errcap, "cannot open %.300s: %s", path, strerror(errno));
        return 1;
    }
    size_t n = strlen(body);
    char *line = malloc(n + 2);
    if (!line) {
        close(fd);
        snprintf(err, errcap, "out of memory");
        return 1;
    }
    memcpy(line, body, n);
    line[n] = '\n';
    /* one write per line: O_APPEND keeps concurrent lines whole */
    ssize_t wr = write(fd, line, n + 1);
    free(line);
    int ok = wr == (ssize_t)(n + 1) && fdatasync(fd) == 0;
    if (!ok)
        snprintf(err, errcap, "cannot write %.300s: %s", path, strerror(errno));
    close(fd);
    return ok ? 0 : 1;
}

/* One rendered delivery: the body and the envelope id (for dead letters). */
typedef struct item {
    char *body;
    char id[64];
} item;

/* What one journal row means for one target: zero or more deliveries. */
typedef struct step {
    int64_t seq, time_ms;
    item *items;
    int n;
} step;

typedef struct plan {
    step *v;
    int n;
} plan;

static void plan_free(plan *p)
{
    for (int i = 0; i < p->n; i++) {
        for (int k = 0; k < p->v[i].n; k++)
            free(p->v[i].items[k].body);
        free(p->v[i].items);
    }
    free(p->v);
    p->v = NULL;
    p->n = 0;
}

static int deliver_body(ev_worker *w, const tgt *g, const char *body, char *err, size_t errcap)
{
    const char *arn = json_string_value(json_object_get(g->target, "Arn"));
    const char *rel;
    if (ev_file_target(arn, &rel))
        return deliver_file(w, rel, body, err, errcap);
    if (g->dest)
        return deliver_http(g, body, err, errcap);
    if (arn && strncmp(arn, "arn:aws:sns:", 12) == 0) {   /* SNS topic target (sns/sns.c) */
        gt_err e = sns_publish_internal(w->o.st, g->account, g->region, arn, NULL, body);
        snprintf(err, errcap, "SNS Publish to %.300s: %s", arn, e == GT_OK ? "ok" : gt_err_code(e));
        return e == GT_OK ? 0 : 1;
    }
    snprintf(err, errcap, "target %.300s cannot be delivered (unsupported or missing destination)", arn ? arn : "");
    return 1;
}

/* ---------------------------------------------------------------- one pass */

static int64_t backoff_ms(const ev_worker *w, int attempts)
{
    int64_t d = w->o.interval_ms > 0 ? w->o.interval_ms : 100;
    for (int i = 1; i < attempts && d < w->o.retry_max_ms; i++)
        d *= 2;
    return d < w->o.retry_max_ms ? d : w->o.retry_max_ms;
}

static void dead_letter(tgt *g, const step *sp, const char *event_id, const char *why, int64_t now)
{
    if (!g->dlq)
        g->dlq = json_array();
    char when[25];
    gt_fmt_iso_ms(now, when);
    json_array_append_new(g->dlq, json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:I, s:s, s:s, s:i, s:s}", "account",
                                            g->account, "region", g->region, "rule",
                                            json_string_value(json_object_get(g->rule, "Name")), "targetId",
                                            json_string_value(json_object_get(g->target, "Id")), "targetArn",
                                            json_string_value(json_object_get(g->target, "Arn")), "seq",
                                            (json_int_t)sp->seq, "eventId", event_id, "error", why, "attempts",
                                            g->attempts, "time", when));
    g->dead_letters++;
}

/* Match one row's envelopes for one target and render what it receives. */
static bool plan_row(const tgt *g, const row *r, const json_t *envs, step *sp)
{
    memset(sp, 0, sizeof *sp);
    sp->seq = r->seq;
    sp->time_ms = r->time_ms;
    const char *state = json_string_value(json_object_get(g->rule, "State"));
    bool enabled = state && strcmp(state, "DISABLED") != 0;
    bool all_mgmt = state && strcmp(state, "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS") == 0;
    if (strcmp(g->account, r->account) != 0 || strcmp(g->region, r->region) != 0 || !enabled || !g->pat)
        return true;
    for (size_t i = 0; i < json_array_size(envs); i++) {
        const json_t *env = json_array_get(envs, i);
        /* CloudTrail envelopes have an aws.* source; custom events never
         * do (PutEvents refuses them) */
        const char *source = json_string_value(json_object_get(env, "source"));
        bool custom = !source || strncmp(source, "aws.", 4) != 0;
        if (!custom && !ev_record_eligible(json_object_get(env, "detail"), all_mgmt))
            continue;
        if (!ev_pattern_match(g->pat, env))
            continue;
        item *grown = realloc(sp->items, (size_t)(sp->n + 1) * sizeof *grown);
        if (!grown)
            return false;
        sp->items = grown;
        item *it = &sp->items[sp->n];
        it->body = ev_target_body(g->target, env, json_string_value(json_object_get(g->rule, "Arn")),
                                  json_string_value(json_object_get(g->rule, "Name")));
        const char *id = json_string_value(json_object_get(env, "id"));
        gt_strlcpy(it->id, id ? id : "", sizeof it->id);
        sp->n++;
    }
    return true;
}

/* Run a target's plan in order; stop at a failure that will be retried.
 * Touches only g (and reads shared, immutable data): runs in parallel with
 * other targets' plans. */
static void exec_plan(ev_worker *w, tgt *g, const plan *p)
{
    const json_t *policy = json_object_get(g->target, "RetryPolicy");
    json_t *ma = json_object_get(policy, "MaximumRetryAttempts");
    json_t *age = json_object_get(policy, "MaximumEventAgeInSeconds");
    int64_t max_attempts = ma ? json_integer_value(ma) : 185;
    int64_t max_age_ms = (age ? json_integer_value(age) : 86400) * 1000;
    for (int i = 0; i < p->n && !g->blocked; i++) {
        const step *sp = &p->v[i];
        for (int k = 0; k < sp->n; k++) {
            char err[512] = "";
            int rc;
            if (!sp->items[k].body) {
                snprintf(err, sizeof err, "cannot render the target input (too large or out of memory)");
                rc = 2;
            } else {
                rc = deliver_body(w, g, sp->items[k].body, err, sizeof err);
            }
            if (rc == 0) {
                g->delivered++;
                continue;
            }
            int64_t now = gt_sched_now_ms();   /* back-off and event age: the test clock */
            g->attempts++;
            g->failures++;
            gt_strlcpy(g->last_error, err, sizeof g->last_error);
            g->dirty = true;
            fprintf(stderr, "greentrail: events: delivery of %s to %s/%s failed (attempt %d): %s\n",
                    sp->items[k].id, json_string_value(json_object_get(g->rule, "Name")),
                    json_string_value(json_object_get(g->target, "Id")), g->attempts, err);
            if (rc == 2 || g->attempts > max_attempts || now - sp->time_ms > max_age_ms) {
                dead_letter(g, sp, sp->items[k].id, err, now);
                g->attempts = 0;
                continue;   /* give up on this one, go on */
            }
            g->next_ms = now + backoff_ms(w, g->attempts);
            g->blocked = true;   /* cursor stays before this row: retried later, in order */
            break;
        }
        if (g->blocked)
            break;
        g->attempts = 0;
        g->next_ms = 0;
        g->cursor = sp->seq;
        g->dirty = true;
    }
}

#define MAX_DELIVERY_THREADS 8

typedef struct pool {
    ev_worker *w;
    tgt_set *s;
    plan *plans;
    pthread_mutex_t mu;
    size_t next;
} pool;

static void *pool_main(void *arg)
{
    pool *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        size_t i = p->next++;
        pthread_mutex_unlock(&p->mu);
        if (i >= p->s->n)
            return NULL;
        if (p->plans[i].n > 0)
            exec_plan(p->w, &p->s->v[i], &p->plans[i]);
    }
}

/* Deliver every target's plan; targets run in parallel (a slow endpoint
 * delays only its own target), each target's events in order. */
static void run_plans(ev_worker *w, tgt_set *s, plan *plans)
{
    size_t busy = 0;   /* targets with something to send */
    for (size_t i = 0; i < s->n; i++) {
        bool any = false;
        for (int k = 0; k < plans[i].n && !any; k++)
            any = plans[i].v[k].n > 0;
        busy += any;
    }
    pool p = {.w = w, .s = s, .plans = plans};
    pthread_mutex_init(&p.mu, NULL);
    pthread_t th[MAX_DELIVERY_THREADS];
    size_t nth = 0;
    for (; busy > 1 && nth < busy && nth < MAX_DELIVERY_THREADS; nth++)
        if (pthread_create(&th[nth], NULL, pool_main, &p) != 0)
            break;
    pool_main(&p);   /* this thread works too (and alone when one target is busy) */
    for (size_t i = 0; i < nth; i++)
        pthread_join(th[i], NULL);
    pthread_mutex_destroy(&p.mu);
}

typedef struct save_ctx {
    tgt_set *s;
} save_ctx;

static gt_err save_job(store_txn *t, void *ud)
{
    tgt_set *s = ((save_ctx *)ud)->s;
    for (size_t i = 0; i < s->n; i++) {
        tgt *g = &s->v[i];
        if (!g->dirty)
            continue;
        json_t *cur = get_doc(t, "", "", EV_KIND_TSTATE, g->sid);
        const char *gen = json_string_value(json_object_get(cur, "gen"));
        if (cur && json_integer_value(json_object_get(cur, "cursor")) != g->cursor0) {
            /* another node moved it on (our lease lapsed meanwhile): its
             * word wins; what we delivered since is a duplicate */
            json_decref(cur);
            continue;
        }
        if (cur && gen && strcmp(gen, g->gen) == 0) {
            json_object_set_new(cur, "cursor", json_integer(g->cursor));
            json_object_set_new(cur, "attempts", json_integer(g->attempts));
            json_object_set_new(cur, "next_ms", json_integer(g->next_ms));
            json_object_set_new(cur, "delivered", json_integer(g->delivered));
            json_object_set_new(cur, "failures", json_integer(g->failures));
            json_object_set_new(cur, "dead_letters", json_integer(g->dead_letters));
            json_object_set_new(cur, "last_error", json_string(g->last_error));
            char *text = json_dumps(cur, JSON_COMPACT);
            store_key k = {"", "", EV_KIND_TSTATE, g->sid};
            int rc = text ? store_doc_put(t, &k, NULL, text) : STORE_ERR;
            free(text);
            if (rc != STORE_OK) {
                json_decref(cur);
                return GT_E_UNAVAILABLE;
            }
        }
        json_decref(cur);
        for (size_t j = 0; j < json_array_size(g->dlq); j++) {
            char id[37];
            gt_uuid4(id);
            char *text = json_dumps(json_array_get(g->dlq, j), JSON_COMPACT);
            store_key k = {"", "", EV_KIND_DLQ, id};
            int rc = text ? store_doc_put(t, &k, NULL, text) : STORE_ERR;
            free(text);
            if (rc != STORE_OK)
                return GT_E_UNAVAILABLE;
        }
    }
    return GT_OK;
}

typedef struct prune_ctx {
    int64_t cutoff;
    json_t *ids;
} prune_ctx;

static int collect_old(void *ud, int64_t seq, const char *id, const char *body)
{
    prune_ctx *p = ud;
    json_t *j = json_loads(body, 0, NULL);
    int64_t t = json_integer_value(json_object_get(j, "t"));
    json_decref(j);
    if (t >= p->cutoff)
        return 1;   /* docs are in insertion (time) order */
    json_array_append_new(p->ids, json_string(id));
    return 0;
}

static gt_err prune_job(store_txn *t, void *ud)
{
    prune_ctx *p = ud;
    if (store_doc_list(t, "", "", EV_KIND_CUSTOM, NULL, 0, false, 500, collect_old, p) != STORE_OK)
        return GT_E_UNAVAILABLE;
    for (size_t i = 0; i < json_array_size(p->ids); i++) {
        store_key k = {"", "", EV_KIND_CUSTOM, json_string_value(json_array_get(p->ids, i))};
        if (store_doc_delete(t, &k) == STORE_ERR)
            return GT_E_UNAVAILABLE;
    }
    return GT_OK;
}

static bool stopping(ev_worker *w)
{
    pthread_mutex_lock(&w->mu);
    bool s = w->stop;
    pthread_mutex_unlock(&w->mu);
    return s;
}

/* Mark the targets whose lease this node holds; true when one of them was
 * just taken (its state may have been loaded before that). */
static bool hold_targets(ev_worker *w, tgt_set *s)
{
    bool fresh = false;
    for (size_t i = 0; i < s->n; i++) {
        tgt *g = &s->v[i];
        char name[600];
        snprintf(name, sizeof name, "evtarget:%s", g->sid);
        int h = lease_set_hold(w->leases, name);
        if (g->mine && h == LEASE_NOT_HELD)
            g->dirty = false;   /* lost it mid-pass: the new owner's state wins */
        g->mine = h != LEASE_NOT_HELD;
        fresh = fresh || h == LEASE_HELD_NEW;
    }
    return fresh;
}

static void run_pass(ev_worker *w)
{
    tgt_set s = {0};
    if (store_read(w->o.st, load_job, &s) != GT_OK || s.n == 0) {
        set_free(&s);
        return;
    }
    if (hold_targets(w, &s)) {
        /* a target just taken over: read the state its last owner left */
        set_free(&s);
        if (store_read(w->o.st, load_job, &s) != GT_OK || s.n == 0) {
            set_free(&s);
            return;
        }
        hold_targets(w, &s);
    }
    int64_t now = gt_sched_now_ms();
    for (int b = 0; b < MAX_BATCHES_PER_PASS && !stopping(w); b++) {
        if (b > 0)
            hold_targets(w, &s);   /* renews; a slow pass must not outlive the leases */
        int64_t min = INT64_MAX;
        for (size_t i = 0; i < s.n; i++) {
            tgt *g = &s.v[i];
            g->ready = g->mine && !g->blocked && g->next_ms <= now;
            if (g->ready && g->cursor < min)
                min = g->cursor;
        }
        if (min == INT64_MAX)
            break;
        batch *bt = calloc(1, sizeof *bt);
        plan *plans = calloc(s.n, sizeof *plans);
        json_t **envs = calloc(SCAN_BATCH, sizeof *envs);
        bool ok = bt && plans && envs;
        if (ok) {
            bt->after = min;
            ok = store_read(w->o.st, scan_job, bt) == GT_OK;
        }
        /* matching and rendering here (one thread); only the I/O runs in
         * parallel, on plain strings */
        for (size_t i = 0; ok && i < s.n; i++) {
            tgt *g = &s.v[i];
            if (!g->ready)
                continue;
            plans[i].v = calloc((size_t)bt->n + 1, sizeof *plans[i].v);
            if (!plans[i].v) {
                ok = false;
                break;
            }
            for (int r = 0; r < bt->n; r++) {
                if (g->cursor >= bt->v[r].seq)
                    continue;
                if (!envs[r]) {
                    json_t *rec = NULL;
                    envs[r] = envelopes_of(w, &bt->v[r], &rec);
                    json_decref(rec);
                }
                if (!plan_row(g, &bt->v[r], envs[r], &plans[i].v[plans[i].n]))
                    break;
                plans[i].n++;
            }
        }
        if (ok)
            run_plans(w, &s, plans);
        int got = ok ? bt->n : 0;
        for (int r = 0; envs && r < SCAN_BATCH; r++)
            json_decref(envs[r]);
        for (size_t i = 0; plans && i < s.n; i++)
            plan_free(&plans[i]);
        for (int i = 0; bt && i < bt->n; i++)
            free(bt->v[i].json);
        free(envs);
        free(plans);
        free(bt);
        if (got < SCAN_BATCH)
            break;
    }
    save_ctx sc = {&s};
    bool dirty = false;
    for (size_t i = 0; i < s.n; i++)
        dirty = dirty || s.v[i].dirty;
    if (dirty && store_run(w->o.st, save_job, &sc) != GT_OK)
        fprintf(stderr, "greentrail: events: cannot save delivery cursors (will redeliver)\n");
    set_free(&s);
}

static void *worker_main(void *arg)
{
    ev_worker *w = arg;
    while (!stopping(w)) {
        run_pass(w);
        int64_t now = gt_now_ms();
        if (now - w->last_prune_ms > 60000 && lease_set_hold(w->leases, "events-prune") != LEASE_NOT_HELD) {
            w->last_prune_ms = now;
            /* small batches through the writer, as the journal pruner does */
            for (int round = 0; round < 20 && !stopping(w); round++) {
                prune_ctx pc = {.cutoff = now - (int64_t)w->o.retention_days * 86400000LL, .ids = json_array()};
                bool more = pc.ids && store_run(w->o.st, prune_job, &pc) == GT_OK && json_array_size(pc.ids) == 500;
                json_decref(pc.ids);
                if (!more)
                    break;
            }
        }
        pthread_mutex_lock(&w->mu);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = (int64_t)ts.tv_nsec + (int64_t)w->o.interval_ms * 1000000LL;
        ts.tv_sec += (time_t)(ns / 1000000000LL);
        ts.tv_nsec = (long)(ns % 1000000000LL);
        while (!w->stop && pthread_cond_timedwait(&w->cv, &w->mu, &ts) == 0)
            ;
        pthread_mutex_unlock(&w->mu);
    }
    return NULL;
}

ev_worker *ev_worker_start(const ev_worker_opts *o, char *err, size_t errcap)
{
    ev_worker *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    w->o = *o;
    if (w->o.interval_ms < 1)
        w->o.interval_ms = 1;
    if (w->o.retry_max_ms < w->o.interval_ms)
        w->o.retry_max_ms = w->o.interval_ms;
    if (!gt_strlcpy(w->file_dir, o->file_dir ? o->file_dir : ".", sizeof w->file_dir)) {
        snprintf(err, errcap, "rules-file-dir: path too long");
        free(w);
        return NULL;
    }
    w->o.file_dir = w->file_dir;
    w->leases = lease_set_new(o->st, LEASE_TTL_MS);
    if (!w->leases) {
        snprintf(err, errcap, "out of memory");
        free(w);
        return NULL;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errcap, "cannot initialise libcurl");
        lease_set_free(w->leases);
        free(w);
        return NULL;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->th, NULL, worker_main, w) != 0) {
        snprintf(err, errcap, "cannot start the rules worker");
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        curl_global_cleanup();
        lease_set_free(w->leases);
        free(w);
        return NULL;
    }
    return w;
}

void ev_worker_stop(ev_worker *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->th, NULL);
    lease_set_free(w->leases);   /* a clean stop hands the targets over at once */
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    curl_global_cleanup();
    free(w);
}
