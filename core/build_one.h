/*
 * The builder of one identity's generation (core/build_one.c).
 */
#ifndef HOTSSL_CORE_BUILD_ONE_H
#define HOTSSL_CORE_BUILD_ONE_H

#include <stddef.h>
#include <stdint.h>

#include "generation.h"
#include "inputs.h"
#include "internal.h"
#include "log.h"

/* Build and validate one identity's generation from in, ignoring in->hosts
 * (hotssl__generation_build, core/build.h, builds those; core/sni.c builds
 * each entry with this). prev (may be NULL) lends parsed objects with
 * identical bytes. is_reload chooses passphrase rules. Warnings (expiry) go
 * to log. */
int hotssl__generation_build_one(hotssl_generation **out, hotssl__inputs *in,
                                 const hotssl_generation *prev, int is_reload,
                                 uint64_t number, const hotssl__log *log,
                                 char *errbuf, size_t errlen);

#endif /* HOTSSL_CORE_BUILD_ONE_H */
