/* test_pattern.c: the event-pattern matcher, operator by operator, and
 * the validation messages (cloudtrail.md §8.3). Each case is
 * (pattern, event, expected); where AWS's behaviour is uncertain the case
 * says what we chose. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "events/pattern.h"

typedef struct mcase {
    const char *pattern;
    const char *event;
    bool expect;
} mcase;

static void run_cases(const mcase *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char err[512];
        ev_pattern *p = ev_pattern_compile(cases[i].pattern, err, sizeof err);
        if (!p)
            fail_msg("pattern %s did not compile: %s", cases[i].pattern, err);
        json_t *ev = json_loads(cases[i].event, 0, NULL);
        assert_non_null(ev);
        bool got = ev_pattern_match(p, ev);
        if (got != cases[i].expect)
            fail_msg("case %zu: pattern %s event %s: expected %d got %d", i, cases[i].pattern, cases[i].event,
                     cases[i].expect, got);
        json_decref(ev);
        ev_pattern_free(p);
    }
}
#define RUN(c) run_cases(c, sizeof c / sizeof c[0])

static void test_exact(void **st)
{
    static const mcase c[] = {
        {"{\"source\":[\"aws.greengrass\"]}", "{\"source\":\"aws.greengrass\"}", true},
        {"{\"source\":[\"aws.greengrass\"]}", "{\"source\":\"aws.Greengrass\"}", false}, /* case-sensitive */
        {"{\"source\":[\"aws.ec2\",\"aws.greengrass\"]}", "{\"source\":\"aws.greengrass\"}", true}, /* OR */
        {"{\"source\":[\"a\"],\"detail-type\":[\"b\"]}", "{\"source\":\"a\",\"detail-type\":\"c\"}", false}, /* AND */
        {"{\"source\":[\"a\"]}", "{\"other\":\"a\"}", false},           /* missing field */
        {"{\"source\":[\"a\"]}", "{\"source\":\"a\",\"x\":1}", true},   /* unnamed fields ignored */
        {"{\"n\":[5]}", "{\"n\":5}", true},
        {"{\"n\":[5]}", "{\"n\":5.0}", true},                           /* numbers compare numerically */
        {"{\"n\":[5]}", "{\"n\":\"5\"}", false},                        /* number never matches a string */
        {"{\"n\":[\"5\"]}", "{\"n\":5}", false},
        {"{\"n\":[123456789012]}", "{\"n\":123456789012}", true},
        {"{\"b\":[true]}", "{\"b\":true}", true},
        {"{\"b\":[true]}", "{\"b\":\"true\"}", false},
        {"{\"b\":[false]}", "{\"b\":true}", false},
    };
    (void)st;
    RUN(c);
}

static void test_null_and_empty(void **st)
{
    static const mcase c[] = {
        {"{\"x\":[null]}", "{\"x\":null}", true},
        {"{\"x\":[null]}", "{}", false},            /* null does not match a missing field */
        {"{\"x\":[null]}", "{\"x\":\"\"}", false},
        {"{\"x\":[\"\"]}", "{\"x\":\"\"}", true},
        {"{\"x\":[\"\"]}", "{\"x\":null}", false},
        {"{\"x\":[\"\"]}", "{}", false},
    };
    (void)st;
    RUN(c);
}

static void test_nested_and_arrays(void **st)
{
    static const mcase c[] = {
        {"{\"detail\":{\"eventName\":[\"CreateGroup\"]}}", "{\"detail\":{\"eventName\":\"CreateGroup\"}}", true},
        {"{\"detail\":{\"eventName\":[\"CreateGroup\"]}}", "{\"detail\":{\"eventName\":\"DeleteGroup\"}}", false},
        {"{\"detail\":{\"eventName\":[\"CreateGroup\"]}}", "{\"eventName\":\"CreateGroup\"}", false},
        {"{\"detail\":{\"eventName\":[\"CreateGroup\"]}}", "{\"detail\":\"CreateGroup\"}", false},
        {"{\"a\":{\"b\":{\"c\":[1]}}}", "{\"a\":{\"b\":{\"c\":1}}}", true},
        /* event arrays: any element */
        {"{\"resources\":[\"r2\"]}", "{\"resources\":[\"r1\",\"r2\"]}", true},
        {"{\"resources\":[\"r3\"]}", "{\"resources\":[\"r1\",\"r2\"]}", false},
        {"{\"resources\":[\"r3\"]}", "{\"resources\":[]}", false},
        {"{\"x\":[\"a\"]}", "{\"x\":[[\"b\"],[\"a\"]]}", true},   /* nested arrays flatten */
        /* arrays of objects: one element must match the sub-pattern */
        {"{\"items\":{\"a\":[2]}}", "{\"items\":[{\"a\":1},{\"a\":2}]}", true},
        {"{\"items\":{\"a\":[1],\"b\":[2]}}", "{\"items\":[{\"a\":1},{\"b\":2}]}", false},
        {"{\"items\":{\"a\":[1],\"b\":[2]}}", "{\"items\":[{\"a\":1,\"b\":2}]}", true},
        /* a leaf pattern on an object value never matches */
        {"{\"detail\":[\"x\"]}", "{\"detail\":{\"x\":1}}", false},
    };
    (void)st;
    RUN(c);
}

