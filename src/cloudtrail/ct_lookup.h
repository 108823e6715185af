/* ct_lookup.h: the CloudTrail service's handlers (LookupEvents for now). */
#ifndef GT_CT_LOOKUP_H
#define GT_CT_LOOKUP_H

#include "api/call.h"

/* Handler for a CloudTrail operation, or NULL when not implemented. */
gt_handler ct_handler_for(const char *op);

#endif
