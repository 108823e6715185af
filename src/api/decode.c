/*
 * decode.c: model-driven request decoding (rest-json and awsJson1_1).
 *
 * What: given the generated model tables and a read-only http_req, find
 * the operation and build its input as one JSON object keyed by model
 * member names, then validate that object against the shape graph.
 *
 * Why: 92 Greengrass and 60 CloudTrail operations share one binder and
 * one validator, so handlers only ever see well-typed, member-named input
 * and CloudTrail's requestParameters can be the input object as is.
 *
 * Routing (rest-json): every operation's URI template is split into
 * segments and matched against the raw, still percent-encoded request
 * path split on '/'. A literal segment matches the percent-decoded request
 * segment exactly (so "$reset" matches "%24reset"); "{Label}" matches one
 * non-empty segment, which is percent-decoded only after matching (so an
 * ARN with %2F stays one segment); "{Label+}" matches the non-empty rest.
 * Matching is exact: no trailing-slash or empty-segment folding. Among
 * matching templates, the first segment where one has a literal and the
 * other a label decides (literal wins), so
 * ".../certificateauthorities/configuration/expiry" never reaches a label.
 * A path that matches only with another method is still a route miss.
 *
 * Binding: URI labels, query members (split on '&', '+' is a space,
 * percent-decoded, repeated keys make a list for list-typed members and
 * last-wins otherwise, unknown keys ignored), header members and body
 * members (body keys are wire names, locationName if set). Values from
 * URI/query/header arrive as strings and are converted strictly for
 * integer/long/boolean/double members. Body members never override
 * non-body members. Unknown body members are dropped while binding.
 *
 * Invariants: every JSON string put into the input is valid UTF-8 without
 * NUL bytes; bodies nested deeper than API_MAX_JSON_DEPTH are rejected by
 * a byte scan before jansson sees them, which also bounds every recursion
 * below; every error path leaves *input_out NULL and frees what it built;
 * no global state, so all of it is thread-safe.
 */
#include "api/decode.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/gtutil.h"

#define API_MAX_SEGS   64
#define API_MAX_LABELS 16
#define API_PATH_CAP   256
#define API_VAL_EXCERPT 64

typedef struct api_slice {
    const char *p;
    size_t n;
} api_slice;

/* ---------------------------------------------------------------- msgs */

static gt_err api_fail(gt_err e, char *msg, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Fill msg (default text if fmt is NULL) and return e. */
static gt_err api_fail(gt_err e, char *msg, size_t cap, const char *fmt, ...)
{
    if (msg && cap > 0) {
        if (fmt) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(msg, cap, fmt, ap);
            va_end(ap);
        } else {
            snprintf(msg, cap, "%s", gt_err_message(e));
        }
        /* snprintf may have cut a UTF-8 sequence in half: trim it. */
        size_t n = strlen(msg);
        size_t k = n;
        while (k > 0 && ((unsigned char)msg[k - 1] & 0xC0) == 0x80)
            k--;
        if (k > 0 && ((unsigned char)msg[k - 1] & 0x80)) {
            unsigned char lead = (unsigned char)msg[k - 1];
            size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
            if (n - (k - 1) < need)
                msg[k - 1] = '\0';
        }
    }
    return e;
}

/* ------------------------------------------------------------ strings */

/* Percent-decode s[0..n) into out (capacity >= n). '+' becomes ' ' when
 * plus_space. Returns false on a malformed escape. */
static bool api_pct_decode(const char *s, size_t n, bool plus_space, char *out, size_t *outn)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            if (n - i < 3)
                return false;
            int h = gt_hexval((unsigned char)s[i + 1]);
            int l = gt_hexval((unsigned char)s[i + 2]);
            if (h < 0 || l < 0)
                return false;
            out[o++] = (char)(h * 16 + l);
            i += 2;
        } else if (c == '+' && plus_space) {
            out[o++] = ' ';
        } else {
            out[o++] = (char)c;
        }
    }
    *outn = o;
    return true;
}

/* Does the percent-decoding of s[0..n) equal lit[0..litn)? No allocation. */
static bool api_pct_equals(const char *s, size_t n, bool plus_space, const char *lit, size_t litn)
{
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            if (n - i < 3)
                return false;
            int h = gt_hexval((unsigned char)s[i + 1]);
            int l = gt_hexval((unsigned char)s[i + 2]);
            if (h < 0 || l < 0)
                return false;
            c = (unsigned char)(h * 16 + l);
            i += 2;
        } else if (c == '+' && plus_space) {
            c = ' ';
        }
        if (j >= litn || (unsigned char)lit[j] != c)
            return false;
        j++;
    }
    return j == litn;
}

/* Strict UTF-8 (no overlongs, no surrogates, <= U+10FFFF) and no NUL. */
static bool api_utf8_ok(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        if (c == 0)
            return false;
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}

/* Length as AWS (Java) counts it: UTF-16 code units of valid UTF-8. */
static size_t api_utf16_len(const char *s, size_t n)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c & 0xC0) != 0x80)
            len += c >= 0xF0 ? 2 : 1;
    }
    return len;
}

/* Copy at most API_VAL_EXCERPT bytes of s into buf, cut on a UTF-8 boundary. */
static void api_excerpt(const char *s, size_t n, char *buf, size_t cap)
{
    size_t k = n;
    if (k > API_VAL_EXCERPT)
        k = API_VAL_EXCERPT;
    if (k >= cap)
        k = cap - 1;
    if (k < n)
        while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
            k--;
    memcpy(buf, s, k);
    if (k < n && k + 3 < cap) {
        memcpy(buf + k, "...", 3);
        k += 3;
    }
    buf[k] = '\0';
}

