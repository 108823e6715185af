/* evpack: how a journal record is kept on disk.
 *
 * Both stores keep each CloudTrail record compressed together with its
 * LookupEvents summary (store_event.summary, which shares most of its
 * strings with the record and so costs ~10% of its own size this way), so
 * a lookup page neither parses records nor reads twice their size.
 *
 * Two blob forms, told apart by the top bit of byte 3 (tools/evdict.py
 * reads and writes both too):
 * - with a preset dictionary (written since SQLite schema 3): bytes 0-2 the
 *   record's length (24 bits, little-endian), byte 3 0x80 | the
 *   dictionary's version, bytes 4-6 the summary's length, bytes 7-10 the
 *   adler32 of record + summary; then a raw deflate stream of the record
 *   followed by the summary, made with that dictionary
 *   (src/store/evdict_vN.gen.c, by tools/gen_evdict.py from the records of
 *   a script of varied calls, not from the records it is measured on).
 *   A record is 1-2 KB: alone it shares little with itself, but nearly all
 *   of its field names, ARNs, sources and user agents are in the
 *   dictionary: bench store records ~200 B instead of ~740 B.
 * - schema 2 (no dictionary; still read, and written for a record or
 *   summary of 16 MiB or more): the record's and the summary's length (4
 *   bytes each, little-endian; the record's top bit is 0), then one zlib
 *   stream of the record followed by the summary.
 * Level 6, fixed Huffman codes, a 32 KiB window: bytes and callgrind
 * instructions of the choices are in bench/RESULTS.md (round 4, storage).
 * Fixed codes: inflating needs no code tables of its own per record.
 * Raw deflate, so neither side checksums the 16 KiB dictionary per record
 * (zlib's own header would: an adler32 of it per inflateSetDictionary);
 * the blob's adler32 covers the text as zlib's trailer did.
 *
 * Invariants: a blob once written is readable by every later version (the
 * format is part of the store's schema): a dictionary, once a version is
 * written, never changes (a new one is a new version; evdicts[] keeps all);
 * each thread has its own deflate and inflate state (pthread keys, ended
 * when the thread exits), reset per record: setting up a state cost more
 * than compressing. */
#include "store/evpack.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

extern const unsigned char evdict_v1[];
extern const size_t evdict_v1_len;

#ifndef EVPACK_LEVEL /* overridable only to measure the choices */
#define EVPACK_LEVEL 6
#endif
#ifndef EVPACK_STRATEGY
#define EVPACK_STRATEGY Z_FIXED
#endif
#ifndef EVPACK_MEMLEVEL
#define EVPACK_MEMLEVEL 5
#endif
#define PACK_DICT 1       /* the dictionary version evpack_pack writes */
#define HEAD_DICT 11      /* header bytes of the dictionary form */
#define MAX_DICT_LEN 0xffffffu

/* every dictionary version ever written, by version (index) */
static const unsigned char *dict_bytes(unsigned v, size_t *len)
{
    switch (v) {
    case 1:
        *len = evdict_v1_len;
        return evdict_v1;
    default:
        return NULL;
    }
}

typedef struct zstate {
    z_stream primed; /* reset, dictionary set: copied for each record */
    z_stream d, i;
    bool primed_ok, d_ok, i_ok;
} zstate;

static pthread_key_t z_key;
static pthread_once_t z_once = PTHREAD_ONCE_INIT;
static bool z_key_ok;

static void zstate_free(void *p)
{
    zstate *zs = p;
    if (zs->primed_ok)
        deflateEnd(&zs->primed);
    if (zs->d_ok)
        deflateEnd(&zs->d);
    if (zs->i_ok)
        inflateEnd(&zs->i);
    free(zs);
}

static void z_key_init(void) { z_key_ok = pthread_key_create(&z_key, zstate_free) == 0; }

static zstate *thread_z(void)
{
    pthread_once(&z_once, z_key_init);
    if (!z_key_ok)
        return NULL;
    zstate *zs = pthread_getspecific(z_key);
    if (!zs) {
        zs = calloc(1, sizeof *zs);
        if (!zs || pthread_setspecific(z_key, zs) != 0) {
            free(zs);
            return NULL;
        }
    }
    return zs;
}

/* The calling thread's raw deflate state, primed with the current
 * dictionary: a copy of a state primed once per thread (deflateCopy is
 * ~20x cheaper than deflateSetDictionary of 16 KiB, which hashes every
 * position of it: 0.35M instructions per record). */
static z_stream *thread_deflate(void)
{
    zstate *zs = thread_z();
    if (!zs)
        return NULL;
    if (!zs->primed_ok) {
        size_t dl;
        const unsigned char *d = dict_bytes(PACK_DICT, &dl);
        if (!d || deflateInit2(&zs->primed, EVPACK_LEVEL, Z_DEFLATED, -15, EVPACK_MEMLEVEL, EVPACK_STRATEGY) != Z_OK)
            return NULL;
        if (deflateSetDictionary(&zs->primed, d, (uInt)dl) != Z_OK) {
            deflateEnd(&zs->primed);
            return NULL;
        }
        zs->primed_ok = true;
    }
    if (zs->d_ok) {
        deflateEnd(&zs->d);
        zs->d_ok = false;
    }
    if (deflateCopy(&zs->d, &zs->primed) != Z_OK)
        return NULL;
    zs->d_ok = true;
    return &zs->d;
}

static void put_le(unsigned char *b, size_t v, int nbytes)
{
    for (int i = 0; i < nbytes; i++)
        b[i] = (unsigned char)((v >> (8 * i)) & 0xff);
}

