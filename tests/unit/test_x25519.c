/*
 * X25519 known answers (RFC 7748) through the calls a TLS handshake makes
 * with the mbedTLS this build links:
 *   - mbedTLS 3.x: PSA, as TLS 1.3's key share does (psa_import_key of a
 *     Montgomery key pair, psa_export_public_key: X25519(k, 9), and
 *     psa_raw_key_agreement), plus 16 random key pairs from psa_generate_key
 *     whose shared secrets `openssl pkeyutl -derive` recomputes;
 *   - every version: the legacy ECDH functions TLS 1.2 uses
 *     (mbedtls_ecdh_compute_shared, mbedtls_ecp_mul with the base point).
 * Vectors: RFC 7748 5.2 (two single scalar multiplications, with a
 * u-coordinate whose top bit must be ignored; the iterated test, 1 and 1,000
 * iterations) and 6.1 (Alice and Bob). A low-order peer point must be refused.
 * Which implementation runs (Everest's HACL* through hotssl's mbedTLS patch,
 * or mbedTLS's generic ladder) is printed, not assumed: the answers must be
 * the same.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdh.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/platform_util.h>
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#  include <psa/crypto.h>
#endif

#include "testutil.h"

static int checks;
#define T(cond) do { checks++; CHECK(cond); } while (0)
#define TEQ(a, b) do { checks++; CHECK_EQ_INT(a, b); } while (0)

typedef struct vec {
  const char *k, *u, *out;
} vec;

static const vec vectors[] = {
    /* RFC 7748 5.2 */
    {"a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
     "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
     "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"},
    {"4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
     "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
     "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957"},
    /* RFC 7748 6.1: Alice's and Bob's public keys, then the shared secret
     * both ways */
    {"77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
     "0900000000000000000000000000000000000000000000000000000000000000",
     "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"},
    {"5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
     "0900000000000000000000000000000000000000000000000000000000000000",
     "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"},
    {"77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
     "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
     "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"},
    {"5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
     "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
     "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"},
};
#define ITER_1 "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079"
#define ITER_1000 "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51"
/* A point of order 8 (RFC 7748's "small order" inputs, as listed by
 * libsodium and mbedTLS's ecp_check_bad_points_mx). */
#define LOW_ORDER "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"

static void unhex(const char *h, unsigned char out[32]) {
  for (int i = 0; i < 32; i++) {
    unsigned v;
    CHECK(sscanf(h + 2 * i, "%2x", &v) == 1);
    out[i] = (unsigned char)v;
  }
}

static mbedtls_ctr_drbg_context drbg;

/* The legacy path: X25519(k, u) with mbedtls_ecdh_compute_shared (u = 9 goes
 * through mbedtls_ecp_mul with the group's base point instead, as key
 * generation does). Returns 0 or the mbedTLS error. */
static int legacy_x25519(const unsigned char k[32], const unsigned char u[32], unsigned char out[32]) {
  mbedtls_ecp_group grp;
  mbedtls_mpi d, z;
  mbedtls_ecp_point Q;
  unsigned char nine[32] = {9};
  int r;
  size_t olen = 0;
  mbedtls_ecp_group_init(&grp);
  mbedtls_mpi_init(&d);
  mbedtls_mpi_init(&z);
  mbedtls_ecp_point_init(&Q);
  CHECK(mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_CURVE25519) == 0);
  /* Clamp as RFC 7748's decodeScalar25519 (and mbedtls_ecp_read_key) do. */
  CHECK(mbedtls_mpi_read_binary_le(&d, k, 32) == 0);
  CHECK(mbedtls_mpi_set_bit(&d, 0, 0) == 0);
  CHECK(mbedtls_mpi_set_bit(&d, 1, 0) == 0);
  CHECK(mbedtls_mpi_set_bit(&d, 2, 0) == 0);
  CHECK(mbedtls_mpi_set_bit(&d, 254, 1) == 0);
  CHECK(mbedtls_mpi_set_bit(&d, 255, 0) == 0);
  if (memcmp(u, nine, 32) == 0) {
    r = mbedtls_ecp_mul(&grp, &Q, &d, &grp.G, mbedtls_ctr_drbg_random, &drbg);
    if (r == 0)
      r = mbedtls_ecp_point_write_binary(&grp, &Q, MBEDTLS_ECP_PF_UNCOMPRESSED, &olen, out, 32);
  } else {
    r = mbedtls_ecp_point_read_binary(&grp, &Q, u, 32);
    if (r == 0)
      r = mbedtls_ecdh_compute_shared(&grp, &z, &Q, &d, mbedtls_ctr_drbg_random, &drbg);
    if (r == 0)
      r = mbedtls_mpi_write_binary_le(&z, out, 32);
  }
  mbedtls_ecp_group_free(&grp);
  mbedtls_mpi_free(&d);
  mbedtls_mpi_free(&z);
  mbedtls_ecp_point_free(&Q);
  return r;
}

