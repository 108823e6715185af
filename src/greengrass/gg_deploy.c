/*
 * gg_deploy.c: Greengrass deployments and bulk deployments
 * (greengrass.md §3.5, §3.6, §4.1).
 *
 * Deployments. A deployment pins a group version (NewDeployment), re-runs
 * an earlier deployment's group version (Redeployment) or resets the
 * group (ResetDeployment / ForceResetDeployment, made by ResetDeployments
 * or CreateDeployment with those types). There are no real cores, so the
 * status is a pure function of the time since creation (gg_deploy_phase):
 * Building for GG_DEPLOY_STEP_MS, InProgress for the next step, then
 * Success; a deployment made while the account has no service role in the
 * region ends in Failure with AWS's message, since the cloud side could
 * not assume the role. UpdatedAt is the moment the current status began.
 *
 * Docs: "gg.deploy" (id = DeploymentId, parent = GroupId) holding the
 * ListDeployments entry plus private fields (_ms creation time, _gid,
 * _gvid, _fails); "gg.bulk" (id = BulkDeploymentId) and "gg.bulkrep"
 * (parent = bulk id) for bulk deployments.
 *
 * Bulk deployments read a JSON-lines file from S3. This branch has no
 * built-in S3 yet (another branch builds it), so StartBulkDeployment
 * checks its inputs and then answers 400 InvalidInputException saying the
 * input file's bucket cannot be read; List/Get/Stop/DetailedReports work on
 * whatever bulk deployments exist (none until S3 lands).
 *
 * Invariants: deployment ids are UUIDv4; a deployment belongs to exactly
 * one group (GetDeploymentStatus with another group's id is "does not
 * exist"); ListDeployments is newest first; deleting a group deletes its
 * deployments.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "greengrass/gg_int.h"
#include "s3/s3_store.h"
#include "util/gtutil.h"

#define DEPLOY_KIND "gg.deploy"
#define BULK_KIND "gg.bulk"
#define BULKREP_KIND "gg.bulkrep"
#define NO_ROLE_MSG "Greengrass is not authorized to assume the Service Role associated with this account."

const char *gg_deploy_phase(int64_t elapsed_ms, bool fails, int64_t *since_ms)
{
    if (elapsed_ms < GG_DEPLOY_STEP_MS) {
        *since_ms = 0;
        return "Building";
    }
    if (elapsed_ms < 2 * GG_DEPLOY_STEP_MS) {
        *since_ms = GG_DEPLOY_STEP_MS;
        return "InProgress";
    }
    *since_ms = 2 * GG_DEPLOY_STEP_MS;
    return fails ? "Failure" : "Success";
}

static bool str_eq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void deployment_arn(const gt_call *c, const char *gid, const char *did, char *out, size_t cap)
{
    snprintf(out, cap, "arn:aws:greengrass:%s:%s:/greengrass/groups/%s/deployments/%s", c->region, c->account, gid,
             did);
}

/* The last deployment of a group (newest), or NULL. */
static int last_cb(void *ud, int64_t seq, const char *id, const char *body)
{
    *(json_t **)ud = json_loads(body, 0, NULL);
    return 1;
}

static json_t *last_deployment(store_txn *t, const gt_call *c, const char *gid, int *rc)
{
    json_t *last = NULL;
    *rc = store_doc_list(t, c->account, c->region, DEPLOY_KIND, gid, 0, true, 1, last_cb, &last);
    return last;
}

/* Store a new deployment of group `gid`; did/arn out (37 / GG_ARN_MAX). */
static gt_err make_deployment(gt_call *c, store_txn *t, const char *gid, const char *type, const char *gvid,
                              const char *target_arn, bool fails, char did[37], char arn[GG_ARN_MAX])
{
    char ts[25];
    gt_uuid4(did);
    deployment_arn(c, gid, did, arn, GG_ARN_MAX);
    gt_fmt_iso_ms(c->now_ms, ts);
    json_t *doc = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s?, s:b}", "CreatedAt", ts, "DeploymentArn", arn,
                            "DeploymentId", did, "DeploymentType", type, "GroupArn", target_arn, "_ms",
                            (json_int_t)c->now_ms, "_gid", gid, "_gvid", gvid, "_fails", fails);
    if (!doc)
        return GT_E_NOMEM;
    gt_err e = gg_save(t, c, DEPLOY_KIND, did, gid, doc);
    json_decref(doc);
    return e;
}

