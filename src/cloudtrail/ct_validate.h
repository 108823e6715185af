/* ct_validate.h: `greentrail validate`, offline validation of a trail's
 * log files and digests in a local copy of its bucket (cloudtrail.md §3). */
#ifndef GT_CT_VALIDATE_H
#define GT_CT_VALIDATE_H

/* Run the subcommand (argv after "validate"). Returns the exit code:
 * 0 all valid, 1 something invalid, 2 usage or input errors. */
int ct_validate_main(int argc, char **argv);

#endif