#if MBEDTLS_VERSION_NUMBER >= 0x03000000
static psa_key_id_t import_pair(const unsigned char k[32], int exportable) {
  psa_key_attributes_t a = PSA_KEY_ATTRIBUTES_INIT;
  psa_key_id_t id = 0;
  psa_set_key_type(&a, PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_MONTGOMERY));
  psa_set_key_bits(&a, 255);
  psa_set_key_usage_flags(&a, PSA_KEY_USAGE_DERIVE | (exportable ? PSA_KEY_USAGE_EXPORT : 0));
  psa_set_key_algorithm(&a, PSA_ALG_ECDH);
  CHECK(psa_import_key(&a, k, 32, &id) == PSA_SUCCESS);
  return id;
}

/* The PSA path, as TLS 1.3 uses it: u = 9 is the key share (the public key
 * of the pair), anything else a key agreement with that peer share. */
static psa_status_t psa_x25519(const unsigned char k[32], const unsigned char u[32], unsigned char out[32]) {
  unsigned char nine[32] = {9};
  size_t olen = 0;
  psa_status_t s;
  psa_key_id_t id = import_pair(k, 0);
  if (memcmp(u, nine, 32) == 0)
    s = psa_export_public_key(id, out, 32, &olen);
  else
    s = psa_raw_key_agreement(PSA_ALG_ECDH, id, u, 32, out, 32, &olen);
  CHECK(psa_destroy_key(id) == PSA_SUCCESS);
  if (s == PSA_SUCCESS)
    CHECK(olen == 32);
  return s;
}

/* Random key pairs from psa_generate_key (the handshake's ephemeral keys),
 * each agreed with a fixed peer; OpenSSL recomputes every shared secret. */
static void random_pairs_against_openssl(void) {
  char dir[] = "/tmp/hotssl-x25519-XXXXXX";
  unsigned char peer_k[32], peer_u[32];
  static const unsigned char priv_prefix[16] = {0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06,
                                                0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20};
  static const unsigned char pub_prefix[12] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
                                               0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00};
  CHECK(mkdtemp(dir) != NULL);
  unhex(vectors[3].k, peer_k);
  unhex(vectors[3].out, peer_u);
  for (int i = 0; i < 16; i++) {
    psa_key_attributes_t a = PSA_KEY_ATTRIBUTES_INIT;
    psa_key_id_t id = 0;
    unsigned char k[32], z[32], pub[32], ossl[64];
    size_t klen = 0, zlen = 0, plen = 0;
    char path[256], peer[256], cmd[1024];
    psa_set_key_type(&a, PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_MONTGOMERY));
    psa_set_key_bits(&a, 255);
    psa_set_key_usage_flags(&a, PSA_KEY_USAGE_DERIVE | PSA_KEY_USAGE_EXPORT);
    psa_set_key_algorithm(&a, PSA_ALG_ECDH);
    TEQ(psa_generate_key(&a, &id), PSA_SUCCESS);
    TEQ(psa_export_key(id, k, sizeof k, &klen), PSA_SUCCESS);
    TEQ(psa_export_public_key(id, pub, sizeof pub, &plen), PSA_SUCCESS);
    TEQ(psa_raw_key_agreement(PSA_ALG_ECDH, id, peer_u, 32, z, sizeof z, &zlen), PSA_SUCCESS);
    TEQ(psa_destroy_key(id), PSA_SUCCESS);
    T(klen == 32 && zlen == 32 && plen == 32);
    /* The peer computes the same secret from our public key. */
    unsigned char z2[32];
    TEQ(psa_x25519(peer_k, pub, z2), PSA_SUCCESS);
    T(memcmp(z, z2, 32) == 0);
    /* And so does OpenSSL, from our private key. */
    snprintf(path, sizeof path, "%s/k.der", dir);
    snprintf(peer, sizeof peer, "%s/peer.der", dir);
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(priv_prefix, 1, 16, f) == 16 && fwrite(k, 1, 32, f) == 32 && fclose(f) == 0);
    f = fopen(peer, "wb");
    CHECK(f && fwrite(pub_prefix, 1, 12, f) == 12 && fwrite(peer_u, 1, 32, f) == 32 && fclose(f) == 0);
    snprintf(cmd, sizeof cmd,
             "openssl pkeyutl -derive -keyform DER -inkey %s -peerform DER -peerkey %s", path, peer);
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL);
    size_t n = fread(ossl, 1, sizeof ossl, p);
    TEQ(pclose(p), 0);
    TEQ((int)n, 32);
    T(memcmp(ossl, z, 32) == 0);
    mbedtls_platform_zeroize(k, sizeof k);
  }
  tu_rmtree(dir);
}
#endif

