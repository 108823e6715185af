/* jsonw.h: a jansson tree written as compact JSON, fast, byte for byte as
 * json_dumps(j, JSON_COMPACT [| JSON_SORT_KEYS]) writes it. */
#ifndef GT_JSONW_H
#define GT_JSONW_H

#include <jansson.h>
#include <stdbool.h>

/* The compact JSON text of j (an object or array; any value when any is
 * true, like JSON_ENCODE_ANY), malloc'd and NUL-terminated, with object
 * keys in insertion order, or sorted when sort_keys (JSON_SORT_KEYS).
 * The same bytes as json_dumps with the matching flags; NULL where
 * json_dumps gives NULL (out of memory, a non-container without any). */
char *gt_json_dumps(const json_t *j, bool sort_keys, bool any);

#endif
