/*
 * query.c: the AWS query protocol, both ways (IAM, STS; SNS later).
 *
 * Decoding: the form (POST body, or the query string when the body is
 * empty) is split into name=value pairs, each percent-decoded ('+' is a
 * space). The operation comes from Action. The input object is then built
 * by walking the operation's input shape, the way botocore's
 * QuerySerializer flattens it:
 *   structure  Prefix.Member (wire name = the member's locationName if any)
 *   list       Prefix.member.N (or Prefix.<locationName>.N), flattened: Prefix.N;
 *              "Prefix=" alone is an empty list
 *   map        Prefix.entry.N.key / Prefix.entry.N.value (flattened: no .entry)
 *   scalars    string/blob/timestamp as strings, integer/long via
 *              gt_parse_i64, boolean "true"/"false", double/float strtod
 * and validated with api_validate, so handlers see exactly what the JSON
 * decoders would give them.
 *
 * Encoding: the output object (member names) is written as XML under
 * <OpResponse><OpResult> with the model's wire names, list element names
 * (member unless the shape says otherwise) and map entry names. Text is
 * escaped (&, <, >, ", ' and control characters as numeric references).
 *
 * Invariants: at most API_QUERY_MAX_PAIRS pairs and API_QUERY_MAX_DEPTH
 * levels are looked at; a list index is 1..API_MAX_COLLECTION; every
 * output buffer grows through one checked function; nothing here
 * allocates without a cap derived from the (already capped) body size.
 */
#include "api/query.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/decode.h"
#include "util/gtutil.h"

/* ---------------------------------------------------------------- form */

typedef struct q_pair {
    char *k;
    size_t kn;
    char *v;
    size_t vn;
} q_pair;

typedef struct q_form {
    q_pair *p;
    size_t n;
} q_form;

/* Percent-decode s[0..n) ('+' = space) into a new NUL-terminated string. */
static char *q_unescape(const char *s, size_t n, size_t *outn)
{
    char *o = malloc(n + 1);
    if (!o)
        return NULL;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '+') {
            o[j++] = ' ';
        } else if (ch == '%') {
            if (i + 2 >= n) {   /* needs two hex digits */
                free(o);
                return NULL;
            }
            int hi = gt_hexval((unsigned char)s[i + 1]);
            int lo = gt_hexval((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0) {
                free(o);
                return NULL;
            }
            o[j++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            o[j++] = (char)ch;
        }
    }
    o[j] = '\0';
    *outn = j;
    return o;
}

static void q_form_free(q_form *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->p[i].k);
        free(f->p[i].v);
    }
    free(f->p);
    f->p = NULL;
    f->n = 0;
}

static gt_err q_form_parse(const char *s, size_t n, q_form *f)
{
    memset(f, 0, sizeof *f);
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '&')
            count++;
    if (count + 1 > API_QUERY_MAX_PAIRS)
        return GT_E_Q_MALFORMED_QUERY;
    f->p = calloc(count + 1, sizeof *f->p);
    if (!f->p)
        return GT_E_NOMEM;
    size_t i = 0;
    while (i < n) {
        size_t e = i;
        while (e < n && s[e] != '&')
            e++;
        if (e > i) {
            size_t eq = i;
            while (eq < e && s[eq] != '=')
                eq++;
            q_pair *p = &f->p[f->n];
            p->k = q_unescape(s + i, eq - i, &p->kn);
            p->v = eq < e ? q_unescape(s + eq + 1, e - eq - 1, &p->vn) : q_unescape("", 0, &p->vn);
            if (!p->k || !p->v) {
                free(p->k);
                free(p->v);
                q_form_free(f);
                return GT_E_Q_MALFORMED_QUERY;
            }
            f->n++;
        }
        i = e + 1;
    }
    return GT_OK;
}

/* Printable-ASCII copy of s (others -> '?'), at most cap-1 bytes: safe to
 * echo a client's bytes in a (UTF-8) message. */
