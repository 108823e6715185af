/*
 * test_console.c: unit tests for the web console's request handling
 * (console/console.c) on plain http_req views, against a real store in a
 * temporary directory: which paths the console owns, static files, the
 * JSON/same-origin rule for POSTs, cookie parsing, CSRF, and the sign-in
 * rate limiter's window (blocked after N failures, allowed again once the
 * window has passed, reset by a success).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "auth/identity.h"
#include "console/console.h"
#include "util/gtutil.h"

typedef struct fixture {
    char dir[64];
    store *st;
    gt_server_ctx ctx;
    console *con;
    auth_principal root, admin;
} fixture;

static fixture F;

static int setup(void **state)
{
    snprintf(F.dir, sizeof F.dir, "/tmp/gt-unit-console-XXXXXX");
    assert_non_null(mkdtemp(F.dir));
    char err[256];
    F.st = store_open(F.dir, err, sizeof err);
    assert_non_null(F.st);
    bool created;
    assert_int_equal(auth_bootstrap(F.st, F.dir, "123456789012", "us-east-1", &F.root, &F.admin, &created, err,
                                    sizeof err), GT_OK);
    F.ctx = (gt_server_ctx){.st = F.st, .home_region = "us-east-1", .retention_days = 90};
    memset(F.ctx.token_key, 7, sizeof F.ctx.token_key);
    console_opts o = {.ctx = &F.ctx, .session_ttl_seconds = 60, .max_signin_failures = 2, .signin_window_seconds = 1};
    F.con = console_new(&o);
    assert_non_null(F.con);
    return 0;
}

static int teardown(void **state)
{
    console_free(F.con);
    store_close(F.st);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", F.dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------ requests */

typedef struct treq {
    http_req req;
    http_header h[6];
    http_resp out;
} treq;

static void add_header(treq *t, const char *name, const char *value)
{
    http_header *h = &t->h[t->req.n_headers++];
    h->name = name;
    h->name_len = strlen(name);
    h->value = value;
    h->value_len = strlen(value);
}

static void treq_init(treq *t, const char *method, const char *path, const char *body)
{
    memset(t, 0, sizeof *t);
    const char *q = strchr(path, '?');
    t->req.method = method;
    t->req.path = path;
    t->req.path_len = q ? (size_t)(q - path) : strlen(path);
    t->req.query = q ? q + 1 : "";
    t->req.query_len = q ? strlen(q + 1) : 0;
    t->req.headers = t->h;
    t->req.body = (const unsigned char *)(body ? body : "");
    t->req.body_len = body ? strlen(body) : 0;
    t->req.remote_ip = "192.0.2.7";
    add_header(t, "Host", "127.0.0.1:4566");
    if (body)
        add_header(t, "Content-Type", "application/json");
}

