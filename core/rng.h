/*
 * A generation's random generator (core/rng.c).
 */
#ifndef HOTSSL_CORE_RNG_H
#define HOTSSL_CORE_RNG_H

#include <stddef.h>

#include "generation.h"
#include "internal.h"

/* The build step that seeds g's DRBG (initialized) from the OS's entropy,
 * personalized with g's number and address, and records the process. 0 or
 * HOTSSL_ETLS with errbuf. */
int hotssl__rng_seed(hotssl_generation *g, char *errbuf, size_t errlen);
/* The random callback of g's configuration (ctx: g). */
int hotssl__rng_random(void *ctx, unsigned char *out, size_t len);
/* Re-create g's DRBG in place from fresh entropy without touching the
 * inherited (possibly locked) mutexes, personalized with the process, the
 * clocks and count; records the current process id. Only for a process in
 * which the DRBG has not been re-created yet (hotssl__rng_random,
 * platform/posix/fork.c's after-fork calls). */
int hotssl__generation_rng_recreate(hotssl_generation *g, unsigned count);

#endif /* HOTSSL_CORE_RNG_H */