static bool api_is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool api_all_ws(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!api_is_ws(p[i]))
            return false;
    return true;
}

/* Cheap pre-parse scan: true if arrays/objects nest deeper than maxdepth. */
static bool api_json_too_deep(const unsigned char *p, size_t n, int maxdepth)
{
    int depth = 0;
    bool in_str = false, esc = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        if (in_str) {
            if (esc)
                esc = false;
            else if (c == '\\')
                esc = true;
            else if (c == '"')
                in_str = false;
            continue;
        }
        if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[') {
            if (++depth > maxdepth)
                return true;
        } else if (c == '}' || c == ']') {
            if (depth > 0)
                depth--;
        }
    }
    return false;
}

/* Strict-ish ISO-8601 date-time: YYYY-MM-DDThh:mm:ss[.f+](Z|+hh:mm|+hhmm). */
static bool api_iso8601_ok(const char *s, size_t n)
{
    size_t i = 0;
    long v[6];
    static const char seps[6] = {'-', '-', 'T', ':', ':', 0};
    static const int widths[6] = {4, 2, 2, 2, 2, 2};
    for (int f = 0; f < 6; f++) {
        long x = 0;
        for (int k = 0; k < widths[f]; k++) {
            if (i >= n || s[i] < '0' || s[i] > '9')
                return false;
            x = x * 10 + (s[i++] - '0');
        }
        v[f] = x;
        if (seps[f]) {
            if (i >= n)
                return false;
            if (seps[f] == 'T' ? (s[i] != 'T' && s[i] != 't') : s[i] != seps[f])
                return false;
            i++;
        }
    }
    if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 || v[4] > 59 || v[5] > 60)
        return false;
    if (i < n && (s[i] == '.' || s[i] == ',')) {
        size_t st = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == st)
            return false;
    }
    if (i < n && (s[i] == 'Z' || s[i] == 'z'))
        return i + 1 == n;
    if (i < n && (s[i] == '+' || s[i] == '-')) {
        i++;
        size_t rest = n - i;
        const char *t = s + i;
        for (size_t k = 0; k < rest; k++)
            if (!(t[k] >= '0' && t[k] <= '9') && !(k == 2 && t[k] == ':' && rest == 5))
                return false;
        if (rest != 4 && rest != 5)
            return false;
        int hh = (t[0] - '0') * 10 + (t[1] - '0');
        int mm = (t[rest - 2] - '0') * 10 + (t[rest - 1] - '0');
        return hh <= 23 && mm <= 59;
    }
    return false;
}

/* ------------------------------------------------------------ validate */

typedef struct api_vctx {
    const model_service *svc;
    char path[API_PATH_CAP];
    size_t plen;
    char *msg;
    size_t msgcap;
} api_vctx;

