/* libFuzzer target: paging tokens (api/pagetoken.c). Any byte string given
 * as a NextToken must be refused or accepted without a crash, and only a
 * token made with the same key and scope may open. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/pagetoken.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned char key[32] = {7};
    char *tok = malloc(size + 1);
    if (!tok)
        return 0;
    memcpy(tok, data, size);
    tok[size] = '\0';
    int64_t a, b;
    if (api_pagetoken_open(key, "fuzz-scope", tok, &a, &b)) {
        /* an accepted token must round-trip to the same text */
        char again[API_PAGETOKEN_MAX];
        if (!api_pagetoken_make(key, "fuzz-scope", a, b, again) || strcmp(again, tok) != 0)
            abort();
    }
    free(tok);
    return 0;
}
