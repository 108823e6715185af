/*
 * test_s3_chunk.c: unit tests for the S3 payload codecs (s3/s3_chunk.c)
 * and the XML/URL text helpers (s3/s3_xml.c).
 *
 * The signed aws-chunked vector is AWS's own worked example ("Signature
 * Calculations for the Authorization Header: Transferring Payload in
 * Multiple Chunks", 66560 bytes of 'a' in chunks of 65536 + 1024 + 0,
 * seed signature 4f232c43...). The CRC check values are the standard ones
 * for the input "123456789".
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

#include "s3/s3_chunk.h"
#include "s3/s3_xml.h"

#define AWS_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"   /* as in that example */
#define AWS_SEED "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
#define AWS_SIG1 "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
#define AWS_SIG2 "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"
#define AWS_SIG3 "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"

typedef struct buf {
    unsigned char *p;
    size_t n;
} buf;

static void put(buf *b, const void *s, size_t n)
{
    b->p = realloc(b->p, b->n + n + 1);
    assert_non_null(b->p);
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

static void puts_(buf *b, const char *s)
{
    put(b, s, strlen(s));
}

static void put_a(buf *b, size_t n)
{
    unsigned char *a = malloc(n);
    assert_non_null(a);
    memset(a, 'a', n);
    put(b, a, n);
    free(a);
}

/* AWS's example body, with sig1 possibly replaced. */
static buf aws_body(const char *sig1)
{
    buf b = {0};
    puts_(&b, "10000;chunk-signature=");
    puts_(&b, sig1);
    puts_(&b, "\r\n");
    put_a(&b, 65536);
    puts_(&b, "\r\n400;chunk-signature=" AWS_SIG2 "\r\n");
    put_a(&b, 1024);
    puts_(&b, "\r\n0;chunk-signature=" AWS_SIG3 "\r\n\r\n");
    return b;
}

static s3_chunk_sig aws_sig(unsigned char key[32])
{
    assert_true(s3_signing_key(AWS_SECRET, "20130524", "us-east-1", "s3", key));
    return (s3_chunk_sig){.signing_key = key, .amz_date = "20130524T000000Z",
                          .scope = "20130524/us-east-1/s3/aws4_request", .seed = AWS_SEED};
}

static void test_signed_aws_vector(void **state)
{
    unsigned char key[32];
    s3_chunk_sig sig = aws_sig(key);
    buf b = aws_body(AWS_SIG1);
    s3_chunk_out out;
    char msg[256];
    assert_int_equal(s3_chunk_decode(b.p, b.n, true, false, &sig, &out, msg, sizeof msg), GT_OK);
    assert_int_equal(out.len, 66560);
    for (size_t i = 0; i < out.len; i++)
        if (out.data[i] != 'a')
            fail();
    assert_int_equal(out.n_trailers, 0);
    s3_chunk_out_free(&out);
    free(b.p);
}

/* The same example with three trailing headers; the trailer signature
 * is the one the AWS CRT signer tests publish for it (df5735bd...). */
static void test_signed_trailer_vector(void **state)
{
    unsigned char key[32];
    s3_chunk_sig sig = aws_sig(key);
    for (int bad = 0; bad < 2; bad++) {
        buf b = {0};
        puts_(&b, "10000;chunk-signature=" AWS_SIG1 "\r\n");
        put_a(&b, 65536);
        puts_(&b, "\r\n400;chunk-signature=" AWS_SIG2 "\r\n");
        put_a(&b, 1024);
        puts_(&b, "\r\n0;chunk-signature=" AWS_SIG3 "\r\n");
        puts_(&b, bad ? "first:1st\r\nsecond:2nd\r\nthird:3rD\r\n" : "first:1st\r\nsecond:2nd\r\nthird:3rd\r\n");
        puts_(&b, "x-amz-trailer-signature:df5735bd9f3295cd9386572292562fefc93ba94e80a0a1ddcbd652c4e0a75e6c\r\n\r\n");
        s3_chunk_out out;
        char msg[256];
        gt_err e = s3_chunk_decode(b.p, b.n, true, true, &sig, &out, msg, sizeof msg);
        if (bad) {
            assert_int_equal(e, GT_E_S3_SIGNATURE_MISMATCH);
        } else {
            assert_int_equal(e, GT_OK);
            assert_int_equal(out.len, 66560);
            assert_int_equal(out.n_trailers, 3);
            assert_string_equal(out.trailers[2].name, "third");
            assert_string_equal(out.trailers[2].value, "3rd");
            s3_chunk_out_free(&out);
        }
        free(b.p);
    }
}

static void test_signed_bad_chunk_signature(void **state)
{
    unsigned char key[32];
    s3_chunk_sig sig = aws_sig(key);
    char bad[65];
    memcpy(bad, AWS_SIG1, 65);
    bad[0] = bad[0] == '0' ? '1' : '0';
    buf b = aws_body(bad);
    s3_chunk_out out;
    char msg[256];
    assert_int_equal(s3_chunk_decode(b.p, b.n, true, false, &sig, &out, msg, sizeof msg),
                     GT_E_S3_SIGNATURE_MISMATCH);
    assert_null(out.data);
    /* the same body parses when signatures are not checked */
    assert_int_equal(s3_chunk_decode(b.p, b.n, true, false, NULL, &out, msg, sizeof msg), GT_OK);
    assert_int_equal(out.len, 66560);
    s3_chunk_out_free(&out);
    /* a wrong seed breaks the chain at the first chunk */
    free(b.p);
    b = aws_body(AWS_SIG1);
    sig.seed = AWS_SIG1;
    assert_int_equal(s3_chunk_decode(b.p, b.n, true, false, &sig, &out, msg, sizeof msg),
                     GT_E_S3_SIGNATURE_MISMATCH);
    free(b.p);
}

static void test_signed_requires_signature(void **state)
{
    const char *body = "5\r\nhello\r\n0\r\n\r\n";
    s3_chunk_out out;
    char msg[256];
    assert_int_equal(s3_chunk_decode((const unsigned char *)body, strlen(body), true, false, NULL, &out,
                                     msg, sizeof msg),
                     GT_E_S3_INCOMPLETE_BODY);
}

static void test_unsigned_trailer(void **state)
{
    const char *body = "5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n";
    s3_chunk_out out;
    char msg[256];
    assert_int_equal(s3_chunk_decode((const unsigned char *)body, strlen(body), false, true, NULL, &out,
                                     msg, sizeof msg),
                     GT_OK);
    assert_int_equal(out.len, 11);
    assert_memory_equal(out.data, "hello world", 11);
    assert_int_equal(out.n_trailers, 1);
    assert_string_equal(out.trailers[0].name, "x-amz-checksum-crc32");
    assert_string_equal(out.trailers[0].value, "DUoRhQ==");
    char b64[64];
    assert_true(s3_checksum_b64("crc32", out.data, out.len, b64));
    assert_string_equal(b64, "DUoRhQ==");   /* crc32("hello world") = 0x0d4a1185 */
    s3_chunk_out_free(&out);
}

static void test_malformed(void **state)
{
    static const char *const bad[] = {
        "",                                   /* nothing */
        "5\r\nhel",                           /* truncated data */
        "5\r\nhelloXX0\r\n\r\n",              /* no CRLF after data */
        "zz\r\nhello\r\n0\r\n\r\n",           /* not hex */
        "fffffffffffffffff\r\n",              /* size overflow */
        "ffffff\r\nabc\r\n0\r\n\r\n",         /* size beyond input */
        "5\r\nhello\r\n0\r\n\r\ngarbage",     /* bytes after the end */
        "5\r\nhello\r\n",                     /* no final chunk */
        "5;chunk-signature=abc\r\nhello\r\n0\r\n\r\n", /* short signature (signed mode) */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s3_chunk_out out;
        char msg[256];
        gt_err e = s3_chunk_decode((const unsigned char *)bad[i], strlen(bad[i]), i == 8, false, NULL, &out,
                                   msg, sizeof msg);
        if (e == GT_OK)
            fail_msg("accepted malformed body #%zu", i);
        assert_null(out.data);
    }
    /* trailers where none are expected */
    const char *t = "0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n";
    s3_chunk_out out;
    assert_int_not_equal(s3_chunk_decode((const unsigned char *)t, strlen(t), false, false, NULL, &out, NULL, 0),
                         GT_OK);
}

static void test_checksums(void **state)
{
    const unsigned char *d = (const unsigned char *)"123456789";
    assert_int_equal(s3_crc32c(d, 9), 0xE3069283u);
    assert_true(s3_crc64nvme(d, 9) == 0xAE8B14860A799888ull);
    char b[64];
    assert_true(s3_checksum_b64("crc32c", d, 9, b));
    assert_string_equal(b, "4waSgw==");
    assert_true(s3_checksum_b64("sha256", (const unsigned char *)"", 0, b));
    assert_string_equal(b, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
    assert_true(s3_checksum_b64("md5", (const unsigned char *)"", 0, b));
    assert_string_equal(b, "1B2M2Y8AsgTpgAmY7PhCfg==");
    assert_false(s3_checksum_b64("crc16", d, 9, b));
}

static char *esc(const char *s)
{
    s3_xbuf x = {0};
    s3x_text(&x, s, strlen(s));
    return s3x_take(&x, NULL);
}

static void test_xml_escape(void **state)
{
    char *e = esc("a<b>&\"c'\r\n\t\x01z");
    assert_string_equal(e, "a&lt;b&gt;&amp;&quot;c&apos;&#xD;&#xA;&#x9;&#x1;z");
    free(e);
    e = esc("caf\xc3\xa9 plain");
    assert_string_equal(e, "caf\xc3\xa9 plain");
    free(e);
    s3_xbuf x = {0};
    s3x_elem(&x, "Key", "<k>");
    s3x_elem(&x, "Skip", NULL);
    char *s = s3x_take(&x, NULL);
    assert_string_equal(s, "<Key>&lt;k&gt;</Key>");
    free(s);
}

static void test_url_codecs(void **state)
{
    s3_xbuf x = {0};
    s3x_url_encode(&x, "a b/c+d%\xc3\xa9~_.-");
    char *s = s3x_take(&x, NULL);
    assert_string_equal(s, "a+b/c%2Bd%25%C3%A9~_.-");
    free(s);
    char *d = s3_pct_decode("a%20b+c%2Fd", 11, false);
    assert_string_equal(d, "a b+c/d");
    free(d);
    d = s3_pct_decode("a+b", 3, true);
    assert_string_equal(d, "a b");
    free(d);
    assert_null(s3_pct_decode("bad%2", 5, false));
    assert_null(s3_pct_decode("bad%zz", 6, false));
    assert_null(s3_pct_decode("nul%00", 6, false));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signed_aws_vector),
        cmocka_unit_test(test_signed_trailer_vector),
        cmocka_unit_test(test_signed_bad_chunk_signature),
        cmocka_unit_test(test_signed_requires_signature),
        cmocka_unit_test(test_unsigned_trailer),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_checksums),
        cmocka_unit_test(test_xml_escape),
        cmocka_unit_test(test_url_codecs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
