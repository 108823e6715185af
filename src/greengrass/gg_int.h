/* gg_int.h: what the Greengrass files share (internal to src/greengrass/).
 *
 * gg.c owns the service table, groups/definitions/versions, the record
 * rules and idempotency; gg_deploy.c deployments and bulk deployments;
 * gg_ca.c group certificate authorities; gg_misc.c group roles, thing
 * runtime configuration, software update jobs and tags; gg_validate.c
 * the version-content rules. All handlers run inside the store job.
 */
#ifndef GT_GG_INT_H
#define GT_GG_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/call.h"
#include "store/store.h"

#define GG_ARN_MAX 512

/* ---- documents (gg.c) ---- */

/* The doc (account, region, dkind, id) as JSON (new reference), or NULL
 * with *rc = STORE_NOTFOUND / STORE_ERR. */
json_t *gg_load(store_txn *t, const gt_call *c, const char *dkind, const char *id, int *rc);
/* Insert or replace a doc. GT_OK, GT_E_NOMEM or GT_E_UNAVAILABLE. */
gt_err gg_save(store_txn *t, const gt_call *c, const char *dkind, const char *id, const char *parent,
               json_t *doc);
/* STORE_ERR -> GT_E_UNAVAILABLE, anything else -> GT_E_INTERNAL. */
gt_err gg_store_fail(int rc);
/* Fail the call with an untyped 400 (no x-amzn-ErrorType; CloudTrail
 * errorCode BadRequestException). */
gt_err gg_fail_untyped400(gt_call *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "arn:aws:greengrass:R:A:/greengrass/groups/<gid>" */
void gg_group_arn(const gt_call *c, const char *gid, char *out, size_t cap);
/* The group doc for gid (new reference) or NULL: *rc as gg_load. */
json_t *gg_load_group(store_txn *t, const gt_call *c, const char *gid, int *rc);
/* arn:aws:iam::<12 digits>:role/[path/]name */
bool gg_valid_role_arn(const char *arn);

/* One list page over docs of dkind (children of parent unless NULL), in
 * insertion order or newest first (desc). `item` turns a doc into the
 * list entry (new reference; NULL skips the doc). Handles MaxResults and
 * NextToken (HMAC-bound to op, account, region, parent) and writes
 * {result_key: [...], NextToken?} into c->output. */
typedef json_t *(*gg_item_fn)(const gt_call *c, json_t *doc);
gt_err gg_list(gt_call *c, store_txn *t, const char *dkind, const char *parent, bool desc,
               const char *result_key, gg_item_fn item);

/* Tags of a deleted taggable resource die with it: nothing to do since
 * tags live in the resource's doc. Tag-map checks shared by create and
 * TagResource: <= 50 keys, key 1..128 chars not "aws:"-prefixed, value
 * <= 256 chars. */
gt_err gg_check_tags(gt_call *c, const json_t *tags);

/* ---- version content rules (gg_validate.c) ---- */

/* Check the content of a definition version of kind `seg` ("cores",
 * "devices", "functions", "subscriptions", "loggers", "resources",
 * "connectors"). Returns true when valid; else false with AWS's message
 * (untyped 400) in msg. Pure: no store access. */
bool gg_validate_content(const char *seg, const json_t *content, char *msg, size_t cap);

/* ---- deployments (gg_deploy.c) ---- */

/* Status of a deployment `elapsed_ms` after its creation, without real
 * cores: Building for the first GG_DEPLOY_STEP_MS, InProgress for the
 * next GG_DEPLOY_STEP_MS, then Success (or Failure when `fails`).
 * *since_ms gets the elapsed time at which that status began. */
#define GG_DEPLOY_STEP_MS 1000
const char *gg_deploy_phase(int64_t elapsed_ms, bool fails, int64_t *since_ms);

gt_err gg_h_create_deployment(gt_call *c, store_txn *t);
gt_err gg_h_list_deployments(gt_call *c, store_txn *t);
gt_err gg_h_get_deployment_status(gt_call *c, store_txn *t);
gt_err gg_h_reset_deployments(gt_call *c, store_txn *t);
gt_err gg_h_start_bulk(gt_call *c, store_txn *t);
gt_err gg_h_list_bulk(gt_call *c, store_txn *t);
gt_err gg_h_get_bulk_status(gt_call *c, store_txn *t);
gt_err gg_h_stop_bulk(gt_call *c, store_txn *t);
gt_err gg_h_list_bulk_reports(gt_call *c, store_txn *t);
/* Delete a group's deployments (DeleteGroup). */
int gg_delete_group_deployments(store_txn *t, const gt_call *c, const char *gid);

/* Parse an S3 object URL (https://BUCKET.s3[.-]REGION.amazonaws.com/KEY,
 * https://s3[.-]REGION.amazonaws.com/BUCKET/KEY, s3://BUCKET/KEY) into
 * bucket and key. false when it is none of these. */
bool gg_parse_s3_uri(const char *uri, char *bucket, size_t bcap, char *key, size_t kcap);

/* Check a bulk input file (JSON lines {GroupId, GroupVersionId,
 * DeploymentType?}); blank lines are skipped. The records as a JSON array
 * (new reference), or NULL with AWS's message for the first bad line in
 * why (line too long, unparsable, missing member, type other than
 * NewDeployment). */
json_t *gg_bulk_parse(const char *data, size_t len, char *why, size_t wcap);

/* ---- certificate authorities (gg_ca.c) ---- */

gt_err gg_h_create_ca(gt_call *c, store_txn *t);
gt_err gg_h_list_cas(gt_call *c, store_txn *t);
gt_err gg_h_get_ca(gt_call *c, store_txn *t);
gt_err gg_h_get_cert_config(gt_call *c, store_txn *t);
gt_err gg_h_update_cert_config(gt_call *c, store_txn *t);
int gg_delete_group_cas(store_txn *t, const gt_call *c, const char *gid);

/* ---- roles, runtime config, OTA, tags (gg_misc.c) ---- */

gt_err gg_h_associate_role(gt_call *c, store_txn *t);
gt_err gg_h_get_role(gt_call *c, store_txn *t);
gt_err gg_h_disassociate_role(gt_call *c, store_txn *t);
gt_err gg_h_get_runtime(gt_call *c, store_txn *t);
gt_err gg_h_update_runtime(gt_call *c, store_txn *t);
gt_err gg_h_create_update_job(gt_call *c, store_txn *t);
gt_err gg_h_tag(gt_call *c, store_txn *t);
gt_err gg_h_untag(gt_call *c, store_txn *t);
gt_err gg_h_list_tags(gt_call *c, store_txn *t);

#endif
