/*
 * The composite of a configuration (core/build.c): its own identity
 * (core/inputs.h, core/generation.h) and, with ssl_sni, its hosts file's
 * entries (core/hosts.h). The manager and the snapshot code load, build and
 * free through these; the modules below know nothing of each other.
 */
#ifndef HOTSSL_CORE_BUILD_H
#define HOTSSL_CORE_BUILD_H

#include <stddef.h>
#include <stdint.h>

#include "generation.h"
#include "inputs.h"
#include "internal.h"
#include "log.h"

int hotssl__inputs_load(hotssl__inputs *in, const hotssl_config *cfg,
                        char *errbuf, size_t errlen);
/* hotssl__inputs_load, reading only files whose identity differs from a
 * trusted memo (memos may be NULL; memos cover the hosts entries' files
 * too, one memo per path). A file skipped that way keeps its
 * memo's hash, and is only skipped when the builder will reuse the parsed
 * object of cur (may be NULL) for it, so the builder never needs bytes that
 * were not read. Afterwards memos describe exactly the files of in, its
 * hosts entries' included. */
int hotssl__inputs_load_memo(hotssl__inputs *in, const hotssl_config *cfg,
                             hotssl__file_memos *memos, const hotssl_generation *cur,
                             char *errbuf, size_t errlen);
/* Frees in, its hosts entries included. */
void hotssl__inputs_free(hotssl__inputs *in);

/* Build and validate a generation from inputs: the hosts builder when
 * in->hosts is set, else the single identity's. prev (may be NULL) lends
 * parsed objects with identical bytes. is_reload chooses passphrase rules.
 * Warnings (expiry) go to log. */
int hotssl__generation_build(hotssl_generation **out, hotssl__inputs *in,
                             const hotssl_generation *prev, int is_reload,
                             uint64_t number, const hotssl__log *log,
                             char *errbuf, size_t errlen);
/* Time-dependent HOTSSL_WARN_* bits of g at now (Unix seconds): expired, not
 * yet valid, expiring within hotssl_expiry_warning_days, CRL next update
 * past or near, for g's own identity and every hosts entry. Logs one
 * WARNING line for "expiring" and for the CRL when log is not NULL (expired
 * / not yet valid are logged by the build). */
unsigned hotssl__generation_time_warnings(const hotssl_generation *g, int64_t now,
                                          const hotssl__log *log);

#endif /* HOTSSL_CORE_BUILD_H */
