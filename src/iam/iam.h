/* iam.h: the IAM service (query protocol, iam 2010-05-08): users, access
 * keys, login profiles, roles, inline and managed policies, OIDC
 * providers; and the policy lookups authorization needs. */
#ifndef GT_IAM_H
#define GT_IAM_H

#include <jansson.h>
#include <stdbool.h>

#include "api/call.h"
#include "cloudtrail/ct_record.h"

#define IAM_ADMIN_POLICY_ARN "arn:aws:iam::aws:policy/AdministratorAccess"

/* The handler for an operation name, or NULL when not implemented. */
gt_handler iam_handler_for(const char *op);

/* Record rules shared by IAM and STS: requestParameters and
 * responseElements in lowerCamelCase member names, passwords and tokens
 * omitted from requestParameters, secretAccessKey never recorded,
 * errorMessage on failures. */
void iam_record_parts(const gt_call *c, ct_record_parts *p);

/* Append every identity policy document (parsed JSON) that applies to p
 * to docs: an IAM user's or role's inline and attached managed policies;
 * for a FederatedUser its issuing user's. *found is false when that user
 * or role does not exist (then nothing is appended). Read-only: works in
 * store_read jobs. */
gt_err iam_policies_for(store_txn *t, const auth_principal *p, json_t *docs, bool *found);

/* The role document {"Role": {...}, ...} of account/name, or NULL (new
 * reference). For STS AssumeRole. */
json_t *iam_get_role(store_txn *t, const char *account, const char *name);

/* Organizations CreateAccount: the role `name` in `account` with trust
 * policy `trust` (JSON text) and AdministratorAccess attached, as AWS
 * makes OrganizationAccountAccessRole; nothing when it exists. Write job. */
gt_err iam_put_org_role(store_txn *t, const char *account, const char *name, const char *trust, int64_t now_ms);

/* The OIDC provider document of account by its ARN, or NULL (new reference). */
json_t *iam_get_oidc(store_txn *t, const char *account, const char *arn);

/* Does `password` match the login profile of IAM user `user` in
 * `account`? (scrypt with the stored salt, constant-time compare.) false
 * when the user or its login profile does not exist. For the console's
 * sign-in; works in store_read jobs. */
bool iam_check_password(store_txn *t, const char *account, const char *user, const char *password);

/* The console's view of IAM user `user` in `account`: fills *out (type
 * IAMUser, principal id, ARN, account, user name; no key) and sets *known
 * when the user exists. GT_OK when the user has a login profile and, if
 * password is non-NULL, the password matches; else
 * GT_E_UNRECOGNIZED_CLIENT. Works in store_read jobs. */
gt_err iam_console_user(store_txn *t, const char *account, const char *user, const char *password,
                        auth_principal *out, bool *known);

/* The account id (12 digits + NUL into out) whose account alias is
 * `alias` (CreateAccountAlias); false when none. Works in store_read jobs. */
bool iam_alias_account(store_txn *t, const char *alias, char out[16]);

/* Percent-encode s for IAM's policy document response fields (RFC 3986
 * unreserved kept). malloc'd, or NULL. */
char *iam_url_encode(const char *s);

#endif
