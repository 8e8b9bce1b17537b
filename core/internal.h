/*
 * What every module of core/ shares: the supported mbedTLS versions and the
 * length of error texts. Each module's own declarations are in its header
 * (config.h, util.h, log.h, inputs.h, generation.h, ...). Never installed.
 * Names carry the hotssl__ prefix.
 */
#ifndef HOTSSL_CORE_INTERNAL_H
#define HOTSSL_CORE_INTERNAL_H

#include <mbedtls/version.h>

#include "hotssl/hotssl.h"

#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#  define HOTSSL__MBEDTLS3 1
#else
#  define HOTSSL__MBEDTLS3 0
#endif

/* Supported mbedTLS: the 2.28 LTS (compatibility) and 3.6 LTS from 3.6.6 on
 * (3.6.6 is the first whose PSA random generator can be reseeded explicitly
 * after fork(): psa_random_reseed). */
#if MBEDTLS_VERSION_NUMBER < 0x021C0000 || \
    (MBEDTLS_VERSION_NUMBER >= 0x03000000 && MBEDTLS_VERSION_NUMBER < 0x03060600)
#  error "hotssl needs mbedTLS 2.28 or 3.6.6 and later (3.6 LTS)"
#endif
/* A generation's DRBG is used by every connection thread at once: mbedTLS
 * must lock it. Without MBEDTLS_THREADING_C it
 * would share an unlocked DRBG silently. */
#if !defined(MBEDTLS_THREADING_C)
#  error "hotssl needs mbedTLS built with MBEDTLS_THREADING_C (and MBEDTLS_THREADING_PTHREAD on POSIX)"
#endif

#define HOTSSL__ERRLEN 512

#endif /* HOTSSL_CORE_INTERNAL_H */
