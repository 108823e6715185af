/*
 * gg_misc.c: group roles, thing runtime configuration, software update
 * jobs and tags (greengrass.md §3.7, §3.8, §3.10, §3.11).
 *
 * Group role: one optional IAM role per group id ("gg.grouprole", id =
 * GroupId). As on AWS, neither the role nor the group is checked for
 * existence; GetAssociatedRole without one is an untyped 404 with AWS's
 * message; Disassociate without one succeeds.
 *
 * Runtime configuration: per thing name ("gg.runtime"). Get before any
 * Update is a 404. Without real cores the ConfigurationSyncStatus is
 * OutOfSync for GG_DEPLOY_STEP_MS after an update, then InSync (as if the
 * core had picked it up), mirroring the deployment status progression.
 *
 * Software update jobs: validated and kept ("gg.updatejob"); the answer
 * names an IoT job (GreengrassUpdateJob_<uuid>) as AWS does.
 *
 * Tags live in the taggable resource's own doc ("tags"), so they die with
 * it. Taggable: groups, the seven definition kinds, bulk deployments.
 *
 * Invariants: AssociatedAt/DisassociatedAt are second precision; tag
 * maps obey gg_check_tags after every change.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "greengrass/gg_int.h"
#include "util/gtutil.h"

#define ROLE_KIND "gg.grouprole"
#define RUNTIME_KIND "gg.runtime"

/* ---------------------------------------------------------------- group role */

gt_err gg_h_associate_role(gt_call *c, store_txn *t)
{
    const char *gid = gt_in_str(c, "GroupId"), *arn = gt_in_str(c, "RoleArn");
    if (!gg_valid_role_arn(arn))
        return gt_call_fail(c, GT_E_GG_BAD_REQUEST, "That role ARN is invalid.");
    char ts[21], garn[GG_ARN_MAX];
    gt_fmt_iso_s(c->now_ms / 1000, ts);
    json_t *doc = json_pack("{s:s, s:s}", "AssociatedAt", ts, "RoleArn", arn);
    if (!doc)
        return GT_E_NOMEM;
    gt_err e = gg_save(t, c, ROLE_KIND, gid, NULL, doc);
    json_decref(doc);
    if (e != GT_OK)
        return e;
    gg_group_arn(c, gid, garn, sizeof garn);
    gt_call_add_resource(c, "AWS::Greengrass::Group", garn);
    c->output = json_pack("{s:s}", "AssociatedAt", ts);
    return c->output ? GT_OK : GT_E_NOMEM;
}

gt_err gg_h_get_role(gt_call *c, store_txn *t)
{
    const char *gid = gt_in_str(c, "GroupId");
    int rc;
    json_t *doc = gg_load(t, c, ROLE_KIND, gid, &rc);
    if (!doc) {
        if (rc != STORE_NOTFOUND)
            return gg_store_fail(rc);
        /* [DG] shows exactly this: "An error occurred (404) when calling
         * the GetAssociatedRole operation: You need to attach an IAM role
         * to this deployment group." -- no error type on the wire. */
        gt_call_fail(c, GT_E_GG_UNTYPED_404, "You need to attach an IAM role to this deployment group.");
        c->err_untyped = true;
        return c->err;
    }
    char garn[GG_ARN_MAX];
    gg_group_arn(c, gid, garn, sizeof garn);
    gt_call_add_resource(c, "AWS::Greengrass::Group", garn);
    c->output = doc;
    return GT_OK;
}

gt_err gg_h_disassociate_role(gt_call *c, store_txn *t)
{
    const char *gid = gt_in_str(c, "GroupId");
    store_key key = {c->account, c->region, ROLE_KIND, gid};
    if (store_doc_delete(t, &key) == STORE_ERR)
        return GT_E_UNAVAILABLE;
    char ts[21], garn[GG_ARN_MAX];
    gt_fmt_iso_s(c->now_ms / 1000, ts);
    gg_group_arn(c, gid, garn, sizeof garn);
    gt_call_add_resource(c, "AWS::Greengrass::Group", garn);
    c->output = json_pack("{s:s}", "DisassociatedAt", ts);
    return c->output ? GT_OK : GT_E_NOMEM;
}

/* ---------------------------------------------------------------- runtime configuration */

gt_err gg_h_update_runtime(gt_call *c, store_txn *t)
{
    const char *thing = gt_in_str(c, "ThingName");
    json_t *tc = json_object_get(c->input, "TelemetryConfiguration");
    if (!tc)
        return gt_call_fail(c, GT_E_GG_INVALID_INPUT,
                            "Your request is missing the following required parameter(s): {TelemetryConfiguration}.");
    json_t *doc = json_pack("{s:O, s:I}", "Telemetry", json_object_get(tc, "Telemetry"), "_ms", (json_int_t)c->now_ms);
    if (!doc)
        return GT_E_NOMEM;
    gt_err e = gg_save(t, c, RUNTIME_KIND, thing, NULL, doc);
    json_decref(doc);
    if (e == GT_OK)
        c->output = json_object();
    return e;
}

