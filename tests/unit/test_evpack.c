/* Unit tests: the record blob (store/evpack.c): round trips with and
 * without a summary, blobs of every form ever written stay readable
 * (frozen bytes), corrupt blobs are refused, the dictionary never
 * changes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "store/evpack.h"

extern const unsigned char evdict_v1[];
extern const size_t evdict_v1_len;

static const char REC[] = "{\"eventVersion\":\"1.08\",\"eventSource\":\"greengrass.amazonaws.com\","
                          "\"eventName\":\"GetGroup\",\"awsRegion\":\"us-east-1\"}";
static const char SUMM[] = "{\"EventId\":\"e1\",\"EventName\":\"GetGroup\",\"ReadOnly\":\"true\"}";

static size_t unhex(const char *h, unsigned char *out, size_t cap)
{
    size_t n = strlen(h) / 2;
    assert_true(n <= cap);
    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        for (int k = 0; k < 2; k++) {
            char c = h[2 * i + (size_t)k];
            v = v * 16 + (unsigned)(c <= '9' ? c - '0' : c - 'a' + 10);
        }
        out[i] = (unsigned char)v;
    }
    return n;
}

static void round_trip(const char *rec, const char *summ)
{
    size_t n = 0;
    unsigned char *b = evpack_pack(rec, summ, &n);
    assert_non_null(b);
    evpack_buf zb = {0};
    const char *r = NULL, *s = (const char *)1;
    assert_int_equal(evpack_unpack(&zb, b, n, &r, &s), 0);
    assert_string_equal(r, rec);
    if (summ && *summ)
        assert_string_equal(s, summ);
    else
        assert_null(s);
    /* summary not wanted */
    assert_int_equal(evpack_unpack(&zb, b, n, &r, NULL), 0);
    assert_string_equal(r, rec);
    free(b);
    evpack_buf_free(&zb);
}

static void test_round_trip(void **st)
{
    (void)st;
    round_trip(REC, SUMM);
    round_trip(REC, NULL);
    round_trip(REC, "");
    round_trip("", NULL);
    round_trip("{}", "{}");
    /* a record with little in common with the dictionary */
    char odd[3000];
    for (size_t i = 0; i < sizeof odd - 1; i++)
        odd[i] = (char)('!' + (i * 7919) % 90);
    odd[sizeof odd - 1] = '\0';
    round_trip(odd, SUMM);
}

/* the dictionary form is written, and it is much smaller than the text */
static void test_dictionary_form(void **st)
{
    (void)st;
    size_t n = 0;
    unsigned char *b = evpack_pack(REC, SUMM, &n);
    assert_non_null(b);
    assert_int_equal(b[3], 0x81); /* dictionary form, version 1 */
    assert_int_equal(b[0] | (b[1] << 8) | (b[2] << 16), (int)strlen(REC));
    assert_int_equal(b[4] | (b[5] << 8) | (b[6] << 16), (int)strlen(SUMM));
    assert_true(n < (strlen(REC) + strlen(SUMM)) / 3);
    free(b);
}

/* Frozen blobs: written by tools/evdict.py (the same format; evpack.c's
 * output for them is byte-identical), they must unpack in every later
 * version: schema 2's form (no dictionary) and dictionary version 1. */
static const char OLD_V2[] =
    "6f00000039000000480dab564a2d4bcd2b094b2d2acecccf53b25232d433b050d2818806e7971625a70205d38b5253f3d28b128b8bf5"
    "127313abf2f312cb8bf592f373610afd127341cadc534bdc8bf24b0b80c2400541a9e910234b8b7553138b4b740d956aab955c41d679"
    "a60055a71a02d581b998da83521353fcf3722a81ca4a8a4a53956a01ef71388c";
static const char DICT_V1[] = "6f0000813900008c3871efc315af6455af48abcbb0fb1c2555a71a628ed2a02e4e4324d95a00";

static void test_frozen_blobs(void **st)
{
    (void)st;
    const char *forms[] = {OLD_V2, DICT_V1};
    for (size_t f = 0; f < 2; f++) {
        unsigned char blob[256];
        size_t n = unhex(forms[f], blob, sizeof blob);
        evpack_buf zb = {0};
        const char *r = NULL, *s = NULL;
        assert_int_equal(evpack_unpack(&zb, blob, n, &r, &s), 0);
        assert_string_equal(r, REC);
        assert_string_equal(s, SUMM);
        evpack_buf_free(&zb);
    }
    /* evpack_pack writes exactly the frozen version-1 bytes */
    size_t n = 0;
    unsigned char *b = evpack_pack(REC, SUMM, &n);
    unsigned char want[256];
    size_t wn = unhex(DICT_V1, want, sizeof want);
    assert_int_equal(n, wn);
    assert_memory_equal(b, want, wn);
    free(b);
}

