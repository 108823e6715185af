/*
 * call.c: small helpers every handler uses on its gt_call.
 * No allocation beyond jansson objects owned by the call.
 */
#include "api/call.h"

#include <stdarg.h>
#include <stdio.h>

gt_err gt_call_fail(gt_call *c, gt_err e, const char *fmt, ...)
{
    c->err = e;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->errmsg, sizeof c->errmsg, fmt, ap);
        va_end(ap);
    } else {
        snprintf(c->errmsg, sizeof c->errmsg, "%s", gt_err_message(e));
    }
    return e;
}

void gt_call_add_resource(gt_call *c, const char *type, const char *arn)
{
    if (!c->resources)
        c->resources = json_array();
    if (!c->resources)
        return;
    json_array_append_new(c->resources, json_pack("{s:s, s:s, s:s}", "ARN", arn, "accountId",
                                                  c->account, "type", type));
}

const char *gt_in_str(const gt_call *c, const char *member)
{
    return json_string_value(json_object_get(c->input, member));
}