static const char *resp_header(const http_resp *r, const char *name)
{
    for (int i = 0; i < r->n_headers; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

/* Run t through the console; returns the status. */
static int run(treq *t)
{
    console_handle(F.con, &t->req, &t->out);
    return t->out.status;
}

static char *signin_body(const char *akid, const char *secret)
{
    json_t *j = json_pack("{s:s, s:s, s:s}", "method", "accessKey", "accessKeyId", akid, "secretAccessKey", secret);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

static int signin(const char *ip, const char *secret, char cookie[80])
{
    char *body = signin_body(F.admin.access_key_id, secret);
    treq t;
    treq_init(&t, "POST", "/console/api/signin", body);
    t.req.remote_ip = ip;
    int st = run(&t);
    const char *sc = resp_header(&t.out, "Set-Cookie");
    if (cookie && sc) {
        const char *semi = strchr(sc, ';');
        snprintf(cookie, 80, "%.*s", (int)(semi - sc), sc);
    }
    http_resp_free(&t.out);
    free(body);
    return st;
}

/* ------------------------------------------------------------ tests */

static void test_wants(void **state)
{
    treq t;
    const char *mine[] = {"/console", "/console/", "/console/app.js", "/console/api/call", "/console?x=1"};
    for (size_t i = 0; i < sizeof mine / sizeof mine[0]; i++) {
        treq_init(&t, "GET", mine[i], NULL);
        assert_true(console_wants(&t.req));
    }
    const char *not_mine[] = {"/", "/consolex", "/greengrass/groups", "/consol"};
    for (size_t i = 0; i < sizeof not_mine / sizeof not_mine[0]; i++) {
        treq_init(&t, "GET", not_mine[i], NULL);
        assert_false(console_wants(&t.req));
    }
    /* SigV4-signed requests go to the API (an S3 bucket named "console") */
    treq_init(&t, "GET", "/console/key", NULL);
    add_header(&t, "Authorization", "AWS4-HMAC-SHA256 Credential=AKIA/20260101/us-east-1/s3/aws4_request");
    assert_false(console_wants(&t.req));
    treq_init(&t, "GET", "/console/key?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=00", NULL);
    assert_false(console_wants(&t.req));
}

static void test_static(void **state)
{
    treq t;
    treq_init(&t, "GET", "/console", NULL);
    assert_int_equal(run(&t), 302);
    assert_string_equal(resp_header(&t.out, "Location"), "/console/");
    http_resp_free(&t.out);
    treq_init(&t, "GET", "/console/", NULL);
    assert_int_equal(run(&t), 200);
    assert_non_null(strstr(t.out.content_type, "text/html"));
    assert_non_null(resp_header(&t.out, "Content-Security-Policy"));
    assert_string_equal(resp_header(&t.out, "X-Content-Type-Options"), "nosniff");
    http_resp_free(&t.out);
    treq_init(&t, "GET", "/console/app.css", NULL);
    assert_int_equal(run(&t), 200);
    assert_non_null(strstr(t.out.content_type, "text/css"));
    assert_null(resp_header(&t.out, "Content-Security-Policy"));
    http_resp_free(&t.out);
    treq_init(&t, "GET", "/console/../credentials", NULL);
    assert_int_equal(run(&t), 404);
    http_resp_free(&t.out);
    treq_init(&t, "DELETE", "/console/", NULL);
    assert_int_equal(run(&t), 405);
    http_resp_free(&t.out);
}

static void test_posts_need_json_and_same_origin(void **state)
{
    treq t;
    char *body = signin_body(F.admin.access_key_id, F.admin.secret);
    /* form-encoded: refused before any credential check */
    treq_init(&t, "POST", "/console/api/signin", NULL);
    t.req.body = (const unsigned char *)body;
    t.req.body_len = strlen(body);
    add_header(&t, "Content-Type", "text/plain");
    assert_int_equal(run(&t), 403);
    assert_string_equal(t.out.error_type, "InvalidCsrfToken");
    http_resp_free(&t.out);
    /* another origin */
    treq_init(&t, "POST", "/console/api/signin", body);
    add_header(&t, "Origin", "http://127.0.0.1:4566.evil.example");
    assert_int_equal(run(&t), 403);
    http_resp_free(&t.out);
    /* same origin */
    treq_init(&t, "POST", "/console/api/signin", body);
    add_header(&t, "Origin", "http://127.0.0.1:4566");
    assert_int_equal(run(&t), 200);
    http_resp_free(&t.out);
    free(body);
}

static void test_cookie_and_csrf(void **state)
{
    char cookie[80], hdr[200];
    assert_int_equal(signin("198.51.100.1", F.admin.secret, cookie), 200);
    /* the session cookie among others, in any position */
    treq t;
    snprintf(hdr, sizeof hdr, "theme=dark; %s; other=1", cookie);
    treq_init(&t, "GET", "/console/api/session", NULL);
    add_header(&t, "Cookie", hdr);
    assert_int_equal(run(&t), 200);
    json_t *j = json_loadb(t.out.body, t.out.body_len, 0, NULL);
    const char *csrf = json_string_value(json_object_get(j, "csrfToken"));
    assert_non_null(csrf);
    assert_null(strstr(t.out.body, F.admin.secret));
    char csrf_copy[80];
    snprintf(csrf_copy, sizeof csrf_copy, "%s", csrf);
    json_decref(j);
    http_resp_free(&t.out);
    /* a cookie whose name only ends like ours, or a truncated token */
    const char *bad[] = {"xgt_console=0123", "gt_console=abc", "gt_console", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        treq_init(&t, "GET", "/console/api/session", NULL);
        add_header(&t, "Cookie", bad[i]);
        assert_int_equal(run(&t), 401);
        http_resp_free(&t.out);
    }
    /* CSRF: missing, wrong by one char, right */
    const char *call = "{\"service\":\"greengrass\",\"operation\":\"ListGroups\",\"input\":{}}";
    treq_init(&t, "POST", "/console/api/call", call);
    add_header(&t, "Cookie", cookie);
    assert_int_equal(run(&t), 403);
    http_resp_free(&t.out);
    char wrong[80];
    snprintf(wrong, sizeof wrong, "%s", csrf_copy);
    wrong[0] = wrong[0] == 'a' ? 'b' : 'a';
    treq_init(&t, "POST", "/console/api/call", call);
    add_header(&t, "Cookie", cookie);
    add_header(&t, "X-CSRF-Token", wrong);
    assert_int_equal(run(&t), 403);
    http_resp_free(&t.out);
    treq_init(&t, "POST", "/console/api/call", call);
    add_header(&t, "Cookie", cookie);
    add_header(&t, "X-CSRF-Token", csrf_copy);
    assert_int_equal(run(&t), 200);
    assert_non_null(strstr(t.out.body, "\"Groups\""));
    http_resp_free(&t.out);
}

static void test_rate_limit_window(void **state)
{
    const char *ip = "203.0.113.9";
    assert_int_equal(signin(ip, "wrong", NULL), 401);
    assert_int_equal(signin(ip, "wrong", NULL), 401);
    assert_int_equal(signin(ip, F.admin.secret, NULL), 429);   /* blocked, even with the secret */
    assert_int_equal(signin("203.0.113.10", F.admin.secret, NULL), 200);  /* per IP */
    usleep(1100 * 1000);                                          /* the 1 s window passes */
    assert_int_equal(signin(ip, "wrong", NULL), 401);
    assert_int_equal(signin(ip, F.admin.secret, NULL), 200);      /* a success forgets the IP */
    assert_int_equal(signin(ip, "wrong", NULL), 401);
    assert_int_equal(signin(ip, "wrong", NULL), 401);
    assert_int_equal(signin(ip, "wrong", NULL), 429);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wants),
        cmocka_unit_test(test_static),
        cmocka_unit_test(test_posts_need_json_and_same_origin),
        cmocka_unit_test(test_cookie_and_csrf),
        cmocka_unit_test(test_rate_limit_window),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
