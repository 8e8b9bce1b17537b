/*
 * X.509 extensions that mbedTLS does not evaluate, read from the DER
 * (core/x509ext.c): a CRL's issuingDistributionPoint (its scope, as
 * OpenSSL's crl_crldp_check and get_crl_score judge it), a certificate's
 * cRLDistributionPoints and nameConstraints, and the name of a critical
 * extension that made mbedTLS refuse a certificate or a CRL.
 */
#ifndef HOTSSL_CORE_X509EXT_H
#define HOTSSL_CORE_X509EXT_H

#include <stddef.h>

#include <mbedtls/x509_crl.h>
#include <mbedtls/x509_crt.h>

/* A CRL's scope, from its issuingDistributionPoint (0: none, a full CRL). */
#define HOTSSL__SCOPE_ONLY_USER 0x01u /* onlyContainsUserCerts */
#define HOTSSL__SCOPE_ONLY_CA 0x02u   /* onlyContainsCACerts */
#define HOTSSL__SCOPE_ONLY_ATTR 0x04u /* onlyContainsAttributeCerts: no certificate */
#define HOTSSL__SCOPE_DP 0x08u        /* names a distribution point (dp: its fullName) */
/* Never used for any certificate, as OpenSSL gives it the score 0 (without
 * X509_V_FLAG_EXTENDED_CRL_SUPPORT, which PostgreSQL does not set):
 * indirectCRL, onlySomeReasons, more than one onlyContains*, or an
 * issuingDistributionPoint that does not decode. */
#define HOTSSL__SCOPE_IGNORED 0x10u

/* The scope of CRL c: flags, and for HOTSSL__SCOPE_DP the contents of the
 * distribution point's fullName (GeneralName TLVs; NULL with len 0 when it
 * is a nameRelativeToCRLIssuer, which no certificate's point matches). */
unsigned hotssl__crl_scope(const mbedtls_x509_crl *c, const unsigned char **dp, size_t *dplen);

/* Answers of hotssl__crl_scope_for. */
enum {
  HOTSSL__SCOPE_OUT = 0,    /* not a CRL for crt ("different CRL scope") */
  HOTSSL__SCOPE_IN = 1,     /* the CRL for crt */
  HOTSSL__SCOPE_PARTIAL = 2 /* covers only some reasons of crt's distribution point */
};
/* Is a CRL with this scope (flags, dp as hotssl__crl_scope gives them) the
 * CRL for crt? Not for HOTSSL__SCOPE_IGNORED (the caller skips those). */
int hotssl__crl_scope_for(unsigned flags, const unsigned char *dp, size_t dplen,
                          const mbedtls_x509_crt *crt);

/* 1 if crt carries a nameConstraints extension (mbedTLS ignores a
 * non-critical one and refuses to parse a critical one). */
int hotssl__crt_has_name_constraints(const mbedtls_x509_crt *crt);

/* After mbedTLS refused the DER certificate (is_crl 0) or CRL (is_crl 1)
 * der: the first critical extension it does not evaluate, as
 * "issuingDistributionPoint (2.5.29.28)", into buf. 1 if there is one. */
int hotssl__x509_unsupported_critical(const unsigned char *der, size_t len, int is_crl, char *buf,
                                      size_t buflen);

#endif /* HOTSSL_CORE_X509EXT_H */
