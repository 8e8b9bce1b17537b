/*
 * Bounded work on hostile keys. For every password-based
 * key form — PBES2/PBKDF2 with AES (our decoder) and with des-ede3-cbc,
 * PKCS#12 PBE with 3DES, 2-key 3DES and RC2 (mbedTLS's decoder or none),
 * PBES1 (no decoder) — an EncryptedPrivateKeyInfo is generated with the
 * iteration count at the cap + 1 (and at 2^31-1, 2^40), written as PEM and as
 * DER, and loaded by a real manager with a passphrase command: start must be
 * refused in under a second with a message naming the file and the count, and
 * the passphrase command must not even run. At the cap itself the wall-clock
 * budget refuses the expensive forms (estimated, before deriving). Real keys
 * that openssl encrypts in the fallback forms at 2048 iterations still load.
 */
#include <mbedtls/asn1write.h>
#include <mbedtls/base64.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "certgen.h"
#include "pkcs8.h"
#include "testutil.h"

static char *dir;
static int checks;

#define OID_PBES2 "\x2a\x86\x48\x86\xf7\x0d\x01\x05\x0d"
#define OID_PBKDF2 "\x2a\x86\x48\x86\xf7\x0d\x01\x05\x0c"
#define OID_HMAC_SHA256 "\x2a\x86\x48\x86\xf7\x0d\x02\x09"
#define OID_AES256_CBC "\x60\x86\x48\x01\x65\x03\x04\x01\x2a"
#define OID_DES_EDE3_CBC "\x2a\x86\x48\x86\xf7\x0d\x03\x07"
#define OID_P12_3DES "\x2a\x86\x48\x86\xf7\x0d\x01\x0c\x01\x03"
#define OID_P12_2DES "\x2a\x86\x48\x86\xf7\x0d\x01\x0c\x01\x04"
#define OID_P12_RC2 "\x2a\x86\x48\x86\xf7\x0d\x01\x0c\x01\x06"
#define OID_PBES1_MD5_DES "\x2a\x86\x48\x86\xf7\x0d\x01\x05\x03"
#define OID_PBES1_SHA1_DES "\x2a\x86\x48\x86\xf7\x0d\x01\x05\x0a"

typedef struct form {
  const char *name;
  const char *outer; /* scheme OID */
  size_t outerlen;
  const char *cipher; /* PBES2 only */
  size_t cipherlen;
  int ivlen;
  int sha256;
} form;

#define O(x) x, sizeof(x) - 1
static const form forms[] = {
    {"pbes2-aes256-sha256", O(OID_PBES2), O(OID_AES256_CBC), 16, 1},
    {"pbes2-aes256-sha1", O(OID_PBES2), O(OID_AES256_CBC), 16, 0},
    {"pbes2-des-ede3", O(OID_PBES2), O(OID_DES_EDE3_CBC), 8, 0},
    {"pkcs12-3des", O(OID_P12_3DES), NULL, 0, 0, 0},
    {"pkcs12-2des", O(OID_P12_2DES), NULL, 0, 0, 0},
    {"pkcs12-rc2", O(OID_P12_RC2), NULL, 0, 0, 0},
    {"pbes1-md5-des", O(OID_PBES1_MD5_DES), NULL, 0, 0, 0},
    {"pbes1-sha1-des", O(OID_PBES1_SHA1_DES), NULL, 0, 0, 0},
};

/* mbedtls_asn1_write_* writes backwards from the end of the buffer. */
static int w_integer(unsigned char **p, unsigned char *start, unsigned long long v) {
  unsigned char b[9];
  int n = 0, len;
  do {
    b[8 - n++] = (unsigned char)(v & 0xff);
    v >>= 8;
  } while (v != 0);
  if (b[9 - n] & 0x80)
    b[8 - n++] = 0;
  if (*p - start < n)
    return -1;
  *p -= n;
  memcpy(*p, b + 9 - n, (size_t)n);
  len = n;
  len += mbedtls_asn1_write_len(p, start, (size_t)n);
  len += mbedtls_asn1_write_tag(p, start, MBEDTLS_ASN1_INTEGER);
  return len;
}

static int w_seq(unsigned char **p, unsigned char *start, int inner) {
  int len = inner;
  len += mbedtls_asn1_write_len(p, start, (size_t)inner);
  len += mbedtls_asn1_write_tag(p, start, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE);
  return len;
}

/* EncryptedPrivateKeyInfo of form f with `iter` iterations; ciphertext is
 * random-looking filler (the refusal must come before any decryption). */
