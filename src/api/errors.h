/* errors.h: the one error type (see errors.def). */
#ifndef GT_ERRORS_H
#define GT_ERRORS_H

typedef enum gt_err {
#define GT_ERROR(e, code, status, msg) e,
#include "api/errors.def"
#undef GT_ERROR
    GT_ERR__COUNT
} gt_err;

/* AWS error code string ("" for GT_OK). Never NULL. */
const char *gt_err_code(gt_err e);
/* HTTP status the error is answered with. */
int gt_err_status(gt_err e);
/* Default message. Never NULL. */
const char *gt_err_message(gt_err e);
/* Enum name, for logs and tests ("GT_E_INTERNAL"). */
const char *gt_err_name(gt_err e);

#endif
