/* core/pkcs8.c — decryption of PKCS#8 EncryptedPrivateKeyInfo protected with PBES2
 * (RFC 8018): PBKDF2 with hmacWithSHA1 (the default when no PRF is given),
 * hmacWithSHA256/384/512, and AES-128/192/256-CBC. mbedTLS 2.28's
 * mbedtls_pk_parse_key() fails on this, the default output of OpenSSL 3
 * (`openssl genpkey -aes256`, `openssl pkcs8 -topk8 -v2 aes256`), with "PKCS5 -
 * Requested encryption or digest alg not available". The key-loading code calls
 * hotssl__pkcs8_pem_extract() to get the DER out of PEM text and
 * hotssl__pkcs8_decrypt() to turn it into a plain PrivateKeyInfo it then gives to
 * mbedtls_pk_parse_key(); anything that is not PBES2 is reported as
 * HOTSSL__PKCS8_NOT_PBES2 so the caller falls back to mbedtls (PBES1, legacy PEM
 * encryption, unencrypted keys). Input is treated as hostile: every length is
 * checked by mbedtls's ASN.1 reader, the iteration count is bounded, and every
 * secret intermediate is zeroized before it is freed. */
#include "pkcs8.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../os/os.h" /* hotssl__thread_cpu_us, hotssl__secure_alloc */
#include "internal.h"

#include <mbedtls/aes.h>
#include <mbedtls/asn1.h>
#include <mbedtls/base64.h>
#include <mbedtls/md.h>
#include <mbedtls/oid.h>
#include <mbedtls/pkcs12.h>
#include <mbedtls/pkcs5.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/version.h>

/* HOTSSL__PKCS8_MAX_ITER (pkcs8.h): OpenSSL writes 2048 by default and nothing
 * sane goes beyond a few million; without a bound a hostile key file could pin a
 * CPU for hours while we "load a key". */

#define HOTSSL__PKCS8_AES_BLOCK 16
#define HOTSSL__PKCS8_MAX_KEY   32

/* aes-{128,192,256}-cbc: {aes 2}, {aes 22}, {aes 42}. mbedTLS 2.28's oid.h has
 * the AES arc but no CBC-mode OIDs, so they are spelled out here. */
#define HOTSSL__PKCS8_OID_AES128_CBC MBEDTLS_OID_AES "\x02"
#define HOTSSL__PKCS8_OID_AES192_CBC MBEDTLS_OID_AES "\x16"
#define HOTSSL__PKCS8_OID_AES256_CBC MBEDTLS_OID_AES "\x2a"

typedef struct {
  const char *name;
  const char *oid;
  size_t oidlen;
  int value;  /* mbedtls_md_type_t for PRFs, key length in bytes for ciphers */
} hotssl__pkcs8_alg;

/* Everything the decryption needs, pointing into the caller's DER. */
typedef struct {
  const unsigned char *salt;
  size_t saltlen;
  int iter;
  mbedtls_md_type_t md;
  size_t keylen;
  const char *cipher_name;
  unsigned char iv[HOTSSL__PKCS8_AES_BLOCK];
  const unsigned char *ct;
  size_t ctlen;
} hotssl__pkcs8_params;

static void hotssl__pkcs8_err(char *errbuf, size_t errlen, const char *fmt, ...)
{
  if (errbuf == NULL || errlen == 0)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(errbuf, errlen, fmt, ap);
  va_end(ap);
}

/* End of an ASN.1 value: absent parameters have p == NULL and len 0, and
 * NULL + 0 is undefined behaviour in C (UBSan, found by fuzz_pkcs8). */
static const unsigned char *hotssl__pkcs8_end(const mbedtls_asn1_buf *b)
{
  return b->len != 0 ? b->p + b->len : b->p;
}

static int hotssl__pkcs8_oid_eq(const mbedtls_asn1_buf *oid, const char *want, size_t wantlen)
{
  return oid->len == wantlen && memcmp(oid->p, want, wantlen) == 0;
}

static const hotssl__pkcs8_alg *hotssl__pkcs8_find(const hotssl__pkcs8_alg *tab, size_t n,
                                                   const mbedtls_asn1_buf *oid)
{
  for (size_t i = 0; i < n; i++)
    if (hotssl__pkcs8_oid_eq(oid, tab[i].oid, tab[i].oidlen))
      return &tab[i];
  return NULL;
}

/* Names an algorithm we refuse so the user can tell which option to change when
 * re-encrypting: a few well-known ones by name, the rest as a dotted OID. */
