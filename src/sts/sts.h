/* sts.h: the STS service (query protocol, sts 2011-06-15): caller
 * identity and temporary credentials (AssumeRole, GetSessionToken,
 * GetFederationToken). */
#ifndef GT_STS_H
#define GT_STS_H

#include "api/call.h"

/* The handler for an operation name, or NULL when not implemented. */
gt_handler sts_handler_for(const char *op);

#endif
