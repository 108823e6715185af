/* pattern.h: EventBridge event patterns (cloudtrail.md §8.3), the one
 * matcher every path uses (PutRule validation, TestEventPattern, PutEvents,
 * rule delivery). */
#ifndef GT_EVENTS_PATTERN_H
#define GT_EVENTS_PATTERN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Nesting limit for patterns (objects/arrays) and for event arrays walked. */
#define EV_PATTERN_MAX_DEPTH 64

typedef struct ev_pattern ev_pattern;

/* Parse and validate pattern text. Returns a compiled pattern (free with
 * ev_pattern_free), or NULL with an AWS-style reason in err (the text after
 * "Event pattern is not valid. Reason: "), always NUL-terminated when
 * errcap > 0. Thread-safe. */
ev_pattern *ev_pattern_compile(const char *text, char *err, size_t errcap);

/* Does `event` (any JSON; normally an envelope object) match? The pattern
 * is read-only here, so one pattern may be matched from many threads. */
bool ev_pattern_match(const ev_pattern *p, const json_t *event);

/* NULL is a no-op. */
void ev_pattern_free(ev_pattern *p);

#endif
