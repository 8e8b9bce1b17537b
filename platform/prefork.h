/*
 * Test hooks of the prefork support (platform/posix/fork.c).
 */
#ifndef HOTSSL_PLATFORM_PREFORK_H
#define HOTSSL_PLATFORM_PREFORK_H

/* Test hook of hotssl_prefork_check (platform/posix/fork.c): fn(arg) runs
 * after each copy of the snapshot out of shared memory, before the seqlock
 * re-check (a publication from the hook forces a retry). */
struct hotssl_prefork;
void hotssl__prefork_set_copy_hook(struct hotssl_prefork *p, void (*fn)(void *), void *arg);

#endif /* HOTSSL_PLATFORM_PREFORK_H */
