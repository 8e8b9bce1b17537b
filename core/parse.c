/*
 * Parsing the files of a configuration (certificates, keys, CRLs, DH
 * parameters) with PostgreSQL's diagnosis of what is wrong with a file that
 * does not parse: the wrong kind of PEM block, a truncated one, DER cut
 * short.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/asn1.h>
#include <mbedtls/error.h>
#include <mbedtls/pem.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509.h>
#include <mbedtls/x509_crt.h>

#include "../os/os.h"
#include "parse.h"
#include "util.h"
#include "x509ext.h"

#ifndef MBEDTLS_PRIVATE
#  define MBEDTLS_PRIVATE(member) member
#endif

/* The loader skips reading a file only when its parsed object is reused
 * (core/inputs.c); one that reaches a parser unread is a bug, refused. */
int hotssl__parse_unread(const hotssl__blob *b, const char *what, char *errbuf, size_t errlen) {
  if (b->data != NULL)
    return 0;
  hotssl__fmt(errbuf, errlen, "could not load %s \"%s\": internal error: file was not read", what,
              b->path != NULL ? b->path : "");
  return 1;
}

int hotssl__parse_looks_pem(const hotssl__blob *b) {
  return strstr((const char *)b->data, "-----BEGIN ") != NULL;
}

static size_t count_of(const char *s, const char *needle) {
  size_t n = 0;
  while ((s = strstr(s, needle)) != NULL) {
    n++;
    s += strlen(needle);
  }
  return n;
}

/* What kind of file a PEM label says it is. */
static const char *pem_kind(const hotssl__blob *b) {
  const char *t = (const char *)b->data;
  if (strstr(t, "-----BEGIN X509 CRL-----") != NULL)
    return "crl";
  if (strstr(t, "-----BEGIN CERTIFICATE REQUEST-----") != NULL ||
      strstr(t, "-----BEGIN NEW CERTIFICATE REQUEST-----") != NULL)
    return "csr";
  if (strstr(t, "-----BEGIN CERTIFICATE-----") != NULL ||
      strstr(t, "-----BEGIN TRUSTED CERTIFICATE-----") != NULL)
    return "crt";
  if (strstr(t, "PRIVATE KEY-----") != NULL)
    return "key";
  if (strstr(t, "-----BEGIN PUBLIC KEY-----") != NULL)
    return "pub";
  if (strstr(t, "-----BEGIN DH PARAMETERS-----") != NULL)
    return "dh";
  if (strstr(t, "-----BEGIN X9.42 DH PARAMETERS-----") != NULL)
    return "x942";
  return hotssl__parse_looks_pem(b) ? "other" : NULL;
}

/* A DER SEQUENCE whose length says more bytes than the file has. */
static int der_truncated(const hotssl__blob *b) {
  unsigned char *p = b->data + 1;
  size_t len;
  return mbedtls_asn1_get_len(&p, b->data + b->len, &len) == MBEDTLS_ERR_ASN1_OUT_OF_DATA;
}

/* After mbedTLS refused b as a certificate or CRL: the first critical
 * extension it does not evaluate, in any block of b, into name. */
static int unsupported_ext(const hotssl__blob *b, const char *want, char *name, size_t len) {
  int crl = strcmp(want, "crl") == 0;
  const char *begin = crl ? "-----BEGIN X509 CRL-----" : "-----BEGIN CERTIFICATE-----";
  const char *end = crl ? "-----END X509 CRL-----" : "-----END CERTIFICATE-----";
  const char *t = (const char *)b->data, *s;
  int found = 0;
  if (!crl && strcmp(want, "crt") != 0)
    return 0;
  if (!hotssl__parse_looks_pem(b))
    return hotssl__x509_unsupported_critical(b->data, b->len, crl, name, len);
  for (s = strstr(t, begin); s != NULL && !found; s = strstr(s + 1, begin)) {
    mbedtls_pem_context pem;
    size_t used = 0;
    mbedtls_pem_init(&pem);
    if (mbedtls_pem_read_buffer(&pem, begin, end, (const unsigned char *)s, NULL, 0, &used) == 0)
      found = hotssl__x509_unsupported_critical(pem.MBEDTLS_PRIVATE(buf), pem.MBEDTLS_PRIVATE(buflen),
                                                crl, name, len);
    mbedtls_pem_free(&pem);
  }
  return found;
}

/*
 * A parse failure of b, which should hold `want` ("crt", "key", "crl" or
 * "dh"), said in the user's words, with mbedTLS's text and code in
 * parentheses: "this is a private key, not a certificate (X509 - ... (-0x2180))".
 */