/* A new deployment answered as {DeploymentArn, DeploymentId}. */
static gt_err new_deployment(gt_call *c, store_txn *t, const char *gid, const char *type, const char *gvid,
                             const char *target_arn, bool fails)
{
    char did[37], arn[GG_ARN_MAX], garn[GG_ARN_MAX];
    gt_err e = make_deployment(c, t, gid, type, gvid, target_arn, fails, did, arn);
    if (e != GT_OK)
        return e;
    gg_group_arn(c, gid, garn, sizeof garn);
    gt_call_add_resource(c, "AWS::Greengrass::Group", garn);
    gt_call_add_resource(c, "AWS::Greengrass::Deployment", arn);
    c->output = json_pack("{s:s, s:s}", "DeploymentArn", arn, "DeploymentId", did);
    return c->output ? GT_OK : GT_E_NOMEM;
}

/* A reset of group gid (ResetDeployments, or CreateDeployment with a reset
 * type). The group must have been deployed; a non-forced reset also needs
 * the last deployment not to be a reset already. */
static gt_err reset_group(gt_call *c, store_txn *t, const char *gid, bool force)
{
    int rc;
    json_t *last = last_deployment(t, c, gid, &rc);
    if (rc == STORE_ERR)
        return GT_E_UNAVAILABLE;
    const char *lt = jstr(last, "DeploymentType");
    bool was_reset = str_eq(lt, "ResetDeployment") || str_eq(lt, "ForceResetDeployment");
    int64_t since;
    const char *st = last ? gg_deploy_phase(c->now_ms - json_integer_value(json_object_get(last, "_ms")), false, &since)
                          : "Success";
    bool busy = strcmp(st, "Building") == 0 || strcmp(st, "InProgress") == 0;
    json_decref(last);
    /* [INF] Force skips the "already reset" check but a group never
     * deployed has nothing to reset either way. */
    if (!lt || (was_reset && !force))
        return gt_call_fail(c, GT_E_GG_RESOURCE_NOT_FOUND,
                            "Group id: %s has not been deployed or has already been reset.", gid);
    /* [DG] reset-deployments-scenario: a group whose current deployment is
     * Building or InProgress cannot be reset. [INF] Force, the "core is
     * lost" escape hatch, is let through; the wording is ours. */
    if (busy && !force)
        return gt_call_fail(c, GT_E_GG_INVALID_INPUT,
                            "Group id: %s has a deployment in progress. Reset the deployments after it completes "
                            "or use Force.",
                            gid);
    char garn[GG_ARN_MAX];
    gg_group_arn(c, gid, garn, sizeof garn);
    return new_deployment(c, t, gid, force ? "ForceResetDeployment" : "ResetDeployment", NULL, garn, false);
}

/* Does the group version's core definition version hold exactly one core? */
static gt_err has_core(gt_call *c, store_txn *t, const json_t *gver, bool *ok)
{
    *ok = false;
    const char *arn = jstr(json_object_get(gver, "Definition"), "CoreDefinitionVersionArn");
    const char *v = arn ? strstr(arn, "/versions/") : NULL;
    if (!v)
        return GT_OK;
    int rc;
    json_t *cv = gg_load(t, c, "gg.cores.ver", v + 10, &rc);
    if (rc == STORE_ERR)
        return GT_E_UNAVAILABLE;
    *ok = cv && json_array_size(json_object_get(json_object_get(cv, "Definition"), "Cores")) == 1;
    json_decref(cv);
    return GT_OK;
}

static gt_err missing_core(gt_call *c)
{
    gt_call_fail(c, GT_E_GG_MISSING_CORE, "You need a Greengrass Core in this Group before you can deploy.");
    c->err_details = json_pack("[{s:s, s:s}]", "DetailedErrorCode", "GG-303", "DetailedErrorMessage",
                               "You need a Greengrass Core in this Group before you can deploy.");
    return c->err;
}

enum { VC_ERR = -1, VC_OK = 0, VC_NO_GROUP, VC_NO_VERSION, VC_NO_CORE };

