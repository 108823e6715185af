/*
 * test_model.c: unit tests for the generated model tables (model/) and the
 * generic request decoder (api/decode.c).
 *
 * Covers table facts (op counts, read-only/paginator flags, spot checks),
 * rest-json routing of every Greengrass operation from its own template,
 * the tricky routes ($reset vs %24reset, ARN labels with %2F, literal vs
 * label precedence, exact matching), query/header/body binding and shape
 * validation, and awsJson1_1 decoding for CloudTrail. Requests are built
 * as plain http_req views; nothing touches the network.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/decode.h"
#include "model/model.h"

/* ------------------------------------------------------------ helpers */

typedef struct treq {
    http_req req;
    http_header hdrs[4];
    char msg[512];
    const model_op *op;
    json_t *in;
    gt_err err;
} treq;

static void treq_init(treq *t, const char *method, const char *path, const char *query,
                      const char *body)
{
    memset(t, 0, sizeof *t);
    t->req.method = method;
    t->req.path = path;
    t->req.path_len = strlen(path);
    t->req.query = query ? query : "";
    t->req.query_len = query ? strlen(query) : 0;
    t->req.body = (const unsigned char *)(body ? body : "");
    t->req.body_len = body ? strlen(body) : 0;
    t->req.headers = t->hdrs;
    t->req.remote_ip = "127.0.0.1";
}

static void treq_header(treq *t, const char *name, const char *value)
{
    http_header *h = &t->hdrs[t->req.n_headers++];
    h->name = name;
    h->name_len = strlen(name);
    h->value = value;
    h->value_len = strlen(value);
}

/* Decode a request already set up with treq_init. */
static gt_err gg_run(treq *t)
{
    t->err = api_restjson_decode(&model_greengrass, &t->req, &t->op, &t->in, t->msg, sizeof t->msg);
    return t->err;
}

static gt_err gg(treq *t, const char *method, const char *path, const char *query, const char *body)
{
    treq_init(t, method, path, query, body);
    return gg_run(t);
}

static void treq_done(treq *t)
{
    json_decref(t->in);
    t->in = NULL;
}

static const char *in_str(const treq *t, const char *key)
{
    return json_string_value(json_object_get(t->in, key));
}

/* Minimal valid JSON for a shape: required members only, sizes at min. */
static json_t *sample_value(const model_service *svc, int shape, int depth)
{
    const model_shape *s = model_shape_at(svc, shape);
    assert_non_null(s);
    assert_true(depth < 20);
    switch (s->type) {
    case MODEL_T_STRUCTURE: {
        json_t *o = json_object();
        for (size_t i = 0; i < s->n_members; i++)
            if (s->members[i].required)
                json_object_set_new(o, s->members[i].name,
                                    sample_value(svc, s->members[i].shape, depth + 1));
        return o;
    }
    case MODEL_T_LIST: {
        json_t *a = json_array();
        int64_t n = s->has_min ? s->min : 0;
        for (int64_t i = 0; i < n; i++)
            json_array_append_new(a, sample_value(svc, s->member, depth + 1));
        return a;
    }
    case MODEL_T_MAP: {
        json_t *o = json_object();
        if (s->has_min && s->min > 0) {
            json_t *k = sample_value(svc, s->key, depth + 1);
            json_object_set_new(o, json_string_value(k), sample_value(svc, s->value, depth + 1));
            json_decref(k);
        }
        return o;
    }
    case MODEL_T_STRING: {
        if (s->n_enum)
            return json_string(s->enum_values[0]);
        char buf[64];
        size_t n = s->has_min && s->min > 1 ? (size_t)s->min : 1;
        assert_true(n < sizeof buf);
        memset(buf, 'a', n);
        buf[n] = '\0';
        return json_string(buf);
    }
    case MODEL_T_INTEGER:
    case MODEL_T_LONG:
        return json_integer(s->has_min ? s->min : 1);
    case MODEL_T_DOUBLE:
    case MODEL_T_FLOAT:
        return json_real(1.5);
    case MODEL_T_BOOLEAN:
        return json_true();
    case MODEL_T_TIMESTAMP:
        return json_integer(1700000000);
    case MODEL_T_BLOB:
        return json_string("AAAA");
    }
    return json_null();
}

/* ------------------------------------------------------------- tables */

