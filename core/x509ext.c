/*
 * X.509 extensions read from the DER (see x509ext.h). Every reader is
 * bounded by the buffer it was given and treats what does not decode as
 * the answer that refuses: a scope that matches nothing, an extension
 * that is there.
 */
#include <stdio.h>
#include <string.h>

#include <mbedtls/asn1.h>
#include <mbedtls/oid.h>
#include <mbedtls/x509.h>

#include "../os/os.h"
#include "internal.h"
#include "x509ext.h"

#ifndef MBEDTLS_PRIVATE
#  define MBEDTLS_PRIVATE(member) member
#endif

#define CTX(n) (MBEDTLS_ASN1_CONTEXT_SPECIFIC | (n))
#define CCTX(n) (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | (n))
#define SEQ (MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)

/* id-ce arcs (2.5.29.N): the DER of the OID is 55 1D N. */
#define OID_CE(n) "\x55\x1d" n
#define OID_IDP OID_CE("\x1c")
#define OID_CRLDP OID_CE("\x1f")
#define OID_NAME_CONSTRAINTS OID_CE("\x1e")

/* One TLV at *p (before end): its tag, and its contents in [*v, *v + *n);
 * *p moves past it. 0, or -1 when it does not decode. */
static int tlv(unsigned char **p, const unsigned char *end, int *tag, unsigned char **v, size_t *n) {
  if (*p >= end)
    return -1;
  *tag = **p;
  (*p)++;
  if (mbedtls_asn1_get_len(p, end, n) != 0)
    return -1;
  *v = *p;
  *p += *n;
  return 0;
}

/* The extension with this OID in ext (the Extensions SEQUENCE, as mbedTLS
 * keeps it: crt->v3_ext, crl->crl_ext): its extnValue's contents. 1 found,
 * 0 not there, -1 the extensions do not decode. */
static int ext_find(const mbedtls_x509_buf *ext, const char *oid, size_t oid_len, unsigned char **val,
                    size_t *val_len, int *critical) {
  unsigned char *p = ext->p, *end, *v, *q, *qend, *o;
  size_t n, olen;
  int tag;
  if (ext->p == NULL || ext->len == 0)
    return 0;
  end = ext->p + ext->len;
  if (mbedtls_asn1_get_tag(&p, end, &n, SEQ) != 0)
    return -1;
  end = p + n;
  while (p < end) {
    if (tlv(&p, end, &tag, &q, &n) != 0 || tag != SEQ || p > end)
      return -1;
    qend = q + n;
    if (mbedtls_asn1_get_tag(&q, qend, &olen, MBEDTLS_ASN1_OID) != 0)
      return -1;
    o = q;
    q += olen;
    *critical = 0;
    if (q < qend && *q == MBEDTLS_ASN1_BOOLEAN && mbedtls_asn1_get_bool(&q, qend, critical) != 0)
      return -1;
    if (mbedtls_asn1_get_tag(&q, qend, &n, MBEDTLS_ASN1_OCTET_STRING) != 0)
      return -1;
    v = q;
    if (olen == oid_len && memcmp(o, oid, oid_len) == 0) {
      *val = v;
      *val_len = n;
      return 1;
    }
  }
  return 0;
}

/* A DistributionPointName ([0] fullName GeneralNames | [1]
 * nameRelativeToCRLIssuer) in [v, v + n): the fullName's contents, or NULL
 * for a relative name. -1 when it does not decode. */
static int dp_name(unsigned char *v, size_t n, const unsigned char **names, size_t *len) {
  unsigned char *p = v, *c;
  size_t cn;
  int tag;
  if (tlv(&p, v + n, &tag, &c, &cn) != 0 || p != v + n)
    return -1;
  *names = tag == CCTX(0) ? c : NULL;
  *len = tag == CCTX(0) ? cn : 0;
  return tag == CCTX(0) || tag == CCTX(1) ? 0 : -1;
}

static int bool_true(const unsigned char *v, size_t n) { return n == 1 && v[0] != 0; }

