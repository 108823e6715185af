/* model.h: the API surface as data, generated from the botocore models.
 *
 * tools/gen_model.py turns botocore's service-2.json/paginators-1.json
 * into constant tables (src/model/<service>.gen.c). Shapes are referred to
 * by index into model_service.shapes (-1 = none). Operations and shapes
 * are sorted by name (strcmp order), members of a structure too, so
 * lookups can binary-search. All tables are immutable and thread-safe.
 */
#ifndef GT_MODEL_H
#define GT_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum model_loc {
    MODEL_LOC_BODY,   /* JSON body member (key = loc_name or name) */
    MODEL_LOC_URI,    /* {loc_name} label of the request URI */
    MODEL_LOC_QUERY,  /* query parameter loc_name */
    MODEL_LOC_HEADER, /* request header loc_name */
    MODEL_LOC_HEADERS,/* map of headers sharing the prefix loc_name (S3 x-amz-meta-) */
    MODEL_LOC_STATUS  /* the HTTP status code (output only) */
} model_loc;

typedef enum model_type {
    MODEL_T_STRUCTURE,
    MODEL_T_LIST,
    MODEL_T_MAP,
    MODEL_T_STRING,
    MODEL_T_INTEGER,
    MODEL_T_LONG,
    MODEL_T_BOOLEAN,
    MODEL_T_DOUBLE,
    MODEL_T_FLOAT,
    MODEL_T_TIMESTAMP,
    MODEL_T_BLOB
} model_type;

typedef struct model_member {
    const char *name;      /* member name (the key handlers and CloudTrail use) */
    const char *loc_name;  /* wire name if it differs / is a uri, query or header name; else NULL */
    model_loc loc;
    int shape;             /* index into service shapes */
    bool required;
    bool xml_attribute;    /* rest-xml: an XML attribute, not an element */
    bool flattened;        /* rest-xml/query: list or map written without a wrapper */
    bool payload;          /* rest-xml/rest-json: this member is the whole body */
} model_member;

typedef struct model_shape {
    const char *name;
    model_type type;
    const model_member *members;   /* structure: sorted by name */
    size_t n_members;
    int member;                    /* list: element shape, else -1 */
    int key, value;                /* map: key/value shapes, else -1 */
    const char *const *enum_values;/* string enums, model order */
    size_t n_enum;
    bool has_min, has_max;         /* length (string/list/map/blob) or value (numbers) */
    int64_t min, max;
    const char *timestamp_format;  /* "iso8601", "unixTimestamp", ... or NULL */
    bool flattened;                /* list/map shape marked flattened */
    const char *xml_member_name;   /* list: element name ("member" when NULL) */
    const char *xml_key_name;      /* map: key element name ("key" when NULL) */
    const char *xml_value_name;    /* map: value element name ("value" when NULL) */
    const char *xml_name;          /* structure: locationName of the shape, if any */
    bool exception;                /* error shape */
    int error_status;              /* its modelled HTTP status, 0 if none */
} model_shape;

typedef struct model_op {
    const char *name;              /* "CreateGroup" */
    const char *method;            /* "POST" */
    const char *uri;               /* template as in the model: "/greengrass/groups/{GroupId}" */
    int status;                    /* success HTTP status (responseCode, default 200) */
    int input, output;             /* shape indices, -1 none */
    bool read_only;                /* name starts with Get/List/Describe/Lookup */
    bool paginated;                /* listed in paginators-1.json */
    const char *pag_input_token;   /* NULL unless paginated */
    const char *pag_output_token;
    const char *pag_limit_key;     /* may be NULL even when paginated */
    const char *pag_result_key;
    const char *result_wrapper;    /* query protocol: <OpResult> element, or NULL */
    const char *input_xml_name;    /* rest-xml: root element name of the request body */
} model_op;

typedef struct model_service {
    const char *name;              /* "greengrass", "cloudtrail" */
    const char *signing_name;
    const char *endpoint_prefix;
    const char *protocol;          /* "rest-json" or "json" */
    const char *target_prefix;     /* json protocol X-Amz-Target prefix, else NULL */
    const char *json_version;      /* "1.1" or NULL */
    const char *api_version;       /* "2017-06-07" */
    const char *event_source;      /* "greengrass.amazonaws.com" */
    const char *botocore_version;  /* models' botocore version */
    const char *xml_namespace;     /* rest-xml / query: xmlNamespace uri, or NULL */
    const model_op *ops;           /* sorted by name */
    size_t n_ops;
    const model_shape *shapes;     /* sorted by name */
    size_t n_shapes;
} model_service;

extern const model_service model_greengrass;
extern const model_service model_cloudtrail;
extern const model_service model_s3;
extern const model_service model_sns;
extern const model_service model_iam;
extern const model_service model_sts;
extern const model_service model_events;
extern const model_service model_organizations;

/* Operation named `name` (exact, case-sensitive), or NULL. O(log n). */
const model_op *model_find_op(const model_service *svc, const char *name);

/* Like model_find_op for a (ptr,len) name that need not be NUL-terminated. */
const model_op *model_find_opn(const model_service *svc, const char *name, size_t len);

/* Index of the shape named `name`, or -1. O(log n). */
int model_find_shape(const model_service *svc, const char *name);

/* Shape by index; NULL if idx is out of range (incl. -1). */
const model_shape *model_shape_at(const model_service *svc, int idx);

/* Member `name` of structure shape `shape`, or NULL. O(log n). */
const model_member *model_find_member(const model_service *svc, int shape, const char *name);

#endif