static size_t build(const form *f, unsigned long long iter, unsigned char *buf, size_t cap,
                    unsigned char **der) {
  unsigned char *p = buf + cap;
  static const unsigned char salt[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  unsigned char ct[64], iv[16];
  int len = 0, params = 0, kdf = 0, enc = 0, alg;
  memset(ct, 0xa5, sizeof ct);
  memset(iv, 0x5a, sizeof iv);
  len += mbedtls_asn1_write_octet_string(&p, buf, ct, sizeof ct);
  if (f->cipher != NULL) {
    enc += mbedtls_asn1_write_octet_string(&p, buf, iv, (size_t)f->ivlen);
    enc += mbedtls_asn1_write_oid(&p, buf, f->cipher, f->cipherlen);
    enc = w_seq(&p, buf, enc);
    if (f->sha256)
      kdf += mbedtls_asn1_write_algorithm_identifier(&p, buf, OID_HMAC_SHA256,
                                                     sizeof OID_HMAC_SHA256 - 1, 0);
    kdf += w_integer(&p, buf, iter);
    kdf += mbedtls_asn1_write_octet_string(&p, buf, salt, sizeof salt);
    kdf = w_seq(&p, buf, kdf);
    kdf += mbedtls_asn1_write_oid(&p, buf, OID_PBKDF2, sizeof OID_PBKDF2 - 1);
    kdf = w_seq(&p, buf, kdf);
    params = w_seq(&p, buf, kdf + enc);
  } else {
    params += w_integer(&p, buf, iter);
    params += mbedtls_asn1_write_octet_string(&p, buf, salt, sizeof salt);
    params = w_seq(&p, buf, params);
  }
  alg = params + mbedtls_asn1_write_oid(&p, buf, f->outer, f->outerlen);
  alg = w_seq(&p, buf, alg);
  len = w_seq(&p, buf, len + alg);
  *der = p;
  return (size_t)len;
}

static void write_bin(const char *name, const unsigned char *d, size_t n) {
  char *path = tu_path(dir, name);
  FILE *fp = fopen(path, "wb");
  if (fp == NULL || fwrite(d, 1, n, fp) != n)
    exit(1);
  fclose(fp);
  chmod(path, 0600);
  free(path);
}

static void write_pem(const char *name, const unsigned char *d, size_t n) {
  unsigned char b64[4096];
  size_t olen;
  char text[5000], *w = text;
  if (mbedtls_base64_encode(b64, sizeof b64, &olen, d, n) != 0)
    exit(1);
  w += sprintf(w, "-----BEGIN ENCRYPTED PRIVATE KEY-----\n");
  for (size_t i = 0; i < olen; i += 64)
    w += sprintf(w, "%.*s\n", (int)(olen - i < 64 ? olen - i : 64), b64 + i);
  sprintf(w, "-----END ENCRYPTED PRIVATE KEY-----\n");
  char *path = tu_path(dir, name);
  tu_write(path, text, 0600);
  free(path);
}

/* Start a manager on key file `key`; returns the result, err the message, ms the time. */
static int start(const char *key, char *err, size_t errlen, uint64_t *ms) {
  char conf[2048];
  hotssl_config *cfg;
  hotssl_manager *m = NULL;
  hotssl_manager_options o = {0};
  char *p = tu_path(dir, "hotssl.conf");
  uint64_t t0;
  int r;
  snprintf(conf, sizeof conf,
           "ssl_cert_file = 'cert.pem'\nssl_key_file = '%s'\n"
           "ssl_passphrase_command = 'touch %s/command-ran; echo pw'\n",
           key, dir);
  tu_write(p, conf, 0600);
  hotssl_config_create(&cfg);
  r = hotssl_config_load_file(cfg, p, err, errlen);
  free(p);
  CHECK_EQ_INT(r, 0);
  o.log = tu_log;
  t0 = tu_now_ms();
  r = hotssl_manager_create(&m, cfg, &o, err, errlen);
  *ms = tu_now_ms() - t0;
  hotssl_manager_destroy(m);
  hotssl_config_destroy(cfg);
  return r;
}

static int command_ran(void) {
  char *p = tu_path(dir, "command-ran");
  int ran = access(p, F_OK) == 0;
  unlink(p);
  free(p);
  return ran;
}

static void refused_at(unsigned long long iter, const char *expect) {
  static unsigned char buf[2048];
  for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
    const form *f = &forms[i];
    unsigned char *der;
    size_t n = build(f, iter, buf, sizeof buf, &der);
    for (int pem = 0; pem <= 1; pem++) {
      char name[64], err[1024], want[512];
      uint64_t ms;
      snprintf(name, sizeof name, "%s-%llu.%s", f->name, iter, pem ? "pem" : "der");
      if (pem)
        write_pem(name, der, n);
      else
        write_bin(name, der, n);
      int r = start(name, err, sizeof err, &ms);
      char *path = tu_path(dir, name);
      snprintf(want, sizeof want, "could not load private key file \"%s\": ", path);
      free(path);
      checks += 5;
      CHECK_EQ_INT(r, HOTSSL_EKEY);
      CHECK(strstr(err, want) != NULL);
      CHECK(strstr(err, expect) != NULL);
      CHECK(ms < 1000);
      CHECK(!command_ran());
      if (r != HOTSSL_EKEY || strstr(err, want) == NULL || strstr(err, expect) == NULL || ms >= 1000)
        fprintf(stderr, "  %s: r=%d after %llu ms: %s\n", name, r, (unsigned long long)ms, err);
    }
  }
}

