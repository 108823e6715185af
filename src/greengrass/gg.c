/*
 * gg.c: the Greengrass V1 service: its table of 92 handlers, groups, the
 * seven definition kinds and their versions, connectivity info, the
 * account's service role, idempotency tokens, paging, and the CloudTrail
 * record rules. Deployments, CAs, roles, tags etc. live in the sibling
 * files (gg_int.h lists them; docs/internals/greengrass.md the choices).
 *
 * Groups and definitions share one shape (greengrass.md §3): a container
 * (Arn, Id, Name, CreationTimestamp, LastUpdatedTimestamp, LatestVersion,
 * LatestVersionArn, tags) owning immutable versions. So one table row per
 * kind drives every Create/Get/List/Update/Delete and
 * Create/Get/ListVersion operation; the operation name tells the verb and
 * the kind. What differs per kind (ARN path, version content members,
 * AWS's irregular error messages) is data in `kinds[]`.
 *
 * Storage: containers are docs of kind "gg.<seg>", versions docs of kind
 * "gg.<seg>.ver" with the container id as parent. Documents hold exactly
 * the JSON the API returns, so Get is a read and a copy.
 *
 * Idempotency: operations with an AmznClientToken member run through
 * h_idempotent, which keeps (operation, token) -> (input, result) in
 * "gg.idem" docs inside the same transaction as the change.
 *
 * Invariants: ids are UUIDv4; versions are immutable; deleting a
 * container deletes its versions (a group also its deployments, CAs,
 * certificate configuration and role); unset optional fields are absent,
 * never "" or null; LastUpdatedTimestamp moves only on rename; tags live
 * in the container doc and die with it.
 */
#include "greengrass/gg.h"
#include "greengrass/gg_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/decode.h"
#include "api/pagetoken.h"
#include "api/service.h"
#include <openssl/evp.h>
#include "util/gtutil.h"
#include "util/jsonw.h"

typedef struct gg_kind {
    const char *infix;          /* op infix: "FunctionDefinition", "Group" */
    const char *seg;            /* "functions", "groups" */
    const char *content[3];     /* version content members */
    const char *title;          /* "That <title> List Definition does not exist." */
    const char *plural;         /* "That <plural> definition does not exist." */
    const char *create_ver_msg; /* Create*Version on an unknown container */
    const char *cfn;            /* CloudTrail resource type */
    const char *ref_name;       /* group-version reference error name */
    const char *ver_arn_member; /* CreateGroupVersion member */
} gg_kind;

static const gg_kind kinds[] = {
    {"CoreDefinition", "cores", {"Cores"}, "Core", "cores", "That cores definition does not exist.",
     "AWS::Greengrass::CoreDefinition", "Cores", "CoreDefinitionVersionArn"},
    {"DeviceDefinition", "devices", {"Devices"}, "Device", "devices", "That devices definition does not exist.",
     "AWS::Greengrass::DeviceDefinition", "Devices", "DeviceDefinitionVersionArn"},
    {"FunctionDefinition", "functions", {"Functions", "DefaultConfig"}, "Lambda", "lambdas", "That lambdas does not exist.",
     "AWS::Greengrass::FunctionDefinition", "Lambda", "FunctionDefinitionVersionArn"},
    {"SubscriptionDefinition", "subscriptions", {"Subscriptions"}, "Subscription", "subscriptions",
     "That subscriptions does not exist.", "AWS::Greengrass::SubscriptionDefinition", "Subscription",
     "SubscriptionDefinitionVersionArn"},
    {"LoggerDefinition", "loggers", {"Loggers"}, "Logger", "loggers", "That loggers definition does not exist.",
     "AWS::Greengrass::LoggerDefinition", "Logger", "LoggerDefinitionVersionArn"},
    {"ResourceDefinition", "resources", {"Resources"}, "Resource", "resources",
     "That resource definition does not exist.", "AWS::Greengrass::ResourceDefinition", "Resource",
     "ResourceDefinitionVersionArn"},
    {"ConnectorDefinition", "connectors", {"Connectors"}, "Connector", "connectors",
     "That connectors definition does not exist.", "AWS::Greengrass::ConnectorDefinition", "Connector",
     "ConnectorDefinitionVersionArn"},
    {"Group", "groups", {NULL}, "Group", "group",
     "That group does not exist.", "AWS::Greengrass::Group", NULL, NULL},
};
#define N_DEF_KINDS 7 /* kinds[0..6] are definitions, kinds[7] the group */

static const char *const group_refs[] = {
    "CoreDefinitionVersionArn", "DeviceDefinitionVersionArn", "FunctionDefinitionVersionArn",
    "SubscriptionDefinitionVersionArn", "LoggerDefinitionVersionArn", "ResourceDefinitionVersionArn",
    "ConnectorDefinitionVersionArn", NULL};

static bool is_group(const gg_kind *k) { return k == &kinds[N_DEF_KINDS]; }

/* Find the kind and verb of an op such as "ListFunctionDefinitionVersions". */
typedef enum { V_CREATE, V_GET, V_LIST, V_DELETE, V_UPDATE, V_CREATE_VER, V_GET_VER, V_LIST_VER, V_NONE } verb;

