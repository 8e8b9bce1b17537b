/* tests/unit/test_pkcs8.c — unit test for core/pkcs8.c (PBES2 EncryptedPrivateKeyInfo
 * decryption). Run by hand or by CI as a standalone program: it creates a temporary
 * directory, has the `openssl` CLI (OpenSSL 3) generate an RSA-2048 and an EC P-256
 * key and encrypt them the ways users will (OpenSSL 3 defaults, aes128 with
 * hmacWithSHA1, aes192/SHA-512, aes256/SHA-384, DER output, one iteration), and
 * checks that the right password gives a PrivateKeyInfo that mbedtls parses and
 * that matches the public key, that wrong passwords, truncation and corrupted
 * headers never crash and never succeed, and, with hand-built DER, that hostile
 * or unsupported parameters are refused with the documented result codes. It
 * prints each failure to stderr, ends with an "N passed, N failed" line, returns 0
 * only if nothing failed, and removes its temporary directory. */
#include "../os/os.h" /* hotssl__secure_free: the decrypted key's buffer */
#include "pkcs8.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/aes.h>
#include <mbedtls/asn1.h>
#include <mbedtls/md.h>
#include <mbedtls/pk.h>
#include <mbedtls/pkcs5.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/version.h>

static int g_pass, g_fail;

#define CHECK(cond, ...)                                                    \
  do {                                                                      \
    if (cond) {                                                             \
      g_pass++;                                                             \
    } else {                                                                \
      g_fail++;                                                             \
      fprintf(stderr, "FAIL %s:%d: (%s) ", __FILE__, __LINE__, #cond);      \
      fprintf(stderr, __VA_ARGS__);                                         \
      fputc('\n', stderr);                                                  \
    }                                                                       \
  } while (0)

/* Bulk loops (truncations, bit flips) would add thousands of passes that say
 * nothing; they count as one check each and report only their failures. */
#define CHECK_QUIET(cond, ...)                                              \
  do {                                                                      \
    if (!(cond)) {                                                          \
      g_fail++;                                                             \
      fprintf(stderr, "FAIL %s:%d: (%s) ", __FILE__, __LINE__, #cond);      \
      fprintf(stderr, __VA_ARGS__);                                         \
      fputc('\n', stderr);                                                  \
    }                                                                       \
  } while (0)

#define PWD "secret1"
#define BADPWD "secret2"

static char g_dir[256];

/* ---- mbedtls 2.28 / 3.x differences in the APIs the test itself uses ---- */

#if MBEDTLS_VERSION_NUMBER >= 0x03000000
/* 3.x wants an RNG for blinding while parsing/checking keys; a test RNG is fine. */
static int test_rng(void *ctx, unsigned char *buf, size_t len)
{
  (void) ctx;
  for (size_t i = 0; i < len; i++)
    buf[i] = (unsigned char) rand();
  return 0;
}
#endif

static int parse_key(mbedtls_pk_context *pk, const unsigned char *der, size_t len)
{
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
  return mbedtls_pk_parse_key(pk, der, len, NULL, 0, test_rng, NULL);
#else
  return mbedtls_pk_parse_key(pk, der, len, NULL, 0);
#endif
}

static int check_pair(mbedtls_pk_context *pub, mbedtls_pk_context *prv)
{
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
  return mbedtls_pk_check_pair(pub, prv, test_rng, NULL);
#else
  return mbedtls_pk_check_pair(pub, prv);
#endif
}

static int pbkdf2(mbedtls_md_type_t md, const char *pwd, const unsigned char *salt, size_t saltlen,
                  unsigned iter, unsigned char *key, size_t keylen)
{
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
  return mbedtls_pkcs5_pbkdf2_hmac_ext(md, (const unsigned char *) pwd, strlen(pwd), salt, saltlen,
                                       iter, (uint32_t) keylen, key);
#else
  mbedtls_md_context_t ctx;
  mbedtls_md_init(&ctx);
  int ret = mbedtls_md_setup(&ctx, mbedtls_md_info_from_type(md), 1);
  if (ret == 0)
    ret = mbedtls_pkcs5_pbkdf2_hmac(&ctx, (const unsigned char *) pwd, strlen(pwd), salt, saltlen,
                                    iter, (uint32_t) keylen, key);
  mbedtls_md_free(&ctx);
  return ret;
#endif
}

/* ---- files and the openssl CLI ---- */

static void path_of(char *buf, size_t len, const char *name)
{
  snprintf(buf, len, "%s/%s", g_dir, name);
}

/* Runs one openssl command line in the temp dir; its chatter goes to a log that
 * is shown only when the command fails. */
static int run(const char *args)
{
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "cd '%s' && openssl %s >openssl.log 2>&1", g_dir, args);
  int rc = system(cmd);
  if (rc != 0) {
    fprintf(stderr, "command failed (status %d): openssl %s\n", rc, args);
    snprintf(cmd, sizeof cmd, "cat '%s/openssl.log' >&2", g_dir);
    if (system(cmd) != 0)
      fprintf(stderr, "(no log)\n");
  }
  return rc == 0;
}

/* Reads a whole file and NUL-terminates it so PEM can be handed over as text. */
static unsigned char *slurp(const char *name, size_t *len)
{
  char path[512];
  path_of(path, sizeof path, name);
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return NULL;
  unsigned char *buf = NULL;
  size_t cap = 0, n = 0, r;
  do {
    if (n + 4096 + 1 > cap) {
      cap = (n + 4096 + 1) * 2;
      unsigned char *nb = realloc(buf, cap);
      if (nb == NULL) {
        free(buf);
        fclose(f);
        return NULL;
      }
      buf = nb;
    }
    r = fread(buf + n, 1, 4096, f);
    n += r;
  } while (r > 0);
  fclose(f);
  buf[n] = '\0';
  *len = n;
  return buf;
}

static void cleanup_dir(void)
{
  DIR *d = opendir(g_dir);
  if (d != NULL) {
    struct dirent *e;
    char path[512];
    while ((e = readdir(d)) != NULL) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
        continue;
      path_of(path, sizeof path, e->d_name);
      unlink(path);
    }
    closedir(d);
  }
  if (rmdir(g_dir) != 0)
    fprintf(stderr, "warning: could not remove %s\n", g_dir);
}