static const char *q_safe(const char *s, size_t n, char *out, size_t cap)
{
    size_t j = 0;
    for (size_t i = 0; i < n && j + 1 < cap; i++)
        out[j++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    out[j] = '\0';
    return out;
}

static const q_pair *q_find(const q_form *f, const char *key)
{
    size_t kn = strlen(key);
    for (size_t i = 0; i < f->n; i++)
        if (f->p[i].kn == kn && memcmp(f->p[i].k, key, kn) == 0)
            return &f->p[i];
    return NULL;
}

/* Does any key start with prefix followed by '.'? */
static bool q_has_children(const q_form *f, const char *prefix)
{
    size_t pn = strlen(prefix);
    for (size_t i = 0; i < f->n; i++)
        if (f->p[i].kn > pn && memcmp(f->p[i].k, prefix, pn) == 0 && f->p[i].k[pn] == '.')
            return true;
    return false;
}

/* Largest N of keys "prefix.N" or "prefix.N.<...>", 0 if none, -1 if an
 * index is malformed or out of range. */
static long q_max_index(const q_form *f, const char *prefix)
{
    size_t pn = strlen(prefix);
    long max = 0;
    for (size_t i = 0; i < f->n; i++) {
        const q_pair *p = &f->p[i];
        if (p->kn <= pn + 1 || memcmp(p->k, prefix, pn) != 0 || p->k[pn] != '.')
            continue;
        const char *d = p->k + pn + 1;
        size_t dn = 0;
        while (d + dn < p->k + p->kn && d[dn] != '.')
            dn++;
        int64_t idx;
        if (dn == 0 || dn > 6 || !gt_parse_i64(d, dn, &idx) || idx < 1 || idx > API_MAX_COLLECTION)
            return -1;
        if (idx > max)
            max = (long)idx;
    }
    return max;
}

/* ---------------------------------------------------------------- decode */

typedef struct q_ctx {
    const model_service *svc;
    const q_form *f;
    char *msg;
    size_t msgcap;
    gt_err err;
} q_ctx;

static json_t *q_fail(q_ctx *c, gt_err e, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static json_t *q_fail(q_ctx *c, gt_err e, const char *fmt, ...)
{
    if (c->err == GT_OK) {
        c->err = e;
        if (c->msgcap > 0) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(c->msg, c->msgcap, fmt, ap);
            va_end(ap);
        }
    }
    return NULL;
}

static json_t *q_build(q_ctx *c, int shape, bool flattened, const char *key, int depth);

static json_t *q_scalar(q_ctx *c, const model_shape *s, const q_pair *p, const char *key)
{
    switch (s->type) {
    case MODEL_T_STRING:
    case MODEL_T_BLOB:
    case MODEL_T_TIMESTAMP: {
        json_t *j = json_stringn(p->v, p->vn);
        if (!j)   /* invalid UTF-8 */
            return q_fail(c, GT_E_VALIDATION, "1 validation error detected: Value at '%s' failed to satisfy constraint: Member must be valid UTF-8", key);
        return j;
    }
    case MODEL_T_INTEGER:
    case MODEL_T_LONG: {
        int64_t v;
        char shown[65];
        if (!gt_parse_i64(p->v, p->vn, &v))
            return q_fail(c, GT_E_VALIDATION, "1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must be a number", q_safe(p->v, p->vn, shown, sizeof shown), key);
        return json_integer((json_int_t)v);
    }
    case MODEL_T_BOOLEAN: {
        char shown[65];
        if (strcmp(p->v, "true") == 0)
            return json_true();
        if (strcmp(p->v, "false") == 0)
            return json_false();
        return q_fail(c, GT_E_VALIDATION, "1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must be a boolean", q_safe(p->v, p->vn, shown, sizeof shown), key);
    }
    case MODEL_T_DOUBLE:
    case MODEL_T_FLOAT: {
        char *end = NULL, shown[65];
        double d = p->vn ? strtod(p->v, &end) : 0;
        if (!p->vn || !end || *end)
            return q_fail(c, GT_E_VALIDATION, "1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must be a number", q_safe(p->v, p->vn, shown, sizeof shown), key);
        return json_real(d);
    }
    default:
        return NULL;
    }
}

static bool q_key(q_ctx *c, char *out, size_t cap, const char *a, const char *b)
{
    int n = a && *a ? snprintf(out, cap, "%s.%s", a, b) : snprintf(out, cap, "%s", b);
    if (n < 0 || (size_t)n >= cap) {
        q_fail(c, GT_E_Q_MALFORMED_QUERY, "A parameter name is too long.");
        return false;
    }
    return true;
}

static json_t *q_build(q_ctx *c, int shape, bool flattened, const char *key, int depth)
{
    const model_shape *s = model_shape_at(c->svc, shape);
    if (!s || c->err != GT_OK)
        return NULL;
    if (depth > API_QUERY_MAX_DEPTH)
        return q_fail(c, GT_E_VALIDATION, "The request is nested too deeply.");
    char k[512];
    if (s->type == MODEL_T_STRUCTURE) {
        if (depth > 0 && !q_has_children(c->f, key))
            return NULL;
        json_t *o = json_object();
        if (!o)
            return q_fail(c, GT_E_NOMEM, "out of memory");
        for (size_t i = 0; i < s->n_members; i++) {
            const model_member *m = &s->members[i];
            if (!q_key(c, k, sizeof k, key, m->loc_name ? m->loc_name : m->name))
                break;
            json_t *v = q_build(c, m->shape, m->flattened, k, depth + 1);
            if (v)
                json_object_set_new(o, m->name, v);
        }
        if (c->err != GT_OK) {
            json_decref(o);
            return NULL;
        }
        return o;
    }
    if (s->type == MODEL_T_LIST) {
        const q_pair *empty = q_find(c->f, key);
        char lp[512];
        if (flattened || s->flattened) {
            if (!q_key(c, lp, sizeof lp, NULL, key))
                return NULL;
        } else if (!q_key(c, lp, sizeof lp, key, s->xml_member_name ? s->xml_member_name : "member")) {
            return NULL;
        }
        long max = q_max_index(c->f, lp);
        if (max < 0)
            return q_fail(c, GT_E_VALIDATION, "1 validation error detected: bad list index under '%s'", key);
        if (max == 0)
            return empty && empty->vn == 0 ? json_array() : NULL;
        json_t *a = json_array();
        for (long i = 1; a && i <= max && c->err == GT_OK; i++) {
            char idx[24];
            snprintf(idx, sizeof idx, "%ld", i);
            if (!q_key(c, k, sizeof k, lp, idx))
                break;
            const model_shape *es = model_shape_at(c->svc, s->member);
            json_t *v;
            if (es && es->type != MODEL_T_STRUCTURE && es->type != MODEL_T_LIST && es->type != MODEL_T_MAP) {
                const q_pair *p = q_find(c->f, k);
                v = p ? q_scalar(c, es, p, k) : NULL;
            } else {
                v = q_build(c, s->member, false, k, depth + 1);
            }
            if (v)
                json_array_append_new(a, v);
        }
        if (c->err != GT_OK || !a) {
            json_decref(a);
            return a ? NULL : q_fail(c, GT_E_NOMEM, "out of memory");
        }
        return a;
    }
    if (s->type == MODEL_T_MAP) {
        char mp[512];
        if (flattened || s->flattened) {
            if (!q_key(c, mp, sizeof mp, NULL, key))
                return NULL;
        } else if (!q_key(c, mp, sizeof mp, key, "entry")) {
            return NULL;
        }
        long max = q_max_index(c->f, mp);
        if (max < 0)
            return q_fail(c, GT_E_VALIDATION, "1 validation error detected: bad map index under '%s'", key);
        if (max == 0)
            return NULL;
        json_t *o = json_object();
        const model_shape *ks = model_shape_at(c->svc, s->key);
        for (long i = 1; o && i <= max && c->err == GT_OK; i++) {
            char kk[512], vk[512], idx[24];
            snprintf(idx, sizeof idx, "%ld", i);
            if (!q_key(c, k, sizeof k, mp, idx) ||
                !q_key(c, kk, sizeof kk, k, s->xml_key_name ? s->xml_key_name : "key") ||
                !q_key(c, vk, sizeof vk, k, s->xml_value_name ? s->xml_value_name : "value"))
                break;
            const q_pair *kp = q_find(c->f, kk);
            if (!kp || !ks)
                continue;
            const model_shape *vs = model_shape_at(c->svc, s->value);
            json_t *v;
            if (vs && vs->type != MODEL_T_STRUCTURE && vs->type != MODEL_T_LIST && vs->type != MODEL_T_MAP) {
                const q_pair *vp = q_find(c->f, vk);
                v = vp ? q_scalar(c, vs, vp, vk) : NULL;
            } else {
                v = q_build(c, s->value, false, vk, depth + 1);
            }
            if (v && json_object_setn_new(o, kp->v, kp->vn, v) != 0)
                q_fail(c, GT_E_VALIDATION, "1 validation error detected: bad map key under '%s'", key);
        }
        if (c->err != GT_OK || !o) {
            json_decref(o);
            return o ? NULL : q_fail(c, GT_E_NOMEM, "out of memory");
        }
        return o;
    }
    const q_pair *p = q_find(c->f, key);
    return p ? q_scalar(c, s, p, key) : NULL;
}

gt_err api_query_decode(const model_service *svc, const http_req *req, const model_op **op_out,
                        json_t **input_out, char *msg, size_t msgcap)
{
    *op_out = NULL;
    *input_out = NULL;
    if (msgcap > 0)
        msg[0] = '\0';
    const char *src = (const char *)req->body;
    size_t n = req->body_len;
    if (n == 0) {
        src = req->query;
        n = req->query_len;
    }
    q_form f;
    gt_err e = q_form_parse(src ? src : "", src ? n : 0, &f);
    if (e != GT_OK) {
        if (msgcap > 0)
            snprintf(msg, msgcap, "%s", gt_err_message(e));
        return e;
    }
    const q_pair *action = q_find(&f, "Action");
    if (!action || action->vn == 0) {
        q_form_free(&f);
        if (msgcap > 0)
            snprintf(msg, msgcap, "%s", gt_err_message(GT_E_Q_MISSING_ACTION));
        return GT_E_Q_MISSING_ACTION;
    }
    const model_op *op = model_find_opn(svc, action->v, action->vn);
    if (!op) {
        const q_pair *ver = q_find(&f, "Version");
        char an[129], vn[33];
        if (msgcap > 0)
            snprintf(msg, msgcap, "Could not find operation %s for version %s", q_safe(action->v, action->vn, an, sizeof an),
                     ver ? q_safe(ver->v, ver->vn, vn, sizeof vn) : "NO_VERSION_SPECIFIED");
        q_form_free(&f);
        return GT_E_Q_INVALID_ACTION;
    }
    *op_out = op;
    q_ctx c = {.svc = svc, .f = &f, .msg = msg, .msgcap = msgcap};
    json_t *in = op->input >= 0 ? q_build(&c, op->input, false, "", 0) : json_object();
    q_form_free(&f);
    if (c.err != GT_OK) {
        json_decref(in);
        return c.err;
    }
    if (!in)
        return GT_E_NOMEM;
    e = api_validate(svc, op->input, in, msg, msgcap);
    if (e != GT_OK) {
        json_decref(in);
        return e;
    }
    *input_out = in;
    return GT_OK;
}

bool api_query_is_form(const http_req *req)
{
    static const char form[] = "application/x-www-form-urlencoded";
    size_t n = 0;
    const char *ct = http_req_header(req, "Content-Type", &n);
    return ct && n >= sizeof form - 1 && strncasecmp(ct, form, sizeof form - 1) == 0;
}

gt_err api_query_err(gt_err e)
{
    switch (e) {
    case GT_E_ACCESS_DENIED: return GT_E_Q_ACCESS_DENIED;
    case GT_E_UNRECOGNIZED_CLIENT: return GT_E_Q_INVALID_CLIENT_TOKEN;
    case GT_E_EXPIRED_TOKEN: return GT_E_Q_EXPIRED_TOKEN;
    case GT_E_INVALID_SIGNATURE:
    case GT_E_SIGNATURE_EXPIRED: return GT_E_Q_SIGNATURE_MISMATCH;
    case GT_E_INCOMPLETE_SIGNATURE: return GT_E_Q_INCOMPLETE_SIGNATURE;
    case GT_E_MISSING_AUTH: return GT_E_Q_MISSING_AUTH;
    case GT_E_VALIDATION:
    case GT_E_SERIALIZATION: return GT_E_Q_VALIDATION;
    case GT_E_UNKNOWN_OPERATION:
    case GT_E_NOT_FOUND_ROUTE: return GT_E_Q_INVALID_ACTION;
    default: return e;
    }
}

/* ---------------------------------------------------------------- XML out */

typedef struct q_buf {
    char *p;
    size_t n, cap;
    bool oom;
} q_buf;

static void q_put(q_buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 1024;
        while (nc < b->n + n + 1) {
            if (nc > ((size_t)1 << 30)) {
                b->oom = true;
                return;
            }
            nc *= 2;
        }
        char *np = realloc(b->p, nc);
        if (!np) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void q_puts(q_buf *b, const char *s) { q_put(b, s, strlen(s)); }

static void q_esc(q_buf *b, const char *s, size_t n)
{
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        const char *rep = NULL;
        char num[16];
        switch (ch) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&apos;"; break;
        default:
            if (ch < 0x20 && ch != '\t') {   /* \n and \r too: XML would normalise them */
                snprintf(num, sizeof num, "&#x%X;", ch);
                rep = num;
            }
        }
        if (rep) {
            q_put(b, s + run, i - run);
            q_puts(b, rep);
            run = i + 1;
        }
    }
    q_put(b, s + run, n - run);
}