static void test_prefix_suffix(void **st)
{
    static const mcase c[] = {
        {"{\"r\":[{\"prefix\":\"us-\"}]}", "{\"r\":\"us-east-1\"}", true},
        {"{\"r\":[{\"prefix\":\"us-\"}]}", "{\"r\":\"eu-west-1\"}", false},
        {"{\"r\":[{\"prefix\":\"us-\"}]}", "{\"r\":\"us\"}", false},
        {"{\"r\":[{\"prefix\":\"\"}]}", "{\"r\":\"anything\"}", true},
        {"{\"r\":[{\"prefix\":\"1\"}]}", "{\"r\":12}", false},          /* strings only */
        {"{\"r\":[{\"prefix\":{\"equals-ignore-case\":\"US-\"}}]}", "{\"r\":\"us-east-1\"}", true},
        {"{\"r\":[{\"prefix\":\"US-\"}]}", "{\"r\":\"us-east-1\"}", false},
        {"{\"f\":[{\"suffix\":\".png\"}]}", "{\"f\":\"a/b.png\"}", true},
        {"{\"f\":[{\"suffix\":\".png\"}]}", "{\"f\":\"a/b.jpg\"}", false},
        {"{\"f\":[{\"suffix\":{\"equals-ignore-case\":\".PNG\"}}]}", "{\"f\":\"a/b.png\"}", true},
        {"{\"f\":[{\"suffix\":\".PNG\"}]}", "{\"f\":\"a/b.png\"}", false},
    };
    (void)st;
    RUN(c);
}

static void test_equals_ignore_case_wildcard(void **st)
{
    static const mcase c[] = {
        {"{\"u\":[{\"equals-ignore-case\":\"Alice\"}]}", "{\"u\":\"aLICE\"}", true},
        {"{\"u\":[{\"equals-ignore-case\":\"Alice\"}]}", "{\"u\":\"Alicee\"}", false},
        {"{\"u\":[{\"equals-ignore-case\":\"1\"}]}", "{\"u\":1}", false},
        {"{\"k\":[{\"wildcard\":\"dir/*.png\"}]}", "{\"k\":\"dir/a/b.png\"}", true},
        {"{\"k\":[{\"wildcard\":\"dir/*.png\"}]}", "{\"k\":\"dir/a.jpg\"}", false},
        {"{\"k\":[{\"wildcard\":\"*\"}]}", "{\"k\":\"\"}", true},
        {"{\"k\":[{\"wildcard\":\"a*b*c\"}]}", "{\"k\":\"aXbYbZc\"}", true},
        {"{\"k\":[{\"wildcard\":\"a*b*c\"}]}", "{\"k\":\"aXbYbZ\"}", false},
        {"{\"k\":[{\"wildcard\":\"a\\\\*b\"}]}", "{\"k\":\"a*b\"}", true},   /* escaped star is literal */
        {"{\"k\":[{\"wildcard\":\"a\\\\*b\"}]}", "{\"k\":\"aXb\"}", false},
        {"{\"k\":[{\"wildcard\":\"abc\"}]}", "{\"k\":\"abc\"}", true},
        {"{\"k\":[{\"exact\":\"abc\"}]}", "{\"k\":\"abc\"}", true},
    };
    (void)st;
    RUN(c);
}

