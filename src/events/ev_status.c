/*
 * ev_status.c: `greentrail rules-status`, the operator's view of rule
 * delivery.
 *
 * What: opens the store given by the usual options (--data-dir, env,
 * config file), reads every target's delivery state and every
 * dead-lettered event, and prints them as one JSON document:
 *   {"targets":[{account, region, rule, id, cursor, delivered, failures,
 *                dead_letters, attempts, next_retry, last_error}],
 *    "dead_letters":[{account, region, rule, targetId, targetArn, seq,
 *                     eventId, error, attempts, time}]}
 * Why: delivery failures must be visible without SQL; the data is the
 * worker's own documents, read through a snapshot (store_read), so it is
 * safe while the server runs.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "events/events.h"
#include "util/gtutil.h"

typedef struct status_ctx {
    json_t *targets, *dlq;
} status_ctx;

static int add_target(void *ud, int64_t seq, const char *id, const char *body)
{
    status_ctx *s = ud;
    json_t *j = json_loads(body, 0, NULL);
    if (!j)
        return 0;
    json_int_t next = json_integer_value(json_object_get(j, "next_ms"));
    json_object_del(j, "next_ms");
    json_object_del(j, "gen");
    if (next > 0) {
        char when[25];
        gt_fmt_iso_ms(next, when);
        json_object_set_new(j, "next_retry", json_string(when));
    }
    json_array_append_new(s->targets, j);
    return 0;
}

static int add_dlq(void *ud, int64_t seq, const char *id, const char *body)
{
    status_ctx *s = ud;
    json_t *j = json_loads(body, 0, NULL);
    if (j)
        json_array_append_new(s->dlq, j);
    return 0;
}

static gt_err status_job(store_txn *t, void *ud)
{
    status_ctx *s = ud;
    if (store_doc_list(t, "", "", EV_KIND_TSTATE, NULL, 0, false, 0, add_target, s) != STORE_OK ||
        store_doc_list(t, "", "", EV_KIND_DLQ, NULL, 0, false, 0, add_dlq, s) != STORE_OK)
        return GT_E_UNAVAILABLE;
    return GT_OK;
}

int ev_cmd_status(int argc, char **argv)
{
    gt_config cfg;
    char err[1024];
    int rc = gt_config_load(&cfg, argc, argv, err, sizeof err);
    if (rc == 1)
        return 0;
    if (rc < 0) {
        fprintf(stderr, "greentrail: %s\n", err);
        return 2;
    }
    store *st = store_open_url(cfg.store_url, cfg.data_dir, err, sizeof err);   /* --store too */
    if (!st) {
        fprintf(stderr, "greentrail: %s\n", err);
        return 1;
    }
    status_ctx s = {json_array(), json_array()};
    gt_err e = (s.targets && s.dlq) ? store_read(st, status_job, &s) : GT_E_NOMEM;
    store_close(st);
    if (e != GT_OK) {
        fprintf(stderr, "greentrail: cannot read the rules' delivery state\n");
        json_decref(s.targets);
        json_decref(s.dlq);
        return 1;
    }
    json_t *out = json_pack("{s:o, s:o}", "targets", s.targets, "dead_letters", s.dlq);
    char *text = out ? json_dumps(out, JSON_INDENT(2)) : NULL;
    json_decref(out);
    if (!text)
        return 1;
    printf("%s\n", text);
    free(text);
    return 0;
}
