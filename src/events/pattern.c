/*
 * pattern.c: the EventBridge event-pattern language (cloudtrail.md §8.3).
 *
 * What: ev_pattern_compile() parses and validates a pattern, with the
 * reasons AWS gives (the wording of aws/event-ruler, which EventBridge
 * runs); ev_pattern_match() decides whether one event matches. Every path
 * that matches (PutRule's validation, TestEventPattern, PutEvents, rule
 * delivery from the journal) goes through these two functions, so they
 * cannot disagree.
 *
 * Semantics:
 *  - A pattern is an object mirroring the event. Named fields are ANDed,
 *    unnamed event fields are ignored. A leaf is a non-empty array of
 *    alternatives (ORed). "$or": [{..},{..}] ORs sub-patterns at its level.
 *  - Event arrays match when any element matches. An object pattern under
 *    an array of objects must match within ONE element (AWS's "array
 *    consistency"): {"a":[1],"b":[2]} does not match [{"a":1},{"b":2}].
 *  - Leaf values: strings, numbers (compared numerically: 5 matches 5.0),
 *    true, false, null; a string never matches a number and vice versa.
 *    null matches only a JSON null; "" only an empty string; a missing
 *    field matches nothing except {"exists":false}.
 *  - Operators: prefix, suffix (both optionally {"equals-ignore-case":s}),
 *    equals-ignore-case, wildcard ('*' any run, "\*" and "\\" escapes),
 *    exact, numeric (= < <= > >=, one or two-sided ranges, |x| <= 5e9),
 *    cidr (IPv4/IPv6), exists (leaf fields only: an object or empty array
 *    does not "exist"), anything-but (a value, a list of strings or of
 *    numbers, or {prefix|suffix|wildcard|equals-ignore-case}). anything-but
 *    needs a present value; non-strings satisfy string exclusions.
 *  - Case folding for equals-ignore-case is ASCII only (documented limit).
 *
 * Invariants: a compiled pattern is immutable (shared by threads); nesting
 * is capped at EV_PATTERN_MAX_DEPTH in patterns and in the event arrays
 * walked, so matching is bounded by pattern size x event size and never
 * recurses deeper than that.
 */
#include "events/pattern.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ev_pattern {
    json_t *root;
};

#define NUM_LIMIT 5.0e9

/* ---------------------------------------------------------------- validation */

typedef struct vctx {
    char *err;
    size_t errcap;
} vctx;

static bool fail(vctx *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(vctx *v, const char *fmt, ...)
{
    if (v->errcap > 0) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(v->err, v->errcap, fmt, ap);
        va_end(ap);
        if (n >= (int)v->errcap) {
            /* truncated: do not leave half a UTF-8 sequence at the end */
            size_t len = strlen(v->err), k = len;
            while (k > 0 && ((unsigned char)v->err[k - 1] & 0xC0) == 0x80)
                k--;
            if (k > 0 && ((unsigned char)v->err[k - 1] & 0x80)) {
                unsigned char lead = (unsigned char)v->err[k - 1];
                size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
                if (len - (k - 1) < need)
                    v->err[k - 1] = '\0';
            }
        }
    }
    return false;
}

/* '*' runs must not repeat; only "\*" and "\\" escapes. */
static bool check_wildcard(vctx *v, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\') {
            if (i + 1 >= n || (s[i + 1] != '*' && s[i + 1] != '\\'))
                return fail(v, "Invalid escape character at pos %zu", i);
            i++;
        } else if (s[i] == '*' && i + 1 < n && s[i + 1] == '*') {
            return fail(v, "Consecutive wildcard characters at pos %zu", i + 1);
        }
    }
    return true;
}

static bool parse_cidr(const char *s, int *family, unsigned char addr[16], int *bits);

