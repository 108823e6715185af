/* Unit tests: the option table (config.c): defaults, config file,
 * GREENTRAIL_* environment and flags, in that order of precedence, and
 * clear errors for bad values. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static void clear_env(void)
{
    const char *names[] = {"GREENTRAIL_CONFIG", "GREENTRAIL_LISTEN", "GREENTRAIL_DATA_DIR", "GREENTRAIL_REGION",
                           "GREENTRAIL_ACCOUNT_ID", "GREENTRAIL_MAX_SKEW", "GREENTRAIL_RETENTION_DAYS",
                           "GREENTRAIL_MAX_BODY", "GREENTRAIL_THREADS"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        unsetenv(names[i]);
}

static void test_defaults(void **st)
{
    (void)st;
    clear_env();
    gt_config c;
    char err[256];
    assert_int_equal(gt_config_load(&c, 0, NULL, err, sizeof err), 0);
    assert_string_equal(c.listen_host, "127.0.0.1");
    assert_int_equal(c.listen_port, 4566);
    assert_string_equal(c.data_dir, "./greentrail-data");
    assert_string_equal(c.region, "us-east-1");
    assert_string_equal(c.account_id, "123456789012");
    assert_int_equal(c.max_skew_seconds, 900);
    assert_int_equal(c.retention_days, 90);
    assert_int_equal(c.threads, 64);   /* group commit batches up to this many calls */
}

static void test_precedence(void **st)
{
    (void)st;
    clear_env();
    char path[] = "/tmp/gt-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "# comment\nregion = eu-west-1\nretention_days = 30\nmax-skew = 60\nlisten = 0.0.0.0:9000\n");
    fclose(f);
    setenv("GREENTRAIL_CONFIG", path, 1);
    setenv("GREENTRAIL_RETENTION_DAYS", "45", 1);
    setenv("GREENTRAIL_MAX_SKEW", "120", 1);
    char *argv[] = {"--max-skew", "300", "--account-id=000000000001"};
    gt_config c;
    char err[256];
    assert_int_equal(gt_config_load(&c, 3, argv, err, sizeof err), 0);
    assert_string_equal(c.region, "eu-west-1");        /* file */
    assert_int_equal(c.retention_days, 45);            /* env beats file */
    assert_int_equal(c.max_skew_seconds, 300);         /* flag beats env */
    assert_string_equal(c.account_id, "000000000001");
    assert_string_equal(c.listen_host, "0.0.0.0");
    assert_int_equal(c.listen_port, 9000);
    unlink(path);
    clear_env();
}

static void test_errors(void **st)
{
    (void)st;
    clear_env();
    gt_config c;
    char err[256];
    char *a1[] = {"--threads", "0"};
    assert_int_equal(gt_config_load(&c, 2, a1, err, sizeof err), -1);
    assert_non_null(strstr(err, "threads"));
    char *a2[] = {"--account-id", "12ab"};
    assert_int_equal(gt_config_load(&c, 2, a2, err, sizeof err), -1);
    char *a3[] = {"--listen", "nohostport"};
    assert_int_equal(gt_config_load(&c, 2, a3, err, sizeof err), -1);
    char *a4[] = {"--no-such-option", "1"};
    assert_int_equal(gt_config_load(&c, 2, a4, err, sizeof err), -1);
    assert_non_null(strstr(err, "unknown option"));
    char *a5[] = {"--region"};
    assert_int_equal(gt_config_load(&c, 1, a5, err, sizeof err), -1);
    setenv("GREENTRAIL_MAX_BODY", "lots", 1);
    assert_int_equal(gt_config_load(&c, 0, NULL, err, sizeof err), -1);
    clear_env();
    setenv("GREENTRAIL_CONFIG", "/nonexistent/greentrail.conf", 1);
    assert_int_equal(gt_config_load(&c, 0, NULL, err, sizeof err), -1);
    clear_env();
}

/* --store: empty by default (SQLite in the data dir), from GREENTRAIL_STORE
 * or the flag; an empty value is allowed (unlike other strings). */
