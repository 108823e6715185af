/*
 * gg_validate.c: the server-side rules on definition-version content
 * (greengrass.md §3.3, §4.1).
 *
 * What: the model has no length/pattern constraints, so everything AWS
 * checks beyond JSON types, required members and enums (which api_validate
 * does from the model: logger Component/Level/Type, Permission,
 * EncodingType, IsolationMode, ...) lives here:
 *  - entity Ids: 1..128 chars of [a-zA-Z0-9:_-], unique within a version;
 *  - a core definition version holds at most one core;
 *  - a function has at most 10 resource access policies;
 *  - subscription Source/Target: "cloud", "GGShadowService", an IoT thing
 *    ARN, a qualified Lambda function ARN or a connector ARN;
 *  - a resource has exactly one data container; a device resource's
 *    SourcePath begins with /dev; a volume resource may not expose /sys;
 *    resource Names follow the Id rule and are unique;
 *  - a connector's ConnectorArn is an AWS-published connector ARN.
 *
 * Why here: pure functions of the content, so they are unit-tested
 * without a store, and the handlers only turn a false into an untyped 400.
 *
 * Invariants: no allocation, no store access; messages are capped by the
 * caller's buffer; the first failing rule wins, in entity order.
 */
#include "greengrass/gg_int.h"

#include <stdio.h>
#include <string.h>

#define GG_ID_MAX 128

static bool id_ok(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n < 1 || n > GG_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = id[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == ':' ||
              ch == '_' || ch == '-'))
            return false;
    }
    return true;
}

static bool digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return n > 0;
}

/* p starts with "<region>:<account>:" where region is [a-z0-9-]* and
 * account is empty (allowed when empty_ok) or 12 digits. Returns the rest,
 * or NULL. */
static const char *region_account(const char *p, bool empty_account_ok, bool need_account)
{
    size_t r = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789-");
    if (p[r] != ':')
        return NULL;
    p += r + 1;
    const char *colon = strchr(p, ':');
    if (!colon)
        return NULL;
    size_t an = (size_t)(colon - p);
    if (an == 0 ? !empty_account_ok : !(an == 12 && digits(p, 12)))
        return NULL;
    if (need_account && an == 0)
        return NULL;
    return colon + 1;
}

static bool name_chars(const char *s, size_t n, const char *extra)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || strchr(extra, ch)))
            return false;
    }
    return true;
}

static bool is_thing_arn(const char *v)
{
    static const char pfx[] = "arn:aws:iot:";
    if (strncmp(v, pfx, sizeof pfx - 1) != 0)
        return false;
    const char *rest = region_account(v + sizeof pfx - 1, false, true);
    if (!rest || strncmp(rest, "thing/", 6) != 0)
        return false;
    return name_chars(rest + 6, strlen(rest + 6), ":_-");
}

/* arn:aws:lambda:R:A:function:NAME:QUALIFIER (system lambdas have empty
 * region and account: arn:aws:lambda:::function:GGIPDetector:1). */
static bool is_qualified_lambda_arn(const char *v)
{
    static const char pfx[] = "arn:aws:lambda:";
    if (strncmp(v, pfx, sizeof pfx - 1) != 0)
        return false;
    const char *rest = region_account(v + sizeof pfx - 1, true, false);
    if (!rest || strncmp(rest, "function:", 9) != 0)
        return false;
    const char *name = rest + 9, *colon = strchr(name, ':');
    if (!colon || !name_chars(name, (size_t)(colon - name), "_-"))
        return false;
    return name_chars(colon + 1, strlen(colon + 1), "_-$");
}

/* arn:aws:greengrass:R::/connectors/NAME/versions/N */
static bool is_connector_arn(const char *v)
{
    static const char pfx[] = "arn:aws:greengrass:";
    if (strncmp(v, pfx, sizeof pfx - 1) != 0)
        return false;
    const char *p = v + sizeof pfx - 1;
    size_t r = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789-");
    if (strncmp(p + r, "::/connectors/", 14) != 0)
        return false;
    p += r + 14;
    const char *slash = strchr(p, '/');
    if (!slash || !name_chars(p, (size_t)(slash - p), "_-"))
        return false;
    if (strncmp(slash, "/versions/", 10) != 0)
        return false;
    return digits(slash + 10, strlen(slash + 10));
}

static bool endpoint_ok(const char *v)
{
    return v && (strcmp(v, "cloud") == 0 || strcmp(v, "GGShadowService") == 0 || is_thing_arn(v) ||
                 is_qualified_lambda_arn(v) || is_connector_arn(v));
}