static void hotssl__pkcs8_unsupported(char *errbuf, size_t errlen, const char *what,
                                      const mbedtls_asn1_buf *oid)
{
  static const hotssl__pkcs8_alg known[] = {
    { "hmacWithSHA224", MBEDTLS_OID_HMAC_SHA224, MBEDTLS_OID_SIZE(MBEDTLS_OID_HMAC_SHA224), 0 },
    { "des-ede3-cbc", MBEDTLS_OID_DES_EDE3_CBC, MBEDTLS_OID_SIZE(MBEDTLS_OID_DES_EDE3_CBC), 0 },
    { "des-cbc", MBEDTLS_OID_DES_CBC, MBEDTLS_OID_SIZE(MBEDTLS_OID_DES_CBC), 0 },
    { "scrypt", "\x2b\x06\x01\x04\x01\xda\x47\x04\x0b", 9, 0 },
  };
  const hotssl__pkcs8_alg *a = hotssl__pkcs8_find(known, sizeof known / sizeof known[0], oid);
  if (a != NULL) {
    hotssl__pkcs8_err(errbuf, errlen, "PBES2 %s %s not supported", what, a->name);
    return;
  }
  char dotted[64];
  if (mbedtls_oid_get_numeric_string(dotted, sizeof dotted, oid) < 0)
    snprintf(dotted, sizeof dotted, "(unprintable OID)");
  hotssl__pkcs8_err(errbuf, errlen, "PBES2 %s %s not supported", what, dotted);
}

/* Reads a tag and length header without requiring the content to fit before
 * `end`. Used only to recognise a PBES2 blob even when it is truncated, so that
 * damage is reported as BAD_FORMAT instead of being handed to mbedtls, whose
 * error for it would be the misleading "alg not available". */
static int hotssl__pkcs8_peek_hdr(const unsigned char **p, const unsigned char *end,
                                  unsigned char tag, size_t *len)
{
  const unsigned char *q = *p;
  if (end - q < 2 || q[0] != tag)
    return -1;
  q++;
  if ((*q & 0x80) == 0) {
    *len = *q++;
  } else {
    size_t n = *q++ & 0x7f;
    if (n == 0 || n > 4 || (size_t) (end - q) < n)
      return -1;
    *len = 0;
    while (n-- > 0)
      *len = (*len << 8) | *q++;
  }
  *p = q;
  return 0;
}

static int hotssl__pkcs8_looks_pbes2(const unsigned char *der, size_t derlen)
{
  static const char pbes2[] = MBEDTLS_OID_PKCS5_PBES2;
  const unsigned char *p = der, *end = der + derlen;
  size_t len;
  if (hotssl__pkcs8_peek_hdr(&p, end, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE, &len) != 0 ||
      hotssl__pkcs8_peek_hdr(&p, end, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE, &len) != 0 ||
      hotssl__pkcs8_peek_hdr(&p, end, MBEDTLS_ASN1_OID, &len) != 0)
    return 0;
  return len == sizeof pbes2 - 1 && (size_t) (end - p) >= len && memcmp(p, pbes2, len) == 0;
}

/* PBKDF2-params ::= SEQUENCE { salt CHOICE { specified OCTET STRING, otherSource
 *   AlgorithmIdentifier }, iterationCount INTEGER, keyLength INTEGER OPTIONAL,
 *   prf AlgorithmIdentifier DEFAULT hmacWithSHA1 } */
