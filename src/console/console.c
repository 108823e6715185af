/*
 * console.c: the web console at /console.
 *
 * What: serves the embedded static UI (console/ in the source tree), signs
 * users in, keeps their sessions, and runs the API calls the UI makes
 * through the normal pipeline (gt_dispatch_as), so each one is validated,
 * executed and recorded exactly like a SigV4 call, marked as a console
 * session's call (userAgent "console.amazonaws.com", a sessionContext and
 * sessionCredentialFromConsole "true", cloudtrail.md §1).
 *
 * Endpoints (JSON in and out; all POSTs need Content-Type application/json
 * and, when the browser sends one, an Origin equal to the Host):
 *   GET  /console, /console/, /console/<file>   the UI
 *   POST /console/api/signin    {method, ...}   -> cookie + {user, csrfToken, expiresAt, region}
 *   GET  /console/api/session                   -> the same body, or 401
 *   POST /console/api/signout   (CSRF)
 *   POST /console/api/call      (CSRF) {service, operation, input, region?}
 *        -> the service's own response (status, body, x-amzn-ErrorType)
 *
 * Sign-in methods are a table (authenticators[]): "accessKey" (an access
 * key pair) and "password" (account id + IAM user name + the user's
 * console password, its login profile). A password session names the
 * user instead of a key; each request looks the user up again, so
 * deleting the user or its login profile ends its sessions.
 *
 * Sessions live in the store (account "", region "", kind
 * "console_session"), so they survive restarts and every node sharing the
 * store sees them. The cookie holds a random 256-bit token; the store keeps
 * only its SHA-256, so reading the database does not yield live sessions.
 * A key session names the access key it was opened with, never its secret:
 * the secret is compared once at sign-in and never sent back. Each request
 * looks the key up again, so deactivating a key ends its sessions.
 * The CSRF token is HMAC-SHA256(csrf key, session token), derived, not
 * stored; the UI keeps it in memory and sends it as X-CSRF-Token.
 *
 * Invariants:
 *  - Cookies are HttpOnly, SameSite=Strict, Path=/console, Max-Age = TTL,
 *    Secure when the listener speaks TLS or a proxy says X-Forwarded-Proto:
 *    https.
 *  - Expiry is enforced here from the stored expiry, whatever the browser
 *    keeps.
 *  - Sign-in attempts are counted per client IP in a fixed table (a
 *    success forgets the IP); past the limit the IP gets 429 (with
 *    Retry-After) until its window ends, without the credentials being
 *    checked.
 *  - Token and CSRF comparisons are constant time.
 */
#include "console/console.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/identity.h"
#include "cloudtrail/ct_record.h"
#include "console/console_assets.h"
#include "iam/iam.h"
#include "util/gtutil.h"

#define CONSOLE_COOKIE "gt_console"
#define CONSOLE_TOKEN_HEX 64          /* 32 random bytes */
#define CONSOLE_SESSION_KIND "console_session"
#define CONSOLE_RL_SLOTS 512
#define CONSOLE_SWEEP_MAX 1000        /* expired sessions removed per sign-in */

typedef struct rl_slot {
    char ip[48];
    int64_t window_start_ms;
    int failures;
} rl_slot;

struct console {
    console_opts o;
    unsigned char csrf_key[32];
    pthread_mutex_t mu;               /* guards rl[] */
    rl_slot rl[CONSOLE_RL_SLOTS];
};

/* A signed-in session, as a request sees it. */
typedef struct session {
    char token[CONSOLE_TOKEN_HEX + 1];
    char id[65];                      /* hex SHA-256 of the token: the doc id */
    auth_principal who;               /* access_key_id = the session key (ASIA...) */
    char signin_key[32];              /* the access key signed in with; "" for a password */
    char pw_account[16];              /* password sessions: the IAM user's account */
    char region[32];
    int64_t created_ms, expires_ms;
} session;

/* ---------------------------------------------------------------- setup */

console *console_new(const console_opts *o)
{
    console *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->o = *o;
    if (c->o.max_signin_failures <= 0)
        c->o.max_signin_failures = 5;
    if (c->o.signin_window_seconds <= 0)
        c->o.signin_window_seconds = 300;
    static const char label[] = "greentrail console csrf v1";
    unsigned int n = 0;
    if (!HMAC(EVP_sha256(), o->ctx->token_key, 32, (const unsigned char *)label, sizeof label - 1, c->csrf_key, &n) ||
        n != 32) {
        free(c);
        return NULL;
    }
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

void console_free(console *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->mu);
    OPENSSL_cleanse(c->csrf_key, sizeof c->csrf_key);
    free(c);
}

/* ---------------------------------------------------------------- small helpers */

