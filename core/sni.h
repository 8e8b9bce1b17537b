/*
 * ssl_sni, the builder side (core/sni.c): the hosts' sub-generations, the
 * SNI callback and the entries' warnings and stats.
 */
#ifndef HOTSSL_CORE_SNI_H
#define HOTSSL_CORE_SNI_H

#include <stdint.h>

#include "generation.h"
#include "hosts.h"
#include "inputs.h"
#include "internal.h"
#include "log.h"

/* hotssl__generation_build when in->hosts is set: every entry and the
 * served generation, all or nothing; prev's entries lend unchanged parsed
 * objects (an unchanged encrypted key needs no passphrase). */
int hotssl__hosts_build(hotssl_generation **out, hotssl__inputs *in,
                        const hotssl_generation *prev, int is_reload, uint64_t number,
                        const hotssl__log *log, char *errbuf, size_t errlen);
void hotssl__hosts_free(struct hotssl__hosts *h);
/* hotssl__generation_time_warnings for every entry of g (its hosts), each
 * logged line naming the hosts file and line. */
unsigned hotssl__hosts_time_warnings(const hotssl_generation *g, int64_t now,
                                     const hotssl__log *log);

#endif /* HOTSSL_CORE_SNI_H */