static void test_anything_but(void **st)
{
    static const mcase c[] = {
        {"{\"s\":[{\"anything-but\":\"initializing\"}]}", "{\"s\":\"running\"}", true},
        {"{\"s\":[{\"anything-but\":\"initializing\"}]}", "{\"s\":\"initializing\"}", false},
        {"{\"s\":[{\"anything-but\":\"initializing\"}]}", "{}", false},    /* needs a value */
        {"{\"s\":[{\"anything-but\":[\"a\",\"b\"]}]}", "{\"s\":\"c\"}", true},
        {"{\"s\":[{\"anything-but\":[\"a\",\"b\"]}]}", "{\"s\":\"b\"}", false},
        {"{\"s\":[{\"anything-but\":[\"a\",\"b\"]}]}", "{\"s\":[\"a\",\"c\"]}", true}, /* any element */
        {"{\"n\":[{\"anything-but\":[1,2]}]}", "{\"n\":3}", true},
        {"{\"n\":[{\"anything-but\":[1,2]}]}", "{\"n\":2.0}", false},
        {"{\"n\":[{\"anything-but\":5}]}", "{\"n\":5}", false},
        {"{\"s\":[{\"anything-but\":{\"prefix\":\"init\"}}]}", "{\"s\":\"initializing\"}", false},
        {"{\"s\":[{\"anything-but\":{\"prefix\":\"init\"}}]}", "{\"s\":\"running\"}", true},
        {"{\"s\":[{\"anything-but\":{\"suffix\":\".tmp\"}}]}", "{\"s\":\"a.tmp\"}", false},
        {"{\"s\":[{\"anything-but\":{\"suffix\":\".tmp\"}}]}", "{\"s\":\"a.txt\"}", true},
        {"{\"s\":[{\"anything-but\":{\"wildcard\":\"*/lib/*\"}}]}", "{\"s\":\"/usr/lib/x\"}", false},
        {"{\"s\":[{\"anything-but\":{\"wildcard\":\"*/lib/*\"}}]}", "{\"s\":\"/usr/bin/x\"}", true},
        {"{\"s\":[{\"anything-but\":{\"equals-ignore-case\":\"ALICE\"}}]}", "{\"s\":\"alice\"}", false},
        {"{\"s\":[{\"anything-but\":{\"equals-ignore-case\":[\"ALICE\",\"bob\"]}}]}", "{\"s\":\"BOB\"}", false},
        {"{\"s\":[{\"anything-but\":{\"equals-ignore-case\":[\"ALICE\",\"bob\"]}}]}", "{\"s\":\"carol\"}", true},
    };
    (void)st;
    RUN(c);
}

static void test_numeric(void **st)
{
    static const mcase c[] = {
        {"{\"c\":[{\"numeric\":[\">\",0,\"<=\",5]}]}", "{\"c\":5}", true},
        {"{\"c\":[{\"numeric\":[\">\",0,\"<=\",5]}]}", "{\"c\":0}", false},
        {"{\"c\":[{\"numeric\":[\">\",0,\"<=\",5]}]}", "{\"c\":5.000001}", false},
        {"{\"c\":[{\"numeric\":[\">=\",0,\"<\",5]}]}", "{\"c\":0}", true},
        {"{\"c\":[{\"numeric\":[\">=\",0,\"<\",5]}]}", "{\"c\":5}", false},
        {"{\"c\":[{\"numeric\":[\"<\",10]}]}", "{\"c\":-3.5}", true},
        {"{\"c\":[{\"numeric\":[\"=\",301.8]}]}", "{\"c\":3.018e2}", true},
        {"{\"c\":[{\"numeric\":[\"=\",3]}]}", "{\"c\":\"3\"}", false},    /* numbers only */
        {"{\"c\":[{\"numeric\":[\">\",1]}]}", "{\"c\":[0,2]}", true},
    };
    (void)st;
    RUN(c);
}

static void test_exists(void **st)
{
    static const mcase c[] = {
        {"{\"x\":[{\"exists\":true}]}", "{\"x\":\"v\"}", true},
        {"{\"x\":[{\"exists\":true}]}", "{\"x\":null}", true},        /* a null value exists */
        {"{\"x\":[{\"exists\":true}]}", "{}", false},
        {"{\"x\":[{\"exists\":true}]}", "{\"x\":{\"y\":1}}", false},  /* leaf fields only */
        {"{\"x\":[{\"exists\":true}]}", "{\"x\":[]}", false},
        {"{\"x\":[{\"exists\":false}]}", "{}", true},
        {"{\"x\":[{\"exists\":false}]}", "{\"x\":1}", false},
        {"{\"x\":[{\"exists\":false}]}", "{\"x\":[]}", true},
        /* a missing parent: every child is absent */
        {"{\"detail\":{\"errorCode\":[{\"exists\":false}]}}", "{\"source\":\"a\"}", true},
        {"{\"detail\":{\"errorCode\":[{\"exists\":false}]}}", "{\"detail\":{\"errorCode\":\"E\"}}", false},
        {"{\"detail\":{\"errorCode\":[{\"exists\":true}]}}", "{\"detail\":{\"errorCode\":\"E\"}}", true},
    };
    (void)st;
    RUN(c);
}

