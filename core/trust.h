/*
 * A generation's CA set and CRL set (core/trust.c).
 */
#ifndef HOTSSL_CORE_TRUST_H
#define HOTSSL_CORE_TRUST_H

#include <stddef.h>

#include "generation.h"
#include "inputs.h"
#include "internal.h"

/* The build step of g's CA set and CRL set from in, reusing prev's (may be
 * NULL) when the bytes are the same. 0 or a HOTSSL_E* code with errbuf;
 * what was set in g is freed with g. */
int hotssl__trust_build(hotssl_generation *g, hotssl__inputs *in, const hotssl_generation *prev,
                        char *errbuf, size_t errlen);
/* Facts about g's chain, CA file and CRL set, for the stats. */
void hotssl__trust_info(hotssl_stats *st, const hotssl_generation *g);

#endif /* HOTSSL_CORE_TRUST_H */