static void test_counts(void **state)
{
    (void)state;
    const model_service *g = &model_greengrass;
    assert_int_equal(g->n_ops, 92);
    size_t pag = 0, ro = 0, n204 = 0;
    for (size_t i = 0; i < g->n_ops; i++) {
        pag += g->ops[i].paginated;
        ro += g->ops[i].read_only;
        n204 += g->ops[i].status == 204;
        if (i > 0)
            assert_true(strcmp(g->ops[i - 1].name, g->ops[i].name) < 0);
        assert_ptr_equal(model_find_op(g, g->ops[i].name), &g->ops[i]);
    }
    assert_int_equal(pag, 19);
    assert_int_equal(ro, 45);
    assert_int_equal(n204, 2);
    for (size_t i = 1; i < g->n_shapes; i++)
        assert_true(strcmp(g->shapes[i - 1].name, g->shapes[i].name) < 0);
    assert_string_equal(g->name, "greengrass");
    assert_string_equal(g->protocol, "rest-json");
    assert_string_equal(g->signing_name, "greengrass");
    assert_string_equal(g->endpoint_prefix, "greengrass");
    assert_string_equal(g->event_source, "greengrass.amazonaws.com");
    assert_string_equal(g->api_version, "2017-06-07");
    assert_null(g->target_prefix);
    assert_non_null(g->botocore_version);

    const model_service *c = &model_cloudtrail;
    assert_string_equal(c->protocol, "json");
    assert_string_equal(c->target_prefix, "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101");
    assert_string_equal(c->json_version, "1.1");
    assert_string_equal(c->event_source, "cloudtrail.amazonaws.com");
    assert_true(c->n_ops >= 38);
    assert_null(model_find_op(g, "NoSuchOp"));
    assert_null(model_find_op(g, ""));
    assert_null(model_find_opn(g, "CreateGroupX", 12));
    assert_non_null(model_find_opn(g, "CreateGroupX", 11));
    assert_int_equal(model_find_shape(g, "no such shape"), -1);
    assert_null(model_shape_at(g, -1));
}

static void test_spot_checks(void **state)
{
    (void)state;
    const model_service *g = &model_greengrass;
    const model_op *op = model_find_op(g, "CreateGroup");
    assert_non_null(op);
    assert_string_equal(op->method, "POST");
    assert_string_equal(op->uri, "/greengrass/groups");
    assert_int_equal(op->status, 200);
    assert_false(op->read_only);
    assert_false(op->paginated);
    const model_member *m = model_find_member(g, op->input, "Name");
    assert_non_null(m);
    assert_true(m->required);
    assert_int_equal(m->loc, MODEL_LOC_BODY);
    m = model_find_member(g, op->input, "AmznClientToken");
    assert_non_null(m);
    assert_int_equal(m->loc, MODEL_LOC_HEADER);
    assert_string_equal(m->loc_name, "X-Amzn-Client-Token");

    op = model_find_op(g, "TagResource");
    assert_int_equal(op->status, 204);
    assert_int_equal(op->output, -1);
    m = model_find_member(g, op->input, "ResourceArn");
    assert_int_equal(m->loc, MODEL_LOC_URI);
    assert_string_equal(m->loc_name, "resource-arn");

    op = model_find_op(g, "ListGroups");
    assert_true(op->paginated);
    assert_true(op->read_only);
    assert_string_equal(op->pag_result_key, "Groups");
    assert_string_equal(op->pag_input_token, "NextToken");
    assert_string_equal(op->pag_output_token, "NextToken");
    assert_string_equal(op->pag_limit_key, "MaxResults");

    op = model_find_op(g, "ResetDeployments");
    assert_string_equal(op->uri, "/greengrass/groups/{GroupId}/deployments/$reset");

    int dt = model_find_shape(g, "DeploymentType");
    assert_true(dt >= 0);
    assert_int_equal(g->shapes[dt].n_enum, 4);

    const model_service *c = &model_cloudtrail;
    op = model_find_op(c, "LookupEvents");
    assert_true(op->read_only && op->paginated);
    assert_string_equal(op->pag_result_key, "Events");
    int mr = model_find_shape(c, "MaxResults");
    assert_true(c->shapes[mr].has_max);
    assert_int_equal(c->shapes[mr].max, 50);
}

/* -------------------------------------------------------------- routing */

/* Every op routes back to itself from its own template, and decodes with
 * a minimal valid input built from the model. */
static void test_route_every_op(void **state)
{
    (void)state;
    const model_service *g = &model_greengrass;
    for (size_t i = 0; i < g->n_ops; i++) {
        const model_op *op = &g->ops[i];
        char path[512];
        size_t o = 0;
        for (const char *p = op->uri; *p && *p != '?';) {
            if (*p == '{') {
                const char *e = strchr(p, '}');
                assert_non_null(e);
                o += (size_t)snprintf(path + o, sizeof path - o, "lbl-%zu", i);
                p = e + 1;
            } else {
                path[o++] = *p++;
            }
        }
        path[o] = '\0';
        json_t *body = json_object();
        char query[128] = "";
        const model_shape *in = model_shape_at(g, op->input);
        for (size_t k = 0; in && k < in->n_members; k++) {
            const model_member *m = &in->members[k];
            if (!m->required)
                continue;
            if (m->loc == MODEL_LOC_BODY)
                json_object_set_new(body, m->name, sample_value(g, m->shape, 0));
            else if (m->loc == MODEL_LOC_QUERY)
                snprintf(query, sizeof query, "%s=a&%s=b", m->loc_name, m->loc_name);
        }
        char *bs = json_dumps(body, JSON_COMPACT);
        json_decref(body);
        treq t;
        treq_init(&t, op->method, path, query, bs);
        gg_run(&t);
        if (t.op != op || t.err != GT_OK)
            fail_msg("%s %s -> %s (%s: %s)", op->method, path, t.op ? t.op->name : "none",
                     gt_err_name(t.err), t.msg);
        treq_done(&t);
        free(bs);
    }
}

