/*
 * iam.c: the IAM service: users, groups, access keys, login profiles, roles,
 * inline and managed policies, OpenID Connect providers, the account alias.
 *
 * Storage (account-scoped, region "" since IAM is global):
 *   iam.user   id UserName   {"User":{Path,UserName,UserId,Arn,CreateDate},
 *                             "AccessKeys":[{AccessKeyId,Status,CreateDate}],
 *                             "Inline":{name: policy JSON text}, "Attached":[arn],
 *                             "LoginProfile":{CreateDate,PasswordResetRequired,Salt,Hash}}
 *   iam.group  id GroupName  {"Group":{...}, "Users":[names], "Inline":{...}, "Attached":[...]}
 *              (a user doc lists its "Groups"; group policies apply to members)
 *   iam.role   id RoleName   {"Role":{Path,RoleName,RoleId,Arn,CreateDate,
 *                             AssumeRolePolicyDocument (JSON text),Description,
 *                             MaxSessionDuration}, "Inline":{...}, "Attached":[...]}
 *   iam.policy id its ARN    {"Policy":{...}, "Document": JSON text}
 *   iam.oidc   id its ARN    {Url, ClientIDList, ThumbprintList, CreateDate, Tags}
 *   iam.account_alias id "alias" {Alias}; and globally ("", "", "iam.alias",
 *              alias) {AccountId}, so console sign-in finds the account
 * Access keys themselves are the global "access_key" documents of
 * auth/identity.c (so SigV4 finds them); a user's doc lists its key ids.
 *
 * Wire quirks kept: policy documents in responses are URL-encoded (AWS
 * does; botocore decodes them); list paging uses Marker = decimal offset.
 * Passwords are stored only as scrypt(N=16384,r=8,p=1) with a 16-byte
 * random salt.
 *
 * Invariants: a user with keys, policies or a login profile cannot be
 * deleted (DeleteConflict, as AWS); a managed policy's AttachmentCount
 * equals the number of users and roles listing it; secrets never appear
 * in records (iam_record_parts).
 */
#include "iam/iam.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/decode.h"
#include "api/query.h"
#include "api/service.h"
#include "auth/identity.h"
#include "auth/policy.h"
#include "sts/webid.h"
#include "util/gtutil.h"

static const char ADMIN_DOC[] =
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}]}";
static const char READONLY_DOC[] =
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[\"*:Get*\",\"*:List*\","
    "\"*:Describe*\",\"*:Lookup*\"],\"Resource\":\"*\"}]}";

static const struct {
    const char *name;
    const char *doc;
} BUILTIN[] = {
    {"AdministratorAccess", ADMIN_DOC},
    {"ReadOnlyAccess", READONLY_DOC},
};

static const char *builtin_doc(const char *arn)
{
    static const char pfx[] = "arn:aws:iam::aws:policy/";
    if (!arn || strncmp(arn, pfx, sizeof pfx - 1) != 0)
        return NULL;
    for (size_t i = 0; i < sizeof BUILTIN / sizeof BUILTIN[0]; i++)
        if (strcmp(arn + sizeof pfx - 1, BUILTIN[i].name) == 0)
            return BUILTIN[i].doc;
    return NULL;
}

/* ---------------------------------------------------------------- store helpers */

static json_t *load(store_txn *t, const char *account, const char *kind, const char *id)
{
    store_key k = {account, "", kind, id};
    char *body = NULL;
    if (store_doc_get(t, &k, &body) != STORE_OK)
        return NULL;
    json_t *j = json_loads(body, 0, NULL);
    free(body);
    return j;
}

static gt_err save(store_txn *t, const char *account, const char *kind, const char *id, json_t *doc)
{
    char *body = json_dumps(doc, JSON_COMPACT);
    if (!body)
        return GT_E_NOMEM;
    store_key k = {account, "", kind, id};
    int rc = store_doc_put(t, &k, NULL, body);
    free(body);
    return rc == STORE_OK ? GT_OK : GT_E_UNAVAILABLE;
}

static gt_err drop(store_txn *t, const char *account, const char *kind, const char *id)
{
    store_key k = {account, "", kind, id};
    int rc = store_doc_delete(t, &k);
    return rc == STORE_OK || rc == STORE_NOTFOUND ? GT_OK : GT_E_UNAVAILABLE;
}

json_t *iam_get_role(store_txn *t, const char *account, const char *name)
{
    return load(t, account, "iam.role", name);
}

json_t *iam_get_oidc(store_txn *t, const char *account, const char *arn)
{
    return load(t, account, "iam.oidc", arn);
}

char *iam_url_encode(const char *s)
{
    size_t n = strlen(s);
    char *o = malloc(n * 3 + 1);
    if (!o)
        return NULL;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
            o[j++] = (char)ch;
        } else {
            snprintf(o + j, 4, "%%%02X", ch);
            j += 3;
        }
    }
    o[j] = '\0';
    return o;
}

static void now_iso(const gt_call *c, char out[21])
{
    gt_fmt_iso_s(c->now_ms / 1000, out);
}

static const char *path_of(const gt_call *c)
{
    const char *p = gt_in_str(c, "Path");
    return p ? p : "/";
}

/* ---------------------------------------------------------------- paging */

static gt_err page_out(gt_call *c, json_t *all, const char *key)
{
    int64_t max = 100, off = 0;
    json_t *mi = json_object_get(c->input, "MaxItems");
    if (json_is_integer(mi))
        max = json_integer_value(mi);
    const char *marker = gt_in_str(c, "Marker");
    if (marker && (!gt_parse_i64(marker, strlen(marker), &off) || off < 0)) {
        json_decref(all);
        return gt_call_fail(c, GT_E_Q_VALIDATION, "Invalid Marker.");
    }
    size_t n = json_array_size(all);
    json_t *slice = json_array();
    for (size_t i = (size_t)off; i < n && (int64_t)(i - (size_t)off) < max; i++)
        json_array_append(slice, json_array_get(all, i));
    bool trunc = (size_t)off + json_array_size(slice) < n;
    c->output = json_object();
    json_object_set_new(c->output, key, slice);
    json_object_set_new(c->output, "IsTruncated", json_boolean(trunc));
    if (trunc) {
        char m[32];
        snprintf(m, sizeof m, "%lld", (long long)(off + (int64_t)json_array_size(slice)));
        json_object_set_new(c->output, "Marker", json_string(m));
    }
    json_decref(all);
    return GT_OK;
}

typedef struct list_ctx {
    json_t *out;
    const char *entity;
    const char *path_prefix;
} list_ctx;

static int list_cb(void *ud, int64_t seq, const char *id, const char *body)
{
    list_ctx *l = ud;
    json_t *j = json_loads(body, 0, NULL);
    json_t *e = j ? json_object_get(j, l->entity) : NULL;
    const char *path = json_string_value(json_object_get(e, "Path"));
    if (e && (!l->path_prefix || (path && strncmp(path, l->path_prefix, strlen(l->path_prefix)) == 0)))
        json_array_append(l->out, e);
    json_decref(j);
    return 0;
}

/* ---------------------------------------------------------------- principals (users, roles) */

typedef struct pkind {
    const char *kind;      /* "iam.user" */
    const char *entity;    /* "User" */
    const char *name_key;  /* "UserName" */
    const char *noun;      /* "user" (messages, ARNs) */
    const char *title;     /* "User" */
    const char *id_key;    /* "UserId" */
    const char *id_prefix; /* "AIDA" */
    const char *plural;    /* "Users" (List output) */
} pkind;

static const pkind USER = {"iam.user", "User", "UserName", "user", "User", "UserId", "AIDA", "Users"};
static const pkind ROLE = {"iam.role", "Role", "RoleName", "role", "Role", "RoleId", "AROA", "Roles"};
static const pkind GROUP = {"iam.group", "Group", "GroupName", "group", "Group", "GroupId", "AGPA", "Groups"};

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Which kind of principal an operation is about. */
static const pkind *pkind_of(const char *op)
{
    if (strstr(op, "Role"))
        return &ROLE;
    if (ends_with(op, "GroupPolicy") || ends_with(op, "GroupPolicies") || strcmp(op, "CreateGroup") == 0 ||
        strcmp(op, "GetGroup") == 0 || strcmp(op, "DeleteGroup") == 0 || strcmp(op, "ListGroups") == 0)
        return &GROUP;
    return &USER;
}

