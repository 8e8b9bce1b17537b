/* core/pkcs8.h — internal. Decrypts PKCS#8 EncryptedPrivateKeyInfo blobs protected
 * with PBES2 (RFC 8018: PBKDF2 with HMAC-SHA1/256/384/512 and AES-128/192/256-CBC),
 * the form OpenSSL 3 writes by default and that mbedTLS 2.28's own
 * mbedtls_pk_parse_key() rejects. The key-loading code calls
 * hotssl__pkcs8_pem_extract() / hotssl__pkcs8_decrypt() first and hands the
 * resulting plain PrivateKeyInfo DER to mbedtls_pk_parse_key(); on
 * HOTSSL__PKCS8_NOT_PBES2 it falls back to mbedtls for everything else. */
#ifndef HOTSSL_CORE_PKCS8_H
#define HOTSSL_CORE_PKCS8_H
#include <stddef.h>
/* Result codes */
#define HOTSSL__PKCS8_OK            0
#define HOTSSL__PKCS8_NOT_PBES2    -1  /* not an EncryptedPrivateKeyInfo with PBES2 we handle: caller falls back to mbedtls */
#define HOTSSL__PKCS8_BAD_FORMAT   -2  /* malformed ASN.1 / parameters */
#define HOTSSL__PKCS8_UNSUPPORTED  -3  /* PBES2 but a PRF or cipher we do not implement (names it in errbuf) */
#define HOTSSL__PKCS8_BAD_PASSWORD -4  /* decryption produced invalid padding or a non-DER result */
#define HOTSSL__PKCS8_NOMEM        -5
#define HOTSSL__PKCS8_TOO_COSTLY   -6  /* iteration count over the cap, or over the time budget (errbuf says which) */

/* One cap for every password-based key form (PBES2/PBKDF2 whatever the
 * cipher, PKCS#12 PBE, PBES1), whichever decoder (ours or mbedTLS's) would
 * run the derivation: nothing sane needs more (OpenSSL writes 2048). */
#define HOTSSL__PKCS8_MAX_ITER 10000000
/* Time budget for deriving one key's decryption key, estimated before any
 * derivation from the CPU time of the same derivation on a smaller count
 * (what it costs on an idle core: a loaded machine does not change the
 * verdict). */
#define HOTSSL__PKCS8_BUDGET_MS 5000u

/* If der is an EncryptedPrivateKeyInfo with a password-based scheme, checks
 * its iteration count against HOTSSL__PKCS8_MAX_ITER and the estimated time of
 * its key derivation against budget_ms (0: no time check), before any
 * derivation. Returns HOTSSL__PKCS8_OK (also for anything that is not such a
 * structure: the decoders judge it), HOTSSL__PKCS8_TOO_COSTLY or
 * HOTSSL__PKCS8_BAD_FORMAT (an iteration count that is not a positive
 * INTEGER), with a reason naming the form and the count in errbuf. */
int hotssl__pkcs8_cost_check(const unsigned char *der, size_t derlen, unsigned budget_ms,
                             char *errbuf, size_t errlen);
/* If `pem` (NUL-terminated text, may contain other text around) holds a
 * "-----BEGIN ENCRYPTED PRIVATE KEY-----" block, returns 1 and sets *der / *derlen to a
 * malloc'ed DER copy of the block (caller zeroizes and frees); 0 if no such block; <0 on a
 * malformed block. Also accept raw DER input (first byte 0x30) via hotssl__pkcs8_decrypt directly. */
int hotssl__pkcs8_pem_extract(const char *pem, size_t len, unsigned char **der, size_t *derlen);
/* Decrypt EncryptedPrivateKeyInfo DER with password. On success *out (a
 * hotssl__secure_alloc buffer, kept out of core dumps; the caller frees it with
 * hotssl__secure_free, which zeroizes) holds the plain PrivateKeyInfo DER,
 * suitable for mbedtls_pk_parse_key(). errbuf gets a short reason. */
int hotssl__pkcs8_decrypt(const unsigned char *der, size_t derlen,
                          const unsigned char *pwd, size_t pwdlen,
                          unsigned char **out, size_t *outlen,
                          char *errbuf, size_t errlen);
#endif
