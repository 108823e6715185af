/* org.h: AWS Organizations (organizations 2016-11-28, awsJson1_1) and the
 * organization facts CloudTrail's organization trails need. */
#ifndef GT_ORG_H
#define GT_ORG_H

#include <jansson.h>
#include <stdbool.h>

#include "store/store.h"

#define ORG_CT_PRINCIPAL "cloudtrail.amazonaws.com"

/* What an account's organization is. */
typedef struct org_info {
    char id[16];          /* "o-" + 10 chars */
    char mgmt[16];        /* the management account */
    bool all_features;    /* FeatureSet ALL */
    bool ct_access;       /* trusted access enabled for cloudtrail.amazonaws.com */
} org_info;

/* The organization `account` belongs to (as member or management
 * account): true and *out filled, false when none or on a store error.
 * Works in read and write jobs. */
bool org_lookup(store_txn *t, const char *account, org_info *out);

/* The account ids of organization org_id (management account first, then
 * members in joining order), as a new JSON array of strings; an empty
 * array when the organization does not exist; NULL on a store error.
 * Works in read and write jobs. */
json_t *org_accounts(store_txn *t, const char *org_id);

#endif
