/*
 * model.c: lookups over the generated API tables (model.h).
 *
 * The generator emits operations, shapes and structure members sorted by
 * name in plain byte (strcmp) order, so every lookup here is a binary
 * search with no allocation and no state. The tables are const data; all
 * functions are thread-safe. Names from requests arrive as (ptr,len)
 * slices, hence the length-aware comparison.
 */
#include "model/model.h"

#include <string.h>

/* strcmp between a (ptr,len) slice and a NUL-terminated string. */
static int model_cmpn(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    size_t n = alen < blen ? alen : blen;
    int c = memcmp(a, b, n);
    if (c != 0)
        return c;
    return alen < blen ? -1 : (alen > blen ? 1 : 0);
}

const model_op *model_find_opn(const model_service *svc, const char *name, size_t len)
{
    if (!svc || !name)
        return NULL;
    size_t lo = 0, hi = svc->n_ops;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = model_cmpn(name, len, svc->ops[mid].name);
        if (c == 0)
            return &svc->ops[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

const model_op *model_find_op(const model_service *svc, const char *name)
{
    if (!name)
        return NULL;
    return model_find_opn(svc, name, strlen(name));
}

int model_find_shape(const model_service *svc, const char *name)
{
    if (!svc || !name)
        return -1;
    size_t lo = 0, hi = svc->n_shapes;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, svc->shapes[mid].name);
        if (c == 0)
            return (int)mid;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return -1;
}

const model_shape *model_shape_at(const model_service *svc, int idx)
{
    if (!svc || idx < 0 || (size_t)idx >= svc->n_shapes)
        return NULL;
    return &svc->shapes[idx];
}

const model_member *model_find_member(const model_service *svc, int shape, const char *name)
{
    const model_shape *s = model_shape_at(svc, shape);
    if (!s || s->type != MODEL_T_STRUCTURE || !name)
        return NULL;
    size_t lo = 0, hi = s->n_members;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, s->members[mid].name);
        if (c == 0)
            return &s->members[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}
