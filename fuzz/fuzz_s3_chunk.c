/*
 * fuzz_s3_chunk.c: libFuzzer target for the aws-chunked decoder and the
 * payload checksums (s3/s3_chunk.c).
 *
 * Input layout:
 *   byte 0   flags: bit 0 = signed chunks (";chunk-signature=" required),
 *                   bit 1 = trailer expected,
 *                   bit 2 = verify signatures with AWS's example key/seed
 *   rest     the body
 * Seeds in fuzz/corpus/s3_chunk/ are valid bodies of each kind. Decoded
 * output is checksummed with every algorithm. Crashes, leaks, sanitizer
 * reports and decoded output longer than the input are the bugs.
 *
 * Build: tools/fuzz-replay (meson -Dfuzz=replay|instrumented, fuzz/meson.build).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "s3/s3_chunk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned flags = data[0];
    static unsigned char key[32];
    static int have_key;
    if (!have_key)
        have_key = s3_signing_key("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20130524", "us-east-1",
                                  "s3", key) ? 1 : -1;
    s3_chunk_sig sig = {
        .signing_key = key,
        .amz_date = "20130524T000000Z",
        .scope = "20130524/us-east-1/s3/aws4_request",
        .seed = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
    };
    s3_chunk_out out;
    char msg[256];
    gt_err e = s3_chunk_decode(data + 1, size - 1, flags & 1, (flags & 2) != 0,
                               (flags & 4) && have_key > 0 ? &sig : NULL, &out, msg, sizeof msg);
    if (e == GT_OK) {
        if (out.len > size - 1)
            abort();
        static const char *const algos[] = {"crc32", "crc32c", "crc64nvme", "sha1", "sha256", "md5"};
        char b64[64];
        for (size_t i = 0; i < sizeof algos / sizeof algos[0]; i++)
            s3_checksum_b64(algos[i], out.data, out.len, b64);
        for (int i = 0; i < out.n_trailers; i++)
            if (strlen(out.trailers[i].name) >= sizeof out.trailers[i].name)
                abort();
        s3_chunk_out_free(&out);
    } else if (out.data) {
        abort();   /* the contract: nothing to free on error */
    }
    return 0;
}
