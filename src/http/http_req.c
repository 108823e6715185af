/*
 * http_req.c: helpers over the read-only request view (http_req.h).
 * No allocation, no state: safe from any thread.
 */
#include "http/http_req.h"

#include <strings.h>
#include <string.h>

const char *http_req_header(const http_req *r, const char *name, size_t *len)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < r->n_headers; i++) {
        const http_header *h = &r->headers[i];
        if (h->name_len == n && strncasecmp(h->name, name, n) == 0) {
            if (len)
                *len = h->value_len;
            return h->value;
        }
    }
    return NULL;
}
