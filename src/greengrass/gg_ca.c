/*
 * gg_ca.c: group certificate authorities and the group certificate
 * configuration (greengrass.md §3.9).
 *
 * What: CreateGroupCertificateAuthority makes a real CA with OpenSSL: an
 * RSA-2048 key and a self-signed X.509 v3 certificate (CA:TRUE,
 * keyCertSign|cRLSign, SHA-256) valid until 2049-12-31T23:59:59Z, the
 * last instant UTCTime can express and the expiry AWS's own example shows
 * (2524607999000). The CA id is the lower-case hex SHA-256 of the
 * certificate's DER (64 hex chars, like AWS's ids). Creating again
 * rotates: the newest CA is the active one; older ones stay listed.
 * The certificate configuration holds the core-certificate lifetime,
 * 7..30 days (default 7), and reports the active CA's expiry.
 *
 * Docs: "gg.ca" (id = CA id, parent = GroupId) with the public fields
 * plus the private key PEM (_key, never answered; a CA has to keep it to
 * sign) and _expiry_ms; "gg.certconfig" (id = GroupId).
 *
 * Invariants: every output field comes from the stored doc; the key never
 * leaves the store; a CA belongs to exactly one group.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "greengrass/gg_int.h"
#include "util/gtutil.h"

#define CA_KIND "gg.ca"
#define CFG_KIND "gg.certconfig"
#define CA_NOT_AFTER_S 2524607999LL          /* 2049-12-31T23:59:59Z */
#define CERT_EXPIRY_MIN 604800000LL          /* 7 days */
#define CERT_EXPIRY_MAX 2592000000LL         /* 30 days */

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static char *bio_text(BIO *b)
{
    char *p = NULL;
    long n = BIO_get_mem_data(b, &p);
    return n > 0 ? strndup(p, (size_t)n) : NULL;
}

static bool add_ext(X509 *cert, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
    X509_EXTENSION *ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ex)
        return false;
    bool ok = X509_add_ext(cert, ex, -1) == 1;
    X509_EXTENSION_free(ex);
    return ok;
}

/* A new CA for group gid: PEM certificate, PEM key and the id. */
static bool make_ca(const char *gid, int64_t now_s, char **cert_pem, char **key_pem, char id[65])
{
    bool ok = false;
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    X509 *x = X509_new();
    BIO *cb = BIO_new(BIO_s_mem()), *kb = BIO_new(BIO_s_mem());
    unsigned char serial[16], *der = NULL;
    BIGNUM *bn = NULL;
    *cert_pem = *key_pem = NULL;
    if (!key || !x || !cb || !kb || !gt_random_bytes(serial, sizeof serial))
        goto out;
    serial[0] &= 0x7f;
    bn = BN_bin2bn(serial, sizeof serial, NULL);
    char cn[64];
    snprintf(cn, sizeof cn, "%.40s", gid);
    X509_NAME *name = X509_get_subject_name(x);
    if (!bn || X509_set_version(x, 2) != 1 || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) ||
        !ASN1_TIME_set(X509_getm_notBefore(x), (time_t)now_s) ||
        !ASN1_TIME_set(X509_getm_notAfter(x), (time_t)CA_NOT_AFTER_S) ||
        !X509_NAME_add_entry_by_txt(name, "C", MBSTRING_ASC, (const unsigned char *)"US", -1, -1, 0) ||
        !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"Amazon.com Inc.", -1, -1, 0) ||
        !X509_NAME_add_entry_by_txt(name, "OU", MBSTRING_ASC, (const unsigned char *)"Amazon Web Services", -1, -1,
                                    0) ||
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0) ||
        X509_set_issuer_name(x, name) != 1 || X509_set_pubkey(x, key) != 1 ||
        !add_ext(x, NID_basic_constraints, "critical,CA:TRUE") ||
        !add_ext(x, NID_key_usage, "critical,keyCertSign,cRLSign") ||
        !add_ext(x, NID_subject_key_identifier, "hash") || X509_sign(x, key, EVP_sha256()) <= 0)
        goto out;
    int n = i2d_X509(x, &der);
    unsigned char md[32];
    unsigned int mdn = 0;
    if (n <= 0 || EVP_Digest(der, (size_t)n, md, &mdn, EVP_sha256(), NULL) != 1 || mdn != 32)
        goto out;
    gt_hex(md, 32, id);
    if (PEM_write_bio_X509(cb, x) != 1 || PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL) != 1)
        goto out;
    *cert_pem = bio_text(cb);
    *key_pem = bio_text(kb);
    ok = *cert_pem && *key_pem;