static int hotssl__pkcs8_parse_pbkdf2(const mbedtls_asn1_buf *params, hotssl__pkcs8_params *out,
                                      char *errbuf, size_t errlen)
{
  static const hotssl__pkcs8_alg prfs[] = {
    { "hmacWithSHA1", MBEDTLS_OID_HMAC_SHA1, MBEDTLS_OID_SIZE(MBEDTLS_OID_HMAC_SHA1), MBEDTLS_MD_SHA1 },
    { "hmacWithSHA256", MBEDTLS_OID_HMAC_SHA256, MBEDTLS_OID_SIZE(MBEDTLS_OID_HMAC_SHA256), MBEDTLS_MD_SHA256 },
    { "hmacWithSHA384", MBEDTLS_OID_HMAC_SHA384, MBEDTLS_OID_SIZE(MBEDTLS_OID_HMAC_SHA384), MBEDTLS_MD_SHA384 },
    { "hmacWithSHA512", MBEDTLS_OID_HMAC_SHA512, MBEDTLS_OID_SIZE(MBEDTLS_OID_HMAC_SHA512), MBEDTLS_MD_SHA512 },
  };
  const hotssl__pkcs8_alg *prf = &prfs[0];
  unsigned char *p = params->p;
  const unsigned char *end = hotssl__pkcs8_end(params);
  size_t len;

  if (params->tag != (MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)) {
    hotssl__pkcs8_err(errbuf, errlen, "PBKDF2 parameters are not a SEQUENCE");
    return HOTSSL__PKCS8_BAD_FORMAT;
  }
  if (p < end && *p == (MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)) {
    hotssl__pkcs8_err(errbuf, errlen, "PBKDF2 salt otherSource not supported");
    return HOTSSL__PKCS8_UNSUPPORTED;
  }
  if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_OCTET_STRING) != 0) {
    hotssl__pkcs8_err(errbuf, errlen, "bad PBKDF2 salt");
    return HOTSSL__PKCS8_BAD_FORMAT;
  }
  out->salt = p;
  out->saltlen = len;
  p += len;

  /* get_int rejects negative and over-long values itself; the range check is
   * ours because the RFC's 1..MAX would let a file ask for 2^31 rounds. */
  if (mbedtls_asn1_get_int(&p, end, &out->iter) != 0 || out->iter < 1 ||
      out->iter > HOTSSL__PKCS8_MAX_ITER) {
    hotssl__pkcs8_err(errbuf, errlen, "PBKDF2 iteration count missing or out of range 1..%d",
                      HOTSSL__PKCS8_MAX_ITER);
    return HOTSSL__PKCS8_BAD_FORMAT;  /* unreachable after the cost check; kept as a second guard */
  }

  if (p < end && *p == MBEDTLS_ASN1_INTEGER) {
    int keylen;
    if (mbedtls_asn1_get_int(&p, end, &keylen) != 0 || keylen < 0 ||
        (size_t) keylen != out->keylen) {
      hotssl__pkcs8_err(errbuf, errlen, "PBKDF2 keyLength does not match %s", out->cipher_name);
      return HOTSSL__PKCS8_BAD_FORMAT;
    }
  }

  if (p < end) {
    mbedtls_asn1_buf oid, prf_params;
    if (mbedtls_asn1_get_alg(&p, end, &oid, &prf_params) != 0) {
      hotssl__pkcs8_err(errbuf, errlen, "bad PBKDF2 prf AlgorithmIdentifier");
      return HOTSSL__PKCS8_BAD_FORMAT;
    }
    prf = hotssl__pkcs8_find(prfs, sizeof prfs / sizeof prfs[0], &oid);
    if (prf == NULL) {
      hotssl__pkcs8_unsupported(errbuf, errlen, "PRF", &oid);
      return HOTSSL__PKCS8_UNSUPPORTED;
    }
    /* The HMAC AlgorithmIdentifiers take NULL or absent parameters; OpenSSL
     * writes NULL, other encoders omit it. Anything else is not HMAC. */
    if (prf_params.tag != 0 && !(prf_params.tag == MBEDTLS_ASN1_NULL && prf_params.len == 0)) {
      hotssl__pkcs8_err(errbuf, errlen, "bad %s parameters", prf->name);
      return HOTSSL__PKCS8_BAD_FORMAT;
    }
  }
  if (p != end) {
    hotssl__pkcs8_err(errbuf, errlen, "trailing data in PBKDF2 parameters");
    return HOTSSL__PKCS8_BAD_FORMAT;
  }

  out->md = (mbedtls_md_type_t) prf->value;
  /* SHA-384/512 may be compiled out of a trimmed mbedtls; ask at run time so
   * the same code builds against any configuration. */
  if (mbedtls_md_info_from_type(out->md) == NULL) {
    hotssl__pkcs8_err(errbuf, errlen, "PBES2 PRF %s not available in this mbedtls build", prf->name);
    return HOTSSL__PKCS8_UNSUPPORTED;
  }
  return HOTSSL__PKCS8_OK;
}

/* PBES2-params ::= SEQUENCE { keyDerivationFunc AlgorithmIdentifier,
 *   encryptionScheme AlgorithmIdentifier } */
static int hotssl__pkcs8_parse_pbes2(const mbedtls_asn1_buf *params, hotssl__pkcs8_params *out,
                                     char *errbuf, size_t errlen)
{
  static const hotssl__pkcs8_alg ciphers[] = {
    { "aes-128-cbc", HOTSSL__PKCS8_OID_AES128_CBC, MBEDTLS_OID_SIZE(HOTSSL__PKCS8_OID_AES128_CBC), 16 },
    { "aes-192-cbc", HOTSSL__PKCS8_OID_AES192_CBC, MBEDTLS_OID_SIZE(HOTSSL__PKCS8_OID_AES192_CBC), 24 },
    { "aes-256-cbc", HOTSSL__PKCS8_OID_AES256_CBC, MBEDTLS_OID_SIZE(HOTSSL__PKCS8_OID_AES256_CBC), 32 },
  };
  unsigned char *p = params->p;
  const unsigned char *end = hotssl__pkcs8_end(params);
  mbedtls_asn1_buf kdf_oid, kdf_params, enc_oid, enc_params;

  if (params->tag != (MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)) {
    hotssl__pkcs8_err(errbuf, errlen, "PBES2 parameters are not a SEQUENCE");
    return HOTSSL__PKCS8_BAD_FORMAT;
  }
  if (mbedtls_asn1_get_alg(&p, end, &kdf_oid, &kdf_params) != 0 ||
      mbedtls_asn1_get_alg(&p, end, &enc_oid, &enc_params) != 0 || p != end) {
    hotssl__pkcs8_err(errbuf, errlen, "malformed PBES2 parameters");
    return HOTSSL__PKCS8_BAD_FORMAT;
  }
  if (!hotssl__pkcs8_oid_eq(&kdf_oid, MBEDTLS_OID_PKCS5_PBKDF2, MBEDTLS_OID_SIZE(MBEDTLS_OID_PKCS5_PBKDF2))) {
    hotssl__pkcs8_unsupported(errbuf, errlen, "key derivation", &kdf_oid);
    return HOTSSL__PKCS8_UNSUPPORTED;
  }
  /* The cipher is looked at first because it fixes the key length that an
   * explicit PBKDF2 keyLength has to agree with. */
  const hotssl__pkcs8_alg *c = hotssl__pkcs8_find(ciphers, sizeof ciphers / sizeof ciphers[0], &enc_oid);
  if (c == NULL) {
    hotssl__pkcs8_unsupported(errbuf, errlen, "cipher", &enc_oid);
    return HOTSSL__PKCS8_UNSUPPORTED;
  }
  out->cipher_name = c->name;
  out->keylen = (size_t) c->value;
  if (enc_params.tag != MBEDTLS_ASN1_OCTET_STRING || enc_params.len != HOTSSL__PKCS8_AES_BLOCK) {
    hotssl__pkcs8_err(errbuf, errlen, "%s IV is not a 16-byte OCTET STRING", c->name);
    return HOTSSL__PKCS8_BAD_FORMAT;
  }
  memcpy(out->iv, enc_params.p, HOTSSL__PKCS8_AES_BLOCK);
  return hotssl__pkcs8_parse_pbkdf2(&kdf_params, out, errbuf, errlen);
}