static void q_open(q_buf *b, const char *name)
{
    q_puts(b, "<");
    q_puts(b, name);
    q_puts(b, ">");
}

static void q_close(q_buf *b, const char *name)
{
    q_puts(b, "</");
    q_puts(b, name);
    q_puts(b, ">");
}

static void q_xml_value(q_buf *b, const model_service *svc, int shape, bool flattened, const json_t *v,
                        const char *name, int depth);

static void q_xml_struct_members(q_buf *b, const model_service *svc, const model_shape *s, const json_t *v,
                                 int depth)
{
    for (size_t i = 0; i < s->n_members; i++) {
        const model_member *m = &s->members[i];
        const json_t *mv = json_object_get(v, m->name);
        if (!mv || json_is_null(mv))
            continue;
        q_xml_value(b, svc, m->shape, m->flattened, mv, m->loc_name ? m->loc_name : m->name, depth + 1);
    }
}

static void q_xml_scalar(q_buf *b, const model_shape *s, const json_t *v)
{
    char tmp[64];
    if (json_is_string(v)) {
        q_esc(b, json_string_value(v), json_string_length(v));
    } else if (json_is_boolean(v)) {
        q_puts(b, json_is_true(v) ? "true" : "false");
    } else if (json_is_integer(v)) {
        if (s && s->type == MODEL_T_TIMESTAMP) {
            char iso[21];
            gt_fmt_iso_s((int64_t)json_integer_value(v), iso);
            q_puts(b, iso);
        } else {
            snprintf(tmp, sizeof tmp, "%lld", (long long)json_integer_value(v));
            q_puts(b, tmp);
        }
    } else if (json_is_real(v)) {
        if (s && s->type == MODEL_T_TIMESTAMP) {
            char iso[25];
            gt_fmt_iso_ms((int64_t)(json_real_value(v) * 1000.0), iso);
            q_puts(b, iso);
        } else {
            snprintf(tmp, sizeof tmp, "%.17g", json_real_value(v));
            q_puts(b, tmp);
        }
    }
}