out:
    if (!ok) {
        free(*cert_pem);
        free(*key_pem);
        *cert_pem = *key_pem = NULL;
    }
    OPENSSL_free(der);
    BN_free(bn);
    BIO_free(cb);
    BIO_free(kb);
    X509_free(x);
    EVP_PKEY_free(key);
    return ok;
}

static gt_err need_group(gt_call *c, store_txn *t, const char *gid)
{
    int rc;
    json_t *g = gg_load_group(t, c, gid, &rc);
    if (!g)
        return rc == STORE_NOTFOUND ? gt_call_fail(c, GT_E_GG_ID_NOT_FOUND, "That group definition does not exist.")
                                    : gg_store_fail(rc);
    json_decref(g);
    char arn[GG_ARN_MAX];
    gg_group_arn(c, gid, arn, sizeof arn);
    gt_call_add_resource(c, "AWS::Greengrass::Group", arn);
    return GT_OK;
}

gt_err gg_h_create_ca(gt_call *c, store_txn *t)
{
    const char *gid = gt_in_str(c, "GroupId");
    gt_err e = need_group(c, t, gid);
    if (e != GT_OK)
        return e;
    char *cert = NULL, *key = NULL, id[65], arn[GG_ARN_MAX];
    if (!make_ca(gid, c->now_ms / 1000, &cert, &key, id))
        return gt_call_fail(c, GT_E_INTERNAL, "The certificate authority could not be created.");
    snprintf(arn, sizeof arn, "arn:aws:greengrass:%s:%s:/greengrass/groups/%s/certificateauthorities/%s", c->region,
             c->account, gid, id);
    json_t *doc = json_pack("{s:s, s:s, s:s, s:s, s:I}", "GroupCertificateAuthorityArn", arn,
                            "GroupCertificateAuthorityId", id, "PemEncodedCertificate", cert, "_key", key,
                            "_expiry_ms", (json_int_t)(CA_NOT_AFTER_S * 1000));
    OPENSSL_cleanse(key, strlen(key));
    free(key);
    free(cert);
    if (!doc)
        return GT_E_NOMEM;
    e = gg_save(t, c, CA_KIND, id, gid, doc);
    json_object_set_new(doc, "_key", json_string(""));
    json_decref(doc);
    if (e != GT_OK)
        return e;
    gt_call_add_resource(c, "AWS::Greengrass::CertificateAuthority", arn);
    c->output = json_pack("{s:s}", "GroupCertificateAuthorityArn", arn);
    return c->output ? GT_OK : GT_E_NOMEM;
}

static json_t *item_ca(const gt_call *c, json_t *doc)
{
    return json_pack("{s:O, s:O}", "GroupCertificateAuthorityArn", json_object_get(doc, "GroupCertificateAuthorityArn"),
                     "GroupCertificateAuthorityId", json_object_get(doc, "GroupCertificateAuthorityId"));
}

gt_err gg_h_list_cas(gt_call *c, store_txn *t)
{
    const char *gid = gt_in_str(c, "GroupId");
    gt_err e = need_group(c, t, gid);
    if (e != GT_OK)
        return e;
    /* not paginated in the model: everything, oldest first */
    e = gg_list(c, t, CA_KIND, gid, false, "GroupCertificateAuthorities", item_ca);
    return e;
}

gt_err gg_h_get_ca(gt_call *c, store_txn *t)
{
    const char *gid = gt_in_str(c, "GroupId"), *id = gt_in_str(c, "CertificateAuthorityId");
    gt_err e = need_group(c, t, gid);
    if (e != GT_OK)
        return e;
    int rc;
    json_t *doc = gg_load(t, c, CA_KIND, id, &rc);
    char arn[GG_ARN_MAX];
    snprintf(arn, sizeof arn, "arn:aws:greengrass:%s:%s:/greengrass/groups/%s/certificateauthorities/%s", c->region,
             c->account, gid, id ? id : "");
    if (doc && strcmp(jstr(doc, "GroupCertificateAuthorityArn"), arn) != 0) {
        json_decref(doc);
        doc = NULL;
        rc = STORE_NOTFOUND;
    }
    if (!doc)
        return rc == STORE_NOTFOUND ? gt_call_fail(c, GT_E_GG_RESOURCE_NOT_FOUND,
                                                   "Certificate authority %.128s does not exist in group %s.",
                                                   id ? id : "", gid)
                                    : gg_store_fail(rc);
    gt_call_add_resource(c, "AWS::Greengrass::CertificateAuthority", arn);
    c->output = json_pack("{s:O, s:O, s:O}", "GroupCertificateAuthorityArn",
                          json_object_get(doc, "GroupCertificateAuthorityArn"), "GroupCertificateAuthorityId",
                          json_object_get(doc, "GroupCertificateAuthorityId"), "PemEncodedCertificate",
                          json_object_get(doc, "PemEncodedCertificate"));
    json_decref(doc);
    return c->output ? GT_OK : GT_E_NOMEM;
}

