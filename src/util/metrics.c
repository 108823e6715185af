/*
 * metrics.c: the process's counters, rendered for GET /metrics.
 *
 * What: a handful of counter families (calls by service, operation and
 * HTTP status; SigV4 failures by reason; audit write failures; trail
 * delivery errors), each sample keyed by its rendered label set, kept in
 * one fixed-size open-addressing table under one mutex. The server
 * (http/server.c) renders them, then appends the gauges that are read
 * from the store at scrape time (trail backlog, lag, errors: ct_deliver.c).
 *
 * Why this shape: the label sets are few and bounded (operations come from
 * the generated model, statuses and reasons from the error table), so a
 * fixed table with no per-sample allocation after the first is enough, and
 * a counter bump is one hash, one short critical section. Counters are per
 * process, as Prometheus expects of counters: several nodes are scraped
 * one by one and summed by the query.
 *
 * Invariants:
 *  - Memory is fixed: METRICS_SLOTS samples; past that, bumps are counted
 *    in greentrail_metrics_dropped_total instead of being lost silently.
 *  - Label values are escaped (\\, \", \n) when rendered, so no input can
 *    break the exposition format.
 *  - Output is sorted by family then labels, so scrapes are stable.
 */
#include "util/metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define METRICS_SLOTS 4096
#define METRICS_LABELS_CAP 256
#define METRICS_TEXT_MAX (16u << 20)

enum {
    F_CALLS,
    F_SIGV4,
    F_AUDIT,
    F_DELIVERY,
    F_COUNT
};

static const struct {
    const char *name, *help;
} families[F_COUNT] = {
    [F_CALLS] = {"greentrail_calls_total", "API calls answered, by service, operation and HTTP status."},
    [F_SIGV4] = {"greentrail_sigv4_failures_total",
                 "Requests refused before any operation ran (authentication), by the error code answered."},
    [F_AUDIT] = {"greentrail_audit_write_failures_total",
                 "Calls answered 503 because their CloudTrail record could not be stored (nothing changed)."},
    [F_DELIVERY] = {"greentrail_trail_delivery_errors_total",
                    "Failed trail deliveries to S3 (log files, digest files), retried with back-off."},
};

typedef struct slot {
    int used;
    int family;
    char labels[METRICS_LABELS_CAP];
    uint64_t n;
} slot;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static slot slots[METRICS_SLOTS];
static uint64_t dropped;