static verb parse_op(const char *op, const gg_kind **kind)
{
    static const struct { const char *prefix; const char *suffix; verb v; } forms[] = {
        {"Create", "Version", V_CREATE_VER}, {"Get", "Version", V_GET_VER}, {"List", "Versions", V_LIST_VER},
        {"List", "s", V_LIST}, {"Create", "", V_CREATE}, {"Get", "", V_GET}, {"Delete", "", V_DELETE},
        {"Update", "", V_UPDATE},
    };
    size_t n = strlen(op);
    for (size_t f = 0; f < sizeof forms / sizeof forms[0]; f++) {
        size_t pl = strlen(forms[f].prefix), sl = strlen(forms[f].suffix);
        if (n <= pl + sl || strncmp(op, forms[f].prefix, pl) != 0 || strcmp(op + n - sl, forms[f].suffix) != 0)
            continue;
        const char *mid = op + pl;
        size_t ml = n - pl - sl;
        for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
            if (strlen(kinds[k].infix) == ml && strncmp(mid, kinds[k].infix, ml) == 0) {
                *kind = &kinds[k];
                return forms[f].v;
            }
    }
    return V_NONE;
}

/* ---------------------------------------------------------------- helpers */

static void doc_kind(const gg_kind *k, bool version, char *out, size_t cap)
{
    snprintf(out, cap, "gg.%s%s", k->seg, version ? ".ver" : "");
}

static void container_arn(const gt_call *c, const gg_kind *k, const char *id, char *out, size_t cap)
{
    if (is_group(k))
        snprintf(out, cap, "arn:aws:greengrass:%s:%s:/greengrass/groups/%s", c->region, c->account, id);
    else
        snprintf(out, cap, "arn:aws:greengrass:%s:%s:/greengrass/definition/%s/%s", c->region, c->account,
                 k->seg, id);
}

static const char *id_member(const gg_kind *k, char *buf, size_t cap)
{
    snprintf(buf, cap, "%sId", k->infix);
    return buf;
}

json_t *gg_load(store_txn *t, const gt_call *c, const char *dkind, const char *id, int *rc)
{
    char *body = NULL;
    store_key key = {c->account, c->region, dkind, id};
    *rc = store_doc_get(t, &key, &body);
    if (*rc != STORE_OK)
        return NULL;
    json_t *j = json_loads(body, 0, NULL);
    free(body);
    if (!j)
        *rc = STORE_ERR;
    return j;
}

gt_err gg_save(store_txn *t, const gt_call *c, const char *dkind, const char *id, const char *parent,
               json_t *doc)
{
    char *text = gt_json_dumps(doc, false, false);
    if (!text)
        return GT_E_NOMEM;
    store_key key = {c->account, c->region, dkind, id};
    int rc = store_doc_put(t, &key, parent, text);
    free(text);
    return rc == STORE_OK ? GT_OK : GT_E_UNAVAILABLE;
}

static bool str_eq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

gt_err gg_store_fail(int rc)
{
    return rc == STORE_ERR ? GT_E_UNAVAILABLE : GT_E_INTERNAL;
}

gt_err gg_fail_untyped400(gt_call *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->errmsg, sizeof c->errmsg, fmt, ap);
    va_end(ap);
    c->err = GT_E_GG_UNTYPED_400;
    c->err_untyped = true;
    return c->err;
}

void gg_group_arn(const gt_call *c, const char *gid, char *out, size_t cap)
{
    snprintf(out, cap, "arn:aws:greengrass:%s:%s:/greengrass/groups/%s", c->region, c->account, gid);
}

json_t *gg_load_group(store_txn *t, const gt_call *c, const char *gid, int *rc)
{
    if (!gid) {
        *rc = STORE_NOTFOUND;
        return NULL;
    }
    return gg_load(t, c, "gg.groups", gid, rc);
}

static size_t utf16_len(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p & 0xC0) != 0x80)
            n += *p >= 0xF0 ? 2 : 1;
    return n;
}

gt_err gg_check_tags(gt_call *c, const json_t *tags)
{
    if (!tags)
        return GT_OK;
    if (json_object_size(tags) > 50)
        return gt_call_fail(c, GT_E_GG_BAD_REQUEST, "A resource can have at most 50 tags.");
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)tags, key, val) {
        size_t kl = utf16_len(key);
        if (kl < 1 || kl > 128)
            return gt_call_fail(c, GT_E_GG_BAD_REQUEST,
                                "Tag key '%.128s' must be between 1 and 128 characters long.", key);
        if (strncasecmp(key, "aws:", 4) == 0)
            return gt_call_fail(c, GT_E_GG_BAD_REQUEST,
                                "Tag keys starting with 'aws:' are reserved for AWS use: '%.128s'.", key);
        const char *v = json_string_value(val);
        if (v && utf16_len(v) > 256)
            return gt_call_fail(c, GT_E_GG_BAD_REQUEST,
                                "The value of tag '%.128s' must be at most 256 characters long.", key);
    }
    return GT_OK;
}

static void add_resource(gt_call *c, const gg_kind *k, const char *arn)
{
    gt_call_add_resource(c, k->cfn, arn);
}

