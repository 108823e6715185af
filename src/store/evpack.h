/* evpack: a journal record and its LookupEvents summary, compressed
 * together into one blob (the form the stores keep them in). */
#ifndef GT_EVPACK_H
#define GT_EVPACK_H

#include <stddef.h>

/* A reader's inflate buffer: the last unpacked record and summary live in
 * it until the next evpack_unpack on it. Zero-initialise; evpack_buf_free. */
typedef struct evpack_buf {
    char *buf;
    size_t cap;
} evpack_buf;

/* Packs json (required) and summary (NULL: none) into a malloc'd blob of
 * *len_out bytes, with the calling thread's own deflate state (kept per
 * thread, freed when the thread exits). NULL when out of memory or too big. */
unsigned char *evpack_pack(const char *json, const char *summary, size_t *len_out);

/* Unpacks blob (n bytes) into b: *rec is the record and *summary the
 * summary (NULL when the blob has none), each NUL-terminated in b, valid
 * until the next call on b. summary may be NULL. Returns 0, or -1 when the
 * blob is corrupt or memory ran out. */
int evpack_unpack(evpack_buf *b, const void *blob, size_t n, const char **rec, const char **summary);

void evpack_buf_free(evpack_buf *b);

#endif
