/*
 * Link-time allocation seam for the fault tests: a test linked with
 *   -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=free
 * routes every malloc/calloc/realloc/free call made by the objects of that
 * link (the static libhotssl, the test) through these wrappers. They count
 * calls (fa_fail_at(N): the N-th allocation from now returns NULL), track the
 * live blocks the library allocated (fa_live(): a leak check that works
 * without ASan), and let a test inspect a block just before it is freed
 * (fa_set_free_hook: the wipe checks). Allocations made inside shared
 * libraries (APR, mbedTLS) do not pass here. The library's pages for
 * secrets (os/secmem.c, mapped through the os/ call table) join the same
 * counter and tables through fa_pages_map / fa_pages_unmap.
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
/* The pages for secrets (os/os.h's pages_map / pages_unmap) on the same
 * seam: fa_pages_map counts on the allocation counter (it may be the one to
 * fail) and tracks the mapping as a live block; fa_pages_unmap calls the
 * unmap hook (the whole mapping, just before it is unmapped). A test's own
 * os/ call table uses them; fa_install_pages() installs the real table with
 * just these two replaced. */
void *fa_pages_map(size_t len);
void fa_pages_unmap(void *p, size_t len);
void fa_install_pages(void);
void fa_set_unmap_hook(void (*fn)(void *p, size_t size, void *arg), void *arg);
/* Bytes in live blocks (malloc'ed and mapped), and the most there were
 * since the last fa_reset_peak. */
long fa_live_bytes(void);
long fa_peak_bytes(void);
void fa_reset_peak(void);
#endif