/* Can version gvid of group gid be deployed? target gets its ARN. */
static int check_version(gt_call *c, store_txn *t, const char *gid, const char *gvid, char target[GG_ARN_MAX])
{
    int rc;
    json_t *g = gg_load_group(t, c, gid, &rc);
    if (!g)
        return rc == STORE_NOTFOUND ? VC_NO_GROUP : VC_ERR;
    json_decref(g);
    json_t *gver = gvid ? gg_load(t, c, "gg.groups.ver", gvid, &rc) : NULL;
    if (!gvid)
        rc = STORE_NOTFOUND;
    if (gver && !str_eq(jstr(gver, "Id"), gid)) {
        json_decref(gver);
        gver = NULL;
        rc = STORE_NOTFOUND;
    }
    if (!gver)
        return rc == STORE_NOTFOUND ? VC_NO_VERSION : VC_ERR;
    bool core_ok;
    gt_err e = has_core(c, t, gver, &core_ok);
    gt_strlcpy(target, jstr(gver, "Arn"), GG_ARN_MAX);
    json_decref(gver);
    if (e != GT_OK)
        return VC_ERR;
    return core_ok ? VC_OK : VC_NO_CORE;
}

/* *fails = no service role in this account and region (the deployment
 * will end in Failure). false on store error. */
static bool service_role(gt_call *c, store_txn *t, bool *fails)
{
    int rc;
    json_t *role = gg_load(t, c, "gg.servicerole", "current", &rc);
    json_decref(role);
    *fails = role == NULL;
    return rc != STORE_ERR;
}

gt_err gg_h_create_deployment(gt_call *c, store_txn *t)
{
    const char *gid = gt_in_str(c, "GroupId");
    const char *type = gt_in_str(c, "DeploymentType");
    int rc;
    json_t *g = gg_load_group(t, c, gid, &rc);
    if (!g)
        return rc == STORE_NOTFOUND
                   ? gt_call_fail(c, GT_E_GG_RESOURCE_NOT_FOUND, "That group definition does not exist.")
                   : gg_store_fail(rc);
    json_decref(g);
    if (str_eq(type, "ResetDeployment") || str_eq(type, "ForceResetDeployment"))
        return reset_group(c, t, gid, str_eq(type, "ForceResetDeployment"));

    const char *gvid = gt_in_str(c, "GroupVersionId");
    if (str_eq(type, "Redeployment")) {
        const char *prev_id = gt_in_str(c, "DeploymentId");
        if (!prev_id)
            return gt_call_fail(c, GT_E_GG_INVALID_INPUT,
                                "Your request is missing the following required parameter(s): {DeploymentId}.");
        json_t *prev = gg_load(t, c, DEPLOY_KIND, prev_id, &rc);
        if (rc == STORE_ERR)
            return GT_E_UNAVAILABLE;
        if (!prev || !str_eq(jstr(prev, "_gid"), gid) || !jstr(prev, "_gvid")) {
            json_decref(prev);
            return gt_call_fail(c, GT_E_GG_INVALID_INPUT, "Deployment ID '%.128s' is invalid.", prev_id);
        }
        char pv[64];
        gt_strlcpy(pv, jstr(prev, "_gvid"), sizeof pv);
        json_decref(prev);
        gvid = NULL;
        json_t *gver = gg_load(t, c, "gg.groups.ver", pv, &rc);
        if (!gver)
            return rc == STORE_NOTFOUND
                       ? gt_call_fail(c, GT_E_GG_RESOURCE_NOT_FOUND,
                                      "Version %s of Group Definition %s does not exist.", pv, gid)
                       : gg_store_fail(rc);
        char target[GG_ARN_MAX];
        gt_strlcpy(target, jstr(gver, "Arn"), sizeof target);
        json_decref(gver);
        bool fails;
        if (!service_role(c, t, &fails))
            return GT_E_UNAVAILABLE;
        return new_deployment(c, t, gid, "Redeployment", pv, target, fails);
    }
    /* NewDeployment */
    if (!gvid)
        return gt_call_fail(c, GT_E_GG_INVALID_INPUT,
                            "Your request is missing the following required parameter(s): {GroupVersionId}.");
    char target[GG_ARN_MAX];
    switch (check_version(c, t, gid, gvid, target)) {
    case VC_OK: break;
    case VC_NO_GROUP: return gt_call_fail(c, GT_E_GG_RESOURCE_NOT_FOUND, "That group definition does not exist.");
    case VC_NO_VERSION:
        return gt_call_fail(c, GT_E_GG_RESOURCE_NOT_FOUND, "Version %.64s of Group Definition %s does not exist.", gvid,
                            gid);
    case VC_NO_CORE: return missing_core(c);
    default: return GT_E_UNAVAILABLE;
    }
    bool fails;
    if (!service_role(c, t, &fails))
        return GT_E_UNAVAILABLE;
    return new_deployment(c, t, gid, "NewDeployment", gvid, target, fails);
}