int main(void) {
  mbedtls_entropy_context ent;
  unsigned char k[32], u[32], want[32], got[32], prev[32];
  mbedtls_entropy_init(&ent);
  mbedtls_ctr_drbg_init(&drbg);
  CHECK(mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &ent, (const unsigned char *)"x25519", 6) == 0);
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
  CHECK(psa_crypto_init() == PSA_SUCCESS);
#endif
#if defined(MBEDTLS_ECP_CURVE25519_EVEREST)
  printf("X25519: Project Everest (HACL*) for every path (hotssl's mbedTLS patch)\n");
#elif defined(MBEDTLS_ECDH_VARIANT_EVEREST_ENABLED)
  printf("X25519: Project Everest for TLS 1.2's ECDH context only; PSA and mbedtls_ecp_mul: generic\n");
#else
  printf("X25519: mbedTLS's generic ladder\n");
#endif

  for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
    unhex(vectors[i].k, k);
    unhex(vectors[i].u, u);
    unhex(vectors[i].out, want);
    memset(got, 0, sizeof got);
    TEQ(legacy_x25519(k, u, got), 0);
    T(memcmp(got, want, 32) == 0);
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    memset(got, 0, sizeof got);
    TEQ(psa_x25519(k, u, got), PSA_SUCCESS);
    T(memcmp(got, want, 32) == 0);
#endif
  }

  /* RFC 7748 5.2, iterated: k = X25519(k, u), u = old k, from k = u = 9. */
  for (int path = 0; path < 2; path++) {
#if MBEDTLS_VERSION_NUMBER < 0x03000000
    if (path == 1)
      break;
#endif
    memset(k, 0, 32);
    k[0] = 9;
    memcpy(u, k, 32);
    for (int i = 1; i <= 1000; i++) {
      int r;
      if (path == 0) {
        r = legacy_x25519(k, u, got);
      } else {
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
        r = psa_x25519(k, u, got) == PSA_SUCCESS ? 0 : -1;
#else
        r = -1;
#endif
      }
      CHECK(r == 0);
      memcpy(prev, k, 32);
      memcpy(k, got, 32);
      memcpy(u, prev, 32);
      if (i == 1) {
        unhex(ITER_1, want);
        T(memcmp(k, want, 32) == 0);
      }
    }
    unhex(ITER_1000, want);
    T(memcmp(k, want, 32) == 0);
  }

  /* A low-order peer share is refused, never a zero secret. */
  unhex(vectors[4].k, k);
  unhex(LOW_ORDER, u);
  T(legacy_x25519(k, u, got) != 0);
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
  T(psa_x25519(k, u, got) != PSA_SUCCESS);
  random_pairs_against_openssl();
  mbedtls_psa_crypto_free();
#endif
  mbedtls_ctr_drbg_free(&drbg);
  mbedtls_entropy_free(&ent);
  return tu_finish("test_x25519", checks);
}