static const char *member_list_name(const char *seg)
{
    static const struct { const char *seg, *member; } m[] = {
        {"cores", "Cores"}, {"devices", "Devices"}, {"functions", "Functions"}, {"subscriptions", "Subscriptions"},
        {"loggers", "Loggers"}, {"resources", "Resources"}, {"connectors", "Connectors"},
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (strcmp(m[i].seg, seg) == 0)
            return m[i].member;
    return NULL;
}

static bool fail(char *msg, size_t cap, const char *seg, const char *detail, const char *arg)
{
    /* resources use AWS's shorter wording (greengrass.md §4.1) */
    if (strcmp(seg, "resources") == 0)
        snprintf(msg, cap, "The resources definition is invalid. (ErrorDetails: [%s%.256s])", detail, arg);
    else
        snprintf(msg, cap, "The %s definition is invalid or corrupted. (ErrorDetails: [%s%.256s])", seg, detail,
                 arg);
    return false;
}

static bool check_resource(const json_t *r, char *msg, size_t cap)
{
    const json_t *cont = json_object_get(r, "ResourceDataContainer");
    const char *id = json_string_value(json_object_get(r, "Id"));
    if (json_object_size(cont) != 1)
        return fail(msg, cap, "resources", "Resource must have exactly one resource data container: ", id ? id : "");
    const json_t *dev = json_object_get(cont, "LocalDeviceResourceData");
    const json_t *vol = json_object_get(cont, "LocalVolumeResourceData");
    if (dev) {
        const char *sp = json_string_value(json_object_get(dev, "SourcePath"));
        if (!sp || strncmp(sp, "/dev", 4) != 0 || (sp[4] != '\0' && sp[4] != '/'))
            return fail(msg, cap, "resources", "Device resource path should begin with /dev, but got: ",
                        sp ? sp : "null");
    }
    if (vol) {
        const char *sp = json_string_value(json_object_get(vol, "SourcePath"));
        if (sp && strncmp(sp, "/sys", 4) == 0 && (sp[4] == '\0' || sp[4] == '/'))
            return fail(msg, cap, "resources", "Accessing /sys is prohibited", "");
    }
    return true;
}

bool gg_validate_content(const char *seg, const json_t *content, char *msg, size_t cap)
{
    const char *lm = member_list_name(seg);
    if (!lm)
        return true;
    const json_t *list = json_object_get(content, lm);
    size_t n = json_array_size(list);
    if (strcmp(seg, "cores") == 0 && n > 1)
        return fail(msg, cap, seg, "Only one core is allowed", "");
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(list, i);
        const char *id = json_string_value(json_object_get(e, "Id"));
        if (!id_ok(id))
            return fail(msg, cap, seg, "Id must be 1 to 128 characters of [a-zA-Z0-9:_-], but got: ", id ? id : "null");
        for (size_t j = 0; j < i; j++)
            if (strcmp(id, json_string_value(json_object_get(json_array_get(list, j), "Id"))) == 0)
                return fail(msg, cap, seg, "Duplicate Id: ", id);
        if (strcmp(seg, "functions") == 0) {
            const json_t *env = json_object_get(json_object_get(e, "FunctionConfiguration"), "Environment");
            if (json_array_size(json_object_get(env, "ResourceAccessPolicies")) > 10)
                return fail(msg, cap, seg, "A function can have at most 10 resource access policies: ", id);
        } else if (strcmp(seg, "subscriptions") == 0) {
            const char *src = json_string_value(json_object_get(e, "Source"));
            const char *tgt = json_string_value(json_object_get(e, "Target"));
            char detail[600];
            if (!endpoint_ok(src)) {
                snprintf(detail, sizeof detail, "Subscription source is invalid. ID is '%.128s' and Source is '%.256s'",
                         id, src ? src : "");
                return fail(msg, cap, seg, detail, "");
            }
            if (!endpoint_ok(tgt)) {
                snprintf(detail, sizeof detail, "Subscription target is invalid. ID is '%.128s' and Target is '%.256s'",
                         id, tgt ? tgt : "");
                return fail(msg, cap, seg, detail, "");
            }
        } else if (strcmp(seg, "resources") == 0) {
            const char *name = json_string_value(json_object_get(e, "Name"));
            if (!id_ok(name))
                return fail(msg, cap, seg, "Name must be 1 to 128 characters of [a-zA-Z0-9:_-], but got: ",
                            name ? name : "null");
            for (size_t j = 0; j < i; j++)
                if (strcmp(name, json_string_value(json_object_get(json_array_get(list, j), "Name"))) == 0)
                    return fail(msg, cap, seg, "Duplicate resource name: ", name);
            if (!check_resource(e, msg, cap))
                return false;
        } else if (strcmp(seg, "connectors") == 0) {
            const char *arn = json_string_value(json_object_get(e, "ConnectorArn"));
            if (!arn || !is_connector_arn(arn))
                return fail(msg, cap, seg, "Connector ARN is invalid: ", arn ? arn : "null");
        }
    }
    return true;
}