static void test_cidr(void **st)
{
    static const mcase c[] = {
        {"{\"ip\":[{\"cidr\":\"10.0.0.0/24\"}]}", "{\"ip\":\"10.0.0.255\"}", true},
        {"{\"ip\":[{\"cidr\":\"10.0.0.0/24\"}]}", "{\"ip\":\"10.0.1.0\"}", false},
        {"{\"ip\":[{\"cidr\":\"10.0.0.0/24\"}]}", "{\"ip\":\"not-an-ip\"}", false},
        {"{\"ip\":[{\"cidr\":\"2001:db8::/32\"}]}", "{\"ip\":\"2001:db8::1\"}", true},
        {"{\"ip\":[{\"cidr\":\"2001:db8::/32\"}]}", "{\"ip\":\"2001:db9::1\"}", false},
    };
    (void)st;
    RUN(c);
}

static void test_or(void **st)
{
    static const mcase c[] = {
        {"{\"source\":[\"s\"],\"$or\":[{\"a\":[1]},{\"b\":[2]}]}", "{\"source\":\"s\",\"b\":2}", true},
        {"{\"source\":[\"s\"],\"$or\":[{\"a\":[1]},{\"b\":[2]}]}", "{\"source\":\"s\",\"b\":3}", false},
        {"{\"source\":[\"s\"],\"$or\":[{\"a\":[1]},{\"b\":[2]}]}", "{\"source\":\"t\",\"a\":1}", false},
        {"{\"detail\":{\"$or\":[{\"c\":[{\"numeric\":[\">\",0]}]},{\"d\":[{\"numeric\":[\"<\",10]}]}]}}",
         "{\"detail\":{\"d\":3}}", true},
        {"{\"$or\":[{\"a\":[1]},{\"$or\":[{\"b\":[2]},{\"c\":[3]}]}]}", "{\"c\":3}", true},
    };
    (void)st;
    RUN(c);
}

static void test_cloudtrail_envelope(void **st)
{
    static const mcase c[] = {
        {"{\"source\":[\"aws.greengrass\"],\"detail-type\":[\"AWS API Call via CloudTrail\"],"
         "\"detail\":{\"eventSource\":[\"greengrass.amazonaws.com\"],\"eventName\":[\"CreateGroup\"]}}",
         "{\"version\":\"0\",\"id\":\"x\",\"detail-type\":\"AWS API Call via CloudTrail\",\"source\":\"aws.greengrass\","
         "\"account\":\"123456789012\",\"time\":\"2026-01-01T00:00:00Z\",\"region\":\"us-east-1\",\"resources\":[],"
         "\"detail\":{\"eventSource\":\"greengrass.amazonaws.com\",\"eventName\":\"CreateGroup\","
         "\"userIdentity\":{\"type\":\"IAMUser\",\"userName\":\"admin\"}}}",
         true},
        {"{\"detail\":{\"userIdentity\":{\"userName\":[{\"anything-but\":\"admin\"}]}}}",
         "{\"detail\":{\"userIdentity\":{\"type\":\"IAMUser\",\"userName\":\"admin\"}}}", false},
    };
    (void)st;
    RUN(c);
}

typedef struct vcase {
    const char *pattern;
    const char *reason;   /* substring expected in the error */
} vcase;