static bool path_is(const http_req *r, const char *p)
{
    size_t n = strlen(p);
    return r->path_len == n && memcmp(r->path, p, n) == 0;
}

bool console_wants(const http_req *req)
{
    static const char pfx[] = "/console";
    if (req->path_len < sizeof pfx - 1 || memcmp(req->path, pfx, sizeof pfx - 1) != 0)
        return false;
    if (req->path_len > sizeof pfx - 1 && req->path[sizeof pfx - 1] != '/')
        return false;   /* /consoleX is someone else's */
    size_t n = 0;
    const char *auth = http_req_header(req, "Authorization", &n);
    if (auth && n >= 4 && strncmp(auth, "AWS4", 4) == 0)
        return false;
    for (size_t i = 0; i + 15 <= req->query_len; i++)
        if (strncasecmp(req->query + i, "X-Amz-Algorithm", 15) == 0)
            return false;
    return true;
}

static void sha256_hex(const char *s, char out[65])
{
    unsigned char d[32];
    unsigned int n = 0;
    EVP_Digest(s, strlen(s), d, &n, EVP_sha256(), NULL);
    gt_hex(d, 32, out);
}

static void csrf_for(const console *c, const char *token, char out[65])
{
    unsigned char d[32];
    unsigned int n = 0;
    HMAC(EVP_sha256(), c->csrf_key, 32, (const unsigned char *)token, strlen(token), d, &n);
    gt_hex(d, 32, out);
}

static bool const_eq(const char *a, size_t alen, const char *b, size_t blen)
{
    return alen == blen && CRYPTO_memcmp(a, b, alen) == 0;
}

static void security_headers(http_resp *out)
{
    http_resp_add_header(out, "Cache-Control", "no-store");
    http_resp_add_header(out, "X-Content-Type-Options", "nosniff");
    http_resp_add_header(out, "X-Frame-Options", "DENY");
    http_resp_add_header(out, "Referrer-Policy", "no-referrer");
}

static void reply_json(http_resp *out, int status, json_t *body)
{
    out->status = status;
    out->content_type = "application/json";
    out->body = body ? json_dumps(body, JSON_COMPACT) : NULL;
    out->body_len = out->body ? strlen(out->body) : 0;
    json_decref(body);
}

/* A console error: {"__type": code, "message": ...} plus x-amzn-ErrorType,
 * the same shape the UI already reads from awsJson services. */
static void reply_error(http_resp *out, gt_err e, const char *msg)
{
    gt_strlcpy(out->error_type, gt_err_code(e), sizeof out->error_type);
    reply_json(out, gt_err_status(e),
               json_pack("{s:s, s:s}", "__type", gt_err_code(e), "message", msg ? msg : gt_err_message(e)));
}

/* The value of cookie `name` from the Cookie header, into out (cap). */
static bool cookie_value(const http_req *r, const char *name, char *out, size_t cap)
{
    size_t len = 0;
    const char *h = http_req_header(r, "Cookie", &len);
    size_t nl = strlen(name);
    size_t i = 0;
    while (h && i < len) {
        while (i < len && (h[i] == ' ' || h[i] == ';'))
            i++;
        size_t start = i;
        while (i < len && h[i] != ';')
            i++;
        /* one "name=value" pair is h[start..i) */
        if (i - start > nl && memcmp(h + start, name, nl) == 0 && h[start + nl] == '=') {
            size_t vl = i - start - nl - 1;
            if (vl >= cap)
                return false;
            memcpy(out, h + start + nl + 1, vl);
            out[vl] = '\0';
            return true;
        }
    }
    return false;
}

static bool secure_cookies(const console *c, const http_req *r)
{
    size_t n = 0;
    const char *p = http_req_header(r, "X-Forwarded-Proto", &n);
    return c->o.tls || (p && n == 5 && strncasecmp(p, "https", 5) == 0);
}

static void set_cookie(const console *c, const http_req *r, http_resp *out, const char *token, long max_age)
{
    char v[256];
    snprintf(v, sizeof v, CONSOLE_COOKIE "=%s; Path=/console; Max-Age=%ld; HttpOnly; SameSite=Strict%s", token,
             max_age, secure_cookies(c, r) ? "; Secure" : "");
    http_resp_add_header(out, "Set-Cookie", v);
}

/* POSTs must be JSON (a cross-site form cannot send that without a CORS
 * preflight, which we never grant) and same-origin when Origin is sent. */
