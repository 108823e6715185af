/*
 * fuzz_pattern.c: libFuzzer target for the event-pattern compiler and
 * matcher (src/events/pattern.c).
 *
 * The input is split on the first '\n' into a pattern and an event (both
 * JSON text; a missing event is "{}"). The pattern is compiled; when it
 * compiles, it is matched against the event (if the event parses) and
 * against a pattern-shaped event (the pattern itself). Invariants checked:
 * compile failure implies a non-empty, terminated, UTF-8 reason; matching
 * never crashes, never exceeds the recursion caps, and is deterministic.
 *
 * Build: tools/fuzz-replay (meson -Dfuzz=replay|instrumented, fuzz/meson.build).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "events/pattern.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    char *nl = memchr(buf, '\n', size);
    const char *event_text = "{}";
    if (nl) {
        *nl = '\0';
        event_text = nl + 1;
    }
    char err[512];
    memset(err, 'x', sizeof err);
    ev_pattern *p = ev_pattern_compile(buf, err, sizeof err);
    if (!p) {
        size_t n = strnlen(err, sizeof err);
        if (n == 0 || n == sizeof err)
            abort();
        json_t *m = json_string(err); /* NULL if the reason is not UTF-8 */
        if (!m)
            abort();
        json_decref(m);
    } else {
        json_t *ev = json_loads(event_text, JSON_DECODE_ANY, NULL);
        if (ev) {
            bool a = ev_pattern_match(p, ev);
            bool b = ev_pattern_match(p, ev);
            if (a != b)
                abort();
            json_decref(ev);
        }
        json_t *self = json_loads(buf, 0, NULL);
        if (self) {
            (void)ev_pattern_match(p, self);
            json_decref(self);
        }
        ev_pattern_free(p);
    }
    free(buf);
    return 0;
}
