/* jsonw.c: compact JSON text from a jansson tree, several times faster
 * than json_dumps.
 *
 * Why: every recorded call serialises its CloudTrail record, its response
 * and the documents it saves; with json_dumps that was the largest single
 * cost on the writer thread (callgrind, bench/RESULTS.md round 4: ~330k
 * instructions per CreateFunctionDefinition, ~100 a byte). jansson writes
 * through a callback per fragment and examines strings code point by code
 * point; here strings are scanned a byte at a time against a table and
 * copied in runs into one growing buffer.
 *
 * Invariants: the output is byte-identical to json_dumps with
 * JSON_COMPACT (| JSON_SORT_KEYS, | JSON_ENCODE_ANY) on every tree jansson
 * can build: the same escapes ('"', '\\', and control characters as \b \f
 * \n \r \t or \u00XX with upper-case hex; '/' and non-ASCII copied as
 * they are: jansson's strings are valid UTF-8 by construction), the same
 * key order (insertion order, which jansson keeps; or sorted by bytes, the
 * shorter first on a tie, as jansson's key comparison), integers with
 * JSON_INTEGER_FORMAT. Reals (rare in records) and trees deeper than
 * JSONW_MAX_DEPTH are handed to jansson itself, so the two can never
 * differ there. tests/unit/test_jsonw.c and fuzz/fuzz_jsonw.c compare the
 * two on fixed and fuzzed trees. The writer only reads the tree. */
#include "util/jsonw.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSONW_MAX_DEPTH 512

typedef struct wbuf {
    char *p;
    size_t len, cap;
    bool fail;    /* out of memory, or a value jansson would refuse */
} wbuf;

static char *room(wbuf *b, size_t n)
{
    if (b->fail)
        return NULL;
    if (n > SIZE_MAX / 2 - b->len) {
        b->fail = true;
        return NULL;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->fail = true;
            return NULL;
        }
        b->p = np;
        b->cap = cap;
    }
    return b->p + b->len;
}

static void put(wbuf *b, const char *s, size_t n)
{
    char *d = room(b, n);
    if (!d)
        return;
    memcpy(d, s, n);
    b->len += n;
}

static void put_ch(wbuf *b, char c)
{
    char *d = room(b, 1);
    if (!d)
        return;
    *d = c;
    b->len++;
}

/* 1: the byte needs an escape */
static const unsigned char needs_escape[256] = {
    [0x00] = 1, [0x01] = 1, [0x02] = 1, [0x03] = 1, [0x04] = 1, [0x05] = 1, [0x06] = 1, [0x07] = 1,
    [0x08] = 1, [0x09] = 1, [0x0a] = 1, [0x0b] = 1, [0x0c] = 1, [0x0d] = 1, [0x0e] = 1, [0x0f] = 1,
    [0x10] = 1, [0x11] = 1, [0x12] = 1, [0x13] = 1, [0x14] = 1, [0x15] = 1, [0x16] = 1, [0x17] = 1,
    [0x18] = 1, [0x19] = 1, [0x1a] = 1, [0x1b] = 1, [0x1c] = 1, [0x1d] = 1, [0x1e] = 1, [0x1f] = 1,
    ['"'] = 1,  ['\\'] = 1,
};

static void put_string(wbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    put_ch(b, '"');
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!needs_escape[c])
            continue;
        put(b, s + run, i - run);
        run = i + 1;
        char e[6] = {'\\', 0};
        size_t en = 2;
        switch (c) {
        case '"': e[1] = '"'; break;
        case '\\': e[1] = '\\'; break;
        case '\b': e[1] = 'b'; break;
        case '\f': e[1] = 'f'; break;
        case '\n': e[1] = 'n'; break;
        case '\r': e[1] = 'r'; break;
        case '\t': e[1] = 't'; break;
        default:
            e[1] = 'u';
            e[2] = '0';
            e[3] = '0';
            e[4] = hex[c >> 4];
            e[5] = hex[c & 15];
            en = 6;
        }
        put(b, e, en);
    }
    put(b, s + run, n - run);
    put_ch(b, '"');
}