static void api_path_push(api_vctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Append to the member path, clipping on overflow. */
static void api_path_push(api_vctx *c, const char *fmt, ...)
{
    if (c->plen >= sizeof c->path - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(c->path + c->plen, sizeof c->path - c->plen, fmt, ap);
    va_end(ap);
    if (w < 0)
        c->path[c->plen] = '\0';
    else if ((size_t)w >= sizeof c->path - c->plen)
        c->plen = sizeof c->path - 1;
    else
        c->plen += (size_t)w;
}

static void api_path_member(api_vctx *c, const char *name)
{
    if (c->plen == 0)
        api_path_push(c, "%s", name);
    else
        api_path_push(c, ".%s", name);
}

static const char *api_path(const api_vctx *c)
{
    return c->plen ? c->path : "input";
}

static const char *api_type_name(model_type t)
{
    switch (t) {
    case MODEL_T_STRUCTURE: return "structure";
    case MODEL_T_LIST: return "list";
    case MODEL_T_MAP: return "map";
    case MODEL_T_STRING: return "string";
    case MODEL_T_INTEGER: return "integer";
    case MODEL_T_LONG: return "long";
    case MODEL_T_BOOLEAN: return "boolean";
    case MODEL_T_DOUBLE: return "double";
    case MODEL_T_FLOAT: return "float";
    case MODEL_T_TIMESTAMP: return "timestamp";
    case MODEL_T_BLOB: return "blob";
    }
    return "unknown";
}

#define API_V1 "1 validation error detected: "

static gt_err api_type_err(api_vctx *c, model_type t)
{
    return api_fail(GT_E_VALIDATION, c->msg, c->msgcap,
                    API_V1 "Value at '%s' failed to satisfy constraint: Member must be of type %s",
                    api_path(c), api_type_name(t));
}

static gt_err api_null_err(api_vctx *c)
{
    return api_fail(GT_E_VALIDATION, c->msg, c->msgcap,
                    API_V1 "Value null at '%s' failed to satisfy constraint: Member must not be null",
                    api_path(c));
}

/* String checks shared by string values and map keys. */
static gt_err api_check_string(api_vctx *c, const model_shape *s, const char *str, size_t n)
{
    char ex[API_VAL_EXCERPT + 8];
    if (n > API_MAX_STRING_BYTES)
        return api_fail(GT_E_VALIDATION, c->msg, c->msgcap,
                        API_V1 "Value at '%s' failed to satisfy constraint: Member must have length "
                               "less than or equal to %d",
                        api_path(c), API_MAX_STRING_BYTES);
    if (s->n_enum) {
        bool ok = false;
        for (size_t i = 0; i < s->n_enum && !ok; i++)
            ok = strlen(s->enum_values[i]) == n && memcmp(s->enum_values[i], str, n) == 0;
        if (!ok) {
            char set[512];
            size_t sl = 0;
            set[0] = '\0';
            for (size_t i = 0; i < s->n_enum && sl < sizeof set - 1; i++) {
                int w = snprintf(set + sl, sizeof set - sl, "%s%s", i ? ", " : "", s->enum_values[i]);
                if (w < 0)
                    break;
                sl += (size_t)w;
            }
            api_excerpt(str, n, ex, sizeof ex);
            return api_fail(GT_E_VALIDATION, c->msg, c->msgcap,
                            API_V1 "Value '%s' at '%s' failed to satisfy constraint: Member must "
                                   "satisfy enum value set: [%s]",
                            ex, api_path(c), set);
        }
    }
    if (s->has_min || s->has_max) {
        size_t len = api_utf16_len(str, n);
        if (s->has_min && (int64_t)len < s->min) {
            api_excerpt(str, n, ex, sizeof ex);
            return api_fail(GT_E_VALIDATION, c->msg, c->msgcap,
                            API_V1 "Value '%s' at '%s' failed to satisfy constraint: Member must "
                                   "have length greater than or equal to %lld",
                            ex, api_path(c), (long long)s->min);
        }
        if (s->has_max && (int64_t)len > s->max) {
            api_excerpt(str, n, ex, sizeof ex);
            return api_fail(GT_E_VALIDATION, c->msg, c->msgcap,
                            API_V1 "Value '%s' at '%s' failed to satisfy constraint: Member must "
                                   "have length less than or equal to %lld",
                            ex, api_path(c), (long long)s->max);
        }
    }
    return GT_OK;
}

static gt_err api_check_count(api_vctx *c, const model_shape *s, size_t n)
{
    if (n > API_MAX_COLLECTION)
        return api_fail(GT_E_VALIDATION, c->msg, c->msgcap,
                        API_V1 "Value at '%s' failed to satisfy constraint: Member must have length "
                               "less than or equal to %d",
                        api_path(c), API_MAX_COLLECTION);
    if (s->has_min && (int64_t)n < s->min)
        return api_fail(GT_E_VALIDATION, c->msg, c->msgcap,
                        API_V1 "Value at '%s' failed to satisfy constraint: Member must have length "
                               "greater than or equal to %lld",
                        api_path(c), (long long)s->min);
    if (s->has_max && (int64_t)n > s->max)
        return api_fail(GT_E_VALIDATION, c->msg, c->msgcap,
                        API_V1 "Value at '%s' failed to satisfy constraint: Member must have length "
                               "less than or equal to %lld",
                        api_path(c), (long long)s->max);
    return GT_OK;
}

static gt_err api_check_range(api_vctx *c, const model_shape *s, double v, const char *shown)
{
    if (s->has_min && v < (double)s->min)
        return api_fail(GT_E_VALIDATION, c->msg, c->msgcap,
                        API_V1 "Value '%s' at '%s' failed to satisfy constraint: Member must have "
                               "value greater than or equal to %lld",
                        shown, api_path(c), (long long)s->min);
    if (s->has_max && v > (double)s->max)
        return api_fail(GT_E_VALIDATION, c->msg, c->msgcap,
                        API_V1 "Value '%s' at '%s' failed to satisfy constraint: Member must have "
                               "value less than or equal to %lld",
                        shown, api_path(c), (long long)s->max);
    return GT_OK;
}

static bool api_base64_ok(const char *s, size_t n)
{
    size_t pad = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        bool alpha = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                     (ch >= '0' && ch <= '9') || ch == '+' || ch == '/';
        if (ch == '=') {
            if (++pad > 2)
                return false;
        } else if (!alpha || pad) {
            return false;
        }
    }
    return true;
}

static gt_err api_validate_at(api_vctx *c, int shape, json_t *v, int depth);

static gt_err api_validate_struct(api_vctx *c, const model_shape *s, json_t *v, int depth)
{
    if (!json_is_object(v))
        return api_type_err(c, s->type);
    for (size_t i = 0; i < s->n_members; i++) {
        const model_member *m = &s->members[i];
        json_t *mv = json_object_get(v, m->name);
        size_t saved = c->plen;
        if (!mv || json_is_null(mv)) {
            if (m->required) {
                api_path_member(c, m->name);
                return api_null_err(c);
            }
            if (mv)
                json_object_del(v, m->name);
            continue;
        }
        api_path_member(c, m->name);
        gt_err e = api_validate_at(c, m->shape, mv, depth + 1);
        if (e != GT_OK)
            return e;
        c->plen = saved;
        c->path[saved] = '\0';
    }
    return GT_OK;
}

static gt_err api_validate_at(api_vctx *c, int shape, json_t *v, int depth)
{
    const model_shape *s = model_shape_at(c->svc, shape);
    if (!s)
        return GT_OK;
    if (depth > 2 * API_MAX_JSON_DEPTH)
        return api_fail(GT_E_VALIDATION, c->msg, c->msgcap,
                        API_V1 "Value at '%s' failed to satisfy constraint: Member is nested too deeply",
                        api_path(c));
    char shown[48];
    switch (s->type) {
    case MODEL_T_STRUCTURE:
        return api_validate_struct(c, s, v, depth);
    case MODEL_T_LIST: {
        if (!json_is_array(v))
            return api_type_err(c, s->type);
        gt_err e = api_check_count(c, s, json_array_size(v));
        if (e != GT_OK)
            return e;
        size_t i;
        json_t *el;
        json_array_foreach(v, i, el) {
            size_t saved = c->plen;
            api_path_push(c, "[%zu]", i);
            if (json_is_null(el))
                return api_null_err(c);
            e = api_validate_at(c, s->member, el, depth + 1);
            if (e != GT_OK)
                return e;
            c->plen = saved;
            c->path[saved] = '\0';
        }
        return GT_OK;
    }
    case MODEL_T_MAP: {
        if (!json_is_object(v))
            return api_type_err(c, s->type);
        gt_err e = api_check_count(c, s, json_object_size(v));
        if (e != GT_OK)
            return e;
        const model_shape *ks = model_shape_at(c->svc, s->key);
        const char *k;
        json_t *el;
        json_object_foreach(v, k, el) {
            size_t saved = c->plen;
            char kex[API_VAL_EXCERPT + 8];
            api_excerpt(k, strlen(k), kex, sizeof kex);
            api_path_push(c, "[%s]", kex);
            if (ks && ks->type == MODEL_T_STRING) {
                e = api_check_string(c, ks, k, strlen(k));
                if (e != GT_OK)
                    return e;
            }
            if (json_is_null(el))
                return api_null_err(c);
            e = api_validate_at(c, s->value, el, depth + 1);
            if (e != GT_OK)
                return e;
            c->plen = saved;
            c->path[saved] = '\0';
        }
        return GT_OK;
    }
    case MODEL_T_STRING:
        if (!json_is_string(v))
            return api_type_err(c, s->type);
        return api_check_string(c, s, json_string_value(v), json_string_length(v));
    case MODEL_T_BLOB:
        if (!json_is_string(v) || !api_base64_ok(json_string_value(v), json_string_length(v)))
            return api_type_err(c, s->type);
        return api_check_count(c, s, json_string_length(v));
    case MODEL_T_INTEGER:
    case MODEL_T_LONG: {
        if (!json_is_integer(v))
            return api_type_err(c, s->type);
        json_int_t x = json_integer_value(v);
        if (s->type == MODEL_T_INTEGER && (x < INT32_MIN || x > INT32_MAX))
            return api_type_err(c, s->type);
        snprintf(shown, sizeof shown, "%lld", (long long)x);
        return api_check_range(c, s, (double)x, shown);
    }
    case MODEL_T_DOUBLE:
    case MODEL_T_FLOAT:
        if (!json_is_number(v))
            return api_type_err(c, s->type);
        snprintf(shown, sizeof shown, "%.17g", json_number_value(v));
        return api_check_range(c, s, json_number_value(v), shown);
    case MODEL_T_BOOLEAN:
        if (!json_is_boolean(v))
            return api_type_err(c, s->type);
        return GT_OK;
    case MODEL_T_TIMESTAMP:
        if (json_is_number(v))
            return GT_OK;
        if (json_is_string(v) && api_iso8601_ok(json_string_value(v), json_string_length(v)))
            return GT_OK;
        return api_type_err(c, s->type);
    }
    return GT_OK;
}

gt_err api_validate(const model_service *svc, int shape, json_t *value, char *msg, size_t msgcap)
{
    api_vctx c;
    c.svc = svc;
    c.plen = 0;
    c.path[0] = '\0';
    c.msg = msg;
    c.msgcap = msgcap;
    if (msg && msgcap)
        msg[0] = '\0';
    if (!svc)
        return api_fail(GT_E_INTERNAL, msg, msgcap, NULL);
    if (!value)
        return model_shape_at(svc, shape) ? api_null_err(&c) : GT_OK;
    return api_validate_at(&c, shape, value, 0);
}

/* --------------------------------------------------------------- bind */

/* Rebuild a parsed body value keyed by member names (structures: wire key
 * = loc_name when set). top: only body-located members are taken. Unknown
 * members are dropped; type mismatches are passed through for
 * api_validate to report. Returns a new reference, NULL on OOM. */
static json_t *api_bind_body(const model_service *svc, int shape, json_t *v, bool top)
{
    const model_shape *s = model_shape_at(svc, shape);
    if (!s)
        return json_incref(v);
    switch (s->type) {
    case MODEL_T_STRUCTURE: {
        if (!json_is_object(v))
            return json_incref(v);
        json_t *out = json_object();
        if (!out)
            return NULL;
        for (size_t i = 0; i < s->n_members; i++) {
            const model_member *m = &s->members[i];
            if (top && m->loc != MODEL_LOC_BODY)
                continue;
            const char *key = (m->loc == MODEL_LOC_BODY && m->loc_name) ? m->loc_name : m->name;
            json_t *child = json_object_get(v, key);
            if (!child)
                continue;
            json_t *b = api_bind_body(svc, m->shape, child, false);
            if (!b || json_object_set_new_nocheck(out, m->name, b) != 0) {
                json_decref(out);
                return NULL;
            }
        }
        return out;
    }
    case MODEL_T_LIST: {
        if (!json_is_array(v))
            return json_incref(v);
        json_t *out = json_array();
        if (!out)
            return NULL;
        size_t i;
        json_t *el;
        json_array_foreach(v, i, el) {
            json_t *b = api_bind_body(svc, s->member, el, false);
            if (!b || json_array_append_new(out, b) != 0) {
                json_decref(out);
                return NULL;
            }
        }
        return out;
    }
    case MODEL_T_MAP: {
        if (!json_is_object(v))
            return json_incref(v);
        json_t *out = json_object();
        if (!out)
            return NULL;
        const char *k;
        json_t *el;
        json_object_foreach(v, k, el) {
            json_t *b = api_bind_body(svc, s->value, el, false);
            if (!b || json_object_set_new_nocheck(out, k, b) != 0) {
                json_decref(out);
                return NULL;
            }
        }
        return out;
    }
    default:
        return json_incref(v);
    }
}

/* Parse a request body into an object bound against `shape`. Empty or
 * all-whitespace bodies mean {}. */
static gt_err api_parse_body(const model_service *svc, int shape, const unsigned char *body,
                             size_t len, json_t **out, char *msg, size_t msgcap)
{
    json_t *root;
    *out = NULL;
    if (len == 0 || api_all_ws(body, len)) {
        root = json_object();
        if (!root)
            return api_fail(GT_E_NOMEM, msg, msgcap, NULL);
    } else {
        if (api_json_too_deep(body, len, API_MAX_JSON_DEPTH))
            return api_fail(GT_E_SERIALIZATION, msg, msgcap,
                            "The request body is nested more than %d levels deep.", API_MAX_JSON_DEPTH);
        json_error_t jerr;
        root = json_loadb((const char *)body, len, 0, &jerr);
        if (!root) {
            if (json_error_code(&jerr) == json_error_out_of_memory)
                return api_fail(GT_E_NOMEM, msg, msgcap, NULL);
            return api_fail(GT_E_SERIALIZATION, msg, msgcap, NULL);
        }
        if (!json_is_object(root)) {
            json_decref(root);
            return api_fail(GT_E_SERIALIZATION, msg, msgcap,
                            "The request body must be a JSON object.");
        }
    }
    json_t *bound = api_bind_body(svc, shape, root, true);
    json_decref(root);
    if (!bound)
        return api_fail(GT_E_NOMEM, msg, msgcap, NULL);
    if (!json_is_object(bound)) { /* shape -1 or not a structure */
        json_decref(bound);
        bound = json_object();
        if (!bound)
            return api_fail(GT_E_NOMEM, msg, msgcap, NULL);
    }
    *out = bound;
    return GT_OK;
}

/* Strict integer parse of s[0..n): optional '-', digits only. */
static bool api_parse_ll(const char *s, size_t n, long long *out)
{
    char buf[32];
    if (n == 0 || n >= sizeof buf)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (i == 0 && s[i] == '-' && n > 1)))
            return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    errno = 0;
    char *end = NULL;
    long long v = strtoll(buf, &end, 10);
    if (errno != 0 || end != buf + n)
        return false;
    *out = v;
    return true;
}

