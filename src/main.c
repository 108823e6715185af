/*
 * main.c: the `greentrail` command.
 *
 *   greentrail serve [options]   run the server (see --help)
 *   greentrail validate [options] check a trail's digests offline (cloudtrail/ct_validate.c)
 *   greentrail rules-status [options]   rule delivery state (events/ev_status.c)
 *   greentrail version
 *
 * `serve` opens the store (SQLite in the data dir, or the PostgreSQL
 * database named by --store, which several nodes may share), bootstraps
 * the account's credentials on first start, starts the HTTP listener and
 * the retention pruner, prints where
 * it listens and how to use the credentials, and waits for SIGTERM or
 * SIGINT. Then it stops accepting, lets in-flight requests finish, drains
 * the store's queue and exits 0.
 *
 * Several nodes on one store: first-start work (credentials, the paging
 * token key) runs under the "startup" lease, so nodes starting together
 * create them once and all use the same; the pruner runs on the node that
 * holds the "retention" lease.
 */
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/identity.h"
#include "cloudtrail/ct_deliver.h"
#include "cloudtrail/ct_digest.h"
#include "cloudtrail/ct_validate.h"
#include "config.h"
#include "console/console.h"
#include "events/events.h"
#include "http/server.h"
#include "s3/s3_store.h"
#include "s3/s3_target.h"
#include "sns/sns.h"
#include "iam/iam_account.h"
#include "store/store.h"
#include "util/diskwatch.h"
#include "util/gtutil.h"
#include "util/testclock.h"

#define GT_VERSION "0.1.0"

typedef struct key_ctx {
    unsigned char *key;
} key_ctx;

/* SNS delivery (sns/sns_deliver.c): its URLs name this server's address. */
static sns_worker *start_sns(const gt_config *cfg, store *st, int port)
{
    char base[600], err[512];
    snprintf(base, sizeof base, "http://%s:%d", strcmp(cfg->listen_host, "0.0.0.0") == 0 ? "127.0.0.1" : cfg->listen_host,
             port);
    sns_worker_opts so = {.st = st, .data_dir = cfg->data_dir, .base_url = base};
    sns_worker *w = sns_worker_start(&so, err, sizeof err);
    if (!w)
        fprintf(stderr, "greentrail: SNS messages are not delivered: %s\n", err);
    return w;
}

static gt_err token_key_job(store_txn *t, void *ud)
{
    key_ctx *k = ud;
    store_key sk = {"", "", "server", "token_key"};
    char *body = NULL;
    int rc = store_doc_get(t, &sk, &body);
    if (rc == STORE_OK) {
        json_t *j = json_loads(body, 0, NULL);
        free(body);
        const char *hex = json_string_value(json_object_get(j, "key"));
        bool ok = hex && gt_unhex(hex, k->key, 32);
        json_decref(j);
        return ok ? GT_OK : GT_E_INTERNAL;
    }
    if (rc != STORE_NOTFOUND || !gt_random_bytes(k->key, 32))
        return GT_E_UNAVAILABLE;
    char hex[65];
    gt_hex(k->key, 32, hex);
    json_t *j = json_pack("{s:s}", "key", hex);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text)
        return GT_E_NOMEM;
    rc = store_doc_put(t, &sk, NULL, text);
    free(text);
    return rc == STORE_OK ? GT_OK : GT_E_UNAVAILABLE;
}

/* ---------------------------------------------------------------- retention */

typedef struct pruner {
    store *st;
    long days;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    pthread_t th;
} pruner;

typedef struct prune_ctx {
    int64_t cutoff;
    int64_t deleted;
} prune_ctx;

static gt_err prune_job(store_txn *t, void *ud)
{
    prune_ctx *p = ud;
    p->deleted = store_event_prune(t, p->cutoff, 5000);
    return p->deleted < 0 ? GT_E_UNAVAILABLE : GT_OK;
}