static void test_store_option(void **st)
{
    (void)st;
    clear_env();
    unsetenv("GREENTRAIL_STORE");
    gt_config c;
    char err[256];
    assert_int_equal(gt_config_load(&c, 0, NULL, err, sizeof err), 0);
    assert_string_equal(c.store_url, "");
    setenv("GREENTRAIL_STORE", "postgresql://u@h:5432/env", 1);
    assert_int_equal(gt_config_load(&c, 0, NULL, err, sizeof err), 0);
    assert_string_equal(c.store_url, "postgresql://u@h:5432/env");
    char *argv[] = {"--store", "postgresql://u@h:5432/flag"};
    assert_int_equal(gt_config_load(&c, 2, argv, err, sizeof err), 0);
    assert_string_equal(c.store_url, "postgresql://u@h:5432/flag");
    char *argv2[] = {"--store="};
    assert_int_equal(gt_config_load(&c, 1, argv2, err, sizeof err), 0);
    assert_string_equal(c.store_url, "");
    unsetenv("GREENTRAIL_STORE");
}

/* The external S3 options: empty by default (may stay empty), from the
 * file, the environment and flags like every option; the secret is never
 * in --help's text (its default is empty, shown as "empty"). */
static void test_external_s3_options(void **st)
{
    (void)st;
    clear_env();
    gt_config c;
    char err[256];
    assert_int_equal(gt_config_load(&c, 0, NULL, err, sizeof err), 0);
    assert_string_equal(c.ext_s3_endpoint, "");
    assert_string_equal(c.ext_s3_buckets, "");
    assert_string_equal(c.ext_s3_secret_key, "");
    assert_string_equal(c.ext_s3_region, "us-east-1");
    assert_int_equal(c.ext_s3_connect_timeout_ms, 3000);
    assert_int_equal(c.ext_s3_timeout_ms, 30000);
    char path[] = "/tmp/gt-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "external_s3_endpoint = http://127.0.0.1:9000\nexternal-s3-secret-key = from-file\n");
    fclose(f);
    setenv("GREENTRAIL_CONFIG", path, 1);
    setenv("GREENTRAIL_EXTERNAL_S3_ACCESS_KEY", "AKIDENV", 1);
    setenv("GREENTRAIL_EXTERNAL_S3_BUCKETS", "a-bkt,b-bkt", 1);
    char *argv[] = {"--external-s3-buckets", "*", "--external-s3-timeout-ms", "1500"};
    assert_int_equal(gt_config_load(&c, 4, argv, err, sizeof err), 0);
    assert_string_equal(c.ext_s3_endpoint, "http://127.0.0.1:9000");
    assert_string_equal(c.ext_s3_secret_key, "from-file");
    assert_string_equal(c.ext_s3_access_key, "AKIDENV");
    assert_string_equal(c.ext_s3_buckets, "*");   /* flag beats env */
    assert_int_equal(c.ext_s3_timeout_ms, 1500);
    char *bad[] = {"--external-s3-timeout-ms", "5"};
    assert_int_equal(gt_config_load(&c, 2, bad, err, sizeof err), -1);
    assert_non_null(strstr(err, "external-s3-timeout-ms"));
    char *badfile_secret[] = {"--external-s3-secret-key", "s3cr3t-value", "--region", ""};
    assert_int_equal(gt_config_load(&c, 4, badfile_secret, err, sizeof err), -1);
    assert_null(strstr(err, "s3cr3t-value"));
    unsetenv("GREENTRAIL_CONFIG");
    unsetenv("GREENTRAIL_EXTERNAL_S3_ACCESS_KEY");
    unsetenv("GREENTRAIL_EXTERNAL_S3_BUCKETS");
    unlink(path);
    /* --help shows no secret */
    char hp[] = "/tmp/gt-help-XXXXXX";
    int hfd = mkstemp(hp);
    FILE *hf = fdopen(hfd, "w+");
    gt_config_usage(hf);
    rewind(hf);
    char text[8192];
    size_t n = fread(text, 1, sizeof text - 1, hf);
    text[n] = '\0';
    fclose(hf);
    unlink(hp);
    assert_non_null(strstr(text, "--external-s3-secret-key"));
    assert_null(strstr(text, "from-file"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_store_option),
        cmocka_unit_test(test_external_s3_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