/* Strict finite decimal parse (no hex, inf, nan, whitespace). */
static bool api_parse_double(const char *s, size_t n, double *out)
{
    char buf[64];
    if (n == 0 || n >= sizeof buf)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '+' || ch == 'e' || ch == 'E'))
            return false;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    errno = 0;
    char *end = NULL;
    double v = strtod(buf, &end);
    if (errno != 0 || end != buf + n || v != v)
        return false;
    *out = v;
    return true;
}

/* Convert one decoded uri/query/header string to a JSON value of the
 * member's shape. Returns GT_OK with *out (new ref), or an error. */
static gt_err api_conv(const model_service *svc, int shape, const char *s, size_t n,
                       const char *what, json_t **out, char *msg, size_t msgcap)
{
    const model_shape *sh = model_shape_at(svc, shape);
    model_type t = sh ? sh->type : MODEL_T_STRING;
    *out = NULL;
    if (!api_utf8_ok(s, n))
        return api_fail(GT_E_VALIDATION, msg, msgcap,
                        API_V1 "Value at '%s' failed to satisfy constraint: Member must be valid "
                               "UTF-8 without NUL characters",
                        what);
    switch (t) {
    case MODEL_T_INTEGER:
    case MODEL_T_LONG: {
        long long v;
        if (!api_parse_ll(s, n, &v) || (t == MODEL_T_INTEGER && (v < INT32_MIN || v > INT32_MAX)))
            return api_fail(GT_E_VALIDATION, msg, msgcap,
                            API_V1 "Value at '%s' failed to satisfy constraint: Member must be of "
                                   "type %s",
                            what, api_type_name(t));
        *out = json_integer((json_int_t)v);
        break;
    }
    case MODEL_T_BOOLEAN:
        if (n == 4 && memcmp(s, "true", 4) == 0)
            *out = json_true();
        else if (n == 5 && memcmp(s, "false", 5) == 0)
            *out = json_false();
        else
            return api_fail(GT_E_VALIDATION, msg, msgcap,
                            API_V1 "Value at '%s' failed to satisfy constraint: Member must be of "
                                   "type boolean",
                            what);
        break;
    case MODEL_T_DOUBLE:
    case MODEL_T_FLOAT: {
        double d;
        if (!api_parse_double(s, n, &d))
            return api_fail(GT_E_VALIDATION, msg, msgcap,
                            API_V1 "Value at '%s' failed to satisfy constraint: Member must be of "
                                   "type %s",
                            what, api_type_name(t));
        *out = json_real(d);
        break;
    }
    case MODEL_T_TIMESTAMP: {
        long long iv;
        double d;
        if (api_parse_ll(s, n, &iv))
            *out = json_integer((json_int_t)iv);
        else if (api_parse_double(s, n, &d))
            *out = json_real(d);
        else
            *out = json_stringn(s, n);
        break;
    }
    default:
        *out = json_stringn(s, n);
        break;
    }
    if (!*out)
        return api_fail(GT_E_NOMEM, msg, msgcap, NULL);
    return GT_OK;
}