static void free_secret(unsigned char *p, size_t len)
{
  if (p != NULL) {
    mbedtls_platform_zeroize(p, len);
    free(p);
  }
}

static int valid_rc(int rc)
{
  return rc >= HOTSSL__PKCS8_TOO_COSTLY && rc <= HOTSSL__PKCS8_OK;
}

static int decrypt(const unsigned char *der, size_t len, const char *pwd, unsigned char **out,
                   size_t *outlen, char *err, size_t errlen)
{
  return hotssl__pkcs8_decrypt(der, len, (const unsigned char *) pwd, pwd ? strlen(pwd) : 0, out,
                               outlen, err, errlen);
}

/* Offsets the bulk tests need: where the PBES2 OID ends (from there on a
 * truncated blob is recognisably ours) and where the ciphertext starts (the end
 * of the ASN.1 header region). */
static int header_offsets(const unsigned char *der, size_t len, size_t *oid_end, size_t *ct_start)
{
  unsigned char *p = (unsigned char *) (uintptr_t) der;
  const unsigned char *end = der + len;
  size_t l;
  if (mbedtls_asn1_get_tag(&p, end, &l, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0)
    return 0;
  if (mbedtls_asn1_get_tag(&p, end, &l, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0)
    return 0;
  unsigned char *alg_end = p + l;
  if (mbedtls_asn1_get_tag(&p, end, &l, MBEDTLS_ASN1_OID) != 0)
    return 0;
  *oid_end = (size_t) (p + l - der);
  p = alg_end;
  if (mbedtls_asn1_get_tag(&p, end, &l, MBEDTLS_ASN1_OCTET_STRING) != 0)
    return 0;
  *ct_start = (size_t) (p - der);
  return 1;
}

/* ---- one openssl-encrypted key, end to end ---- */

typedef struct {
  const char *file;   /* encrypted key as written by openssl */
  int is_pem;
  const char *plain;  /* reference PrivateKeyInfo DER (openssl pkcs8 -nocrypt) */
  const char *pub;    /* public key PEM from openssl pkey -pubout */
} key_case;

static void test_key(const key_case *kc)
{
  size_t filelen = 0, plainlen = 0, derlen = 0, outlen = 0;
  unsigned char *file = slurp(kc->file, &filelen);
  unsigned char *plain = slurp(kc->plain, &plainlen);
  unsigned char *der = NULL, *out = NULL;
  char err[128];
  int rc;

  CHECK(file != NULL && plain != NULL, "%s: cannot read generated files", kc->file);
  if (file == NULL || plain == NULL)
    goto done;

  if (kc->is_pem) {
    /* Once with the NUL counted (mbedtls convention), once without. */
    rc = hotssl__pkcs8_pem_extract((const char *) file, filelen + 1, &der, &derlen);
    CHECK(rc == 1 && der != NULL, "%s: pem_extract returned %d", kc->file, rc);
    unsigned char *der2 = NULL;
    size_t der2len = 0;
    rc = hotssl__pkcs8_pem_extract((const char *) file, filelen, &der2, &der2len);
    CHECK(rc == 1 && der2len == derlen && der != NULL && der2 != NULL &&
              memcmp(der, der2, derlen) == 0,
          "%s: pem_extract without NUL returned %d", kc->file, rc);
    free_secret(der2, der2len);
    if (der == NULL)
      goto done;
  } else {
    CHECK(file[0] == 0x30, "%s: DER does not start with SEQUENCE", kc->file);
    rc = hotssl__pkcs8_pem_extract((const char *) file, filelen, &der, &derlen);
    CHECK(rc == 0 && der == NULL, "%s: pem_extract on DER returned %d", kc->file, rc);
    der = malloc(filelen);
    if (der == NULL)
      goto done;
    memcpy(der, file, filelen);
    derlen = filelen;
  }

  /* Right password: the exact PrivateKeyInfo openssl would write unencrypted,
   * accepted by mbedtls, and the private half of the openssl public key. */
  rc = decrypt(der, derlen, PWD, &out, &outlen, err, sizeof err);
  CHECK(rc == HOTSSL__PKCS8_OK, "%s: decrypt returned %d (%s)", kc->file, rc, err);
  if (rc == HOTSSL__PKCS8_OK) {
    CHECK(outlen == plainlen && memcmp(out, plain, plainlen) == 0,
          "%s: plaintext differs from openssl's PrivateKeyInfo (%zu vs %zu bytes)", kc->file,
          outlen, plainlen);
    mbedtls_pk_context prv, pub;
    char pubpath[512];
    mbedtls_pk_init(&prv);
    mbedtls_pk_init(&pub);
    path_of(pubpath, sizeof pubpath, kc->pub);
    rc = parse_key(&prv, out, outlen);
    CHECK(rc == 0, "%s: mbedtls_pk_parse_key on plaintext: -0x%04x", kc->file, (unsigned) -rc);
    rc = mbedtls_pk_parse_public_keyfile(&pub, pubpath);
    CHECK(rc == 0, "%s: mbedtls_pk_parse_public_keyfile: -0x%04x", kc->pub, (unsigned) -rc);
    rc = check_pair(&pub, &prv);
    CHECK(rc == 0, "%s: mbedtls_pk_check_pair: -0x%04x", kc->file, (unsigned) -rc);
    mbedtls_pk_free(&prv);
    mbedtls_pk_free(&pub);
  }
  hotssl__secure_free(out);
  out = NULL;

  /* Wrong and empty passwords. */
  rc = decrypt(der, derlen, BADPWD, &out, &outlen, err, sizeof err);
  CHECK(rc == HOTSSL__PKCS8_BAD_PASSWORD && out == NULL && outlen == 0,
        "%s: wrong password returned %d", kc->file, rc);
  rc = decrypt(der, derlen, NULL, &out, &outlen, err, sizeof err);
  CHECK(rc == HOTSSL__PKCS8_BAD_PASSWORD && out == NULL, "%s: empty password returned %d", kc->file, rc);

  size_t oid_end = 0, ct_start = 0;
  CHECK(header_offsets(der, derlen, &oid_end, &ct_start), "%s: test could not locate header", kc->file);

  /* Every truncation, with both passwords: never OK, never an output buffer, and
   * once the PBES2 OID is visible it is reported as ours (BAD_FORMAT). */
  int trunc_bad = 0;
  for (size_t cut = 1; cut < derlen; cut++) {
    unsigned char *t = malloc(cut);  /* exact-size copy so ASan sees any over-read */
    if (t == NULL)
      break;
    memcpy(t, der, cut);
    for (int w = 0; w < 2; w++) {
      rc = decrypt(t, cut, w ? BADPWD : PWD, &out, &outlen, err, sizeof err);
      int want = cut >= oid_end ? HOTSSL__PKCS8_BAD_FORMAT : HOTSSL__PKCS8_NOT_PBES2;
      if (rc != want || out != NULL) {
        if (trunc_bad++ < 5)
          fprintf(stderr, "  %s cut at %zu/%zu: rc %d (want %d)\n", kc->file, cut, derlen, rc, want);
        hotssl__secure_free(out);
        out = NULL;
      }
    }
    free(t);
  }
  CHECK(trunc_bad == 0, "%s: %d truncations misbehaved", kc->file, trunc_bad);

  /* Every byte of the ASN.1 header region, flipped in two ways: with the wrong
   * password it must never decrypt; with the right one it may (an IV flip only
   * garbles the plaintext), so there it must only return a defined code, and any
   * "successful" output must be safe to hand to mbedtls. */
  int flip_bad = 0, flip_ok_right = 0;
  static const unsigned char masks[] = { 0x01, 0x80 };
  for (size_t i = 0; i < ct_start && i < derlen; i++) {
    for (size_t m = 0; m < sizeof masks; m++) {
      unsigned char *t = malloc(derlen);
      if (t == NULL)
        break;
      memcpy(t, der, derlen);
      t[i] ^= masks[m];
      rc = decrypt(t, derlen, BADPWD, &out, &outlen, err, sizeof err);
      if (rc == HOTSSL__PKCS8_OK || !valid_rc(rc) || out != NULL) {
        if (flip_bad++ < 5)
          fprintf(stderr, "  %s flip 0x%02x at %zu, wrong password: rc %d\n", kc->file, masks[m], i, rc);
        hotssl__secure_free(out);
        out = NULL;
      }
      if (m == 0) {
        rc = decrypt(t, derlen, PWD, &out, &outlen, err, sizeof err);
        if (!valid_rc(rc) || (rc != HOTSSL__PKCS8_OK) != (out == NULL)) {
          if (flip_bad++ < 5)
            fprintf(stderr, "  %s flip at %zu, right password: rc %d\n", kc->file, i, rc);
        }
        if (rc == HOTSSL__PKCS8_OK) {
          mbedtls_pk_context pk;
          mbedtls_pk_init(&pk);
          (void) parse_key(&pk, out, outlen);
          mbedtls_pk_free(&pk);
          flip_ok_right++;
        }
        hotssl__secure_free(out);
        out = NULL;
      }
      free(t);
    }
  }
  CHECK(flip_bad == 0, "%s: %d header flips misbehaved", kc->file, flip_bad);
  /* Only IV bytes can flip and still decrypt; 16 of them at most. */
  CHECK(flip_ok_right <= 16, "%s: %d header flips still decrypted", kc->file, flip_ok_right);

  /* Flipping the last byte of the next-to-last ciphertext block flips the last
   * plaintext (padding) byte: strict padding checking must catch it. */
  if (derlen > ct_start + 32) {
    der[derlen - 17] ^= 0x01;
    rc = decrypt(der, derlen, PWD, &out, &outlen, err, sizeof err);
    CHECK(rc == HOTSSL__PKCS8_BAD_PASSWORD, "%s: padding flip returned %d", kc->file, rc);
    hotssl__secure_free(out);
    out = NULL;
    der[derlen - 17] ^= 0x01;
  }

done:
  free_secret(der, derlen);
  free_secret(plain, plainlen);
  free_secret(file, filelen);
}

/* ---- PEM extraction corner cases ---- */

static char *concat3(const char *a, const char *b, const char *c)
{
  size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
  char *s = malloc(la + lb + lc + 1);
  if (s != NULL) {
    memcpy(s, a, la);
    memcpy(s + la, b, lb);
    memcpy(s + la + lb, c, lc + 1);
  }
  return s;
}

static void test_pem(const char *enc_pem_file, const char *plain_pem_file)
{
  size_t len = 0, plen = 0, derlen = 0, d2len = 0;
  unsigned char *pem = slurp(enc_pem_file, &len);
  unsigned char *plain = slurp(plain_pem_file, &plen);
  unsigned char *der = NULL, *d2 = NULL;
  int rc;

  CHECK(pem != NULL && plain != NULL, "cannot read %s / %s", enc_pem_file, plain_pem_file);
  if (pem == NULL || plain == NULL)
    goto done;
  rc = hotssl__pkcs8_pem_extract((const char *) pem, len + 1, &der, &derlen);
  CHECK(rc == 1, "reference extract returned %d", rc);
  if (rc != 1)
    goto done;

  /* An unencrypted "PRIVATE KEY" block is not ours. */
  rc = hotssl__pkcs8_pem_extract((const char *) plain, plen + 1, &d2, &d2len);
  CHECK(rc == 0 && d2 == NULL && d2len == 0, "plain PRIVATE KEY pem returned %d", rc);

  /* Text around the block, as in a combined cert+key file. */
  char *s = concat3("Bag Attributes\n-----BEGIN CERTIFICATE-----\nnot really\n-----END CERTIFICATE-----\n",
                    (const char *) pem, "trailing words\n");
  if (s != NULL) {
    rc = hotssl__pkcs8_pem_extract(s, strlen(s) + 1, &d2, &d2len);
    CHECK(rc == 1 && d2len == derlen && memcmp(d2, der, derlen) == 0, "surrounded block returned %d", rc);
    free_secret(d2, d2len);
    d2 = NULL;
    free(s);
  }

  /* CRLF line ends and stray trailing blanks. */
  char *crlf = malloc(len * 3 + 1);
  if (crlf != NULL) {
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
      if (pem[i] == '\n') {
        crlf[n++] = ' ';
        crlf[n++] = '\r';
      }
      crlf[n++] = (char) pem[i];
    }
    crlf[n] = '\0';
    rc = hotssl__pkcs8_pem_extract(crlf, n, &d2, &d2len);
    CHECK(rc == 1 && d2len == derlen && memcmp(d2, der, derlen) == 0, "CRLF block returned %d", rc);
    free_secret(d2, d2len);
    d2 = NULL;
    free(crlf);
  }

  /* Legacy RFC 1421 headers: left to mbedtls. */
  const char *body = strchr((const char *) pem, '\n');
  if (body != NULL) {
    s = concat3("-----BEGIN ENCRYPTED PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n"
                "DEK-Info: AES-256-CBC,00112233445566778899AABBCCDDEEFF\n",
                body, "");
    if (s != NULL) {
      rc = hotssl__pkcs8_pem_extract(s, strlen(s), &d2, &d2len);
      CHECK(rc == 0 && d2 == NULL, "Proc-Type block returned %d", rc);
      free(s);
    }
  }

  /* Malformed blocks. */
  static const char *const bad[] = {
    "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n",                                   /* no END */
    "-----BEGIN ENCRYPTED PRIVATE KEY-----\n-----END ENCRYPTED PRIVATE KEY-----\n",    /* empty */
    "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMII*Bg==\n-----END ENCRYPTED PRIVATE KEY-----\n",
    "-----BEGIN ENCRYPTED PRIVATE KEY-----\nM===\n-----END ENCRYPTED PRIVATE KEY-----\n",
    "-----BEGIN ENCRYPTED PRIVATE KEY-----junk\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    rc = hotssl__pkcs8_pem_extract(bad[i], strlen(bad[i]) + 1, &d2, &d2len);
    CHECK(rc < 0 && d2 == NULL && d2len == 0, "malformed block %zu returned %d", i, rc);
  }
  rc = hotssl__pkcs8_pem_extract("", 0, &d2, &d2len);
  CHECK(rc == 0 && d2 == NULL, "empty text returned %d", rc);
  rc = hotssl__pkcs8_pem_extract(NULL, 10, &d2, &d2len);
  CHECK(rc < 0, "NULL pem returned %d", rc);
  rc = hotssl__pkcs8_pem_extract((const char *) pem, len, NULL, &d2len);
  CHECK(rc < 0, "NULL der returned %d", rc);

  /* Every prefix of the text (exact-size, unterminated copies): no crash, and
   * success only once the END line is in, with the same DER. */
  static const char endmark[] = "-----END ENCRYPTED PRIVATE KEY-----";
  const char *endline = strstr((const char *) pem, endmark);
  size_t need = endline ? (size_t) (endline - (const char *) pem) + sizeof endmark - 1 : len;
  int bad_prefix = 0;
  for (size_t cut = 0; cut < len; cut++) {
    char *t = malloc(cut ? cut : 1);
    if (t == NULL)
      break;
    memcpy(t, pem, cut);
    rc = hotssl__pkcs8_pem_extract(t, cut, &d2, &d2len);
    int ok = rc == 1 ? (cut >= need && d2len == derlen && memcmp(d2, der, derlen) == 0)
                     : (d2 == NULL && (cut < need));
    if (!ok && bad_prefix++ < 5)
      fprintf(stderr, "  PEM prefix %zu/%zu: rc %d\n", cut, len, rc);
    free_secret(d2, d2len);
    d2 = NULL;
    free(t);
  }
  CHECK(bad_prefix == 0, "%d PEM prefixes misbehaved", bad_prefix);

done:
  free_secret(der, derlen);
  free_secret(pem, len);
  free_secret(plain, plen);
}

/* ---- hand-built EncryptedPrivateKeyInfo for parameters openssl will not write ---- */

typedef struct {
  unsigned char b[8192];
  size_t n;
} dbuf;

static void put(dbuf *d, const void *p, size_t n)
{
  if (d->n + n <= sizeof d->b) {
    memcpy(d->b + d->n, p, n);
    d->n += n;
  }
}

static void tlv(dbuf *d, unsigned char tag, const void *p, size_t n)
{
  unsigned char h[4];
  size_t hl = 0;
  h[hl++] = tag;
  if (n < 0x80) {
    h[hl++] = (unsigned char) n;
  } else if (n < 0x100) {
    h[hl++] = 0x81;
    h[hl++] = (unsigned char) n;
  } else {
    h[hl++] = 0x82;
    h[hl++] = (unsigned char) (n >> 8);
    h[hl++] = (unsigned char) n;
  }
  put(d, h, hl);
  put(d, p, n);
}

static void seq(dbuf *d, const dbuf *inner)
{
  tlv(d, 0x30, inner->b, inner->n);
}

/* Minimal two's-complement INTEGER, so negative and over-long counts can be sent. */
static void integer(dbuf *d, long long v)
{
  unsigned char b[9];
  size_t n = 0;
  b[n++] = v < 0 ? 0xff : 0x00;  /* sign byte, stripped again below when redundant */
  for (int i = 7; i >= 0; i--)
    b[n++] = (unsigned char) ((unsigned long long) v >> (i * 8));
  size_t s = 0;
  while (s < 8 && ((b[s] == 0x00 && !(b[s + 1] & 0x80)) || (b[s] == 0xff && (b[s + 1] & 0x80))))
    s++;
  tlv(d, 0x02, b + s, 9 - s);
}

#define OID(s) s, sizeof(s) - 1
static const char OID_PBES2[] = "\x2a\x86\x48\x86\xf7\x0d\x01\x05\x0d";
static const char OID_PBKDF2[] = "\x2a\x86\x48\x86\xf7\x0d\x01\x05\x0c";
static const char OID_PBES1_3DES[] = "\x2a\x86\x48\x86\xf7\x0d\x01\x0c\x01\x03";
static const char OID_SCRYPT[] = "\x2b\x06\x01\x04\x01\xda\x47\x04\x0b";
static const char OID_HMAC_SHA224[] = "\x2a\x86\x48\x86\xf7\x0d\x02\x08";
static const char OID_HMAC_SHA256[] = "\x2a\x86\x48\x86\xf7\x0d\x02\x09";
static const char OID_HMAC_SHA384[] = "\x2a\x86\x48\x86\xf7\x0d\x02\x0a";
static const char OID_AES128_CBC[] = "\x60\x86\x48\x01\x65\x03\x04\x01\x02";
static const char OID_AES192_CBC[] = "\x60\x86\x48\x01\x65\x03\x04\x01\x16";
static const char OID_AES256_CBC[] = "\x60\x86\x48\x01\x65\x03\x04\x01\x2a";
static const char OID_DES_EDE3_CBC[] = "\x2a\x86\x48\x86\xf7\x0d\x03\x07";
static const char OID_1_2_3_4[] = "\x2a\x03\x04";

typedef struct {
  const char *outer_oid;
  size_t outer_oidlen;
  const char *kdf_oid;
  size_t kdf_oidlen;
  int salt_other;       /* salt as otherSource AlgorithmIdentifier */
  long long iter;
  int keylen_field;     /* -1: absent */
  const char *prf_oid;  /* NULL: absent (hmacWithSHA1) */
  size_t prf_oidlen;
  int prf_params;       /* 0 absent, 1 NULL, 2 OCTET STRING (invalid) */
  mbedtls_md_type_t md; /* what to really derive with */
  const char *enc_oid;
  size_t enc_oidlen;
  size_t keylen;        /* what to really encrypt with */
  size_t ivlen;
  const unsigned char *plain;  /* NULL: use `ct` as given */
  size_t plainlen;
  int raw_pad;          /* 1: plain is already padded (lets a test send bad padding) */
  size_t ctlen_override;  /* with plain == NULL: this many zero bytes of "ciphertext" */
  int trailing;
} synth;

/* Builds the DER and, when a plaintext is given, really encrypts it with the
 * stated parameters so the decryptor's success path can be checked too. */
static size_t build(const synth *s, dbuf *outd)
{
  static const unsigned char salt[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
  static const unsigned char iv[16] = { 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6 };
  dbuf kdfp = { .n = 0 }, kdf = { .n = 0 }, enc = { .n = 0 }, pbes2p = { .n = 0 }, alg = { .n = 0 };
  dbuf body = { .n = 0 }, prf = { .n = 0 }, tmp = { .n = 0 };

  if (s->salt_other) {
    tlv(&tmp, 0x06, OID(OID_1_2_3_4));
    seq(&kdfp, &tmp);
    tmp.n = 0;
  } else {
    tlv(&kdfp, 0x04, salt, sizeof salt);
  }
  integer(&kdfp, s->iter);
  if (s->keylen_field >= 0)
    integer(&kdfp, s->keylen_field);
  if (s->prf_oid != NULL) {
    tlv(&prf, 0x06, s->prf_oid, s->prf_oidlen);
    if (s->prf_params == 1)
      tlv(&prf, 0x05, "", 0);
    else if (s->prf_params == 2)
      tlv(&prf, 0x04, "x", 1);
    seq(&kdfp, &prf);
  }
  tlv(&kdf, 0x06, s->kdf_oid, s->kdf_oidlen);
  seq(&kdf, &kdfp);
  tlv(&enc, 0x06, s->enc_oid, s->enc_oidlen);
  tlv(&enc, 0x04, iv, s->ivlen);
  seq(&pbes2p, &kdf);
  seq(&pbes2p, &enc);
  tlv(&alg, 0x06, s->outer_oid, s->outer_oidlen);
  seq(&alg, &pbes2p);
  seq(&body, &alg);

  dbuf ct = { .n = 0 };
  if (s->plain != NULL) {
    unsigned char key[32], ivc[16];
    size_t padded = s->raw_pad ? s->plainlen : (s->plainlen / 16 + 1) * 16;
    memcpy(ct.b, s->plain, s->plainlen);
    for (size_t i = s->plainlen; i < padded; i++)
      ct.b[i] = (unsigned char) (padded - s->plainlen);
    ct.n = padded;
    memcpy(ivc, iv, 16);
    mbedtls_aes_context aes;
    mbedtls_aes_init(&aes);
    if (pbkdf2(s->md, PWD, salt, sizeof salt, (unsigned) s->iter, key, s->keylen) != 0 ||
        mbedtls_aes_setkey_enc(&aes, key, (unsigned) (s->keylen * 8)) != 0 ||
        mbedtls_aes_crypt_cbc(&aes, MBEDTLS_AES_ENCRYPT, ct.n, ivc, ct.b, ct.b) != 0)
      fprintf(stderr, "test setup: encryption failed\n");
    mbedtls_aes_free(&aes);
    mbedtls_platform_zeroize(key, sizeof key);
  } else {
    ct.n = s->ctlen_override;
    memset(ct.b, 0, ct.n);
  }
  tlv(&body, 0x04, ct.b, ct.n);
  outd->n = 0;
  seq(outd, &body);
  if (s->trailing)
    put(outd, "\0", 1);
  return outd->n;
}

static synth base_synth(const unsigned char *plain, size_t plainlen)
{
  synth s = {
    .outer_oid = OID(OID_PBES2), .kdf_oid = OID(OID_PBKDF2), .iter = 3,
    .keylen_field = 32, .prf_oid = OID(OID_HMAC_SHA256), .prf_params = 1, .md = MBEDTLS_MD_SHA256,
    .enc_oid = OID(OID_AES256_CBC), .keylen = 32, .ivlen = 16, .plain = plain, .plainlen = plainlen,
  };
  return s;
}

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* A minimal PrivateKeyInfo-shaped DER, SEQUENCE { INTEGER 0, OCTET STRING },
 * of exactly `total` bytes (7..129) whose last byte is `last`: lets padding
 * tests choose the plaintext length freely and still pass the DER check. */
static size_t make_pki(unsigned char *buf, size_t total, unsigned char last)
{
  size_t n = total - 7;
  buf[0] = 0x30;
  buf[1] = (unsigned char) (total - 2);
  buf[2] = 0x02;
  buf[3] = 0x01;
  buf[4] = 0x00;
  buf[5] = 0x04;
  buf[6] = (unsigned char) n;
  memset(buf + 7, 0xab, n);
  buf[total - 1] = last;
  return total;
}

static int try_synth(const synth *s, const char *pwd, char *err, size_t errlen, int *matches, const unsigned char *plain, size_t plainlen)
{
  dbuf *d = malloc(sizeof *d);
  unsigned char *out = NULL;
  size_t outlen = 0;
  if (d == NULL)
    return 99;
  size_t n = build(s, d);
  unsigned char *exact = malloc(n);  /* exact-size copy so ASan sees any over-read */
  if (exact == NULL) {
    free(d);
    return 99;
  }
  memcpy(exact, d->b, n);
  int rc = decrypt(exact, n, pwd, &out, &outlen, err, errlen);
  if (matches != NULL)
    *matches = rc == HOTSSL__PKCS8_OK && plain != NULL && outlen == plainlen &&
               memcmp(out, plain, plainlen) == 0;
  if (rc != HOTSSL__PKCS8_OK && out != NULL)
    rc = 98;  /* output leaked on failure */
  hotssl__secure_free(out);
  free(exact);
  free(d);
  return rc;
}

static void test_synthetic(const char *plain_file)
{
  size_t plen = 0;
  unsigned char *plain = slurp(plain_file, &plen);
  char err[160];
  int rc, match;

  CHECK(plain != NULL, "cannot read %s", plain_file);
  if (plain == NULL)
    return;

  synth s = base_synth(plain, plen);
  rc = try_synth(&s, PWD, err, sizeof err, &match, plain, plen);
  CHECK(rc == HOTSSL__PKCS8_OK && match, "explicit keyLength + NULL prf params: rc %d (%s)", rc, err);

  s = base_synth(plain, plen);
  s.prf_params = 0;
  s.keylen_field = -1;
  rc = try_synth(&s, PWD, err, sizeof err, &match, plain, plen);
  CHECK(rc == HOTSSL__PKCS8_OK && match, "absent prf params: rc %d (%s)", rc, err);

  s = base_synth(plain, plen);
  s.prf_oid = NULL;
  s.md = MBEDTLS_MD_SHA1;
  s.enc_oid = OID_AES128_CBC;
  s.enc_oidlen = sizeof OID_AES128_CBC - 1;
  s.keylen = 16;
  s.keylen_field = 16;
  rc = try_synth(&s, PWD, err, sizeof err, &match, plain, plen);
  CHECK(rc == HOTSSL__PKCS8_OK && match, "default PRF, aes128, keyLength 16: rc %d (%s)", rc, err);

  s = base_synth(plain, plen);
  s.iter = 1;
  s.prf_oid = OID_HMAC_SHA384;
  s.prf_oidlen = sizeof OID_HMAC_SHA384 - 1;
  s.md = MBEDTLS_MD_SHA384;
  s.enc_oid = OID_AES192_CBC;
  s.enc_oidlen = sizeof OID_AES192_CBC - 1;
  s.keylen = 24;
  s.keylen_field = 24;
  rc = try_synth(&s, PWD, err, sizeof err, &match, plain, plen);
  CHECK(rc == HOTSSL__PKCS8_OK && match, "iter 1, SHA-384, aes192: rc %d (%s)", rc, err);
  rc = try_synth(&s, BADPWD, err, sizeof err, NULL, NULL, 0);
  CHECK(rc == HOTSSL__PKCS8_BAD_PASSWORD, "iter 1 wrong password: rc %d", rc);

  /* keyLength that disagrees with the cipher. */
  s = base_synth(plain, plen);
  s.keylen_field = 16;
  rc = try_synth(&s, PWD, err, sizeof err, NULL, NULL, 0);
  CHECK(rc == HOTSSL__PKCS8_BAD_FORMAT, "keyLength 16 with aes256: rc %d", rc);
  s.keylen_field = 0;
  rc = try_synth(&s, PWD, err, sizeof err, NULL, NULL, 0);
  CHECK(rc == HOTSSL__PKCS8_BAD_FORMAT, "keyLength 0: rc %d", rc);

  /* Iteration counts a hostile file could use to hang us, or that are invalid;
   * each must be refused before any derivation, i.e. at once. */
  static const long long iters[] = { 0, -1, -2048, 10000001LL, 2147483647LL, 1LL << 40 };
  alarm(60);  /* if the bound ever regresses, die (SIGALRM) instead of hanging CI */
  for (size_t i = 0; i < sizeof iters / sizeof iters[0]; i++) {
    s = base_synth(NULL, 0);
    s.ctlen_override = 32;
    s.iter = iters[i];
    double t0 = now();
    rc = try_synth(&s, PWD, err, sizeof err, NULL, NULL, 0);
    double dt = now() - t0;
    CHECK(rc == (iters[i] < 1 ? HOTSSL__PKCS8_BAD_FORMAT : HOTSSL__PKCS8_TOO_COSTLY) && dt < 1.0,
          "iteration count %lld: rc %d after %.2fs",
          iters[i], rc, dt);
  }
  alarm(0);

  /* Unsupported but well-formed PBES2: named in errbuf. */
  s = base_synth(plain, plen);
  s.prf_oid = OID_HMAC_SHA224;
  s.prf_oidlen = sizeof OID_HMAC_SHA224 - 1;
  rc = try_synth(&s, PWD, err, sizeof err, NULL, NULL, 0);
  CHECK(rc == HOTSSL__PKCS8_UNSUPPORTED && strstr(err, "hmacWithSHA224"), "SHA-224 PRF: rc %d (%s)", rc, err);
  s = base_synth(plain, plen);
  s.enc_oid = OID_DES_EDE3_CBC;
  s.enc_oidlen = sizeof OID_DES_EDE3_CBC - 1;
  s.ivlen = 8;
  rc = try_synth(&s, PWD, err, sizeof err, NULL, NULL, 0);
  CHECK(rc == HOTSSL__PKCS8_UNSUPPORTED && strstr(err, "des-ede3-cbc"), "3DES: rc %d (%s)", rc, err);
  s = base_synth(plain, plen);
  s.enc_oid = OID_1_2_3_4;
  s.enc_oidlen = sizeof OID_1_2_3_4 - 1;
  rc = try_synth(&s, PWD, err, sizeof err, NULL, NULL, 0);
  CHECK(rc == HOTSSL__PKCS8_UNSUPPORTED && strstr(err, "1.2.3.4"), "unknown cipher: rc %d (%s)", rc, err);
  s = base_synth(plain, plen);
  s.kdf_oid = OID_SCRYPT;
  s.kdf_oidlen = sizeof OID_SCRYPT - 1;
  rc = try_synth(&s, PWD, err, sizeof err, NULL, NULL, 0);
  CHECK(rc == HOTSSL__PKCS8_UNSUPPORTED && strstr(err, "scrypt"), "scrypt: rc %d (%s)", rc, err);
  s = base_synth(plain, plen);
  s.salt_other = 1;
  rc = try_synth(&s, PWD, err, sizeof err, NULL, NULL, 0);
  CHECK(rc == HOTSSL__PKCS8_UNSUPPORTED, "salt otherSource: rc %d (%s)", rc, err);

  /* Not PBES2 at all: handed back to mbedtls. */
  s = base_synth(plain, plen);
  s.outer_oid = OID_PBES1_3DES;
  s.outer_oidlen = sizeof OID_PBES1_3DES - 1;
  rc = try_synth(&s, PWD, err, sizeof err, NULL, NULL, 0);
  CHECK(rc == HOTSSL__PKCS8_NOT_PBES2, "PBES1: rc %d", rc);
  unsigned char *out = NULL;
  size_t outlen = 0;
  rc = decrypt(plain, plen, PWD, &out, &outlen, err, sizeof err);
  CHECK(rc == HOTSSL__PKCS8_NOT_PBES2 && out == NULL, "unencrypted PrivateKeyInfo: rc %d", rc);
  rc = decrypt((const unsigned char *) "hello", 5, PWD, &out, &outlen, err, sizeof err);
  CHECK(rc == HOTSSL__PKCS8_NOT_PBES2, "text: rc %d", rc);
  rc = decrypt((const unsigned char *) "", 0, PWD, &out, &outlen, err, sizeof err);
  CHECK(rc == HOTSSL__PKCS8_NOT_PBES2, "empty input: rc %d", rc);
  rc = decrypt(NULL, 0, PWD, &out, &outlen, err, sizeof err);
  CHECK(rc == HOTSSL__PKCS8_NOT_PBES2, "NULL empty input: rc %d", rc);
  rc = hotssl__pkcs8_decrypt(plain, plen, NULL, 0, NULL, &outlen, err, sizeof err);
  CHECK(rc == HOTSSL__PKCS8_BAD_FORMAT, "NULL out: rc %d", rc);

  /* Decrypts with valid padding but the result is not a PrivateKeyInfo. */
  static const unsigned char notder[] = "this is not DER at all";
  s = base_synth(notder, sizeof notder - 1);
  rc = try_synth(&s, PWD, err, sizeof err, NULL, NULL, 0);
  CHECK(rc == HOTSSL__PKCS8_BAD_PASSWORD, "non-DER plaintext: rc %d", rc);
  static const unsigned char shortseq[] = { 0x30, 0x05, 0x04, 0x03, 'a', 'b', 'c' };
  s = base_synth(shortseq, sizeof shortseq);
  rc = try_synth(&s, PWD, err, sizeof err, NULL, NULL, 0);
  CHECK(rc == HOTSSL__PKCS8_BAD_PASSWORD, "SEQUENCE without version: rc %d", rc);
  static const unsigned char v2[] = { 0x30, 0x03, 0x02, 0x01, 0x02 };  /* RFC 5958 knows v1, v2 only */
  s = base_synth(v2, sizeof v2);
  rc = try_synth(&s, PWD, err, sizeof err, NULL, NULL, 0);
  CHECK(rc == HOTSSL__PKCS8_BAD_PASSWORD, "version 2 plaintext: rc %d", rc);
  static const unsigned char longseq[] = { 0x30, 0x09, 0x02, 0x01, 0x00 };
  s = base_synth(longseq, sizeof longseq);
  rc = try_synth(&s, PWD, err, sizeof err, NULL, NULL, 0);
  CHECK(rc == HOTSSL__PKCS8_BAD_PASSWORD, "SEQUENCE longer than plaintext: rc %d", rc);
  /* Padding must be checked strictly on its own, not just left to the DER
   * check: each plaintext below is a valid PrivateKeyInfo-shaped DER of the
   * length a lax unpadder would cut it to, so only strict padding rejects it. */
  unsigned char pt[64];
  size_t dl = make_pki(pt, 47, 0xab);   /* 47 + 17 = 64: pad byte 17 > block size */
  memset(pt + dl, 17, 17);
  s = base_synth(pt, dl + 17);
  s.raw_pad = 1;
  rc = try_synth(&s, PWD, err, sizeof err, NULL, NULL, 0);
  CHECK(rc == HOTSSL__PKCS8_BAD_PASSWORD, "pad byte 17: rc %d", rc);
  dl = make_pki(pt, 32, 0x00);          /* ends in 0x00: "pad byte 0" */
  s = base_synth(pt, dl);
  s.raw_pad = 1;
  rc = try_synth(&s, PWD, err, sizeof err, NULL, NULL, 0);
  CHECK(rc == HOTSSL__PKCS8_BAD_PASSWORD, "pad byte 0: rc %d", rc);
  for (size_t bad_at = 1; bad_at <= 6; bad_at++) {  /* 6 pad bytes, one of them wrong */
    dl = make_pki(pt, 42, 0xab);
    memset(pt + dl, 6, 6);
    pt[dl + 6 - bad_at] ^= 0x40;
    s = base_synth(pt, dl + 6);
    s.raw_pad = 1;
    rc = try_synth(&s, PWD, err, sizeof err, NULL, NULL, 0);
    CHECK(rc == HOTSSL__PKCS8_BAD_PASSWORD,
          "inconsistent padding, byte %zu from the end wrong: rc %d", bad_at, rc);
  }
  /* Boundaries that are valid: a whole block of padding, and a single pad byte. */
  dl = make_pki(pt, 48, 0xab);
  s = base_synth(pt, dl);
  rc = try_synth(&s, PWD, err, sizeof err, &match, pt, dl);
  CHECK(rc == HOTSSL__PKCS8_OK && match, "full padding block: rc %d (%s)", rc, err);
  dl = make_pki(pt, 47, 0xab);
  s = base_synth(pt, dl);
  rc = try_synth(&s, PWD, err, sizeof err, &match, pt, dl);
  CHECK(rc == HOTSSL__PKCS8_OK && match, "one pad byte: rc %d (%s)", rc, err);

  /* Structural damage. */
  s = base_synth(NULL, 0);
  s.ctlen_override = 15;
  rc = try_synth(&s, PWD, err, sizeof err, NULL, NULL, 0);
  CHECK(rc == HOTSSL__PKCS8_BAD_FORMAT, "15-byte ciphertext: rc %d", rc);
  s.ctlen_override = 0;
  rc = try_synth(&s, PWD, err, sizeof err, NULL, NULL, 0);
  CHECK(rc == HOTSSL__PKCS8_BAD_FORMAT, "empty ciphertext: rc %d", rc);
  s = base_synth(plain, plen);
  s.ivlen = 8;
  rc = try_synth(&s, PWD, err, sizeof err, NULL, NULL, 0);
  CHECK(rc == HOTSSL__PKCS8_BAD_FORMAT, "8-byte IV: rc %d", rc);
  s = base_synth(plain, plen);
  s.trailing = 1;
  rc = try_synth(&s, PWD, err, sizeof err, NULL, NULL, 0);
  CHECK(rc == HOTSSL__PKCS8_BAD_FORMAT, "trailing byte: rc %d", rc);
  s = base_synth(plain, plen);
  s.prf_params = 2;
  rc = try_synth(&s, PWD, err, sizeof err, NULL, NULL, 0);
  CHECK(rc == HOTSSL__PKCS8_BAD_FORMAT, "OCTET STRING prf params: rc %d", rc);

  /* errbuf is optional and may be tiny. */
  s = base_synth(plain, plen);
  s.keylen_field = 16;
  rc = try_synth(&s, PWD, NULL, 0, NULL, NULL, 0);
  CHECK(rc == HOTSSL__PKCS8_BAD_FORMAT, "NULL errbuf: rc %d", rc);
  char tiny[4] = "xyz";
  rc = try_synth(&s, PWD, tiny, 1, NULL, NULL, 0);
  CHECK(rc == HOTSSL__PKCS8_BAD_FORMAT && tiny[0] == '\0' && tiny[1] == 'y', "1-byte errbuf: rc %d", rc);

  free_secret(plain, plen);
}

int main(void)
{
  const char *tmp = getenv("TMPDIR");
  if (tmp == NULL || *tmp == '\0' || strchr(tmp, '\'') != NULL || strlen(tmp) > 200)
    tmp = "/tmp";
  snprintf(g_dir, sizeof g_dir, "%s/hotssl_pkcs8_XXXXXX", tmp);
  if (mkdtemp(g_dir) == NULL) {
    perror("mkdtemp");
    return 1;
  }

  /* RSA and EC, each encrypted the ways users produce encrypted PKCS#8 with
   * OpenSSL 3; the -nocrypt PKCS#8 DER is what decryption must give back. */
  static const char *const cmds[] = {
    "genpkey -quiet -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.pem",
    "genpkey -quiet -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.pem",
    "pkey -in rsa.pem -pubout -out rsa.pub.pem",
    "pkey -in ec.pem -pubout -out ec.pub.pem",
    "pkcs8 -topk8 -nocrypt -in rsa.pem -outform DER -out rsa.plain.der",
    "pkcs8 -topk8 -nocrypt -in ec.pem -outform DER -out ec.plain.der",
    "pkey -in rsa.pem -aes256 -passout pass:" PWD " -out rsa.aes256.pem",
    "pkey -in ec.pem -aes256 -passout pass:" PWD " -out ec.aes256.pem",
    "pkcs8 -topk8 -in rsa.pem -v2 aes128 -v2prf hmacWithSHA1 -passout pass:" PWD " -out rsa.aes128sha1.pem",
    "pkcs8 -topk8 -in ec.pem -v2 aes128 -v2prf hmacWithSHA1 -passout pass:" PWD " -out ec.aes128sha1.pem",
    "pkcs8 -topk8 -in ec.pem -v2 aes256 -passout pass:" PWD " -outform DER -out ec.aes256.der",
    "pkcs8 -topk8 -in rsa.pem -v2 aes256 -v2prf hmacWithSHA384 -passout pass:" PWD " -outform DER -out rsa.aes256sha384.der",
    "pkcs8 -topk8 -in ec.pem -v2 aes192 -v2prf hmacWithSHA512 -passout pass:" PWD " -out ec.aes192sha512.pem",
    "pkcs8 -topk8 -in ec.pem -v2 aes128 -iter 1 -passout pass:" PWD " -out ec.iter1.pem",
  };
  int setup_ok = system("openssl version >/dev/null 2>&1") == 0;
  if (!setup_ok)
    fprintf(stderr, "FAIL: the openssl CLI is needed to generate test keys\n");
  for (size_t i = 0; setup_ok && i < sizeof cmds / sizeof cmds[0]; i++)
    setup_ok = run(cmds[i]);
  CHECK(setup_ok, "generating keys with openssl");

  if (setup_ok) {
    static const key_case cases[] = {
      { "rsa.aes256.pem", 1, "rsa.plain.der", "rsa.pub.pem" },
      { "ec.aes256.pem", 1, "ec.plain.der", "ec.pub.pem" },
      { "rsa.aes128sha1.pem", 1, "rsa.plain.der", "rsa.pub.pem" },
      { "ec.aes128sha1.pem", 1, "ec.plain.der", "ec.pub.pem" },
      { "ec.aes256.der", 0, "ec.plain.der", "ec.pub.pem" },
      { "rsa.aes256sha384.der", 0, "rsa.plain.der", "rsa.pub.pem" },
      { "ec.aes192sha512.pem", 1, "ec.plain.der", "ec.pub.pem" },
      { "ec.iter1.pem", 1, "ec.plain.der", "ec.pub.pem" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
      test_key(&cases[i]);
    test_pem("ec.aes256.pem", "ec.pem");
    test_synthetic("ec.plain.der");
  }

  cleanup_dir();
  printf("test_pkcs8: %d passed, %d failed\n", g_pass, g_fail);
  return g_fail == 0 ? 0 : 1;
}
