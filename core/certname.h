/*
 * Names and serials of certificates as OpenSSL and PostgreSQL print them
 * (core/certname.c; the public functions are in include/hotssl/hotssl.h).
 */
#ifndef HOTSSL_CORE_CERTNAME_H
#define HOTSSL_CORE_CERTNAME_H

#include <stddef.h>

#include <mbedtls/x509.h>

/* PostgreSQL's form of a name (X509_NAME_to_cstring, then
 * prepare_cert_name: the last 71 characters, cleaned to ASCII). */
void hotssl__pg_name(char *out, size_t outlen, const mbedtls_x509_name *n);
/* A serial in decimal for PostgreSQL's log line ("unknown" if too long). */
void hotssl__serial_dec(char *out, size_t outlen, const mbedtls_x509_buf *s);

#endif /* HOTSSL_CORE_CERTNAME_H */