/* Percent-decode and convert, for uri labels and query values. */
static gt_err api_conv_pct(const model_service *svc, int shape, const char *s, size_t n,
                           bool plus_space, const char *what, json_t **out, char *msg, size_t msgcap)
{
    *out = NULL;
    char *buf = malloc(n + 1);
    if (!buf)
        return api_fail(GT_E_NOMEM, msg, msgcap, NULL);
    size_t dn = 0;
    gt_err e;
    if (!api_pct_decode(s, n, plus_space, buf, &dn))
        e = api_fail(GT_E_VALIDATION, msg, msgcap,
                     API_V1 "Value at '%s' failed to satisfy constraint: Member must be "
                            "correctly percent-encoded",
                     what);
    else
        e = api_conv(svc, shape, buf, dn, what, out, msg, msgcap);
    free(buf);
    return e;
}

/* Bind every query member of the input structure. */
static gt_err api_bind_query(const model_service *svc, const model_shape *in, const http_req *req,
                             json_t *obj, char *msg, size_t msgcap)
{
    for (size_t mi = 0; mi < in->n_members; mi++) {
        const model_member *m = &in->members[mi];
        if (m->loc != MODEL_LOC_QUERY)
            continue;
        const char *wire = m->loc_name ? m->loc_name : m->name;
        size_t wn = strlen(wire);
        const model_shape *ms = model_shape_at(svc, m->shape);
        bool is_list = ms && ms->type == MODEL_T_LIST;
        if (ms && ms->type == MODEL_T_MAP)
            continue; /* map-in-query (all params) is not used by our models */
        json_t *acc = NULL;
        const char *q = req->query ? req->query : "";
        size_t qn = req->query ? req->query_len : 0;
        size_t i = 0;
        while (i <= qn) {
            size_t j = i;
            while (j < qn && q[j] != '&')
                j++;
            const char *pair = q + i;
            size_t pn = j - i;
            i = j + 1;
            if (pn == 0)
                continue;
            const char *eq = memchr(pair, '=', pn);
            size_t kn = eq ? (size_t)(eq - pair) : pn;
            if (!api_pct_equals(pair, kn, true, wire, wn))
                continue;
            const char *val = eq ? eq + 1 : pair + pn;
            size_t vn = eq ? pn - kn - 1 : 0;
            json_t *jv = NULL;
            gt_err e = api_conv_pct(svc, is_list ? ms->member : m->shape, val, vn, true, m->name,
                                    &jv, msg, msgcap);
            if (e != GT_OK) {
                json_decref(acc);
                return e;
            }
            if (is_list) {
                if (!acc && !(acc = json_array())) {
                    json_decref(jv);
                    return api_fail(GT_E_NOMEM, msg, msgcap, NULL);
                }
                if (json_array_size(acc) >= API_MAX_COLLECTION) {
                    json_decref(jv);
                    json_decref(acc);
                    return api_fail(GT_E_VALIDATION, msg, msgcap,
                                    API_V1 "Value at '%s' failed to satisfy constraint: Member must "
                                           "have length less than or equal to %d",
                                    m->name, API_MAX_COLLECTION);
                }
                if (json_array_append_new(acc, jv) != 0) {
                    json_decref(acc);
                    return api_fail(GT_E_NOMEM, msg, msgcap, NULL);
                }
            } else {
                json_decref(acc); /* last wins */
                acc = jv;
            }
        }
        if (acc && json_object_set_new_nocheck(obj, m->name, acc) != 0)
            return api_fail(GT_E_NOMEM, msg, msgcap, NULL);
    }
    return GT_OK;
}