static gt_err no_entity(gt_call *c, const pkind *k, const char *name)
{
    return gt_call_fail(c, GT_E_IAM_NO_SUCH_ENTITY, "The %s with name %s cannot be found.", k->noun, name);
}

/* The target user name: UserName, or the caller's own user. */
static const char *target_user(gt_call *c)
{
    const char *u = gt_in_str(c, "UserName");
    if (u)
        return u;
    if (strcmp(c->who->type, "IAMUser") == 0)
        return c->who->user_name;
    return NULL;
}

static gt_err h_create_principal(gt_call *c, store_txn *t)
{
    const pkind *k = pkind_of(c->op->name);
    const char *name = gt_in_str(c, k->name_key);
    json_t *old = load(t, c->account, k->kind, name);
    if (old) {
        json_decref(old);
        return gt_call_fail(c, GT_E_IAM_ENTITY_EXISTS, "%s with name %s already exists.", k->title, name);
    }
    const char *path = path_of(c);
    if (path[0] != '/' || path[strlen(path) - 1] != '/')
        return gt_call_fail(c, GT_E_Q_VALIDATION, "The specified value for path is invalid. It must begin and end with / and contain only alphanumeric characters and/or / characters.");
    char id[32], arn[512], when[21];
    if (!auth_new_id(id, sizeof id, k->id_prefix))
        return GT_E_INTERNAL;
    snprintf(arn, sizeof arn, "arn:aws:iam::%s:%s%s%s", c->account, k->noun, path, name);
    now_iso(c, when);
    json_t *e = json_pack("{s:s, s:s, s:s, s:s, s:s}", "Path", path, k->name_key, name,
                          k->id_key, id, "Arn", arn, "CreateDate", when);
    if (k == &ROLE) {
        const char *trust = gt_in_str(c, "AssumeRolePolicyDocument");
        char why[256];
        if (!auth_policy_valid(trust, true, why, sizeof why)) {
            json_decref(e);
            return gt_call_fail(c, GT_E_IAM_MALFORMED_POLICY, "%s", why);
        }
        json_object_set_new(e, "AssumeRolePolicyDocument", json_string(trust));
        if (gt_in_str(c, "Description"))
            json_object_set_new(e, "Description", json_string(gt_in_str(c, "Description")));
        json_t *msd = json_object_get(c->input, "MaxSessionDuration");
        json_object_set_new(e, "MaxSessionDuration", json_is_integer(msd) ? json_copy(msd) : json_integer(3600));
    }
    json_t *tags = json_object_get(c->input, "Tags");
    if (json_array_size(tags) > 0)
        json_object_set(e, "Tags", tags);
    json_t *doc = json_pack("{s:O, s:{}, s:[]}", k->entity, e, "Inline", "Attached");
    if (k == &USER) {
        json_object_set_new(doc, "AccessKeys", json_array());
        json_object_set_new(doc, "Groups", json_array());
    } else if (k == &GROUP) {
        json_object_set_new(doc, "Users", json_array());
        json_object_del(e, "Tags");   /* IAM groups have no tags */
    }
    gt_err r = save(t, c->account, k->kind, name, doc);
    json_decref(doc);
    if (r != GT_OK) {
        json_decref(e);
        return r;
    }
    c->output = json_object();
    json_object_set_new(c->output, k->entity, e);
    return GT_OK;
}

/* The entity as the API returns it (trust policy URL-encoded). */
static json_t *present(const pkind *k, json_t *doc)
{
    json_t *e = json_deep_copy(json_object_get(doc, k->entity));
    const char *trust = json_string_value(json_object_get(e, "AssumeRolePolicyDocument"));
    if (trust) {
        char *enc = iam_url_encode(trust);
        json_object_set_new(e, "AssumeRolePolicyDocument", json_string(enc ? enc : ""));
        free(enc);
    }
    return e;
}

static gt_err h_get_principal(gt_call *c, store_txn *t)
{
    const pkind *k = pkind_of(c->op->name);
    const char *name = k == &USER ? target_user(c) : gt_in_str(c, k->name_key);
    if (!name)
        return gt_call_fail(c, GT_E_Q_VALIDATION, "Must specify userName when calling with non-User credentials");
    json_t *doc = load(t, c->account, k->kind, name);
    if (!doc)
        return no_entity(c, k, name);
    c->output = json_object();
    json_object_set_new(c->output, k->entity, present(k, doc));
    if (k == &GROUP) {
        /* GetGroup lists its members (as User entities) */
        json_t *users = json_array();
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(doc, "Users"), i, v) {
            json_t *ud = load(t, c->account, "iam.user", json_string_value(v));
            if (ud)
                json_array_append(users, json_object_get(ud, "User"));
            json_decref(ud);
        }
        json_object_set_new(c->output, "Users", users);
        json_object_set_new(c->output, "IsTruncated", json_false());
    }
    json_decref(doc);
    return GT_OK;
}

static gt_err h_list_principals(gt_call *c, store_txn *t)
{
    const pkind *k = pkind_of(c->op->name);
    list_ctx l = {.out = json_array(), .entity = k->entity, .path_prefix = gt_in_str(c, "PathPrefix")};
    if (store_doc_list(t, c->account, "", k->kind, NULL, 0, false, 0, list_cb, &l) != STORE_OK) {
        json_decref(l.out);
        return GT_E_UNAVAILABLE;
    }
    if (k == &ROLE) {
        size_t i;
        json_t *e;
        json_array_foreach(l.out, i, e) {
            json_t *wrap = json_pack("{s:O}", "Role", e);
            json_array_set_new(l.out, i, present(k, wrap));
            json_decref(wrap);
        }
    }
    return page_out(c, l.out, k->plural);
}

static gt_err h_delete_principal(gt_call *c, store_txn *t)
{
    const pkind *k = pkind_of(c->op->name);
    const char *name = gt_in_str(c, k->name_key);
    json_t *doc = load(t, c->account, k->kind, name);
    if (!doc)
        return no_entity(c, k, name);
    bool busy = json_object_size(json_object_get(doc, "Inline")) > 0 ||
                json_array_size(json_object_get(doc, "Attached")) > 0 ||
                json_array_size(json_object_get(doc, "AccessKeys")) > 0 || json_object_get(doc, "LoginProfile") ||
                json_array_size(json_object_get(doc, "Groups")) > 0 || json_array_size(json_object_get(doc, "Users")) > 0;
    json_decref(doc);
    if (busy)
        return gt_call_fail(c, GT_E_IAM_DELETE_CONFLICT, k == &USER
                            ? "Cannot delete entity, must remove user from all groups and delete policies, access keys and login profile first."
                            : k == &GROUP ? "Cannot delete entity, must remove users from group and delete policies first."
                                          : "Cannot delete entity, must delete policies first.");
    return drop(t, c->account, k->kind, name);
}

static gt_err h_update_trust(gt_call *c, store_txn *t)
{
    const char *name = gt_in_str(c, "RoleName");
    const char *trust = gt_in_str(c, "PolicyDocument");
    json_t *doc = load(t, c->account, "iam.role", name);
    if (!doc)
        return no_entity(c, &ROLE, name);
    char why[256];
    if (!auth_policy_valid(trust, true, why, sizeof why)) {
        json_decref(doc);
        return gt_call_fail(c, GT_E_IAM_MALFORMED_POLICY, "%s", why);
    }
    json_object_set_new(json_object_get(doc, "Role"), "AssumeRolePolicyDocument", json_string(trust));
    gt_err r = save(t, c->account, "iam.role", name, doc);
    json_decref(doc);
    return r;
}

/* ---------------------------------------------------------------- group membership */

static long name_index(json_t *arr, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
        if (strcmp(json_string_value(v), name) == 0)
            return (long)i;
    return -1;
}

