/*
 * Minimal certificate factory on mbedTLS's x509write, for `hotssl demo` and
 * the tests: EC P-256 keys, a CA, leaves signed by it. Not a PKI tool.
 */
#ifndef HOTSSL_CLI_CERTGEN_H
#define HOTSSL_CLI_CERTGEN_H

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>

typedef struct certgen_rng {
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
} certgen_rng;

int certgen_rng_init(certgen_rng *r);
void certgen_rng_free(certgen_rng *r);

/* mbedtls_pk_parse_keyfile (no password), on mbedTLS 2.28 and 3.x (which
 * takes an RNG). */
int certgen_parse_keyfile(mbedtls_pk_context *key, const char *path, mbedtls_ctr_drbg_context *drbg);

/* New EC P-256 key in *key (initialized by the caller with mbedtls_pk_init). */
int certgen_key(mbedtls_pk_context *key, certgen_rng *r);
/* PEM of the private key into buf. */
int certgen_key_pem(mbedtls_pk_context *key, char *buf, size_t len);

/*
 * Issue a certificate for subject_key with subject name `subject` (e.g.
 * "CN=demo.local"), signed by issuer_key / issuer name (issuer_key ==
 * subject_key and issuer == subject for a self-signed CA). Validity times are
 * "YYYYMMDDhhmmss" (UTC). is_ca sets basicConstraints CA:true. PEM into buf.
 */
int certgen_cert(mbedtls_pk_context *subject_key, const char *subject,
                 mbedtls_pk_context *issuer_key, const char *issuer,
                 unsigned long serial, const char *not_before, const char *not_after,
                 int is_ca, certgen_rng *r, char *buf, size_t len);

/* RFC 7919 ffdhe2048 as PKCS#3 DHParameter DER (an ssl_dh_params_file):
 * the length written, or 0 when len is too small. */
size_t certgen_dh_der(unsigned char *out, size_t len);

#endif
