/* Minimal certificate factory for the demo and tests; see certgen.h. */
#include <string.h>

#include <mbedtls/bignum.h>
#include <mbedtls/dhm.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/x509_crt.h>

#include "certgen.h"

int certgen_rng_init(certgen_rng *r) {
  static const char pers[] = "hotssl certgen";
  mbedtls_entropy_init(&r->entropy);
  mbedtls_ctr_drbg_init(&r->drbg);
  return mbedtls_ctr_drbg_seed(&r->drbg, mbedtls_entropy_func, &r->entropy,
                               (const unsigned char *)pers, sizeof pers - 1);
}

void certgen_rng_free(certgen_rng *r) {
  mbedtls_ctr_drbg_free(&r->drbg);
  mbedtls_entropy_free(&r->entropy);
}

int certgen_parse_keyfile(mbedtls_pk_context *key, const char *path, mbedtls_ctr_drbg_context *drbg) {
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
  return mbedtls_pk_parse_keyfile(key, path, NULL, mbedtls_ctr_drbg_random, drbg);
#else
  (void)drbg;
  return mbedtls_pk_parse_keyfile(key, path, NULL);
#endif
}

int certgen_key(mbedtls_pk_context *key, certgen_rng *r) {
  int ret = mbedtls_pk_setup(key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
  if (ret != 0)
    return ret;
  return mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*key),
                             mbedtls_ctr_drbg_random, &r->drbg);
}

int certgen_key_pem(mbedtls_pk_context *key, char *buf, size_t len) {
  return mbedtls_pk_write_key_pem(key, (unsigned char *)buf, len);
}

int certgen_cert(mbedtls_pk_context *subject_key, const char *subject,
                 mbedtls_pk_context *issuer_key, const char *issuer,
                 unsigned long serial, const char *not_before, const char *not_after,
                 int is_ca, certgen_rng *r, char *buf, size_t len) {
  mbedtls_x509write_cert w;
  mbedtls_mpi sn;
  int ret;
  mbedtls_x509write_crt_init(&w);
  mbedtls_mpi_init(&sn);
  mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
  mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
  mbedtls_x509write_crt_set_subject_key(&w, subject_key);
  mbedtls_x509write_crt_set_issuer_key(&w, issuer_key);
  if ((ret = mbedtls_mpi_lset(&sn, (mbedtls_mpi_sint)serial)) != 0 ||
      (ret = mbedtls_x509write_crt_set_serial(&w, &sn)) != 0 ||
      (ret = mbedtls_x509write_crt_set_subject_name(&w, subject)) != 0 ||
      (ret = mbedtls_x509write_crt_set_issuer_name(&w, issuer)) != 0 ||
      (ret = mbedtls_x509write_crt_set_validity(&w, not_before, not_after)) != 0 ||
      (ret = mbedtls_x509write_crt_set_basic_constraints(&w, is_ca, -1)) != 0 ||
      (ret = mbedtls_x509write_crt_set_subject_key_identifier(&w)) != 0 ||
      (ret = mbedtls_x509write_crt_set_authority_key_identifier(&w)) != 0)
    goto out;
  ret = mbedtls_x509write_crt_pem(&w, (unsigned char *)buf, len, mbedtls_ctr_drbg_random, &r->drbg);
out:
  mbedtls_mpi_free(&sn);
  mbedtls_x509write_crt_free(&w);
  return ret;
}

size_t certgen_dh_der(unsigned char *out, size_t len) {
  static const unsigned char p[] = MBEDTLS_DHM_RFC7919_FFDHE2048_P_BIN;
  /* SEQUENCE (264) { INTEGER (257: 0x00 | p), INTEGER 2 } */
  static const unsigned char head[] = {0x30, 0x82, 0x01, 0x08, 0x02, 0x82, 0x01, 0x01, 0x00};
  static const unsigned char g[] = {0x02, 0x01, 0x02};
  if (len < sizeof head + sizeof p + sizeof g)
    return 0;
  memcpy(out, head, sizeof head);
  memcpy(out + sizeof head, p, sizeof p);
  memcpy(out + sizeof head + sizeof p, g, sizeof g);
  return sizeof head + sizeof p + sizeof g;
}