static void test_route_reset_stop(void **state)
{
    (void)state;
    const char *paths[] = {"/greengrass/groups/g1/deployments/$reset",
                           "/greengrass/groups/g1/deployments/%24reset"};
    for (size_t i = 0; i < 2; i++) {
        treq t = {0};
        assert_int_equal(gg(&t, "POST", paths[i], NULL, "{\"Force\":true}"), GT_OK);
        assert_string_equal(t.op->name, "ResetDeployments");
        assert_string_equal(in_str(&t, "GroupId"), "g1");
        assert_true(json_is_true(json_object_get(t.in, "Force")));
        treq_done(&t);
    }
    treq t = {0};
    assert_int_equal(gg(&t, "PUT", "/greengrass/bulk/deployments/b1/%24stop", NULL, NULL), GT_OK);
    assert_string_equal(t.op->name, "StopBulkDeployment");
    treq_done(&t);
    /* "reset" without '$' is a label-free miss */
    treq u = {0};
    assert_int_equal(gg(&u, "POST", "/greengrass/groups/g1/deployments/reset", NULL, "{}"),
                     GT_E_NOT_FOUND_ROUTE);
    assert_null(u.op);
    assert_null(u.in);
}

static void test_route_tags_arn(void **state)
{
    (void)state;
    treq t = {0};
    assert_int_equal(gg(&t, "POST",
                        "/tags/arn%3Aaws%3Agreengrass%3Aus-east-1%3A123456789012%3A%2Fgreengrass%2Fgroups%2Fx",
                        NULL, "{\"tags\":{\"k\":\"v\"}}"),
                     GT_OK);
    assert_string_equal(t.op->name, "TagResource");
    assert_string_equal(in_str(&t, "ResourceArn"),
                        "arn:aws:greengrass:us-east-1:123456789012:/greengrass/groups/x");
    assert_string_equal(json_string_value(json_object_get(json_object_get(t.in, "tags"), "k")), "v");
    treq_done(&t);

    /* unencoded slashes make more segments: no route */
    treq u = {0};
    assert_int_equal(gg(&u, "POST", "/tags/arn:aws:greengrass:r:a:/greengrass/groups/x", NULL, "{}"),
                     GT_E_NOT_FOUND_ROUTE);
}

static void test_route_literal_beats_label(void **state)
{
    (void)state;
    treq t = {0};
    assert_int_equal(gg(&t, "GET", "/greengrass/groups/g1/certificateauthorities/configuration/expiry",
                        NULL, NULL),
                     GT_OK);
    assert_string_equal(t.op->name, "GetGroupCertificateConfiguration");
    assert_string_equal(in_str(&t, "GroupId"), "g1");
    treq_done(&t);

    treq u = {0};
    assert_int_equal(gg(&u, "PUT", "/greengrass/groups/g1/certificateauthorities/configuration/expiry",
                        NULL, "{\"CertificateExpiryInMilliseconds\":\"604800000\"}"),
                     GT_OK);
    assert_string_equal(u.op->name, "UpdateGroupCertificateConfiguration");
    treq_done(&u);

    treq v = {0};
    assert_int_equal(gg(&v, "GET", "/greengrass/groups/g1/certificateauthorities/abcdef", NULL, NULL),
                     GT_OK);
    assert_string_equal(v.op->name, "GetGroupCertificateAuthority");
    assert_string_equal(in_str(&v, "CertificateAuthorityId"), "abcdef");
    treq_done(&v);

    /* /greengrass/groups/{id}/versions (list) vs /greengrass/groups/{id} */
    treq w = {0};
    assert_int_equal(gg(&w, "GET", "/greengrass/groups/versions", NULL, NULL), GT_OK);
    assert_string_equal(w.op->name, "GetGroup");
    assert_string_equal(in_str(&w, "GroupId"), "versions");
    treq_done(&w);
}