static void q_xml_value(q_buf *b, const model_service *svc, int shape, bool flattened, const json_t *v,
                        const char *name, int depth)
{
    const model_shape *s = model_shape_at(svc, shape);
    if (depth > API_MAX_JSON_DEPTH)
        return;
    if (s && s->type == MODEL_T_STRUCTURE && json_is_object(v)) {
        q_open(b, name);
        q_xml_struct_members(b, svc, s, v, depth);
        q_close(b, name);
    } else if (s && s->type == MODEL_T_LIST && json_is_array(v)) {
        const model_shape *es = model_shape_at(svc, s->member);
        const char *en = s->xml_member_name ? s->xml_member_name : "member";
        bool flat = flattened || s->flattened;
        if (!flat)
            q_open(b, name);
        for (size_t i = 0; i < json_array_size(v); i++)
            q_xml_value(b, svc, es ? s->member : -1, false, json_array_get(v, i), flat ? name : en, depth + 1);
        if (!flat)
            q_close(b, name);
    } else if (s && s->type == MODEL_T_MAP && json_is_object(v)) {
        bool flat = flattened || s->flattened;
        const char *kn = s->xml_key_name ? s->xml_key_name : "key";
        const char *vn = s->xml_value_name ? s->xml_value_name : "value";
        if (!flat)
            q_open(b, name);
        const char *k;
        json_t *mv;
        json_object_foreach((json_t *)v, k, mv) {
            q_open(b, flat ? name : "entry");
            q_open(b, kn);
            q_esc(b, k, strlen(k));
            q_close(b, kn);
            q_xml_value(b, svc, s->value, false, mv, vn, depth + 1);
            q_close(b, flat ? name : "entry");
        }
        if (!flat)
            q_close(b, name);
    } else {
        q_open(b, name);
        q_xml_scalar(b, s, v);
        q_close(b, name);
    }
}