gt_err gg_h_get_runtime(gt_call *c, store_txn *t)
{
    const char *thing = gt_in_str(c, "ThingName");
    int rc;
    json_t *doc = gg_load(t, c, RUNTIME_KIND, thing, &rc);
    if (!doc)
        return rc == STORE_NOTFOUND ? gt_call_fail(c, GT_E_GG_RESOURCE_NOT_FOUND,
                                                   "Runtime configuration of thing %.128s does not exist.", thing)
                                    : gg_store_fail(rc);
    int64_t since = c->now_ms - json_integer_value(json_object_get(doc, "_ms"));
    c->output = json_pack("{s:{s:{s:O, s:s}}}", "RuntimeConfiguration", "TelemetryConfiguration", "Telemetry",
                          json_object_get(doc, "Telemetry"), "ConfigurationSyncStatus",
                          since < GG_DEPLOY_STEP_MS ? "OutOfSync" : "InSync");
    json_decref(doc);
    return c->output ? GT_OK : GT_E_NOMEM;
}

/* ---------------------------------------------------------------- software update jobs */

/* arn:aws:iot:R:A:thing/NAME or arn:aws:iot:R:A:thinggroup/NAME */
static bool iot_target_ok(const char *v)
{
    static const char pfx[] = "arn:aws:iot:";
    if (!v || strncmp(v, pfx, sizeof pfx - 1) != 0)
        return false;
    const char *p = v + sizeof pfx - 1;
    p += strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789-");
    if (*p != ':' || strspn(p + 1, "0123456789") != 12 || p[13] != ':')
        return false;
    p += 14;
    const char *name = strncmp(p, "thing/", 6) == 0 ? p + 6 : strncmp(p, "thinggroup/", 11) == 0 ? p + 11 : NULL;
    if (!name || !*name || strlen(name) > 128)
        return false;
    for (; *name; name++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:_-", *name))
            return false;
    return true;
}

gt_err gg_h_create_update_job(gt_call *c, store_txn *t)
{
    if (!gg_valid_role_arn(gt_in_str(c, "S3UrlSignerRole")))
        return gt_call_fail(c, GT_E_GG_INVALID_INPUT, "That role ARN is invalid.");
    json_t *targets = json_object_get(c->input, "UpdateTargets");
    if (json_array_size(targets) == 0)
        return gt_call_fail(c, GT_E_GG_INVALID_INPUT, "UpdateTargets must contain at least one thing or thing group ARN.");
    size_t i;
    json_t *v;
    json_array_foreach(targets, i, v) {
        if (!iot_target_ok(json_string_value(v)))
            return gt_call_fail(c, GT_E_GG_INVALID_INPUT, "Invalid update target: %.256s",
                                json_string_value(v) ? json_string_value(v) : "");
    }
    char uuid[37], id[64], arn[GG_ARN_MAX];
    gt_uuid4(uuid);
    snprintf(id, sizeof id, "GreengrassUpdateJob_%s", uuid);
    snprintf(arn, sizeof arn, "arn:aws:iot:%s:%s:job/%s", c->region, c->account, id);
    /* the newest Greengrass core software (1.11.x) */
    c->output = json_pack("{s:s, s:s, s:s}", "IotJobArn", arn, "IotJobId", id, "PlatformSoftwareVersion", "1.11.6");
    if (!c->output)
        return GT_E_NOMEM;
    json_t *doc = json_deep_copy(c->input);
    if (!doc)
        return GT_E_NOMEM;
    json_object_del(doc, "AmznClientToken");
    json_object_update(doc, c->output);
    gt_err e = gg_save(t, c, "gg.updatejob", id, NULL, doc);
    json_decref(doc);
    if (e == GT_OK)
        gt_call_add_resource(c, "AWS::IoT::Job", arn);
    return e;
}

/* ---------------------------------------------------------------- tags */

/* The doc kind and id of a taggable ARN of this account and region. */
static bool taggable(const gt_call *c, const char *arn, char *dkind, size_t dcap, char *id, size_t icap)
{
    char pfx[128];
    snprintf(pfx, sizeof pfx, "arn:aws:greengrass:%s:%s:/greengrass/", c->region, c->account);
    size_t pl = strlen(pfx);
    if (!arn || strncmp(arn, pfx, pl) != 0)
        return false;
    const char *p = arn + pl, *rest = NULL;
    static const char *const segs[] = {"cores", "devices", "functions", "subscriptions", "loggers", "resources",
                                       "connectors"};
    if (strncmp(p, "groups/", 7) == 0) {
        snprintf(dkind, dcap, "gg.groups");
        rest = p + 7;
    } else if (strncmp(p, "bulk/deployments/", 17) == 0) {
        snprintf(dkind, dcap, "gg.bulk");
        rest = p + 17;
    } else if (strncmp(p, "definition/", 11) == 0) {
        p += 11;
        for (size_t i = 0; i < sizeof segs / sizeof segs[0]; i++) {
            size_t n = strlen(segs[i]);
            if (strncmp(p, segs[i], n) == 0 && p[n] == '/') {
                snprintf(dkind, dcap, "gg.%s", segs[i]);
                rest = p + n + 1;
            }
        }
    }
    if (!rest || !*rest || strchr(rest, '/') || strlen(rest) >= icap)
        return false;
    gt_strlcpy(id, rest, icap);
    return true;
}

static json_t *load_taggable(gt_call *c, store_txn *t, char *dkind, size_t dcap, char *id, size_t icap, gt_err *e)
{
    const char *arn = gt_in_str(c, "ResourceArn");
    if (!taggable(c, arn, dkind, dcap, id, icap)) {
        *e = gt_call_fail(c, GT_E_GG_BAD_REQUEST, "%.512s is not a valid taggable Greengrass resource ARN.",
                          arn ? arn : "");
        return NULL;
    }
    int rc;
    json_t *doc = gg_load(t, c, dkind, id, &rc);
    if (!doc) {
        *e = rc == STORE_NOTFOUND
                 ? gt_call_fail(c, GT_E_GG_RESOURCE_NOT_FOUND, "The resource %.512s does not exist.", arn)
                 : gg_store_fail(rc);
        return NULL;
    }
    const char *type = strcmp(dkind, "gg.groups") == 0   ? "AWS::Greengrass::Group"
                       : strcmp(dkind, "gg.bulk") == 0   ? "AWS::Greengrass::BulkDeployment"
                       : strcmp(dkind, "gg.cores") == 0  ? "AWS::Greengrass::CoreDefinition"
                       : strcmp(dkind, "gg.devices") == 0 ? "AWS::Greengrass::DeviceDefinition"
                       : strcmp(dkind, "gg.functions") == 0 ? "AWS::Greengrass::FunctionDefinition"
                       : strcmp(dkind, "gg.subscriptions") == 0 ? "AWS::Greengrass::SubscriptionDefinition"
                       : strcmp(dkind, "gg.loggers") == 0 ? "AWS::Greengrass::LoggerDefinition"
                       : strcmp(dkind, "gg.resources") == 0 ? "AWS::Greengrass::ResourceDefinition"
                                                            : "AWS::Greengrass::ConnectorDefinition";
    gt_call_add_resource(c, type, arn);
    *e = GT_OK;
    return doc;
}

gt_err gg_h_tag(gt_call *c, store_txn *t)
{
    char dkind[32], id[128];
    gt_err e;
    json_t *doc = load_taggable(c, t, dkind, sizeof dkind, id, sizeof id, &e);
    if (!doc)
        return e;
    json_t *add = json_object_get(c->input, "tags");
    if (json_object_size(add) == 0) {
        json_decref(doc);
        return gt_call_fail(c, GT_E_GG_BAD_REQUEST, "The request must contain at least one tag.");
    }
    json_t *tags = json_object_get(doc, "tags");
    json_t *merged = tags ? json_deep_copy(tags) : json_object();
    json_object_update(merged, add);
    if (gg_check_tags(c, merged) != GT_OK) {
        json_decref(merged);
        json_decref(doc);
        return c->err;
    }
    json_object_set_new(doc, "tags", merged);
    e = gg_save(t, c, dkind, id, NULL, doc);
    json_decref(doc);
    return e;
}

gt_err gg_h_untag(gt_call *c, store_txn *t)
{
    char dkind[32], id[128];
    gt_err e;
    json_t *doc = load_taggable(c, t, dkind, sizeof dkind, id, sizeof id, &e);
    if (!doc)
        return e;
    json_t *tags = json_object_get(doc, "tags");
    size_t i;
    json_t *k;
    json_array_foreach(json_object_get(c->input, "TagKeys"), i, k) {
        if (tags && json_string_value(k))
            json_object_del(tags, json_string_value(k));
    }
    if (tags && json_object_size(tags) == 0)
        json_object_del(doc, "tags");
    e = gg_save(t, c, dkind, id, NULL, doc);
    json_decref(doc);
    return e;
}

gt_err gg_h_list_tags(gt_call *c, store_txn *t)
{
    char dkind[32], id[128];
    gt_err e;
    json_t *doc = load_taggable(c, t, dkind, sizeof dkind, id, sizeof id, &e);
    if (!doc)
        return e;
    json_t *tags = json_object_get(doc, "tags");
    c->output = json_pack("{s:o}", "tags", tags ? json_incref(tags) : json_object());
    json_decref(doc);
    return c->output ? GT_OK : GT_E_NOMEM;
}