static void test_route_exact(void **state)
{
    (void)state;
    const char *miss[][2] = {
        {"GET", "/greengrass/groups/"},
        {"GET", "/greengrass/groups/g1/"},
        {"GET", "/greengrass//groups"},
        {"GET", "/greengrass/groups/g1/nope"},
        {"GET", "greengrass/groups"},
        {"GET", ""},
        {"GET", "/"},
        {"PATCH", "/greengrass/groups"},
        {"DELETE", "/greengrass/groups"},
        {"GET", "/Greengrass/groups"},
    };
    for (size_t i = 0; i < sizeof miss / sizeof miss[0]; i++) {
        treq t = {0};
        if (gg(&t, miss[i][0], miss[i][1], NULL, NULL) != GT_E_NOT_FOUND_ROUTE)
            fail_msg("%s %s routed to %s", miss[i][0], miss[i][1], t.op ? t.op->name : "?");
        assert_null(t.in);
        assert_true(t.msg[0] != '\0');
    }
    /* labels are percent-decoded; bad escapes and NUL are rejected */
    treq t = {0};
    assert_int_equal(gg(&t, "GET", "/greengrass/groups/a%20b%2Bc+d", NULL, NULL), GT_OK);
    assert_string_equal(in_str(&t, "GroupId"), "a b+c+d");
    treq_done(&t);
    treq u = {0};
    assert_int_equal(gg(&u, "GET", "/greengrass/groups/a%zz", NULL, NULL), GT_E_VALIDATION);
    assert_string_equal(u.op->name, "GetGroup");
    treq v = {0};
    assert_int_equal(gg(&v, "GET", "/greengrass/groups/a%00", NULL, NULL), GT_E_VALIDATION);
    treq w = {0};
    assert_int_equal(gg(&w, "GET", "/greengrass/groups/%ff", NULL, NULL), GT_E_VALIDATION);
    treq x = {0};
    assert_int_equal(gg(&x, "GET", "/greengrass/groups/%C3%A9", NULL, NULL), GT_OK);
    assert_string_equal(in_str(&x, "GroupId"), "\xc3\xa9");
    treq_done(&x);
}

/* -------------------------------------------------------------- binding */

static void test_query_binding(void **state)
{
    (void)state;
    treq t = {0};
    assert_int_equal(gg(&t, "GET", "/greengrass/groups", "MaxResults=10&NextToken=a%2Bb+c&Bogus=1&&x",
                        NULL),
                     GT_OK);
    assert_string_equal(t.op->name, "ListGroups");
    assert_string_equal(in_str(&t, "MaxResults"), "10"); /* a string in the model */
    assert_string_equal(in_str(&t, "NextToken"), "a+b c");
    assert_null(json_object_get(t.in, "Bogus"));
    assert_int_equal(json_object_size(t.in), 2);
    treq_done(&t);

    treq l = {0};
    assert_int_equal(gg(&l, "GET", "/greengrass/groups", "NextToken=a&NextToken=b", NULL), GT_OK);
    assert_string_equal(in_str(&l, "NextToken"), "b"); /* last wins */
    treq_done(&l);

    treq u = {0};
    assert_int_equal(gg(&u, "DELETE", "/tags/arn%3Ax", "tagKeys=k1&tagKeys=k%202&other=z&tagKeys=", NULL),
                     GT_OK);
    assert_string_equal(u.op->name, "UntagResource");
    json_t *keys = json_object_get(u.in, "TagKeys");
    assert_true(json_is_array(keys));
    assert_int_equal(json_array_size(keys), 3);
    assert_string_equal(json_string_value(json_array_get(keys, 0)), "k1");
    assert_string_equal(json_string_value(json_array_get(keys, 1)), "k 2");
    assert_string_equal(json_string_value(json_array_get(keys, 2)), "");
    treq_done(&u);

    /* required query member missing */
    treq v = {0};
    assert_int_equal(gg(&v, "DELETE", "/tags/arn%3Ax", "tagkeys=k1", NULL), GT_E_VALIDATION);
    assert_non_null(strstr(v.msg, "'TagKeys'"));
    assert_non_null(strstr(v.msg, "must not be null"));

    treq w = {0};
    assert_int_equal(gg(&w, "GET", "/greengrass/groups", "NextToken=%zz", NULL), GT_E_VALIDATION);
}

static void test_header_binding(void **state)
{
    (void)state;
    treq t;
    treq_init(&t, "POST", "/greengrass/groups", NULL, "{\"Name\":\"g\"}");
    treq_header(&t, "x-amzn-client-token", "  tok-1 ");
    assert_int_equal(gg_run(&t), GT_OK);
    assert_string_equal(in_str(&t, "AmznClientToken"), "tok-1");
    assert_string_equal(in_str(&t, "Name"), "g");
    treq_done(&t);

    /* body cannot override a header/uri member */
    treq u;
    treq_init(&u, "PUT", "/greengrass/groups/g1", NULL, "{\"GroupId\":\"evil\",\"Name\":\"n\"}");
    assert_int_equal(gg_run(&u), GT_OK);
    assert_string_equal(in_str(&u, "GroupId"), "g1");
    treq_done(&u);
}