unsigned hotssl__crl_scope(const mbedtls_x509_crl *c, const unsigned char **dp, size_t *dplen) {
  unsigned char *v, *p, *end, *f;
  size_t n, fn;
  int critical, tag, r, only = 0;
  unsigned flags = 0;
  *dp = NULL;
  *dplen = 0;
  r = ext_find(&c->crl_ext, OID_IDP, sizeof OID_IDP - 1, &v, &n, &critical);
  if (r == 0)
    return 0;
  if (r < 0)
    return HOTSSL__SCOPE_IGNORED;
  p = v;
  end = v + n;
  if (mbedtls_asn1_get_tag(&p, end, &n, SEQ) != 0 || p + n != end)
    return HOTSSL__SCOPE_IGNORED;
  while (p < end) {
    if (tlv(&p, end, &tag, &f, &fn) != 0 || p > end)
      return HOTSSL__SCOPE_IGNORED;
    if (tag == CCTX(0)) {
      if (dp_name(f, fn, dp, dplen) != 0)
        return HOTSSL__SCOPE_IGNORED;
      flags |= HOTSSL__SCOPE_DP;
    } else if (tag == CTX(1) && bool_true(f, fn)) {
      flags |= HOTSSL__SCOPE_ONLY_USER;
      only++;
    } else if (tag == CTX(2) && bool_true(f, fn)) {
      flags |= HOTSSL__SCOPE_ONLY_CA;
      only++;
    } else if (tag == CTX(5) && bool_true(f, fn)) {
      flags |= HOTSSL__SCOPE_ONLY_ATTR;
      only++;
    } else if (tag == CTX(3) || (tag == CTX(4) && bool_true(f, fn))) {
      return HOTSSL__SCOPE_IGNORED; /* onlySomeReasons, indirectCRL */
    } else if (tag != CTX(1) && tag != CTX(2) && tag != CTX(4) && tag != CTX(5)) {
      return HOTSSL__SCOPE_IGNORED;
    }
  }
  return only > 1 ? HOTSSL__SCOPE_IGNORED : flags;
}

/* Do two GeneralNames contents share a name (byte-equal TLVs)? */
static int names_meet(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen) {
  unsigned char *p = (unsigned char *)a, *q, *v, *w;
  size_t n, m;
  int tag, tag2;
  while (p < a + alen) {
    unsigned char *start = p;
    if (tlv(&p, a + alen, &tag, &v, &n) != 0 || p > a + alen)
      return 0;
    for (q = (unsigned char *)b; q < b + blen;) {
      unsigned char *s2 = q;
      if (tlv(&q, b + blen, &tag2, &w, &m) != 0 || q > b + blen)
        return 0;
      if ((size_t)(p - start) == (size_t)(q - s2) && memcmp(start, s2, (size_t)(p - start)) == 0)
        return 1;
    }
  }
  return 0;
}

static int crt_is_ca(const mbedtls_x509_crt *c) {
#if HOTSSL__MBEDTLS3
  return mbedtls_x509_crt_get_ca_istrue(c) == 1;
#else
  return c->ca_istrue != 0;
#endif
}

/* OpenSSL's crl_crldp_check for a CRL of crt's issuer. */
int hotssl__crl_scope_for(unsigned flags, const unsigned char *dp, size_t dplen,
                          const mbedtls_x509_crt *crt) {
  unsigned char *v, *p, *end, *d, *f;
  size_t n, dn, fn;
  int critical, r, tag;
  if (flags & (HOTSSL__SCOPE_IGNORED | HOTSSL__SCOPE_ONLY_ATTR))
    return HOTSSL__SCOPE_OUT;
  if (crt_is_ca(crt) ? (flags & HOTSSL__SCOPE_ONLY_USER) : (flags & HOTSSL__SCOPE_ONLY_CA))
    return HOTSSL__SCOPE_OUT;
  v = NULL;
  n = 0;
  r = ext_find(&crt->v3_ext, OID_CRLDP, sizeof OID_CRLDP - 1, &v, &n, &critical);
  if (r < 0)
    return HOTSSL__SCOPE_OUT;
  p = v;
  end = r > 0 ? v + n : v; /* none: no distribution point to walk */
  if (r > 0 && (mbedtls_asn1_get_tag(&p, end, &n, SEQ) != 0 || p + n != end))
    return HOTSSL__SCOPE_OUT;
  /* Each DistributionPoint: the first that names this CRL decides. */
  while (r > 0 && p < end) {
    const unsigned char *names = NULL;
    size_t names_len = 0;
    int has_name = 0, reasons = 0, crl_issuer = 0;
    if (tlv(&p, end, &tag, &d, &dn) != 0 || tag != SEQ || p > end)
      return HOTSSL__SCOPE_OUT;
    while (d < p) {
      if (tlv(&d, p, &tag, &f, &fn) != 0)
        return HOTSSL__SCOPE_OUT;
      if (tag == CCTX(0)) {
        if (dp_name(f, fn, &names, &names_len) != 0)
          return HOTSSL__SCOPE_OUT;
        has_name = 1;
      }
      reasons |= tag == CTX(1);
      crl_issuer |= tag == CCTX(2);
    }
    /* A point with a cRLIssuer is for an indirect CRL, never used here. */
    if (crl_issuer)
      continue;
    if (!(flags & HOTSSL__SCOPE_DP) ||
        (has_name && names != NULL && dp != NULL && names_meet(names, names_len, dp, dplen)))
      return reasons ? HOTSSL__SCOPE_PARTIAL : HOTSSL__SCOPE_IN;
  }
  return (flags & HOTSSL__SCOPE_DP) ? HOTSSL__SCOPE_OUT : HOTSSL__SCOPE_IN;
}