gt_err gg_h_reset_deployments(gt_call *c, store_txn *t)
{
    const char *gid = gt_in_str(c, "GroupId");
    int rc;
    json_t *g = gg_load_group(t, c, gid, &rc);
    if (!g)
        return rc == STORE_NOTFOUND
                   ? gt_call_fail(c, GT_E_GG_RESOURCE_NOT_FOUND, "That Group Definition does not exist.")
                   : gg_store_fail(rc);
    json_decref(g);
    json_t *force = json_object_get(c->input, "Force");
    return reset_group(c, t, gid, json_is_true(force));
}

static json_t *item_deployment(const gt_call *c, json_t *doc)
{
    return json_pack("{s:O, s:O, s:O, s:O, s:O}", "CreatedAt", json_object_get(doc, "CreatedAt"), "DeploymentArn",
                     json_object_get(doc, "DeploymentArn"), "DeploymentId", json_object_get(doc, "DeploymentId"),
                     "DeploymentType", json_object_get(doc, "DeploymentType"), "GroupArn",
                     json_object_get(doc, "GroupArn"));
}

gt_err gg_h_list_deployments(gt_call *c, store_txn *t)
{
    /* greengrass.md §4.1: the group's existence is not checked */
    const char *gid = gt_in_str(c, "GroupId");
    char garn[GG_ARN_MAX];
    gg_group_arn(c, gid, garn, sizeof garn);
    gt_call_add_resource(c, "AWS::Greengrass::Group", garn);
    return gg_list(c, t, DEPLOY_KIND, gid, true, "Deployments", item_deployment);
}

gt_err gg_h_get_deployment_status(gt_call *c, store_txn *t)
{
    const char *gid = gt_in_str(c, "GroupId"), *did = gt_in_str(c, "DeploymentId");
    int rc;
    json_t *d = gg_load(t, c, DEPLOY_KIND, did, &rc);
    if (d && !str_eq(jstr(d, "_gid"), gid)) {
        json_decref(d);
        d = NULL;
        rc = STORE_NOTFOUND;
    }
    if (!d)
        return rc == STORE_NOTFOUND ? gt_call_fail(c, GT_E_GG_INVALID_INPUT, "Deployment '%.128s' does not exist.", did)
                                    : gg_store_fail(rc);
    int64_t created = json_integer_value(json_object_get(d, "_ms")), since;
    bool fails = json_is_true(json_object_get(d, "_fails"));
    const char *status = gg_deploy_phase(c->now_ms - created, fails, &since);
    char ts[25];
    gt_fmt_iso_ms(created + since, ts);
    c->output = json_pack("{s:s, s:O, s:s}", "DeploymentStatus", status, "DeploymentType",
                          json_object_get(d, "DeploymentType"), "UpdatedAt", ts);
    if (c->output && strcmp(status, "Failure") == 0) {
        json_object_set_new(c->output, "ErrorMessage", json_string(NO_ROLE_MSG));
        json_object_set_new(c->output, "ErrorDetails", json_array());
    }
    gt_call_add_resource(c, "AWS::Greengrass::Deployment", jstr(d, "DeploymentArn"));
    json_decref(d);
    return c->output ? GT_OK : GT_E_NOMEM;
}

int gg_delete_group_deployments(store_txn *t, const gt_call *c, const char *gid)
{
    return store_doc_delete_children(t, c->account, c->region, DEPLOY_KIND, gid);
}

/* ---------------------------------------------------------------- bulk deployments */

static bool host_bucket(const char *host, size_t hl, char *bucket, size_t bcap)
{
    /* BUCKET.s3.amazonaws.com, BUCKET.s3.REGION.amazonaws.com, BUCKET.s3-REGION.amazonaws.com */
    const char *s3 = NULL;
    for (size_t i = 0; i + 4 <= hl; i++)
        if (strncmp(host + i, ".s3.", 4) == 0 || strncmp(host + i, ".s3-", 4) == 0) {
            s3 = host + i;
            break;
        }
    static const char tail[] = ".amazonaws.com";
    if (!s3 || hl < sizeof tail - 1 || strncmp(host + hl - (sizeof tail - 1), tail, sizeof tail - 1) != 0)
        return false;
    size_t bl = (size_t)(s3 - host);
    if (bl < 3 || bl > 63 || bl >= bcap)
        return false;
    memcpy(bucket, host, bl);
    bucket[bl] = '\0';
    return true;
}

