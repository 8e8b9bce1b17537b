/*
 * TLS settings (core/tls_settings.c): cipher suites and groups as mbedTLS
 * takes them, and PSA's one-time initialization.
 */
#ifndef HOTSSL_CORE_TLS_SETTINGS_H
#define HOTSSL_CORE_TLS_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

int hotssl__parse_tls13_ciphers(const char *v, int **out, char *errbuf, size_t errlen);
/* *tls12 (ssl_ciphers, NULL: defaults) becomes the list mbedTLS is given:
 * the TLS 1.2 part then the TLS 1.3 part (tls13, NULL: defaults; consumed). */
int hotssl__merge_ciphersuites(int **tls12, int *tls13, char *errbuf, size_t errlen);
int hotssl__parse_groups(const char *param, const char *v, uint16_t **out,
                         char *errbuf, size_t errlen);
const char *hotssl__group_name(uint16_t id);
/* psa_crypto_init() (mbedTLS 3.x), once per process; 0 or HOTSSL_ETLS. */
int hotssl__psa_init(void);

#endif /* HOTSSL_CORE_TLS_SETTINGS_H */