static gt_err h_membership(gt_call *c, store_txn *t)
{
    bool add = strcmp(c->op->name, "AddUserToGroup") == 0;
    const char *gname = gt_in_str(c, "GroupName"), *uname = gt_in_str(c, "UserName");
    json_t *g = load(t, c->account, "iam.group", gname);
    if (!g)
        return no_entity(c, &GROUP, gname);
    json_t *u = load(t, c->account, "iam.user", uname);
    if (!u) {
        json_decref(g);
        return no_entity(c, &USER, uname);
    }
    json_t *members = json_object_get(g, "Users"), *groups = json_object_get(u, "Groups");
    if (!groups) {
        groups = json_array();
        json_object_set_new(u, "Groups", groups);
    }
    long gi = name_index(members, uname), ui = name_index(groups, gname);
    gt_err r = GT_OK;
    if (add) {
        if (gi < 0)
            json_array_append_new(members, json_string(uname));
        if (ui < 0)
            json_array_append_new(groups, json_string(gname));
    } else if (gi < 0) {
        r = gt_call_fail(c, GT_E_IAM_NO_SUCH_ENTITY, "User %s is not in group %s.", uname, gname);
    } else {
        json_array_remove(members, (size_t)gi);
        if (ui >= 0)
            json_array_remove(groups, (size_t)ui);
    }
    if (r == GT_OK)
        r = save(t, c->account, "iam.group", gname, g);
    if (r == GT_OK)
        r = save(t, c->account, "iam.user", uname, u);
    json_decref(g);
    json_decref(u);
    return r;
}

static gt_err h_groups_for_user(gt_call *c, store_txn *t)
{
    const char *uname = gt_in_str(c, "UserName");
    json_t *u = load(t, c->account, "iam.user", uname);
    if (!u)
        return no_entity(c, &USER, uname);
    json_t *all = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(u, "Groups"), i, v) {
        json_t *g = load(t, c->account, "iam.group", json_string_value(v));
        if (g)
            json_array_append(all, json_object_get(g, "Group"));
        json_decref(g);
    }
    json_decref(u);
    return page_out(c, all, "Groups");
}

/* ---------------------------------------------------------------- access keys */

static gt_err h_create_access_key(gt_call *c, store_txn *t)
{
    const char *user = target_user(c);
    if (!user)
        return gt_call_fail(c, GT_E_Q_VALIDATION, "Must specify userName when calling with non-User credentials");
    json_t *doc = load(t, c->account, "iam.user", user);
    if (!doc)
        return no_entity(c, &USER, user);
    json_t *keys = json_object_get(doc, "AccessKeys");
    if (json_array_size(keys) >= 2) {
        json_decref(doc);
        return gt_call_fail(c, GT_E_IAM_LIMIT_EXCEEDED, "Cannot exceed quota for AccessKeysPerUser: 2");
    }
    json_t *u = json_object_get(doc, "User");
    auth_principal p = {0};
    if (!auth_new_key(&p, "AKIA")) {
        json_decref(doc);
        return GT_E_INTERNAL;
    }
    gt_strlcpy(p.type, "IAMUser", sizeof p.type);
    gt_strlcpy(p.principal_id, json_string_value(json_object_get(u, "UserId")), sizeof p.principal_id);
    gt_strlcpy(p.arn, json_string_value(json_object_get(u, "Arn")), sizeof p.arn);
    gt_strlcpy(p.account_id, c->account, sizeof p.account_id);
    gt_strlcpy(p.user_name, user, sizeof p.user_name);
    char when[21];
    now_iso(c, when);
    gt_err r = auth_put_key(t, &p);
    if (r == GT_OK) {
        json_array_append_new(keys, json_pack("{s:s, s:s, s:s}", "AccessKeyId", p.access_key_id, "Status",
                                              "Active", "CreateDate", when));
        r = save(t, c->account, "iam.user", user, doc);
    }
    json_decref(doc);
    if (r != GT_OK)
        return r;
    c->output = json_pack("{s:{s:s, s:s, s:s, s:s, s:s}}", "AccessKey", "UserName", user, "AccessKeyId",
                          p.access_key_id, "Status", "Active", "SecretAccessKey", p.secret, "CreateDate", when);
    OPENSSL_cleanse(p.secret, sizeof p.secret);
    return GT_OK;
}

static gt_err h_list_access_keys(gt_call *c, store_txn *t)
{
    const char *user = target_user(c);
    if (!user)
        return gt_call_fail(c, GT_E_Q_VALIDATION, "Must specify userName when calling with non-User credentials");
    json_t *doc = load(t, c->account, "iam.user", user);
    if (!doc)
        return no_entity(c, &USER, user);
    json_t *all = json_array();
    size_t i;
    json_t *k;
    json_array_foreach(json_object_get(doc, "AccessKeys"), i, k) {
        json_t *e = json_deep_copy(k);
        json_object_set_new(e, "UserName", json_string(user));
        json_array_append_new(all, e);
    }
    json_decref(doc);
    return page_out(c, all, "AccessKeyMetadata");
}

/* Find key id in the user's list; index or -1. */
static long key_index(json_t *keys, const char *id)
{
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k)
        if (strcmp(json_string_value(json_object_get(k, "AccessKeyId")), id) == 0)
            return (long)i;
    return -1;
}

static gt_err h_change_access_key(gt_call *c, store_txn *t)
{
    bool del = strcmp(c->op->name, "DeleteAccessKey") == 0;
    const char *user = target_user(c);
    const char *id = gt_in_str(c, "AccessKeyId");
    if (!user)
        return gt_call_fail(c, GT_E_Q_VALIDATION, "Must specify userName when calling with non-User credentials");
    json_t *doc = load(t, c->account, "iam.user", user);
    if (!doc)
        return no_entity(c, &USER, user);
    json_t *keys = json_object_get(doc, "AccessKeys");
    long i = key_index(keys, id);
    if (i < 0) {
        json_decref(doc);
        return gt_call_fail(c, GT_E_IAM_NO_SUCH_ENTITY, "The Access Key with id %s cannot be found.", id);
    }
    gt_err r = GT_OK;
    if (del) {
        json_array_remove(keys, (size_t)i);
        if (auth_delete_key(t, id) == STORE_ERR)
            r = GT_E_UNAVAILABLE;
    } else {
        const char *status = gt_in_str(c, "Status");
        auth_principal p;
        if (auth_get_key(t, id, &p) != STORE_OK) {
            r = GT_E_UNAVAILABLE;
        } else {
            p.active = strcmp(status, "Active") == 0;
            r = auth_put_key(t, &p);
            OPENSSL_cleanse(p.secret, sizeof p.secret);
        }
        json_object_set_new(json_array_get(keys, (size_t)i), "Status", json_string(status));
    }
    if (r == GT_OK)
        r = save(t, c->account, "iam.user", user, doc);
    json_decref(doc);
    return r;
}

/* ---------------------------------------------------------------- login profiles */

#define IAM_SCRYPT_N 16384
#define IAM_SCRYPT_R 8
#define IAM_SCRYPT_P 1

static bool hash_password(const char *pw, const unsigned char *salt, size_t saltlen, unsigned char out[32])
{
    return EVP_PBE_scrypt(pw, strlen(pw), salt, saltlen, IAM_SCRYPT_N, IAM_SCRYPT_R, IAM_SCRYPT_P,
                          64ull * 1024 * 1024, out, 32) == 1;
}

static gt_err set_password(json_t *lp, const char *pw);