static bool copy_part(const char *p, size_t n, char *out, size_t cap)
{
    if (n == 0 || n >= cap)
        return false;
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

bool gg_parse_s3_uri(const char *uri, char *bucket, size_t bcap, char *key, size_t kcap)
{
    if (!uri)
        return false;
    if (strncmp(uri, "s3://", 5) == 0) {
        const char *b = uri + 5, *slash = strchr(b, '/');
        return slash && copy_part(b, (size_t)(slash - b), bucket, bcap) &&
               copy_part(slash + 1, strlen(slash + 1), key, kcap);
    }
    if (strncmp(uri, "https://", 8) != 0)
        return false;
    const char *host = uri + 8, *slash = strchr(host, '/');
    if (!slash)
        return false;
    size_t hl = (size_t)(slash - host);
    if (host_bucket(host, hl, bucket, bcap))
        return copy_part(slash + 1, strlen(slash + 1), key, kcap);
    /* path style: s3.amazonaws.com, s3.REGION.amazonaws.com, s3-REGION.amazonaws.com */
    if (hl > 3 && (strncmp(host, "s3.", 3) == 0 || strncmp(host, "s3-", 3) == 0)) {
        const char *b = slash + 1, *s2 = strchr(b, '/');
        return s2 && copy_part(b, (size_t)(s2 - b), bucket, bcap) && copy_part(s2 + 1, strlen(s2 + 1), key, kcap);
    }
    return false;
}

static const char *bulk_status(const json_t *b, int64_t now_ms, int64_t *since_abs);

static const char *bulk_status_of(const json_t *b, int64_t now_ms)
{
    int64_t since;
    return bulk_status(b, now_ms, &since);
}


#define BULK_MAX_FILE (100 * 1024 * 1024)   /* AWS: input file < 100 MB */
#define BULK_MAX_LINE 256

/* Read the input file. GT_OK with *data (malloc'd); else a message. */
static gt_err bulk_fetch(gt_call *c, const char *bucket, const char *key, char **data, size_t *len, char *why,
                         size_t wcap)
{
    s3_store *s3 = s3_store_default();
    char owner[16] = "", region[32] = "";
    if (!s3 || !s3_bucket_exists(s3, bucket, owner, region) ||
        strcmp(owner, c->account) != 0) {
        snprintf(why, wcap, "the bucket '%s' does not exist or is not readable with the execution role", bucket);
        return GT_E_GG_INVALID_INPUT;
    }
    void *d = NULL;
    gt_err e = s3_object_get(s3, bucket, key, &d, len, NULL);
    if (e == GT_E_UNAVAILABLE || e == GT_E_NOMEM)
        return e;
    if (e != GT_OK) {
        snprintf(why, wcap, "the object '%.256s' does not exist in bucket '%s'", key, bucket);
        return GT_E_GG_INVALID_INPUT;
    }
    if (*len > BULK_MAX_FILE) {
        free(d);
        snprintf(why, wcap, "the input file is larger than 100 MB");
        return GT_E_GG_INVALID_INPUT;
    }
    *data = d;
    return GT_OK;
}

/* Check every line of the input file (AWS validates the file before it
 * deploys anything; its messages, greengrass.md §3.6). Returns the parsed
 * records (new reference), or NULL with the message in why. */
json_t *gg_bulk_parse(const char *data, size_t len, char *why, size_t wcap)
{
    json_t *recs = json_array();
    size_t pos = 0;
    int line = 0;
    while (recs && pos < len) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (data + pos)) : len - pos;
        const char *p = data + pos;
        pos += n + (nl ? 1 : 0);
        line++;
        if (n > 0 && p[n - 1] == '\r')
            n--;
        size_t sp = 0;
        while (sp < n && (p[sp] == ' ' || p[sp] == '\t'))
            sp++;
        if (sp == n)
            continue;   /* blank line */
        if (n >= BULK_MAX_LINE) {
            snprintf(why, wcap, "Line %d is too long in S3 File. Valid line is less than 256 chars.", line);
            goto bad;
        }
        json_t *r = json_loadb(p, n, JSON_REJECT_DUPLICATES, NULL);
        if (!json_is_object(r)) {
            json_decref(r);
            snprintf(why, wcap, "Failed to parse input file at line number: %d", line);
            goto bad;
        }
        const char *gid = json_string_value(json_object_get(r, "GroupId"));
        const char *gvid = json_string_value(json_object_get(r, "GroupVersionId"));
        const char *type = json_string_value(json_object_get(r, "DeploymentType"));
        const char *miss = !gid || !*gid ? "GroupId" : !gvid || !*gvid ? "GroupVersionId" : NULL;
        if (miss) {
            json_decref(r);
            snprintf(why, wcap, "InvalidInputFile: Missing %s at line number: %d", miss, line);
            goto bad;
        }
        if (type && strcmp(type, "NewDeployment") != 0) {
            json_decref(r);
            snprintf(why, wcap,
                     "InvalidInputFile: Invalid deployment type at line number : %d. Only valid type is "
                     "'NewDeployment'.",
                     line);
            goto bad;
        }
        json_array_append_new(recs, r);
    }
    return recs;