/* a value jansson writes for us (reals; too deep) */
static void put_by_jansson(wbuf *b, const json_t *j)
{
    char *t = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!t) {
        b->fail = true;
        return;
    }
    put(b, t, strlen(t));
    free(t);
}

typedef struct kv {
    const char *k;
    size_t n;
    json_t *v;
} kv;

/* jansson's order for JSON_SORT_KEYS: bytes, then the shorter first */
static int kv_cmp(const void *a, const void *b)
{
    const kv *x = a, *y = b;
    size_t m = x->n < y->n ? x->n : y->n;
    int c = memcmp(x->k, y->k, m);
    if (c)
        return c;
    return x->n < y->n ? -1 : x->n > y->n;
}

static void put_value(wbuf *b, const json_t *j, bool sort, int depth);

static void put_object(wbuf *b, const json_t *j, bool sort, int depth)
{
    size_t n = json_object_size(j);
    put_ch(b, '{');
    if (sort && n > 1) {
        kv *v = malloc(n * sizeof *v);
        if (!v) {
            b->fail = true;
            return;
        }
        size_t i = 0;
        const char *k;
        size_t kn;
        json_t *val;
        json_object_keylen_foreach((json_t *)j, k, kn, val) {
            if (i < n)
                v[i++] = (kv){k, kn, val};
        }
        qsort(v, i, sizeof *v, kv_cmp);
        for (size_t x = 0; x < i && !b->fail; x++) {
            if (x)
                put_ch(b, ',');
            put_string(b, v[x].k, v[x].n);
            put_ch(b, ':');
            put_value(b, v[x].v, sort, depth + 1);
        }
        free(v);
    } else {
        bool first = true;
        const char *k;
        size_t kn;
        json_t *val;
        json_object_keylen_foreach((json_t *)j, k, kn, val) {
            if (!first)
                put_ch(b, ',');
            first = false;
            put_string(b, k, kn);
            put_ch(b, ':');
            put_value(b, val, sort, depth + 1);
            if (b->fail)
                break;
        }
    }
    put_ch(b, '}');
}

static void put_value(wbuf *b, const json_t *j, bool sort, int depth)
{
    if (b->fail)
        return;
    if (!j) {
        b->fail = true;
        return;
    }
    if (depth > JSONW_MAX_DEPTH) {
        put_by_jansson(b, j);
        return;
    }
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        put_object(b, j, sort, depth);
        break;
    case JSON_ARRAY: {
        put_ch(b, '[');
        size_t n = json_array_size(j);
        for (size_t i = 0; i < n && !b->fail; i++) {
            if (i)
                put_ch(b, ',');
            put_value(b, json_array_get(j, i), sort, depth + 1);
        }
        put_ch(b, ']');
        break;
    }
    case JSON_STRING:
        put_string(b, json_string_value(j), json_string_length(j));
        break;
    case JSON_INTEGER: {
        char num[32];
        int w = snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
        if (w < 0 || (size_t)w >= sizeof num)
            b->fail = true;
        else
            put(b, num, (size_t)w);
        break;
    }
    case JSON_REAL:
        put_by_jansson(b, j);
        break;
    case JSON_TRUE:
        put(b, "true", 4);
        break;
    case JSON_FALSE:
        put(b, "false", 5);
        break;
    case JSON_NULL:
        put(b, "null", 4);
        break;
    }
}

char *gt_json_dumps(const json_t *j, bool sort_keys, bool any)
{
    if (!j)
        return NULL;
    if (!any && !json_is_object(j) && !json_is_array(j))
        return NULL;
    wbuf b = {0};
    put_value(&b, j, sort_keys, 0);
    if (b.fail || !room(&b, 0)) {
        free(b.p);
        return NULL;
    }
    b.p[b.len] = '\0';
    return b.p;
}
