/*
 * errors.c: lookups into the one error table, errors.def.
 *
 * Why a table: the AWS code, the HTTP status and the default message of
 * every failure are defined once, so a handler cannot answer 404 with a
 * 400-shaped code by accident, and tests can walk every entry.
 * Invariant: every gt_err value below GT_ERR__COUNT has a row.
 */
#include "api/errors.h"

static const struct {
    const char *name;
    const char *code;
    int status;
    const char *message;
} gt_err_table[] = {
#define GT_ERROR(e, code, status, msg) {#e, code, status, msg},
#include "api/errors.def"
#undef GT_ERROR
};

static gt_err clamp(gt_err e)
{
    return ((unsigned)e < GT_ERR__COUNT) ? e : GT_E_INTERNAL;
}

const char *gt_err_code(gt_err e) { return gt_err_table[clamp(e)].code; }
int gt_err_status(gt_err e) { return gt_err_table[clamp(e)].status; }
const char *gt_err_message(gt_err e) { return gt_err_table[clamp(e)].message; }
const char *gt_err_name(gt_err e) { return gt_err_table[clamp(e)].name; }