/* MaxResults: absent -> 0 (everything); else a positive integer. */
static gt_err max_results(gt_call *c, int *out)
{
    json_t *m = json_object_get(c->input, "MaxResults");
    *out = 0;
    if (!m)
        return GT_OK;
    int64_t v;
    const char *s = json_string_value(m);
    if (s ? !gt_parse_i64(s, strlen(s), &v) : !json_is_integer(m))
        return gt_call_fail(c, GT_E_GG_BAD_REQUEST, "MaxResults must be a positive integer.");
    if (!s)
        v = json_integer_value(m);
    if (v < 1 || v > 1000000)
        return gt_call_fail(c, GT_E_GG_BAD_REQUEST, "MaxResults must be a positive integer.");
    *out = (int)v;
    return GT_OK;
}

/* ---------------------------------------------------------------- version content */

/* Group version: every referenced ARN must be an existing definition
 * version of the matching kind in this account and region. */
static gt_err check_group_version(gt_call *c, store_txn *t, const json_t *content)
{
    char details[512] = "";
    size_t dl = 0;
    for (int i = 0; i < N_DEF_KINDS; i++) {
        const gg_kind *k = &kinds[i];
        const char *arn = json_string_value(json_object_get(content, k->ver_arn_member));
        if (!arn)
            continue;
        char prefix[256];
        snprintf(prefix, sizeof prefix, "arn:aws:greengrass:%s:%s:/greengrass/definition/%s/", c->region,
                 c->account, k->seg);
        bool ok = false;
        size_t pl = strlen(prefix);
        if (strncmp(arn, prefix, pl) == 0) {
            const char *def = arn + pl, *slash = strchr(def, '/');
            if (slash && strncmp(slash, "/versions/", 10) == 0 && slash[10] && !strchr(slash + 10, '/')) {
                char defid[128], dkind[64];
                size_t dlen = (size_t)(slash - def);
                if (dlen < sizeof defid) {
                    memcpy(defid, def, dlen);
                    defid[dlen] = '\0';
                    doc_kind(k, true, dkind, sizeof dkind);
                    int rc;
                    json_t *v = gg_load(t, c, dkind, slash + 10, &rc);
                    if (rc == STORE_ERR)
                        return GT_E_UNAVAILABLE;
                    ok = v && str_eq(json_string_value(json_object_get(v, "Id")), defid);
                    json_decref(v);
                }
            }
        }
        if (!ok) {
            int w = snprintf(details + dl, sizeof details - dl, "%s%s definition reference does not exist",
                             dl ? ", " : "", k->ref_name);
            if (w > 0 && (size_t)w < sizeof details - dl)
                dl += (size_t)w;
        }
    }
    if (dl)
        return gg_fail_untyped400(c, "The group is invalid or corrupted. (ErrorDetails: [%s])", details);
    return GT_OK;
}

static gt_err check_content(gt_call *c, store_txn *t, const gg_kind *k, const json_t *content)
{
    if (is_group(k))
        return check_group_version(c, t, content);
    char msg[512];
    if (!gg_validate_content(k->seg, content, msg, sizeof msg))
        return gg_fail_untyped400(c, "%s", msg);
    return GT_OK;
}

/* The version content of a Create*Version call: its body members. */
static json_t *version_content(const gt_call *c, const gg_kind *k)
{
    json_t *content = json_object();
    const char *const *members = is_group(k) ? group_refs : k->content;
    for (size_t i = 0; members[i]; i++) {
        json_t *v = json_object_get(c->input, members[i]);
        if (v)
            json_object_set(content, members[i], v);
    }
    return content;
}

/* Make a version of container `cont` (a doc) with `content`; update the
 * container's LatestVersion. Returns the version doc (new reference). */
static gt_err make_version(gt_call *c, store_txn *t, const gg_kind *k, json_t *cont, json_t *content,
                           json_t **ver_out)
{
    gt_err e = check_content(c, t, k, content);
    if (e != GT_OK)
        return e;
    const char *cid = json_string_value(json_object_get(cont, "Id"));
    char vid[37], ts[25], arn[512], dkind[64];
    gt_uuid4(vid);
    gt_fmt_iso_ms(c->now_ms, ts);
    snprintf(arn, sizeof arn, "%s/versions/%s", json_string_value(json_object_get(cont, "Arn")), vid);
    json_t *ver = json_pack("{s:s, s:s, s:s, s:s, s:O}", "Arn", arn, "CreationTimestamp", ts, "Id", cid,
                            "Version", vid, "Definition", content);
    if (!ver)
        return GT_E_NOMEM;
    doc_kind(k, true, dkind, sizeof dkind);
    e = gg_save(t, c, dkind, vid, cid, ver);
    if (e != GT_OK) {
        json_decref(ver);
        return e;
    }
    json_object_set_new(cont, "LatestVersion", json_string(vid));
    json_object_set_new(cont, "LatestVersionArn", json_string(arn));
    *ver_out = ver;
    return GT_OK;
}

/* ---------------------------------------------------------------- container handlers */

static json_t *public_container(json_t *doc, bool with_tags)
{
    json_t *o = json_deep_copy(doc);
    if (!o)
        return NULL;
    if (with_tags) {
        if (!json_object_get(o, "tags"))
            json_object_set_new(o, "tags", json_object());
    } else {
        json_object_del(o, "tags");
    }
    return o;
}

