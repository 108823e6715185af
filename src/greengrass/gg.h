/* gg.h: the Greengrass V1 service (rest-json, greengrass 2017-06-07). */
#ifndef GT_GG_H
#define GT_GG_H

#include "api/call.h"
#include "cloudtrail/ct_record.h"

/* The handler for an operation name, or NULL when not implemented. */
gt_handler gg_handler_for(const char *op);
/* Greengrass's record rules: masked content members, {"Message"} in
 * responseElements on failure, no errorMessage (greengrass.md §5). */
void gg_record_parts(const gt_call *c, ct_record_parts *p);
/* Generic decode errors -> BadRequestException. */
gt_err gg_map_error(const model_op *op, gt_err e, const char *msg);
/* Members masked as "***" in requestParameters for op (NULL-terminated). */
const char *const *gg_redacted_members(const char *op);

#endif