static void test_invalid(void **st)
{
    static const vcase c[] = {
        {"[\"a\"]", "Filter is not an object"},
        {"{}", "Empty objects are not allowed"},
        {"{\"source\":\"aws.ec2\"}", "\"source\" must be an object or an array"},
        {"{\"source\":[]}", "Empty arrays are not allowed"},
        {"{\"source\":[[\"a\"]]}", "Match value must be String, number, true, false, or null"},
        {"{\"a\":{}}", "Empty objects are not allowed"},
        {"{\"a\":[{\"prefx\":\"x\"}]}", "Unrecognized match type prefx"},
        {"{\"a\":[{}]}", "Match expression name not found"},
        {"{\"a\":[{\"prefix\":\"x\",\"suffix\":\"y\"}]}", "Only one key allowed in match expression"},
        {"{\"a\":[{\"prefix\":1}]}", "prefix match pattern must be a string"},
        {"{\"a\":[{\"suffix\":[\"x\"]}]}", "suffix match pattern must be a string"},
        {"{\"a\":[{\"equals-ignore-case\":1}]}", "equals-ignore-case match pattern must be a string"},
        {"{\"a\":[{\"wildcard\":\"a**b\"}]}", "Consecutive wildcard characters at pos 2"},
        {"{\"a\":[{\"wildcard\":\"a\\\\b\"}]}", "Invalid escape character at pos 1"},
        {"{\"a\":[{\"exists\":\"yes\"}]}", "exists match pattern must be either true or false."},
        {"{\"a\":[{\"numeric\":5}]}", "Value of numeric must be an array."},
        {"{\"a\":[{\"numeric\":[\"~\",5]}]}", "Unrecognized numeric range operator: ~"},
        {"{\"a\":[{\"numeric\":[\">\",\"x\"]}]}", "Value of > must be numeric"},
        {"{\"a\":[{\"numeric\":[\">\",5,\"<\",1]}]}", "Bottom must be less than top"},
        {"{\"a\":[{\"numeric\":[\">\",1,\">\",5]}]}", "Bad numeric range operator: >"},
        {"{\"a\":[{\"numeric\":[\"<\",1,\"<\",5]}]}", "Too many elements in numeric expression"},
        {"{\"a\":[{\"numeric\":[\">\",6e9]}]}", "Value must be between -5.0E9 and 5.0E9, inclusive"},
        {"{\"a\":[{\"anything-but\":[\"a\",1]}]}", "mixed type is not supported"},
        {"{\"a\":[{\"anything-but\":[null]}]}", "start|null|boolean is not supported"},
        {"{\"a\":[{\"anything-but\":true}]}", "Value of anything-but must be an array or single string/number value."},
        {"{\"a\":[{\"anything-but\":{\"prefix\":\"\"}}]}", "Null prefix/suffix not allowed"},
        {"{\"a\":[{\"anything-but\":{\"exists\":true}}]}", "Unsupported anything-but pattern: exists"},
        {"{\"a\":[{\"cidr\":\"10.0.0.0/33\"}]}", "Nonstandard IP address"},
        {"{\"$or\":{\"a\":[1]}}", "It must be an Array followed with $or."},
        {"{\"$or\":[{\"a\":[1]}]}", "There must have at least 2 Objects in $or relationship."},
        {"{\"$or\":[{\"a\":[1]},\"b\"]}", "Only JSON object is allowed in array of $or relationship."},
        {"{\"a\":", "line 1"},
        {"{\"a\":[1],\"a\":[2]}", "duplicate"},
    };
    (void)st;
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        char err[512];
        ev_pattern *p = ev_pattern_compile(c[i].pattern, err, sizeof err);
        if (p)
            fail_msg("pattern %s compiled but should not", c[i].pattern);
        if (!strstr(err, c[i].reason))
            fail_msg("pattern %s: reason '%s' lacks '%s'", c[i].pattern, err, c[i].reason);
    }
}

static void test_depth_limit(void **st)
{
    (void)st;
    char buf[4096] = "";
    size_t n = 0;
    for (int i = 0; i < EV_PATTERN_MAX_DEPTH + 2; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "{\"a\":");
    n += (size_t)snprintf(buf + n, sizeof buf - n, "[1]");
    for (int i = 0; i < EV_PATTERN_MAX_DEPTH + 2; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "}");
    char err[256];
    assert_null(ev_pattern_compile(buf, err, sizeof err));
    assert_non_null(strstr(err, "deeper"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact),
        cmocka_unit_test(test_null_and_empty),
        cmocka_unit_test(test_nested_and_arrays),
        cmocka_unit_test(test_prefix_suffix),
        cmocka_unit_test(test_equals_ignore_case_wildcard),
        cmocka_unit_test(test_anything_but),
        cmocka_unit_test(test_numeric),
        cmocka_unit_test(test_exists),
        cmocka_unit_test(test_cidr),
        cmocka_unit_test(test_or),
        cmocka_unit_test(test_cloudtrail_envelope),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_depth_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