/* prefix / suffix value: a string or {"equals-ignore-case": string}. */
static bool check_affix(vctx *v, const char *op, const json_t *val)
{
    if (json_is_string(val))
        return true;
    if (json_is_object(val) && json_object_size(val) == 1 &&
        json_is_string(json_object_get(val, "equals-ignore-case")))
        return true;
    if (json_is_object(val) && json_object_size(val) == 1 && json_object_get(val, "equals-ignore-case"))
        return fail(v, "equals-ignore-case match pattern must be a string");
    return fail(v, "%s match pattern must be a string", op);
}

static bool check_numeric(vctx *v, const json_t *arr)
{
    if (!json_is_array(arr))
        return fail(v, "Value of numeric must be an array.");
    size_t n = json_array_size(arr);
    if (n == 0)
        return fail(v, "Invalid member in numeric match: ]");
    double lo = -INFINITY;
    bool have_lo = false;
    for (size_t i = 0; i < n; i += 2) {
        const json_t *op = json_array_get(arr, i);
        const char *o = json_string_value(op);
        if (!o)
            return fail(v, i == 0 ? "Invalid member in numeric match: %s" : "Bad value in numeric range: %s",
                        json_is_number(op) ? "number" : "value");
        bool known = strcmp(o, "=") == 0 || strcmp(o, "<") == 0 || strcmp(o, "<=") == 0 ||
                     strcmp(o, ">") == 0 || strcmp(o, ">=") == 0;
        if (!known)
            return fail(v, i == 0 ? "Unrecognized numeric range operator: %s" : "Bad numeric range operator: %s", o);
        if (i + 1 >= n || !json_is_number(json_array_get(arr, i + 1)))
            return fail(v, "Value of %s must be numeric", o);
        double d = json_number_value(json_array_get(arr, i + 1));
        if (!isfinite(d) || d < -NUM_LIMIT || d > NUM_LIMIT)
            return fail(v, "Value must be between -5.0E9 and 5.0E9, inclusive");
        if (i == 0) {
            if (o[0] == '>') {
                lo = d;
                have_lo = true;
            } else if (n > 2) {
                return fail(v, "Too many elements in numeric expression");
            }
        } else {
            if (i > 2)
                return fail(v, "Too many terms in numeric range expression");
            if (o[0] != '<')
                return fail(v, "Bad numeric range operator: %s", o);
            if (have_lo && !(lo < d))
                return fail(v, "Bottom must be less than top");
        }
    }
    if (n > 4)
        return fail(v, "Too many terms in numeric range expression");
    return true;
}

static bool check_anything_but(vctx *v, const json_t *val)
{
    if (json_is_string(val) || json_is_number(val))
        return true;
    if (json_is_array(val)) {
        size_t n = json_array_size(val), ns = 0, nn = 0;
        for (size_t i = 0; i < n; i++) {
            const json_t *e = json_array_get(val, i);
            if (json_is_string(e))
                ns++;
            else if (json_is_number(e))
                nn++;
            else
                return fail(v, "Inside anything but list, start|null|boolean is not supported.");
        }
        if ((ns && nn) || (!ns && !nn))
            return fail(v, "Inside anything but list, either all values are number or string, mixed type is not supported");
        return true;
    }
    if (json_is_object(val)) {
        if (json_object_size(val) != 1)
            return fail(v, json_object_size(val) ? "Only one key allowed in match expression"
                                                 : "Anything-But expression name not found");
        const char *k = json_object_iter_key(json_object_iter((json_t *)val));
        const json_t *x = json_object_iter_value(json_object_iter((json_t *)val));
        if (strcmp(k, "prefix") == 0 || strcmp(k, "suffix") == 0) {
            if (!json_is_string(x))
                return fail(v, "prefix/suffix match pattern must be a string");
            if (json_string_length(x) == 0)
                return fail(v, "Null prefix/suffix not allowed");
            return true;
        }
        if (strcmp(k, "wildcard") == 0) {
            if (!json_is_string(x))
                return fail(v, "wildcard match pattern must be a string");
            return check_wildcard(v, json_string_value(x), json_string_length(x));
        }
        if (strcmp(k, "equals-ignore-case") == 0) {
            if (json_is_string(x))
                return true;
            if (json_is_array(x) && json_array_size(x) > 0) {
                for (size_t i = 0; i < json_array_size(x); i++)
                    if (!json_is_string(json_array_get(x, i)))
                        return fail(v, "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported.");
                return true;
            }
            return fail(v, "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported.");
        }
        return fail(v, "Unsupported anything-but pattern: %s", k);
    }
    return fail(v, "Value of anything-but must be an array or single string/number value.");
}