static gt_err h_create_login_profile(gt_call *c, store_txn *t)
{
    const char *user = target_user(c);
    const char *pw = gt_in_str(c, "Password");
    if (!user)
        return gt_call_fail(c, GT_E_Q_VALIDATION, "Must specify userName when calling with non-User credentials");
    json_t *doc = load(t, c->account, "iam.user", user);
    if (!doc)
        return no_entity(c, &USER, user);
    if (json_object_get(doc, "LoginProfile")) {
        json_decref(doc);
        return gt_call_fail(c, GT_E_IAM_ENTITY_EXISTS, "Login Profile for user %s already exists.", user);
    }
    /* AWS's default password policy: at least 8 characters [doc, from memory] */
    if (!pw || strlen(pw) < 8) {
        json_decref(doc);
        return gt_call_fail(c, GT_E_IAM_PASSWORD_POLICY, "Password should have a minimum length of 8");
    }
    char when[21];
    now_iso(c, when);
    bool reset = json_is_true(json_object_get(c->input, "PasswordResetRequired"));
    json_t *lp = json_pack("{s:s, s:b, s:s}", "CreateDate", when, "PasswordResetRequired", reset, "Kdf",
                           "scrypt-16384-8-1");
    gt_err r = set_password(lp, pw);
    if (r != GT_OK) {
        json_decref(lp);
        json_decref(doc);
        return r;
    }
    json_object_set_new(doc, "LoginProfile", lp);
    r = save(t, c->account, "iam.user", user, doc);
    json_decref(doc);
    if (r != GT_OK)
        return r;
    c->output = json_pack("{s:{s:s, s:s, s:b}}", "LoginProfile", "UserName", user, "CreateDate", when,
                          "PasswordResetRequired", reset);
    return GT_OK;
}

bool iam_check_password(store_txn *t, const char *account, const char *user, const char *password)
{
    json_t *doc = load(t, account, "iam.user", user);
    json_t *lp = json_object_get(doc, "LoginProfile");
    const char *salthex = json_string_value(json_object_get(lp, "Salt"));
    const char *hhex = json_string_value(json_object_get(lp, "Hash"));
    unsigned char salt[16], want[32], got[32];
    bool ok = salthex && hhex && password && strlen(salthex) == 32 && strlen(hhex) == 64 &&
              gt_unhex(salthex, salt, sizeof salt) && gt_unhex(hhex, want, sizeof want) &&
              hash_password(password, salt, sizeof salt, got) && CRYPTO_memcmp(got, want, sizeof got) == 0;
    json_decref(doc);
    return ok;
}

gt_err iam_console_user(store_txn *t, const char *account, const char *user, const char *password,
                        auth_principal *out, bool *known)
{
    memset(out, 0, sizeof *out);
    *known = false;
    json_t *doc = load(t, account, "iam.user", user);
    json_t *u = json_object_get(doc, "User");
    const char *id = json_string_value(json_object_get(u, "UserId"));
    const char *arn = json_string_value(json_object_get(u, "Arn"));
    bool has_profile = json_object_get(doc, "LoginProfile") != NULL;
    if (id && arn) {
        *known = true;
        gt_strlcpy(out->type, "IAMUser", sizeof out->type);
        gt_strlcpy(out->principal_id, id, sizeof out->principal_id);
        gt_strlcpy(out->arn, arn, sizeof out->arn);
        gt_strlcpy(out->account_id, account, sizeof out->account_id);
        gt_strlcpy(out->user_name, user, sizeof out->user_name);
        out->active = true;
    }
    json_decref(doc);
    if (!*known || !has_profile)
        return GT_E_UNRECOGNIZED_CLIENT;
    if (password && !iam_check_password(t, account, user, password))
        return GT_E_UNRECOGNIZED_CLIENT;
    return GT_OK;
}

/* Store a new password hash in lp (salted scrypt). */
static gt_err set_password(json_t *lp, const char *pw)
{
    unsigned char salt[16], h[32];
    char salthex[33], hhex[65];
    if (!gt_random_bytes(salt, sizeof salt) || !hash_password(pw, salt, sizeof salt, h))
        return GT_E_INTERNAL;
    gt_hex(salt, sizeof salt, salthex);
    gt_hex(h, sizeof h, hhex);
    json_object_set_new(lp, "Salt", json_string(salthex));
    json_object_set_new(lp, "Hash", json_string(hhex));
    return GT_OK;
}

/* UpdateLoginProfile (an administrator) and ChangePassword (the caller,
 * knowing the old password). */
static gt_err h_update_password(gt_call *c, store_txn *t)
{
    bool change = strcmp(c->op->name, "ChangePassword") == 0;
    const char *user = change ? (strcmp(c->who->type, "IAMUser") == 0 ? c->who->user_name : NULL) : gt_in_str(c, "UserName");
    const char *pw = gt_in_str(c, change ? "NewPassword" : "Password");
    if (!user)
        return gt_call_fail(c, GT_E_Q_VALIDATION, "Only IAM users can change their own password.");
    json_t *doc = load(t, c->account, "iam.user", user);
    if (!doc)
        return no_entity(c, &USER, user);
    json_t *lp = json_object_get(doc, "LoginProfile");
    gt_err r = GT_OK;
    if (!lp)
        r = gt_call_fail(c, GT_E_IAM_NO_SUCH_ENTITY, "Login Profile for User %s cannot be found.", user);
    else if (change && !iam_check_password(t, c->account, user, gt_in_str(c, "OldPassword")))
        r = gt_call_fail(c, GT_E_IAM_INVALID_INPUT, "The old password was incorrect.");
    else if (pw && strlen(pw) < 8)
        r = gt_call_fail(c, GT_E_IAM_PASSWORD_POLICY, "Password should have a minimum length of 8");
    if (r == GT_OK && pw)
        r = set_password(lp, pw);
    if (r == GT_OK) {
        json_t *reset = json_object_get(c->input, "PasswordResetRequired");
        if (change)
            json_object_set_new(lp, "PasswordResetRequired", json_false());
        else if (json_is_boolean(reset))
            json_object_set(lp, "PasswordResetRequired", reset);
        r = save(t, c->account, "iam.user", user, doc);
    }
    json_decref(doc);
    return r;
}

/* TagUser/UntagUser/ListUserTags and the Role forms: tags live in the
 * entity ("Tags": [{Key, Value}], keys unique, at most 50 as AWS). */
static gt_err h_tags(gt_call *c, store_txn *t)
{
    const pkind *k = pkind_of(c->op->name);
    const char *name = gt_in_str(c, k->name_key);
    json_t *doc = load(t, c->account, k->kind, name);
    if (!doc)
        return no_entity(c, k, name);
    json_t *e = json_object_get(doc, k->entity);
    json_t *tags = json_object_get(e, "Tags");
    if (!tags) {
        tags = json_array();
        json_object_set_new(e, "Tags", tags);
    }
    gt_err r = GT_OK;
    size_t i, j;
    json_t *v, *w;
    if (strncmp(c->op->name, "List", 4) == 0) {
        json_t *all = json_deep_copy(tags);
        json_decref(doc);
        return page_out(c, all, "Tags");
    }
    if (strncmp(c->op->name, "Tag", 3) == 0) {
        json_array_foreach(json_object_get(c->input, "Tags"), i, v) {
            const char *key = json_string_value(json_object_get(v, "Key"));
            bool replaced = false;
            json_array_foreach(tags, j, w)
                if (strcmp(json_string_value(json_object_get(w, "Key")), key) == 0) {
                    json_array_set(tags, j, v);
                    replaced = true;
                }
            if (!replaced)
                json_array_append(tags, v);
        }
        if (json_array_size(tags) > 50)
            r = gt_call_fail(c, GT_E_IAM_LIMIT_EXCEEDED, "Cannot exceed quota for TagsPerEntity: 50");
    } else {
        json_array_foreach(json_object_get(c->input, "TagKeys"), i, v)
            for (j = json_array_size(tags); j-- > 0;)
                if (strcmp(json_string_value(json_object_get(json_array_get(tags, j), "Key")),
                           json_string_value(v)) == 0)
                    json_array_remove(tags, j);
    }
    if (json_array_size(tags) == 0)
        json_object_del(e, "Tags");
    if (r == GT_OK)
        r = save(t, c->account, k->kind, name, doc);
    json_decref(doc);
    return r;
}

static gt_err h_update_role(gt_call *c, store_txn *t)
{
    const char *name = gt_in_str(c, "RoleName");
    json_t *doc = load(t, c->account, "iam.role", name);
    if (!doc)
        return no_entity(c, &ROLE, name);
    json_t *role = json_object_get(doc, "Role");
    if (gt_in_str(c, "Description"))
        json_object_set_new(role, "Description", json_string(gt_in_str(c, "Description")));
    json_t *msd = json_object_get(c->input, "MaxSessionDuration");
    if (json_is_integer(msd))
        json_object_set(role, "MaxSessionDuration", msd);
    gt_err r = save(t, c->account, "iam.role", name, doc);
    json_decref(doc);
    if (r == GT_OK)
        c->output = json_object();
    return r;
}