static void *pruner_main(void *arg)
{
    pruner *p = arg;
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        pthread_mutex_unlock(&p->mu);
        prune_ctx pc = {.cutoff = gt_now_ms() - (int64_t)p->days * 86400000LL};
        /* one node prunes; if it dies another takes over within 20 min */
        bool mine = store_lease_acquire(p->st, "retention", store_node_id(p->st), 1200000) == STORE_OK;
        while (mine) {   /* small batches, so writers are never held up for long */
            if (store_run(p->st, prune_job, &pc) != GT_OK || pc.deleted != 5000)
                break;
        }
        pthread_mutex_lock(&p->mu);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 600;
        while (!p->stop && pthread_cond_timedwait(&p->cv, &p->mu, &ts) == 0)
            ;
    }
    pthread_mutex_unlock(&p->mu);
    /* a clean stop hands retention over at once (a restarted node, or
     * another node, need not wait for the lease to expire) */
    store_lease_release(p->st, "retention", store_node_id(p->st));
    return NULL;
}

/* ---------------------------------------------------------------- serve */


/* GET /metrics: the process counters, then the per-trail gauges read from
 * the store now (util/metrics.c, cloudtrail/ct_deliver.c). */
static void render_metrics(void *ud, gt_metrics_buf *b)
{
    const gt_server_ctx *ctx = ud;
    gt_metrics_render_counters(b);
    if (ct_deliver_metrics(ctx->st, b, gt_now_ms()) != GT_OK)
        gt_metrics_printf(b, "# greentrail: trail gauges unavailable (store read failed)\n");
}