bad:
    json_decref(recs);
    return NULL;
}

static int inflight_cb(void *ud, int64_t seq, const char *id, const char *body)
{
    json_t *b = json_loads(body, 0, NULL);
    const char *st = b ? bulk_status_of(b, *(int64_t *)ud) : "Completed";
    bool busy = strcmp(st, "Initializing") == 0 || strcmp(st, "Running") == 0 || strcmp(st, "Stopping") == 0;
    json_decref(b);
    if (busy)
        *(int64_t *)ud = -1;
    return busy;
}

/* Deploy each record; the detailed report gets one entry per record. */
static gt_err bulk_run(gt_call *c, store_txn *t, const char *bid, json_t *recs, json_t *metrics)
{
    size_t i;
    json_t *r;
    int64_t processed = 0, invalid = 0;
    json_array_foreach(recs, i, r) {
        const char *gid = json_string_value(json_object_get(r, "GroupId"));
        const char *gvid = json_string_value(json_object_get(r, "GroupVersionId"));
        char target[GG_ARN_MAX] = "", did[37] = "", arn[GG_ARN_MAX] = "", ts[25];
        const char *err = NULL;
        processed++;
        switch (check_version(c, t, gid, gvid, target)) {
        case VC_OK: break;
        case VC_NO_GROUP: err = "That group definition does not exist."; break;
        case VC_NO_VERSION: err = "That group version does not exist."; break;
        case VC_NO_CORE: err = "You need a Greengrass Core in this Group before you can deploy."; break;
        default: return GT_E_UNAVAILABLE;
        }
        bool fails = false;
        if (!err) {
            if (!service_role(c, t, &fails))
                return GT_E_UNAVAILABLE;
            gt_err e = make_deployment(c, t, gid, "NewDeployment", gvid, target, fails, did, arn);
            if (e != GT_OK)
                return e;
        } else {
            invalid++;
            char garn[GG_ARN_MAX];
            gg_group_arn(c, gid, garn, sizeof garn);
            snprintf(target, sizeof target, "%.300s/versions/%.128s", garn, gvid);
        }
        gt_fmt_iso_ms(c->now_ms, ts);
        json_t *rep = json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:s, s:I, s:b}", "CreatedAt", ts, "DeploymentType",
                                "NewDeployment", "GroupArn", target, "DeploymentArn", err ? NULL : arn,
                                "DeploymentId", err ? NULL : did, "_err", err ? err : "", "_ms",
                                (json_int_t)c->now_ms, "_fails", fails);
        char rid[37];
        gt_uuid4(rid);
        gt_err e = rep ? gg_save(t, c, BULKREP_KIND, rid, bid, rep) : GT_E_NOMEM;
        json_decref(rep);
        if (e != GT_OK)
            return e;
    }
    json_object_set_new(metrics, "RecordsProcessed", json_integer(processed));
    json_object_set_new(metrics, "InvalidInputRecords", json_integer(invalid));
    return GT_OK;
}