void gt_metrics_printf(gt_metrics_buf *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->len;
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? room : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = 1;
            return;
        }
        if (b->p && (size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        size_t need = b->len + (size_t)n + 1, nc = b->cap ? b->cap : 4096;
        while (nc < need)
            nc *= 2;
        char *np = nc <= METRICS_TEXT_MAX ? realloc(b->p, nc) : NULL;
        if (!np) {
            b->failed = 1;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
}

void gt_metrics_label(gt_metrics_buf *b, const char *s)
{
    char tmp[512];
    size_t o = 0;
    for (; s && *s && o + 3 < sizeof tmp; s++) {
        if (*s == '\\' || *s == '"') {
            tmp[o++] = '\\';
            tmp[o++] = *s;
        } else if (*s == '\n') {
            tmp[o++] = '\\';
            tmp[o++] = 'n';
        } else {
            tmp[o++] = *s;
        }
    }
    tmp[o] = '\0';
    gt_metrics_printf(b, "%s", tmp);
}

static uint64_t hash(int family, const char *s)
{
    uint64_t h = 1469598103934665603ull ^ (uint64_t)family;   /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void bump(int family, const char *labels)
{
    size_t i = (size_t)(hash(family, labels) % METRICS_SLOTS);
    pthread_mutex_lock(&mu);
    for (size_t probes = 0; probes < METRICS_SLOTS; probes++, i = (i + 1) % METRICS_SLOTS) {
        slot *s = &slots[i];
        if (!s->used) {
            s->used = 1;
            s->family = family;
            memcpy(s->labels, labels, strlen(labels) + 1);
            s->n = 1;
            pthread_mutex_unlock(&mu);
            return;
        }
        if (s->family == family && strcmp(s->labels, labels) == 0) {
            s->n++;
            pthread_mutex_unlock(&mu);
            return;
        }
    }
    dropped++;
    pthread_mutex_unlock(&mu);
}

/* Renders name="value" pairs (values escaped) into out; false when they
 * do not fit (the bump is then counted as dropped). */
static int labels_of(char *out, size_t cap, int n, const char *const *kv)
{
    gt_metrics_buf b = {0};
    for (int i = 0; i < n; i++) {
        gt_metrics_printf(&b, "%s%s=\"", i ? "," : "", kv[2 * i]);
        gt_metrics_label(&b, kv[2 * i + 1] ? kv[2 * i + 1] : "");
        gt_metrics_printf(&b, "\"");
    }
    int ok = !b.failed && b.p && b.len < cap;
    if (ok)
        memcpy(out, b.p, b.len + 1);
    free(b.p);
    return ok;
}

static void bump_kv(int family, int n, const char *const *kv)
{
    char labels[METRICS_LABELS_CAP];
    if (labels_of(labels, sizeof labels, n, kv)) {
        bump(family, labels);
    } else {
        pthread_mutex_lock(&mu);
        dropped++;
        pthread_mutex_unlock(&mu);
    }
}

void gt_metrics_call(const char *service, const char *operation, int http_status)
{
    char st[16];
    snprintf(st, sizeof st, "%d", http_status);
    const char *kv[] = {"service", service, "operation", operation, "status", st};
    bump_kv(F_CALLS, 3, kv);
}

void gt_metrics_sigv4_failure(const char *reason)
{
    const char *kv[] = {"reason", reason};
    bump_kv(F_SIGV4, 1, kv);
}

void gt_metrics_audit_failure(const char *service, const char *operation)
{
    const char *kv[] = {"service", service, "operation", operation};
    bump_kv(F_AUDIT, 2, kv);
}

void gt_metrics_delivery_error(const char *what)
{
    const char *kv[] = {"file", what};
    bump_kv(F_DELIVERY, 1, kv);
}

typedef struct {
    int family;
    const char *labels;
    uint64_t n;
} sample;

static int by_family_labels(const void *a, const void *b)
{
    const sample *x = a, *y = b;
    if (x->family != y->family)
        return x->family - y->family;
    return strcmp(x->labels, y->labels);
}

void gt_metrics_render_counters(gt_metrics_buf *b)
{
    static sample snap[METRICS_SLOTS];   /* rendering is serialised by mu */
    static char labels[METRICS_SLOTS][METRICS_LABELS_CAP];
    pthread_mutex_lock(&mu);
    size_t n = 0;
    for (size_t i = 0; i < METRICS_SLOTS; i++) {
        if (!slots[i].used)
            continue;
        memcpy(labels[n], slots[i].labels, sizeof labels[n]);
        snap[n] = (sample){slots[i].family, labels[n], slots[i].n};
        n++;
    }
    qsort(snap, n, sizeof snap[0], by_family_labels);
    for (int f = 0; f < F_COUNT; f++) {
        gt_metrics_printf(b, "# HELP %s %s\n# TYPE %s counter\n", families[f].name, families[f].help,
                          families[f].name);
        for (size_t i = 0; i < n; i++)
            if (snap[i].family == f)
                gt_metrics_printf(b, "%s{%s} %llu\n", families[f].name, snap[i].labels,
                                  (unsigned long long)snap[i].n);
    }
    gt_metrics_printf(b,
                      "# HELP greentrail_metrics_dropped_total Counter bumps lost because the sample table was "
                      "full.\n# TYPE greentrail_metrics_dropped_total counter\ngreentrail_metrics_dropped_total "
                      "%llu\n",
                      (unsigned long long)dropped);
    pthread_mutex_unlock(&mu);
}

void gt_metrics_reset(void)
{
    pthread_mutex_lock(&mu);
    memset(slots, 0, sizeof slots);
    dropped = 0;
    pthread_mutex_unlock(&mu);
}