static gt_err h_create(gt_call *c, store_txn *t, const gg_kind *k)
{
    char id[37], ts[25], arn[512], dkind[64];
    gt_uuid4(id);
    gt_fmt_iso_ms(c->now_ms, ts);
    container_arn(c, k, id, arn, sizeof arn);
    json_t *doc = json_pack("{s:s, s:s, s:s, s:s}", "Arn", arn, "CreationTimestamp", ts, "Id", id,
                            "LastUpdatedTimestamp", ts);
    if (!doc)
        return GT_E_NOMEM;
    json_t *name = json_object_get(c->input, "Name");
    if (name)
        json_object_set(doc, "Name", name);
    json_t *tags = json_object_get(c->input, "tags");
    if (gg_check_tags(c, tags) != GT_OK) {
        json_decref(doc);
        return c->err;
    }
    if (tags && json_object_size(tags) > 0)
        json_object_set(doc, "tags", tags);
    json_t *initial = json_object_get(c->input, "InitialVersion");
    gt_err e = GT_OK;
    if (initial) {
        json_t *ver = NULL;
        json_t *content = json_deep_copy(initial);
        e = content ? make_version(c, t, k, doc, content, &ver) : GT_E_NOMEM;
        json_decref(content);
        json_decref(ver);
    }
    if (e == GT_OK) {
        doc_kind(k, false, dkind, sizeof dkind);
        e = gg_save(t, c, dkind, id, NULL, doc);
    }
    if (e == GT_OK) {
        /* AWS's order: Arn, CreationTimestamp, Id, LastUpdatedTimestamp, LatestVersion, LatestVersionArn, Name */
        c->output = public_container(doc, false);
        add_resource(c, k, arn);
    }
    json_decref(doc);
    return e;
}

static gt_err not_found(gt_call *c, const gg_kind *k, verb v, const char *id, const char *vid)
{
    if (is_group(k)) {
        if (v == V_GET)
            return gt_call_fail(c, GT_E_GG_ID_NOT_FOUND, "That Group Definition does not exist.");
        if (v == V_CREATE_VER)
            return gt_call_fail(c, GT_E_GG_ID_NOT_FOUND, "That group does not exist.");
        if (vid)
            return gt_call_fail(c, GT_E_GG_VERSION_NOT_FOUND, "Version %s of Group Definition %s does not exist.",
                                vid, id);
        return gt_call_fail(c, GT_E_GG_ID_NOT_FOUND, "That group definition does not exist.");
    }
    if (vid)
        return gt_call_fail(c, GT_E_GG_VERSION_NOT_FOUND, "Version %s of %s List Definition %s does not exist.", vid,
                            k->title, id);
    if (v == V_GET)
        return gt_call_fail(c, GT_E_GG_ID_NOT_FOUND, "That %s List Definition does not exist.", k->title);
    if (v == V_CREATE_VER)
        return gt_call_fail(c, GT_E_GG_ID_NOT_FOUND, "%s", k->create_ver_msg);
    return gt_call_fail(c, GT_E_GG_ID_NOT_FOUND, "That %s definition does not exist.", k->plural);
}

static json_t *load_container(gt_call *c, store_txn *t, const gg_kind *k, verb v, gt_err *e)
{
    char m[64], dkind[64], arn[512];
    const char *id = gt_in_str(c, id_member(k, m, sizeof m));
    int rc;
    doc_kind(k, false, dkind, sizeof dkind);
    json_t *doc = id ? gg_load(t, c, dkind, id, &rc) : NULL;
    if (!id)
        rc = STORE_NOTFOUND;
    if (!doc) {
        *e = rc == STORE_NOTFOUND ? not_found(c, k, v, id ? id : "", NULL) : gg_store_fail(rc);
        return NULL;
    }
    container_arn(c, k, id, arn, sizeof arn);
    add_resource(c, k, arn);
    *e = GT_OK;
    return doc;
}

static gt_err h_get(gt_call *c, store_txn *t, const gg_kind *k)
{
    gt_err e;
    json_t *doc = load_container(c, t, k, V_GET, &e);
    if (!doc)
        return e;
    c->output = public_container(doc, true);
    json_decref(doc);
    return c->output ? GT_OK : GT_E_NOMEM;
}

static gt_err h_update(gt_call *c, store_txn *t, const gg_kind *k)
{
    gt_err e;
    json_t *doc = load_container(c, t, k, V_UPDATE, &e);
    if (!doc)
        return e;
    const char *name = gt_in_str(c, "Name");
    if (!name || !*name) {
        json_decref(doc);
        if (strcmp(k->seg, "resources") == 0)
            return gt_call_fail(c, GT_E_GG_INVALID_INPUT, "Invalid resource name.");
        return gt_call_fail(c, GT_E_GG_INVALID_CONTAINER, "Input does not contain any attributes to be updated");
    }
    char ts[25], dkind[64];
    gt_fmt_iso_ms(c->now_ms, ts);
    json_object_set_new(doc, "Name", json_string(name));
    json_object_set_new(doc, "LastUpdatedTimestamp", json_string(ts));
    doc_kind(k, false, dkind, sizeof dkind);
    e = gg_save(t, c, dkind, json_string_value(json_object_get(doc, "Id")), NULL, doc);
    json_decref(doc);
    if (e == GT_OK)
        c->output = json_object();
    return e;
}