static bool check_matcher(vctx *v, const json_t *m)
{
    if (json_object_size(m) == 0)
        return fail(v, "Match expression name not found");
    if (json_object_size(m) > 1)
        return fail(v, "Only one key allowed in match expression");
    void *it = json_object_iter((json_t *)m);
    const char *k = json_object_iter_key(it);
    const json_t *x = json_object_iter_value(it);
    if (strcmp(k, "prefix") == 0 || strcmp(k, "suffix") == 0)
        return check_affix(v, k, x);
    if (strcmp(k, "equals-ignore-case") == 0 || strcmp(k, "exact") == 0) {
        if (!json_is_string(x))
            return fail(v, "%s match pattern must be a string", k);
        return true;
    }
    if (strcmp(k, "wildcard") == 0) {
        if (!json_is_string(x))
            return fail(v, "wildcard match pattern must be a string");
        return check_wildcard(v, json_string_value(x), json_string_length(x));
    }
    if (strcmp(k, "numeric") == 0)
        return check_numeric(v, x);
    if (strcmp(k, "exists") == 0) {
        if (!json_is_boolean(x))
            return fail(v, "exists match pattern must be either true or false.");
        return true;
    }
    if (strcmp(k, "cidr") == 0) {
        int fam, bits;
        unsigned char a[16];
        if (!json_is_string(x))
            return fail(v, "cidr match pattern must be a string");
        if (!parse_cidr(json_string_value(x), &fam, a, &bits))
            return fail(v, "Nonstandard IP address: %s", json_string_value(x));
        return true;
    }
    if (strcmp(k, "anything-but") == 0)
        return check_anything_but(v, x);
    return fail(v, "Unrecognized match type %s", k);
}

static bool check_values(vctx *v, const json_t *arr)
{
    if (json_array_size(arr) == 0)
        return fail(v, "Empty arrays are not allowed");
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *e = json_array_get(arr, i);
        if (json_is_object(e)) {
            if (!check_matcher(v, e))
                return false;
        } else if (json_is_array(e)) {
            return fail(v, "Match value must be String, number, true, false, or null");
        }
    }
    return true;
}

static bool check_object(vctx *v, const json_t *o, int depth)
{
    if (depth > EV_PATTERN_MAX_DEPTH)
        return fail(v, "Pattern nesting is deeper than %d levels", EV_PATTERN_MAX_DEPTH);
    if (json_object_size(o) == 0)
        return fail(v, "Empty objects are not allowed");
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)o, k, x) {
        if (strcmp(k, "$or") == 0) {
            if (!json_is_array(x))
                return fail(v, "It must be an Array followed with $or.");
            for (size_t i = 0; i < json_array_size(x); i++) {
                if (!json_is_object(json_array_get(x, i)))
                    return fail(v, "Only JSON object is allowed in array of $or relationship.");
                if (!check_object(v, json_array_get(x, i), depth + 1))
                    return false;
            }
            if (json_array_size(x) < 2)
                return fail(v, "There must have at least 2 Objects in $or relationship.");
        } else if (json_is_object(x)) {
            if (!check_object(v, x, depth + 1))
                return false;
        } else if (json_is_array(x)) {
            if (!check_values(v, x))
                return false;
        } else {
            return fail(v, "\"%s\" must be an object or an array", k);
        }
    }
    return true;
}

