/*
 * config.c: one option table for flags, GREENTRAIL_* environment variables
 * and the config file (`key = value` lines, '#' comments).
 *
 * Why one table: each setting is described once (name, default, bounds,
 * help), so --help, the environment and the file cannot drift apart.
 * Invariant: every value is validated against its bounds at load; a bad
 * value stops the server at start, never later.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "util/gtutil.h"

typedef enum { OPT_STR, OPT_LONG, OPT_LISTEN } opt_kind;

typedef struct opt_def {
    const char *name;       /* flag --name, env GREENTRAIL_NAME, file key name */
    opt_kind kind;
    size_t off;
    size_t cap;
    long min, max;
    const char *def;
    const char *help;
} opt_def;

#define OFF(f) offsetof(gt_config, f)
#define CAP(f) sizeof(((gt_config *)0)->f)

static const opt_def opts[] = {
    {"listen", OPT_LISTEN, 0, 0, 0, 0, "127.0.0.1:4566", "HOST:PORT to listen on (port 0 picks a free one)"},
    {"data-dir", OPT_STR, OFF(data_dir), CAP(data_dir), 0, 0, "./greentrail-data", "directory for the store and credentials"},
    {"region", OPT_STR, OFF(region), CAP(region), 0, 0, "us-east-1", "home region (defaults, printed credentials)"},
    {"account-id", OPT_STR, OFF(account_id), CAP(account_id), 0, 0, "123456789012", "12-digit id of the bootstrapped account"},
    {"max-skew", OPT_LONG, OFF(max_skew_seconds), 0, 1, 86400, "900", "SigV4 clock-skew window, seconds"},
    {"retention-days", OPT_LONG, OFF(retention_days), 0, 1, 36500, "90", "event history retention, days"},
    {"max-body", OPT_LONG, OFF(max_body_bytes), 0, 1024, 64L << 20, "1048576", "largest accepted request body, bytes"},
    {"store", OPT_STR, OFF(store_url), CAP(store_url), 0, 0, "",
     "where state lives: empty = SQLite in the data dir; postgresql://USER@HOST:PORT/DB shares it between nodes"},
    /* 64: a call waits in its HTTP thread for the durable group commit, so
     * the thread count caps how many calls share one commit (bench/RESULTS.md) */
    {"threads", OPT_LONG, OFF(threads), 0, 1, 1024, "64", "HTTP worker threads"},
    {"delivery-interval", OPT_LONG, OFF(delivery_interval), 0, 1, 86400, "60", "trail log file delivery period, seconds"},
    {"digest-interval", OPT_LONG, OFF(digest_interval), 0, 1, 86400, "3600", "trail digest file period, seconds"},
    {"console-session-ttl", OPT_LONG, OFF(console_session_ttl), 0, 1, 30L * 86400, "43200", "web console session lifetime, seconds"},
    {"rules-interval-ms", OPT_LONG, OFF(rules_interval_ms), 0, 1, 60000, "500", "EventBridge rules: journal poll period, ms"},
    {"rules-retry-max-ms", OPT_LONG, OFF(rules_retry_max_ms), 0, 1, 86400000L, "60000", "EventBridge rules: longest retry back-off, ms"},
    {"rules-file-dir", OPT_STR, OFF(rules_file_dir), CAP(rules_file_dir), 0, 0, "rule-output", "root of arn:aws:greentrail:::file/<path> rule targets (relative: under the data dir)"},
    {"disk-warn-mb", OPT_LONG, OFF(disk_warn_mb), 0, 0, 1L << 30, "256", "log a warning when the data dir's disk has less free, MB (0: off)"},
    {"metrics-token", OPT_STR, OFF(metrics_token), CAP(metrics_token), 0, 0, "",
     "bearer token GET /metrics requires (empty: /metrics is open, like /health)"},
    {"max-connections", OPT_LONG, OFF(max_connections), 0, 16, 65536, "1024", "HTTP connections open at once, in all"},
    {"max-connections-per-ip", OPT_LONG, OFF(max_connections_per_ip), 0, 0, 65536, "512",
     "HTTP connections open at once from one client address (0: no limit)"},
    {"idle-timeout", OPT_LONG, OFF(idle_timeout), 0, 1, 3600, "60",
     "seconds a connection may stay silent (also mid-request) before it is closed"},
    {"disk-critical-mb", OPT_LONG, OFF(disk_critical_mb), 0, 0, 1L << 30, "64", "log a last-chance warning below this, MB (0: off)"},
    /* external S3 (s3/s3_target.c); options whose default is empty may be empty */
    {"external-s3-endpoint", OPT_STR, OFF(ext_s3_endpoint), CAP(ext_s3_endpoint), 0, 0, "", "external S3-compatible server for trail buckets, http(s)://host:port (path-style)"},
    {"external-s3-region", OPT_STR, OFF(ext_s3_region), CAP(ext_s3_region), 0, 0, "us-east-1", "external S3: SigV4 signing region"},
    {"external-s3-access-key", OPT_STR, OFF(ext_s3_access_key), CAP(ext_s3_access_key), 0, 0, "", "external S3: access key id"},
    {"external-s3-secret-key", OPT_STR, OFF(ext_s3_secret_key), CAP(ext_s3_secret_key), 0, 0, "", "external S3: secret access key (never printed)"},
    {"external-s3-buckets", OPT_STR, OFF(ext_s3_buckets), CAP(ext_s3_buckets), 0, 0, "", "trail buckets on the external S3: names separated by commas, or * for all"},
    {"external-s3-connect-timeout-ms", OPT_LONG, OFF(ext_s3_connect_timeout_ms), 0, 100, 600000L, "3000", "external S3: connect timeout, ms"},
    {"external-s3-timeout-ms", OPT_LONG, OFF(ext_s3_timeout_ms), 0, 100, 3600000L, "30000", "external S3: whole-request timeout, ms"},
};
#define N_OPTS (sizeof opts / sizeof opts[0])

