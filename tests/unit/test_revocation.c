/*
 * The revocation table (core/revocation.c), on real CRLs:
 *  - PostgreSQL's root+client.crl against root+client_ca.crt: lookups, and
 *    for each client certificate of the test suite the flags of a full
 *    mbedtls_x509_crt_verify with the table (as the verify callback applies
 *    it) equal those of mbedTLS's own CRL check (including the certificate
 *    whose issuer DN is a UTF8String while the CRL's is not byte-equal);
 *  - a CRL made by `openssl ca -gencrl` from an index of many entries, with
 *    leading-zero, equal-prefix, high-bit and future-revocation-date serials:
 *    every lookup agrees with mbedtls_x509_crt_is_revoked;
 *  - handshakes through a manager with that CRL (required and optional
 *    client certificates, table and mbedTLS's path): the revoked client is
 *    refused, the good one accepted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/x509_crl.h>
#include <mbedtls/x509_crt.h>

#include "certgen.h"
#include "manager.h"
#include "revocation.h"
#include "testutil.h"

static int checks;
#define T(cond) do { checks++; CHECK(cond); } while (0)
#define TEQ(a, b) do { checks++; CHECK_EQ_INT(a, b); } while (0)

static char *dir;
static const char *td;

static char *tdpath(const char *name) {
  return tu_path(td, name);
}

static void test_postgres_crl(void) {
  mbedtls_x509_crt ca, crt;
  mbedtls_x509_crl crl;
  hotssl__revocation *t = NULL;
  char *p;
  unsigned char ser[64];

  mbedtls_x509_crt_init(&ca);
  mbedtls_x509_crl_init(&crl);
  p = tdpath("root+client_ca.crt");
  TEQ(mbedtls_x509_crt_parse_file(&ca, p), 0);
  free(p);
  p = tdpath("root+client.crl");
  TEQ(mbedtls_x509_crl_parse_file(&crl, p), 0);
  free(p);
  TEQ(hotssl__revocation_build(&t, &crl, &ca, &mbedtls_x509_crt_profile_default), 0);
  if (t == NULL)
    goto out;
  TEQ(t->n_issuers, 2); /* the root's CRL and the client CA's */

  /* client-revoked.crt: 2023071316352402 by the client CA. */
  mbedtls_x509_crt_init(&crt);
  p = tdpath("client-revoked.crt");
  TEQ(mbedtls_x509_crt_parse_file(&crt, p), 0);
  free(p);
  T(hotssl__revocation_find(t, crt.issuer_raw.p, crt.issuer_raw.len) >= 0);
  TEQ(hotssl__revocation_lookup(t, crt.issuer_raw.p, crt.issuer_raw.len, crt.serial.p,
                                crt.serial.len), 1);
  /* the same serial with leading zero bytes */
  memset(ser, 0, 3);
  memcpy(ser + 3, crt.serial.p, crt.serial.len);
  TEQ(hotssl__revocation_lookup(t, crt.issuer_raw.p, crt.issuer_raw.len, ser, crt.serial.len + 3), 1);
  /* a prefix of it, and it with one more byte: not revoked */
  TEQ(hotssl__revocation_lookup(t, crt.issuer_raw.p, crt.issuer_raw.len, crt.serial.p,
                                crt.serial.len - 1), 0);
  memcpy(ser, crt.serial.p, crt.serial.len);
  ser[crt.serial.len] = 0;
  TEQ(hotssl__revocation_lookup(t, crt.issuer_raw.p, crt.issuer_raw.len, ser, crt.serial.len + 1), 0);
  /* the right serial under another issuer (the root): not revoked */
  TEQ(hotssl__revocation_lookup(t, crt.subject_raw.p, crt.subject_raw.len, crt.serial.p,
                                crt.serial.len), 0);
  TEQ(hotssl__revocation_lookup(t, ca.subject_raw.p, ca.subject_raw.len, crt.serial.p,
                                crt.serial.len), 0);
  mbedtls_x509_crt_free(&crt);

  /* Table against walk, per certificate: tests/unit/test_verify_paths.c. */
