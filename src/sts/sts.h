/* sts.h: the STS service (query protocol, sts 2011-06-15): caller
 * identity and temporary credentials (AssumeRole, GetSessionToken,
 * GetFederationToken). */
#ifndef GT_STS_H
#define GT_STS_H

#include <stdbool.h>

#include "api/call.h"

/* The handler for an operation name, or NULL when not implemented. */
gt_handler sts_handler_for(const char *op);

/* The principal of an unsigned request that STS accepts without SigV4
 * (AssumeRoleWithWebIdentity, which carries its own credential): a
 * "WebIdentityUser" in the role's account, named after the token's
 * UNVERIFIED claims (for the record only: the handler verifies the token
 * and the trust policy). false when req is no such request. */
bool sts_unsigned_principal(const http_req *req, auth_principal *who);

#endif
