/*
 * Windows has no fork(): a host starts backends with hotssl_spawn
 * (platform/win32/spawn.c) instead. The fork calls exist so that one host
 * source compiles everywhere; they report HOTSSL_ENOTSUP (after_fork_parent
 * is a no-op). A Windows worker pool (the prefork calls) would map an
 * unnamed CreateFileMapping(INVALID_HANDLE_VALUE) section inherited by
 * handle, with the same seqlock layout; it is not built.
 */
#include "../../core/manager.h"
#include "hotssl/platform.h"

int hotssl_manager_before_fork(hotssl_manager *m) { (void)m; return HOTSSL_ENOTSUP; }
void hotssl_manager_after_fork_parent(hotssl_manager *m) { (void)m; }
int hotssl_manager_after_fork_child(hotssl_manager *m) { (void)m; return HOTSSL_ENOTSUP; }
int hotssl_generation_after_fork_child(hotssl_generation *g) { (void)g; return HOTSSL_ENOTSUP; }
int hotssl_prefork_create(hotssl_prefork **out, hotssl_manager *m, size_t capacity) {
  (void)m; (void)capacity;
  if (out != NULL) *out = NULL;
  return HOTSSL_ENOTSUP;
}
int hotssl_prefork_publish(hotssl_prefork *p) { (void)p; return HOTSSL_ENOTSUP; }
int hotssl_prefork_check(hotssl_prefork *p, hotssl_manager *wm) { (void)p; (void)wm; return HOTSSL_ENOTSUP; }
void hotssl_prefork_destroy(hotssl_prefork *p) { (void)p; }