static gt_err h_delete(gt_call *c, store_txn *t, const gg_kind *k)
{
    gt_err e;
    json_t *doc = load_container(c, t, k, V_DELETE, &e);
    if (!doc)
        return e;
    char dkind[64], vkind[64];
    const char *id = json_string_value(json_object_get(doc, "Id"));
    doc_kind(k, false, dkind, sizeof dkind);
    doc_kind(k, true, vkind, sizeof vkind);
    store_key key = {c->account, c->region, dkind, id};
    int rc = store_doc_delete_children(t, c->account, c->region, vkind, id);
    if (rc == STORE_OK)
        rc = store_doc_delete(t, &key);
    if (rc == STORE_OK && is_group(k)) {
        /* what hangs off a group goes with it: deployments, CAs, the
         * certificate configuration and the group role */
        store_key role = {c->account, c->region, "gg.grouprole", id};
        store_key cfg = {c->account, c->region, "gg.certconfig", id};
        rc = gg_delete_group_deployments(t, c, id);
        if (rc == STORE_OK)
            rc = gg_delete_group_cas(t, c, id);
        if (rc != STORE_ERR)
            rc = store_doc_delete(t, &role) == STORE_ERR ? STORE_ERR : STORE_OK;
        if (rc != STORE_ERR)
            rc = store_doc_delete(t, &cfg) == STORE_ERR ? STORE_ERR : STORE_OK;
    }
    json_decref(doc);
    if (rc != STORE_OK)
        return GT_E_UNAVAILABLE;
    c->output = json_object();
    return GT_OK;
}

typedef struct list_ctx {
    const gt_call *c;
    gg_item_fn item;
    json_t *items;
    int limit;
    int n;
    int64_t cursor;   /* seq of the limit-th item */
    bool failed;
} list_ctx;

static int list_cb(void *ud, int64_t seq, const char *id, const char *body)
{
    list_ctx *l = ud;
    json_t *doc = json_loads(body, 0, NULL);
    if (!doc) {
        l->failed = true;
        return 1;
    }
    json_t *it = l->item(l->c, doc);
    json_decref(doc);
    if (!it)
        return 0;
    if (l->limit > 0 && l->n == l->limit) {
        json_decref(it);   /* the extra row: another page exists */
        l->n++;
        return 1;
    }
    json_array_append_new(l->items, it);
    l->n++;
    if (l->limit > 0 && l->n == l->limit)
        l->cursor = seq;
    return 0;
}

gt_err gg_list(gt_call *c, store_txn *t, const char *dkind, const char *parent, bool desc,
               const char *result_key, gg_item_fn item)
{
    int limit;
    gt_err e = max_results(c, &limit);
    if (e != GT_OK)
        return e;
    char scope[512];
    snprintf(scope, sizeof scope, "gg|%s|%s|%s|%s", c->account, c->region, c->op->name, parent ? parent : "");
    int64_t after = 0, unused;
    const char *tok = gt_in_str(c, "NextToken");
    if (tok && *tok && !api_pagetoken_open(c->srv->token_key, scope, tok, &after, &unused))
        return gt_call_fail(c, GT_E_GG_BAD_REQUEST, "The NextToken is invalid.");
    list_ctx l = {.c = c, .item = item, .items = json_array(), .limit = limit};
    if (!l.items)
        return GT_E_NOMEM;
    /* item() may skip docs, so read without a row limit and stop in the
     * callback one entry past the page. */
    int rc = store_doc_list(t, c->account, c->region, dkind, parent, after, desc, 0, list_cb, &l);
    if (rc != STORE_OK || l.failed) {
        json_decref(l.items);
        return GT_E_UNAVAILABLE;
    }
    c->output = json_object();
    json_object_set_new(c->output, result_key, l.items);
    if (limit > 0 && l.n > limit) {
        char next[API_PAGETOKEN_MAX];
        if (!api_pagetoken_make(c->srv->token_key, scope, l.cursor, 0, next))
            return GT_E_INTERNAL;
        json_object_set_new(c->output, "NextToken", json_string(next));
    }
    return GT_OK;
}

/* List entries: versions lose their content; GroupInformation has no
 * tags; DefinitionInformation carries tags only when there are some. */
static json_t *item_version(const gt_call *c, json_t *doc)
{
    json_t *o = json_deep_copy(doc);
    json_object_del(o, "Definition");
    return o;
}

static json_t *item_group(const gt_call *c, json_t *doc)
{
    json_t *o = json_deep_copy(doc);
    json_object_del(o, "tags");
    return o;
}

static json_t *item_definition(const gt_call *c, json_t *doc)
{
    json_t *o = json_deep_copy(doc);
    if (json_object_size(json_object_get(o, "tags")) == 0)
        json_object_del(o, "tags");
    return o;
}

static gt_err list_page(gt_call *c, store_txn *t, const gg_kind *k, bool versions, const char *parent,
                        const char *result_key)
{
    char dkind[64];
    doc_kind(k, versions, dkind, sizeof dkind);
    return gg_list(c, t, dkind, parent, versions, result_key,
                   versions ? item_version : is_group(k) ? item_group : item_definition);
}

static gt_err h_list(gt_call *c, store_txn *t, const gg_kind *k)
{
    return list_page(c, t, k, false, NULL, is_group(k) ? "Groups" : "Definitions");
}

