/*
 * The client-certificate verifier (core/verify.c).
 */
#ifndef HOTSSL_CORE_VERIFY_H
#define HOTSSL_CORE_VERIFY_H

#include <stdint.h>

#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "internal.h"

/* The configuration's verify callback (ctx: the generation). */
int hotssl__verify_conf_cb(void *ctx, mbedtls_x509_crt *crt, int depth, uint32_t *flags);
int hotssl__verify_rebind(mbedtls_ssl_context *ssl, const hotssl_generation *g);
/* Verify a presented chain (leaf first) as a handshake of g would, without
 * a connection: 1 refused (details in v), 0 accepted, or a negative code.
 * walk: answer CRL questions with the walk (HOTSSL_EINVAL when g's CRL set
 * was not kept parsed: hotssl__config_keep_crl_walk). */
int hotssl__verify_chain(const hotssl_generation *g, mbedtls_x509_crt *chain, int walk,
                         hotssl_client_verify *v);

/* Make g's configuration check client certificates with the verify callback
 * (when g's ssl_client_cert is not off). Called on every generation built
 * (core/build.c, core/sni.c), before any handshake uses it. */
void hotssl__verify_attach(hotssl_generation *g);
/* From an SNI callback: make ssl's handshake use host's certificate, key,
 * CA set, client-certificate mode and verify callback. */
int hotssl__verify_select(mbedtls_ssl_context *ssl, const hotssl_generation *host);

#endif /* HOTSSL_CORE_VERIFY_H */
