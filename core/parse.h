/*
 * Parsing a configuration's files with PostgreSQL's diagnosis of what is
 * wrong with one that does not parse (core/parse.c).
 */
#ifndef HOTSSL_CORE_PARSE_H
#define HOTSSL_CORE_PARSE_H

#include <stddef.h>

#include <mbedtls/x509_crt.h>

#include "internal.h"
#include "util.h"

/* The loader skips reading a file only when its parsed object is reused
 * (core/inputs.c); one that reaches a parser unread is a bug: 1 (the error
 * in errbuf, naming what), else 0. */
int hotssl__parse_unread(const hotssl__blob *b, const char *what, char *errbuf, size_t errlen);
/* 1 if b holds PEM text (mbedTLS then wants the terminating NUL counted). */
int hotssl__parse_looks_pem(const hotssl__blob *b);
/* Why b did not parse as want ("crt", "key", "crl", "dh"), from mbedTLS's
 * ret and what b holds instead, into buf. */
void hotssl__parse_error_text(char *buf, size_t len, const hotssl__blob *b, const char *want, int ret);
/* 1 (the error in errbuf) if b's last PEM block is cut short, else 0. */
int hotssl__parse_truncated_pem(const hotssl__blob *b, const char *what, char *errbuf, size_t errlen);
/* Parse a certificate file (PEM or DER; a snapshot's DER list when
 * der_list) into crt; 0, or -1 with PostgreSQL's error text in errbuf (what
 * names the file). */
int hotssl__parse_crt_file(mbedtls_x509_crt *crt, const hotssl__blob *b, int der_list,
                           const char *what, char *errbuf, size_t errlen);
/* 1 if c is a CA certificate (basic constraints). */
int hotssl__crt_is_ca(const mbedtls_x509_crt *c);

#endif /* HOTSSL_CORE_PARSE_H */
