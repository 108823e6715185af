/* evpack: how a journal record is kept on disk.
 *
 * Both stores keep each CloudTrail record compressed together with its
 * LookupEvents summary (store_event.summary, which shares most of its
 * strings with the record and so costs ~10% of its own size this way), so
 * a lookup page neither parses records nor reads twice their size.
 *
 * The blob: the record's length and the summary's (4 bytes each,
 * little-endian; 0: no summary), then one zlib stream of the
 * record followed by the summary. Level 1 (the writer thread pays for it
 * on every write call) with fixed Huffman codes: a record of 1-2 KB then
 * inflates without building code tables, which was half of a LookupEvents
 * page's instructions with zlib's default strategy (callgrind: 49k
 * instructions per record; records come out ~18% larger). A 4 KiB window
 * and a small hash (the same size on these records as the defaults).
 *
 * Invariants: a blob once written is readable by every later version (the
 * format is part of the store's schema); each thread has its own deflate
 * state (a pthread key, ended when the thread exits), reset per record:
 * setting up a default state cost more than compressing. */
#include "store/evpack.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

typedef struct pack_state {
    z_stream z;
    bool ok;
} pack_state;

static pthread_key_t pack_key;
static pthread_once_t pack_once = PTHREAD_ONCE_INIT;
static bool pack_key_ok;

static void pack_state_free(void *p)
{
    pack_state *ps = p;
    if (ps->ok)
        deflateEnd(&ps->z);
    free(ps);
}

static void pack_key_init(void) { pack_key_ok = pthread_key_create(&pack_key, pack_state_free) == 0; }

static z_stream *thread_deflate(void)
{
    pthread_once(&pack_once, pack_key_init);
    if (!pack_key_ok)
        return NULL;
    pack_state *ps = pthread_getspecific(pack_key);
    if (!ps) {
        ps = calloc(1, sizeof *ps);
        if (!ps || pthread_setspecific(pack_key, ps) != 0) {
            free(ps);
            return NULL;
        }
    }
    if (!ps->ok) {
        if (deflateInit2(&ps->z, 1, Z_DEFLATED, 12, 5, Z_FIXED) != Z_OK)
            return NULL;
        ps->ok = true;
    } else if (deflateReset(&ps->z) != Z_OK) {
        return NULL;
    }
    return &ps->z;
}

unsigned char *evpack_pack(const char *json, const char *summary, size_t *len_out)
{
    if (!json)
        return NULL;
    size_t n = strlen(json), m = summary ? strlen(summary) : 0;
    if (n > 0x7fffffffu || m > 0x7fffffffu - n)
        return NULL;
    z_stream *z = thread_deflate();
    if (!z)
        return NULL;
    /* deflateBound knows these parameters (fixed codes: up to 9 bits per
     * byte, more than compressBound allows) */
    uLong zn = deflateBound(z, (uLong)(n + m));
    unsigned char *b = malloc(8 + (size_t)zn);
    if (!b)
        return NULL;
    for (int i = 0; i < 4; i++) {
        b[i] = (unsigned char)((n >> (8 * i)) & 0xff);
        b[4 + i] = (unsigned char)((m >> (8 * i)) & 0xff);
    }
    z->next_out = b + 8;
    z->avail_out = (uInt)zn;
    z->next_in = (Bytef *)(uintptr_t)json;
    z->avail_in = (uInt)n;
    int rc = deflate(z, m ? Z_NO_FLUSH : Z_FINISH);
    if (m && rc == Z_OK && z->avail_in == 0) {
        z->next_in = (Bytef *)(uintptr_t)summary;
        z->avail_in = (uInt)m;
        rc = deflate(z, Z_FINISH);
    }
    if (rc != Z_STREAM_END) {
        free(b);
        return NULL;
    }
    *len_out = 8 + (size_t)z->total_out;
    return b;
}

static size_t le32(const unsigned char *b)
{
    return (size_t)b[0] | ((size_t)b[1] << 8) | ((size_t)b[2] << 16) | ((size_t)b[3] << 24);
}

int evpack_unpack(evpack_buf *b, const void *blob, size_t bn, const char **rec, const char **summary)
{
    const unsigned char *p = blob;
    if (summary)
        *summary = NULL;
    if (!p || bn < 8 || bn > 0x7fffffffu)
        return -1;
    size_t n = le32(p), m = le32(p + 4);
    if (n > 0x7fffffffu || m > 0x7fffffffu - n)
        return -1;
    if (n + m + 2 > b->cap) {
        size_t cap = n + m + 2 < 4096 ? 4096 : n + m + 2;
        char *nb = realloc(b->buf, cap);
        if (!nb)
            return -1;
        b->buf = nb;
        b->cap = cap;
    }
    uLongf out = (uLongf)(n + m);
    if (uncompress((Bytef *)b->buf, &out, p + 8, (uLong)(bn - 8)) != Z_OK || out != n + m)
        return -1;
    memmove(b->buf + n + 1, b->buf + n, m);
    b->buf[n] = '\0';
    b->buf[n + 1 + m] = '\0';
    if (summary && m)
        *summary = b->buf + n + 1;
    *rec = b->buf;
    return 0;
}

void evpack_buf_free(evpack_buf *b)
{
    free(b->buf);
    b->buf = NULL;
    b->cap = 0;
}