/* Bind every header member of the input structure (first header wins;
 * list-typed members split on ','). */
static gt_err api_bind_headers(const model_service *svc, const model_shape *in, const http_req *req,
                               json_t *obj, char *msg, size_t msgcap)
{
    for (size_t mi = 0; mi < in->n_members; mi++) {
        const model_member *m = &in->members[mi];
        if (m->loc != MODEL_LOC_HEADER)
            continue;
        size_t vn = 0;
        const char *v = http_req_header(req, m->loc_name ? m->loc_name : m->name, &vn);
        if (!v)
            continue;
        while (vn > 0 && (v[0] == ' ' || v[0] == '\t'))
            v++, vn--;
        while (vn > 0 && (v[vn - 1] == ' ' || v[vn - 1] == '\t'))
            vn--;
        const model_shape *ms = model_shape_at(svc, m->shape);
        json_t *jv = NULL;
        gt_err e;
        if (ms && ms->type == MODEL_T_LIST) {
            json_t *arr = json_array();
            if (!arr)
                return api_fail(GT_E_NOMEM, msg, msgcap, NULL);
            size_t i = 0;
            while (i <= vn) {
                size_t j = i;
                while (j < vn && v[j] != ',')
                    j++;
                size_t a = i, b = j;
                while (a < b && (v[a] == ' ' || v[a] == '\t'))
                    a++;
                while (b > a && (v[b - 1] == ' ' || v[b - 1] == '\t'))
                    b--;
                i = j + 1;
                json_t *el = NULL;
                e = api_conv(svc, ms->member, v + a, b - a, m->name, &el, msg, msgcap);
                if (e != GT_OK || json_array_append_new(arr, el) != 0) {
                    json_decref(arr);
                    return e != GT_OK ? e : api_fail(GT_E_NOMEM, msg, msgcap, NULL);
                }
            }
            jv = arr;
        } else {
            e = api_conv(svc, m->shape, v, vn, m->name, &jv, msg, msgcap);
            if (e != GT_OK)
                return e;
        }
        if (json_object_set_new_nocheck(obj, m->name, jv) != 0)
            return api_fail(GT_E_NOMEM, msg, msgcap, NULL);
    }
    return GT_OK;
}