/* schema 2's blob (no dictionary), for texts too long for the 24-bit
 * lengths: a one-off zlib stream (level 1, fixed codes, 4 KiB window). */
static unsigned char *pack_plain(const char *json, size_t n, const char *summary, size_t m, size_t *len_out)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 1, Z_DEFLATED, 12, 5, Z_FIXED) != Z_OK)
        return NULL;
    uLong zn = deflateBound(&z, (uLong)(n + m));
    unsigned char *b = malloc(8 + (size_t)zn);
    int rc = Z_MEM_ERROR;
    if (b) {
        put_le(b, n, 4);
        put_le(b + 4, m, 4);
        z.next_out = b + 8;
        z.avail_out = (uInt)zn;
        z.next_in = (Bytef *)(uintptr_t)json;
        z.avail_in = (uInt)n;
        rc = deflate(&z, m ? Z_NO_FLUSH : Z_FINISH);
        if (m && rc == Z_OK && z.avail_in == 0) {
            z.next_in = (Bytef *)(uintptr_t)summary;
            z.avail_in = (uInt)m;
            rc = deflate(&z, Z_FINISH);
        }
    }
    size_t total = (size_t)z.total_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(b);
        return NULL;
    }
    *len_out = 8 + total;
    return b;
}

unsigned char *evpack_pack(const char *json, const char *summary, size_t *len_out)
{
    if (!json)
        return NULL;
    size_t n = strlen(json), m = summary ? strlen(summary) : 0;
    if (n > 0x7fffffffu || m > 0x7fffffffu - n)
        return NULL;
    if (n > MAX_DICT_LEN || m > MAX_DICT_LEN)
        return pack_plain(json, n, summary, m, len_out);
    z_stream *z = thread_deflate();
    if (!z)
        return NULL;
    /* deflateBound knows these parameters (fixed codes: up to 9 bits per
     * byte, more than compressBound allows) */
    uLong zn = deflateBound(z, (uLong)(n + m));
    unsigned char *b = malloc(HEAD_DICT + (size_t)zn);
    if (!b)
        return NULL;
    uLong ad = adler32(adler32(0L, Z_NULL, 0), (const Bytef *)json, (uInt)n);
    if (m)
        ad = adler32(ad, (const Bytef *)summary, (uInt)m);
    put_le(b, n | 0x80000000u | ((size_t)PACK_DICT << 24), 4);
    put_le(b + 4, m, 3);
    put_le(b + 7, (size_t)ad, 4);
    z->next_out = b + HEAD_DICT;
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
    *len_out = HEAD_DICT + (size_t)z->total_out;
    return b;
}

static size_t le(const unsigned char *b, int nbytes)
{
    size_t v = 0;
    for (int i = 0; i < nbytes; i++)
        v |= (size_t)b[i] << (8 * i);
    return v;
}

/* Inflates a dictionary blob's stream (p, pn bytes) into out (exactly
 * want bytes). 0 or -1. */
static int inflate_dict(unsigned v, const unsigned char *p, size_t pn, unsigned char *out, size_t want)
{
    size_t dl;
    const unsigned char *d = dict_bytes(v, &dl);
    zstate *zs = d ? thread_z() : NULL;
    if (!zs)
        return -1;
    if (!zs->i_ok) {
        if (inflateInit2(&zs->i, -15) != Z_OK)
            return -1;
        zs->i_ok = true;
    } else if (inflateReset(&zs->i) != Z_OK) {
        return -1;
    }
    z_stream *z = &zs->i;
    if (inflateSetDictionary(z, d, (uInt)dl) != Z_OK)
        return -1;
    z->next_in = (Bytef *)(uintptr_t)p;
    z->avail_in = (uInt)pn;
    z->next_out = out;
    z->avail_out = (uInt)want;
    int rc = inflate(z, Z_FINISH);
    /* the whole stream, exactly want bytes, no trailing input */
    if (rc != Z_STREAM_END || z->avail_out != 0 || z->avail_in != 0)
        return -1;
    return 0;
}

int evpack_unpack(evpack_buf *b, const void *blob, size_t bn, const char **rec, const char **summary)
{
    const unsigned char *p = blob;
    if (summary)
        *summary = NULL;
    if (!p || bn < 8 || bn > 0x7fffffffu)
        return -1;
    size_t n = le(p, 4), m;
    bool dict = (n & 0x80000000u) != 0;
    if (dict) {
        if (bn < HEAD_DICT + 2)
            return -1;
        n &= MAX_DICT_LEN;
        m = le(p + 4, 3);
    } else {
        m = le(p + 4, 4);
        if (m > 0x7fffffffu - n)
            return -1;
    }
    if (n + m + 2 > b->cap) {
        size_t cap = n + m + 2 < 4096 ? 4096 : n + m + 2;
        char *nb = realloc(b->buf, cap);
        if (!nb)
            return -1;
        b->buf = nb;
        b->cap = cap;
    }
    if (dict) {
        if (inflate_dict((unsigned)(p[3] & 0x7f), p + HEAD_DICT, bn - HEAD_DICT, (unsigned char *)b->buf, n + m) != 0)
            return -1;
        uLong ad = adler32(adler32(0L, Z_NULL, 0), (const Bytef *)b->buf, (uInt)(n + m));
        if ((size_t)ad != le(p + 7, 4))
            return -1;
    } else {
        uLongf out = (uLongf)(n + m);
        if (uncompress((Bytef *)b->buf, &out, p + 8, (uLong)(bn - 8)) != Z_OK || out != n + m)
            return -1;
    }
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
