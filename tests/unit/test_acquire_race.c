/*
 * The publication race, forced: a delay hook runs between the reader's load
 * of the current pointer and its reference increment, while a publisher
 * swaps generations as fast as it can. Without the reader-in-flight counters
 * the reader would increment freed memory (ASan: heap-use-after-free; TSan:
 * race). Also asserts what readers see: a generation that is alive (its
 * config pointer is set and its number is one that was published) and
 * numbers that never go backwards within one reader.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "../../core/manager.h"
#include "testutil.h"

static atomic_int stop;
static atomic_ullong acquisitions, backwards, bad;
static hotssl_manager *mgr;
static char *conf_path;
static const char *conf_a = TU_CONF_A;
static const char *conf_b = TU_CONF_B;

static void delay_hook(void *arg) {
  static _Thread_local unsigned n;
  (void)arg;
  /* Widen the window often enough that a publication lands inside it. */
  if ((++n & 7) == 0) {
    struct timespec ts = {0, 200 * 1000};
    nanosleep(&ts, NULL);
  } else {
    sched_yield();
  }
}

static void *reader_main(void *p) {
  uint64_t last = 0;
  (void)p;
  while (!atomic_load(&stop)) {
    hotssl_generation *g = hotssl_manager_acquire(mgr);
    uint64_t n = hotssl_generation_number(g);
    if (hotssl_generation_ssl_config(g) == NULL || n == 0 || atomic_load(&g->refs) < 1)
      atomic_fetch_add(&bad, 1);
    if (n < last)
      atomic_fetch_add(&backwards, 1);
    last = n;
    atomic_fetch_add(&acquisitions, 1);
    hotssl_generation_release(g);
  }
  return NULL;
}

int main(void) {
  char *dir = tu_mkdtemp();
  pthread_t readers[4];
  int i, checks = 0, published = 0, ms = 2000;
  uint64_t end;
  const char *env = getenv("HOTSSL_STRESS_SECONDS");

  if (env != NULL)
    ms = atoi(env) * 1000;
  conf_path = tu_two_pairs_manager(dir, NULL, &mgr);
  CHECK(conf_path != NULL);
  checks++;
  if (mgr == NULL)
    return tu_finish("acquire_race", checks);
  hotssl__manager_set_acquire_hook(mgr, delay_hook, NULL);

  for (i = 0; i < 4; i++)
    pthread_create(&readers[i], NULL, reader_main, NULL);
  end = tu_now_ms() + (uint64_t)ms;
  for (i = 0; tu_now_ms() < end; i++) {
    tu_write_atomic(conf_path, (i & 1) ? conf_a : conf_b, 0644);
    if (hotssl_manager_reload(mgr, HOTSSL_TRIGGER_API) == 0)
      published++;
  }
  atomic_store(&stop, 1);
  for (i = 0; i < 4; i++)
    pthread_join(readers[i], NULL);
  hotssl_manager_destroy(mgr);
  printf("published %d generations, %llu acquisitions\n", published,
         (unsigned long long)acquisitions);
  CHECK(published >= 10);
  CHECK(atomic_load(&acquisitions) >= 100);
  CHECK_EQ_INT(atomic_load(&backwards), 0);
  CHECK_EQ_INT(atomic_load(&bad), 0);
  checks += 4;
  tu_rmtree(dir);
  free(dir);
  free(conf_path);
  return tu_finish("acquire_race", checks);
}
