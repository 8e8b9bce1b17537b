/*
 * Link-time allocation seam for the fault tests: a test linked with
 *   -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=free
 * routes every malloc/calloc/realloc/free call made by the objects of that
 * link (the static libhotssl, the test) through these wrappers. They count
 * calls (fa_fail_at(N): the N-th allocation from now returns NULL), track the
 * live blocks the library allocated (fa_live(): a leak check that works
 * without ASan), and let a test inspect a block just before it is freed
 * (fa_set_free_hook: the wipe checks). Allocations made inside shared
 * libraries (APR, mbedTLS) do not pass here.
 */
#ifndef HOTSSL_FAULTALLOC_H
#define HOTSSL_FAULTALLOC_H
#include <stddef.h>

/* Fail the n-th allocation counted from now (1 = the next); 0 disarms
 * (keeping fa_count() and fa_fired() of the run that just ended). */
void fa_fail_at(long n);
/* Allocations seen since the last fa_fail_at / fa_reset_count. */
long fa_count(void);
void fa_reset_count(void);
/* 1 once the armed failure has been injected. */
int fa_fired(void);
/* Number of blocks allocated here and not yet freed. */
long fa_live(void);
/* Counts one call of another kind (the os/ call table) on the same counter:
 * 1 if it is the one to fail. */
int fa_tick(void);
/* Called with each tracked block and its size before it is freed. */
void fa_set_free_hook(void (*fn)(void *p, size_t size, void *arg), void *arg);
#endif
