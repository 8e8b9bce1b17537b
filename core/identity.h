/*
 * A generation's own identity (core/identity.c): certificate chain, private
 * key, their pairing and the leaf's validity.
 */
#ifndef HOTSSL_CORE_IDENTITY_H
#define HOTSSL_CORE_IDENTITY_H

#include <stddef.h>

#include <mbedtls/x509_crt.h>

#include "generation.h"
#include "inputs.h"
#include "internal.h"
#include "log.h"

/* The build step of g's certificate and key from in: reused from prev (may
 * be NULL) or in's recent objects when the bytes are the same, else parsed
 * (the key with the passphrase command; is_reload picks the rules); the
 * pair checked; the leaf's validity refused or logged. 0 or a HOTSSL_E*
 * code with errbuf; what was set in g is freed with g. */
int hotssl__identity_build(hotssl_generation *g, hotssl__inputs *in, const hotssl_generation *prev,
                           int is_reload, const hotssl__log *log, char *errbuf, size_t errlen);
/* Problems of the served chain that do not depend on the time (weak key,
 * a chain that does not lead to a CA): HOTSSL_WARN_* bits, each logged. */
unsigned hotssl__identity_warnings(const mbedtls_x509_crt *chain, const char *path,
                                   const hotssl__log *log);

#endif /* HOTSSL_CORE_IDENTITY_H */