gt_err gg_h_start_bulk(gt_call *c, store_txn *t)
{
    const char *role = gt_in_str(c, "ExecutionRoleArn"), *uri = gt_in_str(c, "InputFileUri");
    if (!gg_valid_role_arn(role))
        return gt_call_fail(c, GT_E_GG_INVALID_INPUT, "That role ARN is invalid.");
    char bucket[64], key[1024], why[512];
    if (!gg_parse_s3_uri(uri, bucket, sizeof bucket, key, sizeof key))
        return gt_call_fail(c, GT_E_GG_INVALID_INPUT, "Input file URI '%.512s' is not a valid S3 object URL.",
                            uri ? uri : "");
    json_t *tags = json_object_get(c->input, "tags");
    if (gg_check_tags(c, tags) != GT_OK)
        return c->err;
    /* AWS reads the file with the execution role; a bucket it cannot read
     * fails the call [INF: wording ours, type as the other input errors]. */
    char *data = NULL;
    size_t len = 0;
    gt_err e = bulk_fetch(c, bucket, key, &data, &len, why, sizeof why);
    if (e == GT_E_GG_INVALID_INPUT)
        return gt_call_fail(c, e, "Unable to read the input file '%.512s': %s.", uri, why);
    if (e != GT_OK)
        return e;
    /* Input errors first, then the one-at-a-time rule [INF: order unverified]. */
    int64_t probe = c->now_ms;
    if (store_doc_list(t, c->account, c->region, BULK_KIND, NULL, 0, true, 0, inflight_cb, &probe) != STORE_OK) {
        free(data);
        return GT_E_UNAVAILABLE;
    }
    if (probe == -1) {
        free(data);
        return gt_call_fail(c, GT_E_GG_INVALID_INPUT,
                            "Concurrent Deployment Error: another bulk deployment is still in progress.");
    }
    char bid[37], arn[GG_ARN_MAX], ts[25];
    gt_uuid4(bid);
    snprintf(arn, sizeof arn, "arn:aws:greengrass:%s:%s:/greengrass/bulk/deployments/%s", c->region, c->account,
             bid);
    gt_fmt_iso_ms(c->now_ms, ts);
    json_t *metrics = json_pack("{s:i, s:i, s:i}", "InvalidInputRecords", 0, "RecordsProcessed", 0, "RetryAttempts", 0);
    json_t *recs = gg_bulk_parse(data, len, why, sizeof why);
    free(data);
    e = metrics ? GT_OK : GT_E_NOMEM;
    if (e == GT_OK && recs)
        e = bulk_run(c, t, bid, recs, metrics);
    json_decref(recs);
    json_t *doc = NULL;
    if (e == GT_OK)
        doc = json_pack("{s:s, s:s, s:s, s:I, s:O, s:s, s:s}", "BulkDeploymentArn", arn, "BulkDeploymentId", bid,
                        "CreatedAt", ts, "_ms", (json_int_t)c->now_ms, "BulkDeploymentMetrics", metrics,
                        "ExecutionRoleArn", role, "InputFileUri", uri);
    json_decref(metrics);
    if (e == GT_OK && !doc)
        e = GT_E_NOMEM;
    if (e == GT_OK && !recs)
        json_object_set_new(doc, "ErrorMessage", json_string(why));
    if (e == GT_OK && json_object_size(tags) > 0)
        json_object_set(doc, "tags", tags);
    if (e == GT_OK)
        e = gg_save(t, c, BULK_KIND, bid, NULL, doc);
    json_decref(doc);
    if (e != GT_OK)
        return e;
    gt_call_add_resource(c, "AWS::Greengrass::BulkDeployment", arn);
    c->output = json_pack("{s:s, s:s}", "BulkDeploymentArn", arn, "BulkDeploymentId", bid);
    return c->output ? GT_OK : GT_E_NOMEM;
}

static const char *bulk_status(const json_t *b, int64_t now_ms, int64_t *since_abs)
{
    int64_t created = json_integer_value(json_object_get(b, "_ms"));
    json_t *stopped = json_object_get(b, "_stopped_ms");
    if (stopped) {
        int64_t s = json_integer_value(stopped);
        *since_abs = now_ms - s < GG_DEPLOY_STEP_MS ? s : s + GG_DEPLOY_STEP_MS;
        return now_ms - s < GG_DEPLOY_STEP_MS ? "Stopping" : "Stopped";
    }
    int64_t elapsed = now_ms - created;
    if (elapsed < GG_DEPLOY_STEP_MS) {
        *since_abs = created;
        return "Initializing";
    }
    if (elapsed < 2 * GG_DEPLOY_STEP_MS) {
        *since_abs = created + GG_DEPLOY_STEP_MS;
        return "Running";
    }
    *since_abs = created + 2 * GG_DEPLOY_STEP_MS;
    return jstr(b, "ErrorMessage") ? "Failed" : "Completed";
}

static json_t *load_bulk(gt_call *c, store_txn *t, gt_err *e)
{
    const char *id = gt_in_str(c, "BulkDeploymentId");
    int rc;
    json_t *b = gg_load(t, c, BULK_KIND, id, &rc);
    if (!b) {
        /* [INF] worded like GetDeploymentStatus's unknown deployment */
        *e = rc == STORE_NOTFOUND
                 ? gt_call_fail(c, GT_E_GG_INVALID_INPUT, "Bulk deployment '%.128s' does not exist.", id ? id : "")
                 : gg_store_fail(rc);
        return NULL;
    }
    gt_call_add_resource(c, "AWS::Greengrass::BulkDeployment", jstr(b, "BulkDeploymentArn"));
    *e = GT_OK;
    return b;
}