/* EncryptedPrivateKeyInfo ::= SEQUENCE { encryptionAlgorithm AlgorithmIdentifier,
 *   encryptedData OCTET STRING } */
static int hotssl__pkcs8_parse(const unsigned char *der, size_t derlen, hotssl__pkcs8_params *out,
                               char *errbuf, size_t errlen)
{
  /* mbedtls's reader takes `unsigned char **` but never writes through it. */
  unsigned char *p = (unsigned char *) (uintptr_t) der;
  const unsigned char *end = der + derlen;
  mbedtls_asn1_buf alg_oid, alg_params;
  size_t len;
  int ret;

  if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0 ||
      len != (size_t) (end - p)) {
    hotssl__pkcs8_err(errbuf, errlen, "EncryptedPrivateKeyInfo is truncated or has trailing data");
    return HOTSSL__PKCS8_BAD_FORMAT;
  }
  if (mbedtls_asn1_get_alg(&p, end, &alg_oid, &alg_params) != 0 ||
      !hotssl__pkcs8_oid_eq(&alg_oid, MBEDTLS_OID_PKCS5_PBES2, MBEDTLS_OID_SIZE(MBEDTLS_OID_PKCS5_PBES2))) {
    hotssl__pkcs8_err(errbuf, errlen, "malformed PBES2 AlgorithmIdentifier");
    return HOTSSL__PKCS8_BAD_FORMAT;
  }
  if ((ret = hotssl__pkcs8_parse_pbes2(&alg_params, out, errbuf, errlen)) != HOTSSL__PKCS8_OK)
    return ret;
  if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_OCTET_STRING) != 0 || len != (size_t) (end - p)) {
    hotssl__pkcs8_err(errbuf, errlen, "malformed encryptedData");
    return HOTSSL__PKCS8_BAD_FORMAT;
  }
  if (len == 0 || len % HOTSSL__PKCS8_AES_BLOCK != 0) {
    hotssl__pkcs8_err(errbuf, errlen, "encryptedData length %zu is not a positive multiple of 16", len);
    return HOTSSL__PKCS8_BAD_FORMAT;
  }
  out->ct = p;
  out->ctlen = len;
  return HOTSSL__PKCS8_OK;
}

/* mbedTLS 3 replaced the context-based PBKDF2 with the md-type one and removed
 * the old name unless deprecated APIs are kept; 2.28 only has the old one. */
static int hotssl__pkcs8_pbkdf2(mbedtls_md_type_t md, const unsigned char *pwd, size_t pwdlen,
                                const unsigned char *salt, size_t saltlen, int iter,
                                unsigned char *key, size_t keylen)
{
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
  return mbedtls_pkcs5_pbkdf2_hmac_ext(md, pwd, pwdlen, salt, saltlen, (unsigned int) iter,
                                       (uint32_t) keylen, key);
#else
  mbedtls_md_context_t ctx;
  int ret;
  mbedtls_md_init(&ctx);
  ret = mbedtls_md_setup(&ctx, mbedtls_md_info_from_type(md), 1);
  if (ret == 0)
    ret = mbedtls_pkcs5_pbkdf2_hmac(&ctx, pwd, pwdlen, salt, saltlen, (unsigned int) iter,
                                    (uint32_t) keylen, key);
  mbedtls_md_free(&ctx);  /* also wipes the HMAC pads, which are key material */
  return ret;
#endif
}

/* Strict PKCS#7 padding check over the whole last block, without an early exit
 * on the first bad byte (a padding oracle is not much of a threat for a local key
 * file, but it costs nothing). Returns the unpadded length or 0 if invalid. */
static size_t hotssl__pkcs8_unpad(const unsigned char *buf, size_t len)
{
  unsigned pad = buf[len - 1];
  unsigned bad = (pad == 0) | (pad > HOTSSL__PKCS8_AES_BLOCK);
  for (unsigned i = 1; i <= HOTSSL__PKCS8_AES_BLOCK; i++) {
    unsigned in_pad = i <= pad;
    bad |= in_pad & (buf[len - i] != pad);
  }
  return bad ? 0 : len - pad;
}

/* A wrong password yields valid-looking padding about once in 256 tries, so the
 * plaintext must also look like a PrivateKeyInfo: one SEQUENCE filling it exactly
 * and starting with version 0 or 1 (RFC 5958). */