static gt_err h_login_profile(gt_call *c, store_txn *t)
{
    bool del = strncmp(c->op->name, "Delete", 6) == 0;
    const char *user = target_user(c);
    if (!user)
        return gt_call_fail(c, GT_E_Q_VALIDATION, "Must specify userName when calling with non-User credentials");
    json_t *doc = load(t, c->account, "iam.user", user);
    if (!doc)
        return no_entity(c, &USER, user);
    json_t *lp = json_object_get(doc, "LoginProfile");
    if (!lp) {
        json_decref(doc);
        return gt_call_fail(c, GT_E_IAM_NO_SUCH_ENTITY, "Login Profile for User %s cannot be found.", user);
    }
    gt_err r = GT_OK;
    if (del) {
        json_object_del(doc, "LoginProfile");
        r = save(t, c->account, "iam.user", user, doc);
    } else {
        c->output = json_pack("{s:{s:s, s:O, s:O}}", "LoginProfile", "UserName", user, "CreateDate",
                              json_object_get(lp, "CreateDate"), "PasswordResetRequired",
                              json_object_get(lp, "PasswordResetRequired"));
    }
    json_decref(doc);
    return r;
}

/* ---------------------------------------------------------------- inline policies */

static gt_err h_inline(gt_call *c, store_txn *t)
{
    const pkind *k = pkind_of(c->op->name);
    const char *name = gt_in_str(c, k->name_key);
    const char *pname = gt_in_str(c, "PolicyName");
    json_t *doc = load(t, c->account, k->kind, name);
    if (!doc)
        return no_entity(c, k, name);
    json_t *in = json_object_get(doc, "Inline");
    if (!in) {
        in = json_object();
        json_object_set_new(doc, "Inline", in);
    }
    gt_err r = GT_OK;
    const char *op = c->op->name;
    if (strncmp(op, "Put", 3) == 0) {
        const char *text = gt_in_str(c, "PolicyDocument");
        char why[256];
        if (!auth_policy_valid(text, false, why, sizeof why))
            r = gt_call_fail(c, GT_E_IAM_MALFORMED_POLICY, "%s", why);
        else {
            json_object_set_new(in, pname, json_string(text));
            r = save(t, c->account, k->kind, name, doc);
        }
    } else if (strncmp(op, "Get", 3) == 0) {
        const char *text = json_string_value(json_object_get(in, pname));
        if (!text) {
            r = gt_call_fail(c, GT_E_IAM_NO_SUCH_ENTITY, "The %s policy with name %s cannot be found.", k->noun, pname);
        } else {
            char *enc = iam_url_encode(text);
            c->output = json_pack("{s:s, s:s, s:s}", k->name_key, name, "PolicyName", pname, "PolicyDocument",
                                  enc ? enc : "");
            free(enc);
        }
    } else if (strncmp(op, "Delete", 6) == 0) {
        if (!json_object_get(in, pname))
            r = gt_call_fail(c, GT_E_IAM_NO_SUCH_ENTITY, "The %s policy with name %s cannot be found.", k->noun, pname);
        else {
            json_object_del(in, pname);
            r = save(t, c->account, k->kind, name, doc);
        }
    } else { /* List */
        json_t *names = json_array();
        const char *key;
        json_t *v;
        json_object_foreach(in, key, v)
            json_array_append_new(names, json_string(key));
        json_decref(doc);
        return page_out(c, names, "PolicyNames");
    }
    json_decref(doc);
    return r;
}

/* ---------------------------------------------------------------- managed policies */

static gt_err h_create_policy(gt_call *c, store_txn *t)
{
    const char *name = gt_in_str(c, "PolicyName");
    const char *text = gt_in_str(c, "PolicyDocument");
    const char *path = path_of(c);
    char arn[512], id[32], when[21], why[256];
    snprintf(arn, sizeof arn, "arn:aws:iam::%s:policy%s%s", c->account, path, name);
    json_t *old = load(t, c->account, "iam.policy", arn);
    if (old) {
        json_decref(old);
        return gt_call_fail(c, GT_E_IAM_ENTITY_EXISTS, "A policy called %s already exists. Duplicate names are not allowed.", name);
    }
    if (!auth_policy_valid(text, false, why, sizeof why))
        return gt_call_fail(c, GT_E_IAM_MALFORMED_POLICY, "%s", why);
    if (!auth_new_id(id, sizeof id, "ANPA"))
        return GT_E_INTERNAL;
    now_iso(c, when);
    json_t *pol = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:b, s:s, s:s}", "PolicyName", name, "PolicyId", id,
                            "Arn", arn, "Path", path, "DefaultVersionId", "v1", "AttachmentCount", 0,
                            "PermissionsBoundaryUsageCount", 0, "IsAttachable", 1, "CreateDate", when,
                            "UpdateDate", when);
    if (gt_in_str(c, "Description"))
        json_object_set_new(pol, "Description", json_string(gt_in_str(c, "Description")));
    json_t *doc = json_pack("{s:O, s:s}", "Policy", pol, "Document", text);
    gt_err r = save(t, c->account, "iam.policy", arn, doc);
    json_decref(doc);
    if (r != GT_OK) {
        json_decref(pol);
        return r;
    }
    c->output = json_object();
    json_object_set_new(c->output, "Policy", pol);
    return GT_OK;
}

static gt_err no_policy(gt_call *c, const char *arn)
{
    return gt_call_fail(c, GT_E_IAM_NO_SUCH_ENTITY, "Policy %s does not exist or is not attachable.", arn);
}

static json_t *builtin_policy(const char *arn)
{
    if (!builtin_doc(arn))
        return NULL;
    const char *name = strrchr(arn, '/') + 1;
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:s}", "PolicyName", name, "PolicyId", "ANPAGREENTRAILBUILTIN",
                     "Arn", arn, "Path", "/", "DefaultVersionId", "v1", "IsAttachable", 1, "CreateDate",
                     "2015-02-06T18:39:46Z", "UpdateDate", "2015-02-06T18:39:46Z");
}

static gt_err h_get_policy(gt_call *c, store_txn *t)
{
    const char *arn = gt_in_str(c, "PolicyArn");
    json_t *pol = builtin_policy(arn);
    json_t *doc = pol ? NULL : load(t, c->account, "iam.policy", arn);
    if (!pol && !doc)
        return gt_call_fail(c, GT_E_IAM_NO_SUCH_ENTITY, "Policy %s was not found.", arn);
    if (strcmp(c->op->name, "GetPolicyVersion") == 0) {
        const char *vid = gt_in_str(c, "VersionId");
        const char *text = doc ? json_string_value(json_object_get(doc, "Document")) : builtin_doc(arn);
        if (strcmp(vid, "v1") != 0) {
            json_decref(pol);
            json_decref(doc);
            return gt_call_fail(c, GT_E_IAM_NO_SUCH_ENTITY, "Policy %s version %s does not exist or is not attachable.", arn, vid);
        }
        char *enc = iam_url_encode(text);
        c->output = json_pack("{s:{s:s, s:s, s:b, s:O}}", "PolicyVersion", "Document", enc ? enc : "", "VersionId",
                              "v1", "IsDefaultVersion", 1, "CreateDate",
                              json_object_get(pol ? pol : json_object_get(doc, "Policy"), "CreateDate"));
        free(enc);
    } else {
        c->output = json_pack("{s:O}", "Policy", pol ? pol : json_object_get(doc, "Policy"));
    }
    json_decref(pol);
    json_decref(doc);
    return GT_OK;
}