static void q_ns_open(q_buf *b, const char *root, const model_service *svc)
{
    q_puts(b, "<");
    q_puts(b, root);
    if (svc && svc->xml_namespace) {
        q_puts(b, " xmlns=\"");
        q_esc(b, svc->xml_namespace, strlen(svc->xml_namespace));
        q_puts(b, "\"");
    }
    q_puts(b, ">");
}

char *api_query_xml_ok(const model_service *svc, const model_op *op, const json_t *output,
                       const char *request_id)
{
    q_buf b = {0};
    char root[160];
    snprintf(root, sizeof root, "%sResponse", op->name);
    q_ns_open(&b, root, svc);
    const model_shape *os = model_shape_at(svc, op->output);
    if (op->result_wrapper) {
        q_open(&b, op->result_wrapper);
        if (os && os->type == MODEL_T_STRUCTURE && json_is_object(output))
            q_xml_struct_members(&b, svc, os, output, 0);
        q_close(&b, op->result_wrapper);
    }
    q_open(&b, "ResponseMetadata");
    q_open(&b, "RequestId");
    q_esc(&b, request_id, strlen(request_id));
    q_close(&b, "RequestId");
    q_close(&b, "ResponseMetadata");
    q_close(&b, root);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

char *api_query_xml_error(const model_service *svc, const char *code, const char *message, int status,
                          const char *request_id)
{
    q_buf b = {0};
    q_ns_open(&b, "ErrorResponse", svc);
    q_open(&b, "Error");
    q_open(&b, "Type");
    q_puts(&b, status >= 500 ? "Receiver" : "Sender");
    q_close(&b, "Type");
    q_open(&b, "Code");
    q_esc(&b, code, strlen(code));
    q_close(&b, "Code");
    q_open(&b, "Message");
    q_esc(&b, message, strlen(message));
    q_close(&b, "Message");
    q_close(&b, "Error");
    q_open(&b, "RequestId");
    q_esc(&b, request_id, strlen(request_id));
    q_close(&b, "RequestId");
    q_close(&b, "ErrorResponse");
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

void gt_encode_query_ok(const gt_call *c, http_resp *out)
{
    out->status = 200;
    out->content_type = "text/xml";
    out->body = api_query_xml_ok(c->svc, c->op, c->output, c->request_id);
    out->body_len = out->body ? strlen(out->body) : 0;
    if (!out->body)
        out->status = 503;
}

void api_query_encode_error(const model_service *svc, const gt_call *c, gt_err e, const char *msg,
                            http_resp *out)
{
    e = api_query_err(e);
    out->status = gt_err_status(e);
    out->content_type = "text/xml";
    out->body = api_query_xml_error(svc, gt_err_code(e), msg && *msg ? msg : gt_err_message(e), out->status,
                                    c ? c->request_id : out->request_id);
    out->body_len = out->body ? strlen(out->body) : 0;
}
