/* iam_account.h: the `greentrail account` subcommand (multi-account). */
#ifndef GT_IAM_ACCOUNT_H
#define GT_IAM_ACCOUNT_H

/* `greentrail account create ...` (argv after "account"). Returns the
 * process exit code: 0 ok, 1 failure, 2 usage. */
int iam_cmd_account(int argc, char **argv);

#endif