static gt_err h_list_policies(gt_call *c, store_txn *t)
{
    const char *scope = gt_in_str(c, "Scope");
    bool only = json_is_true(json_object_get(c->input, "OnlyAttached"));
    json_t *all = json_array();
    if (!scope || strcmp(scope, "Local") != 0)
        for (size_t i = 0; i < sizeof BUILTIN / sizeof BUILTIN[0]; i++) {
            char arn[128];
            snprintf(arn, sizeof arn, "arn:aws:iam::aws:policy/%s", BUILTIN[i].name);
            if (!only)
                json_array_append_new(all, builtin_policy(arn));
        }
    if (!scope || strcmp(scope, "AWS") != 0) {
        list_ctx l = {.out = json_array(), .entity = "Policy", .path_prefix = gt_in_str(c, "PathPrefix")};
        if (store_doc_list(t, c->account, "", "iam.policy", NULL, 0, false, 0, list_cb, &l) != STORE_OK) {
            json_decref(l.out);
            json_decref(all);
            return GT_E_UNAVAILABLE;
        }
        size_t i;
        json_t *p;
        json_array_foreach(l.out, i, p)
            if (!only || json_integer_value(json_object_get(p, "AttachmentCount")) > 0)
                json_array_append(all, p);
        json_decref(l.out);
    }
    return page_out(c, all, "Policies");
}

static gt_err h_delete_policy(gt_call *c, store_txn *t)
{
    const char *arn = gt_in_str(c, "PolicyArn");
    json_t *doc = load(t, c->account, "iam.policy", arn);
    if (!doc)
        return gt_call_fail(c, GT_E_IAM_NO_SUCH_ENTITY, "Policy %s was not found.", arn);
    json_int_t n = json_integer_value(json_object_get(json_object_get(doc, "Policy"), "AttachmentCount"));
    json_decref(doc);
    if (n > 0)
        return gt_call_fail(c, GT_E_IAM_DELETE_CONFLICT, "Cannot delete a policy attached to entities.");
    return drop(t, c->account, "iam.policy", arn);
}

static gt_err bump_attachments(store_txn *t, const gt_call *c, const char *arn, int delta)
{
    json_t *doc = load(t, c->account, "iam.policy", arn);
    if (!doc)
        return GT_OK;   /* built-in */
    json_t *p = json_object_get(doc, "Policy");
    json_int_t n = json_integer_value(json_object_get(p, "AttachmentCount")) + delta;
    json_object_set_new(p, "AttachmentCount", json_integer(n < 0 ? 0 : n));
    gt_err r = save(t, c->account, "iam.policy", arn, doc);
    json_decref(doc);
    return r;
}

static gt_err h_attach(gt_call *c, store_txn *t)
{
    const pkind *k = pkind_of(c->op->name);
    const char *name = gt_in_str(c, k->name_key);
    const char *arn = gt_in_str(c, "PolicyArn");
    bool attach = strncmp(c->op->name, "Attach", 6) == 0;
    json_t *doc = load(t, c->account, k->kind, name);
    if (!doc)
        return no_entity(c, k, name);
    json_t *list = json_object_get(doc, "Attached");
    if (!list) {
        list = json_array();
        json_object_set_new(doc, "Attached", list);
    }
    long at = -1;
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
        if (strcmp(json_string_value(v), arn) == 0)
            at = (long)i;
    gt_err r = GT_OK;
    if (attach) {
        json_t *pd = builtin_doc(arn) ? NULL : load(t, c->account, "iam.policy", arn);
        bool exists = builtin_doc(arn) || pd;
        json_decref(pd);
        if (!exists)
            r = no_policy(c, arn);
        else if (at < 0) {
            json_array_append_new(list, json_string(arn));
            r = save(t, c->account, k->kind, name, doc);
            if (r == GT_OK)
                r = bump_attachments(t, c, arn, 1);
        }
    } else {
        if (at < 0)
            r = gt_call_fail(c, GT_E_IAM_NO_SUCH_ENTITY, "Policy %s was not found.", arn);
        else {
            json_array_remove(list, (size_t)at);
            r = save(t, c->account, k->kind, name, doc);
            if (r == GT_OK)
                r = bump_attachments(t, c, arn, -1);
        }
    }
    json_decref(doc);
    return r;
}

static gt_err h_list_attached(gt_call *c, store_txn *t)
{
    const pkind *k = pkind_of(c->op->name);
    const char *name = gt_in_str(c, k->name_key);
    json_t *doc = load(t, c->account, k->kind, name);
    if (!doc)
        return no_entity(c, k, name);
    json_t *all = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(doc, "Attached"), i, v) {
        const char *arn = json_string_value(v);
        const char *slash = strrchr(arn, '/');
        json_array_append_new(all, json_pack("{s:s, s:s}", "PolicyName", slash ? slash + 1 : arn, "PolicyArn", arn));
    }
    json_decref(doc);
    return page_out(c, all, "AttachedPolicies");
}

/* ---------------------------------------------------------------- OIDC providers */

/* The whole file as a NUL-terminated string, or NULL if unreadable or
 * larger than cap bytes. */