void hotssl__parse_error_text(char *buf, size_t len, const hotssl__blob *b, const char *want, int ret) {
  static const struct { const char *kind, *name, *noun; } names[] = {
      {"crt", "a certificate", "certificate"}, {"key", "a private key", "private key"},
      {"crl", "a certificate revocation list", "CRL"}, {"dh", "DH parameters", "DH parameters"},
      {"csr", "a certificate signing request", NULL}, {"pub", "a public key", NULL},
      {"x942", "X9.42 DH parameters (mbedTLS reads PKCS#3 \"DH PARAMETERS\" only)", NULL}};
  const char *kind = pem_kind(b), *want_name = "", *noun = "", *is_name = NULL;
  char t[300], why[200], ext[120];
  size_t i;
  hotssl__mbedtls_err(t, sizeof t, ret);
  for (i = 0; i < sizeof names / sizeof names[0]; i++) {
    if (strcmp(names[i].kind, want) == 0) {
      want_name = names[i].name;
      noun = names[i].noun;
    }
    if (kind != NULL && strcmp(names[i].kind, kind) == 0)
      is_name = names[i].name;
  }
  if ((kind == NULL || strcmp(kind, want) == 0) && unsupported_ext(b, want, ext, sizeof ext))
    hotssl__fmt(why, sizeof why, "critical extension %s is not supported", ext);
  else if (kind != NULL && strcmp(kind, want) != 0 && is_name != NULL)
    hotssl__fmt(why, sizeof why, "this is %s, not %s", is_name, want_name);
  else if (kind != NULL && strcmp(kind, want) == 0)
    hotssl__fmt(why, sizeof why, "the PEM block does not hold valid %s data (damaged base64 or DER inside)", noun);
  else if (kind != NULL)
    hotssl__fmt(why, sizeof why, "no PEM %s found (the file holds other PEM blocks)", noun);
  else if (b->len > 0 && b->data[0] == 0x30 && der_truncated(b))
    hotssl__fmt(why, sizeof why, "DER data is truncated");
  else if (b->len > 0 && b->data[0] == 0x30)
    hotssl__fmt(why, sizeof why, "the DER data is not %s", want_name);
  else
    hotssl__fmt(why, sizeof why, "no PEM %s found, and the file is not DER either", noun);
  hotssl__fmt(buf, len, "%s (%s)", why, t);
}

/* A PEM block cut short (a half-written file) gets its own clear reason. */
int hotssl__parse_truncated_pem(const hotssl__blob *b, const char *what, char *errbuf, size_t errlen) {
  const char *t = (const char *)b->data;
  if (!hotssl__parse_looks_pem(b) || count_of(t, "-----BEGIN ") == count_of(t, "-----END "))
    return 0;
  hotssl__fmt(errbuf, errlen, "could not load %s \"%s\": truncated PEM (a BEGIN line without its END line)",
              what, b->path);
  return 1;
}

/* Strict chain parse: every certificate must parse (mbedTLS returns a
 * positive count of failures and keeps the rest). */
/* A snapshot's DER list (hotssl__der_lists), each certificate parsed as
 * DER. */
static int parse_der_list(mbedtls_x509_crt *crt, const hotssl__blob *b, const char *what,
                          char *errbuf, size_t errlen) {
  size_t off = 0;
  while (off < b->len) {
    const unsigned char *p = b->data + off;
    size_t n;
    int ret;
    char t[300];
    if (b->len - off < 4 ||
        (n = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3]) > b->len - off - 4) {
      hotssl__fmt(errbuf, errlen, "could not load %s \"%s\": malformed certificate list", what, b->path);
      return -1;
    }
    if ((ret = mbedtls_x509_crt_parse_der(crt, p + 4, n)) != 0) {
      hotssl__parse_error_text(t, sizeof t, b, "crt", ret);
      hotssl__fmt(errbuf, errlen, "could not load %s \"%s\": %s", what, b->path, t);
      return -1;
    }
    off += 4 + n;
  }
  return 0;
}

int hotssl__parse_crt_file(mbedtls_x509_crt *crt, const hotssl__blob *b, int der_list,
                           const char *what, char *errbuf, size_t errlen) {
  int ret;
  char t[300];
  if (hotssl__parse_unread(b, what, errbuf, errlen))
    return -1;
  if (der_list && b->len > 0)
    return parse_der_list(crt, b, what, errbuf, errlen);
  if (b->len == 0) {
    hotssl__fmt(errbuf, errlen, "could not load %s \"%s\": file is empty", what, b->path);
    return -1;
  }
  if (hotssl__parse_truncated_pem(b, what, errbuf, errlen))
    return -1;
  ret = mbedtls_x509_crt_parse(crt, b->data, hotssl__parse_looks_pem(b) ? b->len + 1 : b->len);
  if (ret < 0) {
    hotssl__parse_error_text(t, sizeof t, b, "crt", ret);
    hotssl__fmt(errbuf, errlen, "could not load %s \"%s\": %s", what, b->path, t);
    return -1;
  }
  if (ret > 0) {
    hotssl__fmt(errbuf, errlen,
                "could not load %s \"%s\": %d certificate(s) in the file could not be parsed",
                what, b->path, ret);
    return -1;
  }
  if (crt->raw.p == NULL) {
    hotssl__fmt(errbuf, errlen, "could not load %s \"%s\": no certificate found", what, b->path);
    return -1;
  }
  return 0;
}

int hotssl__crt_is_ca(const mbedtls_x509_crt *c) {
#if HOTSSL__MBEDTLS3
  if (mbedtls_x509_crt_get_ca_istrue(c) == 1)
    return 1;
#else
  if (c->ca_istrue)
    return 1;
#endif
  /* A v1 self-signed root has no basicConstraints. */
  return c->version == 1 && c->subject_raw.len == c->issuer_raw.len &&
         memcmp(c->subject_raw.p, c->issuer_raw.p, c->subject_raw.len) == 0;
}