static void test_body_errors(void **state)
{
    (void)state;
    const char *bad[] = {"{", "{\"Name\":}", "[]", "\"x\"", "12", "null", "{\"Name\":\"a\"} x",
                         "{\"Name\":\"\\u0000\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        treq t = {0};
        if (gg(&t, "POST", "/greengrass/groups", NULL, bad[i]) != GT_E_SERIALIZATION)
            fail_msg("body %s -> %s", bad[i], gt_err_name(t.err));
        assert_string_equal(t.op->name, "CreateGroup");
        assert_null(t.in);
    }
    /* empty and whitespace bodies mean {} */
    treq e = {0};
    assert_int_equal(gg(&e, "PUT", "/greengrass/groups/g1", NULL, ""), GT_OK);
    treq_done(&e);
    treq w = {0};
    assert_int_equal(gg(&w, "PUT", "/greengrass/groups/g1", NULL, " \r\n"), GT_OK);
    treq_done(&w);
    /* ops without body members ignore the body */
    treq g = {0};
    assert_int_equal(gg(&g, "GET", "/greengrass/groups/g1", NULL, "not json"), GT_OK);
    treq_done(&g);
    /* duplicates: last wins */
    treq d = {0};
    assert_int_equal(gg(&d, "POST", "/greengrass/groups", NULL, "{\"Name\":\"a\",\"Name\":\"b\"}"), GT_OK);
    assert_string_equal(in_str(&d, "Name"), "b");
    treq_done(&d);
}

static char *nested(int depth)
{
    /* {"Name":"n","Junk": [[[...]]] } with total depth `depth` */
    size_t cap = (size_t)depth * 2 + 64;
    char *b = malloc(cap);
    size_t o = (size_t)snprintf(b, cap, "{\"Name\":\"n\",\"Junk\":");
    for (int i = 1; i < depth; i++)
        b[o++] = '[';
    for (int i = 1; i < depth; i++)
        b[o++] = ']';
    b[o++] = '}';
    b[o] = '\0';
    return b;
}

static void test_deep_nesting(void **state)
{
    (void)state;
    char *ok = nested(API_MAX_JSON_DEPTH);
    treq t = {0};
    assert_int_equal(gg(&t, "POST", "/greengrass/groups", NULL, ok), GT_OK);
    assert_null(json_object_get(t.in, "Junk")); /* unknown members dropped */
    treq_done(&t);
    free(ok);
    char *deep = nested(API_MAX_JSON_DEPTH + 1);
    treq u = {0};
    assert_int_equal(gg(&u, "POST", "/greengrass/groups", NULL, deep), GT_E_SERIALIZATION);
    free(deep);
    /* brackets inside strings do not count */
    char s[200];
    memset(s, '[', 100);
    s[100] = '\0';
    char body[300];
    snprintf(body, sizeof body, "{\"Name\":\"%s\\\"\"}", s);
    treq v = {0};
    assert_int_equal(gg(&v, "POST", "/greengrass/groups", NULL, body), GT_OK);
    treq_done(&v);
}