/* ------------------------------------------------------------- routing */

typedef struct api_label {
    const char *name; /* in the template */
    size_t name_len;
    const char *val;  /* raw request bytes */
    size_t val_len;
} api_label;

enum { API_SEG_LIT = 0, API_SEG_LABEL = 1, API_SEG_GREEDY = 2 };

typedef struct api_route {
    unsigned char kinds[API_MAX_SEGS];
    size_t n_kinds;
    size_t n_qlits;
    api_label labels[API_MAX_LABELS];
    size_t n_labels;
} api_route;

/* Split the raw request path into segments. "/" has none. */
static bool api_split_path(const char *p, size_t n, api_slice *segs, size_t *nseg)
{
    *nseg = 0;
    if (n == 0 || p[0] != '/')
        return false;
    if (n == 1)
        return true;
    size_t i = 1;
    for (;;) {
        size_t j = i;
        while (j < n && p[j] != '/')
            j++;
        if (*nseg >= API_MAX_SEGS)
            return false;
        segs[*nseg].p = p + i;
        segs[*nseg].n = j - i;
        (*nseg)++;
        if (j >= n)
            break;
        i = j + 1;
    }
    return true;
}

/* Is key (and value, unless v is NULL) present in the raw query? */
static bool api_query_has(const http_req *req, const char *k, size_t kn, const char *v, size_t vn)
{
    const char *q = req->query ? req->query : "";
    size_t qn = req->query ? req->query_len : 0;
    size_t i = 0;
    while (i <= qn) {
        size_t j = i;
        while (j < qn && q[j] != '&')
            j++;
        const char *pair = q + i;
        size_t pn = j - i;
        i = j + 1;
        if (pn == 0)
            continue;
        const char *eq = memchr(pair, '=', pn);
        size_t pkn = eq ? (size_t)(eq - pair) : pn;
        if (!api_pct_equals(pair, pkn, true, k, kn))
            continue;
        if (!v)
            return true;
        if (eq && api_pct_equals(eq + 1, pn - pkn - 1, true, v, vn))
            return true;
    }
    return false;
}

/* Match one template against the split request path. */
static bool api_route_match(const char *tmpl, const api_slice *segs, size_t nseg,
                            const char *path_end, const http_req *req, api_route *r)
{
    memset(r, 0, sizeof *r);
    const char *qmark = strchr(tmpl, '?');
    size_t tlen = qmark ? (size_t)(qmark - tmpl) : strlen(tmpl);
    if (tlen == 0 || tmpl[0] != '/')
        return false;
    size_t ti = 1, si = 0;
    if (tlen > 1) {
        for (;;) {
            size_t tj = ti;
            while (tj < tlen && tmpl[tj] != '/')
                tj++;
            const char *t = tmpl + ti;
            size_t tn = tj - ti;
            if (r->n_kinds >= API_MAX_SEGS)
                return false;
            if (tn >= 2 && t[0] == '{' && t[tn - 1] == '}') {
                bool greedy = tn >= 3 && t[tn - 2] == '+';
                if (si >= nseg || segs[si].n == 0 || r->n_labels >= API_MAX_LABELS)
                    return false;
                api_label *l = &r->labels[r->n_labels++];
                l->name = t + 1;
                l->name_len = tn - 2 - (greedy ? 1 : 0);
                l->val = segs[si].p;
                if (greedy) {
                    l->val_len = (size_t)(path_end - segs[si].p);
                    si = nseg;
                    r->kinds[r->n_kinds++] = API_SEG_GREEDY;
                    if (tj < tlen)
                        return false; /* greedy label must be last */
                    break;
                }
                l->val_len = segs[si].n;
                r->kinds[r->n_kinds++] = API_SEG_LABEL;
            } else {
                if (si >= nseg || !api_pct_equals(segs[si].p, segs[si].n, false, t, tn))
                    return false;
                r->kinds[r->n_kinds++] = API_SEG_LIT;
            }
            si++;
            if (tj >= tlen)
                break;
            ti = tj + 1;
        }
    }
    if (si != nseg)
        return false;
    if (qmark) {
        const char *q = qmark + 1;
        size_t qn = strlen(q);
        size_t i = 0;
        while (i <= qn) {
            size_t j = i;
            while (j < qn && q[j] != '&')
                j++;
            const char *pair = q + i;
            size_t pn = j - i;
            i = j + 1;
            if (pn == 0)
                continue;
            const char *eq = memchr(pair, '=', pn);
            size_t kn = eq ? (size_t)(eq - pair) : pn;
            if (!api_query_has(req, pair, kn, eq ? eq + 1 : NULL, eq ? pn - kn - 1 : 0))
                return false;
            r->n_qlits++;
        }
    }
    return true;
}

/* <0 if a is the more specific route. */
static int api_route_cmp(const api_route *a, const api_route *b)
{
    size_t n = a->n_kinds < b->n_kinds ? a->n_kinds : b->n_kinds;
    for (size_t i = 0; i < n; i++)
        if (a->kinds[i] != b->kinds[i])
            return a->kinds[i] < b->kinds[i] ? -1 : 1;
    if (a->n_kinds != b->n_kinds)
        return a->n_kinds > b->n_kinds ? -1 : 1;
    if (a->n_qlits != b->n_qlits)
        return a->n_qlits > b->n_qlits ? -1 : 1;
    return 0;
}