static bool same_origin_json(const http_req *r)
{
    size_t ctl = 0, ol = 0, hl = 0;
    const char *ct = http_req_header(r, "Content-Type", &ctl);
    if (!ct || ctl < 16 || strncasecmp(ct, "application/json", 16) != 0)
        return false;
    const char *origin = http_req_header(r, "Origin", &ol);
    if (!origin)
        return true;
    const char *host = http_req_header(r, "Host", &hl);
    if (!host)
        return false;
    const char *rest = NULL;
    if (ol > 7 && strncmp(origin, "http://", 7) == 0)
        rest = origin + 7;
    else if (ol > 8 && strncmp(origin, "https://", 8) == 0)
        rest = origin + 8;
    return rest && (size_t)(origin + ol - rest) == hl && strncasecmp(rest, host, hl) == 0;
}

static json_t *body_json(const http_req *r)
{
    if (r->body_len == 0 || r->body_len > 512 * 1024)
        return NULL;
    json_t *j = json_loadb((const char *)r->body, r->body_len, JSON_REJECT_DUPLICATES, NULL);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static bool valid_region(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n >= 4 && n < 32 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

/* ---------------------------------------------------------------- rate limit */

/* The IP's slot, or NULL. Called with c->mu held. */
static rl_slot *rl_find(console *c, const char *ip, rl_slot **victim)
{
    *victim = NULL;
    for (int i = 0; i < CONSOLE_RL_SLOTS; i++) {
        rl_slot *s = &c->rl[i];
        if (s->ip[0] && strcmp(s->ip, ip) == 0)
            return s;
        /* a free slot, else the one whose window started first */
        if (!*victim || ((*victim)->ip[0] && (!s->ip[0] || s->window_start_ms < (*victim)->window_start_ms)))
            *victim = s;
    }
    return NULL;
}

/* Start a sign-in attempt: 0 if the IP may try, else the seconds it must
 * still wait. An allowed attempt is counted as a failure right away (check
 * and count are one step under the lock, so parallel guesses cannot slip
 * past the limit); a success then forgets the IP (rl_forget). */
static long rl_begin(console *c, const char *ip, int64_t now)
{
    long wait = 0;
    int64_t window = (int64_t)c->o.signin_window_seconds * 1000;
    pthread_mutex_lock(&c->mu);
    rl_slot *victim, *s = rl_find(c, ip, &victim);
    if (!s || now >= s->window_start_ms + window) {
        s = s ? s : victim;
        memset(s, 0, sizeof *s);
        gt_strlcpy(s->ip, ip, sizeof s->ip);
        s->window_start_ms = now;
    }
    if (s->failures >= c->o.max_signin_failures)
        wait = (long)((s->window_start_ms + window - now + 999) / 1000);
    else
        s->failures++;
    pthread_mutex_unlock(&c->mu);
    return wait;
}

static void rl_forget(console *c, const char *ip)
{
    pthread_mutex_lock(&c->mu);
    rl_slot *victim, *s = rl_find(c, ip, &victim);
    if (s)
        memset(s, 0, sizeof *s);
    pthread_mutex_unlock(&c->mu);
}

/* ---------------------------------------------------------------- sign-in methods */

/* A sign-in method: body -> principal, or an error. Wrong credentials are
 * GT_E_CONSOLE_BAD_CREDENTIALS (counted towards the rate limit); then *who
 * is filled if the identity exists (so the failed ConsoleLogin can be
 * recorded in its account) and zeroed otherwise. who->secret is wiped. */
typedef gt_err (*console_authn)(const gt_server_ctx *ctx, const json_t *body, auth_principal *who);

/* "accessKey": {accessKeyId, secretAccessKey}. */
static gt_err authn_access_key(const gt_server_ctx *ctx, const json_t *body, auth_principal *who)
{
    const char *akid = json_string_value(json_object_get(body, "accessKeyId"));
    const char *secret = json_string_value(json_object_get(body, "secretAccessKey"));
    if (!akid || !secret || !*akid || strlen(akid) > 128 || strlen(secret) > 128)
        return GT_E_CONSOLE_BAD_CREDENTIALS;
    gt_err e = auth_lookup_key(ctx->st, akid, who);
    if (e == GT_E_UNRECOGNIZED_CLIENT) {
        memset(who, 0, sizeof *who);
        return GT_E_CONSOLE_BAD_CREDENTIALS;
    }
    if (e != GT_OK)
        return e;
    bool ok = who->active && const_eq(secret, strlen(secret), who->secret, strlen(who->secret));
    OPENSSL_cleanse(who->secret, sizeof who->secret);
    return ok ? GT_OK : GT_E_CONSOLE_BAD_CREDENTIALS;
}

/* What AWS puts in userIdentity.userName when the user name of a failed
 * console sign-in does not exist (cloudtrail.md §1.5). */
#define CONSOLE_HIDDEN_USER "HIDDEN_DUE_TO_SECURITY_REASONS"

typedef struct pw_job {
    const char *account, *user, *password;   /* password NULL: only re-check the user */
    const char *alias;                        /* non-NULL: look the account up by its alias */
    char alias_account[16];
    auth_principal *who;
    bool known_user, known_account;
} pw_job;

static int any_cb(void *ud, int64_t seq, const char *id, const char *body)
{
    (void)seq, (void)id, (void)body;
    *(bool *)ud = true;
    return 1;
}

static gt_err pw_check_job(store_txn *t, void *ud)
{
    pw_job *j = ud;
    if (j->alias) {   /* "account ID or alias": an alias names its account */
        if (!iam_alias_account(t, j->alias, j->alias_account))
            return GT_E_UNRECOGNIZED_CLIENT;
        j->account = j->alias_account;
    }
    gt_err e = iam_console_user(t, j->account, j->user, j->password, j->who, &j->known_user);
    j->known_account = j->known_user;
    if (!j->known_account &&
        store_doc_list(t, j->account, "", "iam.user", NULL, 0, false, 1, any_cb, &j->known_account) == STORE_ERR)
        return GT_E_UNAVAILABLE;
    return e;
}

/* "password": {account (12-digit id or the account's alias), userName,
 * password}, as AWS's IAM user sign-in page. The user needs a login profile (CreateLoginProfile).
 * A wrong password of a known user names that user in the failed
 * ConsoleLogin record; an unknown user name in a known account is recorded
 * as CONSOLE_HIDDEN_USER; an unknown account is not recorded anywhere. */
static gt_err authn_password(const gt_server_ctx *ctx, const json_t *body, auth_principal *who)
{
    const char *acct = json_string_value(json_object_get(body, "account"));
    const char *user = json_string_value(json_object_get(body, "userName"));
    const char *pw = json_string_value(json_object_get(body, "password"));
    memset(who, 0, sizeof *who);
    size_t al = acct ? strlen(acct) : 0;
    if (!acct || !user || !pw || al < 3 || al > 63 || !*user || strlen(user) > 64 || !*pw || strlen(pw) > 128)
        return GT_E_CONSOLE_BAD_CREDENTIALS;
    bool by_id = al == 12 && strspn(acct, "0123456789") == 12;
    pw_job j = {.account = acct, .alias = by_id ? NULL : acct, .user = user, .password = pw, .who = who};
    gt_err e = store_read(ctx->st, pw_check_job, &j);
    acct = j.account;   /* the account id, also when signed in by alias */
    if (e == GT_OK)
        return GT_OK;
    if (e != GT_E_UNRECOGNIZED_CLIENT)
        return e;
    if (!j.known_user) {
        memset(who, 0, sizeof *who);
        if (j.known_account) {
            gt_strlcpy(who->type, "IAMUser", sizeof who->type);
            gt_strlcpy(who->account_id, acct, sizeof who->account_id);
            gt_strlcpy(who->user_name, CONSOLE_HIDDEN_USER, sizeof who->user_name);
        }
    }
    return GT_E_CONSOLE_BAD_CREDENTIALS;
}

static const struct {
    const char *method;
    console_authn fn;
} authenticators[] = {
    {"accessKey", authn_access_key},
    {"password", authn_password},
};

/* ---------------------------------------------------------------- ConsoleLogin records */

/* The ConsoleLogin record of a sign-in (eventType AwsConsoleSignIn, a
 * global service event, so in us-east-1: cloudtrail.md §1.5, §2.4). As on
 * AWS a failure has errorMessage "Failed authentication", no errorCode,
 * and responseElements {"ConsoleLogin": "Failure"}. The userIdentity keeps
 * the access key signed in with, so auditors can tell which key it was. */
static json_t *login_record(const auth_principal *who, const http_req *r, bool ok, const char *event_id,
                            int64_t when_ms, bool secure)
{
    char when[21], login_to[320];
    gt_fmt_iso_s(when_ms / 1000, when);
    size_t hl = 0, ual = 0;
    const char *host = http_req_header(r, "Host", &hl);
    const char *ua = http_req_header(r, "User-Agent", &ual);
    snprintf(login_to, sizeof login_to, "%s://%.*s/console/", secure ? "https" : "http", (int)(hl > 255 ? 255 : hl),
             host ? host : "");
    json_t *rec = json_object();
    json_object_set_new(rec, "eventVersion", json_string(CT_EVENT_VERSION));
    json_t *uid = ct_user_identity(who);
    if (!who->arn[0]) {   /* an unknown user name: AWS leaves out who it might be */
        json_object_del(uid, "principalId");
        json_object_del(uid, "arn");
    } else if (!who->access_key_id[0]) {   /* a password sign-in: no key to name */
        json_object_del(uid, "accessKeyId");
    }
    json_object_set_new(rec, "userIdentity", uid);
    json_object_set_new(rec, "eventTime", json_string(when));
    json_object_set_new(rec, "eventSource", json_string("signin.amazonaws.com"));
    json_object_set_new(rec, "eventName", json_string("ConsoleLogin"));
    json_object_set_new(rec, "awsRegion", json_string("us-east-1"));
    json_object_set_new(rec, "sourceIPAddress", json_string(r->remote_ip ? r->remote_ip : ""));
    if (ua)
        json_object_set_new(rec, "userAgent", json_stringn(ua, ual > CT_MAX_SHORT_FIELD ? CT_MAX_SHORT_FIELD : ual));
    if (!ok)
        json_object_set_new(rec, "errorMessage", json_string("Failed authentication"));
    json_object_set_new(rec, "requestParameters", json_null());
    json_object_set_new(rec, "responseElements", json_pack("{s:s}", "ConsoleLogin", ok ? "Success" : "Failure"));
    json_object_set_new(rec, "additionalEventData",
                        json_pack("{s:s, s:s, s:s}", "LoginTo", login_to, "MobileVersion", "No", "MFAUsed", "No"));
    json_object_set_new(rec, "eventID", json_string(event_id));
    json_object_set_new(rec, "readOnly", json_false());
    json_object_set_new(rec, "eventType", json_string("AwsConsoleSignIn"));
    json_object_set_new(rec, "managementEvent", json_true());
    json_object_set_new(rec, "recipientAccountId", json_string(who->account_id));
    json_object_set_new(rec, "eventCategory", json_string("Management"));
    return rec;
}

typedef struct login_ev {
    const auth_principal *who;
    const http_req *req;
    bool ok, secure;
} login_ev;

static gt_err append_login(store_txn *t, const login_ev *l)
{
    char event_id[37];
    gt_uuid4(event_id);
    int64_t when = gt_now_ms();
    json_t *rec = login_record(l->who, l->req, l->ok, event_id, when, l->secure);
    char *text = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
    json_decref(rec);
    if (!text)
        return GT_E_NOMEM;
    store_event ev = {
        .account = l->who->account_id,
        .region = "us-east-1",
        .time_ms = when,
        .event_id = event_id,
        .event_name = "ConsoleLogin",
        .event_source = "signin.amazonaws.com",
        .username = ct_username(l->who),
        .access_key_id = l->who->access_key_id,
        .read_only = false,
        .json = text,
    };
    int rc = store_event_append(t, &ev, NULL);
    free(text);
    return rc == STORE_OK ? GT_OK : GT_E_UNAVAILABLE;
}

static gt_err login_job(store_txn *t, void *ud)
{
    return append_login(t, ud);
}

/* ---------------------------------------------------------------- sessions in the store */

typedef struct sess_job {
    const char *id;
    const char *body;        /* put: the doc; NULL: delete */
    const login_ev *login;   /* put: the ConsoleLogin record, same transaction */
    char *got;               /* get: malloc'd doc */
} sess_job;

static int sweep_cb(void *ud, int64_t seq, const char *id, const char *body)
{
    json_t *ids = ud;
    json_t *j = json_loads(body, 0, NULL);
    json_int_t exp = json_integer_value(json_object_get(j, "expires"));
    int64_t now = gt_now_ms();
    if (exp <= now)
        json_array_append_new(ids, json_string(id));
    json_decref(j);
    return json_array_size(ids) >= CONSOLE_SWEEP_MAX;
}

static gt_err sess_put_job(store_txn *t, void *ud)
{
    sess_job *j = ud;
    store_key k = {"", "", CONSOLE_SESSION_KIND, j->id};
    if (!j->body)
        return store_doc_delete(t, &k) == STORE_ERR ? GT_E_UNAVAILABLE : GT_OK;
    /* drop expired sessions while we are writing anyway */
    json_t *ids = json_array();
    if (ids && store_doc_list(t, "", "", CONSOLE_SESSION_KIND, NULL, 0, false, 0, sweep_cb, ids) == STORE_OK)
        for (size_t i = 0; i < json_array_size(ids); i++) {
            store_key dk = {"", "", CONSOLE_SESSION_KIND, json_string_value(json_array_get(ids, i))};
            store_doc_delete(t, &dk);
        }
    json_decref(ids);
    if (store_doc_put(t, &k, NULL, j->body) != STORE_OK)
        return GT_E_UNAVAILABLE;
    return j->login ? append_login(t, j->login) : GT_OK;
}

static gt_err sess_get_job(store_txn *t, void *ud)
{
    sess_job *j = ud;
    store_key k = {"", "", CONSOLE_SESSION_KIND, j->id};
    int rc = store_doc_get(t, &k, &j->got);
    return rc == STORE_OK ? GT_OK : rc == STORE_NOTFOUND ? GT_E_CONSOLE_SIGNIN_REQUIRED : GT_E_UNAVAILABLE;
}

/* The request's session, with its principal looked up again. */
static gt_err session_load(console *c, const http_req *r, session *s)
{
    memset(s, 0, sizeof *s);
    if (!cookie_value(r, CONSOLE_COOKIE, s->token, sizeof s->token) || strlen(s->token) != CONSOLE_TOKEN_HEX ||
        strspn(s->token, "0123456789abcdef") != CONSOLE_TOKEN_HEX)
        return GT_E_CONSOLE_SIGNIN_REQUIRED;
    sha256_hex(s->token, s->id);
    sess_job j = {.id = s->id};
    gt_err e = store_read(c->o.ctx->st, sess_get_job, &j);
    if (e != GT_OK)
        return e;
    json_t *d = json_loads(j.got, 0, NULL);
    free(j.got);
    const char *akid = json_string_value(json_object_get(d, "accessKeyId"));
    const char *pw_acct = json_string_value(json_object_get(d, "accountId"));
    const char *pw_user = json_string_value(json_object_get(d, "userName"));
    const char *skid = json_string_value(json_object_get(d, "sessionKeyId"));
    const char *region = json_string_value(json_object_get(d, "region"));
    s->created_ms = json_integer_value(json_object_get(d, "created"));
    s->expires_ms = json_integer_value(json_object_get(d, "expires"));
    bool ok = akid && skid && region && gt_strlcpy(s->signin_key, akid, sizeof s->signin_key) &&
              gt_strlcpy(s->region, region, sizeof s->region);
    char sk[32] = "", user[72] = "";
    if (ok)
        gt_strlcpy(sk, skid, sizeof sk);
    bool pw = ok && !*akid && pw_acct && pw_user && gt_strlcpy(s->pw_account, pw_acct, sizeof s->pw_account) &&
              gt_strlcpy(user, pw_user, sizeof user);
    ok = ok && (*akid || pw);
    json_decref(d);
    if (!ok)
        return GT_E_CONSOLE_SIGNIN_REQUIRED;
    if (s->expires_ms <= gt_now_ms())
        return GT_E_CONSOLE_SESSION_EXPIRED;
    if (pw) {
        /* the user and its login profile must still exist */
        pw_job pj = {.account = s->pw_account, .user = user, .who = &s->who};
        e = store_read(c->o.ctx->st, pw_check_job, &pj);
        if (e == GT_E_UNRECOGNIZED_CLIENT)
            return GT_E_CONSOLE_SIGNIN_REQUIRED;
        if (e != GT_OK)
            return e;
        gt_strlcpy(s->who.access_key_id, sk, sizeof s->who.access_key_id);
        return GT_OK;
    }
    e = auth_lookup_key(c->o.ctx->st, s->signin_key, &s->who);
    OPENSSL_cleanse(s->who.secret, sizeof s->who.secret);
    if (e == GT_E_UNRECOGNIZED_CLIENT || (e == GT_OK && !s->who.active))
        return GT_E_CONSOLE_SIGNIN_REQUIRED;   /* key deleted or deactivated since */
    if (e != GT_OK)
        return e;
    gt_strlcpy(s->who.access_key_id, sk, sizeof s->who.access_key_id);
    return GT_OK;
}

/* What the UI learns about its session: never a secret. */
static json_t *session_json(const console *c, const session *s)
{
    char csrf[65], exp[25];
    csrf_for(c, s->token, csrf);
    gt_fmt_iso_ms(s->expires_ms, exp);
    return json_pack("{s:{s:s, s:s, s:s, s:s, s:s, s:s}, s:s, s:s, s:I, s:s, s:s}", "user", "type", s->who.type,
                     "arn", s->who.arn, "accountId", s->who.account_id, "userName",
                     s->who.user_name[0] ? s->who.user_name : "root", "accessKeyId", s->signin_key,
                     "sessionKeyId", s->who.access_key_id, "csrfToken", csrf, "expiresAt", exp, "expiresAtMs",
                     (json_int_t)s->expires_ms, "region", s->region, "homeRegion", c->o.ctx->home_region);
}

/* ---------------------------------------------------------------- endpoints */

static void api_signin(console *c, const http_req *r, http_resp *out)
{
    const char *ip = r->remote_ip ? r->remote_ip : "";
    int64_t now = gt_now_ms();
    long wait = rl_begin(c, ip, now);
    if (wait > 0) {
        char ra[32];
        snprintf(ra, sizeof ra, "%ld", wait);
        http_resp_add_header(out, "Retry-After", ra);
        reply_error(out, GT_E_CONSOLE_THROTTLED, NULL);
        return;
    }
    json_t *body = body_json(r);
    const char *method = json_string_value(json_object_get(body, "method"));
    if (!method)
        method = "accessKey";
    console_authn fn = NULL;
    for (size_t i = 0; i < sizeof authenticators / sizeof authenticators[0]; i++)
        if (strcmp(authenticators[i].method, method) == 0)
            fn = authenticators[i].fn;
    const char *region = json_string_value(json_object_get(body, "region"));
    if (!body || !fn || (region && *region && !valid_region(region))) {
        json_decref(body);
        reply_error(out, GT_E_CONSOLE_BAD_REQUEST, !fn ? "Unknown sign-in method." : NULL);
        return;
    }
    session s;
    memset(&s, 0, sizeof s);
    gt_err e = fn(c->o.ctx, body, &s.who);
    gt_strlcpy(s.region, region && *region ? region : c->o.ctx->home_region, sizeof s.region);
    json_decref(body);
    if (e == GT_E_CONSOLE_BAD_CREDENTIALS) {
        if (s.who.account_id[0]) {   /* a known identity: record the failed sign-in */
            login_ev l = {.who = &s.who, .req = r, .ok = false, .secure = secure_cookies(c, r)};
            store_run(c->o.ctx->st, login_job, &l);
        }
    }
    if (e != GT_OK) {
        reply_error(out, e,
                    e == GT_E_CONSOLE_BAD_CREDENTIALS && fn == authn_password
                        ? "The account ID, IAM user name or password is not valid."
                        : NULL);
        return;
    }
    rl_forget(c, ip);

    /* a new session: random token, a session key id like STS's ASIA... */
    unsigned char raw[32];
    char rnd[17];
    if (!gt_random_bytes(raw, sizeof raw) || !gt_random_chars(rnd, 16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")) {
        reply_error(out, GT_E_INTERNAL, NULL);
        return;
    }
    gt_hex(raw, sizeof raw, s.token);
    sha256_hex(s.token, s.id);
    gt_strlcpy(s.signin_key, s.who.access_key_id, sizeof s.signin_key);
    auth_principal signer = s.who;   /* the ConsoleLogin record names the key signed in with */
    snprintf(s.who.access_key_id, sizeof s.who.access_key_id, "ASIA%s", rnd);
    s.created_ms = now;
    s.expires_ms = now + (int64_t)c->o.session_ttl_seconds * 1000;
    json_t *doc = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s}", "accessKeyId", s.signin_key, "sessionKeyId",
                            s.who.access_key_id, "arn", s.who.arn, "region", s.region, "created",
                            (json_int_t)s.created_ms, "expires", (json_int_t)s.expires_ms, "ip", ip);
    if (doc && !s.signin_key[0]) {   /* a password session names its IAM user */
        json_object_set_new(doc, "accountId", json_string(s.who.account_id));
        json_object_set_new(doc, "userName", json_string(s.who.user_name));
    }
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    login_ev l = {.who = &signer, .req = r, .ok = true, .secure = secure_cookies(c, r)};
    sess_job j = {.id = s.id, .body = text, .login = &l};
    e = text ? store_run(c->o.ctx->st, sess_put_job, &j) : GT_E_NOMEM;
    free(text);
    if (e != GT_OK) {
        reply_error(out, GT_E_UNAVAILABLE, NULL);
        return;
    }
    set_cookie(c, r, out, s.token, c->o.session_ttl_seconds);
    reply_json(out, 200, session_json(c, &s));
    OPENSSL_cleanse(s.token, sizeof s.token);
}

/* Session + CSRF for state-changing requests. */
static bool require_session(console *c, const http_req *r, session *s, bool csrf, http_resp *out)
{
    gt_err e = session_load(c, r, s);
    if (e != GT_OK) {
        if (e == GT_E_CONSOLE_SESSION_EXPIRED)
            set_cookie(c, r, out, "", 0);
        reply_error(out, e, NULL);
        return false;
    }
    if (csrf) {
        char want[65];
        size_t n = 0;
        const char *got = http_req_header(r, "X-CSRF-Token", &n);
        csrf_for(c, s->token, want);
        if (!got || !const_eq(got, n, want, 64)) {
            reply_error(out, GT_E_CONSOLE_CSRF, NULL);
            return false;
        }
    }
    return true;
}

static void api_signout(console *c, const http_req *r, http_resp *out)
{
    session s;
    if (!require_session(c, r, &s, true, out))
        return;
    sess_job j = {.id = s.id, .body = NULL};
    if (store_run(c->o.ctx->st, sess_put_job, &j) != GT_OK) {
        reply_error(out, GT_E_UNAVAILABLE, NULL);
        return;
    }
    set_cookie(c, r, out, "", 0);
    reply_json(out, 200, json_pack("{s:b}", "signedOut", 1));
}

static void api_call(console *c, const http_req *r, http_resp *out)
{
    session s;
    if (!require_session(c, r, &s, true, out))
        return;
    json_t *body = body_json(r);
    const char *svc = json_string_value(json_object_get(body, "service"));
    const char *op = json_string_value(json_object_get(body, "operation"));
    const char *region = json_string_value(json_object_get(body, "region"));
    json_t *input = json_object_get(body, "input");
    if (!svc || !op || (input && !json_is_object(input)) || (region && !valid_region(region))) {
        json_decref(body);
        reply_error(out, GT_E_CONSOLE_BAD_REQUEST, "Expected {service, operation, input, region}.");
        return;
    }
    /* The record sees what AWS's console calls look like: the browser's IP
     * and the console as user agent. */
    http_header ua = {"User-Agent", 10, "console.amazonaws.com", 21};
    http_req vr = {.method = "POST", .path = r->path, .path_len = r->path_len, .query = "", .headers = &ua,
                   .n_headers = 1, .body = r->body, .body_len = r->body_len, .remote_ip = r->remote_ip};
    gt_dispatch_as_args a = {.who = &s.who, .service = svc, .op = op, .region = region ? region : s.region,
                             .input = input, .req = &vr, .console_session_ms = s.created_ms};
    gt_dispatch_as(c->o.ctx, &a, out);
    json_decref(body);
}

static void static_file(const http_req *r, http_resp *out)
{
    if (path_is(r, "/console")) {
        out->status = 302;
        http_resp_add_header(out, "Location", "/console/");
        return;
    }
    const char *name = r->path + 9;   /* after "/console/" */
    size_t nl = r->path_len - 9;
    if (nl == 0) {
        name = "index.html";
        nl = 10;
    }
    for (size_t i = 0; i < console_n_assets; i++) {
        const console_asset *a = &console_assets[i];
        if (strlen(a->path) != nl || memcmp(a->path, name, nl) != 0)
            continue;
        out->status = 200;
        out->content_type = a->content_type;
        out->body = malloc(a->len ? a->len : 1);
        if (!out->body) {
            reply_error(out, GT_E_NOMEM, NULL);
            return;
        }
        memcpy(out->body, a->data, a->len);
        out->body_len = a->len;
        if (strncmp(a->content_type, "text/html", 9) == 0)
            http_resp_add_header(out, "Content-Security-Policy",
                                 "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                 "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
        return;
    }
    reply_error(out, GT_E_CONSOLE_NOT_FOUND, NULL);
}

static void route(console *c, const http_req *r, http_resp *out);

void console_handle(console *c, const http_req *r, http_resp *out)
{
    memset(out, 0, sizeof *out);
    gt_uuid4(out->request_id);
    route(c, r, out);
    security_headers(out);
}

static void route(console *c, const http_req *r, http_resp *out)
{
    bool post = strcmp(r->method, "POST") == 0;
    bool get = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
    static const char api[] = "/console/api/";
    if (r->path_len >= sizeof api - 1 && memcmp(r->path, api, sizeof api - 1) == 0) {
        if (path_is(r, "/console/api/session")) {
            session s;
            if (!get)
                reply_error(out, GT_E_CONSOLE_METHOD, NULL);
            else if (require_session(c, r, &s, false, out))
                reply_json(out, 200, session_json(c, &s));
            return;
        }
        bool known = path_is(r, "/console/api/signin") || path_is(r, "/console/api/signout") ||
                     path_is(r, "/console/api/call");
        if (!known) {
            reply_error(out, GT_E_CONSOLE_NOT_FOUND, NULL);
        } else if (!post) {
            reply_error(out, GT_E_CONSOLE_METHOD, NULL);
        } else if (!same_origin_json(r)) {
            reply_error(out, GT_E_CONSOLE_CSRF, NULL);
        } else if (path_is(r, "/console/api/signin")) {
            api_signin(c, r, out);
        } else if (path_is(r, "/console/api/signout")) {
            api_signout(c, r, out);
        } else {
            api_call(c, r, out);
        }
        return;
    }
    if (!get) {
        reply_error(out, GT_E_CONSOLE_METHOD, NULL);
        return;
    }
    static_file(r, out);
}
