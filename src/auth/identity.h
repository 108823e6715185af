/* identity.h: principals, access keys and the first-start bootstrap.
 *
 * A principal is who signed a request: what CloudTrail's userIdentity
 * says. Keys live in the store (kind "access_key", global scope); the
 * secret never leaves this module except to the SigV4 verifier.
 */
#ifndef GT_AUTH_IDENTITY_H
#define GT_AUTH_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/errors.h"
#include "store/store.h"

/* Who issued a temporary credential (CloudTrail's sessionContext.sessionIssuer).
 * type "" for an IAMUser/Root session from GetSessionToken (empty issuer). */
typedef struct auth_issuer {
    char type[16];          /* "Role" | "IAMUser" | "Root" | "" */
    char principal_id[64];  /* AROA... / AIDA... / account id */
    char arn[256];
    char account_id[16];
    char user_name[72];     /* role or user name */
} auth_issuer;

#define AUTH_SESSION_POLICY_MAX 2560

typedef struct auth_principal {
    char type[24];          /* "Root" | "IAMUser" | "AssumedRole" | "FederatedUser" */
    char principal_id[64];
    char arn[256];
    char account_id[16];
    char access_key_id[32];
    char user_name[72];     /* "" for root */
    char secret[64];        /* never logged, never recorded */
    bool active;
    /* Temporary credentials (ASIA keys, auth/identity.c auth_issue_temp);
     * all zero / empty for long-term AKIA keys. */
    bool temporary;
    int64_t created_ms;
    int64_t expires_ms;
    bool mfa;
    char token_sha256[65];  /* hex SHA-256 of the session token */
    char session_name[72];  /* RoleSessionName / federated name */
    auth_issuer issuer;
    char web_provider[256]; /* AssumeRoleWithWebIdentity: the provider, else "" */
    char session_policy[AUTH_SESSION_POLICY_MAX]; /* inline session policy JSON, or "" */
} auth_principal;

/* Create the account's root and `admin` credentials on first start, or
 * read them back; then (re)write DATA_DIR/credentials (mode 0600, aws CLI
 * format: [default] = admin, [root] = root). *created tells which. */
gt_err auth_bootstrap(store *s, const char *data_dir, const char *account, const char *region,
                      auth_principal *root, auth_principal *admin, bool *created,
                      char *err, size_t errcap);

/* auth_bootstrap for any account (multi-account: `greentrail account
 * create`), writing DATA_DIR/<file> instead of DATA_DIR/credentials. */
gt_err auth_bootstrap_file(store *s, const char *data_dir, const char *file, const char *account,
                           const char *region, auth_principal *root, auth_principal *admin, bool *created,
                           char *err, size_t errcap);

/* Look an access key up. GT_E_UNRECOGNIZED_CLIENT when unknown or inactive. */
gt_err auth_lookup_key(store *s, const char *access_key_id, auth_principal *out);

/* Check the session token of a request against its principal: a
 * temporary key needs its own token (GT_E_UNRECOGNIZED_CLIENT when missing
 * or wrong) and must not be expired at now_ms (GT_E_EXPIRED_TOKEN); a
 * long-term key must come without a token (GT_E_UNRECOGNIZED_CLIENT).
 * token may be NULL. Constant-time comparison. */
gt_err auth_check_session(const auth_principal *p, const char *token, size_t token_len, int64_t now_ms);

/* Hex SHA-256 of s[0..n) into out (65 bytes). */
void auth_sha256_hex(const char *s, size_t n, char out[65]);

/* Store principal p under p->access_key_id inside a write job (used by
 * IAM CreateAccessKey and STS; p->secret must be set). */
gt_err auth_put_key(store_txn *t, const auth_principal *p);
/* Read a key inside a job (write or read transaction). STORE_* codes. */
int auth_get_key(store_txn *t, const char *access_key_id, auth_principal *out);
/* Delete a key inside a write job. STORE_* codes. */
int auth_delete_key(store_txn *t, const char *access_key_id);

/* Fill p->access_key_id (prefix "AKIA" or "ASIA" + 16 chars) and a new
 * 40-char secret. false if the CSPRNG failed. */
bool auth_new_key(auth_principal *p, const char *prefix);
/* A new id: prefix + 17 chars of [A-Z0-9] ("AIDA", "AROA", "ANPA"). */
bool auth_new_id(char *out, size_t cap, const char *prefix);

/* The bootstrapped admin user's IAM document, for auth_bootstrap to store
 * (iam/iam.c owns the format): called with the admin principal inside the
 * bootstrap job; may be NULL-safe no-op. Defined in iam/iam.c. */
gt_err iam_bootstrap_admin(store_txn *t, const auth_principal *admin);

#endif