static int hotssl__pkcs8_plain_ok(unsigned char *buf, size_t len)
{
  unsigned char *p = buf;
  const unsigned char *end = buf + len;
  size_t seqlen;
  int version;
  if (mbedtls_asn1_get_tag(&p, end, &seqlen, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0 ||
      seqlen != (size_t) (end - p))
    return 0;
  if (mbedtls_asn1_get_int(&p, end, &version) != 0 || (version != 0 && version != 1))
    return 0;
  return 1;
}

int hotssl__pkcs8_decrypt(const unsigned char *der, size_t derlen,
                          const unsigned char *pwd, size_t pwdlen,
                          unsigned char **out, size_t *outlen,
                          char *errbuf, size_t errlen)
{
  hotssl__pkcs8_params prm;
  unsigned char key[HOTSSL__PKCS8_MAX_KEY];
  unsigned char iv[HOTSSL__PKCS8_AES_BLOCK];
  unsigned char *buf;
  mbedtls_aes_context aes;
  size_t ptlen;
  int ret;

  hotssl__pkcs8_err(errbuf, errlen, "%s", "");
  if (out != NULL)
    *out = NULL;
  if (outlen != NULL)
    *outlen = 0;
  if (out == NULL || outlen == NULL || (der == NULL && derlen != 0) || (pwd == NULL && pwdlen != 0)) {
    hotssl__pkcs8_err(errbuf, errlen, "invalid arguments");
    return HOTSSL__PKCS8_BAD_FORMAT;
  }
  if (der == NULL || !hotssl__pkcs8_looks_pbes2(der, derlen)) {
    hotssl__pkcs8_err(errbuf, errlen, "not a PBES2 EncryptedPrivateKeyInfo");
    return HOTSSL__PKCS8_NOT_PBES2;
  }
  if ((ret = hotssl__pkcs8_cost_check(der, derlen, HOTSSL__PKCS8_BUDGET_MS, errbuf, errlen)) != 0)
    return ret;
  memset(&prm, 0, sizeof prm);
  if ((ret = hotssl__pkcs8_parse(der, derlen, &prm, errbuf, errlen)) != HOTSSL__PKCS8_OK)
    return ret;
  if (pwd == NULL)
    pwd = (const unsigned char *) "";  /* empty password: keep mbedtls away from NULL */

  ret = hotssl__pkcs8_pbkdf2(prm.md, pwd, pwdlen, prm.salt, prm.saltlen, prm.iter, key, prm.keylen);
  if (ret != 0) {
    mbedtls_platform_zeroize(key, sizeof key);
    if (ret == MBEDTLS_ERR_MD_ALLOC_FAILED) {
      hotssl__pkcs8_err(errbuf, errlen, "out of memory in PBKDF2");
      return HOTSSL__PKCS8_NOMEM;
    }
    hotssl__pkcs8_err(errbuf, errlen, "PBKDF2 failed (mbedtls -0x%04x)", (unsigned) -ret);
    return HOTSSL__PKCS8_UNSUPPORTED;
  }

  buf = hotssl__secure_alloc(prm.ctlen); /* becomes the plain key: kept out of core dumps */
  if (buf == NULL) {
    mbedtls_platform_zeroize(key, sizeof key);
    hotssl__pkcs8_err(errbuf, errlen, "out of memory");
    return HOTSSL__PKCS8_NOMEM;
  }
  memcpy(iv, prm.iv, sizeof iv);  /* mbedtls_aes_crypt_cbc advances the IV in place */
  mbedtls_aes_init(&aes);
  ret = mbedtls_aes_setkey_dec(&aes, key, (unsigned int) (prm.keylen * 8));
  mbedtls_platform_zeroize(key, sizeof key);  /* the expanded schedule is all we need now */
  if (ret == 0)
    ret = mbedtls_aes_crypt_cbc(&aes, MBEDTLS_AES_DECRYPT, prm.ctlen, iv, prm.ct, buf);
  mbedtls_aes_free(&aes);  /* zeroizes the round keys */
  if (ret != 0) {
    hotssl__secure_free(buf); /* zeroizes */
    hotssl__pkcs8_err(errbuf, errlen, "%s failed (mbedtls -0x%04x)", prm.cipher_name, (unsigned) -ret);
    return HOTSSL__PKCS8_UNSUPPORTED;
  }

  ptlen = hotssl__pkcs8_unpad(buf, prm.ctlen);
  if (ptlen == 0 || !hotssl__pkcs8_plain_ok(buf, ptlen)) {
    hotssl__secure_free(buf); /* zeroizes */
    hotssl__pkcs8_err(errbuf, errlen, "wrong password (or corrupted key)");
    return HOTSSL__PKCS8_BAD_PASSWORD;
  }
  /* The caller only learns ptlen, so it would zeroize only that much; clear the
   * padding bytes now so that nothing past ptlen is left for it to miss. */
  mbedtls_platform_zeroize(buf + ptlen, prm.ctlen - ptlen);
  *out = buf;
  *outlen = ptlen;
  return HOTSSL__PKCS8_OK;
}

/* ---- the cost of a password-based key, before any derivation ---- */

/* PKCS#12 PBE (1.2.840.113549.1.12.1.x) and PBES1 (1.2.840.113549.1.5.x) arcs. */
#define HOTSSL__PKCS8_OID_PKCS12_PBE "\x2a\x86\x48\x86\xf7\x0d\x01\x0c\x01"
#define HOTSSL__PKCS8_OID_PKCS5 "\x2a\x86\x48\x86\xf7\x0d\x01\x05"

typedef struct {
  const char *form;
  uint64_t iter;       /* as written (may exceed INT_MAX) */
  int kdf;             /* 1 PBKDF2, 2 PKCS#12 KDF, 0 none we can time */
  mbedtls_md_type_t md;
  size_t keylen;       /* derived key length (PBKDF2) */
  const unsigned char *salt;
  size_t saltlen;
} hotssl__pkcs8_cost;

/* An INTEGER read by hand so that any count can be reported, however large:
 * 1 and *v on a non-negative value (UINT64_MAX if it does not fit), 0 if it is
 * not an INTEGER or is negative or empty. */
static int hotssl__pkcs8_get_count(unsigned char **p, const unsigned char *end, uint64_t *v)
{
  size_t len;
  if (mbedtls_asn1_get_tag(p, end, &len, MBEDTLS_ASN1_INTEGER) != 0 || len == 0 || (**p & 0x80))
    return 0;
  *v = 0;
  for (size_t i = 0; i < len; i++) {
    if (*v > (UINT64_MAX >> 8))
      *v = UINT64_MAX;
    else
      *v = (*v << 8) | (*p)[i];
  }
  *p += len;
  return 1;
}

/* { salt OCTET STRING, iterationCount INTEGER } (PKCS#12 PBE and PBES1) */
static int hotssl__pkcs8_salt_count(const mbedtls_asn1_buf *params, hotssl__pkcs8_cost *c)
{
  unsigned char *p = params->p;
  const unsigned char *end = hotssl__pkcs8_end(params);
  size_t len;
  if (params->tag != (MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) ||
      mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_OCTET_STRING) != 0)
    return 0;
  c->salt = p;
  c->saltlen = len;
  p += len;
  return hotssl__pkcs8_get_count(&p, end, &c->iter);
}