/* schema 2 blobs as the old writer made them (its zlib parameters) */
static void test_old_blob_written_by_zlib(void **st)
{
    (void)st;
    size_t n = strlen(REC), m = strlen(SUMM);
    char both[512];
    snprintf(both, sizeof both, "%s%s", REC, SUMM);
    unsigned char blob[1024];
    for (int i = 0; i < 4; i++) {
        blob[i] = (unsigned char)(n >> (8 * i));
        blob[4 + i] = (unsigned char)(m >> (8 * i));
    }
    uLongf zn = sizeof blob - 8;
    assert_int_equal(compress2(blob + 8, &zn, (const Bytef *)both, (uLong)(n + m), 9), Z_OK);
    evpack_buf zb = {0};
    const char *r = NULL, *s = NULL;
    assert_int_equal(evpack_unpack(&zb, blob, 8 + zn, &r, &s), 0);
    assert_string_equal(r, REC);
    assert_string_equal(s, SUMM);
    evpack_buf_free(&zb);
}

/* every single-bit change and every truncation of a blob is refused */
static void test_corrupt_rejected(void **st)
{
    (void)st;
    size_t n = 0;
    unsigned char *b = evpack_pack(REC, SUMM, &n);
    assert_non_null(b);
    evpack_buf zb = {0};
    const char *r = NULL, *s = NULL;
    for (size_t i = 0; i < n; i++)
        for (int bit = 0; bit < 8; bit++) {
            unsigned char *c = malloc(n);
            memcpy(c, b, n);
            c[i] ^= (unsigned char)(1u << bit);
            int rc = evpack_unpack(&zb, c, n, &r, &s);
            /* refused, or (the last byte's padding bits after the end
             * of the deflate stream carry nothing) the very same texts */
            if (rc == 0 && (strcmp(r, REC) != 0 || strcmp(s, SUMM) != 0))
                fail_msg("byte %zu bit %d: a corrupt blob unpacked to other text", i, bit);
            if (rc == 0 && i != n - 1)
                fail_msg("byte %zu bit %d: a corrupt blob unpacked", i, bit);
            free(c);
        }
    for (size_t k = 0; k < n; k++)
        assert_int_equal(evpack_unpack(&zb, b, k, &r, &s), -1);
    /* trailing garbage */
    unsigned char *longer = malloc(n + 1);
    memcpy(longer, b, n);
    longer[n] = 0;
    assert_int_equal(evpack_unpack(&zb, longer, n + 1, &r, &s), -1);
    /* an unknown dictionary version */
    longer[3] = 0x80 | 0x7f;
    assert_int_equal(evpack_unpack(&zb, longer, n, &r, &s), -1);
    free(longer);
    free(b);
    evpack_buf_free(&zb);
}

/* a record over 16 MiB falls back to the form without a dictionary */
static void test_huge_record(void **st)
{
    (void)st;
    size_t big = (16u << 20) + 10;
    char *rec = malloc(big + 1);
    assert_non_null(rec);
    for (size_t i = 0; i < big; i++)
        rec[i] = (char)('a' + i % 23);
    rec[big] = '\0';
    size_t n = 0;
    unsigned char *b = evpack_pack(rec, SUMM, &n);
    assert_non_null(b);
    assert_true((b[3] & 0x80) == 0);
    evpack_buf zb = {0};
    const char *r = NULL, *s = NULL;
    assert_int_equal(evpack_unpack(&zb, b, n, &r, &s), 0);
    assert_true(strcmp(r, rec) == 0);
    assert_string_equal(s, SUMM);
    free(b);
    free(rec);
    evpack_buf_free(&zb);
}

/* The dictionary is part of the on-disk format: its bytes never change
 * (a new dictionary is a new version). */
static void test_dictionary_frozen(void **st)
{
    (void)st;
    assert_int_equal(evdict_v1_len, 16384);
    uLong a = adler32(adler32(0L, Z_NULL, 0), evdict_v1, (uInt)evdict_v1_len);
    assert_int_equal(a, 0xcd31ee02u);
}

/* each thread has its own state: packs and unpacks in parallel */
static void *worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 200; i++) {
        size_t n = 0;
        unsigned char *b = evpack_pack(REC, SUMM, &n);
        evpack_buf zb = {0};
        const char *r = NULL, *s = NULL;
        if (!b || evpack_unpack(&zb, b, n, &r, &s) != 0 || strcmp(r, REC) != 0 || strcmp(s, SUMM) != 0)
            return (void *)1;
        free(b);
        evpack_buf_free(&zb);
    }
    return NULL;
}

static void test_threads(void **st)
{
    (void)st;
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, worker, NULL), 0);
    for (int i = 0; i < 4; i++) {
        void *rv = (void *)1;
        pthread_join(t[i], &rv);
        assert_null(rv);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_dictionary_form),
        cmocka_unit_test(test_frozen_blobs),
        cmocka_unit_test(test_old_blob_written_by_zlib),
        cmocka_unit_test(test_corrupt_rejected),
        cmocka_unit_test(test_huge_record),
        cmocka_unit_test(test_dictionary_frozen),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