ev_pattern *ev_pattern_compile(const char *text, char *err, size_t errcap)
{
    vctx v = {err, errcap};
    if (errcap > 0)
        err[0] = '\0';
    if (!text) {
        fail(&v, "Filter is not an object");
        return NULL;
    }
    json_error_t je;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        /* jansson's text may quote the (possibly invalid UTF-8) input */
        char why[sizeof je.text];
        size_t i = 0;
        for (; je.text[i] && i < sizeof why - 1; i++)
            why[i] = ((unsigned char)je.text[i] >= 0x20 && (unsigned char)je.text[i] < 0x7f) ? je.text[i] : '?';
        why[i] = '\0';
        fail(&v, "%s at line %d, column %d", why, je.line, je.column);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        fail(&v, "Filter is not an object");
        return NULL;
    }
    if (!check_object(&v, root, 1)) {
        json_decref(root);
        return NULL;
    }
    ev_pattern *p = malloc(sizeof *p);
    if (!p) {
        json_decref(root);
        fail(&v, "out of memory");
        return NULL;
    }
    p->root = root;
    return p;
}

void ev_pattern_free(ev_pattern *p)
{
    if (!p)
        return;
    json_decref(p->root);
    free(p);
}

/* ---------------------------------------------------------------- matching helpers */

static bool ieq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (tolower((unsigned char)a[i]) != tolower((unsigned char)b[i]))
            return false;
    return true;
}

static bool bytes_eq(const char *a, const char *b, size_t n, bool icase)
{
    return icase ? ieq(a, b, n) : memcmp(a, b, n) == 0;
}

static bool str_equal(const json_t *v, const json_t *s, bool icase)
{
    size_t n = json_string_length(v);
    return json_is_string(v) && n == json_string_length(s) &&
           bytes_eq(json_string_value(v), json_string_value(s), n, icase);
}

/* prefix / suffix: the operand is a string or {"equals-ignore-case": s}. */
static bool affix_match(const json_t *v, const json_t *operand, bool suffix)
{
    if (!json_is_string(v))
        return false;
    bool icase = false;
    if (json_is_object(operand)) {
        operand = json_object_get(operand, "equals-ignore-case");
        icase = true;
    }
    size_t n = json_string_length(v), m = json_string_length(operand);
    if (m > n)
        return false;
    const char *s = json_string_value(v);
    return bytes_eq(suffix ? s + n - m : s, json_string_value(operand), m, icase);
}

/* One pattern "character": '\*' and '\\' are literals. */
static char wc_char(const char *p, size_t pn, size_t i, size_t *w)
{
    if (p[i] == '\\' && i + 1 < pn) {
        *w = 2;
        return p[i + 1];
    }
    *w = 1;
    return p[i];
}

/* Glob match with '*' only; backtracks to the last star, O(|p| * |s|). */
static bool wildcard_match(const char *p, size_t pn, const char *s, size_t sn)
{
    size_t pi = 0, si = 0, star_p = SIZE_MAX, star_s = 0;
    while (si < sn) {
        if (pi < pn && p[pi] == '*') {
            star_p = ++pi;
            star_s = si;
            continue;
        }
        if (pi < pn) {
            size_t w;
            char c = wc_char(p, pn, pi, &w);
            if (c == s[si]) {
                pi += w;
                si++;
                continue;
            }
        }
        if (star_p == SIZE_MAX)
            return false;
        pi = star_p;
        si = ++star_s;
    }
    while (pi < pn && p[pi] == '*')
        pi++;
    return pi == pn;
}

static bool wildcard_value(const json_t *v, const json_t *pat)
{
    return json_is_string(v) && wildcard_match(json_string_value(pat), json_string_length(pat),
                                               json_string_value(v), json_string_length(v));
}

static bool num_equal(const json_t *a, const json_t *b)
{
    if (json_is_integer(a) && json_is_integer(b))
        return json_integer_value(a) == json_integer_value(b);
    return json_number_value(a) == json_number_value(b);
}