/* PBES2 with PBKDF2, whatever the cipher and PRF (unknown ones are left to
 * the decoders to refuse: they derive nothing). */
static int hotssl__pkcs8_pbes2_count(const mbedtls_asn1_buf *params, hotssl__pkcs8_cost *c)
{
  unsigned char *p = params->p, *q;
  const unsigned char *end = hotssl__pkcs8_end(params), *qend;
  mbedtls_asn1_buf kdf_oid, kdf_params, enc_oid, enc_params;
  size_t len;
  if (params->tag != (MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) ||
      mbedtls_asn1_get_alg(&p, end, &kdf_oid, &kdf_params) != 0 ||
      !hotssl__pkcs8_oid_eq(&kdf_oid, MBEDTLS_OID_PKCS5_PBKDF2, MBEDTLS_OID_SIZE(MBEDTLS_OID_PKCS5_PBKDF2)))
    return -1; /* not PBKDF2: nothing to count */
  c->keylen = 32;
  if (mbedtls_asn1_get_alg(&p, end, &enc_oid, &enc_params) == 0) {
    if (hotssl__pkcs8_oid_eq(&enc_oid, MBEDTLS_OID_DES_EDE3_CBC, MBEDTLS_OID_SIZE(MBEDTLS_OID_DES_EDE3_CBC)))
      c->keylen = 24;
    else if (hotssl__pkcs8_oid_eq(&enc_oid, MBEDTLS_OID_DES_CBC, MBEDTLS_OID_SIZE(MBEDTLS_OID_DES_CBC)))
      c->keylen = 8;
    else if (enc_oid.len == MBEDTLS_OID_SIZE(HOTSSL__PKCS8_OID_AES128_CBC) &&
             memcmp(enc_oid.p, MBEDTLS_OID_AES, MBEDTLS_OID_SIZE(MBEDTLS_OID_AES)) == 0)
      c->keylen = enc_oid.p[enc_oid.len - 1] == 0x02 ? 16 : enc_oid.p[enc_oid.len - 1] == 0x16 ? 24 : 32;
  }
  if (kdf_params.tag != (MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE))
    return 0;
  q = kdf_params.p;
  qend = hotssl__pkcs8_end(&kdf_params);
  if (mbedtls_asn1_get_tag(&q, qend, &len, MBEDTLS_ASN1_OCTET_STRING) != 0)
    return -1; /* otherSource salt: refused by every decoder before deriving */
  c->salt = q;
  c->saltlen = len;
  q += len;
  if (!hotssl__pkcs8_get_count(&q, qend, &c->iter))
    return 0;
  c->md = MBEDTLS_MD_SHA1;
  if (q < qend && *q == MBEDTLS_ASN1_INTEGER) {
    uint64_t kl;
    if (!hotssl__pkcs8_get_count(&q, qend, &kl))
      return 0;
  }
  if (q < qend) {
    mbedtls_asn1_buf prf_oid, prf_params;
    if (mbedtls_asn1_get_alg(&q, qend, &prf_oid, &prf_params) == 0 &&
        mbedtls_oid_get_md_hmac(&prf_oid, &c->md) != 0)
      c->md = MBEDTLS_MD_SHA512; /* unknown PRF: refused later; time the dearest */
  }
  c->kdf = 1;
  return 1;
}

