/* libFuzzer target: util/jsonw.c. Any JSON text jansson accepts, written
 * back by gt_json_dumps, must give exactly json_dumps' bytes, with and
 * without sorted keys; both refuse the same trees. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/jsonw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (!j)
        return 0;
    for (int sort = 0; sort < 2; sort++) {
        char *want = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY | (sort ? JSON_SORT_KEYS : 0));
        char *got = gt_json_dumps(j, sort, true);
        if ((want == NULL) != (got == NULL) || (want && strcmp(want, got) != 0))
            abort();
        free(want);
        free(got);
    }
    json_decref(j);
    return 0;
}
