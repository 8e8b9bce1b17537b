/*
 * Mutexes on Windows: APR's thread mutexes, each in its own pool
 * (os/posix/mutex.c has the POSIX ones). Thread rules: those of the
 * mutex; create and destroy are not concurrent with its use.
 */
#include <apr_pools.h>
#include <apr_thread_mutex.h>

#include "hotssl/hotssl.h"
#include "../os.h"

int hotssl__mutex_create(void **mutex, void **pool) {
  apr_pool_t *p;
  apr_thread_mutex_t *mx;
  if (apr_pool_create(&p, NULL) != APR_SUCCESS)
    return HOTSSL_ENOMEM;
  if (apr_thread_mutex_create(&mx, APR_THREAD_MUTEX_DEFAULT, p) != APR_SUCCESS) {
    apr_pool_destroy(p);
    return HOTSSL_ESYS;
  }
  *mutex = mx;
  *pool = p;
  return 0;
}

void hotssl__mutex_destroy(void *mutex, void *pool) {
  if (mutex != NULL)
    apr_thread_mutex_destroy(mutex);
  if (pool != NULL)
    apr_pool_destroy(pool);
}

void hotssl__mutex_lock(void *mutex) { apr_thread_mutex_lock(mutex); }
void hotssl__mutex_unlock(void *mutex) { apr_thread_mutex_unlock(mutex); }
