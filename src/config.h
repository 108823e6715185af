/* config.h: the server's settings, from one option table.
 * Precedence: defaults < config file < GREENTRAIL_* environment < flags. */
#ifndef GT_CONFIG_H
#define GT_CONFIG_H

#include <stddef.h>
#include <stdio.h>

typedef struct gt_config {
    char listen_host[256];
    int listen_port;
    char data_dir[2048];
    char region[32];
    char account_id[16];
    long max_skew_seconds;
    long retention_days;
    long max_body_bytes;
    long threads;
    long delivery_interval;   /* trail log file delivery, seconds */
    long digest_interval;     /* trail digest period, seconds */
    long console_session_ttl;   /* seconds */
    long rules_interval_ms;
    long rules_retry_max_ms;
    char rules_file_dir[2048];
    long disk_warn_mb;       /* log when free space in the data dir falls below (0: off) */
    long disk_critical_mb;   /* log the last-chance warning below (0: off) */
    char metrics_token[256]; /* "": GET /metrics is open; else it needs this bearer token */
    long max_connections;    /* HTTP connections in all */
    long max_connections_per_ip;
    long idle_timeout;       /* seconds of silence before a connection is closed */
    char config_file[2048];
    char store_url[2048];   /* "": SQLite in data_dir; else a postgresql:// URL */
    /* external S3 for trail buckets (s3/s3_target.h); "" endpoint: none */
    char ext_s3_endpoint[1024];
    char ext_s3_region[64];
    char ext_s3_access_key[256];
    char ext_s3_secret_key[256];   /* never printed or logged */
    char ext_s3_buckets[4096];     /* "", "*", or names separated by commas */
    long ext_s3_connect_timeout_ms;
    long ext_s3_timeout_ms;
} gt_config;

/* Parse argv (after the subcommand) into cfg. Returns 0 on success, 1 when
 * --help was printed, -1 on error (message written to err). */
int gt_config_load(gt_config *cfg, int argc, char **argv, char *err, size_t errcap);
/* Print the option table as --help text. */
void gt_config_usage(FILE *f);

#endif