static char *read_small_file(const char *path, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(cap + 1);
    size_t n = buf ? fread(buf, 1, cap + 1, f) : 0;
    fclose(f);
    if (!buf || n > cap) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

static gt_err h_create_oidc(gt_call *c, store_txn *t)
{
    const char *url = gt_in_str(c, "Url");
    if (strncmp(url, "https://", 8) != 0)
        return gt_call_fail(c, GT_E_IAM_INVALID_INPUT, "Invalid Openid Connect Provider URL");
    char arn[1200], when[21];
    snprintf(arn, sizeof arn, "arn:aws:iam::%s:oidc-provider/%s", c->account, url + 8);
    json_t *old = load(t, c->account, "iam.oidc", arn);
    if (old) {
        json_decref(old);
        return gt_call_fail(c, GT_E_IAM_ENTITY_EXISTS, "Provider with url %s already exists.", url);
    }
    /* greentrail extension: the provider's signing keys (a PEM public key
     * or a JWKS) are read once from the file named by the tag
     * "greentrail:keys-file"; AWS would fetch the issuer's JWKS over TLS. */
    char *keys = NULL;
    size_t i;
    json_t *tag;
    json_array_foreach(json_object_get(c->input, "Tags"), i, tag) {
        const char *tk = json_string_value(json_object_get(tag, "Key"));
        const char *path = json_string_value(json_object_get(tag, "Value"));
        if (!tk || strcmp(tk, "greentrail:keys-file") != 0 || !path)
            continue;
        keys = read_small_file(path, 65536);
        if (!keys || !sts_jwt_keys_usable(keys)) {
            free(keys);
            return gt_call_fail(c, GT_E_IAM_INVALID_INPUT, "greentrail:keys-file does not name a readable PEM public key or JWKS with an RSA key");
        }
    }
    now_iso(c, when);
    json_t *cl = json_object_get(c->input, "ClientIDList");
    json_t *tp = json_object_get(c->input, "ThumbprintList");
    json_t *tags = json_object_get(c->input, "Tags");
    json_t *doc = json_pack("{s:s, s:s, s:O, s:O, s:s, s:O}", "Url", url + 8, "Arn", arn, "ClientIDList",
                            cl ? cl : json_array(), "ThumbprintList", tp ? tp : json_array(), "CreateDate", when,
                            "Tags", tags ? tags : json_array());
    if (keys)
        json_object_set_new(doc, "Keys", json_string(keys));
    free(keys);
    gt_err r = save(t, c->account, "iam.oidc", arn, doc);
    json_decref(doc);
    if (r != GT_OK)
        return r;
    c->output = json_pack("{s:s}", "OpenIDConnectProviderArn", arn);
    if (json_array_size(tags) > 0)
        json_object_set(c->output, "Tags", tags);
    return GT_OK;
}

static gt_err h_oidc(gt_call *c, store_txn *t)
{
    const char *arn = gt_in_str(c, "OpenIDConnectProviderArn");
    json_t *doc = load(t, c->account, "iam.oidc", arn);
    if (!doc)
        return gt_call_fail(c, GT_E_IAM_NO_SUCH_ENTITY, "OpenIDConnect Provider not found for arn %s", arn);
    gt_err r = GT_OK;
    if (strncmp(c->op->name, "Delete", 6) == 0)
        r = drop(t, c->account, "iam.oidc", arn);
    else
        c->output = json_pack("{s:O, s:O, s:O, s:O, s:O}", "Url", json_object_get(doc, "Url"), "ClientIDList",
                              json_object_get(doc, "ClientIDList"), "ThumbprintList",
                              json_object_get(doc, "ThumbprintList"), "CreateDate", json_object_get(doc, "CreateDate"),
                              "Tags", json_object_get(doc, "Tags"));
    json_decref(doc);
    return r;
}

static int oidc_cb(void *ud, int64_t seq, const char *id, const char *body)
{
    json_array_append_new(ud, json_pack("{s:s}", "Arn", id));
    return 0;
}

static gt_err h_list_oidc(gt_call *c, store_txn *t)
{
    json_t *all = json_array();
    if (store_doc_list(t, c->account, "", "iam.oidc", NULL, 0, false, 0, oidc_cb, all) != STORE_OK) {
        json_decref(all);
        return GT_E_UNAVAILABLE;
    }
    c->output = json_object();
    json_object_set_new(c->output, "OpenIDConnectProviderList", all);
    return GT_OK;
}

/* ---------------------------------------------------------------- account alias */

/* An account alias (the sign-in page's "account ID or alias"): one per
 * account, unique across the server. Two documents written together: the
 * global ("", "", "iam.alias", alias) -> {"AccountId"} for sign-in, and
 * (account, "", "iam.account_alias", "alias") -> {"Alias"} for listing. */

static bool alias_ok(const char *a)
{
    size_t n = a ? strlen(a) : 0;
    if (n < 3 || n > 63 || strspn(a, "abcdefghijklmnopqrstuvwxyz0123456789-") != n || a[0] == '-' ||
        a[n - 1] == '-' || strstr(a, "--"))
        return false;
    return strspn(a, "0123456789") != n;   /* would be taken for an account id [AWS, from memory] */
}

static gt_err h_create_alias(gt_call *c, store_txn *t)
{
    const char *alias = gt_in_str(c, "AccountAlias");
    if (!alias_ok(alias))
        return gt_call_fail(c, GT_E_Q_VALIDATION,
                            "1 validation error detected: Value '%s' at 'accountAlias' failed to satisfy constraint: "
                            "Member must satisfy regular expression pattern: ^[a-z0-9]([a-z0-9]|-(?!-)){1,61}[a-z0-9]$",
                            alias ? alias : "");
    json_t *taken = load(t, "", "iam.alias", alias);
    const char *owner = json_string_value(json_object_get(taken, "AccountId"));
    bool other = owner && strcmp(owner, c->account) != 0;
    json_decref(taken);
    if (other)
        return gt_call_fail(c, GT_E_IAM_ENTITY_EXISTS, "The account alias %s already exists.", alias);
    /* a new alias replaces the account's old one */
    json_t *mine = load(t, c->account, "iam.account_alias", "alias");
    const char *old = json_string_value(json_object_get(mine, "Alias"));
    gt_err r = old && strcmp(old, alias) != 0 ? drop(t, "", "iam.alias", old) : GT_OK;
    json_decref(mine);
    json_t *g = json_pack("{s:s}", "AccountId", c->account), *a = json_pack("{s:s}", "Alias", alias);
    if (r == GT_OK)
        r = save(t, "", "iam.alias", alias, g);
    if (r == GT_OK)
        r = save(t, c->account, "iam.account_alias", "alias", a);
    json_decref(g);
    json_decref(a);
    if (r == GT_OK)
        c->output = json_object();
    return r;
}

static gt_err h_delete_alias(gt_call *c, store_txn *t)
{
    const char *alias = gt_in_str(c, "AccountAlias");
    json_t *mine = load(t, c->account, "iam.account_alias", "alias");
    const char *cur = json_string_value(json_object_get(mine, "Alias"));
    bool match = cur && alias && strcmp(cur, alias) == 0;
    json_decref(mine);
    if (!match)
        return gt_call_fail(c, GT_E_IAM_NO_SUCH_ENTITY, "The account alias %s cannot be found.", alias ? alias : "");
    gt_err r = drop(t, "", "iam.alias", alias);
    if (r == GT_OK)
        r = drop(t, c->account, "iam.account_alias", "alias");
    if (r == GT_OK)
        c->output = json_object();
    return r;
}

static gt_err h_list_aliases(gt_call *c, store_txn *t)
{
    json_t *mine = load(t, c->account, "iam.account_alias", "alias");
    const char *cur = json_string_value(json_object_get(mine, "Alias"));
    json_t *all = json_array();
    if (cur)
        json_array_append_new(all, json_string(cur));
    json_decref(mine);
    c->output = json_pack("{s:o, s:b}", "AccountAliases", all, "IsTruncated", 0);
    return GT_OK;
}

bool iam_alias_account(store_txn *t, const char *alias, char out[16])
{
    json_t *g = load(t, "", "iam.alias", alias);
    const char *acct = json_string_value(json_object_get(g, "AccountId"));
    bool ok = acct && gt_strlcpy(out, acct, 16);
    json_decref(g);
    return ok;
}

/* ---------------------------------------------------------------- bootstrap, lookups */

gt_err iam_bootstrap_admin(store_txn *t, const auth_principal *admin)
{
    json_t *old = load(t, admin->account_id, "iam.user", admin->user_name);
    if (old) {
        json_decref(old);
        return GT_OK;
    }
    json_t *doc = json_pack("{s:{s:s, s:s, s:s, s:s, s:s}, s:[{s:s, s:s, s:s}], s:{}, s:[s]}", "User", "Path", "/",
                            "UserName", admin->user_name, "UserId", admin->principal_id, "Arn", admin->arn,
                            "CreateDate", "1970-01-01T00:00:00Z", "AccessKeys", "AccessKeyId",
                            admin->access_key_id, "Status", "Active", "CreateDate", "1970-01-01T00:00:00Z",
                            "Inline", "Attached", IAM_ADMIN_POLICY_ARN);
    char when[21];
    gt_fmt_iso_s(gt_now_ms() / 1000, when);
    json_object_set_new(json_object_get(doc, "User"), "CreateDate", json_string(when));
    json_object_set_new(json_array_get(json_object_get(doc, "AccessKeys"), 0), "CreateDate", json_string(when));
    gt_err r = save(t, admin->account_id, "iam.user", admin->user_name, doc);
    json_decref(doc);
    return r;
}

gt_err iam_put_org_role(store_txn *t, const char *account, const char *name, const char *trust, int64_t now_ms)
{
    json_t *old = load(t, account, "iam.role", name);
    if (old) {
        json_decref(old);
        return GT_OK;
    }
    char id[32], arn[512], when[21];
    if (!auth_new_id(id, sizeof id, "AROA"))
        return GT_E_INTERNAL;
    snprintf(arn, sizeof arn, "arn:aws:iam::%s:role/%s", account, name);
    gt_fmt_iso_s(now_ms / 1000, when);
    json_t *doc = json_pack("{s:{s:s, s:s, s:s, s:s, s:s, s:s, s:i}, s:{}, s:[s]}", "Role", "Path", "/", "RoleName",
                            name, "RoleId", id, "Arn", arn, "CreateDate", when, "AssumeRolePolicyDocument", trust,
                            "MaxSessionDuration", 3600, "Inline", "Attached", IAM_ADMIN_POLICY_ARN);
    if (!doc)
        return GT_E_NOMEM;
    gt_err r = save(t, account, "iam.role", name, doc);
    json_decref(doc);
    return r;
}

static void append_text(json_t *docs, const char *text)
{
    json_t *d = text ? json_loads(text, 0, NULL) : NULL;
    if (d)
        json_array_append_new(docs, d);
}

/* The inline and attached managed policies of a user, role or group doc. */
static void append_entity_policies(store_txn *t, const char *account, json_t *doc, json_t *docs)
{
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(doc, "Inline"), k, v)
        append_text(docs, json_string_value(v));
    size_t i;
    json_array_foreach(json_object_get(doc, "Attached"), i, v) {
        const char *arn = json_string_value(v);
        const char *b = builtin_doc(arn);
        if (b) {
            append_text(docs, b);
        } else {
            json_t *pd = load(t, account, "iam.policy", arn);
            append_text(docs, json_string_value(json_object_get(pd, "Document")));
            json_decref(pd);
        }
    }
}