out:
  hotssl__revocation_free(t);
  mbedtls_x509_crl_free(&crl);
  mbedtls_x509_crt_free(&ca);
}

/* ---- a generated CA and CRL ---- */

#define N_ENTRIES 20000
/* Revoked: even values v(k) = 2k * 0x10001 (k = 1..N_ENTRIES), in an
 * unsorted order, plus the edge cases below. Not revoked: odd values. */
static unsigned long revoked_value(unsigned long k) {
  return 2ul * k * 0x10001ul;
}

static const char *edge_revoked[] = {"01", "0100", "80", "FF00", "7FFFFFFFFFFFFFFF"};
static const char *edge_future = "0200"; /* revocation date in 2049 */
static const char *edge_clean[] = {"02", "010000", "0101", "81", "FF", "FF0000", "00"};

static void write_file(const char *name, const char *text) {
  char *p = tu_path(dir, name);
  tu_write(p, text, 0600);
  free(p);
}

static int make_pki(void) {
  certgen_rng rng;
  mbedtls_pk_context cak, sk, ck;
  static char buf[16384];
  char *idx;
  FILE *f;
  unsigned long k;
  size_t i;
  int ret = -1;

  mbedtls_pk_init(&cak);
  mbedtls_pk_init(&sk);
  mbedtls_pk_init(&ck);
  if (certgen_rng_init(&rng) != 0)
    return -1;
  if (certgen_key(&cak, &rng) != 0 || certgen_key(&sk, &rng) != 0 || certgen_key(&ck, &rng) != 0)
    goto out;
  /* Serial 0x4243: not among the revoked ones (the CA is checked against its
   * own CRL too, as OpenSSL's CRL_CHECK_ALL does). */
  if (certgen_cert(&cak, "CN=hotssl revocation test CA", &cak, "CN=hotssl revocation test CA", 0x4243,
                   "20200101000000", "20491231000000", 1, &rng, buf, sizeof buf) != 0)
    goto out;
  write_file("ca.crt", buf);
  certgen_key_pem(&cak, buf, sizeof buf);
  write_file("ca.key", buf);
  if (certgen_cert(&sk, "CN=localhost", &cak, "CN=hotssl revocation test CA", 3, "20200101000000",
                   "20491231000000", 0, &rng, buf, sizeof buf) != 0)
    goto out;
  write_file("server.crt", buf);
  certgen_key_pem(&sk, buf, sizeof buf);
  write_file("server.key", buf);
  /* good client: odd serial; revoked client: an even one from the index */
  if (certgen_cert(&ck, "CN=good client", &cak, "CN=hotssl revocation test CA", 0x30003ul,
                   "20200101000000", "20491231000000", 0, &rng, buf, sizeof buf) != 0)
    goto out;
  write_file("good.crt", buf);
  if (certgen_cert(&ck, "CN=revoked client", &cak, "CN=hotssl revocation test CA",
                   revoked_value(777), "20200101000000", "20491231000000", 0, &rng, buf,
                   sizeof buf) != 0)
    goto out;
  write_file("revoked.crt", buf);
  certgen_key_pem(&ck, buf, sizeof buf);
  write_file("client.key", buf);

  idx = tu_path(dir, "index.txt");
  if ((f = fopen(idx, "w")) == NULL) {
    free(idx);
    goto out;
  }
  /* a permutation of 1..N: k -> (k * 7919) mod N + 1 */
  for (k = 0; k < N_ENTRIES; k++) {
    char hex[24];
    int len = snprintf(hex, sizeof hex, "%lX", revoked_value((k * 7919ul) % N_ENTRIES + 1));
    /* openssl wants whole bytes */
    fprintf(f, "R\t491231000000Z\t230101000000Z\t%s%s\tunknown\t/CN=r%lu\n",
            len % 2 ? "0" : "", hex, k);
  }
  for (i = 0; i < sizeof edge_revoked / sizeof edge_revoked[0]; i++)
    fprintf(f, "R\t491231000000Z\t230101000000Z\t%s\tunknown\t/CN=e%zu\n", edge_revoked[i], i);
  fprintf(f, "R\t491231000000Z\t491230000000Z\t%s\tunknown\t/CN=future\n", edge_future);
  fclose(f);
  free(idx);
  ret = tu_openssl_gencrl(dir);
out:
  mbedtls_pk_free(&cak);
  mbedtls_pk_free(&sk);
  mbedtls_pk_free(&ck);
  certgen_rng_free(&rng);
  return ret;
}

