/*
 * ssl_dh_params_file (core/dh.c).
 */
#ifndef HOTSSL_CORE_DH_H
#define HOTSSL_CORE_DH_H

#include <stddef.h>

#include "generation.h"
#include "inputs.h"
#include "internal.h"

/* Parse and check the DH parameters of in->dh and give them to g's config
 * (TLS 1.2 DHE suites; TLS 1.3 in mbedTLS uses no finite-field group). The
 * generation keeps the bytes (a snapshot carries them). The primality tests
 * are skipped when in says its parent checked the bytes or prev (may be
 * NULL) had the same ones. 0 or a HOTSSL_E* code with errbuf. */
int hotssl__dh_apply(hotssl_generation *g, const hotssl__inputs *in, const hotssl_generation *prev,
                     char *errbuf, size_t errlen);

#endif /* HOTSSL_CORE_DH_H */
