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

#include "api/errors.h"
#include "store/store.h"

typedef struct auth_principal {
    char type[24];          /* "Root" | "IAMUser" (later: "AssumedRole", ...) */
    char principal_id[64];
    char arn[256];
    char account_id[16];
    char access_key_id[32];
    char user_name[72];     /* "" for root */
    char secret[64];        /* never logged, never recorded */
    bool active;
} auth_principal;

/* Create the account's root and `admin` credentials on first start, or
 * read them back; then (re)write DATA_DIR/credentials (mode 0600, aws CLI
 * format: [default] = admin, [root] = root). *created tells which. */
gt_err auth_bootstrap(store *s, const char *data_dir, const char *account, const char *region,
                      auth_principal *root, auth_principal *admin, bool *created,
                      char *err, size_t errcap);

/* Look an access key up. GT_E_UNRECOGNIZED_CLIENT when unknown or inactive. */
gt_err auth_lookup_key(store *s, const char *access_key_id, auth_principal *out);

#endif