static gt_err h_create_ver(gt_call *c, store_txn *t, const gg_kind *k)
{
    gt_err e;
    json_t *doc = load_container(c, t, k, V_CREATE_VER, &e);
    if (!doc)
        return e;
    json_t *content = version_content(c, k), *ver = NULL;
    e = content ? make_version(c, t, k, doc, content, &ver) : GT_E_NOMEM;
    json_decref(content);
    if (e == GT_OK) {
        char dkind[64];
        doc_kind(k, false, dkind, sizeof dkind);
        e = gg_save(t, c, dkind, json_string_value(json_object_get(doc, "Id")), NULL, doc);
    }
    if (e == GT_OK) {
        json_object_del(ver, "Definition");
        c->output = json_incref(ver);
    }
    json_decref(ver);
    json_decref(doc);
    return e;
}

static gt_err h_get_ver(gt_call *c, store_txn *t, const gg_kind *k)
{
    gt_err e;
    json_t *doc = load_container(c, t, k, V_GET_VER, &e);
    if (!doc)
        return e;
    json_decref(doc);
    char m[64], dkind[64];
    snprintf(m, sizeof m, "%sVersionId", k->infix);
    const char *vid = gt_in_str(c, m);
    char im[64];
    const char *id = gt_in_str(c, id_member(k, im, sizeof im));
    int rc = STORE_NOTFOUND;
    doc_kind(k, true, dkind, sizeof dkind);
    json_t *ver = vid ? gg_load(t, c, dkind, vid, &rc) : NULL;
    if (ver && !str_eq(json_string_value(json_object_get(ver, "Id")), id)) {
        json_decref(ver);
        ver = NULL;
        rc = STORE_NOTFOUND;
    }
    if (!ver)
        return rc == STORE_NOTFOUND ? not_found(c, k, V_GET_VER, id, vid ? vid : "") : gg_store_fail(rc);
    c->output = ver;
    return GT_OK;
}

static gt_err h_list_ver(gt_call *c, store_txn *t, const gg_kind *k)
{
    gt_err e;
    json_t *doc = load_container(c, t, k, V_LIST_VER, &e);
    if (!doc)
        return e;
    e = list_page(c, t, k, true, json_string_value(json_object_get(doc, "Id")), "Versions");
    json_decref(doc);
    return e;
}

static gt_err h_container(gt_call *c, store_txn *t)
{
    const gg_kind *k = NULL;
    switch (parse_op(c->op->name, &k)) {
    case V_CREATE: return h_create(c, t, k);
    case V_GET: return h_get(c, t, k);
    case V_LIST: return h_list(c, t, k);
    case V_DELETE: return h_delete(c, t, k);
    case V_UPDATE: return h_update(c, t, k);
    case V_CREATE_VER: return h_create_ver(c, t, k);
    case V_GET_VER: return h_get_ver(c, t, k);
    case V_LIST_VER: return h_list_ver(c, t, k);
    default: return GT_E_INTERNAL;
    }
}

/* ---------------------------------------------------------------- connectivity info */

static gt_err h_get_connectivity(gt_call *c, store_txn *t)
{
    int rc;
    json_t *doc = gg_load(t, c, "gg.connectivity", gt_in_str(c, "ThingName"), &rc);
    if (rc == STORE_ERR)
        return GT_E_UNAVAILABLE;
    c->output = json_object();
    /* [INF] a thing never updated answers 200 with no ConnectivityInfo */
    if (doc)
        json_object_set(c->output, "ConnectivityInfo", json_object_get(doc, "ConnectivityInfo"));
    json_decref(doc);
    return GT_OK;
}

static gt_err h_update_connectivity(gt_call *c, store_txn *t)
{
    char vid[37];
    gt_uuid4(vid);
    json_t *info = json_object_get(c->input, "ConnectivityInfo");
    json_t *doc = json_pack("{s:o, s:s}", "ConnectivityInfo", info ? json_incref(info) : json_array(),
                            "Version", vid);
    if (!doc)
        return GT_E_NOMEM;
    gt_err e = gg_save(t, c, "gg.connectivity", gt_in_str(c, "ThingName"), NULL, doc);
    json_decref(doc);
    if (e == GT_OK)
        c->output = json_pack("{s:s}", "Version", vid);
    return e;
}

/* ---------------------------------------------------------------- service role */

/* arn:aws:iam::<12 digits>:role/[path/]name, name of [\w+=,.@-]{1,64} */
bool gg_valid_role_arn(const char *arn)
{
    static const char pfx[] = "arn:aws:iam::";
    if (!arn || strncmp(arn, pfx, sizeof pfx - 1) != 0)
        return false;
    const char *p = arn + sizeof pfx - 1;
    if (strspn(p, "0123456789") != 12 || strncmp(p + 12, ":role/", 6) != 0)
        return false;
    p += 18;
    const char *name = strrchr(p, '/');
    name = name ? name + 1 : p;
    size_t n = strlen(name);
    if (n < 1 || n > 64)
        return false;
    for (const char *q = p; *q; q++) {
        char ch = *q;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                  strchr("_+=,.@-/", ch);
        if (!ok)
            return false;
    }
    return true;
}