gt_err iam_policies_for(store_txn *t, const auth_principal *p, json_t *docs, bool *found)
{
    const char *kind = "iam.user", *account = p->account_id, *name = p->user_name;
    *found = false;
    if (strcmp(p->type, "AssumedRole") == 0) {
        kind = "iam.role";
        name = p->issuer.user_name;
    } else if (strcmp(p->type, "FederatedUser") == 0) {
        if (strcmp(p->issuer.type, "Root") == 0) {
            *found = true;
            append_text(docs, ADMIN_DOC);
            return GT_OK;
        }
        account = p->issuer.account_id;
        name = p->issuer.user_name;
    } else if (strcmp(p->type, "IAMUser") != 0) {
        return GT_OK;
    }
    json_t *doc = load(t, account, kind, name);
    if (!doc)
        return GT_OK;
    *found = true;
    append_entity_policies(t, account, doc, docs);
    /* a user's groups' policies apply to it too */
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(doc, "Groups"), i, v) {
        json_t *g = load(t, account, "iam.group", json_string_value(v));
        if (g)
            append_entity_policies(t, account, g, docs);
        json_decref(g);
    }
    json_decref(doc);
    return GT_OK;
}

/* ---------------------------------------------------------------- records */

/* "UserName" -> "userName", "OpenIDConnectProviderArn" -> "openIDConnectProviderArn". */
static void lower_camel(const char *in, char *out, size_t cap)
{
    gt_strlcpy(out, in, cap);
    if (out[0] >= 'A' && out[0] <= 'Z')
        out[0] = (char)(out[0] + 32);
}

/* CloudTrail's IAM/STS date style: "Nov 27, 2026, 9:50:57 AM" [observed in AWS samples]. */
static json_t *ct_date(const char *iso)
{
    int64_t ms;
    if (!iso || !gt_parse_iso(iso, &ms))
        return json_string(iso ? iso : "");
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    static const char *const MON[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    int h = tm.tm_hour % 12;
    char buf[64];
    snprintf(buf, sizeof buf, "%s %d, %d, %d:%02d:%02d %s", MON[tm.tm_mon % 12], tm.tm_mday, tm.tm_year + 1900,
             h ? h : 12, tm.tm_min, tm.tm_sec, tm.tm_hour < 12 ? "AM" : "PM");
    return json_string(buf);
}

static bool secret_member(const char *k)
{
    static const char *const S[] = {"SecretAccessKey", "Password", "NewPassword", "OldPassword",
                                    "WebIdentityToken", "SAMLAssertion", "TokenCode", NULL};
    for (size_t i = 0; S[i]; i++)
        if (strcmp(k, S[i]) == 0)
            return true;
    return false;
}

static json_t *to_record(const json_t *v, int depth)
{
    if (depth > 16)
        return json_null();
    if (json_is_object(v)) {
        json_t *o = json_object();
        const char *k;
        json_t *e;
        json_object_foreach((json_t *)v, k, e) {
            if (secret_member(k) || k[0] == '_')   /* '_': internal, e.g. _sharedEventID */
                continue;
            char ck[128];
            lower_camel(k, ck, sizeof ck);
            if (json_is_string(e) && (strcmp(k, "CreateDate") == 0 || strcmp(k, "Expiration") == 0 ||
                                      strcmp(k, "UpdateDate") == 0))
                json_object_set_new(o, ck, ct_date(json_string_value(e)));
            else
                json_object_set_new(o, ck, to_record(e, depth + 1));
        }
        return o;
    }
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
            json_array_append_new(a, to_record(e, depth + 1));
        return a;
    }
    return json_deep_copy(v);
}

void iam_record_parts(const gt_call *c, ct_record_parts *p)
{
    p->with_error_message = true;
    p->shared_event_id = json_string_value(json_object_get(c->output, "_sharedEventID"));
    p->request_parameters = json_object_size(c->input) > 0 ? to_record(c->input, 0) : NULL;
    bool issues_creds = c->output && json_object_get(c->output, "Credentials");
    if (c->err == GT_OK && c->output && (!c->op->read_only || issues_creds) && json_object_size(c->output) > 0)
        p->response_elements = to_record(c->output, 0);
}

/* ---------------------------------------------------------------- service */

static const gt_op_handler handlers[] = {
    {"AddUserToGroup", h_membership},
    {"AttachGroupPolicy", h_attach},
    {"AttachRolePolicy", h_attach},
    {"AttachUserPolicy", h_attach},
    {"ChangePassword", h_update_password},
    {"CreateAccessKey", h_create_access_key},
    {"CreateGroup", h_create_principal},
    {"CreateAccountAlias", h_create_alias},
    {"CreateLoginProfile", h_create_login_profile},
    {"CreateOpenIDConnectProvider", h_create_oidc},
    {"CreatePolicy", h_create_policy},
    {"CreateRole", h_create_principal},
    {"CreateUser", h_create_principal},
    {"DeleteAccessKey", h_change_access_key},
    {"DeleteGroup", h_delete_principal},
    {"DeleteGroupPolicy", h_inline},
    {"DeleteAccountAlias", h_delete_alias},
    {"DeleteLoginProfile", h_login_profile},
    {"DeleteOpenIDConnectProvider", h_oidc},
    {"DeletePolicy", h_delete_policy},
    {"DeleteRole", h_delete_principal},
    {"DeleteRolePolicy", h_inline},
    {"DeleteUser", h_delete_principal},
    {"DeleteUserPolicy", h_inline},
    {"DetachGroupPolicy", h_attach},
    {"DetachRolePolicy", h_attach},
    {"DetachUserPolicy", h_attach},
    {"GetGroup", h_get_principal},
    {"GetGroupPolicy", h_inline},
    {"GetLoginProfile", h_login_profile},
    {"GetOpenIDConnectProvider", h_oidc},
    {"GetPolicy", h_get_policy},
    {"GetPolicyVersion", h_get_policy},
    {"GetRole", h_get_principal},
    {"GetRolePolicy", h_inline},
    {"GetUser", h_get_principal},
    {"GetUserPolicy", h_inline},
    {"ListAccessKeys", h_list_access_keys},
    {"ListAccountAliases", h_list_aliases},
    {"ListAttachedGroupPolicies", h_list_attached},
    {"ListAttachedRolePolicies", h_list_attached},
    {"ListAttachedUserPolicies", h_list_attached},
    {"ListGroupPolicies", h_inline},
    {"ListGroups", h_list_principals},
    {"ListGroupsForUser", h_groups_for_user},
    {"ListOpenIDConnectProviders", h_list_oidc},
    {"ListPolicies", h_list_policies},
    {"ListRolePolicies", h_inline},
    {"ListRoleTags", h_tags},
    {"ListRoles", h_list_principals},
    {"ListUserPolicies", h_inline},
    {"ListUserTags", h_tags},
    {"ListUsers", h_list_principals},
    {"PutGroupPolicy", h_inline},
    {"PutRolePolicy", h_inline},
    {"PutUserPolicy", h_inline},
    {"RemoveUserFromGroup", h_membership},
    {"TagRole", h_tags},
    {"TagUser", h_tags},
    {"UntagRole", h_tags},
    {"UntagUser", h_tags},
    {"UpdateAccessKey", h_change_access_key},
    {"UpdateAssumeRolePolicy", h_update_trust},
    {"UpdateLoginProfile", h_update_password},
    {"UpdateRole", h_update_role},
};

gt_handler iam_handler_for(const char *op)
{
    return GT_OP_HANDLER_FIND(handlers, op);
}

static gt_err iam_map_error(const model_op *op, gt_err e, const char *msg)
{
    return api_query_err(e);
}

static void iam_encode_error(const gt_call *c, gt_err e, const char *msg, json_t *details, bool untyped,
                             http_resp *out)
{
    api_query_encode_error(&model_iam, c, e, msg, out);
}

const gt_service iam_service = {
    .signing_name = "iam",
    .model = &model_iam,
    .decode = api_query_decode,
    .handler_for = iam_handler_for,
    .record_parts = iam_record_parts,
    .map_error = iam_map_error,
    .encode_ok = gt_encode_query_ok,
    .encode_error = iam_encode_error,
};
