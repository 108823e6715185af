/* ct_digest.h: log file integrity validation (cloudtrail.md §3): per-region
 * RSA-2048 signing keys kept under DATA_DIR, digest signing and checking,
 * ListPublicKeys, and the gzip/SHA-256 helpers delivery and validation
 * share. */
#ifndef GT_CT_DIGEST_H
#define GT_CT_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/call.h"

#define CT_DIGEST_KEY_DAYS 30        /* a key signs for 30 days; valid for 31 */

/* Use DIR/cloudtrail-keys for the key pairs (created 0700, files 0600).
 * Call once before delivery starts; without it ListPublicKeys answers an
 * empty list and signing fails. Returns false (reason in err) on failure. */
bool ct_digest_init(const char *data_dir, char *err, size_t errcap);
/* Forget loaded keys (tests, shutdown). */
void ct_digest_shutdown(void);
/* After ct_digest_init: keep the key pairs in st (documents no API serves)
 * so every node on a shared store signs with and lists the same keys; the
 * files become a cache. Call before any signing; st outlives the keys
 * (ct_digest_shutdown before store_close). Also makes sure home_region
 * has a current key (ListPublicKeys, on a store, lists but never makes keys),
 * in a background thread: returns at once; ListPublicKeys waits for that
 * thread, signing makes the key itself if it comes first; exactly one key
 * per region and period per store. */
void ct_digest_attach_store(store *st, const char *home_region);

/* The ListPublicKeys handler. */
gt_err ct_digest_list_public_keys(gt_call *c, store_txn *t);

/* Sign msg with the region's current key (made on first use). sig_hex gets
 * 512 lower-case hex characters + NUL; fp the key's fingerprint (MD5 of its
 * PKCS#1 DER, 32 hex). False on failure. Thread-safe. */
bool ct_digest_sign(const char *region, const char *msg, char sig_hex[513], char fp[33]);

/* The fingerprint of the region's current signing key (made on first
 * use). False on failure. Thread-safe. */
bool ct_digest_fingerprint(const char *region, char fp[33]);

/* Verify a hex signature over msg with a PKCS#1 RSAPublicKey DER. */
bool ct_digest_verify_der(const unsigned char *der, size_t der_len, const char *msg, const char *sig_hex);

/* The string a digest's signature covers (cloudtrail.md §3.3), malloc'd. */
char *ct_digest_string_to_sign(const char *end_time, const char *bucket, const char *key,
                               const char *hash_hex, const char *prev_sig);

/* One gzip member of in[0..n) (malloc'd into *out). */
bool ct_gzip(const void *in, size_t n, unsigned char **out, size_t *outn);
/* Inflate the first gzip member (at most cap bytes out; malloc'd). */
bool ct_gunzip(const void *in, size_t n, size_t cap, unsigned char **out, size_t *outn);
/* Lower-case hex SHA-256. */
void ct_sha256_hex(const void *data, size_t n, char out[65]);

#endif
