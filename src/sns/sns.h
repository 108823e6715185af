/* sns.h: the SNS service (query protocol, sns 2010-03-31): topics,
 * HTTP/HTTPS subscriptions, Publish, and signed HTTP delivery.
 *
 * Documents (store):
 *   (acct, region, "sns.topic", NAME)        {"Attributes":{...}}
 *   (acct, region, "sns.sub",   UUID) parent NAME
 *        {"SubscriptionArn","TopicArn","Protocol","Endpoint","Owner","Confirmed","Token"}
 *   ("", "", "sns.dlv", UUID)                one pending HTTP delivery
 *        {"url","Type","MessageId","TopicArn","Subject"?,"Message","Timestamp",
 *         "Token"?,"SubscriptionArn"?,"region","attempts","next_ms","first_ms"}
 * A delivery doc is written in the same transaction as the call that
 * causes it (Publish, Subscribe) and removed by the delivery thread
 * (sns/sns_deliver.c) once the endpoint answered 2xx.
 */
#ifndef GT_SNS_H
#define GT_SNS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "api/call.h"
#include "api/dispatch.h"
#include "http/http_req.h"
#include "store/store.h"

#define SNS_KIND_TOPIC "sns.topic"
#define SNS_KIND_SUB "sns.sub"
#define SNS_KIND_DLV "sns.dlv"

/* Publish `message` (and an optional subject) to topic (a name in
 * account/region, or a topic ARN) inside transaction t: one delivery doc
 * per confirmed subscription. msgid_out (may be NULL) gets the MessageId.
 * GT_OK; GT_E_SNS_NOT_FOUND when the topic does not exist;
 * GT_E_UNAVAILABLE / GT_E_NOMEM on store trouble. */
gt_err sns_publish_txn(store_txn *t, const char *account, const char *region, const char *topic,
                       const char *subject, const char *message, int64_t now_ms, char msgid_out[37]);

/* The same from outside any store job (trail delivery, EventBridge
 * targets): runs one store_run job. Thread-safe. */
gt_err sns_publish_internal(store *st, const char *account, const char *region, const char *topic,
                            const char *subject, const char *message);

/* Trail delivery hook (cloudtrail.md §4.1): when trail (a trail document
 * with "_account", "HomeRegion" and optional "SnsTopicName") has a topic,
 * publish {"s3Bucket":bucket,"s3ObjectKey":[key]} to it, without Subject.
 * Failures are logged to stderr (the log file itself is delivered). */
void sns_notify_trail_file(store *st, const json_t *trail, const char *bucket, const char *key);

/* Trail API check of SnsTopicName (cloudtrail.md §4.1): the name's
 * syntax (GT_E_SNS_CT_NAME), the topic's existence and a topic policy that
 * allows cloudtrail.amazonaws.com SNS:Publish (GT_E_SNS_CT_POLICY).
 * Message in msg. Runs inside the trail call's transaction. */
gt_err sns_check_trail_topic(store_txn *t, const char *account, const char *region, const char *topic,
                             char *msg, size_t msgcap);

/* "arn:aws:sns:REGION:ACCT:NAME" -> parts; false when not a topic ARN. */
bool sns_parse_topic_arn(const char *arn, char region[32], char acct[16], char name[257]);

/* ---- delivery (sns_deliver.c) ---- */
typedef struct sns_worker sns_worker;
typedef struct sns_worker_opts {
    store *st;
    const char *data_dir;     /* signing key and certificate live in DATA_DIR/sns */
    const char *base_url;     /* "http://host:port": SigningCertURL, SubscribeURL, UnsubscribeURL */
    long interval_ms;         /* poll period (default 200) */
} sns_worker_opts;

/* Load or create the signing key + certificate, start the delivery
 * thread. NULL (reason in err) on failure. The worker is also what
 * sns_http_wants/sns_http_handle serve from. */
sns_worker *sns_worker_start(const sns_worker_opts *o, char *err, size_t errcap);
/* Stop (after the delivery in progress) and free. NULL is a no-op. */
void sns_worker_stop(sns_worker *w);

/* Is req an unauthenticated SNS URL: an unsigned GET of
 * /sns/SimpleNotificationService-<id>.pem, or of the SubscribeURL /
 * UnsubscribeURL (/sns/?Action=...)? */
bool sns_http_wants(const http_req *req);
/* Answer such a request (out as gt_dispatch fills it). */
void sns_http_handle(const http_req *req, http_resp *out);

/* The string to sign of an envelope (sns.md §4.2 "String to sign"):
 * malloc'd, or NULL when a required field is missing. */
char *sns_string_to_sign(const json_t *env);

#endif