/* Milliseconds for `iter` rounds of c's derivation, extrapolated from the
 * CPU time of the same derivation (same hash, key length, salt) on a count
 * doubled until it costs 25 ms of this thread's CPU: the estimate costs at
 * most ~50 ms, and is not inflated when other processes hold the CPU (a
 * wall-clock calibration over a few ms was: up to 3x on a loaded machine,
 * refusing a key at one reload and accepting it at the next). */
static uint64_t hotssl__pkcs8_estimate_ms(const hotssl__pkcs8_cost *c)
{
  unsigned char out[64];
  uint64_t n = 1024, t0, dt;
  for (;;) {
    int ret = -1;
    t0 = hotssl__thread_cpu_us();
    if (c->kdf == 1) {
      ret = hotssl__pkcs8_pbkdf2(c->md, (const unsigned char *) "", 0, c->salt, c->saltlen, (int) n,
                                 out, c->keylen < sizeof out ? c->keylen : sizeof out);
    }
#if defined(MBEDTLS_PKCS12_C)
    else if (c->kdf == 2) {
      /* 3DES: key (24 bytes) and IV (8 bytes) are two derivations. */
      static const unsigned char nul2[2] = { 0, 0 };
      ret = mbedtls_pkcs12_derivation(out, 24, nul2, sizeof nul2, c->salt, c->saltlen,
                                      MBEDTLS_MD_SHA1, MBEDTLS_PKCS12_DERIVE_KEY, (int) n);
      if (ret == 0)
        ret = mbedtls_pkcs12_derivation(out, 8, nul2, sizeof nul2, c->salt, c->saltlen,
                                        MBEDTLS_MD_SHA1, MBEDTLS_PKCS12_DERIVE_IV, (int) n);
    }
#endif
    dt = hotssl__thread_cpu_us() - t0;
    mbedtls_platform_zeroize(out, sizeof out);
    if (ret != 0)
      return 0; /* not derivable here: the decoder refuses it without deriving */
    if (dt >= 25000 || n >= c->iter)
      return (n >= c->iter ? dt : (dt * c->iter) / n) / 1000;
    n *= 2;
  }
}

int hotssl__pkcs8_cost_check(const unsigned char *der, size_t derlen, unsigned budget_ms,
                             char *errbuf, size_t errlen)
{
  unsigned char *p = (unsigned char *) (uintptr_t) der;
  const unsigned char *end = der + derlen;
  mbedtls_asn1_buf oid, params;
  hotssl__pkcs8_cost c;
  size_t len;
  int ok;

  if (der == NULL || mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0 ||
      mbedtls_asn1_get_alg(&p, p + len, &oid, &params) != 0)
    return HOTSSL__PKCS8_OK;
  memset(&c, 0, sizeof c);
  if (hotssl__pkcs8_oid_eq(&oid, MBEDTLS_OID_PKCS5_PBES2, MBEDTLS_OID_SIZE(MBEDTLS_OID_PKCS5_PBES2))) {
    c.form = "PBES2 (PBKDF2)";
    ok = hotssl__pkcs8_pbes2_count(&params, &c);
    if (ok < 0)
      return HOTSSL__PKCS8_OK;
  } else if (oid.len == MBEDTLS_OID_SIZE(HOTSSL__PKCS8_OID_PKCS12_PBE) + 1 &&
             memcmp(oid.p, HOTSSL__PKCS8_OID_PKCS12_PBE, oid.len - 1) == 0) {
    c.form = "PKCS#12 PBE";
    ok = hotssl__pkcs8_salt_count(&params, &c);
    /* mbedTLS decrypts the two 3DES forms (.3 and .4); time those. */
    if (oid.p[oid.len - 1] == 3 || oid.p[oid.len - 1] == 4)
      c.kdf = 2;
  } else if (oid.len == MBEDTLS_OID_SIZE(HOTSSL__PKCS8_OID_PKCS5) + 1 &&
             memcmp(oid.p, HOTSSL__PKCS8_OID_PKCS5, oid.len - 1) == 0 &&
             oid.p[oid.len - 1] != 12 && oid.p[oid.len - 1] != 13 && oid.p[oid.len - 1] != 14) {
    c.form = "PBES1"; /* no decoder here derives it; the count is still bounded */
    ok = hotssl__pkcs8_salt_count(&params, &c);
  } else {
    return HOTSSL__PKCS8_OK;
  }
  if (!ok || c.iter < 1) {
    hotssl__pkcs8_err(errbuf, errlen, "%s iteration count missing or not a positive INTEGER", c.form);
    return HOTSSL__PKCS8_BAD_FORMAT;
  }
  if (c.iter > HOTSSL__PKCS8_MAX_ITER) {
    if (c.iter == UINT64_MAX)
      hotssl__pkcs8_err(errbuf, errlen, "%s iteration count over 2^64 exceeds the limit of %d",
                        c.form, HOTSSL__PKCS8_MAX_ITER);
    else
      hotssl__pkcs8_err(errbuf, errlen, "%s iteration count %llu exceeds the limit of %d", c.form,
                        (unsigned long long) c.iter, HOTSSL__PKCS8_MAX_ITER);
    return HOTSSL__PKCS8_TOO_COSTLY;
  }
  if (budget_ms != 0 && c.kdf != 0 && c.iter > 2048) {
    uint64_t est = hotssl__pkcs8_estimate_ms(&c);
    if (est > budget_ms) {
      hotssl__pkcs8_err(errbuf, errlen,
                        "%s iteration count %llu would take about %llu ms to derive the key, over the budget of %u ms",
                        c.form, (unsigned long long) c.iter, (unsigned long long) est, budget_ms);
      return HOTSSL__PKCS8_TOO_COSTLY;
    }
  }
  return HOTSSL__PKCS8_OK;
}