static void test_validation(void **state)
{
    (void)state;
    struct {
        const char *method, *path, *body, *want;
    } cases[] = {
        {"POST", "/greengrass/groups", "{}", "Value null at 'Name' failed to satisfy constraint: Member must not be null"},
        {"POST", "/greengrass/groups", "{\"Name\":null}", "Value null at 'Name'"},
        {"POST", "/greengrass/groups", "{\"Name\":5}", "Value at 'Name' failed to satisfy constraint: Member must be of type string"},
        {"POST", "/greengrass/groups", "{\"Name\":\"n\",\"InitialVersion\":\"x\"}", "'InitialVersion'"},
        {"POST", "/greengrass/groups", "{\"Name\":\"n\",\"tags\":{\"k\":1}}", "'tags[k]'"},
        {"POST", "/greengrass/groups", "{\"Name\":\"n\",\"tags\":[]}", "type map"},
        {"POST", "/greengrass/definition/functions",
         "{\"InitialVersion\":{\"Functions\":[{\"Id\":\"1\"},{\"FunctionArn\":\"a\"}]}}",
         "Value null at 'InitialVersion.Functions[1].Id'"},
        {"POST", "/greengrass/definition/functions",
         "{\"InitialVersion\":{\"Functions\":[null]}}", "'InitialVersion.Functions[0]'"},
        {"POST", "/greengrass/definition/functions",
         "{\"InitialVersion\":{\"Functions\":[{\"Id\":\"1\",\"FunctionConfiguration\":{\"MemorySize\":\"12\"}}]}}",
         "'InitialVersion.Functions[0].FunctionConfiguration.MemorySize' failed to satisfy constraint: Member must be of type integer"},
        {"POST", "/greengrass/definition/functions",
         "{\"InitialVersion\":{\"Functions\":[{\"Id\":\"1\",\"FunctionConfiguration\":{\"MemorySize\":1.5}}]}}",
         "type integer"},
        {"POST", "/greengrass/definition/functions",
         "{\"InitialVersion\":{\"Functions\":[{\"Id\":\"1\",\"FunctionConfiguration\":{\"MemorySize\":4294967296}}]}}",
         "type integer"},
        {"POST", "/greengrass/definition/functions",
         "{\"InitialVersion\":{\"Functions\":[{\"Id\":\"1\",\"FunctionConfiguration\":{\"Pinned\":\"true\"}}]}}",
         "type boolean"},
        {"POST", "/greengrass/groups/g/deployments", "{}", "Value null at 'DeploymentType'"},
        {"POST", "/greengrass/groups/g/deployments", "{\"DeploymentType\":\"Bogus\"}",
         "Value 'Bogus' at 'DeploymentType' failed to satisfy constraint: Member must satisfy enum value set: "
         "[NewDeployment, Redeployment, ResetDeployment, ForceResetDeployment]"},
        {"POST", "/greengrass/groups/g/deployments", "{\"DeploymentType\":\"newdeployment\"}", "enum value set"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        treq t = {0};
        gg(&t, cases[i].method, cases[i].path, NULL, cases[i].body);
        if (t.err != GT_E_VALIDATION || !strstr(t.msg, cases[i].want))
            fail_msg("case %zu: %s -> %s '%s'", i, cases[i].body, gt_err_name(t.err), t.msg);
        assert_true(strncmp(t.msg, "1 validation error detected: ", 29) == 0);
        assert_non_null(t.op);
        assert_null(t.in);
    }
    /* good nested input, optional null dropped */
    treq ok = {0};
    assert_int_equal(gg(&ok, "POST", "/greengrass/definition/functions", NULL,
                        "{\"Name\":null,\"InitialVersion\":{\"Functions\":[{\"Id\":\"1\",\"FunctionConfiguration\":"
                        "{\"MemorySize\":16384,\"Pinned\":true,\"Environment\":{\"Variables\":{\"a\":\"b\"}}}}]}}"),
                     GT_OK);
    assert_null(json_object_get(ok.in, "Name"));
    treq_done(&ok);

    /* hard string cap */
    size_t big = API_MAX_STRING_BYTES + 1;
    char *body = malloc(big + 32);
    memcpy(body, "{\"Name\":\"", 9);
    memset(body + 9, 'a', big);
    memcpy(body + 9 + big, "\"}", 3);
    treq s = {0};
    assert_int_equal(gg(&s, "POST", "/greengrass/groups", NULL, body), GT_E_VALIDATION);
    assert_non_null(strstr(s.msg, "length less than or equal to 262144"));
    free(body);

    /* tiny message buffers stay terminated */
    treq m;
    treq_init(&m, "POST", "/greengrass/groups", NULL, "{}");
    char tiny[8];
    const model_op *op;
    json_t *in;
    assert_int_equal(api_restjson_decode(&model_greengrass, &m.req, &op, &in, tiny, sizeof tiny),
                     GT_E_VALIDATION);
    assert_int_equal(strlen(tiny), 7);
    assert_int_equal(api_restjson_decode(&model_greengrass, &m.req, &op, &in, NULL, 0), GT_E_VALIDATION);
}

static void test_validate_direct(void **state)
{
    (void)state;
    const model_service *c = &model_cloudtrail;
    char msg[256];
    int sh = model_find_shape(c, "LookupEventsRequest");
    json_t *v = json_pack("{s:s, s:i}", "StartTime", "2024-01-02T03:04:05.123Z", "MaxResults", 50);
    assert_int_equal(api_validate(c, sh, v, msg, sizeof msg), GT_OK);
    json_object_set_new(v, "StartTime", json_string("2024-01-02T03:04:05+01:00"));
    assert_int_equal(api_validate(c, sh, v, msg, sizeof msg), GT_OK);
    json_object_set_new(v, "StartTime", json_string("yesterday"));
    assert_int_equal(api_validate(c, sh, v, msg, sizeof msg), GT_E_VALIDATION);
    assert_non_null(strstr(msg, "'StartTime'"));
    json_object_set_new(v, "StartTime", json_string("2024-13-02T03:04:05Z"));
    assert_int_equal(api_validate(c, sh, v, msg, sizeof msg), GT_E_VALIDATION);
    json_object_set_new(v, "StartTime", json_real(1700000000.5));
    assert_int_equal(api_validate(c, sh, v, msg, sizeof msg), GT_OK);
    json_object_set_new(v, "MaxResults", json_integer(51));
    assert_int_equal(api_validate(c, sh, v, msg, sizeof msg), GT_E_VALIDATION);
    assert_non_null(strstr(msg, "Value '51' at 'MaxResults' failed to satisfy constraint: Member must have value less than or equal to 50"));
    json_object_set_new(v, "MaxResults", json_integer(0));
    assert_int_equal(api_validate(c, sh, v, msg, sizeof msg), GT_E_VALIDATION);
    assert_non_null(strstr(msg, "greater than or equal to 1"));
    json_object_set_new(v, "MaxResults", json_integer(5));
    json_object_set_new(v, "LookupAttributes",
                        json_pack("[{s:s, s:s}]", "AttributeKey", "EventName", "AttributeValue", ""));
    assert_int_equal(api_validate(c, sh, v, msg, sizeof msg), GT_E_VALIDATION);
    assert_non_null(strstr(msg, "'LookupAttributes[0].AttributeValue'"));
    assert_non_null(strstr(msg, "length greater than or equal to 1"));
    json_decref(v);

    /* list cap */
    json_t *arr = json_array();
    for (int i = 0; i <= API_MAX_COLLECTION; i++)
        json_array_append_new(arr, json_string("k"));
    json_t *w = json_pack("{s:s, s:o}", "ResourceArn", "x", "TagKeys", arr);
    int ut = model_find_shape(&model_greengrass, "UntagResourceRequest");
    assert_int_equal(api_validate(&model_greengrass, ut, w, msg, sizeof msg), GT_E_VALIDATION);
    assert_non_null(strstr(msg, "'TagKeys'"));
    json_array_remove(arr, 0);
    assert_int_equal(api_validate(&model_greengrass, ut, w, msg, sizeof msg), GT_OK);
    json_decref(w);

    assert_int_equal(api_validate(c, -1, NULL, msg, sizeof msg), GT_OK);
    assert_int_equal(api_validate(c, sh, NULL, msg, sizeof msg), GT_E_VALIDATION);
}

/* ------------------------------------------------------------ awsJson */

#define CT_PREFIX "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101."

static gt_err ct(treq *t, const char *target, const char *body)
{
    treq_init(t, "POST", "/", NULL, body);
    if (target)
        treq_header(t, "X-Amz-Target", target);
    treq_header(t, "Content-Type", "application/x-amz-json-1.1");
    t->err = api_json_decode(&model_cloudtrail, &t->req, &t->op, &t->in, t->msg, sizeof t->msg);
    return t->err;
}

static void test_json_lookup_events(void **state)
{
    (void)state;
    treq t;
    assert_int_equal(ct(&t, CT_PREFIX "LookupEvents",
                        "{\"LookupAttributes\":[{\"AttributeKey\":\"EventSource\",\"AttributeValue\":"
                        "\"greengrass.amazonaws.com\"}],\"StartTime\":1700000000,\"MaxResults\":5,\"Extra\":1}"),
                     GT_OK);
    assert_string_equal(t.op->name, "LookupEvents");
    assert_int_equal(json_integer_value(json_object_get(t.in, "MaxResults")), 5);
    assert_null(json_object_get(t.in, "Extra"));
    treq_done(&t);

    assert_int_equal(ct(&t, CT_PREFIX "LookupEvents", ""), GT_OK);
    assert_int_equal(json_object_size(t.in), 0);
    treq_done(&t);

    assert_int_equal(ct(&t, CT_PREFIX "LookupEvents", "{\"MaxResults\":\"5\"}"), GT_E_VALIDATION);
    assert_int_equal(ct(&t, CT_PREFIX "LookupEvents", "[]"), GT_E_SERIALIZATION);
    assert_string_equal(t.op->name, "LookupEvents");
    assert_int_equal(ct(&t, CT_PREFIX "LookupEvents", "{"), GT_E_SERIALIZATION);
    assert_int_equal(ct(&t, CT_PREFIX "LookupEvents", "{\"LookupAttributes\":[{\"AttributeKey\":\"Bogus\","
                                                     "\"AttributeValue\":\"x\"}]}"),
                     GT_E_VALIDATION);
    assert_non_null(strstr(t.msg, "LookupAttributes[0].AttributeKey"));
    assert_int_equal(ct(&t, CT_PREFIX "CreateTrail", "{\"Name\":\"t\"}"), GT_E_VALIDATION);
    assert_non_null(strstr(t.msg, "S3BucketName"));

    /* targets */
    assert_int_equal(ct(&t, NULL, "{}"), GT_E_UNKNOWN_OPERATION);
    assert_null(t.op);
    assert_int_equal(ct(&t, "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101", "{}"),
                     GT_E_UNKNOWN_OPERATION);
    assert_int_equal(ct(&t, CT_PREFIX, "{}"), GT_E_UNKNOWN_OPERATION);
    assert_int_equal(ct(&t, CT_PREFIX "NoSuchOp", "{}"), GT_E_UNKNOWN_OPERATION);
    assert_int_equal(ct(&t, CT_PREFIX "lookupevents", "{}"), GT_E_UNKNOWN_OPERATION);
    assert_int_equal(ct(&t, "CloudTrail_20131101.LookupEvents", "{}"), GT_E_UNKNOWN_OPERATION);
    assert_int_equal(ct(&t, "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101xLookupEvents", "{}"),
                     GT_E_UNKNOWN_OPERATION);

    /* method */
    treq_init(&t, "GET", "/", NULL, NULL);
    treq_header(&t, "X-Amz-Target", CT_PREFIX "LookupEvents");
    assert_int_equal(api_json_decode(&model_cloudtrail, &t.req, &t.op, &t.in, t.msg, sizeof t.msg),
                     GT_E_NOT_FOUND_ROUTE);
}

static void test_json_every_op(void **state)
{
    (void)state;
    const model_service *c = &model_cloudtrail;
    for (size_t i = 0; i < c->n_ops; i++) {
        const model_op *op = &c->ops[i];
        json_t *in = op->input >= 0 ? sample_value(c, op->input, 0) : json_object();
        char *bs = json_dumps(in, JSON_COMPACT);
        json_decref(in);
        char target[256];
        snprintf(target, sizeof target, CT_PREFIX "%s", op->name);
        treq t;
        if (ct(&t, target, bs) != GT_OK || t.op != op)
            fail_msg("%s: %s %s", op->name, gt_err_name(t.err), t.msg);
        treq_done(&t);
        free(bs);
    }
}

/* A hand-made model for template features Greengrass does not use:
 * query literals in templates, greedy labels, integer/boolean query. */
static const model_member tiny_members[] = {
    {"A", "A", MODEL_LOC_URI, 1, false, false, false, false},
    {"B", "b", MODEL_LOC_QUERY, 3, false, false, false, false},
    {"Key", "Key", MODEL_LOC_URI, 1, false, false, false, false},
    {"N", "n", MODEL_LOC_QUERY, 2, false, false, false, false},
};
static const model_shape tiny_shapes[] = {
    {.name = "In", .type = MODEL_T_STRUCTURE, .members = tiny_members, .n_members = 4,
     .member = -1, .key = -1, .value = -1},
    {.name = "S", .type = MODEL_T_STRING, .member = -1, .key = -1, .value = -1},
    {.name = "T", .type = MODEL_T_INTEGER, .member = -1, .key = -1, .value = -1,
     .has_max = true, .max = 100},
    {.name = "U", .type = MODEL_T_BOOLEAN, .member = -1, .key = -1, .value = -1},
};
static const model_op tiny_ops[] = {
    {.name = "GetGreedy", .method = "GET", .uri = "/k/{Key+}", .status = 200, .input = 0, .output = -1},
    {.name = "GetX", .method = "GET", .uri = "/x/{A}", .status = 200, .input = 0, .output = -1},
    {.name = "GetXList", .method = "GET", .uri = "/x/{A}?list-type=2", .status = 200, .input = 0,
     .output = -1},
};
static const model_service tiny = {
    .name = "tiny", .protocol = "rest-json", .ops = tiny_ops, .n_ops = 3,
    .shapes = tiny_shapes, .n_shapes = 4,
};

static gt_err tiny_run(treq *t, const char *path, const char *query)
{
    treq_init(t, "GET", path, query, NULL);
    t->err = api_restjson_decode(&tiny, &t->req, &t->op, &t->in, t->msg, sizeof t->msg);
    return t->err;
}

static void test_route_template_features(void **state)
{
    (void)state;
    treq t;
    assert_int_equal(tiny_run(&t, "/x/a1", "list-type=2&n=7&b=true"), GT_OK);
    assert_string_equal(t.op->name, "GetXList");
    assert_int_equal(json_integer_value(json_object_get(t.in, "N")), 7);
    assert_true(json_is_true(json_object_get(t.in, "B")));
    treq_done(&t);
    assert_int_equal(tiny_run(&t, "/x/a1", "list-type=3"), GT_OK);
    assert_string_equal(t.op->name, "GetX");
    treq_done(&t);
    assert_int_equal(tiny_run(&t, "/x/a1", "n=-3"), GT_OK);
    assert_int_equal(json_integer_value(json_object_get(t.in, "N")), -3);
    treq_done(&t);
    const char *badq[] = {"n=1x", "n=", "n=+1", "n=99999999999", "n=101", "b=TRUE", "b=1", "n=%zz"};
    for (size_t i = 0; i < sizeof badq / sizeof badq[0]; i++)
        if (tiny_run(&t, "/x/a1", badq[i]) != GT_E_VALIDATION)
            fail_msg("%s -> %s", badq[i], gt_err_name(t.err));
    assert_int_equal(tiny_run(&t, "/k/a/b%2Fc/d", NULL), GT_OK);
    assert_string_equal(t.op->name, "GetGreedy");
    assert_string_equal(in_str(&t, "Key"), "a/b/c/d");
    treq_done(&t);
    assert_int_equal(tiny_run(&t, "/k/", NULL), GT_E_NOT_FOUND_ROUTE);
    assert_int_equal(tiny_run(&t, "/k", NULL), GT_E_NOT_FOUND_ROUTE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts),
        cmocka_unit_test(test_spot_checks),
        cmocka_unit_test(test_route_every_op),
        cmocka_unit_test(test_route_reset_stop),
        cmocka_unit_test(test_route_tags_arn),
        cmocka_unit_test(test_route_literal_beats_label),
        cmocka_unit_test(test_route_exact),
        cmocka_unit_test(test_route_template_features),
        cmocka_unit_test(test_query_binding),
        cmocka_unit_test(test_header_binding),
        cmocka_unit_test(test_body_errors),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_validate_direct),
        cmocka_unit_test(test_json_lookup_events),
        cmocka_unit_test(test_json_every_op),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