static json_t *item_bulk(const gt_call *c, json_t *doc)
{
    return json_pack("{s:O, s:O, s:O}", "BulkDeploymentArn", json_object_get(doc, "BulkDeploymentArn"),
                     "BulkDeploymentId", json_object_get(doc, "BulkDeploymentId"), "CreatedAt",
                     json_object_get(doc, "CreatedAt"));
}

gt_err gg_h_list_bulk(gt_call *c, store_txn *t)
{
    return gg_list(c, t, BULK_KIND, NULL, true, "BulkDeployments", item_bulk);
}

gt_err gg_h_get_bulk_status(gt_call *c, store_txn *t)
{
    gt_err e;
    json_t *b = load_bulk(c, t, &e);
    if (!b)
        return e;
    int64_t since;
    const char *status = bulk_status(b, c->now_ms, &since);
    json_t *tags = json_object_get(b, "tags");
    c->output = json_pack("{s:O, s:s, s:O, s:o}", "BulkDeploymentMetrics", json_object_get(b, "BulkDeploymentMetrics"),
                          "BulkDeploymentStatus", status, "CreatedAt", json_object_get(b, "CreatedAt"), "tags",
                          tags ? json_incref(tags) : json_object());
    if (c->output && strcmp(status, "Failed") == 0) {
        json_object_set(c->output, "ErrorMessage", json_object_get(b, "ErrorMessage"));
        json_object_set_new(c->output, "ErrorDetails", json_array());
    }
    json_decref(b);
    return c->output ? GT_OK : GT_E_NOMEM;
}

gt_err gg_h_stop_bulk(gt_call *c, store_txn *t)
{
    gt_err e;
    json_t *b = load_bulk(c, t, &e);
    if (!b)
        return e;
    int64_t since;
    const char *status = bulk_status(b, c->now_ms, &since);
    if (strcmp(status, "Initializing") != 0 && strcmp(status, "Running") != 0) {
        json_decref(b);
        return gt_call_fail(c, GT_E_GG_INVALID_INPUT, "Cannot change state of finished execution.");
    }
    json_object_set_new(b, "_stopped_ms", json_integer(c->now_ms));
    e = gg_save(t, c, BULK_KIND, jstr(b, "BulkDeploymentId"), NULL, b);
    json_decref(b);
    if (e == GT_OK)
        c->output = json_object();
    return e;
}

static json_t *item_report(const gt_call *c, json_t *doc)
{
    json_t *o = json_pack("{s:O, s:O, s:O}", "CreatedAt", json_object_get(doc, "CreatedAt"), "DeploymentType",
                          json_object_get(doc, "DeploymentType"), "GroupArn", json_object_get(doc, "GroupArn"));
    if (!o)
        return NULL;
    const char *err = jstr(doc, "_err");
    if (err && *err) {
        json_object_set_new(o, "DeploymentStatus", json_string("Failure"));
        json_object_set_new(o, "ErrorMessage", json_string(err));
        json_object_set_new(o, "ErrorDetails", json_array());
        return o;
    }
    int64_t since;
    const char *st = gg_deploy_phase(c->now_ms - json_integer_value(json_object_get(doc, "_ms")),
                                     json_is_true(json_object_get(doc, "_fails")), &since);
    json_object_set(o, "DeploymentArn", json_object_get(doc, "DeploymentArn"));
    json_object_set(o, "DeploymentId", json_object_get(doc, "DeploymentId"));
    json_object_set_new(o, "DeploymentStatus", json_string(st));
    if (strcmp(st, "Failure") == 0) {
        json_object_set_new(o, "ErrorMessage", json_string(NO_ROLE_MSG));
        json_object_set_new(o, "ErrorDetails", json_array());
    }
    return o;
}

gt_err gg_h_list_bulk_reports(gt_call *c, store_txn *t)
{
    gt_err e;
    json_t *b = load_bulk(c, t, &e);
    if (!b)
        return e;
    char id[64];
    gt_strlcpy(id, jstr(b, "BulkDeploymentId"), sizeof id);
    json_decref(b);
    return gg_list(c, t, BULKREP_KIND, id, false, "Deployments", item_report);
}