static bool numeric_match(const json_t *v, const json_t *arr)
{
    if (!json_is_number(v))
        return false;
    double x = json_number_value(v);
    for (size_t i = 0; i + 1 < json_array_size(arr); i += 2) {
        const char *op = json_string_value(json_array_get(arr, i));
        double d = json_number_value(json_array_get(arr, i + 1));
        bool ok;
        if (strcmp(op, "=") == 0)
            ok = x == d;
        else if (strcmp(op, "<") == 0)
            ok = x < d;
        else if (strcmp(op, "<=") == 0)
            ok = x <= d;
        else if (strcmp(op, ">") == 0)
            ok = x > d;
        else
            ok = x >= d;
        if (!ok)
            return false;
    }
    return true;
}

static bool parse_cidr(const char *s, int *family, unsigned char addr[16], int *bits)
{
    const char *slash = strchr(s, '/');
    char ip[64];
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    if (n == 0 || n >= sizeof ip)
        return false;
    memcpy(ip, s, n);
    ip[n] = '\0';
    *family = strchr(ip, ':') ? AF_INET6 : AF_INET;
    if (inet_pton(*family, ip, addr) != 1)
        return false;
    int maxbits = *family == AF_INET ? 32 : 128;
    if (!slash) {
        *bits = maxbits;
        return true;
    }
    const char *b = slash + 1;
    size_t bl = strlen(b);
    if (bl == 0 || bl > 3 || strspn(b, "0123456789") != bl)
        return false;
    int val = 0;
    for (size_t i = 0; i < bl; i++)
        val = val * 10 + (b[i] - '0');
    if (val > maxbits)
        return false;
    *bits = val;
    return true;
}

static bool cidr_match(const json_t *v, const json_t *pat)
{
    if (!json_is_string(v))
        return false;
    int fam, bits;
    unsigned char net[16], a[16];
    if (!parse_cidr(json_string_value(pat), &fam, net, &bits))
        return false;
    char ip[64];
    size_t vn = json_string_length(v);
    if (vn >= sizeof ip || strlen(json_string_value(v)) != vn)
        return false;
    memcpy(ip, json_string_value(v), json_string_length(v) + 1);
    if (inet_pton(fam, ip, a) != 1)
        return false;
    for (int i = 0; i < bits; i++) {
        int byte = i / 8, bit = 7 - i % 8;
        if (((net[byte] >> bit) & 1) != ((a[byte] >> bit) & 1))
            return false;
    }
    return true;
}

static bool anything_but_match(const json_t *v, const json_t *x)
{
    if (json_is_string(x))
        return !str_equal(v, x, false);
    if (json_is_number(x))
        return !(json_is_number(v) && num_equal(v, x));
    if (json_is_array(x)) {
        for (size_t i = 0; i < json_array_size(x); i++) {
            const json_t *e = json_array_get(x, i);
            if (json_is_string(e) ? str_equal(v, e, false) : (json_is_number(v) && num_equal(v, e)))
                return false;
        }
        return true;
    }
    void *it = json_object_iter((json_t *)x);
    const char *k = json_object_iter_key(it);
    const json_t *op = json_object_iter_value(it);
    if (strcmp(k, "prefix") == 0)
        return !affix_match(v, op, false);
    if (strcmp(k, "suffix") == 0)
        return !affix_match(v, op, true);
    if (strcmp(k, "wildcard") == 0)
        return !wildcard_value(v, op);
    /* equals-ignore-case: a string or a list of strings */
    if (json_is_string(op))
        return !str_equal(v, op, true);
    for (size_t i = 0; i < json_array_size(op); i++)
        if (str_equal(v, json_array_get(op, i), true))
            return false;
    return true;
}

