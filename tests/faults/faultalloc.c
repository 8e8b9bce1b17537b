/* See faultalloc.h. The live-block table is a fixed open-addressing hash
 * under a spin lock (malloc wrappers must not allocate). */
#include "faultalloc.h"

#include <stdatomic.h>
#include "os.h"
#include <stdint.h>
#include <string.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t a, size_t b);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t a, size_t b);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);

#define SLOTS (1u << 18)
#define TOMB ((void *)1)
static struct slot {
  void *p;
  size_t n;
} table[SLOTS];
static atomic_flag lock = ATOMIC_FLAG_INIT;
static atomic_long calls, fail_at, live, live_bytes, peak_bytes;
static atomic_int fired;
static void (*free_hook)(void *, size_t, void *);
static void *free_arg;
static void (*unmap_hook)(void *, size_t, void *);
static void *unmap_arg;

static void lk(void) {
  while (atomic_flag_test_and_set_explicit(&lock, memory_order_acquire))
    ;
}
static void ulk(void) { atomic_flag_clear_explicit(&lock, memory_order_release); }
static size_t h(const void *p) { return (size_t)(((uintptr_t)p >> 4) * 2654435761u) & (SLOTS - 1); }

static void put(void *p, size_t n) {
  lk();
  for (size_t i = h(p), k = 0; k < SLOTS; k++, i = (i + 1) & (SLOTS - 1))
    if (table[i].p == NULL || table[i].p == TOMB) {
      table[i].p = p;
      table[i].n = n;
      atomic_fetch_add(&live, 1);
      if (atomic_fetch_add(&live_bytes, (long)n) + (long)n > atomic_load(&peak_bytes))
        atomic_store(&peak_bytes, atomic_load(&live_bytes)); /* under the lock */
      break;
    }
  ulk();
}

/* Removes p; returns 1 and its size if it was tracked. */
static int take(void *p, size_t *n) {
  int found = 0;
  lk();
  for (size_t i = h(p), k = 0; k < SLOTS && table[i].p != NULL; k++, i = (i + 1) & (SLOTS - 1))
    if (table[i].p == p) {
      *n = table[i].n;
      table[i].p = TOMB;
      atomic_fetch_sub(&live, 1);
      atomic_fetch_sub(&live_bytes, (long)table[i].n);
      found = 1;
      break;
    }
  ulk();
  return found;
}

static int should_fail(void) {
  long c = atomic_fetch_add(&calls, 1) + 1;
  long f = atomic_load(&fail_at);
  if (f != 0 && c == f) {
    atomic_store(&fired, 1);
    return 1;
  }
  return 0;
}

void fa_fail_at(long n) {
  atomic_store(&fail_at, 0);
  if (n != 0) { /* disarming keeps the count and fa_fired() for the caller */
    atomic_store(&calls, 0);
    atomic_store(&fired, 0);
  }
  atomic_store(&fail_at, n);
}
long fa_count(void) { return atomic_load(&calls); }
void fa_reset_count(void) { atomic_store(&calls, 0); }
int fa_fired(void) { return atomic_load(&fired); }
long fa_live(void) { return atomic_load(&live); }
void fa_set_free_hook(void (*fn)(void *, size_t, void *), void *arg) {
  free_arg = arg;
  free_hook = fn;
}

void *__wrap_malloc(size_t n) {
  void *p;
  if (should_fail())
    return NULL;
  if ((p = __real_malloc(n)) != NULL)
    put(p, n);
  return p;
}

void *__wrap_calloc(size_t a, size_t b) {
  void *p;
  if (should_fail())
    return NULL;
  if ((p = __real_calloc(a, b)) != NULL)
    put(p, a * b);
  return p;
}

void *__wrap_realloc(void *old, size_t n) {
  void *p;
  size_t on;
  if (should_fail())
    return NULL;
  p = __real_realloc(old, n);
  if (p != NULL) {
    if (old != NULL)
      take(old, &on);
    put(p, n);
  }
  return p;
}

void __wrap_free(void *p) {
  size_t n;
  if (p == NULL)
    return;
  if (take(p, &n) && free_hook != NULL)
    free_hook(p, n, free_arg);
  __real_free(p);
}

int fa_tick(void) { return should_fail(); }

long fa_live_bytes(void) { return atomic_load(&live_bytes); }
long fa_peak_bytes(void) { return atomic_load(&peak_bytes); }
void fa_reset_peak(void) { atomic_store(&peak_bytes, atomic_load(&live_bytes)); }

void fa_set_unmap_hook(void (*fn)(void *, size_t, void *), void *arg) {
  unmap_arg = arg;
  unmap_hook = fn;
}

void *fa_pages_map(size_t len) {
  void *p;
  if (should_fail())
    return NULL;
  if ((p = hotssl__os_real()->pages_map(len)) != NULL)
    put(p, len);
  return p;
}

void fa_pages_unmap(void *p, size_t len) {
  size_t n;
  if (take(p, &n) && unmap_hook != NULL)
    unmap_hook(p, len, unmap_arg);
  hotssl__os_real()->pages_unmap(p, len);
}

static hotssl__os_calls with_pages;

void fa_install_pages(void) {
  with_pages = *hotssl__os_real();
  with_pages.pages_map = fa_pages_map;
  with_pages.pages_unmap = fa_pages_unmap;
  hotssl__os_set_calls(&with_pages);
}