int hotssl__crt_has_name_constraints(const mbedtls_x509_crt *crt) {
  unsigned char *v;
  size_t n;
  int critical;
  return ext_find(&crt->v3_ext, OID_NAME_CONSTRAINTS, sizeof OID_NAME_CONSTRAINTS - 1, &v, &n,
                  &critical) != 0;
}

/* ---- naming an extension that made mbedTLS refuse a file ---- */

static const struct {
  const char *oid, *name;
  int crt_ok; /* mbedTLS evaluates it in a certificate, critical or not */
} ext_names[] = {
    {OID_CE("\x13"), "basicConstraints", 1},
    {OID_CE("\x0f"), "keyUsage", 1},
    {OID_CE("\x25"), "extendedKeyUsage", 1},
    {OID_CE("\x11"), "subjectAltName", 1},
    {OID_CE("\x20"), "certificatePolicies", 1},
    {"\x60\x86\x48\x01\x86\xf8\x42\x01\x01", "nsCertType", 1},
#if HOTSSL__MBEDTLS3
    {OID_CE("\x0e"), "subjectKeyIdentifier", 1},
    {OID_CE("\x23"), "authorityKeyIdentifier", 1},
#else
    {OID_CE("\x0e"), "subjectKeyIdentifier", 0},
    {OID_CE("\x23"), "authorityKeyIdentifier", 0},
#endif
    {OID_CE("\x1c"), "issuingDistributionPoint", 0},
    {OID_CE("\x1b"), "deltaCRLIndicator", 0},
    {OID_CE("\x14"), "cRLNumber", 0},
    {OID_CE("\x2e"), "freshestCRL", 0},
    {OID_CE("\x1e"), "nameConstraints", 0},
    {OID_CE("\x1f"), "cRLDistributionPoints", 0},
    {OID_CE("\x24"), "policyConstraints", 0},
    {OID_CE("\x21"), "policyMappings", 0},
    {OID_CE("\x36"), "inhibitAnyPolicy", 0},
    {OID_CE("\x12"), "issuerAltName", 0},
    {OID_CE("\x09"), "subjectDirectoryAttributes", 0},
    {"\x2b\x06\x01\x05\x05\x07\x01\x01", "authorityInfoAccess", 0},
    {"\x2b\x06\x01\x05\x05\x07\x01\x18", "tlsFeature", 0},
};

int hotssl__x509_unsupported_critical(const unsigned char *der, size_t len, int is_crl, char *buf,
                                      size_t buflen) {
  unsigned char *p = (unsigned char *)der, *end = p + len, *v, *q;
  size_t n, i;
  int tag, critical;
  mbedtls_x509_buf ext;
  memset(&ext, 0, sizeof ext);
  /* Certificate / CertificateList: SEQUENCE { tbs SEQUENCE { ... } ... } */
  if (mbedtls_asn1_get_tag(&p, end, &n, SEQ) != 0 || mbedtls_asn1_get_tag(&p, p + n, &n, SEQ) != 0)
    return 0;
  end = p + n;
  /* The extensions: [3] in a tbsCertificate, [0] (after the version, which
   * is untagged there) in a tbsCertList. */
  while (p < end) {
    if (tlv(&p, end, &tag, &v, &n) != 0 || p > end)
      return 0;
    if (tag == CCTX(is_crl ? 0 : 3)) {
      ext.p = v;
      ext.len = n;
    }
  }
  if (ext.p == NULL)
    return 0;
  /* Walk them: the first critical one mbedTLS does not take. */
  p = ext.p;
  end = ext.p + ext.len;
  if (mbedtls_asn1_get_tag(&p, end, &n, SEQ) != 0)
    return 0;
  end = p + n;
  while (p < end) {
    mbedtls_asn1_buf oid;
    const char *name = "an unknown extension";
    int supported = 0;
    char dotted[64];
    if (tlv(&p, end, &tag, &q, &n) != 0 || tag != SEQ || p > end)
      return 0;
    if (mbedtls_asn1_get_tag(&q, p, &oid.len, MBEDTLS_ASN1_OID) != 0)
      return 0;
    oid.tag = MBEDTLS_ASN1_OID;
    oid.p = q;
    q += oid.len;
    critical = 0;
    if (q < p && *q == MBEDTLS_ASN1_BOOLEAN && mbedtls_asn1_get_bool(&q, p, &critical) != 0)
      return 0;
    if (!critical)
      continue;
    for (i = 0; i < sizeof ext_names / sizeof ext_names[0]; i++)
      if (strlen(ext_names[i].oid) == oid.len && memcmp(ext_names[i].oid, oid.p, oid.len) == 0) {
        name = ext_names[i].name;
        supported = ext_names[i].crt_ok && !is_crl;
      }
    if (supported)
      continue;
    if (mbedtls_oid_get_numeric_string(dotted, sizeof dotted, &oid) < 0)
      hotssl__fmt(dotted, sizeof dotted, "?");
    hotssl__fmt(buf, buflen, "%s (%s)", name, dotted);
    return 1;
  }
  return 0;
}