static gt_err h_associate_service_role(gt_call *c, store_txn *t)
{
    const char *arn = gt_in_str(c, "RoleArn");
    if (!gg_valid_role_arn(arn))
        return gt_call_fail(c, GT_E_GG_BAD_REQUEST, "That role ARN is invalid.");
    char ts[21];
    gt_fmt_iso_s(c->now_ms / 1000, ts);
    json_t *doc = json_pack("{s:s, s:s}", "AssociatedAt", ts, "RoleArn", arn);
    if (!doc)
        return GT_E_NOMEM;
    gt_err e = gg_save(t, c, "gg.servicerole", "current", NULL, doc);
    json_decref(doc);
    if (e == GT_OK)
        c->output = json_pack("{s:s}", "AssociatedAt", ts);
    return e;
}

static gt_err h_get_service_role(gt_call *c, store_txn *t)
{
    int rc;
    json_t *doc = gg_load(t, c, "gg.servicerole", "current", &rc);
    if (rc == STORE_ERR)
        return GT_E_UNAVAILABLE;
    /* [INF] no role associated: 200 with an empty object (greengrass.md §3.10) */
    c->output = doc ? doc : json_object();
    return GT_OK;
}

static gt_err h_disassociate_service_role(gt_call *c, store_txn *t)
{
    store_key key = {c->account, c->region, "gg.servicerole", "current"};
    int rc = store_doc_delete(t, &key);
    if (rc == STORE_ERR)
        return GT_E_UNAVAILABLE;
    char ts[21];
    gt_fmt_iso_s(c->now_ms / 1000, ts);
    c->output = json_pack("{s:s}", "DisassociatedAt", ts);
    return GT_OK;
}

/* ---------------------------------------------------------------- tables */

static const struct {
    const char *op;
    gt_handler h;
} handlers[] = {
    {"AssociateRoleToGroup", gg_h_associate_role},
    {"AssociateServiceRoleToAccount", h_associate_service_role},
    {"CreateDeployment", gg_h_create_deployment},
    {"CreateGroupCertificateAuthority", gg_h_create_ca},
    {"CreateSoftwareUpdateJob", gg_h_create_update_job},
    {"DisassociateRoleFromGroup", gg_h_disassociate_role},
    {"DisassociateServiceRoleFromAccount", h_disassociate_service_role},
    {"GetAssociatedRole", gg_h_get_role},
    {"GetBulkDeploymentStatus", gg_h_get_bulk_status},
    {"GetConnectivityInfo", h_get_connectivity},
    {"GetDeploymentStatus", gg_h_get_deployment_status},
    {"GetGroupCertificateAuthority", gg_h_get_ca},
    {"GetGroupCertificateConfiguration", gg_h_get_cert_config},
    {"GetServiceRoleForAccount", h_get_service_role},
    {"GetThingRuntimeConfiguration", gg_h_get_runtime},
    {"ListBulkDeploymentDetailedReports", gg_h_list_bulk_reports},
    {"ListBulkDeployments", gg_h_list_bulk},
    {"ListDeployments", gg_h_list_deployments},
    {"ListGroupCertificateAuthorities", gg_h_list_cas},
    {"ListTagsForResource", gg_h_list_tags},
    {"ResetDeployments", gg_h_reset_deployments},
    {"StartBulkDeployment", gg_h_start_bulk},
    {"StopBulkDeployment", gg_h_stop_bulk},
    {"TagResource", gg_h_tag},
    {"UntagResource", gg_h_untag},
    {"UpdateConnectivityInfo", h_update_connectivity},
    {"UpdateGroupCertificateConfiguration", gg_h_update_cert_config},
    {"UpdateThingRuntimeConfiguration", gg_h_update_runtime},
};

static gt_handler plain_handler(const char *op)
{
    for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++)
        if (strcmp(handlers[i].op, op) == 0)
            return handlers[i].h;
    const gg_kind *k;
    return parse_op(op, &k) != V_NONE ? h_container : NULL;
}

/* ---------------------------------------------------------------- idempotency
 *
 * The 21 operations with an AmznClientToken member (X-Amzn-Client-Token)
 * are idempotent per (account, region, operation, token): the first call
 * stores its input (without the token) and its result; a retry with the
 * same input answers that result again and changes nothing; a retry with
 * a different input fails with 400 IdempotentParameterMismatchException
 * [INF: the model names no error for this; EC2/ACM/Step Functions use
 * that code and 400, so SDK retry logic treats it as final]. Failed calls
 * store nothing, so a retry after a failure runs again. */

static void idem_id(const gt_call *c, const char *token, char out[65])
{
    unsigned char md[32];
    unsigned int n = 0;
    EVP_MD_CTX *x = EVP_MD_CTX_new();
    if (x && EVP_DigestInit_ex(x, EVP_sha256(), NULL) && EVP_DigestUpdate(x, c->op->name, strlen(c->op->name)) &&
        EVP_DigestUpdate(x, "|", 1) && EVP_DigestUpdate(x, token, strlen(token)) &&
        EVP_DigestFinal_ex(x, md, &n) && n == 32)
        gt_hex(md, 32, out);
    else
        snprintf(out, 65, "%.64s", token);
    EVP_MD_CTX_free(x);
}

