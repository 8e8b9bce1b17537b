/*
 * Mutexes on POSIX: plain pthread mutexes from malloc (os/win32/mutex.c
 * has the Windows ones, on APR). No pool: *pool is always NULL. A child of
 * a forking host unlocks the manager's two short locks after every fork
 * (platform/posix/fork.c): here that is one call into libc, whose code the
 * child already runs, and one written page, where APR's mutex added its own
 * code and PLT pages to every child's first touches.
 */
#include <pthread.h>
#include <stdlib.h>

#include "hotssl/hotssl.h"
#include "../os.h"

int hotssl__mutex_create(void **mutex, void **pool) {
  pthread_mutex_t *mx = malloc(sizeof *mx);
  *pool = NULL;
  if (mx == NULL)
    return HOTSSL_ENOMEM;
  if (pthread_mutex_init(mx, NULL) != 0) {
    free(mx);
    return HOTSSL_ESYS;
  }
  *mutex = mx;
  return 0;
}

void hotssl__mutex_destroy(void *mutex, void *pool) {
  (void)pool;
  if (mutex != NULL) {
    pthread_mutex_destroy(mutex);
    free(mutex);
  }
}

HOTSSL__HOT void hotssl__mutex_lock(void *mutex) { pthread_mutex_lock(mutex); }
HOTSSL__HOT void hotssl__mutex_unlock(void *mutex) { pthread_mutex_unlock(mutex); }