/* The budget on its own, below the cap: the estimate refuses what would take
 * longer than the budget, in well under a second, and passes cheap keys. */
static void budget(void) {
  static unsigned char buf[2048];
  for (size_t i = 0; i < 4; i++) { /* the forms a decoder here derives */
    const form *f = &forms[i == 3 ? 3 : i];
    unsigned char *der;
    char err[512];
    size_t n = build(f, HOTSSL__PKCS8_MAX_ITER, buf, sizeof buf, &der);
    uint64_t t0 = tu_now_ms();
    int r = hotssl__pkcs8_cost_check(der, n, 50, err, sizeof err);
    uint64_t ms = tu_now_ms() - t0;
    checks += 4;
    CHECK_EQ_INT(r, HOTSSL__PKCS8_TOO_COSTLY);
    CHECK(strstr(err, "over the budget of 50 ms") != NULL);
    CHECK(strstr(err, "10000000") != NULL);
    CHECK(ms < 1000);
    if (r != HOTSSL__PKCS8_TOO_COSTLY)
      fprintf(stderr, "  budget %s: r=%d %s\n", f->name, r, err);
    n = build(f, 2048, buf, sizeof buf, &der);
    checks++;
    CHECK_EQ_INT(hotssl__pkcs8_cost_check(der, n, 50, err, sizeof err), HOTSSL__PKCS8_OK);
    n = build(f, 0, buf, sizeof buf, &der);
    checks++;
    CHECK_EQ_INT(hotssl__pkcs8_cost_check(der, n, 50, err, sizeof err), HOTSSL__PKCS8_BAD_FORMAT);
  }
}

/* openssl-encrypted keys in the fallback forms at a sane count still load. */
static void real_keys_load(void) {
  static const char *const how[] = {"-v2 des3", "-v1 PBE-SHA1-3DES", "-v2 aes256 -v2prf hmacWithSHA256"};
  for (size_t i = 0; i < sizeof how / sizeof how[0]; i++) {
    char cmd[1024], err[1024], name[32];
    uint64_t ms;
    snprintf(name, sizeof name, "real%zu.pem", i);
    snprintf(cmd, sizeof cmd,
             "cd '%s' && openssl pkcs8 -topk8 -in plain.key %s -iter 2048 -passout pass:pw -out %s 2>openssl.log && chmod 600 %s",
             dir, how[i], name, name);
    checks += 2;
    CHECK(system(cmd) == 0);
    int r = start(name, err, sizeof err, &ms);
    CHECK_EQ_INT(r, 0);
    if (r != 0)
      fprintf(stderr, "  openssl %s: %s\n", how[i], err);
    command_ran();
  }
}

int main(void) {
  certgen_rng rng;
  mbedtls_pk_context key;
  static char pem[8192];
  dir = tu_mkdtemp();
  mbedtls_pk_init(&key);
  if (certgen_rng_init(&rng) != 0 || certgen_key(&key, &rng) != 0 ||
      certgen_cert(&key, "CN=keycost", &key, "CN=keycost", 7, "20240101000000", "20990101000000", 0,
                   &rng, pem, sizeof pem) != 0) {
    fprintf(stderr, "certgen failed\n");
    return 1;
  }
  char *p = tu_path(dir, "cert.pem");
  tu_write(p, pem, 0644);
  free(p);
  certgen_key_pem(&key, pem, sizeof pem);
  p = tu_path(dir, "plain.key");
  tu_write(p, pem, 0600);
  free(p);
  mbedtls_pk_free(&key);
  certgen_rng_free(&rng);

  refused_at(HOTSSL__PKCS8_MAX_ITER + 1ULL, "iteration count 10000001 exceeds the limit of 10000000");
  refused_at(2147483647ULL, "iteration count 2147483647 exceeds the limit of 10000000");
  refused_at(1ULL << 40, "iteration count 1099511627776 exceeds the limit");
  budget();
  real_keys_load();

  tu_rmtree(dir);
  free(dir);
  return tu_finish("test_keycost", checks);
}