static size_t hex_bytes(const char *hex, unsigned char *out) {
  size_t n = strlen(hex) / 2, i;
  for (i = 0; i < n; i++) {
    unsigned v;
    sscanf(hex + 2 * i, "%2x", &v);
    out[i] = (unsigned char)v;
  }
  return n;
}

static size_t value_bytes(unsigned long v, unsigned char *out) {
  unsigned char b[8];
  size_t n = 0, i;
  while (v != 0) {
    b[n++] = (unsigned char)(v & 0xff);
    v >>= 8;
  }
  for (i = 0; i < n; i++)
    out[i] = b[n - 1 - i];
  return n;
}

/* mbedTLS's answer for the DER form of the serial (a leading 00 when the
 * high bit is set). */
static int mbedtls_revoked(const mbedtls_x509_crl *crl, const unsigned char *s, size_t n) {
  mbedtls_x509_crt fake;
  unsigned char der[32];
  size_t len = 0;
  int r;
  while (n > 1 && s[0] == 0) {
    s++;
    n--;
  }
  if (n == 0 || (s[0] & 0x80))
    der[len++] = 0;
  memcpy(der + len, s, n);
  len += n;
  mbedtls_x509_crt_init(&fake);
  fake.serial.p = der;
  fake.serial.len = len;
  r = mbedtls_x509_crt_is_revoked(&fake, crl);
  return r;
}

static void test_generated_crl(void) {
  mbedtls_x509_crt ca;
  mbedtls_x509_crl crl;
  hotssl__revocation *t = NULL;
  unsigned char s[32];
  size_t n, i, mismatches = 0, revoked = 0;
  unsigned long k;
  char *p;
  const unsigned char *iss;
  size_t isslen;

  mbedtls_x509_crt_init(&ca);
  mbedtls_x509_crl_init(&crl);
  p = tu_path(dir, "ca.crt");
  TEQ(mbedtls_x509_crt_parse_file(&ca, p), 0);
  free(p);
  p = tu_path(dir, "crl.pem");
  TEQ(mbedtls_x509_crl_parse_file(&crl, p), 0);
  free(p);
  TEQ(hotssl__revocation_build(&t, &crl, &ca, &mbedtls_x509_crt_profile_default), 0);
  if (t == NULL)
    goto out;
  TEQ(t->n_issuers, 1);
  TEQ(t->n_entries, N_ENTRIES + 5 + 1);
  iss = crl.issuer_raw.p;
  isslen = crl.issuer_raw.len;

  /* every revoked value, and the odd values between them */
  for (k = 1; k <= N_ENTRIES; k++) {
    n = value_bytes(revoked_value(k), s);
    revoked += (size_t)hotssl__revocation_lookup(t, iss, isslen, s, n);
    mismatches += hotssl__revocation_lookup(t, iss, isslen, s, n) != mbedtls_revoked(&crl, s, n);
    n = value_bytes(revoked_value(k) + 1, s);
    revoked += (size_t)hotssl__revocation_lookup(t, iss, isslen, s, n);
    mismatches += hotssl__revocation_lookup(t, iss, isslen, s, n) != mbedtls_revoked(&crl, s, n);
  }
  TEQ(revoked, N_ENTRIES);
  TEQ(mismatches, 0);
  for (i = 0; i < sizeof edge_revoked / sizeof edge_revoked[0]; i++) {
    n = hex_bytes(edge_revoked[i], s);
    TEQ(hotssl__revocation_lookup(t, iss, isslen, s, n), 1);
    TEQ(mbedtls_revoked(&crl, s, n), 1);
    /* with leading zero bytes (DER adds one to 80 and FF00) */
    memmove(s + 2, s, n);
    s[0] = s[1] = 0;
    TEQ(hotssl__revocation_lookup(t, iss, isslen, s, n + 2), 1);
  }
  for (i = 0; i < sizeof edge_clean / sizeof edge_clean[0]; i++) {
    n = hex_bytes(edge_clean[i], s);
    TEQ(hotssl__revocation_lookup(t, iss, isslen, s, n), 0);
    TEQ(mbedtls_revoked(&crl, s, n), 0);
  }
  /* listed with a revocation date in 2049: mbedTLS ignores the date */
  n = hex_bytes(edge_future, s);
  TEQ(hotssl__revocation_lookup(t, iss, isslen, s, n), 1);
  TEQ(mbedtls_revoked(&crl, s, n), 1);
  /* empty serial, unknown issuer */
  TEQ(hotssl__revocation_lookup(t, iss, isslen, s, 0), 0);
  TEQ(hotssl__revocation_lookup(t, iss, isslen - 1, s, 1), 0);
out:
  hotssl__revocation_free(t);
  mbedtls_x509_crl_free(&crl);
  mbedtls_x509_crt_free(&ca);
}