static int newest_cb(void *ud, int64_t seq, const char *id, const char *body)
{
    *(json_t **)ud = json_loads(body, 0, NULL);
    return 1;
}

/* {CertificateAuthorityExpiryInMilliseconds?, CertificateExpiryInMilliseconds, GroupId}:
 * the expiry fields are JSON numbers, as AWS answers them (§1.3). */
static gt_err cert_config_output(gt_call *c, store_txn *t, const char *gid, int64_t expiry)
{
    json_t *ca = NULL;
    if (store_doc_list(t, c->account, c->region, CA_KIND, gid, 0, true, 1, newest_cb, &ca) != STORE_OK)
        return GT_E_UNAVAILABLE;
    c->output = json_object();
    if (!c->output) {
        json_decref(ca);
        return GT_E_NOMEM;
    }
    if (ca)
        json_object_set(c->output, "CertificateAuthorityExpiryInMilliseconds", json_object_get(ca, "_expiry_ms"));
    json_object_set_new(c->output, "CertificateExpiryInMilliseconds", json_integer(expiry));
    json_object_set_new(c->output, "GroupId", json_string(gid));
    json_decref(ca);
    return GT_OK;
}

gt_err gg_h_get_cert_config(gt_call *c, store_txn *t)
{
    const char *gid = gt_in_str(c, "GroupId");
    gt_err e = need_group(c, t, gid);
    if (e != GT_OK)
        return e;
    int rc;
    json_t *cfg = gg_load(t, c, CFG_KIND, gid, &rc);
    if (rc == STORE_ERR)
        return GT_E_UNAVAILABLE;
    int64_t expiry = cfg ? json_integer_value(json_object_get(cfg, "CertificateExpiryInMilliseconds")) : CERT_EXPIRY_MIN;
    json_decref(cfg);
    return cert_config_output(c, t, gid, expiry);
}

gt_err gg_h_update_cert_config(gt_call *c, store_txn *t)
{
    const char *gid = gt_in_str(c, "GroupId");
    gt_err e = need_group(c, t, gid);
    if (e != GT_OK)
        return e;
    json_t *v = json_object_get(c->input, "CertificateExpiryInMilliseconds");
    if (!v)
        return gt_call_fail(c, GT_E_GG_INVALID_INPUT,
                            "Your request is missing the following required parameter(s): "
                            "{CertificateExpiryInMilliseconds}.");
    int64_t ms = 0;
    const char *s = json_string_value(v);
    bool ok = s ? gt_parse_i64(s, strlen(s), &ms) : json_is_integer(v);
    if (ok && !s)
        ms = json_integer_value(v);
    if (!ok || ms < CERT_EXPIRY_MIN || ms > CERT_EXPIRY_MAX)
        return gt_call_fail(c, GT_E_GG_INVALID_INPUT,
                            "CertificateExpiryInMilliseconds must be between %lld and %lld (7 to 30 days).",
                            (long long)CERT_EXPIRY_MIN, (long long)CERT_EXPIRY_MAX);
    json_t *doc = json_pack("{s:I}", "CertificateExpiryInMilliseconds", (json_int_t)ms);
    if (!doc)
        return GT_E_NOMEM;
    e = gg_save(t, c, CFG_KIND, gid, NULL, doc);
    json_decref(doc);
    return e == GT_OK ? cert_config_output(c, t, gid, ms) : e;
}

int gg_delete_group_cas(store_txn *t, const gt_call *c, const char *gid)
{
    return store_doc_delete_children(t, c->account, c->region, CA_KIND, gid);
}
