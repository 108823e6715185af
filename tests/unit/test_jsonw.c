/* Unit tests: util/jsonw.c writes the same bytes as jansson's json_dumps
 * (JSON_COMPACT, with and without JSON_SORT_KEYS and JSON_ENCODE_ANY) on
 * fixed trees that cover every escape, key order, NUL inside strings and
 * keys, reals (handed to jansson), deep nesting past the writer's own
 * depth, empty containers, and on many random trees. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/jsonw.h"

static void same(const json_t *j, bool sort, bool any)
{
    size_t flags = JSON_COMPACT | (sort ? JSON_SORT_KEYS : 0) | (any ? JSON_ENCODE_ANY : 0);
    char *want = json_dumps(j, flags);
    char *got = gt_json_dumps(j, sort, any);
    if (!want) {
        assert_null(got);
        return;
    }
    assert_non_null(got);
    if (strcmp(want, got) != 0)
        fprintf(stderr, "want %s\ngot  %s\n", want, got);
    assert_string_equal(got, want);
    free(want);
    free(got);
}

static void all_ways(const json_t *j)
{
    same(j, false, false);
    same(j, true, false);
    same(j, false, true);
    same(j, true, true);
}

static void test_fixed(void **state)
{
    (void)state;
    const char *texts[] = {
        "{}", "[]", "{\"a\":{},\"b\":[]}",
        "{\"eventVersion\":\"1.08\",\"userIdentity\":{\"type\":\"IAMUser\",\"arn\":\"arn:aws:iam::1:user/a/b\"},"
        "\"n\":-9223372036854775807,\"z\":0,\"t\":true,\"f\":false,\"x\":null,\"r\":[1.5,2e300,-0.0,1e-7]}",
        "{\"s\":\"quote \\\" back \\\\ slash / ctl \\b\\f\\n\\r\\t \\u0001\\u001f\\u007f unicode \\u00e9 \\u2028 "
        "\\ud83d\\ude00\"}",
        "{\"zeta\":1,\"alpha\":2,\"Alpha\":3,\"al\":4,\"\":5,\"alpha2\":6}",
        "[\"\\u0000inner nul\", {\"key\":\"v\", \"k\":1}]",
    };
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        json_error_t e;
        json_t *j = json_loads(texts[i], JSON_ALLOW_NUL, &e);
        if (!j)
            fprintf(stderr, "%s: %s\n", texts[i], e.text);
        assert_non_null(j);
        all_ways(j);
        json_decref(j);
    }
    /* bare values: only with JSON_ENCODE_ANY */
    json_t *vals[] = {json_string("a\"b"), json_integer(42), json_real(0.1), json_true(), json_null()};
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
        all_ways(vals[i]);
        json_decref(vals[i]);
    }
    assert_null(gt_json_dumps(NULL, false, true));
}

static void test_deep(void **state)
{
    (void)state;
    json_t *root = json_array(), *cur = root;
    for (int i = 0; i < 1500; i++) {   /* past JSONW_MAX_DEPTH (512) */
        json_t *o = json_object();
        json_object_set_new(o, "k", json_string("v"));
        json_t *a = json_array();
        json_object_set_new(o, "next", a);
        json_array_append_new(cur, o);
        cur = a;
    }
    all_ways(root);
    json_decref(root);
}

static uint32_t rnd_state = 2463534242u;

static uint32_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 17;
    rnd_state ^= rnd_state << 5;
    return rnd_state;
}

static json_t *rnd_string(void)
{
    static const char *pieces[] = {"a", "Z", "\"", "\\", "/", "\n", "\x01", "\x1f", " ", "\xc3\xa9",
                                   "\xe2\x80\xa8", "\xf0\x9f\x98\x80", "arn:aws:iam::123456789012:root", "", "\x7f"};
    char buf[256];
    size_t n = 0;
    int parts = (int)(rnd() % 8);
    for (int i = 0; i < parts; i++) {
        const char *p = pieces[rnd() % (sizeof pieces / sizeof *pieces)];
        size_t pn = strlen(p);
        if (n + pn >= sizeof buf)
            break;
        memcpy(buf + n, p, pn);
        n += pn;
    }
    if (rnd() % 10 == 0 && n + 1 < sizeof buf)
        buf[n++] = '\0';   /* an inner NUL */
    return json_stringn(buf, n);
}

static json_t *rnd_tree(int depth)
{
    switch (depth > 5 ? rnd() % 5 + 2 : rnd() % 7) {
    case 0: {
        json_t *o = json_object();
        int n = (int)(rnd() % 6);
        for (int i = 0; i < n; i++) {
            json_t *k = rnd_string();
            json_object_setn_new(o, json_string_value(k), json_string_length(k), rnd_tree(depth + 1));
            json_decref(k);
        }
        return o;
    }
    case 1: {
        json_t *a = json_array();
        int n = (int)(rnd() % 6);
        for (int i = 0; i < n; i++)
            json_array_append_new(a, rnd_tree(depth + 1));
        return a;
    }
    case 2: return rnd_string();
    case 3: return json_integer((json_int_t)(int32_t)rnd() * (rnd() % 2 ? 1 : 1000003));
    case 4: return json_real((double)(int32_t)rnd() / (double)(rnd() % 1000 + 1));
    case 5: return rnd() % 2 ? json_true() : json_false();
    default: return json_null();
    }
}

static void test_random_trees(void **state)
{
    (void)state;
    for (int i = 0; i < 5000; i++) {
        json_t *j = rnd_tree(0);
        all_ways(j);
        json_decref(j);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed),
        cmocka_unit_test(test_deep),
        cmocka_unit_test(test_random_trees),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