static int set_opt(gt_config *cfg, const opt_def *o, const char *v, char *err, size_t errcap)
{
    if (o->kind == OPT_STR) {
        if (!gt_strlcpy((char *)cfg + o->off, v, o->cap)) {
            snprintf(err, errcap, "%s: value too long", o->name);
            return -1;
        }
        if (strcmp(o->name, "account-id") == 0) {
            if (strlen(v) != 12 || strspn(v, "0123456789") != 12) {
                snprintf(err, errcap, "account-id: must be 12 digits");
                return -1;
            }
        }
        if (v[0] == '\0' && o->def[0] != '\0') {   /* options defaulting to "" (--store, ...) may be empty */
            snprintf(err, errcap, "%s: empty value", o->name);
            return -1;
        }
        return 0;
    }
    if (o->kind == OPT_LONG) {
        int64_t n;
        if (!gt_parse_i64(v, strlen(v), &n) || n < o->min || n > o->max) {
            snprintf(err, errcap, "%s: '%s' is not a number in [%ld, %ld]", o->name, v, o->min, o->max);
            return -1;
        }
        *(long *)((char *)cfg + o->off) = (long)n;
        return 0;
    }
    /* OPT_LISTEN: HOST:PORT (host may be [v6]) */
    const char *colon = strrchr(v, ':');
    int64_t port;
    if (!colon || colon == v || !gt_parse_i64(colon + 1, strlen(colon + 1), &port) || port < 0 ||
        port > 65535 || (size_t)(colon - v) >= sizeof cfg->listen_host) {
        snprintf(err, errcap, "listen: '%s' is not HOST:PORT", v);
        return -1;
    }
    const char *h = v;
    size_t hl = (size_t)(colon - v);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    memcpy(cfg->listen_host, h, hl);
    cfg->listen_host[hl] = '\0';
    cfg->listen_port = (int)port;
    return 0;
}

static const opt_def *find_opt(const char *name, size_t len)
{
    for (size_t i = 0; i < N_OPTS; i++)
        if (strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0)
            return &opts[i];
    return NULL;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static int load_file(gt_config *cfg, const char *path, char *err, size_t errcap)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errcap, "cannot read config file %s", path);
        return -1;
    }
    char line[4096];
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *s = trim(line);
        if (*s == '#' || *s == '\0')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, errcap, "%s:%d: expected key = value", path, lineno);
            fclose(f);
            return -1;
        }
        *eq = '\0';
        char *k = trim(s), *v = trim(eq + 1);
        for (char *p = k; *p; p++)
            if (*p == '_')
                *p = '-';
        const opt_def *o = find_opt(k, strlen(k));
        if (!o) {
            snprintf(err, errcap, "%s:%d: unknown setting '%s'", path, lineno, k);
            fclose(f);
            return -1;
        }
        if (set_opt(cfg, o, v, err, errcap)) {
            fclose(f);
            return -1;
        }
    }
    fclose(f);
    return 0;
}

void gt_config_usage(FILE *f)
{
    fprintf(f, "usage: greentrail serve [options]\n\noptions (also GREENTRAIL_<NAME> in the environment,\n"
               "or `name = value` in the file given by --config / GREENTRAIL_CONFIG):\n");
    fprintf(f, "  --%-16s %s\n", "config FILE", "read settings from FILE");
    for (size_t i = 0; i < N_OPTS; i++)
        fprintf(f, "  --%-16s %s (default %s)\n", opts[i].name, opts[i].help, opts[i].def[0] ? opts[i].def : "empty");
}

int gt_config_load(gt_config *cfg, int argc, char **argv, char *err, size_t errcap)
{
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < N_OPTS; i++)
        if (set_opt(cfg, &opts[i], opts[i].def, err, errcap))
            return -1;
    /* config file: --config wins over GREENTRAIL_CONFIG */
    const char *file = getenv("GREENTRAIL_CONFIG");
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            file = argv[i + 1];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            file = argv[i] + 9;
    }
    if (file && *file) {
        gt_strlcpy(cfg->config_file, file, sizeof cfg->config_file);
        if (load_file(cfg, file, err, errcap))
            return -1;
    }
    for (size_t i = 0; i < N_OPTS; i++) {
        char env[64] = "GREENTRAIL_";
        size_t n = strlen(env);
        for (const char *p = opts[i].name; *p && n < sizeof env - 1; p++)
            env[n++] = (*p == '-') ? '_' : (char)toupper((unsigned char)*p);
        env[n] = '\0';
        const char *v = getenv(env);
        if (v && set_opt(cfg, &opts[i], v, err, errcap))
            return -1;
    }
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            gt_config_usage(stdout);
            return 1;
        }
        if (strncmp(a, "--", 2) != 0) {
            snprintf(err, errcap, "unexpected argument '%s'", a);
            return -1;
        }
        a += 2;
        const char *eq = strchr(a, '=');
        size_t nl = eq ? (size_t)(eq - a) : strlen(a);
        const char *v = eq ? eq + 1 : NULL;
        if (nl == 6 && strncmp(a, "config", 6) == 0) {
            if (!v)
                i++;
            continue;
        }
        const opt_def *o = find_opt(a, nl);
        if (!o) {
            snprintf(err, errcap, "unknown option '--%.*s' (see --help)", (int)nl, a);
            return -1;
        }
        if (!v) {
            if (i + 1 >= argc) {
                snprintf(err, errcap, "option '--%s' needs a value", o->name);
                return -1;
            }
            v = argv[++i];
        }
        if (set_opt(cfg, o, v, err, errcap))
            return -1;
    }
    return 0;
}