/* Bounded substring search: the input may be binary (DER handed to us by
 * mistake) or not NUL-terminated within `len`, so strstr() is not usable. */
static const char *hotssl__pkcs8_find_str(const char *hay, const char *end, const char *needle)
{
  size_t n = strlen(needle);
  for (const char *p = hay; (size_t) (end - p) >= n; p++)
    if (memcmp(p, needle, n) == 0)
      return p;
  return NULL;
}

static int hotssl__pkcs8_is_b64(char c)
{
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         c == '+' || c == '/' || c == '=';
}

int hotssl__pkcs8_pem_extract(const char *pem, size_t len, unsigned char **der, size_t *derlen)
{
  static const char begin[] = "-----BEGIN ENCRYPTED PRIVATE KEY-----";
  static const char endm[] = "-----END ENCRYPTED PRIVATE KEY-----";
  const char *end, *body, *stop, *nul;
  unsigned char *b64, *bin;
  size_t b64len = 0, binlen = 0, bincap;
  int ret;

  if (der != NULL)
    *der = NULL;
  if (derlen != NULL)
    *derlen = 0;
  if (pem == NULL || der == NULL || derlen == NULL)
    return HOTSSL__PKCS8_BAD_FORMAT;

  /* Callers following the mbedtls convention count the terminating NUL in len;
   * either way nothing past the first NUL is text. */
  end = pem + len;
  nul = memchr(pem, '\0', len);
  if (nul != NULL)
    end = nul;

  body = hotssl__pkcs8_find_str(pem, end, begin);
  if (body == NULL)
    return 0;
  body += sizeof begin - 1;
  while (body < end && (*body == ' ' || *body == '\t'))
    body++;
  if (body < end && *body == '\r')
    body++;
  if (body >= end || *body != '\n')
    return HOTSSL__PKCS8_BAD_FORMAT;
  stop = hotssl__pkcs8_find_str(body, end, endm);
  if (stop == NULL)
    return HOTSSL__PKCS8_BAD_FORMAT;

  /* RFC 1421 headers (Proc-Type/DEK-Info) mean legacy OpenSSL encryption, which
   * mbedtls decrypts itself; base64 never contains ':', so one marks a header. */
  if (memchr(body, ':', (size_t) (stop - body)) != NULL)
    return 0;

  /* Collect the base64 characters only: mbedtls_base64_decode copes with LF and
   * CRLF but not with tabs or trailing spaces that editors leave behind. */
  b64 = malloc((size_t) (stop - body) + 1);
  if (b64 == NULL)
    return HOTSSL__PKCS8_NOMEM;
  for (const char *p = body; p < stop; p++) {
    if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
      continue;
    if (!hotssl__pkcs8_is_b64(*p)) {
      free(b64);
      return HOTSSL__PKCS8_BAD_FORMAT;
    }
    b64[b64len++] = (unsigned char) *p;
  }
  if (b64len == 0) {
    free(b64);
    return HOTSSL__PKCS8_BAD_FORMAT;
  }

  /* First call only sizes the output (it reports BUFFER_TOO_SMALL with the
   * needed length) and validates the text. */
  ret = mbedtls_base64_decode(NULL, 0, &binlen, b64, b64len);
  if (ret != MBEDTLS_ERR_BASE64_BUFFER_TOO_SMALL || binlen == 0) {
    free(b64);
    return HOTSSL__PKCS8_BAD_FORMAT;
  }
  bincap = binlen;
  bin = malloc(bincap);
  if (bin == NULL) {
    free(b64);
    return HOTSSL__PKCS8_NOMEM;
  }
  ret = mbedtls_base64_decode(bin, bincap, &binlen, b64, b64len);
  free(b64);  /* ciphertext encoding, not secret */
  if (ret != 0 || binlen == 0) {
    mbedtls_platform_zeroize(bin, bincap);
    free(bin);
    return HOTSSL__PKCS8_BAD_FORMAT;
  }
  *der = bin;
  *derlen = binlen;
  return 1;
}