/* One alternative (not exists) against one leaf value. */
static bool alt_match(const json_t *alt, const json_t *v)
{
    switch (json_typeof(alt)) {
    case JSON_STRING:
        return str_equal(v, alt, false);
    case JSON_INTEGER:
    case JSON_REAL:
        return json_is_number(v) && num_equal(v, alt);
    case JSON_TRUE:
    case JSON_FALSE:
    case JSON_NULL:
        return json_typeof(v) == json_typeof(alt);
    case JSON_OBJECT:
        break;
    default:
        return false;
    }
    void *it = json_object_iter((json_t *)alt);
    const char *k = json_object_iter_key(it);
    const json_t *x = json_object_iter_value(it);
    if (strcmp(k, "prefix") == 0)
        return affix_match(v, x, false);
    if (strcmp(k, "suffix") == 0)
        return affix_match(v, x, true);
    if (strcmp(k, "equals-ignore-case") == 0)
        return str_equal(v, x, true);
    if (strcmp(k, "exact") == 0)
        return str_equal(v, x, false);
    if (strcmp(k, "wildcard") == 0)
        return wildcard_value(v, x);
    if (strcmp(k, "numeric") == 0)
        return numeric_match(v, x);
    if (strcmp(k, "cidr") == 0)
        return cidr_match(v, x);
    if (strcmp(k, "anything-but") == 0)
        return anything_but_match(v, x);
    return false;
}

/* ---------------------------------------------------------------- matching */

/* Does any leaf value under `field` (arrays flattened) satisfy alt? */
static bool any_leaf(const json_t *field, const json_t *alt, int depth)
{
    if (!field || depth > EV_PATTERN_MAX_DEPTH)
        return false;
    if (json_is_array(field)) {
        for (size_t i = 0; i < json_array_size(field); i++)
            if (any_leaf(json_array_get(field, i), alt, depth + 1))
                return true;
        return false;
    }
    if (json_is_object(field))
        return false;
    return alt_match(alt, field);
}

static bool has_leaf(const json_t *field, int depth)
{
    if (!field || depth > EV_PATTERN_MAX_DEPTH)
        return false;
    if (json_is_array(field)) {
        for (size_t i = 0; i < json_array_size(field); i++)
            if (has_leaf(json_array_get(field, i), depth + 1))
                return true;
        return false;
    }
    return !json_is_object(field);
}

static bool leaf_match(const json_t *alts, const json_t *field)
{
    for (size_t i = 0; i < json_array_size(alts); i++) {
        const json_t *alt = json_array_get(alts, i);
        const json_t *ex = json_is_object(alt) ? json_object_get(alt, "exists") : NULL;
        if (ex) {
            if (json_is_true(ex) == has_leaf(field, 0))
                return true;
        } else if (any_leaf(field, alt, 0)) {
            return true;
        }
    }
    return false;
}

static bool object_match(const json_t *pat, const json_t *ev, int depth);

/* A sub-pattern object against a field that may be an array of objects:
 * one element must match the whole sub-pattern. */
static bool nested_match(const json_t *pat, const json_t *field, int depth)
{
    if (depth > 2 * EV_PATTERN_MAX_DEPTH)
        return false;
    if (json_is_array(field)) {
        for (size_t i = 0; i < json_array_size(field); i++)
            if (nested_match(pat, json_array_get(field, i), depth + 1))
                return true;
        /* an empty (or object-free) array behaves like a missing field,
         * so absence-only patterns still match */
        return json_array_size(field) == 0 && object_match(pat, NULL, depth + 1);
    }
    return object_match(pat, json_is_object(field) ? field : NULL, depth + 1);
}

static bool object_match(const json_t *pat, const json_t *ev, int depth)
{
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)pat, k, x) {
        if (strcmp(k, "$or") == 0) {
            bool any = false;
            for (size_t i = 0; i < json_array_size(x) && !any; i++)
                any = object_match(json_array_get(x, i), ev, depth + 1);
            if (!any)
                return false;
            continue;
        }
        const json_t *field = ev ? json_object_get(ev, k) : NULL;
        if (json_is_object(x)) {
            if (!nested_match(x, field, depth))
                return false;
        } else if (!leaf_match(x, field)) {
            return false;
        }
    }
    return true;
}

bool ev_pattern_match(const ev_pattern *p, const json_t *event)
{
    if (!p || !event)
        return false;
    return nested_match(p->root, event, 0);
}
