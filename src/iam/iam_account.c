/*
 * iam_account.c: `greentrail account create`, the multi-account command.
 *
 *   greentrail account create --data-dir DIR [--store URL] [--account-id N] [--region R]
 *
 * Adds an account to the store under DIR: its root and `admin` IAM user
 * (with AdministratorAccess) and their access keys, exactly as `serve`
 * bootstraps the first account, and writes them to
 * DIR/credentials-<account> (aws CLI format, mode 0600; profile default =
 * admin, root = root), then prints the same. Without --account-id a
 * random 12-digit id is chosen. Running it again for an existing account
 * rewrites its credentials file and changes nothing else.
 *
 * Accounts are isolated by construction: every document and event is
 * keyed by account, and a principal only ever acts in its own account
 * (cross-account access goes through AssumeRole and trust policies).
 * It may run while a server uses DIR: the store is SQLite in WAL mode
 * and the server reads keys from it on every request.
 */
#include "iam/iam_account.h"

#include <stdio.h>
#include <string.h>

#include "auth/identity.h"
#include "config.h"
#include "store/store.h"
#include "util/gtutil.h"

int iam_cmd_account(int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "create") != 0) {
        fprintf(stderr, "usage: greentrail account create --data-dir DIR [--store URL] [--account-id N] [--region R]\n");
        return 2;
    }
    bool has_id = false;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--account-id") == 0 || strncmp(argv[i], "--account-id=", 13) == 0)
            has_id = true;
    char gen[13];
    char *args[64];
    int n = 0;
    for (int i = 1; i < argc && n < 60; i++)
        args[n++] = argv[i];
    if (!has_id) {
        /* a random 12-digit id, not starting with 0 */
        if (!gt_random_chars(gen, 12, "0123456789"))
            return 1;
        if (gen[0] == '0')
            gen[0] = '7';
        args[n++] = "--account-id";
        args[n++] = gen;
    }
    args[n] = NULL;
    gt_config cfg;
    char err[1024];
    int rc = gt_config_load(&cfg, n, args, err, sizeof err);
    if (rc == 1)
        return 0;
    if (rc < 0) {
        fprintf(stderr, "greentrail: %s\n", err);
        return 2;
    }
    store *st = store_open_url(cfg.store_url, cfg.data_dir, err, sizeof err);   /* --store: PostgreSQL too */
    if (!st) {
        fprintf(stderr, "greentrail: %s\n", err);
        return 1;
    }
    char file[64];
    snprintf(file, sizeof file, "credentials-%s", cfg.account_id);
    auth_principal root, admin;
    bool created = false;
    gt_err e = auth_bootstrap_file(st, cfg.data_dir, file, cfg.account_id, cfg.region, &root, &admin, &created,
                                   err, sizeof err);
    store_close(st);
    if (e != GT_OK) {
        fprintf(stderr, "greentrail: %s\n", err);
        return 1;
    }
    printf("%s account %s; credentials: %s/%s\n", created ? "created" : "existing", cfg.account_id, cfg.data_dir,
           file);
    printf("  profile default = IAM user admin, access key %s\n", admin.access_key_id);
    printf("  profile root    = account root,   access key %s\n", root.access_key_id);
    return 0;
}