gt_err api_restjson_decode(const model_service *svc, const http_req *req,
                           const model_op **op_out, json_t **input_out,
                           char *msg, size_t msgcap)
{
    if (op_out)
        *op_out = NULL;
    if (input_out)
        *input_out = NULL;
    if (msg && msgcap)
        msg[0] = '\0';
    if (!svc || !req || !op_out || !input_out || !req->method || (!req->path && req->path_len))
        return api_fail(GT_E_INTERNAL, msg, msgcap, NULL);

    api_slice segs[API_MAX_SEGS];
    size_t nseg = 0;
    if (!api_split_path(req->path, req->path_len, segs, &nseg))
        return api_fail(GT_E_NOT_FOUND_ROUTE, msg, msgcap, NULL);

    const model_op *best = NULL;
    api_route best_r, cand;
    memset(&best_r, 0, sizeof best_r);
    bool path_matched = false;
    for (size_t i = 0; i < svc->n_ops; i++) {
        const model_op *op = &svc->ops[i];
        if (!api_route_match(op->uri, segs, nseg, req->path + req->path_len, req, &cand))
            continue;
        path_matched = true;
        if (strcmp(op->method, req->method) != 0)
            continue;
        if (!best || api_route_cmp(&cand, &best_r) < 0) {
            best = op;
            best_r = cand;
        }
    }
    if (!best)
        return api_fail(GT_E_NOT_FOUND_ROUTE, msg, msgcap,
                        path_matched ? "The method is not allowed for this resource."
                                     : "No operation matches this method and path.");
    *op_out = best;

    const model_shape *in = model_shape_at(svc, best->input);
    bool has_body = false;
    if (in && in->type == MODEL_T_STRUCTURE)
        for (size_t i = 0; i < in->n_members; i++)
            has_body = has_body || in->members[i].loc == MODEL_LOC_BODY;

    json_t *obj = NULL;
    gt_err e;
    if (has_body) {
        e = api_parse_body(svc, best->input, req->body, req->body_len, &obj, msg, msgcap);
        if (e != GT_OK)
            return e;
    } else {
        obj = json_object();
        if (!obj)
            return api_fail(GT_E_NOMEM, msg, msgcap, NULL);
    }

    if (in && in->type == MODEL_T_STRUCTURE) {
        /* URI labels */
        for (size_t li = 0; li < best_r.n_labels; li++) {
            const api_label *l = &best_r.labels[li];
            const model_member *m = NULL;
            for (size_t mi = 0; mi < in->n_members && !m; mi++) {
                const model_member *c = &in->members[mi];
                const char *w = c->loc_name ? c->loc_name : c->name;
                if (c->loc == MODEL_LOC_URI && strlen(w) == l->name_len &&
                    memcmp(w, l->name, l->name_len) == 0)
                    m = c;
            }
            if (!m)
                continue; /* label not modelled as a member: nothing to bind */
            json_t *jv = NULL;
            e = api_conv_pct(svc, m->shape, l->val, l->val_len, false, m->name, &jv, msg, msgcap);
            if (e != GT_OK)
                goto fail;
            if (json_object_set_new_nocheck(obj, m->name, jv) != 0) {
                e = api_fail(GT_E_NOMEM, msg, msgcap, NULL);
                goto fail;
            }
        }
        e = api_bind_query(svc, in, req, obj, msg, msgcap);
        if (e != GT_OK)
            goto fail;
        e = api_bind_headers(svc, in, req, obj, msg, msgcap);
        if (e != GT_OK)
            goto fail;
    }

    e = api_validate(svc, best->input, obj, msg, msgcap);
    if (e != GT_OK)
        goto fail;
    *input_out = obj;
    return GT_OK;
fail:
    json_decref(obj);
    return e;
}

gt_err api_json_decode(const model_service *svc, const http_req *req,
                       const model_op **op_out, json_t **input_out,
                       char *msg, size_t msgcap)
{
    if (op_out)
        *op_out = NULL;
    if (input_out)
        *input_out = NULL;
    if (msg && msgcap)
        msg[0] = '\0';
    if (!svc || !req || !op_out || !input_out || !req->method)
        return api_fail(GT_E_INTERNAL, msg, msgcap, NULL);
    if (strcmp(req->method, "POST") != 0)
        return api_fail(GT_E_NOT_FOUND_ROUTE, msg, msgcap, NULL);

    size_t tn = 0;
    const char *t = http_req_header(req, "X-Amz-Target", &tn);
    const char *pfx = svc->target_prefix;
    size_t pn = pfx ? strlen(pfx) : 0;
    if (!t || !pfx || tn <= pn + 1 || memcmp(t, pfx, pn) != 0 || t[pn] != '.')
        return api_fail(GT_E_UNKNOWN_OPERATION, msg, msgcap, NULL);
    const model_op *op = model_find_opn(svc, t + pn + 1, tn - pn - 1);
    if (!op)
        return api_fail(GT_E_UNKNOWN_OPERATION, msg, msgcap, NULL);
    *op_out = op;

    json_t *obj = NULL;
    gt_err e = api_parse_body(svc, op->input, req->body, req->body_len, &obj, msg, msgcap);
    if (e != GT_OK)
        return e;
    e = api_validate(svc, op->input, obj, msg, msgcap);
    if (e != GT_OK) {
        json_decref(obj);
        return e;
    }
    *input_out = obj;
    return GT_OK;
}