static int cmd_serve(int argc, char **argv)
{
    gt_config cfg;
    char err[1024];
    int rc = gt_config_load(&cfg, argc, argv, err, sizeof err);
    if (rc == 1)
        return 0;
    if (rc < 0) {
        fprintf(stderr, "greentrail: %s\n", err);
        return 2;
    }
    /* Block the stop signals in every thread; main waits for them. */
    sigset_t stopsigs;
    sigemptyset(&stopsigs);
    sigaddset(&stopsigs, SIGINT);
    sigaddset(&stopsigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stopsigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    store *st = store_open_url(cfg.store_url, cfg.data_dir, err, sizeof err);
    if (!st) {
        fprintf(stderr, "greentrail: %s\n", err);
        return 1;
    }
    /* Nodes sharing a store create the credentials and the token key once:
     * whoever holds the startup lease; the others wait (up to 60 s). On
     * SQLite every one of those steps is one check-and-create transaction
     * and SQLite has one writer at a time, even across processes: no lease
     * needed there (it cost two durable commits of the cold start). */
    bool shared_store = strcmp(store_backend_name(st), "sqlite") != 0;
    int lrc = shared_store ? STORE_BUSY : STORE_OK;
    for (int i = 0; shared_store && i < 600 &&
                    (lrc = store_lease_acquire(st, "startup", store_node_id(st), 60000)) == STORE_BUSY;
         i++) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (lrc != STORE_OK) {
        fprintf(stderr, "greentrail: cannot take the store's startup lease\n");
        store_close(st);
        return 1;
    }
    auth_principal root, admin;
    bool created = false;
    if (auth_bootstrap(st, cfg.data_dir, cfg.account_id, cfg.region, &root, &admin, &created, err, sizeof err) != GT_OK) {
        fprintf(stderr, "greentrail: %s\n", err);
        store_close(st);
        return 1;
    }
    s3_store *s3s = s3_store_open(st, cfg.data_dir, err, sizeof err);
    if (!s3s) {
        fprintf(stderr, "greentrail: %s\n", err);
        store_close(st);
        return 1;
    }
    s3_store_set_default(s3s);
    /* where trail buckets live: built-in, or the external S3 (s3/s3_target.c) */
    s3_remote *rem = NULL;
    if (cfg.ext_s3_endpoint[0]) {
        const char *ak = cfg.ext_s3_access_key[0] ? cfg.ext_s3_access_key : getenv("AWS_ACCESS_KEY_ID");
        const char *sk = cfg.ext_s3_secret_key[0] ? cfg.ext_s3_secret_key : getenv("AWS_SECRET_ACCESS_KEY");
        s3_remote_opts ro = {.endpoint = cfg.ext_s3_endpoint, .region = cfg.ext_s3_region, .access_key = ak,
                             .secret_key = sk, .connect_timeout_ms = cfg.ext_s3_connect_timeout_ms,
                             .timeout_ms = cfg.ext_s3_timeout_ms};
        rem = s3_remote_new(&ro, err, sizeof err);
        if (!rem) {
            fprintf(stderr, "greentrail: %s\n", err);
            s3_store_close(s3s);
            store_close(st);
            return 2;
        }
    }
    s3_target *tgt = s3_target_new(s3s, rem, cfg.ext_s3_buckets, err, sizeof err);
    if (!tgt) {
        fprintf(stderr, "greentrail: %s\n", err);
        s3_store_close(s3s);
        store_close(st);
        return 2;
    }
    s3_target_set_default(tgt);
    gt_server_ctx ctx = {.st = st, .s3 = s3s, .home_region = cfg.region, .retention_days = cfg.retention_days};
    key_ctx kc = {ctx.token_key};
    if (store_run(st, token_key_job, &kc) != GT_OK) {
        fprintf(stderr, "greentrail: cannot load the paging-token key\n");
        store_close(st);
        return 1;
    }
    if (shared_store)
        store_lease_release(st, "startup", store_node_id(st));
    const char *off = getenv("GREENTRAIL_TEST_CLOCK_OFFSET_MS"); /* tests: shift SigV4's clock */
    int64_t offset = 0;
    if (off && !gt_parse_i64(off, strlen(off), &offset))
        offset = 0;
    console_opts co = {.ctx = &ctx, .session_ttl_seconds = cfg.console_session_ttl};
    console *con = console_new(&co);
    if (!con) {
        fprintf(stderr, "greentrail: cannot start the console\n");
        store_close(st);
        return 1;
    }
    http_server_opts ho = {
        .host = cfg.listen_host,
        .port = cfg.listen_port,
        .max_body = (size_t)cfg.max_body_bytes,
        .max_s3_put_body = GT_S3_MAX_PUT_BODY,
        .threads = (unsigned)cfg.threads,
        .ctx = &ctx,
        .dispatch = {.max_skew_seconds = cfg.max_skew_seconds, .clock_offset_ms = offset},
        .console = con,
        .metrics = render_metrics,
        .metrics_ud = &ctx,
        .metrics_token = cfg.metrics_token,
        .max_connections = (unsigned)cfg.max_connections,
        .max_connections_per_ip = (unsigned)cfg.max_connections_per_ip,
        .idle_timeout_s = (unsigned)cfg.idle_timeout,
    };
    /* SNS first (its certificate URL must work from the first request on;
     * its key is loaded or made by its thread, or by that first request) */
    gt_sched_clock_init(cfg.data_dir);   /* retry back-offs; tests may advance it (util/testclock.c) */
    sns_worker *sns = cfg.listen_port > 0 ? start_sns(&cfg, st, cfg.listen_port) : NULL;
    /* signing keys before serving: attaching starts a thread that finds or
     * makes the home region's key (once per store) while we listen */
    char kerr[1024] = "";
    bool keys_ok = ct_digest_init(cfg.data_dir, kerr, sizeof kerr);
    if (keys_ok)
        ct_digest_attach_store(st, cfg.region);   /* keys shared by every node */
    http_server *hs = http_server_start(&ho, err, sizeof err);
    if (!hs) {
        fprintf(stderr, "greentrail: %s\n", err);
        console_free(con);
        ct_digest_shutdown();   /* its key thread uses the store */
        sns_worker_stop(sns);
        store_close(st);
        return 1;
    }
    ct_deliver *deliver = NULL;   /* trail delivery and digests (cloudtrail/ct_deliver.c) */
    ct_deliver *deliver_ext = NULL;   /* the external S3's trails, on a worker of their own */
    err[0] = '\0';
    if (keys_ok) {
        ct_deliver_opts dopt = {.st = st, .s3 = s3s, .target = tgt, .delivery_interval_s = cfg.delivery_interval,
                                .digest_interval_s = cfg.digest_interval,
                                .only = rem ? CT_DELIVER_BUILTIN : CT_DELIVER_ALL};
        deliver = ct_deliver_start(&dopt);
        if (deliver && rem) {
            dopt.only = CT_DELIVER_EXTERNAL;
            deliver_ext = ct_deliver_start(&dopt);
            if (!deliver_ext)
                fprintf(stderr, "greentrail: trail delivery to the external S3 is off: cannot start the worker\n");
        }
    }
    if (!deliver)
        fprintf(stderr, "greentrail: trail delivery is off: %s\n", kerr[0] ? kerr : "cannot start the worker");
    pruner pr = {.st = st, .days = cfg.retention_days};
    pthread_mutex_init(&pr.mu, NULL);
    pthread_cond_init(&pr.cv, NULL);
    pthread_create(&pr.th, NULL, pruner_main, &pr);
    char file_dir[4200];
    if (cfg.rules_file_dir[0] == '/')
        snprintf(file_dir, sizeof file_dir, "%s", cfg.rules_file_dir);
    else
        snprintf(file_dir, sizeof file_dir, "%s/%s", cfg.data_dir, cfg.rules_file_dir);
    ev_worker_opts wo = {.st = st, .interval_ms = cfg.rules_interval_ms, .retry_max_ms = cfg.rules_retry_max_ms,
                         .file_dir = file_dir, .retention_days = cfg.retention_days};
    ev_worker *rules = ev_worker_start(&wo, err, sizeof err);
    if (!rules)
        fprintf(stderr, "greentrail: EventBridge rules are not delivered: %s\n", err);

    gt_diskwatch *dw = gt_diskwatch_start(cfg.data_dir, cfg.disk_warn_mb, cfg.disk_critical_mb);

    int port = http_server_port(hs);
    if (!sns)
        sns = start_sns(&cfg, st, port);
    printf("greentrail %s listening on http://%s:%d\n", GT_VERSION, cfg.listen_host, port);
    if (strcmp(store_backend_name(st), "sqlite") == 0)
        printf("data dir: %s (store: SQLite WAL, greentrail.db)\n", cfg.data_dir);
    else   /* the URL may hold a password: not printed */
        printf("data dir: %s (store: PostgreSQL, shared with every node on the same --store)\n", cfg.data_dir);
    printf("%s credentials for account %s: %s/credentials\n", created ? "created" : "reusing", cfg.account_id,
           cfg.data_dir);
    printf("  profile default = IAM user admin, access key %s\n", admin.access_key_id);
    printf("  profile root    = account root,   access key %s\n", root.access_key_id);
    printf("web console: http://%s:%d/console/ (sign in with an access key pair)\n", cfg.listen_host, port);
    if (rem)   /* never the keys */
        printf("external S3: %s (region %s) for trail buckets: %s\n", cfg.ext_s3_endpoint, cfg.ext_s3_region,
               cfg.ext_s3_buckets[0] ? cfg.ext_s3_buckets : "none (set --external-s3-buckets)");
    printf("use them with:\n  export AWS_SHARED_CREDENTIALS_FILE=%s/credentials AWS_DEFAULT_REGION=%s\n"
           "  aws --endpoint-url http://%s:%d greengrass list-groups\n",
           cfg.data_dir, cfg.region, cfg.listen_host, port);
    fflush(stdout);

    int sig = 0;
    sigwait(&stopsigs, &sig);
    printf("greentrail: signal %d, draining\n", sig);
    fflush(stdout);
    http_server_stop(hs);
    ct_deliver_stop(deliver);
    ct_deliver_stop(deliver_ext);
    ct_digest_shutdown();
    console_free(con);
    pthread_mutex_lock(&pr.mu);
    pr.stop = true;
    pthread_cond_signal(&pr.cv);
    pthread_mutex_unlock(&pr.mu);
    pthread_join(pr.th, NULL);
    s3_target_set_default(NULL);
    s3_target_free(tgt);
    s3_store_close(s3s);
    ev_worker_stop(rules);
    sns_worker_stop(sns);
    gt_diskwatch_stop(dw);
    store_close(st);
    printf("greentrail: stopped\n");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        printf("usage: greentrail <command> [options]\n\ncommands:\n"
               "  serve     run the server (greentrail serve --help)\n"
               "  validate  check a trail's digests and log files offline (greentrail validate --help)\n"
               "  rules-status  EventBridge rule delivery: targets' counters and dead letters (JSON)\n"
               "  account   add an account: account create --data-dir DIR [--account-id N]\n"
               "  version   print the version\n");
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "serve") == 0)
        return cmd_serve(argc - 2, argv + 2);
    if (strcmp(argv[1], "validate") == 0)
        return ct_validate_main(argc - 2, argv + 2);
    if (strcmp(argv[1], "rules-status") == 0)
        return ev_cmd_status(argc - 2, argv + 2);
    if (strcmp(argv[1], "account") == 0)
        return iam_cmd_account(argc - 2, argv + 2);
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("greentrail %s\n", GT_VERSION);
        return 0;
    }
    fprintf(stderr, "greentrail: unknown command '%s' (try greentrail --help)\n", argv[1]);
    return 2;
}
