/*
 * libFuzzer target: the revocation table builder and its lookups, through
 * their internal interface (core/revocation.h), on arbitrary CRLs. Input
 * layout: u16 length of a CA part, the CA part (certificates, PEM or DER),
 * then CRL bytes (PEM or DER; several PEM CRLs allowed). Whatever mbedTLS
 * parses is handed to hotssl__revocation_build; then every question the
 * verifier asks (core/revocation.h, hotssl__crlview_*) is asked about every
 * parsed certificate, of the table and of the walk, and each CRL's entries
 * are looked up. The signature check that precedes the
 * table in the builder is skipped: the table must be safe on any parsed CRL.
 * The table's flat form (the spawn snapshot's CRL record) must decode back
 * to the same bytes; and the input itself is decoded as a flat table
 * (hostile input: refused or answered, never a crash).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/x509_crl.h>
#include <mbedtls/x509_crt.h>

#include "revocation.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* PEM (mbedTLS wants the terminating NUL counted) or DER. */
static int is_pem(const uint8_t *p, size_t n) {
  static const char h[] = "-----BEGIN ";
  for (size_t i = 0; i + sizeof h - 1 <= n; i++)
    if (memcmp(p + i, h, sizeof h - 1) == 0)
      return 1;
  return 0;
}

static unsigned char *terminated(const uint8_t *p, size_t n) {
  unsigned char *b = malloc(n + 1);
  if (b != NULL) {
    memcpy(b, p, n);
    b[n] = 0;
  }
  return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  mbedtls_x509_crt ca;
  mbedtls_x509_crl crl;
  hotssl__revocation *t = NULL;
  unsigned char *cab, *crlb;
  size_t calen;
  if (size < 2 || size > 300000)
    return 0;
  calen = (size_t)data[0] << 8 | data[1];
  if (calen > size - 2)
    calen = size - 2;
  cab = terminated(data + 2, calen);
  crlb = terminated(data + 2 + calen, size - 2 - calen);
  mbedtls_x509_crt_init(&ca);
  mbedtls_x509_crl_init(&crl);
  if (cab != NULL && crlb != NULL) {
    size_t crllen = size - 2 - calen;
    (void)mbedtls_x509_crt_parse(&ca, cab, is_pem(cab, calen) ? calen + 1 : calen);
    (void)mbedtls_x509_crl_parse(&crl, crlb, is_pem(crlb, crllen) ? crllen + 1 : crllen);
  }
  if (crl.raw.p != NULL && ca.raw.p != NULL &&
      hotssl__revocation_build(&t, &crl, &ca, &mbedtls_x509_crt_profile_default) == 0) {
    const mbedtls_x509_crt *c;
    const mbedtls_x509_crl *l;
    /* The verifier's questions, answered by the table and by the walk. */
    for (int walk = 0; walk <= 1; walk++) {
      hotssl__crlview v = {t, &crl, &ca, &mbedtls_x509_crt_profile_default, walk};
      for (c = &ca; c != NULL && c->raw.p != NULL; c = c->next) {
        (void)hotssl__crlview_has(&v, &c->subject_raw, &c->subject);
        (void)hotssl__crlview_has(&v, &c->issuer_raw, &c->issuer);
        (void)hotssl__crlview_signer(&v, c);
        (void)hotssl__crlview_time(&v, c, 1700000000);
        (void)hotssl__crlview_scope(&v, c);
        (void)hotssl__crlview_revoked(&v, c);
        (void)hotssl__crlview_ca_parent(&v, c);
        (void)hotssl__crlview_ca_index(&v, c);
      }
    }
    for (l = &crl; l != NULL && l->raw.p != NULL; l = l->next) {
      const mbedtls_x509_crl_entry *e;
      (void)hotssl__revocation_find(t, l->issuer_raw.p, l->issuer_raw.len);
      for (e = &l->entry; e != NULL && e->serial.p != NULL; e = e->next)
        (void)hotssl__revocation_lookup(t, l->issuer_raw.p, l->issuer_raw.len, e->serial.p,
                                        e->serial.len);
    }
    {
      size_t n = hotssl__revocation_encode(t, NULL);
      unsigned char *a = malloc(n), *b = malloc(n);
      hotssl__revocation *u = NULL;
      if (a != NULL && b != NULL) {
        hotssl__revocation_encode(t, a);
        if (hotssl__revocation_decode(a, n, t->n_ca, &u) == 0) {
          if (hotssl__revocation_encode(u, NULL) != n || (hotssl__revocation_encode(u, b), memcmp(a, b, n)) != 0)
            abort(); /* the flat form does not round-trip */
        } else {
          abort(); /* a table the builder made must decode */
        }
      }
      hotssl__revocation_free(u);
      free(a);
      free(b);
    }
    hotssl__revocation_free(t);
  }
  {
    hotssl__revocation *u = NULL;
    if (hotssl__revocation_decode(data, size, data[0] & 3, &u) == 0) {
      (void)hotssl__revocation_lookup(u, data, size > 8 ? 8 : size, data, size > 4 ? 4 : size);
      (void)hotssl__revocation_find(u, data, size > 8 ? 8 : size);
    }
    hotssl__revocation_free(u);
  }
  mbedtls_x509_crt_free(&ca);
  mbedtls_x509_crl_free(&crl);
  free(cab);
  free(crlb);
  return 0;
}