static void test_handshakes(void) {
  static const char *modes[] = {"require", "optional"};
  char conf[1024], err[512], serial[80];
  char *good = tu_path(dir, "good.crt"), *bad = tu_path(dir, "revoked.crt");
  char *key = tu_path(dir, "client.key"), *cp = tu_path(dir, "hotssl.conf");
  int mode, legacy;

  for (mode = 0; mode < 2; mode++) {
    for (legacy = 0; legacy < 2; legacy++) {
      hotssl_config *cfg = NULL;
      hotssl_manager *m = NULL;
      tu_server *srv;
      int port;
      snprintf(conf, sizeof conf,
               "ssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nssl_ca_file = 'ca.crt'\n"
               "ssl_crl_file = 'crl.pem'\nssl_client_cert = %s\nhotssl_watch = off\n", modes[mode]);
      tu_write(cp, conf, 0644);
      hotssl_config_create(&cfg);
      if (legacy)
        hotssl__config_keep_crl_walk(cfg); /* the walk needs the parsed CRLs */
      TEQ(hotssl_config_load_file(cfg, cp, err, sizeof err), 0);
      TEQ(hotssl_manager_create(&m, cfg, NULL, err, sizeof err), 0);
      hotssl_config_destroy(cfg);
      if (m == NULL) {
        fprintf(stderr, "%s\n", err);
        continue;
      }
      if (legacy) {
        hotssl_generation *g = hotssl_manager_acquire(m);
        TEQ(hotssl__generation_use_mbedtls_crl(g), 0);
        hotssl_generation_release(g);
      }
      srv = tu_server_start(m, 1);
      port = tu_server_port(srv);
      TEQ(tu_client_ex(port, NULL, good, key, serial, sizeof serial), 0);
      T(tu_client_ex(port, NULL, bad, key, serial, sizeof serial) != 0);
      TEQ(tu_client_ex(port, NULL, good, key, serial, sizeof serial), 0);
      if (mode == 1)
        TEQ(tu_client_ex(port, NULL, NULL, NULL, serial, sizeof serial), 0);
      else
        T(tu_client_ex(port, NULL, NULL, NULL, serial, sizeof serial) != 0);
      tu_server_stop(srv);
      hotssl_manager_destroy(m);
    }
  }
  free(good);
  free(bad);
  free(key);
  free(cp);
}

int main(void) {
  td = tu_testdata();
  dir = tu_mkdtemp();
  test_postgres_crl();
  TEQ(make_pki(), 0);
  test_generated_crl();
  test_handshakes();
  tu_rmtree(dir);
  free(dir);
  return tu_finish("revocation", checks);
}