static gt_err h_idempotent(gt_call *c, store_txn *t)
{
    gt_handler real = plain_handler(c->op->name);
    const char *token = gt_in_str(c, "AmznClientToken");
    if (token && !*token)
        token = NULL;   /* an empty header is no token */
    if (!token || !real)
        return real ? real(c, t) : GT_E_INTERNAL;
    json_t *in = json_deep_copy(c->input);
    if (!in)
        return GT_E_NOMEM;
    json_object_del(in, "AmznClientToken");
    char *in_text = gt_json_dumps(in, true, false);
    json_decref(in);
    if (!in_text)
        return GT_E_NOMEM;
    char id[65];
    idem_id(c, token, id);
    int rc;
    json_t *prev = gg_load(t, c, "gg.idem", id, &rc);
    gt_err e;
    if (prev) {
        if (!str_eq(json_string_value(json_object_get(prev, "input")), in_text)) {
            e = gt_call_fail(c, GT_E_GG_IDEMPOTENT_MISMATCH,
                             "The client token '%.128s' was already used with different request parameters.",
                             token);
        } else {
            json_t *out = json_object_get(prev, "output"), *res = json_object_get(prev, "resources");
            c->output = json_is_object(out) ? json_deep_copy(out) : NULL;
            if (json_array_size(res)) {
                json_decref(c->resources);
                c->resources = json_deep_copy(res);
            }
            e = GT_OK;
        }
        json_decref(prev);
        free(in_text);
        return e;
    }
    if (rc == STORE_ERR) {
        free(in_text);
        return GT_E_UNAVAILABLE;
    }
    e = real(c, t);
    if (e == GT_OK) {
        json_t *doc = json_pack("{s:s, s:s, s:O?, s:O?}", "op", c->op->name, "input", in_text, "output",
                                c->output, "resources", c->resources);
        e = doc ? gg_save(t, c, "gg.idem", id, NULL, doc) : GT_E_NOMEM;
        json_decref(doc);
    }
    free(in_text);
    return e;
}

gt_handler gg_handler_for(const char *op)
{
    gt_handler h = plain_handler(op);
    if (!h)
        return NULL;
    const model_op *mo = model_find_op(&model_greengrass, op);
    if (mo && model_find_member(&model_greengrass, mo->input, "AmznClientToken"))
        return h_idempotent;
    return h;
}

/* greengrass.md §5.3: content-bearing members are masked as a whole. */
const char *const *gg_redacted_members(const char *op)
{
    static const char *const initial[] = {"InitialVersion", NULL};
    const gg_kind *k = NULL;
    verb v = parse_op(op, &k);
    if (v == V_CREATE)
        return initial;
    if (v == V_CREATE_VER && !is_group(k))
        return k->content;
    return NULL;
}

void gg_record_parts(const gt_call *c, ct_record_parts *p)
{
    p->with_error_message = false;
    if (c->err != GT_OK) {
        /* The seed's failed AssociateServiceRoleToAccount has null
         * requestParameters: a request rejected as invalid (400) is
         * recorded without them [INF: one sample]. */
        p->request_parameters = gt_err_status(c->err) == 400 ? NULL
                                                             : ct_redact(c->input, gg_redacted_members(c->op->name));
        p->response_elements = json_pack("{s:s}", "Message", c->errmsg);
        if (p->response_elements && c->err_details)
            json_object_set(p->response_elements, "ErrorDetails", c->err_details);
        return;
    }
    p->request_parameters = ct_redact(c->input, gg_redacted_members(c->op->name));
    if (!c->op->read_only && c->output && json_object_size(c->output) > 0)
        p->response_elements = json_deep_copy(c->output);
}

#define GG_BAD_DEPLOYMENT_TYPE                                                                      \
    "That deployment type is not valid.  Please specify one of the following types: "                \
    "{NewDeployment,Redeployment,ResetDeployment,ForceResetDeployment}."

/* The generic rest-json decoder, with Greengrass's own words for the one
 * model enum AWS answers in its own way (greengrass.md §4.1: a bad
 * DeploymentType is InvalidInputException with this message). */
static gt_err gg_decode(const model_service *svc, const http_req *req, const model_op **op_out, json_t **input_out,
                        char *msg, size_t msgcap)
{
    gt_err e = api_restjson_decode(svc, req, op_out, input_out, msg, msgcap);
    if (e == GT_E_VALIDATION && *op_out && strcmp((*op_out)->name, "CreateDeployment") == 0 && msgcap > 0 &&
        strstr(msg, "at 'DeploymentType' failed to satisfy constraint: Member must satisfy enum"))
        snprintf(msg, msgcap, "%s", GG_BAD_DEPLOYMENT_TYPE);
    return e;
}

gt_err gg_map_error(const model_op *op, gt_err e, const char *msg)
{
    switch (e) {
    case GT_E_VALIDATION:
        if (msg && strcmp(msg, GG_BAD_DEPLOYMENT_TYPE) == 0)
            return GT_E_GG_INVALID_INPUT;
        return GT_E_GG_BAD_REQUEST;
    case GT_E_SERIALIZATION:
        return GT_E_GG_BAD_REQUEST;
    default:
        return e;
    }
}

const gt_service gg_service = {
    .signing_name = "greengrass",
    .model = &model_greengrass,
    .decode = gg_decode,
    .handler_for = gg_handler_for,
    .record_parts = gg_record_parts,
    .map_error = gg_map_error,
    .encode_ok = gt_encode_json_ok,
    .encode_error = gt_encode_restjson_error,
};
